//! [`ChangeQueue`] on SQS. A message's body is the change as JSON; a dead letter parked by the
//! worker also carries message attributes with the reason, the original message id and receive
//! count, and when it was parked.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::BuildError;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, Message,
    MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName,
    SendMessageBatchRequestEntry,
};
use chrono::{DateTime, Utc};

use super::ledger::{Ledger, Lookup};
use super::{BACKEND, MAX_MESSAGE_BYTES};
use crate::aws::config::AwsConnection;
use crate::aws::error::{error_code, port_error};
use crate::aws::{BATCH_ATTEMPTS, backoff};
use crate::domain::Change;
use crate::ports::{ChangeQueue, DeadLetter, Delivery, PortError, PortResult, QueueDepth};

/// The most entries an SQS batch call takes, and the most messages one receive returns.
const BATCH_ENTRIES: usize = 10;
/// SQS's longest delay (15 minutes).
const MAX_DELAY_SECONDS: u64 = 900;
/// SQS's longest visibility timeout (12 hours).
const MAX_VISIBILITY_SECONDS: u64 = 43_200;
/// How long `dead_letters` and `replay` hold the dead letters they look at before putting them
/// back: long enough to page through them all.
const LISTING_VISIBILITY_SECONDS: i32 = 60;
/// Empty receives in a row after which the dead-letter queue is taken as fully read (a short
/// poll of a standard queue may miss messages now and then).
const EMPTY_POLLS: u32 = 3;
/// The most dead letters one listing or replay looks at.
const DEAD_LETTER_SCAN_LIMIT: usize = 10_000;

/// Message attributes of a dead letter parked by `dead_letter`.
const REASON_ATTRIBUTE: &str = "sf2hs-reason";
const MESSAGE_ID_ATTRIBUTE: &str = "sf2hs-message-id";
const RECEIVE_COUNT_ATTRIBUTE: &str = "sf2hs-receive-count";
const DEAD_LETTERED_AT_ATTRIBUTE: &str = "sf2hs-dead-lettered-at";

/// Error codes of a receipt that is unknown, stale or no longer in flight: ignored, as the port
/// says.
const STALE_RECEIPT_CODES: &[&str] = &[
    "ReceiptHandleIsInvalid",
    "InvalidParameterValue",
    "MessageNotInflight",
    "AWS.SimpleQueueService.MessageNotInflight",
];

/// [`ChangeQueue`] on an SQS queue and its dead-letter queue (see [`super::create_queues`]).
///
/// `dead_letter` needs the body of the message, which SQS cannot read by receipt: it works for
/// deliveries received through this adapter value (the worker's), and ignores other receipts
/// like stale ones.
#[derive(Debug, Clone)]
pub struct SqsChangeQueue {
    client: Client,
    queue_url: String,
    dead_letter_url: String,
    ledger: Arc<Mutex<Ledger>>,
}

/// A message taken from the dead-letter queue for a moment.
struct Parked {
    receipt: String,
    /// The id the dead letter is known by: the original message's.
    message_id: String,
    body: String,
    reason: String,
    receive_count: u32,
    dead_lettered_at: DateTime<Utc>,
}

fn built<T>(result: Result<T, BuildError>, what: &str) -> PortResult<T> {
    result.map_err(|e| {
        PortError::invalid_because(format!("cannot build the SQS request for {what}: {e}"), e)
    })
}

/// Whole seconds, rounded up (a delay never ends early), at most `max`.
fn whole_seconds(duration: Duration, max: u64) -> i32 {
    let seconds = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    i32::try_from(seconds.min(max)).unwrap_or(i32::MAX)
}

fn encode(change: &Change) -> PortResult<String> {
    crate::ports::message_body(change)
}

fn decode(message_id: &str, body: &str, queue: &str) -> PortResult<Change> {
    serde_json::from_str(body).map_err(|e| PortError::Corrupt {
        what: format!("message {message_id} in {queue}"),
        reason: e.to_string(),
    })
}

fn string_attribute(value: &str) -> PortResult<MessageAttributeValue> {
    built(
        MessageAttributeValue::builder()
            .data_type("String")
            .string_value(value)
            .build(),
        "a message attribute",
    )
}

fn number_attribute(value: i64) -> PortResult<MessageAttributeValue> {
    built(
        MessageAttributeValue::builder()
            .data_type("Number")
            .string_value(value.to_string())
            .build(),
        "a message attribute",
    )
}

fn system_attribute(message: &Message, name: MessageSystemAttributeName) -> Option<&str> {
    message
        .attributes()
        .and_then(|a| a.get(&name))
        .map(String::as_str)
}

fn message_attribute<'a>(message: &'a Message, name: &str) -> Option<&'a str> {
    message
        .message_attributes()
        .and_then(|a| a.get(name))
        .and_then(|v| v.string_value())
}

/// Groups bodies into batches of at most 10 entries and 256 KiB.
fn batches(bodies: &[(usize, String)]) -> Vec<&[(usize, String)]> {
    let mut batches = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, (_, body)) in bodies.iter().enumerate() {
        if i > start && (i - start == BATCH_ENTRIES || bytes + body.len() > MAX_MESSAGE_BYTES) {
            batches.push(&bodies[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += body.len();
    }
    if start < bodies.len() {
        batches.push(&bodies[start..]);
    }
    batches
}

impl SqsChangeQueue {
    /// The adapter on queues whose URLs are known (the SAM template passes them in).
    pub fn new(
        connection: &AwsConnection,
        queue_url: impl Into<String>,
        dead_letter_url: impl Into<String>,
    ) -> Self {
        SqsChangeQueue {
            client: connection.sqs(),
            queue_url: queue_url.into(),
            dead_letter_url: dead_letter_url.into(),
            ledger: Arc::new(Mutex::new(Ledger::default())),
        }
    }

    /// The adapter on existing queues found by name.
    pub async fn connect(
        connection: &AwsConnection,
        names: &super::QueueNames,
    ) -> PortResult<Self> {
        let client = connection.sqs();
        // Both URLs at once: a cold start waits for one round trip, not two.
        let (queue_url, dead_letter_url) = tokio::try_join!(
            super::queue_url(&client, &names.queue),
            super::queue_url(&client, &names.dead_letter_queue)
        )?;
        Ok(SqsChangeQueue::new(connection, queue_url, dead_letter_url))
    }

    /// Takes a message that SQS delivered by another path (the Lambda event source mapping)
    /// as received through this adapter, so that `release` and `dead_letter` work with its
    /// receipt. `visible_in` is what is left of its visibility timeout.
    pub fn adopt(
        &self,
        message_id: &str,
        receipt: &str,
        body: &str,
        receive_count: u32,
        visible_in: Duration,
    ) {
        self.ledger().record(
            receipt,
            message_id,
            body,
            receive_count,
            Instant::now() + visible_in,
        );
    }

    /// The queue's name: the last segment of its URL (what an event source ARN ends with).
    pub fn queue_name(&self) -> &str {
        self.queue_url.rsplit('/').next().unwrap_or(&self.queue_url)
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    pub fn dead_letter_url(&self) -> &str {
        &self.dead_letter_url
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends every body (each with its change's record key, for errors), in batches of at most
    /// 10 entries and 256 KiB; entries SQS fails are re-sent with backoff. Ok only when every
    /// entry is accepted.
    async fn send_all(
        &self,
        queue_url: &str,
        changes: &[Change],
        bodies: Vec<String>,
        delay_seconds: i32,
    ) -> PortResult<()> {
        let numbered: Vec<(usize, String)> = bodies.into_iter().enumerate().collect();
        for batch in batches(&numbered) {
            let mut pending: Vec<&(usize, String)> = batch.iter().collect();
            let mut attempt = 0;
            while !pending.is_empty() {
                if attempt > 0 {
                    if attempt >= BATCH_ATTEMPTS {
                        let records: Vec<String> = pending
                            .iter()
                            .map(|(i, _)| changes[*i].record_key().to_string())
                            .collect();
                        return Err(PortError::Unavailable {
                            backend: BACKEND,
                            reason: format!(
                                "SQS did not accept the changes of {} after {BATCH_ATTEMPTS} \
                                 attempts",
                                records.join(", ")
                            ),
                        });
                    }
                    tokio::time::sleep(backoff(attempt)).await;
                }
                attempt += 1;
                let mut request = self.client.send_message_batch().queue_url(queue_url);
                for (i, body) in &pending {
                    request = request.entries(built(
                        SendMessageBatchRequestEntry::builder()
                            .id(i.to_string())
                            .message_body(body)
                            .delay_seconds(delay_seconds)
                            .build(),
                        "sending changes",
                    )?);
                }
                let output = request
                    .send()
                    .await
                    .map_err(|e| port_error(BACKEND, "sending changes", e))?;
                let mut failed = HashSet::new();
                for failure in output.failed() {
                    let index: usize = failure.id().parse().unwrap_or(usize::MAX);
                    if failure.sender_fault() {
                        let record = changes
                            .get(index)
                            .map_or_else(|| "a change".to_owned(), |c| c.record_key().to_string());
                        return Err(PortError::invalid(format!(
                            "SQS refused the change of {record}: {}: {}",
                            failure.code(),
                            failure.message().unwrap_or("no message")
                        )));
                    }
                    failed.insert(index);
                }
                pending.retain(|(i, _)| failed.contains(i));
            }
        }
        Ok(())
    }

    async fn enqueue(&self, changes: &[Change], delay: Duration) -> PortResult<()> {
        let bodies = changes.iter().map(encode).collect::<PortResult<Vec<_>>>()?;
        self.send_all(
            &self.queue_url,
            changes,
            bodies,
            whole_seconds(delay, MAX_DELAY_SECONDS),
        )
        .await
    }

    /// Deletes by receipt in batches of 10; unknown and stale receipts are ignored.
    async fn delete_receipts(&self, queue_url: &str, receipts: &[&str]) -> PortResult<()> {
        for chunk in receipts.chunks(BATCH_ENTRIES) {
            let mut request = self.client.delete_message_batch().queue_url(queue_url);
            for (i, receipt) in chunk.iter().enumerate() {
                request = request.entries(built(
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(*receipt)
                        .build(),
                    "deleting messages",
                )?);
            }
            let output = request
                .send()
                .await
                .map_err(|e| port_error(BACKEND, "deleting messages", e))?;
            for failure in output.failed() {
                if !STALE_RECEIPT_CODES.contains(&failure.code()) {
                    return Err(PortError::Unavailable {
                        backend: BACKEND,
                        reason: format!(
                            "deleting a message failed: {}: {}",
                            failure.code(),
                            failure.message().unwrap_or("no message")
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// Makes messages of `queue_url` visible again at once, in batches of 10.
    async fn make_visible(&self, queue_url: &str, receipts: &[&str]) -> PortResult<()> {
        for chunk in receipts.chunks(BATCH_ENTRIES) {
            let mut request = self
                .client
                .change_message_visibility_batch()
                .queue_url(queue_url);
            for (i, receipt) in chunk.iter().enumerate() {
                request = request.entries(built(
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(*receipt)
                        .visibility_timeout(0)
                        .build(),
                    "releasing messages",
                )?);
            }
            request
                .send()
                .await
                .map_err(|e| port_error(BACKEND, "releasing messages", e))?;
        }
        Ok(())
    }

    /// Takes every message of the dead-letter queue for a moment (SQS cannot peek): each stays
    /// invisible for [`LISTING_VISIBILITY_SECONDS`] unless the caller deletes it or puts it
    /// back with [`Self::make_visible`].
    async fn take_dead_letters(&self) -> PortResult<Vec<Parked>> {
        let mut parked = Vec::new();
        let mut empty_polls = 0;
        while parked.len() < DEAD_LETTER_SCAN_LIMIT {
            let output = self
                .client
                .receive_message()
                .queue_url(&self.dead_letter_url)
                .max_number_of_messages(BATCH_ENTRIES as i32)
                .visibility_timeout(LISTING_VISIBILITY_SECONDS)
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
                .message_attribute_names("All")
                .send()
                .await
                .map_err(|e| port_error(BACKEND, "reading the dead-letter queue", e))?;
            let messages = output.messages();
            if messages.is_empty() {
                empty_polls += 1;
                if empty_polls >= EMPTY_POLLS {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            empty_polls = 0;
            for message in messages {
                parked.push(parked_from(message));
            }
        }
        Ok(parked)
    }
}

/// A dead-letter-queue message as a [`Parked`]: attributes from `dead_letter` when it was
/// parked by the worker, else what SQS's redrive left (the message id and receive count carry
/// over; this receive counts one more).
fn parked_from(message: &Message) -> Parked {
    let sqs_id = message.message_id().unwrap_or_default();
    let approximate: u32 =
        system_attribute(message, MessageSystemAttributeName::ApproximateReceiveCount)
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
    let sent_at = system_attribute(message, MessageSystemAttributeName::SentTimestamp)
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(DateTime::from_timestamp_millis);
    let parked_at = message_attribute(message, DEAD_LETTERED_AT_ATTRIBUTE)
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(DateTime::from_timestamp_millis);
    let (reason, receive_count) = match message_attribute(message, REASON_ATTRIBUTE) {
        Some(reason) => (
            reason.to_owned(),
            message_attribute(message, RECEIVE_COUNT_ATTRIBUTE)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        ),
        None => {
            let before = approximate.saturating_sub(1).max(1);
            (
                format!("received {before} times without being deleted (redrive policy)"),
                before,
            )
        }
    };
    Parked {
        receipt: message.receipt_handle().unwrap_or_default().to_owned(),
        message_id: message_attribute(message, MESSAGE_ID_ATTRIBUTE)
            .unwrap_or(sqs_id)
            .to_owned(),
        body: message.body().unwrap_or_default().to_owned(),
        reason,
        receive_count,
        dead_lettered_at: parked_at.or(sent_at).unwrap_or_else(Utc::now),
    }
}

#[async_trait]
impl ChangeQueue for SqsChangeQueue {
    async fn send_batch(&self, changes: &[Change]) -> PortResult<()> {
        self.enqueue(changes, Duration::ZERO).await
    }

    async fn send_delayed(&self, changes: &[Change], delay: Duration) -> PortResult<()> {
        // SQS delays at most 15 minutes: a longer delay is shortened to that (the change comes
        // back sooner, never later).
        self.enqueue(changes, delay).await
    }

    async fn receive(&self, max: usize, visibility: Duration) -> PortResult<Vec<Delivery>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let sent_at = Instant::now();
        let hidden_for = whole_seconds(visibility, MAX_VISIBILITY_SECONDS);
        let output = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(i32::try_from(max.min(BATCH_ENTRIES)).unwrap_or(1))
            .visibility_timeout(hidden_for)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| port_error(BACKEND, "receiving changes", e))?;
        let hidden_until = sent_at + Duration::from_secs(u64::try_from(hidden_for).unwrap_or(0));
        let mut deliveries = Vec::new();
        for message in output.messages() {
            let message_id = message.message_id().unwrap_or_default().to_owned();
            let receipt = message.receipt_handle().unwrap_or_default().to_owned();
            let body = message.body().unwrap_or_default();
            let receive_count =
                system_attribute(message, MessageSystemAttributeName::ApproximateReceiveCount)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1);
            {
                let mut ledger = self.ledger();
                // A message this process already holds in flight is not handed out twice: SQS
                // standard queues deliver at least once, and moto 5.2.5 answers concurrent
                // ReceiveMessage calls without a lock (`SQSBackend.receive_message`), so two
                // calls can both return one visible message. The duplicate stays in flight
                // and comes back after its timeout if the first holder does not delete it.
                if ledger.holds(&message_id) {
                    continue;
                }
                ledger.record(&receipt, &message_id, body, receive_count, hidden_until);
            }
            deliveries.push(Delivery {
                change: decode(&message_id, body, "the change queue")?,
                message_id,
                receipt,
                receive_count,
            });
        }
        Ok(deliveries)
    }

    async fn delete(&self, receipts: &[String]) -> PortResult<()> {
        // A receipt this process knows to be superseded is dropped here: SQS documents that only
        // the latest receipt deletes, but moto deletes with any receipt the message ever had.
        let current: Vec<&str> = {
            let ledger = self.ledger();
            receipts
                .iter()
                .map(String::as_str)
                .filter(|r| !matches!(ledger.lookup(r), Lookup::Superseded))
                .collect()
        };
        self.delete_receipts(&self.queue_url, &current).await?;
        let mut ledger = self.ledger();
        for receipt in current {
            ledger.forget(receipt);
        }
        Ok(())
    }

    async fn release(&self, receipt: &str, delay: Duration) -> PortResult<()> {
        if matches!(self.ledger().lookup(receipt), Lookup::Superseded) {
            return Ok(());
        }
        let sent_at = Instant::now();
        let result = self
            .client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(whole_seconds(delay, MAX_VISIBILITY_SECONDS))
            .send()
            .await;
        match result {
            Ok(_) => {
                self.ledger().released(receipt, sent_at + delay);
                Ok(())
            }
            Err(error) if error_code(&error).is_some_and(|c| STALE_RECEIPT_CODES.contains(&c)) => {
                Ok(())
            }
            Err(error) => Err(port_error(BACKEND, "releasing a message", error)),
        }
    }

    async fn dead_letter(&self, receipt: &str, reason: &str) -> PortResult<()> {
        let held = match self.ledger().lookup(receipt) {
            Lookup::Current(held) => held.clone(),
            // Not ours or stale: the message stays on the queue; nothing is lost.
            Lookup::Unknown | Lookup::Superseded => return Ok(()),
        };
        let reason = if reason.trim().is_empty() {
            "(no reason given)"
        } else {
            reason
        };
        let dead_lettered_at = Utc::now().timestamp_millis();
        // Send to the dead-letter queue first, then delete: a crash in between leaves a
        // duplicate (harmless: upserts are idempotent), never a loss.
        let entry = built(
            SendMessageBatchRequestEntry::builder()
                .id("0")
                .message_body(&held.body)
                .message_attributes(REASON_ATTRIBUTE, string_attribute(reason)?)
                .message_attributes(MESSAGE_ID_ATTRIBUTE, string_attribute(&held.message_id)?)
                .message_attributes(
                    RECEIVE_COUNT_ATTRIBUTE,
                    number_attribute(i64::from(held.receive_count))?,
                )
                .message_attributes(
                    DEAD_LETTERED_AT_ATTRIBUTE,
                    number_attribute(dead_lettered_at)?,
                )
                .build(),
            "dead-lettering a message",
        )?;
        let mut attempt = 0;
        loop {
            let output = self
                .client
                .send_message_batch()
                .queue_url(&self.dead_letter_url)
                .entries(entry.clone())
                .send()
                .await
                .map_err(|e| port_error(BACKEND, "dead-lettering a message", e))?;
            let Some(failure) = output.failed().first() else {
                break;
            };
            attempt += 1;
            if failure.sender_fault() || attempt >= BATCH_ATTEMPTS {
                return Err(PortError::Unavailable {
                    backend: BACKEND,
                    reason: format!(
                        "dead-lettering message {}: {}: {} (it stays on the queue)",
                        held.message_id,
                        failure.code(),
                        failure.message().unwrap_or("no message")
                    ),
                });
            }
            tokio::time::sleep(backoff(attempt)).await;
        }
        self.delete_receipts(&self.queue_url, &[receipt]).await?;
        self.ledger().forget(receipt);
        Ok(())
    }

    async fn dead_letters(&self, limit: usize) -> PortResult<Vec<DeadLetter>> {
        let parked = self.take_dead_letters().await?;
        let receipts: Vec<&str> = parked.iter().map(|p| p.receipt.as_str()).collect();
        // Put them back before decoding, so that a bad one does not hide the others.
        self.make_visible(&self.dead_letter_url, &receipts).await?;
        // A body that is not a change (a message no sf2hs component wrote) cannot be listed
        // as one; it stays in the dead-letter queue, counted by `depth`, and is named here.
        let mut letters: Vec<DeadLetter> = parked
            .iter()
            .filter_map(|p| match decode(&p.message_id, &p.body, "the dead-letter queue") {
                Ok(change) => Some(DeadLetter {
                    change,
                    message_id: p.message_id.clone(),
                    reason: p.reason.clone(),
                    receive_count: p.receive_count,
                    dead_lettered_at: p.dead_lettered_at,
                }),
                Err(e) => {
                    tracing::warn!(message = %p.message_id, error = %e, reason = %p.reason, "a dead letter that is not a change is left in the dead-letter queue");
                    None
                }
            })
            .collect();
        letters.sort_by(|a, b| {
            (a.dead_lettered_at, &a.message_id).cmp(&(b.dead_lettered_at, &b.message_id))
        });
        letters.truncate(limit);
        Ok(letters)
    }

    async fn replay(&self, message_ids: &[String]) -> PortResult<u64> {
        let wanted: HashSet<&str> = message_ids.iter().map(String::as_str).collect();
        let parked = self.take_dead_letters().await?;
        let (chosen, others): (Vec<&Parked>, Vec<&Parked>) = parked
            .iter()
            .partition(|p| wanted.is_empty() || wanted.contains(p.message_id.as_str()));
        let others: Vec<&str> = others.iter().map(|p| p.receipt.as_str()).collect();
        self.make_visible(&self.dead_letter_url, &others).await?;
        if chosen.is_empty() {
            return Ok(0);
        }
        // Back on the queue as new messages (a fresh receive count), then off the dead-letter
        // queue: a crash in between duplicates, never loses. A replayed change gets all its
        // tries again: it was fixed, or is asked for once more.
        let receipts: Vec<&str> = chosen.iter().map(|p| p.receipt.as_str()).collect();
        let fresh = |parked: &Parked| -> PortResult<(Change, String)> {
            let change = Change {
                prior_deliveries: 0,
                ..decode(&parked.message_id, &parked.body, "the dead-letter queue")?
            };
            let body = encode(&change)?;
            Ok((change, body))
        };
        let (changes, bodies): (Vec<Change>, Vec<String>) = match chosen
            .iter()
            .map(|p| fresh(p))
            .collect::<PortResult<Vec<_>>>()
        {
            Ok(fresh) => fresh.into_iter().unzip(),
            Err(error) => {
                self.make_visible(&self.dead_letter_url, &receipts).await?;
                return Err(error);
            }
        };
        self.send_all(&self.queue_url, &changes, bodies, 0).await?;
        self.delete_receipts(&self.dead_letter_url, &receipts)
            .await?;
        Ok(chosen.len() as u64)
    }

    async fn depth(&self) -> PortResult<QueueDepth> {
        let counts = |url: String| {
            let client = self.client.clone();
            async move {
                let output = client
                    .get_queue_attributes()
                    .queue_url(&url)
                    .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
                    .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                    .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
                    .send()
                    .await
                    .map_err(|e| port_error(BACKEND, "measuring the queue", e))?;
                let read = |name: QueueAttributeName| -> u64 {
                    output
                        .attributes()
                        .and_then(|a| a.get(&name))
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0)
                };
                Ok::<_, PortError>((
                    read(QueueAttributeName::ApproximateNumberOfMessages),
                    read(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
                    read(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
                ))
            }
        };
        let (visible, in_flight, delayed) = counts(self.queue_url.clone()).await?;
        let (dead_visible, dead_in_flight, dead_delayed) =
            counts(self.dead_letter_url.clone()).await?;
        Ok(QueueDepth {
            visible,
            in_flight,
            delayed,
            dead: dead_visible + dead_in_flight + dead_delayed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bodies(sizes: &[usize]) -> Vec<(usize, String)> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, size)| (i, "x".repeat(*size)))
            .collect()
    }

    #[test]
    fn batches_hold_at_most_ten_entries() {
        let input = bodies(&[10; 23]);
        let sizes: Vec<usize> = batches(&input).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, vec![10, 10, 3]);
    }

    #[test]
    fn batches_hold_at_most_256_kib() {
        let input = bodies(&[100_000, 100_000, 100_000, 10, MAX_MESSAGE_BYTES]);
        let sizes: Vec<usize> = batches(&input).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, vec![2, 2, 1]);
    }

    #[test]
    fn delays_round_up_to_whole_seconds_and_are_capped() {
        assert_eq!(whole_seconds(Duration::ZERO, 900), 0);
        assert_eq!(whole_seconds(Duration::from_millis(1), 900), 1);
        assert_eq!(whole_seconds(Duration::from_secs(2), 900), 2);
        assert_eq!(whole_seconds(Duration::from_secs(3600), 900), 900);
    }
}
