//! The worker: takes a batch of queued changes and makes HubSpot match Salesforce.
//!
//! `process` groups a batch's changes by object and runs each group through these stages, in
//! this order, one file each; a stage that settles a record (its `outcome`) takes it out of the
//! later ones:
//!
//! 1. `item`: one item per record, its newest change first (`newest_per_record`);
//! 2. `gate`: the object's mapping must be active (draft: skipped; paused: parked);
//! 3. `read`: records whose change did not carry their state are read from Salesforce (a
//!    re-read), and deleted records' last states from the recycle bin;
//! 4. `stale`: states older than the record index's are skipped, the rest mapped, and mapped
//!    content the index says HubSpot holds is skipped;
//! 5. `upsert`: one HubSpot batch upsert by the id property;
//! 6. `associations` (with `prune`): lookups become associations; a target not in HubSpot yet
//!    makes the record wait; moved and cleared lookups lose their old association;
//! 7. `archive`: deletes archive the HubSpot record unless the mapping keeps it;
//! 8. `index`: what was applied goes into the record index with a conditional write; a write
//!    that shows another writer in between asks for a re-read;
//! 9. `settle`: each outcome becomes its messages' dispositions, a sync-log entry and import
//!    counts (`retry` says which failures spend a record's tries).
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
mod prune;
mod read;
mod retry;
mod settings;
mod settle;
mod stale;
mod upsert;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;

use crate::ports::{
    ChangeQueue, HubSpotRecords, ImportJobs, MappingStore, RecordIndex, SalesforceRecords, SyncLog,
};

pub use drain::{DrainReport, drain_once};
pub use gate::PAUSED_REASON_PREFIX;
pub use index::{RACED_OTHER_STATE, RACED_SAME_STATE};
pub use message::{Applied, BatchResult, Disposition, InboundMessage};
pub use settings::{INDEX_WRITES_IN_FLIGHT, WorkerSettings};

use item::{Item, newest_per_record};
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
        let mut settlement = Settlement::default();
        for (object, messages) in by_object {
            let items = self.process_object(&object, messages).await;
            for item in items {
                settlement.add(item, &self.settings, Utc::now());
            }
        }
        let Settlement {
            result,
            log,
            import_counts,
        } = settlement;
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

    /// One object's share of the batch, through the stages in order.
    async fn process_object(&self, object: &str, messages: Vec<InboundMessage>) -> Vec<Item> {
        let items = newest_per_record(messages);
        let (mapping, mut items) = match self.active_mapping(object, items).await {
            Ok(active) => active,
            Err(settled) => return settled,
        };
        self.resolve_states(&mapping, &mut items).await;
        self.read_recycle_bin(&mapping, &mut items).await;
        let mut reread = Vec::new();
        self.skip_stale(&mut items, &mut reread).await;
        self.map_states(&mapping, &mut items);
        self.skip_unchanged(&mut items, &mut reread).await;
        if !reread.is_empty()
            && let Err(e) = self.ports.queue.send_batch(&reread).await
        {
            tracing::warn!(records = reread.len(), error = %e, "cannot enqueue re-reads");
        }
        self.write_upserts(&mapping, &mut items).await;
        self.write_associations(&mapping, &mut items).await;
        self.write_deletes(&mapping, &mut items).await;
        self.record_in_index(&mut items).await;
        items
    }
}
