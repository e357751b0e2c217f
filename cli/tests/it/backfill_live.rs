//! A backfill under live traffic on the local pipeline: `sf2hs import start` backfills every
//! project while `sf2hs serve` takes live updates of the same records (CDC events, shuffled,
//! some twice), both processes draining one embedded queue. At the end every record in HubSpot
//! holds Salesforce's newest state, once: a state the import read before a live update never
//! overwrites that update. The import only sends its records: serve's workers write them under
//! serve's one rate limiter, so the portal's limit holds (no 429, the busiest 10 s within it).
//!
//! CI runs 3,000 records; `cargo nextest run -p sf2hs-cli --test it --run-ignored only
//! backfill_live::` runs the 50,000.

use std::net::TcpListener;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sf2hs_sandbox::hubspot::{RateLimitConfig, SandboxConfig};
use sf2hs_sandbox::salesforce::FaultPlan;
use sf2hs_sandbox::salesforce::senders::{CdcRelayConfig, change_events, post_events_with};
use sf2hs_shared::embedded::EmbeddedStore;
use sf2hs_shared::ports::{ChangeQueue, SyncLog, SyncLogQuery, SyncOutcome};
use sf2hs_shared::salesforce::intake::auth::EVENTS_TOKEN_HEADER;
use sf2hs_tests::chaos::Dice;
use sf2hs_tests::stack::{ENDPOINT_TOKEN, local_credentials};

const BINARY: &str = env!("CARGO_BIN_EXE_sf2hs");

fn command(data_dir: &std::path::Path, env: &[(String, String)]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(BINARY);
    command.arg("--data-dir").arg(data_dir);
    command.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    command
}

/// The portal's limit in these runs: below what two writers with their own limiters send.
const PORTAL_LIMIT: u32 = 20;

async fn backfill_under_live_traffic(records: usize, label: &str, limit: Duration) {
    let (salesforce, hubspot) = sf2hs_sandbox::demo::start_pair(SandboxConfig {
        rate_limit: RateLimitConfig {
            max: PORTAL_LIMIT,
            ..RateLimitConfig::default()
        },
        ..SandboxConfig::default()
    })
    .await
    .expect("sandboxes");
    let handle = salesforce.handle();
    let projects = handle
        .create_many(
            "Project__c",
            (0..records)
                .map(|i| json!({ "Name": format!("P{i}"), "Budget__c": i }))
                .collect(),
        )
        .expect("seeded");
    // Salesforce answers a little slowly, so that the import's pages interleave with updates.
    handle
        .set_faults(FaultPlan {
            latency_ms: 150,
            ..FaultPlan::default()
        })
        .expect("faults");
    let seeded = handle.changes_after(0).last().map_or(0, |c| c.sequence);

    let (_dir, data_dir) = sf2hs_tests::stack::cli_data_dir(BINARY, label, &salesforce, &hubspot);
    let mut env: Vec<(String, String)> = local_credentials(&salesforce, &hubspot)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    for (name, value) in [
        ("SF2HS_ORG_ID", handle.org_id()),
        ("SF2HS_ENDPOINT_TOKEN_SECRET", "endpoint-token".to_owned()),
        ("SF2HS_SECRET_ENDPOINT_TOKEN", ENDPOINT_TOKEN.to_owned()),
        // Each process's own limit is the portal's: two writers would send twice it.
        ("SF2HS_HUBSPOT_RATE_LIMIT", PORTAL_LIMIT.to_string()),
        ("SF2HS_RETRY_DELAY_SECONDS", "1".to_owned()),
    ] {
        env.push((name.to_owned(), value));
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut serve = command(&data_dir, &env)
        .args(["serve", "--workers", "2", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("serve starts");
    let events_url = format!("http://127.0.0.1:{port}/events");
    sf2hs_tests::wait_listening(&format!("127.0.0.1:{port}")).await;

    let started = Instant::now();
    let mut import = command(&data_dir, &env)
        .args(["--json", "import", "start", "Project__c", "--yes"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("import starts");

    // Live traffic while the import runs: a few records updated at a time, relayed by CDC.
    let mut dice = Dice(0x11fe);
    let mut relayed = seeded;
    let mut updates_during_import = 0;
    let import_result = loop {
        if let Some(status) = import.try_wait().expect("import status") {
            break status;
        }
        assert!(
            started.elapsed() < limit,
            "the import did not finish within {limit:?}"
        );
        for _ in 0..20 {
            let i = dice.below(projects.len());
            handle
                .update(
                    "Project__c",
                    &projects[i],
                    json!({ "Name": format!("P{i} live {updates_during_import}"), "Budget__c": dice.below(1_000_000) }),
                )
                .expect("live update");
            updates_during_import += 1;
        }
        let mut events = change_events(&handle, &CdcRelayConfig::default(), relayed);
        relayed = handle
            .changes_after(relayed)
            .last()
            .map_or(relayed, |c| c.sequence);
        let twice: Vec<Value> = events.iter().filter(|_| dice.chance(20)).cloned().collect();
        events.extend(twice);
        dice.shuffle(&mut events);
        let statuses = post_events_with(
            &events_url,
            &events,
            Some((EVENTS_TOKEN_HEADER, ENDPOINT_TOKEN)),
        )
        .await
        .expect("events posted");
        assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let import_seconds = started.elapsed().as_secs_f64();
    let output = import.wait_with_output().await.expect("import output");
    assert!(
        import_result.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let done: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(done["status"], "completed", "{done}");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("serve's workers write them"),
        "the import left the writing to serve: {said}"
    );
    // Records a live update stamped after the import's cutoff are the live path's to bring.
    let enqueued = done["enqueued"].as_u64().expect("enqueued");
    assert!(enqueued > 0 && enqueued <= records as u64, "{done}");
    assert!(
        updates_during_import >= 100,
        "live updates overlapped the import: {updates_during_import}"
    );

    // Serve's workers finish what is left; then HubSpot holds the newest state of every record.
    let store = EmbeddedStore::open(data_dir.join("sf2hs.db")).expect("store");
    let queue = store.change_queue(5);
    loop {
        let depth = queue.depth().await.expect("depth");
        if depth.visible + depth.in_flight + depth.delayed == 0 {
            break;
        }
        assert!(started.elapsed() < limit, "not drained: {depth:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let problems = sf2hs_sandbox::demo::mismatches(&salesforce, &hubspot);
    assert!(
        problems.is_empty(),
        "{} records differ, first: {:#?}",
        problems.len(),
        &problems[..problems.len().min(10)]
    );
    assert_eq!(
        hubspot.handle().count("sf_project").expect("count"),
        records
    );
    assert_eq!(queue.depth().await.expect("depth").dead, 0);
    // The race the run is for: states the import read that a live update had overtaken by
    // the time a worker took them, skipped as older.
    let overtaken = store
        .sync_log()
        .query(&SyncLogQuery {
            outcomes: vec![SyncOutcome::Skipped],
            limit: 100_000,
            ..Default::default()
        })
        .await
        .expect("sync log")
        .into_iter()
        .filter(|e| {
            e.reason
                .as_deref()
                .is_some_and(|r| r.starts_with("older than"))
        })
        .count();
    let _ = serve.kill().await;
    // One HubSpot budget for the data directory: nothing over the portal's limit.
    let stats = hubspot.handle().stats().expect("stats");
    assert_eq!(stats.rate_limited_429, 0, "{stats:?}");
    assert!(
        stats.busiest_10s_window <= PORTAL_LIMIT as usize,
        "{stats:?}"
    );
    eprintln!(
        "backfill {label}: {records} records imported in {import_seconds:.1} s \
         ({:.0} records/s) with {updates_during_import} live updates meanwhile; {overtaken} \
         older states skipped; HubSpot: {} requests, {} 429s, busiest 10 s {} of {PORTAL_LIMIT}",
        records as f64 / import_seconds,
        stats.total_requests,
        stats.rate_limited_429,
        stats.busiest_10s_window
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_under_live_updates_keeps_the_newest_state() {
    backfill_under_live_traffic(3_000, "backfill-live", Duration::from_secs(300)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "50,000 records: run with --run-ignored only"]
async fn a_backfill_of_50000_under_live_updates_keeps_the_newest_state() {
    backfill_under_live_traffic(50_000, "backfill-live-50k", Duration::from_secs(1_800)).await;
}
