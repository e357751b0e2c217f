//! `sf2hs mappings preview`: sample records from a file or from the Salesforce sandbox become
//! HubSpot properties and associations on screen, and nothing is sent to HubSpot.

use serde_json::{Value, json};
use sf2hs_sandbox::hubspot::SandboxConfig;
use sf2hs_shared::domain::SalesforceId;

use sf2hs_tests::stack::local_credentials;

const BINARY: &str = env!("CARGO_BIN_EXE_sf2hs");

fn mappings() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/demo/mappings.toml")
}

#[test]
fn records_from_a_file_are_mapped_and_a_bad_value_is_named() {
    let dir = sf2hs_tests::TempDir::new("preview").expect("dir");
    let records = dir.path().join("invoices.json");
    std::fs::write(
        &records,
        json!([
            { "attributes": { "type": "Invoice__c" }, "Id": "a0I5f00000AbCdE", "Name": "INV-1",
              "Amount__c": 12.50, "Status__c": "Paid", "Project__c": "a0P5f00000XyZaB" },
            { "Id": "a0I5f00000AbCdF", "Name": "INV-2", "Amount__c": "lots", "Status__c": "Sent" }
        ])
        .to_string(),
    )
    .expect("records");
    let output = std::process::Command::new(BINARY)
        .args(["--json", "mappings", "preview"])
        .arg(mappings())
        .args(["--object", "Invoice__c", "--records"])
        .arg(&records)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1), "one record cannot be mapped");
    let out: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let preview = &out["previews"][0];
    assert_eq!(preview["mapping"]["hubspot_object"], "sf_invoice");
    let first = &preview["records"][0];
    let id = SalesforceId::parse("a0I5f00000AbCdE").expect("id");
    assert_eq!(first["id"], id.as_str());
    assert_eq!(first["properties"]["salesforce_id"], id.as_str());
    assert_eq!(first["properties"]["amount"], "12.5");
    assert_eq!(first["properties"]["invoice_status"], "Paid");
    assert_eq!(
        first["associations"][0]["target_record_id"],
        SalesforceId::parse("a0P5f00000XyZaB").expect("id").as_str()
    );
    let second = preview["records"][1]["errors"][0].as_str().expect("error");
    assert!(
        second.contains("Amount__c") && second.contains("lots"),
        "the error names the field and value: {second}"
    );
    assert_eq!(out["sent"], "nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_read_from_salesforce_are_previewed_without_writing_hubspot() {
    let (salesforce, hubspot) = sf2hs_sandbox::demo::start_pair(SandboxConfig::default())
        .await
        .expect("sandboxes");
    salesforce
        .handle()
        .create_many(
            "Project__c",
            (0..5)
                .map(|i| json!({ "Name": format!("P{i}"), "Budget__c": i }))
                .collect(),
        )
        .expect("seeded");
    hubspot.handle().reset_stats().expect("stats");
    let output = tokio::process::Command::new(BINARY)
        .args(["--json", "mappings", "preview"])
        .arg(mappings())
        .args(["--object", "Project__c", "--sample", "3"])
        .envs(local_credentials(&salesforce, &hubspot))
        .output()
        .await
        .expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let records = out["previews"][0]["records"].as_array().expect("records");
    assert_eq!(records.len(), 3);
    assert!(
        records
            .iter()
            .all(|r| r["properties"]["project_name"].is_string())
    );
    assert_eq!(
        hubspot.handle().stats().expect("stats").total_requests,
        0,
        "a preview sends nothing to HubSpot"
    );
}
