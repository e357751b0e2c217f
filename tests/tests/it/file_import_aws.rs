//! `--via imports` on AWS: the import function writes the file in its `/tmp`, sends it to
//! HubSpot's Imports API, polls, and settles HubSpot's outcome (row errors to the sync log, the
//! other rows to the record index), each step resumable by its continuation. A continuation
//! that lands in another execution environment (another `/tmp`) rebuilds the ledger from
//! Salesforce, and the job's counts stay exact.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use sf2hs_shared::aws::AwsConnection;
use sf2hs_shared::domain::{RecordKey, SalesforceId};
use sf2hs_shared::ports::{ImportJobs, ImportStatus, RecordIndex, SyncLog, SyncLogQuery};
use sf2hs_tests::stack::Stack;

use super::common_pipeline::{Options, Pipeline};

const PLAIN: usize = 1_450;
// More than one page of HubSpot's row errors (100 a page).
const VOID: usize = 130;

/// One continuation on the import queue, run by `function` with no time to spare: each run
/// does one step (a poll, or one chunk of the settling walk) and hands on.
async fn continue_in(p: &Pipeline, function: &Arc<sf2hs_import::ImportFunction>) -> bool {
    let function = function.clone();
    let poll = p
        .imports
        .poll(|payload| async move {
            function
                .handle(LambdaEvent::new(payload, Stack::context(Duration::ZERO)))
                .await
                .map_err(|e| e.to_string())
        })
        .await;
    assert!(!poll.invocation_failed, "the import continuation failed");
    poll.received > 0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_through_the_imports_api_settles_across_invocations_and_environments() {
    let options = Options {
        // Salesforce allows "Void"; HubSpot's `invoice_status` has no such option.
        invoice: Some(sf2hs_sandbox::demo::invoice_object_with_statuses(&[
            "Draft", "Sent", "Paid", "Void",
        ])),
        ..Options::default()
    };
    let p = Pipeline::start_with("file-import", options).await;
    let sf = p.stack.salesforce.handle();
    let hs = p.stack.hubspot.handle();
    hs.set_import_settings(sf2hs_sandbox::hubspot::ImportSettings {
        start_delay_ms: 0,
        rows_per_second: 0,
        ..sf2hs_sandbox::hubspot::ImportSettings::default()
    })
    .expect("import settings");
    // The refused ones first: the records of the cutoff's own second, which the worker re-reads,
    // are then plain ones (a re-read `Void` would fail again, in the worker).
    let statuses = ["Draft", "Sent", "Paid"];
    let mut invoices: Vec<Value> = (0..VOID)
        .map(|i| json!({ "Name": format!("INV-V{i}"), "Amount__c": 1, "Status__c": "Void" }))
        .collect();
    invoices.extend((0..PLAIN).map(
        |i| json!({ "Name": format!("INV-{i}"), "Amount__c": i, "Status__c": statuses[i % 3] }),
    ));
    let ids = sf.create_many("Invoice__c", invoices).expect("invoices");
    let total = (PLAIN + VOID) as u64;

    // "Another execution environment": the same function on the same stack, with a `/tmp` of
    // its own.
    let elsewhere = {
        let lookup = p.stack.lookup();
        let connection = AwsConnection::local(p.stack.endpoint()).await;
        let mut function = sf2hs_import::from_connection(&lookup, connection)
            .await
            .expect("import starts");
        let tmp = sf2hs_tests::TempDir::new("elsewhere").expect("temp dir");
        function
            .importer
            .files
            .as_mut()
            .expect("the file path")
            .work_dir = tmp.path().to_owned();
        (Arc::new(function), tmp)
    };

    let started = p
        .import_command(
            Pipeline::start_import_via("Invoice__c", "imports"),
            Duration::from_secs(60),
        )
        .await;
    assert_eq!(started["job"]["cursor"], "hubspot-import:", "{started}");
    assert_eq!(started["job"]["total"], total, "{started}");
    let job_id = started["job"]["id"].as_str().expect("job id").to_owned();
    let first = p
        .import_command(Pipeline::run_import(&job_id), Duration::ZERO)
        .await;
    assert_eq!(first["state"], "continues", "{first}");
    let jobs = p.stack.store.import_jobs();
    let sent = jobs.get(&job_id).await.expect("job").expect("exists");
    assert_eq!(
        sent.enqueued, total,
        "every record counted once sent: {sent:?}"
    );

    // Continuations alternate between the two environments until the job has no more.
    let mut cursors = Vec::new();
    let mut runs = 0;
    let here = p.import.clone();
    loop {
        let function = if runs % 2 == 0 { &elsewhere.0 } else { &here };
        if !continue_in(&p, function).await {
            break;
        }
        runs += 1;
        assert!(runs < 60, "settling never ends: {cursors:?}");
        let job = jobs.get(&job_id).await.expect("job").expect("exists");
        assert!(
            job.synced + job.failed <= total,
            "never counted past the file: {job:?}"
        );
        cursors.push(job.cursor.unwrap_or_default());
    }
    // `hubspot-import:{import}/{rows}/{failed}/{ledger}/{line}/{synced}` while settling.
    let settling: Vec<Vec<&str>> = cursors
        .iter()
        .filter_map(|c| c.strip_prefix("hubspot-import:"))
        .map(|rest| rest.split('/').collect::<Vec<_>>())
        .filter(|parts| parts.len() == 6)
        .collect();
    let ledgers: BTreeSet<&str> = settling.iter().map(|parts| parts[3]).collect();
    assert!(
        ledgers.len() >= 2,
        "the other environment rebuilt the ledger: {cursors:?}"
    );
    assert!(
        settling
            .iter()
            .any(|parts| parts[4] != "0" && parts[4] != total.to_string()),
        "a run stopped inside the walk: {cursors:?}"
    );

    // The records changed in the cutoff's own second are re-read by the worker.
    p.drain(Duration::from_secs(120)).await;
    let job = jobs.get(&job_id).await.expect("job").expect("exists");
    assert_eq!(job.status, ImportStatus::Completed, "{job:?}");
    let rereads = job.enqueued - total;
    assert!((1..=10).contains(&rereads), "{job:?}");
    assert_eq!(job.failed, VOID as u64, "{job:?}");
    assert_eq!(job.synced, PLAIN as u64 + rereads, "exact: {job:?}");
    assert_eq!(hs.imports_started().expect("imports"), 1);

    // HubSpot holds every invoice (a refused cell costs its value only, as the sandbox reads
    // HubSpot's unstated rule), the index knows the plain ones, and each refused row failed once.
    assert_eq!(hs.count("sf_invoice").expect("count"), PLAIN + VOID);
    let index = p.stack.store.record_index();
    let log = p.stack.store.sync_log(Duration::from_secs(86_400));
    for (n, id) in ids.iter().enumerate() {
        let record_id = SalesforceId::parse(id).expect("id");
        let key = RecordKey {
            object: "Invoice__c".into(),
            record_id: record_id.clone(),
        };
        let entry = index.get(&key).await.expect("index");
        if n >= VOID {
            assert!(entry.is_some(), "{id} is in the record index");
            continue;
        }
        assert!(entry.is_none(), "a refused row has no index entry: {id}");
        let failures = log
            .query(&SyncLogQuery {
                salesforce_object: Some("Invoice__c".into()),
                record_id: Some(record_id),
                ..SyncLogQuery::default()
            })
            .await
            .expect("log");
        // Once, though several runs read HubSpot's row errors.
        let row_errors = failures
            .iter()
            .filter(|f| {
                f.reason.as_deref().is_some_and(|r| {
                    r.contains("INVALID_ENUMERATION_OPTION") && r.contains("HubSpot import")
                })
            })
            .count();
        assert_eq!(row_errors, 1, "{id} failed once: {failures:?}");
    }
}

/// A record deleted in Salesforce while HubSpot works through the file: the worker archives it
/// (the live delete), the file's older row then brings it back, and settling sends every record
/// deleted since the cutoff to the worker again, which finds it gone and archives it for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_deleted_while_hubspot_imports_the_file_ends_archived() {
    let mut p = Pipeline::start("file-import-delete").await;
    let sf = p.stack.salesforce.handle();
    let hs = p.stack.hubspot.handle();
    // HubSpot takes the file up 3 s after it arrives: time for the live delete first.
    hs.set_import_settings(sf2hs_sandbox::hubspot::ImportSettings {
        start_delay_ms: 3_000,
        rows_per_second: 0,
        ..sf2hs_sandbox::hubspot::ImportSettings::default()
    })
    .expect("import settings");
    let ids = sf
        .create_many(
            "Project__c",
            (0..50)
                .map(|i| json!({ "Name": format!("P{i}"), "Budget__c": i }))
                .collect(),
        )
        .expect("projects");
    p.cdc_sequence = sf.changes_after(0).last().map_or(0, |c| c.sequence);

    let started = p
        .import_command(
            Pipeline::start_import_via("Project__c", "imports"),
            Duration::from_secs(60),
        )
        .await;
    let job_id = started["job"]["id"].as_str().expect("job id").to_owned();
    let sent = p
        .import_command(Pipeline::run_import(&job_id), Duration::ZERO)
        .await;
    assert_eq!(sent["state"], "continues", "{sent}");

    // The live delete, through CDC, written before HubSpot takes the file up.
    let deleted = ids[3].clone();
    sf.delete("Project__c", &deleted).expect("deleted");
    assert!(p.relay_cdc().await >= 1);
    p.drain(Duration::from_secs(30)).await;

    // The file is processed (its row for the deleted record among the others), then settled.
    while p.continue_import(Duration::from_secs(60)).await {}
    p.drain(Duration::from_secs(60)).await;
    let job = p
        .stack
        .store
        .import_jobs()
        .get(&job_id)
        .await
        .expect("job")
        .expect("exists");
    assert_eq!(job.status, ImportStatus::Completed, "{job:?}");
    let live = hs
        .record_by_unique("sf_project", "salesforce_id", &deleted)
        .expect("read")
        .filter(|r| !r.archived);
    assert!(
        live.is_none(),
        "deleted in Salesforce, live in HubSpot: {live:?}"
    );
    assert_eq!(hs.count("sf_project").expect("count"), 49);
}
