//! The response classifier, in the style of vector's `RetryLogic`: every answer is
//! `Successful`, `Retry(reason, wait)` or `DontRetry(error)`; items inside a multi-status answer
//! get their own verdict (hubspot.md §4.3–4.5).

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::config::RetrySettings;
use super::errors::HubSpotError;
use super::rate_limit::RateLimitHeaders;

/// HubSpot's burst window when an answer does not say (hubspot.md §4.2: "usually 10000").
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(10);
/// 423 Locked: third-party retry tables wait about 2 s (hubspot.md §4.4, UNVERIFIED).
const LOCKED_WAIT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryReason {
    /// A 429 (or a 500 saying `RATE_LIMITS`) naming its policy.
    RateLimit {
        policy: String,
    },
    /// 5xx, 408, 423, 477.
    ServerError {
        status: u16,
    },
    Timeout,
    Transport(String),
}

impl std::fmt::Display for RetryReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RetryReason::RateLimit { policy } => write!(f, "429 {policy}"),
            RetryReason::ServerError { status } => write!(f, "HTTP {status}"),
            RetryReason::Timeout => f.write_str("request timed out"),
            RetryReason::Transport(detail) => write!(f, "connection failed: {detail}"),
        }
    }
}

impl RetryReason {
    /// The error a request ends with once its retry budget is spent.
    pub fn into_exhausted_error(self, attempts: u32) -> HubSpotError {
        match self {
            RetryReason::RateLimit { policy } => HubSpotError::RateLimited {
                reason: format!("429 {policy}"),
                attempts,
            },
            other => HubSpotError::Unavailable {
                reason: other.to_string(),
                attempts,
            },
        }
    }
}

/// What to do with one answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryAction {
    Successful,
    /// Try again; after the given wait when the answer says how long, else after a backoff.
    Retry(RetryReason, Option<Duration>),
    DontRetry(HubSpotError),
}

/// HubSpot's error envelope; every field is optional (hubspot.md §4.5).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ErrorBody {
    pub message: Option<String>,
    pub category: Option<String>,
    pub sub_category: Option<String>,
    pub correlation_id: Option<String>,
    pub policy_name: Option<String>,
    pub error_type: Option<String>,
    pub context: Option<Value>,
    pub errors: Vec<ErrorDetail>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ErrorDetail {
    pub message: Option<String>,
    pub code: Option<String>,
    pub context: Option<Value>,
}

impl ErrorBody {
    pub fn parse(body: &Value) -> Self {
        serde_json::from_value(body.clone()).unwrap_or_default()
    }

    fn message_or(&self, status: u16) -> String {
        self.message
            .clone()
            .unwrap_or_else(|| format!("HTTP {status}"))
    }

    /// `errors[].context.requiredGranularScopes` of a MISSING_SCOPES answer.
    pub fn required_scopes(&self) -> Vec<String> {
        let mut scopes = Vec::new();
        for detail in &self.errors {
            if let Some(list) = detail
                .context
                .as_ref()
                .and_then(|c| c.get("requiredGranularScopes"))
                .and_then(Value::as_array)
            {
                scopes.extend(list.iter().filter_map(Value::as_str).map(str::to_owned));
            }
        }
        scopes
    }

    fn is_rate_limit(&self) -> bool {
        self.category.as_deref() == Some("RATE_LIMITS")
            || self.error_type.as_deref() == Some("RATE_LIMIT")
            || self.policy_name.is_some()
    }

    /// The policy a rate-limit answer names, read from `policyName` or else the message.
    fn policy(&self) -> String {
        if let Some(policy) = &self.policy_name {
            return policy.clone();
        }
        let message = self.message.as_deref().unwrap_or_default().to_lowercase();
        if message.contains("daily") {
            "DAILY".into()
        } else if message.contains("secondly limit") {
            "SECONDLY".into()
        } else {
            "TEN_SECONDLY_ROLLING".into()
        }
    }
}

/// Classifies one HTTP answer.
pub fn classify(
    status: u16,
    limits: &RateLimitHeaders,
    retry_after: Option<Duration>,
    body: &ErrorBody,
    settings: &RetrySettings,
) -> RetryAction {
    if (200..300).contains(&status) {
        return RetryAction::Successful;
    }
    let window = limits.interval.unwrap_or(DEFAULT_WINDOW);
    let rate_limited = status == 429 || (status >= 500 && body.is_rate_limit());
    if rate_limited {
        let policy = body.policy();
        return match policy.as_str() {
            "DAILY" => RetryAction::DontRetry(HubSpotError::DailyLimitReached {
                message: body.message_or(status),
            }),
            "SECONDLY" => RetryAction::Retry(
                RetryReason::RateLimit { policy },
                Some(retry_after.unwrap_or(settings.secondly_wait)),
            ),
            // TEN_SECONDLY_ROLLING or a policy this version does not know: wait out the window.
            _ => RetryAction::Retry(
                RetryReason::RateLimit { policy },
                Some(retry_after.unwrap_or(window)),
            ),
        };
    }
    match status {
        401 => RetryAction::DontRetry(HubSpotError::Unauthorized {
            message: body.message_or(status),
        }),
        403 if body.category.as_deref() == Some("MISSING_SCOPES") => {
            RetryAction::DontRetry(HubSpotError::MissingScopes {
                scopes: body.required_scopes(),
            })
        }
        423 => RetryAction::Retry(
            RetryReason::ServerError { status },
            Some(retry_after.unwrap_or(LOCKED_WAIT)),
        ),
        408 | 477 | 500..=599 => {
            RetryAction::Retry(RetryReason::ServerError { status }, retry_after)
        }
        _ => RetryAction::DontRetry(HubSpotError::Rejected {
            status,
            category: body.category.clone(),
            message: body.message_or(status),
            correlation_id: body.correlation_id.clone(),
        }),
    }
}

/// Verdict on one failed item of a multi-status answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemAction {
    Retry,
    DontRetry,
}

/// Item errors that name a transient state retry; values HubSpot refused do not.
pub fn classify_item(category: Option<&str>) -> ItemAction {
    match category {
        Some("RATE_LIMITS" | "INTERNAL_ERROR" | "SERVICE_UNAVAILABLE" | "TIMEOUT" | "LOCKED") => {
            ItemAction::Retry
        }
        _ => ItemAction::DontRetry,
    }
}

/// Capped exponential backoff with jitter: between half and all of
/// `initial × 2^(attempt-1)` (capped), `random` choosing where.
pub fn backoff(attempt: u32, settings: &RetrySettings, random: u64) -> Duration {
    let exponent = attempt.saturating_sub(1).min(20);
    let full = settings
        .initial_backoff
        .saturating_mul(1u32 << exponent)
        .min(settings.max_backoff);
    let half = full / 2;
    let span_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX).max(1);
    half + Duration::from_millis(random % span_ms)
}

/// `Retry-After` in seconds, when present.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn classify_json(status: u16, body: Value) -> RetryAction {
        classify(
            status,
            &RateLimitHeaders::default(),
            None,
            &ErrorBody::parse(&body),
            &RetrySettings::default(),
        )
    }

    /// The copies of `shared/fixtures/hubspot/` the sandbox is tested against.
    fn fixture(name: &str) -> Value {
        let path = format!(
            "{}/../sandbox/tests/fixtures/hubspot/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).expect("fixture");
        serde_json::from_str(&text).expect("fixture JSON")
    }

    #[test]
    fn rate_limit_fixtures_follow_their_policy() {
        let ten = classify_json(429, fixture("error-429-ten-secondly.json"));
        assert_eq!(
            ten,
            RetryAction::Retry(
                RetryReason::RateLimit {
                    policy: "TEN_SECONDLY_ROLLING".into()
                },
                Some(DEFAULT_WINDOW)
            )
        );
        let secondly = classify_json(429, fixture("error-429-secondly.json"));
        assert!(matches!(
            secondly,
            RetryAction::Retry(_, Some(d)) if d == Duration::from_secs(1)
        ));
        assert!(matches!(
            classify_json(429, fixture("error-429-daily.json")),
            RetryAction::DontRetry(HubSpotError::DailyLimitReached { .. })
        ));
    }

    #[test]
    fn window_and_retry_after_headers_set_the_wait() {
        let limits = RateLimitHeaders {
            interval: Some(Duration::from_millis(5_000)),
            ..RateLimitHeaders::default()
        };
        let body = ErrorBody::parse(&fixture("error-429-ten-secondly.json"));
        let settings = RetrySettings::default();
        assert!(matches!(
            classify(429, &limits, None, &body, &settings),
            RetryAction::Retry(_, Some(d)) if d == Duration::from_secs(5)
        ));
        assert!(matches!(
            classify(429, &limits, Some(Duration::from_secs(3)), &body, &settings),
            RetryAction::Retry(_, Some(d)) if d == Duration::from_secs(3)
        ));
    }

    #[test]
    fn a_500_saying_rate_limits_is_a_rate_limit() {
        let action = classify_json(
            500,
            json!({"status":"error","message":"You have reached your secondly limit.","category":"RATE_LIMITS"}),
        );
        assert!(matches!(
            action,
            RetryAction::Retry(RetryReason::RateLimit { ref policy }, Some(_)) if policy == "SECONDLY"
        ));
    }

    #[test]
    fn server_errors_retry_with_backoff_and_client_errors_do_not() {
        for status in [500, 502, 503, 504, 408] {
            assert!(matches!(
                classify_json(status, json!({"message":"x"})),
                RetryAction::Retry(RetryReason::ServerError { .. }, None)
            ));
        }
        assert!(matches!(
            classify_json(400, fixture("error-400-duplicate-ids.json")),
            RetryAction::DontRetry(HubSpotError::Rejected { status: 400, .. })
        ));
        assert!(matches!(
            classify_json(
                401,
                json!({"category":"INVALID_AUTHENTICATION","message":"expired"})
            ),
            RetryAction::DontRetry(HubSpotError::Unauthorized { .. })
        ));
        assert_eq!(classify_json(207, json!({})), RetryAction::Successful);
    }

    #[test]
    fn missing_scopes_names_the_scope() {
        let action = classify_json(
            403,
            json!({"category":"MISSING_SCOPES","message":"This app hasn't been granted all required scopes",
                   "errors":[{"message":"One or more of the following scopes are required.",
                              "context":{"requiredGranularScopes":["crm.objects.custom.write"]}}]}),
        );
        assert_eq!(
            action,
            RetryAction::DontRetry(HubSpotError::MissingScopes {
                scopes: vec!["crm.objects.custom.write".into()]
            })
        );
    }

    #[test]
    fn items_retry_only_on_transient_categories() {
        assert_eq!(
            classify_item(Some("VALIDATION_ERROR")),
            ItemAction::DontRetry
        );
        assert_eq!(classify_item(None), ItemAction::DontRetry);
        assert_eq!(classify_item(Some("RATE_LIMITS")), ItemAction::Retry);
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let settings = RetrySettings::default();
        let first = backoff(1, &settings, 0);
        assert_eq!(first, Duration::from_millis(125));
        assert!(backoff(1, &settings, u64::MAX) < Duration::from_millis(250));
        assert!(backoff(3, &settings, 0) >= Duration::from_millis(500));
        assert!(backoff(30, &settings, u64::MAX) <= settings.max_backoff);
    }
}
