//! Outbound messages as Salesforce sends them (salesforce.md §1): SOAP 1.1 `notifications`
//! bodies shaped like the fixtures, at most 100 notifications per message, only the selected
//! fields, nulls omitted, values in enterprise-WSDL text; each message retried with growing
//! back-off until the answer is HTTP 2xx **with** `<Ack>true</Ack>` (a bare 200 is not an ack);
//! messages leave in no particular order and, optionally, some are sent twice.

use std::time::Duration;

use quick_xml::escape::escape;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

use super::super::SalesforceHandle;
use super::super::ids;
use super::super::values::as_text;
use super::SenderError;

pub const OUTBOUND_NS: &str = "http://soap.sforce.com/2005/09/outbound";
/// Salesforce puts at most 100 notifications in one message.
pub const MAX_NOTIFICATIONS_PER_MESSAGE: usize = 100;

/// One outbound-message action, as an admin defines it.
#[derive(Debug, Clone)]
pub struct OutboundMessageConfig {
    pub endpoint_url: String,
    pub object: String,
    /// Selected fields; `Id` is always sent.
    pub fields: Vec<String>,
    /// `04k…` id of the action.
    pub action_id: String,
    /// Sent only when "Send Session ID" is ticked; otherwise `<SessionId xsi:nil="true"/>`.
    pub session_id: Option<String>,
    /// 1..=100.
    pub max_notifications_per_message: usize,
    /// First retry delay; doubles up to `max_backoff` (Salesforce: 30 s … 2 h; tests: ms).
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Attempts per message before it is given up (Salesforce gives up after 24 hours).
    pub max_attempts: u32,
    /// Probability (0..1) that an acked message is delivered once more (at-least-once).
    pub duplicate_rate: f64,
    pub api_version: String,
    pub seed: u64,
    pub request_timeout: Duration,
}

impl OutboundMessageConfig {
    pub fn new(endpoint_url: &str, object: &str, fields: &[&str]) -> Self {
        Self {
            endpoint_url: endpoint_url.to_string(),
            object: object.to_string(),
            fields: fields.iter().map(|f| f.to_string()).collect(),
            action_id: ids::make_id("04k", "ak", 1),
            session_id: None,
            max_notifications_per_message: MAX_NOTIFICATIONS_PER_MESSAGE,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(200),
            max_attempts: 10,
            duplicate_rate: 0.0,
            api_version: "60.0".into(),
            seed: 0,
            request_timeout: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    Acked,
    /// The endpoint answered, but not with `Ack=true` (a fault, `Ack=false`, a bare 200…).
    NotAcked {
        status: u16,
        reason: String,
    },
    Transport(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct MessageDelivery {
    pub notification_ids: Vec<String>,
    pub record_ids: Vec<String>,
    pub attempts: Vec<AttemptOutcome>,
    pub acked: bool,
    /// Extra deliveries of the same message after it was acked.
    pub duplicates_sent: u32,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeliveryReport {
    pub messages: Vec<MessageDelivery>,
}

impl DeliveryReport {
    pub fn all_acked(&self) -> bool {
        self.messages.iter().all(|m| m.acked)
    }

    pub fn total_attempts(&self) -> usize {
        self.messages.iter().map(|m| m.attempts.len()).sum()
    }
}

/// True when `body` is a SOAP envelope whose `notificationsResponse` (outbound namespace)
/// holds `<Ack>true</Ack>`.
pub fn is_ack(body: &str) -> bool {
    let mut reader = NsReader::from_str(body);
    let mut in_response = false;
    let mut in_ack = false;
    let mut acked = false;
    loop {
        let Ok((ns, event)) = reader.read_resolved_event() else {
            return false;
        };
        let outbound = matches!(ns, ResolveResult::Bound(n) if n.as_ref() == OUTBOUND_NS);
        match event {
            Event::Start(e) => match e.local_name().as_ref() {
                "notificationsResponse" if outbound => in_response = true,
                "Ack" if outbound && in_response => in_ack = true,
                "Fault" => return false,
                _ => {}
            },
            Event::Text(t) if in_ack => {
                acked = t.xml10_content().trim() == "true";
            }
            Event::End(e) => match e.local_name().as_ref() {
                "Ack" => in_ack = false,
                "notificationsResponse" => in_response = false,
                _ => {}
            },
            Event::Eof => return acked,
            _ => {}
        }
    }
}

/// Sends outbound messages for records of one object, reading their state from the sandbox
/// at each attempt (Salesforce sends the latest state, not the state at queue time).
pub struct OutboundSender {
    config: OutboundMessageConfig,
    handle: SalesforceHandle,
    http: reqwest::Client,
    rng: SmallRng,
    next_notification: u64,
}

impl OutboundSender {
    pub fn new(
        handle: SalesforceHandle,
        config: OutboundMessageConfig,
    ) -> Result<Self, SenderError> {
        if config.max_notifications_per_message == 0
            || config.max_notifications_per_message > MAX_NOTIFICATIONS_PER_MESSAGE
        {
            return Err(SenderError::Config(format!(
                "max_notifications_per_message must be 1..={MAX_NOTIFICATIONS_PER_MESSAGE}"
            )));
        }
        if config.max_attempts == 0 {
            return Err(SenderError::Config(
                "max_attempts must be at least 1".into(),
            ));
        }
        let object = handle.object_definition(&config.object).ok_or_else(|| {
            SenderError::Config(format!("object {} is not defined", config.object))
        })?;
        for field in &config.fields {
            if object.field(field).is_none() {
                return Err(SenderError::Config(format!(
                    "field {field} does not exist on {}",
                    config.object
                )));
            }
        }
        // Salesforce sends outbound messages only from an action defined in its Setup, which
        // the Tooling API then lists with the fields it sends.
        handle
            .define_outbound_message(super::super::tooling::OutboundMessageDefinition {
                id: config.action_id.clone(),
                name: format!("sf2hs_{}", config.object.trim_end_matches("__c")),
                object: config.object.clone(),
                fields: config.fields.clone(),
                endpoint_url: config.endpoint_url.clone(),
            })
            .map_err(|e| SenderError::Config(format!("cannot define the action: {}", e.body)))?;
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .build()
            .map_err(|e| SenderError::Config(e.to_string()))?;
        let rng = SmallRng::seed_from_u64(config.seed);
        Ok(Self {
            config,
            handle,
            http,
            rng,
            next_notification: 0,
        })
    }

    /// Queues one notification per record id and delivers them: batched ≤ the per-message
    /// maximum, messages in shuffled order, each retried until acked or out of attempts.
    pub async fn send(&mut self, record_ids: &[String]) -> Result<DeliveryReport, SenderError> {
        let mut notifications: Vec<(String, String)> = Vec::new();
        for record_id in record_ids {
            self.next_notification += 1;
            notifications.push((
                ids::make_id("04l", "ak", self.next_notification),
                record_id.clone(),
            ));
        }
        let mut batches: Vec<Vec<(String, String)>> = notifications
            .chunks(self.config.max_notifications_per_message)
            .map(<[_]>::to_vec)
            .collect();
        // No ordering guarantee (salesforce.md §1.4).
        batches.shuffle(&mut self.rng);
        let mut report = DeliveryReport::default();
        for batch in batches {
            report.messages.push(self.deliver(batch).await?);
        }
        Ok(report)
    }

    async fn deliver(
        &mut self,
        batch: Vec<(String, String)>,
    ) -> Result<MessageDelivery, SenderError> {
        let mut delivery = MessageDelivery {
            notification_ids: batch.iter().map(|(n, _)| n.clone()).collect(),
            record_ids: batch.iter().map(|(_, r)| r.clone()).collect(),
            attempts: Vec::new(),
            acked: false,
            duplicates_sent: 0,
        };
        let mut backoff = self.config.initial_backoff;
        for attempt in 0..self.config.max_attempts {
            if attempt > 0 {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(self.config.max_backoff);
            }
            let body = self.render(&batch)?;
            let outcome = self.post(body).await;
            let acked = outcome == AttemptOutcome::Acked;
            delivery.attempts.push(outcome);
            if acked {
                delivery.acked = true;
                break;
            }
        }
        if delivery.acked && self.rng.random::<f64>() < self.config.duplicate_rate {
            let body = self.render(&batch)?;
            let _ = self.post(body).await;
            delivery.duplicates_sent += 1;
        }
        Ok(delivery)
    }

    async fn post(&self, body: String) -> AttemptOutcome {
        let response = self
            .http
            .post(&self.config.endpoint_url)
            .header("content-type", "text/xml; charset=utf-8")
            .header("soapaction", "\"\"")
            .header("user-agent", "Jakarta Commons-HttpClient/3.1")
            .body(body)
            .send()
            .await;
        let response = match response {
            Ok(r) => r,
            Err(e) => return AttemptOutcome::Transport(e.to_string()),
        };
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if status.is_success() && is_ack(&text) {
            AttemptOutcome::Acked
        } else {
            let reason = if status.is_success() {
                "HTTP 2xx without <Ack>true</Ack>".to_string()
            } else {
                format!("HTTP {status}")
            };
            AttemptOutcome::NotAcked {
                status: status.as_u16(),
                reason,
            }
        }
    }

    /// The SOAP body, in the fixtures' layout and namespaces.
    pub fn render(&self, batch: &[(String, String)]) -> Result<String, SenderError> {
        let org_id = self.handle.org_id();
        let org15: String = org_id.chars().take(15).collect();
        let base = self.handle.base_url();
        let version = &self.config.api_version;
        let session = match &self.config.session_id {
            Some(s) => format!("<SessionId>{}</SessionId>", escape(s.as_str())),
            None => "<SessionId xsi:nil=\"true\"/>".to_string(),
        };
        let action_id = &self.config.action_id;
        // One line per entry, indented like real traffic (a `\` line continuation would eat
        // the indentation).
        let head = [
            r#"<?xml version="1.0" encoding="UTF-8"?>"#.to_string(),
            r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">"#.to_string(),
            " <soapenv:Body>".to_string(),
            format!("  <notifications xmlns=\"{OUTBOUND_NS}\">"),
            format!("   <OrganizationId>{org_id}</OrganizationId>"),
            format!("   <ActionId>{action_id}</ActionId>"),
            format!("   {session}"),
            format!("   <EnterpriseUrl>{base}/services/Soap/c/{version}/{org15}</EnterpriseUrl>"),
            format!("   <PartnerUrl>{base}/services/Soap/u/{version}/{org15}</PartnerUrl>"),
        ];
        let mut xml = head.join("\n");
        xml.push('\n');
        let object = self
            .handle
            .object_definition(&self.config.object)
            .ok_or_else(|| SenderError::Config(format!("object {} is gone", self.config.object)))?;
        let mut fields = vec!["Id".to_string()];
        fields.extend(
            self.config
                .fields
                .iter()
                .filter(|f| !f.eq_ignore_ascii_case("Id"))
                .cloned(),
        );
        for (notification_id, record_id) in batch {
            let record = self
                .handle
                .record(&self.config.object, record_id)
                .map_err(|e| SenderError::State(e.message().to_string()))?;
            xml.push_str(&format!(
                "   <Notification>\n    <Id>{notification_id}</Id>\n    <sObject xsi:type=\"sf:{}\" xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\">\n",
                object.name
            ));
            for name in &fields {
                let Some(field) = object.field(name) else {
                    continue;
                };
                let value = match &record {
                    // A record deleted before delivery: the notification carries no data.
                    Some(r) if !r.is_deleted() || field.name == "Id" => {
                        r.get(&field.name, &self.handle.user_id())
                    }
                    _ if field.name == "Id" => serde_json::Value::String(record_id.clone()),
                    _ => serde_json::Value::Null,
                };
                // Null fields are omitted, not sent as xsi:nil (salesforce.md §1.1).
                if let Some(text) = as_text(&field, &value) {
                    xml.push_str(&format!(
                        "     <sf:{0}>{1}</sf:{0}>\n",
                        field.name,
                        escape(text.as_str())
                    ));
                }
            }
            xml.push_str("    </sObject>\n   </Notification>\n");
        }
        xml.push_str("  </notifications>\n </soapenv:Body>\n</soapenv:Envelope>");
        Ok(xml)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_true_ack_in_the_outbound_namespace_counts() {
        let ack = r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
  <soapenv:Body>
    <notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">
      <Ack>true</Ack>
    </notificationsResponse>
  </soapenv:Body>
</soapenv:Envelope>"#;
        assert!(is_ack(ack));
        assert!(!is_ack(&ack.replace("<Ack>true", "<Ack>false")));
        assert!(!is_ack(&ack.replace("2005/09/outbound", "2005/09/other")));
        assert!(!is_ack(""));
        assert!(!is_ack("OK"));
    }
}
