//! Embedded adapters on SQLite: the store and queue of a one-machine install, and of the tests.
//!
//! One [`EmbeddedStore`] is one SQLite file (or an in-memory database) holding every port's
//! tables. It hands out one adapter per port; they share its connection, so a process opens the
//! file once and every worker task goes through the same connection.
//!
//! Concurrency: the connection sits behind a `std::sync::Mutex` and every call runs on
//! `tokio::task::spawn_blocking`, so SQLite never blocks the async runtime and calls of one
//! process are serialised. Writes that read first run in `BEGIN IMMEDIATE` transactions, which
//! take SQLite's write lock up front: another process on the same file (the CLI next to a
//! running worker) then waits on `busy_timeout` instead of failing half-way with a deadlock.

mod change_queue;
mod import_jobs;
mod mapping_store;
mod processes;
mod record_index;
mod secrets;
mod sync_log;

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, ErrorCode, Transaction, TransactionBehavior};

pub use change_queue::{Lane, SqliteChangeQueue};
pub use import_jobs::SqliteImportJobs;
pub use mapping_store::SqliteMappingStore;
pub use processes::{HEARTBEAT_EVERY, ProcessInfo, ProcessRole, Reclaimed, STALE_AFTER};
pub use record_index::SqliteRecordIndex;
pub use secrets::LocalSecrets;
pub use sync_log::{DEFAULT_SYNC_LOG_RETENTION, SqliteSyncLog};

use crate::ports::{PortError, PortResult};

/// The name adapters give in `PortError::Unavailable`.
const BACKEND: &str = "the embedded SQLite store";

/// How long a call waits for another process's write lock before reporting `Unavailable`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Schema migrations, applied in order; `PRAGMA user_version` records how many have run.
/// Never edit a released entry: append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: every port's tables.
    "
    CREATE TABLE mappings (
        salesforce_object TEXT PRIMARY KEY NOT NULL,
        body              TEXT NOT NULL,
        version           INTEGER NOT NULL,
        updated_at        INTEGER NOT NULL
    );

    CREATE TABLE record_index (
        object       TEXT NOT NULL,
        record_id    TEXT NOT NULL,
        hubspot_id   TEXT,
        modstamp     INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        deleted      INTEGER NOT NULL,
        PRIMARY KEY (object, record_id)
    ) WITHOUT ROWID;

    CREATE TABLE import_jobs (
        seq               INTEGER PRIMARY KEY AUTOINCREMENT,
        id                TEXT NOT NULL UNIQUE,
        salesforce_object TEXT NOT NULL,
        status            TEXT NOT NULL,
        total             INTEGER,
        enqueued          INTEGER NOT NULL DEFAULT 0,
        synced            INTEGER NOT NULL DEFAULT 0,
        failed            INTEGER NOT NULL DEFAULT 0,
        cursor            TEXT,
        cutoff            INTEGER NOT NULL,
        created_at        INTEGER NOT NULL,
        updated_at        INTEGER NOT NULL,
        finished_at       INTEGER,
        error             TEXT
    );
    CREATE INDEX import_jobs_by_creation ON import_jobs (created_at, seq);

    CREATE TABLE sync_log (
        seq               INTEGER PRIMARY KEY AUTOINCREMENT,
        at                INTEGER NOT NULL,
        salesforce_object TEXT NOT NULL,
        record_id         TEXT NOT NULL,
        outcome           TEXT NOT NULL,
        reason            TEXT,
        hubspot_id        TEXT
    );
    CREATE INDEX sync_log_by_time ON sync_log (at);
    CREATE INDEX sync_log_by_object ON sync_log (salesforce_object, at);
    CREATE INDEX sync_log_by_record ON sync_log (record_id, at);

    CREATE TABLE queue_messages (
        seq           INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id    TEXT NOT NULL UNIQUE,
        body          TEXT NOT NULL,
        visible_at_ms INTEGER NOT NULL,
        receipt       TEXT UNIQUE,
        receive_count INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX queue_messages_by_visibility ON queue_messages (visible_at_ms, seq);

    CREATE TABLE dead_letters (
        seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id          TEXT NOT NULL UNIQUE,
        body                TEXT NOT NULL,
        reason              TEXT NOT NULL,
        receive_count       INTEGER NOT NULL,
        dead_lettered_at_ms INTEGER NOT NULL
    );
    ",
    // 2: the record index tells each write from the next (`IndexEntry::write_id`).
    "ALTER TABLE record_index ADD COLUMN write_id INTEGER NOT NULL DEFAULT 0;",
    // 3: re-syncs Salesforce asks for (a CDC gap overflow): the window's start.
    "ALTER TABLE import_jobs ADD COLUMN since INTEGER;",
    // 4: the association targets sf2hs may have written, per record and lookup field, so a
    // moved lookup removes only its own (platform-behaviours.md H3; `RecordIndex::add_links`).
    "
    CREATE TABLE record_links (
        object    TEXT NOT NULL,
        record_id TEXT NOT NULL,
        field     TEXT NOT NULL,
        target    TEXT NOT NULL,
        token     INTEGER NOT NULL,
        PRIMARY KEY (object, record_id, field, target)
    ) WITHOUT ROWID;
    ",
    // 5: records waiting for their lookup's target to be written (`RecordIndex::wait_for`).
    "
    CREATE TABLE waiting_links (
        target_object TEXT NOT NULL,
        target_id     TEXT NOT NULL,
        waiter_object TEXT NOT NULL,
        waiter_id     TEXT NOT NULL,
        since_ms      INTEGER NOT NULL,
        PRIMARY KEY (target_object, target_id, waiter_object, waiter_id)
    ) WITHOUT ROWID;
    ",
    // 6: the backfill line of the queue, behind live changes (`Lane`), and who holds each
    // message in flight, with the processes that may hold them (`processes.rs`): a starting
    // process takes back at once what a dead one held.
    "
    ALTER TABLE queue_messages ADD COLUMN lane INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE queue_messages ADD COLUMN holder TEXT;
    CREATE INDEX queue_messages_by_lane ON queue_messages (lane, seq);
    CREATE INDEX queue_messages_by_holder ON queue_messages (holder) WHERE holder IS NOT NULL;
    CREATE TABLE processes (
        owner        TEXT PRIMARY KEY,
        role         TEXT NOT NULL,
        pid          INTEGER NOT NULL,
        host         TEXT NOT NULL,
        started_ms   INTEGER NOT NULL,
        heartbeat_ms INTEGER NOT NULL
    );
    ",
];

/// One SQLite database holding every embedded port. Cheap to clone: clones share the connection.
#[derive(Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

struct Inner {
    connection: Mutex<Connection>,
    /// The file path, or `:memory:`, for error messages.
    location: String,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("location", &self.inner.location)
            .finish()
    }
}

impl EmbeddedStore {
    /// Opens (creating if needed) the database file at `path` and brings its schema up to date.
    ///
    /// Durability: WAL journal with `synchronous=FULL`. A commit returns only after the WAL has
    /// been fsynced, so a change the queue acknowledged survives a process crash *and* a power
    /// loss or OS crash. (`NORMAL` would survive a process crash only; ingest acknowledges
    /// Salesforce after `send_batch`, and Salesforce does not resend what it saw acknowledged, so
    /// the extra fsync per commit is the price of "nothing acknowledged is lost". Batches keep
    /// the number of commits low.)
    pub fn open(path: impl AsRef<Path>) -> PortResult<Self> {
        let path = path.as_ref();
        let location = path.display().to_string();
        let connection =
            Connection::open(path).map_err(|e| sql_error(&format!("opening {location}"), e))?;
        owner_only(path, 0o600).map_err(|e| PortError::Unavailable {
            backend: BACKEND,
            reason: format!("cannot make {location} readable by its owner only: {e}"),
        })?;
        Self::configure(connection, location, true)
    }

    /// A private database in memory: gone when the last clone is dropped. For tests.
    pub fn open_in_memory() -> PortResult<Self> {
        let connection =
            Connection::open_in_memory().map_err(|e| sql_error("opening an in-memory db", e))?;
        Self::configure(connection, ":memory:".to_owned(), false)
    }

    fn configure(mut connection: Connection, location: String, on_disk: bool) -> PortResult<Self> {
        let context = format!("configuring {location}");
        connection
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| sql_error(&context, e))?;
        if on_disk {
            let mode: String = connection
                .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
                .map_err(|e| sql_error(&context, e))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(PortError::Unavailable {
                    backend: BACKEND,
                    reason: format!(
                        "{location} cannot use the WAL journal (got `{mode}`); is it on a \
                         network file system?"
                    ),
                });
            }
        }
        connection
            .pragma_update(None, "synchronous", "FULL")
            .map_err(|e| sql_error(&context, e))?;
        migrate(&mut connection, &location)?;
        Ok(EmbeddedStore {
            inner: Arc::new(Inner {
                connection: Mutex::new(connection),
                location,
            }),
        })
    }

    /// Where the database lives (a path, or `:memory:`).
    pub fn location(&self) -> &str {
        &self.inner.location
    }

    pub fn mapping_store(&self) -> SqliteMappingStore {
        SqliteMappingStore::new(self.clone())
    }

    pub fn record_index(&self) -> SqliteRecordIndex {
        SqliteRecordIndex::new(self.clone())
    }

    pub fn import_jobs(&self) -> SqliteImportJobs {
        SqliteImportJobs::new(self.clone())
    }

    /// The sync log with the default retention ([`DEFAULT_SYNC_LOG_RETENTION`]).
    pub fn sync_log(&self) -> SqliteSyncLog {
        SqliteSyncLog::new(self.clone(), DEFAULT_SYNC_LOG_RETENTION)
    }

    /// The change queue; a message received more than `max_receives` times is dead-lettered.
    pub fn change_queue(&self, max_receives: u32) -> SqliteChangeQueue {
        SqliteChangeQueue::new(self.clone(), max_receives)
    }

    /// Runs `work` on the connection on a blocking thread.
    async fn call<T, F>(&self, operation: &'static str, work: F) -> PortResult<T>
    where
        F: FnOnce(&mut Connection) -> PortResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock leaves no half-done write: an open `Transaction`
            // rolls back when dropped during unwinding. So a poisoned lock is safe to reuse.
            let mut connection = inner
                .connection
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            work(&mut connection)
        })
        .await
        .map_err(|e| PortError::Unavailable {
            backend: BACKEND,
            reason: format!("{operation} did not complete: {e}"),
        })?
    }
}

fn migrate(connection: &mut Connection, location: &str) -> PortResult<()> {
    let context = format!("migrating the schema of {location}");
    let tx = immediate(connection, &context)?;
    let current: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|e| sql_error(&context, e))?;
    let known = MIGRATIONS.len();
    let applied = usize::try_from(current).unwrap_or(usize::MAX);
    if applied > known {
        return Err(PortError::invalid(format!(
            "{location} has schema version {current}, newer than this sf2hs knows ({known}); \
             upgrade sf2hs or use another file"
        )));
    }
    for sql in &MIGRATIONS[applied..] {
        tx.execute_batch(sql).map_err(|e| sql_error(&context, e))?;
    }
    tx.pragma_update(
        None,
        "user_version",
        to_i64(known as u64, "schema version")?,
    )
    .map_err(|e| sql_error(&context, e))?;
    tx.commit().map_err(|e| sql_error(&context, e))
}

/// Starts a transaction that takes the write lock at once. A deferred transaction that reads,
/// then writes, can fail with `SQLITE_BUSY` at the write when another process wrote in between
/// (the busy handler cannot help there); taking the lock first makes it wait instead.
fn immediate<'c>(connection: &'c mut Connection, context: &str) -> PortResult<Transaction<'c>> {
    connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| sql_error(context, e))
}

/// Maps a SQLite error to what a caller can do about it.
fn sql_error(context: &str, error: rusqlite::Error) -> PortError {
    use rusqlite::Error as E;
    match &error {
        E::FromSqlConversionFailure(..)
        | E::InvalidColumnType(..)
        | E::IntegralValueOutOfRange(..)
        | E::Utf8Error(..) => PortError::Corrupt {
            what: context.to_owned(),
            reason: error.to_string(),
        },
        _ => match error.sqlite_error_code() {
            Some(
                ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::SystemIoFailure
                | ErrorCode::DiskFull
                | ErrorCode::CannotOpen
                | ErrorCode::OutOfMemory
                | ErrorCode::FileLockingProtocolFailed,
            ) => PortError::Unavailable {
                backend: BACKEND,
                reason: format!("{context}: {error}"),
            },
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => PortError::Corrupt {
                what: context.to_owned(),
                reason: error.to_string(),
            },
            _ => PortError::invalid_because(format!("SQLite refused {context}: {error}"), error),
        },
    }
}

/// Extension to turn rusqlite results into port results with a context.
trait SqlContext<T> {
    fn context(self, context: &str) -> PortResult<T>;
}

impl<T> SqlContext<T> for rusqlite::Result<T> {
    fn context(self, context: &str) -> PortResult<T> {
        self.map_err(|e| sql_error(context, e))
    }
}

/// Timestamps given by callers are stored as nanoseconds since the epoch, so that what is read
/// back equals what was written (years 1677 to 2262).
fn to_nanos(at: DateTime<Utc>, what: &str) -> PortResult<i64> {
    at.timestamp_nanos_opt().ok_or_else(|| {
        PortError::invalid(format!(
            "{what} {at} is outside the storable range (years 1677 to 2262)"
        ))
    })
}

fn from_nanos(nanos: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(nanos)
}

fn to_i64(value: u64, what: &str) -> PortResult<i64> {
    i64::try_from(value).map_err(|_| PortError::invalid(format!("{what} {value} is too large")))
}

fn to_u64(value: i64, what: &str) -> PortResult<u64> {
    u64::try_from(value).map_err(|_| PortError::Corrupt {
        what: what.to_owned(),
        reason: format!("negative count {value}"),
    })
}

/// Converts a `limit` to SQL; `usize::MAX` and other huge values mean "no limit" to SQLite.
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// Sets `path`'s mode (Unix): the store holds record data, dead letters and failure reasons with
/// field values, which other users of the machine must not read. SQLite gives its `-wal` and
/// `-shm` files the database's mode.
pub fn owner_only(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_schema_is_created_once_and_reopening_keeps_the_version() {
        let dir = std::env::temp_dir().join(format!("sf2hs-embedded-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("store.db");
        let store = EmbeddedStore::open(&path).unwrap();
        drop(store);
        let store = EmbeddedStore::open(&path).unwrap();
        let version: i64 = store
            .inner
            .connection
            .lock()
            .unwrap()
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_first_version_file_gets_write_ids_and_keeps_its_index() {
        use crate::domain::{RecordKey, SalesforceId};
        use crate::ports::{IndexWrite, RecordIndex};
        let dir = std::env::temp_dir().join(format!("sf2hs-embedded-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("store.db");
        {
            let connection = Connection::open(&path).unwrap();
            connection.execute_batch(MIGRATIONS[0]).unwrap();
            connection.pragma_update(None, "user_version", 1).unwrap();
            connection
                .execute(
                    "INSERT INTO record_index VALUES ('Invoice__c', 'a0Iak000000003zEAA', '7', 5, 'h', 0)",
                    [],
                )
                .unwrap();
        }
        let index = EmbeddedStore::open(&path).unwrap().record_index();
        let key = RecordKey {
            object: "Invoice__c".into(),
            record_id: SalesforceId::parse("a0Iak000000003zEAA").unwrap(),
        };
        let old = index.get(&key).await.unwrap().unwrap();
        assert_eq!((old.hubspot_id.as_deref(), old.write_id), (Some("7"), 0));
        let refreshed = index.put_if_newer(&key, &old).await.unwrap();
        assert_eq!(refreshed, IndexWrite::Refreshed { previous_write: 0 });
        assert_ne!(index.get(&key).await.unwrap().unwrap().write_id, 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn embedded_refuses_a_newer_schema() {
        let dir = std::env::temp_dir().join(format!("sf2hs-embedded-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("store.db");
        {
            let connection = Connection::open(&path).unwrap();
            connection.pragma_update(None, "user_version", 99).unwrap();
        }
        let err = EmbeddedStore::open(&path).unwrap_err();
        assert!(err.to_string().contains("schema version 99"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn embedded_corrupt_rows_are_reported_with_their_row() {
        use crate::ports::{ChangeQueue, MappingStore};
        let store = EmbeddedStore::open_in_memory().unwrap();
        {
            let connection = store.inner.connection.lock().unwrap();
            connection
                .execute(
                    "INSERT INTO mappings VALUES ('Invoice__c', 'not json', 1, 0)",
                    [],
                )
                .unwrap();
            connection
                .execute(
                    "INSERT INTO queue_messages (message_id, body, visible_at_ms)
                     VALUES ('m-1', '{\"truncated', 0)",
                    [],
                )
                .unwrap();
        }
        let err = store.mapping_store().get("Invoice__c").await.unwrap_err();
        assert!(matches!(err, PortError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("mappings/Invoice__c"), "{err}");
        let err = store
            .change_queue(5)
            .receive(10, Duration::from_secs(30))
            .await
            .unwrap_err();
        assert!(matches!(err, PortError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("queue_messages/m-1"), "{err}");
    }

    #[test]
    fn embedded_busy_maps_to_unavailable() {
        let err = sql_error(
            "test",
            rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                None,
            ),
        );
        assert!(err.is_retryable(), "{err}");
    }
}
