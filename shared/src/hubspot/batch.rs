//! Batch writes and reads of records (hubspot.md §2): upsert by a unique property in chunks of
//! ≤100, de-duplicated newest-wins, every input traced; answers matched by trace id or id value,
//! never by position; 207s split per item; silent no-ops caught; whole-batch 400s bisected.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::future::Future;

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::client::{ApiResponse, HubSpotClient};
use super::errors::HubSpotError;
use super::paths::BatchOperation;
use super::retry::{ItemAction, classify_item};
use crate::mapping::HubSpotObjectRef;

/// Inputs per objects batch call (hubspot.md §2.1).
pub const MAX_BATCH_INPUTS: usize = 100;

/// One record to write, identified by the value of the object's unique id property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsertInput {
    /// The value of `id_property` (the 18-character Salesforce id).
    pub id_value: String,
    /// Property → value, all strings as HubSpot takes them (hubspot.md §1.3).
    pub properties: BTreeMap<String, String>,
    /// When the source record changed; of two inputs for one id, the newer wins (the later one
    /// in the list when this is missing or equal).
    pub modified_at: Option<DateTime<Utc>>,
}

impl UpsertInput {
    pub fn new(id_value: impl Into<String>, properties: BTreeMap<String, String>) -> Self {
        Self {
            id_value: id_value.into(),
            properties,
            modified_at: None,
        }
    }
}

/// A record HubSpot stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub id_value: String,
    /// HubSpot's record id (`hs_object_id`).
    pub hubspot_id: String,
    /// HubSpot's `new` flag: created rather than updated. A create whose answer was lost and
    /// that was retried reports `false`.
    pub created: bool,
}

/// A record HubSpot refused, with HubSpot's own words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemFailure {
    pub id_value: String,
    pub message: String,
    pub category: Option<String>,
    /// The properties HubSpot named (`context.propertyName`), first the one at fault.
    pub properties: Vec<String>,
    /// Whether sending it again unchanged may work.
    pub retryable: bool,
}

/// The per-record result of one call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub succeeded: Vec<Written>,
    pub failed: Vec<ItemFailure>,
    /// Inputs dropped because a newer input had the same id.
    pub superseded: usize,
}

impl BatchOutcome {
    fn merge(&mut self, other: BatchOutcome) {
        self.succeeded.extend(other.succeeded);
        self.failed.extend(other.failed);
        self.superseded += other.superseded;
    }
}

/// Keeps one input per id value: the newest, in the position of the id's first appearance.
/// HubSpot rejects a whole batch that names an id twice (hubspot.md §2.4).
pub fn dedup_newest_wins(inputs: Vec<UpsertInput>) -> (Vec<UpsertInput>, usize) {
    let mut kept: Vec<UpsertInput> = Vec::with_capacity(inputs.len());
    let mut position: HashMap<String, usize> = HashMap::new();
    let mut superseded = 0;
    for input in inputs {
        match position.get(&input.id_value) {
            Some(&index) => {
                superseded += 1;
                let older_than_kept = matches!(
                    (input.modified_at, kept[index].modified_at),
                    (Some(new), Some(old)) if new < old
                );
                if !older_than_kept {
                    kept[index] = input;
                }
            }
            None => {
                position.insert(input.id_value.clone(), kept.len());
                kept.push(input);
            }
        }
    }
    (kept, superseded)
}

/// An input with the `objectWriteTraceId` its answer is matched by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Traced<T> {
    pub trace_id: String,
    pub item: T,
}

pub(crate) fn traced<T>(items: Vec<T>) -> Vec<Traced<T>> {
    items
        .into_iter()
        .map(|item| Traced {
            trace_id: uuid::Uuid::new_v4().simple().to_string(),
            item,
        })
        .collect()
}

/// Splits into consecutive chunks of at most `size`.
pub fn chunked<T>(items: Vec<T>, size: usize) -> Vec<Vec<T>> {
    let size = size.max(1);
    let mut chunks = Vec::with_capacity(items.len().div_ceil(size));
    let mut current = Vec::with_capacity(size.min(items.len()));
    for item in items {
        current.push(item);
        if current.len() == size {
            chunks.push(std::mem::replace(&mut current, Vec::with_capacity(size)));
        }
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

fn upsert_body(id_property: &str, group: &[Traced<UpsertInput>]) -> Value {
    let inputs: Vec<Value> = group
        .iter()
        .map(|t| {
            json!({
                "id": t.item.id_value,
                "idProperty": id_property,
                "properties": t.item.properties,
                "objectWriteTraceId": t.trace_id,
            })
        })
        .collect();
    json!({ "inputs": inputs })
}

/// A group sent whole, or one input HubSpot refused on its own.
#[derive(Debug)]
pub(crate) enum GroupResult<T> {
    Answered(Vec<T>, ApiResponse),
    Refused(T, HubSpotError),
}

/// Whether a 400 may be caused by some inputs rather than by the request itself.
fn is_input_level_400(error: &HubSpotError) -> bool {
    let HubSpotError::Rejected {
        status: 400,
        message,
        ..
    } = error
    else {
        return false;
    };
    const WHOLE_REQUEST: [&str; 5] = [
        "non-unique",
        "Unable to infer object type",
        "Too many inputs",
        "Invalid input JSON",
        "idProperty is required",
    ];
    !WHOLE_REQUEST.iter().any(|m| message.contains(m))
}

/// Sends `items` as one group; when HubSpot refuses a group with a 400 that has no per-item
/// errors, sends each half on its own until the bad inputs stand alone (hubspot.md §2.3).
/// Other errors end the call.
pub(crate) async fn send_with_bisection<T, F, Fut>(
    items: Vec<T>,
    send: F,
) -> Result<Vec<GroupResult<T>>, HubSpotError>
where
    F: Fn(&[T]) -> Fut,
    Fut: Future<Output = Result<ApiResponse, HubSpotError>>,
{
    let mut results = Vec::new();
    let mut pending = VecDeque::from([items]);
    while let Some(mut group) = pending.pop_front() {
        if group.is_empty() {
            continue;
        }
        match send(&group).await {
            Ok(response) => results.push(GroupResult::Answered(group, response)),
            Err(error) if is_input_level_400(&error) => {
                if group.len() == 1 {
                    if let Some(item) = group.pop() {
                        results.push(GroupResult::Refused(item, error));
                    }
                } else {
                    let second = group.split_off(group.len() / 2);
                    pending.push_back(group);
                    pending.push_back(second);
                }
            }
            Err(error) => return Err(error),
        }
    }
    Ok(results)
}

/// Turns errors about the request as a whole into the typed errors that say what to fix.
fn whole_request_error(error: HubSpotError, object: &str, id_property: &str) -> HubSpotError {
    match error {
        HubSpotError::Rejected {
            status: 400,
            ref message,
            ..
        } if message.contains("non-unique") => HubSpotError::IdPropertyNotUnique {
            object: object.to_owned(),
            property: id_property.to_owned(),
            message: message.clone(),
        },
        HubSpotError::Rejected {
            status: 400 | 404,
            ref message,
            ..
        } if message.contains("Unable to infer object type") || message.contains("not found") => {
            HubSpotError::ObjectNotFound {
                object: object.to_owned(),
            }
        }
        HubSpotError::Rejected { status: 404, .. } => HubSpotError::ObjectNotFound {
            object: object.to_owned(),
        },
        other => other,
    }
}

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn strings_at(value: &Value, key: &str) -> Vec<String> {
    match value.get(key) {
        Some(Value::Array(items)) => items.iter().filter_map(text_of).collect(),
        Some(other) => text_of(other).into_iter().collect(),
        None => Vec::new(),
    }
}

/// Finds inputs by trace id or id value (exactly, then ignoring case: HubSpot may normalise).
struct InputIndex {
    by_trace: HashMap<String, usize>,
    by_id: HashMap<String, usize>,
    by_id_lower: HashMap<String, usize>,
}

impl InputIndex {
    fn new<'a>(entries: impl Iterator<Item = (&'a str, &'a str)>) -> Self {
        let mut index = Self {
            by_trace: HashMap::new(),
            by_id: HashMap::new(),
            by_id_lower: HashMap::new(),
        };
        for (i, (trace, id)) in entries.enumerate() {
            index.by_trace.insert(trace.to_owned(), i);
            index.by_id.insert(id.to_owned(), i);
            index.by_id_lower.insert(id.to_lowercase(), i);
        }
        index
    }

    fn by_trace(&self, trace: &str) -> Option<usize> {
        self.by_trace.get(trace).copied()
    }

    fn by_id(&self, id: &str) -> Option<usize> {
        self.by_id
            .get(id)
            .or_else(|| self.by_id_lower.get(&id.to_lowercase()))
            .copied()
    }
}

/// The hint appended to an item error naming properties the object does not have.
fn unknown_property_hint(error: &Value, object: &str) -> Option<String> {
    let message = error.get("message").and_then(Value::as_str).unwrap_or("");
    let context = error.get("context").cloned().unwrap_or(Value::Null);
    let names = strings_at(&context, "propertyName");
    let unknown = message.contains("does not exist") || message.contains("PROPERTY_DOESNT_EXIST");
    if !unknown || names.is_empty() {
        return None;
    }
    let hints: Vec<String> = names
        .into_iter()
        .map(|property| {
            HubSpotError::UnknownProperty {
                object: object.to_owned(),
                property,
            }
            .to_string()
        })
        .collect();
    Some(hints.join("; "))
}

/// What became of each input of one answered upsert group.
fn read_upsert_answer(
    object: &str,
    id_property: &str,
    group: &[Traced<UpsertInput>],
    response: &ApiResponse,
) -> BatchOutcome {
    let index = InputIndex::new(
        group
            .iter()
            .map(|t| (t.trace_id.as_str(), t.item.id_value.as_str())),
    );
    let mut settled: Vec<Option<Result<Written, ItemFailure>>> = vec![None; group.len()];
    let results = response.body["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let errors = response.body["errors"]
        .as_array()
        .cloned()
        .unwrap_or_default();

    for result in &results {
        let found = result
            .get("objectWriteTraceId")
            .and_then(Value::as_str)
            .and_then(|t| index.by_trace(t))
            .or_else(|| {
                result["properties"]
                    .get(id_property)
                    .and_then(Value::as_str)
                    .and_then(|v| index.by_id(v))
            });
        let (Some(i), Some(hubspot_id)) = (found, result.get("id").and_then(text_of)) else {
            continue;
        };
        settled[i] = Some(Ok(Written {
            id_value: group[i].item.id_value.clone(),
            hubspot_id,
            created: result.get("new").and_then(Value::as_bool).unwrap_or(false),
        }));
    }

    let mut unmatched_errors = Vec::new();
    for error in &errors {
        let context = error.get("context").cloned().unwrap_or(Value::Null);
        let mut targets: Vec<usize> = strings_at(&context, "objectWriteTraceId")
            .iter()
            .filter_map(|t| index.by_trace(t))
            .collect();
        if targets.is_empty() {
            targets = strings_at(&context, "ids")
                .iter()
                .chain(error.get("id").and_then(text_of).iter())
                .filter_map(|id| index.by_id(id))
                .collect();
        }
        let category = error
            .get("category")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let mut message = error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("HubSpot refused this input without a message")
            .to_owned();
        if let Some(hint) = unknown_property_hint(error, object) {
            message = format!("{message} ({hint})");
        }
        if targets.is_empty() {
            unmatched_errors.push(message);
            continue;
        }
        let retryable = classify_item(category.as_deref()) == ItemAction::Retry;
        let properties = strings_at(&context, "propertyName");
        for i in targets {
            settled[i] = Some(Err(ItemFailure {
                id_value: group[i].item.id_value.clone(),
                message: message.clone(),
                category: category.clone(),
                properties: properties.clone(),
                retryable,
            }));
        }
    }

    let mut outcome = BatchOutcome::default();
    for (i, state) in settled.into_iter().enumerate() {
        match state {
            Some(Ok(written)) => outcome.succeeded.push(written),
            Some(Err(failure)) => outcome.failed.push(failure),
            None => {
                let message = if results.is_empty() && errors.is_empty() {
                    format!(
                        "HubSpot answered HTTP {} with no result and no error: nothing was \
                         written (a silent no-op; sending it again would do the same)",
                        response.status
                    )
                } else if !unmatched_errors.is_empty() {
                    unmatched_errors.join("; ")
                } else {
                    "HubSpot's answer has no result and no error for this input".to_owned()
                };
                outcome.failed.push(ItemFailure {
                    id_value: group[i].item.id_value.clone(),
                    message,
                    category: None,
                    properties: Vec::new(),
                    retryable: false,
                });
            }
        }
    }
    outcome
}

/// One record archived by its unique value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archived {
    pub id_value: String,
    pub hubspot_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveOutcome {
    pub archived: Vec<Archived>,
    /// Values no live record holds (already deleted, or never synced).
    pub not_found: Vec<String>,
}

impl HubSpotClient {
    /// Creates or updates records by `id_property` (hubspot.md §2.2). One bad record fails alone
    /// (in `failed`); rate limits or an outage that outlast the retry budget fail the whole
    /// call with a retryable error (upserts are idempotent, so the caller can send it again).
    pub async fn upsert(
        &self,
        object: &HubSpotObjectRef,
        id_property: &str,
        records: Vec<UpsertInput>,
    ) -> Result<BatchOutcome, HubSpotError> {
        let (records, superseded) = dedup_newest_wins(records);
        let path = self
            .paths()
            .object_batch(object.as_str(), BatchOperation::Upsert);
        let mut tasks = JoinSet::new();
        for chunk in chunked(traced(records), MAX_BATCH_INPUTS) {
            let client = self.clone();
            let path = path.clone();
            let object = object.as_str().to_owned();
            let id_property = id_property.to_owned();
            tasks.spawn(async move {
                client
                    .upsert_chunk(&path, &object, &id_property, chunk)
                    .await
            });
        }
        let mut outcome = BatchOutcome {
            superseded,
            ..BatchOutcome::default()
        };
        let mut first_error: Option<HubSpotError> = None;
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(chunk_outcome)) => outcome.merge(chunk_outcome),
                Ok(Err(error)) => {
                    // Stop starting chunks; the call fails as a whole.
                    tasks.abort_all();
                    let replace = first_error
                        .as_ref()
                        .is_none_or(|e| !e.stops_the_caller() && error.stops_the_caller());
                    if replace {
                        first_error = Some(error);
                    }
                }
                Err(join_error) if join_error.is_cancelled() => {}
                Err(join_error) => {
                    first_error.get_or_insert(HubSpotError::InvalidResponse {
                        reason: format!("an upsert task failed: {join_error}"),
                    });
                }
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(outcome),
        }
    }

    async fn upsert_chunk(
        &self,
        path: &str,
        object: &str,
        id_property: &str,
        chunk: Vec<Traced<UpsertInput>>,
    ) -> Result<BatchOutcome, HubSpotError> {
        let groups = send_with_bisection(chunk, |group| {
            let body = upsert_body(id_property, group);
            let client = self.clone();
            let path = path.to_owned();
            async move { client.send(Method::POST, &path, Some(&body)).await }
        })
        .await
        .map_err(|e| whole_request_error(e, object, id_property))?;
        let mut outcome = BatchOutcome::default();
        for group in groups {
            match group {
                GroupResult::Answered(inputs, response) => {
                    outcome.merge(read_upsert_answer(object, id_property, &inputs, &response));
                }
                GroupResult::Refused(input, error) => {
                    let (message, category) = match error {
                        HubSpotError::Rejected {
                            message, category, ..
                        } => (message, category),
                        other => (other.to_string(), None),
                    };
                    outcome.failed.push(ItemFailure {
                        id_value: input.item.id_value,
                        message,
                        category,
                        properties: Vec::new(),
                        retryable: false,
                    });
                }
            }
        }
        Ok(outcome)
    }

    /// HubSpot record ids of the live records holding `values` in `id_property`; values no
    /// record holds are left out (hubspot.md §2.1 batch read).
    pub async fn read_by_unique(
        &self,
        object: &HubSpotObjectRef,
        id_property: &str,
        values: Vec<String>,
    ) -> Result<HashMap<String, String>, HubSpotError> {
        let path = self
            .paths()
            .object_batch(object.as_str(), BatchOperation::Read);
        let mut seen = HashSet::new();
        let values: Vec<String> = values
            .into_iter()
            .filter(|v| seen.insert(v.clone()))
            .collect();
        let mut found = HashMap::new();
        for chunk in chunked(values, MAX_BATCH_INPUTS) {
            let body = json!({
                "idProperty": id_property,
                "properties": [id_property],
                "inputs": chunk.iter().map(|v| json!({ "id": v })).collect::<Vec<_>>(),
            });
            let response = self
                .send(Method::POST, &path, Some(&body))
                .await
                .map_err(|e| whole_request_error(e, object.as_str(), id_property))?;
            let index = InputIndex::new(chunk.iter().map(|v| (v.as_str(), v.as_str())));
            for result in response.body["results"].as_array().into_iter().flatten() {
                let value = result["properties"]
                    .get(id_property)
                    .and_then(Value::as_str);
                if let (Some(i), Some(id)) = (
                    value.and_then(|v| index.by_id(v)),
                    result.get("id").and_then(text_of),
                ) {
                    found.insert(chunk[i].clone(), id);
                }
            }
        }
        Ok(found)
    }

    /// One live record holding `value` in `id_property`, with `properties` (`None`: no such
    /// record): its HubSpot id and each property's value (`None` where it is empty).
    pub async fn read_one_by_unique(
        &self,
        object: &HubSpotObjectRef,
        id_property: &str,
        value: &str,
        properties: &[String],
    ) -> Result<Option<(String, BTreeMap<String, Option<String>>)>, HubSpotError> {
        let path = self
            .paths()
            .object_batch(object.as_str(), BatchOperation::Read);
        let body = json!({
            "idProperty": id_property,
            "properties": properties,
            "inputs": [{ "id": value }],
        });
        let response = self
            .send(Method::POST, &path, Some(&body))
            .await
            .map_err(|e| whole_request_error(e, object.as_str(), id_property))?;
        let Some(result) = response.body["results"].as_array().and_then(|r| r.first()) else {
            return Ok(None);
        };
        let Some(id) = result.get("id").and_then(text_of) else {
            return Ok(None);
        };
        let values = properties
            .iter()
            .map(|p| {
                let v = result["properties"]
                    .get(p)
                    .and_then(text_of)
                    .filter(|v| !v.is_empty());
                (p.clone(), v)
            })
            .collect();
        Ok(Some((id, values)))
    }

    /// Archives records by HubSpot record id (batch archive takes record ids only).
    pub async fn archive(
        &self,
        object: &HubSpotObjectRef,
        record_ids: Vec<String>,
    ) -> Result<(), HubSpotError> {
        let path = self
            .paths()
            .object_batch(object.as_str(), BatchOperation::Archive);
        let mut seen = HashSet::new();
        let ids: Vec<String> = record_ids
            .into_iter()
            .filter(|v| seen.insert(v.clone()))
            .collect();
        for chunk in chunked(ids, MAX_BATCH_INPUTS) {
            let body = json!({
                "inputs": chunk.iter().map(|id| json!({ "id": id })).collect::<Vec<_>>(),
            });
            self.send(Method::POST, &path, Some(&body))
                .await
                .map_err(|e| whole_request_error(e, object.as_str(), "id"))?;
        }
        Ok(())
    }

    /// Archives the records holding `values` in `id_property` (a Salesforce delete).
    pub async fn archive_by_unique(
        &self,
        object: &HubSpotObjectRef,
        id_property: &str,
        values: Vec<String>,
    ) -> Result<ArchiveOutcome, HubSpotError> {
        let found = self
            .read_by_unique(object, id_property, values.clone())
            .await?;
        let mut outcome = ArchiveOutcome::default();
        let mut seen = HashSet::new();
        for value in values {
            if !seen.insert(value.clone()) {
                continue;
            }
            match found.get(&value) {
                Some(id) => outcome.archived.push(Archived {
                    id_value: value,
                    hubspot_id: id.clone(),
                }),
                None => outcome.not_found.push(value),
            }
        }
        self.archive(
            object,
            outcome
                .archived
                .iter()
                .map(|a| a.hubspot_id.clone())
                .collect(),
        )
        .await?;
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests;
