pub mod demo;
pub mod dlq;
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
