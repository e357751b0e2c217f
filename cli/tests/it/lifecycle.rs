//! The local pipeline's processes on one data directory: a `serve` killed while its workers held
//! changes is replaced by one that takes them back at once (not after the visibility timeout),
//! and a `serve` does not start beside a local import that writes HubSpot with workers of its
//! own (two rate limiters on one portal).

use std::net::TcpListener;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;
use sf2hs_sandbox::hubspot::{FaultPlan, RateLimitConfig, SandboxConfig};
use sf2hs_sandbox::salesforce::senders::outbound::{OutboundMessageConfig, OutboundSender};
use sf2hs_shared::domain::SalesforceId;
use sf2hs_shared::embedded::EmbeddedStore;
use sf2hs_shared::ports::ChangeQueue;
use sf2hs_tests::stack::{ENDPOINT_TOKEN, local_credentials};

const BINARY: &str = env!("CARGO_BIN_EXE_sf2hs");

fn id18(id: &str) -> String {
    SalesforceId::parse(id).expect("id").as_str().to_owned()
}

fn pipeline_env(
    salesforce: &sf2hs_sandbox::salesforce::RunningSalesforceSandbox,
    hubspot: &sf2hs_sandbox::hubspot::RunningSandbox,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = local_credentials(salesforce, hubspot)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    for (name, value) in [
        ("SF2HS_ORG_ID", salesforce.handle().org_id()),
        ("SF2HS_ENDPOINT_TOKEN_SECRET", "endpoint-token".to_owned()),
        ("SF2HS_SECRET_ENDPOINT_TOKEN", ENDPOINT_TOKEN.to_owned()),
        // Far longer than the test may take: only taking the leases back can explain a
        // delivery within it.
        ("SF2HS_VISIBILITY_SECONDS", "600".to_owned()),
    ] {
        env.push((name.to_owned(), value));
    }
    env
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

async fn start_serve(
    data_dir: &std::path::Path,
    env: &[(String, String)],
    port: u16,
) -> tokio::process::Child {
    let child = tokio::process::Command::new(BINARY)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["serve", "--workers", "2", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("serve starts");
    sf2hs_tests::wait_listening(&format!("127.0.0.1:{port}")).await;
    child
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_serve_delivers_at_once_what_the_killed_one_held() {
    let (salesforce, hubspot) = sf2hs_sandbox::demo::start_pair(SandboxConfig::default())
        .await
        .expect("sandboxes");
    let handle = salesforce.handle();
    let (_dir, data_dir) =
        sf2hs_tests::stack::cli_data_dir(BINARY, "serve-restart", &salesforce, &hubspot);
    let env = pipeline_env(&salesforce, &hubspot);

    // HubSpot hangs: the workers receive the changes and hold them, waiting for an answer.
    hubspot
        .handle()
        .set_faults(FaultPlan {
            rate_hang: 1.0,
            hang_ms: 120_000,
            ..FaultPlan::default()
        })
        .expect("faults");
    let port = free_port();
    let mut first = start_serve(&data_dir, &env, port).await;
    let projects = handle
        .create_many(
            "Project__c",
            (0..3)
                .map(|i| json!({ "Name": format!("Held {i}"), "Budget__c": i }))
                .collect(),
        )
        .expect("projects");
    let report = OutboundSender::new(
        handle.clone(),
        OutboundMessageConfig::new(
            &format!("http://127.0.0.1:{port}/outbound/{ENDPOINT_TOKEN}"),
            "Project__c",
            &["Name", "Budget__c"],
        ),
    )
    .expect("sender")
    .send(&projects)
    .await
    .expect("delivered");
    assert!(report.all_acked(), "{report:?}");
    let store = EmbeddedStore::open(data_dir.join("sf2hs.db")).expect("store");
    let queue = store.change_queue(5);
    let waited = Instant::now();
    while queue.depth().await.expect("depth").in_flight < 3 {
        assert!(
            waited.elapsed() < Duration::from_secs(30),
            "the workers never took them"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Killed without a chance to clean up, with three acknowledged changes in flight.
    first.kill().await.expect("killed");
    let _ = first.wait().await;
    hubspot.handle().clear_faults().expect("faults cleared");
    let restarted_at = Instant::now();
    let mut second = start_serve(&data_dir, &env, free_port()).await;
    let hub = hubspot.handle();
    while !projects.iter().all(|id| {
        hub.record_by_unique("sf_project", "salesforce_id", &id18(id))
            .expect("read")
            .is_some()
    }) {
        assert!(
            restarted_at.elapsed() < Duration::from_secs(60),
            "the held changes did not come back (visibility timeout 600 s): {:?}",
            queue.depth().await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "lifecycle: the killed serve's 3 held changes reached HubSpot {:.2} s after the restart \
         (visibility timeout 600 s)",
        restarted_at.elapsed().as_secs_f64()
    );
    let _ = second.kill().await;
    let said = second.wait_with_output().await.expect("output");
    let said = String::from_utf8_lossy(&said.stderr);
    assert!(
        said.contains("took back the changes stopped processes held"),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_does_not_start_beside_an_import_that_writes_hubspot_itself() {
    // A slow portal, so the import is still writing when serve is started.
    let (salesforce, hubspot) = sf2hs_sandbox::demo::start_pair(SandboxConfig {
        rate_limit: RateLimitConfig {
            max: 5,
            ..RateLimitConfig::default()
        },
        ..SandboxConfig::default()
    })
    .await
    .expect("sandboxes");
    let handle = salesforce.handle();
    handle
        .create_many(
            "Project__c",
            (0..1_000)
                .map(|i| json!({ "Name": format!("P{i}"), "Budget__c": i }))
                .collect(),
        )
        .expect("seeded");
    let (_dir, data_dir) =
        sf2hs_tests::stack::cli_data_dir(BINARY, "serve-beside-import", &salesforce, &hubspot);
    let env = pipeline_env(&salesforce, &hubspot);
    let mut import = tokio::process::Command::new(BINARY)
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["import", "start", "Project__c", "--yes"])
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("import starts");
    // Until the import has registered its workers.
    let store = EmbeddedStore::open(data_dir.join("sf2hs.db")).expect("store");
    let waited = Instant::now();
    while store.processes().await.expect("processes").is_empty() {
        assert!(
            waited.elapsed() < Duration::from_secs(30),
            "the import never registered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refused = tokio::process::Command::new(BINARY)
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .await
        .expect("serve runs");
    assert_eq!(refused.status.code(), Some(1));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("a local import (pid") && said.contains("import resume"),
        "{said}"
    );
    assert_eq!(
        store.processes().await.expect("processes").len(),
        1,
        "the refused serve left no registration behind"
    );
    let _ = import.kill().await;
}
