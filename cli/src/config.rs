//! The configuration file, `sf2hs.toml`: one flat table whose keys are the sf2hs environment
//! variables without their `SF2HS_` prefix, in lower case (`org_id` is `SF2HS_ORG_ID`). A flag
//! wins over the environment, the environment over the file. Credentials are never read from
//! it: secret values come from the environment (`SF2HS_SECRET_<NAME>`) or a secrets directory,
//! and the file only names the secrets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sf2hs_shared::settings::registry;

use crate::output::CliError;

/// The file read when neither `--config` nor `SF2HS_CONFIG` names one (if it exists).
pub const DEFAULT_FILE: &str = "sf2hs.toml";

/// Keys that look like a credential: refused, so that a secret never lands in a file that is
/// easy to commit.
const CREDENTIAL_WORDS: &[&str] = &["token", "password", "client_secret", "private_key"];

/// The values of the configuration file, if there is one.
#[derive(Debug, Default)]
pub struct Config {
    values: BTreeMap<String, String>,
    path: Option<PathBuf>,
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
        let table: toml::Table = toml::from_str(text).map_err(|source| CliError::ConfigSyntax {
            file: file.to_string(),
            source,
        })?;
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
            let Some(setting) = registry::by_key(&key) else {
                let known: Vec<&str> = registry::SETTINGS.iter().map(|s| s.key).collect();
                problems.push(format!(
                    "`{key}` is not a setting; the settings are: {}",
                    known.join(", ")
                ));
                continue;
            };
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
            values.insert(setting.variable.to_owned(), text);
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
        for setting in registry::SETTINGS {
            let row = format!("| `{}` | `{}` |", setting.key, setting.variable);
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
