//! Errors shared by the store and queue ports.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

/// A typed error kept as another error's cause (its `source`), so that callers can walk the
/// chain or downcast instead of parsing text. Shared, so the errors holding it stay cloneable;
/// two causes are equal when they say the same.
#[derive(Debug, Clone)]
pub struct Cause(Arc<dyn Error + Send + Sync>);

impl Cause {
    pub fn new(error: impl Error + Send + Sync + 'static) -> Self {
        Cause(Arc::new(error))
    }

    /// The error itself, to downcast (`cause.get().downcast_ref::<T>()`).
    pub fn get(&self) -> &(dyn Error + Send + Sync + 'static) {
        self.0.as_ref()
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Error for Cause {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.source()
    }
}

impl PartialEq for Cause {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Eq for Cause {}

/// What went wrong in a store or queue adapter, in terms a caller can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// The backend could not be reached or refused the call for now; the same call may succeed
    /// later (the worker leaves the message on the queue).
    #[error("{backend} is unavailable: {reason} (the call can be retried)")]
    Unavailable {
        backend: &'static str,
        reason: String,
    },
    /// A versioned write lost a race: someone else wrote first.
    #[error(
        "{what} changed since it was read (expected version {expected}, found {found}); read it again and retry"
    )]
    VersionConflict {
        what: String,
        expected: u64,
        found: u64,
    },
    #[error("{what} was not found")]
    NotFound { what: String },
    /// Stored data that cannot be decoded: never retried, needs an operator.
    #[error("stored data for {what} cannot be read: {reason}")]
    Corrupt { what: String, reason: String },
    /// A request the backend refuses as it is, or data it cannot take: retrying cannot help.
    /// `reason` says what and what to do; `cause` is the typed error behind it, when one is.
    #[error("{reason}")]
    Invalid {
        reason: String,
        #[source]
        cause: Option<Cause>,
    },
}

impl PortError {
    /// A refusal with no typed error behind it.
    pub fn invalid(reason: impl Into<String>) -> Self {
        PortError::Invalid {
            reason: reason.into(),
            cause: None,
        }
    }

    /// A refusal caused by `cause` (an SDK, SQLite or encoding error), kept as its source.
    pub fn invalid_because(
        reason: impl Into<String>,
        cause: impl Error + Send + Sync + 'static,
    ) -> Self {
        PortError::Invalid {
            reason: reason.into(),
            cause: Some(Cause::new(cause)),
        }
    }

    /// Whether retrying the same call can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, PortError::Unavailable { .. })
    }
}

pub type PortResult<T> = Result<T, PortError>;

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn a_refusal_keeps_its_typed_cause_and_its_text() {
        let decoding = serde_json::from_str::<u32>("x").expect_err("not a number");
        let text = decoding.to_string();
        let error =
            PortError::invalid_because(format!("cannot decode the entry: {text}"), decoding);
        assert_eq!(
            error.to_string(),
            format!("cannot decode the entry: {text}")
        );
        let cause = error
            .source()
            .and_then(|s| s.downcast_ref::<Cause>())
            .expect("the cause is the source");
        assert!(cause.get().downcast_ref::<serde_json::Error>().is_some());
        assert_eq!(error.clone(), error, "still cloneable and comparable");
        assert!(PortError::invalid("no cause").source().is_none());
    }
}
