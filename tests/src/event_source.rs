//! What Lambda's SQS event source mapping does, done locally against moto: receive a batch,
//! invoke the function with an `SqsEvent`, then delete every message the function did not
//! report in `batchItemFailures` (`ReportBatchItemFailures`). A failed invocation leaves the
//! whole batch on the queue, to come back after its visibility timeout.

use std::future::Future;
use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName,
};
use serde_json::{Value, json};
use sf2hs_shared::aws::AwsConnection;

pub struct EventSource {
    client: Client,
    queue_url: String,
    queue_arn: String,
    /// Messages per invocation (the mapping's `BatchSize`).
    pub batch_size: usize,
    /// The queue's visibility timeout while the function has a batch.
    pub visibility: Duration,
    /// The mapping's `MaximumBatchingWindowInSeconds`: once a message is in hand, keep
    /// gathering until the batch is full or this much time has passed. Zero (the default here,
    /// not in the SAM template) invokes with what is ready at once, so that tests run fast.
    pub batching_window: Duration,
}

/// What one poll did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Poll {
    pub received: usize,
    pub deleted: usize,
    pub reported: usize,
    /// The invocation failed: nothing was deleted.
    pub invocation_failed: bool,
}

impl EventSource {
    pub async fn new(connection: &AwsConnection, queue_url: &str) -> Self {
        let client = Client::new(connection.sdk_config());
        let queue_arn = client
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("queue attributes")
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .cloned()
            .expect("queue ARN");
        EventSource {
            client,
            queue_url: queue_url.to_owned(),
            queue_arn,
            batch_size: 100,
            visibility: Duration::from_secs(30),
            batching_window: Duration::ZERO,
        }
    }

    /// Receives a batch (none: returns at once) and hands it to `invoke`.
    pub async fn poll<F, Fut>(&self, invoke: F) -> Poll
    where
        F: FnOnce(Value) -> Fut,
        Fut: Future<Output = Result<Value, String>>,
    {
        // Like the event source mapping, fill the batch with several receives (SQS returns
        // at most 10 per call) until it is full or the queue has no more ready.
        let mut messages = Vec::new();
        let mut window_ends: Option<tokio::time::Instant> = None;
        while messages.len() < self.batch_size {
            let want = (self.batch_size - messages.len()).min(10);
            let output = self
                .client
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(i32::try_from(want).unwrap_or(10))
                .visibility_timeout(i32::try_from(self.visibility.as_secs()).unwrap_or(30))
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .expect("receive");
            let got = output.messages().to_vec();
            if got.is_empty() {
                match window_ends {
                    Some(ends) if tokio::time::Instant::now() < ends => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                    _ => break,
                }
            }
            if window_ends.is_none() && !self.batching_window.is_zero() {
                window_ends = Some(tokio::time::Instant::now() + self.batching_window);
            }
            messages.extend(got);
        }
        let messages = messages.as_slice();
        let mut poll = Poll {
            received: messages.len(),
            ..Poll::default()
        };
        if messages.is_empty() {
            return poll;
        }
        let records: Vec<Value> = messages
            .iter()
            .map(|m| {
                let attributes: serde_json::Map<String, Value> = m
                    .attributes()
                    .map(|a| {
                        a.iter()
                            .map(|(k, v)| (k.as_str().to_owned(), Value::String(v.clone())))
                            .collect()
                    })
                    .unwrap_or_default();
                json!({
                    "messageId": m.message_id(),
                    "receiptHandle": m.receipt_handle(),
                    "body": m.body(),
                    "attributes": attributes,
                    "messageAttributes": {},
                    "md5OfBody": m.md5_of_body(),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn,
                    "awsRegion": "us-east-1",
                })
            })
            .collect();
        let answer = invoke(json!({ "Records": records })).await;
        let reported: Vec<String> = match answer {
            Err(_) => {
                poll.invocation_failed = true;
                return poll;
            }
            Ok(answer) => answer["batchItemFailures"]
                .as_array()
                .map(|failures| {
                    failures
                        .iter()
                        .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        };
        poll.reported = reported.len();
        let done: Vec<_> = messages
            .iter()
            .filter(|m| !reported.iter().any(|r| Some(r.as_str()) == m.message_id()))
            .collect();
        for chunk in done.chunks(10) {
            let mut request = self
                .client
                .delete_message_batch()
                .queue_url(&self.queue_url);
            for (i, m) in chunk.iter().enumerate() {
                request = request.entries(
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(m.receipt_handle().unwrap_or_default())
                        .build()
                        .expect("entry"),
                );
            }
            request.send().await.expect("delete");
        }
        poll.deleted = done.len();
        poll
    }
}
