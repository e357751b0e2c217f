//! The mapping file format: TOML, read into a spanned tree so every problem can name its line.
//!
//! One file holds one or more mappings; several files may be validated together (a mapping may
//! associate to an object mapped in another file).
//!
//! ```toml
//! [[mapping]]
//! salesforce_object = "Invoice__c"    # required: a custom object (`__c`) or a supported standard object
//! hubspot_object = "invoice"          # required: name, fullyQualifiedName (p123_invoice) or objectTypeId (2-123456)
//! id_property = "salesforce_id"       # optional (default `salesforce_id`): unique text property holding the Salesforce id
//! status = "active"                   # optional: active | draft | paused (default draft)
//! on_delete = "archive"               # optional: archive | keep (default archive)
//! allow_unsupported_standard_object = false   # optional: opt in to a standard object outside the supported list
//!
//! [mapping.fields]                    # Salesforce field = HubSpot property
//! Name = "invoice_number"
//! Amount__c = { property = "amount", convert = "number" }   # convert: auto | string | number | bool | date |
//!                                                           #          datetime | enumeration | multi_enumeration
//! "BillingAddress.City" = "billing_city"                    # a compound field's component (quoted: it has a dot)
//!
//! [[mapping.associations]]            # a lookup / master-detail field synced as a HubSpot association
//! field = "Account__c"
//! to_hubspot_object = "companies"     # a HubSpot object found by the property holding the Salesforce id…
//! by_property = "salesforceaccountid"
//! association_type_id = 12            # optional: a USER_DEFINED association type
//!
//! [[mapping.associations]]
//! field = "Parent_Invoice__c"
//! to_mapped_object = "Invoice__c"     # …or another Salesforce object mapped in the files validated together
//! ```
//!
//! This module only reads the shape: unknown keys, values of the wrong TOML type, missing required
//! keys and TOML syntax errors. What the values mean is checked in `validate`.

use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use super::report::{Problem, ProblemSink};
use super::suggest::did_you_mean;

/// A value and the 1-based line it was written on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct At<T> {
    pub value: T,
    pub line: usize,
}

/// One file, read as far as its shape allows.
#[derive(Debug, Default)]
pub(crate) struct RawFile {
    pub mappings: Vec<RawMapping>,
    pub problems: Vec<Problem>,
    /// False when a TOML syntax error stopped the reading: the file's mappings are then unknown,
    /// so checks across files (is the association's target mapped?) must not trust the list.
    pub complete: bool,
}

#[derive(Debug, Default)]
pub(crate) struct RawMapping {
    /// The `[[mapping]]` line.
    pub line: usize,
    pub salesforce_object: Option<At<String>>,
    pub hubspot_object: Option<At<String>>,
    pub id_property: Option<At<String>>,
    pub status: Option<At<String>>,
    pub on_delete: Option<At<String>>,
    pub allow_unsupported_standard_object: Option<At<bool>>,
    /// In file order.
    pub fields: Vec<RawField>,
    pub associations: Vec<RawAssociation>,
}

#[derive(Debug)]
pub(crate) struct RawField {
    pub salesforce_field: At<String>,
    pub property: At<String>,
    pub convert: Option<At<String>>,
}

#[derive(Debug)]
pub(crate) struct RawAssociation {
    /// The `[[mapping.associations]]` line.
    pub line: usize,
    pub field: At<String>,
    pub target: RawTarget,
    pub association_type_id: Option<At<i64>>,
}

#[derive(Debug)]
pub(crate) enum RawTarget {
    MappedObject(At<String>),
    HubSpotObject {
        object: At<String>,
        by_property: At<String>,
    },
}

pub(crate) const MAPPING_KEYS: &[&str] = &[
    "salesforce_object",
    "hubspot_object",
    "id_property",
    "status",
    "on_delete",
    "allow_unsupported_standard_object",
    "fields",
    "associations",
];
const FIELD_KEYS: &[&str] = &["property", "convert"];
const ASSOCIATION_KEYS: &[&str] = &[
    "field",
    "to_mapped_object",
    "to_hubspot_object",
    "by_property",
    "association_type_id",
];

/// Reads one file's text.
pub(crate) fn read_source(file: &str, text: &str) -> RawFile {
    let mut reader = Reader::new(file, text);
    let (document, errors) = DeTable::parse_recoverable(text);
    let mut complete = true;
    let mut syntax_error_reported = false;
    for error in &errors {
        let offset = error.span().map_or(0, |span| span.start);
        if error.message().starts_with("duplicate key") {
            reader.duplicate_key(document.get_ref(), offset, error.span());
        } else {
            // The parser recovers and may report follow-on errors for one mistake; the first is the
            // one the user made, so report only it.
            complete = false;
            if !syntax_error_reported {
                syntax_error_reported = true;
                reader.syntax_error(offset, error.message());
            }
        }
    }
    let mut mappings = Vec::new();
    if complete {
        mappings = reader.document(document.get_ref());
    }
    RawFile {
        mappings,
        problems: reader.problems,
        complete,
    }
}

struct Reader<'a> {
    file: &'a str,
    text: &'a str,
    /// Byte offset where each line starts, for offset → line.
    line_starts: Vec<usize>,
    problems: Vec<Problem>,
}

type Entry<'t, 'i> = (&'t Spanned<DeString<'i>>, &'t Spanned<DeValue<'i>>);

impl ProblemSink for Reader<'_> {
    fn file(&self) -> &str {
        self.file
    }

    fn problems(&mut self) -> &mut Vec<Problem> {
        &mut self.problems
    }
}

impl<'a> Reader<'a> {
    fn new(file: &'a str, text: &'a str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self {
            file,
            text,
            line_starts,
            problems: Vec::new(),
        }
    }

    fn line(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(index) => index + 1,
            Err(index) => index,
        }
    }

    fn syntax_error(&mut self, offset: usize, toml_message: &str) {
        let line = self.line(offset);
        // The commonest mistake is text without quotes, which TOML reports as a bad number or
        // boolean: say it plainly.
        let line_text = self
            .text
            .lines()
            .nth(line.saturating_sub(1))
            .unwrap_or_default();
        if let Some((key, value)) = line_text.split_once('=') {
            let (key, value) = (key.trim(), value.trim());
            let bare_word = value
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
                && value != "true"
                && value != "false";
            if bare_word {
                self.error(
                    line,
                    format!("the value of `{}` must be in quotes", unquote(key)),
                    format!("write `{key} = \"{value}\"`"),
                );
                return;
            }
        }
        let message = format!(
            "this is not valid TOML: {}",
            toml_message.lines().next().unwrap_or(toml_message)
        );
        self.error(
            line,
            message,
            "each setting is `key = value`; text goes in quotes (`status = \"active\"`) and a \
             mapping starts with `[[mapping]]`; see examples/README.md"
                .into(),
        );
    }

    /// TOML refuses a key set twice in one table. In `fields` that is a Salesforce field mapped
    /// twice, which is worth saying in those words.
    fn duplicate_key(
        &mut self,
        document: &DeTable<'_>,
        offset: usize,
        span: Option<std::ops::Range<usize>>,
    ) {
        let line = self.line(offset);
        let key_text = span
            .and_then(|span| self.text.get(span))
            .unwrap_or_default();
        let key = unquote(key_text);
        // The first definition is the nearest earlier key with the same name: a table's keys sit
        // together in the file.
        let mut first: Option<(usize, KeyPlace)> = None;
        visit_keys(document, KeyPlace::Other, &mut |name, start, place| {
            if name == key && start < offset && first.is_none_or(|(s, _)| start > s) {
                first = Some((start, place));
            }
        });
        let first_line = first.map(|(start, _)| self.line(start));
        let also = first_line
            .map(|l| format!("line {l} has it already"))
            .unwrap_or_else(|| "it is already set above".into());
        match first.map(|(_, place)| place) {
            Some(KeyPlace::Fields) => self.error(
                line,
                format!("Salesforce field `{key}` is mapped twice"),
                format!(
                    "{also}; a field is written to one HubSpot property: keep one of the two lines"
                ),
            ),
            Some(KeyPlace::Mapping) if key == "fields" => self.error(
                line,
                "this mapping has a second `[mapping.fields]` table".into(),
                format!("{also}; put all of the mapping's fields under one `[mapping.fields]`"),
            ),
            Some(KeyPlace::Mapping) => self.error(
                line,
                format!("`{key}` is set twice in this mapping"),
                format!("{also}; keep one of the two lines"),
            ),
            _ if key == "mapping" => self.error(
                line,
                "`[mapping]` is written with single brackets next to `[[mapping]]`".into(),
                "start every mapping with `[[mapping]]` (double brackets)".into(),
            ),
            _ => self.error(
                line,
                format!("`{key}` is set twice"),
                format!("{also}; keep one of the two lines"),
            ),
        }
    }

    fn document(&mut self, document: &DeTable<'_>) -> Vec<RawMapping> {
        let mut mappings = Vec::new();
        let mut found_mapping_key = false;
        for (key, value) in sorted_entries(document) {
            let line = self.line(key.span().start);
            if key.get_ref() != "mapping" {
                self.unknown_key(line, key.get_ref(), &["mapping"], "at the top of the file");
                continue;
            }
            found_mapping_key = true;
            match value.get_ref() {
                DeValue::Array(array) => {
                    for element in array.iter() {
                        let element_line = self.line(element.span().start);
                        match element.get_ref() {
                            DeValue::Table(table) => {
                                mappings.push(self.mapping(element_line, table));
                            }
                            other => self.error(
                                element_line,
                                format!("a mapping must be a table, not a {}", other.type_str()),
                                "start each mapping with a `[[mapping]]` line".into(),
                            ),
                        }
                    }
                }
                DeValue::Table(_) => self.error(
                    line,
                    "`[mapping]` is written with single brackets".into(),
                    "write `[[mapping]]` (double brackets): a file holds a list of mappings".into(),
                ),
                other => self.error(
                    line,
                    format!(
                        "`mapping` must be a list of tables, not a {}",
                        other.type_str()
                    ),
                    "start each mapping with a `[[mapping]]` line".into(),
                ),
            }
        }
        if !found_mapping_key {
            self.warning(
                1,
                "this file has no mappings".into(),
                "start each mapping with a `[[mapping]]` line; see examples/README.md".into(),
            );
        }
        mappings
    }

    fn mapping(&mut self, line: usize, table: &DeTable<'_>) -> RawMapping {
        let mut mapping = RawMapping {
            line,
            ..RawMapping::default()
        };
        for (key, value) in sorted_entries(table) {
            let key_line = self.line(key.span().start);
            match key.get_ref().as_ref() {
                "salesforce_object" => {
                    mapping.salesforce_object =
                        self.string(key_line, "salesforce_object", value, "\"Invoice__c\"");
                }
                "hubspot_object" => {
                    mapping.hubspot_object =
                        self.string(key_line, "hubspot_object", value, "\"invoice\"");
                }
                "id_property" => {
                    mapping.id_property =
                        self.string(key_line, "id_property", value, "\"salesforce_id\"");
                }
                "status" => {
                    mapping.status = self.string(key_line, "status", value, "\"active\"");
                }
                "on_delete" => {
                    mapping.on_delete = self.string(key_line, "on_delete", value, "\"archive\"");
                }
                "allow_unsupported_standard_object" => {
                    mapping.allow_unsupported_standard_object =
                        self.boolean(key_line, "allow_unsupported_standard_object", value);
                }
                "fields" => mapping.fields = self.fields(key_line, value),
                "associations" => mapping.associations = self.associations(key_line, value),
                other => self.unknown_key(key_line, other, MAPPING_KEYS, "in a mapping"),
            }
        }
        for (required, example) in [
            ("salesforce_object", "salesforce_object = \"Invoice__c\""),
            ("hubspot_object", "hubspot_object = \"invoice\""),
        ] {
            if !table.contains_key(required) {
                self.error(
                    line,
                    format!("this mapping has no `{required}`"),
                    format!("add a line such as `{example}` under `[[mapping]]`"),
                );
            }
        }
        mapping
    }

    fn fields(&mut self, line: usize, value: &Spanned<DeValue<'_>>) -> Vec<RawField> {
        let DeValue::Table(table) = value.get_ref() else {
            self.error(
                line,
                format!(
                    "`fields` must be a table, not a {}",
                    value.get_ref().type_str()
                ),
                "write `[mapping.fields]` and one `SalesforceField = \"hubspot_property\"` line \
                 per field below it"
                    .into(),
            );
            return Vec::new();
        };
        let mut fields = Vec::new();
        for (key, value) in sorted_entries(table) {
            let key_line = self.line(key.span().start);
            let salesforce_field = At {
                value: key.get_ref().to_string(),
                line: key_line,
            };
            match value.get_ref() {
                DeValue::String(property) => fields.push(RawField {
                    salesforce_field,
                    property: At {
                        value: property.to_string(),
                        line: self.line(value.span().start),
                    },
                    convert: None,
                }),
                DeValue::Table(options) => {
                    for (option, _) in sorted_entries(options) {
                        if !FIELD_KEYS.contains(&option.get_ref().as_ref()) {
                            let option_line = self.line(option.span().start);
                            self.unknown_key(
                                option_line,
                                option.get_ref(),
                                FIELD_KEYS,
                                &format!("in the mapping of field `{}`", salesforce_field.value),
                            );
                        }
                    }
                    let property = options
                        .get("property")
                        .and_then(|v| self.string(key_line, "property", v, "\"amount\""));
                    let convert = options
                        .get("convert")
                        .and_then(|v| self.string(key_line, "convert", v, "\"number\""));
                    match property {
                        Some(property) => fields.push(RawField {
                            salesforce_field,
                            property,
                            convert,
                        }),
                        None if !options.contains_key("property") => self.error(
                            key_line,
                            format!(
                                "the mapping of Salesforce field `{}` has no `property`",
                                salesforce_field.value
                            ),
                            format!(
                                "name the HubSpot property: `{} = {{ property = \"…\", convert = \
                                 \"…\" }}`",
                                toml_key(&salesforce_field.value)
                            ),
                        ),
                        None => {}
                    }
                }
                other => self.error(
                    key_line,
                    format!(
                        "Salesforce field `{}` must be mapped to a HubSpot property name in \
                         quotes, not a {}",
                        salesforce_field.value,
                        other.type_str()
                    ),
                    format!(
                        "write `{} = \"hubspot_property\"`",
                        toml_key(&salesforce_field.value)
                    ),
                ),
            }
        }
        fields
    }

    fn associations(&mut self, line: usize, value: &Spanned<DeValue<'_>>) -> Vec<RawAssociation> {
        let DeValue::Array(array) = value.get_ref() else {
            self.error(
                line,
                format!(
                    "`associations` must be a list of tables, not a {}",
                    value.get_ref().type_str()
                ),
                "start each association with a `[[mapping.associations]]` line".into(),
            );
            return Vec::new();
        };
        let mut associations = Vec::new();
        for element in array.iter() {
            let element_line = self.line(element.span().start);
            let DeValue::Table(table) = element.get_ref() else {
                self.error(
                    element_line,
                    format!(
                        "an association must be a table, not a {}",
                        element.get_ref().type_str()
                    ),
                    "start each association with a `[[mapping.associations]]` line".into(),
                );
                continue;
            };
            if let Some(association) = self.association(element_line, table) {
                associations.push(association);
            }
        }
        associations
    }

    fn association(&mut self, line: usize, table: &DeTable<'_>) -> Option<RawAssociation> {
        let mut field = None;
        let mut to_mapped_object = None;
        let mut to_hubspot_object = None;
        let mut by_property = None;
        let mut association_type_id = None;
        let mut shape_ok = true;
        for (key, value) in sorted_entries(table) {
            let key_line = self.line(key.span().start);
            let slot = match key.get_ref().as_ref() {
                "field" => self
                    .string(key_line, "field", value, "\"Account__c\"")
                    .map(|v| field = Some(v)),
                "to_mapped_object" => self
                    .string(key_line, "to_mapped_object", value, "\"Project__c\"")
                    .map(|v| to_mapped_object = Some(v)),
                "to_hubspot_object" => self
                    .string(key_line, "to_hubspot_object", value, "\"companies\"")
                    .map(|v| to_hubspot_object = Some(v)),
                "by_property" => self
                    .string(key_line, "by_property", value, "\"salesforceaccountid\"")
                    .map(|v| by_property = Some(v)),
                "association_type_id" => self
                    .integer(key_line, "association_type_id", value)
                    .map(|v| association_type_id = Some(v)),
                other => {
                    self.unknown_key(key_line, other, ASSOCIATION_KEYS, "in an association");
                    Some(())
                }
            };
            shape_ok &= slot.is_some();
        }
        if field.is_none() && !table.contains_key("field") {
            self.error(
                line,
                "this association has no `field`".into(),
                "name the lookup or master-detail field, e.g. `field = \"Account__c\"`".into(),
            );
        }
        let field_name = field
            .as_ref()
            .map_or_else(|| "…".to_owned(), |f| format!("`{}`", f.value));
        let target = match (to_mapped_object, to_hubspot_object) {
            (Some(_), Some(hubspot)) => {
                self.error(
                    hubspot.line,
                    format!("the association of {field_name} has both `to_mapped_object` and `to_hubspot_object`"),
                    "keep one: `to_mapped_object` for an object mapped in these files, \
                     `to_hubspot_object` with `by_property` for a HubSpot object such as companies"
                        .into(),
                );
                None
            }
            (Some(mapped), None) => {
                if let Some(by) = &by_property {
                    self.error(
                        by.line,
                        "`by_property` only goes with `to_hubspot_object`".into(),
                        "remove it: an association to a mapped object finds its records by that \
                         mapping's id property"
                            .into(),
                    );
                }
                Some(RawTarget::MappedObject(mapped))
            }
            (None, Some(object)) => match by_property {
                Some(by_property) => Some(RawTarget::HubSpotObject {
                    object,
                    by_property,
                }),
                None => {
                    if !table.contains_key("by_property") {
                        let example = match object.value.as_str() {
                            "contacts" => "salesforcecontactid",
                            "deals" => "salesforceopportunityid",
                            _ => "salesforceaccountid",
                        };
                        self.error(
                            object.line,
                            format!("the association of {field_name} has `to_hubspot_object` but no `by_property`"),
                            format!(
                                "name the `{}` property that holds the Salesforce id, e.g. \
                                 `by_property = \"{example}\"`",
                                object.value
                            ),
                        );
                    }
                    None
                }
            },
            (None, None) => {
                if shape_ok {
                    self.error(
                        line,
                        format!("the association of {field_name} has no target"),
                        "add `to_mapped_object = \"Project__c\"` (an object mapped in these \
                         files) or `to_hubspot_object = \"companies\"` with `by_property = \
                         \"salesforceaccountid\"`"
                            .into(),
                    );
                }
                None
            }
        };
        Some(RawAssociation {
            line,
            field: field?,
            target: target?,
            association_type_id,
        })
    }

    fn unknown_key(&mut self, line: usize, key: &str, allowed: &[&str], place: &str) {
        let suggestion = did_you_mean(key, allowed.iter().copied());
        let list = allowed
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ");
        self.error(
            line,
            format!("unknown key `{key}` {place}"),
            format!("{suggestion}the keys allowed here are {list}"),
        );
    }

    fn string(
        &mut self,
        line: usize,
        key: &str,
        value: &Spanned<DeValue<'_>>,
        example: &str,
    ) -> Option<At<String>> {
        match value.get_ref() {
            DeValue::String(text) => Some(At {
                value: text.to_string(),
                line: self.line(value.span().start),
            }),
            other => {
                self.error(
                    line,
                    format!("`{key}` must be text, not a {}", other.type_str()),
                    format!("put it in quotes, e.g. `{key} = {example}`"),
                );
                None
            }
        }
    }

    fn boolean(
        &mut self,
        line: usize,
        key: &str,
        value: &Spanned<DeValue<'_>>,
    ) -> Option<At<bool>> {
        match value.get_ref() {
            DeValue::Boolean(flag) => Some(At {
                value: *flag,
                line: self.line(value.span().start),
            }),
            other => {
                self.error(
                    line,
                    format!(
                        "`{key}` must be `true` or `false`, not a {}",
                        other.type_str()
                    ),
                    format!("write it without quotes, e.g. `{key} = true`"),
                );
                None
            }
        }
    }

    fn integer(&mut self, line: usize, key: &str, value: &Spanned<DeValue<'_>>) -> Option<At<i64>> {
        let number = match value.get_ref() {
            DeValue::Integer(integer) => {
                i64::from_str_radix(integer.as_str(), integer.radix()).ok()
            }
            _ => None,
        };
        match number {
            Some(number) => Some(At {
                value: number,
                line: self.line(value.span().start),
            }),
            None => {
                self.error(
                    line,
                    format!(
                        "`{key}` must be a whole number, not a {}",
                        value.get_ref().type_str()
                    ),
                    format!("write it without quotes, e.g. `{key} = 12`"),
                );
                None
            }
        }
    }
}

/// Where a key sits, to word duplicate-key errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyPlace {
    /// Directly in a `[[mapping]]` table.
    Mapping,
    /// In a mapping's `fields` table.
    Fields,
    Other,
}

/// Calls `visit(name, offset, place)` for every key in the tree.
fn visit_keys(table: &DeTable<'_>, place: KeyPlace, visit: &mut dyn FnMut(&str, usize, KeyPlace)) {
    for (key, value) in table.iter() {
        visit(key.get_ref(), key.span().start, place);
        let child_place = match (place, key.get_ref().as_ref()) {
            (KeyPlace::Mapping, "fields") => KeyPlace::Fields,
            _ => KeyPlace::Other,
        };
        match value.get_ref() {
            DeValue::Table(child) => visit_keys(child, child_place, visit),
            DeValue::Array(array) => {
                let element_place = match (place, key.get_ref().as_ref()) {
                    (KeyPlace::Other, "mapping") => KeyPlace::Mapping,
                    _ => KeyPlace::Other,
                };
                for element in array.iter() {
                    if let DeValue::Table(child) = element.get_ref() {
                        visit_keys(child, element_place, visit);
                    }
                }
            }
            _ => {}
        }
    }
}

/// A table's entries in file order (the parser keeps them sorted by name).
fn sorted_entries<'t, 'i>(table: &'t DeTable<'i>) -> Vec<Entry<'t, 'i>> {
    let mut entries: Vec<Entry<'t, 'i>> = table.iter().collect();
    entries.sort_by_key(|(key, _)| key.span().start);
    entries
}

/// A key as written in the file, without its quotes.
fn unquote(key: &str) -> &str {
    let key = key.trim();
    for quote in ['"', '\''] {
        if let Some(inner) = key.strip_prefix(quote).and_then(|k| k.strip_suffix(quote)) {
            return inner;
        }
    }
    key
}

/// A key as it must be written in TOML: quoted when it holds a dot or other special characters.
pub(crate) fn toml_key(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_owned()
    } else {
        format!("\"{key}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headlines(text: &str) -> Vec<String> {
        read_source("m.toml", text)
            .problems
            .iter()
            .map(Problem::headline)
            .collect()
    }

    #[test]
    fn fields_keep_file_order_and_lines() {
        let text = "[[mapping]]\nsalesforce_object = \"Invoice__c\"\nhubspot_object = \"invoice\"\n\n\
                    [mapping.fields]\nZeta__c = \"zeta\"\nAlpha__c = { property = \"alpha\", convert = \"number\" }\n\
                    \"BillingAddress.City\" = \"city\"\n";
        let file = read_source("m.toml", text);
        assert!(file.problems.is_empty(), "{:?}", file.problems);
        let mapping = &file.mappings[0];
        assert_eq!(mapping.line, 1);
        let fields: Vec<(&str, usize)> = mapping
            .fields
            .iter()
            .map(|f| (f.salesforce_field.value.as_str(), f.salesforce_field.line))
            .collect();
        assert_eq!(
            fields,
            [("Zeta__c", 6), ("Alpha__c", 7), ("BillingAddress.City", 8)]
        );
        assert_eq!(mapping.fields[1].convert.as_ref().map(|c| c.line), Some(7));
    }

    #[test]
    fn single_brackets_and_wrong_types_are_explained() {
        assert_eq!(
            headlines("[mapping]\nsalesforce_object = \"Invoice__c\"\n"),
            ["m.toml:1: error: `[mapping]` is written with single brackets"]
        );
        assert_eq!(
            headlines(
                "[[mapping]]\nsalesforce_object = 12\nhubspot_object = \"x\"\n\
                 allow_unsupported_standard_object = \"yes\"\nfields = \"Name\"\n"
            ),
            [
                "m.toml:2: error: `salesforce_object` must be text, not a integer",
                "m.toml:4: error: `allow_unsupported_standard_object` must be `true` or `false`, not a string",
                "m.toml:5: error: `fields` must be a table, not a string",
            ]
        );
    }

    #[test]
    fn an_empty_file_is_a_warning_and_an_unknown_top_level_key_an_error() {
        assert_eq!(
            headlines(""),
            ["m.toml:1: warning: this file has no mappings"]
        );
        assert_eq!(
            headlines("mappings = []\n"),
            [
                "m.toml:1: error: unknown key `mappings` at the top of the file",
                "m.toml:1: warning: this file has no mappings",
            ]
        );
    }

    #[test]
    fn only_the_first_of_several_syntax_errors_is_reported_and_reading_stops() {
        let file = read_source(
            "m.toml",
            "[[mapping]\nsalesforce_object = \"A__c\"\nx = = 1\n",
        );
        assert!(!file.complete);
        assert!(file.mappings.is_empty());
        assert_eq!(file.problems.len(), 1);
        assert_eq!(file.problems[0].line, 1);
        assert!(
            file.problems[0]
                .message
                .starts_with("this is not valid TOML: ")
        );
    }

    #[test]
    fn a_key_set_twice_in_a_mapping_is_reported_and_reading_goes_on() {
        let text = "[[mapping]]\nstatus = \"active\"\nstatus = \"draft\"\nsalesforce_object = \"A__c\"\nhubspot_object = \"a\"\n";
        let file = read_source("m.toml", text);
        assert!(file.complete);
        assert_eq!(file.mappings.len(), 1);
        let lines: Vec<String> = file.problems.iter().map(Problem::headline).collect();
        assert_eq!(
            lines,
            ["m.toml:3: error: `status` is set twice in this mapping"]
        );
        assert_eq!(
            file.problems[0].hint,
            "line 2 has it already; keep one of the two lines"
        );
    }
}
