//! Checks what the mapping files mean, across all files given at once, and reports every problem
//! (never only the first), each with file, line and a fix hint.

use std::collections::HashMap;
use std::path::PathBuf;

use super::file::{At, RawAssociation, RawField, RawMapping, RawTarget, read_source};
use super::model::{
    AssociationMapping, AssociationTarget, Conversion, DEFAULT_ID_PROPERTY, DeleteRule,
    FieldMapping, HubSpotObjectRef, Mapping, MappingStatus,
};
use super::objects::{
    COMPOUND_COMPONENTS, CORE_SYNC_OBJECTS, SUPPORTED_STANDARD_OBJECTS, SalesforceObjectKind,
    classify_salesforce_object, is_valid_hubspot_name, is_valid_salesforce_api_name,
    native_sync_target,
};
use super::report::{LocatedMapping, MappingLines, Problem, ProblemSink, ValidationReport};
use super::suggest::did_you_mean;

/// Validates mapping files given as `(file name, text)` pairs; the names are only used in
/// problems. Mappings in one file may associate to objects mapped in another.
pub fn validate_sources(sources: &[(String, String)]) -> ValidationReport {
    validate_sources_beside(sources, &[])
}

/// [`validate_sources`] for files stored beside mappings already stored (the console's new
/// mapping): an association to one of `stored` (Salesforce object names) is to a mapped object.
pub fn validate_sources_beside(
    sources: &[(String, String)],
    stored: &[String],
) -> ValidationReport {
    let files = sources
        .iter()
        .map(|(name, text)| (name.clone(), Ok(text.as_str())))
        .collect::<Vec<_>>();
    validate(&files, stored)
}

/// Reads and validates mapping files. A file that cannot be read is reported as a problem (line
/// 0: the whole file), and the others are still checked.
pub fn load_files(paths: &[PathBuf]) -> ValidationReport {
    let texts = paths
        .iter()
        .map(|path| {
            let name = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|error| {
                Problem::error(
                    name.clone(),
                    0,
                    format!("cannot read the mapping file: {error}"),
                    "check the path and the file's permissions; mapping files are UTF-8 text",
                )
            });
            (name, text)
        })
        .collect::<Vec<_>>();
    let files = texts
        .iter()
        .map(|(name, text)| (name.clone(), text.as_deref().map_err(Clone::clone)))
        .collect::<Vec<_>>();
    validate(&files, &[])
}

/// A mapping with the lines cross-file checks point at.
struct Resolved {
    located: LocatedMapping,
    /// `to_mapped_object` targets and their lines.
    mapped_targets: Vec<At<String>>,
}

fn validate(files: &[(String, Result<&str, Problem>)], stored: &[String]) -> ValidationReport {
    let mut problems = Vec::new();
    let mut resolved = Vec::new();
    // When a file could not be read in full, its mappings are unknown, so "target not mapped"
    // could be wrong and is not reported.
    let mut every_file_read = true;
    for (name, text) in files {
        match text {
            Ok(text) => {
                let raw = read_source(name, text);
                every_file_read &= raw.complete;
                problems.extend(raw.problems);
                for mapping in raw.mappings {
                    let mut checker = MappingChecker {
                        file: name,
                        problems: &mut problems,
                    };
                    if let Some(r) = checker.resolve(mapping) {
                        resolved.push(r);
                    }
                }
            }
            Err(problem) => {
                every_file_read = false;
                problems.push(problem.clone());
            }
        }
    }
    check_across_mappings(&resolved, every_file_read, stored, &mut problems);

    let file_order: HashMap<&str, usize> = files
        .iter()
        .enumerate()
        .map(|(index, (name, _))| (name.as_str(), index))
        .collect();
    problems.sort_by_key(|p| (file_order.get(p.file.as_str()).copied(), p.line));
    ValidationReport {
        mappings: resolved.into_iter().map(|r| r.located).collect(),
        problems,
    }
}

/// Duplicates across mappings and association targets, over all files.
fn check_across_mappings(
    resolved: &[Resolved],
    every_file_read: bool,
    stored: &[String],
    problems: &mut Vec<Problem>,
) {
    // Salesforce names are case-insensitive; HubSpot object refs are compared as written.
    let mut by_salesforce: HashMap<String, &LocatedMapping> = HashMap::new();
    let mut by_hubspot: HashMap<String, &LocatedMapping> = HashMap::new();
    for r in resolved {
        let located = &r.located;
        let mapping = &located.mapping;
        let sf_key = mapping.salesforce_object.to_lowercase();
        if let Some(first) = by_salesforce.get(&sf_key) {
            problems.push(Problem::error(
                &located.file,
                located.lines.salesforce_object,
                format!(
                    "Salesforce object `{}` is mapped twice",
                    mapping.salesforce_object
                ),
                format!(
                    "{}:{} maps it already; keep one mapping per Salesforce object, with all \
                     its fields",
                    first.file, first.line
                ),
            ));
        } else {
            by_salesforce.insert(sf_key, located);
        }
        let hs_key = mapping.hubspot_object.as_str().to_lowercase();
        if let Some(first) = by_hubspot.get(&hs_key) {
            problems.push(Problem::error(
                &located.file,
                located.lines.hubspot_object,
                format!(
                    "HubSpot object `{}` is the target of two mappings",
                    mapping.hubspot_object
                ),
                format!(
                    "`{}` ({}:{}) writes to it already; give each Salesforce object its own \
                     HubSpot object",
                    first.mapping.salesforce_object, first.file, first.line
                ),
            ));
        } else {
            by_hubspot.insert(hs_key, located);
        }
    }

    if !every_file_read {
        return;
    }
    let mapped_names: Vec<&str> = resolved
        .iter()
        .map(|r| r.located.mapping.salesforce_object.as_str())
        .collect();
    for r in resolved {
        for target in &r.mapped_targets {
            if by_salesforce.contains_key(&target.value.to_lowercase())
                || stored.iter().any(|s| s.eq_ignore_ascii_case(&target.value))
            {
                continue;
            }
            let hint = match native_sync_target(&target.value) {
                Some((object, property)) => format!(
                    "`{}` is synced by the native connector: use `to_hubspot_object = \
                     \"{object}\"` with `by_property = \"{property}\"` instead",
                    target.value
                ),
                None => format!(
                    "{}add a `[[mapping]]` for `{}`, validate the file that maps it together \
                     with this one, or link to a HubSpot object with `to_hubspot_object` and \
                     `by_property`",
                    did_you_mean(&target.value, mapped_names.iter().copied()),
                    target.value
                ),
            };
            problems.push(Problem::error(
                &r.located.file,
                target.line,
                format!(
                    "association target `{}` is not mapped in the files given",
                    target.value
                ),
                hint,
            ));
        }
    }
}

/// Checks one mapping's values and builds the resolved `Mapping`.
struct MappingChecker<'a> {
    file: &'a str,
    problems: &'a mut Vec<Problem>,
}

impl ProblemSink for MappingChecker<'_> {
    fn file(&self) -> &str {
        self.file
    }

    fn problems(&mut self) -> &mut Vec<Problem> {
        self.problems
    }
}

impl MappingChecker<'_> {
    /// `None` when the mapping lacks a Salesforce or HubSpot object (already reported).
    fn resolve(&mut self, raw: RawMapping) -> Option<Resolved> {
        let allow = raw.allow_unsupported_standard_object.clone().unwrap_or(At {
            value: false,
            line: raw.line,
        });
        if let Some(object) = &raw.salesforce_object {
            self.check_salesforce_object(object, &allow);
        }
        if let Some(object) = &raw.hubspot_object {
            self.check_hubspot_object_name(object, "hubspot_object");
        }
        let id_property = self.id_property(&raw);
        let status = self.named_value(
            raw.status.as_ref(),
            "status",
            &MappingStatus::ALL.map(MappingStatus::name),
            MappingStatus::from_name,
        );
        let on_delete = self.named_value(
            raw.on_delete.as_ref(),
            "on_delete",
            &DeleteRule::ALL.map(DeleteRule::name),
            DeleteRule::from_name,
        );

        let mut fields = Vec::new();
        let mut field_lines = Vec::new();
        self.fields(
            &raw.fields,
            &id_property.value,
            &mut fields,
            &mut field_lines,
        );
        if raw.fields.is_empty() {
            self.warning(
                raw.line,
                "this mapping has no fields: only the id property will be written".into(),
                "add a `[mapping.fields]` table with `SalesforceField = \"hubspot_property\"` \
                 lines"
                    .into(),
            );
        }
        let mut associations = Vec::new();
        let mut association_lines = Vec::new();
        let mut mapped_targets = Vec::new();
        self.associations(
            &raw.associations,
            &mut associations,
            &mut association_lines,
            &mut mapped_targets,
        );

        let salesforce_object = raw.salesforce_object?;
        let hubspot_object = raw.hubspot_object?;
        let mapping = Mapping {
            salesforce_object: salesforce_object.value,
            hubspot_object: HubSpotObjectRef::parse(&hubspot_object.value),
            id_property: id_property.value,
            fields,
            associations,
            on_delete: on_delete.unwrap_or_default(),
            status: status.unwrap_or_default(),
            allow_unsupported_standard_object: allow.value,
            resolved: None,
        };
        Some(Resolved {
            located: LocatedMapping {
                file: self.file.to_owned(),
                line: raw.line,
                mapping,
                lines: MappingLines {
                    salesforce_object: salesforce_object.line,
                    hubspot_object: hubspot_object.line,
                    id_property: id_property.line,
                    fields: field_lines,
                    associations: association_lines,
                },
            },
            mapped_targets,
        })
    }

    fn check_salesforce_object(&mut self, object: &At<String>, allow: &At<bool>) {
        let name = object.value.as_str();
        let opted_in = allow.value;
        match classify_salesforce_object(name) {
            SalesforceObjectKind::Invalid => self.error(
                object.line,
                format!("`{name}` is not a Salesforce object API name"),
                "API names are letters, digits and single underscores, starting with a letter; \
                 custom objects end in `__c` (e.g. `Invoice__c`): copy the name from Setup > \
                 Object Manager"
                    .into(),
            ),
            SalesforceObjectKind::NotSyncable => self.error(
                object.line,
                format!("`{name}` is neither a custom object nor a standard object"),
                "sf2hs syncs custom objects (names ending in `__c`) and standard objects; \
                 metadata types, platform events and external or big objects hold no records \
                 it can sync"
                    .into(),
            ),
            SalesforceObjectKind::CoreSync if !opted_in => {
                let link = native_sync_target(name).map_or_else(String::new, |(o, p)| {
                    format!(" (`to_hubspot_object = \"{o}\"`, `by_property = \"{p}\"`)")
                });
                self.error(
                    object.line,
                    format!(
                        "`{name}` is synced by the HubSpot native connector's core sync, not as \
                         a custom object"
                    ),
                    format!(
                        "link your objects to it with an association instead{link}; to map it \
                         anyway, set `allow_unsupported_standard_object = true`"
                    ),
                );
            }
            SalesforceObjectKind::CoreSync => self.warning(
                object.line,
                format!("`{name}` is also synced by the HubSpot native connector's core sync"),
                "make sure the two do not write the same HubSpot records".into(),
            ),
            SalesforceObjectKind::UnsupportedStandard if !opted_in => {
                let suggestion = did_you_mean(
                    name,
                    SUPPORTED_STANDARD_OBJECTS
                        .iter()
                        .chain(CORE_SYNC_OBJECTS)
                        .copied(),
                );
                self.error(
                    object.line,
                    format!("standard object `{name}` is not in the supported list"),
                    format!(
                        "{suggestion}to map it anyway, set `allow_unsupported_standard_object = \
                         true` in this mapping; the supported standard objects are the native \
                         connector's (see examples/README.md)"
                    ),
                );
            }
            SalesforceObjectKind::Custom | SalesforceObjectKind::SupportedStandard if opted_in => {
                self.warning(
                    allow.line,
                    format!("`allow_unsupported_standard_object` is not needed for `{name}`"),
                    "remove the line: custom objects and supported standard objects need no \
                     opt-in"
                        .into(),
                );
            }
            _ => {}
        }
    }

    fn check_hubspot_object_name(&mut self, object: &At<String>, key: &str) -> bool {
        let name = object.value.as_str();
        let looks_valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !looks_valid {
            self.error(
                object.line,
                format!("`{name}` in `{key}` is not a HubSpot object"),
                "use the object's name (`invoice`), fullyQualifiedName (`p1234567_invoice`) or \
                 objectTypeId (`2-1234567`)"
                    .into(),
            );
        }
        looks_valid
    }

    fn check_property_name(&mut self, property: &At<String>, what: &str) -> bool {
        let name = property.value.as_str();
        if is_valid_hubspot_name(name) {
            return true;
        }
        let hint = if name.is_empty() {
            "name a HubSpot property's internal name, e.g. `amount`".to_owned()
        } else if is_valid_hubspot_name(&name.to_lowercase()) {
            format!(
                "HubSpot internal names are lower-case: did you mean `{}`?",
                name.to_lowercase()
            )
        } else {
            "use the property's internal name (Settings > Properties > the property > internal \
             name): lower-case letters, digits and `_`, starting with a letter"
                .to_owned()
        };
        let message = if name.is_empty() {
            format!("{what} is empty")
        } else {
            format!("`{name}` ({what}) is not a HubSpot property internal name")
        };
        self.error(property.line, message, hint);
        false
    }

    fn id_property(&mut self, raw: &RawMapping) -> At<String> {
        match &raw.id_property {
            Some(id) if id.value.trim().is_empty() => {
                self.error(
                    id.line,
                    "`id_property` is empty".into(),
                    format!(
                        "leave the line out to use `{DEFAULT_ID_PROPERTY}`, or name a unique text \
                         property"
                    ),
                );
                id.clone()
            }
            Some(id) => {
                self.check_property_name(id, "id_property");
                id.clone()
            }
            None => At {
                value: DEFAULT_ID_PROPERTY.to_owned(),
                line: raw.line,
            },
        }
    }

    /// Reads `status` / `on_delete`-style names, listing the valid ones when it is wrong.
    fn named_value<T>(
        &mut self,
        value: Option<&At<String>>,
        key: &str,
        names: &[&str],
        from_name: fn(&str) -> Option<T>,
    ) -> Option<T> {
        let value = value?;
        let parsed = from_name(&value.value);
        if parsed.is_none() {
            self.error(
                value.line,
                format!("`{}` is not a valid `{key}`", value.value),
                format!(
                    "{}use one of {}",
                    did_you_mean(&value.value, names.iter().copied()),
                    quoted_list(names)
                ),
            );
        }
        parsed
    }

    fn fields(
        &mut self,
        raw_fields: &[RawField],
        id_property: &str,
        fields: &mut Vec<FieldMapping>,
        lines: &mut Vec<usize>,
    ) {
        // Salesforce names ignore case, so `Amount__c` and `amount__c` are one field.
        let mut seen_fields: HashMap<String, &At<String>> = HashMap::new();
        let mut seen_properties: HashMap<&str, &At<String>> = HashMap::new();
        for raw in raw_fields {
            let field = &raw.salesforce_field;
            self.check_field_name(field);
            if let Some(first) = seen_fields.get(&field.value.to_lowercase()) {
                self.error(
                    field.line,
                    format!("Salesforce field `{}` is mapped twice", field.value),
                    format!(
                        "line {} maps it already as `{}` (Salesforce names ignore case); keep \
                         one of the two lines",
                        first.line, first.value
                    ),
                );
                continue;
            }
            seen_fields.insert(field.value.to_lowercase(), field);

            let property_ok = self.check_property_name(
                &raw.property,
                &format!("the property for `{}`", field.value),
            );
            if property_ok && raw.property.value == id_property {
                self.error(
                    raw.property.line,
                    format!(
                        "Salesforce field `{}` is mapped onto the id property `{id_property}`",
                        field.value
                    ),
                    format!(
                        "sf2hs writes the Salesforce record id there itself; map `{}` to \
                         another property",
                        field.value
                    ),
                );
            }
            if let Some(first) = seen_properties.get(raw.property.value.as_str()) {
                self.error(
                    raw.property.line,
                    format!(
                        "HubSpot property `{}` is written by two fields",
                        raw.property.value
                    ),
                    format!(
                        "`{}` (line {}) writes it already; a property holds one value: map one \
                         of them to another property",
                        first.value, first.line
                    ),
                );
            } else {
                seen_properties.insert(raw.property.value.as_str(), field);
            }

            let conversion = match &raw.convert {
                Some(convert) => match Conversion::from_name(&convert.value) {
                    Some(conversion) => conversion,
                    None => {
                        let names = Conversion::ALL.map(Conversion::name);
                        self.error(
                            convert.line,
                            format!("`{}` is not a valid `convert`", convert.value),
                            format!(
                                "{}use one of {}",
                                did_you_mean(&convert.value, names),
                                quoted_list(&names)
                            ),
                        );
                        Conversion::Auto
                    }
                },
                None => Conversion::Auto,
            };
            fields.push(FieldMapping {
                salesforce_field: field.value.clone(),
                hubspot_property: raw.property.value.clone(),
                conversion,
            });
            lines.push(field.line);
        }
    }

    fn check_field_name(&mut self, field: &At<String>) {
        let name = field.value.as_str();
        if let Some((compound, component)) = name.split_once('.') {
            if !is_valid_salesforce_api_name(compound) || component.contains('.') {
                self.error(
                    field.line,
                    format!("`{name}` is not a Salesforce field API name"),
                    "a compound field's component is written `Compound.Component`, e.g. \
                     `\"BillingAddress.City\"` or `\"Name.LastName\"`"
                        .into(),
                );
            } else if !COMPOUND_COMPONENTS.contains(&component) {
                self.error(
                    field.line,
                    format!("`{component}` is not a component of a compound field"),
                    format!(
                        "{}the components are {}",
                        did_you_mean(component, COMPOUND_COMPONENTS.iter().copied()),
                        quoted_list(COMPOUND_COMPONENTS)
                    ),
                );
            }
        } else if !is_valid_salesforce_api_name(name) {
            self.error(
                field.line,
                format!("`{name}` is not a Salesforce field API name"),
                "API names are letters, digits and single underscores, starting with a letter; \
                 custom fields end in `__c` (copy the name from Setup > Object Manager > Fields)"
                    .into(),
            );
        }
    }

    fn associations(
        &mut self,
        raw_associations: &[RawAssociation],
        associations: &mut Vec<AssociationMapping>,
        lines: &mut Vec<usize>,
        mapped_targets: &mut Vec<At<String>>,
    ) {
        for raw in raw_associations {
            let field = &raw.field;
            if field.value.contains('.') || !is_valid_salesforce_api_name(&field.value) {
                self.error(
                    field.line,
                    format!(
                        "`{}` is not a Salesforce lookup field API name",
                        field.value
                    ),
                    "name the lookup or master-detail field on this object, e.g. `Account__c`"
                        .into(),
                );
            }
            let target = match &raw.target {
                RawTarget::MappedObject(object) => {
                    if is_valid_salesforce_api_name(&object.value) {
                        mapped_targets.push(object.clone());
                    } else {
                        self.error(
                            object.line,
                            format!("`{}` is not a Salesforce object API name", object.value),
                            "name a Salesforce object mapped in these files, e.g. `Project__c`"
                                .into(),
                        );
                    }
                    AssociationTarget::MappedObject {
                        salesforce_object: object.value.clone(),
                    }
                }
                RawTarget::HubSpotObject {
                    object,
                    by_property,
                } => {
                    self.check_hubspot_object_name(object, "to_hubspot_object");
                    self.check_property_name(by_property, "by_property");
                    AssociationTarget::HubSpotObject {
                        object: object.value.clone(),
                        id_property: by_property.value.clone(),
                    }
                }
            };
            let association_type_id = raw.association_type_id.as_ref().and_then(|id| {
                let valid = u32::try_from(id.value).ok().filter(|v| *v > 0);
                if valid.is_none() {
                    self.error(
                        id.line,
                        format!("association type id {} is out of range", id.value),
                        format!(
                            "use the `typeId` of a USER_DEFINED association label (1 to {}), or \
                             leave the line out to use the default association",
                            u32::MAX
                        ),
                    );
                }
                valid
            });
            let duplicate = associations.iter().any(|a: &AssociationMapping| {
                a.salesforce_field.eq_ignore_ascii_case(&field.value) && a.target == target
            });
            if duplicate {
                self.error(
                    raw.line,
                    format!(
                        "the association of `{}` to `{}` is listed twice",
                        field.value,
                        target_name(&target)
                    ),
                    "keep one of the two `[[mapping.associations]]` entries".into(),
                );
                continue;
            }
            associations.push(AssociationMapping {
                salesforce_field: field.value.clone(),
                target,
                association_type_id,
            });
            lines.push(raw.line);
        }
    }
}

fn target_name(target: &AssociationTarget) -> &str {
    match target {
        AssociationTarget::MappedObject { salesforce_object } => salesforce_object,
        AssociationTarget::HubSpotObject { object, .. } => object,
    }
}

/// "`a`, `b` or `c`".
fn quoted_list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(text: &str) -> ValidationReport {
        validate_sources(&[("m.toml".to_owned(), text.to_owned())])
    }

    #[test]
    fn an_association_to_a_stored_mapping_is_to_a_mapped_object() {
        let text = "[[mapping]]\nsalesforce_object = \"Invoice__c\"\nhubspot_object = \"sf_invoice\"\n\
                    [mapping.fields]\nName = \"invoice_number\"\n\
                    [[mapping.associations]]\nfield = \"Project__c\"\nto_mapped_object = \"Project__c\"\n";
        assert!(!report(text).is_ok(), "alone, the target is not mapped");
        let beside = validate_sources_beside(
            &[("m.toml".to_owned(), text.to_owned())],
            &["project__c".into()],
        );
        assert!(beside.is_ok(), "{:?}", beside.problems);
    }

    #[test]
    fn defaults_and_lines_are_filled_in() {
        let r = report(
            "[[mapping]]\nsalesforce_object = \"Case\"\nhubspot_object = \"p42_ticket_mirror\"\n\
             [mapping.fields]\nSubject = \"subject\"\n[[mapping.associations]]\nfield = \"AccountId\"\n\
             to_hubspot_object = \"companies\"\nby_property = \"salesforceaccountid\"\nassociation_type_id = 7\n",
        );
        assert!(r.problems.is_empty(), "{r}");
        let located = &r.mappings[0];
        let mapping = &located.mapping;
        assert_eq!(mapping.id_property, DEFAULT_ID_PROPERTY);
        assert_eq!(mapping.status, MappingStatus::Draft);
        assert_eq!(mapping.on_delete, DeleteRule::Archive);
        assert_eq!(
            mapping.hubspot_object,
            HubSpotObjectRef::FullyQualifiedName("p42_ticket_mirror".into())
        );
        assert_eq!(mapping.associations[0].association_type_id, Some(7));
        assert_eq!(
            located.lines,
            MappingLines {
                salesforce_object: 2,
                hubspot_object: 3,
                id_property: 1,
                fields: vec![5],
                associations: vec![6],
            }
        );
    }

    #[test]
    fn compound_components_are_checked() {
        let r = report(
            "[[mapping]]\nsalesforce_object = \"Site__c\"\nhubspot_object = \"site\"\n\
             [mapping.fields]\n\"BillingAddress.Town\" = \"town\"\n\"Name.LastName\" = \"last_name\"\n",
        );
        let lines: Vec<String> = r.problems.iter().map(Problem::headline).collect();
        assert_eq!(
            lines,
            ["m.toml:5: error: `Town` is not a component of a compound field"]
        );
    }

    #[test]
    fn an_opt_in_that_is_not_needed_is_a_warning() {
        let r = report(
            "[[mapping]]\nsalesforce_object = \"Invoice__c\"\nhubspot_object = \"invoice\"\n\
             allow_unsupported_standard_object = true\n[mapping.fields]\nName = \"name\"\n",
        );
        assert!(r.is_ok());
        let lines: Vec<String> = r.problems.iter().map(Problem::headline).collect();
        assert_eq!(
            lines,
            [
                "m.toml:4: warning: `allow_unsupported_standard_object` is not needed for `Invoice__c`"
            ]
        );
    }

    #[test]
    fn a_misspelt_standard_object_gets_a_suggestion() {
        let r = report(
            "[[mapping]]\nsalesforce_object = \"Casee\"\nhubspot_object = \"x\"\n[mapping.fields]\nName = \"n\"\n",
        );
        assert_eq!(r.problems.len(), 1);
        assert!(
            r.problems[0].hint.starts_with("did you mean `Case`?"),
            "{}",
            r.problems[0].hint
        );
    }

    #[test]
    fn quoted_lists_read_naturally() {
        assert_eq!(quoted_list(&["a", "b", "c"]), "`a`, `b` or `c`");
        assert_eq!(quoted_list(&["a"]), "`a`");
    }
}
