//! `Change`: one Salesforce record change, as it travels from intake through the queue to the worker.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::SalesforceId;

/// Field values as Salesforce sent them, keyed by field API name.
///
/// Values stay as JSON because the four intake paths disagree on shape: outbound messages and Bulk
/// CSV give strings, CDC gives epoch-ms numbers and nested compound values, REST gives typed JSON.
/// The mapping engine turns them into HubSpot strings with the field's type in hand.
pub type FieldSnapshot = BTreeMap<String, serde_json::Value>;

/// One change to one Salesforce record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The organisation the change came from (18 characters).
    pub org_id: SalesforceId,
    /// Object API name, e.g. `Invoice__c` or `Account`.
    pub object: String,
    /// The changed record (18 characters).
    pub record_id: SalesforceId,
    pub kind: ChangeKind,
    /// `SystemModstamp` of the state carried, or the CDC commit timestamp; `None` when the sender
    /// did not say (an outbound message without that field), in which case the worker re-reads.
    pub modstamp: Option<DateTime<Utc>>,
    pub source: ChangeSource,
    pub received_at: DateTime<Utc>,
    /// Deliveries of this change before the worker queued this copy of it (0 for a change
    /// from intake). A copy starts the queue's receive count again, so the worker adds these
    /// to it when it counts a record's tries.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub prior_deliveries: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What happened to the record, and how much of its state the change carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChangeKind {
    /// Created or updated; `fields` is a full snapshot of the mapped fields.
    Upsert {
        fields: FieldSnapshot,
    },
    /// Created or updated, but the state must be read from Salesforce before writing: the
    /// snapshot is partial (a CDC UPDATE carries only changed fields), missing (a gap event) or
    /// not to be trusted (diff fields). `partial` holds what did arrive.
    // The queue's messages say `refetch`, as before the rename: changes queued by an older
    // version are read the same way.
    #[serde(rename = "refetch")]
    Reread {
        reason: RereadReason,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        partial: FieldSnapshot,
    },
    Delete,
    Undelete,
}

/// Why a change needs the record's state read from Salesforce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RereadReason {
    /// A CDC UPDATE: only changed fields were sent.
    PartialUpdate,
    /// A CDC gap event: header only, no field values.
    Gap,
    /// Some values were sent as diffs (large text) and cannot be used as they are.
    DiffFields,
    /// The sender gave no modification stamp, so the state's age is unknown.
    UnknownAge,
    /// The record index moved on while this state was written; read the newest state.
    ConcurrentUpdate,
    /// Written, but an association target was not in HubSpot yet: read the newest state and
    /// write it with its associations again.
    AssociationPending,
    /// A platform event named the record but carries no snapshot of it.
    EventOnly,
    /// The state was too big for a queue message (`ports::message_body`): read it instead.
    TooLarge,
    /// An operator asked for it (`sf2hs resync`, the console): read the record and write what
    /// Salesforce has now, even where the record index says HubSpot holds it already.
    Requested,
}

/// Where a change came from: kept for the sync log and for de-duplication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "via", rename_all = "snake_case")]
pub enum ChangeSource {
    OutboundMessage {
        /// The notification id (`04l…`): Salesforce redelivers with the same one.
        notification_id: String,
        action_id: String,
    },
    Cdc {
        transaction_key: String,
        #[serde(default)]
        sequence_number: Option<i64>,
        /// The SCN; i64 because real values exceed 2^53.
        #[serde(default)]
        commit_number: Option<i64>,
        /// EventBridge event id or replay id, when known.
        #[serde(default)]
        event_id: Option<String>,
    },
    PlatformEvent {
        event_name: String,
        #[serde(default)]
        event_id: Option<String>,
    },
    Import {
        job_id: String,
    },
    /// A re-read the worker asked for itself (a concurrent update, an association retry).
    Worker,
}

impl Change {
    /// The key that identifies the record across systems and queues.
    pub fn record_key(&self) -> RecordKey {
        RecordKey {
            object: self.object.clone(),
            record_id: self.record_id.clone(),
        }
    }

    /// True when the worker can write this change without reading Salesforce first.
    pub fn carries_full_state(&self) -> bool {
        match &self.kind {
            ChangeKind::Upsert { .. } => self.modstamp.is_some(),
            ChangeKind::Reread { .. } => false,
            ChangeKind::Delete | ChangeKind::Undelete => true,
        }
    }
}

/// One Salesforce record: object API name and 18-character id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RecordKey {
    pub object: String,
    pub record_id: SalesforceId,
}

impl std::fmt::Display for RecordKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.object, self.record_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Change {
        Change {
            org_id: SalesforceId::parse("00Dn00000008y2t").unwrap(),
            object: "Invoice__c".into(),
            record_id: SalesforceId::parse("a015f00002J9YYE").unwrap(),
            kind: ChangeKind::Upsert {
                fields: FieldSnapshot::from([
                    ("Name".into(), serde_json::json!("INV-1")),
                    ("Amount__c".into(), serde_json::json!(12.5)),
                ]),
            },
            modstamp: Some("2026-09-09T19:10:58Z".parse().unwrap()),
            source: ChangeSource::Cdc {
                transaction_key: "0000be70".into(),
                sequence_number: Some(1),
                commit_number: Some(1_778_192_987_716_501_507),
                event_id: None,
            },
            received_at: "2026-09-09T19:11:00Z".parse().unwrap(),
            prior_deliveries: 0,
        }
    }

    #[test]
    fn change_round_trips_through_json_with_big_commit_numbers() {
        let change = sample();
        let json = serde_json::to_string(&change).unwrap();
        assert!(json.contains("1778192987716501507"), "{json}");
        let back: Change = serde_json::from_str(&json).unwrap();
        assert_eq!(back, change);
    }

    #[test]
    fn a_requeued_copy_carries_its_deliveries_and_older_bodies_read_as_none() {
        let json = serde_json::to_string(&sample()).unwrap();
        assert!(!json.contains("prior_deliveries"), "{json}");
        let copy = Change {
            prior_deliveries: 3,
            ..sample()
        };
        let back: Change = serde_json::from_str(&serde_json::to_string(&copy).unwrap()).unwrap();
        assert_eq!(back.prior_deliveries, 3);
        assert_eq!(
            serde_json::from_str::<Change>(&json)
                .unwrap()
                .prior_deliveries,
            0
        );
    }

    #[test]
    fn a_queued_change_with_a_15_char_id_is_normalised() {
        let json = serde_json::to_string(&sample())
            .unwrap()
            .replace("a015f00002J9YYEAA3", "a015f00002J9YYE");
        let back: Change = serde_json::from_str(&json).unwrap();
        assert_eq!(back.record_id.as_str(), "a015f00002J9YYEAA3");
    }

    #[test]
    fn full_state_needs_a_modstamp() {
        let mut change = sample();
        assert!(change.carries_full_state());
        change.modstamp = None;
        assert!(!change.carries_full_state());
        change.kind = ChangeKind::Reread {
            reason: RereadReason::Gap,
            partial: FieldSnapshot::new(),
        };
        assert!(!change.carries_full_state());
    }
}
