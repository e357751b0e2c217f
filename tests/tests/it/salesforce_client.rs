//! The Salesforce client against the Salesforce sandbox over real HTTP: both OAuth grants,
//! re-minting after expiry, describe into mapping schemas, COUNT, REST and Bulk 2.0 paging through
//! 10,000 records, chunked retrieve, `/deleted`, the quota guard and typed errors.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::common_salesforce::{
    client, client_credentials_config, jwt_client, jwt_config, quick_org, seed_invoices, start_org,
};
use chrono::TimeDelta;
use serde_json::{Value, json};
use sf2hs_sandbox::salesforce::{
    ApiUsage as SandboxUsage, FaultPlan, OTHER_RSA_PRIVATE_KEY_PEM, SalesforceConfig,
};
use sf2hs_shared::domain::SalesforceId;
use sf2hs_shared::mapping::schema::SalesforceFieldType;
use sf2hs_shared::salesforce::client::{
    ApiUsage, ApiVersion, BulkOperation, SalesforceAuth, SalesforceClient, SalesforceError, Secret,
    window_soql,
};

fn ids_of(records: &[sf2hs_shared::salesforce::client::QueriedRecord]) -> Vec<String> {
    records
        .iter()
        .filter_map(|r| r.id.as_ref().map(|id| id.as_str().to_string()))
        .collect()
}

#[tokio::test]
async fn salesforce_client_credentials_and_jwt_both_reach_the_api() {
    let sandbox = quick_org().await;
    seed_invoices(&sandbox.handle(), 3);
    let cc = client(&sandbox);
    assert_eq!(cc.count("Invoice__c", None).await.expect("count"), 3);
    let jwt = jwt_client(&sandbox);
    assert_eq!(jwt.count("Invoice__c", None).await.expect("count"), 3);
    let token = jwt.connect().await.expect("token");
    assert_eq!(token.instance_url, sandbox.base_url());

    let wrong_key =
        SalesforceClient::new(jwt_config(&sandbox.base_url(), OTHER_RSA_PRIVATE_KEY_PEM))
            .expect("client");
    match wrong_key.count("Invoice__c", None).await {
        Err(SalesforceError::Auth { error, hint, .. }) => {
            assert_eq!(error, "invalid_grant");
            assert!(hint.contains("certificate"));
        }
        other => panic!("expected an auth error, got {other:?}"),
    }
    let mut config = client_credentials_config(&sandbox.base_url());
    config.auth = SalesforceAuth::ClientCredentials {
        client_id: "sandbox-client-id-typo".into(),
        client_secret: Secret::new("x"),
    };
    let typo = SalesforceClient::new(config).expect("client");
    assert!(matches!(
        typo.connect().await,
        Err(SalesforceError::Auth { error, .. }) if error == "invalid_client_id"
    ));
}

#[tokio::test]
async fn salesforce_client_remints_once_after_expiry_then_blames_the_app() {
    let sandbox = quick_org().await;
    let handle = sandbox.handle();
    seed_invoices(&handle, 2);
    let sf = client(&sandbox);
    assert_eq!(sf.count("Invoice__c", None).await.expect("count"), 2);
    handle.expire_all_tokens().expect("expired");
    assert_eq!(sf.count("Invoice__c", None).await.expect("re-minted"), 2);
    let stats = handle.stats().expect("stats");
    assert_eq!(
        stats.calls_by_route.get("POST /services/oauth2/token"),
        Some(&2)
    );
    assert_eq!(stats.unauthorized, 1);

    // Tokens that are dead on arrival: one re-mint, then a typed error saying what to check.
    handle.set_token_lifetime(Duration::ZERO).expect("lifetime");
    handle.expire_all_tokens().expect("expired");
    match sf.count("Invoice__c", None).await {
        Err(e @ SalesforceError::SessionRejected) => {
            assert!(e.to_string().contains("connected app"));
        }
        other => panic!("expected SessionRejected, got {other:?}"),
    }
    assert_eq!(
        handle
            .stats()
            .expect("stats")
            .calls_by_route
            .get("POST /services/oauth2/token"),
        Some(&3)
    );
}

#[tokio::test]
async fn salesforce_client_secrets_and_tokens_never_show_in_debug() {
    let sandbox = quick_org().await;
    let sf = jwt_client(&sandbox);
    let token = sf.connect().await.expect("token");
    let cc = client(&sandbox);
    cc.connect().await.expect("token");
    for text in [
        format!("{sf:?}"),
        format!("{cc:?}"),
        format!("{token:?}"),
        format!("{:?}", cc.config()),
    ] {
        assert!(!text.contains(token.token.expose()), "{text}");
        assert!(!text.contains("BEGIN PRIVATE KEY"), "{text}");
        assert!(
            !text.contains(sf2hs_sandbox::salesforce::DEFAULT_CLIENT_SECRET),
            "{text}"
        );
        assert!(text.contains("***"), "{text}");
    }
}

#[tokio::test]
async fn salesforce_client_describe_feeds_mapping_schemas() {
    let sandbox = quick_org().await;
    let sf = client(&sandbox);
    let schema = sf.describe("Invoice__c").await.expect("describe");
    assert_eq!(schema.name, "Invoice__c");
    assert!(schema.custom);
    let status = schema.field("Status__c").expect("Status__c");
    assert_eq!(status.field_type, SalesforceFieldType::Picklist);
    assert_eq!(status.picklist_values, vec!["Draft", "Sent", "Paid"]);
    let account = schema.field("Account__c").expect("Account__c");
    assert_eq!(account.field_type, SalesforceFieldType::Reference);
    assert_eq!(account.reference_to, vec!["Account"]);
    assert_eq!(
        schema.field("SystemModstamp").map(|f| f.field_type.clone()),
        Some(SalesforceFieldType::Datetime)
    );
    assert!(
        sf.salesforce_schema("Invoice__c")
            .await
            .expect("ok")
            .is_some()
    );
    assert_eq!(sf.salesforce_schema("Nope__c").await.expect("ok"), None);
    assert!(matches!(
        sf.describe("Nope__c").await,
        Err(SalesforceError::InvalidType { object, .. }) if object == "Nope__c"
    ));
    let global = sf.describe_global().await.expect("global");
    assert_eq!(global.len(), 1);
    assert_eq!(global[0].key_prefix.as_deref(), Some("a01"));
}

#[tokio::test]
async fn salesforce_client_pages_10000_records_with_rest_exactly_once() {
    let sandbox = quick_org().await;
    let handle = sandbox.handle();
    let start = handle.now();
    // The records get later stamps than `start` (the window excludes it); whole seconds are
    // shared, so the clock moves on first.
    handle.advance_clock(TimeDelta::seconds(1)).expect("clock");
    let ids = seed_invoices(&handle, 10_000);
    let until = handle.now();
    handle.advance_clock(TimeDelta::minutes(1)).expect("clock");
    // A record changed after `until` stays out of the window.
    handle
        .update("Invoice__c", &ids[0], json!({"Name": "late"}))
        .expect("updated");

    let sf = client(&sandbox);
    let soql = window_soql(
        "Invoice__c",
        &["Id", "Name", "Amount__c", "SystemModstamp"],
        Some(start),
        until,
        true,
    );
    let mut pager = sf.query(&soql);
    let mut seen = Vec::new();
    let mut pages = 0;
    while let Some(page) = pager.next_page().await.expect("page") {
        pages += 1;
        seen.extend(ids_of(&page));
    }
    assert_eq!(pager.total_size(), Some(9_999));
    assert_eq!(pages, 5);
    assert_eq!(seen.len(), 9_999);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 9_999);
    assert_eq!(seen, ids[1..].to_vec());

    // Smaller pages asked with Sforce-Query-Options.
    let mut config = client_credentials_config(&sandbox.base_url());
    config.query_batch_size = Some(1_000);
    let small = SalesforceClient::new(config).expect("client");
    let all = small
        .query_collect("SELECT Id FROM Invoice__c", false)
        .await
        .expect("all");
    assert_eq!(all.len(), 10_000);
    assert_eq!(
        handle
            .stats()
            .expect("stats")
            .calls_matching("/query/{locator}"),
        4 + 9
    );
    assert_eq!(
        sf.count("Invoice__c", Some("Name = 'late'"))
            .await
            .expect("count"),
        1
    );
}

#[tokio::test]
async fn salesforce_client_pages_10000_records_with_bulk_exactly_once() {
    let sandbox = start_org(SalesforceConfig::default()).await;
    let handle = sandbox.handle();
    let ids = seed_invoices(&handle, 10_000);
    handle.delete("Invoice__c", &ids[5]).expect("deleted");
    let sf = client(&sandbox);
    let rows = sf
        .bulk_query(
            "SELECT Id, Name, Notes__c FROM Invoice__c",
            BulkOperation::Query,
            Some(3_000),
        )
        .await
        .expect("bulk");
    assert_eq!(rows.len(), 9_999);
    let got: Vec<&str> = rows.iter().filter_map(|r| r["Id"].as_str()).collect();
    let expected: Vec<&str> = ids
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 5)
        .map(|(_, id)| id.as_str())
        .collect();
    assert_eq!(got, expected);
    assert_eq!(rows[0]["Name"], "Invoice 0");
    assert_eq!(rows[0]["Notes__c"], Value::Null, "empty cell = null");
    let results_calls = handle
        .stats()
        .expect("stats")
        .calls_matching("/jobs/query/{job}/results");
    assert_eq!(results_calls, 4);

    let with_deleted = sf
        .bulk_query(
            "SELECT Id, IsDeleted FROM Invoice__c",
            BulkOperation::QueryAll,
            None,
        )
        .await
        .expect("bulk");
    assert_eq!(with_deleted.len(), 10_000);
    assert_eq!(
        with_deleted
            .iter()
            .filter(|r| r["IsDeleted"] == "true")
            .count(),
        1
    );
}

#[tokio::test]
async fn salesforce_client_reads_bulk_results_with_the_jobs_api_version() {
    let sandbox = quick_org().await;
    seed_invoices(&sandbox.handle(), 10);
    let v60 = client(&sandbox);
    let job = v60
        .create_query_job("SELECT Id FROM Invoice__c", BulkOperation::Query)
        .await
        .expect("job");
    let mut config = client_credentials_config(&sandbox.base_url());
    config.api_version = ApiVersion::parse("v61.0").expect("version");
    let v61 = SalesforceClient::new(config).expect("client");
    let done = v61.wait_for_job(&job.id).await.expect("complete");
    assert_eq!(done.api_version, 60.0);
    let rows = v61.job_results(&done, None).await.expect("results");
    assert_eq!(rows.len(), 10);

    // A job info claiming another version gets the 409, typed.
    let mut wrong = done.clone();
    wrong.api_version = 61.0;
    assert!(matches!(
        v61.job_results_page(&wrong, None, None).await,
        Err(SalesforceError::ApiVersionConflict { .. })
    ));

    let refused = v60
        .create_query_job("SELECT COUNT() FROM Invoice__c", BulkOperation::Query)
        .await;
    assert!(refused.is_err());
}

#[tokio::test]
async fn salesforce_client_bulk_abort_and_failure_are_reported() {
    let sandbox = start_org(SalesforceConfig {
        bulk_polls_in_progress: 1_000,
        ..SalesforceConfig::default()
    })
    .await;
    let handle = sandbox.handle();
    seed_invoices(&handle, 3);
    let sf = client(&sandbox);
    let job = sf
        .create_query_job("SELECT Id FROM Invoice__c", BulkOperation::Query)
        .await
        .expect("job");
    let aborted = sf.abort_job(&job.id).await.expect("aborted");
    assert_eq!(aborted.state.to_string(), "Aborted");
    assert!(matches!(
        sf.wait_for_job(&job.id).await,
        Err(SalesforceError::BulkJobAborted { .. })
    ));

    let second = sf
        .create_query_job("SELECT Id FROM Invoice__c", BulkOperation::Query)
        .await
        .expect("job");
    handle
        .fail_bulk_job(&second.id, "InvalidBatch : Failed to process query")
        .expect("failed");
    match sf.wait_for_job(&second.id).await {
        Err(SalesforceError::BulkJobFailed { message, .. }) => {
            assert!(message.contains("Failed to process query"))
        }
        other => panic!("expected BulkJobFailed, got {other:?}"),
    }

    let third = sf
        .create_query_job("SELECT Id FROM Invoice__c", BulkOperation::Query)
        .await
        .expect("job");
    let mut config = client_credentials_config(&sandbox.base_url());
    config.bulk_poll.timeout = Duration::from_millis(30);
    let impatient = SalesforceClient::new(config).expect("client");
    assert!(matches!(
        impatient.wait_for_job(&third.id).await,
        Err(SalesforceError::BulkJobTimeout { .. })
    ));
}

#[tokio::test]
async fn salesforce_client_retrieves_2500_ids_in_chunks() {
    let sandbox = quick_org().await;
    let handle = sandbox.handle();
    let ids = seed_invoices(&handle, 2_499);
    handle.delete("Invoice__c", &ids[100]).expect("deleted");
    let mut wanted: Vec<SalesforceId> = ids
        .iter()
        .map(|id| SalesforceId::parse(id).expect("id"))
        .collect();
    wanted.push(SalesforceId::parse("a01ak000000zzzz").expect("id"));
    assert_eq!(wanted.len(), 2_500);
    let sf = client(&sandbox);
    let found = sf
        .retrieve("Invoice__c", &wanted, &["Id", "Name"])
        .await
        .expect("retrieved");
    assert_eq!(found.len(), 2_500);
    assert!(found[100].is_none(), "deleted");
    assert!(found[2_499].is_none(), "never existed");
    assert_eq!(found.iter().filter(|r| r.is_some()).count(), 2_498);
    let first = found[0].as_ref().expect("first");
    assert_eq!(first.object, "Invoice__c");
    assert_eq!(first.fields["Name"], "Invoice 0");
    assert_eq!(
        found[2_000].as_ref().and_then(|r| r.id.clone()),
        Some(wanted[2_000].clone())
    );
    let stats = handle.stats().expect("stats");
    assert_eq!(stats.calls_matching("/composite/sobjects"), 2);
    assert_eq!(stats.max_inputs_per_call, 2_000);
}

#[tokio::test]
async fn salesforce_client_lists_deleted_ids_for_a_window() {
    let sandbox = quick_org().await;
    let handle = sandbox.handle();
    let ids = seed_invoices(&handle, 5);
    let start = handle.now();
    handle.delete("Invoice__c", &ids[1]).expect("deleted");
    handle.delete("Invoice__c", &ids[3]).expect("deleted");
    handle.advance_clock(TimeDelta::minutes(2)).expect("clock");
    let end = handle.now();
    let sf = client(&sandbox);
    let deleted = sf.deleted("Invoice__c", start, end).await.expect("deleted");
    let got: BTreeSet<&str> = deleted.records.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(got, BTreeSet::from([ids[1].as_str(), ids[3].as_str()]));
    assert!(deleted.latest_date_covered.is_some_and(|d| d <= end));
    let too_old = sf
        .deleted("Invoice__c", start - TimeDelta::days(20), end)
        .await;
    assert!(
        matches!(too_old, Err(SalesforceError::Api { code, .. }) if code == "INVALID_REPLICATION_DATE")
    );
}

#[tokio::test]
async fn salesforce_client_quota_guard_stops_at_its_share() {
    let sandbox = quick_org().await;
    let handle = sandbox.handle();
    handle
        .set_api_usage(SandboxUsage { used: 75, max: 100 })
        .expect("usage");
    let sf = client(&sandbox);
    let mut ok_calls = 0;
    let stop = loop {
        match sf.count("Invoice__c", None).await {
            Ok(_) => ok_calls += 1,
            Err(e) => break e,
        }
        assert!(ok_calls < 50, "the guard never stopped");
    };
    assert_eq!(ok_calls, 5, "calls 76..=80 are within 80%");
    match &stop {
        SalesforceError::QuotaGuardStop { used, max, share } => {
            assert_eq!((*used, *max), (80, 100));
            assert_eq!(*share, 0.8);
        }
        other => panic!("expected QuotaGuardStop, got {other:?}"),
    }
    assert!(stop.to_string().contains("80 of 100"));
    assert_eq!(
        handle.api_usage().expect("usage").used,
        80,
        "no call past the share"
    );
    assert_eq!(sf.api_usage(), Some(ApiUsage { used: 80, max: 100 }));
}

#[tokio::test]
async fn a_warm_client_stopped_by_its_guard_calls_again_once_the_allowance_comes_back() {
    // platform-behaviours.md S7: the allowance is a rolling day. A guard that only refuses
    // never reads a newer Sforce-Limit-Info, and a warm process stops for good.
    let sandbox = quick_org().await;
    let handle = sandbox.handle();
    handle
        .set_api_usage(SandboxUsage { used: 80, max: 100 })
        .expect("usage");
    let mut config = client_credentials_config(&sandbox.base_url());
    config.quota_probe_after = std::time::Duration::from_millis(200);
    let sf = SalesforceClient::new(config).expect("client");
    sf.count("Invoice__c", None)
        .await
        .expect("the first call goes");
    assert!(matches!(
        sf.count("Invoice__c", None).await,
        Err(SalesforceError::QuotaGuardStop { .. })
    ));
    // The rolling day moves on: the org's usage falls.
    handle
        .set_api_usage(SandboxUsage { used: 10, max: 100 })
        .expect("usage");
    assert!(
        sf.count("Invoice__c", None).await.is_err(),
        "still its last reading until the probe"
    );
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    sf.count("Invoice__c", None)
        .await
        .expect("the probe goes and reads the new usage");
    sf.count("Invoice__c", None)
        .await
        .expect("and calls resume");
    assert_eq!(
        handle.api_usage().expect("usage").used,
        12,
        "the probe and the call after it"
    );
}

#[tokio::test]
async fn salesforce_client_stops_on_request_limit_exceeded_without_retrying() {
    let sandbox = quick_org().await;
    let handle = sandbox.handle();
    handle
        .set_api_usage(SandboxUsage {
            used: 100,
            max: 100,
        })
        .expect("usage");
    let mut config = client_credentials_config(&sandbox.base_url());
    config.max_api_share = 1.0;
    let sf = SalesforceClient::new(config).expect("client");
    match sf.count("Invoice__c", None).await {
        Err(e @ SalesforceError::RequestLimitExceeded { .. }) => {
            assert!(e.to_string().contains("100/100"), "{e}");
        }
        other => panic!("expected RequestLimitExceeded, got {other:?}"),
    }
    assert_eq!(handle.stats().expect("stats").calls_matching("/query"), 1);
}

#[tokio::test]
async fn salesforce_client_errors_are_typed_and_transient_faults_retried() {
    let sandbox = start_org(SalesforceConfig {
        seed: 3,
        bulk_polls_in_progress: 1,
        ..SalesforceConfig::default()
    })
    .await;
    let handle = sandbox.handle();
    seed_invoices(&handle, 20);
    let sf = client(&sandbox);
    match sf
        .query_collect("SELECT Id, Nope__c FROM Invoice__c", false)
        .await
    {
        Err(e @ SalesforceError::InvalidField { .. }) => {
            let SalesforceError::InvalidField { field, object, .. } = &e else {
                unreachable!()
            };
            assert_eq!(field.as_deref(), Some("Nope__c"));
            assert_eq!(object.as_deref(), Some("Invoice__c"));
            assert!(e.to_string().contains("fix the mapping"));
        }
        other => panic!("expected InvalidField, got {other:?}"),
    }
    assert!(matches!(
        sf.query_collect("SELECT Id FROM Invoices", false).await,
        Err(SalesforceError::InvalidType { object, .. }) if object == "Invoices"
    ));
    assert!(matches!(
        sf.query_collect("SELECT Id FROM Invoice__c WHERE", false)
            .await,
        Err(SalesforceError::MalformedQuery { .. })
    ));

    handle
        .set_faults(FaultPlan {
            rate_503: 0.3,
            ..FaultPlan::default()
        })
        .expect("faults");
    for _ in 0..10 {
        assert_eq!(sf.count("Invoice__c", None).await.expect("retried"), 20);
    }
    assert!(handle.stats().expect("stats").injected_5xx > 0);

    handle
        .set_faults(FaultPlan {
            rate_503: 1.0,
            ..FaultPlan::default()
        })
        .expect("faults");
    let failed = sf.count("Invoice__c", None).await;
    assert!(matches!(&failed, Err(e) if e.is_transient()), "{failed:?}");
}

#[test]
fn salesforce_client_config_is_checked() {
    let version = ApiVersion::parse("60.0").expect("version");
    assert!(ApiVersion::parse("40.0").is_err());
    let mut config = client_credentials_config("https://login.salesforce.com");
    assert!(
        SalesforceClient::new(config.clone()).is_err(),
        "client credentials need My Domain"
    );
    config.login_url = "https://acme.my.salesforce.com".into();
    config.api_version = version;
    assert!(SalesforceClient::new(config.clone()).is_ok());
    config.max_api_share = 1.5;
    assert!(SalesforceClient::new(config).is_err());
}

#[tokio::test]
async fn salesforce_client_reports_an_expired_query_cursor() {
    let sandbox = quick_org().await;
    seed_invoices(&sandbox.handle(), 2_500);
    let sf = client(&sandbox);
    let mut pager = sf.query("SELECT Id FROM Invoice__c");
    let first = pager.next_page().await.expect("first page");
    assert_eq!(first.map(|p| p.len()), Some(2_000));
    sandbox.handle().expire_query_cursors().expect("cleared");
    match pager.next_page().await {
        Err(e @ SalesforceError::QueryLocatorExpired) => {
            assert!(e.to_string().contains("run the query again"))
        }
        other => panic!("expected QueryLocatorExpired, got {other:?}"),
    }
}
