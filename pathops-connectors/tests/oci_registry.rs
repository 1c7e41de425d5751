//! The OCI connector against a real registry (the CNCF distribution registry, Debian's
//! `docker-registry`): anonymous, htpasswd (Basic) and token (Bearer, ES256 JWT) auth.
//! Skips without `PATHOPS_TEST_REGISTRY_BIN` (and fails in CI, which sets it).
#![cfg(feature = "oci")]

use std::sync::Arc;

use pathops_connectors::http::HttpPolicy;
use pathops_connectors::oci::OciConnector;
use pathops_core::{CheckResult, FailureCode, Integration, IntegrationConnector, Probe, Provider};
use pathops_testkit::connector_suite::{CHECK_TIMEOUT, context};
use pathops_testkit::fixtures::IntegrationBuilder;
use pathops_testkit::registry::{
    RegistryAuth, RegistryServer, TokenServer, TokenUser, push_image, registry_bin,
};
use secrecy::SecretString;
use serde_json::{Value, json};

const SENTINEL: &str = "registry-SENTINEL-secret-9c1e";

fn connector() -> Arc<OciConnector> {
    Arc::new(
        OciConnector::builder(Provider::OciRegistry)
            .with_http(HttpPolicy::default())
            .build()
            .unwrap(),
    )
}

fn integration(url: &str, configuration: Value) -> Integration {
    IntegrationBuilder::new("acme", "registry")
        .provider(Provider::OciRegistry)
        .base_url(url)
        .auth_ref("ref://acme/oci-registry/robot")
        .configuration(configuration)
        .build()
}

async fn check(
    connector: &OciConnector,
    integration: Integration,
    secret: Option<&str>,
) -> CheckResult {
    let ctx = context(
        integration,
        secret.map(|s| SecretString::from(s.to_owned())),
        CHECK_TIMEOUT,
    );
    let result = connector.test_connection(&ctx).await;
    let text = serde_json::to_string(&result).unwrap();
    assert!(!text.contains(SENTINEL), "a secret in the result: {text}");
    result
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

#[tokio::test]
async fn an_anonymous_registry_passes_without_credentials() {
    let Some(bin) = registry_bin() else { return };
    let registry = RegistryServer::start(&bin, RegistryAuth::Anonymous).await;
    push_image(registry.url(), "team/app", None).await;
    let oci = connector();
    let result = check(&oci, integration(registry.url(), json!({})), None).await;
    assert!(result.is_success(), "{}", result.message);
    assert_eq!(result.details["auth_scheme"], "anonymous");
    assert_eq!(result.details["api_version"], "registry/2.0");
    let with_repo = check(
        &oci,
        integration(registry.url(), json!({"repository": "team/app"})),
        None,
    )
    .await;
    assert!(with_repo.is_success(), "{}", with_repo.message);
    let missing = check(
        &oci,
        integration(registry.url(), json!({"repository": "team/missing"})),
        None,
    )
    .await;
    assert_eq!(
        missing.failure,
        Some(FailureCode::NotFound),
        "{}",
        missing.message
    );
    assert_eq!(missing.details["registry_errors"], json!(["NAME_UNKNOWN"]));
    assert_eq!(oci.token_requests(), 0);
}

#[tokio::test]
async fn htpasswd_credentials_are_proved_with_basic() {
    let Some(bin) = registry_bin() else { return };
    let registry = RegistryServer::start(
        &bin,
        RegistryAuth::Htpasswd(vec![("ci".to_owned(), SENTINEL.to_owned())]),
    )
    .await;
    push_image(registry.url(), "team/app", Some(&basic("ci", SENTINEL))).await;
    let oci = connector();
    let config = json!({"username": "ci", "repository": "team/app"});
    let ok = check(
        &oci,
        integration(registry.url(), config.clone()),
        Some(SENTINEL),
    )
    .await;
    assert!(ok.is_success(), "{}", ok.message);
    assert_eq!(ok.details["auth_scheme"], "basic");

    let wrong = check(
        &oci,
        integration(registry.url(), config.clone()),
        Some("wrong-password"),
    )
    .await;
    assert_eq!(
        wrong.failure,
        Some(FailureCode::Unauthenticated),
        "{}",
        wrong.message
    );
    assert_eq!(wrong.reachability, Probe::Passed);
    assert_eq!(wrong.authentication, Probe::Failed);

    let none = check(&oci, integration(registry.url(), json!({})), None).await;
    assert_eq!(
        none.failure,
        Some(FailureCode::Unauthenticated),
        "{}",
        none.message
    );
    assert!(none.message.contains("username"), "{}", none.message);
}

async fn token_registry(bin: &str, expires_in: u64) -> (TokenServer, RegistryServer) {
    let tokens = TokenServer::start_with(
        vec![
            TokenUser::new("ci", SENTINEL)
                .grant("team/app", &["pull"])
                .grant("team/missing", &["pull"]),
            TokenUser::new("pusher", "push-secret-0000").grant("team/app", &["pull", "push"]),
            TokenUser::new("stranger", "stranger-secret-00"),
        ],
        expires_in,
    )
    .await;
    let registry = RegistryServer::start(bin, tokens.auth()).await;
    let push = tokens.token_for("pusher", &["repository:team/app:pull,push"]);
    push_image(registry.url(), "team/app", Some(&format!("Bearer {push}"))).await;
    (tokens, registry)
}

#[tokio::test]
async fn token_auth_follows_the_challenge_and_names_a_missing_scope() {
    let Some(bin) = registry_bin() else { return };
    let (tokens, registry) = token_registry(&bin, 300).await;
    let oci = connector();
    let config = |user: &str, repo: &str| json!({"username": user, "repository": repo, "auth_origin": tokens.origin()});

    let ok = check(
        &oci,
        integration(registry.url(), config("ci", "team/app")),
        Some(SENTINEL),
    )
    .await;
    assert!(ok.is_success(), "{}", ok.message);
    assert_eq!(ok.details["auth_scheme"], "bearer");
    assert!(
        ok.message.contains("repository:team/app:pull"),
        "{}",
        ok.message
    );

    let wrong = check(
        &oci,
        integration(registry.url(), config("ci", "team/app")),
        Some("nope"),
    )
    .await;
    assert_eq!(
        wrong.failure,
        Some(FailureCode::Unauthenticated),
        "{}",
        wrong.message
    );
    assert!(wrong.message.contains("token service"), "{}", wrong.message);

    // Valid credentials without pull: the token service still issues a token, the registry
    // refuses the call.
    let denied = check(
        &oci,
        integration(registry.url(), config("stranger", "team/app")),
        Some("stranger-secret-00"),
    )
    .await;
    assert_eq!(
        denied.failure,
        Some(FailureCode::PermissionDenied {
            missing_scope: Some("repository:team/app:pull".to_owned())
        }),
        "{}",
        denied.message
    );
    assert_eq!(denied.authentication, Probe::Passed);

    let missing = check(
        &oci,
        integration(registry.url(), config("ci", "team/missing")),
        Some(SENTINEL),
    )
    .await;
    assert_eq!(
        missing.failure,
        Some(FailureCode::NotFound),
        "{}",
        missing.message
    );
}

#[tokio::test]
async fn tokens_are_cached_per_scope_until_shortly_before_they_expire() {
    let Some(bin) = registry_bin() else { return };
    let (tokens, registry) = token_registry(&bin, 300).await;
    let oci = connector();
    let i = integration(
        registry.url(),
        json!({"username": "ci", "repository": "team/app", "auth_origin": tokens.origin()}),
    );
    for _ in 0..10 {
        let r = check(&oci, i.clone(), Some(SENTINEL)).await;
        assert!(r.is_success(), "{}", r.message);
    }
    // One scope-less token for /v2/ and one for the repository, for all ten checks.
    assert_eq!(oci.token_requests(), 2);
    assert_eq!(tokens.requests(), 2);

    // Tokens that expire at once (expires_in 0) are used for their call and never cached.
    let (short, registry) = token_registry(&bin, 0).await;
    let oci = connector();
    let i = integration(
        registry.url(),
        json!({"username": "ci", "auth_origin": short.origin()}),
    );
    for _ in 0..3 {
        let r = check(&oci, i.clone(), Some(SENTINEL)).await;
        assert!(r.is_success(), "{}", r.message);
    }
    assert_eq!(short.requests(), 3);
}

#[tokio::test]
async fn a_token_realm_on_another_origin_gets_no_credential() {
    let Some(bin) = registry_bin() else { return };
    let (tokens, registry) = token_registry(&bin, 300).await;
    let before = tokens.requests();
    let oci = connector();
    // No auth_origin: the realm (another port, so another origin) is not the registry's.
    let refused = check(
        &oci,
        integration(registry.url(), json!({"username": "ci"})),
        Some(SENTINEL),
    )
    .await;
    assert_eq!(
        refused.failure,
        Some(FailureCode::InvalidConfig),
        "{}",
        refused.message
    );
    assert!(
        refused.message.contains("auth_origin"),
        "{}",
        refused.message
    );
    assert_eq!(
        tokens.requests(),
        before,
        "nothing was sent to the foreign realm"
    );
    assert_eq!(oci.token_requests(), 0);
}

#[tokio::test]
async fn something_that_is_not_a_registry_is_said_so() {
    let Some(bin) = registry_bin() else { return };
    // The token server answers 404 on /v2/.
    let (tokens, _registry) = token_registry(&bin, 300).await;
    let oci = connector();
    let result = check(&oci, integration(tokens.origin(), json!({})), None).await;
    assert_eq!(
        result.failure,
        Some(FailureCode::InvalidResponse),
        "{}",
        result.message
    );
    assert!(
        result.message.contains("not an OCI registry"),
        "{}",
        result.message
    );
}

#[tokio::test]
async fn configuration_is_typed_and_unknown_keys_are_refused() {
    let oci = connector();
    let cfg = |v: Value| pathops_core::Configuration::new(v).unwrap();
    assert!(
        oci.validate_config(&cfg(json!({"username": "ci", "repository": "team/app"})))
            .await
            .is_ok()
    );
    for (bad, key) in [
        (json!({"usernme": "ci"}), "usernme"),
        (json!({"username": "a:b"}), "username"),
        (json!({"username": 7}), "username"),
        (json!({"repository": "Team/App"}), "repository"),
        (json!({"repository": "team//app"}), "repository"),
        (json!({"auth_origin": "ftp://x"}), "auth_origin"),
    ] {
        let err = oci
            .validate_config(&cfg(bad.clone()))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(&format!("`{key}`")), "{bad}: {err}");
    }
    assert!(
        OciConnector::builder(Provider::Harbor).build().is_err(),
        "Harbor keeps its own connector"
    );
}

/// The conformance suite against the real registry (token auth), through a proxy that can
/// slow it down.
struct RealHarness {
    _tokens: TokenServer,
    _registry: RegistryServer,
    proxy: pathops_testkit::registry::LatencyProxy,
    auth_origin: String,
    connector: Arc<OciConnector>,
}

#[async_trait::async_trait]
impl pathops_testkit::connector_suite::ConnectorHarness for RealHarness {
    fn connector(&self) -> Arc<dyn IntegrationConnector> {
        self.connector.clone()
    }
    fn integration(&self) -> Integration {
        integration(
            self.proxy.url(),
            json!({"username": "ci", "repository": "team/app", "auth_origin": self.auth_origin}),
        )
    }
    fn valid_secret(&self) -> Option<SecretString> {
        Some(SecretString::from(SENTINEL.to_owned()))
    }
    fn invalid_secret(&self) -> SecretString {
        SecretString::from("not-the-password".to_owned())
    }
    fn invalid_configuration(&self) -> Option<pathops_core::Configuration> {
        Some(pathops_core::Configuration::new(json!({"repository": "Not/Valid"})).unwrap())
    }
    async fn set_latency(&self, latency: std::time::Duration) {
        self.proxy.set_latency(latency);
    }
}

#[tokio::test]
async fn the_connector_conformance_suite_passes_against_the_real_registry() {
    let Some(bin) = registry_bin() else { return };
    let (tokens, registry) = token_registry(&bin, 300).await;
    let proxy = pathops_testkit::registry::LatencyProxy::start(registry.url()).await;
    let harness = RealHarness {
        auth_origin: tokens.origin().to_owned(),
        _tokens: tokens,
        _registry: registry,
        proxy,
        connector: connector(),
    };
    pathops_testkit::connector_suite::run_all(&harness).await;
}
