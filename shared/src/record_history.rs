//! What sf2hs knows of one record, for `sf2hs errors --record` and the console's record page:
//! its failures in the sync log (kept one by one) and its record index entry (what was last
//! written to HubSpot). Successes are not kept per record: the log holds them per batch, so
//! that a change costs one write.

use crate::domain::{RecordKey, SalesforceId};
use crate::ports::{IndexEntry, PortResult, RecordIndex, SyncLog, SyncLogEntry, SyncLogQuery};

/// One record's failures, newest first, and its index entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordHistory {
    pub salesforce_object: String,
    pub record_id: SalesforceId,
    pub failures: Vec<SyncLogEntry>,
    pub index: Option<IndexEntry>,
}

/// The history of record `id`, looked up under each of `objects` (the mapped objects; a
/// Salesforce id belongs to one). `None` when neither the log nor the index knows it.
pub async fn record_history(
    log: &dyn SyncLog,
    index: &dyn RecordIndex,
    objects: &[String],
    id: &SalesforceId,
) -> PortResult<Option<RecordHistory>> {
    for object in objects {
        let failures = log
            .query(&SyncLogQuery {
                salesforce_object: Some(object.clone()),
                record_id: Some(id.clone()),
                ..SyncLogQuery::default()
            })
            .await?;
        let entry = index
            .get(&RecordKey {
                object: object.clone(),
                record_id: id.clone(),
            })
            .await?;
        if !failures.is_empty() || entry.is_some() {
            return Ok(Some(RecordHistory {
                salesforce_object: object.clone(),
                record_id: id.clone(),
                failures,
                index: entry,
            }));
        }
    }
    // An object no longer mapped: its failures may still be in the log.
    let failures = log
        .query(&SyncLogQuery {
            record_id: Some(id.clone()),
            ..SyncLogQuery::default()
        })
        .await?;
    let Some(object) = failures.first().map(|f| f.salesforce_object.clone()) else {
        return Ok(None);
    };
    let entry = index
        .get(&RecordKey {
            object: object.clone(),
            record_id: id.clone(),
        })
        .await?;
    Ok(Some(RecordHistory {
        salesforce_object: object,
        record_id: id.clone(),
        failures,
        index: entry,
    }))
}
