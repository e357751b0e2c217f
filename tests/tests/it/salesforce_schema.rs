//! Describe from the Salesforce sandbox, read by the Salesforce client, feeding live mapping
//! validation through `SplitSchemaSource` (the HubSpot half is a fixed stub here).

use crate::common_salesforce::{client, quick_org};
use async_trait::async_trait;
use sf2hs_shared::mapping::schema::{
    HubSpotObjectSchema, HubSpotProperty, HubSpotPropertyType, SalesforceObjectSchema, SchemaError,
    SchemaSource,
};
use sf2hs_shared::mapping::{HubSpotObjectRef, validate_live, validate_sources};
use sf2hs_shared::salesforce::client::SplitSchemaSource;

struct HubSpotStub;

fn property(name: &str, property_type: &str, field_type: &str, unique: bool) -> HubSpotProperty {
    HubSpotProperty {
        name: name.into(),
        property_type: HubSpotPropertyType::from(property_type.to_string()),
        field_type: field_type.into(),
        options: Vec::new(),
        has_unique_value: unique,
        read_only: false,
    }
}

#[async_trait]
impl SchemaSource for HubSpotStub {
    async fn salesforce_object(
        &self,
        _name: &str,
    ) -> Result<Option<SalesforceObjectSchema>, SchemaError> {
        Err(SchemaError::Unavailable {
            system: "Salesforce",
            reason: "the stub only knows HubSpot".into(),
        })
    }

    async fn hubspot_object(
        &self,
        object: &HubSpotObjectRef,
    ) -> Result<Option<HubSpotObjectSchema>, SchemaError> {
        if object.as_str() != "invoice" {
            return Ok(None);
        }
        Ok(Some(HubSpotObjectSchema {
            object_type_id: "2-1001".into(),
            name: "invoice".into(),
            fully_qualified_name: Some("p7878787_invoice".into()),
            required_properties: Vec::new(),
            properties: vec![
                property("salesforce_id", "string", "text", true),
                property("invoice_number", "string", "text", false),
                property("amount", "number", "number", false),
                property("invoice_status", "string", "text", false),
            ],
        }))
    }
}

const MAPPINGS: &str = r#"[[mapping]]
salesforce_object = "Invoice__c"
hubspot_object = "invoice"
id_property = "salesforce_id"
status = "active"
on_delete = "archive"

[mapping.fields]
Name = "invoice_number"
Amont__c = { property = "amount", convert = "number" }
Status__c = "invoice_status"

[[mapping]]
salesforce_object = "Ghost__c"
hubspot_object = "ghost"
status = "draft"
on_delete = "keep"

[mapping.fields]
Name = "name"
"#;

#[tokio::test]
async fn salesforce_describe_feeds_live_mapping_validation() {
    let sandbox = quick_org().await;
    let sf = client(&sandbox);
    let report = validate_sources(&[("live.toml".into(), MAPPINGS.into())]);
    assert!(report.is_ok(), "{report}");
    let schemas = SplitSchemaSource {
        salesforce: &sf,
        hubspot: &HubSpotStub,
    };
    let problems = validate_live(&report.mappings, &schemas).await;
    let headlines: Vec<String> = problems.iter().map(|p| p.headline()).collect();
    assert!(
        headlines
            .iter()
            .any(|h| h.contains("Salesforce object `Invoice__c` has no field `Amont__c`")),
        "{headlines:#?}"
    );
    assert!(
        headlines
            .iter()
            .any(|h| h.contains("Salesforce object `Ghost__c` does not exist in the org")),
        "{headlines:#?}"
    );
    assert!(
        !headlines
            .iter()
            .any(|h| h.contains("Status__c") || h.contains("`Name`")),
        "fields the describe has are accepted: {headlines:#?}"
    );
}

#[tokio::test]
async fn a_mapped_field_no_outbound_message_sends_is_an_error_naming_the_action() {
    let sandbox = quick_org().await;
    let sf = client(&sandbox);
    let mappings = r#"[[mapping]]
salesforce_object = "Invoice__c"
hubspot_object = "invoice"
id_property = "salesforce_id"
status = "active"
on_delete = "archive"

[mapping.fields]
Name = "invoice_number"
Amount__c = { property = "amount", convert = "number" }
"#;
    let report = validate_sources(&[("live.toml".into(), mappings.into())]);
    assert!(report.is_ok(), "{report}");
    let schemas = SplitSchemaSource {
        salesforce: &sf,
        hubspot: &HubSpotStub,
    };
    // No action on the object: its changes come some other way, nothing to check.
    let problems = validate_live(&report.mappings, &schemas).await;
    assert!(problems.is_empty(), "{problems:#?}");

    for (n, fields) in [(1, vec!["Name"]), (2, vec!["Name", "Status__c"])] {
        sandbox
            .handle()
            .define_outbound_message(
                sf2hs_sandbox::salesforce::tooling::OutboundMessageDefinition {
                    id: format!("04k5f000000AbC{n}AAK"),
                    name: format!("Invoice_Sync_{n}"),
                    object: "Invoice__c".into(),
                    fields: fields.into_iter().map(String::from).collect(),
                    endpoint_url: "https://sf2hs.example/outbound/token".into(),
                },
            )
            .expect("defined");
    }
    let problems = validate_live(&report.mappings, &schemas).await;
    let texts: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(problems.len(), 1, "{texts:#?}");
    assert_eq!(problems[0].line, 10, "the Amount__c line: {texts:#?}");
    assert!(
        texts[0].contains(
            "`Amount__c` is mapped, but outbound message Invoice_Sync_1, Invoice_Sync_2 does not send it"
        ),
        "{texts:#?}"
    );
    assert!(
        texts[0].contains("add Amount__c to outbound message Invoice_Sync_1"),
        "{texts:#?}"
    );
}
