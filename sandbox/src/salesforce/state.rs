//! Configuration and the state every handler reaches through axum's `State`.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::watch;

use super::auth::{ClientCredentialsApp, JwtApp, TokenRegistry};
use super::bulk::BulkJobs;
use super::clock::OrgClock;
use super::limits::ApiUsage;
use super::rest::CursorStore;
use super::store::OrgData;
use super::test_keys::{TEST_JWT_PUBLIC_KEY_PEM, TEST_JWT_USERNAME};
use crate::hubspot::faults::{FaultEngine, FaultPlan};
use crate::hubspot::stats::RequestStats;

pub const DEFAULT_ORG_ID: &str = "00Dak0000001gPFEAY";
pub const DEFAULT_USER_ID: &str = "005ak000005hvjJAAQ";
pub const DEFAULT_CLIENT_ID: &str = "3MVG9sandbox.client.credentials";
pub const DEFAULT_CLIENT_SECRET: &str = "sandbox-client-secret";
pub const DEFAULT_JWT_CONSUMER_KEY: &str = "3MVG9sandbox.jwt.bearer";

#[derive(Debug, Clone)]
pub struct SalesforceConfig {
    /// 0 picks a free port.
    pub port: u16,
    /// Seeds the fault draws and the senders' delivery order.
    pub seed: u64,
    pub org_id: String,
    /// The integration ("run as") user: `CreatedById`, `LastModifiedById`, `commitUser`.
    pub user_id: String,
    pub client_credentials_apps: Vec<ClientCredentialsApp>,
    pub jwt_apps: Vec<JwtApp>,
    /// Accepted JWT `aud` values: the login hosts, never My Domain (salesforce.md §4.1).
    pub jwt_audiences: Vec<String>,
    /// Access-token lifetime (the org's session timeout).
    pub token_lifetime: Duration,
    /// Served API versions, inclusive (`v31.0` … `v66.0`).
    pub min_api_version: f64,
    pub max_api_version: f64,
    /// Daily API request allowance (`Sforce-Limit-Info`'s MAX).
    pub daily_api_limit: u64,
    /// Where the org clock starts; `None` = now.
    pub clock_start: Option<DateTime<Utc>>,
    /// How far the org clock (and so `SystemModstamp`) moves when a stamp is full.
    pub clock_step: TimeDelta,
    /// How many changes share one stamp (whole seconds, as Salesforce's: platform-behaviours.md
    /// S1). 1 gives every change a stamp of its own, which Salesforce does not promise.
    pub changes_per_stamp: u32,
    /// REST query page size when the client asks for none (Salesforce: 2,000).
    pub default_query_batch_size: usize,
    /// Bulk job polls answered `InProgress` before the job reports `JobComplete`.
    pub bulk_polls_in_progress: u32,
    /// Bulk results page size when `maxRecords` is absent.
    pub bulk_default_max_records: usize,
    pub faults: FaultPlan,
}

/// Changes that share one stamp by default: a burst of changes within one second, as an org
/// with automation or a data load makes them.
pub const DEFAULT_CHANGES_PER_STAMP: u32 = 10;

impl Default for SalesforceConfig {
    fn default() -> Self {
        Self {
            port: 0,
            seed: 0,
            org_id: DEFAULT_ORG_ID.into(),
            user_id: DEFAULT_USER_ID.into(),
            client_credentials_apps: vec![ClientCredentialsApp {
                client_id: DEFAULT_CLIENT_ID.into(),
                client_secret: DEFAULT_CLIENT_SECRET.into(),
            }],
            jwt_apps: vec![JwtApp {
                consumer_key: DEFAULT_JWT_CONSUMER_KEY.into(),
                public_key_pem: TEST_JWT_PUBLIC_KEY_PEM.into(),
                authorized_usernames: vec![TEST_JWT_USERNAME.into()],
            }],
            jwt_audiences: vec![
                "https://login.salesforce.com".into(),
                "https://test.salesforce.com".into(),
            ],
            token_lifetime: Duration::from_secs(2 * 60 * 60),
            min_api_version: 31.0,
            max_api_version: 66.0,
            daily_api_limit: 100_000,
            clock_start: None,
            clock_step: TimeDelta::seconds(1),
            changes_per_stamp: DEFAULT_CHANGES_PER_STAMP,
            default_query_batch_size: 2_000,
            bulk_polls_in_progress: 2,
            bulk_default_max_records: 50_000,
            faults: FaultPlan::default(),
        }
    }
}

/// State shared by all handlers; each part has its own std mutex, never held across `.await`.
#[derive(Debug)]
pub struct SfShared {
    pub config: SalesforceConfig,
    /// `http://127.0.0.1:PORT`: the `instance_url` tokens name.
    pub base_url: String,
    pub org: Mutex<OrgData>,
    pub tokens: Mutex<TokenRegistry>,
    pub usage: Mutex<ApiUsage>,
    pub faults: Mutex<FaultEngine>,
    pub stats: Mutex<RequestStats>,
    pub cursors: Mutex<CursorStore>,
    pub jobs: Mutex<BulkJobs>,
    /// Consumer secrets an admin replaced (Setup > App Manager > Manage Consumer Details), by
    /// client id: from then on only the new one is taken.
    pub rotated_client_secrets: Mutex<std::collections::HashMap<String, String>>,
    pub shutdown: watch::Receiver<bool>,
}

impl SfShared {
    pub fn new(
        config: SalesforceConfig,
        base_url: String,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let clock = OrgClock::new(
            config.clock_start.unwrap_or_else(Utc::now),
            config.clock_step,
            config.changes_per_stamp,
        );
        Self {
            base_url,
            org: Mutex::new(OrgData::new(
                config.org_id.clone(),
                config.user_id.clone(),
                clock,
            )),
            tokens: Mutex::new(TokenRegistry::new(config.token_lifetime, &config.org_id)),
            usage: Mutex::new(ApiUsage::new(config.daily_api_limit)),
            faults: Mutex::new(FaultEngine::new(config.faults.clone(), config.seed)),
            stats: Mutex::new(RequestStats::default()),
            cursors: Mutex::new(CursorStore::default()),
            jobs: Mutex::new(BulkJobs::default()),
            rotated_client_secrets: Mutex::new(std::collections::HashMap::new()),
            shutdown,
            config,
        }
    }
}
