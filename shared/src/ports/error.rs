//! Errors shared by the store and queue ports.

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
    #[error("{0}")]
    Invalid(String),
}

impl PortError {
    /// Whether retrying the same call can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, PortError::Unavailable { .. })
    }
}

pub type PortResult<T> = Result<T, PortError>;
