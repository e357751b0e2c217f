//! The worker's association, delete and retry rules on the embedded store with the real
//! clients against the sandboxes (what the chaos run found, one rule per test):
//! - a lookup that moves or is cleared leaves no association to the old parent;
//! - a change waiting for its association target does not spend the queue's receive count;
//! - a record deleted under `on_delete = "keep"` keeps the state it had when it was deleted;
//! - a record HubSpot refuses is dead-lettered with HubSpot's reason, even when a batch in
//!   between crashed on the queue's last receive;
//! - an outage never dead-letters a change, however many receives it takes;
//! - a re-read is not settled by an older state that came in the same batch;
//! - a delete archives the record a late write created again after an earlier archive.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sf2hs_sandbox::hubspot::{
    DEFAULT_TOKEN, FaultPlan, RunningSandbox, SandboxConfig, StoredRecord,
};
use sf2hs_sandbox::salesforce::{ObjectDefinition, RunningSalesforceSandbox, SalesforceHandle};
use sf2hs_shared::domain::{
    Change, ChangeKind, ChangeSource, FieldSnapshot, RecordKey, RereadReason, SalesforceId,
};
use sf2hs_shared::embedded::{EmbeddedStore, SqliteChangeQueue};
use sf2hs_shared::hubspot::{HubSpotClient, HubSpotConfig, TokenSource};
use sf2hs_shared::ports::{ChangeQueue, RecordIndex, SyncLog, SyncLogQuery, SyncOutcome};
use sf2hs_shared::worker::{Worker, WorkerSettings, drain_once};

struct Rig {
    salesforce: RunningSalesforceSandbox,
    hubspot: RunningSandbox,
    store: EmbeddedStore,
    queue: Arc<SqliteChangeQueue>,
    worker: Worker,
}

impl Rig {
    async fn start(max_receives: u32) -> Rig {
        Rig::start_with(max_receives, sf2hs_sandbox::demo::invoice_object()).await
    }

    async fn start_with(max_receives: u32, invoice: ObjectDefinition) -> Rig {
        let (salesforce, hubspot) = sf2hs_sandbox::demo::start_pair_with(
            SandboxConfig::default(),
            sf2hs_sandbox::demo::project_object(),
            invoice,
        )
        .await
        .expect("sandboxes");
        let store = sf2hs_tests::stack::embedded_store_with_mappings().await;
        let queue = Arc::new(store.change_queue(max_receives));
        let (salesforce_client, _) = sf2hs_tests::stack::sandbox_clients(&salesforce, &hubspot);
        // Two quick attempts per request: an outage reaches the worker in milliseconds.
        let mut config = HubSpotConfig::with_base_url(hubspot.base_url());
        config.retry.max_attempts = 2;
        config.retry.initial_backoff = Duration::from_millis(5);
        let hubspot_client = HubSpotClient::new(config, TokenSource::static_token(DEFAULT_TOKEN))
            .expect("HubSpot client");
        let worker = Worker::new(
            sf2hs_tests::stack::embedded_worker_ports(
                &store,
                queue.clone(),
                hubspot_client,
                salesforce_client,
            ),
            WorkerSettings {
                max_receives,
                retry_delay: Duration::ZERO,
                association_retry_delay: Duration::ZERO,
                ..WorkerSettings::default()
            },
        );
        Rig {
            salesforce,
            hubspot,
            store,
            queue,
            worker,
        }
    }

    fn sf(&self) -> SalesforceHandle {
        self.salesforce.handle()
    }

    fn org(&self) -> SalesforceId {
        SalesforceId::parse(&self.sf().org_id()).expect("org")
    }

    /// A re-read of each project, one every 60 ms: changes that trickle in.
    async fn trickle(&self, projects: &[String]) {
        for project in projects {
            tokio::time::sleep(Duration::from_millis(60)).await;
            self.send(&[self.reread("Project__c", project)]).await;
        }
    }

    /// A change that makes the worker read the record from Salesforce.
    fn reread(&self, object: &str, id: &str) -> Change {
        self.reread_for(object, id, RereadReason::PartialUpdate)
    }

    /// The same, for `reason` (the worker's own re-reads among them).
    fn reread_for(&self, object: &str, id: &str, reason: RereadReason) -> Change {
        Change {
            org_id: self.org(),
            object: object.into(),
            record_id: SalesforceId::parse(id).expect("id"),
            kind: ChangeKind::Reread {
                reason,
                partial: FieldSnapshot::new(),
            },
            modstamp: None,
            source: ChangeSource::Worker,
            received_at: chrono::Utc::now(),
            prior_deliveries: 0,
        }
    }

    async fn send(&self, changes: &[Change]) {
        self.queue.send_batch(changes).await.expect("queued");
    }

    /// Drains until nothing is visible; at most `rounds` batches. Returns the messages received.
    async fn drain(&self, rounds: usize) -> usize {
        let mut received = 0;
        for _ in 0..rounds {
            // What is queued now, at once: the rules count deliveries.
            let report =
                sf2hs_tests::stack::drain_what_is_queued(&self.worker, self.queue.as_ref()).await;
            if report.received == 0 {
                break;
            }
            received += report.received;
        }
        received
    }

    /// The live HubSpot record of a Salesforce record, if any.
    fn live(&self, object: &str, salesforce_id: &str) -> Option<StoredRecord> {
        let id = SalesforceId::parse(salesforce_id).expect("id");
        self.hubspot
            .handle()
            .record_by_unique(object, "salesforce_id", id.as_str())
            .expect("read")
    }

    fn hubspot_id(&self, object: &str, salesforce_id: &str) -> u64 {
        self.live(object, salesforce_id)
            .unwrap_or_else(|| panic!("{salesforce_id} is in HubSpot"))
            .id
    }

    /// A project created in Salesforce and synced to HubSpot.
    async fn synced_project(&self, name: &str, budget: u32) -> String {
        let project = self
            .sf()
            .create("Project__c", json!({ "Name": name, "Budget__c": budget }))
            .expect("project");
        self.send(&[self.reread("Project__c", &project)]).await;
        self.drain(5).await;
        project
    }

    /// Upserts a project's name in HubSpot by its Salesforce id, as a write sf2hs does not
    /// record (a late one of a batch that crashed or raced) would.
    async fn write_project_name(&self, id: &SalesforceId, name: &str) {
        let answer = reqwest::Client::new()
            .post(format!(
                "{}/crm/v3/objects/p_sf_project/batch/upsert",
                self.hubspot.base_url()
            ))
            .bearer_auth(DEFAULT_TOKEN)
            .json(
                &json!({ "inputs": [{ "id": id.as_str(), "idProperty": "salesforce_id",
                                         "properties": { "project_name": name } }] }),
            )
            .send()
            .await
            .expect("HubSpot answers");
        assert!(answer.status().is_success());
    }

    fn projects_of(&self, invoice: &str) -> Vec<u64> {
        let from = self.hubspot_id("sf_invoice", invoice);
        let mut to: Vec<u64> = self
            .hubspot
            .handle()
            .associations_of("sf_invoice", from, "sf_project")
            .expect("associations")
            .into_iter()
            .map(|(to, _)| to)
            .collect();
        to.sort_unstable();
        to
    }
}

fn invoice(project: Option<&str>, amount: f64) -> Value {
    json!({ "Name": "INV-1", "Amount__c": amount, "Status__c": "Draft", "Project__c": project })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lookup_that_moves_or_is_cleared_leaves_no_old_association() {
    let rig = Rig::start(5).await;
    let sf = rig.sf();
    let p1 = sf
        .create("Project__c", json!({ "Name": "P1", "Budget__c": 1 }))
        .expect("p1");
    let p2 = sf
        .create("Project__c", json!({ "Name": "P2", "Budget__c": 2 }))
        .expect("p2");
    let inv = sf
        .create("Invoice__c", invoice(Some(&p1), 10.0))
        .expect("invoice");
    rig.send(&[rig.reread("Project__c", &p1), rig.reread("Project__c", &p2)])
        .await;
    rig.drain(5).await;
    rig.send(&[rig.reread("Invoice__c", &inv)]).await;
    rig.drain(5).await;
    assert_eq!(
        rig.projects_of(&inv),
        vec![rig.hubspot_id("sf_project", &p1)]
    );

    sf.update("Invoice__c", &inv, json!({ "Project__c": p2 }))
        .expect("moved");
    rig.send(&[rig.reread("Invoice__c", &inv)]).await;
    rig.drain(5).await;
    assert_eq!(
        rig.projects_of(&inv),
        vec![rig.hubspot_id("sf_project", &p2)],
        "the association moved with the lookup"
    );

    sf.update("Invoice__c", &inv, json!({ "Project__c": null }))
        .expect("cleared");
    rig.send(&[rig.reread("Invoice__c", &inv)]).await;
    rig.drain(5).await;
    assert!(
        rig.projects_of(&inv).is_empty(),
        "a cleared lookup leaves no association"
    );
}

/// platform-behaviours.md H3: associations users made live beside the ones sf2hs writes; a
/// moved or cleared lookup removes only the one sf2hs recorded for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_lookup_leaves_the_associations_users_made() {
    let rig = Rig::start(5).await;
    let sf = rig.sf();
    let projects: Vec<String> = ["P1", "P2", "Users"]
        .iter()
        .enumerate()
        .map(|(n, name)| {
            sf.create("Project__c", json!({ "Name": name, "Budget__c": n }))
                .expect("project")
        })
        .collect();
    let inv = sf
        .create("Invoice__c", invoice(Some(&projects[0]), 10.0))
        .expect("invoice");
    let rereads: Vec<Change> = projects
        .iter()
        .map(|p| rig.reread("Project__c", p))
        .collect();
    rig.send(&rereads).await;
    rig.drain(5).await;
    rig.send(&[rig.reread("Invoice__c", &inv)]).await;
    rig.drain(5).await;

    // A HubSpot user links the invoice to a third project by hand.
    let (from, users) = (
        rig.hubspot_id("sf_invoice", &inv),
        rig.hubspot_id("sf_project", &projects[2]),
    );
    let answer = reqwest::Client::new()
        .post(format!(
            "{}/crm/v4/associations/p_sf_invoice/p_sf_project/batch/associate/default",
            rig.hubspot.base_url()
        ))
        .bearer_auth(DEFAULT_TOKEN)
        .json(&json!({ "inputs": [{ "from": { "id": from.to_string() },
                                    "to": { "id": users.to_string() } }] }))
        .send()
        .await
        .expect("HubSpot answers");
    assert!(answer.status().is_success());
    let mut expected = vec![rig.hubspot_id("sf_project", &projects[0]), users];
    expected.sort_unstable();
    assert_eq!(rig.projects_of(&inv), expected);

    sf.update("Invoice__c", &inv, json!({ "Project__c": projects[1] }))
        .expect("moved");
    rig.send(&[rig.reread("Invoice__c", &inv)]).await;
    rig.drain(5).await;
    let mut expected = vec![rig.hubspot_id("sf_project", &projects[1]), users];
    expected.sort_unstable();
    assert_eq!(
        rig.projects_of(&inv),
        expected,
        "the old link is gone, the user's stays"
    );

    sf.update("Invoice__c", &inv, json!({ "Project__c": null }))
        .expect("cleared");
    rig.send(&[rig.reread("Invoice__c", &inv)]).await;
    rig.drain(5).await;
    assert_eq!(
        rig.projects_of(&inv),
        vec![users],
        "a cleared lookup removes sf2hs's only"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_waiting_for_its_target_is_not_dead_lettered_by_the_receive_count() {
    // Two receives would dead-letter an ordinary retry on the second failure.
    let rig = Rig::start(2).await;
    let sf = rig.sf();
    let project = sf
        .create("Project__c", json!({ "Name": "Late", "Budget__c": 1 }))
        .expect("project");
    let inv = sf
        .create("Invoice__c", invoice(Some(&project), 5.0))
        .expect("invoice");
    rig.send(&[rig.reread("Invoice__c", &inv)]).await;
    for _ in 0..6 {
        rig.drain(1).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let depth = rig.queue.depth().await.expect("depth");
    assert_eq!(depth.dead, 0, "still waiting, not dead-lettered: {depth:?}");
    assert_eq!(depth.visible + depth.delayed, 1, "{depth:?}");
    assert!(rig.projects_of(&inv).is_empty(), "no target yet");

    rig.send(&[rig.reread("Project__c", &project)]).await;
    for _ in 0..20 {
        rig.drain(5).await;
        let depth = rig.queue.depth().await.expect("depth");
        if depth.visible + depth.delayed + depth.in_flight == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        rig.projects_of(&inv),
        vec![rig.hubspot_id("sf_project", &project)],
        "associated once the target arrived"
    );
    assert_eq!(rig.queue.depth().await.expect("depth").dead, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_kept_after_its_delete_shows_its_last_state() {
    let rig = Rig::start(5).await;
    let sf = rig.sf();
    let inv = sf
        .create("Invoice__c", invoice(None, 10.0))
        .expect("invoice");
    rig.send(&[rig.reread("Invoice__c", &inv)]).await;
    rig.drain(5).await;

    // The update and the delete arrive together: the delete supersedes the update in the
    // batch, and the update's re-read finds the record deleted.
    sf.update(
        "Invoice__c",
        &inv,
        json!({ "Amount__c": 20, "Status__c": "Paid" }),
    )
    .expect("updated");
    sf.delete("Invoice__c", &inv).expect("deleted");
    let deleted_at = sf
        .record("Invoice__c", &inv)
        .expect("read")
        .expect("in the recycle bin")
        .system_modstamp;
    let delete = Change {
        kind: ChangeKind::Delete,
        modstamp: Some(deleted_at),
        ..rig.reread("Invoice__c", &inv)
    };
    rig.send(&[rig.reread("Invoice__c", &inv), delete]).await;
    rig.drain(5).await;

    let id = SalesforceId::parse(&inv).expect("id");
    let kept = rig
        .hubspot
        .handle()
        .record_by_unique("sf_invoice", "salesforce_id", id.as_str())
        .expect("read")
        .expect("kept in HubSpot (on_delete = keep)");
    assert_eq!(
        kept.properties.get("amount").map(String::as_str),
        Some("20")
    );
    assert_eq!(
        kept.properties.get("invoice_status").map(String::as_str),
        Some("Paid")
    );
    let entry = rig
        .store
        .record_index()
        .get(&RecordKey {
            object: "Invoice__c".into(),
            record_id: id,
        })
        .await
        .expect("index")
        .expect("entry");
    assert!(entry.deleted, "the index knows it is deleted in Salesforce");
}

/// Delivers what is visible and drops it unsettled, as a batch whose function crashed or timed
/// out: the queue counts the receive, nothing else happens.
async fn crash_once(queue: &SqliteChangeQueue) -> usize {
    let received = queue
        .receive(10, Duration::from_millis(1))
        .await
        .expect("received");
    tokio::time::sleep(Duration::from_millis(5)).await;
    received.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_record_is_dead_lettered_with_hubspots_reason_after_a_crash_in_between() {
    // Three tries; HubSpot's status property has no option for "Void".
    let rig = Rig::start_with(
        3,
        sf2hs_sandbox::demo::invoice_object_with_statuses(&["Draft", "Sent", "Paid", "Void"]),
    )
    .await;
    let sf = rig.sf();
    let inv = sf
        .create(
            "Invoice__c",
            json!({ "Name": "INV-V", "Amount__c": 1, "Status__c": "Void" }),
        )
        .expect("invoice");
    rig.send(&[rig.reread("Invoice__c", &inv)]).await;

    // Two tries refused, then the third receive crashes: the queue's own count is spent.
    rig.drain(1).await;
    rig.drain(1).await;
    assert_eq!(
        rig.queue.depth().await.expect("depth").dead,
        0,
        "tries left"
    );
    assert_eq!(crash_once(&rig.queue).await, 1, "the change was delivered");
    rig.drain(1).await;

    let dead = rig.queue.dead_letters(10).await.expect("dead letters");
    assert_eq!(dead.len(), 1, "dead-lettered once: {dead:?}");
    assert_eq!(
        dead[0].change.record_id.as_str(),
        SalesforceId::parse(&inv).expect("id").as_str()
    );
    assert!(
        dead[0].reason.contains("HubSpot refused the record") && dead[0].reason.contains("Void"),
        "the worker's reason, not the queue's: {}",
        dead[0].reason
    );
    let depth = rig.queue.depth().await.expect("depth");
    assert_eq!(
        depth.visible + depth.delayed + depth.in_flight,
        0,
        "{depth:?}"
    );

    // Each refused try is in the sync log, with the same reason.
    let entries = rig
        .store
        .sync_log()
        .query(&SyncLogQuery {
            record_id: SalesforceId::parse(&inv).ok(),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("sync log");
    let outcomes: Vec<SyncOutcome> = entries.iter().map(|e| e.outcome).collect();
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == SyncOutcome::Failed)
            .count(),
        2,
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == SyncOutcome::DeadLettered)
            .count(),
        1,
        "{outcomes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_never_dead_letters_a_change() {
    // Two receives would dead-letter the change on the third if an outage spent them.
    let rig = Rig::start(2).await;
    let sf = rig.sf();
    let project = sf
        .create("Project__c", json!({ "Name": "Through", "Budget__c": 3 }))
        .expect("project");
    rig.hubspot
        .handle()
        .set_faults(FaultPlan {
            rate_503: 1.0,
            ..FaultPlan::default()
        })
        .expect("faults");
    rig.send(&[rig.reread("Project__c", &project)]).await;
    let mut received = 0;
    for _ in 0..200 {
        received += rig.drain(1).await;
        if received >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(received >= 5, "the change came back {received} times");
    let depth = rig.queue.depth().await.expect("depth");
    assert_eq!(
        depth.dead, 0,
        "an outage is not the record's fault: {depth:?}"
    );
    assert_eq!(
        depth.visible + depth.delayed + depth.in_flight,
        1,
        "still queued: {depth:?}"
    );

    rig.hubspot.handle().clear_faults().expect("faults cleared");
    rig.drain(5).await;
    rig.hubspot_id("sf_project", &project);
    let depth = rig.queue.depth().await.expect("depth");
    assert_eq!(
        depth.dead + depth.visible + depth.delayed + depth.in_flight,
        0,
        "{depth:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_found_deleted_then_undeleted_is_written_again() {
    // The org's clock runs a week behind this machine's, as Salesforce's may run behind the
    // worker's by a little: the time a change was received must never stand in for
    // Salesforce's time in the index.
    let rig = Rig::start(5).await;
    let sf = rig.sf();
    assert!(sf.now() < chrono::Utc::now() - chrono::TimeDelta::days(1));
    let project = rig.synced_project("Back", 1).await;
    rig.hubspot_id("sf_project", &project);
    let id = SalesforceId::parse(&project).expect("id");
    let live = || {
        rig.hubspot
            .handle()
            .record_by_unique("sf_project", "salesforce_id", id.as_str())
            .expect("read")
    };

    // A re-read finds the record gone: archived (the demo's projects use on_delete = archive).
    sf.delete("Project__c", &project).expect("deleted");
    rig.send(&[rig.reread("Project__c", &project)]).await;
    rig.drain(5).await;
    assert!(live().is_none(), "archived in HubSpot");

    sf.undelete("Project__c", &project).expect("undeleted");
    sf.update("Project__c", &project, json!({ "Name": "Back again" }))
        .expect("updated");
    rig.send(&[rig.reread("Project__c", &project)]).await;
    rig.drain(5).await;
    let record = live().expect("back in HubSpot after the undelete");
    assert_eq!(record.properties["project_name"], "Back again");
}

/// A full snapshot of an invoice, as an outbound message carries it.
fn invoice_snapshot(rig: &Rig, id: &str, amount: Value) -> Change {
    let fields: FieldSnapshot = [
        ("Name".to_owned(), json!("INV-X")),
        ("Amount__c".to_owned(), amount),
        ("Status__c".to_owned(), json!("Draft")),
        ("Project__c".to_owned(), Value::Null),
    ]
    .into_iter()
    .collect();
    Change {
        kind: ChangeKind::Upsert { fields },
        modstamp: Some(chrono::Utc::now()),
        ..rig.reread("Invoice__c", id)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_dead_lettered_with_the_field_the_record_and_what_to_do() {
    let rig = Rig::start(1).await;
    let sf = rig.sf();
    let inv = sf
        .create("Invoice__c", invoice(None, 1.0))
        .expect("invoice");
    // A value the mapping cannot convert, and a change of an object no mapping covers.
    let unconvertible = invoice_snapshot(&rig, &inv, json!("twelve"));
    let unmapped = Change {
        object: "Contract".into(),
        ..rig.reread("Invoice__c", &inv)
    };
    rig.send(&[unconvertible, unmapped]).await;
    rig.drain(5).await;

    let dead = rig.queue.dead_letters(10).await.expect("dead letters");
    assert_eq!(dead.len(), 2, "{dead:?}");
    let reason_of = |object: &str| {
        dead.iter()
            .find(|d| d.change.object == object)
            .map(|d| d.reason.clone())
            .unwrap_or_else(|| panic!("no dead letter for {object}: {dead:?}"))
    };
    let conversion = reason_of("Invoice__c");
    assert!(
        conversion.contains("Amount__c") && conversion.contains("twelve"),
        "names the field and the value: {conversion}"
    );
    let unmapped = reason_of("Contract");
    assert!(
        unmapped.contains("no mapping for `Contract`") && unmapped.contains("sf2hs mappings apply"),
        "says what to do: {unmapped}"
    );
    let id = SalesforceId::parse(&inv).expect("id");
    assert!(
        rig.hubspot
            .handle()
            .record_by_unique("sf_invoice", "salesforce_id", id.as_str())
            .expect("read")
            .is_none(),
        "nothing half-written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_change_is_written_again_even_when_the_index_says_unchanged() {
    let rig = Rig::start(5).await;
    let project = rig.synced_project("Kept", 4).await;
    let id = SalesforceId::parse(&project).expect("id");

    // What the late writes of a batch that crashed before recording them leave behind: HubSpot
    // holds other values than the index says were written.
    rig.write_project_name(&id, "Stale").await;

    // A first delivery of the unchanged record trusts the index; a redelivery does not.
    let name = || {
        rig.hubspot
            .handle()
            .record_by_unique("sf_project", "salesforce_id", id.as_str())
            .expect("read")
            .expect("in HubSpot")
            .properties["project_name"]
            .clone()
    };
    rig.send(&[rig.reread("Project__c", &project)]).await;
    rig.drain(5).await;
    assert_eq!(name(), "Stale", "skipped as unchanged");
    rig.send(&[rig.reread("Project__c", &project)]).await;
    assert_eq!(crash_once(&rig.queue).await, 1);
    rig.drain(5).await;
    assert_eq!(
        name(),
        "Kept",
        "the redelivery wrote Salesforce's state again"
    );
}

/// The record's state as Salesforce has it now, as an outbound message carries it: every field
/// with its `SystemModstamp`.
fn snapshot_now(rig: &Rig, object: &str, id: &str) -> Change {
    let record = rig.sf().record(object, id).expect("read").expect("exists");
    Change {
        kind: ChangeKind::Upsert {
            fields: record.values.clone(),
        },
        modstamp: Some(record.system_modstamp),
        ..rig.reread(object, id)
    }
}

fn amount_in_hubspot(rig: &Rig, invoice: &str) -> String {
    rig.live("sf_invoice", invoice)
        .expect("in HubSpot")
        .properties["amount"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_re_read_is_not_settled_by_an_older_state_that_came_with_it() {
    // What the chaos run found (an invoice left on an older state): a change was written but
    // its project was not in HubSpot yet, so it waited (unrecorded in the index) as a re-read.
    // The re-read came back in one batch with a late duplicate of an older outbound message.
    // The duplicate won the batch on its stamp (a re-read has none), its older state was
    // written, and the re-read was settled with it, unread.
    let rig = Rig::start(5).await;
    let sf = rig.sf();
    let project = rig.synced_project("Target", 1).await;
    let inv = sf
        .create("Invoice__c", invoice(Some(&project), 1.0))
        .expect("invoice");
    let older = snapshot_now(&rig, "Invoice__c", &inv);
    std::thread::sleep(Duration::from_millis(5));
    sf.update("Invoice__c", &inv, json!({ "Amount__c": 2.0 }))
        .expect("updated");

    let waiting = rig.reread_for("Invoice__c", &inv, RereadReason::AssociationPending);
    rig.send(&[waiting, older]).await;
    rig.drain(5).await;

    assert_eq!(
        amount_in_hubspot(&rig, &inv),
        "2",
        "HubSpot shows Salesforce's newest state"
    );
    assert_eq!(
        rig.projects_of(&inv),
        vec![rig.hubspot_id("sf_project", &project)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_re_read_after_a_lost_race_is_not_settled_by_an_older_state() {
    let rig = Rig::start(5).await;
    let sf = rig.sf();
    let project = sf
        .create("Project__c", json!({ "Name": "First", "Budget__c": 1 }))
        .expect("project");
    let older = snapshot_now(&rig, "Project__c", &project);
    rig.send(std::slice::from_ref(&older)).await;
    rig.drain(5).await;
    std::thread::sleep(Duration::from_millis(5));
    sf.update("Project__c", &project, json!({ "Name": "Newest" }))
        .expect("updated");

    // Another worker wrote the newest state and recorded it; this one's late write of the
    // first state landed over it in HubSpot, and its stale index write asked for a re-read.
    let index = rig.store.record_index();
    let key = older.record_key();
    let mut entry = index.get(&key).await.expect("index").expect("entry");
    entry.modstamp = sf
        .record("Project__c", &project)
        .expect("read")
        .expect("exists")
        .system_modstamp;
    entry.content_hash = "the other worker's".into();
    index.put_if_newer(&key, &entry).await.expect("recorded");
    let after_race = rig.reread_for("Project__c", &project, RereadReason::ConcurrentUpdate);
    // A duplicate of the first state's message comes in the same batch.
    rig.send(&[after_race, older]).await;
    rig.drain(5).await;

    let record = rig.live("sf_project", &project).expect("in HubSpot");
    assert_eq!(record.properties["project_name"], "Newest");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_archives_the_record_a_late_write_created_again() {
    // What the chaos run found (deleted projects still live): a worker writing an older state
    // raced the delete; its upsert landed after the archive and, archived records having left
    // HubSpot's unique index, created a new record. Its stale index write asked for a re-read,
    // which found the record deleted and archived the index's HubSpot id: the old record.
    let rig = Rig::start(5).await;
    let sf = rig.sf();
    let project = rig.synced_project("Gone", 1).await;
    let first = rig.hubspot_id("sf_project", &project);
    sf.delete("Project__c", &project).expect("deleted");
    rig.send(&[rig.reread("Project__c", &project)]).await;
    rig.drain(5).await;
    let id = SalesforceId::parse(&project).expect("id");
    let live = || rig.live("sf_project", &project);
    assert!(live().is_none(), "archived");

    rig.write_project_name(&id, "Gone").await;
    let again = rig.hubspot_id("sf_project", &project);
    assert_ne!(again, first, "a new record");

    rig.send(&[rig.reread_for("Project__c", &project, RereadReason::ConcurrentUpdate)])
        .await;
    rig.drain(5).await;
    assert!(
        live().is_none(),
        "the record made again is archived too: {:?}",
        live()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_gathers_the_changes_that_arrive_within_its_window() {
    let rig = Rig::start(5).await;
    let projects = trickle_projects(&rig, "Trickle", 4);
    let upserts = || upsert_calls(&rig);

    // Without a window the batch is what is queued at the moment: one change.
    rig.send(&[rig.reread("Project__c", &projects[0])]).await;
    let alone = drain_once(
        &rig.worker,
        rig.queue.as_ref(),
        100,
        Duration::from_secs(30),
        Duration::ZERO,
    )
    .await
    .expect("drained");
    assert_eq!(alone.received, 1);
    assert_eq!(upserts(), 1);

    // With one, the changes that trickle in meanwhile ride in the same HubSpot call.
    rig.send(&[rig.reread("Project__c", &projects[1])]).await;
    let later = rig.trickle(&projects[2..]);
    let (gathered, ()) = tokio::join!(
        drain_once(
            &rig.worker,
            rig.queue.as_ref(),
            100,
            Duration::from_secs(30),
            Duration::from_millis(1_000),
        ),
        later
    );
    assert_eq!(gathered.expect("drained").received, 3);
    assert_eq!(upserts(), 2, "one HubSpot call for the three");
    assert_eq!(rig.hubspot.handle().count("sf_project").expect("count"), 4);
}

/// `count` projects in Salesforce, named `{prefix} {n}`, for the batching-window tests.
fn trickle_projects(rig: &Rig, prefix: &str, count: usize) -> Vec<String> {
    let sf = rig.sf();
    (0..count)
        .map(|i| {
            sf.create(
                "Project__c",
                json!({ "Name": format!("{prefix} {i}"), "Budget__c": i }),
            )
            .expect("project")
        })
        .collect()
}

/// HubSpot batch-upsert calls so far.
fn upsert_calls(rig: &Rig) -> u64 {
    rig.hubspot
        .handle()
        .stats()
        .expect("stats")
        .calls_matching("batch/upsert")
}

/// The paced window: the first change after a pause goes at once; the next batch waits for the
/// spacing the budget allows (a nearly spent portal: the longest window) and gathers what
/// trickles in meanwhile; and one worker gathers at a time, so a second worker draining beside
/// it does not split the trickle into calls of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paced_batch_goes_when_the_budget_allows_and_gathers_what_trickles_in() {
    struct Spent;
    impl sf2hs_shared::worker::RateBudget for Spent {
        fn usage(&self) -> (u32, u32, Duration) {
            // 2 of 190 left: the spacing is the longest window.
            (188, 190, Duration::from_secs(10))
        }
    }
    let rig = Rig::start(5).await;
    let projects = trickle_projects(&rig, "Paced", 5);
    let upserts = || upsert_calls(&rig);
    let pacer = sf2hs_shared::worker::BatchPacer::new(
        Box::new(Spent),
        sf2hs_shared::worker::LIVE_SHARE,
        Duration::from_millis(800),
    );
    let drain = || {
        sf2hs_shared::worker::drain_paced(
            &rig.worker,
            rig.queue.as_ref(),
            100,
            Duration::from_secs(30),
            &pacer,
        )
    };

    let started = std::time::Instant::now();
    rig.send(&[rig.reread("Project__c", &projects[0])]).await;
    let first = drain().await.expect("drained");
    assert_eq!(first.received, 1, "the first batch waits for nothing");
    assert!(
        started.elapsed() < Duration::from_millis(700),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(upserts(), 1);

    rig.send(&[rig.reread("Project__c", &projects[1])]).await;
    let later = rig.trickle(&projects[2..]);
    let (one, other, ()) = tokio::join!(drain(), drain(), later);
    let (one, other) = (one.expect("drained"), other.expect("drained"));
    assert_eq!(
        (
            one.received + other.received,
            one.received.min(other.received)
        ),
        (4, 0),
        "one gatherer took the four; the other found nothing: {one:?} {other:?}"
    );
    assert_eq!(upserts(), 2, "one HubSpot call for the four");
    assert_eq!(rig.hubspot.handle().count("sf_project").expect("count"), 5);
}

/// A project's state as Salesforce has it now, carried by a change (as an outbound message
/// carries it): its mapped fields and its `SystemModstamp`.
fn carried_project(rig: &Rig, id: &str) -> Change {
    let record = rig
        .sf()
        .record("Project__c", id)
        .expect("read")
        .expect("exists");
    let fields: FieldSnapshot = ["Name", "Budget__c"]
        .iter()
        .filter_map(|f| Some(((*f).to_owned(), record.values.get(*f)?.clone())))
        .collect();
    Change {
        kind: ChangeKind::Upsert { fields },
        modstamp: Some(record.system_modstamp),
        ..rig.reread("Project__c", id)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_older_state_with_the_same_stamp_does_not_overwrite_the_newer() {
    // platform-behaviours.md S1: two updates within one second share their stamp.
    let rig = Rig::start(5).await;
    let sf = rig.sf();
    let project = rig.synced_project("Start", 1).await;
    sf.advance_clock(chrono::TimeDelta::seconds(1))
        .expect("a fresh second");
    sf.update("Project__c", &project, json!({ "Name": "Older" }))
        .expect("first edit");
    let older = carried_project(&rig, &project);
    sf.update("Project__c", &project, json!({ "Name": "Newer" }))
        .expect("second edit");
    let newer = carried_project(&rig, &project);
    assert_eq!(older.modstamp, newer.modstamp, "one second, one stamp");

    rig.send(&[newer]).await;
    rig.drain(5).await;
    rig.send(&[older]).await;
    rig.drain(5).await;
    let name = rig
        .live("sf_project", &project)
        .and_then(|r| r.properties.get("project_name").cloned());
    assert_eq!(
        name.as_deref(),
        Some("Newer"),
        "HubSpot shows Salesforce's state"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_create_in_the_same_second_as_its_delete_does_not_bring_it_back() {
    let rig = Rig::start(5).await;
    let sf = rig.sf();
    sf.advance_clock(chrono::TimeDelta::seconds(1))
        .expect("a fresh second");
    let project = sf
        .create("Project__c", json!({ "Name": "Brief", "Budget__c": 1 }))
        .expect("created");
    let created = carried_project(&rig, &project);
    sf.delete("Project__c", &project).expect("deleted");
    let deleted_at = sf
        .record("Project__c", &project)
        .expect("read")
        .expect("in the recycle bin")
        .system_modstamp;
    assert_eq!(created.modstamp, Some(deleted_at), "one second, one stamp");
    let delete = Change {
        kind: ChangeKind::Delete,
        modstamp: Some(deleted_at),
        ..rig.reread("Project__c", &project)
    };

    rig.send(&[delete]).await;
    rig.drain(5).await;
    rig.send(&[created]).await;
    rig.drain(5).await;
    assert!(
        rig.live("sf_project", &project).is_none(),
        "deleted in Salesforce, so not in HubSpot"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_hidden_from_the_integration_user_is_not_archived() {
    // platform-behaviours.md S5: a retrieve answers nothing for it, as for a deleted record.
    let rig = Rig::start(1).await;
    let project = rig.synced_project("Shared", 1).await;
    rig.sf()
        .set_hidden("Project__c", &project, true)
        .expect("sharing changed");
    rig.send(&[rig.reread("Project__c", &project)]).await;
    rig.drain(5).await;
    assert!(
        rig.live("sf_project", &project).is_some(),
        "a sharing change archives nothing"
    );
    let entries = rig
        .store
        .sync_log()
        .query(&SyncLogQuery {
            record_id: SalesforceId::parse(&project).ok(),
            limit: 1,
            ..Default::default()
        })
        .await
        .expect("sync log");
    let reason = entries[0].reason.clone().unwrap_or_default();
    assert_eq!(entries[0].outcome, SyncOutcome::DeadLettered, "{reason}");
    assert!(
        reason.starts_with("not visible to the integration user"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_cleared_in_salesforce_is_cleared_by_its_outbound_message() {
    // platform-behaviours.md S2: the notification leaves the null field out, as it leaves out
    // a field its action does not send; the action's definition tells them apart.
    let rig = Rig::start(5).await;
    let sf = rig.sf();
    let project = rig.synced_project("Budgeted", 7).await;
    let live = |property: &str| {
        rig.live("sf_project", &project)
            .and_then(|r| r.properties.get(property).cloned())
    };
    assert_eq!(live("budget").as_deref(), Some("7"));
    sf.advance_clock(chrono::TimeDelta::seconds(1))
        .expect("clock");
    sf.update("Project__c", &project, json!({ "Budget__c": null }))
        .expect("budget cleared");

    // The action sends Name, Budget__c and the stamp (so the state is carried, not read); the
    // message Salesforce renders has no Budget__c.
    let config = sf2hs_sandbox::salesforce::senders::outbound::OutboundMessageConfig::new(
        "http://127.0.0.1:9/unused",
        "Project__c",
        &["Name", "Budget__c", "SystemModstamp"],
    );
    let sender =
        sf2hs_sandbox::salesforce::senders::outbound::OutboundSender::new(sf.clone(), config)
            .expect("sender");
    let body = sender
        .render(&[("04l000000000001AAA".to_owned(), project.clone())])
        .expect("rendered");
    assert!(!body.contains("Budget__c"), "nulls are left out: {body}");
    let message = sf2hs_shared::salesforce::intake::outbound::parse_outbound_message(
        body.as_bytes(),
        1 << 20,
    )
    .expect("parsed");
    let changes = message.into_changes(chrono::Utc::now());
    assert!(
        matches!(changes[0].kind, ChangeKind::Upsert { .. }),
        "the state is carried: {:?}",
        changes[0].kind
    );
    rig.send(&changes).await;
    rig.drain(5).await;

    assert_eq!(live("project_name").as_deref(), Some("Budgeted"));
    assert!(
        live("budget").is_none_or(|b| b.is_empty()),
        "cleared in HubSpot as in Salesforce: {:?}",
        live("budget")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_longer_than_hubspot_takes_fails_its_record_only() {
    // platform-behaviours.md H2: HubSpot takes at most 65,536 characters per value.
    let rig = Rig::start(5).await;
    let projects: Vec<String> = (0..3)
        .map(|n| {
            rig.sf()
                .create(
                    "Project__c",
                    json!({ "Name": format!("P{n}"), "Budget__c": n }),
                )
                .expect("project")
        })
        .collect();
    let mut changes: Vec<Change> = projects.iter().map(|p| carried_project(&rig, p)).collect();
    if let ChangeKind::Upsert { fields } = &mut changes[1].kind {
        // A long text area's worth, as an outbound message carries it.
        fields.insert("Name".into(), json!("x".repeat(70_000)));
    }
    rig.send(&changes).await;
    rig.drain(5).await;

    assert!(rig.live("sf_project", &projects[0]).is_some());
    assert!(rig.live("sf_project", &projects[2]).is_some());
    assert!(rig.live("sf_project", &projects[1]).is_none());
    let entries = rig
        .store
        .sync_log()
        .query(&SyncLogQuery {
            record_id: SalesforceId::parse(&projects[1]).ok(),
            limit: 1,
            ..Default::default()
        })
        .await
        .expect("sync log");
    let reason = entries[0].reason.clone().unwrap_or_default();
    assert_eq!(entries[0].outcome, SyncOutcome::DeadLettered, "{reason}");
    assert!(
        reason.contains("70000 characters") && reason.contains("65536"),
        "which field, how long, the limit: {reason}"
    );
}

/// `sf2hs health` and the console group failures by the category read from the reason the
/// worker logs (`sf2hs_shared::health::classify`): each kind of failure driven through the
/// worker here, against the sandboxes, lands in its category with its field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_categories() {
    use sf2hs_shared::health::{Category, Health};

    let rig = Rig::start_with(
        1,
        sf2hs_sandbox::demo::invoice_object_with_statuses(&["Draft", "Sent", "Paid", "Void"]),
    )
    .await;
    let sf = rig.sf();
    let project = sf
        .create("Project__c", json!({ "Name": "Not yet", "Budget__c": 1 }))
        .expect("project");
    let waiting = sf
        .create("Invoice__c", invoice(Some(&project), 5.0))
        .expect("invoice");
    let refused = sf
        .create(
            "Invoice__c",
            json!({ "Name": "INV-V", "Amount__c": 1, "Status__c": "Void" }),
        )
        .expect("invoice");
    let unconvertible = sf
        .create("Invoice__c", invoice(None, 1.0))
        .expect("invoice");
    let hidden = rig.synced_project("Shared", 1).await;
    sf.set_hidden("Project__c", &hidden, true).expect("hidden");
    rig.send(&[
        rig.reread("Invoice__c", &waiting),
        rig.reread("Invoice__c", &refused),
        invoice_snapshot(&rig, &unconvertible, json!("twelve")),
        Change {
            object: "Contract".into(),
            ..rig.reread("Invoice__c", &unconvertible)
        },
        rig.reread("Project__c", &hidden),
    ])
    .await;
    rig.drain(3).await;

    let entries = rig
        .store
        .sync_log()
        .query(&SyncLogQuery::default())
        .await
        .expect("sync log");
    let health = Health::from_entries(&entries, None);
    let group_of = |object: &str, id: &str| {
        let id = SalesforceId::parse(id).expect("id");
        health
            .groups
            .iter()
            .find(|g| g.salesforce_object == object && g.failing.iter().any(|r| r.record_id == id))
            .unwrap_or_else(|| panic!("{object} {id} fails in no group: {health:#?}"))
    };
    let waiting_group = group_of("Invoice__c", &waiting);
    assert_eq!(waiting_group.kind.category, Category::AssociationTarget);
    assert_eq!(waiting_group.kind.field.as_deref(), Some("Project__c"));
    let refused_group = group_of("Invoice__c", &refused);
    assert_eq!(refused_group.kind.category, Category::HubSpotRefused);
    assert!(
        refused_group.kind.hubspot_category.is_some(),
        "{refused_group:?}"
    );
    assert_eq!(
        refused_group.kind.field.as_deref(),
        Some("invoice_status"),
        "{refused_group:#?}"
    );
    let conversion_group = group_of("Invoice__c", &unconvertible);
    assert_eq!(conversion_group.kind.category, Category::Conversion);
    assert_eq!(conversion_group.kind.field.as_deref(), Some("Amount__c"));
    assert_eq!(
        group_of("Contract", &unconvertible).kind.category,
        Category::Mapping
    );
    assert_eq!(
        group_of("Project__c", &hidden).kind.category,
        Category::NotVisible
    );
    assert_eq!(health.failing_records, 5, "{health:#?}");
}
