//! The chaos run on the deployed shape (moto): Salesforce records of two mapped objects, with
//! associations, changed several times each and delivered as outbound messages and CDC events,
//! with duplicates and in shuffled order, to ingest (behind a Function URL, and as EventBridge
//! invokes it); three worker bootstraps (the real binary, through the Lambda Runtime API), each
//! fed by its own event source mapping on the live queue; HubSpot answering 429s, 5xx, hangs
//! past the client's timeout and writes that succeed but answer 500; a worker process killed in
//! the middle of a batch three times, its messages coming back when their visibility ends.
//!
//! Updates also move invoices to other projects (the lookup behind the association), and a
//! tenth of the projects and a twentieth of the invoices are deleted (projects archived,
//! invoices kept in HubSpot with their last state).
//!
//! At the end HubSpot must equal Salesforce's newest state for every record, field by field and
//! association by association, with no duplicate and nothing missing, and the dead-letter queue
//! must hold only the invoices seeded as unconvertible (a picklist value HubSpot has no option
//! for), each with HubSpot's reason.
//!
//! CI runs 1,000 records; `cargo nextest run -p sf2hs-worker --test chaos --run-ignored only`
//! (with `SF2HS_MOTO_ENDPOINT`, as `scripts/test` sets it) runs the 10,000 of the issue.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use sf2hs_sandbox::hubspot::{FaultPlan, SandboxConfig};
use sf2hs_sandbox::salesforce::senders::outbound::{OutboundMessageConfig, OutboundSender};
use sf2hs_sandbox::salesforce::senders::{CdcRelayConfig, change_events};
use sf2hs_shared::domain::SalesforceId;
use sf2hs_shared::ports::{ChangeQueue, SyncLog};
use sf2hs_shared::settings::vars;
use sf2hs_tests::event_source::EventSource;
use sf2hs_tests::function_url::FunctionUrl;
use sf2hs_tests::runtime_api::{Bootstrap, Outcome, RuntimeApi};
use sf2hs_tests::stack::{ENDPOINT_TOKEN, Stack};
use tokio::sync::{Mutex, Notify};

const BINARY: &str = env!("CARGO_BIN_EXE_sf2hs-worker");
const WORKERS: usize = 3;
const KILLS: usize = 3;
/// How long a received batch stays hidden: past the HubSpot client's 30 s timeout on a hang.
const VISIBILITY: Duration = Duration::from_secs(50);
/// The picklist value Salesforce has and HubSpot's property has no option for.
const UNCONVERTIBLE_STATUS: &str = "Void";

struct Size {
    projects: usize,
    invoices: usize,
    /// Rounds of updates to every record after the creates.
    rounds: usize,
    /// Invoices created with the unconvertible status.
    unconvertible: usize,
    /// The longest the queue may take to drain at the end.
    limit: Duration,
}

/// A small deterministic generator (xorshift64*): the run is the same every time.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

/// One worker "function": its Runtime API, the bootstrap process polling it, and whether an
/// invocation is in flight (so that a kill lands in the middle of a batch).
struct WorkerSlot {
    runtime: RuntimeApi,
    process: Mutex<Option<Bootstrap>>,
    in_flight: AtomicBool,
    killed: Notify,
    env: Vec<(String, String)>,
}

impl WorkerSlot {
    async fn start(env: Vec<(String, String)>, n: usize) -> Arc<WorkerSlot> {
        let runtime = RuntimeApi::start(&format!("sf2hs-worker-{n}"))
            .await
            .expect("runtime API");
        let slot = Arc::new(WorkerSlot {
            runtime,
            process: Mutex::new(None),
            in_flight: AtomicBool::new(false),
            killed: Notify::new(),
            env,
        });
        slot.respawn().await;
        slot
    }

    async fn respawn(&self) {
        let process = Bootstrap::spawn(Path::new(BINARY), &self.runtime, "sf2hs-worker", &self.env)
            .expect("worker bootstrap starts");
        *self.process.lock().await = Some(process);
    }

    /// SIGKILLs the process (dropping it kills it) and starts a new one, as Lambda replaces a
    /// crashed execution environment.
    async fn kill_and_respawn(&self) {
        drop(self.process.lock().await.take());
        self.killed.notify_waiters();
        self.respawn().await;
    }

    /// One invocation with `payload`: the function's answer, or an error when it failed, timed
    /// out, or its process was killed meanwhile (then the batch's messages stay hidden until
    /// their visibility ends, as with a crashed Lambda).
    async fn invoke(&self, payload: Value) -> Result<Value, String> {
        self.in_flight.store(true, Ordering::SeqCst);
        let killed = self.killed.notified();
        let answer = tokio::select! {
            outcome = self.runtime.invoke(payload, Duration::from_secs(45)) => match outcome {
                Ok(Outcome::Response(value)) => Ok(value),
                Ok(Outcome::Error(error)) => Err(error.to_string()),
                Err(e) => Err(e),
            },
            () = killed => Err("the worker process was killed".to_owned()),
        };
        self.in_flight.store(false, Ordering::SeqCst);
        answer
    }
}

fn id18(id: &str) -> String {
    SalesforceId::parse(id).expect("id").as_str().to_owned()
}

const STATUSES: [&str; 3] = ["Draft", "Sent", "Paid"];

async fn chaos(size: Size, label: &str) {
    let faults = FaultPlan {
        rate_429: 0.03,
        rate_500: 0.01,
        rate_502: 0.01,
        rate_503: 0.01,
        rate_hang: 0.015,
        hang_ms: 35_000,
        rate_apply_then_fail: 0.02,
        latency_ms: 5,
        ..FaultPlan::default()
    };
    let mut stack = Stack::start_with_objects(
        label,
        SandboxConfig {
            seed: 11,
            faults,
            ..SandboxConfig::default()
        },
        sf2hs_sandbox::demo::project_object(),
        sf2hs_sandbox::demo::invoice_object_with_statuses(&[
            "Draft",
            "Sent",
            "Paid",
            UNCONVERTIBLE_STATUS,
        ]),
    )
    .await;
    // Three workers share HubSpot's 190 requests per 10 s, as the template's
    // HubSpotRateLimitPerWorker divides it; short retry waits keep the run short.
    for (name, value) in [
        (vars::HUBSPOT_RATE_LIMIT, "60"),
        (vars::RETRY_DELAY_SECONDS, "1"),
        (vars::ASSOCIATION_RETRY_DELAY_SECONDS, "1"),
    ] {
        stack.env.push((name.to_owned(), value.to_owned()));
    }
    let handle = stack.salesforce.handle();
    let mut dice = Dice(0x5eed_cafe);

    // Ingest, in this process: behind a Function URL for outbound messages, and invoked
    // directly with CDC events as EventBridge would.
    let ingest = Arc::new(
        sf2hs_ingest::from_env(&stack.lookup(), Some(stack.endpoint()))
            .await
            .expect("ingest starts"),
    );
    let url = {
        let ingest = ingest.clone();
        FunctionUrl::serve(move |event| {
            let ingest = ingest.clone();
            async move {
                ingest
                    .handle(LambdaEvent::new(
                        event,
                        Stack::context(Duration::from_secs(30)),
                    ))
                    .await
                    .map_err(|e| e.to_string())
            }
        })
        .await
    };
    let outbound_url = format!("{}/outbound/{ENDPOINT_TOKEN}", url.base_url());

    // The workers, each polled by its own event source mapping, from the start.
    let mut slots = Vec::new();
    for n in 0..WORKERS {
        slots.push(WorkerSlot::start(stack.env.clone(), n).await);
    }
    let running = Arc::new(AtomicBool::new(true));
    let idle_polls = Arc::new(AtomicUsize::new(0));
    let mut mappings = Vec::new();
    for slot in &slots {
        let mut source = EventSource::new(&stack.connection, stack.queue.queue_url()).await;
        source.visibility = VISIBILITY;
        let (slot, running, idle_polls) = (slot.clone(), running.clone(), idle_polls.clone());
        mappings.push(tokio::spawn(async move {
            while running.load(Ordering::SeqCst) {
                let slot = slot.clone();
                let poll = source
                    .poll(|payload| async move { slot.invoke(payload).await })
                    .await;
                if poll.received == 0 {
                    idle_polls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                } else {
                    idle_polls.store(0, Ordering::SeqCst);
                }
            }
        }));
    }

    // The killer: three times, a worker in the middle of a batch is SIGKILLed.
    let killer = {
        let slots = slots.clone();
        let mut dice = Dice(0xdead_beef);
        tokio::spawn(async move {
            let mut kills = 0;
            while kills < KILLS {
                tokio::time::sleep(Duration::from_millis(1_500 + dice.below(2_000) as u64)).await;
                let slot = &slots[dice.below(slots.len())];
                let wait = Instant::now();
                while !slot.in_flight.load(Ordering::SeqCst)
                    && wait.elapsed() < Duration::from_secs(30)
                {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                if !slot.in_flight.load(Ordering::SeqCst) {
                    continue;
                }
                tokio::time::sleep(Duration::from_millis(20 + dice.below(150) as u64)).await;
                slot.kill_and_respawn().await;
                kills += 1;
            }
            kills
        })
    };

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
        cdc_after = relay_cdc(&handle, &ingest, cdc_after, &mut dice).await;
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
    relay_cdc(&handle, &ingest, cdc_after, &mut dice).await;

    // 4. Drain: the queue empty (nothing visible, in flight or delayed) and every worker idle.
    let kills = killer.await.expect("killer");
    assert_eq!(kills, KILLS, "three workers were killed mid-batch");
    let started = Instant::now();
    loop {
        let depth = stack.queue.depth().await.expect("depth");
        let pending = depth.visible + depth.in_flight + depth.delayed;
        if pending == 0 && idle_polls.load(Ordering::SeqCst) >= 3 * WORKERS {
            break;
        }
        assert!(
            started.elapsed() < size.limit,
            "the queue did not drain within {:?}: {depth:?}",
            size.limit
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    running.store(false, Ordering::SeqCst);
    for mapping in mappings {
        let _ = mapping.await;
    }

    // 5. HubSpot equals Salesforce's newest state, but for the unconvertible invoices, which
    //    never reached it.
    let problems = sf2hs_sandbox::demo::mismatches(&stack.salesforce, &stack.hubspot);
    let (expected, unexpected): (Vec<&String>, Vec<&String>) = problems
        .iter()
        .partition(|p| unconvertible.iter().any(|id| p.contains(id.as_str())));
    if !unexpected.is_empty() {
        // What happened to the first few: Salesforce's changes and the worker's sync log.
        let log = stack.store.sync_log(stack.settings.sync_log_retention);
        for problem in unexpected.iter().take(3) {
            let Some(id) = problem.split_whitespace().nth(1) else {
                continue;
            };
            let changes: Vec<_> = handle
                .changes_after(0)
                .into_iter()
                .filter(|c| c.record_id == id.trim_end_matches(':'))
                .map(|c| (c.sequence, c.change_type, c.committed_at, c.values))
                .collect();
            let entries = log
                .query(&sf2hs_shared::ports::SyncLogQuery {
                    salesforce_object: problem.split_whitespace().next().map(str::to_owned),
                    record_id: SalesforceId::parse(id.trim_end_matches(':')).ok(),
                    limit: 50,
                    ..Default::default()
                })
                .await
                .unwrap_or_default();
            eprintln!("{problem}\n  Salesforce: {changes:#?}\n  sync log: {entries:#?}");
        }
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
    let dead = stack
        .queue
        .dead_letters(10_000)
        .await
        .expect("dead letters");
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

    let stats = stack.hubspot.handle().stats();
    eprintln!(
        "chaos {label}: {} projects, {} invoices, {} rounds; {kills} kills; HubSpot {stats:?}; \
         drained {:.1} s after the last delivery",
        size.projects,
        size.invoices,
        size.rounds,
        started.elapsed().as_secs_f64()
    );
}

/// Relays every CDC event after `after` to ingest as EventBridge invokes it: shuffled, with a
/// fifth delivered twice. Returns the last sequence relayed.
async fn relay_cdc(
    handle: &sf2hs_sandbox::salesforce::SalesforceHandle,
    ingest: &sf2hs_ingest::IngestFunction,
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
        ingest
            .handle(LambdaEvent::new(
                event,
                Stack::context(Duration::from_secs(30)),
            ))
            .await
            .expect("EventBridge event ingested");
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_on_moto() {
    chaos(
        Size {
            projects: 300,
            invoices: 700,
            rounds: 2,
            unconvertible: 5,
            limit: Duration::from_secs(300),
        },
        "chaos",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "10,000 records: minutes on moto; run with --run-ignored only"]
async fn chaos_on_moto_10000_records() {
    chaos(
        Size {
            projects: 3_000,
            invoices: 7_000,
            rounds: 3,
            unconvertible: 20,
            limit: Duration::from_secs(1_800),
        },
        "chaos10k",
    )
    .await;
}
