//! The OCI connector against its fake, once per provider flavour: the connector conformance
//! suite, the token flow, a missing scope, caching and Docker Hub's rate-limit headers.
#![cfg(feature = "oci")]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pathops_connectors::oci::OciConnector;
use pathops_core::{
    CheckResult, Configuration, FailureCode, Integration, IntegrationConnector, Provider,
};
use pathops_testkit::connector_suite::{CHECK_TIMEOUT, ConnectorHarness, context};
use pathops_testkit::fake::oci::{FakeOciRegistry, Flavor};
use pathops_testkit::fixtures::IntegrationBuilder;
use secrecy::SecretString;
use serde_json::json;

fn provider(flavor: Flavor) -> Provider {
    match flavor {
        Flavor::Generic => Provider::OciRegistry,
        Flavor::DockerHub => Provider::DockerHub,
        Flavor::Ghcr => Provider::Ghcr,
        Flavor::Quay => Provider::Quay,
    }
}

struct Harness {
    fake: FakeOciRegistry,
    flavor: Flavor,
    connector: Arc<OciConnector>,
}

impl Harness {
    async fn start(flavor: Flavor) -> Self {
        Self {
            fake: FakeOciRegistry::start(flavor).await,
            flavor,
            connector: Arc::new(OciConnector::builder(provider(flavor)).build().unwrap()),
        }
    }

    fn integration_as(&self, user: &str, repository: Option<&str>) -> Integration {
        let mut configuration = json!({ "username": user });
        if let Some(repo) = repository {
            configuration["repository"] = json!(repo);
        }
        if let Some(origin) = self.fake.auth_origin() {
            configuration["auth_origin"] = json!(origin);
        }
        IntegrationBuilder::new("acme", "registry")
            .provider(provider(self.flavor))
            .base_url(&self.fake.url())
            .configuration(configuration)
            .build()
    }

    async fn test(&self, integration: Integration, secret: &str) -> CheckResult {
        let ctx = context(
            integration,
            Some(SecretString::from(secret.to_owned())),
            CHECK_TIMEOUT,
        );
        self.connector.test_connection(&ctx).await
    }
}

#[async_trait]
impl ConnectorHarness for Harness {
    fn connector(&self) -> Arc<dyn IntegrationConnector> {
        self.connector.clone()
    }
    fn integration(&self) -> Integration {
        self.integration_as(FakeOciRegistry::USER, Some(FakeOciRegistry::REPOSITORY))
    }
    fn valid_secret(&self) -> Option<SecretString> {
        Some(SecretString::from(FakeOciRegistry::PASSWORD.to_owned()))
    }
    fn invalid_secret(&self) -> SecretString {
        SecretString::from("not-the-password".to_owned())
    }
    fn invalid_configuration(&self) -> Option<Configuration> {
        Some(Configuration::new(json!({ "username": "a:b" })).unwrap())
    }
    async fn set_latency(&self, latency: Duration) {
        self.fake.set_latency(latency);
    }
}

pathops_testkit::connector_conformance_tests!(generic_conformance, Harness::start(Flavor::Generic));
pathops_testkit::connector_conformance_tests!(
    docker_hub_conformance,
    Harness::start(Flavor::DockerHub)
);
pathops_testkit::connector_conformance_tests!(ghcr_conformance, Harness::start(Flavor::Ghcr));
pathops_testkit::connector_conformance_tests!(quay_conformance, Harness::start(Flavor::Quay));

#[tokio::test]
async fn every_flavour_names_a_missing_scope_and_an_unknown_repository() {
    for flavor in [
        Flavor::Generic,
        Flavor::DockerHub,
        Flavor::Ghcr,
        Flavor::Quay,
    ] {
        let h = Harness::start(flavor).await;
        let denied = h
            .test(
                h.integration_as(FakeOciRegistry::STRANGER, Some(FakeOciRegistry::REPOSITORY)),
                FakeOciRegistry::PASSWORD,
            )
            .await;
        assert_eq!(
            denied.failure,
            Some(FailureCode::PermissionDenied {
                missing_scope: Some("repository:team/app:pull".to_owned())
            }),
            "{flavor:?}: {}",
            denied.message
        );
        let unknown = h
            .test(
                h.integration_as(FakeOciRegistry::USER, Some("team/other")),
                FakeOciRegistry::PASSWORD,
            )
            .await;
        // The user may not pull a repository it has no grant on, known or not.
        assert!(
            matches!(unknown.failure, Some(FailureCode::PermissionDenied { .. })),
            "{flavor:?}: {}",
            unknown.message
        );
    }
}

#[tokio::test]
async fn docker_hub_reports_its_rate_limit_and_its_token_service_is_elsewhere() {
    let h = Harness::start(Flavor::DockerHub).await;
    let ok = h.test(h.integration(), FakeOciRegistry::PASSWORD).await;
    assert!(ok.is_success(), "{}", ok.message);
    assert_eq!(ok.details["ratelimit_remaining"], "99;w=21600");
    // Without naming the token service's origin, no credential goes there.
    let mut integration = h.integration();
    let mut configuration = integration.configuration.to_value();
    configuration.as_object_mut().unwrap().remove("auth_origin");
    integration.configuration = Configuration::new(configuration).unwrap();
    let before = h.fake.token_requests();
    let refused = h.test(integration, FakeOciRegistry::PASSWORD).await;
    assert_eq!(
        refused.failure,
        Some(FailureCode::InvalidConfig),
        "{}",
        refused.message
    );
    assert_eq!(h.fake.token_requests(), before);
}

#[tokio::test]
async fn checks_reuse_tokens_and_never_leak_the_secret() {
    let h = Harness::start(Flavor::Ghcr).await;
    // Tokens are cached per integration: the same one, checked twenty times.
    let integration = h.integration();
    for _ in 0..20 {
        let r = h.test(integration.clone(), FakeOciRegistry::PASSWORD).await;
        assert!(r.is_success(), "{}", r.message);
        let text = serde_json::to_string(&r).unwrap();
        assert!(!text.contains(FakeOciRegistry::PASSWORD));
    }
    assert_eq!(
        h.fake.token_requests(),
        2,
        "one token per scope for all checks"
    );
    assert_eq!(h.connector.token_requests(), 2);
    // Another integration (another tenant's, say) never gets those tokens.
    let other = h.test(h.integration(), FakeOciRegistry::PASSWORD).await;
    assert!(other.is_success(), "{}", other.message);
    assert_eq!(h.fake.token_requests(), 4);
    let wrong = h.test(h.integration(), "not-the-password").await;
    assert_eq!(wrong.failure, Some(FailureCode::Unauthenticated));
    assert!(!wrong.message.contains("not-the-password"));
    // Every Authorization header the registry saw was a Bearer token: the password went only
    // to the token service.
    for request in h.fake.server().requests() {
        if let Some(auth) = request.header("authorization") {
            assert!(
                auth.starts_with("Bearer ") || request.path.ends_with("/token"),
                "{} got {auth:.10}…",
                request.path
            );
        }
    }
}

#[tokio::test]
async fn a_redirect_to_another_host_is_not_followed_with_the_credential() {
    let h = Harness::start(Flavor::Generic).await;
    // Blob and tag answers are often redirected to storage on another host.
    let elsewhere = FakeOciRegistry::start(Flavor::Generic).await;
    let target = format!("{}/v2/team/app/tags/list?n=1", elsewhere.url());
    let integration = h.integration();
    // Warm the token cache, then redirect the repository call.
    assert!(
        h.test(integration.clone(), FakeOciRegistry::PASSWORD)
            .await
            .is_success()
    );
    h.fake.server().inject(
        pathops_testkit::fake::Fault::on("/v2/team/app/tags/list")
            .status(307)
            .header("location", &target),
    );
    let redirected = h.test(integration, FakeOciRegistry::PASSWORD).await;
    assert!(!redirected.is_success(), "{}", redirected.message);
    assert!(
        elsewhere
            .server()
            .requests()
            .iter()
            .all(|r| r.header("authorization").is_none()),
        "the other host received a credential"
    );
}

#[tokio::test]
async fn later_checks_send_the_known_credential_at_once_and_recover_from_a_revoked_token() {
    let h = Harness::start(Flavor::Quay).await;
    let integration = h.integration();
    assert!(
        h.test(integration.clone(), FakeOciRegistry::PASSWORD)
            .await
            .is_success()
    );
    h.fake.server().clear_requests();
    let again = h.test(integration.clone(), FakeOciRegistry::PASSWORD).await;
    assert!(again.is_success(), "{}", again.message);
    let seen: Vec<_> = h
        .fake
        .server()
        .requests()
        .into_iter()
        .map(|r| (r.path.clone(), r.header("authorization").is_some()))
        .collect();
    assert_eq!(
        seen,
        [
            ("/v2/".to_owned(), true),
            ("/v2/team/app/tags/list".to_owned(), true)
        ],
        "one authorized call per step, no anonymous probe"
    );
    h.fake.revoke_tokens();
    let before = h.fake.token_requests();
    let recovered = h.test(integration, FakeOciRegistry::PASSWORD).await;
    assert!(recovered.is_success(), "{}", recovered.message);
    assert_eq!(
        h.fake.token_requests(),
        before + 2,
        "fresh tokens for both scopes"
    );
}
