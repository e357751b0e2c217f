//! 20,000 records through the client against the sandbox at HubSpot's 190 requests / 10 s with
//! 5 % injected 429s and 2 % 5xx: every record lands, no request carries more than 100 inputs,
//! and no 10-second window holds more than the limit.

use std::time::Instant;

use crate::common_hubspot::{Hub, ID_PROPERTY, account, object};
use sf2hs_sandbox::hubspot::{DEFAULT_TOKEN, FaultPlan, RateLimitConfig};
use sf2hs_shared::hubspot::{HubSpotClient, HubSpotConfig, TokenSource};

const RECORDS: usize = 20_000;
const LIMIT: u32 = 190;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_records_within_the_rate_limit_despite_faults() {
    let hub = Hub::start().await;
    let type_id = hub.create_account_object();
    let handle = hub.handle();
    handle
        .set_rate_limit(RateLimitConfig {
            max: LIMIT,
            interval_ms: 10_000,
            ..RateLimitConfig::default()
        })
        .expect("limits");
    handle
        .set_faults(FaultPlan {
            rate_429: 0.05,
            rate_500: 0.01,
            rate_503: 0.01,
            ..FaultPlan::default()
        })
        .expect("faults");
    // Production defaults: 190 per 10 s until the headers say otherwise, 8 attempts.
    let hubspot = HubSpotClient::new(
        HubSpotConfig::with_base_url(hub.base_url()),
        TokenSource::static_token(DEFAULT_TOKEN),
    )
    .expect("client");
    let records = (0..RECORDS)
        .map(|i| {
            account(
                &format!("a0{i:016}"),
                &format!("Account {i}"),
                &i.to_string(),
            )
        })
        .collect();

    let started = Instant::now();
    let outcome = hubspot
        .upsert(&object(&type_id), ID_PROPERTY, records)
        .await
        .expect("the call survives the faults");
    let elapsed = started.elapsed();

    assert!(
        outcome.failed.is_empty(),
        "{:?}",
        &outcome.failed[..3.min(outcome.failed.len())]
    );
    assert_eq!(outcome.succeeded.len(), RECORDS);
    assert_eq!(handle.count(&type_id).expect("count"), RECORDS);
    let sample = handle
        .record_by_unique(&type_id, ID_PROPERTY, "a00000000000012345")
        .expect("lookup")
        .expect("stored");
    assert_eq!(sample.properties["account_name"], "Account 12345");

    let stats = handle.stats().expect("stats");
    assert!(
        stats.max_inputs_per_call <= 100,
        "{}",
        stats.max_inputs_per_call
    );
    assert!(
        stats.busiest_10s_window <= LIMIT as usize,
        "{} requests in one 10 s window",
        stats.busiest_10s_window
    );
    // The client kept to the window itself: the sandbox never had to refuse a request.
    assert_eq!(stats.rate_limited_429, 0);
    assert!(
        stats.injected_429 > 0 && stats.injected_5xx > 0,
        "{stats:?}"
    );
    eprintln!(
        "{RECORDS} records in {:.1} s: {} upsert calls, {} injected 429s, {} injected 5xx, \
         busiest 10 s window {} requests",
        elapsed.as_secs_f64(),
        stats.calls_matching("batch/upsert"),
        stats.injected_429,
        stats.injected_5xx,
        stats.busiest_10s_window
    );
}
