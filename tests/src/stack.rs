//! A deployed sf2hs stack, made locally: the DynamoDB table, the live, backfill and import
//! queues and the secrets on the moto server, a Salesforce sandbox org with `Project__c` and
//! `Invoice__c`, a HubSpot sandbox with their custom objects, and the mappings stored. The
//! environment it returns is what the SAM template gives the functions.

use std::time::Duration;

use serde_json::json;
use sf2hs_sandbox::hubspot::{DEFAULT_TOKEN, HubSpotSandbox, RunningSandbox, SandboxConfig};
use sf2hs_sandbox::salesforce::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, FieldDefinition, ObjectDefinition,
    RunningSalesforceSandbox, SalesforceConfig, SalesforceSandbox,
};
use sf2hs_shared::aws::{
    AwsConnection, AwsSettings, DynamoStore, QueueNames, SecretsManagerSecrets, SqsChangeQueue,
    create_queues, create_table, deployment,
};
use sf2hs_shared::mapping::validate_sources;
use sf2hs_shared::ports::MappingStore;
use sf2hs_shared::settings::vars;

/// The mappings of the stack: projects (archived on delete) and the invoices that belong to
/// them (kept on delete), the invoice's project lookup synced as an association.
pub const MAPPINGS: &str = r#"
[[mapping]]
salesforce_object = "Project__c"
hubspot_object = "sf_project"
status = "active"
on_delete = "archive"

[mapping.fields]
Name = "project_name"
Budget__c = { property = "budget", convert = "number" }

[[mapping]]
salesforce_object = "Invoice__c"
hubspot_object = "sf_invoice"
status = "active"
on_delete = "keep"

[mapping.fields]
Name = "invoice_number"
Amount__c = { property = "amount", convert = "number" }
Status__c = { property = "invoice_status", convert = "enumeration" }

[[mapping.associations]]
field = "Project__c"
to_mapped_object = "Project__c"
"#;

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

pub fn project_object() -> ObjectDefinition {
    ObjectDefinition::new(
        "Project__c",
        "a0P",
        vec![
            FieldDefinition::new("Name", "string"),
            FieldDefinition::new("Budget__c", "currency"),
        ],
    )
}

pub fn invoice_object() -> ObjectDefinition {
    ObjectDefinition::new(
        "Invoice__c",
        "a0I",
        vec![
            FieldDefinition::new("Name", "string"),
            FieldDefinition::new("Amount__c", "currency"),
            FieldDefinition::picklist("Status__c", &["Draft", "Sent", "Paid"]),
            FieldDefinition::reference("Project__c", &["Project__c"]),
        ],
    )
}

/// The HubSpot custom objects of the stack's mappings (`sf_project`, `sf_invoice` associated with it).
pub fn hubspot_schemas(hubspot: &RunningSandbox) {
    let handle = hubspot.handle();
    let project = handle
        .create_schema(json!({
            "name": "sf_project",
            "labels": { "singular": "Project", "plural": "Projects" },
            "primaryDisplayProperty": "project_name",
            "requiredProperties": ["salesforce_id"],
            "associatedObjects": [],
            "properties": [
                { "name": "salesforce_id", "label": "Salesforce ID", "type": "string",
                  "fieldType": "text", "hasUniqueValue": true },
                { "name": "project_name", "label": "Name", "type": "string", "fieldType": "text" },
                { "name": "budget", "label": "Budget", "type": "number", "fieldType": "number" }
            ]
        }))
        .expect("project schema");
    let project_type = project["objectTypeId"].as_str().expect("objectTypeId");
    handle
        .create_schema(json!({
            "name": "sf_invoice",
            "labels": { "singular": "Invoice", "plural": "Invoices" },
            "primaryDisplayProperty": "invoice_number",
            "requiredProperties": ["salesforce_id"],
            "associatedObjects": [project_type],
            "properties": [
                { "name": "salesforce_id", "label": "Salesforce ID", "type": "string",
                  "fieldType": "text", "hasUniqueValue": true },
                { "name": "invoice_number", "label": "Number", "type": "string", "fieldType": "text" },
                { "name": "amount", "label": "Amount", "type": "number", "fieldType": "number" },
                { "name": "invoice_status", "label": "Status", "type": "enumeration", "fieldType": "select",
                  "options": [ { "label": "Draft", "value": "Draft" }, { "label": "Sent", "value": "Sent" },
                               { "label": "Paid", "value": "Paid" } ] }
            ]
        }))
        .expect("invoice schema");
}

impl Stack {
    /// A fresh stack with names of its own on the shared moto server.
    pub async fn start(label: &str) -> Stack {
        Self::start_with(label, SandboxConfig::default()).await
    }

    pub async fn start_with(label: &str, hubspot_config: SandboxConfig) -> Stack {
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

        let salesforce = SalesforceSandbox::start(SalesforceConfig {
            bulk_polls_in_progress: 1,
            // Each change moves the org clock a second: start it a week back so that what
            // tests seed lies before "now", as a real org's history does.
            clock_start: Some(chrono::Utc::now() - chrono::TimeDelta::days(7)),
            ..SalesforceConfig::default()
        })
        .await
        .expect("Salesforce sandbox");
        salesforce
            .handle()
            .define_object(project_object())
            .expect("Project__c");
        salesforce
            .handle()
            .define_object(invoice_object())
            .expect("Invoice__c");
        let hubspot = HubSpotSandbox::start(hubspot_config)
            .await
            .expect("HubSpot sandbox");
        hubspot_schemas(&hubspot);

        let secrets = SecretsManagerSecrets::new(&connection);
        let secret_names = [
            crate::unique_name(&format!("{label}-hubspot")),
            crate::unique_name(&format!("{label}-salesforce")),
            crate::unique_name(&format!("{label}-endpoint-token")),
        ];
        secrets
            .store(
                &secret_names[0],
                &json!({ "token": DEFAULT_TOKEN }).to_string(),
            )
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
