//! The record index: one row per Salesforce record, written only forward in modstamp order.

use std::collections::HashMap;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::{EmbeddedStore, SqlContext, from_nanos, immediate, to_nanos, to_u64};
use crate::domain::RecordKey;
use crate::ports::{IndexEntry, IndexWrite, PortError, PortResult, RecordIndex, new_write_id};

/// [`RecordIndex`] on the embedded SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteRecordIndex {
    store: EmbeddedStore,
}

impl SqliteRecordIndex {
    pub fn new(store: EmbeddedStore) -> Self {
        SqliteRecordIndex { store }
    }
}

fn what(key: &RecordKey) -> String {
    format!("the index entry of {key}")
}

fn read(connection: &Connection, key: &RecordKey) -> PortResult<Option<IndexEntry>> {
    connection
        .query_row(
            "SELECT hubspot_id, modstamp, content_hash, deleted, write_id, links FROM record_index
             WHERE object = ?1 AND record_id = ?2",
            params![key.object, key.record_id.as_str()],
            |row| {
                Ok((
                    IndexEntry {
                        hubspot_id: row.get(0)?,
                        modstamp: from_nanos(row.get(1)?),
                        content_hash: row.get(2)?,
                        deleted: row.get(3)?,
                        write_id: row.get::<_, i64>(4)?.cast_unsigned(),
                        links: Default::default(),
                    },
                    row.get::<_, String>(5)?,
                ))
            },
        )
        .optional()
        .context(&what(key))?
        .map(|(mut entry, links)| {
            entry.links = serde_json::from_str(&links).map_err(|e| PortError::Corrupt {
                what: what(key),
                reason: format!("its links are not a JSON object: {e}"),
            })?;
            Ok(entry)
        })
        .transpose()
}

#[async_trait]
impl RecordIndex for SqliteRecordIndex {
    async fn get(&self, key: &RecordKey) -> PortResult<Option<IndexEntry>> {
        let key = key.clone();
        self.store
            .call("reading the record index", move |connection| {
                read(connection, &key)
            })
            .await
    }

    async fn get_many(&self, keys: &[RecordKey]) -> PortResult<HashMap<RecordKey, IndexEntry>> {
        let keys = keys.to_vec();
        self.store
            .call("reading the record index", move |connection| {
                // One read transaction: the entries come from one snapshot.
                let tx = connection
                    .transaction()
                    .context("reading the record index")?;
                let mut found = HashMap::with_capacity(keys.len());
                for key in keys {
                    if let Some(entry) = read(&tx, &key)? {
                        found.insert(key, entry);
                    }
                }
                tx.commit().context("reading the record index")?;
                Ok(found)
            })
            .await
    }

    async fn put_if_newer(&self, key: &RecordKey, entry: &IndexEntry) -> PortResult<IndexWrite> {
        let key = key.clone();
        let entry = entry.clone();
        let modstamp = to_nanos(entry.modstamp, "modstamp")?;
        let links = serde_json::to_string(&entry.links).map_err(|e| PortError::Corrupt {
            what: what(&key),
            reason: e.to_string(),
        })?;
        self.store
            .call("writing the record index", move |connection| {
                // Read and write in one IMMEDIATE transaction: no other writer (of this process
                // or another) can slip in between the comparison and the write.
                let tx = immediate(connection, &what(&key))?;
                let outcome = match read(&tx, &key)? {
                    Some(current) if current.modstamp > entry.modstamp => {
                        return Ok(IndexWrite::Stale { current });
                    }
                    Some(current) if current.modstamp == entry.modstamp => IndexWrite::Refreshed {
                        previous_write: current.write_id,
                    },
                    current => IndexWrite::Written {
                        previous: current.as_ref().map(|c| c.modstamp),
                        previous_write: current.map(|c| c.write_id),
                    },
                };
                tx.execute(
                    "INSERT INTO record_index
                         (object, record_id, hubspot_id, modstamp, content_hash, deleted, write_id,
                          links)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (object, record_id) DO UPDATE SET
                         hubspot_id = excluded.hubspot_id, modstamp = excluded.modstamp,
                         content_hash = excluded.content_hash, deleted = excluded.deleted,
                         write_id = excluded.write_id, links = excluded.links",
                    params![
                        key.object,
                        key.record_id.as_str(),
                        entry.hubspot_id,
                        modstamp,
                        entry.content_hash,
                        entry.deleted,
                        new_write_id().cast_signed(),
                        links
                    ],
                )
                .context(&what(&key))?;
                tx.commit().context(&what(&key))?;
                Ok(outcome)
            })
            .await
    }

    async fn count(&self, object: &str) -> PortResult<u64> {
        let object = object.to_owned();
        self.store
            .call("counting the record index", move |connection| {
                let context = format!("the index entries of {object}");
                let count: i64 = connection
                    .query_row(
                        "SELECT COUNT(*) FROM record_index WHERE object = ?1",
                        [&object],
                        |row| row.get(0),
                    )
                    .context(&context)?;
                to_u64(count, &context)
            })
            .await
    }
}
