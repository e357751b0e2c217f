//! A record in flight through the batch: the newest of its changes, the state the worker will
//! apply, and what became of it.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::message::InboundMessage;
use crate::domain::{ChangeKind, FieldSnapshot, RereadReason, SalesforceId};
use crate::engine::MappedRecord;
use crate::ports::IndexEntry;

/// A record's state as the worker will apply it.
pub(super) enum State {
    Upsert(FieldSnapshot),
    Delete,
}

/// One record in flight through the batch. Each stage fills its part; a stage that settles the
/// record sets `outcome`, and later stages pass it by.
pub(super) struct Item {
    pub message: InboundMessage,
    pub superseded: Vec<InboundMessage>,
    pub state: Option<State>,
    pub modstamp: DateTime<Utc>,
    /// `modstamp` is Salesforce's (a `SystemModstamp` or a CDC commit time), not the time the
    /// change was received: only Salesforce's clock may be compared with the index's.
    pub modstamp_known: bool,
    pub mapped: Option<MappedRecord>,
    pub hubspot_id: Option<String>,
    /// A delete that archived the HubSpot record (rather than keeping it, or finding none).
    pub archived: bool,
    /// The record's index entry when this batch read it (`None`: no entry). Its `write_id`
    /// tells a later write whether another writer came in between.
    pub seen: Option<IndexEntry>,
    /// HubSpot created the record in this batch: it has no associations to prune.
    pub created: bool,
    /// The state it carries cannot be written as it is, so the record is read: it shares its
    /// stamp with a different state, in the index or the batch, and only a read says which is
    /// newest (`ties`); or it is an outbound message's whose action's definition could not be
    /// read, so its absent fields cannot be told from nulls (`nulls`).
    pub read_first: bool,
    /// A read found no live record: gone, unless the recycle bin shows the delete it is not
    /// visible to the integration user (`read`).
    pub found_gone: bool,
    /// Deleted in Salesforce under `on_delete = "keep"`: written with its last state, and
    /// recorded in the index as deleted.
    pub kept_after_delete: bool,
    pub outcome: Option<ItemOutcome>,
}

impl Item {
    pub fn new(message: InboundMessage, superseded: Vec<InboundMessage>) -> Self {
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
            seen: None,
            created: false,
            read_first: false,
            found_gone: false,
            kept_after_delete: false,
            outcome: None,
        }
    }

    /// Not settled by an earlier stage.
    pub fn open(&self) -> bool {
        self.outcome.is_none()
    }

    /// The `write_id` of the index entry this batch read (`None`: no entry).
    pub fn seen_write(&self) -> Option<u64> {
        self.seen.as_ref().map(|entry| entry.write_id)
    }

    fn messages(&self) -> impl Iterator<Item = &InboundMessage> {
        std::iter::once(&self.message).chain(&self.superseded)
    }

    /// A re-read after a lost race or a pending association, or one an operator asked for:
    /// HubSpot may hold another state than the index says, so "unchanged since the last
    /// write" cannot be trusted for it.
    pub fn after_lost_race(&self) -> bool {
        self.messages().any(|m| {
            matches!(
                m.change.kind,
                ChangeKind::Reread {
                    reason: RereadReason::ConcurrentUpdate
                        | RereadReason::AssociationPending
                        | RereadReason::Requested,
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
    pub fn read_requested(&self) -> bool {
        self.messages().any(|m| {
            m.change.modstamp.is_none() && matches!(m.change.kind, ChangeKind::Reread { .. })
        })
    }

    /// Whether an earlier delivery of this record's changes may have reached HubSpot (a
    /// redelivery after a crash, a timeout or a failed answer to an applied write).
    pub fn delivered_before(&self) -> bool {
        self.messages().any(|m| m.tries() > 1)
    }
}

/// What became of a record.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum ItemOutcome {
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
pub(super) enum Budget {
    /// Tries are spent or trying again cannot help: dead-letter it now.
    Spent,
    /// The record's own failure, with tries left: it is tried again from a fresh copy on the
    /// queue, so that a crash or a timeout of some later batch cannot spend the queue's last
    /// receive and leave SQS's redrive to dead-letter it without this reason.
    Counted,
    /// An outage, not the record's fault: retried without spending its tries.
    Outage,
}

/// One item per record: its newest change, the others superseded by it.
pub(super) fn newest_per_record(messages: Vec<InboundMessage>) -> Vec<Item> {
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
            let (message, superseded) = newest_first(messages);
            Item::new(message, superseded)
        })
        .collect()
}

/// Settles every item not settled yet with the same failure.
pub(super) fn fail_all(items: &mut [Item], reason: &str, delay: Duration, budget: Budget) {
    for item in items.iter_mut().filter(|i| i.open()) {
        item.outcome = Some(ItemOutcome::Failed {
            reason: reason.to_owned(),
            delay,
            budget,
        });
    }
}

/// The order of two changes of one record: newer modstamp first; a change without one (its age
/// is unknown) ranks below any with one, and the record is read rather than written with the
/// winner's carried state (`Item::read_requested`); at equal stamps a delete beats an upsert
/// (Salesforce stamps the delete of a just-written record with the same second), and the
/// later-received one wins.
fn rank(message: &InboundMessage) -> (Option<DateTime<Utc>>, u8, DateTime<Utc>) {
    let kind = match message.change.kind {
        ChangeKind::Delete => 2,
        ChangeKind::Undelete => 1,
        ChangeKind::Upsert { .. } | ChangeKind::Reread { .. } => 0,
    };
    (message.change.modstamp, kind, message.change.received_at)
}

/// Splits one record's messages into the winner and the superseded rest.
fn newest_first(mut messages: Vec<InboundMessage>) -> (InboundMessage, Vec<InboundMessage>) {
    messages.sort_by_key(|m| std::cmp::Reverse(rank(m)));
    let mut rest = messages;
    let winner = rest.remove(0);
    (winner, rest)
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Change, ChangeSource, FieldSnapshot, RereadReason, SalesforceId};

    fn message(
        id: &str,
        kind: ChangeKind,
        modstamp: Option<&str>,
        received: &str,
    ) -> InboundMessage {
        InboundMessage {
            message_id: id.into(),
            change: Change {
                org_id: SalesforceId::parse("00Dxx0000001gPF").unwrap(),
                object: "Invoice__c".into(),
                record_id: SalesforceId::parse("a015f00002J9YYE").unwrap(),
                kind,
                modstamp: modstamp.map(|m| m.parse().unwrap()),
                source: ChangeSource::Worker,
                received_at: received.parse().unwrap(),
                prior_deliveries: 0,
            },
            receive_count: 1,
        }
    }

    fn upsert() -> ChangeKind {
        ChangeKind::Upsert {
            fields: FieldSnapshot::new(),
        }
    }

    #[test]
    fn the_newest_modstamp_wins_whatever_the_arrival_order() {
        let (winner, rest) = newest_first(vec![
            message(
                "new",
                upsert(),
                Some("2026-01-02T00:00:00Z"),
                "2026-01-01T00:00:00Z",
            ),
            message(
                "old",
                upsert(),
                Some("2026-01-01T00:00:00Z"),
                "2026-01-03T00:00:00Z",
            ),
        ]);
        assert_eq!(winner.message_id, "new");
        assert_eq!(rest.len(), 1);
    }

    #[test]
    fn unknown_age_ranks_last_and_delete_wins_a_tie() {
        let reread = ChangeKind::Reread {
            reason: RereadReason::UnknownAge,
            partial: FieldSnapshot::new(),
        };
        let (winner, _) = newest_first(vec![
            message("unknown", reread, None, "2026-01-05T00:00:00Z"),
            message(
                "upsert",
                upsert(),
                Some("2026-01-02T00:00:00Z"),
                "2026-01-01T00:00:00Z",
            ),
            message(
                "delete",
                ChangeKind::Delete,
                Some("2026-01-02T00:00:00Z"),
                "2026-01-01T00:00:00Z",
            ),
        ]);
        assert_eq!(winner.message_id, "delete");
    }
}
