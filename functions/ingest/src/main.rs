//! The ingest Lambda: outbound messages (Function URL) and CDC / platform events (EventBridge).

use lambda_runtime::{Error, LambdaEvent, run, service_fn, tracing};
use serde_json::Value;
use sf2hs_shared::settings::process_env;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let function = sf2hs_ingest::from_env(&process_env, None).await?;
    let function = &function;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        function.handle(event).await
    }))
    .await
}
