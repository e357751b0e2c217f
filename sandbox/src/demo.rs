//! The demo org and portal: `Project__c` and `Invoice__c` in Salesforce, and the HubSpot custom
//! objects `examples/demo/mappings.toml` maps them to. Used by `sf2hs demo` and the end-to-end tests.

use serde_json::json;

use crate::hubspot::{ApiError, RunningSandbox};
use crate::salesforce::{FieldDefinition, ObjectDefinition};

pub fn project_object() -> ObjectDefinition {
    ObjectDefinition::new(
        "Project__c",
        "a0P",
        vec![
            FieldDefinition::new("Name", "string"),
            FieldDefinition::new("Budget__c", "currency"),
        ],
    )
}

pub fn invoice_object() -> ObjectDefinition {
    ObjectDefinition::new(
        "Invoice__c",
        "a0I",
        vec![
            FieldDefinition::new("Name", "string"),
            FieldDefinition::new("Amount__c", "currency"),
            FieldDefinition::picklist("Status__c", &["Draft", "Sent", "Paid"]),
            FieldDefinition::reference("Project__c", &["Project__c"]),
        ],
    )
}

/// The HubSpot custom objects of the demo's mappings (`sf_project`, `sf_invoice` associated with it).
pub fn hubspot_schemas(hubspot: &RunningSandbox) -> Result<(), ApiError> {
    let handle = hubspot.handle();
    let project = handle.create_schema(json!({
        "name": "sf_project",
        "labels": { "singular": "Project", "plural": "Projects" },
        "primaryDisplayProperty": "project_name",
        "requiredProperties": ["salesforce_id"],
        "associatedObjects": [],
        "properties": [
            { "name": "salesforce_id", "label": "Salesforce ID", "type": "string",
              "fieldType": "text", "hasUniqueValue": true },
            { "name": "project_name", "label": "Name", "type": "string", "fieldType": "text" },
            { "name": "budget", "label": "Budget", "type": "number", "fieldType": "number" }
        ]
    }))?;
    let project_type = project["objectTypeId"].as_str().unwrap_or_default();
    handle
        .create_schema(json!({
            "name": "sf_invoice",
            "labels": { "singular": "Invoice", "plural": "Invoices" },
            "primaryDisplayProperty": "invoice_number",
            "requiredProperties": ["salesforce_id"],
            "associatedObjects": [project_type],
            "properties": [
                { "name": "salesforce_id", "label": "Salesforce ID", "type": "string",
                  "fieldType": "text", "hasUniqueValue": true },
                { "name": "invoice_number", "label": "Number", "type": "string", "fieldType": "text" },
                { "name": "amount", "label": "Amount", "type": "number", "fieldType": "number" },
                { "name": "invoice_status", "label": "Status", "type": "enumeration", "fieldType": "select",
                  "options": [ { "label": "Draft", "value": "Draft" }, { "label": "Sent", "value": "Sent" },
                               { "label": "Paid", "value": "Paid" } ] }
            ]
        }))?;
    Ok(())
}

/// The demo's two sandboxes on loopback: a Salesforce org whose clock starts a week back (so
/// seeded history lies before "now") with `Project__c` and `Invoice__c`, and a HubSpot portal
/// (`hubspot`'s limits and faults) with their custom objects.
pub async fn start_pair(
    hubspot: crate::hubspot::SandboxConfig,
) -> Result<(crate::salesforce::RunningSalesforceSandbox, RunningSandbox), String> {
    let salesforce =
        crate::salesforce::SalesforceSandbox::start(crate::salesforce::SalesforceConfig {
            clock_start: Some(chrono::Utc::now() - chrono::TimeDelta::days(7)),
            bulk_polls_in_progress: 1,
            ..crate::salesforce::SalesforceConfig::default()
        })
        .await
        .map_err(|e| format!("cannot start the Salesforce sandbox: {e}"))?;
    let handle = salesforce.handle();
    handle
        .define_object(project_object())
        .map_err(|e| format!("cannot define Project__c: {e:?}"))?;
    handle
        .define_object(invoice_object())
        .map_err(|e| format!("cannot define Invoice__c: {e:?}"))?;
    let hubspot = crate::hubspot::HubSpotSandbox::start(hubspot)
        .await
        .map_err(|e| format!("cannot start the HubSpot sandbox: {e}"))?;
    hubspot_schemas(&hubspot).map_err(|e| format!("cannot create the HubSpot objects: {e:?}"))?;
    Ok((salesforce, hubspot))
}
