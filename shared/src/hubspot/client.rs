//! The HTTP core: one `reqwest` client (rustls with the ring provider, the only TLS stack), the
//! account's rate limiter, the classifier and the retry loop. The operations (batch writes,
//! associations, schemas) live in their own modules as `impl HubSpotClient` blocks.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use reqwest::Method;
use serde_json::Value;
use tokio::sync::Semaphore;

use super::associations::AssociationType;
use super::auth::TokenSource;
use super::config::HubSpotConfig;
use super::errors::HubSpotError;
use super::paths::ApiPaths;
use super::rate_limit::{AccountRateLimiter, RateLimitHeaders};
use super::retry::{ErrorBody, RetryAction, RetryReason, backoff, classify, retry_after};

/// Adds a request's body (and any per-request setting) to a request about to be sent.
pub(crate) type BodyBuilder<'a> = dyn Fn(reqwest::RequestBuilder) -> Result<reqwest::RequestBuilder, HubSpotError>
    + Send
    + Sync
    + 'a;

/// A HubSpot answer the classifier accepted (2xx, 207 included).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse {
    pub status: u16,
    /// `Value::Null` for an empty body (204).
    pub body: Value,
}

/// What this client did, for benchmarks and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// HTTP requests sent to the API (token refreshes excluded).
    pub requests: u64,
    /// Requests that were sent again after a retryable answer.
    pub retries: u64,
    /// Answers classified as a rate limit (429, or a 500 saying RATE_LIMITS).
    pub rate_limited: u64,
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    rate_limited: AtomicU64,
}

/// The HubSpot API client. Cheap to clone: clones share the connection pool, the token, the
/// account's rate limiter and the association-type cache.
#[derive(Debug, Clone)]
pub struct HubSpotClient {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    http: reqwest::Client,
    pub(crate) config: HubSpotConfig,
    pub(crate) paths: ApiPaths,
    tokens: TokenSource,
    limiter: AccountRateLimiter,
    in_flight: Semaphore,
    /// When a DAILY 429 was seen: calls fail fast for a while instead of asking again.
    daily_limit_hit: Mutex<Option<(Instant, String)>>,
    pub(crate) association_types: Mutex<HashMap<(String, String), Vec<AssociationType>>>,
    counters: Counters,
}

impl HubSpotClient {
    pub fn new(config: HubSpotConfig, tokens: TokenSource) -> Result<Self, HubSpotError> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(concat!("sf2hs/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HubSpotError::Configuration {
                reason: format!("cannot build the HTTP client: {e}"),
            })?;
        if !config.base_url.starts_with("http://") && !config.base_url.starts_with("https://") {
            return Err(HubSpotError::Configuration {
                reason: format!(
                    "base_url `{}` must start with https:// (or http:// for a local sandbox)",
                    config.base_url
                ),
            });
        }
        let paths = ApiPaths::new(config.api_version.clone());
        let limiter = AccountRateLimiter::new(config.rate_limit.clone());
        let in_flight = Semaphore::new(config.max_concurrent_requests.max(1));
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                config,
                paths,
                tokens,
                limiter,
                in_flight,
                daily_limit_hit: Mutex::new(None),
                association_types: Mutex::new(HashMap::new()),
                counters: Counters::default(),
            }),
        })
    }

    pub fn config(&self) -> &HubSpotConfig {
        &self.inner.config
    }

    pub fn paths(&self) -> &ApiPaths {
        &self.inner.paths
    }

    pub fn rate_limiter(&self) -> &AccountRateLimiter {
        &self.inner.limiter
    }

    pub fn stats(&self) -> ClientStats {
        let c = &self.inner.counters;
        ClientStats {
            requests: c.requests.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            rate_limited: c.rate_limited.load(Ordering::Relaxed),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.inner.config.base_url.trim_end_matches('/'))
    }

    fn check_daily_limit(&self) -> Result<(), HubSpotError> {
        let hit = self
            .inner
            .daily_limit_hit
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((at, message)) = hit.as_ref()
            && at.elapsed() < self.inner.config.retry.daily_limit_cooldown
        {
            return Err(HubSpotError::DailyLimitReached {
                message: message.clone(),
            });
        }
        Ok(())
    }

    fn note_daily_limit(&self, message: &str) {
        let mut hit = self
            .inner
            .daily_limit_hit
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *hit = Some((Instant::now(), message.to_owned()));
    }

    /// Sends one request with the account's rate limit, the token and the retry budget.
    /// Answers the classifier accepts come back as `Ok`; the rest as typed errors.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<ApiResponse, HubSpotError> {
        let with_body = |request: reqwest::RequestBuilder| match body {
            Some(body) => Ok(request.json(body)),
            None => Ok(request),
        };
        self.send_built(method, path, &with_body).await
    }

    /// `send` with a body built afresh for every attempt (a multipart upload streamed from a
    /// file cannot be cloned, so each retry opens the file again).
    pub(crate) async fn send_built(
        &self,
        method: Method,
        path: &str,
        body: &BodyBuilder<'_>,
    ) -> Result<ApiResponse, HubSpotError> {
        let inner = &self.inner;
        let url = self.url(path);
        let token_url = self.url(&inner.paths.oauth_token());
        let settings = &inner.config.retry;
        let max_attempts = settings.max_attempts.max(1);
        let mut attempt = 0;
        let mut refreshed_after_401 = false;
        loop {
            self.check_daily_limit()?;
            attempt += 1;
            let token = inner.tokens.bearer(&inner.http, &token_url).await?;
            let (action, answer, limits) =
                {
                    let _in_flight = inner.in_flight.acquire().await.map_err(|_| {
                        HubSpotError::Configuration {
                            reason: "the client was shut down".into(),
                        }
                    })?;
                    let _slot = inner.limiter.acquire().await;
                    inner.counters.requests.fetch_add(1, Ordering::Relaxed);
                    let request = inner
                        .http
                        .request(method.clone(), &url)
                        .bearer_auth(token.expose());
                    self.exchange(body(request)?).await
                };
            let action = match action {
                // A 403 too: a token rotated in its secret may carry the scopes this one lacks.
                RetryAction::DontRetry(
                    HubSpotError::Unauthorized { .. } | HubSpotError::MissingScopes { .. },
                ) if !refreshed_after_401
                    && inner
                        .tokens
                        .refresh_after_unauthorized(&inner.http, &token_url, &token)
                        .await? =>
                {
                    // The one retry an expired OAuth token gets; it does not use the budget.
                    refreshed_after_401 = true;
                    attempt -= 1;
                    continue;
                }
                other => other,
            };
            match action {
                RetryAction::Successful => {
                    return answer.ok_or_else(|| HubSpotError::InvalidResponse {
                        reason: "no answer recorded for a successful request".into(),
                    });
                }
                RetryAction::DontRetry(error) => {
                    if let HubSpotError::DailyLimitReached { message } = &error {
                        self.note_daily_limit(message);
                    }
                    return Err(error);
                }
                RetryAction::Retry(reason, wait) => {
                    if let RetryReason::RateLimit { .. } = reason {
                        inner.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
                        // HubSpot's window is full (or the answer does not say): everyone waits.
                        if limits.remaining.is_none_or(|r| r == 0)
                            && let Some(wait) = wait
                        {
                            inner.limiter.pause_for(wait);
                        }
                    }
                    if attempt >= max_attempts {
                        return Err(reason.into_exhausted_error(attempt));
                    }
                    inner.counters.retries.fetch_add(1, Ordering::Relaxed);
                    let random = uuid::Uuid::new_v4().as_u128() as u64;
                    let wait = wait.unwrap_or_else(|| backoff(attempt, settings, random));
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// One HTTP exchange, classified. Feeds the answer's rate-limit headers to the limiter.
    async fn exchange(
        &self,
        request: reqwest::RequestBuilder,
    ) -> (RetryAction, Option<ApiResponse>, RateLimitHeaders) {
        let no_limits = RateLimitHeaders::default();
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => return (transport_retry(&e), None, no_limits),
        };
        let status = response.status().as_u16();
        let limits = RateLimitHeaders::from_headers(response.headers());
        self.inner.limiter.observe(limits);
        let wait_hint = retry_after(response.headers());
        let text = match response.text().await {
            Ok(text) => text,
            Err(e) => return (transport_retry(&e), None, limits),
        };
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        let action = classify(
            status,
            &limits,
            wait_hint,
            &ErrorBody::parse(&body),
            &self.inner.config.retry,
        );
        (action, Some(ApiResponse { status, body }), limits)
    }
}

fn transport_retry(error: &reqwest::Error) -> RetryAction {
    let reason = if error.is_timeout() {
        RetryReason::Timeout
    } else {
        RetryReason::Transport(strip_url(error))
    };
    RetryAction::Retry(reason, None)
}

/// reqwest errors name the URL; ours carry no secret, but keep messages short and stable.
fn strip_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "");
    }
    text
}
