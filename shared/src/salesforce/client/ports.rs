//! The Salesforce client as the worker's `SalesforceRecords` port and the importer's
//! `RecordPages` port.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::rest::{soql_datetime, window_soql};
use super::{BulkOperation, QueryPager, SalesforceClient, SalesforceError};
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
async fn rest_page(mut pager: QueryPager<'_>) -> Result<RecordPage, RemoteError> {
    let records = pager.next_page().await?.unwrap_or_default();
    Ok(RecordPage {
        records: records.into_iter().map(|r| r.fields).collect(),
        next_cursor: pager.next_records_url().map(|u| format!("rest:{u}")),
    })
}

/// The cursor of a backfill: a REST `nextRecordsUrl`, or a Bulk job and its results locator.
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
            .and_then(super::rest::parse_rest_datetime))
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
        let mut wanted: Vec<&str> = vec!["Id", "SystemModstamp"];
        wanted.extend(
            fields
                .iter()
                .map(String::as_str)
                .filter(|f| *f != "Id" && *f != "SystemModstamp"),
        );
        match cursor {
            None => {
                let total = RecordPages::count(self, object, until).await?;
                if total > BULK_THRESHOLD {
                    // Bulk results are unordered (ORDER BY disables PK chunking): the record
                    // index, not the order, keeps the newest state.
                    let soql = window_soql(object, &wanted, None, until, false);
                    let job = self.create_query_job(&soql, BulkOperation::Query).await?;
                    let job = self.wait_for_job(&job.id).await?;
                    self.bulk_page(&job.id, None).await
                } else {
                    let soql = window_soql(object, &wanted, None, until, true);
                    rest_page(self.query(&soql)).await
                }
            }
            Some(cursor) => {
                if let Some(url) = cursor.strip_prefix("rest:") {
                    rest_page(self.resume_query(url)).await
                } else if let Some((job_id, locator)) = cursor
                    .strip_prefix("bulk:")
                    .and_then(|rest| rest.split_once(':'))
                {
                    self.bulk_page(job_id, Some(locator)).await
                } else {
                    Err(RemoteError::Permanent {
                        reason: format!(
                            "the import cursor `{cursor}` is not one sf2hs wrote; start a new import"
                        ),
                    })
                }
            }
        }
    }
}

impl SalesforceClient {
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
