//! The portal's imports (hubspot.md "CRM Imports API"): their states, counters and row errors,
//! the rolling 24-hour caps, the at-most-three-files-at-once rule, and the sandbox settings
//! (speed, caps, file limits) that tests turn down to reach them at small sizes.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::values::iso_now;

/// First import id handed out (HubSpot's are int64, sent as digit strings).
const FIRST_IMPORT_ID: u64 = 40_000_001;
/// First file id (`metadata.fileIds`, `sourceData.fileId`).
const FIRST_FILE_ID: u64 = 170_000_001;
/// First row-error id.
const FIRST_ERROR_ID: u64 = 900_000_000_001;
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// The counters `metadata.counters` carries. The spec (`PublicImportMetadata.counters`) is a
/// free map of names to int32 and names none: these names are the sandbox's. UNVERIFIED.
pub const TOTAL_ROWS: &str = "TOTAL_ROWS";
pub const CREATED_OBJECTS: &str = "CREATED_OBJECTS";
pub const UPDATED_OBJECTS: &str = "UPDATED_OBJECTS";
pub const ERRORS: &str = "ERRORS";

/// Limits and speed of the portal's import processing. The file limits and daily caps default
/// to the KB's numbers for paid subscriptions (knowledge.hubspot.com/import-and-export/
/// set-up-your-import-file); the speed is not documented anywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ImportSettings {
    /// How long a new import stays STARTED before the portal takes it up.
    pub start_delay_ms: u64,
    /// Rows applied per second while PROCESSING (all files of the import together);
    /// 0 applies them as fast as the sandbox can.
    pub rows_per_second: u32,
    /// Files processed at one time; a further import waits STARTED (KB import FAQ: three).
    pub max_concurrent_files: usize,
    /// Imports accepted per rolling 24 hours (KB: 500).
    pub max_imports_per_day: u32,
    /// Rows accepted per rolling 24 hours through the imports API (KB: 80,000,000). Every
    /// record of every file counts, its header row included: the stricter reading.
    pub max_rows_per_day: u64,
    /// Bytes per file (KB: "up to 512 MB", read as 512,000,000 bytes, the smaller reading).
    pub max_file_bytes: u64,
    /// Records per file, header included (KB: 1,048,576, Excel's sheet height).
    pub max_rows_per_file: u64,
    /// Columns per file (KB: "less than 1000").
    pub max_columns: usize,
    /// Every import accepted while this is on FAILs when the portal takes it up, as a file the
    /// portal cannot process would.
    pub fail_new_imports: bool,
}

impl Default for ImportSettings {
    fn default() -> Self {
        Self {
            start_delay_ms: 500,
            rows_per_second: 2_000,
            max_concurrent_files: 3,
            max_imports_per_day: 500,
            max_rows_per_day: 80_000_000,
            max_file_bytes: 512_000_000,
            max_rows_per_file: 1_048_576,
            max_columns: 999,
            fail_new_imports: false,
        }
    }
}

/// `PublicImportResponse.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ImportState {
    Started,
    Processing,
    Done,
    Failed,
    Canceled,
    /// In the spec's enum; the sandbox never defers (it refuses past the daily caps instead).
    Deferred,
    /// In the spec's enum; reverting an import is a HubSpot UI action the sandbox lacks.
    Reverted,
}

impl ImportState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "STARTED",
            Self::Processing => "PROCESSING",
            Self::Done => "DONE",
            Self::Failed => "FAILED",
            Self::Canceled => "CANCELED",
            Self::Deferred => "DEFERRED",
            Self::Reverted => "REVERTED",
        }
    }

    /// Terminal states never change.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Done | Self::Failed | Self::Canceled | Self::Reverted
        )
    }

    /// "Active" as `GET /crm/v3/imports/` means it: not finished.
    pub fn is_active(self) -> bool {
        !self.is_terminal()
    }
}

/// One `PublicImportError`.
#[derive(Debug, Clone)]
pub struct ImportRowError {
    pub id: u64,
    pub created_at_ms: i64,
    pub error_type: &'static str,
    pub message: String,
    pub invalid_value: Option<String>,
    pub known_column_number: Option<usize>,
    pub object_type_id: String,
    pub file_id: u64,
    /// 0 for a file-wide error.
    pub line_number: u32,
    pub row_data: Vec<String>,
}

impl ImportRowError {
    pub fn to_json(&self, include_message: bool, include_row_data: bool) -> Value {
        let mut out = json!({
            "id": self.id.to_string(),
            "createdAt": self.created_at_ms,
            "errorType": self.error_type,
            "objectTypeId": self.object_type_id,
            "sourceData": {
                "fileId": self.file_id,
                "lineNumber": self.line_number,
                "rowData": if include_row_data { self.row_data.clone() } else { Vec::new() },
                "containsEncryptedProperties": false,
            },
        });
        if let Some(map) = out.as_object_mut() {
            if let Some(value) = &self.invalid_value {
                map.insert("invalidValue".into(), json!(value));
            }
            if let Some(column) = self.known_column_number {
                map.insert("knownColumnNumber".into(), json!(column));
            }
            if include_message {
                map.insert("errorMessage".into(), json!(self.message));
            }
        }
        out
    }
}

/// A row error before the registry gives it an id.
#[derive(Debug, Clone)]
pub struct NewRowError {
    pub error_type: &'static str,
    pub message: String,
    pub invalid_value: Option<String>,
    pub known_column_number: Option<usize>,
    pub line_number: u32,
    pub row_data: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ImportRecord {
    pub id: u64,
    pub name: String,
    pub state: ImportState,
    pub created_at: String,
    pub updated_at: String,
    pub request_json: Value,
    pub mapped_object_type_ids: Vec<String>,
    pub file_ids: Vec<u64>,
    pub file_object_type_ids: Vec<String>,
    pub counters: BTreeMap<&'static str, u64>,
    pub errors: Vec<ImportRowError>,
    /// Set once the start delay has passed: the import queues for a processing slot.
    pub ready: bool,
    /// Decided when the import was accepted (`ImportSettings::fail_new_imports`).
    pub fail_when_taken_up: bool,
}

impl ImportRecord {
    /// `PublicImportResponse`.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "state": self.state.as_str(),
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "importName": self.name,
            "importSource": "API",
            "importRequestJson": self.request_json,
            "mappedObjectTypeIds": self.mapped_object_type_ids,
            "metadata": {
                "counters": self.counters,
                "fileIds": self.file_ids.iter().map(u64::to_string).collect::<Vec<_>>(),
                "objectLists": [],
            },
            "optOutImport": false,
        })
    }

    fn touch(&mut self) {
        self.updated_at = iso_now();
    }
}

/// What the registry needs of an accepted import.
#[derive(Debug, Clone)]
pub struct NewImport {
    pub name: String,
    pub request_json: Value,
    pub mapped_object_type_ids: Vec<String>,
    /// The object each file imports into, in file order.
    pub file_object_type_ids: Vec<String>,
    /// Rows to import (`TOTAL_ROWS`): header rows excluded.
    pub data_rows: u64,
    /// Rows counted against the daily cap: every record, header rows included.
    pub ledger_rows: u64,
}

/// Why an import was refused before it started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CapRefusal {
    Imports { max: u32 },
    Rows { max: u64, used: u64, asked: u64 },
}

/// Everything the portal knows of its imports.
#[derive(Debug)]
pub struct ImportStore {
    pub settings: ImportSettings,
    next_id: u64,
    next_file_id: u64,
    next_error_id: u64,
    pub imports: BTreeMap<u64, ImportRecord>,
    /// Accepted imports in the last 24 hours: when, and how many rows.
    ledger: VecDeque<(Instant, u64)>,
}

impl ImportStore {
    pub fn new(settings: ImportSettings) -> Self {
        Self {
            settings,
            next_id: FIRST_IMPORT_ID,
            next_file_id: FIRST_FILE_ID,
            next_error_id: FIRST_ERROR_ID,
            imports: BTreeMap::new(),
            ledger: VecDeque::new(),
        }
    }

    fn expire_ledger(&mut self, now: Instant) {
        while self
            .ledger
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) >= DAY)
        {
            self.ledger.pop_front();
        }
    }

    /// The rolling 24-hour caps, for an import of `rows` records.
    pub fn check_caps(&mut self, rows: u64, now: Instant) -> Result<(), CapRefusal> {
        self.expire_ledger(now);
        if self.ledger.len() as u64 >= u64::from(self.settings.max_imports_per_day) {
            return Err(CapRefusal::Imports {
                max: self.settings.max_imports_per_day,
            });
        }
        let used: u64 = self.ledger.iter().map(|(_, r)| r).sum();
        if used.saturating_add(rows) > self.settings.max_rows_per_day {
            return Err(CapRefusal::Rows {
                max: self.settings.max_rows_per_day,
                used,
                asked: rows,
            });
        }
        Ok(())
    }

    /// Registers an accepted import (caps already checked); returns its id and file ids.
    pub fn register(&mut self, new: NewImport, now: Instant) -> (u64, Vec<u64>) {
        let NewImport {
            name,
            request_json,
            mapped_object_type_ids,
            file_object_type_ids,
            data_rows,
            ledger_rows,
        } = new;
        let file_count = file_object_type_ids.len();
        let id = self.next_id;
        self.next_id += 1;
        let file_ids: Vec<u64> = (0..file_count as u64)
            .map(|i| self.next_file_id + i)
            .collect();
        self.next_file_id += file_count as u64;
        self.ledger.push_back((now, ledger_rows));
        let created = iso_now();
        let counters = BTreeMap::from([
            (TOTAL_ROWS, data_rows),
            (CREATED_OBJECTS, 0),
            (UPDATED_OBJECTS, 0),
            (ERRORS, 0),
        ]);
        self.imports.insert(
            id,
            ImportRecord {
                id,
                name,
                state: ImportState::Started,
                created_at: created.clone(),
                updated_at: created,
                request_json,
                mapped_object_type_ids,
                file_ids: file_ids.clone(),
                file_object_type_ids,
                counters,
                errors: Vec::new(),
                ready: false,
                fail_when_taken_up: self.settings.fail_new_imports,
            },
        );
        (id, file_ids)
    }

    /// Files of the imports now PROCESSING.
    fn busy_files(&self) -> usize {
        self.imports
            .values()
            .filter(|i| i.state == ImportState::Processing)
            .map(|i| i.file_ids.len())
            .sum()
    }

    /// Moves a ready import to PROCESSING when it heads the queue (oldest first) and its files
    /// fit in the free slots. True when it is PROCESSING now.
    pub fn try_take_up(&mut self, id: u64) -> bool {
        let head = self
            .imports
            .values()
            .find(|i| i.state == ImportState::Started && i.ready)
            .map(|i| i.id);
        if head != Some(id) {
            return false;
        }
        let busy = self.busy_files();
        let max = self.settings.max_concurrent_files;
        match self.imports.get_mut(&id) {
            Some(import) if busy + import.file_ids.len() <= max => {
                import.state = ImportState::Processing;
                import.touch();
                true
            }
            _ => false,
        }
    }

    pub fn state(&self, id: u64) -> Option<ImportState> {
        self.imports.get(&id).map(|i| i.state)
    }

    /// Moves an unfinished import to `state`; false when it is already finished (or unknown).
    pub fn finish(&mut self, id: u64, state: ImportState) -> bool {
        match self.imports.get_mut(&id) {
            Some(import) if !import.state.is_terminal() => {
                import.state = state;
                import.touch();
                true
            }
            _ => false,
        }
    }

    /// Ends an unfinished import as FAILED with one file-wide error (line 0) per file, as when
    /// the portal cannot process its files. False when it had already finished.
    pub fn force_fail(&mut self, id: u64) -> bool {
        let Some(import) = self.imports.get(&id) else {
            return false;
        };
        if import.state.is_terminal() {
            return false;
        }
        let files: Vec<(u64, String)> = import
            .file_ids
            .iter()
            .copied()
            .zip(import.file_object_type_ids.iter().cloned())
            .collect();
        for (file_id, object_type_id) in files {
            self.add_errors(
                id,
                &object_type_id,
                file_id,
                vec![NewRowError {
                    error_type: "UNKNOWN_ERROR",
                    message: "The portal could not process this file".into(),
                    invalid_value: None,
                    known_column_number: None,
                    line_number: 0,
                    row_data: Vec::new(),
                }],
            );
        }
        self.finish(id, ImportState::Failed)
    }

    /// Appends row errors and counts them.
    pub fn add_errors(
        &mut self,
        id: u64,
        object_type_id: &str,
        file_id: u64,
        errors: Vec<NewRowError>,
    ) {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let first = self.next_error_id;
        self.next_error_id += errors.len() as u64;
        let Some(import) = self.imports.get_mut(&id) else {
            return;
        };
        for (offset, e) in errors.into_iter().enumerate() {
            import.errors.push(ImportRowError {
                id: first + offset as u64,
                created_at_ms: now_ms,
                error_type: e.error_type,
                message: e.message,
                invalid_value: e.invalid_value,
                known_column_number: e.known_column_number,
                object_type_id: object_type_id.to_string(),
                file_id,
                line_number: e.line_number,
                row_data: e.row_data,
            });
            *import.counters.entry(ERRORS).or_default() += 1;
        }
        import.touch();
    }

    pub fn bump(&mut self, id: u64, counter: &'static str, by: u64) {
        if by == 0 {
            return;
        }
        if let Some(import) = self.imports.get_mut(&id) {
            *import.counters.entry(counter).or_default() += by;
            import.touch();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(settings: ImportSettings) -> ImportStore {
        ImportStore::new(settings)
    }

    fn new_import(data_rows: u64, ledger_rows: u64) -> NewImport {
        NewImport {
            name: "i".into(),
            request_json: json!({}),
            mapped_object_type_ids: vec![],
            file_object_type_ids: vec!["2-1".into()],
            data_rows,
            ledger_rows,
        }
    }

    #[test]
    fn daily_caps_roll_over_24_hours() {
        let mut s = store(ImportSettings {
            max_imports_per_day: 2,
            max_rows_per_day: 10,
            ..ImportSettings::default()
        });
        let t0 = Instant::now();
        assert_eq!(
            s.check_caps(11, t0),
            Err(CapRefusal::Rows {
                max: 10,
                used: 0,
                asked: 11
            })
        );
        s.register(new_import(5, 6), t0);
        assert!(s.check_caps(4, t0).is_ok());
        assert!(s.check_caps(5, t0).is_err());
        s.register(new_import(0, 1), t0);
        assert_eq!(s.check_caps(0, t0), Err(CapRefusal::Imports { max: 2 }));
        assert!(s.check_caps(10, t0 + DAY).is_ok());
    }

    #[test]
    fn at_most_three_files_process_at_once_oldest_first() {
        let mut s = store(ImportSettings::default());
        let now = Instant::now();
        let ids: Vec<u64> = (0..4)
            .map(|_| s.register(new_import(1, 2), now).0)
            .collect();
        for id in &ids {
            if let Some(i) = s.imports.get_mut(id) {
                i.ready = true;
            }
        }
        // Not the head of the queue: waits even with free slots.
        assert!(!s.try_take_up(ids[1]));
        for id in &ids[..3] {
            assert!(s.try_take_up(*id));
        }
        assert!(!s.try_take_up(ids[3]));
        assert!(s.finish(ids[0], ImportState::Canceled));
        assert!(
            !s.finish(ids[0], ImportState::Done),
            "terminal states never change"
        );
        assert!(s.try_take_up(ids[3]));
        assert_eq!(s.state(ids[3]), Some(ImportState::Processing));
    }
}
