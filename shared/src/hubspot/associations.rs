//! Record associations (hubspot.md §3): association types from the labels endpoint (cached per
//! object pair; they are directional), labeled batch create, and the default association.

use std::collections::HashMap;

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::batch::chunked;
use super::client::HubSpotClient;
use super::errors::HubSpotError;
use crate::mapping::HubSpotObjectRef;

/// Association inputs per call: HubSpot documents no limit; hubspot.md §3.1 says keep to ≤100
/// until tested.
pub const MAX_ASSOCIATION_INPUTS: usize = 100;

/// One association type from one object type to another.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssociationType {
    /// `HUBSPOT_DEFINED`, `USER_DEFINED` or `INTEGRATOR_DEFINED`.
    pub category: String,
    pub type_id: u32,
    #[serde(default)]
    pub label: Option<String>,
}

/// One association to create between two records (HubSpot record ids).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AssociationInput {
    pub from_id: String,
    pub to_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssociationFailure {
    pub input: AssociationInput,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssociationOutcome {
    pub succeeded: Vec<AssociationInput>,
    pub failed: Vec<AssociationFailure>,
}

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn first_text(value: &Value, key: &str) -> Option<String> {
    match value.get(key) {
        Some(Value::Array(items)) => items.first().and_then(text_of),
        Some(other) => text_of(other),
        None => None,
    }
}

/// `(from, to)` of a result in either answer shape: labeled create
/// (`fromObjectId`/`toObjectId`) or default (`from.id`/`to.id`).
fn result_pair(result: &Value) -> Option<(String, String)> {
    let from = result.get("fromObjectId").and_then(text_of).or_else(|| {
        result
            .get("from")
            .and_then(|f| f.get("id"))
            .and_then(text_of)
    })?;
    let to = result
        .get("toObjectId")
        .and_then(text_of)
        .or_else(|| result.get("to").and_then(|t| t.get("id")).and_then(text_of))?;
    Some((from, to))
}

/// Matches an association answer to its inputs by record ids.
fn read_association_answer(inputs: &[AssociationInput], body: &Value) -> AssociationOutcome {
    let mut settled: HashMap<&AssociationInput, Result<(), String>> = HashMap::new();
    for result in body["results"].as_array().into_iter().flatten() {
        if let Some((from, to)) = result_pair(result)
            && let Some(input) = inputs.iter().find(|i| i.from_id == from && i.to_id == to)
        {
            settled.insert(input, Ok(()));
        }
    }
    let mut unmatched = Vec::new();
    for error in body["errors"].as_array().into_iter().flatten() {
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("HubSpot refused this association")
            .to_owned();
        let context = error.get("context").cloned().unwrap_or(Value::Null);
        let from = first_text(&context, "fromObjectId");
        let to = first_text(&context, "toObjectId");
        let ids: Vec<String> = match context.get("ids") {
            Some(Value::Array(items)) => items.iter().filter_map(text_of).collect(),
            _ => Vec::new(),
        };
        let mut matched = false;
        for input in inputs {
            let hit = match (&from, &to) {
                (Some(f), Some(t)) => input.from_id == *f && input.to_id == *t,
                _ => ids
                    .iter()
                    .any(|id| *id == input.from_id || *id == input.to_id),
            };
            if hit && !settled.get(input).is_some_and(Result::is_ok) {
                settled.insert(input, Err(message.clone()));
                matched = true;
            }
        }
        if !matched {
            unmatched.push(message);
        }
    }
    let mut outcome = AssociationOutcome::default();
    for input in inputs {
        match settled.remove(input) {
            Some(Ok(())) => outcome.succeeded.push(input.clone()),
            Some(Err(message)) => outcome.failed.push(AssociationFailure {
                input: input.clone(),
                message,
            }),
            None => outcome.failed.push(AssociationFailure {
                input: input.clone(),
                message: if unmatched.is_empty() {
                    "HubSpot's answer has no result and no error for this association".into()
                } else {
                    unmatched.join("; ")
                },
            }),
        }
    }
    outcome
}

/// The pair's type to use: the one with `label`, or the unlabeled one (preferring
/// USER_DEFINED, which custom objects need, then HUBSPOT_DEFINED).
pub fn pick_association_type<'a>(
    types: &'a [AssociationType],
    label: Option<&str>,
) -> Option<&'a AssociationType> {
    match label {
        Some(wanted) => types.iter().find(|t| {
            t.label
                .as_deref()
                .is_some_and(|l| l.eq_ignore_ascii_case(wanted))
        }),
        None => {
            let unlabeled = || types.iter().filter(|t| t.label.is_none());
            unlabeled()
                .find(|t| t.category == "USER_DEFINED")
                .or_else(|| unlabeled().find(|t| t.category == "HUBSPOT_DEFINED"))
                .or_else(|| unlabeled().next())
        }
    }
}

impl HubSpotClient {
    /// Every association type from `from` to `to`, read once per pair and cached.
    pub async fn association_types(
        &self,
        from: &HubSpotObjectRef,
        to: &HubSpotObjectRef,
    ) -> Result<Vec<AssociationType>, HubSpotError> {
        let key = (from.as_str().to_owned(), to.as_str().to_owned());
        if let Some(types) = self.cached_association_types(&key) {
            return Ok(types);
        }
        let path = self.paths().association_labels(from.as_str(), to.as_str());
        let response = self.send(Method::GET, &path, None).await?;
        let types: Vec<AssociationType> = serde_json::from_value(response.body["results"].clone())
            .map_err(|e| HubSpotError::InvalidResponse {
                reason: format!("association labels: {e}"),
            })?;
        self.inner
            .association_types
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, types.clone());
        Ok(types)
    }

    fn cached_association_types(&self, key: &(String, String)) -> Option<Vec<AssociationType>> {
        self.inner
            .association_types
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    /// The association type from `from` to `to` with `label`, or the pair's unlabeled type.
    pub async fn association_type(
        &self,
        from: &HubSpotObjectRef,
        to: &HubSpotObjectRef,
        label: Option<&str>,
    ) -> Result<AssociationType, HubSpotError> {
        let types = self.association_types(from, to).await?;
        pick_association_type(&types, label)
            .cloned()
            .ok_or_else(|| HubSpotError::Configuration {
                reason: format!(
                    "HubSpot defines no {} association type from `{from}` to `{to}`: add the \
                     association to the custom object's schema (associatedObjects), or fix the \
                     mapping's association label",
                    label
                        .map(|l| format!("`{l}`"))
                        .unwrap_or_else(|| "unlabeled".into()),
                ),
            })
    }

    /// Creates associations of one type between existing records (hubspot.md §3.1 batch
    /// create). Refused pairs fail alone; the call fails only as a whole request.
    pub async fn associate(
        &self,
        from: &HubSpotObjectRef,
        to: &HubSpotObjectRef,
        association_type: &AssociationType,
        pairs: Vec<AssociationInput>,
    ) -> Result<AssociationOutcome, HubSpotError> {
        let path = self
            .paths()
            .association_batch_create(from.as_str(), to.as_str());
        let mut outcome = AssociationOutcome::default();
        for chunk in chunked(dedup(pairs), MAX_ASSOCIATION_INPUTS) {
            let inputs: Vec<Value> = chunk
                .iter()
                .map(|p| {
                    json!({
                        "from": { "id": p.from_id },
                        "to": { "id": p.to_id },
                        "types": [{
                            "associationCategory": association_type.category,
                            "associationTypeId": association_type.type_id,
                        }],
                    })
                })
                .collect();
            let response = self
                .send(Method::POST, &path, Some(&json!({ "inputs": inputs })))
                .await?;
            let part = read_association_answer(&chunk, &response.body);
            outcome.succeeded.extend(part.succeeded);
            outcome.failed.extend(part.failed);
        }
        Ok(outcome)
    }

    /// Creates the pair's default (unlabeled) association (hubspot.md §3.1 batch default).
    pub async fn associate_default(
        &self,
        from: &HubSpotObjectRef,
        to: &HubSpotObjectRef,
        pairs: Vec<AssociationInput>,
    ) -> Result<AssociationOutcome, HubSpotError> {
        let path = self
            .paths()
            .association_batch_default(from.as_str(), to.as_str());
        let mut outcome = AssociationOutcome::default();
        for chunk in chunked(dedup(pairs), MAX_ASSOCIATION_INPUTS) {
            let inputs: Vec<Value> = chunk
                .iter()
                .map(|p| json!({ "from": { "id": p.from_id }, "to": { "id": p.to_id } }))
                .collect();
            let response = self
                .send(Method::POST, &path, Some(&json!({ "inputs": inputs })))
                .await?;
            let part = read_association_answer(&chunk, &response.body);
            outcome.succeeded.extend(part.succeeded);
            outcome.failed.extend(part.failed);
        }
        Ok(outcome)
    }
}

/// Inputs per association batch read (hubspot.md §3.1: ≤ 1000 since 2025-02-10).
const MAX_ASSOCIATION_READ_INPUTS: usize = 1000;

impl HubSpotClient {
    /// The records each of `from_ids` is associated with in `to`, of any type (hubspot.md §3.1
    /// batch read). Records HubSpot does not have are absent from the answer.
    pub async fn associated_ids(
        &self,
        from: &HubSpotObjectRef,
        to: &HubSpotObjectRef,
        from_ids: Vec<String>,
    ) -> Result<HashMap<String, Vec<String>>, HubSpotError> {
        let path = self
            .paths()
            .association_batch_read(from.as_str(), to.as_str());
        let mut found: HashMap<String, Vec<String>> = HashMap::new();
        // (record, the cursor of its next page): a record with many associations answers in
        // pages, the next one asked for with `after` (platform-behaviours.md H3).
        let mut asks: Vec<(String, Option<String>)> =
            from_ids.into_iter().map(|id| (id, None)).collect();
        while !asks.is_empty() {
            let mut next = Vec::new();
            for chunk in chunked(std::mem::take(&mut asks), MAX_ASSOCIATION_READ_INPUTS) {
                let inputs: Vec<Value> = chunk
                    .iter()
                    .map(|(id, after)| match after {
                        Some(after) => json!({ "id": id, "after": after }),
                        None => json!({ "id": id }),
                    })
                    .collect();
                let response = self
                    .send(Method::POST, &path, Some(&json!({ "inputs": inputs })))
                    .await?;
                for result in response.body["results"].as_array().into_iter().flatten() {
                    let Some(from_id) = id_text(&result["from"]["id"]) else {
                        continue;
                    };
                    found.entry(from_id.clone()).or_default().extend(
                        result["to"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|t| id_text(&t["toObjectId"])),
                    );
                    if let Some(after) = result["paging"]["next"]["after"].as_str() {
                        next.push((from_id, Some(after.to_owned())));
                    }
                }
            }
            asks = next;
        }
        Ok(found)
    }

    /// Removes the association of `association_type` between each pair, and no other type:
    /// labels users added to the same pair stay (hubspot.md §3.1 batch archive labels;
    /// platform-behaviours.md H3).
    pub async fn dissociate_type(
        &self,
        from: &HubSpotObjectRef,
        to: &HubSpotObjectRef,
        association_type: &AssociationType,
        pairs: Vec<AssociationInput>,
    ) -> Result<(), HubSpotError> {
        let path = self
            .paths()
            .association_batch_labels_archive(from.as_str(), to.as_str());
        let inputs: Vec<Value> = dedup(pairs)
            .into_iter()
            .map(|pair| {
                json!({
                    "from": { "id": pair.from_id },
                    "to": { "id": pair.to_id },
                    "types": [{
                        "associationCategory": association_type.category,
                        "associationTypeId": association_type.type_id,
                    }],
                })
            })
            .collect();
        for chunk in chunked(inputs, MAX_ASSOCIATION_INPUTS) {
            self.send(Method::POST, &path, Some(&json!({ "inputs": chunk })))
                .await?;
        }
        Ok(())
    }
}

/// A HubSpot id as text, whether the answer gives it as a string or a number.
fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn dedup(pairs: Vec<AssociationInput>) -> Vec<AssociationInput> {
    let mut seen = std::collections::HashSet::new();
    pairs
        .into_iter()
        .filter(|p| seen.insert(p.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(category: &str, type_id: u32, label: Option<&str>) -> AssociationType {
        AssociationType {
            category: category.into(),
            type_id,
            label: label.map(str::to_owned),
        }
    }

    #[test]
    fn unlabeled_user_defined_type_is_the_default_pick() {
        let types = [
            kind("USER_DEFINED", 7, Some("Billing")),
            kind("HUBSPOT_DEFINED", 1, None),
            kind("USER_DEFINED", 5, None),
        ];
        assert_eq!(
            pick_association_type(&types, None).map(|t| t.type_id),
            Some(5)
        );
        assert_eq!(
            pick_association_type(&types, Some("billing")).map(|t| t.type_id),
            Some(7)
        );
        assert!(pick_association_type(&types, Some("Other")).is_none());
    }

    #[test]
    fn answers_match_by_record_ids_in_both_shapes() {
        let inputs = [
            AssociationInput {
                from_id: "1".into(),
                to_id: "10".into(),
            },
            AssociationInput {
                from_id: "2".into(),
                to_id: "20".into(),
            },
        ];
        let body = json!({
            "results": [{ "fromObjectId": 1, "toObjectId": 10, "labels": [] }],
            "errors": [{ "category": "OBJECT_NOT_FOUND", "message": "No company with id 20 exists",
                         "context": { "ids": ["20"] } }]
        });
        let outcome = read_association_answer(&inputs, &body);
        assert_eq!(outcome.succeeded, [inputs[0].clone()]);
        assert_eq!(outcome.failed[0].input, inputs[1]);
        let default_shape = json!({ "results": [
            { "from": { "id": "2" }, "to": { "id": "20" } },
            { "from": { "id": "1" }, "to": { "id": "10" } }
        ]});
        assert_eq!(
            read_association_answer(&inputs, &default_shape)
                .succeeded
                .len(),
            2
        );
    }
}
