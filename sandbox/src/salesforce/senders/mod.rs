//! Salesforce's senders: outbound messages (SOAP push with retries until acked) and CDC events
//! in EventBridge envelopes. They let tests drive sf2hs's intake end to end.

pub mod cdc;
pub mod outbound;

pub use cdc::{CdcRelayConfig, change_events, post_events, post_events_with};
pub use outbound::{
    AttemptOutcome, DeliveryReport, MessageDelivery, OutboundMessageConfig, OutboundSender, is_ack,
};

/// Why a sender could not run at all (delivery failures are reported, not errors).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SenderError {
    #[error("{0}")]
    Config(String),
    #[error("sandbox state: {0}")]
    State(String),
}
