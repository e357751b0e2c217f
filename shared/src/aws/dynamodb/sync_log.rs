//! The sync log in two kinds of items, so that a change costs a small share of one write unit
//! instead of a write and two index copies of its own:
//!
//! - **batch items**, one per append, object and minute at most: every entry of the append
//!   packed in one attribute (`entries`, JSON). `PK = BATCH#<object>`,
//!   `SK = <newest time>#<uuid>`, no index copy. They answer the object queries (health,
//!   status, the console) and `counts`; every-object queries read each object's partition,
//!   the objects listed by one registry item each (`PK = LOG_OBJECTS`, `SK = <object>`, written
//!   once per object and process);
//! - **failure items**, one per failed or dead-lettered entry, as every entry was before:
//!   one record's history on the base table (`PK = LOG#<object>#<record id>`,
//!   `SK = <time>#<uuid>`), one object's failures on `GSI1` (`GSI1PK = LOG#<object>`), every
//!   failure on `GSI2` (`GSI2PK = LOG`).
//!
//! Queries are key ranges, newest first (`ScanIndexForward = false`). A batch item is keyed by
//! its newest entry, so `SK >= <since>` finds every item holding an entry from `since` on; its
//! entries lie within [`SPREAD`] of the newest, so `expire` finds every item holding an entry
//! before its cutoff below `cutoff + SPREAD`.
//!
//! `<time>` is 20 digits of nanoseconds, so that string order is time order and `since` is a
//! key condition, not a filter.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{DeleteRequest, PutRequest, WriteRequest};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::item::{Item, ItemReader, n, nanos, s, time_key};
use super::{
    ENTITY_ATTRIBUTE, GROUP_INDEX, GROUP_INDEX_PARTITION_KEY, GROUP_INDEX_SORT_KEY, PARTITION_KEY,
    SORT_KEY, TIMELINE_INDEX, TIMELINE_INDEX_PARTITION_KEY, TIMELINE_INDEX_SORT_KEY, TTL_ATTRIBUTE,
    Table, built,
};
use crate::domain::SalesforceId;
use crate::ports::{OutcomeCounts, PortResult, SyncLog, SyncLogEntry, SyncLogQuery, SyncOutcome};

const FAILURE_ENTITY: &str = "log";
const BATCH_ENTITY: &str = "log_batch";
/// The timeline partition of `GSI2`: every failure item.
const FAILURES: &str = "LOG";
/// The partition listing the objects that have batch items.
const OBJECTS: &str = "LOG_OBJECTS";
const OBJECT_ENTITY: &str = "log_object";
const AT: &str = "at_ns";
const OBJECT: &str = "salesforce_object";
const RECORD_ID: &str = "record_id";
const OUTCOME: &str = "outcome";
const REASON: &str = "reason";
const HUBSPOT_ID: &str = "hubspot_id";
const ENTRIES: &str = "entries";

/// The most items a query asks for per page when the caller wants only a few.
const PAGE_LIMIT: usize = 1_000;
/// How far apart in time the entries of one batch item may be. A worker's batch settles within
/// milliseconds; the bound lets `expire` find every item that holds an entry before its cutoff.
pub(crate) const SPREAD: chrono::Duration = chrono::Duration::seconds(60);
/// The most bytes of packed entries in one batch item (DynamoDB's items stop at 400 KB).
const MOST_PACKED_BYTES: usize = 300_000;

/// [`SyncLog`] on the DynamoDB table; entries expire `retention` after their time.
#[derive(Debug, Clone)]
pub struct DynamoSyncLog {
    table: Arc<Table>,
    retention: Duration,
    /// Objects whose registry item this process wrote (or found written).
    registered: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

fn record_partition(object: &str, record_id: &str) -> String {
    format!("LOG#{object}#{record_id}")
}

fn object_partition(object: &str) -> String {
    format!("LOG#{object}")
}

fn batch_partition(object: &str) -> String {
    format!("BATCH#{object}")
}

/// One entry inside a batch item: record id, outcome code, nanoseconds before the item's
/// newest entry, HubSpot id, reason. A JSON array, so that the field names cost nothing.
#[derive(Debug, Serialize, Deserialize)]
struct Packed(String, char, u64, Option<String>, Option<String>);

fn outcome_code(outcome: SyncOutcome) -> char {
    match outcome {
        SyncOutcome::Synced => 's',
        SyncOutcome::Skipped => 'k',
        SyncOutcome::Failed => 'f',
        SyncOutcome::DeadLettered => 'd',
    }
}

fn outcome_of(code: char) -> Option<SyncOutcome> {
    SyncOutcome::ALL
        .into_iter()
        .find(|o| outcome_code(*o) == code)
}

impl DynamoSyncLog {
    pub(crate) fn new(table: Arc<Table>, retention: Duration) -> Self {
        DynamoSyncLog {
            table,
            retention,
            registered: Arc::default(),
        }
    }

    pub fn retention(&self) -> Duration {
        self.retention
    }

    /// Epoch seconds at which an entry of `at` may go.
    fn expires(&self, at: DateTime<Utc>) -> i64 {
        at.timestamp()
            .saturating_add(i64::try_from(self.retention.as_secs()).unwrap_or(i64::MAX))
    }

    fn encode_failure(&self, entry: &SyncLogEntry) -> PortResult<Item> {
        let time = time_key(entry.at, "the sync log entry's time")?;
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let object = &entry.salesforce_object;
        let record = entry.record_id.as_str();
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
            (TIMELINE_INDEX_PARTITION_KEY.to_owned(), s(FAILURES)),
            (
                TIMELINE_INDEX_SORT_KEY.to_owned(),
                s(format!("{time}#{object}#{record}#{unique}")),
            ),
            (ENTITY_ATTRIBUTE.to_owned(), s(FAILURE_ENTITY)),
            (
                AT.to_owned(),
                n(nanos(entry.at, "the sync log entry's time")?),
            ),
            (OBJECT.to_owned(), s(object)),
            (RECORD_ID.to_owned(), s(record)),
            (OUTCOME.to_owned(), s(entry.outcome.name())),
            (TTL_ATTRIBUTE.to_owned(), n(self.expires(entry.at))),
        ]);
        if let Some(reason) = &entry.reason {
            item.insert(REASON.to_owned(), s(reason));
        }
        if let Some(hubspot_id) = &entry.hubspot_id {
            item.insert(HUBSPOT_ID.to_owned(), s(hubspot_id));
        }
        Ok(item)
    }

    /// One batch item of `entries` (one object's, oldest first, within [`SPREAD`]); keeps the
    /// keys of `keys` when given (a rewrite by `expire`).
    fn encode_batch(
        &self,
        object: &str,
        entries: &[&SyncLogEntry],
        keys: Option<&Item>,
    ) -> PortResult<Item> {
        let Some(newest) = entries.last() else {
            return Err(crate::ports::PortError::invalid(
                "a sync-log batch item needs at least one entry",
            ));
        };
        let newest_ns = nanos(newest.at, "the sync log entry's time")?;
        let packed = entries
            .iter()
            .map(|e| {
                let at = nanos(e.at, "the sync log entry's time")?;
                Ok(Packed(
                    e.record_id.as_str().to_owned(),
                    outcome_code(e.outcome),
                    u64::try_from(newest_ns.saturating_sub(at)).unwrap_or(0),
                    e.hubspot_id.clone(),
                    e.reason.clone(),
                ))
            })
            .collect::<PortResult<Vec<_>>>()?;
        let packed = serde_json::to_string(&packed).map_err(|e| {
            crate::ports::PortError::invalid(format!("cannot pack sync-log entries: {e}"))
        })?;
        let mut item = match keys {
            Some(keys) => keys.clone(),
            None => {
                let time = time_key(newest.at, "the sync log entry's time")?;
                let unique = uuid::Uuid::new_v4().simple().to_string();
                Item::from([
                    (PARTITION_KEY.to_owned(), s(batch_partition(object))),
                    (SORT_KEY.to_owned(), s(format!("{time}#{unique}"))),
                ])
            }
        };
        item.insert(ENTITY_ATTRIBUTE.to_owned(), s(BATCH_ENTITY));
        item.insert(OBJECT.to_owned(), s(object));
        item.insert(AT.to_owned(), n(newest_ns));
        item.insert(ENTRIES.to_owned(), s(packed));
        item.insert(TTL_ATTRIBUTE.to_owned(), n(self.expires(newest.at)));
        Ok(item)
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

    /// The batch items of one object holding an entry from `since` on.
    fn batches(
        &self,
        object: &str,
        since: Option<DateTime<Utc>>,
    ) -> PortResult<QueryFluentBuilder> {
        Ok(self.range(
            None,
            PARTITION_KEY,
            batch_partition(object),
            SORT_KEY,
            since_key(since)?,
        ))
    }

    /// Every object that has batch items, from the registry.
    async fn objects(&self) -> PortResult<Vec<String>> {
        let request = self.range(None, PARTITION_KEY, OBJECTS.to_owned(), SORT_KEY, None);
        let items = self
            .table
            .query_all(request, None, "listing the sync log's objects")
            .await?;
        items
            .iter()
            .map(|item| ItemReader::new(item, "a sync log object").string(OBJECT))
            .collect()
    }

    /// The registry items of the objects in `entries` this process has not registered yet.
    fn unregistered(&self, entries: &[SyncLogEntry]) -> Vec<String> {
        let known = self
            .registered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut objects: Vec<String> = entries
            .iter()
            .map(|e| e.salesforce_object.clone())
            .filter(|object| !known.contains(object))
            .collect();
        objects.sort();
        objects.dedup();
        objects
    }

    /// Entries from batch items of `object` (every object: `None`, each object's newest
    /// merged), newest first.
    async fn batch_entries(
        &self,
        object: Option<&str>,
        since: Option<DateTime<Utc>>,
        outcomes: &[SyncOutcome],
        limit: usize,
    ) -> PortResult<Vec<SyncLogEntry>> {
        let objects = match object {
            Some(object) => vec![object.to_owned()],
            None => self.objects().await?,
        };
        let mut found = Vec::new();
        for object in &objects {
            // The newest `limit` of all objects are among each object's newest `limit`.
            found.extend(self.object_entries(object, since, outcomes, limit).await?);
        }
        newest_first(&mut found);
        if limit > 0 {
            found.truncate(limit);
        }
        Ok(found)
    }

    /// One object's entries from its batch items, newest first: paged until `limit` entries
    /// are certain to be the newest (an item's entries are no newer than its key, so once the
    /// `limit`-th newest entry in hand is newer than the next item's key, no later item can
    /// displace it). The newest `limit` are kept in a heap, so a large limit (the console's
    /// search by HubSpot id) costs a logarithm per entry, not a sort per item.
    async fn object_entries(
        &self,
        object: &str,
        since: Option<DateTime<Utc>>,
        outcomes: &[SyncOutcome],
        limit: usize,
    ) -> PortResult<Vec<SyncLogEntry>> {
        let mut request = self.batches(object, since)?;
        if limit > 0 {
            request = request.limit(i32::try_from(limit.clamp(2, 100)).unwrap_or(100));
        }
        // The oldest kept entry on top; among equal times the one found last, so that the one
        // found first stays, as a stable sort would keep it.
        let mut oldest_first: BinaryHeap<Reverse<(DateTime<Utc>, Reverse<usize>)>> =
            BinaryHeap::new();
        let mut kept: HashMap<usize, SyncLogEntry> = HashMap::new();
        let mut found = 0_usize;
        self.table
            .query_each(request, "querying the sync log", |item| {
                let newest = ItemReader::new(item, "a sync log batch").time(AT)?;
                let full = limit > 0 && kept.len() >= limit;
                if full
                    && oldest_first
                        .peek()
                        .is_some_and(|Reverse((at, _))| *at > newest)
                {
                    return Ok(false);
                }
                for entry in decode_batch(item)?.into_iter().filter(|e| {
                    since.is_none_or(|since| e.at >= since) && outcomes.contains(&e.outcome)
                }) {
                    oldest_first.push(Reverse((entry.at, Reverse(found))));
                    kept.insert(found, entry);
                    found += 1;
                    if limit > 0
                        && kept.len() > limit
                        && let Some(Reverse((_, Reverse(dropped)))) = oldest_first.pop()
                    {
                        kept.remove(&dropped);
                    }
                }
                Ok(true)
            })
            .await?;
        let mut kept: Vec<(usize, SyncLogEntry)> = kept.into_iter().collect();
        kept.sort_by_key(|(seen, entry)| (Reverse(entry.at), *seen));
        Ok(kept.into_iter().map(|(_, entry)| entry).collect())
    }

    /// Failure items (failed and dead-lettered entries), newest first.
    async fn failure_entries(
        &self,
        query: &SyncLogQuery,
        outcomes: &[SyncOutcome],
    ) -> PortResult<Vec<SyncLogEntry>> {
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
                FAILURES.to_owned(),
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
        // Always a filter on outcome: entries written before the log was split into batches
        // kept every outcome in these partitions.
        let mut names = Vec::new();
        for (i, outcome) in outcomes.iter().enumerate() {
            names.push(format!(":outcome{i}"));
            request =
                request.expression_attribute_values(format!(":outcome{i}"), s(outcome.name()));
        }
        filters.push(format!("#{OUTCOME} IN ({})", names.join(", ")));
        request = request
            .expression_attribute_names(format!("#{OUTCOME}"), OUTCOME)
            .filter_expression(filters.join(" AND "));
        let limit = (query.limit > 0).then_some(query.limit);
        if let Some(limit) = limit {
            request = request.limit(i32::try_from(limit.min(PAGE_LIMIT)).unwrap_or(1));
        }
        let items = self
            .table
            .query_all(request, limit, "querying the sync log")
            .await?;
        items.iter().map(decode_failure).collect()
    }
}

fn newest_first(entries: &mut [SyncLogEntry]) {
    entries.sort_by_key(|e| std::cmp::Reverse(e.at));
}

fn decode_failure(item: &Item) -> PortResult<SyncLogEntry> {
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

/// Every entry a batch item holds, in the order written (oldest first).
fn decode_batch(item: &Item) -> PortResult<Vec<SyncLogEntry>> {
    let reader = ItemReader::new(item, "a sync log batch");
    let object = reader.string(OBJECT)?;
    let newest: i64 = reader.number(AT)?;
    let packed: Vec<Packed> = serde_json::from_str(&reader.string(ENTRIES)?)
        .map_err(|e| reader.corrupt(format!("attribute {ENTRIES} is not packed entries: {e}")))?;
    packed
        .into_iter()
        .map(|Packed(record, code, before, hubspot_id, reason)| {
            let before = i64::try_from(before).map_err(|_| {
                reader.corrupt(format!("entry of {record}: offset {before} too large"))
            })?;
            Ok(SyncLogEntry {
                at: DateTime::from_timestamp_nanos(newest.saturating_sub(before)),
                salesforce_object: object.clone(),
                record_id: SalesforceId::parse(&record)
                    .map_err(|e| reader.corrupt(format!("entry of {record}: {e}")))?,
                outcome: outcome_of(code).ok_or_else(|| {
                    reader.corrupt(format!("entry of {record}: unknown outcome `{code}`"))
                })?,
                reason,
                hubspot_id,
            })
        })
        .collect()
}

/// `entries` cut into batch items' shares: per object, oldest first, each within [`SPREAD`]
/// and [`MOST_PACKED_BYTES`].
fn batch_shares(entries: &[SyncLogEntry]) -> Vec<(&str, Vec<&SyncLogEntry>)> {
    let mut by_object: std::collections::BTreeMap<&str, Vec<&SyncLogEntry>> = Default::default();
    for entry in entries {
        by_object
            .entry(entry.salesforce_object.as_str())
            .or_default()
            .push(entry);
    }
    let mut shares = Vec::new();
    for (object, mut entries) in by_object {
        entries.sort_by_key(|e| e.at);
        let mut share: Vec<&SyncLogEntry> = Vec::new();
        let mut bytes = 0;
        for entry in entries {
            // Record id, outcome, offset and punctuation, plus what varies.
            let size = 48
                + entry.hubspot_id.as_ref().map_or(0, String::len)
                + entry.reason.as_ref().map_or(0, |r| r.len() * 2);
            let full = share.first().is_some_and(|first| {
                entry.at - first.at > SPREAD || bytes + size > MOST_PACKED_BYTES
            });
            if full {
                shares.push((object, std::mem::take(&mut share)));
                bytes = 0;
            }
            bytes += size;
            share.push(entry);
        }
        if !share.is_empty() {
            shares.push((object, share));
        }
    }
    shares
}

/// The lower bound of a time range as a sort-key prefix; `None` for no bound (or a bound before
/// 1970, below every key).
fn since_key(since: Option<DateTime<Utc>>) -> PortResult<Option<String>> {
    match since {
        Some(at) if at.timestamp() >= 0 => Ok(Some(time_key(at, "since")?)),
        _ => Ok(None),
    }
}

fn put(item: Item, doing: &str) -> PortResult<WriteRequest> {
    let put = built(PutRequest::builder().set_item(Some(item)).build(), doing)?;
    Ok(WriteRequest::builder().put_request(put).build())
}

fn delete(item: &Item, doing: &str) -> PortResult<WriteRequest> {
    let key = Item::from_iter(
        item.iter()
            .filter(|(name, _)| *name == PARTITION_KEY || *name == SORT_KEY)
            .map(|(name, value)| (name.clone(), value.clone())),
    );
    let delete = built(DeleteRequest::builder().set_key(Some(key)).build(), doing)?;
    Ok(WriteRequest::builder().delete_request(delete).build())
}

#[async_trait]
impl SyncLog for DynamoSyncLog {
    async fn append(&self, entries: &[SyncLogEntry]) -> PortResult<()> {
        let doing = "appending to the sync log";
        let mut requests = Vec::new();
        let unregistered = self.unregistered(entries);
        for object in &unregistered {
            requests.push(put(
                Item::from([
                    (PARTITION_KEY.to_owned(), s(OBJECTS)),
                    (SORT_KEY.to_owned(), s(object)),
                    (ENTITY_ATTRIBUTE.to_owned(), s(OBJECT_ENTITY)),
                    (OBJECT.to_owned(), s(object)),
                ]),
                doing,
            )?);
        }
        for (object, share) in batch_shares(entries) {
            requests.push(put(self.encode_batch(object, &share, None)?, doing)?);
        }
        for entry in entries.iter().filter(|e| e.outcome.is_failure()) {
            requests.push(put(self.encode_failure(entry)?, doing)?);
        }
        self.table.batch_write(requests, doing).await?;
        self.registered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(unregistered);
        Ok(())
    }

    async fn query(&self, query: &SyncLogQuery) -> PortResult<Vec<SyncLogEntry>> {
        let outcomes = query.readable_outcomes();
        if outcomes.is_empty() {
            return Ok(Vec::new());
        }
        if query.record_id.is_some() || outcomes.iter().all(|o| o.is_failure()) {
            return self.failure_entries(query, &outcomes).await;
        }
        self.batch_entries(
            query.salesforce_object.as_deref(),
            query.since,
            &outcomes,
            query.limit,
        )
        .await
    }

    async fn counts(
        &self,
        salesforce_object: &str,
        since: DateTime<Utc>,
    ) -> PortResult<OutcomeCounts> {
        let request = self.batches(salesforce_object, Some(since))?;
        let items = self
            .table
            .query_all(request, None, "counting the sync log")
            .await?;
        let mut counts = OutcomeCounts::default();
        for item in &items {
            for entry in decode_batch(item)?.iter().filter(|e| e.at >= since) {
                match entry.outcome {
                    SyncOutcome::Synced => counts.synced += 1,
                    SyncOutcome::Skipped => counts.skipped += 1,
                    SyncOutcome::Failed => counts.failed += 1,
                    SyncOutcome::DeadLettered => counts.dead_lettered += 1,
                }
            }
        }
        Ok(counts)
    }

    async fn expire(&self, before: DateTime<Utc>) -> PortResult<u64> {
        if before.timestamp() < 0 {
            return Ok(0);
        }
        // TTL removes items on its own (within a day or two of `ttl`); this is the explicit
        // path the port offers: key ranges below the cutoff, of the failures' timeline and of
        // each object's batches.
        let doing = "expiring the sync log";
        let below = |index: Option<&str>,
                     partition_key: &str,
                     partition: String,
                     sort_key: &str,
                     bound: DateTime<Utc>|
         -> PortResult<QueryFluentBuilder> {
            Ok(self
                .table
                .client
                .query()
                .set_index_name(index.map(str::to_owned))
                .key_condition_expression(format!(
                    "{partition_key} = :partition AND {sort_key} < :before"
                ))
                .expression_attribute_values(":partition", s(partition))
                .expression_attribute_values(":before", s(time_key(bound, "before")?)))
        };
        let mut requests = Vec::new();
        let failures = below(
            Some(TIMELINE_INDEX),
            TIMELINE_INDEX_PARTITION_KEY,
            FAILURES.to_owned(),
            TIMELINE_INDEX_SORT_KEY,
            before,
        )?;
        for item in &self.table.query_all(failures, None, doing).await? {
            requests.push(delete(item, doing)?);
        }
        // A batch item holding an entry before the cutoff has its newest within SPREAD of it.
        let mut batches = Vec::new();
        for object in self.objects().await? {
            let request = below(
                None,
                PARTITION_KEY,
                batch_partition(&object),
                SORT_KEY,
                before + SPREAD,
            )?;
            batches.extend(self.table.query_all(request, None, doing).await?);
        }
        let mut removed = 0_u64;
        for item in &batches {
            let entries = decode_batch(item)?;
            let kept: Vec<&SyncLogEntry> = entries.iter().filter(|e| e.at >= before).collect();
            removed += (entries.len() - kept.len()) as u64;
            if kept.is_empty() {
                requests.push(delete(item, doing)?);
            } else if kept.len() < entries.len() {
                // The newest entry stays, so the item keeps its keys.
                let reader = ItemReader::new(item, "a sync log batch");
                let object = reader.string(OBJECT)?;
                requests.push(put(self.encode_batch(&object, &kept, Some(item))?, doing)?);
            }
        }
        self.table.batch_write(requests, doing).await?;
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(object: &str, record: u32, at: DateTime<Utc>, outcome: SyncOutcome) -> SyncLogEntry {
        SyncLogEntry {
            at,
            salesforce_object: object.to_owned(),
            record_id: SalesforceId::parse(&format!("a0B{record:012}")).expect("id"),
            outcome,
            reason: outcome
                .is_failure()
                .then(|| "Amount__c = \"x\": not a number".to_owned()),
            hubspot_id: (!outcome.is_failure()).then(|| format!("1852{record}")),
        }
    }

    fn log() -> DynamoSyncLog {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .build();
        DynamoSyncLog::new(
            Arc::new(Table {
                client: aws_sdk_dynamodb::Client::from_conf(config),
                name: "t".to_owned(),
            }),
            Duration::from_secs(86_400),
        )
    }

    #[test]
    fn a_batch_item_holds_its_entries_exactly_and_expires_after_its_newest() {
        let at = DateTime::from_timestamp(1_788_000_000, 5_000_123).unwrap_or_default();
        let entries = [
            entry("Invoice__c", 1, at, SyncOutcome::Synced),
            entry(
                "Invoice__c",
                2,
                at + chrono::Duration::nanoseconds(17),
                SyncOutcome::Failed,
            ),
            entry(
                "Invoice__c",
                3,
                at + chrono::Duration::milliseconds(40),
                SyncOutcome::Skipped,
            ),
        ];
        let share: Vec<&SyncLogEntry> = entries.iter().collect();
        let item = log()
            .encode_batch("Invoice__c", &share, None)
            .expect("encode");
        assert_eq!(decode_batch(&item).expect("decode"), entries.to_vec());
        assert_eq!(
            item.get(TTL_ATTRIBUTE),
            Some(&n(entries[2].at.timestamp() + 86_400))
        );
        let key = item.get(SORT_KEY).and_then(|v| v.as_s().ok()).cloned();
        assert!(
            key.is_some_and(|k| k.starts_with(&time_key(entries[2].at, "t").expect("key"))),
            "keyed by its newest entry"
        );
    }

    #[test]
    fn an_append_is_cut_per_object_and_within_the_spread() {
        let at = DateTime::from_timestamp(1_788_000_000, 0).unwrap_or_default();
        let entries = vec![
            entry("Invoice__c", 1, at, SyncOutcome::Synced),
            entry("Payment__c", 2, at, SyncOutcome::Synced),
            entry("Invoice__c", 3, at + SPREAD, SyncOutcome::Synced),
            entry(
                "Invoice__c",
                4,
                at + SPREAD + chrono::Duration::seconds(1),
                SyncOutcome::Synced,
            ),
        ];
        let shares: Vec<(&str, usize)> = batch_shares(&entries)
            .iter()
            .map(|(object, share)| (*object, share.len()))
            .collect();
        assert_eq!(
            shares,
            vec![("Invoice__c", 2), ("Invoice__c", 1), ("Payment__c", 1)]
        );
    }

    #[test]
    fn a_large_append_is_cut_below_the_item_size_limit() {
        let at = DateTime::from_timestamp(1_788_000_000, 0).unwrap_or_default();
        let mut failed = entry("Invoice__c", 1, at, SyncOutcome::Failed);
        failed.reason = Some("x".repeat(10_000));
        let entries = vec![failed; 100];
        let shares = batch_shares(&entries);
        assert!(shares.len() > 1, "{} shares", shares.len());
        for (object, share) in &shares {
            let item = log().encode_batch(object, share, None).expect("encode");
            let packed = item
                .get(ENTRIES)
                .and_then(|v| v.as_s().ok())
                .map_or(0, String::len);
            assert!(packed < 400_000, "{packed} bytes");
        }
    }
}
