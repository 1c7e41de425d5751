//! The CircleCI connector against the fake CircleCI: conformance, the project token that API
//! v2 refuses like a bad one, project visibility, rate limits, every status code of the
//! reference, transport failures, bad configuration, findings and a sentinel-secret scan.

#![cfg(feature = "circleci")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pathops_connectors::circleci::{CircleCiConnector, TOKEN_DOC};
use pathops_connectors::http::HttpPolicy;
use pathops_core::{
    CheckResult, Configuration, FailureCode, Integration, IntegrationConnector, Probe, Provider,
    Severity,
};
use pathops_testkit::clock::ManualClock;
use pathops_testkit::connector_suite::{CHECK_TIMEOUT, ConnectorHarness, context};
use pathops_testkit::fake::Fault;
use pathops_testkit::fake::circleci::{CircleCiUser, FakeCircleCi};
use pathops_testkit::fixtures::IntegrationBuilder;
use secrecy::SecretString;
use serde_json::{Value, json};

fn connector() -> Arc<CircleCiConnector> {
    Arc::new(CircleCiConnector::builder().build().unwrap())
}

fn integration_with(url: &str, configuration: Value) -> Integration {
    IntegrationBuilder::new("acme", "CircleCI")
        .provider(Provider::CircleCi)
        .base_url(url)
        .auth_ref("ref://acme/circleci/token")
        .configuration(configuration)
        .build()
}

fn integration(url: &str) -> Integration {
    integration_with(url, json!({"project_slug": FakeCircleCi::PROJECT_SLUG}))
}

fn secret(s: &str) -> Option<SecretString> {
    Some(SecretString::from(s.to_owned()))
}

async fn test_with(c: &CircleCiConnector, i: Integration, token: Option<&str>) -> CheckResult {
    c.test_connection(&context(i, token.and_then(secret), CHECK_TIMEOUT))
        .await
}

async fn test(c: &CircleCiConnector, f: &FakeCircleCi, token: &str) -> CheckResult {
    test_with(c, integration(&f.url()), Some(token)).await
}

struct Harness {
    circleci: FakeCircleCi,
    connector: Arc<CircleCiConnector>,
}

#[async_trait]
impl ConnectorHarness for Harness {
    fn connector(&self) -> Arc<dyn IntegrationConnector> {
        self.connector.clone()
    }
    fn integration(&self) -> Integration {
        integration(&self.circleci.url())
    }
    fn valid_secret(&self) -> Option<SecretString> {
        secret(FakeCircleCi::PERSONAL_TOKEN)
    }
    fn invalid_secret(&self) -> SecretString {
        SecretString::from("CCIPAT_not_a_token".to_owned())
    }
    fn invalid_configuration(&self) -> Option<Configuration> {
        Some(Configuration::new(json!({"project_slug": "acme/api"})).unwrap())
    }
    async fn set_latency(&self, latency: Duration) {
        self.circleci.set_latency(latency);
    }
}

pathops_testkit::connector_conformance_tests!(circleci_conformance, async {
    Harness {
        circleci: FakeCircleCi::start_with_defaults().await,
        connector: connector(),
    }
});

#[tokio::test]
async fn a_personal_token_passes_with_the_user_and_the_project() {
    let f = FakeCircleCi::start_with_defaults().await;
    let c = connector();
    let r = test(&c, &f, FakeCircleCi::PERSONAL_TOKEN).await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(r.details["user"]["login"], FakeCircleCi::LOGIN);
    assert_eq!(r.details["user"]["name"], "PathOps Bot");
    assert_eq!(r.details["project"]["slug"], FakeCircleCi::PROJECT_SLUG);
    assert_eq!(r.details["project"]["organization"], "acme");
    assert!(
        r.message.contains("project gh/acme/api visible"),
        "{}",
        r.message
    );
    for path in ["/api/v2/me", "/api/v2/project/gh/acme/api"] {
        let seen = f.requests_to(path);
        assert_eq!(seen.len(), 1, "{path}");
        assert_eq!(
            seen[0].header("circle-token"),
            Some(FakeCircleCi::PERSONAL_TOKEN)
        );
        assert_eq!(seen[0].header("authorization"), None);
    }
    assert!(c.findings(&integration(&f.url()), &r).is_empty());

    // The health check is `/me` alone; a base URL ending in /api/v2 gets no second prefix.
    f.clear_requests();
    let h = c
        .check_health(&context(
            integration(&format!("{}/api/v2/", f.url())),
            secret(FakeCircleCi::PERSONAL_TOKEN),
            CHECK_TIMEOUT,
        ))
        .await;
    assert!(h.is_success(), "{}", h.message);
    assert!(h.details.get("project").is_none());
    let paths: Vec<_> = f.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/api/v2/me"]);

    // Without a project, the test is `/me` alone too.
    let r = test_with(
        &c,
        integration_with(&f.url(), json!({})),
        Some(FakeCircleCi::PERSONAL_TOKEN),
    )
    .await;
    assert!(r.is_success(), "{}", r.message);
    assert!(r.details.get("project").is_none());
}

#[tokio::test]
async fn a_project_token_is_refused_like_a_bad_one_and_the_result_says_so() {
    let f = FakeCircleCi::start_with_defaults().await;
    let c = connector();
    let project = test(&c, &f, FakeCircleCi::PROJECT_TOKEN).await;
    assert_eq!(
        project.failure,
        Some(FailureCode::Unauthenticated),
        "{}",
        project.message
    );
    assert_eq!(
        (project.reachability, project.authentication),
        (Probe::Passed, Probe::Failed)
    );
    assert!(
        project.message.contains("You must log in first."),
        "{}",
        project.message
    );
    assert!(
        project.message.contains("project API token"),
        "{}",
        project.message
    );
    assert!(
        project.message.contains("does not tell the two apart"),
        "{}",
        project.message
    );
    assert_eq!(
        project.details["possible_causes"],
        json!(["invalid_personal_token", "project_token"])
    );
    // CircleCI's answer to a revoked personal token is the same, so is the result.
    let revoked = test(&c, &f, FakeCircleCi::REVOKED_TOKEN).await;
    assert_eq!(revoked.failure, project.failure);
    assert_eq!(revoked.message, project.message);
    assert_eq!(revoked.details, project.details);

    let findings = c.findings(&integration(&f.url()), &project);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let finding = &findings[0];
    assert_eq!(
        (finding.severity, finding.code.as_str()),
        (Severity::Error, "unauthenticated")
    );
    assert!(
        finding.steps[0]
            .starts_with("Project tokens do not work on API v2; create a personal API token"),
        "{:?}",
        finding.steps
    );
    assert!(
        finding
            .steps
            .iter()
            .any(|s| s.contains("ref://acme/circleci/token"))
    );
    assert_eq!(finding.doc_link.as_deref(), Some(TOKEN_DOC));

    // No token at all says so instead.
    let none = test_with(&c, integration(&f.url()), None).await;
    assert_eq!(none.failure, Some(FailureCode::Unauthenticated));
    assert!(
        none.message.contains("no token configured"),
        "{}",
        none.message
    );
    assert!(none.details.get("possible_causes").is_none());
}

#[tokio::test]
async fn the_cloud_finding_links_the_token_page() {
    let c = connector();
    let r = pathops_core::CheckResult::failed(FailureCode::Unauthenticated, Duration::ZERO, "401");
    let cloud = c.findings(&integration("https://circleci.com"), &r);
    assert!(cloud[0].steps[1].contains("https://app.circleci.com/settings/user/tokens"));
    let server = c.findings(&integration("https://circleci.corp.example"), &r);
    assert!(
        !server[0].steps[1].contains("app.circleci.com"),
        "{:?}",
        server[0].steps
    );
    assert!(
        server[0]
            .api_call
            .as_deref()
            .unwrap()
            .contains("https://circleci.corp.example/api/v2/me")
    );
}

#[tokio::test]
async fn an_invisible_project_is_not_found() {
    let f = FakeCircleCi::start_with_defaults().await;
    let c = connector();
    let hidden = integration_with(
        &f.url(),
        json!({"project_slug": FakeCircleCi::HIDDEN_PROJECT_SLUG}),
    );
    let r = test_with(&c, hidden.clone(), Some(FakeCircleCi::PERSONAL_TOKEN)).await;
    assert_eq!(r.failure, Some(FailureCode::NotFound), "{}", r.message);
    assert!(r.message.contains("Project not found"), "{}", r.message);
    assert!(
        r.message.contains("pathops-bot cannot see it"),
        "{}",
        r.message
    );
    let findings = c.findings(&hidden, &r);
    assert_eq!(findings[0].code, "not_found");
    assert!(
        findings[0].title.contains("gh/acme/secret"),
        "{}",
        findings[0].title
    );
    assert!(
        findings[0]
            .api_call
            .as_deref()
            .unwrap()
            .ends_with("/api/v2/project/gh/acme/secret")
    );
}

#[tokio::test]
async fn rate_limits_carry_the_reset_from_retry_after() {
    let f = FakeCircleCi::start_with_defaults().await;
    let clock = Arc::new(ManualClock::new(ManualClock::DEFAULT_START));
    let c = CircleCiConnector::builder()
        .with_clock(clock.clone())
        .build()
        .unwrap();
    f.set_rate_limited(Some(30));
    let r = test(&c, &f, FakeCircleCi::PERSONAL_TOKEN).await;
    assert_eq!(
        r.failure,
        Some(FailureCode::RateLimited {
            reset_at: Some(ManualClock::DEFAULT_START + time::Duration::seconds(30))
        }),
        "{}",
        r.message
    );
    assert!(r.message.contains("Rate limit exceeded"), "{}", r.message);
    f.set_rate_limited(None);
    assert!(
        test(&c, &f, FakeCircleCi::PERSONAL_TOKEN)
            .await
            .is_success()
    );
    // On the project call too.
    f.inject(
        Fault::on("/api/v2/project/gh/acme/api")
            .status(429)
            .times(1),
    );
    assert_eq!(
        test(&c, &f, FakeCircleCi::PERSONAL_TOKEN).await.failure,
        Some(FailureCode::RateLimited { reset_at: None })
    );
}

#[tokio::test]
async fn status_codes_and_malformed_answers() {
    let f = FakeCircleCi::start_with_defaults().await;
    let c = connector();
    let t = FakeCircleCi::PERSONAL_TOKEN;
    for status in [500u16, 502, 503] {
        f.inject(Fault::on("/api/v2/me").status(status).times(1));
        assert_eq!(
            test(&c, &f, t).await.failure,
            Some(FailureCode::ServerError { status })
        );
    }
    f.inject(
        Fault::on("/api/v2/project/gh/acme/api")
            .status(500)
            .times(1),
    );
    assert_eq!(
        test(&c, &f, t).await.failure,
        Some(FailureCode::ServerError { status: 500 })
    );
    f.inject(Fault::on("/api/v2/me").status(403).times(1));
    assert_eq!(
        test(&c, &f, t).await.failure,
        Some(FailureCode::PermissionDenied {
            missing_scope: None
        })
    );
    // Not CircleCI at this URL.
    f.inject(
        Fault::on("/api/v2/me")
            .status(404)
            .body("<html>nope</html>")
            .times(1),
    );
    assert_eq!(test(&c, &f, t).await.failure, Some(FailureCode::NotFound));
    for body in ["<html>sign in</html>", r#"{"name":"no login"}"#, "[1]"] {
        f.inject(Fault::on("/api/v2/me").status(200).body(body).times(1));
        assert_eq!(
            test(&c, &f, t).await.failure,
            Some(FailureCode::InvalidResponse),
            "{body}"
        );
    }
    f.inject(
        Fault::on("/api/v2/project/gh/acme/api")
            .status(200)
            .body("[]")
            .times(1),
    );
    assert_eq!(
        test(&c, &f, t).await.failure,
        Some(FailureCode::InvalidResponse)
    );
    let small = CircleCiConnector::builder()
        .with_http(HttpPolicy {
            max_body_bytes: 16,
            ..HttpPolicy::default()
        })
        .build()
        .unwrap();
    assert_eq!(
        test(&small, &f, t).await.failure,
        Some(FailureCode::InvalidResponse)
    );
}

#[tokio::test]
async fn transport_failures_and_cross_origin_redirects() {
    let f = FakeCircleCi::start_with_defaults().await;
    let c = connector();
    let other = common::elsewhere().await;
    f.inject(
        Fault::on("/api/v2/me")
            .status(301)
            .header("Location", &format!("{}/api/v2/me", other.url())),
    );
    let r = test(&c, &f, FakeCircleCi::PERSONAL_TOKEN).await;
    assert_eq!(r.failure, Some(FailureCode::InvalidResponse));
    assert!(
        other.requests().is_empty(),
        "the Circle-Token never left for the other host"
    );
    f.clear_faults();
    let r = test_with(
        &c,
        integration("https://circleci.pathops-test.invalid"),
        Some(FakeCircleCi::PERSONAL_TOKEN),
    )
    .await;
    assert_eq!(r.failure, Some(FailureCode::Dns));
    f.inject(Fault::on("/api/v2/project/gh/acme/api").drop_connection());
    let r = test(&c, &f, FakeCircleCi::PERSONAL_TOKEN).await;
    assert_eq!(
        r.reachability,
        Probe::Failed,
        "{:?}: {}",
        r.failure,
        r.message
    );
}

#[tokio::test]
async fn configuration_is_closed_and_slugs_are_checked() {
    let c = connector();
    let cfg = |v| Configuration::new(v).unwrap();
    let err = async |v| c.validate_config(&cfg(v)).await.unwrap_err().to_string();
    for slug in [
        "gh/acme/api",
        "bitbucket/ws/repo",
        "circleci/6a1b-2c/9d8e-7f",
    ] {
        assert!(
            c.validate_config(&cfg(json!({"project_slug": slug})))
                .await
                .is_ok(),
            "{slug}"
        );
    }
    assert!(c.validate_config(&cfg(json!({}))).await.is_ok());
    let misspelt = err(json!({"project": "gh/acme/api"})).await;
    assert!(misspelt.contains("`project`"), "{misspelt}");
    for bad in [
        json!("acme/api"),
        json!("gl/acme/api"),
        json!("gh/acme/api/extra"),
        json!(""),
        json!(3),
        json!("gh/acme/a b"),
    ] {
        assert!(
            err(json!({"project_slug": bad}))
                .await
                .contains("project_slug"),
            "{bad}"
        );
    }
    let f = FakeCircleCi::start_with_defaults().await;
    let r = test_with(
        &c,
        integration_with(&f.url(), json!({"project_slug": "gh/../me"})),
        Some(FakeCircleCi::PERSONAL_TOKEN),
    )
    .await;
    assert_eq!(r.failure, Some(FailureCode::InvalidConfig));
    assert!(f.requests().is_empty());
}

#[tokio::test]
async fn the_registry_builds_it() {
    let c =
        pathops_connectors::registry::connector_for(&Provider::CircleCi, &HttpPolicy::default())
            .unwrap();
    assert_eq!(c.provider(), Provider::CircleCi);
}

#[tokio::test]
async fn the_token_never_appears_in_results_errors_or_logs() {
    const SENTINEL: &str = "CCIPAT_SENTINEL_circleci_4f4f";
    let logs = common::LogCapture::global();
    let mut seed = FakeCircleCi::default_seed();
    seed.users.push(CircleCiUser {
        id: "u-2".into(),
        login: "sentinel".into(),
        name: String::new(),
        tokens: vec![SENTINEL.into()],
    });
    let f = FakeCircleCi::start_with(seed).await;
    let c = connector();
    let mut printed = String::new();
    for token in [SENTINEL, "CCIPAT_SENTINEL_circleci_4f4f-wrong"] {
        let ctx = context(integration(&f.url()), secret(token), CHECK_TIMEOUT);
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
