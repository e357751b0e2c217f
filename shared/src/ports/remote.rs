//! What the worker needs from HubSpot and Salesforce, as small traits. The HTTP clients in
//! `crate::hubspot` and `crate::salesforce` implement them; the worker only sees these, so its
//! logic stays free of HTTP types.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{FieldSnapshot, SalesforceId};
use crate::mapping::HubSpotObjectRef;

/// Why a remote call failed, in the terms the worker decides on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteError {
    /// Try again later (rate limit, 5xx, timeout), after `after` when the service said.
    #[error("{reason} (will retry)")]
    Retryable {
        reason: String,
        after: Option<Duration>,
    },
    /// Stop calling until an operator acts or a budget resets (daily limit, bad credentials,
    /// missing scope). Messages stay on the queue.
    #[error("{reason}")]
    Stop { reason: String },
    /// This request can never succeed as it is (a bad property).
    #[error("{reason}")]
    Permanent { reason: String },
    /// HubSpot does not know the object type in the path: the custom object was deleted (and
    /// perhaps made again under a new objectTypeId). The mapping's object is resolved again.
    #[error("{reason}")]
    UnknownObject { reason: String },
}

impl RemoteError {
    pub fn reason(&self) -> &str {
        match self {
            RemoteError::Retryable { reason, .. }
            | RemoteError::Stop { reason }
            | RemoteError::Permanent { reason }
            | RemoteError::UnknownObject { reason } => reason,
        }
    }
}

/// One record to upsert, keyed by the value of the unique id property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsertRecord {
    /// The Salesforce id: the value of the id property.
    pub id_value: String,
    pub properties: BTreeMap<String, String>,
}

/// What happened to one record of a batch write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    Written {
        hubspot_id: String,
        created: bool,
    },
    /// HubSpot's words, and its error category when it gave one (`VALIDATION_ERROR`…).
    Failed {
        message: String,
        category: Option<String>,
        /// The HubSpot property at fault, when HubSpot named one.
        property: Option<String>,
        retryable: bool,
    },
}

/// One association to create between two HubSpot records.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AssociationPair {
    pub from_id: String,
    pub to_id: String,
}

/// HubSpot's records API, as the worker uses it.
#[async_trait]
pub trait HubSpotRecords: Send + Sync {
    /// The objectTypeId of an object named by its base name, fullyQualifiedName or id, from
    /// the schemas list (HubSpot refuses a custom object's base name in paths, H1); `None` when
    /// the account has no such object.
    async fn object_type_id(
        &self,
        object: &HubSpotObjectRef,
    ) -> Result<Option<String>, RemoteError>;

    /// Upserts by the unique `id_property`; one outcome per `id_value`.
    async fn upsert(
        &self,
        object: &HubSpotObjectRef,
        id_property: &str,
        records: &[UpsertRecord],
    ) -> Result<HashMap<String, WriteOutcome>, RemoteError>;

    /// Archives records by HubSpot id.
    async fn archive(
        &self,
        object: &HubSpotObjectRef,
        hubspot_ids: &[String],
    ) -> Result<(), RemoteError>;

    /// HubSpot ids of the records whose `id_property` holds these values; absent ones are missing.
    async fn find_by_unique(
        &self,
        object: &HubSpotObjectRef,
        id_property: &str,
        values: &[String],
    ) -> Result<HashMap<String, String>, RemoteError>;

    /// Creates associations from `from` records to `to` records, with the association type given
    /// or the default one between the two objects. Returns the pairs that failed, with why.
    async fn associate(
        &self,
        from: &HubSpotObjectRef,
        to: &HubSpotObjectRef,
        association_type_id: Option<u32>,
        pairs: &[AssociationPair],
    ) -> Result<Vec<(AssociationPair, String)>, RemoteError>;

    /// Removes the association of the type given (`None`: the default one, as `associate`
    /// writes it) between each pair, and no other: labels users added to a pair stay
    /// (platform-behaviours.md H3).
    async fn dissociate(
        &self,
        from: &HubSpotObjectRef,
        to: &HubSpotObjectRef,
        association_type_id: Option<u32>,
        pairs: &[AssociationPair],
    ) -> Result<(), RemoteError>;
}

/// Salesforce's records API, as the worker uses it to read states it was not sent.
#[async_trait]
pub trait SalesforceRecords: Send + Sync {
    /// The current state of each record (the fields asked for, plus `Id` and `SystemModstamp`);
    /// `None` for a record that no longer exists (deleted or never visible).
    async fn retrieve(
        &self,
        object: &str,
        ids: &[SalesforceId],
        fields: &[String],
    ) -> Result<HashMap<SalesforceId, Option<FieldSnapshot>>, RemoteError>;

    /// The last state of each record, deleted ones included (from the recycle bin, through
    /// queryAll), with `IsDeleted`: what a record kept in HubSpot after its delete must show,
    /// and the only proof that a record a read did not find was deleted. Records Salesforce no
    /// longer has at all, and records the integration user cannot see, are absent.
    async fn last_states(
        &self,
        object: &str,
        ids: &[SalesforceId],
        fields: &[String],
    ) -> Result<HashMap<SalesforceId, FieldSnapshot>, RemoteError>;

    /// The fields the outbound-message action `action_id` sends (the Tooling API's
    /// `WorkflowOutboundMessage` definition), or `None` when the org has no such action. A
    /// notification leaves out null fields as it leaves out fields it does not send: only
    /// this says that an absent field is null.
    async fn outbound_message_fields(
        &self,
        action_id: &str,
    ) -> Result<Option<Vec<String>>, RemoteError>;
}

/// One page of a backfill.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RecordPage {
    /// Field snapshots, each with `Id` and `SystemModstamp`, oldest `SystemModstamp` first.
    pub records: Vec<FieldSnapshot>,
    /// Where the next page starts; `None` after the last page. Opaque to the caller, and must
    /// stay usable after a pause of minutes (a keyset position, or a Bulk job id + locator).
    pub next_cursor: Option<String>,
}

/// How a backfill reads Salesforce: count first, then pages (REST query or Bulk API 2.0, the
/// adapter chooses).
#[async_trait]
pub trait RecordPages: Send + Sync {
    /// The newest `SystemModstamp` among `object`'s records (`None`: it has none): a backfill's
    /// cutoff on Salesforce's own clock, which need not agree with ours.
    async fn newest_modstamp(&self, object: &str) -> Result<Option<DateTime<Utc>>, RemoteError>;

    /// Records of `object` whose `SystemModstamp` is at or before `until`.
    async fn count(&self, object: &str, until: DateTime<Utc>) -> Result<u64, RemoteError>;

    /// The page after `cursor` (`None`: the first) of records at or before `until`, with
    /// `fields` (plus `Id` and `SystemModstamp`), ordered by `SystemModstamp` then `Id`.
    async fn page(
        &self,
        object: &str,
        fields: &[String],
        until: DateTime<Utc>,
        cursor: Option<&str>,
    ) -> Result<RecordPage, RemoteError>;

    /// The same over a re-sync's window: records changed from `since` (inclusive) to `until`.
    async fn window_page(
        &self,
        object: &str,
        fields: &[String],
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        cursor: Option<&str>,
    ) -> Result<RecordPage, RemoteError>;

    /// The page after `cursor` of records deleted (in the recycle bin) from `since` to `until`,
    /// with `Id` and `SystemModstamp` (the delete's time), oldest first.
    async fn deleted_page(
        &self,
        object: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        cursor: Option<&str>,
    ) -> Result<RecordPage, RemoteError>;
}
