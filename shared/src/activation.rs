//! Making a stored mapping active: it is checked against the live Salesforce describe and
//! HubSpot schemas again (its HubSpot object may have been made since it was applied, or
//! changed), stored active with what that resolved, and the changes parked while it was paused
//! are replayed. `sf2hs mappings activate` and the console both do it through here.

use crate::mapping::schema::SchemaSource;
use crate::mapping::{LocatedMapping, Mapping, MappingStatus, Problem, Severity, check_live};
use crate::ports::{ChangeQueue, MappingStore, PortError};

/// What an activation did, or why it did not.
#[derive(Debug)]
pub enum Activation {
    /// Active now, at `version`; `replayed` parked changes back on their queues.
    Done {
        previous: MappingStatus,
        version: u64,
        replayed: u64,
        /// Warnings, and with `force` the errors it was activated despite.
        problems: Vec<Problem>,
    },
    /// The live check found errors: nothing changed.
    Refused {
        previous: MappingStatus,
        problems: Vec<Problem>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    #[error(
        "no stored mapping for `{0}`; `sf2hs mappings list` shows the stored ones, `sf2hs mappings apply FILE` stores new ones"
    )]
    NoMapping(String),
    #[error(transparent)]
    Store(#[from] PortError),
}

/// Activates `object`'s stored mapping; `force` activates it despite the live check's errors.
pub async fn activate(
    mappings: &dyn MappingStore,
    queues: &[&dyn ChangeQueue],
    schemas: &dyn SchemaSource,
    object: &str,
    force: bool,
) -> Result<Activation, ActivationError> {
    let stored = mappings
        .get(object)
        .await?
        .ok_or_else(|| ActivationError::NoMapping(object.to_owned()))?;
    let previous = stored.mapping.status;
    let mapping = Mapping {
        status: MappingStatus::Active,
        ..stored.mapping.as_written()
    };
    let located = LocatedMapping::stored(mapping.clone());
    let checked = check_live(std::slice::from_ref(&located), schemas).await;
    let blocking = checked
        .problems
        .iter()
        .any(|p| p.severity == Severity::Error);
    if blocking && !force {
        return Ok(Activation::Refused {
            previous,
            problems: checked.problems,
        });
    }
    let mapping = Mapping {
        resolved: checked.resolved.into_iter().next().flatten(),
        ..mapping
    };
    let version = mappings.put(&mapping, Some(stored.version)).await?;
    let mut replayed = 0;
    for queue in queues {
        replayed += crate::worker::replay_parked(*queue, object).await?;
    }
    Ok(Activation::Done {
        previous,
        version,
        replayed,
        problems: checked.problems,
    })
}

/// What storing one checked mapping did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    Created,
    Updated,
    Unchanged,
}

impl Stored {
    pub fn name(self) -> &'static str {
        match self {
            Stored::Created => "created",
            Stored::Updated => "updated",
            Stored::Unchanged => "unchanged",
        }
    }
}

/// One mapping stored by [`store_checked`].
#[derive(Debug, Clone)]
pub struct StoredRow {
    pub object: String,
    pub status: MappingStatus,
    pub stored: Stored,
    pub version: u64,
    pub object_type_id: Option<String>,
}

/// Stores mappings the live check resolved (`mappings apply`, the console's new-mapping flow),
/// each with what it resolved, with a compare-and-swap on the version read, so a concurrent
/// edit is refused, not overwritten.
pub async fn store_checked(
    store: &dyn MappingStore,
    located: &[LocatedMapping],
    resolved: Vec<Option<crate::mapping::Resolved>>,
) -> Result<Vec<StoredRow>, PortError> {
    let mut rows = Vec::new();
    for (located, resolved) in located.iter().zip(resolved) {
        let mapping = Mapping {
            resolved,
            ..located.mapping.clone()
        };
        let current = store.get(&mapping.salesforce_object).await?;
        let (stored, version) = match current {
            None => (Stored::Created, store.put(&mapping, None).await?),
            Some(existing) if existing.mapping == mapping => (Stored::Unchanged, existing.version),
            Some(existing) => (
                Stored::Updated,
                store.put(&mapping, Some(existing.version)).await?,
            ),
        };
        rows.push(StoredRow {
            object: mapping.salesforce_object.clone(),
            status: mapping.status,
            stored,
            version,
            object_type_id: mapping.resolved.as_ref().map(|r| r.object_type_id.clone()),
        });
    }
    Ok(rows)
}
