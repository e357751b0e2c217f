//! Settling: what each record's outcome means for its messages (done, retried, waiting,
//! dead-lettered), its sync-log entry and its import's counts. No I/O: `process` writes what
//! this gathers.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::domain::{Change, ChangeKind, ChangeSource, FieldSnapshot, RereadReason};
use crate::ports::{ImportCounts, SyncLogEntry, SyncOutcome};

use super::item::{Budget, Item, ItemOutcome};
use super::message::{BatchResult, Disposition};
use super::settings::{MAX_QUEUE_DELAY, WorkerSettings};

/// What settling a batch's records gathered.
#[derive(Default)]
pub(super) struct Settlement {
    pub result: BatchResult,
    pub log: Vec<SyncLogEntry>,
    pub import_counts: HashMap<String, ImportCounts>,
}

impl Settlement {
    /// Settles one record at `now`: its newest message gets the outcome's disposition, the
    /// messages it superseded are done with it.
    pub fn add(&mut self, item: Item, settings: &WorkerSettings, now: DateTime<Utc>) {
        let Item {
            message,
            superseded,
            outcome,
            hubspot_id,
            ..
        } = item;
        let outcome = outcome.unwrap_or(ItemOutcome::Failed {
            reason: "the worker did not finish this record (a bug): it will be retried".into(),
            delay: settings.retry_delay,
            budget: Budget::Outage,
        });
        let entry = |outcome: SyncOutcome, reason: Option<String>| SyncLogEntry {
            at: now,
            salesforce_object: message.change.object.clone(),
            record_id: message.change.record_id.clone(),
            outcome,
            reason,
            hubspot_id: hubspot_id.clone(),
        };
        let log = &mut self.log;
        let result = &mut self.result;
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
                if budget == Budget::Outage && message.receive_count < settings.max_receives {
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
                let waited = (now - message.change.received_at)
                    .to_std()
                    .unwrap_or_default();
                if waited >= settings.association_max_wait {
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
                        .max(settings.association_retry_delay)
                        .min(MAX_QUEUE_DELAY);
                    // The copy re-reads the record: the newest state is written again with its
                    // associations, whatever happened to the record meanwhile.
                    let change = Change {
                        kind: ChangeKind::Reread {
                            reason: RereadReason::AssociationPending,
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
            count_import(&mut self.import_counts, &old.change, Some(true));
            self.result
                .dispositions
                .push((old.message_id.clone(), Disposition::Done));
        }
        count_import(&mut self.import_counts, &message.change, done);
        self.result
            .dispositions
            .push((message.message_id, disposition));
    }
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::TimeZone;

    use super::*;
    use crate::domain::SalesforceId;
    use crate::worker::message::InboundMessage;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 5, 12, 0, 0)
            .single()
            .expect("time")
    }

    fn message(id: &str, receive_count: u32, received_ago: Duration, job: bool) -> InboundMessage {
        InboundMessage {
            message_id: id.into(),
            change: Change {
                org_id: SalesforceId::parse("00Dxx0000001gPF").expect("org"),
                object: "Invoice__c".into(),
                record_id: SalesforceId::parse("a015f00002J9YYE").expect("id"),
                kind: ChangeKind::Upsert {
                    fields: FieldSnapshot::new(),
                },
                modstamp: Some(now()),
                source: if job {
                    ChangeSource::Import {
                        job_id: "j1".into(),
                    }
                } else {
                    ChangeSource::Worker
                },
                received_at: now() - chrono::Duration::from_std(received_ago).expect("ago"),
                prior_deliveries: 0,
            },
            receive_count,
        }
    }

    fn settings() -> WorkerSettings {
        WorkerSettings {
            max_receives: 5,
            retry_delay: Duration::from_secs(30),
            association_retry_delay: Duration::from_secs(60),
            association_max_wait: Duration::from_secs(24 * 3600),
            ..WorkerSettings::default()
        }
    }

    fn failed(budget: Budget, delay: u64) -> Option<ItemOutcome> {
        Some(ItemOutcome::Failed {
            reason: "refused".into(),
            delay: Duration::from_secs(delay),
            budget,
        })
    }

    fn waiting() -> Option<ItemOutcome> {
        Some(ItemOutcome::WaitingForTarget {
            reason: "target not yet".into(),
        })
    }

    /// What a case should give: the disposition's kind and wait, the log outcome, and the
    /// import counts (synced, failed) of the record's own message.
    #[derive(Debug, PartialEq)]
    enum Expect {
        Done,
        Retry(u64),
        Requeue {
            delay: u64,
            tries: u32,
            reread: bool,
        },
        DeadLetter,
    }

    fn kind_of(disposition: &Disposition) -> Expect {
        match disposition {
            Disposition::Done => Expect::Done,
            Disposition::Retry { delay, .. } => Expect::Retry(delay.as_secs()),
            Disposition::Requeue { change, delay, .. } => Expect::Requeue {
                delay: delay.as_secs(),
                tries: change.prior_deliveries,
                reread: matches!(
                    change.kind,
                    ChangeKind::Reread {
                        reason: RereadReason::AssociationPending,
                        ..
                    }
                ) && change.modstamp.is_none(),
            },
            Disposition::DeadLetter { .. } => Expect::DeadLetter,
        }
    }

    /// A case: its name, the outcome, the receive count, how long ago the change was received,
    /// and what it should give: disposition, log outcome, import counts (synced, failed).
    type Case = (
        &'static str,
        Option<ItemOutcome>,
        u32,
        Duration,
        Expect,
        SyncOutcome,
        (u64, u64),
    );

    #[test]
    fn each_outcome_settles_its_messages_log_and_import_counts() {
        use Expect::*;
        let hour = Duration::from_secs(3600);
        let second = Duration::from_secs(1);
        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            ("synced", Some(ItemOutcome::Synced { detail: "upserted" }), 1, second, Done, SyncOutcome::Synced, (1, 0)),
            ("skipped", Some(ItemOutcome::Skipped { reason: "unchanged".into() }), 1, second, Done, SyncOutcome::Skipped, (1, 0)),
            ("spent", failed(Budget::Spent, 30), 1, second, DeadLetter, SyncOutcome::DeadLettered, (0, 1)),
            ("outage with receives left waits on the message", failed(Budget::Outage, 45), 2, second, Retry(45), SyncOutcome::Failed, (0, 0)),
            ("outage on the last receive goes on as a copy", failed(Budget::Outage, 45), 5, second, Requeue { delay: 45, tries: 5, reread: false }, SyncOutcome::Failed, (0, 0)),
            ("counted failure goes on as a copy", failed(Budget::Counted, 30), 2, second, Requeue { delay: 30, tries: 2, reread: false }, SyncOutcome::Failed, (0, 0)),
            ("a copy's wait is capped at SQS's 15 minutes", failed(Budget::Counted, 3000), 1, second, Requeue { delay: 900, tries: 1, reread: false }, SyncOutcome::Failed, (0, 0)),
            ("waiting for a target: at least the first wait", waiting(), 1, second, Requeue { delay: 60, tries: 0, reread: true }, SyncOutcome::Failed, (0, 0)),
            ("waiting for a target: as long again as waited", waiting(), 1, Duration::from_secs(300), Requeue { delay: 300, tries: 0, reread: true }, SyncOutcome::Failed, (0, 0)),
            ("waiting for a target: capped at 15 minutes", waiting(), 1, 3 * hour, Requeue { delay: 900, tries: 0, reread: true }, SyncOutcome::Failed, (0, 0)),
            ("waiting for a target past the longest wait", waiting(), 1, 25 * hour, DeadLetter, SyncOutcome::DeadLettered, (0, 1)),
            ("not finished (a bug) is an outage", None, 1, second, Retry(30), SyncOutcome::Failed, (0, 0)),
        ];
        for (name, outcome, receives, ago, expect, logged, counts) in cases {
            let mut item = Item::new(message("m1", receives, ago, true), Vec::new());
            item.outcome = outcome;
            let mut settlement = Settlement::default();
            settlement.add(item, &settings(), now());
            let [(id, disposition)] = settlement.result.dispositions.as_slice() else {
                panic!(
                    "{name}: one disposition, got {:?}",
                    settlement.result.dispositions
                );
            };
            assert_eq!(id, "m1", "{name}");
            assert_eq!(kind_of(disposition), expect, "{name}");
            assert_eq!(settlement.log.len(), 1, "{name}");
            assert_eq!(settlement.log[0].outcome, logged, "{name}");
            assert_eq!(settlement.log[0].at, now(), "{name}");
            let job = settlement
                .import_counts
                .get("j1")
                .cloned()
                .unwrap_or_default();
            assert_eq!((job.synced, job.failed), counts, "{name}");
        }
    }

    #[test]
    fn superseded_messages_are_done_with_the_newest_and_counted_as_synced() {
        let newest = message("new", 1, Duration::from_secs(1), true);
        let older = vec![
            message("old1", 1, Duration::from_secs(2), true),
            message("old2", 3, Duration::from_secs(3), true),
        ];
        let mut item = Item::new(newest, older);
        item.outcome = failed(Budget::Outage, 30);
        let mut settlement = Settlement::default();
        settlement.add(item, &settings(), now());
        let dispositions: Vec<(&str, Expect)> = settlement
            .result
            .dispositions
            .iter()
            .map(|(id, d)| (id.as_str(), kind_of(d)))
            .collect();
        assert_eq!(
            dispositions,
            [
                ("old1", Expect::Done),
                ("old2", Expect::Done),
                ("new", Expect::Retry(30))
            ]
        );
        assert_eq!(
            settlement.log.len(),
            1,
            "one entry per record, not per message"
        );
        assert_eq!(settlement.import_counts["j1"].synced, 2);
        assert_eq!(settlement.import_counts["j1"].failed, 0);
        assert_eq!(
            (settlement.result.written, settlement.result.skipped),
            (0, 0)
        );
    }

    #[test]
    fn a_dead_letter_after_the_longest_wait_says_what_to_check() {
        let mut item = Item::new(
            message("m1", 1, Duration::from_secs(30 * 3600), false),
            Vec::new(),
        );
        item.outcome = waiting();
        let mut settlement = Settlement::default();
        settlement.add(item, &settings(), now());
        let Disposition::DeadLetter { reason } = &settlement.result.dispositions[0].1 else {
            panic!("dead-lettered");
        };
        assert!(
            reason.starts_with("target not yet; still missing after 30 h"),
            "{reason}"
        );
        assert!(reason.contains("sf2hs dlq replay"), "{reason}");
        assert!(
            settlement.import_counts.is_empty(),
            "not an import's change"
        );
    }
}
