//! `sf2hs import …`: the imports table, and starting, resuming and following imports

use std::process::ExitCode;

use std::sync::Arc;

use serde_json::json;
use sf2hs_shared::ports::{ImportJob, ImportStatus};
use sf2hs_shared::settings::Lookup;

use crate::backend::{Backend, Imports};
use crate::output::{self, CliError};

fn job_json(job: &ImportJob) -> serde_json::Value {
    json!({
        "id": job.id,
        "salesforce_object": job.salesforce_object,
        "status": job.status.name(),
        "total": job.total,
        "enqueued": job.enqueued,
        "synced": job.synced,
        "failed": job.failed,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "error": job.error,
        "since": job.since,
    })
}

pub async fn list(backend: &Backend, json: bool) -> Result<ExitCode, CliError> {
    let jobs = backend.jobs.list().await?;
    if json {
        let items: Vec<_> = jobs.iter().map(job_json).collect();
        output::print_json(&json!({ "imports": items }));
        return Ok(ExitCode::SUCCESS);
    }
    if jobs.is_empty() {
        out!("no imports yet");
        return Ok(ExitCode::SUCCESS);
    }
    let rows = jobs
        .iter()
        .map(|j| {
            vec![
                j.id.clone(),
                j.salesforce_object.clone(),
                match j.since {
                    Some(since) => format!("re-sync from {}", output::time(Some(since))),
                    None => "import".to_owned(),
                },
                j.status.name().to_owned(),
                j.total.map(|t| t.to_string()).unwrap_or_else(|| "-".into()),
                j.enqueued.to_string(),
                j.synced.to_string(),
                j.failed.to_string(),
                output::time(Some(j.created_at)),
                output::time(j.finished_at),
            ]
        })
        .collect();
    out!(
        "{}",
        output::table(
            &[
                "import",
                "object",
                "kind",
                "status",
                "total",
                "enqueued",
                "synced",
                "failed",
                "started (UTC)",
                "finished (UTC)",
            ],
            rows
        )
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn status(backend: &Backend, id: &str, json: bool) -> Result<ExitCode, CliError> {
    let Some(job) = backend.jobs.get(id).await? else {
        eprintln!("error: no import `{id}`; `sf2hs import list` shows the imports");
        return Ok(ExitCode::from(1));
    };
    if json {
        output::print_json(&job_json(&job));
        return Ok(ExitCode::SUCCESS);
    }
    let done = job.synced + job.failed;
    let progress = match job.total {
        Some(total) if total > 0 => format!(" ({:.1} %)", done as f64 * 100.0 / total as f64),
        _ => String::new(),
    };
    out!(
        "import {} of {}: {}",
        job.id,
        job.salesforce_object,
        job.status.name()
    );
    out!(
        "  total {}, enqueued {}, synced {}, failed {}{progress}",
        job.total
            .map(|t| t.to_string())
            .unwrap_or_else(|| "unknown".into()),
        job.enqueued,
        job.synced,
        job.failed
    );
    out!(
        "  started {}, finished {}",
        output::time(Some(job.created_at)),
        output::time(job.finished_at)
    );
    if let Some(error) = &job.error {
        out!("  error: {error}");
    }
    Ok(ExitCode::SUCCESS)
}

/// How `import start` / `import resume` run.
pub struct RunOptions {
    /// Start without asking.
    pub yes: bool,
    /// aws backend: return once the import function has the job.
    #[cfg_attr(not(feature = "aws"), allow(dead_code))]
    pub detach: bool,
    /// How a started import reaches HubSpot (a resumed one goes on as it began).
    pub via: sf2hs_shared::import::ImportVia,
    /// Embedded backend: worker tasks writing HubSpot while the import runs.
    pub workers: usize,
    pub secrets_dir: Option<std::path::PathBuf>,
}

struct Runner {
    importer: sf2hs_shared::import::Importer,
    hubspot: Arc<sf2hs_shared::hubspot::HubSpotClient>,
    salesforce: Arc<sf2hs_shared::salesforce::client::SalesforceClient>,
    worker: sf2hs_shared::worker::WorkerSettings,
}

async fn runner(
    backend: &Backend,
    options: &RunOptions,
    lookup: Lookup<'_>,
) -> Result<Runner, CliError> {
    use sf2hs_shared::embedded::LocalSecrets;
    use sf2hs_shared::settings;

    let setup = CliError::Settings;
    let secrets = LocalSecrets::new(options.secrets_dir.clone());
    let (salesforce, hubspot) = super::remote_clients(&secrets, lookup).await?;
    let (salesforce, hubspot) = (Arc::new(salesforce), Arc::new(hubspot));
    Ok(Runner {
        importer: sf2hs_shared::import::Importer {
            mappings: backend.mappings.clone(),
            jobs: backend.jobs.clone(),
            queue: backend.backfill.clone(),
            pages: salesforce.clone(),
            org_id: settings::import_org_id(lookup).map_err(setup)?,
            files: backend.work_dir.clone().map(|work_dir| {
                sf2hs_shared::import::FileImports::new(
                    hubspot.clone(),
                    backend.index.clone(),
                    backend.log.clone(),
                    work_dir,
                )
            }),
        },
        hubspot,
        salesforce,
        worker: settings::worker_settings(lookup).map_err(setup)?,
    })
}

fn import_failed(e: impl std::error::Error + Send + Sync + 'static) -> CliError {
    CliError::failed(e)
}

/// Asks whether to start `job`; a "no" cancels it, so that the imports table says what
/// happened.
async fn confirmed(backend: &Backend, job: &ImportJob, yes: bool) -> Result<bool, CliError> {
    if yes {
        return Ok(true);
    }
    eprint!(
        "{} {} records to import (job {}). Start? [y/N] ",
        job.total.unwrap_or(0),
        job.salesforce_object,
        job.id
    );
    let mut answer = String::new();
    let _ = std::io::stdin().read_line(&mut answer);
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        return Ok(true);
    }
    backend
        .jobs
        .finish(&job.id, ImportStatus::Cancelled, Some("not confirmed"))
        .await?;
    eprintln!("not started; the job is listed as cancelled (`--yes` starts without asking)");
    Ok(false)
}

/// Says so when `job` goes through HubSpot's Imports API, whose file `writer` writes.
fn say_path(job: &ImportJob, writer: &str) {
    if sf2hs_shared::import::on_file_path(job) {
        eprintln!(
            "import {}: through HubSpot's Imports API (one file, written by {writer}; records with \
             lookups or cleared values go through the workers)",
            job.id
        );
    }
}

/// Counts the records of `object`, asks, then imports them: with the local workers, or by the
/// deployed import function.
pub async fn start(
    backend: &mut Backend,
    object: &str,
    options: RunOptions,
    lookup: Lookup<'_>,
    json: bool,
) -> Result<ExitCode, CliError> {
    match &backend.imports {
        Imports::Local => {
            let runner = runner(backend, &options, lookup).await?;
            let job = runner
                .importer
                .start_via(object, options.via)
                .await
                .map_err(import_failed)?;
            say_path(&job, "this process");
            if !confirmed(backend, &job, options.yes).await? {
                return Ok(ExitCode::from(1));
            }
            run_locally(backend, runner, &job.id, options.workers, json).await
        }
        #[cfg(feature = "aws")]
        Imports::Aws(aws) => {
            let job = aws.function.start(object, options.via.name()).await?;
            say_path(&job, aws.function.function_name());
            if !confirmed(backend, &job, options.yes).await? {
                return Ok(ExitCode::from(1));
            }
            run_remotely(backend, aws, &job.id, options.detach, json).await
        }
    }
}

/// Goes on with an import that was interrupted, from its last checkpoint.
pub async fn resume(
    backend: &mut Backend,
    id: &str,
    options: RunOptions,
    lookup: Lookup<'_>,
    json: bool,
) -> Result<ExitCode, CliError> {
    match &backend.imports {
        Imports::Local => {
            let runner = runner(backend, &options, lookup).await?;
            run_locally(backend, runner, id, options.workers, json).await
        }
        #[cfg(feature = "aws")]
        Imports::Aws(aws) => run_remotely(backend, aws, id, options.detach, json).await,
    }
}

/// Hands job `id` to the import function (a continuation message, redelivered by SQS if a run
/// fails), then follows it.
#[cfg(feature = "aws")]
async fn run_remotely(
    backend: &Backend,
    aws: &crate::aws::AwsImports,
    id: &str,
    detach: bool,
    json: bool,
) -> Result<ExitCode, CliError> {
    use sf2hs_shared::import::ImportContinuation;

    let job = backend.jobs.get(id).await?.ok_or_else(|| no_import(id))?;
    if job.status.is_finished() {
        return Err(CliError::Setup(format!(
            "import {id} is {}: nothing to run; `sf2hs import start {}` starts a new one",
            job.status.name(),
            job.salesforce_object
        )));
    }
    aws.continuations.continue_later(id).await?;
    if detach {
        if json {
            output::print_json(&job_json(&job));
        } else {
            out!(
                "import {id} handed to {}; `sf2hs import status {id}` follows it",
                aws.function.function_name()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    follow(backend, id, None, Writers::Aws, json).await
}

fn no_import(id: &str) -> CliError {
    CliError::Setup(format!("no import `{id}`; `sf2hs import list` shows them"))
}

async fn run_locally(
    backend: &mut Backend,
    runner: Runner,
    id: &str,
    workers: usize,
    json: bool,
) -> Result<ExitCode, CliError> {
    use sf2hs_shared::embedded::ProcessRole;

    // One HubSpot budget per data directory: where a `serve` already writes HubSpot, the import
    // only sends its records (into the backfill line, behind live changes) and serve's workers
    // write them under serve's one rate limiter.
    let serving = backend.live_processes(ProcessRole::Serve, None).await?;
    let (writers, registration) = match serving.first() {
        Some(serve) => {
            eprintln!(
                "import {id}: `sf2hs serve` (pid {}) writes HubSpot from this data directory; the \
                 import sends its records and serve's workers write them, within the portal's \
                 rate limit, after live changes",
                serve.pid
            );
            (Writers::Serve, None)
        }
        None => {
            let registration = backend.register(ProcessRole::ImportWorkers).await?;
            let workers = super::serve::spawn_workers(
                backend,
                runner.hubspot.clone(),
                runner.salesforce.clone(),
                runner.worker.clone(),
                workers,
                false,
            );
            (Writers::Own(workers), registration)
        }
    };
    let importer = Arc::new(runner.importer);
    let sending = {
        let importer = importer.clone();
        let id = id.to_owned();
        tokio::spawn(async move {
            let far = std::time::Instant::now() + std::time::Duration::from_secs(365 * 86_400);
            loop {
                match importer.run(&id, far).await {
                    // Stopped by Salesforce for now: the job waits at its checkpoint.
                    Ok(sf2hs_shared::import::ImportProgress::Waiting { reason, .. }) => {
                        eprintln!(
                            "import {id}: Salesforce stops it for now ({reason}); it goes on from \
                             its checkpoint in {} minutes",
                            sf2hs_shared::import::STOPPED_WAIT.as_secs() / 60
                        );
                        tokio::time::sleep(sf2hs_shared::import::STOPPED_WAIT).await;
                    }
                    other => return other,
                }
            }
        })
    };
    let outcome = follow(backend, id, Some(sending), writers, json).await;
    if let Some(registration) = registration {
        registration.end().await;
    }
    outcome
}

/// Who writes an import's records to HubSpot while it is followed.
enum Writers {
    /// This process's workers, stopped with the import.
    Own(super::serve::Workers),
    /// The `serve` working on the same data directory.
    Serve,
    /// The deployed worker function.
    #[cfg(feature = "aws")]
    Aws,
}

type Sending = tokio::task::JoinHandle<
    Result<sf2hs_shared::import::ImportProgress, sf2hs_shared::import::ImportError>,
>;

/// Shows job `id`'s progress until it finishes. Locally, `sending` is the task sending pages
/// (its error ends the run) and `workers` stop with it; on AWS both are `None` and Ctrl-C only
/// stops following.
async fn follow(
    backend: &Backend,
    id: &str,
    mut sending: Option<Sending>,
    writers: Writers,
    json: bool,
) -> Result<ExitCode, CliError> {
    let first = backend.jobs.get(id).await?.ok_or_else(|| no_import(id))?;
    let bar = if json {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(first.total.unwrap_or(0))
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} settled, {per_sec}, ETA {eta} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    // One Ctrl-C listener for the whole run: a listener made per wait would miss a Ctrl-C that
    // lands while the job is read between two waits (the handler, once installed, swallows it)
    // and the import would run on to its end.
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    let outcome = loop {
        let job = backend
            .jobs
            .get(id)
            .await?
            .ok_or_else(|| CliError::Setup(format!("import `{id}` disappeared")))?;
        bar.set_position(job.synced + job.failed);
        bar.set_message(format!(
            "(enqueued {}, failed {})",
            job.enqueued, job.failed
        ));
        if job.status.is_finished() {
            // Cancelled from elsewhere (the console, another terminal): the sending task sees
            // it at its next look and tidies up (HubSpot's import cancelled, the file removed)
            // before this process ends.
            if let Some(task) = sending.take() {
                let _ = tokio::time::timeout(std::time::Duration::from_secs(10), task).await;
            }
            break Ok(job);
        }
        // The sending task's error (Salesforce refused, the queue failed) ends the run.
        if sending.as_ref().is_some_and(|task| task.is_finished())
            && let Some(task) = sending.take()
            && let Ok(Err(e)) = task.await
        {
            break Err(import_failed(e));
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_millis(200)) => {}
            _ = &mut interrupted => {
                bar.abandon();
                match writers {
                    Writers::Own(workers) => {
                        workers.stop().await;
                        eprintln!("interrupted; every page sent so far is on the queue: `sf2hs import resume {id}` goes on from the last checkpoint");
                    }
                    Writers::Serve => eprintln!("interrupted; every page sent so far is on the queue and serve writes it: `sf2hs import resume {id}` goes on from the last checkpoint"),
                    #[cfg(feature = "aws")]
                    Writers::Aws => eprintln!("stopped following; the import goes on in AWS: `sf2hs import status {id}` shows it"),
                }
                return Ok(ExitCode::from(130));
            }
        }
    };
    if let Writers::Own(workers) = writers {
        workers.stop().await;
    }
    bar.finish();
    let job = outcome?;
    if json {
        output::print_json(&job_json(&job));
    } else {
        out!(
            "import {}: {} ({} enqueued, {} synced, {} failed)",
            job.id,
            job.status.name(),
            job.enqueued,
            job.synced,
            job.failed
        );
    }
    Ok(
        if job.status == ImportStatus::Completed && job.failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        },
    )
}

/// Cancels an import: no further page is sent (locally, the running `import` stops at its next
/// page; on AWS the import function ends its continuation); what is queued is written. An
/// import whose file is HubSpot's has HubSpot's import cancelled too.
pub async fn cancel(
    backend: &Backend,
    id: &str,
    secrets_dir: Option<std::path::PathBuf>,
    lookup: Lookup<'_>,
    json: bool,
) -> Result<ExitCode, CliError> {
    let job = sf2hs_shared::import::cancel(backend.jobs.as_ref(), id)
        .await
        .map_err(|e| match e {
            sf2hs_shared::import::ImportError::NoJob(_) => no_import(id),
            other => import_failed(other),
        })?;
    let hubspot_import = sf2hs_shared::import::hubspot_import_of(&job).map(str::to_owned);
    // HubSpot's import, when the job sent a file: a running `import` cancels it at its next
    // look too; HubSpot then refuses the second cancel, which is fine.
    let mut hubspot_cancelled = None;
    if let Some(import_id) = &hubspot_import {
        let secrets = sf2hs_shared::embedded::LocalSecrets::new(secrets_dir);
        match sf2hs_shared::settings::hubspot_client(lookup, Arc::new(secrets)).await {
            Ok(hubspot) => {
                hubspot_cancelled =
                    Some(sf2hs_shared::import::cancel_hubspot_import(&hubspot, import_id).await);
            }
            Err(e) => eprintln!(
                "HubSpot's import {import_id} may go on: cannot reach HubSpot ({e}); give the \
                 HubSpot credentials as for `sf2hs import start`, or cancel it in HubSpot \
                 (Settings → Import & Export)"
            ),
        }
    }
    if json {
        let mut item = job_json(&job);
        item["hubspot_import"] = json!(hubspot_import);
        item["hubspot_import_cancelled"] = json!(hubspot_cancelled);
        output::print_json(&item);
    } else {
        out!(
            "import {}: cancelled ({} records sent before; they are written)",
            job.id,
            job.enqueued
        );
        match (&hubspot_import, hubspot_cancelled) {
            (Some(import_id), Some(true)) => out!(
                "HubSpot's import {import_id}: cancelled (rows written before stay; nothing of it is in the record index, so live changes write those records again)"
            ),
            (Some(import_id), Some(false)) => out!(
                "HubSpot's import {import_id}: not cancelled, it had finished (or was cancelled already)"
            ),
            _ => {}
        }
    }
    Ok(ExitCode::SUCCESS)
}
