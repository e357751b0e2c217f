//! The store-backed commands against the embedded backend in a temporary data directory:
//! apply, list, activate/pause, status, errors, dlq list/replay, import list/status.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use chrono::Utc;
use sf2hs_shared::domain::{Change, ChangeKind, ChangeSource, FieldSnapshot, SalesforceId};
use sf2hs_shared::embedded::EmbeddedStore;
use sf2hs_shared::ports::{
    ChangeQueue, ImportCounts, ImportJobs, ImportStatus, SyncLog, SyncLogEntry, SyncOutcome,
};

struct DataDir(PathBuf);

impl DataDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("sf2hs-cli-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        DataDir(dir)
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_sf2hs"))
            .args(args)
            .env("SF2HS_DATA_DIR", &self.0)
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

#[test]
fn apply_list_pause_activate() {
    let dir = DataDir::new();
    let invoices = example("invoices.toml");
    let projects = example("projects.toml");

    let applied = dir.json(&["mappings", "apply", &invoices, &projects]);
    let names: Vec<_> = applied["applied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["salesforce_object"].as_str().unwrap(),
                a["applied"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("Invoice__c", "created"),
            ("Invoice_Correction__c", "created"),
            ("Project__c", "created"),
            ("Project_Task__c", "created")
        ]
    );
    // Applying the same files again changes nothing.
    let again = dir.json(&["mappings", "apply", &invoices, &projects]);
    assert!(
        again["applied"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["applied"] == "unchanged")
    );

    let (code, stdout, _) = dir.run(&["mappings", "list"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("Invoice__c") && stdout.contains("p7878787_invoice_correction"),
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
    let (_, stdout, _) = dir.run(&["mappings", "activate", "Invoice__c"]);
    assert!(
        stdout.contains("Invoice__c: paused -> active (version 3)"),
        "{stdout}"
    );

    let (code, _, stderr) = dir.run(&["mappings", "activate", "Nope__c"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("no stored mapping for `Nope__c`"),
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
    dir.json(&["mappings", "apply", &example("invoices.toml")]);
    {
        let store = dir.store();
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
    assert_eq!(invoice["failed_24h"], 1);
    assert_eq!(status["queue"]["dead"], 2);
    let (_, stdout, _) = dir.run(&["status"]);
    assert!(
        stdout.contains("dead letters: 2 (`sf2hs dlq list` shows why"),
        "{stdout}"
    );

    let errors = dir.json(&["errors", "Invoice__c"]);
    assert_eq!(errors["errors"].as_array().unwrap().len(), 1);
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

    let (code, _, stderr) = dir.run(&["dlq", "replay", &first, "no-such-id"]);
    assert_eq!(code, 1, "an unknown id is reported");
    assert!(
        stderr.contains("1 of the message ids given are not in the dead-letter queue"),
        "{stderr}"
    );
    let replayed = dir.json(&["dlq", "replay"]);
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
}
