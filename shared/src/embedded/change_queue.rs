//! The change queue with SQS semantics: visibility timeouts, receipts, receive counts, redrive to
//! a dead-letter table after `max_receives`.
//!
//! A message is a row of `queue_messages` with `visible_at_ms`: it can be received when that is
//! in the past. Receiving stamps a fresh receipt and pushes `visible_at_ms` to the end of the
//! visibility timeout; deleting needs the latest receipt. Times are wall-clock milliseconds, so
//! in-flight messages of a crashed process come back once their timeout has passed, even after
//! a restart.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, params};

use super::{EmbeddedStore, SqlContext, immediate, sql_limit, to_u64};
use crate::domain::Change;
use crate::ports::{ChangeQueue, DeadLetter, Delivery, PortError, PortResult, QueueDepth};

/// Which line a message waits in. On AWS live changes and imported records have queues of
/// their own, so a large import never delays a live change; the embedded queue keeps one
/// table and always delivers the live line first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Live = 0,
    Backfill = 1,
}

/// [`ChangeQueue`] on the embedded SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteChangeQueue {
    store: EmbeddedStore,
    max_receives: u32,
    /// Where `send_batch` puts messages (receiving takes both lines, live first).
    lane: Lane,
    /// The registered process whose lease a received message is under (`processes.owner`), so
    /// a starting process can take back at once what a dead one held.
    holder: Option<String>,
}

impl SqliteChangeQueue {
    /// A message received `max_receives` times without being deleted is moved to the dead-letter
    /// table on its next receive, like SQS's redrive `maxReceiveCount`. Zero is taken as one.
    pub fn new(store: EmbeddedStore, max_receives: u32) -> Self {
        SqliteChangeQueue {
            store,
            max_receives: max_receives.max(1),
            lane: Lane::Live,
            holder: None,
        }
    }

    /// The same queue, sending into `lane`.
    pub fn in_lane(mut self, lane: Lane) -> Self {
        self.lane = lane;
        self
    }

    /// The same queue, receiving under the lease of registered process `owner`.
    pub fn held_by(mut self, owner: impl Into<String>) -> Self {
        self.holder = Some(owner.into());
        self
    }

    pub fn max_receives(&self) -> u32 {
        self.max_receives
    }
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// `now + delay` in milliseconds, saturating (a huge delay means "never, in practice").
fn later_ms(now: i64, delay: Duration) -> i64 {
    now.saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX))
}

fn decode_change(message_id: &str, body: &str, table: &str) -> PortResult<Change> {
    serde_json::from_str(body).map_err(|e| PortError::Corrupt {
        what: format!("queued message {message_id} (row {table}/{message_id})"),
        reason: e.to_string(),
    })
}

fn receive_count(value: i64, message_id: &str) -> PortResult<u32> {
    u32::try_from(value).map_err(|_| PortError::Corrupt {
        what: format!("queued message {message_id}"),
        reason: format!("receive count {value} is out of range"),
    })
}

/// Moves one message from the queue to the dead letters, in the caller's transaction.
fn move_to_dead_letters(tx: &Transaction<'_>, seq: i64, reason: &str, now: i64) -> PortResult<()> {
    let context = "dead-lettering a message";
    tx.execute(
        "INSERT INTO dead_letters (message_id, body, reason, receive_count, dead_lettered_at_ms)
         SELECT message_id, body, ?2, receive_count, ?3 FROM queue_messages WHERE seq = ?1",
        params![seq, reason, now],
    )
    .context(context)?;
    tx.execute("DELETE FROM queue_messages WHERE seq = ?1", [seq])
        .context(context)?;
    Ok(())
}

impl SqliteChangeQueue {
    async fn enqueue(&self, changes: &[Change], delay: Duration) -> PortResult<()> {
        if changes.is_empty() {
            return Ok(());
        }
        // The deployed queue's size limit: a change too big for it is a re-read marker here too.
        let bodies = changes
            .iter()
            .map(crate::ports::message_body)
            .collect::<PortResult<Vec<_>>>()?;
        let lane = self.lane as i64;
        self.store
            .call("sending to the queue", move |connection| {
                let context = "sending to the queue";
                // One transaction for the whole batch: all of it is stored, or none.
                let tx = immediate(connection, context)?;
                let visible_at = later_ms(now_ms(), delay);
                {
                    let mut insert = tx
                        .prepare_cached(
                            "INSERT INTO queue_messages (message_id, body, visible_at_ms, lane)
                             VALUES (?1, ?2, ?3, ?4)",
                        )
                        .context(context)?;
                    for body in &bodies {
                        let message_id = uuid::Uuid::new_v4().to_string();
                        insert
                            .execute(params![message_id, body, visible_at, lane])
                            .context(context)?;
                    }
                }
                tx.commit().context(context)
            })
            .await
    }
}

#[async_trait]
impl ChangeQueue for SqliteChangeQueue {
    async fn send_batch(&self, changes: &[Change]) -> PortResult<()> {
        self.enqueue(changes, Duration::ZERO).await
    }

    async fn send_delayed(&self, changes: &[Change], delay: Duration) -> PortResult<()> {
        self.enqueue(changes, delay).await
    }

    async fn receive(&self, max: usize, visibility: Duration) -> PortResult<Vec<Delivery>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let max_receives = i64::from(self.max_receives);
        let holder = self.holder.clone();
        self.store
            .call("receiving from the queue", move |connection| {
                let context = "receiving from the queue";
                // IMMEDIATE: picking visible messages and hiding them is one atomic step, so two
                // receivers (tasks or processes) never get the same message.
                let tx = immediate(connection, context)?;
                let now = now_ms();
                let hidden_until = later_ms(now, visibility);
                let mut deliveries = Vec::new();
                // Messages past their receive limit are dead-lettered instead of delivered; keep
                // looking past them so that a poison message does not starve a receive. The
                // live line first: backfill fills what is left of the batch.
                let mut lanes = [Lane::Live, Lane::Backfill].into_iter();
                let mut lane = lanes.next();
                let mut after_seq = 0_i64;
                while deliveries.len() < max {
                    let Some(current) = lane else { break };
                    let wanted = sql_limit(max - deliveries.len());
                    let candidates: Vec<(i64, String, String, i64)> = {
                        let mut select = tx
                            .prepare_cached(
                                "SELECT seq, message_id, body, receive_count FROM queue_messages
                                 WHERE lane = ?4 AND visible_at_ms <= ?1 AND seq > ?2
                                 ORDER BY seq LIMIT ?3",
                            )
                            .context(context)?;
                        let rows = select
                            .query_map(params![now, after_seq, wanted, current as i64], |row| {
                                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                            })
                            .context(context)?;
                        rows.collect::<rusqlite::Result<_>>().context(context)?
                    };
                    if candidates.is_empty() {
                        lane = lanes.next();
                        after_seq = 0;
                        continue;
                    }
                    for (seq, message_id, body, count) in candidates {
                        after_seq = seq;
                        if count >= max_receives {
                            let reason = format!("received {count} times without being deleted");
                            move_to_dead_letters(&tx, seq, &reason, now)?;
                            continue;
                        }
                        let change = decode_change(&message_id, &body, "queue_messages")?;
                        let receipt = uuid::Uuid::new_v4().to_string();
                        tx.execute(
                            "UPDATE queue_messages
                             SET receipt = ?2, visible_at_ms = ?3, receive_count = receive_count + 1,
                                 holder = ?4
                             WHERE seq = ?1",
                            params![seq, receipt, hidden_until, holder],
                        )
                        .context(context)?;
                        deliveries.push(Delivery {
                            receive_count: receive_count(count + 1, &message_id)?,
                            message_id,
                            receipt,
                            change,
                        });
                    }
                }
                tx.commit().context(context)?;
                Ok(deliveries)
            })
            .await
    }

    async fn delete(&self, receipts: &[String]) -> PortResult<()> {
        if receipts.is_empty() {
            return Ok(());
        }
        let receipts = receipts.to_vec();
        self.store
            .call("deleting from the queue", move |connection| {
                let context = "deleting from the queue";
                let tx = immediate(connection, context)?;
                {
                    let mut delete = tx
                        .prepare_cached("DELETE FROM queue_messages WHERE receipt = ?1")
                        .context(context)?;
                    for receipt in &receipts {
                        // A stale receipt matches no row (a newer delivery replaced it): ignored.
                        delete.execute([receipt]).context(context)?;
                    }
                }
                tx.commit().context(context)
            })
            .await
    }

    async fn release(&self, receipt: &str, delay: Duration) -> PortResult<()> {
        let receipt = receipt.to_owned();
        self.store
            .call("releasing a queue message", move |connection| {
                // The receipt stays valid, as with SQS's ChangeMessageVisibility, until the
                // message is received again. Released, it is under nobody's lease: its delay is
                // a retry's wait, which a restart must not cut short.
                connection
                    .execute(
                        "UPDATE queue_messages SET visible_at_ms = ?2, holder = NULL
                         WHERE receipt = ?1",
                        params![receipt, later_ms(now_ms(), delay)],
                    )
                    .context("releasing a queue message")?;
                Ok(())
            })
            .await
    }

    async fn dead_letter(&self, receipt: &str, reason: &str) -> PortResult<()> {
        let receipt = receipt.to_owned();
        let reason = reason.to_owned();
        self.store
            .call("dead-lettering a message", move |connection| {
                let context = "dead-lettering a message";
                let tx = immediate(connection, context)?;
                let seq: Option<i64> = tx
                    .query_row(
                        "SELECT seq FROM queue_messages WHERE receipt = ?1",
                        [&receipt],
                        |row| row.get(0),
                    )
                    .optional()
                    .context(context)?;
                if let Some(seq) = seq {
                    move_to_dead_letters(&tx, seq, &reason, now_ms())?;
                }
                tx.commit().context(context)
            })
            .await
    }

    async fn dead_letters(&self, limit: usize) -> PortResult<Vec<DeadLetter>> {
        self.store
            .call("reading the dead letters", move |connection| {
                let context = "reading the dead letters";
                let mut statement = connection
                    .prepare(
                        "SELECT message_id, body, reason, receive_count, dead_lettered_at_ms
                         FROM dead_letters ORDER BY seq LIMIT ?1",
                    )
                    .context(context)?;
                let rows = statement
                    .query_map([sql_limit(limit)], |row| {
                        Ok((
                            row.get::<_, String>(0)?,
                            row.get::<_, String>(1)?,
                            row.get::<_, String>(2)?,
                            row.get::<_, i64>(3)?,
                            row.get::<_, i64>(4)?,
                        ))
                    })
                    .context(context)?;
                let mut letters = Vec::new();
                for row in rows {
                    let (message_id, body, reason, count, at_ms) = row.context(context)?;
                    let dead_lettered_at =
                        DateTime::from_timestamp_millis(at_ms).ok_or_else(|| {
                            PortError::Corrupt {
                                what: format!("dead letter {message_id}"),
                                reason: format!("time {at_ms} ms is out of range"),
                            }
                        })?;
                    letters.push(DeadLetter {
                        change: decode_change(&message_id, &body, "dead_letters")?,
                        reason,
                        receive_count: receive_count(count, &message_id)?,
                        dead_lettered_at,
                        message_id,
                    });
                }
                Ok(letters)
            })
            .await
    }

    async fn replay(&self, message_ids: &[String]) -> PortResult<u64> {
        let message_ids = message_ids.to_vec();
        self.store
            .call("replaying dead letters", move |connection| {
                let context = "replaying dead letters";
                let tx = immediate(connection, context)?;
                let now = now_ms();
                // Back at the tail of the queue, visible at once, with a fresh receive count
                // and all its tries again (a body that is not JSON is put back as it is).
                let copy = "INSERT INTO queue_messages (message_id, body, visible_at_ms)
                            SELECT message_id,
                                   CASE WHEN json_valid(body)
                                        THEN json_remove(body, '$.prior_deliveries')
                                        ELSE body END,
                                   ?1
                            FROM dead_letters";
                let mut moved = 0_usize;
                if message_ids.is_empty() {
                    moved += tx
                        .execute(&format!("{copy} ORDER BY seq"), [now])
                        .context(context)?;
                    tx.execute("DELETE FROM dead_letters", [])
                        .context(context)?;
                } else {
                    let mut insert = tx
                        .prepare_cached(&format!("{copy} WHERE message_id = ?2"))
                        .context(context)?;
                    let mut delete = tx
                        .prepare_cached("DELETE FROM dead_letters WHERE message_id = ?1")
                        .context(context)?;
                    for message_id in &message_ids {
                        moved += insert.execute(params![now, message_id]).context(context)?;
                        delete.execute([message_id]).context(context)?;
                    }
                }
                tx.commit().context(context)?;
                Ok(moved as u64)
            })
            .await
    }

    async fn oldest_change_age(&self, object: Option<&str>) -> PortResult<Option<Duration>> {
        let object = object.map(str::to_owned);
        self.store
            .call("reading the oldest queued change", move |connection| {
                let context = "reading the oldest queued change";
                // The live line's first message (of the object): the oldest change a person
                // waits for.
                let oldest: Option<(String, String)> = connection
                    .query_row(
                        "SELECT message_id, body FROM queue_messages
                         WHERE ?1 IS NULL OR json_extract(body, '$.object') = ?1
                         ORDER BY lane, seq LIMIT 1",
                        [object],
                        |row| Ok((row.get(0)?, row.get(1)?)),
                    )
                    .optional()
                    .context(context)?;
                let Some((message_id, body)) = oldest else {
                    return Ok(None);
                };
                let change = decode_change(&message_id, &body, "queue_messages")?;
                Ok(Some(
                    (Utc::now() - change.received_at)
                        .to_std()
                        .unwrap_or_default(),
                ))
            })
            .await
    }

    async fn depth(&self) -> PortResult<QueueDepth> {
        self.store
            .call("measuring the queue", |connection| {
                let context = "measuring the queue";
                let now = now_ms();
                let (visible, in_flight, delayed, dead): (i64, i64, i64, i64) = connection
                    .query_row(
                        "SELECT
                             COALESCE(SUM(visible_at_ms <= ?1), 0),
                             COALESCE(SUM(visible_at_ms > ?1 AND receipt IS NOT NULL), 0),
                             COALESCE(SUM(visible_at_ms > ?1 AND receipt IS NULL), 0),
                             (SELECT COUNT(*) FROM dead_letters)
                         FROM queue_messages",
                        [now],
                        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
                    )
                    .context(context)?;
                Ok(QueueDepth {
                    visible: to_u64(visible, context)?,
                    in_flight: to_u64(in_flight, context)?,
                    delayed: to_u64(delayed, context)?,
                    dead: to_u64(dead, context)?,
                })
            })
            .await
    }
}
