//! A backfill through HubSpot's CRM Imports API: past the batch path's ceiling (10,000 calls
//! at 190 per 10 s for a million records), one file moves up to 1,048,576 rows in a few calls.
//!
//! 1. **File.** Salesforce's pages (Bulk API 2.0 above the adapter's threshold) go through the
//!    same mapping engine as the worker's, one CSV row per record, streamed to disk with a ledger
//!    line (id, modstamp, content hash) beside it: neither is held in memory. Records the file
//!    cannot carry go through the batch path instead (the backfill line): those with lookups
//!    (associations are written by the worker), and those HubSpot already holds with a cleared
//!    value (an import's empty cell never clears a value, platform-behaviours.md). Records the
//!    index already holds at this state or newer are left out; records the engine refuses are
//!    failed in the sync log at once, as the worker would fail them.
//! 2. **Import.** One multipart upload, then HubSpot's state is polled (a run that reaches its
//!    deadline pauses; the job's cursor holds the import id, so the next run polls on).
//! 3. **Outcome.** HubSpot's row errors become failures in the sync log; every other ledger row
//!    becomes its record-index entry (conditional, as the worker writes them: a live change
//!    written meanwhile stays) and a synced entry.
//! 4. **Live changes win.** A live change written while HubSpot worked through the file may have
//!    been overwritten by the file's older row. Every record Salesforce changed or deleted after
//!    the cutoff is re-read by the worker (`RereadReason::Requested`, written whatever the index
//!    says), so HubSpot ends with the newest state, as on the batch path.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{ImportError, ImportProgress, Importer};
use crate::domain::{ChangeKind, ChangeSource, RecordKey, SalesforceId};
use crate::engine::{MappedRecord, map_record};
use crate::hubspot::imports::{
    HubSpotImport, ImportColumn, ImportErrorPage, ImportRowError, ImportSpec, ImportState,
};
use crate::mapping::schema::HubSpotPropertyType;
use crate::mapping::{HubSpotObjectRef, Mapping, read_fields, snapshot_for_mapping};
use crate::ports::{
    ImportCounts, ImportJob, IndexEntry, RecordIndex, RemoteError, SyncLog, SyncLogEntry,
    SyncOutcome,
};

/// The cursor of a job that goes through the Imports API: `hubspot-import:` before its file
/// is sent, then `hubspot-import:{import id}/{rows}` and, while HubSpot's outcome is settled,
/// `hubspot-import:{import id}/{rows}/{failed}/{ledger}/{line}/{synced}` ([`FileCursor`]).
pub const FILE_PHASE: &str = "hubspot-import:";

/// From how many records `--via auto` takes the Imports API: below it the batch path finishes
/// within about a minute (100,000 records are 1,000 calls, 53 s at 190 calls per 10 s) and
/// HubSpot's processing of a file would not be quicker.
pub const IMPORTS_API_THRESHOLD: u64 = 100_000;

/// At most this many records per file: HubSpot takes 1,048,576 rows per file (hubspot.md,
/// Excel's sheet height), read strictly as counting the header row.
pub const MAX_ROWS_PER_FILE: u64 = 1_048_575;

/// How an import moves its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportVia {
    /// Batch upserts by the worker (100 records per call).
    Batch,
    /// HubSpot's CRM Imports API (one file).
    HubSpotImports,
    /// The Imports API from [`IMPORTS_API_THRESHOLD`] records when the mapping has no
    /// associations (their records go through the worker either way), else batch.
    Auto,
}

/// How often a running HubSpot import is asked about: one call in 2 s is under 3 % of a
/// portal's 190 calls per 10 s.
pub const IMPORT_POLL: Duration = Duration::from_secs(2);

impl ImportVia {
    /// The name `parse` reads (`--via`, the import function's `via`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Batch => "batch",
            Self::HubSpotImports => "imports",
            Self::Auto => "auto",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "batch" => Some(Self::Batch),
            "imports" => Some(Self::HubSpotImports),
            "auto" => Some(Self::Auto),
            _ => None,
        }
    }
}

/// Whether `job` goes through HubSpot's Imports API (its cursor is the file path's).
pub fn on_file_path(job: &ImportJob) -> bool {
    job.cursor
        .as_deref()
        .is_some_and(|c| c.starts_with(FILE_PHASE))
}

/// The HubSpot import id of a job on the file path, once its file is sent.
pub fn hubspot_import_of(job: &ImportJob) -> Option<&str> {
    let rest = job.cursor.as_deref()?.strip_prefix(FILE_PHASE)?;
    rest.split('/').next().filter(|id| !id.is_empty())
}

/// Where a job on the file path stands, as its cursor says (after [`FILE_PHASE`]).
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileCursor {
    /// HubSpot's import; empty before the file is sent.
    import_id: String,
    /// The file's rows, counted in the job when it was sent. `None` in a cursor written before
    /// the count was kept there: the walk's own count stands then.
    rows: Option<u64>,
    settling: Option<Settling>,
}

/// How far settling HubSpot's outcome got: a Lambda invocation ends before a million index
/// writes do, so the next one goes on from here.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Settling {
    /// Records with a row error: failed in the sync log and counted in the job at the first pass.
    failed: u64,
    /// The ledger being walked (its tag: a ledger rebuilt in another container lists the rows
    /// in another order, so its lines are walked from the start) and how many lines are done.
    ledger: String,
    line: u64,
    /// Rows counted synced so far.
    synced: u64,
}

/// Whose settling: the job, HubSpot's import and the file's rows (the parts of its cursor that
/// do not move while it settles).
struct SettleAt<'a> {
    job: &'a ImportJob,
    import_id: &'a str,
    rows: Option<u64>,
}

impl FileCursor {
    fn parse(rest: &str) -> Option<Self> {
        let parts: Vec<&str> = rest.split('/').collect();
        let number = |n: usize| parts.get(n).and_then(|p| p.parse::<u64>().ok());
        let settling = match parts.len() {
            1 | 2 => None,
            6 => Some(Settling {
                failed: number(2)?,
                ledger: parts[3].to_owned(),
                line: number(4)?,
                synced: number(5)?,
            }),
            _ => return None,
        };
        // `-`: rows not known (a cursor from before they were kept).
        let rows = match parts.get(1) {
            None | Some(&"-") => None,
            Some(_) => Some(number(1)?),
        };
        Some(Self {
            import_id: parts[0].to_owned(),
            rows,
            settling,
        })
    }

    fn format(&self) -> String {
        cursor_text(&self.import_id, self.rows, self.settling.as_ref())
    }
}

/// A [`FileCursor`] as its parts (settling checkpoints a `Settling` it holds on its own).
fn cursor_text(import_id: &str, rows: Option<u64>, settling: Option<&Settling>) -> String {
    let rows = rows.map_or_else(|| "-".to_owned(), |r| r.to_string());
    match settling {
        None => format!("{FILE_PHASE}{import_id}/{rows}"),
        Some(s) => format!(
            "{FILE_PHASE}{import_id}/{rows}/{}/{}/{}/{}",
            s.failed, s.ledger, s.line, s.synced
        ),
    }
}

/// Ledger lines read, looked up and written together.
const LEDGER_CHUNK: usize = 500;

/// Cancels HubSpot's import `import_id` of a cancelled job; says so in the log when it cannot
/// (it finished meanwhile: HubSpot refuses to cancel a finished import).
pub async fn cancel_hubspot_import(hubspot: &dyn HubSpotImports, import_id: &str) -> bool {
    match hubspot.cancel(import_id).await {
        Ok(()) => {
            tracing::info!(hubspot_import = import_id, "HubSpot's import is cancelled");
            true
        }
        Err(e) => {
            tracing::warn!(hubspot_import = import_id, error = %e, "cannot cancel HubSpot's import (finished already?)");
            false
        }
    }
}

/// HubSpot as the file path needs it.
#[async_trait]
pub trait HubSpotImports: Send + Sync {
    /// The object's objectTypeId (an import names its columns' object by it).
    async fn object_type_id(
        &self,
        object: &HubSpotObjectRef,
    ) -> Result<Option<String>, RemoteError>;
    /// Every property of the object and its type.
    async fn property_types(
        &self,
        object: &HubSpotObjectRef,
    ) -> Result<HashMap<String, HubSpotPropertyType>, RemoteError>;
    async fn start(&self, spec: &ImportSpec) -> Result<HubSpotImport, RemoteError>;
    async fn state(&self, import_id: &str) -> Result<HubSpotImport, RemoteError>;
    /// Cancels an active import (the rows already written stay in HubSpot).
    async fn cancel(&self, import_id: &str) -> Result<(), RemoteError>;
    async fn errors(
        &self,
        import_id: &str,
        after: Option<&str>,
    ) -> Result<ImportErrorPage, RemoteError>;
}

/// What the file path needs besides the batch importer's ports.
pub struct FileImports {
    pub hubspot: Arc<dyn HubSpotImports>,
    pub index: Arc<dyn RecordIndex>,
    pub log: Arc<dyn SyncLog>,
    /// Where the file and its ledger are written (the data directory; `/tmp` on Lambda).
    pub work_dir: PathBuf,
    /// How often HubSpot is asked about a running import.
    pub poll_every: Duration,
}

impl FileImports {
    /// The file path over these ports, asking HubSpot every [`IMPORT_POLL`].
    pub fn new(
        hubspot: Arc<dyn HubSpotImports>,
        index: Arc<dyn RecordIndex>,
        log: Arc<dyn SyncLog>,
        work_dir: PathBuf,
    ) -> Self {
        Self {
            hubspot,
            index,
            log,
            work_dir,
            poll_every: IMPORT_POLL,
        }
    }
}

/// What building the file found.
#[derive(Debug, Default)]
struct Built {
    rows: u64,
    /// Records sent to the worker instead.
    routed: u64,
    /// Records the index already holds at this state or newer.
    current: u64,
    /// Records the engine refused (failed in the sync log).
    refused: u64,
}

/// One column of the file: the property, and whether its cells are datetimes HubSpot reads as
/// epoch milliseconds (the engine writes ISO-8601, which an import's date format cannot name).
struct Column {
    property: String,
    datetime: bool,
}

impl Importer {
    /// Counts `object`'s records and creates a pending job ([`Importer::start`]) that goes the
    /// way `via` chooses ([`Importer::choose_path`]); the job as stored ([`on_file_path`] says
    /// which way it goes).
    pub async fn start_via(&self, object: &str, via: ImportVia) -> Result<ImportJob, ImportError> {
        let job = self.start(object).await?;
        self.choose_path(&job, via).await?;
        self.reload(&job.id).await
    }

    /// Marks a just-created job to go through the Imports API (or not, for `Batch` and an
    /// `Auto` that chooses batch); returns whether it does. A job that cannot go the way asked
    /// is failed with the reason, so that the imports list says what became of it.
    pub async fn choose_path(&self, job: &ImportJob, via: ImportVia) -> Result<bool, ImportError> {
        let chosen = self.chosen_path(job, via).await;
        if let Err(e) = &chosen {
            let reason = e.to_string();
            self.jobs
                .finish(&job.id, crate::ports::ImportStatus::Failed, Some(&reason))
                .await?;
        }
        chosen
    }

    async fn chosen_path(&self, job: &ImportJob, via: ImportVia) -> Result<bool, ImportError> {
        let mapping = self.mapping_of(job).await?;
        let file = match via {
            ImportVia::Batch => false,
            ImportVia::HubSpotImports => {
                if self.files.is_none() {
                    return Err(ImportError::NoFilePath);
                }
                if job.total.unwrap_or(0) > MAX_ROWS_PER_FILE {
                    return Err(ImportError::TooManyRows {
                        total: job.total.unwrap_or(0),
                    });
                }
                true
            }
            ImportVia::Auto => {
                self.files.is_some()
                    && mapping.associations.is_empty()
                    && (IMPORTS_API_THRESHOLD..=MAX_ROWS_PER_FILE).contains(&job.total.unwrap_or(0))
            }
        };
        if file {
            self.jobs
                .checkpoint(&job.id, FILE_PHASE, ImportCounts::default())
                .await?;
        }
        Ok(file)
    }

    /// Runs a job of the file path until its records are all written or failed, or `deadline`;
    /// `rest` is its cursor after [`FILE_PHASE`].
    pub(super) async fn run_file(
        &self,
        job: &ImportJob,
        mapping: &Mapping,
        rest: &str,
        deadline: Instant,
    ) -> Result<ImportProgress, ImportError> {
        let files = self.files.as_ref().ok_or(ImportError::NoFilePath)?;
        let paths = FilePaths::new(&files.work_dir, &job.id);
        let cursor = if rest.is_empty() {
            match self.send_file(job, mapping, files, &paths).await? {
                Some(cursor) => cursor,
                None => return self.all_sent(&job.id).await,
            }
        } else {
            FileCursor::parse(rest).ok_or_else(|| {
                ImportError::File(format!(
                    "import {}: its cursor `{FILE_PHASE}{rest}` is not one this version reads; \
                     cancel it (`sf2hs import cancel {}`) and start the import again",
                    job.id, job.id
                ))
            })?
        };
        if cursor.settling.is_none()
            && !self
                .await_hubspot(job, files, &paths, &cursor.import_id, deadline)
                .await?
        {
            return Ok(ImportProgress::Paused(self.reload(&job.id).await?));
        }
        if !self
            .settle_file(job, mapping, files, &paths, cursor, deadline)
            .await?
        {
            return Ok(ImportProgress::Paused(self.reload(&job.id).await?));
        }
        paths.remove();
        self.all_sent(&job.id).await
    }

    /// Polls HubSpot's import until it is done (`true`) or `deadline` comes (`false`). A job
    /// cancelled meanwhile cancels HubSpot's import; an import HubSpot ends otherwise fails the
    /// job.
    async fn await_hubspot(
        &self,
        job: &ImportJob,
        files: &FileImports,
        paths: &FilePaths,
        import_id: &str,
        deadline: Instant,
    ) -> Result<bool, ImportError> {
        let state = loop {
            // Cancelled meanwhile (`sf2hs import cancel`, the console): HubSpot's import is
            // cancelled too, so that no more of the file is written behind the operator's back.
            let current = self.reload(&job.id).await?;
            if current.status.is_finished() {
                cancel_hubspot_import(files.hubspot.as_ref(), import_id).await;
                paths.remove();
                return Err(ImportError::Finished {
                    id: current.id,
                    status: current.status.name(),
                });
            }
            let import = files
                .hubspot
                .state(import_id)
                .await
                .map_err(ImportError::HubSpot)?;
            if import.state.is_finished() {
                break import.state;
            }
            if Instant::now() + files.poll_every >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(files.poll_every).await;
        };
        if state == ImportState::Done {
            return Ok(true);
        }
        let reason = format!(
            "HubSpot's import {import_id} ended {}: nothing of it is in the record index; run the \
             import again (`sf2hs import start {} --via batch` writes record by record)",
            state.name(),
            job.salesforce_object
        );
        self.jobs
            .finish(&job.id, crate::ports::ImportStatus::Failed, Some(&reason))
            .await?;
        paths.remove();
        Err(ImportError::HubSpotImportEnded { reason })
    }

    /// Writes the file and sends it; `None` when no record needed it (all went elsewhere).
    async fn send_file(
        &self,
        job: &ImportJob,
        mapping: &Mapping,
        files: &FileImports,
        paths: &FilePaths,
    ) -> Result<Option<FileCursor>, ImportError> {
        let (object_type_id, columns) = self.file_columns(mapping, files).await?;
        let built = self
            .write_file(job, mapping, files, paths, Some(&columns))
            .await?;
        // Every record counts once the file is HubSpot's; settling adds what became of the rows.
        let counts = ImportCounts {
            enqueued: built.rows + built.routed + built.current + built.refused,
            synced: built.current,
            failed: built.refused,
        };
        if built.rows == 0 {
            self.jobs.checkpoint(&job.id, "", counts).await?;
            paths.remove();
            return Ok(None);
        }
        let spec = ImportSpec {
            name: format!("sf2hs {} ({})", job.salesforce_object, job.id),
            object_type_id,
            columns: columns
                .iter()
                .enumerate()
                .map(|(n, c)| ImportColumn {
                    column_name: c.property.clone(),
                    property_name: c.property.clone(),
                    alternate_id: n == 0,
                })
                .collect(),
            file: paths.csv.clone(),
        };
        let import = files
            .hubspot
            .start(&spec)
            .await
            .map_err(ImportError::HubSpot)?;
        tracing::info!(import = %job.id, hubspot_import = %import.id, rows = built.rows, routed = built.routed, "the file went to HubSpot's Imports API");
        // HubSpot has the file; the ledger is all that settling needs.
        let _ = std::fs::remove_file(&paths.csv);
        let cursor = FileCursor {
            import_id: import.id,
            rows: Some(built.rows),
            settling: None,
        };
        self.jobs
            .checkpoint(&job.id, &cursor.format(), counts)
            .await?;
        Ok(Some(cursor))
    }

    /// Pages through the job's records: ledger lines for what the file carries, with the file's
    /// rows in `columns` and the backfill line for what it cannot. Without `columns`, a ledger
    /// rebuilt after a restart: no file, and nothing sent again. The ledger's tag is written
    /// last: a ledger without one (a run that ended while writing it) is never walked.
    async fn write_file(
        &self,
        job: &ImportJob,
        mapping: &Mapping,
        files: &FileImports,
        paths: &FilePaths,
        columns: Option<&[Column]>,
    ) -> Result<Built, ImportError> {
        std::fs::create_dir_all(&paths.dir).map_err(|e| paths.io(&paths.dir, &e))?;
        let _ = std::fs::remove_file(&paths.tag);
        let csv_path = &paths.csv;
        let mut csv = match columns {
            Some(columns) => {
                let file = std::fs::File::create(csv_path).map_err(|e| paths.io(csv_path, &e))?;
                let mut csv = csv::Writer::from_writer(std::io::BufWriter::new(file));
                csv.write_record(columns.iter().map(|c| c.property.as_str()))
                    .map_err(|e| paths.io(csv_path, &e))?;
                Some((csv, columns))
            }
            None => None,
        };
        let mut ledger = std::io::BufWriter::new(
            std::fs::File::create(&paths.ledger).map_err(|e| paths.io(&paths.ledger, &e))?,
        );
        let fields = read_fields(mapping);
        let mut built = Built::default();
        let mut cursor: Option<String> = None;
        let (started, mut reading) = (Instant::now(), Duration::ZERO);
        loop {
            let asked = Instant::now();
            let page = with_retries(|| {
                self.pages.page(
                    &job.salesforce_object,
                    &fields,
                    job.cutoff,
                    cursor.as_deref(),
                )
            })
            .await?;
            reading += asked.elapsed();
            let mut records = Vec::new();
            for snapshot in page.records {
                if let Some((id, modstamp)) = super::record_stamp(&job.id, &snapshot) {
                    records.push((id, modstamp, snapshot_for_mapping(mapping, snapshot)));
                }
            }
            let keys: Vec<RecordKey> = records
                .iter()
                .map(|(id, _, _)| self.key(&job.salesforce_object, id))
                .collect();
            let indexed = files.index.get_many(&keys).await?;
            let mut routed = Vec::new();
            let mut refusals = Vec::new();
            for ((id, modstamp, snapshot), key) in records.into_iter().zip(&keys) {
                let mapped = match map_record(mapping, &id, &snapshot, None) {
                    Ok(mapped) => mapped,
                    Err(errors) => {
                        refusals.push(failure(&job.salesforce_object, &id, errors.to_string()));
                        continue;
                    }
                };
                let entry = indexed.get(key);
                if entry.is_some_and(|e| is_current(e, modstamp, &mapped)) {
                    built.current += 1;
                    continue;
                }
                if needs_worker(&mapped, entry.is_some()) {
                    let kind = ChangeKind::Upsert { fields: snapshot };
                    routed.push(self.import_change(job, id, modstamp, kind));
                    continue;
                }
                if let Some((csv, columns)) = csv.as_mut() {
                    csv.write_record(columns.iter().map(|c| cell(&mapped, c)))
                        .map_err(|e| paths.io(csv_path, &e))?;
                }
                writeln!(
                    ledger,
                    "{},{},{}",
                    id.as_str(),
                    modstamp.to_rfc3339(),
                    mapped.content_hash.as_str()
                )
                .map_err(|e| paths.io(&paths.ledger, &e))?;
                built.rows += 1;
            }
            built.refused += refusals.len() as u64;
            if csv.is_some() {
                files.log.append(&refusals).await?;
                if !routed.is_empty() {
                    self.queue.send_batch(&routed).await?;
                }
            }
            built.routed += routed.len() as u64;
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        if let Some((csv, _)) = csv.as_mut() {
            csv.flush().map_err(|e| paths.io(csv_path, &e))?;
        }
        ledger.flush().map_err(|e| paths.io(&paths.ledger, &e))?;
        let tag = uuid::Uuid::new_v4().simple().to_string();
        std::fs::write(&paths.tag, &tag).map_err(|e| paths.io(&paths.tag, &e))?;
        tracing::info!(import = %job.id, rows = built.rows, seconds = started.elapsed().as_secs_f64(), reading_salesforce = reading.as_secs_f64(), "the import file is written");
        if built.rows > MAX_ROWS_PER_FILE {
            return Err(ImportError::TooManyRows { total: built.rows });
        }
        Ok(built)
    }

    /// After HubSpot's DONE: row errors to the sync log, the other rows to the index, and the
    /// records changed since the cutoff to the worker. Returns `false` when `deadline` came
    /// first: the cursor holds how far it got, and the next run goes on from there.
    async fn settle_file(
        &self,
        job: &ImportJob,
        mapping: &Mapping,
        files: &FileImports,
        paths: &FilePaths,
        cursor: FileCursor,
        deadline: Instant,
    ) -> Result<bool, ImportError> {
        let FileCursor {
            import_id,
            rows,
            settling,
        } = cursor;
        let at = SettleAt {
            job,
            import_id: &import_id,
            rows,
        };
        let failed = self
            .row_errors(job, mapping, files, &import_id, settling.is_none())
            .await?;
        let mut settling = match settling {
            Some(settling) => settling,
            None => {
                let settling = Settling {
                    failed: failed.len() as u64,
                    ledger: String::new(),
                    line: 0,
                    synced: 0,
                };
                let counts = ImportCounts {
                    failed: settling.failed,
                    ..ImportCounts::default()
                };
                self.checkpoint_settling(&at, &settling, counts).await?;
                settling
            }
        };
        let tag = match paths.tag() {
            Some(tag) => tag,
            None => {
                // Sent or settled by a run elsewhere (another Lambda container): the ledger is
                // rebuilt from the same records at the same cutoff, less those the index holds
                // at their state already. What changed since comes in step 4 regardless.
                self.write_file(job, mapping, files, paths, None).await?;
                paths.tag().ok_or_else(|| {
                    ImportError::File(format!("{}: not written", paths.tag.display()))
                })?
            }
        };
        if tag != settling.ledger {
            settling.ledger = tag;
            settling.line = 0;
        }
        let indexing = Instant::now();
        let walked = self
            .index_ledger(files, paths, &failed, &at, &mut settling, deadline)
            .await?;
        tracing::info!(import = %job.id, line = settling.line, synced = settling.synced, seconds = indexing.elapsed().as_secs_f64(), done = walked, "the imported rows are in the record index and the sync log");
        if !walked {
            return Ok(false);
        }
        // Every row is accounted for now: failed, written here, or held by the index at its state
        // or a newer one (settled by an earlier run, or written by the worker). The count is the
        // file's, whichever ledger was walked.
        let rest = rows.map_or(0, |rows| {
            rows.saturating_sub(settling.failed + settling.synced)
        });
        let rereads = self.reread_changed_since_cutoff(job).await?;
        tracing::info!(import = %job.id, hubspot_import = %import_id, synced = settling.synced + rest, failed = settling.failed, rereads, "HubSpot's import is settled");
        self.jobs
            .checkpoint(
                &job.id,
                "",
                ImportCounts {
                    enqueued: rereads,
                    synced: rest,
                    failed: 0,
                },
            )
            .await?;
        Ok(true)
    }

    /// Checkpoints the job at `settling`, adding `counts`.
    async fn checkpoint_settling(
        &self,
        at: &SettleAt<'_>,
        settling: &Settling,
        counts: ImportCounts,
    ) -> Result<(), ImportError> {
        let text = cursor_text(at.import_id, at.rows, Some(settling));
        Ok(self.jobs.checkpoint(&at.job.id, &text, counts).await?)
    }

    /// The records of the import's row errors. When `record` (the first settling run), each
    /// page's errors are written to the sync log as they come, one failure per record and page
    /// (all its errors there in one reason).
    async fn row_errors(
        &self,
        job: &ImportJob,
        mapping: &Mapping,
        files: &FileImports,
        import_id: &str,
        record: bool,
    ) -> Result<HashSet<SalesforceId>, ImportError> {
        // Only the ids are kept across pages: a million refused rows would otherwise hold a
        // million reasons in a 512 MB Lambda. A record whose errors span two pages gets two
        // failure entries.
        let mut failed = HashSet::new();
        let mut after: Option<String> = None;
        loop {
            let page = files
                .hubspot
                .errors(import_id, after.as_deref())
                .await
                .map_err(ImportError::HubSpot)?;
            let mut by_record: Vec<(SalesforceId, Vec<String>)> = Vec::new();
            for error in &page.errors {
                // The first column is the record's id (the alternate id).
                let Some(id) = error.row.first().and_then(|c| SalesforceId::parse(c).ok()) else {
                    tracing::warn!(import = %job.id, hubspot_import = import_id, error = ?error, "a HubSpot import error names no record");
                    continue;
                };
                let reason = row_error_text(error, mapping, import_id);
                match by_record.iter_mut().find(|(known, _)| *known == id) {
                    Some((_, reasons)) => reasons.push(reason),
                    None => by_record.push((id, vec![reason])),
                }
            }
            if record {
                let entries: Vec<SyncLogEntry> = by_record
                    .iter()
                    .map(|(id, reasons)| {
                        failure(
                            &job.salesforce_object,
                            id,
                            format!("HubSpot refused the record {}", reasons.join("; ")),
                        )
                    })
                    .collect();
                files.log.append(&entries).await?;
            }
            failed.extend(by_record.into_iter().map(|(id, _)| id));
            match page.next {
                Some(next) if !page.errors.is_empty() => after = Some(next),
                _ => break,
            }
        }
        Ok(failed)
    }

    /// Walks the ledger from the cursor's line: the index entry and a synced entry of every row
    /// HubSpot took, unless the index holds it at that state or a newer one already. Returns
    /// `false` when `deadline` came first (the cursor is checkpointed at a chunk's end).
    /// Conditional, as the worker's writes: an entry written meanwhile by a newer state stays.
    async fn index_ledger(
        &self,
        files: &FileImports,
        paths: &FilePaths,
        failed: &HashSet<SalesforceId>,
        at: &SettleAt<'_>,
        settling: &mut Settling,
        deadline: Instant,
    ) -> Result<bool, ImportError> {
        let job = at.job;
        let reader = std::io::BufReader::new(
            std::fs::File::open(&paths.ledger).map_err(|e| paths.io(&paths.ledger, &e))?,
        );
        let mut lines = reader.lines();
        for line in lines.by_ref().take(settling.line as usize) {
            line.map_err(|e| paths.io(&paths.ledger, &e))?;
        }
        // Counted in the job at each checkpoint (every 20 chunks, and where the walk stops).
        let mut uncounted = 0;
        let mut chunks = 0u32;
        loop {
            let mut chunk = Vec::with_capacity(LEDGER_CHUNK);
            let mut read = 0;
            for line in lines.by_ref().take(LEDGER_CHUNK) {
                read += 1;
                let line = line.map_err(|e| paths.io(&paths.ledger, &e))?;
                let row = LedgerRow::parse(&line).ok_or_else(|| {
                    ImportError::File(format!(
                        "{}: a line is not `id,modstamp,hash`: {line:?}",
                        paths.ledger.display()
                    ))
                })?;
                if !failed.contains(&row.id) {
                    chunk.push(row);
                }
            }
            if read == 0 {
                break;
            }
            let keys: Vec<RecordKey> = chunk
                .iter()
                .map(|row| self.key(&job.salesforce_object, &row.id))
                .collect();
            // An entry of the same state keeps the HubSpot id the worker learnt (the import's
            // answer names no record ids).
            let known = files.index.get_many(&keys).await?;
            let mut written = Vec::new();
            let entries: Vec<(RecordKey, IndexEntry)> = chunk
                .iter()
                .zip(keys)
                .filter_map(|(row, key)| {
                    let held = known.get(&key);
                    if held.is_some_and(|e| row.is_held_by(e)) {
                        return None;
                    }
                    let hubspot_id = held
                        .filter(|e| e.modstamp == row.modstamp)
                        .and_then(|e| e.hubspot_id.clone());
                    written.push(row);
                    let entry = IndexEntry {
                        hubspot_id,
                        modstamp: row.modstamp,
                        content_hash: row.hash.clone(),
                        deleted: false,
                        write_id: 0,
                    };
                    Some((key, entry))
                })
                .collect();
            // A `Stale` answer: a live change was written meanwhile, and step 4 re-reads it.
            files.index.put_many_if_newer(&entries).await?;
            let now = Utc::now();
            let entries: Vec<SyncLogEntry> = written
                .iter()
                .map(|row| SyncLogEntry {
                    at: now,
                    salesforce_object: job.salesforce_object.clone(),
                    record_id: row.id.clone(),
                    outcome: SyncOutcome::Synced,
                    reason: None,
                    hubspot_id: None,
                })
                .collect();
            files.log.append(&entries).await?;
            // Never past the file's rows: a ledger walked again from its start (rebuilt in
            // another container) counts its rows once more.
            let walked = chunk.len() as u64;
            let add = at.rows.map_or(walked, |rows| {
                walked.min(rows.saturating_sub(settling.failed + settling.synced))
            });
            settling.synced += add;
            settling.line += read as u64;
            uncounted += add;
            chunks += 1;
            // A chunk the index held already does not end a run: after a change of ledger the
            // walk skips through what is done, so every run writes something while rows remain.
            let stop = !written.is_empty() && Instant::now() >= deadline;
            if stop || chunks.is_multiple_of(20) {
                let counts = ImportCounts {
                    synced: std::mem::take(&mut uncounted),
                    ..ImportCounts::default()
                };
                self.checkpoint_settling(at, settling, counts).await?;
            }
            if stop {
                return Ok(false);
            }
        }
        let counts = ImportCounts {
            synced: uncounted,
            ..ImportCounts::default()
        };
        self.checkpoint_settling(at, settling, counts).await?;
        Ok(true)
    }

    /// Sends every record changed or deleted after the cutoff to the worker to be read and
    /// written as it is now (counted in the job like its other records); returns how many. A
    /// deleted one matters as much as a changed one: the file's row may have brought it back
    /// to HubSpot after the worker archived it, and the worker's read finds it gone and
    /// archives it again.
    async fn reread_changed_since_cutoff(&self, job: &ImportJob) -> Result<u64, ImportError> {
        // Salesforce's clock may run ahead of ours: an hour's reach past now.
        let until = Utc::now() + chrono::TimeDelta::hours(1);
        let since = job.cutoff + chrono::TimeDelta::milliseconds(1);
        let object = job.salesforce_object.as_str();
        let mut sent = 0;
        for deleted in [false, true] {
            let mut cursor: Option<String> = None;
            loop {
                let page = with_retries(|| async {
                    if deleted {
                        self.pages
                            .deleted_page(object, since, until, cursor.as_deref())
                            .await
                    } else {
                        self.pages
                            .window_page(object, &[], since, until, cursor.as_deref())
                            .await
                    }
                })
                .await?;
                sent += self.reread(job, &page.records).await?;
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        Ok(sent)
    }

    /// Sends `records` (by their `Id`) to the worker as requested re-reads of the job.
    async fn reread(
        &self,
        job: &ImportJob,
        records: &[crate::domain::FieldSnapshot],
    ) -> Result<u64, ImportError> {
        let ids: Vec<SalesforceId> = records
            .iter()
            .filter_map(|r| r.get("Id").and_then(serde_json::Value::as_str))
            .filter_map(|id| SalesforceId::parse(id).ok())
            .collect();
        // Counted in the job, so that it completes only once they are written too.
        let mut changes =
            crate::health::resync_changes(&self.org_id, &job.salesforce_object, &ids, Utc::now());
        for change in &mut changes {
            change.source = ChangeSource::Import {
                job_id: job.id.clone(),
            };
        }
        if !changes.is_empty() {
            self.queue.send_batch(&changes).await?;
        }
        Ok(changes.len() as u64)
    }

    /// The HubSpot object's objectTypeId and the file's columns, checked against its properties.
    async fn file_columns(
        &self,
        mapping: &Mapping,
        files: &FileImports,
    ) -> Result<(String, Vec<Column>), ImportError> {
        let object_type_id = self.object_type_id(mapping, files).await?;
        let types = files
            .hubspot
            .property_types(&HubSpotObjectRef::ObjectTypeId(object_type_id.clone()))
            .await
            .map_err(ImportError::HubSpot)?;
        Ok((object_type_id, columns(mapping, &types)?))
    }

    /// The HubSpot object's objectTypeId: the mapping's resolved one, else resolved now (API
    /// paths refuse a custom object's name, platform-behaviours.md H1).
    async fn object_type_id(
        &self,
        mapping: &Mapping,
        files: &FileImports,
    ) -> Result<String, ImportError> {
        if let Some(resolved) = &mapping.resolved {
            return Ok(resolved.object_type_id.clone());
        }
        files
            .hubspot
            .object_type_id(&mapping.hubspot_object)
            .await
            .map_err(ImportError::HubSpot)?
            .ok_or_else(|| {
                ImportError::Mapping(format!(
                    "HubSpot has no object `{}`: create it with `sf2hs schema ensure`",
                    mapping.hubspot_object
                ))
            })
    }

    fn key(&self, object: &str, id: &SalesforceId) -> RecordKey {
        RecordKey {
            object: object.to_owned(),
            record_id: id.clone(),
        }
    }
}

/// Salesforce's answers that say "try again" (a timeout, a 5xx) are tried again a few times
/// before the run stops: a settle that fails at its last step would repeat the others.
async fn with_retries<T, F, Fut>(mut call: F) -> Result<T, RemoteError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, RemoteError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match call().await {
            Err(RemoteError::Retryable { reason, after }) if attempt < 5 => {
                let wait = after.unwrap_or(Duration::from_secs(1 << attempt));
                tracing::warn!(%reason, attempt, "Salesforce asks to try again; waiting {wait:?}");
                tokio::time::sleep(wait).await;
            }
            other => return other,
        }
    }
}

/// The file's columns: the id property first (the alternate id), then each mapped property
/// once, in mapping order. Every one must exist in HubSpot, or the import would be refused whole.
fn columns(
    mapping: &Mapping,
    types: &HashMap<String, HubSpotPropertyType>,
) -> Result<Vec<Column>, ImportError> {
    let mut columns = Vec::new();
    for name in column_names(mapping) {
        let Some(kind) = types.get(name) else {
            return Err(ImportError::Mapping(format!(
                "HubSpot object `{}` has no property `{name}`: create it (`sf2hs schema ensure`) \
                 or fix the mapping",
                mapping.hubspot_object
            )));
        };
        columns.push(Column {
            property: name.to_owned(),
            datetime: *kind == HubSpotPropertyType::Datetime,
        });
    }
    Ok(columns)
}

/// One cell: the mapped value, empty when the snapshot lacked the field; datetimes as epoch ms.
fn cell(mapped: &MappedRecord, column: &Column) -> String {
    let value = mapped
        .properties
        .get(&column.property)
        .cloned()
        .unwrap_or_default();
    if column.datetime
        && !value.is_empty()
        && let Ok(at) = DateTime::parse_from_rfc3339(&value)
    {
        return at.timestamp_millis().to_string();
    }
    value
}

/// The index holds this record at this state (written by the worker, which knows its HubSpot id)
/// or at a newer one: nothing to write.
fn is_current(entry: &IndexEntry, modstamp: DateTime<Utc>, mapped: &MappedRecord) -> bool {
    holds_state(entry, modstamp, mapped.content_hash.as_str())
        && (entry.modstamp > modstamp || entry.hubspot_id.is_some())
}

/// The index entry is of this state (same stamp and content, not deleted) or of a newer one.
fn holds_state(entry: &IndexEntry, modstamp: DateTime<Utc>, hash: &str) -> bool {
    entry.modstamp > modstamp
        || (entry.modstamp == modstamp && !entry.deleted && entry.content_hash == hash)
}

/// A record the file cannot carry: one with lookups (the worker writes associations), or one
/// HubSpot may already hold with a value this state clears (an import's empty cell clears
/// nothing).
fn needs_worker(mapped: &MappedRecord, indexed: bool) -> bool {
    !mapped.associations.is_empty()
        || (indexed
            && (!mapped.cleared_associations.is_empty()
                || mapped.properties.values().any(String::is_empty)))
}

fn failure(object: &str, id: &SalesforceId, reason: String) -> SyncLogEntry {
    SyncLogEntry {
        at: Utc::now(),
        salesforce_object: object.to_owned(),
        record_id: id.clone(),
        outcome: SyncOutcome::Failed,
        reason: Some(reason),
        hubspot_id: None,
    }
}

/// `(ERROR_TYPE, property `name`): message (HubSpot import 42, line 7)`, read by the health
/// view as a HubSpot refusal with HubSpot's category.
fn row_error_text(error: &ImportRowError, mapping: &Mapping, import_id: &str) -> String {
    let property = error
        .column
        .and_then(|c| column_property(mapping, c))
        .map(|p| format!(", property `{p}`"))
        .unwrap_or_default();
    let message = error
        .message
        .clone()
        .or_else(|| error.invalid_value.as_ref().map(|v| format!("value {v:?}")))
        .unwrap_or_else(|| "no message".to_owned());
    let line = error
        .line
        .map(|l| format!(", line {l}"))
        .unwrap_or_default();
    format!(
        "({}{property}): {message} (HubSpot import {import_id}{line}; fix the value in Salesforce \
         or the property's options in HubSpot, then resync the record)",
        error.error_type
    )
}

/// The file's properties in column order: the id property, then each mapped one once.
fn column_names(mapping: &Mapping) -> impl Iterator<Item = &str> {
    let mut seen = HashSet::new();
    std::iter::once(mapping.id_property.as_str())
        .chain(mapping.fields.iter().map(|f| f.hubspot_property.as_str()))
        .filter(move |name| seen.insert(*name))
}

/// The property of the file's column `index`.
fn column_property(mapping: &Mapping, index: usize) -> Option<String> {
    column_names(mapping).nth(index).map(str::to_owned)
}

/// One ledger line: `id,modstamp,hash`.
struct LedgerRow {
    id: SalesforceId,
    modstamp: DateTime<Utc>,
    hash: String,
}

impl LedgerRow {
    fn parse(line: &str) -> Option<Self> {
        let mut parts = line.splitn(3, ',');
        let id = SalesforceId::parse(parts.next()?).ok()?;
        let modstamp = DateTime::parse_from_rfc3339(parts.next()?)
            .ok()?
            .with_timezone(&Utc);
        let hash = parts.next()?.to_owned();
        Some(Self { id, modstamp, hash })
    }

    /// The index holds this row's state or a newer one: written by an earlier run (its HubSpot
    /// id unknown, so [`is_current`] would not say so) or by the worker.
    fn is_held_by(&self, entry: &IndexEntry) -> bool {
        holds_state(entry, self.modstamp, &self.hash)
    }
}

/// Where one job's file and ledger are written.
struct FilePaths {
    dir: PathBuf,
    csv: PathBuf,
    ledger: PathBuf,
    /// The ledger's tag, written once the ledger is whole.
    tag: PathBuf,
}

impl FilePaths {
    fn new(work_dir: &Path, job_id: &str) -> Self {
        let dir = work_dir.join("hubspot-imports");
        Self {
            csv: dir.join(format!("{job_id}.csv")),
            ledger: dir.join(format!("{job_id}.ledger")),
            tag: dir.join(format!("{job_id}.ledger.tag")),
            dir,
        }
    }

    /// The tag of a whole ledger here; `None` when there is none.
    fn tag(&self) -> Option<String> {
        let tag = std::fs::read_to_string(&self.tag).ok()?;
        let tag = tag.trim();
        (!tag.is_empty() && self.ledger.exists()).then(|| tag.to_owned())
    }

    fn io(&self, path: &Path, error: &dyn std::fmt::Display) -> ImportError {
        ImportError::File(format!("{}: {error}", path.display()))
    }

    /// Once settled (or ended) the files serve nothing.
    fn remove(&self) {
        let _ = std::fs::remove_file(&self.csv);
        let _ = std::fs::remove_file(&self.ledger);
        let _ = std::fs::remove_file(&self.tag);
    }
}

#[async_trait]
impl HubSpotImports for crate::hubspot::HubSpotClient {
    async fn object_type_id(
        &self,
        object: &HubSpotObjectRef,
    ) -> Result<Option<String>, RemoteError> {
        Ok(self.resolve_object_type_id(object).await?)
    }

    async fn property_types(
        &self,
        object: &HubSpotObjectRef,
    ) -> Result<HashMap<String, HubSpotPropertyType>, RemoteError> {
        Ok(self
            .list_properties(object)
            .await?
            .into_iter()
            .map(|p| (p.name, p.property_type))
            .collect())
    }

    async fn start(&self, spec: &ImportSpec) -> Result<HubSpotImport, RemoteError> {
        Ok(self.start_import(spec).await?)
    }

    async fn state(&self, import_id: &str) -> Result<HubSpotImport, RemoteError> {
        Ok(self.import_state(import_id).await?)
    }

    async fn cancel(&self, import_id: &str) -> Result<(), RemoteError> {
        Ok(self.cancel_import(import_id).await?)
    }

    async fn errors(
        &self,
        import_id: &str,
        after: Option<&str>,
    ) -> Result<ImportErrorPage, RemoteError> {
        Ok(self.import_errors(import_id, after).await?)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::engine::ContentHash;

    fn id(n: u32) -> SalesforceId {
        SalesforceId::parse(&format!("a0I00000000{n:04}")).expect("id")
    }

    fn mapped(properties: &[(&str, &str)], lookups: bool) -> MappedRecord {
        let properties: BTreeMap<String, String> = properties
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let associations = if lookups {
            vec![crate::engine::AssociationRef {
                salesforce_field: "Project__c".into(),
                target: crate::mapping::AssociationTarget::MappedObject {
                    salesforce_object: "Project__c".into(),
                },
                target_record_id: id(9),
                association_type_id: None,
            }]
        } else {
            Vec::new()
        };
        MappedRecord {
            record_id: id(1),
            content_hash: ContentHash::of(&properties, &associations, &[]),
            properties,
            associations,
            cleared_associations: Vec::new(),
        }
    }

    #[test]
    fn datetimes_become_epoch_milliseconds_and_other_cells_stay_as_mapped() {
        let record = mapped(
            &[
                ("closed_at", "2024-01-31T12:00:00.000Z"),
                ("note", "2024-01-31T12:00:00.000Z"),
            ],
            false,
        );
        let datetime = Column {
            property: "closed_at".into(),
            datetime: true,
        };
        let text = Column {
            property: "note".into(),
            datetime: false,
        };
        let absent = Column {
            property: "amount".into(),
            datetime: false,
        };
        assert_eq!(cell(&record, &datetime), "1706702400000");
        assert_eq!(cell(&record, &text), "2024-01-31T12:00:00.000Z");
        assert_eq!(cell(&record, &absent), "");
    }

    #[test]
    fn lookups_and_cleared_values_of_known_records_go_to_the_worker() {
        assert!(needs_worker(&mapped(&[("a", "1")], true), false));
        assert!(
            !needs_worker(&mapped(&[("a", "")], false), false),
            "new: nothing to clear"
        );
        assert!(
            needs_worker(&mapped(&[("a", "")], false), true),
            "known: an empty cell would not clear"
        );
        assert!(!needs_worker(&mapped(&[("a", "1")], false), true));
    }

    #[test]
    fn only_the_same_state_written_by_the_worker_or_a_newer_one_is_current() {
        let record = mapped(&[("a", "1")], false);
        let at = Utc::now();
        let entry = |modstamp, hubspot_id: Option<&str>, hash: &str| IndexEntry {
            hubspot_id: hubspot_id.map(str::to_owned),
            modstamp,
            content_hash: hash.to_owned(),
            deleted: false,
            write_id: 1,
        };
        let hash = record.content_hash.as_str();
        assert!(is_current(
            &entry(at + chrono::TimeDelta::seconds(1), None, ""),
            at,
            &record
        ));
        assert!(is_current(&entry(at, Some("7"), hash), at, &record));
        assert!(
            !is_current(&entry(at, None, hash), at, &record),
            "not known to be in HubSpot"
        );
        assert!(!is_current(&entry(at, Some("7"), "other"), at, &record));
        assert!(!is_current(
            &entry(at - chrono::TimeDelta::seconds(1), Some("7"), hash),
            at,
            &record
        ));
    }

    #[test]
    fn the_columns_put_the_id_first_once_and_name_a_missing_property() {
        let field = |sf: &str, hs: &str| crate::mapping::FieldMapping {
            salesforce_field: sf.to_owned(),
            hubspot_property: hs.to_owned(),
            conversion: Default::default(),
        };
        let mapping = Mapping {
            salesforce_object: "Invoice__c".into(),
            hubspot_object: HubSpotObjectRef::parse("2-1"),
            id_property: "salesforce_id".into(),
            fields: vec![
                field("Amount__c", "amount"),
                field("Id", "salesforce_id"),
                field("CloseDate__c", "closed_at"),
            ],
            associations: Vec::new(),
            on_delete: crate::mapping::DeleteRule::Archive,
            status: crate::mapping::MappingStatus::Active,
            allow_unsupported_standard_object: false,
            resolved: None,
        };
        let mut types: HashMap<String, HubSpotPropertyType> = [
            ("salesforce_id", HubSpotPropertyType::String),
            ("amount", HubSpotPropertyType::Number),
            ("closed_at", HubSpotPropertyType::Datetime),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let names: Vec<(String, bool)> = columns(&mapping, &types)
            .expect("columns")
            .into_iter()
            .map(|c| (c.property, c.datetime))
            .collect();
        assert_eq!(
            names,
            [
                ("salesforce_id".to_owned(), false),
                ("amount".to_owned(), false),
                ("closed_at".to_owned(), true)
            ]
        );
        assert_eq!(column_property(&mapping, 2).as_deref(), Some("closed_at"));
        types.remove("amount");
        let refused = columns(&mapping, &types)
            .err()
            .expect("refused")
            .to_string();
        assert!(refused.contains("no property `amount`"), "{refused}");
    }

    #[test]
    fn a_file_cursor_reads_back_what_was_written_and_names_its_import() {
        let sent = FileCursor {
            import_id: "4711".into(),
            rows: Some(2_940),
            settling: None,
        };
        let settling = FileCursor {
            settling: Some(Settling {
                failed: 40,
                ledger: "9f0c".into(),
                line: 1_500,
                synced: 1_460,
            }),
            ..sent.clone()
        };
        let legacy = FileCursor {
            rows: None,
            ..settling.clone()
        };
        for cursor in [&sent, &settling, &legacy] {
            let text = cursor.format();
            let rest = text.strip_prefix(FILE_PHASE).expect("prefix");
            assert_eq!(FileCursor::parse(rest).as_ref(), Some(cursor), "{text}");
            let job = ImportJob {
                id: "j".into(),
                salesforce_object: "Invoice__c".into(),
                status: crate::ports::ImportStatus::Running,
                total: None,
                enqueued: 0,
                synced: 0,
                failed: 0,
                cursor: Some(text.clone()),
                cutoff: Utc::now(),
                created_at: Utc::now(),
                updated_at: Utc::now(),
                finished_at: None,
                error: None,
                since: None,
            };
            assert_eq!(hubspot_import_of(&job), Some("4711"), "{text}");
        }
        // A cursor of the version before: the import id alone.
        assert_eq!(
            FileCursor::parse("4711"),
            Some(FileCursor { rows: None, ..sent })
        );
        assert_eq!(FileCursor::parse("4711/x"), None);
        assert_eq!(FileCursor::parse("4711/3/1/t/2"), None);
    }

    #[test]
    fn a_ledger_row_is_held_by_its_own_state_or_a_newer_one() {
        let at = Utc::now();
        let row = LedgerRow {
            id: id(1),
            modstamp: at,
            hash: "h".into(),
        };
        let entry = |modstamp, hash: &str, deleted| IndexEntry {
            hubspot_id: None,
            modstamp,
            content_hash: hash.to_owned(),
            deleted,
            write_id: 0,
        };
        assert!(row.is_held_by(&entry(at, "h", false)));
        assert!(row.is_held_by(&entry(at + chrono::TimeDelta::seconds(1), "x", true)));
        assert!(!row.is_held_by(&entry(at, "x", false)));
        assert!(!row.is_held_by(&entry(at, "h", true)));
        assert!(!row.is_held_by(&entry(at - chrono::TimeDelta::seconds(1), "h", false)));
    }

    #[test]
    fn a_ledger_line_reads_back_what_was_written() {
        let at = DateTime::parse_from_rfc3339("2024-05-01T10:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let line = format!("{},{},{}", id(3).as_str(), at.to_rfc3339(), "abc");
        let row = LedgerRow::parse(&line).expect("parsed");
        assert_eq!(
            (row.id, row.modstamp, row.hash.as_str()),
            (id(3), at, "abc")
        );
        assert!(LedgerRow::parse("not a line").is_none());
    }
}
