//! Writing the mapped states to HubSpot: one batch upsert keyed by the id property.

use crate::mapping::Mapping;
use crate::ports::{RemoteError, UpsertRecord, WriteOutcome};

use super::Worker;
use super::item::Item;

impl Worker {
    pub(super) async fn write_upserts(&self, mapping: &Mapping, items: &mut [Item]) {
        let records: Vec<UpsertRecord> = items
            .iter()
            .filter(|i| i.outcome.is_none())
            .filter_map(|i| i.mapped.as_ref())
            .map(|m| UpsertRecord {
                id_value: m.record_id.as_str().to_owned(),
                properties: m.properties.clone(),
            })
            .collect();
        if records.is_empty() {
            return;
        }
        let written = self
            .ports
            .hubspot
            .upsert(&mapping.hubspot_target(), &mapping.id_property, &records)
            .await;
        if let Err(RemoteError::UnknownObject { .. }) = &written {
            self.forget_resolution(mapping).await;
        }
        for item in items
            .iter_mut()
            .filter(|i| i.outcome.is_none() && i.mapped.is_some())
        {
            let id = item.message.change.record_id.as_str().to_owned();
            match &written {
                Err(e) => {
                    item.outcome =
                        Some(self.remote_failure(&item.message, e, "writing it to HubSpot"))
                }
                Ok(outcomes) => match outcomes.get(&id) {
                    Some(WriteOutcome::Written {
                        hubspot_id,
                        created,
                    }) => {
                        // Not settled yet: associations and the index come next.
                        item.hubspot_id = Some(hubspot_id.clone());
                        item.created = *created;
                    }
                    Some(WriteOutcome::Failed {
                        message,
                        category,
                        property,
                        retryable,
                    }) => {
                        // HubSpot's category and property lead, for `sf2hs health` to group by.
                        let about: Vec<String> = category
                            .iter()
                            .cloned()
                            .chain(property.iter().map(|p| format!("property `{p}`")))
                            .collect();
                        let reason = if about.is_empty() {
                            format!("HubSpot refused the record: {message}")
                        } else {
                            format!(
                                "HubSpot refused the record ({}): {message}",
                                about.join(", ")
                            )
                        };
                        item.outcome = Some(if *retryable {
                            self.retry(&item.message, reason, self.settings.retry_delay)
                        } else {
                            self.failure(&item.message, reason)
                        });
                    }
                    None => {
                        item.outcome = Some(self.retry(
                            &item.message,
                            "HubSpot's answer did not mention this record".into(),
                            self.settings.retry_delay,
                        ))
                    }
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::ports::RemoteError;
    use crate::worker::Disposition;
    use crate::worker::fakes::{Rig, id, stamp};

    #[tokio::test]
    async fn a_refused_record_is_tried_again_and_the_rest_are_written() {
        let rig = Rig::new().await;
        rig.hubspot.state().refuse.insert(
            id("a01", 1).as_str().to_owned(),
            "amount is not a number".into(),
        );
        let result = rig
            .process(vec![
                rig.invoice(1, "Refused", None, stamp(1)),
                rig.invoice(2, "Written", None, stamp(1)),
            ])
            .await;
        assert_eq!(result.written, 1);
        let refused = result
            .dispositions
            .iter()
            .find_map(|(_, d)| match d {
                Disposition::Requeue { reason, change, .. } => Some((reason, change)),
                _ => None,
            })
            .expect("the refused record goes on as a copy");
        assert_eq!(
            refused.0,
            "HubSpot refused the record: amount is not a number"
        );
        assert_eq!(refused.1.prior_deliveries, 1, "the try is counted");
        assert!(rig.entry("Invoice__c", &id("a01", 1)).await.is_none());
    }

    #[tokio::test]
    async fn an_outage_retries_without_spending_tries() {
        let rig = Rig::new().await;
        rig.hubspot.state().outage = Some(RemoteError::Retryable {
            reason: "HubSpot answered 503".into(),
            after: Some(std::time::Duration::from_secs(7)),
        });
        let result = rig
            .process(vec![rig.invoice(1, "Later", None, stamp(1))])
            .await;
        assert_eq!(
            result.dispositions[0].1,
            Disposition::Retry {
                reason: "writing it to HubSpot: HubSpot answered 503".into(),
                delay: std::time::Duration::from_secs(7),
            }
        );
    }
}
