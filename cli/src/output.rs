//! Tables for people, JSON for scripts, and errors that say what to do.

use std::process::ExitCode;

use comfy_table::presets::UTF8_BORDERS_ONLY;
use comfy_table::{ContentArrangement, Table};
use sf2hs_shared::ports::PortError;

/// What can go wrong in a command, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(
        "cannot use the data directory {path}: {reason} (choose another with --data-dir or SF2HS_DATA_DIR)"
    )]
    DataDir { path: String, reason: String },
    #[error(transparent)]
    Store(#[from] PortError),
    #[error(
        "no stored mapping for `{object}`; `sf2hs mappings list` shows the stored ones, `sf2hs mappings apply FILE` stores new ones"
    )]
    NoMapping { object: String },
    /// A setting, secret or port for `serve` is missing or wrong; the text says which.
    #[error("{0}")]
    Setup(String),
    /// The configuration file is unreadable or holds a wrong key; the text says which.
    #[error("{0}")]
    Config(String),
}

pub fn fail(e: &CliError) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(1)
}

pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut table = Table::new();
    table
        .load_preset(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.to_vec());
    for row in rows {
        table.add_row(row);
    }
    table.to_string()
}

pub fn print_json(value: &serde_json::Value) {
    out!("{value:#}");
}

/// Writes one line to stdout. A reader that went away (`| head`) ends the process with
/// success: what it wanted, it has. Any other write error is reported once.
pub fn write_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write;

    let mut stdout = std::io::stdout().lock();
    if let Err(e) = writeln!(stdout, "{line}") {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}

pub fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "-".into())
}
