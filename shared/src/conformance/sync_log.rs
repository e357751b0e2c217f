//! Conformance of [`SyncLog`] adapters. The factory returns a fresh, empty log per check, with
//! a retention of at least a day (entries are stamped within the last hour).

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::{now_ms, ok, record_id};
use crate::ports::{OutcomeCounts, SyncLog, SyncLogEntry, SyncLogQuery, SyncOutcome};

/// Runs every check, each on a fresh log from `factory`.
pub async fn run_all<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn SyncLog>>,
{
    check_append_and_query_newest_first(factory().await).await;
    check_query_filters(factory().await).await;
    check_counts(factory().await).await;
    check_expire(factory().await).await;
    check_limit_across_appends_that_overlap(factory().await).await;
    check_expire_within_one_append(factory().await).await;
}

/// Ten entries one minute apart, starting an hour ago: `Invoice__c` records 1 to 3 and
/// `Payment__c` record 4, with every outcome.
fn sample_entries(base: DateTime<Utc>) -> Vec<SyncLogEntry> {
    let plan: [(&str, u32, SyncOutcome); 10] = [
        ("Invoice__c", 1, SyncOutcome::Synced),
        ("Invoice__c", 2, SyncOutcome::Synced),
        ("Payment__c", 4, SyncOutcome::Synced),
        ("Invoice__c", 1, SyncOutcome::Skipped),
        ("Invoice__c", 3, SyncOutcome::Failed),
        ("Payment__c", 4, SyncOutcome::Failed),
        ("Invoice__c", 3, SyncOutcome::Failed),
        ("Invoice__c", 3, SyncOutcome::DeadLettered),
        ("Invoice__c", 2, SyncOutcome::Synced),
        ("Invoice__c", 1, SyncOutcome::Synced),
    ];
    plan.iter()
        .enumerate()
        .map(|(i, (object, record, outcome))| {
            let failed = outcome.is_failure();
            SyncLogEntry {
                at: base + Duration::minutes(i as i64),
                salesforce_object: (*object).to_owned(),
                record_id: record_id(*record),
                outcome: *outcome,
                reason: failed.then(|| {
                    "Amount__c = \"12,5\": not a number for HubSpot property `amount`".to_owned()
                }),
                hubspot_id: (!failed).then(|| format!("1852280{record}")),
            }
        })
        .collect()
}

fn base() -> DateTime<Utc> {
    now_ms() - Duration::hours(1)
}

fn newest_first(mut entries: Vec<SyncLogEntry>) -> Vec<SyncLogEntry> {
    entries.sort_by_key(|e| std::cmp::Reverse(e.at));
    entries
}

/// Appended entries read back exactly, newest first; `limit: 0` reads them all.
pub async fn check_append_and_query_newest_first(log: Arc<dyn SyncLog>) {
    const CHECK: &str = "sync_log::append_and_query";
    ok(CHECK, "append of nothing", log.append(&[]).await);
    let all = ok(CHECK, "query", log.query(&SyncLogQuery::default()).await);
    assert!(all.is_empty(), "[{CHECK}] empty at first");

    let entries = sample_entries(base());
    // Two appends, the second with older entries: order comes from `at`, not from arrival.
    ok(CHECK, "append", log.append(&entries[5..]).await);
    ok(CHECK, "append", log.append(&entries[..5]).await);
    let all = ok(CHECK, "query", log.query(&SyncLogQuery::default()).await);
    assert_eq!(
        all,
        newest_first(entries.clone()),
        "[{CHECK}] every entry, exactly, newest first (limit 0 = no limit)"
    );
    let limited = ok(
        CHECK,
        "query limit 3",
        log.query(&SyncLogQuery {
            limit: 3,
            ..SyncLogQuery::default()
        })
        .await,
    );
    assert_eq!(
        limited,
        newest_first(entries)[..3].to_vec(),
        "[{CHECK}] a limit keeps the newest"
    );
}

/// Object, record, outcome and time filters combine; the limit keeps the newest matches.
pub async fn check_query_filters(log: Arc<dyn SyncLog>) {
    const CHECK: &str = "sync_log::query_filters";
    let base = base();
    let entries = sample_entries(base);
    ok(CHECK, "append", log.append(&entries).await);
    let expect = |keep: &dyn Fn(&SyncLogEntry) -> bool| -> Vec<SyncLogEntry> {
        newest_first(entries.iter().filter(|e| keep(e)).cloned().collect())
    };

    let by_object = ok(
        CHECK,
        "query by object",
        log.query(&SyncLogQuery {
            salesforce_object: Some("Payment__c".to_owned()),
            ..SyncLogQuery::default()
        })
        .await,
    );
    assert_eq!(
        by_object,
        expect(&|e| e.salesforce_object == "Payment__c"),
        "[{CHECK}] by object"
    );

    let by_record = ok(
        CHECK,
        "query by record",
        log.query(&SyncLogQuery {
            salesforce_object: Some("Invoice__c".to_owned()),
            record_id: Some(record_id(3)),
            ..SyncLogQuery::default()
        })
        .await,
    );
    assert_eq!(
        by_record,
        expect(&|e| e.record_id == record_id(3)),
        "[{CHECK}] by record"
    );

    // A record's query reads its failures only: its successes are not kept per record.
    let synced_record = ok(
        CHECK,
        "query by a record that only synced",
        log.query(&SyncLogQuery {
            salesforce_object: Some("Invoice__c".to_owned()),
            record_id: Some(record_id(1)),
            ..SyncLogQuery::default()
        })
        .await,
    );
    assert!(
        synced_record.is_empty(),
        "[{CHECK}] a record's synced and skipped entries are not read by record: {synced_record:?}"
    );
    let without_object = ok(
        CHECK,
        "query by record without object",
        log.query(&SyncLogQuery {
            record_id: Some(record_id(4)),
            ..SyncLogQuery::default()
        })
        .await,
    );
    assert_eq!(
        without_object,
        expect(&|e| e.record_id == record_id(4) && e.outcome.is_failure()),
        "[{CHECK}] by record without its object: its failures"
    );
    let asked_synced = ok(
        CHECK,
        "query by record for synced entries",
        log.query(&SyncLogQuery {
            record_id: Some(record_id(4)),
            outcomes: vec![SyncOutcome::Synced],
            ..SyncLogQuery::default()
        })
        .await,
    );
    assert!(
        asked_synced.is_empty(),
        "[{CHECK}] a record's synced entries, asked for, are none"
    );

    let failures = ok(
        CHECK,
        "query by outcomes",
        log.query(&SyncLogQuery {
            outcomes: vec![SyncOutcome::Failed, SyncOutcome::DeadLettered],
            ..SyncLogQuery::default()
        })
        .await,
    );
    assert_eq!(
        failures,
        expect(&|e| e.outcome.is_failure()),
        "[{CHECK}] by outcomes"
    );

    let since = base + Duration::minutes(6);
    let recent = ok(
        CHECK,
        "query since",
        log.query(&SyncLogQuery {
            since: Some(since),
            ..SyncLogQuery::default()
        })
        .await,
    );
    assert_eq!(
        recent,
        expect(&|e| e.at >= since),
        "[{CHECK}] since is inclusive"
    );

    let combined = ok(
        CHECK,
        "query combined",
        log.query(&SyncLogQuery {
            salesforce_object: Some("Invoice__c".to_owned()),
            record_id: None,
            outcomes: vec![SyncOutcome::Synced],
            since: Some(base + Duration::minutes(1)),
            limit: 2,
        })
        .await,
    );
    let all_matching = expect(&|e| {
        e.salesforce_object == "Invoice__c"
            && e.outcome == SyncOutcome::Synced
            && e.at >= base + Duration::minutes(1)
    });
    assert_eq!(
        combined,
        all_matching[..2].to_vec(),
        "[{CHECK}] filters combine and the limit keeps the newest"
    );

    let nothing = ok(
        CHECK,
        "query of an unknown object",
        log.query(&SyncLogQuery {
            salesforce_object: Some("Nothing__c".to_owned()),
            ..SyncLogQuery::default()
        })
        .await,
    );
    assert!(nothing.is_empty(), "[{CHECK}] no match, no entries");
}

/// `counts` counts one object's outcomes at or after a time.
pub async fn check_counts(log: Arc<dyn SyncLog>) {
    const CHECK: &str = "sync_log::counts";
    let base = base();
    ok(CHECK, "append", log.append(&sample_entries(base)).await);
    assert_eq!(
        ok(CHECK, "counts", log.counts("Invoice__c", base).await),
        OutcomeCounts {
            synced: 4,
            skipped: 1,
            failed: 2,
            dead_lettered: 1
        },
        "[{CHECK}] every Invoice__c entry"
    );
    assert_eq!(
        ok(
            CHECK,
            "counts since",
            log.counts("Invoice__c", base + Duration::minutes(7)).await
        ),
        OutcomeCounts {
            synced: 2,
            skipped: 0,
            failed: 0,
            dead_lettered: 1
        },
        "[{CHECK}] Invoice__c entries since minute 7 (inclusive)"
    );
    assert_eq!(
        ok(CHECK, "counts", log.counts("Payment__c", base).await),
        OutcomeCounts {
            synced: 1,
            failed: 1,
            ..OutcomeCounts::default()
        },
        "[{CHECK}] Payment__c entries"
    );
    assert_eq!(
        ok(CHECK, "counts", log.counts("Nothing__c", base).await),
        OutcomeCounts::default(),
        "[{CHECK}] an object without entries"
    );
}

/// `expire` drops entries strictly older than its argument and says how many.
pub async fn check_expire(log: Arc<dyn SyncLog>) {
    const CHECK: &str = "sync_log::expire";
    let base = base();
    let entries = sample_entries(base);
    ok(CHECK, "append", log.append(&entries).await);
    let before = base + Duration::minutes(4);
    let removed = ok(CHECK, "expire", log.expire(before).await);
    assert_eq!(
        removed, 4,
        "[{CHECK}] the four entries before minute 4 went"
    );
    let left = ok(CHECK, "query", log.query(&SyncLogQuery::default()).await);
    assert_eq!(
        left,
        newest_first(entries.into_iter().filter(|e| e.at >= before).collect()),
        "[{CHECK}] the rest stays (an entry exactly at the cutoff is kept)"
    );
    let again = ok(CHECK, "expire again", log.expire(before).await);
    assert_eq!(again, 0, "[{CHECK}] nothing more to expire");
}

/// Appends whose times interleave (concurrent workers): a limited query still returns the
/// newest entries of all of them, in order.
pub async fn check_limit_across_appends_that_overlap(log: Arc<dyn SyncLog>) {
    const CHECK: &str = "sync_log::limit_across_appends";
    let base = base();
    let entry = |seconds: i64, record: u32| SyncLogEntry {
        at: base + Duration::seconds(seconds),
        salesforce_object: "Invoice__c".to_owned(),
        record_id: record_id(record),
        outcome: SyncOutcome::Synced,
        reason: None,
        hubspot_id: Some(format!("90{record}")),
    };
    let first: Vec<SyncLogEntry> = (0..6).map(|i| entry(i * 2, 10 + i as u32)).collect();
    let second: Vec<SyncLogEntry> = (0..6).map(|i| entry(i * 2 + 1, 20 + i as u32)).collect();
    ok(CHECK, "append", log.append(&second).await);
    ok(CHECK, "append", log.append(&first).await);
    let all = newest_first([first, second].concat());
    for limit in [1, 3, 7, 12] {
        for object in [None, Some("Invoice__c".to_owned())] {
            let got = ok(
                CHECK,
                "query",
                log.query(&SyncLogQuery {
                    salesforce_object: object.clone(),
                    limit,
                    ..SyncLogQuery::default()
                })
                .await,
            );
            assert_eq!(
                got,
                all[..limit].to_vec(),
                "[{CHECK}] the {limit} newest of both appends (object {object:?})"
            );
        }
    }
    let since = base + Duration::seconds(5);
    let recent = ok(
        CHECK,
        "query since",
        log.query(&SyncLogQuery {
            since: Some(since),
            limit: 4,
            ..SyncLogQuery::default()
        })
        .await,
    );
    assert_eq!(recent, all[..4].to_vec(), "[{CHECK}] since and limit");
    assert_eq!(
        ok(CHECK, "counts", log.counts("Invoice__c", since).await).synced,
        7,
        "[{CHECK}] counts from second 5 on, across both appends"
    );
}

/// `expire` cuts inside one append: entries seconds apart on both sides of the cutoff.
pub async fn check_expire_within_one_append(log: Arc<dyn SyncLog>) {
    const CHECK: &str = "sync_log::expire_within_one_append";
    let base = base();
    let entries: Vec<SyncLogEntry> = (0..6)
        .map(|i| SyncLogEntry {
            at: base + Duration::seconds(i),
            salesforce_object: "Invoice__c".to_owned(),
            record_id: record_id(30 + i as u32),
            outcome: if i == 1 {
                SyncOutcome::Failed
            } else {
                SyncOutcome::Synced
            },
            reason: (i == 1).then(|| "refused".to_owned()),
            hubspot_id: None,
        })
        .collect();
    ok(CHECK, "append", log.append(&entries).await);
    let before = base + Duration::seconds(3);
    assert_eq!(
        ok(CHECK, "expire", log.expire(before).await),
        3,
        "[{CHECK}] the three entries before second 3 went"
    );
    let left = ok(CHECK, "query", log.query(&SyncLogQuery::default()).await);
    assert_eq!(
        left,
        newest_first(entries[3..].to_vec()),
        "[{CHECK}] the other three stay"
    );
    let failure = ok(
        CHECK,
        "query the expired failure",
        log.query(&SyncLogQuery {
            record_id: Some(record_id(31)),
            ..SyncLogQuery::default()
        })
        .await,
    );
    assert!(failure.is_empty(), "[{CHECK}] the expired failure went too");
}
