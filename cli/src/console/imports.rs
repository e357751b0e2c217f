//! Imports from the console, as the native connector has them: count the records first and
//! ask, then send them (the worker writes them after live changes); resume one whose sender
//! stopped; cancel. Each change asks for a confirmation first.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;
use sf2hs_shared::import::{ImportError, ImportProgress, Importer};

use super::Console;
use super::pages::{Confirm, confirm, field, form_fields, page, time};

fn importer(console: &Console) -> Option<Importer> {
    let org_id = console.org_id.clone()?;
    let pages = console.salesforce.clone()?;
    // With HubSpot's credentials, an import goes through HubSpot's Imports API as the CLI's
    // would (`--via auto`), and one started that way by the CLI can be resumed here.
    let files = match (&console.hubspot, &console.work_dir) {
        (Some(hubspot), Some(work_dir)) => Some(sf2hs_shared::import::FileImports::new(
            hubspot.clone(),
            console.index.clone(),
            console.log.clone(),
            work_dir.clone(),
        )),
        _ => None,
    };
    Some(Importer {
        mappings: console.mappings.clone(),
        jobs: console.jobs.clone(),
        queue: console.backfill.clone(),
        pages,
        org_id,
        files,
    })
}

fn cannot_run(console: &Console) -> Response {
    page(
        console,
        "Imports",
        "/imports",
        html! { h1 { "Imports" } p.notice.warn { "Imports run here on the embedded backend, with the Salesforce credentials (SF2HS_SALESFORCE_SECRET) and the org id (SF2HS_ORG_ID) configured; on AWS, `sf2hs import start OBJECT`." } },
    )
    .into_response()
}

/// `POST /imports/start` (object): counts the records (a pending job), then asks.
pub async fn start(State(console): State<Arc<Console>>, body: String) -> Response {
    let fields = form_fields(&body);
    let Some(object) = field(&fields, "object") else {
        return (StatusCode::BAD_REQUEST, "name the object to import").into_response();
    };
    count_review(&console, &object).await
}

/// The native connector's count review: the records of `object` counted (a pending job), and
/// the question whether to import them.
pub async fn count_review(console: &Console, object: &str) -> Response {
    let Some(importer) = importer(console).filter(|_| console.local_imports) else {
        return cannot_run(console);
    };
    match importer
        .start_via(object, sf2hs_shared::import::ImportVia::Auto)
        .await
    {
        Ok(job) => page(
            console,
            "Import",
            "/imports",
            html! {
                h1 { "Import " (job.total.unwrap_or(0)) " " (object) " records?" }
                p { "Salesforce counts " strong { (job.total.unwrap_or(0)) } " records of " (object) " changed up to " (time(job.cutoff)) "; changes after that come live. They are written after live changes, at the portal's rate limit." }
                @if sf2hs_shared::import::on_file_path(&job) {
                    p { "They go to HubSpot as one file through its Imports API (from " (sf2hs_shared::import::IMPORTS_API_THRESHOLD) " records): a few calls instead of one per 100 records. Records with lookups go through the workers." }
                }
                form.inline method="post" action={ (console.base) "/imports/run" } {
                    input type="hidden" name="id" value=(job.id);
                    input type="hidden" name="confirm" value="yes";
                    button type="submit" { "Start the import" }
                }
                " "
                form.inline method="post" action={ (console.base) "/imports/cancel" } {
                    input type="hidden" name="id" value=(job.id);
                    input type="hidden" name="confirm" value="yes";
                    button.secondary type="submit" { "Do not import" }
                }
            },
        )
        .into_response(),
        Err(e) => console.back_to("/imports", &format!("cannot start an import of {object}: {e}")),
    }
}

/// `POST /imports/run` (id): asks, then (`confirm=yes`) sends the job's pages from this process
/// until it is done (the worker settles it), waiting out Salesforce's stops.
pub async fn run(State(console): State<Arc<Console>>, body: String) -> Response {
    let fields = form_fields(&body);
    let Some(id) = field(&fields, "id") else {
        return (StatusCode::BAD_REQUEST, "name the import").into_response();
    };
    let Some(importer) = importer(&console).filter(|_| console.local_imports) else {
        return cannot_run(&console);
    };
    if field(&fields, "confirm").as_deref() != Some("yes") {
        return confirm(
            &console,
            Confirm {
                current: "/imports",
                question: format!("Resume import {id}?"),
                explain: html! { p { "It goes on from its last checkpoint; at worst one page is sent twice, and writing it again changes nothing." } },
                action: "/imports/run",
                fields: vec![("id", id.clone())],
                button: "Resume".into(),
                back: "/imports",
            },
        );
    }
    {
        let Ok(mut sending) = console.sending.lock() else {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the console's state is broken",
            )
                .into_response();
        };
        if !sending.insert(id.clone()) {
            return console.back_to("/imports", &format!("import {id} is being sent already"));
        }
    }
    let sending = console.sending.clone();
    let job_id = id.clone();
    tokio::spawn(async move {
        let far = Instant::now() + Duration::from_secs(365 * 86_400);
        loop {
            match importer.run(&job_id, far).await {
                Ok(ImportProgress::Waiting { reason, .. }) => {
                    tracing::warn!(import = %job_id, %reason, "Salesforce stops the import for now; it goes on later");
                    tokio::time::sleep(sf2hs_shared::import::STOPPED_WAIT).await;
                }
                Ok(_) => break,
                Err(ImportError::Finished { .. }) => break,
                Err(e) => {
                    tracing::error!(import = %job_id, error = %e, "the import stopped; resume it from the console or `sf2hs import resume`");
                    break;
                }
            }
        }
        if let Ok(mut sending) = sending.lock() {
            sending.remove(&job_id);
        }
    });
    console.back_to(
        "/imports",
        &format!("import {id} is being sent; the worker writes it after live changes"),
    )
}

/// `POST /imports/cancel` (id): asks, then cancels.
pub async fn cancel(State(console): State<Arc<Console>>, body: String) -> Response {
    let fields = form_fields(&body);
    let Some(id) = field(&fields, "id") else {
        return (StatusCode::BAD_REQUEST, "name the import").into_response();
    };
    if field(&fields, "confirm").as_deref() != Some("yes") {
        return confirm(
            &console,
            Confirm {
                current: "/imports",
                question: format!("Cancel import {id}?"),
                explain: html! { p { "No further page is sent; what is on the queue already is still written." } },
                action: "/imports/cancel",
                fields: vec![("id", id.clone())],
                button: "Cancel the import".into(),
                back: "/imports",
            },
        );
    }
    match sf2hs_shared::import::cancel(console.jobs.as_ref(), &id).await {
        Ok(job) => {
            // A file already HubSpot's: its HubSpot import goes too.
            let hubspot = match (
                sf2hs_shared::import::hubspot_import_of(&job),
                &console.hubspot,
            ) {
                (Some(import_id), Some(client)) => {
                    if sf2hs_shared::import::cancel_hubspot_import(client.as_ref(), import_id).await
                    {
                        format!("; HubSpot's import {import_id} is cancelled")
                    } else {
                        format!("; HubSpot's import {import_id} had finished")
                    }
                }
                (Some(import_id), None) => format!(
                    "; HubSpot's import {import_id} may go on (no HubSpot credentials here): cancel it in HubSpot"
                ),
                (None, _) => String::new(),
            };
            console.back_to(
                "/imports",
                &format!("import {} is cancelled{hubspot}", job.id),
            )
        }
        Err(e) => console.back_to("/imports", &e.to_string()),
    }
}
