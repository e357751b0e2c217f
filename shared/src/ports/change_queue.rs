use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{PortError, PortResult};
use crate::domain::{Change, ChangeKind, FieldSnapshot, RereadReason};

/// The largest message body a change queue takes (256 KiB): SQS's classic limit, which every
/// queue accepts whatever its `MaximumMessageSize` (platform-behaviours.md A1). The embedded
/// queue keeps the same limit, so what passes locally passes on AWS.
pub const MAX_MESSAGE_BYTES: usize = 262_144;

/// The body a queue stores for `change`. A change whose state is too big for one message (long
/// text areas hold up to 131,072 characters each: S8) goes as a marker that makes the worker
/// read the record instead: it keeps its record, stamp and source, so it is neither lost nor
/// able to refuse the other changes sent with it.
pub fn message_body(change: &Change) -> PortResult<String> {
    let encode = |change: &Change| {
        serde_json::to_string(change).map_err(|e| {
            PortError::invalid_because(
                format!(
                    "the change of {} cannot be serialised: {e}",
                    change.record_key()
                ),
                e,
            )
        })
    };
    let body = encode(change)?;
    if body.len() <= MAX_MESSAGE_BYTES {
        return Ok(body);
    }
    let marker = Change {
        kind: ChangeKind::Reread {
            reason: RereadReason::TooLarge,
            partial: FieldSnapshot::new(),
        },
        ..change.clone()
    };
    let body = encode(&marker)?;
    if body.len() > MAX_MESSAGE_BYTES {
        return Err(PortError::invalid(format!(
            "the change of {} is {} bytes even without its values, more than a queue message \
             holds ({MAX_MESSAGE_BYTES})",
            change.record_key(),
            body.len()
        )));
    }
    tracing::info!(record = %change.record_key(), "too big for one message: queued as a re-read");
    Ok(body)
}

/// A change taken from the queue, invisible to other receivers until its visibility timeout ends.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Stable id of the message across deliveries.
    pub message_id: String,
    /// Names this delivery; needed to delete or release it.
    pub receipt: String,
    pub change: Change,
    /// 1 on the first delivery.
    pub receive_count: u32,
}

/// A message parked in the dead-letter queue.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub message_id: String,
    pub change: Change,
    /// Why it is here: the worker's reason, or "received N times" for redrive.
    pub reason: String,
    /// How many times it was delivered before it was parked (at least `max_receives` for
    /// redrive).
    pub receive_count: u32,
    pub dead_lettered_at: DateTime<Utc>,
}

/// Message counts, for `status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueDepth {
    /// Ready to be received.
    pub visible: u64,
    /// Received and not yet deleted or timed out.
    pub in_flight: u64,
    /// Waiting out a delay.
    pub delayed: u64,
    pub dead: u64,
}

/// The change queue and its dead-letter queue.
///
/// A message received more than `max_receives` times (set on the adapter, like SQS's redrive
/// policy) goes to the dead-letter queue instead of being delivered again.
#[async_trait]
pub trait ChangeQueue: Send + Sync {
    /// Puts every change on the queue durably, or fails as a whole: ingest acknowledges
    /// Salesforce only after this returns `Ok`.
    async fn send_batch(&self, changes: &[Change]) -> PortResult<()>;

    /// Sends with a delay before the changes become visible (retries of associations).
    async fn send_delayed(&self, changes: &[Change], delay: Duration) -> PortResult<()>;

    /// Up to `max` messages, each hidden from other receivers for `visibility`. May return fewer
    /// than are visible (SQS returns at most 10 per call); an empty result means none was ready.
    /// No order is promised (the embedded queue gives oldest first; SQS standard queues do not).
    async fn receive(&self, max: usize, visibility: Duration) -> PortResult<Vec<Delivery>>;

    /// Done with these deliveries: they are gone. Unknown or stale receipts are ignored.
    async fn delete(&self, receipts: &[String]) -> PortResult<()>;

    /// Makes a delivery visible again after `delay` (zero: at once). It counts as received.
    /// Unknown or stale receipts are ignored, as for `delete`.
    async fn release(&self, receipt: &str, delay: Duration) -> PortResult<()>;

    /// Moves a delivery to the dead-letter queue with a reason (a poison message). Unknown or
    /// stale receipts are ignored (the message stays on the queue, nothing is lost).
    async fn dead_letter(&self, receipt: &str, reason: &str) -> PortResult<()>;

    /// The dead letters, oldest first, at most `limit`.
    async fn dead_letters(&self, limit: usize) -> PortResult<Vec<DeadLetter>>;

    /// Puts dead letters back on the queue with a fresh receive count; returns how many moved.
    /// An empty slice replays them all.
    async fn replay(&self, message_ids: &[String]) -> PortResult<u64>;

    async fn depth(&self) -> PortResult<QueueDepth>;

    /// How long the oldest change still queued (waiting, delayed or in flight), of `object` or
    /// of any, has been since intake: the lag the console shows. `None` for none queued, or
    /// where the backend cannot say without reading the queue (SQS: CloudWatch's
    /// `ApproximateAgeOfOldestMessage`, on the dashboard).
    async fn oldest_change_age(&self, object: Option<&str>) -> PortResult<Option<Duration>> {
        let _ = object;
        Ok(None)
    }
}
