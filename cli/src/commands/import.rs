//! `sf2hs import …` (the listing side; starting imports needs the Salesforce client)

use std::process::ExitCode;

use serde_json::json;
use sf2hs_shared::ports::{ImportJob, ImportJobs};

use crate::backend::Backend;
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
        println!("no imports yet");
        return Ok(ExitCode::SUCCESS);
    }
    let rows = jobs
        .iter()
        .map(|j| {
            vec![
                j.id.clone(),
                j.salesforce_object.clone(),
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
    println!(
        "{}",
        output::table(
            &[
                "import",
                "object",
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
    println!(
        "import {} of {}: {}",
        job.id,
        job.salesforce_object,
        job.status.name()
    );
    println!(
        "  total {}, enqueued {}, synced {}, failed {}{progress}",
        job.total
            .map(|t| t.to_string())
            .unwrap_or_else(|| "unknown".into()),
        job.enqueued,
        job.synced,
        job.failed
    );
    println!(
        "  started {}, finished {}",
        output::time(Some(job.created_at)),
        output::time(job.finished_at)
    );
    if let Some(error) = &job.error {
        println!("  error: {error}");
    }
    Ok(ExitCode::SUCCESS)
}

/// How `import start` / `import resume` run on the local backend.
pub struct RunOptions {
    /// Start without asking.
    pub yes: bool,
    pub workers: usize,
    pub secrets_dir: Option<std::path::PathBuf>,
}

struct Runner {
    importer: sf2hs_shared::import::Importer,
    hubspot: std::sync::Arc<sf2hs_shared::hubspot::HubSpotClient>,
    salesforce: std::sync::Arc<sf2hs_shared::salesforce::client::SalesforceClient>,
    worker: sf2hs_shared::worker::WorkerSettings,
}

async fn runner(backend: &Backend, options: &RunOptions) -> Result<Runner, CliError> {
    use std::sync::Arc;

    use sf2hs_shared::embedded::LocalSecrets;
    use sf2hs_shared::settings::{self, process_env};

    let setup = |e: sf2hs_shared::settings::SettingsError| CliError::Setup(e.to_string());
    let secrets = LocalSecrets::new(options.secrets_dir.clone());
    let lookup = process_env;
    let (salesforce, hubspot) = super::remote_clients(&secrets).await?;
    let (salesforce, hubspot) = (Arc::new(salesforce), Arc::new(hubspot));
    Ok(Runner {
        importer: sf2hs_shared::import::Importer {
            mappings: Arc::new(backend.mappings.clone()),
            jobs: Arc::new(backend.jobs.clone()),
            queue: Arc::new(backend.queue.clone()),
            pages: salesforce.clone(),
            org_id: settings::import_org_id(&lookup).map_err(setup)?,
        },
        hubspot,
        salesforce,
        worker: settings::worker_settings(&lookup).map_err(setup)?,
    })
}

fn import_failed(e: sf2hs_shared::import::ImportError) -> CliError {
    CliError::Setup(e.to_string())
}

/// Counts the records of `object`, asks, then imports them with the local workers.
pub async fn start(
    backend: &Backend,
    object: &str,
    options: RunOptions,
    json: bool,
) -> Result<ExitCode, CliError> {
    let runner = runner(backend, &options).await?;
    let job = runner.importer.start(object).await.map_err(import_failed)?;
    let total = job.total.unwrap_or(0);
    if !options.yes {
        eprint!(
            "{total} {object} records to import (job {}). Start? [y/N] ",
            job.id
        );
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            backend
                .jobs
                .finish(
                    &job.id,
                    sf2hs_shared::ports::ImportStatus::Cancelled,
                    Some("not confirmed"),
                )
                .await?;
            eprintln!(
                "not started; the job is listed as cancelled (`--yes` starts without asking)"
            );
            return Ok(ExitCode::from(1));
        }
    }
    run(backend, runner, &job.id, options.workers, json).await
}

/// Goes on with an import that was interrupted, from its last checkpoint.
pub async fn resume(
    backend: &Backend,
    id: &str,
    options: RunOptions,
    json: bool,
) -> Result<ExitCode, CliError> {
    let runner = runner(backend, &options).await?;
    run(backend, runner, id, options.workers, json).await
}

async fn run(
    backend: &Backend,
    runner: Runner,
    id: &str,
    workers: usize,
    json: bool,
) -> Result<ExitCode, CliError> {
    use sf2hs_shared::ports::ImportStatus;

    let workers = super::serve::spawn_workers(
        backend,
        runner.hubspot.clone(),
        runner.salesforce.clone(),
        runner.worker.clone(),
        workers,
        false,
    );
    let importer = std::sync::Arc::new(runner.importer);
    let sending = {
        let importer = importer.clone();
        let id = id.to_owned();
        tokio::spawn(async move {
            let far = std::time::Instant::now() + std::time::Duration::from_secs(365 * 86_400);
            importer.run(&id, far).await
        })
    };
    let first = backend.jobs.get(id).await?.ok_or_else(|| {
        CliError::Setup(format!("no import `{id}`; `sf2hs import list` shows them"))
    })?;
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
    let mut sending = Some(sending);
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
            _ = tokio::signal::ctrl_c() => {
                bar.abandon();
                workers.stop().await;
                eprintln!("interrupted; every page sent so far is on the queue: `sf2hs import resume {id}` goes on from the last checkpoint");
                return Ok(ExitCode::from(130));
            }
        }
    };
    workers.stop().await;
    bar.finish();
    let job = outcome?;
    if json {
        output::print_json(&job_json(&job));
    } else {
        println!(
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
