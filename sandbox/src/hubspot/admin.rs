//! `/_sandbox/...` control routes for out-of-process users (benchmarks, the demo): statistics,
//! fault plans, rate limits, tokens, import settings and a view of stored data. Not part of HubSpot's API, so
//! they need no token and are neither rate limited nor faulted.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use super::SandboxHandle;
use super::errors::{ApiError, parse_json};
use super::faults::FaultPlan;
use super::import_store::ImportSettings;
use super::rate_limit::RateLimitConfig;
use super::state::Shared;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenBody {
    token: String,
    #[serde(default)]
    scopes: Option<Vec<String>>,
}

fn handle(shared: &Arc<Shared>) -> SandboxHandle {
    SandboxHandle {
        shared: shared.clone(),
    }
}

async fn stats(State(shared): State<Arc<Shared>>) -> Result<Response, ApiError> {
    Ok(Json(handle(&shared).stats()?).into_response())
}

async fn reset_stats(State(shared): State<Arc<Shared>>) -> Result<Response, ApiError> {
    handle(&shared).reset_stats()?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn get_faults(State(shared): State<Arc<Shared>>) -> Result<Response, ApiError> {
    Ok(Json(handle(&shared).faults()?).into_response())
}

async fn put_faults(State(shared): State<Arc<Shared>>, body: Bytes) -> Result<Response, ApiError> {
    let plan: FaultPlan = parse_json(&body)?;
    handle(&shared).set_faults(plan)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn clear_faults(State(shared): State<Arc<Shared>>) -> Result<Response, ApiError> {
    handle(&shared).set_faults(FaultPlan::default())?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn get_rate_limit(State(shared): State<Arc<Shared>>) -> Result<Response, ApiError> {
    Ok(Json(handle(&shared).rate_limit()?).into_response())
}

async fn put_rate_limit(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let config: RateLimitConfig = parse_json(&body)?;
    handle(&shared).set_rate_limit(config)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn add_token(State(shared): State<Arc<Shared>>, body: Bytes) -> Result<Response, ApiError> {
    let token: TokenBody = parse_json(&body)?;
    handle(&shared).add_token(&token.token, token.scopes)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn expire_token(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let token: TokenBody = parse_json(&body)?;
    if handle(&shared).expire_token(&token.token)? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found("unknown token"))
    }
}

async fn records(
    State(shared): State<Arc<Shared>>,
    Path(object_type): Path<String>,
) -> Result<Response, ApiError> {
    let records = handle(&shared).records(&object_type)?;
    Ok(Json(json!({ "results": records })).into_response())
}

async fn associations(
    State(shared): State<Arc<Shared>>,
    Path((from_type, from_id, to_type)): Path<(String, u64, String)>,
) -> Result<Response, ApiError> {
    let found = handle(&shared).associations_of(&from_type, from_id, &to_type)?;
    let results: Vec<_> = found
        .into_iter()
        .map(|(to_id, type_ids)| json!({ "toObjectId": to_id, "typeIds": type_ids }))
        .collect();
    Ok(Json(json!({ "results": results })).into_response())
}

async fn get_import_settings(State(shared): State<Arc<Shared>>) -> Result<Response, ApiError> {
    Ok(Json(handle(&shared).import_settings()?).into_response())
}

async fn put_import_settings(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let settings: ImportSettings = parse_json(&body)?;
    handle(&shared).set_import_settings(settings)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_imports(State(shared): State<Arc<Shared>>) -> Result<Response, ApiError> {
    let handle = handle(&shared);
    let mut results = Vec::new();
    for id in handle.import_ids()? {
        results.push(json!({
            "id": id.to_string(),
            "state": handle.import_state(id)?.map(|s| s.as_str()),
            "counters": handle.import_counters(id)?,
        }));
    }
    Ok(Json(json!({ "results": results })).into_response())
}

async fn fail_import(
    State(shared): State<Arc<Shared>>,
    Path(import_id): Path<u64>,
) -> Result<Response, ApiError> {
    if handle(&shared).fail_import(import_id)? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found("no unfinished import with that id"))
    }
}

pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sandbox/stats", get(stats))
        .route("/_sandbox/stats/reset", post(reset_stats))
        .route(
            "/_sandbox/faults",
            get(get_faults).put(put_faults).delete(clear_faults),
        )
        .route(
            "/_sandbox/rate-limit",
            get(get_rate_limit).put(put_rate_limit),
        )
        .route("/_sandbox/tokens", post(add_token))
        .route("/_sandbox/tokens/expire", post(expire_token))
        .route("/_sandbox/records/{objectType}", get(records))
        .route(
            "/_sandbox/imports/settings",
            get(get_import_settings).put(put_import_settings),
        )
        .route("/_sandbox/imports", get(list_imports))
        .route("/_sandbox/imports/{importId}/fail", post(fail_import))
        .route(
            "/_sandbox/associations/{fromObjectType}/{fromObjectId}/{toObjectType}",
            get(associations),
        )
}
