//! `sf2hs health`: failures grouped by object, kind and field, in records (not attempts), with
//! the records still failing and those resolved since. Exit 1 while anything fails, for
//! monitoring scripts. The console's Sync health page shows the same [`Health`].

use std::process::ExitCode;

use chrono::{Duration, Utc};
use sf2hs_shared::health::Health;

use crate::backend::Backend;
use crate::output::{self, CliError};

/// The sync log from `days` ago, grouped.
pub async fn read(backend: &Backend, object: Option<&str>, days: u32) -> Result<Health, CliError> {
    let since = Utc::now() - Duration::days(i64::from(days.max(1)));
    Ok(Health::read(backend.log.as_ref(), object, since).await?)
}

pub async fn health(
    backend: &Backend,
    object: Option<&str>,
    days: u32,
    records: usize,
    json: bool,
) -> Result<ExitCode, CliError> {
    let health = read(backend, object, days).await?;
    let code = if health.is_failing() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    };
    if json {
        output::print_json(&serde_json::to_value(&health).map_err(CliError::failed)?);
        return Ok(code);
    }
    out!(
        "{} record(s) failing, {} resolved, in the sync log of the last {} day(s) ({} entries)",
        health.failing_records,
        health.resolved_records,
        days.max(1),
        health.entries
    );
    for group in &health.groups {
        out!("");
        out!("{}", group.title());
        out!(
            "  {} failing, {} resolved  [{}]",
            group.failing.len(),
            group.resolved.len(),
            group.key()
        );
        if group.failing.is_empty() {
            continue;
        }
        let rows = group
            .failing
            .iter()
            .take(records)
            .map(|r| {
                vec![
                    r.record_id.to_string(),
                    r.outcome.name().to_owned(),
                    r.attempts.to_string(),
                    output::time(Some(r.at)),
                    r.reason.clone(),
                ]
            })
            .collect();
        out!(
            "{}",
            output::table(
                &["record", "outcome", "attempts", "last (UTC)", "reason"],
                rows
            )
        );
        if group.failing.len() > records {
            out!(
                "… and {} more (`sf2hs health --records N`, or `--json`)",
                group.failing.len() - records
            );
        }
    }
    if health.is_failing() {
        out!("");
        out!("`sf2hs errors --record ID` shows a record's history. Fix the cause, then");
        out!("`sf2hs resync OBJECT [ID…]`, or `sf2hs dlq replay` for dead letters.");
    }
    Ok(code)
}

/// Queues a re-read of `records` of `object` (every record of it failing now, when none are
/// given): the worker reads each from Salesforce and writes what it has now.
pub async fn resync(
    backend: &Backend,
    object: &str,
    records: &[String],
    org_id: &sf2hs_shared::domain::SalesforceId,
    json: bool,
) -> Result<ExitCode, CliError> {
    use sf2hs_shared::domain::SalesforceId;

    if backend.mappings.get(object).await?.is_none() {
        return Err(CliError::NoMapping {
            object: object.to_owned(),
        });
    }
    let ids: Vec<SalesforceId> = if records.is_empty() {
        read(backend, Some(object), 30)
            .await?
            .groups
            .iter()
            .flat_map(|g| g.failing.iter().map(|r| r.record_id.clone()))
            .collect()
    } else {
        records
            .iter()
            .map(|r| {
                SalesforceId::parse(r).map_err(|e| {
                    CliError::Setup(format!(
                        "`{r}` is not a Salesforce record id ({e}); give 15- or 18-character ids"
                    ))
                })
            })
            .collect::<Result<_, _>>()?
    };
    let changes = sf2hs_shared::health::resync_changes(org_id, object, &ids, Utc::now());
    backend.queue.send_batch(&changes).await?;
    if json {
        output::print_json(&serde_json::json!({
            "salesforce_object": object,
            "queued": ids.iter().map(SalesforceId::as_str).collect::<Vec<_>>(),
        }));
    } else if ids.is_empty() {
        out!(
            "no {object} record is failing: nothing to resync (name records to resync them anyway)"
        );
    } else {
        out!(
            "queued a resync of {} {object} record(s): each is read from Salesforce and written \
             as it is now (`sf2hs health` shows what is still failing)",
            ids.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
