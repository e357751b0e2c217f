//! Associations v4 routes (hubspot.md §3): labels, batch create / associate-default / read /
//! archive. Type ids are directional; unknown records or types give 207 entries.

use std::collections::HashSet;
use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::association_store::AssociationCategory;
use super::errors::{ApiError, parse_json};
use super::gate::RouteKey;
use super::objects::BatchInputs;
use super::schemas::ObjectSchema;
use super::state::{PortalData, Shared, lock};
use super::values::iso_now;

/// Batch read limit since 2025-02-10 (hubspot.md §3.1).
pub const MAX_READ_INPUTS: usize = 1000;
/// Write limit: not documented by HubSpot; Workato caps its batch action at 2000 (§3.1).
pub const MAX_WRITE_INPUTS: usize = 2000;
/// Associations per record in one batch-read answer; more come with `paging.next.after`
/// (platform-behaviours.md H3). 500 is the v4 list endpoint's documented page (§3.1 `limit`).
pub const READ_PAGE_SIZE: usize = 500;

#[derive(Debug, Deserialize)]
struct ObjectId {
    id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssociationSpec {
    association_category: String,
    association_type_id: u32,
}

#[derive(Debug, Deserialize)]
struct CreateInput {
    from: ObjectId,
    to: ObjectId,
    types: Vec<AssociationSpec>,
}

#[derive(Debug, Deserialize)]
struct DefaultInput {
    from: ObjectId,
    to: ObjectId,
}

#[derive(Debug, Deserialize)]
struct ReadInput {
    id: String,
    /// The cursor of the page before (`paging.next.after`).
    #[serde(default)]
    after: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LabelsArchiveInput {
    from: ObjectId,
    to: ObjectId,
    types: Vec<AssociationSpec>,
}

#[derive(Debug, Deserialize)]
struct ArchiveInput {
    from: ObjectId,
    to: Vec<ObjectId>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LabelCreate {
    label: String,
    name: String,
    #[serde(default)]
    inverse_label: Option<String>,
}

fn check_size(count: usize, limit: usize) -> Result<(), ApiError> {
    if count > limit {
        return Err(ApiError::too_many_inputs(count, limit));
    }
    Ok(())
}

fn pair<'a>(
    portal: &'a PortalData,
    from: &str,
    to: &str,
) -> Result<(&'a ObjectSchema, &'a ObjectSchema), ApiError> {
    Ok((portal.resolve_or_err(from)?, portal.resolve_or_err(to)?))
}

/// The live record with this id, or the 207 entry saying it does not exist.
fn live_record(portal: &PortalData, schema: &ObjectSchema, id: &str) -> Result<u64, Value> {
    id.parse::<u64>()
        .ok()
        .filter(|rid| {
            portal
                .records
                .get(&schema.object_type_id, *rid)
                .is_some_and(|r| !r.archived)
        })
        .ok_or_else(|| {
            json!({
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": format!("No {} with id {id} exists", schema.message_name()),
                "context": { "objectType": [schema.object_type_id], "ids": [id] },
            })
        })
}

fn answer(
    shared: &Shared,
    mut results: Vec<Value>,
    errors: Vec<Value>,
    started_at: String,
    ok: StatusCode,
) -> Response {
    shared.shuffle(&mut results);
    let mut body = json!({
        "status": "COMPLETE",
        "results": results,
        "startedAt": started_at,
        "completedAt": iso_now(),
    });
    let status = if errors.is_empty() {
        ok
    } else {
        if let Some(map) = body.as_object_mut() {
            map.insert("numErrors".into(), json!(errors.len()));
            map.insert("errors".into(), Value::Array(errors));
        }
        StatusCode::MULTI_STATUS
    };
    (status, Json(body)).into_response()
}

/// `GET .../associations/{from}/{to}/labels`.
pub async fn list_labels(
    State(shared): State<Arc<Shared>>,
    Path((from, to)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let portal = lock(&shared.portal)?;
    let (from, to) = pair(&portal, &from, &to)?;
    let results: Vec<Value> = portal
        .associations
        .labels(&from.object_type_id, &to.object_type_id)
        .iter()
        .map(|t| t.spec_json())
        .collect();
    Ok(Json(json!({ "results": results })).into_response())
}

/// `POST .../associations/{from}/{to}/labels` with `{label, name, inverseLabel?}`.
pub async fn create_label(
    State(shared): State<Arc<Shared>>,
    Path((from, to)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let create: LabelCreate = parse_json(&body)?;
    if create.label.trim().is_empty() || create.name.trim().is_empty() {
        return Err(ApiError::validation(
            "label and name must both be non-empty",
        ));
    }
    let mut portal = lock(&shared.portal)?;
    let (from_id, to_id) = {
        let (f, t) = pair(&portal, &from, &to)?;
        (f.object_type_id.clone(), t.object_type_id.clone())
    };
    if portal.associations.has_name(&from_id, &to_id, &create.name) {
        return Err(ApiError::conflict(format!(
            "An association label named \"{}\" already exists from {from_id} to {to_id}",
            create.name
        )));
    }
    let (forward, _) = portal.associations.define_user_pair(
        &from_id,
        &to_id,
        Some(create.label.clone()),
        create.inverse_label,
        Some(create.name),
    );
    Ok(Json(json!({
        "results": [{ "category": "USER_DEFINED", "typeId": forward, "label": create.label }]
    }))
    .into_response())
}

/// `POST .../associations/{from}/{to}/batch/create` → 201, or 207 with errors.
pub async fn batch_create(
    State(shared): State<Arc<Shared>>,
    Extension(route): Extension<RouteKey>,
    Path((from, to)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let started_at = iso_now();
    let batch: BatchInputs<CreateInput> = parse_json(&body)?;
    shared.record_inputs(&route.0, batch.inputs.len());
    check_size(batch.inputs.len(), MAX_WRITE_INPUTS)?;
    let mut portal = lock(&shared.portal)?;
    let (from_schema, to_schema) = {
        let (f, t) = pair(&portal, &from, &to)?;
        (f.clone(), t.clone())
    };
    let (from_type, to_type) = (
        from_schema.object_type_id.as_str(),
        to_schema.object_type_id.as_str(),
    );
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for input in &batch.inputs {
        let from_id = match live_record(&portal, &from_schema, &input.from.id) {
            Ok(id) => id,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let to_id = match live_record(&portal, &to_schema, &input.to.id) {
            Ok(id) => id,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        if input.types.is_empty() {
            errors.push(json!({
                "status": "error", "category": "VALIDATION_ERROR",
                "message": "types must name at least one association type",
                "context": { "fromObjectId": [input.from.id], "toObjectId": [input.to.id] },
            }));
            continue;
        }
        let mut labels = Vec::new();
        let mut type_ids = Vec::new();
        let mut bad = None;
        for spec in &input.types {
            let found = AssociationCategory::parse(&spec.association_category).and_then(|c| {
                portal
                    .associations
                    .find_type(from_type, to_type, c, spec.association_type_id)
            });
            match found {
                Some(t) => {
                    type_ids.push(t.type_id);
                    if let Some(label) = &t.label {
                        labels.push(label.clone());
                    }
                }
                None => {
                    bad = Some(spec);
                    break;
                }
            }
        }
        if let Some(spec) = bad {
            errors.push(json!({
                "status": "error", "category": "VALIDATION_ERROR",
                "message": format!(
                    "associationTypeId {} ({}) is not a valid association type from {from_type} to {to_type}",
                    spec.association_type_id, spec.association_category
                ),
                "context": { "fromObjectId": [input.from.id], "toObjectId": [input.to.id],
                             "associationTypeId": [spec.association_type_id.to_string()] },
            }));
            continue;
        }
        for type_id in type_ids {
            portal
                .associations
                .associate((from_type, from_id), (to_type, to_id), type_id);
        }
        results.push(json!({
            "fromObjectTypeId": from_type,
            "fromObjectId": from_id,
            "toObjectTypeId": to_type,
            "toObjectId": to_id,
            "labels": labels,
        }));
    }
    drop(portal);
    Ok(answer(
        &shared,
        results,
        errors,
        started_at,
        StatusCode::CREATED,
    ))
}

/// `POST .../batch/associate/default`: the pair's unlabeled type.
pub async fn batch_associate_default(
    State(shared): State<Arc<Shared>>,
    Extension(route): Extension<RouteKey>,
    Path((from, to)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let started_at = iso_now();
    let batch: BatchInputs<DefaultInput> = parse_json(&body)?;
    shared.record_inputs(&route.0, batch.inputs.len());
    check_size(batch.inputs.len(), MAX_WRITE_INPUTS)?;
    let mut portal = lock(&shared.portal)?;
    let (from_schema, to_schema) = {
        let (f, t) = pair(&portal, &from, &to)?;
        (f.clone(), t.clone())
    };
    let (from_type, to_type) = (
        from_schema.object_type_id.as_str(),
        to_schema.object_type_id.as_str(),
    );
    let default = portal
        .associations
        .default_type(from_type, to_type)
        .map(|t| (t.type_id, t.category))
        .ok_or_else(|| {
            ApiError::validation(format!(
                "No default association type is defined from {from_type} to {to_type}"
            ))
        })?;
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for input in &batch.inputs {
        let ids = live_record(&portal, &from_schema, &input.from.id)
            .and_then(|f| live_record(&portal, &to_schema, &input.to.id).map(|t| (f, t)));
        match ids {
            Ok((from_id, to_id)) => {
                portal
                    .associations
                    .associate((from_type, from_id), (to_type, to_id), default.0);
                results.push(json!({
                    "from": { "id": input.from.id },
                    "to": { "id": input.to.id },
                    "associationSpec": {
                        "associationCategory": default.1.as_str(),
                        "associationTypeId": default.0,
                    },
                }));
            }
            Err(e) => errors.push(e),
        }
    }
    drop(portal);
    Ok(answer(&shared, results, errors, started_at, StatusCode::OK))
}

/// `POST .../batch/read`: every association of each record towards `{to}`.
pub async fn batch_read(
    State(shared): State<Arc<Shared>>,
    Extension(route): Extension<RouteKey>,
    Path((from, to)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let started_at = iso_now();
    let batch: BatchInputs<ReadInput> = parse_json(&body)?;
    shared.record_inputs(&route.0, batch.inputs.len());
    check_size(batch.inputs.len(), MAX_READ_INPUTS)?;
    let portal = lock(&shared.portal)?;
    let (from_schema, to_schema) = pair(&portal, &from, &to)?;
    let mut results = Vec::new();
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    for input in &batch.inputs {
        if !seen.insert(input.id.as_str()) {
            continue;
        }
        let from_id = match live_record(&portal, from_schema, &input.id) {
            Ok(id) => id,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        // Pages follow the target ids; `after` is the last id of the page before.
        let after: u64 = match input.after.as_deref().map(str::parse) {
            None => 0,
            Some(Ok(after)) => after,
            Some(Err(_)) => {
                return Err(ApiError::validation(format!(
                    "after {:?} is not a paging cursor this endpoint gave",
                    input.after.as_deref().unwrap_or_default()
                )));
            }
        };
        let all = portal.associations.of_record(
            (&from_schema.object_type_id, from_id),
            &to_schema.object_type_id,
        );
        let mut page = all.range(after.saturating_add(1)..);
        let to: Vec<Value> = page
            .by_ref()
            .take(READ_PAGE_SIZE)
            .map(|(to_id, types)| {
                json!({
                    "toObjectId": to_id,
                    "associationTypes": types.iter().map(|t| t.spec_json()).collect::<Vec<_>>(),
                })
            })
            .collect();
        let mut result = json!({ "from": { "id": input.id }, "to": to });
        if page.next().is_some()
            && let Some(last) = to.last().and_then(|t| t["toObjectId"].as_u64())
        {
            result["paging"] = json!({ "next": { "after": last.to_string() } });
        }
        results.push(result);
    }
    drop(portal);
    Ok(answer(&shared, results, errors, started_at, StatusCode::OK))
}

/// `POST .../batch/labels/archive` → 204: removes only the types named between each pair; the
/// pair's other associations stay. A type that does not exist between the objects is a 400.
pub async fn batch_labels_archive(
    State(shared): State<Arc<Shared>>,
    Extension(route): Extension<RouteKey>,
    Path((from, to)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let batch: BatchInputs<LabelsArchiveInput> = parse_json(&body)?;
    shared.record_inputs(&route.0, batch.inputs.len());
    check_size(batch.inputs.len(), MAX_WRITE_INPUTS)?;
    let mut portal = lock(&shared.portal)?;
    let (from_type, to_type) = {
        let (f, t) = pair(&portal, &from, &to)?;
        (f.object_type_id.clone(), t.object_type_id.clone())
    };
    let mut removals = Vec::new();
    for input in &batch.inputs {
        for spec in &input.types {
            let found = AssociationCategory::parse(&spec.association_category).and_then(|c| {
                portal
                    .associations
                    .find_type(&from_type, &to_type, c, spec.association_type_id)
            });
            let Some(found) = found else {
                return Err(ApiError::validation(format!(
                    "associationTypeId {} ({}) is not a valid association type from {from_type} \
                     to {to_type}",
                    spec.association_type_id, spec.association_category
                )));
            };
            if let (Ok(from_id), Ok(to_id)) =
                (input.from.id.parse::<u64>(), input.to.id.parse::<u64>())
            {
                removals.push((from_id, to_id, found.type_id));
            }
        }
    }
    for (from_id, to_id, type_id) in removals {
        portal
            .associations
            .remove_type((&from_type, from_id), (&to_type, to_id), type_id);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST .../batch/archive` → 204: removes every association between each pair.
pub async fn batch_archive(
    State(shared): State<Arc<Shared>>,
    Extension(route): Extension<RouteKey>,
    Path((from, to)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let batch: BatchInputs<ArchiveInput> = parse_json(&body)?;
    shared.record_inputs(&route.0, batch.inputs.len());
    check_size(batch.inputs.len(), MAX_WRITE_INPUTS)?;
    let mut portal = lock(&shared.portal)?;
    let (from_type, to_type) = {
        let (f, t) = pair(&portal, &from, &to)?;
        (f.object_type_id.clone(), t.object_type_id.clone())
    };
    for input in &batch.inputs {
        let Ok(from_id) = input.from.id.parse::<u64>() else {
            continue;
        };
        for to in &input.to {
            if let Ok(to_id) = to.id.parse::<u64>() {
                portal
                    .associations
                    .remove_all_between((&from_type, from_id), (&to_type, to_id));
            }
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
