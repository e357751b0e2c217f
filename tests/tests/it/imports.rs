//! Imports that really resume (platform-behaviours.md S7): a run stopped by the API-allowance
//! guard leaves its job running at its checkpoint, not failed, and the next run goes on from
//! there once the rolling allowance has room.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sf2hs_sandbox::hubspot::SandboxConfig;
use sf2hs_sandbox::salesforce::ApiUsage;
use sf2hs_shared::domain::SalesforceId;
use sf2hs_shared::import::{ImportProgress, Importer};
use sf2hs_shared::ports::{ChangeQueue, ImportJobs, ImportStatus};
use sf2hs_shared::salesforce::client::{
    ApiVersion, SalesforceAuth, SalesforceClient, SalesforceClientConfig, Secret,
};

/// A client of `salesforce` that pages by 200 and whose guard probes after 200 ms.
fn paging_client(
    salesforce: &sf2hs_sandbox::salesforce::RunningSalesforceSandbox,
) -> SalesforceClientConfig {
    let mut config = SalesforceClientConfig::new(
        &salesforce.base_url(),
        ApiVersion::parse("60.0").expect("version"),
        SalesforceAuth::ClientCredentials {
            client_id: sf2hs_sandbox::salesforce::DEFAULT_CLIENT_ID.into(),
            client_secret: Secret::new(sf2hs_sandbox::salesforce::DEFAULT_CLIENT_SECRET),
        },
    );
    config.query_batch_size = Some(200);
    config.quota_probe_after = Duration::from_millis(200);
    config
}

/// The batch importer of `store`'s mappings and jobs, reading Salesforce through `pages`.
fn batch_importer(
    store: &sf2hs_shared::embedded::EmbeddedStore,
    queue: Arc<dyn ChangeQueue>,
    pages: SalesforceClient,
    sf: &sf2hs_sandbox::salesforce::SalesforceHandle,
) -> Importer {
    Importer {
        mappings: Arc::new(store.mapping_store()),
        jobs: Arc::new(store.import_jobs()),
        queue,
        pages: Arc::new(pages),
        org_id: SalesforceId::parse(&sf.org_id()).expect("org"),
        files: None,
    }
}

/// Starts an import of the projects and runs it until the allowance guard stops it: the org's
/// other integrations take the allowance near sf2hs's share, so the run's count and first page
/// go, and the first page's answer says there is no more room.
async fn import_until_the_guard_stops(
    store: &sf2hs_shared::embedded::EmbeddedStore,
    queue: Arc<sf2hs_shared::embedded::SqliteChangeQueue>,
    config: SalesforceClientConfig,
    sf: &sf2hs_sandbox::salesforce::SalesforceHandle,
) -> (Importer, sf2hs_shared::ports::ImportJob, ImportProgress) {
    let client = SalesforceClient::new(config).expect("client");
    let importer = batch_importer(store, queue, client, sf);
    let job = importer.start("Project__c").await.expect("started");
    sf.set_api_usage(ApiUsage { used: 78, max: 100 })
        .expect("usage");
    let stopped = importer.run(&job.id, far()).await.expect("not an error");
    (importer, job, stopped)
}

/// Every change on `queue`, received (and left in flight).
async fn everything_queued(queue: &dyn ChangeQueue) -> Vec<sf2hs_shared::domain::Change> {
    let mut changes = Vec::new();
    loop {
        let batch = queue
            .receive(100, Duration::from_secs(60))
            .await
            .expect("receive");
        if batch.is_empty() {
            return changes;
        }
        changes.extend(batch.into_iter().map(|d| d.change));
    }
}

fn far() -> Instant {
    Instant::now() + Duration::from_secs(600)
}

/// 500 projects in the org; their ids.
fn seed_projects(sf: &sf2hs_sandbox::salesforce::SalesforceHandle) -> Vec<String> {
    let records: Vec<serde_json::Value> = (0..500)
        .map(|n| serde_json::json!({ "Name": format!("P{n}"), "Budget__c": 1 }))
        .collect();
    sf.create_many("Project__c", records).expect("seeded")
}

/// The sandboxes with 500 projects in the org, and a store with the demo's mappings.
async fn seeded() -> (
    sf2hs_sandbox::salesforce::RunningSalesforceSandbox,
    sf2hs_sandbox::hubspot::RunningSandbox,
    sf2hs_shared::embedded::EmbeddedStore,
) {
    let (salesforce, hubspot) = sf2hs_sandbox::demo::start_pair(SandboxConfig::default())
        .await
        .expect("sandboxes");
    seed_projects(&salesforce.handle());
    let store = sf2hs_tests::stack::embedded_store_with_mappings().await;
    (salesforce, hubspot, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_stopped_by_the_allowance_guard_waits_and_resumes_from_its_checkpoint() {
    let (salesforce, _hubspot, store) = seeded().await;
    let sf = salesforce.handle();
    let config = paging_client(&salesforce);
    let queue = Arc::new(store.change_queue(5));
    let (importer, job, stopped) = import_until_the_guard_stops(&store, queue, config, &sf).await;
    let ImportProgress::Waiting {
        job: waiting,
        reason,
    } = stopped
    else {
        panic!("waits: {stopped:?}");
    };
    assert!(reason.contains("daily API calls"), "{reason}");
    assert_eq!(waiting.status, ImportStatus::Running, "not failed");
    assert_eq!(waiting.enqueued, 200, "the first page is checkpointed");

    // The rolling day moves on; once the guard's reading is old, the next run probes and goes on.
    sf.set_api_usage(ApiUsage { used: 10, max: 100 })
        .expect("usage");
    tokio::time::sleep(Duration::from_millis(250)).await;
    let resumed = importer.run(&job.id, far()).await.expect("resumes");
    let ImportProgress::AllSent(done) = resumed else {
        panic!("all sent: {resumed:?}");
    };
    assert_eq!(
        done.enqueued, 500,
        "every record once, from the checkpoint on"
    );
    let stored = store
        .import_jobs()
        .get(&job.id)
        .await
        .expect("jobs")
        .expect("job");
    assert_eq!(stored.error, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_import_goes_on_from_its_key_set_when_the_query_locator_has_expired() {
    // platform-behaviours.md S6: a REST query locator expires (about 15 minutes unused). Every
    // record shares one second here (a data load): the key set's tie group is the whole set.
    let (salesforce, _hubspot) = sf2hs_sandbox::demo::start_pair_in(
        sf2hs_sandbox::salesforce::SalesforceConfig {
            changes_per_stamp: 1_000,
            ..sf2hs_sandbox::demo::demo_org()
        },
        SandboxConfig::default(),
        sf2hs_sandbox::demo::project_object(),
        sf2hs_sandbox::demo::invoice_object(),
    )
    .await
    .expect("sandboxes");
    let sf = salesforce.handle();
    let ids = seed_projects(&sf);
    let config = paging_client(&salesforce);
    let store = sf2hs_tests::stack::embedded_store_with_mappings().await;
    let queue = Arc::new(store.change_queue(5));
    let (importer, job, stopped) =
        import_until_the_guard_stops(&store, queue.clone(), config, &sf).await;
    assert!(
        matches!(&stopped, ImportProgress::Waiting { job, .. } if job.enqueued == 200),
        "{stopped:?}"
    );

    // Paused past the locator's life.
    sf.expire_query_cursors().expect("expired");
    sf.set_api_usage(ApiUsage { used: 10, max: 100 })
        .expect("usage");
    tokio::time::sleep(Duration::from_millis(250)).await;
    let resumed = importer.run(&job.id, far()).await.expect("resumes");
    let ImportProgress::AllSent(done) = resumed else {
        panic!("all sent: {resumed:?}");
    };
    assert_eq!(done.enqueued, 500);
    // Every record exactly once.
    let mut sent: Vec<SalesforceId> = everything_queued(queue.as_ref())
        .await
        .into_iter()
        .map(|c| c.record_id)
        .collect();
    sent.sort();
    let mut expected: Vec<SalesforceId> = ids
        .iter()
        .map(|id| SalesforceId::parse(id).expect("id"))
        .collect();
    expected.sort();
    assert_eq!(sent, expected, "none missing, none twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resync_sends_the_changes_and_deletes_of_its_window_and_nothing_older() {
    // platform-behaviours.md S4: a GAP_OVERFLOW event names no record; what changed from its
    // commit time, deletes included, is read again.
    let (salesforce, _hubspot) = sf2hs_sandbox::demo::start_pair(SandboxConfig::default())
        .await
        .expect("sandboxes");
    let sf = salesforce.handle();
    let before: Vec<serde_json::Value> = (0..30)
        .map(|n| serde_json::json!({ "Name": format!("Old {n}"), "Budget__c": 1 }))
        .collect();
    let old = sf.create_many("Project__c", before).expect("seeded");
    sf.advance_clock(chrono::TimeDelta::minutes(5))
        .expect("clock");
    let since = sf.now();
    // The overflowing transaction: some records changed, some deleted, some created.
    for id in &old[..10] {
        sf.update("Project__c", id, serde_json::json!({ "Name": "Changed" }))
            .expect("updated");
    }
    for id in &old[10..15] {
        sf.delete("Project__c", id).expect("deleted");
    }
    let new = sf
        .create_many(
            "Project__c",
            (0..5)
                .map(|n| serde_json::json!({ "Name": format!("New {n}"), "Budget__c": 2 }))
                .collect(),
        )
        .expect("created");

    let store = sf2hs_tests::stack::embedded_store_with_mappings().await;
    let queue = Arc::new(store.change_queue(5));
    let jobs = Arc::new(store.import_jobs());
    let (client, _) = sf2hs_tests::stack::sandbox_clients(&salesforce, &_hubspot);
    let importer = batch_importer(&store, queue.clone(), client, &sf);
    let job = jobs
        .create_resync("Project__c", since, since + chrono::TimeDelta::hours(1))
        .await
        .expect("re-sync");
    let done = importer.run(&job.id, far()).await.expect("runs");
    let ImportProgress::AllSent(done) = done else {
        panic!("all sent: {done:?}");
    };
    assert_eq!(
        done.enqueued, 20,
        "10 changed, 5 deleted, 5 created: {done:?}"
    );

    let mut upserts = Vec::new();
    let mut deletes = Vec::new();
    for change in everything_queued(queue.as_ref()).await {
        let id = change.record_id.as_str().to_owned();
        match change.kind {
            sf2hs_shared::domain::ChangeKind::Delete => deletes.push(id),
            _ => upserts.push(id),
        }
    }
    let id18 = |ids: &[String]| -> Vec<String> {
        let mut ids: Vec<String> = ids
            .iter()
            .map(|i| SalesforceId::parse(i).expect("id").as_str().to_owned())
            .collect();
        ids.sort();
        ids
    };
    upserts.sort();
    deletes.sort();
    let mut expected = old[..10].to_vec();
    expected.extend(new);
    assert_eq!(upserts, id18(&expected), "the window's live changes");
    assert_eq!(deletes, id18(&old[10..15]), "the window's deletes");
}

/// `sf2hs import cancel`: a job cancelled while it waits at its checkpoint sends no further page
/// when run again, and says it is cancelled; what was on the queue stays there to be written.
#[tokio::test]
async fn a_cancelled_import_sends_no_further_page() {
    let (salesforce, _hubspot, store) = seeded().await;
    let sf = salesforce.handle();
    let queue = Arc::new(store.change_queue(5));
    let (importer, job, stopped) =
        import_until_the_guard_stops(&store, queue.clone(), paging_client(&salesforce), &sf).await;
    assert!(
        matches!(stopped, ImportProgress::Waiting { .. }),
        "{stopped:?}"
    );
    let sent_before = queue.depth().await.expect("depth").visible;

    let cancelled = sf2hs_shared::import::cancel(&store.import_jobs(), &job.id)
        .await
        .expect("cancelled");
    assert_eq!(cancelled.status, ImportStatus::Cancelled);
    sf.set_api_usage(ApiUsage { used: 10, max: 100 })
        .expect("usage");
    tokio::time::sleep(Duration::from_millis(250)).await;
    match importer.run(&job.id, far()).await {
        Err(sf2hs_shared::import::ImportError::Finished { status, .. }) => {
            assert_eq!(status, "cancelled")
        }
        other => panic!("a cancelled import ran on: {other:?}"),
    }
    assert_eq!(
        queue.depth().await.expect("depth").visible,
        sent_before,
        "no further page, and nothing taken back"
    );
    match sf2hs_shared::import::cancel(&store.import_jobs(), &job.id).await {
        Err(sf2hs_shared::import::ImportError::Finished { .. }) => {}
        other => panic!("cancelling twice: {other:?}"),
    }
}

/// An import that cannot go the way asked (here: the Imports API where no file path exists) is
/// failed with the reason, not left pending for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_that_cannot_take_the_path_asked_is_failed_with_the_reason() {
    let (salesforce, _hubspot, store) = seeded().await;
    let sf = salesforce.handle();
    let client = SalesforceClient::new(paging_client(&salesforce)).expect("client");
    let importer = batch_importer(&store, Arc::new(store.change_queue(5)), client, &sf);
    let job = importer.start("Project__c").await.expect("started");
    let refused = importer
        .choose_path(&job, sf2hs_shared::import::ImportVia::HubSpotImports)
        .await
        .expect_err("no file path here");
    let failed = store
        .import_jobs()
        .get(&job.id)
        .await
        .expect("read")
        .expect("job");
    assert_eq!(failed.status, ImportStatus::Failed, "{failed:?}");
    assert_eq!(failed.error.as_deref(), Some(refused.to_string().as_str()));
    assert!(refused.to_string().contains("--via batch"), "{refused}");
    // `auto` without a file path is the batch path, and the job stays pending for review.
    let job = importer.start("Project__c").await.expect("started");
    assert!(
        !importer
            .choose_path(&job, sf2hs_shared::import::ImportVia::Auto)
            .await
            .expect("batch")
    );
    let pending = store
        .import_jobs()
        .get(&job.id)
        .await
        .expect("read")
        .expect("job");
    assert_eq!(pending.status, ImportStatus::Pending);
}
