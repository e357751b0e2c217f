//! What a deployed function (or the local server) reads from its environment, and the clients
//! built from it. Credentials never come from here directly: the environment names the secrets,
//! and a [`SecretsProvider`] (Secrets Manager on AWS, `LocalSecrets` locally) holds the values.
//!
//! Every reader takes a lookup function instead of touching the process environment, so tests
//! give each case its own variables.

pub mod registry;

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::domain::SalesforceId;
use crate::hubspot::{self, HubSpotClient, HubSpotConfig, TokenSource};
use crate::ingest::{CredentialRefused, EndpointToken, IngestSettings};
use crate::ports::{Cause, SecretsProvider, json_secret};
use crate::salesforce::client::{
    self as sf, SalesforceAuth, SalesforceClient, SalesforceClientConfig, Secret,
};
use crate::salesforce::intake::cdc::EventOptions;
use crate::salesforce::intake::outbound::DEFAULT_MAX_BODY_BYTES;
use crate::worker::WorkerSettings;

/// A variable's value by name; `None` when unset.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment as a [`Lookup`].
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The variables, by name: every reader, test and document names them through these (the
/// registry spells them).
pub mod vars {
    use super::registry;

    pub const ORG_ID: &str = registry::ORG_ID.variable;
    pub const ENDPOINT_TOKEN_SECRET: &str = registry::ENDPOINT_TOKEN_SECRET.variable;
    pub const MAX_BODY_BYTES: &str = registry::MAX_BODY_BYTES.variable;
    pub const ECHO_CLIENTS: &str = registry::ECHO_CLIENTS.variable;
    pub const PLATFORM_EVENTS: &str = registry::PLATFORM_EVENTS.variable;
    pub const HUBSPOT_SECRET: &str = registry::HUBSPOT_SECRET.variable;
    pub const HUBSPOT_BASE_URL: &str = registry::HUBSPOT_BASE_URL.variable;
    pub const HUBSPOT_API_VERSION: &str = registry::HUBSPOT_API_VERSION.variable;
    pub const HUBSPOT_RATE_LIMIT: &str = registry::HUBSPOT_RATE_LIMIT.variable;
    pub const SALESFORCE_SECRET: &str = registry::SALESFORCE_SECRET.variable;
    pub const SALESFORCE_API_VERSION: &str = registry::SALESFORCE_API_VERSION.variable;
    pub const SALESFORCE_MAX_API_SHARE: &str = registry::SALESFORCE_MAX_API_SHARE.variable;
    pub const MAX_RECEIVES: &str = registry::MAX_RECEIVES.variable;
    pub const RETRY_DELAY_SECONDS: &str = registry::RETRY_DELAY_SECONDS.variable;
    pub const ASSOCIATION_RETRY_DELAY_SECONDS: &str =
        registry::ASSOCIATION_RETRY_DELAY_SECONDS.variable;
    pub const VISIBILITY_SECONDS: &str = registry::VISIBILITY_SECONDS.variable;
    pub const BATCH_WINDOW_MS: &str = registry::BATCH_WINDOW_MS.variable;
    pub const INDEX_WRITES_IN_FLIGHT: &str = registry::INDEX_WRITES_IN_FLIGHT.variable;
}

/// A setting missing or malformed, or a secret that cannot be read: what to set, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("environment variable {0} (`{key}` in sf2hs.toml) is not set; {1}", key = key_of(.0))]
    Missing(&'static str, &'static str),
    /// Every required setting that is missing, so one run names them all.
    #[error("{} settings are missing:{}", .0.len(), list_missing(.0))]
    AllMissing(Vec<(&'static str, &'static str)>),
    #[error("environment variable {name} = {value:?} is not valid: {reason}")]
    Malformed {
        name: &'static str,
        value: String,
        reason: String,
    },
    #[error("secret {name}: {reason}")]
    Secret { name: String, reason: String },
    /// A client or connection that cannot be built from the settings given; `cause` says why.
    #[error("{what}: {cause}")]
    Client {
        what: String,
        #[source]
        cause: Cause,
    },
}

fn key_of(variable: &str) -> String {
    variable
        .strip_prefix("SF2HS_")
        .unwrap_or(variable)
        .to_ascii_lowercase()
}

fn list_missing(missing: &[(&'static str, &'static str)]) -> String {
    missing
        .iter()
        .map(|(variable, hint)| {
            format!(
                "\n  - {variable} (`{}` in sf2hs.toml): {hint}",
                key_of(variable)
            )
        })
        .collect()
}

/// Checks that every one of `required` is set, and names all that are not at once (a first run
/// should not find them one restart at a time). Each is `(variable, what to set it to)`.
pub fn require_all(
    lookup: Lookup<'_>,
    required: &[(&'static str, &'static str)],
) -> Result<(), SettingsError> {
    let missing: Vec<_> = required
        .iter()
        .filter(|(variable, _)| optional(lookup, variable).is_none())
        .copied()
        .collect();
    match missing.len() {
        0 => Ok(()),
        1 => Err(SettingsError::Missing(missing[0].0, missing[0].1)),
        _ => Err(SettingsError::AllMissing(missing)),
    }
}

/// What the local pipeline (and the ingest and worker functions together) cannot start without.
pub const PIPELINE_REQUIRED: &[(&str, &str)] = &[
    (
        vars::ORG_ID,
        "set it to the Salesforce organisation id (Setup > Company Information)",
    ),
    (
        vars::ENDPOINT_TOKEN_SECRET,
        "name the secret that holds the outbound-message endpoint token",
    ),
    (
        vars::HUBSPOT_SECRET,
        "name the secret that holds the HubSpot token",
    ),
    (
        vars::SALESFORCE_SECRET,
        "name the secret that holds the Salesforce connected-app credentials",
    ),
];

impl SettingsError {
    fn client(what: &str, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        SettingsError::Client {
            what: what.to_owned(),
            cause: Cause::new(cause),
        }
    }
}

/// A variable's value, trimmed; `None` when unset or blank.
pub(crate) fn optional(lookup: Lookup<'_>, name: &str) -> Option<String> {
    lookup(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn required(
    lookup: Lookup<'_>,
    name: &'static str,
    hint: &'static str,
) -> Result<String, SettingsError> {
    optional(lookup, name).ok_or(SettingsError::Missing(name, hint))
}

fn parsed<T: std::str::FromStr>(
    lookup: Lookup<'_>,
    name: &'static str,
    expected: &str,
) -> Result<Option<T>, SettingsError>
where
    T::Err: std::fmt::Display,
{
    match optional(lookup, name) {
        None => Ok(None),
        Some(value) => value
            .parse()
            .map(Some)
            .map_err(|e| SettingsError::Malformed {
                name,
                reason: format!("{e}; give {expected}"),
                value,
            }),
    }
}

fn org_id(lookup: Lookup<'_>) -> Result<SalesforceId, SettingsError> {
    let value = required(
        lookup,
        vars::ORG_ID,
        "set it to the Salesforce organisation id (Setup > Company Information)",
    )?;
    SalesforceId::parse(&value).map_err(|e| SettingsError::Malformed {
        name: vars::ORG_ID,
        value,
        reason: e.to_string(),
    })
}

/// Ingest's settings. The endpoint token stays in its secret, read on use (so a rotation is
/// taken without a restart); it is read once here so a missing or short token stops the start.
pub async fn ingest_settings(
    lookup: Lookup<'_>,
    secrets: Arc<dyn SecretsProvider>,
) -> Result<IngestSettings, SettingsError> {
    let org_id = org_id(lookup)?;
    let token_secret = required(
        lookup,
        vars::ENDPOINT_TOKEN_SECRET,
        "name the secret that holds the outbound-message endpoint token",
    )?;
    let endpoint_token = EndpointToken::from_secret(secrets, token_secret.clone());
    endpoint_token
        .current(false)
        .await
        .map_err(|e| SettingsError::Secret {
            name: token_secret.clone(),
            reason: match e {
                CredentialRefused::Unavailable(reason) => reason,
                other => other.to_string(),
            },
        })?;
    let max_body_bytes = parsed(lookup, vars::MAX_BODY_BYTES, "a number of bytes")?
        .unwrap_or(DEFAULT_MAX_BODY_BYTES);
    let echo_clients = optional(lookup, vars::ECHO_CLIENTS)
        .map(|v| {
            v.split(',')
                .map(|c| c.trim().to_owned())
                .filter(|c| !c.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let platform_events = match optional(lookup, vars::PLATFORM_EVENTS) {
        None => Vec::new(),
        Some(text) => crate::salesforce::intake::cdc::PlatformEventRoute::parse_list(&text)
            .map_err(|reason| SettingsError::Malformed {
                name: vars::PLATFORM_EVENTS,
                value: text.clone(),
                reason,
            })?,
    };
    Ok(IngestSettings {
        events: EventOptions {
            org_id: Some(org_id.clone()),
            accept_unsourced: false,
            echo_clients,
            platform_events,
        },
        org_id,
        endpoint_token,
        max_body_bytes,
    })
}

/// The organisation the importer tags its changes with.
pub fn import_org_id(lookup: Lookup<'_>) -> Result<SalesforceId, SettingsError> {
    org_id(lookup)
}

/// The worker's settings: the retry budget matches the queue's redrive count.
pub fn worker_settings(lookup: Lookup<'_>) -> Result<WorkerSettings, SettingsError> {
    let mut settings = WorkerSettings::default();
    if let Some(max) = parsed::<u32>(lookup, vars::MAX_RECEIVES, "a whole number such as 5")? {
        settings.max_receives = max.max(1);
    }
    if let Some(seconds) = parsed::<u64>(lookup, vars::RETRY_DELAY_SECONDS, "whole seconds")? {
        settings.retry_delay = Duration::from_secs(seconds);
    }
    if let Some(seconds) = parsed::<u64>(
        lookup,
        vars::ASSOCIATION_RETRY_DELAY_SECONDS,
        "whole seconds",
    )? {
        settings.association_retry_delay = Duration::from_secs(seconds);
    }
    if let Some(seconds) = parsed::<u64>(lookup, vars::VISIBILITY_SECONDS, "whole seconds")? {
        settings.local_visibility = Duration::from_secs(seconds.max(1));
    }
    if let Some(ms) = parsed::<u64>(lookup, vars::BATCH_WINDOW_MS, "whole milliseconds")? {
        settings.local_batch_window = Duration::from_millis(ms);
    }
    if let Some(n) = parsed::<usize>(
        lookup,
        vars::INDEX_WRITES_IN_FLIGHT,
        "a whole number such as 16",
    )? {
        settings.index_writes_in_flight = n.max(1);
    }
    Ok(settings)
}

pub use crate::hubspot::auth::HubSpotSecret;

/// The HubSpot client configuration from the environment (everything but the credentials).
pub fn hubspot_config(lookup: Lookup<'_>) -> Result<HubSpotConfig, SettingsError> {
    let mut config = match optional(lookup, vars::HUBSPOT_BASE_URL) {
        Some(url) => HubSpotConfig::with_base_url(url.trim_end_matches('/')),
        None => HubSpotConfig::default(),
    };
    if let Some(version) = optional(lookup, vars::HUBSPOT_API_VERSION) {
        config.api_version = match version.as_str() {
            "legacy" | "v3" => hubspot::ApiVersion::Legacy,
            date if is_date_version(date) => hubspot::ApiVersion::DateBased(date.to_owned()),
            _ => {
                return Err(SettingsError::Malformed {
                    name: vars::HUBSPOT_API_VERSION,
                    value: version,
                    reason: "give a date-based version such as 2026-03, or `legacy`".into(),
                });
            }
        };
    }
    if let Some(max) = parsed::<u32>(
        lookup,
        vars::HUBSPOT_RATE_LIMIT,
        "requests per 10 seconds, such as 190",
    )? {
        if max == 0 {
            return Err(SettingsError::Malformed {
                name: vars::HUBSPOT_RATE_LIMIT,
                value: "0".into(),
                reason: "at least 1 request per 10 seconds is needed".into(),
            });
        }
        config.rate_limit.max_requests = max;
        config.rate_limit.interval = Duration::from_secs(10);
    }
    Ok(config)
}

fn is_date_version(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 7
        && bytes[4] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || b.is_ascii_digit())
}

/// The HubSpot client, with the credentials from the secret the environment names.
pub async fn hubspot_client(
    lookup: Lookup<'_>,
    secrets: Arc<dyn SecretsProvider>,
) -> Result<HubSpotClient, SettingsError> {
    let config = hubspot_config(lookup)?;
    let name = required(
        lookup,
        vars::HUBSPOT_SECRET,
        "name the secret that holds the HubSpot token",
    )?;
    let home = hubspot::auth::SecretHome {
        secrets,
        name: name.clone(),
    };
    let tokens = TokenSource::from_secret(home)
        .await
        .map_err(|e| SettingsError::Secret {
            name: name.clone(),
            reason: e.to_string(),
        })?;
    HubSpotClient::new(config, tokens)
        .map_err(|e| SettingsError::client("cannot build the HubSpot client", e))
}

/// Salesforce credentials as stored in their secret: a connected app with the client
/// credentials flow, or with JWT bearer.
#[derive(Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum SalesforceSecret {
    ClientCredentials {
        /// The org's My Domain, `https://acme.my.salesforce.com`.
        login_url: String,
        client_id: String,
        client_secret: String,
    },
    JwtBearer {
        login_url: String,
        consumer_key: String,
        username: String,
        private_key_pem: String,
        #[serde(default = "default_audience")]
        audience: String,
    },
}

fn default_audience() -> String {
    "https://login.salesforce.com".into()
}

impl SalesforceSecret {
    /// The login URL (without a trailing `/`) and the grant's credentials.
    fn into_credentials(self) -> (String, SalesforceAuth) {
        let (login_url, auth) = match self {
            SalesforceSecret::ClientCredentials {
                login_url,
                client_id,
                client_secret,
            } => (
                login_url,
                SalesforceAuth::ClientCredentials {
                    client_id,
                    client_secret: Secret::new(client_secret),
                },
            ),
            SalesforceSecret::JwtBearer {
                login_url,
                consumer_key,
                username,
                private_key_pem,
                audience,
            } => (
                login_url,
                SalesforceAuth::JwtBearer {
                    consumer_key,
                    username,
                    private_key_pem: Secret::new(private_key_pem),
                    audience,
                },
            ),
        };
        (login_url.trim_end_matches('/').to_owned(), auth)
    }
}

const SALESFORCE_SECRET_FORM: &str = "it must hold login_url with client_id and client_secret, or \
                                      with consumer_key, username and private_key_pem";

/// The Salesforce secret, read again when Salesforce refuses the credentials in hand.
struct SalesforceSecretHome {
    secrets: Arc<dyn SecretsProvider>,
    name: String,
}

#[async_trait::async_trait]
impl sf::auth::CredentialReload for SalesforceSecretHome {
    async fn reload(&self) -> Result<(String, SalesforceAuth), sf::SalesforceError> {
        let secret: SalesforceSecret = crate::ports::fresh_json_secret(
            self.secrets.as_ref(),
            &self.name,
        )
        .await
        .map_err(|e| {
            sf::SalesforceError::Config(format!(
                "cannot read the Salesforce secret `{}` again: {e}; {SALESFORCE_SECRET_FORM}",
                self.name
            ))
        })?;
        Ok(secret.into_credentials())
    }
}

/// The Salesforce client, with the credentials from the secret the environment names; they are
/// read again from it when Salesforce refuses them.
pub async fn salesforce_client(
    lookup: Lookup<'_>,
    secrets: Arc<dyn SecretsProvider>,
) -> Result<SalesforceClient, SettingsError> {
    let name = required(
        lookup,
        vars::SALESFORCE_SECRET,
        "name the secret that holds the Salesforce connected-app credentials",
    )?;
    let secret: SalesforceSecret =
        json_secret(secrets.as_ref(), &name)
            .await
            .map_err(|e| SettingsError::Secret {
                name: name.clone(),
                reason: format!("{e}; {SALESFORCE_SECRET_FORM}"),
            })?;
    let version = match optional(lookup, vars::SALESFORCE_API_VERSION) {
        Some(v) => sf::ApiVersion::parse(&v).map_err(|e| SettingsError::Malformed {
            name: vars::SALESFORCE_API_VERSION,
            value: v,
            reason: e.to_string(),
        })?,
        None => sf::ApiVersion::parse(registry::DEFAULT_SALESFORCE_API_VERSION)
            .map_err(|e| SettingsError::client("the default Salesforce API version", e))?,
    };
    let (login_url, auth) = secret.into_credentials();
    let mut config = SalesforceClientConfig::new(&login_url, version, auth);
    if let Some(share) = parsed::<f64>(
        lookup,
        vars::SALESFORCE_MAX_API_SHARE,
        "a share between 0 and 1, such as 0.8",
    )? {
        config.max_api_share = share;
    }
    let client = SalesforceClient::new(config)
        .map_err(|e| SettingsError::client("cannot build the Salesforce client", e))?;
    Ok(client.with_credential_reload(Arc::new(SalesforceSecretHome { secrets, name })))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn hubspot_config_reads_version_and_limit() {
        let lookup = env(&[
            (vars::HUBSPOT_BASE_URL, "http://127.0.0.1:9/"),
            (vars::HUBSPOT_API_VERSION, "legacy"),
            (vars::HUBSPOT_RATE_LIMIT, "100"),
        ]);
        let config = hubspot_config(&lookup).expect("valid");
        assert_eq!(config.base_url, "http://127.0.0.1:9");
        assert_eq!(config.api_version, hubspot::ApiVersion::Legacy);
        assert_eq!(config.rate_limit.max_requests, 100);
        let dated = hubspot_config(&env(&[(vars::HUBSPOT_API_VERSION, "2026-09")])).expect("ok");
        assert_eq!(
            dated.api_version,
            hubspot::ApiVersion::DateBased("2026-09".into())
        );
    }

    #[test]
    fn malformed_settings_name_the_variable_and_the_fix() {
        let bad_version = hubspot_config(&env(&[(vars::HUBSPOT_API_VERSION, "v5")]))
            .expect_err("refused")
            .to_string();
        assert!(
            bad_version.contains("SF2HS_HUBSPOT_API_VERSION"),
            "{bad_version}"
        );
        assert!(bad_version.contains("2026-03"), "{bad_version}");
        let bad_limit = hubspot_config(&env(&[(vars::HUBSPOT_RATE_LIMIT, "many")]))
            .expect_err("refused")
            .to_string();
        assert!(bad_limit.contains("requests per 10 seconds"), "{bad_limit}");
        let missing = import_org_id(&env(&[])).expect_err("refused").to_string();
        assert!(missing.contains("SF2HS_ORG_ID"), "{missing}");
        let bad_org = import_org_id(&env(&[(vars::ORG_ID, "00D-nope")]))
            .expect_err("refused")
            .to_string();
        assert!(bad_org.contains("00D-nope"), "{bad_org}");
        let receives = worker_settings(&env(&[(vars::MAX_RECEIVES, "3")])).expect("ok");
        assert_eq!(receives.max_receives, 3);
    }

    #[test]
    fn secrets_shapes_decode() {
        let token: HubSpotSecret = serde_json::from_str(r#"{"token":"pat-na1-x"}"#).expect("ok");
        assert!(!token.token_source().is_oauth());
        let oauth: HubSpotSecret =
            serde_json::from_str(r#"{"client_id":"a","client_secret":"b","refresh_token":"c"}"#)
                .expect("ok");
        assert!(oauth.token_source().is_oauth());
        assert!(serde_json::from_str::<HubSpotSecret>(r#"{"tokn":"x"}"#).is_err());
        let jwt: SalesforceSecret = serde_json::from_str(
            r#"{"login_url":"https://x.my.salesforce.com","consumer_key":"k","username":"u","private_key_pem":"p"}"#,
        )
        .expect("ok");
        assert!(
            matches!(jwt, SalesforceSecret::JwtBearer { audience, .. } if audience == "https://login.salesforce.com")
        );
    }
}
