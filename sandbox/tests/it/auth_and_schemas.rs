//! Authentication, scopes, OAuth refresh, schemas and properties (hubspot.md §1, §5).

use std::collections::BTreeSet;

use crate::common::{Api, fixture, keys};
use reqwest::StatusCode;
use serde_json::json;
use sf2hs_sandbox::hubspot::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REFRESH_TOKEN, SandboxConfig, StaticToken,
};

#[tokio::test]
async fn missing_or_bad_token_is_401_with_hubspot_envelope() {
    let api = Api::start().await;
    let url = api.url("/crm/v3/properties/companies");
    for request in [
        api.http.get(&url),
        api.http.get(&url).bearer_auth("pat-na1-not-a-real-token"),
        api.http.get(&url).header("authorization", "Basic abc"),
    ] {
        let answer = api.send(request).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(answer.body["status"], "error");
        assert_eq!(answer.body["category"], "INVALID_AUTHENTICATION");
        assert!(answer.body["message"].is_string());
        assert!(answer.body["correlationId"].is_string());
    }
    assert_eq!(api.handle().stats().expect("stats").unauthorized, 3);
    assert_eq!(
        api.get("/crm/v3/properties/companies").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn oauth_refresh_issues_expiring_tokens_without_daily_headers() {
    let api = Api::start().await;
    let form = format!(
        "grant_type=refresh_token&client_id={DEFAULT_CLIENT_ID}&client_secret={DEFAULT_CLIENT_SECRET}&refresh_token={DEFAULT_REFRESH_TOKEN}"
    );
    let answer = api
        .send(
            api.http
                .post(api.url("/oauth/v1/token"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["token_type"], "bearer");
    assert_eq!(answer.body["expires_in"], 1800);
    assert_eq!(answer.body["refresh_token"], DEFAULT_REFRESH_TOKEN);
    let access = answer.body["access_token"]
        .as_str()
        .expect("token")
        .to_string();

    let with_oauth = api
        .send(
            api.http
                .get(api.url("/crm/v3/properties/contacts"))
                .bearer_auth(&access),
        )
        .await;
    assert_eq!(with_oauth.status, StatusCode::OK);
    assert!(with_oauth.header("x-hubspot-ratelimit-max").is_some());
    assert!(with_oauth.header("x-hubspot-ratelimit-daily").is_none());
    let with_static = api.get("/crm/v3/properties/contacts").await;
    assert!(with_static.header("x-hubspot-ratelimit-daily").is_some());
    assert!(
        with_static
            .header("x-hubspot-ratelimit-daily-remaining")
            .is_some()
    );

    assert!(api.handle().expire_token(&access).expect("expire"));
    let expired = api
        .send(
            api.http
                .get(api.url("/crm/v3/properties/contacts"))
                .bearer_auth(&access),
        )
        .await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(expired.body["category"], "INVALID_AUTHENTICATION");

    let bad = api
        .send(
            api.http
                .post(api.url("/oauth/v1/token"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!(
                    "grant_type=refresh_token&client_id={DEFAULT_CLIENT_ID}&client_secret={DEFAULT_CLIENT_SECRET}&refresh_token=nope"
                )),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["status"], "BAD_REFRESH_TOKEN");
}

#[tokio::test]
async fn token_without_write_scope_gets_403_missing_scopes() {
    let read_only: BTreeSet<String> = ["crm.objects.custom.read", "crm.schemas.custom.read"]
        .into_iter()
        .map(str::to_string)
        .collect();
    let mut config = SandboxConfig::default();
    config.static_tokens.push(StaticToken {
        token: "pat-na1-read-only".into(),
        scopes: Some(read_only),
    });
    let api = Api::start_with(config).await;
    let object = api.create_account_object().await;
    let reader = Api {
        sandbox: api.sandbox,
        http: api.http,
        token: "pat-na1-read-only".into(),
    };
    let read = reader
        .post(
            &format!("/crm/objects/2026-03/{object}/batch/read"),
            &json!({ "inputs": [], "properties": [] }),
        )
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    let write = reader
        .post(
            &format!("/crm/objects/2026-03/{object}/batch/upsert"),
            &json!({ "inputs": [] }),
        )
        .await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);
    assert_eq!(write.body["category"], "MISSING_SCOPES");
    assert_eq!(
        write.body["errors"][0]["context"]["requiredGranularScopes"],
        json!(["crm.objects.custom.write"])
    );
    let companies = reader
        .post(
            "/crm/v3/objects/companies/batch/upsert",
            &json!({ "inputs": [] }),
        )
        .await;
    assert_eq!(
        companies.body["errors"][0]["context"]["requiredGranularScopes"],
        json!(["crm.objects.companies.write"])
    );
}

#[tokio::test]
async fn schema_create_from_fixture_answers_the_fixture_shape() {
    let api = Api::start().await;
    let request = fixture("schema-create-request.json");
    let expected = fixture("schema-create-response.json");
    let answer = api.post("/crm-object-schemas/v3/schemas", &request).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    let missing: Vec<_> = keys(&expected)
        .difference(&keys(&answer.body))
        .cloned()
        .collect();
    assert!(missing.is_empty(), "missing keys {missing:?}");
    let property_missing: Vec<_> = keys(&expected["properties"][0])
        .difference(&keys(&answer.body["properties"][0]))
        .cloned()
        .collect();
    assert!(
        property_missing.is_empty(),
        "property keys {property_missing:?}"
    );
    let association_missing: Vec<_> = keys(&expected["associations"][0])
        .difference(&keys(&answer.body["associations"][0]))
        .cloned()
        .collect();
    assert!(association_missing.is_empty(), "{association_missing:?}");

    let body = &answer.body;
    let type_id = body["objectTypeId"].as_str().expect("objectTypeId");
    assert_eq!(type_id, format!("2-{}", body["id"].as_str().expect("id")));
    assert_eq!(body["fullyQualifiedName"], "p7878787_my_object");
    assert_eq!(body["properties"][0]["type"], "string");
    assert_eq!(body["properties"][0]["fieldType"], "text");
    assert_eq!(body["properties"][0]["groupName"], "my_object_information");
    assert_eq!(body["associations"][0]["toObjectTypeId"], "0-1");
    assert_eq!(body["associations"][0]["name"], "my_object_to_contact");
    assert_eq!(body["searchableProperties"], json!(["my_object_property"]));

    for path in [
        format!("/crm-object-schemas/2026-03/schemas/{type_id}"),
        "/crm-object-schemas/v3/schemas/p7878787_my_object".to_string(),
        "/crm/v3/schemas/p_my_object".to_string(),
    ] {
        let got = api.get(&path).await;
        assert_eq!(got.status, StatusCode::OK, "{path}");
        assert_eq!(got.body["objectTypeId"], type_id);
    }
    let list = api.get("/crm-object-schemas/2026-03/schemas").await;
    assert_eq!(list.body["results"].as_array().map(Vec::len), Some(1));

    let again = api.post("/crm-object-schemas/v3/schemas", &request).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn schema_validation_is_strict() {
    let api = Api::start().await;
    let good = fixture("schema-create-request.json");
    let mut cases = Vec::new();
    let mut bad_name = good.clone();
    bad_name["name"] = json!("1starts_with_digit");
    cases.push(bad_name);
    let mut bad_type = good.clone();
    bad_type["properties"][0]["type"] = json!("text");
    bad_type["properties"][0]["fieldType"] = json!("text");
    cases.push(bad_type);
    let mut mismatched = good.clone();
    mismatched["properties"][0]["type"] = json!("number");
    mismatched["properties"][0]["fieldType"] = json!("select");
    cases.push(mismatched);
    let mut unknown_required = good.clone();
    unknown_required["requiredProperties"] = json!(["nope"]);
    cases.push(unknown_required);
    let mut no_options = good.clone();
    no_options["properties"][0]["type"] = json!("enumeration");
    no_options["properties"][0]["fieldType"] = json!("select");
    cases.push(no_options);
    let mut unknown_association = good.clone();
    unknown_association["associatedObjects"] = json!(["SPACESHIP"]);
    cases.push(unknown_association);
    for case in cases {
        let answer = api.post("/crm-object-schemas/2026-03/schemas", &case).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{case}");
        assert_eq!(answer.body["category"], "VALIDATION_ERROR", "{case}");
    }
    let mut missing_labels = good.clone();
    if let Some(map) = missing_labels.as_object_mut() {
        map.remove("labels");
    }
    let answer = api
        .post("/crm-object-schemas/2026-03/schemas", &missing_labels)
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(
        answer.body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("labels")
    );
}

#[tokio::test]
async fn properties_list_get_and_create() {
    let api = Api::start().await;
    let object = api.create_account_object().await;
    let list = api.get(&format!("/crm/properties/2026-03/{object}")).await;
    assert_eq!(list.status, StatusCode::OK);
    let unique: Vec<_> = list.body["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|p| p["hasUniqueValue"] == true)
        .map(|p| p["name"].clone())
        .collect();
    assert_eq!(unique, vec![json!("salesforce_id")]);

    let created = api
        .post(
            &format!("/crm/v3/properties/{object}"),
            &json!({ "name": "external_key", "label": "External key", "type": "string",
                     "fieldType": "text", "groupName": "sf_account_information",
                     "hasUniqueValue": true }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["hasUniqueValue"], true);
    let got = api
        .get(&format!("/crm/v3/properties/{object}/external_key"))
        .await;
    assert_eq!(got.body["name"], "external_key");

    let without_group = api
        .post(
            &format!("/crm/v3/properties/{object}"),
            &json!({ "name": "x", "label": "X", "type": "string", "fieldType": "text" }),
        )
        .await;
    assert_eq!(without_group.status, StatusCode::BAD_REQUEST);
    let bad_option = api
        .post(
            "/crm/v3/properties/deals",
            &json!({ "name": "y", "label": "Y", "type": "enumeration", "fieldType": "checkbox",
                     "groupName": "g", "options": [ { "label": "A", "value": "a;b" } ] }),
        )
        .await;
    assert_eq!(bad_option.status, StatusCode::BAD_REQUEST);
    let standard = api
        .get("/crm/v3/properties/companies/salesforceaccountid")
        .await;
    assert_eq!(standard.body["hasUniqueValue"], true);
    let contacts = api.get("/crm/v3/properties/0-1/salesforcecontactid").await;
    assert_eq!(contacts.status, StatusCode::OK);
    let deals = api
        .get("/crm/properties/2026-03/deals/salesforceopportunityid")
        .await;
    assert_eq!(deals.status, StatusCode::OK);
}
