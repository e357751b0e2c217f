//! `sf2hs serve`: the whole pipeline in one process on the embedded store and queue. An HTTP
//! server takes outbound messages (`POST /outbound/<token>`) and EventBridge-shaped CDC /
//! platform events (`POST /events`) with the same handlers as the ingest Lambda; worker tasks
//! drain the queue with the worker Lambda's core. Settings and secrets are the Lambdas' (the
//! same `SF2HS_*` variables); secret values come from `SF2HS_SECRET_<NAME>` variables or files in
//! `--secrets-dir`.
//!
//! Ctrl-C (or SIGTERM) stops taking requests, lets in-flight requests and batches finish, and
//! exits: a change acknowledged is on the durable queue, and a batch cut short is delivered again.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use sf2hs_shared::embedded::LocalSecrets;
use sf2hs_shared::hubspot::HubSpotClient;
use sf2hs_shared::ingest::{self, IngestError, IngestSettings};
use sf2hs_shared::ports::ChangeQueue;
use sf2hs_shared::salesforce::client::SalesforceClient;
use sf2hs_shared::settings::{self, Lookup};
use sf2hs_shared::worker::{Worker, WorkerPorts, WorkerSettings, drain_once, drain_paced};
use tokio::sync::watch;

use crate::backend::Backend;
use crate::output::CliError;

/// How `serve` runs.
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub workers: usize,
    pub secrets_dir: Option<PathBuf>,
}

/// The wait after finding the queue empty.
const IDLE: Duration = Duration::from_millis(100);

struct Server {
    settings: IngestSettings,
    queue: Arc<dyn ChangeQueue>,
    mappings: Arc<dyn sf2hs_shared::ports::MappingStore>,
    /// Worker tasks still running, of `workers_started`.
    workers_alive: Arc<AtomicUsize>,
    workers_started: usize,
    /// Re-syncs Salesforce asks for, stored as running import jobs (the re-sync runner runs
    /// them).
    resyncs: sf2hs_shared::import::ResyncJobs,
}

fn setup(e: impl std::error::Error + Send + Sync + 'static) -> CliError {
    CliError::failed(e)
}

/// What the local pipeline runs with: the ingest settings and the two clients.
pub struct Clients {
    pub ingest: IngestSettings,
    pub hubspot: Arc<HubSpotClient>,
    pub salesforce: Arc<SalesforceClient>,
    pub worker: WorkerSettings,
}

impl Clients {
    /// From the Lambdas' variables (read through `lookup`), with secret values from `secrets`.
    pub async fn from_env(secrets: &LocalSecrets, lookup: Lookup<'_>) -> Result<Self, CliError> {
        settings::require_all(lookup, settings::PIPELINE_REQUIRED).map_err(setup)?;
        let ingest = settings::ingest_settings(lookup, Arc::new(secrets.clone()))
            .await
            .map_err(setup)?;
        let (salesforce, hubspot) = super::remote_clients(secrets, lookup).await?;
        Ok(Clients {
            ingest,
            hubspot: Arc::new(hubspot),
            salesforce: Arc::new(salesforce),
            worker: settings::worker_settings(lookup).map_err(setup)?,
        })
    }
}

/// The local pipeline, running: an HTTP server and worker tasks.
pub struct Running {
    pub address: SocketAddr,
    stop: watch::Sender<bool>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    workers: Workers,
}

impl Running {
    /// Stops taking requests, lets requests and batches in flight finish, and waits for them.
    pub async fn stop(self) -> Result<(), CliError> {
        let _ = self.stop.send(true);
        self.workers.stop().await;
        match self.server.await {
            Ok(result) => result.map_err(setup),
            Err(e) => Err(setup(e)),
        }
    }
}

/// Worker tasks draining the embedded queue; `stop` ends them after their batch in flight.
pub struct Workers {
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// How many of the worker tasks are running (a task that ended or panicked is not).
    alive: Arc<AtomicUsize>,
    started: usize,
}

/// Counts a worker task as running for as long as it lives, however it ends.
struct AliveGuard(Arc<AtomicUsize>);

impl AliveGuard {
    fn new(alive: &Arc<AtomicUsize>) -> Self {
        alive.fetch_add(1, Ordering::SeqCst);
        AliveGuard(alive.clone())
    }
}

impl Drop for AliveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Workers {
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Starts `count` worker tasks with the worker Lambda's core; `verbose` prints each batch.
pub fn spawn_workers(
    backend: &Backend,
    hubspot: Arc<HubSpotClient>,
    salesforce: Arc<SalesforceClient>,
    settings: WorkerSettings,
    count: usize,
    verbose: bool,
) -> Workers {
    let queue = backend.queue.clone();
    let visibility = settings.local_visibility;
    let window = settings.local_batch_window;
    // The window is the longest a batch gathers; within it the portal's budget paces the
    // batches (`BatchPacer`). A window of 0 writes what is there at once.
    let pacer = (!window.is_zero()).then(|| {
        Arc::new(sf2hs_shared::worker::BatchPacer::new(
            Box::new(hubspot.rate_limiter().clone()),
            sf2hs_shared::worker::LIVE_SHARE,
            window,
        ))
    });
    let worker = Arc::new(Worker::new(
        WorkerPorts {
            mappings: backend.mappings.clone(),
            index: backend.index.clone(),
            log: backend.log.clone(),
            jobs: backend.jobs.clone(),
            queue: queue.clone(),
            hubspot,
            salesforce,
        },
        settings,
    ));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    let alive = Arc::new(AtomicUsize::new(0));
    for n in 0..count.max(1) {
        let worker = worker.clone();
        let queue = queue.clone();
        let mut stop = stop_rx.clone();
        let guard = AliveGuard::new(&alive);
        let pacer = pacer.clone();
        tasks.push(tokio::spawn(async move {
            let _alive = guard;
            while !*stop.borrow() {
                let drained = match &pacer {
                    Some(pacer) => {
                        drain_paced(&worker, queue.as_ref(), 100, visibility, pacer).await
                    }
                    None => drain_once(&worker, queue.as_ref(), 100, visibility, window).await,
                };
                match drained {
                    Ok(report) if report.received > 0 => {
                        if verbose {
                            out!(
                                "worker {n}: {} change(s): {} done, {} to retry, {} dead-lettered",
                                report.received,
                                report.done,
                                report.retried,
                                report.dead_lettered
                            );
                        }
                    }
                    Ok(_) => {
                        tokio::select! {
                            _ = tokio::time::sleep(IDLE) => {}
                            _ = stop.changed() => {}
                        }
                    }
                    Err(e) => {
                        tracing::warn!(worker = n, error = %e, "a batch failed; retrying in 1 s");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        }));
    }
    Workers {
        stop: stop_tx,
        tasks,
        alive,
        started: count.max(1),
    }
}

/// How often the re-sync runner looks for re-syncs to run.
const RESYNC_POLL: Duration = Duration::from_secs(2);

/// Runs the re-syncs Salesforce asked for (running import jobs with a window start), each to
/// its end or for a minute at a time, until `stop`. The workers write what it sends.
fn spawn_resync_runner(
    backend: &Backend,
    clients: &Clients,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let importer = sf2hs_shared::import::Importer {
        mappings: backend.mappings.clone(),
        jobs: backend.jobs.clone(),
        queue: backend.backfill.clone(),
        pages: clients.salesforce.clone(),
        org_id: clients.ingest.org_id.clone(),
        files: None,
    };
    tokio::spawn(async move {
        while !*stop.borrow() {
            let resyncs = importer.jobs.list().await.unwrap_or_default();
            for job in resyncs
                .into_iter()
                .filter(sf2hs_shared::ports::ImportJob::is_open_resync)
            {
                let deadline = std::time::Instant::now() + Duration::from_secs(60);
                match importer.run(&job.id, deadline).await {
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(job = %job.id, object = %job.salesforce_object, error = %e, "a re-sync stopped; it is tried again")
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(RESYNC_POLL) => {}
                _ = stop.changed() => {}
            }
        }
    })
}

/// Starts the server on `listen` and `workers` worker tasks; `verbose` prints each batch.
pub async fn start(
    backend: &Backend,
    clients: &Clients,
    listen: SocketAddr,
    workers: usize,
    verbose: bool,
) -> Result<Running, CliError> {
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        CliError::caused(
            format!("cannot listen on {listen}: {e}; choose another with --listen"),
            e,
        )
    })?;
    let address = listener.local_addr().map_err(setup)?;
    let mut workers = spawn_workers(
        backend,
        clients.hubspot.clone(),
        clients.salesforce.clone(),
        clients.worker.clone(),
        workers,
        verbose,
    );
    workers.tasks.push(spawn_resync_runner(
        backend,
        clients,
        workers.stop.subscribe(),
    ));
    // The events endpoint's sender proved itself with the endpoint token, so a CometD envelope
    // (no EventBridge `source`) is taken as from the configured org; an EventBridge event must
    // still come from the org's Event Relay source.
    let mut ingest_settings = clients.ingest.clone();
    ingest_settings.events.accept_unsourced = true;
    let server = Arc::new(Server {
        settings: ingest_settings,
        queue: backend.queue.clone(),
        mappings: backend.mappings.clone(),
        workers_alive: workers.alive.clone(),
        workers_started: workers.started,
        resyncs: sf2hs_shared::import::ResyncJobs {
            jobs: backend.jobs.clone(),
            continuation: None,
        },
    });
    // Bodies up to the setting reach the handlers (axum's own default is 2 MiB); larger ones
    // are refused before they are read whole.
    let body_limit = clients.ingest.max_body_bytes;
    // The console, behind the endpoint token (the same credential as /events).
    let console = crate::console::Console::new(backend, Some(clients.ingest.org_id.clone()))
        .with_salesforce(clients.salesforce.clone())
        .with_hubspot(clients.hubspot.clone())
        .mounted("/console", clients.ingest.endpoint_token.clone());
    let app = Router::new()
        .route("/outbound/{token}", post(outbound))
        .route("/events", post(event))
        .route("/healthz", get(healthz))
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .with_state(server)
        .nest("/console", console.router())
        // `/console/` too: what a person types.
        .route(
            "/console/",
            get(|| async { axum::response::Redirect::permanent("/console") }),
        );
    let (stop_tx, mut shutdown) = watch::channel(false);
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = shutdown.changed().await;
            })
            .await
    });
    Ok(Running {
        address,
        stop: stop_tx,
        server,
        workers,
    })
}

pub async fn serve(
    backend: &mut Backend,
    options: ServeOptions,
    lookup: Lookup<'_>,
) -> Result<std::process::ExitCode, CliError> {
    use sf2hs_shared::embedded::ProcessRole;

    let clients = Clients::from_env(&LocalSecrets::new(options.secrets_dir), lookup).await?;
    // Registered first: what a killed serve held is delivered again now, not after the
    // visibility timeout.
    let registration = backend.register(ProcessRole::Serve).await?;
    let owner = registration.as_ref().map(|r| r.info.owner.clone());
    let importers = backend
        .live_processes(ProcessRole::ImportWorkers, owner.as_deref())
        .await?;
    if let Some(import) = importers.first() {
        if let Some(registration) = registration {
            registration.end().await;
        }
        return Err(CliError::Setup(format!(
            "a local import (pid {}) writes HubSpot from this data directory with workers of its \
             own, and two writers together would exceed the portal's rate limit. Let it finish \
             (`sf2hs import list`), or stop it with Ctrl-C and start serve first: `sf2hs import \
             resume ID` then only sends its records and serve writes them",
            import.pid
        )));
    }
    let running = start(backend, &clients, options.listen, options.workers, true).await?;
    let address = running.address;
    out!("sf2hs serve: listening on http://{address}");
    out!("  outbound messages: POST http://{address}/outbound/<token>");
    out!("  CDC / platform events (EventBridge shape): POST http://{address}/events");
    out!(
        "  {} worker task(s) on {}",
        options.workers.max(1),
        backend.location
    );
    wait_for_signal().await;
    out!("sf2hs serve: stopping; finishing requests and batches in flight");
    running.stop().await?;
    if let Some(registration) = registration {
        registration.end().await;
    }
    out!("sf2hs serve: stopped");
    Ok(std::process::ExitCode::SUCCESS)
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `GET /healthz`: 200 when the store and queue answer and every worker task runs, else 503
/// with what is wrong. No credential: it shows counts, never record data or secrets.
async fn healthz(State(server): State<Arc<Server>>) -> Response {
    let store = match server.mappings.list().await {
        Ok(mappings) => json!({ "ok": true, "mappings": mappings.len() }),
        Err(e) => json!({ "ok": false, "error": e.to_string() }),
    };
    let queue = match server.queue.depth().await {
        Ok(depth) => json!({
            "ok": true,
            "visible": depth.visible,
            "inFlight": depth.in_flight,
            "delayed": depth.delayed,
            "deadLetters": depth.dead,
        }),
        Err(e) => json!({ "ok": false, "error": e.to_string() }),
    };
    let alive = server.workers_alive.load(Ordering::SeqCst);
    let workers = json!({
        "ok": alive == server.workers_started,
        "alive": alive,
        "started": server.workers_started,
    });
    let refusals: Vec<_> = sf2hs_shared::metrics::refusals()
        .into_iter()
        .map(|(entry, reason, count)| {
            json!({ "entryPoint": entry.as_str(), "reason": reason, "count": count })
        })
        .collect();
    let healthy = [&store, &queue, &workers]
        .iter()
        .all(|part| part["ok"] == json!(true));
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(json!({
            "status": if healthy { "ok" } else { "failing" },
            "store": store,
            "queue": queue,
            "workers": workers,
            "refusals": refusals,
        })),
    )
        .into_response()
}

async fn outbound(
    State(server): State<Arc<Server>>,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    let answer = ingest::outbound_message(
        &server.settings,
        server.queue.as_ref(),
        Some(&token),
        &body,
        chrono::Utc::now(),
    )
    .await;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, answer.content_type)],
        answer.body,
    )
        .into_response()
}

async fn event(
    State(server): State<Arc<Server>>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    use sf2hs_shared::salesforce::intake::auth;
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let (api_key, authorization) = (
        text(auth::EVENTS_TOKEN_HEADER),
        text(header::AUTHORIZATION.as_str()),
    );
    match server
        .settings
        .endpoint_token
        .check(|expected| auth::check_events_credential(api_key, authorization, expected))
        .await
    {
        Ok(()) => {}
        Err(ingest::CredentialRefused::Refused(refused)) => {
            tracing::warn!(reason = %refused, "event refused");
            sf2hs_shared::metrics::refused(sf2hs_shared::metrics::EntryPoint::Events, "token");
            return (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({
                    "error": format!(
                        "{refused}: send it in the {} header (an EventBridge API destination \
                         connection with API-key authorization) or as the basic-auth password",
                        auth::EVENTS_TOKEN_HEADER
                    )
                })),
            )
                .into_response();
        }
        Err(unavailable) => {
            tracing::error!(reason = %unavailable, "event refused: no endpoint token");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({ "error": unavailable.to_string() })),
            )
                .into_response();
        }
    }
    let value: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({ "error": format!("the body is not JSON: {e}") })),
            )
                .into_response();
        }
    };
    match ingest::change_event(
        &server.settings,
        server.queue.as_ref(),
        Some(&server.resyncs),
        &value,
        chrono::Utc::now(),
    )
    .await
    {
        Ok(ingested) => axum::Json(ingested.to_json()).into_response(),
        Err(e @ IngestError::Refused(_)) => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": e.to_string() })),
        )
            .into_response(),
        Err(e @ (IngestError::Queue(_) | IngestError::Resync { .. })) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({ "error": e.to_string() })),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `/healthz` counts worker tasks through their guards: a task that ends, even by a panic,
    /// is no longer alive.
    #[tokio::test]
    async fn a_worker_task_that_panics_is_no_longer_counted_alive() {
        let alive = Arc::new(AtomicUsize::new(0));
        let steady = AliveGuard::new(&alive);
        let doomed = AliveGuard::new(&alive);
        assert_eq!(alive.load(Ordering::SeqCst), 2);
        let task = tokio::spawn(async move {
            let _alive = doomed;
            panic!("a worker task fails");
        });
        assert!(task.await.is_err(), "the task panicked");
        assert_eq!(alive.load(Ordering::SeqCst), 1);
        drop(steady);
        assert_eq!(alive.load(Ordering::SeqCst), 0);
    }
}
