//! End to end on the deployed shape: Salesforce sandbox → (outbound messages through a
//! Function URL, CDC through EventBridge) → ingest → SQS on moto → worker → HubSpot sandbox,
//! and the import function's backfill with a continuation. HubSpot's final state is checked
//! record by record against Salesforce's.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common_pipeline::{Options, Pipeline};
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use sf2hs_sandbox::hubspot::StoredRecord;
use sf2hs_sandbox::salesforce::senders::outbound::{
    AttemptOutcome, OutboundMessageConfig, OutboundSender,
};
use sf2hs_shared::domain::SalesforceId;
use sf2hs_shared::mapping::MappingStatus;
use sf2hs_shared::ports::{ChangeQueue, ImportJobs, ImportStatus, MappingStore};
use sf2hs_shared::settings::vars;
use sf2hs_tests::stack::Stack;
use sf2hs_tests::tcp_proxy::TcpProxy;

const DRAIN: Duration = Duration::from_secs(60);

fn id18(id: &str) -> String {
    SalesforceId::parse(id).expect("id").as_str().to_owned()
}

fn live_hubspot(p: &Pipeline, object: &str, salesforce_id: &str) -> Option<StoredRecord> {
    p.stack
        .hubspot
        .handle()
        .record_by_unique(object, "salesforce_id", &id18(salesforce_id))
        .expect("sandbox read")
}

fn property(record: &StoredRecord, name: &str) -> Option<String> {
    record.properties.get(name).cloned()
}

/// The HubSpot project record(s) an invoice is associated with.
fn invoice_projects(p: &Pipeline, invoice: &StoredRecord) -> Vec<u64> {
    p.stack
        .hubspot
        .handle()
        .associations_of("sf_invoice", invoice.id, "sf_project")
        .expect("associations")
        .into_iter()
        .map(|(to, _)| to)
        .collect()
}

/// Every live Salesforce project is in HubSpot with its current values.
fn assert_projects_match(p: &Pipeline) {
    let handle = p.stack.salesforce.handle();
    for project in handle.records("Project__c").expect("records") {
        if project.deleted_date.is_some() {
            continue;
        }
        let record = live_hubspot(p, "sf_project", &project.id)
            .unwrap_or_else(|| panic!("project {} is not in HubSpot", project.id));
        assert_eq!(
            property(&record, "project_name").as_deref(),
            project.values.get("Name").and_then(Value::as_str),
            "project {}",
            project.id
        );
        let budget = project.values.get("Budget__c").and_then(Value::as_f64);
        let synced = property(&record, "budget").and_then(|b| b.parse::<f64>().ok());
        assert_eq!(synced, budget, "budget of project {}", project.id);
    }
}

async fn projects_and_invoices(p: &Pipeline) -> (Vec<String>, Vec<String>) {
    let handle = p.stack.salesforce.handle();
    let projects: Vec<String> = (0..3)
        .map(|i| {
            handle
                .create(
                    "Project__c",
                    json!({ "Name": format!("Project {i}"), "Budget__c": 1000.5 + f64::from(i) }),
                )
                .expect("project")
        })
        .collect();
    let invoices: Vec<String> = (0..6)
        .map(|i| {
            handle
                .create(
                    "Invoice__c",
                    json!({ "Name": format!("INV-{i}"), "Amount__c": 10 * (i + 1),
                            "Status__c": "Draft", "Project__c": projects[i % 3] }),
                )
                .expect("invoice")
        })
        .collect();
    (projects, invoices)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_travel_from_salesforce_to_hubspot() {
    let mut p = Pipeline::start("e2e").await;
    let (projects, invoices) = projects_and_invoices(&p).await;

    // Invoices arrive before their projects: written, their associations retried until the
    // projects are in HubSpot.
    let report = p
        .sender(
            "Invoice__c",
            &["Name", "Amount__c", "Status__c", "Project__c"],
        )
        .send(&invoices)
        .await
        .expect("delivered");
    assert!(report.all_acked(), "ingest acked every message: {report:?}");
    for _ in 0..3 {
        p.work_once().await;
    }
    for invoice in &invoices {
        let record = live_hubspot(&p, "sf_invoice", invoice).expect("invoice written");
        assert!(
            invoice_projects(&p, &record).is_empty(),
            "no project to associate with yet"
        );
    }
    let report = p
        .sender("Project__c", &["Name", "Budget__c"])
        .send(&projects)
        .await
        .expect("delivered");
    assert!(report.all_acked());
    p.drain(DRAIN).await;
    assert_projects_match(&p);
    let handle = p.stack.salesforce.handle();
    for (i, invoice) in invoices.iter().enumerate() {
        let record = live_hubspot(&p, "sf_invoice", invoice).expect("invoice");
        assert_eq!(
            property(&record, "invoice_number").as_deref(),
            Some(format!("INV-{i}").as_str())
        );
        assert_eq!(
            property(&record, "invoice_status").as_deref(),
            Some("Draft")
        );
        let project = live_hubspot(&p, "sf_project", &projects[i % 3]).expect("project");
        assert_eq!(
            invoice_projects(&p, &record),
            vec![project.id],
            "invoice {invoice} is associated with its project once the project arrived"
        );
    }

    // The other order: a new project first, then its invoice: associated at once.
    let late_project = handle
        .create("Project__c", json!({ "Name": "Late", "Budget__c": 7 }))
        .expect("project");
    let late_invoice = handle
        .create(
            "Invoice__c",
            json!({ "Name": "INV-late", "Amount__c": 70, "Status__c": "Sent", "Project__c": late_project }),
        )
        .expect("invoice");
    p.sender("Project__c", &["Name", "Budget__c"])
        .send(std::slice::from_ref(&late_project))
        .await
        .expect("delivered");
    p.drain(DRAIN).await;
    p.sender(
        "Invoice__c",
        &["Name", "Amount__c", "Status__c", "Project__c"],
    )
    .send(std::slice::from_ref(&late_invoice))
    .await
    .expect("delivered");
    p.work_once().await;
    let record = live_hubspot(&p, "sf_invoice", &late_invoice).expect("late invoice");
    let project = live_hubspot(&p, "sf_project", &late_project).expect("late project");
    assert_eq!(invoice_projects(&p, &record), vec![project.id]);

    // Updates through CDC (partial: the worker reads the records), deletes under both rules,
    // and an undelete.
    p.cdc_sequence = handle.changes_after(0).last().map_or(0, |c| c.sequence);
    handle
        .update("Project__c", &projects[0], json!({ "Budget__c": 99.25 }))
        .expect("update");
    handle
        .update(
            "Invoice__c",
            &invoices[0],
            json!({ "Amount__c": 12.5, "Status__c": "Paid" }),
        )
        .expect("update");
    handle.delete("Project__c", &projects[1]).expect("delete");
    handle.delete("Invoice__c", &invoices[1]).expect("delete");
    handle.delete("Project__c", &projects[2]).expect("delete");
    handle
        .undelete("Project__c", &projects[2])
        .expect("undelete");
    assert!(p.relay_cdc().await >= 6);
    p.drain(DRAIN).await;

    assert_projects_match(&p);
    let paid = live_hubspot(&p, "sf_invoice", &invoices[0]).expect("invoice");
    assert_eq!(property(&paid, "invoice_status").as_deref(), Some("Paid"));
    assert_eq!(
        property(&paid, "amount").and_then(|a| a.parse::<f64>().ok()),
        Some(12.5)
    );
    assert!(
        live_hubspot(&p, "sf_project", &projects[1]).is_none(),
        "a deleted project is archived (on_delete = archive)"
    );
    let archived = p
        .stack
        .hubspot
        .handle()
        .records("sf_project")
        .expect("records")
        .into_iter()
        .filter(|r| r.archived)
        .count();
    assert!(
        archived >= 1,
        "the archived project is kept by HubSpot as archived"
    );
    assert!(
        live_hubspot(&p, "sf_invoice", &invoices[1]).is_some(),
        "a deleted invoice stays in HubSpot (on_delete = keep)"
    );
    assert!(
        live_hubspot(&p, "sf_project", &projects[2]).is_some(),
        "the undeleted project is back"
    );

    // No duplicates: one live HubSpot record per live Salesforce project.
    let live_projects = handle
        .records("Project__c")
        .expect("records")
        .into_iter()
        .filter(|r| r.deleted_date.is_none())
        .count();
    assert_eq!(
        p.stack.hubspot.handle().count("sf_project").expect("count"),
        live_projects
    );
    let dead = p.stack.queue.dead_letters(10).await.expect("dead letters");
    assert!(dead.is_empty(), "nothing dead-lettered: {dead:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_mapping_parks_changes_until_it_is_activated() {
    let p = Pipeline::start("paused").await;
    let mappings = p.stack.store.mapping_store();
    mappings
        .set_status("Project__c", MappingStatus::Paused)
        .await
        .expect("paused");
    let handle = p.stack.salesforce.handle();
    let project = handle
        .create("Project__c", json!({ "Name": "Waiting", "Budget__c": 1 }))
        .expect("project");
    p.sender("Project__c", &["Name", "Budget__c"])
        .send(std::slice::from_ref(&project))
        .await
        .expect("delivered");
    p.drain(DRAIN).await;
    assert!(live_hubspot(&p, "sf_project", &project).is_none());
    let parked = p.stack.queue.dead_letters(10).await.expect("dead letters");
    assert_eq!(parked.len(), 1, "the change is parked, not dropped");
    assert!(
        parked[0].reason.starts_with("paused:"),
        "{}",
        parked[0].reason
    );

    mappings
        .set_status("Project__c", MappingStatus::Active)
        .await
        .expect("active");
    // What `sf2hs mappings activate` replays: this object's parked changes.
    assert_eq!(
        sf2hs_shared::worker::replay_parked(&p.stack.queue, "Project__c")
            .await
            .expect("replay"),
        1
    );
    p.drain(DRAIN).await;
    let record = live_hubspot(&p, "sf_project", &project).expect("synced after activation");
    assert_eq!(
        property(&record, "project_name").as_deref(),
        Some("Waiting")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_routed_platform_event_reaches_hubspot_through_the_ingest_function() {
    let p = Pipeline::start_with(
        "platform-event",
        Options {
            env: vec![(
                vars::PLATFORM_EVENTS.to_owned(),
                "Project_Changed__e=Project__c/Record_Id__c, Other__e=@Object__c/Id__c".to_owned(),
            )],
            ..Options::default()
        },
    )
    .await;
    let handle = p.stack.salesforce.handle();
    let project = handle
        .create(
            "Project__c",
            json!({ "Name": "From an event", "Budget__c": 3 }),
        )
        .expect("project");
    let event = sf2hs_tests::relayed_platform_event(
        &handle.org_id(),
        "Project_Changed__e",
        json!({ "Record_Id__c": project }),
    );
    p.ingest
        .handle(LambdaEvent::new(
            event,
            Stack::context(Duration::from_secs(30)),
        ))
        .await
        .expect("EventBridge event ingested");
    // An event with no route fails the invocation (EventBridge retries, then the failure
    // destination keeps it), with the event's name.
    let unrouted = sf2hs_tests::relayed_platform_event(
        &handle.org_id(),
        "Unknown__e",
        json!({ "Record_Id__c": project }),
    );
    let refused = p
        .ingest
        .handle(LambdaEvent::new(
            unrouted,
            Stack::context(Duration::from_secs(30)),
        ))
        .await
        .expect_err("no route");
    assert!(refused.to_string().contains("Unknown__e"), "{refused}");
    p.drain(DRAIN).await;
    let record = live_hubspot(&p, "sf_project", &project).expect("synced from the event");
    assert_eq!(
        property(&record, "project_name").as_deref(),
        Some("From an event")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_of_5000_records_resumes_from_its_checkpoint() {
    let p = Pipeline::start("import").await;
    let handle = p.stack.salesforce.handle();
    let records: Vec<Value> = (0..5_000)
        .map(|i| json!({ "Name": format!("Imported {i}"), "Budget__c": i }))
        .collect();
    let ids = handle.create_many("Project__c", records).expect("seeded");

    let started = p
        .import_command(
            Pipeline::start_import("Project__c"),
            Duration::from_secs(60),
        )
        .await;
    assert_eq!(started["state"], "pending");
    assert_eq!(started["job"]["total"], 5_000, "counted for review");
    let job_id = started["job"]["id"].as_str().expect("job id").to_owned();

    // A deadline so short that the run stops early and hands the rest on. Its Bulk job is
    // checkpointed as soon as it exists (before its results are awaited), so the pause may come
    // before the first page.
    let first = p
        .import_command(Pipeline::run_import(&job_id), Duration::from_millis(400))
        .await;
    assert_eq!(first["state"], "continues", "{first}");
    let enqueued = first["job"]["enqueued"].as_u64().expect("enqueued");
    assert!(enqueued < 5_000, "paused before the end: {first}");
    let jobs = p.stack.store.import_jobs();
    let checkpoint = jobs.get(&job_id).await.expect("job").expect("exists");
    assert!(
        checkpoint
            .cursor
            .as_deref()
            .is_some_and(|c| c.starts_with("bulk:")),
        "the checkpoint holds the Bulk job to resume with: {checkpoint:?}"
    );
    // The continuation (a message on the import queue) finishes the job; on a slow machine a
    // continuation may itself pause and hand on again, as it would on Lambda.
    assert!(p.continue_import(Duration::from_secs(120)).await);
    while p.continue_import(Duration::from_secs(120)).await {}
    // Generous: on a CI machine the one moto server is shared with every other test.
    p.drain(Duration::from_secs(480)).await;
    let job = jobs.get(&job_id).await.expect("job").expect("exists");
    assert_eq!(job.enqueued, 5_000, "every record sent once: {job:?}");
    assert_eq!(job.synced, 5_000, "{job:?}");
    assert_eq!(job.failed, 0);
    assert_eq!(job.status, ImportStatus::Completed);

    let hubspot = p.stack.hubspot.handle();
    assert_eq!(hubspot.count("sf_project").expect("count"), 5_000);
    let by_id: BTreeMap<String, String> = hubspot
        .records("sf_project")
        .expect("records")
        .into_iter()
        .map(|r| {
            (
                r.properties["salesforce_id"].clone(),
                r.properties["project_name"].clone(),
            )
        })
        .collect();
    for id in &ids {
        let record = handle
            .record("Project__c", id)
            .expect("read")
            .expect("exists");
        assert_eq!(
            by_id.get(&id18(id)).map(String::as_str),
            record.values.get("Name").and_then(Value::as_str),
            "record {id}"
        );
    }
    assert!(
        p.stack
            .backfill
            .dead_letters(10)
            .await
            .expect("dlq")
            .is_empty(),
        "nothing dead-lettered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unconvertible_value_is_dead_lettered_with_its_reason_and_the_rest_goes_through() {
    use sf2hs_shared::domain::{Change, ChangeKind, ChangeSource};
    use sf2hs_shared::ports::{SyncLog, SyncLogQuery, SyncOutcome};

    let p = Pipeline::start("poison").await;
    let handle = p.stack.salesforce.handle();
    let org = SalesforceId::parse(&handle.org_id()).expect("org");
    let change = |id: &str, budget: Value| Change {
        org_id: org.clone(),
        object: "Project__c".into(),
        record_id: SalesforceId::parse(id).expect("id"),
        kind: ChangeKind::Upsert {
            fields: BTreeMap::from([
                ("Name".to_owned(), json!("Budgeted")),
                ("Budget__c".to_owned(), budget),
            ]),
        },
        modstamp: Some(chrono::Utc::now()),
        source: ChangeSource::Worker,
        received_at: chrono::Utc::now(),
        prior_deliveries: 0,
    };
    let good = "a0P5f00000GoOdX";
    let bad = "a0P5f00000BaDdX";
    p.stack
        .queue
        .send_batch(&[change(good, json!("12.5")), change(bad, json!("twelve"))])
        .await
        .expect("queued");
    p.drain(DRAIN).await;

    let written = live_hubspot(&p, "sf_project", good).expect("the good record went through");
    assert_eq!(property(&written, "budget").as_deref(), Some("12.5"));
    assert!(live_hubspot(&p, "sf_project", bad).is_none());
    let dead = p.stack.queue.dead_letters(10).await.expect("dead letters");
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].change.record_id.as_str(), id18(bad));
    assert!(
        dead[0].reason.contains("Budget__c") && dead[0].reason.contains("twelve"),
        "the reason names the field and the value: {}",
        dead[0].reason
    );
    let log = p
        .stack
        .store
        .sync_log(p.stack.settings.sync_log_retention)
        .query(&SyncLogQuery {
            record_id: Some(SalesforceId::parse(bad).expect("id")),
            outcomes: vec![SyncOutcome::DeadLettered],
            ..SyncLogQuery::default()
        })
        .await
        .expect("sync log");
    assert_eq!(log.len(), 1, "the sync log says why: {log:?}");
}

/// A change queue that refuses the first `failures` sends, as SQS does in an outage.
struct FlakyQueue {
    inner: sf2hs_shared::aws::SqsChangeQueue,
    failures: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl ChangeQueue for FlakyQueue {
    async fn send_batch(
        &self,
        changes: &[sf2hs_shared::domain::Change],
    ) -> sf2hs_shared::ports::PortResult<()> {
        use std::sync::atomic::Ordering;
        if self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(sf2hs_shared::ports::PortError::Unavailable {
                backend: "SQS",
                reason: "injected outage".into(),
            });
        }
        self.inner.send_batch(changes).await
    }
    async fn send_delayed(
        &self,
        changes: &[sf2hs_shared::domain::Change],
        delay: Duration,
    ) -> sf2hs_shared::ports::PortResult<()> {
        self.inner.send_delayed(changes, delay).await
    }
    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
    ) -> sf2hs_shared::ports::PortResult<Vec<sf2hs_shared::ports::Delivery>> {
        self.inner.receive(max, visibility).await
    }
    async fn delete(&self, receipts: &[String]) -> sf2hs_shared::ports::PortResult<()> {
        self.inner.delete(receipts).await
    }
    async fn release(&self, receipt: &str, delay: Duration) -> sf2hs_shared::ports::PortResult<()> {
        self.inner.release(receipt, delay).await
    }
    async fn dead_letter(
        &self,
        receipt: &str,
        reason: &str,
    ) -> sf2hs_shared::ports::PortResult<()> {
        self.inner.dead_letter(receipt, reason).await
    }
    async fn dead_letters(
        &self,
        limit: usize,
    ) -> sf2hs_shared::ports::PortResult<Vec<sf2hs_shared::ports::DeadLetter>> {
        self.inner.dead_letters(limit).await
    }
    async fn replay(&self, message_ids: &[String]) -> sf2hs_shared::ports::PortResult<u64> {
        self.inner.replay(message_ids).await
    }
    async fn depth(&self) -> sf2hs_shared::ports::PortResult<sf2hs_shared::ports::QueueDepth> {
        self.inner.depth().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_never_acks_while_the_queue_is_down_and_salesforce_retries_deliver_everything() {
    use sf2hs_sandbox::salesforce::senders::outbound::{
        AttemptOutcome, OutboundMessageConfig, OutboundSender,
    };

    let p = Pipeline::start("ack").await;
    let handle = p.stack.salesforce.handle();
    let ids = handle
        .create_many(
            "Project__c",
            (0..250)
                .map(|i| json!({ "Name": format!("Acked {i}"), "Budget__c": i }))
                .collect(),
        )
        .expect("seeded");
    // An ingest function whose queue is down for its first four sends.
    let flaky = std::sync::Arc::new(sf2hs_ingest::IngestFunction {
        settings: p.ingest.settings.clone(),
        queue: std::sync::Arc::new(FlakyQueue {
            inner: p.stack.queue.clone(),
            failures: std::sync::atomic::AtomicUsize::new(4),
        }),
        resyncs: None,
    });
    let url = sf2hs_tests::function_url::FunctionUrl::serve(move |event| {
        let function = flaky.clone();
        async move {
            function
                .handle(lambda_runtime::LambdaEvent::new(
                    event,
                    sf2hs_tests::stack::Stack::context(Duration::from_secs(30)),
                ))
                .await
                .map_err(|e| e.to_string())
        }
    })
    .await;
    let endpoint = format!(
        "{}/outbound/{}",
        url.base_url(),
        sf2hs_tests::stack::ENDPOINT_TOKEN
    );
    let report = OutboundSender::new(
        handle.clone(),
        OutboundMessageConfig::new(&endpoint, "Project__c", &["Name", "Budget__c"]),
    )
    .expect("sender")
    .send(&ids)
    .await
    .expect("delivered");
    let refused: usize = report
        .messages
        .iter()
        .flat_map(|m| m.attempts.iter())
        .filter(|a| matches!(a, AttemptOutcome::NotAcked { status: 503, .. }))
        .count();
    assert_eq!(
        refused, 4,
        "every send the queue refused was answered without an ack: {report:?}"
    );
    assert!(
        report.all_acked(),
        "Salesforce's retries got through after the outage"
    );
    p.drain(DRAIN).await;
    assert_projects_match(&p);
    assert_eq!(
        p.stack.hubspot.handle().count("sf_project").expect("count"),
        250,
        "nothing lost, nothing duplicated"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_ack_while_sqs_is_unreachable_then_salesforces_retry_delivers() {
    // Ingest reaches moto through a proxy that goes down as a stopped SQS would: connections
    // cut, new ones closed. The worker and the test read moto directly.
    let moto: std::net::SocketAddr = sf2hs_tests::moto_endpoint()
        .trim_start_matches("http://")
        .parse()
        .expect("moto's address");
    let proxy = TcpProxy::start(moto).await.expect("proxy");
    let p = Pipeline::start_with_ingest_endpoint("sqsdown", Some(&proxy.url())).await;
    let handle = p.stack.salesforce.handle();
    let projects = handle
        .create_many(
            "Project__c",
            (0..30)
                .map(|i| json!({ "Name": format!("Outage {i}"), "Budget__c": i }))
                .collect(),
        )
        .expect("projects");
    // Salesforce retries an unacknowledged message with growing waits.
    let mut config =
        OutboundMessageConfig::new(&p.outbound_url(), "Project__c", &["Name", "Budget__c"]);
    config.initial_backoff = Duration::from_millis(200);
    config.max_backoff = Duration::from_secs(1);
    config.max_attempts = 120;
    let mut sender = OutboundSender::new(handle.clone(), config).expect("sender");

    proxy.down();
    let sending = {
        let projects = projects.clone();
        tokio::spawn(async move { sender.send(&projects).await })
    };
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        !sending.is_finished(),
        "the message is not acknowledged while SQS is unreachable"
    );
    let depth = p.stack.queue.depth().await.expect("depth");
    assert_eq!(
        depth.visible + depth.in_flight + depth.delayed,
        0,
        "{depth:?}"
    );

    proxy.up();
    let report = tokio::time::timeout(Duration::from_secs(90), sending)
        .await
        .expect("delivered after the outage")
        .expect("sender task")
        .expect("sender");
    assert!(report.all_acked(), "{report:?}");
    let attempts = &report.messages[0].attempts;
    let refused = attempts
        .iter()
        .filter(|a| matches!(a, AttemptOutcome::NotAcked { status: 503, .. }))
        .count();
    assert!(
        refused >= 1 && attempts.last() == Some(&AttemptOutcome::Acked),
        "refused with 503 while down, acknowledged after: {attempts:?}"
    );

    p.drain(DRAIN).await;
    for id in &projects {
        assert!(
            live_hubspot(&p, "sf_project", id).is_some(),
            "{id} reached HubSpot after the outage"
        );
    }
    let dead = p.stack.queue.dead_letters(10).await.expect("dead letters");
    assert!(dead.is_empty(), "{dead:?}");
}
