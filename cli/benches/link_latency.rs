//! Lookup-before-target link latency on the local pipeline (issue 17, defect 2): invoices reach
//! `sf2hs serve` before the projects their lookups point to, so each is written and waits; then
//! the projects arrive, one outbound message each. For each invoice: from the instant serve
//! acknowledged its project to the instant the sandbox shows the invoice linked to it.
//!
//! serve runs with its defaults: a waiting record's own retry comes after
//! `SF2HS_ASSOCIATION_RETRY_DELAY_SECONDS` (60 s); the pending-association index is what links
//! it sooner.
//!
//! `cargo bench -p sf2hs-cli --bench link_latency`; `SF2HS_BENCH_INVOICES` (default 200),
//! `SF2HS_BENCH_PROJECTS` (default 50), `SF2HS_BENCH_RATE` (projects per second, default 10).

use std::collections::HashMap;
use std::net::TcpListener;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;
use sf2hs_sandbox::hubspot::SandboxConfig;
use sf2hs_sandbox::salesforce::senders::outbound::{OutboundMessageConfig, OutboundSender};
use sf2hs_shared::domain::SalesforceId;
use sf2hs_tests::stack::{ENDPOINT_TOKEN, local_credentials};
use sf2hs_tests::{env_number, percentile};

const BINARY: &str = env!("CARGO_BIN_EXE_sf2hs");

fn id18(id: &str) -> String {
    SalesforceId::parse(id).expect("id").as_str().to_owned()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let invoices_wanted: usize = env_number("SF2HS_BENCH_INVOICES", 200);
    let projects_wanted: usize = env_number("SF2HS_BENCH_PROJECTS", 50).max(1);
    let rate: u64 = env_number("SF2HS_BENCH_RATE", 10).max(1);

    let (salesforce, hubspot) = sf2hs_sandbox::demo::start_pair(SandboxConfig::default())
        .await
        .expect("sandboxes");
    let handle = salesforce.handle();
    let projects = handle
        .create_many(
            "Project__c",
            (0..projects_wanted)
                .map(|i| json!({ "Name": format!("P{i}"), "Budget__c": i }))
                .collect(),
        )
        .expect("projects");
    let invoices = handle
        .create_many(
            "Invoice__c",
            (0..invoices_wanted)
                .map(|i| {
                    json!({ "Name": format!("I{i}"), "Amount__c": i, "Status__c": "Sent",
                            "Project__c": projects[i % projects_wanted] })
                })
                .collect(),
        )
        .expect("invoices");

    let (_dir, data_dir) =
        sf2hs_tests::stack::cli_data_dir(BINARY, "link-latency", &salesforce, &hubspot);
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut serve = tokio::process::Command::new(BINARY)
        .arg("--data-dir")
        .arg(&data_dir)
        .envs(local_credentials(&salesforce, &hubspot))
        .env("SF2HS_ORG_ID", handle.org_id())
        .env("SF2HS_ENDPOINT_TOKEN_SECRET", "endpoint-token")
        .env("SF2HS_SECRET_ENDPOINT_TOKEN", ENDPOINT_TOKEN)
        .args(["serve", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("serve starts");
    sf2hs_tests::wait_listening(&format!("127.0.0.1:{port}")).await;
    let url = format!("http://127.0.0.1:{port}/outbound/{ENDPOINT_TOKEN}");

    // The invoices first: written, each waiting for its project.
    let report = OutboundSender::new(
        handle.clone(),
        OutboundMessageConfig::new(
            &url,
            "Invoice__c",
            &["Name", "Amount__c", "Status__c", "Project__c"],
        ),
    )
    .expect("sender")
    .send(&invoices)
    .await
    .expect("delivered");
    assert!(report.all_acked(), "{report:?}");
    let hub = hubspot.handle();
    let started = Instant::now();
    while hub.count("sf_invoice").expect("count") < invoices_wanted {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "invoices not written"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Their association attempts have failed and they wait.
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Each invoice's link, seen by polling the sandbox while the projects go out.
    let invoice_ids: Vec<(u64, String)> = invoices
        .iter()
        .enumerate()
        .map(|(i, invoice)| {
            let record = hub
                .record_by_unique("sf_invoice", "salesforce_id", &id18(invoice))
                .expect("read")
                .expect("written");
            (record.id, projects[i % projects_wanted].clone())
        })
        .collect();
    let poller = {
        let (hub, invoice_ids) = (hub.clone(), invoice_ids.clone());
        tokio::spawn(async move {
            let mut linked_at: HashMap<usize, Instant> = HashMap::new();
            let waiting_from = Instant::now();
            while linked_at.len() < invoice_ids.len()
                && waiting_from.elapsed() < Duration::from_secs(300)
            {
                for (n, (hubspot_id, _)) in invoice_ids.iter().enumerate() {
                    if linked_at.contains_key(&n) {
                        continue;
                    }
                    let linked = !hub
                        .associations_of("sf_invoice", *hubspot_id, "sf_project")
                        .expect("associations")
                        .is_empty();
                    if linked {
                        linked_at.insert(n, Instant::now());
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            linked_at
        })
    };

    // The projects, one message each, paced; the clock of each starts at its ack.
    let mut project_sender = OutboundSender::new(
        handle.clone(),
        OutboundMessageConfig::new(&url, "Project__c", &["Name", "Budget__c"]),
    )
    .expect("sender");
    let mut acked: HashMap<String, Instant> = HashMap::new();
    let pace = Duration::from_millis(1000 / rate);
    for project in &projects {
        let report = project_sender
            .send(std::slice::from_ref(project))
            .await
            .expect("delivered");
        assert!(report.all_acked(), "{report:?}");
        acked.insert(project.clone(), Instant::now());
        tokio::time::sleep(pace).await;
    }
    let linked_at = poller.await.expect("poller");
    let _ = serve.kill().await;
    let mut latencies: Vec<i64> = invoice_ids
        .iter()
        .enumerate()
        .filter_map(|(n, (_, project))| {
            let linked = linked_at.get(&n)?;
            let acked = acked.get(project)?;
            Some(linked.saturating_duration_since(*acked).as_millis() as i64)
        })
        .collect();
    latencies.sort_unstable();
    println!(
        "{invoices_wanted} invoices written before their {projects_wanted} projects (sent at \
         {rate}/s); {} of {} linked within 300 s",
        latencies.len(),
        invoices_wanted
    );
    println!(
        "project ack → invoice linked: p50 {} ms, p90 {} ms, p99 {} ms, max {} ms",
        percentile(&latencies, 50.0),
        percentile(&latencies, 90.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or(0),
    );
}
