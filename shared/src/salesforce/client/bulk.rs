//! Bulk API 2.0 query jobs (salesforce.md §3.3): create, poll with growing back-off until a
//! terminal state, read the CSV results page by page (`Sforce-Locator` until the literal
//! `null`) with the job's own API version, abort.

use std::time::Instant;

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::errors::SalesforceError;
use super::{Body, SalesforceClient};
use crate::domain::FieldSnapshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkOperation {
    Query,
    /// Also returns soft-deleted records.
    QueryAll,
}

impl BulkOperation {
    fn name(self) -> &'static str {
        match self {
            BulkOperation::Query => "query",
            BulkOperation::QueryAll => "queryAll",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub enum BulkJobState {
    UploadComplete,
    InProgress,
    JobComplete,
    Failed,
    Aborted,
    Other(String),
}

impl From<String> for BulkJobState {
    fn from(s: String) -> Self {
        match s.as_str() {
            "UploadComplete" => Self::UploadComplete,
            "InProgress" => Self::InProgress,
            "JobComplete" => Self::JobComplete,
            "Failed" => Self::Failed,
            "Aborted" => Self::Aborted,
            _ => Self::Other(s),
        }
    }
}

impl std::fmt::Display for BulkJobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BulkJobState::Other(s) => f.write_str(s),
            other => write!(f, "{other:?}"),
        }
    }
}

impl BulkJobState {
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::JobComplete | Self::Failed | Self::Aborted)
    }
}

/// The job info Salesforce answers on create and poll.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkJobInfo {
    pub id: String,
    pub state: BulkJobState,
    #[serde(default)]
    pub object: String,
    #[serde(default)]
    pub operation: String,
    /// The version the job was created with; its results must be read with the same one.
    pub api_version: f64,
    #[serde(default)]
    pub column_delimiter: Option<String>,
    #[serde(default)]
    pub number_records_processed: Option<u64>,
    #[serde(default)]
    pub error_message: Option<String>,
}

impl BulkJobInfo {
    fn delimiter(&self) -> u8 {
        match self.column_delimiter.as_deref() {
            Some("BACKQUOTE") => b'`',
            Some("CARET") => b'^',
            Some("PIPE") => b'|',
            Some("SEMICOLON") => b';',
            Some("TAB") => b'\t',
            _ => b',',
        }
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkResultsPage {
    pub records: Vec<FieldSnapshot>,
    /// `None` once Salesforce said `Sforce-Locator: null`.
    pub next_locator: Option<String>,
    /// `Sforce-NumberOfRecords` of this page.
    pub number_of_records: Option<u64>,
}

/// Parses a CSV page: header row = field names; an empty cell is null (Bulk CSV has no other
/// way to say null); NUL bytes are dropped (simple-salesforce does the same).
pub fn parse_csv(text: &str, delimiter: u8) -> Result<Vec<FieldSnapshot>, SalesforceError> {
    let cleaned;
    let text = if text.contains('\0') {
        cleaned = text.replace('\0', "");
        cleaned.as_str()
    } else {
        text
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| SalesforceError::Decode(format!("Bulk results header: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    let mut out = Vec::new();
    for row in reader.records() {
        let row = row.map_err(|e| SalesforceError::Decode(format!("Bulk results CSV: {e}")))?;
        let snapshot: FieldSnapshot = header
            .iter()
            .zip(row.iter())
            .map(|(name, cell)| {
                let value = if cell.is_empty() {
                    Value::Null
                } else {
                    Value::String(cell.to_string())
                };
                (name.clone(), value)
            })
            .collect();
        out.push(snapshot);
    }
    Ok(out)
}

impl SalesforceClient {
    /// Creates a query job. Bulk 2.0 refuses `COUNT()`, `GROUP BY`, `OFFSET`, nested queries
    /// and (per older docs) `ORDER BY`/`LIMIT`; use REST for those.
    pub async fn create_query_job(
        &self,
        soql: &str,
        operation: BulkOperation,
    ) -> Result<BulkJobInfo, SalesforceError> {
        let path = self.data_path("/jobs/query");
        let body = json!({
            "operation": operation.name(),
            "query": soql,
            "contentType": "CSV",
            "columnDelimiter": "COMMA",
            "lineEnding": "LF",
        });
        self.call(Method::POST, &path, &[], Body::Json(body), &[], None)
            .await?
            .json()
    }

    pub async fn query_job(&self, job_id: &str) -> Result<BulkJobInfo, SalesforceError> {
        let path = self.data_path(&format!("/jobs/query/{job_id}"));
        self.call(Method::GET, &path, &[], Body::None, &[], None)
            .await?
            .json()
    }

    /// Polls with growing intervals until the job completes. `Failed` and `Aborted` are errors
    /// that name the job; so is running past the poll timeout.
    pub async fn wait_for_job(&self, job_id: &str) -> Result<BulkJobInfo, SalesforceError> {
        let policy = &self.config.bulk_poll;
        let started = Instant::now();
        let mut interval = policy.initial_interval;
        loop {
            let job = self.query_job(job_id).await?;
            match job.state {
                BulkJobState::JobComplete => return Ok(job),
                BulkJobState::Failed => {
                    return Err(SalesforceError::BulkJobFailed {
                        job_id: job.id,
                        message: job
                            .error_message
                            .unwrap_or_else(|| "no errorMessage given".into()),
                    });
                }
                BulkJobState::Aborted => {
                    return Err(SalesforceError::BulkJobAborted { job_id: job.id });
                }
                _ => {}
            }
            if started.elapsed() + interval > policy.timeout {
                return Err(SalesforceError::BulkJobTimeout {
                    job_id: job.id,
                    state: job.state.to_string(),
                    waited_secs: started.elapsed().as_secs(),
                });
            }
            tokio::time::sleep(interval).await;
            interval = (interval * 2).min(policy.max_interval);
        }
    }

    /// One page of a completed job's results, read with the job's API version (Salesforce
    /// answers 409 to any other).
    pub async fn job_results_page(
        &self,
        job: &BulkJobInfo,
        locator: Option<&str>,
        max_records: Option<u32>,
    ) -> Result<BulkResultsPage, SalesforceError> {
        let path = format!(
            "/services/data/v{:.1}/jobs/query/{}/results",
            job.api_version, job.id
        );
        let mut query = Vec::new();
        if let Some(locator) = locator {
            query.push(("locator", locator.to_string()));
        }
        if let Some(max) = max_records {
            query.push(("maxRecords", max.to_string()));
        }
        let answer = self
            .call(Method::GET, &path, &query, Body::None, &[], None)
            .await?;
        let next_locator = match answer.header("sforce-locator") {
            Some("null") | Some("") | None => None,
            Some(l) => Some(l.to_string()),
        };
        let number_of_records = answer
            .header("sforce-numberofrecords")
            .and_then(|n| n.parse().ok());
        let records = parse_csv(&answer.body, job.delimiter())?;
        Ok(BulkResultsPage {
            records,
            next_locator,
            number_of_records,
        })
    }

    /// Every result row of a completed job, page by page until the locator is `null`.
    pub async fn job_results(
        &self,
        job: &BulkJobInfo,
        max_records: Option<u32>,
    ) -> Result<Vec<FieldSnapshot>, SalesforceError> {
        let mut out = Vec::new();
        let mut locator: Option<String> = None;
        loop {
            let page = self
                .job_results_page(job, locator.as_deref(), max_records)
                .await?;
            out.extend(page.records);
            match page.next_locator {
                Some(next) => locator = Some(next),
                None => return Ok(out),
            }
        }
    }

    /// Create, wait, read everything. Long runs should page with `job_results_page` instead.
    pub async fn bulk_query(
        &self,
        soql: &str,
        operation: BulkOperation,
        max_records: Option<u32>,
    ) -> Result<Vec<FieldSnapshot>, SalesforceError> {
        let created = self.create_query_job(soql, operation).await?;
        let job = self.wait_for_job(&created.id).await?;
        self.job_results(&job, max_records).await
    }

    /// Stops a job that is not finished yet.
    pub async fn abort_job(&self, job_id: &str) -> Result<BulkJobInfo, SalesforceError> {
        let path = self.data_path(&format!("/jobs/query/{job_id}"));
        self.call(
            Method::PATCH,
            &path,
            &[],
            Body::Json(json!({ "state": "Aborted" })),
            &[],
            None,
        )
        .await?
        .json()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_fixture_csv() {
        let text =
            "\"Id\",\"Name\"\n\"005R0000000UyrWIAS\",\"Jane Dunn\"\n\"005R0000000GiwjIAC\",\"\"\n";
        let rows = parse_csv(text, b',').unwrap_or_default();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["Name"], Value::String("Jane Dunn".into()));
        assert_eq!(rows[1]["Name"], Value::Null);
    }
}
