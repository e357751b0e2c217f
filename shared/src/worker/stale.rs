//! States that need no write: older than the one the index says was applied, or mapping to
//! the content already written. Between the two checks the remaining states are mapped.

use crate::domain::{Change, RecordKey};
use crate::engine::map_record;
use crate::mapping::Mapping;
use crate::ports::IndexEntry;

use super::Worker;
use super::index::{came_between, reread_after_race};
use super::item::{Budget, Item, ItemOutcome, State};

impl Worker {
    /// Reads the open items' index entries (`Item::seen`), and the HubSpot ids they hold; the
    /// items fail as an outage when the index cannot be read.
    pub(super) async fn read_index(&self, items: &mut [Item]) {
        let keys: Vec<RecordKey> = items
            .iter()
            .filter(|i| i.open())
            .map(|i| i.message.change.record_key())
            .collect();
        let mut stored = match self.ports.index.get_many(&keys).await {
            Ok(stored) => stored,
            Err(e) => {
                for item in items.iter_mut().filter(|i| i.open()) {
                    item.outcome = Some(ItemOutcome::Failed {
                        reason: e.to_string(),
                        delay: self.settings.retry_delay,
                        budget: Budget::Outage,
                    });
                }
                return;
            }
        };
        for item in items.iter_mut().filter(|i| i.open()) {
            item.seen = stored.remove(&item.message.change.record_key());
            item.hubspot_id = item.seen.as_ref().and_then(|e| e.hubspot_id.clone());
        }
    }

    /// Skips states older than the index's. An older state delivered before is also read again
    /// (into `reread`): an earlier delivery may have written it after the newer one landed.
    pub(super) fn skip_stale(&self, items: &mut [Item], reread: &mut Vec<Change>) {
        for item in items.iter_mut().filter(|i| i.open()) {
            let Some(current) = &item.seen else { continue };
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
            }
        }
    }

    /// Maps every open upsert's state; a state the mapping cannot convert fails the record.
    pub(super) fn map_states(&self, mapping: &Mapping, items: &mut [Item]) {
        for item in items.iter_mut().filter(|i| i.open()) {
            let Some(State::Upsert(fields)) = &item.state else {
                continue;
            };
            match map_record(mapping, &item.message.change.record_id, fields, None) {
                Err(errors) => {
                    item.outcome = Some(self.failure(&item.message, errors.to_string()));
                }
                Ok(mapped) => item.mapped = Some(mapped),
            }
        }
    }

    /// Skips mapped states whose content is what the index says HubSpot holds. The index still
    /// learns a newer stamp; a write that shows another writer in between asks for a re-read
    /// (into `reread`).
    pub(super) async fn skip_unchanged(&self, items: &mut [Item], reread: &mut Vec<Change>) {
        for item in items.iter_mut().filter(|i| i.open()) {
            let Some(mapped) = &item.mapped else { continue };
            // A redelivery may follow a batch that crashed after writing HubSpot (an older
            // state, or a prune of a newer association) without recording it: HubSpot need
            // not hold what the index says, so it is written again.
            let unchanged = !item.after_lost_race()
                && !item.delivered_before()
                && item.seen.as_ref().is_some_and(|c| {
                    !c.deleted
                        && c.hubspot_id.is_some()
                        && c.content_hash == mapped.content_hash.as_str()
                });
            if !unchanged {
                continue;
            }
            let content_hash = mapped.content_hash.as_str().to_owned();
            item.mapped = None;
            item.outcome = Some(ItemOutcome::Skipped {
                reason: "unchanged since the last write".into(),
            });
            if item.seen.as_ref().map(|c| c.modstamp) == Some(item.modstamp) {
                continue;
            }
            // The index still learns the newer modstamp, so older states that arrive later are
            // recognised as older.
            let entry = IndexEntry {
                hubspot_id: item.hubspot_id.clone(),
                modstamp: item.modstamp,
                content_hash,
                deleted: item.kept_after_delete,
                write_id: 0,
            };
            // Another writer may have stored (and written to HubSpot) a state in between,
            // which this newer one, not written, would hide: read again. (A newer state stored
            // instead: its writer settles the record.)
            let key = item.message.change.record_key();
            let written = self.ports.index.put_if_newer(&key, &entry).await;
            if written.is_ok_and(|write| came_between(&write, item.seen_write())) {
                reread.push(reread_after_race(&item.message.change));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::worker::Disposition;
    use crate::worker::fakes::{Rig, id, only, stamp};

    #[tokio::test]
    async fn an_older_state_than_the_index_holds_is_skipped_unwritten() {
        let rig = Rig::new().await;
        rig.process(vec![rig.invoice(1, "Newer", None, stamp(10))])
            .await;
        let calls = rig.hubspot.state().calls.len();
        let result = rig
            .process(vec![rig.invoice(1, "Older", None, stamp(5))])
            .await;
        assert_eq!(only(&result), &Disposition::Done);
        assert_eq!(rig.hubspot.state().calls.len(), calls, "no HubSpot call");
        let skipped = rig.log().await.into_iter().next().expect("entry");
        let reason = skipped.reason.unwrap_or_default();
        assert!(
            reason.starts_with("older than the state already applied"),
            "{reason}"
        );
        assert_eq!(
            rig.hubspot
                .property("invoice", id("a01", 1).as_str(), "name")
                .as_deref(),
            Some("Newer")
        );
    }

    #[tokio::test]
    async fn unchanged_content_is_skipped_and_the_index_learns_the_newer_stamp() {
        let rig = Rig::new().await;
        rig.process(vec![rig.invoice(1, "Same", None, stamp(10))])
            .await;
        let calls = rig.hubspot.state().calls.len();
        let result = rig
            .process(vec![rig.invoice(1, "Same", None, stamp(20))])
            .await;
        assert_eq!(only(&result), &Disposition::Done);
        assert_eq!(result.skipped, 1);
        assert_eq!(rig.hubspot.state().calls.len(), calls, "no HubSpot call");
        let entry = rig
            .entry("Invoice__c", &id("a01", 1))
            .await
            .expect("indexed");
        assert_eq!(entry.modstamp, stamp(20));
        assert!(rig.queued().await.is_empty(), "no writer came in between");
    }

    #[tokio::test]
    async fn unchanged_content_delivered_before_is_written_again() {
        let rig = Rig::new().await;
        rig.process(vec![rig.invoice(1, "Same", None, stamp(10))])
            .await;
        let mut again = rig.invoice(1, "Same", None, stamp(10));
        again.receive_count = 2;
        let result = rig.process(vec![again]).await;
        assert_eq!((result.written, result.skipped), (1, 0));
    }
}
