//! The worker: takes a batch of queued changes and makes HubSpot match Salesforce.
//!
//! For each batch it groups changes by mapping, keeps each record's newest change, reads from
//! Salesforce the records whose state did not travel with the change, drops states older than
//! what the record index says was applied, maps, skips records whose content did not change,
//! writes HubSpot in batches (upsert, archive, associations), then records the new state in the
//! index with a conditional write and logs every record's outcome.
//!
//! It decides what happens to each message (`Disposition`); the caller applies that to its
//! queue: the Lambda turns retries into `batchItemFailures`, the local pipeline releases or
//! dead-letters on the embedded queue (`drain`).

mod drain;
mod plan;
mod refetch;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::domain::{
    Change, ChangeKind, ChangeSource, FieldSnapshot, RecordKey, RefetchReason, SalesforceId,
};
use crate::engine::{MappedRecord, map_record};
use crate::mapping::{AssociationTarget, DeleteRule, HubSpotObjectRef, Mapping, MappingStatus};
use crate::ports::{
    AssociationPair, ChangeQueue, HubSpotRecords, ImportCounts, ImportJobs, IndexEntry, IndexWrite,
    MappingStore, RecordIndex, RemoteError, SalesforceRecords, SyncLog, SyncLogEntry, SyncOutcome,
    UpsertRecord, WriteOutcome,
};
use crate::salesforce::intake::outbound::parse_salesforce_datetime;

pub use drain::{DrainReport, drain_once};

/// The Salesforce fields a mapping reads (with `SystemModstamp`), as the API names them: what a
/// re-fetch or a backfill must ask for.
pub fn refetch_fields(mapping: &Mapping) -> Vec<String> {
    refetch::api_fields(&refetch::field_requests(mapping))
}

/// A record read from Salesforce's API, reshaped for the mapping: compound components come back
/// as flat fields (`BillingCity`) and go under their compound (`BillingAddress.City`).
pub fn snapshot_for_mapping(mapping: &Mapping, fields: FieldSnapshot) -> FieldSnapshot {
    refetch::nest_components(fields, &refetch::field_requests(mapping))
}

/// The reason prefix of changes parked because their mapping is paused; activation replays them.
pub const PAUSED_REASON_PREFIX: &str = "paused:";

/// Everything the worker reads and writes.
#[derive(Clone)]
pub struct WorkerPorts {
    pub mappings: Arc<dyn MappingStore>,
    pub index: Arc<dyn RecordIndex>,
    pub log: Arc<dyn SyncLog>,
    pub jobs: Arc<dyn ImportJobs>,
    /// Where re-fetches the worker asks for itself go (a concurrent update).
    pub queue: Arc<dyn ChangeQueue>,
    pub hubspot: Arc<dyn HubSpotRecords>,
    pub salesforce: Arc<dyn SalesforceRecords>,
}

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

/// The longest delay SQS takes on a message (`DelaySeconds`).
const MAX_QUEUE_DELAY: Duration = Duration::from_secs(900);

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

/// The worker's answer for a batch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchResult {
    /// One entry per message received, in no particular order.
    pub dispositions: Vec<(String, Disposition)>,
    /// Records written to HubSpot (upserted, archived).
    pub written: usize,
    /// Records skipped on purpose (unchanged, older, kept).
    pub skipped: usize,
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

pub struct Worker {
    ports: WorkerPorts,
    settings: WorkerSettings,
}

/// A record's state as the worker will apply it.
enum State {
    Upsert(FieldSnapshot),
    Delete,
}

/// One record in flight through the batch.
struct Item {
    message: InboundMessage,
    superseded: Vec<InboundMessage>,
    state: Option<State>,
    modstamp: DateTime<Utc>,
    /// `modstamp` is Salesforce's (a `SystemModstamp` or a CDC commit time), not the time the
    /// change was received: only Salesforce's clock may be compared with the index's.
    modstamp_known: bool,
    mapped: Option<MappedRecord>,
    hubspot_id: Option<String>,
    /// A delete that archived the HubSpot record (rather than keeping it, or finding none).
    archived: bool,
    /// The index's modstamp for the record when this batch read it (`None`: no entry).
    seen_modstamp: Option<DateTime<Utc>>,
    /// That entry's `write_id`: a write that replaces another one shows a writer in between.
    seen_write: Option<u64>,
    /// HubSpot created the record in this batch: it has no associations to prune.
    created: bool,
    /// Deleted in Salesforce under `on_delete = "keep"`: written with its last state, and
    /// recorded in the index as deleted.
    kept_after_delete: bool,
    outcome: Option<ItemOutcome>,
}

impl Item {
    /// A re-read after a lost race or a pending association: HubSpot may hold another state
    /// than the index says, so "unchanged since the last write" cannot be trusted for it.
    fn after_lost_race(&self) -> bool {
        std::iter::once(&self.message)
            .chain(&self.superseded)
            .any(|m| {
                matches!(
                    m.change.kind,
                    ChangeKind::Refetch {
                        reason: RefetchReason::ConcurrentUpdate | RefetchReason::AssociationPending,
                        ..
                    }
                )
            })
    }

    /// A change of the record asks for it to be read now (a re-read of unknown age: after a
    /// lost race, for a pending association, from a sender without a stamp). What Salesforce
    /// has now is at least as new as any state a message carries, so the carried state of the
    /// newest message must not stand in for it: the re-read would be settled with it unread,
    /// and HubSpot could keep an older state, or miss an association, with nothing left to
    /// fix it.
    fn read_requested(&self) -> bool {
        std::iter::once(&self.message)
            .chain(&self.superseded)
            .any(|m| {
                m.change.modstamp.is_none() && matches!(m.change.kind, ChangeKind::Refetch { .. })
            })
    }

    /// Whether an earlier delivery of this record's changes may have reached HubSpot (a
    /// redelivery after a crash, a timeout or a failed answer to an applied write).
    fn delivered_before(&self) -> bool {
        std::iter::once(&self.message)
            .chain(&self.superseded)
            .any(|m| m.tries() > 1)
    }
}

enum ItemOutcome {
    Synced {
        detail: &'static str,
    },
    Skipped {
        reason: String,
    },
    Failed {
        reason: String,
        delay: Duration,
        budget: Budget,
    },
    /// Written, but an association target is not in HubSpot yet: wait for it.
    WaitingForTarget {
        reason: String,
    },
}

/// Whether a failure spends the record's tries (`WorkerSettings::max_receives`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Budget {
    /// Tries are spent or trying again cannot help: dead-letter it now.
    Spent,
    /// The record's own failure, with tries left: it is tried again from a fresh copy on the
    /// queue, so that a crash or a timeout of some later batch cannot spend the queue's last
    /// receive and leave SQS's redrive to dead-letter it without this reason.
    Counted,
    /// An outage, not the record's fault: retried without spending its tries.
    Outage,
}

impl Worker {
    pub fn new(ports: WorkerPorts, settings: WorkerSettings) -> Self {
        Worker { ports, settings }
    }

    pub fn ports(&self) -> &WorkerPorts {
        &self.ports
    }

    /// Processes one batch. It never fails as a whole: a failure becomes a disposition per
    /// message, so one bad record cannot hold back the others.
    pub async fn process(&self, batch: Vec<InboundMessage>) -> BatchResult {
        let mut by_object: BTreeMap<String, Vec<InboundMessage>> = BTreeMap::new();
        for message in batch {
            by_object
                .entry(message.change.object.clone())
                .or_default()
                .push(message);
        }
        let mut result = BatchResult::default();
        let mut log = Vec::new();
        let mut import_counts: HashMap<String, ImportCounts> = HashMap::new();
        for (object, messages) in by_object {
            let items = self.process_object(&object, messages).await;
            for item in items {
                self.settle(item, &mut result, &mut log, &mut import_counts);
            }
        }
        if let Err(e) = self.ports.log.append(&log).await {
            // The sync log is for people; losing entries must not make HubSpot writes repeat.
            tracing::warn!(entries = log.len(), error = %e, "cannot write sync-log entries");
        }
        for (job_id, counts) in import_counts {
            if let Err(e) = self.ports.jobs.add_counts(&job_id, counts).await {
                tracing::warn!(import = %job_id, error = %e, "cannot update import counts");
                continue;
            }
            if let Err(e) =
                crate::import::complete_if_settled(self.ports.jobs.as_ref(), &job_id).await
            {
                tracing::warn!(import = %job_id, error = %e, "cannot complete the import");
            }
        }
        result
    }

    /// Turns an item's outcome into dispositions, log entries and import counts.
    fn settle(
        &self,
        item: Item,
        result: &mut BatchResult,
        log: &mut Vec<SyncLogEntry>,
        import_counts: &mut HashMap<String, ImportCounts>,
    ) {
        let Item {
            message,
            superseded,
            outcome,
            hubspot_id,
            ..
        } = item;
        let outcome = outcome.unwrap_or(ItemOutcome::Failed {
            reason: "the worker did not finish this record (a bug): it will be retried".into(),
            delay: self.settings.retry_delay,
            budget: Budget::Outage,
        });
        let entry = |outcome: SyncOutcome, reason: Option<String>| SyncLogEntry {
            at: Utc::now(),
            salesforce_object: message.change.object.clone(),
            record_id: message.change.record_id.clone(),
            outcome,
            reason,
            hubspot_id: hubspot_id.clone(),
        };
        let (disposition, done) = match outcome {
            ItemOutcome::Synced { detail } => {
                result.written += 1;
                log.push(entry(SyncOutcome::Synced, Some(detail.to_owned())));
                (Disposition::Done, Some(true))
            }
            ItemOutcome::Skipped { reason } => {
                result.skipped += 1;
                log.push(entry(SyncOutcome::Skipped, Some(reason)));
                (Disposition::Done, Some(true))
            }
            ItemOutcome::Failed {
                reason,
                budget: Budget::Spent,
                ..
            } => {
                log.push(entry(SyncOutcome::DeadLettered, Some(reason.clone())));
                (Disposition::DeadLetter { reason }, Some(false))
            }
            ItemOutcome::Failed {
                reason,
                delay,
                budget,
            } => {
                log.push(entry(SyncOutcome::Failed, Some(reason.clone())));
                // An outage waits on the same message while the queue has receives left; on
                // its last one (and after every counted failure) a copy carries the tries on,
                // so the dead-letter queue only gets changes with the worker's reason, or
                // changes whose batches crashed or timed out every time.
                if budget == Budget::Outage && message.receive_count < self.settings.max_receives {
                    (Disposition::Retry { reason, delay }, None)
                } else {
                    let change = Change {
                        prior_deliveries: message.tries(),
                        ..message.change.clone()
                    };
                    (
                        Disposition::Requeue {
                            change: Box::new(change),
                            reason,
                            delay: delay.min(MAX_QUEUE_DELAY),
                        },
                        None,
                    )
                }
            }
            ItemOutcome::WaitingForTarget { reason } => {
                let waited = (Utc::now() - message.change.received_at)
                    .to_std()
                    .unwrap_or_default();
                if waited >= self.settings.association_max_wait {
                    let reason = format!(
                        "{reason}; still missing after {} h: check that the target's mapping is \
                         active and the target record synced (`sf2hs errors`), then `sf2hs dlq replay`",
                        waited.as_secs() / 3600
                    );
                    log.push(entry(SyncOutcome::DeadLettered, Some(reason.clone())));
                    (Disposition::DeadLetter { reason }, Some(false))
                } else {
                    log.push(entry(SyncOutcome::Failed, Some(reason.clone())));
                    // Wait about as long again as already waited: quick at first (the target
                    // is usually in the same burst of changes), rare later.
                    let delay = waited
                        .max(self.settings.association_retry_delay)
                        .min(MAX_QUEUE_DELAY);
                    // The copy re-reads the record: the newest state is written again with its
                    // associations, whatever happened to the record meanwhile.
                    let change = Change {
                        kind: ChangeKind::Refetch {
                            reason: RefetchReason::AssociationPending,
                            partial: FieldSnapshot::new(),
                        },
                        modstamp: None,
                        ..message.change.clone()
                    };
                    (
                        Disposition::Requeue {
                            change: Box::new(change),
                            reason,
                            delay,
                        },
                        None,
                    )
                }
            }
        };
        // Superseded changes are settled by the newest one: done when it is done; when it is
        // retried they are done too (the retry carries a newer state than theirs).
        for old in superseded {
            count_import(import_counts, &old.change, Some(true));
            result
                .dispositions
                .push((old.message_id.clone(), Disposition::Done));
        }
        count_import(import_counts, &message.change, done);
        result.dispositions.push((message.message_id, disposition));
    }

    /// One mapping's share of the batch.
    async fn process_object(&self, object: &str, messages: Vec<InboundMessage>) -> Vec<Item> {
        let mut items = newest_per_record(messages);
        let mapping = match self.ports.mappings.get(object).await {
            Ok(Some(stored)) => stored.mapping,
            Ok(None) => {
                let reason = format!(
                    "no mapping for `{object}`: apply one (`sf2hs mappings apply FILE`), then replay the dead letters"
                );
                return fail_all(items, &reason, Duration::ZERO, Budget::Spent);
            }
            Err(e) => {
                return fail_all(
                    items,
                    &e.to_string(),
                    self.settings.retry_delay,
                    Budget::Outage,
                );
            }
        };
        match mapping.status {
            MappingStatus::Draft => {
                for item in &mut items {
                    item.outcome = Some(ItemOutcome::Skipped {
                        reason: format!("mapping `{object}` is a draft: changes are not taken"),
                    });
                }
                return items;
            }
            MappingStatus::Paused => {
                // Parked, not dropped: `sf2hs mappings activate` replays them.
                let reason = format!(
                    "{PAUSED_REASON_PREFIX} mapping `{object}` is paused; activating it replays this change"
                );
                return fail_all(items, &reason, Duration::ZERO, Budget::Spent);
            }
            MappingStatus::Active => {}
        }

        self.resolve_states(&mapping, &mut items).await;
        self.read_recycle_bin(&mapping, &mut items).await;
        self.skip_stale_and_map(&mapping, &mut items).await;
        self.write_upserts(&mapping, &mut items).await;
        self.write_associations(&mapping, &mut items).await;
        self.write_deletes(&mapping, &mut items).await;
        self.record_in_index(&mut items).await;
        items
    }

    /// Gives every item a state: the one it carries, or the one Salesforce has now.
    async fn resolve_states(&self, mapping: &Mapping, items: &mut [Item]) {
        let mut to_read: Vec<SalesforceId> = Vec::new();
        for item in items.iter_mut().filter(|i| i.outcome.is_none()) {
            let change = &item.message.change;
            match (&change.kind, change.modstamp) {
                (ChangeKind::Upsert { fields }, Some(modstamp)) if !item.read_requested() => {
                    item.state = Some(State::Upsert(fields.clone()));
                    item.modstamp = modstamp;
                    item.modstamp_known = true;
                }
                (ChangeKind::Delete, modstamp) => {
                    item.state = Some(State::Delete);
                    item.modstamp = modstamp.unwrap_or(change.received_at);
                    item.modstamp_known = modstamp.is_some();
                }
                // Partial, missing or of unknown age, or an undelete (the record's state
                // after it came back is what HubSpot must show).
                _ => to_read.push(change.record_id.clone()),
            }
        }
        if to_read.is_empty() {
            return;
        }
        let requests = refetch::field_requests(mapping);
        let fields = refetch::api_fields(&requests);
        let read = self
            .ports
            .salesforce
            .retrieve(&mapping.salesforce_object, &to_read, &fields)
            .await;
        let wanted: HashSet<&SalesforceId> = to_read.iter().collect();
        for item in items
            .iter_mut()
            .filter(|i| i.outcome.is_none() && i.state.is_none())
        {
            let id = item.message.change.record_id.clone();
            if !wanted.contains(&id) {
                continue;
            }
            match &read {
                Err(e) => {
                    item.outcome =
                        Some(self.remote_failure(&item.message, e, "reading it from Salesforce"))
                }
                Ok(records) => {
                    match records.get(&id) {
                        Some(Some(snapshot)) => {
                            let modstamp = snapshot
                                .get("SystemModstamp")
                                .and_then(Value::as_str)
                                .and_then(parse_salesforce_datetime);
                            match modstamp {
                                Some(modstamp) => {
                                    item.state = Some(State::Upsert(refetch::nest_components(
                                        snapshot.clone(),
                                        &requests,
                                    )));
                                    item.modstamp = modstamp;
                                    item.modstamp_known = true;
                                }
                                None => item.outcome = Some(
                                    self.failure(
                                        &item.message,
                                        "Salesforce returned the record without a SystemModstamp"
                                            .into(),
                                    ),
                                ),
                            }
                        }
                        // Gone: deleted (or no longer visible to the integration user).
                        Some(None) => {
                            item.state = Some(State::Delete);
                            let change = &item.message.change;
                            item.modstamp = change.modstamp.unwrap_or(change.received_at);
                            // An upsert read only because a re-read came with it carries the
                            // stamp of a state before the delete: the recycle bin has the
                            // delete's.
                            item.modstamp_known = change.modstamp.is_some()
                                && !matches!(change.kind, ChangeKind::Upsert { .. });
                        }
                        None => {
                            item.outcome = Some(self.failure(
                                &item.message,
                                "Salesforce did not answer for this record".into(),
                            ))
                        }
                    }
                }
            }
        }
    }

    /// Reads deleted records from the recycle bin, for two reasons. Under `on_delete = "keep"`
    /// a delete leaves the record in HubSpot, so HubSpot must show the state the record had
    /// when it was deleted: an update superseded by the delete in this batch, or read only
    /// after it, would otherwise never arrive. And a record found gone by a re-read has no
    /// Salesforce time for its delete: the time it was received is on another clock, and an
    /// index holding it would take later changes (an undelete) for older ones.
    async fn read_recycle_bin(&self, mapping: &Mapping, items: &mut [Item]) {
        let keep = mapping.on_delete == DeleteRule::Keep;
        let wanted = |i: &Item| {
            i.outcome.is_none()
                && matches!(i.state, Some(State::Delete))
                && (keep || !i.modstamp_known)
        };
        let deleted: Vec<SalesforceId> = items
            .iter()
            .filter(|i| wanted(i))
            .map(|i| i.message.change.record_id.clone())
            .collect();
        if deleted.is_empty() {
            return;
        }
        let requests = refetch::field_requests(mapping);
        let fields = refetch::api_fields(&requests);
        let read = self
            .ports
            .salesforce
            .last_states(&mapping.salesforce_object, &deleted, &fields)
            .await;
        for item in items.iter_mut().filter(|i| wanted(i)) {
            match &read {
                Err(e) => {
                    item.outcome = Some(self.remote_failure(
                        &item.message,
                        e,
                        "reading its last state from the recycle bin",
                    ));
                }
                Ok(states) => {
                    // Purged from the recycle bin: HubSpot keeps what it has.
                    let Some(snapshot) = states.get(&item.message.change.record_id) else {
                        continue;
                    };
                    let deleted_at = snapshot
                        .get("SystemModstamp")
                        .and_then(Value::as_str)
                        .and_then(parse_salesforce_datetime);
                    match deleted_at {
                        Some(at) if item.modstamp_known => item.modstamp = at.max(item.modstamp),
                        Some(at) => {
                            item.modstamp = at;
                            item.modstamp_known = true;
                        }
                        None => {}
                    }
                    if !keep {
                        continue;
                    }
                    item.state = Some(State::Upsert(refetch::nest_components(
                        snapshot.clone(),
                        &requests,
                    )));
                    item.kept_after_delete = true;
                }
            }
        }
    }

    /// Drops states older than the index's, maps the rest, and skips unchanged content.
    async fn skip_stale_and_map(&self, mapping: &Mapping, items: &mut [Item]) {
        let keys: Vec<RecordKey> = items
            .iter()
            .filter(|i| i.outcome.is_none())
            .map(|i| i.message.change.record_key())
            .collect();
        let stored = match self.ports.index.get_many(&keys).await {
            Ok(stored) => stored,
            Err(e) => {
                for item in items.iter_mut().filter(|i| i.outcome.is_none()) {
                    item.outcome = Some(ItemOutcome::Failed {
                        reason: e.to_string(),
                        delay: self.settings.retry_delay,
                        budget: Budget::Outage,
                    });
                }
                return;
            }
        };
        let mut reread = Vec::new();
        for item in items.iter_mut().filter(|i| i.outcome.is_none()) {
            let key = item.message.change.record_key();
            let current = stored.get(&key);
            item.seen_modstamp = current.map(|c| c.modstamp);
            item.seen_write = current.map(|c| c.write_id);
            if let Some(current) = current {
                item.hubspot_id = current.hubspot_id.clone();
                if current.modstamp > item.modstamp {
                    let mut reason = format!(
                        "older than the state already applied ({} < {})",
                        item.modstamp.to_rfc3339(),
                        current.modstamp.to_rfc3339()
                    );
                    if item.delivered_before() {
                        // An earlier delivery may have written this older state after the
                        // newer one landed: read the record again and write what is newest.
                        reason.push_str("; delivered before, so the record is read again");
                        reread.push(reread_after_race(&item.message.change));
                    }
                    item.outcome = Some(ItemOutcome::Skipped { reason });
                    continue;
                }
            }
            let Some(State::Upsert(fields)) = &item.state else {
                continue;
            };
            match map_record(mapping, &item.message.change.record_id, fields, None) {
                Err(errors) => {
                    item.outcome = Some(self.failure(&item.message, errors.to_string()));
                }
                Ok(mapped) => {
                    // A redelivery may follow a batch that crashed after writing HubSpot
                    // (an older state, or a prune of a newer association) without recording
                    // it: HubSpot need not hold what the index says, so it is written again.
                    let unchanged = !item.after_lost_race()
                        && !item.delivered_before()
                        && current.is_some_and(|c| {
                            !c.deleted
                                && c.hubspot_id.is_some()
                                && c.content_hash == mapped.content_hash.as_str()
                        });
                    if unchanged {
                        item.outcome = Some(ItemOutcome::Skipped {
                            reason: "unchanged since the last write".into(),
                        });
                        if item.seen_modstamp == Some(item.modstamp) {
                            continue;
                        }
                        // The index still learns the newer modstamp, so older states that
                        // arrive later are recognised as older.
                        let entry = IndexEntry {
                            hubspot_id: item.hubspot_id.clone(),
                            modstamp: item.modstamp,
                            content_hash: mapped.content_hash.as_str().to_owned(),
                            deleted: item.kept_after_delete,
                            write_id: 0,
                        };
                        // Another writer may have stored (and written to HubSpot) a state in
                        // between, which this newer one, not written, would hide: read again.
                        // (A newer state stored instead: its writer settles the record.)
                        let written = self.ports.index.put_if_newer(&key, &entry).await;
                        if written.is_ok_and(|write| came_between(&write, item.seen_write)) {
                            reread.push(reread_after_race(&item.message.change));
                        }
                    } else {
                        item.mapped = Some(mapped);
                    }
                }
            }
        }
        if !reread.is_empty()
            && let Err(e) = self.ports.queue.send_batch(&reread).await
        {
            tracing::warn!(records = reread.len(), error = %e, "cannot enqueue re-reads");
        }
    }

    async fn write_upserts(&self, mapping: &Mapping, items: &mut [Item]) {
        let records: Vec<UpsertRecord> = items
            .iter()
            .filter(|i| i.outcome.is_none())
            .filter_map(|i| i.mapped.as_ref())
            .map(|m| UpsertRecord {
                id_value: m.record_id.as_str().to_owned(),
                properties: m.properties.clone(),
            })
            .collect();
        if records.is_empty() {
            return;
        }
        let written = self
            .ports
            .hubspot
            .upsert(&mapping.hubspot_object, &mapping.id_property, &records)
            .await;
        for item in items
            .iter_mut()
            .filter(|i| i.outcome.is_none() && i.mapped.is_some())
        {
            let id = item.message.change.record_id.as_str().to_owned();
            match &written {
                Err(e) => {
                    item.outcome =
                        Some(self.remote_failure(&item.message, e, "writing it to HubSpot"))
                }
                Ok(outcomes) => match outcomes.get(&id) {
                    Some(WriteOutcome::Written {
                        hubspot_id,
                        created,
                    }) => {
                        // Not settled yet: associations and the index come next.
                        item.hubspot_id = Some(hubspot_id.clone());
                        item.created = *created;
                    }
                    Some(WriteOutcome::Failed { message, retryable }) => {
                        let reason = format!("HubSpot refused the record: {message}");
                        item.outcome = Some(if *retryable {
                            self.retry(&item.message, reason, self.settings.retry_delay)
                        } else {
                            self.failure(&item.message, reason)
                        });
                    }
                    None => {
                        item.outcome = Some(self.retry(
                            &item.message,
                            "HubSpot's answer did not mention this record".into(),
                            self.settings.retry_delay,
                        ))
                    }
                },
            }
        }
    }

    /// Sets the associations of the records just written. A target not in HubSpot yet makes
    /// the record retry later (its upsert is idempotent), never lost.
    async fn write_associations(&self, mapping: &Mapping, items: &mut [Item]) {
        let mut groups: BTreeMap<AssociationGroup, Vec<(usize, SalesforceId)>> = BTreeMap::new();
        let mut targets_of_mapped: HashMap<String, (HubSpotObjectRef, String)> = HashMap::new();
        // The Salesforce object behind a group's targets, when it is a mapped one: the record
        // index then tells a target deleted in Salesforce from one not written yet.
        let mut group_objects: HashMap<AssociationGroup, String> = HashMap::new();
        for (index, item) in items.iter().enumerate() {
            if item.outcome.is_some() || item.hubspot_id.is_none() {
                continue;
            }
            let Some(mapped) = &item.mapped else { continue };
            for association in &mapped.associations {
                let (object, id_property) = match &association.target {
                    AssociationTarget::HubSpotObject {
                        object,
                        id_property,
                    } => (object.clone(), id_property.clone()),
                    AssociationTarget::MappedObject { salesforce_object } => {
                        if !targets_of_mapped.contains_key(salesforce_object) {
                            match self.ports.mappings.get(salesforce_object).await {
                                Ok(Some(target)) => {
                                    targets_of_mapped.insert(
                                        salesforce_object.clone(),
                                        (target.mapping.hubspot_object, target.mapping.id_property),
                                    );
                                }
                                _ => continue,
                            }
                        }
                        match targets_of_mapped.get(salesforce_object) {
                            Some((object, id_property)) => {
                                (object.as_str().to_owned(), id_property.clone())
                            }
                            None => continue,
                        }
                    }
                };
                let group = (object, id_property, association.association_type_id);
                if let AssociationTarget::MappedObject { salesforce_object } = &association.target {
                    group_objects.insert(group.clone(), salesforce_object.clone());
                }
                groups
                    .entry(group)
                    .or_default()
                    .push((index, association.target_record_id.clone()));
            }
        }
        let mut pending: HashMap<usize, String> = HashMap::new();
        for (group, members) in groups {
            let target_salesforce_object = group_objects.get(&group).cloned();
            let (object, id_property, type_id) = group;
            let target_object = HubSpotObjectRef::parse(&object);
            let values: Vec<String> = members
                .iter()
                .map(|(_, id)| id.as_str().to_owned())
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            let found = match self
                .ports
                .hubspot
                .find_by_unique(&target_object, &id_property, &values)
                .await
            {
                Ok(found) => found,
                Err(e) => {
                    for (index, _) in &members {
                        pending.insert(
                            *index,
                            format!("finding association targets in {object}: {e}"),
                        );
                    }
                    continue;
                }
            };
            let deleted = self
                .deleted_targets(target_salesforce_object.as_deref(), &members, &found)
                .await;
            let mut pairs = Vec::new();
            let mut pair_owner: HashMap<AssociationPair, usize> = HashMap::new();
            for (index, target) in &members {
                if deleted.contains(target) {
                    // Deleted in Salesforce (its lookups are cleared there): nothing to
                    // associate with, and nothing to wait for.
                    continue;
                }
                match (found.get(target.as_str()), &items[*index].hubspot_id) {
                    (Some(to_id), Some(from_id)) => {
                        let pair = AssociationPair {
                            from_id: from_id.clone(),
                            to_id: to_id.clone(),
                        };
                        pair_owner.insert(pair.clone(), *index);
                        pairs.push(pair);
                    }
                    _ => {
                        pending.insert(
                            *index,
                            format!(
                                "association target {target} is not in HubSpot {object} yet (by {id_property}); it will be retried"
                            ),
                        );
                    }
                }
            }
            if pairs.is_empty() {
                continue;
            }
            match self
                .ports
                .hubspot
                .associate(&mapping.hubspot_object, &target_object, type_id, &pairs)
                .await
            {
                Ok(failed) => {
                    for (pair, why) in failed {
                        if let Some(index) = pair_owner.get(&pair) {
                            pending.insert(
                                *index,
                                format!("association to {object} {}: {why}", pair.to_id),
                            );
                        }
                    }
                }
                Err(e) => {
                    for index in pair_owner.values() {
                        pending.insert(*index, format!("associating with {object}: {e}"));
                    }
                }
            }
            // A lookup that moved leaves its old association behind unless removed. Only for
            // targets sf2hs syncs itself, and only when one field leads to that object: other
            // associations to it are the mapping's, not a user's.
            let single_field = target_salesforce_object.as_ref().is_some_and(|target| {
                mapping
                    .associations
                    .iter()
                    .filter(|a| match &a.target {
                        AssociationTarget::MappedObject { salesforce_object } => {
                            salesforce_object == target
                        }
                        AssociationTarget::HubSpotObject { .. } => false,
                    })
                    .count()
                    == 1
            });
            if single_field {
                let keep: Vec<(usize, String, Option<String>)> = pair_owner
                    .iter()
                    .filter(|(_, index)| !items[**index].created && !pending.contains_key(*index))
                    .map(|(pair, index)| (*index, pair.from_id.clone(), Some(pair.to_id.clone())))
                    .collect();
                self.prune(mapping, &target_object, keep, &mut pending)
                    .await;
            }
        }
        self.prune_cleared(mapping, items, &targets_of_mapped, &mut pending)
            .await;
        for (index, reason) in pending {
            items[index].outcome = Some(ItemOutcome::WaitingForTarget { reason });
        }
    }

    /// Removes the associations of each `(item, from record)` to `to` records other than the
    /// one kept; a failure makes the item retry.
    async fn prune(
        &self,
        mapping: &Mapping,
        to: &HubSpotObjectRef,
        keep: Vec<(usize, String, Option<String>)>,
        pending: &mut HashMap<usize, String>,
    ) {
        if keep.is_empty() {
            return;
        }
        let pairs: Vec<(String, Option<String>)> = keep
            .iter()
            .map(|(_, from, kept)| (from.clone(), kept.clone()))
            .collect();
        if let Err(e) = self
            .ports
            .hubspot
            .prune_associations(&mapping.hubspot_object, to, &pairs)
            .await
        {
            for (index, _, _) in keep {
                pending.insert(index, format!("removing old associations to {to}: {e}"));
            }
        }
    }

    /// Lookups present as null: their associations to a mapped object are removed.
    async fn prune_cleared(
        &self,
        mapping: &Mapping,
        items: &[Item],
        targets_of_mapped: &HashMap<String, (HubSpotObjectRef, String)>,
        pending: &mut HashMap<usize, String>,
    ) {
        let mut by_target: BTreeMap<String, Vec<(usize, String, Option<String>)>> = BTreeMap::new();
        for (index, item) in items.iter().enumerate() {
            if item.outcome.is_some() || item.created || pending.contains_key(&index) {
                continue;
            }
            let (Some(mapped), Some(from_id)) = (&item.mapped, &item.hubspot_id) else {
                continue;
            };
            for field in &mapped.cleared_associations {
                let target = mapping.associations.iter().find_map(|a| match &a.target {
                    AssociationTarget::MappedObject { salesforce_object }
                        if &a.salesforce_field == field =>
                    {
                        Some(salesforce_object.clone())
                    }
                    _ => None,
                });
                let Some(target) = target else { continue };
                let hubspot_object = match targets_of_mapped.get(&target) {
                    Some((object, _)) => object.as_str().to_owned(),
                    None => match self.ports.mappings.get(&target).await {
                        Ok(Some(stored)) => stored.mapping.hubspot_object.as_str().to_owned(),
                        _ => continue,
                    },
                };
                by_target
                    .entry(hubspot_object)
                    .or_default()
                    .push((index, from_id.clone(), None));
            }
        }
        for (object, keep) in by_target {
            self.prune(mapping, &HubSpotObjectRef::parse(&object), keep, pending)
                .await;
        }
    }

    /// The targets among `members` that HubSpot does not have because the record index knows
    /// them as deleted in Salesforce.
    async fn deleted_targets(
        &self,
        salesforce_object: Option<&str>,
        members: &[(usize, SalesforceId)],
        found: &HashMap<String, String>,
    ) -> HashSet<SalesforceId> {
        let Some(object) = salesforce_object else {
            return HashSet::new();
        };
        let keys: Vec<RecordKey> = members
            .iter()
            .filter(|(_, target)| !found.contains_key(target.as_str()))
            .map(|(_, target)| RecordKey {
                object: object.to_owned(),
                record_id: target.clone(),
            })
            .collect();
        if keys.is_empty() {
            return HashSet::new();
        }
        match self.ports.index.get_many(&keys).await {
            Ok(entries) => entries
                .into_iter()
                .filter(|(_, entry)| entry.deleted)
                .map(|(key, _)| key.record_id)
                .collect(),
            // Unknown: the members wait, as for a target not written yet.
            Err(_) => HashSet::new(),
        }
    }

    async fn write_deletes(&self, mapping: &Mapping, items: &mut [Item]) {
        let deletes: Vec<usize> = items
            .iter()
            .enumerate()
            .filter(|(_, i)| i.outcome.is_none() && matches!(i.state, Some(State::Delete)))
            .map(|(n, _)| n)
            .collect();
        if deletes.is_empty() {
            return;
        }
        if mapping.on_delete == DeleteRule::Keep {
            return;
        }
        // Every record is looked up by its id property, not only those the index has no HubSpot
        // id for. A record sf2hs never wrote may exist (made by hand or by another tool). And
        // the index's id may be of a record archived already: a late write of an older state
        // (another worker's, racing this delete) then created a new one, since archived records
        // leave the unique index. Both are archived.
        let values: Vec<String> = deletes
            .iter()
            .map(|n| items[*n].message.change.record_id.as_str().to_owned())
            .collect();
        let mut also_archived = Vec::new();
        match self
            .ports
            .hubspot
            .find_by_unique(&mapping.hubspot_object, &mapping.id_property, &values)
            .await
        {
            Ok(found) => {
                for n in &deletes {
                    let item = &mut items[*n];
                    let Some(live) = found.get(item.message.change.record_id.as_str()) else {
                        continue;
                    };
                    if let Some(indexed) = item.hubspot_id.replace(live.clone())
                        && &indexed != live
                    {
                        also_archived.push(indexed);
                    }
                }
            }
            Err(e) => {
                for n in &deletes {
                    let item = &mut items[*n];
                    item.outcome = Some(self.remote_failure(
                        &item.message,
                        &e,
                        "finding the record to archive",
                    ));
                }
                return;
            }
        }
        let ids: Vec<String> = deletes
            .iter()
            .filter(|n| items[**n].outcome.is_none())
            .filter_map(|n| items[*n].hubspot_id.clone())
            .chain(also_archived)
            .collect();
        if ids.is_empty() {
            return;
        }
        let archived = self
            .ports
            .hubspot
            .archive(&mapping.hubspot_object, &ids)
            .await;
        for n in &deletes {
            let item = &mut items[*n];
            if item.outcome.is_some() || item.hubspot_id.is_none() {
                continue;
            }
            match &archived {
                Ok(()) => item.archived = true,
                Err(e) => {
                    item.outcome =
                        Some(self.remote_failure(&item.message, e, "archiving it in HubSpot"))
                }
            }
        }
    }

    /// Records what was applied; a concurrent newer write makes the worker re-read the record.
    async fn record_in_index(&self, items: &mut [Item]) {
        let mut refetch = Vec::new();
        let mut raced_items = Vec::new();
        let mut writes = Vec::new();
        for (position, item) in items.iter_mut().enumerate() {
            if item.outcome.is_some() {
                continue;
            }
            let key = item.message.change.record_key();
            let (entry, detail) = match (&item.state, &item.mapped) {
                (Some(State::Delete), _) => (
                    IndexEntry {
                        hubspot_id: item.hubspot_id.clone(),
                        modstamp: item.modstamp,
                        content_hash: String::new(),
                        deleted: true,
                        write_id: 0,
                    },
                    "deleted",
                ),
                (Some(State::Upsert(_)), Some(mapped)) => (
                    IndexEntry {
                        hubspot_id: item.hubspot_id.clone(),
                        modstamp: item.modstamp,
                        content_hash: mapped.content_hash.as_str().to_owned(),
                        deleted: item.kept_after_delete,
                        write_id: 0,
                    },
                    if item.kept_after_delete {
                        "deleted in Salesforce; kept in HubSpot with its last state"
                    } else {
                        "upserted"
                    },
                ),
                _ => {
                    item.outcome = Some(self.retry(
                        &item.message,
                        "the record reached the index step without a state (a bug)".into(),
                        self.settings.retry_delay,
                    ));
                    continue;
                }
            };
            let settled = match (&item.state, item.archived) {
                (Some(State::Delete), true) => ItemOutcome::Synced { detail: "archived" },
                (Some(State::Delete), false) => ItemOutcome::Skipped {
                    reason:
                        "deleted in Salesforce; kept in HubSpot (on_delete = keep) or not there"
                            .into(),
                },
                _ => ItemOutcome::Synced { detail },
            };
            writes.push((position, key, entry, settled));
        }
        let results = put_all(
            self.ports.index.as_ref(),
            &writes,
            self.settings.index_writes_in_flight,
        )
        .await;
        for ((position, _, _, settled), result) in writes.into_iter().zip(results) {
            let item = &mut items[position];
            // Another writer came in between (or stored a newer state): its HubSpot write may
            // have landed after ours (older state over newer, or a prune of its newer
            // association).
            let raced = match result {
                Ok(IndexWrite::Stale { .. }) => Some(RACED_OTHER_STATE),
                // It recorded this same state, so the stamp did not move; a third writer that
                // read its entry took our state for written while our write was still to come.
                Ok(write @ IndexWrite::Refreshed { .. })
                    if came_between(&write, item.seen_write) =>
                {
                    Some(RACED_SAME_STATE)
                }
                Ok(write) if came_between(&write, item.seen_write) => Some(RACED_OTHER_STATE),
                Ok(_) => None,
                Err(e) => {
                    item.outcome =
                        Some(self.retry(&item.message, e.to_string(), self.settings.retry_delay));
                    continue;
                }
            };
            let Some(detail) = raced else {
                item.outcome = Some(settled);
                continue;
            };
            // HubSpot may now hold an older state than the newest recorded: read the record
            // again and write what Salesforce has, so the newest wins.
            refetch.push(reread_after_race(&item.message.change));
            raced_items.push(position);
            item.outcome = Some(ItemOutcome::Synced { detail });
        }
        if !refetch.is_empty()
            && let Err(e) = self.ports.queue.send_batch(&refetch).await
        {
            // Without the re-read HubSpot could keep the older state: deliver these again.
            tracing::warn!(records = refetch.len(), error = %e, "cannot enqueue re-fetches");
            for position in raced_items {
                let item = &mut items[position];
                item.outcome = Some(ItemOutcome::Failed {
                    reason: format!("cannot enqueue the re-read after a concurrent write: {e}"),
                    delay: self.settings.retry_delay,
                    budget: Budget::Outage,
                });
            }
        }
    }

    fn retry(&self, message: &InboundMessage, reason: String, delay: Duration) -> ItemOutcome {
        ItemOutcome::Failed {
            reason,
            delay,
            budget: if message.tries() >= self.settings.max_receives {
                Budget::Spent
            } else {
                Budget::Counted
            },
        }
    }

    /// A failure that will not heal by itself; it is retried until the budget is spent so a
    /// fix in Salesforce or HubSpot in between still lets it through.
    fn failure(&self, message: &InboundMessage, reason: String) -> ItemOutcome {
        self.retry(message, reason, self.settings.retry_delay)
    }

    fn remote_failure(
        &self,
        message: &InboundMessage,
        error: &RemoteError,
        doing: &str,
    ) -> ItemOutcome {
        match error {
            RemoteError::Retryable { reason, after } => ItemOutcome::Failed {
                reason: format!("{doing}: {reason}"),
                delay: after.unwrap_or(self.settings.retry_delay),
                // Outages are not the record's fault: they never spend its retry budget down
                // to the dead-letter queue on their own.
                budget: Budget::Outage,
            },
            RemoteError::Stop { reason } => ItemOutcome::Failed {
                reason: format!("{doing}: {reason}"),
                delay: self.settings.retry_delay * 10,
                budget: Budget::Outage,
            },
            RemoteError::Permanent { reason } => {
                self.failure(message, format!("{doing}: {reason}"))
            }
        }
    }
}

/// Whether `write` replaced another write than the entry read before writing HubSpot (`seen`,
/// its `write_id`; `None`: no entry): every write draws a new `write_id`, so a different one
/// shows another writer in between, even one that left the modstamp as it was. A `Stale` write
/// replaced nothing.
fn came_between(write: &IndexWrite, seen: Option<u64>) -> bool {
    match write {
        IndexWrite::Written { previous_write, .. } => *previous_write != seen,
        IndexWrite::Refreshed { previous_write } => Some(*previous_write) != seen,
        IndexWrite::Stale { .. } => false,
    }
}

/// Sync-log details of a write followed by a re-read: another state was recorded meanwhile,
/// or the same state by another writer (a duplicate on another worker).
pub const RACED_OTHER_STATE: &str =
    "written; another state landed meanwhile, so the record is read again";
pub const RACED_SAME_STATE: &str =
    "written; another copy of this state was recorded meanwhile, so the record is read again";

/// The worker's own re-read of `change`'s record after a race: written even when the index
/// says "unchanged". Its source is the worker's: the original change is settled (and counted
/// for its import) by the batch that asks for the re-read.
fn reread_after_race(change: &Change) -> Change {
    Change {
        kind: ChangeKind::Refetch {
            reason: RefetchReason::ConcurrentUpdate,
            partial: FieldSnapshot::new(),
        },
        modstamp: None,
        source: ChangeSource::Worker,
        received_at: Utc::now(),
        ..change.clone()
    }
}

/// Associations written in one call: target HubSpot object, the property that finds the
/// target by its Salesforce id, and the association type (`None`: the default one).
type AssociationGroup = (String, String, Option<u32>);

fn newest_per_record(messages: Vec<InboundMessage>) -> Vec<Item> {
    let mut by_record: BTreeMap<SalesforceId, Vec<InboundMessage>> = BTreeMap::new();
    for message in messages {
        by_record
            .entry(message.change.record_id.clone())
            .or_default()
            .push(message);
    }
    by_record
        .into_values()
        .map(|messages| {
            let (message, superseded) = plan::newest_first(messages);
            let modstamp = message.change.received_at;
            Item {
                message,
                superseded,
                state: None,
                modstamp,
                modstamp_known: false,
                mapped: None,
                hubspot_id: None,
                archived: false,
                seen_modstamp: None,
                seen_write: None,
                created: false,
                kept_after_delete: false,
                outcome: None,
            }
        })
        .collect()
}

fn fail_all(mut items: Vec<Item>, reason: &str, delay: Duration, budget: Budget) -> Vec<Item> {
    for item in &mut items {
        item.outcome = Some(ItemOutcome::Failed {
            reason: reason.to_owned(),
            delay,
            budget,
        });
    }
    items
}

/// `done`: Some(true) synced (or settled), Some(false) failed for good, None still pending.
fn count_import(counts: &mut HashMap<String, ImportCounts>, change: &Change, done: Option<bool>) {
    let ChangeSource::Import { job_id } = &change.source else {
        return;
    };
    let entry = counts.entry(job_id.clone()).or_default();
    match done {
        Some(true) => entry.synced += 1,
        Some(false) => entry.failed += 1,
        None => {}
    }
}

/// How many index writes a batch keeps in flight by default. Each is one conditional request;
/// on DynamoDB a hundred of them one after another are most of a batch's wait.
pub const INDEX_WRITES_IN_FLIGHT: usize = 16;

/// The index writes of a batch, several at a time, their answers in the order given. Writes of
/// one record twice in a batch go one at a time, in order, so the later state is compared
/// against the earlier as it would be sequentially.
async fn put_all(
    index: &dyn RecordIndex,
    writes: &[(usize, RecordKey, IndexEntry, ItemOutcome)],
    most: usize,
) -> Vec<crate::ports::PortResult<IndexWrite>> {
    use futures_util::stream::{self, StreamExt};
    let distinct: HashSet<&RecordKey> = writes.iter().map(|(_, key, _, _)| key).collect();
    let in_flight = if distinct.len() == writes.len() {
        most.max(1)
    } else {
        1
    };
    // The boxed futures first (they start only when polled): a stream that maps borrowed items
    // to futures is not provably `Send`, and the worker's batch future must be.
    let pending: Vec<_> = writes
        .iter()
        .map(|(_, key, entry, _)| index.put_if_newer(key, entry))
        .collect();
    stream::iter(pending).buffered(in_flight).collect().await
}

#[cfg(test)]
mod index_write_tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;

    use super::*;

    /// An index that answers each write after a pause and counts how many are in flight.
    #[derive(Default)]
    struct CountingIndex {
        in_flight: AtomicUsize,
        most: AtomicUsize,
    }

    #[async_trait]
    impl RecordIndex for CountingIndex {
        async fn get(&self, _: &RecordKey) -> crate::ports::PortResult<Option<IndexEntry>> {
            Ok(None)
        }
        async fn get_many(
            &self,
            _: &[RecordKey],
        ) -> crate::ports::PortResult<HashMap<RecordKey, IndexEntry>> {
            Ok(HashMap::new())
        }
        async fn put_if_newer(
            &self,
            _: &RecordKey,
            _: &IndexEntry,
        ) -> crate::ports::PortResult<IndexWrite> {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            Ok(IndexWrite::Written {
                previous: None,
                previous_write: None,
            })
        }
        async fn count(&self, _: &str) -> crate::ports::PortResult<u64> {
            Ok(0)
        }
    }

    fn write(n: usize, id: &str) -> (usize, RecordKey, IndexEntry, ItemOutcome) {
        (
            n,
            RecordKey {
                object: "Project__c".into(),
                record_id: SalesforceId::parse(id).expect("id"),
            },
            IndexEntry {
                hubspot_id: None,
                modstamp: Utc::now(),
                content_hash: String::new(),
                deleted: false,
                write_id: 0,
            },
            ItemOutcome::Synced { detail: "upserted" },
        )
    }

    #[tokio::test]
    async fn distinct_records_are_written_together_and_one_record_twice_in_order() {
        let index = CountingIndex::default();
        let distinct: Vec<_> = (0..40)
            .map(|n| write(n, &format!("a0P5f00000Gz{n:03}")))
            .collect();
        let answers = put_all(&index, &distinct, 16).await;
        assert_eq!(answers.len(), 40);
        assert_eq!(
            index.most.load(Ordering::SeqCst),
            16,
            "several writes in flight"
        );

        let index = CountingIndex::default();
        let twice = vec![
            write(0, "a0P5f00000Gz001"),
            write(1, "a0P5f00000Gz002"),
            write(2, "a0P5f00000Gz001"),
        ];
        assert_eq!(put_all(&index, &twice, 16).await.len(), 3);
        assert_eq!(index.most.load(Ordering::SeqCst), 1, "one at a time");
    }
}
