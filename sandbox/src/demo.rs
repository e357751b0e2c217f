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
    invoice_object_with_statuses(&["Draft", "Sent", "Paid"])
}

/// The invoice object with other `Status__c` picklist values: a value the HubSpot property has
/// no option for makes records HubSpot refuses.
pub fn invoice_object_with_statuses(statuses: &[&str]) -> ObjectDefinition {
    ObjectDefinition::new(
        "Invoice__c",
        "a0I",
        vec![
            FieldDefinition::new("Name", "string"),
            FieldDefinition::new("Amount__c", "currency"),
            FieldDefinition::picklist("Status__c", statuses),
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
    start_pair_with(hubspot, project_object(), invoice_object()).await
}

/// [`start_pair`] with other definitions of the two Salesforce objects (a picklist value that
/// HubSpot lacks, say); the HubSpot side stays the demo's.
pub async fn start_pair_with(
    hubspot: crate::hubspot::SandboxConfig,
    project: ObjectDefinition,
    invoice: ObjectDefinition,
) -> Result<(crate::salesforce::RunningSalesforceSandbox, RunningSandbox), String> {
    start_pair_in(demo_org(), hubspot, project, invoice).await
}

/// The demo org's settings: its clock starts a week back, Bulk jobs complete after one poll.
pub fn demo_org() -> crate::salesforce::SalesforceConfig {
    crate::salesforce::SalesforceConfig {
        clock_start: Some(chrono::Utc::now() - chrono::TimeDelta::days(7)),
        bulk_polls_in_progress: 1,
        ..crate::salesforce::SalesforceConfig::default()
    }
}

/// [`start_pair_with`] on an org configured by the caller (its stamps, say).
pub async fn start_pair_in(
    org: crate::salesforce::SalesforceConfig,
    hubspot: crate::hubspot::SandboxConfig,
    project: ObjectDefinition,
    invoice: ObjectDefinition,
) -> Result<(crate::salesforce::RunningSalesforceSandbox, RunningSandbox), String> {
    let salesforce = crate::salesforce::SalesforceSandbox::start(org)
        .await
        .map_err(|e| format!("cannot start the Salesforce sandbox: {e}"))?;
    let handle = salesforce.handle();
    handle
        .define_object(project)
        .map_err(|e| format!("cannot define Project__c: {e:?}"))?;
    handle
        .define_object(invoice)
        .map_err(|e| format!("cannot define Invoice__c: {e:?}"))?;
    let hubspot = crate::hubspot::HubSpotSandbox::start(hubspot)
        .await
        .map_err(|e| format!("cannot start the HubSpot sandbox: {e}"))?;
    hubspot_schemas(&hubspot).map_err(|e| format!("cannot create the HubSpot objects: {e:?}"))?;
    Ok((salesforce, hubspot))
}

/// Records of the demo org that the demo portal does not show as they are, with why: every live
/// project and invoice in HubSpot exactly once (by its 18-character id in `salesforce_id`), with
/// each mapped field equal to Salesforce's current value, each invoice associated with exactly
/// its project (alone), deleted projects archived (`on_delete = "archive"`), deleted invoices kept, and
/// no HubSpot record that Salesforce does not have. Empty when the two agree.
pub fn mismatches(
    salesforce: &crate::salesforce::RunningSalesforceSandbox,
    hubspot: &RunningSandbox,
) -> Vec<String> {
    use std::collections::{BTreeMap, BTreeSet};

    use serde_json::Value;

    let sf = salesforce.handle();
    let hub = hubspot.handle();
    let mut problems = Vec::new();
    let id18 = |id: &str| crate::salesforce::ids::normalize(id).unwrap_or_else(|| id.to_owned());
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let number = |v: Option<&Value>| v.and_then(Value::as_f64);
    let parsed = |v: Option<&String>| v.and_then(|s| s.parse::<f64>().ok());

    // Each live HubSpot record's Salesforce id, once per object: a second is a duplicate.
    let live_ids = |object: &str, problems: &mut Vec<String>| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        for record in hub.records(object).unwrap_or_default() {
            if record.archived {
                continue;
            }
            match record.properties.get("salesforce_id") {
                None => problems.push(format!("{object} {}: no salesforce_id", record.id)),
                Some(id) if !seen.insert(id.clone()) => {
                    problems.push(format!("{object}: two live records for Salesforce {id}"))
                }
                Some(_) => {}
            }
        }
        seen
    };
    let mut hub_projects = live_ids("sf_project", &mut problems);
    let mut hub_invoices = live_ids("sf_invoice", &mut problems);

    let mut project_ids = BTreeMap::new();
    for project in sf.records("Project__c").unwrap_or_default() {
        let id = id18(&project.id);
        hub_projects.remove(&id);
        let found = hub
            .record_by_unique("sf_project", "salesforce_id", &id)
            .ok()
            .flatten();
        match (project.deleted_date.is_some(), found) {
            (true, Some(_)) => problems.push(format!(
                "Project__c {}: deleted, still live in HubSpot",
                project.id
            )),
            (true, None) => {}
            (false, None) => problems.push(format!("Project__c {}: not in HubSpot", project.id)),
            (false, Some(record)) => {
                project_ids.insert(id, record.id);
                let name = record.properties.get("project_name").cloned();
                let budget = parsed(record.properties.get("budget"));
                if name != text(project.values.get("Name"))
                    || budget != number(project.values.get("Budget__c"))
                {
                    problems.push(format!(
                        "Project__c {}: HubSpot shows {name:?} / {budget:?}, Salesforce {:?} / {:?}",
                        project.id,
                        project.values.get("Name"),
                        project.values.get("Budget__c")
                    ));
                }
            }
        }
    }
    for invoice in sf.records("Invoice__c").unwrap_or_default() {
        let id = id18(&invoice.id);
        hub_invoices.remove(&id);
        let Some(record) = hub
            .record_by_unique("sf_invoice", "salesforce_id", &id)
            .ok()
            .flatten()
        else {
            problems.push(format!("Invoice__c {}: not in HubSpot", invoice.id));
            continue;
        };
        let number_text = record.properties.get("invoice_number").cloned();
        let status = record.properties.get("invoice_status").cloned();
        let amount = parsed(record.properties.get("amount"));
        if number_text != text(invoice.values.get("Name"))
            || status != text(invoice.values.get("Status__c"))
            || amount != number(invoice.values.get("Amount__c"))
        {
            problems.push(format!(
                "Invoice__c {}: HubSpot shows {number_text:?} / {status:?} / {amount:?}, \
                 Salesforce {:?} / {:?} / {:?}",
                invoice.id,
                invoice.values.get("Name"),
                invoice.values.get("Status__c"),
                invoice.values.get("Amount__c")
            ));
        }
        let linked: Vec<u64> = hub
            .associations_of("sf_invoice", record.id, "sf_project")
            .unwrap_or_default()
            .into_iter()
            .map(|(to, _)| to)
            .collect();
        let expected = text(invoice.values.get("Project__c"))
            .and_then(|project| project_ids.get(&id18(&project)).copied());
        // An invoice whose project was deleted may keep its link to the archived record;
        // HubSpot decides that, not sf2hs.
        if let Some(project) = expected
            && linked != vec![project]
        {
            problems.push(format!(
                "Invoice__c {}: associated with {linked:?}, not with its project {project} only",
                invoice.id
            ));
        }
    }
    for id in hub_projects {
        problems.push(format!(
            "sf_project for {id}: Salesforce has no such live project"
        ));
    }
    for id in hub_invoices {
        problems.push(format!(
            "sf_invoice for {id}: Salesforce has no such invoice"
        ));
    }
    problems
}
