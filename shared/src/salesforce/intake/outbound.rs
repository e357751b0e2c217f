//! Salesforce Outbound Messages (SOAP 1.1): parsing, and the answers Salesforce expects.
//!
//! The parser is namespace-aware and streaming (quick-xml's `NsReader` under `xml::Tokens`):
//! elements are matched by namespace URI and local name, never by prefix, because prefixes are not
//! contractual (salesforce.md §1.1). It refuses DOCTYPEs outright, so no external entity or entity
//! expansion can be smuggled in (XXE, billion laughs).

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::xml::{StartTag, Token, TokenError, Tokens};
use crate::domain::{
    Change, ChangeKind, ChangeSource, FieldSnapshot, RecordIdError, RereadReason, SalesforceId,
};

pub const SOAP_ENVELOPE_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const OUTBOUND_NS: &str = "http://soap.sforce.com/2005/09/outbound";
/// Salesforce sends at most 100 notifications per message (WSDL `maxOccurs="100"`).
pub const MAX_NOTIFICATIONS: usize = 100;
/// 100 notifications of a few dozen fields fit in well under 1 MiB; 4 MiB leaves room for long text.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Elements nested deeper than this inside a field are refused (a compound value has one level).
const MAX_FIELD_DEPTH: usize = 2;

/// One parsed outbound message.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundMessage {
    pub organization_id: SalesforceId,
    /// The outbound-message action (`04k…`) that fired.
    pub action_id: String,
    /// Whether a session id was sent. The id itself is dropped at parse time: sf2hs never uses it,
    /// so it can never be logged or stored.
    pub session_id_sent: bool,
    pub enterprise_url: Option<String>,
    pub partner_url: Option<String>,
    pub notifications: Vec<Notification>,
}

/// One `Notification`: a record snapshot with the fields chosen for the outbound message.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The notification id (`04l…`): redeliveries repeat it.
    pub id: String,
    /// Object API name from `xsi:type="sf:Invoice__c"`.
    pub object: String,
    pub record_id: SalesforceId,
    /// Field values as text; `xsi:nil="true"` becomes JSON null; a compound value with child
    /// elements becomes a JSON object. Fields Salesforce left out (it omits nulls) are absent.
    pub fields: FieldSnapshot,
}

/// Why a request is not an outbound message sf2hs can take. Each refusal is answered with a SOAP
/// fault and no ack, so Salesforce keeps the message and retries.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OutboundError {
    #[error("the body is {size} bytes, over the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("the body is not UTF-8 text: {0}")]
    NotUtf8(String),
    #[error("the body is not well-formed XML: {0}")]
    Malformed(String),
    #[error(
        "the body declares a DOCTYPE; outbound messages never do, and DTDs are refused (no external or expanding entities)"
    )]
    Doctype,
    #[error("the body is not a SOAP 1.1 envelope: found {found} where soapenv:Envelope belongs")]
    NotSoap { found: String },
    #[error("the SOAP body holds {found}, not `notifications` in namespace {OUTBOUND_NS}")]
    WrongNamespace { found: String },
    #[error("the message holds more than {MAX_NOTIFICATIONS} notifications")]
    TooManyNotifications,
    #[error("the message has no {element} element")]
    MissingElement { element: &'static str },
    #[error("OrganizationId is not a Salesforce id: {0}")]
    BadOrganizationId(RecordIdError),
    #[error("notification {position} has no Id (the notification id)")]
    MissingNotificationId { position: usize },
    #[error(
        "notification {position} ({notification_id}) has no sObject with an xsi:type naming its object"
    )]
    MissingObjectType {
        position: usize,
        notification_id: String,
    },
    #[error(
        "notification {position} ({notification_id}) has no record Id; add the `Id` field to the outbound message's fields"
    )]
    MissingRecordId {
        position: usize,
        notification_id: String,
    },
    #[error("notification {position} ({notification_id}) has a bad record Id: {source}")]
    BadRecordId {
        position: usize,
        notification_id: String,
        source: RecordIdError,
    },
    #[error("the message has no notifications")]
    Empty,
}

impl From<TokenError> for OutboundError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Doctype => OutboundError::Doctype,
            TokenError::Malformed(m) => OutboundError::Malformed(m),
        }
    }
}

/// Parses an outbound message body, refusing anything over `max_body_bytes`.
pub fn parse_outbound_message(
    body: &[u8],
    max_body_bytes: usize,
) -> Result<OutboundMessage, OutboundError> {
    if body.len() > max_body_bytes {
        return Err(OutboundError::TooLarge {
            size: body.len(),
            limit: max_body_bytes,
        });
    }
    let text = std::str::from_utf8(body).map_err(|e| OutboundError::NotUtf8(e.to_string()))?;
    let mut tokens = Tokens::new(text);

    let root = match next_element(&mut tokens)? {
        Some(tag) => tag,
        None => return Err(OutboundError::Malformed("the body is empty".into())),
    };
    if !root.is(SOAP_ENVELOPE_NS, "Envelope") {
        return Err(OutboundError::NotSoap {
            found: root.describe(),
        });
    }
    let mut message = None;
    while let Some(child) = next_child(&mut tokens)? {
        if child.is(SOAP_ENVELOPE_NS, "Body") {
            message = Some(parse_body(&mut tokens)?);
        } else if child.is(SOAP_ENVELOPE_NS, "Header") {
            skip_children(&mut tokens)?;
        } else {
            return Err(OutboundError::NotSoap {
                found: child.describe(),
            });
        }
    }
    match next_element(&mut tokens)? {
        None => {}
        Some(extra) => {
            return Err(OutboundError::Malformed(format!(
                "{} after the end of the envelope",
                extra.describe()
            )));
        }
    }
    message.ok_or(OutboundError::MissingElement {
        element: "soapenv:Body",
    })
}

fn parse_body(tokens: &mut Tokens<'_>) -> Result<OutboundMessage, OutboundError> {
    let Some(first) = next_child(tokens)? else {
        return Err(OutboundError::MissingElement {
            element: "notifications",
        });
    };
    if !first.is(OUTBOUND_NS, "notifications") {
        return Err(OutboundError::WrongNamespace {
            found: first.describe(),
        });
    }
    let mut organization_id = None;
    let mut action_id = None;
    let mut session_id_sent = false;
    let mut enterprise_url = None;
    let mut partner_url = None;
    let mut notifications = Vec::new();
    while let Some(child) = next_child(tokens)? {
        if child.ns.as_deref() != Some(OUTBOUND_NS) {
            // Extension elements from another namespace are not ours to judge.
            skip_children(tokens)?;
            continue;
        }
        match child.local.as_str() {
            "OrganizationId" => organization_id = read_text(tokens)?,
            "ActionId" => action_id = read_text(tokens)?,
            "SessionId" => {
                let value = read_text(tokens)?;
                session_id_sent = !child.nil && value.is_some_and(|v| !v.is_empty());
            }
            "EnterpriseUrl" => enterprise_url = read_text(tokens)?,
            "PartnerUrl" => partner_url = read_text(tokens)?,
            "Notification" => {
                if notifications.len() >= MAX_NOTIFICATIONS {
                    return Err(OutboundError::TooManyNotifications);
                }
                let position = notifications.len() + 1;
                notifications.push(parse_notification(tokens, position)?);
            }
            _ => skip_children(tokens)?,
        }
    }
    // Anything after `notifications` inside Body is skipped.
    skip_children(tokens)?;

    let organization_id = organization_id.ok_or(OutboundError::MissingElement {
        element: "OrganizationId",
    })?;
    let organization_id =
        SalesforceId::parse(organization_id.trim()).map_err(OutboundError::BadOrganizationId)?;
    let action_id =
        action_id
            .filter(|a| !a.trim().is_empty())
            .ok_or(OutboundError::MissingElement {
                element: "ActionId",
            })?;
    if notifications.is_empty() {
        return Err(OutboundError::Empty);
    }
    Ok(OutboundMessage {
        organization_id,
        action_id: action_id.trim().to_owned(),
        session_id_sent,
        enterprise_url,
        partner_url,
        notifications,
    })
}

fn parse_notification(
    tokens: &mut Tokens<'_>,
    position: usize,
) -> Result<Notification, OutboundError> {
    let mut id = None;
    let mut object = None;
    let mut fields = FieldSnapshot::new();
    let mut saw_sobject = false;
    while let Some(child) = next_child(tokens)? {
        if child.is(OUTBOUND_NS, "Id") {
            id = read_text(tokens)?;
        } else if child.is(OUTBOUND_NS, "sObject") {
            saw_sobject = true;
            // `sf:Invoice__c`: the object is the local part; the prefix is not contractual.
            object = child
                .xsi_type
                .as_deref()
                .map(|t| t.rsplit(':').next().unwrap_or(t).trim().to_owned())
                .filter(|t| !t.is_empty());
            while let Some(field) = next_child(tokens)? {
                let value = read_field_value(tokens, &field, 1)?;
                fields.insert(field.local, value);
            }
        } else {
            skip_children(tokens)?;
        }
    }
    let notification_id = id
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .ok_or(OutboundError::MissingNotificationId { position })?;
    let object = match object {
        Some(o) if saw_sobject => o,
        _ => {
            return Err(OutboundError::MissingObjectType {
                position,
                notification_id,
            });
        }
    };
    let record_id = match fields.get("Id") {
        Some(Value::String(s)) if !s.trim().is_empty() => {
            SalesforceId::parse(s.trim()).map_err(|source| OutboundError::BadRecordId {
                position,
                notification_id: notification_id.clone(),
                source,
            })?
        }
        _ => {
            return Err(OutboundError::MissingRecordId {
                position,
                notification_id,
            });
        }
    };
    Ok(Notification {
        id: notification_id,
        object,
        record_id,
        fields,
    })
}

/// A field's value: text, null for `xsi:nil`, or an object for a compound value.
fn read_field_value(
    tokens: &mut Tokens<'_>,
    tag: &StartTag,
    depth: usize,
) -> Result<Value, OutboundError> {
    let mut text = String::new();
    let mut parts = serde_json::Map::new();
    loop {
        match tokens.next_token()? {
            Token::Text(t) => text.push_str(&t),
            Token::Start(child) => {
                if depth >= MAX_FIELD_DEPTH {
                    return Err(OutboundError::Malformed(format!(
                        "field `{}` nests elements deeper than a compound value",
                        tag.local
                    )));
                }
                let value = read_field_value(tokens, &child, depth + 1)?;
                parts.insert(child.local, value);
            }
            Token::End => break,
            Token::Eof => return Err(OutboundError::Malformed("the document ends early".into())),
        }
    }
    if tag.nil {
        Ok(Value::Null)
    } else if !parts.is_empty() {
        Ok(Value::Object(parts))
    } else {
        Ok(Value::String(text))
    }
}

/// The next element at this level, skipping whitespace; `None` at the parent's end tag or at EOF.
fn next_child(tokens: &mut Tokens<'_>) -> Result<Option<StartTag>, OutboundError> {
    loop {
        match tokens.next_token()? {
            Token::Start(tag) => return Ok(Some(tag)),
            Token::End | Token::Eof => return Ok(None),
            Token::Text(t) if t.trim().is_empty() => continue,
            Token::Text(t) => {
                return Err(OutboundError::Malformed(format!(
                    "unexpected text `{}` between elements",
                    truncate(&t)
                )));
            }
        }
    }
}

/// The next element at the top level; `None` at EOF.
fn next_element(tokens: &mut Tokens<'_>) -> Result<Option<StartTag>, OutboundError> {
    loop {
        match tokens.next_token()? {
            Token::Start(tag) => return Ok(Some(tag)),
            Token::Eof => return Ok(None),
            Token::End => return Err(OutboundError::Malformed("unbalanced end tag".into())),
            Token::Text(t) if t.trim().is_empty() => continue,
            Token::Text(t) => {
                return Err(OutboundError::NotSoap {
                    found: format!("text `{}`", truncate(&t)),
                });
            }
        }
    }
}

/// Text content of a simple element (child elements are skipped); `None` when empty.
fn read_text(tokens: &mut Tokens<'_>) -> Result<Option<String>, OutboundError> {
    let mut text = String::new();
    loop {
        match tokens.next_token()? {
            Token::Text(t) => text.push_str(&t),
            Token::Start(_) => skip_children(tokens)?,
            Token::End => break,
            Token::Eof => return Err(OutboundError::Malformed("the document ends early".into())),
        }
    }
    Ok(if text.is_empty() { None } else { Some(text) })
}

/// Skips to the end tag of the element just opened.
fn skip_children(tokens: &mut Tokens<'_>) -> Result<(), OutboundError> {
    let mut depth = 0usize;
    loop {
        match tokens.next_token()? {
            Token::Start(_) => depth += 1,
            Token::End if depth == 0 => return Ok(()),
            Token::End => depth -= 1,
            Token::Text(_) => {}
            Token::Eof => return Ok(()),
        }
    }
}

fn truncate(text: &str) -> String {
    let t = text.trim();
    match t.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t.to_owned(),
    }
}

impl OutboundMessage {
    /// One change per notification. The modstamp is `SystemModstamp` when the message carries it,
    /// else `LastModifiedDate`; with neither, the age of the snapshot is unknown and the worker
    /// must read the record before writing.
    pub fn into_changes(self, received_at: DateTime<Utc>) -> Vec<Change> {
        let org_id = self.organization_id;
        let action_id = self.action_id;
        self.notifications
            .into_iter()
            .map(|n| {
                let modstamp = ["SystemModstamp", "LastModifiedDate"]
                    .iter()
                    .find_map(|f| n.fields.get(*f).and_then(Value::as_str))
                    .and_then(parse_salesforce_datetime);
                let kind = if modstamp.is_some() {
                    ChangeKind::Upsert { fields: n.fields }
                } else {
                    ChangeKind::Reread {
                        reason: RereadReason::UnknownAge,
                        partial: n.fields,
                    }
                };
                Change {
                    org_id: org_id.clone(),
                    object: n.object,
                    record_id: n.record_id,
                    kind,
                    modstamp,
                    source: ChangeSource::OutboundMessage {
                        notification_id: n.id,
                        action_id: action_id.clone(),
                    },
                    received_at,
                    prior_deliveries: 0,
                }
            })
            .collect()
    }
}

/// Salesforce datetimes: `2017-11-03T17:24:20.000Z` (SOAP) or `…+0000` (REST).
pub fn parse_salesforce_datetime(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|d| d.with_timezone(&Utc))
}
