//! Salesforce calls per 1,000 records with whole-second stamps (platform-behaviours.md S1):
//! what equal stamps cost. Each record gets `k` changes within one second, so its `k` states
//! share one `SystemModstamp`, and they reach the worker in shuffled order, each twice (an
//! at-least-once sender). Two intake paths: outbound messages, which carry each state with its
//! stamp (a tie with a different state is read; a duplicate is not), and CDC updates, which
//! carry only the changed fields (always read). The end state is checked against Salesforce.
//!
//! `cargo bench --profile dev -p sf2hs-tests --bench tie_reads`; `SF2HS_BENCH_RECORDS`
//! (default 1,000) sizes it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use sf2hs_sandbox::hubspot::SandboxConfig;
use sf2hs_sandbox::salesforce::{RunningSalesforceSandbox, SalesforceConfig};
use sf2hs_shared::domain::{
    Change, ChangeKind, ChangeSource, FieldSnapshot, RereadReason, SalesforceId,
};
use sf2hs_shared::embedded::SqliteChangeQueue;
use sf2hs_shared::ports::ChangeQueue;
use sf2hs_shared::worker::{Worker, WorkerSettings, drain_once};

#[derive(Clone, Copy, PartialEq)]
enum Intake {
    OutboundMessage,
    Cdc,
}

impl Intake {
    fn name(self) -> &'static str {
        match self {
            Intake::OutboundMessage => "outbound messages (state carried)",
            Intake::Cdc => "CDC updates (changed fields only)",
        }
    }
}

struct Outcome {
    salesforce_calls: u64,
    hubspot_calls: u64,
    mismatched: usize,
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A deterministic shuffle (the same order every run).
fn shuffle<T>(items: &mut [T], mut seed: u64) {
    for i in (1..items.len()).rev() {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let j = (seed >> 33) as usize % (i + 1);
        items.swap(i, j);
    }
}

fn change(org: &SalesforceId, id: &str, kind: ChangeKind, at: DateTime<Utc>) -> Change {
    Change {
        org_id: org.clone(),
        object: "Project__c".into(),
        record_id: SalesforceId::parse(id).expect("id"),
        kind,
        modstamp: Some(at),
        source: ChangeSource::Worker,
        received_at: Utc::now(),
        prior_deliveries: 0,
    }
}

async fn drain(worker: &Worker, queue: &SqliteChangeQueue) {
    loop {
        let report = drain_once(worker, queue, 100, Duration::from_secs(120), Duration::ZERO)
            .await
            .expect("drain");
        if report.received == 0 {
            let depth = queue.depth().await.expect("depth");
            if depth.visible + depth.delayed + depth.in_flight == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn requests(salesforce: &RunningSalesforceSandbox) -> u64 {
    salesforce.handle().stats().expect("stats").total_requests
}

async fn run(intake: Intake, records: usize, per_second: usize) -> Outcome {
    // Every change of this run's second shares one stamp: records × changes per record.
    let org_config = SalesforceConfig {
        changes_per_stamp: u32::try_from(records * per_second).expect("fits"),
        ..sf2hs_sandbox::demo::demo_org()
    };
    let (salesforce, hubspot) = sf2hs_sandbox::demo::start_pair_in(
        org_config,
        SandboxConfig::default(),
        sf2hs_sandbox::demo::project_object(),
        sf2hs_sandbox::demo::invoice_object(),
    )
    .await
    .expect("sandboxes");
    let store = sf2hs_tests::stack::embedded_store_with_mappings().await;
    let queue = Arc::new(store.change_queue(5));
    let (salesforce_client, hubspot_client) =
        sf2hs_tests::stack::sandbox_clients(&salesforce, &hubspot);
    let worker = Worker::new(
        sf2hs_tests::stack::embedded_worker_ports(
            &store,
            queue.clone(),
            hubspot_client,
            salesforce_client,
        ),
        WorkerSettings {
            retry_delay: Duration::ZERO,
            ..WorkerSettings::default()
        },
    );
    let sf = salesforce.handle();
    let org = SalesforceId::parse(&sf.org_id()).expect("org");

    // The records, synced first (read from Salesforce), in a second of their own.
    let ids = sf
        .create_many(
            "Project__c",
            (0..records)
                .map(|n| json!({ "Name": format!("P{n}"), "Budget__c": 1 }))
                .collect(),
        )
        .expect("created");
    let first: Vec<Change> = ids
        .iter()
        .map(|id| {
            let kind = ChangeKind::Reread {
                reason: RereadReason::PartialUpdate,
                partial: FieldSnapshot::new(),
            };
            Change {
                modstamp: None,
                ..change(&org, id, kind, Utc::now())
            }
        })
        .collect();
    queue.send_batch(&first).await.expect("queued");
    drain(&worker, &queue).await;
    sf.advance_clock(TimeDelta::seconds(1)).expect("clock");

    // `per_second` edits of every record within one second: one stamp for all their states.
    let mut deliveries = Vec::new();
    for round in 0..per_second {
        for id in &ids {
            let name = format!("{id} edit {round}");
            sf.update("Project__c", id, json!({ "Name": name }))
                .expect("updated");
            let at = sf
                .record("Project__c", id)
                .expect("read")
                .expect("exists")
                .system_modstamp;
            let kind = match intake {
                Intake::OutboundMessage => ChangeKind::Upsert {
                    fields: FieldSnapshot::from([
                        ("Name".to_owned(), json!(name)),
                        ("Budget__c".to_owned(), json!(1)),
                    ]),
                },
                Intake::Cdc => ChangeKind::Reread {
                    reason: RereadReason::PartialUpdate,
                    partial: FieldSnapshot::from([("Name".to_owned(), json!(name))]),
                },
            };
            let delivery = change(&org, id, kind, at);
            deliveries.push(delivery.clone());
            deliveries.push(delivery);
        }
    }
    shuffle(&mut deliveries, 7);
    let (sf_before, hub_before) = (
        requests(&salesforce),
        hubspot.handle().stats().expect("stats").total_requests,
    );
    for chunk in deliveries.chunks(100) {
        queue.send_batch(chunk).await.expect("queued");
    }
    drain(&worker, &queue).await;
    let salesforce_calls = requests(&salesforce) - sf_before;
    let hubspot_calls = hubspot.handle().stats().expect("stats").total_requests - hub_before;
    Outcome {
        salesforce_calls,
        hubspot_calls,
        mismatched: sf2hs_sandbox::demo::mismatches(&salesforce, &hubspot).len(),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let records = env_number("SF2HS_BENCH_RECORDS", 1_000);
    println!(
        "| intake | changes per record per second | records | deliveries | Salesforce calls | per 1,000 records | HubSpot calls per 1,000 records | records not as in Salesforce |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for intake in [Intake::OutboundMessage, Intake::Cdc] {
        for per_second in [1, 10] {
            let outcome = run(intake, records, per_second).await;
            println!(
                "| {} | {per_second} | {records} | {} | {} | {:.1} | {:.1} | {} |",
                intake.name(),
                records * per_second * 2,
                outcome.salesforce_calls,
                1_000.0 * outcome.salesforce_calls as f64 / records as f64,
                1_000.0 * outcome.hubspot_calls as f64 / records as f64,
                outcome.mismatched,
            );
        }
    }
}
