//! Mapping actions from the console: check one against the live schemas, activate it (the same
//! check first, as `sf2hs mappings activate`), or pause it. Each change asks first.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;
use sf2hs_shared::activation::Activation;
use sf2hs_shared::mapping::{LocatedMapping, MappingStatus, Severity};

use super::Console;
use super::pages::{Confirm, confirm, field, form_fields, page, unavailable};

fn needs_credentials(console: &Console) -> Response {
    page(
        console,
        "Mappings",
        "/mappings",
        html! { h1 { "Mappings" } p.notice.warn { "Checking and activating a mapping reads the live Salesforce describe and HubSpot schemas: configure both credentials (SF2HS_SALESFORCE_SECRET, SF2HS_HUBSPOT_SECRET)." } },
    )
    .into_response()
}

#[derive(Deserialize)]
pub struct CheckQuery {
    object: String,
}

/// `GET /mappings/check?object=`: the stored mapping against the live schemas.
pub async fn check(
    State(console): State<Arc<Console>>,
    Query(query): Query<CheckQuery>,
) -> Response {
    let Some(schemas) = console.schemas() else {
        return needs_credentials(&console);
    };
    let stored = match console.mappings.get(&query.object).await {
        Ok(Some(stored)) => stored,
        Ok(None) => {
            return console.back_to(
                "/mappings",
                &format!("no stored mapping for {}", query.object),
            );
        }
        Err(e) => return unavailable(&console, e),
    };
    let located = LocatedMapping::stored(stored.mapping.as_written());
    let checked = sf2hs_shared::mapping::check_live(std::slice::from_ref(&located), &schemas).await;
    page(
        &console,
        "Mappings",
        "/mappings",
        html! {
            h1 { (query.object) " against the live schemas" }
            @if !checked.problems.iter().any(|p| p.severity == Severity::Error) {
                p.notice data-check="ok" { "It matches the live Salesforce describe and HubSpot schemas." }
            }
            @if !checked.problems.is_empty() {
                ul data-check="problems" {
                    @for problem in &checked.problems {
                        li class=(if problem.severity == Severity::Error { "bad" } else { "" }) {
                            (problem.message) @if !problem.hint.is_empty() { br; span.muted { (problem.hint) } }
                        }
                    }
                }
            }
            a href={ (console.base) "/mappings" } { "Mappings" }
        },
    )
    .into_response()
}

/// `POST /mappings/activate` (object): asks, then activates after the live check.
pub async fn activate(State(console): State<Arc<Console>>, body: String) -> Response {
    let fields = form_fields(&body);
    let value = |name: &str| field(&fields, name);
    let Some(object) = value("object") else {
        return (StatusCode::BAD_REQUEST, "name the mapping").into_response();
    };
    let Some(schemas) = console.schemas() else {
        return needs_credentials(&console);
    };
    if value("confirm").as_deref() != Some("yes") {
        return confirm(
            &console,
            Confirm {
                current: "/mappings",
                question: format!("Activate {object}?"),
                explain: html! { p { "It is checked against the live schemas first; active, its changes sync, and those parked while it was paused are replayed." } },
                action: "/mappings/activate",
                fields: vec![("object", object.clone())],
                button: format!("Activate {object}"),
                back: "/mappings",
            },
        );
    }
    let queues: Vec<&dyn sf2hs_shared::ports::ChangeQueue> =
        console.queues.iter().map(|q| q.queue.as_ref()).collect();
    match sf2hs_shared::activation::activate(
        console.mappings.as_ref(),
        &queues,
        &schemas,
        &object,
        false,
    )
    .await
    {
        Ok(Activation::Done { replayed, .. }) => console.back_to(
            "/mappings",
            &format!("{object} is active; {replayed} parked change(s) replayed"),
        ),
        Ok(Activation::Refused { previous, problems }) => {
            let first = problems
                .iter()
                .find(|p| p.severity == Severity::Error)
                .map(|p| p.message.clone())
                .unwrap_or_default();
            console.back_to(
                "/mappings",
                &format!("{object} stays {previous}: {first} (Check shows every problem)"),
            )
        }
        Err(e) => console.back_to("/mappings", &e.to_string()),
    }
}

/// `POST /mappings/pause` (object): asks, then pauses (its changes wait, parked).
pub async fn pause(State(console): State<Arc<Console>>, body: String) -> Response {
    let fields = form_fields(&body);
    let value = |name: &str| field(&fields, name);
    let Some(object) = value("object") else {
        return (StatusCode::BAD_REQUEST, "name the mapping").into_response();
    };
    if value("confirm").as_deref() != Some("yes") {
        return confirm(
            &console,
            Confirm {
                current: "/mappings",
                question: format!("Pause {object}?"),
                explain: html! { p { "Its changes wait (parked, nothing lost) until it is activated again." } },
                action: "/mappings/pause",
                fields: vec![("object", object.clone())],
                button: format!("Pause {object}"),
                back: "/mappings",
            },
        );
    }
    match console
        .mappings
        .set_status(&object, MappingStatus::Paused)
        .await
    {
        Ok(_) => console.back_to("/mappings", &format!("{object} is paused")),
        Err(e) => unavailable(&console, e),
    }
}
