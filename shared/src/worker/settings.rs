//! How the worker retries, waits and batches.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Deliveries of a message before a failure is final (the queue's redrive count).
    pub max_receives: u32,
    /// Wait before a failed change is tried again.
    pub retry_delay: Duration,
    /// First wait before an association whose target is not in HubSpot yet is tried again;
    /// later waits grow with the time already waited, up to SQS's 15-minute delay.
    pub association_retry_delay: Duration,
    /// How long a change may wait for its association targets, from when ingest received it,
    /// before it is dead-lettered with the reason.
    pub association_max_wait: Duration,
    /// How long the local pipeline's workers keep a batch hidden from each other: a batch cut
    /// short by a crash comes back after it. On AWS the queue's `VisibilityTimeout` decides.
    pub local_visibility: Duration,
    /// How long a local worker's batch gathers changes before it is written, unless it fills
    /// first (the deployed counterpart is the event source's `MaximumBatchingWindowInSeconds`).
    pub local_batch_window: Duration,
    /// How many of a batch's record-index writes are in flight at once (each is one
    /// conditional write); lower it for a DynamoDB table with little provisioned capacity.
    pub index_writes_in_flight: usize,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            max_receives: 5,
            retry_delay: Duration::from_secs(30),
            association_retry_delay: Duration::from_secs(60),
            local_visibility: Duration::from_secs(120),
            // A trickle then costs HubSpot calls of many records, not one each: 250 ms had the
            // lowest p99 at 100 and 1,000 changes/s (docs/benchmarks.md).
            local_batch_window: Duration::from_millis(250),
            index_writes_in_flight: INDEX_WRITES_IN_FLIGHT,
            association_max_wait: Duration::from_secs(24 * 3600),
        }
    }
}

/// How many index writes a batch keeps in flight by default. Each is one conditional request;
/// on DynamoDB a hundred of them one after another are most of a batch's wait.
pub const INDEX_WRITES_IN_FLIGHT: usize = 16;

/// The longest delay SQS takes on a message (`DelaySeconds`).
pub(super) const MAX_QUEUE_DELAY: Duration = Duration::from_secs(900);
