//! Custom object schemas and properties (hubspot.md §1): read a schema by any reference, list
//! properties, ensure the unique id property, create a schema plus properties from a Salesforce
//! describe, and the HubSpot half of `SchemaSource` for live mapping validation.

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Value, json};

use super::client::HubSpotClient;
use super::errors::HubSpotError;
use crate::mapping::schema::{
    HubSpotObjectSchema, HubSpotProperty, HubSpotPropertyType, OutboundMessageFields,
    SalesforceFieldType, SalesforceObjectSchema, SchemaError, SchemaSource,
};
use crate::mapping::{DEFAULT_ID_PROPERTY, HubSpotObjectRef};

/// objectTypeIds of the standard objects sf2hs can sync to (hubspot.md §1.1).
const STANDARD_OBJECTS: [(&str, &str); 6] = [
    ("contacts", "0-1"),
    ("companies", "0-2"),
    ("deals", "0-3"),
    ("tickets", "0-5"),
    ("products", "0-7"),
    ("line_items", "0-8"),
];

/// One property to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyPlan {
    pub name: String,
    pub label: String,
    pub property_type: HubSpotPropertyType,
    pub field_type: String,
    /// Option values (and labels) for enumerations.
    pub options: Vec<String>,
    pub has_unique_value: bool,
}

/// A custom object to make sure of (the CLI's `sf2hs schema ensure`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaRequest {
    /// Internal name: letters, digits and `_`, starting with a letter; fixed once created.
    pub name: String,
    pub singular_label: String,
    pub plural_label: String,
    /// Unique string property holding the Salesforce id.
    pub id_property: String,
    pub properties: Vec<PropertyPlan>,
    /// `COMPANY`, `CONTACT` or objectTypeIds the object is associated with.
    pub associated_objects: Vec<String>,
}

impl SchemaRequest {
    /// A custom object named `name` with one property per syncable field of `describe`.
    pub fn from_salesforce(name: &str, describe: &SalesforceObjectSchema) -> Self {
        let label = describe.name.trim_end_matches("__c").replace('_', " ");
        Self {
            name: name.to_owned(),
            singular_label: label.clone(),
            plural_label: format!("{label}s"),
            id_property: DEFAULT_ID_PROPERTY.to_owned(),
            properties: plan_properties(describe),
            associated_objects: Vec::new(),
        }
    }
}

/// What `ensure_schema` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnsureSchemaOutcome {
    pub schema: HubSpotObjectSchema,
    pub created_object: bool,
    pub created_properties: Vec<String>,
}

/// `Amount__c` → `amount`, `Annual_Revenue__c` → `annual_revenue`: HubSpot names are lower
/// case letters, digits and `_`, starting with a letter.
pub fn hubspot_property_name(salesforce_field: &str) -> String {
    let base = salesforce_field
        .strip_suffix("__c")
        .unwrap_or(salesforce_field);
    let mut name: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        name.insert_str(0, "sf_");
    }
    name
}

/// The Salesforce → HubSpot type table (hubspot.md §1.2, the KB field-type table; the same one
/// live validation accepts). `None` for fields that are not one syncable value.
pub fn property_type_for(
    field_type: &SalesforceFieldType,
    picklist_values: &[String],
) -> Option<(HubSpotPropertyType, &'static str)> {
    use HubSpotPropertyType as Hs;
    use SalesforceFieldType as Sf;
    Some(match field_type {
        Sf::Address | Sf::Location | Sf::Base64 | Sf::ComplexValue => return None,
        Sf::DataCategoryGroupReference => return None,
        Sf::Picklist if !picklist_values.is_empty() => (Hs::Enumeration, "select"),
        Sf::Multipicklist if !picklist_values.is_empty() => (Hs::Enumeration, "checkbox"),
        Sf::Boolean => (Hs::Bool, "booleancheckbox"),
        Sf::Int | Sf::Long | Sf::Double | Sf::Currency | Sf::Percent => (Hs::Number, "number"),
        Sf::Date => (Hs::Date, "date"),
        Sf::Datetime => (Hs::Datetime, "date"),
        Sf::Textarea => (Hs::String, "textarea"),
        _ => (Hs::String, "text"),
    })
}

/// One property per syncable field; the `Id` field becomes the id property instead.
pub fn plan_properties(describe: &SalesforceObjectSchema) -> Vec<PropertyPlan> {
    describe
        .fields
        .iter()
        .filter(|f| f.field_type != SalesforceFieldType::Id)
        .filter_map(|field| {
            let (property_type, field_type) =
                property_type_for(&field.field_type, &field.picklist_values)?;
            let options = if property_type == HubSpotPropertyType::Enumeration {
                field.picklist_values.clone()
            } else {
                Vec::new()
            };
            Some(PropertyPlan {
                name: hubspot_property_name(&field.name),
                label: field.name.clone(),
                property_type,
                field_type: field_type.to_owned(),
                options,
                has_unique_value: false,
            })
        })
        .collect()
}

fn id_property_plan(name: &str) -> PropertyPlan {
    PropertyPlan {
        name: name.to_owned(),
        label: "Salesforce ID".to_owned(),
        property_type: HubSpotPropertyType::String,
        field_type: "text".to_owned(),
        options: Vec::new(),
        has_unique_value: true,
    }
}

fn property_json(plan: &PropertyPlan, group_name: Option<&str>) -> Value {
    let mut body = json!({
        "name": plan.name,
        "label": plan.label,
        "type": plan.property_type.name(),
        "fieldType": plan.field_type,
        "hasUniqueValue": plan.has_unique_value,
    });
    if !plan.options.is_empty() {
        body["options"] = plan
            .options
            .iter()
            .enumerate()
            .map(|(i, v)| json!({ "label": v, "value": v, "displayOrder": i }))
            .collect();
    }
    if let Some(group) = group_name {
        body["groupName"] = json!(group);
    }
    body
}

/// A `Property` of the properties API, reduced to what sf2hs uses.
fn property_from_json(value: &Value) -> Option<HubSpotProperty> {
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
    let flag = |v: Option<&Value>| v.and_then(Value::as_bool).unwrap_or(false);
    Some(HubSpotProperty {
        name: text("name")?,
        property_type: HubSpotPropertyType::from(text("type").unwrap_or_default()),
        field_type: text("fieldType").unwrap_or_default(),
        options: value["options"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o.get("value").and_then(Value::as_str).map(str::to_owned))
            .collect(),
        has_unique_value: flag(value.get("hasUniqueValue")),
        read_only: flag(value.get("calculated"))
            || flag(value.pointer("/modificationMetadata/readOnlyValue")),
    })
}

fn is_missing_object(error: &HubSpotError) -> bool {
    match error {
        HubSpotError::Rejected { status: 404, .. } | HubSpotError::ObjectNotFound { .. } => true,
        HubSpotError::Rejected {
            status: 400,
            message,
            ..
        } => message.contains("Unable to infer object type"),
        _ => false,
    }
}

impl HubSpotClient {
    /// The raw schema JSON, or `None` when the account has no such object.
    async fn schema_json(&self, object: &HubSpotObjectRef) -> Result<Option<Value>, HubSpotError> {
        if let HubSpotObjectRef::Name(name) = object {
            // HubSpot's schema path takes an objectTypeId or fullyQualifiedName, not a name.
            let response = self
                .send(Method::GET, &self.paths().schemas(), None)
                .await?;
            return Ok(response.body["results"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|s| {
                    s.get("name")
                        .and_then(Value::as_str)
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
                })
                .cloned());
        }
        match self
            .send(Method::GET, &self.paths().schema(object.as_str()), None)
            .await
        {
            Ok(response) => Ok(Some(response.body)),
            Err(error) if is_missing_object(&error) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The objectTypeId of a standard object's name or id, or of a custom object's base name,
    /// fullyQualifiedName (also `p_{name}`) or id, from the schemas list; `None` when the
    /// account has none such.
    pub async fn resolve_object_type_id(
        &self,
        object: &HubSpotObjectRef,
    ) -> Result<Option<String>, HubSpotError> {
        let text = object.as_str();
        if let Some((_, id)) = STANDARD_OBJECTS
            .iter()
            .find(|(name, id)| text.eq_ignore_ascii_case(name) || text == *id)
        {
            return Ok(Some((*id).to_owned()));
        }
        let short_form = text.strip_prefix("p_");
        Ok(self
            .custom_objects_with_names()
            .await?
            .into_iter()
            .find(|(name, fqn, id)| {
                id == text
                    || fqn.eq_ignore_ascii_case(text)
                    || name.eq_ignore_ascii_case(short_form.unwrap_or(text))
            })
            .map(|(_, _, id)| id))
    }

    /// `(name, fullyQualifiedName, objectTypeId)` of every custom object.
    async fn custom_objects_with_names(
        &self,
    ) -> Result<Vec<(String, String, String)>, HubSpotError> {
        let response = self
            .send(Method::GET, &self.paths().schemas(), None)
            .await?;
        Ok(response.body["results"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| {
                let field = |key: &str| s.get(key).and_then(Value::as_str).map(str::to_owned);
                Some((
                    field("name")?,
                    field("fullyQualifiedName")?,
                    field("objectTypeId")?,
                ))
            })
            .collect())
    }

    /// The account's custom objects as `(name, objectTypeId)`, from the schemas list.
    pub async fn custom_objects(&self) -> Result<Vec<(String, String)>, HubSpotError> {
        Ok(self
            .custom_objects_with_names()
            .await?
            .into_iter()
            .map(|(name, _, id)| (name, id))
            .collect())
    }

    /// Every property of an object (system ones included, marked read-only).
    pub async fn list_properties(
        &self,
        object: &HubSpotObjectRef,
    ) -> Result<Vec<HubSpotProperty>, HubSpotError> {
        let response = self
            .send(Method::GET, &self.paths().properties(object.as_str()), None)
            .await
            .map_err(|e| {
                if is_missing_object(&e) {
                    HubSpotError::ObjectNotFound {
                        object: object.to_string(),
                    }
                } else {
                    e
                }
            })?;
        Ok(response.body["results"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(property_from_json)
            .collect())
    }

    /// A custom or standard object's schema with all its properties, by name,
    /// fullyQualifiedName or objectTypeId; `None` when the account has no such object.
    pub async fn object_schema(
        &self,
        object: &HubSpotObjectRef,
    ) -> Result<Option<HubSpotObjectSchema>, HubSpotError> {
        let standard = STANDARD_OBJECTS.iter().find(|(name, id)| {
            object.as_str().eq_ignore_ascii_case(name) || object.as_str() == *id
        });
        let schema = match self.schema_json(object).await? {
            Some(schema) => schema,
            None => match standard {
                // Standard objects may have no schema entry; their properties still describe them.
                Some((name, id)) => json!({ "objectTypeId": id, "name": name }),
                None => return Ok(None),
            },
        };
        let object_type_id = schema
            .get("objectTypeId")
            .and_then(Value::as_str)
            .ok_or_else(|| HubSpotError::InvalidResponse {
                reason: format!("the schema of `{object}` has no objectTypeId"),
            })?
            .to_owned();
        let properties = self
            .list_properties(&HubSpotObjectRef::ObjectTypeId(object_type_id.clone()))
            .await?;
        let strings = |key: &str| -> Vec<String> {
            schema[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        };
        Ok(Some(HubSpotObjectSchema {
            name: schema
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(object.as_str())
                .to_owned(),
            fully_qualified_name: schema
                .get("fullyQualifiedName")
                .and_then(Value::as_str)
                .map(str::to_owned),
            required_properties: strings("requiredProperties"),
            object_type_id,
            properties,
        }))
    }

    async fn create_property(
        &self,
        object_type_id: &str,
        plan: &PropertyPlan,
        group_name: &str,
    ) -> Result<(), HubSpotError> {
        self.send(
            Method::POST,
            &self.paths().properties(object_type_id),
            Some(&property_json(plan, Some(group_name))),
        )
        .await?;
        Ok(())
    }

    /// Makes sure `property` exists as a unique-value string property (the `idProperty` of
    /// upserts); true when it was created now.
    pub async fn ensure_unique_id_property(
        &self,
        object: &HubSpotObjectRef,
        property: &str,
    ) -> Result<bool, HubSpotError> {
        let schema =
            self.object_schema(object)
                .await?
                .ok_or_else(|| HubSpotError::ObjectNotFound {
                    object: object.to_string(),
                })?;
        match schema.property(property) {
            Some(existing) if existing.has_unique_value => Ok(false),
            Some(_) => Err(HubSpotError::IdPropertyNotUnique {
                object: object.to_string(),
                property: property.to_owned(),
                message: "the property exists without hasUniqueValue".into(),
            }),
            None => {
                let group = format!("{}_information", schema.name);
                self.create_property(&schema.object_type_id, &id_property_plan(property), &group)
                    .await?;
                Ok(true)
            }
        }
    }

    /// Creates the custom object when missing, then any missing property and the unique id
    /// property. Existing properties are left as they are (live validation reports conflicts).
    pub async fn ensure_schema(
        &self,
        request: &SchemaRequest,
    ) -> Result<EnsureSchemaOutcome, HubSpotError> {
        let by_name = HubSpotObjectRef::Name(request.name.clone());
        let id_plan = id_property_plan(&request.id_property);
        let mut wanted: Vec<&PropertyPlan> = vec![&id_plan];
        wanted.extend(
            request
                .properties
                .iter()
                .filter(|p| p.name != request.id_property),
        );
        let Some(existing) = self.object_schema(&by_name).await? else {
            let egg = json!({
                "name": request.name,
                "labels": { "singular": request.singular_label, "plural": request.plural_label },
                "requiredProperties": [request.id_property],
                "primaryDisplayProperty": request.id_property,
                "searchableProperties": [request.id_property],
                "properties": wanted.iter().map(|p| property_json(p, None)).collect::<Vec<_>>(),
                "associatedObjects": request.associated_objects,
            });
            let created = self
                .send(Method::POST, &self.paths().schemas(), Some(&egg))
                .await?;
            let object_type_id = created
                .body
                .get("objectTypeId")
                .and_then(Value::as_str)
                .ok_or_else(|| HubSpotError::InvalidResponse {
                    reason: "the created schema has no objectTypeId".into(),
                })?;
            let schema = self
                .object_schema(&HubSpotObjectRef::ObjectTypeId(object_type_id.to_owned()))
                .await?
                .ok_or_else(|| HubSpotError::InvalidResponse {
                    reason: format!("the created object {object_type_id} cannot be read back"),
                })?;
            return Ok(EnsureSchemaOutcome {
                schema,
                created_object: true,
                created_properties: wanted.iter().map(|p| p.name.clone()).collect(),
            });
        };
        if let Some(id) = existing.property(&request.id_property)
            && !id.has_unique_value
        {
            return Err(HubSpotError::IdPropertyNotUnique {
                object: request.name.clone(),
                property: request.id_property.clone(),
                message: "the property exists without hasUniqueValue".into(),
            });
        }
        let group = format!("{}_information", existing.name);
        let mut created_properties = Vec::new();
        for plan in wanted {
            if existing.property(&plan.name).is_none() {
                self.create_property(&existing.object_type_id, plan, &group)
                    .await?;
                created_properties.push(plan.name.clone());
            }
        }
        let schema = if created_properties.is_empty() {
            existing
        } else {
            self.object_schema(&HubSpotObjectRef::ObjectTypeId(
                existing.object_type_id.clone(),
            ))
            .await?
            .unwrap_or(existing)
        };
        Ok(EnsureSchemaOutcome {
            schema,
            created_object: false,
            created_properties,
        })
    }
}

/// Live schemas for mapping validation: HubSpot's half from this client, Salesforce's from any
/// other `SchemaSource` (the Salesforce client), so the two can be combined without either
/// knowing the other.
#[derive(Debug, Clone)]
pub struct HubSpotSchemaSource<S> {
    salesforce: S,
    hubspot: HubSpotClient,
}

impl<S> HubSpotSchemaSource<S> {
    pub fn new(salesforce: S, hubspot: HubSpotClient) -> Self {
        Self {
            salesforce,
            hubspot,
        }
    }
}

#[async_trait]
impl<S: SchemaSource> SchemaSource for HubSpotSchemaSource<S> {
    async fn salesforce_object(
        &self,
        name: &str,
    ) -> Result<Option<SalesforceObjectSchema>, SchemaError> {
        self.salesforce.salesforce_object(name).await
    }

    async fn hubspot_object(
        &self,
        object: &HubSpotObjectRef,
    ) -> Result<Option<HubSpotObjectSchema>, SchemaError> {
        self.hubspot
            .object_schema(object)
            .await
            .map_err(|e| SchemaError::Unavailable {
                system: "HubSpot",
                reason: e.to_string(),
            })
    }

    async fn hubspot_custom_objects(&self) -> Result<Vec<(String, String)>, SchemaError> {
        self.hubspot
            .custom_objects()
            .await
            .map_err(|e| SchemaError::Unavailable {
                system: "HubSpot",
                reason: e.to_string(),
            })
    }

    async fn outbound_messages(
        &self,
        object: &str,
    ) -> Result<Option<Vec<OutboundMessageFields>>, SchemaError> {
        self.salesforce.outbound_messages(object).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::schema::SalesforceField;

    fn field(name: &str, field_type: &str, picklist: &[&str]) -> SalesforceField {
        SalesforceField {
            name: name.into(),
            field_type: SalesforceFieldType::from(field_type.to_owned()),
            reference_to: vec![],
            picklist_values: picklist.iter().map(|s| (*s).to_owned()).collect(),
            nillable: true,
        }
    }

    #[test]
    fn names_follow_hubspot_rules() {
        assert_eq!(hubspot_property_name("Amount__c"), "amount");
        assert_eq!(hubspot_property_name("Annual_Revenue__c"), "annual_revenue");
        assert_eq!(hubspot_property_name("Name"), "name");
        assert_eq!(hubspot_property_name("2nd_Owner__c"), "sf_2nd_owner");
    }

    #[test]
    fn describe_becomes_properties_by_the_kb_table() {
        let describe = SalesforceObjectSchema {
            name: "Invoice__c".into(),
            custom: true,
            fields: vec![
                field("Id", "id", &[]),
                field("Name", "string", &[]),
                field("Amount__c", "currency", &[]),
                field("Due__c", "date", &[]),
                field("Paid_At__c", "datetime", &[]),
                field("Paid__c", "boolean", &[]),
                field("Status__c", "picklist", &["Open", "Closed"]),
                field("Regions__c", "multipicklist", &["EMEA", "APAC"]),
                field("Notes__c", "textarea", &[]),
                field("Account__c", "reference", &[]),
                field("BillingAddress", "address", &[]),
                field("Empty__c", "picklist", &[]),
            ],
        };
        let plans = plan_properties(&describe);
        let summary: Vec<(String, String, String)> = plans
            .iter()
            .map(|p| {
                (
                    p.name.clone(),
                    p.property_type.name().to_owned(),
                    p.field_type.clone(),
                )
            })
            .collect();
        let expected = [
            ("name", "string", "text"),
            ("amount", "number", "number"),
            ("due", "date", "date"),
            ("paid_at", "datetime", "date"),
            ("paid", "bool", "booleancheckbox"),
            ("status", "enumeration", "select"),
            ("regions", "enumeration", "checkbox"),
            ("notes", "string", "textarea"),
            ("account", "string", "text"),
            ("empty", "string", "text"),
        ];
        let expected: Vec<(String, String, String)> = expected
            .iter()
            .map(|(a, b, c)| ((*a).into(), (*b).into(), (*c).into()))
            .collect();
        assert_eq!(summary, expected);
        assert_eq!(plans[5].options, ["Open", "Closed"]);
        let request = SchemaRequest::from_salesforce("invoice", &describe);
        assert_eq!(request.id_property, "salesforce_id");
        assert_eq!(request.singular_label, "Invoice");
    }

    #[test]
    fn properties_are_read_with_read_only_flags() {
        let value = json!({
            "name": "hs_object_id", "type": "number", "fieldType": "number",
            "hasUniqueValue": false, "calculated": false,
            "modificationMetadata": { "readOnlyValue": true },
            "options": []
        });
        let property = property_from_json(&value).expect("property");
        assert!(property.read_only);
        assert_eq!(property.property_type, HubSpotPropertyType::Number);
    }
}
