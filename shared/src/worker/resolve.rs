//! The HubSpot object in every path is the objectTypeId `mappings apply` (or `activate`)
//! resolved: HubSpot has refused a custom object's base name since June 2025
//! (platform-behaviours.md H1). A mapping stored without it (by an older version, or put in the
//! store directly) is resolved here before any object call, and so is one whose stored id
//! HubSpot no longer knows (the object was deleted and made again): the worker that meets the
//! unknown id forgets it, and the next batch resolves the name again.

use super::Worker;
use super::item::{Budget, Item, fail_all};
use crate::mapping::{AssociationTarget, HubSpotObjectRef, Mapping, Resolved};
use crate::ports::{RemoteError, StoredMapping};

/// Why a mapping's objects could not be resolved.
enum Unresolved {
    /// HubSpot has no object of that name.
    Missing(HubSpotObjectRef),
    /// HubSpot could not say.
    Failed(HubSpotObjectRef, RemoteError),
}

impl Worker {
    /// `stored`'s mapping with its objects resolved, storing what was resolved; `None` with the
    /// items settled when HubSpot cannot say or has no such object.
    pub(super) async fn resolved_mapping(
        &self,
        stored: StoredMapping,
        items: &mut [Item],
    ) -> Option<Mapping> {
        if stored.mapping.resolved.is_some() {
            return Some(stored.mapping);
        }
        match self.resolve_and_store(stored).await {
            Ok(mapping) => Some(mapping),
            Err((mapping, Unresolved::Missing(object))) => {
                let reason = format!(
                    "HubSpot has no object `{object}` (mapping `{}`): create it (`sf2hs schema \
                     ensure {}`) or fix the mapping, apply it, then replay the dead letters",
                    mapping.salesforce_object, mapping.salesforce_object
                );
                fail_all(items, &reason, self.settings.retry_delay, Budget::Counted);
                None
            }
            Err((_, Unresolved::Failed(object, e))) => {
                let reason = format!("resolving HubSpot object `{object}`: {e}");
                let budget = match e {
                    RemoteError::Permanent { .. } | RemoteError::UnknownObject { .. } => {
                        Budget::Counted
                    }
                    _ => Budget::Outage,
                };
                fail_all(items, &reason, self.settings.retry_delay, budget);
                None
            }
        }
    }

    /// Resolves the mapping's object and its associations' HubSpot objects, and stores the
    /// result for the next batches (a concurrent edit wins: its own resolution follows).
    async fn resolve_and_store(
        &self,
        stored: StoredMapping,
    ) -> Result<Mapping, (Mapping, Unresolved)> {
        let mut mapping = stored.mapping;
        let resolved = match self.resolve_objects(&mapping).await {
            Ok(resolved) => resolved,
            Err(why) => return Err((mapping, why)),
        };
        mapping.resolved = Some(resolved);
        if let Err(e) = self
            .ports
            .mappings
            .put(&mapping, Some(stored.version))
            .await
        {
            tracing::info!(object = %mapping.salesforce_object, error = %e, "resolved objects not stored");
        }
        Ok(mapping)
    }

    async fn resolve_objects(&self, mapping: &Mapping) -> Result<Resolved, Unresolved> {
        let mut resolved = Resolved {
            object_type_id: self.object_type_id(&mapping.hubspot_object).await?,
            ..Resolved::default()
        };
        for association in &mapping.associations {
            if let AssociationTarget::HubSpotObject { object, .. } = &association.target {
                let id = self
                    .object_type_id(&HubSpotObjectRef::parse(object))
                    .await?;
                resolved.association_objects.insert(object.clone(), id);
            }
        }
        Ok(resolved)
    }

    async fn object_type_id(&self, object: &HubSpotObjectRef) -> Result<String, Unresolved> {
        match self.ports.hubspot.object_type_id(object).await {
            Ok(Some(id)) => Ok(id),
            Ok(None) => Err(Unresolved::Missing(object.clone())),
            Err(e) => Err(Unresolved::Failed(object.clone(), e)),
        }
    }

    /// The HubSpot object (as paths take it) and id property of the mapped Salesforce object a
    /// lookup leads to, resolved and stored as its own worker would; `None` when it has no
    /// mapping or its object cannot be resolved now (the record then waits, as for a target not
    /// written yet).
    pub(super) async fn mapped_target(
        &self,
        salesforce_object: &str,
    ) -> Option<(HubSpotObjectRef, String)> {
        let stored = self.ports.mappings.get(salesforce_object).await.ok()??;
        let mapping = match stored.mapping.resolved {
            Some(_) => stored.mapping,
            None => self.resolve_and_store(stored).await.ok()?,
        };
        Some((mapping.hubspot_target(), mapping.id_property))
    }

    /// HubSpot answered that it does not know `mapping`'s stored objectTypeId: the stored
    /// resolution is dropped, so the next batch resolves the name again (a custom object
    /// deleted and made again has a new id).
    pub(super) async fn forget_resolution(&self, mapping: &Mapping) {
        let Ok(Some(stored)) = self.ports.mappings.get(&mapping.salesforce_object).await else {
            return;
        };
        if stored.mapping.resolved.is_none() || stored.mapping.resolved != mapping.resolved {
            return;
        }
        let forgotten = Mapping {
            resolved: None,
            ..stored.mapping
        };
        match self
            .ports
            .mappings
            .put(&forgotten, Some(stored.version))
            .await
        {
            Ok(_) => tracing::warn!(
                object = %mapping.salesforce_object,
                hubspot_object = %mapping.hubspot_object,
                "HubSpot no longer knows the stored objectTypeId: it is resolved again"
            ),
            Err(e) => tracing::info!(error = %e, "stored resolution not dropped"),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::ports::MappingStore;
    use crate::worker::Disposition;
    use crate::worker::fakes::{Rig, only, stamp};

    async fn stored_type_id(rig: &Rig) -> Option<String> {
        rig.store
            .mapping_store()
            .get("Invoice__c")
            .await
            .expect("read")
            .expect("stored")
            .mapping
            .resolved
            .map(|r| r.object_type_id)
    }

    #[tokio::test]
    async fn a_base_name_is_written_by_its_object_type_id_and_stored() {
        let rig = Rig::new().await;
        rig.hubspot
            .state()
            .object_ids
            .insert("invoice".into(), "2-101".into());
        let result = rig
            .process(vec![rig.invoice(1, "INV-1", None, stamp(0))])
            .await;
        assert_eq!(only(&result), &Disposition::Done);
        let objects: Vec<String> = rig
            .hubspot
            .state()
            .records
            .keys()
            .map(|(o, _)| o.clone())
            .collect();
        assert_eq!(objects, ["2-101"], "never the base name in a path");
        assert_eq!(stored_type_id(&rig).await.as_deref(), Some("2-101"));
    }

    #[tokio::test]
    async fn an_object_hubspot_no_longer_knows_is_resolved_again() {
        let rig = Rig::new().await;
        rig.hubspot
            .state()
            .object_ids
            .insert("invoice".into(), "2-101".into());
        rig.process(vec![rig.invoice(1, "INV-1", None, stamp(0))])
            .await;
        // The custom object is deleted and made again: its name has a new id.
        {
            let mut state = rig.hubspot.state();
            state.unknown_objects.insert("2-101".into());
            state.object_ids.insert("invoice".into(), "2-102".into());
        }
        let result = rig
            .process(vec![rig.invoice(2, "INV-2", None, stamp(1))])
            .await;
        assert!(
            matches!(only(&result), Disposition::Requeue { .. }),
            "{result:?}"
        );
        assert_eq!(
            stored_type_id(&rig).await,
            None,
            "the stale id is forgotten"
        );
        let result = rig
            .process(vec![rig.invoice(2, "INV-2", None, stamp(1))])
            .await;
        assert_eq!(only(&result), &Disposition::Done);
        assert_eq!(stored_type_id(&rig).await.as_deref(), Some("2-102"));
        assert!(
            rig.hubspot
                .state()
                .records
                .keys()
                .any(|(object, _)| object == "2-102")
        );
    }

    #[tokio::test]
    async fn a_lookups_target_mapping_is_resolved_once_and_stored() {
        let rig = Rig::new().await;
        rig.hubspot
            .state()
            .object_ids
            .insert("project".into(), "2-202".into());
        let project = crate::worker::fakes::id("a02", 1);
        rig.hubspot.put("2-202", project.as_str());
        let result = rig
            .process(vec![rig.invoice(1, "INV-1", Some(&project), stamp(0))])
            .await;
        assert_eq!(only(&result), &Disposition::Done, "{result:?}");
        let stored = rig
            .store
            .mapping_store()
            .get("Project__c")
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(
            stored.mapping.resolved.map(|r| r.object_type_id).as_deref(),
            Some("2-202"),
            "the next batches find it resolved"
        );
    }

    #[tokio::test]
    async fn a_name_hubspot_does_not_have_fails_with_what_to_do() {
        let rig = Rig::new().await;
        rig.hubspot.state().unknown_objects.insert("invoice".into());
        let result = rig
            .process(vec![rig.invoice(1, "INV-1", None, stamp(0))])
            .await;
        assert!(
            matches!(only(&result), Disposition::Requeue { .. }),
            "{result:?}"
        );
        let reason = rig.log().await[0].reason.clone().unwrap_or_default();
        assert!(
            reason.contains("HubSpot has no object `invoice`")
                && reason.contains("sf2hs schema ensure Invoice__c"),
            "{reason}"
        );
        assert!(!rig.hubspot.state().calls.contains(&"upsert"));
    }
}
