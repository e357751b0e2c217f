//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::time::Duration;

pub mod chaos;
pub mod event_source;
pub mod function_url;
pub mod lambda_api;
pub mod runtime_api;
pub mod stack;
pub mod tcp_proxy;

pub use sf2hs_shared::conformance::{record_id, sample_change, sample_mapping};

/// Cases for a property test: `PROPTEST_CASES` when set (the million-case runs that
/// docs/benchmarks.md reports), else `default`.
pub fn property_cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Waits until something listens on `address` (`127.0.0.1:PORT`): a server process started.
pub async fn wait_listening(address: &str) {
    for _ in 0..400 {
        if tokio::net::TcpStream::connect(address).await.is_ok() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("nothing listens on {address} after 10 s");
}

/// A directory under the system temp dir, unique to one test, removed when dropped.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `sf2hs-<label>-<uuid>` under `std::env::temp_dir()`.
    pub fn new(label: &str) -> std::io::Result<Self> {
        let path = std::env::temp_dir().join(format!("sf2hs-{label}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path)?;
        Ok(TempDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A fresh, unused file path inside the directory (a new database per call).
    pub fn fresh_file(&self, stem: &str) -> PathBuf {
        self.path
            .join(format!("{stem}-{}.db", uuid::Uuid::new_v4()))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Best effort: a leftover temp dir is not worth failing a test for.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The moto server the AWS tests talk to, as an endpoint URL (`http://127.0.0.1:PORT`).
///
/// `SF2HS_MOTO_ENDPOINT` when set (`scripts/test` starts one for the whole run); otherwise a
/// moto server from the venv `scripts/test` installs (`~/.cache/sf2hs/venv`, or `$SF2HS_VENV`),
/// run by `scripts/moto_server.py` (atomic requests), is started on a free loopback port once per test binary and
/// stopped when the test binary exits. Panics with what to do when moto is not installed.
pub fn moto_endpoint() -> &'static str {
    static ENDPOINT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ENDPOINT.get_or_init(|| match std::env::var("SF2HS_MOTO_ENDPOINT") {
        Ok(endpoint) if !endpoint.trim().is_empty() => endpoint.trim().to_owned(),
        _ => moto::start(),
    })
}

/// An [`sf2hs_shared::aws::AwsConnection`] to the test moto server, with dummy credentials and
/// region (nothing read from the environment). Build one per test: SDK clients belong to the
/// runtime that made them.
pub async fn moto_connection() -> sf2hs_shared::aws::AwsConnection {
    sf2hs_shared::aws::AwsConnection::local(moto_endpoint()).await
}

/// A resource name no other test uses (`sf2hs-<label>-<uuid>`): moto is shared by every test
/// and its reset is global.
pub fn unique_name(label: &str) -> String {
    format!("sf2hs-{label}-{}", uuid::Uuid::new_v4().simple())
}

mod moto {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::path::PathBuf;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    const HOW_TO_INSTALL: &str = "moto is not installed: run `scripts/test` once (it installs \
                                  moto[server] into ~/.cache/sf2hs/venv), or set \
                                  SF2HS_MOTO_ENDPOINT to a running moto server";

    /// The venv's Python and the launcher that runs moto with atomic requests
    /// (`scripts/moto_server.py`: moto's own server loses concurrent updates).
    fn server_command() -> Option<(PathBuf, PathBuf)> {
        let venv = std::env::var_os("SF2HS_VENV")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/sf2hs/venv"))
            })?;
        let python = venv.join("bin/python");
        let launcher = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/moto_server.py");
        (python.is_file() && venv.join("bin/moto_server").is_file() && launcher.is_file())
            .then_some((python, launcher))
    }

    fn free_port() -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
        listener.local_addr().expect("local address").port()
    }

    /// Whether moto answers `GET /moto-api/` with a 200.
    fn answers(port: u16) -> bool {
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_millis(200))
        else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let request = "GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
        if stream.write_all(request.as_bytes()).is_err() {
            return false;
        }
        let mut head = [0_u8; 12];
        stream.read_exact(&mut head).is_ok()
            && head.starts_with(b"HTTP/1")
            && &head[9..12] == b"200"
    }

    pub(super) fn start() -> String {
        let (python, launcher) = server_command().unwrap_or_else(|| panic!("{HOW_TO_INSTALL}"));
        let port = free_port();
        let log = std::env::temp_dir().join(format!("sf2hs-moto-{port}.log"));
        // A watchdog shell owns the server and stops it when this test binary exits (Rust runs
        // no destructor for a static, so the binary cannot do it itself).
        let script = r#"
            "$1" "$5" -H 127.0.0.1 -p "$2" >"$3" 2>&1 &
            server=$!
            while kill -0 "$4" 2>/dev/null && kill -0 "$server" 2>/dev/null; do sleep 1; done
            kill "$server" 2>/dev/null
        "#;
        let mut watchdog = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("sf2hs-moto")
            .arg(&python)
            .arg(port.to_string())
            .arg(&log)
            .arg(std::process::id().to_string())
            .arg(&launcher)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {}: {e}; {HOW_TO_INSTALL}", launcher.display())
            });
        // Reap the watchdog when it ends, so that it never lingers as a zombie.
        std::thread::spawn(move || {
            let _ = watchdog.wait();
        });
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if answers(port) {
                return format!("http://127.0.0.1:{port}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "moto server {} did not answer on port {port} within 30 s (log: {})",
            launcher.display(),
            log.display()
        );
    }
}

/// A process's CPU time so far (user + system) and its peak resident set in KiB, from
/// `/proc` (Linux; zero where it cannot be read). For benchmarks.
pub fn process_usage(pid: u32) -> (Duration, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    // USER_HZ is 100 on Linux.
    let cpu = Duration::from_millis(ticks * 10);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let peak_kib = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (cpu, peak_kib)
}

/// A number from the environment (a benchmark's size), or `default`.
pub fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `p`th percentile of sorted values (nearest rank), 0 when there are none.
pub fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64)).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Ingest → HubSpot latency per record, in ms, sorted: from the instant each record's change was
/// acknowledged (`acked`, by 18-character id) to its `updatedAt` in the HubSpot sandbox.
pub fn write_latencies(
    hubspot: &sf2hs_sandbox::hubspot::SandboxHandle,
    object: &str,
    acked: &std::collections::HashMap<String, chrono::DateTime<chrono::Utc>>,
) -> Vec<i64> {
    let mut latencies: Vec<i64> = hubspot
        .records(object)
        .expect("records")
        .into_iter()
        .filter_map(|r| {
            let id = r.properties.get("salesforce_id")?;
            let written = chrono::DateTime::parse_from_rfc3339(&r.updated_at).ok()?;
            let acked = acked.get(id)?;
            Some((written.with_timezone(&chrono::Utc) - *acked).num_milliseconds())
        })
        .collect();
    latencies.sort_unstable();
    latencies
}

/// A platform event as Event Relay delivers it through EventBridge (the shape of
/// `../shared/fixtures/salesforce/eventbridge-platform-event.json`): its API name as the
/// `detail-type`, the org in the `source`, its fields in `detail.payload`.
pub fn relayed_platform_event(
    org_id: &str,
    event: &str,
    payload: serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": event,
        "source": format!("aws.partner/salesforce.com/{org_id}/0YLgP0000005yDFWAY"),
        "account": "914296863611",
        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "region": "us-east-1",
        "detail": { "payload": payload }
    })
}
