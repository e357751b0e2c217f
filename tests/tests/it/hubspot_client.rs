//! The HubSpot client against the strict sandbox over real HTTP (hubspot.md §2–5).

use std::time::Duration;

use crate::common_hubspot::{Bend, Hub, ID_PROPERTY, Proxy, account, client, config, object};
use sf2hs_sandbox::hubspot::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REFRESH_TOKEN, FaultPlan, RateLimitConfig,
};
use sf2hs_shared::hubspot::{
    ApiVersion, AssociationInput, HubSpotClient, HubSpotError, HubSpotSchemaSource,
    OAuthCredentials, SchemaRequest, TokenSource,
};
use sf2hs_shared::mapping::HubSpotObjectRef;
use sf2hs_shared::mapping::schema::{
    HubSpotObjectSchema, SalesforceField, SalesforceFieldType, SalesforceObjectSchema, SchemaError,
    SchemaSource,
};

fn both_styles() -> [ApiVersion; 2] {
    [ApiVersion::default(), ApiVersion::Legacy]
}

#[tokio::test]
async fn upsert_creates_then_updates_with_the_new_flag_on_both_path_styles() {
    for version in both_styles() {
        let hub = Hub::start().await;
        let type_id = hub.create_account_object();
        let hubspot = client(&hub.base_url(), version.clone());
        let account_object = object(&type_id);

        let first = hubspot
            .upsert(
                &account_object,
                ID_PROPERTY,
                vec![account("001A", "Acme", "10"), account("001B", "Beta", "20")],
            )
            .await
            .expect("upsert");
        assert!(first.failed.is_empty(), "{version:?}: {:?}", first.failed);
        assert_eq!(first.succeeded.len(), 2);
        assert!(first.succeeded.iter().all(|w| w.created));

        let second = hubspot
            .upsert(
                &account_object,
                ID_PROPERTY,
                vec![account("001A", "Acme Corp", "11")],
            )
            .await
            .expect("upsert");
        assert_eq!(second.succeeded.len(), 1);
        let updated = &second.succeeded[0];
        assert!(!updated.created);
        let original = first
            .succeeded
            .iter()
            .find(|w| w.id_value == "001A")
            .expect("001A written");
        assert_eq!(updated.hubspot_id, original.hubspot_id);

        let handle = hub.handle();
        assert_eq!(handle.count(&type_id).expect("count"), 2);
        let stored = handle
            .record_by_unique(&type_id, ID_PROPERTY, "001A")
            .expect("lookup")
            .expect("stored");
        assert_eq!(stored.properties["account_name"], "Acme Corp");
        // The paths really were the chosen style: the stats key drops the version, so check
        // through a read that only answers on the right prefix.
        let found = hubspot
            .read_by_unique(
                &account_object,
                ID_PROPERTY,
                vec!["001B".into(), "nope".into()],
            )
            .await
            .expect("read");
        assert_eq!(found.len(), 1);
        assert!(found.contains_key("001B"));
    }
}

#[tokio::test]
async fn a_bad_value_fails_alone_in_a_207() {
    let hub = Hub::start().await;
    let type_id = hub.create_account_object();
    let hubspot = client(&hub.base_url(), ApiVersion::default());
    let outcome = hubspot
        .upsert(
            &object(&type_id),
            ID_PROPERTY,
            vec![
                account("001A", "Acme", "10"),
                account("001B", "Beta", "not a number"),
                account("001C", "Gamma", "30"),
            ],
        )
        .await
        .expect("upsert");
    assert_eq!(outcome.succeeded.len(), 2);
    assert_eq!(outcome.failed.len(), 1);
    let failure = &outcome.failed[0];
    assert_eq!(failure.id_value, "001B");
    assert_eq!(failure.category.as_deref(), Some("VALIDATION_ERROR"));
    assert!(!failure.retryable);
    assert!(!failure.message.is_empty());
    let stats = hub.handle().stats().expect("stats");
    assert_eq!(stats.status_counts.get(&207), Some(&1));
    assert_eq!(hub.handle().count(&type_id).expect("count"), 2);
}

#[tokio::test]
async fn an_unknown_property_names_the_fix() {
    let hub = Hub::start().await;
    let type_id = hub.create_account_object();
    let hubspot = client(&hub.base_url(), ApiVersion::default());
    let mut input = account("001A", "Acme", "10");
    input.properties.insert("no_such".into(), "x".into());
    let outcome = hubspot
        .upsert(&object(&type_id), ID_PROPERTY, vec![input])
        .await
        .expect("upsert");
    let message = &outcome.failed[0].message;
    assert!(message.contains("`no_such`"), "{message}");
    assert!(message.contains("sf2hs schema ensure"), "{message}");
}

#[tokio::test]
async fn duplicate_ids_are_sent_once_with_the_newest_values() {
    let hub = Hub::start().await;
    let type_id = hub.create_account_object();
    let hubspot = client(&hub.base_url(), ApiVersion::default());
    let outcome = hubspot
        .upsert(
            &object(&type_id),
            ID_PROPERTY,
            vec![
                account("001A", "old", "1"),
                account("001B", "Beta", "2"),
                account("001A", "new", "3"),
            ],
        )
        .await
        .expect("upsert");
    assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
    assert_eq!(outcome.succeeded.len(), 2);
    assert_eq!(outcome.superseded, 1);
    let stored = hub
        .handle()
        .record_by_unique(&type_id, ID_PROPERTY, "001A")
        .expect("lookup")
        .expect("stored");
    assert_eq!(stored.properties["account_name"], "new");
    assert_eq!(
        hub.handle().stats().expect("stats").status_counts.get(&400),
        None
    );
}

#[tokio::test]
async fn a_2xx_without_results_or_errors_is_a_failure() {
    let hub = Hub::start().await;
    let type_id = hub.create_account_object();
    let proxy = Proxy::start(&hub.base_url()).await;
    proxy.bend(Bend::SilentNoOp);
    let hubspot = client(&proxy.base_url, ApiVersion::default());
    let outcome = hubspot
        .upsert(
            &object(&type_id),
            ID_PROPERTY,
            vec![account("001A", "Acme", "1")],
        )
        .await
        .expect("upsert call");
    assert!(outcome.succeeded.is_empty());
    assert_eq!(outcome.failed.len(), 1);
    assert!(outcome.failed[0].message.contains("silent no-op"));
}

#[tokio::test]
async fn a_whole_batch_400_is_bisected_down_to_the_bad_inputs() {
    let hub = Hub::start().await;
    let type_id = hub.create_account_object();
    let proxy = Proxy::start(&hub.base_url()).await;
    // Without trace ids the sandbox answers a bad input with a 400 for the whole batch.
    proxy.bend(Bend::StripTraceIds);
    let hubspot = client(&proxy.base_url, ApiVersion::default());
    let mut inputs: Vec<_> = (0..32)
        .map(|i| account(&format!("SF{i:03}"), "ok", "1"))
        .collect();
    inputs[5] = account("SF005", "bad", "five");
    inputs[20] = account("SF020", "bad", "twenty");
    let outcome = hubspot
        .upsert(&object(&type_id), ID_PROPERTY, inputs)
        .await
        .expect("upsert");
    let mut failed: Vec<&str> = outcome.failed.iter().map(|f| f.id_value.as_str()).collect();
    failed.sort_unstable();
    assert_eq!(failed, ["SF005", "SF020"]);
    assert_eq!(outcome.succeeded.len(), 30);
    assert!(
        outcome.failed[0]
            .message
            .contains("Property values were not valid")
    );
    assert_eq!(hub.handle().count(&type_id).expect("count"), 30);
    let calls = hub
        .handle()
        .stats()
        .expect("stats")
        .calls_matching("batch/upsert");
    // 2 bad inputs among 32: at most 1 + 2·2·log2(32) calls, far fewer than one per input.
    assert!(calls <= 21, "{calls} calls");
}

#[tokio::test]
async fn archive_by_unique_value_and_upsert_after_archive_creates_anew() {
    let hub = Hub::start().await;
    let type_id = hub.create_account_object();
    let hubspot = client(&hub.base_url(), ApiVersion::Legacy);
    let accounts = object(&type_id);
    hubspot
        .upsert(
            &accounts,
            ID_PROPERTY,
            vec![
                account("001A", "a", "1"),
                account("001B", "b", "2"),
                account("001C", "c", "3"),
            ],
        )
        .await
        .expect("upsert");
    let archived = hubspot
        .archive_by_unique(
            &accounts,
            ID_PROPERTY,
            vec!["001A".into(), "001B".into(), "001Z".into()],
        )
        .await
        .expect("archive");
    assert_eq!(archived.archived.len(), 2);
    assert_eq!(archived.not_found, ["001Z"]);
    assert_eq!(hub.handle().count(&type_id).expect("count"), 1);
    let again = hubspot
        .upsert(&accounts, ID_PROPERTY, vec![account("001A", "a", "1")])
        .await
        .expect("upsert");
    assert!(again.succeeded[0].created);
    let old_id = archived
        .archived
        .iter()
        .find(|a| a.id_value == "001A")
        .map(|a| a.hubspot_id.clone());
    assert_ne!(Some(again.succeeded[0].hubspot_id.clone()), old_id);
}

#[tokio::test]
async fn associations_use_the_cached_label_type_and_the_default() {
    for version in both_styles() {
        let hub = Hub::start().await;
        let type_id = hub.create_account_object();
        let handle = hub.handle();
        let company = handle
            .seed_record("companies", &[("name", "Acme Inc")])
            .expect("company");
        let hubspot = client(&hub.base_url(), version);
        let accounts = object(&type_id);
        let companies = HubSpotObjectRef::Name("companies".into());
        let written = hubspot
            .upsert(&accounts, ID_PROPERTY, vec![account("001A", "a", "1")])
            .await
            .expect("upsert");
        let account_id = written.succeeded[0].hubspot_id.clone();

        let kind = hubspot
            .association_type(&accounts, &companies, None)
            .await
            .expect("association type");
        assert_eq!(kind.category, "USER_DEFINED");
        hubspot
            .association_type(&accounts, &companies, None)
            .await
            .expect("cached");
        let stats = handle.stats().expect("stats");
        assert_eq!(stats.calls_matching("labels"), 1, "labels are cached");

        let pair = AssociationInput {
            from_id: account_id.clone(),
            to_id: company.to_string(),
        };
        let missing = AssociationInput {
            from_id: account_id.clone(),
            to_id: "999999".into(),
        };
        let outcome = hubspot
            .associate(&accounts, &companies, &kind, vec![pair.clone(), missing])
            .await
            .expect("associate");
        assert_eq!(outcome.succeeded, std::slice::from_ref(&pair));
        assert_eq!(outcome.failed.len(), 1);
        let linked = handle
            .associations_of(&type_id, account_id.parse().expect("id"), "companies")
            .expect("associations");
        assert_eq!(linked.len(), 1);
        assert!(linked[0].1.contains(&kind.type_id));

        let default = hubspot
            .associate_default(&accounts, &companies, vec![pair])
            .await
            .expect("default association");
        assert_eq!(default.succeeded.len(), 1, "{:?}", default.failed);
    }
}

/// A record's associations are read page by page (`after`), and `dissociate_type` removes only
/// the type it names (platform-behaviours.md H3).
#[tokio::test]
async fn association_reads_page_and_removals_name_their_type() {
    let hub = Hub::start().await;
    let type_id = hub.create_account_object();
    let handle = hub.handle();
    let hubspot = client(&hub.base_url(), ApiVersion::Legacy);
    let accounts = object(&type_id);
    let companies = HubSpotObjectRef::Name("companies".into());
    let written = hubspot
        .upsert(&accounts, ID_PROPERTY, vec![account("001A", "a", "1")])
        .await
        .expect("upsert");
    let account_id = written.succeeded[0].hubspot_id.clone();
    let pairs: Vec<AssociationInput> = (0..620)
        .map(|n| {
            let company = handle
                .seed_record("companies", &[("name", &format!("C{n}"))])
                .expect("company");
            AssociationInput {
                from_id: account_id.clone(),
                to_id: company.to_string(),
            }
        })
        .collect();
    let kind = hubspot
        .association_type(&accounts, &companies, None)
        .await
        .expect("type");
    let outcome = hubspot
        .associate(&accounts, &companies, &kind, pairs.clone())
        .await
        .expect("associate");
    assert_eq!(outcome.succeeded.len(), 620);

    let read = hubspot
        .associated_ids(&accounts, &companies, vec![account_id.clone()])
        .await
        .expect("read");
    assert_eq!(read[&account_id].len(), 620, "every page is read");
    assert!(
        handle.stats().expect("stats").calls_matching("batch/read") >= 2,
        "in more than one page"
    );

    hubspot
        .dissociate_type(&accounts, &companies, &kind, pairs[..20].to_vec())
        .await
        .expect("dissociated");
    let read = hubspot
        .associated_ids(&accounts, &companies, vec![account_id.clone()])
        .await
        .expect("read");
    assert_eq!(read[&account_id].len(), 600);
}

#[tokio::test]
async fn an_expired_oauth_token_is_refreshed_once_and_the_call_succeeds() {
    for version in both_styles() {
        let hub = Hub::start().await;
        let type_id = hub.create_account_object();
        let proxy = Proxy::start(&hub.base_url()).await;
        let tokens = TokenSource::oauth(OAuthCredentials {
            client_id: DEFAULT_CLIENT_ID.into(),
            client_secret: DEFAULT_CLIENT_SECRET.into(),
            refresh_token: DEFAULT_REFRESH_TOKEN.into(),
        });
        let hubspot =
            HubSpotClient::new(config(&proxy.base_url, version.clone()), tokens).expect("client");
        let accounts = object(&type_id);
        hubspot
            .upsert(&accounts, ID_PROPERTY, vec![account("001A", "a", "1")])
            .await
            .expect("first upsert");
        let seen = proxy.tokens();
        let first_api_token = seen.last().cloned().expect("a bearer token was sent");
        assert!(hub.handle().expire_token(&first_api_token).expect("expire"));

        let outcome = hubspot
            .upsert(&accounts, ID_PROPERTY, vec![account("001A", "b", "2")])
            .await
            .expect("upsert after expiry");
        assert_eq!(outcome.succeeded.len(), 1, "{version:?}");
        let stats = hub.handle().stats().expect("stats");
        assert_eq!(stats.unauthorized, 1);
        let tokens_seen = proxy.tokens();
        assert_eq!(tokens_seen.len(), 2, "{tokens_seen:?}");
        assert!(!format!("{hubspot:?}").contains(&first_api_token));
        assert!(!format!("{hubspot:?}").contains(DEFAULT_CLIENT_SECRET));
    }
}

#[tokio::test]
async fn auth_and_scope_errors_say_what_to_do() {
    let hub = Hub::start().await;
    let type_id = hub.create_account_object();
    let handle = hub.handle();
    handle
        .add_token(
            "pat-na1-readonly",
            Some(vec!["crm.objects.custom.read".into()]),
        )
        .expect("token");
    let read_only = HubSpotClient::new(
        config(&hub.base_url(), ApiVersion::default()),
        TokenSource::static_token("pat-na1-readonly"),
    )
    .expect("client");
    let error = read_only
        .upsert(
            &object(&type_id),
            ID_PROPERTY,
            vec![account("001A", "a", "1")],
        )
        .await
        .expect_err("no write scope");
    assert_eq!(
        error,
        HubSpotError::MissingScopes {
            scopes: vec!["crm.objects.custom.write".into()]
        }
    );
    assert!(error.to_string().contains("service key"));

    let unknown = HubSpotClient::new(
        config(&hub.base_url(), ApiVersion::default()),
        TokenSource::static_token("pat-na1-unknown"),
    )
    .expect("client");
    let error = unknown
        .upsert(
            &object(&type_id),
            ID_PROPERTY,
            vec![account("001A", "a", "1")],
        )
        .await
        .expect_err("unknown token");
    assert!(matches!(error, HubSpotError::Unauthorized { .. }));
    assert!(!error.to_string().contains("pat-na1-unknown"));

    let error = client(&hub.base_url(), ApiVersion::default())
        .upsert(
            &object(&type_id),
            "account_name",
            vec![account("001A", "a", "1")],
        )
        .await
        .expect_err("not unique");
    assert!(
        matches!(error, HubSpotError::IdPropertyNotUnique { .. }),
        "{error}"
    );
}

#[tokio::test]
async fn the_daily_limit_stops_the_caller_without_a_retry_storm() {
    let hub = Hub::start().await;
    let type_id = hub.create_account_object();
    let handle = hub.handle();
    handle
        .set_rate_limit(RateLimitConfig {
            daily: 1,
            ..RateLimitConfig::default()
        })
        .expect("limits");
    let hubspot = client(&hub.base_url(), ApiVersion::default());
    let accounts = object(&type_id);
    hubspot
        .upsert(&accounts, ID_PROPERTY, vec![account("001A", "a", "1")])
        .await
        .expect("the day's one call");
    let error = hubspot
        .upsert(&accounts, ID_PROPERTY, vec![account("001B", "b", "1")])
        .await
        .expect_err("daily limit");
    assert!(matches!(error, HubSpotError::DailyLimitReached { .. }));
    assert!(error.stops_the_caller() && !error.is_retryable());
    let before = handle.stats().expect("stats").total_requests;
    let again = hubspot
        .upsert(&accounts, ID_PROPERTY, vec![account("001C", "c", "1")])
        .await
        .expect_err("still stopped");
    assert!(matches!(again, HubSpotError::DailyLimitReached { .. }));
    assert_eq!(handle.stats().expect("stats").total_requests, before);
}

#[tokio::test]
async fn server_errors_and_timeouts_are_retried_then_reported_as_retryable() {
    let hub = Hub::start().await;
    let type_id = hub.create_account_object();
    let handle = hub.handle();
    let mut hubspot_config = config(&hub.base_url(), ApiVersion::default());
    hubspot_config.request_timeout = Duration::from_millis(300);
    let hubspot = HubSpotClient::new(
        hubspot_config,
        TokenSource::static_token(sf2hs_sandbox::hubspot::DEFAULT_TOKEN),
    )
    .expect("client");
    handle
        .set_faults(FaultPlan {
            rate_500: 0.2,
            rate_502: 0.1,
            rate_500_rate_limits: 0.1,
            rate_hang: 0.1,
            hang_ms: 2_000,
            ..FaultPlan::default()
        })
        .expect("faults");
    let inputs = (0..300)
        .map(|i| account(&format!("SF{i:04}"), "x", "1"))
        .collect();
    let outcome = hubspot
        .upsert(&object(&type_id), ID_PROPERTY, inputs)
        .await
        .expect("upsert survives the faults");
    assert_eq!(outcome.succeeded.len(), 300, "{:?}", outcome.failed);
    assert!(hubspot.stats().retries > 0);

    handle
        .set_faults(FaultPlan {
            rate_503: 1.0,
            ..FaultPlan::default()
        })
        .expect("faults");
    let error = hubspot
        .upsert(&object(&type_id), ID_PROPERTY, vec![account("X", "x", "1")])
        .await
        .expect_err("outage");
    assert!(error.is_retryable(), "{error}");
    assert!(matches!(
        error,
        HubSpotError::Unavailable { attempts: 8, .. }
    ));
}

/// A Salesforce half that knows nothing, to show the HubSpot half combines with any other.
struct NoSalesforce;

#[async_trait::async_trait]
impl SchemaSource for NoSalesforce {
    async fn salesforce_object(
        &self,
        _name: &str,
    ) -> Result<Option<SalesforceObjectSchema>, SchemaError> {
        Ok(None)
    }

    async fn hubspot_object(
        &self,
        _object: &HubSpotObjectRef,
    ) -> Result<Option<HubSpotObjectSchema>, SchemaError> {
        Ok(None)
    }
}

fn sf_field(name: &str, field_type: &str, picklist: &[&str]) -> SalesforceField {
    SalesforceField {
        name: name.into(),
        field_type: SalesforceFieldType::from(field_type.to_owned()),
        reference_to: vec![],
        picklist_values: picklist.iter().map(|s| (*s).to_owned()).collect(),
        nillable: true,
    }
}

#[tokio::test]
async fn schemas_are_created_from_a_describe_and_read_by_any_reference() {
    for version in both_styles() {
        let hub = Hub::start().await;
        let hubspot = client(&hub.base_url(), version.clone());
        let mut describe = SalesforceObjectSchema {
            name: "Invoice__c".into(),
            custom: true,
            fields: vec![
                sf_field("Id", "id", &[]),
                sf_field("Name", "string", &[]),
                sf_field("Amount__c", "currency", &[]),
                sf_field("Due__c", "date", &[]),
                sf_field("Status__c", "picklist", &["Open", "Paid"]),
                sf_field("Paid__c", "boolean", &[]),
            ],
        };
        let request = SchemaRequest::from_salesforce("invoice", &describe);
        let created = hubspot.ensure_schema(&request).await.expect("ensure");
        assert!(created.created_object);
        let schema = &created.schema;
        assert!(schema.property(ID_PROPERTY).expect("id").has_unique_value);
        assert_eq!(
            schema.property("status").expect("status").options,
            ["Open", "Paid"]
        );

        // Ensuring again creates nothing; a new field adds just its property.
        describe.fields.push(sf_field("Notes__c", "textarea", &[]));
        let again = hubspot
            .ensure_schema(&SchemaRequest::from_salesforce("invoice", &describe))
            .await
            .expect("ensure again");
        assert!(!again.created_object);
        assert_eq!(again.created_properties, ["notes"]);

        let by_id = hubspot
            .object_schema(&HubSpotObjectRef::ObjectTypeId(
                schema.object_type_id.clone(),
            ))
            .await
            .expect("by id")
            .expect("found");
        let fqn = by_id.fully_qualified_name.clone().expect("fqn");
        let by_fqn = hubspot
            .object_schema(&HubSpotObjectRef::FullyQualifiedName(fqn))
            .await
            .expect("by fqn")
            .expect("found");
        let source = HubSpotSchemaSource::new(NoSalesforce, hubspot.clone());
        let by_name = source
            .hubspot_object(&HubSpotObjectRef::Name("invoice".into()))
            .await
            .expect("by name")
            .expect("found");
        assert_eq!(by_id, by_fqn);
        assert_eq!(by_id, by_name);
        assert!(by_id.property("hs_object_id").expect("system").read_only);
        assert_eq!(
            source
                .hubspot_object(&HubSpotObjectRef::Name("nothing".into()))
                .await
                .expect("answer"),
            None
        );
        let companies = hubspot
            .object_schema(&HubSpotObjectRef::Name("companies".into()))
            .await
            .expect("companies")
            .expect("standard object");
        assert_eq!(companies.object_type_id, "0-2");
        assert!(
            hubspot
                .ensure_unique_id_property(&HubSpotObjectRef::Name("invoice".into()), "other_id")
                .await
                .expect("ensure id property")
        );
    }
}
