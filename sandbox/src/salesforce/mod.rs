//! A strict Salesforce stand-in served over real HTTP (contract: shared/reference/salesforce.md):
//! OAuth (client credentials, JWT bearer), describe, a SOQL subset through query/queryAll with
//! paging, sObject Collections retrieve, `/deleted`, Bulk API 2.0 query jobs, the daily API
//! allowance, injected faults, and the senders (outbound messages, CDC via EventBridge).
//!
//! `SalesforceSandbox::start(config)` binds a loopback port and serves in a background task; the
//! returned [`RunningSalesforceSandbox`] gives the base URL (both login host and instance URL) and
//! a [`SalesforceHandle`] to define objects, write records, move the clock, expire tokens, read
//! statistics and switch faults.

pub mod admin;
pub mod auth;
pub mod bulk;
pub mod clock;
pub mod errors;
pub mod gate;
pub mod ids;
pub mod limits;
pub mod rest;
pub mod schema;
pub mod senders;
pub mod soql;
pub mod state;
pub mod store;
pub mod test_keys;
pub mod tooling;
pub mod values;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use crate::hubspot::faults::FaultPlan;
pub use crate::hubspot::stats::StatsSnapshot;
pub use auth::{ClientCredentialsApp, JwtApp};
pub use bulk::JobState;
pub use errors::SfError;
pub use limits::ApiUsage;
pub use schema::{FieldDefinition, ObjectDefinition};
pub use state::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_JWT_CONSUMER_KEY, DEFAULT_ORG_ID,
    DEFAULT_USER_ID, SalesforceConfig,
};
pub use store::{ChangeType, RecordChange, StoredRecord};
pub use test_keys::{
    OTHER_RSA_PRIVATE_KEY_PEM, TEST_JWT_PRIVATE_KEY_PEM, TEST_JWT_PUBLIC_KEY_PEM, TEST_JWT_USERNAME,
};

use errors::lock;
use state::SfShared;

pub struct SalesforceSandbox;

impl SalesforceSandbox {
    pub async fn start(config: SalesforceConfig) -> std::io::Result<RunningSalesforceSandbox> {
        let listener =
            tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], config.port))).await?;
        let addr = listener.local_addr()?;
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let shared = Arc::new(SfShared::new(
            config,
            format!("http://{addr}"),
            shutdown_rx.clone(),
        ));
        let app = router(shared.clone());
        let mut stop = shutdown_rx;
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|stopped| *stopped).await;
                })
                .await
        });
        Ok(RunningSalesforceSandbox {
            addr,
            handle: SalesforceHandle { shared },
            shutdown_tx,
            task: Some(task),
        })
    }
}

/// All routes: the REST and Bulk API (behind the gate), the token endpoint and admin.
pub fn router(shared: Arc<SfShared>) -> Router {
    let data = "/services/data/{version}";
    let api: Router<Arc<SfShared>> = Router::new()
        .route(&format!("{data}/sobjects"), get(rest::describe_global))
        .route(&format!("{data}/sobjects/"), get(rest::describe_global))
        .route(
            &format!("{data}/sobjects/{{object}}/describe"),
            get(rest::describe),
        )
        .route(
            &format!("{data}/sobjects/{{object}}/describe/"),
            get(rest::describe),
        )
        .route(
            &format!("{data}/sobjects/{{object}}/deleted"),
            get(rest::deleted),
        )
        .route(
            &format!("{data}/sobjects/{{object}}/deleted/"),
            get(rest::deleted),
        )
        .route(&format!("{data}/query"), get(rest::query))
        .route(&format!("{data}/query/"), get(rest::query))
        .route(&format!("{data}/query/{{locator}}"), get(rest::query_more))
        .route(&format!("{data}/queryAll"), get(rest::query_all))
        .route(&format!("{data}/queryAll/"), get(rest::query_all))
        .route(
            &format!("{data}/queryAll/{{locator}}"),
            get(rest::query_more),
        )
        .route(
            &format!("{data}/composite/sobjects/{{object}}"),
            post(rest::retrieve),
        )
        .route(&format!("{data}/tooling/query"), get(tooling::query))
        .route(&format!("{data}/tooling/query/"), get(tooling::query))
        .route(
            &format!("{data}/tooling/sobjects/WorkflowOutboundMessage/{{id}}"),
            get(tooling::get_outbound_message),
        )
        .route(&format!("{data}/jobs/query"), post(bulk::create))
        .route(
            &format!("{data}/jobs/query/{{job}}"),
            get(bulk::get_job).patch(bulk::abort).delete(bulk::delete),
        )
        .route(
            &format!("{data}/jobs/query/{{job}}/results"),
            get(bulk::results),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            gate::gate,
        ));
    api.route("/services/oauth2/token", post(auth::token))
        .merge(admin::router())
        .with_state(shared)
}

/// A served sandbox; stops serving on [`RunningSalesforceSandbox::shutdown`] or when dropped.
pub struct RunningSalesforceSandbox {
    addr: SocketAddr,
    handle: SalesforceHandle,
    shutdown_tx: watch::Sender<bool>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl RunningSalesforceSandbox {
    /// `http://127.0.0.1:PORT`: login host, My Domain and instance URL at once.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn handle(&self) -> SalesforceHandle {
        self.handle.clone()
    }

    /// Stops accepting, ends hanging requests, and waits (≤5 s) for the server task.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown_tx.send(true);
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for RunningSalesforceSandbox {
    fn drop(&mut self) {
        let _ = self.shutdown_tx.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn as_fields(fields: Value) -> Result<Map<String, Value>, SfError> {
    match fields {
        Value::Object(map) => Ok(map),
        _ => Err(SfError::bad_request(
            "JSON_PARSER_ERROR",
            "record fields must be a JSON object",
        )),
    }
}

/// Test access to the org: objects, records, clock, tokens, API usage, faults and statistics.
#[derive(Clone, Debug)]
pub struct SalesforceHandle {
    shared: Arc<SfShared>,
}

impl SalesforceHandle {
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    pub fn org_id(&self) -> String {
        self.shared.config.org_id.clone()
    }

    pub fn user_id(&self) -> String {
        self.shared.config.user_id.clone()
    }

    pub fn define_object(&self, definition: ObjectDefinition) -> Result<(), SfError> {
        lock(&self.shared.org)?.define_object(definition)
    }

    /// Adds an active value to a picklist field, as an admin does in Setup.
    pub fn add_picklist_value(
        &self,
        object: &str,
        field: &str,
        value: &str,
    ) -> Result<(), SfError> {
        lock(&self.shared.org)?.add_picklist_value(object, field, value)
    }

    pub fn object_definition(&self, object: &str) -> Option<ObjectDefinition> {
        let org = self.shared.org.lock().ok()?;
        org.table(object).map(|t| t.definition.clone())
    }

    /// Creates a record from a JSON object of field values; returns its 18-character id.
    pub fn create(&self, object: &str, fields: Value) -> Result<String, SfError> {
        lock(&self.shared.org)?.create(object, &as_fields(fields)?)
    }

    /// Creates one record per JSON object, in order.
    pub fn create_many(&self, object: &str, records: Vec<Value>) -> Result<Vec<String>, SfError> {
        let mut org = lock(&self.shared.org)?;
        records
            .into_iter()
            .map(|fields| org.create(object, &as_fields(fields)?))
            .collect()
    }

    pub fn update(&self, object: &str, id: &str, fields: Value) -> Result<(), SfError> {
        lock(&self.shared.org)?.update(object, id, &as_fields(fields)?)
    }

    /// Soft-deletes (to the recycle bin): visible to queryAll, `/deleted` and CDC.
    pub fn delete(&self, object: &str, id: &str) -> Result<(), SfError> {
        lock(&self.shared.org)?.delete(object, id)
    }

    pub fn undelete(&self, object: &str, id: &str) -> Result<(), SfError> {
        lock(&self.shared.org)?.undelete(object, id)
    }

    /// Defines (or redefines) an outbound-message action, as an admin does in Setup: the Tooling
    /// API then serves it, and its notifications carry its id as `ActionId`.
    pub fn define_outbound_message(
        &self,
        definition: tooling::OutboundMessageDefinition,
    ) -> Result<(), SfError> {
        let mut org = lock(&self.shared.org)?;
        org.table_or_err(&definition.object)?;
        let key = ids::normalize(&definition.id).ok_or_else(|| {
            SfError::bad_request("MALFORMED_ID", format!("malformed id {}", definition.id))
        })?;
        org.outbound_messages.insert(key, definition);
        Ok(())
    }

    /// Stops (or starts again) sharing a record with the integration user: its API reads then
    /// leave it out as if it did not exist (platform-behaviours.md S5).
    pub fn set_hidden(&self, object: &str, id: &str, hidden: bool) -> Result<(), SfError> {
        lock(&self.shared.org)?.set_hidden(object, id, hidden)
    }

    /// A change by an automated process: `SystemModstamp` moves, `LastModifiedDate` does not.
    pub fn touch_system_modstamp(&self, object: &str, id: &str) -> Result<(), SfError> {
        lock(&self.shared.org)?.touch_system(object, id)
    }

    /// A record by id (15 or 18 characters), deleted ones included.
    pub fn record(&self, object: &str, id: &str) -> Result<Option<StoredRecord>, SfError> {
        let org = lock(&self.shared.org)?;
        let table = org.table_or_err(object)?;
        Ok(ids::normalize(id).and_then(|id| table.records.get(&id).cloned()))
    }

    /// Every record of an object in id order, deleted ones included.
    pub fn records(&self, object: &str) -> Result<Vec<StoredRecord>, SfError> {
        let org = lock(&self.shared.org)?;
        Ok(org
            .table_or_err(object)?
            .records
            .values()
            .cloned()
            .collect())
    }

    /// The org clock (record stamps).
    pub fn now(&self) -> DateTime<Utc> {
        self.shared
            .org
            .lock()
            .map(|o| o.clock.now())
            .unwrap_or_else(|_| Utc::now())
    }

    pub fn advance_clock(&self, by: TimeDelta) -> Result<DateTime<Utc>, SfError> {
        let mut org = lock(&self.shared.org)?;
        org.clock.advance(by);
        Ok(org.clock.now())
    }

    /// Changes logged after `after_sequence` (0 = all).
    pub fn changes_after(&self, after_sequence: u64) -> Vec<RecordChange> {
        self.shared
            .org
            .lock()
            .map(|o| {
                o.changes
                    .iter()
                    .filter(|c| c.sequence > after_sequence)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Replaces the consumer secret of client-credentials app `client_id`: the old one is
    /// refused from now on; access tokens already issued stay valid until they expire.
    pub fn rotate_client_secret(&self, client_id: &str, secret: &str) -> Result<(), SfError> {
        lock(&self.shared.rotated_client_secrets)?.insert(client_id.to_owned(), secret.to_owned());
        Ok(())
    }

    /// Mints an access token directly (no OAuth round trip).
    pub fn issue_token(&self) -> Result<String, SfError> {
        Ok(lock(&self.shared.tokens)?.issue())
    }

    pub fn expire_token(&self, token: &str) -> Result<bool, SfError> {
        Ok(lock(&self.shared.tokens)?.expire(token))
    }

    /// Expires every access token issued so far; returns how many.
    pub fn expire_all_tokens(&self) -> Result<usize, SfError> {
        Ok(lock(&self.shared.tokens)?.expire_all())
    }

    pub fn set_token_lifetime(&self, lifetime: Duration) -> Result<(), SfError> {
        lock(&self.shared.tokens)?.set_lifetime(lifetime);
        Ok(())
    }

    pub fn api_usage(&self) -> Result<ApiUsage, SfError> {
        Ok(*lock(&self.shared.usage)?)
    }

    /// Sets calls used today and the daily allowance.
    pub fn set_api_usage(&self, usage: ApiUsage) -> Result<(), SfError> {
        *lock(&self.shared.usage)? = usage;
        Ok(())
    }

    /// Forgets open query cursors: their `nextRecordsUrl`s then answer `INVALID_QUERY_LOCATOR`.
    pub fn expire_query_cursors(&self) -> Result<(), SfError> {
        lock(&self.shared.cursors)?.clear();
        Ok(())
    }

    pub fn bulk_job_state(&self, job_id: &str) -> Result<Option<JobState>, SfError> {
        Ok(lock(&self.shared.jobs)?.get(job_id).map(|j| j.state))
    }

    /// Makes a bulk job fail with `message`, as a job Salesforce gave up on.
    pub fn fail_bulk_job(&self, job_id: &str, message: &str) -> Result<bool, SfError> {
        Ok(lock(&self.shared.jobs)?.fail(job_id, message))
    }

    pub fn stats(&self) -> Result<StatsSnapshot, SfError> {
        Ok(lock(&self.shared.stats)?.snapshot())
    }

    pub fn reset_stats(&self) -> Result<(), SfError> {
        *lock(&self.shared.stats)? = crate::hubspot::stats::RequestStats::default();
        Ok(())
    }

    pub fn faults(&self) -> Result<FaultPlan, SfError> {
        Ok(lock(&self.shared.faults)?.plan().clone())
    }

    pub fn set_faults(&self, plan: FaultPlan) -> Result<(), SfError> {
        lock(&self.shared.faults)?.set_plan(plan);
        Ok(())
    }

    pub fn clear_faults(&self) -> Result<(), SfError> {
        self.set_faults(FaultPlan::default())
    }
}
