//! Sync throughput of the local pipeline against the HubSpot sandbox (190 requests / 10 s
//! enforced), side by side with a naive baseline that makes one HubSpot call per record, with
//! no batching and no limiter (it waits out each 429 as HubSpot's answer says, and goes on).
//!
//! sf2hs: full-state project changes (as outbound messages carry them) on the embedded queue,
//! drained by two workers with the worker Lambda's core, the production HubSpot client and the
//! record index; then the same changes again (unchanged), then an update of every record; then
//! partial CDC updates, which make the worker read the records from the Salesforce sandbox.
//! The naive baseline maps each record with the same engine and upserts it alone.
//!
//! `cargo bench --profile dev -p sf2hs-tests --bench sync_throughput`; `SF2HS_BENCH_RECORDS`
//! (default 20,000) and `SF2HS_BENCH_NAIVE_RECORDS` (default 1,000) size it. The dev profile:
//! HubSpot's rate limit bounds both, not our CPU.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use sf2hs_sandbox::hubspot::{DEFAULT_TOKEN, RunningSandbox, SandboxConfig};
use sf2hs_sandbox::salesforce::RunningSalesforceSandbox;
use sf2hs_shared::domain::{
    Change, ChangeKind, ChangeSource, FieldSnapshot, RereadReason, SalesforceId,
};
use sf2hs_shared::engine::map_record;
use sf2hs_shared::import::{ImportProgress, Importer};
use sf2hs_shared::mapping::Mapping;
use sf2hs_shared::ports::{ChangeQueue, ImportJobs, MappingStore};
use sf2hs_shared::worker::{Worker, WorkerSettings, drain_once};

/// HubSpot's ceiling: 190 calls of 100 records per 10 s.
const CEILING: f64 = 1_900.0;
/// Records that fill one 10 s window: 190 calls of 100.
const WARM_UP: usize = 19_000;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Phase {
    name: &'static str,
    records: usize,
    seconds: f64,
    /// From the phase's first HubSpot upsert to its last (`None` for the naive baseline): the
    /// sustained rate, without the wait for the window the warm-up left behind.
    sustained: Option<(f64, u64)>,
    hubspot_calls: u64,
    limiter_429s: u64,
    salesforce_calls: u64,
}

impl Phase {
    fn row(&self, who: &str) -> String {
        let per_second = self.records as f64 / self.seconds;
        // Between the first and the last call, all calls but one were answered: their records.
        let sustained = match self.sustained {
            Some((seconds, calls)) if calls > 1 && seconds > 0.0 => {
                let written = self.records as f64 * (calls - 1) as f64 / calls as f64;
                format!("{:.0} %", 100.0 * written / seconds / CEILING)
            }
            _ => "-".to_owned(),
        };
        format!(
            "| {who} | {} | {} | {:.1} | {:.0} | {:.0} % | {sustained} | {} | {:.1} | {:.1} |",
            self.name,
            self.records,
            self.seconds,
            per_second,
            100.0 * per_second / CEILING,
            self.limiter_429s,
            1_000.0 * self.hubspot_calls as f64 / self.records as f64,
            1_000.0 * self.salesforce_calls as f64 / self.records as f64,
        )
    }
}

struct Counters {
    hubspot: u64,
    hubspot_429: u64,
    salesforce: u64,
}

fn counters(salesforce: &RunningSalesforceSandbox, hubspot: &RunningSandbox) -> Counters {
    let hub = hubspot.handle().stats().expect("HubSpot stats");
    let sf = salesforce.handle().stats().expect("Salesforce stats");
    Counters {
        hubspot: hub.total_requests,
        hubspot_429: hub.rate_limited_429,
        salesforce: sf.total_requests,
    }
}

fn snapshot_change(
    org: &SalesforceId,
    modstamp: DateTime<Utc>,
    id: &str,
    name: &str,
    budget: usize,
) -> Change {
    let fields: FieldSnapshot = [
        ("Name".to_owned(), json!(name)),
        ("Budget__c".to_owned(), json!(budget)),
    ]
    .into_iter()
    .collect();
    Change {
        org_id: org.clone(),
        object: "Project__c".into(),
        record_id: SalesforceId::parse(id).expect("id"),
        kind: ChangeKind::Upsert { fields },
        modstamp: Some(modstamp),
        source: ChangeSource::Worker,
        received_at: Utc::now(),
        prior_deliveries: 0,
    }
}

async fn drain(worker: &Arc<Worker>, queue: &Arc<dyn ChangeQueue>) {
    // Two drain loops, as `sf2hs serve` runs by default (`SF2HS_BENCH_WORKERS` for more).
    let tasks: Vec<_> = (0..env_number("SF2HS_BENCH_WORKERS", 2).max(1))
        .map(|_| {
            let (worker, queue) = (worker.clone(), queue.clone());
            tokio::spawn(async move {
                let mut idle = 0;
                while idle < 3 {
                    let report = drain_once(
                        &worker,
                        queue.as_ref(),
                        100,
                        Duration::from_secs(120),
                        WorkerSettings::default().local_batch_window,
                    )
                    .await
                    .expect("drain");
                    if report.received == 0 {
                        idle += 1;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    } else {
                        idle = 0;
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("drain task");
    }
}

async fn sf2hs_phase(
    name: &'static str,
    changes: Vec<Change>,
    worker: &Arc<Worker>,
    queue: &Arc<dyn ChangeQueue>,
    salesforce: &RunningSalesforceSandbox,
    hubspot: &RunningSandbox,
) -> Phase {
    for chunk in changes.chunks(500) {
        queue.send_batch(chunk).await.expect("queued");
    }
    let before = counters(salesforce, hubspot);
    let started = Instant::now();
    // When the phase's first and last upserts were counted by the sandbox (sampled every 5 ms).
    let handle = hubspot.handle();
    let upserts = move || {
        handle
            .stats()
            .map(|s| s.calls_matching("batch/upsert"))
            .unwrap_or(0)
    };
    let at_start = upserts();
    let (done_tx, mut done_rx) = tokio::sync::watch::channel(false);
    let sampler = tokio::spawn(async move {
        let (mut first, mut last, mut seen) = (None, None, at_start);
        while !*done_rx.borrow() {
            let now = upserts();
            if now > seen {
                first.get_or_insert(Instant::now());
                last = Some(Instant::now());
                seen = now;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(5)) => {}
                _ = done_rx.changed() => {}
            }
        }
        let now = upserts();
        if now > seen {
            first.get_or_insert(Instant::now());
            last = Some(Instant::now());
        }
        first
            .zip(last)
            .map(|(f, l)| (l.duration_since(f).as_secs_f64(), now - at_start))
    });
    drain(worker, queue).await;
    let seconds = started.elapsed().as_secs_f64();
    let _ = done_tx.send(true);
    let sustained = sampler.await.expect("sampler");
    let after = counters(salesforce, hubspot);
    let depth = queue.depth().await.expect("depth");
    assert_eq!(depth.dead, 0, "{name}: nothing dead-lettered");
    Phase {
        name,
        records: changes.len(),
        seconds,
        sustained,
        hubspot_calls: after.hubspot - before.hubspot,
        limiter_429s: after.hubspot_429 - before.hubspot_429,
        salesforce_calls: after.salesforce - before.salesforce,
    }
}

async fn backfill_phase(
    store: &sf2hs_shared::embedded::EmbeddedStore,
    queue: &Arc<dyn ChangeQueue>,
    worker: &Arc<Worker>,
    org: &SalesforceId,
    salesforce: &RunningSalesforceSandbox,
    hubspot: &RunningSandbox,
) -> Phase {
    let (pages, _) = sf2hs_tests::stack::sandbox_clients(salesforce, hubspot);
    let importer = Importer {
        mappings: Arc::new(store.mapping_store()),
        jobs: Arc::new(store.import_jobs()),
        queue: queue.clone(),
        pages: Arc::new(pages),
        org_id: org.clone(),
        files: None,
    };
    let before = counters(salesforce, hubspot);
    let routes_before = salesforce.handle().stats().expect("stats").calls_by_route;
    let started = Instant::now();
    let job = importer.start("Invoice__c").await.expect("import starts");
    let drained = async {
        // Drain while the import sends, as serve's workers do beside `sf2hs import`.
        loop {
            drain(worker, queue).await;
            let current = store.import_jobs().get(&job.id).await.expect("job");
            if current.is_some_and(|j| j.status.is_finished()) {
                drain(worker, queue).await;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let sent = async {
        importer
            .run(&job.id, Instant::now() + Duration::from_secs(3_600))
            .await
            .expect("import runs")
    };
    let (_, progress) = tokio::join!(drained, sent);
    let seconds = started.elapsed().as_secs_f64();
    let after = counters(salesforce, hubspot);
    let job = match progress {
        ImportProgress::AllSent(job) | ImportProgress::Paused(job) => job,
        ImportProgress::Waiting { reason, .. } => panic!("Salesforce stopped the import: {reason}"),
    };
    let routes_after = salesforce.handle().stats().expect("stats").calls_by_route;
    let routes: Vec<String> = routes_after
        .iter()
        .map(|(route, n)| (route, n - routes_before.get(route).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .map(|(route, n)| format!("{route}: {n}"))
        .collect();
    println!(
        "backfill of {} invoices: Salesforce requests by route: {}",
        job.enqueued,
        routes.join(", ")
    );
    Phase {
        name: "backfill (import)",
        records: usize::try_from(job.enqueued).unwrap_or(0),
        seconds,
        sustained: None,
        hubspot_calls: after.hubspot - before.hubspot,
        limiter_429s: after.hubspot_429 - before.hubspot_429,
        salesforce_calls: after.salesforce - before.salesforce,
    }
}

/// One HubSpot call per record, as an integration without batching makes them.
async fn naive_phase(
    name: &'static str,
    changes: &[Change],
    mapping: &Mapping,
    salesforce: &RunningSalesforceSandbox,
    hubspot: &RunningSandbox,
) -> Phase {
    let http = reqwest::Client::new();
    let url = format!(
        "{}/crm/v3/objects/{}/batch/upsert",
        hubspot.base_url(),
        "p_sf_project"
    );
    let before = counters(salesforce, hubspot);
    let started = Instant::now();
    for change in changes {
        let ChangeKind::Upsert { fields } = &change.kind else {
            continue;
        };
        let mapped = map_record(mapping, &change.record_id, fields, None).expect("maps");
        let body = json!({ "inputs": [{
            "id": change.record_id.as_str(),
            "idProperty": mapping.id_property,
            "properties": mapped.properties,
        }]});
        loop {
            let answer = http
                .post(&url)
                .bearer_auth(DEFAULT_TOKEN)
                .json(&body)
                .send()
                .await
                .expect("HubSpot answers");
            if answer.status().as_u16() != 429 {
                assert!(answer.status().is_success(), "{}", answer.status());
                break;
            }
            let wait = answer
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(1.0);
            tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let after = counters(salesforce, hubspot);
    Phase {
        name,
        records: changes.len(),
        seconds,
        sustained: None,
        hubspot_calls: after.hubspot - before.hubspot,
        limiter_429s: after.hubspot_429 - before.hubspot_429,
        salesforce_calls: after.salesforce - before.salesforce,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let records = env_number("SF2HS_BENCH_RECORDS", 20_000);
    let naive_records = env_number("SF2HS_BENCH_NAIVE_RECORDS", 1_000);
    let (salesforce, hubspot) = sf2hs_sandbox::demo::start_pair(SandboxConfig::default())
        .await
        .expect("sandboxes");
    let handle = salesforce.handle();
    let org = SalesforceId::parse(&handle.org_id()).expect("org");
    let ids = handle
        .create_many(
            "Project__c",
            (0..records + WARM_UP + naive_records)
                .map(|i| json!({ "Name": format!("P{i}"), "Budget__c": i }))
                .collect(),
        )
        .expect("records");
    // Invoices for the backfill phase: records no phase before it has written.
    handle
        .create_many(
            "Invoice__c",
            (0..records)
                .map(
                    |i| json!({ "Name": format!("INV-{i}"), "Amount__c": i, "Status__c": "Draft" }),
                )
                .collect(),
        )
        .expect("invoices");
    let (ours, rest) = ids.split_at(records);
    let (warm, theirs) = rest.split_at(WARM_UP);

    let store = sf2hs_tests::stack::embedded_store_with_mappings().await;
    let mapping = store
        .mapping_store()
        .get("Project__c")
        .await
        .expect("mappings")
        .expect("project mapping")
        .mapping;
    let queue: Arc<dyn ChangeQueue> = Arc::new(store.change_queue(5));
    let (salesforce_client, hubspot_client) =
        sf2hs_tests::stack::sandbox_clients(&salesforce, &hubspot);
    let worker = Arc::new(Worker::new(
        sf2hs_tests::stack::embedded_worker_ports(
            &store,
            queue.clone(),
            hubspot_client,
            salesforce_client,
        ),
        WorkerSettings {
            // To compare concurrent index writes with one at a time (the first-sync regression).
            index_writes_in_flight: env_number(
                "SF2HS_INDEX_WRITES_IN_FLIGHT",
                sf2hs_shared::worker::INDEX_WRITES_IN_FLIGHT,
            ),
            ..WorkerSettings::default()
        },
    ));

    // Each phase's states are newer than the last, on the org's clock (it runs a week behind
    // this machine's, as the index compares Salesforce's times only).
    let changes = |ids: &[String], round: usize| -> Vec<Change> {
        let modstamp = handle.advance_clock(TimeDelta::seconds(1)).expect("clock");
        ids.iter()
            .enumerate()
            .map(|(i, id)| snapshot_change(&org, modstamp, id, &format!("P{i}"), i + round * 7))
            .collect()
    };
    let mut phases: Vec<(&str, Phase)> = Vec::new();
    let phase = |name, changes| sf2hs_phase(name, changes, &worker, &queue, &salesforce, &hubspot);
    // Before each writing phase, a warm-up of other records fills HubSpot's rolling window, so
    // that the phase measures the sustained rate, not the first window's burst.
    phase("warm-up", changes(warm, 0)).await;
    phases.push(("sf2hs", phase("first sync", changes(ours, 0)).await));
    phases.push(("sf2hs", phase("unchanged re-sync", changes(ours, 0)).await));
    phase("warm-up", changes(warm, 1)).await;
    phases.push(("sf2hs", phase("updates", changes(ours, 1)).await));
    // CDC updates carry only the changed fields: the worker reads the records back.
    for (i, id) in ours.iter().enumerate() {
        handle
            .update("Project__c", id, json!({ "Budget__c": i + 1_000_000 }))
            .expect("updated");
    }
    let partial: Vec<Change> = ours
        .iter()
        .map(|id| Change {
            kind: ChangeKind::Reread {
                reason: RereadReason::PartialUpdate,
                partial: FieldSnapshot::from([("Budget__c".to_owned(), Value::Null)]),
            },
            modstamp: None,
            ..snapshot_change(&org, handle.now(), id, "", 0)
        })
        .collect();
    phase("warm-up", changes(warm, 2)).await;
    phases.push((
        "sf2hs",
        phase("CDC partial updates (re-read)", partial).await,
    ));

    // A backfill: the import reads every invoice through Bulk API 2.0 onto the queue, the
    // worker writes them; timed from the job's start to the queue drained.
    phase("warm-up", changes(warm, 3)).await;
    phases.push((
        "sf2hs",
        backfill_phase(&store, &queue, &worker, &org, &salesforce, &hubspot).await,
    ));

    // SF2HS_BENCH_NAIVE_RECORDS=0 leaves the baseline out.
    let naive_phases = if naive_records == 0 {
        Vec::new()
    } else {
        vec![("first sync", 0), ("unchanged re-sync", 0), ("updates", 1)]
    };
    for (name, round) in naive_phases {
        let changes = changes(theirs, round);
        phases.push((
            "naive",
            naive_phase(name, &changes, &mapping, &salesforce, &hubspot).await,
        ));
    }

    println!(
        "| who | phase | records | seconds | records/s | % of 1,900/s | sustained (first call to last) | 429s from the limit | HubSpot calls / 1,000 | Salesforce calls / 1,000 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (who, phase) in &phases {
        println!("{}", phase.row(who));
    }
}
