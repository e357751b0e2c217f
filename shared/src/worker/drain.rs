//! The local pipeline's worker loop step: receive from a `ChangeQueue`, process, and apply each
//! message's disposition to the same queue (`Disposition::apply`, as the Lambda does; there
//! SQS's event source mapping deletes what is done).

use std::time::Duration;

use super::Worker;
use super::message::{Applied, Disposition, InboundMessage};
use super::pace::BatchPacer;
use crate::ports::{ChangeQueue, PortResult};

/// What one drain step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrainReport {
    pub received: usize,
    pub done: usize,
    pub retried: usize,
    pub dead_lettered: usize,
}

/// How often a batch still filling looks at the queue again.
const GATHER_POLL: Duration = Duration::from_millis(20);

/// Receives up to `max` messages (hidden for `visibility` while the worker has them), processes
/// them as one batch, and deletes, releases or dead-letters each.
///
/// Once a first message is in, the batch gathers more for up to `window` unless it is full, as
/// an SQS event source mapping's batching window does: under a steady trickle a HubSpot call
/// then carries many records instead of one, and the rate limit is not spent on tiny batches
/// that then wait for it.
pub async fn drain_once(
    worker: &Worker,
    queue: &dyn ChangeQueue,
    max: usize,
    visibility: Duration,
    window: Duration,
) -> PortResult<DrainReport> {
    let mut deliveries = queue.receive(max, visibility).await?;
    // The batch is hidden from the other workers for `visibility`: it answers before then.
    let deadline = tokio::time::Instant::now() + visibility;
    if !deliveries.is_empty() && !window.is_zero() {
        let until = tokio::time::Instant::now() + window;
        gather(queue, &mut deliveries, max, visibility, until).await?;
    }
    process(worker, queue, deliveries, deadline).await
}

/// [`drain_once`] with the window set by `pacer`: the batch goes once it is full or the
/// portal's rate budget allows the next call (`BatchPacer`). One worker gathers at a time.
pub async fn drain_paced(
    worker: &Worker,
    queue: &dyn ChangeQueue,
    max: usize,
    visibility: Duration,
    pacer: &BatchPacer,
) -> PortResult<DrainReport> {
    let (deliveries, deadline) = {
        let _gathering = pacer.gate.lock().await;
        let mut deliveries = queue.receive(max, visibility).await?;
        let deadline = tokio::time::Instant::now() + visibility;
        if !deliveries.is_empty() {
            let first = std::time::Instant::now();
            let until = tokio::time::Instant::from_std(pacer.due(first));
            gather(queue, &mut deliveries, max, visibility, until).await?;
            pacer.batch_sent(std::time::Instant::now());
        }
        (deliveries, deadline)
    };
    process(worker, queue, deliveries, deadline).await
}

/// Receives more until `max` are in or `until`.
async fn gather(
    queue: &dyn ChangeQueue,
    deliveries: &mut Vec<crate::ports::Delivery>,
    max: usize,
    visibility: Duration,
    until: tokio::time::Instant,
) -> PortResult<()> {
    while deliveries.len() < max {
        let now = tokio::time::Instant::now();
        if now >= until {
            break;
        }
        tokio::time::sleep(GATHER_POLL.min(until - now)).await;
        deliveries.extend(queue.receive(max - deliveries.len(), visibility).await?);
    }
    Ok(())
}

/// Processes one gathered batch and applies each message's disposition.
async fn process(
    worker: &Worker,
    queue: &dyn ChangeQueue,
    deliveries: Vec<crate::ports::Delivery>,
    deadline: tokio::time::Instant,
) -> PortResult<DrainReport> {
    let mut report = DrainReport {
        received: deliveries.len(),
        ..DrainReport::default()
    };
    if deliveries.is_empty() {
        return Ok(report);
    }
    let receipts: std::collections::HashMap<String, String> = deliveries
        .iter()
        .map(|d| (d.message_id.clone(), d.receipt.clone()))
        .collect();
    let batch = deliveries
        .into_iter()
        .map(|d| InboundMessage {
            message_id: d.message_id,
            change: d.change,
            receive_count: d.receive_count,
        })
        .collect();
    let result = worker.process_until(batch, Some(deadline)).await;
    let mut done = Vec::new();
    for (message_id, disposition) in result.dispositions {
        let Some(receipt) = receipts.get(&message_id) else {
            continue;
        };
        match &disposition {
            Disposition::Retry { .. } | Disposition::Requeue { .. } => report.retried += 1,
            Disposition::DeadLetter { .. } => report.dead_lettered += 1,
            Disposition::Done => {}
        }
        if disposition.apply(queue, &message_id, receipt).await == Applied::Delete {
            done.push(receipt.clone());
        }
    }
    report.done = done.len();
    queue.delete(&done).await?;
    Ok(report)
}
