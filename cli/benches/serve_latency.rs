//! Ingest → HubSpot latency on the local pipeline: `sf2hs serve` (the real binary, embedded
//! queue and store, its local workers) takes outbound messages over HTTP from several
//! concurrent senders, paced together at a given rate, and writes to the HubSpot sandbox
//! (190 requests / 10 s). For each change: from the instant serve acknowledged it (it is on the
//! queue) to the record's `updatedAt` in the HubSpot sandbox.
//!
//! `cargo bench -p sf2hs-cli --bench serve_latency`; `SF2HS_BENCH_CHANGES` (default 10,000),
//! `SF2HS_BENCH_RATE` (changes per second, default 1,000), `SF2HS_BENCH_SENDERS` (concurrent
//! HTTP senders, default 16), `SF2HS_BENCH_NOTIFICATIONS` (notifications per message, default
//! 1), `SF2HS_BENCH_WORKERS` (serve's `--workers`, default 2) size the run.

use std::collections::HashMap;
use std::net::TcpListener;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::json;
use sf2hs_sandbox::hubspot::SandboxConfig;
use sf2hs_sandbox::salesforce::senders::outbound::{OutboundMessageConfig, OutboundSender};
use sf2hs_shared::domain::SalesforceId;
use sf2hs_tests::stack::{ENDPOINT_TOKEN, local_credentials};
use sf2hs_tests::{env_number, percentile};

const BINARY: &str = env!("CARGO_BIN_EXE_sf2hs");

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let changes = env_number("SF2HS_BENCH_CHANGES", 10_000);
    let rate = env_number("SF2HS_BENCH_RATE", 1_000).max(1);
    let senders = env_number("SF2HS_BENCH_SENDERS", 16).max(1);
    let per_message = env_number("SF2HS_BENCH_NOTIFICATIONS", 1).clamp(1, 100);
    let workers = env_number("SF2HS_BENCH_WORKERS", 2).max(1);

    let (salesforce, hubspot) = sf2hs_sandbox::demo::start_pair(SandboxConfig::default())
        .await
        .expect("sandboxes");
    let handle = salesforce.handle();
    let ids = handle
        .create_many(
            "Project__c",
            (0..changes)
                .map(|i| json!({ "Name": format!("Latency {i}"), "Budget__c": i }))
                .collect(),
        )
        .expect("seeded");

    let (_dir, data_dir) =
        sf2hs_tests::stack::cli_data_dir(BINARY, "serve-latency", &salesforce, &hubspot);
    let mut env: Vec<(String, String)> = local_credentials(&salesforce, &hubspot)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    env.push(("SF2HS_ORG_ID".to_owned(), handle.org_id()));
    env.push((
        "SF2HS_ENDPOINT_TOKEN_SECRET".to_owned(),
        "endpoint-token".to_owned(),
    ));
    env.push((
        "SF2HS_SECRET_ENDPOINT_TOKEN".to_owned(),
        ENDPOINT_TOKEN.to_owned(),
    ));
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut serve = tokio::process::Command::new(BINARY)
        .arg("--data-dir")
        .arg(&data_dir)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .args(["serve", "--workers", &workers.to_string(), "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("serve starts");
    sf2hs_tests::wait_listening(&format!("127.0.0.1:{port}")).await;
    let url = format!("http://127.0.0.1:{port}/outbound/{ENDPOINT_TOKEN}");

    // Rendered before the clock starts: Salesforce's work, not ours.
    let sender = OutboundSender::new(
        handle.clone(),
        OutboundMessageConfig::new(&url, "Project__c", &["Name", "Budget__c"]),
    )
    .expect("sender");
    let messages: Vec<(Vec<String>, String)> = ids
        .chunks(per_message)
        .enumerate()
        .map(|(m, chunk)| {
            let batch: Vec<(String, String)> = chunk
                .iter()
                .enumerate()
                .map(|(i, id)| (format!("04l{m:08}{i:04}AAA"), id.clone()))
                .collect();
            let ids = chunk
                .iter()
                .map(|id| SalesforceId::parse(id).expect("id").as_str().to_owned())
                .collect();
            (ids, sender.render(&batch).expect("rendered"))
        })
        .collect();
    let messages = Arc::new(messages);

    // Message m is due at m × per_message / rate; whichever sender is free takes the next one.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(senders)
        .build()
        .expect("client");
    let next = Arc::new(AtomicUsize::new(0));
    let acked: Arc<Mutex<HashMap<String, DateTime<Utc>>>> = Arc::default();
    let late = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..senders)
        .map(|_| {
            let (client, url, messages, next, acked, late) = (
                client.clone(),
                url.clone(),
                messages.clone(),
                next.clone(),
                acked.clone(),
                late.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let m = next.fetch_add(1, Ordering::Relaxed);
                    let Some((ids, xml)) = messages.get(m) else {
                        break;
                    };
                    let due =
                        started + Duration::from_secs_f64((m * per_message) as f64 / rate as f64);
                    if Instant::now() > due + Duration::from_millis(100) {
                        late.fetch_add(1, Ordering::Relaxed);
                    }
                    tokio::time::sleep_until(due.into()).await;
                    let answer = client
                        .post(&url)
                        .header("content-type", "text/xml; charset=utf-8")
                        .header("SOAPAction", "\"\"")
                        .body(xml.clone())
                        .send()
                        .await
                        .expect("serve answers");
                    let status = answer.status();
                    let body = answer.text().await.unwrap_or_default();
                    assert!(status.is_success(), "refused: {status} {body}");
                    let now = Utc::now();
                    let mut acked = acked.lock().expect("acks");
                    for id in ids {
                        acked.insert(id.clone(), now);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("sender");
    }
    let sent_in = started.elapsed();

    let hubspot_handle = hubspot.handle();
    let wait_from = Instant::now();
    while hubspot_handle.count("sf_project").expect("count") < changes {
        assert!(
            wait_from.elapsed() < Duration::from_secs(600),
            "not every change reached HubSpot"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let total = started.elapsed();
    let serve_usage = serve.id().map(sf2hs_tests::process_usage);
    let _ = serve.kill().await;

    let acked = acked.lock().expect("acks");
    let latencies = sf2hs_tests::write_latencies(&hubspot_handle, "sf_project", &acked);
    let stats = hubspot_handle.stats().expect("stats");
    println!(
        "changes {changes} asked at {rate}/s by {senders} senders, {per_message} per message, \
         serve --workers {workers}: sent in {:.1} s ({:.0}/s, {} messages started over 100 ms \
         late), all written after {:.1} s",
        sent_in.as_secs_f64(),
        changes as f64 / sent_in.as_secs_f64(),
        late.load(Ordering::Relaxed),
        total.as_secs_f64()
    );
    println!(
        "serve ack → HubSpot written: p50 {} ms, p90 {} ms, p99 {} ms, max {} ms ({} measured)",
        percentile(&latencies, 50.0),
        percentile(&latencies, 90.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or(0),
        latencies.len()
    );
    if let Some((cpu, peak_kib)) = serve_usage {
        println!(
            "serve CPU (user + system, ingest and workers): {:.2} s, {:.3} ms per change; \
             peak RSS {:.1} MiB",
            cpu.as_secs_f64(),
            cpu.as_secs_f64() * 1000.0 / changes as f64,
            peak_kib as f64 / 1024.0
        );
    }
    println!(
        "HubSpot upsert calls {} ({:.1} per 1,000 changes), refused by the limit {}",
        stats.total_requests,
        stats.total_requests as f64 * 1000.0 / changes as f64,
        stats.rate_limited_429
    );
}
