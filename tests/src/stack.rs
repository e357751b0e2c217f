//! A deployed sf2hs stack, made locally: the DynamoDB table, the live, backfill and import
//! queues and the secrets on the moto server, a Salesforce sandbox org with `Project__c` and
//! `Invoice__c`, a HubSpot sandbox with their custom objects, and the mappings stored. The
//! environment it returns is what the SAM template gives the functions.

use std::time::Duration;

use serde_json::json;
use sf2hs_sandbox::hubspot::{DEFAULT_TOKEN, RunningSandbox, SandboxConfig};
use sf2hs_sandbox::salesforce::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, RunningSalesforceSandbox,
};
use sf2hs_shared::aws::{
    AwsConnection, AwsSettings, DynamoStore, QueueNames, SecretsManagerSecrets, SqsChangeQueue,
    create_queues, create_table, deployment,
};
use sf2hs_shared::mapping::validate_sources;
use sf2hs_shared::ports::{MappingStore, SecretsProvider};
use sf2hs_shared::settings::vars;

/// The mappings of the stack: `examples/demo/mappings.toml` (projects archived on delete, invoices kept,
/// the invoice's project lookup as an association).
pub const MAPPINGS: &str = include_str!("../../examples/demo/mappings.toml");

/// The endpoint token stored in the stack's secret (the outbound-message URL's last segment).
pub const ENDPOINT_TOKEN: &str = "0123456789abcdef0123456789abcdef";

/// How often a message is delivered before SQS's redrive parks it.
pub const MAX_RECEIVES: u32 = 5;

pub struct Stack {
    pub connection: AwsConnection,
    pub settings: AwsSettings,
    pub store: DynamoStore,
    pub queue: SqsChangeQueue,
    pub backfill: SqsChangeQueue,
    pub import_queue: SqsChangeQueue,
    pub hubspot: RunningSandbox,
    pub salesforce: RunningSalesforceSandbox,
    /// The functions' environment, as the SAM template sets it (plus the moto endpoint).
    pub env: Vec<(String, String)>,
}

pub use sf2hs_sandbox::demo::{hubspot_schemas, invoice_object, project_object};

/// An in-memory embedded store holding the demo's mappings, for tests that build a worker
/// in-process.
pub async fn embedded_store_with_mappings() -> sf2hs_shared::embedded::EmbeddedStore {
    let store = sf2hs_shared::embedded::EmbeddedStore::open_in_memory().expect("store");
    let report = validate_sources(&[("demo.toml".to_owned(), MAPPINGS.to_owned())]);
    for located in &report.mappings {
        store
            .mapping_store()
            .put(&located.mapping, None)
            .await
            .expect("mapping");
    }
    store
}

/// One batch of what `queue` holds now (no batching window), as the worker rules' tests drain.
pub async fn drain_what_is_queued(
    worker: &sf2hs_shared::worker::Worker,
    queue: &dyn sf2hs_shared::ports::ChangeQueue,
) -> sf2hs_shared::worker::DrainReport {
    sf2hs_shared::worker::drain_once(worker, queue, 100, Duration::from_secs(30), Duration::ZERO)
        .await
        .expect("drained")
}

/// The worker's ports on an embedded store: `queue` takes its re-reads, the clients reach the
/// sandboxes.
pub fn embedded_worker_ports(
    store: &sf2hs_shared::embedded::EmbeddedStore,
    queue: std::sync::Arc<dyn sf2hs_shared::ports::ChangeQueue>,
    hubspot: sf2hs_shared::hubspot::HubSpotClient,
    salesforce: sf2hs_shared::salesforce::client::SalesforceClient,
) -> sf2hs_shared::worker::WorkerPorts {
    use std::sync::Arc;
    sf2hs_shared::worker::WorkerPorts {
        mappings: Arc::new(store.mapping_store()),
        index: Arc::new(store.record_index()),
        log: Arc::new(store.sync_log()),
        jobs: Arc::new(store.import_jobs()),
        queue,
        hubspot: Arc::new(hubspot),
        salesforce: Arc::new(salesforce),
    }
}

/// A data directory for the `sf2hs` binary at `binary`, with the demo's mappings applied by
/// `sf2hs mappings apply` against the sandboxes (it resolves them on their live schemas), in a
/// new temp dir that lives as long as the returned `TempDir`.
pub fn cli_data_dir(
    binary: &str,
    label: &str,
    salesforce: &RunningSalesforceSandbox,
    hubspot: &RunningSandbox,
) -> (crate::TempDir, std::path::PathBuf) {
    let dir = crate::TempDir::new(label).expect("temp dir");
    let mappings = dir.path().join("mappings.toml");
    std::fs::write(&mappings, MAPPINGS).expect("mapping file");
    let data_dir = dir.path().join("data");
    let applied = std::process::Command::new(binary)
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["mappings", "apply"])
        .arg(&mappings)
        .envs(local_credentials(salesforce, hubspot))
        .output()
        .expect("sf2hs mappings apply runs");
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );
    (dir, data_dir)
}

/// The Salesforce and HubSpot clients of the sandboxes' default app and token, for tests that
/// build a worker in-process.
pub fn sandbox_clients(
    salesforce: &RunningSalesforceSandbox,
    hubspot: &RunningSandbox,
) -> (
    sf2hs_shared::salesforce::client::SalesforceClient,
    sf2hs_shared::hubspot::HubSpotClient,
) {
    use sf2hs_shared::hubspot::{HubSpotClient, HubSpotConfig, TokenSource};
    use sf2hs_shared::salesforce::client::{
        ApiVersion, SalesforceAuth, SalesforceClient, SalesforceClientConfig, Secret,
    };

    let salesforce = SalesforceClient::new(SalesforceClientConfig::new(
        &salesforce.base_url(),
        ApiVersion::parse("60.0").expect("version"),
        SalesforceAuth::ClientCredentials {
            client_id: DEFAULT_CLIENT_ID.into(),
            client_secret: Secret::new(DEFAULT_CLIENT_SECRET),
        },
    ))
    .expect("Salesforce client");
    let hubspot = HubSpotClient::new(
        HubSpotConfig::with_base_url(hubspot.base_url()),
        TokenSource::static_token(DEFAULT_TOKEN),
    )
    .expect("HubSpot client");
    (salesforce, hubspot)
}

/// What a local `sf2hs` (serve, import, preview, schema ensure, live validation) needs to reach
/// the two sandboxes: the secret names and, inline, their values (`SF2HS_SECRET_<NAME>`).
pub fn local_credentials(
    salesforce: &RunningSalesforceSandbox,
    hubspot: &RunningSandbox,
) -> Vec<(&'static str, String)> {
    vec![
        (vars::HUBSPOT_SECRET, "hubspot".to_owned()),
        (
            "SF2HS_SECRET_HUBSPOT",
            json!({ "token": DEFAULT_TOKEN }).to_string(),
        ),
        (vars::HUBSPOT_BASE_URL, hubspot.base_url()),
        (vars::SALESFORCE_SECRET, "salesforce".to_owned()),
        (
            "SF2HS_SECRET_SALESFORCE",
            json!({ "login_url": salesforce.base_url(), "client_id": DEFAULT_CLIENT_ID,
                    "client_secret": DEFAULT_CLIENT_SECRET })
            .to_string(),
        ),
    ]
}

impl Stack {
    /// A fresh stack with names of its own on the shared moto server.
    pub async fn start(label: &str) -> Stack {
        Self::start_with(label, SandboxConfig::default()).await
    }

    pub async fn start_with(label: &str, hubspot_config: SandboxConfig) -> Stack {
        Self::start_with_objects(
            label,
            hubspot_config,
            sf2hs_sandbox::demo::project_object(),
            sf2hs_sandbox::demo::invoice_object(),
        )
        .await
    }

    /// A stack whose Salesforce org defines the two demo objects as given.
    pub async fn start_with_objects(
        label: &str,
        hubspot_config: SandboxConfig,
        project: sf2hs_sandbox::salesforce::ObjectDefinition,
        invoice: sf2hs_sandbox::salesforce::ObjectDefinition,
    ) -> Stack {
        let endpoint = crate::moto_endpoint().to_owned();
        let connection = crate::moto_connection().await;
        let table = crate::unique_name(&format!("{label}-table"));
        let queue_name = crate::unique_name(&format!("{label}-changes"));
        let backfill_name = crate::unique_name(&format!("{label}-backfill"));
        let import_name = crate::unique_name(&format!("{label}-imports"));
        create_table(&connection, &table).await.expect("table");
        let queue = create_queues(
            &connection,
            &QueueNames::for_queue(&queue_name),
            MAX_RECEIVES,
        )
        .await
        .expect("change queue");
        let backfill = create_queues(
            &connection,
            &QueueNames::for_queue(&backfill_name),
            MAX_RECEIVES,
        )
        .await
        .expect("backfill queue");
        let import_queue = create_queues(
            &connection,
            &QueueNames::for_queue(&import_name),
            MAX_RECEIVES,
        )
        .await
        .expect("import queue");

        let hubspot_secret = match hubspot_config
            .oauth_clients
            .iter()
            .find(|c| c.rotates_refresh_tokens)
        {
            Some(app) => json!({
                "client_id": app.client_id,
                "client_secret": app.client_secret,
                "refresh_token": app.refresh_tokens.first().cloned().unwrap_or_default(),
            }),
            None => json!({ "token": DEFAULT_TOKEN }),
        };
        let (salesforce, hubspot) =
            sf2hs_sandbox::demo::start_pair_with(hubspot_config, project, invoice)
                .await
                .expect("sandboxes");

        let secrets = SecretsManagerSecrets::new(&connection);
        let secret_names = [
            crate::unique_name(&format!("{label}-hubspot")),
            crate::unique_name(&format!("{label}-salesforce")),
            crate::unique_name(&format!("{label}-endpoint-token")),
        ];
        // An OAuth app that rotates its refresh tokens gets OAuth credentials (so the worker's
        // write-back of a rotated token is exercised); otherwise the static token.
        secrets
            .store(&secret_names[0], &hubspot_secret.to_string())
            .await
            .expect("HubSpot secret");
        secrets
            .store(
                &secret_names[1],
                &json!({ "login_url": salesforce.base_url(), "client_id": DEFAULT_CLIENT_ID,
                         "client_secret": DEFAULT_CLIENT_SECRET })
                .to_string(),
            )
            .await
            .expect("Salesforce secret");
        secrets
            .store(&secret_names[2], ENDPOINT_TOKEN)
            .await
            .expect("endpoint token secret");

        let settings = AwsSettings::new(&table, &queue_name);
        let store = DynamoStore::new(&connection, &table);
        let report = validate_sources(&[("stack.toml".to_owned(), MAPPINGS.to_owned())]);
        assert!(report.is_ok(), "stack mappings: {:?}", report.problems);
        let mappings = store.mapping_store();
        for located in &report.mappings {
            mappings
                .put(&located.mapping, None)
                .await
                .expect("mapping stored");
        }

        let env = [
            (AwsSettings::TABLE_VAR, table.clone()),
            (AwsSettings::QUEUE_VAR, queue_name.clone()),
            // The dead-letter queues by their conventional names, named as the template does.
            (
                AwsSettings::DEAD_LETTER_QUEUE_VAR,
                QueueNames::for_queue(&queue_name).dead_letter_queue,
            ),
            (
                deployment::BACKFILL_DEAD_LETTER_QUEUE_VAR,
                QueueNames::for_queue(&backfill_name).dead_letter_queue,
            ),
            (deployment::BACKFILL_QUEUE_VAR, backfill_name),
            (deployment::IMPORT_QUEUE_VAR, import_name),
            (vars::ORG_ID, salesforce.handle().org_id()),
            (vars::ENDPOINT_TOKEN_SECRET, secret_names[2].clone()),
            (vars::HUBSPOT_SECRET, secret_names[0].clone()),
            (vars::HUBSPOT_BASE_URL, hubspot.base_url()),
            (vars::SALESFORCE_SECRET, secret_names[1].clone()),
            (vars::SALESFORCE_API_VERSION, "60.0".to_owned()),
            (vars::MAX_RECEIVES, MAX_RECEIVES.to_string()),
            // What the binaries need to reach moto; in-process callers pass the endpoint.
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_ACCESS_KEY_ID", "test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        Stack {
            connection,
            settings,
            store,
            queue,
            backfill,
            import_queue,
            hubspot,
            salesforce,
            env,
        }
    }

    /// The environment as a lookup for the functions' `from_env`.
    pub fn lookup(&self) -> impl Fn(&str) -> Option<String> + '_ {
        move |name| {
            self.env
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    /// The moto endpoint the in-process functions connect to.
    pub fn endpoint(&self) -> &str {
        crate::moto_endpoint()
    }

    /// An invocation deadline `after` from now, as Lambda's context gives it.
    pub fn context(after: Duration) -> lambda_runtime::Context {
        let mut context = lambda_runtime::Context::default();
        context.request_id = uuid::Uuid::new_v4().to_string();
        context.deadline = u64::try_from(
            (std::time::SystemTime::now() + after)
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0),
        )
        .unwrap_or(u64::MAX);
        context
    }
}
