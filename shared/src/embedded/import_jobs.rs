//! Import jobs: one row per backfill, counters updated in place by single statements.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{EmbeddedStore, SqlContext, from_nanos, immediate, to_i64, to_nanos, to_u64};
use crate::ports::{ImportCounts, ImportJob, ImportJobs, ImportStatus, PortError, PortResult};

/// [`ImportJobs`] on the embedded SQLite database. Job ids are random UUIDs.
#[derive(Debug, Clone)]
pub struct SqliteImportJobs {
    store: EmbeddedStore,
}

impl SqliteImportJobs {
    pub fn new(store: EmbeddedStore) -> Self {
        SqliteImportJobs { store }
    }

    /// A new job: pending, or running when it is a re-sync (`since`).
    async fn insert_new(
        &self,
        salesforce_object: &str,
        total: Option<u64>,
        cutoff: DateTime<Utc>,
        since: Option<DateTime<Utc>>,
    ) -> PortResult<ImportJob> {
        let status = if since.is_some() {
            ImportStatus::Running
        } else {
            ImportStatus::Pending
        };
        let object = salesforce_object.to_owned();
        let id = uuid::Uuid::new_v4().to_string();
        let total = total.map(|t| to_i64(t, "total")).transpose()?;
        let cutoff = to_nanos(cutoff, "cutoff")?;
        let since = since.map(|s| to_nanos(s, "since")).transpose()?;
        self.store
            .call("creating an import job", move |connection| {
                let now = now_nanos()?;
                connection
                    .execute(
                        "INSERT INTO import_jobs (id, salesforce_object, status, total, cutoff,
                                                  since, created_at, updated_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                        params![id, object, status.name(), total, cutoff, since, now],
                    )
                    .context(&what(&id))?;
                read(connection, &id)?.ok_or_else(|| PortError::NotFound { what: what(&id) })
            })
            .await
    }
}

const COLUMNS: &str = "id, salesforce_object, status, total, enqueued, synced, failed, cursor, \
                       cutoff, created_at, updated_at, finished_at, error, since";

fn what(id: &str) -> String {
    format!("import job {id}")
}

/// The raw row, decoded outside rusqlite's closure so that errors can name the job.
struct JobRow {
    id: String,
    salesforce_object: String,
    status: String,
    total: Option<i64>,
    enqueued: i64,
    synced: i64,
    failed: i64,
    cursor: Option<String>,
    cutoff: i64,
    created_at: i64,
    updated_at: i64,
    finished_at: Option<i64>,
    error: Option<String>,
    since: Option<i64>,
}

impl JobRow {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(JobRow {
            id: row.get(0)?,
            salesforce_object: row.get(1)?,
            status: row.get(2)?,
            total: row.get(3)?,
            enqueued: row.get(4)?,
            synced: row.get(5)?,
            failed: row.get(6)?,
            cursor: row.get(7)?,
            cutoff: row.get(8)?,
            created_at: row.get(9)?,
            updated_at: row.get(10)?,
            finished_at: row.get(11)?,
            error: row.get(12)?,
            since: row.get(13)?,
        })
    }

    fn decode(self) -> PortResult<ImportJob> {
        let what = what(&self.id);
        let status = ImportStatus::from_name(&self.status).ok_or_else(|| PortError::Corrupt {
            what: format!("{what} (row import_jobs/{})", self.id),
            reason: format!("unknown status `{}`", self.status),
        })?;
        Ok(ImportJob {
            salesforce_object: self.salesforce_object,
            status,
            total: self.total.map(|t| to_u64(t, &what)).transpose()?,
            enqueued: to_u64(self.enqueued, &what)?,
            synced: to_u64(self.synced, &what)?,
            failed: to_u64(self.failed, &what)?,
            cursor: self.cursor,
            cutoff: from_nanos(self.cutoff),
            created_at: from_nanos(self.created_at),
            updated_at: from_nanos(self.updated_at),
            finished_at: self.finished_at.map(from_nanos),
            error: self.error,
            since: self.since.map(from_nanos),
            id: self.id,
        })
    }
}

fn read(connection: &Connection, id: &str) -> PortResult<Option<ImportJob>> {
    connection
        .query_row(
            &format!("SELECT {COLUMNS} FROM import_jobs WHERE id = ?1"),
            [id],
            JobRow::from_row,
        )
        .optional()
        .context(&what(id))?
        .map(JobRow::decode)
        .transpose()
}

fn now_nanos() -> PortResult<i64> {
    to_nanos(Utc::now(), "the clock")
}

/// The counts as SQL integers.
fn count_params(id: &str, counts: ImportCounts) -> PortResult<[i64; 3]> {
    let what = what(id);
    Ok([
        to_i64(counts.enqueued, &what)?,
        to_i64(counts.synced, &what)?,
        to_i64(counts.failed, &what)?,
    ])
}

#[async_trait]
impl ImportJobs for SqliteImportJobs {
    async fn create(
        &self,
        salesforce_object: &str,
        total: Option<u64>,
        cutoff: DateTime<Utc>,
    ) -> PortResult<ImportJob> {
        self.insert_new(salesforce_object, total, cutoff, None)
            .await
    }

    async fn create_resync(
        &self,
        salesforce_object: &str,
        since: DateTime<Utc>,
        cutoff: DateTime<Utc>,
    ) -> PortResult<ImportJob> {
        self.insert_new(salesforce_object, None, cutoff, Some(since))
            .await
    }

    async fn get(&self, id: &str) -> PortResult<Option<ImportJob>> {
        let id = id.to_owned();
        self.store
            .call("reading an import job", move |connection| {
                read(connection, &id)
            })
            .await
    }

    async fn list(&self) -> PortResult<Vec<ImportJob>> {
        self.store
            .call("listing import jobs", |connection| {
                let context = "listing import jobs";
                let mut statement = connection
                    .prepare(&format!(
                        "SELECT {COLUMNS} FROM import_jobs ORDER BY created_at DESC, seq DESC"
                    ))
                    .context(context)?;
                let rows = statement.query_map([], JobRow::from_row).context(context)?;
                let mut jobs = Vec::new();
                for row in rows {
                    jobs.push(row.context(context)?.decode()?);
                }
                Ok(jobs)
            })
            .await
    }

    async fn start(&self, id: &str) -> PortResult<ImportJob> {
        let id = id.to_owned();
        self.store
            .call("starting an import job", move |connection| {
                let tx = immediate(connection, &what(&id))?;
                let job = read(&tx, &id)?.ok_or_else(|| PortError::NotFound { what: what(&id) })?;
                match job.status {
                    ImportStatus::Running => return Ok(job),
                    ImportStatus::Pending => {}
                    finished => {
                        return Err(PortError::invalid(format!(
                            "{} is {} and cannot be started again; create a new import",
                            what(&id),
                            finished.name()
                        )));
                    }
                }
                tx.execute(
                    "UPDATE import_jobs SET status = ?2, updated_at = ?3 WHERE id = ?1",
                    params![id, ImportStatus::Running.name(), now_nanos()?],
                )
                .context(&what(&id))?;
                let job = read(&tx, &id)?.ok_or_else(|| PortError::NotFound { what: what(&id) })?;
                tx.commit().context(&what(&id))?;
                Ok(job)
            })
            .await
    }

    async fn checkpoint(&self, id: &str, cursor: &str, counts: ImportCounts) -> PortResult<()> {
        let id = id.to_owned();
        let cursor = cursor.to_owned();
        let [enqueued, synced, failed] = count_params(&id, counts)?;
        self.store
            .call("checkpointing an import job", move |connection| {
                // One statement, so the cursor and the counts of its page commit together.
                let updated = connection
                    .execute(
                        "UPDATE import_jobs SET cursor = ?2, enqueued = enqueued + ?3,
                             synced = synced + ?4, failed = failed + ?5, updated_at = ?6
                         WHERE id = ?1",
                        params![id, cursor, enqueued, synced, failed, now_nanos()?],
                    )
                    .context(&what(&id))?;
                if updated == 0 {
                    return Err(PortError::NotFound { what: what(&id) });
                }
                Ok(())
            })
            .await
    }

    async fn add_counts(&self, id: &str, counts: ImportCounts) -> PortResult<()> {
        let id = id.to_owned();
        let [enqueued, synced, failed] = count_params(&id, counts)?;
        self.store
            .call("counting an import job", move |connection| {
                // Increments in SQL, not read-modify-write, so concurrent reports add up.
                let updated = connection
                    .execute(
                        "UPDATE import_jobs SET enqueued = enqueued + ?2,
                             synced = synced + ?3, failed = failed + ?4, updated_at = ?5
                         WHERE id = ?1",
                        params![id, enqueued, synced, failed, now_nanos()?],
                    )
                    .context(&what(&id))?;
                if updated == 0 {
                    return Err(PortError::NotFound { what: what(&id) });
                }
                Ok(())
            })
            .await
    }

    async fn finish(&self, id: &str, status: ImportStatus, error: Option<&str>) -> PortResult<()> {
        if !status.is_finished() {
            return Err(PortError::invalid(format!(
                "{} cannot finish as {}: a job finishes completed, failed or cancelled",
                what(id),
                status.name()
            )));
        }
        let id = id.to_owned();
        let error = error.map(str::to_owned);
        self.store
            .call("finishing an import job", move |connection| {
                let now = now_nanos()?;
                let updated = connection
                    .execute(
                        "UPDATE import_jobs SET status = ?2, error = ?3, finished_at = ?4,
                             updated_at = ?4
                         WHERE id = ?1",
                        params![id, status.name(), error, now],
                    )
                    .context(&what(&id))?;
                if updated == 0 {
                    return Err(PortError::NotFound { what: what(&id) });
                }
                Ok(())
            })
            .await
    }
}
