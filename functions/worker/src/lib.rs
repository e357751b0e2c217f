//! The worker function: SQS batches (live queue and backfill queue) with
//! `ReportBatchItemFailures`. The work is `sf2hs_shared::worker`; this crate turns an
//! `SqsEvent` into its batch and its dispositions into SQS actions:
//!
//! - done: not reported, so the event source mapping deletes the message;
//! - anything to deliver again (`Disposition::apply` answers `Redeliver`: a retry, or a copy
//!   or dead letter that could not be sent) is reported in `batchItemFailures`, its
//!   visibility set to the wait where SQS took that; never lost.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::{Error, LambdaEvent};
use sf2hs_shared::aws::{AwsConnection, Deployment, SqsChangeQueue};
use sf2hs_shared::domain::Change;
use sf2hs_shared::ports::ChangeQueue;
use sf2hs_shared::settings::{self, Lookup};
use sf2hs_shared::worker::{Applied, InboundMessage, Worker, WorkerPorts};

/// The function's state, built once per execution environment.
pub struct WorkerFunction {
    pub worker: Worker,
    pub deployment: Deployment,
    /// The worker's clients, whose call counts each batch's metrics report.
    hubspot: Arc<sf2hs_shared::hubspot::HubSpotClient>,
    salesforce: Arc<sf2hs_shared::salesforce::client::SalesforceClient>,
}

/// Builds the function from the environment the SAM template sets (`endpoint`: moto's, in
/// tests).
pub async fn from_env(lookup: Lookup<'_>, endpoint: Option<&str>) -> Result<WorkerFunction, Error> {
    from_connection(lookup, AwsConnection::for_endpoint(endpoint).await).await
}

/// The same on a connection of the caller's (tests record its AWS requests).
pub async fn from_connection(
    lookup: Lookup<'_>,
    connection: AwsConnection,
) -> Result<WorkerFunction, Error> {
    // Under Lambda, each batch's counts become `sf2hs` metrics through the log.
    sf2hs_shared::metrics::emit_emf(lookup("AWS_LAMBDA_FUNCTION_NAME").is_some());
    let deployment = Deployment::with_connection(connection, lookup).await?;
    // Both secrets at once: a cold start waits for one Secrets Manager round trip, not two.
    let (hubspot, salesforce) = tokio::try_join!(
        settings::hubspot_client(lookup, deployment.secrets.clone()),
        settings::salesforce_client(lookup, deployment.secrets.clone())
    )?;
    let (hubspot, salesforce) = (Arc::new(hubspot), Arc::new(salesforce));
    let worker_settings = settings::worker_settings(lookup)?;
    let store = &deployment.store;
    let ports = WorkerPorts {
        mappings: Arc::new(store.mapping_store()),
        index: Arc::new(store.record_index()),
        log: Arc::new(store.sync_log(deployment.settings.sync_log_retention)),
        jobs: Arc::new(store.import_jobs()),
        queue: deployment.queue.clone(),
        hubspot: hubspot.clone(),
        salesforce: salesforce.clone(),
    };
    Ok(WorkerFunction {
        worker: Worker::new(ports, worker_settings),
        deployment,
        hubspot,
        salesforce,
    })
}

/// A record of the event, decoded.
struct Received<'a> {
    record: &'a SqsMessage,
    message_id: &'a str,
    receipt: &'a str,
    body: &'a str,
    receive_count: u32,
}

fn receive_count(record: &SqsMessage) -> u32 {
    record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

impl WorkerFunction {
    /// One SQS batch. Never fails as a whole: every message gets its own disposition.
    pub async fn handle(&self, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
        let records: Vec<Received<'_>> = event
            .payload
            .records
            .iter()
            .map(|record| Received {
                record,
                message_id: record.message_id.as_deref().unwrap_or_default(),
                receipt: record.receipt_handle.as_deref().unwrap_or_default(),
                body: record.body.as_deref().unwrap_or_default(),
                receive_count: receive_count(record),
            })
            .collect();
        let mut failures = Vec::new();
        let mut batch = Vec::new();
        // Message id → the queue it came from and its receipt, to act on its disposition.
        let mut held: HashMap<&str, (Arc<SqsChangeQueue>, &str)> = HashMap::new();
        let remaining = event
            .context
            .deadline()
            .duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::from_secs(30));
        for received in &records {
            let queue = self.queue_of(received.record);
            queue.adopt(
                received.message_id,
                received.receipt,
                received.body,
                received.receive_count,
                remaining,
            );
            held.insert(received.message_id, (queue.clone(), received.receipt));
            match serde_json::from_str::<Change>(received.body) {
                Ok(change) => batch.push(InboundMessage {
                    message_id: received.message_id.to_owned(),
                    change,
                    receive_count: received.receive_count,
                }),
                Err(e) => {
                    // Not a change sf2hs wrote: it can never succeed. Park it with the reason.
                    let reason = format!(
                        "message {} is not a change sf2hs can read ({e}); it was parked untouched",
                        received.message_id
                    );
                    tracing::error!(message = received.message_id, %reason, "poison message");
                    if queue.dead_letter(received.receipt, &reason).await.is_err() {
                        failures.push(received.message_id.to_owned());
                    }
                }
            }
        }
        // The invocation's deadline, kept: what is not written by then is retried, not lost to
        // a timeout that spends every message's receive.
        let deadline = tokio::time::Instant::now() + remaining;
        let (hubspot_before, salesforce_before) =
            (self.hubspot.stats(), self.salesforce.requests());
        let result = self.worker.process_until(batch, Some(deadline)).await;
        let hubspot_after = self.hubspot.stats();
        sf2hs_shared::metrics::record_calls(
            hubspot_after.requests - hubspot_before.requests,
            hubspot_after.rate_limited - hubspot_before.rate_limited,
            self.salesforce.requests() - salesforce_before,
        );
        tracing::info!(
            messages = records.len(),
            written = result.written,
            skipped = result.skipped,
            retried = result.retry_ids().len(),
            "batch processed"
        );
        for (message_id, disposition) in result.dispositions {
            let Some((queue, receipt)) = held.get(message_id.as_str()) else {
                continue;
            };
            // Done needs nothing: the event source mapping deletes every message not reported.
            if disposition
                .apply(queue.as_ref(), &message_id, receipt)
                .await
                == Applied::Redeliver
            {
                failures.push(message_id);
            }
        }
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = failures
            .into_iter()
            .map(|id| {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                failure
            })
            .collect();
        Ok(response)
    }

    /// The adapter of the queue a record came from (live unless it names the backfill queue).
    fn queue_of(&self, record: &SqsMessage) -> Arc<SqsChangeQueue> {
        record
            .event_source_arn
            .as_deref()
            .and_then(|arn| self.deployment.queue_for_source(arn))
            .unwrap_or_else(|| self.deployment.queue.clone())
    }
}
