//! Change Data Capture as Event Relay hands it to Amazon EventBridge (salesforce.md §2.4):
//! `{"version","id","detail-type":"<Object>ChangeEvent","source":"aws.partner/salesforce.com/<org>/<channel>",
//! …,"detail":{"payload":{"ChangeEventHeader":{…},<fields>}}}`. CREATE and UNDELETE carry every
//! field (unset ones as null, datetimes as epoch ms), UPDATE the changed fields plus
//! `LastModifiedDate` (ISO) and `changedFields`, DELETE the header only.

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::super::SalesforceHandle;
use super::super::ids;
use super::super::store::{ChangeType, RecordChange};
use super::super::values::{as_cdc, iso_datetime, parse_datetime};
use super::SenderError;

#[derive(Debug, Clone)]
pub struct CdcRelayConfig {
    /// `0YL…` id of the platform event channel (part of the partner event source name).
    pub channel_id: String,
    pub aws_account: String,
    pub region: String,
    /// Written into `changeOrigin` as `client=<id>`, for echo-suppression tests.
    pub client_id: Option<String>,
    pub api_version: String,
}

impl Default for CdcRelayConfig {
    fn default() -> Self {
        Self {
            channel_id: ids::make_id("0YL", "ak", 1),
            aws_account: "123456789012".into(),
            region: "us-east-1".into(),
            client_id: None,
            api_version: "60.0".into(),
        }
    }
}

/// `Account` → `AccountChangeEvent`; `Invoice__c` → `Invoice__ChangeEvent`.
pub fn change_event_name(object: &str) -> String {
    match object.strip_suffix("__c") {
        Some(base) => format!("{base}__ChangeEvent"),
        None => format!("{object}ChangeEvent"),
    }
}

fn envelope(handle: &SalesforceHandle, config: &CdcRelayConfig, change: &RecordChange) -> Value {
    let definition = handle.object_definition(&change.object);
    let field_type = |name: &str| {
        definition
            .as_ref()
            .and_then(|d| d.field(name))
            .map(|f| f.field_type)
            .unwrap_or_default()
    };
    let change_type = match change.change_type {
        ChangeType::Create => "CREATE",
        ChangeType::Update => "UPDATE",
        ChangeType::Delete => "DELETE",
        ChangeType::Undelete => "UNDELETE",
    };
    let origin = format!(
        "com/salesforce/api/rest/{};client={}",
        config.api_version,
        config.client_id.as_deref().unwrap_or("SfdcInternalAPI/")
    );
    let commit_ms = change.committed_at.timestamp_millis();
    let mut payload = Map::new();
    payload.insert(
        "ChangeEventHeader".into(),
        json!({
            "entityName": change.object,
            "recordIds": [change.record_id],
            "changeType": change_type,
            "changeOrigin": origin,
            "transactionKey": uuid::Uuid::new_v4().to_string(),
            "sequenceNumber": 1,
            "commitTimestamp": commit_ms,
            // An SCN-like number past 2^53, as real ones are.
            "commitNumber": 1_778_192_987_716_000_000_i64 + change.sequence as i64,
            "commitUser": handle.user_id(),
            "nulledFields": change.nulled_fields,
            "diffFields": [],
            "changedFields": change.changed_fields,
        }),
    );
    for (name, value) in &change.values {
        let is_datetime = field_type(name) == "datetime";
        let rendered = match change.change_type {
            ChangeType::Update if is_datetime => value
                .as_str()
                .and_then(parse_datetime)
                .map(|d| Value::String(iso_datetime(d)))
                .unwrap_or(Value::Null),
            _ => match &definition.as_ref().and_then(|d| d.field(name)) {
                Some(field) => as_cdc(field, value),
                None => value.clone(),
            },
        };
        payload.insert(name.clone(), rendered);
    }
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": change_event_name(&change.object),
        "source": format!("aws.partner/salesforce.com/{}/{}", handle.org_id(), config.channel_id),
        "account": config.aws_account,
        "time": iso_datetime(change.committed_at).replace(".000Z", "Z"),
        "region": config.region,
        "resources": [],
        "detail": { "payload": Value::Object(payload) },
    })
}

/// The gap events Salesforce sends when it could not build the full events of these changes
/// (platform-behaviours.md S4): `GAP_CREATE`, `GAP_UPDATE`, `GAP_DELETE`, `GAP_UNDELETE`, each
/// with its record ids and header, and no field values: the subscriber must read the records.
pub fn gap_events(
    handle: &SalesforceHandle,
    config: &CdcRelayConfig,
    after_sequence: u64,
) -> Vec<Value> {
    handle
        .changes_after(after_sequence)
        .iter()
        .map(|change| {
            let mut event = envelope(handle, config, change);
            let payload = &mut event["detail"]["payload"];
            let mut header = payload["ChangeEventHeader"].take();
            let kind = header["changeType"].as_str().unwrap_or_default().to_owned();
            header["changeType"] = json!(format!("GAP_{kind}"));
            for list in ["nulledFields", "diffFields", "changedFields"] {
                header[list] = json!([]);
            }
            *payload = json!({ "ChangeEventHeader": header });
            event
        })
        .collect()
}

/// The `GAP_OVERFLOW` event Salesforce sends in place of a transaction's events past the
/// 100,000th (platform-behaviours.md S4): the object and the commit time, no record ids, no
/// fields.
pub fn gap_overflow_event(
    handle: &SalesforceHandle,
    config: &CdcRelayConfig,
    object: &str,
    committed_at: chrono::DateTime<chrono::Utc>,
) -> Value {
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": change_event_name(object),
        "source": format!("aws.partner/salesforce.com/{}/{}", handle.org_id(), config.channel_id),
        "account": config.aws_account,
        "time": iso_datetime(committed_at).replace(".000Z", "Z"),
        "region": config.region,
        "resources": [],
        "detail": { "payload": { "ChangeEventHeader": {
            "entityName": object,
            "recordIds": [],
            "changeType": "GAP_OVERFLOW",
            "changeOrigin": "",
            "transactionKey": uuid::Uuid::new_v4().to_string(),
            "sequenceNumber": 1,
            "commitTimestamp": committed_at.timestamp_millis(),
            "commitNumber": 1_778_192_987_716_000_000_i64,
            "commitUser": handle.user_id(),
            "nulledFields": [],
            "diffFields": [],
            "changedFields": [],
        }}},
    })
}

/// EventBridge events for every change logged after `after_sequence` (0 = all), in commit order.
pub fn change_events(
    handle: &SalesforceHandle,
    config: &CdcRelayConfig,
    after_sequence: u64,
) -> Vec<Value> {
    handle
        .changes_after(after_sequence)
        .iter()
        .map(|c| envelope(handle, config, c))
        .collect()
}

/// POSTs each event as JSON to `url` (as an EventBridge API destination or a Lambda URL
/// would receive it); returns the HTTP status of each.
pub async fn post_events(url: &str, events: &[Value]) -> Result<Vec<u16>, SenderError> {
    post_events_with(url, events, None).await
}

/// [`post_events`] as an EventBridge API destination with an API-key connection sends them:
/// `api_key` is the (header name, value) it adds to each request.
pub async fn post_events_with(
    url: &str,
    events: &[Value],
    api_key: Option<(&str, &str)>,
) -> Result<Vec<u16>, SenderError> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| SenderError::Config(e.to_string()))?;
    let mut statuses = Vec::with_capacity(events.len());
    for event in events {
        let mut request = http.post(url).json(event);
        if let Some((name, value)) = api_key {
            request = request.header(name, value);
        }
        let status = request
            .send()
            .await
            .map(|r| r.status().as_u16())
            .map_err(|e| SenderError::State(format!("posting a change event to {url}: {e}")))?;
        statuses.push(status);
    }
    Ok(statuses)
}
