//! End-to-end latency of the deployed shape, run locally: Salesforce sandbox outbound messages
//! → ingest (Function URL handler) → SQS on moto → worker (event source mapping) → HubSpot
//! sandbox. For each change: from the instant ingest acknowledged it (the change is on SQS) to
//! the instant the HubSpot sandbox stored the record (its `updatedAt`).
//!
//! `cargo bench -p sf2hs-tests --bench pipeline_latency` (needs the moto venv that
//! `scripts/test` installs). `SF2HS_BENCH_CHANGES` (default 1000) and `SF2HS_BENCH_RATE`
//! (changes per second, default 100) size the run; `SF2HS_BENCH_BATCHING_WINDOW_MS` is the
//! event source's batching window (default 1,000, the SAM template's live queue). One worker
//! invocation at a time.
//!
//! Two passes over the same records: first syncs (each record new to HubSpot and to the index),
//! then updates (each record changed once). For each, the AWS requests each function sent and
//! the DynamoDB write units they were billed (sized from the items sent and replaced, by AWS's
//! rules: `sf2hs_shared::aws::write_units`), per 1,000 changes: what `docs/deploy.md`'s cost
//! model is built from.

#[path = "../tests/it/common_pipeline/mod.rs"]
mod common_pipeline;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common_pipeline::Pipeline;
use lambda_runtime::LambdaEvent;
use serde_json::json;
use sf2hs_sandbox::salesforce::senders::outbound::OutboundSender;
use sf2hs_shared::aws::calls::CallCount;
use sf2hs_shared::domain::SalesforceId;
use sf2hs_shared::ports::ChangeQueue;
use sf2hs_tests::function_url;
use sf2hs_tests::stack::Stack;
use sf2hs_tests::{env_number, percentile};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let changes = env_number("SF2HS_BENCH_CHANGES", 1_000) as usize;
    let rate = env_number("SF2HS_BENCH_RATE", 100).max(1);
    // The worker's index writes in flight, to see what they change.
    let mut options = common_pipeline::Options::default();
    if let Ok(n) = std::env::var("SF2HS_INDEX_WRITES_IN_FLIGHT") {
        options
            .env
            .push(("SF2HS_INDEX_WRITES_IN_FLIGHT".to_owned(), n));
    }
    // The live queue's event source gathers as the SAM template says (1 s), unless told.
    options.live_batching_window =
        Duration::from_millis(env_number("SF2HS_BENCH_BATCHING_WINDOW_MS", 1_000));
    let pipeline = Arc::new(Pipeline::start_with("latency", options).await);
    let handle = pipeline.stack.salesforce.handle();
    let records = (0..changes)
        .map(|i| json!({ "Name": format!("Latency {i}"), "Budget__c": i }))
        .collect();
    let ids = handle.create_many("Project__c", records).expect("seeded");
    let sender = pipeline.sender("Project__c", &["Name", "Budget__c"]);

    let done = Arc::new(AtomicBool::new(false));
    let worker = {
        let pipeline = pipeline.clone();
        let done = done.clone();
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                if pipeline.work_once().await == 0 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        })
    };

    // Pass 1: first syncs.
    let started = Instant::now();
    let acked = send(&pipeline, &sender, &ids, rate).await;
    let sent_in = started.elapsed();

    // Wait for every record to be written.
    let hubspot = pipeline.stack.hubspot.handle();
    let wait_from = Instant::now();
    loop {
        if hubspot.count("sf_project").expect("count") >= changes {
            break;
        }
        assert!(
            wait_from.elapsed() < Duration::from_secs(600),
            "not every change reached HubSpot"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let total = started.elapsed();
    settle(&pipeline).await;
    // Pass 1's latencies, before pass 2 writes the records again.
    let latencies = sf2hs_tests::write_latencies(&hubspot, "sf_project", &acked);
    let stats = hubspot.stats().expect("stats");
    let first_syncs: Vec<(&str, BTreeMap<String, CallCount>)> = pipeline
        .calls
        .iter()
        .map(|(function, log)| (*function, log.by_operation()))
        .collect();

    // Pass 2: one update of each record.
    for (n, id) in ids.iter().enumerate() {
        handle
            .update(
                "Project__c",
                id,
                json!({ "Name": format!("Latency {n} updated") }),
            )
            .expect("updated");
    }
    let updates_from = Utc::now();
    let _ = send(&pipeline, &sender, &ids, rate).await;
    let wait_from = Instant::now();
    loop {
        let updated = hubspot
            .records("sf_project")
            .expect("records")
            .iter()
            .filter(|r| {
                chrono::DateTime::parse_from_rfc3339(&r.updated_at)
                    .is_ok_and(|at| at >= updates_from)
            })
            .count();
        if updated >= changes {
            break;
        }
        assert!(
            wait_from.elapsed() < Duration::from_secs(600),
            "not every update reached HubSpot"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    settle(&pipeline).await;
    done.store(true, Ordering::Relaxed);
    let _ = worker.await;

    println!(
        "changes {changes} at {rate}/s (sent in {:.1} s, all written after {:.1} s)",
        sent_in.as_secs_f64(),
        total.as_secs_f64()
    );
    println!(
        "ingest ack → HubSpot written: p50 {} ms, p90 {} ms, p99 {} ms, max {} ms ({} measured)",
        percentile(&latencies, 50.0),
        percentile(&latencies, 90.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or(0),
        latencies.len()
    );
    println!("HubSpot sandbox: {stats:?}");
    let durations = pipeline
        .worker_invocations
        .lock()
        .map(|d| d.clone())
        .unwrap_or_default();
    let busy: Duration = durations.iter().sum();
    println!(
        "worker invocations (both passes): {}, {:.0} ms each on average ({:.2} ms per change)",
        durations.len(),
        busy.as_secs_f64() * 1000.0 / durations.len().max(1) as f64,
        busy.as_secs_f64() * 1000.0 / (2 * changes) as f64
    );
    // What the cost model counts: each function's AWS requests (every attempt) and DynamoDB
    // write units, per 1,000 changes, as the SDK sent them.
    let per_thousand = |n: u64| n as f64 * 1000.0 / changes as f64;
    for phase in ["first syncs", "updates"] {
        let mut units = 0;
        for (function, log) in &pipeline.calls {
            let first: BTreeMap<String, CallCount> = first_syncs
                .iter()
                .find(|(f, _)| f == function)
                .map(|(_, c)| c.clone())
                .unwrap_or_default();
            let counts = if phase == "first syncs" {
                first
            } else {
                // Everything since the first pass ended.
                let mut now = log.by_operation();
                for (operation, count) in now.iter_mut() {
                    if let Some(old) = first.get(operation) {
                        count.requests -= old.requests;
                        count.items -= old.items;
                        count.write_units -= old.write_units;
                    }
                }
                now
            };
            let operations: Vec<String> = counts
                .iter()
                .filter(|(_, n)| n.requests > 0)
                .map(|(operation, n)| {
                    let units = if n.write_units > 0 {
                        format!(", {:.0} WRU", per_thousand(n.write_units))
                    } else {
                        String::new()
                    };
                    format!(
                        "{operation} {:.1} ({:.0} items{units})",
                        per_thousand(n.requests),
                        per_thousand(n.items)
                    )
                })
                .collect();
            let requests: u64 = counts.values().map(|n| n.requests).sum();
            units += counts.values().map(|n| n.write_units).sum::<u64>();
            println!(
                "{phase}, {function}: {:.1} AWS requests per 1,000 changes ({})",
                per_thousand(requests),
                operations.join(", ")
            );
        }
        println!(
            "{phase}: {:.0} DynamoDB write units per 1,000 changes",
            per_thousand(units)
        );
    }
}

/// One notification per message, paced at `rate` messages per second; when ingest acknowledged
/// each record's change.
async fn send(
    pipeline: &Pipeline,
    sender: &OutboundSender,
    ids: &[String],
    rate: u64,
) -> HashMap<String, DateTime<Utc>> {
    let started = Instant::now();
    let mut acked: HashMap<String, DateTime<Utc>> = HashMap::new();
    let path = format!("/outbound/{}", sf2hs_tests::stack::ENDPOINT_TOKEN);
    let uri: axum::http::Uri = path.parse().expect("uri");
    for (n, id) in ids.iter().enumerate() {
        let due = started + Duration::from_secs_f64(n as f64 / rate as f64);
        tokio::time::sleep_until(due.into()).await;
        let xml = sender
            .render(&[(format!("04l{n:012}AAA"), id.clone())])
            .expect("rendered");
        let event = function_url::event(
            &axum::http::Method::POST,
            &uri,
            &axum::http::HeaderMap::new(),
            xml.as_bytes(),
        );
        let answer = pipeline
            .ingest
            .handle(LambdaEvent::new(
                event,
                Stack::context(Duration::from_secs(30)),
            ))
            .await
            .expect("ingested");
        assert_eq!(answer["statusCode"], 200, "{answer}");
        acked.insert(
            SalesforceId::parse(id).expect("id").as_str().to_owned(),
            Utc::now(),
        );
    }
    acked
}

/// Waits until the worker has settled everything (its index writes and sync log come after
/// HubSpot's write), so that each pass's requests are counted in that pass.
async fn settle(pipeline: &Pipeline) {
    loop {
        let depth = pipeline.stack.queue.depth().await.expect("depth");
        if depth.visible + depth.in_flight + depth.delayed == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
