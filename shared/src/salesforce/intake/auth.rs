//! Sender authentication for outbound messages, which are unsigned (salesforce.md §1.5): the
//! organisation id must be ours, and the endpoint URL must carry our secret token.

use subtle::ConstantTimeEq;

use crate::domain::SalesforceId;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SenderRefused {
    /// Never says which token was expected or received.
    #[error(
        "the endpoint token is missing or wrong; use the URL with the token from the sf2hs configuration"
    )]
    BadToken,
    #[error("the message comes from organisation {received}, not the configured {expected}")]
    WrongOrganization {
        received: SalesforceId,
        expected: SalesforceId,
    },
}

/// Compares in constant time, so response timing tells an attacker nothing about the token.
pub fn check_token(received: Option<&str>, expected: &str) -> Result<(), SenderRefused> {
    let received = received.unwrap_or("");
    // Lengths are compared in the open: the token's length is not the secret.
    if !expected.is_empty()
        && received.len() == expected.len()
        && bool::from(received.as_bytes().ct_eq(expected.as_bytes()))
    {
        Ok(())
    } else {
        Err(SenderRefused::BadToken)
    }
}

/// Both ids are 18-character normalised, so comparing them is comparing the 15-character
/// case-sensitive prefixes.
pub fn check_organization(
    received: &SalesforceId,
    expected: &SalesforceId,
) -> Result<(), SenderRefused> {
    if received == expected {
        Ok(())
    } else {
        Err(SenderRefused::WrongOrganization {
            received: received.clone(),
            expected: expected.clone(),
        })
    }
}
