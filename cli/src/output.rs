//! Tables for people, JSON for scripts, and errors that say what to do.

use std::process::ExitCode;

use comfy_table::presets::UTF8_BORDERS_ONLY;
use comfy_table::{ContentArrangement, Table};
use sf2hs_shared::ports::{Cause, PortError};
use sf2hs_shared::settings::SettingsError;

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
    /// A setting or secret missing or wrong, or a client that cannot be built from them.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// A step failed with a typed error (a client, a store, a request), kept as the source.
    #[error(transparent)]
    Failed(Cause),
    /// `message` says what failed and what to do; `cause` is the typed error behind it.
    #[error("{message}")]
    Caused {
        message: String,
        #[source]
        cause: Cause,
    },
    /// A setting, secret or port for `serve` is missing or wrong; the text says which.
    #[error("{0}")]
    Setup(String),
    /// The configuration file is not TOML.
    #[error("{file}: not valid TOML: {source}")]
    ConfigSyntax {
        file: String,
        source: toml::de::Error,
    },
    /// The configuration file is unreadable or holds a wrong key; the text says which.
    #[error("{0}")]
    Config(String),
}

impl CliError {
    /// A step's typed error, its text as it is.
    pub fn failed(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        CliError::Failed(Cause::new(error))
    }

    /// `message` (the step, the error's text, what to do), with `error` kept as its source.
    pub fn caused(
        message: impl Into<String>,
        error: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        CliError::Caused {
            message: message.into(),
            cause: Cause::new(error),
        }
    }
}

pub fn fail(e: &CliError) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(1)
}

/// The width tables wrap to: `COLUMNS` when set, else the terminal's; `None` (no wrapping) when
/// stdout is not a terminal, so a script or a pipe gets whole lines.
pub fn table_width() -> Option<u16> {
    if let Some(columns) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<u16>().ok())
        .filter(|c| *c >= 40)
    {
        return Some(columns);
    }
    terminal_size::terminal_size_of(std::io::stdout()).map(|(width, _)| width.0)
}

pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    table_in(header, rows, table_width())
}

/// A table wrapped to `width` columns (its cells break between words), or as wide as its
/// content without one.
pub fn table_in(header: &[&str], rows: Vec<Vec<String>>, width: Option<u16>) -> String {
    let mut table = Table::new();
    table
        .load_preset(UTF8_BORDERS_ONLY)
        .set_header(header.to_vec());
    match width {
        Some(width) => {
            table
                .set_content_arrangement(ContentArrangement::Dynamic)
                .set_width(width);
        }
        None => {
            table.set_content_arrangement(ContentArrangement::Disabled);
        }
    }
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

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn typed_errors_stay_the_source() {
        let settings = SettingsError::Missing("SF2HS_ORG_ID", "set it");
        let error = CliError::from(settings.clone());
        assert_eq!(
            error.to_string(),
            settings.to_string(),
            "the text as it was"
        );
        let io = std::io::Error::other("address in use");
        let error = CliError::caused("cannot listen on 127.0.0.1:1: address in use", io);
        let source = error.source().and_then(|s| s.downcast_ref::<Cause>());
        assert!(source.is_some_and(|c| c.get().downcast_ref::<std::io::Error>().is_some()));
        let toml = "x = ".parse::<toml::Table>().expect_err("not TOML");
        let error = CliError::ConfigSyntax {
            file: "sf2hs.toml".into(),
            source: toml,
        };
        assert!(error.source().is_some_and(|s| s.is::<toml::de::Error>()));
    }
}
