//! The daily allowance (`Sforce-Limit-Info` on every answer, 403 `REQUEST_LIMIT_EXCEEDED`),
//! seeded fault injection, request statistics and the admin routes.

/// Named so `cargo test -p sf2hs-sandbox salesforce` selects these tests.
mod salesforce {
    use crate::salesforce_common::Org;
    use reqwest::StatusCode;
    use serde_json::json;
    use sf2hs_sandbox::salesforce::{ApiUsage, FaultPlan, SalesforceConfig};

    #[tokio::test]
    async fn every_answer_carries_the_usage_and_the_limit_is_a_403() {
        let org = Org::start_with(SalesforceConfig {
            daily_api_limit: 5,
            ..SalesforceConfig::default()
        })
        .await;
        for n in 1..=5 {
            let answer = org.query("SELECT COUNT() FROM Invoice__c").await;
            assert_eq!(answer.status, StatusCode::OK);
            assert_eq!(
                answer.header("sforce-limit-info"),
                Some(format!("api-usage={n}/5"))
            );
        }
        let refused = org.query("SELECT COUNT() FROM Invoice__c").await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert_eq!(
            refused.body,
            json!([{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}])
        );
        assert_eq!(
            refused.header("sforce-limit-info").as_deref(),
            Some("api-usage=5/5")
        );
        // Error answers carry it too, and the token endpoint is not an API call.
        let bad = org.query("SELECT nonsense").await;
        assert!(bad.header("sforce-limit-info").is_some());
        org.handle()
            .set_api_usage(ApiUsage { used: 0, max: 5 })
            .expect("usage reset");
        let malformed = org.query("SELECT nonsense").await;
        assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            malformed.header("sforce-limit-info").as_deref(),
            Some("api-usage=1/5")
        );
    }

    #[tokio::test]
    async fn faults_are_seeded_and_counted() {
        let org = Org::start_with(SalesforceConfig {
            seed: 7,
            ..SalesforceConfig::default()
        })
        .await;
        org.handle()
            .set_faults(FaultPlan {
                rate_503: 0.5,
                ..FaultPlan::default()
            })
            .expect("faults");
        let mut statuses = Vec::new();
        for _ in 0..20 {
            statuses.push(
                org.query("SELECT COUNT() FROM Invoice__c")
                    .await
                    .status
                    .as_u16(),
            );
        }
        assert!(
            statuses.contains(&503) && statuses.contains(&200),
            "{statuses:?}"
        );
        let failed = org.query("SELECT COUNT() FROM Invoice__c").await;
        if failed.status == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(failed.error_code(), "SERVER_UNAVAILABLE");
        }
        let stats = org.handle().stats().expect("stats");
        assert!(stats.injected_5xx >= 1);
        assert_eq!(stats.calls_matching("/query"), 21);

        // Same seed, same plan: same sequence.
        let twin = Org::start_with(SalesforceConfig {
            seed: 7,
            ..SalesforceConfig::default()
        })
        .await;
        twin.handle()
            .set_faults(FaultPlan {
                rate_503: 0.5,
                ..FaultPlan::default()
            })
            .expect("faults");
        let mut twin_statuses = Vec::new();
        for _ in 0..20 {
            twin_statuses.push(
                twin.query("SELECT COUNT() FROM Invoice__c")
                    .await
                    .status
                    .as_u16(),
            );
        }
        assert_eq!(statuses, twin_statuses);
    }

    #[tokio::test]
    async fn stats_count_calls_per_route_and_admin_routes_need_no_token() {
        let org = Org::start().await;
        org.seed_invoices(3);
        org.query("SELECT Id FROM Invoice__c").await;
        org.get("/sobjects/Invoice__c/describe").await;
        let stats = org.handle().stats().expect("stats");
        assert_eq!(
            stats
                .calls_by_route
                .get("GET /services/data/{version}/query"),
            Some(&1)
        );
        assert_eq!(
            stats
                .calls_by_route
                .get("GET /services/data/{version}/sobjects/{object}/describe"),
            Some(&1)
        );
        assert_eq!(
            stats.calls_by_route.get("POST /services/oauth2/token"),
            Some(&1)
        );

        let admin = org.send(org.http.get(org.url("/_sandbox/stats"))).await;
        assert_eq!(admin.status, StatusCode::OK);
        assert!(admin.body["callsByRoute"].is_object());
        let usage = org.send(org.http.get(org.url("/_sandbox/api-usage"))).await;
        assert_eq!(usage.body["used"], 2);
        let created = org
            .send(
                org.http
                    .post(org.url("/_sandbox/records/Invoice__c"))
                    .json(&json!({"Name": "From admin"})),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED);
        let listed = org
            .send(org.http.get(org.url("/_sandbox/records/Invoice__c")))
            .await;
        assert_eq!(listed.body["records"].as_array().map(Vec::len), Some(4));
        let expired = org
            .send(org.http.post(org.url("/_sandbox/tokens/expire")))
            .await;
        assert_eq!(expired.body["expired"], 1);
        assert_eq!(
            org.query("SELECT Id FROM Invoice__c").await.status,
            StatusCode::UNAUTHORIZED
        );
        let advanced = org
            .send(
                org.http
                    .post(org.url("/_sandbox/clock/advance"))
                    .json(&json!({"seconds": 3600})),
            )
            .await;
        assert_eq!(advanced.status, StatusCode::OK);
    }
}
