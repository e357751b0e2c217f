//! Removing associations the records' lookups no longer point to.

use std::collections::BTreeMap;

use crate::mapping::{AssociationTarget, HubSpotObjectRef, Mapping};

use super::Worker;
use super::associations::{MappedTargets, Pending};
use super::item::Item;

impl Worker {
    /// Removes the associations of each `(item, from record)` to `to` records other than the
    /// one kept; a failure makes the item retry.
    pub(super) async fn prune(
        &self,
        mapping: &Mapping,
        to: &HubSpotObjectRef,
        keep: Vec<(usize, String, Option<String>)>,
        pending: &mut Pending,
    ) {
        if keep.is_empty() {
            return;
        }
        let pairs: Vec<(String, Option<String>)> = keep
            .iter()
            .map(|(_, from, kept)| (from.clone(), kept.clone()))
            .collect();
        if let Err(e) = self
            .ports
            .hubspot
            .prune_associations(&mapping.hubspot_target(), to, &pairs)
            .await
        {
            for (index, _, _) in keep {
                pending.insert(index, format!("removing old associations to {to}: {e}"));
            }
        }
    }

    /// Lookups present as null: their associations to a mapped object are removed.
    pub(super) async fn prune_cleared(
        &self,
        mapping: &Mapping,
        items: &[Item],
        targets_of_mapped: &MappedTargets,
        pending: &mut Pending,
    ) {
        let mut by_target: BTreeMap<String, Vec<(usize, String, Option<String>)>> = BTreeMap::new();
        for (index, item) in items.iter().enumerate() {
            if !item.open() || item.created || pending.contains_key(&index) {
                continue;
            }
            let (Some(mapped), Some(from_id)) = (&item.mapped, &item.hubspot_id) else {
                continue;
            };
            for field in &mapped.cleared_associations {
                let target = mapping.associations.iter().find_map(|a| match &a.target {
                    AssociationTarget::MappedObject { salesforce_object }
                        if &a.salesforce_field == field =>
                    {
                        Some(salesforce_object.clone())
                    }
                    _ => None,
                });
                let Some(target) = target else { continue };
                let hubspot_object = match targets_of_mapped.get(&target) {
                    Some((object, _)) => object.as_str().to_owned(),
                    None => match self.mapped_target(&target).await {
                        Some((object, _)) => object.as_str().to_owned(),
                        None => continue,
                    },
                };
                by_target
                    .entry(hubspot_object)
                    .or_default()
                    .push((index, from_id.clone(), None));
            }
        }
        for (object, keep) in by_target {
            self.prune(mapping, &HubSpotObjectRef::parse(&object), keep, pending)
                .await;
        }
    }
}
