//! The worker: takes a batch of queued changes and makes HubSpot match Salesforce.
//!
//! `process` groups a batch's changes by object and runs each group through these stages, in
//! this order, one file each; a stage that settles a record (its `outcome`) takes it out of the
//! later ones:
//!
//! 1. `item`: one item per record, its newest change first (`newest_per_record`);
//! 2. `gate`: the object's mapping must be active (draft: skipped; paused: parked), and
//!    `resolve` gives it its objectTypeId when stored without one (H1);
//! 3. `nulls`: an outbound message's state gets the nulls it left out (the fields its action
//!    sends, by the Tooling API's definition), or is read when that cannot be known; then
//!    `stale::read_index` and `ties`: the records' index entries; a carried state that shares
//!    its stamp with a different one (Salesforce stamps whole seconds) is tied, to be read;
//! 4. `read`: records whose change did not carry their state, or is tied, are read from
//!    Salesforce (a re-read); one the read does not find is deleted only if the recycle bin
//!    shows it; deleted records' last states come from the recycle bin;
//! 5. `stale`: states older than the record index's are skipped, the rest mapped, and mapped
//!    content the index says HubSpot holds is skipped;
//! 6. `upsert`: one HubSpot batch upsert by the id property;
//! 7. `associations` (with `prune`): lookups become associations; a target not in HubSpot yet
//!    makes the record wait; a moved or cleared lookup loses the association sf2hs recorded
//!    for it (and no other: users' stay);
//! 8. `archive`: deletes archive the HubSpot record unless the mapping keeps it;
//! 9. `index`: what was applied goes into the record index with a conditional write; a write
//!    that shows another writer in between asks for a re-read; then `waiting` sends back the
//!    records that waited for the ones just written (their lookups' targets);
//! 10. `settle`: each outcome becomes its messages' dispositions, a sync-log entry and import
//!     counts (`retry` says which failures spend a record's tries).
//!
//! The caller applies the dispositions to its queue through `Disposition::apply`: the Lambda
//! turns redeliveries into `batchItemFailures`, the local pipeline deletes, releases or
//! dead-letters on the embedded queue (`drain`).

mod archive;
mod associations;
mod drain;
#[cfg(test)]
mod fakes;
mod gate;
mod index;
mod item;
mod message;
mod nulls;
mod pace;
mod prune;
mod read;
mod resolve;
mod retry;
mod settings;
mod settle;
mod stale;
mod ties;
mod upsert;
mod waiting;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::time::Instant;

use crate::ports::{
    ChangeQueue, HubSpotRecords, ImportJobs, MappingStore, RecordIndex, SalesforceRecords, SyncLog,
};

pub use drain::{DrainReport, drain_once, drain_paced};
pub use gate::{PAUSED_REASON_PREFIX, replay_parked};
pub use index::{RACED_OTHER_STATE, RACED_SAME_STATE};
pub use message::{Applied, BatchResult, Disposition, InboundMessage};
pub use pace::{BatchPacer, LIVE_SHARE, RateBudget};
pub use read::NOT_VISIBLE;
pub use settings::{INDEX_WRITES_IN_FLIGHT, WorkerSettings};

use item::{Budget, Item, fail_all, newest_per_record};
use settle::Settlement;

/// Everything the worker reads and writes.
#[derive(Clone)]
pub struct WorkerPorts {
    pub mappings: Arc<dyn MappingStore>,
    pub index: Arc<dyn RecordIndex>,
    pub log: Arc<dyn SyncLog>,
    pub jobs: Arc<dyn ImportJobs>,
    /// Where the re-reads the worker asks for itself go (after a concurrent write).
    pub queue: Arc<dyn ChangeQueue>,
    pub hubspot: Arc<dyn HubSpotRecords>,
    pub salesforce: Arc<dyn SalesforceRecords>,
}

pub struct Worker {
    ports: WorkerPorts,
    settings: WorkerSettings,
    /// What each outbound-message action sends, as last read (`nulls`).
    outbound: nulls::OutboundDefinitions,
    /// The objects lookups lead to, as last read (`waiting`).
    lookup_targets: waiting::LookupTargets,
}

impl Worker {
    pub fn new(ports: WorkerPorts, settings: WorkerSettings) -> Self {
        Worker {
            ports,
            settings,
            outbound: nulls::OutboundDefinitions::default(),
            lookup_targets: waiting::LookupTargets::default(),
        }
    }

    pub fn ports(&self) -> &WorkerPorts {
        &self.ports
    }

    /// Processes one batch. It never fails as a whole: a failure becomes a disposition per
    /// message, so one bad record cannot hold back the others.
    pub async fn process(&self, batch: Vec<InboundMessage>) -> BatchResult {
        self.process_until(batch, None).await
    }

    /// The same, answering by `deadline` (the Lambda invocation's, or the local batch's
    /// visibility): the records not written when the stages must stop are retried at once,
    /// not left to a timed-out invocation, which would spend their receives and let SQS
    /// dead-letter them without a reason. Settling gets the last part of the time.
    pub async fn process_until(
        &self,
        batch: Vec<InboundMessage>,
        deadline: Option<Instant>,
    ) -> BatchResult {
        let cutoff = deadline.map(stages_cutoff);
        // How long each object's changes waited since intake: the lag the metrics show.
        let now = Utc::now();
        let mut lag_ms: BTreeMap<String, u64> = BTreeMap::new();
        for message in &batch {
            let waited = (now - message.change.received_at).num_milliseconds().max(0) as u64;
            let lag = lag_ms.entry(message.change.object.clone()).or_default();
            *lag = (*lag).max(waited);
        }
        let mut by_object: BTreeMap<String, Vec<InboundMessage>> = BTreeMap::new();
        for message in batch {
            by_object
                .entry(message.change.object.clone())
                .or_default()
                .push(message);
        }
        let mut settlement = Settlement::default();
        for (object, messages) in by_object {
            let items = self.process_object(&object, messages, cutoff).await;
            for item in items {
                settlement.add(item, &self.settings, Utc::now());
            }
        }
        let Settlement {
            mut result,
            log,
            import_counts,
        } = settlement;
        result.metrics = crate::metrics::BatchMetrics::from_log(&log, &lag_ms);
        crate::metrics::record_batch(&result.metrics);
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

    /// One object's share of the batch, through the stages in order, stopped at `cutoff`.
    async fn process_object(
        &self,
        object: &str,
        messages: Vec<InboundMessage>,
        cutoff: Option<Instant>,
    ) -> Vec<Item> {
        let mut items = newest_per_record(messages);
        let stages = self.run_stages(object, &mut items);
        let finished = match cutoff {
            Some(cutoff) => tokio::time::timeout_at(cutoff, stages).await.is_ok(),
            None => {
                stages.await;
                true
            }
        };
        if !finished {
            // Dropped mid-stage: a write may have reached HubSpot unrecorded, so the retry
            // writes again (an upsert repeats safely).
            tracing::warn!(object, "out of time: the records not settled are retried");
            fail_all(&mut items, OUT_OF_TIME, Duration::ZERO, Budget::Outage);
        }
        items
    }

    async fn run_stages(&self, object: &str, items: &mut [Item]) {
        let Some(mapping) = self.active_mapping(object, items).await else {
            return;
        };
        self.complete_outbound_states(&mapping, items).await;
        self.read_index(items).await;
        self.find_ties(&mapping, items);
        self.resolve_states(&mapping, items).await;
        self.read_recycle_bin(&mapping, items).await;
        let mut reread = Vec::new();
        self.skip_stale(items, &mut reread);
        self.map_states(&mapping, items);
        self.skip_unchanged(items, &mut reread).await;
        if !reread.is_empty()
            && let Err(e) = self.ports.queue.send_batch(&reread).await
        {
            tracing::warn!(records = reread.len(), error = %e, "cannot enqueue re-reads");
        }
        self.write_upserts(&mapping, items).await;
        self.write_associations(&mapping, items).await;
        self.write_deletes(&mapping, items).await;
        self.record_in_index(items).await;
        self.release_waiting(object, items).await;
    }
}

/// Why a record was not settled in its batch: the batch ran out of time.
pub const OUT_OF_TIME: &str = "the batch ran out of time before this record was settled (a slow \
     answer from HubSpot or Salesforce); it is tried again at once, without spending its tries";

/// When the stages must stop for the batch to answer by `deadline`: settling (the sync log,
/// import counts, the queue's answers) keeps a tenth of the time left, at least 5 s (at most
/// half of it).
fn stages_cutoff(deadline: Instant) -> Instant {
    let left = deadline.saturating_duration_since(Instant::now());
    let reserve = (left / 10).max(Duration::from_secs(5)).min(left / 2);
    deadline - reserve
}
