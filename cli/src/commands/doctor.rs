//! `sf2hs doctor`: what a first day needs, checked one line at a time, each failure with its
//! fix: the settings, the secrets (present, not the template's placeholders), the Salesforce
//! login and API allowance, the HubSpot token and its scopes, and every stored mapping against
//! the live schemas.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;
use sf2hs_shared::embedded::LocalSecrets;
use sf2hs_shared::mapping::{LocatedMapping, Severity};
use sf2hs_shared::ports::SecretsProvider;
use sf2hs_shared::settings::{self, Lookup, vars};

use crate::backend::Backend;
use crate::output::{self, CliError};

/// One check's result.
struct Check {
    name: String,
    ok: bool,
    detail: String,
    /// What to do, for a failure.
    fix: Option<String>,
}

impl Check {
    fn ok(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Check {
            name: name.into(),
            ok: true,
            detail: detail.into(),
            fix: None,
        }
    }

    fn fail(name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Check {
            name: name.into(),
            ok: false,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// The text the stack's secrets hold until the operator stores real values.
const PLACEHOLDER: &str = "replace me";

pub async fn doctor(
    backend: &Backend,
    secrets_dir: Option<PathBuf>,
    lookup: Lookup<'_>,
    json: bool,
) -> Result<ExitCode, CliError> {
    let mut checks = Vec::new();
    let secrets = LocalSecrets::new(secrets_dir);

    // 1. Settings: every missing one at once.
    let settings_ok = match settings::require_all(lookup, settings::PIPELINE_REQUIRED) {
        Ok(()) => {
            checks.push(Check::ok(
                "settings",
                "the org id and the endpoint-token, HubSpot and Salesforce secrets are named",
            ));
            true
        }
        Err(e) => {
            checks.push(Check::fail(
                "settings",
                e.to_string(),
                "set them in the environment or sf2hs.toml (docs/configuration.md)",
            ));
            false
        }
    };

    // 2. Secrets: readable, and not the template's placeholders.
    for (variable, what) in [
        (vars::ENDPOINT_TOKEN_SECRET, "the endpoint token"),
        (vars::HUBSPOT_SECRET, "the HubSpot credentials"),
        (vars::SALESFORCE_SECRET, "the Salesforce credentials"),
    ] {
        let Some(name) = lookup(variable) else {
            continue;
        };
        let check = format!("secret {name}");
        let place = format!(
            "store {what} in {} or the file <secrets-dir>/{name}",
            LocalSecrets::variable(&name)
        );
        match secrets.secret(&name).await {
            Err(e) => checks.push(Check::fail(check, e.to_string(), place)),
            Ok(value) if value.contains(PLACEHOLDER) => checks.push(Check::fail(
                check,
                format!("{what} still hold the template's placeholder (`{PLACEHOLDER}`)"),
                place,
            )),
            Ok(value)
                if variable == vars::ENDPOINT_TOKEN_SECRET
                    && value.trim().chars().count()
                        < sf2hs_shared::ingest::MIN_ENDPOINT_TOKEN_CHARS =>
            {
                checks.push(Check::fail(
                    check,
                    "the endpoint token is shorter than 16 characters",
                    "store a long random value (`openssl rand -hex 32`)",
                ))
            }
            Ok(_) => checks.push(Check::ok(check, format!("holds {what}"))),
        }
    }

    // 3. The connections, and 4. the stored mappings against the live schemas.
    if settings_ok && checks.iter().all(|c| c.ok) {
        match super::remote_clients(&secrets, lookup).await {
            Err(e) => checks.push(Check::fail(
                "clients",
                e.to_string(),
                "fix the secret's JSON (docs/deploy.md, step 3)",
            )),
            Ok((salesforce, hubspot)) => {
                connections(&mut checks, &salesforce, &hubspot).await;
                mappings(&mut checks, backend, salesforce, hubspot).await?;
            }
        }
    } else {
        checks.push(Check::fail(
            "connections",
            "not tried: the settings or secrets above are not ready",
            "fix the lines above, then run `sf2hs doctor` again",
        ));
    }

    let failing = checks.iter().filter(|c| !c.ok).count();
    if json {
        let items: Vec<_> = checks
            .iter()
            .map(|c| json!({ "check": c.name, "ok": c.ok, "detail": c.detail, "fix": c.fix }))
            .collect();
        output::print_json(&json!({ "checks": items, "failing": failing }));
    } else {
        for check in &checks {
            let mark = if check.ok { "ok  " } else { "FAIL" };
            out!("{mark}  {}: {}", check.name, check.detail);
            if let Some(fix) = &check.fix {
                out!("      fix: {fix}");
            }
        }
        out!(
            "{}",
            if failing == 0 {
                "everything sf2hs needs is in place".to_owned()
            } else {
                format!("{failing} check(s) failing")
            }
        );
    }
    Ok(if failing == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn connections(
    checks: &mut Vec<Check>,
    salesforce: &sf2hs_shared::salesforce::client::SalesforceClient,
    hubspot: &sf2hs_shared::hubspot::HubSpotClient,
) {
    match salesforce.describe_global().await {
        Ok(objects) => {
            let share = salesforce.config().max_api_share;
            match salesforce.api_usage() {
                Some(usage) if usage.max > 0 && usage.used as f64 / usage.max as f64 >= share => {
                    checks.push(Check::fail(
                        "Salesforce",
                        format!("logged in; {usage}, past the {:.0} % sf2hs may use", share * 100.0),
                        "wait for the rolling 24 h allowance, or raise SF2HS_SALESFORCE_MAX_API_SHARE",
                    ))
                }
                usage => checks.push(Check::ok(
                    "Salesforce",
                    format!(
                        "logged in at {}; {} objects visible; {}",
                        salesforce.config().login_url,
                        objects.len(),
                        usage.map_or("API usage not reported".to_owned(), |u| u.to_string())
                    ),
                )),
            }
        }
        Err(e) => checks.push(Check::fail(
            "Salesforce",
            e.to_string(),
            "check the connected app and its secret (docs/deploy.md, step 3)",
        )),
    }
    match hubspot.custom_objects().await {
        Ok(objects) => checks.push(Check::ok(
            "HubSpot",
            format!(
                "the token reads the schemas ({} custom object(s))",
                objects.len()
            ),
        )),
        Err(e) => checks.push(Check::fail(
            "HubSpot",
            e.to_string(),
            "give the token the scopes crm.schemas.custom.read/write and crm.objects.custom.read/write (docs/deploy.md, step 3)",
        )),
    }
}

async fn mappings(
    checks: &mut Vec<Check>,
    backend: &Backend,
    salesforce: sf2hs_shared::salesforce::client::SalesforceClient,
    hubspot: sf2hs_shared::hubspot::HubSpotClient,
) -> Result<(), CliError> {
    let stored = backend.mappings.list().await?;
    if stored.is_empty() {
        checks.push(Check::fail(
            "mappings",
            "none stored",
            "write one (examples/README.md) and `sf2hs mappings apply FILE`",
        ));
        return Ok(());
    }
    let source = sf2hs_shared::hubspot::HubSpotSchemaSource::new(salesforce, hubspot);
    for stored in stored {
        let object = stored.mapping.salesforce_object.clone();
        let state = stored.mapping.status.name();
        let located = LocatedMapping::stored(stored.mapping.as_written());
        let checked =
            sf2hs_shared::mapping::check_live(std::slice::from_ref(&located), &source).await;
        let errors: Vec<_> = checked
            .problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .collect();
        let name = format!("mapping {object} ({state})");
        match errors.first() {
            None => checks.push(Check::ok(
                name,
                "matches the live Salesforce and HubSpot schemas",
            )),
            Some(first) => checks.push(Check::fail(
                name,
                format!("{} error(s); the first: {}", errors.len(), first.message),
                if first.hint.is_empty() {
                    "fix the mapping file and `sf2hs mappings apply` it".to_owned()
                } else {
                    first.hint.clone()
                },
            )),
        }
    }
    Ok(())
}
