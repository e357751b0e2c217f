//! Removing the associations sf2hs wrote for lookups that moved or were cleared, and only
//! those: the index records, per lookup field, the target it linked (`IndexEntry::links`), so
//! associations users made between the same objects, or labels they added to the same pair,
//! stay (platform-behaviours.md H3).

use std::collections::BTreeMap;

use crate::mapping::{HubSpotObjectRef, Mapping};
use crate::ports::AssociationPair;

use super::Worker;
use super::associations::{MappedTargets, Pending};
use super::item::Item;

/// Links to remove in one call: the target object and association type, then each
/// (item, lookup field, pair).
type Unlinks = BTreeMap<(String, Option<u32>), Vec<(usize, String, AssociationPair)>>;

impl Worker {
    /// For each written record, removes the association the index recorded for a lookup
    /// field whose target is now another record, or none (the lookup was cleared). A failure
    /// makes the item retry.
    pub(super) async fn unlink_previous(
        &self,
        mapping: &Mapping,
        items: &mut [Item],
        targets_of_mapped: &MappedTargets,
        pending: &mut Pending,
    ) {
        let mut targets = targets_of_mapped.clone();
        let mut unlinks = Unlinks::new();
        for (index, item) in items.iter().enumerate() {
            if !item.open() || item.created || pending.contains_key(&index) {
                continue;
            }
            let (Some(mapped), Some(from_id), Some(seen)) =
                (&item.mapped, &item.hubspot_id, &item.seen)
            else {
                continue;
            };
            for association in &mapping.associations {
                let field = &association.salesforce_field;
                let Some(previous) = seen.links.get(field) else {
                    continue;
                };
                let cleared = mapped.cleared_associations.contains(field);
                let now = if cleared { None } else { item.links.get(field) };
                if now == Some(previous) {
                    continue;
                }
                if !cleared && now.is_none() {
                    continue;
                }
                // Another lookup of the record that links the same target keeps the pair.
                let still_wanted = mapping.associations.iter().any(|other| {
                    &other.salesforce_field != field
                        && other.target == association.target
                        && other.association_type_id == association.association_type_id
                        && item.links.get(&other.salesforce_field) == Some(previous)
                });
                if still_wanted {
                    continue;
                }
                let Some((object, _)) = self
                    .association_target_object(mapping, &association.target, &mut targets)
                    .await
                else {
                    continue;
                };
                unlinks
                    .entry((object.as_str().to_owned(), association.association_type_id))
                    .or_default()
                    .push((
                        index,
                        field.clone(),
                        AssociationPair {
                            from_id: from_id.clone(),
                            to_id: previous.clone(),
                        },
                    ));
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
                Ok(()) => {
                    for (index, field, pair) in members {
                        let links = &mut items[index].links;
                        if links.get(&field) == Some(&pair.to_id) {
                            links.remove(&field);
                        }
                    }
                }
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
    }
}
