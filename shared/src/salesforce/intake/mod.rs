//! Change intake: turning what Salesforce sends into `Change` records.

pub mod auth;
pub mod cdc;
pub mod outbound;
pub mod soap;
mod xml;

pub use outbound::{OutboundError, OutboundMessage, parse_outbound_message};
