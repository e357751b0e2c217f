//! The Sync Health console in a real browser: headless Chromium through chromedriver (Debian's
//! `chromium` and `chromium-driver`, which `scripts/test` installs), driven with fantoccini, on a
//! data directory holding synced, failing and dead-lettered records written by the worker
//! against the sandboxes. Each page loads and fits a 1280-pixel window and a phone; the groups
//! match `sf2hs health --json` on the same data; a resync from the page fixes a record whose
//! cause was repaired; a dead letter replayed from the page lands.
//!
//! `SF2HS_CONSOLE_SCREENSHOTS=docs/console` writes each page's screenshot there (the README
//! links them); otherwise they go to a temporary directory.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use sf2hs_sandbox::hubspot::{DEFAULT_TOKEN, SandboxConfig};
use sf2hs_shared::domain::{Change, ChangeKind, ChangeSource, RereadReason, SalesforceId};
use sf2hs_shared::embedded::EmbeddedStore;
use sf2hs_shared::hubspot::{HubSpotClient, HubSpotConfig, TokenSource};
use sf2hs_shared::ports::ChangeQueue;
use sf2hs_shared::worker::{Worker, WorkerSettings, drain_once};

const BINARY: &str = env!("CARGO_BIN_EXE_sf2hs");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// chromedriver on a free port, stopped with the test.
async fn chromedriver() -> (tokio::process::Child, u16) {
    let binary = std::env::var("SF2HS_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let port = free_port();
    let child = tokio::process::Command::new(&binary)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {binary} ({e}): scripts/test installs Debian's chromium and \
                 chromium-driver; or set SF2HS_CHROMEDRIVER"
            )
        });
    sf2hs_tests::wait_listening(&format!("127.0.0.1:{port}")).await;
    (child, port)
}

/// `sf2hs console` on `data_dir`, with the sandboxes' credentials; its base URL.
async fn start_console(
    data_dir: &Path,
    salesforce: &sf2hs_sandbox::salesforce::RunningSalesforceSandbox,
    hubspot: &sf2hs_sandbox::hubspot::RunningSandbox,
) -> (tokio::process::Child, String) {
    let port = free_port();
    let console = tokio::process::Command::new(BINARY)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["console", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .env("SF2HS_ORG_ID", salesforce.handle().org_id())
        // With the credentials, imports start from the page and values are read live.
        .envs(sf2hs_tests::stack::local_credentials(salesforce, hubspot))
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("console starts");
    sf2hs_tests::wait_listening(&format!("127.0.0.1:{port}")).await;
    (console, format!("http://127.0.0.1:{port}"))
}

async fn browser(port: u16) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1280,900", "--hide-scrollbars"],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a chromedriver session")
}

/// The page fits the window: no horizontal scroll of the page itself.
async fn fits(client: &Client, label: &str) {
    let widths = client
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await
        .expect("widths");
    let (scroll, inner) = (
        widths[0].as_i64().unwrap_or(0),
        widths[1].as_i64().unwrap_or(0),
    );
    assert!(
        scroll <= inner,
        "{label}: the page scrolls sideways ({scroll} > {inner})"
    );
}

/// Clicks the element `xpath` finds, waiting for it (the page a click loads may still be on its
/// way).
async fn click(client: &Client, xpath: &str) {
    client
        .wait()
        .for_element(Locator::XPath(xpath))
        .await
        .unwrap_or_else(|e| panic!("{xpath}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("{xpath}: {e}"));
}

/// The text of the first element `css` finds (waiting for it: a click may still be loading).
async fn text_at(client: &Client, css: &str) -> String {
    client
        .wait()
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
}

async fn screenshot(client: &Client, dir: &Path, name: &str) {
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("screenshot written");
}

struct Data {
    salesforce: sf2hs_sandbox::salesforce::RunningSalesforceSandbox,
    hubspot: sf2hs_sandbox::hubspot::RunningSandbox,
    sf: sf2hs_sandbox::salesforce::SalesforceHandle,
    worker: Worker,
    queue: Arc<sf2hs_shared::embedded::SqliteChangeQueue>,
    org: SalesforceId,
}

impl Data {
    fn reread(&self, object: &str, id: &str) -> Change {
        Change {
            org_id: self.org.clone(),
            object: object.into(),
            record_id: SalesforceId::parse(id).expect("id"),
            kind: ChangeKind::Reread {
                reason: RereadReason::EventOnly,
                partial: Default::default(),
            },
            modstamp: None,
            source: ChangeSource::Worker,
            received_at: chrono::Utc::now(),
            prior_deliveries: 0,
        }
    }

    async fn drain(&self) {
        for _ in 0..5 {
            drain_once(
                &self.worker,
                self.queue.as_ref(),
                100,
                Duration::from_secs(30),
                Duration::ZERO,
            )
            .await
            .expect("drained");
        }
    }

    fn in_hubspot(&self, object: &str, id: &str) -> Option<sf2hs_sandbox::hubspot::StoredRecord> {
        self.hubspot
            .handle()
            .record_by_unique(
                object,
                "salesforce_id",
                SalesforceId::parse(id).expect("id").as_str(),
            )
            .expect("read")
    }
}

/// A data directory after the worker met synced, refused, waiting and hidden records.
async fn data(data_dir: &Path) -> (Data, Vec<String>) {
    let (salesforce, hubspot) = sf2hs_sandbox::demo::start_pair_with(
        SandboxConfig::default(),
        sf2hs_sandbox::demo::project_object(),
        // Salesforce allows "Void"; HubSpot's property has no such option.
        sf2hs_sandbox::demo::invoice_object_with_statuses(&["Draft", "Sent", "Paid", "Void"]),
    )
    .await
    .expect("sandboxes");
    std::fs::create_dir_all(data_dir).expect("data dir");
    let store = EmbeddedStore::open(data_dir.join("sf2hs.db")).expect("store");
    let report = sf2hs_shared::mapping::validate_sources(&[(
        "demo.toml".to_owned(),
        sf2hs_tests::stack::MAPPINGS.to_owned(),
    )]);
    use sf2hs_shared::ports::MappingStore;
    for located in &report.mappings {
        store
            .mapping_store()
            .put(&located.mapping, None)
            .await
            .expect("mapping");
    }
    // One receive: a refused record is dead-lettered at once.
    let queue = Arc::new(store.change_queue(1));
    let (salesforce_client, _) = sf2hs_tests::stack::sandbox_clients(&salesforce, &hubspot);
    let hubspot_client = HubSpotClient::new(
        HubSpotConfig::with_base_url(hubspot.base_url()),
        TokenSource::static_token(DEFAULT_TOKEN),
    )
    .expect("client");
    let worker = Worker::new(
        sf2hs_tests::stack::embedded_worker_ports(
            &store,
            queue.clone(),
            hubspot_client,
            salesforce_client,
        ),
        WorkerSettings {
            max_receives: 1,
            retry_delay: Duration::ZERO,
            association_retry_delay: Duration::from_secs(3600),
            ..WorkerSettings::default()
        },
    );
    let sf = salesforce.handle();
    let org = SalesforceId::parse(&sf.org_id()).expect("org");
    let data = Data {
        salesforce,
        hubspot,
        sf: sf.clone(),
        worker,
        queue,
        org,
    };
    let synced: Vec<String> = (0..3)
        .map(|i| {
            sf.create(
                "Project__c",
                json!({ "Name": format!("P{i}"), "Budget__c": i }),
            )
            .expect("project")
        })
        .collect();
    let unsynced_project = sf
        .create("Project__c", json!({ "Name": "Later", "Budget__c": 9 }))
        .expect("project");
    let waiting = sf
        .create(
            "Invoice__c",
            json!({ "Name": "INV-W", "Amount__c": 5, "Status__c": "Sent", "Project__c": unsynced_project }),
        )
        .expect("invoice");
    let refused: Vec<String> = (0..2)
        .map(|i| {
            sf.create(
                "Invoice__c",
                json!({ "Name": format!("INV-V{i}"), "Amount__c": 1, "Status__c": "Void" }),
            )
            .expect("invoice")
        })
        .collect();
    let mut changes: Vec<Change> = synced
        .iter()
        .map(|p| data.reread("Project__c", p))
        .collect();
    changes.push(data.reread("Invoice__c", &waiting));
    changes.extend(refused.iter().map(|i| data.reread("Invoice__c", i)));
    data.queue.send_batch(&changes).await.expect("queued");
    data.drain().await;
    (data, vec![refused[0].clone(), refused[1].clone(), waiting])
}

fn health_json(data_dir: &Path) -> Value {
    let output = std::process::Command::new(BINARY)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--json", "health"])
        .output()
        .expect("sf2hs health runs");
    assert_eq!(output.status.code(), Some(1), "exit 1 while records fail");
    serde_json::from_slice(&output.stdout).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_in_a_browser_agrees_with_health_resyncs_and_replays() {
    let dir = sf2hs_tests::TempDir::new("console").expect("dir");
    let data_dir = dir.path().join("data");
    let (data, records) = data(&data_dir).await;
    let (refused_a, refused_b, waiting) = (&records[0], &records[1], &records[2]);
    let shots: PathBuf = std::env::var("SF2HS_CONSOLE_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| dir.path().join("screenshots"));
    std::fs::create_dir_all(&shots).expect("screenshots dir");

    // The same in the CLI: one record's history; the grouped view wrapped to a 100-column
    // terminal; a resync of named records.
    let sf2hs = |args: &[&str], columns: Option<&str>| {
        let mut command = std::process::Command::new(BINARY);
        command.arg("--data-dir").arg(&data_dir).args(args);
        command.env("SF2HS_ORG_ID", data.org.as_str());
        if let Some(columns) = columns {
            command.env("COLUMNS", columns);
        }
        command.output().expect("sf2hs runs")
    };
    let history = sf2hs(&["--json", "errors", "--record", refused_a], None);
    assert!(history.status.success());
    let history: Value = serde_json::from_slice(&history.stdout).expect("JSON");
    assert_eq!(
        history["history"][0]["outcome"], "dead_lettered",
        "{history}"
    );
    let grouped = sf2hs(&["health"], Some("100"));
    assert_eq!(grouped.status.code(), Some(1), "failing: exit 1");
    let grouped = String::from_utf8_lossy(&grouped.stdout).into_owned();
    assert!(grouped.contains("3 record(s) failing"), "{grouped}");
    let widest = grouped
        .lines()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0);
    assert!(
        widest <= 100,
        "a line of {widest} columns on a 100-column terminal:\n{grouped}"
    );
    let before = data.queue.depth().await.expect("depth");
    let resynced = sf2hs(&["resync", "Invoice__c", waiting], None);
    assert!(
        resynced.status.success(),
        "{}",
        String::from_utf8_lossy(&resynced.stderr)
    );
    let after = data.queue.depth().await.expect("depth");
    assert_eq!(after.visible, before.visible + 1, "one re-read queued");

    let (mut console, base) = start_console(&data_dir, &data.salesforce, &data.hubspot).await;
    let (_driver, driver_port) = chromedriver().await;
    let client = browser(driver_port).await;

    // Overview: the failing count is health's.
    let health = health_json(&data_dir);
    let failing = health["failing_records"].as_u64().expect("failing");
    assert_eq!(failing, 3, "{health}");
    client.goto(&format!("{base}/")).await.expect("overview");
    let text = text_at(&client, "body").await;
    assert!(
        text.contains(&format!("{failing}\nrecords failing"))
            || text.contains(&format!("{failing} records failing")),
        "{text}"
    );
    assert!(
        text.contains("Invoice__c") && text.contains("Project__c"),
        "{text}"
    );
    // The lag: the waiting invoice has been queued since the worker met it; per mapping too
    // (no project waits).
    let lag = text_at(&client, "[data-lag] b").await;
    assert!(lag.ends_with(" s"), "{lag}");
    assert!(
        text_at(&client, "[data-lag-of=Invoice__c]")
            .await
            .ends_with(" s")
    );
    assert_eq!(text_at(&client, "[data-lag-of=Project__c]").await, "-");
    fits(&client, "overview").await;
    screenshot(&client, &shots, "overview").await;

    // Sync health: one <details> per group of `sf2hs health`, with its failing records.
    client
        .goto(&format!("{base}/health"))
        .await
        .expect("health");
    let groups = client
        .find_all(Locator::Css("details[data-group]"))
        .await
        .expect("groups");
    let mut page_keys = Vec::new();
    for group in &groups {
        page_keys.push(group.attr("data-group").await.expect("attr").expect("key"));
    }
    let mut cli_keys: Vec<String> = health["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| {
            format!(
                "{}/{}/{}",
                g["salesforce_object"].as_str().expect("object"),
                g["category"].as_str().expect("category"),
                g["field"].as_str().unwrap_or("-")
            )
        })
        .collect();
    page_keys.sort();
    cli_keys.sort();
    assert_eq!(page_keys, cli_keys, "the page's groups are health's");
    let refused_key = "Invoice__c/hubspot_refused/invoice_status";
    assert!(page_keys.iter().any(|k| k == refused_key), "{page_keys:?}");
    let group = client
        .find(Locator::Css(&format!(
            "details[data-group='{refused_key}']"
        )))
        .await
        .expect("the refused group");
    group
        .find(Locator::Css("summary"))
        .await
        .expect("summary")
        .click()
        .await
        .expect("expanded");
    let rows = group
        .find_all(Locator::Css("tr[data-record]"))
        .await
        .expect("rows");
    assert_eq!(rows.len(), 2, "two records refused, each once");
    fits(&client, "health").await;
    screenshot(&client, &shots, "sync-health").await;

    // Record: the refused invoice's history names HubSpot's reason.
    let refused_a18 = SalesforceId::parse(refused_a)
        .expect("id")
        .as_str()
        .to_owned();
    client
        .goto(&format!("{base}/record?id={refused_a}"))
        .await
        .expect("record");
    let text = text_at(&client, "main").await;
    assert!(
        text.contains(&refused_a18) && text.contains("Void was not one of the allowed options"),
        "{text}"
    );
    // Live: Salesforce holds Void, HubSpot has no record of it.
    let live = text_at(&client, "table[data-live] tr[data-field=Status__c]").await;
    assert!(live.contains("Void"), "{live}");
    assert!(text.contains("HubSpot: no record"), "{text}");
    fits(&client, "record").await;

    // The cause is repaired in Salesforce; a resync from the record's page writes it.
    data.sf
        .update("Invoice__c", refused_a, json!({ "Status__c": "Paid" }))
        .expect("repaired");
    client
        .find(Locator::XPath(
            "//button[starts-with(., 'Resync this record')]",
        ))
        .await
        .expect("resync button")
        .click()
        .await
        .expect("clicked");
    // Each click loads a page: wait for what only the next page has.
    client
        .wait()
        .for_element(Locator::XPath("//button[.='Resync 1 record(s)']"))
        .await
        .expect("the confirmation")
        .click()
        .await
        .expect("confirmed");
    client
        .wait()
        .for_element(Locator::Css("p.notice"))
        .await
        .expect("the health page with its notice");
    let url = client.current_url().await.expect("url");
    assert!(
        url.as_str().contains("/health") && url.as_str().contains("done=1"),
        "{url}"
    );
    data.drain().await;
    let written = data
        .in_hubspot("sf_invoice", refused_a)
        .expect("written after the resync");
    assert_eq!(written.properties["invoice_status"], "Paid");
    // The record page now shows both sides alike, read live.
    client
        .goto(&format!("{base}/record?id={refused_a}"))
        .await
        .expect("record");
    let live = text_at(&client, "table[data-live] tr[data-field=Status__c]").await;
    assert_eq!(
        live.matches("Paid").count(),
        3,
        "Salesforce, what sf2hs writes, and HubSpot: {live}"
    );
    let differing = client
        .find_all(Locator::Css("table[data-live] td.bad"))
        .await
        .expect("cells");
    assert!(differing.is_empty(), "every value as sf2hs writes it");
    screenshot(&client, &shots, "record").await;

    // Dead letters: the other refused invoice, repaired, replayed from the page, lands.
    data.sf
        .update("Invoice__c", refused_b, json!({ "Status__c": "Sent" }))
        .expect("repaired");
    client
        .goto(&format!("{base}/dead-letters"))
        .await
        .expect("dead letters");
    fits(&client, "dead letters").await;
    screenshot(&client, &shots, "dead-letters").await;
    let letters = client
        .find_all(Locator::Css("tr[data-message]"))
        .await
        .expect("dead letters");
    assert_eq!(letters.len(), 2, "both refused invoices were dead-lettered");
    let refused_b18 = SalesforceId::parse(refused_b)
        .expect("id")
        .as_str()
        .to_owned();
    let mut chosen = false;
    for letter in &letters {
        if letter.text().await.expect("text").contains(&refused_b18) {
            letter
                .find(Locator::Css("input[type=checkbox]"))
                .await
                .expect("checkbox")
                .click()
                .await
                .expect("checked");
            chosen = true;
        }
    }
    assert!(chosen, "the dead letter of {refused_b18} is listed");
    client
        .find(Locator::XPath(
            "//button[starts-with(., 'Replay selected')]",
        ))
        .await
        .expect("replay button")
        .click()
        .await
        .expect("clicked");
    client
        .wait()
        .for_element(Locator::XPath(
            "//button[starts-with(., 'Replay 1 dead letter')]",
        ))
        .await
        .expect("confirm button")
        .click()
        .await
        .expect("confirmed");
    client
        .wait()
        .for_element(Locator::XPath("//h1[.='Replayed']"))
        .await
        .expect("the replay's answer");
    let text = text_at(&client, "main").await;
    assert!(text.contains("1 change(s) are back"), "{text}");
    data.drain().await;
    let landed = data
        .in_hubspot("sf_invoice", refused_b)
        .expect("landed after the replay");
    assert_eq!(landed.properties["invoice_status"], "Sent");

    // Health after both: the refused group has no record failing, two resolved; the waiting
    // invoice still waits. The page and the CLI still agree.
    let after = health_json(&data_dir);
    assert_eq!(after["failing_records"], 1, "{after}");
    client
        .goto(&format!("{base}/health"))
        .await
        .expect("health");
    let text = text_at(&client, "main").await;
    assert!(text.contains("1 records failing"), "{text}");
    assert!(
        text_at(&client, &format!("details[data-group='{refused_key}']"))
            .await
            .contains("2 resolved"),
    );

    // An import started from the page: counted, confirmed, sent, written, completed.
    client
        .goto(&format!("{base}/imports"))
        .await
        .expect("imports");
    client
        .find(Locator::Css("select[name=object] option[value=Project__c]"))
        .await
        .expect("the object")
        .click()
        .await
        .expect("chosen");
    client
        .find(Locator::XPath("//button[.='Count them…']"))
        .await
        .expect("count button")
        .click()
        .await
        .expect("clicked");
    let review = client
        .wait()
        .for_element(Locator::XPath("//h1[starts-with(., 'Import ')]"))
        .await
        .expect("the count review")
        .text()
        .await
        .expect("text");
    assert_eq!(
        review, "Import 4 Project__c records?",
        "3 synced and 1 never sent"
    );
    client
        .find(Locator::XPath("//button[.='Start the import']"))
        .await
        .expect("start button")
        .click()
        .await
        .expect("started");
    client
        .wait()
        .for_element(Locator::Css("p.notice"))
        .await
        .expect("back on the imports page");
    let jobs = EmbeddedStore::open(data_dir.join("sf2hs.db"))
        .expect("store")
        .import_jobs();
    use sf2hs_shared::ports::ImportJobs;
    let job = jobs.list().await.expect("jobs").remove(0);
    let waited = std::time::Instant::now();
    loop {
        data.drain().await;
        let now = jobs.get(&job.id).await.expect("job").expect("there");
        if now.status.is_finished() {
            assert_eq!(now.status.name(), "completed", "{now:?}");
            assert_eq!(now.synced, 4, "{now:?}");
            break;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "the import did not complete: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    client
        .goto(&format!("{base}/imports"))
        .await
        .expect("imports");
    let state = text_at(
        &client,
        &format!("tr[data-job='{}'] td[data-state]", job.id),
    )
    .await;
    assert!(state.starts_with("completed"), "{state}");
    fits(&client, "imports").await;
    screenshot(&client, &shots, "imports").await;
    // Mappings: each stored one with its fields, associations and delete rule.
    client
        .goto(&format!("{base}/mappings"))
        .await
        .expect("mappings");
    let invoice = text_at(&client, "details[data-mapping=Invoice__c]").await;
    assert!(
        invoice.contains("invoice_status") && invoice.contains("Project__c"),
        "{invoice}"
    );
    fits(&client, "mappings").await;
    screenshot(&client, &shots, "mappings").await;
    // Pause and activate from the page (activation checks the live schemas first), and a check.
    click(
        &client,
        "//details[@data-mapping='Project__c']//button[.='Pause…']",
    )
    .await;
    click(&client, "//button[.='Pause Project__c']").await;
    let said = text_at(&client, "p.notice").await;
    assert_eq!(said, "Project__c is paused");
    click(
        &client,
        "//details[@data-mapping='Project__c']//button[.='Activate…']",
    )
    .await;
    click(&client, "//button[.='Activate Project__c']").await;
    let said = text_at(&client, "p.notice").await;
    assert!(said.starts_with("Project__c is active"), "{said}");
    click(
        &client,
        "//details[@data-mapping='Invoice__c']//a[starts-with(., 'Check')]",
    )
    .await;
    // The check finds what this org has and HubSpot lacks: Salesforce's status `Void`.
    let problems = text_at(&client, "[data-check=problems]").await;
    assert!(
        problems.contains("`invoice_status` has no option for Salesforce value(s) `Void`"),
        "{problems}"
    );
    assert!(
        client.find(Locator::Css("[data-check=ok]")).await.is_err(),
        "an error is not a pass"
    );
    client.set_window_size(390, 844).await.expect("phone");
    for path in [
        "/",
        "/health",
        &format!("/record?id={refused_a}"),
        "/dead-letters",
        "/imports",
        "/mappings",
    ] {
        client.goto(&format!("{base}{path}")).await.expect("page");
        fits(&client, &format!("phone {path}")).await;
    }
    client
        .goto(&format!("{base}/health"))
        .await
        .expect("health");
    screenshot(&client, &shots, "sync-health-phone").await;

    client.close().await.expect("closed");
    let _ = console.kill().await;
}

/// The new-mapping flow in the browser: the objects, the fields (guessed where the names agree,
/// chosen where not), the lookup as an association, the delete rule, a review that shows the
/// TOML and finds nothing blocking, then "start syncing": stored as `mappings apply` stores it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_mapping_made_step_by_step_in_the_browser_is_stored_active() {
    let (salesforce, hubspot) = sf2hs_sandbox::demo::start_pair(SandboxConfig::default())
        .await
        .expect("sandboxes");
    let dir = sf2hs_tests::TempDir::new("console-wizard").expect("dir");
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).expect("data dir");
    let store = EmbeddedStore::open(data_dir.join("sf2hs.db")).expect("store");
    // Projects are mapped already; the invoices are what the flow maps.
    let report = sf2hs_shared::mapping::validate_sources(&[(
        "demo.toml".to_owned(),
        sf2hs_tests::stack::MAPPINGS.to_owned(),
    )]);
    use sf2hs_shared::ports::MappingStore;
    let project = report
        .mappings
        .iter()
        .find(|m| m.mapping.salesforce_object == "Project__c")
        .expect("the project mapping");
    store
        .mapping_store()
        .put(&project.mapping, None)
        .await
        .expect("stored");
    let shots: PathBuf = std::env::var("SF2HS_CONSOLE_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| dir.path().join("screenshots"));
    std::fs::create_dir_all(&shots).expect("screenshots dir");

    // Two invoices exist already: the review previews them, the count review counts them.
    let handle = salesforce.handle();
    let project_id = handle
        .create("Project__c", json!({ "Name": "P", "Budget__c": 1 }))
        .expect("project");
    let invoices: Vec<String> = (0..2)
        .map(|i| {
            handle
                .create(
                    "Invoice__c",
                    json!({ "Name": format!("INV-{i}"), "Amount__c": 2.5, "Status__c": "Sent", "Project__c": project_id }),
                )
                .expect("invoice")
        })
        .collect();

    let (mut console, base) = start_console(&data_dir, &salesforce, &hubspot).await;
    let (_driver, driver_port) = chromedriver().await;
    let client = browser(driver_port).await;

    // 1. The objects: the invoice is offered (the project is mapped already).
    client
        .goto(&format!("{base}/mappings"))
        .await
        .expect("mappings");
    click(&client, "//a[.='New mapping…']").await;
    let offered = text_at(&client, "select[name=salesforce_object]").await;
    assert!(
        offered.contains("Invoice__c") && !offered.contains("Project__c"),
        "{offered}"
    );
    click(
        &client,
        "//select[@name='salesforce_object']/option[@value='Invoice__c']",
    )
    .await;
    click(
        &client,
        "//select[@name='hubspot_object']/option[@value='sf_invoice']",
    )
    .await;
    fits(&client, "new mapping: objects").await;
    click(&client, "//button[.='Next: fields']").await;

    // 2. The fields: Amount__c is guessed; Name and Status__c are chosen; the lookup is an
    // association; invoices are kept when deleted.
    let amount = client
        .wait()
        .for_element(Locator::Css("select[name='field.Amount__c']"))
        .await
        .expect("the amount field")
        .prop("value")
        .await
        .expect("value");
    assert_eq!(amount.as_deref(), Some("amount"), "guessed from the name");
    click(
        &client,
        "//select[@name='field.Name']/option[@value='invoice_number']",
    )
    .await;
    click(
        &client,
        "//select[@name='field.Status__c']/option[@value='invoice_status']",
    )
    .await;
    let association = client
        .find(Locator::Css("input[name='association.Project__c']"))
        .await
        .expect("the lookup as an association")
        .prop("checked")
        .await
        .expect("checked");
    assert_eq!(association.as_deref(), Some("true"));
    click(&client, "//input[@name='on_delete' and @value='keep']").await;
    fits(&client, "new mapping: fields").await;
    screenshot(&client, &shots, "new-mapping-fields").await;
    click(&client, "//button[.='Next: review']").await;

    // 3. The review: the TOML a person writes, nothing blocking, then "Start syncing".
    let toml = text_at(&client, "pre[data-toml]").await;
    for line in [
        "salesforce_object = \"Invoice__c\"",
        "hubspot_object = \"sf_invoice\"",
        "on_delete = \"keep\"",
        "Name = \"invoice_number\"",
        "Status__c = \"invoice_status\"",
        "to_mapped_object = \"Project__c\"",
    ] {
        assert!(toml.contains(line), "{line} in\n{toml}");
    }
    let listed = match client.find(Locator::Css("[data-review=problems]")).await {
        Ok(list) => list.text().await.expect("text"),
        Err(_) => String::new(),
    };
    assert!(
        client
            .find(Locator::Css("[data-review=problems] li.bad"))
            .await
            .is_err(),
        "nothing blocks: {listed}"
    );
    // The file downloads as it is shown.
    let downloaded = reqwest::Client::new()
        .post(format!("{base}/mappings/new/download"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string([("toml", toml.as_str())]).expect("form"))
        .send()
        .await
        .expect("download");
    assert_eq!(
        downloaded
            .headers()
            .get("content-disposition")
            .and_then(|v| v.to_str().ok()),
        Some("attachment; filename=\"mapping.toml\"")
    );
    assert_eq!(downloaded.text().await.expect("body").trim(), toml.trim());
    // The preview: each invoice as HubSpot would get it, the amount converted, the project
    // association named.
    let first = SalesforceId::parse(&invoices[0]).expect("id");
    let preview = text_at(&client, &format!("[data-preview='{}']", first.as_str())).await;
    assert!(
        preview.contains("invoice_number INV-0") && preview.contains("amount 2.5"),
        "{preview}"
    );
    assert!(
        preview.contains(SalesforceId::parse(&project_id).expect("id").as_str()),
        "the association's target: {preview}"
    );
    fits(&client, "new mapping: review").await;
    screenshot(&client, &shots, "new-mapping-review").await;
    click(&client, "//button[.='Start syncing']").await;
    // Active: straight on to the count review of an import of the existing records.
    let review = client
        .wait()
        .for_element(Locator::XPath("//h1[starts-with(., 'Import ')]"))
        .await
        .expect("the count review")
        .text()
        .await
        .expect("text");
    assert_eq!(review, "Import 2 Invoice__c records?");

    // Stored as `mappings apply` stores it: active, with what the live check resolved.
    let stored = store
        .mapping_store()
        .get("Invoice__c")
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(stored.mapping.status.name(), "active");
    assert_eq!(stored.mapping.associations.len(), 1);
    assert_eq!(
        stored
            .mapping
            .resolved
            .as_ref()
            .map(|r| r.object_type_id.clone()),
        hubspot.handle().object_type_id("sf_invoice").ok(),
        "the objectTypeId resolved"
    );
    client.close().await.expect("closed");
    let _ = console.kill().await;
}

/// No HubSpot object for the Salesforce object yet: the flow creates one from its describe (as
/// `sf2hs schema ensure`), then every field finds the property made for it; saved for later, the
/// mapping is a draft.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_new_mapping_flow_creates_the_hubspot_object_it_needs() {
    let (salesforce, hubspot) = sf2hs_sandbox::demo::start_pair(SandboxConfig::default())
        .await
        .expect("sandboxes");
    let dir = sf2hs_tests::TempDir::new("console-create").expect("dir");
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).expect("data dir");
    let store = EmbeddedStore::open(data_dir.join("sf2hs.db")).expect("store");
    let (mut console, base) = start_console(&data_dir, &salesforce, &hubspot).await;
    let (_driver, driver_port) = chromedriver().await;
    let client = browser(driver_port).await;
    client
        .goto(&format!("{base}/mappings/new"))
        .await
        .expect("new");
    click(
        &client,
        "//form[contains(@action, '/mappings/new/create')]//option[@value='Project__c']",
    )
    .await;
    client
        .find(Locator::Css("input[name=name]"))
        .await
        .expect("name input")
        .send_keys("sf_budget")
        .await
        .expect("typed");
    click(&client, "//button[.='Create it…']").await;
    click(&client, "//button[.='Create sf_budget']").await;
    let heading = client
        .wait()
        // The fields step's heading (the confirmation's names sf_budget too).
        .for_element(Locator::XPath("//h1[starts-with(., 'New mapping: ')]"))
        .await
        .expect("the fields step")
        .text()
        .await
        .expect("text");
    assert_eq!(heading, "New mapping: Project__c → sf_budget");
    assert!(
        hubspot.handle().object_type_id("sf_budget").is_ok(),
        "the object exists in HubSpot"
    );
    // Each field's guess is the property made for it.
    for (field, property) in [("Name", "name"), ("Budget__c", "budget")] {
        let chosen = client
            .find(Locator::Css(&format!("select[name='field.{field}']")))
            .await
            .expect("select")
            .prop("value")
            .await
            .expect("value");
        assert_eq!(chosen.as_deref(), Some(property), "{field}");
    }
    click(&client, "//button[.='Next: review']").await;
    click(&client, "//button[.='Save for later']").await;
    client
        .wait()
        .for_element(Locator::Css("p.notice"))
        .await
        .expect("the notice");
    use sf2hs_shared::ports::MappingStore;
    let stored = store
        .mapping_store()
        .get("Project__c")
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(stored.mapping.status.name(), "draft");
    assert_eq!(
        stored.mapping.fields.len(),
        2,
        "{:?}",
        stored.mapping.fields
    );
    client.close().await.expect("closed");
    let _ = console.kill().await;
}
