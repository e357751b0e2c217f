//! Ingest on the embedded queue: the ack comes only after every change is queued, refusals are
//! SOAP faults without an ack, and a failing queue never gets an ack.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use serde_json::json;
use sf2hs_shared::domain::{Change, SalesforceId};
use sf2hs_shared::embedded::EmbeddedStore;
use sf2hs_shared::ingest::{self, IngestError, IngestSettings};
use sf2hs_shared::ports::{ChangeQueue, DeadLetter, Delivery, PortError, PortResult, QueueDepth};
use sf2hs_shared::salesforce::intake::cdc::EventOptions;
use sf2hs_shared::salesforce::intake::outbound::DEFAULT_MAX_BODY_BYTES;
use sf2hs_shared::salesforce::intake::soap;

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/salesforce")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn settings() -> IngestSettings {
    IngestSettings {
        org_id: SalesforceId::parse("00Dxx0000001gPF").unwrap(),
        endpoint_token: sf2hs_shared::ingest::EndpointToken::fixed(TOKEN),
        max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        events: EventOptions::default(),
    }
}

/// A queue that can be switched to refuse sends, as SQS does when it is unreachable.
struct FlakyQueue {
    inner: Arc<dyn ChangeQueue>,
    down: AtomicBool,
}

#[async_trait]
impl ChangeQueue for FlakyQueue {
    async fn send_batch(&self, changes: &[Change]) -> PortResult<()> {
        if self.down.load(Ordering::SeqCst) {
            return Err(PortError::Unavailable {
                backend: "test queue",
                reason: "switched off".into(),
            });
        }
        self.inner.send_batch(changes).await
    }
    async fn send_delayed(&self, changes: &[Change], delay: Duration) -> PortResult<()> {
        self.inner.send_delayed(changes, delay).await
    }
    async fn receive(&self, max: usize, visibility: Duration) -> PortResult<Vec<Delivery>> {
        self.inner.receive(max, visibility).await
    }
    async fn delete(&self, receipts: &[String]) -> PortResult<()> {
        self.inner.delete(receipts).await
    }
    async fn release(&self, receipt: &str, delay: Duration) -> PortResult<()> {
        self.inner.release(receipt, delay).await
    }
    async fn dead_letter(&self, receipt: &str, reason: &str) -> PortResult<()> {
        self.inner.dead_letter(receipt, reason).await
    }
    async fn dead_letters(&self, limit: usize) -> PortResult<Vec<DeadLetter>> {
        self.inner.dead_letters(limit).await
    }
    async fn replay(&self, message_ids: &[String]) -> PortResult<u64> {
        self.inner.replay(message_ids).await
    }
    async fn depth(&self) -> PortResult<QueueDepth> {
        self.inner.depth().await
    }
}

fn queue() -> Arc<FlakyQueue> {
    let store = EmbeddedStore::open_in_memory().unwrap();
    Arc::new(FlakyQueue {
        inner: Arc::new(store.change_queue(5)),
        down: AtomicBool::new(false),
    })
}

#[tokio::test]
async fn a_good_message_is_queued_then_acked() {
    let queue = queue();
    let answer = ingest::outbound_message(
        &settings(),
        queue.as_ref(),
        Some(TOKEN),
        &fixture("outbound-batch-3-contacts.xml"),
        Utc::now(),
    )
    .await;
    assert!(answer.is_ack(), "{answer:?}");
    assert_eq!(answer.content_type, "text/xml; charset=utf-8");
    assert_eq!(queue.depth().await.unwrap().visible, 3);
    let deliveries = queue.receive(10, Duration::from_secs(30)).await.unwrap();
    let mut ids: Vec<_> = deliveries
        .iter()
        .map(|d| d.change.record_id.to_string())
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            "003xx000004TmiQAAS",
            "003xx000004TmiRAAS",
            "003xx000004TmiSAAS"
        ]
    );
}

/// Token in the path, body, settings, expected status, expected text of the fault.
type RefusalCase = (
    Option<&'static str>,
    Vec<u8>,
    IngestSettings,
    u16,
    &'static str,
);

#[tokio::test]
async fn refusals_are_faults_and_queue_nothing() {
    let queue = queue();
    let body = fixture("outbound-account-update.xml");
    let cases: Vec<RefusalCase> = vec![
        (
            None,
            body.clone(),
            settings(),
            403,
            "token is missing or wrong",
        ),
        (
            Some("0123456789abcdef0123456789abcdeX"),
            body.clone(),
            settings(),
            403,
            "token is missing or wrong",
        ),
        (
            Some(TOKEN),
            b"<nope/>".to_vec(),
            settings(),
            400,
            "not a SOAP 1.1 envelope",
        ),
        (
            Some(TOKEN),
            body.clone(),
            IngestSettings {
                org_id: SalesforceId::parse("00Dn00000008y2t").unwrap(),
                ..settings()
            },
            403,
            "comes from organisation 00Dxx0000001gPFEAY, not the configured 00Dn00000008y2tEAA",
        ),
        (
            Some(TOKEN),
            body.clone(),
            IngestSettings {
                max_body_bytes: 100,
                ..settings()
            },
            413,
            "over the limit of 100 bytes",
        ),
    ];
    for (token, body, settings, status, expected) in cases {
        let answer =
            ingest::outbound_message(&settings, queue.as_ref(), token, &body, Utc::now()).await;
        assert_eq!(answer.status, status, "{expected}: {answer:?}");
        assert!(!answer.is_ack());
        assert!(answer.body.contains("<soapenv:Fault>"), "{answer:?}");
        assert!(
            answer.body.contains(expected),
            "`{expected}` not in {}",
            answer.body
        );
        assert!(
            !answer.body.contains(TOKEN),
            "a fault never echoes the token"
        );
    }
    assert_eq!(queue.depth().await.unwrap().visible, 0);
}

#[tokio::test]
async fn no_ack_while_the_queue_is_down_and_the_retry_delivers() {
    let queue = queue();
    let body = fixture("outbound-account-update.xml");
    queue.down.store(true, Ordering::SeqCst);
    let answer =
        ingest::outbound_message(&settings(), queue.as_ref(), Some(TOKEN), &body, Utc::now()).await;
    assert_eq!(answer.status, 503);
    assert!(!answer.is_ack());
    assert!(answer.body.contains("soapenv:Server"));
    // Salesforce retries the same message once the queue is back.
    queue.down.store(false, Ordering::SeqCst);
    let answer =
        ingest::outbound_message(&settings(), queue.as_ref(), Some(TOKEN), &body, Utc::now()).await;
    assert!(answer.is_ack());
    assert_eq!(queue.depth().await.unwrap().visible, 1);
}

#[tokio::test]
async fn change_events_are_queued_or_fail_the_invocation() {
    let queue = queue();
    let mut settings = settings();
    settings.org_id = SalesforceId::parse("00DRM000000Fxts").unwrap();
    let event = json!({
        "version": "0", "id": "e-1", "detail-type": "Invoice__ChangeEvent",
        "source": "aws.partner/salesforce.com/00DRM000000Fxts2AC/0YLRM0000004Dfg4AE",
        "detail": {"payload": {
            "Name": "INV-1",
            "ChangeEventHeader": {"entityName": "Invoice__c", "changeType": "CREATE",
                "recordIds": ["a015f00002J9YYE", "a015f00002J9YYF"], "commitTimestamp": 1700000000000i64,
                "transactionKey": "t-1"}
        }}
    });
    let done = ingest::change_event(&settings, queue.as_ref(), None, &event, Utc::now())
        .await
        .unwrap();
    assert_eq!(done.changes, 2);
    assert_eq!(queue.depth().await.unwrap().visible, 2);

    queue.down.store(true, Ordering::SeqCst);
    let err = ingest::change_event(&settings, queue.as_ref(), None, &event, Utc::now())
        .await
        .unwrap_err();
    assert!(matches!(err, IngestError::Queue(_)), "{err}");
    assert!(err.to_string().contains("will be delivered again"), "{err}");
    queue.down.store(false, Ordering::SeqCst);

    let overflow = json!({
        "source": "aws.partner/salesforce.com/00DRM000000Fxts2AC/0YLRM0000004Dfg4AE",
        "detail-type": "Invoice__ChangeEvent",
        "detail": {"payload": {"ChangeEventHeader": {"entityName": "Invoice__c", "changeType": "GAP_OVERFLOW"}}}
    });
    let done = ingest::change_event(&settings, queue.as_ref(), None, &overflow, Utc::now())
        .await
        .unwrap();
    assert_eq!(done.changes, 0);
    assert_eq!(done.resyncs.len(), 1);
    assert_eq!(done.resyncs[0].object, "Invoice__c");

    // Handed on, the re-sync is a running import job before the event is answered: a log line
    // would lose the changes it stands for.
    let store = sf2hs_shared::embedded::EmbeddedStore::open_in_memory().expect("store");
    let jobs: std::sync::Arc<dyn sf2hs_shared::ports::ImportJobs> =
        std::sync::Arc::new(store.import_jobs());
    let resyncs = sf2hs_shared::import::ResyncJobs {
        jobs: jobs.clone(),
        continuation: None,
    };
    let received = Utc::now();
    let done = ingest::change_event(
        &settings,
        queue.as_ref(),
        Some(&resyncs),
        &overflow,
        received,
    )
    .await
    .unwrap();
    assert_eq!(done.resyncs.len(), 1);
    let stored = jobs.list().await.expect("jobs");
    assert_eq!(stored.len(), 1, "one re-sync stored");
    assert_eq!(stored[0].salesforce_object, "Invoice__c");
    assert_eq!(stored[0].status, sf2hs_shared::ports::ImportStatus::Running);
    assert!(stored[0].since.is_some_and(|since| since <= received));

    let bad = json!({"detail": {"payload": {"ChangeEventHeader": {"entityName": "X", "changeType": "NOPE", "recordIds": ["001RM000004UF9sYAG"]}}}});
    let err = ingest::change_event(&settings, queue.as_ref(), None, &bad, Utc::now())
        .await
        .unwrap_err();
    assert!(matches!(err, IngestError::Refused(_)), "{err}");
}

#[test]
fn settings_debug_hides_the_token() {
    let shown = format!("{:?}", settings());
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(soap::ACK.contains("<Ack>true</Ack>"));
}
