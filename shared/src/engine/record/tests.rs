//! Records through a mapping, with snapshot shapes from the fixtures: an outbound message (all
//! text, nulls omitted), CDC CREATE (epoch ms, nulls present), CDC UPDATE (partial, nested
//! compound), REST (typed, `+0000`) and Bulk CSV (text, empty cells).
//!
//! Compiled only under `#[cfg(test)]` (see `record.rs`).

use serde_json::{Value, json};

use super::*;
use crate::mapping::schema::{SalesforceField, SalesforceFieldType};
use crate::mapping::{
    AssociationMapping, Conversion, DeleteRule, FieldMapping, HubSpotObjectRef, MappingStatus,
};

fn id(text: &str) -> SalesforceId {
    SalesforceId::parse(text).unwrap()
}

fn field(salesforce_field: &str, hubspot_property: &str, conversion: Conversion) -> FieldMapping {
    FieldMapping {
        salesforce_field: salesforce_field.into(),
        hubspot_property: hubspot_property.into(),
        conversion,
    }
}

fn invoice_mapping() -> Mapping {
    Mapping {
        salesforce_object: "Invoice__c".into(),
        hubspot_object: HubSpotObjectRef::Name("invoice".into()),
        id_property: "salesforce_id".into(),
        fields: vec![
            field("Name", "invoice_number", Conversion::Auto),
            field("Amount__c", "amount", Conversion::Number),
            field("Paid__c", "paid", Conversion::Bool),
            field("Due_Date__c", "due_date", Conversion::Date),
            field("LastModifiedDate", "sf_last_modified", Conversion::Datetime),
            field("Status__c", "status", Conversion::Enumeration),
            field("Tags__c", "tags", Conversion::MultiEnumeration),
        ],
        associations: vec![
            AssociationMapping {
                salesforce_field: "Account__c".into(),
                target: AssociationTarget::HubSpotObject {
                    object: "companies".into(),
                    id_property: "salesforceaccountid".into(),
                },
                association_type_id: None,
            },
            AssociationMapping {
                salesforce_field: "Parent_Invoice__c".into(),
                target: AssociationTarget::MappedObject {
                    salesforce_object: "Invoice__c".into(),
                },
                association_type_id: Some(42),
            },
        ],
        on_delete: DeleteRule::Archive,
        status: MappingStatus::Active,
        allow_unsupported_standard_object: false,
        resolved: None,
    }
}

fn snapshot(value: Value) -> FieldSnapshot {
    serde_json::from_value(value).unwrap()
}

fn invoice_id() -> SalesforceId {
    id("a015f00002J9YYE")
}

fn properties(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn an_outbound_message_snapshot_maps_every_field() {
    let fields = snapshot(json!({
        "Id": "a015f00002J9YYEAA3",
        "Name": "INV-1",
        "Amount__c": "39.0",
        "Paid__c": "true",
        "Due_Date__c": "1978-01-01",
        "LastModifiedDate": "2017-11-03T17:24:20.000Z",
        "Status__c": "Open",
        "Tags__c": "A;B",
        "Account__c": "001ak00000OKNPHAA5",
        "Parent_Invoice__c": "a015f00002J9YYE"
    }));
    let record = map_record(&invoice_mapping(), &invoice_id(), &fields, None).unwrap();
    assert_eq!(
        record.properties,
        properties(&[
            ("amount", "39"),
            ("due_date", "1978-01-01"),
            ("invoice_number", "INV-1"),
            ("paid", "true"),
            ("salesforce_id", "a015f00002J9YYEAA3"),
            ("sf_last_modified", "2017-11-03T17:24:20.000Z"),
            ("status", "Open"),
            ("tags", "A;B"),
        ])
    );
    assert_eq!(
        record.associations,
        vec![
            AssociationRef {
                salesforce_field: "Account__c".into(),
                target: AssociationTarget::HubSpotObject {
                    object: "companies".into(),
                    id_property: "salesforceaccountid".into(),
                },
                target_record_id: id("001ak00000OKNPHAA5"),
                association_type_id: None,
            },
            AssociationRef {
                salesforce_field: "Parent_Invoice__c".into(),
                target: AssociationTarget::MappedObject {
                    salesforce_object: "Invoice__c".into(),
                },
                // a 15-character lookup is normalised to 18
                target_record_id: id("a015f00002J9YYEAA3"),
                association_type_id: Some(42),
            },
        ]
    );
    assert!(record.cleared_associations.is_empty());
    assert_eq!(record.record_id, invoice_id());
}

#[test]
fn the_same_record_from_cdc_rest_and_csv_maps_to_the_same_properties_and_hash() {
    let mapping = invoice_mapping();
    let outbound = snapshot(json!({
        "Name": "INV-1", "Amount__c": "1500.0", "Paid__c": "false",
        "Due_Date__c": "2024-04-09", "LastModifiedDate": "2024-04-09T20:19:25.000Z",
        "Status__c": "Open", "Tags__c": "A;B", "Account__c": "001ak00000OKNPHAA5",
        "Parent_Invoice__c": null
    }));
    let cdc = snapshot(json!({
        "Name": "INV-1", "Amount__c": 1.5e3, "Paid__c": false,
        "Due_Date__c": 1712620800000_i64, "LastModifiedDate": 1712693965000_i64,
        "Status__c": "Open", "Tags__c": "A;B", "Account__c": "001ak00000OKNPHAA5",
        "Parent_Invoice__c": null
    }));
    let rest = snapshot(json!({
        "attributes": {"type": "Invoice__c", "url": "/services/data/v60.0/sobjects/Invoice__c/a015f00002J9YYEAA3"},
        "Name": "INV-1", "Amount__c": 1500, "Paid__c": false,
        "Due_Date__c": "2024-04-09", "LastModifiedDate": "2024-04-09T20:19:25.000+0000",
        "Status__c": "Open", "Tags__c": "A;B", "Account__c": "001ak00000OKNPH",
        "Parent_Invoice__c": null
    }));
    let csv = snapshot(json!({
        "Name": "INV-1", "Amount__c": "1500", "Paid__c": "false",
        "Due_Date__c": "2024-04-09", "LastModifiedDate": "2024-04-09T20:19:25.000Z",
        "Status__c": "Open", "Tags__c": "A;B", "Account__c": "001ak00000OKNPHAA5",
        "Parent_Invoice__c": ""
    }));
    let mapped: Vec<MappedRecord> = [outbound, cdc, rest, csv]
        .iter()
        .map(|fields| map_record(&mapping, &invoice_id(), fields, None).unwrap())
        .collect();
    for other in &mapped[1..] {
        assert_eq!(other, &mapped[0]);
    }
    assert_eq!(mapped[0].properties["amount"], "1500");
    assert_eq!(
        mapped[0].properties["sf_last_modified"],
        "2024-04-09T20:19:25.000Z"
    );
    assert_eq!(
        mapped[0].cleared_associations,
        vec!["Parent_Invoice__c".to_owned()]
    );
}

#[test]
fn absent_fields_are_not_written_and_null_fields_clear() {
    // An outbound message omits nulls; a CDC UPDATE carries only what changed.
    let fields = snapshot(json!({"Amount__c": null, "Status__c": "Paid"}));
    let record = map_record(&invoice_mapping(), &invoice_id(), &fields, None).unwrap();
    assert_eq!(
        record.properties,
        properties(&[
            ("amount", ""),
            ("salesforce_id", "a015f00002J9YYEAA3"),
            ("status", "Paid"),
        ])
    );
    assert!(record.associations.is_empty());
    assert!(record.cleared_associations.is_empty());
}

#[test]
fn the_id_property_is_always_the_18_character_id() {
    let mut mapping = invoice_mapping();
    mapping
        .fields
        .push(field("Id", "salesforce_id", Conversion::String));
    let fields = snapshot(json!({"Id": "a015f00002J9YYE"}));
    let record = map_record(&mapping, &invoice_id(), &fields, None).unwrap();
    assert_eq!(record.properties["salesforce_id"], "a015f00002J9YYEAA3");
}

#[test]
fn compound_components_are_read_from_nested_values_or_flat_dotted_keys() {
    let mapping = Mapping {
        salesforce_object: "Contact".into(),
        fields: vec![
            field("Name.LastName", "lastname", Conversion::Auto),
            field("Name.FirstName", "firstname", Conversion::Auto),
            field("MailingAddress.City", "city", Conversion::Auto),
            field("MailingAddress.PostalCode", "zip", Conversion::Auto),
            field("OtherAddress.City", "other_city", Conversion::Auto),
        ],
        associations: vec![],
        ..invoice_mapping()
    };
    let contact = id("003ak00000IiFInAAN");

    // cdc-contact-update-compound-name.payload.json: only the changed component is present.
    let cdc = snapshot(json!({
        "LastModifiedDate": "2025-04-24T13:18:26.000Z",
        "Name": {"LastName": "Youngest"},
        "MailingAddress": {"City": "Paris"},
        "OtherAddress": null
    }));
    let record = map_record(&mapping, &contact, &cdc, None).unwrap();
    assert_eq!(
        record.properties,
        properties(&[
            ("city", "Paris"),
            ("lastname", "Youngest"),
            ("other_city", ""), // a null compound clears its components
            ("salesforce_id", "003ak00000IiFInAAN"),
        ])
    );

    // REST: lower-camel address keys; a flat dotted key is the fallback.
    let rest = snapshot(json!({
        "MailingAddress": {"city": "Lyon", "postalCode": "69001"},
        "Name.FirstName": "Ada"
    }));
    let record = map_record(&mapping, &contact, &rest, None).unwrap();
    assert_eq!(record.properties["city"], "Lyon");
    assert_eq!(record.properties["zip"], "69001");
    assert_eq!(record.properties["firstname"], "Ada");
    assert!(!record.properties.contains_key("lastname"));
}

#[test]
fn the_describe_types_auto_fields() {
    let mapping = Mapping {
        fields: vec![
            field("Amount__c", "amount", Conversion::Auto),
            field("Due_Date__c", "due_date", Conversion::Auto),
            field("Reference__c", "reference", Conversion::Auto),
        ],
        associations: vec![],
        ..invoice_mapping()
    };
    let describe = SalesforceObjectSchema {
        name: "Invoice__c".into(),
        custom: true,
        fields: [
            ("Amount__c", SalesforceFieldType::Currency),
            ("Due_Date__c", SalesforceFieldType::Date),
            ("Reference__c", SalesforceFieldType::String),
        ]
        .into_iter()
        .map(|(name, field_type)| SalesforceField {
            name: name.into(),
            field_type,
            reference_to: vec![],
            picklist_values: vec![],
            nillable: true,
        })
        .collect(),
    };
    let fields = snapshot(json!({
        "Amount__c": "39.0", "Due_Date__c": 1712620800000_i64, "Reference__c": "0042.0"
    }));
    let typed = map_record(&mapping, &invoice_id(), &fields, Some(&describe)).unwrap();
    assert_eq!(typed.properties["amount"], "39");
    assert_eq!(typed.properties["due_date"], "2024-04-09");
    assert_eq!(typed.properties["reference"], "0042.0");

    let by_shape = map_record(&mapping, &invoice_id(), &fields, None).unwrap();
    assert_eq!(
        by_shape.properties["amount"], "39.0",
        "text stays text without a describe"
    );
    assert_eq!(by_shape.properties["due_date"], "1712620800000");
}

#[test]
fn every_failing_field_is_reported_with_what_to_do() {
    let fields = snapshot(json!({
        "Name": "INV-1",
        "Amount__c": "12,50",
        "Paid__c": "yes",
        "Due_Date__c": "2026-02-30",
        "Account__c": "not-an-id",
        "Parent_Invoice__c": 17
    }));
    let errors = map_record(&invoice_mapping(), &invoice_id(), &fields, None).unwrap_err();
    assert_eq!(errors.object, "Invoice__c");
    assert_eq!(errors.record_id, invoice_id());
    let fields: Vec<&str> = errors.errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "Amount__c",
            "Paid__c",
            "Due_Date__c",
            "Account__c",
            "Parent_Invoice__c"
        ]
    );

    let amount = &errors.errors[0];
    assert_eq!(
        amount.to_string(),
        "Invoice__c a015f00002J9YYEAA3: field Amount__c = \"12,50\" cannot become a HubSpot \
         number: it is not a decimal number such as 1234.56 (fix the value in Salesforce, or map \
         the field with convert = \"string\")"
    );
    assert_eq!(amount.hubspot_property.as_deref(), Some("amount"));
    assert_eq!(amount.value, "\"12,50\"");
    assert_eq!(amount.expected, "number");

    assert_eq!(
        errors.errors[2].to_string(),
        "Invoice__c a015f00002J9YYEAA3: field Due_Date__c = \"2026-02-30\" cannot become a \
         HubSpot date: that day does not exist in the calendar (fix the value in Salesforce, or \
         map the field with convert = \"string\")"
    );
    let account = &errors.errors[3];
    assert_eq!(account.hubspot_property, None);
    assert_eq!(
        account.to_string(),
        "Invoice__c a015f00002J9YYEAA3: field Account__c = \"not-an-id\" cannot become a HubSpot \
         association to companies: `not-an-id` is not a Salesforce id: it has 9 characters, an \
         id has 15 or 18 (copy the id from the record's URL or from the API) (fix the lookup in \
         Salesforce, or remove the association from the mapping)"
    );
    assert_eq!(
        errors.errors[4].reason,
        "a lookup holds a Salesforce id, and this is not text"
    );

    let summary = errors.to_string();
    assert!(
        summary.starts_with(
            "Invoice__c a015f00002J9YYEAA3 cannot sync: 5 fields cannot be written\n  - "
        ),
        "{summary}"
    );
    assert_eq!(summary.lines().count(), 6, "{summary}");
}

#[test]
fn a_lookup_with_a_bad_checksum_is_refused() {
    let fields = snapshot(json!({"Account__c": "001ak00000OKNPHAAA"}));
    let errors = map_record(&invoice_mapping(), &invoice_id(), &fields, None).unwrap_err();
    assert_eq!(errors.errors.len(), 1);
    assert!(
        errors.errors[0].reason.contains("should be `AA5`"),
        "{}",
        errors.errors[0]
    );
}

#[test]
fn the_hash_tracks_what_is_written() {
    let mapping = invoice_mapping();
    let base = snapshot(json!({"Amount__c": "39.0", "Account__c": "001ak00000OKNPHAA5"}));
    let hash = |fields: &FieldSnapshot| {
        map_record(&mapping, &invoice_id(), fields, None)
            .unwrap()
            .content_hash
    };
    let same_value_other_shape =
        snapshot(json!({"Amount__c": 39, "Account__c": "001ak00000OKNPH"}));
    assert_eq!(hash(&base), hash(&same_value_other_shape));

    let changed_amount = snapshot(json!({"Amount__c": "39.5", "Account__c": "001ak00000OKNPHAA5"}));
    let cleared_lookup = snapshot(json!({"Amount__c": "39.0", "Account__c": null}));
    let absent_lookup = snapshot(json!({"Amount__c": "39.0"}));
    assert_ne!(hash(&base), hash(&changed_amount));
    assert_ne!(hash(&base), hash(&cleared_lookup));
    assert_ne!(hash(&cleared_lookup), hash(&absent_lookup));
}
