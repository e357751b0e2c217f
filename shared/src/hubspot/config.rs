//! Client settings: where HubSpot is, which API path style to use, timeouts, rate limits and the
//! retry budget. Every default is sourced in `shared/reference/hubspot.md`.

use std::time::Duration;

/// HubSpot's API host (hubspot.md §0: the date-based versions keep the same host).
pub const DEFAULT_BASE_URL: &str = "https://api.hubapi.com";

/// The date-based version this client speaks by default (GA 2026-03-30, hubspot.md §0).
pub const DEFAULT_DATE_VERSION: &str = "2026-03";

/// Which family of paths to call (hubspot.md §0, "Design consequence").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiVersion {
    /// `/crm/objects/{version}/…`, `/crm-object-schemas/{version}/schemas`,
    /// `/crm/associations/{version}/…`, `/oauth/{version}/token`.
    DateBased(String),
    /// `/crm/v3/objects/…`, `/crm-object-schemas/v3/schemas`, `/crm/v4/associations/…`,
    /// `/oauth/v1/token`. Unsupported by HubSpot from 2027 (v4) and September 2027 (v3).
    Legacy,
}

impl Default for ApiVersion {
    fn default() -> Self {
        ApiVersion::DateBased(DEFAULT_DATE_VERSION.to_owned())
    }
}

/// The per-account request budget (hubspot.md §4.1–4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// Requests per window until HubSpot's `X-HubSpot-RateLimit-Max` says otherwise:
    /// 190 per 10 s is the current private-app limit on Professional and Enterprise.
    pub max_requests: u32,
    /// Window length until `X-HubSpot-RateLimit-Interval-Milliseconds` says otherwise.
    pub interval: Duration,
    /// Follow `X-HubSpot-RateLimit-Max`/`-Interval-Milliseconds`/`-Remaining` when answers carry
    /// them, so limit increases apply by themselves and other integrations' use is respected.
    pub adapt_to_headers: bool,
    /// Requests per window left for the account's other integrations.
    pub reserved_for_others: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            max_requests: 190,
            interval: Duration::from_secs(10),
            adapt_to_headers: true,
            reserved_for_others: 0,
        }
    }
}

/// How hard one request is retried before the call fails with a retryable error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySettings {
    /// Attempts per request, the first included (waits for the rate limiter do not count).
    pub max_attempts: u32,
    /// First backoff for 5xx and timeouts; doubled per attempt, with jitter.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// How long a SECONDLY 429 waits (hubspot.md §4.4: the Node SDK waits 1 s).
    pub secondly_wait: Duration,
    /// After a DAILY 429, calls fail at once for this long instead of asking HubSpot again.
    pub daily_limit_cooldown: Duration,
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(15),
            secondly_wait: Duration::from_secs(1),
            daily_limit_cooldown: Duration::from_secs(15 * 60),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubSpotConfig {
    /// `https://api.hubapi.com`, or a sandbox's `http://127.0.0.1:PORT`.
    pub base_url: String,
    pub api_version: ApiVersion,
    pub connect_timeout: Duration,
    /// Whole-request timeout; a timeout is retried like a 5xx.
    pub request_timeout: Duration,
    /// The most requests in flight at once across all calls of one client. Within it the rate
    /// limiter keeps as many in flight as the window's rate needs at the measured answer time.
    pub max_concurrent_requests: usize,
    pub rate_limit: RateLimitSettings,
    pub retry: RetrySettings,
}

impl Default for HubSpotConfig {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_version: ApiVersion::default(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            max_concurrent_requests: 16,
            rate_limit: RateLimitSettings::default(),
            retry: RetrySettings::default(),
        }
    }
}

impl HubSpotConfig {
    /// The defaults against another host (a sandbox, a proxy).
    pub fn with_base_url(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            ..Self::default()
        }
    }
}
