//! The Jenkins connector against the fake Jenkins: conformance, Jenkins' quirks (an anonymous
//! 200 from whoAmI, the version on 401/403, CSRF off, context paths), every status code of the
//! reference, transport failures, bad configuration, findings, the doctor, and a
//! sentinel-secret scan.

#![cfg(feature = "jenkins")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use pathops_connectors::http::HttpPolicy;
use pathops_connectors::jenkins::{CSRF_DOC, JenkinsConnector, TOKEN_DOC};
use pathops_core::{
    CheckResult, Configuration, FailureCode, Integration, IntegrationConnector, Probe, Provider,
    Severity,
};
use pathops_testkit::connector_suite::{CHECK_TIMEOUT, ConnectorHarness, context};
use pathops_testkit::fake::Fault;
use pathops_testkit::fake::jenkins::{FakeJenkins, JenkinsSeed, JenkinsUser};
use pathops_testkit::fixtures::IntegrationBuilder;
use secrecy::SecretString;
use serde_json::json;

const READ: &str = "hudson.model.Hudson.Read";

fn connector() -> Arc<JenkinsConnector> {
    Arc::new(JenkinsConnector::builder().build().unwrap())
}

fn integration(url: &str, username: &str) -> Integration {
    IntegrationBuilder::new("acme", "Jenkins")
        .provider(Provider::Jenkins)
        .base_url(url)
        .auth_ref("ref://acme/jenkins/token")
        .configuration(json!({ "username": username }))
        .build()
}

fn secret(s: &str) -> Option<SecretString> {
    Some(SecretString::from(s.to_owned()))
}

async fn test(c: &JenkinsConnector, url: &str, user: &str, token: Option<&str>) -> CheckResult {
    c.test_connection(&context(
        integration(url, user),
        token.and_then(secret),
        CHECK_TIMEOUT,
    ))
    .await
}

async fn health(c: &JenkinsConnector, url: &str, user: &str, token: &str) -> CheckResult {
    c.check_health(&context(
        integration(url, user),
        secret(token),
        CHECK_TIMEOUT,
    ))
    .await
}

async fn ok(c: &JenkinsConnector, j: &FakeJenkins) -> CheckResult {
    test(
        c,
        &j.base_url(),
        FakeJenkins::USER,
        Some(FakeJenkins::API_TOKEN),
    )
    .await
}

struct Harness {
    jenkins: FakeJenkins,
    connector: Arc<JenkinsConnector>,
}

#[async_trait]
impl ConnectorHarness for Harness {
    fn connector(&self) -> Arc<dyn IntegrationConnector> {
        self.connector.clone()
    }
    fn integration(&self) -> Integration {
        integration(&self.jenkins.base_url(), FakeJenkins::USER)
    }
    fn valid_secret(&self) -> Option<SecretString> {
        secret(FakeJenkins::API_TOKEN)
    }
    fn invalid_secret(&self) -> SecretString {
        SecretString::from("11000000000000000000000000000000ff".to_owned())
    }
    fn invalid_configuration(&self) -> Option<Configuration> {
        Some(Configuration::new(json!({"username": "pathops", "user": "x"})).unwrap())
    }
    async fn set_latency(&self, latency: Duration) {
        self.jenkins.set_latency(latency);
    }
}

pathops_testkit::connector_conformance_tests!(jenkins_conformance, async {
    Harness {
        jenkins: FakeJenkins::start_with_defaults().await,
        connector: connector(),
    }
});

#[tokio::test]
async fn a_valid_token_passes_with_version_identity_and_csrf_on() {
    let j = FakeJenkins::start_with_defaults().await;
    let c = connector();
    let r = ok(&c, &j).await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(r.details["version"], FakeJenkins::DEFAULT_VERSION);
    assert_eq!(r.details["user"]["name"], FakeJenkins::USER);
    assert_eq!(
        r.details["user"]["authorities"],
        json!(["authenticated", "ci"])
    );
    assert_eq!(
        r.details["csrf"],
        json!({"enabled": true, "crumb_request_field": "Jenkins-Crumb",
               "issuer": "hudson.security.csrf.DefaultCrumbIssuer"})
    );
    assert!(
        r.message.contains("CSRF protection on (Jenkins-Crumb)"),
        "{}",
        r.message
    );
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            FakeJenkins::USER,
            FakeJenkins::API_TOKEN
        ))
    );
    for path in ["/whoAmI/api/json", "/crumbIssuer/api/json"] {
        let seen = j.requests_to(path);
        assert_eq!(seen.len(), 1, "{path}");
        assert_eq!(seen[0].header("authorization"), Some(expected.as_str()));
    }
    assert!(
        c.findings(&integration(&j.base_url(), "pathops"), &r)
            .is_empty()
    );
}

#[tokio::test]
async fn the_crumb_itself_never_lands_in_a_result() {
    let j = FakeJenkins::start_with_defaults().await;
    j.inject(Fault::on("/crumbIssuer/api/json").status(200).body(
        r#"{"_class":"hudson.security.csrf.DefaultCrumbIssuer","crumb":"c0ffee-crumb-SENTINEL-77","crumbRequestField":"Jenkins-Crumb"}"#,
    ));
    let r = ok(&connector(), &j).await;
    assert!(r.is_success(), "{}", r.message);
    let printed = format!(
        "{r:?}\n{}\n{}",
        r.message,
        serde_json::to_string(&r).unwrap()
    );
    common::assert_no_sentinel("c0ffee-crumb-SENTINEL-77", "the result", &printed);
}

#[tokio::test]
async fn the_health_check_is_whoami_alone() {
    let j = FakeJenkins::start_with_defaults().await;
    let r = health(
        &connector(),
        &j.base_url(),
        FakeJenkins::USER,
        FakeJenkins::API_TOKEN,
    )
    .await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(r.details["user"]["name"], FakeJenkins::USER);
    assert!(r.details.get("csrf").is_none());
    assert_eq!(j.requests().len(), 1, "{:?}", j.requests());
}

#[tokio::test]
async fn an_anonymous_200_from_whoami_is_unauthenticated() {
    let j = FakeJenkins::start_with_defaults().await;
    let c = connector();
    // No token at all: Jenkins answers 200 as anonymous (and calls anonymous "authenticated").
    let r = test(&c, &j.base_url(), FakeJenkins::USER, None).await;
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
    assert!(r.message.contains("answered 200"), "{}", r.message);
    assert!(
        r.message.contains("no API token configured"),
        "{}",
        r.message
    );
    assert_eq!(r.details["anonymous"], true);
    assert_eq!(r.details["version"], FakeJenkins::DEFAULT_VERSION);
    assert!(j.requests_to("/crumbIssuer/api/json").is_empty());

    // A token was sent, but a proxy dropped it: Jenkins' anonymous answer, verbatim.
    let anonymous = r#"{"_class":"hudson.security.WhoAmI","anonymous":true,"authenticated":true,"authorities":["anonymous"],"name":"anonymous"}"#;
    j.inject(
        Fault::on("/whoAmI/api/json")
            .status(200)
            .body(anonymous)
            .times(1),
    );
    let r = ok(&c, &j).await;
    assert_eq!(
        r.failure,
        Some(FailureCode::Unauthenticated),
        "{}",
        r.message
    );
    assert!(r.message.contains("proxy"), "{}", r.message);

    // Older or unusual realms: `authenticated: false` alone also refuses.
    j.inject(
        Fault::on("/whoAmI/api/json")
            .status(200)
            .body(r#"{"name":"pathops","authenticated":false}"#)
            .times(1),
    );
    assert_eq!(ok(&c, &j).await.failure, Some(FailureCode::Unauthenticated));
}

#[tokio::test]
async fn a_wrong_or_revoked_token_is_401_and_still_reports_the_version() {
    let j = FakeJenkins::start_with_defaults().await;
    let c = connector();
    let r = test(
        &c,
        &j.base_url(),
        FakeJenkins::USER,
        Some(FakeJenkins::REVOKED_API_TOKEN),
    )
    .await;
    assert_eq!(
        r.failure,
        Some(FailureCode::Unauthenticated),
        "{}",
        r.message
    );
    assert_eq!(r.details["version"], FakeJenkins::DEFAULT_VERSION);
    assert!(
        r.message.contains("answered 401 (Jenkins 2.479.3)"),
        "{}",
        r.message
    );
    assert!(
        r.message.contains("token of pathops was refused"),
        "{}",
        r.message
    );
    assert!(
        !r.message.contains("<html"),
        "no HTML in the message: {}",
        r.message
    );

    j.revoke_token(FakeJenkins::USER, FakeJenkins::API_TOKEN);
    let r = ok(&c, &j).await;
    assert_eq!(
        r.failure,
        Some(FailureCode::Unauthenticated),
        "a revoked token"
    );

    let findings = c.findings(&integration(&j.base_url(), FakeJenkins::USER), &r);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let f = &findings[0];
    assert_eq!(
        (f.severity, f.code.as_str()),
        (Severity::Error, "unauthenticated")
    );
    let security = format!("{}/user/pathops/security", j.base_url());
    assert!(f.steps[0].contains(&security), "{:?}", f.steps);
    assert!(
        f.steps
            .iter()
            .any(|s| s.contains("ref://acme/jenkins/token")),
        "{:?}",
        f.steps
    );
    assert_eq!(
        f.api_call.as_deref(),
        Some(format!("GET {security}").as_str())
    );
    assert_eq!(f.doc_link.as_deref(), Some(TOKEN_DOC));
}

#[tokio::test]
async fn a_user_without_overall_read_is_denied_naming_the_permission() {
    let j = FakeJenkins::start_with_defaults().await;
    let c = connector();
    let r = test(
        &c,
        &j.base_url(),
        FakeJenkins::NO_READ_USER,
        Some(FakeJenkins::NO_READ_API_TOKEN),
    )
    .await;
    assert_eq!(
        r.failure,
        Some(FailureCode::PermissionDenied {
            missing_scope: Some(READ.into())
        }),
        "{}",
        r.message
    );
    assert!(
        r.message.contains("lacks the Overall/Read permission"),
        "{}",
        r.message
    );
    assert_eq!(
        r.details["version"],
        FakeJenkins::DEFAULT_VERSION,
        "403 carries X-Jenkins"
    );
    let findings = c.findings(&integration(&j.base_url(), FakeJenkins::NO_READ_USER), &r);
    assert_eq!(findings[0].code, "missing_scope");
    assert!(
        findings[0]
            .title
            .contains("intern lacks the Jenkins Overall/Read"),
        "{}",
        findings[0].title
    );
    // whoAmI is an unprotected action: the health check passes.
    let h = health(
        &c,
        &j.base_url(),
        FakeJenkins::NO_READ_USER,
        FakeJenkins::NO_READ_API_TOKEN,
    )
    .await;
    assert!(h.is_success(), "{}", h.message);
    // A 403 without Jenkins' header is read as Overall/Read.
    j.inject(
        Fault::on("/whoAmI/api/json")
            .status(403)
            .body("<html>denied</html>")
            .times(1),
    );
    assert_eq!(
        ok(&c, &j).await.failure,
        Some(FailureCode::PermissionDenied {
            missing_scope: Some(READ.into())
        })
    );
}

#[tokio::test]
async fn csrf_protection_off_passes_with_a_warning_finding() {
    let j = FakeJenkins::start_with(JenkinsSeed {
        csrf_disabled: true,
        ..FakeJenkins::default_seed()
    })
    .await;
    let c = connector();
    let r = ok(&c, &j).await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(r.details["csrf"], json!({"enabled": false}));
    assert!(
        r.message.contains("CSRF protection is OFF"),
        "{}",
        r.message
    );
    let findings = c.findings(&integration(&j.base_url(), FakeJenkins::USER), &r);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let f = &findings[0];
    assert_eq!(f.code, "csrf_protection_disabled");
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.doc_link.as_deref(), Some(CSRF_DOC));
    assert!(f.steps[0].contains("Default Crumb Issuer"), "{:?}", f.steps);
    // Switching it back on clears the warning.
    j.set_csrf_disabled(false);
    let r = ok(&c, &j).await;
    assert!(
        c.findings(&integration(&j.base_url(), "pathops"), &r)
            .is_empty()
    );
}

#[tokio::test]
async fn jenkins_under_a_context_path_works_and_a_missing_one_is_named() {
    let j = FakeJenkins::start_with(JenkinsSeed {
        context_path: Some("/jenkins/".into()),
        ..FakeJenkins::default_seed()
    })
    .await;
    assert!(j.base_url().ends_with("/jenkins"));
    let c = connector();
    let r = ok(&c, &j).await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(j.requests_to("/jenkins/whoAmI/api/json").len(), 1);
    assert_eq!(j.requests_to("/jenkins/crumbIssuer/api/json").len(), 1);
    // A base URL with a trailing slash is the same Jenkins.
    let r = test(
        &c,
        &format!("{}/", j.base_url()),
        FakeJenkins::USER,
        Some(FakeJenkins::API_TOKEN),
    )
    .await;
    assert!(r.is_success(), "{}", r.message);

    let r = test(
        &c,
        &j.url(),
        FakeJenkins::USER,
        Some(FakeJenkins::API_TOKEN),
    )
    .await;
    assert_eq!(r.failure, Some(FailureCode::NotFound), "{}", r.message);
    assert!(
        r.message.contains("without an X-Jenkins header"),
        "{}",
        r.message
    );
    assert!(r.message.contains("context path"), "{}", r.message);
    let findings = c.findings(&integration(&j.url(), FakeJenkins::USER), &r);
    assert_eq!(findings[0].code, "not_found");
}

#[tokio::test]
async fn status_codes_and_malformed_answers() {
    let j = FakeJenkins::start_with_defaults().await;
    let c = connector();
    j.inject(
        Fault::on("/whoAmI/api/json")
            .status(429)
            .header("Retry-After", "30")
            .times(1),
    );
    let r = ok(&c, &j).await;
    assert!(
        matches!(
            r.failure,
            Some(FailureCode::RateLimited { reset_at: Some(_) })
        ),
        "{:?}",
        r.failure
    );
    for status in [500u16, 502, 503] {
        j.inject(Fault::on("/whoAmI/api/json").status(status).times(1));
        assert_eq!(
            ok(&c, &j).await.failure,
            Some(FailureCode::ServerError { status })
        );
    }
    j.inject(Fault::on("/crumbIssuer/api/json").status(500).times(1));
    assert_eq!(
        ok(&c, &j).await.failure,
        Some(FailureCode::ServerError { status: 500 })
    );
    // A 404 that Jenkins itself served (it carries X-Jenkins) is not a context path problem.
    j.inject(
        Fault::on("/whoAmI/api/json")
            .status(404)
            .header("X-Jenkins", "2.400")
            .times(1),
    );
    let r = ok(&c, &j).await;
    assert_eq!(r.failure, Some(FailureCode::NotFound));
    assert!(!r.message.contains("context path"), "{}", r.message);
    assert_eq!(r.details["version"], "2.400");
    // An SSO login page in front of Jenkins answers 200 with HTML.
    j.inject(
        Fault::on("/whoAmI/api/json")
            .status(200)
            .body("<html><body>Sign in with SSO</body></html>")
            .times(1),
    );
    assert_eq!(ok(&c, &j).await.failure, Some(FailureCode::InvalidResponse));
    j.inject(
        Fault::on("/whoAmI/api/json")
            .status(200)
            .body(r#"{"name":"pathops"}"#)
            .times(1),
    );
    assert_eq!(ok(&c, &j).await.failure, Some(FailureCode::InvalidResponse));
    j.inject(
        Fault::on("/crumbIssuer/api/json")
            .status(200)
            .body("not json")
            .times(1),
    );
    assert_eq!(ok(&c, &j).await.failure, Some(FailureCode::InvalidResponse));
    j.inject(
        Fault::on("/whoAmI/api/json")
            .status(302)
            .header("Location", "/login")
            .times(1),
    );
    assert_ne!(ok(&c, &j).await.failure, None);

    let small = JenkinsConnector::builder()
        .with_http(HttpPolicy {
            max_body_bytes: 32,
            ..HttpPolicy::default()
        })
        .build()
        .unwrap();
    assert_eq!(
        ok(&small, &j).await.failure,
        Some(FailureCode::InvalidResponse),
        "the whoAmI body exceeds 32 bytes"
    );
}

#[tokio::test]
async fn transport_failures_and_cross_origin_redirects() {
    let j = FakeJenkins::start_with_defaults().await;
    let c = connector();
    let other = common::elsewhere().await;
    j.inject(
        Fault::on("/whoAmI/api/json")
            .status(307)
            .header("Location", &format!("{}/whoAmI/api/json", other.url())),
    );
    let r = ok(&c, &j).await;
    assert_eq!(r.failure, Some(FailureCode::InvalidResponse));
    assert!(
        other.requests().is_empty(),
        "the token never left for the other host"
    );
    j.clear_faults();

    let r = test(
        &c,
        "https://jenkins.pathops-test.invalid",
        FakeJenkins::USER,
        Some(FakeJenkins::API_TOKEN),
    )
    .await;
    assert_eq!(r.failure, Some(FailureCode::Dns));
    j.inject(Fault::on("/crumbIssuer/api/json").drop_connection());
    let r = ok(&c, &j).await;
    assert_eq!(
        r.reachability,
        Probe::Failed,
        "{:?}: {}",
        r.failure,
        r.message
    );
    j.clear_faults();
    j.inject(Fault::on("/crumbIssuer/api/json").latency(Duration::from_secs(5)));
    let r = c
        .test_connection(&context(
            integration(&j.base_url(), FakeJenkins::USER),
            secret(FakeJenkins::API_TOKEN),
            Duration::from_millis(300),
        ))
        .await;
    assert_eq!(r.failure, Some(FailureCode::Timeout));
}

#[tokio::test]
async fn configuration_is_closed_and_needs_a_username() {
    let c = connector();
    let cfg = |v| Configuration::new(v).unwrap();
    let err = async |v| c.validate_config(&cfg(v)).await.unwrap_err().to_string();
    assert!(
        c.validate_config(&cfg(json!({"username": "pathops"})))
            .await
            .is_ok()
    );
    assert!(
        c.validate_config(&cfg(
            json!({"username": "pathops", "proxy_url": "http://p:3128"})
        ))
        .await
        .is_ok()
    );
    let misspelt = err(json!({"username": "pathops", "api_token": "x"})).await;
    assert!(misspelt.contains("`api_token`"), "{misspelt}");
    assert!(err(json!({})).await.contains("username"));
    assert!(err(json!({"username": ""})).await.contains("username"));
    assert!(err(json!({"username": "a:b"})).await.contains("username"));
    assert!(
        err(json!({"username": " pathops"}))
            .await
            .contains("username")
    );
    assert!(err(json!({"username": 3})).await.contains("username"));
    assert!(
        err(json!({"username": "p", "proxy_url": "ftp://x"}))
            .await
            .contains("proxy_url")
    );

    let j = FakeJenkins::start_with_defaults().await;
    let bad = IntegrationBuilder::new("acme", "Jenkins")
        .provider(Provider::Jenkins)
        .base_url(&j.base_url())
        .configuration(json!({"username": "pathops", "crumb": true}))
        .build();
    let r = c
        .test_connection(&context(bad, secret(FakeJenkins::API_TOKEN), CHECK_TIMEOUT))
        .await;
    assert_eq!(r.failure, Some(FailureCode::InvalidConfig));
    assert!(r.message.contains("`crumb`"), "{}", r.message);
    assert!(
        j.requests().is_empty(),
        "nothing is sent for a bad configuration"
    );
}

#[tokio::test]
async fn the_registry_builds_it() {
    let c = pathops_connectors::registry::connector_for(&Provider::Jenkins, &HttpPolicy::default())
        .unwrap();
    assert_eq!(c.provider(), Provider::Jenkins);
    assert!(
        !c.capabilities()
            .supports(pathops_core::Capability::WebhookTest)
    );
}

#[tokio::test]
async fn the_doctor_reports_a_healthy_and_a_broken_jenkins_with_jenkins_fixes() {
    use pathops_core::catalog::{Catalog, Principal};
    use pathops_core::doctor::{Doctor, Selection};
    use pathops_core::secret::StaticResolver;
    use pathops_core::{ConnectorRegistry, NewIntegration};

    let j = FakeJenkins::start_with(JenkinsSeed {
        csrf_disabled: true,
        ..FakeJenkins::default_seed()
    })
    .await;
    let mut registry = ConnectorRegistry::new();
    registry.register(connector()).unwrap();
    let secrets = StaticResolver::new()
        .with(
            "ref://acme/jenkins/ok".parse().unwrap(),
            FakeJenkins::API_TOKEN,
        )
        .with(
            "ref://acme/jenkins/revoked".parse().unwrap(),
            FakeJenkins::REVOKED_API_TOKEN,
        );
    let catalog = Catalog::builder(Arc::new(pathops_store::MemoryStore::new()))
        .with_connectors(registry)
        .with_secrets(Arc::new(secrets))
        .build()
        .unwrap();
    let admin = Principal::admin("acme".parse().unwrap(), "alice".parse().unwrap());
    for (name, reference) in [("ci-healthy", "ok"), ("ci-broken", "revoked")] {
        let new = NewIntegration::builder(name, Provider::Jenkins, j.base_url())
            .with_auth_ref(format!("ref://acme/jenkins/{reference}"))
            .with_configuration(json!({"username": FakeJenkins::USER}))
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
    let healthy = by_name("ci-healthy");
    assert_eq!(healthy.failure_code, None, "{}", healthy.message);
    let codes: Vec<_> = healthy.findings.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(codes, ["csrf_protection_disabled"]);
    let broken = by_name("ci-broken");
    assert_eq!(broken.failure_code.as_deref(), Some("unauthenticated"));
    let unauthenticated: Vec<_> = broken
        .findings
        .iter()
        .filter(|f| f.code == "unauthenticated")
        .collect();
    assert_eq!(unauthenticated.len(), 1, "the generic finding is replaced");
    assert_eq!(unauthenticated[0].doc_link.as_deref(), Some(TOKEN_DOC));
}

#[tokio::test]
async fn the_token_never_appears_in_results_errors_or_logs() {
    const SENTINEL: &str = "11SENTINEL0jenkins0token0000000000";
    let logs = common::LogCapture::global();
    let j = FakeJenkins::start_with_defaults().await;
    j.add_user(JenkinsUser::new("sentinel", SENTINEL));
    let c = connector();
    let mut printed = String::new();
    for token in [SENTINEL, "11SENTINEL0jenkins0token0000000000-wrong"] {
        let ctx = context(
            integration(&j.base_url(), "sentinel"),
            secret(token),
            CHECK_TIMEOUT,
        );
        let t = c.test_connection(&ctx).await;
        let h = c.check_health(&ctx).await;
        let findings = c.findings(&ctx.integration, &t);
        printed += &format!(
            "{t:?}\n{h:?}\n{ctx:?}\n{c:?}\n{}\n{}\n{findings:?}\n",
            serde_json::to_string(&t).unwrap(),
            serde_json::to_string(&h).unwrap()
        );
    }
    j.set_csrf_disabled(true);
    let ctx = context(
        integration(&j.base_url(), "sentinel"),
        secret(SENTINEL),
        CHECK_TIMEOUT,
    );
    let r = c.test_connection(&ctx).await;
    printed += &format!("{r:?}\n{:?}\n", c.findings(&ctx.integration, &r));
    common::assert_no_sentinel(SENTINEL, "results, findings and errors", &printed);
    common::assert_no_sentinel(SENTINEL, "logs", &logs.contents());
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("sentinel:{SENTINEL}"));
    common::assert_no_sentinel(&encoded, "logs (encoded credential)", &logs.contents());
    common::assert_no_sentinel(&encoded, "results (encoded credential)", &printed);
}
