//! Property tests of the engine's promises: canonical numbers keep their value and are
//! idempotent, dates and datetimes round-trip, multi-select values split and join back, nothing
//! panics on any JSON, and the content hash ignores order but not content.
//!
//! Compiled only under `#[cfg(test)]` (see `engine/mod.rs`).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::domain::SalesforceId;
use crate::mapping::Conversion;
use crate::mapping::schema::SalesforceFieldType;

/// Any JSON value, nested up to a few levels, with the key names compound values use so that
/// flattening is exercised too.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from), // non-finite floats become null
        ".*".prop_map(Value::String),
        "[-+0-9.eE:TZ ]{0,30}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let key = prop_oneof![
            Just("LastName".to_owned()),
            Just("city".to_owned()),
            Just("latitude".to_owned()),
            Just("longitude".to_owned()),
            "[a-zA-Z]{0,8}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn any_field_type() -> impl Strategy<Value = Option<SalesforceFieldType>> {
    prop::option::of(
        "id|string|picklist|multipicklist|boolean|int|double|currency|date|datetime|time|reference|address|location|json|weird"
            .prop_map(SalesforceFieldType::from),
    )
}

const MILLIS_0001: i64 = -62_135_596_800_000;
const MILLIS_9999: i64 = 253_402_300_799_999;

proptest! {
    #[test]
    fn convert_never_panics(value in any_json(), field_type in any_field_type()) {
        for conversion in Conversion::ALL {
            let _ = convert(&value, conversion, field_type.as_ref());
        }
    }

    #[test]
    fn canonical_integers_keep_their_value(n in any::<i64>()) {
        let text = canonical_decimal(&n.to_string()).unwrap();
        prop_assert_eq!(text.parse::<i64>().unwrap(), n);
        prop_assert_eq!(convert(&json!(n), Conversion::Number, None).unwrap(), n.to_string());
        let padded = format!("{n}.000");
        prop_assert_eq!(canonical_decimal(&padded).unwrap(), n.to_string());
    }

    #[test]
    fn canonical_amounts_keep_their_value(cents in -10_000_000_000_i64..10_000_000_000) {
        let sign = if cents < 0 { "-" } else { "" };
        let as_salesforce_writes_it = format!("{sign}{}.{:02}", (cents / 100).abs(), (cents % 100).abs());
        let text = canonical_decimal(&as_salesforce_writes_it).unwrap();
        // Two-decimal amounts below 2^53 cents compare exactly through f64 after scaling.
        let parsed: f64 = text.parse().unwrap();
        prop_assert_eq!((parsed * 100.0).round() as i64, cents);
        prop_assert!(!text.ends_with('0') || !text.contains('.'), "{}", text);
        prop_assert!(!text.ends_with('.'), "{}", text);
    }

    #[test]
    fn canonicalisation_is_idempotent(
        negative in any::<bool>(),
        integer in "[0-9]{0,25}",
        fraction in "[0-9]{0,25}",
        exponent in prop::option::of(-40_i32..40),
    ) {
        prop_assume!(!(integer.is_empty() && fraction.is_empty()));
        let mut text = format!("{}{integer}.{fraction}", if negative { "-" } else { "" });
        if let Some(exponent) = exponent {
            text.push_str(&format!("e{exponent}"));
        }
        let once = canonical_decimal(&text).unwrap();
        prop_assert_eq!(canonical_decimal(&once).unwrap(), once.clone());
        // Same value: both parse to the same f64 (rounding is deterministic for equal values).
        prop_assert_eq!(once.parse::<f64>().unwrap(), text.parse::<f64>().unwrap());
    }

    #[test]
    fn json_floats_canonicalise_to_the_same_float(x in any::<f64>().prop_filter("finite", |x| x.is_finite())) {
        let text = convert(&json!(x), Conversion::Number, None).unwrap();
        prop_assert_eq!(text.parse::<f64>().unwrap(), x);
        prop_assert!(!text.contains(['e', 'E']), "{}", text);
    }

    #[test]
    fn epoch_millis_round_trip_through_datetime(millis in MILLIS_0001..=MILLIS_9999) {
        let expected = DateTime::from_timestamp_millis(millis).unwrap();
        for value in [json!(millis), json!(millis.to_string())] {
            let text = convert(&value, Conversion::Datetime, None).unwrap();
            let back = DateTime::parse_from_rfc3339(&text).unwrap();
            prop_assert_eq!(back, expected);
            prop_assert_eq!(text.len(), 24, "{}", text);
            // Converting the output again changes nothing.
            prop_assert_eq!(convert(&json!(text.clone()), Conversion::Datetime, None).unwrap(), text);
        }
        let date = convert(&json!(millis), Conversion::Date, None).unwrap();
        prop_assert_eq!(date, expected.date_naive().format("%Y-%m-%d").to_string());
    }

    #[test]
    fn offsets_name_the_same_instant(millis in 0_i64..4_102_444_800_000, offset_minutes in -14 * 60..=14 * 60_i32) {
        let utc = DateTime::from_timestamp_millis(millis).unwrap();
        let zone = chrono::FixedOffset::east_opt(offset_minutes * 60).unwrap();
        let local = utc.with_timezone(&zone);
        let rest_style = local.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string();
        let iso_style = local.to_rfc3339();
        let expected = utc.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        prop_assert_eq!(convert(&json!(rest_style), Conversion::Datetime, None).unwrap(), expected.clone());
        prop_assert_eq!(convert(&json!(iso_style), Conversion::Datetime, None).unwrap(), expected);
    }

    #[test]
    fn valid_dates_are_kept_as_they_are(days in 0_i64..3_652_059) {
        let date = NaiveDate::from_ymd_opt(1, 1, 1).unwrap() + chrono::Days::new(days as u64);
        let text = date.format("%Y-%m-%d").to_string();
        prop_assert_eq!(convert(&json!(text.clone()), Conversion::Date, None).unwrap(), text);
    }

    #[test]
    fn multi_select_values_split_and_join_back(items in prop::collection::vec("[A-Za-z0-9 _-]{1,12}", 0..8)) {
        // Items as HubSpot options: trimmed, non-empty, unique, in Salesforce's order.
        let mut options: Vec<String> = Vec::new();
        for item in items.iter().map(|i| i.trim()) {
            if !item.is_empty() && !options.iter().any(|o| o == item) {
                options.push(item.to_owned());
            }
        }
        let joined = options.join(";");
        let from_text = convert(&json!(joined.clone()), Conversion::MultiEnumeration, None).unwrap();
        prop_assert_eq!(&from_text, &joined);
        let from_array = convert(&json!(items), Conversion::MultiEnumeration, None).unwrap();
        prop_assert_eq!(&from_array, &joined);
        let split: Vec<&str> = if from_text.is_empty() { vec![] } else { from_text.split(';').collect() };
        prop_assert_eq!(split, options.iter().map(String::as_str).collect::<Vec<_>>());
    }

    #[test]
    fn content_hash_ignores_order_but_not_content(
        properties in prop::collection::btree_map("[a-z_;]{1,10}", ".{0,12}", 1..8),
        lookups in prop::collection::vec("[a-zA-Z0-9]{15}", 0..4),
        pick in any::<prop::sample::Index>(),
        extra in "[a-z]{1,3}",
    ) {
        let associations: Vec<AssociationRef> = lookups
            .iter()
            .enumerate()
            .map(|(i, id)| AssociationRef {
                salesforce_field: format!("Lookup{i}__c"),
                target: crate::mapping::AssociationTarget::MappedObject {
                    salesforce_object: "Account".into(),
                },
                target_record_id: SalesforceId::parse(id).unwrap(),
                association_type_id: None,
            })
            .collect();
        let cleared = vec!["B__c".to_owned(), "A__c".to_owned()];
        let hash = ContentHash::of(&properties, &associations, &cleared);

        // Order-independent: reversed insertion and reversed lists hash the same.
        let reinserted: BTreeMap<String, String> = properties.clone().into_iter().rev().collect();
        let mut reversed_associations = associations.clone();
        reversed_associations.reverse();
        let reversed_cleared: Vec<String> = cleared.iter().rev().cloned().collect();
        prop_assert_eq!(
            ContentHash::of(&reinserted, &reversed_associations, &reversed_cleared),
            hash.clone()
        );

        // Content-sensitive: changing any one value, or adding a property, changes the hash.
        let key = pick.get(&properties.keys().cloned().collect::<Vec<_>>()).clone();
        let mut changed = properties.clone();
        changed.insert(key.clone(), format!("{}{extra}", properties[&key]));
        prop_assert_ne!(ContentHash::of(&changed, &associations, &cleared), hash.clone());
        let mut added = properties.clone();
        added.insert(format!("{key}{extra}"), String::new());
        prop_assume!(!properties.contains_key(&format!("{key}{extra}")));
        prop_assert_ne!(ContentHash::of(&added, &associations, &cleared), hash);
    }
}
