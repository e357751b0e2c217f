//! The sync log: one item per entry, written in `BatchWriteItem`s and removed by DynamoDB's TTL
//! (`ttl` = the entry's time plus the retention).
//!
//! Three access paths, each a key-range query, newest first (`ScanIndexForward = false`):
//! - one record: the base table, `PK = LOG#<object>#<record id>`, `SK = <time>#<uuid>`;
//! - one object: `GSI1`, `GSI1PK = LOG#<object>`, `GSI1SK = <time>#<record id>#<uuid>`
//!   (also `counts`);
//! - every object: `GSI2`, `GSI2PK = LOG`, `GSI2SK = <time>#<object>#<record id>#<uuid>`
//!   (also `expire`, a range below the cutoff).
//!
//! `<time>` is 20 digits of nanoseconds, so that string order is time order and `since` is a
//! key condition, not a filter.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{DeleteRequest, PutRequest, WriteRequest};
use chrono::{DateTime, Utc};

use super::item::{Item, ItemReader, n, nanos, s, time_key};
use super::{
    ENTITY_ATTRIBUTE, GROUP_INDEX, GROUP_INDEX_PARTITION_KEY, GROUP_INDEX_SORT_KEY, PARTITION_KEY,
    SORT_KEY, TIMELINE_INDEX, TIMELINE_INDEX_PARTITION_KEY, TIMELINE_INDEX_SORT_KEY, TTL_ATTRIBUTE,
    Table, built,
};
use crate::domain::SalesforceId;
use crate::ports::{OutcomeCounts, PortResult, SyncLog, SyncLogEntry, SyncLogQuery, SyncOutcome};

const ENTITY: &str = "log";
const TIMELINE: &str = "LOG";
const AT: &str = "at_ns";
const OBJECT: &str = "salesforce_object";
const RECORD_ID: &str = "record_id";
const OUTCOME: &str = "outcome";
const REASON: &str = "reason";
const HUBSPOT_ID: &str = "hubspot_id";

/// The most items a query asks for per page when the caller wants only a few.
const PAGE_LIMIT: usize = 1_000;

/// [`SyncLog`] on the DynamoDB table; entries expire `retention` after their time.
#[derive(Debug, Clone)]
pub struct DynamoSyncLog {
    table: Arc<Table>,
    retention: Duration,
}

fn record_partition(object: &str, record_id: &str) -> String {
    format!("LOG#{object}#{record_id}")
}

fn object_partition(object: &str) -> String {
    format!("LOG#{object}")
}

fn encode(entry: &SyncLogEntry, retention: Duration) -> PortResult<Item> {
    let time = time_key(entry.at, "the sync log entry's time")?;
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let object = &entry.salesforce_object;
    let record = entry.record_id.as_str();
    let expires = entry
        .at
        .timestamp()
        .saturating_add(i64::try_from(retention.as_secs()).unwrap_or(i64::MAX));
    let mut item = Item::from([
        (
            PARTITION_KEY.to_owned(),
            s(record_partition(object, record)),
        ),
        (SORT_KEY.to_owned(), s(format!("{time}#{unique}"))),
        (
            GROUP_INDEX_PARTITION_KEY.to_owned(),
            s(object_partition(object)),
        ),
        (
            GROUP_INDEX_SORT_KEY.to_owned(),
            s(format!("{time}#{record}#{unique}")),
        ),
        (TIMELINE_INDEX_PARTITION_KEY.to_owned(), s(TIMELINE)),
        (
            TIMELINE_INDEX_SORT_KEY.to_owned(),
            s(format!("{time}#{object}#{record}#{unique}")),
        ),
        (ENTITY_ATTRIBUTE.to_owned(), s(ENTITY)),
        (
            AT.to_owned(),
            n(nanos(entry.at, "the sync log entry's time")?),
        ),
        (OBJECT.to_owned(), s(object)),
        (RECORD_ID.to_owned(), s(record)),
        (OUTCOME.to_owned(), s(entry.outcome.name())),
        (TTL_ATTRIBUTE.to_owned(), n(expires)),
    ]);
    if let Some(reason) = &entry.reason {
        item.insert(REASON.to_owned(), s(reason));
    }
    if let Some(hubspot_id) = &entry.hubspot_id {
        item.insert(HUBSPOT_ID.to_owned(), s(hubspot_id));
    }
    Ok(item)
}

fn decode(item: &Item) -> PortResult<SyncLogEntry> {
    let reader = ItemReader::new(item, "a sync log entry");
    let record_id = reader.string(RECORD_ID)?;
    let outcome = reader.string(OUTCOME)?;
    Ok(SyncLogEntry {
        at: reader.time(AT)?,
        salesforce_object: reader.string(OBJECT)?,
        record_id: SalesforceId::parse(&record_id).map_err(|e| reader.corrupt(e.to_string()))?,
        outcome: SyncOutcome::from_name(&outcome)
            .ok_or_else(|| reader.corrupt(format!("unknown outcome `{outcome}`")))?,
        reason: reader.opt_string(REASON)?,
        hubspot_id: reader.opt_string(HUBSPOT_ID)?,
    })
}

/// The lower bound of a time range as a sort-key prefix; `None` for no bound (or a bound before
/// 1970, below every key).
fn since_key(since: Option<DateTime<Utc>>) -> PortResult<Option<String>> {
    match since {
        Some(at) if at.timestamp() >= 0 => Ok(Some(time_key(at, "since")?)),
        _ => Ok(None),
    }
}

impl DynamoSyncLog {
    pub(crate) fn new(table: Arc<Table>, retention: Duration) -> Self {
        DynamoSyncLog { table, retention }
    }

    pub fn retention(&self) -> Duration {
        self.retention
    }

    /// A newest-first query of one partition of the table or an index, from `since` on.
    fn range(
        &self,
        index: Option<&str>,
        partition_key: &str,
        partition: String,
        sort_key: &str,
        since: Option<String>,
    ) -> QueryFluentBuilder {
        let mut condition = format!("{partition_key} = :partition");
        let mut query = self
            .table
            .client
            .query()
            .set_index_name(index.map(str::to_owned))
            .expression_attribute_values(":partition", s(partition))
            .scan_index_forward(false);
        if let Some(since) = since {
            condition.push_str(&format!(" AND {sort_key} >= :since"));
            query = query.expression_attribute_values(":since", s(since));
        }
        // Only the base table reads consistently; the indexes follow within a second.
        query
            .key_condition_expression(condition)
            .consistent_read(index.is_none())
    }
}

#[async_trait]
impl SyncLog for DynamoSyncLog {
    async fn append(&self, entries: &[SyncLogEntry]) -> PortResult<()> {
        let requests = entries
            .iter()
            .map(|entry| {
                let put = built(
                    PutRequest::builder()
                        .set_item(Some(encode(entry, self.retention)?))
                        .build(),
                    "appending to the sync log",
                )?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<PortResult<Vec<_>>>()?;
        self.table
            .batch_write(requests, "appending to the sync log")
            .await
    }

    async fn query(&self, query: &SyncLogQuery) -> PortResult<Vec<SyncLogEntry>> {
        let since = since_key(query.since)?;
        let mut request = match (&query.salesforce_object, &query.record_id) {
            (Some(object), Some(record)) => self.range(
                None,
                PARTITION_KEY,
                record_partition(object, record.as_str()),
                SORT_KEY,
                since,
            ),
            (Some(object), None) => self.range(
                Some(GROUP_INDEX),
                GROUP_INDEX_PARTITION_KEY,
                object_partition(object),
                GROUP_INDEX_SORT_KEY,
                since,
            ),
            (None, _) => self.range(
                Some(TIMELINE_INDEX),
                TIMELINE_INDEX_PARTITION_KEY,
                TIMELINE.to_owned(),
                TIMELINE_INDEX_SORT_KEY,
                since,
            ),
        };
        let mut filters = Vec::new();
        if query.salesforce_object.is_none()
            && let Some(record) = &query.record_id
        {
            filters.push(format!("#{RECORD_ID} = :record"));
            request = request
                .expression_attribute_names(format!("#{RECORD_ID}"), RECORD_ID)
                .expression_attribute_values(":record", s(record.as_str()));
        }
        if !query.outcomes.is_empty() {
            let mut names = Vec::new();
            for (i, outcome) in query.outcomes.iter().enumerate() {
                names.push(format!(":outcome{i}"));
                request =
                    request.expression_attribute_values(format!(":outcome{i}"), s(outcome.name()));
            }
            filters.push(format!("#{OUTCOME} IN ({})", names.join(", ")));
            request = request.expression_attribute_names(format!("#{OUTCOME}"), OUTCOME);
        }
        if !filters.is_empty() {
            request = request.filter_expression(filters.join(" AND "));
        }
        let limit = (query.limit > 0).then_some(query.limit);
        if let Some(limit) = limit {
            request = request.limit(i32::try_from(limit.min(PAGE_LIMIT)).unwrap_or(1));
        }
        let items = self
            .table
            .query_all(request, limit, "querying the sync log")
            .await?;
        items.iter().map(decode).collect()
    }

    async fn counts(
        &self,
        salesforce_object: &str,
        since: DateTime<Utc>,
    ) -> PortResult<OutcomeCounts> {
        let request = self
            .range(
                Some(GROUP_INDEX),
                GROUP_INDEX_PARTITION_KEY,
                object_partition(salesforce_object),
                GROUP_INDEX_SORT_KEY,
                since_key(Some(since))?,
            )
            .projection_expression(format!("#{OUTCOME}"))
            .expression_attribute_names(format!("#{OUTCOME}"), OUTCOME);
        let items = self
            .table
            .query_all(request, None, "counting the sync log")
            .await?;
        let mut counts = OutcomeCounts::default();
        for item in &items {
            let reader = ItemReader::new(item, "a sync log entry");
            let outcome = reader.string(OUTCOME)?;
            match SyncOutcome::from_name(&outcome) {
                Some(SyncOutcome::Synced) => counts.synced += 1,
                Some(SyncOutcome::Skipped) => counts.skipped += 1,
                Some(SyncOutcome::Failed) => counts.failed += 1,
                Some(SyncOutcome::DeadLettered) => counts.dead_lettered += 1,
                None => return Err(reader.corrupt(format!("unknown outcome `{outcome}`"))),
            }
        }
        Ok(counts)
    }

    async fn expire(&self, before: DateTime<Utc>) -> PortResult<u64> {
        if before.timestamp() < 0 {
            return Ok(0);
        }
        // TTL removes entries on its own (within a day or two of `ttl`); this is the explicit
        // path the port offers, a key range of the timeline below the cutoff.
        let request = self
            .table
            .client
            .query()
            .index_name(TIMELINE_INDEX)
            .key_condition_expression(format!(
                "{TIMELINE_INDEX_PARTITION_KEY} = :partition AND {TIMELINE_INDEX_SORT_KEY} < :before"
            ))
            .expression_attribute_values(":partition", s(TIMELINE))
            .expression_attribute_values(":before", s(time_key(before, "before")?))
            .projection_expression(format!("{PARTITION_KEY}, {SORT_KEY}"));
        let items = self
            .table
            .query_all(request, None, "finding expired sync log entries")
            .await?;
        let count = items.len() as u64;
        let requests = items
            .into_iter()
            .map(|item| {
                let key = Item::from_iter(
                    item.into_iter()
                        .filter(|(name, _)| name == PARTITION_KEY || name == SORT_KEY),
                );
                let delete = built(
                    DeleteRequest::builder().set_key(Some(key)).build(),
                    "expiring the sync log",
                )?;
                Ok(WriteRequest::builder().delete_request(delete).build())
            })
            .collect::<PortResult<Vec<_>>>()?;
        self.table
            .batch_write(requests, "expiring the sync log")
            .await?;
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retention_sets_the_ttl_of_each_entry() {
        let at = DateTime::from_timestamp(1_788_000_000, 5_000_000).unwrap_or_default();
        let entry = SyncLogEntry {
            at,
            salesforce_object: "Invoice__c".to_owned(),
            record_id: SalesforceId::parse("a0B000000000001").expect("id"),
            outcome: SyncOutcome::Synced,
            reason: None,
            hubspot_id: None,
        };
        let item = encode(&entry, Duration::from_secs(86_400)).expect("encode");
        assert_eq!(item.get(TTL_ATTRIBUTE), Some(&n(1_788_000_000 + 86_400)));
        assert_eq!(decode(&item).expect("decode"), entry);
        let partition = item.get(PARTITION_KEY).and_then(|v| v.as_s().ok());
        assert_eq!(
            partition.cloned(),
            Some(format!("LOG#Invoice__c#{}", entry.record_id.as_str()))
        );
    }
}
