//! REST over HTTP: describe, the SOQL subset and its refusals, query/queryAll paging,
//! sObject Collections retrieve and `/deleted`.

/// Named so `cargo test -p sf2hs-sandbox salesforce` selects these tests.
mod salesforce {
    use std::collections::BTreeSet;

    use crate::salesforce_common::{Org, VERSION, fixture, keys};
    use chrono::{SecondsFormat, TimeDelta};
    use reqwest::StatusCode;
    use serde_json::{Value, json};

    fn soql_time(t: chrono::DateTime<chrono::Utc>) -> String {
        t.to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    #[tokio::test]
    async fn describe_has_the_fixture_shape_and_unknown_objects_are_404() {
        let org = Org::start().await;
        let answer = org.get("/sobjects/Invoice__c/describe").await;
        assert_eq!(answer.status, StatusCode::OK);
        let body = &answer.body;
        assert_eq!(body["name"], "Invoice__c");
        assert_eq!(body["keyPrefix"], "a01");
        assert_eq!(body["custom"], true);
        assert_eq!(body["queryable"], true);
        let fields = body["fields"].as_array().expect("fields");
        let fixture_keys = keys(&fixture("describe-account-excerpt.json"));
        for field in fields {
            assert_eq!(keys(field), fixture_keys, "field {}", field["name"]);
        }
        let by_name = |n: &str| fields.iter().find(|f| f["name"] == n).cloned().expect(n);
        assert_eq!(by_name("Status__c")["type"], "picklist");
        assert_eq!(
            by_name("Status__c")["picklistValues"][0],
            json!({"active": true, "defaultValue": false, "label": "Draft", "validFor": null, "value": "Draft"})
        );
        assert_eq!(by_name("Account__c")["referenceTo"], json!(["Account"]));
        assert_eq!(by_name("SystemModstamp")["type"], "datetime");
        assert_eq!(by_name("Id")["type"], "id");
        // Object names are case-insensitive in paths.
        assert_eq!(
            org.get("/sobjects/invoice__c/describe").await.status,
            StatusCode::OK
        );

        let missing = org.get("/sobjects/Nope__c/describe").await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert_eq!(missing.error_code(), "NOT_FOUND");

        let global = org.get("/sobjects").await;
        let names: BTreeSet<&str> = global.body["sobjects"]
            .as_array()
            .expect("sobjects")
            .iter()
            .filter_map(|s| s["name"].as_str())
            .collect();
        assert_eq!(names, BTreeSet::from(["Account", "Invoice__c"]));

        // Versions outside the served range are not resources at all.
        let old = org
            .send(
                org.http
                    .get(org.url("/services/data/v20.0/sobjects"))
                    .bearer_auth(&org.token),
            )
            .await;
        assert_eq!(old.status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn malformed_and_unsupported_soql_is_refused_with_salesforce_errors() {
        let org = Org::start().await;
        org.seed_invoices(3);
        let cases = [
            ("SELECT Id FRM Invoice__c", "MALFORMED_QUERY"),
            ("SELECT FROM Invoice__c", "MALFORMED_QUERY"),
            ("SELECT Id, Id FROM Invoice__c", "MALFORMED_QUERY"),
            (
                "SELECT Id FROM Invoice__c WHERE Name = 'a' OR Name = 'b'",
                "MALFORMED_QUERY",
            ),
            ("SELECT Id FROM Invoice__c GROUP BY Name", "MALFORMED_QUERY"),
            ("SELECT Id FROM Invoice__c LIMIT x", "MALFORMED_QUERY"),
            (
                "SELECT COUNT() FROM Invoice__c ORDER BY Name",
                "MALFORMED_QUERY",
            ),
            ("SELECT Id, Amount FROM Invoice__c", "INVALID_FIELD"),
            ("SELECT Id FROM Invoice__c WHERE Nme = 'x'", "INVALID_FIELD"),
            (
                "SELECT Id FROM Invoice__c ORDER BY Nope ASC",
                "INVALID_FIELD",
            ),
            ("SELECT Id FROM Invoices", "INVALID_TYPE"),
            (
                "SELECT Id FROM Invoice__c WHERE SystemModstamp > '2024-01-01T00:00:00Z'",
                "INVALID_QUERY_FILTER_OPERATOR",
            ),
            (
                "SELECT Id FROM Invoice__c WHERE Name = Bob",
                "MALFORMED_QUERY",
            ),
            (
                "SELECT Id FROM Invoice__c WHERE Amount__c = '5'",
                "INVALID_QUERY_FILTER_OPERATOR",
            ),
            (
                "SELECT Id FROM Invoice__c WHERE Id = 'notanid'",
                "INVALID_QUERY_FILTER_OPERATOR",
            ),
        ];
        for (soql, code) in cases {
            let answer = org.query(soql).await;
            assert_eq!(
                answer.status,
                StatusCode::BAD_REQUEST,
                "{soql}: {}",
                answer.text
            );
            assert_eq!(answer.error_code(), code, "{soql}: {}", answer.text);
            let entry = answer.body[0].as_object().expect("entry");
            assert!(entry["message"].as_str().is_some_and(|m| !m.is_empty()));
        }
        let invalid_field = org.query("SELECT Id, Amount FROM Invoice__c").await;
        assert!(
            invalid_field.body[0]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("No such column 'Amount' on entity 'Invoice__c'")),
            "{}",
            invalid_field.text
        );
        let invalid_type = org.query("SELECT Id FROM Invoices").await;
        assert_eq!(
            keys(&invalid_type.body[0]),
            keys(&fixture("error-invalid-type.json")[0])
        );
        let malformed = org.query("SELECT Id FRM Invoice__c").await;
        assert!(
            malformed.body[0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("ERROR at Row:1:Column:11"))
        );
        let no_query = org.get("/query").await;
        assert_eq!(no_query.error_code(), "MALFORMED_QUERY");
    }

    #[tokio::test]
    async fn query_pages_with_next_records_url_and_batch_size() {
        let org = Org::start().await;
        let ids = org.seed_invoices(2_450);
        // Default page: 2,000.
        let first = org.query("SELECT Id, Name FROM Invoice__c").await;
        assert_eq!(first.status, StatusCode::OK);
        assert_eq!(first.body["totalSize"], 2_450);
        assert_eq!(first.body["done"], false);
        assert_eq!(first.body["records"].as_array().map(Vec::len), Some(2_000));
        let next = first.body["nextRecordsUrl"]
            .as_str()
            .expect("next")
            .to_string();
        assert!(
            next.starts_with(&format!("/services/data/{VERSION}/query/01g")),
            "{next}"
        );
        assert!(next.ends_with("-2000"), "{next}");
        let record = &first.body["records"][0];
        assert_eq!(
            keys(record),
            BTreeSet::from(["attributes".into(), "Id".into(), "Name".into()])
        );
        assert_eq!(record["attributes"]["type"], "Invoice__c");
        assert_eq!(
            record["attributes"]["url"],
            format!("/services/data/{VERSION}/sobjects/Invoice__c/{}", ids[0])
        );
        let last = org.get_url(&org.url(&next)).await;
        // Same keys as the real pages: a middle page has nextRecordsUrl, the last has not.
        assert_eq!(
            keys(&first.body),
            keys(&fixture("rest-query-last-page.json"))
        );
        assert_eq!(keys(&last.body), keys(&fixture("rest-query-page1.json")));
        assert_eq!(
            keys(&record["attributes"]),
            keys(&fixture("rest-query-page1.json")["records"][0]["attributes"])
        );
        assert_eq!(last.body["done"], true);
        assert!(last.body.get("nextRecordsUrl").is_none());
        assert_eq!(last.body["records"].as_array().map(Vec::len), Some(450));
        // Re-reading a page (a client retry) gives the same page.
        let again = org.get_url(&org.url(&next)).await;
        assert_eq!(again.body, last.body);

        // batchSize=500 → 5 pages; every id exactly once.
        let mut seen = Vec::new();
        let mut answer = org
            .send(
                org.http
                    .get(org.data("/query"))
                    .query(&[("q", "SELECT Id FROM Invoice__c ORDER BY Id ASC")])
                    .header("Sforce-Query-Options", "batchSize=500")
                    .bearer_auth(&org.token),
            )
            .await;
        let mut pages = 1;
        loop {
            for r in answer.body["records"].as_array().expect("records") {
                seen.push(r["Id"].as_str().expect("id").to_string());
            }
            match answer.body["nextRecordsUrl"].as_str() {
                Some(next) => {
                    answer = org.get_url(&org.url(next)).await;
                    pages += 1;
                }
                None => break,
            }
        }
        assert_eq!(pages, 5);
        assert_eq!(seen, ids);

        // batchSize below 200 is raised to 200.
        let small = org
            .send(
                org.http
                    .get(org.data("/query"))
                    .query(&[("q", "SELECT Id FROM Invoice__c")])
                    .header("Sforce-Query-Options", "batchSize=10")
                    .bearer_auth(&org.token),
            )
            .await;
        assert_eq!(small.body["records"].as_array().map(Vec::len), Some(200));

        org.handle()
            .expire_query_cursors()
            .expect("cursors cleared");
        let gone = org.get_url(&org.url(&next)).await;
        assert_eq!(gone.status, StatusCode::BAD_REQUEST);
        assert_eq!(gone.error_code(), "INVALID_QUERY_LOCATOR");
    }

    #[tokio::test]
    async fn filters_count_order_limit_and_query_all() {
        let org = Org::start().await;
        let handle = org.handle();
        let ids = org.seed_invoices(10);
        let middle = handle.now();
        handle.advance_clock(TimeDelta::hours(1)).expect("clock");
        handle
            .update(
                "Invoice__c",
                &ids[0],
                json!({"Status__c": "Paid", "Amount__c": 99.5}),
            )
            .expect("updated");
        handle.delete("Invoice__c", &ids[1]).expect("deleted");
        // An automated change moves SystemModstamp but not LastModifiedDate.
        handle
            .touch_system_modstamp("Invoice__c", &ids[2])
            .expect("touched");
        let until = handle.now();

        let window = format!(
            "SELECT Id, SystemModstamp, LastModifiedDate FROM Invoice__c WHERE SystemModstamp > {} AND SystemModstamp <= {} ORDER BY SystemModstamp ASC, Id ASC",
            soql_time(middle),
            soql_time(until)
        );
        let changed = org.query(&window).await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
        let got: Vec<&str> = changed.body["records"]
            .as_array()
            .expect("records")
            .iter()
            .filter_map(|r| r["Id"].as_str())
            .collect();
        // The deleted record is only visible to queryAll.
        assert_eq!(got, vec![ids[0].as_str(), ids[2].as_str()]);
        let touched = &changed.body["records"][1];
        assert_ne!(touched["SystemModstamp"], touched["LastModifiedDate"]);
        assert!(
            touched["SystemModstamp"]
                .as_str()
                .is_some_and(|s| s.ends_with(".000+0000"))
        );

        let all = org
            .query_all(&window.replace("Id, SystemModstamp", "Id, IsDeleted, SystemModstamp"))
            .await;
        let deleted: Vec<&Value> = all.body["records"]
            .as_array()
            .expect("records")
            .iter()
            .filter(|r| r["IsDeleted"] == true)
            .collect();
        assert_eq!(deleted.len(), 1);
        assert_eq!(deleted[0]["Id"], ids[1].as_str());

        let count = org.query("SELECT COUNT() FROM Invoice__c").await;
        assert_eq!(
            count.body,
            json!({"totalSize": 9, "done": true, "records": []})
        );
        let count_all = org
            .query_all("SELECT COUNT() FROM Invoice__c WHERE IsDeleted = true")
            .await;
        assert_eq!(count_all.body["totalSize"], 1);
        let paid = org
            .query("SELECT COUNT() FROM Invoice__c WHERE Status__c = 'paid'")
            .await;
        assert_eq!(
            paid.body["totalSize"], 1,
            "text filters are case-insensitive"
        );

        let in_list = org
        .query(&format!(
            "SELECT Id, Amount__c FROM Invoice__c WHERE Id IN ('{}', '{}') ORDER BY Amount__c DESC",
            ids[3],
            &ids[4][..15]
        ))
        .await;
        let amounts: Vec<f64> = in_list.body["records"]
            .as_array()
            .expect("records")
            .iter()
            .filter_map(|r| r["Amount__c"].as_f64())
            .collect();
        assert_eq!(amounts, vec![4.0, 3.0]);

        let after = org
            .query(&format!(
                "SELECT Id FROM Invoice__c WHERE Id > '{}' ORDER BY Id ASC LIMIT 2",
                ids[6]
            ))
            .await;
        assert_eq!(after.body["totalSize"], 2);
        assert_eq!(after.body["records"][0]["Id"], ids[7].as_str());
    }

    #[tokio::test]
    async fn composite_retrieve_returns_nulls_for_missing_ids_and_caps_at_2000() {
        let org = Org::start().await;
        let ids = org.seed_invoices(3);
        org.handle().delete("Invoice__c", &ids[2]).expect("deleted");
        let missing = "a01ak0000000zzzAAA";
        let answer = org
            .post(
                "/composite/sobjects/Invoice__c",
                &json!({"ids": [ids[1], missing, ids[0], ids[2]], "fields": ["Id", "Name"]}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        let entries = answer.body.as_array().expect("array");
        assert_eq!(entries.len(), 4);
        assert_eq!(entries[0]["Id"], ids[1].as_str());
        assert_eq!(entries[0]["Name"], "Invoice 1");
        assert!(entries[1].is_null());
        assert_eq!(entries[2]["Id"], ids[0].as_str());
        assert!(entries[3].is_null(), "deleted records are not retrieved");

        let too_many: Vec<String> = (0..2_001).map(|_| ids[0].clone()).collect();
        let refused = org
            .post(
                "/composite/sobjects/Invoice__c",
                &json!({"ids": too_many, "fields": ["Id"]}),
            )
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        let bad_field = org
            .post(
                "/composite/sobjects/Invoice__c",
                &json!({"ids": [ids[0]], "fields": ["Nope"]}),
            )
            .await;
        assert_eq!(bad_field.error_code(), "INVALID_FIELD");
        let bad_body = org
            .post(
                "/composite/sobjects/Invoice__c",
                &json!({"ids": [ids[0]], "fields": ["Id"], "extra": 1}),
            )
            .await;
        assert_eq!(bad_body.status, StatusCode::BAD_REQUEST);
        let not_json = org
            .send(
                org.http
                    .post(org.data("/composite/sobjects/Invoice__c"))
                    .bearer_auth(&org.token)
                    .header("content-type", "text/plain")
                    .body(json!({"ids": [ids[0]], "fields": ["Id"]}).to_string()),
            )
            .await;
        assert_eq!(not_json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let too_old = org
            .send(
                org.http
                    .post(org.url("/services/data/v41.0/composite/sobjects/Invoice__c"))
                    .bearer_auth(&org.token)
                    .json(&json!({"ids": [ids[0]], "fields": ["Id"]})),
            )
            .await;
        assert_eq!(
            too_old.status,
            StatusCode::NOT_FOUND,
            "sObject Collections start at v42.0"
        );
    }

    #[tokio::test]
    async fn deleted_lists_ids_in_the_window_in_the_fixture_shape() {
        let org = Org::start().await;
        let handle = org.handle();
        let ids = org.seed_invoices(4);
        let start = handle.now();
        handle.delete("Invoice__c", &ids[0]).expect("deleted");
        handle.delete("Invoice__c", &ids[3]).expect("deleted");
        handle.advance_clock(TimeDelta::minutes(5)).expect("clock");
        let end = handle.now();
        let answer = org
            .send(
                org.http
                    .get(org.data("/sobjects/Invoice__c/deleted/"))
                    .query(&[("start", soql_time(start)), ("end", soql_time(end))])
                    .bearer_auth(&org.token),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        assert_eq!(keys(&answer.body), keys(&fixture("rest-deleted.json")));
        let got: BTreeSet<&str> = answer.body["deletedRecords"]
            .as_array()
            .expect("deleted")
            .iter()
            .filter_map(|r| r["id"].as_str())
            .collect();
        assert_eq!(got, BTreeSet::from([ids[0].as_str(), ids[3].as_str()]));
        assert_eq!(
            keys(&answer.body["deletedRecords"][0]),
            keys(&fixture("rest-deleted.json")["deletedRecords"][0])
        );

        let too_old = org
            .send(
                org.http
                    .get(org.data("/sobjects/Invoice__c/deleted/"))
                    .query(&[
                        ("start", soql_time(start - TimeDelta::days(16))),
                        ("end", soql_time(end)),
                    ])
                    .bearer_auth(&org.token),
            )
            .await;
        assert_eq!(too_old.status, StatusCode::BAD_REQUEST);
        assert_eq!(too_old.error_code(), "INVALID_REPLICATION_DATE");
        let missing_end = org
            .send(
                org.http
                    .get(org.data("/sobjects/Invoice__c/deleted/"))
                    .query(&[("start", soql_time(start))])
                    .bearer_auth(&org.token),
            )
            .await;
        assert_eq!(missing_end.status, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn changes_within_one_second_share_a_whole_second_stamp() {
        // platform-behaviours.md S1: stamps are whole seconds, and several changes of one
        // record within a second carry the same one.
        let org = Org::start().await;
        let handle = org.handle();
        let ids = org.seed_invoices(1);
        handle.advance_clock(TimeDelta::seconds(1)).expect("clock");
        let mut stamps = Vec::new();
        for n in 0..3 {
            handle
                .update("Invoice__c", &ids[0], json!({"Name": format!("Edit {n}")}))
                .expect("updated");
            let answer = org
                .query(&format!(
                    "SELECT Name, SystemModstamp FROM Invoice__c WHERE Id = '{}'",
                    ids[0]
                ))
                .await;
            let record = &answer.body["records"][0];
            assert_eq!(record["Name"], format!("Edit {n}"));
            stamps.push(record["SystemModstamp"].as_str().expect("stamp").to_owned());
        }
        assert!(
            stamps[0].ends_with(".000+0000"),
            "whole seconds: {}",
            stamps[0]
        );
        assert_eq!(stamps[0], stamps[1], "three states, one stamp");
        assert_eq!(stamps[1], stamps[2]);
    }

    #[tokio::test]
    async fn a_record_not_shared_with_the_integration_user_reads_as_absent() {
        // platform-behaviours.md S5: retrieve answers null for it as for a deleted record, and
        // neither query nor queryAll nor /deleted shows it: only the recycle bin proves a delete.
        let org = Org::start().await;
        let handle = org.handle();
        let ids = org.seed_invoices(2);
        let start = handle.now();
        handle.delete("Invoice__c", &ids[1]).expect("deleted");
        handle
            .set_hidden("Invoice__c", &ids[0], true)
            .expect("hidden");
        let retrieved = org
            .post(
                "/composite/sobjects/Invoice__c",
                &json!({"ids": [ids[0], ids[1]], "fields": ["Id"]}),
            )
            .await;
        assert_eq!(
            retrieved.body,
            json!([null, null]),
            "hidden and deleted alike"
        );
        let all = org.query_all("SELECT Id, IsDeleted FROM Invoice__c").await;
        let seen: Vec<(&str, bool)> = all.body["records"]
            .as_array()
            .expect("records")
            .iter()
            .filter_map(|r| Some((r["Id"].as_str()?, r["IsDeleted"].as_bool()?)))
            .collect();
        assert_eq!(
            seen,
            [(ids[1].as_str(), true)],
            "queryAll shows the delete only"
        );
        handle
            .delete("Invoice__c", &ids[0])
            .expect("deleted while hidden");
        handle.advance_clock(TimeDelta::minutes(5)).expect("clock");
        let deleted = org
            .send(
                org.http
                    .get(org.data("/sobjects/Invoice__c/deleted/"))
                    .query(&[
                        ("start", soql_time(start)),
                        ("end", soql_time(handle.now())),
                    ])
                    .bearer_auth(&org.token),
            )
            .await;
        let listed: Vec<&str> = deleted.body["deletedRecords"]
            .as_array()
            .expect("deleted")
            .iter()
            .filter_map(|r| r["id"].as_str())
            .collect();
        assert_eq!(listed, [ids[1].as_str()]);
        handle
            .set_hidden("Invoice__c", &ids[0], false)
            .expect("shared");
        let count = org
            .query_all("SELECT COUNT() FROM Invoice__c WHERE IsDeleted = true")
            .await;
        assert_eq!(count.body["totalSize"], 2, "shared again, its delete shows");
    }

    #[tokio::test]
    async fn outbound_message_definitions_come_from_the_tooling_api_one_metadata_at_a_time() {
        // Tooling API, WorkflowOutboundMessage: FullName and Metadata only in a query of at
        // most one row; GET by id has them all.
        let org = Org::start().await;
        for (n, fields) in [(1, vec!["Name"]), (2, vec!["Name", "Amount__c"])] {
            org.handle()
                .define_outbound_message(
                    sf2hs_sandbox::salesforce::tooling::OutboundMessageDefinition {
                        id: format!("04k5f000000AbC{n}AAK"),
                        name: format!("Invoice_Sync_{n}"),
                        object: "Invoice__c".into(),
                        fields: fields.into_iter().map(String::from).collect(),
                        endpoint_url: "https://sf2hs.example/outbound/token".into(),
                    },
                )
                .expect("defined");
        }
        let tooling = |q: &str| {
            org.http
                .get(org.data("/tooling/query"))
                .query(&[("q", q)])
                .bearer_auth(&org.token)
        };
        let listed = org
            .send(tooling("SELECT Id, Name FROM WorkflowOutboundMessage"))
            .await;
        assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
        assert_eq!(listed.body["size"], 2);
        let refused = org
            .send(tooling("SELECT Id, Metadata FROM WorkflowOutboundMessage"))
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert_eq!(refused.error_code(), "MALFORMED_QUERY");
        let one = org
            .send(tooling(
                "SELECT Id, FullName, Metadata FROM WorkflowOutboundMessage WHERE Name = 'Invoice_Sync_2'",
            ))
            .await;
        assert_eq!(one.status, StatusCode::OK, "{}", one.text);
        assert_eq!(
            one.body["records"][0]["FullName"],
            "Invoice__c.Invoice_Sync_2"
        );
        assert_eq!(
            one.body["records"][0]["Metadata"]["fields"],
            json!(["Name", "Amount__c"])
        );
        let by_id = org
            .get("/tooling/sobjects/WorkflowOutboundMessage/04k5f000000AbC1AAK")
            .await;
        assert_eq!(by_id.status, StatusCode::OK, "{}", by_id.text);
        assert_eq!(by_id.body["Metadata"]["fields"], json!(["Name"]));
        let missing = org
            .get("/tooling/sobjects/WorkflowOutboundMessage/04k5f000000AbC9AAK")
            .await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn deleted_ignores_the_seconds_of_its_bounds() {
        let start_of_day = chrono::DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
            .expect("time")
            .with_timezone(&chrono::Utc);
        let org = Org::start_with(sf2hs_sandbox::salesforce::SalesforceConfig {
            clock_start: Some(start_of_day),
            ..sf2hs_sandbox::salesforce::SalesforceConfig::default()
        })
        .await;
        let ids = org.seed_invoices(1);
        org.handle().delete("Invoice__c", &ids[0]).expect("deleted"); // 12:00:02
        org.handle()
            .advance_clock(TimeDelta::minutes(10))
            .expect("clock");
        let answer = org
            .send(
                org.http
                    .get(org.data("/sobjects/Invoice__c/deleted/"))
                    .query(&[
                        ("start", "2026-03-01T12:00:40+00:00"),
                        ("end", "2026-03-01T12:05:59+00:00"),
                    ])
                    .bearer_auth(&org.token),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        assert_eq!(answer.body["deletedRecords"][0]["id"], ids[0].as_str());
        assert_eq!(
            answer.body["latestDateCovered"],
            "2026-03-01T12:05:00.000+0000"
        );
    }

    #[tokio::test]
    async fn writes_are_checked_against_the_object_definition() {
        let org = Org::start().await;
        let handle = org.handle();
        assert!(handle.create("Invoice__c", json!({"Nope__c": 1})).is_err());
        assert!(
            handle
                .create("Invoice__c", json!({"Status__c": "Lost"}))
                .is_err()
        );
        assert!(
            handle
                .create("Invoice__c", json!({"Amount__c": "12"}))
                .is_err()
        );
        assert!(
            handle
                .create(
                    "Invoice__c",
                    json!({"SystemModstamp": "2024-01-01T00:00:00Z"})
                )
                .is_err()
        );
        assert!(
            handle
                .create("Account", json!({"Industry": "Retail"}))
                .is_err(),
            "Name is required"
        );
        let id = handle
            .create("Account", json!({"Name": "Acme"}))
            .expect("created");
        assert_eq!(id.len(), 18);
        assert!(id.starts_with("001"));
        let invoice = handle
            .create(
                "Invoice__c",
                json!({"Account__c": &id[..15], "Due__c": "2026-01-31"}),
            )
            .expect("created");
        let record = handle
            .record("Invoice__c", &invoice)
            .expect("read")
            .expect("exists");
        assert_eq!(
            record.values["Account__c"],
            id.as_str(),
            "15-char references are stored as 18"
        );
        assert_eq!(record.values["Paid__c"], false, "booleans default to false");
    }
}
