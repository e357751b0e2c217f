//! What a function's bootstrap binary costs: init time (process start until its first poll of
//! the Runtime API), peak RSS, and for the worker the CPU time per record, measured on the real
//! binary under the local Runtime API with moto and the sandboxes (their CPU is not counted: they
//! run in other processes or in this one, not in the bootstrap's).
//!
//! `cargo build --release --locked -p sf2hs-worker -p sf2hs-ingest -p sf2hs-import` first, then
//! `cargo bench --profile dev -p sf2hs-tests --bench bootstrap_cost`.
//! `SF2HS_BENCH_BIN_DIR` (default `target/release`) says where the binaries are;
//! `SF2HS_BENCH_RECORDS` (default 2000) how many changes the worker takes.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sf2hs_shared::domain::{Change, ChangeKind, ChangeSource, SalesforceId};
use sf2hs_shared::ports::ChangeQueue;
use sf2hs_tests::event_source::EventSource;
use sf2hs_tests::process_usage as usage;
use sf2hs_tests::runtime_api::{Bootstrap, Outcome, RuntimeApi};
use sf2hs_tests::stack::Stack;

fn binary(name: &str) -> PathBuf {
    let dir = std::env::var("SF2HS_BENCH_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release"));
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: cargo build --release --locked -p sf2hs-worker -p sf2hs-ingest -p sf2hs-import",
        path.display()
    );
    path
}

/// A function's bootstrap under a Runtime API of its own, once it first polls for work; and its
/// init time (process start to that poll).
async fn start(stack: &Stack, name: &str) -> (RuntimeApi, Bootstrap, Duration) {
    let api = RuntimeApi::start(name).await.expect("runtime API");
    let spawned = Instant::now();
    let bootstrap = Bootstrap::spawn(&binary(name), &api, name, &stack.env).expect("bootstrap");
    while api.first_poll().is_none() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let init = api.first_poll().map(|t| t - spawned).unwrap_or_default();
    (api, bootstrap, init)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let records: usize = sf2hs_tests::env_number("SF2HS_BENCH_RECORDS", 2_000);
    let stack = Stack::start("bootstrap-cost").await;

    // Ingest: init and RSS at rest.
    let (_ingest_api, ingest, ingest_init) = start(&stack, "sf2hs-ingest").await;
    let (_, ingest_rss) = usage(ingest.id().expect("pid"));
    println!(
        "ingest: init {:.0} ms (process start to first poll, with Secrets Manager and SQS on moto), peak RSS {} KiB",
        ingest_init.as_secs_f64() * 1000.0,
        ingest_rss
    );
    drop(ingest);

    // Worker: `records` full-state changes, batches of 100.
    let handle = stack.salesforce.handle();
    let ids = handle
        .create_many(
            "Project__c",
            (0..records)
                .map(|i| json!({ "Name": format!("Cost {i}"), "Budget__c": i }))
                .collect(),
        )
        .expect("seeded");
    let org = SalesforceId::parse(&handle.org_id()).expect("org");
    let changes: Vec<Change> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| Change {
            org_id: org.clone(),
            object: "Project__c".into(),
            record_id: SalesforceId::parse(id).expect("id"),
            kind: ChangeKind::Upsert {
                fields: [
                    ("Name".to_owned(), Value::from(format!("Cost {i}"))),
                    ("Budget__c".to_owned(), Value::from(i.to_string())),
                ]
                .into_iter()
                .collect(),
            },
            modstamp: Some(chrono::Utc::now()),
            source: ChangeSource::Worker,
            received_at: chrono::Utc::now(),
            prior_deliveries: 0,
        })
        .collect();
    stack.queue.send_batch(&changes).await.expect("queued");

    let (api, worker, worker_init) = start(&stack, "sf2hs-worker").await;
    let pid = worker.id().expect("pid");
    let (init_cpu, _) = usage(pid);
    let source = EventSource::new(&stack.connection, stack.queue.queue_url()).await;
    let started = Instant::now();
    let mut invocations = 0;
    loop {
        let poll = source
            .poll(|payload| async {
                match api.invoke(payload, Duration::from_secs(120)).await? {
                    Outcome::Response(answer) => Ok(answer),
                    Outcome::Error(e) => Err(e.to_string()),
                }
            })
            .await;
        if poll.received == 0 {
            break;
        }
        invocations += 1;
    }
    let wall = started.elapsed();
    let (cpu, worker_rss) = usage(pid);
    let busy = cpu.saturating_sub(init_cpu);
    let written = stack.hubspot.handle().count("sf_project").expect("count");
    println!(
        "worker: init {:.0} ms, peak RSS {} KiB; {written} of {records} records written in {invocations} invocations, {:.1} s wall",
        worker_init.as_secs_f64() * 1000.0,
        worker_rss,
        wall.as_secs_f64()
    );
    println!(
        "worker CPU after init: {} ms in all, {:.3} ms per record, {:.0} ms per 100-record batch",
        busy.as_millis(),
        busy.as_secs_f64() * 1000.0 / records.max(1) as f64,
        busy.as_secs_f64() * 1000.0 * 100.0 / records.max(1) as f64
    );
    drop(worker);

    // Import: init, then a backfill of the same projects (one Bulk API 2.0 job above 2,000
    // records, REST pages below) onto the backfill queue, started and run as the CLI invokes it.
    let (api, import, import_init) = start(&stack, "sf2hs-import").await;
    let pid = import.id().expect("pid");
    let (init_cpu, _) = usage(pid);
    let invoke = |payload: Value| {
        let api = &api;
        async move {
            match api
                .invoke(payload, Duration::from_secs(900))
                .await
                .expect("invoked")
            {
                Outcome::Response(answer) => answer,
                Outcome::Error(e) => panic!("the import failed: {e}"),
            }
        }
    };
    let started = Instant::now();
    let job = invoke(json!({ "action": "start", "object": "Project__c" })).await;
    let job_id = job["job"]["id"].as_str().expect("job id").to_owned();
    let run = invoke(json!({ "action": "run", "job_id": job_id })).await;
    let wall = started.elapsed();
    let (cpu, import_rss) = usage(pid);
    println!(
        "import: init {:.0} ms, peak RSS {} KiB; {} records sent ({}) in {:.1} s wall, CPU after \
         init {} ms ({:.3} ms per record)",
        import_init.as_secs_f64() * 1000.0,
        import_rss,
        run["job"]["enqueued"],
        run["state"],
        wall.as_secs_f64(),
        cpu.saturating_sub(init_cpu).as_millis(),
        cpu.saturating_sub(init_cpu).as_secs_f64() * 1000.0 / records.max(1) as f64
    );
    drop(import);
}
