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
