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
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use sf2hs_shared::embedded::LocalSecrets;
use sf2hs_shared::ingest::{self, IngestError, IngestSettings};
use sf2hs_shared::ports::ChangeQueue;
use sf2hs_shared::settings::{self, process_env};
use sf2hs_shared::worker::{Worker, WorkerPorts, drain_once};
use tokio::sync::watch;

use crate::backend::Backend;
use crate::output::CliError;

/// How `serve` runs.
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub workers: usize,
    pub secrets_dir: Option<PathBuf>,
}

/// How long a worker keeps a batch hidden from the others.
const VISIBILITY: Duration = Duration::from_secs(120);
/// The wait after finding the queue empty.
const IDLE: Duration = Duration::from_millis(100);

struct Server {
    settings: IngestSettings,
    queue: Arc<dyn ChangeQueue>,
}

fn setup(e: impl std::fmt::Display) -> CliError {
    CliError::Setup(e.to_string())
}

pub async fn serve(
    backend: &Backend,
    options: ServeOptions,
) -> Result<std::process::ExitCode, CliError> {
    let secrets = match &options.secrets_dir {
        Some(dir) => LocalSecrets::with_dir(dir),
        None => LocalSecrets::from_env(),
    };
    let lookup = process_env;
    let ingest_settings = settings::ingest_settings(&lookup, &secrets)
        .await
        .map_err(setup)?;
    let hubspot = settings::hubspot_client(&lookup, &secrets)
        .await
        .map_err(setup)?;
    let salesforce = settings::salesforce_client(&lookup, &secrets)
        .await
        .map_err(setup)?;
    let worker_settings = settings::worker_settings(&lookup).map_err(setup)?;
    let queue: Arc<dyn ChangeQueue> = Arc::new(backend.queue.clone());
    let worker = Arc::new(Worker::new(
        WorkerPorts {
            mappings: Arc::new(backend.mappings.clone()),
            index: Arc::new(backend.index.clone()),
            log: Arc::new(backend.log.clone()),
            jobs: Arc::new(backend.jobs.clone()),
            queue: queue.clone(),
            hubspot: Arc::new(hubspot),
            salesforce: Arc::new(salesforce),
        },
        worker_settings,
    ));

    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|e| {
            setup(format!(
                "cannot listen on {}: {e}; choose another with --listen",
                options.listen
            ))
        })?;
    let address = listener.local_addr().map_err(setup)?;
    let server = Arc::new(Server {
        settings: ingest_settings,
        queue: queue.clone(),
    });
    let app = Router::new()
        .route("/outbound/{token}", post(outbound))
        .route("/events", post(event))
        .with_state(server);

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    for n in 0..options.workers.max(1) {
        let worker = worker.clone();
        let queue = queue.clone();
        let mut stop = stop_rx.clone();
        tasks.push(tokio::spawn(async move {
            while !*stop.borrow() {
                match drain_once(&worker, queue.as_ref(), 100, VISIBILITY).await {
                    Ok(report) if report.received > 0 => {
                        println!(
                            "worker {n}: {} change(s): {} done, {} to retry, {} dead-lettered",
                            report.received, report.done, report.retried, report.dead_lettered
                        );
                    }
                    Ok(_) => {
                        tokio::select! {
                            _ = tokio::time::sleep(IDLE) => {}
                            _ = stop.changed() => {}
                        }
                    }
                    Err(e) => {
                        eprintln!("worker {n}: {e}; retrying in 1 s");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        }));
    }

    println!("sf2hs serve: listening on http://{address}");
    println!("  outbound messages: POST http://{address}/outbound/<token>");
    println!("  CDC / platform events (EventBridge shape): POST http://{address}/events");
    println!(
        "  {} worker task(s) on {}",
        options.workers.max(1),
        backend.location
    );
    let mut shutdown = stop_rx.clone();
    let serving = axum::serve(listener, app).with_graceful_shutdown(async move {
        let _ = shutdown.changed().await;
    });
    let signal = async move {
        wait_for_signal().await;
        println!("sf2hs serve: stopping; finishing requests and batches in flight");
        let _ = stop_tx.send(true);
    };
    let (served, ()) = tokio::join!(serving, signal);
    served.map_err(setup)?;
    for task in tasks {
        let _ = task.await;
    }
    println!("sf2hs serve: stopped");
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

async fn event(State(server): State<Arc<Server>>, body: Bytes) -> Response {
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
        &value,
        chrono::Utc::now(),
    )
    .await
    {
        Ok(ingested) => axum::Json(json!({
            "changes": ingested.changes,
            "echoesSkipped": ingested.echoes_skipped,
            "resyncs": ingested.resyncs.iter().map(|r| r.object.clone()).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(e @ IngestError::Refused(_)) => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": e.to_string() })),
        )
            .into_response(),
        Err(e @ IngestError::Queue(_)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({ "error": e.to_string() })),
        )
            .into_response(),
    }
}
