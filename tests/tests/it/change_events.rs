//! CDC and platform events: every shared fixture parses to the expected changes, and bad events are
//! refused with their reason.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use serde_json::{Value, json};
use sf2hs_shared::domain::{ChangeKind, ChangeSource, RereadReason, SalesforceId};
use sf2hs_shared::salesforce::intake::cdc::{
    EventItem, EventOptions, PlatformEventRoute, ResyncReason, parse_event, parse_event_value,
};

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/salesforce")
        .join(name);
    let text =
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_slice(&text).unwrap()
}

fn now() -> DateTime<Utc> {
    "2026-11-28T12:00:00Z".parse().unwrap()
}

fn org() -> SalesforceId {
    SalesforceId::parse("00DRM000000Fxts").unwrap()
}

fn options() -> EventOptions {
    EventOptions {
        org_id: Some(org()),
        accept_unsourced: true,
        echo_clients: vec!["sf2hs".into()],
        platform_events: vec![],
    }
}

/// Wraps a payload the way Event Relay delivers it to an EventBridge target.
fn relayed(payload: Value, org: &str) -> Value {
    json!({
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "AccountChangeEvent",
        "source": format!("aws.partner/salesforce.com/{org}/0YLRM0000004Dfg4AE"),
        "account": "123456789012",
        "time": "2026-01-22T13:50:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": { "payload": payload }
    })
}

fn changes(items: &[EventItem]) -> Vec<&sf2hs_shared::domain::Change> {
    items
        .iter()
        .map(|i| match i {
            EventItem::Change(c) => c,
            other => panic!("expected a change, got {other:?}"),
        })
        .collect()
}

#[test]
fn relayed_create_is_a_full_snapshot() {
    let event = relayed(
        fixture("cdc-account-create.payload.json"),
        "00DRM000000Fxts2AC",
    );
    let parsed = parse_event_value(&event, &options(), now()).unwrap();
    let c = changes(&parsed.items)[0];
    assert_eq!(c.object, "Account");
    assert_eq!(c.record_id.as_str(), "0015f00002J9YYEAA3");
    assert_eq!(c.org_id.as_str(), "00DRM000000Fxts2AC");
    assert_eq!(c.modstamp, Some("2024-04-09T20:19:25Z".parse().unwrap()));
    let ChangeKind::Upsert { fields } = &c.kind else {
        panic!("{:?}", c.kind)
    };
    assert_eq!(fields["Name"], json!("Acme"));
    assert_eq!(
        fields["Industry"],
        json!(null),
        "nulls in a create are kept: they clear"
    );
    assert_eq!(fields["CreatedDate"], json!(1712693965000i64));
    assert!(!fields.contains_key("ChangeEventHeader"));
    assert_eq!(
        c.source,
        ChangeSource::Cdc {
            transaction_key: "0001ade9-3f74-0b99-dbc4-42e73424b774".into(),
            sequence_number: Some(1),
            commit_number: Some(1082985383811),
            event_id: Some("6a7e8feb-b491-4cf7-a9f1-bf3703467718".into()),
        }
    );
}

#[test]
fn update_with_compound_name_is_partial() {
    let event = relayed(
        fixture("cdc-contact-update-compound-name.payload.json"),
        "00DRM000000Fxts2AC",
    );
    let parsed = parse_event_value(&event, &options(), now()).unwrap();
    let c = changes(&parsed.items)[0];
    assert_eq!(c.record_id.as_str(), "003ak00000IiFInAAN");
    let ChangeKind::Reread { reason, partial } = &c.kind else {
        panic!("{:?}", c.kind)
    };
    assert_eq!(*reason, RereadReason::PartialUpdate);
    assert_eq!(partial["Name"], json!({"LastName": "Youngest"}));
    assert_eq!(
        partial["LastModifiedDate"],
        json!("2025-04-24T13:18:26.000Z")
    );
    let ChangeSource::Cdc { commit_number, .. } = &c.source else {
        panic!()
    };
    assert_eq!(*commit_number, Some(1745500706683617281), "no f64 rounding");
}

#[test]
fn a_fanned_out_event_with_a_singular_record_id() {
    let event = relayed(
        fixture("cdc-user-update-fanned-out.payload.json"),
        "00DRM000000Fxts2AC",
    );
    let parsed = parse_event_value(&event, &options(), now()).unwrap();
    let c = changes(&parsed.items)[0];
    assert_eq!(c.object, "User");
    assert_eq!(c.record_id.as_str(), "005ak00000GGsRRAA1");
    assert_eq!(c.org_id, org());
}

#[test]
fn cometd_update_and_delete() {
    let update = parse_event_value(&fixture("cometd-cdc-update.json"), &options(), now()).unwrap();
    let c = changes(&update.items)[0];
    assert_eq!(c.record_id.as_str(), "001RM000004UF9sYAG");
    assert!(matches!(
        c.kind,
        ChangeKind::Reread {
            reason: RereadReason::PartialUpdate,
            ..
        }
    ));
    let ChangeSource::Cdc { event_id, .. } = &c.source else {
        panic!()
    };
    assert_eq!(event_id.as_deref(), Some("12"), "the replay id");

    let delete = parse_event_value(&fixture("cometd-cdc-delete.json"), &options(), now()).unwrap();
    let c = changes(&delete.items)[0];
    assert_eq!(c.kind, ChangeKind::Delete);
    assert_eq!(c.modstamp, Some("2020-12-15T23:12:55Z".parse().unwrap()));
}

#[test]
fn platform_event_through_a_route() {
    let mut opts = options();
    opts.org_id = Some(SalesforceId::parse("00DgP0000023yjF").unwrap());
    let event = fixture("eventbridge-platform-event.json");
    let err = parse_event_value(&event, &opts, now()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no platform-event route for `Case Created`: add one naming the field that holds the record id"
    );
    opts.platform_events.push(PlatformEventRoute {
        event: "Case Created".into(),
        record_id_field: "Case_Id__c".into(),
        object: None,
        object_field: Some("Object_Name__c".into()),
        change_type_field: Some("Type__c".into()),
    });
    let parsed = parse_event_value(&event, &opts, now()).unwrap();
    let c = changes(&parsed.items)[0];
    assert_eq!(c.object, "Case");
    assert_eq!(c.record_id.as_str(), "500Pe00000s9XyXIAU");
    assert!(matches!(
        c.kind,
        ChangeKind::Reread {
            reason: RereadReason::EventOnly,
            ..
        }
    ));
    assert_eq!(
        c.source,
        ChangeSource::PlatformEvent {
            event_name: "Case Created".into(),
            event_id: Some("test-event-123".into())
        }
    );
}

fn header_event(header: Value, body: Value) -> Value {
    let mut payload = body;
    payload["ChangeEventHeader"] = header;
    relayed(payload, "00DRM000000Fxts2AC")
}

#[test]
fn merged_events_fan_out_and_wildcards_and_overflow_ask_for_resync() {
    let event = header_event(
        json!({"entityName": "Invoice__c", "changeType": "UPDATE", "commitTimestamp": 1700000000000i64,
               "recordIds": ["a015f00002J9YYE", "a015f00002J9YYF", "a01*"],
               "changedFields": ["Status__c"], "nulledFields": ["Notes__c"], "transactionKey": "t"}),
        json!({"Status__c": "Paid"}),
    );
    let parsed = parse_event_value(&event, &options(), now()).unwrap();
    assert_eq!(parsed.items.len(), 3);
    let ids: Vec<_> = parsed
        .items
        .iter()
        .filter_map(|i| match i {
            EventItem::Change(c) => Some(c.record_id.as_str().to_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(ids, ["a015f00002J9YYEAA3", "a015f00002J9YYFAA3"]);
    let EventItem::Change(first) = &parsed.items[0] else {
        panic!()
    };
    let ChangeKind::Reread { partial, .. } = &first.kind else {
        panic!()
    };
    assert_eq!(
        partial["Notes__c"],
        json!(null),
        "nulled fields are explicit nulls"
    );
    assert_eq!(partial["Status__c"], json!("Paid"));
    assert!(matches!(
        &parsed.items[2],
        EventItem::Resync(r) if r.reason == ResyncReason::WildcardIds { prefix: "a01".into() } && r.object == "Invoice__c"
    ));

    let overflow = header_event(
        json!({"entityName": "Invoice__c", "changeType": "GAP_OVERFLOW", "commitTimestamp": 1700000000000i64}),
        json!({}),
    );
    let parsed = parse_event_value(&overflow, &options(), now()).unwrap();
    assert!(matches!(
        &parsed.items[..],
        [EventItem::Resync(r)] if r.reason == ResyncReason::GapOverflow
            && r.since == Some("2023-11-14T22:13:20Z".parse().unwrap())
    ));
}

#[test]
fn gaps_diffs_undeletes_and_echoes() {
    let gap = header_event(
        json!({"entityName": "Account", "changeType": "GAP_UPDATE", "recordIds": ["001RM000004UF9sYAG"]}),
        json!({}),
    );
    let c = parse_event_value(&gap, &options(), now()).unwrap();
    assert!(matches!(
        &changes(&c.items)[0].kind,
        ChangeKind::Reread {
            reason: RereadReason::Gap,
            ..
        }
    ));

    let diff = header_event(
        json!({"entityName": "Account", "changeType": "UPDATE", "recordIds": ["001RM000004UF9sYAG"],
               "diffFields": ["Description"]}),
        json!({"Description": "@@ -1 +1 @@", "Name": "New"}),
    );
    let c = parse_event_value(&diff, &options(), now()).unwrap();
    let ChangeKind::Reread { reason, partial } = &changes(&c.items)[0].kind else {
        panic!()
    };
    assert_eq!(*reason, RereadReason::DiffFields);
    assert!(
        !partial.contains_key("Description"),
        "a diff is a patch, not a value"
    );

    let undelete = header_event(
        json!({"entityName": "Account", "changeType": "UNDELETE", "recordIds": ["001RM000004UF9sYAG"]}),
        json!({}),
    );
    let c = parse_event_value(&undelete, &options(), now()).unwrap();
    assert_eq!(changes(&c.items)[0].kind, ChangeKind::Undelete);

    let echo = header_event(
        json!({"entityName": "Account", "changeType": "UPDATE", "recordIds": ["001RM000004UF9sYAG"],
               "changeOrigin": "com/salesforce/api/rest/60.0;client=sf2hs"}),
        json!({"Name": "x"}),
    );
    let c = parse_event_value(&echo, &options(), now()).unwrap();
    assert!(c.items.is_empty());
    assert_eq!(c.echoes_skipped, 1);
}

#[test]
fn refusals() {
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "other org",
            relayed(
                fixture("cdc-account-create.payload.json"),
                "00Dn00000008y2tEAA",
            ),
            "comes from organisation 00Dn00000008y2tEAA, not the configured 00DRM000000Fxts2AC",
        ),
        (
            "unknown change type",
            header_event(
                json!({"entityName": "Account", "changeType": "SNAPSHOT", "recordIds": ["001RM000004UF9sYAG"]}),
                json!({}),
            ),
            "change type `SNAPSHOT` is not one sf2hs knows",
        ),
        (
            "bad record id",
            header_event(
                json!({"entityName": "Account", "changeType": "DELETE", "recordIds": ["001-nope"]}),
                json!({}),
            ),
            "record id `001-nope` of Account",
        ),
        (
            "no record ids",
            header_event(
                json!({"entityName": "Account", "changeType": "DELETE"}),
                json!({}),
            ),
            "has no ChangeEventHeader.recordIds",
        ),
        (
            "no entity",
            header_event(
                json!({"changeType": "DELETE", "recordIds": ["001RM000004UF9sYAG"]}),
                json!({}),
            ),
            "has no ChangeEventHeader.entityName",
        ),
        ("not an object", json!([1, 2]), "body is not a JSON object"),
    ];
    for (name, event, expected) in cases {
        match parse_event_value(&event, &options(), now()) {
            Ok(p) => panic!("{name}: accepted {p:?}"),
            Err(e) => assert!(
                e.to_string().contains(expected),
                "{name}: `{expected}` not in `{e}`"
            ),
        }
    }
    let err = parse_event(b"{not json", &options(), now()).unwrap_err();
    assert!(
        err.to_string().starts_with("the event is not JSON"),
        "{err}"
    );
}

/// platform-behaviours.md A2, salesforce.md §2.4: Event Relay's partner source is
/// `aws.partner/salesforce.com/<orgId18>/<channelId>`; AppFlow's names an AWS account and a
/// flow. Only the first, for the configured org, is taken; the ingest function (which leaves
/// `accept_unsourced` off) also refuses an event without a source.
#[test]
fn only_the_configured_orgs_event_relay_source_is_taken() {
    let payload = fixture("cdc-account-create.payload.json");
    let with_source = |source: Value| {
        let mut event = relayed(payload.clone(), "00DRM000000Fxts2AC");
        event["source"] = source;
        event
    };
    let ingest = EventOptions {
        accept_unsourced: false,
        ..options()
    };
    // The org's own relay, its 15- or 18-character id: taken.
    for id in ["00DRM000000Fxts2AC", "00DRM000000Fxts"] {
        let event = with_source(json!(format!(
            "aws.partner/salesforce.com/{id}/0YLRM0000004Dfg4AE"
        )));
        let parsed = parse_event_value(&event, &ingest, now()).expect("the org's relay");
        assert_eq!(changes(&parsed.items)[0].org_id, org());
    }
    let refused: Vec<(Value, &str)> = vec![
        (
            json!("aws.partner/appflow/salesforce.com/123456789012/flow"),
            "Amazon AppFlow's, which names no Salesforce organisation",
        ),
        (
            json!("aws.partner/salesforce.com.evil/00DRM000000Fxts2AC/0YL"),
            "is not `aws.partner/salesforce.com/<org id>/<channel id>`",
        ),
        (
            json!("aws.partner/salesforce.com/00DRM000000Fxts2AC"),
            "is not `aws.partner/salesforce.com/<org id>/<channel id>`",
        ),
        (
            json!("aws.partner/salesforce.com/not-an-org/0YL"),
            "is not `aws.partner/salesforce.com/<org id>/<channel id>`",
        ),
        (json!("my.app"), "is not `aws.partner/salesforce.com/"),
        (json!(42), "the event's source is not a string"),
    ];
    for (source, expected) in refused {
        let err = parse_event_value(&with_source(source.clone()), &ingest, now())
            .expect_err(&format!("{source} was taken"));
        assert!(err.to_string().contains(expected), "{source}: {err}");
        assert_eq!(err.metric_reason(), "source", "{source}");
    }
    // No source at all: refused by the ingest function, taken where the sender authenticated.
    let mut unsourced = relayed(payload.clone(), "00DRM000000Fxts2AC");
    unsourced.as_object_mut().expect("object").remove("source");
    let err = parse_event_value(&unsourced, &ingest, now()).expect_err("taken without source");
    assert!(err.to_string().contains("has no source"), "{err}");
    let parsed = parse_event_value(&unsourced, &options(), now()).expect("local /events");
    assert_eq!(changes(&parsed.items)[0].org_id, org());
    // Event Relay's envelope always wraps the body in `detail.payload`.
    let mut bare_detail = with_source(json!(
        "aws.partner/salesforce.com/00DRM000000Fxts2AC/0YLRM0000004Dfg4AE"
    ));
    bare_detail["detail"] = fixture("cdc-account-create.payload.json");
    let err = parse_event_value(&bare_detail, &ingest, now()).expect_err("bare detail");
    assert!(err.to_string().contains("detail.payload"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(sf2hs_tests::property_cases(2000)))]
    #[test]
    fn never_panics_on_arbitrary_bytes(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_event(&body, &options(), now());
    }
}

#[test]
fn platform_event_routes_are_read_from_their_setting() {
    let routes = PlatformEventRoute::parse_list(
        "Invoice_Changed__e=Invoice__c/Record_Id__c, Case Created=@Object_Name__c/Case_Id__c/Type__c",
    )
    .unwrap();
    assert_eq!(
        routes,
        [
            PlatformEventRoute {
                event: "Invoice_Changed__e".into(),
                record_id_field: "Record_Id__c".into(),
                object: Some("Invoice__c".into()),
                object_field: None,
                change_type_field: None,
            },
            PlatformEventRoute {
                event: "Case Created".into(),
                record_id_field: "Case_Id__c".into(),
                object: None,
                object_field: Some("Object_Name__c".into()),
                change_type_field: Some("Type__c".into()),
            },
        ]
    );
    // The fixture's event through the route the setting wrote.
    let mut opts = options();
    opts.org_id = Some(SalesforceId::parse("00DgP0000023yjF").unwrap());
    opts.platform_events = routes;
    let parsed =
        parse_event_value(&fixture("eventbridge-platform-event.json"), &opts, now()).unwrap();
    assert_eq!(changes(&parsed.items)[0].object, "Case");

    for (text, says) in [
        ("Invoice_Changed__e", "has no `=`"),
        (
            "Invoice_Changed__e=Invoice__c",
            "write it `Invoice_Changed__e=Invoice__c/Record_Id__c`",
        ),
        ("=Invoice__c/Id", "names no event"),
        ("E__e=@/Id", "write it"),
        ("E__e=A__c/Id/", "ends in an empty change-type field"),
        ("E__e=A__c/Id, E__e=B__c/Id", "`E__e` is routed twice"),
    ] {
        let error = PlatformEventRoute::parse_list(text).unwrap_err();
        assert!(error.contains(says), "{text}: {error}");
    }
}
