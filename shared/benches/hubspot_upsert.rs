//! HubSpot client throughput against the sandbox at HubSpot's 190 requests / 10 s: HubSpot calls
//! per 1,000 records, records/s, and the share of the 1,900 records/s ceiling (190 calls of 100
//! records per 10 s) a sustained sync reaches.
//!
//! Run: `cargo bench -p sf2hs-shared --bench hubspot_upsert`
//! A warm-up first uses up one whole window, so the measured phases run at the steady-state
//! limit rather than inside the first 10-second burst (a rolling window lets 190 calls through
//! at once). Each measured phase is three windows long: a rolling window releases its slots in
//! steps, so a phase shorter than a few windows mostly measures where it started in the window.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::json;
use sf2hs_sandbox::hubspot::{
    DEFAULT_TOKEN, FaultPlan, HubSpotSandbox, RateLimitConfig, SandboxConfig, SandboxHandle,
};
use sf2hs_shared::hubspot::{HubSpotClient, HubSpotConfig, TokenSource, UpsertInput};
use sf2hs_shared::mapping::HubSpotObjectRef;

const LIMIT: u32 = 190;
const WINDOW: Duration = Duration::from_secs(10);
/// Three full windows of 100-record calls: long enough to measure the sustained rate.
const SUSTAINED: usize = 57_000;
const CEILING_RECORDS_PER_S: f64 = LIMIT as f64 * 100.0 / 10.0;

fn records(prefix: &str, count: usize) -> Vec<UpsertInput> {
    (0..count)
        .map(|i| {
            UpsertInput::new(
                format!("{prefix}{i:015}"),
                BTreeMap::from([
                    ("account_name".to_owned(), format!("Account {i}")),
                    ("revenue".to_owned(), format!("{i}.50")),
                ]),
            )
        })
        .collect()
}

async fn phase(
    name: &str,
    client: &HubSpotClient,
    handle: &SandboxHandle,
    object: &HubSpotObjectRef,
    inputs: Vec<UpsertInput>,
) -> Result<(), Box<dyn std::error::Error>> {
    handle.reset_stats()?;
    let count = inputs.len();
    let before = client.stats();
    let started = Instant::now();
    let outcome = client.upsert(object, "salesforce_id", inputs).await?;
    let seconds = started.elapsed().as_secs_f64();
    let after = client.stats();
    let stats = handle.stats()?;
    let calls = after.requests - before.requests;
    let records_per_s = count as f64 / seconds;
    println!(
        "| {name} | {count} | {calls} | {:.1} | {seconds:.1} | {records_per_s:.0} | {:.0} % | {} | {} | {} | {} |",
        calls as f64 * 1000.0 / count as f64,
        100.0 * records_per_s / CEILING_RECORDS_PER_S,
        stats.rate_limited_429,
        stats.injected_429,
        stats.injected_5xx,
        outcome.failed.len(),
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sandbox = HubSpotSandbox::start(SandboxConfig {
        rate_limit: RateLimitConfig {
            max: LIMIT,
            interval_ms: WINDOW.as_millis() as u64,
            ..RateLimitConfig::default()
        },
        ..SandboxConfig::default()
    })
    .await?;
    let handle = sandbox.handle();
    let created = handle.create_schema(json!({
        "name": "sf_account",
        "labels": { "singular": "SF Account", "plural": "SF Accounts" },
        "requiredProperties": ["salesforce_id"],
        "associatedObjects": [],
        "properties": [
            { "name": "salesforce_id", "label": "Salesforce ID", "type": "string",
              "fieldType": "text", "hasUniqueValue": true },
            { "name": "account_name", "label": "Name", "type": "string", "fieldType": "text" },
            { "name": "revenue", "label": "Revenue", "type": "number", "fieldType": "number" }
        ]
    }))?;
    let object = HubSpotObjectRef::ObjectTypeId(
        created["objectTypeId"]
            .as_str()
            .ok_or("no objectTypeId")?
            .to_owned(),
    );
    let client = HubSpotClient::new(
        HubSpotConfig::with_base_url(sandbox.base_url()),
        TokenSource::static_token(DEFAULT_TOKEN),
    )?;

    println!(
        "HubSpot client vs sandbox at {LIMIT} requests / 10 s (ceiling {CEILING_RECORDS_PER_S:.0} records/s)"
    );
    println!(
        "| phase | records | HubSpot calls | calls / 1,000 records | seconds | records/s | % of ceiling | limiter 429s | injected 429s | injected 5xx | failed records |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    phase(
        "warm-up burst (first window)",
        &client,
        &handle,
        &object,
        records("w", 19_000),
    )
    .await?;
    let first = records("a", SUSTAINED);
    phase("first sync", &client, &handle, &object, first.clone()).await?;
    phase("unchanged re-sync", &client, &handle, &object, first).await?;
    handle.set_faults(FaultPlan {
        rate_429: 0.05,
        rate_500: 0.01,
        rate_503: 0.01,
        ..FaultPlan::default()
    })?;
    phase(
        "first sync, 5 % 429 + 2 % 5xx",
        &client,
        &handle,
        &object,
        records("f", SUSTAINED),
    )
    .await?;
    sandbox.shutdown().await;
    Ok(())
}
