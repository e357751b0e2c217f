pub mod demo;
pub mod dlq;
pub mod import;
pub mod mappings;
pub mod preview;
pub mod schema;
pub mod serve;
pub mod status;

pub use sf2hs_shared::mapping::MappingStatus as Status;
