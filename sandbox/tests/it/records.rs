//! Records API strictness over real HTTP (hubspot.md §2).

use crate::common::{Api, DATED_OBJECTS, LEGACY_OBJECTS, account_input, fixture, keys};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sf2hs_sandbox::hubspot::SandboxConfig;

fn upsert_path(prefix: &str, object: &str) -> String {
    format!("{prefix}/{object}/batch/upsert")
}

#[tokio::test]
async fn upsert_creates_then_updates_on_both_path_styles() {
    let api = Api::start().await;
    let object = api.create_account_object().await;

    let created = api
        .post(
            &upsert_path(DATED_OBJECTS, &object),
            &json!({ "inputs": [account_input("001A", "Acme", None)] }),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert_eq!(created.body["status"], "COMPLETE");
    let result = &created.body["results"][0];
    assert_eq!(result["new"], true);
    assert_eq!(result["archived"], false);
    assert_eq!(result["properties"]["salesforce_id"], "001A");
    assert_eq!(result["properties"]["hs_object_id"], result["id"]);
    for key in ["id", "properties", "createdAt", "updatedAt"] {
        assert!(result.get(key).is_some(), "missing {key}");
    }

    // The same unique value through the legacy path updates the same record.
    let updated = api
        .post(
            &upsert_path(LEGACY_OBJECTS, "p7878787_sf_account"),
            &json!({ "inputs": [account_input("001A", "Acme Corp", None)] }),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!(updated.body["results"][0]["new"], false);
    assert_eq!(updated.body["results"][0]["id"], result["id"]);
    assert_eq!(
        updated.body["results"][0]["properties"]["account_name"],
        "Acme Corp"
    );
    assert_eq!(api.handle().count(&object).expect("count"), 1);
    let stored = api
        .handle()
        .record_by_unique(&object, "salesforce_id", "001A")
        .expect("lookup")
        .expect("stored");
    assert_eq!(stored.properties["account_name"], "Acme Corp");
}

/// platform-behaviours.md H1: custom objects by objectTypeId, fullyQualifiedName or `p_{name}`;
/// the bare base name is refused everywhere an object type goes in a path.
#[tokio::test]
async fn a_custom_objects_base_name_is_refused_in_every_path() {
    let api = Api::start().await;
    let object = api.create_account_object().await;
    let body = json!({ "inputs": [account_input("001A", "Acme", None)] });
    for form in [object.as_str(), "p7878787_sf_account", "p_sf_account"] {
        let answer = api.post(&upsert_path(DATED_OBJECTS, form), &body).await;
        assert_eq!(answer.status, StatusCode::OK, "{form}: {}", answer.body);
    }
    let refused = api
        .post(&upsert_path(DATED_OBJECTS, "sf_account"), &body)
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert_eq!(
        refused.body["message"],
        "Unable to infer object type from: sf_account"
    );
    for path in [
        "/crm/v3/properties/sf_account".to_owned(),
        "/crm-object-schemas/v3/schemas/sf_account".to_owned(),
        "/crm/v4/associations/sf_account/companies/labels".to_owned(),
        format!("{LEGACY_OBJECTS}/sf_account?limit=10"),
    ] {
        let answer = api.get(&path).await;
        assert!(
            answer.status == StatusCode::BAD_REQUEST || answer.status == StatusCode::NOT_FOUND,
            "{path}: {} {}",
            answer.status,
            answer.body
        );
    }
    // Standard objects keep their names.
    let companies = api.get("/crm/v3/properties/companies").await;
    assert_eq!(companies.status, StatusCode::OK, "{}", companies.body);
}

#[tokio::test]
async fn more_than_100_inputs_is_a_400_naming_the_limit() {
    let api = Api::start().await;
    let object = api.create_account_object().await;
    let inputs: Vec<Value> = (0..101)
        .map(|i| account_input(&format!("SF{i}"), "x", None))
        .collect();
    let answer = api
        .post(
            &upsert_path(DATED_OBJECTS, &object),
            &json!({ "inputs": inputs }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["category"], "VALIDATION_ERROR");
    let message = answer.body["message"].as_str().unwrap_or_default();
    assert!(message.contains("100"), "{message}");
    assert_eq!(api.handle().count(&object).expect("count"), 0);
}

#[tokio::test]
async fn duplicate_ids_reject_the_whole_batch_like_the_fixture() {
    let api = Api::start().await;
    let object = api.create_account_object().await;
    let answer = api
        .post(
            &upsert_path(DATED_OBJECTS, &object),
            &json!({ "inputs": [
                account_input("12877907025", "a", Some("1")),
                account_input("OTHER", "b", Some("2")),
                account_input("12877907025", "c", Some("3")),
            ] }),
        )
        .await;
    let expected = fixture("error-400-duplicate-ids.json");
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(keys(&answer.body), keys(&expected));
    assert_eq!(answer.body["message"], expected["message"]);
    assert_eq!(answer.body["context"], expected["context"]);
    assert_eq!(answer.body["category"], expected["category"]);
    assert_ne!(answer.body["correlationId"], expected["correlationId"]);
    assert_eq!(api.handle().count(&object).expect("count"), 0);
}

#[tokio::test]
async fn malformed_body_answers_like_the_fixture() {
    let api = Api::start().await;
    let object = api.create_account_object().await;
    let expected = fixture("error-400-malformed-body.json");
    for body in [
        "{\"inputs\": [",
        "[1, 2]",
        "{\"inputs\": [{\"id\": \"x\"}]}",
    ] {
        let answer = api
            .post_raw(&upsert_path(DATED_OBJECTS, &object), body)
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(keys(&answer.body), keys(&expected), "{body}");
        let message = answer.body["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with("Invalid input JSON on line "),
            "{message}"
        );
    }
}

#[tokio::test]
async fn non_unique_id_property_is_refused() {
    let api = Api::start().await;
    let object = api.create_account_object().await;
    for prop in ["account_name", "hs_object_id"] {
        let answer = api
            .post(
                &upsert_path(DATED_OBJECTS, &object),
                &json!({ "inputs": [{ "id": "1", "idProperty": prop, "properties": {} }] }),
            )
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert_eq!(answer.body["category"], "VALIDATION_ERROR");
        let message = answer.body["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with(&format!(
                "Unable to perform update/upsert by non-unique {object} property {prop}"
            )),
            "{message}"
        );
    }
    // Standard objects: salesforceaccountid is unique, name is not.
    let ok = api
        .post(
            &upsert_path(LEGACY_OBJECTS, "companies"),
            &json!({ "inputs": [{ "id": "001X", "idProperty": "salesforceaccountid",
                                  "properties": { "name": "Acme" } }] }),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let refused = api
        .post(
            &upsert_path(LEGACY_OBJECTS, "companies"),
            &json!({ "inputs": [{ "id": "Acme", "idProperty": "name", "properties": {} }] }),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bad_value_with_trace_ids_gives_207_and_writes_the_good_inputs() {
    let api = Api::start().await;
    let object = api.create_account_object().await;
    let mut bad = account_input("SF-BAD", "Bad", Some("trace-2"));
    bad["properties"]["revenue"] = json!("twelve");
    let answer = api
        .post(
            &upsert_path(DATED_OBJECTS, &object),
            &json!({ "inputs": [
                account_input("SF-1", "Good one", Some("trace-1")),
                bad,
                account_input("SF-3", "Good three", Some("trace-3")),
            ] }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::MULTI_STATUS, "{}", answer.body);
    let fixture_error = &fixture("batch-upsert-207-response.json")["errors"][0];
    let errors = answer.body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1);
    assert!(keys(fixture_error).is_subset(&keys(&errors[0])));
    assert_eq!(errors[0]["status"], "error");
    assert_eq!(errors[0]["category"], "VALIDATION_ERROR");
    assert_eq!(
        errors[0]["context"]["objectWriteTraceId"],
        json!(["trace-2"])
    );
    assert_eq!(errors[0]["context"]["propertyName"], json!(["revenue"]));
    assert_eq!(answer.body["numErrors"], 1);
    let results = answer.body["results"].as_array().expect("results");
    assert_eq!(results.len(), 2);
    assert!(results.iter().all(|r| r["new"] == true));
    let handle = api.handle();
    assert_eq!(handle.count(&object).expect("count"), 2);
    assert!(
        handle
            .record_by_unique(&object, "salesforce_id", "SF-BAD")
            .expect("lookup")
            .is_none()
    );
}

/// platform-behaviours.md H2: a value over 65,536 characters is refused for its record only.
#[tokio::test]
async fn a_value_over_65536_characters_is_refused_per_record() {
    let api = Api::start().await;
    let object = api.create_account_object().await;
    let mut long = account_input("SF-LONG", "Long", Some("trace-2"));
    long["properties"]["account_name"] = json!("é".repeat(65_537));
    let mut at_limit = account_input("SF-LIMIT", "Limit", Some("trace-3"));
    at_limit["properties"]["account_name"] = json!("é".repeat(65_536));
    let answer = api
        .post(
            &upsert_path(DATED_OBJECTS, &object),
            &json!({ "inputs": [account_input("SF-1", "Good", Some("trace-1")), long, at_limit] }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::MULTI_STATUS, "{}", answer.body);
    let errors = answer.body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0]["context"]["objectWriteTraceId"],
        json!(["trace-2"])
    );
    assert!(
        errors[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("65537 characters")),
        "{}",
        errors[0]
    );
    assert_eq!(api.handle().count(&object).expect("count"), 2);
}

#[tokio::test]
async fn bad_value_without_trace_ids_rejects_the_whole_batch() {
    let api = Api::start().await;
    let object = api.create_account_object().await;
    let mut bad = account_input("SF-BAD", "Bad", None);
    bad["properties"]["tier"] = json!("platinum");
    let answer = api
        .post(
            &upsert_path(DATED_OBJECTS, &object),
            &json!({ "inputs": [account_input("SF-1", "Good", None), bad] }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
    assert_eq!(answer.body["category"], "VALIDATION_ERROR");
    assert!(
        answer.body["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Property values were not valid")
    );
    assert_eq!(api.handle().count(&object).expect("count"), 0);

    // Only some inputs traced is not multi-status either (the docs ask for every input).
    let mut bad = account_input("SF-BAD", "Bad", Some("t2"));
    bad["properties"]["active"] = json!("yes");
    let answer = api
        .post(
            &upsert_path(DATED_OBJECTS, &object),
            &json!({ "inputs": [account_input("SF-1", "Good", None), bad] }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(api.handle().count(&object).expect("count"), 0);
}

#[tokio::test]
async fn value_formats_are_checked_per_type() {
    let api = Api::start().await;
    let object = api.create_account_object().await;
    let path = upsert_path(DATED_OBJECTS, &object);
    let cases: &[(&str, &str, bool)] = &[
        ("since", "1430438400000", true),
        ("since", "1430438400001", false),
        ("since", "2015-05-01", true),
        ("since", "05/01/2015", false),
        ("last_seen", "1430438400001", true),
        ("last_seen", "2024-04-16T09:50:16.034Z", true),
        ("last_seen", "tomorrow", false),
        ("revenue", "-12.5", true),
        ("revenue", "1e5", false),
        ("active", "true", true),
        ("active", "TRUE", false),
        ("tier", "gold", true),
        ("tier", "gold;silver", false),
        ("regions", "emea;apac", true),
        ("regions", "emea;mars", false),
        ("nonexistent_prop", "x", false),
        ("hs_object_id", "5", false),
        ("account_name", "", true),
    ];
    for (i, (prop, value, ok)) in cases.iter().enumerate() {
        let answer = api
            .post(
                &path,
                &json!({ "inputs": [{
                    "id": format!("FMT-{i}"), "idProperty": "salesforce_id",
                    "properties": { *prop: *value }, "objectWriteTraceId": "t"
                }] }),
            )
            .await;
        let expected = if *ok {
            StatusCode::OK
        } else {
            StatusCode::MULTI_STATUS
        };
        assert_eq!(answer.status, expected, "{prop}={value}: {}", answer.body);
    }
    // Dates are read back as YYYY-MM-DD, datetimes as ISO 8601.
    let record = api
        .handle()
        .record_by_unique(&object, "salesforce_id", "FMT-0")
        .expect("lookup")
        .expect("stored");
    assert_eq!(record.properties["since"], "2015-05-01");
    let record = api
        .handle()
        .record_by_unique(&object, "salesforce_id", "FMT-4")
        .expect("lookup")
        .expect("stored");
    assert_eq!(record.properties["last_seen"], "2015-05-01T00:00:00.001Z");
}

#[tokio::test]
async fn results_are_shuffled_not_positional() {
    let config = SandboxConfig {
        seed: 42,
        ..SandboxConfig::default()
    };
    let api = Api::start_with(config).await;
    let object = api.create_account_object().await;
    let inputs: Vec<Value> = (0..50)
        .map(|i| account_input(&format!("ORD-{i:02}"), "x", None))
        .collect();
    let answer = api
        .post(
            &upsert_path(DATED_OBJECTS, &object),
            &json!({ "inputs": inputs }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let returned: Vec<String> = answer.body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            r["properties"]["salesforce_id"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    let sent: Vec<String> = (0..50).map(|i| format!("ORD-{i:02}")).collect();
    assert_eq!(returned.len(), 50);
    assert_ne!(returned, sent, "results came back in input order");
    let mut sorted = returned.clone();
    sorted.sort();
    assert_eq!(sorted, sent);
}

#[tokio::test]
async fn archive_then_read_and_upsert_creates_a_new_record() {
    let api = Api::start().await;
    let object = api.create_account_object().await;
    let created = api
        .post(
            &upsert_path(DATED_OBJECTS, &object),
            &json!({ "inputs": [account_input("ARC-1", "To archive", None)] }),
        )
        .await;
    let id = created.body["results"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();

    let read = api
        .post(
            &format!("{DATED_OBJECTS}/{object}/batch/read"),
            &json!({ "inputs": [{ "id": "ARC-1" }], "idProperty": "salesforce_id",
                     "properties": ["account_name"] }),
        )
        .await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body["results"][0]["id"], id.as_str());
    assert_eq!(
        read.body["results"][0]["properties"]["account_name"],
        "To archive"
    );

    let archived = api
        .post(
            &format!("{LEGACY_OBJECTS}/{object}/batch/archive"),
            &json!({ "inputs": [{ "id": id }] }),
        )
        .await;
    assert_eq!(archived.status, StatusCode::NO_CONTENT);

    let read = api
        .post(
            &format!("{DATED_OBJECTS}/{object}/batch/read"),
            &json!({ "inputs": [{ "id": id }], "properties": [] }),
        )
        .await;
    assert_eq!(read.status, StatusCode::MULTI_STATUS);
    assert_eq!(read.body["results"], json!([]));
    assert_eq!(read.body["errors"][0]["category"], "OBJECT_NOT_FOUND");
    assert_eq!(read.body["errors"][0]["context"]["ids"], json!([id]));

    let archived_read = api
        .post(
            &format!("{DATED_OBJECTS}/{object}/batch/read?archived=true"),
            &json!({ "inputs": [{ "id": id }], "properties": [] }),
        )
        .await;
    assert_eq!(archived_read.status, StatusCode::OK);
    assert_eq!(archived_read.body["results"][0]["archived"], true);

    let single = api.get(&format!("{DATED_OBJECTS}/{object}/{id}")).await;
    assert_eq!(single.status, StatusCode::NOT_FOUND);

    // Chosen behaviour (hubspot.md is silent): upsert after archive creates a new record.
    let again = api
        .post(
            &upsert_path(DATED_OBJECTS, &object),
            &json!({ "inputs": [account_input("ARC-1", "Back", None)] }),
        )
        .await;
    assert_eq!(again.body["results"][0]["new"], true);
    assert_ne!(again.body["results"][0]["id"], id.as_str());
    assert_eq!(api.handle().records(&object).expect("records").len(), 2);
}

#[tokio::test]
async fn single_get_by_id_and_by_id_property() {
    let api = Api::start().await;
    let object = api.create_account_object().await;
    let created = api
        .post(
            &upsert_path(DATED_OBJECTS, &object),
            &json!({ "inputs": [account_input("GET-1", "Gettable", None)] }),
        )
        .await;
    let id = created.body["results"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let by_id = api
        .get(&format!(
            "{LEGACY_OBJECTS}/{object}/{id}?properties=account_name,revenue"
        ))
        .await;
    assert_eq!(by_id.status, StatusCode::OK);
    assert_eq!(by_id.body["properties"]["revenue"], "1200.50");
    let by_unique = api
        .get(&format!(
            "{DATED_OBJECTS}/p_sf_account/GET-1?idProperty=salesforce_id&properties=account_name"
        ))
        .await;
    assert_eq!(by_unique.status, StatusCode::OK);
    assert_eq!(by_unique.body["id"], id.as_str());
    let missing = api.get(&format!("{DATED_OBJECTS}/{object}/999")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["category"], "OBJECT_NOT_FOUND");
}

#[tokio::test]
async fn batch_update_by_record_id_reports_missing_records() {
    let api = Api::start().await;
    let object = api.create_account_object().await;
    let created = api
        .post(
            &upsert_path(DATED_OBJECTS, &object),
            &json!({ "inputs": [account_input("UPD-1", "Before", None)] }),
        )
        .await;
    let id = created.body["results"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let answer = api
        .post(
            &format!("{DATED_OBJECTS}/{object}/batch/update"),
            &json!({ "inputs": [
                { "id": id, "properties": { "account_name": "After" } },
                { "id": "424242", "properties": { "account_name": "Ghost" } },
            ] }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::MULTI_STATUS, "{}", answer.body);
    assert_eq!(
        answer.body["results"][0]["properties"]["account_name"],
        "After"
    );
    assert_eq!(answer.body["errors"][0]["category"], "OBJECT_NOT_FOUND");
    assert_eq!(
        answer.body["errors"][0]["context"]["ids"],
        json!(["424242"])
    );
    let fixture_keys = keys(&fixture("batch-update-200.json")["results"][0]);
    assert!(fixture_keys.is_subset(&keys(&answer.body["results"][0])));

    let hs_object_id = api
        .post(
            &format!("{DATED_OBJECTS}/{object}/batch/update"),
            &json!({ "inputs": [{ "id": id, "idProperty": "hs_object_id", "properties": {} }] }),
        )
        .await;
    assert_eq!(hs_object_id.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn batch_create_validates_unique_values_and_inline_associations() {
    let api = Api::start().await;
    let object = api.create_account_object().await;
    let company = api
        .post(
            "/crm/v3/objects/companies/batch/create",
            &json!({ "inputs": [{ "properties": { "name": "Acme", "salesforceaccountid": "001Z" } }] }),
        )
        .await;
    assert_eq!(company.status, StatusCode::CREATED, "{}", company.body);
    let company_id = company.body["results"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let labels = api
        .get(&format!("/crm/v4/associations/{object}/companies/labels"))
        .await;
    let type_id = labels.body["results"][0]["typeId"].clone();

    let answer = api
        .post(
            &format!("{DATED_OBJECTS}/{object}/batch/create"),
            &json!({ "inputs": [
                { "properties": { "salesforce_id": "C-1" }, "objectWriteTraceId": "a",
                  "associations": [{ "to": { "id": company_id },
                      "types": [{ "associationCategory": "USER_DEFINED", "associationTypeId": type_id }] }] },
                { "properties": { "salesforce_id": "C-1" }, "objectWriteTraceId": "b" },
                { "properties": { "salesforce_id": "C-3" }, "objectWriteTraceId": "c",
                  "associations": [{ "to": { "id": "404" },
                      "types": [{ "associationCategory": "USER_DEFINED", "associationTypeId": type_id }] }] },
            ] }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::MULTI_STATUS, "{}", answer.body);
    assert_eq!(answer.body["results"].as_array().map(Vec::len), Some(1));
    let failed: Vec<_> = answer.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["context"]["objectWriteTraceId"][0].clone())
        .collect();
    assert!(failed.contains(&json!("b")) && failed.contains(&json!("c")));
    let created_id: u64 = answer.body["results"][0]["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("id");
    let links = api
        .handle()
        .associations_of(&object, created_id, "companies")
        .expect("links");
    assert_eq!(links.len(), 1);
}
