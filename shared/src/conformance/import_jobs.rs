//! Conformance of [`ImportJobs`] adapters. The factory returns a fresh, empty store per check.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::{instant, now_ms, ok};
use crate::ports::{ImportCounts, ImportJob, ImportJobs, ImportStatus, PortError};

/// Runs every check, each on a fresh store from `factory`.
pub async fn run_all<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn ImportJobs>>,
{
    check_create_and_get(factory().await).await;
    check_start(factory().await).await;
    check_checkpoint_keeps_cursor_and_counts(factory().await).await;
    check_concurrent_add_counts(factory().await).await;
    check_finish(factory().await).await;
    check_list_newest_first(factory().await).await;
    check_unknown_ids(factory().await).await;
    check_create_resync(factory().await).await;
}

/// A re-sync is created running (no operator starts it), with its window's start kept
/// exactly, reads back as created, and lists beside the imports.
pub async fn check_create_resync(jobs: Arc<dyn ImportJobs>) {
    const CHECK: &str = "import_jobs::create_resync";
    let since = instant(-3_600) + chrono::Duration::milliseconds(250);
    let resync = ok(
        CHECK,
        "create_resync",
        jobs.create_resync("Invoice__c", since, instant(0)).await,
    );
    assert_eq!(
        resync.status,
        ImportStatus::Running,
        "[{CHECK}] running at once"
    );
    assert_eq!(resync.since, Some(since), "[{CHECK}] since kept exactly");
    assert_eq!(resync.cutoff, instant(0), "[{CHECK}] cutoff");
    assert_eq!(resync.total, None, "[{CHECK}] not counted");
    assert_eq!(
        must_get(CHECK, jobs.as_ref(), &resync.id).await,
        resync,
        "[{CHECK}] get returns the created re-sync"
    );
    let import = ok(
        CHECK,
        "create",
        jobs.create("Invoice__c", None, instant(0)).await,
    );
    assert_eq!(import.since, None, "[{CHECK}] an import has no since");
    let listed: Vec<String> = ok(CHECK, "list", jobs.list().await)
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert!(listed.contains(&resync.id), "[{CHECK}] listed");
}

async fn must_get(check: &str, jobs: &dyn ImportJobs, id: &str) -> ImportJob {
    match ok(check, "get", jobs.get(id).await) {
        Some(job) => job,
        None => panic!("[{check}] job {id} is missing"),
    }
}

/// A new job is pending with zero counts and no cursor, and reads back as created.
pub async fn check_create_and_get(jobs: Arc<dyn ImportJobs>) {
    const CHECK: &str = "import_jobs::create_and_get";
    let before = now_ms() - chrono::Duration::seconds(5);
    let cutoff = instant(0);
    let job = ok(
        CHECK,
        "create",
        jobs.create("Invoice__c", Some(12_345), cutoff).await,
    );
    assert!(!job.id.is_empty(), "[{CHECK}] the job has an id");
    assert_eq!(job.salesforce_object, "Invoice__c", "[{CHECK}] object");
    assert_eq!(
        job.status,
        ImportStatus::Pending,
        "[{CHECK}] a new job is pending"
    );
    assert_eq!(job.total, Some(12_345), "[{CHECK}] total");
    assert_eq!(
        (job.enqueued, job.synced, job.failed),
        (0, 0, 0),
        "[{CHECK}] counts start at zero"
    );
    assert_eq!(job.cursor, None, "[{CHECK}] no cursor yet");
    assert_eq!(job.cutoff, cutoff, "[{CHECK}] cutoff kept exactly");
    assert!(job.created_at >= before, "[{CHECK}] created_at is now");
    assert_eq!(job.finished_at, None, "[{CHECK}] not finished");
    assert_eq!(job.error, None, "[{CHECK}] no error");
    assert_eq!(job.since, None, "[{CHECK}] a full import");
    assert_eq!(
        must_get(CHECK, jobs.as_ref(), &job.id).await,
        job,
        "[{CHECK}] get returns the created job"
    );

    let uncounted = ok(
        CHECK,
        "create",
        jobs.create("Payment__c", None, cutoff).await,
    );
    assert_eq!(uncounted.total, None, "[{CHECK}] total may be unknown");
    assert_ne!(uncounted.id, job.id, "[{CHECK}] ids are unique");
    assert_eq!(
        ok(CHECK, "get unknown", jobs.get("no-such-job").await),
        None,
        "[{CHECK}] unknown id"
    );
}

/// `start` makes a pending job running, is a no-op on a running job, and refuses a finished one.
pub async fn check_start(jobs: Arc<dyn ImportJobs>) {
    const CHECK: &str = "import_jobs::start";
    let job = ok(
        CHECK,
        "create",
        jobs.create("Invoice__c", None, instant(0)).await,
    );
    let started = ok(CHECK, "start", jobs.start(&job.id).await);
    assert_eq!(started.status, ImportStatus::Running, "[{CHECK}] running");
    assert_eq!(started.id, job.id, "[{CHECK}] same job");
    let again = ok(CHECK, "start again", jobs.start(&job.id).await);
    assert_eq!(
        again.status,
        ImportStatus::Running,
        "[{CHECK}] still running"
    );
    assert_eq!(
        must_get(CHECK, jobs.as_ref(), &job.id).await.status,
        ImportStatus::Running,
        "[{CHECK}] stored status"
    );
    ok(
        CHECK,
        "finish",
        jobs.finish(&job.id, ImportStatus::Completed, None).await,
    );
    match jobs.start(&job.id).await {
        Err(PortError::Invalid { .. }) => {}
        other => panic!("[{CHECK}] starting a finished job must be refused, got {other:?}"),
    }
}

/// A checkpoint saves the cursor with the counts of its page; later counts and the finish keep
/// the cursor.
pub async fn check_checkpoint_keeps_cursor_and_counts(jobs: Arc<dyn ImportJobs>) {
    const CHECK: &str = "import_jobs::checkpoint";
    let job = ok(
        CHECK,
        "create",
        jobs.create("Invoice__c", Some(450), instant(0)).await,
    );
    ok(CHECK, "start", jobs.start(&job.id).await);
    let page = ImportCounts {
        enqueued: 200,
        ..ImportCounts::default()
    };
    ok(
        CHECK,
        "checkpoint 1",
        jobs.checkpoint(&job.id, "01gD0000002HU6KIAW-200", page)
            .await,
    );
    let after_one = must_get(CHECK, jobs.as_ref(), &job.id).await;
    assert_eq!(
        (after_one.cursor.as_deref(), after_one.enqueued),
        (Some("01gD0000002HU6KIAW-200"), 200),
        "[{CHECK}] first page"
    );
    ok(
        CHECK,
        "checkpoint 2",
        jobs.checkpoint(&job.id, "01gD0000002HU6KIAW-400", page)
            .await,
    );
    ok(
        CHECK,
        "add_counts",
        jobs.add_counts(
            &job.id,
            ImportCounts {
                enqueued: 0,
                synced: 390,
                failed: 10,
            },
        )
        .await,
    );
    let after_two = must_get(CHECK, jobs.as_ref(), &job.id).await;
    assert_eq!(
        (
            after_two.cursor.as_deref(),
            after_two.enqueued,
            after_two.synced,
            after_two.failed
        ),
        (Some("01gD0000002HU6KIAW-400"), 400, 390, 10),
        "[{CHECK}] second page and the worker's counts"
    );
    assert_eq!(
        after_two.status,
        ImportStatus::Running,
        "[{CHECK}] still running"
    );
    assert!(
        after_two.updated_at >= after_one.created_at,
        "[{CHECK}] updated_at moves with writes"
    );
}

/// Counts added by many concurrent tasks all add up.
pub async fn check_concurrent_add_counts(jobs: Arc<dyn ImportJobs>) {
    const CHECK: &str = "import_jobs::concurrent_add_counts";
    const TASKS: u64 = 6;
    const ADDS: u64 = 25;
    let job = ok(
        CHECK,
        "create",
        jobs.create("Invoice__c", None, instant(0)).await,
    );
    ok(CHECK, "start", jobs.start(&job.id).await);
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let jobs = Arc::clone(&jobs);
        let id = job.id.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..ADDS {
                let counts = ImportCounts {
                    enqueued: 1,
                    synced: u64::from((task + i) % 2 == 0),
                    failed: u64::from((task + i) % 2 == 1),
                };
                ok(CHECK, "add_counts", jobs.add_counts(&id, counts).await);
            }
        }));
    }
    for task in tasks {
        if let Err(error) = task.await {
            panic!("[{CHECK}] a counting task failed: {error}");
        }
    }
    let counted = must_get(CHECK, jobs.as_ref(), &job.id).await;
    assert_eq!(
        counted.enqueued,
        TASKS * ADDS,
        "[{CHECK}] no enqueued count lost"
    );
    assert_eq!(
        counted.synced + counted.failed,
        TASKS * ADDS,
        "[{CHECK}] no synced or failed count lost"
    );
    assert_eq!(
        (counted.synced, counted.failed),
        (TASKS * ADDS / 2, TASKS * ADDS / 2),
        "[{CHECK}] synced and failed split"
    );
}

/// `finish` sets the final status, the error of a failure and `finished_at`; a status that is
/// not final is refused.
pub async fn check_finish(jobs: Arc<dyn ImportJobs>) {
    const CHECK: &str = "import_jobs::finish";
    let before = now_ms() - chrono::Duration::seconds(5);
    let done = ok(
        CHECK,
        "create",
        jobs.create("Invoice__c", None, instant(0)).await,
    );
    ok(CHECK, "start", jobs.start(&done.id).await);
    ok(
        CHECK,
        "checkpoint",
        jobs.checkpoint(&done.id, "last-page", ImportCounts::default())
            .await,
    );
    ok(
        CHECK,
        "finish completed",
        jobs.finish(&done.id, ImportStatus::Completed, None).await,
    );
    let done = must_get(CHECK, jobs.as_ref(), &done.id).await;
    assert_eq!(done.status, ImportStatus::Completed, "[{CHECK}] completed");
    assert!(
        done.finished_at.is_some_and(|at| at >= before),
        "[{CHECK}] finished_at is set: {:?}",
        done.finished_at
    );
    assert_eq!(done.error, None, "[{CHECK}] no error");
    assert_eq!(
        done.cursor.as_deref(),
        Some("last-page"),
        "[{CHECK}] the cursor survives the finish"
    );

    let failed = ok(
        CHECK,
        "create",
        jobs.create("Payment__c", None, instant(0)).await,
    );
    ok(CHECK, "start", jobs.start(&failed.id).await);
    let reason = "Salesforce query failed: INVALID_FIELD: No such column 'Amount__c'";
    ok(
        CHECK,
        "finish failed",
        jobs.finish(&failed.id, ImportStatus::Failed, Some(reason))
            .await,
    );
    let failed = must_get(CHECK, jobs.as_ref(), &failed.id).await;
    assert_eq!(failed.status, ImportStatus::Failed, "[{CHECK}] failed");
    assert_eq!(
        failed.error.as_deref(),
        Some(reason),
        "[{CHECK}] the reason is kept"
    );

    let cancelled = ok(CHECK, "create", jobs.create("Case", None, instant(0)).await);
    ok(
        CHECK,
        "finish cancelled",
        jobs.finish(&cancelled.id, ImportStatus::Cancelled, None)
            .await,
    );
    assert_eq!(
        must_get(CHECK, jobs.as_ref(), &cancelled.id).await.status,
        ImportStatus::Cancelled,
        "[{CHECK}] a pending job can be cancelled"
    );

    let running = ok(
        CHECK,
        "create",
        jobs.create("Asset", None, instant(0)).await,
    );
    match jobs.finish(&running.id, ImportStatus::Running, None).await {
        Err(PortError::Invalid { .. }) => {}
        other => panic!("[{CHECK}] finishing as running must be refused, got {other:?}"),
    }
}

/// `list` returns every job, newest first.
pub async fn check_list_newest_first(jobs: Arc<dyn ImportJobs>) {
    const CHECK: &str = "import_jobs::list_newest_first";
    assert!(
        ok(CHECK, "list", jobs.list().await).is_empty(),
        "[{CHECK}] empty at first"
    );
    let mut created = Vec::new();
    for object in ["Invoice__c", "Payment__c", "Case"] {
        created.push(ok(CHECK, "create", jobs.create(object, None, instant(0)).await).id);
        // Backends may order by a millisecond timestamp: keep creations apart.
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    let listed: Vec<String> = ok(CHECK, "list", jobs.list().await)
        .into_iter()
        .map(|job| job.id)
        .collect();
    created.reverse();
    assert_eq!(listed, created, "[{CHECK}] newest first");
}

/// Writes to an unknown job fail with `NotFound`.
pub async fn check_unknown_ids(jobs: Arc<dyn ImportJobs>) {
    const CHECK: &str = "import_jobs::unknown_ids";
    let counts = ImportCounts {
        enqueued: 1,
        synced: 1,
        failed: 1,
    };
    let results = [
        ("start", jobs.start("no-such-job").await.map(|_| ())),
        (
            "checkpoint",
            jobs.checkpoint("no-such-job", "c", counts).await,
        ),
        ("add_counts", jobs.add_counts("no-such-job", counts).await),
        (
            "finish",
            jobs.finish("no-such-job", ImportStatus::Completed, None)
                .await,
        ),
    ];
    for (step, result) in results {
        assert!(
            matches!(result, Err(PortError::NotFound { .. })),
            "[{CHECK}] {step} of an unknown job must be NotFound, got {result:?}"
        );
    }
    assert!(
        ok(CHECK, "list", jobs.list().await).is_empty(),
        "[{CHECK}] nothing was created by the failed writes"
    );
}
