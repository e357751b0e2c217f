//! HubSpot's error envelope (hubspot.md §4.5) and the exact bodies of the fixtures
//! (`error-400-*.json`, `error-429-*.json`), built in one place so every route answers alike.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A fresh correlation id, as every HubSpot error carries one.
pub fn correlation_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// An HTTP error answer: a status plus a JSON body already in HubSpot's shape.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, body: Value) -> Self {
        Self { status, body }
    }

    /// `{"status":"error","message",..,"correlationId",..,"category":..}` plus optional context.
    pub fn categorized(
        status: StatusCode,
        category: &str,
        message: impl Into<String>,
        context: Option<Value>,
    ) -> Self {
        let mut body = json!({
            "status": "error",
            "message": message.into(),
            "correlationId": correlation_id(),
            "category": category,
        });
        if let (Some(ctx), Some(map)) = (context, body.as_object_mut()) {
            map.insert("context".into(), ctx);
        }
        Self::new(status, body)
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::categorized(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message, None)
    }

    pub fn validation_with_context(message: impl Into<String>, context: Value) -> Self {
        Self::categorized(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            message,
            Some(context),
        )
    }

    /// Shape of `error-400-malformed-body.json`: no `category`, the parser position in the message.
    pub fn malformed_json(err: &serde_json::Error) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            json!({
                "status": "error",
                "message": format!(
                    "Invalid input JSON on line {}, column {}: {}",
                    err.line(),
                    err.column(),
                    err
                ),
                "correlationId": correlation_id(),
            }),
        )
    }

    /// Shape of `error-400-duplicate-ids.json` (hubspot.md §2.4).
    pub fn duplicate_ids(ids: &[String]) -> Self {
        Self::validation_with_context(
            format!(
                "Duplicate IDs found in batch input: [{}]. IDs must be unique",
                ids.join(", ")
            ),
            json!({ "ids": ids }),
        )
    }

    pub fn too_many_inputs(count: usize, limit: usize) -> Self {
        Self::validation_with_context(
            format!(
                "Too many inputs in batch: {count} were provided, the limit is {limit} inputs per batch request"
            ),
            json!({ "limit": [limit.to_string()], "count": [count.to_string()] }),
        )
    }

    /// hubspot.md §2.4, issue HubSpot/hubspot-api-nodejs#548.
    pub fn non_unique_id_property(object_type_id: &str, property: &str, portal_id: u64) -> Self {
        Self::validation(format!(
            "Unable to perform update/upsert by non-unique {object_type_id} property {property} in portal ID {portal_id}"
        ))
    }

    pub fn unknown_object_type(object_type: &str) -> Self {
        Self::validation(format!("Unable to infer object type from: {object_type}"))
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::categorized(StatusCode::NOT_FOUND, "OBJECT_NOT_FOUND", message, None)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::categorized(StatusCode::CONFLICT, "CONFLICT", message, None)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::categorized(
            StatusCode::UNAUTHORIZED,
            "INVALID_AUTHENTICATION",
            message,
            None,
        )
    }

    /// 403 with `errors[0].context.requiredGranularScopes` (hubspot.md §4.5).
    pub fn missing_scopes(scope: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            json!({
                "status": "error",
                "message": "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
                "correlationId": correlation_id(),
                "errors": [{
                    "message": "One or more of the following scopes are required.",
                    "context": { "requiredGranularScopes": [scope] }
                }],
                "links": { "scopes": "https://developers.hubspot.com/scopes" },
                "category": "MISSING_SCOPES",
            }),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::categorized(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            message,
            None,
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}: {}", self.status, self.body)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// Which rolling policy a 429 names (hubspot.md §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitPolicy {
    TenSecondlyRolling,
    Secondly,
    Daily,
}

/// The 429 bodies of `error-429-{ten-secondly,secondly,daily}.json`, with fresh ids.
pub fn rate_limit_body(policy: RateLimitPolicy, portal_id: u64) -> Value {
    match policy {
        RateLimitPolicy::TenSecondlyRolling => json!({
            "status": "error",
            "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": correlation_id(),
            "policyName": "TEN_SECONDLY_ROLLING",
            "groupName": format!("publicapi:hapikey-api-calls-ten-secondly:{portal_id}"),
        }),
        RateLimitPolicy::Secondly => json!({
            "status": "error",
            "message": "You have reached your secondly limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": correlation_id(),
            "groupName": format!("publicapi:hapikey-secondly:{portal_id}"),
            "policyName": "SECONDLY",
            "requestId": uuid::Uuid::new_v4().simple().to_string(),
        }),
        // The daily fixture is a third-party mock without a correlationId; HubSpot errors
        // always carry one, so it is added (hubspot.md §4.3 marks this shape UNVERIFIED).
        RateLimitPolicy::Daily => json!({
            "status": "error",
            "message": "You have reached your daily limit.",
            "category": "RATE_LIMITS",
            "policyName": "DAILY",
            "correlationId": correlation_id(),
        }),
    }
}

/// Parses a request body strictly, answering HubSpot's malformed-body 400 on any failure.
pub fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::malformed_json(&e))
}
