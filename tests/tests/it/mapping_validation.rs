//! Mapping file validation end to end: broken files from `tests/fixtures/mappings/` (one per kind
//! of problem, plus one with many), the examples, JSON round-trips and live-schema checks against
//! an in-memory catalogue.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use sf2hs_shared::mapping::schema::{
    HubSpotObjectSchema, HubSpotProperty, HubSpotPropertyType, SalesforceField,
    SalesforceFieldType, SalesforceObjectSchema, SchemaError, SchemaSource,
};
use sf2hs_shared::mapping::{
    HubSpotObjectRef, LocatedMapping, Mapping, ValidationReport, load_files, validate_live,
    validate_sources,
};

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn validate_fixture(name: &str) -> ValidationReport {
    let text = std::fs::read_to_string(repo_path("fixtures/mappings").join(name))
        .expect("fixture is readable");
    validate_sources(&[(name.to_owned(), text)])
}

/// `file:line: severity: message` of every problem, in report order.
fn headlines(report: &ValidationReport) -> Vec<String> {
    report.problems.iter().map(|p| p.headline()).collect()
}

fn fixture_headlines(name: &str) -> Vec<String> {
    headlines(&validate_fixture(name))
}

#[test]
fn a_toml_syntax_error_is_one_problem_with_its_line() {
    let report = validate_fixture("syntax_error.toml");
    assert_eq!(
        headlines(&report),
        ["syntax_error.toml:3: error: the value of `hubspot_object` must be in quotes"]
    );
    assert_eq!(
        report.problems[0].hint,
        "write `hubspot_object = \"invoice\"`"
    );
    assert!(!report.is_ok());
}

#[test]
fn a_field_mapped_twice_is_reported_in_words() {
    let report = validate_fixture("duplicate_field.toml");
    assert_eq!(
        headlines(&report),
        ["duplicate_field.toml:9: error: Salesforce field `Amount__c` is mapped twice"]
    );
    assert_eq!(
        report.problems[0].to_string(),
        "duplicate_field.toml:9: error: Salesforce field `Amount__c` is mapped twice\n  hint: \
         line 7 has it already; a field is written to one HubSpot property: keep one of the two \
         lines"
    );
}

#[test]
fn a_field_mapped_twice_in_another_case_is_reported() {
    let text = "[[mapping]]\nsalesforce_object = \"Invoice__c\"\nhubspot_object = \
                \"invoice\"\n[mapping.fields]\nAmount__c = \"amount\"\namount__c = \"total\"\n";
    let report = validate_sources(&[("case.toml".into(), text.into())]);
    assert_eq!(
        headlines(&report),
        ["case.toml:6: error: Salesforce field `amount__c` is mapped twice"]
    );
    assert_eq!(
        report.problems[0].hint,
        "line 5 maps it already as `Amount__c` (Salesforce names ignore case); keep one of the \
         two lines"
    );
}

#[test]
fn unknown_keys_are_reported_with_suggestions() {
    let report = validate_fixture("unknown_keys.toml");
    assert_eq!(
        headlines(&report),
        [
            "unknown_keys.toml:1: error: this mapping has no `salesforce_object`",
            "unknown_keys.toml:2: error: unknown key `salesforce_objet` in a mapping",
            "unknown_keys.toml:4: error: unknown key `colour` in a mapping",
            "unknown_keys.toml:8: error: unknown key `conver` in the mapping of field `Amount__c`",
            "unknown_keys.toml:12: error: the association of `Account__c` has `to_hubspot_object` but no `by_property`",
            "unknown_keys.toml:13: error: unknown key `by_propery` in an association",
        ]
    );
    assert!(
        report.problems[1]
            .hint
            .starts_with("did you mean `salesforce_object`? the keys allowed here are")
    );
    assert!(!report.problems[2].hint.contains("did you mean"));
    assert!(
        report.problems[3]
            .hint
            .starts_with("did you mean `convert`?")
    );
    assert!(
        report.problems[5]
            .hint
            .starts_with("did you mean `by_property`?")
    );
}

#[test]
fn core_sync_objects_are_refused_as_sources() {
    let report = validate_fixture("core_sync_object.toml");
    assert_eq!(
        headlines(&report),
        [
            "core_sync_object.toml:2: error: `Account` is synced by the HubSpot native connector's core sync, not as a custom object"
        ]
    );
    assert_eq!(
        report.problems[0].hint,
        "link your objects to it with an association instead (`to_hubspot_object = \
         \"companies\"`, `by_property = \"salesforceaccountid\"`); to map it anyway, set \
         `allow_unsupported_standard_object = true`"
    );
}

#[test]
fn unsupported_standard_objects_need_the_opt_in() {
    let report = validate_fixture("unsupported_standard_object.toml");
    // `QuoteLineItem` opts in (line 9), so only `Quote` is refused.
    assert_eq!(
        headlines(&report),
        [
            "unsupported_standard_object.toml:2: error: standard object `Quote` is not in the supported list"
        ]
    );
    assert!(
        report.problems[0]
            .hint
            .starts_with("to map it anyway, set `allow_unsupported_standard_object = true`")
    );
    assert_eq!(report.mappings.len(), 2);
    assert!(report.mappings[1].mapping.allow_unsupported_standard_object);
}

#[test]
fn names_that_are_not_api_names_are_refused() {
    assert_eq!(
        fixture_headlines("invalid_object_name.toml"),
        [
            "invalid_object_name.toml:2: error: `Invoice c` is not a Salesforce object API name",
            "invalid_object_name.toml:7: error: `Amount c` is not a Salesforce field API name",
        ]
    );
}

#[test]
fn duplicate_mappings_are_reported_on_the_second_one() {
    let report = validate_fixture("duplicate_mapping.toml");
    assert_eq!(
        headlines(&report),
        [
            "duplicate_mapping.toml:9: error: Salesforce object `Invoice__c` is mapped twice",
            "duplicate_mapping.toml:17: error: HubSpot object `invoice` is the target of two mappings",
        ]
    );
    assert_eq!(
        report.problems[0].hint,
        "duplicate_mapping.toml:1 maps it already; keep one mapping per Salesforce object, with \
         all its fields"
    );
}

#[test]
fn duplicate_mappings_are_found_across_files() {
    let invoices = std::fs::read_to_string(repo_path("../examples/invoices.toml")).unwrap();
    let report = validate_sources(&[
        ("a.toml".into(), invoices.clone()),
        ("b.toml".into(), invoices),
    ]);
    assert_eq!(
        headlines(&report),
        [
            "b.toml:5: error: Salesforce object `Invoice__c` is mapped twice",
            "b.toml:6: error: HubSpot object `invoice` is the target of two mappings",
            "b.toml:29: error: Salesforce object `Invoice_Correction__c` is mapped twice",
            "b.toml:30: error: HubSpot object `p7878787_invoice_correction` is the target of two mappings",
        ]
    );
}

#[test]
fn a_property_written_by_two_fields_is_reported() {
    let report = validate_fixture("property_written_twice.toml");
    assert_eq!(
        headlines(&report),
        [
            "property_written_twice.toml:7: error: HubSpot property `amount` is written by two fields"
        ]
    );
    assert_eq!(
        report.problems[0].hint,
        "`Amount__c` (line 6) writes it already; a property holds one value: map one of them to \
         another property"
    );
}

#[test]
fn association_targets_must_be_mapped_in_the_files_given() {
    let report = validate_fixture("unmapped_association_target.toml");
    assert_eq!(
        headlines(&report),
        [
            "unmapped_association_target.toml:10: error: association target `Project__c` is not mapped in the files given",
            "unmapped_association_target.toml:14: error: association target `Account` is not mapped in the files given",
        ]
    );
    assert_eq!(
        report.problems[1].hint,
        "`Account` is synced by the native connector: use `to_hubspot_object = \"companies\"` \
         with `by_property = \"salesforceaccountid\"` instead"
    );

    // Mapped in another file given at the same time: only `Account` is left.
    let text = std::fs::read_to_string(repo_path(
        "fixtures/mappings/unmapped_association_target.toml",
    ))
    .unwrap();
    let projects = "[[mapping]]\nsalesforce_object = \"Project__c\"\nhubspot_object = \"project\"\n[mapping.fields]\nName = \"project_name\"\n";
    let report = validate_sources(&[
        ("tasks.toml".into(), text),
        ("projects.toml".into(), projects.into()),
    ]);
    assert_eq!(
        headlines(&report),
        ["tasks.toml:14: error: association target `Account` is not mapped in the files given"]
    );
}

#[test]
fn associations_need_exactly_one_target() {
    assert_eq!(
        fixture_headlines("association_target.toml"),
        [
            "association_target.toml:8: error: the association of `Account__c` has no target",
            "association_target.toml:14: error: the association of `Account__c` has both `to_mapped_object` and `to_hubspot_object`",
            "association_target.toml:19: error: the association of `Contact__c` has `to_hubspot_object` but no `by_property`",
        ]
    );
}

#[test]
fn the_id_property_must_be_named_and_not_mapped_onto() {
    assert_eq!(
        fixture_headlines("id_property.toml"),
        [
            "id_property.toml:4: error: `id_property` is empty",
            "id_property.toml:15: error: Salesforce field `Legacy_Id__c` is mapped onto the id property `salesforce_id`",
        ]
    );
}

#[test]
fn bad_status_delete_rule_and_convert_names_list_the_valid_ones() {
    let report = validate_fixture("bad_values.toml");
    assert_eq!(
        headlines(&report),
        [
            "bad_values.toml:4: error: `activ` is not a valid `status`",
            "bad_values.toml:5: error: `delete` is not a valid `on_delete`",
            "bad_values.toml:9: error: `decimal` is not a valid `convert`",
        ]
    );
    let hints: Vec<&str> = report.problems.iter().map(|p| p.hint.as_str()).collect();
    assert_eq!(
        hints,
        [
            "did you mean `active`? use one of `active`, `draft` or `paused`",
            "use one of `archive` or `keep`",
            "use one of `auto`, `string`, `number`, `bool`, `date`, `datetime`, `enumeration` or \
             `multi_enumeration`",
        ]
    );
}

#[test]
fn missing_required_keys_point_at_the_mapping() {
    let report = validate_fixture("missing_keys.toml");
    assert_eq!(
        headlines(&report),
        [
            "missing_keys.toml:1: error: this mapping has no `salesforce_object`",
            "missing_keys.toml:7: error: this mapping has no `hubspot_object`",
        ]
    );
    assert!(report.mappings.is_empty());
}

#[test]
fn every_problem_of_a_file_is_reported_at_once() {
    assert_eq!(
        fixture_headlines("many_problems.toml"),
        [
            "many_problems.toml:3: error: `Lead` is synced by the HubSpot native connector's core sync, not as a custom object",
            "many_problems.toml:5: error: `on` is not a valid `status`",
            "many_problems.toml:10: error: HubSpot property `company_name` is written by two fields",
            "many_problems.toml:11: error: `telephone` is not a valid `convert`",
            "many_problems.toml:15: error: association target `Owner__c` is not mapped in the files given",
            "many_problems.toml:20: error: `Salesforce_Id` (id_property) is not a HubSpot property internal name",
            "many_problems.toml:22: error: unknown key `stauts` in a mapping",
            "many_problems.toml:30: error: association target `Invoice__c` is not mapped in the files given",
            "many_problems.toml:31: error: association type id 0 is out of range",
        ]
    );
}

#[test]
fn an_unreadable_file_is_a_problem_and_the_others_are_still_checked() {
    let missing = repo_path("fixtures/mappings/does_not_exist.toml");
    let report = load_files(&[
        repo_path("fixtures/mappings/bad_values.toml"),
        missing.clone(),
    ]);
    let errors: Vec<String> = headlines(&report);
    assert_eq!(errors.len(), 4);
    assert!(errors[0].ends_with("bad_values.toml:4: error: `activ` is not a valid `status`"));
    assert!(errors[3].starts_with(&format!(
        "{}: error: cannot read the mapping file: ",
        missing.display()
    )));
    assert_eq!(report.problems[3].line, 0);
}

fn examples() -> ValidationReport {
    load_files(&[
        repo_path("../examples/invoices.toml"),
        repo_path("../examples/projects.toml"),
    ])
}

#[test]
fn the_examples_validate_cleanly() {
    let report = examples();
    assert!(report.problems.is_empty(), "{report}");
    assert!(report.is_ok());
    let objects: Vec<&str> = report
        .mappings
        .iter()
        .map(|m| m.mapping.salesforce_object.as_str())
        .collect();
    assert_eq!(
        objects,
        [
            "Invoice__c",
            "Invoice_Correction__c",
            "Project__c",
            "Project_Task__c"
        ]
    );
    let project = &report.mappings[2].mapping;
    assert_eq!(
        project.hubspot_object,
        HubSpotObjectRef::ObjectTypeId("2-3456789".into())
    );
}

#[test]
fn mappings_from_the_examples_round_trip_through_json() {
    for located in examples().mappings {
        let json = serde_json::to_string(&located.mapping).unwrap();
        let back: Mapping = serde_json::from_str(&json).unwrap();
        assert_eq!(back, located.mapping);
    }
}

// ---------------------------------------------------------------------------------------------
// Live schemas

type Answer<'a, T> = Pin<Box<dyn Future<Output = Result<Option<T>, SchemaError>> + Send + 'a>>;

/// A fixed catalogue of schemas; objects named in `broken` fail as an unreachable API would.
#[derive(Default)]
struct Catalogue {
    salesforce: HashMap<String, SalesforceObjectSchema>,
    hubspot: Vec<HubSpotObjectSchema>,
    broken: Vec<String>,
}

// `SchemaSource` is an `async_trait`; this is the form it expands to, so the test crate needs no
// extra dependency.
impl SchemaSource for Catalogue {
    fn salesforce_object<'s, 'n, 'f>(&'s self, name: &'n str) -> Answer<'f, SalesforceObjectSchema>
    where
        's: 'f,
        'n: 'f,
        Self: 'f,
    {
        Box::pin(async move {
            if self.broken.iter().any(|b| b == name) {
                return Err(SchemaError::Unavailable {
                    system: "Salesforce",
                    reason: "HTTP 503".into(),
                });
            }
            Ok(self.salesforce.get(name).cloned())
        })
    }

    fn hubspot_object<'s, 'o, 'f>(
        &'s self,
        object: &'o HubSpotObjectRef,
    ) -> Answer<'f, HubSpotObjectSchema>
    where
        's: 'f,
        'o: 'f,
        Self: 'f,
    {
        Box::pin(async move {
            let wanted = object.as_str();
            Ok(self
                .hubspot
                .iter()
                .find(|s| {
                    s.name == wanted
                        || s.object_type_id == wanted
                        || s.fully_qualified_name.as_deref() == Some(wanted)
                })
                .cloned())
        })
    }
}

/// A describe field built from the real Account `Name` field (the fixture), renamed and retyped,
/// through the same JSON keys the Salesforce client reads.
fn describe_field(
    name: &str,
    field_type: &str,
    reference_to: &[&str],
    picklist: &[&str],
) -> SalesforceField {
    let text =
        std::fs::read_to_string("/work/shared/fixtures/salesforce/describe-account-excerpt.json")
            .expect("describe excerpt");
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["name"] = name.into();
    json["type"] = field_type.into();
    json["referenceTo"] = reference_to.to_vec().into();
    json["picklistValues"] = picklist
        .iter()
        .map(|v| serde_json::json!({"value": v, "label": v, "active": true, "defaultValue": false}))
        .collect();
    SalesforceField {
        name: json["name"].as_str().unwrap().to_owned(),
        field_type: SalesforceFieldType::from(json["type"].as_str().unwrap().to_owned()),
        reference_to: json["referenceTo"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect(),
        picklist_values: json["picklistValues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["value"].as_str().unwrap().to_owned())
            .collect(),
        nillable: json["nillable"].as_bool().unwrap(),
    }
}

fn sf_object(name: &str, fields: Vec<SalesforceField>) -> SalesforceObjectSchema {
    let mut all = vec![describe_field("Id", "id", &[], &[])];
    all.extend(fields);
    SalesforceObjectSchema {
        name: name.into(),
        custom: name.ends_with("__c"),
        fields: all,
    }
}

fn property(name: &str, property_type: &str, field_type: &str) -> HubSpotProperty {
    HubSpotProperty {
        name: name.into(),
        property_type: HubSpotPropertyType::from(property_type.to_owned()),
        field_type: field_type.into(),
        options: Vec::new(),
        has_unique_value: false,
        read_only: false,
    }
}

fn unique_id(name: &str) -> HubSpotProperty {
    HubSpotProperty {
        has_unique_value: true,
        ..property(name, "string", "text")
    }
}

fn options(mut p: HubSpotProperty, values: &[&str]) -> HubSpotProperty {
    p.options = values.iter().map(|v| (*v).to_owned()).collect();
    p
}

fn hs_object(
    type_id: &str,
    name: &str,
    required: &[&str],
    properties: Vec<HubSpotProperty>,
) -> HubSpotObjectSchema {
    HubSpotObjectSchema {
        object_type_id: type_id.into(),
        name: name.into(),
        fully_qualified_name: Some(format!("p7878787_{name}")),
        required_properties: required.iter().map(|r| (*r).to_owned()).collect(),
        properties,
    }
}

/// The org and account the invoices example was written for.
fn invoices_catalogue() -> Catalogue {
    let mut catalogue = Catalogue::default();
    catalogue.salesforce.insert(
        "Invoice__c".into(),
        sf_object(
            "Invoice__c",
            vec![
                describe_field("Name", "string", &[], &[]),
                describe_field("Amount__c", "currency", &[], &[]),
                describe_field("Invoice_Date__c", "date", &[], &[]),
                describe_field("Status__c", "picklist", &[], &["Draft", "Sent", "Paid"]),
                describe_field("Paid__c", "boolean", &[], &[]),
                describe_field("BillingAddress", "address", &[], &[]),
                describe_field("Account__c", "reference", &["Account"], &[]),
                describe_field(
                    "Corrected_Invoice__c",
                    "reference",
                    &["Invoice_Correction__c"],
                    &[],
                ),
            ],
        ),
    );
    catalogue.salesforce.insert(
        "Invoice_Correction__c".into(),
        sf_object(
            "Invoice_Correction__c",
            vec![
                describe_field("Name", "string", &[], &[]),
                describe_field("Reason__c", "textarea", &[], &[]),
                describe_field("Amount_Delta__c", "double", &[], &[]),
            ],
        ),
    );
    catalogue.hubspot.push(hs_object(
        "2-1001",
        "invoice",
        &["invoice_number"],
        vec![
            unique_id("salesforce_id"),
            property("invoice_number", "string", "text"),
            property("amount", "number", "number"),
            property("amount_date", "date", "date"),
            property("invoice_date", "date", "date"),
            options(
                property("invoice_status", "enumeration", "select"),
                &["Draft", "Sent", "Paid"],
            ),
            property("paid", "bool", "booleancheckbox"),
            property("billing_city", "string", "text"),
            property("account_ref", "string", "text"),
            HubSpotProperty {
                read_only: true,
                ..property("hs_calculated", "string", "text")
            },
            property("external_id", "number", "number"),
            property("invoice_total", "number", "number"),
        ],
    ));
    catalogue.hubspot.push(hs_object(
        "2-1002",
        "invoice_correction",
        &[],
        vec![
            unique_id("salesforce_id"),
            property("correction_number", "string", "text"),
            property("reason", "string", "textarea"),
            property("amount_delta", "number", "number"),
        ],
    ));
    catalogue.hubspot.push(hs_object(
        "0-2",
        "companies",
        &["name"],
        vec![
            property("name", "string", "text"),
            property("salesforceaccountid", "string", "text"),
        ],
    ));
    catalogue
}

fn run_live(
    mappings: &[LocatedMapping],
    catalogue: &Catalogue,
) -> Vec<sf2hs_shared::mapping::Problem> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(validate_live(mappings, catalogue))
}

#[test]
fn the_invoices_example_fits_its_live_schemas() {
    let report = load_files(&[repo_path("../examples/invoices.toml")]);
    assert!(report.is_ok(), "{report}");
    let problems = run_live(&report.mappings, &invoices_catalogue());
    assert!(problems.is_empty(), "{problems:#?}");
}

const LIVE_PROBLEMS: &str = r#"[[mapping]]
salesforce_object = "Invoice__c"
hubspot_object = "invoice"
id_property = "external_id"

[mapping.fields]
Name = "invoice_number"
Amount__c = "amount_date"
Status__c = "invoice_status"
Missing__c = "amount"
Paid__c = "payd"
Account__c = "account_ref"
Invoice_Date__c = { property = "paid", convert = "bool" }
"BillingAddress.City" = "hs_calculated"

[[mapping.associations]]
field = "Amount__c"
to_hubspot_object = "companies"
by_property = "salesforceaccountid"

[[mapping.associations]]
field = "Account__c"
to_mapped_object = "Invoice_Correction__c"

[[mapping]]
salesforce_object = "Ghost__c"
hubspot_object = "ghost"

[mapping.fields]
Name = "ghost_name"

[[mapping]]
salesforce_object = "Invoice_Correction__c"
hubspot_object = "2-1001"

[mapping.fields]
Name = "invoice_number"
"#;

#[test]
fn live_validation_reports_every_mismatch_with_its_line() {
    let report = validate_sources(&[("live.toml".into(), LIVE_PROBLEMS.into())]);
    assert!(report.is_ok(), "{report}");
    let mut catalogue = invoices_catalogue();
    if let Some(invoice) = catalogue.hubspot.iter_mut().find(|s| s.name == "invoice") {
        invoice.required_properties.push("invoice_total".into());
    }
    // A picklist value HubSpot has no option for.
    if let Some(invoice) = catalogue.salesforce.get_mut("Invoice__c") {
        for field in &mut invoice.fields {
            if field.name == "Status__c" {
                field.picklist_values.push("Void".into());
            }
        }
    }
    let problems = run_live(&report.mappings, &catalogue);
    let lines: Vec<String> = problems.iter().map(|p| p.headline()).collect();
    assert_eq!(
        lines,
        [
            "live.toml:1: error: HubSpot object `invoice` requires property `invoice_total`, which no field maps",
            "live.toml:4: error: id property `external_id` is a `number` property",
            "live.toml:4: error: id property `external_id` does not require unique values",
            "live.toml:8: error: Salesforce field `Amount__c` (currency) cannot be written to HubSpot property `amount_date` (date)",
            "live.toml:9: error: HubSpot property `invoice_status` has no option for Salesforce value(s) `Void`",
            "live.toml:10: error: Salesforce object `Invoice__c` has no field `Missing__c`",
            "live.toml:11: error: HubSpot object `invoice` has no property `payd`",
            "live.toml:12: warning: Salesforce field `Account__c` is a lookup: HubSpot property `account_ref` will hold a Salesforce id",
            "live.toml:13: error: Salesforce field `Invoice_Date__c` (date) cannot be converted with `convert = \"bool\"`",
            "live.toml:14: error: HubSpot property `hs_calculated` is read-only",
            "live.toml:16: error: `Amount__c` is a currency field, not a lookup",
            "live.toml:21: error: lookup `Account__c` points to `Account`, not `Invoice_Correction__c`",
            "live.toml:26: error: Salesforce object `Ghost__c` does not exist in the org",
            "live.toml:27: warning: HubSpot object `ghost` does not exist yet: this draft is stored without its objectTypeId and field conversions",
            "live.toml:32: error: HubSpot object `2-1001` requires property `invoice_total`, which no field maps",
            "live.toml:34: error: HubSpot object `2-1001` (2-1001) is the target of two mappings",
        ]
    );
    let hint_of = |line: usize, start: &str| {
        problems
            .iter()
            .find(|p| p.line == line && p.message.starts_with(start))
            .map(|p| p.hint.clone())
            .unwrap()
    };
    assert_eq!(
        hint_of(8, "Salesforce field"),
        "a currency field fits a `number` or `string` property; map it to such a property, or \
         set `convert` to say how"
    );
    assert_eq!(
        hint_of(11, "HubSpot object"),
        "did you mean `paid`? create the property in HubSpot or use an existing property's \
         internal name"
    );
    assert!(hint_of(12, "Salesforce field").contains("association"));
}

#[test]
fn reference_fields_may_only_go_to_text_and_the_hint_says_use_an_association() {
    let text = "[[mapping]]\nsalesforce_object = \"Invoice__c\"\nhubspot_object = \"invoice\"\n\
                [mapping.fields]\nName = \"invoice_number\"\nAccount__c = \"amount\"\n";
    let report = validate_sources(&[("ref.toml".into(), text.into())]);
    let problems = run_live(&report.mappings, &invoices_catalogue());
    assert_eq!(
        problems.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        [
            "ref.toml:6: error: Salesforce field `Account__c` (reference) cannot be written to \
             HubSpot property `amount` (number)\n  hint: a reference field fits a `string` \
             property only (it holds a Salesforce id); to link the records, sync the lookup as \
             an association (`[[mapping.associations]]`) instead; map it to such a property"
        ]
    );
}

#[test]
fn a_schema_that_cannot_be_read_is_a_problem() {
    let report = load_files(&[repo_path("../examples/invoices.toml")]);
    let mut catalogue = invoices_catalogue();
    catalogue.broken.push("Invoice__c".into());
    let problems = run_live(&report.mappings, &catalogue);
    assert_eq!(
        problems.iter().map(|p| p.headline()).collect::<Vec<_>>(),
        [format!(
            "{}:5: error: cannot check `Invoice__c` against Salesforce: cannot read the \
             Salesforce schema: HTTP 503",
            repo_path("../examples/invoices.toml").display()
        )]
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(sf2hs_tests::property_cases(2000)))]

    /// A mapping file cut, spliced with TOML's punctuation, or thrown away for arbitrary text
    /// is reported as problems, never a panic.
    #[test]
    fn mapping_files_never_panic_the_validator(
        cut in 0usize..4000,
        insert in "[\\[\\]{}=\"'.,#a-z_0-9 \n]{0,16}",
        arbitrary in proptest::option::of("\\PC{0,200}"),
    ) {
        let example = include_str!("../../../examples/invoices.toml");
        let text = match arbitrary {
            Some(text) => text,
            None => {
                let mut cut = cut.min(example.len());
                while !example.is_char_boundary(cut) {
                    cut -= 1;
                }
                format!("{}{insert}{}", &example[..cut], &example[cut..])
            }
        };
        let _ = validate_sources(&[("m.toml".to_owned(), text)]);
    }
}
