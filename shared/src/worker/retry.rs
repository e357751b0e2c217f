//! How a failed record is tried again: whether it spends its tries, and after what wait.

use std::time::Duration;

use crate::ports::RemoteError;

use super::Worker;
use super::item::{Budget, ItemOutcome};
use super::message::InboundMessage;

impl Worker {
    /// A failure of the record's own: tried again after `delay` until its tries are spent.
    pub(super) fn retry(
        &self,
        message: &InboundMessage,
        reason: String,
        delay: Duration,
    ) -> ItemOutcome {
        ItemOutcome::Failed {
            reason,
            delay,
            budget: if message.tries() >= self.settings.max_receives {
                Budget::Spent
            } else {
                Budget::Counted
            },
        }
    }

    /// A failure that will not heal by itself; it is retried until the budget is spent so a
    /// fix in Salesforce or HubSpot in between still lets it through.
    pub(super) fn failure(&self, message: &InboundMessage, reason: String) -> ItemOutcome {
        self.retry(message, reason, self.settings.retry_delay)
    }

    pub(super) fn remote_failure(
        &self,
        message: &InboundMessage,
        error: &RemoteError,
        doing: &str,
    ) -> ItemOutcome {
        match error {
            RemoteError::Retryable { reason, after } => ItemOutcome::Failed {
                reason: format!("{doing}: {reason}"),
                delay: after.unwrap_or(self.settings.retry_delay),
                // Outages are not the record's fault: they never spend its retry budget down
                // to the dead-letter queue on their own.
                budget: Budget::Outage,
            },
            RemoteError::Stop { reason } => ItemOutcome::Failed {
                reason: format!("{doing}: {reason}"),
                delay: self.settings.retry_delay * 10,
                budget: Budget::Outage,
            },
            RemoteError::Permanent { reason } => {
                self.failure(message, format!("{doing}: {reason}"))
            }
            // The mapping's object is resolved again (`resolve.rs`); the retry writes to it.
            RemoteError::UnknownObject { reason } => ItemOutcome::Failed {
                reason: format!("{doing}: {reason}"),
                delay: self.settings.retry_delay,
                budget: Budget::Counted,
            },
        }
    }
}
