//! What can go wrong talking to HubSpot, each message saying what to do about it.

use std::time::Duration;

/// A call that failed as a whole. Items that HubSpot refused one by one are not errors: they are
/// `ItemFailure`s in a `BatchOutcome`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HubSpotError {
    #[error(
        "HubSpot refused the token (HTTP 401: {message}). Check the service key or private-app \
         token in the configuration or secret; for OAuth, check the client id, client secret and \
         refresh token"
    )]
    Unauthorized { message: String },

    #[error(
        "the HubSpot token lacks the scope(s) {}: add them to the service key (or the private or \
         OAuth app) and try again",
        scopes.join(", ")
    )]
    MissingScopes { scopes: Vec<String> },

    #[error(
        "HubSpot's daily API limit is reached ({message}); the daily limit resets at midnight in \
         the HubSpot account's time zone. Stop syncing until then, or buy an API limit increase"
    )]
    DailyLimitReached { message: String },

    #[error(
        "HubSpot kept answering with rate limits ({reason}) after {attempts} attempt(s); try the \
         call again later"
    )]
    RateLimited { reason: String, attempts: u32 },

    #[error(
        "HubSpot is unavailable ({reason}) after {attempts} attempt(s); try the call again later"
    )]
    Unavailable { reason: String, attempts: u32 },

    #[error(
        "HubSpot object `{object}` has no property `{property}`: fix the mapping line that writes \
         it, or create the property with `sf2hs schema ensure`"
    )]
    UnknownProperty { object: String, property: String },

    #[error(
        "`{property}` cannot identify records of HubSpot object `{object}` because it is not a \
         unique-value property ({message}); create it with hasUniqueValue (`sf2hs schema ensure` \
         does) or point the mapping's id_property at a unique property"
    )]
    IdPropertyNotUnique {
        object: String,
        property: String,
        message: String,
    },

    #[error(
        "HubSpot has no object `{object}`: check the mapping's HubSpot object, or create it with \
         `sf2hs schema ensure`"
    )]
    ObjectNotFound { object: String },

    #[error(
        "HubSpot rejected the request (HTTP {status}{}): {message}",
        category_suffix(category)
    )]
    Rejected {
        status: u16,
        category: Option<String>,
        message: String,
        correlation_id: Option<String>,
    },

    #[error(
        "the OAuth token refresh failed ({message}); check the client id, client secret and \
         refresh token"
    )]
    OAuthRefresh { message: String },

    #[error("HubSpot answered something this client cannot read: {reason}")]
    InvalidResponse { reason: String },

    #[error("the HubSpot client is misconfigured: {reason}")]
    Configuration { reason: String },
}

fn category_suffix(category: &Option<String>) -> String {
    category
        .as_ref()
        .map(|c| format!(", {c}"))
        .unwrap_or_default()
}

impl HubSpotError {
    /// Whether the same call may succeed later without anyone changing anything.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            HubSpotError::RateLimited { .. } | HubSpotError::Unavailable { .. }
        )
    }

    /// Whether the caller should stop calling HubSpot for a while (no retry storm).
    pub fn stops_the_caller(&self) -> bool {
        matches!(
            self,
            HubSpotError::DailyLimitReached { .. }
                | HubSpotError::Unauthorized { .. }
                | HubSpotError::MissingScopes { .. }
                | HubSpotError::OAuthRefresh { .. }
        )
    }

    /// A wait the caller may honour before trying again: HubSpot's ten-second window after
    /// rate limits. An outage has no known end, so the caller's own retry delay applies.
    pub fn suggested_wait(&self) -> Option<Duration> {
        match self {
            HubSpotError::RateLimited { .. } => Some(Duration::from_secs(10)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_to_do() {
        let scopes = HubSpotError::MissingScopes {
            scopes: vec!["crm.objects.custom.write".into()],
        };
        assert!(scopes.to_string().contains("crm.objects.custom.write"));
        assert!(scopes.to_string().contains("service key"));
        let property = HubSpotError::UnknownProperty {
            object: "2-1".into(),
            property: "amount".into(),
        };
        assert!(property.to_string().contains("`amount`"));
        assert!(property.to_string().contains("sf2hs schema ensure"));
        let daily = HubSpotError::DailyLimitReached {
            message: "You have reached your daily limit.".into(),
        };
        assert!(daily.to_string().contains("midnight"));
        assert!(daily.stops_the_caller() && !daily.is_retryable());
        assert!(
            HubSpotError::Unavailable {
                reason: "HTTP 503".into(),
                attempts: 8
            }
            .is_retryable()
        );
    }
}
