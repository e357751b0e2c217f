//! Which change of a record wins when a batch holds several: the newest state.

use chrono::{DateTime, Utc};

use super::InboundMessage;
use crate::domain::ChangeKind;

/// The order of two changes of one record: newer modstamp first; a change without one (its age
/// is unknown) ranks below any with one, and the record is read rather than written with the
/// winner's carried state (`Item::read_requested`); at equal
/// stamps a delete beats an upsert (Salesforce stamps the delete of a just-written record with
/// the same second), and the later-received one wins.
fn rank(message: &InboundMessage) -> (Option<DateTime<Utc>>, u8, DateTime<Utc>) {
    let kind = match message.change.kind {
        ChangeKind::Delete => 2,
        ChangeKind::Undelete => 1,
        ChangeKind::Upsert { .. } | ChangeKind::Refetch { .. } => 0,
    };
    (message.change.modstamp, kind, message.change.received_at)
}

/// Splits one record's messages into the winner and the superseded rest.
pub fn newest_first(mut messages: Vec<InboundMessage>) -> (InboundMessage, Vec<InboundMessage>) {
    messages.sort_by_key(|m| std::cmp::Reverse(rank(m)));
    let mut rest = messages;
    let winner = rest.remove(0);
    (winner, rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Change, ChangeSource, FieldSnapshot, RefetchReason, SalesforceId};

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
        let refetch = ChangeKind::Refetch {
            reason: RefetchReason::UnknownAge,
            partial: FieldSnapshot::new(),
        };
        let (winner, _) = newest_first(vec![
            message("unknown", refetch, None, "2026-01-05T00:00:00Z"),
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
