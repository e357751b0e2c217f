//! Shared helpers for the Salesforce sandbox's HTTP tests: start an org, get a token through
//! the real token endpoint, send REST calls, define a custom object, load fixtures.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sf2hs_sandbox::salesforce::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, FieldDefinition, ObjectDefinition,
    RunningSalesforceSandbox, SalesforceConfig, SalesforceHandle, SalesforceSandbox,
};

pub const VERSION: &str = "v60.0";

pub fn fixture_text(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/salesforce")
        .join(name);
    std::fs::read_to_string(&path).expect("fixture readable")
}

pub fn fixture(name: &str) -> Value {
    serde_json::from_str(&fixture_text(name)).expect("fixture is JSON")
}

pub fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// `Invoice__c`: one field of each kind sf2hs maps.
pub fn invoice_object() -> ObjectDefinition {
    ObjectDefinition::new(
        "Invoice__c",
        "a01",
        vec![
            FieldDefinition::new("Name", "string"),
            FieldDefinition::new("Amount__c", "currency"),
            FieldDefinition::picklist("Status__c", &["Draft", "Sent", "Paid"]),
            FieldDefinition::reference("Account__c", &["Account"]),
            FieldDefinition::new("Due__c", "date"),
            FieldDefinition::new("Paid__c", "boolean"),
            FieldDefinition::new("Notes__c", "textarea"),
        ],
    )
}

pub fn account_object() -> ObjectDefinition {
    ObjectDefinition::new(
        "Account",
        "001",
        vec![
            FieldDefinition::new("Name", "string").not_nillable(),
            FieldDefinition::picklist("Industry", &["Banking", "Retail"]),
            FieldDefinition::new("AnnualRevenue", "currency"),
        ],
    )
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    /// `errorCode` of the first entry of a Salesforce error array.
    pub fn error_code(&self) -> String {
        assert!(
            self.body.is_array(),
            "error bodies are arrays: {}",
            self.text
        );
        self.body[0]["errorCode"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

pub struct Org {
    pub sandbox: RunningSalesforceSandbox,
    pub http: reqwest::Client,
    pub token: String,
}

impl Org {
    pub async fn start() -> Self {
        Self::start_with(SalesforceConfig::default()).await
    }

    /// Starts an org with `Invoice__c` and `Account` defined and a token from client credentials.
    pub async fn start_with(config: SalesforceConfig) -> Self {
        let sandbox = SalesforceSandbox::start(config)
            .await
            .expect("sandbox starts");
        let handle = sandbox.handle();
        handle
            .define_object(invoice_object())
            .expect("invoice defined");
        handle
            .define_object(account_object())
            .expect("account defined");
        let http = reqwest::Client::new();
        let mut org = Self {
            sandbox,
            http,
            token: String::new(),
        };
        let answer = org
            .send(org.http.post(org.url("/services/oauth2/token")).form(&[
                ("grant_type", "client_credentials"),
                ("client_id", DEFAULT_CLIENT_ID),
                ("client_secret", DEFAULT_CLIENT_SECRET),
            ]))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        org.token = answer.body["access_token"]
            .as_str()
            .expect("token")
            .to_string();
        org
    }

    pub fn handle(&self) -> SalesforceHandle {
        self.sandbox.handle()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.sandbox.base_url(), path)
    }

    pub fn data(&self, path: &str) -> String {
        self.url(&format!("/services/data/{VERSION}{path}"))
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body read");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            text,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(self.http.get(self.data(path)).bearer_auth(&self.token))
            .await
    }

    pub async fn get_url(&self, url: &str) -> Answer {
        self.send(self.http.get(url).bearer_auth(&self.token)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.send(
            self.http
                .post(self.data(path))
                .bearer_auth(&self.token)
                .json(body),
        )
        .await
    }

    pub async fn query(&self, soql: &str) -> Answer {
        self.send(
            self.http
                .get(self.data("/query"))
                .query(&[("q", soql)])
                .bearer_auth(&self.token),
        )
        .await
    }

    pub async fn query_all(&self, soql: &str) -> Answer {
        self.send(
            self.http
                .get(self.data("/queryAll"))
                .query(&[("q", soql)])
                .bearer_auth(&self.token),
        )
        .await
    }

    /// Creates `n` invoices named `Invoice 0…`; returns their ids.
    pub fn seed_invoices(&self, n: usize) -> Vec<String> {
        let records = (0..n)
            .map(|i| json!({ "Name": format!("Invoice {i}"), "Amount__c": i as f64, "Status__c": "Draft" }))
            .collect();
        self.handle()
            .create_many("Invoice__c", records)
            .expect("invoices created")
    }
}
