//! The SAM template against the code: it lints clean (with its plain-CloudFormation transform),
//! the transformed stack creates on moto's CloudFormation, and each function, given the
//! environment the deployed stack set for it, finds every setting, secret, queue and table it
//! needs there. The IAM policies grant what each function's code calls.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use sf2hs_shared::aws::DynamoStore;
use sf2hs_shared::aws::dynamodb::{
    GROUP_INDEX, GROUP_INDEX_PARTITION_KEY, GROUP_INDEX_SORT_KEY, PARTITION_KEY, SORT_KEY,
    TIMELINE_INDEX, TIMELINE_INDEX_PARTITION_KEY, TIMELINE_INDEX_SORT_KEY, TTL_ATTRIBUTE,
};
use sf2hs_shared::mapping::validate_sources;
use sf2hs_shared::ports::MappingStore;

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

/// The actions a function's role grants, from the transformed template: its inline policies and
/// the managed policies attached.
fn granted(transformed: &Value, role: &str) -> BTreeSet<String> {
    let mut actions = BTreeSet::new();
    for arn in transformed["Resources"][role]["Properties"]["ManagedPolicyArns"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        for (name, grants) in MANAGED {
            if arn.ends_with(name) {
                actions.extend(grants.iter().map(|a| (*a).to_owned()));
            }
        }
    }
    for policy in transformed["Resources"][role]["Properties"]["Policies"]
        .as_array()
        .expect("policies")
    {
        for statement in policy["PolicyDocument"]["Statement"]
            .as_array()
            .expect("statements")
        {
            match &statement["Action"] {
                Value::String(a) => {
                    actions.insert(a.clone());
                }
                Value::Array(list) => {
                    actions.extend(list.iter().filter_map(|a| a.as_str().map(str::to_owned)))
                }
                _ => {}
            }
        }
    }
    actions
}

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
        ])
    );
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

    // The policies grant what the code calls (docs/dynamodb.md, the SQS adapter, secrets).
    let roles = [
        (
            "IngestFunctionRole",
            &[
                "sqs:SendMessage",
                "sqs:GetQueueUrl",
                "secretsmanager:GetSecretValue",
            ][..],
        ),
        (
            "WorkerFunctionRole",
            &[
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:BatchGetItem",
                "dynamodb:BatchWriteItem",
                "sqs:SendMessage",
                "sqs:ChangeMessageVisibility",
                "sqs:DeleteMessage",
                "sqs:GetQueueUrl",
                "sqs:ReceiveMessage",
                "sqs:GetQueueAttributes",
                "secretsmanager:GetSecretValue",
            ][..],
        ),
        (
            "ImportFunctionRole",
            &[
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "sqs:SendMessage",
                "sqs:GetQueueUrl",
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "secretsmanager:GetSecretValue",
            ][..],
        ),
    ];
    for (role, needed) in roles {
        let granted = granted(&deployed.transformed, role);
        for action in needed {
            assert!(
                granted.contains(*action),
                "{role} lacks {action}: {granted:?}"
            );
        }
        assert!(
            granted.iter().all(|a| !a.contains('*')),
            "{role} grants a wildcard action: {granted:?}"
        );
    }
}
