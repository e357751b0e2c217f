//! Salesforce record ids: 15-character case-sensitive ids and their 18-character case-safe form.
//!
//! Every id sf2hs stores or sends is the 18-character form, so that a record reached through an
//! outbound message (18), a report export (15) or a CDC event (18) is one record, not two.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a string is not a Salesforce record id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordIdError {
    #[error(
        "`{value}` is not a Salesforce id: it has {len} characters, an id has 15 or 18 \
         (copy the id from the record's URL or from the API)"
    )]
    BadLength { value: String, len: usize },
    #[error(
        "`{value}` is not a Salesforce id: character {position} (`{found}`) is not a letter or digit"
    )]
    BadCharacter {
        value: String,
        position: usize,
        found: char,
    },
    #[error(
        "`{value}` is not a valid 18-character Salesforce id: its checksum suffix should be \
         `{expected}` (was the id retyped, or its case changed?)"
    )]
    BadChecksum { value: String, expected: String },
}

/// An 18-character Salesforce record id, normalised from 15 or 18 characters.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SalesforceId(String);

const CHECKSUM_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

impl SalesforceId {
    /// Accepts a 15-character id (case-sensitive) or an 18-character id.
    ///
    /// An 18-character id may arrive with its case changed (spreadsheets do that); its checksum
    /// encodes the case of the first 15 characters, so a mismatch is refused rather than guessed.
    pub fn parse(value: &str) -> Result<Self, RecordIdError> {
        let len = value.chars().count();
        if len != 15 && len != 18 {
            return Err(RecordIdError::BadLength {
                value: value.to_owned(),
                len,
            });
        }
        if let Some((position, found)) = value
            .chars()
            .enumerate()
            .find(|(_, c)| !c.is_ascii_alphanumeric())
        {
            return Err(RecordIdError::BadCharacter {
                value: value.to_owned(),
                position: position + 1,
                found,
            });
        }
        let base = &value[..15];
        let expected = checksum(base);
        if len == 18 {
            let suffix = &value[15..];
            if !suffix.eq_ignore_ascii_case(&expected) {
                return Err(RecordIdError::BadChecksum {
                    value: value.to_owned(),
                    expected,
                });
            }
        }
        Ok(SalesforceId(format!("{base}{expected}")))
    }

    /// The 18-character form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-sensitive 15-character form.
    pub fn short(&self) -> &str {
        &self.0[..15]
    }

    /// The 3-character key prefix that names the object type (`001` Account, `003` Contact …).
    pub fn key_prefix(&self) -> &str {
        &self.0[..3]
    }
}

/// The 3-character checksum of a 15-character id: one character per 5-character chunk, whose bits
/// say which characters of the chunk are upper-case letters (bit 0 = the chunk's first character).
fn checksum(base15: &str) -> String {
    base15
        .as_bytes()
        .chunks(5)
        .map(|chunk| {
            let bits = chunk
                .iter()
                .enumerate()
                .filter(|(_, b)| b.is_ascii_uppercase())
                .fold(0usize, |acc, (i, _)| acc | (1 << i));
            char::from(CHECKSUM_ALPHABET[bits])
        })
        .collect()
}

impl fmt::Display for SalesforceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SalesforceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SalesforceId({})", self.0)
    }
}

impl TryFrom<String> for SalesforceId {
    type Error = RecordIdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        SalesforceId::parse(&value)
    }
}

impl From<SalesforceId> for String {
    fn from(id: SalesforceId) -> String {
        id.0
    }
}

impl std::str::FromStr for SalesforceId {
    type Err = RecordIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SalesforceId::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fifteen_becomes_eighteen() {
        let id = SalesforceId::parse("001D000000IRFma").unwrap();
        assert_eq!(id.as_str(), "001D000000IRFmaIAH");
        assert_eq!(id.short(), "001D000000IRFma");
        assert_eq!(id.key_prefix(), "001");
    }

    #[test]
    fn eighteen_with_lowercased_suffix_is_accepted() {
        let id = SalesforceId::parse("001D000000IRFmaiah").unwrap();
        assert_eq!(id.as_str(), "001D000000IRFmaIAH");
    }

    #[test]
    fn refusals_say_why() {
        let err = SalesforceId::parse("001D00").unwrap_err();
        assert!(err.to_string().contains("has 6 characters"), "{err}");
        let err = SalesforceId::parse("001D000000IRF-a").unwrap_err();
        assert!(err.to_string().contains("character 14 (`-`)"), "{err}");
        let err = SalesforceId::parse("001D000000IRFmaAAA").unwrap_err();
        assert!(err.to_string().contains("should be `IAH`"), "{err}");
        let err = SalesforceId::parse("001d000000IRFmaIAH").unwrap_err();
        assert!(matches!(err, RecordIdError::BadChecksum { .. }), "{err}");
    }

    #[test]
    fn serde_round_trip_normalises() {
        let id: SalesforceId = serde_json::from_str("\"003n000000NOtUb\"").unwrap();
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            "\"003n000000NOtUbAAL\""
        );
        assert!(serde_json::from_str::<SalesforceId>("\"nope\"").is_err());
    }

    proptest! {
        #[test]
        fn any_fifteen_round_trips(base in "[a-zA-Z0-9]{15}") {
            let id = SalesforceId::parse(&base).unwrap();
            prop_assert_eq!(id.short(), base.as_str());
            let again = SalesforceId::parse(id.as_str()).unwrap();
            prop_assert_eq!(&again, &id);
            let upper = id.as_str()[..15].to_owned() + &id.as_str()[15..].to_ascii_lowercase();
            prop_assert_eq!(SalesforceId::parse(&upper).unwrap(), id);
        }

        #[test]
        fn case_flip_changes_identity(base in "[a-z0-9]{14}[a-z]") {
            // Two 15-character ids that differ only in case are different records.
            let lower = SalesforceId::parse(&base).unwrap();
            let flipped = format!("{}{}", &base[..14], base[14..].to_ascii_uppercase());
            let upper = SalesforceId::parse(&flipped).unwrap();
            prop_assert_ne!(lower, upper);
        }
    }
}
