//! `sf2hs demo`: the whole product on one machine, against the Salesforce and HubSpot sandboxes
//! on loopback. It applies `examples/demo/mappings.toml`, imports the org's existing records,
//! has Salesforce deliver a stream of live changes (outbound messages for creates and updates,
//! CDC events for updates and deletes) to the local pipeline (`serve`'s code), then checks every
//! record in HubSpot against Salesforce and says what happened.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sf2hs_sandbox::hubspot::{DEFAULT_TOKEN, RunningSandbox, SandboxConfig};
use sf2hs_sandbox::salesforce::senders::outbound::{OutboundMessageConfig, OutboundSender};
use sf2hs_sandbox::salesforce::senders::{CdcRelayConfig, change_events, post_events_with};
use sf2hs_sandbox::salesforce::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, RunningSalesforceSandbox,
};
use sf2hs_shared::domain::SalesforceId;
use sf2hs_shared::hubspot::{HubSpotClient, HubSpotConfig, HubSpotSchemaSource, TokenSource};
use sf2hs_shared::import::{ImportProgress, Importer};
use sf2hs_shared::ingest::IngestSettings;
use sf2hs_shared::mapping::{Mapping, Severity, check_live, validate_sources};
use sf2hs_shared::ports::{SyncLogQuery, SyncOutcome};
use sf2hs_shared::salesforce::client::{
    ApiVersion, SalesforceAuth, SalesforceClient, SalesforceClientConfig, Secret,
};
use sf2hs_shared::salesforce::intake::auth::EVENTS_TOKEN_HEADER;
use sf2hs_shared::salesforce::intake::cdc::EventOptions;
use sf2hs_shared::worker::WorkerSettings;

use super::serve::{self, Clients};
use crate::backend::Backend;
use crate::output::{CliError, print_json};

const MAPPINGS: &str = include_str!("../../../examples/demo/mappings.toml");
const ENDPOINT_TOKEN: &str = "demo-endpoint-token-0123456789abcdef";
const PROJECTS: usize = 200;
const INVOICES: usize = 800;
/// The longest the demo waits for HubSpot to catch up with one phase.
const PHASE_LIMIT: Duration = Duration::from_secs(120);

fn failed(what: &str, e: impl std::fmt::Debug) -> CliError {
    CliError::Setup(format!("demo: {what}: {e:?}"))
}

/// Waits until HubSpot matches Salesforce; the mismatches left when `PHASE_LIMIT` ran out.
async fn settle(salesforce: &RunningSalesforceSandbox, hubspot: &RunningSandbox) -> Vec<String> {
    let started = Instant::now();
    loop {
        let problems = sf2hs_sandbox::demo::mismatches(salesforce, hubspot);
        if problems.is_empty() || started.elapsed() > PHASE_LIMIT {
            return problems;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn data_dir() -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f");
    std::env::temp_dir().join(format!("sf2hs-demo-{stamp}"))
}

pub async fn demo(json: bool, keep_open: bool) -> Result<std::process::ExitCode, CliError> {
    let started = Instant::now();
    let say = |line: String| {
        if !json {
            out!("{line}");
        }
    };
    // 1. The two sandboxes, with the demo's objects.
    let (salesforce, hubspot) = sf2hs_sandbox::demo::start_pair(SandboxConfig::default())
        .await
        .map_err(|e| failed("starting the sandboxes", e))?;
    let sf = salesforce.handle();
    say(format!(
        "Salesforce sandbox: {}  HubSpot sandbox: {}",
        salesforce.base_url(),
        hubspot.base_url()
    ));

    // 2. Existing records.
    let projects = sf
        .create_many(
            "Project__c",
            (0..PROJECTS)
                .map(|i| json!({ "Name": format!("Project {i}"), "Budget__c": 1000 + i }))
                .collect(),
        )
        .map_err(|e| failed("seeding projects", e))?;
    let invoices = sf
        .create_many(
            "Invoice__c",
            (0..INVOICES)
                .map(|i| json!({ "Name": format!("INV-{i:05}"), "Amount__c": 10 + i, "Status__c": "Draft",
                                 "Project__c": projects[i % PROJECTS] }))
                .collect(),
        )
        .map_err(|e| failed("seeding invoices", e))?;
    say(format!(
        "Salesforce holds {PROJECTS} projects and {INVOICES} invoices"
    ));

    // 4. The local pipeline.
    let org = SalesforceId::parse(&sf.org_id()).map_err(|e| failed("the org id", e))?;
    let salesforce_client = Arc::new(
        SalesforceClient::new(SalesforceClientConfig::new(
            &salesforce.base_url(),
            ApiVersion::parse("60.0").map_err(|e| failed("the API version", e))?,
            SalesforceAuth::ClientCredentials {
                client_id: DEFAULT_CLIENT_ID.into(),
                client_secret: Secret::new(DEFAULT_CLIENT_SECRET),
            },
        ))
        .map_err(|e| failed("the Salesforce client", e))?,
    );
    let hubspot_client = Arc::new(
        HubSpotClient::new(
            HubSpotConfig::with_base_url(hubspot.base_url()),
            TokenSource::static_token(DEFAULT_TOKEN),
        )
        .map_err(|e| failed("the HubSpot client", e))?,
    );
    // 3. A fresh data directory with the example mappings applied as `mappings apply` does:
    // checked against the live schemas, stored with the objectTypeIds and conversions resolved.
    let dir = data_dir();
    let backend = Backend::open(&dir, 5)?;
    let report = validate_sources(&[(
        "examples/demo/mappings.toml".to_owned(),
        MAPPINGS.to_owned(),
    )]);
    let schemas = HubSpotSchemaSource::new(salesforce_client.clone(), (*hubspot_client).clone());
    let checked = check_live(&report.mappings, &schemas).await;
    let errors: Vec<String> = report
        .problems
        .iter()
        .chain(&checked.problems)
        .filter(|p| p.severity == Severity::Error)
        .map(ToString::to_string)
        .collect();
    if !errors.is_empty() {
        return Err(failed("the demo mappings", errors.join("\n")));
    }
    for (located, resolved) in report.mappings.iter().zip(checked.resolved) {
        let mapping = Mapping {
            resolved,
            ..located.mapping.clone()
        };
        backend.mappings.put(&mapping, None).await?;
    }
    say(format!(
        "applied examples/demo/mappings.toml ({} mappings) in {}",
        report.mappings.len(),
        dir.display()
    ));

    let clients = Clients {
        ingest: IngestSettings {
            org_id: org.clone(),
            endpoint_token: sf2hs_shared::ingest::EndpointToken::fixed(ENDPOINT_TOKEN),
            max_body_bytes: sf2hs_shared::salesforce::intake::outbound::DEFAULT_MAX_BODY_BYTES,
            events: EventOptions {
                org_id: Some(org.clone()),
                accept_unsourced: false,
                echo_clients: Vec::new(),
                platform_events: Vec::new(),
            },
        },
        hubspot: hubspot_client.clone(),
        salesforce: salesforce_client.clone(),
        worker: WorkerSettings {
            retry_delay: Duration::from_secs(1),
            association_retry_delay: Duration::from_secs(1),
            ..WorkerSettings::default()
        },
    };
    let running = serve::start(
        &backend,
        &clients,
        "127.0.0.1:0".parse().map_err(|e| failed("address", e))?,
        2,
        false,
    )
    .await?;
    let base = format!("http://{}", running.address);
    say(format!("local pipeline (sf2hs serve) on {base}"));

    // 5. Import the existing records.
    let importer = Importer {
        mappings: backend.mappings.clone(),
        jobs: backend.jobs.clone(),
        queue: backend.backfill.clone(),
        pages: salesforce_client.clone(),
        org_id: org.clone(),
        files: None,
    };
    let import_started = Instant::now();
    for object in ["Project__c", "Invoice__c"] {
        let job = importer
            .start(object)
            .await
            .map_err(|e| failed("starting an import", e))?;
        say(format!(
            "import {object}: {} records counted, job {}",
            job.total.unwrap_or(0),
            job.id
        ));
        let far = Instant::now() + Duration::from_secs(3600);
        match importer
            .run(&job.id, far)
            .await
            .map_err(|e| failed("importing", e))?
        {
            ImportProgress::AllSent(job)
            | ImportProgress::Paused(job)
            | ImportProgress::Waiting { job, .. } => {
                say(format!(
                    "import {object}: {} records sent to the queue",
                    job.enqueued
                ));
            }
        }
    }
    let left = settle(&salesforce, &hubspot).await;
    say(format!(
        "import: HubSpot matched Salesforce {:.1} s after the start ({} mismatches)",
        import_started.elapsed().as_secs_f64(),
        left.len()
    ));

    // 6. Live changes: creates and updates as outbound messages, budget changes and deletes
    // through CDC.
    let live_started = Instant::now();
    let sequence = sf.changes_after(0).last().map_or(0, |c| c.sequence);
    let new_invoices = sf
        .create_many(
            "Invoice__c",
            (0..100)
                .map(|i| {
                    json!({ "Name": format!("NEW-{i:03}"), "Amount__c": 5 + i, "Status__c": "Sent",
                                 "Project__c": projects[(i * 7) % PROJECTS] })
                })
                .collect(),
        )
        .map_err(|e| failed("creating invoices", e))?;
    for (n, invoice) in invoices.iter().take(150).enumerate() {
        let status = if n % 2 == 0 { "Paid" } else { "Sent" };
        sf.update(
            "Invoice__c",
            invoice,
            json!({ "Status__c": status, "Amount__c": 99 + n }),
        )
        .map_err(|e| failed("updating invoices", e))?;
    }
    let outbound_url = format!("{base}/outbound/{ENDPOINT_TOKEN}");
    let mut touched: Vec<String> = new_invoices.clone();
    touched.extend(invoices.iter().take(150).cloned());
    let report = OutboundSender::new(
        sf.clone(),
        OutboundMessageConfig::new(
            &outbound_url,
            "Invoice__c",
            &["Name", "Amount__c", "Status__c", "Project__c"],
        ),
    )
    .map_err(|e| failed("the outbound sender", e))?
    .send(&touched)
    .await
    .map_err(|e| failed("delivering outbound messages", e))?;
    let deliveries = report.messages.len();
    for (n, project) in projects.iter().take(20).enumerate() {
        sf.update("Project__c", project, json!({ "Budget__c": 5000 + n }))
            .map_err(|e| failed("updating projects", e))?;
    }
    for project in projects.iter().skip(PROJECTS - 10) {
        sf.delete("Project__c", project)
            .map_err(|e| failed("deleting projects", e))?;
    }
    let events: Vec<Value> = change_events(&sf, &CdcRelayConfig::default(), sequence)
        .into_iter()
        .filter(|e| e["detail-type"] == "Project__ChangeEvent")
        .collect();
    let statuses = post_events_with(
        &format!("{base}/events"),
        &events,
        Some((EVENTS_TOKEN_HEADER, ENDPOINT_TOKEN)),
    )
    .await
    .map_err(|e| failed("relaying CDC events", e))?;
    let refused = statuses.iter().filter(|s| **s != 200).count();
    say(format!(
        "live: {} outbound messages ({} notifications, {} acked) and {} CDC events ({} refused)",
        deliveries,
        touched.len(),
        report.messages.iter().filter(|m| m.acked).count(),
        events.len(),
        refused
    ));
    let problems = settle(&salesforce, &hubspot).await;
    let live_took = live_started.elapsed();
    running.stop().await?;

    // 7. What happened.
    let hub_stats = hubspot
        .handle()
        .stats()
        .map_err(|e| failed("HubSpot statistics", e))?;
    let sf_stats = sf.stats().map_err(|e| failed("Salesforce statistics", e))?;
    let failures = backend
        .log
        .query(&SyncLogQuery {
            outcomes: vec![SyncOutcome::Failed, SyncOutcome::DeadLettered],
            ..SyncLogQuery::default()
        })
        .await?
        .len();
    // What Salesforce holds now, read from the org rather than from what the demo meant to do.
    let live = |object: &str| {
        sf.records(object)
            .unwrap_or_default()
            .iter()
            .filter(|r| r.deleted_date.is_none())
            .count()
    };
    let summary = json!({
        "salesforce": { "projects": live("Project__c"), "invoices": live("Invoice__c") },
        "hubspot": {
            "projects": hubspot.handle().count("sf_project").unwrap_or(0),
            "invoices": hubspot.handle().count("sf_invoice").unwrap_or(0),
            "calls": hub_stats.total_requests,
            "rate_limited": hub_stats.rate_limited_429,
        },
        "salesforce_calls": sf_stats.total_requests,
        "live_phase_seconds": live_took.as_secs_f64(),
        "mismatches": problems,
        "sync_failures_logged": failures,
        "data_dir": dir.display().to_string(),
        "seconds": started.elapsed().as_secs_f64(),
    });
    if json {
        print_json(&summary);
    } else {
        print_summary(&summary, &problems, &dir);
    }
    if keep_open {
        let org_id = SalesforceId::parse(&sf.org_id()).ok();
        let console = crate::console::Console::new(&backend, org_id)
            .with_salesforce(salesforce_client.clone());
        out!("");
        out!("The sandboxes stay up and the console shows this run; Ctrl-C ends the demo.");
        crate::console::run(console, std::net::SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    }
    salesforce.shutdown().await;
    hubspot.shutdown().await;
    Ok(if problems.is_empty() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(1)
    })
}

fn print_summary(summary: &Value, problems: &[String], dir: &Path) {
    out!("");
    out!(
        "Salesforce: {} projects, {} invoices   HubSpot: {} projects, {} invoices",
        summary["salesforce"]["projects"],
        summary["salesforce"]["invoices"],
        summary["hubspot"]["projects"],
        summary["hubspot"]["invoices"]
    );
    out!(
        "HubSpot calls: {} ({} refused by its rate limit); Salesforce API calls: {}",
        summary["hubspot"]["calls"],
        summary["hubspot"]["rate_limited"],
        summary["salesforce_calls"]
    );
    out!(
        "live changes were all in HubSpot {:.1} s after the first one was sent; whole demo {:.1} s",
        summary["live_phase_seconds"].as_f64().unwrap_or(0.0),
        summary["seconds"].as_f64().unwrap_or(0.0)
    );
    out!(
        "sync failures logged (retried or parked): {}",
        summary["sync_failures_logged"]
    );
    if problems.is_empty() {
        out!("every record in HubSpot matches Salesforce, associations included");
    } else {
        out!("{} records do not match:", problems.len());
        for problem in problems.iter().take(20) {
            out!("  {problem}");
        }
    }
    out!("");
    out!("Look closer:");
    out!("  sf2hs --data-dir {} status", dir.display());
    out!("  sf2hs --data-dir {} import list", dir.display());
    out!("  sf2hs --data-dir {} health", dir.display());
    out!(
        "  sf2hs --data-dir {} console      # in the browser",
        dir.display()
    );
}
