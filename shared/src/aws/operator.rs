//! What an operator's machine (the CLI) does with a deployed stack beyond the functions'
//! adapters: read the stack's outputs, so that nobody copies resource names by hand, and ask the
//! import function to count and create an import job. Compiled with the `operator` feature.

use std::collections::BTreeMap;

use aws_sdk_lambda::primitives::Blob;
use serde::Deserialize;

use super::config::{AwsConnection, AwsSettings};
use super::deployment;
use super::error::port_error;
use crate::ports::{ImportJob, PortError, PortResult};

/// The import function's name, for the operator's machine (the functions do not need it).
pub const IMPORT_FUNCTION_VAR: &str = crate::settings::registry::IMPORT_FUNCTION.variable;

/// Which stack output (`infra/template.yaml`'s `Outputs`) gives which variable.
pub const STACK_OUTPUT_VARIABLES: &[(&str, &str)] = &[
    ("TableName", AwsSettings::TABLE_VAR),
    ("ChangeQueueName", AwsSettings::QUEUE_VAR),
    (
        "ChangeDeadLetterQueueName",
        AwsSettings::DEAD_LETTER_QUEUE_VAR,
    ),
    ("BackfillQueueName", deployment::BACKFILL_QUEUE_VAR),
    (
        "BackfillDeadLetterQueueName",
        deployment::BACKFILL_DEAD_LETTER_QUEUE_VAR,
    ),
    ("ImportQueueName", deployment::IMPORT_QUEUE_VAR),
    ("ImportFunctionName", IMPORT_FUNCTION_VAR),
];

/// The variables a stack's outputs give, as [`crate::aws::Deployment::connect`] reads them.
pub fn deployment_variables(outputs: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    STACK_OUTPUT_VARIABLES
        .iter()
        .filter_map(|(output, var)| Some(((*var).to_owned(), outputs.get(*output)?.clone())))
        .collect()
}

/// The outputs of CloudFormation stack `stack_name`, by output key (`TableName`,
/// `ChangeQueueName`, … as `infra/template.yaml` declares them).
pub async fn stack_outputs(
    connection: &AwsConnection,
    stack_name: &str,
) -> PortResult<BTreeMap<String, String>> {
    let client = aws_sdk_cloudformation::Client::new(connection.sdk_config());
    let answer = client
        .describe_stacks()
        .stack_name(stack_name)
        .send()
        .await
        .map_err(|e| {
            port_error(
                "CloudFormation",
                &format!("reading the outputs of stack `{stack_name}`"),
                e,
            )
        })?;
    let stack = answer.stacks().first().ok_or_else(|| {
        PortError::invalid(format!(
            "CloudFormation has no stack `{stack_name}` in this region; \
             `sam list stack-outputs` or the console shows the deployed name"
        ))
    })?;
    Ok(stack
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
        .collect())
}

/// The import function, invoked directly (`lambda:InvokeFunction`).
#[derive(Debug, Clone)]
pub struct ImportFunctionClient {
    client: aws_sdk_lambda::Client,
    function_name: String,
}

/// The import function's answer to `{"action": "start"}`.
#[derive(Debug, Deserialize)]
struct StartAnswer {
    job: ImportJob,
}

/// What Lambda returns for a function error: `errorType` and `errorMessage`.
#[derive(Debug, Deserialize)]
struct FunctionError {
    #[serde(rename = "errorType", default)]
    error_type: String,
    #[serde(rename = "errorMessage", default)]
    error_message: String,
}

impl ImportFunctionClient {
    pub fn new(connection: &AwsConnection, function_name: impl Into<String>) -> Self {
        ImportFunctionClient {
            client: aws_sdk_lambda::Client::new(connection.sdk_config()),
            function_name: function_name.into(),
        }
    }

    pub fn function_name(&self) -> &str {
        &self.function_name
    }

    /// Counts `object`'s records and creates a pending job (the function's `start` action),
    /// for the operator to review before it runs; `via` (`batch`, `imports`, `auto`) chooses
    /// its path, and a job on the Imports API path has the cursor `hubspot-import:`.
    pub async fn start(&self, object: &str, via: &str) -> PortResult<ImportJob> {
        let payload = serde_json::json!({ "action": "start", "object": object, "via": via });
        let answer = self
            .client
            .invoke()
            .function_name(&self.function_name)
            .payload(Blob::new(payload.to_string()))
            .send()
            .await
            .map_err(|e| {
                port_error(
                    "Lambda",
                    &format!("invoking the import function `{}`", self.function_name),
                    e,
                )
            })?;
        let body = answer.payload().map(|b| b.as_ref()).unwrap_or_default();
        if let Some(kind) = answer.function_error() {
            let detail = serde_json::from_slice::<FunctionError>(body)
                .map(|e| format!("{}: {}", e.error_type, e.error_message))
                .unwrap_or_else(|_| String::from_utf8_lossy(body).into_owned());
            return Err(PortError::invalid(format!(
                "the import function `{}` failed ({kind}): {detail}; \
                 its log group has the details",
                self.function_name
            )));
        }
        let start: StartAnswer = serde_json::from_slice(body).map_err(|e| {
            PortError::invalid(format!(
                "the import function `{}` answered something other than a job ({e}): {}; \
                 is it the sf2hs import function of the same version?",
                self.function_name,
                String::from_utf8_lossy(body)
            ))
        })?;
        Ok(start.job)
    }
}
