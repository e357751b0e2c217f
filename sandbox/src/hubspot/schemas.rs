//! Object schemas and property definitions (hubspot.md §1.1, §1.2): the standard objects the
//! sandbox starts with, custom object creation from an `ObjectSchemaEgg`, and property creation.

use serde::Deserialize;
use serde_json::{Value, json};

use super::errors::ApiError;
use super::values::iso_now;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropertyType {
    String,
    Number,
    Date,
    Datetime,
    Enumeration,
    Bool,
}

impl PropertyType {
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "string" => Self::String,
            "number" => Self::Number,
            "date" => Self::Date,
            "datetime" => Self::Datetime,
            "enumeration" => Self::Enumeration,
            "bool" => Self::Bool,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Number => "number",
            Self::Date => "date",
            Self::Datetime => "datetime",
            Self::Enumeration => "enumeration",
            Self::Bool => "bool",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Textarea,
    Text,
    Date,
    File,
    Number,
    Select,
    Radio,
    Checkbox,
    BooleanCheckbox,
    CalculationEquation,
    Html,
    PhoneNumber,
}

impl FieldType {
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "textarea" => Self::Textarea,
            "text" => Self::Text,
            "date" => Self::Date,
            "file" => Self::File,
            "number" => Self::Number,
            "select" => Self::Select,
            "radio" => Self::Radio,
            "checkbox" => Self::Checkbox,
            "booleancheckbox" => Self::BooleanCheckbox,
            "calculation_equation" => Self::CalculationEquation,
            "html" => Self::Html,
            "phonenumber" => Self::PhoneNumber,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Textarea => "textarea",
            Self::Text => "text",
            Self::Date => "date",
            Self::File => "file",
            Self::Number => "number",
            Self::Select => "select",
            Self::Radio => "radio",
            Self::Checkbox => "checkbox",
            Self::BooleanCheckbox => "booleancheckbox",
            Self::CalculationEquation => "calculation_equation",
            Self::Html => "html",
            Self::PhoneNumber => "phonenumber",
        }
    }

    /// Which field types can render which data types (HubSpot KB field-type table, §1.2).
    fn fits(self, property_type: PropertyType) -> bool {
        use FieldType as F;
        match property_type {
            PropertyType::String => matches!(
                self,
                F::Text | F::Textarea | F::Html | F::PhoneNumber | F::File
            ),
            PropertyType::Number => matches!(self, F::Number | F::CalculationEquation),
            PropertyType::Date | PropertyType::Datetime => self == F::Date,
            PropertyType::Enumeration => matches!(
                self,
                F::Select | F::Radio | F::Checkbox | F::BooleanCheckbox
            ),
            PropertyType::Bool => self == F::BooleanCheckbox,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PropertyOption {
    pub label: String,
    pub value: String,
    #[serde(default)]
    pub display_order: Option<i64>,
    #[serde(default)]
    pub hidden: Option<bool>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PropertyDef {
    pub name: String,
    pub label: String,
    pub property_type: PropertyType,
    pub field_type: FieldType,
    pub group_name: String,
    pub description: String,
    pub options: Vec<PropertyOption>,
    pub has_unique_value: bool,
    pub hubspot_defined: bool,
    /// System values (`hs_object_id`, timestamps) that a write may not set.
    pub read_only_value: bool,
    pub display_order: i64,
    pub hidden: bool,
    pub form_field: bool,
    pub created_at: String,
}

impl PropertyDef {
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "label": self.label,
            "type": self.property_type.as_str(),
            "fieldType": self.field_type.as_str(),
            "description": self.description,
            "groupName": self.group_name,
            "options": self.options.iter().enumerate().map(|(i, o)| json!({
                "label": o.label,
                "value": o.value,
                "displayOrder": o.display_order.unwrap_or(i as i64),
                "hidden": o.hidden.unwrap_or(false),
                "description": o.description.clone().unwrap_or_default(),
            })).collect::<Vec<_>>(),
            "displayOrder": self.display_order,
            "hidden": self.hidden,
            "formField": self.form_field,
            "hasUniqueValue": self.has_unique_value,
            "calculated": false,
            "externalOptions": false,
            "hubspotDefined": self.hubspot_defined,
            "modificationMetadata": {
                "archivable": !self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.read_only_value,
            },
            "archived": false,
            "createdAt": self.created_at,
            "updatedAt": self.created_at,
        })
    }
}

/// `PropertyCreate` / `ObjectTypePropertyCreate` request body (hubspot.md §1.1, §1.2).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PropertyCreate {
    pub name: String,
    pub label: String,
    #[serde(rename = "type", default)]
    pub property_type: Option<String>,
    #[serde(default)]
    pub field_type: Option<String>,
    #[serde(default)]
    pub group_name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub options: Vec<PropertyOption>,
    #[serde(default)]
    pub has_unique_value: bool,
    #[serde(default)]
    pub display_order: Option<i64>,
    #[serde(default)]
    pub hidden: bool,
    #[serde(default)]
    pub form_field: Option<bool>,
}

/// Which optional parts a property body may omit, depending on the API it came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropertySource {
    /// Embedded in an ObjectSchemaEgg: `groupName` defaults to `<object>_information`, and
    /// `type`+`fieldType` may both be left out (the docs' own example in
    /// `schema-create-request.json` does so and the answer shows `string`/`text`).
    SchemaEgg,
    /// `POST /crm/v3/properties/{objectType}`: `name, label, type, fieldType, groupName` required.
    PropertiesApi,
}

/// Property names: lowercase letters, digits and `_`, starting with a letter; `hs_` is HubSpot's.
fn valid_property_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 100
        && !name.starts_with("hs_")
}

impl PropertyCreate {
    pub fn into_def(
        self,
        source: PropertySource,
        object_name: &str,
        display_order: i64,
    ) -> Result<PropertyDef, ApiError> {
        if !valid_property_name(&self.name) {
            return Err(ApiError::validation(format!(
                "Property name \"{}\" is invalid: use lowercase letters, digits and underscores, starting with a letter, not prefixed with hs_",
                self.name
            )));
        }
        if self.label.trim().is_empty() {
            return Err(ApiError::validation(format!(
                "Property \"{}\" needs a non-empty label",
                self.name
            )));
        }
        let (property_type, field_type) = match (
            self.property_type.as_deref(),
            self.field_type.as_deref(),
            source,
        ) {
            (None, None, PropertySource::SchemaEgg) => (PropertyType::String, FieldType::Text),
            (Some(t), Some(f), _) => {
                let t = PropertyType::parse(t).ok_or_else(|| {
                    ApiError::validation(format!(
                        "Property \"{}\" has invalid type \"{t}\": expected one of string, number, date, datetime, enumeration, bool",
                        self.name
                    ))
                })?;
                let f = FieldType::parse(f).ok_or_else(|| {
                    ApiError::validation(format!(
                        "Property \"{}\" has invalid fieldType \"{f}\"",
                        self.name
                    ))
                })?;
                (t, f)
            }
            _ => {
                return Err(ApiError::validation(format!(
                    "Property \"{}\" must give both type and fieldType",
                    self.name
                )));
            }
        };
        if !field_type.fits(property_type) {
            return Err(ApiError::validation(format!(
                "Property \"{}\": fieldType {} is not valid for type {}",
                self.name,
                field_type.as_str(),
                property_type.as_str()
            )));
        }
        if property_type == PropertyType::Enumeration && self.options.is_empty() {
            return Err(ApiError::validation(format!(
                "Enumeration property \"{}\" needs at least one option",
                self.name
            )));
        }
        if property_type != PropertyType::Enumeration
            && property_type != PropertyType::Bool
            && !self.options.is_empty()
        {
            return Err(ApiError::validation(format!(
                "Property \"{}\" of type {} cannot have options",
                self.name,
                property_type.as_str()
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for option in &self.options {
            if option.value.is_empty() || option.label.is_empty() {
                return Err(ApiError::validation(format!(
                    "Options of property \"{}\" need a non-empty label and value",
                    self.name
                )));
            }
            if option.value.contains(';') {
                return Err(ApiError::validation(format!(
                    "Option value \"{}\" of property \"{}\" may not contain ';'",
                    option.value, self.name
                )));
            }
            if !seen.insert(option.value.clone()) {
                return Err(ApiError::validation(format!(
                    "Property \"{}\" has duplicate option value \"{}\"",
                    self.name, option.value
                )));
            }
        }
        let group_name = match (self.group_name, source) {
            (Some(g), _) if !g.is_empty() => g,
            (_, PropertySource::SchemaEgg) => format!("{object_name}_information"),
            (_, PropertySource::PropertiesApi) => {
                return Err(ApiError::validation(format!(
                    "Property \"{}\" needs a groupName",
                    self.name
                )));
            }
        };
        Ok(PropertyDef {
            name: self.name,
            label: self.label,
            property_type,
            field_type,
            group_name,
            description: self.description.unwrap_or_default(),
            options: self.options,
            has_unique_value: self.has_unique_value,
            hubspot_defined: false,
            read_only_value: false,
            display_order: self.display_order.unwrap_or(display_order),
            hidden: self.hidden,
            form_field: self.form_field.unwrap_or(true),
            created_at: iso_now(),
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Labels {
    pub singular: String,
    pub plural: String,
}

/// `ObjectSchemaEgg` (hubspot.md §1.1). `requiredProperties`, `properties`, `associatedObjects`
/// are required by the SDK model, so serde refuses a body without them.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectSchemaEgg {
    pub name: String,
    pub labels: Labels,
    pub required_properties: Vec<String>,
    pub properties: Vec<PropertyCreate>,
    pub associated_objects: Vec<String>,
    #[serde(default)]
    pub searchable_properties: Option<Vec<String>>,
    #[serde(default)]
    pub primary_display_property: Option<String>,
    #[serde(default)]
    pub secondary_display_properties: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub meta_type: Option<String>,
}

/// One association definition as a schema lists it (`AssociationDefinition`).
#[derive(Debug, Clone)]
pub struct SchemaAssociation {
    pub id: u32,
    pub from_object_type_id: String,
    pub to_object_type_id: String,
    pub name: String,
    pub created_at: String,
}

#[derive(Debug, Clone)]
pub struct ObjectSchema {
    /// Numeric part of the objectTypeId (`123456` of `2-123456`).
    pub id: String,
    pub object_type_id: String,
    pub name: String,
    pub fully_qualified_name: String,
    pub singular: String,
    pub plural: String,
    pub description: String,
    pub required_properties: Vec<String>,
    pub searchable_properties: Vec<String>,
    pub primary_display_property: Option<String>,
    pub secondary_display_properties: Vec<String>,
    pub properties: Vec<PropertyDef>,
    pub associations: Vec<SchemaAssociation>,
    pub is_standard: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl ObjectSchema {
    pub fn property(&self, name: &str) -> Option<&PropertyDef> {
        self.properties.iter().find(|p| p.name == name)
    }

    /// Upper-case singular used in HubSpot messages ("Could not get some CONTACT objects").
    pub fn message_name(&self) -> String {
        self.singular.to_uppercase().replace(' ', "_")
    }

    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "objectTypeId": self.object_type_id,
            "fullyQualifiedName": self.fully_qualified_name,
            "name": self.name,
            "labels": { "singular": self.singular, "plural": self.plural },
            "description": self.description,
            "requiredProperties": self.required_properties,
            "searchableProperties": self.searchable_properties,
            "primaryDisplayProperty": self.primary_display_property,
            "secondaryDisplayProperties": self.secondary_display_properties,
            // Like the fixture, list the portal's own properties, not HubSpot's system ones.
            "properties": self.properties.iter().filter(|p| !p.hubspot_defined)
                .map(PropertyDef::to_json).collect::<Vec<_>>(),
            "associations": self.associations.iter().map(|a| json!({
                "id": a.id.to_string(),
                "fromObjectTypeId": a.from_object_type_id,
                "toObjectTypeId": a.to_object_type_id,
                "name": a.name,
                "createdAt": a.created_at,
                "updatedAt": a.created_at,
            })).collect::<Vec<_>>(),
            "metaType": "PORTAL_SPECIFIC",
            "archived": false,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "createdByUserId": 1,
            "updatedByUserId": 1,
        })
    }
}

/// Every object's system properties; values are set by the sandbox, never by a write.
fn system_properties(now: &str) -> Vec<PropertyDef> {
    let sys = |name: &str, label: &str, t: PropertyType, f: FieldType| PropertyDef {
        name: name.into(),
        label: label.into(),
        property_type: t,
        field_type: f,
        group_name: "system".into(),
        description: String::new(),
        options: vec![],
        has_unique_value: false,
        hubspot_defined: true,
        read_only_value: true,
        display_order: -1,
        hidden: false,
        form_field: false,
        created_at: now.to_string(),
    };
    vec![
        // hubspot.md §2.4: hs_object_id is NOT unique for idProperty purposes.
        sys(
            "hs_object_id",
            "Record ID",
            PropertyType::Number,
            FieldType::Number,
        ),
        sys(
            "hs_createdate",
            "Create date",
            PropertyType::Datetime,
            FieldType::Date,
        ),
        sys(
            "hs_lastmodifieddate",
            "Last modified date",
            PropertyType::Datetime,
            FieldType::Date,
        ),
    ]
}

fn standard_property(
    name: &str,
    t: PropertyType,
    f: FieldType,
    unique: bool,
    options: &[&str],
    now: &str,
) -> PropertyDef {
    PropertyDef {
        name: name.into(),
        label: name.into(),
        property_type: t,
        field_type: f,
        group_name: "standard_information".into(),
        description: String::new(),
        options: options
            .iter()
            .map(|v| PropertyOption {
                label: (*v).to_string(),
                value: (*v).to_string(),
                display_order: None,
                hidden: None,
                description: None,
            })
            .collect(),
        has_unique_value: unique,
        hubspot_defined: true,
        read_only_value: false,
        display_order: 0,
        hidden: false,
        form_field: true,
        created_at: now.to_string(),
    }
}

fn standard_schema(
    type_id: &str,
    name: &str,
    singular: &str,
    properties: Vec<PropertyDef>,
    now: &str,
) -> ObjectSchema {
    let mut all = system_properties(now);
    all.extend(properties);
    ObjectSchema {
        id: type_id.to_string(),
        object_type_id: type_id.to_string(),
        name: name.to_string(),
        fully_qualified_name: name.to_string(),
        singular: singular.to_string(),
        plural: name.to_string(),
        description: String::new(),
        required_properties: vec![],
        searchable_properties: vec![],
        primary_display_property: None,
        secondary_display_properties: vec![],
        properties: all,
        associations: vec![],
        is_standard: true,
        created_at: now.to_string(),
        updated_at: now.to_string(),
    }
}

/// contacts `0-1`, companies `0-2`, deals `0-3` (hubspot.md §1.1 object type ids), with the
/// Salesforce id properties the native integration defines, unique so they can be idProperty.
pub fn standard_schemas() -> Vec<ObjectSchema> {
    use FieldType as F;
    use PropertyType as T;
    let now = iso_now();
    let n = now.as_str();
    vec![
        standard_schema(
            "0-1",
            "contacts",
            "contact",
            vec![
                standard_property("email", T::String, F::Text, true, &[], n),
                standard_property("firstname", T::String, F::Text, false, &[], n),
                standard_property("lastname", T::String, F::Text, false, &[], n),
                standard_property("phone", T::String, F::PhoneNumber, false, &[], n),
                standard_property("salesforcecontactid", T::String, F::Text, true, &[], n),
                standard_property(
                    "lifecyclestage",
                    T::Enumeration,
                    F::Radio,
                    false,
                    &["subscriber", "lead", "opportunity", "customer", "other"],
                    n,
                ),
            ],
            n,
        ),
        standard_schema(
            "0-2",
            "companies",
            "company",
            vec![
                standard_property("name", T::String, F::Text, false, &[], n),
                standard_property("domain", T::String, F::Text, false, &[], n),
                standard_property("numberofemployees", T::Number, F::Number, false, &[], n),
                standard_property("annualrevenue", T::Number, F::Number, false, &[], n),
                standard_property("salesforceaccountid", T::String, F::Text, true, &[], n),
            ],
            n,
        ),
        standard_schema(
            "0-3",
            "deals",
            "deal",
            vec![
                standard_property("dealname", T::String, F::Text, false, &[], n),
                standard_property("amount", T::Number, F::Number, false, &[], n),
                standard_property("closedate", T::Datetime, F::Date, false, &[], n),
                standard_property(
                    "dealstage",
                    T::Enumeration,
                    F::Radio,
                    false,
                    &[
                        "appointmentscheduled",
                        "qualifiedtobuy",
                        "closedwon",
                        "closedlost",
                    ],
                    n,
                ),
                standard_property("salesforceopportunityid", T::String, F::Text, true, &[], n),
            ],
            n,
        ),
    ]
}

/// Object names: letters, digits and `_`, starting with a letter (docs schemas guide, §1.1).
pub fn valid_object_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Builds a custom object schema from a validated egg; ids are handed in by the registry.
pub fn schema_from_egg(
    egg: ObjectSchemaEgg,
    numeric_id: u64,
    portal_id: u64,
) -> Result<ObjectSchema, ApiError> {
    if !valid_object_name(&egg.name) {
        return Err(ApiError::validation(format!(
            "Object name \"{}\" is invalid: it may contain only letters, digits and underscores and must start with a letter",
            egg.name
        )));
    }
    if egg.labels.singular.trim().is_empty() || egg.labels.plural.trim().is_empty() {
        return Err(ApiError::validation(
            "labels.singular and labels.plural must be non-empty",
        ));
    }
    if egg.properties.is_empty() {
        return Err(ApiError::validation(
            "A custom object needs at least one property",
        ));
    }
    let now = iso_now();
    let mut properties = system_properties(&now);
    for (i, create) in egg.properties.into_iter().enumerate() {
        let def = create.into_def(PropertySource::SchemaEgg, &egg.name, i as i64 - 1)?;
        if properties.iter().any(|p| p.name == def.name) {
            return Err(ApiError::validation(format!(
                "Property \"{}\" is defined twice",
                def.name
            )));
        }
        properties.push(def);
    }
    let known = |name: &str| {
        properties
            .iter()
            .any(|p| p.name == name && !p.hubspot_defined)
    };
    let named_lists = [
        ("requiredProperties", &egg.required_properties),
        (
            "secondaryDisplayProperties",
            &egg.secondary_display_properties,
        ),
    ];
    for (field, list) in named_lists {
        if let Some(missing) = list.iter().find(|n| !known(n)) {
            return Err(ApiError::validation(format!(
                "{field} names \"{missing}\", which is not one of the object's properties"
            )));
        }
    }
    if let Some(missing) = egg
        .searchable_properties
        .iter()
        .flatten()
        .find(|n| !known(n))
    {
        return Err(ApiError::validation(format!(
            "searchableProperties names \"{missing}\", which is not one of the object's properties"
        )));
    }
    if let Some(primary) = &egg.primary_display_property
        && !known(primary)
    {
        return Err(ApiError::validation(format!(
            "primaryDisplayProperty \"{primary}\" is not one of the object's properties"
        )));
    }
    let searchable = egg.searchable_properties.unwrap_or_else(|| {
        egg.primary_display_property
            .iter()
            .cloned()
            .collect::<Vec<_>>()
    });
    Ok(ObjectSchema {
        id: numeric_id.to_string(),
        object_type_id: format!("2-{numeric_id}"),
        fully_qualified_name: format!("p{portal_id}_{}", egg.name),
        name: egg.name,
        singular: egg.labels.singular,
        plural: egg.labels.plural,
        description: egg.description.unwrap_or_default(),
        required_properties: egg.required_properties,
        searchable_properties: searchable,
        primary_display_property: egg.primary_display_property,
        secondary_display_properties: egg.secondary_display_properties,
        properties,
        associations: vec![],
        is_standard: false,
        created_at: now.clone(),
        updated_at: now,
    })
}
