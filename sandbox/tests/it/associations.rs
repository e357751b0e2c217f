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
