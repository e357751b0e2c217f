//! Checks located mappings against the live Salesforce describe and HubSpot schemas: that every
//! object, field and property exists, that types fit (HubSpot's KB field-type table, hubspot.md
//! §1.2), that picklist values have HubSpot options, and that required properties are mapped.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use super::model::{
    AssociationTarget, Conversion, FieldMapping, HubSpotObjectRef, Mapping, MappingStatus, Resolved,
};
use super::objects::compound_component_field;
use super::report::{LocatedMapping, Problem};
use super::schema::{
    HubSpotObjectSchema, HubSpotProperty, HubSpotPropertyType, SalesforceField,
    SalesforceFieldType, SalesforceObjectSchema, SchemaSource,
};
use super::suggest::did_you_mean;

/// Checks every mapping against the live schemas and returns every problem found (never only the
/// first). A schema that cannot be read is a problem too; the checks that need it are skipped.
pub async fn validate_live(
    mappings: &[LocatedMapping],
    schemas: &dyn SchemaSource,
) -> Vec<Problem> {
    check_live(mappings, schemas).await.problems
}

/// What the live check found, and for each mapping (in order) what it resolved: the objectTypeId
/// and each field's concrete conversion. A mapping with an error, or a draft whose HubSpot object
/// does not exist yet, resolves to `None`.
#[derive(Debug, Clone, Default)]
pub struct LiveReport {
    pub problems: Vec<Problem>,
    pub resolved: Vec<Option<Resolved>>,
}

/// `validate_live`, keeping what was resolved: `mappings apply` and `activate` store it.
pub async fn check_live(mappings: &[LocatedMapping], schemas: &dyn SchemaSource) -> LiveReport {
    let mut problems = Vec::new();
    let mut resolutions = Vec::new();
    let mut hubspot_cache: HashMap<String, Option<HubSpotObjectSchema>> = HashMap::new();
    // objectTypeId → first mapping writing to it: two refs (`invoice`, `2-123`) may name one object.
    let mut hubspot_owners: HashMap<String, &LocatedMapping> = HashMap::new();
    for located in mappings {
        let mut check = LiveCheck {
            located,
            problems: Vec::new(),
            conversions: BTreeMap::new(),
            association_objects: BTreeMap::new(),
        };
        let salesforce = check.salesforce_schema(schemas).await;
        let hubspot = check
            .hubspot_schema(
                schemas,
                &located.mapping.hubspot_object,
                located.lines.hubspot_object,
                true,
            )
            .await;
        if let Some(hubspot) = &hubspot {
            if let Some(first) = hubspot_owners.get(&hubspot.object_type_id) {
                check.error(
                    located.lines.hubspot_object,
                    format!(
                        "HubSpot object `{}` ({}) is the target of two mappings",
                        located.mapping.hubspot_object, hubspot.object_type_id
                    ),
                    format!(
                        "`{}` ({}:{}) writes to it already; give each Salesforce object its own \
                         HubSpot object",
                        first.mapping.salesforce_object, first.file, first.line
                    ),
                );
            } else {
                hubspot_owners.insert(hubspot.object_type_id.clone(), located);
            }
            check.id_property(hubspot);
            check.required_properties(hubspot);
        }
        for (index, field) in located.mapping.fields.iter().enumerate() {
            check.field(
                located.field_line(index),
                field,
                salesforce.as_ref(),
                hubspot.as_ref(),
            );
        }
        for (index, association) in located.mapping.associations.iter().enumerate() {
            let line = located.association_line(index);
            if let Some(salesforce) = &salesforce {
                check.association_field(
                    line,
                    &association.salesforce_field,
                    &association.target,
                    salesforce,
                );
            }
            if let AssociationTarget::HubSpotObject {
                object,
                id_property,
            } = &association.target
            {
                let target = match hubspot_cache.get(object) {
                    Some(cached) => cached.clone(),
                    None => {
                        let fetched = check
                            .hubspot_schema(schemas, &HubSpotObjectRef::parse(object), line, false)
                            .await;
                        // Only answers are cached: an unreadable schema is reported per mapping.
                        hubspot_cache.insert(object.clone(), fetched.clone());
                        fetched
                    }
                };
                if let Some(target) = &target {
                    check
                        .association_objects
                        .insert(object.clone(), target.object_type_id.clone());
                }
                if let Some(target) = target
                    && target.property(id_property).is_none()
                {
                    check.error(
                        line,
                        format!("HubSpot object `{object}` has no property `{id_property}`"),
                        format!(
                            "{}`by_property` names the {object} property holding the Salesforce \
                             id (the native connector creates `salesforceaccountid` on companies)",
                            suggest_property(id_property, &target)
                        ),
                    );
                }
            }
        }
        check.outbound_messages(schemas).await;
        check.problems.sort_by_key(|p| p.line);
        let has_errors = check
            .problems
            .iter()
            .any(|p| p.severity == super::report::Severity::Error);
        resolutions.push(match hubspot {
            Some(hubspot) if !has_errors => Some(Resolved {
                object_type_id: hubspot.object_type_id,
                association_objects: check.association_objects,
                conversions: check.conversions,
            }),
            _ => None,
        });
        problems.extend(check.problems);
    }
    LiveReport {
        problems,
        resolved: resolutions,
    }
}

struct LiveCheck<'a> {
    located: &'a LocatedMapping,
    problems: Vec<Problem>,
    /// The concrete conversion of each field whose types fit.
    conversions: BTreeMap<String, Conversion>,
    /// objectTypeId of each `to_hubspot_object` found.
    association_objects: BTreeMap<String, String>,
}

impl LiveCheck<'_> {
    fn mapping(&self) -> &Mapping {
        &self.located.mapping
    }

    fn error(&mut self, line: usize, message: String, hint: String) {
        self.problems
            .push(Problem::error(&self.located.file, line, message, hint));
    }

    fn warning(&mut self, line: usize, message: String, hint: String) {
        self.problems
            .push(Problem::warning(&self.located.file, line, message, hint));
    }

    /// Where outbound messages carry the object's changes, each mapped field must be one they
    /// send: a notification leaves a null field out exactly as a field it does not send
    /// (platform-behaviours.md S2), and the worker takes a left-out field the action sends for
    /// null. A field no action sends would never reach HubSpot from them, neither its values
    /// nor its clearing.
    async fn outbound_messages(&mut self, schemas: &dyn SchemaSource) {
        let object = self.mapping().salesforce_object.clone();
        let definitions = match schemas.outbound_messages(&object).await {
            Ok(Some(definitions)) if !definitions.is_empty() => definitions,
            // None defined: the object's changes come another way (CDC, imports).
            Ok(_) => return,
            Err(e) => {
                self.warning(
                    self.located.lines.salesforce_object,
                    format!("cannot read the outbound-message actions of `{object}`: {e}"),
                    "give the integration user the \"View Setup and Configuration\" permission, \
                     so sf2hs can check that they send every mapped field"
                        .into(),
                );
                return;
            }
        };
        let mapping = self.mapping().clone();
        let fields = mapping
            .fields
            .iter()
            .enumerate()
            .map(|(n, f)| (self.located.field_line(n), f.salesforce_field.as_str()))
            .chain(mapping.associations.iter().enumerate().map(|(n, a)| {
                (
                    self.located.association_line(n),
                    a.salesforce_field.as_str(),
                )
            }))
            // A compound's components: the action sends the compound's parts by their own names.
            .filter(|(_, field)| !field.contains('.'));
        let names: Vec<&str> = definitions.iter().map(|d| d.name.as_str()).collect();
        for (line, field) in fields {
            let sent = definitions
                .iter()
                .any(|d| d.fields.iter().any(|f| f.eq_ignore_ascii_case(field)));
            if !sent {
                self.error(
                    line,
                    format!(
                        "`{field}` is mapped, but outbound message {} does not send it: its \
                         values and its clearing would never reach HubSpot",
                        names.join(", ")
                    ),
                    format!(
                        "add {field} to outbound message {} (Setup → Outbound Messages), or \
                         remove it from the mapping",
                        names[0]
                    ),
                );
            }
        }
    }

    async fn salesforce_schema(
        &mut self,
        schemas: &dyn SchemaSource,
    ) -> Option<SalesforceObjectSchema> {
        let name = self.mapping().salesforce_object.clone();
        let line = self.located.lines.salesforce_object;
        match schemas.salesforce_object(&name).await {
            Ok(Some(schema)) => Some(schema),
            Ok(None) => {
                self.error(
                    line,
                    format!("Salesforce object `{name}` does not exist in the org"),
                    "check the API name in Setup > Object Manager (custom objects end in `__c`) \
                     and that the integration user can see the object"
                        .into(),
                );
                None
            }
            Err(error) => {
                self.error(
                    line,
                    format!("cannot check `{name}` against Salesforce: {error}"),
                    "check the Salesforce connection and credentials, then validate again".into(),
                );
                None
            }
        }
    }

    /// `own` is the mapping's own object (not an association's): a draft may name one that
    /// `sf2hs schema ensure` has still to create.
    async fn hubspot_schema(
        &mut self,
        schemas: &dyn SchemaSource,
        object: &HubSpotObjectRef,
        line: usize,
        own: bool,
    ) -> Option<HubSpotObjectSchema> {
        match schemas.hubspot_object(object).await {
            Ok(Some(schema)) => Some(schema),
            Ok(None) if own && self.mapping().status == MappingStatus::Draft => {
                let salesforce_object = self.mapping().salesforce_object.clone();
                self.warning(
                    line,
                    format!(
                        "HubSpot object `{object}` does not exist yet: this draft is stored \
                         without its objectTypeId and field conversions"
                    ),
                    format!(
                        "`sf2hs schema ensure {salesforce_object}` creates it; `sf2hs mappings \
                         activate {salesforce_object}` then checks the mapping against it and \
                         stores what it resolves"
                    ),
                );
                None
            }
            Ok(None) => {
                let existing = match schemas.hubspot_custom_objects().await {
                    Ok(objects) if !objects.is_empty() => format!(
                        "; the account's custom objects are {}",
                        objects
                            .iter()
                            .map(|(name, id)| format!("`{name}` ({id})"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    Ok(_) => "; the account has no custom objects yet".to_owned(),
                    Err(_) => String::new(),
                };
                self.error(
                    line,
                    format!("HubSpot object `{object}` does not exist in the account"),
                    format!(
                        "create it in HubSpot first (`sf2hs schema ensure` can), or fix the \
                         name: use its name (`invoice`), fullyQualifiedName \
                         (`p1234567_invoice`) or objectTypeId (`2-1234567`){existing}"
                    ),
                );
                None
            }
            Err(error) => {
                self.error(
                    line,
                    format!("cannot check `{object}` against HubSpot: {error}"),
                    "check the HubSpot connection and token scopes, then validate again".into(),
                );
                None
            }
        }
    }

    fn id_property(&mut self, hubspot: &HubSpotObjectSchema) {
        let name = self.mapping().id_property.clone();
        let line = self.located.lines.id_property;
        let object = self.mapping().hubspot_object.clone();
        let Some(property) = hubspot.property(&name) else {
            self.error(
                line,
                format!("HubSpot object `{object}` has no property `{name}` (the id property)"),
                format!(
                    "create a single-line text property `{name}` with unique values required, or \
                     set `id_property` to one that exists"
                ),
            );
            return;
        };
        if property.property_type != HubSpotPropertyType::String {
            self.error(
                line,
                format!(
                    "id property `{name}` is a `{}` property",
                    property.property_type.name()
                ),
                "the id property holds the 18-character Salesforce id: use a single-line text \
                 (`string`) property with unique values required"
                    .into(),
            );
        }
        if !property.has_unique_value {
            self.error(
                line,
                format!("id property `{name}` does not require unique values"),
                "turn on unique values for it in HubSpot (hasUniqueValue): sf2hs upserts records \
                 by it"
                    .into(),
            );
        }
    }

    fn required_properties(&mut self, hubspot: &HubSpotObjectSchema) {
        let mapping = self.mapping().clone();
        for required in &hubspot.required_properties {
            let mapped = *required == mapping.id_property
                || mapping
                    .fields
                    .iter()
                    .any(|f| f.hubspot_property == *required);
            if !mapped {
                self.error(
                    self.located.line,
                    format!(
                        "HubSpot object `{}` requires property `{required}`, which no field maps",
                        mapping.hubspot_object
                    ),
                    format!(
                        "add a line `SalesforceField = \"{required}\"` under `[mapping.fields]`"
                    ),
                );
            }
        }
    }

    fn field(
        &mut self,
        line: usize,
        field: &FieldMapping,
        salesforce: Option<&SalesforceObjectSchema>,
        hubspot: Option<&HubSpotObjectSchema>,
    ) {
        let salesforce_field = salesforce
            .and_then(|schema| self.salesforce_field(line, &field.salesforce_field, schema));
        let property = hubspot.and_then(|schema| {
            let property = schema.property(&field.hubspot_property);
            if property.is_none() {
                self.error(
                    line,
                    format!(
                        "HubSpot object `{}` has no property `{}`",
                        self.mapping().hubspot_object,
                        field.hubspot_property
                    ),
                    format!(
                        "{}create the property in HubSpot or use an existing property's internal \
                         name",
                        suggest_property(&field.hubspot_property, schema)
                    ),
                );
            }
            property
        });
        if let Some(property) = property
            && property.read_only
        {
            self.error(
                line,
                format!("HubSpot property `{}` is read-only", property.name),
                format!(
                    "calculated and HubSpot-owned properties cannot be written: map `{}` to \
                     another property",
                    field.salesforce_field
                ),
            );
        }
        if let (Some(salesforce_field), Some(property)) = (salesforce_field, property)
            && self.types_fit(line, field, &salesforce_field, property)
        {
            let conversion = concrete_conversion(field.conversion, &salesforce_field, property);
            if field.conversion == Conversion::Auto
                && salesforce_field.field_type == SalesforceFieldType::Datetime
                && conversion == Conversion::Date
            {
                self.warning(
                    line,
                    format!(
                        "Salesforce datetime `{}` is written to date property `{}` as its UTC \
                         date: the time of day is dropped",
                        field.salesforce_field, property.name
                    ),
                    "to keep the time, map it to a `datetime` property".into(),
                );
            }
            self.conversions
                .insert(field.salesforce_field.clone(), conversion);
        }
    }

    /// The describe field for a mapped name; a compound component (`BillingAddress.City`) is
    /// found as its component field (`BillingCity`) or through the compound field itself.
    fn salesforce_field<'s>(
        &mut self,
        line: usize,
        name: &str,
        schema: &'s SalesforceObjectSchema,
    ) -> Option<Cow<'s, SalesforceField>> {
        let find = |wanted: &str| {
            schema
                .fields
                .iter()
                .find(|f| f.name.eq_ignore_ascii_case(wanted))
        };
        let object = &schema.name;
        match name.split_once('.') {
            None => {
                let found = find(name);
                if found.is_none() {
                    let names = schema.fields.iter().map(|f| f.name.as_str());
                    self.error(
                        line,
                        format!("Salesforce object `{object}` has no field `{name}`"),
                        format!(
                            "{}check the field's API name in Setup > Object Manager > Fields, and \
                             that the integration user can read it",
                            did_you_mean(name, names)
                        ),
                    );
                }
                found.map(Cow::Borrowed)
            }
            Some((compound, component)) => {
                let component_name = compound_component_field(compound, component);
                if let Some(found) = find(&component_name) {
                    return Some(Cow::Borrowed(found));
                }
                if find(compound).is_some() {
                    let field_type = if matches!(component, "Latitude" | "Longitude") {
                        SalesforceFieldType::Double
                    } else {
                        SalesforceFieldType::String
                    };
                    return Some(Cow::Owned(SalesforceField {
                        name: component_name,
                        field_type,
                        reference_to: Vec::new(),
                        picklist_values: Vec::new(),
                        nillable: true,
                    }));
                }
                self.error(
                    line,
                    format!(
                        "Salesforce object `{object}` has no field `{compound}` (nor \
                         `{component_name}`)"
                    ),
                    "check the compound field's API name in Setup > Object Manager > Fields".into(),
                );
                None
            }
        }
    }

    fn types_fit(
        &mut self,
        line: usize,
        field: &FieldMapping,
        salesforce_field: &SalesforceField,
        property: &HubSpotProperty,
    ) -> bool {
        let name = &field.salesforce_field;
        let sf_type = &salesforce_field.field_type;
        let sf_type_name = sf_type.name();
        let hs_type_name = property.property_type.name();
        if let Some(hint) = unsyncable(sf_type, name) {
            self.error(
                line,
                format!("Salesforce field `{name}` is a {sf_type_name} field, which cannot be synced as one value"),
                hint,
            );
            return false;
        }
        if field.conversion == Conversion::Auto {
            if !fits_by_default(sf_type, property) {
                self.error(
                    line,
                    format!(
                        "Salesforce field `{name}` ({sf_type_name}) cannot be written to HubSpot \
                         property `{}` ({hs_type_name})",
                        property.name
                    ),
                    format!(
                        "a {sf_type_name} field fits {}; map it to such a property{}",
                        default_targets(sf_type),
                        if *sf_type == SalesforceFieldType::Reference {
                            ""
                        } else {
                            ", or set `convert` to say how"
                        }
                    ),
                );
                return false;
            }
        } else {
            let conversion = field.conversion;
            if !conversion_writes(conversion, property) {
                self.error(
                    line,
                    format!(
                        "`convert = \"{conversion}\"` does not fit HubSpot property `{}` \
                         ({hs_type_name})",
                        property.name
                    ),
                    format!(
                        "for this property use `convert = \"{}\"`, or map `{name}` to another \
                         property",
                        conversion_for(property)
                    ),
                );
                return false;
            }
            if !conversion_reads(conversion, sf_type) {
                self.error(
                    line,
                    format!(
                        "Salesforce field `{name}` ({sf_type_name}) cannot be converted with \
                         `convert = \"{conversion}\"`"
                    ),
                    format!(
                        "leave `convert` out to convert by the field's type, which fits {}",
                        default_targets(sf_type)
                    ),
                );
                return false;
            }
        }
        if *sf_type == SalesforceFieldType::Reference {
            self.warning(
                line,
                format!(
                    "Salesforce field `{name}` is a lookup: HubSpot property `{}` will hold a \
                     Salesforce id",
                    property.name
                ),
                "to link the records, sync the lookup as an association \
                 (`[[mapping.associations]]`)"
                    .into(),
            );
        }
        let picklist = matches!(
            sf_type,
            SalesforceFieldType::Picklist | SalesforceFieldType::Multipicklist
        );
        if picklist && property.property_type == HubSpotPropertyType::Enumeration {
            let missing: Vec<String> = salesforce_field
                .picklist_values
                .iter()
                .filter(|value| !property.options.contains(value))
                .map(|value| format!("`{value}`"))
                .collect();
            if !missing.is_empty() {
                self.error(
                    line,
                    format!(
                        "HubSpot property `{}` has no option for Salesforce value(s) {}",
                        property.name,
                        missing.join(", ")
                    ),
                    "add these options to the property in HubSpot, with the Salesforce value as \
                     the option's internal value"
                        .into(),
                );
            }
        }
        true
    }

    fn association_field(
        &mut self,
        line: usize,
        field_name: &str,
        target: &AssociationTarget,
        salesforce: &SalesforceObjectSchema,
    ) {
        let object = &salesforce.name;
        let Some(field) = salesforce
            .fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(field_name))
        else {
            let lookups = salesforce
                .fields
                .iter()
                .filter(|f| f.field_type == SalesforceFieldType::Reference)
                .map(|f| f.name.as_str());
            self.error(
                line,
                format!("Salesforce object `{object}` has no field `{field_name}`"),
                format!(
                    "{}name a lookup or master-detail field of `{object}`",
                    did_you_mean(field_name, lookups)
                ),
            );
            return;
        };
        if field.field_type != SalesforceFieldType::Reference {
            self.error(
                line,
                format!(
                    "`{field_name}` is a {} field, not a lookup",
                    field.field_type.name()
                ),
                "an association needs a lookup or master-detail field (describe type \
                 `reference`); map plain fields under `[mapping.fields]`"
                    .into(),
            );
            return;
        }
        if let AssociationTarget::MappedObject { salesforce_object } = target
            && !field
                .reference_to
                .iter()
                .any(|r| r.eq_ignore_ascii_case(salesforce_object))
        {
            let points_to: Vec<String> = field
                .reference_to
                .iter()
                .map(|r| format!("`{r}`"))
                .collect();
            self.error(
                line,
                format!(
                    "lookup `{field_name}` points to {}, not `{salesforce_object}`",
                    points_to.join(", ")
                ),
                format!(
                    "set `to_mapped_object` to the object the lookup points to, or pick the \
                     lookup field that points to `{salesforce_object}`"
                ),
            );
        }
    }
}

fn suggest_property(name: &str, schema: &HubSpotObjectSchema) -> String {
    did_you_mean(name, schema.properties.iter().map(|p| p.name.as_str()))
}

/// Field types that are not one syncable value, with what to do instead.
fn unsyncable(sf_type: &SalesforceFieldType, name: &str) -> Option<String> {
    match sf_type {
        SalesforceFieldType::Address | SalesforceFieldType::Location => Some(format!(
            "map its components instead, e.g. `\"{name}.City\" = \"…\"` or \
             `\"{name}.Latitude\" = \"…\"`"
        )),
        SalesforceFieldType::Base64 => {
            Some("file contents (base64) are not synced: remove the line".into())
        }
        _ => None,
    }
}

fn is_number(sf_type: &SalesforceFieldType) -> bool {
    matches!(
        sf_type,
        SalesforceFieldType::Int
            | SalesforceFieldType::Long
            | SalesforceFieldType::Double
            | SalesforceFieldType::Currency
            | SalesforceFieldType::Percent
    )
}

fn is_date(sf_type: &SalesforceFieldType) -> bool {
    matches!(
        sf_type,
        SalesforceFieldType::Date | SalesforceFieldType::Datetime
    )
}

/// Free text, which an explicit `convert` may parse into anything.
fn is_text(sf_type: &SalesforceFieldType) -> bool {
    !is_number(sf_type)
        && !is_date(sf_type)
        && !matches!(
            sf_type,
            SalesforceFieldType::Boolean
                | SalesforceFieldType::Picklist
                | SalesforceFieldType::Multipicklist
                | SalesforceFieldType::Reference
                | SalesforceFieldType::Id
                | SalesforceFieldType::Address
                | SalesforceFieldType::Location
                | SalesforceFieldType::Base64
        )
}

fn is_enumeration_with(property: &HubSpotProperty, field_type: &str) -> bool {
    property.property_type == HubSpotPropertyType::Enumeration && property.field_type == field_type
}

/// The KB field-type table (hubspot.md §1.2), applied when `convert` is left out.
/// The conversion a field is written with: what the file says, or for `auto` the one its
/// Salesforce type stands for, written as the HubSpot property's type takes it (a datetime into a
/// `date` property is its UTC date; a date into a `datetime` property is its midnight UTC).
fn concrete_conversion(
    written: Conversion,
    field: &SalesforceField,
    property: &HubSpotProperty,
) -> Conversion {
    if written != Conversion::Auto {
        return written;
    }
    match (&field.field_type, &property.property_type) {
        (t, HubSpotPropertyType::Date) if is_date(t) => Conversion::Date,
        (t, HubSpotPropertyType::Datetime) if is_date(t) => Conversion::Datetime,
        (t, _) => crate::engine::conversion_for_field_type(t),
    }
}

fn fits_by_default(sf_type: &SalesforceFieldType, property: &HubSpotProperty) -> bool {
    use HubSpotPropertyType as Hs;
    let hs = &property.property_type;
    match sf_type {
        t if is_date(t) => matches!(hs, Hs::Date | Hs::Datetime),
        SalesforceFieldType::Boolean => {
            *hs == Hs::Bool || is_enumeration_with(property, "booleancheckbox")
        }
        t if is_number(t) => matches!(hs, Hs::Number | Hs::String),
        SalesforceFieldType::Picklist | SalesforceFieldType::Combobox => {
            matches!(hs, Hs::Enumeration | Hs::String)
        }
        SalesforceFieldType::Multipicklist => {
            *hs == Hs::String || is_enumeration_with(property, "checkbox")
        }
        _ => *hs == Hs::String,
    }
}

/// For hints: what `fits_by_default` accepts.
fn default_targets(sf_type: &SalesforceFieldType) -> &'static str {
    match sf_type {
        t if is_date(t) => "a `date` or `datetime` property",
        SalesforceFieldType::Boolean => {
            "a `bool` property or an `enumeration` with field type `booleancheckbox`"
        }
        t if is_number(t) => "a `number` or `string` property",
        SalesforceFieldType::Picklist | SalesforceFieldType::Combobox => {
            "an `enumeration` or `string` property"
        }
        SalesforceFieldType::Multipicklist => {
            "an `enumeration` with field type `checkbox` (multiple checkboxes) or a `string` \
             property"
        }
        SalesforceFieldType::Reference => {
            "a `string` property only (it holds a Salesforce id); to link the records, sync the \
             lookup as an association (`[[mapping.associations]]`) instead"
        }
        _ => "a `string` property",
    }
}

/// Whether an explicit conversion produces values the HubSpot property takes.
fn conversion_writes(conversion: Conversion, property: &HubSpotProperty) -> bool {
    use HubSpotPropertyType as Hs;
    let hs = &property.property_type;
    match conversion {
        Conversion::Auto => true,
        Conversion::String => *hs == Hs::String,
        Conversion::Number => *hs == Hs::Number,
        Conversion::Bool => *hs == Hs::Bool || is_enumeration_with(property, "booleancheckbox"),
        Conversion::Date => *hs == Hs::Date,
        Conversion::Datetime => *hs == Hs::Datetime,
        Conversion::Enumeration => *hs == Hs::Enumeration,
        Conversion::MultiEnumeration => is_enumeration_with(property, "checkbox"),
    }
}

/// Whether an explicit conversion can read values of a Salesforce field type.
fn conversion_reads(conversion: Conversion, sf_type: &SalesforceFieldType) -> bool {
    use SalesforceFieldType as Sf;
    let text = is_text(sf_type);
    match conversion {
        Conversion::Auto | Conversion::String => true,
        Conversion::Number => is_number(sf_type) || text,
        Conversion::Bool => *sf_type == Sf::Boolean || text,
        Conversion::Date | Conversion::Datetime => is_date(sf_type) || text,
        Conversion::Enumeration => {
            matches!(sf_type, Sf::Picklist | Sf::Combobox | Sf::Boolean) || text
        }
        Conversion::MultiEnumeration => matches!(sf_type, Sf::Multipicklist | Sf::Picklist) || text,
    }
}

/// The conversion that writes a property's type, for hints.
fn conversion_for(property: &HubSpotProperty) -> Conversion {
    match &property.property_type {
        HubSpotPropertyType::Number => Conversion::Number,
        HubSpotPropertyType::Bool => Conversion::Bool,
        HubSpotPropertyType::Date => Conversion::Date,
        HubSpotPropertyType::Datetime => Conversion::Datetime,
        HubSpotPropertyType::Enumeration if property.field_type == "checkbox" => {
            Conversion::MultiEnumeration
        }
        HubSpotPropertyType::Enumeration if property.field_type == "booleancheckbox" => {
            Conversion::Bool
        }
        HubSpotPropertyType::Enumeration => Conversion::Enumeration,
        HubSpotPropertyType::String | HubSpotPropertyType::Other(_) => Conversion::String,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prop(property_type: &str, field_type: &str) -> HubSpotProperty {
        HubSpotProperty {
            name: "p".into(),
            property_type: HubSpotPropertyType::from(property_type.to_owned()),
            field_type: field_type.into(),
            options: Vec::new(),
            has_unique_value: false,
            read_only: false,
        }
    }

    #[test]
    fn the_kb_type_table_is_followed() {
        use SalesforceFieldType as Sf;
        let cases = [
            (Sf::Date, prop("datetime", "date"), true),
            (Sf::Datetime, prop("date", "date"), true),
            (Sf::Date, prop("string", "text"), false),
            (Sf::Boolean, prop("bool", "booleancheckbox"), true),
            (Sf::Boolean, prop("enumeration", "booleancheckbox"), true),
            (Sf::Boolean, prop("enumeration", "select"), false),
            (Sf::Currency, prop("number", "number"), true),
            (Sf::Int, prop("string", "text"), true),
            (Sf::Picklist, prop("enumeration", "select"), true),
            (Sf::Picklist, prop("number", "number"), false),
            (Sf::Multipicklist, prop("enumeration", "checkbox"), true),
            (Sf::Multipicklist, prop("enumeration", "select"), false),
            (Sf::Reference, prop("string", "text"), true),
            (Sf::Reference, prop("enumeration", "select"), false),
            (Sf::Email, prop("string", "text"), true),
            (Sf::Textarea, prop("number", "number"), false),
        ];
        for (sf, hs, expected) in cases {
            assert_eq!(fits_by_default(&sf, &hs), expected, "{sf:?} → {hs:?}");
        }
    }

    #[test]
    fn explicit_conversions_check_both_sides() {
        use SalesforceFieldType as Sf;
        assert!(conversion_writes(
            Conversion::MultiEnumeration,
            &prop("enumeration", "checkbox")
        ));
        assert!(!conversion_writes(
            Conversion::MultiEnumeration,
            &prop("enumeration", "select")
        ));
        assert!(conversion_reads(Conversion::Number, &Sf::String));
        assert!(!conversion_reads(Conversion::Bool, &Sf::Date));
        assert_eq!(
            conversion_for(&prop("enumeration", "checkbox")),
            Conversion::MultiEnumeration
        );
    }
}
