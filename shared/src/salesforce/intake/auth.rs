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

/// The header an EventBridge API destination's API-key connection sends the endpoint token in
/// (the connection's "API key name").
pub const EVENTS_TOKEN_HEADER: &str = "x-sf2hs-token";

/// The events endpoint of the local pipeline takes what an EventBridge API destination
/// connection can send: the endpoint token in [`EVENTS_TOKEN_HEADER`] (API-key authorization)
/// or as the password of HTTP basic authorization (any user name). Compared in constant time.
pub fn check_events_credential(
    api_key: Option<&str>,
    authorization: Option<&str>,
    expected: &str,
) -> Result<(), SenderRefused> {
    if let Some(key) = api_key {
        return check_token(Some(key.trim()), expected);
    }
    let password = authorization
        .and_then(|value| {
            let (scheme, encoded) = value.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("basic")
                .then_some(encoded.trim())
        })
        .and_then(|encoded| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()
        })
        .and_then(|decoded| String::from_utf8(decoded).ok())
        .and_then(|pair| {
            pair.split_once(':')
                .map(|(_, password)| password.to_owned())
        });
    check_token(password.as_deref(), expected)
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
