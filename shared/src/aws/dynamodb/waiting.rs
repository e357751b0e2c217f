//! Records waiting for their lookup's target (`RecordIndex::wait_for`): one item per target,
//! the targets of one object in one partition (`PK = WAITING#<object>`, `SK = <target id>`),
//! one attribute per waiter (`W#<object>#<id>`). Recording a waiter is one `UpdateItem`;
//! taking a batch's waiters starts with one consistent `Query` of the object's partition, which
//! costs about one read unit when nothing waits (the usual case) where reading each target's
//! key would cost one per target; a partition of more than a page falls back to reading the
//! targets' keys. Each target found is one `DeleteItem` that returns its waiters. A target
//! never written leaves its item to the table's TTL.

use std::collections::{BTreeMap, HashSet};

use aws_sdk_dynamodb::types::ReturnValue;

use super::item::{Item, n, s};
use super::{BACKEND, ENTITY_ATTRIBUTE, PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE, Table};
use crate::aws::error::port_error;
use crate::domain::{RecordKey, SalesforceId};
use crate::ports::{PortError, PortResult};

const ENTITY: &str = "waiting";
const WAITER_PREFIX: &str = "W#";
/// A waiter's own retry dead-letters it well before this (`association_max_wait`).
const LIFETIME: chrono::TimeDelta = chrono::TimeDelta::days(14);
/// The most waiting targets of one object read in one query; beyond it, the batch's targets
/// are read by key instead (a backfill whose records wait for targets not written yet).
const PARTITION_PAGE: i32 = 100;

fn partition(object: &str) -> String {
    format!("WAITING#{object}")
}

fn item_key(target: &RecordKey) -> Item {
    Item::from([
        (PARTITION_KEY.to_owned(), s(partition(&target.object))),
        (SORT_KEY.to_owned(), s(target.record_id.as_str())),
    ])
}

fn waiter_attribute(waiter: &RecordKey) -> String {
    format!(
        "{WAITER_PREFIX}{}#{}",
        waiter.object,
        waiter.record_id.as_str()
    )
}

fn waiter_of(attribute: &str) -> Option<PortResult<RecordKey>> {
    let rest = attribute.strip_prefix(WAITER_PREFIX)?;
    Some(match rest.rsplit_once('#') {
        Some((object, id)) => SalesforceId::parse(id)
            .map(|record_id| RecordKey {
                object: object.to_owned(),
                record_id,
            })
            .map_err(|e| PortError::Corrupt {
                what: "a record waiting for its target".into(),
                reason: format!("{attribute}: {e}"),
            }),
        None => Err(PortError::Corrupt {
            what: "a record waiting for its target".into(),
            reason: format!("{attribute} names no record"),
        }),
    })
}

pub(super) async fn wait_for(table: &Table, links: &[(RecordKey, RecordKey)]) -> PortResult<()> {
    let mut by_target: BTreeMap<&RecordKey, Vec<&RecordKey>> = BTreeMap::new();
    for (target, waiter) in links {
        by_target.entry(target).or_default().push(waiter);
    }
    let now = chrono::Utc::now();
    for (target, waiters) in by_target {
        let mut update = table
            .client
            .update_item()
            .table_name(&table.name)
            .set_key(Some(item_key(target)))
            .expression_attribute_names("#entity", ENTITY_ATTRIBUTE)
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":entity", s(ENTITY))
            .expression_attribute_values(":ttl", n((now + LIFETIME).timestamp()))
            .expression_attribute_values(":since", n(now.timestamp_millis()));
        let mut sets = vec!["#entity = :entity".to_owned(), "#ttl = :ttl".to_owned()];
        for (i, waiter) in waiters.iter().enumerate() {
            update = update.expression_attribute_names(format!("#w{i}"), waiter_attribute(waiter));
            sets.push(format!("#w{i} = if_not_exists(#w{i}, :since)"));
        }
        update
            .update_expression(format!("SET {}", sets.join(", ")))
            .send()
            .await
            .map_err(|e| {
                port_error(
                    BACKEND,
                    &format!("recording the records waiting for {target}"),
                    e,
                )
            })?;
    }
    Ok(())
}

pub(super) async fn take_waiting(
    table: &Table,
    targets: &[RecordKey],
) -> PortResult<Vec<RecordKey>> {
    let mut by_object: BTreeMap<&str, Vec<RecordKey>> = BTreeMap::new();
    for target in targets {
        by_object
            .entry(target.object.as_str())
            .or_default()
            .push(target.clone());
    }
    let mut taken = Vec::new();
    for (object, mut targets) in by_object {
        targets.sort();
        targets.dedup();
        // Which targets have waiters; then one delete per target found, which returns the
        // waiters it removed (one recorded meanwhile among them).
        for key in waited_for(table, object, &targets).await? {
            let output = table
                .client
                .delete_item()
                .table_name(&table.name)
                .set_key(Some(key))
                .return_values(ReturnValue::AllOld)
                .send()
                .await
                .map_err(|e| port_error(BACKEND, "taking the records waiting for a target", e))?;
            for attribute in output.attributes().into_iter().flat_map(|a| a.keys()) {
                if let Some(waiter) = waiter_of(attribute) {
                    let waiter = waiter?;
                    if !taken.contains(&waiter) {
                        taken.push(waiter);
                    }
                }
            }
        }
    }
    Ok(taken)
}

/// The keys, among `targets`' (all of `object`), of the waiting items that exist: the
/// object's partition when it fits a page, else the targets read by key.
async fn waited_for(table: &Table, object: &str, targets: &[RecordKey]) -> PortResult<Vec<Item>> {
    let doing = "reading which records wait for their target";
    let page = table
        .client
        .query()
        .table_name(&table.name)
        .key_condition_expression(format!("{PARTITION_KEY} = :partition"))
        .expression_attribute_values(":partition", s(partition(object)))
        .projection_expression(format!("{PARTITION_KEY}, {SORT_KEY}"))
        .consistent_read(true)
        .limit(PARTITION_PAGE)
        .send()
        .await
        .map_err(|e| port_error(BACKEND, &format!("{doing} in {}", table.name), e))?;
    let found: Vec<Item> = if page.last_evaluated_key().is_some_and(|k| !k.is_empty()) {
        let mut found = Vec::new();
        for chunk in targets.chunks(super::BATCH_GET_LIMIT) {
            let keys = chunk.iter().map(item_key).collect();
            found.extend(super::links::batch_get(table, keys, doing).await?);
        }
        found
    } else {
        let wanted: HashSet<&str> = targets.iter().map(|t| t.record_id.as_str()).collect();
        page.items()
            .iter()
            .filter(|item| {
                item.get(SORT_KEY)
                    .and_then(|v| v.as_s().ok())
                    .is_some_and(|id| wanted.contains(id.as_str()))
            })
            .cloned()
            .collect()
    };
    Ok(found
        .into_iter()
        .map(|item| {
            item.into_iter()
                .filter(|(k, _)| k == PARTITION_KEY || k == SORT_KEY)
                .collect::<Item>()
        })
        .collect())
}
