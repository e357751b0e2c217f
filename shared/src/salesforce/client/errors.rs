//! Salesforce's errors, typed and actionable. REST errors arrive as a JSON array
//! `[{"message","errorCode","fields"?}]` (salesforce.md §4.3); the token endpoint answers
//! `{"error","error_description"}`.

use serde::Deserialize;

use super::limits::ApiUsage;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SalesforceError {
    #[error(
        "Salesforce has no field `{}` on {} (INVALID_FIELD): fix the mapping's field name, or give \
         the integration user field-level access to it. Salesforce said: {message}",
        field.as_deref().unwrap_or("?"),
        object.as_deref().unwrap_or("the object")
    )]
    InvalidField {
        object: Option<String>,
        field: Option<String>,
        message: String,
    },
    #[error(
        "object `{object}` was not found or is not accessible to the integration user \
         (INVALID_TYPE/NOT_FOUND): check the API name (custom objects end in __c) and the user's \
         object permissions. Salesforce said: {message}"
    )]
    InvalidType { object: String, message: String },
    #[error("Salesforce refused the query as malformed (MALFORMED_QUERY): {message}")]
    MalformedQuery { message: String },
    #[error(
        "Salesforce rejected the session (INVALID_SESSION_ID) even with a freshly minted token: \
         check the connected app's OAuth policies (IP relaxation, session timeout, permitted users) \
         and that the integration user is active"
    )]
    SessionRejected,
    #[error("the token request was refused ({error}: {description}): {hint}")]
    Auth {
        error: String,
        description: String,
        hint: String,
    },
    #[error(
        "the org's daily API request limit is used up (REQUEST_LIMIT_EXCEEDED{}): sf2hs stopped; \
         resume when the rolling 24-hour window frees calls, or ask for a higher allowance",
        usage.map(|u| format!(", {u}")).unwrap_or_default()
    )]
    RequestLimitExceeded { usage: Option<ApiUsage> },
    #[error(
        "stopped before the next call: {used} of {max} daily API calls are used and sf2hs may use \
         at most {:.0}% of them (max_api_share = {share}); one call probes again every few \
         minutes and calls resume once the rolling day has room, or raise the share",
        share * 100.0
    )]
    QuotaGuardStop { used: u64, max: u64, share: f64 },
    #[error("the query cursor expired (INVALID_QUERY_LOCATOR): run the query again")]
    QueryLocatorExpired,
    #[error(
        "Salesforce answered 409 (API version conflict): Bulk results must be read with the API \
         version the job was created with. Salesforce said: {message}"
    )]
    ApiVersionConflict { message: String },
    #[error("Bulk query job {job_id} failed: {message}")]
    BulkJobFailed { job_id: String, message: String },
    #[error("Bulk query job {job_id} was aborted (by sf2hs or an admin); start a new one")]
    BulkJobAborted { job_id: String },
    #[error(
        "Bulk query job {job_id} was still {state} after {waited_secs} s: abort it in Setup > \
         Bulk Data Load Jobs or raise the poll timeout"
    )]
    BulkJobTimeout {
        job_id: String,
        state: String,
        waited_secs: u64,
    },
    #[error("Salesforce answered HTTP {status} {code}: {message}")]
    Api {
        status: u16,
        code: String,
        message: String,
        fields: Vec<String>,
    },
    #[error("cannot reach Salesforce at {url}: {message} (check the URL and the network)")]
    Transport { url: String, message: String },
    #[error("Salesforce's answer could not be read: {0}")]
    Decode(String),
    #[error("Salesforce client configuration: {0}")]
    Config(String),
}

impl SalesforceError {
    /// True for failures another try may fix (server errors, network).
    pub fn is_transient(&self) -> bool {
        match self {
            SalesforceError::Transport { .. } => true,
            SalesforceError::Api { status, .. } => super::retry::is_retryable_status(*status),
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiErrorItem {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub error_code: String,
    #[serde(default)]
    pub fields: Vec<String>,
}

/// The first `'…'`-quoted name after `marker` in `message`.
fn quoted_after(message: &str, marker: &str) -> Option<String> {
    let rest = &message[message.find(marker)? + marker.len()..];
    let start = rest.find('\'')? + 1;
    let end = rest[start..].find('\'')? + start;
    Some(rest[start..end].to_string())
}

/// The object named by "… on entity 'Y'" or "… on sobject of type Y".
fn entity_in(message: &str) -> Option<String> {
    quoted_after(message, "on entity").or_else(|| {
        let rest = &message[message.find("of type ")? + "of type ".len()..];
        Some(
            rest.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .next()?
                .to_string(),
        )
        .filter(|s| !s.is_empty())
    })
}

/// Turns a failed answer into a typed error. `object` is what the call was about, when known.
pub fn classify(status: u16, body: &str, object: Option<&str>) -> SalesforceError {
    let items: Vec<ApiErrorItem> = serde_json::from_str(body).unwrap_or_default();
    let Some(first) = items.into_iter().next() else {
        return SalesforceError::Api {
            status,
            code: String::new(),
            message: body.chars().take(500).collect(),
            fields: Vec::new(),
        };
    };
    let message = first.message.clone();
    match first.error_code.as_str() {
        "INVALID_FIELD" => SalesforceError::InvalidField {
            field: quoted_after(&message, "No such column")
                .or_else(|| first.fields.first().cloned()),
            object: entity_in(&message).or_else(|| object.map(str::to_string)),
            message,
        },
        "INVALID_TYPE" => SalesforceError::InvalidType {
            object: quoted_after(&message, "sObject type")
                .or_else(|| object.map(str::to_string))
                .unwrap_or_default(),
            message,
        },
        "NOT_FOUND" if object.is_some() => SalesforceError::InvalidType {
            object: object.unwrap_or_default().to_string(),
            message,
        },
        "MALFORMED_QUERY" => SalesforceError::MalformedQuery { message },
        "INVALID_QUERY_LOCATOR" => SalesforceError::QueryLocatorExpired,
        "REQUEST_LIMIT_EXCEEDED" => SalesforceError::RequestLimitExceeded { usage: None },
        _ if status == 409 => SalesforceError::ApiVersionConflict { message },
        code => SalesforceError::Api {
            status,
            code: code.to_string(),
            message,
            fields: first.fields,
        },
    }
}

#[derive(Debug, Deserialize)]
struct OAuthErrorBody {
    error: String,
    #[serde(default)]
    error_description: String,
}

/// A refused token request, with what to check.
pub fn classify_oauth(status: u16, body: &str) -> SalesforceError {
    let Ok(parsed) = serde_json::from_str::<OAuthErrorBody>(body) else {
        return SalesforceError::Auth {
            error: format!("HTTP {status}"),
            description: body.chars().take(300).collect(),
            hint: "check login_url: it must be the org's token host".into(),
        };
    };
    let hint = match parsed.error.as_str() {
        "invalid_client_id" => "check the consumer key (client id) of the connected app",
        "invalid_client" => "check the client secret of the connected app",
        "invalid_grant" => {
            "JWT: check the certificate matches the private key, the user is pre-authorised for \
             the app, aud is the login host, and the clock; client credentials: check the run-as \
             user and that the app has the `api` scope"
        }
        "unsupported_grant_type" => "enable this OAuth flow on the connected app",
        _ => "check the connected app's OAuth settings",
    };
    SalesforceError::Auth {
        error: parsed.error,
        description: parsed.error_description,
        hint: hint.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_errors_are_typed() {
        let invalid_field = r#"[{"message":"No such column 'AccountNumer' on sobject of type Account","errorCode":"INVALID_FIELD"}]"#;
        match classify(400, invalid_field, None) {
            SalesforceError::InvalidField { field, object, .. } => {
                assert_eq!(field.as_deref(), Some("AccountNumer"));
                assert_eq!(object.as_deref(), Some("Account"));
            }
            other => panic!("{other:?}"),
        }
        let invalid_type = r#"[{"message":"\nName FROM Accout\nERROR at Row:1:Column:43\nsObject type 'Accout' is not supported.","errorCode":"INVALID_TYPE"}]"#;
        assert!(matches!(
            classify(400, invalid_type, None),
            SalesforceError::InvalidType { object, .. } if object == "Accout"
        ));
        let limit =
            r#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#;
        assert!(matches!(
            classify(403, limit, None),
            SalesforceError::RequestLimitExceeded { .. }
        ));
        let oauth =
            r#"{"error":"invalid_grant","error_description":"user hasn't approved this consumer"}"#;
        assert!(
            classify_oauth(400, oauth)
                .to_string()
                .contains("pre-authorised")
        );
    }
}
