//! The Salesforce side: change intake (outbound messages, CDC and platform events) and the
//! REST/Bulk client (describe, backfill, re-read).
pub mod client;
pub mod intake;
