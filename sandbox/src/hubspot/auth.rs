//! Bearer-token authentication and scopes (hubspot.md §5): static tokens (legacy `pat-…` or a
//! Service Key) and OAuth access tokens issued by `POST /oauth/v1/token`, which live 1800 s.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::errors::{ApiError, correlation_id};
use super::form::parse_form;
use super::state::{Shared, lock};
use std::sync::Arc;

/// OAuth access tokens live 30 minutes (hubspot.md §5).
pub const OAUTH_EXPIRES_IN_SECS: u64 = 1800;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Private-app token or Service Key: responses carry the daily headers.
    Static,
    /// OAuth access token: no `X-HubSpot-RateLimit-Daily*` headers (hubspot.md §4.2).
    OAuth,
}

#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub kind: TokenKind,
    /// `None` grants every scope.
    pub scopes: Option<BTreeSet<String>>,
    pub expires_at: Option<Instant>,
}

/// An OAuth app installed on the portal, with the refresh tokens it may redeem.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    pub client_id: String,
    pub client_secret: String,
    pub refresh_tokens: Vec<String>,
    pub scopes: Option<BTreeSet<String>>,
    /// Each refresh answers with a new refresh token and retires the one redeemed. RFC 6749 §6
    /// lets an authorization server do so ("the client MUST discard the old refresh token");
    /// HubSpot's token answer carries a `refresh_token` (hubspot.md §5) without saying whether
    /// it changes, so a test that must hold for both turns this on.
    pub rotates_refresh_tokens: bool,
}

/// What a refresh grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refreshed {
    pub access_token: String,
    /// The refresh token to use next time (the one redeemed, unless the client rotates them).
    pub refresh_token: String,
}

#[derive(Debug, Default)]
pub struct TokenRegistry {
    grants: HashMap<String, TokenGrant>,
    clients: Vec<OAuthClient>,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    Missing,
    Unknown,
    Expired,
    MissingScope(String),
}

impl TokenRegistry {
    pub fn add_static(&mut self, token: &str, scopes: Option<BTreeSet<String>>) {
        self.grants.insert(
            token.to_string(),
            TokenGrant {
                kind: TokenKind::Static,
                scopes,
                expires_at: None,
            },
        );
    }

    pub fn add_oauth_client(&mut self, client: OAuthClient) {
        self.clients.push(client);
    }

    /// Marks a token as expired now (test hook for refresh logic).
    pub fn expire(&mut self, token: &str) -> bool {
        match self.grants.get_mut(token) {
            Some(grant) => {
                grant.expires_at = Some(Instant::now());
                true
            }
            None => false,
        }
    }

    pub fn revoke(&mut self, token: &str) -> bool {
        self.grants.remove(token).is_some()
    }

    /// Redeems a refresh token; returns the new access token.
    pub fn refresh(
        &mut self,
        client_id: &str,
        client_secret: &str,
        refresh_token: &str,
    ) -> Result<Refreshed, (&'static str, &'static str)> {
        let client = self
            .clients
            .iter_mut()
            .find(|c| c.client_id == client_id)
            .ok_or(("BAD_CLIENT_ID", "missing or invalid client_id"))?;
        if client.client_secret != client_secret {
            return Err(("BAD_CLIENT_SECRET", "missing or invalid client_secret"));
        }
        if !client.refresh_tokens.iter().any(|t| t == refresh_token) {
            return Err(("BAD_REFRESH_TOKEN", "missing or unknown refresh token"));
        }
        let scopes = client.scopes.clone();
        let next_refresh = if client.rotates_refresh_tokens {
            let next = uuid::Uuid::new_v4().to_string();
            client.refresh_tokens.retain(|t| t != refresh_token);
            client.refresh_tokens.push(next.clone());
            next
        } else {
            refresh_token.to_owned()
        };
        // Shaped like HubSpot's opaque tokens; far below the 300-character budget.
        let token = format!("CO{}", uuid::Uuid::new_v4().simple());
        self.grants.insert(
            token.clone(),
            TokenGrant {
                kind: TokenKind::OAuth,
                scopes,
                expires_at: Some(Instant::now() + Duration::from_secs(OAUTH_EXPIRES_IN_SECS)),
            },
        );
        Ok(Refreshed {
            access_token: token,
            refresh_token: next_refresh,
        })
    }

    /// Checks a bearer token and the scope a route needs.
    pub fn authorize(
        &self,
        authorization: Option<&str>,
        required_scope: &str,
    ) -> Result<TokenKind, AuthFailure> {
        let header = authorization.ok_or(AuthFailure::Missing)?;
        let token = header
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AuthFailure::Missing)?;
        let grant = self.grants.get(token).ok_or(AuthFailure::Unknown)?;
        if grant.expires_at.is_some_and(|at| Instant::now() >= at) {
            return Err(AuthFailure::Expired);
        }
        if let Some(scopes) = &grant.scopes
            && !scopes.contains(required_scope)
        {
            return Err(AuthFailure::MissingScope(required_scope.to_string()));
        }
        Ok(grant.kind)
    }
}

impl AuthFailure {
    pub fn into_api_error(self) -> ApiError {
        match self {
            Self::Missing => ApiError::unauthorized(
                "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            ),
            Self::Unknown => ApiError::unauthorized(
                "The OAuth token used to make this call is invalid or does not exist.",
            ),
            Self::Expired => ApiError::unauthorized(
                "The OAuth token used to make this call expired 0 second(s) ago.",
            ),
            Self::MissingScope(scope) => ApiError::missing_scopes(&scope),
        }
    }
}

/// The scope a request needs, from its method and (version-free) path segments.
/// Custom objects use `crm.objects.custom.*` / `crm.schemas.custom.*`; standard objects use
/// their own names (hubspot.md §5 scopes).
pub fn required_scope(is_read: bool, area: ScopeArea, object_family: &str) -> String {
    let access = if is_read { "read" } else { "write" };
    match area {
        ScopeArea::Objects => format!("crm.objects.{object_family}.{access}"),
        ScopeArea::Schemas => format!("crm.schemas.{object_family}.{access}"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeArea {
    Objects,
    Schemas,
}

/// `POST /oauth/v1/token` (and `/oauth/2026-03/token`): refresh_token grant only.
pub async fn oauth_token(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let form = parse_form(&body);
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let bad = |status: &str, message: &str| {
        (
            StatusCode::BAD_REQUEST,
            Json(
                json!({ "status": status, "message": message, "correlationId": correlation_id() }),
            ),
        )
            .into_response()
    };
    if field("grant_type") != "refresh_token" {
        return bad(
            "BAD_GRANT_TYPE",
            "grant_type must be refresh_token (authorization_code is not simulated)",
        );
    }
    let mut tokens = match lock(&shared.tokens) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    match tokens.refresh(
        field("client_id"),
        field("client_secret"),
        field("refresh_token"),
    ) {
        Ok(refreshed) => Json(json!({
            "access_token": refreshed.access_token,
            "refresh_token": refreshed.refresh_token,
            "token_type": "bearer",
            "expires_in": OAUTH_EXPIRES_IN_SECS,
        }))
        .into_response(),
        Err((status, message)) => bad(status, message),
    }
}
