//! `sf2hs demo`, the README's first command: it runs on nothing but the binary and reports every
//! record of HubSpot matching Salesforce.

use serde_json::Value;

#[test]
fn the_demo_ends_with_hubspot_matching_salesforce() {
    let dir = std::env::temp_dir().join(format!("sf2hs-demo-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sf2hs"))
        .args(["--json", "demo"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TMPDIR", &dir)
        .output()
        .expect("demo runs");
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: Value = serde_json::from_slice(&output.stdout).expect("JSON summary");
    assert_eq!(summary["mismatches"], Value::Array(Vec::new()), "{summary}");
    assert_eq!(
        summary["hubspot"]["projects"],
        summary["salesforce"]["projects"]
    );
    assert_eq!(
        summary["hubspot"]["invoices"],
        summary["salesforce"]["invoices"]
    );
    assert_eq!(
        summary["hubspot"]["projects"], 190,
        "200 imported, 10 deleted live"
    );
    assert_eq!(
        summary["hubspot"]["invoices"], 900,
        "800 imported, 100 created live"
    );
    assert_eq!(summary["sync_failures_logged"], 0);
    let data_dir = summary["data_dir"].as_str().expect("data dir");
    assert!(
        data_dir.starts_with(dir.to_str().expect("utf-8")),
        "the demo keeps to its own directory"
    );

    // The state it leaves is readable by the other commands.
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_sf2hs"))
        .args(["--json", "--data-dir", data_dir, "import", "list"])
        .output()
        .expect("import list runs");
    assert!(status.status.success());
    let jobs: Value = serde_json::from_slice(&status.stdout).expect("JSON");
    let jobs = jobs["imports"].as_array().expect("imports").clone();
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    assert!(jobs.iter().all(|j| j["status"] == "completed"), "{jobs:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `sf2hs demo --keep-open` (the README's way to look at a run) serves the console on loopback
/// until Ctrl-C.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_keeps_the_console_open_until_ctrl_c() {
    use tokio::io::{AsyncBufReadExt, BufReader};

    let dir = std::env::temp_dir().join(format!("sf2hs-demo-open-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sf2hs"))
        .args(["demo", "--keep-open"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TMPDIR", &dir)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("demo runs");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut url = None;
    while let Some(line) = lines.next_line().await.expect("line") {
        if let Some(found) = line.strip_prefix("sf2hs console: ") {
            url = Some(found.trim().to_owned());
            break;
        }
    }
    let url = url.expect("the demo printed the console's URL");
    let page = reqwest::get(format!("{url}health"))
        .await
        .expect("the console answers");
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await.expect("body").contains("Sync health"));
    let pid = child.id().expect("pid");
    let _ = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status();
    let status = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait())
        .await
        .expect("the demo ends on Ctrl-C")
        .expect("status");
    assert!(status.success(), "{status:?}");
}
