//! [`SecretsProvider`] on AWS Secrets Manager, with values cached for the life of the process
//! (a Lambda execution environment): one `GetSecretValue` per secret per cold start, not per
//! invocation. A rotated secret is picked up by new execution environments.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::operation::create_secret::CreateSecretError;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;

use super::config::AwsConnection;
use super::error::port_error;
use crate::ports::{PortError, PortResult, SecretsProvider};

const BACKEND: &str = "Secrets Manager";

/// Secrets Manager, read once per secret and process.
#[derive(Clone)]
pub struct SecretsManagerSecrets {
    client: Client,
    cache: Arc<Mutex<HashMap<String, String>>>,
}

impl std::fmt::Debug for SecretsManagerSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: values never reach a log.
        let names: Vec<String> = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect();
        f.debug_struct("SecretsManagerSecrets")
            .field("cached", &names)
            .finish()
    }
}

impl SecretsManagerSecrets {
    pub fn new(connection: &AwsConnection) -> Self {
        SecretsManagerSecrets {
            client: connection.secrets_manager(),
            cache: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Creates secret `name` or stores a new value of it (the CLI's setup and the tests); this
    /// provider's cache takes the new value, other processes keep theirs until they restart.
    pub async fn store(&self, name: &str, value: &str) -> PortResult<()> {
        let created = self
            .client
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(error)
                if matches!(
                    error.as_service_error(),
                    Some(CreateSecretError::ResourceExistsException(_))
                ) =>
            {
                self.client
                    .put_secret_value()
                    .secret_id(name)
                    .secret_string(value)
                    .send()
                    .await
                    .map_err(|e| port_error(BACKEND, &format!("storing secret {name}"), e))?;
            }
            Err(error) => {
                return Err(port_error(
                    BACKEND,
                    &format!("creating secret {name}"),
                    error,
                ));
            }
        }
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_owned(), value.to_owned());
        Ok(())
    }
}

#[async_trait]
impl SecretsProvider for SecretsManagerSecrets {
    async fn secret(&self, name: &str) -> PortResult<String> {
        if let Some(value) = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
        {
            return Ok(value.clone());
        }
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
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_owned(), value.to_owned());
        Ok(value.to_owned())
    }
}
