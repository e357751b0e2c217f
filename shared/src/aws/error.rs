//! SDK errors in port terms: what can be retried is `Unavailable`, the rest says what to fix.

use std::error::Error;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::ports::PortError;

/// Error codes AWS uses for "slow down" or "try again".
const RETRYABLE_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TransactionConflictException",
    "InternalServerError",
    "InternalFailure",
    "ServiceUnavailable",
    "RequestThrottled",
    "KMSThrottlingException",
    "AWS.SimpleQueueService.RequestThrottled",
];

/// Turns an SDK error into a [`PortError`]: throttling, 5xx, timeouts and connection failures
/// are `Unavailable` (the caller retries later); any other refusal is `Invalid`, with the
/// service's code and message so that the operator can fix the configuration.
pub(crate) fn port_error<E>(
    backend: &'static str,
    doing: &str,
    error: SdkError<E, HttpResponse>,
) -> PortError
where
    E: ProvideErrorMetadata + Error + Send + Sync + 'static,
{
    let status = error.raw_response().map(|r| r.status().as_u16());
    match &error {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("unknown");
            let message = service.err().message().unwrap_or("no message");
            if RETRYABLE_CODES.contains(&code) || status.is_some_and(|s| s >= 500) {
                PortError::Unavailable {
                    backend,
                    reason: format!("{doing}: {code}: {message}"),
                }
            } else {
                PortError::invalid(format!(
                    "{backend} refused {doing}: {code}: {message} (check the resource names and \
                     the permissions of the role)"
                ))
            }
        }
        _ => PortError::Unavailable {
            backend,
            reason: format!("{doing}: {}", DisplayErrorContext(&error)),
        },
    }
}

/// The service error code, when the error is one.
pub(crate) fn error_code<E>(error: &SdkError<E, HttpResponse>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    match error {
        SdkError::ServiceError(service) => service.err().code(),
        _ => None,
    }
}
