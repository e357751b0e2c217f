//! What sf2hs does and refuses, counted. On AWS each count is a CloudWatch Embedded Metric Format
//! line on standard output, which CloudWatch Logs turns into metrics of the namespace `sf2hs`
//! without an API call in the request path: `Refusals` (dimension `EntryPoint`; the template
//! alarms on it), and per worker batch `Synced`, `Unchanged`, `Failed`, `DeadLettered` and
//! `LagSeconds` (dimension `Object`, and all objects together), `HubSpotCalls`,
//! `HubSpotRateLimited` and `SalesforceCalls`. The template's dashboard shows them. In every
//! process the counts are also kept in memory, for `GET /healthz` and the console of the local
//! pipeline.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;

/// The CloudWatch namespace of sf2hs's own metrics.
pub const NAMESPACE: &str = "sf2hs";
/// The metric counting refused requests and events.
pub const REFUSALS: &str = "Refusals";

/// Where a request or event came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EntryPoint {
    /// Salesforce outbound messages (the Function URL, `serve`'s `/outbound/<token>`).
    Outbound,
    /// CDC and platform events (EventBridge, `serve`'s `/events`).
    Events,
}

impl EntryPoint {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryPoint::Outbound => "outbound",
            EntryPoint::Events => "events",
        }
    }
}

static EMF: AtomicBool = AtomicBool::new(false);
static COUNTS: Mutex<BTreeMap<(EntryPoint, &'static str), u64>> = Mutex::new(BTreeMap::new());

/// Writes Embedded Metric Format lines from now on (a Lambda function; locally they would only
/// clutter the terminal).
pub fn emit_emf(on: bool) {
    EMF.store(on, Ordering::Relaxed);
}

/// Counts one refusal at `entry` for `reason` (a short fixed word: `token`, `source`,
/// `organization`, `malformed`, `too_large`).
pub fn refused(entry: EntryPoint, reason: &'static str) {
    *COUNTS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry((entry, reason))
        .or_default() += 1;
    if EMF.load(Ordering::Relaxed) {
        println!("{}", refusal_line(entry, reason, chrono::Utc::now()));
    }
}

/// The refusals this process counted, by entry point and reason.
pub fn refusals() -> Vec<(EntryPoint, &'static str, u64)> {
    COUNTS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .map(|((entry, reason), count)| (*entry, *reason, *count))
        .collect()
}

/// What one worker batch did with one object's records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ObjectCounts {
    pub synced: u64,
    pub unchanged: u64,
    pub failed: u64,
    pub dead_lettered: u64,
    /// The longest a change of the batch waited between intake and the worker, in ms.
    pub lag_ms: u64,
}

impl ObjectCounts {
    fn add(&mut self, other: &ObjectCounts) {
        self.synced += other.synced;
        self.unchanged += other.unchanged;
        self.failed += other.failed;
        self.dead_lettered += other.dead_lettered;
        self.lag_ms = self.lag_ms.max(other.lag_ms);
    }
}

/// What one worker batch did, by Salesforce object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchMetrics {
    pub by_object: BTreeMap<String, ObjectCounts>,
}

impl BatchMetrics {
    /// From the batch's sync-log entries and each object's longest wait.
    pub fn from_log(
        entries: &[crate::ports::SyncLogEntry],
        lag_ms: &BTreeMap<String, u64>,
    ) -> BatchMetrics {
        use crate::ports::SyncOutcome;
        let mut by_object: BTreeMap<String, ObjectCounts> = BTreeMap::new();
        for entry in entries {
            let counts = by_object
                .entry(entry.salesforce_object.clone())
                .or_default();
            match entry.outcome {
                SyncOutcome::Synced => counts.synced += 1,
                SyncOutcome::Skipped => counts.unchanged += 1,
                SyncOutcome::Failed => counts.failed += 1,
                SyncOutcome::DeadLettered => counts.dead_lettered += 1,
            }
        }
        for (object, lag) in lag_ms {
            by_object.entry(object.clone()).or_default().lag_ms = *lag;
        }
        BatchMetrics { by_object }
    }
}

static TOTALS: Mutex<BTreeMap<String, ObjectCounts>> = Mutex::new(BTreeMap::new());

/// Counts one worker batch: in memory, and as EMF lines when they are on.
pub fn record_batch(batch: &BatchMetrics) {
    {
        let mut totals = TOTALS.lock().unwrap_or_else(PoisonError::into_inner);
        for (object, counts) in &batch.by_object {
            totals.entry(object.clone()).or_default().add(counts);
        }
    }
    if EMF.load(Ordering::Relaxed) {
        let at = chrono::Utc::now();
        for (object, counts) in &batch.by_object {
            println!("{}", batch_line(object, counts, at));
        }
    }
}

/// What the worker did in this process since it started, by object (lag: the longest seen).
pub fn batch_totals() -> BTreeMap<String, ObjectCounts> {
    TOTALS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// Metric names of a worker batch's object line, as the dashboard names them.
pub const BATCH_METRICS: [&str; 5] = [
    "Synced",
    "Unchanged",
    "Failed",
    "DeadLettered",
    "LagSeconds",
];
/// Metric names of a worker batch's calls line.
pub const CALL_METRICS: [&str; 3] = ["HubSpotCalls", "HubSpotRateLimited", "SalesforceCalls"];

/// One object's counts of one batch, published per object and for all objects together.
pub fn batch_line(
    object: &str,
    counts: &ObjectCounts,
    at: chrono::DateTime<chrono::Utc>,
) -> String {
    let units = ["Count", "Count", "Count", "Count", "Seconds"];
    emf_record(
        at,
        json!([["Object"], []]),
        &BATCH_METRICS.iter().copied().zip(units).collect::<Vec<_>>(),
        json!({
            "Object": object,
            BATCH_METRICS[0]: counts.synced,
            BATCH_METRICS[1]: counts.unchanged,
            BATCH_METRICS[2]: counts.failed,
            BATCH_METRICS[3]: counts.dead_lettered,
            BATCH_METRICS[4]: counts.lag_ms as f64 / 1000.0,
        }),
    )
}

/// The API calls one batch made (the worker function measures them on its clients).
pub fn calls_line(
    hubspot_calls: u64,
    hubspot_rate_limited: u64,
    salesforce_calls: u64,
    at: chrono::DateTime<chrono::Utc>,
) -> String {
    emf_record(
        at,
        json!([[]]),
        &CALL_METRICS.map(|name| (name, "Count")),
        json!({
            CALL_METRICS[0]: hubspot_calls,
            CALL_METRICS[1]: hubspot_rate_limited,
            CALL_METRICS[2]: salesforce_calls,
        }),
    )
}

/// Writes the calls line when EMF is on.
pub fn record_calls(hubspot_calls: u64, hubspot_rate_limited: u64, salesforce_calls: u64) {
    if EMF.load(Ordering::Relaxed) {
        println!(
            "{}",
            calls_line(
                hubspot_calls,
                hubspot_rate_limited,
                salesforce_calls,
                chrono::Utc::now()
            )
        );
    }
}

/// One refusal as an Embedded Metric Format record: the metric `Refusals` with dimension
/// `EntryPoint`; the reason rides along as a property (searchable in Logs Insights, not a
/// dimension, so it adds no metric cost).
pub fn refusal_line(
    entry: EntryPoint,
    reason: &'static str,
    at: chrono::DateTime<chrono::Utc>,
) -> String {
    emf_record(
        at,
        json!([["EntryPoint"]]),
        &[(REFUSALS, "Count")],
        json!({ "EntryPoint": entry.as_str(), "Reason": reason, REFUSALS: 1 }),
    )
}

/// One Embedded Metric Format record: the `_aws` directive (namespace `sf2hs`, `dimensions`,
/// each metric with its unit) beside `values`, which hold every metric's value and dimension.
fn emf_record(
    at: chrono::DateTime<chrono::Utc>,
    dimensions: serde_json::Value,
    metrics: &[(&str, &str)],
    values: serde_json::Value,
) -> String {
    let mut record = json!({
        "_aws": {
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": dimensions,
                "Metrics": metrics
                    .iter()
                    .map(|(name, unit)| json!({ "Name": name, "Unit": unit }))
                    .collect::<Vec<_>>(),
            }],
        },
    });
    if let (Some(record), serde_json::Value::Object(values)) = (record.as_object_mut(), values) {
        record.extend(values);
    }
    record.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_an_embedded_metric_format_record() {
        let at = chrono::DateTime::from_timestamp_millis(1_764_950_400_123).expect("time");
        let line: serde_json::Value =
            serde_json::from_str(&refusal_line(EntryPoint::Events, "source", at)).expect("json");
        // The fields the EMF specification requires, and the values they point at.
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(line["_aws"]["Timestamp"], 1_764_950_400_123_i64);
        assert_eq!(directive["Namespace"], "sf2hs");
        assert_eq!(directive["Dimensions"], json!([["EntryPoint"]]));
        assert_eq!(directive["Metrics"][0]["Name"], "Refusals");
        assert_eq!(line["EntryPoint"], "events");
        assert_eq!(line["Refusals"], 1);
        assert_eq!(line["Reason"], "source");
    }

    #[test]
    fn a_batch_is_published_per_object_and_for_all_objects() {
        let counts = ObjectCounts {
            synced: 3,
            unchanged: 1,
            failed: 2,
            dead_lettered: 1,
            lag_ms: 1_500,
        };
        let at = chrono::DateTime::from_timestamp_millis(1_764_950_400_000).expect("time");
        let line: serde_json::Value =
            serde_json::from_str(&batch_line("Invoice__c", &counts, at)).expect("json");
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Dimensions"], json!([["Object"], []]));
        let names: Vec<&str> = directive["Metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .filter_map(|m| m["Name"].as_str())
            .collect();
        assert_eq!(names, BATCH_METRICS);
        // Every metric the directive names has its value in the record (EMF's rule).
        for name in names {
            assert!(line[name].is_number(), "{name}");
        }
        assert_eq!(line["Object"], "Invoice__c");
        assert_eq!(line["Synced"], 3);
        assert_eq!(line["LagSeconds"], 1.5);
        let calls: serde_json::Value =
            serde_json::from_str(&calls_line(7, 1, 2, at)).expect("json");
        for name in CALL_METRICS {
            assert!(calls[name].is_number(), "{name}");
        }
    }

    #[test]
    fn batches_add_up_in_memory() {
        let mut by_object = BTreeMap::new();
        by_object.insert(
            "Totals__c".to_owned(),
            ObjectCounts {
                synced: 2,
                lag_ms: 10,
                ..ObjectCounts::default()
            },
        );
        let batch = BatchMetrics { by_object };
        record_batch(&batch);
        record_batch(&batch);
        let totals = batch_totals();
        assert_eq!(totals["Totals__c"].synced, 4);
        assert_eq!(totals["Totals__c"].lag_ms, 10);
    }

    #[test]
    fn refusals_are_counted_by_entry_point_and_reason() {
        let before = count(EntryPoint::Outbound, "too_large");
        refused(EntryPoint::Outbound, "too_large");
        refused(EntryPoint::Outbound, "too_large");
        assert_eq!(count(EntryPoint::Outbound, "too_large"), before + 2);
    }

    fn count(entry: EntryPoint, reason: &str) -> u64 {
        refusals()
            .into_iter()
            .find(|(e, r, _)| *e == entry && *r == reason)
            .map_or(0, |(_, _, n)| n)
    }
}
