//! The worker on the embedded store and queue with the real clients against the sandboxes:
//! when a newer state lands in the record index while the worker writes an older one (another
//! worker, concurrently), the worker asks for a re-read, and HubSpot ends on the newest state;
//! also when the worker found its state unchanged and wrote only the index.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::json;
use sf2hs_sandbox::hubspot::SandboxConfig;
use sf2hs_shared::domain::{
    Change, ChangeKind, ChangeSource, RecordKey, RereadReason, SalesforceId,
};
use sf2hs_shared::embedded::SqliteRecordIndex;
use sf2hs_shared::ports::{ChangeQueue, IndexEntry, IndexWrite, PortResult, RecordIndex};
use sf2hs_shared::worker::{Worker, WorkerPorts, WorkerSettings};

/// A record index where another worker writes `newer` just before this one's write, after
/// its own HubSpot write (`late_write`, when set) lands.
struct RacingIndex {
    inner: SqliteRecordIndex,
    newer: Mutex<Option<(RecordKey, IndexEntry)>>,
    late_write: Mutex<Option<LateWrite>>,
}

type LateWrite = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

#[async_trait]
impl RecordIndex for RacingIndex {
    async fn get(&self, key: &RecordKey) -> PortResult<Option<IndexEntry>> {
        self.inner.get(key).await
    }

    async fn get_many(&self, keys: &[RecordKey]) -> PortResult<HashMap<RecordKey, IndexEntry>> {
        self.inner.get_many(keys).await
    }

    async fn put_if_newer(&self, key: &RecordKey, entry: &IndexEntry) -> PortResult<IndexWrite> {
        let late_write = self.late_write.lock().expect("lock").take();
        if let Some(late_write) = late_write {
            late_write.await;
        }
        let racer = self.newer.lock().expect("lock").take();
        if let Some((racing_key, racing_entry)) = racer {
            self.inner.put_if_newer(&racing_key, &racing_entry).await?;
        }
        self.inner.put_if_newer(key, entry).await
    }

    async fn count(&self, object: &str) -> PortResult<u64> {
        self.inner.count(object).await
    }

    async fn wait_for(&self, links: &[(RecordKey, RecordKey)]) -> PortResult<()> {
        self.inner.wait_for(links).await
    }

    async fn take_waiting(&self, targets: &[RecordKey]) -> PortResult<Vec<RecordKey>> {
        self.inner.take_waiting(targets).await
    }

    async fn links(
        &self,
        records: &[RecordKey],
    ) -> PortResult<HashMap<RecordKey, sf2hs_shared::ports::RecordLinks>> {
        self.inner.links(records).await
    }

    async fn add_links(&self, links: &[sf2hs_shared::ports::LinkRecord]) -> PortResult<()> {
        self.inner.add_links(links).await
    }

    async fn remove_links(&self, links: &[sf2hs_shared::ports::LinkRecord]) -> PortResult<()> {
        self.inner.remove_links(links).await
    }
}

/// A worker on the embedded store whose index lets a racer write first, against the sandboxes.
struct Race {
    salesforce: sf2hs_sandbox::salesforce::RunningSalesforceSandbox,
    hubspot: sf2hs_sandbox::hubspot::RunningSandbox,
    queue: Arc<sf2hs_shared::embedded::SqliteChangeQueue>,
    index: Arc<RacingIndex>,
    worker: Worker,
}

impl Race {
    async fn start() -> Race {
        let (salesforce, hubspot) = sf2hs_sandbox::demo::start_pair(SandboxConfig::default())
            .await
            .expect("sandboxes");
        let store = sf2hs_tests::stack::embedded_store_with_mappings().await;
        let queue = Arc::new(store.change_queue(5));
        let index = Arc::new(RacingIndex {
            inner: store.record_index(),
            newer: Mutex::new(None),
            late_write: Mutex::new(None),
        });
        let (salesforce_client, hubspot_client) =
            sf2hs_tests::stack::sandbox_clients(&salesforce, &hubspot);
        let worker = Worker::new(
            WorkerPorts {
                index: index.clone(),
                ..sf2hs_tests::stack::embedded_worker_ports(
                    &store,
                    queue.clone(),
                    hubspot_client,
                    salesforce_client,
                )
            },
            WorkerSettings::default(),
        );
        Race {
            salesforce,
            hubspot,
            queue,
            index,
            worker,
        }
    }

    /// One batch of what is queued now.
    async fn drain(&self) -> sf2hs_shared::worker::DrainReport {
        sf2hs_tests::stack::drain_what_is_queued(&self.worker, self.queue.as_ref()).await
    }

    /// Batches until nothing is visible, at most five.
    async fn drain_all(&self) {
        for _ in 0..5 {
            if self.drain().await.received == 0 {
                break;
            }
        }
    }

    fn project_name(&self, record_id: &SalesforceId) -> String {
        self.hubspot
            .handle()
            .record_by_unique("sf_project", "salesforce_id", record_id.as_str())
            .expect("read")
            .expect("written")
            .properties["project_name"]
            .clone()
    }

    /// A project created as `first` and renamed `newest` since: its id and the two states'
    /// stamps.
    fn project_that_moved_on(
        &self,
        first: &str,
        newest: &str,
    ) -> (String, DateTime<Utc>, DateTime<Utc>) {
        let id = self
            .salesforce
            .handle()
            .create("Project__c", json!({ "Name": first, "Budget__c": 1 }))
            .expect("created");
        let first_stamp = self.stamp(&id);
        let newest_stamp = self.rename(&id, newest);
        (id, first_stamp, newest_stamp)
    }

    /// A project created as `name` and synced to HubSpot (read from Salesforce by the worker).
    async fn synced_project(&self, name: &str) -> (String, SalesforceId) {
        let id = self
            .salesforce
            .handle()
            .create("Project__c", json!({ "Name": name, "Budget__c": 1 }))
            .expect("created");
        self.queue
            .send_batch(&[self.read_now(&id)])
            .await
            .expect("queued");
        self.drain_all().await;
        let record_id = SalesforceId::parse(&id).expect("id");
        (id, record_id)
    }

    /// Renames the project `id` in Salesforce; the new state's stamp.
    fn rename(&self, id: &str, name: &str) -> DateTime<Utc> {
        // Stamps are whole seconds, shared by the changes within one (ties are `ties.rs`'s
        // and worker_rules.rs's cases): the update here gets a later second of its own.
        let handle = self.salesforce.handle();
        handle
            .advance_clock(chrono::TimeDelta::seconds(1))
            .expect("clock");
        handle
            .update("Project__c", id, json!({ "Name": name }))
            .expect("updated");
        self.stamp(id)
    }

    fn stamp(&self, id: &str) -> DateTime<Utc> {
        self.salesforce
            .handle()
            .record("Project__c", id)
            .expect("read")
            .expect("exists")
            .system_modstamp
    }

    /// An outbound message's change of the project `id`: `name`, budget 1, at `modstamp`.
    fn project_named(&self, id: &str, name: &str, modstamp: DateTime<Utc>) -> Change {
        self.change(
            id,
            ChangeKind::Upsert {
                fields: BTreeMap::from([
                    ("Name".to_owned(), json!(name)),
                    ("Budget__c".to_owned(), json!("1")),
                ]),
            },
            Some(modstamp),
        )
    }

    /// A change that asks for the project `id` to be read from Salesforce now.
    fn read_now(&self, id: &str) -> Change {
        self.change(
            id,
            ChangeKind::Reread {
                reason: RereadReason::PartialUpdate,
                partial: BTreeMap::new(),
            },
            None,
        )
    }

    /// Queues `change` and works one batch, which settles it: HubSpot then shows `name`.
    async fn one_batch_shows(
        &self,
        change: Change,
        record_id: &SalesforceId,
        name: &str,
        why: &str,
    ) {
        self.queue.send_batch(&[change]).await.expect("queued");
        assert_eq!(self.drain().await.done, 1);
        assert_eq!(self.project_name(record_id), name, "{why}");
    }

    /// HubSpot shows Salesforce's newest state, `name`, and nothing is left on the queue.
    async fn ends_on(&self, record_id: &SalesforceId, name: &str) {
        assert_eq!(
            self.project_name(record_id),
            name,
            "HubSpot ends on Salesforce's newest state"
        );
        assert_eq!(self.queue.depth().await.expect("depth").visible, 0);
    }

    /// Another writer's HubSpot write of `name` for the project `record_id`.
    fn write_project_name(&self, record_id: &SalesforceId, name: &str) -> LateWrite {
        let request = reqwest::Client::new()
            .post(format!(
                "{}/crm/v3/objects/p_sf_project/batch/upsert",
                self.hubspot.base_url()
            ))
            .bearer_auth(sf2hs_sandbox::hubspot::DEFAULT_TOKEN)
            .json(
                &json!({ "inputs": [{ "id": record_id.as_str(), "idProperty": "salesforce_id",
                                      "properties": { "project_name": name } }] }),
            );
        Box::pin(async move {
            let answer = request.send().await.expect("HubSpot answers");
            assert!(answer.status().is_success(), "{}", answer.status());
        })
    }

    /// A change of `id` as `kind` with `modstamp`.
    fn change(&self, id: &str, kind: ChangeKind, modstamp: Option<DateTime<Utc>>) -> Change {
        Change {
            org_id: SalesforceId::parse(&self.salesforce.handle().org_id()).expect("org"),
            object: "Project__c".into(),
            record_id: SalesforceId::parse(id).expect("id"),
            kind,
            modstamp,
            source: ChangeSource::Worker,
            received_at: Utc::now(),
            prior_deliveries: 0,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_newer_state_makes_the_worker_read_the_record_again() {
    let race = Race::start().await;

    // An outbound message carried the first state; Salesforce has moved on since.
    let (id, first, newest) = race.project_that_moved_on("First", "Newest");
    let record_id = SalesforceId::parse(&id).expect("id");
    let change = race.project_named(&id, "First", first);
    // Another worker records the newest state (its HubSpot write is not shown) while this one
    // writes the first.
    *race.index.newer.lock().expect("lock") = Some((
        change.record_key(),
        IndexEntry {
            hubspot_id: None,
            modstamp: newest,
            content_hash: "written by another worker".into(),
            deleted: false,
            write_id: 0,
        },
    ));
    race.one_batch_shows(
        change,
        &record_id,
        "First",
        "the older state was written first",
    )
    .await;

    // The worker asked for the record to be read again.
    let pending = race
        .queue
        .receive(10, Duration::from_secs(30))
        .await
        .expect("receive");
    assert_eq!(pending.len(), 1);
    assert!(
        matches!(
            pending[0].change.kind,
            ChangeKind::Reread {
                reason: RereadReason::ConcurrentUpdate,
                ..
            }
        ),
        "{:?}",
        pending[0].change.kind
    );
    race.queue
        .release(&pending[0].receipt, Duration::ZERO)
        .await
        .expect("released");
    let second_pass = race.drain().await;
    assert_eq!(second_pass.done, 1);
    race.ends_on(&record_id, "Newest").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_state_recorded_over_another_writers_makes_the_worker_read_again() {
    let race = Race::start().await;
    let (id, record_id) = race.synced_project("Same").await;
    let reread = race.read_now(&id);

    // An edit undone in Salesforce: the newest state has the first one's content, so this
    // worker writes only its stamp to the index. Just before that write, another worker
    // records a state in between, which it has written to HubSpot.
    let newest = race.rename(&id, "Same");
    race.write_project_name(&record_id, "Between").await;
    let mut entry = race
        .index
        .get(&reread.record_key())
        .await
        .expect("index")
        .expect("entry");
    entry.modstamp = newest - chrono::TimeDelta::milliseconds(1);
    entry.content_hash = "written by another worker".into();
    *race.index.newer.lock().expect("lock") = Some((reread.record_key(), entry));
    race.queue.send_batch(&[reread]).await.expect("queued");
    race.drain_all().await;

    assert_eq!(
        race.project_name(&record_id),
        "Same",
        "HubSpot ends on Salesforce's newest state"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_another_writer_recorded_first_makes_the_worker_read_again() {
    let race = Race::start().await;
    let (id, first, newest) = race.project_that_moved_on("First", "Newest");
    let record_id = SalesforceId::parse(&id).expect("id");
    let change = race.project_named(&id, "First", first);
    // Two copies of the first state (an outbound message and its CDC event, say) on two
    // workers: the other one wrote HubSpot and recorded the state first. A third worker read
    // that entry, then wrote the newest state to HubSpot, before this one's HubSpot write.
    race.write_project_name(&record_id, "Newest").await;
    let hubspot_id = race
        .hubspot
        .handle()
        .record_by_unique("sf_project", "salesforce_id", record_id.as_str())
        .expect("read")
        .expect("written")
        .id
        .to_string();
    let entry = |modstamp, hash: &str| IndexEntry {
        hubspot_id: Some(hubspot_id.clone()),
        modstamp,
        content_hash: hash.into(),
        deleted: false,
        write_id: 0,
    };
    let key = change.record_key();
    *race.index.newer.lock().expect("lock") =
        Some((key.clone(), entry(first, "written by the other copy")));
    race.one_batch_shows(
        change,
        &record_id,
        "First",
        "this worker's late write of the first state landed over the newest",
    )
    .await;
    // The third worker records the newest state: the entry it read is still there, so it has
    // no reason to read again.
    let third = race
        .index
        .inner
        .put_if_newer(&key, &entry(newest, "written by the third worker"))
        .await
        .expect("index");
    assert!(
        matches!(third, IndexWrite::Written { previous, .. } if previous == Some(first)),
        "{third:?}"
    );

    race.drain_all().await;
    race.ends_on(&record_id, "Newest").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewrite_of_the_state_the_index_holds_is_told_from_the_entry_it_replaced() {
    let race = Race::start().await;
    let (id, record_id) = race.synced_project("Second").await;
    let key = race.read_now(&id).record_key();
    let recorded = race.index.get(&key).await.expect("index").expect("entry");
    let newest = race.rename(&id, "Newest");
    // This worker writes the newest state. Another one, re-writing the state the index holds
    // (a re-read, or a redelivery after a crash), read the same entry; its HubSpot write lands
    // after this one's, and it records its state again (same stamp) just before this one.
    *race.index.late_write.lock().expect("lock") =
        Some(race.write_project_name(&record_id, "Second"));
    *race.index.newer.lock().expect("lock") = Some((key.clone(), recorded.clone()));
    race.one_batch_shows(
        race.project_named(&id, "Newest", newest),
        &record_id,
        "Second",
        "the other writer's late write landed over the newest state",
    )
    .await;

    race.drain_all().await;
    race.ends_on(&record_id, "Newest").await;
}
