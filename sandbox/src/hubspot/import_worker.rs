//! An accepted import's background task: it waits out the start delay and a processing slot,
//! then applies the rows in file order at the configured speed, into the same record store the
//! objects API reads, recording one `PublicImportError` per problem.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::SecondsFormat;
use serde::Deserialize;

use super::import_csv::{CsvRow, DateFormat, parse_import_date, parse_import_datetime};
use super::import_store::{CREATED_OBJECTS, ImportState, NewRowError, UPDATED_OBJECTS};
use super::records::{PropertyChange, RecordStore};
use super::schemas::{ObjectSchema, PropertyDef, PropertyType};
use super::state::{PortalData, Shared, lock};
use super::values::{MAX_VALUE_CHARS, normalize_value};

/// Rows applied under one hold of the locks, so readers see progress between chunks.
const CHUNK_ROWS: usize = 500;
/// Longest sleep before the task looks at its import's state again (cancel, forced failure).
const POLL: Duration = Duration::from_millis(20);

/// `importOperations` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Operation {
    Create,
    Update,
    #[default]
    Upsert,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Property,
    /// `columnType: HUBSPOT_OBJECT_ID`: the record id.
    ObjectId,
    /// `columnType: HUBSPOT_ALTERNATE_ID`: a unique property; its value is written as well.
    AlternateId,
}

#[derive(Debug, Clone)]
pub struct ColumnPlan {
    pub property: String,
    pub kind: ColumnKind,
}

/// One validated file of an import.
#[derive(Debug)]
pub struct FilePlan {
    pub file_id: u64,
    pub object_type_id: String,
    pub operation: Operation,
    /// One per column, in column order.
    pub columns: Vec<ColumnPlan>,
    /// Data rows (the header row, if any, left out).
    pub rows: Vec<CsvRow>,
}

#[derive(Debug)]
pub struct ImportPlan {
    pub date_format: DateFormat,
    pub files: Vec<FilePlan>,
}

impl ImportPlan {
    fn total_rows(&self) -> usize {
        self.files.iter().map(|f| f.rows.len()).sum()
    }
}

/// The task stops: shutdown, or its import left PROCESSING (canceled, forced to fail).
struct Stop;

/// The sandbox is shutting down (told so, or its handle is gone).
fn stopping(shared: &Shared) -> bool {
    *shared.shutdown.borrow() || shared.shutdown.has_changed().is_err()
}

async fn pause(shared: &Shared, length: Duration) -> Result<(), Stop> {
    let mut shutdown = shared.shutdown.clone();
    if stopping(shared) {
        return Err(Stop);
    }
    tokio::select! {
        _ = tokio::time::sleep(length) => Ok(()),
        _ = shutdown.changed() => Err(Stop),
    }
}

/// Runs one import to its end.
pub async fn run(shared: Arc<Shared>, import_id: u64, plan: ImportPlan) {
    let _ = process(&shared, import_id, plan).await;
}

async fn process(shared: &Shared, id: u64, plan: ImportPlan) -> Result<(), Stop> {
    let delay = lock(&shared.imports)
        .map(|s| s.settings.start_delay_ms)
        .map_err(|_| Stop)?;
    pause(shared, Duration::from_millis(delay)).await?;
    {
        let mut imports = lock(&shared.imports).map_err(|_| Stop)?;
        match imports.imports.get_mut(&id) {
            Some(import) if import.state == ImportState::Started => import.ready = true,
            _ => return Err(Stop),
        }
    }
    // Wait for the head of the queue and a free slot (at most three files at one time).
    let fail_now = loop {
        {
            let mut imports = lock(&shared.imports).map_err(|_| Stop)?;
            if imports.state(id) != Some(ImportState::Started) {
                return Err(Stop);
            }
            if imports.try_take_up(id) {
                break imports
                    .imports
                    .get(&id)
                    .is_some_and(|i| i.fail_when_taken_up);
            }
        }
        pause(shared, POLL).await?;
    };
    if fail_now {
        lock(&shared.imports).map_err(|_| Stop)?.force_fail(id);
        return Ok(());
    }

    let total = plan.total_rows();
    let started = Instant::now();
    let mut cursor = Cursor::default();
    let mut seen_alternate_ids = HashSet::new();
    loop {
        if stopping(shared) {
            return Err(Stop);
        }
        let rows_per_second = {
            let imports = lock(&shared.imports).map_err(|_| Stop)?;
            if imports.state(id) != Some(ImportState::Processing) {
                return Err(Stop);
            }
            u64::from(imports.settings.rows_per_second)
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let due = if rows_per_second == 0 {
            total
        } else {
            total.min((elapsed_ms.saturating_mul(rows_per_second) / 1000) as usize)
        };
        if cursor.applied < due {
            let count = (due - cursor.applied).min(CHUNK_ROWS);
            apply_chunk(
                shared,
                id,
                &plan,
                &mut cursor,
                count,
                &mut seen_alternate_ids,
            )?;
            tokio::task::yield_now().await;
            continue;
        }
        if cursor.applied >= total {
            if let Ok(mut imports) = lock(&shared.imports) {
                imports.finish(id, ImportState::Done);
            }
            return Ok(());
        }
        let next_ms = ((cursor.applied as u64 + 1) * 1000).div_ceil(rows_per_second.max(1));
        let wait = Duration::from_millis(next_ms.saturating_sub(elapsed_ms).max(1));
        pause(shared, wait.min(POLL)).await?;
    }
}

/// Where the task is in the import's files.
#[derive(Debug, Default)]
struct Cursor {
    file: usize,
    row: usize,
    applied: usize,
}

fn apply_chunk(
    shared: &Shared,
    id: u64,
    plan: &ImportPlan,
    cursor: &mut Cursor,
    count: usize,
    seen_alternate_ids: &mut HashSet<(String, String, String)>,
) -> Result<(), Stop> {
    // Lock order everywhere: imports, then portal.
    let mut imports = lock(&shared.imports).map_err(|_| Stop)?;
    if imports.state(id) != Some(ImportState::Processing) {
        return Err(Stop);
    }
    let mut portal = lock(&shared.portal).map_err(|_| Stop)?;
    let PortalData {
        schemas, records, ..
    } = &mut *portal;
    let (mut created, mut updated) = (0, 0);
    for _ in 0..count {
        let Some(file) = plan.files.get(cursor.file) else {
            break;
        };
        let Some(row) = file.rows.get(cursor.row) else {
            cursor.file += 1;
            cursor.row = 0;
            continue;
        };
        cursor.row += 1;
        cursor.applied += 1;
        let Some(schema) = schemas
            .iter()
            .find(|s| s.object_type_id == file.object_type_id)
        else {
            continue;
        };
        let mut context = RowContext {
            schema,
            records,
            file,
            row,
            date_format: plan.date_format,
            seen_alternate_ids,
        };
        let (outcome, errors) = context.apply();
        match outcome {
            Outcome::Created => created += 1,
            Outcome::Updated => updated += 1,
            Outcome::Nothing => {}
        }
        if !errors.is_empty() {
            imports.add_errors(id, &file.object_type_id, file.file_id, errors);
        }
    }
    // Past the last row of a file, move on so `applied` and the cursor agree.
    while plan
        .files
        .get(cursor.file)
        .is_some_and(|f| cursor.row >= f.rows.len())
    {
        cursor.file += 1;
        cursor.row = 0;
    }
    drop(portal);
    imports.bump(id, CREATED_OBJECTS, created);
    imports.bump(id, UPDATED_OBJECTS, updated);
    Ok(())
}

enum Outcome {
    Created,
    Updated,
    Nothing,
}

struct RowContext<'a> {
    schema: &'a ObjectSchema,
    records: &'a mut RecordStore,
    file: &'a FilePlan,
    row: &'a CsvRow,
    date_format: DateFormat,
    seen_alternate_ids: &'a mut HashSet<(String, String, String)>,
}

impl RowContext<'_> {
    fn error(
        &self,
        error_type: &'static str,
        message: String,
        column: Option<usize>,
        value: Option<&str>,
    ) -> NewRowError {
        NewRowError {
            error_type,
            message,
            invalid_value: value.map(str::to_string),
            known_column_number: column,
            line_number: self.row.line,
            row_data: self.row.cells.clone(),
        }
    }

    fn cell(&self, column: usize) -> &str {
        self.row.cells.get(column).map(String::as_str).unwrap_or("")
    }

    fn column_of(&self, kind: ColumnKind) -> Option<usize> {
        self.file.columns.iter().position(|c| c.kind == kind)
    }

    fn live(&self, record_id: u64) -> bool {
        self.records
            .get(&self.schema.object_type_id, record_id)
            .is_some_and(|r| !r.archived)
    }

    /// Applies one row. A bad cell costs only its own value: the rest of the row is written
    /// and one error per bad cell is recorded. HubSpot does not say whether such a row is
    /// skipped whole or written in part; "written in part" is the harder case for a client
    /// (a record can exist with some values missing), so the sandbox does that.
    fn apply(&mut self) -> (Outcome, Vec<NewRowError>) {
        let type_id = self.schema.object_type_id.clone();
        if self.row.malformed {
            let e = self.error(
                "COULD_NOT_PARSE_ROW",
                "The row is not valid CSV (RFC 4180): a quote inside an unquoted cell, text after a closing quote, or an unterminated quote".into(),
                None,
                None,
            );
            return (Outcome::Nothing, vec![e]);
        }
        if self.row.cells.len() != self.file.columns.len() {
            let e = self.error(
                "INCORRECT_NUMBER_OF_COLUMNS",
                format!(
                    "The row has {} cells but the file has {} columns",
                    self.row.cells.len(),
                    self.file.columns.len()
                ),
                None,
                None,
            );
            return (Outcome::Nothing, vec![e]);
        }

        // Which record the row is about.
        let object_id_column = self.column_of(ColumnKind::ObjectId);
        let alternate_column = self.column_of(ColumnKind::AlternateId);
        let mut target = None;
        let mut unmatched_object_id = None;
        if let Some(c) = object_id_column {
            let cell = self.cell(c);
            if !cell.is_empty() {
                match cell.parse::<u64>() {
                    Ok(record_id) if self.live(record_id) => target = Some(record_id),
                    Ok(_) => unmatched_object_id = Some(c),
                    Err(_) => {
                        let e = self.error(
                            "INVALID_OBJECT_ID",
                            format!("\"{cell}\" is not a record id"),
                            Some(c),
                            Some(cell),
                        );
                        return (Outcome::Nothing, vec![e]);
                    }
                }
            }
        }
        let id_decided = target.is_some() || unmatched_object_id.is_some();
        if let Some(c) = alternate_column {
            let property = self.file.columns[c].property.clone();
            let cell = self.cell(c).to_string();
            if cell.is_empty() {
                if !id_decided {
                    let e = self.error(
                        "INVALID_ALTERNATE_ID",
                        format!("The unique identifier {property} is empty"),
                        Some(c),
                        Some(""),
                    );
                    return (Outcome::Nothing, vec![e]);
                }
            } else {
                let key = self
                    .schema
                    .property(&property)
                    .ok_or(())
                    .and_then(|def| import_value(def, &cell, self.date_format).map_err(|_| ()));
                let Ok(key) = key else {
                    let e = self.error(
                        "INVALID_ALTERNATE_ID",
                        format!(
                            "\"{cell}\" is not a valid value of the unique identifier {property}"
                        ),
                        Some(c),
                        Some(&cell),
                    );
                    return (Outcome::Nothing, vec![e]);
                };
                if !self
                    .seen_alternate_ids
                    .insert((type_id.clone(), property.clone(), key.clone()))
                {
                    let e = self.error(
                        "DUPLICATE_ALTERNATE_ID",
                        format!("{property} \"{cell}\" appears on an earlier row of this import"),
                        Some(c),
                        Some(&cell),
                    );
                    return (Outcome::Nothing, vec![e]);
                }
                if !id_decided {
                    target = self.records.find_unique(&type_id, &property, &key);
                }
            }
        }

        // What the operation allows.
        let id_column = object_id_column
            .filter(|c| !self.cell(*c).is_empty() || alternate_column.is_none())
            .or(alternate_column);
        let id_cell = id_column.map(|c| self.cell(c).to_string());
        if let Some(c) = unmatched_object_id {
            let cell = self.cell(c).to_string();
            let e = match self.file.operation {
                Operation::Update => self.error(
                    "UPDATE_ONLY_IMPORT",
                    format!("No record has id {cell}; this import only updates"),
                    Some(c),
                    Some(&cell),
                ),
                _ => self.error(
                    "INVALID_OBJECT_ID",
                    format!("No record has id {cell}; a record id cannot be chosen on create"),
                    Some(c),
                    Some(&cell),
                ),
            };
            return (Outcome::Nothing, vec![e]);
        }
        match (target, self.file.operation) {
            (Some(record_id), Operation::Create) => {
                let e = self.error(
                    "CREATE_ONLY_IMPORT",
                    format!("Record {record_id} already exists; this import only creates"),
                    id_column,
                    id_cell.as_deref(),
                );
                return (Outcome::Nothing, vec![e]);
            }
            (None, Operation::Update) => {
                let e = self.error(
                    "UPDATE_ONLY_IMPORT",
                    "No existing record matches this row; this import only updates".into(),
                    id_column,
                    id_cell.as_deref(),
                );
                return (Outcome::Nothing, vec![e]);
            }
            _ => {}
        }

        // The values. An empty cell sets nothing: an import never clears a value (the
        // stricter reading; the docs do not say that an empty cell clears).
        let mut changes: Vec<PropertyChange> = Vec::new();
        let mut errors = Vec::new();
        for (c, column) in self.file.columns.iter().enumerate() {
            let cell = self.cell(c);
            if column.kind == ColumnKind::ObjectId || cell.is_empty() {
                continue;
            }
            let Some(def) = self.schema.property(&column.property) else {
                errors.push(self.error(
                    "PROPERTY_DEFINITION_NOT_FOUND",
                    format!("Property {} does not exist", column.property),
                    Some(c),
                    Some(cell),
                ));
                continue;
            };
            match import_value(def, cell, self.date_format) {
                Ok(value) => {
                    let holder = if def.has_unique_value {
                        self.records.find_unique(&type_id, &def.name, &value)
                    } else {
                        None
                    };
                    if holder.is_some_and(|h| Some(h) != target) {
                        errors.push(self.error(
                            "DUPLICATE_UNIQUE_PROPERTY_VALUE",
                            format!(
                                "Another record already has {} \"{cell}\"; its values must be unique",
                                def.name
                            ),
                            Some(c),
                            Some(cell),
                        ));
                    } else {
                        changes.push((def.name.clone(), Some(value)));
                    }
                }
                Err((error_type, message)) => {
                    errors.push(self.error(error_type, message, Some(c), Some(cell)))
                }
            }
        }

        let unique: Vec<String> = self
            .schema
            .properties
            .iter()
            .filter(|p| p.has_unique_value)
            .map(|p| p.name.clone())
            .collect();
        if let Some(record_id) = target {
            if changes.is_empty() {
                return (Outcome::Nothing, errors);
            }
            self.records.update(&type_id, record_id, changes, &unique);
            return (Outcome::Updated, errors);
        }
        let missing: Vec<String> = self
            .schema
            .required_properties
            .iter()
            .filter(|p| !changes.iter().any(|(name, _)| name == *p))
            .cloned()
            .collect();
        if !missing.is_empty() {
            for property in missing {
                let column = self
                    .file
                    .columns
                    .iter()
                    .position(|c| c.property == property);
                let value = column.map(|c| self.cell(c).to_string());
                errors.push(self.error(
                    "MISSING_REQUIRED_PROPERTY",
                    format!(
                        "A new {} needs a value for the required property {property}; the record was not created",
                        self.schema.singular
                    ),
                    column,
                    value.as_deref(),
                ));
            }
            return (Outcome::Nothing, errors);
        }
        if changes.is_empty() {
            errors.push(self.error(
                "FAILED_TO_PROCESS_OBJECT_WITH_EMPTY_PROPERTY_VALUES",
                "The row has no value to create a record with".into(),
                None,
                None,
            ));
            return (Outcome::Nothing, errors);
        }
        self.records.create(&type_id, changes, &unique);
        (Outcome::Created, errors)
    }
}

/// A cell's stored form by the property's type, or the import error type and a message.
/// Number and enumeration cells follow the API's own value rules (values.rs).
pub fn import_value(
    def: &PropertyDef,
    raw: &str,
    date_format: DateFormat,
) -> Result<String, (&'static str, String)> {
    let chars = raw.chars().count();
    if chars > MAX_VALUE_CHARS {
        return Err((
            "COLUMN_TOO_LARGE",
            format!("The value has {chars} characters; values are at most {MAX_VALUE_CHARS}"),
        ));
    }
    let name = &def.name;
    match def.property_type {
        PropertyType::String => Ok(raw.to_string()),
        PropertyType::Number => normalize_value(def, raw)
            .map(Option::unwrap_or_default)
            .map_err(|e| ("COULD_NOT_PARSE_NUMBER", e.message)),
        // A bool property is a two-option enumeration in HubSpot (fieldType booleancheckbox).
        PropertyType::Bool => match raw {
            "true" | "false" => Ok(raw.to_string()),
            _ => Err((
                "INVALID_ENUMERATION_OPTION",
                format!("{raw} is not an option of {name}: [true, false]"),
            )),
        },
        PropertyType::Enumeration => normalize_value(def, raw)
            .map(Option::unwrap_or_default)
            .map_err(|e| ("INVALID_ENUMERATION_OPTION", e.message)),
        PropertyType::Date => parse_import_date(raw, date_format)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .ok_or_else(|| {
                (
                    "COULD_NOT_PARSE_DATE",
                    format!("{raw} is not a date in the import's dateFormat {date_format:?}"),
                )
            }),
        PropertyType::Datetime => parse_import_datetime(raw, date_format)
            .map(|d| d.to_rfc3339_opts(SecondsFormat::Millis, true))
            .ok_or_else(|| {
                (
                    "COULD_NOT_PARSE_DATE",
                    format!(
                        "{raw} is neither epoch milliseconds nor a date in the import's dateFormat {date_format:?} (optionally followed by HH:mm)"
                    ),
                )
            }),
    }
}
