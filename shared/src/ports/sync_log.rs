use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::PortResult;
use crate::domain::SalesforceId;

/// The outcome of one record's trip through the worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncLogEntry {
    pub at: DateTime<Utc>,
    pub salesforce_object: String,
    pub record_id: SalesforceId,
    pub outcome: SyncOutcome,
    /// For failures: which field, which value, what to do.
    pub reason: Option<String>,
    pub hubspot_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncOutcome {
    /// Written to HubSpot (created, updated, archived or restored).
    Synced,
    /// Nothing to write: unchanged content, an older state, or a `keep` delete.
    Skipped,
    /// Failed this time; will be retried.
    Failed,
    /// Failed for good and moved to the dead-letter queue.
    DeadLettered,
}

impl SyncOutcome {
    /// Every outcome.
    pub const ALL: [SyncOutcome; 4] = [
        SyncOutcome::Synced,
        SyncOutcome::Skipped,
        SyncOutcome::Failed,
        SyncOutcome::DeadLettered,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SyncOutcome::Synced => "synced",
            SyncOutcome::Skipped => "skipped",
            SyncOutcome::Failed => "failed",
            SyncOutcome::DeadLettered => "dead_lettered",
        }
    }

    /// Failed or dead-lettered: the outcomes the log keeps per record.
    pub fn is_failure(self) -> bool {
        matches!(self, SyncOutcome::Failed | SyncOutcome::DeadLettered)
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// Which entries to read back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncLogQuery {
    pub salesforce_object: Option<String>,
    /// One record's failures and dead letters only: the log keeps those per record, and a
    /// record's successes only within their batch, so that a change costs one write (the record
    /// index entry says what was last written for a record). Synced and skipped outcomes of one
    /// record are never returned.
    pub record_id: Option<SalesforceId>,
    /// Only these outcomes; empty means all.
    pub outcomes: Vec<SyncOutcome>,
    /// Only entries at or after this instant (inclusive).
    pub since: Option<DateTime<Utc>>,
    /// At most this many, newest first; 0 means no limit (so `..Default::default()` reads all).
    pub limit: usize,
}

impl SyncLogQuery {
    /// The outcomes this query can return: those asked for (all when none are), and for one
    /// record's query only its failures. Empty when nothing can match.
    pub fn readable_outcomes(&self) -> Vec<SyncOutcome> {
        let asked: Vec<SyncOutcome> = if self.outcomes.is_empty() {
            SyncOutcome::ALL.to_vec()
        } else {
            self.outcomes.clone()
        };
        asked
            .into_iter()
            .filter(|o| self.record_id.is_none() || o.is_failure())
            .collect()
    }
}

/// Per-object counts since a point in time, for `status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutcomeCounts {
    pub synced: u64,
    pub skipped: u64,
    pub failed: u64,
    pub dead_lettered: u64,
}

/// The sync log, with bounded retention: every outcome by object and time, failures also by
/// record.
#[async_trait]
pub trait SyncLog: Send + Sync {
    async fn append(&self, entries: &[SyncLogEntry]) -> PortResult<()>;

    /// Entries matching the query, newest first.
    async fn query(&self, query: &SyncLogQuery) -> PortResult<Vec<SyncLogEntry>>;

    /// Counts per outcome of one object's entries at or after `since`.
    async fn counts(
        &self,
        salesforce_object: &str,
        since: DateTime<Utc>,
    ) -> PortResult<OutcomeCounts>;

    /// Drops entries older than `before` (strictly: an entry at `before` stays); returns how many
    /// went. (DynamoDB does this with TTL.)
    async fn expire(&self, before: DateTime<Utc>) -> PortResult<u64>;
}
