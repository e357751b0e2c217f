//! CRM Imports API (hubspot.md "CRM Imports API"; OpenAPI HubSpot/HubSpot-public-api-spec-
//! collection PublicApiSpecs/CRM/Imports/Rollouts/144903/v3/imports.json; guide
//! developers.hubspot.com/docs/guides/api/crm/imports): start an import from a multipart upload
//! (each file read as it streams in), read it, list its row errors, cancel it, list active ones.
//! Where the docs are silent the sandbox takes the stricter side and says so.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use axum::Extension;
use axum::Json;
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::{Multipart, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::errors::ApiError;
use super::form::parse_pairs;
use super::gate::RouteKey;
use super::import_csv::{CsvFault, CsvReader, CsvRow, DateFormat};
use super::import_store::{CapRefusal, ImportSettings, ImportState, NewImport};
use super::import_worker::{self, ColumnKind, ColumnPlan, FilePlan, ImportPlan, Operation};
use super::state::{PortalData, Shared, lock};
use super::values::iso_now;

/// The body limit of `POST /crm/v3/imports`: one file of the KB's 512 MB plus room for the
/// multipart framing and the importRequest. Several files together cannot pass it either.
pub const MAX_IMPORT_BODY_BYTES: usize = 512_000_000 + 2 * 1024 * 1024;
/// The importRequest field's own limit (999 column mappings fit many times over).
const MAX_IMPORT_REQUEST_BYTES: usize = 1024 * 1024;
/// Page sizes of the list and errors routes: neither default nor maximum is documented, so the
/// sandbox takes small ones (default 10, at most 100; more is a 400).
const DEFAULT_PAGE_SIZE: usize = 10;
const MAX_PAGE_SIZE: usize = 100;
/// `columnType` values of association imports, which the sandbox does not serve.
const ASSOCIATION_COLUMN_TYPES: [&str; 2] = ["FLEXIBLE_ASSOCIATION_LABEL", "ASSOCIATION_KEYS"];

/// The `importRequest` JSON (guide). Unknown fields are refused (stricter); the documented
/// contact-only flags are accepted and have no effect here.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ImportRequest {
    name: String,
    #[serde(default)]
    import_operations: BTreeMap<String, Operation>,
    #[serde(default)]
    date_format: DateFormat,
    #[serde(default)]
    #[allow(dead_code)]
    marketable_contact_import: Option<bool>,
    #[serde(default)]
    #[allow(dead_code)]
    create_contact_list_from_import: Option<bool>,
    files: Vec<FileRequest>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FileRequest {
    file_name: String,
    file_format: String,
    file_import_page: FileImportPage,
}

/// `hasHeader` is required here: the guide lists it without a default (stricter).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FileImportPage {
    has_header: bool,
    column_mappings: Vec<ColumnMapping>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ColumnMapping {
    column_object_type_id: String,
    column_name: String,
    #[serde(default)]
    property_name: Option<String>,
    #[serde(default)]
    column_type: Option<String>,
    // Association-import fields: named so that their use gets a clear refusal.
    #[serde(default)]
    to_column_object_type_id: Option<Value>,
    #[serde(default)]
    foreign_key_type: Option<Value>,
    #[serde(default)]
    association_identifier_column: Option<Value>,
}

/// A file part as read from the upload.
#[derive(Debug)]
struct Upload {
    file_name: String,
    rows: Vec<CsvRow>,
}

/// A multipart transport failure (malformed framing, body over the limit): HubSpot's body.
fn transport_error(e: MultipartError) -> ApiError {
    let status = e.status();
    let category = if status == StatusCode::PAYLOAD_TOO_LARGE || status.is_client_error() {
        "VALIDATION_ERROR"
    } else {
        "INTERNAL_ERROR"
    };
    ApiError::categorized(
        status,
        category,
        format!("Could not read the multipart upload: {}", e.body_text()),
        None,
    )
}

async fn drain(field: &mut Field<'_>) -> Result<(), ApiError> {
    while field.chunk().await.map_err(transport_error)?.is_some() {}
    Ok(())
}

/// Checks newly read records against the file limits and keeps them.
fn admit_rows(
    new_rows: Vec<CsvRow>,
    rows: &mut Vec<CsvRow>,
    limits: &ImportSettings,
    file_name: &str,
) -> Result<(), ApiError> {
    for row in new_rows {
        if row.cells.len() > limits.max_columns {
            return Err(ApiError::validation(format!(
                "File {file_name} has {} columns on line {}; import files have fewer than {} columns",
                row.cells.len(),
                row.line,
                limits.max_columns + 1
            )));
        }
        if rows.len() as u64 >= limits.max_rows_per_file {
            return Err(ApiError::validation(format!(
                "File {file_name} has more than {} rows (its header row included); that is the most a file may have",
                limits.max_rows_per_file
            )));
        }
        rows.push(row);
    }
    Ok(())
}

fn not_utf8(file_name: &str, fault: CsvFault) -> ApiError {
    let CsvFault::NotUtf8 { line } = fault;
    ApiError::validation(format!(
        "File {file_name} is not UTF-8 (line {line}); import files must be UTF-8 encoded"
    ))
}

/// Reads one `files` part as it streams in. The outer error is the transport's; the inner one
/// a refusal of this file, after which the part has been read to its end.
async fn read_file_part(
    field: &mut Field<'_>,
    limits: &ImportSettings,
    file_name: &str,
) -> Result<Result<Upload, ApiError>, ApiError> {
    let mut reader = CsvReader::default();
    let mut rows = Vec::new();
    let mut bytes: u64 = 0;
    let mut refusal = None;
    while let Some(chunk) = field.chunk().await.map_err(transport_error)? {
        if refusal.is_some() {
            continue;
        }
        bytes += chunk.len() as u64;
        if bytes > limits.max_file_bytes {
            refusal = Some(ApiError::validation(format!(
                "File {file_name} is larger than {} bytes, the most an import file may have",
                limits.max_file_bytes
            )));
            rows = Vec::new();
            continue;
        }
        let fed = reader.feed(&chunk).map_err(|f| not_utf8(file_name, f));
        if let Err(e) =
            fed.and_then(|()| admit_rows(reader.take_rows(), &mut rows, limits, file_name))
        {
            refusal = Some(e);
            rows = Vec::new();
        }
    }
    if let Some(e) = refusal {
        return Ok(Err(e));
    }
    let finished = reader
        .finish()
        .map_err(|f| not_utf8(file_name, f))
        .and_then(|()| admit_rows(reader.take_rows(), &mut rows, limits, file_name));
    Ok(finished.map(|()| Upload {
        file_name: file_name.to_string(),
        rows,
    }))
}

/// Reads the `importRequest` text field (bounded).
async fn read_request_field(field: &mut Field<'_>) -> Result<Result<String, ApiError>, ApiError> {
    let mut bytes = Vec::new();
    let mut too_long = false;
    while let Some(chunk) = field.chunk().await.map_err(transport_error)? {
        if bytes.len() + chunk.len() > MAX_IMPORT_REQUEST_BYTES {
            too_long = true;
        }
        if !too_long {
            bytes.extend_from_slice(&chunk);
        }
    }
    if too_long {
        return Ok(Err(ApiError::validation(format!(
            "importRequest is longer than {MAX_IMPORT_REQUEST_BYTES} bytes"
        ))));
    }
    Ok(String::from_utf8(bytes)
        .map_err(|_| ApiError::validation("importRequest is not UTF-8 text")))
}

/// A validated file waiting for its file id.
struct PendingFile {
    object_type_id: String,
    operation: Operation,
    columns: Vec<ColumnPlan>,
    data_rows: Vec<CsvRow>,
    all_rows: u64,
}

fn column_kind(mapping: &ColumnMapping, at: &str) -> Result<ColumnKind, ApiError> {
    let association_field = mapping.to_column_object_type_id.is_some()
        || mapping.foreign_key_type.is_some()
        || mapping.association_identifier_column.is_some();
    match mapping.column_type.as_deref() {
        _ if association_field => Err(ApiError::validation(format!(
            "{at} describes an association column; the sandbox does not serve association imports"
        ))),
        None => Ok(ColumnKind::Property),
        Some("HUBSPOT_OBJECT_ID") => Ok(ColumnKind::ObjectId),
        Some("HUBSPOT_ALTERNATE_ID") => Ok(ColumnKind::AlternateId),
        Some(t) if ASSOCIATION_COLUMN_TYPES.contains(&t) => Err(ApiError::validation(format!(
            "{at}.columnType {t} is an association column; the sandbox does not serve association imports"
        ))),
        Some(t) => Err(ApiError::validation(format!(
            "{at}.columnType \"{t}\" is not one the sandbox serves (HUBSPOT_OBJECT_ID, HUBSPOT_ALTERNATE_ID)"
        ))),
    }
}

/// Checks one file's description against its upload and the portal's schemas.
fn validate_file(
    portal: &PortalData,
    request: &ImportRequest,
    file: &FileRequest,
    upload: Upload,
) -> Result<PendingFile, ApiError> {
    let name = &file.file_name;
    match file.file_format.as_str() {
        "CSV" => {}
        "SPREADSHEET" => {
            return Err(ApiError::validation(format!(
                "File {name}: fileFormat SPREADSHEET is not served by the sandbox, which takes CSV files only"
            )));
        }
        other => {
            return Err(ApiError::validation(format!(
                "File {name}: fileFormat \"{other}\" is not one of CSV, SPREADSHEET"
            )));
        }
    }
    if !name.to_ascii_lowercase().ends_with(".csv") {
        return Err(ApiError::validation(format!(
            "File {name}: a CSV import file is a .csv file"
        )));
    }
    let all_rows = upload.rows.len() as u64;
    let mut rows = upload.rows.into_iter();
    let header = if file.file_import_page.has_header {
        let header = rows
            .next()
            .ok_or_else(|| ApiError::validation(format!("File {name} is empty")))?;
        if header.malformed {
            return Err(ApiError::validation(format!(
                "File {name}: the header row is not valid CSV"
            )));
        }
        Some(header)
    } else {
        None
    };
    let data_rows: Vec<CsvRow> = rows.collect();
    let Some(first) = data_rows.first() else {
        return Err(ApiError::validation(format!(
            "File {name} has no data rows"
        )));
    };
    let column_count = header.as_ref().map_or(first.cells.len(), |h| h.cells.len());
    let mappings = &file.file_import_page.column_mappings;
    if mappings.len() != column_count {
        return Err(ApiError::validation(format!(
            "File {name} has {column_count} columns but {} columnMappings: include one mapping per column, in the column order",
            mappings.len()
        )));
    }

    let mut object_type_id: Option<&str> = None;
    let mut columns = Vec::with_capacity(mappings.len());
    let mut mapped = HashSet::new();
    for (i, mapping) in mappings.iter().enumerate() {
        let at = format!("File {name}: columnMappings[{i}]");
        let kind = column_kind(mapping, &at)?;
        if let Some(header) = &header {
            let cell = header.cells.get(i).map(String::as_str).unwrap_or("");
            if mapping.column_name != cell {
                return Err(ApiError::validation(format!(
                    "{at}.columnName \"{}\" does not match the header of column {i}, \"{cell}\": mappings follow the header's order",
                    mapping.column_name
                )));
            }
        }
        let schema = portal
            .schemas
            .iter()
            .find(|s| s.object_type_id == mapping.column_object_type_id)
            .ok_or_else(|| {
                ApiError::validation(format!(
                    "{at}.columnObjectTypeId \"{}\" is not an object type id of this portal",
                    mapping.column_object_type_id
                ))
            })?;
        match object_type_id {
            None => object_type_id = Some(&schema.object_type_id),
            Some(t) if t == schema.object_type_id => {}
            Some(_) => {
                return Err(ApiError::validation(format!(
                    "File {name} maps columns to more than one object: that is an association import, which the sandbox does not serve"
                )));
            }
        }
        let property = mapping
            .property_name
            .as_deref()
            .filter(|p| !p.is_empty())
            .ok_or_else(|| ApiError::validation(format!("{at} needs a propertyName")))?;
        let def = schema.property(property).ok_or_else(|| {
            ApiError::validation(format!(
                "{at}: property \"{property}\" does not exist on {}",
                schema.object_type_id
            ))
        })?;
        match kind {
            ColumnKind::ObjectId if property != "hs_object_id" => {
                return Err(ApiError::validation(format!(
                    "{at}: a HUBSPOT_OBJECT_ID column maps to hs_object_id, not \"{property}\""
                )));
            }
            ColumnKind::ObjectId => {}
            _ if def.read_only_value => {
                return Err(ApiError::validation(format!(
                    "{at}: property \"{property}\" is read-only; an import cannot set it"
                )));
            }
            ColumnKind::AlternateId if !def.has_unique_value => {
                return Err(ApiError::validation(format!(
                    "{at}: property \"{property}\" cannot be a HUBSPOT_ALTERNATE_ID: it does not have unique values (hasUniqueValue is false)"
                )));
            }
            _ => {}
        }
        if !mapped.insert(property.to_string()) {
            return Err(ApiError::validation(format!(
                "File {name} maps property \"{property}\" twice"
            )));
        }
        columns.push(ColumnPlan {
            property: property.to_string(),
            kind,
        });
    }
    let object_type_id = object_type_id.unwrap_or_default().to_string();
    for kind in [ColumnKind::ObjectId, ColumnKind::AlternateId] {
        if columns.iter().filter(|c| c.kind == kind).count() > 1 {
            return Err(ApiError::validation(format!(
                "File {name} has more than one {} column",
                if kind == ColumnKind::ObjectId {
                    "HUBSPOT_OBJECT_ID"
                } else {
                    "HUBSPOT_ALTERNATE_ID"
                }
            )));
        }
    }
    let operation = request
        .import_operations
        .get(&object_type_id)
        .copied()
        .unwrap_or_default();
    if operation == Operation::Update && columns.iter().all(|c| c.kind == ColumnKind::Property) {
        return Err(ApiError::validation(format!(
            "File {name}: an UPDATE import of {object_type_id} needs a HUBSPOT_OBJECT_ID or HUBSPOT_ALTERNATE_ID column to find the records"
        )));
    }
    Ok(PendingFile {
        object_type_id,
        operation,
        columns,
        data_rows,
        all_rows,
    })
}

/// Checks the request against the uploads and the schemas; the files in request order.
fn validate_request(
    portal: &PortalData,
    request: &ImportRequest,
    uploads: Vec<Upload>,
    limits: &ImportSettings,
) -> Result<Vec<PendingFile>, ApiError> {
    if request.name.trim().is_empty() {
        return Err(ApiError::validation("importRequest.name is required"));
    }
    if request.files.is_empty() {
        return Err(ApiError::validation(
            "importRequest.files must describe at least one file",
        ));
    }
    if uploads.is_empty() {
        return Err(ApiError::validation(
            "No files part was uploaded: send each import file as a files part with a filename",
        ));
    }
    // UNVERIFIED: HubSpot imports at most three files at one time; an import of more could
    // never start, so the sandbox refuses it.
    if request.files.len() > limits.max_concurrent_files {
        return Err(ApiError::validation(format!(
            "An import takes at most {} files (HubSpot imports at most three files at one time)",
            limits.max_concurrent_files
        )));
    }
    let mut uploaded = BTreeMap::new();
    for upload in uploads {
        let name = upload.file_name.clone();
        if uploaded.insert(name.clone(), upload).is_some() {
            return Err(ApiError::validation(format!(
                "Two files parts have the filename {name}"
            )));
        }
    }
    let mut described = HashSet::new();
    for file in &request.files {
        if !described.insert(file.file_name.as_str()) {
            return Err(ApiError::validation(format!(
                "importRequest.files describes {} twice",
                file.file_name
            )));
        }
        if !uploaded.contains_key(&file.file_name) {
            return Err(ApiError::validation(format!(
                "importRequest.files describes {}, but no files part has that filename",
                file.file_name
            )));
        }
    }
    if let Some(stray) = uploaded.keys().find(|n| !described.contains(n.as_str())) {
        return Err(ApiError::validation(format!(
            "The uploaded file {stray} is not described in importRequest.files"
        )));
    }
    let mut pending = Vec::new();
    for file in &request.files {
        let upload = uploaded
            .remove(&file.file_name)
            .ok_or_else(|| ApiError::internal("upload vanished"))?;
        pending.push(validate_file(portal, request, file, upload)?);
    }
    if let Some(unmapped) = request
        .import_operations
        .keys()
        .find(|t| !pending.iter().any(|f| &f.object_type_id == *t))
    {
        return Err(ApiError::validation(format!(
            "importOperations names {unmapped}, which no column of the import maps to"
        )));
    }
    Ok(pending)
}

/// Refusal past a rolling 24-hour cap. Whether HubSpot answers 429 or 400 is not documented;
/// the sandbox answers 429 `RATE_LIMITS`, the answer a client is likelier to retry too soon.
fn cap_refusal(refusal: CapRefusal) -> ApiError {
    let message = match refusal {
        CapRefusal::Imports { max } => format!(
            "You have reached the limit of {max} imports in a rolling 24 hours; try again when an earlier import is more than 24 hours old"
        ),
        CapRefusal::Rows { max, used, asked } => format!(
            "This import's {asked} rows would pass the limit of {max} rows imported through the imports API in a rolling 24 hours ({used} already used)"
        ),
    };
    ApiError::categorized(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITS", message, None)
}

/// `POST /crm/v3/imports` (and `/crm/v3/imports/`): multipart `importRequest` + `files`.
pub async fn create(
    State(shared): State<Arc<Shared>>,
    Extension(route): Extension<RouteKey>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let mut multipart = multipart.map_err(|e| {
        ApiError::validation(format!(
            "An import is a multipart/form-data request with an importRequest field and files parts: {}",
            e.body_text()
        ))
    })?;
    let limits = lock(&shared.imports)?.settings;
    let mut request_text: Option<String> = None;
    let mut uploads = Vec::new();
    // A refused part does not end the reading: the rest of the body is read (and dropped) so
    // the client gets the answer rather than a reset connection.
    let mut refusal: Option<ApiError> = None;
    while let Some(mut field) = multipart.next_field().await.map_err(transport_error)? {
        let name = field.name().unwrap_or_default().to_string();
        if refusal.is_some() {
            drain(&mut field).await?;
            continue;
        }
        match name.as_str() {
            "importRequest" if request_text.is_some() => {
                refusal = Some(ApiError::validation("importRequest appears twice"));
                drain(&mut field).await?;
            }
            "importRequest" => match read_request_field(&mut field).await? {
                Ok(text) => request_text = Some(text),
                Err(e) => refusal = Some(e),
            },
            "files" => {
                let Some(file_name) = field.file_name().filter(|n| !n.is_empty()) else {
                    refusal = Some(ApiError::validation(
                        "Each files part needs a filename, which importRequest.files[].fileName names",
                    ));
                    drain(&mut field).await?;
                    continue;
                };
                let file_name = file_name.to_string();
                match read_file_part(&mut field, &limits, &file_name).await? {
                    Ok(upload) => uploads.push(upload),
                    Err(e) => refusal = Some(e),
                }
            }
            other => {
                refusal = Some(ApiError::validation(format!(
                    "Unexpected form field \"{other}\": an import takes an importRequest field and files parts"
                )));
                drain(&mut field).await?;
            }
        }
    }
    if let Some(e) = refusal {
        return Err(e);
    }
    let text = request_text.ok_or_else(|| {
        ApiError::validation(
            "importRequest is required: a text field holding the import request JSON",
        )
    })?;
    let request_json: Value = serde_json::from_str(&text)
        .map_err(|e| ApiError::validation(format!("importRequest is not valid JSON: {e}")))?;
    let request: ImportRequest = serde_json::from_value(request_json.clone())
        .map_err(|e| ApiError::validation(format!("importRequest is invalid: {e}")))?;
    let pending = {
        let portal = lock(&shared.portal)?;
        validate_request(&portal, &request, uploads, &limits)?
    };

    let data_rows: u64 = pending.iter().map(|f| f.data_rows.len() as u64).sum();
    let ledger_rows: u64 = pending.iter().map(|f| f.all_rows).sum();
    shared.record_inputs(&route.0, data_rows as usize);
    let mut mapped_object_type_ids: Vec<String> = Vec::new();
    for file in &pending {
        if !mapped_object_type_ids.contains(&file.object_type_id) {
            mapped_object_type_ids.push(file.object_type_id.clone());
        }
    }
    let body = {
        let mut imports = lock(&shared.imports)?;
        let now = Instant::now();
        imports.check_caps(ledger_rows, now).map_err(cap_refusal)?;
        let (id, file_ids) = imports.register(
            NewImport {
                name: request.name.clone(),
                request_json,
                mapped_object_type_ids,
                file_object_type_ids: pending.iter().map(|f| f.object_type_id.clone()).collect(),
                data_rows,
                ledger_rows,
            },
            now,
        );
        let files = pending
            .into_iter()
            .zip(file_ids)
            .map(|(f, file_id)| FilePlan {
                file_id,
                object_type_id: f.object_type_id,
                operation: f.operation,
                columns: f.columns,
                rows: f.data_rows,
            })
            .collect();
        let body = imports
            .imports
            .get(&id)
            .map(|i| i.to_json())
            .ok_or_else(|| ApiError::internal("import vanished"))?;
        tokio::spawn(import_worker::run(
            shared.clone(),
            id,
            ImportPlan {
                date_format: request.date_format,
                files,
            },
        ));
        body
    };
    Ok(Json(body).into_response())
}

/// `importId` is an int64 in the spec: anything else is a 400, an unknown one a 404.
fn import_id(raw: &str) -> Result<u64, ApiError> {
    let id: i64 = raw.parse().map_err(|_| {
        ApiError::validation(format!(
            "importId must be an integer (int64), not \"{raw}\""
        ))
    })?;
    u64::try_from(id).map_err(|_| unknown_import(raw))
}

fn unknown_import(raw: &str) -> ApiError {
    ApiError::not_found(format!("Import {raw} does not exist"))
}

/// `GET /crm/v3/imports/{importId}`.
pub async fn get_import(
    State(shared): State<Arc<Shared>>,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let id = import_id(&raw)?;
    let imports = lock(&shared.imports)?;
    let import = imports
        .imports
        .get(&id)
        .ok_or_else(|| unknown_import(&raw))?;
    Ok(Json(import.to_json()).into_response())
}

/// Query parameters, strictly read.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(raw: &Option<String>) -> Self {
        Self(
            raw.as_deref()
                .map(|q| parse_pairs(q.as_bytes()))
                .unwrap_or_default(),
        )
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn limit(&self) -> Result<usize, ApiError> {
        let Some(raw) = self.get("limit") else {
            return Ok(DEFAULT_PAGE_SIZE);
        };
        match raw.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(n),
            _ => Err(ApiError::validation(format!(
                "limit must be a whole number from 1 to {MAX_PAGE_SIZE}, not \"{raw}\""
            ))),
        }
    }

    fn after(&self) -> Result<Option<u64>, ApiError> {
        self.get("after")
            .map(|raw| {
                raw.parse::<u64>().map_err(|_| {
                    ApiError::validation(format!(
                        "after \"{raw}\" is not a paging cursor this route gave"
                    ))
                })
            })
            .transpose()
    }

    fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.get(name) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(ApiError::validation(format!(
                "{name} must be true or false, not \"{other}\""
            ))),
        }
    }
}

/// `paging.next` with an absolute link to the next page.
fn next_page(headers: &HeaderMap, uri: &Uri, after: String, limit: usize) -> Value {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let mut pairs: Vec<(String, String)> = parse_pairs(uri.query().unwrap_or("").as_bytes())
        .into_iter()
        .filter(|(k, _)| k != "after" && k != "limit")
        .collect();
    pairs.push(("after".into(), after.clone()));
    pairs.push(("limit".into(), limit.to_string()));
    let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    json!({
        "next": {
            "after": after,
            "link": format!("http://{host}{}?{}", uri.path(), query.join("&")),
        }
    })
}

/// `GET /crm/v3/imports/`: active (unfinished) imports, oldest first, paged by import id.
pub async fn list_imports(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let query = Query::parse(&query);
    let limit = query.limit()?;
    let after = query.after()?.unwrap_or(0);
    let imports = lock(&shared.imports)?;
    let active: Vec<_> = imports
        .imports
        .values()
        .filter(|i| i.state.is_active() && i.id > after)
        .collect();
    let page: Vec<Value> = active.iter().take(limit).map(|i| i.to_json()).collect();
    let mut body = json!({ "results": page });
    if active.len() > limit
        && let (Some(last), Some(map)) = (active.get(limit - 1), body.as_object_mut())
    {
        map.insert(
            "paging".into(),
            next_page(&headers, &uri, last.id.to_string(), limit),
        );
    }
    Ok(Json(body).into_response())
}

/// `GET /crm/v3/imports/{importId}/errors`: row errors in the order they were met, paged by
/// position (`after` is the number of errors already read).
pub async fn list_errors(
    State(shared): State<Arc<Shared>>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let id = import_id(&raw)?;
    let query = Query::parse(&query);
    let limit = query.limit()?;
    let after = query.after()?.unwrap_or(0) as usize;
    let include_message = query.flag("includeErrorMessage")?;
    let include_row_data = query.flag("includeRowData")?;
    let imports = lock(&shared.imports)?;
    let import = imports
        .imports
        .get(&id)
        .ok_or_else(|| unknown_import(&raw))?;
    let results: Vec<Value> = import
        .errors
        .iter()
        .skip(after)
        .take(limit)
        .map(|e| e.to_json(include_message, include_row_data))
        .collect();
    let read = after.saturating_add(results.len());
    let mut body = json!({ "results": results });
    if read < import.errors.len()
        && let Some(map) = body.as_object_mut()
    {
        map.insert(
            "paging".into(),
            next_page(&headers, &uri, read.to_string(), limit),
        );
    }
    Ok(Json(body).into_response())
}

/// `POST /crm/v3/imports/{importId}/cancel`. The import becomes CANCELED; rows already applied
/// stay. Cancelling a finished import is a 400 (the docs say "cancel an active import" and
/// no more: refusing is the stricter reading). The `ActionResponse.status` names the cancel
/// action's own lifecycle, done at once here: COMPLETE.
pub async fn cancel(
    State(shared): State<Arc<Shared>>,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let id = import_id(&raw)?;
    let requested_at = iso_now();
    let mut imports = lock(&shared.imports)?;
    let state = imports.state(id).ok_or_else(|| unknown_import(&raw))?;
    if !imports.finish(id, ImportState::Canceled) {
        return Err(ApiError::validation(format!(
            "Import {id} is {}; only an active import can be canceled",
            state.as_str()
        )));
    }
    let completed_at = iso_now();
    Ok(Json(json!({
        "status": "COMPLETE",
        "requestedAt": requested_at,
        "startedAt": requested_at,
        "completedAt": completed_at,
    }))
    .into_response())
}
