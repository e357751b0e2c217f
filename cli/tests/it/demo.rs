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
