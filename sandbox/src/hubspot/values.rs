//! Validation and normalisation of written property values (hubspot.md §1.3): every value is a
//! JSON string, checked against the property's `type` (and `fieldType` for checkboxes).

use chrono::{DateTime, NaiveDate, SecondsFormat, TimeZone, Utc};

use super::schemas::{FieldType, PropertyDef, PropertyType};

const MS_PER_DAY: i64 = 86_400_000;

/// The longest property value HubSpot takes, in characters (platform-behaviours.md H2). The
/// error code is the sandbox's own: HubSpot's documentation gives the limit, not the code.
pub const MAX_VALUE_CHARS: usize = 65_536;

/// Why one value was refused; becomes one entry of a 207 `errors[]` or a 400 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError {
    pub property: String,
    /// HubSpot-style error code (`INVALID_INTEGER`, `INVALID_OPTION`, …).
    pub code: &'static str,
    pub message: String,
}

impl ValueError {
    fn new(property: &str, code: &'static str, message: String) -> Self {
        Self {
            property: property.to_string(),
            code,
            message,
        }
    }
}

/// Checks `raw` against `def` and returns the stored form (`None` = the value is cleared).
/// Dates are stored as `YYYY-MM-DD` and datetimes as ISO 8601 UTC, which is how HubSpot
/// reads them back (hubspot.md §1.3: "responses use ISO 8601").
pub fn normalize_value(def: &PropertyDef, raw: &str) -> Result<Option<String>, ValueError> {
    if raw.is_empty() {
        // `""` clears a value (hubspot.md §1.3, common practice).
        return Ok(None);
    }
    let name = def.name.as_str();
    let chars = raw.chars().count();
    if chars > MAX_VALUE_CHARS {
        return Err(ValueError::new(
            name,
            "INVALID_LENGTH",
            format!(
                "Property \"{name}\" has a value of {chars} characters; values are at most \
                 {MAX_VALUE_CHARS} characters."
            ),
        ));
    }
    match def.property_type {
        PropertyType::String => Ok(Some(raw.to_string())),
        PropertyType::Number => {
            if is_decimal_text(raw) {
                Ok(Some(raw.to_string()))
            } else {
                Err(ValueError::new(
                    name,
                    "INVALID_DECIMAL",
                    format!("{raw} was not a valid number."),
                ))
            }
        }
        PropertyType::Bool => match raw {
            "true" | "false" => Ok(Some(raw.to_string())),
            _ => Err(ValueError::new(
                name,
                "INVALID_BOOLEAN",
                format!("{raw} was not a valid boolean (expected \"true\" or \"false\")."),
            )),
        },
        PropertyType::Date => normalize_date(name, raw).map(Some),
        PropertyType::Datetime => normalize_datetime(name, raw).map(Some),
        PropertyType::Enumeration => normalize_enumeration(def, raw).map(Some),
    }
}

/// Decimal text: optional `-`, digits, optional `.digits`. No exponent, no `+`, no blanks.
fn is_decimal_text(raw: &str) -> bool {
    let unsigned = raw.strip_prefix('-').unwrap_or(raw);
    let (int_part, frac_part) = match unsigned.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (unsigned, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    all_digits(int_part) && frac_part.is_none_or(all_digits)
}

fn parse_epoch_ms(raw: &str) -> Option<i64> {
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse::<i64>().ok()
}

fn normalize_date(name: &str, raw: &str) -> Result<String, ValueError> {
    if let Some(ms) = parse_epoch_ms(raw) {
        // hubspot.md §1.3: a date that is not midnight UTC is rejected.
        if ms.rem_euclid(MS_PER_DAY) != 0 {
            return Err(ValueError::new(
                name,
                "INVALID_DATE",
                format!(
                    "{raw} is at {} which is not midnight UTC; date properties take midnight UTC epoch milliseconds or YYYY-MM-DD",
                    format_epoch_ms(ms).unwrap_or_else(|| raw.to_string())
                ),
            ));
        }
        return Utc
            .timestamp_millis_opt(ms)
            .single()
            .map(|d| d.format("%Y-%m-%d").to_string())
            .ok_or_else(|| {
                ValueError::new(name, "INVALID_DATE", format!("{raw} is out of range"))
            });
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .filter(|_| raw.len() == 10)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .ok_or_else(|| {
            ValueError::new(
                name,
                "INVALID_DATE",
                format!(
                    "{raw} is not a valid date: use YYYY-MM-DD or midnight UTC epoch milliseconds"
                ),
            )
        })
}

fn normalize_datetime(name: &str, raw: &str) -> Result<String, ValueError> {
    if let Some(ms) = parse_epoch_ms(raw) {
        return format_epoch_ms(ms).ok_or_else(|| {
            ValueError::new(name, "INVALID_DATETIME", format!("{raw} is out of range"))
        });
    }
    DateTime::parse_from_rfc3339(raw)
        .map(|d| {
            d.with_timezone(&Utc)
                .to_rfc3339_opts(SecondsFormat::Millis, true)
        })
        .map_err(|_| {
            ValueError::new(
                name,
                "INVALID_DATETIME",
                format!("{raw} is not a valid datetime: use ISO 8601 or epoch milliseconds"),
            )
        })
}

fn format_epoch_ms(ms: i64) -> Option<String> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|d| d.to_rfc3339_opts(SecondsFormat::Millis, true))
}

fn normalize_enumeration(def: &PropertyDef, raw: &str) -> Result<String, ValueError> {
    let values: Vec<&str> = if def.field_type == FieldType::Checkbox {
        raw.split(';').collect()
    } else {
        vec![raw]
    };
    for value in &values {
        if !def.options.iter().any(|o| o.value == *value) {
            return Err(ValueError::new(
                &def.name,
                "INVALID_OPTION",
                format!(
                    "{value} was not one of the allowed options: [{}]",
                    def.options
                        .iter()
                        .map(|o| o.value.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    Ok(raw.to_string())
}

/// ISO 8601 with milliseconds, as HubSpot prints `createdAt`/`updatedAt`.
pub fn iso_now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_text_rules() {
        assert!(is_decimal_text("12"));
        assert!(is_decimal_text("-12.50"));
        assert!(!is_decimal_text("1e3"));
        assert!(!is_decimal_text("12."));
        assert!(!is_decimal_text("abc"));
        assert!(!is_decimal_text("+1"));
    }

    #[test]
    fn dates_must_be_midnight() {
        assert_eq!(
            normalize_date("d", "1430438400000"),
            Ok("2015-05-01".to_string())
        );
        assert!(normalize_date("d", "1430438400001").is_err());
        assert_eq!(
            normalize_date("d", "2015-05-01"),
            Ok("2015-05-01".to_string())
        );
        assert!(normalize_date("d", "2015-5-1").is_err());
    }

    #[test]
    fn datetimes_accept_iso_and_ms() {
        assert_eq!(
            normalize_datetime("d", "1430438400001"),
            Ok("2015-05-01T00:00:00.001Z".to_string())
        );
        assert_eq!(
            normalize_datetime("d", "2024-04-16T09:50:16.034Z"),
            Ok("2024-04-16T09:50:16.034Z".to_string())
        );
        assert!(normalize_datetime("d", "yesterday").is_err());
    }
}
