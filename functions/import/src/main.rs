//! The import Lambda: starts and runs backfills, continuing itself through its queue.

use lambda_runtime::{Error, LambdaEvent, run, service_fn, tracing};
use serde_json::Value;
use sf2hs_shared::settings::process_env;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let function = sf2hs_import::from_env(&process_env, None).await?;
    let function = &function;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        function.handle(event).await
    }))
    .await
}
