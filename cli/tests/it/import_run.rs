//! `sf2hs import start` on the local backend against the sandboxes: it counts, runs with the
//! local workers, and, interrupted in the middle, `sf2hs import resume` goes on from the last
//! checkpoint until every record is in HubSpot once.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sf2hs_sandbox::hubspot::SandboxConfig;
use sf2hs_sandbox::salesforce::FaultPlan;
use sf2hs_shared::embedded::EmbeddedStore;
use sf2hs_shared::ports::ImportJobs;
use sf2hs_tests::stack::local_credentials;

const BINARY: &str = env!("CARGO_BIN_EXE_sf2hs");

/// `sf2hs --data-dir DIR` with `env`.
pub(crate) fn command(
    data_dir: &std::path::Path,
    env: &[(&str, String)],
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(BINARY);
    command.arg("--data-dir").arg(data_dir);
    for (k, v) in env {
        command.env(k, v);
    }
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_import_resumes_from_its_checkpoint() {
    interrupted_import(5_000, 300).await;
}

/// The million-record backfill, interrupted once: its wall time against HubSpot's
/// ceiling (190 calls of 100 records per 10 s: 526 s for a million).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "1,000,000 records, about ten minutes: run with --run-ignored only"]
async fn a_million_record_import_interrupted_once() {
    interrupted_import(1_000_000, 50).await;
}

/// Seeds `records` projects, starts the import, interrupts it (SIGINT) once a page is sent,
/// resumes it, and checks every record is in HubSpot once. Salesforce answers `latency_ms`
/// late, so that the interruption lands between two pages.
async fn interrupted_import(records: usize, latency_ms: u64) {
    let (salesforce, hubspot) = sf2hs_sandbox::demo::start_pair(SandboxConfig::default())
        .await
        .expect("sandboxes");
    let handle = salesforce.handle();
    handle
        .create_many(
            "Project__c",
            (0..records)
                .map(|i| json!({ "Name": format!("P{i}"), "Budget__c": i }))
                .collect(),
        )
        .expect("seeded");
    // Slow Salesforce down so that the interruption lands between two pages.
    handle
        .set_faults(FaultPlan {
            latency_ms,
            ..FaultPlan::default()
        })
        .expect("faults");

    let (_dir, data_dir) =
        sf2hs_tests::stack::cli_data_dir(BINARY, "import-run", &salesforce, &hubspot);
    let mut env = local_credentials(&salesforce, &hubspot);
    env.push(("SF2HS_ORG_ID", handle.org_id()));

    // Without --yes and with nothing on stdin, nothing starts.
    let refused = command(&data_dir, &env)
        .args(["import", "start", "Project__c"])
        .stdin(Stdio::null())
        .output()
        .await
        .expect("start");
    assert_eq!(refused.status.code(), Some(1));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains(&format!("{records} Project__c records to import")),
        "{said}"
    );

    let started_at = Instant::now();
    let mut child = command(&data_dir, &env)
        // The batch path: a million would go through the Imports API by `auto`.
        .args([
            "--json",
            "import",
            "start",
            "Project__c",
            "--yes",
            "--via",
            "batch",
        ])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start");
    let store = EmbeddedStore::open(data_dir.join("sf2hs.db")).expect("store");
    let jobs = store.import_jobs();
    let started = Instant::now();
    let job = loop {
        let running = jobs
            .list()
            .await
            .expect("jobs")
            .into_iter()
            .find(|j| j.status.name() == "running");
        if let Some(job) = running.filter(|j| j.enqueued > 0) {
            break job;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "no page was sent"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let pid = child.id().expect("pid");
    std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill");
    let interrupted = child.wait().await.expect("exit");
    assert_eq!(interrupted.code(), Some(130), "Ctrl-C ends it with 130");
    let paused = jobs.get(&job.id).await.expect("job").expect("exists");
    assert!(
        paused.enqueued < records as u64 && paused.cursor.as_deref().is_some_and(|c| !c.is_empty()),
        "interrupted in the middle: {paused:?}"
    );

    let resumed = command(&data_dir, &env)
        .args(["--json", "import", "resume", &job.id])
        .output()
        .await
        .expect("resume");
    assert!(
        resumed.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&resumed.stdout),
        String::from_utf8_lossy(&resumed.stderr)
    );
    let done: Value = serde_json::from_slice(&resumed.stdout).expect("JSON");
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["enqueued"].as_u64(), Some(records as u64), "{done}");
    assert_eq!(done["failed"], 0);
    assert_eq!(
        hubspot.handle().count("sf_project").expect("count"),
        records,
        "every record once"
    );
    let seconds = started_at.elapsed().as_secs_f64();
    let stats = hubspot.handle().stats().expect("stats");
    eprintln!(
        "import of {records}: {seconds:.1} s from start to the resumed import's end, \
         {:.0} records/s ({:.0} % of 1,900/s); HubSpot {} requests, {} refused by its limit; \
         interrupted after {} enqueued",
        records as f64 / seconds,
        100.0 * records as f64 / seconds / 1_900.0,
        stats.total_requests,
        stats.rate_limited_429,
        paused.enqueued
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_takes_every_record_when_salesforces_clock_is_ahead_of_ours() {
    // The org's clock starts a week behind this machine's; nine days on, it is two ahead, and
    // every record is stamped in what is our future.
    let (salesforce, hubspot) = sf2hs_sandbox::demo::start_pair(SandboxConfig::default())
        .await
        .expect("sandboxes");
    let handle = salesforce.handle();
    handle
        .advance_clock(chrono::TimeDelta::days(9))
        .expect("clock");
    assert!(handle.now() > chrono::Utc::now());
    handle
        .create_many(
            "Project__c",
            (0..300)
                .map(|i| json!({ "Name": format!("F{i}"), "Budget__c": i }))
                .collect(),
        )
        .expect("seeded");

    let (_dir, data_dir) =
        sf2hs_tests::stack::cli_data_dir(BINARY, "import-clock", &salesforce, &hubspot);
    let mut env = local_credentials(&salesforce, &hubspot);
    env.push(("SF2HS_ORG_ID", handle.org_id()));
    let imported = command(&data_dir, &env)
        .args(["--json", "import", "start", "Project__c", "--yes"])
        .output()
        .await
        .expect("import");
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let done: Value = serde_json::from_slice(&imported.stdout).expect("JSON");
    assert_eq!(done["enqueued"], 300, "{done}");
    assert_eq!(hubspot.handle().count("sf_project").expect("count"), 300);
}
