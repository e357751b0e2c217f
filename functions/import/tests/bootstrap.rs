//! The import bootstrap binary under a local Lambda Runtime API, on moto and the sandboxes:
//! `start` counts and creates a pending job, `run` sends every record to the backfill queue, or
//! (`"via": "imports"`) writes them to a file in the function's temporary directory, sends it to
//! HubSpot's Imports API, polls and writes the record index.

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use sf2hs_shared::ports::{ChangeQueue, RecordIndex};
use sf2hs_tests::runtime_api::{Bootstrap, Outcome, RuntimeApi};
use sf2hs_tests::stack::Stack;

const BINARY: &str = env!("CARGO_BIN_EXE_sf2hs-import");

/// One invocation that must succeed: the function's answer.
async fn answer(api: &RuntimeApi, payload: serde_json::Value) -> serde_json::Value {
    match api
        .invoke(payload, Duration::from_secs(60))
        .await
        .expect("answered")
    {
        Outcome::Response(value) => value,
        Outcome::Error(e) => panic!("the function failed: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_and_run_through_the_runtime_api() {
    let stack = Stack::start("import-bin").await;
    let records = (0..25)
        .map(|i| json!({ "Name": format!("P{i}"), "Budget__c": i }))
        .collect();
    stack
        .salesforce
        .handle()
        .create_many("Project__c", records)
        .expect("seeded");
    let api = RuntimeApi::start("sf2hs-import")
        .await
        .expect("runtime API");
    let _bootstrap =
        Bootstrap::spawn(Path::new(BINARY), &api, "sf2hs-import", &stack.env).expect("bootstrap");

    let started = answer(&api, json!({ "action": "start", "object": "Project__c" })).await;
    assert_eq!(started["state"], "pending", "{started}");
    assert_eq!(started["job"]["total"], 25);
    let job_id = started["job"]["id"].as_str().expect("id");

    let ran = answer(&api, json!({ "action": "run", "job_id": job_id })).await;
    assert_eq!(ran["state"], "all_sent", "{ran}");
    assert_eq!(ran["job"]["enqueued"], 25);
    assert_eq!(stack.backfill.depth().await.expect("depth").visible, 25);
    assert_eq!(
        stack.queue.depth().await.expect("depth").visible,
        0,
        "live queue untouched"
    );

    // The same records again, through HubSpot's Imports API: nothing wrote them yet, so all
    // 25 go in the file.
    let started = answer(
        &api,
        json!({ "action": "start", "object": "Project__c", "via": "imports" }),
    )
    .await;
    assert_eq!(started["job"]["cursor"], "hubspot-import:", "{started}");
    let job_id = started["job"]["id"].as_str().expect("id");
    let ran = answer(&api, json!({ "action": "run", "job_id": job_id })).await;
    assert_eq!(ran["state"], "all_sent", "{ran}");
    let hubspot = stack.hubspot.handle();
    assert_eq!(hubspot.imports_started().expect("imports"), 1);
    assert_eq!(hubspot.count("sf_project").expect("count"), 25);
    let index = stack.store.record_index();
    assert_eq!(index.count("Project__c").await.expect("count"), 25);

    let bad_via = api
        .invoke(
            json!({ "action": "start", "object": "Project__c", "via": "fax" }),
            Duration::from_secs(60),
        )
        .await
        .expect("answered");
    assert!(
        matches!(&bad_via, Outcome::Error(e) if e["errorMessage"].as_str().unwrap_or_default().contains("`via` is `batch`, `imports` or `auto`")),
        "{bad_via:?}"
    );

    let unknown = api
        .invoke(json!({ "action": "launch" }), Duration::from_secs(60))
        .await
        .expect("answered");
    match unknown {
        Outcome::Error(e) => {
            let message = e["errorMessage"].as_str().unwrap_or_default();
            assert!(message.contains("\"action\": \"start\""), "{e}");
            assert!(message.contains("unknown variant `launch`"), "{e}");
        }
        Outcome::Response(r) => panic!("an unknown command was taken: {r}"),
    }
}
