//! Equal stamps. Salesforce stamps changes in whole seconds (platform-behaviours.md S1), so two
//! states of one record can carry the same `SystemModstamp` and the stamp cannot say which is
//! newer. A carried state whose stamp equals the index's, or another carried state's in the
//! batch, with different content is settled by reading the record (one batched retrieve with
//! the other re-reads); a delete and a live state at one stamp likewise, where the record's
//! presence decides. A duplicate of the same state costs no read: its content matches.

use crate::domain::{Change, ChangeKind};
use crate::engine::{MappedRecord, map_record};
use crate::mapping::Mapping;
use crate::ports::IndexEntry;

use super::Worker;
use super::item::Item;

impl Worker {
    /// Marks the open items whose carried state ties with a different one: the read stage
    /// reads them instead of writing what they carry (`Item::read_first`). Needs the index
    /// entries read.
    pub(super) fn find_ties(&self, mapping: &Mapping, items: &mut [Item]) {
        for item in items.iter_mut().filter(|i| i.open() && !i.read_requested()) {
            let change = &item.message.change;
            let Some(stamp) = change.modstamp else {
                continue;
            };
            let same_stamp: Vec<&Change> = item
                .superseded
                .iter()
                .map(|m| &m.change)
                .filter(|c| c.modstamp == Some(stamp))
                .collect();
            let recorded = item.seen.as_ref().filter(|seen| seen.modstamp == stamp);
            if same_stamp.is_empty() && recorded.is_none() {
                continue;
            }
            // The newest state is mapped once, whatever it is compared with.
            let newest = Carried::of(mapping, change);
            let tied = same_stamp
                .iter()
                .any(|other| !newest.agrees(&Carried::of(mapping, other)))
                || recorded.is_some_and(|entry| !newest.agrees_with_entry(change, entry));
            item.read_first |= tied;
        }
    }
}

/// A state a change carries, as far as the mapping goes.
enum Carried {
    Delete,
    /// A snapshot, whole or partial (a CDC update's changed fields), mapped.
    Mapped(MappedRecord),
    /// No state to compare: a gap with no values, an undelete, or a snapshot the mapping cannot
    /// convert.
    Unknown,
}

impl Carried {
    fn of(mapping: &Mapping, change: &Change) -> Carried {
        let fields = match &change.kind {
            ChangeKind::Delete => return Carried::Delete,
            ChangeKind::Upsert { fields } => fields,
            ChangeKind::Reread { partial, .. } if !partial.is_empty() => partial,
            _ => return Carried::Unknown,
        };
        match map_record(mapping, &change.record_id, fields, None) {
            Ok(mapped) => Carried::Mapped(mapped),
            Err(_) => Carried::Unknown,
        }
    }

    /// Whether `other`, at the same stamp, is the same state: two deletes, or two snapshots
    /// whose mapped values agree (a partial one on the values it has). Anything else (a delete
    /// beside a live state, a state unknown) is a tie that only a read settles.
    fn agrees(&self, other: &Carried) -> bool {
        match (self, other) {
            (Carried::Delete, Carried::Delete) => true,
            (Carried::Mapped(newest), Carried::Mapped(other)) => {
                other
                    .properties
                    .iter()
                    .all(|(property, value)| newest.properties.get(property) == Some(value))
                    && other
                        .associations
                        .iter()
                        .all(|a| newest.associations.contains(a))
                    && other
                        .cleared_associations
                        .iter()
                        .all(|field| newest.cleared_associations.contains(field))
            }
            _ => false,
        }
    }

    /// Whether this state, carried by `change`, is the one the index recorded at the same
    /// stamp: a delete of a record recorded deleted, or a whole snapshot with the recorded
    /// content of a live one.
    fn agrees_with_entry(&self, change: &Change, entry: &IndexEntry) -> bool {
        match (self, &change.kind) {
            (Carried::Delete, _) => entry.deleted,
            (Carried::Mapped(mapped), ChangeKind::Upsert { .. }) if !entry.deleted => {
                mapped.content_hash.as_str() == entry.content_hash
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::ChangeKind;
    use crate::worker::Disposition;
    use crate::worker::fakes::{Rig, fields, id, only, stamp};

    #[tokio::test]
    async fn a_late_state_with_the_recorded_stamp_and_other_values_is_read_not_written() {
        let rig = Rig::new().await;
        let record = id("a01", 1);
        rig.process(vec![rig.invoice(1, "Newer", None, stamp(5))])
            .await;
        rig.salesforce
            .state()
            .live
            .insert(record.clone(), fields("Newer", None, stamp(5)));
        let result = rig
            .process(vec![rig.invoice(1, "Older", None, stamp(5))])
            .await;
        assert_eq!(only(&result), &Disposition::Done);
        assert_eq!(
            rig.hubspot
                .property("invoice", record.as_str(), "name")
                .as_deref(),
            Some("Newer"),
            "the same second: Salesforce says which state is newest"
        );
        assert_eq!(rig.salesforce.state().calls, ["retrieve"]);
    }

    #[tokio::test]
    async fn a_duplicate_of_the_recorded_state_costs_no_read() {
        let rig = Rig::new().await;
        rig.process(vec![rig.invoice(1, "Same", None, stamp(5))])
            .await;
        let result = rig
            .process(vec![rig.invoice(1, "Same", None, stamp(5))])
            .await;
        assert_eq!((result.written, result.skipped), (0, 1));
        assert!(rig.salesforce.state().calls.is_empty());
    }

    #[tokio::test]
    async fn two_states_at_one_stamp_in_a_batch_are_read_and_duplicates_are_not() {
        let rig = Rig::new().await;
        let record = id("a01", 2);
        rig.salesforce
            .state()
            .live
            .insert(record.clone(), fields("Second", None, stamp(9)));
        // Arrival order says nothing within a second: the later-received one is the older.
        let newer = rig.invoice(2, "Second", None, stamp(9));
        let older = rig.invoice(2, "First", None, stamp(9));
        rig.process(vec![newer, older]).await;
        assert_eq!(
            rig.hubspot
                .property("invoice", record.as_str(), "name")
                .as_deref(),
            Some("Second")
        );
        assert_eq!(rig.salesforce.state().calls, ["retrieve"]);

        let again = vec![
            rig.invoice(3, "Copy", None, stamp(9)),
            rig.invoice(3, "Copy", None, stamp(9)),
        ];
        rig.process(again).await;
        assert_eq!(
            rig.salesforce.state().calls.len(),
            1,
            "no read for a duplicate"
        );
    }

    #[tokio::test]
    async fn a_create_late_after_its_delete_in_the_same_second_stays_deleted() {
        let rig = Rig::new().await;
        let record = id("a01", 4);
        rig.salesforce
            .state()
            .recycle_bin
            .insert(record.clone(), fields("Brief", None, stamp(7)));
        let delete = rig.change("Invoice__c", &record, ChangeKind::Delete, Some(stamp(7)));
        rig.process(vec![rig.message(delete)]).await;
        let result = rig
            .process(vec![rig.invoice(4, "Brief", None, stamp(7))])
            .await;
        assert_eq!(only(&result), &Disposition::Done);
        assert!(
            rig.hubspot
                .property("invoice", record.as_str(), "name")
                .is_none(),
            "not brought back"
        );
        let entry = rig.entry("Invoice__c", &record).await.expect("indexed");
        assert!(entry.deleted);
        // The delete carried its stamp; the tie is read, found gone, and the recycle bin
        // shows the delete.
        assert_eq!(rig.salesforce.state().calls, ["retrieve", "last_states"]);
    }
}
