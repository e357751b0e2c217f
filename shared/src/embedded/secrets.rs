//! Secrets for a one-machine install: environment variables, or files in a directory.

use std::path::PathBuf;

use async_trait::async_trait;

use crate::ports::{PortError, PortResult, SecretsProvider};

/// Reads secret `name` from the environment variable `SF2HS_SECRET_<NAME>` (upper case, every
/// character other than a letter or digit turned into `_`), else from the file `<dir>/<name>`
/// when a directory is set (trailing newline trimmed). Values are read on every call: a local
/// install picks up a rotated secret at once.
#[derive(Debug, Clone, Default)]
pub struct LocalSecrets {
    dir: Option<PathBuf>,
}

impl LocalSecrets {
    /// Environment variables only.
    pub fn from_env() -> Self {
        LocalSecrets { dir: None }
    }

    /// Environment variables, then files in `dir` when one is given.
    pub fn new(dir: Option<PathBuf>) -> Self {
        LocalSecrets { dir }
    }

    /// Environment variables, then files in `dir`.
    pub fn with_dir(dir: impl Into<PathBuf>) -> Self {
        LocalSecrets {
            dir: Some(dir.into()),
        }
    }

    /// The environment variable that holds secret `name`.
    pub fn variable(name: &str) -> String {
        let suffix: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        format!("SF2HS_SECRET_{suffix}")
    }
}

#[async_trait]
impl SecretsProvider for LocalSecrets {
    async fn secret(&self, name: &str) -> PortResult<String> {
        let variable = Self::variable(name);
        if let Ok(value) = std::env::var(&variable) {
            return Ok(value);
        }
        // A name with path separators could read outside the directory: refuse it.
        let safe = !name.is_empty() && !name.contains(['/', '\\']) && name != "..";
        if let Some(dir) = self.dir.as_ref().filter(|_| safe) {
            let path = dir.join(name);
            // A small local file: reading it inline costs less than a blocking-pool hop.
            match std::fs::read_to_string(&path) {
                Ok(value) => return Ok(value.trim_end_matches(['\r', '\n']).to_owned()),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => {
                    return Err(PortError::Unavailable {
                        backend: "the local secrets directory",
                        reason: format!("reading {}: {error}", path.display()),
                    });
                }
            }
        }
        let place = match &self.dir {
            Some(dir) => format!("set {variable} or write it to {}", dir.join(name).display()),
            None => format!("set {variable}"),
        };
        Err(PortError::NotFound {
            what: format!("secret {name} ({place})"),
        })
    }

    /// Writes the secret's file (owner-only), where the value came from a file: a variable of
    /// this process's environment cannot be changed for the next one.
    async fn store(&self, name: &str, value: &str) -> PortResult<()> {
        let variable = Self::variable(name);
        if std::env::var_os(&variable).is_some() {
            return Err(PortError::invalid(format!(
                "secret {name} comes from {variable}, which sf2hs cannot change for the next \
                 start: set it to the new value there, or keep the secret in a file of the \
                 secrets directory"
            )));
        }
        let safe = !name.is_empty() && !name.contains(['/', '\\']) && name != "..";
        let Some(dir) = self.dir.as_ref().filter(|_| safe) else {
            return Err(PortError::invalid(format!(
                "secret {name} cannot be written: no secrets directory is set (--secrets-dir)"
            )));
        };
        let path = dir.join(name);
        let partial = dir.join(format!(".{name}.new"));
        let write = || -> std::io::Result<()> {
            std::fs::write(&partial, format!("{value}\n"))?;
            super::owner_only(&partial, 0o600)?;
            // A rename, so a reader never sees half a value.
            std::fs::rename(&partial, &path)
        };
        write().map_err(|e| PortError::Unavailable {
            backend: "the local secrets directory",
            reason: format!("writing {}: {e}", path.display()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn files_are_read_and_missing_secrets_say_where_to_put_them() {
        let dir = std::env::temp_dir().join(format!("sf2hs-secrets-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("hubspot-token"), "pat-na1-123\n").expect("write secret");
        let secrets = LocalSecrets::with_dir(&dir);
        assert_eq!(
            secrets.secret("hubspot-token").await.expect("secret"),
            "pat-na1-123"
        );
        match secrets.secret("missing-one").await {
            Err(PortError::NotFound { what }) => {
                assert!(what.contains("SF2HS_SECRET_MISSING_ONE"), "{what}");
            }
            other => panic!("expected NotFound, got {other:?}"),
        }
        assert!(secrets.secret("../etc").await.is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
