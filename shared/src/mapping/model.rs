//! The resolved mapping: what one Salesforce object syncs to, after the file has been validated.
//! This is what the mapping store keeps and what the worker applies.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One Salesforce object synced to one HubSpot object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    /// Salesforce object API name, e.g. `Invoice__c`.
    pub salesforce_object: String,
    pub hubspot_object: HubSpotObjectRef,
    /// HubSpot property with `hasUniqueValue` that holds the 18-character Salesforce id.
    pub id_property: String,
    pub fields: Vec<FieldMapping>,
    #[serde(default)]
    pub associations: Vec<AssociationMapping>,
    pub on_delete: DeleteRule,
    pub status: MappingStatus,
    /// Set when the file opts in to a standard object outside the supported list.
    #[serde(default)]
    pub allow_unsupported_standard_object: bool,
    /// What `mappings apply` / `activate` read from the live schemas; `None` until then (a
    /// draft whose HubSpot object does not exist yet, or a mapping stored by an older version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<Resolved>,
}

/// The live facts a mapping is applied with, so every worker writes the same paths and values
/// as validation checked.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Resolved {
    /// The HubSpot object's objectTypeId: HubSpot refuses a custom object's base name in API
    /// paths since June 2025 (platform-behaviours.md H1).
    pub object_type_id: String,
    /// objectTypeId of each `to_hubspot_object` an association names, by the name written.
    #[serde(default)]
    pub association_objects: BTreeMap<String, String>,
    /// The concrete conversion of each mapped field (by Salesforce field), from the field's
    /// describe type and the HubSpot property's type: `auto` never reaches a worker.
    #[serde(default)]
    pub conversions: BTreeMap<String, Conversion>,
}

impl Mapping {
    /// The HubSpot object as API paths take it: the resolved objectTypeId, else the form written.
    pub fn hubspot_target(&self) -> HubSpotObjectRef {
        match &self.resolved {
            Some(resolved) => HubSpotObjectRef::ObjectTypeId(resolved.object_type_id.clone()),
            None => self.hubspot_object.clone(),
        }
    }

    /// A `to_hubspot_object` as API paths take it.
    pub fn association_object(&self, written: &str) -> HubSpotObjectRef {
        self.resolved
            .as_ref()
            .and_then(|r| r.association_objects.get(written))
            .map(|id| HubSpotObjectRef::ObjectTypeId(id.clone()))
            .unwrap_or_else(|| HubSpotObjectRef::parse(written))
    }

    /// The conversion a field is written with: the resolved one once applied against the live
    /// schemas, else what the file says.
    pub fn conversion_of(&self, field: &FieldMapping) -> Conversion {
        self.resolved
            .as_ref()
            .and_then(|r| r.conversions.get(&field.salesforce_field))
            .copied()
            .unwrap_or(field.conversion)
    }

    /// The same mapping without what was read from the live schemas: what a file says.
    pub fn as_written(&self) -> Mapping {
        Mapping {
            resolved: None,
            ..self.clone()
        }
    }
}

pub const DEFAULT_ID_PROPERTY: &str = "salesforce_id";

/// How the mapping names its HubSpot object: HubSpot accepts all three in object paths.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "by", content = "value", rename_all = "snake_case")]
pub enum HubSpotObjectRef {
    /// The schema's internal `name`, e.g. `invoice`.
    Name(String),
    /// `p{portalId}_{name}`, e.g. `p7878787_invoice`.
    FullyQualifiedName(String),
    /// `2-123456` for custom objects, `0-2` for companies.
    ObjectTypeId(String),
}

impl HubSpotObjectRef {
    /// Reads the form the user wrote: `2-123456` is an objectTypeId, `p123_x` a fullyQualifiedName,
    /// anything else a name.
    pub fn parse(text: &str) -> Self {
        let is_type_id = text
            .split_once('-')
            .is_some_and(|(a, b)| is_digits(a) && is_digits(b));
        let is_fqn = text
            .strip_prefix('p')
            .and_then(|rest| rest.split_once('_'))
            .is_some_and(|(portal, name)| is_digits(portal) && !name.is_empty());
        if is_type_id {
            HubSpotObjectRef::ObjectTypeId(text.to_owned())
        } else if is_fqn {
            HubSpotObjectRef::FullyQualifiedName(text.to_owned())
        } else {
            HubSpotObjectRef::Name(text.to_owned())
        }
    }

    /// The text to put in an API path.
    pub fn as_str(&self) -> &str {
        match self {
            HubSpotObjectRef::Name(s)
            | HubSpotObjectRef::FullyQualifiedName(s)
            | HubSpotObjectRef::ObjectTypeId(s) => s,
        }
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

impl std::fmt::Display for HubSpotObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One Salesforce field written to one HubSpot property.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldMapping {
    /// Field API name; a compound component is written `BillingAddress.City` or `Name.LastName`.
    pub salesforce_field: String,
    pub hubspot_property: String,
    /// How to convert; `Auto` decides from the value and, when known, the field's type.
    #[serde(default)]
    pub conversion: Conversion,
}

/// The HubSpot property type a value is converted to (hubspot.md §1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Conversion {
    /// Decide from the Salesforce field type when known, else from the value's shape.
    #[default]
    Auto,
    /// `string`: text as it is.
    String,
    /// `number`: a decimal string without float noise.
    Number,
    /// `bool`: `true` / `false`.
    Bool,
    /// `date`: `YYYY-MM-DD`.
    Date,
    /// `datetime`: ISO-8601 UTC with milliseconds.
    Datetime,
    /// `enumeration` with one value (a picklist).
    Enumeration,
    /// `enumeration` with several values (a multi-select picklist), `;`-joined.
    MultiEnumeration,
}

impl Conversion {
    pub const ALL: [Conversion; 8] = [
        Conversion::Auto,
        Conversion::String,
        Conversion::Number,
        Conversion::Bool,
        Conversion::Date,
        Conversion::Datetime,
        Conversion::Enumeration,
        Conversion::MultiEnumeration,
    ];

    /// The name used in mapping files.
    pub fn name(self) -> &'static str {
        match self {
            Conversion::Auto => "auto",
            Conversion::String => "string",
            Conversion::Number => "number",
            Conversion::Bool => "bool",
            Conversion::Date => "date",
            Conversion::Datetime => "datetime",
            Conversion::Enumeration => "enumeration",
            Conversion::MultiEnumeration => "multi_enumeration",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl std::fmt::Display for Conversion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A Salesforce lookup or master-detail field synced as a HubSpot association.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssociationMapping {
    /// The lookup field holding the parent's Salesforce id, e.g. `Account__c`.
    pub salesforce_field: String,
    pub target: AssociationTarget,
    /// A USER_DEFINED association type id; when absent the worker looks it up (labels endpoint)
    /// or uses the default association for standard objects.
    #[serde(default)]
    pub association_type_id: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AssociationTarget {
    /// Another object synced by sf2hs; found by its mapping's id property.
    MappedObject { salesforce_object: String },
    /// A HubSpot standard object (companies, contacts, deals…) found by the property that holds
    /// the Salesforce id, e.g. companies by `salesforceaccountid`.
    HubSpotObject { object: String, id_property: String },
}

/// What a Salesforce delete does in HubSpot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeleteRule {
    /// Archive the HubSpot record; an undelete restores it.
    #[default]
    Archive,
    /// Leave the HubSpot record as it is.
    Keep,
}

impl DeleteRule {
    pub const ALL: [DeleteRule; 2] = [DeleteRule::Archive, DeleteRule::Keep];

    pub fn name(self) -> &'static str {
        match self {
            DeleteRule::Archive => "archive",
            DeleteRule::Keep => "keep",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// Whether a mapping syncs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MappingStatus {
    /// Changes sync continuously.
    Active,
    /// Saved for later: changes are not taken.
    #[default]
    Draft,
    /// Stopped for now: changes wait in the queue and sync on activation.
    Paused,
}

impl MappingStatus {
    pub const ALL: [MappingStatus; 3] = [
        MappingStatus::Active,
        MappingStatus::Draft,
        MappingStatus::Paused,
    ];

    pub fn name(self) -> &'static str {
        match self {
            MappingStatus::Active => "active",
            MappingStatus::Draft => "draft",
            MappingStatus::Paused => "paused",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl std::fmt::Display for MappingStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hubspot_object_forms_are_recognised() {
        assert_eq!(
            HubSpotObjectRef::parse("2-123456"),
            HubSpotObjectRef::ObjectTypeId("2-123456".into())
        );
        assert_eq!(
            HubSpotObjectRef::parse("p7878787_invoice"),
            HubSpotObjectRef::FullyQualifiedName("p7878787_invoice".into())
        );
        assert_eq!(
            HubSpotObjectRef::parse("invoice"),
            HubSpotObjectRef::Name("invoice".into())
        );
        assert_eq!(
            HubSpotObjectRef::parse("projects"),
            HubSpotObjectRef::Name("projects".into())
        );
    }

    #[test]
    fn names_round_trip() {
        for c in Conversion::ALL {
            assert_eq!(Conversion::from_name(c.name()), Some(c));
        }
        for s in MappingStatus::ALL {
            assert_eq!(MappingStatus::from_name(s.name()), Some(s));
        }
        for d in DeleteRule::ALL {
            assert_eq!(DeleteRule::from_name(d.name()), Some(d));
        }
    }
}
