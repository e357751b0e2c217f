//! The import function: backfills one mapped object. The work is `sf2hs_shared::import`; this
//! crate takes three kinds of invocation:
//!
//! - `{"action": "start", "object": "Invoice__c", "via": "auto"}` (the CLI, directly): counts
//!   the records and creates a pending job, returned for the operator to review; `via` (`batch`,
//!   `imports` or `auto`, the default) says whether it goes through HubSpot's Imports API;
//! - `{"action": "run", "job_id": "…"}` (the CLI, after the review): runs the job;
//! - an SQS event from the import queue, each message `{"job_id": "…"}`: the continuation of a
//!   run that stopped before the Lambda deadline.
//!
//! A run sends pages to the backfill queue until the deadline nears, then puts a continuation
//! on the import queue, which invokes the function again: a million records outlast any one
//! 15-minute invocation. On the Imports API path a run writes the file in `/tmp`, sends it,
//! polls HubSpot and settles the outcome, each step resumable the same way (a continuation
//! that lands in another execution environment rebuilds the ledger from Salesforce).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent};
use serde::Deserialize;
use serde_json::{Value, json};
use sf2hs_shared::aws::{AwsConnection, ContinuationMessage, Deployment};
use sf2hs_shared::import::{FileImports, ImportContinuation, ImportProgress, ImportVia, Importer};
use sf2hs_shared::ports::ImportJob;
use sf2hs_shared::settings::{self, Lookup};

/// Time kept back from the Lambda deadline: the page in flight, its checkpoint and the
/// continuation must all fit in it.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(90);

pub struct ImportFunction {
    pub importer: Importer,
    pub continuations: Arc<dyn ImportContinuation>,
}

/// Builds the function from the environment the SAM template sets (`endpoint`: moto's, in
/// tests).
pub async fn from_env(lookup: Lookup<'_>, endpoint: Option<&str>) -> Result<ImportFunction, Error> {
    from_connection(lookup, AwsConnection::for_endpoint(endpoint).await).await
}

/// The same on a connection of the caller's (tests record its AWS requests).
pub async fn from_connection(
    lookup: Lookup<'_>,
    connection: AwsConnection,
) -> Result<ImportFunction, Error> {
    let deployment = Deployment::with_connection(connection, lookup).await?;
    // Both secrets at once: a cold start waits for one Secrets Manager round trip, not two.
    let (salesforce, hubspot) = tokio::try_join!(
        settings::salesforce_client(lookup, deployment.secrets.clone()),
        settings::hubspot_client(lookup, deployment.secrets.clone())
    )?;
    let continuations = deployment.continuations(lookup).await?;
    let store = &deployment.store;
    Ok(ImportFunction {
        importer: Importer {
            mappings: Arc::new(store.mapping_store()),
            jobs: Arc::new(store.import_jobs()),
            queue: deployment.import_queue(),
            pages: Arc::new(salesforce),
            org_id: settings::import_org_id(lookup)?,
            files: Some(FileImports::new(
                Arc::new(hubspot),
                Arc::new(store.record_index()),
                Arc::new(store.sync_log(deployment.settings.sync_log_retention)),
                // Lambda's `/tmp` (its ephemeral storage, sized in the template).
                std::env::temp_dir().join("sf2hs"),
            )),
        },
        continuations: Arc::new(continuations),
    })
}

/// A direct invocation.
#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ImportCommand {
    Start {
        object: String,
        #[serde(default)]
        via: Option<String>,
    },
    Run {
        job_id: String,
    },
}

/// When a run must stop: `margin` before the invocation's deadline (a quarter of what is left
/// when that is shorter, so a short test timeout still does some work).
pub fn run_deadline(lambda_deadline: SystemTime, margin: Duration) -> Instant {
    let left = lambda_deadline
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    let keep = margin.min(left / 4);
    Instant::now() + left.saturating_sub(keep)
}

fn summary(job: &ImportJob, state: &str) -> Value {
    json!({ "state": state, "job": job })
}

impl ImportFunction {
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, Error> {
        let deadline = run_deadline(event.context.deadline(), DEADLINE_MARGIN);
        if event.payload.get("Records").is_some() {
            let sqs: SqsEvent = serde_json::from_value(event.payload)?;
            let mut runs = Vec::new();
            for record in &sqs.records {
                let body = record.body.as_deref().unwrap_or_default();
                let message: ContinuationMessage = serde_json::from_str(body).map_err(|e| {
                    format!("an import-queue message is not {{\"job_id\": …}} ({e}): {body}")
                })?;
                // A failure fails the invocation: SQS delivers the continuation again.
                runs.push(self.run(&message.job_id, deadline).await?);
            }
            return Ok(json!({ "runs": runs }));
        }
        let command: ImportCommand = serde_json::from_value(event.payload).map_err(|e| {
            format!(
                "the import function takes {{\"action\": \"start\", \"object\": …}}, \
                 {{\"action\": \"run\", \"job_id\": …}} or import-queue messages ({e})"
            )
        })?;
        match command {
            ImportCommand::Start { object, via } => {
                let via = match via.as_deref() {
                    None => ImportVia::Auto,
                    Some(text) => ImportVia::parse(text).ok_or_else(|| {
                        format!("`via` is `batch`, `imports` or `auto`, not {text:?}")
                    })?,
                };
                let job = self.importer.start_via(&object, via).await?;
                Ok(summary(&job, "pending"))
            }
            ImportCommand::Run { job_id } => self.run(&job_id, deadline).await,
        }
    }

    async fn run(&self, job_id: &str, deadline: Instant) -> Result<Value, Error> {
        let progress = match self.importer.run(job_id, deadline).await {
            // Cancelled (or done) since its continuation was queued: nothing to run, and
            // nothing to retry.
            Err(sf2hs_shared::import::ImportError::Finished { id, status }) => {
                tracing::info!(import = %id, status, "the import is finished; its continuation ends here");
                return Ok(json!({ "job": { "id": id, "status": status }, "state": "finished" }));
            }
            other => other?,
        };
        match progress {
            ImportProgress::AllSent(job) => Ok(summary(&job, "all_sent")),
            ImportProgress::Waiting { job, reason } => {
                self.continuations
                    .continue_after(job_id, sf2hs_shared::import::STOPPED_WAIT)
                    .await?;
                tracing::warn!(import = job_id, %reason, "Salesforce stops the import for now; it runs again later");
                Ok(summary(&job, "waiting"))
            }
            ImportProgress::Paused(job) => {
                self.continuations.continue_later(job_id).await?;
                tracing::info!(
                    import = job_id,
                    enqueued = job.enqueued,
                    "paused before the deadline; continues in the next invocation"
                );
                Ok(summary(&job, "continues"))
            }
        }
    }
}
