//! Recording what was applied in the record index, and reading a record again when the write
//! shows that another writer came in between.

use std::collections::HashSet;

use chrono::Utc;

use crate::domain::{Change, ChangeKind, ChangeSource, FieldSnapshot, RecordKey, RereadReason};
use crate::ports::{IndexEntry, IndexWrite, PortResult, RecordIndex};

use super::Worker;
use super::item::{Budget, Item, ItemOutcome, State};

impl Worker {
    /// Records what was applied; a concurrent newer write makes the worker re-read the record.
    pub(super) async fn record_in_index(&self, items: &mut [Item]) {
        let mut reread = Vec::new();
        let mut raced_items = Vec::new();
        let mut writes = Vec::new();
        for (position, item) in items.iter_mut().enumerate() {
            if !item.open() {
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
                    if came_between(&write, item.seen_write()) =>
                {
                    Some(RACED_SAME_STATE)
                }
                Ok(write) if came_between(&write, item.seen_write()) => Some(RACED_OTHER_STATE),
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
            reread.push(reread_after_race(&item.message.change));
            raced_items.push(position);
            item.outcome = Some(ItemOutcome::Synced { detail });
        }
        if !reread.is_empty()
            && let Err(e) = self.ports.queue.send_batch(&reread).await
        {
            // Without the re-read HubSpot could keep the older state: deliver these again.
            tracing::warn!(records = reread.len(), error = %e, "cannot enqueue re-reads");
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
}

/// Whether `write` replaced another write than the entry read before writing HubSpot (`seen`,
/// its `write_id`; `None`: no entry): every write draws a new `write_id`, so a different one
/// shows another writer in between, even one that left the modstamp as it was. A `Stale` write
/// replaced nothing.
pub(super) fn came_between(write: &IndexWrite, seen: Option<u64>) -> bool {
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
pub(super) fn reread_after_race(change: &Change) -> Change {
    Change {
        kind: ChangeKind::Reread {
            reason: RereadReason::ConcurrentUpdate,
            partial: FieldSnapshot::new(),
        },
        modstamp: None,
        source: ChangeSource::Worker,
        received_at: Utc::now(),
        ..change.clone()
    }
}

/// The index writes of a batch, several at a time, their answers in the order given. Writes of
/// one record twice in a batch go one at a time, in order, so the later state is compared
/// against the earlier as it would be sequentially.
async fn put_all(
    index: &dyn RecordIndex,
    writes: &[(usize, RecordKey, IndexEntry, ItemOutcome)],
    most: usize,
) -> Vec<PortResult<IndexWrite>> {
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
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use async_trait::async_trait;

    use super::*;
    use crate::domain::SalesforceId;

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
        async fn wait_for(&self, _: &[(RecordKey, RecordKey)]) -> crate::ports::PortResult<()> {
            Ok(())
        }
        async fn take_waiting(&self, _: &[RecordKey]) -> crate::ports::PortResult<Vec<RecordKey>> {
            Ok(Vec::new())
        }
        async fn links(
            &self,
            _: &[RecordKey],
        ) -> crate::ports::PortResult<HashMap<RecordKey, crate::ports::RecordLinks>> {
            Ok(HashMap::new())
        }
        async fn add_links(&self, _: &[crate::ports::LinkRecord]) -> crate::ports::PortResult<()> {
            Ok(())
        }
        async fn remove_links(
            &self,
            _: &[crate::ports::LinkRecord],
        ) -> crate::ports::PortResult<()> {
            Ok(())
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
