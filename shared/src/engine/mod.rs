//! The mapping engine: Salesforce field values to HubSpot property values.
