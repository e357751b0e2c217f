//! HubSpot's CRM Imports API (hubspot.md "CRM Imports API"): one multipart `POST` moves a CSV
//! file of up to 1,048,576 rows, then the import's state and its row errors are polled. The
//! file is streamed from disk for every attempt, never held in memory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::client::HubSpotClient;
use super::errors::HubSpotError;

/// How long an upload may take: a file of hundreds of megabytes outlasts the API timeout.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// Row errors asked for per page (hubspot.md: the largest page not documented; 100 is taken).
pub const ERRORS_PAGE: usize = 100;

/// One column of the file and the property it fills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportColumn {
    /// The header cell.
    pub column_name: String,
    pub property_name: String,
    /// The column identifies the record (`HUBSPOT_ALTERNATE_ID`: a unique-value property).
    pub alternate_id: bool,
}

/// What one import moves: one CSV file into one object, upserted by its alternate-id column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSpec {
    /// Shown in HubSpot's imports table.
    pub name: String,
    pub object_type_id: String,
    /// In file order.
    pub columns: Vec<ImportColumn>,
    pub file: PathBuf,
}

impl ImportSpec {
    /// The file's name as the request describes it and the upload names its part.
    pub fn file_name(&self) -> String {
        self.file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "records.csv".to_owned())
    }

    /// The `importRequest` JSON. Dates are written `YYYY-MM-DD` (YEAR_MONTH_DAY) and
    /// datetimes as epoch milliseconds, which no date format can misread.
    pub fn request_json(&self) -> Value {
        let mappings: Vec<Value> = self
            .columns
            .iter()
            .map(|c| {
                let mut mapping = json!({
                    "columnObjectTypeId": self.object_type_id,
                    "columnName": c.column_name,
                    "propertyName": c.property_name,
                });
                if c.alternate_id {
                    mapping["columnType"] = json!("HUBSPOT_ALTERNATE_ID");
                }
                mapping
            })
            .collect();
        json!({
            "name": self.name,
            "importOperations": { self.object_type_id.clone(): "UPSERT" },
            "dateFormat": "YEAR_MONTH_DAY",
            "files": [{
                "fileName": self.file_name(),
                "fileFormat": "CSV",
                "fileImportPage": { "hasHeader": true, "columnMappings": mappings },
            }],
        })
    }
}

/// An import's state (the API's enum).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportState {
    Started,
    Processing,
    Deferred,
    Done,
    Failed,
    Canceled,
    Reverted,
    /// A state this version does not know; taken as still running.
    Other(String),
}

impl ImportState {
    fn parse(text: &str) -> Self {
        match text {
            "STARTED" => Self::Started,
            "PROCESSING" => Self::Processing,
            "DEFERRED" => Self::Deferred,
            "DONE" => Self::Done,
            "FAILED" => Self::Failed,
            "CANCELED" => Self::Canceled,
            "REVERTED" => Self::Reverted,
            other => Self::Other(other.to_owned()),
        }
    }

    /// No further row will be written.
    pub fn is_finished(&self) -> bool {
        matches!(
            self,
            Self::Done | Self::Failed | Self::Canceled | Self::Reverted
        )
    }

    pub fn name(&self) -> &str {
        match self {
            Self::Started => "STARTED",
            Self::Processing => "PROCESSING",
            Self::Deferred => "DEFERRED",
            Self::Done => "DONE",
            Self::Failed => "FAILED",
            Self::Canceled => "CANCELED",
            Self::Reverted => "REVERTED",
            Self::Other(name) => name,
        }
    }
}

/// An import as HubSpot reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubSpotImport {
    pub id: String,
    pub state: ImportState,
    /// HubSpot's counters (names not documented: shown, never relied on).
    pub counters: BTreeMap<String, u64>,
}

impl HubSpotImport {
    fn from_json(body: &Value) -> Result<Self, HubSpotError> {
        let id = match &body["id"] {
            Value::String(id) => id.clone(),
            Value::Number(id) => id.to_string(),
            _ => {
                return Err(HubSpotError::InvalidResponse {
                    reason: format!("an import answer without an id: {body}"),
                });
            }
        };
        let state = body["state"]
            .as_str()
            .map(ImportState::parse)
            .ok_or_else(|| HubSpotError::InvalidResponse {
                reason: format!("import {id} answered without a state"),
            })?;
        let counters = body["metadata"]["counters"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| v.as_u64().map(|v| (k.clone(), v)))
            .collect();
        Ok(Self {
            id,
            state,
            counters,
        })
    }
}

/// One row HubSpot could not import (or one value of it it could not write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRowError {
    /// `INVALID_ENUMERATION_OPTION`, `COULD_NOT_PARSE_NUMBER`…
    pub error_type: String,
    pub message: Option<String>,
    pub invalid_value: Option<String>,
    /// 0-based column of the file.
    pub column: Option<usize>,
    /// 1-based line of the file (the header is line 1); 0 for a file-wide error.
    pub line: Option<u64>,
    /// The row's cells.
    pub row: Vec<String>,
}

impl ImportRowError {
    fn from_json(item: &Value) -> Self {
        let text = |v: &Value| v.as_str().map(str::to_owned);
        Self {
            error_type: text(&item["errorType"]).unwrap_or_else(|| "UNKNOWN_ERROR".to_owned()),
            message: text(&item["errorMessage"]).or_else(|| text(&item["extraContext"])),
            invalid_value: text(&item["invalidValue"]),
            column: item["knownColumnNumber"].as_u64().map(|c| c as usize),
            line: item["sourceData"]["lineNumber"].as_u64(),
            row: item["sourceData"]["rowData"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| c.as_str().unwrap_or_default().to_owned())
                .collect(),
        }
    }
}

/// One page of row errors and where the next starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportErrorPage {
    pub errors: Vec<ImportRowError>,
    pub next: Option<String>,
}

impl HubSpotClient {
    /// Starts an import of `spec.file`, streamed from disk.
    pub async fn start_import(&self, spec: &ImportSpec) -> Result<HubSpotImport, HubSpotError> {
        let request_json = spec.request_json().to_string();
        let file_name = spec.file_name();
        let length = tokio::fs::metadata(&spec.file)
            .await
            .map_err(|e| file_error(&spec.file, &e))?
            .len();
        let path = spec.file.clone();
        let body = move |request: reqwest::RequestBuilder| {
            let file = std::fs::File::open(&path).map_err(|e| file_error(&path, &e))?;
            let stream = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
            let part = reqwest::multipart::Part::stream_with_length(
                reqwest::Body::wrap_stream(stream),
                length,
            )
            .file_name(file_name.clone())
            .mime_str("text/csv")
            .map_err(|e| HubSpotError::Configuration {
                reason: format!("cannot describe the import file: {e}"),
            })?;
            let form = reqwest::multipart::Form::new()
                .text("importRequest", request_json.clone())
                .part("files", part);
            Ok(request.multipart(form).timeout(UPLOAD_TIMEOUT))
        };
        let response = self
            .send_built(Method::POST, &self.paths().imports(), &body)
            .await?;
        HubSpotImport::from_json(&response.body)
    }

    /// An import's state and counters.
    pub async fn import_state(&self, import_id: &str) -> Result<HubSpotImport, HubSpotError> {
        let response = self
            .send(Method::GET, &self.paths().import(import_id), None)
            .await?;
        HubSpotImport::from_json(&response.body)
    }

    /// One page of an import's row errors, with each row's cells and message.
    pub async fn import_errors(
        &self,
        import_id: &str,
        after: Option<&str>,
    ) -> Result<ImportErrorPage, HubSpotError> {
        let mut path = format!(
            "{}?limit={ERRORS_PAGE}&includeErrorMessage=true&includeRowData=true",
            self.paths().import_errors(import_id)
        );
        if let Some(after) = after {
            path.push_str("&after=");
            path.push_str(&super::paths::encode_segment(after));
        }
        let response = self.send(Method::GET, &path, None).await?;
        let errors = response.body["results"]
            .as_array()
            .into_iter()
            .flatten()
            .map(ImportRowError::from_json)
            .collect();
        let next = response.body["paging"]["next"]["after"]
            .as_str()
            .map(str::to_owned);
        Ok(ImportErrorPage { errors, next })
    }

    /// Cancels an active import (rows already written stay).
    pub async fn cancel_import(&self, import_id: &str) -> Result<(), HubSpotError> {
        self.send(
            Method::POST,
            &self.paths().import_cancel(import_id),
            Some(&json!({})),
        )
        .await?;
        Ok(())
    }
}

fn file_error(path: &Path, error: &std::io::Error) -> HubSpotError {
    HubSpotError::Configuration {
        reason: format!("cannot read the import file {}: {error}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_maps_every_column_in_order_and_upserts_by_the_alternate_id() {
        let spec = ImportSpec {
            name: "sf2hs Invoice__c".into(),
            object_type_id: "2-123".into(),
            columns: vec![
                ImportColumn {
                    column_name: "salesforce_id".into(),
                    property_name: "salesforce_id".into(),
                    alternate_id: true,
                },
                ImportColumn {
                    column_name: "amount".into(),
                    property_name: "amount".into(),
                    alternate_id: false,
                },
            ],
            file: PathBuf::from("/tmp/x/job-1.csv"),
        };
        let request = spec.request_json();
        assert_eq!(request["importOperations"]["2-123"], "UPSERT");
        assert_eq!(request["files"][0]["fileName"], "job-1.csv");
        let mappings = &request["files"][0]["fileImportPage"]["columnMappings"];
        assert_eq!(mappings[0]["columnType"], "HUBSPOT_ALTERNATE_ID");
        assert_eq!(mappings[1]["propertyName"], "amount");
        assert!(mappings[1].get("columnType").is_none());
    }

    #[test]
    fn states_and_errors_are_read_from_the_documented_shapes() {
        let import = HubSpotImport::from_json(&json!({
            "id": "4711", "state": "PROCESSING",
            "metadata": { "counters": { "TOTAL_ROWS": 3 } }
        }))
        .expect("parsed");
        assert_eq!(import.state, ImportState::Processing);
        assert!(!import.state.is_finished());
        assert_eq!(import.counters["TOTAL_ROWS"], 3);
        let error = ImportRowError::from_json(&json!({
            "errorType": "INVALID_ENUMERATION_OPTION", "errorMessage": "no option Void",
            "invalidValue": "Void", "knownColumnNumber": 2,
            "sourceData": { "lineNumber": 7, "rowData": ["a01", "1", "Void"] }
        }));
        assert_eq!(error.column, Some(2));
        assert_eq!(error.line, Some(7));
        assert_eq!(error.row[2], "Void");
    }
}
