//! A record of the AWS requests made through a connection: which operation, on which resource,
//! how many times. Tests compare it with the IAM grants of the SAM template (what the code
//! really calls, not a list kept by hand), and benchmarks count it per change for the cost model.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use serde_json::Value;

use super::dynamodb::TABLE_SHAPE;
use super::write_units::{WireItem, put_units, refused_units};

/// One kind of request: the IAM action it needs and the resource it names (a table, a queue's
/// URL or name, a secret's id).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AwsCall {
    /// `service:Operation` as IAM spells it, e.g. `dynamodb:BatchGetItem`, `sqs:SendMessage`.
    pub action: String,
    /// The API operation sent, e.g. `SendMessageBatch` (authorised as `sqs:SendMessage`).
    pub operation: String,
    pub resource: String,
}

/// How often a kind of request was sent, and the items those requests carried (the entries of
/// a batch, 1 for any other request): SQS bills requests, DynamoDB bills items.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallCount {
    pub requests: u64,
    pub items: u64,
    /// DynamoDB write units billed, table and indexes (`write_units`): puts sized from the
    /// item sent and the item replaced (a `PutItem`'s `ALL_OLD` answer; a batch's puts are new
    /// items); an update or delete is counted as one unit, not sized.
    pub write_units: u64,
}

/// The requests recorded so far, each attempt counted (a retried request is billed again).
#[derive(Debug, Clone, Default)]
pub struct AwsCallLog {
    calls: Arc<Mutex<BTreeMap<AwsCall, CallCount>>>,
}

impl AwsCallLog {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every kind of request made, with its count.
    pub fn snapshot(&self) -> BTreeMap<AwsCall, CallCount> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Requests made, by operation (`SQS SendMessageBatch`), whatever the resource.
    pub fn by_operation(&self) -> BTreeMap<String, CallCount> {
        let mut counts: BTreeMap<String, CallCount> = BTreeMap::new();
        for (call, n) in self.snapshot() {
            let service = call.action.split(':').next().unwrap_or_default().to_owned();
            let count = counts
                .entry(format!("{service}:{}", call.operation))
                .or_default();
            count.requests += n.requests;
            count.items += n.items;
            count.write_units += n.write_units;
        }
        counts
    }

    /// All requests made.
    pub fn total(&self) -> u64 {
        self.snapshot().values().map(|c| c.requests).sum()
    }

    fn record(&self, call: AwsCall, items: u64) {
        let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        let count = calls.entry(call).or_default();
        count.requests += 1;
        count.items += items;
    }

    fn add_units(&self, call: AwsCall, units: u64) {
        let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        calls.entry(call).or_default().write_units += units;
    }

    pub(crate) fn interceptor(&self) -> CallRecorder {
        CallRecorder { log: self.clone() }
    }
}

/// The IAM action an operation needs. IAM names most actions after their operation; SQS's batch
/// operations are the exception: "the permissions for the batch actions are the same as for the
/// single actions" (SQS Developer Guide, *Amazon SQS API permissions*), so `SendMessageBatch` is
/// `sqs:SendMessage`.
pub fn iam_action(service: &str, operation: &str) -> String {
    let prefix: String = service
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase();
    let operation = match (prefix.as_str(), operation) {
        ("sqs", op) => op.strip_suffix("Batch").unwrap_or(op),
        (_, op) => op,
    };
    format!("{prefix}:{operation}")
}

/// The resources a request body names, each with the items the request carries for it.
/// DynamoDB, SQS (JSON protocol) and Secrets Manager all send a JSON body; batch operations on
/// DynamoDB name their tables as `RequestItems` keys, SQS's carry `Entries`.
fn resources(body: &[u8]) -> Vec<(String, u64)> {
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return vec![(String::new(), 1)];
    };
    let entries = body
        .get("Entries")
        .and_then(Value::as_array)
        .map_or(1, |e| e.len() as u64);
    let mut named: Vec<(String, u64)> = ["TableName", "QueueUrl", "QueueName", "SecretId"]
        .iter()
        .filter_map(|key| body.get(*key).and_then(Value::as_str))
        .map(|name| (name.to_owned(), entries))
        .collect();
    if let Some(tables) = body.get("RequestItems").and_then(Value::as_object) {
        // BatchWriteItem: a list of requests per table; BatchGetItem: `{"Keys": [...]}`.
        named.extend(tables.iter().map(|(table, items)| {
            let list = items.as_array().or_else(|| items["Keys"].as_array());
            (table.clone(), list.map_or(1, |l| l.len() as u64))
        }));
    }
    if named.is_empty() {
        named.push((String::new(), 1));
    }
    named
}

/// A `PutItem` sent, waiting for its answer to say what it replaced.
#[derive(Debug, Clone)]
struct SentPut {
    call: AwsCall,
    item: WireItem,
}

impl Storable for SentPut {
    type Storer = StoreReplace<Self>;
}

/// The write units of a request that can be sized from the request alone: a batch's puts
/// (new items: the sync log's keys are unique) and, unsized, one per delete or update.
fn request_units(operation: &str, body: &Value, table: &str) -> u64 {
    match operation {
        "BatchWriteItem" => body["RequestItems"][table]
            .as_array()
            .into_iter()
            .flatten()
            .map(|request| match request["PutRequest"]["Item"].as_object() {
                Some(item) => put_units(&TABLE_SHAPE, None, item),
                None => 1,
            })
            .sum(),
        "UpdateItem" | "DeleteItem" => 1,
        _ => 0,
    }
}

/// The write units of a `PutItem` from its answer: what it replaced (`Attributes`), or the
/// item that failed its condition (`Item`); nothing for any other failure (not billed).
fn answered_put_units(sent: &WireItem, answer: &Value, succeeded: bool) -> u64 {
    let old = |name: &str| answer[name].as_object().filter(|item| !item.is_empty());
    if succeeded {
        put_units(&TABLE_SHAPE, old("Attributes"), sent)
    } else if answer["__type"]
        .as_str()
        .is_some_and(|t| t.ends_with("ConditionalCheckFailedException"))
    {
        refused_units(old("Item"), sent)
    } else {
        0
    }
}

/// The interceptor that feeds an [`AwsCallLog`]: it reads each request just before it is sent.
#[derive(Debug, Clone)]
pub(crate) struct CallRecorder {
    log: AwsCallLog,
}

impl Intercept for CallRecorder {
    fn name(&self) -> &'static str {
        "sf2hs-call-recorder"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(metadata) = cfg.load::<Metadata>() else {
            return Ok(());
        };
        let action = iam_action(metadata.service(), metadata.name());
        let operation = metadata.name().to_owned();
        let body = context.request().body().bytes().unwrap_or_default();
        let dynamodb = action.starts_with("dynamodb:");
        let parsed: Value = if dynamodb {
            serde_json::from_slice(body).unwrap_or_default()
        } else {
            Value::Null
        };
        for (resource, items) in resources(body) {
            let call = AwsCall {
                action: action.clone(),
                operation: operation.clone(),
                resource,
            };
            self.log.record(call.clone(), items);
            if !dynamodb {
                continue;
            }
            if let ("PutItem", Some(item)) = (operation.as_str(), parsed["Item"].as_object()) {
                cfg.interceptor_state().store_put(SentPut {
                    call: call.clone(),
                    item: item.clone(),
                });
            }
            let units = request_units(&operation, &parsed, &call.resource);
            if units > 0 {
                self.log.add_units(call, units);
            }
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(sent) = cfg.load::<SentPut>().cloned() else {
            return Ok(());
        };
        let response = context.response();
        let answer: Value =
            serde_json::from_slice(response.body().bytes().unwrap_or_default()).unwrap_or_default();
        let units = answered_put_units(&sent.item, &answer, response.status().is_success());
        self.log.add_units(sent.call, units);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqs_batch_operations_need_the_single_action() {
        assert_eq!(iam_action("SQS", "SendMessageBatch"), "sqs:SendMessage");
        assert_eq!(
            iam_action("SQS", "ChangeMessageVisibilityBatch"),
            "sqs:ChangeMessageVisibility"
        );
        assert_eq!(iam_action("SQS", "GetQueueUrl"), "sqs:GetQueueUrl");
        assert_eq!(
            iam_action("DynamoDB", "BatchGetItem"),
            "dynamodb:BatchGetItem"
        );
        assert_eq!(
            iam_action("Secrets Manager", "GetSecretValue"),
            "secretsmanager:GetSecretValue"
        );
    }

    #[test]
    fn a_request_names_its_resources() {
        let one = |name: &str, items: u64| vec![(name.to_owned(), items)];
        assert_eq!(resources(br#"{"TableName":"t","Key":{}}"#), one("t", 1));
        assert_eq!(
            resources(br#"{"RequestItems":{"a":[{},{}],"b":{"Keys":[{},{},{}]}}}"#),
            vec![("a".to_owned(), 2), ("b".to_owned(), 3)]
        );
        assert_eq!(
            resources(br#"{"QueueUrl":"http://q/1/x","Entries":[{},{},{}]}"#),
            one("http://q/1/x", 3)
        );
        assert_eq!(resources(b"not json"), one("", 1));
    }
}
