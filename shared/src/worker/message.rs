//! What the worker takes (a queued change as delivered), what it answers per message, and how
//! an answer is applied to the queue the message came from.

use std::time::Duration;

use crate::domain::Change;
use crate::ports::ChangeQueue;

/// A change as the queue delivered it.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundMessage {
    pub message_id: String,
    pub change: Change,
    /// 1 on the first delivery.
    pub receive_count: u32,
}

impl InboundMessage {
    /// How many times this change has been delivered, this delivery included: the queue's
    /// receive count plus the deliveries of the copies it was queued again from.
    pub fn tries(&self) -> u32 {
        self.change
            .prior_deliveries
            .saturating_add(self.receive_count)
    }
}

/// What to do with one message after the batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Disposition {
    /// Handled (written, skipped on purpose, or superseded by a newer change): delete it.
    Done,
    /// Leave it on the queue; it comes back after `delay`.
    Retry { reason: String, delay: Duration },
    /// Move it to the dead-letter queue with this reason.
    DeadLetter { reason: String },
    /// Put `change` back on the queue as a new message after `delay`, then delete this one:
    /// the change waits (for an association target) without spending the queue's receive
    /// count, which would dead-letter it after a few quick tries.
    Requeue {
        change: Box<Change>,
        reason: String,
        delay: Duration,
    },
}

/// What became of a message once its disposition was applied to its queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Settled (done, or its copy is on the queue): delete it. On AWS the event source mapping
    /// deletes every message the function does not report.
    Delete,
    /// Moved to the dead-letter queue, which took it off this one.
    DeadLettered,
    /// It must be delivered again (a retry, or a copy or dead letter that could not be sent):
    /// its visibility was set to the wait where the queue took that. On AWS it is reported in
    /// `batchItemFailures`.
    Redeliver,
}

impl Disposition {
    /// Applies this disposition of message `message_id` (held with `receipt`) to `queue`. It
    /// never loses a change: whatever cannot be done leaves the message to be delivered again.
    /// The local pipeline and the worker function both go through here.
    pub async fn apply(self, queue: &dyn ChangeQueue, message_id: &str, receipt: &str) -> Applied {
        match self {
            Disposition::Done => Applied::Delete,
            Disposition::Retry { reason, delay } => {
                tracing::warn!(message = %message_id, %reason, "will retry");
                // The delay is best effort: without it the message returns after the queue's
                // visibility timeout.
                if let Err(e) = queue.release(receipt, delay).await {
                    tracing::warn!(message = %message_id, error = %e, "cannot set the retry delay");
                }
                Applied::Redeliver
            }
            Disposition::Requeue {
                change,
                reason,
                delay,
            } => {
                tracing::info!(message = %message_id, %reason, ?delay, "waits on the queue");
                // The copy first: a crash in between delivers the change twice, never zero.
                match queue.send_delayed(&[*change], delay).await {
                    Ok(()) => Applied::Delete,
                    Err(e) => {
                        tracing::warn!(message = %message_id, error = %e, "cannot requeue; it will be retried");
                        if let Err(e) = queue.release(receipt, delay).await {
                            tracing::warn!(message = %message_id, error = %e, "cannot set the retry delay");
                        }
                        Applied::Redeliver
                    }
                }
            }
            Disposition::DeadLetter { reason } => {
                tracing::warn!(message = %message_id, %reason, "dead-lettered");
                match queue.dead_letter(receipt, &reason).await {
                    Ok(()) => Applied::DeadLettered,
                    Err(e) => {
                        tracing::error!(message = %message_id, error = %e, "cannot dead-letter; it will be retried");
                        Applied::Redeliver
                    }
                }
            }
        }
    }
}

/// The worker's answer for a batch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchResult {
    /// One entry per message received, in no particular order.
    pub dispositions: Vec<(String, Disposition)>,
    /// Records written to HubSpot (upserted, archived).
    pub written: usize,
    /// Records skipped on purpose (unchanged, older, kept).
    pub skipped: usize,
    /// What the batch did, by object (for the `sf2hs` metrics).
    pub metrics: crate::metrics::BatchMetrics,
}

impl BatchResult {
    /// Message ids the queue must deliver again (SQS `batchItemFailures`).
    pub fn retry_ids(&self) -> Vec<&str> {
        self.dispositions
            .iter()
            .filter(|(_, d)| matches!(d, Disposition::Retry { .. }))
            .map(|(id, _)| id.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::embedded::EmbeddedStore;

    fn change() -> Change {
        Change {
            org_id: crate::domain::SalesforceId::parse("00Dxx0000001gPF").expect("org"),
            object: "Invoice__c".into(),
            record_id: crate::domain::SalesforceId::parse("a015f00002J9YYE").expect("id"),
            kind: crate::domain::ChangeKind::Delete,
            modstamp: None,
            source: crate::domain::ChangeSource::Worker,
            received_at: chrono::Utc::now(),
            prior_deliveries: 0,
        }
    }

    async fn queued(queue: &dyn ChangeQueue) -> (String, String) {
        queue.send_batch(&[change()]).await.expect("sent");
        let delivery = queue
            .receive(1, Duration::from_secs(60))
            .await
            .expect("received")
            .pop()
            .expect("one");
        (delivery.message_id, delivery.receipt)
    }

    #[tokio::test]
    async fn each_disposition_becomes_its_queue_actions() {
        let store = EmbeddedStore::open_in_memory().expect("store");
        let queue = store.change_queue(5);

        let (id, receipt) = queued(&queue).await;
        assert_eq!(
            Disposition::Done.apply(&queue, &id, &receipt).await,
            Applied::Delete
        );
        queue.delete(&[receipt]).await.expect("deleted");

        let (id, receipt) = queued(&queue).await;
        let retry = Disposition::Retry {
            reason: "HubSpot answered 503".into(),
            delay: Duration::ZERO,
        };
        assert_eq!(retry.apply(&queue, &id, &receipt).await, Applied::Redeliver);
        let again = queue
            .receive(1, Duration::from_secs(60))
            .await
            .expect("received");
        assert_eq!(again.len(), 1, "released: visible again at once");
        let (id, receipt) = (again[0].message_id.clone(), again[0].receipt.clone());

        let requeue = Disposition::Requeue {
            change: Box::new(change()),
            reason: "waiting for its target".into(),
            delay: Duration::ZERO,
        };
        assert_eq!(
            requeue.apply(&queue, &id, &receipt).await,
            Applied::Delete,
            "the copy is sent first"
        );
        queue.delete(&[receipt]).await.expect("deleted");
        let copy = queue
            .receive(1, Duration::from_secs(60))
            .await
            .expect("received");
        assert_eq!(copy.len(), 1, "the copy is on the queue");

        let dead = Disposition::DeadLetter {
            reason: "refused for good".into(),
        };
        assert_eq!(
            dead.apply(&queue, &copy[0].message_id, &copy[0].receipt)
                .await,
            Applied::DeadLettered
        );
        let letters = queue.dead_letters(10).await.expect("dead letters");
        assert_eq!(letters.len(), 1);
        assert_eq!(letters[0].reason, "refused for good");
        let depth = queue.depth().await.expect("depth");
        assert_eq!(depth.visible + depth.in_flight + depth.delayed, 0);
    }
}
