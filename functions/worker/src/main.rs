//! The worker Lambda: SQS batches of changes, with partial batch failures.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn, tracing};
use sf2hs_shared::settings::process_env;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let function = sf2hs_worker::from_env(&process_env, None).await?;
    let function = &function;
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        function.handle(event).await
    }))
    .await
}
