//! The Salesforce fields a mapping reads: what a re-read, a backfill or a preview asks
//! Salesforce for, and how the answer is reshaped for the engine.

use serde_json::{Map, Value};

use super::Mapping;
use super::objects::compound_component_field;
use crate::domain::FieldSnapshot;

/// The Salesforce fields a mapping reads (with `SystemModstamp`), as the API names them: what a
/// re-read or a backfill must ask for.
pub fn read_fields(mapping: &Mapping) -> Vec<String> {
    api_fields(&field_requests(mapping))
}

/// A record read from Salesforce's API, reshaped for the mapping: compound components come back
/// as flat fields (`BillingCity`) and go under their compound (`BillingAddress.City`).
pub fn snapshot_for_mapping(mapping: &Mapping, fields: FieldSnapshot) -> FieldSnapshot {
    nest_components(fields, &field_requests(mapping))
}

/// A field to ask Salesforce for, and where its value goes in the snapshot the engine reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequest {
    /// The field as the API names it (`BillingCity`).
    pub api_field: String,
    /// For a compound component: the mapping's `BillingAddress` and `City`, so the value can be
    /// put back where the mapping's `BillingAddress.City` looks for it.
    pub compound: Option<(String, String)>,
}

/// The API names of `requests`: the fields to ask Salesforce for.
pub fn api_fields(requests: &[FieldRequest]) -> Vec<String> {
    requests.iter().map(|r| r.api_field.clone()).collect()
}

/// The Salesforce fields a mapping reads, as it names them (`BillingAddress.City`): its fields,
/// then its lookups.
pub fn mapped_fields(mapping: &Mapping) -> impl Iterator<Item = &str> {
    mapping
        .fields
        .iter()
        .map(|f| f.salesforce_field.as_str())
        .chain(
            mapping
                .associations
                .iter()
                .map(|a| a.salesforce_field.as_str()),
        )
}

/// Every field a mapping reads, plus `SystemModstamp` (the state's age), without repeats.
pub fn field_requests(mapping: &Mapping) -> Vec<FieldRequest> {
    let mut requests: Vec<FieldRequest> = Vec::new();
    let mut push = |request: FieldRequest| {
        if !requests.iter().any(|r| r.api_field == request.api_field) {
            requests.push(request);
        }
    };
    push(FieldRequest {
        api_field: "SystemModstamp".into(),
        compound: None,
    });
    for field in mapped_fields(mapping) {
        match field.split_once('.') {
            Some((compound, component)) => push(FieldRequest {
                api_field: compound_component_field(compound, component),
                compound: Some((compound.to_owned(), component.to_owned())),
            }),
            None => push(FieldRequest {
                api_field: field.to_owned(),
                compound: None,
            }),
        }
    }
    requests
}

/// Puts component values back under their compound parent (`BillingCity` → `BillingAddress.City`)
/// so the engine reads a retrieved record exactly as it reads a CDC event.
pub fn nest_components(mut fields: FieldSnapshot, requests: &[FieldRequest]) -> FieldSnapshot {
    for request in requests {
        let Some((compound, component)) = &request.compound else {
            continue;
        };
        let Some(value) = fields.get(&request.api_field).cloned() else {
            continue;
        };
        let parent = fields
            .entry(compound.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if !parent.is_object() {
            *parent = Value::Object(Map::new());
        }
        if let Value::Object(map) = parent {
            map.insert(component.clone(), value);
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::{
        AssociationMapping, AssociationTarget, Conversion, DeleteRule, FieldMapping,
        HubSpotObjectRef, MappingStatus,
    };
    use serde_json::json;

    fn mapping() -> Mapping {
        Mapping {
            salesforce_object: "Invoice__c".into(),
            hubspot_object: HubSpotObjectRef::parse("invoice"),
            id_property: "salesforce_id".into(),
            fields: ["Name", "BillingAddress.City", "Name"]
                .iter()
                .map(|f| FieldMapping {
                    salesforce_field: (*f).into(),
                    hubspot_property: f.to_lowercase().replace('.', "_"),
                    conversion: Conversion::Auto,
                })
                .collect(),
            associations: vec![AssociationMapping {
                salesforce_field: "Account__c".into(),
                target: AssociationTarget::HubSpotObject {
                    object: "companies".into(),
                    id_property: "salesforceaccountid".into(),
                },
                association_type_id: None,
            }],
            on_delete: DeleteRule::Archive,
            status: MappingStatus::Active,
            allow_unsupported_standard_object: false,
            resolved: None,
        }
    }

    #[test]
    fn requests_cover_fields_lookups_and_the_modstamp_once_each() {
        let names: Vec<_> = field_requests(&mapping())
            .into_iter()
            .map(|r| r.api_field)
            .collect();
        assert_eq!(
            names,
            ["SystemModstamp", "Name", "BillingCity", "Account__c"]
        );
    }

    #[test]
    fn components_go_back_under_their_compound() {
        let requests = field_requests(&mapping());
        let fields = FieldSnapshot::from([
            ("BillingCity".to_owned(), json!("Paris")),
            ("Name".to_owned(), json!("INV-1")),
        ]);
        let nested = nest_components(fields, &requests);
        assert_eq!(nested["BillingAddress"], json!({"City": "Paris"}));
        assert_eq!(nested["Name"], json!("INV-1"));
    }
}
