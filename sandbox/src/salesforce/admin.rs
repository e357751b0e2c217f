//! `/_sandbox/...` control routes for out-of-process users (the demo, benchmarks): statistics,
//! faults, API usage, tokens, the clock, objects and records. Not part of Salesforce's API, so
//! they need no token, are not counted and never faulted.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::TimeDelta;
use serde::Deserialize;
use serde_json::{Value, json};

use super::errors::SfError;
use super::limits::ApiUsage;
use super::schema::ObjectDefinition;
use super::state::SfShared;
use super::{FaultPlan, SalesforceHandle};

fn handle(shared: &Arc<SfShared>) -> SalesforceHandle {
    SalesforceHandle {
        shared: shared.clone(),
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, SfError> {
    serde_json::from_slice(body).map_err(|e| SfError::json_parse(&e))
}

async fn stats(State(shared): State<Arc<SfShared>>) -> Result<Response, SfError> {
    Ok(Json(handle(&shared).stats()?).into_response())
}

async fn reset_stats(State(shared): State<Arc<SfShared>>) -> Result<Response, SfError> {
    handle(&shared).reset_stats()?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn get_faults(State(shared): State<Arc<SfShared>>) -> Result<Response, SfError> {
    Ok(Json(handle(&shared).faults()?).into_response())
}

async fn put_faults(State(shared): State<Arc<SfShared>>, body: Bytes) -> Result<Response, SfError> {
    handle(&shared).set_faults(parse::<FaultPlan>(&body)?)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn clear_faults(State(shared): State<Arc<SfShared>>) -> Result<Response, SfError> {
    handle(&shared).clear_faults()?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn get_usage(State(shared): State<Arc<SfShared>>) -> Result<Response, SfError> {
    Ok(Json(handle(&shared).api_usage()?).into_response())
}

async fn put_usage(State(shared): State<Arc<SfShared>>, body: Bytes) -> Result<Response, SfError> {
    handle(&shared).set_api_usage(parse::<ApiUsage>(&body)?)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn expire_tokens(State(shared): State<Arc<SfShared>>) -> Result<Response, SfError> {
    let expired = handle(&shared).expire_all_tokens()?;
    Ok(Json(json!({ "expired": expired })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    seconds: i64,
}

async fn advance_clock(
    State(shared): State<Arc<SfShared>>,
    body: Bytes,
) -> Result<Response, SfError> {
    let advance: Advance = parse(&body)?;
    let now = handle(&shared).advance_clock(TimeDelta::seconds(advance.seconds))?;
    Ok(Json(json!({ "now": now })).into_response())
}

async fn define_object(
    State(shared): State<Arc<SfShared>>,
    body: Bytes,
) -> Result<Response, SfError> {
    handle(&shared).define_object(parse::<ObjectDefinition>(&body)?)?;
    Ok(StatusCode::CREATED.into_response())
}

async fn list_records(
    State(shared): State<Arc<SfShared>>,
    Path(object): Path<String>,
) -> Result<Response, SfError> {
    Ok(Json(json!({ "records": handle(&shared).records(&object)? })).into_response())
}

async fn create_record(
    State(shared): State<Arc<SfShared>>,
    Path(object): Path<String>,
    body: Bytes,
) -> Result<Response, SfError> {
    let id = handle(&shared).create(&object, parse::<Value>(&body)?)?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))).into_response())
}

async fn update_record(
    State(shared): State<Arc<SfShared>>,
    Path((object, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, SfError> {
    handle(&shared).update(&object, &id, parse::<Value>(&body)?)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn delete_record(
    State(shared): State<Arc<SfShared>>,
    Path((object, id)): Path<(String, String)>,
) -> Result<Response, SfError> {
    handle(&shared).delete(&object, &id)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub fn router() -> Router<Arc<SfShared>> {
    Router::new()
        .route("/_sandbox/stats", get(stats))
        .route("/_sandbox/stats/reset", post(reset_stats))
        .route(
            "/_sandbox/faults",
            get(get_faults).put(put_faults).delete(clear_faults),
        )
        .route("/_sandbox/api-usage", get(get_usage).put(put_usage))
        .route("/_sandbox/tokens/expire", post(expire_tokens))
        .route("/_sandbox/clock/advance", post(advance_clock))
        .route("/_sandbox/objects", post(define_object))
        .route(
            "/_sandbox/records/{object}",
            get(list_records).post(create_record),
        )
        .route(
            "/_sandbox/records/{object}/{id}",
            axum::routing::patch(update_record).delete(delete_record),
        )
}
