//! Mapping throughput on one core: records/s through the mapping engine (every field converted
//! to its HubSpot type, the lookup turned into an association, the content hash), from the
//! notifications of a parsed outbound message; and parse + map together, per message.
//!
//! Run: `cargo bench -p sf2hs-shared --bench mapping_throughput`

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::message;
use sf2hs_shared::engine::map_record;
use sf2hs_shared::mapping::validate_sources;
use sf2hs_shared::salesforce::intake::outbound::{DEFAULT_MAX_BODY_BYTES, parse_outbound_message};

/// Every field of the bench message, each with the conversion a user would pick.
const MAPPING: &str = r#"
[[mapping]]
salesforce_object = "Invoice__c"
hubspot_object = "invoice"
id_property = "salesforce_id"
status = "active"

[mapping.fields]
Name = "invoice_number"
Amount__c = { property = "amount", convert = "number" }
Status__c = { property = "invoice_status", convert = "enumeration" }
Due_Date__c = { property = "due_date", convert = "date" }
Notes__c = "notes"
Tags__c = { property = "tags", convert = "multi_enumeration" }
Paid__c = { property = "paid", convert = "bool" }
Discount__c = { property = "discount", convert = "number" }
CreatedDate = { property = "created_at", convert = "datetime" }

[[mapping.associations]]
field = "Account__c"
to_hubspot_object = "companies"
by_property = "salesforceaccountid"
"#;

fn run_for(budget: Duration, mut step: impl FnMut() -> usize) -> (usize, f64) {
    let start = Instant::now();
    let mut done = 0;
    while start.elapsed() < budget {
        done += step();
    }
    (done, start.elapsed().as_secs_f64())
}

fn main() {
    let report = validate_sources(&[("bench.toml".to_owned(), MAPPING.to_owned())]);
    if !report.is_ok() {
        eprintln!("the bench mapping does not validate: {:?}", report.problems);
        std::process::exit(1);
    }
    let mapping = &report.mappings[0].mapping;
    let body = message(100);
    let parsed = match parse_outbound_message(body.as_bytes(), DEFAULT_MAX_BODY_BYTES) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("the bench message does not parse: {e}");
            std::process::exit(1);
        }
    };
    // Check the bench measures what it claims: every field and the association mapped.
    for n in &parsed.notifications {
        match map_record(mapping, &n.record_id, &n.fields, None) {
            Ok(record) if record.properties.len() == 10 && record.associations.len() == 1 => {}
            other => {
                eprintln!("notification {} did not map fully: {other:?}", n.id);
                std::process::exit(1);
            }
        }
    }

    let budget = Duration::from_secs(3);
    let (records, secs) = run_for(budget, || {
        for n in &parsed.notifications {
            black_box(map_record(
                mapping,
                black_box(&n.record_id),
                black_box(&n.fields),
                None,
            ))
            .ok();
        }
        parsed.notifications.len()
    });
    println!(
        "mapping_throughput: map only: {:.0} records/s, {:.2} µs per record (10 properties, 1 \
         association, content hash; one core)",
        records as f64 / secs,
        secs * 1e6 / records as f64
    );

    let (records, secs) = run_for(budget, || {
        let Ok(message) =
            parse_outbound_message(black_box(body.as_bytes()), DEFAULT_MAX_BODY_BYTES)
        else {
            return 0;
        };
        for n in &message.notifications {
            black_box(map_record(mapping, &n.record_id, &n.fields, None)).ok();
        }
        message.notifications.len()
    });
    println!(
        "mapping_throughput: parse + map: {:.0} records/s, {:.0} µs per 100-notification message \
         (one core)",
        records as f64 / secs,
        secs * 1e6 * 100.0 / records as f64
    );
}
