//! Archiving deleted records in HubSpot (unless the mapping keeps them).

use crate::mapping::{DeleteRule, Mapping};

use super::Worker;
use super::item::{Item, State};

impl Worker {
    /// Archives the HubSpot records of deletes; `on_delete = "keep"` leaves them.
    pub(super) async fn write_deletes(&self, mapping: &Mapping, items: &mut [Item]) {
        let deletes: Vec<usize> = items
            .iter()
            .enumerate()
            .filter(|(_, i)| i.open() && matches!(i.state, Some(State::Delete)))
            .map(|(n, _)| n)
            .collect();
        if deletes.is_empty() {
            return;
        }
        if mapping.on_delete == DeleteRule::Keep {
            return;
        }
        // Every record is looked up by its id property, not only those the index has no HubSpot
        // id for. A record sf2hs never wrote may exist (made by hand or by another tool). And
        // the index's id may be of a record archived already: a late write of an older state
        // (another worker's, racing this delete) then created a new one, since archived records
        // leave the unique index. Both are archived.
        let values: Vec<String> = deletes
            .iter()
            .map(|n| items[*n].message.change.record_id.as_str().to_owned())
            .collect();
        let mut also_archived = Vec::new();
        match self
            .ports
            .hubspot
            .find_by_unique(&mapping.hubspot_target(), &mapping.id_property, &values)
            .await
        {
            Ok(found) => {
                for n in &deletes {
                    let item = &mut items[*n];
                    let Some(live) = found.get(item.message.change.record_id.as_str()) else {
                        continue;
                    };
                    if let Some(indexed) = item.hubspot_id.replace(live.clone())
                        && &indexed != live
                    {
                        also_archived.push(indexed);
                    }
                }
            }
            Err(e) => {
                for n in &deletes {
                    let item = &mut items[*n];
                    item.outcome = Some(self.remote_failure(
                        &item.message,
                        &e,
                        "finding the record to archive",
                    ));
                }
                return;
            }
        }
        let ids: Vec<String> = deletes
            .iter()
            .filter(|n| items[**n].open())
            .filter_map(|n| items[*n].hubspot_id.clone())
            .chain(also_archived)
            .collect();
        if ids.is_empty() {
            return;
        }
        let archived = self
            .ports
            .hubspot
            .archive(&mapping.hubspot_target(), &ids)
            .await;
        for n in &deletes {
            let item = &mut items[*n];
            if item.outcome.is_some() || item.hubspot_id.is_none() {
                continue;
            }
            match &archived {
                Ok(()) => item.archived = true,
                Err(e) => {
                    item.outcome =
                        Some(self.remote_failure(&item.message, e, "archiving it in HubSpot"))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::ChangeKind;
    use crate::mapping::DeleteRule;
    use crate::ports::SyncOutcome;
    use crate::worker::Disposition;
    use crate::worker::fakes::{Rig, fields, id, mapping, only, stamp};

    #[tokio::test]
    async fn a_delete_archives_the_record_found_by_its_id_property() {
        let rig = Rig::new().await;
        let record = id("a01", 1);
        // Made outside sf2hs: the index knows nothing of it.
        let hubspot_id = rig.hubspot.put("invoice", record.as_str());
        let change = rig.change("Invoice__c", &record, ChangeKind::Delete, Some(stamp(3)));
        let result = rig.process(vec![rig.message(change)]).await;
        assert_eq!(only(&result), &Disposition::Done);
        assert!(rig.hubspot.state().archived.contains(&hubspot_id));
        assert!(
            rig.entry("Invoice__c", &record)
                .await
                .expect("indexed")
                .deleted
        );
    }

    #[tokio::test]
    async fn on_delete_keep_leaves_the_record_with_its_last_state() {
        let rig = Rig::new().await;
        let mut keep = mapping("Invoice__c", "invoice", None);
        keep.on_delete = DeleteRule::Keep;
        rig.apply(keep).await;
        let record = id("a01", 1);
        rig.process(vec![rig.invoice(1, "Kept", None, stamp(1))])
            .await;
        // Its state when deleted, as the recycle bin has it.
        rig.salesforce
            .state()
            .recycle_bin
            .insert(record.clone(), fields("Last", None, stamp(3)));
        let change = rig.change("Invoice__c", &record, ChangeKind::Delete, Some(stamp(3)));
        rig.process(vec![rig.message(change)]).await;
        assert!(rig.hubspot.state().archived.is_empty());
        assert_eq!(rig.log().await[0].outcome, SyncOutcome::Synced);
        assert_eq!(
            rig.hubspot
                .property("invoice", record.as_str(), "name")
                .as_deref(),
            Some("Last")
        );
        assert!(
            rig.entry("Invoice__c", &record)
                .await
                .expect("indexed")
                .deleted
        );
    }
}
