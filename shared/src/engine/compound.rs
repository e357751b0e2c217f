//! Salesforce compound values (Name, Address, Location) flattened into one line of text.
//!
//! CDC sends them with upper-camel keys (`{"LastName": "Youngest"}`, `{"City": …}`), REST with
//! lower-camel keys (`{"city": …, "postalCode": …}`), so keys are matched without regard to case.

use serde_json::{Map, Value};

use super::decimal::canonical_decimal;

/// Why a structured value cannot be written as text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompoundError {
    #[error("a location needs both latitude and longitude")]
    HalfALocation,
    #[error("its `{key}` part is not a single value")]
    NestedPart { key: String },
    #[error("its `{key}` part is not a number")]
    NotACoordinate { key: String },
}

/// Name components in the order a person's name is written.
const NAME_PARTS: [&str; 5] = [
    "salutation",
    "firstname",
    "middlename",
    "lastname",
    "suffix",
];
/// Address components HubSpot gets, plus the ones Salesforce sends that a one-line address leaves
/// out (codes duplicate the names; coordinates are not part of a postal address).
const ADDRESS_PARTS: [&str; 5] = ["street", "city", "state", "postalcode", "country"];
const ADDRESS_EXTRAS: [&str; 5] = [
    "statecode",
    "countrycode",
    "latitude",
    "longitude",
    "geocodeaccuracy",
];
const LOCATION_PARTS: [&str; 2] = ["latitude", "longitude"];

/// Flattens a compound value into text: a Name is its non-empty parts joined by spaces, an
/// Address `Street, City, State PostalCode, Country`, a Location `lat,lon`. Any other object is
/// written as compact JSON so that `json`/`anyType` fields still sync as text.
pub fn flatten_compound(object: &Map<String, Value>) -> Result<String, CompoundError> {
    let keys: Vec<String> = object.keys().map(|k| k.to_ascii_lowercase()).collect();
    let only = |allowed: &[&str]| keys.iter().all(|k| allowed.contains(&k.as_str()));

    // Location first: its keys are also valid address extras.
    if !keys.is_empty() && only(&LOCATION_PARTS) {
        return flatten_location(object);
    }
    if only(&NAME_PARTS) {
        return join_parts(object, &NAME_PARTS, " ");
    }
    let address_keys: Vec<&str> = ADDRESS_PARTS
        .iter()
        .chain(&ADDRESS_EXTRAS)
        .copied()
        .collect();
    if only(&address_keys) {
        return flatten_address(object);
    }
    Ok(sorted_object_json(object))
}

/// Compact JSON with object keys sorted, so the text (and the content hash over it) does not
/// depend on the order Salesforce sent the keys in or on serde_json's map features.
pub fn sorted_json(value: &Value) -> String {
    match value {
        Value::Object(object) => sorted_object_json(object),
        Value::Array(items) => {
            let body: Vec<String> = items.iter().map(sorted_json).collect();
            format!("[{}]", body.join(","))
        }
        scalar => scalar.to_string(),
    }
}

fn sorted_object_json(object: &Map<String, Value>) -> String {
    let mut entries: Vec<(&String, &Value)> = object.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let body: Vec<String> = entries
        .into_iter()
        .map(|(key, value)| format!("{}:{}", Value::from(key.as_str()), sorted_json(value)))
        .collect();
    format!("{{{}}}", body.join(","))
}

fn flatten_address(object: &Map<String, Value>) -> Result<String, CompoundError> {
    let street = part_text(object, "street")?;
    let city = part_text(object, "city")?;
    let state_and_code = join_non_empty(
        [
            part_text(object, "state")?,
            part_text(object, "postalcode")?,
        ],
        " ",
    );
    let country = part_text(object, "country")?;
    Ok(join_non_empty(
        [street, city, state_and_code, country],
        ", ",
    ))
}

fn flatten_location(object: &Map<String, Value>) -> Result<String, CompoundError> {
    let latitude = coordinate(object, "latitude")?;
    let longitude = coordinate(object, "longitude")?;
    match (latitude, longitude) {
        (Some(latitude), Some(longitude)) => Ok(format!("{latitude},{longitude}")),
        (None, None) => Ok(String::new()),
        _ => Err(CompoundError::HalfALocation),
    }
}

fn coordinate(object: &Map<String, Value>, key: &str) -> Result<Option<String>, CompoundError> {
    let not_a_coordinate = || CompoundError::NotACoordinate {
        key: key.to_owned(),
    };
    match part(object, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => canonical_decimal(&n.to_string())
            .map(Some)
            .map_err(|_| not_a_coordinate()),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => canonical_decimal(s)
            .map(Some)
            .map_err(|_| not_a_coordinate()),
        Some(_) => Err(not_a_coordinate()),
    }
}

fn join_parts(
    object: &Map<String, Value>,
    order: &[&str],
    separator: &str,
) -> Result<String, CompoundError> {
    let parts = order
        .iter()
        .map(|key| part_text(object, key))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(join_non_empty(parts, separator))
}

fn join_non_empty(parts: impl IntoIterator<Item = String>, separator: &str) -> String {
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(separator)
}

/// A component as trimmed text; missing and null components are empty.
fn part_text(object: &Map<String, Value>, key: &str) -> Result<String, CompoundError> {
    match part(object, key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.trim().to_owned()),
        Some(Value::Bool(b)) => Ok(b.to_string()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(Value::Array(_) | Value::Object(_)) => Err(CompoundError::NestedPart {
            key: key.to_owned(),
        }),
    }
}

/// The component whose key equals `lower_key` ignoring ASCII case.
fn part<'a>(object: &'a Map<String, Value>, lower_key: &str) -> Option<&'a Value> {
    object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(lower_key))
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn flatten(value: Value) -> Result<String, CompoundError> {
        match value {
            Value::Object(object) => flatten_compound(&object),
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn cdc_partial_name_is_its_last_name() {
        // cdc-contact-update-compound-name.payload.json
        assert_eq!(
            flatten(json!({"LastName": "Youngest"})).as_deref(),
            Ok("Youngest")
        );
    }

    #[test]
    fn full_name_is_written_in_order() {
        let name = json!({
            "Suffix": "Jr.", "LastName": "Dunn", "FirstName": "Jane",
            "Salutation": "Ms.", "MiddleName": null
        });
        assert_eq!(flatten(name).as_deref(), Ok("Ms. Jane Dunn Jr."));
    }

    #[test]
    fn rest_address_uses_lower_camel_keys() {
        let address = json!({
            "street": "1 Market St", "city": "San Francisco", "state": "CA",
            "stateCode": "CA", "postalCode": "94105", "country": "United States",
            "countryCode": "US", "latitude": 37.79, "longitude": -122.39,
            "geocodeAccuracy": "Address"
        });
        assert_eq!(
            flatten(address).as_deref(),
            Ok("1 Market St, San Francisco, CA 94105, United States")
        );
    }

    #[test]
    fn cdc_address_skips_empty_parts() {
        let address =
            json!({"City": "Paris", "PostalCode": "75001", "Street": "", "Country": "France"});
        assert_eq!(flatten(address).as_deref(), Ok("Paris, 75001, France"));
        assert_eq!(flatten(json!({"State": "CA"})).as_deref(), Ok("CA"));
    }

    #[test]
    fn locations_are_lat_comma_lon() {
        assert_eq!(
            flatten(json!({"latitude": 37.7900, "longitude": -122.39})).as_deref(),
            Ok("37.79,-122.39")
        );
        assert_eq!(
            flatten(json!({"Latitude": null, "Longitude": null})).as_deref(),
            Ok("")
        );
        assert_eq!(
            flatten(json!({"latitude": 1.5})),
            Err(CompoundError::HalfALocation)
        );
        assert_eq!(
            flatten(json!({"latitude": "north", "longitude": 2})),
            Err(CompoundError::NotACoordinate {
                key: "latitude".into()
            })
        );
    }

    #[test]
    fn other_objects_are_compact_json_and_nested_parts_are_refused() {
        assert_eq!(
            flatten(json!({"b": 1, "a": [true]})).as_deref(),
            Ok(r#"{"a":[true],"b":1}"#)
        );
        assert_eq!(
            flatten(json!({"City": {"x": 1}})),
            Err(CompoundError::NestedPart { key: "city".into() })
        );
        assert_eq!(flatten(json!({})).as_deref(), Ok(""));
    }
}
