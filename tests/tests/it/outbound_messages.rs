//! Outbound-message intake against the real payloads in ../shared/fixtures/salesforce and a corpus
//! of refused inputs, each with its expected error.

use std::path::PathBuf;

use proptest::prelude::*;
use serde_json::json;
use sf2hs_shared::domain::{ChangeKind, ChangeSource, RereadReason, SalesforceId};
use sf2hs_shared::salesforce::intake::outbound::{
    DEFAULT_MAX_BODY_BYTES, OutboundError, parse_outbound_message, parse_salesforce_datetime,
};
use sf2hs_shared::salesforce::intake::{auth, soap};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/salesforce")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn parse(body: &[u8]) -> Result<sf2hs_shared::salesforce::intake::OutboundMessage, OutboundError> {
    parse_outbound_message(body, DEFAULT_MAX_BODY_BYTES)
}

#[test]
fn account_update_fixture() {
    let msg = parse(&fixture("outbound-account-update.xml")).unwrap();
    assert_eq!(msg.organization_id.as_str(), "00Dxx0000001gPFEAY");
    assert_eq!(msg.action_id, "04kxx00000000blCAA");
    assert!(!msg.session_id_sent);
    assert_eq!(
        msg.partner_url.as_deref(),
        Some("https://yourInstance.salesforce.com/services/Soap/u/60.0/00Dxx0000001gPF")
    );
    assert_eq!(msg.notifications.len(), 1);
    let n = &msg.notifications[0];
    assert_eq!(n.id, "04lxx000000CaSiAAK");
    assert_eq!(n.object, "Account");
    assert_eq!(n.record_id.as_str(), "001xx000003DGb4AAG");
    assert_eq!(n.fields["Industry"], json!("Agriculture"));
    assert_eq!(
        n.fields["LastModifiedDate"],
        json!("2026-09-09T19:10:58.000Z")
    );
    assert_eq!(n.fields.len(), 4);

    let received = "2026-09-09T19:11:00Z".parse().unwrap();
    let changes = msg.into_changes(received);
    assert_eq!(changes.len(), 1);
    let c = &changes[0];
    assert_eq!(c.object, "Account");
    assert_eq!(c.modstamp, Some("2026-09-09T19:10:58Z".parse().unwrap()));
    assert!(
        matches!(&c.kind, ChangeKind::Upsert { fields } if fields["Industry"] == json!("Agriculture"))
    );
    assert_eq!(
        c.source,
        ChangeSource::OutboundMessage {
            notification_id: "04lxx000000CaSiAAK".into(),
            action_id: "04kxx00000000blCAA".into()
        }
    );
    assert_eq!(c.received_at, received);
}

#[test]
fn null_fields_are_omitted_not_invented() {
    let msg = parse(&fixture("outbound-account-create-null-omitted.xml")).unwrap();
    let n = &msg.notifications[0];
    assert!(!n.fields.contains_key("Industry"));
    assert_eq!(n.fields.len(), 3);
}

#[test]
fn batch_of_three_contacts() {
    let msg = parse(&fixture("outbound-batch-3-contacts.xml")).unwrap();
    let ids: Vec<_> = msg
        .notifications
        .iter()
        .map(|n| (n.id.as_str(), n.record_id.as_str(), n.object.as_str()))
        .collect();
    assert_eq!(
        ids,
        [
            ("04lxx000000CaSeAAK", "003xx000004TmiQAAS", "Contact"),
            ("04lxx000000CaSfAAK", "003xx000004TmiRAAS", "Contact"),
            ("04lxx000000CaSgAAK", "003xx000004TmiSAAS", "Contact"),
        ]
    );
}

#[test]
fn placeholder_ids_are_refused_with_the_reason() {
    // A real listener's test payload with placeholder ids: not a message sf2hs can store.
    let err = parse(&fixture("outbound-custom-fields-placeholder-ids.xml")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "notification 1 (notification_id) has a bad record Id: `exampleid` is not a Salesforce id: \
         it has 9 characters, an id has 15 or 18 (copy the id from the record's URL or from the API)"
    );
}

const ORG: &str = "00Dxx0000001gPFEAY";

fn envelope(notifications: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>{ORG}</OrganizationId>
   <ActionId>04kxx00000000blCAA</ActionId>
   <SessionId xsi:nil="true"/>
   {notifications}
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>"#
    )
}

fn notification(n: usize, fields: &str) -> String {
    format!(
        r#"<Notification><Id>04lxx000000CaS{n:04}</Id>
        <sObject xsi:type="sf:Invoice__c" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">{fields}</sObject>
        </Notification>"#
    )
}

const ID_FIELD: &str = "<sf:Id>a015f00002J9YYEAA3</sf:Id>";

#[test]
fn tolerates_other_prefixes_nil_namespaced_fields_entities_and_compound_values() {
    let body = r#"<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
<e:Header><x:Trace xmlns:x="urn:other">t</x:Trace></e:Header>
<e:Body><o:notifications xmlns:o="http://soap.sforce.com/2005/09/outbound">
<o:OrganizationId>00Dxx0000001gPF</o:OrganizationId><o:ActionId>04kxx00000000bl</o:ActionId>
<o:Future xmlns:o2="urn:x">ignored</o:Future>
<o:Notification><o:Id>04lxx000000CaSi</o:Id>
<o:sObject i:type="obj:npsp__Thing__c" xmlns:obj="urn:sobject.enterprise.soap.sforce.com">
  <obj:Id>a015f00002J9YYE</obj:Id>
  <obj:npsp__Amount__c>39.0</obj:npsp__Amount__c>
  <obj:Notes__c>Tom &amp; Jerry &lt;br&gt; &#233;t&#xE9; <![CDATA[<raw>]]></obj:Notes__c>
  <obj:Cleared__c i:nil="true"/>
  <obj:Empty__c></obj:Empty__c>
  <obj:BillingAddress><obj:city>Paris</obj:city><obj:country>FR</obj:country></obj:BillingAddress>
</o:sObject></o:Notification>
</o:notifications></e:Body></e:Envelope>"#;
    let msg = parse(body.as_bytes()).unwrap();
    assert_eq!(msg.organization_id.as_str(), "00Dxx0000001gPFEAY");
    let n = &msg.notifications[0];
    assert_eq!(n.object, "npsp__Thing__c");
    assert_eq!(n.record_id.as_str(), "a015f00002J9YYEAA3");
    assert_eq!(n.fields["npsp__Amount__c"], json!("39.0"));
    assert_eq!(n.fields["Notes__c"], json!("Tom & Jerry <br> été <raw>"));
    assert_eq!(n.fields["Cleared__c"], json!(null));
    assert_eq!(n.fields["Empty__c"], json!(""));
    assert_eq!(
        n.fields["BillingAddress"],
        json!({"city": "Paris", "country": "FR"})
    );
}

#[test]
fn a_message_without_a_modstamp_asks_for_a_re_read() {
    let body = envelope(&notification(1, ID_FIELD));
    let changes = parse(body.as_bytes())
        .unwrap()
        .into_changes(chrono::Utc::now());
    assert!(matches!(
        changes[0].kind,
        ChangeKind::Reread {
            reason: RereadReason::UnknownAge,
            ..
        }
    ));
    assert_eq!(changes[0].modstamp, None);
}

#[test]
fn system_modstamp_wins_over_last_modified_date() {
    let fields = format!(
        "{ID_FIELD}<sf:LastModifiedDate>2026-01-01T00:00:00.000Z</sf:LastModifiedDate>\
         <sf:SystemModstamp>2026-01-02T00:00:00.000Z</sf:SystemModstamp>"
    );
    let body = envelope(&notification(1, &fields));
    let changes = parse(body.as_bytes())
        .unwrap()
        .into_changes(chrono::Utc::now());
    assert_eq!(
        changes[0].modstamp,
        Some("2026-01-02T00:00:00Z".parse().unwrap())
    );
}

/// The refusal corpus: each bad input with the error it must produce.
#[test]
fn refusals_name_the_problem() {
    let hundred_and_one: String = (1..=101).map(|i| notification(i, ID_FIELD)).collect();
    let hundred: String = (1..=100).map(|i| notification(i, ID_FIELD)).collect();
    assert_eq!(
        parse(envelope(&hundred).as_bytes())
            .unwrap()
            .notifications
            .len(),
        100
    );

    let cases: Vec<(&str, String, &str)> = vec![
        ("not xml", "hello".into(), "not a SOAP 1.1 envelope: found text `hello`"),
        ("empty", "".into(), "not well-formed XML: the body is empty"),
        (
            "malformed",
            "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body></soapenv:Envelope>".into(),
            "not well-formed XML",
        ),
        (
            "json",
            "{\"a\":1}".into(),
            "not a SOAP 1.1 envelope: found text `{\"a\":1}`",
        ),
        (
            "soap 1.2 envelope",
            envelope(&notification(1, ID_FIELD)).replace(
                "http://schemas.xmlsoap.org/soap/envelope/",
                "http://www.w3.org/2003/05/soap-envelope",
            ),
            "found `Envelope` in namespace http://www.w3.org/2003/05/soap-envelope",
        ),
        (
            "wrong outbound namespace",
            envelope(&notification(1, ID_FIELD)).replace("2005/09/outbound", "2005/09/other"),
            "the SOAP body holds `notifications` in namespace http://soap.sforce.com/2005/09/other",
        ),
        (
            "doctype (XXE)",
            format!(
                "<?xml version=\"1.0\"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>{}",
                envelope(&notification(1, "<sf:Id>&xxe;</sf:Id>"))
            ),
            "declares a DOCTYPE",
        ),
        (
            "billion laughs",
            format!(
                "<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">]>{}",
                envelope(&notification(1, "<sf:Name>&lol2;</sf:Name>"))
            ),
            "declares a DOCTYPE",
        ),
        (
            "undeclared entity",
            envelope(&notification(1, &format!("{ID_FIELD}<sf:Name>&lol;</sf:Name>"))),
            "undeclared entity `&lol;`",
        ),
        ("101 notifications", envelope(&hundred_and_one), "more than 100 notifications"),
        ("no notifications", envelope(""), "the message has no notifications"),
        (
            "no record id",
            envelope(&notification(3, "<sf:Name>x</sf:Name>")),
            "notification 1 (04lxx000000CaS0003) has no record Id; add the `Id` field",
        ),
        (
            "bad record id",
            envelope(&notification(1, "<sf:Id>001-bad</sf:Id>")),
            "notification 1 (04lxx000000CaS0001) has a bad record Id: `001-bad` is not a Salesforce id: it has 7 characters",
        ),
        (
            "no object type",
            envelope(&notification(1, ID_FIELD)).replace("xsi:type=\"sf:Invoice__c\"", ""),
            "has no sObject with an xsi:type",
        ),
        (
            "no organization id",
            envelope(&notification(1, ID_FIELD))
                .replace(&format!("<OrganizationId>{ORG}</OrganizationId>"), ""),
            "the message has no OrganizationId element",
        ),
        (
            "no body",
            "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"></soapenv:Envelope>".into(),
            "the message has no soapenv:Body element",
        ),
    ];
    for (name, body, expected) in cases {
        match parse(body.as_bytes()) {
            Ok(msg) => panic!("{name}: accepted {msg:?}"),
            Err(e) => assert!(
                e.to_string().contains(expected),
                "{name}: expected `{expected}` in `{e}`"
            ),
        }
    }
}

#[test]
fn oversized_bodies_are_refused_before_parsing() {
    let body = envelope(&notification(1, ID_FIELD));
    let err = parse_outbound_message(body.as_bytes(), 100).unwrap_err();
    assert_eq!(
        err,
        OutboundError::TooLarge {
            size: body.len(),
            limit: 100
        }
    );
}

#[test]
fn the_ack_is_the_documented_one() {
    let expected = String::from_utf8(fixture("outbound-ack.xml")).unwrap();
    let squash = |s: &str| s.split_whitespace().collect::<String>();
    assert_eq!(squash(soap::ACK), squash(&expected));
}

#[test]
fn faults_escape_their_message() {
    let f = soap::fault(soap::FaultCode::Client, "bad <input> & more");
    assert!(f.contains("<faultcode>soapenv:Client</faultcode>"), "{f}");
    assert!(f.contains("bad &lt;input&gt; &amp; more"), "{f}");
    assert!(!f.contains("<Ack>"), "{f}");
}

#[test]
fn sender_authentication() {
    let ours = SalesforceId::parse("00Dxx0000001gPF").unwrap();
    let same = SalesforceId::parse("00Dxx0000001gPFEAY").unwrap();
    let other = SalesforceId::parse("00Dxx0000001gPG").unwrap();
    assert!(auth::check_organization(&same, &ours).is_ok());
    let err = auth::check_organization(&other, &ours).unwrap_err();
    assert!(
        err.to_string()
            .contains("not the configured 00Dxx0000001gPFEAY"),
        "{err}"
    );

    let token = "s3cr3t-token-value";
    assert!(auth::check_token(Some(token), token).is_ok());
    for bad in [None, Some(""), Some("s3cr3t-token-valuE"), Some("s3cr3t")] {
        let err = auth::check_token(bad, token).unwrap_err();
        assert!(
            !err.to_string().contains(token),
            "the refusal must not echo the token"
        );
    }
    assert!(
        auth::check_token(Some(""), "").is_err(),
        "an empty configured token accepts nothing"
    );
}

#[test]
fn salesforce_datetimes_in_both_formats() {
    let z = parse_salesforce_datetime("2017-11-03T17:24:20.000Z").unwrap();
    let rest = parse_salesforce_datetime("2017-11-03T17:24:20.000+0000").unwrap();
    assert_eq!(z, rest);
    assert!(parse_salesforce_datetime("yesterday").is_none());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(sf2hs_tests::property_cases(2000)))]

    #[test]
    fn never_panics_on_arbitrary_bytes(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse(&body);
    }

    #[test]
    fn never_panics_on_mutated_messages(cut in 0usize..2000, insert in "[<>&;\"'a-z:/= ]{0,12}") {
        let body = envelope(&notification(1, ID_FIELD));
        let cut = cut.min(body.len());
        let mut mutated = body.as_bytes()[..cut].to_vec();
        mutated.extend_from_slice(insert.as_bytes());
        mutated.extend_from_slice(&body.as_bytes()[cut..]);
        let _ = parse(&mutated);
    }

    /// Arbitrary field names and text values survive a build-then-parse round trip.
    #[test]
    fn fields_round_trip(
        fields in proptest::collection::btree_map("[A-Z][A-Za-z0-9_]{0,20}(__c)?", "[^\u{0}-\u{8}\u{b}\u{c}\u{e}-\u{1f}\u{fffe}\u{ffff}]{0,40}", 0..10)
    ) {
        let xml: String = fields
            .iter()
            .filter(|(k, _)| k.as_str() != "Id")
            .map(|(k, v)| format!("<sf:{k}>{}</sf:{k}>", quick_escape(v)))
            .collect();
        let body = envelope(&notification(1, &format!("{ID_FIELD}{xml}")));
        let msg = parse(body.as_bytes()).unwrap();
        let got = &msg.notifications[0].fields;
        for (k, v) in fields.iter().filter(|(k, _)| k.as_str() != "Id") {
            // XML normalises CR and CRLF to LF in text.
            let expected = v.replace("\r\n", "\n").replace('\r', "\n");
            prop_assert_eq!(&got[k], &json!(expected));
        }
    }
}

fn quick_escape(v: &str) -> String {
    v.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
