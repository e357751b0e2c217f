//! The two answers an outbound-message endpoint gives: the ack, and a fault that makes Salesforce
//! keep the message and retry.

use quick_xml::escape::escape;

/// The exact acknowledgement Salesforce expects (salesforce.md §1.3); anything else is retried.
pub const ACK: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
  <soapenv:Body>
    <notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">
      <Ack>true</Ack>
    </notificationsResponse>
  </soapenv:Body>
</soapenv:Envelope>
"#;

pub const CONTENT_TYPE: &str = "text/xml; charset=utf-8";

/// Who is at fault: the sender (bad message, HTTP 400 or 401/403) or us (queue down, HTTP 500).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultCode {
    Client,
    Server,
}

/// A SOAP 1.1 fault carrying `message`, escaped.
pub fn fault(code: FaultCode, message: &str) -> String {
    let code = match code {
        FaultCode::Client => "soapenv:Client",
        FaultCode::Server => "soapenv:Server",
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
  <soapenv:Body>
    <soapenv:Fault>
      <faultcode>{code}</faultcode>
      <faultstring>{}</faultstring>
    </soapenv:Fault>
  </soapenv:Body>
</soapenv:Envelope>
"#,
        escape(message)
    )
}
