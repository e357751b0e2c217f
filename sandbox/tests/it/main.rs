//! The sandbox's tests in one binary (each file a module; nextest still runs each test in its own
//! process): HubSpot's and Salesforce's documented behaviours, as the stand-ins serve them.

mod associations;
mod auth_and_schemas;
mod common;
mod imports;
mod limits_faults_stats;
mod records;
mod salesforce_auth;
mod salesforce_bulk;
mod salesforce_common;
mod salesforce_limits;
mod salesforce_rest;
mod salesforce_senders;
