//! The OCI connector against its fake, once per provider flavour: the connector conformance
//! suite, the token flow, a missing scope, caching and Docker Hub's rate-limit headers.
#![cfg(feature = "oci")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pathops_connectors::oci::OciConnector;
use pathops_core::{
    CheckResult, Configuration, FailureCode, Integration, IntegrationConnector, Provider,
};
use pathops_testkit::connector_suite::{CHECK_TIMEOUT, ConnectorHarness, context};
use pathops_testkit::fake::Fault;
use pathops_testkit::fake::oci::{FakeEcr, FakeOciRegistry, Flavor};
use pathops_testkit::fixtures::IntegrationBuilder;
use secrecy::SecretString;
use serde_json::json;

fn provider(flavor: Flavor) -> Provider {
    match flavor {
        Flavor::Generic => Provider::OciRegistry,
        Flavor::DockerHub => Provider::DockerHub,
        Flavor::Ghcr => Provider::Ghcr,
        Flavor::Quay => Provider::Quay,
        Flavor::Acr => Provider::Acr,
        Flavor::ArtifactRegistry => Provider::Gcr,
        Flavor::Artifactory => Provider::Artifactory,
    }
}

/// The account a flavour's integrations use, and its secret.
fn account(flavor: Flavor) -> (&'static str, String) {
    match flavor {
        Flavor::ArtifactRegistry => ("_json_key", FakeOciRegistry::service_account_key()),
        _ => (FakeOciRegistry::USER, FakeOciRegistry::PASSWORD.to_owned()),
    }
}

const ALL: [Flavor; 7] = [
    Flavor::Generic,
    Flavor::DockerHub,
    Flavor::Ghcr,
    Flavor::Quay,
    Flavor::Acr,
    Flavor::ArtifactRegistry,
    Flavor::Artifactory,
];

struct Harness {
    fake: FakeOciRegistry,
    flavor: Flavor,
    connector: Arc<OciConnector>,
}

impl Harness {
    async fn start(flavor: Flavor) -> Self {
        let fake = FakeOciRegistry::start(flavor).await;
        let mut builder = OciConnector::builder(provider(flavor));
        if let Some(google) = fake.google_token_url() {
            builder = builder.with_google_token_url(google);
        }
        Self {
            fake,
            flavor,
            connector: Arc::new(builder.build().unwrap()),
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
        if self.flavor == Flavor::Artifactory {
            configuration["docker_repository"] = json!("docker-local");
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
        self.integration_as(account(self.flavor).0, Some(FakeOciRegistry::REPOSITORY))
    }
    fn valid_secret(&self) -> Option<SecretString> {
        Some(SecretString::from(account(self.flavor).1))
    }
    fn invalid_secret(&self) -> SecretString {
        match self.flavor {
            // A well-formed key of another service account: Google refuses its assertion.
            Flavor::ArtifactRegistry => SecretString::from(account(self.flavor).1.replace(
                FakeOciRegistry::SERVICE_ACCOUNT,
                "someone-else@fake-project.iam.gserviceaccount.com",
            )),
            _ => SecretString::from("not-the-password".to_owned()),
        }
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
pathops_testkit::connector_conformance_tests!(acr_conformance, Harness::start(Flavor::Acr));
pathops_testkit::connector_conformance_tests!(
    artifact_registry_conformance,
    Harness::start(Flavor::ArtifactRegistry)
);
pathops_testkit::connector_conformance_tests!(
    artifactory_conformance,
    Harness::start(Flavor::Artifactory)
);

#[tokio::test]
async fn every_flavour_names_a_missing_scope_and_an_unknown_repository() {
    for flavor in [
        Flavor::Generic,
        Flavor::DockerHub,
        Flavor::Ghcr,
        Flavor::Quay,
        Flavor::Acr,
        Flavor::Artifactory,
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

#[tokio::test]
async fn acr_exchanges_an_entra_token_for_a_refresh_then_an_access_token() {
    let h = Harness::start(Flavor::Acr).await;
    let entra = |h: &Harness| {
        IntegrationBuilder::new("acme", "acr")
            .provider(Provider::Acr)
            .base_url(&h.fake.url())
            .configuration(json!({"auth": "entra", "repository": FakeOciRegistry::REPOSITORY}))
            .build()
    };
    let ok = h.test(entra(&h), FakeOciRegistry::ENTRA_TOKEN).await;
    assert!(ok.is_success(), "{}", ok.message);
    assert_eq!(ok.details["auth_scheme"], "bearer");
    let calls: Vec<String> = h
        .fake
        .server()
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(
        calls.contains(&"POST /oauth2/exchange".to_owned()),
        "{calls:?}"
    );
    assert!(
        calls.contains(&"POST /oauth2/token".to_owned()),
        "{calls:?}"
    );
    for request in h.fake.server().requests() {
        if request.method == "POST" {
            assert_eq!(
                request.header("content-type"),
                Some("application/x-www-form-urlencoded")
            );
        }
    }
    let wrong = h.test(entra(&h), "an-expired-entra-token").await;
    assert_eq!(
        wrong.failure,
        Some(FailureCode::Unauthenticated),
        "{}",
        wrong.message
    );
    assert!(!wrong.message.contains("an-expired-entra-token"));
}

#[tokio::test]
async fn artifact_registry_signs_an_assertion_and_never_follows_the_keys_token_uri() {
    let h = Harness::start(Flavor::ArtifactRegistry).await;
    let integration = h.integration();
    let (_, key) = account(Flavor::ArtifactRegistry);
    let ok = h.test(integration.clone(), &key).await;
    assert!(ok.is_success(), "{}", ok.message);
    // The key's token_uri names Google; the operator's endpoint (the fake) was used, and the
    // registry received oauth2accesstoken, never the key.
    for request in h.fake.server().requests() {
        if let Some(auth) = request.header("authorization") {
            assert!(!auth.contains("PRIVATE"), "the key reached the registry");
        }
    }
    // The access token and the registry tokens are reused by later checks.
    let before = h.fake.token_requests();
    assert!(h.test(integration, &key).await.is_success());
    assert_eq!(
        h.fake.token_requests(),
        before,
        "no new Google or registry token"
    );
    let base64_key = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&key)
    };
    let b64 = h.integration_as("_json_key_base64", Some(FakeOciRegistry::REPOSITORY));
    let ok = h.test(b64, &base64_key).await;
    assert!(ok.is_success(), "{}", ok.message);
    let not_a_key = h.test(h.integration(), r#"{"just": "json"}"#).await;
    assert_eq!(
        not_a_key.failure,
        Some(FailureCode::InvalidConfig),
        "{}",
        not_a_key.message
    );
}

#[tokio::test]
async fn artifactory_reports_its_version_and_serves_docker_under_the_repository_path() {
    let h = Harness::start(Flavor::Artifactory).await;
    let ok = h.test(h.integration(), FakeOciRegistry::PASSWORD).await;
    assert!(ok.is_success(), "{}", ok.message);
    assert_eq!(
        ok.details["artifactory_version"],
        FakeOciRegistry::ARTIFACTORY_VERSION
    );
    assert!(
        !h.fake
            .server()
            .requests_to("/artifactory/api/docker/docker-local/v2/")
            .is_empty()
    );
    h.fake.server().inject(
        pathops_testkit::fake::Fault::on("/artifactory/api/system/ping")
            .status(503)
            .body("Service Unavailable"),
    );
    let down = h.test(h.integration(), FakeOciRegistry::PASSWORD).await;
    assert_eq!(
        down.failure,
        Some(FailureCode::ServerError { status: 503 }),
        "{}",
        down.message
    );
}

#[tokio::test]
async fn every_flavour_keeps_its_secret_out_of_results() {
    for flavor in ALL {
        let h = Harness::start(flavor).await;
        let (_, secret) = account(flavor);
        for result in [
            h.test(h.integration(), &secret).await,
            h.test(h.integration(), "wrong-SENTINEL-secret").await,
        ] {
            let text = serde_json::to_string(&result).unwrap();
            assert!(
                !text.contains(&secret) && !text.contains("SENTINEL"),
                "{flavor:?}: {text}"
            );
        }
    }
}

#[tokio::test]
async fn registry_error_answers_map_to_failure_codes() {
    let h = Harness::start(Flavor::Generic).await;
    let integration = h.integration();
    let ok = h.test(integration.clone(), FakeOciRegistry::PASSWORD).await;
    assert!(ok.is_success(), "{}", ok.message);
    let tags = "/v2/team/app/tags/list";
    let cases = [
        (
            tags,
            429,
            r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}"#,
            "TOOMANYREQUESTS",
        ),
        (
            tags,
            405,
            r#"{"errors":[{"code":"UNSUPPORTED","message":"not here"}]}"#,
            "UNSUPPORTED",
        ),
        (
            tags,
            500,
            r#"{"errors":[{"code":"UNKNOWN","message":"boom"}]}"#,
            "UNKNOWN",
        ),
    ];
    for (path, status, body, code) in cases {
        let mut fault = Fault::on(path).status(status).body(body).times(1);
        if status == 429 {
            fault = fault.header("retry-after", "30");
        }
        h.fake.server().inject(fault);
        let result = h.test(integration.clone(), FakeOciRegistry::PASSWORD).await;
        let expected = match status {
            429 => "rate_limited",
            500 => "server_error",
            _ => "invalid_response",
        };
        assert_eq!(
            result.failure.as_ref().map(FailureCode::as_str),
            Some(expected),
            "{status}: {}",
            result.message
        );
        assert_eq!(result.details["registry_errors"], json!([code]), "{status}");
        if let Some(FailureCode::RateLimited { reset_at }) = &result.failure {
            assert!(reset_at.is_some(), "Retry-After is kept");
        }
    }
    h.fake
        .server()
        .inject(Fault::on("/v2/").status(404).body("no").times(1));
    let fresh = h.integration();
    let not_registry = h.test(fresh, FakeOciRegistry::PASSWORD).await;
    assert_eq!(not_registry.failure, Some(FailureCode::InvalidResponse));
    assert!(not_registry.message.contains("not an OCI registry"));
}

#[tokio::test]
async fn no_secret_or_token_reaches_the_logs() {
    let logs = common::LogCapture::global();
    for flavor in ALL {
        let h = Harness::start(flavor).await;
        let (_, secret) = account(flavor);
        let integration = h.integration();
        for _ in 0..2 {
            let _ = h.test(integration.clone(), &secret).await;
        }
        let _ = h.test(h.integration(), "wrong-password").await;
        if flavor == Flavor::Acr {
            let entra = IntegrationBuilder::new("acme", "acr")
                .provider(Provider::Acr)
                .base_url(&h.fake.url())
                .configuration(json!({"auth": "entra", "repository": FakeOciRegistry::REPOSITORY}))
                .build();
            let _ = h.test(entra, FakeOciRegistry::ENTRA_TOKEN).await;
        }
    }
    let text = logs.contents();
    assert!(!text.is_empty(), "the capture saw the checks");
    for secret in [
        FakeOciRegistry::PASSWORD,
        FakeOciRegistry::ENTRA_TOKEN,
        "PRIVATE KEY",
        "fake-oci-",
        "fake-acr-",
        "ya29.",
    ] {
        common::assert_no_sentinel(secret, "logs", &text);
    }
}

struct EcrHarness {
    fake: FakeEcr,
    connector: Arc<OciConnector>,
}

impl EcrHarness {
    async fn start() -> Self {
        let fake = FakeEcr::start().await;
        let connector = Arc::new(
            OciConnector::builder(Provider::Ecr)
                .with_ecr_endpoint(fake.api_url())
                .build()
                .unwrap(),
        );
        Self { fake, connector }
    }
}

#[async_trait]
impl ConnectorHarness for EcrHarness {
    fn connector(&self) -> Arc<dyn IntegrationConnector> {
        self.connector.clone()
    }
    fn integration(&self) -> Integration {
        IntegrationBuilder::new("acme", "ecr")
            .provider(Provider::Ecr)
            .base_url(&self.fake.registry_url())
            .configuration(
                json!({"region": FakeEcr::REGION, "repository": FakeOciRegistry::REPOSITORY}),
            )
            .build()
    }
    fn valid_secret(&self) -> Option<SecretString> {
        Some(SecretString::from(FakeEcr::secret(
            FakeEcr::SECRET_ACCESS_KEY,
        )))
    }
    fn invalid_secret(&self) -> SecretString {
        SecretString::from(FakeEcr::secret("not-the-secret-access-key"))
    }
    fn invalid_configuration(&self) -> Option<Configuration> {
        Some(Configuration::new(json!({"region": "US East"})).unwrap())
    }
    async fn set_latency(&self, latency: Duration) {
        self.fake.set_latency(latency);
    }
}

pathops_testkit::connector_conformance_tests!(ecr_conformance, EcrHarness::start());

#[tokio::test]
async fn ecr_reuses_its_password_for_twelve_hours_and_reports_aws_errors() {
    let h = EcrHarness::start().await;
    let integration = h.integration();
    for _ in 0..5 {
        let ctx = context(integration.clone(), h.valid_secret(), CHECK_TIMEOUT);
        let r = h.connector.test_connection(&ctx).await;
        assert!(r.is_success(), "{}", r.message);
        assert_eq!(r.details["auth_scheme"], "basic");
    }
    assert_eq!(
        h.fake.api_calls(),
        1,
        "one GetAuthorizationToken for five checks"
    );
    let unknown = SecretString::from(
        json!({"access_key_id": "AKIAUNKNOWN000000000", "secret_access_key": "whatever-it-is"})
            .to_string(),
    );
    let r = h
        .connector
        .test_connection(&context(h.integration(), Some(unknown), CHECK_TIMEOUT))
        .await;
    assert_eq!(
        r.failure,
        Some(FailureCode::Unauthenticated),
        "{}",
        r.message
    );
    assert!(
        r.message.contains("UnrecognizedClientException") || r.message.contains("security token"),
        "{}",
        r.message
    );
    let no_region = IntegrationBuilder::new("acme", "ecr")
        .provider(Provider::Ecr)
        .base_url(&h.fake.registry_url())
        .build();
    let r = h
        .connector
        .test_connection(&context(no_region, h.valid_secret(), CHECK_TIMEOUT))
        .await;
    assert_eq!(r.failure, Some(FailureCode::InvalidConfig), "{}", r.message);
    assert!(r.message.contains("region"), "{}", r.message);
}
