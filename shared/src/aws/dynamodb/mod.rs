//! The store ports on one DynamoDB table (single-table design, see `docs/dynamodb.md`).
//!
//! Every item has a typed partition key (`PK`, e.g. `RECORD#Invoice__c#a01…`) and sort key
//! (`SK`); two overloaded global secondary indexes serve the list and time-ordered queries, and a
//! keys-only one counts the record index per object.
//! The key names and types live in the constants below so that [`create_table`], the SAM
//! template and the adapters agree.

mod import_jobs;
mod item;
mod links;
mod mapping_store;
mod record_index;
mod sync_log;
mod waiting;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::BuildError;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification, WriteRequest,
};

pub use import_jobs::DynamoImportJobs;
pub use mapping_store::DynamoMappingStore;
pub use record_index::DynamoRecordIndex;
pub use sync_log::DynamoSyncLog;

use self::item::Item;
use super::config::AwsConnection;
use super::error::{error_code, port_error};
use super::write_units::{IndexShape, Projected, TableShape};
use super::{BATCH_ATTEMPTS, backoff};
use crate::ports::{PortError, PortResult};

/// The table's partition key (string).
pub const PARTITION_KEY: &str = "PK";
/// The table's sort key (string).
pub const SORT_KEY: &str = "SK";
/// Groups items for listing: import jobs by creation, sync-log failures by object and time
/// (and record index entries written before `RECORDS_INDEX`, counted with it).
pub const GROUP_INDEX: &str = "GSI1";
pub const GROUP_INDEX_PARTITION_KEY: &str = "GSI1PK";
pub const GROUP_INDEX_SORT_KEY: &str = "GSI1SK";
/// Sync-log batches and failures by time, across objects (queries without an object, expiry).
pub const TIMELINE_INDEX: &str = "GSI2";
pub const TIMELINE_INDEX_PARTITION_KEY: &str = "GSI2PK";
pub const TIMELINE_INDEX_SORT_KEY: &str = "GSI2SK";
/// Every record index entry by object, projecting keys only: an entry's later writes leave its
/// keys as they were, so they cost this index nothing (counts per object, `status`).
pub const RECORDS_INDEX: &str = "GSI3";
pub const RECORDS_INDEX_PARTITION_KEY: &str = "GSI3PK";
pub const RECORDS_INDEX_SORT_KEY: &str = "GSI3SK";
/// The table's keys and indexes as the write-unit model sees them (`create_table` and the SAM
/// template declare the same).
pub const TABLE_SHAPE: TableShape = TableShape {
    partition_key: PARTITION_KEY,
    sort_key: SORT_KEY,
    indexes: &[
        IndexShape {
            partition_key: GROUP_INDEX_PARTITION_KEY,
            sort_key: GROUP_INDEX_SORT_KEY,
            projected: Projected::All,
        },
        IndexShape {
            partition_key: TIMELINE_INDEX_PARTITION_KEY,
            sort_key: TIMELINE_INDEX_SORT_KEY,
            projected: Projected::All,
        },
        IndexShape {
            partition_key: RECORDS_INDEX_PARTITION_KEY,
            sort_key: RECORDS_INDEX_SORT_KEY,
            projected: Projected::KeysOnly,
        },
    ],
};
/// The TTL attribute (epoch seconds); set on sync-log items only.
pub const TTL_ATTRIBUTE: &str = "ttl";
/// What kind of item this is (`mapping`, `record`, `job`, `log`), for people reading the table.
pub const ENTITY_ATTRIBUTE: &str = "entity";

/// The name adapters give in `PortError::Unavailable`.
const BACKEND: &str = "DynamoDB";

/// The most keys `BatchGetItem` takes per call.
const BATCH_GET_LIMIT: usize = 100;
/// The most writes `BatchWriteItem` takes per call.
const BATCH_WRITE_LIMIT: usize = 25;

/// One DynamoDB table holding every store port; hands out one adapter per port. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    table: Arc<Table>,
}

/// The client and table name the adapters share.
#[derive(Debug)]
pub(crate) struct Table {
    client: Client,
    name: String,
}

impl DynamoStore {
    /// The adapters of the table `table` (which [`create_table`] or the SAM template created).
    pub fn new(connection: &AwsConnection, table: impl Into<String>) -> Self {
        DynamoStore {
            table: Arc::new(Table {
                client: connection.dynamodb(),
                name: table.into(),
            }),
        }
    }

    pub fn table_name(&self) -> &str {
        &self.table.name
    }

    pub fn mapping_store(&self) -> DynamoMappingStore {
        DynamoMappingStore::new(Arc::clone(&self.table))
    }

    pub fn record_index(&self) -> DynamoRecordIndex {
        DynamoRecordIndex::new(Arc::clone(&self.table))
    }

    pub fn import_jobs(&self) -> DynamoImportJobs {
        DynamoImportJobs::new(Arc::clone(&self.table))
    }

    /// The sync log; each entry lives `retention` past its time (the item's TTL).
    pub fn sync_log(&self, retention: Duration) -> DynamoSyncLog {
        DynamoSyncLog::new(Arc::clone(&self.table), retention)
    }
}

fn built<T>(result: Result<T, BuildError>, what: &str) -> PortResult<T> {
    result.map_err(|e| {
        PortError::invalid_because(
            format!("cannot build the DynamoDB request for {what}: {e}"),
            e,
        )
    })
}

/// Creates the table with its indexes (on-demand capacity) and turns TTL on. An existing table of
/// that name is accepted as it is. Returns once the table is active.
pub async fn create_table(connection: &AwsConnection, table: &str) -> PortResult<()> {
    let client = connection.dynamodb();
    let doing = format!("creating table {table}");
    let string_attribute = |name: &str| {
        built(
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build(),
            &doing,
        )
    };
    let key = |name: &str, key_type: KeyType| {
        built(
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(key_type)
                .build(),
            &doing,
        )
    };
    let index = |name: &str,
                 partition: &str,
                 sort: &str,
                 projection: ProjectionType|
     -> PortResult<GlobalSecondaryIndex> {
        built(
            GlobalSecondaryIndex::builder()
                .index_name(name)
                .key_schema(key(partition, KeyType::Hash)?)
                .key_schema(key(sort, KeyType::Range)?)
                .projection(Projection::builder().projection_type(projection).build())
                .build(),
            &doing,
        )
    };
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(PARTITION_KEY, KeyType::Hash)?)
        .key_schema(key(SORT_KEY, KeyType::Range)?)
        .global_secondary_indexes(index(
            GROUP_INDEX,
            GROUP_INDEX_PARTITION_KEY,
            GROUP_INDEX_SORT_KEY,
            ProjectionType::All,
        )?)
        .global_secondary_indexes(index(
            TIMELINE_INDEX,
            TIMELINE_INDEX_PARTITION_KEY,
            TIMELINE_INDEX_SORT_KEY,
            ProjectionType::All,
        )?)
        .global_secondary_indexes(index(
            RECORDS_INDEX,
            RECORDS_INDEX_PARTITION_KEY,
            RECORDS_INDEX_SORT_KEY,
            ProjectionType::KeysOnly,
        )?);
    for name in [
        PARTITION_KEY,
        SORT_KEY,
        GROUP_INDEX_PARTITION_KEY,
        GROUP_INDEX_SORT_KEY,
        TIMELINE_INDEX_PARTITION_KEY,
        TIMELINE_INDEX_SORT_KEY,
        RECORDS_INDEX_PARTITION_KEY,
        RECORDS_INDEX_SORT_KEY,
    ] {
        request = request.attribute_definitions(string_attribute(name)?);
    }
    match request.send().await {
        Ok(_) => {}
        Err(error) if error_code(&error) == Some("ResourceInUseException") => {}
        Err(error) => return Err(port_error(BACKEND, &doing, error)),
    }
    wait_until_active(&client, table).await?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(built(
            TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(true)
                .build(),
            &doing,
        )?)
        .send()
        .await
        .map(|_| ())
        .or_else(|error| {
            // Asking again for TTL that is already on is refused; that is the state we want.
            if error_code(&error) == Some("ValidationException") {
                Ok(())
            } else {
                Err(port_error(
                    BACKEND,
                    &format!("enabling TTL on {table}"),
                    error,
                ))
            }
        })
}

async fn wait_until_active(client: &Client, table: &str) -> PortResult<()> {
    for attempt in 1..=60 {
        let described = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| port_error(BACKEND, &format!("describing table {table}"), e))?;
        let status = described.table().and_then(|t| t.table_status()).cloned();
        if status == Some(TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(backoff(attempt.min(4))).await;
    }
    Err(PortError::Unavailable {
        backend: BACKEND,
        reason: format!("table {table} did not become active; try again in a minute"),
    })
}

impl Table {
    /// Every item a query returns, following `LastEvaluatedKey`; stops early once `limit`
    /// items are in hand (`None`: no limit).
    async fn query_all(
        &self,
        query: QueryFluentBuilder,
        limit: Option<usize>,
        doing: &str,
    ) -> PortResult<Vec<Item>> {
        let mut items = Vec::new();
        if limit == Some(0) {
            return Ok(items);
        }
        self.query_each(query, doing, |item| {
            items.push(item.clone());
            Ok(limit.is_none_or(|limit| items.len() < limit))
        })
        .await?;
        Ok(items)
    }

    /// Hands each item a query returns to `visit`, in order, following `LastEvaluatedKey`,
    /// until `visit` answers `false` or the pages end.
    async fn query_each(
        &self,
        query: QueryFluentBuilder,
        doing: &str,
        mut visit: impl FnMut(&Item) -> PortResult<bool>,
    ) -> PortResult<()> {
        let mut start: Option<Item> = None;
        loop {
            let page = query
                .clone()
                .table_name(&self.name)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| port_error(BACKEND, &format!("{doing} in table {}", self.name), e))?;
            for item in page.items() {
                if !visit(item)? {
                    return Ok(());
                }
            }
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(()),
            }
        }
    }

    /// Writes (puts or deletes) in `BatchWriteItem` calls of at most 25, re-sending what DynamoDB
    /// leaves unprocessed (throttling) with backoff; fails as `Unavailable` only when some writes
    /// are still unprocessed after every attempt.
    async fn batch_write(&self, requests: Vec<WriteRequest>, doing: &str) -> PortResult<()> {
        for chunk in requests.chunks(BATCH_WRITE_LIMIT) {
            let mut pending: Vec<WriteRequest> = chunk.to_vec();
            let mut attempt = 0;
            while !pending.is_empty() {
                if attempt > 0 {
                    if attempt >= BATCH_ATTEMPTS {
                        return Err(PortError::Unavailable {
                            backend: BACKEND,
                            reason: format!(
                                "{doing}: {} writes still unprocessed after {BATCH_ATTEMPTS} \
                                 attempts (the table is throttled)",
                                pending.len()
                            ),
                        });
                    }
                    tokio::time::sleep(backoff(attempt)).await;
                }
                attempt += 1;
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.name, std::mem::take(&mut pending))
                    .send()
                    .await
                    .map_err(|e| {
                        port_error(BACKEND, &format!("{doing} in table {}", self.name), e)
                    })?;
                pending = output
                    .unprocessed_items()
                    .and_then(|unprocessed| unprocessed.get(&self.name))
                    .cloned()
                    .unwrap_or_default();
            }
        }
        Ok(())
    }
}
