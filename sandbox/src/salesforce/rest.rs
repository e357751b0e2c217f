//! REST resources: describeGlobal, describe, query / queryAll with `nextRecordsUrl` paging,
//! sObject Collections retrieve, and `/deleted` (salesforce.md §3.1–§3.4).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Timelike, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::errors::{SfError, lock, require_json_body};
use super::gate::path_version;
use super::ids;
use super::soql::{self, Selection};
use super::state::SfShared;
use super::store::{ObjectTable, StoredRecord};
use super::values::{parse_datetime, rest_datetime};
use crate::hubspot::form::parse_pairs;

/// Query pages hold 200–2,000 records (salesforce.md §3.1).
pub const MIN_BATCH_SIZE: usize = 200;
pub const MAX_BATCH_SIZE: usize = 2_000;
/// sObject Collections retrieve takes at most this many ids.
pub const MAX_RETRIEVE_IDS: usize = 2_000;
/// sObject Collections retrieve exists from this version.
pub const MIN_COLLECTIONS_VERSION: f64 = 42.0;
/// The delete log reaches back this far.
pub const DELETED_WINDOW_DAYS: i64 = 15;

/// A query's rows, rendered once when the query ran (a snapshot, as a server-side cursor is).
/// Pages are cut by the offset in the locator, so re-reading a `nextRecordsUrl` (a client retry)
/// gives the same page again.
#[derive(Debug)]
struct Cursor {
    rows: Arc<Vec<Value>>,
    page_size: usize,
}

#[derive(Debug, Default)]
pub struct CursorStore {
    cursors: HashMap<String, Cursor>,
    next: u64,
}

impl CursorStore {
    fn open(&mut self, rows: Arc<Vec<Value>>, page_size: usize) -> String {
        self.next += 1;
        let id = ids::make_id("01g", "ak", self.next);
        self.cursors.insert(id.clone(), Cursor { rows, page_size });
        id
    }

    /// Forgets every cursor, so later `nextRecordsUrl`s answer `INVALID_QUERY_LOCATOR`.
    pub fn clear(&mut self) {
        self.cursors.clear();
    }
}

/// The JSON of one record: `attributes` plus the selected fields.
pub fn record_json(
    table: &ObjectTable,
    record: &StoredRecord,
    fields: &[String],
    version: &str,
    user_id: &str,
) -> Value {
    let object = &table.definition.name;
    let mut map = Map::new();
    map.insert(
        "attributes".into(),
        json!({
            "type": object,
            "url": format!("/services/data/{version}/sobjects/{object}/{}", record.id),
        }),
    );
    for field in fields {
        map.insert(field.clone(), record.get(field, user_id));
    }
    Value::Object(map)
}

pub async fn describe_global(
    State(shared): State<Arc<SfShared>>,
    Path(version): Path<String>,
) -> Result<Response, SfError> {
    let org = lock(&shared.org)?;
    let sobjects: Vec<Value> = org
        .tables()
        .map(|t| t.definition.summary(&version))
        .collect();
    Ok(
        Json(json!({ "encoding": "UTF-8", "maxBatchSize": 200, "sobjects": sobjects }))
            .into_response(),
    )
}

pub async fn describe(
    State(shared): State<Arc<SfShared>>,
    Path((version, object)): Path<(String, String)>,
) -> Result<Response, SfError> {
    let org = lock(&shared.org)?;
    match org.table(&object) {
        Some(table) => Ok(Json(table.definition.describe(&version)).into_response()),
        // describe answers 404 NOT_FOUND for an unknown object (SOQL says INVALID_TYPE).
        None => Err(SfError::not_found()),
    }
}

/// `Sforce-Query-Options: batchSize=N`, kept within 200–2,000 as Salesforce does.
fn batch_size(headers: &HeaderMap, default: usize) -> usize {
    let asked = headers
        .get("sforce-query-options")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',')
                .filter_map(|o| o.trim().split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("batchSize"))
                .and_then(|(_, n)| n.trim().parse::<usize>().ok())
        });
    asked
        .unwrap_or(default)
        .clamp(MIN_BATCH_SIZE.min(default), MAX_BATCH_SIZE)
}

/// One page of `rows` from `offset`, with a `nextRecordsUrl` when more remain.
fn page(
    shared: &SfShared,
    version: &str,
    rows: Arc<Vec<Value>>,
    total: usize,
    page_size: usize,
    offset: usize,
    cursor: Option<&str>,
) -> Result<Response, SfError> {
    let end = (offset + page_size).min(rows.len());
    let records: Vec<Value> = rows.get(offset..end).unwrap_or_default().to_vec();
    let done = end >= rows.len();
    let mut body = json!({ "totalSize": total, "done": done, "records": records });
    if !done {
        let id = match cursor {
            Some(id) => id.to_string(),
            None => lock(&shared.cursors)?.open(rows.clone(), page_size),
        };
        if let Some(map) = body.as_object_mut() {
            // nextRecordsUrl says `query/` for queryAll too (salesforce.md §3.1).
            map.insert(
                "nextRecordsUrl".into(),
                Value::String(format!("/services/data/{version}/query/{id}-{end}")),
            );
        }
    }
    Ok(Json(body).into_response())
}

fn run_query(
    shared: &SfShared,
    version: &str,
    raw_query: Option<String>,
    headers: &HeaderMap,
    include_deleted: bool,
) -> Result<Response, SfError> {
    let pairs = parse_pairs(raw_query.unwrap_or_default().as_bytes());
    let Some((_, text)) = pairs.into_iter().find(|(k, _)| k == "q") else {
        return Err(SfError::malformed_query(
            "A query string has to be specified",
        ));
    };
    let (total, rows) = {
        let org = lock(&shared.org)?;
        let query = soql::parse(&text, &org)?;
        let table = org.table_or_err(&query.object)?;
        let found = query.run(table, org.user_id(), include_deleted);
        match &query.selection {
            Selection::Count => (found.len(), Vec::new()),
            Selection::Fields(fields) => (
                found.len(),
                found
                    .iter()
                    .map(|r| record_json(table, r, fields, version, org.user_id()))
                    .collect(),
            ),
        }
    };
    let page_size = batch_size(headers, shared.config.default_query_batch_size);
    page(shared, version, Arc::new(rows), total, page_size, 0, None)
}

pub async fn query(
    State(shared): State<Arc<SfShared>>,
    Path(version): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, SfError> {
    run_query(&shared, &version, raw, &headers, false)
}

pub async fn query_all(
    State(shared): State<Arc<SfShared>>,
    Path(version): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, SfError> {
    run_query(&shared, &version, raw, &headers, true)
}

/// `GET …/query/{locator}-{offset}`: the next page of an open cursor.
pub async fn query_more(
    State(shared): State<Arc<SfShared>>,
    Path((version, locator)): Path<(String, String)>,
) -> Result<Response, SfError> {
    let invalid = || SfError::bad_request("INVALID_QUERY_LOCATOR", "invalid query locator");
    let (id, offset) = locator.rsplit_once('-').ok_or_else(invalid)?;
    let offset: usize = offset.parse().map_err(|_| invalid())?;
    let (rows, page_size) = {
        let cursors = lock(&shared.cursors)?;
        let cursor = cursors.cursors.get(id).ok_or_else(invalid)?;
        (cursor.rows.clone(), cursor.page_size)
    };
    if offset == 0 || offset >= rows.len() {
        return Err(invalid());
    }
    let total = rows.len();
    page(&shared, &version, rows, total, page_size, offset, Some(id))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetrieveBody {
    ids: Vec<String>,
    fields: Vec<String>,
}

/// `POST …/composite/sobjects/{Object}` with `{"ids":[…],"fields":[…]}`: one entry per id, in
/// order, `null` for ids with no live record.
pub async fn retrieve(
    State(shared): State<Arc<SfShared>>,
    Path((version, object)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, SfError> {
    // sObject Collections exist from v42.0.
    if path_version(&format!("/services/data/{version}/"))
        .is_none_or(|v| v < MIN_COLLECTIONS_VERSION)
    {
        return Err(SfError::not_found());
    }
    require_json_body(&headers)?;
    let body: RetrieveBody = serde_json::from_slice(&body).map_err(|e| SfError::json_parse(&e))?;
    if body.ids.is_empty() || body.fields.is_empty() {
        return Err(SfError::bad_request(
            "INVALID_FIELD",
            "ids and fields must both name at least one value",
        ));
    }
    if body.ids.len() > MAX_RETRIEVE_IDS {
        return Err(SfError::bad_request(
            "EXCEEDED_ID_LIMIT",
            format!(
                "record limit reached. cannot submit more than {MAX_RETRIEVE_IDS} records into this call"
            ),
        ));
    }
    if let Some(route) = lock(&shared.stats).ok().as_mut() {
        route.record_inputs(
            "POST /services/data/{version}/composite/sobjects/{object}",
            body.ids.len(),
        );
    }
    let org = lock(&shared.org)?;
    let table = org.table(&object).ok_or_else(SfError::not_found)?;
    let mut fields = Vec::new();
    for name in &body.fields {
        let field = table
            .field(name)
            .ok_or_else(|| SfError::invalid_field(name, &table.definition.name))?;
        fields.push(field.name.clone());
    }
    let mut out = Vec::with_capacity(body.ids.len());
    for raw in &body.ids {
        let id = ids::normalize(raw)
            .ok_or_else(|| SfError::bad_request("MALFORMED_ID", format!("malformed id {raw}")))?;
        let entry = table
            .records
            .get(&id)
            .filter(|r| !r.is_deleted() && r.visible())
            .map(|r| record_json(table, r, &fields, &version, org.user_id()))
            .unwrap_or(Value::Null);
        out.push(entry);
    }
    Ok(Json(Value::Array(out)).into_response())
}

fn minute_floor(at: DateTime<Utc>) -> DateTime<Utc> {
    at.with_second(0)
        .and_then(|d| d.with_nanosecond(0))
        .unwrap_or(at)
}

/// `GET …/sobjects/{Object}/deleted/?start=…&end=…`.
pub async fn deleted(
    State(shared): State<Arc<SfShared>>,
    Path((_version, object)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, SfError> {
    let params: HashMap<String, String> = parse_pairs(raw.unwrap_or_default().as_bytes())
        .into_iter()
        .collect();
    let instant = |name: &str| -> Result<DateTime<Utc>, SfError> {
        let text = params.get(name).ok_or_else(|| {
            SfError::bad_request(
                "MISSING_ARGUMENT",
                format!("{name} is required (ISO 8601 datetime)"),
            )
        })?;
        parse_datetime(text).ok_or_else(|| {
            SfError::bad_request(
                "INVALID_DATE_FORMAT",
                format!("{name}: cannot parse '{text}' as an ISO 8601 datetime"),
            )
        })
    };
    // Salesforce ignores the seconds of both bounds (12:30:15 is 12:30:00).
    let start = minute_floor(instant("start")?);
    let end = minute_floor(instant("end")?);
    let org = lock(&shared.org)?;
    let table = org.table(&object).ok_or_else(SfError::not_found)?;
    let now = org.clock.now();
    let earliest = minute_floor(now - TimeDelta::days(DELETED_WINDOW_DAYS));
    if start < earliest {
        return Err(SfError::bad_request(
            "INVALID_REPLICATION_DATE",
            format!("startDate cannot be more than {DELETED_WINDOW_DAYS} days ago"),
        ));
    }
    if end <= start {
        return Err(SfError::bad_request(
            "INVALID_REPLICATION_DATE",
            "endDate must be after startDate",
        ));
    }
    let covered = minute_floor(end.min(now));
    let records: Vec<Value> = table
        .records
        .values()
        .filter(|r| r.visible())
        .filter_map(|r| r.deleted_date.map(|d| (r, d)))
        .filter(|(_, d)| *d >= start && *d <= end)
        .map(|(r, d)| json!({ "id": r.id, "deletedDate": rest_datetime(d) }))
        .collect();
    Ok((
        StatusCode::OK,
        Json(json!({
            "deletedRecords": records,
            "earliestDateAvailable": rest_datetime(earliest),
            "latestDateCovered": rest_datetime(covered),
        })),
    )
        .into_response())
}
