//! The chaos scenario, run on the deployed shape (moto, `functions/worker/tests/it/chaos.rs`) and
//! on the local pipeline's embedded store (`cli/tests/it/chaos_embedded.rs`).
//!
//! Salesforce records of two mapped objects, with associations, changed several times each and
//! delivered as outbound messages and CDC events, with duplicates and in shuffled order, to the
//! deployment's ingest; HubSpot answering 429s, 5xx, hangs past the client's timeout and writes
//! that succeed but answer 500; the deployment's workers killed mid-batch by its own killer.
//! Updates also move invoices to other projects (the lookup behind the association), and a tenth
//! of the projects and a twentieth of the invoices are deleted (projects archived, invoices kept
//! in HubSpot with their last state).
//!
//! At the end HubSpot must equal Salesforce's newest state for every record, field by field and
//! association by association, with no duplicate and nothing missing, and the dead letters must
//! hold only the invoices seeded as unconvertible (a picklist value HubSpot has no option for),
//! each with HubSpot's reason.

use std::collections::BTreeSet;
use std::future::Future;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::{Value, json};
use sf2hs_sandbox::hubspot::{FaultPlan, RunningSandbox};
use sf2hs_sandbox::salesforce::ObjectDefinition;
use sf2hs_sandbox::salesforce::senders::outbound::{OutboundMessageConfig, OutboundSender};
use sf2hs_sandbox::salesforce::senders::{CdcRelayConfig, change_events};
use sf2hs_sandbox::salesforce::{RunningSalesforceSandbox, SalesforceHandle};
use sf2hs_shared::domain::SalesforceId;
use sf2hs_shared::ports::{DeadLetter, SyncLogEntry, SyncLogQuery, SyncOutcome};
use sf2hs_shared::worker::{RACED_OTHER_STATE, RACED_SAME_STATE};

/// The picklist value Salesforce has and HubSpot's property has no option for.
pub const UNCONVERTIBLE_STATUS: &str = "Void";
const STATUSES: [&str; 3] = ["Draft", "Sent", "Paid"];

/// How big a run is.
pub struct Size {
    pub projects: usize,
    pub invoices: usize,
    /// Rounds of updates to every record after the creates.
    pub rounds: usize,
    /// Invoices created with the unconvertible status.
    pub unconvertible: usize,
    /// The longest the queue may take to drain at the end.
    pub limit: Duration,
}

impl Size {
    /// The run CI makes: 1,000 records.
    pub fn ci() -> Size {
        Size {
            projects: 300,
            invoices: 700,
            rounds: 2,
            unconvertible: 5,
            limit: Duration::from_secs(300),
        }
    }

    /// The run: 10,000 records.
    pub fn ten_thousand() -> Size {
        Size {
            projects: 3_000,
            invoices: 7_000,
            rounds: 3,
            unconvertible: 20,
            limit: Duration::from_secs(1_800),
        }
    }
}

/// HubSpot's faults: 429s, 5xx, hangs past the client's 30 s timeout, applied writes that
/// answer 500.
pub fn faults() -> FaultPlan {
    FaultPlan {
        rate_429: 0.03,
        rate_500: 0.01,
        rate_502: 0.01,
        rate_503: 0.01,
        rate_hang: 0.015,
        hang_ms: 35_000,
        rate_apply_then_fail: 0.02,
        latency_ms: 5,
        ..FaultPlan::default()
    }
}

/// The demo's invoice object with the unconvertible status among its picklist values.
pub fn invoice_object() -> ObjectDefinition {
    sf2hs_sandbox::demo::invoice_object_with_statuses(&[
        STATUSES[0],
        STATUSES[1],
        STATUSES[2],
        UNCONVERTIBLE_STATUS,
    ])
}

/// A small deterministic generator (xorshift64*): the run is the same every time.
pub struct Dice(pub u64);

impl Dice {
    pub fn roll(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.roll() % n.max(1) as u64) as usize
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.roll() % 100 < percent
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

/// The deployment under test, as the scenario reaches it.
#[async_trait]
pub trait Deployment: Send + Sync {
    /// Where Salesforce posts outbound messages (the endpoint token included).
    fn outbound_url(&self) -> String;
    /// Delivers one CDC event as EventBridge would; an error fails the run.
    async fn deliver_event(&self, event: Value) -> Result<(), String>;
    /// Changes not settled yet: visible, in flight or delayed.
    async fn pending(&self) -> Result<u64, String>;
    /// Every worker found the queue empty lately.
    fn workers_idle(&self) -> bool;
    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, String>;
    async fn sync_log(&self, query: &SyncLogQuery) -> Result<Vec<SyncLogEntry>, String>;
}

fn id18(id: &str) -> String {
    SalesforceId::parse(id).expect("id").as_str().to_owned()
}

/// Runs the scenario against `deployment`; `kills` is the deployment's killer, awaited (and
/// its count of kills checked against `expected_kills`) once everything is delivered.
pub async fn run(
    label: &str,
    size: Size,
    deployment: &dyn Deployment,
    salesforce: &RunningSalesforceSandbox,
    hubspot: &RunningSandbox,
    kills: impl Future<Output = usize>,
    expected_kills: usize,
) {
    let handle = &salesforce.handle();
    let mut dice = Dice(0x5eed_cafe);
    let outbound_url = deployment.outbound_url();

    // 1. Creates: projects, then invoices that point at them; a few with the unconvertible
    //    status. Outbound messages deliver them, invoices first (their projects arrive later),
    //    each batch in reverse order, a fifth of the acked messages delivered again.
    let projects = handle
        .create_many(
            "Project__c",
            (0..size.projects)
                .map(|i| json!({ "Name": format!("Project {i}"), "Budget__c": 1_000 + i }))
                .collect(),
        )
        .expect("projects");
    let invoices = handle
        .create_many(
            "Invoice__c",
            (0..size.invoices)
                .map(|i| {
                    let status = if i < size.unconvertible {
                        UNCONVERTIBLE_STATUS
                    } else {
                        STATUSES[i % 3]
                    };
                    json!({ "Name": format!("INV-{i}"), "Amount__c": 10 + i, "Status__c": status,
                            "Project__c": projects[i % projects.len()] })
                })
                .collect(),
        )
        .expect("invoices");
    let unconvertible: BTreeSet<String> = invoices[..size.unconvertible]
        .iter()
        .map(|id| id18(id))
        .collect();
    let sender = |object: &str, fields: &[&str], seed: u64| {
        let mut config = OutboundMessageConfig::new(&outbound_url, object, fields);
        config.duplicate_rate = 0.2;
        config.seed = seed;
        OutboundSender::new(handle.clone(), config).expect("sender")
    };
    let mut invoice_sender = sender(
        "Invoice__c",
        &["Name", "Amount__c", "Status__c", "Project__c"],
        1,
    );
    let mut project_sender = sender("Project__c", &["Name", "Budget__c"], 2);
    let mut reversed = invoices.clone();
    reversed.reverse();
    for chunk in reversed.chunks(100) {
        let report = invoice_sender.send(chunk).await.expect("delivered");
        assert!(report.all_acked(), "ingest acks what it stored: {report:?}");
    }
    let mut reversed = projects.clone();
    reversed.reverse();
    for chunk in reversed.chunks(100) {
        let report = project_sender.send(chunk).await.expect("delivered");
        assert!(report.all_acked(), "{report:?}");
    }
    let mut cdc_after = handle.changes_after(0).last().map_or(0, |c| c.sequence);

    // 2. Rounds of updates to every record, delivered by CDC (shuffled, a fifth twice) and,
    //    for a third of the records, also by an outbound message.
    for round in 0..size.rounds {
        for (i, id) in projects.iter().enumerate() {
            handle
                .update(
                    "Project__c",
                    id,
                    json!({ "Name": format!("Project {i} r{round}"), "Budget__c": 2_000 + i * (round + 2) }),
                )
                .expect("project updated");
        }
        for (i, id) in invoices.iter().enumerate() {
            let mut fields = json!({ "Amount__c": 100 + i * (round + 2) });
            if i >= size.unconvertible {
                fields["Status__c"] = json!(STATUSES[(i + round + 1) % 3]);
            }
            if dice.chance(30) {
                // A lookup change: the association moves to another project.
                fields["Project__c"] = json!(projects[dice.below(projects.len())]);
            }
            handle
                .update("Invoice__c", id, fields)
                .expect("invoice updated");
        }
        cdc_after = relay_cdc(handle, deployment, cdc_after, &mut dice).await;
        let some: Vec<String> = invoices
            .iter()
            .filter(|_| dice.chance(33))
            .cloned()
            .collect();
        for chunk in some.chunks(100) {
            assert!(
                invoice_sender
                    .send(chunk)
                    .await
                    .expect("delivered")
                    .all_acked()
            );
        }
    }

    // 3. Deletes (CDC only: outbound messages have none): a tenth of the projects, archived in
    //    HubSpot; a twentieth of the invoices, kept there.
    for id in projects.iter().filter(|_| dice.chance(10)) {
        handle.delete("Project__c", id).expect("deleted");
    }
    for id in invoices[size.unconvertible..]
        .iter()
        .filter(|_| dice.chance(5))
    {
        handle.delete("Invoice__c", id).expect("deleted");
    }
    relay_cdc(handle, deployment, cdc_after, &mut dice).await;

    // 4. Drain: the queue empty (nothing visible, in flight or delayed) and every worker idle.
    let killed = kills.await;
    assert_eq!(killed, expected_kills, "workers were killed mid-batch");
    let started = Instant::now();
    loop {
        let pending = deployment.pending().await.expect("queue depth");
        if pending == 0 && deployment.workers_idle() {
            break;
        }
        assert!(
            started.elapsed() < size.limit,
            "the queue did not drain within {:?}: {pending} pending",
            size.limit
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let drained = started.elapsed();

    // 5. HubSpot equals Salesforce's newest state, but for the unconvertible invoices, which
    //    never reached it.
    let problems = sf2hs_sandbox::demo::mismatches(salesforce, hubspot);
    let (expected, unexpected): (Vec<&String>, Vec<&String>) = problems
        .iter()
        .partition(|p| unconvertible.iter().any(|id| p.contains(id.as_str())));
    for problem in unexpected.iter().take(3) {
        explain(problem, handle, deployment).await;
    }
    assert!(
        unexpected.is_empty(),
        "{} records differ, first: {:#?}",
        unexpected.len(),
        &unexpected[..unexpected.len().min(10)]
    );
    assert_eq!(
        expected.len(),
        unconvertible.len(),
        "each unconvertible invoice is missing from HubSpot: {expected:#?}"
    );

    // 6. The dead letters: the unconvertible invoices only, each with HubSpot's reason.
    let dead = deployment.dead_letters().await.expect("dead letters");
    let dead_ids: BTreeSet<String> = dead
        .iter()
        .map(|d| d.change.record_id.as_str().to_owned())
        .collect();
    assert_eq!(
        dead_ids, unconvertible,
        "only the seeded records are dead letters"
    );
    for letter in &dead {
        assert!(
            letter.reason.contains(UNCONVERTIBLE_STATUS),
            "the reason names the value: {}",
            letter.reason
        );
    }

    // How often the races the worker guards against happened: each is a re-read it asked for.
    let synced = deployment
        .sync_log(&SyncLogQuery {
            outcomes: vec![SyncOutcome::Synced],
            ..Default::default()
        })
        .await
        .expect("sync log");
    let rereads = |detail: &str| {
        synced
            .iter()
            .filter(|e| e.reason.as_deref() == Some(detail))
            .count()
    };
    let stats = hubspot.handle().stats();
    eprintln!(
        "chaos {label}: {} projects, {} invoices, {} rounds; {killed} kills; HubSpot {stats:?}; \
         drained {:.1} s after the last delivery; re-reads after a race: {} (another state \
         recorded meanwhile), {} (the same state recorded by another writer first)",
        size.projects,
        size.invoices,
        size.rounds,
        drained.as_secs_f64(),
        rereads(RACED_OTHER_STATE),
        rereads(RACED_SAME_STATE)
    );
}

/// What happened to a record that differs: Salesforce's changes and the worker's sync log.
async fn explain(problem: &str, salesforce: &SalesforceHandle, deployment: &dyn Deployment) {
    let Some(id) = problem.split_whitespace().nth(1) else {
        return;
    };
    let id = id.trim_end_matches(':');
    let changes: Vec<_> = salesforce
        .changes_after(0)
        .into_iter()
        .filter(|c| c.record_id == id)
        .map(|c| (c.sequence, c.change_type, c.committed_at, c.values))
        .collect();
    let entries = deployment
        .sync_log(&SyncLogQuery {
            salesforce_object: problem.split_whitespace().next().map(str::to_owned),
            record_id: SalesforceId::parse(id).ok(),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap_or_default();
    eprintln!("{problem}\n  Salesforce: {changes:#?}\n  sync log: {entries:#?}");
}

/// Relays every CDC event after `after` as EventBridge delivers it: shuffled, with a fifth
/// delivered twice. Returns the last sequence relayed.
async fn relay_cdc(
    handle: &SalesforceHandle,
    deployment: &dyn Deployment,
    after: u64,
    dice: &mut Dice,
) -> u64 {
    let mut events = change_events(handle, &CdcRelayConfig::default(), after);
    let last = handle
        .changes_after(after)
        .last()
        .map_or(after, |c| c.sequence);
    let duplicates: Vec<Value> = events.iter().filter(|_| dice.chance(20)).cloned().collect();
    events.extend(duplicates);
    dice.shuffle(&mut events);
    for event in events {
        deployment
            .deliver_event(event)
            .await
            .expect("EventBridge event ingested");
    }
    last
}
