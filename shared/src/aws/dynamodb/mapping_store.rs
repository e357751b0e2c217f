//! Mapping configs: one item per Salesforce object in the `MAPPING` partition (a handful of
//! items, so one partition lists them in order with a strongly consistent query), written with
//! conditional puts on `version`.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
use chrono::Utc;

use super::item::{Item, ItemReader, n, nanos, s};
use super::{BACKEND, ENTITY_ATTRIBUTE, PARTITION_KEY, SORT_KEY, Table};
use crate::aws::error::port_error;
use crate::mapping::{Mapping, MappingStatus};
use crate::ports::{MappingStore, PortError, PortResult, StoredMapping};

const PARTITION: &str = "MAPPING";
const ENTITY: &str = "mapping";
const BODY: &str = "body";
const VERSION: &str = "version";
const UPDATED_AT: &str = "updated_at_ns";

/// How often `set_status` re-reads and retries when another write slips in between.
const STATUS_ATTEMPTS: u32 = 5;

/// [`MappingStore`] on the DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoMappingStore {
    table: Arc<Table>,
}

fn what(salesforce_object: &str) -> String {
    format!("the mapping of {salesforce_object}")
}

fn sort_key(salesforce_object: &str) -> String {
    format!("OBJECT#{salesforce_object}")
}

fn key(salesforce_object: &str) -> Item {
    Item::from([
        (PARTITION_KEY.to_owned(), s(PARTITION)),
        (SORT_KEY.to_owned(), s(sort_key(salesforce_object))),
    ])
}

fn decode(item: &Item) -> PortResult<StoredMapping> {
    let object = item
        .get(SORT_KEY)
        .and_then(|v| v.as_s().ok())
        .and_then(|k| k.strip_prefix("OBJECT#"))
        .unwrap_or("?");
    let reader = ItemReader::new(item, &what(object));
    let body = reader.string(BODY)?;
    let mapping: Mapping =
        serde_json::from_str(&body).map_err(|e| reader.corrupt(e.to_string()))?;
    Ok(StoredMapping {
        mapping,
        version: reader.number(VERSION)?,
        updated_at: reader.time(UPDATED_AT)?,
    })
}

/// The version of an item returned by a failed condition; 0 for "no mapping".
fn version_of(item: Option<&Item>, salesforce_object: &str) -> PortResult<u64> {
    match item {
        Some(item) if !item.is_empty() => {
            ItemReader::new(item, &what(salesforce_object)).number(VERSION)
        }
        _ => Ok(0),
    }
}

impl DynamoMappingStore {
    pub(crate) fn new(table: Arc<Table>) -> Self {
        DynamoMappingStore { table }
    }

    /// One conditional `PutItem`: creates (no item may exist) or replaces the item whose
    /// version is `expected`.
    async fn write(&self, mapping: &Mapping, expected: Option<u64>) -> PortResult<u64> {
        let object = &mapping.salesforce_object;
        let body = serde_json::to_string(mapping).map_err(|e| {
            PortError::invalid_because(format!("{} cannot be serialised: {e}", what(object)), e)
        })?;
        let next = expected.map_or(1, |v| v + 1);
        let mut item = key(object);
        item.insert(ENTITY_ATTRIBUTE.to_owned(), s(ENTITY));
        item.insert(BODY.to_owned(), s(body));
        item.insert(VERSION.to_owned(), n(next));
        item.insert(UPDATED_AT.to_owned(), n(nanos(Utc::now(), "the clock")?));
        let mut request = self
            .table
            .client
            .put_item()
            .table_name(&self.table.name)
            .set_item(Some(item))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        request = match expected {
            None => request.condition_expression(format!("attribute_not_exists({PARTITION_KEY})")),
            Some(version) => request
                .condition_expression(format!("#{VERSION} = :expected"))
                .expression_attribute_names(format!("#{VERSION}"), VERSION)
                .expression_attribute_values(":expected", n(version)),
        };
        match request.send().await {
            Ok(_) => Ok(next),
            Err(error) => {
                if let Some(PutItemError::ConditionalCheckFailedException(failed)) =
                    error.as_service_error()
                {
                    let found = match failed.item() {
                        Some(item) => version_of(Some(item), object)?,
                        // A backend that does not return the item: read it.
                        None => self.get(object).await?.map_or(0, |s| s.version),
                    };
                    return Err(PortError::VersionConflict {
                        what: what(object),
                        expected: expected.unwrap_or(0),
                        found,
                    });
                }
                Err(port_error(
                    BACKEND,
                    &format!("writing {}", what(object)),
                    error,
                ))
            }
        }
    }
}

#[async_trait]
impl MappingStore for DynamoMappingStore {
    async fn get(&self, salesforce_object: &str) -> PortResult<Option<StoredMapping>> {
        let output = self
            .table
            .client
            .get_item()
            .table_name(&self.table.name)
            .set_key(Some(key(salesforce_object)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error(BACKEND, &format!("reading {}", what(salesforce_object)), e))?;
        output.item().map(decode).transpose()
    }

    async fn list(&self) -> PortResult<Vec<StoredMapping>> {
        let query = self
            .table
            .client
            .query()
            .key_condition_expression(format!("{PARTITION_KEY} = :partition"))
            .expression_attribute_values(":partition", s(PARTITION))
            .consistent_read(true);
        let items = self
            .table
            .query_all(query, None, "listing mappings")
            .await?;
        // Sorted by SK = "OBJECT#<name>", i.e. by object name.
        items.iter().map(decode).collect()
    }

    async fn put(&self, mapping: &Mapping, expected_version: Option<u64>) -> PortResult<u64> {
        self.write(mapping, expected_version).await
    }

    async fn set_status(&self, salesforce_object: &str, status: MappingStatus) -> PortResult<u64> {
        // Read, change, write back naming the version read: a concurrent write makes the put
        // fail, and the loop starts over from the newer mapping.
        let mut last_conflict = None;
        for _ in 0..STATUS_ATTEMPTS {
            let Some(mut stored) = self.get(salesforce_object).await? else {
                return Err(PortError::NotFound {
                    what: what(salesforce_object),
                });
            };
            stored.mapping.status = status;
            match self.write(&stored.mapping, Some(stored.version)).await {
                Err(conflict @ PortError::VersionConflict { .. }) => last_conflict = Some(conflict),
                other => return other,
            }
        }
        Err(last_conflict.unwrap_or_else(|| PortError::Unavailable {
            backend: BACKEND,
            reason: format!("{} keeps changing; try again", what(salesforce_object)),
        }))
    }

    async fn delete(&self, salesforce_object: &str) -> PortResult<bool> {
        let output = self
            .table
            .client
            .delete_item()
            .table_name(&self.table.name)
            .set_key(Some(key(salesforce_object)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| {
                port_error(BACKEND, &format!("deleting {}", what(salesforce_object)), e)
            })?;
        Ok(output.attributes().is_some_and(|a| !a.is_empty()))
    }
}
