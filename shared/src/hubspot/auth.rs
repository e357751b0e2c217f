//! Where the bearer token comes from (hubspot.md §5): a static token (a Service Key, or a legacy
//! private-app `pat-…` token) or OAuth 2 with the refresh-token grant. Tokens live only inside
//! [`SecretString`], whose `Debug` and `Display` never show them.

use std::fmt;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::Mutex;

use super::errors::HubSpotError;
use crate::ports::SecretsProvider;

/// OAuth access tokens live 30 minutes; refresh this long before they expire (hubspot.md §5).
pub const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);

/// A secret value. Formatting it prints `[redacted]`; read it only with [`SecretString::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself: only for putting it in a request.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString([redacted])")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Reads one secret through the project's secrets port (Secrets Manager in the Lambda
/// functions, environment or files locally), never showing its value in an error.
async fn read_secret(
    provider: &dyn SecretsProvider,
    name: &str,
) -> Result<SecretString, HubSpotError> {
    provider
        .secret(name)
        .await
        .map(SecretString::from)
        .map_err(|e| HubSpotError::Configuration {
            reason: format!("cannot read the HubSpot secret `{name}`: {e}"),
        })
}

/// The OAuth app and the installation's refresh token.
#[derive(Debug, Clone)]
pub struct OAuthCredentials {
    pub client_id: String,
    pub client_secret: SecretString,
    pub refresh_token: SecretString,
}

/// Gives the client a bearer token, refreshing OAuth tokens before they expire and once after a
/// 401.
#[derive(Debug)]
pub struct TokenSource {
    kind: TokenKind,
}

#[derive(Debug)]
enum TokenKind {
    Static(SecretString),
    OAuth {
        client_id: String,
        client_secret: SecretString,
        /// One refresh at a time; the refresh token itself may rotate.
        session: Mutex<OAuthSession>,
    },
}

#[derive(Debug)]
struct OAuthSession {
    refresh_token: SecretString,
    access: Option<AccessToken>,
}

#[derive(Debug, Clone)]
struct AccessToken {
    token: SecretString,
    expires_at: Instant,
}

/// `TokenResponseIF` (hubspot.md §5).
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    expires_in: u64,
}

/// Whether a token expiring at `expires_at` should be replaced at `now`.
pub fn needs_refresh(expires_at: Instant, now: Instant) -> bool {
    now + REFRESH_BEFORE_EXPIRY >= expires_at
}

impl TokenSource {
    /// A Service Key or private-app token, which does not expire.
    pub fn static_token(token: impl Into<SecretString>) -> Self {
        Self {
            kind: TokenKind::Static(token.into()),
        }
    }

    pub fn oauth(credentials: OAuthCredentials) -> Self {
        Self {
            kind: TokenKind::OAuth {
                client_id: credentials.client_id,
                client_secret: credentials.client_secret,
                session: Mutex::new(OAuthSession {
                    refresh_token: credentials.refresh_token,
                    access: None,
                }),
            },
        }
    }

    /// A static token kept in a secrets store under `secret_name`.
    pub async fn static_from_secret(
        provider: &dyn SecretsProvider,
        secret_name: &str,
    ) -> Result<Self, HubSpotError> {
        Ok(Self::static_token(
            read_secret(provider, secret_name).await?,
        ))
    }

    /// OAuth with the client secret and refresh token kept in a secrets store.
    pub async fn oauth_from_secrets(
        provider: &dyn SecretsProvider,
        client_id: &str,
        client_secret_name: &str,
        refresh_token_name: &str,
    ) -> Result<Self, HubSpotError> {
        Ok(Self::oauth(OAuthCredentials {
            client_id: client_id.to_owned(),
            client_secret: read_secret(provider, client_secret_name).await?,
            refresh_token: read_secret(provider, refresh_token_name).await?,
        }))
    }

    pub fn is_oauth(&self) -> bool {
        matches!(self.kind, TokenKind::OAuth { .. })
    }

    /// The token to send now, refreshed first when it expires within five minutes.
    pub(crate) async fn bearer(
        &self,
        http: &reqwest::Client,
        token_url: &str,
    ) -> Result<SecretString, HubSpotError> {
        match &self.kind {
            TokenKind::Static(token) => Ok(token.clone()),
            TokenKind::OAuth {
                client_id,
                client_secret,
                session,
            } => {
                let mut session = session.lock().await;
                if let Some(access) = &session.access
                    && !needs_refresh(access.expires_at, Instant::now())
                {
                    return Ok(access.token.clone());
                }
                refresh(http, token_url, client_id, client_secret, &mut session).await
            }
        }
    }

    /// After a 401 for `rejected`: refreshes once (unless another request already did) and
    /// says whether retrying can help. Static tokens cannot be refreshed.
    pub(crate) async fn refresh_after_unauthorized(
        &self,
        http: &reqwest::Client,
        token_url: &str,
        rejected: &SecretString,
    ) -> Result<bool, HubSpotError> {
        match &self.kind {
            TokenKind::Static(_) => Ok(false),
            TokenKind::OAuth {
                client_id,
                client_secret,
                session,
            } => {
                let mut session = session.lock().await;
                let already_replaced = session
                    .access
                    .as_ref()
                    .is_some_and(|a| a.token != *rejected);
                if !already_replaced {
                    refresh(http, token_url, client_id, client_secret, &mut session).await?;
                }
                Ok(true)
            }
        }
    }
}

/// The refresh-token grant: form body, every parameter in the body (hubspot.md §5).
async fn refresh(
    http: &reqwest::Client,
    token_url: &str,
    client_id: &str,
    client_secret: &SecretString,
    session: &mut OAuthSession,
) -> Result<SecretString, HubSpotError> {
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", client_id),
        ("client_secret", client_secret.expose()),
        ("refresh_token", session.refresh_token.expose()),
    ];
    let requested_at = Instant::now();
    let response =
        http.post(token_url)
            .form(&form)
            .send()
            .await
            .map_err(|e| HubSpotError::OAuthRefresh {
                // reqwest's message names the URL, never the form body.
                message: e.without_url().to_string(),
            })?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| HubSpotError::OAuthRefresh {
            message: e.without_url().to_string(),
        })?;
    if !status.is_success() {
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
            .unwrap_or_else(|| format!("HTTP {status}"));
        return Err(HubSpotError::OAuthRefresh {
            message: format!("HTTP {}: {message}", status.as_u16()),
        });
    }
    let answer: TokenResponse =
        serde_json::from_str(&text).map_err(|e| HubSpotError::OAuthRefresh {
            message: format!("unreadable token response: {e}"),
        })?;
    let access = AccessToken {
        token: SecretString::new(answer.access_token),
        // Counted from the request, not the answer, so the refresh margin is never too small.
        expires_at: requested_at + Duration::from_secs(answer.expires_in),
    };
    if let Some(rotated) = answer.refresh_token {
        session.refresh_token = SecretString::new(rotated);
    }
    session.access = Some(access.clone());
    Ok(access.token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_format() {
        let token = "pat-na1-00000000-1111-2222-3333-444444444444";
        let source = TokenSource::static_token(token);
        assert!(!format!("{source:?}").contains(token));
        let secret = SecretString::new(token);
        assert!(!format!("{secret} {secret:?}").contains(token));
        let oauth = TokenSource::oauth(OAuthCredentials {
            client_id: "client".into(),
            client_secret: "top-secret-client".into(),
            refresh_token: "top-secret-refresh".into(),
        });
        let shown = format!("{oauth:?}");
        assert!(!shown.contains("top-secret"), "{shown}");
    }

    #[test]
    fn refresh_five_minutes_before_expiry() {
        let now = Instant::now();
        assert!(!needs_refresh(now + Duration::from_secs(1800), now));
        assert!(!needs_refresh(now + Duration::from_secs(301), now));
        assert!(needs_refresh(now + Duration::from_secs(300), now));
        assert!(needs_refresh(now, now));
    }
}
