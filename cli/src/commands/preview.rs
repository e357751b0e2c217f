//! `sf2hs mappings preview`: a dry run. The resolved mapping, and what sample Salesforce records
//! (read from the org, or from a JSON file) become as HubSpot properties and associations.
//! Nothing is written anywhere.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::{Value, json};
use sf2hs_shared::domain::{FieldSnapshot, SalesforceId};
use sf2hs_shared::engine::map_record;
use sf2hs_shared::mapping::{
    AssociationTarget, Mapping, load_files, read_fields, snapshot_for_mapping,
};

use crate::output::{self, CliError};

pub struct PreviewOptions {
    pub object: Option<String>,
    pub sample: usize,
    /// A JSON array of records (REST shape: `Id` and fields); else they are read from Salesforce.
    pub records: Option<PathBuf>,
    pub secrets_dir: Option<PathBuf>,
}

fn target(target: &AssociationTarget) -> String {
    match target {
        AssociationTarget::MappedObject { salesforce_object } => {
            format!("the HubSpot record of mapped {salesforce_object}")
        }
        AssociationTarget::HubSpotObject {
            object,
            id_property,
        } => format!("{object} by {id_property}"),
    }
}

fn describe(mapping: &Mapping) -> Value {
    json!({
        "salesforce_object": mapping.salesforce_object,
        "hubspot_object": mapping.hubspot_object.as_str(),
        "id_property": mapping.id_property,
        "status": mapping.status.name(),
        "on_delete": mapping.on_delete.name(),
        "fields": mapping.fields.iter().map(|f| json!({
            "salesforce_field": f.salesforce_field,
            "hubspot_property": f.hubspot_property,
            "conversion": f.conversion.name(),
        })).collect::<Vec<_>>(),
        "associations": mapping.associations.iter().map(|a| json!({
            "salesforce_field": a.salesforce_field,
            "target": target(&a.target),
        })).collect::<Vec<_>>(),
    })
}

fn read_records(path: &Path) -> Result<Vec<FieldSnapshot>, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::Setup(format!(
            "cannot read the sample records {}: {e}",
            path.display()
        ))
    })?;
    serde_json::from_str::<Vec<FieldSnapshot>>(&text).map_err(|e| {
        CliError::Setup(format!(
            "{} is not a JSON array of records (line {}, column {}): {e}; give objects like \
             {{\"Id\": \"a01…\", \"Name\": \"…\"}}",
            path.display(),
            e.line(),
            e.column()
        ))
    })
}

async fn fetch_records(
    mapping: &Mapping,
    sample: usize,
    secrets_dir: Option<&Path>,
    lookup: sf2hs_shared::settings::Lookup<'_>,
) -> Result<Vec<FieldSnapshot>, CliError> {
    use sf2hs_shared::embedded::LocalSecrets;
    use sf2hs_shared::settings;

    let secrets = LocalSecrets::new(secrets_dir.map(Path::to_path_buf));
    let client = settings::salesforce_client(lookup, std::sync::Arc::new(secrets))
        .await
        .map_err(|e| {
            CliError::Setup(format!(
                "{e}; or preview records from a file with --records FILE"
            ))
        })?;
    let mut fields = vec!["Id".to_owned()];
    fields.extend(read_fields(mapping).into_iter().filter(|f| f != "Id"));
    let soql = format!(
        "SELECT {} FROM {} ORDER BY SystemModstamp DESC LIMIT {sample}",
        fields.join(", "),
        mapping.salesforce_object
    );
    let mut pager = client.query(&soql);
    let page = pager
        .next_page()
        .await
        .map_err(|e| CliError::caused(format!("reading sample records: {e}"), e))?
        .unwrap_or_default();
    Ok(page
        .into_iter()
        .map(|r| snapshot_for_mapping(mapping, r.fields))
        .collect())
}

fn preview_record(mapping: &Mapping, fields: &FieldSnapshot) -> Value {
    let id = fields.get("Id").and_then(Value::as_str).unwrap_or_default();
    let record_id = match SalesforceId::parse(id) {
        Ok(id) => id,
        Err(e) => return json!({ "id": id, "errors": [format!("Id: {e}")] }),
    };
    match map_record(mapping, &record_id, fields, None) {
        Ok(mapped) => json!({
            "id": record_id.as_str(),
            "properties": mapped.properties,
            "associations": mapped.associations.iter().map(|a| json!({
                "salesforce_field": a.salesforce_field,
                "target": target(&a.target),
                "target_record_id": a.target_record_id.as_str(),
            })).collect::<Vec<_>>(),
        }),
        Err(errors) => json!({ "id": record_id.as_str(), "errors": [errors.to_string()] }),
    }
}

pub async fn preview(
    file: &Path,
    options: PreviewOptions,
    lookup: sf2hs_shared::settings::Lookup<'_>,
    json_output: bool,
) -> Result<ExitCode, CliError> {
    let report = load_files(&[file.to_path_buf()]);
    if !report.is_ok() {
        return Ok(super::mappings::validate(
            &[file.to_path_buf()],
            json_output,
        ));
    }
    let mappings: Vec<&Mapping> = report
        .mappings
        .iter()
        .map(|m| &m.mapping)
        .filter(|m| {
            options
                .object
                .as_ref()
                .is_none_or(|o| *o == m.salesforce_object)
        })
        .collect();
    if mappings.is_empty() {
        return Err(CliError::Setup(format!(
            "{} has no mapping for {}",
            file.display(),
            options.object.as_deref().unwrap_or("any object")
        )));
    }
    let from_file = match &options.records {
        Some(path) => Some(read_records(path)?),
        None => None,
    };
    let mut out = Vec::new();
    let mut failures = 0;
    for mapping in mappings {
        let records = match &from_file {
            Some(records) => records
                .iter()
                .filter(|r| {
                    r.get("attributes")
                        .and_then(|a| a.get("type"))
                        .and_then(Value::as_str)
                        .is_none_or(|t| t == mapping.salesforce_object)
                })
                .take(options.sample)
                .map(|r| snapshot_for_mapping(mapping, r.clone()))
                .collect(),
            None => {
                fetch_records(
                    mapping,
                    options.sample,
                    options.secrets_dir.as_deref(),
                    lookup,
                )
                .await?
            }
        };
        let previews: Vec<Value> = records.iter().map(|r| preview_record(mapping, r)).collect();
        failures += previews
            .iter()
            .filter(|p| p.get("errors").is_some())
            .count();
        out.push(json!({ "mapping": describe(mapping), "records": previews }));
    }
    if json_output {
        output::print_json(&json!({ "previews": out, "sent": "nothing" }));
    } else {
        for item in &out {
            print_preview(item);
        }
        out!("(a dry run: nothing was sent to HubSpot)");
    }
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_preview(item: &Value) {
    let mapping = &item["mapping"];
    out!(
        "{} → {} (id property {}, {}, on delete {})",
        mapping["salesforce_object"].as_str().unwrap_or_default(),
        mapping["hubspot_object"].as_str().unwrap_or_default(),
        mapping["id_property"].as_str().unwrap_or_default(),
        mapping["status"].as_str().unwrap_or_default(),
        mapping["on_delete"].as_str().unwrap_or_default()
    );
    for field in mapping["fields"].as_array().into_iter().flatten() {
        out!(
            "  {} → {} ({})",
            field["salesforce_field"].as_str().unwrap_or_default(),
            field["hubspot_property"].as_str().unwrap_or_default(),
            field["conversion"].as_str().unwrap_or_default()
        );
    }
    for association in mapping["associations"].as_array().into_iter().flatten() {
        out!(
            "  {} ⇒ association to {}",
            association["salesforce_field"].as_str().unwrap_or_default(),
            association["target"].as_str().unwrap_or_default()
        );
    }
    for record in item["records"].as_array().into_iter().flatten() {
        out!("  record {}:", record["id"].as_str().unwrap_or_default());
        if let Some(errors) = record["errors"].as_array() {
            for error in errors {
                out!("    error: {}", error.as_str().unwrap_or_default());
            }
            continue;
        }
        for (property, value) in record["properties"].as_object().into_iter().flatten() {
            out!("    {property} = {}", value.as_str().unwrap_or_default());
        }
        for association in record["associations"].as_array().into_iter().flatten() {
            out!(
                "    associate with {} {}",
                association["target"].as_str().unwrap_or_default(),
                association["target_record_id"].as_str().unwrap_or_default()
            );
        }
    }
}
