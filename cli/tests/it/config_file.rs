//! sf2hs.toml: found in the current directory or named by --config; flags win over the
//! environment, the environment over the file; pipeline settings reach the same code as the
//! environment's; credentials and unknown keys are refused. And `sf2hs … | head` ends quietly.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::json;

const BINARY: &str = env!("CARGO_BIN_EXE_sf2hs");

fn mappings_file() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/demo/mappings.toml")
}

/// `sf2hs ARGS…` in `cwd` with no sf2hs variable from the test's own environment.
fn run(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut command = Command::new(BINARY);
    command.current_dir(cwd).args(args);
    for (name, _) in std::env::vars() {
        if name.starts_with("SF2HS_") {
            command.env_remove(name);
        }
    }
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().expect("sf2hs runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `sf2hs status`, which opens (and so creates) the store of the data directory chosen.
fn open_store(cwd: &Path, extra: &[&str], env: &[(&str, &str)]) {
    let mut args = extra.to_vec();
    args.push("status");
    let (code, _, err) = run(cwd, &args, env);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn the_file_the_environment_and_flags_choose_the_data_directory_in_that_order() {
    let dir = sf2hs_tests::TempDir::new("config").expect("dir");
    let root = dir.path();
    std::fs::write(root.join("sf2hs.toml"), "data_dir = \"from-file\"\n").expect("config");

    open_store(root, &[], &[]);
    assert!(
        root.join("from-file/sf2hs.db").exists(),
        "the file's data_dir"
    );

    open_store(root, &[], &[("SF2HS_DATA_DIR", "from-env")]);
    assert!(
        root.join("from-env/sf2hs.db").exists(),
        "the environment wins"
    );

    open_store(
        root,
        &["--data-dir", "from-flag"],
        &[("SF2HS_DATA_DIR", "from-env")],
    );
    assert!(root.join("from-flag/sf2hs.db").exists(), "the flag wins");

    // --config names another file; one that is not there is an error, not the default.
    let other = root.join("other.toml");
    std::fs::write(&other, "data_dir = \"from-other\"\n").expect("config");
    open_store(root, &["--config", other.to_str().expect("path")], &[]);
    assert!(root.join("from-other/sf2hs.db").exists());
    let (code, _, err) = run(root, &["--config", "missing.toml", "status"], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot read missing.toml"), "{err}");
}

#[test]
fn pipeline_settings_in_the_file_reach_the_pipeline() {
    let dir = sf2hs_tests::TempDir::new("config-pipeline").expect("dir");
    let root = dir.path();
    std::fs::write(
        root.join("sf2hs.toml"),
        "data_dir = \"data\"\norg_id = \"not-an-org\"\nendpoint_token_secret = \"endpoint\"\n\
         hubspot_secret = \"hubspot\"\nsalesforce_secret = \"salesforce\"\n",
    )
    .expect("config");
    let (code, _, err) = run(root, &["serve", "--listen", "127.0.0.1:0"], &[]);
    assert_eq!(code, 1);
    assert!(
        err.contains("SF2HS_ORG_ID") && err.contains("not-an-org"),
        "the file's org_id was read and refused by the settings: {err}"
    );
    // The environment's value wins over the file's.
    let (code, _, err) = run(
        root,
        &["serve", "--listen", "127.0.0.1:0"],
        &[("SF2HS_ORG_ID", "also-bad")],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("also-bad") && !err.contains("not-an-org"),
        "{err}"
    );
}

#[test]
fn credentials_unknown_keys_and_a_bad_backend_are_refused() {
    let dir = sf2hs_tests::TempDir::new("config-refused").expect("dir");
    let root = dir.path();
    std::fs::write(
        root.join("sf2hs.toml"),
        "secret_hubspot = \"pat-na1-secret-value\"\ndata_dri = \"x\"\n",
    )
    .expect("config");
    let (code, out, err) = run(root, &["status"], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        err.contains("`secret_hubspot` looks like a credential"),
        "{err}"
    );
    assert!(err.contains("`data_dri` is not a setting"), "{err}");
    assert!(!err.contains("pat-na1-secret-value"), "{err}");
    assert!(!root.join(".sf2hs").exists(), "nothing was opened");

    std::fs::write(root.join("sf2hs.toml"), "backend = \"azure\"\n").expect("config");
    let (code, _, err) = run(root, &["status"], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("\"embedded\" or \"aws\""), "{err}");
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let dir = sf2hs_tests::TempDir::new("config-pipe").expect("dir");
    let records = dir.path().join("projects.json");
    // Far more output than a pipe buffers (64 KiB), so that writes go on after the reader left.
    let many: Vec<_> = (0..3_000)
        .map(|i| json!({ "Id": format!("a0P5f00000X{i:04}"), "Name": format!("Project {i}"), "Budget__c": i }))
        .collect();
    std::fs::write(&records, serde_json::to_string(&many).expect("JSON")).expect("records");
    let mut child = Command::new(BINARY)
        .current_dir(dir.path())
        .args(["mappings", "preview"])
        .arg(mappings_file())
        .args(["--object", "Project__c", "--sample", "3000", "--records"])
        .arg(&records)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawned");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut head = [0_u8; 256];
    stdout.read_exact(&mut head).expect("the first bytes");
    drop(stdout);
    let output = child.wait_with_output().expect("exits");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

#[test]
fn serve_names_every_missing_setting_at_once_with_its_variable_and_key() {
    let dir = sf2hs_tests::TempDir::new("config-missing").expect("dir");
    let root = dir.path();
    std::fs::write(
        root.join("sf2hs.toml"),
        "endpoint_token_secret = \"endpoint\"\n",
    )
    .expect("config");
    let (code, _, err) = run(root, &["serve", "--listen", "127.0.0.1:0"], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("3 settings are missing"), "{err}");
    for (variable, key) in [
        ("SF2HS_ORG_ID", "org_id"),
        ("SF2HS_HUBSPOT_SECRET", "hubspot_secret"),
        ("SF2HS_SALESFORCE_SECRET", "salesforce_secret"),
    ] {
        assert!(
            err.contains(&format!("{variable} (`{key}` in sf2hs.toml)")),
            "{variable}: {err}"
        );
    }
    assert!(
        !err.contains("SF2HS_ENDPOINT_TOKEN_SECRET"),
        "the file's setting counts: {err}"
    );
}
