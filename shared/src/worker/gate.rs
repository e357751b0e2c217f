//! The first stage: a batch's records of one object go on only under an active mapping.

use std::time::Duration;

use super::Worker;
use super::item::{Budget, Item, ItemOutcome, fail_all};
use crate::mapping::{Mapping, MappingStatus};
use crate::ports::{ChangeQueue, PortResult};

/// The reason prefix of changes parked because their mapping is paused; activation replays them.
pub const PAUSED_REASON_PREFIX: &str = "paused:";

/// Puts the changes of `object` parked while its mapping was paused back on their queue (with
/// all their tries); returns how many. Other dead letters stay where they are.
pub async fn replay_parked(queue: &dyn ChangeQueue, object: &str) -> PortResult<u64> {
    let parked: Vec<String> = queue
        .dead_letters(usize::MAX)
        .await?
        .into_iter()
        .filter(|letter| {
            letter.change.object == object && letter.reason.starts_with(PAUSED_REASON_PREFIX)
        })
        .map(|letter| letter.message_id)
        .collect();
    if parked.is_empty() {
        return Ok(0);
    }
    queue.replay(&parked).await
}

impl Worker {
    /// The active mapping of `object`, or `None` with the items settled: failed without a
    /// mapping (or when the store cannot be read), skipped under a draft, parked under a
    /// paused one.
    pub(super) async fn active_mapping(&self, object: &str, items: &mut [Item]) -> Option<Mapping> {
        let stored = match self.ports.mappings.get(object).await {
            Ok(Some(stored)) => stored,
            Ok(None) => {
                let reason = format!(
                    "no mapping for `{object}`: apply one (`sf2hs mappings apply FILE`), then replay the dead letters"
                );
                fail_all(items, &reason, Duration::ZERO, Budget::Spent);
                return None;
            }
            Err(e) => {
                let delay = self.settings.retry_delay;
                fail_all(items, &e.to_string(), delay, Budget::Outage);
                return None;
            }
        };
        match stored.mapping.status {
            MappingStatus::Draft => {
                for item in items.iter_mut() {
                    item.outcome = Some(ItemOutcome::Skipped {
                        reason: format!("mapping `{object}` is a draft: changes are not taken"),
                    });
                }
                None
            }
            MappingStatus::Paused => {
                // Parked, not dropped: `sf2hs mappings activate` replays them.
                let reason = format!(
                    "{PAUSED_REASON_PREFIX} mapping `{object}` is paused; activating it replays this change"
                );
                fail_all(items, &reason, Duration::ZERO, Budget::Spent);
                None
            }
            MappingStatus::Active => self.resolved_mapping(stored, items).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{MappingStore, SyncOutcome};
    use crate::worker::Disposition;
    use crate::worker::fakes::{Rig, only, stamp};

    #[tokio::test]
    async fn a_draft_mapping_skips_its_changes_without_calls() {
        let rig = Rig::new().await;
        let store = rig.store.mapping_store();
        store
            .set_status("Invoice__c", MappingStatus::Draft)
            .await
            .expect("status");
        let result = rig
            .process(vec![rig.invoice(1, "INV-1", None, stamp(0))])
            .await;
        assert_eq!(only(&result), &Disposition::Done);
        assert_eq!(rig.log().await[0].outcome, SyncOutcome::Skipped);
        assert!(rig.hubspot.state().calls.is_empty());
    }

    #[tokio::test]
    async fn a_paused_mapping_parks_its_changes_for_activation() {
        let rig = Rig::new().await;
        let store = rig.store.mapping_store();
        store
            .set_status("Invoice__c", MappingStatus::Paused)
            .await
            .expect("status");
        let result = rig
            .process(vec![rig.invoice(1, "INV-1", None, stamp(0))])
            .await;
        let Disposition::DeadLetter { reason } = only(&result) else {
            panic!("parked: {result:?}");
        };
        assert!(reason.starts_with(PAUSED_REASON_PREFIX), "{reason}");
        assert!(rig.hubspot.state().calls.is_empty());
    }

    #[tokio::test]
    async fn an_object_without_a_mapping_is_dead_lettered_with_the_fix() {
        let rig = Rig::new().await;
        let store = rig.store.mapping_store();
        store.delete("Invoice__c").await.expect("delete");
        let result = rig
            .process(vec![rig.invoice(1, "INV-1", None, stamp(0))])
            .await;
        let Disposition::DeadLetter { reason } = only(&result) else {
            panic!("dead-lettered: {result:?}");
        };
        assert!(reason.contains("sf2hs mappings apply"), "{reason}");
    }
}
