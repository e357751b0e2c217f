//! Strict stand-ins for the external APIs sf2hs talks to, served over real HTTP for tests,
//! benchmarks and the demo. `hubspot` is the HubSpot CRM; `salesforce` is the Salesforce org
//! (REST, Bulk API 2.0, OAuth) and its senders (outbound messages, CDC via EventBridge).

pub mod demo;
pub mod hubspot;
pub mod salesforce;
