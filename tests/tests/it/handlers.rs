//! The functions' handlers on real event JSON (`tests/fixtures/lambda/`), each built with
//! `LambdaEvent::new(payload, Context::default())` as the runtime's own examples do, on a stack
//! on moto and the sandboxes.

use std::path::PathBuf;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use sf2hs_shared::ports::ChangeQueue;
use sf2hs_shared::settings::vars;
use sf2hs_tests::stack::Stack;

fn event(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/lambda")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture is JSON")
}

fn shared_fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/salesforce")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("JSON")
}

/// The fixtures come from org 00Dxx0000001gPF: the stack is configured for it.
async fn stack(label: &str) -> Stack {
    let mut stack = Stack::start(label).await;
    // The action the fixture's outbound message came from, as the org defines it.
    stack
        .salesforce
        .handle()
        .define_outbound_message(
            sf2hs_sandbox::salesforce::tooling::OutboundMessageDefinition {
                id: "04k5f000000AbCdAAK".into(),
                name: "Project_Sync".into(),
                object: "Project__c".into(),
                fields: vec!["Name".into(), "Budget__c".into(), "SystemModstamp".into()],
                endpoint_url: "https://sf2hs.example/outbound/token".into(),
            },
        )
        .expect("defined");
    stack.env.retain(|(k, _)| k != vars::ORG_ID);
    stack
        .env
        .push((vars::ORG_ID.to_owned(), "00Dxx0000001gPF".to_owned()));
    stack
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_takes_function_url_http_api_and_eventbridge_events() {
    let stack = stack("handlers-ingest").await;
    let lookup = stack.lookup();
    let ingest = sf2hs_ingest::from_env(&lookup, Some(stack.endpoint()))
        .await
        .expect("ingest");

    let answer = ingest
        .handle(LambdaEvent::new(
            event("function-url-outbound.json"),
            Context::default(),
        ))
        .await
        .expect("answered");
    assert_eq!(answer["statusCode"], 200, "{answer}");
    assert_eq!(answer["headers"]["content-type"], "text/xml; charset=utf-8");
    assert!(
        answer["body"]
            .as_str()
            .expect("body")
            .contains("<Ack>true</Ack>")
    );
    assert_eq!(stack.queue.depth().await.expect("depth").visible, 3);

    // API Gateway HTTP API, payload 2.0, body base64-encoded.
    let answer = ingest
        .handle(LambdaEvent::new(
            event("http-api-outbound-base64.json"),
            Context::default(),
        ))
        .await
        .expect("answered");
    assert_eq!(answer["statusCode"], 200, "{answer}");
    assert_eq!(stack.queue.depth().await.expect("depth").visible, 6);

    let cdc = ingest
        .handle(LambdaEvent::new(
            event("eventbridge-cdc-account-create.json"),
            Context::default(),
        ))
        .await
        .expect("queued");
    assert_eq!(cdc["changes"], 1, "{cdc}");
    assert_eq!(stack.queue.depth().await.expect("depth").visible, 7);

    // A platform event from another org: refused, and the invocation fails so that Lambda
    // keeps the event (retries, then the on-failure destination).
    let refused = ingest
        .handle(LambdaEvent::new(
            shared_fixture("eventbridge-platform-event.json"),
            Context::default(),
        ))
        .await
        .expect_err("refused");
    assert!(
        refused.to_string().contains("00DgP0000023yjFUAQ"),
        "the refusal names the org: {refused}"
    );

    // Neither an HTTP request nor an EventBridge event.
    let neither = ingest
        .handle(LambdaEvent::new(
            serde_json::json!({ "hello": "world" }),
            Context::default(),
        ))
        .await
        .expect_err("refused");
    assert!(neither.to_string().contains("neither"), "{neither}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_writes_an_sqs_batch_and_parks_the_poison_message() {
    let stack = stack("handlers-worker").await;
    let lookup = stack.lookup();
    let worker = sf2hs_worker::from_env(&lookup, Some(stack.endpoint()))
        .await
        .expect("worker");
    let batch: SqsEvent = serde_json::from_value(event("sqs-changes.json")).expect("SqsEvent");
    let answer = worker
        .handle(LambdaEvent::new(batch, Context::default()))
        .await
        .expect("answered");
    assert!(
        answer.batch_item_failures.is_empty(),
        "nothing to retry: {answer:?}"
    );
    let record = stack
        .hubspot
        .handle()
        .record_by_unique("sf_project", "salesforce_id", "a0P5f00000AbCdEEAV")
        .expect("read")
        .expect("written");
    assert_eq!(record.properties["project_name"], "From the fixture");
    assert_eq!(
        record.properties["budget"].parse::<f64>().expect("number"),
        250.75
    );
    assert_eq!(
        stack.queue.depth().await.expect("depth").dead,
        1,
        "the message that is not a change is parked with its reason"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_answers_before_its_deadline_when_hubspot_hangs() {
    // The worker Lambda has 120 s; HubSpot retries and Salesforce reads can take longer. A
    // timed-out invocation spends every message's receive without a reason: the worker answers
    // by its deadline instead, and what it could not write is retried.
    let stack = stack("handlers-deadline").await;
    stack
        .hubspot
        .handle()
        .set_faults(sf2hs_sandbox::hubspot::FaultPlan {
            rate_hang: 1.0,
            hang_ms: 120_000,
            ..Default::default()
        })
        .expect("faults");
    let lookup = stack.lookup();
    let worker = sf2hs_worker::from_env(&lookup, Some(stack.endpoint()))
        .await
        .expect("worker");
    let batch: SqsEvent = serde_json::from_value(event("sqs-changes.json")).expect("SqsEvent");
    let mut context = Context::default();
    let budget = std::time::Duration::from_secs(8);
    let deadline = std::time::SystemTime::now() + budget;
    context.deadline = deadline
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis()
        .try_into()
        .expect("milliseconds");
    let started = std::time::Instant::now();
    let answer = tokio::time::timeout(budget * 3, worker.handle(LambdaEvent::new(batch, context)))
        .await
        .expect("the handler answers; it does not run past its deadline")
        .expect("answered");
    assert!(
        started.elapsed() < budget,
        "answered within the invocation's time: {:?}",
        started.elapsed()
    );
    assert!(
        !answer.batch_item_failures.is_empty(),
        "the change not written is retried: {answer:?}"
    );
}
