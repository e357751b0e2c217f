//! In-memory record storage per object type, with an index of the values of unique
//! properties among live (unarchived) records, so upserts find their target in O(1).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::values::iso_now;

/// First record id handed out; HubSpot ids are long numeric strings.
const FIRST_RECORD_ID: u64 = 10_000_000_001;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredRecord {
    pub id: u64,
    /// Portal-written property values, already normalised (see `values.rs`).
    pub properties: BTreeMap<String, String>,
    pub created_at: String,
    pub updated_at: String,
    pub archived: bool,
    pub archived_at: Option<String>,
}

impl StoredRecord {
    /// Value of a property as HubSpot reports it, system properties included.
    pub fn value(&self, name: &str) -> Option<String> {
        match name {
            "hs_object_id" => Some(self.id.to_string()),
            "hs_createdate" => Some(self.created_at.clone()),
            "hs_lastmodifieddate" => Some(self.updated_at.clone()),
            _ => self.properties.get(name).cloned(),
        }
    }
}

#[derive(Debug, Default)]
struct ObjectRecords {
    records: BTreeMap<u64, StoredRecord>,
    /// property name -> value -> live record id.
    unique_index: HashMap<String, HashMap<String, u64>>,
}

impl ObjectRecords {
    fn unindex(&mut self, id: u64, unique_properties: &[String]) {
        let Some(record) = self.records.get(&id) else {
            return;
        };
        for prop in unique_properties {
            if let (Some(value), Some(index)) =
                (record.properties.get(prop), self.unique_index.get_mut(prop))
                && index.get(value) == Some(&id)
            {
                index.remove(value);
            }
        }
    }

    fn index(&mut self, id: u64, unique_properties: &[String]) {
        let Some(record) = self.records.get(&id) else {
            return;
        };
        if record.archived {
            return;
        }
        for prop in unique_properties {
            if let Some(value) = record.properties.get(prop) {
                self.unique_index
                    .entry(prop.clone())
                    .or_default()
                    .insert(value.clone(), id);
            }
        }
    }
}

/// A property change: `None` clears the value.
pub type PropertyChange = (String, Option<String>);

#[derive(Debug)]
pub struct RecordStore {
    next_id: u64,
    by_type: HashMap<String, ObjectRecords>,
}

impl Default for RecordStore {
    fn default() -> Self {
        Self {
            next_id: FIRST_RECORD_ID,
            by_type: HashMap::new(),
        }
    }
}

impl RecordStore {
    pub fn get(&self, type_id: &str, id: u64) -> Option<&StoredRecord> {
        self.by_type.get(type_id)?.records.get(&id)
    }

    /// The live record holding `value` in unique property `property`, if any.
    pub fn find_unique(&self, type_id: &str, property: &str, value: &str) -> Option<u64> {
        self.by_type
            .get(type_id)?
            .unique_index
            .get(property)?
            .get(value)
            .copied()
    }

    pub fn all(&self, type_id: &str) -> Vec<StoredRecord> {
        self.by_type
            .get(type_id)
            .map(|o| o.records.values().cloned().collect())
            .unwrap_or_default()
    }

    pub fn create(
        &mut self,
        type_id: &str,
        changes: Vec<PropertyChange>,
        unique_properties: &[String],
    ) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let now = iso_now();
        let properties = changes
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
        let objects = self.by_type.entry(type_id.to_string()).or_default();
        objects.records.insert(
            id,
            StoredRecord {
                id,
                properties,
                created_at: now.clone(),
                updated_at: now,
                archived: false,
                archived_at: None,
            },
        );
        objects.index(id, unique_properties);
        id
    }

    /// Applies changes to an existing record; returns false when it does not exist.
    pub fn update(
        &mut self,
        type_id: &str,
        id: u64,
        changes: Vec<PropertyChange>,
        unique_properties: &[String],
    ) -> bool {
        let Some(objects) = self.by_type.get_mut(type_id) else {
            return false;
        };
        if !objects.records.contains_key(&id) {
            return false;
        }
        objects.unindex(id, unique_properties);
        if let Some(record) = objects.records.get_mut(&id) {
            for (name, value) in changes {
                match value {
                    Some(v) => record.properties.insert(name, v),
                    None => record.properties.remove(&name),
                };
            }
            record.updated_at = iso_now();
        }
        objects.index(id, unique_properties);
        true
    }

    /// Archives a live record; archived records keep their values but leave the unique index.
    pub fn archive(&mut self, type_id: &str, id: u64, unique_properties: &[String]) -> bool {
        let Some(objects) = self.by_type.get_mut(type_id) else {
            return false;
        };
        objects.unindex(id, unique_properties);
        match objects.records.get_mut(&id) {
            Some(record) if !record.archived => {
                let now = iso_now();
                record.archived = true;
                record.archived_at = Some(now.clone());
                record.updated_at = now;
                true
            }
            _ => false,
        }
    }
}
