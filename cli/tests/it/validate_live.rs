//! `sf2hs mappings validate` with credentials: a file that is fine on its own is checked
//! against the live Salesforce describe and HubSpot schema, and every problem is listed.

use sf2hs_sandbox::hubspot::SandboxConfig;

use sf2hs_tests::stack::local_credentials;

const BINARY: &str = env!("CARGO_BIN_EXE_sf2hs");

const MAPPING: &str = r#"
[[mapping]]
salesforce_object = "Project__c"
hubspot_object = "sf_project"
status = "active"

[mapping.fields]
Name = "project_title"
Budgett__c = { property = "budget", convert = "number" }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_schemas_find_what_the_file_alone_cannot() {
    let (salesforce, hubspot) = sf2hs_sandbox::demo::start_pair(SandboxConfig::default())
        .await
        .expect("sandboxes");
    let dir = sf2hs_tests::TempDir::new("validate-live").expect("dir");
    let file = dir.path().join("projects.toml");
    std::fs::write(&file, MAPPING).expect("file");

    let offline = tokio::process::Command::new(BINARY)
        .args(["mappings", "validate"])
        .arg(&file)
        .env_remove("SF2HS_SALESFORCE_SECRET")
        .env_remove("SF2HS_HUBSPOT_SECRET")
        .output()
        .await
        .expect("runs");
    assert!(offline.status.success(), "the file alone is valid");

    let live = tokio::process::Command::new(BINARY)
        .args(["mappings", "validate"])
        .arg(&file)
        .envs(local_credentials(&salesforce, &hubspot))
        .output()
        .await
        .expect("runs");
    assert_eq!(live.status.code(), Some(1));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&live.stdout),
        String::from_utf8_lossy(&live.stderr)
    );
    assert!(text.contains("checked against the live"), "{text}");
    assert!(
        text.contains("Budgett__c"),
        "the unknown Salesforce field: {text}"
    );
    assert!(
        text.contains("project_title"),
        "the unknown HubSpot property: {text}"
    );
    assert!(
        text.contains("projects.toml:"),
        "with file and line: {text}"
    );
}
