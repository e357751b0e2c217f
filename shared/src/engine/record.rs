//! One Salesforce record's field snapshot to the HubSpot properties and associations of one
//! upsert, with every failing field reported at once.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::convert::{ValueError, convert, hubspot_type_words, show_value};
use super::hash::ContentHash;
use crate::domain::{FieldSnapshot, SalesforceId};
use crate::mapping::schema::SalesforceObjectSchema;
use crate::mapping::{AssociationTarget, Mapping};

/// What one record becomes in HubSpot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappedRecord {
    pub record_id: SalesforceId,
    /// HubSpot property → value. Holds only fields present in the snapshot (an absent field is
    /// left alone in HubSpot), plus the mapping's id property set to the 18-character id.
    pub properties: BTreeMap<String, String>,
    /// Associations to set, in mapping order.
    pub associations: Vec<AssociationRef>,
    /// Lookup fields present as null: the worker removes their association.
    pub cleared_associations: Vec<String>,
    /// Hash of all of the above, to skip writes that would change nothing.
    pub content_hash: ContentHash,
}

/// One association to set: the record's lookup points at `target_record_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssociationRef {
    /// The lookup field, e.g. `Account__c`.
    pub salesforce_field: String,
    pub target: AssociationTarget,
    /// The parent's 18-character id.
    pub target_record_id: SalesforceId,
    pub association_type_id: Option<u32>,
}

/// One field of one record that cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FieldError {
    /// Salesforce object API name.
    pub object: String,
    pub record_id: SalesforceId,
    /// The Salesforce field as the mapping names it.
    pub field: String,
    /// The property it was to be written to; `None` for an association's lookup field.
    pub hubspot_property: Option<String>,
    /// The value as sent, written as JSON and cut to about 80 characters.
    pub value: String,
    /// What HubSpot needed, in words (`number`, `date`, `association`).
    pub expected: String,
    /// Why the value is not that.
    pub reason: String,
    /// What an admin can do about it.
    pub fix: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: field {} = {} cannot become a HubSpot {}: {} ({})",
            self.object,
            self.record_id,
            self.field,
            self.value,
            self.expected,
            self.reason,
            self.fix
        )
    }
}

impl FieldError {
    fn from_value_error(
        mapping: &Mapping,
        record_id: &SalesforceId,
        field: &str,
        hubspot_property: &str,
        error: ValueError,
    ) -> Self {
        FieldError {
            object: mapping.salesforce_object.clone(),
            record_id: record_id.clone(),
            field: field.to_owned(),
            hubspot_property: Some(hubspot_property.to_owned()),
            fix: error.fix_hint().to_owned(),
            expected: hubspot_type_words(error.expected).to_owned(),
            reason: error.problem.to_string(),
            value: error.value,
        }
    }
}

/// Every field of one record that cannot be written; never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RecordErrors {
    pub object: String,
    pub record_id: SalesforceId,
    pub errors: Vec<FieldError>,
}

impl fmt::Display for RecordErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.errors.len();
        write!(
            f,
            "{} {} cannot sync: {count} field{} cannot be written",
            self.object,
            self.record_id,
            if count == 1 { "" } else { "s" }
        )?;
        for error in &self.errors {
            write!(f, "\n  - {error}")?;
        }
        Ok(())
    }
}

/// Maps one record's snapshot through `mapping`. A mapping applied against the live schemas
/// carries each field's concrete conversion; for one that does not, `describe`, when given,
/// supplies field types for `Auto` conversions, and without it `Auto` goes by each value's shape.
pub fn map_record(
    mapping: &Mapping,
    record_id: &SalesforceId,
    fields: &FieldSnapshot,
    describe: Option<&SalesforceObjectSchema>,
) -> Result<MappedRecord, RecordErrors> {
    let mut errors = Vec::new();

    let mut properties = BTreeMap::new();
    for field_mapping in &mapping.fields {
        let field = field_mapping.salesforce_field.as_str();
        let Some(value) = field_value(fields, field) else {
            continue;
        };
        let source_type = describe
            .and_then(|schema| schema.field(field))
            .map(|f| &f.field_type);
        match convert(value, mapping.conversion_of(field_mapping), source_type) {
            Ok(text) => {
                properties.insert(field_mapping.hubspot_property.clone(), text);
            }
            Err(error) => errors.push(FieldError::from_value_error(
                mapping,
                record_id,
                field,
                &field_mapping.hubspot_property,
                error,
            )),
        }
    }
    // Last, so that no field mapping can overwrite the id HubSpot upserts by.
    properties.insert(mapping.id_property.clone(), record_id.as_str().to_owned());

    let mut associations = Vec::new();
    let mut cleared_associations = Vec::new();
    for association in &mapping.associations {
        let field = association.salesforce_field.as_str();
        match field_value(fields, field) {
            None => {}
            Some(value) if is_null_lookup(value) => cleared_associations.push(field.to_owned()),
            Some(value) => match lookup_id(value) {
                Ok(target_record_id) => associations.push(AssociationRef {
                    salesforce_field: field.to_owned(),
                    target: association.target.clone(),
                    target_record_id,
                    association_type_id: association.association_type_id,
                }),
                Err(reason) => errors.push(FieldError {
                    object: mapping.salesforce_object.clone(),
                    record_id: record_id.clone(),
                    field: field.to_owned(),
                    hubspot_property: None,
                    value: show_value(value),
                    expected: format!("association to {}", target_words(&association.target)),
                    reason,
                    fix: "fix the lookup in Salesforce, or remove the association from the mapping"
                        .to_owned(),
                }),
            },
        }
    }

    if !errors.is_empty() {
        return Err(RecordErrors {
            object: mapping.salesforce_object.clone(),
            record_id: record_id.clone(),
            errors,
        });
    }
    let content_hash = ContentHash::of(&properties, &associations, &cleared_associations);
    Ok(MappedRecord {
        record_id: record_id.clone(),
        properties,
        associations,
        cleared_associations,
        content_hash,
    })
}

/// The value of `field` in the snapshot; `None` when absent (not sent), `Some(Null)` when sent
/// as null. A dotted name (`Name.LastName`, `BillingAddress.City`) reads the nested component —
/// a null parent makes the component null — and falls back to a flat key of that exact name.
fn field_value<'a>(fields: &'a FieldSnapshot, field: &str) -> Option<&'a Value> {
    if let Some((parent, path)) = field.split_once('.')
        && let Some(nested) = fields.get(parent).and_then(|v| nested_value(v, path))
    {
        return Some(nested);
    }
    fields.get(field)
}

fn nested_value<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    let mut current = value;
    for key in path.split('.') {
        current = match current {
            Value::Null => return Some(current),
            // CDC writes `City`, REST `city`: the exact key first, then any case.
            Value::Object(object) => object.get(key).or_else(|| {
                object
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| v)
            })?,
            _ => return None,
        };
    }
    Some(current)
}

/// A lookup that points nowhere: JSON null, or Bulk CSV's empty cell (as in `convert`).
fn is_null_lookup(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

fn lookup_id(value: &Value) -> Result<SalesforceId, String> {
    match value {
        Value::String(s) => SalesforceId::parse(s.trim()).map_err(|e| e.to_string()),
        _ => Err("a lookup holds a Salesforce id, and this is not text".to_owned()),
    }
}

fn target_words(target: &AssociationTarget) -> String {
    match target {
        AssociationTarget::MappedObject { salesforce_object } => salesforce_object.clone(),
        AssociationTarget::HubSpotObject { object, .. } => object.clone(),
    }
}

#[cfg(test)]
mod tests;
