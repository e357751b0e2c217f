//! Outbound-message parse throughput on one core: notifications/s and MB/s.
//!
//! Run: `cargo bench -p sf2hs-shared --bench outbound_parse`
//! The message is a realistic full batch: 100 notifications of a custom object with 12 fields
//! (ids, dates, numbers, escaped text, a nil), like a workflow firing on a bulk update.

use std::hint::black_box;
use std::time::{Duration, Instant};

mod common;

use common::message;
use sf2hs_shared::salesforce::intake::outbound::{DEFAULT_MAX_BODY_BYTES, parse_outbound_message};

fn main() {
    let body = message(100);
    // Warm up, and check the bench measures what it claims.
    let parsed = parse_outbound_message(body.as_bytes(), DEFAULT_MAX_BODY_BYTES);
    let count = match parsed {
        Ok(m) => m.notifications.len(),
        Err(e) => {
            eprintln!("the bench message does not parse: {e}");
            std::process::exit(1);
        }
    };
    assert_eq!(count, 100);

    let budget = Duration::from_secs(3);
    let start = Instant::now();
    let mut messages = 0u64;
    while start.elapsed() < budget {
        let parsed = parse_outbound_message(black_box(body.as_bytes()), DEFAULT_MAX_BODY_BYTES);
        black_box(&parsed);
        messages += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    let notifications = messages as f64 * count as f64;
    let mb = messages as f64 * body.len() as f64 / 1_000_000.0;
    println!(
        "outbound_parse: message {} bytes, {count} notifications x 12 fields; {messages} messages in {secs:.2} s",
        body.len()
    );
    println!(
        "outbound_parse: {:.0} notifications/s, {:.1} MB/s, {:.1} µs per 100-notification message (one core)",
        notifications / secs,
        mb / secs,
        secs * 1e6 / messages as f64
    );
}
