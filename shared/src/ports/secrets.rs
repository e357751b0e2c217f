use async_trait::async_trait;
use serde::de::DeserializeOwned;

use super::{PortError, PortResult};

/// Credentials and keys by name (the HubSpot token, the Salesforce connected-app key…).
///
/// Adapters never log or put a secret's value into an error message.
#[async_trait]
pub trait SecretsProvider: Send + Sync {
    /// The secret's value; `NotFound` when there is no secret of that name.
    async fn secret(&self, name: &str) -> PortResult<String>;
}

/// A secret that holds JSON (Secrets Manager's key/value secrets), decoded into `T`. A decoding
/// error says where the JSON is wrong, never what it holds.
pub async fn json_secret<T: DeserializeOwned>(
    provider: &dyn SecretsProvider,
    name: &str,
) -> PortResult<T> {
    let value = provider.secret(name).await?;
    serde_json::from_str(&value).map_err(|e| {
        PortError::invalid(format!(
            "secret {name} is not the JSON expected ({:?} error at line {}, column {}); store \
             it again with the expected keys",
            e.classify(),
            e.line(),
            e.column()
        ))
    })
}
