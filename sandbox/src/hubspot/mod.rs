//! A strict HubSpot CRM stand-in served over real HTTP (contract: shared/reference/hubspot.md).
//!
//! `HubSpotSandbox::start(config)` binds a loopback port and serves in a background task;
//! the returned [`RunningSandbox`] gives the base URL and a [`SandboxHandle`] to seed data,
//! read state and statistics, switch faults and limits, and expire tokens.

pub mod admin;
pub mod association_store;
pub mod associations;
pub mod auth;
pub mod errors;
pub mod faults;
pub mod form;
pub mod gate;
pub mod import_csv;
pub mod import_store;
pub mod import_worker;
pub mod imports;
pub mod objects;
pub mod rate_limit;
pub mod records;
pub mod schema_routes;
pub mod schemas;
pub mod state;
pub mod stats;
pub mod values;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use auth::OAuthClient;
pub use errors::ApiError;
pub use faults::FaultPlan;
pub use import_store::{ImportSettings, ImportState};
pub use rate_limit::RateLimitConfig;
pub use records::StoredRecord;
pub use stats::StatsSnapshot;

use auth::TokenRegistry;
use faults::FaultEngine;
use rate_limit::AccountLimiter;
use schemas::ObjectSchemaEgg;
use state::{Shared, lock};

/// A static private-app token accepted with every scope by the default configuration.
pub const DEFAULT_TOKEN: &str = "pat-na1-11111111-2222-3333-4444-555555555555";
pub const DEFAULT_CLIENT_ID: &str = "sandbox-client-id";
pub const DEFAULT_CLIENT_SECRET: &str = "sandbox-client-secret";
pub const DEFAULT_REFRESH_TOKEN: &str = "sandbox-refresh-token";
/// The portal id of the fixtures' fullyQualifiedName (`p7878787_my_object`).
pub const DEFAULT_PORTAL_ID: u64 = 7_878_787;

/// Date-based API versions served besides the legacy `v3`/`v4` paths (hubspot.md §0).
pub const DATE_VERSIONS: [&str; 2] = ["2026-03", "2026-09"];

/// A static token (private-app `pat-…` or Service Key); `scopes: None` grants all scopes.
#[derive(Debug, Clone)]
pub struct StaticToken {
    pub token: String,
    pub scopes: Option<BTreeSet<String>>,
}

#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// 0 picks a free port.
    pub port: u16,
    pub portal_id: u64,
    /// Seeds the result shuffle and the fault draws.
    pub seed: u64,
    pub static_tokens: Vec<StaticToken>,
    pub oauth_clients: Vec<OAuthClient>,
    pub rate_limit: RateLimitConfig,
    pub faults: FaultPlan,
    /// CRM Imports API speed, caps and file limits (defaults: the KB's numbers).
    pub imports: ImportSettings,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            port: 0,
            portal_id: DEFAULT_PORTAL_ID,
            seed: 0,
            static_tokens: vec![StaticToken {
                token: DEFAULT_TOKEN.into(),
                scopes: None,
            }],
            oauth_clients: vec![OAuthClient {
                client_id: DEFAULT_CLIENT_ID.into(),
                client_secret: DEFAULT_CLIENT_SECRET.into(),
                refresh_tokens: vec![DEFAULT_REFRESH_TOKEN.into()],
                scopes: None,
                rotates_refresh_tokens: false,
            }],
            rate_limit: RateLimitConfig::default(),
            faults: FaultPlan::default(),
            imports: ImportSettings::default(),
        }
    }
}

pub struct HubSpotSandbox;

impl HubSpotSandbox {
    pub async fn start(config: SandboxConfig) -> std::io::Result<RunningSandbox> {
        let mut tokens = TokenRegistry::default();
        for t in &config.static_tokens {
            tokens.add_static(&t.token, t.scopes.clone());
        }
        for client in &config.oauth_clients {
            tokens.add_oauth_client(client.clone());
        }
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let shared = Arc::new(Shared::new(
            config.portal_id,
            config.seed,
            tokens,
            AccountLimiter::new(config.rate_limit),
            FaultEngine::new(config.faults.clone(), config.seed),
            config.imports,
            shutdown_rx.clone(),
        ));
        let listener =
            tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], config.port))).await?;
        let addr = listener.local_addr()?;
        let app = router(shared.clone());
        let mut stop = shutdown_rx;
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    // Ends on `true` or when the sender is dropped.
                    let _ = stop.wait_for(|stopped| *stopped).await;
                })
                .await
        });
        Ok(RunningSandbox {
            addr,
            handle: SandboxHandle { shared },
            shutdown_tx,
            task: Some(task),
        })
    }
}

/// All routes: the API (behind the gate) for both path styles, OAuth and admin.
pub fn router(shared: Arc<Shared>) -> Router {
    let mut api: Router<Arc<Shared>> = Router::new();
    let mut object_prefixes = vec!["/crm/v3/objects".to_string()];
    let mut schema_prefixes = vec![
        "/crm-object-schemas/v3/schemas".to_string(),
        "/crm/v3/schemas".to_string(),
    ];
    let mut property_prefixes = vec!["/crm/v3/properties".to_string()];
    let mut association_prefixes = vec!["/crm/v4/associations".to_string()];
    let mut import_prefixes = vec!["/crm/v3/imports".to_string()];
    for v in DATE_VERSIONS {
        object_prefixes.push(format!("/crm/objects/{v}"));
        schema_prefixes.push(format!("/crm-object-schemas/{v}/schemas"));
        property_prefixes.push(format!("/crm/properties/{v}"));
        association_prefixes.push(format!("/crm/associations/{v}"));
        import_prefixes.push(format!("/crm/imports/{v}"));
    }
    for p in &object_prefixes {
        api = api
            .route(
                &format!("{p}/{{objectType}}/batch/upsert"),
                post(objects::batch_upsert),
            )
            .route(
                &format!("{p}/{{objectType}}/batch/update"),
                post(objects::batch_update),
            )
            .route(
                &format!("{p}/{{objectType}}/batch/read"),
                post(objects::batch_read),
            )
            .route(
                &format!("{p}/{{objectType}}/batch/archive"),
                post(objects::batch_archive),
            )
            .route(
                &format!("{p}/{{objectType}}/batch/create"),
                post(objects::batch_create),
            )
            .route(
                &format!("{p}/{{objectType}}/{{objectId}}"),
                get(objects::get_record),
            );
    }
    for p in &schema_prefixes {
        api = api
            .route(
                p,
                get(schema_routes::list_schemas).post(schema_routes::create_schema),
            )
            .route(
                &format!("{p}/{{objectType}}"),
                get(schema_routes::get_schema),
            );
    }
    for p in &property_prefixes {
        api = api
            .route(
                &format!("{p}/{{objectType}}"),
                get(schema_routes::list_properties).post(schema_routes::create_property),
            )
            .route(
                &format!("{p}/{{objectType}}/{{propertyName}}"),
                get(schema_routes::get_property),
            );
    }
    for p in &association_prefixes {
        let base = format!("{p}/{{fromObjectType}}/{{toObjectType}}");
        api = api
            .route(
                &format!("{base}/labels"),
                get(associations::list_labels).post(associations::create_label),
            )
            .route(
                &format!("{base}/batch/create"),
                post(associations::batch_create),
            )
            .route(
                &format!("{base}/batch/associate/default"),
                post(associations::batch_associate_default),
            )
            .route(
                &format!("{base}/batch/read"),
                post(associations::batch_read),
            )
            .route(
                &format!("{base}/batch/archive"),
                post(associations::batch_archive),
            )
            .route(
                &format!("{base}/batch/labels/archive"),
                post(associations::batch_labels_archive),
            );
    }
    for p in &import_prefixes {
        // The spec's path ends in `/`; both forms are served. The upload's body limit is
        // raised to one 512 MB file plus framing (GETs have no body, so sharing it is moot).
        let start_or_list = || {
            get(imports::list_imports)
                .post(imports::create)
                .layer(DefaultBodyLimit::max(imports::MAX_IMPORT_BODY_BYTES))
        };
        api = api
            .route(p, start_or_list())
            .route(&format!("{p}/"), start_or_list())
            .route(&format!("{p}/{{importId}}"), get(imports::get_import))
            .route(
                &format!("{p}/{{importId}}/errors"),
                get(imports::list_errors),
            )
            .route(&format!("{p}/{{importId}}/cancel"), post(imports::cancel));
    }
    let api = api.route_layer(axum::middleware::from_fn_with_state(
        shared.clone(),
        gate::gate,
    ));
    api.route("/oauth/v1/token", post(auth::oauth_token))
        .route("/oauth/2026-03/token", post(auth::oauth_token))
        .merge(admin::router())
        .with_state(shared)
}

/// A served sandbox; stops serving on [`RunningSandbox::shutdown`] or when dropped.
pub struct RunningSandbox {
    addr: SocketAddr,
    handle: SandboxHandle,
    shutdown_tx: watch::Sender<bool>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl RunningSandbox {
    /// `http://127.0.0.1:PORT`, the stand-in for `https://api.hubapi.com`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn handle(&self) -> SandboxHandle {
        self.handle.clone()
    }

    /// Stops accepting, ends hanging requests, and waits (≤5 s) for the server task.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown_tx.send(true);
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }

    /// Serves until the process gets Ctrl-C (used by the binary).
    pub async fn serve_until_ctrl_c(self) -> std::io::Result<()> {
        tokio::signal::ctrl_c().await?;
        self.shutdown().await;
        Ok(())
    }
}

impl Drop for RunningSandbox {
    fn drop(&mut self) {
        let _ = self.shutdown_tx.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Test/benchmark access to the sandbox's state, limits, faults and statistics.
#[derive(Clone, Debug)]
pub struct SandboxHandle {
    shared: Arc<Shared>,
}

impl SandboxHandle {
    pub fn portal_id(&self) -> Result<u64, ApiError> {
        Ok(lock(&self.shared.portal)?.portal_id)
    }

    pub fn stats(&self) -> Result<StatsSnapshot, ApiError> {
        Ok(lock(&self.shared.stats)?.snapshot())
    }

    pub fn reset_stats(&self) -> Result<(), ApiError> {
        *lock(&self.shared.stats)? = stats::RequestStats::default();
        Ok(())
    }

    pub fn faults(&self) -> Result<FaultPlan, ApiError> {
        Ok(lock(&self.shared.faults)?.plan().clone())
    }

    pub fn set_faults(&self, plan: FaultPlan) -> Result<(), ApiError> {
        lock(&self.shared.faults)?.set_plan(plan);
        Ok(())
    }

    pub fn clear_faults(&self) -> Result<(), ApiError> {
        self.set_faults(FaultPlan::default())
    }

    pub fn reseed_faults(&self, seed: u64) -> Result<(), ApiError> {
        lock(&self.shared.faults)?.reseed(seed);
        Ok(())
    }

    pub fn rate_limit(&self) -> Result<RateLimitConfig, ApiError> {
        Ok(lock(&self.shared.limiter)?.config())
    }

    /// Replaces the limits; what was counted so far is forgotten.
    pub fn set_rate_limit(&self, config: RateLimitConfig) -> Result<(), ApiError> {
        lock(&self.shared.limiter)?.reconfigure(config);
        Ok(())
    }

    /// Adds a static token; `scopes: None` grants every scope.
    pub fn add_token(&self, token: &str, scopes: Option<Vec<String>>) -> Result<(), ApiError> {
        lock(&self.shared.tokens)?.add_static(token, scopes.map(|s| s.into_iter().collect()));
        Ok(())
    }

    /// Makes a token expire now; false when it is unknown.
    pub fn expire_token(&self, token: &str) -> Result<bool, ApiError> {
        Ok(lock(&self.shared.tokens)?.expire(token))
    }

    pub fn revoke_token(&self, token: &str) -> Result<bool, ApiError> {
        Ok(lock(&self.shared.tokens)?.revoke(token))
    }

    /// Creates a custom object schema from an ObjectSchemaEgg JSON (as the API does).
    pub fn create_schema(&self, egg: Value) -> Result<Value, ApiError> {
        let egg: ObjectSchemaEgg =
            serde_json::from_value(egg).map_err(|e| ApiError::malformed_json(&e))?;
        lock(&self.shared.portal)?.create_schema(egg)
    }

    /// objectTypeId of an object given by id, fullyQualifiedName or (for tests only) base name.
    pub fn object_type_id(&self, object_type: &str) -> Result<String, ApiError> {
        Ok(lock(&self.shared.portal)?
            .resolve_for_handle(object_type)?
            .object_type_id
            .clone())
    }

    /// Seeds a record directly (values validated like the API does); returns its id.
    pub fn seed_record(
        &self,
        object_type: &str,
        properties: &[(&str, &str)],
    ) -> Result<u64, ApiError> {
        let mut portal = lock(&self.shared.portal)?;
        let schema = portal.resolve_for_handle(object_type)?.clone();
        let mut changes = Vec::new();
        for (name, raw) in properties {
            let def = schema.property(name).ok_or_else(|| {
                ApiError::validation(format!("Property \"{name}\" does not exist"))
            })?;
            let value =
                values::normalize_value(def, raw).map_err(|e| ApiError::validation(e.message))?;
            if def.has_unique_value
                && let Some(v) = &value
                && portal
                    .records
                    .find_unique(&schema.object_type_id, name, v)
                    .is_some()
            {
                return Err(ApiError::validation(format!(
                    "{name} \"{v}\" is already used by another record"
                )));
            }
            changes.push(((*name).to_string(), value));
        }
        let unique = portal.unique_properties(&schema.object_type_id);
        Ok(portal
            .records
            .create(&schema.object_type_id, changes, &unique))
    }

    /// Every record of an object type, archived ones included.
    pub fn records(&self, object_type: &str) -> Result<Vec<StoredRecord>, ApiError> {
        let portal = lock(&self.shared.portal)?;
        let type_id = portal
            .resolve_for_handle(object_type)?
            .object_type_id
            .clone();
        Ok(portal.records.all(&type_id))
    }

    /// The live record holding `value` in unique property `property`.
    pub fn record_by_unique(
        &self,
        object_type: &str,
        property: &str,
        value: &str,
    ) -> Result<Option<StoredRecord>, ApiError> {
        let portal = lock(&self.shared.portal)?;
        let type_id = portal
            .resolve_for_handle(object_type)?
            .object_type_id
            .clone();
        Ok(portal
            .records
            .find_unique(&type_id, property, value)
            .and_then(|id| portal.records.get(&type_id, id).cloned()))
    }

    /// Number of live (unarchived) records.
    pub fn count(&self, object_type: &str) -> Result<usize, ApiError> {
        Ok(self
            .records(object_type)?
            .iter()
            .filter(|r| !r.archived)
            .count())
    }

    /// `(to record id, association type ids)` of one record towards an object type.
    pub fn associations_of(
        &self,
        from_type: &str,
        from_id: u64,
        to_type: &str,
    ) -> Result<Vec<(u64, Vec<u32>)>, ApiError> {
        let portal = lock(&self.shared.portal)?;
        let from = portal.resolve_for_handle(from_type)?.object_type_id.clone();
        let to = portal.resolve_for_handle(to_type)?.object_type_id.clone();
        Ok(portal
            .associations
            .of_record((&from, from_id), &to)
            .into_iter()
            .map(|(id, types)| (id, types.iter().map(|t| t.type_id).collect()))
            .collect())
    }

    /// The CRM Imports API's settings (speed, caps, file limits).
    pub fn import_settings(&self) -> Result<ImportSettings, ApiError> {
        Ok(lock(&self.shared.imports)?.settings)
    }

    /// Replaces the imports' settings. Speed and forced failure apply to imports already
    /// running too; the caps count the imports of the last 24 hours as before.
    pub fn set_import_settings(&self, settings: ImportSettings) -> Result<(), ApiError> {
        lock(&self.shared.imports)?.settings = settings;
        Ok(())
    }

    /// Imports accepted since the sandbox started (refused ones not counted).
    pub fn imports_started(&self) -> Result<usize, ApiError> {
        Ok(lock(&self.shared.imports)?.imports.len())
    }

    /// Ids of every accepted import, oldest first.
    pub fn import_ids(&self) -> Result<Vec<u64>, ApiError> {
        Ok(lock(&self.shared.imports)?
            .imports
            .keys()
            .copied()
            .collect())
    }

    /// An import's state; `None` when no import has that id.
    pub fn import_state(&self, import_id: u64) -> Result<Option<ImportState>, ApiError> {
        Ok(lock(&self.shared.imports)?.state(import_id))
    }

    /// An import's `metadata.counters` (`TOTAL_ROWS`, `CREATED_OBJECTS`, `UPDATED_OBJECTS`,
    /// `ERRORS`); `None` when no import has that id.
    pub fn import_counters(
        &self,
        import_id: u64,
    ) -> Result<Option<std::collections::BTreeMap<String, u64>>, ApiError> {
        Ok(lock(&self.shared.imports)?
            .imports
            .get(&import_id)
            .map(|i| {
                i.counters
                    .iter()
                    .map(|(k, v)| ((*k).to_string(), *v))
                    .collect()
            }))
    }

    /// Ends an unfinished import as FAILED, as when the portal cannot process its file: one
    /// file-wide error (lineNumber 0) per file; rows already applied stay. False when the
    /// import is unknown or already finished.
    pub fn fail_import(&self, import_id: u64) -> Result<bool, ApiError> {
        Ok(lock(&self.shared.imports)?.force_fail(import_id))
    }
}
