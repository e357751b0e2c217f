//! Live schemas: what Salesforce's describe and HubSpot's schemas say, in the shape validation and
//! the mapping engine need. The Salesforce and HubSpot clients fill these through `SchemaSource`.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::model::HubSpotObjectRef;

/// The describe of one Salesforce object, reduced to what sf2hs uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesforceObjectSchema {
    pub name: String,
    pub custom: bool,
    pub fields: Vec<SalesforceField>,
}

impl SalesforceObjectSchema {
    pub fn field(&self, name: &str) -> Option<&SalesforceField> {
        self.fields.iter().find(|f| f.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesforceField {
    pub name: String,
    pub field_type: SalesforceFieldType,
    /// For reference fields: the objects the id may point to (`["Account"]`).
    #[serde(default)]
    pub reference_to: Vec<String>,
    /// For picklists: the active values.
    #[serde(default)]
    pub picklist_values: Vec<String>,
    #[serde(default)]
    pub nillable: bool,
}

/// Salesforce describe `type` values (salesforce.md §3.4), lower-case in the JSON.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum SalesforceFieldType {
    Id,
    String,
    Textarea,
    Picklist,
    Multipicklist,
    Combobox,
    Boolean,
    Int,
    Long,
    Double,
    Currency,
    Percent,
    Date,
    Datetime,
    Time,
    Reference,
    Email,
    Phone,
    Url,
    EncryptedString,
    Base64,
    Address,
    Location,
    AnyType,
    ComplexValue,
    DataCategoryGroupReference,
    Json,
    /// A type this version does not know; treated as text.
    Other(String),
}

impl SalesforceFieldType {
    pub fn name(&self) -> &str {
        match self {
            SalesforceFieldType::Id => "id",
            SalesforceFieldType::String => "string",
            SalesforceFieldType::Textarea => "textarea",
            SalesforceFieldType::Picklist => "picklist",
            SalesforceFieldType::Multipicklist => "multipicklist",
            SalesforceFieldType::Combobox => "combobox",
            SalesforceFieldType::Boolean => "boolean",
            SalesforceFieldType::Int => "int",
            SalesforceFieldType::Long => "long",
            SalesforceFieldType::Double => "double",
            SalesforceFieldType::Currency => "currency",
            SalesforceFieldType::Percent => "percent",
            SalesforceFieldType::Date => "date",
            SalesforceFieldType::Datetime => "datetime",
            SalesforceFieldType::Time => "time",
            SalesforceFieldType::Reference => "reference",
            SalesforceFieldType::Email => "email",
            SalesforceFieldType::Phone => "phone",
            SalesforceFieldType::Url => "url",
            SalesforceFieldType::EncryptedString => "encryptedstring",
            SalesforceFieldType::Base64 => "base64",
            SalesforceFieldType::Address => "address",
            SalesforceFieldType::Location => "location",
            SalesforceFieldType::AnyType => "anyType",
            SalesforceFieldType::ComplexValue => "complexvalue",
            SalesforceFieldType::DataCategoryGroupReference => "datacategorygroupreference",
            SalesforceFieldType::Json => "json",
            SalesforceFieldType::Other(s) => s,
        }
    }
}

impl From<String> for SalesforceFieldType {
    fn from(s: String) -> Self {
        match s.as_str() {
            "id" => Self::Id,
            "string" => Self::String,
            "textarea" => Self::Textarea,
            "picklist" => Self::Picklist,
            "multipicklist" => Self::Multipicklist,
            "combobox" => Self::Combobox,
            "boolean" => Self::Boolean,
            "int" => Self::Int,
            "long" => Self::Long,
            "double" => Self::Double,
            "currency" => Self::Currency,
            "percent" => Self::Percent,
            "date" => Self::Date,
            "datetime" => Self::Datetime,
            "time" => Self::Time,
            "reference" => Self::Reference,
            "email" => Self::Email,
            "phone" => Self::Phone,
            "url" => Self::Url,
            "encryptedstring" => Self::EncryptedString,
            "base64" => Self::Base64,
            "address" => Self::Address,
            "location" => Self::Location,
            "anyType" => Self::AnyType,
            "complexvalue" => Self::ComplexValue,
            "datacategorygroupreference" => Self::DataCategoryGroupReference,
            "json" => Self::Json,
            _ => Self::Other(s),
        }
    }
}

impl From<SalesforceFieldType> for String {
    fn from(t: SalesforceFieldType) -> String {
        t.name().to_owned()
    }
}

/// One HubSpot object's schema, reduced to what sf2hs uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubSpotObjectSchema {
    /// `2-123456` (custom) or `0-2` (companies).
    pub object_type_id: String,
    pub name: String,
    #[serde(default)]
    pub fully_qualified_name: Option<String>,
    #[serde(default)]
    pub required_properties: Vec<String>,
    pub properties: Vec<HubSpotProperty>,
}

impl HubSpotObjectSchema {
    pub fn property(&self, name: &str) -> Option<&HubSpotProperty> {
        self.properties.iter().find(|p| p.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubSpotProperty {
    pub name: String,
    pub property_type: HubSpotPropertyType,
    /// `text`, `textarea`, `select`, `checkbox`, `booleancheckbox`, `date`, `number`…
    pub field_type: String,
    /// Internal option values for enumerations.
    #[serde(default)]
    pub options: Vec<String>,
    #[serde(default)]
    pub has_unique_value: bool,
    /// Calculated and HubSpot-owned read-only properties cannot be written.
    #[serde(default)]
    pub read_only: bool,
}

/// HubSpot property `type` values (hubspot.md §1.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum HubSpotPropertyType {
    String,
    Number,
    Date,
    Datetime,
    Enumeration,
    Bool,
    Other(String),
}

impl HubSpotPropertyType {
    pub fn name(&self) -> &str {
        match self {
            HubSpotPropertyType::String => "string",
            HubSpotPropertyType::Number => "number",
            HubSpotPropertyType::Date => "date",
            HubSpotPropertyType::Datetime => "datetime",
            HubSpotPropertyType::Enumeration => "enumeration",
            HubSpotPropertyType::Bool => "bool",
            HubSpotPropertyType::Other(s) => s,
        }
    }
}

impl From<String> for HubSpotPropertyType {
    fn from(s: String) -> Self {
        match s.as_str() {
            "string" => Self::String,
            "number" => Self::Number,
            "date" => Self::Date,
            "datetime" => Self::Datetime,
            "enumeration" => Self::Enumeration,
            "bool" => Self::Bool,
            _ => Self::Other(s),
        }
    }
}

impl From<HubSpotPropertyType> for String {
    fn from(t: HubSpotPropertyType) -> String {
        t.name().to_owned()
    }
}

/// Why a live schema could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("cannot read the {system} schema: {reason}")]
    Unavailable {
        system: &'static str,
        reason: String,
    },
}

/// Where live schemas come from: the Salesforce and HubSpot clients implement it; tests use a
/// fixed catalogue.
/// One outbound-message action: its name and the fields it sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundMessageFields {
    pub name: String,
    pub fields: Vec<String>,
}

#[async_trait]
pub trait SchemaSource: Send + Sync {
    /// The outbound-message actions defined on a Salesforce object, with the fields each
    /// sends (the Tooling API's `WorkflowOutboundMessage`); `None` when this source cannot
    /// say, and the check is skipped.
    async fn outbound_messages(
        &self,
        _object: &str,
    ) -> Result<Option<Vec<OutboundMessageFields>>, SchemaError> {
        Ok(None)
    }

    /// The describe of a Salesforce object, or `None` when the org has no such object.
    async fn salesforce_object(
        &self,
        name: &str,
    ) -> Result<Option<SalesforceObjectSchema>, SchemaError>;

    /// A HubSpot object's schema and properties, or `None` when the account has no such object.
    async fn hubspot_object(
        &self,
        object: &HubSpotObjectRef,
    ) -> Result<Option<HubSpotObjectSchema>, SchemaError>;

    /// The account's custom objects as `(name, objectTypeId)`, for the hint when a mapping
    /// names one that does not exist; empty when this source cannot say.
    async fn hubspot_custom_objects(&self) -> Result<Vec<(String, String)>, SchemaError> {
        Ok(Vec::new())
    }
}

/// A shared source is a source (the demo and `serve` hold their clients in `Arc`s).
#[async_trait]
impl<T: SchemaSource + ?Sized> SchemaSource for std::sync::Arc<T> {
    async fn outbound_messages(
        &self,
        object: &str,
    ) -> Result<Option<Vec<OutboundMessageFields>>, SchemaError> {
        (**self).outbound_messages(object).await
    }

    async fn salesforce_object(
        &self,
        name: &str,
    ) -> Result<Option<SalesforceObjectSchema>, SchemaError> {
        (**self).salesforce_object(name).await
    }

    async fn hubspot_object(
        &self,
        object: &HubSpotObjectRef,
    ) -> Result<Option<HubSpotObjectSchema>, SchemaError> {
        (**self).hubspot_object(object).await
    }

    async fn hubspot_custom_objects(&self) -> Result<Vec<(String, String)>, SchemaError> {
        (**self).hubspot_custom_objects().await
    }
}
