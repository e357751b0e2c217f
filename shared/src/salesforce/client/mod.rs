//! The Salesforce REST and Bulk API 2.0 client sf2hs uses for describe, backfill and re-read
//! (salesforce.md §3-§4). One [`SalesforceClient`] per org: it mints and caches an OAuth token
//! (re-minted once on `INVALID_SESSION_ID`), reads `Sforce-Limit-Info` on every answer and stops
//! before passing its share of the daily allowance, retries transient failures, and turns
//! Salesforce's error arrays into [`SalesforceError`]s that say what to fix.

pub mod auth;
pub mod bulk;
pub mod config;
pub mod errors;
pub mod limits;
mod ports;
pub mod rest;
pub mod retry;
pub mod schema;
mod tooling;

use std::fmt;

use reqwest::Method;
use reqwest::header::HeaderMap;

pub use auth::AccessToken;
pub use bulk::{BulkJobInfo, BulkJobState, BulkOperation, BulkResultsPage};
pub use config::{ApiVersion, BulkPollPolicy, SalesforceAuth, SalesforceClientConfig, Secret};
pub use errors::SalesforceError;
pub use limits::{ApiUsage, QuotaGuard};
pub use ports::BULK_THRESHOLD;
pub use rest::{
    DeletedRecord, DeletedRecords, QueriedRecord, QueryPager, SObjectSummary, window_soql,
};
pub use retry::RetryPolicy;
pub use schema::SplitSchemaSource;
pub use tooling::OutboundMessageDefinition;

use auth::TokenCache;
use errors::classify;
use limits::LIMIT_INFO_HEADER;
use retry::is_retryable_status;

/// A request body.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    None,
    Json(serde_json::Value),
}

/// A successful answer, read in full.
#[derive(Debug)]
pub(crate) struct Answer {
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, SalesforceError> {
        serde_json::from_str(&self.body).map_err(|e| SalesforceError::Decode(e.to_string()))
    }
}

pub struct SalesforceClient {
    config: SalesforceClientConfig,
    http: reqwest::Client,
    tokens: TokenCache,
    quota: QuotaGuard,
    /// API requests sent (each try), for the worker's metrics.
    requests: std::sync::atomic::AtomicU64,
}

impl fmt::Debug for SalesforceClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The config's secrets print as `***`; the cached token is left out entirely.
        f.debug_struct("SalesforceClient")
            .field("config", &self.config)
            .field("api_usage", &self.quota.last_usage())
            .finish()
    }
}

impl SalesforceClient {
    pub fn new(config: SalesforceClientConfig) -> Result<Self, SalesforceError> {
        config.validate()?;
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .build()
            .map_err(|e| SalesforceError::Config(format!("cannot build the HTTP client: {e}")))?;
        let quota = QuotaGuard::with_probe_after(config.max_api_share, config.quota_probe_after);
        Ok(Self {
            config,
            http,
            tokens: TokenCache::default(),
            quota,
            requests: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Reads the credentials again through `reload` when Salesforce refuses them.
    pub fn with_credential_reload(
        mut self,
        reload: std::sync::Arc<dyn auth::CredentialReload>,
    ) -> Self {
        self.tokens = TokenCache::reloading(reload);
        self
    }

    pub fn config(&self) -> &SalesforceClientConfig {
        &self.config
    }

    /// API requests sent so far (every try of every call).
    pub fn requests(&self) -> u64 {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The latest `Sforce-Limit-Info` reading, if any answer carried one.
    pub fn api_usage(&self) -> Option<ApiUsage> {
        self.quota.last_usage()
    }

    /// Mints a token now (or returns the cached one): checks the credentials early.
    pub async fn connect(&self) -> Result<AccessToken, SalesforceError> {
        self.tokens.get(&self.http, &self.config).await
    }

    /// `/services/data/vXX.X` + `path`, on the token's instance.
    pub(crate) fn data_path(&self, path: &str) -> String {
        format!(
            "/services/data/{}{path}",
            self.config.api_version.path_segment()
        )
    }

    /// Sends one API call. `path` starts with `/` and is joined to the instance URL; `object` is
    /// what the call concerns (for error messages). Checks the quota guard before every try,
    /// re-mints the token once on 401, retries 429/5xx and transport errors with back-off,
    /// never retries 4xx.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Body,
        extra_headers: &[(&str, String)],
        object: Option<&str>,
    ) -> Result<Answer, SalesforceError> {
        let mut reminted = false;
        let mut attempt: u32 = 0;
        loop {
            self.quota.check()?;
            let token = self.tokens.get(&self.http, &self.config).await?;
            attempt += 1;
            let url = format!("{}{path}", token.instance_url);
            let mut request = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(token.token.expose());
            if !query.is_empty() {
                request = request.query(query);
            }
            for (name, value) in extra_headers {
                request = request.header(*name, value);
            }
            if let Body::Json(json) = &body {
                request = request.json(json);
            }
            self.requests
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let response = match request.send().await {
                Ok(response) => response,
                Err(e) => {
                    if attempt < self.config.retry.max_attempts {
                        tokio::time::sleep(self.config.retry.backoff(attempt)).await;
                        continue;
                    }
                    return Err(SalesforceError::Transport {
                        url: format!("{}{path}", token.instance_url),
                        message: e.without_url().to_string(),
                    });
                }
            };
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let usage = headers
                .get(LIMIT_INFO_HEADER)
                .and_then(|v| v.to_str().ok())
                .and_then(ApiUsage::parse_header);
            if let Some(usage) = usage {
                self.quota.observe(usage);
            }
            let text = response
                .text()
                .await
                .map_err(|e| SalesforceError::Decode(e.without_url().to_string()))?;
            if (200..300).contains(&status) {
                return Ok(Answer {
                    headers,
                    body: text,
                });
            }
            let error = classify(status, &text, object);
            match error {
                SalesforceError::Api { .. } | SalesforceError::SessionRejected if status == 401 => {
                    // Tokens have no refresh and no announced lifetime: mint once more, and if
                    // the new one is refused too, the app or user is at fault.
                    if reminted {
                        return Err(SalesforceError::SessionRejected);
                    }
                    reminted = true;
                    self.tokens.invalidate(&token).await;
                    continue;
                }
                SalesforceError::RequestLimitExceeded { .. } => {
                    return Err(SalesforceError::RequestLimitExceeded { usage });
                }
                _ if is_retryable_status(status) && attempt < self.config.retry.max_attempts => {
                    tokio::time::sleep(self.config.retry.backoff(attempt)).await;
                }
                other => return Err(other),
            }
        }
    }
}
