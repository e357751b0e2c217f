//! `sf2hs schema ensure OBJECT`: creates or completes the HubSpot custom object of a stored
//! mapping from the Salesforce describe: the object, the unique Salesforce-id property and one
//! property per mapped field, typed from the field. It shows the plan and asks before writing.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;
use sf2hs_shared::embedded::LocalSecrets;
use sf2hs_shared::hubspot::PropertyPlan;
use sf2hs_shared::hubspot::schemas::{SchemaRequest, property_type_for};
use sf2hs_shared::mapping::schema::{HubSpotPropertyType, SalesforceObjectSchema};
use sf2hs_shared::mapping::{HubSpotObjectRef, Mapping};

use crate::backend::Backend;
use crate::output::{self, CliError};

fn setup(e: impl std::error::Error + Send + Sync + 'static) -> CliError {
    CliError::failed(e)
}

/// One property per mapped field, typed from the describe; compound components are text.
fn planned_properties(
    mapping: &Mapping,
    describe: &SalesforceObjectSchema,
) -> (Vec<PropertyPlan>, Vec<String>) {
    let mut plans = Vec::new();
    let mut skipped = Vec::new();
    for field in &mapping.fields {
        let (property_type, field_type, options) = if field.salesforce_field.contains('.') {
            (HubSpotPropertyType::String, "text", Vec::new())
        } else {
            match describe.field(&field.salesforce_field) {
                None => {
                    skipped.push(format!(
                        "{}: not a field of {} (`sf2hs mappings validate` with credentials says more)",
                        field.salesforce_field, describe.name
                    ));
                    continue;
                }
                Some(sf) => match property_type_for(&sf.field_type, &sf.picklist_values) {
                    None => {
                        skipped.push(format!("{}: its type has no HubSpot property", sf.name));
                        continue;
                    }
                    Some((t, f)) => {
                        let options = if t == HubSpotPropertyType::Enumeration {
                            sf.picklist_values.clone()
                        } else {
                            Vec::new()
                        };
                        (t, f, options)
                    }
                },
            }
        };
        plans.push(PropertyPlan {
            name: field.hubspot_property.clone(),
            label: field.salesforce_field.clone(),
            property_type,
            field_type: field_type.to_owned(),
            options,
            has_unique_value: false,
        });
    }
    (plans, skipped)
}

pub async fn ensure(
    backend: &Backend,
    object: &str,
    yes: bool,
    secrets_dir: Option<PathBuf>,
    lookup: sf2hs_shared::settings::Lookup<'_>,
    json: bool,
) -> Result<ExitCode, CliError> {
    let mapping = backend
        .mappings
        .get(object)
        .await?
        .ok_or_else(|| CliError::NoMapping {
            object: object.to_owned(),
        })?
        .mapping;
    let (salesforce, hubspot) =
        super::remote_clients(&LocalSecrets::new(secrets_dir), lookup).await?;
    let describe = salesforce
        .describe(object)
        .await
        .map_err(|e| CliError::caused(format!("reading the describe of {object}: {e}"), e))?;
    let existing = hubspot
        .object_schema(&mapping.hubspot_object)
        .await
        .map_err(setup)?;
    let name = match (&mapping.hubspot_object, &existing) {
        (_, Some(schema)) => schema.name.clone(),
        (HubSpotObjectRef::Name(name), None) => name.clone(),
        (other, None) => {
            return Err(CliError::Setup(format!(
                "HubSpot has no object {other}; to create one, give the mapping a HubSpot object name (hubspot_object = \"{}\")",
                object.trim_end_matches("__c").to_lowercase()
            )));
        }
    };
    let (properties, skipped) = planned_properties(&mapping, &describe);
    let mut request = SchemaRequest::from_salesforce(&name, &describe);
    request.id_property = mapping.id_property.clone();
    request.properties = properties;
    let mut plan = Vec::new();
    if existing.is_none() {
        plan.push(format!("create the custom object {name}"));
    }
    let missing: Vec<String> = std::iter::once(mapping.id_property.clone())
        .chain(request.properties.iter().map(|p| p.name.clone()))
        .filter(|p| existing.as_ref().is_none_or(|s| s.property(p).is_none()))
        .collect();
    for property in &missing {
        plan.push(if *property == mapping.id_property {
            format!("create the unique property {property} (the Salesforce id)")
        } else {
            format!("create the property {property}")
        });
    }
    if !json {
        for line in &skipped {
            eprintln!("skipped: {line}");
        }
    }
    if plan.is_empty() {
        if json {
            output::print_json(&json!({ "object": name, "plan": plan, "written": false }));
        } else {
            out!("HubSpot {name} already has every property the mapping of {object} writes");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !json {
        out!("plan for {object} → HubSpot {name}:");
        for line in &plan {
            out!("  {line}");
        }
    }
    if !yes {
        eprint!("write this to HubSpot? [y/N] ");
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("nothing written (`--yes` writes without asking)");
            return Ok(ExitCode::from(1));
        }
    }
    let outcome = hubspot.ensure_schema(&request).await.map_err(setup)?;
    if json {
        output::print_json(&json!({
            "object": outcome.schema.name,
            "object_type_id": outcome.schema.object_type_id,
            "created_object": outcome.created_object,
            "created_properties": outcome.created_properties,
            "plan": plan,
            "written": true,
        }));
    } else {
        out!(
            "done: {} ({}){}, {} properties created",
            outcome.schema.name,
            outcome.schema.object_type_id,
            if outcome.created_object {
                " created"
            } else {
                ""
            },
            outcome.created_properties.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
