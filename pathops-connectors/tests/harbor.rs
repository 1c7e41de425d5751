//! The Harbor connector against the fake Harbor: conformance, Harbor's auth quirks, every
//! status code of the reference, transport failures and a sentinel-secret scan.

#![cfg(feature = "harbor")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use pathops_connectors::harbor::HarborConnector;
use pathops_connectors::http::HttpPolicy;
use pathops_core::{
    CheckResult, Configuration, FailureCode, Integration, IntegrationConnector, Probe, Provider,
};
use pathops_testkit::connector_suite::{CHECK_TIMEOUT, ConnectorHarness, context};
use pathops_testkit::fake::Fault;
use pathops_testkit::fake::harbor::{FakeHarbor, HarborRobot};
use pathops_testkit::fixtures::IntegrationBuilder;
use secrecy::SecretString;
use serde_json::json;

fn connector() -> Arc<HarborConnector> {
    Arc::new(HarborConnector::builder().build().unwrap())
}

fn integration(url: &str, username: &str) -> Integration {
    IntegrationBuilder::new("acme", "Harbor")
        .provider(Provider::Harbor)
        .base_url(url)
        .configuration(json!({ "username": username }))
        .build()
}

fn secret(s: &str) -> Option<SecretString> {
    Some(SecretString::from(s.to_owned()))
}

async fn test(c: &HarborConnector, url: &str, user: &str, pass: &str) -> CheckResult {
    c.test_connection(&context(
        integration(url, user),
        secret(pass),
        CHECK_TIMEOUT,
    ))
    .await
}

struct Harness {
    harbor: FakeHarbor,
    connector: Arc<HarborConnector>,
}

#[async_trait]
impl ConnectorHarness for Harness {
    fn connector(&self) -> Arc<dyn IntegrationConnector> {
        self.connector.clone()
    }
    fn integration(&self) -> Integration {
        integration(&self.harbor.url(), FakeHarbor::ROBOT)
    }
    fn valid_secret(&self) -> Option<SecretString> {
        secret(FakeHarbor::ROBOT_SECRET)
    }
    fn invalid_secret(&self) -> SecretString {
        SecretString::from("not-the-robot-secret".to_owned())
    }
    fn invalid_configuration(&self) -> Option<Configuration> {
        Some(Configuration::empty())
    }
    async fn set_latency(&self, latency: Duration) {
        self.harbor.set_latency(latency);
    }
}

pathops_testkit::connector_conformance_tests!(harbor_conformance, async {
    Harness {
        harbor: FakeHarbor::start_with_defaults().await,
        connector: connector(),
    }
});

#[tokio::test]
async fn the_fake_downgrades_bad_credentials_to_anonymous_like_harbor() {
    let h = FakeHarbor::start_with_defaults().await;
    let http = reqwest::Client::new();
    let basic = |u: &str, p: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        )
    };
    let ping = http
        .get(format!("{}/api/v2.0/ping", h.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(ping.text().await.unwrap(), "Pong");
    let bad = basic(FakeHarbor::ROBOT, "wrong");
    let info: serde_json::Value = http
        .get(format!("{}/api/v2.0/systeminfo", h.url()))
        .header("authorization", &bad)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        info.get("harbor_version").is_none(),
        "bad credentials are anonymous, not 401"
    );
    let projects = http
        .get(format!("{}/api/v2.0/projects", h.url()))
        .header("authorization", &bad)
        .send()
        .await
        .unwrap();
    assert_eq!(projects.status(), 200);
    assert_eq!(
        projects.headers()["x-total-count"],
        "1",
        "anonymous sees public projects only"
    );
    assert!(projects.headers().contains_key("x-request-id"));
    let robot = basic(FakeHarbor::ROBOT, FakeHarbor::ROBOT_SECRET);
    let projects = http
        .get(format!("{}/api/v2.0/projects", h.url()))
        .header("authorization", &robot)
        .send()
        .await
        .unwrap();
    assert_eq!(projects.headers()["x-total-count"], "2");
    let me = http
        .get(format!("{}/api/v2.0/users/current", h.url()))
        .header("authorization", &robot)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 412);
    let me = http
        .get(format!("{}/api/v2.0/users/current", h.url()))
        .header("authorization", &bad)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401);
    let body: serde_json::Value = me.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "UNAUTHORIZED");
}

#[tokio::test]
async fn robots_and_users_pass_and_report_the_version() {
    let h = FakeHarbor::start_with_defaults().await;
    let c = connector();
    let r = test(&c, &h.url(), FakeHarbor::ROBOT, FakeHarbor::ROBOT_SECRET).await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(r.details["principal"]["kind"], "robot");
    assert_eq!(r.details["version"], FakeHarbor::DEFAULT_VERSION);
    assert_eq!(r.details["components"].as_array().unwrap().len(), 7);
    let seen = h.requests_to("/api/v2.0/users/current");
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            FakeHarbor::ROBOT,
            FakeHarbor::ROBOT_SECRET
        ))
    );
    assert_eq!(seen[0].header("authorization"), Some(expected.as_str()));
    let r = test(&c, &h.url(), FakeHarbor::ADMIN, FakeHarbor::ADMIN_PASSWORD).await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(r.details["principal"]["kind"], "user");

    h.add_robot(HarborRobot {
        name: "robot$old".into(),
        secret: "s".into(),
        disabled: true,
        projects: vec![],
    });
    let r = test(&c, &h.url(), "robot$old", "s").await;
    assert_eq!(
        r.failure,
        Some(FailureCode::Unauthenticated),
        "a disabled robot is refused"
    );
}

#[tokio::test]
async fn unhealthy_components_fail_with_the_body_status_not_the_http_code() {
    let h = FakeHarbor::start_with_defaults().await;
    h.set_component(
        "registry",
        "unhealthy",
        Some("failed to check the health status: timeout"),
    );
    let c = connector();
    let r = c
        .check_health(&context(
            integration(&h.url(), FakeHarbor::ROBOT),
            secret(FakeHarbor::ROBOT_SECRET),
            CHECK_TIMEOUT,
        ))
        .await;
    assert_eq!(r.failure, Some(FailureCode::Unhealthy));
    assert!(
        r.message
            .contains("registry (failed to check the health status: timeout)"),
        "{}",
        r.message
    );
    let registry = r.details["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "registry")
        .unwrap()
        .clone();
    assert_eq!(registry["status"], "unhealthy");
    assert_eq!(r.reachability, Probe::Passed);
}

#[tokio::test]
async fn status_codes_and_transport_failures() {
    let h = FakeHarbor::start_with_defaults().await;
    let c = connector();
    let (u, p) = (FakeHarbor::ROBOT, FakeHarbor::ROBOT_SECRET);
    let url = h.url();
    let forbidden = r#"{"errors":[{"code":"FORBIDDEN","message":"forbidden"}]}"#;
    h.inject(
        Fault::on("/api/v2.0/users/current")
            .status(403)
            .body(forbidden)
            .times(1),
    );
    let r = test(&c, &url, u, p).await;
    assert_eq!(
        r.failure,
        Some(FailureCode::PermissionDenied {
            missing_scope: None
        })
    );
    assert!(r.message.contains("forbidden"), "{}", r.message);
    h.inject(Fault::on("/api/v2.0/systeminfo").status(404).times(1));
    assert_eq!(
        test(&c, &url, u, p).await.failure,
        Some(FailureCode::NotFound)
    );
    h.inject(
        Fault::on("/api/v2.0/health")
            .status(429)
            .header("Retry-After", "12")
            .times(1),
    );
    let r = test(&c, &url, u, p).await;
    assert!(
        matches!(
            r.failure,
            Some(FailureCode::RateLimited { reset_at: Some(_) })
        ),
        "{:?}",
        r.failure
    );
    for status in [500u16, 502, 503] {
        h.inject(Fault::on("/api/v2.0/health").status(status).times(1));
        assert_eq!(
            test(&c, &url, u, p).await.failure,
            Some(FailureCode::ServerError { status })
        );
    }
    h.inject(
        Fault::on("/api/v2.0/health")
            .status(200)
            .body("{not json")
            .times(1),
    );
    assert_eq!(
        test(&c, &url, u, p).await.failure,
        Some(FailureCode::InvalidResponse)
    );

    let small = HarborConnector::builder()
        .with_http(HttpPolicy {
            max_body_bytes: 64,
            ..HttpPolicy::default()
        })
        .build()
        .unwrap();
    let r = test(&small, &url, u, p).await;
    assert_eq!(
        r.failure,
        Some(FailureCode::InvalidResponse),
        "the health body exceeds 64 bytes"
    );

    let other = common::elsewhere().await;
    h.inject(Fault::on("/api/v2.0/users/current").status(307).header(
        "Location",
        &format!("{}/api/v2.0/users/current", other.url()),
    ));
    let r = test(&c, &url, u, p).await;
    assert_eq!(r.failure, Some(FailureCode::InvalidResponse));
    assert!(
        other.requests().is_empty(),
        "the Basic credential never left for the other host"
    );
    h.clear_faults();

    let r = test(&c, "https://harbor.pathops-test.invalid", u, p).await;
    assert_eq!(r.failure, Some(FailureCode::Dns));
    h.inject(Fault::on("/api/v2.0/users/current").latency(Duration::from_secs(5)));
    let r = c
        .test_connection(&context(
            integration(&url, u),
            secret(p),
            Duration::from_millis(300),
        ))
        .await;
    assert_eq!(r.failure, Some(FailureCode::Timeout));
}

#[tokio::test]
async fn configuration_needs_a_username() {
    let c = connector();
    let cfg = |v| Configuration::new(v).unwrap();
    assert!(
        c.validate_config(&cfg(json!({"username": "robot$ci+x"})))
            .await
            .is_ok()
    );
    assert!(c.validate_config(&cfg(json!({}))).await.is_err());
    assert!(
        c.validate_config(&cfg(json!({"username": "a:b"})))
            .await
            .is_err()
    );
    assert!(
        c.validate_config(&cfg(json!({"username": 3})))
            .await
            .is_err()
    );
    let misspelt = c
        .validate_config(&cfg(
            json!({"username": "robot$ci+x", "proxy": "http://p:3128"}),
        ))
        .await
        .unwrap_err()
        .to_string();
    assert!(misspelt.contains("`proxy`"), "{misspelt}");
}

#[tokio::test]
async fn the_secret_never_appears_in_results_errors_or_logs() {
    const SENTINEL: &str = "harbor-SENTINEL-55aa01";
    let logs = common::LogCapture::global();
    let h = FakeHarbor::start_with_defaults().await;
    h.add_robot(HarborRobot {
        name: "robot$ci+sentinel".into(),
        secret: SENTINEL.into(),
        disabled: false,
        projects: vec![],
    });
    let c = connector();
    let mut printed = String::new();
    for pass in [SENTINEL, "harbor-SENTINEL-55aa01-wrong"] {
        let ctx = context(
            integration(&h.url(), "robot$ci+sentinel"),
            secret(pass),
            CHECK_TIMEOUT,
        );
        printed += &format!(
            "{:?}\n{:?}\n{ctx:?}\n{c:?}\n",
            c.test_connection(&ctx).await,
            c.check_health(&ctx).await
        );
    }
    h.set_component("redis", "unhealthy", None);
    let ctx = context(
        integration(&h.url(), "robot$ci+sentinel"),
        secret(SENTINEL),
        CHECK_TIMEOUT,
    );
    let r = c.test_connection(&ctx).await;
    printed += &format!("{r:?}\n{}\n", serde_json::to_string(&r).unwrap());
    common::assert_no_sentinel(SENTINEL, "results and errors", &printed);
    common::assert_no_sentinel(SENTINEL, "logs", &logs.contents());
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("robot$ci+sentinel:{SENTINEL}"));
    common::assert_no_sentinel(&encoded, "logs (encoded credential)", &logs.contents());
}

#[tokio::test]
async fn the_registry_side_is_proved_with_the_same_credentials() {
    let h = FakeHarbor::start_with_defaults().await;
    let c = connector();
    let ok = test(&c, &h.url(), FakeHarbor::ROBOT, FakeHarbor::ROBOT_SECRET).await;
    assert!(ok.is_success(), "{}", ok.message);
    assert_eq!(ok.details["registry"]["auth_scheme"], "bearer");
    assert_eq!(ok.details["registry"]["api_version"], "registry/2.0");
    let token_calls = h.requests_to("/service/token");
    assert_eq!(token_calls.len(), 1);
    assert!(
        token_calls[0]
            .header("authorization")
            .is_some_and(|a| a.starts_with("Basic "))
    );
    // The API accepts the robot but the registry's token service refuses it (a robot without
    // registry permissions, a token service behind another auth backend).
    h.inject(Fault::on("/service/token").status(401).body("{}"));
    let refused = test(&c, &h.url(), FakeHarbor::ROBOT, FakeHarbor::ROBOT_SECRET).await;
    assert_eq!(
        refused.failure,
        Some(pathops_core::FailureCode::Unauthenticated),
        "{}",
        refused.message
    );
    assert!(
        refused.message.contains("token service"),
        "{}",
        refused.message
    );
}
