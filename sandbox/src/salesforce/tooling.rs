//! The Tooling API's outbound-message definitions (`WorkflowOutboundMessage`), which say which
//! fields an outbound message sends (platform-behaviours.md S2: a field not sent and a null
//! field are both absent from a notification, so only the definition tells them apart).
//!
//! As Salesforce documents it (Tooling API, WorkflowOutboundMessage): `Id`, `Name`, `ApiVersion`,
//! `EntityDefinitionId`, `IntegrationUserId`, and `FullName` (`Object.Name`) and `Metadata`
//! (`fields`, `endpointUrl`, …), which a query may select only when it returns at most one row;
//! `GET tooling/sobjects/WorkflowOutboundMessage/{id}` returns them all. This stand-in serves
//! `SELECT <fields> FROM WorkflowOutboundMessage [WHERE Id = '…' | WHERE Name = '…']` and refuses
//! other queries.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::errors::SfError;
use super::errors::lock;
use super::ids;
use super::state::SfShared;
use crate::hubspot::form::parse_pairs;

const ENTITY: &str = "WorkflowOutboundMessage";
const FIELDS: &[&str] = &[
    "Id",
    "Name",
    "ApiVersion",
    "EntityDefinitionId",
    "IntegrationUserId",
    "FullName",
    "Metadata",
];

/// One outbound-message action, as an admin defines it in Setup.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundMessageDefinition {
    /// `04k…`, the `ActionId` of its notifications.
    pub id: String,
    /// The developer name.
    pub name: String,
    pub object: String,
    /// The fields it sends (`Id` always goes too).
    pub fields: Vec<String>,
    pub endpoint_url: String,
}

fn row(
    definition: &OutboundMessageDefinition,
    user_id: &str,
    version: &str,
    select: &[&str],
) -> Value {
    let mut row = serde_json::Map::new();
    row.insert(
        "attributes".into(),
        json!({
            "type": ENTITY,
            "url": format!("/services/data/{version}/tooling/sobjects/{ENTITY}/{}", definition.id),
        }),
    );
    for field in select {
        let value = match *field {
            "Id" => json!(definition.id),
            "Name" => json!(definition.name),
            "ApiVersion" => json!(
                version
                    .trim_start_matches('v')
                    .parse::<f64>()
                    .unwrap_or(60.0)
            ),
            "EntityDefinitionId" => json!(definition.object),
            "IntegrationUserId" => json!(user_id),
            "FullName" => json!(format!("{}.{}", definition.object, definition.name)),
            "Metadata" => json!({
                "apiVersion": version.trim_start_matches('v').parse::<f64>().unwrap_or(60.0),
                "description": null,
                "endpointUrl": definition.endpoint_url,
                "fields": definition.fields,
                "includeSessionId": false,
                "integrationUser": user_id,
                "name": definition.name,
                "protected": false,
                "useDeadLetterQueue": false,
            }),
            _ => Value::Null,
        };
        row.insert((*field).to_owned(), value);
    }
    Value::Object(row)
}

/// `GET …/tooling/sobjects/WorkflowOutboundMessage/{id}`: every field, `Metadata` included.
pub async fn get_outbound_message(
    State(shared): State<Arc<SfShared>>,
    Path((version, id)): Path<(String, String)>,
) -> Result<Response, SfError> {
    let org = lock(&shared.org)?;
    let key = ids::normalize(&id).ok_or_else(SfError::not_found)?;
    let definition = org
        .outbound_messages
        .get(&key)
        .ok_or_else(SfError::not_found)?;
    Ok(Json(row(definition, &org.user_id, &version, FIELDS)).into_response())
}

/// `GET …/tooling/query?q=…` over outbound-message definitions.
pub async fn query(
    State(shared): State<Arc<SfShared>>,
    Path(version): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, SfError> {
    let pairs = parse_pairs(raw.unwrap_or_default().as_bytes());
    let Some((_, text)) = pairs.into_iter().find(|(k, _)| k == "q") else {
        return Err(SfError::malformed_query(
            "A query string has to be specified",
        ));
    };
    let (select, filter) = parse(&text)?;
    let org = lock(&shared.org)?;
    let rows: Vec<&OutboundMessageDefinition> = org
        .outbound_messages
        .values()
        .filter(|d| match &filter {
            Some(("Id", value)) => ids::normalize(value).as_deref() == Some(d.id.as_str()),
            Some((_, value)) => d.name == *value,
            None => true,
        })
        .collect();
    if rows.len() > 1 && select.iter().any(|f| *f == "FullName" || *f == "Metadata") {
        return Err(SfError::malformed_query(format!(
            "When retrieving results with Metadata or FullName fields, the query qualifications \
             must specify no more than one row for retrieval. Result size: {}",
            rows.len()
        )));
    }
    let records: Vec<Value> = rows
        .iter()
        .map(|d| row(d, &org.user_id, &version, &select))
        .collect();
    Ok(Json(json!({
        "size": records.len(),
        "totalSize": records.len(),
        "done": true,
        "queryLocator": null,
        "entityTypeName": ENTITY,
        "records": records,
    }))
    .into_response())
}

/// The selected fields and the one filter this stand-in takes.
type Parsed = (Vec<&'static str>, Option<(&'static str, String)>);

fn parse(text: &str) -> Result<Parsed, SfError> {
    let malformed = || SfError::malformed_query(format!("unexpected token in: {text}"));
    let upper = text.to_ascii_uppercase();
    let from = upper.find(" FROM ").ok_or_else(malformed)?;
    let head = text[..from].trim();
    let head = head
        .strip_prefix("SELECT ")
        .or_else(|| head.strip_prefix("select "))
        .ok_or_else(malformed)?;
    let mut select = Vec::new();
    for name in head.split(',').map(str::trim) {
        let field = FIELDS
            .iter()
            .find(|f| f.eq_ignore_ascii_case(name))
            .ok_or_else(|| SfError::invalid_field(name, ENTITY))?;
        select.push(*field);
    }
    let rest = text[from + 6..].trim();
    let (entity, condition) = match rest.split_once(char::is_whitespace) {
        Some((entity, condition)) => (entity, Some(condition.trim())),
        None => (rest, None),
    };
    if !entity.eq_ignore_ascii_case(ENTITY) {
        return Err(SfError::invalid_type(entity));
    }
    let filter = match condition {
        None => None,
        Some(condition) => {
            let condition = condition
                .strip_prefix("WHERE ")
                .or_else(|| condition.strip_prefix("where "))
                .ok_or_else(malformed)?;
            let (field, value) = condition.split_once('=').ok_or_else(malformed)?;
            let field = ["Id", "Name"]
                .into_iter()
                .find(|f| f.eq_ignore_ascii_case(field.trim()))
                .ok_or_else(malformed)?;
            let value = value.trim();
            let value = value
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .ok_or_else(malformed)?;
            Some((field, value.to_owned()))
        }
    };
    Ok((select, filter))
}
