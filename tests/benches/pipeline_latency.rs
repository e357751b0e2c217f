//! End-to-end latency of the deployed shape, run locally: Salesforce sandbox outbound messages
//! → ingest (Function URL handler) → SQS on moto → worker (event source mapping) → HubSpot
//! sandbox. For each change: from the instant ingest acknowledged it (the change is on SQS) to
//! the instant the HubSpot sandbox stored the record (its `updatedAt`).
//!
//! `cargo bench -p sf2hs-tests --bench pipeline_latency` (needs the moto venv that
//! `scripts/test` installs). `SF2HS_BENCH_CHANGES` (default 1000) and `SF2HS_BENCH_RATE`
//! (changes per second, default 100) size the run. One worker invocation at a time.

#[path = "../tests/it/common_pipeline/mod.rs"]
mod common_pipeline;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common_pipeline::Pipeline;
use lambda_runtime::LambdaEvent;
use serde_json::json;
use sf2hs_shared::domain::SalesforceId;
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

    // One notification per message, paced at `rate` messages per second.
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
    done.store(true, Ordering::Relaxed);
    let _ = worker.await;
    let total = started.elapsed();

    let latencies = sf2hs_tests::write_latencies(&hubspot, "sf_project", &acked);
    let stats = hubspot.stats().expect("stats");
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
        "worker invocations: {}, {:.0} ms each on average ({:.2} ms per change)",
        durations.len(),
        busy.as_secs_f64() * 1000.0 / durations.len().max(1) as f64,
        busy.as_secs_f64() * 1000.0 / changes as f64
    );
    // What the cost model counts: each function's AWS requests (every attempt), per 1,000
    // changes, as the SDK sent them.
    for (function, log) in &pipeline.calls {
        let per_thousand = |n: u64| n as f64 * 1000.0 / changes as f64;
        let operations: Vec<String> = log
            .by_operation()
            .into_iter()
            .map(|(operation, n)| {
                format!(
                    "{operation} {:.1} ({:.0} items)",
                    per_thousand(n.requests),
                    per_thousand(n.items)
                )
            })
            .collect();
        println!(
            "{function}: {:.1} AWS requests per 1,000 changes ({})",
            per_thousand(log.total()),
            operations.join(", ")
        );
    }
}
