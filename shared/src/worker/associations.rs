//! Linking the records just written to their lookups' targets. A target not in HubSpot yet
//! makes the record wait and try again later (its upsert is idempotent), never lost.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::domain::{RecordKey, SalesforceId};
use crate::mapping::{AssociationTarget, HubSpotObjectRef, Mapping};
use crate::ports::{AssociationPair, LinkRecord, RecordLinks};

use super::Worker;
use super::item::{Item, ItemOutcome};

/// Associations written in one call: target HubSpot object, the property that finds the
/// target by its Salesforce id, and the association type (`None`: the default one).
type AssociationGroup = (String, String, Option<u32>);

/// A group's members: the item (its position in the batch), the lookup field and its target.
type Members = Vec<(usize, String, SalesforceId)>;

/// The HubSpot object and id property of each mapped Salesforce object a lookup leads to.
pub(super) type MappedTargets = HashMap<String, (HubSpotObjectRef, String)>;

/// Why an item must wait, by its position in the batch.
pub(super) type Pending = HashMap<usize, String>;

/// The link journal of the batch's written records, by their position in the batch.
pub(super) type Journal = HashMap<usize, RecordLinks>;

/// A link written in this batch: the item, the lookup field and the target's HubSpot id.
pub(super) type Linked = (usize, String, String);

/// The batch's associations, grouped into calls.
#[derive(Default)]
struct Groups {
    members: BTreeMap<AssociationGroup, Members>,
    targets_of_mapped: MappedTargets,
    /// The Salesforce object behind a group's targets, when it is a mapped one: the record
    /// index then tells a target deleted in Salesforce from one not written yet.
    salesforce_objects: HashMap<AssociationGroup, String>,
}

impl Worker {
    /// Sets the associations of the records just written, removes the ones sf2hs wrote before
    /// for lookups that moved or were cleared, and makes the records whose targets are missing
    /// wait for them.
    pub(super) async fn write_associations(&self, mapping: &Mapping, items: &mut [Item]) {
        let mut pending = Pending::new();
        let Some(journal) = self.read_journal(mapping, items, &mut pending).await else {
            for (index, reason) in pending {
                items[index].outcome = Some(ItemOutcome::WaitingForTarget { reason });
            }
            return;
        };
        let mut groups = self.association_groups(mapping, items).await;
        let mut linked = Vec::new();
        for (group, members) in std::mem::take(&mut groups.members) {
            let target_salesforce_object = groups.salesforce_objects.get(&group).cloned();
            linked.extend(
                self.write_group(
                    mapping,
                    items,
                    group,
                    &members,
                    target_salesforce_object,
                    &journal,
                    &mut pending,
                )
                .await,
            );
        }
        self.unlink_previous(
            mapping,
            items,
            &journal,
            &linked,
            &groups.targets_of_mapped,
            &mut pending,
        )
        .await;
        for (index, reason) in pending {
            items[index].outcome = Some(ItemOutcome::WaitingForTarget { reason });
        }
    }

    /// The link journal of the batch's written records, by position; `None` (every record with
    /// lookups waiting) when it cannot be read, since then nothing can be unlinked safely.
    async fn read_journal(
        &self,
        mapping: &Mapping,
        items: &[Item],
        pending: &mut Pending,
    ) -> Option<Journal> {
        if mapping.associations.is_empty() {
            return Some(Journal::new());
        }
        let written: Vec<(usize, RecordKey)> = items
            .iter()
            .enumerate()
            .filter(|(_, item)| item.open() && item.hubspot_id.is_some() && item.mapped.is_some())
            .map(|(n, item)| (n, item.message.change.record_key()))
            .collect();
        if written.is_empty() {
            return Some(Journal::new());
        }
        let keys: Vec<RecordKey> = written.iter().map(|(_, key)| key.clone()).collect();
        match self.ports.index.links(&keys).await {
            Ok(mut links) => Some(
                written
                    .into_iter()
                    .filter_map(|(n, key)| Some((n, links.remove(&key)?)))
                    .collect(),
            ),
            Err(e) => {
                for (n, _) in written {
                    pending.insert(n, format!("reading the associations sf2hs wrote: {e}"));
                }
                None
            }
        }
    }

    /// The HubSpot object (as paths take it) a lookup field's association goes to.
    pub(super) async fn association_target_object(
        &self,
        mapping: &Mapping,
        target: &AssociationTarget,
        targets_of_mapped: &mut MappedTargets,
    ) -> Option<(HubSpotObjectRef, String)> {
        match target {
            AssociationTarget::HubSpotObject {
                object,
                id_property,
            } => Some((mapping.association_object(object), id_property.clone())),
            AssociationTarget::MappedObject { salesforce_object } => {
                if let Some(known) = targets_of_mapped.get(salesforce_object) {
                    return Some(known.clone());
                }
                let found = self.mapped_target(salesforce_object).await?;
                targets_of_mapped.insert(salesforce_object.clone(), found.clone());
                Some(found)
            }
        }
    }

    /// Groups the written records' associations by target object, id property and type.
    async fn association_groups(&self, mapping: &Mapping, items: &[Item]) -> Groups {
        let mut groups = Groups::default();
        for (index, item) in items.iter().enumerate() {
            if !item.open() || item.hubspot_id.is_none() {
                continue;
            }
            let Some(mapped) = &item.mapped else { continue };
            for association in &mapped.associations {
                let Some((object, id_property)) = self
                    .association_target_object(
                        mapping,
                        &association.target,
                        &mut groups.targets_of_mapped,
                    )
                    .await
                else {
                    continue;
                };
                let group = (
                    object.as_str().to_owned(),
                    id_property,
                    association.association_type_id,
                );
                if let AssociationTarget::MappedObject { salesforce_object } = &association.target {
                    groups
                        .salesforce_objects
                        .insert(group.clone(), salesforce_object.clone());
                }
                groups.members.entry(group).or_default().push((
                    index,
                    association.salesforce_field.clone(),
                    association.target_record_id.clone(),
                ));
            }
        }
        groups
    }

    /// One group's call: finds the targets in HubSpot and associates the pairs found. Returns
    /// the links written: (item, lookup field, target's HubSpot id).
    #[allow(clippy::too_many_arguments)]
    async fn write_group(
        &self,
        mapping: &Mapping,
        items: &[Item],
        group: AssociationGroup,
        members: &Members,
        target_salesforce_object: Option<String>,
        journal: &Journal,
        pending: &mut Pending,
    ) -> Vec<Linked> {
        let (object, id_property, type_id) = group;
        let target_object = HubSpotObjectRef::parse(&object);
        let values: Vec<String> = members
            .iter()
            .map(|(_, _, id)| id.as_str().to_owned())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let found = match self
            .ports
            .hubspot
            .find_by_unique(&target_object, &id_property, &values)
            .await
        {
            Ok(found) => found,
            Err(e) => {
                for (index, _, _) in members {
                    pending.insert(
                        *index,
                        format!("finding association targets in {object}: {e}"),
                    );
                }
                return Vec::new();
            }
        };
        let deleted = self
            .deleted_targets(target_salesforce_object.as_deref(), members, &found)
            .await;
        let mut pairs = Vec::new();
        let mut wanted: Vec<(usize, String, AssociationPair)> = Vec::new();
        let mut waiting: Vec<(RecordKey, RecordKey)> = Vec::new();
        let mut missing: Vec<(usize, String, SalesforceId)> = Vec::new();
        for (index, field, target) in members {
            if deleted.contains(target) {
                // Deleted in Salesforce (its lookups are cleared there): nothing to
                // associate with, and nothing to wait for.
                continue;
            }
            match (found.get(target.as_str()), &items[*index].hubspot_id) {
                (Some(to_id), Some(from_id)) => {
                    let pair = AssociationPair {
                        from_id: from_id.clone(),
                        to_id: to_id.clone(),
                    };
                    if !pairs.contains(&pair) {
                        pairs.push(pair.clone());
                    }
                    wanted.push((*index, field.clone(), pair));
                }
                _ => {
                    // A mapped target: its worker sends this record back once it is written.
                    if let Some(target_object) = &target_salesforce_object {
                        waiting.push((
                            RecordKey {
                                object: target_object.clone(),
                                record_id: target.clone(),
                            },
                            items[*index].message.change.record_key(),
                        ));
                    }
                    missing.push((*index, field.clone(), target.clone()));
                }
            }
        }
        let mut found_now = HashMap::new();
        if !waiting.is_empty() {
            self.wait_for_targets(&waiting).await;
            // Looked for again after the wait was recorded: a target written in between (its
            // worker looked for waiters before this one was recorded) is linked now.
            let values: Vec<String> = missing
                .iter()
                .map(|(_, _, target)| target.as_str().to_owned())
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            if let Ok(found) = self
                .ports
                .hubspot
                .find_by_unique(&target_object, &id_property, &values)
                .await
            {
                found_now = found;
            }
        }
        for (index, field, target) in missing {
            match (found_now.get(target.as_str()), &items[index].hubspot_id) {
                (Some(to_id), Some(from_id)) => {
                    let pair = AssociationPair {
                        from_id: from_id.clone(),
                        to_id: to_id.clone(),
                    };
                    if !pairs.contains(&pair) {
                        pairs.push(pair.clone());
                    }
                    wanted.push((index, field, pair));
                }
                _ => {
                    pending.insert(
                        index,
                        format!(
                            "association target {target} is not in HubSpot {object} yet (by {id_property}, lookup `{field}`); it will be retried"
                        ),
                    );
                }
            }
        }
        if pairs.is_empty() {
            return Vec::new();
        }
        // Journaled before they are written: a crash after the write leaves them known, so the
        // next move of the lookup removes them (and only them).
        let new_links: Vec<Linked> = wanted
            .iter()
            .filter(|(index, field, pair)| {
                !journal
                    .get(index)
                    .and_then(|links| links.get(field))
                    .is_some_and(|targets| targets.contains_key(&pair.to_id))
            })
            .map(|(index, field, pair)| (*index, field.clone(), pair.to_id.clone()))
            .collect();
        if !self
            .journal_links(items, &new_links, "to write", pending)
            .await
        {
            // None of the group's pairs is written: they go in one call.
            for (index, _, _) in &wanted {
                pending.entry(*index).or_insert_with(|| {
                    format!("the associations to {object} wait for the others of the batch")
                });
            }
            return Vec::new();
        }
        let failed: HashMap<AssociationPair, String> = match self
            .ports
            .hubspot
            .associate(&mapping.hubspot_target(), &target_object, type_id, &pairs)
            .await
        {
            Ok(failed) => failed.into_iter().collect(),
            Err(e) => {
                for (index, _, _) in &wanted {
                    pending.insert(*index, format!("associating with {object}: {e}"));
                }
                return Vec::new();
            }
        };
        let mut linked = Vec::new();
        for (index, field, pair) in wanted {
            match failed.get(&pair) {
                Some(why) => {
                    pending.insert(
                        index,
                        format!("association to {object} {}: {why}", pair.to_id),
                    );
                }
                None => linked.push((index, field, pair.to_id)),
            }
        }
        // Journaled again now that they are written: another worker that read the journal
        // before and is removing one of these (its record's lookup had moved) keeps it
        // journaled, since it forgets only the entry it read.
        if !self.journal_links(items, &linked, "written", pending).await {
            return Vec::new();
        }
        linked
    }

    /// Journals `links` (fresh tokens); when the store refuses, their records wait (nothing
    /// may be written, or kept, unjournaled) and the answer is `false`.
    async fn journal_links(
        &self,
        items: &[Item],
        links: &[Linked],
        which: &str,
        pending: &mut Pending,
    ) -> bool {
        if links.is_empty() {
            return true;
        }
        let records: Vec<LinkRecord> = links
            .iter()
            .map(|(index, field, target)| LinkRecord {
                record: items[*index].message.change.record_key(),
                field: field.clone(),
                target: target.clone(),
                token: 0,
            })
            .collect();
        match self.ports.index.add_links(&records).await {
            Ok(()) => true,
            Err(e) => {
                for (index, _, _) in links {
                    pending.insert(*index, format!("recording the associations {which}: {e}"));
                }
                false
            }
        }
    }

    /// The targets among `members` that HubSpot does not have because the record index knows
    /// them as deleted in Salesforce.
    async fn deleted_targets(
        &self,
        salesforce_object: Option<&str>,
        members: &[(usize, String, SalesforceId)],
        found: &HashMap<String, String>,
    ) -> HashSet<SalesforceId> {
        let Some(object) = salesforce_object else {
            return HashSet::new();
        };
        let keys: Vec<RecordKey> = members
            .iter()
            .filter(|(_, _, target)| !found.contains_key(target.as_str()))
            .map(|(_, _, target)| RecordKey {
                object: object.to_owned(),
                record_id: target.clone(),
            })
            .collect();
        if keys.is_empty() {
            return HashSet::new();
        }
        match self.ports.index.get_many(&keys).await {
            Ok(entries) => entries
                .into_iter()
                .filter(|(_, entry)| entry.deleted)
                .map(|(key, _)| key.record_id)
                .collect(),
            // Unknown: the members wait, as for a target not written yet.
            Err(_) => HashSet::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::{ChangeKind, RereadReason};
    use crate::worker::Disposition;
    use crate::worker::fakes::{Rig, id, only, stamp};

    #[tokio::test]
    async fn a_record_whose_target_is_not_in_hubspot_yet_waits_and_reads_again() {
        let rig = Rig::new().await;
        let project = id("a02", 1);
        let result = rig
            .process(vec![rig.invoice(1, "INV-1", Some(&project), stamp(1))])
            .await;
        let Disposition::Requeue { change, reason, .. } = only(&result) else {
            panic!("waits: {result:?}");
        };
        assert!(reason.contains("not in HubSpot project yet"), "{reason}");
        assert!(matches!(
            change.kind,
            ChangeKind::Reread {
                reason: RereadReason::AssociationPending,
                ..
            }
        ));
        assert!(
            rig.hubspot
                .property("invoice", id("a01", 1).as_str(), "name")
                .is_some(),
            "written before it waits"
        );
    }

    #[tokio::test]
    async fn a_moved_lookup_links_the_new_target_and_unlinks_the_old() {
        let rig = Rig::new().await;
        let (first, second) = (id("a02", 1), id("a02", 2));
        let first_id = rig.hubspot.put("project", first.as_str());
        let second_id = rig.hubspot.put("project", second.as_str());
        rig.process(vec![rig.invoice(1, "INV-1", Some(&first), stamp(1))])
            .await;
        let result = rig
            .process(vec![rig.invoice(1, "INV-1", Some(&second), stamp(2))])
            .await;
        assert_eq!(only(&result), &Disposition::Done);
        let invoice = rig
            .entry("Invoice__c", &id("a01", 1))
            .await
            .and_then(|e| e.hubspot_id)
            .expect("written");
        let links = rig.hubspot.state().associations.clone();
        assert!(links.contains(&(invoice.clone(), second_id)));
        assert!(!links.contains(&(invoice, first_id)), "{links:?}");
    }
}
