//! Shared helpers for the HubSpot client's HTTP tests: a sandbox with a synced-account custom
//! object, clients for both path styles, and a small proxy that bends answers the sandbox never
//! gives on its own (whole-batch 400s, silent no-ops) and notes the bearer tokens it sees.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sf2hs_sandbox::hubspot::{
    DEFAULT_TOKEN, HubSpotSandbox, RunningSandbox, SandboxConfig, SandboxHandle,
};
use sf2hs_shared::hubspot::{
    ApiVersion, HubSpotClient, HubSpotConfig, RetrySettings, TokenSource, UpsertInput,
};
use sf2hs_shared::mapping::HubSpotObjectRef;

pub const ID_PROPERTY: &str = "salesforce_id";

pub struct Hub {
    pub sandbox: RunningSandbox,
}

impl Hub {
    pub async fn start() -> Self {
        Self::start_with(SandboxConfig::default()).await
    }

    pub async fn start_with(config: SandboxConfig) -> Self {
        let sandbox = HubSpotSandbox::start(config).await.expect("sandbox starts");
        Self { sandbox }
    }

    pub fn handle(&self) -> SandboxHandle {
        self.sandbox.handle()
    }

    pub fn base_url(&self) -> String {
        self.sandbox.base_url()
    }

    /// `sf_account`: unique `salesforce_id`, a few typed properties, associated with companies.
    /// Returns its objectTypeId.
    pub fn create_account_object(&self) -> String {
        let created = self
            .handle()
            .create_schema(json!({
                "name": "sf_account",
                "labels": { "singular": "SF Account", "plural": "SF Accounts" },
                "primaryDisplayProperty": "account_name",
                "requiredProperties": [ID_PROPERTY],
                "associatedObjects": ["COMPANY"],
                "properties": [
                    { "name": ID_PROPERTY, "label": "Salesforce ID", "type": "string",
                      "fieldType": "text", "hasUniqueValue": true },
                    { "name": "account_name", "label": "Name", "type": "string", "fieldType": "text" },
                    { "name": "revenue", "label": "Revenue", "type": "number", "fieldType": "number" },
                    { "name": "tier", "label": "Tier", "type": "enumeration", "fieldType": "select",
                      "options": [ { "label": "Gold", "value": "gold" }, { "label": "Silver", "value": "silver" } ] }
                ]
            }))
            .expect("schema created");
        created["objectTypeId"]
            .as_str()
            .expect("objectTypeId")
            .to_owned()
    }
}

/// A client with test-sized waits, so retries do not slow the suite.
pub fn config(base_url: &str, version: ApiVersion) -> HubSpotConfig {
    HubSpotConfig {
        api_version: version,
        request_timeout: Duration::from_secs(5),
        retry: RetrySettings {
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(200),
            secondly_wait: Duration::from_millis(100),
            ..RetrySettings::default()
        },
        ..HubSpotConfig::with_base_url(base_url)
    }
}

pub fn client(base_url: &str, version: ApiVersion) -> HubSpotClient {
    HubSpotClient::new(
        config(base_url, version),
        TokenSource::static_token(DEFAULT_TOKEN),
    )
    .expect("client builds")
}

pub fn object(type_id: &str) -> HubSpotObjectRef {
    HubSpotObjectRef::ObjectTypeId(type_id.to_owned())
}

pub fn account(id: &str, name: &str, revenue: &str) -> UpsertInput {
    UpsertInput::new(
        id,
        BTreeMap::from([
            ("account_name".to_owned(), name.to_owned()),
            ("revenue".to_owned(), revenue.to_owned()),
        ]),
    )
}

/// How the proxy bends traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bend {
    /// Forward as is.
    None,
    /// Remove `objectWriteTraceId`s, so a bad input fails its whole batch with a 400.
    StripTraceIds,
    /// Answer successful upserts with `{"status":"COMPLETE","results":[]}`.
    SilentNoOp,
}

#[derive(Clone)]
struct ProxyState {
    target: String,
    http: reqwest::Client,
    bend: Arc<Mutex<Bend>>,
    tokens: Arc<Mutex<Vec<String>>>,
}

pub struct Proxy {
    pub base_url: String,
    bend: Arc<Mutex<Bend>>,
    tokens: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    pub async fn start(target: &str) -> Self {
        let bend = Arc::new(Mutex::new(Bend::None));
        let tokens = Arc::new(Mutex::new(Vec::new()));
        let state = ProxyState {
            target: target.to_owned(),
            http: reqwest::Client::new(),
            bend: bend.clone(),
            tokens: tokens.clone(),
        };
        let app = axum::Router::new().fallback(forward).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("proxy binds");
        let addr = listener.local_addr().expect("proxy address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base_url: format!("http://{addr}"),
            bend,
            tokens,
        }
    }

    pub fn bend(&self, bend: Bend) {
        *self.bend.lock().expect("bend lock") = bend;
    }

    /// Distinct bearer tokens seen, in order.
    pub fn tokens(&self) -> Vec<String> {
        self.tokens.lock().expect("tokens lock").clone()
    }
}

async fn forward(
    State(state): State<ProxyState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let bend = *state.bend.lock().expect("bend lock");
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let mut request = state
        .http
        .request(method, format!("{}{path}", state.target));
    for name in ["authorization", "content-type"] {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value);
        }
    }
    if let Some(token) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        let mut tokens = state.tokens.lock().expect("tokens lock");
        if tokens.last().map(String::as_str) != Some(token) {
            tokens.push(token.to_owned());
        }
    }
    let mut body = body.to_vec();
    if bend == Bend::StripTraceIds
        && let Ok(mut json) = serde_json::from_slice::<Value>(&body)
    {
        for input in json["inputs"].as_array_mut().into_iter().flatten() {
            if let Some(map) = input.as_object_mut() {
                map.remove("objectWriteTraceId");
            }
        }
        body = serde_json::to_vec(&json).expect("JSON");
    }
    let answer = request.body(body).send().await.expect("sandbox answers");
    let status = StatusCode::from_u16(answer.status().as_u16()).expect("status");
    let mut out_headers = HeaderMap::new();
    for (name, value) in answer.headers() {
        if name.as_str().starts_with("x-hubspot") || name.as_str() == "content-type" {
            out_headers.insert(name.clone(), value.clone());
        }
    }
    let mut text = answer.text().await.expect("body");
    if bend == Bend::SilentNoOp && path.contains("batch/upsert") && status.is_success() {
        text = json!({ "status": "COMPLETE", "results": [], "startedAt": "2026-01-01T00:00:00Z",
                       "completedAt": "2026-01-01T00:00:00Z" })
        .to_string();
    }
    (status, out_headers, text).into_response()
}
