//! The configuration file, `sf2hs.toml`: one flat table whose keys are the sf2hs environment
//! variables without their `SF2HS_` prefix, in lower case (`org_id` is `SF2HS_ORG_ID`). A flag
//! wins over the environment, the environment over the file. Credentials are never read from
//! it: secret values come from the environment (`SF2HS_SECRET_<NAME>`) or a secrets directory,
//! and the file only names the secrets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::output::CliError;

/// The file read when neither `--config` nor `SF2HS_CONFIG` names one (if it exists).
pub const DEFAULT_FILE: &str = "sf2hs.toml";

/// Every key the file may hold: the CLI's own settings and the pipeline's variables.
pub const KEYS: &[(&str, &str)] = &[
    ("backend", "embedded (default) or aws"),
    (
        "data_dir",
        "the embedded store's directory (default .sf2hs)",
    ),
    (
        "secrets_dir",
        "a directory of secret files, one per secret name",
    ),
    (
        "listen",
        "the address `serve` listens on (default 127.0.0.1:8080)",
    ),
    (
        "max_receives",
        "deliveries of a change before it is dead-lettered (default 5)",
    ),
    (
        "stack",
        "aws backend: the deployed CloudFormation stack whose outputs name the resources",
    ),
    (
        "table",
        "aws backend: the DynamoDB table (instead of `stack`)",
    ),
    ("queue", "aws backend: the live change queue"),
    (
        "dead_letter_queue",
        "aws backend: its dead-letter queue (default <queue>-dead-letters)",
    ),
    ("backfill_queue", "aws backend: the backfill queue"),
    (
        "backfill_dead_letter_queue",
        "aws backend: its dead-letter queue",
    ),
    (
        "import_queue",
        "aws backend: the import function's continuation queue",
    ),
    ("import_function", "aws backend: the import function's name"),
    (
        "sync_log_retention_days",
        "how long sync-log entries are kept (default 30)",
    ),
    ("org_id", "the Salesforce org id (15 or 18 characters)"),
    (
        "endpoint_token_secret",
        "the secret holding the outbound-message endpoint's token",
    ),
    (
        "max_body_bytes",
        "the largest outbound-message body accepted",
    ),
    (
        "echo_clients",
        "CDC change origins to ignore, comma-separated",
    ),
    (
        "hubspot_secret",
        "the secret holding the HubSpot credentials",
    ),
    (
        "hubspot_base_url",
        "HubSpot's API address (default https://api.hubapi.com)",
    ),
    (
        "hubspot_api_version",
        "HubSpot's API version: 2026-03 or legacy",
    ),
    (
        "hubspot_rate_limit",
        "HubSpot requests per 10 s this install may use",
    ),
    (
        "salesforce_secret",
        "the secret holding the Salesforce credentials",
    ),
    (
        "salesforce_api_version",
        "the Salesforce REST API version, such as 60.0",
    ),
    (
        "salesforce_max_api_share",
        "the share of the org's daily API calls sf2hs may use",
    ),
    (
        "retry_delay_seconds",
        "the wait before a failed change is retried",
    ),
    (
        "association_retry_delay_seconds",
        "the wait before a missing association target is retried",
    ),
    (
        "visibility_seconds",
        "how long a local worker keeps a batch hidden from the others",
    ),
    (
        "index_writes_in_flight",
        "how many record-index writes a worker batch keeps in flight",
    ),
    (
        "batch_window_ms",
        "how long a local worker's batch gathers changes before it is written",
    ),
];

/// Keys that look like a credential: refused, so that a secret never lands in a file that is
/// easy to commit.
const CREDENTIAL_WORDS: &[&str] = &["token", "password", "client_secret", "private_key"];

/// The values of the configuration file, if there is one.
#[derive(Debug, Default)]
pub struct Config {
    values: BTreeMap<String, String>,
    path: Option<PathBuf>,
}

fn variable(key: &str) -> String {
    format!("SF2HS_{}", key.to_ascii_uppercase())
}

impl Config {
    /// Reads `explicit` (an error when missing), or `sf2hs.toml` in the current directory when
    /// it exists, or nothing.
    pub fn load(explicit: Option<&Path>) -> Result<Config, CliError> {
        let path = match explicit {
            Some(path) => path.to_owned(),
            None => {
                let default = PathBuf::from(DEFAULT_FILE);
                if !default.exists() {
                    return Ok(Config::default());
                }
                default
            }
        };
        let text = std::fs::read_to_string(&path).map_err(|e| {
            CliError::Config(format!(
                "cannot read {}: {e} (give another with --config or SF2HS_CONFIG)",
                path.display()
            ))
        })?;
        Self::parse(&text, &path)
    }

    fn parse(text: &str, path: &Path) -> Result<Config, CliError> {
        let file = path.display();
        let table: toml::Table = toml::from_str(text)
            .map_err(|e| CliError::Config(format!("{file}: not valid TOML: {e}")))?;
        let mut values = BTreeMap::new();
        let mut problems = Vec::new();
        for (key, value) in table {
            if key.starts_with("secret_") || CREDENTIAL_WORDS.iter().any(|w| key.ends_with(w)) {
                problems.push(format!(
                    "`{key}` looks like a credential: credentials never go in the configuration \
                     file; name a secret here (hubspot_secret = \"hubspot\") and give its value \
                     in SF2HS_SECRET_<NAME> or a file in the secrets directory"
                ));
                continue;
            }
            if !KEYS.iter().any(|(known, _)| *known == key) {
                let known: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
                problems.push(format!(
                    "`{key}` is not a setting; the settings are: {}",
                    known.join(", ")
                ));
                continue;
            }
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Array(items) => {
                    let parts: Option<Vec<String>> = items
                        .into_iter()
                        .map(|item| match item {
                            toml::Value::String(s) => Some(s),
                            _ => None,
                        })
                        .collect();
                    match parts {
                        Some(parts) => parts.join(","),
                        None => {
                            problems.push(format!("`{key}` must be a list of strings"));
                            continue;
                        }
                    }
                }
                other => {
                    problems.push(format!(
                        "`{key}` must be a string, number or list, not {}",
                        other.type_str()
                    ));
                    continue;
                }
            };
            values.insert(variable(&key), text);
        }
        if !problems.is_empty() {
            return Err(CliError::Config(format!(
                "{file}:\n  {}",
                problems.join("\n  ")
            )));
        }
        Ok(Config {
            values,
            path: Some(path.to_owned()),
        })
    }

    /// Variable `name` (`SF2HS_…`): the environment's value, else the file's.
    pub fn lookup(&self, name: &str) -> Option<String> {
        match std::env::var(name) {
            Ok(value) if !value.trim().is_empty() => Some(value),
            _ => self.values.get(name).cloned(),
        }
    }

    /// `flag` when given (clap has already read the environment into it), else the file's
    /// value of `name`.
    pub fn or_file(&self, flag: Option<String>, name: &str) -> Option<String> {
        flag.or_else(|| self.values.get(name).cloned())
    }

    /// The same for a path: the flag as given (not through text), else the file's.
    pub fn path_or_file(&self, flag: Option<&Path>, name: &str) -> Option<PathBuf> {
        flag.map(Path::to_path_buf)
            .or_else(|| self.values.get(name).map(PathBuf::from))
    }

    /// The file read, for messages.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, CliError> {
        Config::parse(text, Path::new("sf2hs.toml"))
    }

    #[test]
    fn keys_become_the_variables_they_name() {
        let config = parse(
            "org_id = \"00D000000000001\"\nhubspot_rate_limit = 150\necho_clients = [\"a\", \"b\"]\n",
        )
        .expect("valid");
        assert_eq!(
            config.values.get("SF2HS_ORG_ID").map(String::as_str),
            Some("00D000000000001")
        );
        assert_eq!(
            config
                .values
                .get("SF2HS_HUBSPOT_RATE_LIMIT")
                .map(String::as_str),
            Some("150")
        );
        assert_eq!(
            config.values.get("SF2HS_ECHO_CLIENTS").map(String::as_str),
            Some("a,b")
        );
    }

    #[test]
    fn credentials_and_unknown_keys_are_refused_together() {
        let error = parse("secret_hubspot = \"pat-123\"\nhubspot_token = \"x\"\norgid = \"00D\"\n")
            .expect_err("refused")
            .to_string();
        assert!(
            error.contains("`secret_hubspot` looks like a credential"),
            "{error}"
        );
        assert!(
            error.contains("`hubspot_token` looks like a credential"),
            "{error}"
        );
        assert!(error.contains("`orgid` is not a setting"), "{error}");
        assert!(
            !error.contains("pat-123"),
            "a refused value is not echoed: {error}"
        );
    }

    #[test]
    fn every_key_is_documented_with_its_variable() {
        let doc = include_str!("../../docs/configuration.md");
        for (key, _) in KEYS {
            let row = format!("| `{key}` | `{}` |", variable(key));
            assert!(
                doc.contains(&row),
                "docs/configuration.md lacks the row {row}"
            );
        }
    }

    #[test]
    fn tables_are_refused() {
        let error = parse("[aws]\ntable = \"t\"\n")
            .expect_err("refused")
            .to_string();
        assert!(error.contains("`aws` is not a setting"), "{error}");
    }

    #[test]
    fn bad_toml_names_the_file() {
        let error = parse("org_id = \n").expect_err("refused").to_string();
        assert!(error.starts_with("sf2hs.toml: not valid TOML"), "{error}");
    }
}
