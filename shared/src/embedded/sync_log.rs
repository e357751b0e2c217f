//! The sync log: an append-only table, pruned to a retention window as it grows.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter};

use super::{EmbeddedStore, SqlContext, from_nanos, immediate, sql_limit, to_nanos, to_u64};
use crate::domain::SalesforceId;
use crate::ports::{
    OutcomeCounts, PortError, PortResult, SyncLog, SyncLogEntry, SyncLogQuery, SyncOutcome,
};

/// How long entries are kept unless the adapter is built with another retention.
pub const DEFAULT_SYNC_LOG_RETENTION: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// How often `append` prunes: pruning is a range delete on an index, cheap but not free, and the
/// log does not need to be trimmed to the second.
const PRUNE_INTERVAL: Duration = Duration::from_secs(60);

/// [`SyncLog`] on the embedded SQLite database, keeping entries for `retention`.
#[derive(Debug, Clone)]
pub struct SqliteSyncLog {
    store: EmbeddedStore,
    retention: Duration,
    /// When `append` last pruned; `None` until the first append of this adapter.
    last_pruned: Arc<Mutex<Option<Instant>>>,
}

impl SqliteSyncLog {
    /// Entries whose `at` is older than `retention` are dropped as new ones are appended.
    pub fn new(store: EmbeddedStore, retention: Duration) -> Self {
        SqliteSyncLog {
            store,
            retention,
            last_pruned: Arc::new(Mutex::new(None)),
        }
    }

    pub fn retention(&self) -> Duration {
        self.retention
    }

    /// Whether this append should prune; claims the slot so that concurrent appends do not all
    /// prune at once.
    fn claim_prune(&self) -> bool {
        let mut last = self
            .last_pruned
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let due = last.is_none_or(|at| at.elapsed() >= PRUNE_INTERVAL);
        if due {
            *last = Some(Instant::now());
        }
        due
    }

    /// The oldest `at` kept when pruning now.
    fn retention_cutoff(&self) -> PortResult<i64> {
        let retention = chrono::Duration::from_std(self.retention).unwrap_or(chrono::Duration::MAX);
        let cutoff = Utc::now()
            .checked_sub_signed(retention)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        // Before 1677 nothing is stored anyway.
        Ok(cutoff.timestamp_nanos_opt().unwrap_or(i64::MIN))
    }
}

fn decode_entry(
    seq: i64,
    at: i64,
    salesforce_object: String,
    record_id: String,
    outcome: String,
    reason: Option<String>,
    hubspot_id: Option<String>,
) -> PortResult<SyncLogEntry> {
    let corrupt = |reason: String| PortError::Corrupt {
        what: format!("sync log entry {seq} (row sync_log/{seq})"),
        reason,
    };
    let record_id = SalesforceId::parse(&record_id).map_err(|e| corrupt(e.to_string()))?;
    let outcome = SyncOutcome::from_name(&outcome)
        .ok_or_else(|| corrupt(format!("unknown outcome `{outcome}`")))?;
    Ok(SyncLogEntry {
        at: from_nanos(at),
        salesforce_object,
        record_id,
        outcome,
        reason,
        hubspot_id,
    })
}

#[async_trait]
impl SyncLog for SqliteSyncLog {
    async fn append(&self, entries: &[SyncLogEntry]) -> PortResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let rows = entries
            .iter()
            .map(|e| Ok((to_nanos(e.at, "sync log time")?, e.clone())))
            .collect::<PortResult<Vec<_>>>()?;
        let prune_before = if self.claim_prune() {
            Some(self.retention_cutoff()?)
        } else {
            None
        };
        self.store
            .call("appending to the sync log", move |connection| {
                let context = "appending to the sync log";
                let tx = immediate(connection, context)?;
                {
                    let mut insert = tx
                        .prepare_cached(
                            "INSERT INTO sync_log
                                 (at, salesforce_object, record_id, outcome, reason, hubspot_id)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        )
                        .context(context)?;
                    for (at, entry) in &rows {
                        insert
                            .execute(params![
                                at,
                                entry.salesforce_object,
                                entry.record_id.as_str(),
                                entry.outcome.name(),
                                entry.reason,
                                entry.hubspot_id
                            ])
                            .context(context)?;
                    }
                }
                if let Some(before) = prune_before {
                    tx.execute("DELETE FROM sync_log WHERE at < ?1", [before])
                        .context("pruning the sync log")?;
                }
                tx.commit().context(context)
            })
            .await
    }

    async fn query(&self, query: &SyncLogQuery) -> PortResult<Vec<SyncLogEntry>> {
        let mut conditions: Vec<String> = Vec::new();
        let mut values: Vec<Value> = Vec::new();
        if let Some(object) = &query.salesforce_object {
            values.push(Value::Text(object.clone()));
            conditions.push(format!("salesforce_object = ?{}", values.len()));
        }
        if let Some(record_id) = &query.record_id {
            values.push(Value::Text(record_id.as_str().to_owned()));
            conditions.push(format!("record_id = ?{}", values.len()));
        }
        // A record's query reads its failures only (the port's promise, as on DynamoDB).
        let outcomes = query.readable_outcomes();
        if outcomes.is_empty() {
            return Ok(Vec::new());
        }
        if !query.outcomes.is_empty() || query.record_id.is_some() {
            let mut placeholders = Vec::new();
            for outcome in &outcomes {
                values.push(Value::Text(outcome.name().to_owned()));
                placeholders.push(format!("?{}", values.len()));
            }
            conditions.push(format!("outcome IN ({})", placeholders.join(", ")));
        }
        if let Some(since) = query.since {
            values.push(Value::Integer(to_nanos(since, "since")?));
            conditions.push(format!("at >= ?{}", values.len()));
        }
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        // `limit: 0` means no limit (see `SyncLogQuery::limit`).
        let limit = if query.limit == 0 {
            -1
        } else {
            sql_limit(query.limit)
        };
        values.push(Value::Integer(limit));
        let sql = format!(
            "SELECT seq, at, salesforce_object, record_id, outcome, reason, hubspot_id
             FROM sync_log {filter} ORDER BY at DESC, seq DESC LIMIT ?{}",
            values.len()
        );
        self.store
            .call("querying the sync log", move |connection| {
                let context = "querying the sync log";
                let mut statement = connection.prepare(&sql).context(context)?;
                let rows = statement
                    .query_map(params_from_iter(values), |row| {
                        Ok((
                            row.get(0)?,
                            row.get(1)?,
                            row.get(2)?,
                            row.get(3)?,
                            row.get(4)?,
                            row.get(5)?,
                            row.get(6)?,
                        ))
                    })
                    .context(context)?;
                let mut entries = Vec::new();
                for row in rows {
                    let (seq, at, object, record_id, outcome, reason, hubspot_id) =
                        row.context(context)?;
                    entries.push(decode_entry(
                        seq, at, object, record_id, outcome, reason, hubspot_id,
                    )?);
                }
                Ok(entries)
            })
            .await
    }

    async fn counts(
        &self,
        salesforce_object: &str,
        since: DateTime<Utc>,
    ) -> PortResult<OutcomeCounts> {
        let object = salesforce_object.to_owned();
        let since = to_nanos(since, "since")?;
        self.store
            .call("counting the sync log", move |connection| {
                let context = format!("the sync log counts of {object}");
                let mut statement = connection
                    .prepare(
                        "SELECT outcome, COUNT(*) FROM sync_log
                         WHERE salesforce_object = ?1 AND at >= ?2 GROUP BY outcome",
                    )
                    .context(&context)?;
                let rows = statement
                    .query_map(params![object, since], |row| {
                        Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
                    })
                    .context(&context)?;
                let mut counts = OutcomeCounts::default();
                for row in rows {
                    let (outcome, count) = row.context(&context)?;
                    let count = to_u64(count, &context)?;
                    match SyncOutcome::from_name(&outcome) {
                        Some(SyncOutcome::Synced) => counts.synced = count,
                        Some(SyncOutcome::Skipped) => counts.skipped = count,
                        Some(SyncOutcome::Failed) => counts.failed = count,
                        Some(SyncOutcome::DeadLettered) => counts.dead_lettered = count,
                        None => {
                            return Err(PortError::Corrupt {
                                what: context,
                                reason: format!("unknown outcome `{outcome}` in the sync log"),
                            });
                        }
                    }
                }
                Ok(counts)
            })
            .await
    }

    async fn expire(&self, before: DateTime<Utc>) -> PortResult<u64> {
        let before = to_nanos(before, "expiry time")?;
        self.store
            .call("expiring the sync log", move |connection| {
                let removed = connection
                    .execute("DELETE FROM sync_log WHERE at < ?1", [before])
                    .context("expiring the sync log")?;
                Ok(removed as u64)
            })
            .await
    }
}
