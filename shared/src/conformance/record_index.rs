//! Conformance of [`RecordIndex`] adapters. The factory returns a fresh, empty index per check.

use std::future::Future;
use std::sync::Arc;

use super::{instant, ok, record_id};
use crate::domain::RecordKey;
use crate::ports::{IndexEntry, IndexWrite, LinkRecord, RecordIndex, RecordLinks};

/// Runs every check, each on a fresh index from `factory`.
pub async fn run_all<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn RecordIndex>>,
{
    check_written_refreshed_stale(factory().await).await;
    check_many_written_refreshed_stale(factory().await).await;
    check_delete_tombstone_is_kept(factory().await).await;
    check_get_many(factory().await).await;
    check_count_per_object(factory().await).await;
    check_concurrent_writers_end_with_the_newest(factory().await).await;
    check_links_are_journaled(factory().await).await;
    check_waiters_are_taken_once(factory().await).await;
}

/// Records that wait for a target are taken once, by the first `take_waiting` naming it;
/// recording a waiter twice gives it once; other targets' waiters stay.
pub async fn check_waiters_are_taken_once(index: Arc<dyn RecordIndex>) {
    const CHECK: &str = "record_index::waiters_are_taken_once";
    let (project, other) = (key("Project__c", 1), key("Project__c", 2));
    let (first, second, third) = (
        key("Invoice__c", 11),
        key("Invoice__c", 12),
        key("Task__c", 13),
    );
    ok(
        CHECK,
        "wait_for",
        index
            .wait_for(&[
                (project.clone(), first.clone()),
                (project.clone(), second.clone()),
                (other.clone(), third.clone()),
            ])
            .await,
    );
    ok(
        CHECK,
        "wait_for again",
        index.wait_for(&[(project.clone(), first.clone())]).await,
    );
    let mut taken = ok(
        CHECK,
        "take_waiting",
        index
            .take_waiting(&[project.clone(), key("Project__c", 3)])
            .await,
    );
    taken.sort();
    assert_eq!(
        taken,
        [first, second],
        "[{CHECK}] the target's waiters, once each"
    );
    assert_eq!(
        ok(
            CHECK,
            "take again",
            index.take_waiting(std::slice::from_ref(&project)).await
        ),
        Vec::<RecordKey>::new(),
        "[{CHECK}] taken once"
    );
    assert_eq!(
        ok(CHECK, "take the other", index.take_waiting(&[other]).await),
        [third],
        "[{CHECK}] other targets' waiters stay until taken"
    );
}

/// The association targets sf2hs may have written are journaled per record and lookup field:
/// added before they are written, removed once their associations are, but only the entry a
/// remover read: a target journaled again meanwhile (by a writer linking it now) stays.
pub async fn check_links_are_journaled(index: Arc<dyn RecordIndex>) {
    const CHECK: &str = "record_index::links_are_journaled";
    let (invoice, other) = (key("Invoice__c", 7), key("Invoice__c", 8));
    let link = |field: &str, target: &str, token: u64| LinkRecord {
        record: invoice.clone(),
        field: field.to_owned(),
        target: target.to_owned(),
        token,
    };
    let targets = |links: &RecordLinks| -> Vec<(String, Vec<String>)> {
        links
            .iter()
            .filter(|(_, targets)| !targets.is_empty())
            .map(|(field, targets)| (field.clone(), targets.keys().cloned().collect()))
            .collect()
    };
    ok(
        CHECK,
        "add_links",
        index
            .add_links(&[
                link("Project__c", "9001", 0),
                link("Project__c", "9002", 0),
                link("Account__c", "42", 0),
            ])
            .await,
    );
    let read = ok(
        CHECK,
        "links",
        index.links(&[invoice.clone(), other.clone()]).await,
    );
    let journaled = read.get(&invoice).cloned().unwrap_or_default();
    assert_eq!(
        targets(&journaled),
        [
            ("Account__c".to_owned(), vec!["42".to_owned()]),
            (
                "Project__c".to_owned(),
                vec!["9001".to_owned(), "9002".to_owned()]
            ),
        ],
        "[{CHECK}] {read:?}"
    );
    assert!(
        read.get(&other)
            .is_none_or(|links| targets(links).is_empty()),
        "[{CHECK}] a record with none"
    );
    let token = |field: &str, target: &str| journaled[field][target];

    // 9001 is journaled again after it was read: removing what was read leaves it.
    ok(
        CHECK,
        "add again",
        index.add_links(&[link("Project__c", "9001", 0)]).await,
    );
    ok(
        CHECK,
        "remove_links",
        index
            .remove_links(&[
                link("Project__c", "9001", token("Project__c", "9001")),
                link("Project__c", "9002", token("Project__c", "9002")),
                link("Account__c", "42", token("Account__c", "42")),
            ])
            .await,
    );
    let read = ok(
        CHECK,
        "links",
        index.links(std::slice::from_ref(&invoice)).await,
    );
    assert_eq!(
        targets(&read.get(&invoice).cloned().unwrap_or_default()),
        [("Project__c".to_owned(), vec!["9001".to_owned()])],
        "[{CHECK}] the entries read went; the one journaled again stayed"
    );
}

fn key(object: &str, n: u32) -> RecordKey {
    RecordKey {
        object: object.to_owned(),
        record_id: record_id(n),
    }
}

fn entry(seconds: i64, hash: &str, hubspot_id: Option<&str>, deleted: bool) -> IndexEntry {
    IndexEntry {
        hubspot_id: hubspot_id.map(str::to_owned),
        modstamp: instant(seconds),
        content_hash: hash.to_owned(),
        deleted,
        write_id: 0,
    }
}

/// An entry as its writer gave it: without the `write_id` the store drew.
fn as_given(entry: IndexEntry) -> IndexEntry {
    IndexEntry {
        write_id: 0,
        ..entry
    }
}

/// The stored entry of `key`, or a failed check.
async fn stored(check: &str, index: &dyn RecordIndex, key: &RecordKey) -> IndexEntry {
    match ok(check, "get", index.get(key).await) {
        Some(entry) => entry,
        None => panic!("[{check}] {key} is stored"),
    }
}

/// A write's answer with the stored entry of a `Stale` as its writer gave it.
fn answer(write: IndexWrite) -> IndexWrite {
    match write {
        IndexWrite::Stale { current } => IndexWrite::Stale {
            current: as_given(current),
        },
        other => other,
    }
}

/// First write is `Written`; the same modstamp again is `Refreshed` and updates in place; an
/// older one is `Stale` with the stored entry and changes nothing; a newer one is `Written`
/// with the modstamp it replaced. Every write, a refresh included, draws a new `write_id`,
/// and answers the one it replaced.
pub async fn check_written_refreshed_stale(index: Arc<dyn RecordIndex>) {
    const CHECK: &str = "record_index::written_refreshed_stale";
    let key = key("Invoice__c", 1);
    assert_eq!(
        ok(CHECK, "get", index.get(&key).await),
        None,
        "[{CHECK}] nothing stored yet"
    );

    let first = entry(10, "hash-a", None, false);
    assert_eq!(
        ok(
            CHECK,
            "put_if_newer",
            index.put_if_newer(&key, &first).await
        ),
        IndexWrite::Written {
            previous: None,
            previous_write: None
        },
        "[{CHECK}] first write"
    );
    let first_stored = stored(CHECK, index.as_ref(), &key).await;
    assert_eq!(
        as_given(first_stored.clone()),
        first,
        "[{CHECK}] the entry reads back exactly"
    );

    let same_with_id = entry(10, "hash-a", Some("18522801467"), false);
    assert_eq!(
        ok(
            CHECK,
            "put_if_newer",
            index.put_if_newer(&key, &same_with_id).await
        ),
        IndexWrite::Refreshed {
            previous_write: first_stored.write_id
        },
        "[{CHECK}] same modstamp, with the write it replaced"
    );
    let refreshed = stored(CHECK, index.as_ref(), &key).await;
    assert_eq!(
        as_given(refreshed.clone()),
        same_with_id,
        "[{CHECK}] a refresh updates in place (the HubSpot id is now known)"
    );
    assert_ne!(
        refreshed.write_id, first_stored.write_id,
        "[{CHECK}] a refresh is told from the write before it"
    );

    let older = entry(5, "hash-old", Some("999"), false);
    assert_eq!(
        answer(ok(
            CHECK,
            "put_if_newer",
            index.put_if_newer(&key, &older).await
        )),
        IndexWrite::Stale {
            current: same_with_id.clone()
        },
        "[{CHECK}] an older state is refused with the current entry"
    );
    assert_eq!(
        stored(CHECK, index.as_ref(), &key).await,
        refreshed,
        "[{CHECK}] a stale write changes nothing, its write id included"
    );

    let newer = entry(20, "hash-b", Some("18522801467"), false);
    assert_eq!(
        ok(
            CHECK,
            "put_if_newer",
            index.put_if_newer(&key, &newer).await
        ),
        IndexWrite::Written {
            previous: Some(instant(10)),
            previous_write: Some(refreshed.write_id)
        },
        "[{CHECK}] a newer state, with the modstamp and the write it replaced"
    );
    let newest = stored(CHECK, index.as_ref(), &key).await;
    assert_eq!(
        as_given(newest.clone()),
        newer,
        "[{CHECK}] the newer state is stored"
    );
    assert_ne!(
        newest.write_id, refreshed.write_id,
        "[{CHECK}] a new write id"
    );
}

/// `put_many_if_newer` answers each entry as `put_if_newer` would, in order: a new record
/// written, the same state refreshed, an older state left out while the stored one stays.
pub async fn check_many_written_refreshed_stale(index: Arc<dyn RecordIndex>) {
    const CHECK: &str = "record_index::many_written_refreshed_stale";
    let (known, same, new) = (
        key("Invoice__c", 1),
        key("Invoice__c", 2),
        key("Invoice__c", 3),
    );
    ok(
        CHECK,
        "put_if_newer",
        index
            .put_if_newer(&known, &entry(20, "newer", Some("7"), false))
            .await,
    );
    ok(
        CHECK,
        "put_if_newer",
        index
            .put_if_newer(&same, &entry(10, "a", None, false))
            .await,
    );
    let outcomes = ok(
        CHECK,
        "put_many_if_newer",
        index
            .put_many_if_newer(&[
                (known.clone(), entry(10, "older", None, false)),
                (same.clone(), entry(10, "b", Some("8"), false)),
                (new.clone(), entry(30, "c", None, false)),
            ])
            .await,
    );
    assert_eq!(outcomes.len(), 3, "[{CHECK}] one answer per entry");
    assert!(
        matches!(outcomes[0], IndexWrite::Stale { .. }),
        "[{CHECK}] older: {:?}",
        outcomes[0]
    );
    assert!(
        matches!(outcomes[1], IndexWrite::Refreshed { .. }),
        "[{CHECK}] same: {:?}",
        outcomes[1]
    );
    assert!(
        matches!(outcomes[2], IndexWrite::Written { previous: None, .. }),
        "[{CHECK}] new: {:?}",
        outcomes[2]
    );
    assert_eq!(
        stored(CHECK, index.as_ref(), &known).await.content_hash,
        "newer",
        "[{CHECK}] the newer state stays"
    );
    assert_eq!(
        stored(CHECK, index.as_ref(), &same).await.content_hash,
        "b",
        "[{CHECK}] refreshed in place"
    );
    assert_eq!(
        stored(CHECK, index.as_ref(), &new).await.content_hash,
        "c",
        "[{CHECK}] written"
    );

    // One record several times in one call: in order, as separate puts would be; and many
    // records at once (an adapter may write them concurrently), each answered in its place.
    let again = key("Invoice__c", 4);
    let mut many = vec![
        (again.clone(), entry(10, "x", None, false)),
        (again.clone(), entry(20, "y", None, false)),
        (again.clone(), entry(15, "z", None, false)),
    ];
    many.extend((100..160).map(|n| (key("Invoice__c", n), entry(i64::from(n), "m", None, false))));
    let outcomes = ok(
        CHECK,
        "put_many_if_newer",
        index.put_many_if_newer(&many).await,
    );
    assert_eq!(outcomes.len(), many.len(), "[{CHECK}] one answer per entry");
    assert!(
        matches!(outcomes[0], IndexWrite::Written { previous: None, .. }),
        "[{CHECK}] first of one record: {:?}",
        outcomes[0]
    );
    assert!(
        matches!(&outcomes[1], IndexWrite::Written { previous: Some(p), .. } if *p == entry(10, "", None, false).modstamp),
        "[{CHECK}] second replaces the first: {:?}",
        outcomes[1]
    );
    assert!(
        matches!(outcomes[2], IndexWrite::Stale { .. }),
        "[{CHECK}] third is older than the second: {:?}",
        outcomes[2]
    );
    assert!(
        outcomes[3..]
            .iter()
            .all(|o| matches!(o, IndexWrite::Written { previous: None, .. })),
        "[{CHECK}] every new record written"
    );
    assert_eq!(
        stored(CHECK, index.as_ref(), &again).await.content_hash,
        "y",
        "[{CHECK}] the newest of one record's entries stays"
    );
    assert_eq!(
        ok(CHECK, "count", index.count("Invoice__c").await),
        64,
        "[{CHECK}] 3 + 1 + 60 records"
    );
}

/// A delete is kept as a tombstone: an older upsert cannot bring the record back.
pub async fn check_delete_tombstone_is_kept(index: Arc<dyn RecordIndex>) {
    const CHECK: &str = "record_index::tombstone";
    let key = key("Invoice__c", 2);
    let upsert = entry(10, "hash-a", Some("501"), false);
    ok(
        CHECK,
        "put_if_newer",
        index.put_if_newer(&key, &upsert).await,
    );
    let upsert_write = stored(CHECK, index.as_ref(), &key).await.write_id;
    let tombstone = entry(30, "", Some("501"), true);
    assert_eq!(
        ok(
            CHECK,
            "put_if_newer",
            index.put_if_newer(&key, &tombstone).await
        ),
        IndexWrite::Written {
            previous: Some(instant(10)),
            previous_write: Some(upsert_write)
        },
        "[{CHECK}] the delete is newer"
    );
    let late_upsert = entry(20, "hash-late", Some("501"), false);
    assert_eq!(
        answer(ok(
            CHECK,
            "put_if_newer",
            index.put_if_newer(&key, &late_upsert).await
        )),
        IndexWrite::Stale {
            current: tombstone.clone()
        },
        "[{CHECK}] an upsert older than the delete is stale"
    );
    let tombstone_stored = stored(CHECK, index.as_ref(), &key).await;
    assert_eq!(
        as_given(tombstone_stored.clone()),
        tombstone,
        "[{CHECK}] the tombstone stays"
    );
    assert_eq!(
        ok(CHECK, "count", index.count("Invoice__c").await),
        1,
        "[{CHECK}] tombstones are counted"
    );
    let undelete = entry(40, "hash-c", Some("501"), false);
    assert_eq!(
        ok(
            CHECK,
            "put_if_newer",
            index.put_if_newer(&key, &undelete).await
        ),
        IndexWrite::Written {
            previous: Some(instant(30)),
            previous_write: Some(tombstone_stored.write_id)
        },
        "[{CHECK}] a newer undelete replaces the tombstone"
    );
}

/// `get_many` returns the stored entries of the keys asked for and omits missing ones.
pub async fn check_get_many(index: Arc<dyn RecordIndex>) {
    const CHECK: &str = "record_index::get_many";
    let stored: Vec<(RecordKey, IndexEntry)> = (0..3)
        .map(|n| {
            (
                key("Invoice__c", 10 + n),
                entry(
                    i64::from(n),
                    &format!("hash-{n}"),
                    Some(&format!("7{n}")),
                    false,
                ),
            )
        })
        .collect();
    for (key, entry) in &stored {
        ok(CHECK, "put_if_newer", index.put_if_newer(key, entry).await);
    }
    let other_object = key("Payment__c", 10);
    let unknown = key("Invoice__c", 99);
    let mut asked: Vec<RecordKey> = stored.iter().map(|(k, _)| k.clone()).collect();
    asked.push(other_object);
    asked.push(unknown);

    let found: std::collections::HashMap<RecordKey, IndexEntry> =
        ok(CHECK, "get_many", index.get_many(&asked).await)
            .into_iter()
            .map(|(key, entry)| (key, as_given(entry)))
            .collect();
    assert_eq!(
        found,
        stored.into_iter().collect(),
        "[{CHECK}] the three stored entries, and nothing for missing keys"
    );
    let none = ok(CHECK, "get_many of nothing", index.get_many(&[]).await);
    assert!(none.is_empty(), "[{CHECK}] no keys, no entries");
}

/// `count` counts the records of one object only.
pub async fn check_count_per_object(index: Arc<dyn RecordIndex>) {
    const CHECK: &str = "record_index::count";
    assert_eq!(
        ok(CHECK, "count", index.count("Invoice__c").await),
        0,
        "[{CHECK}] empty"
    );
    for n in 0..5 {
        let e = entry(1, "h", None, n == 4);
        ok(
            CHECK,
            "put_if_newer",
            index.put_if_newer(&key("Invoice__c", n), &e).await,
        );
    }
    for n in 0..2 {
        let e = entry(1, "h", None, false);
        ok(
            CHECK,
            "put_if_newer",
            index.put_if_newer(&key("Payment__c", n), &e).await,
        );
    }
    // Writing a record again does not count it twice.
    ok(
        CHECK,
        "put_if_newer",
        index
            .put_if_newer(&key("Invoice__c", 0), &entry(2, "h2", None, false))
            .await,
    );
    assert_eq!(
        ok(CHECK, "count", index.count("Invoice__c").await),
        5,
        "[{CHECK}] Invoice__c records"
    );
    assert_eq!(
        ok(CHECK, "count", index.count("Payment__c").await),
        2,
        "[{CHECK}] Payment__c records"
    );
    assert_eq!(
        ok(CHECK, "count", index.count("Nothing__c").await),
        0,
        "[{CHECK}] an object without records"
    );
}

/// Many concurrent `put_if_newer` calls on one key, in any order, end with the newest entry.
pub async fn check_concurrent_writers_end_with_the_newest(index: Arc<dyn RecordIndex>) {
    const CHECK: &str = "record_index::concurrent_writers";
    const WRITERS: i64 = 8;
    const PER_WRITER: i64 = 20;
    let key = key("Invoice__c", 3);
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let index = Arc::clone(&index);
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            // Writers interleave their modstamps; half of them go backwards.
            let mut seconds: Vec<i64> = (0..PER_WRITER).map(|i| i * WRITERS + writer).collect();
            if writer % 2 == 1 {
                seconds.reverse();
            }
            for s in seconds {
                let e = entry(s, &format!("hash-{s}"), Some("42"), false);
                ok(CHECK, "put_if_newer", index.put_if_newer(&key, &e).await);
            }
        }));
    }
    for task in tasks {
        if let Err(error) = task.await {
            panic!("[{CHECK}] a writer task failed: {error}");
        }
    }
    let newest = WRITERS * PER_WRITER - 1;
    assert_eq!(
        as_given(stored(CHECK, index.as_ref(), &key).await),
        entry(newest, &format!("hash-{newest}"), Some("42"), false),
        "[{CHECK}] the newest state wins"
    );
}
