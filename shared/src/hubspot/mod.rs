//! The HubSpot API client (contract: `shared/reference/hubspot.md`), shaped like a vector sink:
//! configuration, auth, path building, rate limiting and the retry classifier each in their own
//! module; batch writes, associations and schemas as operations on [`HubSpotClient`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), sf2hs_shared::hubspot::HubSpotError> {
//! use sf2hs_shared::hubspot::{HubSpotClient, HubSpotConfig, TokenSource, UpsertInput};
//! use sf2hs_shared::mapping::HubSpotObjectRef;
//! let client = HubSpotClient::new(HubSpotConfig::default(), TokenSource::static_token("pat-…"))?;
//! let object = HubSpotObjectRef::parse("p7878787_invoice");
//! let outcome = client
//!     .upsert(&object, "salesforce_id", vec![UpsertInput::new("a015f00002J9abcAAB", Default::default())])
//!     .await?;
//! # let _ = outcome; Ok(()) }
//! ```

pub mod associations;
pub mod auth;
pub mod batch;
pub mod client;
pub mod config;
pub mod errors;
pub mod imports;
pub mod paths;
mod ports;
pub mod rate_limit;
pub mod retry;
pub mod schemas;

pub use associations::{AssociationFailure, AssociationInput, AssociationOutcome, AssociationType};
pub use auth::{OAuthCredentials, SecretString, TokenSource};
pub use batch::{
    ArchiveOutcome, Archived, BatchOutcome, ItemFailure, MAX_BATCH_INPUTS, UpsertInput, Written,
};
pub use client::{ApiResponse, ClientStats, HubSpotClient};
pub use config::{ApiVersion, HubSpotConfig, RateLimitSettings, RetrySettings};
pub use errors::HubSpotError;
pub use schemas::{EnsureSchemaOutcome, HubSpotSchemaSource, PropertyPlan, SchemaRequest};
