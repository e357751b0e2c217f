//! Conversions fed the value shapes of the real payloads in `shared/fixtures/salesforce/`:
//! outbound-message text, CDC epoch-ms / ISO / compound JSON, REST `+0000` datetimes and Bulk CSV
//! cells.

use serde_json::{Value, json};

use super::*;
use crate::mapping::schema::SalesforceFieldType as T;

fn ok(value: Value, conversion: Conversion) -> String {
    match convert(&value, conversion, None) {
        Ok(text) => text,
        Err(error) => panic!("{value} as {conversion}: {error}"),
    }
}

fn err(value: Value, conversion: Conversion) -> ValueError {
    match convert(&value, conversion, None) {
        Ok(text) => panic!("{value} as {conversion} gave {text:?}, expected an error"),
        Err(error) => error,
    }
}

fn auto(value: Value, field_type: T) -> String {
    match convert(&value, Conversion::Auto, Some(&field_type)) {
        Ok(text) => text,
        Err(error) => panic!("{value} as auto {field_type:?}: {error}"),
    }
}

#[test]
fn null_and_empty_csv_cells_clear_every_conversion() {
    for conversion in Conversion::ALL {
        assert_eq!(ok(Value::Null, conversion), "", "{conversion}");
        // Bulk CSV writes null as an empty cell (bulk2-query-results.csv).
        assert_eq!(ok(json!(""), conversion), "", "{conversion}");
        for field_type in [
            T::Date,
            T::Datetime,
            T::Double,
            T::Boolean,
            T::Multipicklist,
        ] {
            assert_eq!(
                convert(&Value::Null, conversion, Some(&field_type)),
                Ok(String::new())
            );
        }
    }
}

#[test]
fn numbers_from_outbound_messages_rest_and_cdc() {
    // outbound message text (salesforce.md §1.1)
    assert_eq!(ok(json!("39.0"), Conversion::Number), "39");
    assert_eq!(ok(json!("0.0"), Conversion::Number), "0");
    assert_eq!(ok(json!("208230.0"), Conversion::Number), "208230");
    assert_eq!(ok(json!("-0.50"), Conversion::Number), "-0.5");
    assert_eq!(ok(json!("1.5E3"), Conversion::Number), "1500");
    assert_eq!(ok(json!("1e-7"), Conversion::Number), "0.0000001");
    assert_eq!(
        ok(json!("12345678901234567890.10"), Conversion::Number),
        "12345678901234567890.1"
    );
    // REST / CDC JSON numbers
    assert_eq!(ok(json!(12.5), Conversion::Number), "12.5");
    assert_eq!(ok(json!(0.1), Conversion::Number), "0.1");
    assert_eq!(ok(json!(39.0), Conversion::Number), "39");
    assert_eq!(ok(json!(1e-7), Conversion::Number), "0.0000001");
    assert_eq!(ok(json!(-250), Conversion::Number), "-250");
    assert_eq!(
        ok(json!(1_745_500_706_683_617_281_i64), Conversion::Number),
        "1745500706683617281"
    );
    assert_eq!(
        ok(json!(u64::MAX), Conversion::Number),
        "18446744073709551615"
    );
}

#[test]
fn a_number_error_names_value_type_and_reason() {
    let error = err(json!("12,50"), Conversion::Number);
    assert_eq!(
        error.to_string(),
        "\"12,50\" cannot become a HubSpot number: it is not a decimal number such as 1234.56"
    );
    assert_eq!(error.expected, Conversion::Number);
    assert_eq!(
        error.fix_hint(),
        "fix the value in Salesforce, or map the field with convert = \"string\""
    );
    for garbage in ["NaN", "Infinity", "-Infinity", "  ", "12 EUR"] {
        assert!(
            matches!(
                err(json!(garbage), Conversion::Number).problem,
                ValueProblem::Decimal(_)
            ),
            "{garbage}"
        );
    }
    assert_eq!(
        err(json!(true), Conversion::Number).to_string(),
        "true cannot become a HubSpot number: it is a true/false value"
    );
    assert_eq!(
        err(json!([1]), Conversion::Number).to_string(),
        "[1] cannot become a HubSpot number: it is a list, not a single value"
    );
    assert_eq!(
        err(json!({"amount": 1}), Conversion::Number).to_string(),
        "{\"amount\":1} cannot become a HubSpot number: it is a structured value, not a single value"
    );
}

#[test]
fn booleans_from_every_shape() {
    for (value, expected) in [
        (json!(true), "true"),
        (json!(false), "false"),
        (json!("true"), "true"),
        (json!("FALSE"), "false"),
        (json!("True"), "true"),
        (json!("1"), "true"),
        (json!("0"), "false"),
    ] {
        assert_eq!(ok(value, Conversion::Bool), expected);
    }
    assert_eq!(
        err(json!("yes"), Conversion::Bool).to_string(),
        "\"yes\" cannot become a HubSpot true/false value: it is not a boolean (expected \
         true/false or 1/0)"
    );
    assert_eq!(
        err(json!(1), Conversion::Bool).problem,
        ValueProblem::NotABoolean
    );
    assert!(matches!(
        err(json!({}), Conversion::Bool).problem,
        ValueProblem::NotASingleValue(_)
    ));
}

#[test]
fn dates_from_every_intake_shape() {
    assert_eq!(ok(json!("1978-01-01"), Conversion::Date), "1978-01-01"); // outbound message
    assert_eq!(
        ok(json!(1_712_693_965_000_i64), Conversion::Date),
        "2024-04-09"
    ); // CDC epoch ms
    assert_eq!(ok(json!("1712693965000"), Conversion::Date), "2024-04-09"); // as text
    assert_eq!(
        ok(json!("2025-04-24T13:18:26.000Z"), Conversion::Date),
        "2025-04-24"
    ); // CDC ISO
    assert_eq!(
        ok(json!("2024-09-09T23:08:34.000-0300"), Conversion::Date),
        "2024-09-10",
        "the UTC day of the instant"
    );
    assert_eq!(ok(json!(1.7126939650e12), Conversion::Date), "2024-04-09");
}

#[test]
fn date_errors_say_why() {
    assert_eq!(
        err(json!("2026-02-30"), Conversion::Date).to_string(),
        "\"2026-02-30\" cannot become a HubSpot date: that day does not exist in the calendar"
    );
    assert_eq!(
        err(json!("03/11/2017"), Conversion::Date).to_string(),
        "\"03/11/2017\" cannot become a HubSpot date: it is not a date or datetime such as \
         2024-09-09, 2024-09-09T13:08:34.000Z or milliseconds since 1970"
    );
    assert_eq!(
        err(json!(1.5), Conversion::Date).problem,
        ValueProblem::Instant(InstantError::FractionalMillis)
    );
    assert_eq!(
        err(json!(i64::MAX), Conversion::Date).problem,
        ValueProblem::Instant(InstantError::OutOfRange)
    );
    assert_eq!(
        err(json!(false), Conversion::Date).problem,
        ValueProblem::IsABoolean
    );
}

#[test]
fn datetimes_from_every_intake_shape() {
    let cases = [
        (
            json!("2017-11-03T17:24:20.000Z"),
            "2017-11-03T17:24:20.000Z",
        ), // outbound message
        (json!(1_712_693_965_000_i64), "2024-04-09T20:19:25.000Z"), // CDC CREATE
        (
            json!("2025-04-24T13:18:26.000Z"),
            "2025-04-24T13:18:26.000Z",
        ), // CDC UPDATE
        (
            json!("2024-09-09T13:08:34.000+0000"),
            "2024-09-09T13:08:34.000Z",
        ), // REST
        (
            json!("2024-09-09T13:08:34+00:00"),
            "2024-09-09T13:08:34.000Z",
        ),
        (
            json!("2024-09-09T15:08:34.250+02:00"),
            "2024-09-09T13:08:34.250Z",
        ),
        (json!("2024-09-09T13:08:34Z"), "2024-09-09T13:08:34.000Z"),
        (json!("1978-01-01"), "1978-01-01T00:00:00.000Z"),
        (json!("1712693965000"), "2024-04-09T20:19:25.000Z"),
        (json!(-1), "1969-12-31T23:59:59.999Z"),
    ];
    for (value, expected) in cases {
        assert_eq!(ok(value.clone(), Conversion::Datetime), expected, "{value}");
    }
}

#[test]
fn datetime_errors_say_why() {
    assert_eq!(
        err(json!("2024-09-09T13:08:34"), Conversion::Datetime).to_string(),
        "\"2024-09-09T13:08:34\" cannot become a HubSpot datetime: the datetime has no time zone \
         such as Z or +0000"
    );
    assert_eq!(
        err(json!("9999999999999999"), Conversion::Datetime).to_string(),
        "\"9999999999999999\" cannot become a HubSpot datetime: it falls outside the years 0001 \
         to 9999"
    );
    assert!(matches!(
        err(json!(["2024-09-09"]), Conversion::Datetime).problem,
        ValueProblem::NotASingleValue("a list")
    ));
}

#[test]
fn enumerations_are_trimmed_single_values() {
    assert_eq!(
        ok(json!("Agriculture"), Conversion::Enumeration),
        "Agriculture"
    ); // outbound-account-update.xml
    assert_eq!(
        ok(json!(" Supporter "), Conversion::Enumeration),
        "Supporter"
    );
    assert_eq!(ok(json!(3.0), Conversion::Enumeration), "3");
    assert_eq!(ok(json!(true), Conversion::Enumeration), "true");
    assert_eq!(
        err(json!(["A", "B"]), Conversion::Enumeration).to_string(),
        "[\"A\",\"B\"] cannot become a HubSpot picklist value: it is a list, not a single value"
    );
    assert!(matches!(
        err(json!({"a": 1}), Conversion::Enumeration).problem,
        ValueProblem::NotASingleValue(_)
    ));
}

#[test]
fn multi_enumerations_are_semicolon_joined_in_order_without_repeats() {
    assert_eq!(ok(json!("A;B"), Conversion::MultiEnumeration), "A;B");
    assert_eq!(
        ok(json!(" B ; A;;B; "), Conversion::MultiEnumeration),
        "B;A"
    );
    assert_eq!(
        ok(
            json!(["Gold", "Silver", "Gold"]),
            Conversion::MultiEnumeration
        ),
        "Gold;Silver"
    );
    assert_eq!(
        ok(json!(["A;B", null, "C", 7]), Conversion::MultiEnumeration),
        "A;B;C;7"
    );
    assert_eq!(ok(json!([]), Conversion::MultiEnumeration), "");
    assert_eq!(ok(json!("One"), Conversion::MultiEnumeration), "One");
    assert_eq!(
        err(json!([["A"]]), Conversion::MultiEnumeration).to_string(),
        "[[\"A\"]] cannot become a HubSpot multi-select value: one of its items is a list or \
         object, not a single value"
    );
    assert!(matches!(
        err(json!({"A": true}), Conversion::MultiEnumeration).problem,
        ValueProblem::NotASingleValue(_)
    ));
}

#[test]
fn strings_keep_their_text_and_flatten_compounds() {
    assert_eq!(
        ok(json!("  Sample account record. "), Conversion::String),
        "  Sample account record. "
    );
    assert_eq!(
        ok(json!("&lt;br&gt; stays as sent"), Conversion::String),
        "&lt;br&gt; stays as sent"
    );
    assert_eq!(ok(json!(39.0), Conversion::String), "39");
    assert_eq!(ok(json!(false), Conversion::String), "false");
    // cdc-contact-update-compound-name.payload.json
    assert_eq!(
        ok(json!({"LastName": "Youngest"}), Conversion::String),
        "Youngest"
    );
    assert_eq!(
        ok(
            json!({"Salutation": "Dr.", "FirstName": "Jane", "LastName": "Dunn"}),
            Conversion::String
        ),
        "Dr. Jane Dunn"
    );
    assert_eq!(
        ok(
            json!({"Street": "1 Main St", "City": "Springfield", "State": "IL",
                   "PostalCode": "62701", "Country": "USA"}),
            Conversion::String
        ),
        "1 Main St, Springfield, IL 62701, USA"
    );
    assert_eq!(
        ok(
            json!({"latitude": 37.79, "longitude": -122.39}),
            Conversion::String
        ),
        "37.79,-122.39"
    );
}

#[test]
fn text_over_hubspots_limit_is_refused_not_cut() {
    let at_limit = "x".repeat(HUBSPOT_MAX_TEXT_CHARS);
    assert_eq!(
        ok(json!(at_limit), Conversion::String).chars().count(),
        HUBSPOT_MAX_TEXT_CHARS
    );
    // Characters, not bytes: 65,536 two-byte characters still fit.
    let accented = "é".repeat(HUBSPOT_MAX_TEXT_CHARS);
    assert_eq!(
        ok(json!(accented), Conversion::String).len(),
        2 * HUBSPOT_MAX_TEXT_CHARS
    );

    let error = err(
        json!("x".repeat(HUBSPOT_MAX_TEXT_CHARS + 1)),
        Conversion::String,
    );
    assert_eq!(error.problem, ValueProblem::TooLong { chars: 65_537 });
    let message = error.to_string();
    assert!(
        message.starts_with(&format!("\"{}…", "x".repeat(79))),
        "the value is quoted, cut to 80 characters: {message}"
    );
    assert!(
        message.ends_with(
            "cannot become a HubSpot text: it has 65537 characters and HubSpot text holds at \
             most 65536 (sf2hs does not cut text short)"
        ),
        "{message}"
    );
    assert_eq!(
        error.fix_hint(),
        "shorten the text in Salesforce, or leave the field out of the mapping"
    );
}

#[test]
fn auto_follows_the_describe_type() {
    assert_eq!(
        auto(json!(1_712_693_965_000_i64), T::Datetime),
        "2024-04-09T20:19:25.000Z"
    );
    assert_eq!(
        auto(json!("2024-09-09T13:08:34.000+0000"), T::Datetime),
        "2024-09-09T13:08:34.000Z"
    );
    assert_eq!(
        auto(json!("2017-11-03T17:24:20.000Z"), T::Date),
        "2017-11-03"
    );
    assert_eq!(auto(json!("true"), T::Boolean), "true");
    for numeric in [T::Int, T::Long, T::Double, T::Currency, T::Percent] {
        assert_eq!(auto(json!("39.0"), numeric.clone()), "39", "{numeric:?}");
    }
    assert_eq!(auto(json!("B;A;B"), T::Multipicklist), "B;A");
    assert_eq!(auto(json!(" Hot "), T::Picklist), "Hot");
    assert_eq!(
        auto(json!("001ak00000OKNPHAA5"), T::Reference),
        "001ak00000OKNPHAA5"
    );
    assert_eq!(auto(json!(" 10:30:00.000Z "), T::Time), " 10:30:00.000Z ");
    assert_eq!(
        auto(json!("39.0"), T::String),
        "39.0",
        "text fields are not renumbered"
    );
    assert_eq!(
        auto(json!({"city": "Paris", "country": "France"}), T::Address),
        "Paris, France"
    );
    assert_eq!(auto(json!("x"), T::Other("futuretype".into())), "x");

    let error = convert(&json!("soon"), Conversion::Auto, Some(&T::Date)).unwrap_err();
    assert_eq!(
        error.expected,
        Conversion::Date,
        "the error names the resolved type"
    );
}

#[test]
fn auto_without_describe_goes_by_shape() {
    assert_eq!(ok(json!(true), Conversion::Auto), "true");
    assert_eq!(ok(json!(208230.0), Conversion::Auto), "208230");
    assert_eq!(
        ok(json!("39.0"), Conversion::Auto),
        "39.0",
        "strings stay as they are"
    );
    assert_eq!(
        ok(json!({"LastName": "Youngest"}), Conversion::Auto),
        "Youngest"
    );
    assert_eq!(ok(json!(["A", "B"]), Conversion::Auto), "A;B");
}

#[test]
fn an_explicit_conversion_wins_over_the_describe_type() {
    assert_eq!(
        convert(&json!("39.0"), Conversion::String, Some(&T::Double)).as_deref(),
        Ok("39.0")
    );
}

#[test]
fn the_cdc_create_fixture_converts_by_shape_without_errors() {
    // cdc-account-create.payload.json: unset fields are null, datetimes epoch ms.
    let payload = json!({
        "Name": "Acme", "Type": null, "BillingAddress": null, "AnnualRevenue": null,
        "NumberOfEmployees": null, "Description": "Sample account record.",
        "OwnerId": "0055f000005mc66AAA", "CreatedDate": 1712693965000_i64,
        "CleanStatus": "Pending", "SLAExpirationDate__c": null
    });
    let Value::Object(fields) = payload else {
        unreachable!()
    };
    for (name, value) in &fields {
        let converted = convert(value, Conversion::Auto, None);
        assert!(converted.is_ok(), "{name}: {converted:?}");
    }
    assert_eq!(
        convert(&fields["CreatedDate"], Conversion::Auto, Some(&T::Datetime)).as_deref(),
        Ok("2024-04-09T20:19:25.000Z")
    );
    assert_eq!(
        convert(
            &fields["BillingAddress"],
            Conversion::Auto,
            Some(&T::Address)
        )
        .as_deref(),
        Ok("")
    );
}

#[test]
fn shown_values_are_cut_on_character_boundaries() {
    let long = "é".repeat(200);
    let shown = show_value(&json!(long));
    assert_eq!(shown.chars().count(), 81, "80 characters and an ellipsis");
    assert!(shown.starts_with("\"é") && shown.ends_with('…'));
    assert_eq!(show_value(&json!(12.5)), "12.5");
}
