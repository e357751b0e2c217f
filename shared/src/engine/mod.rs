//! The mapping engine: Salesforce field values to HubSpot property values.
//!
//! - `convert`: one value, by conversion (and, for `auto`, the field's describe type);
//! - `record`: one record's snapshot through a mapping, every failing field reported at once;
//! - `hash`: a stable content hash of what a record writes, to skip no-op writes;
//! - `decimal`, `instant`, `compound`: number, date/datetime and compound-value normalisation.

mod compound;
mod convert;
mod decimal;
mod hash;
mod instant;
mod record;

#[cfg(test)]
mod properties;

pub use compound::CompoundError;
pub use convert::{
    HUBSPOT_MAX_TEXT_CHARS, ValueError, ValueProblem, conversion_for_field_type, convert,
    hubspot_type_words, resolve_conversion,
};
pub use decimal::{DecimalError, canonical_decimal};
pub use hash::ContentHash;
pub use instant::InstantError;
pub use record::{AssociationRef, FieldError, MappedRecord, RecordErrors, map_record};
