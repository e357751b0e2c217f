//! What sf2hs refuses, counted. On AWS each refusal is a CloudWatch Embedded Metric Format line
//! on standard output, which CloudWatch Logs turns into the metric `sf2hs/Refusals` (dimension
//! `EntryPoint`) without an API call in the request path; the template alarms on it. In every
//! process the counts are also kept in memory, for `GET /healthz` of the local pipeline.

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

/// One refusal as an Embedded Metric Format record: the metric `Refusals` with dimension
/// `EntryPoint`; the reason rides along as a property (searchable in Logs Insights, not a
/// dimension, so it adds no metric cost).
pub fn refusal_line(
    entry: EntryPoint,
    reason: &'static str,
    at: chrono::DateTime<chrono::Utc>,
) -> String {
    json!({
        "_aws": {
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["EntryPoint"]],
                "Metrics": [{ "Name": REFUSALS, "Unit": "Count" }],
            }],
        },
        "EntryPoint": entry.as_str(),
        "Reason": reason,
        REFUSALS: 1,
    })
    .to_string()
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
