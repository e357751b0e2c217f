//! Schemas and properties routes (hubspot.md §1.1, §1.2).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::errors::{ApiError, parse_json};
use super::schemas::{ObjectSchemaEgg, PropertyCreate};
use super::state::{Shared, lock};

/// `GET .../schemas`: custom objects only, no paging.
pub async fn list_schemas(State(shared): State<Arc<Shared>>) -> Result<Response, ApiError> {
    let portal = lock(&shared.portal)?;
    let results: Vec<Value> = portal
        .schemas
        .iter()
        .filter(|s| !s.is_standard)
        .map(|s| s.to_json())
        .collect();
    Ok(Json(json!({ "results": results })).into_response())
}

/// `POST .../schemas` → 201 ObjectSchema.
pub async fn create_schema(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let egg: ObjectSchemaEgg = parse_json(&body)?;
    let created = lock(&shared.portal)?.create_schema(egg)?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// `GET .../schemas/{objectType}`: by objectTypeId or fullyQualifiedName (a custom object's base
/// name is refused, H1).
pub async fn get_schema(
    State(shared): State<Arc<Shared>>,
    Path(object_type): Path<String>,
) -> Result<Response, ApiError> {
    let portal = lock(&shared.portal)?;
    let schema = portal
        .resolve(&object_type)
        .ok_or_else(|| ApiError::not_found(format!("Unable to find object type {object_type}")))?;
    Ok(Json(schema.to_json()).into_response())
}

/// `GET .../properties/{objectType}`.
pub async fn list_properties(
    State(shared): State<Arc<Shared>>,
    Path(object_type): Path<String>,
) -> Result<Response, ApiError> {
    let portal = lock(&shared.portal)?;
    let schema = portal.resolve_or_err(&object_type)?;
    let results: Vec<Value> = schema.properties.iter().map(|p| p.to_json()).collect();
    Ok(Json(json!({ "results": results })).into_response())
}

/// `GET .../properties/{objectType}/{propertyName}`.
pub async fn get_property(
    State(shared): State<Arc<Shared>>,
    Path((object_type, property)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let portal = lock(&shared.portal)?;
    let schema = portal.resolve_or_err(&object_type)?;
    let def = schema.property(&property).ok_or_else(|| {
        ApiError::not_found(format!(
            "Unable to find property {property} on object type {}",
            schema.object_type_id
        ))
    })?;
    Ok(Json(def.to_json()).into_response())
}

/// `POST .../properties/{objectType}` → 201 Property.
pub async fn create_property(
    State(shared): State<Arc<Shared>>,
    Path(object_type): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let create: PropertyCreate = parse_json(&body)?;
    let created = lock(&shared.portal)?.create_property(&object_type, create)?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}
