//! Where the bearer token comes from (hubspot.md §5): a static token (a Service Key, or a legacy
//! private-app `pat-…` token) or OAuth 2 with the refresh-token grant. Tokens live only inside
//! [`SecretString`], whose `Debug` and `Display` never show them.

use std::fmt;
use std::sync::Arc;
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

/// HubSpot credentials as stored in their secret: a static token (Service Key or private-app
/// `pat-…` token), or an OAuth app with the installation's refresh token.
#[derive(Deserialize, serde::Serialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum HubSpotSecret {
    Static {
        token: String,
    },
    OAuth {
        client_id: String,
        client_secret: String,
        refresh_token: String,
    },
}

impl HubSpotSecret {
    /// A token source holding these values, never reading the secret again.
    pub fn token_source(self) -> TokenSource {
        match self {
            HubSpotSecret::Static { token } => TokenSource::static_token(token),
            HubSpotSecret::OAuth {
                client_id,
                client_secret,
                refresh_token,
            } => TokenSource::oauth(OAuthCredentials {
                client_id,
                client_secret: client_secret.into(),
                refresh_token: refresh_token.into(),
            }),
        }
    }
}

/// The secret the credentials live in: read again on use and after a refusal (a rotation is
/// taken without a restart), and written back when HubSpot rotates the refresh token
/// (platform-behaviours.md A3).
#[derive(Clone)]
pub struct SecretHome {
    pub secrets: Arc<dyn SecretsProvider>,
    pub name: String,
}

impl fmt::Debug for SecretHome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretHome")
            .field("name", &self.name)
            .finish()
    }
}

impl SecretHome {
    async fn read(&self, fresh: bool) -> Result<HubSpotSecret, HubSpotError> {
        let read = if fresh {
            self.secrets.fresh(&self.name).await
        } else {
            self.secrets.secret(&self.name).await
        };
        let text = read.map_err(|e| HubSpotError::Configuration {
            reason: format!("cannot read the HubSpot secret `{}`: {e}", self.name),
        })?;
        serde_json::from_str(&text).map_err(|e| HubSpotError::Configuration {
            reason: format!(
                "the HubSpot secret `{}` is not {{\"token\": \"…\"}} or {{\"client_id\", \
                 \"client_secret\", \"refresh_token\"}} (error at line {}, column {}); store it \
                 again",
                self.name,
                e.line(),
                e.column()
            ),
        })
    }
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
    /// A static token read from its secret on every use (the secrets adapter caches it).
    StaticInSecret(SecretHome),
    OAuth {
        client_id: String,
        /// One refresh at a time; the refresh token itself may rotate.
        session: Mutex<OAuthSession>,
        /// Where a rotated refresh token is written back, and newer credentials read from.
        home: Option<SecretHome>,
    },
}

#[derive(Debug)]
struct OAuthSession {
    client_secret: SecretString,
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
        Self::oauth_at(credentials, None)
    }

    fn oauth_at(credentials: OAuthCredentials, home: Option<SecretHome>) -> Self {
        Self {
            kind: TokenKind::OAuth {
                client_id: credentials.client_id,
                session: Mutex::new(OAuthSession {
                    client_secret: credentials.client_secret,
                    refresh_token: credentials.refresh_token,
                    access: None,
                }),
                home,
            },
        }
    }

    /// The credentials in `home`, read now (a wrong secret stops the start) and again later:
    /// a static token on every use, OAuth credentials when a refresh is refused; a refresh
    /// token HubSpot rotates is written back.
    pub async fn from_secret(home: SecretHome) -> Result<Self, HubSpotError> {
        Ok(match home.read(false).await? {
            HubSpotSecret::Static { .. } => Self {
                kind: TokenKind::StaticInSecret(home),
            },
            HubSpotSecret::OAuth {
                client_id,
                client_secret,
                refresh_token,
            } => Self::oauth_at(
                OAuthCredentials {
                    client_id,
                    client_secret: client_secret.into(),
                    refresh_token: refresh_token.into(),
                },
                Some(home),
            ),
        })
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
            TokenKind::StaticInSecret(home) => static_token(home, false).await,
            TokenKind::OAuth {
                client_id,
                session,
                home,
            } => {
                let mut session = session.lock().await;
                if let Some(access) = &session.access
                    && !needs_refresh(access.expires_at, Instant::now())
                {
                    return Ok(access.token.clone());
                }
                refresh_or_reread(http, token_url, client_id, &mut session, home.as_ref()).await
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
            // Rotated in the secret since it was read? Then the new one is worth a try.
            TokenKind::StaticInSecret(home) => Ok(static_token(home, true).await? != *rejected),
            TokenKind::OAuth {
                client_id,
                session,
                home,
            } => {
                let mut session = session.lock().await;
                let already_replaced = session
                    .access
                    .as_ref()
                    .is_some_and(|a| a.token != *rejected);
                if !already_replaced {
                    refresh_or_reread(http, token_url, client_id, &mut session, home.as_ref())
                        .await?;
                }
                Ok(true)
            }
        }
    }
}

async fn static_token(home: &SecretHome, fresh: bool) -> Result<SecretString, HubSpotError> {
    match home.read(fresh).await? {
        HubSpotSecret::Static { token } => Ok(SecretString::new(token)),
        HubSpotSecret::OAuth { .. } => Err(HubSpotError::Configuration {
            reason: format!(
                "the HubSpot secret `{}` now holds OAuth credentials where it held a token; \
                 restart sf2hs to use them",
                home.name
            ),
        }),
    }
}

/// A refresh; when HubSpot refuses it, the credentials are read again from their secret (an
/// operator may have rotated the app secret, or another process the refresh token) and, if
/// they changed, tried once more. A refresh token HubSpot rotates is written back.
async fn refresh_or_reread(
    http: &reqwest::Client,
    token_url: &str,
    client_id: &str,
    session: &mut OAuthSession,
    home: Option<&SecretHome>,
) -> Result<SecretString, HubSpotError> {
    let before = session.refresh_token.clone();
    let result = match refresh(http, token_url, client_id, session).await {
        Err(refused @ HubSpotError::OAuthRefresh { .. }) => match home {
            None => Err(refused),
            Some(home) => match home.read(true).await? {
                HubSpotSecret::OAuth {
                    client_secret,
                    refresh_token,
                    ..
                } if client_secret != session.client_secret.expose()
                    || refresh_token != session.refresh_token.expose() =>
                {
                    tracing::info!(secret = %home.name, "HubSpot refused the refresh; the credentials were rotated in their secret, trying them");
                    session.client_secret = SecretString::new(client_secret);
                    session.refresh_token = SecretString::new(refresh_token);
                    refresh(http, token_url, client_id, session).await
                }
                _ => Err(refused),
            },
        },
        other => other,
    };
    if let (Ok(_), Some(home)) = (&result, home)
        && session.refresh_token != before
    {
        write_back(home, client_id, session).await;
    }
    result
}

/// Stores a rotated refresh token in its secret, so the next process starts from it. A failure
/// is logged, not raised: this process holds the token and goes on working.
async fn write_back(home: &SecretHome, client_id: &str, session: &OAuthSession) {
    let value = HubSpotSecret::OAuth {
        client_id: client_id.to_owned(),
        client_secret: session.client_secret.expose().to_owned(),
        refresh_token: session.refresh_token.expose().to_owned(),
    };
    let stored = match serde_json::to_string(&value) {
        Ok(text) => home.secrets.store(&home.name, &text).await,
        Err(e) => Err(crate::ports::PortError::invalid(e.to_string())),
    };
    match stored {
        Ok(()) => {
            tracing::info!(secret = %home.name, "HubSpot rotated the refresh token; the new one is stored")
        }
        Err(e) => {
            tracing::error!(secret = %home.name, error = %e, "HubSpot rotated the refresh token and it cannot be stored: this process goes on with it, but store it in the secret before the next start")
        }
    }
}

/// The refresh-token grant: form body, every parameter in the body (hubspot.md §5).
async fn refresh(
    http: &reqwest::Client,
    token_url: &str,
    client_id: &str,
    session: &mut OAuthSession,
) -> Result<SecretString, HubSpotError> {
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", client_id),
        ("client_secret", session.client_secret.expose()),
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
