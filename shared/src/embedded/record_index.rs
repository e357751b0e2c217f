//! The record index: one row per Salesforce record, written only forward in modstamp order.

use std::collections::HashMap;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::{EmbeddedStore, SqlContext, from_nanos, immediate, to_nanos, to_u64};
use crate::domain::{RecordKey, SalesforceId};
use crate::ports::{
    IndexEntry, IndexWrite, LinkRecord, PortError, PortResult, RecordIndex, RecordLinks,
    new_write_id,
};

impl SqliteRecordIndex {
    /// Runs `sql` (taking object, record id, field, target, token) for each link, in one
    /// transaction.
    async fn change_links(&self, links: &[LinkRecord], sql: &'static str) -> PortResult<()> {
        if links.is_empty() {
            return Ok(());
        }
        let links = links.to_vec();
        self.store
            .call("writing the link journal", move |connection| {
                let context = "writing the link journal";
                let tx = immediate(connection, context)?;
                {
                    let mut statement = tx.prepare_cached(sql).context(context)?;
                    for link in &links {
                        statement
                            .execute(params![
                                link.record.object,
                                link.record.record_id.as_str(),
                                link.field,
                                link.target,
                                link.token.cast_signed()
                            ])
                            .context(context)?;
                    }
                }
                tx.commit().context(context)?;
                Ok(())
            })
            .await
    }
}

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

/// `put_if_newer` inside the caller's transaction.
fn put_in(tx: &Connection, key: &RecordKey, entry: &IndexEntry) -> PortResult<IndexWrite> {
    let modstamp = to_nanos(entry.modstamp, "modstamp")?;
    let outcome = match read(tx, key)? {
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
             (object, record_id, hubspot_id, modstamp, content_hash, deleted, write_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (object, record_id) DO UPDATE SET
             hubspot_id = excluded.hubspot_id, modstamp = excluded.modstamp,
             content_hash = excluded.content_hash, deleted = excluded.deleted,
             write_id = excluded.write_id",
        params![
            key.object,
            key.record_id.as_str(),
            entry.hubspot_id,
            modstamp,
            entry.content_hash,
            entry.deleted,
            new_write_id().cast_signed()
        ],
    )
    .context(&what(key))?;
    Ok(outcome)
}

fn read(connection: &Connection, key: &RecordKey) -> PortResult<Option<IndexEntry>> {
    connection
        .query_row(
            "SELECT hubspot_id, modstamp, content_hash, deleted, write_id FROM record_index
             WHERE object = ?1 AND record_id = ?2",
            params![key.object, key.record_id.as_str()],
            |row| {
                Ok(IndexEntry {
                    hubspot_id: row.get(0)?,
                    modstamp: from_nanos(row.get(1)?),
                    content_hash: row.get(2)?,
                    deleted: row.get(3)?,
                    write_id: row.get::<_, i64>(4)?.cast_unsigned(),
                })
            },
        )
        .optional()
        .context(&what(key))
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
        self.store
            .call("writing the record index", move |connection| {
                // Read and write in one IMMEDIATE transaction: no other writer (of this process
                // or another) can slip in between the comparison and the write.
                let tx = immediate(connection, &what(&key))?;
                let outcome = put_in(&tx, &key, &entry)?;
                tx.commit().context(&what(&key))?;
                Ok(outcome)
            })
            .await
    }

    async fn put_many_if_newer(
        &self,
        entries: &[(RecordKey, IndexEntry)],
    ) -> PortResult<Vec<IndexWrite>> {
        let entries = entries.to_vec();
        self.store
            .call("writing the record index", move |connection| {
                // All in one IMMEDIATE transaction: each comparison and write as atomic as
                // `put_if_newer`'s, and one commit for the lot.
                let context = "the record index";
                let tx = immediate(connection, context)?;
                let outcomes = entries
                    .iter()
                    .map(|(key, entry)| put_in(&tx, key, entry))
                    .collect::<PortResult<Vec<_>>>()?;
                tx.commit().context(context)?;
                Ok(outcomes)
            })
            .await
    }

    async fn wait_for(&self, links: &[(RecordKey, RecordKey)]) -> PortResult<()> {
        let links = links.to_vec();
        let since = chrono::Utc::now().timestamp_millis();
        self.store
            .call(
                "recording records that wait for their target",
                move |connection| {
                    let context = "the records waiting for their target";
                    let tx = immediate(connection, context)?;
                    for (target, waiter) in &links {
                        tx.execute(
                            "INSERT OR IGNORE INTO waiting_links
                             (target_object, target_id, waiter_object, waiter_id, since_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                            params![
                                target.object,
                                target.record_id.as_str(),
                                waiter.object,
                                waiter.record_id.as_str(),
                                since
                            ],
                        )
                        .context(context)?;
                    }
                    tx.commit().context(context)?;
                    Ok(())
                },
            )
            .await
    }

    async fn take_waiting(&self, targets: &[RecordKey]) -> PortResult<Vec<RecordKey>> {
        let targets = targets.to_vec();
        self.store
            .call(
                "taking the records that waited for their target",
                move |connection| {
                    let context = "the records waiting for their target";
                    // Read and delete in one IMMEDIATE transaction: each waiter is taken once.
                    let tx = immediate(connection, context)?;
                    let mut taken = Vec::new();
                    for target in &targets {
                        let mut statement = tx
                        .prepare_cached(
                            "DELETE FROM waiting_links WHERE target_object = ?1 AND target_id = ?2
                             RETURNING waiter_object, waiter_id",
                        )
                        .context(context)?;
                        let rows = statement
                            .query_map(params![target.object, target.record_id.as_str()], |row| {
                                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                            })
                            .context(context)?;
                        for row in rows {
                            let (object, id) = row.context(context)?;
                            let record_id =
                                SalesforceId::parse(&id).map_err(|e| PortError::Corrupt {
                                    what: context.to_owned(),
                                    reason: format!("{id}: {e}"),
                                })?;
                            let waiter = RecordKey { object, record_id };
                            if !taken.contains(&waiter) {
                                taken.push(waiter);
                            }
                        }
                    }
                    tx.commit().context(context)?;
                    Ok(taken)
                },
            )
            .await
    }

    async fn links(&self, records: &[RecordKey]) -> PortResult<HashMap<RecordKey, RecordLinks>> {
        let records = records.to_vec();
        self.store
            .call("reading the link journal", move |connection| {
                let context = "reading the link journal";
                let mut statement = connection
                    .prepare_cached(
                        "SELECT field, target, token FROM record_links
                         WHERE object = ?1 AND record_id = ?2",
                    )
                    .context(context)?;
                let mut found: HashMap<RecordKey, RecordLinks> = HashMap::new();
                for record in records {
                    let rows = statement
                        .query_map(params![record.object, record.record_id.as_str()], |row| {
                            Ok((
                                row.get::<_, String>(0)?,
                                row.get::<_, String>(1)?,
                                row.get::<_, i64>(2)?,
                            ))
                        })
                        .context(context)?;
                    for row in rows {
                        let (field, target, token) = row.context(context)?;
                        found
                            .entry(record.clone())
                            .or_default()
                            .entry(field)
                            .or_default()
                            .insert(target, token.cast_unsigned());
                    }
                }
                Ok(found)
            })
            .await
    }

    async fn add_links(&self, links: &[LinkRecord]) -> PortResult<()> {
        let links: Vec<LinkRecord> = links
            .iter()
            .map(|link| LinkRecord {
                token: new_write_id(),
                ..link.clone()
            })
            .collect();
        self.change_links(
            &links,
            "INSERT INTO record_links (object, record_id, field, target, token)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (object, record_id, field, target) DO UPDATE SET token = excluded.token",
        )
        .await
    }

    async fn remove_links(&self, links: &[LinkRecord]) -> PortResult<()> {
        self.change_links(
            links,
            "DELETE FROM record_links
             WHERE object = ?1 AND record_id = ?2 AND field = ?3 AND target = ?4 AND token = ?5",
        )
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
