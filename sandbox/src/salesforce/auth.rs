//! `POST /services/oauth2/token` (salesforce.md §4): the client-credentials grant (id and
//! secret in the form body or HTTP Basic) and the JWT bearer grant (RS256 assertion checked
//! against the app's certificate key), plus the access tokens they mint, which expire.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Value, json};

use super::errors::{SfError, lock, oauth_error};
use super::state::SfShared;
use crate::hubspot::form::parse_form;

pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// How far ahead a JWT's `exp` may be: Salesforce wants about 3 minutes; a little clock skew
/// is allowed on top.
pub const MAX_JWT_LIFETIME: Duration = Duration::from_secs(180 + 30);

/// An app with the client-credentials flow enabled and a run-as user.
#[derive(Debug, Clone)]
pub struct ClientCredentialsApp {
    pub client_id: String,
    pub client_secret: String,
}

/// An app with "use digital signatures": its certificate's public key and pre-authorised users.
#[derive(Debug, Clone)]
pub struct JwtApp {
    pub consumer_key: String,
    /// PEM (`BEGIN PUBLIC KEY` or `BEGIN RSA PUBLIC KEY`).
    pub public_key_pem: String,
    pub authorized_usernames: Vec<String>,
}

#[derive(Debug, Clone)]
struct IssuedToken {
    expires_at: Instant,
}

/// Access tokens minted by the token endpoint (and by tests through the handle).
#[derive(Debug)]
pub struct TokenRegistry {
    tokens: HashMap<String, IssuedToken>,
    lifetime: Duration,
    org_short_id: String,
}

impl TokenRegistry {
    pub fn new(lifetime: Duration, org_id: &str) -> Self {
        Self {
            tokens: HashMap::new(),
            lifetime,
            org_short_id: org_id.chars().take(15).collect(),
        }
    }

    /// A token shaped like Salesforce's session ids: `<org id 15>!<opaque>`.
    pub fn issue(&mut self) -> String {
        let token = format!(
            "{}!AQ{}{}",
            self.org_short_id,
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        self.tokens.insert(
            token.clone(),
            IssuedToken {
                expires_at: Instant::now() + self.lifetime,
            },
        );
        token
    }

    /// Accepts `Authorization: Bearer <token>` (and the older `OAuth <token>`).
    pub fn check(&self, authorization: Option<&str>) -> Result<(), SfError> {
        let token = authorization
            .and_then(|a| {
                a.strip_prefix("Bearer ")
                    .or_else(|| a.strip_prefix("OAuth "))
            })
            .map(str::trim)
            .ok_or_else(SfError::invalid_session)?;
        match self.tokens.get(token) {
            Some(issued) if issued.expires_at > Instant::now() => Ok(()),
            _ => Err(SfError::invalid_session()),
        }
    }

    pub fn expire(&mut self, token: &str) -> bool {
        match self.tokens.get_mut(token) {
            Some(issued) => {
                issued.expires_at = Instant::now();
                true
            }
            None => false,
        }
    }

    /// Expires every token; returns how many there were.
    pub fn expire_all(&mut self) -> usize {
        let now = Instant::now();
        for issued in self.tokens.values_mut() {
            issued.expires_at = now;
        }
        self.tokens.len()
    }

    pub fn set_lifetime(&mut self, lifetime: Duration) {
        self.lifetime = lifetime;
    }
}

#[derive(Debug, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    exp: u64,
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let raw = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(raw.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

fn token_response(shared: &SfShared, with_signature: bool) -> Result<Response, SfError> {
    let token = lock(&shared.tokens)?.issue();
    let org = lock(&shared.org)?;
    let mut body = json!({
        "access_token": token,
        "scope": "api",
        "instance_url": shared.base_url,
        "id": format!("https://login.salesforce.com/id/{}/{}", org.org_id, org.user_id),
        "token_type": "Bearer",
    });
    if with_signature && let Some(map) = body.as_object_mut() {
        // Client credentials answers carry `signature` and `issued_at`; JWT answers do not.
        map.insert(
            "signature".into(),
            Value::String(STANDARD.encode(uuid::Uuid::new_v4().as_bytes())),
        );
        map.insert(
            "issued_at".into(),
            Value::String(chrono::Utc::now().timestamp_millis().to_string()),
        );
    }
    Ok((StatusCode::OK, Json(body)).into_response())
}

fn client_credentials(
    shared: &SfShared,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Response, SfError> {
    let from_body = form
        .get("client_id")
        .zip(form.get("client_secret"))
        .map(|(id, secret)| (id.clone(), secret.clone()));
    let Some((id, secret)) = from_body.or_else(|| basic_credentials(headers)) else {
        return Ok(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client_id",
            "client identifier invalid",
        ));
    };
    let Some(app) = shared
        .config
        .client_credentials_apps
        .iter()
        .find(|a| a.client_id == id)
    else {
        return Ok(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client_id",
            "client identifier invalid",
        ));
    };
    // Compared in full either way; this is a test stand-in, not a timing-safe store.
    let current = lock(&shared.rotated_client_secrets)?
        .get(&app.client_id)
        .cloned()
        .unwrap_or_else(|| app.client_secret.clone());
    if current != secret {
        return Ok(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "invalid client credentials",
        ));
    }
    token_response(shared, true)
}

fn jwt_bearer(shared: &SfShared, form: &HashMap<String, String>) -> Result<Response, SfError> {
    let invalid = |description: &str| {
        Ok(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            description,
        ))
    };
    let Some(assertion) = form.get("assertion") else {
        return invalid("invalid assertion");
    };
    match jsonwebtoken::decode_header(assertion) {
        Ok(h) if h.alg == Algorithm::RS256 => {}
        _ => return invalid("invalid assertion"),
    }
    // The issuer picks the app (and so the key) before the signature can be checked.
    let unverified: Option<Claims> = assertion
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let Some(unverified) = unverified else {
        return invalid("invalid assertion");
    };
    let Some(app) = shared
        .config
        .jwt_apps
        .iter()
        .find(|a| a.consumer_key == unverified.iss)
    else {
        return Ok(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client_id",
            "client identifier invalid",
        ));
    };
    let key = DecodingKey::from_rsa_pem(app.public_key_pem.as_bytes())
        .map_err(|e| SfError::internal(format!("the JWT app's public key is not PEM: {e}")))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = 0;
    validation.set_audience(&shared.config.jwt_audiences);
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    let claims = match jsonwebtoken::decode::<Claims>(assertion, &key, &validation) {
        Ok(data) => data.claims,
        Err(e) => {
            use jsonwebtoken::errors::ErrorKind;
            return match e.kind() {
                ErrorKind::ExpiredSignature => invalid("expired authorization code"),
                ErrorKind::InvalidAudience => invalid("audience is invalid"),
                _ => invalid("invalid assertion"),
            };
        }
    };
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    if claims.exp > now + MAX_JWT_LIFETIME.as_secs() {
        return invalid("invalid assertion: exp must be at most 3 minutes ahead");
    }
    if !app.authorized_usernames.iter().any(|u| u == &claims.sub) {
        return invalid("user hasn't approved this consumer");
    }
    token_response(shared, false)
}

pub async fn token(
    State(shared): State<Arc<SfShared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Ok(mut stats) = shared.stats.lock() {
        stats.record_call("POST /services/oauth2/token");
    }
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the token request must be application/x-www-form-urlencoded",
        );
    }
    let form = parse_form(&body);
    let answer = match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => client_credentials(&shared, &headers, &form),
        Some(JWT_BEARER_GRANT) => jwt_bearer(&shared, &form),
        _ => Ok(oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant type not supported",
        )),
    };
    let response = answer.unwrap_or_else(IntoResponse::into_response);
    if let Ok(mut stats) = shared.stats.lock() {
        stats.record_status(response.status().as_u16());
    }
    response
}
