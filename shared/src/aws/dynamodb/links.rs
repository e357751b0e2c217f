//! The link journal (`RecordIndex::links`): beside each record's index entry, in its partition,
//! one item (`SK = LINKS`) with one attribute per journaled target, `L#<field>#<target id>`,
//! holding the token of its last journaling. Adding sets attributes (fresh tokens); removing is
//! an `UpdateItem` `REMOVE` conditioned on the tokens read, so a target journaled again
//! meanwhile stays.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::KeysAndAttributes;

use super::item::{Item, n, s};
use super::{BACKEND, ENTITY_ATTRIBUTE, PARTITION_KEY, SORT_KEY, Table, built};
use crate::aws::error::port_error;
use crate::aws::{BATCH_ATTEMPTS, backoff};
use crate::domain::{RecordKey, SalesforceId};
use crate::ports::{LinkRecord, PortError, PortResult, RecordLinks, new_write_id};

const SORT: &str = "LINKS";
const ENTITY: &str = "links";
const LINK_PREFIX: &str = "L#";

fn partition(record: &RecordKey) -> String {
    format!("RECORD#{}#{}", record.object, record.record_id.as_str())
}

fn item_key(record: &RecordKey) -> Item {
    Item::from([
        (PARTITION_KEY.to_owned(), s(partition(record))),
        (SORT_KEY.to_owned(), s(SORT)),
    ])
}

/// The record a journal item belongs to, from its partition key.
fn record_of(item: &Item) -> PortResult<RecordKey> {
    let corrupt = |reason: String| PortError::Corrupt {
        what: "a link journal item".into(),
        reason,
    };
    let partition = item
        .get(PARTITION_KEY)
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| corrupt("it has no partition key".into()))?;
    let rest = partition
        .strip_prefix("RECORD#")
        .ok_or_else(|| corrupt(format!("{partition} is not a record's")))?;
    let (object, id) = rest
        .rsplit_once('#')
        .ok_or_else(|| corrupt(format!("{partition} names no record")))?;
    Ok(RecordKey {
        object: object.to_owned(),
        record_id: SalesforceId::parse(id).map_err(|e| corrupt(format!("{partition}: {e}")))?,
    })
}

pub(super) async fn links(
    table: &Table,
    records: &[RecordKey],
) -> PortResult<HashMap<RecordKey, RecordLinks>> {
    let mut unique = records.to_vec();
    unique.sort();
    unique.dedup();
    let mut found = HashMap::new();
    for chunk in unique.chunks(super::BATCH_GET_LIMIT) {
        let keys = chunk.iter().map(item_key).collect();
        for item in batch_get(table, keys, "reading the link journal").await? {
            let record = record_of(&item)?;
            let mut links = RecordLinks::new();
            for (name, value) in &item {
                let Some(rest) = name.strip_prefix(LINK_PREFIX) else {
                    continue;
                };
                let corrupt = |reason: &str| PortError::Corrupt {
                    what: format!("the link journal of {record}"),
                    reason: format!("{name} {reason}"),
                };
                let (field, target) = rest
                    .rsplit_once('#')
                    .ok_or_else(|| corrupt("names no field and target"))?;
                let token = value
                    .as_n()
                    .ok()
                    .and_then(|n| n.parse::<u64>().ok())
                    .ok_or_else(|| corrupt("holds no token"))?;
                links
                    .entry(field.to_owned())
                    .or_default()
                    .insert(target.to_owned(), token);
            }
            found.insert(record, links);
        }
    }
    Ok(found)
}

fn link_attribute(link: &LinkRecord) -> String {
    format!("{LINK_PREFIX}{}#{}", link.field, link.target)
}

fn by_record(links: &[LinkRecord]) -> BTreeMap<&RecordKey, Vec<&LinkRecord>> {
    let mut grouped: BTreeMap<&RecordKey, Vec<&LinkRecord>> = BTreeMap::new();
    for link in links {
        grouped.entry(&link.record).or_default().push(link);
    }
    grouped
}

/// Sets each link's attribute to a fresh token, one `UpdateItem` per record.
pub(super) async fn add(table: &Table, links: &[LinkRecord]) -> PortResult<()> {
    for (record, links) in by_record(links) {
        let mut update = table
            .client
            .update_item()
            .table_name(&table.name)
            .set_key(Some(item_key(record)))
            .expression_attribute_names("#entity", ENTITY_ATTRIBUTE)
            .expression_attribute_values(":entity", s(ENTITY));
        let mut sets = vec!["#entity = :entity".to_owned()];
        for (i, link) in links.iter().enumerate() {
            update = update
                .expression_attribute_names(format!("#l{i}"), link_attribute(link))
                .expression_attribute_values(format!(":t{i}"), n(new_write_id()));
            sets.push(format!("#l{i} = :t{i}"));
        }
        update
            .update_expression(format!("SET {}", sets.join(", ")))
            .send()
            .await
            .map_err(|e| {
                port_error(
                    BACKEND,
                    &format!("journaling the associations of {record}"),
                    e,
                )
            })?;
    }
    Ok(())
}

/// Removes each link whose token is still the one given: one conditional `UpdateItem` per
/// record, then, when a token moved, one per link (the moved one stays).
pub(super) async fn remove(table: &Table, links: &[LinkRecord]) -> PortResult<()> {
    for (record, links) in by_record(links) {
        if remove_if_unchanged(table, record, &links).await? {
            continue;
        }
        for link in links {
            remove_if_unchanged(table, record, &[link]).await?;
        }
    }
    Ok(())
}

/// `false` when a token was not the one given (nothing was removed).
async fn remove_if_unchanged(
    table: &Table,
    record: &RecordKey,
    links: &[&LinkRecord],
) -> PortResult<bool> {
    let mut update = table
        .client
        .update_item()
        .table_name(&table.name)
        .set_key(Some(item_key(record)));
    let mut removes = Vec::new();
    let mut conditions = Vec::new();
    for (i, link) in links.iter().enumerate() {
        update = update
            .expression_attribute_names(format!("#l{i}"), link_attribute(link))
            .expression_attribute_values(format!(":t{i}"), n(link.token));
        removes.push(format!("#l{i}"));
        conditions.push(format!("#l{i} = :t{i}"));
    }
    match update
        .update_expression(format!("REMOVE {}", removes.join(", ")))
        .condition_expression(conditions.join(" AND "))
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(error) => match error.as_service_error() {
            Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(false),
            _ => Err(port_error(
                BACKEND,
                &format!("forgetting removed associations of {record}"),
                error,
            )),
        },
    }
}

/// `BatchGetItem` of at most 100 keys (consistent), re-asking for `UnprocessedKeys` with
/// backoff; the items that exist.
pub(super) async fn batch_get(
    table: &Table,
    keys: Vec<Item>,
    doing: &str,
) -> PortResult<Vec<Item>> {
    let mut pending = built(
        KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(true)
            .build(),
        doing,
    )?;
    let mut found = Vec::new();
    for attempt in 0..BATCH_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(backoff(attempt)).await;
        }
        let output = table
            .client
            .batch_get_item()
            .request_items(&table.name, pending)
            .send()
            .await
            .map_err(|e| port_error(BACKEND, &format!("{doing} in {}", table.name), e))?;
        found.extend(
            output
                .responses()
                .and_then(|r| r.get(&table.name))
                .into_iter()
                .flatten()
                .cloned(),
        );
        match output
            .unprocessed_keys()
            .and_then(|u| u.get(&table.name))
            .filter(|k| !k.keys().is_empty())
        {
            Some(left) => pending = left.clone(),
            None => return Ok(found),
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
