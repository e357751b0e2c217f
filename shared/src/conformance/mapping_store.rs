//! Conformance of [`MappingStore`] adapters. The factory returns a fresh, empty store per check.

use std::future::Future;
use std::sync::Arc;

use chrono::Duration;

use super::{now_ms, ok, sample_mapping};
use crate::mapping::{DeleteRule, MappingStatus};
use crate::ports::{MappingStore, PortError};

/// Runs every check, each on a fresh store from `factory`.
pub async fn run_all<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn MappingStore>>,
{
    check_create_and_get(factory().await).await;
    check_create_twice_conflicts(factory().await).await;
    check_compare_and_swap(factory().await).await;
    check_set_status_bumps_version(factory().await).await;
    check_list_is_ordered_by_object(factory().await).await;
    check_delete(factory().await).await;
}

/// A created mapping reads back whole, at version 1.
pub async fn check_create_and_get(store: Arc<dyn MappingStore>) {
    const CHECK: &str = "mapping_store::create_and_get";
    assert_eq!(
        ok(CHECK, "get", store.get("Invoice__c").await),
        None,
        "[{CHECK}] nothing stored yet"
    );
    assert!(
        ok(CHECK, "list", store.list().await).is_empty(),
        "[{CHECK}] empty list"
    );
    let before = now_ms() - Duration::seconds(5);
    let mapping = sample_mapping("Invoice__c");
    let version = ok(CHECK, "put (create)", store.put(&mapping, None).await);
    assert_eq!(version, 1, "[{CHECK}] a new mapping is version 1");
    let stored = ok(CHECK, "get", store.get("Invoice__c").await);
    let Some(stored) = stored else {
        panic!("[{CHECK}] the created mapping is missing");
    };
    assert_eq!(
        stored.mapping, mapping,
        "[{CHECK}] the mapping reads back whole"
    );
    assert_eq!(stored.version, 1, "[{CHECK}] stored version");
    assert!(
        stored.updated_at >= before,
        "[{CHECK}] updated_at {} is the time of the write",
        stored.updated_at
    );
    assert_eq!(
        ok(CHECK, "list", store.list().await),
        vec![stored],
        "[{CHECK}] list shows it"
    );
}

/// Creating a mapping that exists fails with a version conflict and changes nothing.
pub async fn check_create_twice_conflicts(store: Arc<dyn MappingStore>) {
    const CHECK: &str = "mapping_store::create_twice";
    let mapping = sample_mapping("Invoice__c");
    ok(CHECK, "put (create)", store.put(&mapping, None).await);
    let mut other = mapping.clone();
    other.on_delete = DeleteRule::Keep;
    match store.put(&other, None).await {
        Err(PortError::VersionConflict {
            expected, found, ..
        }) => {
            assert_eq!((expected, found), (0, 1), "[{CHECK}] conflict details");
        }
        other => panic!("[{CHECK}] creating twice must be a version conflict, got {other:?}"),
    }
    let stored = ok(CHECK, "get", store.get("Invoice__c").await);
    assert_eq!(
        stored.map(|s| (s.mapping, s.version)),
        Some((mapping, 1)),
        "[{CHECK}] the first mapping is untouched"
    );
}

/// A write naming the version last read succeeds once; a second writer with the same version
/// loses; a write to a mapping deleted meanwhile loses too.
pub async fn check_compare_and_swap(store: Arc<dyn MappingStore>) {
    const CHECK: &str = "mapping_store::compare_and_swap";
    let mapping = sample_mapping("Invoice__c");
    ok(CHECK, "put (create)", store.put(&mapping, None).await);

    let mut first = mapping.clone();
    first.status = MappingStatus::Paused;
    let v2 = ok(CHECK, "put v1 -> v2", store.put(&first, Some(1)).await);
    assert_eq!(v2, 2, "[{CHECK}] the version grows by one");

    let mut second = mapping.clone();
    second.on_delete = DeleteRule::Keep;
    match store.put(&second, Some(1)).await {
        Err(PortError::VersionConflict {
            expected, found, ..
        }) => assert_eq!(
            (expected, found),
            (1, 2),
            "[{CHECK}] conflict names the expected and found versions"
        ),
        other => panic!("[{CHECK}] a write with an old version must conflict, got {other:?}"),
    }
    let stored = ok(CHECK, "get", store.get("Invoice__c").await);
    assert_eq!(
        stored.map(|s| (s.mapping, s.version)),
        Some((first, 2)),
        "[{CHECK}] the losing write changed nothing"
    );

    let v3 = ok(CHECK, "put v2 -> v3", store.put(&second, Some(2)).await);
    assert_eq!(v3, 3, "[{CHECK}] the version grows by one again");

    ok(CHECK, "delete", store.delete("Invoice__c").await);
    match store.put(&second, Some(3)).await {
        Err(PortError::VersionConflict { .. }) => {}
        other => panic!("[{CHECK}] updating a deleted mapping must conflict, got {other:?}"),
    }
    assert_eq!(
        ok(CHECK, "get", store.get("Invoice__c").await),
        None,
        "[{CHECK}] the failed update did not recreate it"
    );
}

/// `set_status` changes only the status, whatever the version, and bumps the version.
pub async fn check_set_status_bumps_version(store: Arc<dyn MappingStore>) {
    const CHECK: &str = "mapping_store::set_status";
    let mut mapping = sample_mapping("Invoice__c");
    mapping.status = MappingStatus::Draft;
    ok(CHECK, "put (create)", store.put(&mapping, None).await);
    ok(CHECK, "put v1 -> v2", store.put(&mapping, Some(1)).await);

    let version = ok(
        CHECK,
        "set_status",
        store.set_status("Invoice__c", MappingStatus::Active).await,
    );
    assert_eq!(version, 3, "[{CHECK}] set_status bumps the version");
    let stored = ok(CHECK, "get", store.get("Invoice__c").await);
    let mut expected = mapping.clone();
    expected.status = MappingStatus::Active;
    assert_eq!(
        stored.map(|s| (s.mapping, s.version)),
        Some((expected, 3)),
        "[{CHECK}] only the status changed"
    );
    match store.set_status("Nothing__c", MappingStatus::Paused).await {
        Err(PortError::NotFound { .. }) => {}
        other => {
            panic!("[{CHECK}] set_status of a missing mapping must be NotFound, got {other:?}")
        }
    }
}

/// `list` returns every mapping ordered by Salesforce object name.
pub async fn check_list_is_ordered_by_object(store: Arc<dyn MappingStore>) {
    const CHECK: &str = "mapping_store::list_ordered";
    for object in ["Zeta__c", "Alpha__c", "Invoice__c", "Case"] {
        ok(
            CHECK,
            "put (create)",
            store.put(&sample_mapping(object), None).await,
        );
    }
    let listed: Vec<String> = ok(CHECK, "list", store.list().await)
        .into_iter()
        .map(|s| s.mapping.salesforce_object)
        .collect();
    assert_eq!(
        listed,
        vec!["Alpha__c", "Case", "Invoice__c", "Zeta__c"],
        "[{CHECK}] ordered by object name"
    );
}

/// `delete` removes a mapping and says whether there was one.
pub async fn check_delete(store: Arc<dyn MappingStore>) {
    const CHECK: &str = "mapping_store::delete";
    ok(
        CHECK,
        "put (create)",
        store.put(&sample_mapping("Invoice__c"), None).await,
    );
    ok(
        CHECK,
        "put (create)",
        store.put(&sample_mapping("Payment__c"), None).await,
    );
    assert!(
        ok(CHECK, "delete", store.delete("Invoice__c").await),
        "[{CHECK}] deleting an existing mapping says true"
    );
    assert_eq!(
        ok(CHECK, "get", store.get("Invoice__c").await),
        None,
        "[{CHECK}] it is gone"
    );
    assert!(
        !ok(CHECK, "delete again", store.delete("Invoice__c").await),
        "[{CHECK}] deleting a missing mapping says false"
    );
    let left: Vec<String> = ok(CHECK, "list", store.list().await)
        .into_iter()
        .map(|s| s.mapping.salesforce_object)
        .collect();
    assert_eq!(
        left,
        vec!["Payment__c"],
        "[{CHECK}] the other mapping stays"
    );
    let recreated = ok(
        CHECK,
        "put (create again)",
        store.put(&sample_mapping("Invoice__c"), None).await,
    );
    assert_eq!(
        recreated, 1,
        "[{CHECK}] a deleted mapping can be created again"
    );
}
