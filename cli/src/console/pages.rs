//! The console's pages, rendered on the server with maud (escaped by default).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, Utc};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use sf2hs_shared::domain::SalesforceId;
use sf2hs_shared::health::{FailureGroup, Health, RecordFailure};
use sf2hs_shared::ports::{ImportJob, PortError, SyncLogQuery};

use super::Console;

/// How far back the health pages look.
const HEALTH_DAYS: i64 = 7;

const STYLE: &str = "
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1d2330;background:#f5f6f8}
header{background:#1d2330;color:#fff;padding:.6rem 1rem;display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;align-items:center}
header strong{font-size:1.05rem;margin-right:.6rem}
header a{color:#d7e0ff;text-decoration:none}
header a[aria-current]{color:#fff;text-decoration:underline}
main{max-width:1200px;margin:0 auto;padding:1rem}
h1{font-size:1.4rem;margin:.4rem 0 1rem}
h2{font-size:1.1rem;margin:1.4rem 0 .6rem}
.cards{display:flex;flex-wrap:wrap;gap:.8rem}
.card{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:.8rem 1rem;min-width:10rem;flex:1 1 10rem}
.card b{display:block;font-size:1.5rem}
.scroll{overflow-x:auto;background:#fff;border:1px solid #dde1e8;border-radius:8px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.45rem .6rem;border-bottom:1px solid #eceff3;vertical-align:top}
th{background:#f0f2f6;font-weight:600;white-space:nowrap}
td.reason{min-width:16rem;word-break:break-word}
details{background:#fff;border:1px solid #dde1e8;border-radius:8px;margin:.6rem 0;padding:.2rem .8rem}
summary{cursor:pointer;padding:.5rem 0;font-weight:600}
.bad{color:#b3261e}.good{color:#1e7a34}.muted{color:#667085}
.pill{display:inline-block;border-radius:999px;padding:0 .55rem;font-size:.85rem;background:#eef1f6;margin-left:.3rem}
form.inline{display:inline}
button{font:inherit;padding:.35rem .8rem;border-radius:6px;border:1px solid #3451b2;background:#3451b2;color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#3451b2}
input[type=search]{font:inherit;padding:.35rem .5rem;border:1px solid #c5ccd8;border-radius:6px;width:min(26rem,100%)}
.notice{background:#e8f3ea;border:1px solid #b7dcc0;border-radius:8px;padding:.6rem .8rem;margin-bottom:1rem}
.warn{background:#fdf0e6;border-color:#f2cfae}
footer{color:#667085;font-size:.85rem;padding:1rem;text-align:center}
ol.steps{display:flex;flex-wrap:wrap;gap:.4rem 1.6rem;padding-left:0;list-style-position:inside;color:#667085}
ol.steps li.current{color:#1d2330;font-weight:600}
pre{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:.8rem;overflow-x:auto;white-space:pre-wrap}
@media (max-width:640px){main{padding:.6rem}th,td{padding:.35rem .4rem}.card b{font-size:1.2rem}}
";

pub(super) fn page(console: &Console, title: &str, current: &str, body: Markup) -> Markup {
    let base = &console.base;
    let nav = [
        ("/", "Overview"),
        ("/health", "Sync health"),
        ("/record", "Record"),
        ("/dead-letters", "Dead letters"),
        ("/imports", "Imports"),
        ("/mappings", "Mappings"),
    ];
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · sf2hs" }
                style { (maud::PreEscaped(STYLE)) }
            }
            body {
                header {
                    strong { "sf2hs" }
                    @for (path, label) in nav {
                        // The overview is the base itself (`/console` when mounted, `/` alone).
                        @let href = if path == "/" && !base.is_empty() { base.clone() } else { format!("{base}{path}") };
                        @if path == current {
                            a href=(href) aria-current="page" { (label) }
                        } @else {
                            a href=(href) { (label) }
                        }
                    }
                }
                main { (body) }
                footer { "store: " (console.location) }
            }
        }
    }
}

pub(super) fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A store error as a page: what failed; the operator retries.
pub(super) fn unavailable(console: &Console, error: PortError) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        page(
            console,
            "Unavailable",
            "",
            html! { h1 { "The store did not answer" } p { (error.to_string()) } },
        ),
    )
        .into_response()
}

async fn read_health(console: &Console, object: Option<&str>) -> Result<Health, PortError> {
    Health::read(
        console.log.as_ref(),
        object,
        Utc::now() - Duration::days(HEALTH_DAYS),
    )
    .await
}

pub async fn overview(State(console): State<Arc<Console>>) -> Response {
    match overview_page(&console).await {
        Ok(markup) => markup.into_response(),
        Err(e) => unavailable(&console, e),
    }
}

async fn overview_page(console: &Console) -> Result<Markup, PortError> {
    let health = read_health(console, None).await?;
    let since = Utc::now() - Duration::hours(24);
    let mut rows = Vec::new();
    for stored in console.mappings.list().await? {
        let mapping = stored.mapping;
        let object = mapping.salesforce_object.clone();
        let records = console.index.count(&object).await?;
        let counts = console.log.counts(&object, since).await?;
        let last = console
            .log
            .query(&SyncLogQuery {
                salesforce_object: Some(object.clone()),
                limit: 1,
                ..SyncLogQuery::default()
            })
            .await?
            .into_iter()
            .next()
            .map(|e| e.at);
        let failing: usize = health
            .groups
            .iter()
            .filter(|g| g.salesforce_object == object)
            .map(|g| g.failing.len())
            .sum();
        let lag = console.queue.oldest_change_age(Some(&object)).await?;
        rows.push((
            object,
            mapping.status.name(),
            mapping.hubspot_target().to_string(),
            records,
            counts.synced,
            failing,
            last,
            lag,
        ));
    }
    let mut queues = Vec::new();
    for named in &console.queues {
        queues.push((named.name.clone(), named.queue.depth().await?));
    }
    let imports: Vec<ImportJob> = console
        .jobs
        .list()
        .await?
        .into_iter()
        .filter(|j| !j.status.is_finished())
        .collect();
    // The worker metrics of this process (the console mounted in `sf2hs serve`): what the
    // dashboard shows on AWS.
    let totals = sf2hs_shared::metrics::batch_totals();
    let dead: u64 = queues.iter().map(|(_, d)| d.dead).sum();
    // The lag: how long the oldest change still queued has waited since intake.
    let lag = console.queue.oldest_change_age(None).await?;
    let waiting: u64 = queues.iter().map(|(_, d)| d.visible + d.delayed).sum();
    Ok(page(
        console,
        "Overview",
        "/",
        html! {
            h1 { "Overview" }
            div.cards {
                div.card { b class=(if health.failing_records > 0 { "bad" } else { "good" }) { (health.failing_records) } "records failing" }
                div.card { b { (health.resolved_records) } "resolved in " (HEALTH_DAYS) " days" }
                div.card { b class=(if dead > 0 { "bad" } else { "" }) { (dead) } "dead letters" }
                div.card { b { (waiting) } "changes queued" }
                div.card data-lag {
                    b { (match lag { Some(age) => format!("{:.0} s", age.as_secs_f64()), None if console.local_imports => "0 s".to_owned(), None => "on the dashboard".to_owned() }) }
                    "oldest queued change"
                }
                div.card { b { (imports.len()) } "imports running" }
            }
            h2 { "Mappings" }
            div.scroll { table {
                thead { tr { th { "Salesforce object" } th { "state" } th { "HubSpot object" } th { "records" } th { "synced 24 h" } th { "failing now" } th { "last change" } th { "lag" } } }
                tbody {
                    @for (object, state, target, records, synced, failing, last, lag) in &rows {
                        tr {
                            td { a href={ (console.base) "/health?object=" (object) } { (object) } }
                            td { (state) }
                            td { code { (target) } }
                            td { (records) }
                            td { (synced) }
                            td class=(if *failing > 0 { "bad" } else { "" }) { (failing) }
                            td { (last.map(time).unwrap_or_else(|| "-".into())) }
                            td data-lag-of=(object) { (lag.map(|age| format!("{:.0} s", age.as_secs_f64())).unwrap_or_else(|| "-".into())) }
                        }
                    }
                    @if rows.is_empty() {
                        tr { td colspan="8" { "no mapping stored: `sf2hs mappings apply FILE`" } }
                    }
                }
            } }
            @if !totals.is_empty() {
                h2 { "Worker since this process started" }
                div.scroll { table {
                    thead { tr { th { "object" } th { "synced" } th { "unchanged" } th { "failed" } th { "dead-lettered" } th { "longest lag" } } }
                    tbody {
                        @for (object, counts) in &totals {
                            tr { td { (object) } td { (counts.synced) } td { (counts.unchanged) } td { (counts.failed) } td { (counts.dead_lettered) } td { (format!("{:.1} s", counts.lag_ms as f64 / 1000.0)) } }
                        }
                    }
                } }
            }
            h2 { "Queues" }
            div.scroll { table {
                thead { tr { th { "queue" } th { "waiting" } th { "in flight" } th { "delayed" } th { "dead letters" } } }
                tbody {
                    @for (name, depth) in &queues {
                        tr { td { (name) } td { (depth.visible) } td { (depth.in_flight) } td { (depth.delayed) } td { a href={ (console.base) "/dead-letters" } { (depth.dead) } } }
                    }
                }
            } }
        },
    ))
}

#[derive(Deserialize)]
pub struct HealthQuery {
    object: Option<String>,
    done: Option<usize>,
}

pub async fn health(
    State(console): State<Arc<Console>>,
    Query(query): Query<HealthQuery>,
) -> Response {
    let object = query.object.filter(|o| !o.is_empty());
    let health = match read_health(&console, object.as_deref()).await {
        Ok(health) => health,
        Err(e) => return unavailable(&console, e),
    };
    page(
        &console,
        "Sync health",
        "/health",
        html! {
            h1 { "Sync health" @if let Some(object) = &object { " · " (object) } }
            @if let Some(object) = &object {
                @if console.local_imports && console.salesforce.is_some() {
                    // The whole object again: an import reads every record through the worker.
                    form.inline method="post" action={ (console.base) "/imports/start" } {
                        input type="hidden" name="object" value=(object);
                        button.secondary type="submit" { "Resync all of " (object) " (an import)…" }
                    }
                }
            }
            @if let Some(done) = query.done {
                p.notice { "Queued a resync of " (done) " record(s): each is read from Salesforce and written as it is now." }
            }
            p {
                span class=(if health.failing_records > 0 { "bad" } else { "good" }) { strong { (health.failing_records) } " records failing" }
                ", " strong { (health.resolved_records) } " resolved, in the last " (HEALTH_DAYS) " days (" (health.entries) " sync-log entries). Each record counts once, in the group of its newest failure."
            }
            @if health.groups.is_empty() {
                p.good { "No failures." }
            }
            @for group in &health.groups {
                (group_view(&console, group))
            }
        },
    )
    .into_response()
}

fn group_view(console: &Console, group: &FailureGroup) -> Markup {
    html! {
        details data-group=(group.key()) {
            summary {
                (group.title())
                span.pill.bad { (group.failing.len()) " failing" }
                span.pill.good { (group.resolved.len()) " resolved" }
            }
            @if !group.failing.is_empty() {
                form.inline method="post" action={ (console.base) "/resync" } {
                    input type="hidden" name="object" value=(group.salesforce_object);
                    @for record in &group.failing {
                        input type="hidden" name="id" value=(record.record_id.as_str());
                    }
                    button type="submit" { "Resync " (group.failing.len()) " failing record(s)…" }
                }
                (records_table(console, &group.failing, false))
            }
            @if !group.resolved.is_empty() {
                p.muted { "Resolved since:" }
                (records_table(console, &group.resolved, true))
            }
        }
    }
}

fn records_table(console: &Console, records: &[RecordFailure], resolved: bool) -> Markup {
    html! {
        div.scroll { table {
            thead { tr { th { "record" } th { "outcome" } th { "attempts" } th { "failed" } @if resolved { th { "synced" } } th { "reason" } } }
            tbody {
                @for record in records {
                    tr data-record=(record.record_id.as_str()) {
                        td { a href={ (console.base) "/record?id=" (record.record_id.as_str()) } { (record.record_id.as_str()) } }
                        td { (record.outcome.name()) }
                        td { (record.attempts) }
                        td { (time(record.at)) }
                        @if resolved { td { (record.resolved_at.map(time).unwrap_or_default()) } }
                        td.reason { (record.reason) }
                    }
                }
            }
        } }
    }
}

#[derive(Deserialize)]
pub struct RecordQuery {
    id: Option<String>,
}

pub async fn record(
    State(console): State<Arc<Console>>,
    Query(query): Query<RecordQuery>,
) -> Response {
    let asked = query.id.unwrap_or_default().trim().to_owned();
    let search = html! {
        form method="get" action={ (console.base) "/record" } {
            input type="search" name="id" value=(asked) placeholder="Salesforce id (15 or 18) or HubSpot id" aria-label="record id";
            " " button type="submit" { "Find" }
        }
    };
    if asked.is_empty() {
        return page(
            &console,
            "Record",
            "/record",
            html! { h1 { "Record" } (search) },
        )
        .into_response();
    }
    let found = match find_record(&console, &asked).await {
        Ok(found) => found,
        Err(e) => return unavailable(&console, e),
    };
    let Some(found) = found else {
        return page(
            &console,
            "Record",
            "/record",
            html! {
                h1 { "Record" } (search)
                p.notice.warn { "sf2hs knows nothing of " code { (asked) } ": no failure in the sync log's retention and no record index entry. Check the id; `sf2hs status` shows what is queued." }
            },
        )
        .into_response();
    };
    let object = found.salesforce_object.clone();
    let id = found.record_id.clone();
    let index = found.index.clone();
    let entries = found.failures;
    page(
        &console,
        "Record",
        "/record",
        html! {
            h1 { "Record " code { (id.as_str()) } }
            (search)
            h2 { (object) }
            div.cards {
                div.card { "HubSpot id" b { (index.as_ref().and_then(|i| i.hubspot_id.clone()).unwrap_or_else(|| "-".into())) } }
                div.card { "newest state written" b { (index.as_ref().map(|i| time(i.modstamp)).unwrap_or_else(|| "-".into())) } }
                div.card { "deleted" b { (index.as_ref().map(|i| if i.deleted { "yes" } else { "no" }).unwrap_or("-")) } }
            }
            p {
                form.inline method="post" action={ (console.base) "/resync" } {
                    input type="hidden" name="object" value=(object);
                    input type="hidden" name="id" value=(id.as_str());
                    button type="submit" { "Resync this record…" }
                }
            }
            (live_values(&console, &object, &id).await)
            h2 { "Failures" }
            p.muted { "Failed and dead-lettered tries in the log's retention, newest first. Successful writes are kept per batch, not per record: the newest is the state above." }
            @if entries.is_empty() { p { "None." } }
            div.scroll { table {
                thead { tr { th { "at" } th { "outcome" } th { "HubSpot id" } th { "detail" } } }
                tbody {
                    @for entry in &entries {
                        tr { td { (time(entry.at)) } td { (entry.outcome.name()) } td { (entry.hubspot_id.clone().unwrap_or_default()) } td.reason { (entry.reason.clone().unwrap_or_default()) } }
                    }
                }
            } }
        },
    )
    .into_response()
}

/// The record's mapped values now, read live: Salesforce's beside HubSpot's, field by field.
async fn live_values(console: &Console, object: &str, id: &SalesforceId) -> Markup {
    let (Some(salesforce), Some(hubspot)) = (&console.salesforce, &console.hubspot) else {
        return html! { p.muted { "Live values show here when the Salesforce and HubSpot credentials are configured." } };
    };
    let mapping = match console.mappings.get(object).await {
        Ok(Some(stored)) => stored.mapping,
        Ok(None) => return html! { p.muted { "No mapping for " (object) "." } },
        Err(e) => return html! { p.notice.warn { (e.to_string()) } },
    };
    let fields: Vec<&str> = mapping
        .fields
        .iter()
        .map(|f| f.salesforce_field.as_str())
        .collect();
    let properties: Vec<String> = mapping
        .fields
        .iter()
        .map(|f| f.hubspot_property.clone())
        .collect();
    let sf = salesforce
        .retrieve(object, std::slice::from_ref(id), &fields)
        .await
        .map(|mut records| records.pop().flatten());
    let hs = hubspot
        .read_one_by_unique(
            &mapping.hubspot_target(),
            &mapping.id_property,
            id.as_str(),
            &properties,
        )
        .await;
    let text = |v: Option<&serde_json::Value>| match v {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    html! {
        h2 { "Now, live" }
        @match (&sf, &hs) {
            (Err(e), _) => { p.notice.warn { "Salesforce: " (e.to_string()) } }
            (_, Err(e)) => { p.notice.warn { "HubSpot: " (e.to_string()) } }
            (Ok(sf), Ok(hs)) => {
                p {
                    "Salesforce: " (if sf.is_some() { "the record is there" } else { "no live record (deleted, or hidden from the integration user)" })
                    " · HubSpot: " (hs.as_ref().map(|(id, _)| format!("record {id}")).unwrap_or_else(|| "no record".into()))
                }
                // What sf2hs writes for Salesforce's values now, to compare with HubSpot's.
                @let mapped = sf.as_ref().map(|r| sf2hs_shared::engine::map_record(&mapping, id, &r.fields, None));
                div.scroll { table data-live="values" {
                    thead { tr { th { "Salesforce field" } th { "Salesforce" } th { "written as" } th { "HubSpot property" } th { "HubSpot" } } }
                    tbody {
                        @for field in &mapping.fields {
                            @let sf_value = sf.as_ref().map(|r| text(r.fields.get(&field.salesforce_field))).unwrap_or_default();
                            @let written = match &mapped {
                                Some(Ok(m)) => m.properties.get(&field.hubspot_property).cloned().unwrap_or_default(),
                                Some(Err(_)) => "(cannot convert)".to_owned(),
                                None => String::new(),
                            };
                            @let hs_value = hs.as_ref().and_then(|(_, v)| v.get(&field.hubspot_property).cloned().flatten()).unwrap_or_default();
                            tr data-field=(field.salesforce_field) {
                                td { (field.salesforce_field) }
                                td { (sf_value) }
                                td { (written) }
                                td { (field.hubspot_property) }
                                td class=(if written == hs_value { "good" } else { "bad" }) { (hs_value) }
                            }
                        }
                    }
                } }
                p.muted { "Green: HubSpot holds what sf2hs writes for Salesforce's value now; red: it does not (a change on its way, a failure in the history below, or an edit in HubSpot)." }
            }
        }
    }
}

/// A record named by its Salesforce id, or by a HubSpot id the sync log recorded in the last
/// 30 days: its failures and its index entry.
async fn find_record(
    console: &Console,
    asked: &str,
) -> Result<Option<sf2hs_shared::record_history::RecordHistory>, PortError> {
    let id = match SalesforceId::parse(asked) {
        Ok(id) => id,
        Err(_) => {
            // A HubSpot id: the newest entry that names it leads to the Salesforce record.
            let recent = console
                .log
                .query(&SyncLogQuery {
                    since: Some(Utc::now() - Duration::days(30)),
                    limit: 100_000,
                    ..SyncLogQuery::default()
                })
                .await?;
            match recent
                .iter()
                .find(|e| e.hubspot_id.as_deref() == Some(asked))
            {
                Some(found) => found.record_id.clone(),
                None => return Ok(None),
            }
        }
    };
    sf2hs_shared::record_history::find(
        console.mappings.as_ref(),
        console.log.as_ref(),
        console.index.as_ref(),
        &id,
    )
    .await
}

/// A form's fields, repeated names kept (`id=…&id=…`); a body that is not a form has none.
pub(super) fn form_fields(body: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str(body).unwrap_or_default()
}

/// What a confirmation page asks.
pub(super) struct Confirm<'a> {
    /// The page's tab (`/health`…), for the menu.
    pub current: &'a str,
    pub question: String,
    /// What happens, in a sentence or two; and anything to list below it.
    pub explain: Markup,
    /// Where the form posts, relative to the console's base, with its fields (`confirm=yes`
    /// is added).
    pub action: &'a str,
    pub fields: Vec<(&'a str, String)>,
    pub button: String,
    /// Where Cancel leads, relative to the base.
    pub back: &'a str,
}

/// Every change the console makes asks first: this page, whose button posts the same form
/// again with `confirm=yes`.
pub(super) fn confirm(console: &Console, ask: Confirm<'_>) -> Response {
    page(
        console,
        &ask.question,
        ask.current,
        html! {
            h1 { (ask.question) }
            (ask.explain)
            form method="post" action={ (console.base) (ask.action) } {
                @for (name, value) in &ask.fields { input type="hidden" name=(name) value=(value); }
                input type="hidden" name="confirm" value="yes";
                button type="submit" { (ask.button) }
                " " a href={ (console.base) (ask.back) } { "Cancel" }
            }
        },
    )
    .into_response()
}

/// The value of form field `name`.
pub(super) fn field(fields: &[(String, String)], name: &str) -> Option<String> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// `POST /resync` (object, id…): first a confirmation page, then (`confirm=yes`) the re-reads.
pub async fn resync(State(console): State<Arc<Console>>, body: String) -> Response {
    let fields = form_fields(&body);
    let value = |name: &str| field(&fields, name);
    let object = value("object").unwrap_or_default();
    let ids: Vec<SalesforceId> = fields
        .iter()
        .filter(|(k, _)| k == "id")
        .filter_map(|(_, v)| SalesforceId::parse(v).ok())
        .collect();
    if object.is_empty() || ids.is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            "name an object and at least one record id",
        )
            .into_response();
    }
    let Some(org_id) = console.org_id.clone() else {
        return page(
            &console,
            "Resync",
            "/health",
            html! { h1 { "Resync" } p.notice.warn { "A resync needs the organisation id: set SF2HS_ORG_ID (or `org_id` in sf2hs.toml) and start the console again." } },
        )
        .into_response();
    };
    if value("confirm").as_deref() != Some("yes") {
        let mut fields = vec![("object", object.clone())];
        fields.extend(ids.iter().map(|id| ("id", id.as_str().to_owned())));
        return confirm(
            &console,
            Confirm {
                current: "/health",
                question: format!("Resync {} {object} record(s)?", ids.len()),
                explain: html! {
                    p { "Each is read from Salesforce and written to HubSpot as it is now, even where sf2hs thinks HubSpot has it. Fix the cause first (the value in Salesforce, the HubSpot property, the sharing)." }
                    ul { @for id in ids.iter().take(20) { li { code { (id.as_str()) } } } @if ids.len() > 20 { li { "… and " (ids.len() - 20) " more" } } }
                },
                action: "/resync",
                fields,
                button: format!("Resync {} record(s)", ids.len()),
                back: "/health",
            },
        );
    }
    let changes = sf2hs_shared::health::resync_changes(&org_id, &object, &ids, Utc::now());
    match console.queue.send_batch(&changes).await {
        Ok(()) => Redirect::to(&format!(
            "{}/health?object={object}&done={}",
            console.base,
            ids.len()
        ))
        .into_response(),
        Err(e) => unavailable(&console, e),
    }
}

pub async fn dead_letters(State(console): State<Arc<Console>>) -> Response {
    let mut sections = Vec::new();
    for named in &console.queues {
        match named.queue.dead_letters(500).await {
            Ok(letters) => sections.push((named.name.clone(), letters)),
            Err(e) => return unavailable(&console, e),
        }
    }
    page(
        &console,
        "Dead letters",
        "/dead-letters",
        html! {
            h1 { "Dead letters" }
            p { "Changes that failed for good, with why. Fix the cause, then replay them: each goes back on its queue with all its tries." }
            @for (name, letters) in &sections {
                h2 { (name) " · " (letters.len()) }
                @if letters.is_empty() { p.good { "None." } } @else {
                    form method="post" action={ (console.base) "/dead-letters/replay" } {
                        input type="hidden" name="queue" value=(name);
                        div.scroll { table {
                            thead { tr { th { "replay" } th { "object" } th { "record" } th { "tries" } th { "dead-lettered" } th { "reason" } } }
                            tbody {
                                @for letter in letters {
                                    tr data-message=(letter.message_id) {
                                        td { input type="checkbox" name="id" value=(letter.message_id) aria-label="replay this one"; }
                                        td { (letter.change.object) }
                                        td { a href={ (console.base) "/record?id=" (letter.change.record_id.as_str()) } { (letter.change.record_id.as_str()) } }
                                        td { (letter.receive_count) }
                                        td { (time(letter.dead_lettered_at)) }
                                        td.reason { (letter.reason) }
                                    }
                                }
                            }
                        } }
                        p { button type="submit" { "Replay selected…" } " " button.secondary type="submit" name="all" value="yes" { "Replay all " (letters.len()) "…" } }
                    }
                }
            }
        },
    )
    .into_response()
}

/// `POST /dead-letters/replay` (queue, id… or all): a confirmation, then the replay.
pub async fn replay(State(console): State<Arc<Console>>, body: String) -> Response {
    let fields = form_fields(&body);
    let value = |name: &str| field(&fields, name);
    let name = value("queue").unwrap_or_default();
    let Some(named) = console.queues.iter().find(|q| q.name == name) else {
        return (StatusCode::BAD_REQUEST, "no such queue").into_response();
    };
    let all = value("all").as_deref() == Some("yes");
    let ids: Vec<String> = fields
        .iter()
        .filter(|(k, _)| k == "id")
        .map(|(_, v)| v.clone())
        .collect();
    if !all && ids.is_empty() {
        return page(
            &console,
            "Replay",
            "/dead-letters",
            html! { h1 { "Replay" } p.notice.warn { "Select the dead letters to replay, or replay all." } a href={ (console.base) "/dead-letters" } { "Back" } },
        )
        .into_response();
    }
    if value("confirm").as_deref() != Some("yes") {
        let what = if all {
            "every dead letter".to_owned()
        } else {
            format!("{} dead letter(s)", ids.len())
        };
        let mut fields = vec![("queue", name.clone())];
        if all {
            fields.push(("all", "yes".to_owned()));
        }
        fields.extend(ids.iter().map(|id| ("id", id.clone())));
        return confirm(
            &console,
            Confirm {
                current: "/dead-letters",
                question: format!("Replay {what} of {name}?"),
                explain: html! { p { "They go back on the queue with all their tries; fix their cause first, or they fail again." } },
                action: "/dead-letters/replay",
                fields,
                button: format!("Replay {what}"),
                back: "/dead-letters",
            },
        );
    }
    let ids = if all { Vec::new() } else { ids };
    match named.queue.replay(&ids).await {
        Ok(moved) => page(
            &console,
            "Replay",
            "/dead-letters",
            html! { h1 { "Replayed" } p.notice { (moved) " change(s) are back on " (name) "." } a href={ (console.base) "/dead-letters" } { "Dead letters" } " · " a href={ (console.base) "/health" } { "Sync health" } },
        )
        .into_response(),
        Err(e) => unavailable(&console, e),
    }
}

#[derive(Deserialize)]
pub struct ImportsQuery {
    said: Option<String>,
}

pub async fn imports(
    State(console): State<Arc<Console>>,
    Query(query): Query<ImportsQuery>,
) -> Response {
    let jobs = match console.jobs.list().await {
        Ok(jobs) => jobs,
        Err(e) => return unavailable(&console, e),
    };
    let objects: Vec<String> = match console.mappings.list().await {
        Ok(stored) => stored
            .into_iter()
            .map(|s| s.mapping.salesforce_object)
            .collect(),
        Err(e) => return unavailable(&console, e),
    };
    let sending = console
        .sending
        .lock()
        .map(|s| s.clone())
        .unwrap_or_default();
    let can_run = console.local_imports && console.salesforce.is_some();
    page(
        &console,
        "Imports",
        "/imports",
        html! {
            h1 { "Imports" }
            @if let Some(said) = &query.said { p.notice { (said) } }
            @if can_run {
                form method="post" action={ (console.base) "/imports/start" } {
                    "Import the existing records of "
                    select name="object" aria-label="Salesforce object" {
                        @for object in &objects { option value=(object) { (object) } }
                    }
                    " " button type="submit" { "Count them…" }
                }
            } @else if !console.local_imports {
                p.muted { "On AWS the import function runs imports: `sf2hs import start OBJECT` counts, asks and starts one." }
            } @else {
                p.muted { "Imports start here once the Salesforce credentials are configured (SF2HS_SALESFORCE_SECRET)." }
            }
            @if jobs.is_empty() { p { "No import yet." } } @else {
                div.scroll { table {
                    thead { tr { th { "id" } th { "object" } th { "state" } th { "counted" } th { "sent" } th { "synced" } th { "failed" } th { "progress" } th { "rate" } th { "ETA" } th { "" } } }
                    tbody {
                        @for job in &jobs {
                            @let seconds = (job.finished_at.unwrap_or_else(Utc::now) - job.created_at).num_seconds().max(1);
                            @let settled = job.synced + job.failed;
                            @let rate = settled as f64 / seconds as f64;
                            @let total = job.total.unwrap_or(0);
                            tr data-job=(job.id) {
                                td { code { (job.id) } }
                                td { (job.salesforce_object) }
                                td data-state=(job.status.name()) { (job.status.name()) @if sending.contains(&job.id) { span.pill { "sending" } } }
                                td { (job.total.map(|t| t.to_string()).unwrap_or_else(|| "-".into())) }
                                td { (job.enqueued) }
                                td { (job.synced) }
                                td class=(if job.failed > 0 { "bad" } else { "" }) { (job.failed) }
                                td { (if total > 0 { format!("{:.0} %", 100.0 * settled as f64 / total as f64) } else { "-".into() }) }
                                td { (format!("{rate:.0}/s")) }
                                td { (if job.status.is_finished() || rate <= 0.0 || total <= settled { "-".to_owned() } else { format!("{:.0} s", (total - settled) as f64 / rate) }) }
                                td {
                                    @if !job.status.is_finished() {
                                        @if can_run && !sending.contains(&job.id) {
                                            form.inline method="post" action={ (console.base) "/imports/run" } {
                                                input type="hidden" name="id" value=(job.id);
                                                button.secondary type="submit" { (if job.status.name() == "pending" { "Start…" } else { "Resume…" }) }
                                            }
                                            " "
                                        }
                                        form.inline method="post" action={ (console.base) "/imports/cancel" } {
                                            input type="hidden" name="id" value=(job.id);
                                            button.secondary type="submit" { "Cancel…" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                } }
            }
        },
    )
    .into_response()
}

#[derive(Deserialize)]
pub struct MappingsQuery {
    said: Option<String>,
}

/// `GET /mappings`: each stored mapping as the worker uses it: its fields with their
/// conversions, its associations, its delete rule and state; check, activate or pause it.
pub async fn mappings(
    State(console): State<Arc<Console>>,
    Query(query): Query<MappingsQuery>,
) -> Response {
    use sf2hs_shared::mapping::AssociationTarget;

    let stored = match console.mappings.list().await {
        Ok(stored) => stored,
        Err(e) => return unavailable(&console, e),
    };
    page(
        &console,
        "Mappings",
        "/mappings",
        html! {
            h1 { "Mappings" }
            @if let Some(said) = &query.said { p.notice { (said) } }
            p.muted { "As stored by `sf2hs mappings apply`: the mapping files stay the source (configuration is code)." }
            p { a href={ (console.base) "/mappings/new" } { "New mapping…" } }
            @if stored.is_empty() { p { "No mapping stored: write one (examples/README.md) and `sf2hs mappings apply FILE`." } }
            @for entry in &stored {
                @let mapping = &entry.mapping;
                details data-mapping=(mapping.salesforce_object) open {
                    summary {
                        (mapping.salesforce_object) " → " code { (mapping.hubspot_target().to_string()) }
                        span.pill { (mapping.status.name()) }
                        span.pill { "version " (entry.version) }
                    }
                    p { "Unique property " code { (mapping.id_property) } " holds the 18-character Salesforce id. A Salesforce delete: " strong { (mapping.on_delete.name()) } "." }
                    p {
                        a href={ (console.base) "/mappings/check?object=" (mapping.salesforce_object) } { "Check against the live schemas" }
                        " "
                        @if mapping.status != sf2hs_shared::mapping::MappingStatus::Active {
                            form.inline method="post" action={ (console.base) "/mappings/activate" } {
                                input type="hidden" name="object" value=(mapping.salesforce_object);
                                button.secondary type="submit" { "Activate…" }
                            }
                        } @else {
                            form.inline method="post" action={ (console.base) "/mappings/pause" } {
                                input type="hidden" name="object" value=(mapping.salesforce_object);
                                button.secondary type="submit" { "Pause…" }
                            }
                        }
                    }
                    div.scroll { table {
                        thead { tr { th { "Salesforce field" } th { "HubSpot property" } th { "conversion" } } }
                        tbody {
                            @for field in &mapping.fields {
                                tr { td { (field.salesforce_field) } td { (field.hubspot_property) } td { (mapping.conversion_of(field).name()) } }
                            }
                        }
                    } }
                    @if !mapping.associations.is_empty() {
                        p { "Associations:" }
                        ul {
                            @for association in &mapping.associations {
                                li {
                                    code { (association.salesforce_field) } " → "
                                    @match &association.target {
                                        AssociationTarget::MappedObject { salesforce_object } => { "the " (salesforce_object) " record synced by sf2hs" }
                                        AssociationTarget::HubSpotObject { object, id_property } => { "HubSpot " (object) " by " code { (id_property) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_fields_keep_repeated_names_and_decode() {
        let fields =
            form_fields("object=Invoice__c&id=a015f00002J0001&id=a015f00002J0002&x=a%20b+c");
        assert_eq!(fields[0], ("object".into(), "Invoice__c".into()));
        assert_eq!(fields.iter().filter(|(k, _)| k == "id").count(), 2);
        assert_eq!(fields[3].1, "a b c");
    }
}
