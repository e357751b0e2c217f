//! `sf2hs status` and `sf2hs errors`

use std::process::ExitCode;

use chrono::{Duration, Utc};
use serde_json::json;
use sf2hs_shared::ports::{ImportJob, SyncLogQuery, SyncOutcome};

use crate::backend::Backend;
use crate::output::{self, CliError};

/// Per mapping: state, records in the index, outcomes in the last 24 h, last change; then the
/// queue and dead-letter depth.
pub async fn status(backend: &Backend, json: bool) -> Result<ExitCode, CliError> {
    let since = Utc::now() - Duration::hours(24);
    let mut rows = Vec::new();
    for stored in backend.mappings.list().await? {
        let object = stored.mapping.salesforce_object.clone();
        let records = backend.index.count(&object).await?;
        let counts = backend.log.counts(&object, since).await?;
        // Records, not attempts: a record retried five times counts once, and one synced
        // since is no longer failing.
        let health =
            sf2hs_shared::health::Health::read(backend.log.as_ref(), Some(&object), since).await?;
        let failures = (
            health.failing_records + health.resolved_records,
            health.failing_records,
        );
        let last = backend
            .log
            .query(&SyncLogQuery {
                salesforce_object: Some(object.clone()),
                limit: 1,
                ..SyncLogQuery::default()
            })
            .await?
            .into_iter()
            .next()
            .map(|e| e.at);
        rows.push((
            stored.mapping.status,
            object,
            records,
            counts,
            failures,
            last,
        ));
    }
    let mut depths = Vec::new();
    for named in &backend.queues {
        depths.push((named.name.clone(), named.queue.depth().await?));
    }
    // Re-syncs Salesforce asked for (a CDC gap overflow), until they are done.
    let resyncs: Vec<_> = backend
        .jobs
        .list()
        .await?
        .into_iter()
        .filter(ImportJob::is_open_resync)
        .collect();
    if json {
        let mappings: Vec<_> = rows
            .iter()
            .map(
                |(state, object, records, counts, (failed, failing), last)| {
                    json!({
                        "salesforce_object": object,
                        "status": state.name(),
                        "records": records,
                        "synced_24h": counts.synced,
                        "skipped_24h": counts.skipped,
                        // Distinct records that failed in 24 h, and of them those still failing.
                        "failed_24h": failed,
                        "failing_now": failing,
                        "last_change": last,
                    })
                },
            )
            .collect();
        let queues: Vec<_> = depths
            .iter()
            .map(|(name, depth)| {
                json!({
                    "name": name,
                    "visible": depth.visible,
                    "in_flight": depth.in_flight,
                    "delayed": depth.delayed,
                    "dead": depth.dead,
                })
            })
            .collect();
        // `queue` is the live queue, as before there was more than one.
        let resyncs: Vec<_> = resyncs
            .iter()
            .map(|j| {
                json!({
                    "id": j.id,
                    "salesforce_object": j.salesforce_object,
                    "since": j.since,
                    "enqueued": j.enqueued,
                })
            })
            .collect();
        output::print_json(&json!({
            "mappings": mappings,
            "queue": queues.first(),
            "queues": queues,
            "resyncs": resyncs,
        }));
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        out!("no mappings stored yet: `sf2hs mappings apply FILE` stores them");
    } else {
        let table_rows = rows
            .iter()
            .map(
                |(state, object, records, counts, (failed, failing), last)| {
                    vec![
                        object.clone(),
                        state.name().to_owned(),
                        records.to_string(),
                        counts.synced.to_string(),
                        failed.to_string(),
                        failing.to_string(),
                        output::time(*last),
                    ]
                },
            )
            .collect();
        out!(
            "{}",
            output::table(
                &[
                    "Salesforce object",
                    "status",
                    "records",
                    "synced 24h",
                    "records failed 24h",
                    "still failing",
                    "last change (UTC)",
                ],
                table_rows
            )
        );
    }
    for job in &resyncs {
        out!(
            "re-sync of {} from {} (Salesforce lost its change events): {} record(s) sent; \
             `sf2hs import status {}`",
            job.salesforce_object,
            output::time(job.since),
            job.enqueued,
            job.id
        );
    }
    for (name, depth) in &depths {
        out!(
            "{name}: {} waiting, {} in flight, {} delayed; dead letters: {}{}",
            depth.visible,
            depth.in_flight,
            depth.delayed,
            depth.dead,
            if depth.dead > 0 {
                " (`sf2hs dlq list` shows why; `sf2hs dlq replay` retries them)"
            } else {
                ""
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Recent failures, newest first: one line per record (its newest failure, with how many failed
/// tries the log holds), not one per retry.
pub async fn errors(
    backend: &Backend,
    object: Option<&str>,
    limit: usize,
    json: bool,
) -> Result<ExitCode, CliError> {
    let entries = backend
        .log
        .query(&SyncLogQuery {
            salesforce_object: object.map(str::to_owned),
            outcomes: vec![SyncOutcome::Failed, SyncOutcome::DeadLettered],
            // Each record's tries, within reason: enough to find `limit` records.
            limit: limit.max(1).saturating_mul(20),
            ..SyncLogQuery::default()
        })
        .await?;
    // Newest first already: the first entry of a record is its newest failure.
    let mut seen: std::collections::HashMap<(String, String), usize> =
        std::collections::HashMap::new();
    let mut newest: Vec<&sf2hs_shared::ports::SyncLogEntry> = Vec::new();
    for entry in &entries {
        let key = (
            entry.salesforce_object.clone(),
            entry.record_id.as_str().to_owned(),
        );
        let count = seen.entry(key).or_insert(0);
        if *count == 0 && newest.len() < limit.max(1) {
            newest.push(entry);
        }
        *count += 1;
    }
    let attempts = |e: &sf2hs_shared::ports::SyncLogEntry| {
        seen.get(&(e.salesforce_object.clone(), e.record_id.as_str().to_owned()))
            .copied()
            .unwrap_or(1)
    };
    if json {
        let items: Vec<_> = newest
            .iter()
            .map(|e| {
                let mut item = entry_json(e);
                item["attempts"] = json!(attempts(e));
                item
            })
            .collect();
        output::print_json(&json!({ "errors": items }));
        return Ok(ExitCode::SUCCESS);
    }
    if newest.is_empty() {
        out!("no sync failures recorded");
        return Ok(ExitCode::SUCCESS);
    }
    let rows = newest
        .iter()
        .map(|e| {
            vec![
                output::time(Some(e.at)),
                e.salesforce_object.clone(),
                e.record_id.to_string(),
                e.outcome.name().to_owned(),
                attempts(e).to_string(),
                e.reason.clone().unwrap_or_default(),
            ]
        })
        .collect();
    out!(
        "{}",
        output::table(
            &["at (UTC)", "object", "record", "outcome", "tries", "reason"],
            rows
        )
    );
    out!(
        "`sf2hs health` groups them and says which were resolved; `sf2hs errors --record ID` shows one record's history"
    );
    Ok(ExitCode::SUCCESS)
}

/// One record: what was last written to HubSpot for it (its record index entry) and its
/// failures in the sync log, newest first. Successes are kept per batch, not per record.
pub async fn record_history(
    backend: &Backend,
    record: &str,
    json: bool,
) -> Result<ExitCode, CliError> {
    let id = sf2hs_shared::domain::SalesforceId::parse(record).map_err(|e| {
        CliError::Setup(format!(
            "`{record}` is not a Salesforce record id ({e}); give the 15- or 18-character id"
        ))
    })?;
    let found = sf2hs_shared::record_history::find(
        backend.mappings.as_ref(),
        backend.log.as_ref(),
        backend.index.as_ref(),
        &id,
    )
    .await?;
    if json {
        let (object, written, items) = match &found {
            None => (None, None, Vec::new()),
            Some(found) => (
                Some(found.salesforce_object.clone()),
                found.index.as_ref().map(|entry| {
                    json!({
                        "hubspot_id": entry.hubspot_id,
                        "modstamp": entry.modstamp,
                        "deleted": entry.deleted,
                    })
                }),
                found.failures.iter().map(entry_json).collect::<Vec<_>>(),
            ),
        };
        output::print_json(&json!({
            "record_id": id.as_str(),
            "salesforce_object": object,
            "last_written": written,
            "history": items,
        }));
        return Ok(ExitCode::SUCCESS);
    }
    let Some(found) = found else {
        out!(
            "sf2hs knows nothing of {id}: no failure in the sync log's retention and no record \
             index entry under a mapped object (check the id, `sf2hs status` for the queue, \
             `sf2hs dlq list`)"
        );
        return Ok(ExitCode::SUCCESS);
    };
    match &found.index {
        Some(entry) => out!(
            "{} {id}: last written to HubSpot as {} (Salesforce state of {}){}",
            found.salesforce_object,
            entry.hubspot_id.as_deref().map_or_else(
                || "a record whose id is not known yet".to_owned(),
                |h| format!("record {h}")
            ),
            output::time(Some(entry.modstamp)),
            if entry.deleted { ", deleted" } else { "" }
        ),
        None => out!("{} {id}: never written to HubSpot", found.salesforce_object),
    }
    if found.failures.is_empty() {
        out!("no failure in the sync log's retention");
        return Ok(ExitCode::SUCCESS);
    }
    let rows = found
        .failures
        .iter()
        .map(|e| {
            vec![
                output::time(Some(e.at)),
                e.outcome.name().to_owned(),
                e.reason.clone().unwrap_or_default(),
            ]
        })
        .collect();
    out!("{} failure(s), newest first", found.failures.len());
    out!(
        "{}",
        output::table(&["at (UTC)", "outcome", "reason"], rows)
    );
    Ok(ExitCode::SUCCESS)
}

/// One sync-log entry as `--json` prints it.
fn entry_json(e: &sf2hs_shared::ports::SyncLogEntry) -> serde_json::Value {
    json!({
        "at": e.at,
        "salesforce_object": e.salesforce_object,
        "record_id": e.record_id.as_str(),
        "outcome": e.outcome.name(),
        "reason": e.reason,
        "hubspot_id": e.hubspot_id,
    })
}
