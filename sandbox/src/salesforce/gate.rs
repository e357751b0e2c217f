//! The layer every `/services/data/...` route passes through, in Salesforce's order: a served
//! API version, the session, the daily allowance, injected faults, then the handler; every
//! answer carries `Sforce-Limit-Info`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::errors::{SfError, lock};
use super::state::SfShared;
use crate::hubspot::faults::FaultDecision;
use crate::hubspot::stats::InjectedFault;

const DEFAULT_HANG: Duration = Duration::from_secs(60);

/// The API version of a `/services/data/vNN.N/...` path, as a number.
pub fn path_version(path: &str) -> Option<f64> {
    let segment = path.strip_prefix("/services/data/")?.split('/').next()?;
    let number = segment.strip_prefix('v')?;
    let (major, minor) = number.split_once('.')?;
    if major.is_empty() || minor.len() != 1 {
        return None;
    }
    number.parse().ok()
}

fn note(shared: &SfShared, f: impl FnOnce(&mut crate::hubspot::stats::RequestStats)) {
    if let Ok(mut stats) = shared.stats.lock() {
        f(&mut stats);
    }
}

fn with_usage(shared: &SfShared, mut response: Response) -> Response {
    if let Ok(usage) = shared.usage.lock() {
        usage.apply(response.headers_mut());
    }
    note(shared, |s| s.record_status(response.status().as_u16()));
    response
}

pub async fn gate(State(shared): State<Arc<SfShared>>, request: Request, next: Next) -> Response {
    let matched = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| request.uri().path().to_string());
    let key = format!("{} {matched}", request.method());
    note(&shared, |s| s.record_call(&key));

    let config = &shared.config;
    match path_version(request.uri().path()) {
        Some(v) if v >= config.min_api_version && v <= config.max_api_version => {}
        _ => return with_usage(&shared, SfError::not_found().into_response()),
    }

    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let authorized = match lock(&shared.tokens) {
        Ok(tokens) => tokens.check(authorization),
        Err(e) => Err(e),
    };
    if let Err(e) = authorized {
        note(&shared, |s| s.record_unauthorized());
        return with_usage(&shared, e.into_response());
    }

    let admitted = match lock(&shared.usage) {
        Ok(mut usage) => usage.admit(),
        Err(e) => return e.into_response(),
    };
    if !admitted {
        note(&shared, |s| s.record_rate_limited());
        return with_usage(&shared, SfError::request_limit_exceeded().into_response());
    }
    note(&shared, |s| s.record_accepted(Instant::now()));

    let (decision, latency, hang_length) = match lock(&shared.faults) {
        Ok(mut faults) => {
            let plan = faults.plan();
            let latency = Duration::from_millis(plan.latency_ms);
            let hang = match plan.hang_ms {
                0 => DEFAULT_HANG,
                ms => Duration::from_millis(ms),
            };
            (faults.decide(), latency, hang)
        }
        Err(e) => return e.into_response(),
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let server_error = |status: StatusCode| {
        let code = if status == StatusCode::SERVICE_UNAVAILABLE {
            "SERVER_UNAVAILABLE"
        } else {
            "UNKNOWN_EXCEPTION"
        };
        SfError::new(
            status,
            code,
            "An unexpected error occurred (injected by the sandbox)",
        )
        .into_response()
    };
    let response = match decision {
        FaultDecision::Proceed => next.run(request).await,
        FaultDecision::ApplyThenFail => {
            let _ = next.run(request).await;
            note(&shared, |s| s.record_fault(InjectedFault::ServerError));
            server_error(StatusCode::INTERNAL_SERVER_ERROR)
        }
        FaultDecision::TooManyRequests => {
            note(&shared, |s| s.record_fault(InjectedFault::TooManyRequests));
            SfError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TOO_MANY_REQUESTS",
                "Too many requests (injected by the sandbox)",
            )
            .into_response()
        }
        FaultDecision::ServerError(status) => {
            note(&shared, |s| s.record_fault(InjectedFault::ServerError));
            server_error(status)
        }
        FaultDecision::ServerErrorRateLimits => {
            note(&shared, |s| s.record_fault(InjectedFault::ServerError));
            server_error(StatusCode::INTERNAL_SERVER_ERROR)
        }
        FaultDecision::Hang => {
            note(&shared, |s| s.record_fault(InjectedFault::Hang));
            let mut shutdown = shared.shutdown.clone();
            tokio::select! {
                _ = tokio::time::sleep(hang_length) => {}
                _ = shutdown.changed() => {}
            }
            server_error(StatusCode::GATEWAY_TIMEOUT)
        }
    };
    with_usage(&shared, response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_from_paths() {
        assert_eq!(path_version("/services/data/v60.0/query"), Some(60.0));
        assert_eq!(path_version("/services/data/60.0/query"), None);
        assert_eq!(path_version("/services/data/v60/query"), None);
    }
}
