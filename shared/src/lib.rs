//! sf2hs: keeps HubSpot custom objects in step with Salesforce records.
//!
//! This crate holds everything the Lambda functions and the CLI share: the domain, the mapping
//! configs and engine, the ports (store and queue traits) and their embedded adapters, and (feature
//! `aws`) their AWS adapters, and the HubSpot client. AWS types stay in `aws` and HTTP types in the
//! clients; adapters convert at their
//! edge.

pub mod activation;
#[cfg(feature = "aws")]
pub mod aws;
pub mod domain;
pub mod embedded;
pub mod engine;
pub mod health;
pub mod hubspot;
pub mod import;
pub mod ingest;
pub mod mapping;
pub mod metrics;
pub mod ports;
pub mod record_history;
pub mod salesforce;
pub mod settings;
pub mod worker;

#[cfg(feature = "conformance")]
pub mod conformance;
