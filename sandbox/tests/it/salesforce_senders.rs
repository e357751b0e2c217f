//! Salesforce's senders, checked against sf2hs's own intake parsers: outbound messages shaped
//! like the fixtures and retried until the answer is a real ack; CDC events in EventBridge
//! envelopes.

/// Named so `cargo test -p sf2hs-sandbox salesforce` selects these tests.
mod salesforce {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use crate::salesforce_common::Org;
    use axum::Router;
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::StatusCode;
    use axum::routing::post;
    use chrono::Utc;
    use serde_json::{Value, json};
    use sf2hs_sandbox::salesforce::senders::{
        AttemptOutcome, CdcRelayConfig, OutboundMessageConfig, OutboundSender, change_events,
        post_events,
    };
    use sf2hs_shared::domain::ChangeKind;
    use sf2hs_shared::salesforce::intake::cdc::{EventItem, EventOptions, parse_event_value};
    use sf2hs_shared::salesforce::intake::{parse_outbound_message, soap};

    /// How the fake endpoint answers the n-th request (0-based); after the script, it acks.
    #[derive(Clone)]
    enum Reply {
        BareOk,
        AckFalse,
        Fault,
        Ack,
    }

    #[derive(Clone, Default)]
    struct Endpoint {
        script: Arc<Vec<Reply>>,
        bodies: Arc<Mutex<Vec<String>>>,
    }

    async fn receive(State(endpoint): State<Endpoint>, body: Bytes) -> (StatusCode, String) {
        let text = String::from_utf8_lossy(&body).into_owned();
        let n = {
            let mut bodies = endpoint.bodies.lock().expect("lock");
            bodies.push(text);
            bodies.len() - 1
        };
        match endpoint.script.get(n).cloned().unwrap_or(Reply::Ack) {
            Reply::BareOk => (StatusCode::OK, "OK".into()),
            Reply::AckFalse => (StatusCode::OK, soap::ACK.replace("<Ack>true", "<Ack>false")),
            Reply::Fault => (
                StatusCode::INTERNAL_SERVER_ERROR,
                soap::fault(soap::FaultCode::Server, "queue down"),
            ),
            Reply::Ack => (StatusCode::OK, soap::ACK.to_string()),
        }
    }

    async fn serve(endpoint: Endpoint) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = Router::new()
            .route("/om", post(receive))
            .route("/events", post(receive))
            .with_state(endpoint);
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn outbound_messages_are_retried_until_a_real_ack() {
        let org = Org::start().await;
        let handle = org.handle();
        let id = handle
            .create(
                "Invoice__c",
                json!({"Name": "Tom & Jerry <Ltd>", "Amount__c": 39, "Status__c": "Sent"}),
            )
            .expect("created");
        let endpoint = Endpoint {
            script: Arc::new(vec![Reply::BareOk, Reply::AckFalse, Reply::Fault]),
            ..Endpoint::default()
        };
        let base = serve(endpoint.clone()).await;
        let mut config = OutboundMessageConfig::new(
            &format!("{base}/om"),
            "Invoice__c",
            &[
                "Name",
                "Amount__c",
                "Notes__c",
                "LastModifiedDate",
                "CreatedDate",
            ],
        );
        config.initial_backoff = Duration::from_millis(5);
        let mut sender = OutboundSender::new(handle.clone(), config).expect("sender");
        let report = sender.send(std::slice::from_ref(&id)).await.expect("sent");
        assert!(report.all_acked());
        let attempts = &report.messages[0].attempts;
        assert_eq!(attempts.len(), 4, "{attempts:?}");
        assert!(matches!(
            attempts[0],
            AttemptOutcome::NotAcked { status: 200, .. }
        ));
        assert!(matches!(
            attempts[1],
            AttemptOutcome::NotAcked { status: 200, .. }
        ));
        assert!(matches!(
            attempts[2],
            AttemptOutcome::NotAcked { status: 500, .. }
        ));
        assert_eq!(attempts[3], AttemptOutcome::Acked);

        let bodies = endpoint.bodies.lock().expect("lock").clone();
        assert_eq!(bodies.len(), 4);
        // Every retry is the same notification (same id), so the receiver can de-duplicate.
        let parsed: Vec<_> = bodies
            .iter()
            .map(|b| parse_outbound_message(b.as_bytes(), 1 << 20).expect("sf2hs parses it"))
            .collect();
        let notification = &parsed[0].notifications[0];
        assert!(
            parsed
                .iter()
                .all(|m| m.notifications[0].id == notification.id)
        );
        assert!(notification.id.starts_with("04l"));
        assert_eq!(notification.object, "Invoice__c");
        assert_eq!(notification.record_id.as_str(), id);
        assert_eq!(notification.fields["Name"], "Tom & Jerry <Ltd>");
        assert_eq!(notification.fields["Amount__c"], "39.0");
        assert!(
            !notification.fields.contains_key("Notes__c"),
            "nulls are omitted"
        );
        assert!(
            !notification.fields.contains_key("Status__c"),
            "only selected fields"
        );
        assert!(bodies[0].contains("<SessionId xsi:nil=\"true\"/>"));
        // The envelope, namespaces and layout of a real message.
        let real = crate::salesforce_common::fixture_text("outbound-batch-3-contacts.xml");
        let head = |text: &str| text.lines().take(4).map(str::to_string).collect::<Vec<_>>();
        assert_eq!(head(&bodies[0]), head(&real));
        assert!(bodies[0].contains(
            "<sObject xsi:type=\"sf:Invoice__c\" xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\">"
        ));
        assert_eq!(parsed[0].organization_id.as_str(), handle.org_id());
        let changes = parsed[0].clone().into_changes(Utc::now());
        assert_eq!(changes.len(), 1);
    }

    /// The message with every element's text replaced: the layout alone.
    fn skeleton(xml: &str) -> Vec<String> {
        xml.lines()
            .map(|line| match (line.find('>'), line.rfind("</")) {
                (Some(open), Some(close))
                    if open < close && !line.trim_start().starts_with("</") =>
                {
                    format!("{}…{}", &line[..=open], &line[close..])
                }
                _ => line.to_string(),
            })
            .collect()
    }

    #[tokio::test]
    async fn outbound_message_layout_matches_a_real_one() {
        let org = Org::start().await;
        let id = org
            .handle()
            .create("Account", json!({"Name": "Acme"}))
            .expect("created");
        let endpoint = Endpoint::default();
        let base = serve(endpoint.clone()).await;
        let config = OutboundMessageConfig::new(
            &format!("{base}/om"),
            "Account",
            &["CreatedDate", "LastModifiedDate", "Industry"],
        );
        let mut sender = OutboundSender::new(org.handle(), config).expect("sender");
        assert!(sender.send(&[id]).await.expect("sent").all_acked());
        let sent = endpoint.bodies.lock().expect("lock")[0].clone();
        let real =
            crate::salesforce_common::fixture_text("outbound-account-create-null-omitted.xml");
        assert_eq!(skeleton(&sent), skeleton(&real));
    }

    #[tokio::test]
    async fn outbound_messages_batch_at_most_100_and_give_up_after_max_attempts() {
        let org = Org::start().await;
        let ids = org.seed_invoices(250);
        let endpoint = Endpoint::default();
        let base = serve(endpoint.clone()).await;
        let mut config = OutboundMessageConfig::new(&format!("{base}/om"), "Invoice__c", &["Name"]);
        config.duplicate_rate = 1.0;
        let mut sender = OutboundSender::new(org.handle(), config).expect("sender");
        let report = sender.send(&ids).await.expect("sent");
        assert_eq!(report.messages.len(), 3);
        let mut sizes: Vec<usize> = report.messages.iter().map(|m| m.record_ids.len()).collect();
        sizes.sort_unstable();
        assert_eq!(sizes, vec![50, 100, 100]);
        assert!(report.messages.iter().all(|m| m.duplicates_sent == 1));
        let bodies = endpoint.bodies.lock().expect("lock").clone();
        assert_eq!(bodies.len(), 6, "each message once plus one duplicate");
        let total: usize = bodies
            .iter()
            .map(|b| {
                parse_outbound_message(b.as_bytes(), 1 << 22)
                    .expect("parses")
                    .notifications
                    .len()
            })
            .sum();
        assert_eq!(total, 500);

        let never = Endpoint {
            script: Arc::new(vec![Reply::BareOk; 100]),
            ..Endpoint::default()
        };
        let base = serve(never).await;
        let mut config = OutboundMessageConfig::new(&format!("{base}/om"), "Invoice__c", &["Name"]);
        config.max_attempts = 3;
        config.initial_backoff = Duration::from_millis(1);
        let mut sender = OutboundSender::new(org.handle(), config).expect("sender");
        let report = sender.send(&ids[..1]).await.expect("sent");
        assert!(!report.all_acked());
        assert_eq!(report.total_attempts(), 3);

        let bad = OutboundMessageConfig::new("http://127.0.0.1:1/om", "Invoice__c", &["Nope__c"]);
        assert!(OutboundSender::new(org.handle(), bad).is_err());
    }

    #[tokio::test]
    async fn cdc_events_follow_the_eventbridge_shape_sf2hs_parses() {
        let org = Org::start().await;
        let handle = org.handle();
        let id = handle
            .create("Invoice__c", json!({"Name": "A", "Amount__c": 10}))
            .expect("created");
        handle
            .update("Invoice__c", &id, json!({"Name": "B", "Amount__c": null}))
            .expect("updated");
        handle.delete("Invoice__c", &id).expect("deleted");
        handle.undelete("Invoice__c", &id).expect("undeleted");
        let events = change_events(&handle, &CdcRelayConfig::default(), 0);
        assert_eq!(events.len(), 4);

        let create = &events[0];
        assert_eq!(create["detail-type"], "Invoice__ChangeEvent");
        assert!(
            create["source"]
                .as_str()
                .is_some_and(|s| s.starts_with(&format!(
                    "aws.partner/salesforce.com/{}/0YL",
                    handle.org_id()
                )))
        );
        let payload = &create["detail"]["payload"];
        // The header of a real relayed CREATE, and the envelope of a real EventBridge event
        // (plus `resources`, which EventBridge always sets).
        let real_create = crate::salesforce_common::fixture("cdc-account-create.payload.json");
        assert_eq!(
            crate::salesforce_common::keys(&payload["ChangeEventHeader"]),
            crate::salesforce_common::keys(&real_create["ChangeEventHeader"])
        );
        let mut envelope_keys = crate::salesforce_common::keys(&crate::salesforce_common::fixture(
            "eventbridge-platform-event.json",
        ));
        envelope_keys.insert("resources".into());
        assert_eq!(crate::salesforce_common::keys(create), envelope_keys);
        assert_eq!(payload["ChangeEventHeader"]["changeType"], "CREATE");
        assert_eq!(payload["ChangeEventHeader"]["changedFields"], json!([]));
        assert!(
            payload["Notes__c"].is_null() && payload.get("Notes__c").is_some(),
            "CREATE has every field"
        );
        assert!(
            payload["CreatedDate"].is_i64(),
            "CREATE datetimes are epoch ms"
        );

        let update = &events[1]["detail"]["payload"];
        assert_eq!(
            update["ChangeEventHeader"]["changedFields"],
            json!(["Amount__c", "Name", "LastModifiedDate"])
        );
        assert_eq!(
            update["ChangeEventHeader"]["nulledFields"],
            json!(["Amount__c"])
        );
        assert!(
            update["LastModifiedDate"]
                .as_str()
                .is_some_and(|s| s.ends_with(".000Z"))
        );
        assert!(
            update.get("Paid__c").is_none(),
            "UPDATE carries changed fields only"
        );

        let kinds: Vec<String> = events
            .iter()
            .map(|e| {
                let parsed = parse_event_value(e, &EventOptions::default(), Utc::now())
                    .expect("sf2hs parses it");
                match &parsed.items[0] {
                    EventItem::Change(change) => {
                        assert_eq!(change.record_id.as_str(), id);
                        match &change.kind {
                            ChangeKind::Upsert { .. } => "upsert",
                            ChangeKind::Reread { .. } => "refetch",
                            ChangeKind::Delete => "delete",
                            ChangeKind::Undelete => "undelete",
                        }
                        .to_string()
                    }
                    other => panic!("unexpected {other:?}"),
                }
            })
            .collect();
        assert_eq!(kinds, ["upsert", "refetch", "delete", "undelete"]);
        assert_eq!(
            change_events(&handle, &CdcRelayConfig::default(), 3).len(),
            1
        );

        let endpoint = Endpoint::default();
        let base = serve(endpoint.clone()).await;
        let statuses = post_events(&format!("{base}/events"), &events)
            .await
            .expect("posted");
        assert_eq!(statuses, vec![200; 4]);
        let received: Vec<Value> = endpoint
            .bodies
            .lock()
            .expect("lock")
            .iter()
            .map(|b| serde_json::from_str(b).expect("json"))
            .collect();
        assert_eq!(received, events);
    }
}
