//! platform-behaviours.md A3: secrets rotate. A warm process takes a HubSpot token, a
//! Salesforce consumer secret or an OAuth refresh token rotated in its secret without a restart
//! (read again after the 401/403 or the refused refresh, past any cache), and writes back a
//! refresh token the authorization server rotated, so the next process starts from it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use sf2hs_sandbox::hubspot::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REFRESH_TOKEN, DEFAULT_TOKEN, OAuthClient,
    SandboxConfig,
};
use sf2hs_sandbox::salesforce::{SalesforceConfig, SalesforceSandbox};
use sf2hs_shared::aws::SecretsManagerSecrets;
use sf2hs_shared::embedded::LocalSecrets;
use sf2hs_shared::hubspot::auth::SecretHome;
use sf2hs_shared::hubspot::{ApiVersion, HubSpotClient, HubSpotError, TokenSource};
use sf2hs_shared::ports::SecretsProvider;
use sf2hs_shared::settings::{self, vars};
use sf2hs_tests::{moto_connection, unique_name};

use crate::common_hubspot::{Hub, Proxy, account, config, object};

const ID: &str = "salesforce_id";

/// A provider that keeps values for an hour: only a refusal can make it read again.
fn long_cache(connection: &sf2hs_shared::aws::AwsConnection) -> Arc<dyn SecretsProvider> {
    Arc::new(SecretsManagerSecrets::with_ttl(
        connection,
        Duration::from_secs(3600),
    ))
}

#[tokio::test]
async fn a_hubspot_token_rotated_in_its_secret_is_taken_after_the_401() {
    let connection = moto_connection().await;
    let hub = Hub::start().await;
    let type_id = hub.create_account_object();
    let name = unique_name("hubspot-token");
    let admin = SecretsManagerSecrets::new(&connection);
    admin
        .store(&name, &json!({ "token": DEFAULT_TOKEN }).to_string())
        .await
        .expect("secret");
    let tokens = TokenSource::from_secret(SecretHome {
        secrets: long_cache(&connection),
        name: name.clone(),
    })
    .await
    .expect("tokens");
    let hubspot =
        HubSpotClient::new(config(&hub.base_url(), ApiVersion::default()), tokens).expect("client");
    let accounts = object(&type_id);
    hubspot
        .upsert(&accounts, ID, vec![account("001A", "a", "1")])
        .await
        .expect("with the first token");

    // The portal's token is rotated: the new one works, the old one is revoked, and the secret
    // holds the new one. The client's cached value is the old one.
    let rotated = "pat-na1-99999999-8888-7777-6666-555555555555";
    let handle = hub.handle();
    handle.add_token(rotated, None).expect("new token");
    assert!(handle.revoke_token(DEFAULT_TOKEN).expect("revoke"));
    admin
        .store(&name, &json!({ "token": rotated }).to_string())
        .await
        .expect("rotated in the secret");
    let outcome = hubspot
        .upsert(&accounts, ID, vec![account("001A", "b", "2")])
        .await
        .expect("the rotated token, read again after the 401");
    assert_eq!(outcome.succeeded.len(), 1);
    assert_eq!(handle.stats().expect("stats").unauthorized, 1);

    // A token revoked with no new one in the secret: the 401 stands, and says what to do.
    assert!(handle.revoke_token(rotated).expect("revoke"));
    match hubspot
        .upsert(&accounts, ID, vec![account("001A", "c", "3")])
        .await
    {
        Err(HubSpotError::Unauthorized { .. }) => {}
        other => panic!("a revoked token with nothing newer: {other:?}"),
    }
}

#[tokio::test]
async fn a_rotated_refresh_token_is_written_back_and_read_by_the_process_it_was_stale_in() {
    let hub = Hub::start_with(SandboxConfig {
        oauth_clients: vec![OAuthClient {
            client_id: DEFAULT_CLIENT_ID.into(),
            client_secret: DEFAULT_CLIENT_SECRET.into(),
            refresh_tokens: vec![DEFAULT_REFRESH_TOKEN.into()],
            scopes: None,
            rotates_refresh_tokens: true,
        }],
        ..SandboxConfig::default()
    })
    .await;
    let type_id = hub.create_account_object();
    let accounts = object(&type_id);
    let dir = sf2hs_tests::TempDir::new("rotation-secrets").expect("dir");
    let name = unique_name("hubspot-oauth");
    let secret_file = dir.path().join(&name);
    std::fs::write(
        &secret_file,
        json!({
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
            "refresh_token": DEFAULT_REFRESH_TOKEN,
        })
        .to_string(),
    )
    .expect("secret file");
    let stored_refresh_token = || -> String {
        let text = std::fs::read_to_string(&secret_file).expect("secret file");
        let value: serde_json::Value = serde_json::from_str(&text).expect("json");
        value["refresh_token"]
            .as_str()
            .expect("refresh token")
            .to_owned()
    };
    let secrets: Arc<dyn SecretsProvider> = Arc::new(LocalSecrets::with_dir(dir.path()));
    let process = |base_url: String| {
        let secrets = secrets.clone();
        let name = name.clone();
        async move {
            let tokens = TokenSource::from_secret(SecretHome { secrets, name })
                .await
                .expect("tokens");
            HubSpotClient::new(config(&base_url, ApiVersion::default()), tokens).expect("client")
        }
    };

    // Process A refreshes: the server rotates the refresh token and A writes it back.
    let proxy = Proxy::start(&hub.base_url()).await;
    let a = process(proxy.base_url.clone()).await;
    a.upsert(&accounts, ID, vec![account("001A", "a", "1")])
        .await
        .expect("A's first call");
    let after_a = stored_refresh_token();
    assert_ne!(
        after_a, DEFAULT_REFRESH_TOKEN,
        "the rotated token is stored"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secret_file)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the rewritten secret is its owner's only"
        );
    }

    // Process B starts from the stored token (the old one is retired), rotates it again.
    let b = process(hub.base_url()).await;
    b.upsert(&accounts, ID, vec![account("001B", "b", "2")])
        .await
        .expect("B starts from the written-back token");
    let after_b = stored_refresh_token();
    assert_ne!(after_b, after_a);

    // A's access token expires; the refresh token in A's memory was retired by B's refresh.
    // HubSpot refuses it; A reads the secret again, finds B's, and goes on.
    let a_token = proxy.tokens().last().cloned().expect("A's bearer token");
    assert!(hub.handle().expire_token(&a_token).expect("expire"));
    let outcome = a
        .upsert(&accounts, ID, vec![account("001A", "c", "3")])
        .await
        .expect("A after its refresh token went stale");
    assert_eq!(outcome.succeeded.len(), 1);
    assert_ne!(
        stored_refresh_token(),
        after_b,
        "A's new token is stored in turn"
    );
}

#[tokio::test]
async fn a_salesforce_consumer_secret_rotated_in_its_secret_is_taken_when_the_old_is_refused() {
    let connection = moto_connection().await;
    let salesforce = SalesforceSandbox::start(SalesforceConfig::default())
        .await
        .expect("sandbox");
    let name = unique_name("salesforce");
    let admin = SecretsManagerSecrets::new(&connection);
    let secret = |client_secret: &str| {
        json!({
            "login_url": salesforce.base_url(),
            "client_id": sf2hs_sandbox::salesforce::DEFAULT_CLIENT_ID,
            "client_secret": client_secret,
        })
        .to_string()
    };
    admin
        .store(
            &name,
            &secret(sf2hs_sandbox::salesforce::DEFAULT_CLIENT_SECRET),
        )
        .await
        .expect("secret");
    let lookup = |variable: &str| (variable == vars::SALESFORCE_SECRET).then(|| name.clone());
    let client = settings::salesforce_client(&lookup, long_cache(&connection))
        .await
        .expect("client");
    client
        .describe_global()
        .await
        .expect("with the first secret");

    // The admin replaces the consumer secret and stores the new one; every token expires.
    let handle = salesforce.handle();
    handle
        .rotate_client_secret(
            sf2hs_sandbox::salesforce::DEFAULT_CLIENT_ID,
            "rotated-secret",
        )
        .expect("rotate");
    admin
        .store(&name, &secret("rotated-secret"))
        .await
        .expect("stored");
    handle.expire_all_tokens().expect("expire");
    client
        .describe_global()
        .await
        .expect("the rotated consumer secret, read again after the refused mint");
}
