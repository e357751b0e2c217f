//! Change Data Capture and platform events, as relayed to Amazon EventBridge (Event Relay) or in
//! the CometD envelope (`payload` beside `event.replayId`). All become `Change`s, one per record
//! id (salesforce.md §2).
//!
//! Trust: an EventBridge event must come from the configured org's Event Relay source,
//! `aws.partner/salesforce.com/<org>/<channel>` (platform-behaviours.md A2). Amazon AppFlow's
//! events are refused: their source names an AWS account and a flow, never the organisation, so
//! nothing in them could be checked against the configured org.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Map, Value};

use crate::domain::{
    Change, ChangeKind, ChangeSource, FieldSnapshot, RecordIdError, RereadReason, SalesforceId,
};

/// How CDC and platform events are read.
#[derive(Debug, Clone, Default)]
pub struct EventOptions {
    /// The organisation sf2hs syncs. Events whose source names another org are refused.
    pub org_id: Option<SalesforceId>,
    /// Whether an event with no `source` at all (the CometD envelope, a bare payload) is taken as
    /// from `org_id`: only where its sender has already proved who it is (the local `/events`
    /// endpoint's credential). EventBridge always sets `source`, so the ingest function leaves
    /// this off.
    pub accept_unsourced: bool,
    /// Integration client ids whose own writes must not come back as changes (echo
    /// suppression): a `changeOrigin` of `…;client=<id>` with one of these is skipped.
    pub echo_clients: Vec<String>,
    /// How to read platform events, which have no standard shape.
    pub platform_events: Vec<PlatformEventRoute>,
}

/// Where a platform event keeps the record it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformEventRoute {
    /// The event's API name or EventBridge `detail-type`, e.g. `Invoice_Changed__e`.
    pub event: String,
    /// The field holding the record id.
    pub record_id_field: String,
    /// The object the record belongs to, when fixed…
    pub object: Option<String>,
    /// …or the field naming it.
    pub object_field: Option<String>,
    /// A field saying `DELETE` / `UNDELETE` (anything else means the record changed).
    pub change_type_field: Option<String>,
}

impl PlatformEventRoute {
    /// Routes as `SF2HS_PLATFORM_EVENTS` writes them, comma-separated: each
    /// `Event__e=Object__c/RecordIdField`, or `Event__e=@ObjectField/RecordIdField` when a field
    /// of the event names the object, optionally followed by `/ChangeTypeField` (a field saying
    /// `DELETE` or `UNDELETE`). The error says which route is wrong and how to write it.
    pub fn parse_list(text: &str) -> Result<Vec<PlatformEventRoute>, String> {
        let mut routes: Vec<PlatformEventRoute> = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let route = Self::parse(entry)?;
            if routes.iter().any(|r| r.event == route.event) {
                return Err(format!("`{}` is routed twice", route.event));
            }
            routes.push(route);
        }
        Ok(routes)
    }

    fn parse(entry: &str) -> Result<PlatformEventRoute, String> {
        let form = "write it `Invoice_Changed__e=Invoice__c/Record_Id__c` (or \
                    `Event__e=@Object_Name__c/Record_Id__c/Change_Type__c`)";
        let (event, target) = entry
            .split_once('=')
            .ok_or_else(|| format!("`{entry}` has no `=`: {form}"))?;
        // The event's API name, or the `detail-type` EventBridge gives it.
        let event = event.trim();
        if event.is_empty() {
            return Err(format!("`{entry}` names no event: {form}"));
        }
        let parts: Vec<&str> = target.split('/').map(str::trim).collect();
        let (object, record_id_field, change_type_field) = match parts.as_slice() {
            [object, id] => (*object, *id, None),
            [object, id, change] => (*object, *id, Some(*change)),
            _ => return Err(format!("`{entry}`: {form}")),
        };
        if object.is_empty() || object == "@" || record_id_field.is_empty() {
            return Err(format!("`{entry}`: {form}"));
        }
        if change_type_field.is_some_and(str::is_empty) {
            return Err(format!(
                "`{entry}` ends in an empty change-type field: {form}"
            ));
        }
        let (object, object_field) = match object.strip_prefix('@') {
            Some(field) => (None, Some(field.to_owned())),
            None => (Some(object.to_owned()), None),
        };
        Ok(PlatformEventRoute {
            event: event.to_owned(),
            record_id_field: record_id_field.to_owned(),
            object,
            object_field,
            change_type_field: change_type_field.map(str::to_owned),
        })
    }
}

/// What one event asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum EventItem {
    Change(Change),
    /// The event cannot name its records (`GAP_OVERFLOW`, a wildcard id): the object must be
    /// re-synced over a window.
    Resync(ResyncRequest),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResyncRequest {
    pub org_id: SalesforceId,
    pub object: String,
    pub reason: ResyncReason,
    /// Re-sync records changed at or after this instant (the event's commit time, when known).
    pub since: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResyncReason {
    /// A transaction changed more than 100,000 records; the rest have no events.
    GapOverflow,
    /// A lossy field-type conversion touched every record with this key prefix.
    WildcardIds { prefix: String },
}

/// The result of reading one event.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParsedEvent {
    pub items: Vec<EventItem>,
    /// Records skipped because sf2hs's own integration user made the change.
    pub echoes_skipped: usize,
}

/// Why an event is refused. EventBridge retries a failed invocation, so refusals must be for
/// events that are wrong, not for events sf2hs merely does not care about.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EventError {
    #[error("the event is not JSON: {0}")]
    NotJson(String),
    #[error(
        "the event has no {0}; expected an EventBridge event with detail.payload.ChangeEventHeader or a platform event"
    )]
    Missing(&'static str),
    #[error("the event's {field} is not {expected}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
    #[error("the event comes from organisation {received}, not the configured {expected}")]
    WrongOrganization {
        received: SalesforceId,
        expected: SalesforceId,
    },
    #[error(
        "the event source `{0}` is not `aws.partner/salesforce.com/<org id>/<channel id>`; sf2hs takes only Event Relay's source for the configured org"
    )]
    BadSource(String),
    #[error(
        "the event source `{0}` is Amazon AppFlow's, which names no Salesforce organisation sf2hs could check: relay change events with Event Relay instead (docs/deploy.md)"
    )]
    AppFlowSource(String),
    #[error(
        "the event has no source; only the local /events endpoint takes a CometD envelope or bare payload, the ingest function takes Event Relay's EventBridge events"
    )]
    NoSource,
    #[error("the event's organisation is unknown: set the org id in the configuration")]
    NoOrganization,
    #[error("record id `{value}` of {object}: {source}")]
    BadRecordId {
        object: String,
        value: String,
        source: RecordIdError,
    },
    #[error("change type `{0}` is not one sf2hs knows (CREATE, UPDATE, DELETE, UNDELETE, GAP_*)")]
    UnknownChangeType(String),
    #[error("no platform-event route for `{0}`: add one naming the field that holds the record id")]
    NoRoute(String),
    #[error("platform event `{event}` has no {field} value")]
    RouteFieldMissing { event: String, field: String },
}

impl EventError {
    /// The refusal's kind, as the `Reason` of the `Refusals` metric.
    pub fn metric_reason(&self) -> &'static str {
        match self {
            EventError::WrongOrganization { .. } | EventError::NoOrganization => "organization",
            EventError::BadSource(_)
            | EventError::AppFlowSource(_)
            | EventError::NoSource
            | EventError::WrongType {
                field: "source", ..
            } => "source",
            _ => "malformed",
        }
    }
}

/// Reads one EventBridge event (Event Relay) or CometD message.
pub fn parse_event(
    body: &[u8],
    options: &EventOptions,
    received_at: DateTime<Utc>,
) -> Result<ParsedEvent, EventError> {
    let event: Value =
        serde_json::from_slice(body).map_err(|e| EventError::NotJson(e.to_string()))?;
    parse_event_value(&event, options, received_at)
}

pub fn parse_event_value(
    event: &Value,
    options: &EventOptions,
    received_at: DateTime<Utc>,
) -> Result<ParsedEvent, EventError> {
    let envelope = event.as_object().ok_or(EventError::WrongType {
        field: "body",
        expected: "a JSON object",
    })?;
    let org_id = event_org(envelope, options)?;
    let event_id = envelope
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| {
            envelope
                .get("event")
                .and_then(|e| e.get("replayId"))
                .map(|r| r.to_string())
        });
    let detail_type = envelope.get("detail-type").and_then(Value::as_str);

    // Event Relay: detail.payload; CometD: payload; a bare payload as a last resort.
    let payload = match envelope.get("detail") {
        Some(detail) => detail
            .get("payload")
            .ok_or(EventError::Missing("detail.payload"))?,
        None => envelope.get("payload").unwrap_or(event),
    };
    let payload = payload.as_object().ok_or(EventError::WrongType {
        field: "payload",
        expected: "a JSON object",
    })?;

    match payload.get("ChangeEventHeader") {
        Some(header) => change_event(header, payload, org_id, event_id, options, received_at),
        None => {
            let name =
                detail_type.ok_or(EventError::Missing("ChangeEventHeader or detail-type"))?;
            platform_event(name, payload, org_id, event_id, options, received_at)
        }
    }
}

/// The org named by `aws.partner/salesforce.com/<orgId>/<channelId>`, checked against ours.
fn event_org(
    envelope: &Map<String, Value>,
    options: &EventOptions,
) -> Result<SalesforceId, EventError> {
    let Some(source) = envelope.get("source") else {
        return match (&options.org_id, options.accept_unsourced) {
            (Some(expected), true) => Ok(expected.clone()),
            (None, true) => Err(EventError::NoOrganization),
            (_, false) => Err(EventError::NoSource),
        };
    };
    let source = source.as_str().ok_or(EventError::WrongType {
        field: "source",
        expected: "a string",
    })?;
    let received = relay_source_org(source)?;
    match &options.org_id {
        Some(expected) if &received != expected => Err(EventError::WrongOrganization {
            received,
            expected: expected.clone(),
        }),
        _ => Ok(received),
    }
}

/// The org of an Event Relay source: exactly `aws.partner/salesforce.com/<org>/<channel>`.
fn relay_source_org(source: &str) -> Result<SalesforceId, EventError> {
    if source.starts_with("aws.partner/appflow") {
        return Err(EventError::AppFlowSource(source.to_owned()));
    }
    let bad = || EventError::BadSource(source.to_owned());
    let rest = source
        .strip_prefix("aws.partner/salesforce.com/")
        .ok_or_else(bad)?;
    let (org, channel) = rest.split_once('/').ok_or_else(bad)?;
    if channel.is_empty() || channel.contains('/') {
        return Err(bad());
    }
    SalesforceId::parse(org).map_err(|_| bad())
}

fn change_event(
    header: &Value,
    payload: &Map<String, Value>,
    org_id: SalesforceId,
    event_id: Option<String>,
    options: &EventOptions,
    received_at: DateTime<Utc>,
) -> Result<ParsedEvent, EventError> {
    let object = header
        .get("entityName")
        .and_then(Value::as_str)
        .ok_or(EventError::Missing("ChangeEventHeader.entityName"))?
        .to_owned();
    let change_type = header
        .get("changeType")
        .and_then(Value::as_str)
        .ok_or(EventError::Missing("ChangeEventHeader.changeType"))?;
    let commit_time = header
        .get("commitTimestamp")
        .and_then(epoch_millis)
        .and_then(|ms| Utc.timestamp_millis_opt(ms).single());

    if let Some(origin) = header.get("changeOrigin").and_then(Value::as_str)
        && is_echo(origin, &options.echo_clients)
    {
        let ids = record_ids(header);
        return Ok(ParsedEvent {
            items: Vec::new(),
            echoes_skipped: ids.len().max(1),
        });
    }

    if change_type == "GAP_OVERFLOW" {
        return Ok(ParsedEvent {
            items: vec![EventItem::Resync(ResyncRequest {
                org_id,
                object,
                reason: ResyncReason::GapOverflow,
                since: commit_time,
            })],
            echoes_skipped: 0,
        });
    }

    let fields: FieldSnapshot = payload
        .iter()
        .filter(|(k, _)| k.as_str() != "ChangeEventHeader")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let kind = match change_type {
        "CREATE" => ChangeKind::Upsert { fields },
        "UPDATE" => update_kind(header, fields),
        "DELETE" => ChangeKind::Delete,
        "UNDELETE" => ChangeKind::Undelete,
        "GAP_CREATE" | "GAP_UPDATE" | "GAP_DELETE" | "GAP_UNDELETE" => ChangeKind::Reread {
            reason: RereadReason::Gap,
            partial: FieldSnapshot::new(),
        },
        other => return Err(EventError::UnknownChangeType(other.to_owned())),
    };
    let source = ChangeSource::Cdc {
        transaction_key: header
            .get("transactionKey")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        sequence_number: header.get("sequenceNumber").and_then(Value::as_i64),
        commit_number: header.get("commitNumber").and_then(Value::as_i64),
        event_id,
    };

    let mut items = Vec::new();
    for raw in record_ids(header) {
        if let Some(prefix) = raw.strip_suffix('*') {
            items.push(EventItem::Resync(ResyncRequest {
                org_id: org_id.clone(),
                object: object.clone(),
                reason: ResyncReason::WildcardIds {
                    prefix: prefix.to_owned(),
                },
                since: commit_time,
            }));
            continue;
        }
        let record_id = SalesforceId::parse(raw).map_err(|source| EventError::BadRecordId {
            object: object.clone(),
            value: raw.to_owned(),
            source,
        })?;
        items.push(EventItem::Change(Change {
            org_id: org_id.clone(),
            object: object.clone(),
            record_id,
            kind: kind.clone(),
            modstamp: commit_time,
            source: source.clone(),
            received_at,
            prior_deliveries: 0,
        }));
    }
    if items.is_empty() {
        return Err(EventError::Missing("ChangeEventHeader.recordIds"));
    }
    Ok(ParsedEvent {
        items,
        echoes_skipped: 0,
    })
}

/// An UPDATE carries only what changed: fields explicitly nulled are added as nulls, diff-sent
/// values (large text) are dropped because they are patches, not values.
fn update_kind(header: &Value, mut fields: FieldSnapshot) -> ChangeKind {
    for nulled in string_list(header, "nulledFields") {
        fields.entry(nulled.to_owned()).or_insert(Value::Null);
    }
    let diff = string_list(header, "diffFields");
    let reason = if diff.is_empty() {
        RereadReason::PartialUpdate
    } else {
        for field in diff {
            fields.remove(field);
        }
        RereadReason::DiffFields
    };
    ChangeKind::Reread {
        reason,
        partial: fields,
    }
}

/// `recordIds`, or the singular `recordId` some relays write after fanning out.
fn record_ids(header: &Value) -> Vec<&str> {
    let many = string_list(header, "recordIds");
    if many.is_empty() {
        header
            .get("recordId")
            .and_then(Value::as_str)
            .into_iter()
            .collect()
    } else {
        many
    }
}

fn string_list<'a>(header: &'a Value, key: &str) -> Vec<&'a str> {
    header
        .get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Epoch milliseconds as a number, or as a string of digits.
fn epoch_millis(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// `com/salesforce/api/rest/60.0;client=sf2hs` names client `sf2hs`.
fn is_echo(origin: &str, echo_clients: &[String]) -> bool {
    origin
        .split(';')
        .filter_map(|part| part.trim().strip_prefix("client="))
        .any(|client| {
            echo_clients
                .iter()
                .any(|c| c == client.trim_end_matches('/'))
        })
}

fn platform_event(
    name: &str,
    payload: &Map<String, Value>,
    org_id: SalesforceId,
    event_id: Option<String>,
    options: &EventOptions,
    received_at: DateTime<Utc>,
) -> Result<ParsedEvent, EventError> {
    let route = options
        .platform_events
        .iter()
        .find(|r| r.event == name)
        .ok_or_else(|| EventError::NoRoute(name.to_owned()))?;
    let text = |field: &str| -> Result<String, EventError> {
        payload
            .get(field)
            .and_then(Value::as_str)
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| EventError::RouteFieldMissing {
                event: name.to_owned(),
                field: field.to_owned(),
            })
    };
    let object = match (&route.object, &route.object_field) {
        (Some(object), _) => object.clone(),
        (None, Some(field)) => text(field)?,
        (None, None) => return Err(EventError::NoRoute(name.to_owned())),
    };
    let raw_id = text(&route.record_id_field)?;
    let record_id = SalesforceId::parse(&raw_id).map_err(|source| EventError::BadRecordId {
        object: object.clone(),
        value: raw_id.clone(),
        source,
    })?;
    let change_type = route
        .change_type_field
        .as_deref()
        .and_then(|f| payload.get(f))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_uppercase();
    let kind = match change_type.as_str() {
        "DELETE" | "DELETED" => ChangeKind::Delete,
        "UNDELETE" | "UNDELETED" => ChangeKind::Undelete,
        _ => ChangeKind::Reread {
            reason: RereadReason::EventOnly,
            partial: FieldSnapshot::new(),
        },
    };
    let modstamp = payload.get("CreatedDate").and_then(|v| {
        epoch_millis(v)
            .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
            .or_else(|| {
                v.as_str()
                    .and_then(super::outbound::parse_salesforce_datetime)
            })
    });
    Ok(ParsedEvent {
        items: vec![EventItem::Change(Change {
            org_id,
            object,
            record_id,
            kind,
            modstamp,
            source: ChangeSource::PlatformEvent {
                event_name: name.to_owned(),
                event_id,
            },
            received_at,
            prior_deliveries: 0,
        })],
        echoes_skipped: 0,
    })
}
