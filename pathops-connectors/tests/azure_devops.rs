//! The Azure DevOps connector against the fake Azure DevOps: conformance (a bad PAT is the
//! 203 sign-in page), identity, project, repository and subscription, every status of the
//! module docs' table, the test notification followed to its result, and a sentinel-secret
//! scan.

#![cfg(feature = "azure-devops")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pathops_connectors::azure_devops::AzureDevOpsConnector;
use pathops_core::connector::detail;
use pathops_core::webhook::{DeliveryKind, Expectation};
use pathops_core::{
    CheckResult, Configuration, DeliveryRequest, FailureCode, Finding, Integration,
    IntegrationConnector, Probe, Provider,
};
use pathops_testkit::connector_suite::{CHECK_TIMEOUT, ConnectorHarness, context};
use pathops_testkit::fake::azure_devops::{AzureSubscription, FakeAzureDevOps};
use pathops_testkit::fake::{FakeServer, Fault};
use pathops_testkit::fixtures::IntegrationBuilder;
use secrecy::SecretString;
use serde_json::{Value, json};

fn connector() -> Arc<AzureDevOpsConnector> {
    Arc::new(
        AzureDevOpsConnector::builder()
            .with_poll_interval(Duration::from_millis(20))
            .build()
            .unwrap(),
    )
}

fn integration(az: &FakeAzureDevOps, configuration: Value) -> Integration {
    IntegrationBuilder::new("acme", "Azure DevOps")
        .provider(Provider::AzureDevOps)
        .base_url(&az.organization_url())
        .configuration(configuration)
        .build()
}

fn config(subscription: &str) -> Value {
    json!({"project": FakeAzureDevOps::PROJECT, "repository": FakeAzureDevOps::REPOSITORY,
           "subscription_id": subscription, "webhook_secret_ref": "ref://acme/azdo/hook"})
}

fn secret(s: &str) -> Option<SecretString> {
    Some(SecretString::from(s.to_owned()))
}

async fn test(c: &AzureDevOpsConnector, i: &Integration, pat: &str) -> CheckResult {
    c.test_connection(&context(i.clone(), secret(pat), CHECK_TIMEOUT))
        .await
}

async fn trigger(c: &AzureDevOpsConnector, i: &Integration, pat: &str) -> CheckResult {
    c.trigger_delivery(
        &context(i.clone(), secret(pat), CHECK_TIMEOUT),
        &DeliveryRequest::WebhookTest {
            trigger: "push_events".into(),
        },
    )
    .await
}

fn codes(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.code.as_str()).collect()
}

async fn receiver(status: u16) -> FakeServer {
    let status = axum::http::StatusCode::from_u16(status).unwrap();
    FakeServer::bind(
        "127.0.0.1:0".parse().unwrap(),
        axum::Router::new().route(
            "/webhooks/azure-devops",
            axum::routing::post(move || async move { (status, "{}") }),
        ),
    )
    .await
    .unwrap()
}

struct Harness {
    az: FakeAzureDevOps,
    sub: String,
    connector: Arc<AzureDevOpsConnector>,
}

#[async_trait]
impl ConnectorHarness for Harness {
    fn connector(&self) -> Arc<dyn IntegrationConnector> {
        self.connector.clone()
    }
    fn integration(&self) -> Integration {
        integration(&self.az, config(&self.sub))
    }
    fn valid_secret(&self) -> Option<SecretString> {
        secret(FakeAzureDevOps::PAT)
    }
    fn invalid_secret(&self) -> SecretString {
        SecretString::from("not-a-pat".to_owned())
    }
    fn invalid_configuration(&self) -> Option<Configuration> {
        Some(Configuration::new(json!({"project": "p", "subscription_id": "x"})).unwrap())
    }
    async fn set_latency(&self, latency: Duration) {
        self.az.set_latency(latency);
    }
}

pathops_testkit::connector_conformance_tests!(azure_devops_conformance, async {
    let az = FakeAzureDevOps::start_with_defaults().await;
    let sub = az.add_subscription(AzureSubscription::new(
        "https://pathops.example.com/webhooks/azure-devops",
        "pathops",
        "hook-secret",
    ));
    Harness {
        az,
        sub,
        connector: connector(),
    }
});

#[tokio::test]
async fn the_test_reports_identity_repository_and_subscription() {
    let az = FakeAzureDevOps::start_with_defaults().await;
    let sub = az.add_subscription(AzureSubscription::new(
        "https://pathops.example.com/webhooks/azure-devops",
        "pathops",
        "hook-secret",
    ));
    let c = connector();
    let i = integration(&az, config(&sub));
    let r = test(&c, &i, FakeAzureDevOps::PAT).await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(
        r.message,
        format!("Platform/api readable, subscription {sub} enabled as PathOps Bot")
    );
    assert_eq!(r.details["deployment_type"], "hosted");
    assert_eq!(r.details["subscription"]["basic_auth"], true);
    // The PAT goes as Basic with an empty user name; REST calls carry api-version.
    let sent = az.requests();
    use base64::Engine as _;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(":{}", FakeAzureDevOps::PAT))
    );
    assert_eq!(sent[0].header("authorization"), Some(basic.as_str()));
    assert!(
        sent[1]
            .query
            .as_deref()
            .unwrap()
            .contains("api-version=7.1")
    );
}

#[tokio::test]
async fn a_bad_pat_is_unauthenticated_as_a_203_sign_in_page_or_a_401() {
    let az = FakeAzureDevOps::start_with_defaults().await;
    let c = connector();
    let i = integration(&az, json!({"project": FakeAzureDevOps::PROJECT}));
    let r = test(&c, &i, "expired-pat").await;
    assert_eq!(
        r.failure,
        Some(FailureCode::Unauthenticated),
        "{}",
        r.message
    );
    assert_eq!(r.details[detail::HTTP_STATUS], 203);
    assert_eq!(r.details["cause"], "sign_in_page");
    assert!(r.message.contains("sign-in page"), "{}", r.message);
    assert_eq!(
        (r.reachability, r.authentication),
        (Probe::Passed, Probe::Failed)
    );
    let f = c.findings(&i, &r);
    assert_eq!(codes(&f), ["unauthenticated"]);
    assert!(f[0].steps[1].contains("90 days"), "{:?}", f[0].steps);
    az.set_bad_pat_answers_401(true);
    let r = test(&c, &i, "expired-pat").await;
    assert_eq!(r.failure, Some(FailureCode::Unauthenticated));
    assert_eq!(r.details[detail::HTTP_STATUS], 401);
}

#[tokio::test]
async fn a_missing_scope_is_named_and_missing_things_are_not_found() {
    let az = FakeAzureDevOps::start_with_defaults().await;
    let sub = az.add_subscription(AzureSubscription::new(
        "https://x.example/webhooks/azure-devops",
        "u",
        "p",
    ));
    let c = connector();
    let i = integration(&az, config(&sub));
    let r = test(&c, &i, FakeAzureDevOps::CODE_PAT).await;
    assert_eq!(
        r.failure,
        Some(FailureCode::PermissionDenied {
            missing_scope: Some("vso.hooks".into())
        }),
        "{}",
        r.message
    );
    assert_eq!(codes(&c.findings(&i, &r)), ["missing_scope"]);
    let t = trigger(&c, &i, FakeAzureDevOps::CODE_PAT).await;
    assert!(matches!(
        t.failure,
        Some(FailureCode::PermissionDenied { .. })
    ));
    assert_eq!(
        codes(&c.delivery_findings(&i, &t)),
        ["webhook_missing_scope"]
    );
    for (cfg, cause) in [
        (json!({"project": "Nope"}), "project_not_found"),
        (
            json!({"project": "Platform", "repository": "nope"}),
            "repo_not_found",
        ),
        (
            json!({"project": "Platform", "subscription_id": "00000000-0000-4000-8000-000000000000"}),
            "subscription_not_found",
        ),
    ] {
        let i = integration(&az, cfg);
        let r = test(&c, &i, FakeAzureDevOps::PAT).await;
        assert_eq!(r.failure, Some(FailureCode::NotFound), "{}", r.message);
        assert_eq!(r.details["cause"], cause);
    }
}

#[tokio::test]
async fn rate_limits_server_errors_and_bad_api_versions_map_to_their_codes() {
    let az = FakeAzureDevOps::start_with_defaults().await;
    let c = connector();
    let i = integration(&az, json!({"project": FakeAzureDevOps::PROJECT}));
    let project = "/acme/_apis/projects/Platform";
    az.inject(
        Fault::on(project)
            .status(429)
            .header("Retry-After", "30")
            .header("X-RateLimit-Remaining", "0")
            .header("X-RateLimit-Resource", "Core")
            .body(r#"{"message":"TF400733: The request has been canceled: Request was blocked due to exceeding usage of resource 'Core'"}"#),
    );
    let r = c
        .check_health(&context(
            i.clone(),
            secret(FakeAzureDevOps::PAT),
            CHECK_TIMEOUT,
        ))
        .await;
    assert!(
        matches!(
            r.failure,
            Some(FailureCode::RateLimited { reset_at: Some(_) })
        ),
        "{}",
        r.message
    );
    assert_eq!(r.details[detail::RATE_LIMIT_REMAINING], 0);
    for (status, want) in [
        (500, "server_error"),
        (503, "server_error"),
        (403, "permission_denied"),
        (400, "invalid_config"),
    ] {
        az.clear_faults();
        az.inject(Fault::on(project).status(status).body("{}"));
        let r = c
            .check_health(&context(
                i.clone(),
                secret(FakeAzureDevOps::PAT),
                CHECK_TIMEOUT,
            ))
            .await;
        assert_eq!(
            r.failure.as_ref().map(FailureCode::as_str),
            Some(want),
            "{status}"
        );
    }
}

#[tokio::test]
async fn the_test_notification_is_followed_to_its_result() {
    let c = connector();
    for (status, want, cause) in [
        (200, None, None),
        (
            401,
            Some(FailureCode::DeliveryRejected),
            Some("receiver_refused_credentials"),
        ),
        (
            409,
            Some(FailureCode::DeliveryNotReceived),
            Some("receiver_duplicate"),
        ),
        (
            502,
            Some(FailureCode::DeliveryFailed),
            Some("receiver_unreachable"),
        ),
    ] {
        let rx = receiver(status).await;
        let az = FakeAzureDevOps::start_with_defaults().await;
        let sub = az.add_subscription(AzureSubscription::new(
            &format!("{}/webhooks/azure-devops", rx.url()),
            "pathops",
            "hook-secret",
        ));
        let i = integration(&az, config(&sub));
        let r = trigger(&c, &i, FakeAzureDevOps::PAT).await;
        assert_eq!(r.failure, want, "{status}: {}", r.message);
        assert_eq!(r.detail_str("cause"), cause, "{status}");
        assert_eq!(rx.requests_to("/webhooks/azure-devops").len(), 1);
        if status == 401 {
            assert_eq!(
                codes(&c.delivery_findings(&i, &r)),
                ["webhook_token_mismatch"]
            );
        }
    }
    // Nothing listens.
    let az = FakeAzureDevOps::start_with_defaults().await;
    let port = pathops_testkit::fake::refused_port();
    let sub = az.add_subscription(AzureSubscription::new(
        &format!("http://127.0.0.1:{port}/webhooks/azure-devops"),
        "pathops",
        "s",
    ));
    let i = integration(&az, config(&sub));
    let r = trigger(&c, &i, FakeAzureDevOps::PAT).await;
    assert_eq!(r.failure, Some(FailureCode::DeliveryFailed));
    assert!(
        r.detail_str(detail::DELIVERY_ERROR)
            .unwrap()
            .contains("Unable to connect")
    );
    let f = c.delivery_findings(&i, &r);
    assert_eq!(codes(&f), ["receiver_unreachable"]);
    assert!(
        f[0].steps
            .iter()
            .any(|s| s.contains("AzureDevOps service tag"))
    );
}

#[tokio::test]
async fn a_disabled_or_unverifiable_subscription_is_reported_before_testing() {
    let c = connector();
    let az = FakeAzureDevOps::start_with_defaults().await;
    let mut off = AzureSubscription::new("https://x.example/webhooks/azure-devops", "u", "p");
    off.status = "disabledBySystem".into();
    let mut no_auth = AzureSubscription::new("https://x.example/webhooks/azure-devops", "u", "p");
    no_auth.user = None;
    no_auth.password = None;
    let mut filtered = AzureSubscription::new("http://127.0.0.1:9/webhooks/azure-devops", "u", "p");
    filtered.filters_drop_test = true;
    for (sub, cause) in [
        (az.add_subscription(off), "subscription_disabled"),
        (az.add_subscription(no_auth), "subscription_misconfigured"),
        (az.add_subscription(filtered), "notification_filtered"),
    ] {
        let i = integration(&az, config(&sub));
        let r = trigger(&c, &i, FakeAzureDevOps::PAT).await;
        assert_eq!(
            (r.failure.clone(), r.detail_str("cause")),
            (Some(FailureCode::Unhealthy), Some(cause)),
            "{}",
            r.message
        );
        assert_eq!(
            codes(&c.delivery_findings(&i, &r)),
            ["webhook_tool_unhealthy"]
        );
    }
    assert_eq!(
        az.notifications().len(),
        1,
        "only the filtered one was sent"
    );
}

#[tokio::test]
async fn the_expected_delivery_names_the_subscription() {
    let c = connector();
    let az = FakeAzureDevOps::start_with_defaults().await;
    let i = integration(&az, config("7C1D0000-0000-4000-8000-000000000001"));
    assert_eq!(
        c.expected_delivery(
            &i,
            &DeliveryRequest::WebhookTest {
                trigger: "push_events".into()
            }
        )
        .await,
        Some((
            DeliveryKind::AzureDevOps,
            Expectation {
                hook_uuid: Some("7c1d0000-0000-4000-8000-000000000001".into()),
                ..Expectation::default()
            }
        ))
    );
    let none = integration(&az, json!({"project": "Platform"}));
    assert_eq!(
        c.expected_delivery(
            &none,
            &DeliveryRequest::WebhookTest {
                trigger: "push_events".into()
            }
        )
        .await,
        None
    );
}

#[tokio::test]
async fn no_secret_appears_in_results_findings_or_logs() {
    let logs = common::LogCapture::global();
    let az = FakeAzureDevOps::start_with_defaults().await;
    let sub = az.add_subscription(AzureSubscription::new(
        "https://u:SENTINEL-url@pathops.example.com/webhooks/azure-devops?k=SENTINEL-q",
        "pathops",
        "SENTINEL-hook-password",
    ));
    let c = connector();
    let mut printed = String::new();
    for pat in [FakeAzureDevOps::PAT, "SENTINEL-bad-pat"] {
        let i = integration(&az, config(&sub));
        let ctx = context(i.clone(), secret(pat), CHECK_TIMEOUT);
        for r in [
            c.test_connection(&ctx).await,
            c.check_health(&ctx).await,
            trigger(&c, &i, pat).await,
        ] {
            printed += &format!(
                "{r:?}\n{}\n{:?}\n{:?}\n",
                serde_json::to_string(&r).unwrap(),
                c.findings(&i, &r),
                c.delivery_findings(&i, &r)
            );
        }
    }
    assert!(printed.contains("sign-in page"));
    common::assert_no_sentinel("SENTINEL", "results, findings and errors", &printed);
    common::assert_no_sentinel("SENTINEL", "logs", &logs.contents());
}
