//! The portal's data (schemas, records, associations) and the shared server state that every
//! handler reaches through axum's `State`.

use std::sync::{Mutex, MutexGuard};

use rand::SeedableRng;
use rand::rngs::SmallRng;
use serde_json::Value;
use tokio::sync::watch;

use super::association_store::AssociationStore;
use super::auth::TokenRegistry;
use super::errors::ApiError;
use super::faults::FaultEngine;
use super::import_store::{ImportSettings, ImportStore};
use super::rate_limit::AccountLimiter;
use super::records::RecordStore;
use super::schemas::{
    ObjectSchema, ObjectSchemaEgg, PropertyCreate, PropertySource, schema_from_egg,
    standard_schemas,
};
use super::stats::RequestStats;

/// First custom objectTypeId number (`2-1000001`).
const FIRST_CUSTOM_OBJECT_ID: u64 = 1_000_001;

/// Everything a HubSpot portal holds.
#[derive(Debug)]
pub struct PortalData {
    pub portal_id: u64,
    pub schemas: Vec<ObjectSchema>,
    next_custom_object_id: u64,
    pub records: RecordStore,
    pub associations: AssociationStore,
}

impl PortalData {
    pub fn new(portal_id: u64) -> Self {
        Self {
            portal_id,
            schemas: standard_schemas(),
            next_custom_object_id: FIRST_CUSTOM_OBJECT_ID,
            records: RecordStore::default(),
            associations: AssociationStore::default(),
        }
    }

    /// `objectType` may be an objectTypeId, a fullyQualifiedName (`p{portalId}_{name}`) or its
    /// short form `p_{name}`; a standard object also goes by its name (`companies`) or singular
    /// (`CONTACT`, as schemas' `associatedObjects` use it). A custom object's bare base name is
    /// refused, as HubSpot has refused it since June 2025 (platform-behaviours.md H1).
    pub fn resolve(&self, object_type: &str) -> Option<&ObjectSchema> {
        let short_form = object_type
            .strip_prefix("p_")
            .filter(|name| !name.is_empty());
        self.schemas.iter().find(|s| {
            s.object_type_id == object_type
                || s.fully_qualified_name.eq_ignore_ascii_case(object_type)
                || (!s.is_standard && short_form.is_some_and(|n| s.name.eq_ignore_ascii_case(n)))
                || (s.is_standard
                    && (s.name.eq_ignore_ascii_case(object_type)
                        || s.singular.eq_ignore_ascii_case(object_type)))
        })
    }

    /// For the tests' handle, not the API: also a custom object's base name.
    pub fn resolve_for_handle(&self, object_type: &str) -> Result<&ObjectSchema, ApiError> {
        self.resolve(object_type)
            .or_else(|| {
                self.schemas
                    .iter()
                    .find(|s| s.name.eq_ignore_ascii_case(object_type))
            })
            .ok_or_else(|| ApiError::unknown_object_type(object_type))
    }

    pub fn resolve_or_err(&self, object_type: &str) -> Result<&ObjectSchema, ApiError> {
        self.resolve(object_type)
            .ok_or_else(|| ApiError::unknown_object_type(object_type))
    }

    fn resolve_mut(&mut self, object_type: &str) -> Result<&mut ObjectSchema, ApiError> {
        let type_id = self.resolve_or_err(object_type)?.object_type_id.clone();
        self.schemas
            .iter_mut()
            .find(|s| s.object_type_id == type_id)
            .ok_or_else(|| ApiError::unknown_object_type(object_type))
    }

    /// Unique property names of an object type (kept in the record store's index).
    pub fn unique_properties(&self, type_id: &str) -> Vec<String> {
        self.resolve(type_id)
            .map(|s| {
                s.properties
                    .iter()
                    .filter(|p| p.has_unique_value)
                    .map(|p| p.name.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `POST .../schemas`: validates the egg, defines its associations, returns the schema JSON.
    pub fn create_schema(&mut self, egg: ObjectSchemaEgg) -> Result<Value, ApiError> {
        if self
            .schemas
            .iter()
            .any(|s| s.name.eq_ignore_ascii_case(&egg.name))
        {
            return Err(ApiError::conflict(format!(
                "An object type with name \"{}\" already exists",
                egg.name
            )));
        }
        let mut targets = Vec::new();
        for associated in &egg.associated_objects {
            let target = self.resolve(associated).ok_or_else(|| {
                ApiError::validation(format!(
                    "associatedObjects names \"{associated}\", which is not a known object type"
                ))
            })?;
            targets.push((target.object_type_id.clone(), target.singular.clone()));
        }
        let numeric_id = self.next_custom_object_id;
        let mut schema = schema_from_egg(egg, numeric_id, self.portal_id)?;
        self.next_custom_object_id += 1;
        for (target_type, target_singular) in targets {
            let name = format!(
                "{}_to_{}",
                schema.name,
                target_singular.to_lowercase().replace(' ', "_")
            );
            let (forward, _inverse) = self.associations.define_user_pair(
                &schema.object_type_id,
                &target_type,
                None,
                None,
                Some(name.clone()),
            );
            schema.associations.push(super::schemas::SchemaAssociation {
                id: forward,
                from_object_type_id: schema.object_type_id.clone(),
                to_object_type_id: target_type,
                name,
                created_at: schema.created_at.clone(),
            });
        }
        let json = schema.to_json();
        self.schemas.push(schema);
        Ok(json)
    }

    /// `POST /crm/v3/properties/{objectType}`.
    pub fn create_property(
        &mut self,
        object_type: &str,
        create: PropertyCreate,
    ) -> Result<Value, ApiError> {
        let schema = self.resolve_mut(object_type)?;
        if schema.property(&create.name).is_some() {
            return Err(ApiError::conflict(format!(
                "A property named \"{}\" already exists on {}",
                create.name, schema.object_type_id
            )));
        }
        let order = schema.properties.len() as i64;
        let def = create.into_def(PropertySource::PropertiesApi, &schema.name, order)?;
        let json = def.to_json();
        schema.properties.push(def);
        Ok(json)
    }
}

/// Locks a std mutex, turning poisoning into a 500 instead of a panic.
pub fn lock<T>(mutex: &Mutex<T>) -> Result<MutexGuard<'_, T>, ApiError> {
    mutex
        .lock()
        .map_err(|_| ApiError::internal("sandbox state lock poisoned"))
}

/// State shared by all handlers. Each part has its own std mutex, never held across `.await`.
#[derive(Debug)]
pub struct Shared {
    pub portal: Mutex<PortalData>,
    pub tokens: Mutex<TokenRegistry>,
    pub limiter: Mutex<AccountLimiter>,
    pub faults: Mutex<FaultEngine>,
    pub stats: Mutex<RequestStats>,
    /// The CRM Imports API's imports. Lock order: `imports` before `portal`, never the reverse.
    pub imports: Mutex<ImportStore>,
    /// Seeded so the "results are not positional" shuffle is reproducible.
    pub shuffle_rng: Mutex<SmallRng>,
    pub shutdown: watch::Receiver<bool>,
}

impl Shared {
    pub fn new(
        portal_id: u64,
        seed: u64,
        tokens: TokenRegistry,
        limiter: AccountLimiter,
        faults: FaultEngine,
        import_settings: ImportSettings,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        Self {
            portal: Mutex::new(PortalData::new(portal_id)),
            tokens: Mutex::new(tokens),
            limiter: Mutex::new(limiter),
            faults: Mutex::new(faults),
            stats: Mutex::new(RequestStats::default()),
            imports: Mutex::new(ImportStore::new(import_settings)),
            shuffle_rng: Mutex::new(SmallRng::seed_from_u64(seed)),
            shutdown,
        }
    }

    /// Shuffles batch results so clients cannot rely on positions (hubspot.md §8).
    pub fn shuffle<T>(&self, items: &mut [T]) {
        use rand::seq::SliceRandom;
        if let Ok(mut rng) = self.shuffle_rng.lock() {
            items.shuffle(&mut *rng);
        }
    }

    /// Notes how many inputs one call to `route` carried.
    pub fn record_inputs(&self, route: &str, count: usize) {
        if let Ok(mut stats) = self.stats.lock() {
            stats.record_inputs(route, count);
        }
    }
}
