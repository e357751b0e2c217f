//! The CLI's integration tests in one binary (each file a module; nextest still runs each test in
//! its own process). They run the built `sf2hs` command.

#[cfg(feature = "aws")]
mod aws_backend;
mod backfill_live;
mod chaos_embedded;
mod config_file;
mod console;
mod demo;
mod import_file;
mod import_run;
mod lifecycle;
mod mappings_validate;
mod preview;
mod schema_ensure;
mod serve;
mod store_commands;
mod validate_live;
