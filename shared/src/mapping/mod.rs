//! Mapping configs: the user's description of what syncs, as code.
//!
//! - `model`: the resolved mapping the store keeps and the worker applies;
//! - `file`: the TOML file format, parsed with line numbers;
//! - `validate`: every problem at once, each with file, line and a fix hint;
//! - `live`: the same mappings checked against the live Salesforce and HubSpot schemas;
//! - `objects`: the Salesforce objects that may be mapped;
//! - `reads`: the Salesforce fields a mapping reads, and a read record reshaped for it;
//! - `report`: problems, located mappings and the validation report;
//! - `schema`: live schemas from Salesforce describe and HubSpot, behind `SchemaSource`.

mod file;
mod live;
mod model;
pub mod objects;
pub mod reads;
mod report;
pub mod schema;
mod suggest;
mod validate;

pub use live::{LiveReport, check_live, validate_live};
pub use model::{
    AssociationMapping, AssociationTarget, Conversion, DEFAULT_ID_PROPERTY, DeleteRule,
    FieldMapping, HubSpotObjectRef, Mapping, MappingStatus, Resolved,
};
pub use reads::{read_fields, snapshot_for_mapping};
pub use report::{LocatedMapping, MappingLines, Problem, Severity, ValidationReport};
pub use validate::{load_files, validate_sources, validate_sources_beside};
