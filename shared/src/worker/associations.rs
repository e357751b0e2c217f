//! Linking the records just written to their lookups' targets. A target not in HubSpot yet
//! makes the record wait and try again later (its upsert is idempotent), never lost.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::domain::{RecordKey, SalesforceId};
use crate::mapping::{AssociationTarget, HubSpotObjectRef, Mapping};
use crate::ports::AssociationPair;

use super::Worker;
use super::item::{Item, ItemOutcome};

/// Associations written in one call: target HubSpot object, the property that finds the
/// target by its Salesforce id, and the association type (`None`: the default one).
type AssociationGroup = (String, String, Option<u32>);

/// A group's members: the item (its position in the batch) and its lookup's target.
type Members = Vec<(usize, SalesforceId)>;

/// The HubSpot object and id property of each mapped Salesforce object a lookup leads to.
pub(super) type MappedTargets = HashMap<String, (HubSpotObjectRef, String)>;

/// Why an item must wait, by its position in the batch.
pub(super) type Pending = HashMap<usize, String>;

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
    /// Sets the associations of the records just written, removes those their lookups left,
    /// and makes the records whose targets are missing wait for them.
    pub(super) async fn write_associations(&self, mapping: &Mapping, items: &mut [Item]) {
        let groups = self.association_groups(mapping, items).await;
        let mut pending = Pending::new();
        for (group, members) in groups.members {
            let target_salesforce_object = groups.salesforce_objects.get(&group).cloned();
            self.write_group(
                mapping,
                items,
                group,
                &members,
                target_salesforce_object,
                &mut pending,
            )
            .await;
        }
        self.prune_cleared(mapping, items, &groups.targets_of_mapped, &mut pending)
            .await;
        for (index, reason) in pending {
            items[index].outcome = Some(ItemOutcome::WaitingForTarget { reason });
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
                let (object, id_property) = match &association.target {
                    AssociationTarget::HubSpotObject {
                        object,
                        id_property,
                    } => (
                        mapping.association_object(object).as_str().to_owned(),
                        id_property.clone(),
                    ),
                    AssociationTarget::MappedObject { salesforce_object } => {
                        if !groups.targets_of_mapped.contains_key(salesforce_object) {
                            match self.mapped_target(salesforce_object).await {
                                Some(target) => {
                                    groups
                                        .targets_of_mapped
                                        .insert(salesforce_object.clone(), target);
                                }
                                None => continue,
                            }
                        }
                        match groups.targets_of_mapped.get(salesforce_object) {
                            Some((object, id_property)) => {
                                (object.as_str().to_owned(), id_property.clone())
                            }
                            None => continue,
                        }
                    }
                };
                let group = (object, id_property, association.association_type_id);
                if let AssociationTarget::MappedObject { salesforce_object } = &association.target {
                    groups
                        .salesforce_objects
                        .insert(group.clone(), salesforce_object.clone());
                }
                groups
                    .members
                    .entry(group)
                    .or_default()
                    .push((index, association.target_record_id.clone()));
            }
        }
        groups
    }

    /// One group's call: finds the targets in HubSpot, associates the pairs found, and prunes
    /// what the lookups moved away from.
    async fn write_group(
        &self,
        mapping: &Mapping,
        items: &[Item],
        group: AssociationGroup,
        members: &Members,
        target_salesforce_object: Option<String>,
        pending: &mut Pending,
    ) {
        let (object, id_property, type_id) = group;
        let target_object = HubSpotObjectRef::parse(&object);
        let values: Vec<String> = members
            .iter()
            .map(|(_, id)| id.as_str().to_owned())
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
                for (index, _) in members {
                    pending.insert(
                        *index,
                        format!("finding association targets in {object}: {e}"),
                    );
                }
                return;
            }
        };
        let deleted = self
            .deleted_targets(target_salesforce_object.as_deref(), members, &found)
            .await;
        let mut pairs = Vec::new();
        let mut pair_owner: HashMap<AssociationPair, usize> = HashMap::new();
        for (index, target) in members {
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
                    pair_owner.insert(pair.clone(), *index);
                    pairs.push(pair);
                }
                _ => {
                    pending.insert(
                        *index,
                        format!(
                            "association target {target} is not in HubSpot {object} yet (by {id_property}); it will be retried"
                        ),
                    );
                }
            }
        }
        if pairs.is_empty() {
            return;
        }
        match self
            .ports
            .hubspot
            .associate(&mapping.hubspot_target(), &target_object, type_id, &pairs)
            .await
        {
            Ok(failed) => {
                for (pair, why) in failed {
                    if let Some(index) = pair_owner.get(&pair) {
                        pending.insert(
                            *index,
                            format!("association to {object} {}: {why}", pair.to_id),
                        );
                    }
                }
            }
            Err(e) => {
                for index in pair_owner.values() {
                    pending.insert(*index, format!("associating with {object}: {e}"));
                }
            }
        }
        if target_salesforce_object
            .as_deref()
            .is_some_and(|target| only_lookup_to(mapping, target))
        {
            let keep: Vec<(usize, String, Option<String>)> = pair_owner
                .iter()
                .filter(|(_, index)| !items[**index].created && !pending.contains_key(*index))
                .map(|(pair, index)| (*index, pair.from_id.clone(), Some(pair.to_id.clone())))
                .collect();
            self.prune(mapping, &target_object, keep, pending).await;
        }
    }

    /// The targets among `members` that HubSpot does not have because the record index knows
    /// them as deleted in Salesforce.
    async fn deleted_targets(
        &self,
        salesforce_object: Option<&str>,
        members: &[(usize, SalesforceId)],
        found: &HashMap<String, String>,
    ) -> HashSet<SalesforceId> {
        let Some(object) = salesforce_object else {
            return HashSet::new();
        };
        let keys: Vec<RecordKey> = members
            .iter()
            .filter(|(_, target)| !found.contains_key(target.as_str()))
            .map(|(_, target)| RecordKey {
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

/// A lookup that moved leaves its old association behind unless removed. Only for targets
/// sf2hs syncs itself, and only when one field leads to that object: other associations to it
/// are the mapping's, not a user's.
fn only_lookup_to(mapping: &Mapping, target: &str) -> bool {
    mapping
        .associations
        .iter()
        .filter(|a| match &a.target {
            AssociationTarget::MappedObject { salesforce_object } => salesforce_object == target,
            AssociationTarget::HubSpotObject { .. } => false,
        })
        .count()
        == 1
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
