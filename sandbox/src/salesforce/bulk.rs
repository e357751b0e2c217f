//! Bulk API 2.0 query jobs (salesforce.md §3.3): create, poll (`UploadComplete` → `InProgress`
//! → `JobComplete`, moved by polls), CSV results paged by `maxRecords` with `Sforce-Locator`
//! until the literal `null`, read with the job's own API version (else 409), abort and delete.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::errors::{SfError, lock, require_json_body};
use super::gate::path_version;
use super::ids;
use super::soql::{self, Selection};
use super::state::SfShared;
use super::values::{as_text, rest_datetime};
use crate::hubspot::form::parse_pairs;

/// Bulk API 2.0 query exists from v47.0.
pub const MIN_BULK_QUERY_VERSION: f64 = 47.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobState {
    UploadComplete,
    InProgress,
    JobComplete,
    Failed,
    Aborted,
}

impl JobState {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::JobComplete | JobState::Failed | JobState::Aborted
        )
    }
}

#[derive(Debug, Clone)]
pub struct BulkJob {
    pub id: String,
    pub operation: String,
    pub object: String,
    pub created_date: DateTime<Utc>,
    pub state: JobState,
    /// The version the job was created with; results must be read with the same one.
    pub api_version: f64,
    pub column_delimiter: String,
    pub line_ending: String,
    polls: u32,
    header: Vec<String>,
    rows: Vec<Vec<Option<String>>>,
}

impl BulkJob {
    fn info(&self, user_id: &str) -> Value {
        let mut info = json!({
            "id": self.id,
            "operation": self.operation,
            "object": self.object,
            "createdById": user_id,
            "createdDate": rest_datetime(self.created_date),
            "systemModstamp": rest_datetime(self.created_date),
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": self.api_version,
            "lineEnding": self.line_ending,
            "columnDelimiter": self.column_delimiter,
        });
        if self.polls > 0
            && let Some(map) = info.as_object_mut()
        {
            let processed = if self.state == JobState::JobComplete {
                self.rows.len()
            } else {
                0
            };
            map.insert("jobType".into(), json!("V2Query"));
            map.insert("numberRecordsProcessed".into(), json!(processed));
            map.insert("retries".into(), json!(0));
            map.insert("totalProcessingTime".into(), json!(self.polls * 10));
        }
        info
    }

    fn delimiter(&self) -> char {
        match self.column_delimiter.as_str() {
            "BACKQUOTE" => '`',
            "CARET" => '^',
            "PIPE" => '|',
            "SEMICOLON" => ';',
            "TAB" => '\t',
            _ => ',',
        }
    }

    /// One CSV page: the header, then rows `from..from+count`, every value quoted, null empty.
    fn csv(&self, from: usize, count: usize) -> String {
        let delimiter = self.delimiter().to_string();
        let eol = if self.line_ending == "CRLF" {
            "\r\n"
        } else {
            "\n"
        };
        let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        let mut out = String::new();
        out.push_str(
            &self
                .header
                .iter()
                .map(|h| quote(h))
                .collect::<Vec<_>>()
                .join(&delimiter),
        );
        out.push_str(eol);
        for row in self.rows.iter().skip(from).take(count) {
            let cells: Vec<String> = row
                .iter()
                .map(|c| c.as_deref().map(quote).unwrap_or_default())
                .collect();
            out.push_str(&cells.join(&delimiter));
            out.push_str(eol);
        }
        out
    }
}

#[derive(Debug, Default)]
pub struct BulkJobs {
    jobs: HashMap<String, BulkJob>,
    next: u64,
}

impl BulkJobs {
    pub fn get(&self, id: &str) -> Option<&BulkJob> {
        self.jobs.get(id)
    }

    /// Test hook: makes a job fail with `message` (a terminal state the client must report).
    pub fn fail(&mut self, id: &str, message: &str) -> bool {
        match self.jobs.get_mut(id) {
            Some(job) => {
                job.state = JobState::Failed;
                job.header = vec![message.to_string()];
                job.rows.clear();
                true
            }
            None => false,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateJob {
    operation: String,
    query: String,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    column_delimiter: Option<String>,
    #[serde(default)]
    line_ending: Option<String>,
}

fn invalid_job(message: impl Into<String>) -> SfError {
    SfError::bad_request("INVALIDJOB", message)
}

fn version_of(path_segment: &str) -> Result<f64, SfError> {
    path_version(&format!("/services/data/{path_segment}/")).ok_or_else(SfError::not_found)
}

pub async fn create(
    State(shared): State<Arc<SfShared>>,
    Path(version): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, SfError> {
    let api_version = version_of(&version)?;
    if api_version < MIN_BULK_QUERY_VERSION {
        return Err(SfError::not_found());
    }
    require_json_body(&headers)?;
    let request: CreateJob = serde_json::from_slice(&body).map_err(|e| SfError::json_parse(&e))?;
    if request.operation != "query" && request.operation != "queryAll" {
        return Err(invalid_job(format!(
            "InvalidJob : Invalid operation '{}': use query or queryAll",
            request.operation
        )));
    }
    if request.content_type.as_deref().is_some_and(|c| c != "CSV") {
        return Err(invalid_job("InvalidJob : contentType must be CSV"));
    }
    let column_delimiter = request.column_delimiter.unwrap_or_else(|| "COMMA".into());
    if !["BACKQUOTE", "CARET", "COMMA", "PIPE", "SEMICOLON", "TAB"]
        .contains(&column_delimiter.as_str())
    {
        return Err(invalid_job(format!(
            "InvalidJob : Invalid columnDelimiter '{column_delimiter}'"
        )));
    }
    let line_ending = request.line_ending.unwrap_or_else(|| "LF".into());
    if line_ending != "LF" && line_ending != "CRLF" {
        return Err(invalid_job(format!(
            "InvalidJob : Invalid lineEnding '{line_ending}'"
        )));
    }
    let mut org = lock(&shared.org)?;
    let query = soql::parse(&request.query, &org)?;
    // Bulk 2.0 refuses aggregates and (by the v250 docs) ORDER BY (salesforce.md §3.3).
    let fields = match &query.selection {
        Selection::Count => {
            return Err(invalid_job(
                "InvalidJob : Aggregate queries (COUNT()) are not supported by Bulk API 2.0 query; use REST SELECT COUNT()",
            ));
        }
        Selection::Fields(fields) => fields.clone(),
    };
    if query.has_order_by() {
        return Err(invalid_job(
            "InvalidJob : ORDER BY is not supported by Bulk API 2.0 query",
        ));
    }
    let table = org.table_or_err(&query.object)?;
    let definitions: Vec<_> = fields
        .iter()
        .filter_map(|f| table.field(f).cloned())
        .collect();
    let rows: Vec<Vec<Option<String>>> = query
        .run(table, org.user_id(), request.operation == "queryAll")
        .iter()
        .map(|r| {
            definitions
                .iter()
                .map(|d| as_text(d, &r.get(&d.name, org.user_id())))
                .collect()
        })
        .collect();
    let object = table.definition.name.clone();
    let created_date = org.clock.tick();
    let user_id = org.user_id().to_string();
    drop(org);
    let mut jobs = lock(&shared.jobs)?;
    jobs.next += 1;
    let job = BulkJob {
        id: ids::make_id("750", "ak", jobs.next),
        operation: request.operation,
        object,
        created_date,
        state: JobState::UploadComplete,
        api_version,
        column_delimiter,
        line_ending,
        polls: 0,
        header: fields,
        rows,
    };
    let info = job.info(&user_id);
    jobs.jobs.insert(job.id.clone(), job);
    Ok(Json(info).into_response())
}

fn user_id(shared: &SfShared) -> Result<String, SfError> {
    Ok(lock(&shared.org)?.user_id().to_string())
}

pub async fn get_job(
    State(shared): State<Arc<SfShared>>,
    Path((_version, id)): Path<(String, String)>,
) -> Result<Response, SfError> {
    let user = user_id(&shared)?;
    let mut jobs = lock(&shared.jobs)?;
    let job = jobs.jobs.get_mut(&id).ok_or_else(SfError::not_found)?;
    job.polls += 1;
    if !job.state.is_terminal() {
        job.state = if job.polls > shared.config.bulk_polls_in_progress {
            JobState::JobComplete
        } else {
            JobState::InProgress
        };
    }
    let mut info = job.info(&user);
    if job.state == JobState::Failed
        && let Some(map) = info.as_object_mut()
    {
        map.insert(
            "errorMessage".into(),
            json!(job.header.first().cloned().unwrap_or_default()),
        );
    }
    Ok(Json(info).into_response())
}

pub async fn results(
    State(shared): State<Arc<SfShared>>,
    Path((version, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, SfError> {
    let requested_version = version_of(&version)?;
    let params: HashMap<String, String> = parse_pairs(raw.unwrap_or_default().as_bytes())
        .into_iter()
        .collect();
    let jobs = lock(&shared.jobs)?;
    let job = jobs.jobs.get(&id).ok_or_else(SfError::not_found)?;
    if (job.api_version - requested_version).abs() > f64::EPSILON {
        return Err(SfError::new(
            StatusCode::CONFLICT,
            "API_VERSION_MISMATCH",
            format!(
                "The job was created with API version {:.1}; read its results with the same version, not {requested_version:.1}",
                job.api_version
            ),
        ));
    }
    if job.state != JobState::JobComplete {
        return Err(SfError::bad_request(
            "INVALIDJOBSTATE",
            format!(
                "Job {} is {:?}; results are available once it is JobComplete",
                job.id, job.state
            ),
        ));
    }
    let max_records = match params.get("maxRecords") {
        None => shared.config.bulk_default_max_records,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                SfError::bad_request(
                    "INVALIDREQUEST",
                    format!("maxRecords must be a positive integer, not '{raw}'"),
                )
            })?,
    };
    let offset = match params.get("locator") {
        None => 0,
        Some(locator) => STANDARD_NO_PAD
            .decode(locator)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|o| *o > 0 && *o < job.rows.len())
            .ok_or_else(|| {
                SfError::bad_request("INVALIDLOCATOR", format!("Invalid locator '{locator}'"))
            })?,
    };
    let count = max_records.min(job.rows.len().saturating_sub(offset));
    let next = offset + count;
    // Locators look like Salesforce's: the base64 of the next offset; the last page says "null".
    let locator = if next < job.rows.len() {
        STANDARD_NO_PAD.encode(next.to_string())
    } else {
        "null".to_string()
    };
    let body = job.csv(offset, count);
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv".to_string()),
            (
                header::HeaderName::from_static("sforce-numberofrecords"),
                count.to_string(),
            ),
            (header::HeaderName::from_static("sforce-locator"), locator),
        ],
        body,
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateChange {
    state: String,
}

pub async fn abort(
    State(shared): State<Arc<SfShared>>,
    Path((_version, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, SfError> {
    require_json_body(&headers)?;
    let change: StateChange = serde_json::from_slice(&body).map_err(|e| SfError::json_parse(&e))?;
    if change.state != "Aborted" {
        return Err(SfError::bad_request(
            "INVALIDJOBSTATE",
            format!(
                "A query job can only be set to Aborted, not '{}'",
                change.state
            ),
        ));
    }
    let user = user_id(&shared)?;
    let mut jobs = lock(&shared.jobs)?;
    let job = jobs.jobs.get_mut(&id).ok_or_else(SfError::not_found)?;
    if job.state.is_terminal() {
        return Err(SfError::bad_request(
            "INVALIDJOBSTATE",
            format!("Job {} is already {:?}", job.id, job.state),
        ));
    }
    job.state = JobState::Aborted;
    Ok(Json(job.info(&user)).into_response())
}

pub async fn delete(
    State(shared): State<Arc<SfShared>>,
    Path((_version, id)): Path<(String, String)>,
) -> Result<Response, SfError> {
    let mut jobs = lock(&shared.jobs)?;
    let job = jobs.jobs.get(&id).ok_or_else(SfError::not_found)?;
    if !job.state.is_terminal() {
        return Err(SfError::bad_request(
            "INVALIDJOBSTATE",
            "Only jobs in a terminal state (JobComplete, Failed, Aborted) can be deleted",
        ));
    }
    jobs.jobs.remove(&id);
    Ok(StatusCode::NO_CONTENT.into_response())
}
