//! Dates and datetimes in the shapes Salesforce sends them, turned into HubSpot's.
//!
//! Every input becomes one UTC instant in milliseconds first, so a value that arrives as epoch-ms
//! from CDC, as `…Z` from an outbound message and as `…+0000` from REST writes the same string.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

use super::decimal::canonical_decimal;

/// Why a value is not a date or datetime.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstantError {
    #[error("that day does not exist in the calendar")]
    NoSuchDate,
    #[error(
        "it is not a date or datetime such as 2024-09-09, 2024-09-09T13:08:34.000Z or \
         milliseconds since 1970"
    )]
    Unrecognised,
    #[error("the datetime has no time zone such as Z or +0000")]
    NoTimeZone,
    #[error("epoch milliseconds must be a whole number")]
    FractionalMillis,
    #[error("it falls outside the years 0001 to 9999")]
    OutOfRange,
}

/// Earliest and latest instants HubSpot's four-digit ISO years can show.
const MIN_MILLIS: i64 = -62_135_596_800_000; // 0001-01-01T00:00:00.000Z
const MAX_MILLIS: i64 = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z

/// `YYYY-MM-DD` as HubSpot date properties take it.
pub fn to_hubspot_date(text: &str) -> Result<String, InstantError> {
    let text = text.trim();
    // A plain date is a calendar day, not an instant: keep it as it is rather than moving it
    // through a time zone.
    if let Some(date) = parse_plain_date(text)? {
        return Ok(date.format("%Y-%m-%d").to_string());
    }
    Ok(instant_from_text(text)?
        .date_naive()
        .format("%Y-%m-%d")
        .to_string())
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` as HubSpot datetime properties take it.
pub fn to_hubspot_datetime(text: &str) -> Result<String, InstantError> {
    let text = text.trim();
    let instant = match parse_plain_date(text)? {
        Some(date) => date.and_time(chrono::NaiveTime::MIN).and_utc(),
        None => instant_from_text(text)?,
    };
    Ok(instant.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// The UTC instant of epoch milliseconds, within the years 0001 to 9999.
pub fn instant_from_millis(millis: i64) -> Result<DateTime<Utc>, InstantError> {
    if !(MIN_MILLIS..=MAX_MILLIS).contains(&millis) {
        return Err(InstantError::OutOfRange);
    }
    DateTime::from_timestamp_millis(millis).ok_or(InstantError::OutOfRange)
}

/// `Some(date)` for text shaped `YYYY-MM-DD`, `None` for any other shape; an impossible date of
/// the right shape (`2026-02-30`) is an error, not "some other shape".
fn parse_plain_date(text: &str) -> Result<Option<NaiveDate>, InstantError> {
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !shaped {
        return Ok(None);
    }
    let number = |range: std::ops::Range<usize>| text[range].parse::<u32>().ok();
    let date = match (number(0..4), number(5..7), number(8..10)) {
        (Some(year), Some(month), Some(day)) if year >= 1 => i32::try_from(year)
            .ok()
            .and_then(|year| NaiveDate::from_ymd_opt(year, month, day)),
        _ => None,
    };
    date.map(Some).ok_or(InstantError::NoSuchDate)
}

/// An instant from an ISO datetime with a zone, or from epoch milliseconds written as a number.
fn instant_from_text(text: &str) -> Result<DateTime<Utc>, InstantError> {
    if text.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+')
        && !text.contains([':', 'T', 't'])
    {
        return instant_from_millis_text(text);
    }
    let parsed = DateTime::parse_from_rfc3339(&with_rfc3339_offset(text)?)
        .map_err(|_| InstantError::Unrecognised)?;
    // Through milliseconds: HubSpot keeps milliseconds, and this also folds a leap second
    // (`23:59:60`) into an ordinary instant.
    instant_from_millis(parsed.timestamp_millis())
}

/// Epoch milliseconds written as decimal text (`"1712693965000"`, `"1.712693965E12"`).
pub fn instant_from_millis_text(text: &str) -> Result<DateTime<Utc>, InstantError> {
    let canonical = canonical_decimal(text).map_err(|_| InstantError::Unrecognised)?;
    if canonical.contains('.') {
        return Err(InstantError::FractionalMillis);
    }
    let millis = canonical
        .parse::<i64>()
        .map_err(|_| InstantError::OutOfRange)?;
    instant_from_millis(millis)
}

/// RFC 3339 wants `Z` or `±HH:MM`; Salesforce REST writes `+0000` (no colon). Adds the colon, and
/// refuses a datetime without any zone rather than guessing one.
fn with_rfc3339_offset(text: &str) -> Result<String, InstantError> {
    // The date part is `YYYY-MM-DD`, so the date/time separator sits at byte 10.
    let time_start = 10;
    if !matches!(text.as_bytes().get(time_start), Some(b'T' | b't' | b' ')) {
        return Err(InstantError::Unrecognised);
    }
    let time = &text[time_start + 1..];
    if time.ends_with(['Z', 'z']) {
        return Ok(text.to_owned());
    }
    let Some(sign_at) = time.rfind(['+', '-']) else {
        return Err(InstantError::NoTimeZone);
    };
    let offset = &time[sign_at + 1..];
    let offset_at = time_start + 1 + sign_at + 1;
    let all_digits = offset.bytes().all(|b| b.is_ascii_digit());
    match offset.len() {
        5 if offset.as_bytes()[2] == b':' => Ok(text.to_owned()),
        4 if all_digits => Ok(format!(
            "{}{}:{}",
            &text[..offset_at],
            &offset[..2],
            &offset[2..]
        )),
        2 if all_digits => Ok(format!("{text}:00")),
        _ => Err(InstantError::Unrecognised),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_from_every_intake_shape_agree() {
        let expected = "2024-09-09T13:08:34.000Z";
        for input in [
            "2024-09-09T13:08:34.000Z",      // outbound message, Bulk CSV
            "2024-09-09T13:08:34.000+0000",  // REST
            "2024-09-09T13:08:34+00:00",     // no fraction, colon offset
            "2024-09-09T13:08:34Z",          // no fraction
            "2024-09-09T15:08:34.000+0200",  // other offset
            "2024-09-09T08:08:34.000-05:00", // negative offset
            "2024-09-09T15:08:34+02",        // hour-only offset
            "1725887314000",                 // epoch ms as text
            "2024-09-09t13:08:34z",          // lower-case separators
        ] {
            assert_eq!(
                to_hubspot_datetime(input).as_deref(),
                Ok(expected),
                "{input}"
            );
        }
    }

    #[test]
    fn datetime_precision_is_milliseconds() {
        assert_eq!(
            to_hubspot_datetime("2024-09-09T13:08:34.1234567Z").as_deref(),
            Ok("2024-09-09T13:08:34.123Z")
        );
        assert_eq!(
            to_hubspot_datetime("2016-12-31T23:59:60.500Z").as_deref(),
            Ok("2017-01-01T00:00:00.500Z"),
            "a leap second folds into the next second"
        );
    }

    #[test]
    fn a_bare_date_is_midnight_utc() {
        assert_eq!(
            to_hubspot_datetime("1978-01-01").as_deref(),
            Ok("1978-01-01T00:00:00.000Z")
        );
    }

    #[test]
    fn dates_from_every_intake_shape() {
        for (input, expected) in [
            ("1978-01-01", "1978-01-01"),
            ("2017-11-03T17:24:20.000Z", "2017-11-03"),
            ("2017-11-03T23:30:00.000-0200", "2017-11-04"), // the UTC day of the instant
            ("1712693965000", "2024-04-09"),
            ("-86400000", "1969-12-31"),
            ("2024-02-29", "2024-02-29"),
        ] {
            assert_eq!(to_hubspot_date(input).as_deref(), Ok(expected), "{input}");
        }
    }

    #[test]
    fn impossible_and_malformed_values_are_refused() {
        assert_eq!(to_hubspot_date("2026-02-30"), Err(InstantError::NoSuchDate));
        assert_eq!(to_hubspot_date("0000-01-01"), Err(InstantError::NoSuchDate));
        assert_eq!(
            to_hubspot_datetime("2026-13-01").unwrap_err(),
            InstantError::NoSuchDate
        );
        assert_eq!(
            to_hubspot_datetime("2024-09-09T13:08:34"),
            Err(InstantError::NoTimeZone)
        );
        assert_eq!(
            to_hubspot_datetime("1712693965000.5"),
            Err(InstantError::FractionalMillis)
        );
        assert_eq!(
            to_hubspot_datetime("99999999999999999"),
            Err(InstantError::OutOfRange)
        );
        for garbage in [
            "yesterday",
            "03/11/2017",
            "2024-09-09T25:08:34Z",
            "2024-09-09T13:08:34+2",
            "2024-09-09T13:08:34+02:0",
            "T",
            "",
            "2024-9-9",
        ] {
            assert!(to_hubspot_datetime(garbage).is_err(), "{garbage}");
            assert!(to_hubspot_date(garbage).is_err(), "{garbage}");
        }
    }
}
