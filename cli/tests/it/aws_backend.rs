//! The CLI on the aws backend: a stack on moto (table, live / backfill / import queues,
//! secrets), the import function behind Lambda's Invoke API and the worker and import functions
//! fed by event source mappings, as Lambda runs them. `sf2hs` reads the resource names from
//! sf2hs.toml, lists and changes the stored mappings in DynamoDB, starts an import through the
//! import function, follows it to the end, and reports status and dead letters from SQS.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use sf2hs_shared::aws::deployment;
use sf2hs_shared::ports::{ChangeQueue, ImportJobs, ImportStatus, MappingStore, RecordIndex};
use sf2hs_tests::event_source::EventSource;
use sf2hs_tests::lambda_api::LambdaApi;
use sf2hs_tests::stack::Stack;

const BINARY: &str = env!("CARGO_BIN_EXE_sf2hs");
const IMPORT_FUNCTION: &str = "sf2hs-import";

/// Runs `sf2hs --config CONFIG ARGS…` with the AWS variables that reach moto and the Invoke
/// API; returns (exit code, stdout, stderr).
async fn sf2hs(config: &Path, lambda: &str, args: &[&str]) -> (i32, String, String) {
    sf2hs_with(config, lambda, args, &[]).await
}

/// The same, with more variables (the connections `mappings activate` reads schemas through).
async fn sf2hs_with(
    config: &Path,
    lambda: &str,
    args: &[&str],
    env: &[(&str, String)],
) -> (i32, String, String) {
    let output = command(config, lambda)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("sf2hs runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `sf2hs --config CONFIG` reaching moto and the import function at `lambda`, with no AWS
/// configuration of the machine's.
fn command(config: &Path, lambda: &str) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(BINARY);
    command
        .arg("--config")
        .arg(config)
        .env("AWS_ENDPOINT_URL", sf2hs_tests::moto_endpoint())
        .env("AWS_ENDPOINT_URL_LAMBDA", lambda)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", config.with_extension("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            config.with_extension("no-aws-credentials"),
        )
        .env_remove("SF2HS_BACKEND")
        .env_remove("SF2HS_STACK");
    command
}

fn json_of(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

fn variable(stack: &Stack, name: &str) -> String {
    stack.lookup()(name).unwrap_or_else(|| panic!("{name} in the stack's environment"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_drives_a_deployed_stack() {
    let stack = Stack::start("cli-aws").await;
    let handle = stack.salesforce.handle();
    handle
        .create_many(
            "Project__c",
            (0..300)
                .map(|i| json!({ "Name": format!("P{i}"), "Budget__c": i }))
                .collect(),
        )
        .expect("seeded");

    let (import, worker) = {
        let lookup = stack.lookup();
        let endpoint = Some(stack.endpoint());
        let import = sf2hs_import::from_env(&lookup, endpoint)
            .await
            .expect("import starts");
        let worker = sf2hs_worker::from_env(&lookup, endpoint)
            .await
            .expect("worker starts");
        (Arc::new(import), Arc::new(worker))
    };
    let lambda = {
        let import = import.clone();
        LambdaApi::serve(IMPORT_FUNCTION, move |payload| {
            let import = import.clone();
            async move {
                import
                    .handle(LambdaEvent::new(
                        payload,
                        Stack::context(Duration::from_secs(60)),
                    ))
                    .await
                    .map_err(|e| e.to_string())
            }
        })
        .await
    };

    // The event source mappings: the import queue invokes the import function, the backfill
    // queue the worker.
    let running = Arc::new(AtomicBool::new(true));
    let mappings = {
        let running = running.clone();
        let mut imports = EventSource::new(&stack.connection, stack.import_queue.queue_url()).await;
        imports.batch_size = 1;
        imports.visibility = Duration::from_secs(120);
        let backfill = EventSource::new(&stack.connection, stack.backfill.queue_url()).await;
        let (import, worker) = (import.clone(), worker.clone());
        tokio::spawn(async move {
            while running.load(Ordering::SeqCst) {
                let import = import.clone();
                let continued = imports
                    .poll(|payload| async move {
                        import
                            .handle(LambdaEvent::new(
                                payload,
                                Stack::context(Duration::from_secs(60)),
                            ))
                            .await
                            .map_err(|e| e.to_string())
                    })
                    .await;
                let worker = worker.clone();
                let written = backfill
                    .poll(|payload| async move {
                        let event: SqsEvent =
                            serde_json::from_value(payload).map_err(|e| e.to_string())?;
                        let answer = worker
                            .handle(LambdaEvent::new(
                                event,
                                Stack::context(Duration::from_secs(60)),
                            ))
                            .await
                            .map_err(|e| e.to_string())?;
                        serde_json::to_value(answer).map_err(|e| e.to_string())
                    })
                    .await;
                if continued.received + written.received == 0 {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        })
    };

    let dir = sf2hs_tests::TempDir::new("cli-aws").expect("temp dir");
    let config = dir.path().join("sf2hs.toml");
    std::fs::write(
        &config,
        format!(
            "# the names a deployed stack's outputs give\n\
             backend = \"aws\"\n\
             table = \"{}\"\n\
             queue = \"{}\"\n\
             backfill_queue = \"{}\"\n\
             import_queue = \"{}\"\n\
             import_function = \"{IMPORT_FUNCTION}\"\n",
            stack.settings.table,
            stack.settings.queue,
            variable(&stack, deployment::BACKFILL_QUEUE_VAR),
            variable(&stack, deployment::IMPORT_QUEUE_VAR),
        ),
    )
    .expect("config written");

    // The mappings the stack stored, read from DynamoDB; pausing one writes it there.
    let (code, out, err) = sf2hs(&config, lambda.endpoint(), &["mappings", "list", "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let listed = json_of(&out);
    let objects: Vec<&str> = listed["mappings"]
        .as_array()
        .expect("mappings")
        .iter()
        .filter_map(|m| m["salesforce_object"].as_str())
        .collect();
    assert!(
        objects.contains(&"Project__c") && objects.contains(&"Invoice__c"),
        "{out}"
    );
    let (code, _, err) = sf2hs(
        &config,
        lambda.endpoint(),
        &["mappings", "pause", "Invoice__c"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let stored = stack
        .store
        .mapping_store()
        .get("Invoice__c")
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(stored.mapping.status.name(), "paused");

    // A change the worker parked while the mapping was paused, and one dead-lettered for
    // another cause: activation replays the first only, on DynamoDB and SQS as locally.
    let parked = |n: u32| sf2hs_shared::domain::Change {
        org_id: sf2hs_shared::domain::SalesforceId::parse("00Dxx0000001gPF").expect("org"),
        object: "Invoice__c".into(),
        record_id: sf2hs_shared::domain::SalesforceId::parse(&format!("a0I5f00000P{n:04}"))
            .expect("id"),
        kind: sf2hs_shared::domain::ChangeKind::Upsert {
            fields: sf2hs_shared::domain::FieldSnapshot::new(),
        },
        modstamp: Some(chrono::Utc::now()),
        source: sf2hs_shared::domain::ChangeSource::Worker,
        received_at: chrono::Utc::now(),
        prior_deliveries: 0,
    };
    stack
        .queue
        .send_batch(&[parked(1), parked(2)])
        .await
        .expect("sent");
    let mut deliveries = Vec::new();
    for _ in 0..20 {
        deliveries.extend(
            stack
                .queue
                .receive(10, Duration::from_secs(60))
                .await
                .expect("received"),
        );
        if deliveries.len() == 2 {
            break;
        }
    }
    assert_eq!(deliveries.len(), 2);
    for delivery in &deliveries {
        let reason = if delivery
            .change
            .record_id
            .as_str()
            .starts_with("a0I5f00000P0001")
        {
            format!(
                "{} mapping `Invoice__c` is paused; activating it replays this change",
                sf2hs_shared::worker::PAUSED_REASON_PREFIX
            )
        } else {
            "Amount__c cannot convert".to_owned()
        };
        stack
            .queue
            .dead_letter(&delivery.receipt, &reason)
            .await
            .expect("parked");
    }
    let credentials = sf2hs_tests::stack::local_credentials(&stack.salesforce, &stack.hubspot);
    let (code, out, err) = sf2hs_with(
        &config,
        lambda.endpoint(),
        &["--json", "mappings", "activate", "Invoice__c"],
        &credentials,
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let activated = json_of(&out);
    assert_eq!(activated["status"], "active", "{out}");
    assert_eq!(activated["replayed"], 1, "{out}");
    let letters = stack.queue.dead_letters(10).await.expect("dead letters");
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].reason, "Amount__c cannot convert");
    let stored = stack
        .store
        .mapping_store()
        .get("Invoice__c")
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(
        stored.mapping.resolved.map(|r| r.object_type_id),
        stack.hubspot.handle().object_type_id("sf_invoice").ok(),
        "activation stores the objectTypeId it resolved"
    );
    // Leave the queues empty for what follows.
    stack
        .queue
        .replay(&[letters[0].message_id.clone()])
        .await
        .expect("replayed");
    let mut cleared = 0;
    for _ in 0..20 {
        let taken = stack
            .queue
            .receive(10, Duration::from_secs(60))
            .await
            .expect("received");
        let receipts: Vec<String> = taken.iter().map(|d| d.receipt.clone()).collect();
        stack.queue.delete(&receipts).await.expect("deleted");
        cleared += taken.len();
        if cleared == 2 {
            break;
        }
    }
    assert_eq!(cleared, 2, "the replayed change and the other dead letter");

    // The pipeline runs in Lambda here: `serve` says so instead of starting a second one.
    let (code, _, err) = sf2hs(&config, lambda.endpoint(), &["serve"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("deployed functions are the pipeline"), "{err}");

    // The import: the function counts and creates the job, the CLI hands it back to run and
    // follows it until every record is in HubSpot.
    let (code, out, err) = sf2hs(
        &config,
        lambda.endpoint(),
        &["import", "start", "Project__c", "--yes", "--json"],
    )
    .await;
    assert_eq!(code, 0, "import start failed:\n{out}\n{err}");
    let job = json_of(&out);
    assert_eq!(job["status"], "completed", "{out}");
    assert_eq!(job["total"], 300);
    assert_eq!(job["synced"], 300);
    assert_eq!(job["failed"], 0);
    let invoked = lambda.payloads();
    assert_eq!(
        invoked.first(),
        Some(&json!({ "action": "start", "object": "Project__c", "via": "auto" })),
        "the job was created by the import function: {invoked:?}"
    );
    let records = stack
        .hubspot
        .handle()
        .records("sf_project")
        .expect("HubSpot records");
    assert_eq!(records.len(), 300, "every project in HubSpot once");
    let id = job["id"].as_str().expect("job id").to_owned();
    let stored = stack
        .store
        .import_jobs()
        .get(&id)
        .await
        .expect("read")
        .expect("job in DynamoDB");
    assert_eq!(stored.status, ImportStatus::Completed);

    // Through HubSpot's Imports API: the import function writes and sends the file of the
    // records HubSpot lacks, polls HubSpot and writes the record index itself.
    handle
        .create_many(
            "Project__c",
            (0..50)
                .map(|i| json!({ "Name": format!("Filed {i}"), "Budget__c": i }))
                .collect(),
        )
        .expect("seeded");
    let (code, out, err) = sf2hs(
        &config,
        lambda.endpoint(),
        &[
            "import",
            "start",
            "Project__c",
            "--via",
            "imports",
            "--yes",
            "--json",
        ],
    )
    .await;
    assert_eq!(code, 0, "import start --via imports failed:\n{out}\n{err}");
    assert!(err.contains("through HubSpot's Imports API"), "{err}");
    let filed = json_of(&out);
    assert_eq!(filed["status"], "completed", "{out}");
    assert_eq!(filed["total"], 350);
    assert_eq!(filed["failed"], 0);
    assert_eq!(
        lambda.payloads().last(),
        Some(&json!({ "action": "start", "object": "Project__c", "via": "imports" }))
    );
    let hubspot = stack.hubspot.handle();
    assert_eq!(hubspot.imports_started().expect("imports"), 1);
    assert_eq!(hubspot.count("sf_project").expect("count"), 350);
    let filed_id = filed["id"].as_str().expect("job id");
    let indexed = stack
        .store
        .record_index()
        .count("Project__c")
        .await
        .expect("count");
    assert_eq!(
        indexed, 350,
        "the file's records are in the index: {filed_id}"
    );

    // A finished job has nothing to resume.
    let (code, _, err) = sf2hs(&config, lambda.endpoint(), &["import", "resume", &id]).await;
    assert_eq!(code, 1);
    assert!(err.contains("nothing to run"), "{err}");

    // An unknown object: the function's own error, passed on.
    let (code, _, err) = sf2hs(
        &config,
        lambda.endpoint(),
        &["import", "start", "Nope__c", "--yes"],
    )
    .await;
    assert_eq!(code, 1);
    assert!(
        err.contains("the import function `sf2hs-import` failed"),
        "{err}"
    );
    assert!(err.contains("Nope__c"), "{err}");

    // Status: the records in the index, both queues with their depth.
    let (code, out, err) = sf2hs(&config, lambda.endpoint(), &["status", "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let status = json_of(&out);
    let project = status["mappings"]
        .as_array()
        .expect("mappings")
        .iter()
        .find(|m| m["salesforce_object"] == "Project__c")
        .cloned()
        .expect("Project__c in status");
    assert_eq!(
        project["records"], 350,
        "the batch import's 300 and the file's 50: {out}"
    );
    let queues: Vec<&str> = status["queues"]
        .as_array()
        .expect("queues")
        .iter()
        .filter_map(|q| q["name"].as_str())
        .collect();
    assert_eq!(
        queues,
        vec![
            stack.settings.queue.as_str(),
            variable(&stack, deployment::BACKFILL_QUEUE_VAR).as_str()
        ]
    );

    // A dead letter on the live queue shows in `dlq list` and `dlq replay` puts it back.
    let change = sf2hs_tests::sample_change(7);
    stack.queue.send_batch(&[change]).await.expect("sent");
    let delivery = stack
        .queue
        .receive(1, Duration::from_secs(30))
        .await
        .expect("received")
        .pop()
        .expect("a delivery");
    stack
        .queue
        .dead_letter(&delivery.receipt, "seeded by the test")
        .await
        .expect("dead-lettered");
    let (code, out, err) = sf2hs(&config, lambda.endpoint(), &["dlq", "list", "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let letters = json_of(&out)["dead_letters"].clone();
    assert_eq!(letters.as_array().map(Vec::len), Some(1), "{out}");
    assert_eq!(letters[0]["reason"], "seeded by the test");
    let (code, out, err) = sf2hs(
        &config,
        lambda.endpoint(),
        &["dlq", "replay", "--json", "--yes"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(json_of(&out)["replayed"], 1);
    assert_eq!(stack.queue.depth().await.expect("depth").dead, 0);

    // The console on the deployed stack's table and queues.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut console = command(&config, lambda.endpoint())
        .args(["console", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("console starts");
    sf2hs_tests::wait_listening(&format!("127.0.0.1:{port}")).await;
    for (path, expected) in [
        ("/", "on the dashboard"),
        ("/health", "Sync health"),
        ("/imports", "the import function runs imports"),
        ("/mappings", "Project__c"),
    ] {
        let page = reqwest::get(format!("http://127.0.0.1:{port}{path}"))
            .await
            .expect("the console answers");
        assert_eq!(page.status().as_u16(), 200, "{path}");
        let body = page.text().await.expect("page");
        assert!(body.contains(expected), "{path}: {expected} in {body}");
    }
    let _ = console.kill().await;

    running.store(false, Ordering::SeqCst);
    let _ = mappings.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_resource_name_says_which_and_how_to_give_it() {
    let dir = sf2hs_tests::TempDir::new("cli-aws-missing").expect("temp dir");
    let config = dir.path().join("sf2hs.toml");
    std::fs::write(&config, "backend = \"aws\"\nqueue = \"q\"\n").expect("config");
    let (code, _, err) = sf2hs(&config, "http://127.0.0.1:9", &["status"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("SF2HS_TABLE"), "{err}");
    assert!(err.contains("--stack"), "{err}");
}
