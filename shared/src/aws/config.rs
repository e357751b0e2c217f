//! Where the AWS adapters find their resources, and the SDK configuration they share.

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

use super::calls::AwsCallLog;
use crate::settings::{SettingsError, registry};

/// The names of the resources the adapters use. Nothing is hard-coded: a deployment passes them
/// in the environment (the SAM template sets these variables), tests make their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    /// The single DynamoDB table of every store port.
    pub table: String,
    /// The change queue; its dead-letter queue is named by [`crate::aws::QueueNames::for_queue`]
    /// unless `dead_letter_queue` is set.
    pub queue: String,
    pub dead_letter_queue: Option<String>,
    /// How long sync-log entries live (their DynamoDB TTL).
    pub sync_log_retention: Duration,
}

impl AwsSettings {
    pub const TABLE_VAR: &'static str = registry::TABLE.variable;
    pub const QUEUE_VAR: &'static str = registry::QUEUE.variable;
    pub const DEAD_LETTER_QUEUE_VAR: &'static str = registry::DEAD_LETTER_QUEUE.variable;
    pub const RETENTION_DAYS_VAR: &'static str = registry::SYNC_LOG_RETENTION_DAYS.variable;

    /// Settings with the default sync-log retention (30 days) and the conventional DLQ name.
    pub fn new(table: impl Into<String>, queue: impl Into<String>) -> Self {
        AwsSettings {
            table: table.into(),
            queue: queue.into(),
            dead_letter_queue: None,
            sync_log_retention: crate::embedded::DEFAULT_SYNC_LOG_RETENTION,
        }
    }

    /// Reads `SF2HS_TABLE`, `SF2HS_QUEUE`, and optionally `SF2HS_DEAD_LETTER_QUEUE` and
    /// `SF2HS_SYNC_LOG_RETENTION_DAYS` from the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(&crate::settings::process_env)
    }

    /// The same, from any variable lookup (tests give their own).
    pub fn from_lookup(lookup: crate::settings::Lookup<'_>) -> Result<Self, SettingsError> {
        let read = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let required = |name: &'static str| {
            read(name).ok_or(SettingsError::Missing(
                name,
                "set it to the name the deployment created (the SAM template does)",
            ))
        };
        let mut settings = AwsSettings::new(required(Self::TABLE_VAR)?, required(Self::QUEUE_VAR)?);
        settings.dead_letter_queue = read(Self::DEAD_LETTER_QUEUE_VAR);
        if let Some(days) = read(Self::RETENTION_DAYS_VAR) {
            let parsed: u64 = days.trim().parse().map_err(|e| SettingsError::Malformed {
                name: Self::RETENTION_DAYS_VAR,
                value: days.clone(),
                reason: format!("{e}; give a whole number of days"),
            })?;
            settings.sync_log_retention = Duration::from_secs(parsed.saturating_mul(86_400));
        }
        Ok(settings)
    }

    /// The queue and dead-letter queue names.
    pub fn queue_names(&self) -> crate::aws::QueueNames {
        match &self.dead_letter_queue {
            Some(dead) => crate::aws::QueueNames {
                queue: self.queue.clone(),
                dead_letter_queue: dead.clone(),
            },
            None => crate::aws::QueueNames::for_queue(&self.queue),
        }
    }
}

/// The SDK configuration every adapter's client is built from: one HTTP client (rustls with
/// ring, so the binary carries one TLS stack), region, credentials and endpoint.
#[derive(Debug, Clone)]
pub struct AwsConnection {
    config: SdkConfig,
    /// Where every request is recorded, when a test or benchmark asked for it.
    calls: Option<AwsCallLog>,
}

/// Region and credentials given to a local endpoint (moto): it accepts any.
const LOCAL_REGION: &str = "us-east-1";

impl AwsConnection {
    /// The standard chain: region and credentials from the environment or the execution role,
    /// and `AWS_ENDPOINT_URL` (or a per-service `AWS_ENDPOINT_URL_DYNAMODB`…) when set.
    pub async fn from_env() -> Self {
        let config = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http_client())
            .load()
            .await;
        AwsConnection {
            config,
            calls: None,
        }
    }

    /// A local stand-in such as moto at `endpoint`, with dummy credentials and region so that
    /// nothing is read from the environment or the machine's AWS profile.
    pub async fn local(endpoint: &str) -> Self {
        let credentials =
            aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "sf2hs-local");
        let config = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http_client())
            .region(Region::new(LOCAL_REGION))
            .credentials_provider(credentials)
            .endpoint_url(endpoint)
            .load()
            .await;
        AwsConnection {
            config,
            calls: None,
        }
    }

    /// [`AwsConnection::local`] when `endpoint` is given (moto, in tests), else
    /// [`AwsConnection::from_env`] (the execution role).
    pub async fn for_endpoint(endpoint: Option<&str>) -> Self {
        match endpoint {
            Some(endpoint) => Self::local(endpoint).await,
            None => Self::from_env().await,
        }
    }

    /// The SDK configuration, for tools and tests that call AWS beyond the ports.
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.config
    }

    /// The same connection, recording every request it makes in `log`.
    pub fn recording(mut self, log: &AwsCallLog) -> Self {
        self.calls = Some(log.clone());
        self
    }

    /// A DynamoDB client of this connection (the adapters' own; tests write raw items with it).
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        let mut config = aws_sdk_dynamodb::config::Builder::from(&self.config);
        if let Some(log) = &self.calls {
            config = config.interceptor(log.interceptor());
        }
        aws_sdk_dynamodb::Client::from_conf(config.build())
    }

    pub(crate) fn sqs(&self) -> aws_sdk_sqs::Client {
        let mut config = aws_sdk_sqs::config::Builder::from(&self.config);
        if let Some(log) = &self.calls {
            config = config.interceptor(log.interceptor());
        }
        aws_sdk_sqs::Client::from_conf(config.build())
    }

    pub(crate) fn secrets_manager(&self) -> aws_sdk_secretsmanager::Client {
        let mut config = aws_sdk_secretsmanager::config::Builder::from(&self.config);
        if let Some(log) = &self.calls {
            config = config.interceptor(log.interceptor());
        }
        aws_sdk_secretsmanager::Client::from_conf(config.build())
    }
}

fn http_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}
