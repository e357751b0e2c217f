//! The adapters of a deployed stack, built once per Lambda execution environment from the
//! variables the SAM template sets: the table, the live and backfill change queues, the import
//! continuation queue and Secrets Manager.

use std::sync::Arc;

use async_trait::async_trait;

use super::config::{AwsConnection, AwsSettings};
use super::error::port_error;
use super::{DynamoStore, QueueNames, SecretsManagerSecrets, SqsChangeQueue};
use crate::import::ImportContinuation;
use crate::ports::{Cause, PortError, PortResult};
use crate::settings::{Lookup, SettingsError, optional, registry};

/// The backfill queue (imports): a line of its own so that imports never delay live changes.
pub const BACKFILL_QUEUE_VAR: &str = registry::BACKFILL_QUEUE.variable;
/// The backfill queue's dead-letter queue (default `<backfill>-dead-letters`).
pub const BACKFILL_DEAD_LETTER_QUEUE_VAR: &str = registry::BACKFILL_DEAD_LETTER_QUEUE.variable;
/// The queue on which the import function hands an unfinished job to its next invocation.
pub const IMPORT_QUEUE_VAR: &str = registry::IMPORT_QUEUE.variable;

/// A deployment's adapters.
#[derive(Clone)]
pub struct Deployment {
    pub connection: AwsConnection,
    pub settings: AwsSettings,
    pub store: DynamoStore,
    /// Live changes (ingest's output, the worker's re-reads).
    pub queue: Arc<SqsChangeQueue>,
    /// Imported records, when the stack has a backfill queue.
    pub backfill: Option<Arc<SqsChangeQueue>>,
    pub secrets: Arc<SecretsManagerSecrets>,
}

fn unreachable(what: &str, e: PortError) -> SettingsError {
    SettingsError::Client {
        what: format!("cannot open {what}"),
        cause: Cause::new(e),
    }
}

impl Deployment {
    /// Connects with the standard AWS chain (the execution role), or to `endpoint` (moto).
    pub async fn connect(
        lookup: Lookup<'_>,
        endpoint: Option<&str>,
    ) -> Result<Self, SettingsError> {
        Self::with_connection(AwsConnection::for_endpoint(endpoint).await, lookup).await
    }

    /// The same on a connection the caller already has (the CLI, which read the stack's
    /// outputs on it).
    pub async fn with_connection(
        connection: AwsConnection,
        lookup: Lookup<'_>,
    ) -> Result<Self, SettingsError> {
        let settings = AwsSettings::from_lookup(lookup)?;
        let store = DynamoStore::new(&connection, settings.table.clone());
        let backfill_names = optional(lookup, BACKFILL_QUEUE_VAR).map(|name| {
            match optional(lookup, BACKFILL_DEAD_LETTER_QUEUE_VAR) {
                Some(dead) => QueueNames {
                    queue: name.clone(),
                    dead_letter_queue: dead,
                },
                None => QueueNames::for_queue(&name),
            }
        });
        // The live and backfill queues' URLs at once: init waits for one round trip.
        let live_names = settings.queue_names();
        let live = async {
            SqsChangeQueue::connect(&connection, &live_names)
                .await
                .map_err(|e| unreachable("the change queue", e))
        };
        let backfill = async {
            match &backfill_names {
                None => Ok(None),
                Some(names) => SqsChangeQueue::connect(&connection, names)
                    .await
                    .map(|queue| Some(Arc::new(queue)))
                    .map_err(|e| unreachable("the backfill queue", e)),
            }
        };
        let (queue, backfill) = tokio::try_join!(live, backfill)?;
        let ttl = match optional(lookup, registry::SECRETS_CACHE_SECONDS.variable) {
            None => super::secrets::DEFAULT_SECRETS_TTL,
            Some(text) => text
                .trim()
                .parse::<u64>()
                .map(std::time::Duration::from_secs)
                .map_err(|e| SettingsError::Malformed {
                    name: registry::SECRETS_CACHE_SECONDS.variable,
                    value: text.clone(),
                    reason: format!("{e}; give whole seconds such as 300"),
                })?,
        };
        Ok(Deployment {
            secrets: Arc::new(SecretsManagerSecrets::with_ttl(&connection, ttl)),
            connection,
            settings,
            store,
            queue: Arc::new(queue),
            backfill,
        })
    }

    /// Where imported records go: the backfill queue when there is one, else the live queue.
    pub fn import_queue(&self) -> Arc<SqsChangeQueue> {
        self.backfill.clone().unwrap_or_else(|| self.queue.clone())
    }

    /// The change queue an SQS event source ARN (`arn:aws:sqs:region:account:name`) names.
    pub fn queue_for_source(&self, event_source_arn: &str) -> Option<Arc<SqsChangeQueue>> {
        let name = event_source_arn.rsplit(':').next()?;
        std::iter::once(&self.queue)
            .chain(self.backfill.iter())
            .find(|q| q.queue_name() == name)
            .cloned()
    }

    /// The import continuation queue the environment names.
    /// Where ingest hands the re-syncs Salesforce asks for: an import job in the table,
    /// continued on the import queue. `None` without `SF2HS_IMPORT_QUEUE` (they are then only
    /// logged).
    pub async fn resyncs(
        &self,
        lookup: Lookup<'_>,
    ) -> Result<Option<crate::import::ResyncJobs>, SettingsError> {
        if optional(lookup, IMPORT_QUEUE_VAR).is_none() {
            tracing::warn!(
                "{IMPORT_QUEUE_VAR} is not set: re-syncs Salesforce asks for are only logged"
            );
            return Ok(None);
        }
        Ok(Some(crate::import::ResyncJobs {
            jobs: Arc::new(self.store.import_jobs()),
            continuation: Some(Arc::new(self.continuations(lookup).await?)),
        }))
    }

    pub async fn continuations(
        &self,
        lookup: Lookup<'_>,
    ) -> Result<SqsContinuations, SettingsError> {
        let name = optional(lookup, IMPORT_QUEUE_VAR).ok_or(SettingsError::Missing(
            IMPORT_QUEUE_VAR,
            "name the queue on which the import function continues its jobs",
        ))?;
        SqsContinuations::connect(&self.connection, &name)
            .await
            .map_err(|e| unreachable("the import queue", e))
    }
}

/// [`ImportContinuation`] as a message `{"job_id": …}` on the import queue, which triggers the
/// import function again.
#[derive(Debug, Clone)]
pub struct SqsContinuations {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

/// The body of a continuation message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ContinuationMessage {
    pub job_id: String,
}

impl SqsContinuations {
    pub async fn connect(connection: &AwsConnection, queue_name: &str) -> PortResult<Self> {
        let client = connection.sqs();
        let queue_url = super::sqs::queue_url(&client, queue_name).await?;
        Ok(SqsContinuations { client, queue_url })
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }
}

#[async_trait]
impl ImportContinuation for SqsContinuations {
    async fn continue_after(&self, job_id: &str, wait: std::time::Duration) -> PortResult<()> {
        let body = serde_json::to_string(&ContinuationMessage {
            job_id: job_id.to_owned(),
        })
        .map_err(|e| PortError::invalid_because(format!("cannot encode a continuation: {e}"), e))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(i32::try_from(wait.as_secs().min(900)).unwrap_or(900))
            .send()
            .await
            .map_err(|e| port_error("SQS", "handing the import to its next invocation", e))?;
        Ok(())
    }
}
