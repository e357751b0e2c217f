//! The HubSpot client as the worker's `HubSpotRecords` port.

use std::collections::HashMap;

use async_trait::async_trait;

use super::{AssociationInput, AssociationType, HubSpotClient, HubSpotError, UpsertInput};
use crate::mapping::HubSpotObjectRef;
use crate::ports::{AssociationPair, HubSpotRecords, RemoteError, UpsertRecord, WriteOutcome};

impl From<HubSpotError> for RemoteError {
    fn from(e: HubSpotError) -> Self {
        let reason = e.to_string();
        if matches!(e, HubSpotError::ObjectNotFound { .. }) {
            RemoteError::UnknownObject { reason }
        } else if e.is_retryable() {
            RemoteError::Retryable {
                reason,
                after: e.suggested_wait(),
            }
        } else if e.stops_the_caller() {
            RemoteError::Stop { reason }
        } else {
            RemoteError::Permanent { reason }
        }
    }
}

#[async_trait]
impl HubSpotRecords for HubSpotClient {
    async fn object_type_id(
        &self,
        object: &HubSpotObjectRef,
    ) -> Result<Option<String>, RemoteError> {
        Ok(self.resolve_object_type_id(object).await?)
    }

    async fn upsert(
        &self,
        object: &HubSpotObjectRef,
        id_property: &str,
        records: &[UpsertRecord],
    ) -> Result<HashMap<String, WriteOutcome>, RemoteError> {
        let inputs = records
            .iter()
            .map(|r| UpsertInput {
                id_value: r.id_value.clone(),
                properties: r.properties.clone(),
                modified_at: None,
            })
            .collect();
        let outcome = HubSpotClient::upsert(self, object, id_property, inputs).await?;
        let mut out = HashMap::new();
        for written in outcome.succeeded {
            out.insert(
                written.id_value,
                WriteOutcome::Written {
                    hubspot_id: written.hubspot_id,
                    created: written.created,
                },
            );
        }
        for failed in outcome.failed {
            out.insert(
                failed.id_value,
                WriteOutcome::Failed {
                    message: failed.message,
                    category: failed.category,
                    property: failed.properties.into_iter().next(),
                    retryable: failed.retryable,
                },
            );
        }
        Ok(out)
    }

    async fn archive(
        &self,
        object: &HubSpotObjectRef,
        hubspot_ids: &[String],
    ) -> Result<(), RemoteError> {
        Ok(HubSpotClient::archive(self, object, hubspot_ids.to_vec()).await?)
    }

    async fn find_by_unique(
        &self,
        object: &HubSpotObjectRef,
        id_property: &str,
        values: &[String],
    ) -> Result<HashMap<String, String>, RemoteError> {
        Ok(self
            .read_by_unique(object, id_property, values.to_vec())
            .await?)
    }

    async fn associate(
        &self,
        from: &HubSpotObjectRef,
        to: &HubSpotObjectRef,
        association_type_id: Option<u32>,
        pairs: &[AssociationPair],
    ) -> Result<Vec<(AssociationPair, String)>, RemoteError> {
        let association_type = self.written_type(from, to, association_type_id).await?;
        let inputs = pairs
            .iter()
            .map(|p| AssociationInput {
                from_id: p.from_id.clone(),
                to_id: p.to_id.clone(),
            })
            .collect();
        let outcome = HubSpotClient::associate(self, from, to, &association_type, inputs).await?;
        Ok(outcome
            .failed
            .into_iter()
            .map(|f| {
                (
                    AssociationPair {
                        from_id: f.input.from_id,
                        to_id: f.input.to_id,
                    },
                    f.message,
                )
            })
            .collect())
    }

    async fn dissociate(
        &self,
        from: &HubSpotObjectRef,
        to: &HubSpotObjectRef,
        association_type_id: Option<u32>,
        pairs: &[AssociationPair],
    ) -> Result<(), RemoteError> {
        if pairs.is_empty() {
            return Ok(());
        }
        let association_type = self.written_type(from, to, association_type_id).await?;
        let inputs = pairs
            .iter()
            .map(|p| AssociationInput {
                from_id: p.from_id.clone(),
                to_id: p.to_id.clone(),
            })
            .collect();
        Ok(self
            .dissociate_type(from, to, &association_type, inputs)
            .await?)
    }
}

impl HubSpotClient {
    /// The association type `associate` writes between the objects: the one given (its
    /// category read from the labels when listed), or the pair's default.
    async fn written_type(
        &self,
        from: &HubSpotObjectRef,
        to: &HubSpotObjectRef,
        association_type_id: Option<u32>,
    ) -> Result<AssociationType, HubSpotError> {
        match association_type_id {
            None => self.association_type(from, to, None).await,
            Some(type_id) => Ok(self
                .association_types(from, to)
                .await?
                .into_iter()
                .find(|t| t.type_id == type_id)
                .unwrap_or(AssociationType {
                    category: "USER_DEFINED".into(),
                    type_id,
                    label: None,
                })),
        }
    }
}
