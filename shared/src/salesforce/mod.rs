//! The Salesforce side: change intake (outbound messages, CDC and platform events) and the
//! REST/Bulk client (describe, backfill, re-fetch).
pub mod client;
pub mod intake;
