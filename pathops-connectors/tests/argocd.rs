//! The Argo CD connector against the fake Argo CD: conformance, Argo CD's quirks (userinfo's
//! 200 with `loggedIn: false`, the short anonymous version, authentication disabled, a list
//! filtered to nothing), the RBAC call's 401 and 403, every status code of the reference,
//! transport failures, bad configuration, findings, the doctor, and a sentinel-secret scan.

#![cfg(feature = "argocd")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pathops_connectors::argocd::{ArgoCdConnector, RBAC_DOC, TOKEN_DOC};
use pathops_connectors::http::HttpPolicy;
use pathops_core::{
    CheckResult, Configuration, FailureCode, Integration, IntegrationConnector, Probe, Provider,
    Severity,
};
use pathops_testkit::connector_suite::{CHECK_TIMEOUT, ConnectorHarness, context};
use pathops_testkit::fake::Fault;
use pathops_testkit::fake::argocd::{ArgoCdAccount, FakeArgoCd};
use pathops_testkit::fixtures::IntegrationBuilder;
use secrecy::SecretString;
use serde_json::{Value, json};

fn connector() -> Arc<ArgoCdConnector> {
    Arc::new(ArgoCdConnector::builder().build().unwrap())
}

fn integration_with(url: &str, configuration: Value) -> Integration {
    IntegrationBuilder::new("acme", "Argo CD")
        .provider(Provider::ArgoCd)
        .base_url(url)
        .auth_ref("ref://acme/argocd/token")
        .configuration(configuration)
        .build()
}

fn integration(url: &str) -> Integration {
    integration_with(url, json!({"account": FakeArgoCd::ACCOUNT}))
}

fn secret(s: &str) -> Option<SecretString> {
    Some(SecretString::from(s.to_owned()))
}

async fn test_with(c: &ArgoCdConnector, i: Integration, token: Option<&str>) -> CheckResult {
    c.test_connection(&context(i, token.and_then(secret), CHECK_TIMEOUT))
        .await
}

async fn test(c: &ArgoCdConnector, a: &FakeArgoCd, token: Option<&str>) -> CheckResult {
    test_with(c, integration(&a.url()), token).await
}

fn denied(what: &str) -> Option<FailureCode> {
    Some(FailureCode::PermissionDenied {
        missing_scope: Some(what.to_owned()),
    })
}

struct Harness {
    argocd: FakeArgoCd,
    connector: Arc<ArgoCdConnector>,
}

#[async_trait]
impl ConnectorHarness for Harness {
    fn connector(&self) -> Arc<dyn IntegrationConnector> {
        self.connector.clone()
    }
    fn integration(&self) -> Integration {
        integration(&self.argocd.url())
    }
    fn valid_secret(&self) -> Option<SecretString> {
        secret(FakeArgoCd::TOKEN)
    }
    fn invalid_secret(&self) -> SecretString {
        SecretString::from("argocd-not-a-token".to_owned())
    }
    fn invalid_configuration(&self) -> Option<Configuration> {
        Some(Configuration::new(json!({"project": "has space"})).unwrap())
    }
    async fn set_latency(&self, latency: Duration) {
        self.argocd.set_latency(latency);
    }
}

pathops_testkit::connector_conformance_tests!(argocd_conformance, async {
    Harness {
        argocd: FakeArgoCd::start_with_defaults().await,
        connector: connector(),
    }
});

#[tokio::test]
async fn a_valid_token_passes_with_version_user_groups_and_rbac() {
    let a = FakeArgoCd::start_with_defaults().await;
    let c = connector();
    let r = test(&c, &a, Some(FakeArgoCd::TOKEN)).await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(r.details["version"], FakeArgoCd::DEFAULT_VERSION);
    assert_eq!(r.details["version_answer"], "full");
    assert_eq!(r.details["username"], FakeArgoCd::ACCOUNT);
    assert_eq!(r.details["groups"], json!(["platform-team"]));
    assert_eq!(r.details["issuer"], "argocd");
    assert_eq!(
        r.details["rbac"],
        json!({"call": "GET /api/v1/applications", "applications": 2})
    );
    assert!(r.details.get("auth_disabled").is_none());
    assert!(
        r.message
            .contains("logged in as pathops; 2 applications visible"),
        "{}",
        r.message
    );
    let bearer = format!("Bearer {}", FakeArgoCd::TOKEN);
    for path in [
        "/api/version",
        "/api/v1/session/userinfo",
        "/api/v1/applications",
    ] {
        let seen = a.requests_to(path);
        assert_eq!(seen.len(), 1, "{path}");
        assert_eq!(
            seen[0].header("authorization"),
            Some(bearer.as_str()),
            "{path}"
        );
    }
    assert_eq!(
        a.requests_to("/api/v1/applications")[0].query.as_deref(),
        Some("fields=items.metadata.name")
    );
    assert_eq!(a.requests_to("/healthz")[0].header("authorization"), None);
    assert!(c.findings(&integration(&a.url()), &r).is_empty());

    let h = c
        .check_health(&context(
            integration(&a.url()),
            secret(FakeArgoCd::TOKEN),
            CHECK_TIMEOUT,
        ))
        .await;
    assert!(h.is_success(), "{}", h.message);
    assert!(h.details.get("rbac").is_none());
    assert_eq!(
        a.requests_to("/api/v1/applications").len(),
        1,
        "health makes no RBAC call"
    );
}

#[tokio::test]
async fn userinfo_200_with_logged_in_false_is_unauthenticated() {
    let a = FakeArgoCd::start_with_defaults().await;
    let c = connector();
    let r = test(&c, &a, Some(FakeArgoCd::REVOKED_TOKEN)).await;
    assert_eq!(
        r.failure,
        Some(FailureCode::Unauthenticated),
        "{}",
        r.message
    );
    assert_eq!(
        (r.reachability, r.authentication),
        (Probe::Passed, Probe::Failed)
    );
    assert!(
        r.message.contains("answered 200 with loggedIn: false"),
        "{}",
        r.message
    );
    assert!(r.message.contains("not accepted"), "{}", r.message);
    assert_eq!(
        r.details["version"],
        FakeArgoCd::DEFAULT_VERSION,
        "the short answer's version"
    );
    assert!(a.requests_to("/api/v1/applications").is_empty());

    let r = test(&c, &a, None).await;
    assert_eq!(r.failure, Some(FailureCode::Unauthenticated));
    assert!(r.message.contains("no token configured"), "{}", r.message);

    a.revoke_token(FakeArgoCd::TOKEN);
    let r = test(&c, &a, Some(FakeArgoCd::TOKEN)).await;
    assert_eq!(
        r.failure,
        Some(FailureCode::Unauthenticated),
        "a revoked token"
    );
    let findings = c.findings(&integration(&a.url()), &r);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let f = &findings[0];
    assert_eq!(
        (f.severity, f.code.as_str()),
        (Severity::Error, "unauthenticated")
    );
    assert_eq!(
        f.api_call.as_deref(),
        Some("argocd account generate-token --account pathops")
    );
    assert!(
        f.steps
            .iter()
            .any(|s| s.contains("accounts.pathops: apiKey")),
        "{:?}",
        f.steps
    );
    assert!(
        f.steps
            .iter()
            .any(|s| s.contains("ref://acme/argocd/token")),
        "{:?}",
        f.steps
    );
    assert_eq!(f.doc_link.as_deref(), Some(TOKEN_DOC));
}

#[tokio::test]
async fn the_rbac_call_tells_a_denied_token_from_a_refused_one() {
    let a = FakeArgoCd::start_with_defaults().await;
    let c = connector();
    let r = test(&c, &a, Some(FakeArgoCd::DENIED_TOKEN)).await;
    assert_eq!(r.failure, denied("applications, get, */*"), "{}", r.message);
    assert!(
        r.message.contains("answered 403: permission denied"),
        "{}",
        r.message
    );
    assert_eq!(r.authentication, Probe::Passed);
    let findings = c.findings(
        &integration_with(&a.url(), json!({"account": FakeArgoCd::DENIED_ACCOUNT})),
        &r,
    );
    assert_eq!(findings[0].code, "missing_scope");
    assert!(
        findings[0].steps[0].contains("`p, role:pathops, applications, get, */*, allow`"),
        "{:?}",
        findings[0].steps
    );
    assert!(findings[0].steps[0].contains("`g, auditor, role:pathops`"));
    assert_eq!(findings[0].doc_link.as_deref(), Some(RBAC_DOC));
    // The health check has no RBAC call: the denied token is still a working login.
    let h = c
        .check_health(&context(
            integration(&a.url()),
            secret(FakeArgoCd::DENIED_TOKEN),
            CHECK_TIMEOUT,
        ))
        .await;
    assert!(h.is_success(), "{}", h.message);

    // userinfo said logged in, the RBAC call refuses the token: 401 is unauthenticated.
    a.inject(
        Fault::on("/api/v1/applications")
            .status(401)
            .body(r#"{"error":"invalid session: token has expired","code":16,"message":"invalid session: token has expired"}"#)
            .times(1),
    );
    let r = test(&c, &a, Some(FakeArgoCd::TOKEN)).await;
    assert_eq!(r.failure, Some(FailureCode::Unauthenticated));
    assert!(r.message.contains("token has expired"), "{}", r.message);
}

#[tokio::test]
async fn a_configured_project_is_the_rbac_proof() {
    let a = FakeArgoCd::start_with_defaults().await;
    let c = connector();
    let cfg = |p: &str| json!({"project": p, "account": "pathops"});
    let r = test_with(
        &c,
        integration_with(&a.url(), cfg("platform")),
        Some(FakeArgoCd::TOKEN),
    )
    .await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(
        r.details["rbac"],
        json!({"call": "GET /api/v1/projects/platform", "project": "platform"})
    );
    assert_eq!(a.requests_to("/api/v1/projects/platform").len(), 1);
    assert!(a.requests_to("/api/v1/applications").is_empty());

    let r = test_with(
        &c,
        integration_with(&a.url(), cfg("platform")),
        Some(FakeArgoCd::DENIED_TOKEN),
    )
    .await;
    assert_eq!(
        r.failure,
        denied("projects, get, platform"),
        "{}",
        r.message
    );

    let r = test_with(
        &c,
        integration_with(&a.url(), cfg("nope")),
        Some(FakeArgoCd::TOKEN),
    )
    .await;
    assert_eq!(r.failure, Some(FailureCode::NotFound), "{}", r.message);
    assert!(r.message.contains("does not exist"), "{}", r.message);
    let findings = c.findings(&integration_with(&a.url(), cfg("nope")), &r);
    assert_eq!(findings[0].code, "not_found");
    assert!(findings[0].title.contains("nope"));
}

#[tokio::test]
async fn authentication_disabled_passes_with_a_warning() {
    let a = FakeArgoCd::start_with_defaults().await;
    a.set_auth_disabled(true);
    let c = connector();
    // userinfo does not accept the token, but the version answer is the full one.
    let r = test(&c, &a, Some("argocd-any-token")).await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(r.details["auth_disabled"], true);
    assert_eq!(r.details["version_answer"], "full");
    assert!(
        r.message.contains("authentication is disabled"),
        "{}",
        r.message
    );
    let findings = c.findings(&integration(&a.url()), &r);
    let codes: Vec<_> = findings
        .iter()
        .map(|f| (f.code.as_str(), f.severity))
        .collect();
    assert_eq!(codes, [("argocd_auth_disabled", Severity::Warning)]);
}

#[tokio::test]
async fn an_empty_application_list_passes_with_an_informational_finding() {
    let a = FakeArgoCd::start_with_defaults().await;
    a.set_grants(FakeArgoCd::ACCOUNT, &["applications, get, other/*"]);
    let c = connector();
    let r = test(&c, &a, Some(FakeArgoCd::TOKEN)).await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(
        r.details["rbac"]["applications"], 0,
        "`items: null` is an empty list"
    );
    let findings = c.findings(&integration(&a.url()), &r);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].code, "argocd_no_applications_visible");
    assert_eq!(findings[0].severity, Severity::Info);
    a.set_grants(FakeArgoCd::ACCOUNT, &["applications, get, platform/*"]);
    let r = test(&c, &a, Some(FakeArgoCd::TOKEN)).await;
    assert_eq!(
        r.details["rbac"]["applications"], 1,
        "only podinfo is visible"
    );
}

#[tokio::test]
async fn status_codes_and_malformed_answers() {
    let a = FakeArgoCd::start_with_defaults().await;
    let c = connector();
    let t = Some(FakeArgoCd::TOKEN);
    for (path, status) in [
        ("/healthz", 503u16),
        ("/api/version", 502),
        ("/api/v1/session/userinfo", 500),
        ("/api/v1/applications", 503),
    ] {
        a.inject(Fault::on(path).status(status).times(1));
        assert_eq!(
            test(&c, &a, t).await.failure,
            Some(FailureCode::ServerError { status }),
            "{path}"
        );
    }
    a.inject(
        Fault::on("/api/version")
            .status(429)
            .header("Retry-After", "9")
            .times(1),
    );
    let r = test(&c, &a, t).await;
    assert!(
        matches!(
            r.failure,
            Some(FailureCode::RateLimited { reset_at: Some(_) })
        ),
        "{:?}",
        r.failure
    );
    // The UI's index page where healthz should be: not Argo CD's API server.
    a.inject(
        Fault::on("/healthz")
            .status(200)
            .body("<!doctype html><html></html>")
            .times(1),
    );
    assert_eq!(
        test(&c, &a, t).await.failure,
        Some(FailureCode::InvalidResponse)
    );
    for (path, body) in [
        ("/api/version", "[]"),
        ("/api/v1/session/userinfo", r#"{"username":"pathops"}"#),
        ("/api/v1/session/userinfo", "<html>"),
        ("/api/v1/applications", r#"{"items":7}"#),
    ] {
        a.inject(Fault::on(path).status(200).body(body).times(1));
        assert_eq!(
            test(&c, &a, t).await.failure,
            Some(FailureCode::InvalidResponse),
            "{path}: {body}"
        );
    }
    a.inject(Fault::on("/api/v1/applications").status(404).times(1));
    assert_eq!(test(&c, &a, t).await.failure, Some(FailureCode::NotFound));
    let small = ArgoCdConnector::builder()
        .with_http(HttpPolicy {
            max_body_bytes: 64,
            ..HttpPolicy::default()
        })
        .build()
        .unwrap();
    assert_eq!(
        test(&small, &a, t).await.failure,
        Some(FailureCode::InvalidResponse),
        "the full version answer exceeds 64 bytes"
    );
}

#[tokio::test]
async fn transport_failures_and_cross_origin_redirects() {
    let a = FakeArgoCd::start_with_defaults().await;
    let c = connector();
    let other = common::elsewhere().await;
    a.inject(Fault::on("/api/v1/session/userinfo").status(302).header(
        "Location",
        &format!("{}/api/v1/session/userinfo", other.url()),
    ));
    let r = test(&c, &a, Some(FakeArgoCd::TOKEN)).await;
    assert_eq!(r.failure, Some(FailureCode::InvalidResponse));
    assert!(
        other.requests().is_empty(),
        "the token never left for the other host"
    );
    a.clear_faults();
    let r = test_with(
        &c,
        integration("https://argocd.pathops-test.invalid"),
        Some(FakeArgoCd::TOKEN),
    )
    .await;
    assert_eq!(r.failure, Some(FailureCode::Dns));
    a.inject(Fault::on("/api/v1/applications").latency(Duration::from_secs(5)));
    let r = c
        .test_connection(&context(
            integration(&a.url()),
            secret(FakeArgoCd::TOKEN),
            Duration::from_millis(300),
        ))
        .await;
    assert_eq!(r.failure, Some(FailureCode::Timeout));
}

#[tokio::test]
async fn configuration_is_closed_and_names_are_checked() {
    let c = connector();
    let cfg = |v| Configuration::new(v).unwrap();
    let err = async |v| c.validate_config(&cfg(v)).await.unwrap_err().to_string();
    assert!(c.validate_config(&cfg(json!({}))).await.is_ok());
    assert!(
        c.validate_config(&cfg(json!({"project": "platform", "account": "ci.bot"})))
            .await
            .is_ok()
    );
    let misspelt = err(json!({"projects": "platform"})).await;
    assert!(misspelt.contains("`projects`"), "{misspelt}");
    assert!(err(json!({"project": ""})).await.contains("project"));
    assert!(err(json!({"project": "a/b"})).await.contains("project"));
    assert!(err(json!({"project": 7})).await.contains("project"));
    assert!(
        err(json!({"account": "x".repeat(300)}))
            .await
            .contains("account")
    );
    assert!(
        err(json!({"ca_certificate_pem": "not a pem"}))
            .await
            .contains("ca_certificate_pem")
    );
    let a = FakeArgoCd::start_with_defaults().await;
    let r = test_with(
        &c,
        integration_with(&a.url(), json!({"token": "x"})),
        Some(FakeArgoCd::TOKEN),
    )
    .await;
    assert_eq!(r.failure, Some(FailureCode::InvalidConfig));
    assert!(a.requests().is_empty());
}

#[tokio::test]
async fn the_registry_builds_it() {
    let c = pathops_connectors::registry::connector_for(&Provider::ArgoCd, &HttpPolicy::default())
        .unwrap();
    assert_eq!(c.provider(), Provider::ArgoCd);
}

#[tokio::test]
async fn the_doctor_reports_a_healthy_and_a_broken_argocd_with_argocd_fixes() {
    use pathops_core::catalog::{Catalog, Principal};
    use pathops_core::doctor::{Doctor, Selection};
    use pathops_core::secret::StaticResolver;
    use pathops_core::{ConnectorRegistry, NewIntegration};

    let a = FakeArgoCd::start_with_defaults().await;
    let mut registry = ConnectorRegistry::new();
    registry.register(connector()).unwrap();
    let secrets = StaticResolver::new()
        .with("ref://acme/argocd/ok".parse().unwrap(), FakeArgoCd::TOKEN)
        .with(
            "ref://acme/argocd/revoked".parse().unwrap(),
            FakeArgoCd::REVOKED_TOKEN,
        )
        .with(
            "ref://acme/argocd/denied".parse().unwrap(),
            FakeArgoCd::DENIED_TOKEN,
        );
    let catalog = Catalog::builder(Arc::new(pathops_store::MemoryStore::new()))
        .with_connectors(registry)
        .with_secrets(Arc::new(secrets))
        .build()
        .unwrap();
    let admin = Principal::admin("acme".parse().unwrap(), "alice".parse().unwrap());
    for name in ["ok", "revoked", "denied"] {
        let new = NewIntegration::builder(format!("gitops-{name}"), Provider::ArgoCd, a.url())
            .with_auth_ref(format!("ref://acme/argocd/{name}"))
            .with_configuration(json!({"account": "pathops"}))
            .build()
            .unwrap();
        catalog.create(&admin, new, true).await.unwrap();
    }
    let doctor = Doctor::builder(
        catalog,
        Arc::new(pathops_core::webhook::ChallengeRegistry::new()),
    )
    .build();
    let report = doctor.run(&admin, &Selection::All).await.unwrap();
    let by_name = |n: &str| report.integrations.iter().find(|i| i.name == n).unwrap();
    let ok = by_name("gitops-ok");
    assert_eq!(ok.failure_code, None, "{}", ok.message);
    assert!(ok.findings.is_empty(), "{:#?}", ok.findings);
    let revoked = by_name("gitops-revoked");
    assert_eq!(revoked.failure_code.as_deref(), Some("unauthenticated"));
    let f: Vec<_> = revoked
        .findings
        .iter()
        .filter(|f| f.code == "unauthenticated")
        .collect();
    assert_eq!(f.len(), 1, "the generic finding is replaced");
    assert_eq!(f[0].doc_link.as_deref(), Some(TOKEN_DOC));
    let denied = by_name("gitops-denied");
    assert_eq!(denied.failure_code.as_deref(), Some("permission_denied"));
    let f: Vec<_> = denied
        .findings
        .iter()
        .filter(|f| f.code == "missing_scope")
        .collect();
    assert_eq!(f.len(), 1, "{:#?}", denied.findings);
    assert_eq!(f[0].doc_link.as_deref(), Some(RBAC_DOC));
}

#[tokio::test]
async fn the_token_never_appears_in_results_errors_or_logs() {
    const SENTINEL: &str = "argocd-SENTINEL-token-5e11";
    let logs = common::LogCapture::global();
    let mut seed = FakeArgoCd::default_seed();
    seed.accounts.push(ArgoCdAccount {
        name: "sentinel".into(),
        tokens: vec![SENTINEL.into()],
        groups: vec![],
        allow: vec![],
        disabled: false,
    });
    let a = FakeArgoCd::start_with(seed).await;
    let c = connector();
    let mut printed = String::new();
    for token in [SENTINEL, "argocd-SENTINEL-token-5e11-wrong"] {
        let ctx = context(integration(&a.url()), secret(token), CHECK_TIMEOUT);
        let t = c.test_connection(&ctx).await;
        let h = c.check_health(&ctx).await;
        printed += &format!(
            "{t:?}\n{h:?}\n{ctx:?}\n{c:?}\n{}\n{:?}\n",
            serde_json::to_string(&t).unwrap(),
            c.findings(&ctx.integration, &t)
        );
    }
    common::assert_no_sentinel(SENTINEL, "results, findings and errors", &printed);
    common::assert_no_sentinel(SENTINEL, "logs", &logs.contents());
}
