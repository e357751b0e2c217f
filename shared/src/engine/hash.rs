//! A content hash of what one record writes to HubSpot, so the worker can skip writes that would
//! change nothing.
//!
//! The hash is stored (record index) and compared across deployments, so its encoding is fixed:
//! changing anything here changes every stored hash and makes every record look changed once.
//! A test pins the hash of a fixed record.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::record::AssociationRef;
use crate::mapping::AssociationTarget;

/// SHA-256 of a mapped record, as 64 lower-case hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContentHash(String);

/// Names the encoding, so a future one cannot produce the same bytes by accident.
const ENCODING_TAG: &[u8] = b"sf2hs content hash v1";

impl ContentHash {
    /// Hashes properties, associations and cleared lookups. Order-independent: properties are
    /// sorted by the map, associations and cleared lookups are sorted here.
    ///
    /// Every string is length-prefixed, so `{"a":"b;c"}` and `{"a;b":"c"}` (or any other way of
    /// moving bytes between neighbouring strings) encode differently.
    pub fn of(
        properties: &BTreeMap<String, String>,
        associations: &[AssociationRef],
        cleared_associations: &[String],
    ) -> Self {
        let mut encoder = Encoder::default();
        encoder.bytes(ENCODING_TAG);

        encoder.count(properties.len());
        for (name, value) in properties {
            encoder.text(name);
            encoder.text(value);
        }

        let mut association_encodings: Vec<Vec<u8>> =
            associations.iter().map(encode_association).collect();
        association_encodings.sort();
        encoder.count(association_encodings.len());
        for encoding in &association_encodings {
            encoder.prefixed(encoding);
        }

        let mut cleared: Vec<&String> = cleared_associations.iter().collect();
        cleared.sort();
        cleared.dedup();
        encoder.count(cleared.len());
        for field in cleared {
            encoder.text(field);
        }

        let digest = Sha256::digest(&encoder.buffer);
        ContentHash(digest.iter().map(|b| format!("{b:02x}")).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn encode_association(association: &AssociationRef) -> Vec<u8> {
    let mut encoder = Encoder::default();
    encoder.text(&association.salesforce_field);
    match &association.target {
        AssociationTarget::MappedObject { salesforce_object } => {
            encoder.text("mapped_object");
            encoder.text(salesforce_object);
        }
        AssociationTarget::HubSpotObject {
            object,
            id_property,
        } => {
            encoder.text("hubspot_object");
            encoder.text(object);
            encoder.text(id_property);
        }
    }
    encoder.text(association.target_record_id.as_str());
    match association.association_type_id {
        None => encoder.bytes(&[0]),
        Some(type_id) => {
            encoder.bytes(&[1]);
            encoder.bytes(&type_id.to_be_bytes());
        }
    }
    encoder.buffer
}

/// Length-prefixed byte encoding: every variable-length item is preceded by its length as a
/// big-endian u64, so the encoding can be read back unambiguously.
#[derive(Default)]
struct Encoder {
    buffer: Vec<u8>,
}

impl Encoder {
    fn count(&mut self, n: usize) {
        self.buffer.extend_from_slice(&(n as u64).to_be_bytes());
    }

    fn text(&mut self, text: &str) {
        self.prefixed(text.as_bytes());
    }

    fn prefixed(&mut self, bytes: &[u8]) {
        self.count(bytes.len());
        self.buffer.extend_from_slice(bytes);
    }

    /// Raw bytes, for the leading tag and fixed-width items only.
    fn bytes(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }
}

#[cfg(test)]
mod tests;
