//! The change queue on SQS: a standard queue with a dead-letter queue attached by a redrive
//! policy.

mod change_queue;
mod ledger;

use std::collections::HashMap;

use aws_sdk_sqs::types::QueueAttributeName;

pub use change_queue::SqsChangeQueue;

use super::config::AwsConnection;
use super::error::port_error;
use crate::ports::{PortError, PortResult};

/// The name adapters give in `PortError::Unavailable`.
const BACKEND: &str = "SQS";

/// The longest SQS keeps a message (14 days): the most time an operator has to replay.
const RETENTION_SECONDS: &str = "1209600";

/// The largest message and batch this adapter sends (256 KiB), the classic SQS limit that
/// every queue accepts whatever its `MaximumMessageSize`.
pub use crate::ports::MAX_MESSAGE_BYTES;

/// A change queue and its dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueNames {
    pub queue: String,
    pub dead_letter_queue: String,
}

impl QueueNames {
    /// `name` and `name-dead-letters`.
    pub fn for_queue(name: &str) -> Self {
        QueueNames {
            queue: name.to_owned(),
            dead_letter_queue: format!("{name}-dead-letters"),
        }
    }
}

/// The URL of the existing queue `name` (`GetQueueUrl`).
pub(crate) async fn queue_url(client: &aws_sdk_sqs::Client, name: &str) -> PortResult<String> {
    client
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .map_err(|e| port_error(BACKEND, &format!("finding queue {name}"), e))?
        .queue_url()
        .map(str::to_owned)
        .ok_or_else(|| PortError::invalid(format!("queue {name} has no URL")))
}

/// Creates the dead-letter queue, then the queue with a redrive policy sending a message there
/// after `max_receives` receives (`maxReceiveCount`); both keep messages 14 days. Returns the
/// adapter on them. Queues that exist with the same attributes are accepted (SQS makes
/// `CreateQueue` idempotent).
pub async fn create_queues(
    connection: &AwsConnection,
    names: &QueueNames,
    max_receives: u32,
) -> PortResult<SqsChangeQueue> {
    let client = connection.sqs();
    let create = |name: &str, attributes: HashMap<QueueAttributeName, String>| {
        let client = client.clone();
        let name = name.to_owned();
        async move {
            client
                .create_queue()
                .queue_name(&name)
                .set_attributes(Some(attributes))
                .send()
                .await
                .map_err(|e| port_error(BACKEND, &format!("creating queue {name}"), e))?
                .queue_url()
                .map(str::to_owned)
                .ok_or_else(|| PortError::Unavailable {
                    backend: BACKEND,
                    reason: format!("creating queue {name} returned no URL"),
                })
        }
    };
    let common = || {
        HashMap::from([
            (
                QueueAttributeName::MessageRetentionPeriod,
                RETENTION_SECONDS.to_owned(),
            ),
            (
                QueueAttributeName::MaximumMessageSize,
                MAX_MESSAGE_BYTES.to_string(),
            ),
        ])
    };
    let dead_letter_url = create(&names.dead_letter_queue, common()).await?;
    let dead_letter_arn = client
        .get_queue_attributes()
        .queue_url(&dead_letter_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| {
            port_error(
                BACKEND,
                &format!("reading the ARN of {}", names.dead_letter_queue),
                e,
            )
        })?
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| PortError::Unavailable {
            backend: BACKEND,
            reason: format!("queue {} has no ARN", names.dead_letter_queue),
        })?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dead_letter_arn,
        "maxReceiveCount": max_receives.max(1),
    });
    let mut attributes = common();
    attributes.insert(QueueAttributeName::RedrivePolicy, redrive.to_string());
    let queue_url = create(&names.queue, attributes).await?;
    Ok(SqsChangeQueue::new(connection, queue_url, dead_letter_url))
}
