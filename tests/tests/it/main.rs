//! The integration tests across crates, in one binary: each file is a module, and nextest runs
//! each test in its own process as before. One binary links the workspace once, not 16 times.

mod change_events;
mod common_hubspot;
mod common_pipeline;
mod common_salesforce;
mod conformance_aws;
mod conformance_sqlite;
mod file_import_aws;
mod handlers;
mod hubspot_client;
mod hubspot_client_load;
mod imports;
mod infra;
mod ingest;
mod mapping_validation;
mod outbound_messages;
mod pipeline_aws;
mod record_ids;
mod salesforce_client;
mod salesforce_schema;
mod secret_rotation;
mod typed_conversions;
mod worker_races;
mod worker_rules;
