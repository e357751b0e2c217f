//! Mapping configs as JSON rows with a version, written compare-and-swap.

use async_trait::async_trait;
use chrono::Utc;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{EmbeddedStore, SqlContext, from_nanos, immediate, to_i64, to_nanos, to_u64};
use crate::mapping::{Mapping, MappingStatus};
use crate::ports::{MappingStore, PortError, PortResult, StoredMapping};

/// [`MappingStore`] on the embedded SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteMappingStore {
    store: EmbeddedStore,
}

impl SqliteMappingStore {
    pub fn new(store: EmbeddedStore) -> Self {
        SqliteMappingStore { store }
    }
}

fn what(salesforce_object: &str) -> String {
    format!("the mapping of {salesforce_object}")
}

fn decode(
    salesforce_object: &str,
    body: &str,
    version: i64,
    updated_at: i64,
) -> PortResult<StoredMapping> {
    let mapping: Mapping = serde_json::from_str(body).map_err(|e| PortError::Corrupt {
        what: format!(
            "{} (row mappings/{salesforce_object})",
            what(salesforce_object)
        ),
        reason: e.to_string(),
    })?;
    Ok(StoredMapping {
        mapping,
        version: to_u64(version, &what(salesforce_object))?,
        updated_at: from_nanos(updated_at),
    })
}

fn encode(mapping: &Mapping) -> PortResult<String> {
    serde_json::to_string(mapping).map_err(|e| {
        PortError::invalid(format!(
            "{} cannot be serialised: {e}",
            what(&mapping.salesforce_object)
        ))
    })
}

fn current_version(tx: &Transaction<'_>, salesforce_object: &str) -> PortResult<Option<u64>> {
    let version: Option<i64> = tx
        .query_row(
            "SELECT version FROM mappings WHERE salesforce_object = ?1",
            [salesforce_object],
            |row| row.get(0),
        )
        .optional()
        .context(&what(salesforce_object))?;
    version
        .map(|v| to_u64(v, &what(salesforce_object)))
        .transpose()
}

fn write(
    tx: &Transaction<'_>,
    salesforce_object: &str,
    body: &str,
    version: u64,
) -> PortResult<()> {
    let now = to_nanos(Utc::now(), "the clock")?;
    tx.execute(
        "INSERT INTO mappings (salesforce_object, body, version, updated_at)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (salesforce_object)
         DO UPDATE SET body = excluded.body, version = excluded.version,
                       updated_at = excluded.updated_at",
        params![salesforce_object, body, to_i64(version, "version")?, now],
    )
    .context(&what(salesforce_object))?;
    Ok(())
}

/// One stored mapping, decoded; `None` when there is none.
fn read(connection: &Connection, salesforce_object: &str) -> PortResult<Option<StoredMapping>> {
    let row: Option<(String, i64, i64)> = connection
        .query_row(
            "SELECT body, version, updated_at FROM mappings WHERE salesforce_object = ?1",
            [salesforce_object],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()
        .context(&what(salesforce_object))?;
    row.map(|(body, version, updated_at)| decode(salesforce_object, &body, version, updated_at))
        .transpose()
}

#[async_trait]
impl MappingStore for SqliteMappingStore {
    async fn get(&self, salesforce_object: &str) -> PortResult<Option<StoredMapping>> {
        let object = salesforce_object.to_owned();
        self.store
            .call("reading a mapping", move |connection| {
                read(connection, &object)
            })
            .await
    }

    async fn list(&self) -> PortResult<Vec<StoredMapping>> {
        self.store
            .call("listing mappings", |connection| {
                let context = "listing mappings";
                let mut statement = connection
                    .prepare(
                        "SELECT salesforce_object, body, version, updated_at FROM mappings
                         ORDER BY salesforce_object",
                    )
                    .context(context)?;
                let rows = statement
                    .query_map([], |row| {
                        Ok((
                            row.get::<_, String>(0)?,
                            row.get::<_, String>(1)?,
                            row.get::<_, i64>(2)?,
                            row.get::<_, i64>(3)?,
                        ))
                    })
                    .context(context)?;
                let mut mappings = Vec::new();
                for row in rows {
                    let (object, body, version, updated_at) = row.context(context)?;
                    mappings.push(decode(&object, &body, version, updated_at)?);
                }
                Ok(mappings)
            })
            .await
    }

    async fn put(&self, mapping: &Mapping, expected_version: Option<u64>) -> PortResult<u64> {
        let object = mapping.salesforce_object.clone();
        let body = encode(mapping)?;
        self.store
            .call("writing a mapping", move |connection| {
                let tx = immediate(connection, &what(&object))?;
                let current = current_version(&tx, &object)?;
                let next = match (current, expected_version) {
                    (None, None) => 1,
                    (Some(found), Some(expected)) if found == expected => found + 1,
                    (found, expected) => {
                        // Creating over an existing mapping reads as "expected none (0)".
                        return Err(PortError::VersionConflict {
                            what: what(&object),
                            expected: expected.unwrap_or(0),
                            found: found.unwrap_or(0),
                        });
                    }
                };
                write(&tx, &object, &body, next)?;
                tx.commit().context(&what(&object))?;
                Ok(next)
            })
            .await
    }

    async fn set_status(&self, salesforce_object: &str, status: MappingStatus) -> PortResult<u64> {
        let object = salesforce_object.to_owned();
        self.store
            .call("changing a mapping's status", move |connection| {
                let tx = immediate(connection, &what(&object))?;
                let Some(mut stored) = read(&tx, &object)? else {
                    return Err(PortError::NotFound {
                        what: what(&object),
                    });
                };
                stored.mapping.status = status;
                let next = stored.version + 1;
                write(&tx, &object, &encode(&stored.mapping)?, next)?;
                tx.commit().context(&what(&object))?;
                Ok(next)
            })
            .await
    }

    async fn delete(&self, salesforce_object: &str) -> PortResult<bool> {
        let object = salesforce_object.to_owned();
        self.store
            .call("deleting a mapping", move |connection| {
                let removed = connection
                    .execute(
                        "DELETE FROM mappings WHERE salesforce_object = ?1",
                        [&object],
                    )
                    .context(&what(&object))?;
                Ok(removed > 0)
            })
            .await
    }
}
