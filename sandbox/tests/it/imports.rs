//! CRM Imports API over real HTTP (hubspot.md "CRM Imports API"): multipart uploads, the
//! asynchronous states, row errors, refusals, caps, cancel, concurrency and rate limits.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::common::{Answer, Api};
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use sf2hs_sandbox::hubspot::{FaultPlan, ImportSettings, ImportState, RateLimitConfig};

const IMPORTS: &str = "/crm/v3/imports";
const HEADER: &str = "Salesforce ID,Name,Revenue,Since,Last seen,Active,Tier,Regions";
const PROPERTIES: [&str; 8] = [
    "salesforce_id",
    "account_name",
    "revenue",
    "since",
    "last_seen",
    "active",
    "tier",
    "regions",
];

/// One mapping per column of `HEADER`, `salesforce_id` as the alternate id.
fn account_mappings(object: &str) -> Vec<Value> {
    HEADER
        .split(',')
        .zip(PROPERTIES)
        .map(|(column, property)| {
            let mut m = json!({
                "columnObjectTypeId": object,
                "columnName": column,
                "propertyName": property,
            });
            if property == "salesforce_id" {
                m["columnType"] = json!("HUBSPOT_ALTERNATE_ID");
            }
            m
        })
        .collect()
}

fn import_request(name: &str, file_name: &str, mappings: Vec<Value>) -> Value {
    json!({
        "name": name,
        "files": [{
            "fileName": file_name,
            "fileFormat": "CSV",
            "fileImportPage": { "hasHeader": true, "columnMappings": mappings },
        }],
    })
}

fn account_request(object: &str, name: &str) -> Value {
    import_request(name, "accounts.csv", account_mappings(object))
}

/// `HEADER` and the rows, CRLF line ends, a trailing line break.
fn account_csv(rows: &[&str]) -> String {
    let mut lines = vec![HEADER.to_string()];
    lines.extend(rows.iter().map(|r| r.to_string()));
    lines.join("\r\n") + "\r\n"
}

fn form(request: Option<&Value>, files: &[(&str, Vec<u8>)]) -> Form {
    let mut form = Form::new();
    if let Some(request) = request {
        form = form.text("importRequest", request.to_string());
    }
    for (name, bytes) in files {
        let part = Part::bytes(bytes.clone())
            .file_name(name.to_string())
            .mime_str("text/csv")
            .expect("mime");
        form = form.part("files", part);
    }
    form
}

async fn start_at(
    api: &Api,
    path: &str,
    request: Option<&Value>,
    files: &[(&str, Vec<u8>)],
) -> Answer {
    api.send(
        api.http
            .post(api.url(path))
            .bearer_auth(&api.token)
            .multipart(form(request, files)),
    )
    .await
}

async fn start(api: &Api, request: &Value, file_name: &str, csv: &str) -> Answer {
    start_at(
        api,
        IMPORTS,
        Some(request),
        &[(file_name, csv.as_bytes().to_vec())],
    )
    .await
}

fn import_id(answer: &Answer) -> u64 {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("import id is a digit string")
}

fn settings(api: &Api, start_delay_ms: u64, rows_per_second: u32) {
    api.handle()
        .set_import_settings(ImportSettings {
            start_delay_ms,
            rows_per_second,
            ..ImportSettings::default()
        })
        .expect("settings");
}

fn state(api: &Api, id: u64) -> ImportState {
    api.handle()
        .import_state(id)
        .expect("state")
        .expect("known import")
}

/// Polls the handle (not HTTP, which the rate limit counts) until `done` holds.
async fn wait_for(api: &Api, what: &str, mut done: impl FnMut(&Api) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done(api) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn wait_for_state(api: &Api, id: u64, wanted: ImportState) {
    wait_for(api, wanted.as_str(), |api| state(api, id) == wanted).await;
}

fn counter(api: &Api, id: u64, name: &str) -> u64 {
    api.handle()
        .import_counters(id)
        .expect("counters")
        .and_then(|c| c.get(name).copied())
        .unwrap_or_default()
}

async fn errors(api: &Api, id: u64, query: &str) -> Answer {
    api.get(&format!("{IMPORTS}/{id}/errors?{query}")).await
}

fn assert_validation(answer: &Answer, fragment: &str) {
    assert_eq!(
        answer.status,
        StatusCode::BAD_REQUEST,
        "{fragment}: {}",
        answer.body
    );
    assert_eq!(answer.body["status"], "error");
    assert_eq!(
        answer.body["category"], "VALIDATION_ERROR",
        "{}",
        answer.body
    );
    assert!(answer.body["correlationId"].is_string());
    let message = answer.body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(fragment),
        "expected \"{fragment}\" in: {message}"
    );
}

async fn read_account(api: &Api, object: &str, sf_id: &str) -> Answer {
    api.get(&format!(
        "/crm/v3/objects/{object}/{sf_id}?idProperty=salesforce_id&properties={}",
        PROPERTIES.join(",")
    ))
    .await
}

#[tokio::test]
async fn an_upsert_import_goes_started_processing_done_and_its_records_are_readable() {
    let api = Api::start().await;
    let object = api.create_account_object().await;
    let seeded = api
        .handle()
        .seed_record(
            &object,
            &[("salesforce_id", "S-1"), ("account_name", "Old")],
        )
        .expect("seed");
    let seeded_before = read_account(&api, &object, "S-1").await;
    settings(&api, 300, 5);
    let rows: Vec<String> = (1..=8)
        .map(|i| {
            format!("S-{i},Account {i},{i}00.5,01/31/2024,01/31/2024 14:30,true,gold,emea;apac")
        })
        .collect();
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let request = account_request(&object, "Nightly accounts");
    // The spec's own path ends in a slash.
    let created = start_at(
        &api,
        "/crm/v3/imports/",
        Some(&request),
        &[("accounts.csv", account_csv(&rows).into_bytes())],
    )
    .await;
    let id = import_id(&created);
    let body = &created.body;
    assert_eq!(body["state"], "STARTED");
    assert_eq!(body["importName"], "Nightly accounts");
    assert_eq!(body["importSource"], "API");
    assert_eq!(body["importRequestJson"], request);
    assert_eq!(body["mappedObjectTypeIds"], json!([object]));
    assert_eq!(body["optOutImport"], false);
    assert_eq!(body["metadata"]["objectLists"], json!([]));
    assert_eq!(body["metadata"]["counters"]["TOTAL_ROWS"], 8);
    assert_eq!(
        body["metadata"]["fileIds"].as_array().map(Vec::len),
        Some(1)
    );
    for key in ["createdAt", "updatedAt"] {
        let at = body[key].as_str().unwrap_or_default();
        assert!(
            chrono::DateTime::parse_from_rfc3339(at).is_ok(),
            "{key}: {at}"
        );
    }
    assert_eq!(state(&api, id), ImportState::Started);
    assert_eq!(api.handle().imports_started().expect("started"), 1);

    // PROCESSING applies rows progressively: a reader sees a half-done import.
    let mut half_done = None;
    let deadline = Instant::now() + Duration::from_secs(20);
    while state(&api, id) != ImportState::Done {
        assert!(Instant::now() < deadline, "import never finished");
        let count = api.handle().count(&object).expect("count");
        if half_done.is_none()
            && state(&api, id) == ImportState::Processing
            && (2..8).contains(&count)
        {
            half_done = Some(api.get(&format!("{IMPORTS}/{id}")).await);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let half_done = half_done.expect("a half-done import was visible");
    assert_eq!(half_done.body["state"], "PROCESSING", "{}", half_done.body);
    assert!(half_done.body["metadata"]["counters"]["CREATED_OBJECTS"].as_u64() < Some(7));

    let done = api.get(&format!("/crm/imports/2026-03/{id}")).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["state"], "DONE");
    assert_eq!(
        done.body["metadata"]["counters"],
        json!({ "TOTAL_ROWS": 8, "CREATED_OBJECTS": 7, "UPDATED_OBJECTS": 1, "ERRORS": 0 })
    );
    assert_eq!(done.body["id"], created.body["id"]);
    let no_errors = errors(&api, id, "").await;
    assert_eq!(no_errors.body, json!({ "results": [] }));

    // The objects API reads what the import wrote, normalised as API writes are.
    let five = read_account(&api, &object, "S-5").await;
    assert_eq!(five.status, StatusCode::OK, "{}", five.body);
    let p = &five.body["properties"];
    assert_eq!(p["account_name"], "Account 5");
    assert_eq!(p["revenue"], "500.5");
    assert_eq!(p["since"], "2024-01-31");
    assert_eq!(p["last_seen"], "2024-01-31T14:30:00.000Z");
    assert_eq!(p["active"], "true");
    assert_eq!(p["regions"], "emea;apac");
    let inputs: Vec<Value> = (1..=8).map(|i| json!({ "id": format!("S-{i}") })).collect();
    let batch = api
        .post(
            &format!("/crm/objects/2026-03/{object}/batch/read"),
            &json!({ "inputs": inputs, "idProperty": "salesforce_id", "properties": ["account_name"] }),
        )
        .await;
    assert_eq!(batch.body["results"].as_array().map(Vec::len), Some(8));
    // The seeded record was updated in place, its updatedAt bumped.
    let one = read_account(&api, &object, "S-1").await;
    assert_eq!(one.body["id"], seeded.to_string());
    assert_eq!(one.body["properties"]["account_name"], "Account 1");
    assert_ne!(one.body["updatedAt"], seeded_before.body["updatedAt"]);
    assert_eq!(one.body["createdAt"], seeded_before.body["createdAt"]);
}

#[tokio::test]
async fn row_errors_are_listed_with_line_column_value_and_row_data() {
    let api = Api::start().await;
    let object = api.create_account_object().await;
    settings(&api, 0, 0);
    let csv = account_csv(&[
        "S-1,Good,100,01/31/2024,,true,gold,emea",
        "S-2,Bad tier,100,,,,platinum,",
        "S-3,Bad number,12abc,,,,,",
        "S-4,Bad date,1,31/01/2024,,,,",
        "S-5,too,few",
        "S-1,Again,1,,,,,",
        "S-6,\"multi\nline, with \"\"quotes\"\"\",7,,,,,",
        "S-7,Bad bool,1,,yesterday,yes,,",
        ",No id,1,,,,,",
    ]);
    let id = import_id(
        &start(
            &api,
            &account_request(&object, "errors"),
            "accounts.csv",
            &csv,
        )
        .await,
    );
    wait_for_state(&api, id, ImportState::Done).await;

    let answer = errors(
        &api,
        id,
        "limit=100&includeErrorMessage=true&includeRowData=true",
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(answer.body.get("paging").is_none());
    let results = answer.body["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let file_id = api.get(&format!("{IMPORTS}/{id}")).await.body["metadata"]["fileIds"][0]
        .as_str()
        .and_then(|f| f.parse::<u64>().ok())
        .expect("file id");
    // (line, errorType, knownColumnNumber, invalidValue); the header is line 1 and the quoted
    // line break puts S-7 on line 10.
    let expected: Vec<(u64, &str, Option<u64>, Option<&str>)> = vec![
        (3, "INVALID_ENUMERATION_OPTION", Some(6), Some("platinum")),
        (4, "COULD_NOT_PARSE_NUMBER", Some(2), Some("12abc")),
        (5, "COULD_NOT_PARSE_DATE", Some(3), Some("31/01/2024")),
        (6, "INCORRECT_NUMBER_OF_COLUMNS", None, None),
        (7, "DUPLICATE_ALTERNATE_ID", Some(0), Some("S-1")),
        (10, "COULD_NOT_PARSE_DATE", Some(4), Some("yesterday")),
        (10, "INVALID_ENUMERATION_OPTION", Some(5), Some("yes")),
        (11, "INVALID_ALTERNATE_ID", Some(0), Some("")),
    ];
    let got: Vec<(u64, &str, Option<u64>, Option<&str>)> = results
        .iter()
        .map(|e| {
            (
                e["sourceData"]["lineNumber"].as_u64().unwrap_or(0),
                e["errorType"].as_str().unwrap_or(""),
                e["knownColumnNumber"].as_u64(),
                e["invalidValue"].as_str(),
            )
        })
        .collect();
    assert_eq!(got, expected);
    let csv_lines: Vec<&str> = csv.split("\r\n").collect();
    for e in &results {
        assert!(e["id"].is_string());
        assert!(
            e["createdAt"]
                .as_i64()
                .is_some_and(|ms| ms > 1_700_000_000_000)
        );
        assert_eq!(e["objectTypeId"], object);
        assert!(e["errorMessage"].as_str().is_some_and(|m| !m.is_empty()));
        assert_eq!(e["sourceData"]["fileId"], file_id);
        assert_eq!(e["sourceData"]["containsEncryptedProperties"], false);
        let line = e["sourceData"]["lineNumber"].as_u64().unwrap_or(0);
        // The erroneous rows have no quoting: rowData is the record split at commas. The
        // records after S-6 sit one physical line later than their record index.
        let record = if line >= 10 { line - 2 } else { line - 1 };
        {
            let raw = csv_lines[record as usize];
            assert_eq!(
                e["sourceData"]["rowData"],
                json!(raw.split(',').collect::<Vec<_>>())
            );
        }
    }
    // Without the flags: no message, no row data.
    let bare = errors(&api, id, "limit=100").await;
    let first = &bare.body["results"][0];
    assert!(first.get("errorMessage").is_none(), "{first}");
    assert_eq!(first["sourceData"]["rowData"], json!([]));

    // A bad cell costs its own value only: the rest of the row is written.
    let two = read_account(&api, &object, "S-2").await;
    assert_eq!(two.body["properties"]["account_name"], "Bad tier");
    assert_eq!(two.body["properties"]["tier"], Value::Null);
    let six = read_account(&api, &object, "S-6").await;
    assert_eq!(
        six.body["properties"]["account_name"],
        "multi\nline, with \"quotes\""
    );
    let one = read_account(&api, &object, "S-1").await;
    assert_eq!(
        one.body["properties"]["account_name"], "Good",
        "the duplicate row was skipped"
    );
    assert_eq!(counter(&api, id, "ERRORS"), 8);
    assert_eq!(counter(&api, id, "CREATED_OBJECTS"), 6);
    assert_eq!(api.handle().count(&object).expect("count"), 6);
}

#[tokio::test]
async fn a_new_record_without_a_required_property_is_not_created() {
    let api = Api::start().await;
    let object = api.create_account_object().await;
    settings(&api, 0, 0);
    // No id column: an UPSERT creates every row; salesforce_id is required on create.
    let request = import_request(
        "required",
        "plain.csv",
        vec![
            json!({ "columnObjectTypeId": object, "columnName": "sfid", "propertyName": "salesforce_id" }),
            json!({ "columnObjectTypeId": object, "columnName": "name", "propertyName": "account_name" }),
        ],
    );
    let id = import_id(
        &start(
            &api,
            &request,
            "plain.csv",
            "sfid,name\nA-1,first\n,second\nA-3,third\n",
        )
        .await,
    );
    wait_for_state(&api, id, ImportState::Done).await;
    let answer = errors(&api, id, "includeRowData=true").await;
    let results = answer.body["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(results.len(), 1, "{}", answer.body);
    assert_eq!(results[0]["errorType"], "MISSING_REQUIRED_PROPERTY");
    assert_eq!(results[0]["sourceData"]["lineNumber"], 3);
    assert_eq!(results[0]["knownColumnNumber"], 0);
    assert_eq!(results[0]["sourceData"]["rowData"], json!(["", "second"]));
    assert_eq!(api.handle().count(&object).expect("count"), 2);
    assert_eq!(counter(&api, id, "CREATED_OBJECTS"), 2);
}

#[tokio::test]
async fn errors_page_by_after_and_limit() {
    let api = Api::start().await;
    let object = api.create_account_object().await;
    settings(&api, 0, 0);
    let rows: Vec<String> = (0..25).map(|i| format!("P-{i},x,NaN,,,,,")).collect();
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let id = import_id(
        &start(
            &api,
            &account_request(&object, "paging"),
            "accounts.csv",
            &account_csv(&rows),
        )
        .await,
    );
    wait_for_state(&api, id, ImportState::Done).await;

    let mut seen = Vec::new();
    let mut lines = Vec::new();
    let mut query = String::new();
    let mut pages = 0;
    loop {
        let page = errors(&api, id, &query).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let results = page.body["results"].as_array().cloned().unwrap_or_default();
        assert!(results.len() <= 10, "the default page is 10");
        for e in &results {
            seen.push(e["id"].as_str().unwrap_or_default().to_string());
            lines.push(e["sourceData"]["lineNumber"].as_u64().unwrap_or(0));
        }
        pages += 1;
        match page.body["paging"]["next"]["after"].as_str() {
            Some(after) => {
                let link = page.body["paging"]["next"]["link"]
                    .as_str()
                    .unwrap_or_default();
                assert!(link.contains(&format!("after={after}")), "{link}");
                query = format!("after={after}");
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 25);
    assert_eq!(
        seen.iter().collect::<BTreeSet<_>>().len(),
        25,
        "ids are unique"
    );
    assert_eq!(lines, (2..=26).collect::<Vec<u64>>());
    // Ids are stable across reads.
    let again = errors(&api, id, "limit=3").await;
    let first_three: Vec<&str> = again.body["results"]
        .as_array()
        .map(|r| r.iter().filter_map(|e| e["id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        first_three,
        seen[..3].iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(
        errors(&api, id, "limit=100").await.body["results"]
            .as_array()
            .map(Vec::len),
        Some(25)
    );
    for bad in ["limit=101", "limit=0", "after=abc", "includeRowData=yes"] {
        let refused = errors(&api, id, bad).await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            refused.body
        );
        assert_eq!(refused.body["category"], "VALIDATION_ERROR");
    }
}

#[tokio::test]
async fn invalid_requests_are_refused_and_start_nothing() {
    let api = Api::start().await;
    let object = api.create_account_object().await;
    let csv = account_csv(&["S-1,a,1,,,,,"]);
    let good = account_request(&object, "refusals");
    let file = |csv: &str| vec![("accounts.csv", csv.as_bytes().to_vec())];

    let no_request = start_at(&api, IMPORTS, None, &file(&csv)).await;
    assert_validation(&no_request, "importRequest is required");

    let mut unknown = good.clone();
    unknown["files"][0]["fileImportPage"]["columnMappings"][1]["propertyName"] = json!("nickname");
    assert_validation(
        &start(&api, &unknown, "accounts.csv", &csv).await,
        "\"nickname\" does not exist",
    );

    let mut renamed = good.clone();
    renamed["files"][0]["fileImportPage"]["columnMappings"][2]["columnName"] = json!("Turnover");
    assert_validation(
        &start(&api, &renamed, "accounts.csv", &csv).await,
        "does not match the header",
    );

    let mut short = good.clone();
    if let Some(m) = short["files"][0]["fileImportPage"]["columnMappings"].as_array_mut() {
        m.pop();
    }
    assert_validation(
        &start(&api, &short, "accounts.csv", &csv).await,
        "8 columns but 7 columnMappings",
    );

    let mut not_unique = good.clone();
    not_unique["files"][0]["fileImportPage"]["columnMappings"][1]["columnType"] =
        json!("HUBSPOT_ALTERNATE_ID");
    not_unique["files"][0]["fileImportPage"]["columnMappings"][0]["columnType"] = Value::Null;
    assert_validation(
        &start(&api, &not_unique, "accounts.csv", &csv).await,
        "hasUniqueValue is false",
    );

    let mut spreadsheet = good.clone();
    spreadsheet["files"][0]["fileFormat"] = json!("SPREADSHEET");
    assert_validation(
        &start(&api, &spreadsheet, "accounts.csv", &csv).await,
        "CSV files only",
    );

    assert_validation(
        &start(&api, &good, "other.csv", &csv).await,
        "no files part has that filename",
    );
    let two_files = start_at(
        &api,
        IMPORTS,
        Some(&good),
        &[
            ("accounts.csv", csv.clone().into_bytes()),
            ("extra.csv", csv.clone().into_bytes()),
        ],
    )
    .await;
    assert_validation(&two_files, "extra.csv is not described");

    let mut association = good.clone();
    association["files"][0]["fileImportPage"]["columnMappings"][1]["columnType"] =
        json!("FLEXIBLE_ASSOCIATION_LABEL");
    assert_validation(
        &start(&api, &association, "accounts.csv", &csv).await,
        "association imports",
    );

    let mut update_without_id = good.clone();
    update_without_id["files"][0]["fileImportPage"]["columnMappings"][0]["columnType"] =
        Value::Null;
    update_without_id["importOperations"] = json!({ object.clone(): "UPDATE" });
    assert_validation(
        &start(&api, &update_without_id, "accounts.csv", &csv).await,
        "needs a HUBSPOT_OBJECT_ID or HUBSPOT_ALTERNATE_ID column",
    );

    let mut unknown_object = good.clone();
    unknown_object["files"][0]["fileImportPage"]["columnMappings"][0]["columnObjectTypeId"] =
        json!("2-999");
    assert_validation(
        &start(&api, &unknown_object, "accounts.csv", &csv).await,
        "\"2-999\" is not an object type id",
    );

    let mut nameless = good.clone();
    nameless["name"] = json!(" ");
    assert_validation(
        &start(&api, &nameless, "accounts.csv", &csv).await,
        "name is required",
    );

    let mut bad_operation = good.clone();
    bad_operation["importOperations"] = json!({ object.clone(): "MERGE" });
    assert_validation(
        &start(&api, &bad_operation, "accounts.csv", &csv).await,
        "importRequest is invalid",
    );

    let not_utf8 = start_at(
        &api,
        IMPORTS,
        Some(&good),
        &[(
            "accounts.csv",
            [HEADER.as_bytes(), b"\nS-1,\xFF\xFE,1,,,,,\n"].concat(),
        )],
    )
    .await;
    assert_validation(&not_utf8, "not UTF-8 (line 2)");

    let wide = (0..1000)
        .map(|i| format!("c{i}"))
        .collect::<Vec<_>>()
        .join(",")
        + "\n";
    assert_validation(
        &start(&api, &good, "accounts.csv", &wide).await,
        "fewer than 1000 columns",
    );

    let header_only = start(&api, &good, "accounts.csv", &format!("{HEADER}\n")).await;
    assert_validation(&header_only, "no data rows");

    let json_body = api.post(IMPORTS, &good).await;
    assert_validation(&json_body, "multipart/form-data");

    assert_eq!(api.handle().imports_started().expect("started"), 0);
    assert_eq!(api.handle().count(&object).expect("count"), 0);
}

#[tokio::test]
async fn a_file_holds_at_most_1048576_rows() {
    let api = Api::start().await;
    let object = api.create_account_object().await;
    // The accepted import waits, so the test does not process a million rows.
    settings(&api, 3_600_000, 0);
    let request = json!({
        "name": "tall",
        "files": [{
            "fileName": "tall.csv",
            "fileFormat": "CSV",
            "fileImportPage": {
                "hasHeader": false,
                "columnMappings": [{ "columnObjectTypeId": object, "columnName": "n", "propertyName": "revenue" }],
            },
        }],
    });
    let too_tall = start(&api, &request, "tall.csv", &"1\n".repeat(1_048_577)).await;
    assert_validation(&too_tall, "more than 1048576 rows");
    let tallest = start(&api, &request, "tall.csv", &"1\n".repeat(1_048_576)).await;
    let id = import_id(&tallest);
    assert_eq!(
        tallest.body["metadata"]["counters"]["TOTAL_ROWS"],
        1_048_576
    );
    assert_eq!(state(&api, id), ImportState::Started);
    assert_eq!(api.handle().imports_started().expect("started"), 1);
}

#[tokio::test]
async fn a_file_over_the_size_limit_is_refused() {
    let api = Api::start().await;
    let object = api.create_account_object().await;
    api.handle()
        .set_import_settings(ImportSettings {
            max_file_bytes: 100,
            ..ImportSettings::default()
        })
        .expect("settings");
    assert_eq!(ImportSettings::default().max_file_bytes, 512_000_000);
    let request = account_request(&object, "size");
    let sized = |bytes: usize| {
        let base = account_csv(&["S-1,,1,,,,,"]);
        account_csv(&[&format!("S-1,{},1,,,,,", "a".repeat(bytes - base.len()))])
    };
    assert_eq!(sized(100).len(), 100);
    import_id(&start(&api, &request, "accounts.csv", &sized(100)).await);
    let over = start(&api, &request, "accounts.csv", &sized(101)).await;
    assert_validation(&over, "larger than 100 bytes");
    assert_eq!(api.handle().imports_started().expect("started"), 1);
}

#[tokio::test]
async fn the_rolling_24_hour_caps_refuse_with_429() {
    let api = Api::start().await;
    let object = api.create_account_object().await;
    api.handle()
        .set_import_settings(ImportSettings {
            start_delay_ms: 0,
            rows_per_second: 0,
            max_imports_per_day: 2,
            ..ImportSettings::default()
        })
        .expect("settings");
    let request = account_request(&object, "daily");
    let two_rows = account_csv(&["D-1,a,1,,,,,", "D-2,b,1,,,,,"]);
    for _ in 0..2 {
        import_id(&start(&api, &request, "accounts.csv", &two_rows).await);
    }
    let third = start(&api, &request, "accounts.csv", &two_rows).await;
    assert_eq!(
        third.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        third.body
    );
    assert_eq!(third.body["category"], "RATE_LIMITS");
    assert!(
        third.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("2 imports in a rolling 24 hours"))
    );
    assert_eq!(api.handle().imports_started().expect("started"), 2);

    // Rows: two imports of a header and two rows each used 6 of 8.
    api.handle()
        .set_import_settings(ImportSettings {
            start_delay_ms: 0,
            rows_per_second: 0,
            max_rows_per_day: 8,
            ..ImportSettings::default()
        })
        .expect("settings");
    let over = start(&api, &request, "accounts.csv", &two_rows).await;
    assert_eq!(over.status, StatusCode::TOO_MANY_REQUESTS, "{}", over.body);
    assert!(
        over.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("limit of 8 rows"))
    );
    import_id(
        &start(
            &api,
            &request,
            "accounts.csv",
            &account_csv(&["D-3,c,1,,,,,"]),
        )
        .await,
    );
    let full = start(
        &api,
        &request,
        "accounts.csv",
        &account_csv(&["D-4,d,1,,,,,"]),
    )
    .await;
    assert_eq!(full.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(api.handle().imports_started().expect("started"), 3);
}

#[tokio::test]
async fn imports_need_the_crm_import_scope() {
    let api = Api::start().await;
    let object = api.create_account_object().await;
    settings(&api, 0, 0);
    let scopes = |s: &[&str]| Some(s.iter().map(|x| x.to_string()).collect());
    api.handle()
        .add_token(
            "pat-na1-no-import",
            scopes(&["crm.objects.custom.write", "crm.objects.custom.read"]),
        )
        .expect("token");
    api.handle()
        .add_token("pat-na1-import", scopes(&["crm.import"]))
        .expect("token");
    let request = account_request(&object, "scoped");
    let csv = account_csv(&["S-1,a,1,,,,,"]);
    let without = Api {
        sandbox: api.sandbox,
        http: api.http,
        token: "pat-na1-no-import".into(),
    };
    let refused = start(&without, &request, "accounts.csv", &csv).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(refused.body["category"], "MISSING_SCOPES");
    assert_eq!(
        refused.body["errors"][0]["context"]["requiredGranularScopes"],
        json!(["crm.import"])
    );
    let list = without.get("/crm/v3/imports/").await;
    assert_eq!(list.status, StatusCode::FORBIDDEN);
    assert_eq!(without.handle().imports_started().expect("started"), 0);

    let with = Api {
        sandbox: without.sandbox,
        http: without.http,
        token: "pat-na1-import".into(),
    };
    let id = import_id(&start(&with, &request, "accounts.csv", &csv).await);
    assert_eq!(
        with.get(&format!("{IMPORTS}/{id}")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn empty_cells_never_clear_a_value() {
    let api = Api::start().await;
    let object = api.create_account_object().await;
    settings(&api, 0, 0);
    api.handle()
        .seed_record(
            &object,
            &[
                ("salesforce_id", "S-1"),
                ("account_name", "Keep"),
                ("revenue", "10"),
                ("tier", "gold"),
            ],
        )
        .expect("seed");
    let id = import_id(
        &start(
            &api,
            &account_request(&object, "blanks"),
            "accounts.csv",
            &account_csv(&["S-1,,,01/02/2024,,,,"]),
        )
        .await,
    );
    wait_for_state(&api, id, ImportState::Done).await;
    let p = read_account(&api, &object, "S-1").await.body["properties"].clone();
    assert_eq!(p["account_name"], "Keep");
    assert_eq!(p["revenue"], "10");
    assert_eq!(p["tier"], "gold");
    assert_eq!(p["since"], "2024-01-02");
    assert_eq!(counter(&api, id, "UPDATED_OBJECTS"), 1);
    assert_eq!(counter(&api, id, "ERRORS"), 0);
}

#[tokio::test]
async fn cancel_stops_an_import_and_keeps_the_rows_applied() {
    let api = Api::start().await;
    let object = api.create_account_object().await;
    settings(&api, 0, 10);
    let rows: Vec<String> = (0..40).map(|i| format!("C-{i},x,1,,,,,")).collect();
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let id = import_id(
        &start(
            &api,
            &account_request(&object, "cancel"),
            "accounts.csv",
            &account_csv(&rows),
        )
        .await,
    );
    wait_for(&api, "two rows", |api| {
        api.handle().count(&object).unwrap_or(0) >= 2
    })
    .await;

    let canceled = api
        .post(&format!("{IMPORTS}/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(canceled.status, StatusCode::OK, "{}", canceled.body);
    assert_eq!(canceled.body["status"], "COMPLETE");
    for key in ["startedAt", "completedAt", "requestedAt"] {
        assert!(canceled.body[key].is_string(), "{key}");
    }
    let applied = api.handle().count(&object).expect("count");
    assert_eq!(
        api.get(&format!("{IMPORTS}/{id}")).await.body["state"],
        "CANCELED"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        api.handle().count(&object).expect("count"),
        applied,
        "no row after cancel"
    );
    assert!(applied < 40);
    assert_eq!(state(&api, id), ImportState::Canceled);

    let again = api
        .post(&format!("{IMPORTS}/{id}/cancel"), &json!({}))
        .await;
    assert_validation(&again, "is CANCELED");
    let unknown = api.post(&format!("{IMPORTS}/123/cancel"), &json!({})).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
    assert_eq!(unknown.body["category"], "OBJECT_NOT_FOUND");
    assert_validation(&api.get(&format!("{IMPORTS}/abc")).await, "int64");
    assert_validation(
        &api.post(&format!("{IMPORTS}/abc/cancel"), &json!({})).await,
        "int64",
    );
    assert_eq!(
        api.get(&format!("{IMPORTS}/99999999")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.get("/crm/v3/imports/").await.body,
        json!({ "results": [] })
    );
}

#[tokio::test]
async fn a_fourth_concurrent_import_waits_until_one_finishes() {
    let api = Api::start().await;
    let object = api.create_account_object().await;
    settings(&api, 0, 1);
    let mut ids = Vec::new();
    for n in 0..4 {
        let rows: Vec<String> = (0..30).map(|i| format!("Q{n}-{i},x,1,,,,,")).collect();
        let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
        ids.push(import_id(
            &start(
                &api,
                &account_request(&object, &format!("q{n}")),
                "accounts.csv",
                &account_csv(&rows),
            )
            .await,
        ));
    }
    wait_for(&api, "three processing", |api| {
        ids[..3]
            .iter()
            .all(|id| state(api, *id) == ImportState::Processing)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        state(&api, ids[3]),
        ImportState::Started,
        "a fourth import waits"
    );

    // All four are active; the list pages.
    let first = api.get("/crm/v3/imports/?limit=3").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let after = first.body["paging"]["next"]["after"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let second = api
        .get(&format!("/crm/imports/2026-09?limit=3&after={after}"))
        .await;
    let listed: Vec<String> = [&first, &second]
        .iter()
        .flat_map(|a| a.body["results"].as_array().cloned().unwrap_or_default())
        .filter_map(|i| i["id"].as_str().map(str::to_string))
        .collect();
    assert_eq!(listed, ids.iter().map(u64::to_string).collect::<Vec<_>>());
    assert!(second.body.get("paging").is_none());

    let canceled = api
        .post(&format!("{IMPORTS}/{}/cancel", ids[0]), &json!({}))
        .await;
    assert_eq!(canceled.status, StatusCode::OK);
    wait_for_state(&api, ids[3], ImportState::Processing).await;
}

#[tokio::test]
async fn import_calls_count_in_the_rolling_window_faults_and_stats() {
    let api = Api::start().await;
    let object = api.create_account_object().await;
    settings(&api, 0, 0);
    api.handle().reset_stats().expect("reset");
    api.handle()
        .set_rate_limit(RateLimitConfig {
            max: 4,
            ..RateLimitConfig::default()
        })
        .expect("limits");
    let csv = account_csv(&["R-1,a,1,,,,,", "R-2,b,1,,,,,", "R-3,c,1,,,,,"]);
    let started = start_at(
        &api,
        "/crm/imports/2026-03",
        Some(&account_request(&object, "window")),
        &[("accounts.csv", csv.into_bytes())],
    )
    .await;
    let id = import_id(&started);
    assert_eq!(
        started.header("x-hubspot-ratelimit-remaining").as_deref(),
        Some("3")
    );
    assert_eq!(
        api.get(&format!("{IMPORTS}/{id}")).await.status,
        StatusCode::OK
    );
    assert_eq!(errors(&api, id, "").await.status, StatusCode::OK);
    assert_eq!(api.get(IMPORTS).await.status, StatusCode::OK);
    let limited = api
        .post(&format!("{IMPORTS}/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        limited.body
    );
    assert_eq!(limited.body["policyName"], "TEN_SECONDLY_ROLLING");

    let stats = api.handle().stats().expect("stats");
    for route in [
        "POST /crm/imports",
        "GET /crm/imports/{importId}",
        "GET /crm/imports/{importId}/errors",
        "GET /crm/imports",
        "POST /crm/imports/{importId}/cancel",
    ] {
        assert_eq!(
            stats.calls_by_route.get(route),
            Some(&1),
            "{route}: {:?}",
            stats.calls_by_route
        );
    }
    assert_eq!(stats.max_inputs_by_route.get("POST /crm/imports"), Some(&3));
    assert_eq!(stats.rate_limited_429, 1);

    // Injected faults answer before the handler: no import starts.
    api.handle()
        .set_rate_limit(RateLimitConfig::default())
        .expect("limits");
    api.handle()
        .set_faults(FaultPlan {
            rate_503: 1.0,
            ..FaultPlan::default()
        })
        .expect("faults");
    let csv = account_csv(&["R-9,z,1,,,,,"]);
    let faulted = start(
        &api,
        &account_request(&object, "faulted"),
        "accounts.csv",
        &csv,
    )
    .await;
    assert_eq!(faulted.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(api.handle().imports_started().expect("started"), 1);
}

#[tokio::test]
async fn the_handle_can_fail_an_import_as_the_portal_would() {
    let api = Api::start().await;
    let object = api.create_account_object().await;
    api.handle()
        .set_import_settings(ImportSettings {
            start_delay_ms: 0,
            rows_per_second: 0,
            fail_new_imports: true,
            ..ImportSettings::default()
        })
        .expect("settings");
    let csv = account_csv(&["F-1,a,1,,,,,", "F-2,b,1,,,,,"]);
    let id = import_id(
        &start(
            &api,
            &account_request(&object, "fails"),
            "accounts.csv",
            &csv,
        )
        .await,
    );
    wait_for_state(&api, id, ImportState::Failed).await;
    assert_eq!(api.handle().count(&object).expect("count"), 0);
    let failed = api.get(&format!("{IMPORTS}/{id}")).await;
    assert_eq!(failed.body["state"], "FAILED");
    let list = errors(&api, id, "").await;
    assert_eq!(
        list.body["results"].as_array().map(Vec::len),
        Some(1),
        "{}",
        list.body
    );
    assert_eq!(list.body["results"][0]["sourceData"]["lineNumber"], 0);
    assert_eq!(list.body["results"][0]["errorType"], "UNKNOWN_ERROR");
    assert_validation(
        &api.post(&format!("{IMPORTS}/{id}/cancel"), &json!({}))
            .await,
        "is FAILED",
    );

    // A running import forced to FAILED keeps the rows it applied and stops.
    settings(&api, 0, 10);
    let rows: Vec<String> = (0..40).map(|i| format!("G-{i},x,1,,,,,")).collect();
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let running = import_id(
        &start(
            &api,
            &account_request(&object, "running"),
            "accounts.csv",
            &account_csv(&rows),
        )
        .await,
    );
    wait_for(&api, "a row", |api| {
        api.handle().count(&object).unwrap_or(0) >= 1
    })
    .await;
    assert!(api.handle().fail_import(running).expect("fail"));
    let applied = api.handle().count(&object).expect("count");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(api.handle().count(&object).expect("count"), applied);
    assert_eq!(state(&api, running), ImportState::Failed);
    assert!(
        !api.handle().fail_import(running).expect("fail"),
        "terminal states never change"
    );

    settings(&api, 0, 0);
    let done = import_id(
        &start(
            &api,
            &account_request(&object, "done"),
            "accounts.csv",
            &csv,
        )
        .await,
    );
    wait_for_state(&api, done, ImportState::Done).await;
    assert!(!api.handle().fail_import(done).expect("fail"));
    assert_eq!(state(&api, done), ImportState::Done);
}

#[tokio::test]
async fn create_update_and_record_id_columns_follow_the_operation() {
    let api = Api::start().await;
    let object = api.create_account_object().await;
    settings(&api, 0, 0);
    let existing = api
        .handle()
        .seed_record(
            &object,
            &[("salesforce_id", "S-1"), ("account_name", "One")],
        )
        .expect("seed");

    let mut create = account_request(&object, "create");
    create["importOperations"] = json!({ object.clone(): "CREATE" });
    let id = import_id(
        &start(
            &api,
            &create,
            "accounts.csv",
            &account_csv(&["S-1,dup,,,,,,", "S-2,Two,,,,,,"]),
        )
        .await,
    );
    wait_for_state(&api, id, ImportState::Done).await;
    let list = errors(&api, id, "").await;
    assert_eq!(
        list.body["results"][0]["errorType"], "CREATE_ONLY_IMPORT",
        "{}",
        list.body
    );
    assert_eq!(list.body["results"][0]["sourceData"]["lineNumber"], 2);
    assert_eq!(
        read_account(&api, &object, "S-1").await.body["properties"]["account_name"],
        "One"
    );
    assert_eq!(
        read_account(&api, &object, "S-2").await.status,
        StatusCode::OK
    );

    let mut update = account_request(&object, "update");
    update["importOperations"] = json!({ object.clone(): "UPDATE" });
    update["dateFormat"] = json!("DAY_MONTH_YEAR");
    let id = import_id(
        &start(
            &api,
            &update,
            "accounts.csv",
            &account_csv(&["S-1,Uno,,31/01/2024,,,,", "S-3,Three,,,,,,"]),
        )
        .await,
    );
    wait_for_state(&api, id, ImportState::Done).await;
    let list = errors(&api, id, "").await;
    assert_eq!(
        list.body["results"][0]["errorType"], "UPDATE_ONLY_IMPORT",
        "{}",
        list.body
    );
    assert_eq!(list.body["results"][0]["invalidValue"], "S-3");
    let one = read_account(&api, &object, "S-1").await;
    assert_eq!(one.body["properties"]["account_name"], "Uno");
    assert_eq!(one.body["properties"]["since"], "2024-01-31");
    assert_eq!(
        read_account(&api, &object, "S-3").await.status,
        StatusCode::NOT_FOUND
    );

    // Record ids: HUBSPOT_OBJECT_ID maps to hs_object_id.
    let by_record_id = json!({
        "name": "by id",
        "importOperations": { object.clone(): "UPDATE" },
        "files": [{
            "fileName": "ids.csv",
            "fileFormat": "CSV",
            "fileImportPage": { "hasHeader": true, "columnMappings": [
                { "columnObjectTypeId": object, "columnName": "Record ID", "propertyName": "hs_object_id", "columnType": "HUBSPOT_OBJECT_ID" },
                { "columnObjectTypeId": object, "columnName": "Name", "propertyName": "account_name" },
            ] },
        }],
    });
    let csv = format!("Record ID,Name\n{existing},Eins\n1,Nobody\nabc,Bad\n");
    let id = import_id(&start(&api, &by_record_id, "ids.csv", &csv).await);
    wait_for_state(&api, id, ImportState::Done).await;
    let list = errors(&api, id, "").await;
    let types: Vec<&str> = list.body["results"]
        .as_array()
        .map(|r| r.iter().filter_map(|e| e["errorType"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        types,
        ["UPDATE_ONLY_IMPORT", "INVALID_OBJECT_ID"],
        "{}",
        list.body
    );
    assert_eq!(
        read_account(&api, &object, "S-1").await.body["properties"]["account_name"],
        "Eins"
    );
    assert_eq!(counter(&api, id, "UPDATED_OBJECTS"), 1);

    let mut wrong_property = by_record_id.clone();
    wrong_property["files"][0]["fileImportPage"]["columnMappings"][0]["propertyName"] =
        json!("salesforce_id");
    assert_validation(
        &start(&api, &wrong_property, "ids.csv", &csv).await,
        "maps to hs_object_id",
    );
}
