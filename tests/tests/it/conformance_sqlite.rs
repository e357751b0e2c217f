//! The embedded SQLite adapters through every port conformance suite (in memory and on a file),
//! plus what only a file-backed store can show: durability across a restart.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sf2hs_shared::conformance;
use sf2hs_shared::domain::RecordKey;
use sf2hs_shared::embedded::{EmbeddedStore, SqliteSyncLog};
use sf2hs_shared::ports::{
    ChangeQueue, ImportCounts, ImportJobs, IndexEntry, MappingStore, RecordIndex, SyncLog,
    SyncLogEntry, SyncLogQuery, SyncOutcome,
};
use sf2hs_tests::{TempDir, record_id, sample_change, sample_mapping};

fn in_memory() -> EmbeddedStore {
    EmbeddedStore::open_in_memory().expect("open an in-memory store")
}

fn on_file(dir: &TempDir) -> EmbeddedStore {
    EmbeddedStore::open(dir.fresh_file("store")).expect("open a store file")
}

// ---- conformance: in memory ----

#[tokio::test]
async fn mapping_store_conforms_in_memory() {
    conformance::mapping_store::run_all(|| async {
        Arc::new(in_memory().mapping_store()) as Arc<dyn MappingStore>
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_index_conforms_in_memory() {
    conformance::record_index::run_all(|| async {
        Arc::new(in_memory().record_index()) as Arc<dyn RecordIndex>
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_jobs_conform_in_memory() {
    conformance::import_jobs::run_all(|| async {
        Arc::new(in_memory().import_jobs()) as Arc<dyn ImportJobs>
    })
    .await;
}

#[tokio::test]
async fn sync_log_conforms_in_memory() {
    conformance::sync_log::run_all(|| async {
        Arc::new(in_memory().sync_log()) as Arc<dyn SyncLog>
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_queue_conforms_in_memory() {
    conformance::change_queue::run_all(|max_receives| async move {
        Arc::new(in_memory().change_queue(max_receives)) as Arc<dyn ChangeQueue>
    })
    .await;
}

// ---- conformance: on a file (WAL, fsync on commit) ----

#[tokio::test]
async fn mapping_store_conforms_on_file() {
    let dir = TempDir::new("conformance-mappings").expect("temp dir");
    conformance::mapping_store::run_all(|| {
        let store = on_file(&dir);
        async move { Arc::new(store.mapping_store()) as Arc<dyn MappingStore> }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_index_conforms_on_file() {
    let dir = TempDir::new("conformance-index").expect("temp dir");
    conformance::record_index::run_all(|| {
        let store = on_file(&dir);
        async move { Arc::new(store.record_index()) as Arc<dyn RecordIndex> }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_jobs_conform_on_file() {
    let dir = TempDir::new("conformance-jobs").expect("temp dir");
    conformance::import_jobs::run_all(|| {
        let store = on_file(&dir);
        async move { Arc::new(store.import_jobs()) as Arc<dyn ImportJobs> }
    })
    .await;
}

#[tokio::test]
async fn sync_log_conforms_on_file() {
    let dir = TempDir::new("conformance-log").expect("temp dir");
    conformance::sync_log::run_all(|| {
        let store = on_file(&dir);
        async move { Arc::new(store.sync_log()) as Arc<dyn SyncLog> }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_queue_conforms_on_file() {
    let dir = TempDir::new("conformance-queue").expect("temp dir");
    conformance::change_queue::run_all(|max_receives| {
        let store = on_file(&dir);
        async move { Arc::new(store.change_queue(max_receives)) as Arc<dyn ChangeQueue> }
    })
    .await;
}

// ---- SQLite specifics: durability across a restart ----

#[tokio::test]
async fn everything_survives_a_reopen() {
    let dir = TempDir::new("reopen").expect("temp dir");
    let path = dir.fresh_file("store");
    let key = RecordKey {
        object: "Invoice__c".to_owned(),
        record_id: record_id(1),
    };
    let entry = IndexEntry {
        hubspot_id: Some("18522801467".to_owned()),
        modstamp: conformance::instant(5),
        content_hash: "b5bb9d8014a0f9b1d61e21e796d78dccdf1352f23cd32812f4850b878ae4944c".to_owned(),
        deleted: false,
        write_id: 0,
    };
    let log_entry = SyncLogEntry {
        at: conformance::now_ms(),
        salesforce_object: "Invoice__c".to_owned(),
        record_id: record_id(1),
        outcome: SyncOutcome::Synced,
        reason: None,
        hubspot_id: Some("18522801467".to_owned()),
    };
    let changes: Vec<_> = (0..4).map(sample_change).collect();
    let job_id;
    {
        let store = EmbeddedStore::open(&path).expect("open");
        store
            .mapping_store()
            .put(&sample_mapping("Invoice__c"), None)
            .await
            .expect("put mapping");
        store
            .record_index()
            .put_if_newer(&key, &entry)
            .await
            .expect("put index entry");
        let jobs = store.import_jobs();
        let job = jobs
            .create("Invoice__c", Some(1000), conformance::instant(0))
            .await
            .expect("create job");
        jobs.start(&job.id).await.expect("start job");
        jobs.checkpoint(
            &job.id,
            "0r8xx3vJAkVvMNgAAF-2000",
            ImportCounts {
                enqueued: 2000,
                ..ImportCounts::default()
            },
        )
        .await
        .expect("checkpoint");
        job_id = job.id;
        store
            .sync_log()
            .append(std::slice::from_ref(&log_entry))
            .await
            .expect("append log");
        let queue = store.change_queue(5);
        queue.send_batch(&changes).await.expect("send");
        let first = queue
            .receive(1, Duration::from_secs(60))
            .await
            .expect("receive");
        queue
            .dead_letter(&first[0].receipt, "poison for the test")
            .await
            .expect("dead letter");
    }

    let store = EmbeddedStore::open(&path).expect("reopen");
    let mapping = store
        .mapping_store()
        .get("Invoice__c")
        .await
        .expect("get mapping")
        .expect("mapping survives");
    assert_eq!(
        (mapping.mapping, mapping.version),
        (sample_mapping("Invoice__c"), 1)
    );
    assert_eq!(
        store
            .record_index()
            .get(&key)
            .await
            .expect("get index")
            .map(|stored| IndexEntry {
                write_id: 0,
                ..stored
            }),
        Some(entry)
    );
    let job = store
        .import_jobs()
        .get(&job_id)
        .await
        .expect("get job")
        .expect("job survives");
    assert_eq!(job.cursor.as_deref(), Some("0r8xx3vJAkVvMNgAAF-2000"));
    assert_eq!(job.enqueued, 2000);
    assert_eq!(
        store
            .sync_log()
            .query(&SyncLogQuery::default())
            .await
            .expect("query log"),
        vec![log_entry]
    );
    let queue = store.change_queue(5);
    let depth = queue.depth().await.expect("depth");
    assert_eq!((depth.visible, depth.dead), (3, 1), "{depth:?}");
    let dead = queue.dead_letters(10).await.expect("dead letters");
    assert_eq!(dead[0].reason, "poison for the test");
    let deliveries = queue
        .receive(10, Duration::from_secs(60))
        .await
        .expect("receive after reopen");
    let received: Vec<_> = deliveries.iter().map(|d| d.change.clone()).collect();
    assert_eq!(
        received,
        changes[1..].to_vec(),
        "the rest, in order, intact"
    );
}

#[tokio::test]
async fn a_message_in_flight_at_a_crash_comes_back_after_its_timeout() {
    let dir = TempDir::new("crash").expect("temp dir");
    let path = dir.fresh_file("store");
    let change = sample_change(42);
    let message_id = {
        let queue = EmbeddedStore::open(&path).expect("open").change_queue(5);
        queue
            .send_batch(std::slice::from_ref(&change))
            .await
            .expect("send");
        let taken = queue
            .receive(1, Duration::from_secs(1))
            .await
            .expect("receive");
        assert_eq!(taken.len(), 1);
        // The worker "crashes" here: no delete, no release.
        taken[0].message_id.clone()
    };

    let queue = EmbeddedStore::open(&path).expect("reopen").change_queue(5);
    let early = queue
        .receive(10, Duration::from_secs(60))
        .await
        .expect("receive");
    assert!(early.is_empty(), "still invisible right after the restart");
    assert_eq!(queue.depth().await.expect("depth").in_flight, 1);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let again = queue
        .receive(10, Duration::from_secs(60))
        .await
        .expect("receive");
    assert_eq!(again.len(), 1, "visible again after its timeout");
    assert_eq!(again[0].message_id, message_id);
    assert_eq!(again[0].receive_count, 2);
    assert_eq!(again[0].change, change);
}

#[tokio::test]
async fn the_embedded_queue_delivers_oldest_first() {
    let queue = in_memory().change_queue(5);
    let first: Vec<_> = (0..3).map(sample_change).collect();
    let second: Vec<_> = (3..6).map(sample_change).collect();
    queue.send_batch(&first).await.expect("send");
    queue.send_batch(&second).await.expect("send");
    let got: Vec<_> = queue
        .receive(10, Duration::from_secs(60))
        .await
        .expect("receive")
        .into_iter()
        .map(|d| d.change)
        .collect();
    assert_eq!(got, [first, second].concat());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_file_never_share_a_delivery() {
    // Two connections to one file stand for two processes (a worker and the CLI): SQLite's
    // locking, not the in-process mutex, keeps their receives apart.
    let dir = TempDir::new("two-processes").expect("temp dir");
    let path = dir.fresh_file("store");
    let queue_a: Arc<dyn ChangeQueue> =
        Arc::new(EmbeddedStore::open(&path).expect("open a").change_queue(5));
    let queue_b: Arc<dyn ChangeQueue> =
        Arc::new(EmbeddedStore::open(&path).expect("open b").change_queue(5));
    let changes: Vec<_> = (0..100).map(sample_change).collect();
    queue_a.send_batch(&changes).await.expect("send");

    let mut tasks = Vec::new();
    for queue in [queue_a, queue_b] {
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let batch = queue
                    .receive(7, Duration::from_secs(60))
                    .await
                    .expect("receive");
                if batch.is_empty() {
                    break got;
                }
                got.extend(batch.into_iter().map(|d| d.message_id));
            }
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("receiver task"));
    }
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!(distinct.len(), all.len(), "no message delivered twice");
    assert_eq!(all.len(), changes.len(), "every message delivered");
}

#[tokio::test]
async fn the_sync_log_prunes_entries_past_its_retention() {
    let store = in_memory();
    let log = SqliteSyncLog::new(store, Duration::from_secs(3600));
    let entry = |hours_ago: i64, n: u32| SyncLogEntry {
        at: Utc::now() - chrono::Duration::hours(hours_ago),
        salesforce_object: "Invoice__c".to_owned(),
        record_id: record_id(n),
        outcome: SyncOutcome::Synced,
        reason: None,
        hubspot_id: None,
    };
    log.append(&[entry(3, 1), entry(0, 2)])
        .await
        .expect("append");
    let left = log.query(&SyncLogQuery::default()).await.expect("query");
    assert_eq!(left.len(), 1, "the entry older than the retention went");
    assert_eq!(left[0].record_id, record_id(2));
    assert_eq!(log.retention(), Duration::from_secs(3600));
}
