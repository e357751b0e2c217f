//! What sf2hs knows of one record, for `sf2hs errors --record` and the console's record page:
//! its failures in the sync log (kept one by one) and its record index entry (what was last
//! written to HubSpot). Successes are not kept per record: the log holds them per batch, so
//! that a change costs one write.

use crate::domain::{RecordKey, SalesforceId};
use crate::ports::{
    IndexEntry, MappingStore, PortResult, RecordIndex, SyncLog, SyncLogEntry, SyncLogQuery,
};

/// One record's failures, newest first, and its index entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordHistory {
    pub salesforce_object: String,
    pub record_id: SalesforceId,
    pub failures: Vec<SyncLogEntry>,
    pub index: Option<IndexEntry>,
}

/// The history of record `id`, looked up under each mapped object.
pub async fn find(
    mappings: &dyn MappingStore,
    log: &dyn SyncLog,
    index: &dyn RecordIndex,
    id: &SalesforceId,
) -> PortResult<Option<RecordHistory>> {
    let objects: Vec<String> = mappings
        .list()
        .await?
        .into_iter()
        .map(|stored| stored.mapping.salesforce_object)
        .collect();
    record_history(log, index, &objects, id).await
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedded::EmbeddedStore;
    use crate::ports::{SyncLogEntry, SyncOutcome};
    use chrono::{DateTime, Utc};

    fn id(n: u32) -> SalesforceId {
        SalesforceId::parse(&format!("a0B{n:012}")).expect("id")
    }

    fn entry(n: u32, outcome: SyncOutcome) -> SyncLogEntry {
        SyncLogEntry {
            at: Utc::now(),
            salesforce_object: "Invoice__c".to_owned(),
            record_id: id(n),
            outcome,
            reason: outcome.is_failure().then(|| "refused".to_owned()),
            hubspot_id: (!outcome.is_failure()).then(|| "77".to_owned()),
        }
    }

    #[tokio::test]
    async fn a_record_is_its_index_entry_and_its_failures() {
        let store = EmbeddedStore::open_in_memory().expect("store");
        let (log, index) = (store.sync_log(), store.record_index());
        let objects = vec!["Payment__c".to_owned(), "Invoice__c".to_owned()];
        let written = IndexEntry {
            hubspot_id: Some("77".to_owned()),
            modstamp: DateTime::from_timestamp(1_788_000_000, 0).expect("time"),
            content_hash: "h".to_owned(),
            deleted: false,
            write_id: 0,
        };
        let key = |n| RecordKey {
            object: "Invoice__c".to_owned(),
            record_id: id(n),
        };
        index.put_if_newer(&key(1), &written).await.expect("put");
        log.append(&[
            entry(1, SyncOutcome::Synced),
            entry(2, SyncOutcome::Failed),
            entry(3, SyncOutcome::Synced),
        ])
        .await
        .expect("append");

        // Synced only: found through the index, under the right object, no failures.
        let synced = record_history(&log, &index, &objects, &id(1))
            .await
            .expect("history")
            .expect("known");
        assert_eq!(synced.salesforce_object, "Invoice__c");
        assert!(synced.failures.is_empty());
        assert_eq!(
            synced.index.and_then(|e| e.hubspot_id),
            Some("77".to_owned())
        );
        // Failed, never written: its failure, no index entry.
        let failed = record_history(&log, &index, &objects, &id(2))
            .await
            .expect("history")
            .expect("known");
        assert_eq!(failed.failures.len(), 1);
        assert_eq!(failed.index, None);
        // Failed under an object no longer mapped: still found by its failures.
        let unmapped = record_history(&log, &index, &[], &id(2))
            .await
            .expect("history")
            .expect("known");
        assert_eq!(unmapped.salesforce_object, "Invoice__c");
        // A synced entry alone, no index entry (the log's successes are not per record).
        assert_eq!(
            record_history(&log, &index, &objects, &id(3))
                .await
                .expect("history"),
            None
        );
    }
}
