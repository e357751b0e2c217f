//! sf2hs: keeps HubSpot custom objects in step with Salesforce records.
//!
//! This crate holds everything the Lambda functions and the CLI share: the domain, the mapping
//! configs and engine, the ports (store and queue traits) and their embedded adapters. It has no
//! AWS or HTTP types in its domain; adapters (the HubSpot client in `hubspot`) convert at their
//! edge.

pub mod domain;
pub mod embedded;
pub mod engine;
pub mod hubspot;
pub mod mapping;
pub mod ports;
pub mod salesforce;

#[cfg(feature = "conformance")]
pub mod conformance;
