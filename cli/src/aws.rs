//! The aws backend: a deployed stack's table and queues, found from the stack's outputs
//! (`stack`) or named one by one (`table`, `queue`, …), with the standard AWS chain for region
//! and credentials (`AWS_PROFILE`, `AWS_REGION`, `AWS_ENDPOINT_URL`…).

use std::collections::BTreeMap;
use std::sync::Arc;

use sf2hs_shared::aws::operator::{self, ImportFunctionClient};
use sf2hs_shared::aws::{AwsConnection, Deployment, SqsContinuations};
use sf2hs_shared::ports::ChangeQueue;

use crate::backend::{Backend, BackendKind, Imports, NamedQueue};
use crate::config::Config;
use crate::output::CliError;

/// The stack variable: its outputs name every resource.
pub const STACK_VAR: &str = sf2hs_shared::settings::registry::STACK.variable;

/// How the deployed import function is driven: `start` by invoking it, runs and resumes by a
/// continuation message on its queue (which SQS redelivers if a run fails).
pub struct AwsImports {
    pub function: ImportFunctionClient,
    pub continuations: SqsContinuations,
}

fn setup(e: impl std::error::Error + Send + Sync + 'static) -> CliError {
    CliError::failed(e)
}

/// Opens the stack's adapters. `stack` (flag or environment) wins over the file's names.
pub async fn open(config: &Config, stack: Option<String>) -> Result<Backend, CliError> {
    let stack = config.or_file(stack, STACK_VAR);
    let connection = AwsConnection::from_env().await;
    let outputs = match &stack {
        Some(name) => {
            let outputs = operator::stack_outputs(&connection, name)
                .await
                .map_err(|e| {
                    CliError::caused(format!("{e} (check AWS_REGION and AWS_PROFILE)"), e)
                })?;
            operator::deployment_variables(&outputs)
        }
        None => BTreeMap::new(),
    };
    let lookup = |name: &str| outputs.get(name).cloned().or_else(|| config.lookup(name));
    let deployment = Deployment::with_connection(connection, &lookup)
        .await
        .map_err(|e| {
        CliError::caused(
            format!(
                "{e}; the aws backend needs --stack (or `stack` in sf2hs.toml), or the names one by one"
            ),
            e,
        )
    })?;
    let function = lookup(operator::IMPORT_FUNCTION_VAR).ok_or_else(|| {
        CliError::Setup(format!(
            "{} is not set: name the import function (the stack output ImportFunctionName), or use --stack",
            operator::IMPORT_FUNCTION_VAR
        ))
    })?;
    let continuations = deployment.continuations(&lookup).await.map_err(setup)?;
    let store = &deployment.store;
    let live: Arc<dyn ChangeQueue> = deployment.queue.clone();
    let mut queues = vec![NamedQueue {
        name: deployment.queue.queue_name().to_owned(),
        queue: live.clone(),
    }];
    if let Some(backfill) = &deployment.backfill {
        queues.push(NamedQueue {
            name: backfill.queue_name().to_owned(),
            queue: backfill.clone(),
        });
    }
    Ok(Backend {
        kind: BackendKind::Aws,
        mappings: Arc::new(store.mapping_store()),
        index: Arc::new(store.record_index()),
        jobs: Arc::new(store.import_jobs()),
        log: Arc::new(store.sync_log(deployment.settings.sync_log_retention)),
        backfill: match &deployment.backfill {
            Some(backfill) => backfill.clone(),
            None => live.clone(),
        },
        embedded: None,
        max_receives: 0,
        queue: live,
        queues,
        imports: Imports::Aws(AwsImports {
            function: ImportFunctionClient::new(&deployment.connection, function),
            continuations,
        }),
        location: format!(
            "DynamoDB table {}{}",
            deployment.settings.table,
            stack.map(|s| format!(" (stack {s})")).unwrap_or_default()
        ),
        work_dir: None,
    })
}
