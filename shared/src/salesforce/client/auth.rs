//! Minting and caching access tokens: client credentials or a JWT bearer assertion (RS256), both
//! without refresh tokens, so a rejected token is simply re-minted (salesforce.md §4).

use std::fmt;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::config::{SalesforceAuth, SalesforceClientConfig, Secret};
use super::errors::{SalesforceError, classify_oauth};

pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Salesforce wants `exp` no more than about 3 minutes ahead.
pub const JWT_LIFETIME_SECS: i64 = 170;

/// A minted token and the instance it works on. `Debug` never shows the token.
#[derive(Clone, PartialEq)]
pub struct AccessToken {
    pub token: Secret,
    pub instance_url: String,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &self.token)
            .field("instance_url", &self.instance_url)
            .finish()
    }
}

#[derive(Debug, Deserialize)]
struct TokenAnswer {
    access_token: String,
    instance_url: String,
}

#[derive(Debug, Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
}

/// The signed assertion of the JWT bearer grant.
pub fn jwt_assertion(
    consumer_key: &str,
    username: &str,
    audience: &str,
    private_key_pem: &Secret,
) -> Result<String, SalesforceError> {
    let key = EncodingKey::from_rsa_pem(private_key_pem.expose().as_bytes()).map_err(|e| {
        SalesforceError::Config(format!(
            "the JWT private key is not an RSA PEM key ({e}); give the key whose certificate is \
             uploaded to the connected app"
        ))
    })?;
    let claims = Claims {
        iss: consumer_key,
        sub: username,
        aud: audience,
        exp: chrono::Utc::now().timestamp() + JWT_LIFETIME_SECS,
    };
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key)
        .map_err(|e| SalesforceError::Config(format!("cannot sign the JWT assertion: {e}")))
}

/// Asks the token endpoint for a new token.
pub async fn mint(
    http: &reqwest::Client,
    config: &SalesforceClientConfig,
) -> Result<AccessToken, SalesforceError> {
    let url = format!("{}/services/oauth2/token", config.login_url);
    let form: Vec<(&str, String)> = match &config.auth {
        SalesforceAuth::ClientCredentials {
            client_id,
            client_secret,
        } => vec![
            ("grant_type", "client_credentials".into()),
            ("client_id", client_id.clone()),
            ("client_secret", client_secret.expose().to_string()),
        ],
        SalesforceAuth::JwtBearer {
            consumer_key,
            username,
            private_key_pem,
            audience,
        } => vec![
            ("grant_type", JWT_BEARER_GRANT.into()),
            (
                "assertion",
                jwt_assertion(consumer_key, username, audience, private_key_pem)?,
            ),
        ],
    };
    let response =
        http.post(&url)
            .form(&form)
            .send()
            .await
            .map_err(|e| SalesforceError::Transport {
                url: url.clone(),
                message: e.without_url().to_string(),
            })?;
    let status = response.status().as_u16();
    let body = response
        .text()
        .await
        .map_err(|e| SalesforceError::Decode(e.to_string()))?;
    if !(200..300).contains(&status) {
        return Err(classify_oauth(status, &body));
    }
    let answer: TokenAnswer = serde_json::from_str(&body).map_err(|e| {
        SalesforceError::Decode(format!(
            "the token answer lacks access_token/instance_url: {e}"
        ))
    })?;
    Ok(AccessToken {
        token: Secret::new(answer.access_token),
        instance_url: answer.instance_url.trim_end_matches('/').to_string(),
    })
}

/// Reads the connected app's credentials again, from where they are kept (their secret), when
/// Salesforce refuses the ones in hand: a rotated client secret or key is taken without a
/// restart (platform-behaviours.md A3).
#[async_trait::async_trait]
pub trait CredentialReload: Send + Sync {
    /// The login URL and credentials as they are stored now.
    async fn reload(&self) -> Result<(String, SalesforceAuth), SalesforceError>;
}

/// One cached token shared by all calls; re-minted when Salesforce rejects it.
#[derive(Default)]
pub struct TokenCache {
    current: Mutex<Option<AccessToken>>,
    /// Where newer credentials come from, and the newer ones once read.
    reload: Option<std::sync::Arc<dyn CredentialReload>>,
    rotated: Mutex<Option<(String, SalesforceAuth)>>,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("reloads", &self.reload.is_some())
            .finish()
    }
}

impl TokenCache {
    /// A cache that reads the credentials again through `reload` when a mint is refused.
    pub fn reloading(reload: std::sync::Arc<dyn CredentialReload>) -> Self {
        TokenCache {
            reload: Some(reload),
            ..TokenCache::default()
        }
    }

    /// The cached token, minting one first when there is none.
    pub async fn get(
        &self,
        http: &reqwest::Client,
        config: &SalesforceClientConfig,
    ) -> Result<AccessToken, SalesforceError> {
        let mut current = self.current.lock().await;
        if let Some(token) = current.as_ref() {
            return Ok(token.clone());
        }
        let token = self.mint_with_newest(http, config).await?;
        *current = Some(token.clone());
        Ok(token)
    }

    async fn mint_with_newest(
        &self,
        http: &reqwest::Client,
        config: &SalesforceClientConfig,
    ) -> Result<AccessToken, SalesforceError> {
        let mut rotated = self.rotated.lock().await;
        let mut effective = config.clone();
        if let Some((login_url, auth)) = rotated.as_ref() {
            effective.login_url.clone_from(login_url);
            effective.auth = auth.clone();
        }
        let refused = match mint(http, &effective).await {
            Err(refused @ SalesforceError::Auth { .. }) => refused,
            other => return other,
        };
        let Some(reload) = &self.reload else {
            return Err(refused);
        };
        let (login_url, auth) = reload.reload().await?;
        if login_url == effective.login_url && auth == effective.auth {
            return Err(refused);
        }
        tracing::info!(
            "Salesforce refused the credentials; they were rotated in their secret, trying them"
        );
        effective.login_url.clone_from(&login_url);
        effective.auth = auth.clone();
        let token = mint(http, &effective).await?;
        *rotated = Some((login_url, auth));
        Ok(token)
    }

    /// Drops `rejected` (only if it is still the cached one, so concurrent callers that saw the
    /// same 401 mint once, not once each).
    pub async fn invalidate(&self, rejected: &AccessToken) {
        let mut current = self.current.lock().await;
        if current.as_ref() == Some(rejected) {
            *current = None;
        }
    }
}
