//! The Salesforce half of `SchemaSource`: describe feeds mapping validation. The HubSpot half
//! comes from the HubSpot client; [`SplitSchemaSource`] joins the two.

use async_trait::async_trait;

use super::SalesforceClient;
use super::errors::SalesforceError;
use crate::mapping::HubSpotObjectRef;
use crate::mapping::schema::{
    HubSpotObjectSchema, OutboundMessageFields, SalesforceObjectSchema, SchemaError, SchemaSource,
};

impl SalesforceClient {
    /// Describe as `SchemaSource` wants it: an unknown object is `None`, not an error.
    pub async fn salesforce_schema(
        &self,
        object: &str,
    ) -> Result<Option<SalesforceObjectSchema>, SchemaError> {
        match self.describe(object).await {
            Ok(schema) => Ok(Some(schema)),
            Err(SalesforceError::InvalidType { .. }) => Ok(None),
            Err(e) => Err(SchemaError::Unavailable {
                system: "Salesforce",
                reason: e.to_string(),
            }),
        }
    }

    /// The outbound-message actions of an object with the fields each sends, as
    /// `SchemaSource::outbound_messages` wants them.
    pub async fn outbound_message_fields(
        &self,
        object: &str,
    ) -> Result<Option<Vec<OutboundMessageFields>>, SchemaError> {
        let definitions =
            self.outbound_messages_of(object)
                .await
                .map_err(|e| SchemaError::Unavailable {
                    system: "Salesforce (Tooling API)",
                    reason: e.to_string(),
                })?;
        Ok(Some(
            definitions
                .into_iter()
                .map(|d| OutboundMessageFields {
                    name: d.name,
                    fields: d.fields,
                })
                .collect(),
        ))
    }
}

/// The Salesforce half of live validation; a Salesforce client knows no HubSpot schema, so
/// pair it with `HubSpotSchemaSource` (which wraps it) for both halves.
#[async_trait]
impl SchemaSource for SalesforceClient {
    async fn salesforce_object(
        &self,
        name: &str,
    ) -> Result<Option<SalesforceObjectSchema>, SchemaError> {
        self.salesforce_schema(name).await
    }

    async fn hubspot_object(
        &self,
        _object: &HubSpotObjectRef,
    ) -> Result<Option<HubSpotObjectSchema>, SchemaError> {
        Ok(None)
    }

    async fn outbound_messages(
        &self,
        object: &str,
    ) -> Result<Option<Vec<OutboundMessageFields>>, SchemaError> {
        self.outbound_message_fields(object).await
    }
}

/// Salesforce schemas from one source, HubSpot schemas from another.
pub struct SplitSchemaSource<'a> {
    pub salesforce: &'a SalesforceClient,
    pub hubspot: &'a dyn SchemaSource,
}

#[async_trait]
impl SchemaSource for SplitSchemaSource<'_> {
    async fn salesforce_object(
        &self,
        name: &str,
    ) -> Result<Option<SalesforceObjectSchema>, SchemaError> {
        self.salesforce.salesforce_schema(name).await
    }

    async fn hubspot_object(
        &self,
        object: &HubSpotObjectRef,
    ) -> Result<Option<HubSpotObjectSchema>, SchemaError> {
        self.hubspot.hubspot_object(object).await
    }

    async fn hubspot_custom_objects(&self) -> Result<Vec<(String, String)>, SchemaError> {
        self.hubspot.hubspot_custom_objects().await
    }

    async fn outbound_messages(
        &self,
        object: &str,
    ) -> Result<Option<Vec<OutboundMessageFields>>, SchemaError> {
        self.salesforce.outbound_message_fields(object).await
    }
}
