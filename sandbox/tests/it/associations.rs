//! Associations v4 over both path styles (hubspot.md §3).

use crate::common::{Api, account_input};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn upsert_account(api: &Api, object: &str, sf_id: &str) -> String {
    let answer = api
        .post(
            &format!("/crm/objects/2026-03/{object}/batch/upsert"),
            &json!({ "inputs": [account_input(sf_id, "A", None)] }),
        )
        .await;
    answer.body["results"][0]["id"]
        .as_str()
        .expect("id")
        .to_string()
}

async fn upsert_company(api: &Api, sf_id: &str) -> String {
    let answer = api
        .post(
            "/crm/v3/objects/companies/batch/upsert",
            &json!({ "inputs": [{ "id": sf_id, "idProperty": "salesforceaccountid",
                                  "properties": { "name": sf_id } }] }),
        )
        .await;
    answer.body["results"][0]["id"]
        .as_str()
        .expect("id")
        .to_string()
}

#[tokio::test]
async fn labels_batch_create_and_unknown_ids() {
    let api = Api::start().await;
    let object = api.create_account_object().await;

    // The schema's associatedObjects made an unlabeled USER_DEFINED pair, both directions.
    let labels = api
        .get(&format!(
            "/crm/associations/2026-03/{object}/companies/labels"
        ))
        .await;
    assert_eq!(labels.status, StatusCode::OK);
    let results = labels.body["results"].as_array().expect("results");
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["category"], "USER_DEFINED");
    let forward = results[0]["typeId"].as_u64().expect("typeId");
    let inverse = api
        .get(&format!("/crm/v4/associations/0-2/{object}/labels"))
        .await;
    let inverse_id = inverse.body["results"][0]["typeId"]
        .as_u64()
        .expect("typeId");
    assert_ne!(forward, inverse_id, "type ids are directional");

    // A labelled type via POST .../labels.
    let created = api
        .post(
            &format!("/crm/v4/associations/{object}/companies/labels"),
            &json!({ "label": "Billing account", "name": "billing_account", "inverseLabel": "Billed by" }),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let billing = created.body["results"][0]["typeId"]
        .as_u64()
        .expect("typeId");

    let account = upsert_account(&api, &object, "001A").await;
    let company = upsert_company(&api, "001A").await;
    let answer = api
        .post(
            &format!("/crm/associations/2026-03/{object}/companies/batch/create"),
            &json!({ "inputs": [{
                "from": { "id": account }, "to": { "id": company },
                "types": [
                    { "associationCategory": "USER_DEFINED", "associationTypeId": forward },
                    { "associationCategory": "USER_DEFINED", "associationTypeId": billing }
                ]
            }] }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    assert_eq!(
        answer.body["results"][0]["labels"],
        json!(["Billing account"])
    );
    let account_id: u64 = account.parse().expect("numeric");
    let company_id: u64 = company.parse().expect("numeric");
    assert_eq!(answer.body["results"][0]["fromObjectId"], account_id);

    let stored = api
        .handle()
        .associations_of(&object, account_id, "companies")
        .expect("associations");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].0, company_id);
    let back = api
        .handle()
        .associations_of("companies", company_id, &object)
        .expect("inverse");
    assert_eq!(back[0].0, account_id);

    // Unknown record id and unknown / wrong-direction type id → 207 with errors.
    let partial = api
        .post(
            &format!("/crm/v4/associations/{object}/companies/batch/create"),
            &json!({ "inputs": [
                { "from": { "id": "99999" }, "to": { "id": company },
                  "types": [ { "associationCategory": "USER_DEFINED", "associationTypeId": forward } ] },
                { "from": { "id": account }, "to": { "id": company },
                  "types": [ { "associationCategory": "USER_DEFINED", "associationTypeId": inverse_id } ] },
                { "from": { "id": account }, "to": { "id": company },
                  "types": [ { "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": forward } ] },
            ] }),
        )
        .await;
    assert_eq!(partial.status, StatusCode::MULTI_STATUS, "{}", partial.body);
    let errors = partial.body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 3);
    assert_eq!(errors[0]["category"], "OBJECT_NOT_FOUND");
    assert!(
        errors[1..]
            .iter()
            .all(|e| e["category"] == "VALIDATION_ERROR")
    );

    let read = api
        .post(
            &format!("/crm/associations/2026-03/{object}/companies/batch/read"),
            &json!({ "inputs": [{ "id": account }] }),
        )
        .await;
    assert_eq!(read.status, StatusCode::OK);
    let to: &Value = &read.body["results"][0]["to"][0];
    assert_eq!(to["toObjectId"], company_id);
    assert_eq!(to["associationTypes"].as_array().map(Vec::len), Some(2));

    let archived = api
        .post(
            &format!("/crm/v4/associations/{object}/companies/batch/archive"),
            &json!({ "inputs": [{ "from": { "id": account }, "to": [{ "id": company }] }] }),
        )
        .await;
    assert_eq!(archived.status, StatusCode::NO_CONTENT);
    assert!(
        api.handle()
            .associations_of("companies", company_id, &object)
            .expect("inverse")
            .is_empty()
    );
}

#[tokio::test]
async fn standard_pairs_have_hubspot_defined_defaults() {
    let api = Api::start().await;
    let labels = api
        .get("/crm/v4/associations/contacts/companies/labels")
        .await;
    let results = labels.body["results"].as_array().expect("results");
    assert!(
        results
            .iter()
            .any(|r| r["category"] == "HUBSPOT_DEFINED" && r["typeId"] == 279)
    );
    assert!(
        results
            .iter()
            .any(|r| r["typeId"] == 1 && r["label"] == "Primary")
    );

    let contact = api
        .post(
            "/crm/v3/objects/contacts/batch/upsert",
            &json!({ "inputs": [{ "id": "a@b.co", "idProperty": "email", "properties": {} }] }),
        )
        .await;
    let contact = contact.body["results"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let company = upsert_company(&api, "001C").await;
    let answer = api
        .post(
            "/crm/associations/2026-03/contacts/companies/batch/associate/default",
            &json!({ "inputs": [{ "from": { "id": contact }, "to": { "id": company } }] }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(
        answer.body["results"][0]["associationSpec"],
        json!({ "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279 })
    );
}

/// platform-behaviours.md H3: labels users add live beside an integration's associations;
/// `batch/labels/archive` removes only the types it names.
#[tokio::test]
async fn labels_archive_removes_only_the_types_named() {
    let api = Api::start().await;
    let object = api.create_account_object().await;
    let labels = api
        .get(&format!("/crm/v4/associations/{object}/companies/labels"))
        .await;
    let unlabeled = labels.body["results"][0]["typeId"]
        .as_u64()
        .expect("typeId");
    let created = api
        .post(
            &format!("/crm/v4/associations/{object}/companies/labels"),
            &json!({ "label": "Billing account", "name": "billing_account" }),
        )
        .await;
    let billing = created.body["results"][0]["typeId"]
        .as_u64()
        .expect("typeId");
    let account = upsert_account(&api, &object, "001A").await;
    let company = upsert_company(&api, "001A").await;
    let types = |ids: &[u64]| -> Vec<Value> {
        ids.iter()
            .map(|id| json!({ "associationCategory": "USER_DEFINED", "associationTypeId": id }))
            .collect()
    };
    let answer = api
        .post(
            &format!("/crm/v4/associations/{object}/companies/batch/create"),
            &json!({ "inputs": [{ "from": { "id": account }, "to": { "id": company },
                                  "types": types(&[unlabeled, billing]) }] }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);

    let archived = api
        .post(
            &format!("/crm/v4/associations/{object}/companies/batch/labels/archive"),
            &json!({ "inputs": [{ "from": { "id": account }, "to": { "id": company },
                                  "types": types(&[unlabeled]) }] }),
        )
        .await;
    assert_eq!(archived.status, StatusCode::NO_CONTENT, "{}", archived.body);
    let read = api
        .post(
            &format!("/crm/v4/associations/{object}/companies/batch/read"),
            &json!({ "inputs": [{ "id": account }] }),
        )
        .await;
    let left: Vec<u64> = read.body["results"][0]["to"][0]["associationTypes"]
        .as_array()
        .expect("types")
        .iter()
        .filter_map(|t| t["typeId"].as_u64())
        .collect();
    assert_eq!(left, [billing], "the user's label stays: {}", read.body);

    let unknown = api
        .post(
            &format!("/crm/v4/associations/{object}/companies/batch/labels/archive"),
            &json!({ "inputs": [{ "from": { "id": account }, "to": { "id": company },
                                  "types": types(&[999_999]) }] }),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST, "{}", unknown.body);
}

/// A record's associations come in pages of 500 per batch-read input, the next asked for with
/// `after` (platform-behaviours.md H3).
#[tokio::test]
async fn batch_read_pages_a_records_associations() {
    let api = Api::start().await;
    let object = api.create_account_object().await;
    let account = upsert_account(&api, &object, "001A").await;
    let inputs: Vec<Value> = (0..520)
        .map(|n| {
            json!({ "id": format!("C{n:04}"), "idProperty": "salesforceaccountid",
                         "properties": { "name": format!("C{n}") } })
        })
        .collect();
    let mut companies = Vec::new();
    for chunk in inputs.chunks(100) {
        let answer = api
            .post(
                "/crm/v3/objects/companies/batch/upsert",
                &json!({ "inputs": chunk }),
            )
            .await;
        for result in answer.body["results"].as_array().expect("results") {
            companies.push(result["id"].as_str().expect("id").to_owned());
        }
    }
    let links: Vec<Value> = companies
        .iter()
        .map(|c| json!({ "from": { "id": account }, "to": { "id": c } }))
        .collect();
    let answer = api
        .post(
            &format!("/crm/v4/associations/{object}/companies/batch/associate/default"),
            &json!({ "inputs": links }),
        )
        .await;
    assert!(answer.status.is_success(), "{}", answer.body);

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut input = json!({ "id": account });
        if let Some(cursor) = &after {
            input["after"] = json!(cursor);
        }
        let read = api
            .post(
                &format!("/crm/v4/associations/{object}/companies/batch/read"),
                &json!({ "inputs": [input] }),
            )
            .await;
        let result = &read.body["results"][0];
        seen.extend(
            result["to"]
                .as_array()
                .expect("to")
                .iter()
                .filter_map(|t| t["toObjectId"].as_u64()),
        );
        pages += 1;
        match result["paging"]["next"]["after"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 2);
    assert_eq!(seen.len(), 520);
    seen.dedup();
    assert_eq!(seen.len(), 520, "no association twice");
}
