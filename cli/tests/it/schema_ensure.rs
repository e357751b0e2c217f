//! `sf2hs schema ensure`: from the Salesforce describe and the stored mapping, the HubSpot custom
//! object and its properties are planned, confirmed and created; a second run has nothing to do.

use std::process::Stdio;

use serde_json::Value;
use sf2hs_sandbox::hubspot::{HubSpotSandbox, SandboxConfig};
use sf2hs_tests::stack::MAPPINGS;
use sf2hs_tests::stack::local_credentials;

const BINARY: &str = env!("CARGO_BIN_EXE_sf2hs");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hubspot_object_is_planned_confirmed_and_created() {
    // The demo's org; a HubSpot portal without the demo's objects.
    let (salesforce, _demo_portal) = sf2hs_sandbox::demo::start_pair(SandboxConfig::default())
        .await
        .expect("sandboxes");
    let hubspot = HubSpotSandbox::start(SandboxConfig::default())
        .await
        .expect("empty portal");
    let dir = sf2hs_tests::TempDir::new("schema").expect("dir");
    let data_dir = dir.path().join("data");
    let mappings = dir.path().join("mappings.toml");
    // Drafts: their HubSpot objects do not exist yet, which apply takes only of a draft.
    std::fs::write(
        &mappings,
        MAPPINGS.replace("status = \"active\"", "status = \"draft\""),
    )
    .expect("mappings");
    let env = local_credentials(&salesforce, &hubspot);
    let run = |args: &[&str]| {
        let mut command = tokio::process::Command::new(BINARY);
        command.arg("--data-dir").arg(&data_dir).args(args);
        for (k, v) in &env {
            command.env(k, v);
        }
        command.stdin(Stdio::null());
        command
    };
    let applied = run(&[
        "--json",
        "mappings",
        "apply",
        mappings.to_str().expect("path"),
    ])
    .output()
    .await
    .expect("apply");
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );
    let stored: Value = serde_json::from_slice(&applied.stdout).expect("JSON");
    assert_eq!(
        stored["applied"][0]["object_type_id"],
        Value::Null,
        "{stored}"
    );
    assert!(
        String::from_utf8_lossy(&applied.stderr)
            .contains("HubSpot object `sf_project` does not exist yet"),
        "the draft is stored with a warning"
    );

    let asked = run(&["schema", "ensure", "Project__c"])
        .output()
        .await
        .expect("runs");
    assert_eq!(asked.status.code(), Some(1), "no answer: nothing written");
    let plan = String::from_utf8_lossy(&asked.stdout);
    assert!(
        plan.contains("create the custom object sf_project"),
        "{plan}"
    );
    assert!(
        plan.contains("create the unique property salesforce_id"),
        "{plan}"
    );
    assert!(plan.contains("create the property budget"), "{plan}");
    assert!(
        hubspot.handle().object_type_id("sf_project").is_err(),
        "nothing created yet"
    );

    let created = run(&["--json", "schema", "ensure", "Project__c", "--yes"])
        .output()
        .await
        .expect("runs");
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let outcome: Value = serde_json::from_slice(&created.stdout).expect("JSON");
    assert_eq!(outcome["created_object"], true, "{outcome}");
    let type_id = hubspot
        .handle()
        .object_type_id("sf_project")
        .expect("created");
    assert_eq!(outcome["object_type_id"], type_id);
    // The portal takes an upsert by the new unique property.
    hubspot
        .handle()
        .seed_record(
            "sf_project",
            &[
                ("salesforce_id", "a0P000000000001AAA"),
                ("project_name", "x"),
                ("budget", "2.5"),
            ],
        )
        .expect("the created properties take values of their type");

    let again = run(&["schema", "ensure", "Project__c"])
        .output()
        .await
        .expect("runs");
    assert!(again.status.success(), "nothing to do is a success");
    assert!(String::from_utf8_lossy(&again.stdout).contains("already has every property"));

    // Activation checks the draft against the object now made and stores its objectTypeId.
    let activated = run(&["--json", "mappings", "activate", "Project__c"])
        .output()
        .await
        .expect("runs");
    assert!(
        activated.status.success(),
        "{}",
        String::from_utf8_lossy(&activated.stderr)
    );
    let store =
        sf2hs_shared::embedded::EmbeddedStore::open(data_dir.join("sf2hs.db")).expect("store");
    let project = sf2hs_shared::ports::MappingStore::get(&store.mapping_store(), "Project__c")
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(project.mapping.status.name(), "active");
    assert_eq!(
        project.mapping.resolved.map(|r| r.object_type_id),
        Some(type_id)
    );
}
