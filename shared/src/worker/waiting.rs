//! A record whose lookup target is not in HubSpot yet waits in the store's pending-association
//! index, keyed by the target's Salesforce id (`RecordIndex::wait_for`). The worker that writes
//! the target takes its waiters and sends each back at once, as a re-read that writes it with
//! its associations, instead of leaving it to its retry's delay
//! (`SF2HS_ASSOCIATION_RETRY_DELAY_SECONDS`). The delayed retry stays as the fallback: a waiter
//! whose registration failed, or that registered just after its target's worker looked, is
//! still linked, later.

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use tokio::time::Instant;

use super::Worker;
use super::item::{Item, ItemOutcome, State};
use crate::domain::{Change, ChangeKind, ChangeSource, FieldSnapshot, RecordKey, RereadReason};
use crate::mapping::AssociationTarget;

/// How long the objects that lookups lead to are taken as known: a mapping applied meanwhile
/// is seen within this (its records' waiters fall back on their retry until then).
const TARGETS_FRESH_FOR: Duration = Duration::from_secs(60);

/// The Salesforce objects some mapping's lookups lead to, as last read.
#[derive(Default)]
pub(super) struct LookupTargets(tokio::sync::Mutex<Option<(Instant, HashSet<String>)>>);

impl Worker {
    /// Records that each waiter waits for its target; a failure only costs the waiter its
    /// early return (its retry comes anyway).
    pub(super) async fn wait_for_targets(&self, links: &[(RecordKey, RecordKey)]) {
        if links.is_empty() {
            return;
        }
        if let Err(e) = self.ports.index.wait_for(links).await {
            tracing::warn!(records = links.len(), error = %e, "cannot record the records waiting for their targets; their retries link them");
        }
    }

    /// Sends back, at once, the records that waited for the records this batch wrote.
    pub(super) async fn release_waiting(&self, object: &str, items: &[Item]) {
        if !self.is_lookup_target(object).await {
            return;
        }
        let written: Vec<(RecordKey, &Change)> = items
            .iter()
            .filter(|item| {
                matches!(item.outcome, Some(ItemOutcome::Synced { .. }))
                    && matches!(item.state, Some(State::Upsert(_)))
                    && item.hubspot_id.is_some()
            })
            .map(|item| (item.message.change.record_key(), &item.message.change))
            .collect();
        let Some((_, any)) = written.first() else {
            return;
        };
        let org_id = any.org_id.clone();
        let targets: Vec<RecordKey> = written.iter().map(|(key, _)| key.clone()).collect();
        let waiters = match self.ports.index.take_waiting(&targets).await {
            Ok(waiters) => waiters,
            Err(e) => {
                tracing::warn!(error = %e, "cannot take the records waiting for this batch's records; their retries link them");
                return;
            }
        };
        if waiters.is_empty() {
            return;
        }
        let now = Utc::now();
        let rereads: Vec<Change> = waiters
            .into_iter()
            .map(|waiter| Change {
                org_id: org_id.clone(),
                object: waiter.object,
                record_id: waiter.record_id,
                kind: ChangeKind::Reread {
                    reason: RereadReason::AssociationPending,
                    partial: FieldSnapshot::new(),
                },
                modstamp: None,
                source: ChangeSource::Worker,
                received_at: now,
                prior_deliveries: 0,
            })
            .collect();
        if let Err(e) = self.ports.queue.send_batch(&rereads).await {
            tracing::warn!(records = rereads.len(), error = %e, "cannot send back the records that waited; their retries link them");
        }
    }

    /// Whether some mapping has a lookup leading to `object` (read at most once a minute).
    async fn is_lookup_target(&self, object: &str) -> bool {
        let mut known = self.lookup_targets.0.lock().await;
        let fresh = known
            .as_ref()
            .is_some_and(|(read_at, _)| read_at.elapsed() < TARGETS_FRESH_FOR);
        if !fresh {
            match self.ports.mappings.list().await {
                Ok(mappings) => {
                    let targets = mappings
                        .iter()
                        .flat_map(|stored| &stored.mapping.associations)
                        .filter_map(|association| match &association.target {
                            AssociationTarget::MappedObject { salesforce_object } => {
                                Some(salesforce_object.clone())
                            }
                            AssociationTarget::HubSpotObject { .. } => None,
                        })
                        .collect();
                    *known = Some((Instant::now(), targets));
                }
                // Unknown: ask the index, which answers "none" cheaply when there are none.
                Err(_) => return true,
            }
        }
        known
            .as_ref()
            .is_some_and(|(_, targets)| targets.contains(object))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::domain::{ChangeKind, FieldSnapshot, RereadReason};
    use crate::worker::Disposition;
    use crate::worker::fakes::{Rig, id, only, stamp};

    fn project(rig: &Rig, n: u32) -> crate::worker::InboundMessage {
        let fields = FieldSnapshot::from([
            ("Name".to_owned(), json!(format!("P{n}"))),
            ("SystemModstamp".to_owned(), json!(stamp(5).to_rfc3339())),
        ]);
        rig.message(rig.change(
            "Project__c",
            &id("a02", n),
            ChangeKind::Upsert { fields },
            Some(stamp(5)),
        ))
    }

    #[tokio::test]
    async fn the_worker_that_writes_a_target_sends_its_waiting_records_back() {
        let rig = Rig::new().await;
        let target = id("a02", 1);
        let waited = rig
            .process(vec![
                rig.invoice(1, "INV-1", Some(&target), stamp(1)),
                rig.invoice(2, "INV-2", Some(&target), stamp(1)),
                rig.invoice(3, "INV-3", Some(&id("a02", 2)), stamp(1)),
            ])
            .await;
        assert!(
            waited
                .dispositions
                .iter()
                .all(|(_, d)| matches!(d, Disposition::Requeue { .. })),
            "{waited:?}"
        );
        assert!(rig.queued().await.is_empty(), "nothing sent back yet");

        let written = rig.process(vec![project(&rig, 1)]).await;
        assert_eq!(only(&written), &Disposition::Done);
        let mut back: Vec<(String, String)> = rig
            .queued()
            .await
            .into_iter()
            .map(|change| {
                assert!(matches!(
                    change.kind,
                    ChangeKind::Reread {
                        reason: RereadReason::AssociationPending,
                        ..
                    }
                ));
                (change.object, change.record_id.as_str().to_owned())
            })
            .collect();
        back.sort();
        assert_eq!(
            back,
            [
                ("Invoice__c".to_owned(), id("a01", 1).as_str().to_owned()),
                ("Invoice__c".to_owned(), id("a01", 2).as_str().to_owned()),
            ],
            "the two waiting for it, not the one waiting for another project"
        );

        // Taken once: writing the project again sends nothing.
        rig.process(vec![project(&rig, 1)]).await;
        assert!(rig.queued().await.is_empty());
    }

    #[tokio::test]
    async fn a_target_written_while_its_record_looked_is_linked_at_once() {
        // The target appears between the first lookup and the wait being recorded: the second
        // lookup finds it.
        let rig = Rig::new().await;
        let target = id("a02", 1);
        rig.hubspot.state().appear_on_second_lookup =
            Some(("project".into(), target.as_str().to_owned()));
        let result = rig
            .process(vec![rig.invoice(1, "INV-1", Some(&target), stamp(1))])
            .await;
        assert_eq!(only(&result), &Disposition::Done, "{result:?}");
        assert_eq!(rig.hubspot.state().associations.len(), 1);
    }
}
