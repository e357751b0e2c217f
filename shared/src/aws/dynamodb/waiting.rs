//! Records waiting for their lookup's target (`RecordIndex::wait_for`): one item per target
//! (`PK = WAITING#<object>#<id>`), one attribute per waiter (`W#<object>#<id>`), so recording a
//! waiter is one `UpdateItem` and taking a target's waiters one `DeleteItem` that returns them.
//! A target never written leaves its item to the table's TTL.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::ReturnValue;

use super::item::{Item, n, s};
use super::{BACKEND, ENTITY_ATTRIBUTE, PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE, Table};
use crate::aws::error::port_error;
use crate::domain::{RecordKey, SalesforceId};
use crate::ports::{PortError, PortResult};

const SORT: &str = "WAITING";
const ENTITY: &str = "waiting";
const WAITER_PREFIX: &str = "W#";
/// A waiter's own retry dead-letters it well before this (`association_max_wait`).
const LIFETIME: chrono::TimeDelta = chrono::TimeDelta::days(14);

fn item_key(target: &RecordKey) -> Item {
    Item::from([
        (
            PARTITION_KEY.to_owned(),
            s(format!(
                "WAITING#{}#{}",
                target.object,
                target.record_id.as_str()
            )),
        ),
        (SORT_KEY.to_owned(), s(SORT)),
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
    let mut unique: Vec<RecordKey> = targets.to_vec();
    unique.sort();
    unique.dedup();
    let mut taken = Vec::new();
    for chunk in unique.chunks(super::BATCH_GET_LIMIT) {
        // Which targets have waiters: one read for the chunk; then one delete per target found,
        // which returns the waiters it removed (one recorded meanwhile among them).
        for key in waited_for(table, chunk).await? {
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

/// The keys, among `targets`', of the items that exist.
async fn waited_for(table: &Table, targets: &[RecordKey]) -> PortResult<Vec<Item>> {
    let keys = targets.iter().map(item_key).collect();
    let found =
        super::links::batch_get(table, keys, "reading which records wait for their target").await?;
    Ok(found
        .into_iter()
        .map(|item| {
            item.into_iter()
                .filter(|(k, _)| k == PARTITION_KEY || k == SORT_KEY)
                .collect::<Item>()
        })
        .collect())
}
