//! The domain: what a Salesforce change is, and how records are named. No AWS or HTTP types here.

mod change;
mod record_id;

pub use change::{Change, ChangeKind, ChangeSource, FieldSnapshot, RecordKey, RereadReason};
pub use record_id::{RecordIdError, SalesforceId};
