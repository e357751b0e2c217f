//! The layer every API route passes through, in HubSpot's order: authentication and scopes,
//! rate limits (counted over all API routes), injected faults, then the handler; every answer
//! that got past authentication carries the rate-limit headers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::auth::{AuthFailure, ScopeArea, TokenKind, required_scope};
use super::errors::{ApiError, rate_limit_body};
use super::faults::{FaultDecision, server_error_body, server_error_rate_limits_body};
use super::state::{Shared, lock};
use super::stats::InjectedFault;

/// Default hang length when the plan says 0: longer than any sane client timeout.
const DEFAULT_HANG: Duration = Duration::from_secs(60);

/// The scope of the CRM Imports API (`crm.import`).
const IMPORT_SCOPE: &str = "crm.import";

/// Route name for statistics, set by the gate for handlers to read.
#[derive(Debug, Clone)]
pub struct RouteKey(pub String);

/// Path segments with the version segment (`v3`, `v4`, `2026-03`…) removed.
fn versionless_segments(path: &str) -> Vec<&str> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .filter(|s| !is_version_segment(s))
        .collect()
}

fn is_version_segment(segment: &str) -> bool {
    let date_like = segment.len() == 7
        && segment.as_bytes()[4] == b'-'
        && segment
            .bytes()
            .enumerate()
            .all(|(i, b)| i == 4 || b.is_ascii_digit());
    date_like || matches!(segment, "v1" | "v2" | "v3" | "v4")
}

/// `"POST /crm/objects/{objectType}/batch/upsert"` for both path styles.
pub fn route_key(method: &Method, matched_path: &str) -> String {
    format!("{method} /{}", versionless_segments(matched_path).join("/"))
}

/// The granular scope a request needs (hubspot.md §5).
fn scope_for(shared: &Shared, method: &Method, path: &str) -> Result<String, ApiError> {
    let segments = versionless_segments(path);
    // The CRM Imports API takes one scope for every route, reads included (its OpenAPI spec).
    if let ["crm", "imports", ..] = segments.as_slice() {
        return Ok(IMPORT_SCOPE.to_string());
    }
    let is_read = *method == Method::GET
        || segments
            .last()
            .is_some_and(|s| *s == "read" || *s == "search");
    let (area, object_type) = match segments.as_slice() {
        ["crm-object-schemas", "schemas", rest @ ..] | ["crm", "schemas", rest @ ..] => {
            (ScopeArea::Schemas, rest.first().copied())
        }
        ["crm", "properties", object_type, ..] => (ScopeArea::Schemas, Some(*object_type)),
        ["crm", "objects", object_type, ..] | ["crm", "associations", object_type, ..] => {
            (ScopeArea::Objects, Some(*object_type))
        }
        _ => (ScopeArea::Objects, None),
    };
    let portal = lock(&shared.portal)?;
    let family = object_type
        .and_then(|t| portal.resolve(t))
        .filter(|s| s.is_standard)
        .map(|s| s.name.clone())
        .unwrap_or_else(|| "custom".to_string());
    Ok(required_scope(is_read, area, &family))
}

fn check_auth(shared: &Shared, request: &Request) -> Result<TokenKind, ApiError> {
    let scope = scope_for(shared, request.method(), request.uri().path())?;
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    lock(&shared.tokens)?
        .authorize(authorization, &scope)
        .map_err(AuthFailure::into_api_error)
}

fn note_status(shared: &Shared, status: StatusCode) {
    if let Ok(mut stats) = shared.stats.lock() {
        stats.record_status(status.as_u16());
    }
}

fn note_fault(shared: &Shared, fault: InjectedFault) {
    if let Ok(mut stats) = shared.stats.lock() {
        stats.record_fault(fault);
    }
}

async fn hang(shared: &Shared, length: Duration) {
    let mut shutdown = shared.shutdown.clone();
    if *shutdown.borrow() {
        return;
    }
    tokio::select! {
        _ = tokio::time::sleep(length) => {}
        _ = shutdown.changed() => {}
    }
}

pub async fn gate(State(shared): State<Arc<Shared>>, mut request: Request, next: Next) -> Response {
    let matched = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| request.uri().path().to_string());
    let key = route_key(request.method(), &matched);
    if let Ok(mut stats) = shared.stats.lock() {
        stats.record_call(&key);
    }

    let token_kind = match check_auth(&shared, &request) {
        Ok(kind) => kind,
        Err(err) => {
            if err.status == StatusCode::UNAUTHORIZED
                && let Ok(mut stats) = shared.stats.lock()
            {
                stats.record_unauthorized();
            }
            note_status(&shared, err.status);
            return err.into_response();
        }
    };
    let include_daily = token_kind == TokenKind::Static;

    let now = Instant::now();
    let admission = match lock(&shared.limiter) {
        Ok(mut limiter) => limiter.admit(now),
        Err(e) => return e.into_response(),
    };
    let portal_id = match lock(&shared.portal) {
        Ok(p) => p.portal_id,
        Err(e) => return e.into_response(),
    };
    let snapshot = match admission {
        Ok(snapshot) => snapshot,
        Err((policy, snapshot)) => {
            if let Ok(mut stats) = shared.stats.lock() {
                stats.record_rate_limited();
                stats.record_status(429);
            }
            let mut response = (
                StatusCode::TOO_MANY_REQUESTS,
                Json(rate_limit_body(policy, portal_id)),
            )
                .into_response();
            snapshot.apply(response.headers_mut(), include_daily);
            return response;
        }
    };
    if let Ok(mut stats) = shared.stats.lock() {
        stats.record_accepted(now);
    }

    let (decision, latency, hang_length) = match lock(&shared.faults) {
        Ok(mut faults) => {
            let plan = faults.plan();
            let latency = Duration::from_millis(plan.latency_ms);
            let hang_length = match plan.hang_ms {
                0 => DEFAULT_HANG,
                ms => Duration::from_millis(ms),
            };
            (faults.decide(), latency, hang_length)
        }
        Err(e) => return e.into_response(),
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }

    let mut response = match decision {
        FaultDecision::Proceed | FaultDecision::ApplyThenFail => {
            request.extensions_mut().insert(RouteKey(key));
            let handled = next.run(request).await;
            if decision == FaultDecision::ApplyThenFail {
                note_fault(&shared, InjectedFault::ServerError);
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(server_error_body(StatusCode::INTERNAL_SERVER_ERROR)),
                )
                    .into_response()
            } else {
                handled
            }
        }
        FaultDecision::TooManyRequests => {
            note_fault(&shared, InjectedFault::TooManyRequests);
            (
                StatusCode::TOO_MANY_REQUESTS,
                Json(rate_limit_body(
                    super::errors::RateLimitPolicy::TenSecondlyRolling,
                    portal_id,
                )),
            )
                .into_response()
        }
        FaultDecision::ServerError(status) => {
            note_fault(&shared, InjectedFault::ServerError);
            (status, Json(server_error_body(status))).into_response()
        }
        FaultDecision::ServerErrorRateLimits => {
            note_fault(&shared, InjectedFault::ServerError);
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(server_error_rate_limits_body()),
            )
                .into_response()
        }
        FaultDecision::Hang => {
            note_fault(&shared, InjectedFault::Hang);
            hang(&shared, hang_length).await;
            (
                StatusCode::GATEWAY_TIMEOUT,
                Json(server_error_body(StatusCode::GATEWAY_TIMEOUT)),
            )
                .into_response()
        }
    };
    snapshot.apply(response.headers_mut(), include_daily);
    note_status(&shared, response.status());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_path_styles_share_a_route_key() {
        let legacy = route_key(&Method::POST, "/crm/v3/objects/{objectType}/batch/upsert");
        let dated = route_key(
            &Method::POST,
            "/crm/objects/2026-03/{objectType}/batch/upsert",
        );
        assert_eq!(legacy, dated);
        assert_eq!(legacy, "POST /crm/objects/{objectType}/batch/upsert");
        assert_eq!(
            route_key(&Method::POST, "/crm/v3/imports/"),
            route_key(&Method::POST, "/crm/imports/2026-03")
        );
        assert_eq!(
            route_key(&Method::GET, "/crm/imports/2026-09/{importId}/errors"),
            "GET /crm/imports/{importId}/errors"
        );
        assert_eq!(
            route_key(
                &Method::GET,
                "/crm/v4/associations/{fromObjectType}/{toObjectType}/labels"
            ),
            route_key(
                &Method::GET,
                "/crm/associations/2026-09/{fromObjectType}/{toObjectType}/labels"
            )
        );
    }
}
