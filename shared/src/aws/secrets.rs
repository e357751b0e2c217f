//! [`SecretsProvider`] on AWS Secrets Manager. A value is kept for minutes (`ttl`), not for the
//! life of a warm execution environment: a rotated endpoint token, HubSpot token or connected-app
//! secret is picked up by a warm function within the cache time, and at once by a caller whose
//! value was refused ([`SecretsProvider::fresh`], platform-behaviours.md A3).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use aws_sdk_secretsmanager::operation::put_secret_value::PutSecretValueError;

use super::config::AwsConnection;
use super::error::port_error;
use crate::ports::{PortError, PortResult, SecretsProvider};

const BACKEND: &str = "Secrets Manager";

/// How long a value is used before it is read again (`SF2HS_SECRETS_CACHE_SECONDS`).
pub const DEFAULT_SECRETS_TTL: Duration = Duration::from_secs(300);

/// A `fresh` read within this long of the last `fresh` read answers from the cache: refused
/// requests (a flood of wrong tokens) cost at most one `GetSecretValue` per secret per this
/// interval, while the first refusal after a rotation reads the new value at once.
const FRESH_READ_SPACING: Duration = Duration::from_secs(10);

/// Secrets Manager, each value kept for `ttl`.
#[derive(Clone)]
pub struct SecretsManagerSecrets {
    client: Client,
    ttl: Duration,
    cache: Arc<Mutex<HashMap<String, Cached>>>,
}

#[derive(Clone)]
struct Cached {
    value: String,
    read_at: Instant,
    /// When a caller last asked past the cache.
    fresh_at: Option<Instant>,
}

impl std::fmt::Debug for SecretsManagerSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: values never reach a log.
        let names: Vec<String> = self.cache().keys().cloned().collect();
        f.debug_struct("SecretsManagerSecrets")
            .field("ttl", &self.ttl)
            .field("cached", &names)
            .finish()
    }
}

impl SecretsManagerSecrets {
    pub fn new(connection: &AwsConnection) -> Self {
        Self::with_ttl(connection, DEFAULT_SECRETS_TTL)
    }

    /// Values kept for `ttl` before they are read again.
    pub fn with_ttl(connection: &AwsConnection, ttl: Duration) -> Self {
        SecretsManagerSecrets {
            client: connection.secrets_manager(),
            ttl,
            cache: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn cached(&self, name: &str, younger_than: Duration) -> Option<String> {
        self.cache()
            .get(name)
            .filter(|c| c.read_at.elapsed() < younger_than)
            .map(|c| c.value.clone())
    }

    fn keep(&self, name: &str, value: &str, fresh: bool) {
        let mut cache = self.cache();
        let now = Instant::now();
        let fresh_at = if fresh {
            Some(now)
        } else {
            cache.get(name).and_then(|c| c.fresh_at)
        };
        cache.insert(
            name.to_owned(),
            Cached {
                value: value.to_owned(),
                read_at: now,
                fresh_at,
            },
        );
    }

    async fn read(&self, name: &str, fresh: bool) -> PortResult<String> {
        // Two tasks may both miss and both read: harmless, and no lock is held across the call.
        let output = self
            .client
            .get_secret_value()
            .secret_id(name)
            .send()
            .await
            .map_err(|error| {
                if matches!(
                    error.as_service_error(),
                    Some(GetSecretValueError::ResourceNotFoundException(_))
                ) {
                    PortError::NotFound {
                        what: format!(
                            "secret {name} in Secrets Manager (create it, or check the name)"
                        ),
                    }
                } else {
                    port_error(BACKEND, &format!("reading secret {name}"), error)
                }
            })?;
        let value = output.secret_string().ok_or_else(|| {
            PortError::invalid(format!(
                "secret {name} holds binary data; store it as a string"
            ))
        })?;
        self.keep(name, value, fresh);
        Ok(value.to_owned())
    }
}

#[async_trait]
impl SecretsProvider for SecretsManagerSecrets {
    async fn secret(&self, name: &str) -> PortResult<String> {
        match self.cached(name, self.ttl) {
            Some(value) => Ok(value),
            None => self.read(name, false).await,
        }
    }

    async fn fresh(&self, name: &str) -> PortResult<String> {
        let recent = self
            .cache()
            .get(name)
            .filter(|c| {
                c.fresh_at
                    .is_some_and(|at| at.elapsed() < FRESH_READ_SPACING)
            })
            .map(|c| c.value.clone());
        match recent {
            Some(value) => Ok(value),
            None => self.read(name, true).await,
        }
    }

    /// Stores a new value of secret `name` (a rotated refresh token: `PutSecretValue`, all a
    /// function's role allows), or creates it when there is none (the CLI's setup, the tests);
    /// this provider's cache takes the new value, other processes read it when their cached
    /// value expires or is refused.
    async fn store(&self, name: &str, value: &str) -> PortResult<()> {
        let put = self
            .client
            .put_secret_value()
            .secret_id(name)
            .secret_string(value)
            .send()
            .await;
        match put {
            Ok(_) => {}
            Err(error)
                if matches!(
                    error.as_service_error(),
                    Some(PutSecretValueError::ResourceNotFoundException(_))
                ) =>
            {
                self.client
                    .create_secret()
                    .name(name)
                    .secret_string(value)
                    .send()
                    .await
                    .map_err(|e| port_error(BACKEND, &format!("creating secret {name}"), e))?;
            }
            Err(error) => {
                return Err(port_error(
                    BACKEND,
                    &format!("storing secret {name}"),
                    error,
                ));
            }
        }
        self.keep(name, value, false);
        Ok(())
    }
}
