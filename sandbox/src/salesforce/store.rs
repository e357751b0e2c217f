//! The org's data: defined objects, their records (soft-deleted ones kept, as in the recycle
//! bin), and the log of changes the CDC sender turns into events.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use super::clock::OrgClock;
use super::errors::SfError;
use super::ids;
use super::schema::{FieldDefinition, ObjectDefinition};
use super::values::{normalize_write, rest_datetime};

/// One record. `values` holds the defined (non-system) fields by their canonical names.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredRecord {
    pub id: String,
    pub values: BTreeMap<String, Value>,
    pub created_date: DateTime<Utc>,
    pub last_modified_date: DateTime<Utc>,
    pub system_modstamp: DateTime<Utc>,
    pub deleted_date: Option<DateTime<Utc>>,
    /// Not shared with the integration user (platform-behaviours.md S5): every API read by it
    /// (retrieve, query, queryAll, Bulk, `/deleted`) leaves the record out, exactly as for a
    /// record that does not exist. Changes to it still happen, and still notify.
    pub hidden: bool,
}

impl StoredRecord {
    /// The value of any field, system fields included, in REST form.
    pub fn get(&self, field: &str, user_id: &str) -> Value {
        match field {
            "Id" => Value::String(self.id.clone()),
            "IsDeleted" => Value::Bool(self.deleted_date.is_some()),
            "CreatedDate" => Value::String(rest_datetime(self.created_date)),
            "LastModifiedDate" => Value::String(rest_datetime(self.last_modified_date)),
            "SystemModstamp" => Value::String(rest_datetime(self.system_modstamp)),
            "CreatedById" | "LastModifiedById" => Value::String(user_id.to_string()),
            other => self.values.get(other).cloned().unwrap_or(Value::Null),
        }
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted_date.is_some()
    }

    /// What the integration user can read of it: nothing when it is not shared with them.
    pub fn visible(&self) -> bool {
        !self.hidden
    }
}

#[derive(Debug, Clone)]
pub struct ObjectTable {
    pub definition: ObjectDefinition,
    pub fields: Vec<FieldDefinition>,
    /// Keyed by the 18-character id; ids grow with creation, so this is creation order.
    pub records: BTreeMap<String, StoredRecord>,
    next_sequence: u64,
}

impl ObjectTable {
    pub fn field(&self, name: &str) -> Option<&FieldDefinition> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }
}

/// What happened to a record, for CDC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ChangeType {
    Create,
    Update,
    Delete,
    Undelete,
}

/// One committed change. `values` are the record's fields after the change (all for CREATE
/// and UNDELETE; the changed ones for UPDATE; none for DELETE).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordChange {
    pub sequence: u64,
    pub object: String,
    pub record_id: String,
    pub change_type: ChangeType,
    pub committed_at: DateTime<Utc>,
    pub changed_fields: Vec<String>,
    pub nulled_fields: Vec<String>,
    pub values: BTreeMap<String, Value>,
}

#[derive(Debug)]
pub struct OrgData {
    pub org_id: String,
    pub user_id: String,
    pub clock: OrgClock,
    objects: BTreeMap<String, ObjectTable>,
    pub changes: Vec<RecordChange>,
    /// Outbound-message actions by 18-character id (`tooling`).
    pub outbound_messages: BTreeMap<String, super::tooling::OutboundMessageDefinition>,
}

fn unknown_object(object: &str) -> SfError {
    SfError::invalid_type(object)
}

impl OrgData {
    pub fn new(org_id: String, user_id: String, clock: OrgClock) -> Self {
        Self {
            org_id,
            user_id,
            clock,
            objects: BTreeMap::new(),
            changes: Vec::new(),
            outbound_messages: BTreeMap::new(),
        }
    }

    pub fn define_object(&mut self, definition: ObjectDefinition) -> Result<(), SfError> {
        definition
            .validate()
            .map_err(|m| SfError::bad_request("INVALID_FIELD", m))?;
        let key = definition.name.to_ascii_lowercase();
        if self.objects.contains_key(&key) {
            return Err(SfError::bad_request(
                "DUPLICATE_DEVELOPER_NAME",
                format!("object {} is already defined", definition.name),
            ));
        }
        if self
            .objects
            .values()
            .any(|t| t.definition.key_prefix == definition.key_prefix)
        {
            return Err(SfError::bad_request(
                "DUPLICATE_VALUE",
                format!("key prefix {} is already used", definition.key_prefix),
            ));
        }
        let fields = definition.all_fields();
        self.objects.insert(
            key,
            ObjectTable {
                definition,
                fields,
                records: BTreeMap::new(),
                next_sequence: 1,
            },
        );
        Ok(())
    }

    /// Objects are named case-insensitively, as in SOQL and REST paths.
    pub fn table(&self, object: &str) -> Option<&ObjectTable> {
        self.objects.get(&object.to_ascii_lowercase())
    }

    pub fn table_or_err(&self, object: &str) -> Result<&ObjectTable, SfError> {
        self.table(object).ok_or_else(|| unknown_object(object))
    }

    fn table_mut(&mut self, object: &str) -> Result<&mut ObjectTable, SfError> {
        self.objects
            .get_mut(&object.to_ascii_lowercase())
            .ok_or_else(|| unknown_object(object))
    }

    /// Adds an active value to a picklist, as an admin does in Setup; describe shows it at once.
    pub fn add_picklist_value(
        &mut self,
        object: &str,
        field: &str,
        value: &str,
    ) -> Result<(), SfError> {
        let table = self.table_mut(object)?;
        let definitions = table
            .definition
            .fields
            .iter_mut()
            .chain(table.fields.iter_mut())
            .filter(|f| f.name.eq_ignore_ascii_case(field) && !f.picklist_values.is_empty());
        let mut found = false;
        for definition in definitions {
            found = true;
            if !definition.picklist_values.iter().any(|v| v == value) {
                definition.picklist_values.push(value.to_owned());
            }
        }
        if found {
            Ok(())
        } else {
            Err(SfError::bad_request(
                "INVALID_FIELD",
                format!("{object}.{field} is not a picklist"),
            ))
        }
    }

    pub fn tables(&self) -> impl Iterator<Item = &ObjectTable> {
        self.objects.values()
    }

    /// Checks written fields: known, not system, typed; returns canonical names and values.
    fn checked_values(
        table: &ObjectTable,
        fields: &Map<String, Value>,
    ) -> Result<BTreeMap<String, Value>, SfError> {
        let object = &table.definition.name;
        let mut out = BTreeMap::new();
        for (name, value) in fields {
            let field = table
                .field(name)
                .ok_or_else(|| SfError::invalid_field(name, object))?;
            if field.is_system() {
                return Err(SfError::bad_request(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    format!(
                        "Unable to create/update fields: {}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.",
                        field.name
                    ),
                )
                .with_fields(&[&field.name]));
            }
            let stored = normalize_write(field, value).map_err(|m| {
                SfError::bad_request("INVALID_TYPE_ON_FIELD_IN_RECORD", m)
                    .with_fields(&[&field.name])
            })?;
            out.insert(field.name.clone(), stored);
        }
        Ok(out)
    }

    pub fn create(&mut self, object: &str, fields: &Map<String, Value>) -> Result<String, SfError> {
        let table = self.table_or_err(object)?;
        let values = Self::checked_values(table, fields)?;
        let missing = table.fields.iter().find(|f| {
            !f.nillable
                && !f.is_system()
                && f.field_type != "boolean"
                && values.get(&f.name).is_none_or(Value::is_null)
        });
        if let Some(field) = missing {
            return Err(SfError::bad_request(
                "REQUIRED_FIELD_MISSING",
                format!("Required fields are missing: [{}]", field.name),
            )
            .with_fields(&[&field.name]));
        }
        let at = self.clock.tick();
        let user = self.user_id.clone();
        let table = self.table_mut(object)?;
        // Booleans are never null in Salesforce: unset ones read as false.
        let mut values = values;
        for f in table
            .fields
            .iter()
            .filter(|f| f.field_type == "boolean" && !f.is_system())
        {
            values.entry(f.name.clone()).or_insert(Value::Bool(false));
        }
        let id = ids::make_id(&table.definition.key_prefix, "ak", table.next_sequence);
        table.next_sequence += 1;
        let record = StoredRecord {
            id: id.clone(),
            values,
            created_date: at,
            last_modified_date: at,
            system_modstamp: at,
            deleted_date: None,
            hidden: false,
        };
        let full = full_values(table, &record, &user);
        let object_name = table.definition.name.clone();
        table.records.insert(id.clone(), record);
        self.log(
            object_name,
            &id,
            ChangeType::Create,
            at,
            Vec::new(),
            Vec::new(),
            full,
        );
        Ok(id)
    }

    fn live_record_mut<'t>(
        table: &'t mut ObjectTable,
        id: &str,
    ) -> Result<&'t mut StoredRecord, SfError> {
        let key = ids::normalize(id)
            .ok_or_else(|| SfError::bad_request("MALFORMED_ID", format!("malformed id {id}")))?;
        table.records.get_mut(&key).ok_or_else(|| {
            SfError::new(
                axum::http::StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "The requested resource does not exist",
            )
        })
    }

    pub fn update(
        &mut self,
        object: &str,
        id: &str,
        fields: &Map<String, Value>,
    ) -> Result<(), SfError> {
        let values = Self::checked_values(self.table_or_err(object)?, fields)?;
        let at = self.clock.tick();
        let table = self.table_mut(object)?;
        let object_name = table.definition.name.clone();
        let record = Self::live_record_mut(table, id)?;
        if record.is_deleted() {
            return Err(SfError::bad_request(
                "ENTITY_IS_DELETED",
                "entity is deleted",
            ));
        }
        let mut changed = Vec::new();
        let mut nulled = Vec::new();
        let mut change_values = BTreeMap::new();
        for (name, value) in values {
            if record.values.get(&name) != Some(&value) {
                if value.is_null() {
                    nulled.push(name.clone());
                }
                changed.push(name.clone());
                change_values.insert(name.clone(), value.clone());
                record.values.insert(name, value);
            }
        }
        record.last_modified_date = at;
        record.system_modstamp = at;
        let record_id = record.id.clone();
        // CDC always lists LastModifiedDate among the changed fields (salesforce.md §2.1).
        changed.push("LastModifiedDate".into());
        change_values.insert("LastModifiedDate".into(), Value::String(rest_datetime(at)));
        self.log(
            object_name,
            &record_id,
            ChangeType::Update,
            at,
            changed,
            nulled,
            change_values,
        );
        Ok(())
    }

    /// A change by an automated process: moves `SystemModstamp` only (salesforce.md §3.2).
    pub fn touch_system(&mut self, object: &str, id: &str) -> Result<(), SfError> {
        let at = self.clock.tick();
        let table = self.table_mut(object)?;
        let record = Self::live_record_mut(table, id)?;
        record.system_modstamp = at;
        Ok(())
    }

    /// Shares the record with the integration user again, or stops sharing it (a sharing
    /// rule or owner change): no stamp moves and nothing notifies.
    pub fn set_hidden(&mut self, object: &str, id: &str, hidden: bool) -> Result<(), SfError> {
        let table = self.table_mut(object)?;
        let key = ids::normalize(id).unwrap_or_else(|| id.to_owned());
        let record = table.records.get_mut(&key).ok_or_else(SfError::not_found)?;
        record.hidden = hidden;
        Ok(())
    }

    pub fn delete(&mut self, object: &str, id: &str) -> Result<(), SfError> {
        let at = self.clock.tick();
        let table = self.table_mut(object)?;
        let object_name = table.definition.name.clone();
        let record = Self::live_record_mut(table, id)?;
        if record.is_deleted() {
            return Err(SfError::bad_request(
                "ENTITY_IS_DELETED",
                "entity is deleted",
            ));
        }
        record.deleted_date = Some(at);
        record.system_modstamp = at;
        let record_id = record.id.clone();
        self.log(
            object_name,
            &record_id,
            ChangeType::Delete,
            at,
            Vec::new(),
            Vec::new(),
            BTreeMap::new(),
        );
        Ok(())
    }

    pub fn undelete(&mut self, object: &str, id: &str) -> Result<(), SfError> {
        let at = self.clock.tick();
        let table = self.table_mut(object)?;
        let object_name = table.definition.name.clone();
        let record = Self::live_record_mut(table, id)?;
        if !record.is_deleted() {
            return Err(SfError::bad_request(
                "UNDELETE_FAILED",
                "entity is not in the recycle bin",
            ));
        }
        record.deleted_date = None;
        record.system_modstamp = at;
        let record = record.clone();
        let full = {
            let table = self.table_or_err(object)?;
            full_values(table, &record, &self.user_id)
        };
        self.log(
            object_name,
            &record.id,
            ChangeType::Undelete,
            at,
            Vec::new(),
            Vec::new(),
            full,
        );
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn log(
        &mut self,
        object: String,
        record_id: &str,
        change_type: ChangeType,
        committed_at: DateTime<Utc>,
        changed_fields: Vec<String>,
        nulled_fields: Vec<String>,
        values: BTreeMap<String, Value>,
    ) {
        let sequence = self.changes.len() as u64 + 1;
        self.changes.push(RecordChange {
            sequence,
            object,
            record_id: record_id.to_string(),
            change_type,
            committed_at,
            changed_fields,
            nulled_fields,
            values,
        });
    }

    pub fn user_id(&self) -> &str {
        &self.user_id
    }
}

/// Every field of a record except `Id` and `IsDeleted` (CDC puts the id in the header).
fn full_values(
    table: &ObjectTable,
    record: &StoredRecord,
    user_id: &str,
) -> BTreeMap<String, Value> {
    table
        .fields
        .iter()
        .filter(|f| f.name != "Id" && f.name != "IsDeleted")
        .map(|f| (f.name.clone(), record.get(&f.name, user_id)))
        .collect()
}
