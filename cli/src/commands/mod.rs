pub mod demo;
pub mod dlq;
pub mod doctor;
pub mod health;
pub mod import;
pub mod mappings;
pub mod preview;
pub mod schema;
pub mod serve;
pub mod status;

/// The Salesforce and HubSpot clients from the Lambdas' variables (read through `lookup`) (`SF2HS_SALESFORCE_SECRET`,
/// `SF2HS_HUBSPOT_SECRET` and their settings), with secret values from `secrets`.
pub async fn remote_clients(
    secrets: &sf2hs_shared::embedded::LocalSecrets,
    lookup: sf2hs_shared::settings::Lookup<'_>,
) -> Result<
    (
        sf2hs_shared::salesforce::client::SalesforceClient,
        sf2hs_shared::hubspot::HubSpotClient,
    ),
    crate::output::CliError,
> {
    use sf2hs_shared::settings;

    let setup = crate::output::CliError::Settings;
    let salesforce = settings::salesforce_client(lookup, std::sync::Arc::new(secrets.clone()))
        .await
        .map_err(setup)?;
    let hubspot = settings::hubspot_client(lookup, std::sync::Arc::new(secrets.clone()))
        .await
        .map_err(setup)?;
    Ok((salesforce, hubspot))
}

/// The endpoint token, for a console listening beyond this machine: the setting must name it.
pub async fn console_token(
    secrets_dir: Option<std::path::PathBuf>,
    lookup: sf2hs_shared::settings::Lookup<'_>,
) -> Result<sf2hs_shared::ingest::EndpointToken, crate::output::CliError> {
    let settings = sf2hs_shared::settings::ingest_settings(
        lookup,
        std::sync::Arc::new(sf2hs_shared::embedded::LocalSecrets::new(secrets_dir)),
    )
    .await
    .map_err(|e| {
        crate::output::CliError::Setup(format!(
            "a console on another address than 127.0.0.1 asks for the endpoint token as its \
             password, and it cannot be read: {e}"
        ))
    })?;
    Ok(settings.endpoint_token)
}
