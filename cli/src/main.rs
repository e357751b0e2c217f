//! `sf2hs`: the operator's command line.
//!
//! Exit codes: 0 success; 1 the input has problems or the operation failed (the reason is on
//! stderr); 2 wrong usage.

/// `println!` that ends the process quietly when stdout is closed (`sf2hs … | head`), as
/// other command-line tools do, instead of panicking on the broken pipe.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::write_line(format_args!($($arg)*))
    };
}

#[cfg(feature = "aws")]
mod aws;
mod backend;
mod commands;
mod config;
mod console;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use sf2hs_shared::settings::registry;
use sf2hs_shared::worker::WorkerSettings;

/// Keeps HubSpot custom objects in step with Salesforce records.
///
/// Mapping files (TOML) say what syncs; see examples/README.md for the format. State (stored
/// mappings, record index, imports, sync log, queue) lives in the data directory: an embedded
/// SQLite store, the default for trying sf2hs out and for small installs. With `--backend aws`
/// the commands work on a deployed stack instead (its DynamoDB table and SQS queues, found from
/// the stack's outputs with `--stack`).
///
/// Configuration: flags, then environment variables, then the file sf2hs.toml (or --config).
/// Each key of the file is an SF2HS_ variable without the prefix, in lower case: `org_id =
/// "00D…"` is SF2HS_ORG_ID. Credentials never go in mapping files or sf2hs.toml: the file names
/// secrets (`hubspot_secret = "hubspot"`) and their values come from SF2HS_SECRET_<NAME> or a
/// file in the secrets directory. `docs/configuration.md` lists every key.
///
/// Exit codes: 0 success; 1 the input has problems or the operation failed (the reason is on
/// stderr); 2 wrong usage; 130 interrupted (Ctrl-C).
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

    /// The configuration file [default: sf2hs.toml, when it exists].
    #[arg(long, global = true, env = registry::CONFIG_VARIABLE)]
    config: Option<PathBuf>,

    /// Which store and queues the commands use [default: embedded].
    #[arg(long, global = true, env = registry::BACKEND.variable, value_enum)]
    backend: Option<backend::BackendKind>,

    /// aws backend: the deployed CloudFormation stack whose outputs name the table, queues and
    /// import function.
    #[arg(long, global = true, env = registry::STACK.variable)]
    stack: Option<String>,

    /// Where the embedded store keeps its data, created when missing [default: .sf2hs].
    #[arg(long, global = true, env = registry::DATA_DIR.variable)]
    data_dir: Option<PathBuf>,

    /// Deliveries of one change before it goes to the dead-letter queue [default: 5].
    #[arg(long, global = true, env = registry::MAX_RECEIVES.variable)]
    max_receives: Option<u32>,

    /// How log lines (refusals, warnings, each batch) are written to stderr: `text` or `json`
    /// (one JSON object per line, for a log collector). RUST_LOG picks what is logged
    /// [default: info for serve, warn otherwise].
    #[arg(long, global = true, env = "SF2HS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Installs the log subscriber: RUST_LOG when set, else `default_level`, to stderr (stdout is
/// the commands' output).
fn init_logging(format: LogFormat, default_level: &str) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    // A second subscriber (a test harness's) is no reason to stop.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Work with mapping files and the stored mappings.
    #[command(subcommand)]
    Mappings(MappingsCommand),
    /// Per mapping: state, records synced, failures in the last 24 h, last change; queue depth.
    Status,
    /// Recent sync failures with their reasons, newest first; with --record, one record: what
    /// was last written to HubSpot for it and its failures.
    Errors {
        /// Only this Salesforce object.
        object: Option<String>,
        /// How many to show.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// This record (its Salesforce id, 15 or 18 characters): its last write and failures.
        #[arg(long)]
        record: Option<String>,
    },
    /// The Sync Health console in the browser: overview, failures grouped, one record's
    /// history, dead letters and imports, with resync and replay. On 127.0.0.1 by default;
    /// another address needs the endpoint token (SF2HS_ENDPOINT_TOKEN_SECRET) as the
    /// basic-auth password.
    Console {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: std::net::SocketAddr,
        /// A directory of secret files, one per secret name.
        #[arg(long, env = registry::SECRETS_DIR.variable)]
        secrets_dir: Option<PathBuf>,
    },
    /// Checks what a first day needs, one line each with its fix: the settings, the secrets (no
    /// placeholders), the Salesforce login and API allowance, the HubSpot token and scopes, and
    /// every stored mapping against the live schemas. Exits 1 when a check fails.
    Doctor {
        /// A directory of secret files, one per secret name.
        #[arg(long, env = registry::SECRETS_DIR.variable)]
        secrets_dir: Option<PathBuf>,
    },
    /// Reads records from Salesforce again and writes what it has now (after fixing a cause):
    /// the ones named, or every record of the object failing now.
    Resync {
        /// The Salesforce object.
        object: String,
        /// Record ids (15 or 18 characters); none: every failing record of the object.
        records: Vec<String>,
    },
    /// Failures grouped by object, kind and field, counted in records, with those resolved
    /// since; exits 1 while any record is failing (for monitoring).
    Health {
        /// Only this Salesforce object.
        object: Option<String>,
        /// How far back to look, in days.
        #[arg(long, default_value_t = 7)]
        days: u32,
        /// Records shown per group.
        #[arg(long, default_value_t = 5)]
        records: usize,
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
    Demo {
        /// Then keep the sandboxes and the data, and serve the console on 127.0.0.1 (its URL is
        /// printed) until Ctrl-C.
        #[arg(long)]
        keep_open: bool,
    },
    /// Run the whole pipeline in this process on the embedded store and queue.
    ///
    /// Serves `POST /outbound/<token>` (Salesforce outbound messages) and `POST /events`
    /// (EventBridge-shaped CDC and platform events, with the same token in the `x-sf2hs-token`
    /// header or as the basic-auth password) with the ingest Lambda's handlers, and
    /// drains the queue with worker tasks. It reads the same variables as the Lambdas:
    /// SF2HS_ORG_ID, SF2HS_ENDPOINT_TOKEN_SECRET, SF2HS_HUBSPOT_SECRET, SF2HS_SALESFORCE_SECRET
    /// (names of secrets) and the optional SF2HS_HUBSPOT_*, SF2HS_SALESFORCE_* settings. A
    /// secret's value is the variable SF2HS_SECRET_<NAME> (upper case, `-` as `_`), or the file
    /// <secrets-dir>/<name>. Ctrl-C stops it without losing anything in flight.
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080].
        #[arg(long, env = registry::LISTEN.variable)]
        listen: Option<std::net::SocketAddr>,
        /// Worker tasks draining the queue.
        #[arg(long, default_value_t = 2)]
        workers: usize,
        /// A directory of secret files, one per secret name.
        #[arg(long, env = registry::SECRETS_DIR.variable)]
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
    /// Validate mapping files against themselves and the live Salesforce and HubSpot schemas,
    /// then store every mapping with the status written in its file and what the live check
    /// resolved (the HubSpot objectTypeId, each field's conversion).
    ///
    /// Needs both connections (SF2HS_SALESFORCE_SECRET, SF2HS_HUBSPOT_SECRET). Nothing is stored
    /// when any file has an error.
    Apply {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Store the mappings even when the live check finds blocking errors (their records
        /// then fail with those reasons).
        #[arg(long)]
        force: bool,
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
        #[arg(long, env = registry::SECRETS_DIR.variable)]
        secrets_dir: Option<PathBuf>,
    },
    /// The stored mappings, as a table.
    List,
    /// Check a stored mapping against the live schemas again, start syncing it, and replay the
    /// changes parked while it was paused.
    Activate {
        object: String,
        /// Activate even when the live check finds blocking errors.
        #[arg(long)]
        force: bool,
    },
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
    /// Put dead letters back on the queue, with all their tries: all of them, the message ids
    /// given, or those of an object or with a reason; asks first unless --yes.
    Replay {
        message_ids: Vec<String>,
        /// Only dead letters of this Salesforce object.
        #[arg(long)]
        object: Option<String>,
        /// Only dead letters whose reason contains this text.
        #[arg(long)]
        reason: Option<String>,
        /// Replay without asking.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ImportCommand {
    /// Import jobs, newest first, like the native imports table.
    List,
    /// One import job's progress and counts.
    Status { id: String },
    /// Stop an import: no further page is sent; what is queued is still written. An import
    /// through HubSpot's Imports API has its HubSpot import cancelled too (with the HubSpot
    /// credentials, as `import start` has them).
    Cancel {
        id: String,
        /// A directory of secret files, one per secret name.
        #[arg(long, env = registry::SECRETS_DIR.variable)]
        secrets_dir: Option<PathBuf>,
    },
    /// Count the records of a mapped object, confirm, and import them, with a progress bar.
    ///
    /// Embedded backend: this process runs the import and the workers; it needs SF2HS_ORG_ID,
    /// SF2HS_SALESFORCE_SECRET and SF2HS_HUBSPOT_SECRET, as `serve` does. aws backend: the
    /// deployed import function counts and creates the job, and runs it after the confirmation;
    /// this command follows its progress (Ctrl-C stops following, not the import).
    Start {
        object: String,
        /// Start without asking.
        #[arg(long)]
        yes: bool,
        /// aws backend: start the import and return without following it.
        #[arg(long)]
        detach: bool,
        /// How the records reach HubSpot: `batch` (100 per call, by the workers), `imports`
        /// (HubSpot's CRM Imports API: one CSV file of up to 1,048,576 rows, a few calls;
        /// records with lookups still go through the workers) or `auto` (`imports` from 100,000
        /// records when the mapping has no associations; embedded backend only).
        #[arg(long, default_value = "auto", value_parser = ["batch", "imports", "auto"])]
        via: String,
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
        #[arg(long, env = registry::SECRETS_DIR.variable)]
        secrets_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
struct ImportRunArgs {
    /// Worker tasks writing HubSpot while the import runs.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// A directory of secret files, one per secret name.
    #[arg(long, env = registry::SECRETS_DIR.variable)]
    secrets_dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = match cli.command {
        Command::Serve { .. } => "info",
        _ => "warn",
    };
    init_logging(cli.global.log_format, default_level);
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
    let config = match config::Config::load(cli.global.config.as_deref()) {
        Ok(config) => config,
        Err(e) => return output::fail(&e),
    };
    match execute(cli, &config).await {
        Ok(code) => code,
        Err(e) => output::fail(&e),
    }
}

/// A per-command secrets directory: the flag (or SF2HS_SECRETS_DIR), else the file's.
fn secrets_dir(config: &config::Config, flag: Option<PathBuf>) -> Option<PathBuf> {
    config.path_or_file(flag.as_deref(), registry::SECRETS_DIR.variable)
}

async fn open_backend(
    global: &GlobalArgs,
    config: &config::Config,
) -> Result<backend::Backend, output::CliError> {
    let kind = match global.backend {
        Some(kind) => kind,
        None => match config.or_file(None, registry::BACKEND.variable).as_deref() {
            None => backend::BackendKind::Embedded,
            // The same names the flag takes.
            Some(text) => <backend::BackendKind as clap::ValueEnum>::from_str(text, false)
                .map_err(|_| {
                    output::CliError::Config(format!(
                        "backend = {text:?} in {}: give \"embedded\" or \"aws\"",
                        config
                            .path()
                            .map(|p| p.display().to_string())
                            .unwrap_or_else(|| config::DEFAULT_FILE.into())
                    ))
                })?,
        },
    };
    match kind {
        backend::BackendKind::Embedded => {
            let data_dir = config
                .path_or_file(global.data_dir.as_deref(), registry::DATA_DIR.variable)
                .unwrap_or_else(|| PathBuf::from(registry::DEFAULT_DATA_DIR));
            let max_receives = match global.max_receives {
                Some(n) => n,
                None => match config.or_file(None, registry::MAX_RECEIVES.variable) {
                    None => WorkerSettings::default().max_receives,
                    Some(text) => text.trim().parse().map_err(|e| {
                        output::CliError::Config(format!(
                            "max_receives = {text:?}: {e}; give a whole number such as 5"
                        ))
                    })?,
                },
            };
            backend::Backend::open(&data_dir, max_receives)
        }
        #[cfg(feature = "aws")]
        backend::BackendKind::Aws => aws::open(config, global.stack.clone()).await,
        #[cfg(not(feature = "aws"))]
        backend::BackendKind::Aws => Err(output::CliError::Setup(
            "this sf2hs was built without the aws backend: build it with `cargo install --locked \
             --path cli --features aws` (or `cargo run -p sf2hs-cli --features aws -- …`)"
                .into(),
        )),
    }
}

async fn execute(cli: Cli, config: &config::Config) -> Result<ExitCode, output::CliError> {
    let json = cli.global.json;
    let lookup = |name: &str| config.lookup(name);
    match cli.command {
        // Validation needs no store: it must work on a machine with nothing set up.
        Command::Mappings(MappingsCommand::Validate { files }) => {
            let secrets = secrets_dir(config, None);
            return Ok(commands::mappings::validate_live(&files, secrets, &lookup, json).await);
        }
        // A dry run needs no store either.
        Command::Mappings(MappingsCommand::Preview {
            file,
            object,
            sample,
            records,
            secrets_dir: dir,
        }) => {
            let options = commands::preview::PreviewOptions {
                object,
                sample,
                records,
                secrets_dir: secrets_dir(config, dir),
            };
            return commands::preview::preview(&file, options, &lookup, json).await;
        }
        // The demo makes its own data directory: it never touches the operator's.
        Command::Demo { keep_open } => return commands::demo::demo(json, keep_open).await,
        _ => {}
    }
    let mut backend = open_backend(&cli.global, config).await?;
    match cli.command {
        Command::Mappings(MappingsCommand::Validate { .. } | MappingsCommand::Preview { .. })
        | Command::Demo { .. } => Ok(ExitCode::SUCCESS),
        Command::Mappings(MappingsCommand::Apply { files, force }) => {
            let live = commands::mappings::Live {
                secrets_dir: secrets_dir(config, None),
                lookup: &lookup,
                force,
            };
            commands::mappings::apply(&backend, &files, live, json).await
        }
        Command::Mappings(MappingsCommand::List) => commands::mappings::list(&backend, json).await,
        Command::Mappings(MappingsCommand::Activate { object, force }) => {
            let live = commands::mappings::Live {
                secrets_dir: secrets_dir(config, None),
                lookup: &lookup,
                force,
            };
            commands::mappings::activate(&backend, &object, live, json).await
        }
        Command::Mappings(MappingsCommand::Pause { object }) => {
            commands::mappings::pause(&backend, &object, json).await
        }
        Command::Status => commands::status::status(&backend, json).await,
        Command::Health {
            object,
            days,
            records,
        } => commands::health::health(&backend, object.as_deref(), days, records, json).await,
        Command::Console {
            listen,
            secrets_dir: flag,
        } => {
            let org_id = sf2hs_shared::settings::import_org_id(&lookup).ok();
            let mut console = console::Console::new(&backend, org_id);
            // With Salesforce credentials, imports are counted, started and resumed here too.
            let secrets = std::sync::Arc::new(sf2hs_shared::embedded::LocalSecrets::new(
                secrets_dir(config, flag.clone()),
            ));
            if lookup(registry::SALESFORCE_SECRET.variable).is_some() {
                match sf2hs_shared::settings::salesforce_client(&lookup, secrets.clone()).await {
                    Ok(client) => console = console.with_salesforce(std::sync::Arc::new(client)),
                    Err(e) => eprintln!("imports and live values need Salesforce: {e}"),
                }
            }
            if lookup(registry::HUBSPOT_SECRET.variable).is_some() {
                match sf2hs_shared::settings::hubspot_client(&lookup, secrets).await {
                    Ok(client) => console = console.with_hubspot(std::sync::Arc::new(client)),
                    Err(e) => eprintln!("live HubSpot values need HubSpot: {e}"),
                }
            }
            if !listen.ip().is_loopback() {
                let token = commands::console_token(secrets_dir(config, flag), &lookup).await?;
                console.auth = console::ConsoleAuth::Token(token);
            }
            console::run(console, listen).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Doctor { secrets_dir: flag } => {
            commands::doctor::doctor(&backend, secrets_dir(config, flag), &lookup, json).await
        }
        Command::Resync { object, records } => {
            let org_id = sf2hs_shared::settings::import_org_id(&lookup)
                .map_err(output::CliError::Settings)?;
            commands::health::resync(&backend, &object, &records, &org_id, json).await
        }
        Command::Errors {
            record: Some(record),
            ..
        } => commands::status::record_history(&backend, &record, json).await,
        Command::Errors { object, limit, .. } => {
            commands::status::errors(&backend, object.as_deref(), limit, json).await
        }
        Command::Dlq(DlqCommand::List { limit }) => {
            commands::dlq::list(&backend, limit, json).await
        }
        Command::Dlq(DlqCommand::Replay {
            message_ids,
            object,
            reason,
            yes,
        }) => {
            let filter = commands::dlq::ReplayFilter {
                message_ids,
                object,
                reason,
            };
            commands::dlq::replay(&backend, &filter, yes, json).await
        }
        Command::Import(ImportCommand::List) => commands::import::list(&backend, json).await,
        Command::Import(ImportCommand::Status { id }) => {
            commands::import::status(&backend, &id, json).await
        }
        Command::Import(ImportCommand::Cancel {
            id,
            secrets_dir: dir,
        }) => {
            let dir = secrets_dir(config, dir);
            commands::import::cancel(&backend, &id, dir, &lookup, json).await
        }
        Command::Import(ImportCommand::Start {
            object,
            yes,
            detach,
            via,
            run,
        }) => {
            let options = commands::import::RunOptions {
                yes,
                detach,
                via: sf2hs_shared::import::ImportVia::parse(&via)
                    .unwrap_or(sf2hs_shared::import::ImportVia::Auto),
                workers: run.workers,
                secrets_dir: secrets_dir(config, run.secrets_dir),
            };
            commands::import::start(&mut backend, &object, options, &lookup, json).await
        }
        Command::Import(ImportCommand::Resume { id, run }) => {
            let options = commands::import::RunOptions {
                yes: true,
                detach: false,
                via: sf2hs_shared::import::ImportVia::Auto,
                workers: run.workers,
                secrets_dir: secrets_dir(config, run.secrets_dir),
            };
            commands::import::resume(&mut backend, &id, options, &lookup, json).await
        }
        Command::Schema(SchemaCommand::Ensure {
            object,
            yes,
            secrets_dir: dir,
        }) => {
            let dir = secrets_dir(config, dir);
            commands::schema::ensure(&backend, &object, yes, dir, &lookup, json).await
        }
        Command::Serve {
            listen,
            workers,
            secrets_dir: dir,
        } => {
            backend.require_embedded("serve")?;
            let listen = match listen {
                Some(listen) => listen,
                None => {
                    let text = config
                        .or_file(None, registry::LISTEN.variable)
                        .unwrap_or_else(|| registry::DEFAULT_LISTEN.into());
                    text.parse().map_err(|e| {
                        output::CliError::Config(format!(
                            "listen = {text:?}: {e}; give an address such as 127.0.0.1:8080"
                        ))
                    })?
                }
            };
            commands::serve::serve(
                &mut backend,
                commands::serve::ServeOptions {
                    listen,
                    workers,
                    secrets_dir: secrets_dir(config, dir),
                },
                &lookup,
            )
            .await
        }
    }
}
