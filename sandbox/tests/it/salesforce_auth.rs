//! The token endpoint and sessions: client credentials (form body and HTTP Basic), the JWT
//! bearer grant with its checks, and 401 `INVALID_SESSION_ID` for bad and expired tokens.

/// Named so `cargo test -p sf2hs-sandbox salesforce` selects these tests.
mod salesforce {
    use crate::salesforce_common::{Org, fixture, keys};
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use reqwest::StatusCode;
    use serde_json::json;
    use sf2hs_sandbox::salesforce::{
        DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_JWT_CONSUMER_KEY,
        OTHER_RSA_PRIVATE_KEY_PEM, TEST_JWT_PRIVATE_KEY_PEM, TEST_JWT_USERNAME,
    };

    const JWT_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

    fn assertion(key_pem: &str, iss: &str, sub: &str, aud: &str, exp_in_secs: i64) -> String {
        let claims = json!({
            "iss": iss, "sub": sub, "aud": aud,
            "exp": chrono::Utc::now().timestamp() + exp_in_secs,
        });
        let key = EncodingKey::from_rsa_pem(key_pem.as_bytes()).expect("rsa key");
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key).expect("signed")
    }

    async fn jwt(org: &Org, assertion: &str) -> crate::salesforce_common::Answer {
        org.send(
            org.http
                .post(org.url("/services/oauth2/token"))
                .form(&[("grant_type", JWT_GRANT), ("assertion", assertion)]),
        )
        .await
    }

    #[tokio::test]
    async fn client_credentials_in_body_or_basic_mint_working_tokens() {
        let org = Org::start().await;
        // Body form (done by Org::start): the answer has the fixture's keys.
        let answer = org
            .send(org.http.post(org.url("/services/oauth2/token")).form(&[
                ("grant_type", "client_credentials"),
                ("client_id", DEFAULT_CLIENT_ID),
                ("client_secret", DEFAULT_CLIENT_SECRET),
            ]))
            .await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(
            keys(&answer.body),
            keys(&fixture("oauth-token-responses.json"))
        );
        assert_eq!(answer.body["token_type"], "Bearer");
        assert_eq!(answer.body["instance_url"], org.sandbox.base_url());

        let basic = org
            .send(
                org.http
                    .post(org.url("/services/oauth2/token"))
                    .basic_auth(DEFAULT_CLIENT_ID, Some(DEFAULT_CLIENT_SECRET))
                    .form(&[("grant_type", "client_credentials")]),
            )
            .await;
        assert_eq!(basic.status, StatusCode::OK, "{}", basic.text);
        let token = basic.body["access_token"].as_str().expect("token");
        let describe = org
            .send(
                org.http
                    .get(org.data("/sobjects/Invoice__c/describe"))
                    .bearer_auth(token),
            )
            .await;
        assert_eq!(describe.status, StatusCode::OK);
    }

    #[tokio::test]
    async fn bad_client_credentials_and_requests_are_refused() {
        let org = Org::start().await;
        let token_url = org.url("/services/oauth2/token");
        let wrong_secret = org
            .send(org.http.post(&token_url).form(&[
                ("grant_type", "client_credentials"),
                ("client_id", DEFAULT_CLIENT_ID),
                ("client_secret", "nope"),
            ]))
            .await;
        assert_eq!(wrong_secret.status, StatusCode::BAD_REQUEST);
        assert_eq!(wrong_secret.body["error"], "invalid_client");
        assert!(wrong_secret.body["error_description"].is_string());

        let unknown = org
            .send(org.http.post(&token_url).form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "someone-else"),
                ("client_secret", DEFAULT_CLIENT_SECRET),
            ]))
            .await;
        assert_eq!(unknown.body["error"], "invalid_client_id");

        let grant = org
            .send(
                org.http
                    .post(&token_url)
                    .form(&[("grant_type", "password")]),
            )
            .await;
        assert_eq!(grant.body["error"], "unsupported_grant_type");

        let json_body = org
            .send(
                org.http
                    .post(&token_url)
                    .json(&json!({"grant_type": "client_credentials"})),
            )
            .await;
        assert_eq!(json_body.status, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn jwt_bearer_verifies_signature_issuer_audience_subject_and_expiry() {
        let org = Org::start().await;
        let login = "https://login.salesforce.com";
        let good = assertion(
            TEST_JWT_PRIVATE_KEY_PEM,
            DEFAULT_JWT_CONSUMER_KEY,
            TEST_JWT_USERNAME,
            login,
            170,
        );
        let answer = jwt(&org, &good).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        // JWT answers carry no refresh token, no expiry and (unlike client credentials) no signature.
        assert!(answer.body.get("refresh_token").is_none());
        assert!(answer.body.get("expires_in").is_none());
        assert_eq!(answer.body["token_type"], "Bearer");

        let cases = [
            (
                assertion(
                    OTHER_RSA_PRIVATE_KEY_PEM,
                    DEFAULT_JWT_CONSUMER_KEY,
                    TEST_JWT_USERNAME,
                    login,
                    170,
                ),
                "invalid_grant",
            ),
            (
                assertion(
                    TEST_JWT_PRIVATE_KEY_PEM,
                    DEFAULT_JWT_CONSUMER_KEY,
                    TEST_JWT_USERNAME,
                    login,
                    3600,
                ),
                "invalid_grant",
            ),
            (
                assertion(
                    TEST_JWT_PRIVATE_KEY_PEM,
                    DEFAULT_JWT_CONSUMER_KEY,
                    TEST_JWT_USERNAME,
                    login,
                    -10,
                ),
                "invalid_grant",
            ),
            (
                assertion(
                    TEST_JWT_PRIVATE_KEY_PEM,
                    DEFAULT_JWT_CONSUMER_KEY,
                    TEST_JWT_USERNAME,
                    "https://acme.my.salesforce.com",
                    170,
                ),
                "invalid_grant",
            ),
            (
                assertion(
                    TEST_JWT_PRIVATE_KEY_PEM,
                    DEFAULT_JWT_CONSUMER_KEY,
                    "stranger@example.com",
                    login,
                    170,
                ),
                "invalid_grant",
            ),
            (
                assertion(
                    TEST_JWT_PRIVATE_KEY_PEM,
                    "unknown-app",
                    TEST_JWT_USERNAME,
                    login,
                    170,
                ),
                "invalid_client_id",
            ),
            ("not.a.jwt".to_string(), "invalid_grant"),
        ];
        for (assertion, error) in cases {
            let answer = jwt(&org, &assertion).await;
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text);
            assert_eq!(answer.body["error"], error, "{}", answer.text);
            assert!(answer.body["error_description"].is_string());
        }
        let unapproved = jwt(
            &org,
            &assertion(
                TEST_JWT_PRIVATE_KEY_PEM,
                DEFAULT_JWT_CONSUMER_KEY,
                "stranger@example.com",
                login,
                170,
            ),
        )
        .await;
        assert_eq!(
            unapproved.body["error_description"],
            "user hasn't approved this consumer"
        );
    }

    #[tokio::test]
    async fn bad_and_expired_tokens_get_invalid_session_id() {
        let org = Org::start().await;
        let expected =
            json!([{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]);

        let missing = org.send(org.http.get(org.data("/sobjects"))).await;
        assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
        assert_eq!(missing.body, expected);

        let wrong = org
            .send(
                org.http
                    .get(org.data("/sobjects"))
                    .bearer_auth("00Dxx!made-up"),
            )
            .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert_eq!(wrong.body, expected);

        assert_eq!(org.get("/sobjects").await.status, StatusCode::OK);
        assert_eq!(org.handle().expire_all_tokens().expect("expired"), 1);
        let expired = org.get("/sobjects").await;
        assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
        assert_eq!(expired.body, expected);
        assert_eq!(org.handle().stats().expect("stats").unauthorized, 3);
    }
}
