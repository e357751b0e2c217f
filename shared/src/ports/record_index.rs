use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::PortResult;
use crate::domain::RecordKey;

/// The association targets sf2hs may have written for one record: lookup field → each
/// target's HubSpot id → the token its last journaling drew.
pub type RecordLinks = BTreeMap<String, BTreeMap<String, u64>>;

/// One association target of one record's lookup field, in the link journal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkRecord {
    pub record: RecordKey,
    /// The lookup field's API name.
    pub field: String,
    /// The target's HubSpot id.
    pub target: String,
    /// For `remove_links`: the token read with it; the entry goes only if no writer journaled
    /// the target again since (it may be writing the association now). Ignored by `add_links`,
    /// which draws a fresh one.
    pub token: u64,
}

/// What sf2hs last wrote to HubSpot for one Salesforce record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// HubSpot record id (`hs_object_id`), once known.
    pub hubspot_id: Option<String>,
    /// `SystemModstamp` (or commit time) of the newest state applied.
    pub modstamp: DateTime<Utc>,
    /// Hash of the mapped properties last written, to skip unchanged writes.
    pub content_hash: String,
    /// The newest state applied was a delete: an older upsert must not bring the record back.
    pub deleted: bool,
    /// Drawn afresh by the store at every write, a refresh of the same modstamp included (what a
    /// caller passes is ignored; 0 for an entry stored before it existed). A writer whose write
    /// replaced another `write_id` than it read knows another writer came in between, even one
    /// that left the modstamp as it was.
    #[serde(default)]
    pub write_id: u64,
}

/// A fresh [`IndexEntry::write_id`]: 63 random bits, so it also fits a signed 64-bit column.
pub fn new_write_id() -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().0 >> 1
}

/// The result of a conditional write to the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexWrite {
    /// The entry was newer than what was stored (or nothing was) and is now stored.
    /// `previous` is the modstamp it replaced and `previous_write` that entry's `write_id`:
    /// when it is not the one the writer read before writing HubSpot, another writer came in
    /// between, and its HubSpot write may have landed after this one.
    Written {
        previous: Option<chrono::DateTime<chrono::Utc>>,
        previous_write: Option<u64>,
    },
    /// The stored entry has the same modstamp: it was updated in place (a replay of the same
    /// state, possibly with the HubSpot id now known). `previous_write` as for `Written`.
    Refreshed { previous_write: u64 },
    /// The stored entry is newer; nothing was written.
    Stale { current: IndexEntry },
}

/// Per record: the HubSpot id, the newest applied modstamp and content hash.
#[async_trait]
pub trait RecordIndex: Send + Sync {
    async fn get(&self, key: &RecordKey) -> PortResult<Option<IndexEntry>>;

    /// Several records at once; missing ones are absent from the result.
    async fn get_many(
        &self,
        keys: &[RecordKey],
    ) -> PortResult<std::collections::HashMap<RecordKey, IndexEntry>>;

    /// Stores `entry` only if no entry exists or the stored modstamp is not newer.
    /// This must be atomic against concurrent writers of the same key.
    async fn put_if_newer(&self, key: &RecordKey, entry: &IndexEntry) -> PortResult<IndexWrite>;

    /// `put_if_newer` for each entry, in order, each as atomic as one `put_if_newer` (a bulk
    /// writer's path: an adapter may commit them together).
    async fn put_many_if_newer(
        &self,
        entries: &[(RecordKey, IndexEntry)],
    ) -> PortResult<Vec<IndexWrite>> {
        let mut outcomes = Vec::with_capacity(entries.len());
        for (key, entry) in entries {
            outcomes.push(self.put_if_newer(key, entry).await?);
        }
        Ok(outcomes)
    }

    /// How many records of an object the index holds (deleted ones included), for `status`.
    async fn count(&self, object: &str) -> PortResult<u64>;

    /// Records that each `(target, waiter)`'s waiter waits for its target to be written to
    /// HubSpot (a lookup whose target is not there yet), so the worker that writes the target
    /// can send the waiter back at once. Recording one again changes nothing.
    async fn wait_for(&self, links: &[(RecordKey, RecordKey)]) -> PortResult<()>;

    /// Takes (removes and returns) the records waiting for any of `targets`, each once.
    async fn take_waiting(&self, targets: &[RecordKey]) -> PortResult<Vec<RecordKey>>;

    /// The link journal of these records: the association targets sf2hs may have written, per
    /// lookup field (a record with none is absent or empty). A moved or cleared lookup removes
    /// these and only these (platform-behaviours.md H3).
    async fn links(&self, records: &[RecordKey]) -> PortResult<HashMap<RecordKey, RecordLinks>>;

    /// Journals targets before their associations are written (and again after), so that a
    /// crash between the write and the record leaves them known. Each add draws a fresh token.
    async fn add_links(&self, links: &[LinkRecord]) -> PortResult<()>;

    /// Forgets targets once their associations are removed: each entry whose token is still
    /// the one given (a target journaled again meanwhile stays).
    async fn remove_links(&self, links: &[LinkRecord]) -> PortResult<()>;
}
