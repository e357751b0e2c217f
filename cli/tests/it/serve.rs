//! `sf2hs serve` end to end over HTTP: the Salesforce sandbox's outbound-message sender and its
//! CDC relay deliver to the running binary, which writes the HubSpot sandbox; SIGTERM stops it
//! cleanly.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;
use sf2hs_sandbox::hubspot::SandboxConfig;
use sf2hs_sandbox::salesforce::senders::cdc::{gap_events, gap_overflow_event};
use sf2hs_sandbox::salesforce::senders::outbound::{OutboundMessageConfig, OutboundSender};
use sf2hs_sandbox::salesforce::senders::{CdcRelayConfig, change_events, post_events_with};
use sf2hs_shared::domain::SalesforceId;
use sf2hs_shared::ports::ChangeQueue;
use sf2hs_shared::salesforce::intake::auth::EVENTS_TOKEN_HEADER;
use sf2hs_tests::stack::ENDPOINT_TOKEN;
use sf2hs_tests::stack::local_credentials;
use tokio::io::{AsyncBufReadExt, BufReader};

const BINARY: &str = env!("CARGO_BIN_EXE_sf2hs");

fn id18(id: &str) -> String {
    SalesforceId::parse(id).expect("id").as_str().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_takes_outbound_messages_and_events_and_stops_cleanly() {
    let (salesforce, hubspot) = sf2hs_sandbox::demo::start_pair(SandboxConfig::default())
        .await
        .expect("sandboxes");
    let handle = salesforce.handle();

    let (_dir, data_dir) = sf2hs_tests::stack::cli_data_dir(BINARY, "serve", &salesforce, &hubspot);

    let mut child = tokio::process::Command::new(BINARY)
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["serve", "--listen", "127.0.0.1:0", "--workers", "2"])
        .env("SF2HS_ORG_ID", handle.org_id())
        .env("SF2HS_ENDPOINT_TOKEN_SECRET", "endpoint-token")
        .env("SF2HS_SECRET_ENDPOINT_TOKEN", ENDPOINT_TOKEN)
        .envs(local_credentials(&salesforce, &hubspot))
        .env("SF2HS_RETRY_DELAY_SECONDS", "1")
        .env("SF2HS_ASSOCIATION_RETRY_DELAY_SECONDS", "1")
        .env(
            "SF2HS_PLATFORM_EVENTS",
            "Project_Changed__e=Project__c/Record_Id__c/Change_Type__c",
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("serve starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut base = None;
    while let Some(line) = lines.next_line().await.expect("stdout line") {
        if let Some(url) = line.strip_prefix("sf2hs serve: listening on ") {
            base = Some(url.to_owned());
            break;
        }
    }
    let base = base.expect("serve printed its address");
    let output = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            seen.push(line);
        }
        seen
    });

    let projects = handle
        .create_many(
            "Project__c",
            (0..3)
                .map(|i| json!({ "Name": format!("P{i}"), "Budget__c": i }))
                .collect(),
        )
        .expect("projects");
    let invoices = handle
        .create_many(
            "Invoice__c",
            (0..6)
                .map(|i| {
                    json!({ "Name": format!("I{i}"), "Amount__c": i, "Status__c": "Sent",
                                 "Project__c": projects[i % 3] })
                })
                .collect(),
        )
        .expect("invoices");
    let outbound = format!("{base}/outbound/{ENDPOINT_TOKEN}");
    // Invoices first: their associations wait for the projects.
    for (object, ids, fields) in [
        (
            "Invoice__c",
            &invoices,
            &["Name", "Amount__c", "Status__c", "Project__c"][..],
        ),
        ("Project__c", &projects, &["Name", "Budget__c"][..]),
    ] {
        let report = OutboundSender::new(
            handle.clone(),
            OutboundMessageConfig::new(&outbound, object, fields),
        )
        .expect("sender")
        .send(ids)
        .await
        .expect("delivered");
        assert!(report.all_acked(), "{report:?}");
    }
    let sequence = handle.changes_after(0).last().map_or(0, |c| c.sequence);
    handle
        .update("Project__c", &projects[0], json!({ "Name": "P0 renamed" }))
        .expect("update");
    let events = change_events(&handle, &CdcRelayConfig::default(), sequence);

    // The events endpoint takes the endpoint token as an API destination sends it (API-key
    // header, or basic auth); without it, or with another, nothing is queued.
    let store =
        sf2hs_shared::embedded::EmbeddedStore::open(data_dir.join("sf2hs.db")).expect("store");
    let queued = || async {
        let depth = store.change_queue(5).depth().await.expect("depth");
        depth.visible + depth.delayed + depth.in_flight + depth.dead
    };
    let before = queued().await;
    let http = reqwest::Client::new();
    for (label, request) in [
        ("no credential", http.post(format!("{base}/events"))),
        (
            "a wrong token",
            http.post(format!("{base}/events"))
                .header(EVENTS_TOKEN_HEADER, "not-the-token-0123456789"),
        ),
        (
            "a wrong basic-auth password",
            http.post(format!("{base}/events"))
                .basic_auth("eventbridge", Some("not-the-token-0123456789")),
        ),
    ] {
        let answer = request
            .json(&events[0])
            .send()
            .await
            .expect("serve answers");
        assert_eq!(answer.status().as_u16(), 401, "{label}");
        let body = answer.text().await.unwrap_or_default();
        assert!(body.contains(EVENTS_TOKEN_HEADER), "{label}: {body}");
    }
    assert_eq!(queued().await, before, "nothing queued for a refused event");
    let basic = http
        .post(format!("{base}/events"))
        .basic_auth("eventbridge", Some(ENDPOINT_TOKEN))
        .json(&events[0])
        .send()
        .await
        .expect("serve answers");
    assert_eq!(basic.status().as_u16(), 200, "basic auth with the token");

    // SF2HS_MAX_BODY_BYTES (4 MiB by default), not axum's 2 MiB, bounds a body: 3 MiB reaches
    // the handler (which answers this one's bad XML with a SOAP fault), 5 MiB is refused.
    let outbound_url = format!("{base}/outbound/{ENDPOINT_TOKEN}");
    for (size, expected) in [(3 << 20, 400), (5 << 20, 413)] {
        let answer = http
            .post(&outbound_url)
            .header("content-type", "text/xml; charset=utf-8")
            .body(vec![b'x'; size])
            .send()
            .await
            .expect("serve answers");
        assert_eq!(answer.status().as_u16(), expected, "{size} bytes");
        if expected == 400 {
            let body = answer.text().await.unwrap_or_default();
            assert!(
                body.contains("soapenv:Fault") || body.contains("Fault"),
                "{body}"
            );
        }
    }
    let statuses = post_events_with(
        &format!("{base}/events"),
        &events,
        Some((EVENTS_TOKEN_HEADER, ENDPOINT_TOKEN)),
    )
    .await
    .expect("posted");
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");

    let hub = hubspot.handle();
    let started = Instant::now();
    loop {
        let renamed = hub
            .record_by_unique("sf_project", "salesforce_id", &id18(&projects[0]))
            .expect("read")
            .is_some_and(|r| r.properties["project_name"] == "P0 renamed");
        let associated = invoices.iter().all(|invoice| {
            hub.record_by_unique("sf_invoice", "salesforce_id", &id18(invoice))
                .expect("read")
                .is_some_and(|r| {
                    !hub.associations_of("sf_invoice", r.id, "sf_project")
                        .expect("associations")
                        .is_empty()
                })
        });
        if renamed && associated {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "serve did not bring HubSpot up to date"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(hub.count("sf_project").expect("count"), 3);
    assert_eq!(hub.count("sf_invoice").expect("count"), 6);

    // A platform event routed by SF2HS_PLATFORM_EVENTS: it names the record, serve reads it.
    handle
        .update(
            "Project__c",
            &projects[1],
            json!({ "Name": "P1 through an event" }),
        )
        .expect("update");
    let event = sf2hs_tests::relayed_platform_event(
        &handle.org_id(),
        "Project_Changed__e",
        json!({ "Record_Id__c": projects[1], "Change_Type__c": "UPDATE",
                "CreatedDate": "2026-12-05T10:00:00.000Z" }),
    );
    let statuses = post_events_with(
        &format!("{base}/events"),
        &[event],
        Some((EVENTS_TOKEN_HEADER, ENDPOINT_TOKEN)),
    )
    .await
    .expect("posted");
    assert_eq!(statuses, [200]);
    let started = Instant::now();
    let through_the_event = || {
        hub.record_by_unique("sf_project", "salesforce_id", &id18(&projects[1]))
            .expect("read")
            .is_some_and(|r| r.properties["project_name"] == "P1 through an event")
    };
    while !through_the_event() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the platform event's record did not reach HubSpot"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Gap events (S4): header and ids only; serve reads the record.
    let sequence = handle.changes_after(0).last().map_or(0, |c| c.sequence);
    handle
        .update(
            "Project__c",
            &projects[0],
            json!({ "Name": "P0 through a gap" }),
        )
        .expect("update");
    let gaps = gap_events(&handle, &CdcRelayConfig::default(), sequence);
    assert_eq!(
        gaps[0]["detail"]["payload"]["ChangeEventHeader"]["changeType"],
        "GAP_UPDATE"
    );
    assert_eq!(
        gaps[0]["detail"]["payload"].as_object().map(|p| p.len()),
        Some(1),
        "no values"
    );
    let statuses = post_events_with(
        &format!("{base}/events"),
        &gaps,
        Some((EVENTS_TOKEN_HEADER, ENDPOINT_TOKEN)),
    )
    .await
    .expect("posted");
    assert_eq!(statuses, [200]);
    let started = Instant::now();
    while hub
        .record_by_unique("sf_project", "salesforce_id", &id18(&projects[0]))
        .expect("read")
        .is_none_or(|r| r.properties["project_name"] != "P0 through a gap")
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the gap event did not bring HubSpot up to date"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A transaction too big for CDC (platform-behaviours.md S4): Salesforce sends one
    // GAP_OVERFLOW in place of its events. serve stores a re-sync and runs it: the records
    // changed and deleted from the event's time reach HubSpot with no event of their own.
    handle
        .advance_clock(chrono::TimeDelta::seconds(1))
        .expect("clock");
    let overflow_at = handle.now();
    handle
        .update("Project__c", &projects[1], json!({ "Name": "P1 in bulk" }))
        .expect("bulk update");
    handle
        .delete("Project__c", &projects[2])
        .expect("bulk delete");
    let overflow = gap_overflow_event(
        &handle,
        &CdcRelayConfig::default(),
        "Project__c",
        overflow_at,
    );
    let statuses = post_events_with(
        &format!("{base}/events"),
        &[overflow],
        Some((EVENTS_TOKEN_HEADER, ENDPOINT_TOKEN)),
    )
    .await
    .expect("posted");
    assert_eq!(statuses, [200]);
    let started = Instant::now();
    loop {
        let renamed = hub
            .record_by_unique("sf_project", "salesforce_id", &id18(&projects[1]))
            .expect("read")
            .is_some_and(|r| r.properties["project_name"] == "P1 in bulk");
        let archived = hub
            .record_by_unique("sf_project", "salesforce_id", &id18(&projects[2]))
            .expect("read")
            .is_none();
        if renamed && archived {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the re-sync did not bring HubSpot up to date"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let pid = child.id().expect("pid");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("serve stops within 30 s")
        .expect("exit status");
    assert!(status.success(), "{status:?}");
    let seen = output.await.expect("output");
    assert!(seen.iter().any(|l| l == "sf2hs serve: stopped"), "{seen:?}");
}

/// An outbound message of `notifications` projects, each with an unmapped `Notes__c` of
/// `notes_chars` characters (a long text area), as Salesforce would send it.
fn big_outbound_message(org_id: &str, ids: &[String], notes_chars: usize) -> String {
    let notes = "n".repeat(notes_chars);
    let mut xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>{org_id}</OrganizationId>
   <ActionId>04kxx00000000blCAA</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://example.my.salesforce.com/services/Soap/c/60.0</EnterpriseUrl>
   <PartnerUrl>https://example.my.salesforce.com/services/Soap/u/60.0</PartnerUrl>
"#
    );
    for (n, id) in ids.iter().enumerate() {
        xml.push_str(&format!(
            r#"   <Notification>
    <Id>04lxx000000Ca{n:03}AAK</Id>
    <sObject xsi:type="sf:Project__c" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>{id}</sf:Id>
     <sf:Name>Big {n}</sf:Name>
     <sf:Budget__c>{n}</sf:Budget__c>
     <sf:Notes__c>{notes}</sf:Notes__c>
     <sf:SystemModstamp>2026-12-05T10:00:00.000Z</sf:SystemModstamp>
    </sObject>
   </Notification>
"#
        ));
    }
    xml.push_str("  </notifications>\n </soapenv:Body>\n</soapenv:Envelope>\n");
    xml
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_acks_a_3_mib_message_under_a_4_mib_limit_logs_json_and_reports_its_health() {
    let (salesforce, hubspot) = sf2hs_sandbox::demo::start_pair(SandboxConfig::default())
        .await
        .expect("sandboxes");
    let handle = salesforce.handle();
    let (_dir, data_dir) =
        sf2hs_tests::stack::cli_data_dir(BINARY, "serve-big", &salesforce, &hubspot);
    let mut child = tokio::process::Command::new(BINARY)
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["--log-format", "json"])
        .args(["serve", "--listen", "127.0.0.1:0", "--workers", "2"])
        .env_remove("RUST_LOG")
        .env("SF2HS_ORG_ID", handle.org_id())
        .env("SF2HS_ENDPOINT_TOKEN_SECRET", "endpoint-token")
        .env("SF2HS_SECRET_ENDPOINT_TOKEN", ENDPOINT_TOKEN)
        .env("SF2HS_MAX_BODY_BYTES", (4 << 20).to_string())
        .envs(local_credentials(&salesforce, &hubspot))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("serve starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut base = None;
    while let Some(line) = lines.next_line().await.expect("stdout line") {
        if let Some(url) = line.strip_prefix("sf2hs serve: listening on ") {
            base = Some(url.to_owned());
            break;
        }
    }
    let base = base.expect("serve printed its address");
    let stderr = child.stderr.take().expect("stderr");
    let logged = tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        let mut seen = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            seen.push(line);
        }
        seen
    });

    let ids = handle
        .create_many(
            "Project__c",
            (0..100)
                .map(|i| json!({ "Name": format!("Big {i}"), "Budget__c": i }))
                .collect(),
        )
        .expect("projects");
    let org = id18(&handle.org_id());
    let http = reqwest::Client::new();
    let outbound_url = format!("{base}/outbound/{ENDPOINT_TOKEN}");
    // 100 notifications with 31,000-character notes: about 3 MiB, under the 4 MiB limit.
    let three = big_outbound_message(&org, &ids, 31_000);
    assert!(
        (3 << 20) - 100_000 < three.len() && three.len() < (3 << 20) + 200_000,
        "{}",
        three.len()
    );
    let answer = http
        .post(&outbound_url)
        .header("content-type", "text/xml; charset=utf-8")
        .body(three)
        .send()
        .await
        .expect("serve answers");
    assert_eq!(answer.status().as_u16(), 200);
    let body = answer.text().await.expect("body");
    assert!(body.contains("<Ack>true</Ack>"), "{body}");
    // The same with 53,000-character notes: over 5 MiB, refused before it is read whole.
    let five = big_outbound_message(&org, &ids, 53_000);
    assert!(five.len() > 5 << 20, "{}", five.len());
    let answer = http
        .post(&outbound_url)
        .header("content-type", "text/xml; charset=utf-8")
        .body(five)
        .send()
        .await
        .expect("serve answers");
    assert_eq!(answer.status().as_u16(), 413);

    // The 100 acked records reach HubSpot.
    let hub = hubspot.handle();
    let started = Instant::now();
    while !ids.iter().all(|id| {
        hub.record_by_unique("sf_project", "salesforce_id", &id18(id))
            .expect("read")
            .is_some()
    }) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the records did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A refused request is logged as JSON, counted, and shown by /healthz.
    let refused = http
        .post(format!("{base}/outbound/not-the-token-0123456789abcdef"))
        .body("<x/>")
        .send()
        .await
        .expect("serve answers");
    assert_eq!(refused.status().as_u16(), 403);
    let health = http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("healthz answers");
    assert_eq!(health.status().as_u16(), 200);
    let health: serde_json::Value = health.json().await.expect("json");
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["store"]["ok"], true, "{health}");
    assert_eq!(health["queue"]["ok"], true, "{health}");
    assert_eq!(health["workers"]["alive"], 2, "{health}");
    assert_eq!(health["workers"]["started"], 2, "{health}");
    assert!(
        health["refusals"]
            .as_array()
            .expect("refusals")
            .iter()
            .any(|r| r["entryPoint"] == "outbound" && r["reason"] == "token" && r["count"] == 1),
        "{health}"
    );

    // The console is mounted at /console behind the endpoint token (basic auth, as /events).
    let console = http
        .get(format!("{base}/console/health"))
        .send()
        .await
        .expect("answers");
    assert_eq!(console.status().as_u16(), 401);
    assert!(
        console
            .headers()
            .get("www-authenticate")
            .is_some_and(|v| v.to_str().unwrap_or_default().starts_with("Basic")),
        "a browser is asked for the token"
    );
    let console = http
        .get(format!("{base}/console/health"))
        .basic_auth("operator", Some(ENDPOINT_TOKEN))
        .send()
        .await
        .expect("answers");
    assert_eq!(console.status().as_u16(), 200);
    let page = console.text().await.expect("page");
    assert!(
        page.contains("Sync health") && page.contains("/console/record"),
        "links stay under /console"
    );
    // Mounted in serve, the overview shows the worker's counters (the dashboard's metrics).
    let overview = http
        .get(format!("{base}/console"))
        .basic_auth("operator", Some(ENDPOINT_TOKEN))
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("page");
    assert!(
        overview.contains("Worker since this process started") && overview.contains("Project__c"),
        "{overview}"
    );
    let cross_site = http
        .post(format!("{base}/console/resync"))
        .basic_auth("operator", Some(ENDPOINT_TOKEN))
        .header("sec-fetch-site", "cross-site")
        .body("object=Project__c&id=a0Plak0000000001")
        .send()
        .await
        .expect("answers");
    assert_eq!(
        cross_site.status().as_u16(),
        403,
        "a page elsewhere cannot act"
    );

    let pid = child.id().expect("pid");
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("serve stops")
        .expect("exit status");
    assert!(status.success(), "{status:?}");
    let logged = logged.await.expect("stderr");
    let entries: Vec<serde_json::Value> = logged
        .iter()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    assert!(
        entries.iter().any(|e| e["level"] == "WARN"
            && e["message"] == "outbound message refused"
            && e["reason"].as_str().is_some_and(|r| r.contains("token"))),
        "no JSON refusal line in {logged:?}"
    );
    assert!(
        !logged
            .iter()
            .any(|l| l.contains(ENDPOINT_TOKEN) || l.contains("not-the-token")),
        "a token in the log"
    );
}
