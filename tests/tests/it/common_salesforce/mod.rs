//! Shared helpers for the Salesforce client tests: a sandbox org with `Invoice__c`, and client
//! configurations for both OAuth grants with fast retries and polls.
#![allow(dead_code)]

use std::time::Duration;

use serde_json::json;
use sf2hs_sandbox::salesforce::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_JWT_CONSUMER_KEY, FieldDefinition,
    ObjectDefinition, RunningSalesforceSandbox, SalesforceConfig, SalesforceHandle,
    SalesforceSandbox, TEST_JWT_PRIVATE_KEY_PEM, TEST_JWT_USERNAME,
};
use sf2hs_shared::salesforce::client::{
    ApiVersion, BulkPollPolicy, RetryPolicy, SalesforceAuth, SalesforceClient,
    SalesforceClientConfig, Secret,
};

pub fn invoice_object() -> ObjectDefinition {
    ObjectDefinition::new(
        "Invoice__c",
        "a01",
        vec![
            FieldDefinition::new("Name", "string"),
            FieldDefinition::new("Amount__c", "currency"),
            FieldDefinition::picklist("Status__c", &["Draft", "Sent", "Paid"]),
            FieldDefinition::reference("Account__c", &["Account"]),
            FieldDefinition::new("Notes__c", "textarea"),
        ],
    )
}

pub async fn start_org(config: SalesforceConfig) -> RunningSalesforceSandbox {
    let sandbox = SalesforceSandbox::start(config)
        .await
        .expect("sandbox starts");
    sandbox
        .handle()
        .define_object(invoice_object())
        .expect("Invoice__c defined");
    sandbox
}

/// An org whose bulk jobs complete on the first poll.
pub async fn quick_org() -> RunningSalesforceSandbox {
    start_org(SalesforceConfig {
        bulk_polls_in_progress: 1,
        ..SalesforceConfig::default()
    })
    .await
}

pub fn seed_invoices(handle: &SalesforceHandle, n: usize) -> Vec<String> {
    let records = (0..n)
        .map(|i| json!({ "Name": format!("Invoice {i}"), "Amount__c": i as f64 }))
        .collect();
    handle.create_many("Invoice__c", records).expect("seeded")
}

fn fast(mut config: SalesforceClientConfig) -> SalesforceClientConfig {
    config.retry = RetryPolicy {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(2),
        max_backoff: Duration::from_millis(20),
    };
    config.bulk_poll = BulkPollPolicy {
        initial_interval: Duration::from_millis(2),
        max_interval: Duration::from_millis(20),
        timeout: Duration::from_secs(10),
    };
    config
}

pub fn version() -> ApiVersion {
    ApiVersion::parse("60.0").expect("version")
}

pub fn client_credentials_config(base_url: &str) -> SalesforceClientConfig {
    fast(SalesforceClientConfig::new(
        base_url,
        version(),
        SalesforceAuth::ClientCredentials {
            client_id: DEFAULT_CLIENT_ID.into(),
            client_secret: Secret::new(DEFAULT_CLIENT_SECRET),
        },
    ))
}

pub fn jwt_config(base_url: &str, private_key_pem: &str) -> SalesforceClientConfig {
    fast(SalesforceClientConfig::new(
        base_url,
        version(),
        SalesforceAuth::JwtBearer {
            consumer_key: DEFAULT_JWT_CONSUMER_KEY.into(),
            username: TEST_JWT_USERNAME.into(),
            private_key_pem: Secret::new(private_key_pem),
            audience: "https://login.salesforce.com".into(),
        },
    ))
}

pub fn client(sandbox: &RunningSalesforceSandbox) -> SalesforceClient {
    SalesforceClient::new(client_credentials_config(&sandbox.base_url())).expect("client")
}

pub fn jwt_client(sandbox: &RunningSalesforceSandbox) -> SalesforceClient {
    SalesforceClient::new(jwt_config(&sandbox.base_url(), TEST_JWT_PRIVATE_KEY_PEM))
        .expect("client")
}
