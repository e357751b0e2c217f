//! A new mapping, step by step, in the native connector's order: the two objects (from the live
//! describe and schemas), the fields (HubSpot's required properties first) with the lookups as
//! associations and the delete rule, then a review of the TOML it makes with every problem the
//! validation and the live check find (an error blocks saving), and "start syncing" (active)
//! or "save for later" (draft). The result is the TOML a person writes, shown and downloadable,
//! and stored as `sf2hs mappings apply` stores it: configuration stays code.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use sf2hs_shared::mapping::schema::{SalesforceFieldType, SchemaSource};
use sf2hs_shared::mapping::{HubSpotObjectRef, Severity, validate_sources_beside};

use super::Console;
use super::pages::{field, form_fields, page};

fn needs_credentials(console: &Console) -> Response {
    page(
        console,
        "New mapping",
        "/mappings",
        html! { h1 { "New mapping" } p.notice.warn { "A new mapping is built from the live Salesforce describe and HubSpot schemas: configure both credentials (SF2HS_SALESFORCE_SECRET, SF2HS_HUBSPOT_SECRET)." } },
    )
    .into_response()
}

fn steps(current: usize) -> Markup {
    let names = ["Objects", "Fields and associations", "Review and save"];
    html! {
        ol.steps {
            @for (i, name) in names.iter().enumerate() {
                li class=(if i + 1 == current { "current" } else { "" }) { (name) }
            }
        }
    }
}

/// Fields sf2hs keeps itself, never offered for mapping.
const SYSTEM_FIELDS: [&str; 8] = [
    "Id",
    "SystemModstamp",
    "LastModifiedDate",
    "LastModifiedById",
    "CreatedDate",
    "CreatedById",
    "IsDeleted",
    "OwnerId",
];

/// Step 1: the Salesforce object and the HubSpot object.
pub async fn objects(State(console): State<Arc<Console>>) -> Response {
    let (Some(salesforce), Some(schemas)) = (console.salesforce.clone(), console.schemas()) else {
        return needs_credentials(&console);
    };
    let objects = match salesforce.describe_global().await {
        Ok(objects) => objects,
        Err(e) => return error_page(&console, &format!("Salesforce: {e}")),
    };
    let mapped: BTreeSet<String> = stored_objects(&console).await.into_iter().collect();
    let choices: Vec<String> = objects
        .into_iter()
        .filter(|o| {
            o.queryable
                && (o.custom
                    || sf2hs_shared::mapping::objects::is_supported_standard_object(&o.name))
        })
        .map(|o| o.name)
        .filter(|name| !mapped.contains(name))
        .collect();
    let hubspot = schemas.hubspot_custom_objects().await.unwrap_or_default();
    page(
        &console,
        "New mapping",
        "/mappings",
        html! {
            h1 { "New mapping" }
            (steps(1))
            form method="get" action={ (console.base) "/mappings/new/fields" } {
                p { label { "Salesforce object " select name="salesforce_object" {
                    @for name in &choices { option value=(name) { (name) } }
                } } }
                p { label { "HubSpot object " select name="hubspot_object" {
                    @for (name, id) in &hubspot { option value=(name) { (name) " (" (id) ")" } }
                } } }
                button type="submit" { "Next: fields" }
            }
            h2 { "No HubSpot object for it yet?" }
            form method="post" action={ (console.base) "/mappings/new/create" } {
                p { label { "Salesforce object " select name="salesforce_object" {
                    @for name in &choices { option value=(name) { (name) } }
                } } }
                p { label { "New HubSpot object's name " input type="text" name="name" placeholder="e.g. sf_invoice" pattern="[a-z][a-z0-9_]*" required; } }
                p.muted { "sf2hs creates it with a property for each Salesforce field and the unique " code { "salesforce_id" } ", as `sf2hs schema ensure` does." }
                button.secondary type="submit" { "Create it…" }
            }
        },
    )
    .into_response()
}

#[derive(Deserialize)]
pub struct ObjectsChosen {
    salesforce_object: String,
    hubspot_object: String,
}

/// The HubSpot property name `schema ensure` gives a Salesforce field (`Amount__c` → `amount`):
/// the guess for each field.
fn property_for(field: &str) -> String {
    sf2hs_shared::hubspot::schemas::hubspot_property_name(field)
}

/// Step 2: each Salesforce field with a HubSpot property to write it to (HubSpot's required
/// properties first), each lookup as an association, and the delete rule.
pub async fn fields(
    State(console): State<Arc<Console>>,
    Query(chosen): Query<ObjectsChosen>,
) -> Response {
    let Some(schemas) = console.schemas() else {
        return needs_credentials(&console);
    };
    let salesforce = match schemas.salesforce_object(&chosen.salesforce_object).await {
        Ok(Some(object)) => object,
        Ok(None) => {
            return error_page(
                &console,
                &format!("Salesforce has no object {}", chosen.salesforce_object),
            );
        }
        Err(e) => return error_page(&console, &e.to_string()),
    };
    let hubspot = match schemas
        .hubspot_object(&HubSpotObjectRef::parse(&chosen.hubspot_object))
        .await
    {
        Ok(Some(object)) => object,
        Ok(None) => {
            return error_page(
                &console,
                &format!("HubSpot has no object {}", chosen.hubspot_object),
            );
        }
        Err(e) => return error_page(&console, &e.to_string()),
    };
    let writable: Vec<&str> = hubspot
        .properties
        .iter()
        .filter(|p| !p.read_only && !p.name.starts_with("hs_"))
        .map(|p| p.name.as_str())
        .collect();
    let mapped: BTreeSet<String> = stored_objects(&console).await.into_iter().collect();
    // sf2hs fills the id property itself; the others HubSpot requires need a field each.
    let required: Vec<&String> = hubspot
        .required_properties
        .iter()
        .filter(|p| p.as_str() != sf2hs_shared::mapping::DEFAULT_ID_PROPERTY)
        .collect();
    let mut fields: Vec<_> = salesforce
        .fields
        .iter()
        .filter(|f| !SYSTEM_FIELDS.contains(&f.name.as_str()))
        .collect();
    // Fields whose likely property HubSpot requires come first.
    fields.sort_by_key(|f| !required.contains(&&property_for(&f.name)));
    page(
        &console,
        "New mapping",
        "/mappings",
        html! {
            h1 { "New mapping: " (chosen.salesforce_object) " → " (chosen.hubspot_object) }
            (steps(2))
            @if !required.is_empty() {
                p { "HubSpot requires: " @for (i, p) in required.iter().enumerate() { @if i > 0 { ", " } code { (p) } } ". Map a field to each." }
            }
            form method="post" action={ (console.base) "/mappings/new/review" } {
                input type="hidden" name="salesforce_object" value=(chosen.salesforce_object);
                input type="hidden" name="hubspot_object" value=(chosen.hubspot_object);
                div.scroll { table {
                    thead { tr { th { "Salesforce field" } th { "type" } th { "HubSpot property" } } }
                    tbody {
                        @for f in fields.iter().filter(|f| f.field_type != SalesforceFieldType::Reference) {
                            @let guess = property_for(&f.name);
                            tr data-field=(f.name) {
                                td { (f.name) }
                                td { (format!("{:?}", f.field_type).to_ascii_lowercase()) }
                                td { select name={ "field." (f.name) } aria-label={ "property for " (f.name) } {
                                    option value="" { "— not synced —" }
                                    @for p in &writable {
                                        @if *p == guess { option value=(p) selected { (p) } } @else { option value=(p) { (p) } }
                                    }
                                } }
                            }
                        }
                    }
                } }
                @let lookups: Vec<_> = fields.iter().filter(|f| f.field_type == SalesforceFieldType::Reference).collect();
                @if !lookups.is_empty() {
                    h2 { "Associations" }
                    @for f in &lookups {
                        @let target = f.reference_to.first().cloned().unwrap_or_default();
                        @if mapped.contains(&target) {
                            p { label { input type="checkbox" name={ "association." (f.name) } value=(target) checked; " " code { (f.name) } " → the " (target) " record synced by sf2hs" } }
                        } @else {
                            p.muted { code { (f.name) } " → " (target) ": map " (target) " first to sync this lookup as an association" }
                        }
                    }
                }
                h2 { "When a record is deleted in Salesforce" }
                p {
                    label { input type="radio" name="on_delete" value="archive" checked; " archive it in HubSpot (an undelete restores it)" }
                    br;
                    label { input type="radio" name="on_delete" value="keep"; " keep it in HubSpot" }
                }
                p.muted { "Records are created and updated in HubSpot, keyed by the unique property " code { "salesforce_id" } " (the 18-character Salesforce id)." }
                button type="submit" { "Next: review" }
            }
        },
    )
    .into_response()
}

/// `POST /mappings/new/create` (salesforce_object, name): asks, then creates the HubSpot object
/// from the Salesforce describe (`schema ensure`'s plan) and goes on to the fields.
pub async fn create(State(console): State<Arc<Console>>, body: String) -> Response {
    let (Some(salesforce), Some(hubspot)) = (console.salesforce.clone(), console.hubspot.clone())
    else {
        return needs_credentials(&console);
    };
    let form = form_fields(&body);
    let (Some(object), Some(name)) = (field(&form, "salesforce_object"), field(&form, "name"))
    else {
        return (
            StatusCode::BAD_REQUEST,
            "name the Salesforce object and the new HubSpot object",
        )
            .into_response();
    };
    let describe = match salesforce.describe(&object).await {
        Ok(describe) => describe,
        Err(e) => return error_page(&console, &format!("Salesforce: {e}")),
    };
    let request = sf2hs_shared::hubspot::SchemaRequest::from_salesforce(&name, &describe);
    if field(&form, "confirm").as_deref() != Some("yes") {
        return super::pages::confirm(
            &console,
            super::pages::Confirm {
                current: "/mappings",
                question: format!("Create the HubSpot object {name}?"),
                explain: html! {
                    p { "A custom object " code { (name) } " with the unique property " code { (request.id_property) } " and one property per field of " (object) ":" }
                    p.muted { @for (i, p) in request.properties.iter().enumerate() { @if i > 0 { ", " } (p.name) } }
                },
                action: "/mappings/new/create",
                fields: vec![
                    ("salesforce_object", object.clone()),
                    ("name", name.clone()),
                ],
                button: format!("Create {name}"),
                back: "/mappings/new",
            },
        );
    }
    match hubspot.ensure_schema(&request).await {
        Ok(outcome) => {
            let query = serde_urlencoded::to_string([
                ("salesforce_object", object.as_str()),
                ("hubspot_object", outcome.schema.name.as_str()),
            ])
            .unwrap_or_default();
            Redirect::to(&format!("{}/mappings/new/fields?{query}", console.base)).into_response()
        }
        Err(e) => error_page(&console, &format!("HubSpot: {e}")),
    }
}

/// The mapping file the form describes, written as a person writes one.
fn toml_of(fields: &[(String, String)], status: &str) -> Result<(String, String), String> {
    let object = field(fields, "salesforce_object").ok_or("no Salesforce object")?;
    let hubspot = field(fields, "hubspot_object").ok_or("no HubSpot object")?;
    let on_delete = field(fields, "on_delete").unwrap_or_else(|| "archive".into());
    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let mut text = format!(
        "[[mapping]]\nsalesforce_object = {}\nhubspot_object = {}\nstatus = {}\non_delete = {}\n\n[mapping.fields]\n",
        quote(&object),
        quote(&hubspot),
        quote(status),
        quote(&on_delete)
    );
    for (key, value) in fields {
        if let Some(name) = key.strip_prefix("field.")
            && !value.is_empty()
        {
            text.push_str(&format!("{name} = {}\n", quote(value)));
        }
    }
    for (key, value) in fields {
        if let Some(name) = key.strip_prefix("association.") {
            text.push_str(&format!(
                "\n[[mapping.associations]]\nfield = {}\nto_mapped_object = {}\n",
                quote(name),
                quote(value)
            ));
        }
    }
    Ok((object, text))
}

/// Step 3 (`POST /mappings/new/review`): the TOML, every problem, and the two ways to save.
pub async fn review(State(console): State<Arc<Console>>, body: String) -> Response {
    let Some(schemas) = console.schemas() else {
        return needs_credentials(&console);
    };
    let form = form_fields(&body);
    let (object, text) = match toml_of(&form, "active") {
        Ok(made) => made,
        Err(e) => return (StatusCode::BAD_REQUEST, e).into_response(),
    };
    let stored = stored_objects(&console).await;
    let problems = check(&schemas, &object, &text, &stored).await;
    let blocking = problems
        .iter()
        .any(|(severity, _, _)| *severity == Severity::Error);
    let samples = if blocking {
        html! {}
    } else {
        preview(&console, &schemas, &text, &stored).await
    };
    page(
        &console,
        "New mapping",
        "/mappings",
        html! {
            h1 { "New mapping: review" }
            (steps(3))
            @if problems.is_empty() {
                p.notice data-review="ok" { "It matches the live Salesforce describe and HubSpot schemas." }
            } @else {
                ul data-review="problems" {
                    @for (severity, message, hint) in &problems {
                        li class=(if *severity == Severity::Error { "bad" } else { "" }) { (message) @if !hint.is_empty() { br; span.muted { (hint) } } }
                    }
                }
            }
            (samples)
            h2 { "The mapping file" }
            pre data-toml { (text) }
            form method="post" action={ (console.base) "/mappings/new/save" } {
                input type="hidden" name="toml" value=(text);
                @if blocking {
                    p.bad { "Fix the errors above (go back, or fix HubSpot) before saving." }
                } @else {
                    button type="submit" name="status" value="active" { "Start syncing" }
                    " "
                    button.secondary type="submit" name="status" value="draft" { "Save for later" }
                }
                " "
                button.secondary type="submit" formaction={ (console.base) "/mappings/new/download" } { "Download the file" }
            }
        },
    )
    .into_response()
}

/// Every problem of `text` (the file's own, then against the live schemas), as
/// (severity, message, hint).
async fn check(
    schemas: &super::Schemas,
    object: &str,
    text: &str,
    stored: &[String],
) -> Vec<(Severity, String, String)> {
    let report = validate_sources_beside(
        &[(format!("new mapping of {object}"), text.to_owned())],
        stored,
    );
    let mut problems: Vec<_> = report
        .problems
        .iter()
        .map(|p| (p.severity, p.message.clone(), p.hint.clone()))
        .collect();
    if report.is_ok() {
        let live = sf2hs_shared::mapping::check_live(&report.mappings, schemas).await;
        problems.extend(
            live.problems
                .iter()
                .map(|p| (p.severity, p.message.clone(), p.hint.clone())),
        );
    }
    problems
}

/// A few of the object's newest records as the mapping writes them to HubSpot (nothing is
/// sent): what `sf2hs mappings preview` shows.
async fn preview(
    console: &Console,
    schemas: &super::Schemas,
    text: &str,
    stored: &[String],
) -> Markup {
    let Some(salesforce) = &console.salesforce else {
        return html! {};
    };
    let report = validate_sources_beside(&[("preview".to_owned(), text.to_owned())], stored);
    let Some(located) = report.mappings.first() else {
        return html! {};
    };
    let checked = sf2hs_shared::mapping::check_live(std::slice::from_ref(located), schemas).await;
    let mapping = sf2hs_shared::mapping::Mapping {
        resolved: checked.resolved.into_iter().next().flatten(),
        ..located.mapping.clone()
    };
    let fields: Vec<String> = std::iter::once("Id".to_owned())
        .chain(mapping.fields.iter().map(|f| f.salesforce_field.clone()))
        .chain(
            mapping
                .associations
                .iter()
                .map(|a| a.salesforce_field.clone()),
        )
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let soql = format!(
        "SELECT {} FROM {} ORDER BY SystemModstamp DESC LIMIT 3",
        fields.join(", "),
        mapping.salesforce_object
    );
    let records = match salesforce.query_collect(&soql, false).await {
        Ok(records) => records,
        Err(e) => return html! { p.notice.warn { "No preview: " (e.to_string()) } },
    };
    html! {
        h2 { "Preview: the newest records as HubSpot would get them" }
        @if records.is_empty() { p.muted { "The object has no records yet." } }
        @for record in &records {
            @if let Some(id) = &record.id {
                div.scroll data-preview=(id.as_str()) { table {
                    thead { tr { th { "HubSpot property" } th { "value for " (id.as_str()) } } }
                    tbody {
                        @match sf2hs_shared::engine::map_record(&mapping, id, &record.fields, None) {
                            Ok(mapped) => {
                                @for (property, value) in &mapped.properties { tr { td { (property) } td { (value) } } }
                                @for association in &mapped.associations { tr { td { "association (" (association.salesforce_field) ")" } td { (association.target_record_id.as_str()) } } }
                            }
                            Err(errors) => { tr { td colspan="2" class="bad" { (errors.to_string()) } } }
                        }
                    }
                } }
            }
        }
    }
}

/// `POST /mappings/new/download`: the TOML as a file.
pub async fn download(body: String) -> Response {
    let form = form_fields(&body);
    let text = field(&form, "toml").unwrap_or_default();
    (
        [
            (header::CONTENT_TYPE, "application/toml; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"mapping.toml\"",
            ),
        ],
        text,
    )
        .into_response()
}

/// `POST /mappings/new/save` (toml, status): checked again, then stored as `mappings apply`
/// stores it; an active one goes on to the count review of an import of existing records.
pub async fn save(State(console): State<Arc<Console>>, body: String) -> Response {
    let Some(schemas) = console.schemas() else {
        return needs_credentials(&console);
    };
    let form = form_fields(&body);
    let status = match field(&form, "status").as_deref() {
        Some("draft") => "draft",
        _ => "active",
    };
    let text = field(&form, "toml").unwrap_or_default().replacen(
        "status = \"active\"",
        &format!("status = \"{status}\""),
        1,
    );
    let stored = stored_objects(&console).await;
    let report = validate_sources_beside(&[("new mapping".to_owned(), text.clone())], &stored);
    if !report.is_ok() {
        return error_page(
            &console,
            "the mapping file has errors: go back to the review",
        );
    }
    let checked = sf2hs_shared::mapping::check_live(&report.mappings, &schemas).await;
    if checked
        .problems
        .iter()
        .any(|p| p.severity == Severity::Error)
    {
        return error_page(
            &console,
            "the live check finds errors: go back to the review",
        );
    }
    match sf2hs_shared::activation::store_checked(
        console.mappings.as_ref(),
        &report.mappings,
        checked.resolved,
    )
    .await
    {
        Ok(rows) => {
            let object = rows.first().map(|r| r.object.clone()).unwrap_or_default();
            // Active: on to the count review of an import of its existing records, as the
            // native connector's last step.
            if status == "active" && console.local_imports && console.salesforce.is_some() {
                return super::imports::count_review(&console, &object).await;
            }
            let said = if status == "active" {
                format!(
                    "{object} is stored and active: its changes sync from now on. Import its existing records below."
                )
            } else {
                format!("{object} is stored as a draft; activate it when ready.")
            };
            let to = if status == "active" {
                "/imports"
            } else {
                "/mappings"
            };
            console.back_to(to, &said)
        }
        Err(e) => super::pages::unavailable(&console, e),
    }
}

/// The Salesforce objects mapped already: a new mapping may associate with them.
async fn stored_objects(console: &Console) -> Vec<String> {
    console
        .mappings
        .list()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|m| m.mapping.salesforce_object)
        .collect()
}

fn error_page(console: &Console, message: &str) -> Response {
    page(
        console,
        "New mapping",
        "/mappings",
        html! { h1 { "New mapping" } p.notice.warn { (message) } a href={ (console.base) "/mappings/new" } { "Start again" } },
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_becomes_the_file_a_person_writes() {
        let form: Vec<(String, String)> = [
            ("salesforce_object", "Invoice__c"),
            ("hubspot_object", "sf_invoice"),
            ("field.Name", "invoice_number"),
            ("field.Amount__c", "amount"),
            ("field.Notes__c", ""),
            ("association.Project__c", "Project__c"),
            ("on_delete", "keep"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let (object, text) = toml_of(&form, "draft").expect("toml");
        assert_eq!(object, "Invoice__c");
        // Beside the stored project mapping, as the console validates it.
        let report =
            validate_sources_beside(&[("made".to_owned(), text.clone())], &["Project__c".into()]);
        assert!(report.is_ok(), "{text}\n{:?}", report.problems);
        let mapping = &report.mappings[0].mapping;
        assert_eq!(mapping.fields.len(), 2, "the unsynced field is left out");
        assert_eq!(mapping.associations.len(), 1);
        assert_eq!(mapping.on_delete.name(), "keep");
        assert_eq!(mapping.status.name(), "draft");
    }
}
