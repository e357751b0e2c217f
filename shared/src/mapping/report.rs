//! What validation hands back: the problems found, each with file, line and a fix hint, and the
//! mappings that could be read, with the lines they came from.

use std::fmt;

use super::model::Mapping;

/// How bad a problem is: errors block the mapping; warnings are worth reading but do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One thing wrong in a mapping file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file name as it was given.
    pub file: String,
    /// 1-based line; 0 when the problem is about the whole file (it could not be read).
    pub line: usize,
    pub severity: Severity,
    pub message: String,
    /// How to fix it; may be empty.
    pub hint: String,
}

impl Problem {
    pub fn error(
        file: impl Into<String>,
        line: usize,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Self {
            file: file.into(),
            line,
            severity: Severity::Error,
            message: message.into(),
            hint: hint.into(),
        }
    }

    pub fn warning(
        file: impl Into<String>,
        line: usize,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(file, line, message, hint)
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `file:line: severity: message`, the first line of the `Display` form (handy in tests).
    pub fn headline(&self) -> String {
        if self.line == 0 {
            format!("{}: {}: {}", self.file, self.severity, self.message)
        } else {
            format!(
                "{}:{}: {}: {}",
                self.file, self.line, self.severity, self.message
            )
        }
    }
}

/// `invoices.toml:12: error: Salesforce field `Amount__c` is mapped twice` and, on the next line,
/// `  hint: …` (compiler style, so editors can jump to the line).
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.headline())?;
        if !self.hint.is_empty() {
            write!(f, "\n  hint: {}", self.hint.trim_end())?;
        }
        Ok(())
    }
}

/// The lines of one mapping's parts, so that later checks (live schemas) can point at them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MappingLines {
    pub salesforce_object: usize,
    pub hubspot_object: usize,
    /// The `id_property` line, or the `[[mapping]]` line when the default is used.
    pub id_property: usize,
    /// One line per entry of `Mapping::fields`, same order.
    pub fields: Vec<usize>,
    /// One line per entry of `Mapping::associations`, same order.
    pub associations: Vec<usize>,
}

/// A mapping read from a file, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocatedMapping {
    pub file: String,
    /// The `[[mapping]]` line.
    pub line: usize,
    pub mapping: Mapping,
    pub lines: MappingLines,
}

impl LocatedMapping {
    /// A stored mapping, checked again at activation: problems name the stored mapping, since
    /// no file is at hand.
    pub fn stored(mapping: Mapping) -> Self {
        LocatedMapping {
            file: format!("stored mapping {}", mapping.salesforce_object),
            line: 0,
            mapping,
            lines: MappingLines::default(),
        }
    }

    /// The line of field `index` of `mapping.fields`, or the mapping's line when out of range.
    pub fn field_line(&self, index: usize) -> usize {
        self.lines.fields.get(index).copied().unwrap_or(self.line)
    }

    /// The line of association `index` of `mapping.associations`, or the mapping's line.
    pub fn association_line(&self, index: usize) -> usize {
        self.lines
            .associations
            .get(index)
            .copied()
            .unwrap_or(self.line)
    }
}

/// Everything validation found across the files given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ValidationReport {
    /// Every mapping that could be read, even when problems were found: use them only when
    /// `is_ok()`.
    pub mappings: Vec<LocatedMapping>,
    /// Sorted by file (in the order given) and line.
    pub problems: Vec<Problem>,
}

impl ValidationReport {
    /// No errors (warnings allowed).
    pub fn is_ok(&self) -> bool {
        !self.problems.iter().any(Problem::is_error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| p.is_error())
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| !p.is_error())
    }
}

/// One problem per paragraph, then a count, as the CLI prints it.
impl fmt::Display for ValidationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for problem in &self.problems {
            writeln!(f, "{problem}")?;
        }
        write!(
            f,
            "{} error(s), {} warning(s) in {} mapping(s)",
            self.errors().count(),
            self.warnings().count(),
            self.mappings.len()
        )
    }
}

/// Something that collects the problems of one file: `error` and `warning` name the file for it.
pub(crate) trait ProblemSink {
    fn file(&self) -> &str;
    fn problems(&mut self) -> &mut Vec<Problem>;

    fn error(&mut self, line: usize, message: String, hint: String) {
        let problem = Problem::error(self.file(), line, message, hint);
        self.problems().push(problem);
    }

    fn warning(&mut self, line: usize, message: String, hint: String) {
        let problem = Problem::warning(self.file(), line, message, hint);
        self.problems().push(problem);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_display_is_compiler_style() {
        let p = Problem::error(
            "invoices.toml",
            12,
            "Salesforce field `Amount__c` is mapped twice",
            "keep one of the two lines",
        );
        assert_eq!(
            p.to_string(),
            "invoices.toml:12: error: Salesforce field `Amount__c` is mapped twice\n  hint: keep one of the two lines"
        );
        let whole_file = Problem::warning("a.toml", 0, "no mappings", "");
        assert_eq!(whole_file.to_string(), "a.toml: warning: no mappings");
    }
}
