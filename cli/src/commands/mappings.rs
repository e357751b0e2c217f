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

/// The live Salesforce describe and HubSpot schemas, from the configured credentials.
type LiveSchemas =
    sf2hs_shared::hubspot::HubSpotSchemaSource<sf2hs_shared::salesforce::client::SalesforceClient>;

async fn live_schemas(
    secrets_dir: Option<PathBuf>,
    lookup: sf2hs_shared::settings::Lookup<'_>,
) -> Result<LiveSchemas, CliError> {
    let secrets = sf2hs_shared::embedded::LocalSecrets::new(secrets_dir);
    let (salesforce, hubspot) = super::remote_clients(&secrets, lookup).await?;
    Ok(sf2hs_shared::hubspot::HubSpotSchemaSource::new(
        salesforce, hubspot,
    ))
}

/// What `apply` and `activate` need besides the store: where the credentials are.
pub struct Live<'a> {
    pub secrets_dir: Option<PathBuf>,
    pub lookup: sf2hs_shared::settings::Lookup<'a>,
    /// Store (or activate) despite blocking errors of the live check (`--force`).
    pub force: bool,
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
    use sf2hs_shared::settings::vars;

    let mut report = load_files(files);
    let configured =
        lookup(vars::SALESFORCE_SECRET).is_some() && lookup(vars::HUBSPOT_SECRET).is_some();
    if !configured && report.is_ok() {
        // On stderr, so that `--json` output stays one document.
        eprintln!(
            "live checks skipped: set {} and {} (`salesforce_secret`, `hubspot_secret` in \
             sf2hs.toml) naming secrets with their values (SF2HS_SECRET_<NAME> or a file in \
             --secrets-dir) to check the mappings against the live Salesforce describe and \
             HubSpot schemas, as `mappings apply` does",
            vars::SALESFORCE_SECRET,
            vars::HUBSPOT_SECRET
        );
    }
    if !configured || !report.is_ok() {
        return finish(&report, files.len(), json);
    }
    match live_schemas(secrets_dir, lookup).await {
        Ok(source) => {
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

/// `mappings apply`: all or nothing at validation, against the files and then the live
/// Salesforce describe and HubSpot schemas; each mapping is stored with what the live check
/// resolved (the HubSpot objectTypeId, each field's conversion), with a compare-and-swap on the
/// version read, so a concurrent edit is refused, not overwritten.
pub async fn apply(
    backend: &Backend,
    files: &[PathBuf],
    live: Live<'_>,
    json: bool,
) -> Result<ExitCode, CliError> {
    let mut report = load_files(files);
    if !report.is_ok() {
        print_report(&report, files.len(), json);
        if !json {
            eprintln!("nothing was stored");
        }
        return Ok(ExitCode::from(1));
    }
    let schemas = live_schemas(live.secrets_dir, live.lookup)
        .await
        .map_err(|e| {
            CliError::Setup(format!(
                "mappings apply checks the mappings against the live Salesforce and HubSpot \
                 schemas and stores what it resolves (the HubSpot objectTypeId, each field's \
                 conversion), so it needs both connections: {e}"
            ))
        })?;
    let checked = sf2hs_shared::mapping::check_live(&report.mappings, &schemas).await;
    report.problems.extend(checked.problems);
    if !report.is_ok() && !live.force {
        print_report(&report, files.len(), json);
        if !json {
            eprintln!(
                "nothing was stored (`--force` stores them anyway; their records then fail with \
                 these reasons)"
            );
        }
        return Ok(ExitCode::from(1));
    }
    if !report.is_ok() {
        eprintln!("stored despite the live check's errors (--force):");
    }
    for problem in &report.problems {
        eprintln!("{problem}");
    }
    let rows = sf2hs_shared::activation::store_checked(
        backend.mappings.as_ref(),
        &report.mappings,
        checked.resolved,
    )
    .await?;
    if json {
        let applied: Vec<_> = rows
            .iter()
            .map(|row| {
                json!({
                    "salesforce_object": row.object,
                    "status": row.status.name(),
                    "applied": row.stored.name(),
                    "version": row.version,
                    "object_type_id": row.object_type_id,
                })
            })
            .collect();
        output::print_json(&json!({ "applied": applied }));
    } else {
        let table_rows = rows
            .iter()
            .map(|row| {
                vec![
                    row.object.clone(),
                    row.status.name().to_owned(),
                    row.stored.name().to_owned(),
                    row.version.to_string(),
                    row.object_type_id
                        .clone()
                        .unwrap_or_else(|| "not yet (activation resolves it)".into()),
                ]
            })
            .collect();
        out!(
            "{}",
            output::table(
                &[
                    "Salesforce object",
                    "status",
                    "applied",
                    "version",
                    "HubSpot objectTypeId"
                ],
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

/// `mappings pause`: changes park in the dead-letter queue until activation.
pub async fn pause(backend: &Backend, object: &str, json: bool) -> Result<ExitCode, CliError> {
    let Some(stored) = backend.mappings.get(object).await? else {
        return Err(CliError::NoMapping {
            object: object.to_owned(),
        });
    };
    let previous = stored.mapping.status;
    let version = backend
        .mappings
        .set_status(object, MappingStatus::Paused)
        .await?;
    report_status(object, previous, MappingStatus::Paused, version, None, json);
    Ok(ExitCode::SUCCESS)
}

/// `mappings activate`: the stored mapping is checked against the live schemas again (its
/// HubSpot object may have been made since it was applied, or changed), stored active with what
/// that resolved, and the changes parked while it was paused are replayed.
pub async fn activate(
    backend: &Backend,
    object: &str,
    live: Live<'_>,
    json: bool,
) -> Result<ExitCode, CliError> {
    use sf2hs_shared::activation::{Activation, ActivationError};

    if backend.mappings.get(object).await?.is_none() {
        return Err(CliError::NoMapping {
            object: object.to_owned(),
        });
    }
    let schemas = live_schemas(live.secrets_dir, live.lookup)
        .await
        .map_err(|e| {
            CliError::Setup(format!(
                "mappings activate checks the mapping against the live Salesforce and HubSpot \
                 schemas first, so it needs both connections: {e}"
            ))
        })?;
    let queues: Vec<&dyn sf2hs_shared::ports::ChangeQueue> =
        backend.queues.iter().map(|q| q.queue.as_ref()).collect();
    let activation = sf2hs_shared::activation::activate(
        backend.mappings.as_ref(),
        &queues,
        &schemas,
        object,
        live.force,
    )
    .await
    .map_err(|e| match e {
        ActivationError::NoMapping(object) => CliError::NoMapping { object },
        ActivationError::Store(e) => CliError::Store(e),
    })?;
    match activation {
        Activation::Refused { previous, problems } => {
            let report = ValidationReport {
                problems,
                mappings: Vec::new(),
            };
            print_report(&report, 0, json);
            eprintln!(
                "{object} stays {previous}: fix the mapping file or HubSpot, `sf2hs mappings apply` \
                 it, then activate again (`--force` activates it anyway)"
            );
            Ok(ExitCode::from(1))
        }
        Activation::Done {
            previous,
            version,
            replayed,
            problems,
        } => {
            if problems.iter().any(|p| p.severity == Severity::Error) {
                eprintln!("activated despite the live check's errors (--force):");
            }
            for problem in &problems {
                eprintln!("{problem}");
            }
            report_status(
                object,
                previous,
                MappingStatus::Active,
                version,
                Some(replayed),
                json,
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn report_status(
    object: &str,
    previous: MappingStatus,
    status: MappingStatus,
    version: u64,
    replayed: Option<u64>,
    json: bool,
) {
    if json {
        output::print_json(&json!({
            "salesforce_object": object,
            "status": status.name(),
            "previous_status": previous.name(),
            "version": version,
            "replayed": replayed,
        }));
        return;
    }
    if previous == status {
        out!("{object} was already {status} (version {version})");
    } else {
        out!("{object}: {previous} -> {status} (version {version})");
    }
    if let Some(replayed) = replayed {
        out!("{replayed} changes parked while it was paused put back on the queue");
    }
}
