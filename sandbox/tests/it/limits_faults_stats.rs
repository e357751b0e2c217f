//! Rate limits, fault injection and statistics (hubspot.md §4).

use std::time::{Duration, Instant};

use crate::common::{Api, account_input, fixture, keys};
use reqwest::StatusCode;
use serde_json::json;
use sf2hs_sandbox::hubspot::{FaultPlan, RateLimitConfig};

#[tokio::test]
async fn the_191st_request_in_ten_seconds_is_429_ten_secondly_rolling() {
    let api = Api::start().await;
    let first = api.get("/crm/v3/properties/companies").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(
        first.header("x-hubspot-ratelimit-max").as_deref(),
        Some("190")
    );
    assert_eq!(
        first.header("x-hubspot-ratelimit-remaining").as_deref(),
        Some("189")
    );
    assert_eq!(
        first
            .header("x-hubspot-ratelimit-interval-milliseconds")
            .as_deref(),
        Some("10000")
    );
    for _ in 1..190 {
        let answer = api.get("/crm/properties/2026-03/companies").await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    let limited = api.get("/crm/v3/properties/companies").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    let expected = fixture("error-429-ten-secondly.json");
    assert_eq!(keys(&limited.body), keys(&expected));
    assert_eq!(limited.body["policyName"], "TEN_SECONDLY_ROLLING");
    assert_eq!(limited.body["message"], expected["message"]);
    assert_eq!(limited.body["errorType"], "RATE_LIMIT");
    assert_ne!(limited.body["correlationId"], expected["correlationId"]);
    assert_eq!(
        limited.header("x-hubspot-ratelimit-remaining").as_deref(),
        Some("0")
    );

    let stats = api.handle().stats().expect("stats");
    assert_eq!(stats.rate_limited_429, 1);
    assert_eq!(stats.accepted_requests, 190);
    assert_eq!(stats.busiest_10s_window, 190);
    assert_eq!(stats.calls_matching("/crm/properties/{objectType}"), 191);
}

#[tokio::test]
async fn daily_and_secondly_limits_answer_their_own_bodies() {
    let api = Api::start().await;
    api.handle()
        .set_rate_limit(RateLimitConfig {
            daily: 2,
            ..RateLimitConfig::default()
        })
        .expect("limits");
    assert_eq!(
        api.get("/crm/v3/properties/deals").await.status,
        StatusCode::OK
    );
    let second = api.get("/crm/v3/properties/deals").await;
    assert_eq!(
        second
            .header("x-hubspot-ratelimit-daily-remaining")
            .as_deref(),
        Some("0")
    );
    let daily = api.get("/crm/v3/properties/deals").await;
    assert_eq!(daily.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(keys(&fixture("error-429-daily.json")).is_subset(&keys(&daily.body)));
    assert_eq!(daily.body["policyName"], "DAILY");

    api.handle()
        .set_rate_limit(RateLimitConfig {
            secondly: Some(1),
            ..RateLimitConfig::default()
        })
        .expect("limits");
    assert_eq!(
        api.get("/crm/v3/properties/deals").await.status,
        StatusCode::OK
    );
    let secondly = api.get("/crm/v3/properties/deals").await;
    assert_eq!(secondly.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        keys(&secondly.body),
        keys(&fixture("error-429-secondly.json"))
    );
    assert_eq!(secondly.body["policyName"], "SECONDLY");
}

#[tokio::test]
async fn injected_5xx_writes_nothing_and_is_counted() {
    let api = Api::start().await;
    let object = api.create_account_object().await;
    api.handle()
        .set_faults(FaultPlan {
            rate_500: 1.0,
            ..FaultPlan::default()
        })
        .expect("faults");
    let path = format!("/crm/objects/2026-03/{object}/batch/upsert");
    let answer = api
        .post(
            &path,
            &json!({ "inputs": [account_input("F-1", "x", None)] }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.body["status"], "error");
    assert!(answer.header("x-hubspot-ratelimit-remaining").is_some());
    assert_eq!(api.handle().count(&object).expect("count"), 0);

    // Out-of-process control: the admin route switches faults too.
    let admin = api
        .send(
            api.http
                .put(api.url("/_sandbox/faults"))
                .json(&json!({ "rate503": 1.0 })),
        )
        .await;
    assert_eq!(admin.status, StatusCode::NO_CONTENT);
    let answer = api
        .post(
            &path,
            &json!({ "inputs": [account_input("F-1", "x", None)] }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(api.handle().count(&object).expect("count"), 0);

    api.handle()
        .set_faults(FaultPlan {
            rate_500_rate_limits: 1.0,
            ..FaultPlan::default()
        })
        .expect("faults");
    let answer = api
        .post(
            &path,
            &json!({ "inputs": [account_input("F-1", "x", None)] }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.body["category"], "RATE_LIMITS");

    // The explicit "applied, then failed" fault does write.
    api.handle()
        .set_faults(FaultPlan {
            rate_apply_then_fail: 1.0,
            ..FaultPlan::default()
        })
        .expect("faults");
    let answer = api
        .post(
            &path,
            &json!({ "inputs": [account_input("F-1", "x", None)] }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(api.handle().count(&object).expect("count"), 1);

    api.handle()
        .set_faults(FaultPlan {
            rate_429: 1.0,
            ..FaultPlan::default()
        })
        .expect("faults");
    let answer = api.get("/crm/v3/properties/companies").await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(answer.body["policyName"], "TEN_SECONDLY_ROLLING");

    let stats = api.handle().stats().expect("stats");
    assert_eq!(stats.injected_5xx, 4);
    assert_eq!(stats.injected_429, 1);
    assert_eq!(stats.rate_limited_429, 0);
}

#[tokio::test]
async fn latency_and_hang_faults() {
    let api = Api::start().await;
    api.handle()
        .set_faults(FaultPlan {
            latency_ms: 150,
            ..FaultPlan::default()
        })
        .expect("faults");
    let started = Instant::now();
    assert_eq!(
        api.get("/crm/v3/properties/companies").await.status,
        StatusCode::OK
    );
    assert!(started.elapsed() >= Duration::from_millis(150));

    api.handle()
        .set_faults(FaultPlan {
            rate_hang: 1.0,
            ..FaultPlan::default()
        })
        .expect("faults");
    let timed_out = api
        .http
        .get(api.url("/crm/v3/properties/companies"))
        .bearer_auth(&api.token)
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(timed_out.is_err_and(|e| e.is_timeout()));
    assert_eq!(api.handle().stats().expect("stats").injected_hangs, 1);

    // A hanging request does not keep shutdown waiting.
    let http = api.http.clone();
    let url = api.url("/crm/v3/properties/companies");
    let token = api.token.clone();
    let pending = tokio::spawn(async move { http.get(url).bearer_auth(token).send().await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    api.sandbox.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(3));
    let _ = pending.await;
}

#[tokio::test]
async fn stats_count_calls_inputs_and_the_busiest_window() {
    let api = Api::start().await;
    let object = api.create_account_object().await;
    api.handle().reset_stats().expect("reset");
    for (i, prefix) in [
        "/crm/v3/objects",
        "/crm/objects/2026-03",
        "/crm/objects/2026-09",
    ]
    .iter()
    .enumerate()
    {
        let inputs: Vec<_> = (0..=i * 10)
            .map(|n| account_input(&format!("S-{i}-{n}"), "x", None))
            .collect();
        let answer = api
            .post(
                &format!("{prefix}/{object}/batch/upsert"),
                &json!({ "inputs": inputs }),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    let stats = api.handle().stats().expect("stats");
    let route = "POST /crm/objects/{objectType}/batch/upsert";
    assert_eq!(stats.calls_by_route.get(route), Some(&3));
    assert_eq!(stats.max_inputs_by_route.get(route), Some(&21));
    assert_eq!(stats.total_inputs_by_route.get(route), Some(&33));
    assert_eq!(stats.max_inputs_per_call, 21);
    assert_eq!(stats.busiest_10s_window, 3);
    assert_eq!(stats.status_counts.get(&200), Some(&3));

    let over_http = api.send(api.http.get(api.url("/_sandbox/stats"))).await;
    assert_eq!(over_http.status, StatusCode::OK);
    assert_eq!(over_http.body["busiest10sWindow"], 3);
    assert_eq!(over_http.body["callsByRoute"][route], 3);
    let records = api
        .send(
            api.http
                .get(api.url(&format!("/_sandbox/records/{object}"))),
        )
        .await;
    assert_eq!(records.body["results"].as_array().map(Vec::len), Some(33));
}
