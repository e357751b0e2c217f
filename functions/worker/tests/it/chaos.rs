//! The chaos run on the deployed shape (moto): the scenario of `sf2hs_tests::chaos` against
//! ingest (behind a Function URL for outbound messages, and invoked as EventBridge invokes it
//! for CDC events) and three worker bootstraps (the real binary, through the Lambda Runtime
//! API), each fed by its own event source mapping on the live queue; a worker process is killed
//! in the middle of a batch three times, its messages coming back when their visibility ends.
//!
//! CI runs 1,000 records; `cargo nextest run -p sf2hs-worker --test it --run-ignored only chaos::`
//! (with `SF2HS_MOTO_ENDPOINT`, as `scripts/test` sets it) runs the 10,000 of the issue.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use sf2hs_sandbox::hubspot::SandboxConfig;
use sf2hs_shared::ports::{ChangeQueue, DeadLetter, SyncLog, SyncLogEntry, SyncLogQuery};
use sf2hs_shared::settings::vars;
use sf2hs_tests::chaos::{self, Dice, Size};
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
        if answer
            .as_ref()
            .is_err_and(|e| e.starts_with("no answer within"))
        {
            // Lambda ends an execution environment whose invocation timed out: its process
            // must not go on writing HubSpot after the batch came back to the queue.
            eprintln!("chaos: an invocation timed out; its worker process is replaced");
            self.kill_and_respawn().await;
        }
        self.in_flight.store(false, Ordering::SeqCst);
        answer
    }
}

/// The moto stack as the scenario reaches it.
struct MotoDeployment<'a> {
    stack: &'a Stack,
    ingest: Arc<sf2hs_ingest::IngestFunction>,
    outbound_url: String,
    idle_polls: Arc<AtomicUsize>,
}

#[async_trait]
impl chaos::Deployment for MotoDeployment<'_> {
    fn outbound_url(&self) -> String {
        self.outbound_url.clone()
    }

    async fn deliver_event(&self, event: Value) -> Result<(), String> {
        self.ingest
            .handle(LambdaEvent::new(
                event,
                Stack::context(Duration::from_secs(30)),
            ))
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    async fn pending(&self) -> Result<u64, String> {
        let depth = self.stack.queue.depth().await.map_err(|e| e.to_string())?;
        Ok(depth.visible + depth.in_flight + depth.delayed)
    }

    fn workers_idle(&self) -> bool {
        self.idle_polls.load(Ordering::SeqCst) >= 3 * WORKERS
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, String> {
        self.stack
            .queue
            .dead_letters(10_000)
            .await
            .map_err(|e| e.to_string())
    }

    async fn sync_log(&self, query: &SyncLogQuery) -> Result<Vec<SyncLogEntry>, String> {
        self.stack
            .store
            .sync_log(self.stack.settings.sync_log_retention)
            .query(query)
            .await
            .map_err(|e| e.to_string())
    }
}

async fn chaos_on(size: Size, label: &str) {
    let mut stack = Stack::start_with_objects(
        label,
        SandboxConfig {
            seed: 11,
            faults: chaos::faults(),
            ..SandboxConfig::default()
        },
        sf2hs_sandbox::demo::project_object(),
        chaos::invoice_object(),
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
    // The bootstraps see only the stack's variables; this one passes through, so that a run
    // can try another number of index writes in flight than the default.
    if let Ok(value) = std::env::var(vars::INDEX_WRITES_IN_FLIGHT) {
        stack
            .env
            .push((vars::INDEX_WRITES_IN_FLIGHT.to_owned(), value));
    }

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

    let deployment = MotoDeployment {
        stack: &stack,
        ingest,
        outbound_url,
        idle_polls,
    };
    chaos::run(
        label,
        size,
        &deployment,
        &stack.salesforce,
        &stack.hubspot,
        async { killer.await.expect("killer") },
        KILLS,
    )
    .await;
    running.store(false, Ordering::SeqCst);
    for mapping in mappings {
        let _ = mapping.await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_on_moto() {
    chaos_on(Size::ci(), "chaos").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "10,000 records: minutes on moto; run with --run-ignored only"]
async fn chaos_on_moto_10000_records() {
    chaos_on(Size::ten_thousand(), "chaos10k").await;
}
