//! Mapping configs: the user's description of what syncs, as code.
//!
//! - `model`: the resolved mapping the store keeps and the worker applies;
//! - `file`: the TOML file format, parsed with line numbers;
//! - `validate`: every problem at once, each with file, line and a fix hint;
//! - `objects`: the Salesforce objects that may be mapped;
//! - `schema`: live schemas from Salesforce describe and HubSpot, behind `SchemaSource`.

mod model;
pub mod schema;

pub use model::{
    AssociationMapping, AssociationTarget, Conversion, DEFAULT_ID_PROPERTY, DeleteRule,
    FieldMapping, HubSpotObjectRef, Mapping, MappingStatus,
};
