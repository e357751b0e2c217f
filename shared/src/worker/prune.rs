//! Removing the associations sf2hs wrote for lookups that moved or were cleared, and only
//! those. Every target sf2hs associates a record with is journaled before the association is
//! written and again after (`RecordIndex::add_links`), so a crash between the two leaves it
//! known; a moved or cleared lookup removes the journaled targets that are not its target now,
//! by the type sf2hs writes, then forgets each entry it read, unless a writer journaled the
//! target again meanwhile (it may be writing that association now). Associations users made between the same objects, and labels they
//! added to the same pair, stay (platform-behaviours.md H3).

use std::collections::{BTreeMap, BTreeSet};

use crate::mapping::{HubSpotObjectRef, Mapping};
use crate::ports::{AssociationPair, LinkRecord};

use super::Worker;
use super::associations::{Journal, Linked, MappedTargets, Pending};
use super::item::Item;

/// Links to remove in one call: the target object and association type, then each
/// (item, link, pair).
type Unlinks = BTreeMap<(String, Option<u32>), Vec<(usize, LinkRecord, AssociationPair)>>;

impl Worker {
    /// For each written record, removes the journaled associations of each lookup field whose
    /// target is now another record (`linked`), or none (the lookup was cleared). A lookup
    /// this batch did not settle (its target missing, or not in the state) is left as it is.
    /// A failure makes the item retry.
    pub(super) async fn unlink_previous(
        &self,
        mapping: &Mapping,
        items: &[Item],
        journal: &Journal,
        linked: &[Linked],
        targets_of_mapped: &MappedTargets,
        pending: &mut Pending,
    ) {
        let mut targets = targets_of_mapped.clone();
        let mut unlinks = Unlinks::new();
        let mut forget: Vec<LinkRecord> = Vec::new();
        for (index, links) in journal {
            let item = &items[*index];
            if !item.open() || pending.contains_key(index) {
                continue;
            }
            let (Some(mapped), Some(from_id)) = (&item.mapped, &item.hubspot_id) else {
                continue;
            };
            let record = item.message.change.record_key();
            // What this batch linked, by field: kept.
            let now: BTreeMap<&str, &str> = linked
                .iter()
                .filter(|(n, _, _)| n == index)
                .map(|(_, field, to)| (field.as_str(), to.as_str()))
                .collect();
            for association in &mapping.associations {
                let field = &association.salesforce_field;
                let Some(journaled) = links.get(field).filter(|t| !t.is_empty()) else {
                    continue;
                };
                let current = now.get(field.as_str()).copied();
                if current.is_none() && !mapped.cleared_associations.contains(field) {
                    continue;
                }
                // Another lookup of the record that links the same target keeps the pair.
                let kept_by_others: BTreeSet<&str> = mapping
                    .associations
                    .iter()
                    .filter(|other| {
                        &other.salesforce_field != field
                            && other.target == association.target
                            && other.association_type_id == association.association_type_id
                    })
                    .filter_map(|other| now.get(other.salesforce_field.as_str()).copied())
                    .collect();
                let stale: Vec<(&String, &u64)> = journaled
                    .iter()
                    .filter(|(target, _)| {
                        Some(target.as_str()) != current
                            && !kept_by_others.contains(target.as_str())
                    })
                    .collect();
                if stale.is_empty() {
                    continue;
                }
                let links_of = |(target, token): (&String, &u64)| LinkRecord {
                    record: record.clone(),
                    field: field.clone(),
                    target: target.clone(),
                    token: *token,
                };
                if item.created {
                    // Journaled for the record HubSpot had before (archived): nothing of
                    // this one to remove.
                    forget.extend(stale.into_iter().map(links_of));
                    continue;
                }
                let Some((object, _)) = self
                    .association_target_object(mapping, &association.target, &mut targets)
                    .await
                else {
                    continue;
                };
                let calls = unlinks
                    .entry((object.as_str().to_owned(), association.association_type_id))
                    .or_default();
                for (target, token) in stale {
                    calls.push((
                        *index,
                        links_of((target, token)),
                        AssociationPair {
                            from_id: from_id.clone(),
                            to_id: target.clone(),
                        },
                    ));
                }
            }
        }
        for ((object, type_id), members) in unlinks {
            let to = HubSpotObjectRef::parse(&object);
            let pairs: Vec<AssociationPair> = members.iter().map(|(_, _, p)| p.clone()).collect();
            match self
                .ports
                .hubspot
                .dissociate(&mapping.hubspot_target(), &to, type_id, &pairs)
                .await
            {
                Ok(()) => forget.extend(members.into_iter().map(|(_, link, _)| link)),
                Err(e) => {
                    for (index, _, pair) in members {
                        pending.insert(
                            index,
                            format!("removing the old association to {to} {}: {e}", pair.to_id),
                        );
                    }
                }
            }
        }
        if !forget.is_empty()
            && let Err(e) = self.ports.index.remove_links(&forget).await
        {
            // Removed in HubSpot, still journaled: a later move removes them again, harmlessly.
            tracing::warn!(links = forget.len(), error = %e, "cannot forget removed associations");
        }
    }
}
