//! Nulls in outbound messages. A notification leaves out a field that is null in Salesforce,
//! exactly as it leaves out a field its action does not send (platform-behaviours.md S2); taken
//! as it is, a value cleared in Salesforce would stay in HubSpot for ever. The action's
//! definition (the Tooling API's `WorkflowOutboundMessage`, by the notification's `ActionId`)
//! says which fields it sends: each of those the mapping reads and the notification lacks is
//! null. When the definition cannot be read, the record is read from Salesforce instead.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::domain::{Change, ChangeKind, ChangeSource, FieldSnapshot};
use crate::mapping::Mapping;
use crate::mapping::objects::compound_component_field;
use crate::mapping::reads::mapped_fields;
use crate::ports::SalesforceRecords;

use super::Worker;
use super::item::Item;

/// How long a definition is trusted: an admin may add or remove a field from an action.
const DEFINITION_LIFETIME: Duration = Duration::from_secs(300);

/// When an action's definition was read, and the fields it sends (`None`: no such action).
type Definition = (Instant, Option<Vec<String>>);

/// The fields each outbound-message action sends, as last read, by action id.
#[derive(Default)]
pub(super) struct OutboundDefinitions {
    read: Mutex<HashMap<String, Definition>>,
}

impl OutboundDefinitions {
    fn cached(&self, action_id: &str) -> Option<Option<Vec<String>>> {
        let read = self.read.lock().unwrap_or_else(|p| p.into_inner());
        read.get(action_id)
            .filter(|(at, _)| at.elapsed() < DEFINITION_LIFETIME)
            .map(|(_, fields)| fields.clone())
    }

    fn keep(&self, action_id: &str, fields: Option<Vec<String>>) {
        let mut read = self.read.lock().unwrap_or_else(|p| p.into_inner());
        read.insert(action_id.to_owned(), (Instant::now(), fields));
    }

    /// The fields action `action_id` sends: as last read while that is fresh, else read from
    /// `salesforce` (an answer is kept, a failure is not). `None` when it cannot be known.
    async fn sent_by(
        &self,
        salesforce: &dyn SalesforceRecords,
        action_id: &str,
    ) -> Option<Vec<String>> {
        if let Some(fields) = self.cached(action_id) {
            return fields;
        }
        match salesforce.outbound_message_fields(action_id).await {
            Ok(fields) => {
                if fields.is_none() {
                    tracing::warn!(action = %action_id, "no outbound-message action of this id: its records are read instead");
                }
                self.keep(action_id, fields.clone());
                fields
            }
            Err(e) => {
                tracing::warn!(action = %action_id, error = %e, "cannot read the outbound-message action (Tooling API): its records are read instead");
                None
            }
        }
    }
}

/// The action of an upsert an outbound message carried.
fn outbound_action(change: &Change) -> Option<&str> {
    match (&change.kind, &change.source) {
        (ChangeKind::Upsert { .. }, ChangeSource::OutboundMessage { action_id, .. }) => {
            Some(action_id)
        }
        _ => None,
    }
}

fn has_key(fields: &FieldSnapshot, name: &str) -> bool {
    fields.keys().any(|k| k.eq_ignore_ascii_case(name))
}

/// Whether the action sends `field` and the notification left it out. A compound's component
/// (`BillingAddress.City`) is sent when the action lists the compound or the component's own
/// field (`BillingCity`), and left out when neither the compound's value holds it nor a field
/// of either name is there; a null compound makes its components null already.
fn sent_but_left_out(sent: &[String], fields: &FieldSnapshot, field: &str) -> bool {
    let listed = |name: &str| sent.iter().any(|s| s.eq_ignore_ascii_case(name));
    let Some((compound, component)) = field.split_once('.') else {
        return listed(field) && !has_key(fields, field);
    };
    let own = compound_component_field(compound, component);
    if !(listed(compound) || listed(&own)) {
        return false;
    }
    let in_compound = match fields
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(compound))
        .map(|(_, v)| v)
    {
        Some(Value::Object(parts)) => parts.keys().any(|k| k.eq_ignore_ascii_case(component)),
        Some(_) => true,
        None => false,
    };
    !(in_compound || has_key(fields, &own) || has_key(fields, field))
}

impl Worker {
    /// Completes the states outbound messages carried with the nulls they left out; marks the
    /// records whose action's definition cannot be read to be read first (`Item::read_first`).
    pub(super) async fn complete_outbound_states(&self, mapping: &Mapping, items: &mut [Item]) {
        let mut actions: Vec<String> = items
            .iter()
            .filter(|i| i.open())
            .flat_map(|i| std::iter::once(&i.message).chain(&i.superseded))
            .filter_map(|m| outbound_action(&m.change).map(str::to_owned))
            .collect();
        actions.sort();
        actions.dedup();
        let mut definitions: HashMap<String, Option<Vec<String>>> = HashMap::new();
        for action in actions {
            let fields = self
                .outbound
                .sent_by(self.ports.salesforce.as_ref(), &action)
                .await;
            definitions.insert(action, fields);
        }
        // The fields the mapping reads, a compound's components (`BillingAddress.City`) too.
        let read: Vec<&str> = mapped_fields(mapping).collect();
        for item in items.iter_mut().filter(|i| i.open()) {
            let messages = std::iter::once(&mut item.message).chain(item.superseded.iter_mut());
            for message in messages {
                let sent = outbound_action(&message.change)
                    .and_then(|action| definitions.get(action))
                    .and_then(Option::as_ref);
                let (Some(sent), ChangeKind::Upsert { fields }) = (sent, &mut message.change.kind)
                else {
                    continue;
                };
                for field in &read {
                    if sent_but_left_out(sent, fields, field) {
                        fields.insert((*field).to_owned(), Value::Null);
                    }
                }
            }
            // The state written is the newest message's: without its action's definition, it
            // is read. (A superseded one only takes part in ties, where a difference is read.)
            item.read_first = outbound_action(&item.message.change)
                .is_some_and(|action| !matches!(definitions.get(action), Some(Some(_))));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::FieldSnapshot;
    use crate::domain::{ChangeKind, ChangeSource};
    use crate::worker::Disposition;
    use crate::worker::fakes::{Rig, fields, id, only, stamp};

    const ACTION: &str = "04k5f000000AbCdAAK";

    /// An invoice's outbound message from `ACTION`, with only `sent` fields present.
    fn notification(rig: &Rig, sent: FieldSnapshot, at: i64) -> crate::worker::InboundMessage {
        let mut change = rig.change(
            "Invoice__c",
            &id("a01", 1),
            ChangeKind::Upsert { fields: sent },
            Some(stamp(at)),
        );
        change.source = ChangeSource::OutboundMessage {
            notification_id: "04l5f000000AbCdAAK".into(),
            action_id: ACTION.into(),
        };
        rig.message(change)
    }

    #[tokio::test]
    async fn a_field_the_action_sends_and_the_notification_leaves_out_is_cleared() {
        let rig = Rig::new().await;
        rig.salesforce
            .state()
            .outbound_messages
            .insert(ACTION.into(), vec!["Name".into(), "Amount__c".into()]);
        rig.process(vec![rig.invoice(1, "INV-1", None, stamp(1))])
            .await;
        let record = id("a01", 1).as_str().to_owned();
        assert_eq!(
            rig.hubspot
                .property("invoice", &record, "amount")
                .as_deref(),
            Some("10")
        );

        // Amount cleared in Salesforce: the notification has no Amount__c at all.
        let sent = FieldSnapshot::from([("Name".to_owned(), json!("INV-1"))]);
        let result = rig.process(vec![notification(&rig, sent, 2)]).await;
        assert_eq!(only(&result), &Disposition::Done);
        assert_eq!(
            rig.hubspot
                .property("invoice", &record, "amount")
                .as_deref(),
            Some(""),
            "cleared in HubSpot as in Salesforce"
        );
        assert_eq!(
            rig.salesforce.state().calls,
            ["outbound_message"],
            "no record read"
        );
    }

    #[tokio::test]
    async fn a_field_the_action_does_not_send_is_left_alone() {
        let rig = Rig::new().await;
        rig.salesforce
            .state()
            .outbound_messages
            .insert(ACTION.into(), vec!["Name".into()]);
        rig.process(vec![rig.invoice(1, "INV-1", None, stamp(1))])
            .await;
        let sent = FieldSnapshot::from([("Name".to_owned(), json!("INV-2"))]);
        rig.process(vec![notification(&rig, sent, 2)]).await;
        let record = id("a01", 1).as_str().to_owned();
        assert_eq!(
            rig.hubspot.property("invoice", &record, "name").as_deref(),
            Some("INV-2")
        );
        assert_eq!(
            rig.hubspot
                .property("invoice", &record, "amount")
                .as_deref(),
            Some("10")
        );
    }

    #[test]
    fn a_compounds_component_left_out_is_null_and_one_sent_is_kept() {
        let sent = vec!["Name".to_owned(), "BillingAddress".to_owned()];
        let empty = FieldSnapshot::new();
        assert!(super::sent_but_left_out(
            &sent,
            &empty,
            "BillingAddress.City"
        ));
        let partial =
            FieldSnapshot::from([("BillingAddress".to_owned(), json!({ "Street": "1 Rue" }))]);
        assert!(super::sent_but_left_out(
            &sent,
            &partial,
            "BillingAddress.City"
        ));
        assert!(!super::sent_but_left_out(
            &sent,
            &partial,
            "BillingAddress.Street"
        ));
        let null = FieldSnapshot::from([("BillingAddress".to_owned(), json!(null))]);
        assert!(
            !super::sent_but_left_out(&sent, &null, "BillingAddress.City"),
            "null already"
        );
        // Listed by the component's own field.
        let own = vec!["BillingCity".to_owned()];
        assert!(super::sent_but_left_out(
            &own,
            &empty,
            "BillingAddress.City"
        ));
        let flat = FieldSnapshot::from([("BillingCity".to_owned(), json!("Lyon"))]);
        assert!(!super::sent_but_left_out(
            &own,
            &flat,
            "BillingAddress.City"
        ));
        // Not sent at all: left alone.
        assert!(!super::sent_but_left_out(
            &["Name".to_owned()],
            &empty,
            "BillingAddress.City"
        ));
    }

    #[tokio::test]
    async fn without_the_actions_definition_the_record_is_read() {
        let rig = Rig::new().await;
        rig.salesforce
            .state()
            .live
            .insert(id("a01", 1), fields("Read", None, stamp(2)));
        let sent = FieldSnapshot::from([("Name".to_owned(), json!("Carried"))]);
        rig.process(vec![notification(&rig, sent, 2)]).await;
        let record = id("a01", 1).as_str().to_owned();
        assert_eq!(
            rig.hubspot.property("invoice", &record, "name").as_deref(),
            Some("Read")
        );
        assert_eq!(
            rig.salesforce.state().calls,
            ["outbound_message", "retrieve"]
        );
    }
}
