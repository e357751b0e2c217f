//! The SAM template against the code: it lints clean (with its plain-CloudFormation transform),
//! the transformed stack creates on moto's CloudFormation, and each function, given the
//! environment the deployed stack set for it, finds every setting, secret, queue and table it
//! needs there. Each function's AWS requests, recorded while it runs the pipeline, are granted
//! by its role on the resources it names, and the role grants no action the function never uses.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::common_pipeline::{self, Pipeline};

use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use sf2hs_sandbox::hubspot::FaultPlan;
use sf2hs_shared::aws::DynamoStore;
use sf2hs_shared::aws::dynamodb::{
    GROUP_INDEX, GROUP_INDEX_PARTITION_KEY, GROUP_INDEX_SORT_KEY, PARTITION_KEY, RECORDS_INDEX,
    RECORDS_INDEX_PARTITION_KEY, RECORDS_INDEX_SORT_KEY, SORT_KEY, TABLE_SHAPE, TIMELINE_INDEX,
    TIMELINE_INDEX_PARTITION_KEY, TIMELINE_INDEX_SORT_KEY, TTL_ATTRIBUTE,
};
use sf2hs_shared::aws::write_units::Projected;
use sf2hs_shared::mapping::validate_sources;
use sf2hs_shared::ports::{MappingStore, SecretsProvider};
use sf2hs_shared::settings::vars;
use sf2hs_tests::stack::Stack;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn python() -> PathBuf {
    std::env::var_os("SF2HS_VENV")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/sf2hs/venv")))
        .expect("a venv")
        .join("bin/python")
}

struct Deployed {
    report: Value,
    transformed: Value,
}

fn deploy(stack: &str) -> Deployed {
    let out = sf2hs_tests::TempDir::new("infra").expect("temp dir");
    let output = Command::new(python())
        .arg(root().join("scripts/infra_check.py"))
        .arg("deploy")
        .arg(sf2hs_tests::moto_endpoint())
        .arg(out.path())
        .arg(stack)
        .output()
        .expect("run scripts/infra_check.py (scripts/test installs its venv)");
    assert!(
        output.status.success(),
        "infra check failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("report JSON");
    let transformed: Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("template.json")).expect("transform written"),
    )
    .expect("transformed JSON");
    Deployed {
        report,
        transformed,
    }
}

/// What the AWS managed policies SAM attaches grant (IAM's published policy documents).
const MANAGED: &[(&str, &[&str])] = &[
    (
        "service-role/AWSLambdaBasicExecutionRole",
        &[
            "logs:CreateLogGroup",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
        ],
    ),
    (
        "service-role/AWSLambdaSQSQueueExecutionRole",
        &[
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "logs:CreateLogGroup",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
        ],
    ),
];

fn lookup(env: &BTreeMap<String, String>) -> impl Fn(&str) -> Option<String> + '_ {
    move |name| env.get(name).cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_template_deploys_and_matches_the_code() {
    let stack = sf2hs_tests::unique_name("infra");
    let deployed = deploy(&stack);
    assert_eq!(deployed.report["status"], "CREATE_COMPLETE");

    // Table keys and indexes are the ones the DynamoDB adapter uses.
    let table = &deployed.transformed["Resources"]["Table"]["Properties"];
    let keys: Vec<&str> = table["KeySchema"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k["AttributeName"].as_str())
        .collect();
    assert_eq!(keys, [PARTITION_KEY, SORT_KEY]);
    let indexes: BTreeMap<&str, Vec<&str>> = table["GlobalSecondaryIndexes"]
        .as_array()
        .expect("indexes")
        .iter()
        .map(|i| {
            (
                i["IndexName"].as_str().expect("name"),
                i["KeySchema"]
                    .as_array()
                    .expect("keys")
                    .iter()
                    .filter_map(|k| k["AttributeName"].as_str())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        indexes,
        BTreeMap::from([
            (
                GROUP_INDEX,
                vec![GROUP_INDEX_PARTITION_KEY, GROUP_INDEX_SORT_KEY]
            ),
            (
                TIMELINE_INDEX,
                vec![TIMELINE_INDEX_PARTITION_KEY, TIMELINE_INDEX_SORT_KEY]
            ),
            (
                RECORDS_INDEX,
                vec![RECORDS_INDEX_PARTITION_KEY, RECORDS_INDEX_SORT_KEY]
            ),
        ])
    );
    // What each index copies, as the write-unit model counts it.
    let projections: Vec<(&str, &str)> = table["GlobalSecondaryIndexes"]
        .as_array()
        .expect("indexes")
        .iter()
        .map(|i| {
            (
                i["KeySchema"][0]["AttributeName"].as_str().expect("key"),
                i["Projection"]["ProjectionType"]
                    .as_str()
                    .expect("projection"),
            )
        })
        .collect();
    let modelled: Vec<(&str, &str)> = TABLE_SHAPE
        .indexes
        .iter()
        .map(|i| {
            (
                i.partition_key,
                match i.projected {
                    Projected::All => "ALL",
                    Projected::KeysOnly => "KEYS_ONLY",
                },
            )
        })
        .collect();
    assert_eq!(projections, modelled);
    assert_eq!(
        table["TimeToLiveSpecification"]["AttributeName"],
        TTL_ATTRIBUTE
    );
    assert_eq!(
        table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );

    // Each function starts on the environment the stack gave it: every variable it needs is
    // set, and every queue, secret and table it names exists.
    // Lambda keeps variables as strings; moto hands back numbers as given.
    let environments: BTreeMap<String, BTreeMap<String, String>> =
        serde_json::from_value::<BTreeMap<String, BTreeMap<String, Value>>>(
            deployed.report["environments"].clone(),
        )
        .expect("environments")
        .into_iter()
        .map(|(function, vars)| {
            let vars = vars
                .into_iter()
                .map(|(k, v)| match v {
                    Value::String(s) => (k, s),
                    other => (k, other.to_string()),
                })
                .collect();
            (function, vars)
        })
        .collect();
    // moto's CloudFormation does not create AWS::SecretsManager::Secret resources, so a `Ref`
    // to one comes back unset. Make each such secret on moto with the template's value (the
    // generated token: 48 characters) and set the variable to it, as the Ref would.
    let mut environments = environments;
    let secrets =
        sf2hs_shared::aws::SecretsManagerSecrets::new(&sf2hs_tests::moto_connection().await);
    let resources = &deployed.transformed["Resources"];
    for (function, vars) in environments.iter_mut() {
        let declared = resources[function.as_str()]["Properties"]["Environment"]["Variables"]
            .as_object()
            .expect("variables");
        for (name, value) in declared {
            let Some(secret) = value["Ref"].as_str() else {
                continue;
            };
            let resource = &resources[secret];
            if resource["Type"] != "AWS::SecretsManager::Secret" || vars.contains_key(name) {
                continue;
            }
            let secret_name = format!("{stack}-{secret}");
            let value = resource["Properties"]["SecretString"]
                .as_str()
                .map_or_else(|| "x".repeat(48), str::to_owned);
            secrets.store(&secret_name, &value).await.expect("secret");
            vars.insert(name.clone(), secret_name);
        }
    }
    let endpoint = Some(sf2hs_tests::moto_endpoint());
    let ingest_env = &environments["IngestFunction"];
    let ingest = sf2hs_ingest::from_env(&lookup(ingest_env), endpoint)
        .await
        .expect("ingest starts on the stack's environment");
    let worker_env = &environments["WorkerFunction"];
    let worker = sf2hs_worker::from_env(&lookup(worker_env), endpoint)
        .await
        .expect("worker starts on the stack's environment");
    assert!(
        worker.deployment.backfill.is_some(),
        "the worker consumes the backfill queue"
    );
    let import_env = &environments["ImportFunction"];
    sf2hs_import::from_env(&lookup(import_env), endpoint)
        .await
        .expect("import starts on the stack's environment");

    // The table the stack made takes the adapters' items.
    let connection = sf2hs_tests::moto_connection().await;
    let store = DynamoStore::new(&connection, ingest_env["SF2HS_TABLE"].clone());
    let report = validate_sources(&[(
        "stack.toml".to_owned(),
        sf2hs_tests::stack::MAPPINGS.to_owned(),
    )]);
    store
        .mapping_store()
        .put(&report.mappings[0].mapping, None)
        .await
        .expect("a mapping is stored in the deployed table");
    assert_eq!(store.mapping_store().list().await.expect("list").len(), 1);
    assert_eq!(
        ingest.queue.depth().await.expect("queue depth").visible,
        0,
        "ingest reaches the deployed change queue"
    );

    // The operator's CLI finds the same resources from the stack's outputs (`--stack`).
    let outputs = sf2hs_shared::aws::operator::stack_outputs(&connection, &stack)
        .await
        .expect("the stack's outputs");
    let from_outputs = sf2hs_shared::aws::operator::deployment_variables(&outputs);
    for (output, variable) in sf2hs_shared::aws::operator::STACK_OUTPUT_VARIABLES {
        assert!(
            from_outputs.contains_key(*variable),
            "the stack has no output {output} for {variable}: {outputs:?}"
        );
    }
    for (variable, value) in &from_outputs {
        if let Some(set) = worker_env
            .get(variable)
            .or_else(|| import_env.get(variable))
        {
            assert_eq!(
                set, value,
                "{variable}: the output names what the functions use"
            );
        }
    }
    assert_eq!(
        from_outputs[sf2hs_shared::aws::operator::IMPORT_FUNCTION_VAR],
        deployed.report["resources"]["ImportFunction"]["physical"]
            .as_str()
            .unwrap_or_default(),
        "ImportFunctionName names the import function"
    );
    let operator = sf2hs_shared::aws::Deployment::connect(&lookup(&from_outputs), endpoint)
        .await
        .expect("the outputs name a table and queues that exist");
    assert!(
        operator.backfill.is_some(),
        "the outputs name the backfill queue"
    );
    operator
        .continuations(&lookup(&from_outputs))
        .await
        .expect("the outputs name the import queue");
}

fn transform() -> Value {
    let out = sf2hs_tests::TempDir::new("infra-transform").expect("temp dir");
    let output = Command::new(python())
        .arg(root().join("scripts/infra_check.py"))
        .arg("transform")
        .arg(out.path())
        .output()
        .expect("run scripts/infra_check.py (scripts/test installs its venv)");
    assert!(
        output.status.success(),
        "transform failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(
        &std::fs::read_to_string(out.path().join("template.json")).expect("transform written"),
    )
    .expect("transformed JSON")
}

/// The template resource a policy or a variable names: `{"Ref": X}` or `{"Fn::GetAtt": [X, _]}`.
fn named_resource(value: &Value) -> Option<&str> {
    value["Ref"]
        .as_str()
        .or_else(|| value["Fn::GetAtt"][0].as_str())
}

/// What a function's role allows: actions on named template resources (its own inline
/// policies), and actions on any resource (the managed policies SAM attaches).
struct Grants {
    on: BTreeSet<(String, String)>,
    anywhere: BTreeSet<String>,
}

impl Grants {
    fn of(transformed: &Value, function: &str) -> Grants {
        let role = format!("{function}Role");
        let properties = &transformed["Resources"][role.as_str()]["Properties"];
        let mut anywhere = BTreeSet::new();
        for arn in properties["ManagedPolicyArns"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            for (name, grants) in MANAGED {
                if arn.ends_with(name) {
                    anywhere.extend(grants.iter().map(|a| (*a).to_owned()));
                }
            }
        }
        let mut on = BTreeSet::new();
        // The template's own `Policies` become `<Role>Policy<N>`; SAM's others (such as the
        // failure destination Lambda itself sends to) are not the function's code.
        for policy in properties["Policies"].as_array().expect("policies") {
            if !policy["PolicyName"]
                .as_str()
                .is_some_and(|n| n.starts_with(&format!("{role}Policy")))
            {
                continue;
            }
            for statement in policy["PolicyDocument"]["Statement"]
                .as_array()
                .expect("statements")
            {
                assert_eq!(statement["Effect"], "Allow");
                let actions: Vec<String> = match &statement["Action"] {
                    Value::String(a) => vec![a.clone()],
                    Value::Array(list) => list
                        .iter()
                        .filter_map(|a| a.as_str().map(str::to_owned))
                        .collect(),
                    other => panic!("{role}: an action that is not a name: {other}"),
                };
                let resources: Vec<String> = match &statement["Resource"] {
                    Value::Array(list) => list.iter().collect::<Vec<_>>(),
                    single => vec![single],
                }
                .into_iter()
                .map(|r| {
                    named_resource(r)
                        .unwrap_or_else(|| panic!("{role}: a resource not from the template: {r}"))
                        .to_owned()
                })
                .collect();
                for action in &actions {
                    assert!(!action.contains('*'), "{role} grants a wildcard: {action}");
                    for resource in &resources {
                        on.insert((action.clone(), resource.clone()));
                    }
                }
            }
        }
        Grants { on, anywhere }
    }

    fn allows(&self, action: &str, resource: &str) -> bool {
        self.anywhere.contains(action)
            || self.on.contains(&(action.to_owned(), resource.to_owned()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_aws_request_a_function_makes_is_granted_to_it_and_no_more() {
    use sf2hs_shared::domain::{Change, ChangeKind, ChangeSource, SalesforceId};
    use sf2hs_shared::ports::ChangeQueue;

    let transformed = transform();
    // Each function sees the variables the template sets for it, and the sandbox's HubSpot
    // address and short retry waits, which a deployment leaves at their defaults.
    let set_by_template = |function: &str, variable: &str| {
        transformed["Resources"][function]["Properties"]["Environment"]["Variables"]
            .get(variable)
            .is_some()
            || [
                vars::HUBSPOT_BASE_URL,
                vars::RETRY_DELAY_SECONDS,
                vars::ASSOCIATION_RETRY_DELAY_SECONDS,
            ]
            .contains(&variable)
    };
    // HubSpot through an OAuth app that rotates its refresh tokens: the worker writes the new
    // one back into its secret, a call its role must allow.
    let hubspot = sf2hs_sandbox::hubspot::SandboxConfig {
        oauth_clients: vec![sf2hs_sandbox::hubspot::OAuthClient {
            client_id: sf2hs_sandbox::hubspot::DEFAULT_CLIENT_ID.into(),
            client_secret: sf2hs_sandbox::hubspot::DEFAULT_CLIENT_SECRET.into(),
            refresh_tokens: vec![sf2hs_sandbox::hubspot::DEFAULT_REFRESH_TOKEN.into()],
            scopes: None,
            rotates_refresh_tokens: true,
        }],
        ..sf2hs_sandbox::hubspot::SandboxConfig::default()
    };
    let options = common_pipeline::Options {
        sees: Some(&set_by_template),
        hubspot: Some(hubspot),
        ..common_pipeline::Options::default()
    };
    let mut p = Pipeline::start_with("iam", options).await;
    let drain = Duration::from_secs(60);
    let handle = p.stack.salesforce.handle();
    let project = handle
        .create("Project__c", json!({ "Name": "Granted", "Budget__c": 1 }))
        .expect("project");
    let invoice = handle
        .create(
            "Invoice__c",
            json!({ "Name": "INV-1", "Amount__c": 10, "Status__c": "Draft", "Project__c": project }),
        )
        .expect("invoice");

    // Every path that calls AWS: an outbound message, an association retried until its project
    // is there, CDC updates read back from Salesforce, a delete, a dead letter, and an import
    // that hands on to a continuation and is written from the backfill queue.
    let invoice_fields = ["Name", "Amount__c", "Status__c", "Project__c"];
    let sent = p
        .sender("Invoice__c", &invoice_fields)
        .send(std::slice::from_ref(&invoice))
        .await
        .expect("delivered");
    assert!(sent.all_acked(), "{sent:?}");
    p.work_once().await;
    p.sender("Project__c", &["Name", "Budget__c"])
        .send(std::slice::from_ref(&project))
        .await
        .expect("delivered");
    p.drain(drain).await;
    p.cdc_sequence = handle.changes_after(0).last().map_or(0, |c| c.sequence);
    handle
        .update("Project__c", &project, json!({ "Budget__c": 2 }))
        .expect("update");
    handle.delete("Invoice__c", &invoice).expect("delete");
    assert!(p.relay_cdc().await >= 2);
    p.drain(drain).await;
    let org = SalesforceId::parse(&handle.org_id()).expect("org");
    let unconvertible = Change {
        org_id: org,
        object: "Project__c".into(),
        record_id: SalesforceId::parse("a0P5f00000BaDdX").expect("id"),
        kind: ChangeKind::Upsert {
            fields: [
                ("Name".to_owned(), json!("Bad")),
                ("Budget__c".to_owned(), json!("twelve")),
            ]
            .into(),
        },
        modstamp: Some(chrono::Utc::now()),
        source: ChangeSource::Worker,
        received_at: chrono::Utc::now(),
        prior_deliveries: 0,
    };
    p.stack
        .queue
        .send_batch(&[unconvertible])
        .await
        .expect("queued");
    p.drain(drain).await;
    assert_eq!(
        p.stack
            .queue
            .dead_letters(10)
            .await
            .expect("dead letters")
            .len(),
        1
    );
    // HubSpot down: the change is put back for later (its visibility changed), then written.
    p.stack
        .hubspot
        .handle()
        .set_faults(FaultPlan {
            rate_503: 1.0,
            ..FaultPlan::default()
        })
        .expect("faults");
    handle
        .update("Project__c", &project, json!({ "Budget__c": 3 }))
        .expect("update");
    p.sender("Project__c", &["Name", "Budget__c"])
        .send(std::slice::from_ref(&project))
        .await
        .expect("delivered");
    p.work_once().await;
    p.stack.hubspot.handle().clear_faults().expect("faults");
    p.drain(drain).await;
    let started = p
        .import_command(
            Pipeline::start_import("Project__c"),
            Duration::from_secs(60),
        )
        .await;
    let job_id = started["job"]["id"].as_str().expect("job id").to_owned();
    let paused = p
        .import_command(Pipeline::run_import(&job_id), Duration::ZERO)
        .await;
    assert_eq!(paused["state"], "continues", "{paused}");
    assert!(p.continue_import(Duration::from_secs(120)).await);
    p.drain(drain).await;
    // An import through HubSpot's Imports API, of records nothing has synced yet: the import
    // function reads HubSpot's token (rotating the refresh token, which it writes back), sends
    // the file and writes the record index and the sync log itself.
    handle
        .create_many(
            "Project__c",
            (0..3)
                .map(|i| json!({ "Name": format!("Filed {i}"), "Budget__c": i }))
                .collect(),
        )
        .expect("projects");
    let started = p
        .import_command(
            Pipeline::start_import_via("Project__c", "imports"),
            Duration::from_secs(60),
        )
        .await;
    assert_eq!(started["job"]["cursor"], "hubspot-import:", "{started}");
    let job_id = started["job"]["id"].as_str().expect("job id").to_owned();
    let run = p
        .import_command(Pipeline::run_import(&job_id), Duration::from_secs(120))
        .await;
    assert_eq!(run["state"], "all_sent", "{run}");
    p.drain(drain).await;
    // A gap overflow: ingest stores a re-sync and hands it to the import function, which reads
    // the window's records and deletes.
    let overflow = sf2hs_sandbox::salesforce::senders::cdc::gap_overflow_event(
        &handle,
        &sf2hs_sandbox::salesforce::senders::CdcRelayConfig::default(),
        "Project__c",
        handle.now(),
    );
    p.ingest
        .handle(LambdaEvent::new(
            overflow,
            Stack::context(Duration::from_secs(30)),
        ))
        .await
        .expect("the overflow is ingested");
    assert!(p.continue_import(Duration::from_secs(120)).await);
    p.drain(drain).await;

    // The names the pipeline's functions were given, as the template's resources.
    let resources = &transformed["Resources"];
    let mut logical: BTreeMap<String, String> = BTreeMap::new();
    for function in p.calls.keys() {
        let variables = resources[*function]["Properties"]["Environment"]["Variables"]
            .as_object()
            .expect("variables");
        for (variable, value) in variables {
            let Some(resource) = named_resource(value).filter(|r| resources.get(*r).is_some())
            else {
                continue;
            };
            if let Some(name) = p.stack.lookup()(variable) {
                logical.insert(name, resource.to_owned());
            }
        }
    }

    for (function, log) in &p.calls {
        let grants = Grants::of(&transformed, function);
        let calls = log.snapshot();
        assert!(!calls.is_empty(), "{function} made no AWS request");
        let mut used = BTreeSet::new();
        for call in calls.keys() {
            // A queue URL ends in the queue's name.
            let name = call.resource.rsplit('/').next().unwrap_or_default();
            let resource = logical.get(name).unwrap_or_else(|| {
                panic!(
                    "{function} called {} on {:?}, which no variable of the template names",
                    call.operation, call.resource
                )
            });
            assert!(
                grants.allows(&call.action, resource),
                "{function} calls {} ({}) on {resource}, but its role does not grant it",
                call.operation,
                call.action
            );
            used.insert(call.action.clone());
        }
        for (action, resource) in &grants.on {
            assert!(
                used.contains(action),
                "{function}'s role grants {action} on {resource}, which its code never called \
                 in this run: {:?}",
                log.by_operation()
            );
        }
    }
}

/// Every alarm reaches someone (the AlertTopic, which AlertEmail subscribes to), and every
/// place work is parked is watched: each dead-letter queue, the ingest failure queue, and the
/// age of the oldest live change.
#[test]
fn every_alarm_has_an_action_and_every_parked_queue_an_alarm() {
    let transformed = transform();
    let resources = transformed["Resources"].as_object().expect("resources");
    let alarms: Vec<(&String, &Value)> = resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
        .collect();
    assert!(!alarms.is_empty());
    for (name, alarm) in &alarms {
        let actions: Vec<Option<&str>> = alarm["Properties"]["AlarmActions"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} has no AlarmActions"))
            .iter()
            .map(named_resource)
            .collect();
        assert_eq!(actions, [Some("AlertTopic")], "{name}");
    }
    assert_eq!(resources["AlertTopic"]["Type"], "AWS::SNS::Topic");
    assert_eq!(resources["AlertSubscription"]["Condition"], "HasAlertEmail");
    let watched = |metric: &str| -> Vec<&str> {
        let mut queues: Vec<&str> = alarms
            .iter()
            .filter(|(_, a)| a["Properties"]["MetricName"] == metric)
            .filter_map(|(_, a)| named_resource(&a["Properties"]["Dimensions"][0]["Value"]))
            .collect();
        queues.sort_unstable();
        queues
    };
    // Every queue where something waits for a person (all but the three working queues) has
    // its alarm, a queue added later included.
    let working = ["BackfillQueue", "ChangeQueue", "ImportQueue"];
    let mut parked: Vec<&str> = resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::SQS::Queue")
        .map(|(name, _)| name.as_str())
        .filter(|name| !working.contains(name))
        .collect();
    parked.sort_unstable();
    assert_eq!(
        parked,
        [
            "BackfillDeadLetterQueue",
            "ChangeDeadLetterQueue",
            "ImportDeadLetterQueue",
            "IngestEventDeadLetterQueue",
            "IngestFailureQueue"
        ]
    );
    assert_eq!(watched("ApproximateNumberOfMessagesVisible"), parked);
    assert_eq!(watched("ApproximateAgeOfOldestMessage"), ["ChangeQueue"]);
}

#[test]
fn the_event_path_takes_only_event_relay_keeps_what_it_cannot_deliver_and_is_bounded() {
    let transformed = transform();
    let resources = transformed["Resources"].as_object().expect("resources");
    let rule = &resources["IngestFunctionSalesforceEvents"]["Properties"];
    // Event Relay's sources only (the org is checked by ingest): not AppFlow's, not any
    // `aws.partner/salesforce.com…`-looking prefix without the slash.
    assert_eq!(
        rule["EventPattern"]["source"],
        json!([{ "prefix": "aws.partner/salesforce.com/" }])
    );
    let target = &rule["Targets"][0];
    assert_eq!(named_resource(&target["Arn"]), Some("IngestFunction"));
    assert_eq!(
        named_resource(&target["DeadLetterConfig"]["Arn"]),
        Some("IngestEventDeadLetterQueue")
    );
    assert_eq!(target["RetryPolicy"]["MaximumEventAgeInSeconds"], 86400);
    // EventBridge may write to that queue, for this rule only.
    let policy = &resources["IngestEventDeadLetterQueuePolicy"]["Properties"];
    let statement = &policy["PolicyDocument"]["Statement"][0];
    assert_eq!(statement["Principal"]["Service"], "events.amazonaws.com");
    assert_eq!(statement["Action"], "sqs:SendMessage");
    assert_eq!(
        named_resource(&statement["Condition"]["ArnEquals"]["aws:SourceArn"]),
        Some("IngestFunctionSalesforceEvents")
    );
    // Reserved concurrency bounds the public function URL, unless the parameter turns it off.
    assert_eq!(
        resources["IngestFunction"]["Properties"]["ReservedConcurrentExecutions"],
        json!({ "Fn::If": [
            "ReservesIngestConcurrency",
            { "Ref": "IngestReservedConcurrency" },
            { "Ref": "AWS::NoValue" }
        ] })
    );
    assert_eq!(
        transformed["Parameters"]["IngestReservedConcurrency"]["Default"],
        20
    );
    // The refusal alarms watch the metric ingest writes (sf2hs_shared::metrics), per entry point.
    let mut refusal_alarms: Vec<&str> = resources
        .values()
        .filter(|r| r["Type"] == "AWS::CloudWatch::Alarm")
        .filter(|r| r["Properties"]["Namespace"] == sf2hs_shared::metrics::NAMESPACE)
        .filter(|r| r["Properties"]["MetricName"] == sf2hs_shared::metrics::REFUSALS)
        .filter_map(|r| r["Properties"]["Dimensions"][0]["Value"].as_str())
        .collect();
    refusal_alarms.sort_unstable();
    assert_eq!(
        refusal_alarms,
        [
            sf2hs_shared::metrics::EntryPoint::Events.as_str(),
            sf2hs_shared::metrics::EntryPoint::Outbound.as_str()
        ]
    );
}

/// The dashboard shows what the code emits: every `sf2hs` metric it names is one the worker or
/// ingest writes (`sf2hs_shared::metrics`), and every one they write is on it.
#[test]
fn the_dashboard_shows_the_metrics_the_code_emits() {
    let transformed = transform();
    let resources = transformed["Resources"].as_object().expect("resources");
    let body = &resources["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"];
    let text = body.as_str().expect("a Sub string");
    // Substitutions stand for names and the region; any string will do to read the JSON.
    let mut plain = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        plain.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("closed") + start;
        plain.push('x');
        rest = &rest[end + 1..];
    }
    plain.push_str(rest);
    let dashboard: Value = serde_json::from_str(&plain).expect("the dashboard body is JSON");
    let mut shown = BTreeSet::new();
    for widget in dashboard["widgets"].as_array().expect("widgets") {
        for metric in widget["properties"]["metrics"].as_array().expect("metrics") {
            if metric[0] == sf2hs_shared::metrics::NAMESPACE {
                shown.insert(metric[1].as_str().expect("name").to_owned());
            }
        }
    }
    let emitted: BTreeSet<String> = sf2hs_shared::metrics::BATCH_METRICS
        .iter()
        .chain(sf2hs_shared::metrics::CALL_METRICS.iter())
        .chain(std::iter::once(&sf2hs_shared::metrics::REFUSALS))
        .map(|name| (*name).to_owned())
        .collect();
    assert_eq!(shown, emitted);
    assert_eq!(
        transformed["Resources"]["WorkerFunction"]["Properties"]["LoggingConfig"]["LogFormat"],
        "JSON"
    );
}

/// `sam build && sam deploy` is the whole deploy after `--guided` once: the committed
/// samconfig.toml names the stack, the template, the beta flag the rust-cargolambda build needs,
/// the capability the roles need, and the bucket SAM manages.
#[test]
fn samconfig_makes_build_and_deploy_two_commands() {
    let text = std::fs::read_to_string(root().join("samconfig.toml")).expect("samconfig.toml");
    let config: toml::Value = toml::from_str(&text).expect("TOML");
    let default = &config["default"];
    assert_eq!(
        default["global"]["parameters"]["stack_name"].as_str(),
        Some("sf2hs")
    );
    let build = &default["build"]["parameters"];
    assert_eq!(build["template_file"].as_str(), Some("infra/template.yaml"));
    assert!(root().join("infra/template.yaml").exists());
    assert_eq!(build["beta_features"].as_bool(), Some(true));
    let template = std::fs::read_to_string(root().join("infra/template.yaml")).expect("template");
    assert!(
        template.contains("BuildMethod: rust-cargolambda"),
        "the beta build method"
    );
    let deploy = &default["deploy"]["parameters"];
    assert_eq!(deploy["capabilities"].as_str(), Some("CAPABILITY_IAM"));
    assert_eq!(deploy["resolve_s3"].as_bool(), Some(true));
}
