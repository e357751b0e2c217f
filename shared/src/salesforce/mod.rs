//! The Salesforce side: change intake (outbound messages, CDC and platform events).
pub mod intake;
