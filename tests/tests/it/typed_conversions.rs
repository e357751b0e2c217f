//! `mappings apply` resolves each field's conversion from the Salesforce describe and the HubSpot
//! property (issue 17, defect 5), so every intake path gives the same HubSpot value, and the same
//! content hash, for the same Salesforce state; and a datetime into a `date` property validates
//! with its truncation stated, never failing at runtime.
//!
//! The four intake shapes of one state (salesforce.md §2–§4, the fixtures): an outbound message
//! sends text (`xsd:dateTime` with `Z`), CDC sends epoch milliseconds and JSON numbers, REST sends
//! typed JSON with `+0000` offsets, Bulk CSV sends text.

use serde_json::{Value, json};
use sf2hs_sandbox::hubspot::SandboxConfig;
use sf2hs_sandbox::salesforce::{FieldDefinition, ObjectDefinition};
use sf2hs_shared::domain::{FieldSnapshot, SalesforceId};
use sf2hs_shared::engine::map_record;
use sf2hs_shared::hubspot::{HubSpotSchemaSource, UpsertInput};
use sf2hs_shared::mapping::{Conversion, HubSpotObjectRef, Severity, check_live, validate_sources};

const MAPPING: &str = r#"
[[mapping]]
salesforce_object = "Payment__c"
hubspot_object = "sf_payment"
status = "active"

[mapping.fields]
Name = "payment_name"
Paid_At__c = "paid_at"
Booked_At__c = "booked_on"
Due__c = "due"
Amount__c = "amount"
Settled__c = "settled"
"#;

fn snapshot(value: Value) -> FieldSnapshot {
    value
        .as_object()
        .expect("object")
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_intake_path_gives_the_same_values_and_hash() {
    let (salesforce, hubspot) = sf2hs_sandbox::demo::start_pair(SandboxConfig::default())
        .await
        .expect("sandboxes");
    salesforce
        .handle()
        .define_object(ObjectDefinition::new(
            "Payment__c",
            "a0Y",
            vec![
                FieldDefinition::new("Name", "string"),
                FieldDefinition::new("Paid_At__c", "datetime"),
                FieldDefinition::new("Booked_At__c", "datetime"),
                FieldDefinition::new("Due__c", "date"),
                FieldDefinition::new("Amount__c", "currency"),
                FieldDefinition::new("Settled__c", "boolean"),
            ],
        ))
        .expect("object");
    hubspot
        .handle()
        .create_schema(json!({
            "name": "sf_payment",
            "labels": { "singular": "Payment", "plural": "Payments" },
            "primaryDisplayProperty": "payment_name",
            "requiredProperties": ["salesforce_id"],
            "associatedObjects": [],
            "properties": [
                { "name": "salesforce_id", "label": "Salesforce ID", "type": "string",
                  "fieldType": "text", "hasUniqueValue": true },
                { "name": "payment_name", "label": "Name", "type": "string", "fieldType": "text" },
                { "name": "paid_at", "label": "Paid at", "type": "datetime", "fieldType": "date" },
                { "name": "booked_on", "label": "Booked on", "type": "date", "fieldType": "date" },
                { "name": "due", "label": "Due", "type": "date", "fieldType": "date" },
                { "name": "amount", "label": "Amount", "type": "number", "fieldType": "number" },
                { "name": "settled", "label": "Settled", "type": "bool", "fieldType": "booleancheckbox" }
            ]
        }))
        .expect("schema");
    let (salesforce_client, hubspot_client) =
        sf2hs_tests::stack::sandbox_clients(&salesforce, &hubspot);
    let schemas = HubSpotSchemaSource::new(salesforce_client, hubspot_client.clone());

    let report = validate_sources(&[("payments.toml".into(), MAPPING.into())]);
    assert!(report.is_ok(), "{report}");
    let checked = check_live(&report.mappings, &schemas).await;
    let lines: Vec<String> = checked.problems.iter().map(|p| p.headline()).collect();
    assert_eq!(
        lines,
        [
            "payments.toml:10: warning: Salesforce datetime `Booked_At__c` is written to date property `booked_on` as its UTC date: the time of day is dropped"
        ],
        "the truncation is stated at validation"
    );
    assert!(
        checked
            .problems
            .iter()
            .all(|p| p.severity == Severity::Warning)
    );
    let resolved = checked.resolved[0].clone().expect("resolved");
    let conversions: Vec<(&str, Conversion)> = resolved
        .conversions
        .iter()
        .map(|(field, conversion)| (field.as_str(), *conversion))
        .collect();
    assert_eq!(
        conversions,
        [
            ("Amount__c", Conversion::Number),
            ("Booked_At__c", Conversion::Date),
            ("Due__c", Conversion::Date),
            ("Name", Conversion::String),
            ("Paid_At__c", Conversion::Datetime),
            ("Settled__c", Conversion::Bool),
        ]
    );
    let mapping = sf2hs_shared::mapping::Mapping {
        resolved: Some(resolved.clone()),
        ..report.mappings[0].mapping.clone()
    };

    // 2024-04-09 23:30 UTC: booked late in the evening, the UTC date is the 9th.
    let outbound = snapshot(json!({
        "Name": "PAY-1", "Paid_At__c": "2024-04-09T10:15:00.000Z",
        "Booked_At__c": "2024-04-09T23:30:00.000Z", "Due__c": "2024-05-01",
        "Amount__c": "39.00", "Settled__c": "true"
    }));
    let cdc = snapshot(json!({
        "Name": "PAY-1", "Paid_At__c": 1712657700000_i64, "Booked_At__c": 1712705400000_i64,
        "Due__c": "2024-05-01", "Amount__c": 39.0, "Settled__c": true
    }));
    let rest = snapshot(json!({
        "Name": "PAY-1", "Paid_At__c": "2024-04-09T10:15:00.000+0000",
        "Booked_At__c": "2024-04-09T23:30:00.000+0000", "Due__c": "2024-05-01",
        "Amount__c": 39.0, "Settled__c": true
    }));
    let bulk = snapshot(json!({
        "Name": "PAY-1", "Paid_At__c": "2024-04-09T10:15:00.000Z",
        "Booked_At__c": "2024-04-09T23:30:00.000Z", "Due__c": "2024-05-01",
        "Amount__c": "39", "Settled__c": "true"
    }));
    let id = SalesforceId::parse("a0Y5f00000P0001").expect("id");
    let mapped: Vec<_> = [&outbound, &cdc, &rest, &bulk]
        .into_iter()
        .map(|fields| map_record(&mapping, &id, fields, None).expect("maps"))
        .collect();
    for (path, record) in ["CDC", "REST", "Bulk"].iter().zip(&mapped[1..]) {
        assert_eq!(record.properties, mapped[0].properties, "{path}");
        assert_eq!(record.content_hash, mapped[0].content_hash, "{path}");
    }
    let properties = &mapped[0].properties;
    assert_eq!(properties["paid_at"], "2024-04-09T10:15:00.000Z");
    assert_eq!(properties["booked_on"], "2024-04-09");
    assert_eq!(properties["amount"], "39");
    assert_eq!(properties["settled"], "true");

    // Without what apply resolved, `auto` goes by each value's shape: the paths disagree.
    let unresolved = mapping.as_written();
    let by_shape: Vec<_> = [&outbound, &cdc]
        .into_iter()
        .map(|fields| map_record(&unresolved, &id, fields, None).expect("maps"))
        .collect();
    assert_ne!(by_shape[0].content_hash, by_shape[1].content_hash);

    // HubSpot takes the values: the sandbox checks each against its property's type.
    let written = hubspot_client
        .upsert(
            &HubSpotObjectRef::ObjectTypeId(resolved.object_type_id.clone()),
            "salesforce_id",
            vec![UpsertInput {
                id_value: id.as_str().to_owned(),
                properties: properties.clone(),
                modified_at: None,
            }],
        )
        .await
        .expect("upserted");
    assert_eq!(written.failed.len(), 0, "{:?}", written.failed);
    assert_eq!(written.succeeded.len(), 1);
}
