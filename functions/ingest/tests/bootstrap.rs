//! The ingest bootstrap binary under a local Lambda Runtime API, on moto and the sandboxes:
//! an outbound message through a Function URL event is acked only once its changes are on
//! SQS, a refused one gets a SOAP fault (and a `Refusals` metric line), a CDC event from
//! EventBridge is queued, one from a source that is not the org's Event Relay is refused, and an
//! endpoint token rotated in Secrets Manager is taken by the warm function.

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use sf2hs_sandbox::salesforce::senders::{CdcRelayConfig, change_events};
use sf2hs_shared::ports::ChangeQueue;
use sf2hs_shared::settings::vars;
use sf2hs_tests::function_url;
use sf2hs_tests::runtime_api::{Bootstrap, Outcome, RuntimeApi};
use sf2hs_tests::stack::{ENDPOINT_TOKEN, Stack};

const BINARY: &str = env!("CARGO_BIN_EXE_sf2hs-ingest");
const INVOKE: Duration = Duration::from_secs(60);

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/salesforce")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn url_event(path: &str, body: &str) -> serde_json::Value {
    let uri: axum::http::Uri = path.parse().expect("uri");
    let mut headers = axum::http::HeaderMap::new();
    headers.insert(
        "content-type",
        "text/xml; charset=utf-8".parse().expect("header"),
    );
    function_url::event(&axum::http::Method::POST, &uri, &headers, body.as_bytes())
}

fn response(outcome: Outcome) -> serde_json::Value {
    match outcome {
        Outcome::Response(value) => value,
        Outcome::Error(e) => panic!("the function failed: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_messages_and_events_through_the_runtime_api() {
    let stack = Stack::start("ingest-bin").await;
    // The fixture comes from its own org: configure that one.
    let mut env = stack.env.clone();
    env.retain(|(k, _)| k != vars::ORG_ID);
    env.push((vars::ORG_ID.to_owned(), "00Dxx0000001gPF".to_owned()));
    let api = RuntimeApi::start("sf2hs-ingest")
        .await
        .expect("runtime API");
    let logs = sf2hs_tests::TempDir::new("ingest-logs").expect("dir");
    let log = logs.path().join("ingest.log");
    env.push(("RUST_LOG".to_owned(), "debug".to_owned()));
    let mut bootstrap =
        Bootstrap::spawn_logging(Path::new(BINARY), &api, "sf2hs-ingest", &env, Some(&log))
            .expect("bootstrap");

    let acked = response(
        api.invoke(
            url_event(
                &format!("/outbound/{ENDPOINT_TOKEN}"),
                &fixture("outbound-batch-3-contacts.xml"),
            ),
            INVOKE,
        )
        .await
        .expect("answered"),
    );
    assert_eq!(acked["statusCode"], 200, "{acked}");
    let body = acked["body"].as_str().expect("body");
    assert!(body.contains("<Ack>true</Ack>"), "{body}");
    let depth = stack.queue.depth().await.expect("depth");
    assert_eq!(
        depth.visible, 3,
        "the three notifications are on SQS before the ack"
    );

    let refused = response(
        api.invoke(
            url_event(
                "/outbound/not-the-token",
                &fixture("outbound-account-update.xml"),
            ),
            INVOKE,
        )
        .await
        .expect("answered"),
    );
    assert_eq!(refused["statusCode"], 403, "{refused}");
    let body = refused["body"].as_str().expect("body");
    assert!(
        body.contains("faultcode") && !body.contains("<Ack>true"),
        "{body}"
    );
    assert!(
        !body.contains(ENDPOINT_TOKEN),
        "the token never appears in an answer"
    );

    // A CDC event as EventBridge delivers it, from the stack's org.
    let handle = stack.salesforce.handle();
    let project = handle
        .create("Project__c", json!({ "Name": "From CDC", "Budget__c": 5 }))
        .expect("created");
    let events = change_events(&handle, &CdcRelayConfig::default(), 0);
    assert_eq!(events.len(), 1);
    // This function instance is configured for the fixture's org: the event is refused, and
    // the invocation fails so that Lambda keeps it (retries, then the on-failure destination).
    let foreign = api
        .invoke(events[0].clone(), INVOKE)
        .await
        .expect("answered");
    match foreign {
        Outcome::Error(e) => assert!(
            e.to_string().contains("organisation") || e.to_string().contains("org"),
            "{e}"
        ),
        Outcome::Response(r) => panic!("an event from another org was taken: {r}"),
    }
    drop(bootstrap);
    // The log says why requests were refused, never with the token (the right one or the one
    // presented).
    let logged = std::fs::read_to_string(&log).expect("log");
    assert!(logged.contains("outbound message refused"), "{logged}");
    // Each refusal is an Embedded Metric Format line, which CloudWatch turns into the metric
    // the template's IngestRefusalsAlarm watches.
    let metric_lines: Vec<serde_json::Value> = logged
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["_aws"]["CloudWatchMetrics"].is_array())
        .collect();
    assert!(
        metric_lines
            .iter()
            .any(|m| m["EntryPoint"] == "outbound" && m["Reason"] == "token" && m["Refusals"] == 1),
        "{logged}"
    );
    assert!(
        metric_lines
            .iter()
            .any(|m| m["EntryPoint"] == "events" && m["Reason"] == "organization"),
        "{logged}"
    );
    assert!(
        !logged.contains(ENDPOINT_TOKEN),
        "the endpoint token in the logs"
    );
    assert!(
        !logged.contains("not-the-token"),
        "a presented token in the logs"
    );

    // The same event to an instance configured for the stack's org is queued. Its secrets are
    // kept for one second, so the test can see a rotated-out token stop working.
    let api = RuntimeApi::start("sf2hs-ingest")
        .await
        .expect("runtime API");
    let mut env = stack.env.clone();
    env.push(("SF2HS_SECRETS_CACHE_SECONDS".to_owned(), "1".to_owned()));
    bootstrap = Bootstrap::spawn(Path::new(BINARY), &api, "sf2hs-ingest", &env).expect("bootstrap");
    let taken = response(
        api.invoke(events[0].clone(), INVOKE)
            .await
            .expect("answered"),
    );
    assert_eq!(taken["changes"], 1, "{taken} for {project}");
    assert_eq!(stack.queue.depth().await.expect("depth").visible, 4);

    // The same event under another source: AppFlow's (no org to check), and a look-alike.
    for source in [
        "aws.partner/appflow/salesforce.com/123456789012/flow".to_owned(),
        format!("aws.partner/salesforce.com.evil/{}/0YL", handle.org_id()),
    ] {
        let mut untrusted = events[0].clone();
        untrusted["source"] = json!(source);
        match api.invoke(untrusted, INVOKE).await.expect("answered") {
            Outcome::Error(e) => assert!(e.to_string().contains("source"), "{source}: {e}"),
            Outcome::Response(r) => panic!("an event from {source} was taken: {r}"),
        }
    }
    assert_eq!(stack.queue.depth().await.expect("depth").visible, 4);

    // The endpoint token is rotated in Secrets Manager while the function is warm: the new
    // token is taken at once (a refused token makes it read the secret again), and the old one
    // is refused once the cache time has passed. No restart in between.
    let token_secret = env
        .iter()
        .find(|(k, _)| k == vars::ENDPOINT_TOKEN_SECRET)
        .map(|(_, v)| v.clone())
        .expect("the endpoint token secret's name");
    let rotated = "fedcba9876543210fedcba9876543210";
    sf2hs_shared::ports::SecretsProvider::store(
        &sf2hs_shared::aws::SecretsManagerSecrets::new(&stack.connection),
        &token_secret,
        rotated,
    )
    .await
    .expect("rotated");
    let message = fixture("outbound-account-update.xml")
        .replace("00Dxx0000001gPFEAY", &handle.org_id())
        .replace("00Dxx0000001gPF", &handle.org_id());
    let with_new = response(
        api.invoke(url_event(&format!("/outbound/{rotated}"), &message), INVOKE)
            .await
            .expect("answered"),
    );
    assert_eq!(with_new["statusCode"], 200, "the rotated token: {with_new}");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let with_old = response(
        api.invoke(
            url_event(&format!("/outbound/{ENDPOINT_TOKEN}"), &message),
            INVOKE,
        )
        .await
        .expect("answered"),
    );
    assert_eq!(
        with_old["statusCode"], 403,
        "the rotated-out token: {with_old}"
    );
    assert!(
        bootstrap.is_running(),
        "the bootstrap keeps serving invocations"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bootstrap_without_its_settings_stops_and_says_which() {
    let output = tokio::process::Command::new(BINARY)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .env("AWS_LAMBDA_FUNCTION_NAME", "sf2hs-ingest")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .await
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SF2HS_TABLE"), "{stderr}");
}
