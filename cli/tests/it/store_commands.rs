//! The store-backed commands against the embedded backend in a temporary data directory:
//! apply, list, activate/pause, status, errors, dlq list/replay, import list/status.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use chrono::Utc;
use sf2hs_sandbox::hubspot::{RunningSandbox, SandboxConfig};
use sf2hs_sandbox::salesforce::RunningSalesforceSandbox;
use sf2hs_shared::domain::{Change, ChangeKind, ChangeSource, FieldSnapshot, SalesforceId};
use sf2hs_shared::embedded::EmbeddedStore;
use sf2hs_shared::mapping::{Conversion, load_files};
use sf2hs_shared::ports::{
    ChangeQueue, ImportCounts, ImportJobs, ImportStatus, MappingStore, SyncLog, SyncLogEntry,
    SyncOutcome,
};
use sf2hs_shared::worker::PAUSED_REASON_PREFIX;

struct DataDir(PathBuf, Vec<(&'static str, String)>);

impl DataDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("sf2hs-cli-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        DataDir(dir, Vec::new())
    }

    /// With the credentials of the sandboxes: `apply` and `activate` read their live schemas.
    fn connected(salesforce: &RunningSalesforceSandbox, hubspot: &RunningSandbox) -> Self {
        let mut dir = DataDir::new();
        dir.1 = sf2hs_tests::stack::local_credentials(salesforce, hubspot);
        dir
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_sf2hs"))
            .args(args)
            .env("SF2HS_DATA_DIR", &self.0)
            .envs(self.1.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("run sf2hs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let (code, stdout, stderr) = self.run(&all);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {stdout}"))
    }

    fn store(&self) -> EmbeddedStore {
        EmbeddedStore::open(self.0.join("sf2hs.db")).unwrap()
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
        .display()
        .to_string()
}

fn change(record: &str) -> Change {
    Change {
        org_id: SalesforceId::parse("00Dxx0000001gPF").unwrap(),
        object: "Invoice__c".into(),
        record_id: SalesforceId::parse(record).unwrap(),
        kind: ChangeKind::Upsert {
            fields: FieldSnapshot::new(),
        },
        modstamp: Some(Utc::now()),
        source: ChangeSource::Worker,
        received_at: Utc::now(),
        prior_deliveries: 0,
    }
}

/// The demo's mappings name their HubSpot objects by base name (`sf_project`), as the README
/// does; the sandbox refuses base names in paths as HubSpot does (H1), so `apply` stores the
/// objectTypeId it resolved from the schemas list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_list_pause_activate() {
    let (salesforce, hubspot) = sf2hs_sandbox::demo::start_pair(SandboxConfig::default())
        .await
        .expect("sandboxes");
    let dir = DataDir::connected(&salesforce, &hubspot);
    let mappings = example("demo/mappings.toml");

    let applied = dir.json(&["mappings", "apply", &mappings]);
    let rows: Vec<_> = applied["applied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["salesforce_object"].as_str().unwrap().to_owned(),
                a["applied"].as_str().unwrap().to_owned(),
                a["object_type_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let id_of = |name: &str| hubspot.handle().object_type_id(name).unwrap();
    assert_eq!(
        rows,
        [
            ("Project__c".into(), "created".into(), id_of("sf_project")),
            ("Invoice__c".into(), "created".into(), id_of("sf_invoice")),
        ]
    );
    let stored = dir
        .store()
        .mapping_store()
        .get("Invoice__c")
        .await
        .unwrap()
        .unwrap();
    let resolved = stored.mapping.resolved.expect("resolved at apply");
    assert_eq!(resolved.object_type_id, id_of("sf_invoice"));
    assert_eq!(
        resolved.conversions.get("Name"),
        Some(&Conversion::String),
        "auto is resolved from the describe: {resolved:?}"
    );
    // Applying the same files again changes nothing.
    let again = dir.json(&["mappings", "apply", &mappings]);
    assert!(
        again["applied"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["applied"] == "unchanged"),
        "{again}"
    );

    let (code, stdout, _) = dir.run(&["mappings", "list"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("Invoice__c") && stdout.contains("sf_invoice"),
        "{stdout}"
    );

    let paused = dir.json(&["mappings", "pause", "Invoice__c"]);
    assert_eq!(paused["status"], "paused");
    assert_eq!(paused["previous_status"], "active");
    assert_eq!(paused["version"], 2);
    let list = dir.json(&["mappings", "list"]);
    let invoice = list["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["salesforce_object"] == "Invoice__c")
        .unwrap();
    assert_eq!(invoice["status"], "paused");

    // What the worker parked while the mapping was paused, and a dead letter of another cause.
    {
        let queue = dir.store().change_queue(5);
        queue
            .send_batch(&[
                change("a015f00002J9YYF"),
                change("a015f00002J9YYG"),
                change("a015f00002J9YYH"),
            ])
            .await
            .unwrap();
        let deliveries = queue.receive(10, Duration::from_secs(30)).await.unwrap();
        for (n, d) in deliveries.iter().enumerate() {
            let reason = if n < 2 {
                format!(
                    "{PAUSED_REASON_PREFIX} mapping `Invoice__c` is paused; activating it replays this change"
                )
            } else {
                "Amount__c cannot convert".to_owned()
            };
            queue.dead_letter(&d.receipt, &reason).await.unwrap();
        }
    }
    let (_, stdout, stderr) = dir.run(&["mappings", "activate", "Invoice__c"]);
    assert!(
        stdout.contains("Invoice__c: paused -> active (version 3)"),
        "{stdout}{stderr}"
    );
    assert!(
        stdout.contains("2 changes parked while it was paused put back on the queue"),
        "{stdout}"
    );
    let status = dir.json(&["status"]);
    assert_eq!(status["queue"]["dead"], 1, "the other dead letter stays");
    assert_eq!(status["queue"]["visible"], 2);

    let (code, _, stderr) = dir.run(&["mappings", "activate", "Nope__c"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("no stored mapping for `Nope__c`"),
        "{stderr}"
    );
}

/// A mapping naming a HubSpot object the account does not have is refused at apply, with the
/// objects that exist as the hint; nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_refuses_an_object_hubspot_does_not_have() {
    let (salesforce, hubspot) = sf2hs_sandbox::demo::start_pair(SandboxConfig::default())
        .await
        .expect("sandboxes");
    let dir = DataDir::connected(&salesforce, &hubspot);
    let file = dir.0.join("typo.toml");
    std::fs::write(
        &file,
        "[[mapping]]\nsalesforce_object = \"Project__c\"\nhubspot_object = \"sf_projcet\"\n\
         status = \"active\"\n\n[mapping.fields]\nName = \"project_name\"\n",
    )
    .unwrap();
    let (code, _, stderr) = dir.run(&["mappings", "apply", file.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("HubSpot object `sf_projcet` does not exist in the account"),
        "{stderr}"
    );
    let sf_project = hubspot.handle().object_type_id("sf_project").unwrap();
    assert!(
        stderr.contains(&format!("`sf_project` ({sf_project})")),
        "the hint lists the objects that exist: {stderr}"
    );
    assert!(stderr.contains("nothing was stored"), "{stderr}");
    assert!(stderr.contains("`--force` stores them anyway"), "{stderr}");
    let list = dir.json(&["mappings", "list"]);
    assert_eq!(list["mappings"].as_array().unwrap().len(), 0);

    // `--force`: stored all the same, the errors said.
    let (code, _, stderr) = dir.run(&["mappings", "apply", "--force", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("stored despite the live check's errors"),
        "{stderr}"
    );
    let list = dir.json(&["mappings", "list"]);
    assert_eq!(list["mappings"].as_array().unwrap().len(), 1);
}

#[test]
fn validate_says_when_live_checks_were_skipped_and_what_enables_them() {
    let dir = DataDir::new();
    let (code, _, stderr) = dir.run(&["mappings", "validate", &example("demo/mappings.toml")]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("live checks skipped")
            && stderr.contains("SF2HS_SALESFORCE_SECRET")
            && stderr.contains("`hubspot_secret`"),
        "{stderr}"
    );
}

#[test]
fn apply_needs_both_connections() {
    let dir = DataDir::new();
    let (code, _, stderr) = dir.run(&["mappings", "apply", &example("demo/mappings.toml")]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains(
            "mappings apply checks the mappings against the live Salesforce and HubSpot schemas"
        ),
        "{stderr}"
    );
}

#[test]
fn apply_stores_nothing_when_a_file_is_wrong() {
    let dir = DataDir::new();
    let bad = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/mappings/many_problems.toml")
        .display()
        .to_string();
    let (code, _, stderr) = dir.run(&["mappings", "apply", &example("invoices.toml"), &bad]);
    assert_eq!(code, 1);
    assert!(stderr.contains("nothing was stored"), "{stderr}");
    let list = dir.json(&["mappings", "list"]);
    assert_eq!(list["mappings"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn status_errors_and_dead_letters() {
    let dir = DataDir::new();
    {
        let store = dir.store();
        for located in load_files(&[PathBuf::from(example("invoices.toml"))]).mappings {
            store
                .mapping_store()
                .put(&located.mapping, None)
                .await
                .unwrap();
        }
        let log = store.sync_log();
        log.append(&[
            SyncLogEntry {
                at: Utc::now(),
                salesforce_object: "Invoice__c".into(),
                record_id: SalesforceId::parse("a015f00002J9YYE").unwrap(),
                outcome: SyncOutcome::Synced,
                reason: None,
                hubspot_id: Some("101".into()),
            },
            // Two failed tries of one record count it once.
            SyncLogEntry {
                at: Utc::now() - chrono::Duration::seconds(5),
                salesforce_object: "Invoice__c".into(),
                record_id: SalesforceId::parse("a015f00002J9YYF").unwrap(),
                outcome: SyncOutcome::Failed,
                reason: Some("field Amount__c = \"12,50\" cannot become a HubSpot number".into()),
                hubspot_id: None,
            },
            SyncLogEntry {
                at: Utc::now(),
                salesforce_object: "Invoice__c".into(),
                record_id: SalesforceId::parse("a015f00002J9YYF").unwrap(),
                outcome: SyncOutcome::DeadLettered,
                reason: Some("field Amount__c = \"12,50\" cannot become a HubSpot number".into()),
                hubspot_id: None,
            },
        ])
        .await
        .unwrap();
        let queue = store.change_queue(5);
        queue
            .send_batch(&[change("a015f00002J9YYF"), change("a015f00002J9YYG")])
            .await
            .unwrap();
        let deliveries = queue.receive(10, Duration::from_secs(30)).await.unwrap();
        for d in &deliveries {
            queue
                .dead_letter(&d.receipt, "Amount__c cannot convert")
                .await
                .unwrap();
        }
    }

    let status = dir.json(&["status"]);
    let invoice = status["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["salesforce_object"] == "Invoice__c")
        .unwrap();
    assert_eq!(invoice["synced_24h"], 1);
    assert_eq!(invoice["failed_24h"], 1, "records, not attempts");
    assert_eq!(invoice["failing_now"], 1);
    assert_eq!(status["queue"]["dead"], 2);
    let (_, stdout, _) = dir.run(&["status"]);
    assert!(
        stdout.contains("dead letters: 2 (`sf2hs dlq list` shows why"),
        "{stdout}"
    );

    let errors = dir.json(&["errors", "Invoice__c"]);
    assert_eq!(
        errors["errors"].as_array().unwrap().len(),
        1,
        "one line per record"
    );
    assert_eq!(errors["errors"][0]["attempts"], 2);
    assert_eq!(
        errors["errors"][0]["outcome"], "dead_lettered",
        "its newest failure"
    );
    assert!(
        errors["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("Amount__c")
    );

    let dlq = dir.json(&["dlq", "list"]);
    let letters = dlq["dead_letters"].as_array().unwrap();
    assert_eq!(letters.len(), 2);
    assert_eq!(letters[0]["reason"], "Amount__c cannot convert");
    let first = letters[0]["message_id"].as_str().unwrap().to_owned();

    // Without --yes, and no terminal to answer the question: nothing is replayed.
    let (code, _, stderr) = dir.run(&["dlq", "replay"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("Replay 2 dead letter(s)") && stderr.contains("nothing replayed"),
        "{stderr}"
    );
    assert_eq!(dir.json(&["status"])["queue"]["dead"], 2);

    let (code, _, stderr) = dir.run(&["dlq", "replay", &first, "no-such-id", "--yes"]);
    assert_eq!(code, 1, "an unknown id is reported");
    assert!(
        stderr.contains("1 of the message ids given are not in the dead-letter queue"),
        "{stderr}"
    );
    // Filters: a reason no dead letter has replays nothing; the object's replays the rest.
    let none = dir.json(&["dlq", "replay", "--reason", "no such text", "--yes"]);
    assert_eq!(none["replayed"], 0);
    let replayed = dir.json(&["dlq", "replay", "--object", "Invoice__c", "--yes"]);
    assert_eq!(replayed["replayed"], 1);
    let status = dir.json(&["status"]);
    assert_eq!(status["queue"]["dead"], 0);
    assert_eq!(status["queue"]["visible"], 2);
}

#[tokio::test]
async fn import_list_and_status() {
    let dir = DataDir::new();
    let id = {
        let jobs = dir.store().import_jobs();
        let job = jobs
            .create("Invoice__c", Some(200), Utc::now())
            .await
            .unwrap();
        jobs.start(&job.id).await.unwrap();
        jobs.checkpoint(
            &job.id,
            "cursor-1",
            ImportCounts {
                enqueued: 100,
                synced: 0,
                failed: 0,
            },
        )
        .await
        .unwrap();
        jobs.add_counts(
            &job.id,
            ImportCounts {
                enqueued: 0,
                synced: 90,
                failed: 10,
            },
        )
        .await
        .unwrap();
        job.id
    };
    let list = dir.json(&["import", "list"]);
    assert_eq!(list["imports"][0]["id"], id.as_str());
    assert_eq!(list["imports"][0]["status"], "running");
    let (code, stdout, _) = dir.run(&["import", "status", &id]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("total 200, enqueued 100, synced 90, failed 10 (50.0 %)"),
        "{stdout}"
    );
    {
        let jobs = dir.store().import_jobs();
        jobs.finish(
            &id,
            ImportStatus::Failed,
            Some("Salesforce daily API limit reached"),
        )
        .await
        .unwrap();
    }
    let status = dir.json(&["import", "status", &id]);
    assert_eq!(status["status"], "failed");
    assert_eq!(status["error"], "Salesforce daily API limit reached");
    let (code, _, stderr) = dir.run(&["import", "status", "nope"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("no import `nope`"), "{stderr}");

    // Cancel: a running job is cancelled; a finished one is refused with what it is.
    let running = {
        let jobs = dir.store().import_jobs();
        let job = jobs
            .create("Invoice__c", Some(50), Utc::now())
            .await
            .unwrap();
        jobs.start(&job.id).await.unwrap();
        job.id
    };
    let cancelled = dir.json(&["import", "cancel", &running]);
    assert_eq!(cancelled["status"], "cancelled");
    let (code, _, stderr) = dir.run(&["import", "cancel", &id]);
    assert_eq!(code, 1);
    assert!(stderr.contains("is failed"), "{stderr}");
}

/// The store holds record data and failure reasons with field values: a data directory sf2hs
/// makes is its owner's only (0700), and so is the database (0600, its WAL files alike).
#[cfg(unix)]
#[test]
fn a_fresh_data_directory_is_its_owners_only() {
    use std::os::unix::fs::PermissionsExt;
    let parent = DataDir::new();
    let fresh = parent.0.join("fresh");
    let out = Command::new(env!("CARGO_BIN_EXE_sf2hs"))
        .args(["status"])
        .env("SF2HS_DATA_DIR", &fresh)
        .output()
        .expect("run sf2hs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = |path: &Path| {
        std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(&fresh), 0o700, "the directory");
    assert_eq!(mode(&fresh.join("sf2hs.db")), 0o600, "the database");
    for side in ["sf2hs.db-wal", "sf2hs.db-shm"] {
        let path = fresh.join(side);
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{side}");
        }
    }
}

/// `sf2hs doctor`: with nothing set, every missing setting in one line with its fix; with the
/// sandboxes' credentials and the demo's mappings applied, every check passes; a secret still
/// holding the template's placeholder is named with where to store the real one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_checks_settings_secrets_connections_and_mappings() {
    let bare = DataDir::new();
    let (code, stdout, _) = bare.run(&["doctor"]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("FAIL  settings: 4 settings are missing") && stdout.contains("fix:"),
        "{stdout}"
    );

    let (salesforce, hubspot) = sf2hs_sandbox::demo::start_pair(SandboxConfig::default())
        .await
        .expect("sandboxes");
    let mut dir = DataDir::connected(&salesforce, &hubspot);
    dir.1.push(("SF2HS_ORG_ID", salesforce.handle().org_id()));
    dir.1
        .push(("SF2HS_ENDPOINT_TOKEN_SECRET", "endpoint-token".to_owned()));
    dir.1.push((
        "SF2HS_SECRET_ENDPOINT_TOKEN",
        "0123456789abcdef0123456789abcdef".to_owned(),
    ));
    let (code, _, stderr) = dir.run(&["mappings", "apply", &example("demo/mappings.toml")]);
    assert_eq!(code, 0, "{stderr}");
    let report = dir.json(&["doctor"]);
    let checks = report["checks"].as_array().expect("checks");
    assert!(
        checks.iter().all(|c| c["ok"] == true),
        "every check passes: {report:#}"
    );
    let names: Vec<&str> = checks.iter().filter_map(|c| c["check"].as_str()).collect();
    for expected in [
        "settings",
        "Salesforce",
        "HubSpot",
        "mapping Project__c (active)",
        "mapping Invoice__c (active)",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }

    let mut placeholder = DataDir(dir.0.clone(), dir.1.clone());
    placeholder.1.retain(|(k, _)| *k != "SF2HS_SECRET_HUBSPOT");
    placeholder.1.push((
        "SF2HS_SECRET_HUBSPOT",
        r#"{"token": "replace me: docs/deploy.md"}"#.to_owned(),
    ));
    let (code, stdout, _) = placeholder.run(&["doctor"]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains(
            "FAIL  secret hubspot: the HubSpot credentials still hold the template's placeholder"
        ) && stdout.contains("SF2HS_SECRET_HUBSPOT"),
        "{stdout}"
    );
}
