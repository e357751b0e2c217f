//! Sync health: the sync log's failures grouped by what went wrong, counted in records rather than
//! attempts, and told apart as still failing or resolved since.
//!
//! A record is *failing* when its newest entry is a failure (`failed` or `dead_lettered`), and
//! *resolved* when its newest entry is a success after a failure. It is counted once, in the group
//! of its newest failure: an object, a category ([`Category`]) and, where the reason names one, a
//! field. The CLI's `sf2hs health` and the console's Sync health page both show [`Health`].
//!
//! The category is read from the reason the worker wrote, whose phrasing the worker's own tests
//! hold (`health_categories` in `tests/tests/it/worker_rules.rs` drives each kind of failure
//! through the worker and classifies what it logged).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::SalesforceId;
use crate::ports::{SyncLogEntry, SyncOutcome};

/// What kind of failure a reason describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// A Salesforce value the mapping cannot convert to its HubSpot property.
    Conversion,
    /// HubSpot refused the record (with HubSpot's own category, when it gave one).
    #[serde(rename = "hubspot_refused")]
    HubSpotRefused,
    /// The record's lookup target is not in HubSpot yet.
    AssociationTarget,
    /// The integration user cannot see the record.
    NotVisible,
    /// A rate limit (HubSpot's, or the Salesforce allowance guard).
    RateLimit,
    /// HubSpot or Salesforce unavailable, a timeout, the store or queue failing.
    Outage,
    /// No mapping for the object, or its mapping is paused.
    Mapping,
    /// Anything else.
    Other,
}

impl Category {
    /// The name used in `--json`, URLs and the metric.
    pub fn name(self) -> &'static str {
        match self {
            Category::Conversion => "conversion",
            Category::HubSpotRefused => "hubspot_refused",
            Category::AssociationTarget => "association_target",
            Category::NotVisible => "not_visible",
            Category::RateLimit => "rate_limit",
            Category::Outage => "outage",
            Category::Mapping => "mapping",
            Category::Other => "other",
        }
    }

    /// What a person reads.
    pub fn title(self) -> &'static str {
        match self {
            Category::Conversion => "value cannot be converted",
            Category::HubSpotRefused => "HubSpot refused the record",
            Category::AssociationTarget => "association target missing",
            Category::NotVisible => "not visible to the integration user",
            Category::RateLimit => "rate limited",
            Category::Outage => "service unavailable",
            Category::Mapping => "no active mapping",
            Category::Other => "other",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [
            Category::Conversion,
            Category::HubSpotRefused,
            Category::AssociationTarget,
            Category::NotVisible,
            Category::RateLimit,
            Category::Outage,
            Category::Mapping,
            Category::Other,
        ]
        .into_iter()
        .find(|c| c.name() == name)
    }
}

/// A failure reason, classified.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Classified {
    pub category: Category,
    /// HubSpot's error category (`VALIDATION_ERROR`, `INVALID_OPTION`…), for a refusal.
    pub hubspot_category: Option<String>,
    /// The Salesforce field (a conversion, a lookup) or HubSpot property (a refusal) at fault.
    pub field: Option<String>,
}

/// Reads what kind of failure `reason` is.
pub fn classify(reason: &str) -> Classified {
    let plain = |category| Classified {
        category,
        hubspot_category: None,
        field: None,
    };
    if let Some(rest) = reason.strip_prefix("HubSpot refused the record") {
        // `HubSpot refused the record (CATEGORY, property `name`): …`
        let about = rest
            .strip_prefix(" (")
            .and_then(|r| r.split_once("): "))
            .map(|(about, _)| about);
        let hubspot_category = about
            .and_then(|a| a.split(", ").next())
            .filter(|c| !c.starts_with("property "))
            .map(str::to_owned);
        return Classified {
            category: Category::HubSpotRefused,
            field: about
                .and_then(|a| backticked_after(a, "property "))
                .or_else(|| quoted_after(rest, "\"name\":\"")),
            hubspot_category,
        };
    }
    if reason.contains(" cannot become a HubSpot ") {
        return Classified {
            category: Category::Conversion,
            hubspot_category: None,
            // The first field named (`… cannot sync: 2 fields … - Object id: field X = …`).
            field: word_after(reason, ": field "),
        };
    }
    if reason.starts_with("association target ") || reason.contains("association target ") {
        return Classified {
            category: Category::AssociationTarget,
            hubspot_category: None,
            field: backticked_after(reason, "lookup "),
        };
    }
    if reason.starts_with("not visible to the integration user") {
        return plain(Category::NotVisible);
    }
    if reason.starts_with("no mapping for ")
        || reason.starts_with(crate::worker::PAUSED_REASON_PREFIX)
    {
        return plain(Category::Mapping);
    }
    let lower = reason.to_ascii_lowercase();
    if lower.contains("rate limit") || lower.contains("429") || lower.contains("allowance") {
        return plain(Category::RateLimit);
    }
    if [
        "unavailable",
        "timed out",
        "timeout",
        "ran out of time",
        "http 5",
        "cannot reach",
        "connection",
        "cannot enqueue",
    ]
    .iter()
    .any(|word| lower.contains(word))
    {
        return plain(Category::Outage);
    }
    plain(Category::Other)
}

fn word_after(text: &str, marker: &str) -> Option<String> {
    let start = text.find(marker)? + marker.len();
    text[start..]
        .split_whitespace()
        .next()
        .map(|w| {
            w.trim_matches(|c: char| c == '`' || c == ',' || c == ':')
                .to_owned()
        })
        .filter(|w| !w.is_empty())
}

fn backticked_after(text: &str, marker: &str) -> Option<String> {
    let start = text.find(&format!("{marker}`"))? + marker.len() + 1;
    let end = text[start..].find('`')?;
    Some(text[start..start + end].to_owned())
}

fn quoted_after(text: &str, marker: &str) -> Option<String> {
    let start = text.find(marker)? + marker.len();
    let end = text[start..].find('"')?;
    Some(text[start..start + end].to_owned())
}

/// The changes that resync `records` of `object`: each read from Salesforce by the worker and
/// written as it is now, whatever the record index says HubSpot holds.
pub fn resync_changes(
    org_id: &SalesforceId,
    object: &str,
    records: &[SalesforceId],
    now: DateTime<Utc>,
) -> Vec<crate::domain::Change> {
    records
        .iter()
        .map(|record_id| crate::domain::Change {
            org_id: org_id.clone(),
            object: object.to_owned(),
            record_id: record_id.clone(),
            kind: crate::domain::ChangeKind::Reread {
                reason: crate::domain::RereadReason::Requested,
                partial: crate::domain::FieldSnapshot::new(),
            },
            modstamp: None,
            source: crate::domain::ChangeSource::Worker,
            received_at: now,
            prior_deliveries: 0,
        })
        .collect()
}

/// One record's newest failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordFailure {
    pub salesforce_object: String,
    pub record_id: SalesforceId,
    pub at: DateTime<Utc>,
    pub outcome: SyncOutcome,
    pub reason: String,
    /// How many failed attempts the log holds for it (the group counts the record once).
    pub attempts: usize,
    /// When it was synced after the failure, for a resolved record.
    pub resolved_at: Option<DateTime<Utc>>,
}

/// The records of one object whose newest failure is of one kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureGroup {
    pub salesforce_object: String,
    #[serde(flatten)]
    pub kind: Classified,
    /// Records whose newest entry is this failure, newest first.
    pub failing: Vec<RecordFailure>,
    /// Records that failed so and were synced since, newest first.
    pub resolved: Vec<RecordFailure>,
}

impl FailureGroup {
    /// What a person reads: `Invoice__c · HubSpot refused the record (VALIDATION_ERROR) · status`.
    pub fn title(&self) -> String {
        let mut title = format!(
            "{} · {}",
            self.salesforce_object,
            self.kind.category.title()
        );
        if let Some(category) = &self.kind.hubspot_category {
            title.push_str(&format!(" ({category})"));
        }
        if let Some(field) = &self.kind.field {
            title.push_str(&format!(" · {field}"));
        }
        title
    }

    /// A stable id for links and the CLI (`object/category/field`).
    pub fn key(&self) -> String {
        format!(
            "{}/{}/{}",
            self.salesforce_object,
            self.kind.category.name(),
            self.kind.field.as_deref().unwrap_or("-")
        )
    }
}

/// Every group, those with failing records first, then by size.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Health {
    pub groups: Vec<FailureGroup>,
    pub failing_records: usize,
    pub resolved_records: usize,
    /// Entries read (the window the health covers).
    pub entries: usize,
    pub since: Option<DateTime<Utc>>,
}

impl Health {
    /// Groups the failures in `entries` (any order), which cover the log from `since` on.
    pub fn from_entries(entries: &[SyncLogEntry], since: Option<DateTime<Utc>>) -> Health {
        // Each record's entries, newest first.
        let mut by_record: HashMap<(&str, &SalesforceId), Vec<&SyncLogEntry>> = HashMap::new();
        for entry in entries {
            by_record
                .entry((entry.salesforce_object.as_str(), &entry.record_id))
                .or_default()
                .push(entry);
        }
        let mut groups: BTreeMap<(String, Classified), FailureGroup> = BTreeMap::new();
        for ((object, _), mut history) in by_record {
            history.sort_by_key(|e| std::cmp::Reverse(e.at));
            let Some(newest_failure) = history.iter().find(|e| e.outcome.is_failure()) else {
                continue;
            };
            let attempts = history.iter().filter(|e| e.outcome.is_failure()).count();
            let newest = history[0];
            let resolved_at = (!newest.outcome.is_failure()).then_some(newest.at);
            let reason = newest_failure.reason.clone().unwrap_or_default();
            let kind = classify(&reason);
            let record = RecordFailure {
                salesforce_object: object.to_owned(),
                record_id: newest_failure.record_id.clone(),
                at: newest_failure.at,
                outcome: newest_failure.outcome,
                reason,
                attempts,
                resolved_at,
            };
            let group = groups
                .entry((object.to_owned(), kind.clone()))
                .or_insert_with(|| FailureGroup {
                    salesforce_object: object.to_owned(),
                    kind,
                    failing: Vec::new(),
                    resolved: Vec::new(),
                });
            if record.resolved_at.is_some() {
                group.resolved.push(record);
            } else {
                group.failing.push(record);
            }
        }
        let mut groups: Vec<FailureGroup> = groups.into_values().collect();
        for group in &mut groups {
            group.failing.sort_by_key(|r| std::cmp::Reverse(r.at));
            group
                .resolved
                .sort_by_key(|r| std::cmp::Reverse(r.resolved_at));
        }
        groups.sort_by(|a, b| {
            b.failing
                .len()
                .cmp(&a.failing.len())
                .then(b.resolved.len().cmp(&a.resolved.len()))
                .then(a.key().cmp(&b.key()))
        });
        Health {
            failing_records: groups.iter().map(|g| g.failing.len()).sum(),
            resolved_records: groups.iter().map(|g| g.resolved.len()).sum(),
            groups,
            entries: entries.len(),
            since,
        }
    }

    pub fn is_failing(&self) -> bool {
        self.failing_records > 0
    }

    /// The health of `object`'s records (every object's: `None`) from the sync log since
    /// `since`: what `sf2hs health`, `status` and the console show.
    pub async fn read(
        log: &dyn crate::ports::SyncLog,
        object: Option<&str>,
        since: DateTime<Utc>,
    ) -> crate::ports::PortResult<Health> {
        let entries = log
            .query(&crate::ports::SyncLogQuery {
                salesforce_object: object.map(str::to_owned),
                since: Some(since),
                ..crate::ports::SyncLogQuery::default()
            })
            .await?;
        Ok(Health::from_entries(&entries, Some(since)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(record: &str, seconds: i64, outcome: SyncOutcome, reason: &str) -> SyncLogEntry {
        SyncLogEntry {
            at: DateTime::from_timestamp(1_764_950_400 + seconds, 0).expect("time"),
            salesforce_object: "Invoice__c".into(),
            record_id: SalesforceId::parse(record).expect("id"),
            outcome,
            reason: Some(reason.to_owned()),
            hubspot_id: None,
        }
    }

    const CONVERSION: &str = "Invoice__c a015f00002J0001AAA cannot sync: 1 field cannot be \
                              written\n  - Invoice__c a015f00002J0001AAA: field Amount__c = \
                              \"twelve\" cannot become a HubSpot number: it is not a decimal \
                              number such as 1234.56 (fix the value in Salesforce)";

    #[test]
    fn each_kind_of_reason_has_its_category_and_field() {
        let cases = [
            (CONVERSION, Category::Conversion, None, Some("Amount__c")),
            (
                "HubSpot refused the record (VALIDATION_ERROR): Property values were not valid: \
                 [{\"isValid\":false,\"message\":\"Void was not one of the allowed options\",\
                 \"error\":\"INVALID_OPTION\",\"name\":\"status\"}]",
                Category::HubSpotRefused,
                Some("VALIDATION_ERROR"),
                Some("status"),
            ),
            (
                "HubSpot refused the record (VALIDATION_ERROR, property `invoice_status`): Void \
                 was not one of the allowed options: [Draft, Sent, Paid]",
                Category::HubSpotRefused,
                Some("VALIDATION_ERROR"),
                Some("invoice_status"),
            ),
            (
                "association target a0P5f00000BaDdXEAV is not in HubSpot 2-1000001 yet (by \
                 salesforce_id, lookup `Project__c`); it will be retried",
                Category::AssociationTarget,
                None,
                Some("Project__c"),
            ),
            (crate::worker::NOT_VISIBLE, Category::NotVisible, None, None),
            (
                "no mapping for `Contract`: apply one (`sf2hs mappings apply FILE`), then replay",
                Category::Mapping,
                None,
                None,
            ),
            (
                "writing it to HubSpot: HubSpot kept answering with rate limits (429) after 5 \
                 attempt(s)",
                Category::RateLimit,
                None,
                None,
            ),
            (
                "writing it to HubSpot: HubSpot is unavailable (HTTP 503)",
                Category::Outage,
                None,
                None,
            ),
            ("something new", Category::Other, None, None),
        ];
        for (reason, category, hubspot_category, field) in cases {
            let classified = classify(reason);
            assert_eq!(classified.category, category, "{reason}");
            assert_eq!(
                classified.hubspot_category.as_deref(),
                hubspot_category,
                "{reason}"
            );
            assert_eq!(classified.field.as_deref(), field, "{reason}");
        }
    }

    #[test]
    fn json_names_are_the_categories_names() {
        for category in [
            Category::HubSpotRefused,
            Category::AssociationTarget,
            Category::Other,
        ] {
            assert_eq!(
                serde_json::to_value(category).expect("json"),
                serde_json::json!(category.name())
            );
            assert_eq!(Category::from_name(category.name()), Some(category));
        }
    }

    #[test]
    fn records_are_counted_once_and_told_failing_or_resolved() {
        let entries = vec![
            // Failing: three attempts, one record.
            entry("a015f00002J0001", 1, SyncOutcome::Failed, CONVERSION),
            entry("a015f00002J0001", 2, SyncOutcome::Failed, CONVERSION),
            entry("a015f00002J0001", 3, SyncOutcome::DeadLettered, CONVERSION),
            // Resolved: failed, then synced.
            entry("a015f00002J0002", 1, SyncOutcome::Failed, CONVERSION),
            entry("a015f00002J0002", 5, SyncOutcome::Synced, "created"),
            // Never failed: in no group.
            entry("a015f00002J0003", 1, SyncOutcome::Synced, "created"),
            // Another kind.
            entry(
                "a015f00002J0004",
                4,
                SyncOutcome::Failed,
                "writing it to HubSpot: HubSpot is unavailable (HTTP 503)",
            ),
        ];
        let health = Health::from_entries(&entries, None);
        assert_eq!(health.failing_records, 2);
        assert_eq!(health.resolved_records, 1);
        assert!(health.is_failing());
        let conversion = health
            .groups
            .iter()
            .find(|g| g.kind.category == Category::Conversion)
            .expect("the conversion group");
        assert_eq!(conversion.key(), "Invoice__c/conversion/Amount__c");
        assert_eq!(conversion.failing.len(), 1);
        assert_eq!(conversion.failing[0].attempts, 3);
        assert_eq!(conversion.failing[0].outcome, SyncOutcome::DeadLettered);
        assert_eq!(conversion.resolved.len(), 1);
        assert!(conversion.resolved[0].resolved_at.is_some());
        assert_eq!(health.groups.len(), 2);
        // A record whose newest entry is a success after failures is no longer failing.
        let healthy = Health::from_entries(&entries[3..6], None);
        assert!(!healthy.is_failing());
    }
}
