use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::PortResult;
use crate::mapping::{Mapping, MappingStatus};

/// A mapping as stored, with the version its next write must name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredMapping {
    pub mapping: Mapping,
    /// Starts at 1 and grows by one with every write.
    pub version: u64,
    pub updated_at: DateTime<Utc>,
}

/// The mapping configs, one per Salesforce object.
#[async_trait]
pub trait MappingStore: Send + Sync {
    async fn get(&self, salesforce_object: &str) -> PortResult<Option<StoredMapping>>;

    /// All mappings, ordered by Salesforce object name.
    async fn list(&self) -> PortResult<Vec<StoredMapping>>;

    /// Writes a mapping. `expected_version` is `None` to create (fails if one exists) or the
    /// version last read (fails with `VersionConflict` if another write came in between).
    /// Returns the new version.
    ///
    /// Conflicts report the version the caller expected and the one found, with 0 standing for
    /// "no mapping": creating over an existing mapping is `expected: 0, found: current`, and
    /// updating a mapping deleted in between is `expected: v, found: 0`.
    async fn put(&self, mapping: &Mapping, expected_version: Option<u64>) -> PortResult<u64>;

    /// Changes only the status, whatever the version; returns the new version (the stored one
    /// plus one). `NotFound` when there is no mapping.
    async fn set_status(&self, salesforce_object: &str, status: MappingStatus) -> PortResult<u64>;

    /// Removes a mapping; `false` when there was none.
    async fn delete(&self, salesforce_object: &str) -> PortResult<bool>;
}
