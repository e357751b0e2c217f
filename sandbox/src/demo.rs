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
