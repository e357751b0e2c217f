//! `sf2hs`: the operator's command line.
//!
//! Exit codes: 0 success; 1 the input has problems or the operation failed (the reason is on
//! stderr); 2 wrong usage.

mod backend;
mod commands;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Keeps HubSpot custom objects in step with Salesforce records.
///
/// Mapping files (TOML) say what syncs; see examples/README.md for the format. State (stored
/// mappings, record index, imports, sync log, queue) lives in the data directory: an embedded
/// SQLite store, the default for trying sf2hs out and for small installs. Credentials never go in
/// mapping files.
#[derive(Debug, Parser)]
#[command(name = "sf2hs", version, about, long_about)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct GlobalArgs {
    /// Print machine-readable JSON instead of human text.
    #[arg(long, global = true)]
    json: bool,

    /// Where the embedded store keeps its data (created when missing).
    #[arg(long, global = true, env = "SF2HS_DATA_DIR", default_value = ".sf2hs")]
    data_dir: PathBuf,

    /// Deliveries of one change before it goes to the dead-letter queue.
    #[arg(long, global = true, env = "SF2HS_MAX_RECEIVES", default_value_t = 5)]
    max_receives: u32,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Work with mapping files and the stored mappings.
    #[command(subcommand)]
    Mappings(MappingsCommand),
    /// Per mapping: state, records synced, failures in the last 24 h, last change; queue depth.
    Status,
    /// Recent sync failures with their reasons, newest first.
    Errors {
        /// Only this Salesforce object.
        object: Option<String>,
        /// How many to show.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// The dead-letter queue: changes that failed for good, with why.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Backfill jobs.
    #[command(subcommand)]
    Import(ImportCommand),
    /// HubSpot custom objects for the stored mappings.
    #[command(subcommand)]
    Schema(SchemaCommand),
    /// Try sf2hs on this machine: Salesforce and HubSpot sandboxes on loopback, the example
    /// mappings, an import of existing records, a stream of live changes, and a check of every
    /// record. Needs nothing but this binary; takes about a minute; exits 1 if any record does
    /// not match.
    Demo,
    /// Run the whole pipeline in this process on the embedded store and queue.
    ///
    /// Serves `POST /outbound/<token>` (Salesforce outbound messages) and `POST /events`
    /// (EventBridge-shaped CDC and platform events) with the ingest Lambda's handlers, and
    /// drains the queue with worker tasks. It reads the same variables as the Lambdas:
    /// SF2HS_ORG_ID, SF2HS_ENDPOINT_TOKEN_SECRET, SF2HS_HUBSPOT_SECRET, SF2HS_SALESFORCE_SECRET
    /// (names of secrets) and the optional SF2HS_HUBSPOT_*, SF2HS_SALESFORCE_* settings. A
    /// secret's value is the variable SF2HS_SECRET_<NAME> (upper case, `-` as `_`), or the file
    /// <secrets-dir>/<name>. Ctrl-C stops it without losing anything in flight.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "SF2HS_LISTEN", default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Worker tasks draining the queue.
        #[arg(long, default_value_t = 2)]
        workers: usize,
        /// A directory of secret files, one per secret name.
        #[arg(long, env = "SF2HS_SECRETS_DIR")]
        secrets_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum MappingsCommand {
    /// Check mapping files and list every problem at once, each with file:line and a fix hint.
    ///
    /// With credentials configured (SF2HS_SALESFORCE_SECRET and SF2HS_HUBSPOT_SECRET, as for
    /// `serve`), also checks them against the live Salesforce describe and HubSpot schemas.
    /// Exits with 1 when any file has an error.
    Validate {
        /// Mapping files to check together (a mapping may associate to one in another file).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Validate mapping files, then store every mapping with the status written in its file.
    ///
    /// Nothing is stored when any file has an error.
    Apply {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// A dry run: the resolved mapping and what sample records become in HubSpot (properties and
    /// associations). Records come from Salesforce (SF2HS_SALESFORCE_SECRET) or from a JSON file;
    /// nothing is sent anywhere. Exits with 1 when a sample record cannot be mapped.
    Preview {
        file: PathBuf,
        /// Only this Salesforce object's mapping.
        #[arg(long)]
        object: Option<String>,
        /// Sample records per mapping.
        #[arg(long, default_value_t = 3)]
        sample: usize,
        /// A JSON array of records to preview instead of reading Salesforce.
        #[arg(long)]
        records: Option<PathBuf>,
        /// A directory of secret files, one per secret name.
        #[arg(long, env = "SF2HS_SECRETS_DIR")]
        secrets_dir: Option<PathBuf>,
    },
    /// The stored mappings, as a table.
    List,
    /// Start syncing a stored mapping.
    Activate { object: String },
    /// Stop syncing a stored mapping for now; its changes wait and sync on activation.
    Pause { object: String },
}

#[derive(Debug, Subcommand)]
enum DlqCommand {
    /// The dead letters, oldest first.
    List {
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Put dead letters back on the queue (all of them, or the message ids given).
    Replay { message_ids: Vec<String> },
}

#[derive(Debug, Subcommand)]
enum ImportCommand {
    /// Import jobs, newest first, like the native imports table.
    List,
    /// One import job's progress and counts.
    Status { id: String },
    /// Count the records of a mapped object, confirm, and import them (local backend: this
    /// process runs the import and the workers, with a progress bar). Needs SF2HS_ORG_ID,
    /// SF2HS_SALESFORCE_SECRET and SF2HS_HUBSPOT_SECRET, as `serve` does.
    Start {
        object: String,
        /// Start without asking.
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        run: ImportRunArgs,
    },
    /// Go on with an interrupted import from its last checkpoint.
    Resume {
        id: String,
        #[command(flatten)]
        run: ImportRunArgs,
    },
}

#[derive(Debug, Subcommand)]
enum SchemaCommand {
    /// Create or complete the HubSpot object of a stored mapping from the Salesforce describe:
    /// the object, the unique Salesforce-id property and a property per mapped field. Shows the
    /// plan and asks first. Needs SF2HS_SALESFORCE_SECRET and SF2HS_HUBSPOT_SECRET.
    Ensure {
        object: String,
        /// Write without asking.
        #[arg(long)]
        yes: bool,
        /// A directory of secret files, one per secret name.
        #[arg(long, env = "SF2HS_SECRETS_DIR")]
        secrets_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
struct ImportRunArgs {
    /// Worker tasks writing HubSpot while the import runs.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// A directory of secret files, one per secret name.
    #[arg(long, env = "SF2HS_SECRETS_DIR")]
    secrets_dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> ExitCode {
    let json = cli.global.json;
    if let Command::Mappings(MappingsCommand::Validate { files }) = &cli.command {
        // Validation needs no store: it must work on a machine with nothing set up.
        return commands::mappings::validate_live(files, json).await;
    }
    if let Command::Mappings(MappingsCommand::Preview {
        file,
        object,
        sample,
        records,
        secrets_dir,
    }) = &cli.command
    {
        // A dry run needs no store either.
        let options = commands::preview::PreviewOptions {
            object: object.clone(),
            sample: *sample,
            records: records.clone(),
            secrets_dir: secrets_dir.clone(),
        };
        return match commands::preview::preview(file, options, json).await {
            Ok(code) => code,
            Err(e) => output::fail(&e),
        };
    }
    if let Command::Demo = &cli.command {
        // The demo makes its own data directory: it never touches the operator's.
        return match commands::demo::demo(json).await {
            Ok(code) => code,
            Err(e) => output::fail(&e),
        };
    }
    let backend = match backend::Backend::open(&cli.global.data_dir, cli.global.max_receives) {
        Ok(backend) => backend,
        Err(e) => return output::fail(&e),
    };
    let result = match cli.command {
        Command::Mappings(MappingsCommand::Validate { .. } | MappingsCommand::Preview { .. }) => {
            return ExitCode::SUCCESS;
        }
        Command::Mappings(MappingsCommand::Apply { files }) => {
            commands::mappings::apply(&backend, &files, json).await
        }
        Command::Mappings(MappingsCommand::List) => commands::mappings::list(&backend, json).await,
        Command::Mappings(MappingsCommand::Activate { object }) => {
            commands::mappings::set_status(&backend, &object, commands::Status::Active, json).await
        }
        Command::Mappings(MappingsCommand::Pause { object }) => {
            commands::mappings::set_status(&backend, &object, commands::Status::Paused, json).await
        }
        Command::Status => commands::status::status(&backend, json).await,
        Command::Errors { object, limit } => {
            commands::status::errors(&backend, object.as_deref(), limit, json).await
        }
        Command::Dlq(DlqCommand::List { limit }) => {
            commands::dlq::list(&backend, limit, json).await
        }
        Command::Dlq(DlqCommand::Replay { message_ids }) => {
            commands::dlq::replay(&backend, &message_ids, json).await
        }
        Command::Import(ImportCommand::List) => commands::import::list(&backend, json).await,
        Command::Import(ImportCommand::Status { id }) => {
            commands::import::status(&backend, &id, json).await
        }
        Command::Import(ImportCommand::Start { object, yes, run }) => {
            let options = commands::import::RunOptions {
                yes,
                workers: run.workers,
                secrets_dir: run.secrets_dir,
            };
            commands::import::start(&backend, &object, options, json).await
        }
        Command::Import(ImportCommand::Resume { id, run }) => {
            let options = commands::import::RunOptions {
                yes: true,
                workers: run.workers,
                secrets_dir: run.secrets_dir,
            };
            commands::import::resume(&backend, &id, options, json).await
        }
        Command::Demo => return ExitCode::SUCCESS,
        Command::Schema(SchemaCommand::Ensure {
            object,
            yes,
            secrets_dir,
        }) => commands::schema::ensure(&backend, &object, yes, secrets_dir, json).await,
        Command::Serve {
            listen,
            workers,
            secrets_dir,
        } => {
            commands::serve::serve(
                &backend,
                commands::serve::ServeOptions {
                    listen,
                    workers,
                    secrets_dir,
                },
            )
            .await
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => output::fail(&e),
    }
}
