//! What the client needs to reach one org: where to mint tokens, which API version, which grant,
//! how much of the daily API allowance it may use, and how patient to be.

use std::fmt;
use std::time::Duration;

use super::errors::SalesforceError;
use super::retry::RetryPolicy;

/// A credential or token: usable, never printed (`Debug` and `Display` show `***`).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The server-to-server grants (salesforce.md §4).
#[derive(Debug, Clone, PartialEq)]
pub enum SalesforceAuth {
    /// Client credentials: needs the My Domain host as `login_url`, and a run-as user on the app.
    ClientCredentials {
        client_id: String,
        client_secret: Secret,
    },
    /// JWT bearer: an RS256 assertion signed with the app certificate's private key.
    JwtBearer {
        consumer_key: String,
        username: String,
        /// PEM, PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`).
        private_key_pem: Secret,
        /// `https://login.salesforce.com` or `https://test.salesforce.com` (a community URL for
        /// Experience Cloud); the login host even when tokens are minted on My Domain.
        audience: String,
    },
}

/// A REST API version such as `60.0`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct ApiVersion(f64);

impl ApiVersion {
    /// Bulk API 2.0 query needs v47.0; sObject Collections retrieve v42.0.
    pub const MINIMUM: f64 = 47.0;

    /// Accepts `60.0` or `v60.0`.
    pub fn parse(text: &str) -> Result<Self, SalesforceError> {
        let number = text.trim().trim_start_matches('v');
        let value: f64 = number.parse().map_err(|_| {
            SalesforceError::Config(format!("API version `{text}` is not a number like 60.0"))
        })?;
        if value < Self::MINIMUM {
            return Err(SalesforceError::Config(format!(
                "API version {value:.1} is too old: sf2hs needs {:.1} or later (Bulk API 2.0 query)",
                Self::MINIMUM
            )));
        }
        Ok(Self(value))
    }

    pub fn number(self) -> f64 {
        self.0
    }

    /// The path segment: `v60.0`.
    pub fn path_segment(self) -> String {
        format!("v{:.1}", self.0)
    }
}

/// Back-off for polling a Bulk query job until it finishes.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkPollPolicy {
    pub initial_interval: Duration,
    pub max_interval: Duration,
    /// Give up (and say so) after this long.
    pub timeout: Duration,
}

impl Default for BulkPollPolicy {
    fn default() -> Self {
        Self {
            initial_interval: Duration::from_secs(1),
            max_interval: Duration::from_secs(30),
            timeout: Duration::from_secs(60 * 60),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SalesforceClientConfig {
    /// Token endpoint host: My Domain (`https://acme.my.salesforce.com`) for client credentials;
    /// the login host or My Domain for JWT bearer.
    pub login_url: String,
    pub api_version: ApiVersion,
    pub auth: SalesforceAuth,
    /// Share (0 < share ≤ 1) of the org's daily API allowance sf2hs may use; past it the client
    /// stops with `QuotaGuardStop` before calling (Singer's quota guard).
    pub max_api_share: f64,
    /// How long the guard stops calls, once over the share, before one call probes whether the
    /// rolling allowance came back.
    pub quota_probe_after: Duration,
    /// REST query page size asked for with `Sforce-Query-Options` (200–2,000; Salesforce may
    /// send fewer).
    pub query_batch_size: Option<u32>,
    pub retry: RetryPolicy,
    pub bulk_poll: BulkPollPolicy,
    pub request_timeout: Duration,
}

impl SalesforceClientConfig {
    pub fn new(login_url: &str, api_version: ApiVersion, auth: SalesforceAuth) -> Self {
        Self {
            login_url: login_url.trim_end_matches('/').to_string(),
            api_version,
            auth,
            max_api_share: 0.8,
            quota_probe_after: super::limits::DEFAULT_PROBE_AFTER,
            query_batch_size: None,
            retry: RetryPolicy::default(),
            bulk_poll: BulkPollPolicy::default(),
            request_timeout: Duration::from_secs(120),
        }
    }

    pub fn validate(&self) -> Result<(), SalesforceError> {
        if !(self.max_api_share > 0.0 && self.max_api_share <= 1.0) {
            return Err(SalesforceError::Config(format!(
                "max_api_share is {}; set a share of the daily API allowance between 0 (exclusive) and 1, e.g. 0.8",
                self.max_api_share
            )));
        }
        if let Some(size) = self.query_batch_size
            && !(200..=2_000).contains(&size)
        {
            return Err(SalesforceError::Config(format!(
                "query_batch_size {size} is outside Salesforce's 200-2000"
            )));
        }
        if !(self.login_url.starts_with("https://") || self.login_url.starts_with("http://")) {
            return Err(SalesforceError::Config(format!(
                "login_url `{}` must be an http(s) URL such as https://acme.my.salesforce.com",
                self.login_url
            )));
        }
        if let SalesforceAuth::ClientCredentials { .. } = &self.auth {
            let host = self.login_url.to_ascii_lowercase();
            if host.contains("://login.salesforce.com") || host.contains("://test.salesforce.com") {
                return Err(SalesforceError::Config(
                    "the client credentials flow must use the org's My Domain host \
                     (https://<domain>.my.salesforce.com), not login/test.salesforce.com"
                        .into(),
                ));
            }
        }
        Ok(())
    }
}
