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
use sf2hs_tests::stack::MAPPINGS;
use sf2hs_tests::stack::local_credentials;

const BINARY: &str = env!("CARGO_BIN_EXE_sf2hs");

fn command(data_dir: &std::path::Path, env: &[(&str, String)]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(BINARY);
    command.arg("--data-dir").arg(data_dir);
    for (k, v) in env {
        command.env(k, v);
    }
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_import_resumes_from_its_checkpoint() {
    let (salesforce, hubspot) = sf2hs_sandbox::demo::start_pair(SandboxConfig::default())
        .await
        .expect("sandboxes");
    let handle = salesforce.handle();
    handle
        .create_many(
            "Project__c",
            (0..5_000)
                .map(|i| json!({ "Name": format!("P{i}"), "Budget__c": i }))
                .collect(),
        )
        .expect("seeded");
    // Slow Salesforce down so that the interruption lands between two pages.
    handle
        .set_faults(FaultPlan {
            latency_ms: 300,
            ..FaultPlan::default()
        })
        .expect("faults");

    let dir = sf2hs_tests::TempDir::new("import-run").expect("temp dir");
    let data_dir = dir.path().join("data");
    let mappings = dir.path().join("mappings.toml");
    std::fs::write(&mappings, MAPPINGS).expect("mapping file");
    let mut env = local_credentials(&salesforce, &hubspot);
    env.push(("SF2HS_ORG_ID", handle.org_id()));
    let applied = command(&data_dir, &env)
        .args(["mappings", "apply"])
        .arg(&mappings)
        .output()
        .await
        .expect("apply");
    assert!(applied.status.success());

    // Without --yes and with nothing on stdin, nothing starts.
    let refused = command(&data_dir, &env)
        .args(["import", "start", "Project__c"])
        .stdin(Stdio::null())
        .output()
        .await
        .expect("start");
    assert_eq!(refused.status.code(), Some(1));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("5000 Project__c records to import"), "{said}");

    let mut child = command(&data_dir, &env)
        .args(["--json", "import", "start", "Project__c", "--yes"])
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
            started.elapsed() < Duration::from_secs(60),
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
        paused.enqueued < 5_000 && paused.cursor.as_deref().is_some_and(|c| !c.is_empty()),
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
    assert_eq!(done["enqueued"], 5_000, "{done}");
    assert_eq!(done["failed"], 0);
    assert_eq!(
        hubspot.handle().count("sf_project").expect("count"),
        5_000,
        "every record once"
    );
}
