//! The processes working on one data directory (`sf2hs serve`, a local `sf2hs import`), so that
//!
//! - a starting process takes back at once the messages a dead one held in flight, instead of
//!   every acknowledged change waiting out the visibility timeout (two minutes by default);
//! - an import knows whether a `serve` already writes to HubSpot from this directory, and then
//!   only sends its records, leaving the writing to the one rate limiter the portal's limit
//!   is shared by.
//!
//! A process is dead when its pid no longer exists on this host (Linux: `/proc/<pid>`), or when
//! it has not beaten its heart for [`STALE_AFTER`] (another host, or no `/proc`).

use std::time::Duration;

use chrono::Utc;
use rusqlite::params;

use super::{EmbeddedStore, SqlContext, immediate};
use crate::ports::PortResult;

/// How often a registered process says it is alive.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);

/// A process silent this long is taken for dead even where its pid cannot be checked.
pub const STALE_AFTER: Duration = Duration::from_secs(30);

/// What a registered process does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessRole {
    /// `sf2hs serve`: the HTTP intake and the workers that write HubSpot.
    Serve,
    /// `sf2hs import` running its own workers (no `serve` on the directory).
    ImportWorkers,
}

impl ProcessRole {
    fn as_str(self) -> &'static str {
        match self {
            ProcessRole::Serve => "serve",
            ProcessRole::ImportWorkers => "import",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "serve" => Some(ProcessRole::Serve),
            "import" => Some(ProcessRole::ImportWorkers),
            _ => None,
        }
    }
}

/// A process registered on the data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    /// The id its queue leases carry.
    pub owner: String,
    pub role: ProcessRole,
    pub pid: u32,
    pub host: String,
}

/// What a sweep for dead processes found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reclaimed {
    /// The dead processes removed.
    pub processes: Vec<ProcessInfo>,
    /// Messages they held, visible again.
    pub messages: u64,
}

/// This machine's name, to know whose pids can be checked here.
fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// Whether `pid` runs on this host: `Some(false)` only when it surely does not.
fn pid_alive(pid: u32) -> Option<bool> {
    let proc = std::path::Path::new("/proc");
    if !proc.join("self").exists() {
        return None;
    }
    Some(proc.join(pid.to_string()).exists())
}

impl EmbeddedStore {
    /// Registers this process in `role`; its queue leases carry the returned owner id. Call
    /// [`EmbeddedStore::reclaim_dead_processes`] next, then beat the heart every
    /// [`HEARTBEAT_EVERY`], and [`EmbeddedStore::deregister_process`] on a clean stop.
    pub async fn register_process(&self, role: ProcessRole) -> PortResult<ProcessInfo> {
        let info = ProcessInfo {
            owner: uuid::Uuid::new_v4().to_string(),
            role,
            pid: std::process::id(),
            host: this_host(),
        };
        let row = info.clone();
        self.call("registering this process", move |connection| {
            let now = Utc::now().timestamp_millis();
            connection
                .execute(
                    "INSERT INTO processes (owner, role, pid, host, started_ms, heartbeat_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                    params![row.owner, row.role.as_str(), row.pid, row.host, now],
                )
                .context("registering this process")?;
            Ok(())
        })
        .await?;
        Ok(info)
    }

    /// Says `owner` is alive.
    pub async fn heartbeat(&self, owner: &str) -> PortResult<()> {
        let owner = owner.to_owned();
        self.call("recording a heartbeat", move |connection| {
            connection
                .execute(
                    "UPDATE processes SET heartbeat_ms = ?2 WHERE owner = ?1",
                    params![owner, Utc::now().timestamp_millis()],
                )
                .context("recording a heartbeat")?;
            Ok(())
        })
        .await
    }

    /// Removes `owner` on a clean stop. What it still held (nothing, after a clean stop) is
    /// visible again at once.
    pub async fn deregister_process(&self, owner: &str) -> PortResult<()> {
        let owner = owner.to_owned();
        self.call("deregistering this process", move |connection| {
            let context = "deregistering this process";
            let tx = immediate(connection, context)?;
            release_held(&tx, &owner, Utc::now().timestamp_millis())?;
            tx.execute("DELETE FROM processes WHERE owner = ?1", [&owner])
                .context(context)?;
            tx.commit().context(context)
        })
        .await
    }

    /// Removes the processes that are gone (all but `except`, this one) and makes the messages
    /// they held visible at once.
    pub async fn reclaim_dead_processes(&self, except: &str) -> PortResult<Reclaimed> {
        let except = except.to_owned();
        let host = this_host();
        self.call("taking back what dead processes held", move |connection| {
            let context = "taking back what dead processes held";
            let tx = immediate(connection, context)?;
            let now = Utc::now().timestamp_millis();
            let stale_before = now - STALE_AFTER.as_millis() as i64;
            let rows = read_processes(&tx, context)?;
            let mut reclaimed = Reclaimed::default();
            for (info, heartbeat_ms) in rows {
                if info.owner == except {
                    continue;
                }
                let gone_here = info.host == host && pid_alive(info.pid) == Some(false);
                if !(gone_here || heartbeat_ms < stale_before) {
                    continue;
                }
                reclaimed.messages += release_held(&tx, &info.owner, now)?;
                tx.execute("DELETE FROM processes WHERE owner = ?1", [&info.owner])
                    .context(context)?;
                reclaimed.processes.push(info);
            }
            tx.commit().context(context)?;
            Ok(reclaimed)
        })
        .await
    }

    /// The processes registered now (dead ones included until a sweep removes them).
    pub async fn processes(&self) -> PortResult<Vec<ProcessInfo>> {
        self.call("listing processes", |connection| {
            let tx = connection.transaction().context("listing processes")?;
            Ok(read_processes(&tx, "listing processes")?
                .into_iter()
                .map(|(info, _)| info)
                .collect())
        })
        .await
    }
}

fn read_processes(
    tx: &rusqlite::Transaction<'_>,
    context: &str,
) -> PortResult<Vec<(ProcessInfo, i64)>> {
    let mut select = tx
        .prepare_cached("SELECT owner, role, pid, host, heartbeat_ms FROM processes")
        .context(context)?;
    let rows = select
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, u32>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, i64>(4)?,
            ))
        })
        .context(context)?;
    let mut processes = Vec::new();
    for row in rows {
        let (owner, role, pid, host, heartbeat_ms) = row.context(context)?;
        // A role from a newer sf2hs: not one this version would wait for or defer to.
        let Some(role) = ProcessRole::parse(&role) else {
            continue;
        };
        processes.push((
            ProcessInfo {
                owner,
                role,
                pid,
                host,
            },
            heartbeat_ms,
        ));
    }
    Ok(processes)
}

/// Makes the messages `owner` holds in flight visible now; how many.
fn release_held(tx: &rusqlite::Transaction<'_>, owner: &str, now: i64) -> PortResult<u64> {
    let released = tx
        .execute(
            "UPDATE queue_messages SET visible_at_ms = ?2, holder = NULL
             WHERE holder = ?1 AND visible_at_ms > ?2",
            params![owner, now],
        )
        .context("taking back held messages")?;
    Ok(released as u64)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::ports::ChangeQueue;

    /// A delete of the `n`th invoice: the record id tells changes apart.
    fn change(n: u32) -> crate::domain::Change {
        crate::domain::Change {
            org_id: crate::domain::SalesforceId::parse("00Dxx0000001gPF").expect("org"),
            object: "Invoice__c".into(),
            record_id: crate::domain::SalesforceId::parse(&format!("a015f00002J{n:04}"))
                .expect("id"),
            kind: crate::domain::ChangeKind::Delete,
            modstamp: None,
            source: crate::domain::ChangeSource::Worker,
            received_at: chrono::Utc::now(),
            prior_deliveries: 0,
        }
    }

    #[tokio::test]
    async fn messages_a_dead_process_held_are_visible_at_once_and_a_live_ones_are_not() {
        let store = EmbeddedStore::open_in_memory().expect("store");
        let dead = store
            .register_process(ProcessRole::Serve)
            .await
            .expect("register");
        let live = store
            .register_process(ProcessRole::ImportWorkers)
            .await
            .expect("register");
        let queue = store.change_queue(5);
        queue
            .send_batch(&[change(1), change(2), change(3)])
            .await
            .expect("sent");
        let visibility = Duration::from_secs(600);
        let held_by_dead = queue
            .clone()
            .held_by(dead.owner.clone())
            .receive(2, visibility)
            .await
            .expect("received");
        let held_by_live = queue
            .clone()
            .held_by(live.owner.clone())
            .receive(1, visibility)
            .await
            .expect("received");
        assert_eq!((held_by_dead.len(), held_by_live.len()), (2, 1));
        // A released message waits out its delay whoever received it.
        queue
            .release(&held_by_live[0].receipt, visibility)
            .await
            .expect("released");

        // The first process dies: no heartbeat for longer than STALE_AFTER (its pid is this
        // test's, which is alive, so only the heartbeat can tell).
        let long_ago = Utc::now().timestamp_millis() - STALE_AFTER.as_millis() as i64 - 1_000;
        let owner = dead.owner.clone();
        store
            .call("test", move |c| {
                c.execute(
                    "UPDATE processes SET heartbeat_ms = ?2 WHERE owner = ?1",
                    params![owner, long_ago],
                )
                .context("test")?;
                Ok(())
            })
            .await
            .expect("aged");
        let restarted = store
            .register_process(ProcessRole::Serve)
            .await
            .expect("register");
        let reclaimed = store
            .reclaim_dead_processes(&restarted.owner)
            .await
            .expect("reclaimed");
        assert_eq!(reclaimed.messages, 2);
        assert_eq!(reclaimed.processes, vec![dead.clone()]);
        let again = queue.receive(10, visibility).await.expect("received");
        let mut ids: Vec<_> = again.iter().map(|d| d.message_id.clone()).collect();
        let mut expected: Vec<_> = held_by_dead.iter().map(|d| d.message_id.clone()).collect();
        ids.sort();
        expected.sort();
        assert_eq!(ids, expected, "the dead one's two, not the released one");
        let left: Vec<_> = store
            .processes()
            .await
            .expect("processes")
            .into_iter()
            .map(|p| p.owner)
            .collect();
        assert!(left.contains(&live.owner) && left.contains(&restarted.owner));
        assert!(!left.contains(&dead.owner));
    }

    #[tokio::test]
    async fn a_process_whose_pid_is_gone_on_this_host_is_dead_at_once() {
        if pid_alive(std::process::id()) != Some(true) {
            return; // No /proc here: only heartbeats can tell, as the other test shows.
        }
        let store = EmbeddedStore::open_in_memory().expect("store");
        let gone = store
            .register_process(ProcessRole::Serve)
            .await
            .expect("register");
        // A pid no process has: past the kernel's pid_max.
        let owner = gone.owner.clone();
        store
            .call("test", move |c| {
                c.execute(
                    "UPDATE processes SET pid = ?2 WHERE owner = ?1",
                    params![owner, 99_999_999_u32],
                )
                .context("test")?;
                Ok(())
            })
            .await
            .expect("pid");
        let me = store
            .register_process(ProcessRole::Serve)
            .await
            .expect("register");
        let reclaimed = store
            .reclaim_dead_processes(&me.owner)
            .await
            .expect("swept");
        assert_eq!(reclaimed.processes.len(), 1, "{reclaimed:?}");
        assert_eq!(reclaimed.processes[0].owner, gone.owner);
    }

    #[tokio::test]
    async fn the_oldest_queued_change_has_its_age_since_intake() {
        let store = EmbeddedStore::open_in_memory().expect("store");
        let queue = store.change_queue(5);
        assert_eq!(queue.oldest_change_age(None).await.expect("age"), None);
        let mut old = change(1);
        old.received_at = chrono::Utc::now() - chrono::Duration::seconds(90);
        let mut project = change(3);
        project.object = "Project__c".into();
        queue
            .send_batch(&[old, change(2), project])
            .await
            .expect("sent");
        let age = queue
            .oldest_change_age(None)
            .await
            .expect("age")
            .expect("a change is queued");
        assert!(
            age >= Duration::from_secs(90) && age < Duration::from_secs(120),
            "{age:?}"
        );
        // Per object: the projects' is their own.
        let project_age = queue
            .oldest_change_age(Some("Project__c"))
            .await
            .expect("age")
            .expect("a project is queued");
        assert!(project_age < Duration::from_secs(30), "{project_age:?}");
        assert_eq!(
            queue
                .oldest_change_age(Some("Contract"))
                .await
                .expect("age"),
            None
        );
    }

    #[tokio::test]
    async fn the_live_line_is_delivered_before_the_backfill_line() {
        let store = EmbeddedStore::open_in_memory().expect("store");
        let live = store.change_queue(5);
        let backfill = store.change_queue(5).in_lane(super::super::Lane::Backfill);
        backfill
            .send_batch(&(0..5).map(change).collect::<Vec<_>>())
            .await
            .expect("backfill");
        live.send_batch(&[change(100), change(101)])
            .await
            .expect("live");
        let batch = backfill
            .receive(3, Duration::from_secs(60))
            .await
            .expect("received");
        let firsts: Vec<_> = batch.iter().map(|d| d.change.record_id.clone()).collect();
        assert_eq!(
            firsts,
            vec![
                change(100).record_id,
                change(101).record_id,
                change(0).record_id
            ],
            "the live changes sent later come first, then the backfill fills the batch"
        );
    }
}
