//! The store and queue the commands work on: the embedded SQLite store in the data directory.

use std::path::Path;

use sf2hs_shared::embedded::{
    EmbeddedStore, SqliteChangeQueue, SqliteImportJobs, SqliteMappingStore, SqliteRecordIndex,
    SqliteSyncLog,
};

use crate::output::CliError;

/// The file inside the data directory.
pub const STORE_FILE: &str = "sf2hs.db";

pub struct Backend {
    pub mappings: SqliteMappingStore,
    pub index: SqliteRecordIndex,
    pub jobs: SqliteImportJobs,
    pub log: SqliteSyncLog,
    pub queue: SqliteChangeQueue,
    /// The database file, for messages.
    pub location: String,
}

impl Backend {
    pub fn open(data_dir: &Path, max_receives: u32) -> Result<Self, CliError> {
        std::fs::create_dir_all(data_dir).map_err(|e| CliError::DataDir {
            path: data_dir.display().to_string(),
            reason: e.to_string(),
        })?;
        let store = EmbeddedStore::open(data_dir.join(STORE_FILE))?;
        Ok(Backend {
            mappings: store.mapping_store(),
            index: store.record_index(),
            jobs: store.import_jobs(),
            log: store.sync_log(),
            queue: store.change_queue(max_receives),
            location: store.location().to_owned(),
        })
    }
}
