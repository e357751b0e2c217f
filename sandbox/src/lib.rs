//! Strict stand-ins for the external APIs sf2hs talks to, served over real HTTP for tests,
//! benchmarks and the demo. `hubspot` is the HubSpot CRM; a `salesforce` module can sit
//! beside it later.

pub mod hubspot;
