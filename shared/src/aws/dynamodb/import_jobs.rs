//! Import jobs: one item per job (`PK = JOB#<id>`), listed newest first through `GSI1`
//! (`GSI1PK = JOBS`, `GSI1SK = <created, 20-digit ns>#<id>`). Counters change with atomic `ADD`
//! and a checkpoint (cursor and counts) is one `UpdateItem`, so concurrent workers never lose a
//! count and a resume never sees a cursor without its page's counts.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Utc};

use super::item::{Item, ItemReader, n, nanos, s, time_key};
use super::{
    BACKEND, ENTITY_ATTRIBUTE, GROUP_INDEX, GROUP_INDEX_PARTITION_KEY, GROUP_INDEX_SORT_KEY,
    PARTITION_KEY, SORT_KEY, Table,
};
use crate::aws::error::port_error;
use crate::ports::{ImportCounts, ImportJob, ImportJobs, ImportStatus, PortError, PortResult};

const SORT: &str = "JOB";
const GROUP: &str = "JOBS";
const ENTITY: &str = "job";
const ID: &str = "id";
const OBJECT: &str = "salesforce_object";
// STATUS, CURSOR and others are DynamoDB reserved words: expressions name them through
// `#placeholders` (see `placeholders`).
const STATUS: &str = "status";
const TOTAL: &str = "total";
const ENQUEUED: &str = "enqueued";
const SYNCED: &str = "synced";
const FAILED: &str = "failed";
const CURSOR: &str = "cursor";
const CUTOFF: &str = "cutoff_ns";
const CREATED_AT: &str = "created_at_ns";
const UPDATED_AT: &str = "updated_at_ns";
const FINISHED_AT: &str = "finished_at_ns";
const ERROR: &str = "error";
const SINCE: &str = "since_ns";

/// [`ImportJobs`] on the DynamoDB table. Job ids are random UUIDs.
#[derive(Debug, Clone)]
pub struct DynamoImportJobs {
    table: Arc<Table>,
}

fn what(id: &str) -> String {
    format!("import job {id}")
}

fn key(id: &str) -> Item {
    Item::from([
        (PARTITION_KEY.to_owned(), s(format!("JOB#{id}"))),
        (SORT_KEY.to_owned(), s(SORT)),
    ])
}

fn decode(item: &Item) -> PortResult<ImportJob> {
    let id = item
        .get(ID)
        .and_then(|v| v.as_s().ok())
        .map_or("?", String::as_str);
    let reader = ItemReader::new(item, &what(id));
    let status = reader.string(STATUS)?;
    Ok(ImportJob {
        id: reader.string(ID)?,
        salesforce_object: reader.string(OBJECT)?,
        status: ImportStatus::from_name(&status)
            .ok_or_else(|| reader.corrupt(format!("unknown status `{status}`")))?,
        total: reader.opt_number(TOTAL)?,
        enqueued: reader.number(ENQUEUED)?,
        synced: reader.number(SYNCED)?,
        failed: reader.number(FAILED)?,
        cursor: reader.opt_string(CURSOR)?,
        cutoff: reader.time(CUTOFF)?,
        created_at: reader.time(CREATED_AT)?,
        updated_at: reader.time(UPDATED_AT)?,
        finished_at: reader.opt_time(FINISHED_AT)?,
        error: reader.opt_string(ERROR)?,
        since: reader.opt_time(SINCE)?,
    })
}

/// The attribute names written `#name` in `expressions`, each once.
fn placeholders(expressions: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = expressions
        .iter()
        .flat_map(|expression| expression.split('#').skip(1))
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|name| !name.is_empty())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The condition that the job exists.
fn exists() -> String {
    format!("attribute_exists({PARTITION_KEY})")
}

fn now_nanos() -> PortResult<i64> {
    nanos(Utc::now(), "the clock")
}

impl DynamoImportJobs {
    pub(crate) fn new(table: Arc<Table>) -> Self {
        DynamoImportJobs { table }
    }

    /// An `UpdateItem` of job `id` with its update and condition expressions; every `#name`
    /// they use is declared as a placeholder for the attribute of that name (DynamoDB refuses
    /// undeclared and unused placeholders alike).
    fn update(&self, id: &str, update: &str, condition: &str) -> UpdateItemFluentBuilder {
        let mut request = self
            .table
            .client
            .update_item()
            .table_name(&self.table.name)
            .set_key(Some(key(id)))
            .update_expression(update)
            .condition_expression(condition)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        for name in placeholders(&[update, condition]) {
            request = request.expression_attribute_names(format!("#{name}"), name);
        }
        request
    }

    /// Sends an update whose condition includes `attribute_exists(PK)`: a failed condition
    /// with no old item means the job does not exist.
    async fn send_update(
        &self,
        id: &str,
        request: UpdateItemFluentBuilder,
    ) -> PortResult<Result<Option<Item>, Option<Item>>> {
        match request.send().await {
            Ok(output) => Ok(Ok(output.attributes().cloned())),
            Err(error) => match error.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    Ok(Err(failed.item().filter(|i| !i.is_empty()).cloned()))
                }
                _ => Err(port_error(
                    BACKEND,
                    &format!("updating {}", what(id)),
                    error,
                )),
            },
        }
    }

    /// Adds `counts` (and sets the cursor, when given) in one `UpdateItem`.
    async fn add(&self, id: &str, cursor: Option<&str>, counts: ImportCounts) -> PortResult<()> {
        let mut set = format!("#{UPDATED_AT} = :now");
        if cursor.is_some() {
            set.push_str(&format!(", #{CURSOR} = :cursor"));
        }
        let update =
            format!("SET {set} ADD #{ENQUEUED} :enqueued, #{SYNCED} :synced, #{FAILED} :failed");
        let mut request = self.update(id, &update, &exists());
        if let Some(cursor) = cursor {
            request = request.expression_attribute_values(":cursor", s(cursor));
        }
        let request = request
            .expression_attribute_values(":now", n(now_nanos()?))
            .expression_attribute_values(":enqueued", n(counts.enqueued))
            .expression_attribute_values(":synced", n(counts.synced))
            .expression_attribute_values(":failed", n(counts.failed));
        match self.send_update(id, request).await? {
            Ok(_) => Ok(()),
            Err(_) => Err(PortError::NotFound { what: what(id) }),
        }
    }
}

#[async_trait]
impl ImportJobs for DynamoImportJobs {
    async fn create(
        &self,
        salesforce_object: &str,
        total: Option<u64>,
        cutoff: DateTime<Utc>,
    ) -> PortResult<ImportJob> {
        self.put_new(salesforce_object, total, cutoff, None).await
    }

    async fn create_resync(
        &self,
        salesforce_object: &str,
        since: DateTime<Utc>,
        cutoff: DateTime<Utc>,
    ) -> PortResult<ImportJob> {
        self.put_new(salesforce_object, None, cutoff, Some(since))
            .await
    }
    async fn get(&self, id: &str) -> PortResult<Option<ImportJob>> {
        let output = self
            .table
            .client
            .get_item()
            .table_name(&self.table.name)
            .set_key(Some(key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error(BACKEND, &format!("reading {}", what(id)), e))?;
        output.item().map(decode).transpose()
    }

    async fn list(&self) -> PortResult<Vec<ImportJob>> {
        let query = self
            .table
            .client
            .query()
            .index_name(GROUP_INDEX)
            .key_condition_expression(format!("{GROUP_INDEX_PARTITION_KEY} = :group"))
            .expression_attribute_values(":group", s(GROUP))
            .scan_index_forward(false);
        let items = self
            .table
            .query_all(query, None, "listing import jobs")
            .await?;
        items.iter().map(decode).collect()
    }

    async fn start(&self, id: &str) -> PortResult<ImportJob> {
        let update = format!("SET #{STATUS} = :running, #{UPDATED_AT} = :now");
        let condition = format!("{} AND #{STATUS} = :pending", exists());
        let request = self
            .update(id, &update, &condition)
            .expression_attribute_values(":running", s(ImportStatus::Running.name()))
            .expression_attribute_values(":pending", s(ImportStatus::Pending.name()))
            .expression_attribute_values(":now", n(now_nanos()?))
            .return_values(ReturnValue::AllNew);
        match self.send_update(id, request).await? {
            Ok(Some(new)) => decode(&new),
            Ok(None) => self
                .get(id)
                .await?
                .ok_or_else(|| PortError::NotFound { what: what(id) }),
            Err(old) => {
                let old = match old {
                    Some(old) => Some(decode(&old)?),
                    None => self.get(id).await?,
                };
                match old {
                    None => Err(PortError::NotFound { what: what(id) }),
                    Some(job) if job.status == ImportStatus::Running => Ok(job),
                    Some(job) => Err(PortError::invalid(format!(
                        "{} is {} and cannot be started again; create a new import",
                        what(id),
                        job.status.name()
                    ))),
                }
            }
        }
    }

    async fn checkpoint(&self, id: &str, cursor: &str, counts: ImportCounts) -> PortResult<()> {
        self.add(id, Some(cursor), counts).await
    }

    async fn add_counts(&self, id: &str, counts: ImportCounts) -> PortResult<()> {
        self.add(id, None, counts).await
    }

    async fn finish(&self, id: &str, status: ImportStatus, error: Option<&str>) -> PortResult<()> {
        if !status.is_finished() {
            return Err(PortError::invalid(format!(
                "{} cannot finish as {}: a job finishes completed, failed or cancelled",
                what(id),
                status.name()
            )));
        }
        let set = format!("SET #{STATUS} = :status, #{FINISHED_AT} = :now, #{UPDATED_AT} = :now");
        let update = match error {
            Some(_) => format!("{set}, #{ERROR} = :error"),
            None => format!("{set} REMOVE #{ERROR}"),
        };
        let mut request = self
            .update(id, &update, &exists())
            .expression_attribute_values(":status", s(status.name()))
            .expression_attribute_values(":now", n(now_nanos()?));
        if let Some(error) = error {
            request = request.expression_attribute_values(":error", s(error));
        }
        match self.send_update(id, request).await? {
            Ok(_) => Ok(()),
            Err(_) => Err(PortError::NotFound { what: what(id) }),
        }
    }
}

impl DynamoImportJobs {
    /// A new job: pending, or running when it is a re-sync (`since`).
    async fn put_new(
        &self,
        salesforce_object: &str,
        total: Option<u64>,
        cutoff: DateTime<Utc>,
        since: Option<DateTime<Utc>>,
    ) -> PortResult<ImportJob> {
        let status = if since.is_some() {
            ImportStatus::Running
        } else {
            ImportStatus::Pending
        };
        let id = uuid::Uuid::new_v4().to_string();
        let now = Utc::now();
        let job = ImportJob {
            id: id.clone(),
            salesforce_object: salesforce_object.to_owned(),
            status,
            total,
            enqueued: 0,
            synced: 0,
            failed: 0,
            cursor: None,
            cutoff,
            created_at: now,
            updated_at: now,
            finished_at: None,
            error: None,
            since,
        };
        let mut item = key(&id);
        item.insert(ENTITY_ATTRIBUTE.to_owned(), s(ENTITY));
        item.insert(GROUP_INDEX_PARTITION_KEY.to_owned(), s(GROUP));
        item.insert(
            GROUP_INDEX_SORT_KEY.to_owned(),
            s(format!("{}#{id}", time_key(now, "the clock")?)),
        );
        item.insert(ID.to_owned(), s(&id));
        item.insert(OBJECT.to_owned(), s(salesforce_object));
        item.insert(STATUS.to_owned(), s(status.name()));
        if let Some(total) = total {
            item.insert(TOTAL.to_owned(), n(total));
        }
        for counter in [ENQUEUED, SYNCED, FAILED] {
            item.insert(counter.to_owned(), n(0));
        }
        item.insert(CUTOFF.to_owned(), n(nanos(cutoff, "cutoff")?));
        if let Some(since) = since {
            item.insert(SINCE.to_owned(), n(nanos(since, "since")?));
        }
        item.insert(CREATED_AT.to_owned(), n(nanos(now, "the clock")?));
        item.insert(UPDATED_AT.to_owned(), n(nanos(now, "the clock")?));
        self.table
            .client
            .put_item()
            .table_name(&self.table.name)
            .set_item(Some(item))
            // A random id never collides; the condition guards against a replayed request.
            .condition_expression(format!("attribute_not_exists({PARTITION_KEY})"))
            .send()
            .await
            .map_err(|e| port_error(BACKEND, &format!("creating {}", what(&id)), e))?;
        Ok(job)
    }
}
