//! Objects the tests define (name, key prefix, fields with describe types) and the describe
//! JSON built from them in the shape of `describe-account-excerpt.json` (salesforce.md §3.4).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Fields every object has; tests cannot write them.
pub const SYSTEM_FIELDS: [&str; 7] = [
    "Id",
    "IsDeleted",
    "CreatedDate",
    "CreatedById",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
];

/// One object as a test defines it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectDefinition {
    /// API name, e.g. `Invoice__c` or `Account`.
    pub name: String,
    /// Defaults to the name without `__c`.
    #[serde(default)]
    pub label: Option<String>,
    /// First three characters of the object's ids (`001`, `a01`…).
    pub key_prefix: String,
    /// Fields besides the system fields.
    pub fields: Vec<FieldDefinition>,
}

impl ObjectDefinition {
    pub fn new(name: &str, key_prefix: &str, fields: Vec<FieldDefinition>) -> Self {
        Self {
            name: name.to_string(),
            label: None,
            key_prefix: key_prefix.to_string(),
            fields,
        }
    }

    pub fn custom(&self) -> bool {
        self.name.ends_with("__c")
    }

    pub fn label(&self) -> String {
        self.label
            .clone()
            .unwrap_or_else(|| self.name.trim_end_matches("__c").replace('_', " "))
    }

    /// System fields first, then the defined ones.
    pub fn all_fields(&self) -> Vec<FieldDefinition> {
        let mut fields = vec![
            FieldDefinition::new("Id", "id").not_nillable(),
            FieldDefinition::new("IsDeleted", "boolean").not_nillable(),
            FieldDefinition::new("CreatedDate", "datetime").not_nillable(),
            FieldDefinition::reference("CreatedById", &["User"]).not_nillable(),
            FieldDefinition::new("LastModifiedDate", "datetime").not_nillable(),
            FieldDefinition::reference("LastModifiedById", &["User"]).not_nillable(),
            FieldDefinition::new("SystemModstamp", "datetime").not_nillable(),
        ];
        fields.extend(self.fields.iter().cloned());
        fields
    }

    /// A field by name, case-insensitively as SOQL and the REST API match names.
    pub fn field(&self, name: &str) -> Option<FieldDefinition> {
        self.all_fields()
            .into_iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.key_prefix.len() != 3 || !self.key_prefix.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(format!(
                "key prefix `{}` of {} must be 3 letters or digits",
                self.key_prefix, self.name
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for field in self.all_fields() {
            if !seen.insert(field.name.to_ascii_lowercase()) {
                return Err(format!("{} defines field {} twice", self.name, field.name));
            }
        }
        Ok(())
    }

    /// `GET /sobjects/{Object}/describe`.
    pub fn describe(&self, version: &str) -> Value {
        let fields: Vec<Value> = self
            .all_fields()
            .iter()
            .map(FieldDefinition::describe)
            .collect();
        let mut object = self.summary(version);
        if let Some(map) = object.as_object_mut() {
            map.insert("fields".into(), Value::Array(fields));
            map.insert("childRelationships".into(), json!([]));
            map.insert("recordTypeInfos".into(), json!([]));
            map.insert("customSetting".into(), json!(false));
            map.insert("feedEnabled".into(), json!(false));
            map.insert("mergeable".into(), json!(false));
        }
        object
    }

    /// One `sobjects[]` entry of describeGlobal (also the head of a describe).
    pub fn summary(&self, version: &str) -> Value {
        let base = format!("/services/data/{version}/sobjects/{}", self.name);
        let label = self.label();
        json!({
            "name": self.name,
            "label": label,
            "labelPlural": format!("{label}s"),
            "keyPrefix": self.key_prefix,
            "custom": self.custom(),
            "queryable": true,
            "replicateable": true,
            "retrieveable": true,
            "createable": true,
            "updateable": true,
            "deletable": true,
            "undeletable": true,
            "triggerable": true,
            "searchable": true,
            "layoutable": true,
            "urls": {
                "sobject": base,
                "describe": format!("{base}/describe"),
                "rowTemplate": format!("{base}/{{ID}}"),
            },
        })
    }
}

/// One field as a test defines it. `field_type` is the describe `type` (`string`, `picklist`,
/// `reference`, `datetime`, `double`…).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldDefinition {
    pub name: String,
    #[serde(rename = "type")]
    pub field_type: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub reference_to: Vec<String>,
    /// Active picklist values; writes must use one of them (`;`-joined for multipicklists).
    #[serde(default)]
    pub picklist_values: Vec<String>,
    #[serde(default = "yes")]
    pub nillable: bool,
    #[serde(default)]
    pub length: Option<u32>,
}

fn yes() -> bool {
    true
}

impl FieldDefinition {
    pub fn new(name: &str, field_type: &str) -> Self {
        Self {
            name: name.to_string(),
            field_type: field_type.to_string(),
            label: None,
            reference_to: Vec::new(),
            picklist_values: Vec::new(),
            nillable: true,
            length: None,
        }
    }

    pub fn reference(name: &str, targets: &[&str]) -> Self {
        Self {
            reference_to: targets.iter().map(|t| t.to_string()).collect(),
            ..Self::new(name, "reference")
        }
    }

    pub fn picklist(name: &str, values: &[&str]) -> Self {
        Self {
            picklist_values: values.iter().map(|v| v.to_string()).collect(),
            ..Self::new(name, "picklist")
        }
    }

    pub fn not_nillable(mut self) -> Self {
        self.nillable = false;
        self
    }

    pub fn is_system(&self) -> bool {
        SYSTEM_FIELDS.contains(&self.name.as_str())
    }

    fn soap_type(&self) -> &'static str {
        match self.field_type.as_str() {
            "id" | "reference" => "tns:ID",
            "boolean" => "xsd:boolean",
            "int" => "xsd:int",
            "long" => "xsd:long",
            "double" | "currency" | "percent" => "xsd:double",
            "date" => "xsd:date",
            "datetime" => "xsd:dateTime",
            "time" => "xsd:time",
            "base64" => "xsd:base64Binary",
            "address" => "urn:address",
            "location" => "urn:location",
            "anyType" => "xsd:anyType",
            _ => "xsd:string",
        }
    }

    fn is_text(&self) -> bool {
        matches!(self.soap_type(), "xsd:string" | "tns:ID")
    }

    /// The full per-field describe object (every key of the fixture).
    pub fn describe(&self) -> Value {
        let custom = self.name.ends_with("__c");
        let system = self.is_system();
        let length = if self.is_text() {
            self.length.unwrap_or(match self.field_type.as_str() {
                "id" | "reference" => 18,
                "textarea" => 32_768,
                _ => 255,
            })
        } else {
            0
        };
        let picklist: Vec<Value> = self
            .picklist_values
            .iter()
            .map(|v| json!({"active": true, "defaultValue": false, "label": v, "validFor": null, "value": v}))
            .collect();
        let relationship_name = (self.field_type == "reference").then(|| {
            if custom {
                self.name.replace("__c", "__r")
            } else {
                self.name.trim_end_matches("Id").to_string()
            }
        });
        let label = self
            .label
            .clone()
            .unwrap_or_else(|| self.name.trim_end_matches("__c").replace('_', " "));
        let entries: Vec<(&str, Value)> = vec![
            ("aggregatable", json!(true)),
            ("aiPredictionField", json!(false)),
            ("autoNumber", json!(false)),
            ("byteLength", json!(length * 3)),
            ("calculated", json!(false)),
            ("calculatedFormula", json!(null)),
            ("cascadeDelete", json!(false)),
            ("caseSensitive", json!(false)),
            ("compoundFieldName", json!(null)),
            ("controllerName", json!(null)),
            ("createable", json!(!system)),
            ("custom", json!(custom)),
            ("defaultValue", json!(null)),
            ("defaultValueFormula", json!(null)),
            ("defaultedOnCreate", json!(system)),
            ("dependentPicklist", json!(false)),
            ("deprecatedAndHidden", json!(false)),
            (
                "digits",
                json!(if matches!(self.field_type.as_str(), "int") {
                    9
                } else {
                    0
                }),
            ),
            ("displayLocationInDecimal", json!(false)),
            ("encrypted", json!(false)),
            ("externalId", json!(false)),
            ("extraTypeInfo", json!(null)),
            ("filterable", json!(true)),
            ("filteredLookupInfo", json!(null)),
            ("formulaTreatNullNumberAsZero", json!(false)),
            (
                "groupable",
                json!(self.is_text() || self.field_type == "boolean"),
            ),
            ("highScaleNumber", json!(false)),
            ("htmlFormatted", json!(false)),
            ("idLookup", json!(self.name == "Id")),
            ("inlineHelpText", json!(null)),
            ("label", json!(label)),
            ("length", json!(length)),
            ("mask", json!(null)),
            ("maskType", json!(null)),
            ("name", json!(self.name)),
            ("nameField", json!(self.name == "Name")),
            ("namePointing", json!(false)),
            ("nillable", json!(self.nillable)),
            ("permissionable", json!(!system && self.nillable)),
            ("picklistValues", json!(picklist)),
            ("polymorphicForeignKey", json!(self.reference_to.len() > 1)),
            (
                "precision",
                json!(
                    if matches!(self.field_type.as_str(), "double" | "currency" | "percent") {
                        18
                    } else {
                        0
                    }
                ),
            ),
            ("queryByDistance", json!(false)),
            ("referenceTargetField", json!(null)),
            ("referenceTo", json!(self.reference_to)),
            ("relationshipName", json!(relationship_name)),
            ("relationshipOrder", json!(null)),
            ("restrictedDelete", json!(false)),
            (
                "restrictedPicklist",
                json!(!self.picklist_values.is_empty()),
            ),
            (
                "scale",
                json!(
                    if matches!(self.field_type.as_str(), "double" | "currency" | "percent") {
                        2
                    } else {
                        0
                    }
                ),
            ),
            ("searchPrefilterable", json!(false)),
            ("soapType", json!(self.soap_type())),
            ("sortable", json!(true)),
            ("type", json!(self.field_type)),
            ("unique", json!(false)),
            ("updateable", json!(!system)),
            ("writeRequiresMasterRead", json!(false)),
        ];
        Value::Object(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }
}
