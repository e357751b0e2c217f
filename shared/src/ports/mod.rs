//! Ports: the small capability traits the pipeline needs from a store and a queue. Each has an
//! embedded adapter (SQLite, in `crate::embedded`) and an AWS adapter (DynamoDB, SQS), and every
//! adapter passes the same conformance suites (`crate::conformance`).

mod change_queue;
mod error;
mod import_jobs;
mod mapping_store;
mod record_index;
mod remote;
mod secrets;
mod sync_log;

pub use change_queue::{
    ChangeQueue, DeadLetter, Delivery, MAX_MESSAGE_BYTES, QueueDepth, message_body,
};
pub use error::{Cause, PortError, PortResult};
pub use import_jobs::{ImportCounts, ImportJob, ImportJobs, ImportStatus};
pub use mapping_store::{MappingStore, StoredMapping};
pub use record_index::{
    IndexEntry, IndexWrite, LinkRecord, RecordIndex, RecordLinks, new_write_id,
};
pub use remote::{
    AssociationPair, HubSpotRecords, RecordPage, RecordPages, RemoteError, SalesforceRecords,
    UpsertRecord, WriteOutcome,
};
pub use secrets::{SecretsProvider, fresh_json_secret, json_secret};
pub use sync_log::{OutcomeCounts, SyncLog, SyncLogEntry, SyncLogQuery, SyncOutcome};
