//! Backfill: import the existing records of one mapped object through the same worker path.
//!
//! `start` counts the records for the operator to review and creates a pending job whose cutoff
//! is the object's newest `SystemModstamp` (Salesforce's clock): live changes after it carry
//! newer ones, so the record index lets them win over imported states. `run` pages through the records, sends each page as changes tagged with
//! the job id, and checkpoints after every page (cursor and counts in one write), stopping when
//! the caller's deadline nears so a continuation can resume exactly where it stopped.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use chrono::Utc;
use serde_json::Value;

use crate::domain::{Change, ChangeKind, ChangeSource, SalesforceId};
use crate::mapping::{Mapping, read_fields, snapshot_for_mapping};
use crate::ports::{
    ChangeQueue, ImportCounts, ImportJob, ImportJobs, ImportStatus, MappingStore, PortError,
    PortResult, RecordPages, RemoteError,
};
use crate::salesforce::intake::outbound::parse_salesforce_datetime;

mod file;

pub use file::{
    FILE_PHASE, FileImports, HubSpotImports, IMPORT_POLL, IMPORTS_API_THRESHOLD, ImportVia,
    MAX_ROWS_PER_FILE, cancel_hubspot_import, hubspot_import_of, on_file_path,
};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("no stored mapping for `{0}`: apply one first (`sf2hs mappings apply FILE`)")]
    NoMapping(String),
    #[error("no import `{0}`")]
    NoJob(String),
    #[error("import {id} is {status}; only a pending or running import can run")]
    Finished { id: String, status: &'static str },
    #[error(transparent)]
    Store(#[from] PortError),
    #[error("Salesforce: {0}")]
    Salesforce(#[from] RemoteError),
    #[error("HubSpot: {0}")]
    HubSpot(RemoteError),
    #[error(
        "this import cannot go through HubSpot's Imports API here: it needs the HubSpot client \
         and a work directory (the local CLI has both); use `--via batch`"
    )]
    NoFilePath,
    #[error(
        "{total} records are more than one HubSpot import file takes (1,048,576 rows, the header \
         among them): import with `--via batch`"
    )]
    TooManyRows { total: u64 },
    #[error("{reason}")]
    HubSpotImportEnded { reason: String },
    #[error("the mapping cannot be imported as a file: {0}")]
    Mapping(String),
    #[error("the import file: {0} (check the work directory's space and permissions)")]
    File(String),
}

/// Where `run` stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportProgress {
    /// Every page was sent; the job is completed once the worker has synced them.
    AllSent(ImportJob),
    /// The deadline came first; run again (a continuation) to go on from the checkpoint.
    Paused(ImportJob),
    /// Salesforce refused further calls for now (the API-allowance guard, a rejected session):
    /// the job stays running at its checkpoint; run it again after [`STOPPED_WAIT`]. The guard
    /// lets a probe through once its reading is old, so the run resumes when the rolling
    /// allowance has room (platform-behaviours.md S7).
    Waiting { job: ImportJob, reason: String },
}

/// The cursor prefix of a re-sync's second phase (the deletes in its window).
const DELETES_PHASE: &str = "deleted:";

/// How long an import stopped by Salesforce waits before it runs again.
pub const STOPPED_WAIT: std::time::Duration = std::time::Duration::from_secs(300);

/// How a paused import gets its next run: on AWS a message on the import queue that invokes
/// the import function again; locally the caller simply runs it again.
#[async_trait]
pub trait ImportContinuation: Send + Sync {
    /// Runs the job again no sooner than `wait` from now (at most SQS's 15 minutes on AWS).
    async fn continue_after(&self, job_id: &str, wait: std::time::Duration) -> PortResult<()>;

    async fn continue_later(&self, job_id: &str) -> PortResult<()> {
        self.continue_after(job_id, std::time::Duration::ZERO).await
    }
}

/// Completes `job_id` when its last page went out and every enqueued record has been synced or
/// has failed. Both the importer (after its last page) and the worker (after counting) call it:
/// whichever writes last sees both facts.
pub async fn complete_if_settled(
    jobs: &dyn ImportJobs,
    job_id: &str,
) -> Result<Option<ImportJob>, ImportError> {
    let job = jobs
        .get(job_id)
        .await?
        .ok_or_else(|| ImportError::NoJob(job_id.to_owned()))?;
    let all_sent = job.cursor.as_deref() == Some("");
    if job.status == ImportStatus::Running && all_sent && job.synced + job.failed >= job.enqueued {
        jobs.finish(job_id, ImportStatus::Completed, None).await?;
        return Ok(jobs.get(job_id).await?);
    }
    Ok(None)
}

/// Cancels job `job_id` (pending or running): no further page is sent (a run looks before each
/// page); changes already on the queue are written. A finished job is refused with what it is.
pub async fn cancel(jobs: &dyn ImportJobs, job_id: &str) -> Result<ImportJob, ImportError> {
    let job = jobs
        .get(job_id)
        .await?
        .ok_or_else(|| ImportError::NoJob(job_id.to_owned()))?;
    if job.status.is_finished() {
        return Err(ImportError::Finished {
            id: job.id,
            status: job.status.name(),
        });
    }
    jobs.finish(
        job_id,
        ImportStatus::Cancelled,
        Some("cancelled by the operator"),
    )
    .await?;
    jobs.get(job_id)
        .await?
        .ok_or_else(|| ImportError::NoJob(job_id.to_owned()))
}

pub struct Importer {
    pub mappings: Arc<dyn MappingStore>,
    pub jobs: Arc<dyn ImportJobs>,
    /// The backfill queue: a line of its own, so a large import never delays live changes.
    pub queue: Arc<dyn ChangeQueue>,
    pub pages: Arc<dyn RecordPages>,
    pub org_id: SalesforceId,
    /// The Imports-API path (`--via imports`); `None` where it is not available.
    pub files: Option<FileImports>,
}

impl Importer {
    /// Counts the records and creates a pending job for the operator to confirm.
    pub async fn start(&self, object: &str) -> Result<ImportJob, ImportError> {
        if self.mappings.get(object).await?.is_none() {
            return Err(ImportError::NoMapping(object.to_owned()));
        }
        // Salesforce's clock, not ours: records stamped after the newest one now are changes
        // the live intake brings, and a skew between the clocks must not drop any of the rest.
        // An object without records has nothing to miss, so our clock will do.
        let cutoff = self
            .pages
            .newest_modstamp(object)
            .await?
            .unwrap_or_else(Utc::now);
        let total = self.pages.count(object, cutoff).await?;
        Ok(self.jobs.create(object, Some(total), cutoff).await?)
    }

    /// Sends pages until done or until `deadline`; safe to call again after a crash: it resumes
    /// at the last checkpoint (at worst one page is sent twice, and upserts are idempotent).
    pub async fn run(
        &self,
        job_id: &str,
        deadline: Instant,
    ) -> Result<ImportProgress, ImportError> {
        let job = self
            .jobs
            .get(job_id)
            .await?
            .ok_or_else(|| ImportError::NoJob(job_id.to_owned()))?;
        if job.status.is_finished() {
            return Err(ImportError::Finished {
                id: job.id,
                status: job.status.name(),
            });
        }
        let mapping = self.mapping_of(&job).await?;
        self.jobs.start(job_id).await?;
        if let Some(import_id) = job
            .cursor
            .as_deref()
            .and_then(|c| c.strip_prefix(FILE_PHASE))
        {
            return match self.run_file(&job, &mapping, import_id, deadline).await {
                // Not failed: the job resumes from its checkpoint, as a batch import does.
                Err(ImportError::Salesforce(RemoteError::Stop { reason })) => {
                    tracing::warn!(import = job_id, %reason, "Salesforce stops the import for now; it waits and resumes");
                    Ok(ImportProgress::Waiting {
                        job: self.reload(job_id).await?,
                        reason,
                    })
                }
                other => other,
            };
        }
        let fields = read_fields(&mapping);
        let mut cursor = job.cursor.clone();
        // A finished cursor is stored as "" so a resumed run knows the last page went out.
        if cursor.as_deref() == Some("") {
            return self.all_sent(job_id).await;
        }
        loop {
            if Instant::now() >= deadline {
                return Ok(ImportProgress::Paused(self.reload(job_id).await?));
            }
            // Cancelled meanwhile (`sf2hs import cancel`, the console): no further page goes out;
            // what is on the queue already is written.
            let current = self.reload(job_id).await?;
            if current.status.is_finished() {
                return Err(ImportError::Finished {
                    id: current.id,
                    status: current.status.name(),
                });
            }
            // A re-sync's second phase: the records deleted in its window.
            let deletes = cursor
                .as_deref()
                .and_then(|c| c.strip_prefix(DELETES_PHASE))
                .map(|rest| (!rest.is_empty()).then_some(rest));
            let object = &job.salesforce_object;
            let read = match (deletes, job.since) {
                (Some(after), Some(since)) => {
                    self.pages
                        .deleted_page(object, since, job.cutoff, after)
                        .await
                }
                (_, Some(since)) => {
                    self.pages
                        .window_page(object, &fields, since, job.cutoff, cursor.as_deref())
                        .await
                }
                (_, None) => {
                    self.pages
                        .page(object, &fields, job.cutoff, cursor.as_deref())
                        .await
                }
            };
            let page = match read {
                Ok(page) => page,
                // Not failed: nothing is wrong with the job, and it resumes from its checkpoint.
                Err(RemoteError::Stop { reason }) => {
                    tracing::warn!(import = job_id, %reason, "Salesforce stops the import for now; it waits and resumes");
                    let job = self.reload(job_id).await?;
                    return Ok(ImportProgress::Waiting { job, reason });
                }
                Err(e) => return Err(e.into()),
            };
            let changes: Vec<Change> = page
                .records
                .into_iter()
                .filter_map(|fields| self.change(&job, &mapping, fields, deletes.is_some()))
                .collect();
            if !changes.is_empty() {
                self.queue.send_batch(&changes).await?;
            }
            // "" once every page went out; a re-sync reads its window's deletes after its live
            // records.
            let next = match (&page.next_cursor, deletes.is_some(), job.since.is_some()) {
                (Some(next), true, _) => format!("{DELETES_PHASE}{next}"),
                (Some(next), false, _) => next.clone(),
                (None, false, true) => DELETES_PHASE.to_owned(),
                (None, _, _) => String::new(),
            };
            self.jobs
                .checkpoint(
                    job_id,
                    &next,
                    ImportCounts {
                        enqueued: changes.len() as u64,
                        synced: 0,
                        failed: 0,
                    },
                )
                .await?;
            if next.is_empty() {
                return self.all_sent(job_id).await;
            }
            cursor = Some(next);
        }
    }

    /// Completes a job whose every enqueued record has been synced or has failed.
    pub async fn complete_if_done(&self, job_id: &str) -> Result<Option<ImportJob>, ImportError> {
        complete_if_settled(self.jobs.as_ref(), job_id).await
    }

    async fn all_sent(&self, job_id: &str) -> Result<ImportProgress, ImportError> {
        let job = match self.complete_if_done(job_id).await? {
            Some(completed) => completed,
            None => self.reload(job_id).await?,
        };
        Ok(ImportProgress::AllSent(job))
    }

    /// The stored mapping of `job`'s object.
    async fn mapping_of(&self, job: &ImportJob) -> Result<Mapping, ImportError> {
        Ok(self
            .mappings
            .get(&job.salesforce_object)
            .await?
            .ok_or_else(|| ImportError::NoMapping(job.salesforce_object.clone()))?
            .mapping)
    }

    async fn reload(&self, job_id: &str) -> Result<ImportJob, ImportError> {
        self.jobs
            .get(job_id)
            .await?
            .ok_or_else(|| ImportError::NoJob(job_id.to_owned()))
    }

    /// A record of the page as a change (a delete, from the recycle bin); one without a usable
    /// id or stamp is skipped with a warning (Salesforce always sends both, so this means the
    /// adapter is wrong).
    fn change(
        &self,
        job: &ImportJob,
        mapping: &Mapping,
        fields: crate::domain::FieldSnapshot,
        deleted: bool,
    ) -> Option<Change> {
        let (record_id, modstamp) = record_stamp(&job.id, &fields)?;
        let kind = if deleted {
            ChangeKind::Delete
        } else {
            ChangeKind::Upsert {
                fields: snapshot_for_mapping(mapping, fields),
            }
        };
        Some(self.import_change(job, record_id, modstamp, kind))
    }

    /// A change of `job`'s object, tagged with the job so that the worker counts it there.
    fn import_change(
        &self,
        job: &ImportJob,
        record_id: SalesforceId,
        modstamp: chrono::DateTime<Utc>,
        kind: ChangeKind,
    ) -> Change {
        Change {
            org_id: self.org_id.clone(),
            object: job.salesforce_object.clone(),
            record_id,
            kind,
            modstamp: Some(modstamp),
            source: ChangeSource::Import {
                job_id: job.id.clone(),
            },
            received_at: Utc::now(),
            prior_deliveries: 0,
        }
    }
}

/// A page record's `Id` and `SystemModstamp`; `None`, with a warning, for one without a usable
/// id or stamp (Salesforce always sends both, so this means the adapter is wrong).
fn record_stamp(
    job_id: &str,
    fields: &crate::domain::FieldSnapshot,
) -> Option<(SalesforceId, chrono::DateTime<Utc>)> {
    let id = fields
        .get("Id")
        .and_then(Value::as_str)
        .and_then(|id| SalesforceId::parse(id).ok());
    let modstamp = fields
        .get("SystemModstamp")
        .and_then(Value::as_str)
        .and_then(parse_salesforce_datetime);
    match (id, modstamp) {
        (Some(id), Some(modstamp)) => Some((id, modstamp)),
        _ => {
            tracing::warn!(
                import = job_id,
                "a backfill record without Id or SystemModstamp was skipped"
            );
            None
        }
    }
}

/// How far past its start (or the event's arrival) a re-sync's window reaches: changes after it
/// came with their own events.
const RESYNC_REACH: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// Re-syncs as import jobs: created running, in the store, before the event is acknowledged; on
/// AWS also handed to the import function through its queue (`continuation`), locally run by
/// `sf2hs serve`'s re-sync runner.
pub struct ResyncJobs {
    pub jobs: Arc<dyn ImportJobs>,
    pub continuation: Option<Arc<dyn ImportContinuation>>,
}

#[async_trait]
impl crate::ingest::ResyncRequests for ResyncJobs {
    async fn request(
        &self,
        request: &crate::salesforce::intake::cdc::ResyncRequest,
        received_at: chrono::DateTime<Utc>,
    ) -> crate::ports::PortResult<ImportJob> {
        // Without the event's commit time, the hour before it arrived.
        let since = request.since.unwrap_or(received_at - RESYNC_REACH);
        let cutoff = since.max(received_at) + RESYNC_REACH;
        let job = self
            .jobs
            .create_resync(&request.object, since, cutoff)
            .await?;
        if let Some(continuation) = &self.continuation {
            continuation.continue_later(&job.id).await?;
        }
        Ok(job)
    }
}
