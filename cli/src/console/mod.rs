//! The Sync Health console: server-rendered pages over the same ports the CLI reads (the
//! embedded store, or a deployed stack's table and queues). `sf2hs console` serves it alone;
//! `sf2hs serve` mounts it at `/console` behind the endpoint token.
//!
//! No JavaScript: a group expands with `<details>`, every action is a form, and every action
//! that changes something asks for a confirmation first. POSTs are taken only from the
//! console's own pages (`Sec-Fetch-Site` / `Origin`), so a page elsewhere cannot make a
//! logged-in browser act.

mod auth;
mod imports;
mod mappings;
mod pages;
mod wizard;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::backend::NamedQueue;
use sf2hs_shared::domain::SalesforceId;
use sf2hs_shared::ingest::EndpointToken;
use sf2hs_shared::ports::{ChangeQueue, ImportJobs, MappingStore, RecordIndex, SyncLog};

pub use auth::ConsoleAuth;

/// What checks mappings against the live schemas.
type Schemas = sf2hs_shared::hubspot::HubSpotSchemaSource<
    Arc<sf2hs_shared::salesforce::client::SalesforceClient>,
>;

/// What the console reads and acts on.
#[derive(Clone)]
pub struct Console {
    pub mappings: Arc<dyn MappingStore>,
    pub index: Arc<dyn RecordIndex>,
    pub jobs: Arc<dyn ImportJobs>,
    pub log: Arc<dyn SyncLog>,
    /// Where resyncs go.
    pub queue: Arc<dyn ChangeQueue>,
    /// Where imported records go (the backfill queue, or the local queue's backfill line).
    pub backfill: Arc<dyn ChangeQueue>,
    /// Salesforce, when the credentials are configured: imports are counted and sent from here,
    /// and a record's values are read live.
    pub salesforce: Option<Arc<sf2hs_shared::salesforce::client::SalesforceClient>>,
    /// HubSpot, when the credentials are configured: a record's values are read live.
    pub hubspot: Option<Arc<sf2hs_shared::hubspot::HubSpotClient>>,
    /// Whether imports run in this process (the embedded backend); on AWS the import function
    /// runs them (`sf2hs import start`).
    pub local_imports: bool,
    /// Where an import through HubSpot's Imports API writes its file (the data directory).
    pub work_dir: Option<std::path::PathBuf>,
    /// Imports this process is sending now.
    pub sending: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    /// Every queue, live first: depths and dead letters.
    pub queues: Vec<NamedQueue>,
    /// The org resyncs are tagged with (`SF2HS_ORG_ID`); without it, resync says what to set.
    pub org_id: Option<SalesforceId>,
    /// The store's name, for the page footer.
    pub location: String,
    /// Where the pages live (`""` alone, `/console` in serve): links are built from it.
    pub base: String,
    pub auth: ConsoleAuth,
}

impl Console {
    pub fn new(backend: &crate::backend::Backend, org_id: Option<SalesforceId>) -> Self {
        Console {
            mappings: backend.mappings.clone(),
            index: backend.index.clone(),
            jobs: backend.jobs.clone(),
            log: backend.log.clone(),
            queue: backend.queue.clone(),
            backfill: backend.backfill.clone(),
            salesforce: None,
            hubspot: None,
            local_imports: matches!(backend.imports, crate::backend::Imports::Local),
            work_dir: backend.work_dir.clone(),
            sending: Arc::default(),
            queues: backend.queues.clone(),
            org_id,
            location: backend.location.clone(),
            base: String::new(),
            auth: ConsoleAuth::None,
        }
    }

    /// With the Salesforce client: imports can be counted, started and resumed here.
    pub fn with_salesforce(
        mut self,
        salesforce: Arc<sf2hs_shared::salesforce::client::SalesforceClient>,
    ) -> Self {
        self.salesforce = Some(salesforce);
        self
    }

    /// With the HubSpot client: a record's HubSpot values are shown beside Salesforce's.
    pub fn with_hubspot(mut self, hubspot: Arc<sf2hs_shared::hubspot::HubSpotClient>) -> Self {
        self.hubspot = Some(hubspot);
        self
    }

    /// Mounted under `base` (no trailing slash), behind the endpoint token.
    pub fn mounted(mut self, base: &str, token: EndpointToken) -> Self {
        self.base = base.trim_end_matches('/').to_owned();
        self.auth = ConsoleAuth::Token(token);
        self
    }

    /// The live Salesforce describe and HubSpot schemas, when both credentials are configured.
    fn schemas(&self) -> Option<Schemas> {
        Some(sf2hs_shared::hubspot::HubSpotSchemaSource::new(
            self.salesforce.clone()?,
            (*self.hubspot.clone()?).clone(),
        ))
    }

    /// Back to page `path` (relative to the base), which says `said`.
    fn back_to(&self, path: &str, said: &str) -> axum::response::Response {
        use axum::response::IntoResponse;
        let said = serde_urlencoded::to_string([("said", said)]).unwrap_or_default();
        axum::response::Redirect::to(&format!("{}{path}?{said}", self.base)).into_response()
    }

    /// The console's routes, relative to its base.
    pub fn router(self) -> Router {
        let console = Arc::new(self);
        Router::new()
            .route("/", get(pages::overview))
            .route("/health", get(pages::health))
            .route("/record", get(pages::record))
            .route("/resync", post(pages::resync))
            .route("/dead-letters", get(pages::dead_letters))
            .route("/dead-letters/replay", post(pages::replay))
            .route("/imports", get(pages::imports))
            .route("/mappings", get(pages::mappings))
            .route("/mappings/check", get(mappings::check))
            .route("/mappings/activate", post(mappings::activate))
            .route("/mappings/pause", post(mappings::pause))
            .route("/mappings/new", get(wizard::objects))
            .route("/mappings/new/fields", get(wizard::fields))
            .route("/mappings/new/create", post(wizard::create))
            .route("/mappings/new/review", post(wizard::review))
            .route("/mappings/new/download", post(wizard::download))
            .route("/mappings/new/save", post(wizard::save))
            .route("/imports/start", post(imports::start))
            .route("/imports/run", post(imports::run))
            .route("/imports/cancel", post(imports::cancel))
            .layer(axum::middleware::from_fn_with_state(
                console.clone(),
                auth::guard,
            ))
            .with_state(console)
    }
}

/// Serves the console on `listen` until Ctrl-C.
pub async fn run(console: Console, listen: SocketAddr) -> Result<(), crate::output::CliError> {
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        crate::output::CliError::caused(
            format!("cannot listen on {listen}: {e}; choose another with --listen"),
            e,
        )
    })?;
    let address = listener
        .local_addr()
        .map_err(crate::output::CliError::failed)?;
    out!("sf2hs console: http://{address}/");
    axum::serve(listener, console.router())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(crate::output::CliError::failed)
}
