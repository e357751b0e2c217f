//! Reading records from Salesforce: the state of every record whose change did not carry it,
//! or whose carried state ties with another (a re-read), and deleted records' last states from
//! the recycle bin. A record a read does not find is deleted only when the recycle bin shows
//! the delete: a record the integration user cannot see reads exactly as a deleted one
//! (platform-behaviours.md S5), and archiving it would follow a sharing change, not a delete.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::Worker;
use super::item::{Item, State};
use crate::domain::{ChangeKind, FieldSnapshot, SalesforceId};
use crate::mapping::reads::{FieldRequest, api_fields, field_requests, nest_components};
use crate::mapping::{DeleteRule, Mapping};
use crate::salesforce::intake::outbound::parse_salesforce_datetime;

impl Worker {
    /// Gives every item a state: the one it carries, or the one Salesforce has now.
    pub(super) async fn resolve_states(&self, mapping: &Mapping, items: &mut [Item]) {
        let mut to_read: Vec<SalesforceId> = Vec::new();
        for item in items.iter_mut().filter(|i| i.outcome.is_none()) {
            let change = &item.message.change;
            match (&change.kind, change.modstamp) {
                (ChangeKind::Upsert { fields }, Some(modstamp))
                    if !item.read_requested() && !item.read_first =>
                {
                    item.state = Some(State::Upsert(fields.clone()));
                    item.modstamp = modstamp;
                    item.modstamp_known = true;
                }
                (ChangeKind::Delete, modstamp) if !item.read_first => {
                    item.state = Some(State::Delete);
                    item.modstamp = modstamp.unwrap_or(change.received_at);
                    item.modstamp_known = modstamp.is_some();
                }
                // Partial, missing or of unknown age, tied with another state at its stamp,
                // or an undelete (the record's state after it came back is what HubSpot must
                // show).
                _ => to_read.push(change.record_id.clone()),
            }
        }
        if to_read.is_empty() {
            return;
        }
        let requests = field_requests(mapping);
        let fields = api_fields(&requests);
        let read = self
            .ports
            .salesforce
            .retrieve(&mapping.salesforce_object, &to_read, &fields)
            .await;
        let wanted: HashSet<&SalesforceId> = to_read.iter().collect();
        for item in items
            .iter_mut()
            .filter(|i| i.outcome.is_none() && i.state.is_none())
        {
            let id = item.message.change.record_id.clone();
            if !wanted.contains(&id) {
                continue;
            }
            match &read {
                Err(e) => {
                    item.outcome =
                        Some(self.remote_failure(&item.message, e, "reading it from Salesforce"))
                }
                Ok(records) => {
                    match records.get(&id) {
                        Some(Some(snapshot)) => {
                            match stamp_of(snapshot) {
                                Some(modstamp) => {
                                    item.state = Some(State::Upsert(nest_components(
                                        snapshot.clone(),
                                        &requests,
                                    )));
                                    item.modstamp = modstamp;
                                    item.modstamp_known = true;
                                }
                                None => item.outcome = Some(
                                    self.failure(
                                        &item.message,
                                        "Salesforce returned the record without a SystemModstamp"
                                            .into(),
                                    ),
                                ),
                            }
                        }
                        // Deleted, or not visible to the integration user: the recycle bin
                        // tells them apart.
                        Some(None) => item.found_gone = true,
                        None => {
                            item.outcome = Some(self.failure(
                                &item.message,
                                "Salesforce did not answer for this record".into(),
                            ))
                        }
                    }
                }
            }
        }
    }

    /// Reads deleted records from the recycle bin (`queryAll`), for three reasons. A record a
    /// read did not find is deleted only if the recycle bin shows it (`IsDeleted`); otherwise
    /// the integration user cannot see it, and it fails with that reason rather than being
    /// archived. Under `on_delete = "keep"` a delete leaves the record in HubSpot, so HubSpot
    /// must show the state the record had when it was deleted: an update superseded by the
    /// delete in this batch, or read only after it, would otherwise never arrive. And a delete
    /// without a Salesforce time takes the recycle bin's: the time it was received is on
    /// another clock, and an index holding it would take later changes (an undelete) for older
    /// ones.
    pub(super) async fn read_recycle_bin(&self, mapping: &Mapping, items: &mut [Item]) {
        let keep = mapping.on_delete == DeleteRule::Keep;
        let wanted = |i: &Item| {
            i.open()
                && (i.found_gone
                    || (matches!(i.state, Some(State::Delete)) && (keep || !i.modstamp_known)))
        };
        let deleted: Vec<SalesforceId> = items
            .iter()
            .filter(|i| wanted(i))
            .map(|i| i.message.change.record_id.clone())
            .collect();
        if deleted.is_empty() {
            return;
        }
        let requests = field_requests(mapping);
        let fields = api_fields(&requests);
        let read = self
            .ports
            .salesforce
            .last_states(&mapping.salesforce_object, &deleted, &fields)
            .await;
        for item in items.iter_mut().filter(|i| wanted(i)) {
            match &read {
                Err(e) => {
                    item.outcome = Some(self.remote_failure(
                        &item.message,
                        e,
                        "reading its last state from the recycle bin",
                    ));
                }
                Ok(states) => {
                    let snapshot = states.get(&item.message.change.record_id);
                    if item.found_gone && !self.gone_is_deleted(item, snapshot, &requests) {
                        continue;
                    }
                    // Purged from the recycle bin: HubSpot keeps what it has.
                    let Some(snapshot) = snapshot else {
                        continue;
                    };
                    match stamp_of(snapshot) {
                        Some(at) if item.modstamp_known => item.modstamp = at.max(item.modstamp),
                        Some(at) => {
                            item.modstamp = at;
                            item.modstamp_known = true;
                        }
                        None => {}
                    }
                    if !keep {
                        continue;
                    }
                    item.state = Some(State::Upsert(nest_components(snapshot.clone(), &requests)));
                    item.kept_after_delete = true;
                }
            }
        }
    }
}

impl Worker {
    /// What the recycle bin says of a record a read did not find (`queryAll`'s row, if any):
    /// deleted, and it goes on as a delete (`true`); visible again (undeleted or shared since
    /// the read), and its state now is the one to write; or nothing, and the integration user
    /// cannot see it, so it fails rather than being archived.
    fn gone_is_deleted(
        &self,
        item: &mut Item,
        snapshot: Option<&FieldSnapshot>,
        requests: &[FieldRequest],
    ) -> bool {
        match snapshot {
            Some(snapshot) if is_deleted(snapshot) => {
                item.state = Some(State::Delete);
                item.modstamp_known = false;
                return true;
            }
            Some(snapshot) => {
                if let Some(modstamp) = stamp_of(snapshot) {
                    item.state = Some(State::Upsert(nest_components(snapshot.clone(), requests)));
                    item.modstamp = modstamp;
                    item.modstamp_known = true;
                    return false;
                }
            }
            None => {}
        }
        item.outcome = Some(self.failure(&item.message, NOT_VISIBLE.to_owned()));
        false
    }
}

/// The `SystemModstamp` of a record Salesforce returned.
fn stamp_of(snapshot: &FieldSnapshot) -> Option<DateTime<Utc>> {
    snapshot
        .get("SystemModstamp")
        .and_then(Value::as_str)
        .and_then(parse_salesforce_datetime)
}

/// Why a record a read did not find, and the recycle bin does not show deleted, is not archived.
pub const NOT_VISIBLE: &str = "not visible to the integration user: Salesforce returns nothing for \
     it, and its recycle bin shows no delete (a sharing rule or owner change hides it, or it was \
     purged); sf2hs archives a HubSpot record only for a delete it can see. Share the record \
     with the integration user (or check that it still exists), then `sf2hs dlq replay`";

/// Whether a `queryAll` row is in the recycle bin.
fn is_deleted(snapshot: &FieldSnapshot) -> bool {
    snapshot.get("IsDeleted").and_then(Value::as_bool) == Some(true)
}

#[cfg(test)]
mod tests {
    use crate::domain::{ChangeKind, FieldSnapshot, RereadReason};
    use crate::worker::Disposition;
    use crate::worker::fakes::{Rig, fields, id, only, stamp};

    #[tokio::test]
    async fn a_partial_update_is_written_with_the_state_salesforce_has() {
        let rig = Rig::new().await;
        let record = id("a01", 1);
        rig.salesforce
            .state()
            .live
            .insert(record.clone(), fields("Read", None, stamp(7)));
        let kind = ChangeKind::Reread {
            reason: RereadReason::PartialUpdate,
            partial: FieldSnapshot::from([("Name".to_owned(), serde_json::json!("Partial"))]),
        };
        let change = rig.change("Invoice__c", &record, kind, Some(stamp(7)));
        let result = rig.process(vec![rig.message(change)]).await;
        assert_eq!(only(&result), &Disposition::Done);
        assert_eq!(
            rig.hubspot
                .property("invoice", record.as_str(), "name")
                .as_deref(),
            Some("Read")
        );
        let entry = rig.entry("Invoice__c", &record).await.expect("indexed");
        assert_eq!(
            entry.modstamp,
            stamp(7),
            "Salesforce's stamp, not the receive time"
        );
    }

    #[tokio::test]
    async fn a_record_found_gone_takes_its_delete_time_from_the_recycle_bin() {
        let rig = Rig::new().await;
        let record = id("a01", 2);
        rig.hubspot.put("invoice", record.as_str());
        rig.salesforce
            .state()
            .recycle_bin
            .insert(record.clone(), fields("Gone", None, stamp(30)));
        let kind = ChangeKind::Reread {
            reason: RereadReason::UnknownAge,
            partial: FieldSnapshot::new(),
        };
        let change = rig.change("Invoice__c", &record, kind, None);
        let result = rig.process(vec![rig.message(change)]).await;
        assert_eq!(only(&result), &Disposition::Done);
        let entry = rig.entry("Invoice__c", &record).await.expect("indexed");
        assert!(entry.deleted);
        assert_eq!(entry.modstamp, stamp(30));
        assert_eq!(rig.hubspot.state().archived.len(), 1);
        assert_eq!(rig.salesforce.state().calls, ["retrieve", "last_states"]);
    }
}

#[cfg(test)]
mod visibility_tests {
    use crate::domain::{ChangeKind, FieldSnapshot, RereadReason};
    use crate::worker::Disposition;
    use crate::worker::fakes::{Rig, id, only};

    #[tokio::test]
    async fn a_record_the_recycle_bin_does_not_show_deleted_is_not_archived() {
        let rig = Rig::new().await;
        let record = id("a01", 3);
        let hubspot_id = rig.hubspot.put("invoice", record.as_str());
        let kind = ChangeKind::Reread {
            reason: RereadReason::PartialUpdate,
            partial: FieldSnapshot::new(),
        };
        let change = rig.change("Invoice__c", &record, kind, None);
        let result = rig.process(vec![rig.message(change)]).await;
        let Disposition::Requeue { reason, .. } = only(&result) else {
            panic!("tried again: {result:?}");
        };
        assert_eq!(reason, super::NOT_VISIBLE);
        assert!(!rig.hubspot.state().archived.contains(&hubspot_id));
        assert!(rig.entry("Invoice__c", &record).await.is_none());
    }
}
