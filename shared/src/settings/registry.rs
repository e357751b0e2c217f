//! Every setting sf2hs reads, once: its environment variable, its key in `sf2hs.toml`, what it
//! does and its default. The settings readers, the CLI (its flags' variables and the keys the
//! configuration file may hold), the AWS backend and `docs/configuration.md` (checked by a test)
//! all read this table; nothing else spells a setting's name.

/// One setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The environment variable (`SF2HS_…`).
    pub variable: &'static str,
    /// The key in `sf2hs.toml`: the variable without `SF2HS_`, in lower case.
    pub key: &'static str,
    /// What it does, as `docs/configuration.md` says it (default included, where there is one).
    pub help: &'static str,
    /// The default, as text, where it is a value (a test checks it against the typed default).
    pub default: Option<&'static str>,
}

impl Setting {
    /// The documentation's row for it.
    pub fn doc_row(&self) -> String {
        format!("| `{}` | `{}` | {} |", self.key, self.variable, self.help)
    }
}

macro_rules! settings {
    ($($(#[$doc:meta])* $name:ident = $key:literal, $help:literal $(, default $default:expr)?;)+) => {
        $(
            $(#[$doc])*
            pub const $name: Setting = Setting {
                variable: concat!("SF2HS_", stringify!($name)),
                key: $key,
                help: $help,
                default: settings!(@default $($default)?),
            };
        )+
        /// Every setting, in the order `docs/configuration.md` lists them.
        pub const SETTINGS: &[Setting] = &[$($name),+];
    };
    (@default) => { None };
    (@default $default:expr) => { Some($default) };
}

/// The embedded store's directory when none is given.
pub const DEFAULT_DATA_DIR: &str = ".sf2hs";
/// The address `sf2hs serve` listens on when none is given.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The Salesforce REST API version when none is given.
pub const DEFAULT_SALESFORCE_API_VERSION: &str = "60.0";

settings! {
    /// Which store and queues the CLI uses.
    BACKEND = "backend", "`embedded` (default: SQLite in `data_dir`) or `aws`", default "embedded";
    DATA_DIR = "data_dir", "the embedded store's directory (default `.sf2hs`)", default DEFAULT_DATA_DIR;
    SECRETS_DIR = "secrets_dir", "a directory of secret files, one per secret name";
    LISTEN = "listen", "the address `serve` listens on (default `127.0.0.1:8080`)", default DEFAULT_LISTEN;
    /// Deliveries of a message before it is dead-lettered (the queue's `maxReceiveCount`).
    MAX_RECEIVES = "max_receives", "tries of a change the record's own failures may spend before it is dead-lettered with the reason; also the queue's `maxReceiveCount` (default 5)", default "5";
    STACK = "stack", "aws backend: the CloudFormation stack whose outputs name the resources";
    TABLE = "table", "aws backend: the DynamoDB table (instead of `stack`)";
    QUEUE = "queue", "aws backend: the live change queue";
    DEAD_LETTER_QUEUE = "dead_letter_queue", "its dead-letter queue (default `<queue>-dead-letters`)";
    BACKFILL_QUEUE = "backfill_queue", "aws backend: the backfill queue";
    BACKFILL_DEAD_LETTER_QUEUE = "backfill_dead_letter_queue", "its dead-letter queue (default `<backfill_queue>-dead-letters`)";
    IMPORT_QUEUE = "import_queue", "aws backend: the import function's continuation queue";
    IMPORT_FUNCTION = "import_function", "aws backend: the import function's name";
    SYNC_LOG_RETENTION_DAYS = "sync_log_retention_days", "how long sync-log entries are kept, in days (default 30)", default "30";
    /// The Salesforce organisation (15 or 18 characters) whose changes are taken.
    ORG_ID = "org_id", "the Salesforce org id (15 or 18 characters)";
    /// The secret holding the token in the outbound-message endpoint's path.
    ENDPOINT_TOKEN_SECRET = "endpoint_token_secret", "the secret holding the outbound-message endpoint's token";
    /// Largest outbound-message body taken, in bytes.
    MAX_BODY_BYTES = "max_body_bytes", "the largest outbound-message body accepted, in bytes (default 4194304, 4 MiB)", default "4194304";
    /// Integration client ids whose writes are echoes (CDC `changeOrigin`).
    ECHO_CLIENTS = "echo_clients", "CDC change origins to ignore (a list, or comma-separated)";
    /// How to read platform events (they have no standard shape).
    PLATFORM_EVENTS = "platform_events", "platform events to take, each `Event__e=Object__c/RecordIdField` or `Event__e=@ObjectField/RecordIdField`, optionally `/ChangeTypeField` (a list, or comma-separated)";
    /// The secret holding HubSpot credentials (JSON, see [`super::HubSpotSecret`]).
    HUBSPOT_SECRET = "hubspot_secret", "the secret holding the HubSpot credentials";
    HUBSPOT_BASE_URL = "hubspot_base_url", "HubSpot's API address (default `https://api.hubapi.com`)", default crate::hubspot::config::DEFAULT_BASE_URL;
    HUBSPOT_API_VERSION = "hubspot_api_version", "`2026-03` (default) or `legacy`", default crate::hubspot::config::DEFAULT_DATE_VERSION;
    /// Requests per 10 seconds until HubSpot's headers say otherwise.
    HUBSPOT_RATE_LIMIT = "hubspot_rate_limit", "HubSpot requests per 10 s this install may use (default 190)", default "190";
    /// The secret holding Salesforce credentials (JSON, see [`super::SalesforceSecret`]).
    SALESFORCE_SECRET = "salesforce_secret", "the secret holding the Salesforce credentials";
    SALESFORCE_API_VERSION = "salesforce_api_version", "the Salesforce REST API version (default `60.0`)", default DEFAULT_SALESFORCE_API_VERSION;
    SALESFORCE_MAX_API_SHARE = "salesforce_max_api_share", "the share of the org's daily API calls sf2hs may use (default 0.8)", default "0.8";
    RETRY_DELAY_SECONDS = "retry_delay_seconds", "the wait before a failed change is retried (default 30)", default "30";
    ASSOCIATION_RETRY_DELAY_SECONDS = "association_retry_delay_seconds", "the wait before a missing association target is retried (default 60)", default "60";
    VISIBILITY_SECONDS = "visibility_seconds", "local pipeline: how long a worker keeps a batch hidden from the others; a batch cut short by a crash comes back after it, so keep it above the longest batch (default 120; on AWS the queue's `VisibilityTimeout`)", default "120";
    INDEX_WRITES_IN_FLIGHT = "index_writes_in_flight", "how many of a batch's record-index writes (one conditional write each) a worker keeps in flight (default 16, which cuts a DynamoDB batch's wait; lower it for a DynamoDB table with little provisioned write capacity)", default "16";
    SECRETS_CACHE_SECONDS = "secrets_cache_seconds", "aws: how long a warm function uses a secret's value before reading it again; a refused value is read again at once (default 300)", default "300";
    BATCH_WINDOW_MS = "batch_window_ms", "local pipeline: the longest a worker's batch gathers changes before it is written, unless 100 are in first; within it a batch goes as soon as HubSpot's rate budget allows another call at half of what remains (about every 105 ms on an idle portal), so a trickle costs calls of many records, not one each, and leaves half the budget to imports (default 250; 0 writes what is there at once; on AWS the event source's `MaximumBatchingWindowInSeconds`)", default "250";
}

/// The configuration file's path: a variable only (it cannot name itself).
pub const CONFIG_VARIABLE: &str = "SF2HS_CONFIG";

/// The setting a configuration-file key names.
pub fn by_key(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|setting| setting.key == key)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::worker::WorkerSettings;

    fn default_of(setting: Setting) -> &'static str {
        setting
            .default
            .unwrap_or_else(|| panic!("{} has a default", setting.variable))
    }

    #[test]
    fn keys_are_the_variables_without_their_prefix() {
        for setting in SETTINGS {
            assert_eq!(
                format!("SF2HS_{}", setting.key.to_ascii_uppercase()),
                setting.variable
            );
        }
    }

    #[test]
    fn each_default_is_the_one_the_code_applies_and_the_help_says() {
        let worker = WorkerSettings::default();
        let seconds = |d: Duration| d.as_secs().to_string();
        let applied = [
            (MAX_RECEIVES, worker.max_receives.to_string()),
            (RETRY_DELAY_SECONDS, seconds(worker.retry_delay)),
            (
                ASSOCIATION_RETRY_DELAY_SECONDS,
                seconds(worker.association_retry_delay),
            ),
            (VISIBILITY_SECONDS, seconds(worker.local_visibility)),
            (
                BATCH_WINDOW_MS,
                worker.local_batch_window.as_millis().to_string(),
            ),
            (
                INDEX_WRITES_IN_FLIGHT,
                worker.index_writes_in_flight.to_string(),
            ),
            (
                SYNC_LOG_RETENTION_DAYS,
                (crate::embedded::DEFAULT_SYNC_LOG_RETENTION.as_secs() / 86_400).to_string(),
            ),
            (
                MAX_BODY_BYTES,
                crate::salesforce::intake::outbound::DEFAULT_MAX_BODY_BYTES.to_string(),
            ),
            (
                HUBSPOT_RATE_LIMIT,
                crate::hubspot::RateLimitSettings::default()
                    .max_requests
                    .to_string(),
            ),
        ];
        for (setting, value) in applied {
            assert_eq!(default_of(setting), value, "{}", setting.variable);
        }
        for setting in SETTINGS {
            if let Some(default) = setting.default {
                assert!(
                    setting.help.contains(&format!("default {default}"))
                        || setting.help.contains(&format!("default `{default}`"))
                        || setting.help.contains(&format!("`{default}` (default")),
                    "{}'s help does not say its default {default}: {}",
                    setting.variable,
                    setting.help
                );
            }
        }
    }

    #[test]
    fn the_documentation_lists_every_setting_as_the_registry_says() {
        let doc = include_str!("../../../docs/configuration.md");
        let keys = doc
            .split("\n## Keys\n")
            .nth(1)
            .expect("docs/configuration.md has a `## Keys` section");
        let section = keys.split("\n## ").next().unwrap_or(keys);
        let documented: Vec<&str> = section.lines().filter(|l| l.starts_with("| `")).collect();
        let registered: Vec<String> = SETTINGS.iter().map(Setting::doc_row).collect();
        assert_eq!(
            documented, registered,
            "docs/configuration.md's keys table must be the registry's rows, in its order"
        );
    }
}
