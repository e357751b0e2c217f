//! `sf2hs mappings …`

use std::path::PathBuf;
use std::process::ExitCode;

use sf2hs_shared::mapping::{Severity, load_files};

/// `mappings validate`: every problem of every file, then a one-line summary.
pub fn validate(files: &[PathBuf], json: bool) -> ExitCode {
    let report = load_files(files);
    let errors = report
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count();
    let warnings = report.problems.len() - errors;

    if json {
        let problems: Vec<_> = report
            .problems
            .iter()
            .map(|p| {
                serde_json::json!({
                    "file": p.file,
                    "line": p.line,
                    "severity": if p.severity == Severity::Error { "error" } else { "warning" },
                    "message": p.message,
                    "hint": p.hint,
                })
            })
            .collect();
        let mappings: Vec<_> = report
            .mappings
            .iter()
            .map(|m| {
                serde_json::json!({
                    "file": m.file,
                    "line": m.line,
                    "salesforce_object": m.mapping.salesforce_object,
                    "hubspot_object": m.mapping.hubspot_object.as_str(),
                    "status": m.mapping.status.name(),
                    "fields": m.mapping.fields.len(),
                    "associations": m.mapping.associations.len(),
                })
            })
            .collect();
        let out = serde_json::json!({
            "ok": errors == 0,
            "errors": errors,
            "warnings": warnings,
            "problems": problems,
            "mappings": mappings,
        });
        println!("{out:#}");
    } else {
        for problem in &report.problems {
            eprintln!("{problem}");
        }
        // Mappings are listed only when they are usable as a whole.
        for m in report.mappings.iter().filter(|_| errors == 0) {
            println!(
                "{}:{}: {} -> HubSpot {} ({}, {} fields, {} associations)",
                m.file,
                m.line,
                m.mapping.salesforce_object,
                m.mapping.hubspot_object,
                m.mapping.status,
                m.mapping.fields.len(),
                m.mapping.associations.len()
            );
        }
        let files_word = if files.len() == 1 { "file" } else { "files" };
        if errors == 0 {
            println!(
                "ok: {} {files_word}, {} mappings, {warnings} warnings",
                files.len(),
                report.mappings.len()
            );
        } else {
            eprintln!(
                "{errors} errors, {warnings} warnings in {} {files_word}: fix the lines above and run again",
                files.len()
            );
        }
    }
    if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
