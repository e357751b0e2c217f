//! Outbound-message definitions through the Tooling API (`WorkflowOutboundMessage`): which
//! fields an outbound message sends. A notification leaves null fields out, exactly as fields
//! it does not send (platform-behaviours.md S2), so only the definition says that an absent
//! field is null.

use reqwest::Method;
use serde::Deserialize;

use super::errors::SalesforceError;
use super::{Body, SalesforceClient};

/// One outbound-message action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundMessageDefinition {
    /// `04k…`: its notifications' `ActionId`.
    pub id: String,
    /// The developer name, for messages ("add FIELD to outbound message NAME").
    pub name: String,
    /// The object it is defined on.
    pub object: String,
    /// The fields it sends.
    pub fields: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ToolingRecord {
    id: String,
    name: String,
    #[serde(default)]
    full_name: Option<String>,
    #[serde(default)]
    metadata: Option<ToolingMetadata>,
}

#[derive(Deserialize)]
struct ToolingMetadata {
    #[serde(default)]
    fields: Vec<String>,
}

#[derive(Deserialize)]
struct ToolingPage {
    records: Vec<ToolingRecord>,
}

impl SalesforceClient {
    /// The definition with id `action_id`, or `None` when the org has none (deleted since).
    pub async fn outbound_message(
        &self,
        action_id: &str,
    ) -> Result<Option<OutboundMessageDefinition>, SalesforceError> {
        let path = self.data_path(&format!(
            "/tooling/sobjects/WorkflowOutboundMessage/{action_id}"
        ));
        match self
            .call(Method::GET, &path, &[], Body::None, &[], None)
            .await
        {
            Ok(answer) => Ok(definition(answer.json()?)),
            Err(SalesforceError::Api { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every outbound-message definition on `object`. `FullName` and `Metadata` can be read
    /// only one record at a time (the Tooling API refuses them in a query of more rows), so
    /// the ids are listed first and each definition read by id.
    pub async fn outbound_messages_of(
        &self,
        object: &str,
    ) -> Result<Vec<OutboundMessageDefinition>, SalesforceError> {
        let path = self.data_path("/tooling/query");
        let query = [(
            "q",
            "SELECT Id, Name FROM WorkflowOutboundMessage".to_owned(),
        )];
        let page: ToolingPage = self
            .call(Method::GET, &path, &query, Body::None, &[], None)
            .await?
            .json()?;
        let mut found = Vec::new();
        for record in page.records {
            if let Some(definition) = self.outbound_message(&record.id).await?
                && definition.object.eq_ignore_ascii_case(object)
            {
                found.push(definition);
            }
        }
        Ok(found)
    }
}

fn definition(record: ToolingRecord) -> Option<OutboundMessageDefinition> {
    let full_name = record.full_name?;
    let (object, _) = full_name.split_once('.')?;
    Some(OutboundMessageDefinition {
        id: record.id,
        name: record.name,
        object: object.to_owned(),
        fields: record.metadata.map(|m| m.fields).unwrap_or_default(),
    })
}
