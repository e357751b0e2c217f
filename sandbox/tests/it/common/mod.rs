//! Shared helpers for the sandbox's HTTP tests: start a sandbox, talk to it with reqwest,
//! load fixtures, and define a custom object shaped like a synced Salesforce object.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sf2hs_sandbox::hubspot::{
    DEFAULT_TOKEN, HubSpotSandbox, RunningSandbox, SandboxConfig, SandboxHandle,
};

pub const LEGACY_OBJECTS: &str = "/crm/v3/objects";
pub const DATED_OBJECTS: &str = "/crm/objects/2026-03";

pub fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hubspot")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("fixture readable");
    serde_json::from_str(&text).expect("fixture is JSON")
}

pub fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

pub struct Api {
    pub sandbox: RunningSandbox,
    pub http: reqwest::Client,
    pub token: String,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

impl Api {
    pub async fn start() -> Self {
        Self::start_with(SandboxConfig::default()).await
    }

    pub async fn start_with(config: SandboxConfig) -> Self {
        let sandbox = HubSpotSandbox::start(config).await.expect("sandbox starts");
        Self {
            sandbox,
            http: reqwest::Client::new(),
            token: DEFAULT_TOKEN.to_string(),
        }
    }

    pub fn handle(&self) -> SandboxHandle {
        self.sandbox.handle()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.sandbox.base_url(), path)
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body read");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(self.http.get(self.url(path)).bearer_auth(&self.token))
            .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.send(
            self.http
                .post(self.url(path))
                .bearer_auth(&self.token)
                .json(body),
        )
        .await
    }

    pub async fn post_raw(&self, path: &str, body: &str) -> Answer {
        self.send(
            self.http
                .post(self.url(path))
                .bearer_auth(&self.token)
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await
    }

    /// Creates `sf_account`, a custom object with one property of every type, unique
    /// `salesforce_id`, associated with companies; returns its objectTypeId.
    pub async fn create_account_object(&self) -> String {
        let answer = self
            .post(
                "/crm-object-schemas/2026-03/schemas",
                &json!({
                    "name": "sf_account",
                    "labels": { "singular": "SF Account", "plural": "SF Accounts" },
                    "primaryDisplayProperty": "account_name",
                    "requiredProperties": ["salesforce_id"],
                    "associatedObjects": ["COMPANY"],
                    "properties": [
                        { "name": "salesforce_id", "label": "Salesforce ID", "type": "string",
                          "fieldType": "text", "hasUniqueValue": true },
                        { "name": "account_name", "label": "Name", "type": "string", "fieldType": "text" },
                        { "name": "revenue", "label": "Revenue", "type": "number", "fieldType": "number" },
                        { "name": "since", "label": "Since", "type": "date", "fieldType": "date" },
                        { "name": "last_seen", "label": "Last seen", "type": "datetime", "fieldType": "date" },
                        { "name": "active", "label": "Active", "type": "bool", "fieldType": "booleancheckbox" },
                        { "name": "tier", "label": "Tier", "type": "enumeration", "fieldType": "select",
                          "options": [ { "label": "Gold", "value": "gold" }, { "label": "Silver", "value": "silver" } ] },
                        { "name": "regions", "label": "Regions", "type": "enumeration", "fieldType": "checkbox",
                          "options": [ { "label": "EMEA", "value": "emea" }, { "label": "AMER", "value": "amer" },
                                       { "label": "APAC", "value": "apac" } ] }
                    ]
                }),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.body["objectTypeId"]
            .as_str()
            .expect("objectTypeId")
            .to_string()
    }
}

/// One upsert input by `salesforce_id`.
pub fn account_input(sf_id: &str, name: &str, trace: Option<&str>) -> Value {
    let mut input = json!({
        "id": sf_id,
        "idProperty": "salesforce_id",
        "properties": { "account_name": name, "revenue": "1200.50" },
    });
    if let Some(t) = trace {
        input["objectWriteTraceId"] = json!(t);
    }
    input
}
