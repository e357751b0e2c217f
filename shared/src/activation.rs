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
