use async_trait::async_trait;
use serde::de::DeserializeOwned;

use super::{PortError, PortResult};

/// Credentials and keys by name (the HubSpot token, the Salesforce connected-app key…).
///
/// Adapters never log or put a secret's value into an error message.
///
/// Values rotate (platform-behaviours.md A3): callers ask for a secret each time they use it (an
/// adapter may keep it for minutes, never for the life of a process), and ask for it [`fresh`]
/// when the value they had was refused (a 401 or 403, a token that no longer matches).
///
/// [`fresh`]: SecretsProvider::fresh
#[async_trait]
pub trait SecretsProvider: Send + Sync {
    /// The secret's value; `NotFound` when there is no secret of that name.
    async fn secret(&self, name: &str) -> PortResult<String>;

    /// The value as the store has it now, past any cache: the value in hand was refused. An
    /// adapter may answer from a read it made moments ago, so a flood of refused requests
    /// cannot turn into a flood of reads.
    async fn fresh(&self, name: &str) -> PortResult<String> {
        self.secret(name).await
    }

    /// Stores a new value (a rotated OAuth refresh token, written back so the next process
    /// starts from it). `Invalid` when this store cannot be written.
    async fn store(&self, name: &str, value: &str) -> PortResult<()> {
        let _ = value;
        Err(PortError::invalid(format!(
            "secret {name} cannot be written to this secrets store; store the new value yourself"
        )))
    }
}

#[async_trait]
impl<T: SecretsProvider + ?Sized> SecretsProvider for std::sync::Arc<T> {
    async fn secret(&self, name: &str) -> PortResult<String> {
        (**self).secret(name).await
    }
    async fn fresh(&self, name: &str) -> PortResult<String> {
        (**self).fresh(name).await
    }
    async fn store(&self, name: &str, value: &str) -> PortResult<()> {
        (**self).store(name, value).await
    }
}

/// A secret that holds JSON (Secrets Manager's key/value secrets), decoded into `T`. A decoding
/// error says where the JSON is wrong, never what it holds.
pub async fn json_secret<T: DeserializeOwned>(
    provider: &dyn SecretsProvider,
    name: &str,
) -> PortResult<T> {
    decode_json_secret(name, &provider.secret(name).await?)
}

/// [`json_secret`] read past the cache ([`SecretsProvider::fresh`]): the value in hand was
/// refused.
pub async fn fresh_json_secret<T: DeserializeOwned>(
    provider: &dyn SecretsProvider,
    name: &str,
) -> PortResult<T> {
    decode_json_secret(name, &provider.fresh(name).await?)
}

fn decode_json_secret<T: DeserializeOwned>(name: &str, value: &str) -> PortResult<T> {
    serde_json::from_str(value).map_err(|e| {
        PortError::invalid(format!(
            "secret {name} is not the JSON expected ({:?} error at line {}, column {}); store \
             it again with the expected keys",
            e.classify(),
            e.line(),
            e.column()
        ))
    })
}
