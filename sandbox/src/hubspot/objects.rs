//! Records API (hubspot.md §2): batch upsert/update/read/archive and single GET, with the
//! documented strictness — ≤100 inputs, unique `idProperty`, whole-batch 400 on duplicate ids,
//! 207 only when every input carries an `objectWriteTraceId`, results never positional.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::errors::{ApiError, correlation_id, parse_json};
use super::form::parse_pairs;
use super::gate::RouteKey;
use super::records::{PropertyChange, StoredRecord};
use super::schemas::ObjectSchema;
use super::state::{PortalData, Shared, lock};
use super::values::{ValueError, iso_now, normalize_value};

/// Objects batch limit (hubspot.md §2.1).
pub const MAX_BATCH_INPUTS: usize = 100;

#[derive(Debug, Deserialize)]
pub struct BatchInputs<T> {
    pub inputs: Vec<T>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpsertInput {
    id: String,
    #[serde(default)]
    id_property: Option<String>,
    properties: BTreeMap<String, String>,
    #[serde(default)]
    object_write_trace_id: Option<String>,
}

type UpdateInput = UpsertInput;

#[derive(Debug, Deserialize)]
struct IdInput {
    id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchReadBody {
    inputs: Vec<IdInput>,
    #[serde(default)]
    id_property: Option<String>,
    #[serde(default)]
    properties: Vec<String>,
    #[serde(default)]
    #[allow(dead_code)]
    properties_with_history: Vec<String>,
}

fn check_batch_size(count: usize) -> Result<(), ApiError> {
    if count > MAX_BATCH_INPUTS {
        return Err(ApiError::too_many_inputs(count, MAX_BATCH_INPUTS));
    }
    Ok(())
}

/// Whole-batch 400 when the same id appears twice (`error-400-duplicate-ids.json`).
fn check_duplicate_ids<'a>(ids: impl Iterator<Item = &'a str>) -> Result<(), ApiError> {
    let mut seen = HashSet::new();
    let mut duplicates: Vec<String> = Vec::new();
    for id in ids {
        if !seen.insert(id) && !duplicates.iter().any(|d| d == id) {
            duplicates.push(id.to_string());
        }
    }
    if duplicates.is_empty() {
        Ok(())
    } else {
        Err(ApiError::duplicate_ids(&duplicates))
    }
}

/// 207 is only possible when every input carries a distinct, non-empty objectWriteTraceId
/// (hubspot.md §2.3: "when every input carries a unique objectWriteTraceId").
fn all_traced<'a>(trace_ids: impl Iterator<Item = Option<&'a str>>) -> bool {
    let mut seen = HashSet::new();
    for trace in trace_ids {
        match trace {
            Some(t) if !t.is_empty() && seen.insert(t) => {}
            _ => return false,
        }
    }
    true
}

/// `idProperty` must name a `hasUniqueValue` property; `hs_object_id` does not count (§2.4).
fn check_id_property(
    schema: &ObjectSchema,
    id_property: &str,
    portal_id: u64,
) -> Result<(), ApiError> {
    match schema.property(id_property) {
        Some(def) if def.has_unique_value => Ok(()),
        _ => Err(ApiError::non_unique_id_property(
            &schema.object_type_id,
            id_property,
            portal_id,
        )),
    }
}

/// Validates written properties; on success, the normalised changes.
fn validate_properties(
    schema: &ObjectSchema,
    properties: &BTreeMap<String, String>,
) -> Result<Vec<PropertyChange>, Vec<ValueError>> {
    let mut changes = Vec::new();
    let mut errors = Vec::new();
    for (name, raw) in properties {
        match schema.property(name) {
            None => errors.push(ValueError {
                property: name.clone(),
                code: "PROPERTY_DOESNT_EXIST",
                message: format!("Property \"{name}\" does not exist"),
            }),
            Some(def) if def.read_only_value => errors.push(ValueError {
                property: name.clone(),
                code: "READ_ONLY_VALUE",
                message: format!("{name} is a read only property; its value cannot be set."),
            }),
            Some(def) => match normalize_value(def, raw) {
                Ok(value) => changes.push((name.clone(), value)),
                Err(e) => errors.push(e),
            },
        }
    }
    if errors.is_empty() {
        Ok(changes)
    } else {
        Err(errors)
    }
}

/// Tracks unique values claimed in this batch so two inputs cannot take the same one, and
/// refuses values already held by another live record.
struct UniqueClaims<'a> {
    portal: &'a PortalData,
    schema: &'a ObjectSchema,
    claimed: HashMap<(String, String), usize>,
}

impl<'a> UniqueClaims<'a> {
    fn new(portal: &'a PortalData, schema: &'a ObjectSchema) -> Self {
        Self {
            portal,
            schema,
            claimed: HashMap::new(),
        }
    }

    fn check(
        &mut self,
        input: usize,
        target: Option<u64>,
        changes: &[PropertyChange],
    ) -> Vec<ValueError> {
        let mut errors = Vec::new();
        for (name, value) in changes {
            let (Some(def), Some(value)) = (self.schema.property(name), value) else {
                continue;
            };
            if !def.has_unique_value {
                continue;
            }
            let holder = self
                .portal
                .records
                .find_unique(&self.schema.object_type_id, name, value);
            let taken_by_other = holder.is_some_and(|h| Some(h) != target);
            let key = (name.clone(), value.clone());
            let claimed_by_other = self.claimed.get(&key).is_some_and(|i| *i != input);
            if taken_by_other || claimed_by_other {
                errors.push(ValueError {
                    property: name.clone(),
                    code: "UNIQUE_VALUE_CONFLICT",
                    message: format!(
                        "A {} with {name} \"{value}\" already exists; {name} values must be unique",
                        self.schema.singular
                    ),
                });
            } else {
                self.claimed.insert(key, input);
            }
        }
        errors
    }
}

/// One 207 `errors[]` entry for a failed input (shape of `batch-upsert-207-response.json`).
fn input_error(errors: &[ValueError], trace_id: Option<&str>) -> Value {
    let mut context = serde_json::Map::new();
    if let Some(trace) = trace_id {
        context.insert("objectWriteTraceId".into(), json!([trace]));
    }
    context.insert(
        "propertyName".into(),
        json!(
            errors
                .iter()
                .map(|e| e.property.clone())
                .collect::<Vec<_>>()
        ),
    );
    json!({
        "status": "error",
        "category": "VALIDATION_ERROR",
        "message": errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; "),
        "context": context,
    })
}

/// The whole-batch 400 when inputs fail and the batch cannot be answered as multi-status.
fn whole_batch_invalid(errors: &[ValueError]) -> ApiError {
    let details: Vec<Value> = errors
        .iter()
        .map(|e| json!({ "isValid": false, "message": e.message, "error": e.code, "name": e.property }))
        .collect();
    ApiError::new(
        StatusCode::BAD_REQUEST,
        json!({
            "status": "error",
            "message": format!(
                "Property values were not valid: {}",
                serde_json::to_string(&details).unwrap_or_default()
            ),
            "correlationId": correlation_id(),
            "category": "VALIDATION_ERROR",
            "errors": errors.iter().map(|e| json!({
                "message": e.message,
                "code": e.code,
                "context": { "propertyName": [e.property] },
            })).collect::<Vec<_>>(),
        }),
    )
}

/// `properties` of a record as a write answers it: every stored value plus system values.
fn all_properties(record: &StoredRecord) -> Value {
    let mut map = serde_json::Map::new();
    for (k, v) in &record.properties {
        map.insert(k.clone(), json!(v));
    }
    for sys in ["hs_object_id", "hs_createdate", "hs_lastmodifieddate"] {
        map.insert(sys.into(), json!(record.value(sys)));
    }
    map.insert("createdate".into(), json!(record.created_at));
    map.insert("lastmodifieddate".into(), json!(record.updated_at));
    Value::Object(map)
}

/// `properties` as a read answers it: requested ones (null when unset) plus system values.
fn requested_properties(schema: &ObjectSchema, record: &StoredRecord, wanted: &[String]) -> Value {
    let mut map = serde_json::Map::new();
    for name in wanted {
        if schema.property(name).is_some() {
            map.insert(name.clone(), json!(record.value(name)));
        }
    }
    for sys in ["hs_object_id", "hs_createdate", "hs_lastmodifieddate"] {
        map.insert(sys.into(), json!(record.value(sys)));
    }
    Value::Object(map)
}

fn record_json(record: &StoredRecord, properties: Value) -> Value {
    let mut out = json!({
        "id": record.id.to_string(),
        "properties": properties,
        "createdAt": record.created_at,
        "updatedAt": record.updated_at,
        "archived": record.archived,
    });
    if let (Some(at), Some(map)) = (&record.archived_at, out.as_object_mut()) {
        map.insert("archivedAt".into(), json!(at));
    }
    out
}

/// 200 (or 207 with `errors`) batch answer, results shuffled.
fn batch_response(
    shared: &Shared,
    mut results: Vec<Value>,
    errors: Vec<Value>,
    started_at: String,
    ok_status: StatusCode,
) -> Response {
    shared.shuffle(&mut results);
    let mut body = json!({
        "status": "COMPLETE",
        "results": results,
        "startedAt": started_at,
        "completedAt": iso_now(),
    });
    let status = if errors.is_empty() {
        ok_status
    } else {
        if let Some(map) = body.as_object_mut() {
            map.insert("numErrors".into(), json!(errors.len()));
            map.insert("errors".into(), Value::Array(errors));
        }
        StatusCode::MULTI_STATUS
    };
    (status, Json(body)).into_response()
}

/// A validated write waiting to be applied.
struct PlannedWrite {
    target: Option<u64>,
    changes: Vec<PropertyChange>,
}

/// Outcome of validating a batch of writes.
struct WritePlan {
    writes: Vec<(usize, PlannedWrite)>,
    failures: Vec<(usize, Vec<ValueError>)>,
}

/// `POST .../batch/upsert`.
pub async fn batch_upsert(
    State(shared): State<Arc<Shared>>,
    Extension(route): Extension<RouteKey>,
    Path(object_type): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let started_at = iso_now();
    let batch: BatchInputs<UpsertInput> = parse_json(&body)?;
    shared.record_inputs(&route.0, batch.inputs.len());
    check_batch_size(batch.inputs.len())?;
    let mut portal = lock(&shared.portal)?;
    let schema = portal.resolve_or_err(&object_type)?.clone();
    for input in &batch.inputs {
        let id_property = input.id_property.as_deref().ok_or_else(|| {
            ApiError::validation("idProperty is required for every batch upsert input")
        })?;
        check_id_property(&schema, id_property, portal.portal_id)?;
    }
    check_duplicate_ids(batch.inputs.iter().map(|i| i.id.as_str()))?;

    let plan = {
        let mut claims = UniqueClaims::new(&portal, &schema);
        let mut plan = WritePlan {
            writes: vec![],
            failures: vec![],
        };
        for (index, input) in batch.inputs.iter().enumerate() {
            let id_property = input.id_property.as_deref().unwrap_or_default();
            let mut properties = input.properties.clone();
            let mut errors = Vec::new();
            if let Some(given) = properties.get(id_property)
                && given != &input.id
            {
                errors.push(ValueError {
                    property: id_property.to_string(),
                    code: "INVALID_ID_PROPERTY_VALUE",
                    message: format!(
                        "properties.{id_property} \"{given}\" differs from the input id \"{}\"",
                        input.id
                    ),
                });
            }
            properties.insert(id_property.to_string(), input.id.clone());
            match validate_properties(&schema, &properties) {
                Ok(changes) if errors.is_empty() => {
                    // The normalised id value (e.g. a number property) is the lookup key.
                    let key = changes
                        .iter()
                        .find(|(k, _)| k == id_property)
                        .and_then(|(_, v)| v.clone())
                        .unwrap_or_else(|| input.id.clone());
                    let target =
                        portal
                            .records
                            .find_unique(&schema.object_type_id, id_property, &key);
                    let conflicts = claims.check(index, target, &changes);
                    if conflicts.is_empty() {
                        plan.writes.push((index, PlannedWrite { target, changes }));
                    } else {
                        plan.failures.push((index, conflicts));
                    }
                }
                Ok(_) => plan.failures.push((index, errors)),
                Err(mut value_errors) => {
                    errors.append(&mut value_errors);
                    plan.failures.push((index, errors));
                }
            }
        }
        plan
    };
    let traced = all_traced(
        batch
            .inputs
            .iter()
            .map(|i| i.object_write_trace_id.as_deref()),
    );
    if !plan.failures.is_empty() && !traced {
        let all: Vec<ValueError> = plan.failures.into_iter().flat_map(|(_, e)| e).collect();
        return Err(whole_batch_invalid(&all));
    }
    let unique = portal.unique_properties(&schema.object_type_id);
    let mut results = Vec::new();
    for (_, write) in plan.writes {
        let (id, is_new) = match write.target {
            Some(id) => {
                portal
                    .records
                    .update(&schema.object_type_id, id, write.changes, &unique);
                (id, false)
            }
            None => (
                portal
                    .records
                    .create(&schema.object_type_id, write.changes, &unique),
                true,
            ),
        };
        if let Some(record) = portal.records.get(&schema.object_type_id, id) {
            let mut result = record_json(record, all_properties(record));
            if let Some(map) = result.as_object_mut() {
                map.insert("new".into(), json!(is_new));
            }
            results.push(result);
        }
    }
    drop(portal);
    let errors = plan
        .failures
        .iter()
        .map(|(index, errors)| {
            input_error(
                errors,
                batch.inputs[*index].object_write_trace_id.as_deref(),
            )
        })
        .collect();
    Ok(batch_response(
        &shared,
        results,
        errors,
        started_at,
        StatusCode::OK,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InlineAssociationType {
    association_category: String,
    association_type_id: u32,
}

#[derive(Debug, Deserialize)]
struct InlineAssociation {
    to: IdInput,
    types: Vec<InlineAssociationType>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateInput {
    properties: BTreeMap<String, String>,
    #[serde(default)]
    associations: Vec<InlineAssociation>,
    #[serde(default)]
    object_write_trace_id: Option<String>,
}

/// Resolves inline associations of a create input (only create takes them, §2.1) to
/// `(to type, to id, type id)`; unknown types or target records are value errors.
fn resolve_inline_associations(
    portal: &PortalData,
    schema: &ObjectSchema,
    associations: &[InlineAssociation],
) -> Result<Vec<(String, u64, u32)>, Vec<ValueError>> {
    let mut resolved = Vec::new();
    let mut errors = Vec::new();
    for association in associations {
        for spec in &association.types {
            let found =
                super::association_store::AssociationCategory::parse(&spec.association_category)
                    .and_then(|c| {
                        portal.associations.find_from(
                            &schema.object_type_id,
                            c,
                            spec.association_type_id,
                        )
                    });
            let Some(kind) = found else {
                errors.push(ValueError {
                    property: "associations".into(),
                    code: "INVALID_ASSOCIATION_TYPE",
                    message: format!(
                        "associationTypeId {} ({}) is not defined from {}",
                        spec.association_type_id, spec.association_category, schema.object_type_id
                    ),
                });
                continue;
            };
            let target = association.to.id.parse::<u64>().ok().filter(|id| {
                portal
                    .records
                    .get(&kind.to_type, *id)
                    .is_some_and(|r| !r.archived)
            });
            match target {
                Some(to_id) => resolved.push((kind.to_type.clone(), to_id, kind.type_id)),
                None => errors.push(ValueError {
                    property: "associations".into(),
                    code: "OBJECT_NOT_FOUND",
                    message: format!(
                        "No {} record with id {} to associate with",
                        kind.to_type, association.to.id
                    ),
                }),
            }
        }
    }
    if errors.is_empty() {
        Ok(resolved)
    } else {
        Err(errors)
    }
}

/// `POST .../batch/create` → 201, or 207 when every input is traced, else a whole-batch 400.
pub async fn batch_create(
    State(shared): State<Arc<Shared>>,
    Extension(route): Extension<RouteKey>,
    Path(object_type): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let started_at = iso_now();
    let batch: BatchInputs<CreateInput> = parse_json(&body)?;
    shared.record_inputs(&route.0, batch.inputs.len());
    check_batch_size(batch.inputs.len())?;
    let mut portal = lock(&shared.portal)?;
    let schema = portal.resolve_or_err(&object_type)?.clone();
    let mut planned = Vec::new();
    let mut failures: Vec<(usize, Vec<ValueError>)> = Vec::new();
    {
        let mut claims = UniqueClaims::new(&portal, &schema);
        for (index, input) in batch.inputs.iter().enumerate() {
            let changes = validate_properties(&schema, &input.properties);
            let links = resolve_inline_associations(&portal, &schema, &input.associations);
            match (changes, links) {
                (Ok(changes), Ok(links)) => {
                    let conflicts = claims.check(index, None, &changes);
                    if conflicts.is_empty() {
                        planned.push((changes, links));
                    } else {
                        failures.push((index, conflicts));
                    }
                }
                (changes, links) => {
                    let mut errors = changes.err().unwrap_or_default();
                    errors.extend(links.err().unwrap_or_default());
                    failures.push((index, errors));
                }
            }
        }
    }
    let traced = all_traced(
        batch
            .inputs
            .iter()
            .map(|i| i.object_write_trace_id.as_deref()),
    );
    if !failures.is_empty() && !traced {
        let all: Vec<ValueError> = failures.into_iter().flat_map(|(_, e)| e).collect();
        return Err(whole_batch_invalid(&all));
    }
    let unique = portal.unique_properties(&schema.object_type_id);
    let mut results = Vec::new();
    for (changes, links) in planned {
        let id = portal
            .records
            .create(&schema.object_type_id, changes, &unique);
        for (to_type, to_id, type_id) in links {
            portal
                .associations
                .associate((&schema.object_type_id, id), (&to_type, to_id), type_id);
        }
        if let Some(record) = portal.records.get(&schema.object_type_id, id) {
            results.push(record_json(record, all_properties(record)));
        }
    }
    drop(portal);
    let errors = failures
        .iter()
        .map(|(index, errors)| {
            input_error(
                errors,
                batch.inputs[*index].object_write_trace_id.as_deref(),
            )
        })
        .collect();
    Ok(batch_response(
        &shared,
        results,
        errors,
        started_at,
        StatusCode::CREATED,
    ))
}

fn not_found_error(schema: &ObjectSchema, ids: &[String], trace_id: Option<&str>) -> Value {
    let mut context = serde_json::Map::new();
    context.insert("ids".into(), json!(ids));
    if let Some(trace) = trace_id {
        context.insert("objectWriteTraceId".into(), json!([trace]));
    }
    json!({
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": format!(
            "Could not get some {} objects, they may be deleted or not exist. Check that ids are valid.",
            schema.message_name()
        ),
        "context": context,
    })
}

/// Finds a live record by record id (no idProperty) or by a unique property value.
fn locate(
    portal: &PortalData,
    schema: &ObjectSchema,
    id: &str,
    id_property: Option<&str>,
) -> Option<u64> {
    match id_property {
        None => id.parse::<u64>().ok().filter(|rid| {
            portal
                .records
                .get(&schema.object_type_id, *rid)
                .is_some_and(|r| !r.archived)
        }),
        Some(prop) => {
            let key = schema
                .property(prop)
                .and_then(|def| normalize_value(def, id).ok().flatten())
                .unwrap_or_else(|| id.to_string());
            portal
                .records
                .find_unique(&schema.object_type_id, prop, &key)
        }
    }
}

/// `POST .../batch/update`: by record id, or by a unique `idProperty`.
pub async fn batch_update(
    State(shared): State<Arc<Shared>>,
    Extension(route): Extension<RouteKey>,
    Path(object_type): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let started_at = iso_now();
    let batch: BatchInputs<UpdateInput> = parse_json(&body)?;
    shared.record_inputs(&route.0, batch.inputs.len());
    check_batch_size(batch.inputs.len())?;
    let mut portal = lock(&shared.portal)?;
    let schema = portal.resolve_or_err(&object_type)?.clone();
    for input in &batch.inputs {
        if let Some(prop) = input.id_property.as_deref() {
            check_id_property(&schema, prop, portal.portal_id)?;
        }
    }
    check_duplicate_ids(batch.inputs.iter().map(|i| i.id.as_str()))?;

    let mut plan = WritePlan {
        writes: vec![],
        failures: vec![],
    };
    let mut missing = Vec::new();
    {
        let mut claims = UniqueClaims::new(&portal, &schema);
        for (index, input) in batch.inputs.iter().enumerate() {
            let Some(target) = locate(&portal, &schema, &input.id, input.id_property.as_deref())
            else {
                missing.push(index);
                continue;
            };
            match validate_properties(&schema, &input.properties) {
                Ok(changes) => {
                    let conflicts = claims.check(index, Some(target), &changes);
                    if conflicts.is_empty() {
                        plan.writes.push((
                            index,
                            PlannedWrite {
                                target: Some(target),
                                changes,
                            },
                        ));
                    } else {
                        plan.failures.push((index, conflicts));
                    }
                }
                Err(errors) => plan.failures.push((index, errors)),
            }
        }
    }
    let traced = all_traced(
        batch
            .inputs
            .iter()
            .map(|i| i.object_write_trace_id.as_deref()),
    );
    if !plan.failures.is_empty() && !traced {
        let all: Vec<ValueError> = plan.failures.into_iter().flat_map(|(_, e)| e).collect();
        return Err(whole_batch_invalid(&all));
    }
    let unique = portal.unique_properties(&schema.object_type_id);
    let mut results = Vec::new();
    for (_, write) in plan.writes {
        let Some(id) = write.target else { continue };
        portal
            .records
            .update(&schema.object_type_id, id, write.changes, &unique);
        if let Some(record) = portal.records.get(&schema.object_type_id, id) {
            results.push(record_json(record, all_properties(record)));
        }
    }
    drop(portal);
    let mut errors: Vec<Value> = plan
        .failures
        .iter()
        .map(|(index, errors)| {
            input_error(
                errors,
                batch.inputs[*index].object_write_trace_id.as_deref(),
            )
        })
        .collect();
    // A missing record is reported as OBJECT_NOT_FOUND in a 207 (hubspot.md §2.3).
    for index in missing {
        let input = &batch.inputs[index];
        errors.push(not_found_error(
            &schema,
            std::slice::from_ref(&input.id),
            input.object_write_trace_id.as_deref(),
        ));
    }
    Ok(batch_response(
        &shared,
        results,
        errors,
        started_at,
        StatusCode::OK,
    ))
}

fn archived_flag(query: &Option<String>) -> bool {
    query
        .as_deref()
        .map(|q| parse_pairs(q.as_bytes()))
        .unwrap_or_default()
        .iter()
        .any(|(k, v)| k == "archived" && v == "true")
}

/// `POST .../batch/read` (`?archived=true` reads archived records instead of live ones).
pub async fn batch_read(
    State(shared): State<Arc<Shared>>,
    Extension(route): Extension<RouteKey>,
    Path(object_type): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let started_at = iso_now();
    let batch: BatchReadBody = parse_json(&body)?;
    shared.record_inputs(&route.0, batch.inputs.len());
    check_batch_size(batch.inputs.len())?;
    let archived = archived_flag(&query);
    let portal = lock(&shared.portal)?;
    let schema = portal.resolve_or_err(&object_type)?;
    if let Some(prop) = batch.id_property.as_deref() {
        check_id_property(schema, prop, portal.portal_id)?;
    }
    let mut seen = HashSet::new();
    let mut results = Vec::new();
    let mut missing = Vec::new();
    for input in &batch.inputs {
        if !seen.insert(input.id.as_str()) {
            continue;
        }
        let found = if archived {
            // Archived records are only addressable by record id.
            input
                .id
                .parse::<u64>()
                .ok()
                .and_then(|rid| portal.records.get(&schema.object_type_id, rid))
                .filter(|r| r.archived)
        } else {
            locate(&portal, schema, &input.id, batch.id_property.as_deref())
                .and_then(|rid| portal.records.get(&schema.object_type_id, rid))
        };
        match found {
            Some(record) => results.push(record_json(
                record,
                requested_properties(schema, record, &batch.properties),
            )),
            None => missing.push(input.id.clone()),
        }
    }
    let errors = if missing.is_empty() {
        vec![]
    } else {
        vec![not_found_error(schema, &missing, None)]
    };
    drop(portal);
    Ok(batch_response(
        &shared,
        results,
        errors,
        started_at,
        StatusCode::OK,
    ))
}

/// `POST .../batch/archive` → 204; unknown ids are ignored, as HubSpot does.
pub async fn batch_archive(
    State(shared): State<Arc<Shared>>,
    Extension(route): Extension<RouteKey>,
    Path(object_type): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let batch: BatchInputs<IdInput> = parse_json(&body)?;
    shared.record_inputs(&route.0, batch.inputs.len());
    check_batch_size(batch.inputs.len())?;
    let mut portal = lock(&shared.portal)?;
    let type_id = portal.resolve_or_err(&object_type)?.object_type_id.clone();
    let unique = portal.unique_properties(&type_id);
    for input in &batch.inputs {
        if let Ok(id) = input.id.parse::<u64>() {
            portal.records.archive(&type_id, id, &unique);
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET .../{objectType}/{objectId}?idProperty=&properties=&archived=`.
pub async fn get_record(
    State(shared): State<Arc<Shared>>,
    Path((object_type, object_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query
        .as_deref()
        .map(|q| parse_pairs(q.as_bytes()))
        .unwrap_or_default();
    let id_property = pairs
        .iter()
        .find(|(k, _)| k == "idProperty")
        .map(|(_, v)| v.clone());
    let wanted: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "properties")
        .flat_map(|(_, v)| v.split(',').map(str::to_string).collect::<Vec<_>>())
        .filter(|p| !p.is_empty())
        .collect();
    let archived = archived_flag(&query);
    let portal = lock(&shared.portal)?;
    let schema = portal.resolve_or_err(&object_type)?;
    if let Some(prop) = id_property.as_deref() {
        check_id_property(schema, prop, portal.portal_id)?;
    }
    let record = if archived {
        object_id
            .parse::<u64>()
            .ok()
            .and_then(|rid| portal.records.get(&schema.object_type_id, rid))
            .filter(|r| r.archived)
    } else {
        locate(&portal, schema, &object_id, id_property.as_deref())
            .and_then(|rid| portal.records.get(&schema.object_type_id, rid))
    };
    match record {
        Some(record) => Ok(Json(record_json(
            record,
            requested_properties(schema, record, &wanted),
        ))
        .into_response()),
        None => Err(ApiError::categorized(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            "Object not found.  objectId are usually numeric.",
            Some(json!({ "id": [object_id] })),
        )),
    }
}
