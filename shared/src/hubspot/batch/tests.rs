use std::cell::RefCell;

use chrono::TimeZone;

use super::*;

fn input(id: &str, name: &str) -> UpsertInput {
    UpsertInput::new(id, BTreeMap::from([("name".to_owned(), name.to_owned())]))
}

fn at(id: &str, name: &str, second: u32) -> UpsertInput {
    UpsertInput {
        modified_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, second).single(),
        ..input(id, name)
    }
}

#[test]
fn dedup_keeps_the_newest_in_first_position() {
    let (kept, superseded) = dedup_newest_wins(vec![
        input("A", "a1"),
        input("B", "b1"),
        input("A", "a2"),
        at("C", "c-new", 9),
        at("C", "c-old", 1),
    ]);
    assert_eq!(superseded, 2);
    let names: Vec<(&str, &str)> = kept
        .iter()
        .map(|i| (i.id_value.as_str(), i.properties["name"].as_str()))
        .collect();
    assert_eq!(names, [("A", "a2"), ("B", "b1"), ("C", "c-new")]);
}

#[test]
fn chunks_never_exceed_the_limit() {
    let chunks = chunked((0..250).collect::<Vec<_>>(), MAX_BATCH_INPUTS);
    let sizes: Vec<usize> = chunks.iter().map(Vec::len).collect();
    assert_eq!(sizes, [100, 100, 50]);
    assert!(chunked(Vec::<u8>::new(), 100).is_empty());
}

fn group(ids: &[&str]) -> Vec<Traced<UpsertInput>> {
    ids.iter()
        .enumerate()
        .map(|(i, id)| Traced {
            trace_id: format!("t{i}"),
            item: input(id, "x"),
        })
        .collect()
}

#[test]
fn a_207_is_split_by_trace_id_and_id_value_never_by_position() {
    let sent = group(&["001A", "001B", "001C"]);
    let response = ApiResponse {
        status: 207,
        body: json!({
            "status": "COMPLETE",
            // Shuffled, and the results do not echo trace ids.
            "results": [
                { "id": "22", "new": false, "properties": { "salesforce_id": "001C" } },
                { "id": "11", "new": true, "properties": { "salesforce_id": "001A" } }
            ],
            "errors": [{
                "status": "error", "category": "VALIDATION_ERROR",
                "message": "Property \"nope\" does not exist",
                "context": { "objectWriteTraceId": ["t1"], "propertyName": ["nope"] }
            }]
        }),
    };
    let outcome = read_upsert_answer("2-1", "salesforce_id", &sent, &response);
    assert_eq!(
        outcome.succeeded,
        [
            Written {
                id_value: "001A".into(),
                hubspot_id: "11".into(),
                created: true
            },
            Written {
                id_value: "001C".into(),
                hubspot_id: "22".into(),
                created: false
            }
        ]
    );
    assert_eq!(outcome.failed.len(), 1);
    let failure = &outcome.failed[0];
    assert_eq!(failure.id_value, "001B");
    assert!(!failure.retryable);
    assert!(failure.message.contains("`nope`"), "{}", failure.message);
    assert!(failure.message.contains("sf2hs schema ensure"));
}

#[test]
fn a_2xx_without_results_or_errors_fails_every_input() {
    let sent = group(&["001A", "001B"]);
    let response = ApiResponse {
        status: 200,
        body: json!({ "status": "COMPLETE", "results": [] }),
    };
    let outcome = read_upsert_answer("2-1", "salesforce_id", &sent, &response);
    assert!(outcome.succeeded.is_empty());
    assert_eq!(outcome.failed.len(), 2);
    assert!(outcome.failed[0].message.contains("silent no-op"));
}

#[test]
fn errors_without_trace_ids_match_by_ids_and_transient_ones_retry() {
    let sent = group(&["001A", "001B"]);
    let response = ApiResponse {
        status: 207,
        body: json!({
            "results": [{ "id": "1", "properties": { "salesforce_id": "001a" } }],
            "errors": [{ "category": "RATE_LIMITS", "message": "slow down",
                         "context": { "ids": ["001B"] } }]
        }),
    };
    let outcome = read_upsert_answer("2-1", "salesforce_id", &sent, &response);
    // HubSpot may return a unique value in another case.
    assert_eq!(outcome.succeeded[0].id_value, "001A");
    assert_eq!(outcome.failed[0].id_value, "001B");
    assert!(outcome.failed[0].retryable);
}

fn rejected(message: &str) -> HubSpotError {
    HubSpotError::Rejected {
        status: 400,
        category: Some("VALIDATION_ERROR".into()),
        message: message.into(),
        correlation_id: None,
    }
}

#[tokio::test]
async fn bisection_isolates_each_bad_input() {
    let calls = RefCell::new(Vec::new());
    let items: Vec<u32> = (0..16).collect();
    let bad = [3u32, 12];
    let results = send_with_bisection(items, |group: &[u32]| {
        calls.borrow_mut().push(group.len());
        let refused = group.iter().any(|i| bad.contains(i));
        async move {
            if refused {
                Err(rejected("Property values were not valid"))
            } else {
                Ok(ApiResponse {
                    status: 200,
                    body: Value::Null,
                })
            }
        }
    })
    .await
    .expect("bisection ends");
    let mut refused: Vec<u32> = Vec::new();
    let mut answered = 0;
    for result in results {
        match result {
            GroupResult::Refused(item, _) => refused.push(item),
            GroupResult::Answered(group, _) => answered += group.len(),
        }
    }
    refused.sort_unstable();
    assert_eq!(refused, bad);
    assert_eq!(answered, 14);
    // 1 + 2 + 4 + 4 + 4 calls: each bad input costs about 2·log2(n) calls, not n.
    assert!(calls.borrow().len() <= 15, "{:?}", calls.borrow());
    assert!(calls.borrow().iter().all(|n| *n <= 16));
}

#[tokio::test]
async fn whole_request_400s_are_not_bisected() {
    let calls = RefCell::new(0);
    let result = send_with_bisection(vec![1, 2, 3, 4], |_: &[i32]| {
        *calls.borrow_mut() += 1;
        async {
            Err(rejected(
                "Unable to perform update/upsert by non-unique 2-1 property name in portal ID 1",
            ))
        }
    })
    .await;
    assert!(result.is_err());
    assert_eq!(*calls.borrow(), 1);
    let typed = whole_request_error(
        rejected("Unable to perform update/upsert by non-unique 2-1 property name"),
        "2-1",
        "name",
    );
    assert!(matches!(typed, HubSpotError::IdPropertyNotUnique { .. }));
}
