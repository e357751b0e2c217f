//! `sf2hs mappings validate` as an operator runs it: exit codes, stdout and stderr.

use std::path::PathBuf;
use std::process::Command;

fn repo(path: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
        .display()
        .to_string()
}

fn sf2hs(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sf2hs"))
        .args(args)
        .output()
        .expect("run sf2hs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_examples_validate() {
    let (code, stdout, stderr) = sf2hs(&[
        "mappings",
        "validate",
        &repo("examples/invoices.toml"),
        &repo("examples/projects.toml"),
    ]);
    assert_eq!(code, 0, "stderr: {stderr}");
    assert!(
        stdout.contains("Invoice__c -> HubSpot invoice (active"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok: 2 files, 4 mappings, 0 warnings"),
        "{stdout}"
    );
}

#[test]
fn problems_exit_1_with_file_line_and_hint() {
    let file = repo("tests/fixtures/mappings/many_problems.toml");
    let (code, stdout, stderr) = sf2hs(&["mappings", "validate", &file]);
    assert_eq!(code, 1);
    assert!(
        stdout.is_empty(),
        "no mapping is listed when there are errors: {stdout}"
    );
    assert!(
        stderr.contains("many_problems.toml:5: error: `on` is not a valid `status`\n  hint: use one of `active`, `draft` or `paused`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("9 errors, 0 warnings in 1 file"),
        "{stderr}"
    );
}

#[test]
fn json_output_for_scripts() {
    let file = repo("tests/fixtures/mappings/many_problems.toml");
    let (code, stdout, _) = sf2hs(&["--json", "mappings", "validate", &file]);
    assert_eq!(code, 1);
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    assert_eq!(report["ok"], false);
    assert_eq!(report["errors"], 9);
    assert_eq!(report["problems"][1]["line"], 5);
    assert_eq!(report["problems"][1]["severity"], "error");
}

#[test]
fn a_missing_file_is_a_problem_not_a_crash() {
    let (code, _, stderr) = sf2hs(&["mappings", "validate", "/nonexistent/mappings.toml"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("/nonexistent/mappings.toml"), "{stderr}");
}

#[test]
fn usage_errors_exit_2() {
    let (code, _, stderr) = sf2hs(&["mappings", "validate"]);
    assert_eq!(code, 2, "{stderr}");
}
