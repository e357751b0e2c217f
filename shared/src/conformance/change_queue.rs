//! Conformance of [`ChangeQueue`] adapters.
//!
//! Factory contract: `factory(max_receives)` returns a fresh, empty queue (with its own empty
//! dead-letter queue) whose redrive limit is `max_receives`: a message received `max_receives`
//! times without being deleted goes to the dead-letter queue on the next receive. The suite
//! uses small limits (2 to 5) so that redrive is reached quickly; an SQS adapter sets
//! `maxReceiveCount` to this value on the queue it creates.
//!
//! Receives ask for at most 10 messages (SQS's ceiling) and loop until they have what they
//! expect, since a receive may return fewer messages than are visible.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{ok, sample_change};
use crate::domain::{Change, ChangeKind, RereadReason};
use crate::ports::{ChangeQueue, Delivery, QueueDepth};

/// The redrive limit used by checks that do not test redrive.
pub const DEFAULT_MAX_RECEIVES: u32 = 5;

/// The redrive limit the redrive check uses.
pub const REDRIVE_MAX_RECEIVES: u32 = 3;

/// The most a check asks one receive for.
const RECEIVE_BATCH: usize = 10;

/// Long enough that nothing times out during a check.
const LONG_VISIBILITY: Duration = Duration::from_secs(60);

/// The shortest visibility timeout and delay SQS accepts.
const SHORT: Duration = Duration::from_secs(1);

/// How long to wait past a short timeout, for clock skew between client and server.
const SHORT_WAIT: Duration = Duration::from_millis(1600);

/// How long a check keeps receiving before it concludes that messages are missing.
const PATIENCE: Duration = Duration::from_secs(10);

/// Runs every check, each on a fresh queue from `factory(max_receives)`.
pub async fn run_all<F, Fut>(factory: F)
where
    F: Fn(u32) -> Fut,
    Fut: Future<Output = Arc<dyn ChangeQueue>>,
{
    check_empty_queue(factory(DEFAULT_MAX_RECEIVES).await).await;
    check_round_trip_preserves_changes(factory(DEFAULT_MAX_RECEIVES).await).await;
    check_batch_of_many(factory(DEFAULT_MAX_RECEIVES).await).await;
    check_invisible_in_flight_then_visible_after_timeout(factory(DEFAULT_MAX_RECEIVES).await).await;
    check_release(factory(DEFAULT_MAX_RECEIVES).await).await;
    check_stale_receipts_are_ignored(factory(DEFAULT_MAX_RECEIVES).await).await;
    check_delayed_send(factory(DEFAULT_MAX_RECEIVES).await).await;
    check_redrive_after_max_receives(factory(REDRIVE_MAX_RECEIVES).await, REDRIVE_MAX_RECEIVES)
        .await;
    check_explicit_dead_letter_and_replay(factory(DEFAULT_MAX_RECEIVES).await).await;
    check_replay_of_chosen_ids(factory(DEFAULT_MAX_RECEIVES).await).await;
    check_depth(factory(DEFAULT_MAX_RECEIVES).await).await;
    check_concurrent_receivers(factory(DEFAULT_MAX_RECEIVES).await).await;
    check_a_change_too_big_for_a_message_goes_as_a_re_read(factory(DEFAULT_MAX_RECEIVES).await)
        .await;
}

/// A change whose state is over a message's 256 KiB (long text areas: S8, A1) is queued as a
/// marker that makes the worker read the record: same record, stamp and source, no values. The
/// other changes sent with it go as they are; nothing is refused.
pub async fn check_a_change_too_big_for_a_message_goes_as_a_re_read(queue: Arc<dyn ChangeQueue>) {
    let mut too_big = sample_change(4);
    if let ChangeKind::Upsert { fields } = &mut too_big.kind {
        fields.insert(
            "Notes__c".to_owned(),
            serde_json::json!("n".repeat(crate::ports::MAX_MESSAGE_BYTES)),
        );
    }
    let small = sample_change(8);
    let sent = queue.send_batch(&[small.clone(), too_big.clone()]).await;
    ok("too_big", "send_batch", sent);
    let received = receive_exactly("too_big", queue.as_ref(), 2, LONG_VISIBILITY).await;
    let by_record: HashMap<_, _> = received
        .into_iter()
        .map(|d| (d.change.record_id.clone(), d.change))
        .collect();
    assert_eq!(
        by_record.get(&small.record_id),
        Some(&small),
        "too_big: the small change as sent"
    );
    let marker = by_record
        .get(&too_big.record_id)
        .expect("too_big: the big change is queued");
    assert_eq!(
        marker,
        &Change {
            kind: ChangeKind::Reread {
                reason: RereadReason::TooLarge,
                partial: crate::domain::FieldSnapshot::new(),
            },
            ..too_big
        },
        "too_big: a re-read marker with the record, stamp and source"
    );
}

/// Receives until `expected` deliveries are in hand (or `PATIENCE` runs out), then asserts the
/// count. Never asks for more than are still expected.
pub async fn receive_exactly(
    check: &str,
    queue: &dyn ChangeQueue,
    expected: usize,
    visibility: Duration,
) -> Vec<Delivery> {
    let started = Instant::now();
    let mut deliveries = Vec::new();
    while deliveries.len() < expected && started.elapsed() < PATIENCE {
        let wanted = (expected - deliveries.len()).min(RECEIVE_BATCH);
        let batch = ok(check, "receive", queue.receive(wanted, visibility).await);
        if batch.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        deliveries.extend(batch);
    }
    assert_eq!(
        deliveries.len(),
        expected,
        "[{check}] expected {expected} deliveries within {PATIENCE:?}"
    );
    deliveries
}

/// Asserts that nothing can be received now.
async fn assert_nothing_visible(check: &str, queue: &dyn ChangeQueue, why: &str) {
    let batch = ok(
        check,
        "receive",
        queue.receive(RECEIVE_BATCH, LONG_VISIBILITY).await,
    );
    assert!(
        batch.is_empty(),
        "[{check}] {why}, but got {} deliveries: {:?}",
        batch.len(),
        batch.iter().map(|d| &d.message_id).collect::<Vec<_>>()
    );
}

fn receipts(deliveries: &[Delivery]) -> Vec<String> {
    deliveries.iter().map(|d| d.receipt.clone()).collect()
}

/// Changes keyed by record id, to compare sets regardless of delivery order.
fn by_record(changes: impl IntoIterator<Item = Change>) -> HashMap<String, Change> {
    changes
        .into_iter()
        .map(|c| (c.record_id.as_str().to_owned(), c))
        .collect()
}

async fn depth(check: &str, queue: &dyn ChangeQueue) -> QueueDepth {
    ok(check, "depth", queue.depth().await)
}

/// Empty inputs are accepted and an empty queue reads as empty.
pub async fn check_empty_queue(queue: Arc<dyn ChangeQueue>) {
    const CHECK: &str = "queue::empty_queue";
    ok(CHECK, "send_batch of nothing", queue.send_batch(&[]).await);
    assert_nothing_visible(CHECK, queue.as_ref(), "the queue is empty").await;
    ok(CHECK, "delete of nothing", queue.delete(&[]).await);
    let dead = ok(CHECK, "dead_letters", queue.dead_letters(10).await);
    assert!(
        dead.is_empty(),
        "[{CHECK}] no dead letters expected: {dead:?}"
    );
    let replayed = ok(CHECK, "replay of all", queue.replay(&[]).await);
    assert_eq!(replayed, 0, "[{CHECK}] nothing to replay");
    assert_eq!(
        depth(CHECK, queue.as_ref()).await,
        QueueDepth::default(),
        "[{CHECK}] depth of an empty queue"
    );
}

/// Send, receive, delete: every change comes back exactly as sent, once, then it is gone.
pub async fn check_round_trip_preserves_changes(queue: Arc<dyn ChangeQueue>) {
    const CHECK: &str = "queue::round_trip";
    let sent: Vec<Change> = (0..4).map(sample_change).collect();
    ok(CHECK, "send_batch", queue.send_batch(&sent).await);

    let deliveries = receive_exactly(CHECK, queue.as_ref(), sent.len(), LONG_VISIBILITY).await;
    for delivery in &deliveries {
        assert_eq!(
            delivery.receive_count, 1,
            "[{CHECK}] first delivery of {} counts 1",
            delivery.message_id
        );
        assert!(
            !delivery.receipt.is_empty() && !delivery.message_id.is_empty(),
            "[{CHECK}] deliveries carry a message id and a receipt"
        );
    }
    let ids: HashSet<&str> = deliveries.iter().map(|d| d.message_id.as_str()).collect();
    assert_eq!(ids.len(), sent.len(), "[{CHECK}] message ids are distinct");
    assert_eq!(
        by_record(deliveries.iter().map(|d| d.change.clone())),
        by_record(sent),
        "[{CHECK}] received changes equal the sent ones, field for field"
    );

    ok(CHECK, "delete", queue.delete(&receipts(&deliveries)).await);
    assert_nothing_visible(CHECK, queue.as_ref(), "deleted messages are gone").await;
    assert_eq!(
        depth(CHECK, queue.as_ref()).await,
        QueueDepth::default(),
        "[{CHECK}] depth after deleting everything"
    );
}

/// A batch larger than SQS's 10-entry limit goes through whole.
pub async fn check_batch_of_many(queue: Arc<dyn ChangeQueue>) {
    const CHECK: &str = "queue::batch_of_many";
    let sent: Vec<Change> = (100..125).map(sample_change).collect();
    ok(CHECK, "send_batch of 25", queue.send_batch(&sent).await);
    let deliveries = receive_exactly(CHECK, queue.as_ref(), sent.len(), LONG_VISIBILITY).await;
    assert_eq!(
        by_record(deliveries.iter().map(|d| d.change.clone())),
        by_record(sent),
        "[{CHECK}] all 25 changes arrive intact"
    );
    ok(
        CHECK,
        "delete of 25",
        queue.delete(&receipts(&deliveries)).await,
    );
    assert_eq!(
        depth(CHECK, queue.as_ref()).await,
        QueueDepth::default(),
        "[{CHECK}] depth after deleting the batch"
    );
}

/// A received message is hidden until its visibility timeout ends, then delivered again with a
/// new receipt and a receive count of 2.
pub async fn check_invisible_in_flight_then_visible_after_timeout(queue: Arc<dyn ChangeQueue>) {
    const CHECK: &str = "queue::visibility_timeout";
    let change = sample_change(7);
    ok(
        CHECK,
        "send_batch",
        queue.send_batch(std::slice::from_ref(&change)).await,
    );
    let first = receive_exactly(CHECK, queue.as_ref(), 1, SHORT).await;
    assert_nothing_visible(CHECK, queue.as_ref(), "an in-flight message is invisible").await;

    tokio::time::sleep(SHORT_WAIT).await;
    let second = receive_exactly(CHECK, queue.as_ref(), 1, LONG_VISIBILITY).await;
    assert_eq!(
        second[0].message_id, first[0].message_id,
        "[{CHECK}] the same message comes back"
    );
    assert_eq!(
        second[0].receive_count, 2,
        "[{CHECK}] second delivery counts 2"
    );
    assert_ne!(
        second[0].receipt, first[0].receipt,
        "[{CHECK}] each delivery has its own receipt"
    );
    assert_eq!(
        second[0].change, change,
        "[{CHECK}] the change is unchanged"
    );

    ok(CHECK, "delete", queue.delete(&receipts(&second)).await);
    assert_eq!(
        depth(CHECK, queue.as_ref()).await,
        QueueDepth::default(),
        "[{CHECK}] depth after delete"
    );
}

/// `release` with no delay makes a delivery visible at once; with a delay, after it. Both count
/// as receives.
pub async fn check_release(queue: Arc<dyn ChangeQueue>) {
    const CHECK: &str = "queue::release";
    let change = sample_change(8);
    ok(
        CHECK,
        "send_batch",
        queue.send_batch(std::slice::from_ref(&change)).await,
    );

    let first = receive_exactly(CHECK, queue.as_ref(), 1, LONG_VISIBILITY).await;
    ok(
        CHECK,
        "release with zero delay",
        queue.release(&first[0].receipt, Duration::ZERO).await,
    );
    let second = receive_exactly(CHECK, queue.as_ref(), 1, LONG_VISIBILITY).await;
    assert_eq!(
        second[0].message_id, first[0].message_id,
        "[{CHECK}] same message"
    );
    assert_eq!(
        second[0].receive_count, 2,
        "[{CHECK}] a release counts as a receive"
    );

    ok(
        CHECK,
        "release with a delay",
        queue.release(&second[0].receipt, SHORT).await,
    );
    assert_nothing_visible(
        CHECK,
        queue.as_ref(),
        "a message released with a delay waits",
    )
    .await;
    tokio::time::sleep(SHORT_WAIT).await;
    let third = receive_exactly(CHECK, queue.as_ref(), 1, LONG_VISIBILITY).await;
    assert_eq!(
        third[0].receive_count, 3,
        "[{CHECK}] third delivery counts 3"
    );
    assert_eq!(third[0].change, change, "[{CHECK}] the change is unchanged");
    ok(CHECK, "delete", queue.delete(&receipts(&third)).await);
}

/// Deleting or releasing with an old receipt (or garbage) is accepted and does nothing; the
/// latest receipt still works.
pub async fn check_stale_receipts_are_ignored(queue: Arc<dyn ChangeQueue>) {
    const CHECK: &str = "queue::stale_receipts";
    ok(
        CHECK,
        "send_batch",
        queue.send_batch(&[sample_change(9)]).await,
    );
    let first = receive_exactly(CHECK, queue.as_ref(), 1, LONG_VISIBILITY).await;
    ok(
        CHECK,
        "release",
        queue.release(&first[0].receipt, Duration::ZERO).await,
    );
    let second = receive_exactly(CHECK, queue.as_ref(), 1, LONG_VISIBILITY).await;

    ok(
        CHECK,
        "delete with a stale and an unknown receipt",
        queue
            .delete(&[first[0].receipt.clone(), "no-such-receipt".to_owned()])
            .await,
    );
    ok(
        CHECK,
        "release with an unknown receipt",
        queue.release("no-such-receipt", Duration::ZERO).await,
    );
    ok(
        CHECK,
        "dead_letter with an unknown receipt",
        queue.dead_letter("no-such-receipt", "test").await,
    );
    let after = depth(CHECK, queue.as_ref()).await;
    assert_eq!(
        (after.in_flight, after.dead),
        (1, 0),
        "[{CHECK}] a stale delete leaves the in-flight message alone: {after:?}"
    );

    ok(
        CHECK,
        "release",
        queue.release(&second[0].receipt, Duration::ZERO).await,
    );
    let third = receive_exactly(CHECK, queue.as_ref(), 1, LONG_VISIBILITY).await;
    assert_eq!(
        third[0].message_id, first[0].message_id,
        "[{CHECK}] the message survived the stale delete"
    );
    ok(
        CHECK,
        "delete with the latest receipt",
        queue.delete(&receipts(&third)).await,
    );
    assert_eq!(
        depth(CHECK, queue.as_ref()).await,
        QueueDepth::default(),
        "[{CHECK}] the latest receipt deletes"
    );
}

/// A delayed send is invisible (and counted as delayed) until its delay has passed.
pub async fn check_delayed_send(queue: Arc<dyn ChangeQueue>) {
    const CHECK: &str = "queue::delayed_send";
    let change = sample_change(10);
    ok(
        CHECK,
        "send_delayed",
        queue
            .send_delayed(std::slice::from_ref(&change), SHORT)
            .await,
    );
    assert_nothing_visible(
        CHECK,
        queue.as_ref(),
        "a delayed message waits out its delay",
    )
    .await;
    let waiting = depth(CHECK, queue.as_ref()).await;
    assert_eq!(
        (waiting.visible, waiting.delayed),
        (0, 1),
        "[{CHECK}] depth while delayed: {waiting:?}"
    );
    tokio::time::sleep(SHORT_WAIT).await;
    let deliveries = receive_exactly(CHECK, queue.as_ref(), 1, LONG_VISIBILITY).await;
    assert_eq!(
        deliveries[0].change, change,
        "[{CHECK}] the delayed change arrives"
    );
    assert_eq!(
        deliveries[0].receive_count, 1,
        "[{CHECK}] first delivery counts 1"
    );
    ok(CHECK, "delete", queue.delete(&receipts(&deliveries)).await);
}

/// A message received `max_receives` times without being deleted goes to the dead-letter queue,
/// with a reason, instead of a further delivery. `queue` must have been made with
/// `max_receives`.
pub async fn check_redrive_after_max_receives(queue: Arc<dyn ChangeQueue>, max_receives: u32) {
    const CHECK: &str = "queue::redrive";
    let change = sample_change(11);
    ok(
        CHECK,
        "send_batch",
        queue.send_batch(std::slice::from_ref(&change)).await,
    );
    let mut message_id = String::new();
    for attempt in 1..=max_receives {
        let delivery = receive_exactly(CHECK, queue.as_ref(), 1, LONG_VISIBILITY).await;
        assert_eq!(
            delivery[0].receive_count, attempt,
            "[{CHECK}] delivery {attempt} counts {attempt}"
        );
        message_id.clone_from(&delivery[0].message_id);
        ok(
            CHECK,
            "release",
            queue.release(&delivery[0].receipt, Duration::ZERO).await,
        );
    }
    assert_nothing_visible(
        CHECK,
        queue.as_ref(),
        &format!("after {max_receives} receives the message is dead-lettered, not delivered"),
    )
    .await;

    let dead = ok(CHECK, "dead_letters", queue.dead_letters(10).await);
    assert_eq!(dead.len(), 1, "[{CHECK}] one dead letter: {dead:?}");
    assert_eq!(dead[0].message_id, message_id, "[{CHECK}] the same message");
    assert_eq!(
        dead[0].change, change,
        "[{CHECK}] the dead letter keeps the change"
    );
    assert!(
        dead[0].reason.contains("received"),
        "[{CHECK}] the reason says it was received too often: {:?}",
        dead[0].reason
    );
    assert!(
        dead[0].receive_count >= max_receives,
        "[{CHECK}] receive count {} should be at least {max_receives}",
        dead[0].receive_count
    );
    let after = depth(CHECK, queue.as_ref()).await;
    assert_eq!(
        after,
        QueueDepth {
            dead: 1,
            ..QueueDepth::default()
        },
        "[{CHECK}] depth after redrive"
    );
}

/// A worker dead-letters a poison message with its reason; replay puts it back with a fresh
/// receive count and all its tries again, and it can then be received and deleted.
pub async fn check_explicit_dead_letter_and_replay(queue: Arc<dyn ChangeQueue>) {
    const CHECK: &str = "queue::dead_letter_and_replay";
    // A copy the worker requeued after failed tries.
    let poison = Change {
        prior_deliveries: 4,
        ..sample_change(12)
    };
    let fine = sample_change(13);
    ok(
        CHECK,
        "send_batch",
        queue.send_batch(&[poison.clone(), fine.clone()]).await,
    );
    let deliveries = receive_exactly(CHECK, queue.as_ref(), 2, LONG_VISIBILITY).await;
    let (poisoned, healthy): (Vec<Delivery>, Vec<Delivery>) = deliveries
        .into_iter()
        .partition(|d| d.change.record_id == poison.record_id);
    assert_eq!(
        (poisoned.len(), healthy.len()),
        (1, 1),
        "[{CHECK}] both changes delivered"
    );
    let reason = "Amount__c: `12,5` is not a number for HubSpot property amount (fix the value)";
    ok(
        CHECK,
        "dead_letter",
        queue.dead_letter(&poisoned[0].receipt, reason).await,
    );
    ok(CHECK, "delete", queue.delete(&receipts(&healthy)).await);

    let dead = ok(CHECK, "dead_letters", queue.dead_letters(10).await);
    assert_eq!(dead.len(), 1, "[{CHECK}] one dead letter: {dead:?}");
    assert_eq!(
        dead[0].reason, reason,
        "[{CHECK}] the reason is kept verbatim"
    );
    assert_eq!(dead[0].change, poison, "[{CHECK}] the change is kept");
    assert_eq!(dead[0].receive_count, 1, "[{CHECK}] received once before");
    assert_eq!(
        depth(CHECK, queue.as_ref()).await,
        QueueDepth {
            dead: 1,
            ..QueueDepth::default()
        },
        "[{CHECK}] depth with one dead letter"
    );

    let replayed = ok(CHECK, "replay all", queue.replay(&[]).await);
    assert_eq!(replayed, 1, "[{CHECK}] one message replayed");
    let left = ok(CHECK, "dead_letters", queue.dead_letters(10).await);
    assert!(
        left.is_empty(),
        "[{CHECK}] replay empties the dead letters: {left:?}"
    );
    let again = receive_exactly(CHECK, queue.as_ref(), 1, LONG_VISIBILITY).await;
    assert_eq!(
        again[0].change,
        Change {
            prior_deliveries: 0,
            ..poison
        },
        "[{CHECK}] the replayed change arrives, its tries to come"
    );
    assert_eq!(
        again[0].receive_count, 1,
        "[{CHECK}] replay resets the receive count"
    );
    ok(CHECK, "delete", queue.delete(&receipts(&again)).await);
    assert_eq!(
        depth(CHECK, queue.as_ref()).await,
        QueueDepth::default(),
        "[{CHECK}] empty at the end"
    );
}

/// Replay of chosen message ids moves only those; unknown ids move nothing.
pub async fn check_replay_of_chosen_ids(queue: Arc<dyn ChangeQueue>) {
    const CHECK: &str = "queue::replay_chosen";
    let sent: Vec<Change> = (20..23).map(sample_change).collect();
    ok(CHECK, "send_batch", queue.send_batch(&sent).await);
    let deliveries = receive_exactly(CHECK, queue.as_ref(), 3, LONG_VISIBILITY).await;
    for delivery in &deliveries {
        ok(
            CHECK,
            "dead_letter",
            queue.dead_letter(&delivery.receipt, "poison").await,
        );
    }
    let dead = ok(CHECK, "dead_letters", queue.dead_letters(10).await);
    assert_eq!(dead.len(), 3, "[{CHECK}] three dead letters");
    let limited = ok(CHECK, "dead_letters(2)", queue.dead_letters(2).await);
    assert_eq!(limited.len(), 2, "[{CHECK}] dead_letters honours its limit");

    let chosen = dead[1].clone();
    let none = ok(
        CHECK,
        "replay of an unknown id",
        queue.replay(&["no-such-message".to_owned()]).await,
    );
    assert_eq!(none, 0, "[{CHECK}] an unknown id replays nothing");
    let moved = ok(
        CHECK,
        "replay of one id",
        queue.replay(std::slice::from_ref(&chosen.message_id)).await,
    );
    assert_eq!(moved, 1, "[{CHECK}] one message replayed");

    let left = ok(CHECK, "dead_letters", queue.dead_letters(10).await);
    let left_ids: HashSet<&str> = left.iter().map(|d| d.message_id.as_str()).collect();
    let expected: HashSet<&str> = dead
        .iter()
        .filter(|d| d.message_id != chosen.message_id)
        .map(|d| d.message_id.as_str())
        .collect();
    assert_eq!(left_ids, expected, "[{CHECK}] the others stay dead");

    let back = receive_exactly(CHECK, queue.as_ref(), 1, LONG_VISIBILITY).await;
    assert_eq!(
        back[0].change, chosen.change,
        "[{CHECK}] only the chosen one is back"
    );
    assert_nothing_visible(CHECK, queue.as_ref(), "only one message was replayed").await;
    ok(CHECK, "delete", queue.delete(&receipts(&back)).await);
}

/// `depth` tells visible, in-flight, delayed and dead messages apart.
pub async fn check_depth(queue: Arc<dyn ChangeQueue>) {
    const CHECK: &str = "queue::depth";
    let now: Vec<Change> = (30..33).map(sample_change).collect();
    ok(CHECK, "send_batch", queue.send_batch(&now).await);
    ok(
        CHECK,
        "send_delayed",
        queue
            .send_delayed(&[sample_change(33)], Duration::from_secs(60))
            .await,
    );
    let taken = receive_exactly(CHECK, queue.as_ref(), 1, LONG_VISIBILITY).await;
    assert_eq!(
        depth(CHECK, queue.as_ref()).await,
        QueueDepth {
            visible: 2,
            in_flight: 1,
            delayed: 1,
            dead: 0
        },
        "[{CHECK}] three sent, one taken, one delayed"
    );
    ok(
        CHECK,
        "dead_letter",
        queue.dead_letter(&taken[0].receipt, "poison").await,
    );
    assert_eq!(
        depth(CHECK, queue.as_ref()).await,
        QueueDepth {
            visible: 2,
            in_flight: 0,
            delayed: 1,
            dead: 1
        },
        "[{CHECK}] after dead-lettering the taken one"
    );
}

/// Several receivers on one queue never get the same message while it is in flight, and
/// together they get every message.
pub async fn check_concurrent_receivers(queue: Arc<dyn ChangeQueue>) {
    const CHECK: &str = "queue::concurrent_receivers";
    const MESSAGES: u32 = 200;
    const RECEIVERS: usize = 4;
    let sent: Vec<Change> = (1000..1000 + MESSAGES).map(sample_change).collect();
    for chunk in sent.chunks(50) {
        ok(CHECK, "send_batch", queue.send_batch(chunk).await);
    }

    let mut tasks = Vec::new();
    for _ in 0..RECEIVERS {
        let queue = Arc::clone(&queue);
        tasks.push(tokio::spawn(async move {
            // Nothing is deleted until the end: every message stays in flight, so any
            // duplicate is a message delivered twice while invisible.
            let mut got: Vec<Delivery> = Vec::new();
            let started = Instant::now();
            let mut empty_in_a_row = 0;
            while empty_in_a_row < 3 && started.elapsed() < PATIENCE {
                let batch = ok(
                    CHECK,
                    "receive",
                    queue.receive(RECEIVE_BATCH, LONG_VISIBILITY).await,
                );
                if batch.is_empty() {
                    empty_in_a_row += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                } else {
                    empty_in_a_row = 0;
                    got.extend(batch);
                }
            }
            got
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        match task.await {
            Ok(got) => all.extend(got),
            Err(error) => panic!("[{CHECK}] a receiver task failed: {error}"),
        }
    }

    let mut seen = HashSet::new();
    for delivery in &all {
        assert!(
            seen.insert(delivery.message_id.clone()),
            "[{CHECK}] message {} was delivered twice while in flight",
            delivery.message_id
        );
    }
    assert_eq!(
        all.len(),
        MESSAGES as usize,
        "[{CHECK}] together the receivers get every message"
    );
    assert_eq!(
        by_record(all.iter().map(|d| d.change.clone())),
        by_record(sent),
        "[{CHECK}] every change arrives intact"
    );
    for chunk in all.chunks(25) {
        ok(CHECK, "delete", queue.delete(&receipts(chunk)).await);
    }
    assert_eq!(
        depth(CHECK, queue.as_ref()).await,
        QueueDepth::default(),
        "[{CHECK}] empty after deleting everything"
    );
}
