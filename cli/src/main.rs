//! `sf2hs`: the operator's command line.
//!
//! Exit codes: 0 success; 1 the input has problems (listed on stderr); 2 wrong usage.

mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Keeps HubSpot custom objects in step with Salesforce records.
///
/// Mapping files (TOML) say what syncs; see examples/README.md for the format.
/// Credentials never go in mapping files.
#[derive(Debug, Parser)]
#[command(name = "sf2hs", version, about, long_about = None)]
struct Cli {
    /// Print machine-readable JSON instead of human text.
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Work with mapping files.
    #[command(subcommand)]
    Mappings(MappingsCommand),
}

#[derive(Debug, Subcommand)]
enum MappingsCommand {
    /// Check mapping files and list every problem at once, each with file:line and a fix hint.
    ///
    /// Exits with 1 when any file has an error.
    Validate {
        /// Mapping files to check together (a mapping may associate to one in another file).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Mappings(MappingsCommand::Validate { files }) => {
            commands::mappings::validate(&files, cli.json)
        }
    }
}
