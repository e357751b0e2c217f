//! Field values: what a test may write (checked against the field's describe type) and how a
//! stored value is rendered by each channel (REST JSON, Bulk CSV, outbound-message XML, CDC).

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::Value;

use super::ids;
use super::schema::FieldDefinition;

/// REST's datetime format: `2024-09-09T13:08:34.000+0000`.
pub fn rest_datetime(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

/// Bulk CSV's and the SOAP enterprise WSDL's format: `2017-11-03T17:24:20.000Z`.
pub fn iso_datetime(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Reads REST's `+0000` form as well as RFC 3339.
pub fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

fn is_number_type(t: &str) -> bool {
    matches!(t, "double" | "currency" | "percent")
}

/// Checks a value written by a test and returns it in stored form (datetimes in REST form,
/// empty text as null, because Salesforce stores no empty strings).
pub fn normalize_write(field: &FieldDefinition, value: &Value) -> Result<Value, String> {
    let name = &field.name;
    let t = field.field_type.as_str();
    let value = match value {
        Value::String(s) if s.is_empty() => &Value::Null,
        other => other,
    };
    if value.is_null() {
        return if field.nillable && t != "boolean" {
            Ok(Value::Null)
        } else {
            Err(format!("Required field {name} cannot be null"))
        };
    }
    let wrong = |expected: &str| format!("{name} ({t}) takes {expected}, got {value}");
    match t {
        "boolean" => value
            .as_bool()
            .map(Value::Bool)
            .ok_or_else(|| wrong("true or false")),
        "int" | "long" => value
            .as_i64()
            .map(Value::from)
            .ok_or_else(|| wrong("an integer")),
        _ if is_number_type(t) => value
            .as_f64()
            .map(Value::from)
            .ok_or_else(|| wrong("a number")),
        "date" => {
            let text = value.as_str().ok_or_else(|| wrong("YYYY-MM-DD"))?;
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(|_| Value::String(text.to_string()))
                .map_err(|_| wrong("YYYY-MM-DD"))
        }
        "datetime" => {
            let text = value
                .as_str()
                .ok_or_else(|| wrong("an ISO 8601 datetime"))?;
            parse_datetime(text)
                .map(|d| Value::String(rest_datetime(d)))
                .ok_or_else(|| wrong("an ISO 8601 datetime"))
        }
        "reference" | "id" => {
            let text = value.as_str().ok_or_else(|| wrong("a record id"))?;
            ids::normalize(text)
                .map(Value::String)
                .ok_or_else(|| wrong("a 15- or 18-character record id"))
        }
        "picklist" => {
            let text = value.as_str().ok_or_else(|| wrong("a picklist value"))?;
            if field.picklist_values.is_empty() || field.picklist_values.iter().any(|v| v == text) {
                Ok(Value::String(text.to_string()))
            } else {
                Err(format!(
                    "{name}: bad value for restricted picklist field: {text}"
                ))
            }
        }
        "multipicklist" => {
            let text = value
                .as_str()
                .ok_or_else(|| wrong("`;`-joined picklist values"))?;
            let bad = text.split(';').find(|part| {
                !field.picklist_values.is_empty()
                    && !field.picklist_values.iter().any(|v| v == part)
            });
            match bad {
                Some(part) => Err(format!(
                    "{name}: bad value for restricted picklist field: {part}"
                )),
                None => Ok(Value::String(text.to_string())),
            }
        }
        "address" | "location" | "anyType" | "complexvalue" | "json" => Ok(value.clone()),
        _ => value
            .as_str()
            .map(|s| Value::String(s.to_string()))
            .ok_or_else(|| wrong("text")),
    }
}

/// A stored value as plain text (Bulk CSV, outbound messages); `None` for null.
pub fn as_text(field: &FieldDefinition, value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) if field.field_type == "datetime" => Some(
            parse_datetime(s)
                .map(iso_datetime)
                .unwrap_or_else(|| s.clone()),
        ),
        Value::String(s) => Some(s.clone()),
        Value::Number(n) if is_number_type(&field.field_type) => {
            // Enterprise WSDL renders doubles as `39.0`, never `39`.
            let f = n.as_f64().unwrap_or_default();
            Some(if f.fract() == 0.0 && f.abs() < 1e15 {
                format!("{f:.1}")
            } else {
                f.to_string()
            })
        }
        other => Some(other.to_string()),
    }
}

/// A stored value as CDC sends it on CREATE/UNDELETE: datetimes as epoch milliseconds.
pub fn as_cdc(field: &FieldDefinition, value: &Value) -> Value {
    match value {
        Value::String(s) if field.field_type == "datetime" => parse_datetime(s)
            .map(|d| Value::from(d.timestamp_millis()))
            .unwrap_or_else(|| value.clone()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_are_typed() {
        let amount = FieldDefinition::new("Amount__c", "currency");
        assert_eq!(normalize_write(&amount, &json!(12)), Ok(json!(12.0)));
        assert!(normalize_write(&amount, &json!("12")).is_err());
        let when = FieldDefinition::new("When__c", "datetime");
        assert_eq!(
            normalize_write(&when, &json!("2024-01-02T03:04:05Z")),
            Ok(json!("2024-01-02T03:04:05.000+0000"))
        );
        let stage = FieldDefinition::picklist("Stage__c", &["Open", "Closed"]);
        assert!(normalize_write(&stage, &json!("Lost")).is_err());
        assert_eq!(as_text(&amount, &json!(39.0)).as_deref(), Some("39.0"));
    }
}
