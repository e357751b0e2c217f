//! One Salesforce field value to one HubSpot property value (hubspot.md §1.3: every value is a
//! string; `""` clears the property).
//!
//! Values arrive in four shapes (salesforce.md §1.1, §2.4, §3.1, §3.3): outbound-message text
//! (`"39.0"`, `"true"`), CDC JSON (epoch-ms numbers, nested compound values, `null`), REST JSON
//! (typed, datetimes with `+0000`) and Bulk CSV text (`""` for null). Whatever the shape, the same
//! Salesforce value must give the same HubSpot string, or every sync would look like a change.

use serde_json::Value;

use super::compound::{CompoundError, flatten_compound, sorted_json};
use super::decimal::{DecimalError, canonical_decimal};
use super::instant::{
    InstantError, instant_from_millis_text, to_hubspot_date, to_hubspot_datetime,
};
use crate::mapping::Conversion;
use crate::mapping::schema::SalesforceFieldType;

/// HubSpot's limit on a text property value, in characters.
pub const HUBSPOT_MAX_TEXT_CHARS: usize = 65_536;

/// How much of an offending value an error message quotes.
const SHOWN_VALUE_CHARS: usize = 80;

/// A value that cannot be written to its HubSpot property.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value} cannot become a HubSpot {}: {problem}", hubspot_type_words(*.expected))]
pub struct ValueError {
    /// The value as Salesforce sent it, written as JSON and cut to about 80 characters.
    pub value: String,
    /// The conversion applied; never `Auto`, which is resolved before converting.
    pub expected: Conversion,
    pub problem: ValueProblem,
}

impl ValueError {
    /// What an admin can do about it, for messages that reach a person.
    pub fn fix_hint(&self) -> &'static str {
        match (&self.problem, self.expected) {
            (ValueProblem::TooLong { .. }, _) => {
                "shorten the text in Salesforce, or leave the field out of the mapping"
            }
            (_, Conversion::String) => "fix the value in Salesforce",
            _ => "fix the value in Salesforce, or map the field with convert = \"string\"",
        }
    }
}

/// Why a value does not fit the expected HubSpot type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueProblem {
    #[error(transparent)]
    Decimal(#[from] DecimalError),
    #[error(transparent)]
    Instant(#[from] InstantError),
    #[error(transparent)]
    Compound(#[from] CompoundError),
    #[error("it is not a boolean (expected true/false or 1/0)")]
    NotABoolean,
    #[error("it is {0}, not a single value")]
    NotASingleValue(&'static str),
    #[error("it is a true/false value")]
    IsABoolean,
    #[error("one of its items is a list or object, not a single value")]
    NestedItem,
    #[error(
        "it has {chars} characters and HubSpot text holds at most {HUBSPOT_MAX_TEXT_CHARS} \
         (sf2hs does not cut text short)"
    )]
    TooLong { chars: usize },
}

/// Converts a Salesforce value to the text of a HubSpot property.
///
/// `null` and `""` (Bulk CSV's null) clear the property for every conversion. `Auto` decides from
/// `source_type` when the field's describe is known, else from the value's shape.
pub fn convert(
    value: &Value,
    conversion: Conversion,
    source_type: Option<&SalesforceFieldType>,
) -> Result<String, ValueError> {
    if is_null(value) {
        return Ok(String::new());
    }
    let expected = resolve_conversion(conversion, source_type, value);
    convert_as(value, expected)
        .and_then(within_text_limit)
        .map_err(|problem| ValueError {
            value: show_value(value),
            expected,
            problem,
        })
}

/// Null as any intake path writes it: JSON `null`, or the empty string Bulk CSV uses.
fn is_null(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// The concrete conversion `Auto` stands for.
pub fn resolve_conversion(
    conversion: Conversion,
    source_type: Option<&SalesforceFieldType>,
    value: &Value,
) -> Conversion {
    if conversion != Conversion::Auto {
        return conversion;
    }
    match source_type {
        Some(field_type) => conversion_for_field_type(field_type),
        None => match value {
            Value::Bool(_) => Conversion::Bool,
            Value::Number(_) => Conversion::Number,
            Value::Array(_) => Conversion::MultiEnumeration,
            Value::Null | Value::String(_) | Value::Object(_) => Conversion::String,
        },
    }
}

/// The HubSpot conversion for a Salesforce describe type (salesforce.md §3.4).
pub fn conversion_for_field_type(field_type: &SalesforceFieldType) -> Conversion {
    use SalesforceFieldType as T;
    match field_type {
        T::Date => Conversion::Date,
        T::Datetime => Conversion::Datetime,
        T::Boolean => Conversion::Bool,
        T::Int | T::Long | T::Double | T::Currency | T::Percent => Conversion::Number,
        T::Multipicklist => Conversion::MultiEnumeration,
        T::Picklist => Conversion::Enumeration,
        _ => Conversion::String,
    }
}

/// The words error messages use for the HubSpot type a conversion produces.
pub fn hubspot_type_words(conversion: Conversion) -> &'static str {
    match conversion {
        Conversion::Auto | Conversion::String => "text",
        Conversion::Number => "number",
        Conversion::Bool => "true/false value",
        Conversion::Date => "date",
        Conversion::Datetime => "datetime",
        Conversion::Enumeration => "picklist value",
        Conversion::MultiEnumeration => "multi-select value",
    }
}

fn convert_as(value: &Value, conversion: Conversion) -> Result<String, ValueProblem> {
    match conversion {
        Conversion::Auto | Conversion::String => to_text(value),
        Conversion::Number => to_number(value),
        Conversion::Bool => to_bool(value),
        Conversion::Date => to_date(value),
        Conversion::Datetime => to_datetime(value),
        Conversion::Enumeration => to_enumeration(value),
        Conversion::MultiEnumeration => to_multi_enumeration(value),
    }
}

fn to_text(value: &Value) -> Result<String, ValueProblem> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Object(object) => Ok(flatten_compound(object)?),
        Value::Array(_) => to_multi_enumeration(value),
        scalar => scalar_text(scalar),
    }
}

fn to_number(value: &Value) -> Result<String, ValueProblem> {
    match value {
        // serde_json writes the shortest text that reads back as the same f64, so `12.5` stays
        // `12.5` rather than gaining float noise.
        Value::Number(n) => Ok(canonical_decimal(&n.to_string())?),
        Value::String(s) => Ok(canonical_decimal(s)?),
        Value::Bool(_) => Err(ValueProblem::IsABoolean),
        other => Err(not_a_single_value(other)),
    }
}

fn to_bool(value: &Value) -> Result<String, ValueProblem> {
    let truth = match value {
        Value::Bool(b) => *b,
        Value::String(s) => {
            let s = s.trim();
            if s.eq_ignore_ascii_case("true") || s == "1" {
                true
            } else if s.eq_ignore_ascii_case("false") || s == "0" {
                false
            } else {
                return Err(ValueProblem::NotABoolean);
            }
        }
        Value::Number(_) => return Err(ValueProblem::NotABoolean),
        other => return Err(not_a_single_value(other)),
    };
    Ok(truth.to_string())
}

fn to_date(value: &Value) -> Result<String, ValueProblem> {
    match value {
        Value::String(s) => Ok(to_hubspot_date(s)?),
        Value::Number(n) => Ok(instant_from_millis_text(&n.to_string())?
            .date_naive()
            .format("%Y-%m-%d")
            .to_string()),
        Value::Bool(_) => Err(ValueProblem::IsABoolean),
        other => Err(not_a_single_value(other)),
    }
}

fn to_datetime(value: &Value) -> Result<String, ValueProblem> {
    match value {
        Value::String(s) => Ok(to_hubspot_datetime(s)?),
        Value::Number(n) => Ok(to_hubspot_datetime(&n.to_string())?),
        Value::Bool(_) => Err(ValueProblem::IsABoolean),
        other => Err(not_a_single_value(other)),
    }
}

fn to_enumeration(value: &Value) -> Result<String, ValueProblem> {
    match value {
        // Picklist values never carry meaningful edge spaces; typed-in CSV cells sometimes do.
        Value::String(s) => Ok(s.trim().to_owned()),
        Value::Array(_) | Value::Object(_) => Err(not_a_single_value(value)),
        scalar => scalar_text(scalar),
    }
}

/// `"A;B"` or `["A","B"]` as HubSpot's `;`-joined options: items trimmed, empty items and repeats
/// dropped, Salesforce's order kept.
fn to_multi_enumeration(value: &Value) -> Result<String, ValueProblem> {
    let mut items: Vec<String> = Vec::new();
    let mut add = |text: &str| {
        for item in text.split(';').map(str::trim) {
            if !item.is_empty() && !items.iter().any(|seen| seen == item) {
                items.push(item.to_owned());
            }
        }
    };
    match value {
        Value::String(s) => add(s),
        Value::Array(elements) => {
            for element in elements {
                match element {
                    Value::Null => {}
                    Value::String(s) => add(s),
                    Value::Array(_) | Value::Object(_) => return Err(ValueProblem::NestedItem),
                    scalar => add(&scalar_text(scalar)?),
                }
            }
        }
        Value::Object(_) => return Err(not_a_single_value(value)),
        scalar => add(&scalar_text(scalar)?),
    }
    Ok(items.join(";"))
}

/// Text of a number (canonical decimal) or a boolean.
fn scalar_text(value: &Value) -> Result<String, ValueProblem> {
    match value {
        Value::Number(n) => Ok(canonical_decimal(&n.to_string())?),
        Value::Bool(b) => Ok(b.to_string()),
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok(String::new()),
        Value::Array(_) | Value::Object(_) => Err(not_a_single_value(value)),
    }
}

fn not_a_single_value(value: &Value) -> ValueProblem {
    ValueProblem::NotASingleValue(match value {
        Value::Array(_) => "a list",
        _ => "a structured value",
    })
}

fn within_text_limit(text: String) -> Result<String, ValueProblem> {
    let chars = text.chars().count();
    if chars > HUBSPOT_MAX_TEXT_CHARS {
        return Err(ValueProblem::TooLong { chars });
    }
    Ok(text)
}

/// The value as JSON (strings quoted), cut to about 80 characters for messages and logs.
pub fn show_value(value: &Value) -> String {
    let text = sorted_json(value);
    match text.char_indices().nth(SHOWN_VALUE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests;
