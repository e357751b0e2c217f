//! The store and queues the commands work on: the embedded SQLite store in the data directory
//! (the default), or a deployed stack's DynamoDB table and SQS queues (`--backend aws`, with the
//! `aws` feature).

use std::path::Path;
use std::sync::Arc;

use sf2hs_shared::embedded::EmbeddedStore;
use sf2hs_shared::ports::{ChangeQueue, ImportJobs, MappingStore, RecordIndex, SyncLog};

use crate::output::CliError;

/// The file inside the data directory.
pub const STORE_FILE: &str = "sf2hs.db";

/// Which store the commands use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendKind {
    /// SQLite in the data directory.
    Embedded,
    /// A deployed stack's DynamoDB table and SQS queues.
    Aws,
}

/// A change queue and what to call it in messages.
#[derive(Clone)]
pub struct NamedQueue {
    pub name: String,
    pub queue: Arc<dyn ChangeQueue>,
}

/// How imports are started: in this process, or by the deployed import function.
pub enum Imports {
    Local,
    #[cfg(feature = "aws")]
    Aws(crate::aws::AwsImports),
}

pub struct Backend {
    pub kind: BackendKind,
    pub mappings: Arc<dyn MappingStore>,
    pub index: Arc<dyn RecordIndex>,
    pub jobs: Arc<dyn ImportJobs>,
    pub log: Arc<dyn SyncLog>,
    /// Where live changes go; the local pipeline's only queue.
    pub queue: Arc<dyn ChangeQueue>,
    /// Every queue, live first (on AWS also the backfill queue): status and dead letters.
    pub queues: Vec<NamedQueue>,
    pub imports: Imports,
    /// The database file or the table, for messages.
    pub location: String,
}

impl Backend {
    /// The embedded store in `data_dir` (created when missing).
    pub fn open(data_dir: &Path, max_receives: u32) -> Result<Self, CliError> {
        let created = !data_dir.exists();
        std::fs::create_dir_all(data_dir).map_err(|e| CliError::DataDir {
            path: data_dir.display().to_string(),
            reason: e.to_string(),
        })?;
        // A directory sf2hs makes is its owner's only; one given that exists is left as it is.
        if created {
            sf2hs_shared::embedded::owner_only(data_dir, 0o700).map_err(|e| CliError::DataDir {
                path: data_dir.display().to_string(),
                reason: e.to_string(),
            })?;
        }
        let store = EmbeddedStore::open(data_dir.join(STORE_FILE))?;
        let queue: Arc<dyn ChangeQueue> = Arc::new(store.change_queue(max_receives));
        Ok(Backend {
            kind: BackendKind::Embedded,
            mappings: Arc::new(store.mapping_store()),
            index: Arc::new(store.record_index()),
            jobs: Arc::new(store.import_jobs()),
            log: Arc::new(store.sync_log()),
            queues: vec![NamedQueue {
                name: "queue".into(),
                queue: queue.clone(),
            }],
            queue,
            imports: Imports::Local,
            location: store.location().to_owned(),
        })
    }

    /// Refuses commands that run the pipeline in this process when the backend is AWS, where
    /// the Lambdas are the pipeline.
    pub fn require_embedded(&self, command: &str) -> Result<(), CliError> {
        match self.kind {
            BackendKind::Embedded => Ok(()),
            BackendKind::Aws => Err(CliError::Setup(format!(
                "`sf2hs {command}` runs the pipeline in this process on the embedded store; on \
                 the aws backend the deployed functions are the pipeline (drop --backend aws, \
                 or see docs/deploy.md)"
            ))),
        }
    }
}
