//! The Salesforce client as the worker's `SalesforceRecords` port and the importer's
//! `RecordPages` port.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::rest::{parse_rest_datetime, soql_datetime, window_soql};
use super::{BulkJobState, BulkOperation, QueryPager, SalesforceClient, SalesforceError};
use crate::domain::{FieldSnapshot, SalesforceId};
use crate::ports::{RecordPage, RecordPages, RemoteError, SalesforceRecords};

/// Above this many records a backfill reads through Bulk API 2.0, below it through REST query
/// (Salesforce's own rule of thumb is 2,000; salesforce.md §3.3).
pub const BULK_THRESHOLD: u64 = 2_000;
/// Records per Bulk results page: one page is one checkpoint.
const BULK_PAGE_RECORDS: u32 = 2_000;

impl From<SalesforceError> for RemoteError {
    fn from(e: SalesforceError) -> Self {
        let reason = e.to_string();
        match e {
            _ if e.is_transient() => RemoteError::Retryable {
                reason,
                after: None,
            },
            SalesforceError::RequestLimitExceeded { .. }
            | SalesforceError::QuotaGuardStop { .. }
            | SalesforceError::SessionRejected
            | SalesforceError::Auth { .. } => RemoteError::Stop { reason },
            SalesforceError::BulkJobTimeout { .. } | SalesforceError::QueryLocatorExpired => {
                RemoteError::Retryable {
                    reason,
                    after: None,
                }
            }
            _ => RemoteError::Permanent { reason },
        }
    }
}

#[async_trait]
impl SalesforceRecords for SalesforceClient {
    async fn retrieve(
        &self,
        object: &str,
        ids: &[SalesforceId],
        fields: &[String],
    ) -> Result<HashMap<SalesforceId, Option<FieldSnapshot>>, RemoteError> {
        let mut wanted: Vec<&str> = vec!["Id"];
        wanted.extend(fields.iter().map(String::as_str).filter(|f| *f != "Id"));
        let records = SalesforceClient::retrieve(self, object, ids, &wanted).await?;
        // Answers come in the order of the ids asked for.
        Ok(ids
            .iter()
            .cloned()
            .zip(records.into_iter().map(|r| r.map(|r| r.fields)))
            .collect())
    }

    async fn last_states(
        &self,
        object: &str,
        ids: &[SalesforceId],
        fields: &[String],
    ) -> Result<HashMap<SalesforceId, FieldSnapshot>, RemoteError> {
        // IsDeleted: a row that is not in the recycle bin is no proof of a delete.
        let mut select: Vec<&str> = vec!["Id", "SystemModstamp", "IsDeleted"];
        select.extend(
            fields
                .iter()
                .map(String::as_str)
                .filter(|f| !["Id", "SystemModstamp", "IsDeleted"].contains(f)),
        );
        let mut found = HashMap::new();
        // Ids are alphanumeric (checked by SalesforceId), so they quote safely; 200 per query
        // keeps the SOQL far below its length limit.
        for chunk in ids.chunks(200) {
            let quoted: Vec<String> = chunk
                .iter()
                .map(|id| format!("'{}'", id.as_str()))
                .collect();
            let soql = format!(
                "SELECT {} FROM {object} WHERE Id IN ({})",
                select.join(", "),
                quoted.join(", ")
            );
            let mut pager = self.query_all(&soql);
            while let Some(records) = pager.next_page().await? {
                for record in records {
                    let id = record
                        .fields
                        .get("Id")
                        .and_then(serde_json::Value::as_str)
                        .and_then(|id| SalesforceId::parse(id).ok());
                    if let Some(id) = id {
                        found.insert(id, record.fields);
                    }
                }
            }
        }
        Ok(found)
    }

    async fn outbound_message_fields(
        &self,
        action_id: &str,
    ) -> Result<Option<Vec<String>>, RemoteError> {
        Ok(self
            .outbound_message(action_id)
            .await?
            .map(|definition| definition.fields))
    }
}

/// One REST query page as a backfill page; its cursor is the `nextRecordsUrl`.
/// A REST page of a backfill, and the cursor after it (`keyset_page`). `tie_group`: the
/// second whose records after an id this query reads (then the seconds after it follow);
/// `None` for a query of the window.
async fn rest_page(
    mut pager: QueryPager<'_>,
    tie_group: Option<&str>,
) -> Result<RecordPage, RemoteError> {
    let records = pager.next_page().await?.unwrap_or_default();
    Ok(keyset_page(records, pager.next_records_url(), tie_group))
}

/// The cursor after a REST page is a key set: the last record's `SystemModstamp` and `Id` (the
/// query orders by both), with the `nextRecordsUrl` to try first. A query locator expires
/// (about 15 minutes unused: platform-behaviours.md S6), so a run resumed after a pause goes on
/// from the key set when the locator is refused. Once a tie group's query is done, the cursor
/// goes on after that second (`after:`); once the window's is, there is none.
fn keyset_page(
    records: Vec<super::QueriedRecord>,
    next_url: Option<&str>,
    tie_group: Option<&str>,
) -> RecordPage {
    let records: Vec<FieldSnapshot> = records.into_iter().map(|r| r.fields).collect();
    let phase = if tie_group.is_some() { "tie" } else { "window" };
    let next_cursor = match next_url {
        None => tie_group.map(|stamp| format!("after:{stamp}")),
        Some(url) => {
            let last = records.last().and_then(|r| {
                let stamp = r.get("SystemModstamp")?.as_str()?;
                let id = r.get("Id")?.as_str()?;
                Some((stamp.to_owned(), id.to_owned()))
            });
            Some(match last {
                Some((stamp, id)) => format!("keyset:{stamp},{id},{phase},{url}"),
                None => format!("rest:{url}"),
            })
        }
    };
    RecordPage {
        records,
        next_cursor,
    }
}

/// A backfill's cursors: a key set (`keyset:`, `after:`), a REST `nextRecordsUrl` (`rest:`,
/// from before key sets, and the deletes of a re-sync), or a Bulk job and its results locator
/// (`bulk:`; `bulk:{job}` alone while the job runs). This one is the last.
fn encode_bulk(job_id: &str, locator: &str) -> String {
    format!("bulk:{job_id}:{locator}")
}

#[async_trait]
impl RecordPages for SalesforceClient {
    async fn newest_modstamp(&self, object: &str) -> Result<Option<DateTime<Utc>>, RemoteError> {
        let soql =
            format!("SELECT SystemModstamp FROM {object} ORDER BY SystemModstamp DESC LIMIT 1");
        let records = self.query_collect(&soql, false).await?;
        Ok(records
            .first()
            .and_then(|r| r.fields.get("SystemModstamp"))
            .and_then(serde_json::Value::as_str)
            .and_then(parse_rest_datetime))
    }

    async fn count(&self, object: &str, until: DateTime<Utc>) -> Result<u64, RemoteError> {
        let filter = format!("SystemModstamp <= {}", soql_datetime(until));
        Ok(SalesforceClient::count(self, object, Some(&filter)).await?)
    }

    async fn page(
        &self,
        object: &str,
        fields: &[String],
        until: DateTime<Utc>,
        cursor: Option<&str>,
    ) -> Result<RecordPage, RemoteError> {
        let wanted = with_id_and_stamp(fields);
        match cursor {
            None => {
                let total = RecordPages::count(self, object, until).await?;
                if total > BULK_THRESHOLD {
                    // Bulk results are unordered (ORDER BY disables PK chunking): the record
                    // index, not the order, keeps the newest state. The job's id is the first
                    // cursor, checkpointed before its results are awaited: a run that stops
                    // while Salesforce works goes on with the same job.
                    let soql = window_soql(object, &wanted, None, until, false);
                    let job = self.create_query_job(&soql, BulkOperation::Query).await?;
                    Ok(RecordPage {
                        records: Vec::new(),
                        next_cursor: Some(format!("bulk:{}", job.id)),
                    })
                } else {
                    let soql = window_soql(object, &wanted, None, until, true);
                    rest_page(self.query(&soql), None).await
                }
            }
            Some(cursor) => {
                if let Some(url) = cursor.strip_prefix("rest:") {
                    rest_page(self.resume_query(url), None).await
                } else if let Some(keyset) = cursor.strip_prefix("keyset:") {
                    self.keyset_page(object, &wanted, keyset).await
                } else if let Some(stamp) = cursor.strip_prefix("after:") {
                    let after = parse_rest_datetime(stamp).ok_or_else(|| foreign_cursor(cursor))?;
                    let soql = window_soql(object, &wanted, Some(after), until, true);
                    rest_page(self.query(&soql), None).await
                } else if let Some(rest) = cursor.strip_prefix("bulk:") {
                    match rest.split_once(':') {
                        Some((job_id, locator)) => self.bulk_page(job_id, Some(locator)).await,
                        None => self.bulk_first_page(rest).await,
                    }
                } else {
                    Err(foreign_cursor(cursor))
                }
            }
        }
    }

    async fn window_page(
        &self,
        object: &str,
        fields: &[String],
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        cursor: Option<&str>,
    ) -> Result<RecordPage, RemoteError> {
        if cursor.is_some() {
            // Key sets and locators go on within the window as they do for a backfill.
            return self.page(object, fields, until, cursor).await;
        }
        let wanted = with_id_and_stamp(fields);
        let soql = window_soql(object, &wanted, Some(second_before(since)), until, true);
        rest_page(self.query(&soql), None).await
    }

    async fn deleted_page(
        &self,
        object: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        cursor: Option<&str>,
    ) -> Result<RecordPage, RemoteError> {
        let mut pager = match cursor.and_then(|c| c.strip_prefix("rest:")) {
            Some(url) => self.resume_query(url),
            None => self.query_all(&format!(
                "SELECT Id, SystemModstamp FROM {object} WHERE IsDeleted = true AND \
                 SystemModstamp > {} AND SystemModstamp <= {} ORDER BY SystemModstamp ASC, Id ASC",
                soql_datetime(second_before(since)),
                soql_datetime(until)
            )),
        };
        let records = pager.next_page().await?.unwrap_or_default();
        Ok(RecordPage {
            records: records.into_iter().map(|r| r.fields).collect(),
            next_cursor: pager.next_records_url().map(|u| format!("rest:{u}")),
        })
    }
}

/// Stamps are whole seconds: after the second before `since` is from `since` on (the window
/// queries take `SystemModstamp >` their start).
fn second_before(since: DateTime<Utc>) -> DateTime<Utc> {
    since - chrono::TimeDelta::seconds(1)
}

/// `Id` and `SystemModstamp`, then `fields` without them: what a page selects.
fn with_id_and_stamp(fields: &[String]) -> Vec<&str> {
    let mut wanted: Vec<&str> = vec!["Id", "SystemModstamp"];
    wanted.extend(
        fields
            .iter()
            .map(String::as_str)
            .filter(|f| *f != "Id" && *f != "SystemModstamp"),
    );
    wanted
}

fn foreign_cursor(cursor: &str) -> RemoteError {
    RemoteError::Permanent {
        reason: format!("the import cursor `{cursor}` is not one sf2hs wrote; start a new import"),
    }
}

impl SalesforceClient {
    /// Resumes after the key set `{stamp},{id}[,{url}]`: the query locator first; when it has
    /// expired, the records of the same second after that id, then the seconds after it (two
    /// queries, since the API's SOQL subset has no OR).
    async fn keyset_page(
        &self,
        object: &str,
        wanted: &[&str],
        keyset: &str,
    ) -> Result<RecordPage, RemoteError> {
        let mut parts = keyset.splitn(4, ',');
        let (Some(stamp), Some(id), Some(phase)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(foreign_cursor(keyset));
        };
        let url = parts.next().filter(|u| !u.is_empty());
        let at = parse_rest_datetime(stamp).ok_or_else(|| foreign_cursor(keyset))?;
        let id = SalesforceId::parse(id).map_err(|_| foreign_cursor(keyset))?;
        if let Some(url) = url {
            let mut pager = self.resume_query(url);
            match pager.next_page().await {
                Err(SalesforceError::QueryLocatorExpired) => {
                    tracing::info!(
                        object,
                        "the query locator expired: the import goes on from its key set"
                    );
                }
                answer => {
                    let records = answer?.unwrap_or_default();
                    let group = (phase == "tie").then_some(stamp);
                    return Ok(keyset_page(records, pager.next_records_url(), group));
                }
            }
        }
        let soql = format!(
            "SELECT {} FROM {object} WHERE SystemModstamp = {} AND Id > '{}' ORDER BY Id ASC",
            wanted.join(", "),
            soql_datetime(at),
            id.as_str()
        );
        rest_page(self.query(&soql), Some(&soql_datetime(at))).await
    }

    /// The first results of a Bulk job created by an earlier call: a page when the job is
    /// complete, none yet while it runs (after one poll interval, so a resumed run does not
    /// spin), an error when it failed.
    async fn bulk_first_page(&self, job_id: &str) -> Result<RecordPage, RemoteError> {
        let job = self.query_job(job_id).await?;
        match job.state {
            BulkJobState::JobComplete => self.bulk_page(job_id, None).await,
            BulkJobState::Failed | BulkJobState::Aborted => Err(RemoteError::Permanent {
                reason: format!(
                    "Bulk job {job_id} ended {:?}: {}; start a new import",
                    job.state,
                    job.error_message.clone().unwrap_or_default()
                ),
            }),
            _ => {
                tokio::time::sleep(self.config().bulk_poll.initial_interval).await;
                Ok(RecordPage {
                    records: Vec::new(),
                    next_cursor: Some(format!("bulk:{job_id}")),
                })
            }
        }
    }

    async fn bulk_page(
        &self,
        job_id: &str,
        locator: Option<&str>,
    ) -> Result<RecordPage, RemoteError> {
        let job = self.query_job(job_id).await?;
        let page = self
            .job_results_page(&job, locator, Some(BULK_PAGE_RECORDS))
            .await?;
        Ok(RecordPage {
            records: page.records,
            next_cursor: page.next_locator.map(|l| encode_bulk(job_id, &l)),
        })
    }
}
