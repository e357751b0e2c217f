//! In-memory HubSpot and Salesforce for the stages' own tests, and a rig that runs the worker
//! on them with an in-memory embedded store. Rules against the documented APIs are tested with
//! the sandbox (`tests/`); these test the worker's own decisions, fast and without HTTP.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;

use super::{BatchResult, Disposition, InboundMessage, Worker, WorkerPorts, WorkerSettings};
use crate::domain::{Change, ChangeKind, ChangeSource, FieldSnapshot, RecordKey, SalesforceId};
use crate::embedded::EmbeddedStore;
use crate::mapping::{
    AssociationMapping, AssociationTarget, Conversion, DeleteRule, FieldMapping, HubSpotObjectRef,
    Mapping, MappingStatus,
};
use crate::ports::{
    AssociationPair, ChangeQueue, HubSpotRecords, IndexEntry, MappingStore, RecordIndex,
    RemoteError, SalesforceRecords, SyncLog, SyncLogEntry, SyncLogQuery, UpsertRecord,
    WriteOutcome,
};

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// HubSpot records by object and id-property value, with the calls made.
#[derive(Default)]
pub struct FakeHubSpot {
    state: Mutex<HubSpotState>,
}

#[derive(Default)]
pub struct HubSpotState {
    next_id: u64,
    /// (object, id value) → (HubSpot id, properties).
    pub records: BTreeMap<(String, String), (String, BTreeMap<String, String>)>,
    pub archived: HashSet<String>,
    /// (from HubSpot id, to HubSpot id).
    pub associations: HashSet<(String, String)>,
    pub calls: Vec<&'static str>,
    /// Id values HubSpot refuses in an upsert, with its message.
    pub refuse: HashMap<String, String>,
    /// The next call of any kind fails with this.
    pub outage: Option<RemoteError>,
    /// objectTypeIds by the name a mapping writes; a name not here resolves to itself.
    pub object_ids: HashMap<String, String>,
    /// Objects (as paths name them) HubSpot no longer knows: an upsert to one is refused.
    pub unknown_objects: HashSet<String>,
    /// (object, id value) of a record made by another writer just after the first lookup
    /// that missed it: the next lookup finds it.
    pub appear_on_second_lookup: Option<(String, String)>,
}

impl FakeHubSpot {
    pub fn state(&self) -> MutexGuard<'_, HubSpotState> {
        lock(&self.state)
    }

    /// Adds a live record as if synced before (or made by hand); returns its HubSpot id.
    pub fn put(&self, object: &str, id_value: &str) -> String {
        let mut state = self.state();
        state.next_id += 1;
        let id = format!("hs{}", state.next_id);
        state.records.insert(
            (object.to_owned(), id_value.to_owned()),
            (id.clone(), BTreeMap::new()),
        );
        id
    }

    pub fn property(&self, object: &str, id_value: &str, property: &str) -> Option<String> {
        self.state()
            .records
            .get(&(object.to_owned(), id_value.to_owned()))
            .and_then(|(_, properties)| properties.get(property).cloned())
    }

    fn call(&self, name: &'static str) -> Result<MutexGuard<'_, HubSpotState>, RemoteError> {
        let mut state = self.state();
        state.calls.push(name);
        match state.outage.take() {
            Some(e) => Err(e),
            None => Ok(state),
        }
    }
}

#[async_trait]
impl HubSpotRecords for FakeHubSpot {
    async fn object_type_id(
        &self,
        object: &HubSpotObjectRef,
    ) -> Result<Option<String>, RemoteError> {
        let state = self.state();
        let id = state
            .object_ids
            .get(object.as_str())
            .cloned()
            .unwrap_or_else(|| object.as_str().to_owned());
        Ok((!state.unknown_objects.contains(&id)).then_some(id))
    }

    async fn upsert(
        &self,
        object: &HubSpotObjectRef,
        _id_property: &str,
        records: &[UpsertRecord],
    ) -> Result<HashMap<String, WriteOutcome>, RemoteError> {
        let mut state = self.call("upsert")?;
        if state.unknown_objects.contains(object.as_str()) {
            return Err(RemoteError::UnknownObject {
                reason: format!("HubSpot has no object `{object}`"),
            });
        }
        let mut outcomes = HashMap::new();
        for record in records {
            if let Some(message) = state.refuse.get(&record.id_value).cloned() {
                let failed = WriteOutcome::Failed {
                    message,
                    category: None,
                    property: None,
                    retryable: false,
                };
                outcomes.insert(record.id_value.clone(), failed);
                continue;
            }
            let key = (object.as_str().to_owned(), record.id_value.clone());
            let created = !state.records.contains_key(&key);
            if created {
                state.next_id += 1;
                let id = format!("hs{}", state.next_id);
                state.records.insert(key.clone(), (id, BTreeMap::new()));
            }
            let Some(entry) = state.records.get_mut(&key) else {
                continue;
            };
            entry.1.extend(record.properties.clone());
            let hubspot_id = entry.0.clone();
            outcomes.insert(
                record.id_value.clone(),
                WriteOutcome::Written {
                    hubspot_id,
                    created,
                },
            );
        }
        Ok(outcomes)
    }

    async fn archive(&self, _: &HubSpotObjectRef, ids: &[String]) -> Result<(), RemoteError> {
        let mut state = self.call("archive")?;
        state.records.retain(|_, (id, _)| !ids.contains(id));
        state.archived.extend(ids.iter().cloned());
        Ok(())
    }

    async fn find_by_unique(
        &self,
        object: &HubSpotObjectRef,
        _id_property: &str,
        values: &[String],
    ) -> Result<HashMap<String, String>, RemoteError> {
        let mut state = self.call("find_by_unique")?;
        if let Some((appear_in, appear)) = state.appear_on_second_lookup.clone()
            && appear_in == object.as_str()
            && values.contains(&appear)
        {
            let looked_before = state
                .calls
                .iter()
                .filter(|c| **c == "find_by_unique")
                .count()
                > 1;
            if looked_before {
                state.appear_on_second_lookup = None;
                state.next_id += 1;
                let id = format!("hs{}", state.next_id);
                state
                    .records
                    .insert((appear_in, appear), (id, BTreeMap::new()));
            }
        }
        Ok(values
            .iter()
            .filter_map(|value| {
                state
                    .records
                    .get(&(object.as_str().to_owned(), value.clone()))
                    .map(|(id, _)| (value.clone(), id.clone()))
            })
            .collect())
    }

    async fn associate(
        &self,
        _: &HubSpotObjectRef,
        _: &HubSpotObjectRef,
        _: Option<u32>,
        pairs: &[AssociationPair],
    ) -> Result<Vec<(AssociationPair, String)>, RemoteError> {
        let mut state = self.call("associate")?;
        for pair in pairs {
            state
                .associations
                .insert((pair.from_id.clone(), pair.to_id.clone()));
        }
        Ok(Vec::new())
    }

    async fn dissociate(
        &self,
        _: &HubSpotObjectRef,
        _: &HubSpotObjectRef,
        _: Option<u32>,
        pairs: &[AssociationPair],
    ) -> Result<(), RemoteError> {
        let mut state = self.call("dissociate")?;
        for pair in pairs {
            state
                .associations
                .remove(&(pair.from_id.clone(), pair.to_id.clone()));
        }
        Ok(())
    }
}

/// Salesforce records (live and in the recycle bin), with the calls made.
#[derive(Default)]
pub struct FakeSalesforce {
    state: Mutex<SalesforceState>,
}

#[derive(Default)]
pub struct SalesforceState {
    pub live: HashMap<SalesforceId, FieldSnapshot>,
    pub recycle_bin: HashMap<SalesforceId, FieldSnapshot>,
    /// Outbound-message actions by id: the fields each sends.
    pub outbound_messages: HashMap<String, Vec<String>>,
    pub calls: Vec<&'static str>,
}

impl FakeSalesforce {
    pub fn state(&self) -> MutexGuard<'_, SalesforceState> {
        lock(&self.state)
    }
}

#[async_trait]
impl SalesforceRecords for FakeSalesforce {
    async fn retrieve(
        &self,
        _object: &str,
        ids: &[SalesforceId],
        _fields: &[String],
    ) -> Result<HashMap<SalesforceId, Option<FieldSnapshot>>, RemoteError> {
        let mut state = self.state();
        state.calls.push("retrieve");
        Ok(ids
            .iter()
            .map(|id| (id.clone(), state.live.get(id).cloned()))
            .collect())
    }

    async fn last_states(
        &self,
        _object: &str,
        ids: &[SalesforceId],
        _fields: &[String],
    ) -> Result<HashMap<SalesforceId, FieldSnapshot>, RemoteError> {
        let mut state = self.state();
        state.calls.push("last_states");
        Ok(ids
            .iter()
            .filter_map(|id| {
                let mut row = state.recycle_bin.get(id)?.clone();
                row.insert("IsDeleted".into(), json!(true));
                Some((id.clone(), row))
            })
            .collect())
    }

    async fn outbound_message_fields(
        &self,
        action_id: &str,
    ) -> Result<Option<Vec<String>>, RemoteError> {
        let mut state = self.state();
        state.calls.push("outbound_message");
        Ok(state.outbound_messages.get(action_id).cloned())
    }
}

/// A stamp `seconds` after a fixed time.
pub fn stamp(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0)
        .single()
        .unwrap_or_default()
        + Duration::seconds(seconds)
}

/// A 15-character Salesforce id: `a01` for invoices, `a02` for projects.
pub fn id(prefix: &str, n: u32) -> SalesforceId {
    SalesforceId::parse(&format!("{prefix}5f00002J{n:04}")).unwrap_or_else(|e| panic!("{e}"))
}

/// A snapshot with a name, an amount, a project lookup and its stamp.
pub fn fields(name: &str, project: Option<&SalesforceId>, at: DateTime<Utc>) -> FieldSnapshot {
    FieldSnapshot::from([
        ("Name".to_owned(), json!(name)),
        ("Amount__c".to_owned(), json!(10)),
        (
            "Project__c".to_owned(),
            project.map_or(json!(null), |p| json!(p.as_str())),
        ),
        ("SystemModstamp".to_owned(), json!(at.to_rfc3339())),
    ])
}

/// The worker on fakes, with an `Invoice__c` mapping (a lookup to mapped `Project__c`).
pub struct Rig {
    pub store: EmbeddedStore,
    pub hubspot: Arc<FakeHubSpot>,
    pub salesforce: Arc<FakeSalesforce>,
    pub worker: Worker,
    next_message: Mutex<u32>,
}

pub fn mapping(object: &str, hubspot: &str, lookup: Option<&str>) -> Mapping {
    Mapping {
        salesforce_object: object.into(),
        hubspot_object: HubSpotObjectRef::parse(hubspot),
        id_property: "salesforce_id".into(),
        fields: [("Name", "name"), ("Amount__c", "amount")]
            .iter()
            .map(|(field, property)| FieldMapping {
                salesforce_field: (*field).into(),
                hubspot_property: (*property).into(),
                conversion: Conversion::Auto,
            })
            .collect(),
        associations: lookup
            .map(|target| AssociationMapping {
                salesforce_field: "Project__c".into(),
                target: AssociationTarget::MappedObject {
                    salesforce_object: target.into(),
                },
                association_type_id: None,
            })
            .into_iter()
            .collect(),
        on_delete: DeleteRule::Archive,
        status: MappingStatus::Active,
        allow_unsupported_standard_object: false,
        resolved: None,
    }
}

impl Rig {
    pub async fn new() -> Rig {
        let store = EmbeddedStore::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        let hubspot = Arc::new(FakeHubSpot::default());
        let salesforce = Arc::new(FakeSalesforce::default());
        let ports = WorkerPorts {
            mappings: Arc::new(store.mapping_store()),
            index: Arc::new(store.record_index()),
            log: Arc::new(store.sync_log()),
            jobs: Arc::new(store.import_jobs()),
            queue: Arc::new(store.change_queue(5)),
            hubspot: hubspot.clone(),
            salesforce: salesforce.clone(),
        };
        let rig = Rig {
            store,
            hubspot,
            salesforce,
            worker: Worker::new(ports, WorkerSettings::default()),
            next_message: Mutex::new(0),
        };
        rig.apply(mapping("Invoice__c", "invoice", Some("Project__c")))
            .await;
        rig.apply(mapping("Project__c", "project", None)).await;
        rig
    }

    pub async fn apply(&self, mapping: Mapping) {
        let store = self.store.mapping_store();
        let version = store
            .get(&mapping.salesforce_object)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .map(|stored| stored.version);
        store
            .put(&mapping, version)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }

    pub fn change(
        &self,
        object: &str,
        record: &SalesforceId,
        kind: ChangeKind,
        at: Option<DateTime<Utc>>,
    ) -> Change {
        Change {
            org_id: SalesforceId::parse("00Dxx0000001gPF").unwrap_or_else(|e| panic!("{e}")),
            object: object.into(),
            record_id: record.clone(),
            kind,
            modstamp: at,
            source: ChangeSource::Worker,
            received_at: Utc::now(),
            prior_deliveries: 0,
        }
    }

    /// A message of `change`, first delivery.
    pub fn message(&self, change: Change) -> InboundMessage {
        let mut next = lock(&self.next_message);
        *next += 1;
        InboundMessage {
            message_id: format!("m{next}"),
            change,
            receive_count: 1,
        }
    }

    /// An `Invoice__c` upsert carrying its state.
    pub fn invoice(
        &self,
        n: u32,
        name: &str,
        project: Option<&SalesforceId>,
        at: DateTime<Utc>,
    ) -> InboundMessage {
        let fields = fields(name, project, at);
        self.message(self.change(
            "Invoice__c",
            &id("a01", n),
            ChangeKind::Upsert { fields },
            Some(at),
        ))
    }

    pub async fn process(&self, messages: Vec<InboundMessage>) -> BatchResult {
        self.worker.process(messages).await
    }

    pub async fn entry(&self, object: &str, record: &SalesforceId) -> Option<IndexEntry> {
        let key = RecordKey {
            object: object.into(),
            record_id: record.clone(),
        };
        self.store
            .record_index()
            .get(&key)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The sync log's entries, newest first.
    pub async fn log(&self) -> Vec<SyncLogEntry> {
        self.store
            .sync_log()
            .query(&SyncLogQuery::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The changes the worker queued itself (re-reads).
    pub async fn queued(&self) -> Vec<Change> {
        self.store
            .change_queue(5)
            .receive(100, std::time::Duration::from_secs(60))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|d| d.change)
            .collect()
    }
}

/// The one disposition of a batch of one message.
pub fn only(result: &BatchResult) -> &Disposition {
    match result.dispositions.as_slice() {
        [(_, disposition)] => disposition,
        other => panic!("one disposition expected, got {other:?}"),
    }
}
