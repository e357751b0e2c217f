//! The worker bootstrap binary under a local Lambda Runtime API, on moto and the sandboxes: an
//! SQS batch with a change and a poison message writes the record to HubSpot, parks the
//! poison message in the dead-letter queue with its reason, and reports no item for retry.

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use sf2hs_shared::domain::{Change, ChangeKind, ChangeSource, SalesforceId};
use sf2hs_shared::ports::ChangeQueue;
use sf2hs_tests::event_source::EventSource;
use sf2hs_tests::runtime_api::{Bootstrap, Outcome, RuntimeApi};
use sf2hs_tests::stack::Stack;

const BINARY: &str = env!("CARGO_BIN_EXE_sf2hs-worker");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sqs_batch_through_the_runtime_api() {
    let stack = Stack::start("worker-bin").await;
    let handle = stack.salesforce.handle();
    let project = handle
        .create(
            "Project__c",
            json!({ "Name": "Bootstrapped", "Budget__c": 12 }),
        )
        .expect("created");
    let change = Change {
        org_id: SalesforceId::parse(&handle.org_id()).expect("org"),
        object: "Project__c".into(),
        record_id: SalesforceId::parse(&project).expect("id"),
        // A change without its state: the worker reads it from Salesforce.
        kind: ChangeKind::Reread {
            reason: sf2hs_shared::domain::RereadReason::Gap,
            partial: Default::default(),
        },
        modstamp: None,
        source: ChangeSource::Worker,
        received_at: chrono::Utc::now(),
        prior_deliveries: 0,
    };
    stack.queue.send_batch(&[change]).await.expect("queued");

    let api = RuntimeApi::start("sf2hs-worker")
        .await
        .expect("runtime API");
    let logs = sf2hs_tests::TempDir::new("worker-logs").expect("dir");
    let log = logs.path().join("worker.log");
    let mut env = stack.env.clone();
    env.push(("RUST_LOG".to_owned(), "debug".to_owned()));
    let bootstrap =
        Bootstrap::spawn_logging(Path::new(BINARY), &api, "sf2hs-worker", &env, Some(&log))
            .expect("bootstrap");
    let source = EventSource::new(&stack.connection, stack.queue.queue_url()).await;
    // A message no sf2hs component wrote rides in the same batch.
    aws_sdk_sqs::Client::new(stack.connection.sdk_config())
        .send_message()
        .queue_url(stack.queue.queue_url())
        .message_body("{\"not\": \"a change\"}")
        .send()
        .await
        .expect("poison sent");
    let poll = source
        .poll(|payload| async {
            match api.invoke(payload, Duration::from_secs(60)).await? {
                Outcome::Response(answer) => Ok(answer),
                Outcome::Error(e) => Err(e.to_string()),
            }
        })
        .await;
    assert_eq!(poll.received, 2);
    assert!(!poll.invocation_failed);
    assert_eq!(poll.reported, 0, "nothing to retry: {poll:?}");

    let record = stack
        .hubspot
        .handle()
        .record_by_unique(
            "sf_project",
            "salesforce_id",
            SalesforceId::parse(&project).expect("id").as_str(),
        )
        .expect("read")
        .expect("written to HubSpot");
    assert_eq!(record.properties["project_name"], "Bootstrapped");
    let dead = stack.queue.dead_letters(10).await.expect("dead letters");
    assert_eq!(
        dead.len(),
        0,
        "dead letters read as changes: the poison one is not listed"
    );
    let depth = stack.queue.depth().await.expect("depth");
    assert_eq!(depth.dead, 1, "the poison message is parked: {depth:?}");
    assert_eq!(depth.visible + depth.in_flight, 0, "{depth:?}");

    // What the function logged (CloudWatch's view) names no secret.
    drop(bootstrap);
    let logged = std::fs::read_to_string(&log).expect("log");
    assert!(
        logged.contains("batch processed"),
        "the function logs: {logged}"
    );
    for secret in [
        sf2hs_sandbox::hubspot::DEFAULT_TOKEN,
        sf2hs_sandbox::salesforce::DEFAULT_CLIENT_SECRET,
    ] {
        assert!(!logged.contains(secret), "a secret in the logs: {secret}");
    }
    // The batch's metrics, as Embedded Metric Format lines CloudWatch reads from the log: the
    // project synced, and the calls it took.
    let metric_lines: Vec<serde_json::Value> = logged
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "sf2hs")
        .collect();
    assert!(
        metric_lines
            .iter()
            .any(|m| m["Object"] == "Project__c" && m["Synced"] == 1),
        "{logged}"
    );
    assert!(
        metric_lines
            .iter()
            .any(|m| m["HubSpotCalls"].as_u64().is_some_and(|n| n >= 1)
                && m["SalesforceCalls"].is_u64()),
        "{logged}"
    );
}
