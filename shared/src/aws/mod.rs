//! AWS adapters of the ports: DynamoDB (mapping store, record index, import jobs, sync log), SQS
//! (change queue) and Secrets Manager (secrets). Compiled with the `aws` feature only.
//!
//! AWS types stay inside this module: callers build an [`AwsConnection`] from the environment (or
//! for a local endpoint such as moto) and get port trait objects back.

pub mod calls;
pub mod config;
pub mod deployment;
pub mod dynamodb;
mod error;
#[cfg(feature = "operator")]
pub mod operator;
pub mod secrets;
pub mod sqs;
pub mod write_units;

use std::time::Duration;

pub use calls::{AwsCall, AwsCallLog, CallCount};
pub use config::{AwsConnection, AwsSettings};
pub use deployment::{ContinuationMessage, Deployment, SqsContinuations};
pub use dynamodb::{DynamoStore, create_table};
pub use secrets::SecretsManagerSecrets;
pub use sqs::{QueueNames, SqsChangeQueue, create_queues};

/// How often a batch call re-sends the part AWS left unprocessed before giving up.
const BATCH_ATTEMPTS: u32 = 8;

/// The wait before retry `attempt` (1-based) of the unprocessed part of a batch: exponential from
/// 50 ms, capped at 2 s, with jitter so that concurrent workers do not retry in step.
fn backoff(attempt: u32) -> Duration {
    let base_ms = 50_u64.saturating_mul(1_u64 << attempt.min(6)).min(2_000);
    // Jitter from the clock's sub-second noise: no RNG dependency for a retry wait.
    let noise = u64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0),
    );
    Duration::from_millis(base_ms / 2 + noise % (base_ms / 2 + 1))
}
