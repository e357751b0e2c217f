//! Conformance suites for the ports: every adapter (embedded SQLite, DynamoDB, SQS) must pass
//! the same checks, so the pipeline can rely on the port contracts and not on a backend.
//!
//! Each module has `run_all(factory)` and one `pub async fn check_…` per behaviour. The factory
//! makes a FRESH, EMPTY adapter for every check (its own database, table or queue): checks assume
//! they start from nothing and never clean up. The checks use only the port traits, so they hold
//! for any backend; they assert behaviour (what a caller sees), never storage details, and name
//! the check in every assertion message. Timings: visibility timeouts and delays are whole
//! seconds (SQS's granularity); no check asserts how fast anything is.
//!
//! Run a suite from a `#[tokio::test(flavor = "multi_thread")]` test: the concurrency checks
//! spawn tasks.

pub mod change_queue;
pub mod import_jobs;
pub mod mapping_store;
pub mod record_index;
pub mod sync_log;

use chrono::{DateTime, TimeZone, Timelike, Utc};

use crate::domain::{Change, ChangeKind, ChangeSource, FieldSnapshot, RereadReason, SalesforceId};
use crate::mapping::{
    AssociationMapping, AssociationTarget, Conversion, DEFAULT_ID_PROPERTY, DeleteRule,
    FieldMapping, HubSpotObjectRef, Mapping, MappingStatus,
};
use crate::ports::PortResult;

/// Unwraps a port result, or fails the check naming the check and the step.
#[track_caller]
pub fn ok<T>(check: &str, step: &str, result: PortResult<T>) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!("[{check}] {step} failed: {error}"),
    }
}

/// The `n`th test record id of an object: a valid 18-character Salesforce id.
pub fn record_id(n: u32) -> SalesforceId {
    let fifteen = format!("a0B{n:012}");
    match SalesforceId::parse(&fifteen) {
        Ok(id) => id,
        Err(error) => panic!("test record id {fifteen} is not valid: {error}"),
    }
}

/// The test organisation.
pub fn org_id() -> SalesforceId {
    match SalesforceId::parse("00Dn00000008y2t") {
        Ok(id) => id,
        Err(error) => panic!("test org id is not valid: {error}"),
    }
}

/// A fixed instant with millisecond precision (what Salesforce sends), plus `seconds`.
pub fn instant(seconds: i64) -> DateTime<Utc> {
    let base = Utc
        .with_ymd_and_hms(2026, 9, 9, 19, 10, 58)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    base + chrono::Duration::milliseconds(123) + chrono::Duration::seconds(seconds)
}

/// Now, truncated to milliseconds, so values survive backends that keep milliseconds only.
pub fn now_ms() -> DateTime<Utc> {
    let now = Utc::now();
    now.with_nanosecond(now.nanosecond() / 1_000_000 * 1_000_000)
        .unwrap_or(now)
}

/// A realistic change of the `n`th `Invoice__c` record. The kind and source vary with `n`
/// (full upsert from CDC, partial CDC update, delete from an outbound message, undelete from an
/// import), so a round trip through a queue exercises every shape of `Change`.
pub fn sample_change(n: u32) -> Change {
    let (kind, source) = match n % 4 {
        0 => (
            ChangeKind::Upsert {
                fields: FieldSnapshot::from([
                    ("Name".to_owned(), serde_json::json!(format!("INV-{n:05}"))),
                    (
                        "Amount__c".to_owned(),
                        serde_json::json!(1250.75 + f64::from(n)),
                    ),
                    ("Paid__c".to_owned(), serde_json::json!(n.is_multiple_of(3))),
                    ("Due_Date__c".to_owned(), serde_json::json!("2026-10-01")),
                    (
                        "Notes__c".to_owned(),
                        serde_json::json!("Zahlung \"sofort\" — ✓"),
                    ),
                    (
                        "BillingAddress".to_owned(),
                        serde_json::json!({"City": "Lyon", "PostalCode": "69002"}),
                    ),
                    ("Account__c".to_owned(), serde_json::Value::Null),
                ]),
            },
            ChangeSource::Cdc {
                transaction_key: format!("0000be70-{n}"),
                sequence_number: Some(i64::from(n)),
                commit_number: Some(1_778_192_987_716_501_507),
                event_id: Some(format!("evt-{n}")),
            },
        ),
        1 => (
            ChangeKind::Reread {
                reason: RereadReason::PartialUpdate,
                partial: FieldSnapshot::from([("Status__c".to_owned(), serde_json::json!("Sent"))]),
            },
            ChangeSource::Cdc {
                transaction_key: format!("0000be71-{n}"),
                sequence_number: None,
                commit_number: None,
                event_id: None,
            },
        ),
        2 => (
            ChangeKind::Delete,
            ChangeSource::OutboundMessage {
                notification_id: format!("04l5f000000{n:07}"),
                action_id: "04k5f000000AbCd".to_owned(),
            },
        ),
        _ => (
            ChangeKind::Undelete,
            ChangeSource::Import {
                job_id: format!("job-{n}"),
            },
        ),
    };
    Change {
        org_id: org_id(),
        object: "Invoice__c".to_owned(),
        record_id: record_id(n),
        kind,
        modstamp: Some(instant(i64::from(n))),
        source,
        received_at: instant(i64::from(n) + 2),
        prior_deliveries: 0,
    }
}

/// A realistic active mapping of `salesforce_object` to a HubSpot custom object.
pub fn sample_mapping(salesforce_object: &str) -> Mapping {
    Mapping {
        salesforce_object: salesforce_object.to_owned(),
        hubspot_object: HubSpotObjectRef::parse("p7878787_invoice"),
        id_property: DEFAULT_ID_PROPERTY.to_owned(),
        fields: vec![
            FieldMapping {
                salesforce_field: "Name".to_owned(),
                hubspot_property: "invoice_number".to_owned(),
                conversion: Conversion::String,
            },
            FieldMapping {
                salesforce_field: "Amount__c".to_owned(),
                hubspot_property: "amount".to_owned(),
                conversion: Conversion::Number,
            },
            FieldMapping {
                salesforce_field: "BillingAddress.City".to_owned(),
                hubspot_property: "billing_city".to_owned(),
                conversion: Conversion::Auto,
            },
        ],
        associations: vec![AssociationMapping {
            salesforce_field: "Account__c".to_owned(),
            target: AssociationTarget::HubSpotObject {
                object: "companies".to_owned(),
                id_property: "salesforceaccountid".to_owned(),
            },
            association_type_id: None,
        }],
        on_delete: DeleteRule::Archive,
        status: MappingStatus::Active,
        allow_unsupported_standard_object: false,
        resolved: None,
    }
}
