//! REST resources: describe, `SELECT COUNT()`, query / queryAll paged by `nextRecordsUrl`,
//! sObject Collections retrieve (chunked by 2,000 ids) and `/deleted` (salesforce.md §3.1-§3.4).

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::errors::SalesforceError;
use super::{Body, SalesforceClient};
use crate::domain::{FieldSnapshot, SalesforceId};
use crate::mapping::schema::{SalesforceField, SalesforceFieldType, SalesforceObjectSchema};

/// sObject Collections retrieve takes at most this many ids per call.
pub const MAX_RETRIEVE_IDS: usize = 2_000;

/// One record from a query or retrieve: its object, id (when selected) and fields, without
/// `attributes`.
#[derive(Debug, Clone, PartialEq)]
pub struct QueriedRecord {
    pub object: String,
    pub id: Option<SalesforceId>,
    pub fields: FieldSnapshot,
}

impl QueriedRecord {
    fn from_json(value: Value) -> Result<Self, SalesforceError> {
        let Value::Object(mut map) = value else {
            return Err(SalesforceError::Decode(format!(
                "a record should be a JSON object, got {value}"
            )));
        };
        let object = map
            .remove("attributes")
            .and_then(|a| a.get("type").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_default();
        let id = map
            .get("Id")
            .and_then(Value::as_str)
            .map(SalesforceId::parse)
            .transpose()
            .map_err(|e| SalesforceError::Decode(e.to_string()))?;
        Ok(Self {
            object,
            id,
            fields: map.into_iter().collect(),
        })
    }
}

/// One `describeGlobal` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SObjectSummary {
    pub name: String,
    #[serde(default)]
    pub key_prefix: Option<String>,
    #[serde(default)]
    pub custom: bool,
    #[serde(default)]
    pub queryable: bool,
    #[serde(default)]
    pub replicateable: bool,
}

#[derive(Debug, Deserialize)]
struct DescribeGlobal {
    sobjects: Vec<SObjectSummary>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeField {
    name: String,
    #[serde(rename = "type")]
    field_type: String,
    #[serde(default)]
    reference_to: Vec<String>,
    #[serde(default)]
    picklist_values: Vec<DescribePicklistValue>,
    #[serde(default)]
    nillable: bool,
}

#[derive(Debug, Deserialize)]
struct DescribePicklistValue {
    value: String,
    #[serde(default)]
    active: bool,
}

#[derive(Debug, Deserialize)]
struct Describe {
    name: String,
    #[serde(default)]
    custom: bool,
    fields: Vec<DescribeField>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryAnswer {
    total_size: u64,
    done: bool,
    #[serde(default)]
    next_records_url: Option<String>,
    #[serde(default)]
    records: Vec<Value>,
}

/// One id from `/deleted`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedRecord {
    pub id: SalesforceId,
    pub deleted_date: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedRecords {
    pub records: Vec<DeletedRecord>,
    pub earliest_date_available: Option<DateTime<Utc>>,
    /// Resume the next window from here: Salesforce covered deletions up to this instant.
    pub latest_date_covered: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeletedAnswer {
    deleted_records: Vec<DeletedEntry>,
    #[serde(default)]
    earliest_date_available: Option<String>,
    #[serde(default)]
    latest_date_covered: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeletedEntry {
    id: String,
    deleted_date: String,
}

/// Reads REST datetimes (`2013-05-07T22:07:19.000+0000`) and RFC 3339.
pub fn parse_rest_datetime(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// A SOQL datetime literal: unquoted ISO 8601 in UTC.
pub fn soql_datetime(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The incremental-sync query (salesforce.md §3.1, §3.6): records whose `SystemModstamp` is in
/// `(since, until]`, oldest first, ties broken by id so paging never skips or repeats.
pub fn window_soql(
    object: &str,
    fields: &[&str],
    since: Option<DateTime<Utc>>,
    until: DateTime<Utc>,
    ordered: bool,
) -> String {
    let mut soql = format!("SELECT {} FROM {object} WHERE ", fields.join(", "));
    if let Some(since) = since {
        soql.push_str(&format!("SystemModstamp > {} AND ", soql_datetime(since)));
    }
    soql.push_str(&format!("SystemModstamp <= {}", soql_datetime(until)));
    if ordered {
        soql.push_str(" ORDER BY SystemModstamp ASC, Id ASC");
    }
    soql
}

/// Pages of one query, fetched as the caller asks for them.
#[derive(Debug)]
pub struct QueryPager<'c> {
    client: &'c SalesforceClient,
    soql: String,
    include_deleted: bool,
    next: Option<String>,
    started: bool,
    total_size: Option<u64>,
}

impl QueryPager<'_> {
    /// `totalSize` of the query, known after the first page.
    pub fn total_size(&self) -> Option<u64> {
        self.total_size
    }

    /// Where the next page starts (`nextRecordsUrl`), `None` once the query is exhausted: keep
    /// it to resume with `SalesforceClient::resume_query` (cursors live about 15 minutes).
    pub fn next_records_url(&self) -> Option<&str> {
        self.next.as_deref()
    }

    /// The next page, or `None` when the query is exhausted.
    pub async fn next_page(&mut self) -> Result<Option<Vec<QueriedRecord>>, SalesforceError> {
        let mut headers = Vec::new();
        if let Some(size) = self.client.config.query_batch_size {
            headers.push(("Sforce-Query-Options", format!("batchSize={size}")));
        }
        let answer = if !self.started {
            self.started = true;
            let resource = if self.include_deleted {
                "/queryAll"
            } else {
                "/query"
            };
            let path = self.client.data_path(resource);
            self.client
                .call(
                    Method::GET,
                    &path,
                    &[("q", self.soql.clone())],
                    Body::None,
                    &headers,
                    None,
                )
                .await?
        } else {
            let Some(next) = self.next.take() else {
                return Ok(None);
            };
            // nextRecordsUrl is a path on the instance; fetched with no parameters.
            self.client
                .call(Method::GET, &next, &[], Body::None, &headers, None)
                .await?
        };
        let page: QueryAnswer = answer.json()?;
        self.total_size = Some(page.total_size);
        self.next = if page.done {
            None
        } else {
            Some(page.next_records_url.ok_or_else(|| {
                SalesforceError::Decode("a page with done=false has no nextRecordsUrl".into())
            })?)
        };
        page.records
            .into_iter()
            .map(QueriedRecord::from_json)
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

impl SalesforceClient {
    /// `describeGlobal`: every object the integration user can see.
    pub async fn describe_global(&self) -> Result<Vec<SObjectSummary>, SalesforceError> {
        let path = self.data_path("/sobjects");
        let answer = self
            .call(Method::GET, &path, &[], Body::None, &[], None)
            .await?;
        Ok(answer.json::<DescribeGlobal>()?.sobjects)
    }

    /// The describe of one object, reduced to what mapping validation needs. An unknown or
    /// inaccessible object is `SalesforceError::InvalidType`.
    pub async fn describe(&self, object: &str) -> Result<SalesforceObjectSchema, SalesforceError> {
        let path = self.data_path(&format!("/sobjects/{object}/describe"));
        let answer = self
            .call(Method::GET, &path, &[], Body::None, &[], Some(object))
            .await?;
        let describe: Describe = answer.json()?;
        Ok(SalesforceObjectSchema {
            name: describe.name,
            custom: describe.custom,
            fields: describe
                .fields
                .into_iter()
                .map(|f| SalesforceField {
                    name: f.name,
                    field_type: SalesforceFieldType::from(f.field_type),
                    reference_to: f.reference_to,
                    picklist_values: f
                        .picklist_values
                        .into_iter()
                        .filter(|p| p.active)
                        .map(|p| p.value)
                        .collect(),
                    nillable: f.nillable,
                })
                .collect(),
        })
    }

    /// `SELECT COUNT() FROM {object} [WHERE {filter}]`: the `totalSize`.
    pub async fn count(&self, object: &str, filter: Option<&str>) -> Result<u64, SalesforceError> {
        let mut soql = format!("SELECT COUNT() FROM {object}");
        if let Some(filter) = filter {
            soql.push_str(" WHERE ");
            soql.push_str(filter);
        }
        let mut pager = self.query(&soql);
        pager.next_page().await?;
        pager
            .total_size()
            .ok_or_else(|| SalesforceError::Decode("COUNT() answered without totalSize".into()))
    }

    /// Continues a query from a `nextRecordsUrl` kept earlier.
    pub fn resume_query(&self, next_records_url: &str) -> QueryPager<'_> {
        QueryPager {
            client: self,
            soql: String::new(),
            include_deleted: false,
            next: Some(next_records_url.to_owned()),
            started: true,
            total_size: None,
        }
    }

    /// A query over live records, paged.
    pub fn query(&self, soql: &str) -> QueryPager<'_> {
        self.pager(soql, false)
    }

    /// A query that also returns soft-deleted records (`IsDeleted = true`), paged.
    pub fn query_all(&self, soql: &str) -> QueryPager<'_> {
        self.pager(soql, true)
    }

    fn pager(&self, soql: &str, include_deleted: bool) -> QueryPager<'_> {
        QueryPager {
            client: self,
            soql: soql.to_string(),
            include_deleted,
            next: None,
            started: false,
            total_size: None,
        }
    }

    /// Every record of a query (every page). For large sets prefer paging or Bulk.
    pub async fn query_collect(
        &self,
        soql: &str,
        include_deleted: bool,
    ) -> Result<Vec<QueriedRecord>, SalesforceError> {
        let mut pager = self.pager(soql, include_deleted);
        let mut out = Vec::new();
        while let Some(page) = pager.next_page().await? {
            out.extend(page);
        }
        Ok(out)
    }

    /// Reads records by id, one entry per id in order (`None`: no such live record). More than
    /// 2,000 ids are sent in several calls.
    pub async fn retrieve(
        &self,
        object: &str,
        ids: &[SalesforceId],
        fields: &[&str],
    ) -> Result<Vec<Option<QueriedRecord>>, SalesforceError> {
        let path = self.data_path(&format!("/composite/sobjects/{object}"));
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_RETRIEVE_IDS) {
            let body = json!({
                "ids": chunk.iter().map(SalesforceId::as_str).collect::<Vec<_>>(),
                "fields": fields,
            });
            let answer = self
                .call(
                    Method::POST,
                    &path,
                    &[],
                    Body::Json(body),
                    &[],
                    Some(object),
                )
                .await?;
            let entries: Vec<Value> = answer.json()?;
            if entries.len() != chunk.len() {
                return Err(SalesforceError::Decode(format!(
                    "retrieve answered {} entries for {} ids",
                    entries.len(),
                    chunk.len()
                )));
            }
            for entry in entries {
                out.push(match entry {
                    Value::Null => None,
                    other => Some(QueriedRecord::from_json(other)?),
                });
            }
        }
        Ok(out)
    }

    /// Ids deleted in `[start, end]`, both rounded down to the minute by Salesforce (at most 15
    /// days back; salesforce.md §3.2). Continue the next window from `latest_date_covered`.
    pub async fn deleted(
        &self,
        object: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<DeletedRecords, SalesforceError> {
        let path = self.data_path(&format!("/sobjects/{object}/deleted/"));
        // The documented form is `YYYY-MM-DDThh:mm:ss+hh:mm`; Salesforce ignores the seconds.
        let format = |at: DateTime<Utc>| at.format("%Y-%m-%dT%H:%M:%S+00:00").to_string();
        let query = [("start", format(start)), ("end", format(end))];
        let answer = self
            .call(Method::GET, &path, &query, Body::None, &[], Some(object))
            .await?;
        let parsed: DeletedAnswer = answer.json()?;
        let records = parsed
            .deleted_records
            .into_iter()
            .map(|entry| {
                Ok(DeletedRecord {
                    id: SalesforceId::parse(&entry.id)
                        .map_err(|e| SalesforceError::Decode(e.to_string()))?,
                    deleted_date: parse_rest_datetime(&entry.deleted_date).ok_or_else(|| {
                        SalesforceError::Decode(format!("bad deletedDate {}", entry.deleted_date))
                    })?,
                })
            })
            .collect::<Result<Vec<_>, SalesforceError>>()?;
        Ok(DeletedRecords {
            records,
            earliest_date_available: parsed
                .earliest_date_available
                .as_deref()
                .and_then(parse_rest_datetime),
            latest_date_covered: parsed
                .latest_date_covered
                .as_deref()
                .and_then(parse_rest_datetime),
        })
    }
}
