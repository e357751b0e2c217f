//! Ingest: what the ingest function (and the local server) does with one delivery from
//! Salesforce. Authenticate, parse, put every change on the queue, and only then acknowledge.
//!
//! HTTP-free: it returns the status, content type and body to answer with, so the Lambda
//! (Function URL / HTTP API) and the local axum server share it.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::domain::SalesforceId;
use crate::ports::{ChangeQueue, SecretsProvider};
use crate::salesforce::intake::auth;
use crate::salesforce::intake::cdc::{self, EventError, EventItem, EventOptions, ResyncRequest};
use crate::salesforce::intake::outbound::{self, OutboundError};
use crate::salesforce::intake::soap;

/// How ingest authenticates and limits what it takes.
#[derive(Clone)]
pub struct IngestSettings {
    /// The organisation whose messages are taken.
    pub org_id: SalesforceId,
    /// The secret in the outbound-message endpoint's path (and the events endpoint's credential).
    pub endpoint_token: EndpointToken,
    pub max_body_bytes: usize,
    pub events: EventOptions,
}

impl std::fmt::Debug for IngestSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestSettings")
            .field("org_id", &self.org_id)
            .field("endpoint_token", &"<redacted>")
            .field("max_body_bytes", &self.max_body_bytes)
            .field("events", &self.events)
            .finish()
    }
}

/// Tokens shorter than this are refused as configuration: a guessable endpoint token is none.
pub const MIN_ENDPOINT_TOKEN_CHARS: usize = 16;

/// The endpoint token, read from its secret each time a request is checked (the secrets adapter
/// keeps it for minutes) and read fresh once before a request is refused, so a token rotated in
/// the secret is taken by a warm process at once and the old one stops working within the cache
/// time (platform-behaviours.md A3).
#[derive(Clone)]
pub struct EndpointToken {
    source: TokenSource,
}

#[derive(Clone)]
enum TokenSource {
    Fixed(String),
    Secret {
        secrets: Arc<dyn SecretsProvider>,
        name: String,
    },
}

/// Why a request's credential was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialRefused {
    #[error(transparent)]
    Refused(#[from] auth::SenderRefused),
    /// The expected token could not be read: nobody is let in, and the sender retries.
    #[error("sf2hs cannot read its endpoint token now ({0}); the request is refused until it can")]
    Unavailable(String),
}

impl EndpointToken {
    /// A token given as it is (tests, the demo).
    pub fn fixed(token: impl Into<String>) -> Self {
        EndpointToken {
            source: TokenSource::Fixed(token.into()),
        }
    }

    /// The token kept in secret `name`.
    pub fn from_secret(secrets: Arc<dyn SecretsProvider>, name: impl Into<String>) -> Self {
        EndpointToken {
            source: TokenSource::Secret {
                secrets,
                name: name.into(),
            },
        }
    }

    /// The token now; `fresh` reads past the secrets cache.
    pub async fn current(&self, fresh: bool) -> Result<String, CredentialRefused> {
        let (secrets, name) = match &self.source {
            TokenSource::Fixed(token) => return Ok(token.clone()),
            TokenSource::Secret { secrets, name } => (secrets, name),
        };
        let read = if fresh {
            secrets.fresh(name).await
        } else {
            secrets.secret(name).await
        };
        let token = read
            .map_err(|e| CredentialRefused::Unavailable(e.to_string()))?
            .trim()
            .to_owned();
        if token.chars().count() < MIN_ENDPOINT_TOKEN_CHARS {
            return Err(CredentialRefused::Unavailable(format!(
                "secret {name} holds fewer than {MIN_ENDPOINT_TOKEN_CHARS} characters; store a \
                 long random value (e.g. `openssl rand -hex 32`)"
            )));
        }
        Ok(token)
    }

    /// Checks a request's credential with `check` (constant time) against the token, and once
    /// more against the token read fresh before refusing it.
    pub async fn check(
        &self,
        check: impl Fn(&str) -> Result<(), auth::SenderRefused>,
    ) -> Result<(), CredentialRefused> {
        let token = self.current(false).await?;
        if check(&token).is_ok() {
            return Ok(());
        }
        let fresh = self.current(true).await?;
        if fresh != token {
            tracing::info!("the endpoint token was rotated; the new one is in use");
        }
        check(&fresh).map_err(CredentialRefused::from)
    }
}

/// The HTTP answer to an outbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl HttpAnswer {
    /// A SOAP fault: no ack, so Salesforce keeps the message and delivers it again.
    pub fn fault(status: u16, code: soap::FaultCode, message: &str) -> Self {
        HttpAnswer {
            status,
            content_type: soap::CONTENT_TYPE,
            body: soap::fault(code, message),
        }
    }

    /// Whether Salesforce will consider the message delivered.
    pub fn is_ack(&self) -> bool {
        self.status == 200 && self.body == soap::ACK
    }
}

/// Handles one outbound message. Every refusal is a SOAP fault without an ack, so Salesforce
/// keeps the message and retries it; the ack is sent only once the queue holds every change.
pub async fn outbound_message(
    settings: &IngestSettings,
    queue: &dyn ChangeQueue,
    path_token: Option<&str>,
    body: &[u8],
    received_at: DateTime<Utc>,
) -> HttpAnswer {
    match settings
        .endpoint_token
        .check(|expected| auth::check_token(path_token, expected))
        .await
    {
        Ok(()) => {}
        Err(CredentialRefused::Refused(refused)) => {
            tracing::warn!(reason = %refused, "outbound message refused");
            crate::metrics::refused(crate::metrics::EntryPoint::Outbound, "token");
            return HttpAnswer::fault(403, soap::FaultCode::Client, &refused.to_string());
        }
        Err(unavailable) => {
            tracing::error!(reason = %unavailable, "outbound message refused: no endpoint token");
            return HttpAnswer::fault(503, soap::FaultCode::Server, &unavailable.to_string());
        }
    }
    let message = match outbound::parse_outbound_message(body, settings.max_body_bytes) {
        Ok(message) => message,
        Err(e) => {
            tracing::warn!(reason = %e, bytes = body.len(), "outbound message refused");
            let (status, reason) = if matches!(e, OutboundError::TooLarge { .. }) {
                (413, "too_large")
            } else {
                (400, "malformed")
            };
            crate::metrics::refused(crate::metrics::EntryPoint::Outbound, reason);
            return HttpAnswer::fault(status, soap::FaultCode::Client, &e.to_string());
        }
    };
    if let Err(refused) = auth::check_organization(&message.organization_id, &settings.org_id) {
        tracing::warn!(reason = %refused, "outbound message refused");
        crate::metrics::refused(crate::metrics::EntryPoint::Outbound, "organization");
        return HttpAnswer::fault(403, soap::FaultCode::Client, &refused.to_string());
    }
    let changes = message.into_changes(received_at);
    match queue.send_batch(&changes).await {
        Ok(()) => {
            tracing::info!(changes = changes.len(), "outbound message queued");
            HttpAnswer {
                status: 200,
                content_type: soap::CONTENT_TYPE,
                body: soap::ACK.to_owned(),
            }
        }
        Err(e) => {
            tracing::error!(error = %e, changes = changes.len(), "cannot queue an outbound message; Salesforce will retry it");
            HttpAnswer::fault(
                503,
                soap::FaultCode::Server,
                "sf2hs could not store the changes; Salesforce will deliver this message again",
            )
        }
    }
}

/// What one CDC / platform event became.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventIngested {
    pub changes: usize,
    pub echoes_skipped: usize,
    /// Objects that need a windowed re-sync (`GAP_OVERFLOW`, wildcard ids).
    pub resyncs: Vec<ResyncRequest>,
}

impl EventIngested {
    /// The answer to the event's sender (the ingest Lambda's result, the local `/events` body).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "changes": self.changes,
            "echoesSkipped": self.echoes_skipped,
            "resyncs": self.resyncs.iter().map(|r| r.object.clone()).collect::<Vec<_>>(),
        })
    }
}

/// Where ingest hands the re-syncs Salesforce asks for (a CDC gap overflow, wildcard ids):
/// a log line would lose the changes they stand for (platform-behaviours.md S4).
#[async_trait::async_trait]
pub trait ResyncRequests: Send + Sync {
    /// Makes the re-sync durable (and sends it on its way); an error fails the event, which is
    /// then delivered again.
    async fn request(
        &self,
        request: &ResyncRequest,
        received_at: DateTime<Utc>,
    ) -> crate::ports::PortResult<crate::ports::ImportJob>;
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The event is wrong; retrying it cannot help.
    #[error("the event was refused: {0}")]
    Refused(#[from] EventError),
    /// The queue did not take the changes: fail the invocation so EventBridge retries.
    #[error("cannot queue the event's changes: {0}; the event will be delivered again")]
    Queue(crate::ports::PortError),
    /// The re-sync the event asks for could not be stored: fail it so it is delivered again.
    #[error(
        "cannot store the re-sync of {object} the event asks for: {error}; the event will be delivered again"
    )]
    Resync {
        object: String,
        error: crate::ports::PortError,
    },
}

/// Handles one EventBridge event (CDC or platform event): every change is queued, or the call
/// fails as a whole so the event is redelivered.
///
/// A re-sync the event asks for goes to `resyncs` before the answer; without it (a deployment
/// that does not hand re-syncs on yet) it is only logged.
pub async fn change_event(
    settings: &IngestSettings,
    queue: &dyn ChangeQueue,
    resyncs_to: Option<&dyn ResyncRequests>,
    event: &serde_json::Value,
    received_at: DateTime<Utc>,
) -> Result<EventIngested, IngestError> {
    let mut options = settings.events.clone();
    options.org_id = Some(settings.org_id.clone());
    let parsed = cdc::parse_event_value(event, &options, received_at).inspect_err(|e| {
        tracing::warn!(reason = %e, "event refused");
        crate::metrics::refused(crate::metrics::EntryPoint::Events, e.metric_reason());
    })?;
    let mut changes = Vec::new();
    let mut resyncs = Vec::new();
    for item in parsed.items {
        match item {
            EventItem::Change(change) => changes.push(change),
            EventItem::Resync(request) => resyncs.push(request),
        }
    }
    if !changes.is_empty() {
        queue
            .send_batch(&changes)
            .await
            .map_err(IngestError::Queue)?;
    }
    for request in &resyncs {
        match resyncs_to {
            Some(to) => {
                let job = to.request(request, received_at).await.map_err(|error| {
                    IngestError::Resync {
                        object: request.object.clone(),
                        error,
                    }
                })?;
                tracing::warn!(object = %request.object, reason = ?request.reason, job = %job.id, "Salesforce asks for a re-sync of the object: import job started");
            }
            None => {
                tracing::warn!(object = %request.object, reason = ?request.reason, "Salesforce asks for a re-sync of the object: run an import for it");
            }
        }
    }
    Ok(EventIngested {
        changes: changes.len(),
        echoes_skipped: parsed.echoes_skipped,
        resyncs,
    })
}
