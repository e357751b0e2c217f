//! The record index: one item per Salesforce record (`PK = RECORD#<object>#<id>`), so that every
//! record is its own partition and concurrent workers only meet on the same record. The
//! "newer wins" rule is one conditional `PutItem`; counts per object come from `GSI3`
//! (`GSI3PK = RECORDS#<object>`), which projects keys only: a record's later writes keep its
//! keys, so only its first write costs the index a write unit.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, ReturnValue, ReturnValuesOnConditionCheckFailure, Select,
};

use super::item::{Item, ItemReader, n, nanos, s};
use super::{
    BACKEND, BATCH_GET_LIMIT, ENTITY_ATTRIBUTE, GROUP_INDEX, GROUP_INDEX_PARTITION_KEY,
    PARTITION_KEY, RECORDS_INDEX, RECORDS_INDEX_PARTITION_KEY, RECORDS_INDEX_SORT_KEY, SORT_KEY,
    Table, built,
};
use crate::aws::error::port_error;
use crate::aws::{BATCH_ATTEMPTS, backoff};
use crate::domain::{RecordKey, SalesforceId};
use crate::ports::{
    IndexEntry, IndexWrite, LinkRecord, PortError, PortResult, RecordIndex, RecordLinks,
    new_write_id,
};

const SORT: &str = "RECORD";
const ENTITY: &str = "record";
const OBJECT: &str = "object";
const RECORD_ID: &str = "record_id";
const HUBSPOT_ID: &str = "hubspot_id";
const MODSTAMP: &str = "modstamp_ns";
const CONTENT_HASH: &str = "content_hash";
const DELETED: &str = "deleted";
const WRITE_ID: &str = "write_id";

/// Conditional writes `put_many_if_newer` keeps in flight (as the worker's default).
const PUTS_IN_FLIGHT: usize = 16;

/// How often `put_if_newer` re-tries when the backend does not say what beat it and the re-read
/// shows nothing newer (the newer entry went away in between).
const PUT_ATTEMPTS: u32 = 5;

/// [`RecordIndex`] on the DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoRecordIndex {
    table: Arc<Table>,
}

fn what(key: &RecordKey) -> String {
    format!("the index entry of {key}")
}

fn partition_key(key: &RecordKey) -> String {
    format!("RECORD#{}#{}", key.object, key.record_id.as_str())
}

fn item_key(key: &RecordKey) -> Item {
    Item::from([
        (PARTITION_KEY.to_owned(), s(partition_key(key))),
        (SORT_KEY.to_owned(), s(SORT)),
    ])
}

fn group_key(object: &str) -> String {
    format!("RECORDS#{object}")
}

fn encode(key: &RecordKey, entry: &IndexEntry) -> PortResult<Item> {
    let mut item = item_key(key);
    item.insert(ENTITY_ATTRIBUTE.to_owned(), s(ENTITY));
    item.insert(
        RECORDS_INDEX_PARTITION_KEY.to_owned(),
        s(group_key(&key.object)),
    );
    item.insert(RECORDS_INDEX_SORT_KEY.to_owned(), s(key.record_id.as_str()));
    item.insert(OBJECT.to_owned(), s(&key.object));
    item.insert(RECORD_ID.to_owned(), s(key.record_id.as_str()));
    item.insert(MODSTAMP.to_owned(), n(nanos(entry.modstamp, "modstamp")?));
    item.insert(CONTENT_HASH.to_owned(), s(&entry.content_hash));
    item.insert(DELETED.to_owned(), AttributeValue::Bool(entry.deleted));
    // Each write draws its own, so the next writer can tell it from the entry it read.
    item.insert(WRITE_ID.to_owned(), n(new_write_id()));
    if let Some(hubspot_id) = &entry.hubspot_id {
        item.insert(HUBSPOT_ID.to_owned(), s(hubspot_id));
    }
    Ok(item)
}

fn decode_entry(item: &Item, what: &str) -> PortResult<IndexEntry> {
    let reader = ItemReader::new(item, what);
    Ok(IndexEntry {
        hubspot_id: reader.opt_string(HUBSPOT_ID)?,
        modstamp: reader.time(MODSTAMP)?,
        content_hash: reader.string(CONTENT_HASH)?,
        deleted: reader.boolean(DELETED)?,
        write_id: reader.opt_number(WRITE_ID)?.unwrap_or(0),
    })
}

/// The record key an item stores (for `get_many`, whose answers come back unordered).
fn decode_key(item: &Item) -> PortResult<RecordKey> {
    let reader = ItemReader::new(item, "an index entry");
    let record_id = reader.string(RECORD_ID)?;
    Ok(RecordKey {
        object: reader.string(OBJECT)?,
        record_id: SalesforceId::parse(&record_id).map_err(|e| reader.corrupt(e.to_string()))?,
    })
}

impl DynamoRecordIndex {
    pub(crate) fn new(table: Arc<Table>) -> Self {
        DynamoRecordIndex { table }
    }

    /// One `BatchGetItem` of at most 100 keys, re-asking for `UnprocessedKeys` with backoff.
    async fn get_chunk(
        &self,
        keys: &[RecordKey],
        found: &mut HashMap<RecordKey, IndexEntry>,
    ) -> PortResult<()> {
        let doing = "reading the record index";
        let mut pending = built(
            KeysAndAttributes::builder()
                .set_keys(Some(keys.iter().map(item_key).collect()))
                .consistent_read(true)
                .build(),
            doing,
        )?;
        for attempt in 0..BATCH_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let output = self
                .table
                .client
                .batch_get_item()
                .request_items(&self.table.name, pending)
                .send()
                .await
                .map_err(|e| port_error(BACKEND, &format!("{doing} in {}", self.table.name), e))?;
            for item in output
                .responses()
                .and_then(|r| r.get(&self.table.name))
                .into_iter()
                .flatten()
            {
                let key = decode_key(item)?;
                let entry = decode_entry(item, &what(&key))?;
                found.insert(key, entry);
            }
            match output
                .unprocessed_keys()
                .and_then(|u| u.get(&self.table.name))
                .filter(|k| !k.keys().is_empty())
            {
                Some(left) => pending = left.clone(),
                None => return Ok(()),
            }
        }
        Err(PortError::Unavailable {
            backend: BACKEND,
            reason: format!(
                "{doing}: keys still unprocessed after {BATCH_ATTEMPTS} attempts (the table is \
                 throttled)"
            ),
        })
    }
}

#[async_trait]
impl RecordIndex for DynamoRecordIndex {
    async fn get(&self, key: &RecordKey) -> PortResult<Option<IndexEntry>> {
        let output = self
            .table
            .client
            .get_item()
            .table_name(&self.table.name)
            .set_key(Some(item_key(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error(BACKEND, &format!("reading {}", what(key)), e))?;
        output
            .item()
            .map(|item| decode_entry(item, &what(key)))
            .transpose()
    }

    async fn get_many(&self, keys: &[RecordKey]) -> PortResult<HashMap<RecordKey, IndexEntry>> {
        let mut unique: Vec<RecordKey> = keys.to_vec();
        // BatchGetItem refuses duplicate keys in one request.
        unique.sort();
        unique.dedup();
        let mut found = HashMap::with_capacity(unique.len());
        for chunk in unique.chunks(BATCH_GET_LIMIT) {
            self.get_chunk(chunk, &mut found).await?;
        }
        Ok(found)
    }

    async fn put_if_newer(&self, key: &RecordKey, entry: &IndexEntry) -> PortResult<IndexWrite> {
        let item = encode(key, entry)?;
        let modstamp = nanos(entry.modstamp, "modstamp")?;
        for _ in 0..PUT_ATTEMPTS {
            // One conditional write: DynamoDB compares and writes atomically, so concurrent
            // workers cannot interleave between the comparison and the write.
            let result = self
                .table
                .client
                .put_item()
                .table_name(&self.table.name)
                .set_item(Some(item.clone()))
                .condition_expression(format!(
                    "attribute_not_exists({PARTITION_KEY}) OR {MODSTAMP} <= :new"
                ))
                .expression_attribute_values(":new", n(modstamp))
                .return_values(ReturnValue::AllOld)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            match result {
                Ok(output) => {
                    let previous = output
                        .attributes()
                        .filter(|old| !old.is_empty())
                        .map(|old| decode_entry(old, &what(key)))
                        .transpose()?;
                    return Ok(match previous {
                        Some(old) if old.modstamp == entry.modstamp => IndexWrite::Refreshed {
                            previous_write: old.write_id,
                        },
                        old => IndexWrite::Written {
                            previous: old.as_ref().map(|o| o.modstamp),
                            previous_write: old.map(|o| o.write_id),
                        },
                    });
                }
                Err(error) => {
                    let Some(PutItemError::ConditionalCheckFailedException(failed)) =
                        error.as_service_error()
                    else {
                        return Err(port_error(
                            BACKEND,
                            &format!("writing {}", what(key)),
                            error,
                        ));
                    };
                    let current = match failed.item().filter(|i| !i.is_empty()) {
                        Some(item) => Some(decode_entry(item, &what(key))?),
                        // A backend that does not return the item: read it consistently.
                        None => self.get(key).await?,
                    };
                    match current {
                        Some(current) if current.modstamp > entry.modstamp => {
                            return Ok(IndexWrite::Stale { current });
                        }
                        // What beat us is gone or no longer newer: try the write again.
                        _ => continue,
                    }
                }
            }
        }
        Err(PortError::Unavailable {
            backend: BACKEND,
            reason: format!(
                "{} keeps changing under concurrent writers; retry",
                what(key)
            ),
        })
    }

    /// One record's entries in order; different records concurrently, [`PUTS_IN_FLIGHT`] at a
    /// time (there is no batch form of a conditional write): the bulk path of the Imports API's
    /// ledger, a round trip per 16 entries rather than per entry.
    async fn put_many_if_newer(
        &self,
        entries: &[(RecordKey, IndexEntry)],
    ) -> PortResult<Vec<IndexWrite>> {
        use futures_util::{StreamExt, TryStreamExt};
        let mut by_key: HashMap<&RecordKey, Vec<usize>> = HashMap::new();
        for (position, (key, _)) in entries.iter().enumerate() {
            by_key.entry(key).or_default().push(position);
        }
        let written: Vec<Vec<(usize, IndexWrite)>> =
            futures_util::stream::iter(by_key.into_values().map(|positions| async move {
                let mut done = Vec::with_capacity(positions.len());
                for position in positions {
                    let (key, entry) = &entries[position];
                    done.push((position, self.put_if_newer(key, entry).await?));
                }
                Ok::<_, PortError>(done)
            }))
            .buffer_unordered(PUTS_IN_FLIGHT)
            .try_collect()
            .await?;
        let mut outcomes: Vec<Option<IndexWrite>> = (0..entries.len()).map(|_| None).collect();
        for (position, outcome) in written.into_iter().flatten() {
            outcomes[position] = Some(outcome);
        }
        Ok(outcomes.into_iter().flatten().collect())
    }

    async fn wait_for(&self, links: &[(RecordKey, RecordKey)]) -> PortResult<()> {
        super::waiting::wait_for(&self.table, links).await
    }

    async fn take_waiting(&self, targets: &[RecordKey]) -> PortResult<Vec<RecordKey>> {
        super::waiting::take_waiting(&self.table, targets).await
    }

    async fn links(&self, records: &[RecordKey]) -> PortResult<HashMap<RecordKey, RecordLinks>> {
        super::links::links(&self.table, records).await
    }

    async fn add_links(&self, links: &[LinkRecord]) -> PortResult<()> {
        super::links::add(&self.table, links).await
    }

    async fn remove_links(&self, links: &[LinkRecord]) -> PortResult<()> {
        super::links::remove(&self.table, links).await
    }

    async fn count(&self, object: &str) -> PortResult<u64> {
        // Entries written before `GSI3` existed are in `GSI1` until their next write moves
        // them (the write drops `GSI1PK`): each entry is in exactly one of the two.
        let mut total = 0_u64;
        for (index, partition_key) in [
            (RECORDS_INDEX, RECORDS_INDEX_PARTITION_KEY),
            (GROUP_INDEX, GROUP_INDEX_PARTITION_KEY),
        ] {
            total += self.count_in(object, index, partition_key).await?;
        }
        Ok(total)
    }
}

impl DynamoRecordIndex {
    /// The entries of `object` in one index, by `Select = COUNT` pages.
    async fn count_in(&self, object: &str, index: &str, partition_key: &str) -> PortResult<u64> {
        let mut total = 0_u64;
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .table
                .client
                .query()
                .table_name(&self.table.name)
                .index_name(index)
                .key_condition_expression(format!("{partition_key} = :group"))
                .expression_attribute_values(":group", s(group_key(object)))
                .select(Select::Count)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| {
                    port_error(
                        BACKEND,
                        &format!("counting the index entries of {object}"),
                        e,
                    )
                })?;
            total += u64::try_from(page.count()).unwrap_or(0);
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(total),
            }
        }
    }
}
