//! The store and queues the commands work on: the embedded SQLite store in the data directory
//! (the default), or a deployed stack's DynamoDB table and SQS queues (`--backend aws`, with the
//! `aws` feature).

use std::path::Path;
use std::sync::Arc;

use sf2hs_shared::embedded::{EmbeddedStore, Lane, ProcessInfo, ProcessRole};
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
    /// Where live changes go (locally also where workers receive from: live first, then
    /// backfill).
    pub queue: Arc<dyn ChangeQueue>,
    /// Where imported records go: on AWS the backfill queue, locally the queue's backfill line,
    /// which waits behind live changes.
    pub backfill: Arc<dyn ChangeQueue>,
    /// The embedded store itself, for the processes working on it (`None` on AWS).
    pub embedded: Option<EmbeddedStore>,
    pub(crate) max_receives: u32,
    /// Every queue, live first (on AWS also the backfill queue): status and dead letters.
    pub queues: Vec<NamedQueue>,
    pub imports: Imports,
    /// The database file or the table, for messages.
    pub location: String,
    /// The data directory (embedded): where an import through HubSpot's Imports API writes its
    /// file. `None` on AWS.
    pub work_dir: Option<std::path::PathBuf>,
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
        let backfill: Arc<dyn ChangeQueue> =
            Arc::new(store.change_queue(max_receives).in_lane(Lane::Backfill));
        Ok(Backend {
            backfill,
            embedded: Some(store.clone()),
            max_receives,
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
            work_dir: Some(data_dir.to_path_buf()),
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

/// This process, registered on the embedded store: its workers' leases carry its id, a
/// heartbeat says it is alive, and what dead processes held is taken back at the start and on
/// every heartbeat.
pub struct Registration {
    store: EmbeddedStore,
    pub info: ProcessInfo,
    heartbeat: tokio::task::JoinHandle<()>,
}

impl Registration {
    /// A clean stop: the heartbeat ends and the registration is removed.
    pub async fn end(self) {
        self.heartbeat.abort();
        if let Err(e) = self.store.deregister_process(&self.info.owner).await {
            tracing::warn!(error = %e, "cannot remove this process's registration; the next start removes it");
        }
    }
}

impl Backend {
    /// Registers this process in `role` on the embedded store (nothing on AWS), takes back at
    /// once what dead processes held, and makes this backend's queues receive under its lease.
    pub async fn register(&mut self, role: ProcessRole) -> Result<Option<Registration>, CliError> {
        let Some(store) = self.embedded.clone() else {
            return Ok(None);
        };
        let info = store.register_process(role).await?;
        let reclaimed = store.reclaim_dead_processes(&info.owner).await?;
        report_reclaimed(&reclaimed);
        let queue: Arc<dyn ChangeQueue> = Arc::new(
            store
                .change_queue(self.max_receives)
                .held_by(info.owner.clone()),
        );
        self.backfill = Arc::new(
            store
                .change_queue(self.max_receives)
                .in_lane(Lane::Backfill)
                .held_by(info.owner.clone()),
        );
        for named in &mut self.queues {
            named.queue = queue.clone();
        }
        self.queue = queue;
        let heartbeat = {
            let store = store.clone();
            let owner = info.owner.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(sf2hs_shared::embedded::HEARTBEAT_EVERY).await;
                    if let Err(e) = store.heartbeat(&owner).await {
                        tracing::warn!(error = %e, "cannot record this process's heartbeat");
                    }
                    match store.reclaim_dead_processes(&owner).await {
                        Ok(reclaimed) => report_reclaimed(&reclaimed),
                        Err(e) => tracing::warn!(error = %e, "cannot look for stopped processes"),
                    }
                }
            })
        };
        Ok(Some(Registration {
            store,
            info,
            heartbeat,
        }))
    }

    /// The other live processes on the embedded store in `role` (after a sweep for dead ones).
    pub async fn live_processes(
        &self,
        role: ProcessRole,
        except: Option<&str>,
    ) -> Result<Vec<ProcessInfo>, CliError> {
        let Some(store) = &self.embedded else {
            return Ok(Vec::new());
        };
        let reclaimed = store.reclaim_dead_processes(except.unwrap_or("")).await?;
        report_reclaimed(&reclaimed);
        Ok(store
            .processes()
            .await?
            .into_iter()
            .filter(|p| p.role == role && Some(p.owner.as_str()) != except)
            .collect())
    }
}

fn report_reclaimed(reclaimed: &sf2hs_shared::embedded::Reclaimed) {
    for process in &reclaimed.processes {
        tracing::warn!(pid = process.pid, host = %process.host, "a process that stopped without finishing was found");
    }
    if reclaimed.messages > 0 {
        tracing::warn!(
            changes = reclaimed.messages,
            "took back the changes stopped processes held; they are delivered again now"
        );
    }
}
