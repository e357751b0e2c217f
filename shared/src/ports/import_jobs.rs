use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::PortResult;

/// One backfill of one mapped object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportJob {
    pub id: String,
    pub salesforce_object: String,
    pub status: ImportStatus,
    /// Records Salesforce counted before the start (for the operator's review).
    pub total: Option<u64>,
    pub enqueued: u64,
    pub synced: u64,
    pub failed: u64,
    /// Where to resume: an opaque position (a query locator, a modstamp/id pair…).
    pub cursor: Option<String>,
    /// Live changes after this instant win over imported states.
    pub cutoff: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Why the job failed, when it did.
    pub error: Option<String>,
    /// A re-sync Salesforce asked for (a CDC gap overflow, wildcard ids): the records changed
    /// at or after this instant, deletes included. `None`: a full import.
    pub since: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    /// Created and counted; waits for the operator to start it.
    Pending,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl ImportJob {
    /// A re-sync Salesforce asked for that is not finished yet.
    pub fn is_open_resync(&self) -> bool {
        self.since.is_some() && !self.status.is_finished()
    }
}

impl ImportStatus {
    pub fn name(self) -> &'static str {
        match self {
            ImportStatus::Pending => "pending",
            ImportStatus::Running => "running",
            ImportStatus::Completed => "completed",
            ImportStatus::Failed => "failed",
            ImportStatus::Cancelled => "cancelled",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [
            ImportStatus::Pending,
            ImportStatus::Running,
            ImportStatus::Completed,
            ImportStatus::Failed,
            ImportStatus::Cancelled,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }

    pub fn is_finished(self) -> bool {
        matches!(
            self,
            ImportStatus::Completed | ImportStatus::Failed | ImportStatus::Cancelled
        )
    }
}

/// Counter increments; added atomically so concurrent workers do not lose counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub enqueued: u64,
    pub synced: u64,
    pub failed: u64,
}

/// Import jobs: create, checkpoint, count, finish, list.
#[async_trait]
pub trait ImportJobs: Send + Sync {
    /// Creates a pending job and returns it.
    async fn create(
        &self,
        salesforce_object: &str,
        total: Option<u64>,
        cutoff: DateTime<Utc>,
    ) -> PortResult<ImportJob>;

    /// Creates a running re-sync of the records of `salesforce_object` changed from `since` to
    /// `cutoff`, deletes included, and returns it. Salesforce asked for it (platform-behaviours
    /// S4), so it runs without an operator's start.
    async fn create_resync(
        &self,
        salesforce_object: &str,
        since: DateTime<Utc>,
        cutoff: DateTime<Utc>,
    ) -> PortResult<ImportJob>;

    async fn get(&self, id: &str) -> PortResult<Option<ImportJob>>;

    /// Newest first.
    async fn list(&self) -> PortResult<Vec<ImportJob>>;

    /// Marks a pending job running (a no-op on a running one). `NotFound` for an unknown id;
    /// `Invalid` for a finished job (a finished import is not restarted: create a new one).
    async fn start(&self, id: &str) -> PortResult<ImportJob>;

    /// Saves the resume position together with the counts of the page just enqueued, atomically:
    /// a resume never enqueues a page twice nor skips one.
    async fn checkpoint(&self, id: &str, cursor: &str, counts: ImportCounts) -> PortResult<()>;

    /// Adds to the counters (the worker reports synced and failed records).
    async fn add_counts(&self, id: &str, counts: ImportCounts) -> PortResult<()>;

    /// Ends the job with a final status and, for failures, the reason; sets `finished_at`.
    /// `Invalid` when `status` is not a final one (`ImportStatus::is_finished`).
    ///
    /// `checkpoint`, `add_counts` and `finish` fail with `NotFound` for an unknown id.
    async fn finish(&self, id: &str, status: ImportStatus, error: Option<&str>) -> PortResult<()>;
}
