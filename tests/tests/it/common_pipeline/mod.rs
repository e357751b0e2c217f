//! The deployed pipeline, run locally: the three functions' handlers on a [`Stack`] (moto and
//! the sandboxes), ingest behind a Function URL, the worker and the import function fed by
//! event source mappings on their queues, as Lambda would run them.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use sf2hs_import::ImportFunction;
use sf2hs_ingest::IngestFunction;
use sf2hs_sandbox::salesforce::senders::outbound::{OutboundMessageConfig, OutboundSender};
use sf2hs_sandbox::salesforce::senders::{CdcRelayConfig, change_events};
use sf2hs_shared::aws::{AwsCallLog, AwsConnection};
use sf2hs_shared::ports::{ChangeQueue, SyncLog, SyncLogQuery, SyncOutcome};
use sf2hs_shared::settings::vars;
use sf2hs_tests::event_source::EventSource;
use sf2hs_tests::function_url::FunctionUrl;
use sf2hs_tests::stack::{ENDPOINT_TOKEN, Stack};
use sf2hs_worker::WorkerFunction;

/// Whether a function (`IngestFunction`…) sees an environment variable.
pub type Sees<'a> = dyn Fn(&str, &str) -> bool + 'a;

/// How [`Pipeline::start_with`] differs from the plain pipeline.
#[derive(Default)]
pub struct Options<'a> {
    /// Where ingest reaches AWS (a proxy), instead of moto's address.
    pub ingest_endpoint: Option<String>,
    /// Where the worker reaches AWS.
    pub worker_endpoint: Option<String>,
    /// Variables added to the stack's environment.
    pub env: Vec<(String, String)>,
    /// Which variables each function sees: `sees(function, variable)`; all when `None`.
    pub sees: Option<&'a Sees<'a>>,
    /// The HubSpot sandbox's configuration (an OAuth app puts OAuth credentials in the stack's
    /// HubSpot secret).
    pub hubspot: Option<sf2hs_sandbox::hubspot::SandboxConfig>,
    /// The live queue's batching window (the SAM template's is 1 s); none by default, so that
    /// tests do not wait for it.
    pub live_batching_window: Duration,
    /// The Salesforce org's `Invoice__c` (another picklist); the demo's by default.
    pub invoice: Option<sf2hs_sandbox::salesforce::ObjectDefinition>,
}

pub struct Pipeline {
    pub stack: Stack,
    pub ingest: Arc<IngestFunction>,
    pub worker: Arc<WorkerFunction>,
    pub import: Arc<ImportFunction>,
    pub url: FunctionUrl,
    pub live: EventSource,
    pub backfill: EventSource,
    pub imports: EventSource,
    /// The CDC log position already relayed.
    pub cdc_sequence: u64,
    /// Every AWS request each function made, by function name (`IngestFunction`…, as the
    /// template names them).
    pub calls: BTreeMap<&'static str, AwsCallLog>,
    /// How long each worker invocation took, as Lambda would bill it.
    pub worker_invocations: Arc<std::sync::Mutex<Vec<Duration>>>,
}

impl Pipeline {
    pub async fn start(label: &str) -> Pipeline {
        Pipeline::start_with(label, Options::default()).await
    }

    /// [`Pipeline::start`] with ingest reaching AWS at `ingest_endpoint` (a proxy the test can
    /// take down) instead of moto's address.
    pub async fn start_with_ingest_endpoint(
        label: &str,
        ingest_endpoint: Option<&str>,
    ) -> Pipeline {
        let options = Options {
            ingest_endpoint: ingest_endpoint.map(str::to_owned),
            ..Options::default()
        };
        Pipeline::start_with(label, options).await
    }

    pub async fn start_with(label: &str, options: Options<'_>) -> Pipeline {
        let Options {
            ingest_endpoint,
            worker_endpoint,
            env,
            sees,
            hubspot,
            live_batching_window,
            invoice,
        } = options;
        let sees = sees.unwrap_or(&|_, _| true);
        let mut stack = Stack::start_with_objects(
            label,
            hubspot.unwrap_or_default(),
            sf2hs_sandbox::demo::project_object(),
            invoice.unwrap_or_else(sf2hs_sandbox::demo::invoice_object),
        )
        .await;
        // Short retry waits so that retried associations come back within the test.
        stack
            .env
            .push((vars::RETRY_DELAY_SECONDS.to_owned(), "1".to_owned()));
        stack.env.push((
            vars::ASSOCIATION_RETRY_DELAY_SECONDS.to_owned(),
            "1".to_owned(),
        ));
        stack.env.extend(env);
        let mut calls: BTreeMap<&'static str, AwsCallLog> = BTreeMap::new();
        let (ingest, worker, import) = {
            let all = stack.lookup();
            let lookup_of = |function: &'static str| {
                let all = &all;
                move |variable: &str| all(variable).filter(|_| sees(function, variable))
            };
            let endpoint = stack.endpoint();
            let mut connection = |endpoint: &str, function: &'static str| {
                let log = calls.entry(function).or_default().clone();
                let endpoint = endpoint.to_owned();
                async move { AwsConnection::local(&endpoint).await.recording(&log) }
            };
            let ingest = sf2hs_ingest::from_connection(
                &lookup_of("IngestFunction"),
                connection(
                    ingest_endpoint.as_deref().unwrap_or(endpoint),
                    "IngestFunction",
                )
                .await,
            )
            .await
            .expect("ingest starts");
            let worker = sf2hs_worker::from_connection(
                &lookup_of("WorkerFunction"),
                connection(
                    worker_endpoint.as_deref().unwrap_or(endpoint),
                    "WorkerFunction",
                )
                .await,
            )
            .await
            .expect("worker starts");
            let import = sf2hs_import::from_connection(
                &lookup_of("ImportFunction"),
                connection(endpoint, "ImportFunction").await,
            )
            .await
            .expect("import starts");
            (Arc::new(ingest), Arc::new(worker), Arc::new(import))
        };
        let function = ingest.clone();
        let url = FunctionUrl::serve(move |event| {
            let function = function.clone();
            async move {
                function
                    .handle(LambdaEvent::new(
                        event,
                        Stack::context(Duration::from_secs(30)),
                    ))
                    .await
                    .map_err(|e| e.to_string())
            }
        })
        .await;
        let mut live = EventSource::new(&stack.connection, stack.queue.queue_url()).await;
        live.batching_window = live_batching_window;
        let backfill = EventSource::new(&stack.connection, stack.backfill.queue_url()).await;
        let mut imports = EventSource::new(&stack.connection, stack.import_queue.queue_url()).await;
        imports.batch_size = 1;
        imports.visibility = Duration::from_secs(120);
        Pipeline {
            stack,
            ingest,
            worker,
            import,
            url,
            live,
            backfill,
            imports,
            cdc_sequence: 0,
            calls,
            worker_invocations: Arc::default(),
        }
    }

    /// The outbound-message endpoint Salesforce is configured with.
    pub fn outbound_url(&self) -> String {
        format!("{}/outbound/{ENDPOINT_TOKEN}", self.url.base_url())
    }

    /// Salesforce's outbound-message sender for `object`, pointed at the endpoint.
    pub fn sender(&self, object: &str, fields: &[&str]) -> OutboundSender {
        OutboundSender::new(
            self.stack.salesforce.handle(),
            OutboundMessageConfig::new(&self.outbound_url(), object, fields),
        )
        .expect("sender")
    }

    /// Relays every CDC change since the last relay to ingest, as EventBridge would invoke
    /// it; returns how many events went.
    pub async fn relay_cdc(&mut self) -> usize {
        let handle = self.stack.salesforce.handle();
        let events = change_events(&handle, &CdcRelayConfig::default(), self.cdc_sequence);
        self.cdc_sequence = handle
            .changes_after(self.cdc_sequence)
            .last()
            .map_or(self.cdc_sequence, |c| c.sequence);
        for event in &events {
            self.ingest
                .handle(LambdaEvent::new(
                    event.clone(),
                    Stack::context(Duration::from_secs(30)),
                ))
                .await
                .expect("EventBridge event ingested");
        }
        events.len()
    }

    async fn invoke_worker(
        worker: Arc<WorkerFunction>,
        durations: Arc<std::sync::Mutex<Vec<Duration>>>,
        payload: Value,
    ) -> Result<Value, String> {
        let event: SqsEvent = serde_json::from_value(payload).map_err(|e| e.to_string())?;
        let started = Instant::now();
        let answer = worker
            .handle(LambdaEvent::new(
                event,
                Stack::context(Duration::from_secs(60)),
            ))
            .await
            .map_err(|e| e.to_string());
        if let Ok(mut durations) = durations.lock() {
            durations.push(started.elapsed());
        }
        serde_json::to_value(answer?).map_err(|e| e.to_string())
    }

    /// One round of the worker's event source mappings (live, then backfill); returns the
    /// messages received.
    pub async fn work_once(&self) -> usize {
        let (worker, durations) = (self.worker.clone(), self.worker_invocations.clone());
        let live = self
            .live
            .poll(|payload| Self::invoke_worker(worker, durations, payload))
            .await;
        let (worker, durations) = (self.worker.clone(), self.worker_invocations.clone());
        let backfill = self
            .backfill
            .poll(|payload| Self::invoke_worker(worker, durations, payload))
            .await;
        live.received + backfill.received
    }

    /// Runs the workers until both queues are empty (nothing visible, in flight or delayed);
    /// fails after `limit`, showing the latest failures from the sync log.
    pub async fn drain(&self, limit: Duration) {
        let started = Instant::now();
        loop {
            let received = self.work_once().await;
            if started.elapsed() > limit {
                let failures = self
                    .stack
                    .store
                    .sync_log(self.stack.settings.sync_log_retention)
                    .query(&SyncLogQuery {
                        outcomes: vec![SyncOutcome::Failed, SyncOutcome::DeadLettered],
                        limit: 5,
                        ..SyncLogQuery::default()
                    })
                    .await
                    .unwrap_or_default();
                panic!("the queues did not drain within {limit:?}; latest failures: {failures:#?}");
            }
            if received == 0 {
                let live = self.stack.queue.depth().await.expect("depth");
                let backfill = self.stack.backfill.depth().await.expect("depth");
                let pending = live.visible
                    + live.in_flight
                    + live.delayed
                    + backfill.visible
                    + backfill.in_flight
                    + backfill.delayed;
                if pending == 0 {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    /// One run of the import function's continuation mapping: `true` when a message was there.
    pub async fn continue_import(&self, deadline: Duration) -> bool {
        let import = self.import.clone();
        let poll = self
            .imports
            .poll(|payload| async move {
                import
                    .handle(LambdaEvent::new(payload, Stack::context(deadline)))
                    .await
                    .map_err(|e| e.to_string())
            })
            .await;
        assert!(!poll.invocation_failed, "the import continuation failed");
        poll.received > 0
    }

    /// Invokes the import function directly (the CLI's `import start` / run).
    pub async fn import_command(&self, command: Value, deadline: Duration) -> Value {
        self.import
            .handle(LambdaEvent::new(command, Stack::context(deadline)))
            .await
            .expect("import invocation")
    }

    pub fn start_import(object: &str) -> Value {
        json!({ "action": "start", "object": object })
    }

    /// `start` with the path asked for (`batch`, `imports`, `auto`).
    pub fn start_import_via(object: &str, via: &str) -> Value {
        json!({ "action": "start", "object": object, "via": via })
    }

    pub fn run_import(job_id: &str) -> Value {
        json!({ "action": "run", "job_id": job_id })
    }
}
