//! Bulk API 2.0 query jobs over HTTP: the job info shape, state changes by polling, CSV paging by
//! `Sforce-Locator` until "null", the same-API-version rule (409), abort, and refused SOQL.

/// Named so `cargo test -p sf2hs-sandbox salesforce` selects these tests.
mod salesforce {
    use std::collections::BTreeSet;

    use crate::salesforce_common::{Org, fixture, fixture_text, keys};
    use reqwest::StatusCode;
    use serde_json::{Value, json};
    use sf2hs_sandbox::salesforce::{JobState, SalesforceConfig};

    async fn create_job(org: &Org, body: Value) -> crate::salesforce_common::Answer {
        org.post("/jobs/query", &body).await
    }

    #[tokio::test]
    async fn a_job_moves_through_its_states_and_pages_its_csv() {
        let org = Org::start().await;
        let ids = org.seed_invoices(2_500);
        org.handle()
            .delete("Invoice__c", &ids[10])
            .expect("deleted");
        let created = create_job(
        &org,
        json!({"operation": "query", "query": "SELECT Id, Name, Amount__c FROM Invoice__c", "contentType": "CSV", "columnDelimiter": "COMMA", "lineEnding": "LF"}),
    )
    .await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.text);
        assert_eq!(
            keys(&created.body),
            keys(&fixture("bulk2-query-job-create.json"))
        );
        assert_eq!(created.body["state"], "UploadComplete");
        assert_eq!(created.body["apiVersion"], 60.0);
        assert_eq!(created.body["object"], "Invoice__c");
        let id = created.body["id"].as_str().expect("id").to_string();
        assert!(id.starts_with("750"));

        let early = org.get(&format!("/jobs/query/{id}/results")).await;
        assert_eq!(
            early.status,
            StatusCode::BAD_REQUEST,
            "no results before JobComplete"
        );

        // Default config: two polls InProgress, then JobComplete.
        let states: Vec<String> = {
            let mut states = Vec::new();
            for _ in 0..3 {
                let polled = org.get(&format!("/jobs/query/{id}")).await;
                states.push(
                    polled.body["state"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                );
            }
            states
        };
        assert_eq!(states, ["InProgress", "InProgress", "JobComplete"]);
        let done = org.get(&format!("/jobs/query/{id}")).await;
        assert_eq!(done.body["numberRecordsProcessed"], 2_499);

        let mut seen = Vec::new();
        let mut locator: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut request = org
                .http
                .get(org.data(&format!("/jobs/query/{id}/results")))
                .query(&[("maxRecords", "1000")])
                .bearer_auth(&org.token);
            if let Some(l) = &locator {
                request = request.query(&[("locator", l)]);
            }
            let page = org.send(request).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.text);
            assert_eq!(page.header("content-type").as_deref(), Some("text/csv"));
            pages += 1;
            let mut lines = page.text.lines();
            assert_eq!(lines.next(), Some("\"Id\",\"Name\",\"Amount__c\""));
            let rows: Vec<&str> = lines.collect();
            assert_eq!(
                page.header("sforce-numberofrecords"),
                Some(rows.len().to_string())
            );
            for row in rows {
                seen.push(
                    row.split(',')
                        .next()
                        .unwrap_or_default()
                        .trim_matches('"')
                        .to_string(),
                );
            }
            match page.header("sforce-locator").as_deref() {
                Some("null") => break,
                Some(next) => locator = Some(next.to_string()),
                None => panic!("every results page has Sforce-Locator"),
            }
        }
        assert_eq!(pages, 3);
        let expected: Vec<String> = ids
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 10)
            .map(|(_, id)| id.clone())
            .collect();
        assert_eq!(seen, expected);

        // Results must be read with the job's API version.
        let other_version = org
            .send(
                org.http
                    .get(org.url(&format!("/services/data/v61.0/jobs/query/{id}/results")))
                    .bearer_auth(&org.token),
            )
            .await;
        assert_eq!(other_version.status, StatusCode::CONFLICT);
        assert!(other_version.body.is_array());

        let bad_locator = org
            .send(
                org.http
                    .get(org.data(&format!("/jobs/query/{id}/results")))
                    .query(&[("locator", "garbage")])
                    .bearer_auth(&org.token),
            )
            .await;
        assert_eq!(bad_locator.status, StatusCode::BAD_REQUEST);

        let deleted = org
            .send(
                org.http
                    .delete(org.data(&format!("/jobs/query/{id}")))
                    .bearer_auth(&org.token),
            )
            .await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        assert_eq!(
            org.get(&format!("/jobs/query/{id}")).await.status,
            StatusCode::NOT_FOUND
        );
    }

    #[tokio::test]
    async fn csv_quotes_values_and_leaves_nulls_empty_like_the_fixture() {
        let org = Org::start().await;
        let handle = org.handle();
        handle
            .create(
                "Invoice__c",
                json!({"Name": "Say \"hi\", Jane", "Notes__c": null}),
            )
            .expect("created");
        let created = create_job(&org, json!({"operation": "query", "query": "SELECT Name, Notes__c, Paid__c FROM Invoice__c"})).await;
        let id = created.body["id"].as_str().expect("id").to_string();
        for _ in 0..3 {
            org.get(&format!("/jobs/query/{id}")).await;
        }
        let page = org.get(&format!("/jobs/query/{id}/results")).await;
        assert_eq!(
            page.text,
            "\"Name\",\"Notes__c\",\"Paid__c\"\n\"Say \"\"hi\"\", Jane\",,\"false\"\n"
        );
        // The fixture's layout: quoted header and values, LF endings.
        assert!(fixture_text("bulk2-query-results.csv").starts_with("\"Id\",\"Name\"\n"));
    }

    #[tokio::test]
    async fn query_all_jobs_include_deleted_records_and_abort_works() {
        let org = Org::start_with(SalesforceConfig {
            bulk_polls_in_progress: 0,
            ..SalesforceConfig::default()
        })
        .await;
        let ids = org.seed_invoices(5);
        org.handle().delete("Invoice__c", &ids[0]).expect("deleted");
        let created = create_job(
            &org,
            json!({"operation": "queryAll", "query": "SELECT Id, IsDeleted FROM Invoice__c"}),
        )
        .await;
        let id = created.body["id"].as_str().expect("id").to_string();
        assert_eq!(
            org.get(&format!("/jobs/query/{id}")).await.body["state"],
            "JobComplete"
        );
        let page = org.get(&format!("/jobs/query/{id}/results")).await;
        assert_eq!(page.text.lines().count(), 6);
        assert!(page.text.contains(&format!("\"{}\",\"true\"", ids[0])));

        let second = create_job(
            &org,
            json!({"operation": "query", "query": "SELECT Id FROM Invoice__c"}),
        )
        .await;
        let second_id = second.body["id"].as_str().expect("id").to_string();
        let aborted = org
            .send(
                org.http
                    .patch(org.data(&format!("/jobs/query/{second_id}")))
                    .json(&json!({"state": "Aborted"}))
                    .bearer_auth(&org.token),
            )
            .await;
        assert_eq!(aborted.status, StatusCode::OK, "{}", aborted.text);
        assert_eq!(aborted.body["state"], "Aborted");
        assert_eq!(
            org.handle().bulk_job_state(&second_id).expect("state"),
            Some(JobState::Aborted)
        );
        let again = org
            .send(
                org.http
                    .patch(org.data(&format!("/jobs/query/{second_id}")))
                    .json(&json!({"state": "Aborted"}))
                    .bearer_auth(&org.token),
            )
            .await;
        assert_eq!(
            again.status,
            StatusCode::BAD_REQUEST,
            "a terminal job cannot be aborted"
        );
        let wrong_state = org
            .send(
                org.http
                    .patch(org.data(&format!("/jobs/query/{id}")))
                    .json(&json!({"state": "UploadComplete"}))
                    .bearer_auth(&org.token),
            )
            .await;
        assert_eq!(wrong_state.status, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn bulk_refuses_what_bulk_2_refuses() {
        let org = Org::start().await;
        let cases = [
            json!({"operation": "query", "query": "SELECT COUNT() FROM Invoice__c"}),
            json!({"operation": "query", "query": "SELECT Id FROM Invoice__c ORDER BY Id ASC"}),
            json!({"operation": "insert", "query": "SELECT Id FROM Invoice__c"}),
            json!({"operation": "query", "query": "SELECT Id FROM Invoice__c", "columnDelimiter": "SPACE"}),
            json!({"operation": "query", "query": "SELECT Id FROM Invoice__c", "contentType": "JSON"}),
            json!({"operation": "query", "query": "SELECT Id FROM Invoice__c", "unknown": true}),
            json!({"operation": "query", "query": "SELECT Nope FROM Invoice__c"}),
        ];
        let mut codes = BTreeSet::new();
        for body in cases {
            let answer = create_job(&org, body.clone()).await;
            assert_eq!(
                answer.status,
                StatusCode::BAD_REQUEST,
                "{body}: {}",
                answer.text
            );
            assert!(answer.body.is_array(), "{}", answer.text);
            codes.insert(answer.error_code());
        }
        assert!(codes.contains("INVALID_FIELD"));
        // Bulk 2.0 query exists from v47.0.
        let old = org
            .send(
                org.http
                    .post(org.url("/services/data/v46.0/jobs/query"))
                    .json(&json!({"operation": "query", "query": "SELECT Id FROM Invoice__c"}))
                    .bearer_auth(&org.token),
            )
            .await;
        assert_eq!(old.status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn tab_delimited_crlf_jobs_use_their_format() {
        let org = Org::start_with(SalesforceConfig {
            bulk_polls_in_progress: 0,
            ..SalesforceConfig::default()
        })
        .await;
        org.seed_invoices(2);
        let created = create_job(
        &org,
        json!({"operation": "query", "query": "SELECT Name, Amount__c FROM Invoice__c", "columnDelimiter": "TAB", "lineEnding": "CRLF"}),
    )
    .await;
        let id = created.body["id"].as_str().expect("id").to_string();
        org.get(&format!("/jobs/query/{id}")).await;
        let page = org.get(&format!("/jobs/query/{id}/results")).await;
        assert_eq!(
            page.text,
            "\"Name\"\t\"Amount__c\"\r\n\"Invoice 0\"\t\"0.0\"\r\n\"Invoice 1\"\t\"1.0\"\r\n"
        );
    }
}
