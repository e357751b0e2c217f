//! Salesforce's REST error format (salesforce.md §4.3): a JSON **array** of
//! `{"message","errorCode","fields"?}`, and OAuth's `{"error","error_description"}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An HTTP error answer with its body already in Salesforce's shape.
#[derive(Debug, Clone, PartialEq)]
pub struct SfError {
    pub status: StatusCode,
    pub body: Value,
}

impl SfError {
    pub fn new(status: StatusCode, error_code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: json!([{ "message": message.into(), "errorCode": error_code }]),
        }
    }

    pub fn with_fields(mut self, fields: &[&str]) -> Self {
        if let Some(first) = self.body.get_mut(0).and_then(Value::as_object_mut) {
            first.insert("fields".into(), json!(fields));
        }
        self
    }

    pub fn error_code(&self) -> &str {
        self.body
            .get(0)
            .and_then(|e| e.get("errorCode"))
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    pub fn message(&self) -> &str {
        self.body
            .get(0)
            .and_then(|e| e.get("message"))
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    pub fn invalid_session() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "INVALID_SESSION_ID",
            "Session expired or invalid",
        )
    }

    pub fn request_limit_exceeded() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
        )
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        )
    }

    /// The object is unknown: describe answers 404 `NOT_FOUND`, SOQL 400 `INVALID_TYPE`.
    pub fn invalid_type(object: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "INVALID_TYPE",
            format!(
                "sObject type '{object}' is not supported. If you are attempting to use a custom \
                 object, be sure to append the '__c' after the entity name. Please reference your \
                 WSDL or the describe call for the appropriate names."
            ),
        )
    }

    pub fn invalid_field(field: &str, object: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            format!(
                "No such column '{field}' on entity '{object}'. If you are attempting to use a \
                 custom field, be sure to append the '__c' after the custom field name. Please \
                 reference your WSDL or the describe call for the appropriate names."
            ),
        )
    }

    pub fn malformed_query(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "MALFORMED_QUERY", message)
    }

    pub fn bad_request(error_code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error_code, message)
    }

    pub fn json_parse(err: &serde_json::Error) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            err.to_string(),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UNKNOWN_EXCEPTION",
            message,
        )
    }
}

impl IntoResponse for SfError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// An OAuth token-endpoint error: HTTP 400 (401 for a bad client) with the fixture's keys.
pub fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

/// JSON request bodies must say so: anything else is 415, as a strict server answers, so a
/// client that forgets the header fails here rather than in production.
pub fn require_json_body(headers: &axum::http::HeaderMap) -> Result<(), SfError> {
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
    {
        Ok(())
    } else {
        Err(SfError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            format!("Content-Type '{content_type}' is not supported here; send application/json"),
        ))
    }
}

/// Locks a std mutex, turning poisoning into a 500 instead of a panic.
pub fn lock<T>(mutex: &std::sync::Mutex<T>) -> Result<std::sync::MutexGuard<'_, T>, SfError> {
    mutex
        .lock()
        .map_err(|_| SfError::internal("sandbox state lock poisoned"))
}
