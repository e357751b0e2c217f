//! The imports API's file reading (hubspot.md "CRM Imports API"): an RFC 4180 CSV reader fed
//! chunk by chunk as the upload streams in, and the import tool's date and datetime formats.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::Deserialize;

/// One record of an import file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvRow {
    /// 1-based physical line on which the record starts. The spec calls `lineNumber` "the
    /// 1-indexed line number of this row in the source file": read literally, a record after a
    /// quoted cell holding a line break starts on a later line than its record index says.
    pub line: u32,
    pub cells: Vec<String>,
    /// A quote inside an unquoted cell, text after a closing quote, or an unterminated quote:
    /// not RFC 4180. The row is kept (to count and to report) but never applied.
    pub malformed: bool,
}

/// Why a file cannot be read at all (a 400 before any row is applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsvFault {
    NotUtf8 { line: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a cell.
    CellStart,
    Unquoted,
    Quoted,
    /// A quote seen inside a quoted cell: either its end or the first half of `""`.
    QuoteInQuoted,
}

/// An incremental RFC 4180 reader: `feed` any chunking of the bytes, then `finish`.
/// Line breaks are CRLF, LF or a lone CR; a UTF-8 byte-order mark at the very start is dropped.
#[derive(Debug)]
pub struct CsvReader {
    state: State,
    cell: Vec<u8>,
    cells: Vec<String>,
    malformed: bool,
    /// Physical line the reader is on (1-based).
    line: u32,
    row_line: u32,
    /// The previous byte was a CR outside quotes, so an LF now ends nothing new.
    after_cr: bool,
    /// Bytes seen so far, to spot the BOM across chunk boundaries.
    seen: u64,
    bom: [u8; 3],
    rows: Vec<CsvRow>,
    fault: Option<CsvFault>,
}

const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

impl Default for CsvReader {
    fn default() -> Self {
        Self {
            state: State::CellStart,
            cell: Vec::new(),
            cells: Vec::new(),
            malformed: false,
            line: 1,
            row_line: 1,
            after_cr: false,
            seen: 0,
            bom: [0; 3],
            rows: Vec::new(),
            fault: None,
        }
    }
}

impl CsvReader {
    /// Reads a chunk; complete records wait in [`CsvReader::take_rows`].
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), CsvFault> {
        for &byte in chunk {
            if self.seen < 3 {
                // Hold the first three bytes back until they are known not to be a BOM.
                self.bom[self.seen as usize] = byte;
                self.seen += 1;
                if self.seen < 3 && BOM[..self.seen as usize] == self.bom[..self.seen as usize] {
                    continue;
                }
                let held = self.bom;
                let count = self.seen as usize;
                self.seen = 3;
                if held == BOM {
                    continue;
                }
                for &b in held.iter().take(count) {
                    self.step(b);
                }
            } else {
                self.step(byte);
            }
            if let Some(fault) = &self.fault {
                return Err(fault.clone());
            }
        }
        Ok(())
    }

    /// Ends the input; a last record without a line break is complete now.
    pub fn finish(&mut self) -> Result<(), CsvFault> {
        if self.seen < 3 {
            // Fewer than three bytes in all: whatever was held back is not a whole BOM.
            let held = self.bom;
            let count = self.seen as usize;
            self.seen = 3;
            for &b in held.iter().take(count) {
                self.step(b);
            }
        }
        match self.state {
            State::CellStart if self.cells.is_empty() => {}
            State::Quoted => {
                self.malformed = true;
                self.end_row();
            }
            _ => self.end_row(),
        }
        match &self.fault {
            Some(fault) => Err(fault.clone()),
            None => Ok(()),
        }
    }

    /// The records completed so far, in file order.
    pub fn take_rows(&mut self) -> Vec<CsvRow> {
        std::mem::take(&mut self.rows)
    }

    fn step(&mut self, byte: u8) {
        let after_cr = std::mem::take(&mut self.after_cr);
        match self.state {
            State::CellStart => match byte {
                b'"' => self.state = State::Quoted,
                b',' => self.end_cell(),
                b'\n' if after_cr && self.cells.is_empty() => {
                    // The LF of a CRLF that already ended the record.
                }
                b'\r' | b'\n' => self.line_break(byte),
                _ => {
                    self.cell.push(byte);
                    self.state = State::Unquoted;
                }
            },
            State::Unquoted => match byte {
                b',' => self.end_cell(),
                b'\r' | b'\n' => self.line_break(byte),
                b'"' => {
                    self.malformed = true;
                    self.cell.push(byte);
                }
                _ => self.cell.push(byte),
            },
            State::Quoted => match byte {
                b'"' => self.state = State::QuoteInQuoted,
                b'\n' => {
                    if !after_cr {
                        self.line += 1;
                    }
                    self.cell.push(byte);
                }
                b'\r' => {
                    self.line += 1;
                    self.after_cr = true;
                    self.cell.push(byte);
                }
                _ => self.cell.push(byte),
            },
            State::QuoteInQuoted => match byte {
                b'"' => {
                    self.cell.push(b'"');
                    self.state = State::Quoted;
                }
                b',' => self.end_cell(),
                b'\r' | b'\n' => self.line_break(byte),
                _ => {
                    self.malformed = true;
                    self.cell.push(byte);
                    self.state = State::Unquoted;
                }
            },
        }
    }

    fn line_break(&mut self, byte: u8) {
        self.end_row();
        self.line += 1;
        self.row_line = self.line;
        self.after_cr = byte == b'\r';
    }

    fn end_cell(&mut self) {
        let bytes = std::mem::take(&mut self.cell);
        match String::from_utf8(bytes) {
            Ok(text) => self.cells.push(text),
            Err(_) => {
                if self.fault.is_none() {
                    self.fault = Some(CsvFault::NotUtf8 { line: self.line });
                }
                self.cells.push(String::new());
            }
        }
        self.state = State::CellStart;
    }

    /// A blank line is a record of one empty cell, as RFC 4180's grammar reads it.
    fn end_row(&mut self) {
        self.end_cell();
        let cells = std::mem::take(&mut self.cells);
        self.rows.push(CsvRow {
            line: self.row_line,
            cells,
            malformed: std::mem::take(&mut self.malformed),
        });
        self.state = State::CellStart;
    }
}

/// `dateFormat` of an import request: the order of day, month and year in date cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DateFormat {
    #[default]
    MonthDayYear,
    DayMonthYear,
    YearMonthDay,
}

/// A date cell in `format`: numbers separated by `/`, `-` or `.` (one separator throughout),
/// a four-digit year and a one- or two-digit month and day. HubSpot's import guide also takes
/// month names and two-digit years (KB set-up-your-import-file); the sandbox refuses those, the
/// stricter reading, because a two-digit year's century is a guess.
pub fn parse_import_date(raw: &str, format: DateFormat) -> Option<NaiveDate> {
    let separator = raw.chars().find(|c| !c.is_ascii_digit())?;
    if !matches!(separator, '/' | '-' | '.') {
        return None;
    }
    let parts: Vec<&str> = raw.split(separator).collect();
    let [a, b, c] = parts.as_slice() else {
        return None;
    };
    let (year, month, day) = match format {
        DateFormat::MonthDayYear => (c, a, b),
        DateFormat::DayMonthYear => (c, b, a),
        DateFormat::YearMonthDay => (a, b, c),
    };
    let digits = |s: &str, min: usize, max: usize| {
        (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(year, 4, 4) || !digits(month, 1, 2) || !digits(day, 1, 2) {
        return None;
    }
    NaiveDate::from_ymd_opt(year.parse().ok()?, month.parse().ok()?, day.parse().ok()?)
}

/// A datetime cell: epoch milliseconds, or a date in `format` optionally followed by ` HH:mm`
/// (24-hour). The KB does not say which time zone `HH:mm` is in; the sandbox takes it as UTC.
pub fn parse_import_datetime(raw: &str, format: DateFormat) -> Option<DateTime<Utc>> {
    let unsigned = raw.strip_prefix('-').unwrap_or(raw);
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return Utc.timestamp_millis_opt(raw.parse().ok()?).single();
    }
    let (date_part, time) = match raw.split_once(' ') {
        Some((date, time)) => {
            let (h, m) = time.split_once(':')?;
            let two_digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
            if !two_digits(h) || !two_digits(m) {
                return None;
            }
            (
                date,
                NaiveTime::from_hms_opt(h.parse().ok()?, m.parse().ok()?, 0)?,
            )
        }
        None => (raw, NaiveTime::MIN),
    };
    let date = parse_import_date(date_part, format)?;
    Some(Utc.from_utc_datetime(&date.and_time(time)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(chunks: &[&[u8]]) -> Vec<CsvRow> {
        let mut reader = CsvReader::default();
        let mut rows = Vec::new();
        for chunk in chunks {
            reader.feed(chunk).expect("utf-8");
            rows.extend(reader.take_rows());
        }
        reader.finish().expect("utf-8");
        rows.extend(reader.take_rows());
        rows
    }

    fn cells(rows: &[CsvRow]) -> Vec<Vec<&str>> {
        rows.iter()
            .map(|r| r.cells.iter().map(String::as_str).collect())
            .collect()
    }

    #[test]
    fn rfc4180_quotes_commas_and_line_breaks() {
        let text = b"a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\"two\r\nlines\"\r\n1,,3";
        let rows = read_all(&[text]);
        assert_eq!(
            cells(&rows),
            vec![
                vec!["a", "b", "c"],
                vec!["x, y", "say \"hi\"", "two\r\nlines"],
                vec!["1", "", "3"],
            ]
        );
        assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), [1, 2, 4]);
        assert!(rows.iter().all(|r| !r.malformed));
    }

    #[test]
    fn any_chunking_reads_the_same() {
        let text: &[u8] = b"\xEF\xBB\xBFh1,h2\n\"q\"\"\n\",\xC3\xA9\r\nlast,row\n";
        let whole = read_all(&[text]);
        for split in 0..text.len() {
            let (a, b) = text.split_at(split);
            assert_eq!(read_all(&[a, b]), whole, "split at {split}");
        }
        let bytewise: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(read_all(&bytewise), whole);
        assert_eq!(
            cells(&whole),
            vec![vec!["h1", "h2"], vec!["q\"\n", "é"], vec!["last", "row"]]
        );
        assert_eq!(whole.iter().map(|r| r.line).collect::<Vec<_>>(), [1, 2, 4]);
    }

    #[test]
    fn trailing_newline_adds_no_row_but_blank_lines_are_rows() {
        assert_eq!(cells(&read_all(&[b"a\n"])), vec![vec!["a"]]);
        assert_eq!(
            cells(&read_all(&[b"a,b\n\n1,2\n"])),
            vec![vec!["a", "b"], vec![""], vec!["1", "2"]]
        );
        assert!(read_all(&[b""]).is_empty());
    }

    #[test]
    fn stray_quotes_mark_the_row_malformed() {
        let rows = read_all(&[b"a\"b,c\n\"x\"y,z\n\"open"]);
        assert_eq!(
            rows.iter().map(|r| r.malformed).collect::<Vec<_>>(),
            [true, true, true]
        );
    }

    #[test]
    fn invalid_utf8_is_a_fault_naming_the_line() {
        let mut reader = CsvReader::default();
        assert_eq!(
            reader.feed(b"ok\n\xFF\xFE\n"),
            Err(CsvFault::NotUtf8 { line: 2 })
        );
    }

    #[test]
    fn dates_follow_the_date_format() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day);
        assert_eq!(
            parse_import_date("01/31/2024", DateFormat::MonthDayYear),
            d(2024, 1, 31)
        );
        assert_eq!(
            parse_import_date("31.1.2024", DateFormat::DayMonthYear),
            d(2024, 1, 31)
        );
        assert_eq!(
            parse_import_date("2024-01-31", DateFormat::YearMonthDay),
            d(2024, 1, 31)
        );
        assert_eq!(
            parse_import_date("31/01/2024", DateFormat::MonthDayYear),
            None
        );
        assert_eq!(
            parse_import_date("2024-01/31", DateFormat::YearMonthDay),
            None
        );
        assert_eq!(
            parse_import_date("01/31/24", DateFormat::MonthDayYear),
            None
        );
        assert_eq!(
            parse_import_date("Jan/31/2024", DateFormat::MonthDayYear),
            None
        );
    }

    #[test]
    fn datetimes_take_epoch_ms_or_a_date_and_time() {
        let at = |s: &str| {
            parse_import_datetime(s, DateFormat::DayMonthYear)
                .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        };
        assert_eq!(
            at("1430438400001").as_deref(),
            Some("2015-05-01T00:00:00.001Z")
        );
        assert_eq!(
            at("28/10/2023 14:30").as_deref(),
            Some("2023-10-28T14:30:00.000Z")
        );
        assert_eq!(
            at("28/10/2023").as_deref(),
            Some("2023-10-28T00:00:00.000Z")
        );
        assert_eq!(at("28/10/2023 2:30"), None);
        assert_eq!(at("28/10/2023 24:00"), None);
        assert_eq!(at("2023-10-28T14:30:00Z"), None);
    }
}
