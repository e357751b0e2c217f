//! `sf2hs mappings …`

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;
use sf2hs_shared::mapping::{MappingStatus, Severity, ValidationReport, load_files};

use crate::backend::Backend;
use crate::output::{self, CliError};

/// `mappings validate`: every problem of every file, then a one-line summary.
pub fn validate(files: &[PathBuf], json: bool) -> ExitCode {
    let report = load_files(files);
    finish(&report, files.len(), json)
}

fn finish(report: &ValidationReport, file_count: usize, json: bool) -> ExitCode {
    print_report(report, file_count, json);
    if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The Salesforce half of live validation from the Salesforce client; the HubSpot half comes
/// from `HubSpotSchemaSource`, which wraps this.
struct SalesforceHalf(sf2hs_shared::salesforce::client::SalesforceClient);

#[async_trait::async_trait]
impl sf2hs_shared::mapping::schema::SchemaSource for SalesforceHalf {
    async fn salesforce_object(
        &self,
        name: &str,
    ) -> Result<
        Option<sf2hs_shared::mapping::schema::SalesforceObjectSchema>,
        sf2hs_shared::mapping::schema::SchemaError,
    > {
        self.0.salesforce_schema(name).await
    }

    async fn hubspot_object(
        &self,
        _object: &sf2hs_shared::mapping::HubSpotObjectRef,
    ) -> Result<
        Option<sf2hs_shared::mapping::schema::HubSpotObjectSchema>,
        sf2hs_shared::mapping::schema::SchemaError,
    > {
        Ok(None)
    }
}

/// `mappings validate` with credentials configured (SF2HS_SALESFORCE_SECRET and
/// SF2HS_HUBSPOT_SECRET): the files' problems, then, when they have none, every problem against
/// the live Salesforce describe and HubSpot schemas.
pub async fn validate_live(
    files: &[PathBuf],
    secrets_dir: Option<PathBuf>,
    lookup: sf2hs_shared::settings::Lookup<'_>,
    json: bool,
) -> ExitCode {
    use sf2hs_shared::embedded::LocalSecrets;
    use sf2hs_shared::settings::vars;

    let mut report = load_files(files);
    let configured =
        lookup(vars::SALESFORCE_SECRET).is_some() && lookup(vars::HUBSPOT_SECRET).is_some();
    if !configured || !report.is_ok() {
        return finish(&report, files.len(), json);
    }
    let secrets = LocalSecrets::new(secrets_dir);
    match super::remote_clients(&secrets, lookup).await {
        Ok((salesforce, hubspot)) => {
            let source = sf2hs_shared::hubspot::HubSpotSchemaSource::new(
                SalesforceHalf(salesforce),
                hubspot,
            );
            let live = sf2hs_shared::mapping::validate_live(&report.mappings, &source).await;
            if !json {
                out!("checked against the live Salesforce and HubSpot schemas");
            }
            report.problems.extend(live);
        }
        Err(e) => {
            eprintln!("error: cannot check against the live schemas: {e}");
            return ExitCode::from(1);
        }
    }
    finish(&report, files.len(), json)
}

fn print_report(report: &ValidationReport, file_count: usize, json: bool) {
    let errors = report
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count();
    let warnings = report.problems.len() - errors;
    if json {
        let problems: Vec<_> = report
            .problems
            .iter()
            .map(|p| {
                json!({
                    "file": p.file,
                    "line": p.line,
                    "severity": if p.severity == Severity::Error { "error" } else { "warning" },
                    "message": p.message,
                    "hint": p.hint,
                })
            })
            .collect();
        let mappings: Vec<_> = report
            .mappings
            .iter()
            .map(|m| {
                json!({
                    "file": m.file,
                    "line": m.line,
                    "salesforce_object": m.mapping.salesforce_object,
                    "hubspot_object": m.mapping.hubspot_object.as_str(),
                    "status": m.mapping.status.name(),
                    "fields": m.mapping.fields.len(),
                    "associations": m.mapping.associations.len(),
                })
            })
            .collect();
        output::print_json(&json!({
            "ok": errors == 0,
            "errors": errors,
            "warnings": warnings,
            "problems": problems,
            "mappings": mappings,
        }));
        return;
    }
    for problem in &report.problems {
        eprintln!("{problem}");
    }
    // Mappings are listed only when they are usable as a whole.
    for m in report.mappings.iter().filter(|_| errors == 0) {
        out!(
            "{}:{}: {} -> HubSpot {} ({}, {} fields, {} associations)",
            m.file,
            m.line,
            m.mapping.salesforce_object,
            m.mapping.hubspot_object,
            m.mapping.status,
            m.mapping.fields.len(),
            m.mapping.associations.len()
        );
    }
    let files_word = if file_count == 1 { "file" } else { "files" };
    if errors == 0 {
        out!(
            "ok: {file_count} {files_word}, {} mappings, {warnings} warnings",
            report.mappings.len()
        );
    } else {
        eprintln!(
            "{errors} errors, {warnings} warnings in {file_count} {files_word}: fix the lines above and run again"
        );
    }
}

/// What `apply` did to one mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Applied {
    Created,
    Updated,
    Unchanged,
}

impl Applied {
    fn name(self) -> &'static str {
        match self {
            Applied::Created => "created",
            Applied::Updated => "updated",
            Applied::Unchanged => "unchanged",
        }
    }
}

/// `mappings apply`: all or nothing at validation; then each mapping is stored with a
/// compare-and-swap on the version read, so a concurrent edit is refused, not overwritten.
pub async fn apply(backend: &Backend, files: &[PathBuf], json: bool) -> Result<ExitCode, CliError> {
    let report = load_files(files);
    if !report.is_ok() {
        print_report(&report, files.len(), json);
        if !json {
            eprintln!("nothing was stored");
        }
        return Ok(ExitCode::from(1));
    }
    for problem in &report.problems {
        eprintln!("{problem}");
    }
    let mut rows = Vec::new();
    for located in &report.mappings {
        let mapping = &located.mapping;
        let current = backend.mappings.get(&mapping.salesforce_object).await?;
        let (applied, version) = match current {
            None => (Applied::Created, backend.mappings.put(mapping, None).await?),
            Some(stored) if &stored.mapping == mapping => (Applied::Unchanged, stored.version),
            Some(stored) => (
                Applied::Updated,
                backend.mappings.put(mapping, Some(stored.version)).await?,
            ),
        };
        rows.push((
            mapping.salesforce_object.clone(),
            mapping.status,
            applied,
            version,
        ));
    }
    if json {
        let applied: Vec<_> = rows
            .iter()
            .map(|(object, status, applied, version)| {
                json!({"salesforce_object": object, "status": status.name(), "applied": applied.name(), "version": version})
            })
            .collect();
        output::print_json(&json!({ "applied": applied }));
    } else {
        let table_rows = rows
            .iter()
            .map(|(object, status, applied, version)| {
                vec![
                    object.clone(),
                    status.name().to_owned(),
                    applied.name().to_owned(),
                    version.to_string(),
                ]
            })
            .collect();
        out!(
            "{}",
            output::table(
                &["Salesforce object", "status", "applied", "version"],
                table_rows
            )
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `mappings list`
pub async fn list(backend: &Backend, json: bool) -> Result<ExitCode, CliError> {
    let stored = backend.mappings.list().await?;
    if json {
        let items: Vec<_> = stored
            .iter()
            .map(|s| {
                json!({
                    "salesforce_object": s.mapping.salesforce_object,
                    "hubspot_object": s.mapping.hubspot_object.as_str(),
                    "status": s.mapping.status.name(),
                    "on_delete": s.mapping.on_delete.name(),
                    "fields": s.mapping.fields.len(),
                    "associations": s.mapping.associations.len(),
                    "version": s.version,
                    "updated_at": s.updated_at,
                })
            })
            .collect();
        output::print_json(&json!({ "mappings": items }));
        return Ok(ExitCode::SUCCESS);
    }
    if stored.is_empty() {
        out!("no mappings stored yet: `sf2hs mappings apply FILE` stores them");
        return Ok(ExitCode::SUCCESS);
    }
    let rows = stored
        .iter()
        .map(|s| {
            vec![
                s.mapping.salesforce_object.clone(),
                s.mapping.hubspot_object.to_string(),
                s.mapping.status.name().to_owned(),
                s.mapping.on_delete.name().to_owned(),
                s.mapping.fields.len().to_string(),
                s.mapping.associations.len().to_string(),
                s.version.to_string(),
                output::time(Some(s.updated_at)),
            ]
        })
        .collect();
    out!(
        "{}",
        output::table(
            &[
                "Salesforce object",
                "HubSpot object",
                "status",
                "on delete",
                "fields",
                "associations",
                "version",
                "updated (UTC)",
            ],
            rows
        )
    );
    Ok(ExitCode::SUCCESS)
}

/// `mappings activate` / `mappings pause`
pub async fn set_status(
    backend: &Backend,
    object: &str,
    status: MappingStatus,
    json: bool,
) -> Result<ExitCode, CliError> {
    let Some(stored) = backend.mappings.get(object).await? else {
        return Err(CliError::NoMapping {
            object: object.to_owned(),
        });
    };
    let previous = stored.mapping.status;
    let version = backend.mappings.set_status(object, status).await?;
    if json {
        output::print_json(&json!({
            "salesforce_object": object,
            "status": status.name(),
            "previous_status": previous.name(),
            "version": version,
        }));
    } else if previous == status {
        out!("{object} was already {status}");
    } else {
        out!("{object}: {previous} -> {status} (version {version})");
    }
    Ok(ExitCode::SUCCESS)
}
