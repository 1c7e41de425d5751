//! The Bitbucket connector (Data Center) against the fake Bitbucket Data Center: conformance,
//! the connection test (version, caller, repository, hook), every status code of the table in
//! the module docs, the test endpoint's outcomes as failure codes, configuration refused by
//! name, and a sentinel-secret scan.

#![cfg(feature = "bitbucket")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pathops_connectors::bitbucket::BitbucketConnector;
use pathops_core::connector::detail;
use pathops_core::webhook::{DeliveryKind, Expectation};
use pathops_core::{
    CheckResult, Configuration, DeliveryRequest, FailureCode, Finding, Integration,
    IntegrationConnector, Probe, Provider,
};
use pathops_testkit::connector_suite::{CHECK_TIMEOUT, ConnectorHarness, context};
use pathops_testkit::fake::bitbucket_dc::{
    BitbucketHook, BitbucketPermission, BitbucketToken, FakeBitbucketDc,
};
use pathops_testkit::fake::{FakeServer, Fault};
use pathops_testkit::fixtures::IntegrationBuilder;
use secrecy::SecretString;
use serde_json::{Value, json};

const P: &str = FakeBitbucketDc::PROJECT;
const S: &str = FakeBitbucketDc::SLUG;
const HOOK: u64 = 7;

fn connector() -> Arc<BitbucketConnector> {
    Arc::new(BitbucketConnector::builder().build().unwrap())
}

fn integration(url: &str, configuration: Value) -> Integration {
    IntegrationBuilder::new("acme", "Bitbucket")
        .provider(Provider::Bitbucket)
        .base_url(url)
        .configuration(configuration)
        .build()
}

fn with_hook() -> Value {
    json!({"project_key": P, "repo_slug": S, "hook_id": HOOK, "webhook_secret_ref": "ref://acme/bitbucket/hook"})
}

fn secret(s: &str) -> Option<SecretString> {
    Some(SecretString::from(s.to_owned()))
}

async fn test(c: &BitbucketConnector, i: &Integration, token: &str) -> CheckResult {
    c.test_connection(&context(i.clone(), secret(token), CHECK_TIMEOUT))
        .await
}

async fn health(c: &BitbucketConnector, i: &Integration, token: &str) -> CheckResult {
    c.check_health(&context(i.clone(), secret(token), CHECK_TIMEOUT))
        .await
}

fn webhook_test() -> DeliveryRequest {
    DeliveryRequest::WebhookTest {
        trigger: "push_events".into(),
    }
}

async fn trigger(c: &BitbucketConnector, i: &Integration, token: &str) -> CheckResult {
    c.trigger_delivery(
        &context(i.clone(), secret(token), CHECK_TIMEOUT),
        &webhook_test(),
    )
    .await
}

fn codes(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.code.as_str()).collect()
}

/// A receiver answering every POST with `status`.
async fn receiver(status: u16) -> FakeServer {
    let status = axum::http::StatusCode::from_u16(status).unwrap();
    FakeServer::bind(
        "127.0.0.1:0".parse().unwrap(),
        axum::Router::new().route(
            "/webhooks/bitbucket",
            axum::routing::post(move || async move { (status, "{}") }),
        ),
    )
    .await
    .unwrap()
}

async fn bitbucket_with_hook(url: &str) -> FakeBitbucketDc {
    let b = FakeBitbucketDc::start_with_defaults().await;
    b.add_hook(P, S, BitbucketHook::new(HOOK, url).secret("hook-secret"));
    b
}

struct Harness {
    bitbucket: FakeBitbucketDc,
    connector: Arc<BitbucketConnector>,
}

#[async_trait]
impl ConnectorHarness for Harness {
    fn connector(&self) -> Arc<dyn IntegrationConnector> {
        self.connector.clone()
    }
    fn integration(&self) -> Integration {
        integration(&self.bitbucket.url(), with_hook())
    }
    fn valid_secret(&self) -> Option<SecretString> {
        secret(FakeBitbucketDc::ADMIN_TOKEN)
    }
    fn invalid_secret(&self) -> SecretString {
        SecretString::from("not-a-bitbucket-token".to_owned())
    }
    fn invalid_configuration(&self) -> Option<Configuration> {
        Some(Configuration::new(json!({"project_key": P, "repo_slug": S, "hook_id": 0})).unwrap())
    }
    async fn set_latency(&self, latency: Duration) {
        self.bitbucket.set_latency(latency);
    }
}

pathops_testkit::connector_conformance_tests!(bitbucket_conformance, async {
    Harness {
        bitbucket: bitbucket_with_hook("https://pathops.example.com/webhooks/bitbucket").await,
        connector: connector(),
    }
});

#[tokio::test]
async fn the_test_reports_version_caller_repository_and_hook() {
    let b = bitbucket_with_hook("https://pathops.example.com/webhooks/bitbucket").await;
    let c = connector();
    let i = integration(&b.url(), with_hook());
    let r = test(&c, &i, FakeBitbucketDc::ADMIN_TOKEN).await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(
        r.message,
        "ACME/platform readable, hook 7 active on Bitbucket Data Center 8.19.1 as pathops-hooks"
    );
    assert_eq!(r.details["repo"]["id"], FakeBitbucketDc::REPO_ID);
    assert_eq!(
        r.details["hook"]["url"],
        "https://pathops.example.com/webhooks/bitbucket"
    );
    assert_eq!(r.details[detail::PROJECT], "ACME/platform");
    // The token goes as a bearer token.
    let sent = b.requests_to("/rest/api/1.0/projects/ACME/repos/platform");
    assert_eq!(
        sent[0].header("authorization"),
        Some(format!("Bearer {}", FakeBitbucketDc::ADMIN_TOKEN).as_str())
    );
    // The health check is one call.
    b.clear_requests();
    assert!(
        health(&c, &i, FakeBitbucketDc::ADMIN_TOKEN)
            .await
            .is_success()
    );
    assert_eq!(b.requests().len(), 1);
}

#[tokio::test]
async fn basic_credentials_are_sent_when_a_username_is_configured() {
    let b = bitbucket_with_hook("https://pathops.example.com/webhooks/bitbucket").await;
    let c = connector();
    let mut cfg = with_hook();
    cfg["username"] = json!(FakeBitbucketDc::ADMIN);
    let i = integration(&b.url(), cfg);
    let r = test(&c, &i, FakeBitbucketDc::ADMIN_TOKEN).await;
    assert!(r.is_success(), "{}", r.message);
    let sent = b.requests();
    assert!(
        sent[0]
            .header("authorization")
            .is_some_and(|a| a.starts_with("Basic ")),
        "{:?}",
        sent[0]
    );
}

#[tokio::test]
async fn a_401_is_unauthenticated_or_a_missing_permission_by_its_exception() {
    let b = bitbucket_with_hook("https://pathops.example.com/webhooks/bitbucket").await;
    let c = connector();
    let i = integration(&b.url(), with_hook());
    // An unknown token: 401 IncorrectPasswordAuthenticationException.
    let r = test(&c, &i, "BBDC-unknown").await;
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
    assert_eq!(codes(&c.findings(&i, &r)), ["unauthenticated"]);
    // A user without any permission on the repository: 401 AuthorisationException.
    let r = test(&c, &i, FakeBitbucketDc::OUTSIDER_TOKEN).await;
    assert_eq!(
        r.failure,
        Some(FailureCode::PermissionDenied {
            missing_scope: Some("REPO_READ".into())
        }),
        "{}",
        r.message
    );
    assert_eq!(r.details[detail::HTTP_STATUS], 401);
    let f = c.findings(&i, &r);
    assert_eq!(codes(&f), ["missing_scope"]);
    assert!(f[0].steps[0].contains("/projects/ACME/repos/platform/permissions"));
    // A token created with REPO_READ reads the repository, not its hook (REPO_ADMIN).
    let r = test(&c, &i, FakeBitbucketDc::READ_TOKEN).await;
    assert_eq!(
        r.failure,
        Some(FailureCode::PermissionDenied {
            missing_scope: Some("REPO_ADMIN".into())
        }),
        "{}",
        r.message
    );
    assert!(
        r.message.contains("the call needs REPO_ADMIN"),
        "{}",
        r.message
    );
    // ... and its health check (the repository only) passes.
    assert!(
        health(&c, &i, FakeBitbucketDc::READ_TOKEN)
            .await
            .is_success()
    );
    // No token at all on a private repository.
    let anonymous = c
        .test_connection(&context(i.clone(), None, CHECK_TIMEOUT))
        .await;
    assert!(matches!(
        anonymous.failure,
        Some(FailureCode::PermissionDenied { .. })
    ));
}

#[tokio::test]
async fn missing_repositories_and_hooks_are_not_found_with_their_cause() {
    let b = bitbucket_with_hook("https://pathops.example.com/webhooks/bitbucket").await;
    let c = connector();
    let i = integration(&b.url(), json!({"project_key": P, "repo_slug": "nope"}));
    let r = test(&c, &i, FakeBitbucketDc::ADMIN_TOKEN).await;
    assert_eq!(r.failure, Some(FailureCode::NotFound));
    assert_eq!(r.details["cause"], "repo_not_found");
    assert!(
        r.message.contains("Repository nope does not exist."),
        "{}",
        r.message
    );
    let i = integration(&b.url(), json!({"project_key": "NOPE", "repo_slug": S}));
    assert_eq!(
        test(&c, &i, FakeBitbucketDc::ADMIN_TOKEN).await.failure,
        Some(FailureCode::NotFound)
    );
    let i = integration(
        &b.url(),
        json!({"project_key": P, "repo_slug": S, "hook_id": 99}),
    );
    let r = test(&c, &i, FakeBitbucketDc::ADMIN_TOKEN).await;
    assert_eq!(
        (r.failure.clone(), r.details["cause"].as_str()),
        (Some(FailureCode::NotFound), Some("hook_not_found"))
    );
    assert_eq!(codes(&c.findings(&i, &r)), ["not_found"]);
    let t = trigger(&c, &i, FakeBitbucketDc::ADMIN_TOKEN).await;
    assert_eq!(t.failure, Some(FailureCode::NotFound));
    assert_eq!(codes(&c.delivery_findings(&i, &t)), ["webhook_not_found"]);
}

#[tokio::test]
async fn rate_limits_server_errors_and_other_statuses_map_to_their_codes() {
    let b = bitbucket_with_hook("https://pathops.example.com/webhooks/bitbucket").await;
    let c = connector();
    let i = integration(&b.url(), with_hook());
    let repo = "/rest/api/1.0/projects/ACME/repos/platform";
    for (status, headers, want) in [
        (
            429,
            vec![("Retry-After", "60"), ("X-RateLimit-Remaining", "0")],
            "rate_limited",
        ),
        (503, vec![], "server_error"),
        (500, vec![], "server_error"),
        (403, vec![], "permission_denied"),
        (400, vec![], "invalid_config"),
        (409, vec![], "invalid_response"),
    ] {
        b.clear_faults();
        let mut fault = Fault::on(repo)
            .status(status)
            .body(r#"{"errors":[{"context":null,"message":"fault","exceptionName":"x"}]}"#);
        for (n, v) in &headers {
            fault = fault.header(n, v);
        }
        b.inject(fault);
        let r = health(&c, &i, FakeBitbucketDc::ADMIN_TOKEN).await;
        assert_eq!(
            r.failure.as_ref().map(FailureCode::as_str),
            Some(want),
            "{status}: {}",
            r.message
        );
        assert_eq!(r.details[detail::HTTP_STATUS], status);
        if status == 429 {
            assert!(matches!(
                r.failure,
                Some(FailureCode::RateLimited { reset_at: Some(_) })
            ));
            assert_eq!(r.details[detail::RATE_LIMIT_REMAINING], 0);
        }
    }
    // Not Bitbucket: application-properties without a version.
    b.clear_faults();
    b.inject(
        Fault::on("/rest/api/1.0/application-properties")
            .status(200)
            .body("{}"),
    );
    let r = test(&c, &i, FakeBitbucketDc::ADMIN_TOKEN).await;
    assert_eq!(
        r.failure,
        Some(FailureCode::InvalidResponse),
        "{}",
        r.message
    );
    // A body that is not JSON.
    b.clear_faults();
    b.inject(Fault::on(repo).status(200).body("<html>"));
    let r = health(&c, &i, FakeBitbucketDc::ADMIN_TOKEN).await;
    assert_eq!(r.failure, Some(FailureCode::InvalidResponse));
}

#[tokio::test]
async fn the_test_endpoints_outcomes_become_delivery_codes() {
    let c = connector();
    // The receiver accepts: passed, the ping signed with the hook's secret.
    let ok = receiver(200).await;
    let b = bitbucket_with_hook(&format!("{}/webhooks/bitbucket", ok.url())).await;
    let i = integration(&b.url(), with_hook());
    let r = trigger(&c, &i, FakeBitbucketDc::ADMIN_TOKEN).await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(r.details[detail::HOOK_ID], HOOK);
    let test_call = b
        .requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap();
    assert_eq!(
        test_call.path,
        "/rest/api/latest/projects/ACME/repos/platform/webhooks/test"
    );
    assert!(test_call.query.as_deref().unwrap().contains("webhookId=7"));
    assert!(b.invocations()[0].signed);
    // The receiver refuses the signature: rejected, with its answer as evidence.
    for (status, want, cause) in [
        (
            401,
            FailureCode::DeliveryRejected,
            "receiver_refused_signature",
        ),
        (
            403,
            FailureCode::DeliveryRejected,
            "receiver_refused_signature",
        ),
        (409, FailureCode::DeliveryNotReceived, "receiver_duplicate"),
        (502, FailureCode::DeliveryFailed, "receiver_error"),
    ] {
        let rx = receiver(status).await;
        let b = bitbucket_with_hook(&format!("{}/webhooks/bitbucket", rx.url())).await;
        let i = integration(&b.url(), with_hook());
        let r = trigger(&c, &i, FakeBitbucketDc::ADMIN_TOKEN).await;
        assert_eq!(r.failure, Some(want), "{status}: {}", r.message);
        assert_eq!(r.details["cause"], cause, "{status}");
        let f = c.delivery_findings(&i, &r);
        let expected = match status {
            401 | 403 => "webhook_token_mismatch",
            409 => "delivery_not_received",
            _ => "receiver_unreachable",
        };
        assert_eq!(codes(&f), [expected], "{status}");
    }
    // Nothing listens: Bitbucket's ERROR, unreachable.
    let port = pathops_testkit::fake::refused_port();
    let b = bitbucket_with_hook(&format!("http://127.0.0.1:{port}/webhooks/bitbucket")).await;
    let i = integration(&b.url(), with_hook());
    let r = trigger(&c, &i, FakeBitbucketDc::ADMIN_TOKEN).await;
    assert_eq!(
        r.failure,
        Some(FailureCode::DeliveryFailed),
        "{}",
        r.message
    );
    assert_eq!(r.details["cause"], "receiver_unreachable");
    assert!(
        r.detail_str(detail::DELIVERY_ERROR)
            .unwrap()
            .contains("Connection refused")
    );
    let f = c.delivery_findings(&i, &r);
    assert_eq!(codes(&f), ["receiver_unreachable"]);
    assert!(
        f[0].steps.iter().any(|s| s.contains("IP allowlist")),
        "{:?}",
        f[0].steps
    );
}

#[tokio::test]
async fn an_inactive_hook_is_reported_before_triggering_and_permissions_are_named() {
    let c = connector();
    let b = FakeBitbucketDc::start_with_defaults().await;
    b.add_hook(
        P,
        S,
        BitbucketHook::new(HOOK, "https://pathops.example.com/webhooks/bitbucket").inactive(),
    );
    let i = integration(&b.url(), with_hook());
    let t = test(&c, &i, FakeBitbucketDc::ADMIN_TOKEN).await;
    assert!(t.is_success());
    assert!(t.message.contains("hook 7 inactive"), "{}", t.message);
    let r = trigger(&c, &i, FakeBitbucketDc::ADMIN_TOKEN).await;
    assert_eq!(
        (r.failure.clone(), r.details["cause"].as_str()),
        (Some(FailureCode::Unhealthy), Some("hook_inactive"))
    );
    assert!(
        b.requests().iter().all(|r| r.method == "GET"),
        "never triggered"
    );
    let f = c.delivery_findings(&i, &r);
    assert_eq!(codes(&f), ["webhook_tool_unhealthy"]);
    assert_eq!(
        f[0].api_call.as_deref(),
        Some("PUT /rest/api/1.0/projects/ACME/repos/platform/webhooks/7 with {\"active\": true}")
    );
    // A read token cannot test: REPO_ADMIN named.
    let b = bitbucket_with_hook("https://pathops.example.com/webhooks/bitbucket").await;
    let i = integration(&b.url(), with_hook());
    let r = trigger(&c, &i, FakeBitbucketDc::READ_TOKEN).await;
    assert_eq!(
        r.failure,
        Some(FailureCode::PermissionDenied {
            missing_scope: Some("REPO_ADMIN".into())
        })
    );
    assert_eq!(
        codes(&c.delivery_findings(&i, &r)),
        ["webhook_missing_scope"]
    );
    // A project token whose own permission is lower than its user's is capped.
    b.add_token(BitbucketToken {
        token: "BBDC-write".into(),
        user: FakeBitbucketDc::ADMIN.into(),
        permission: BitbucketPermission::RepoWrite,
    });
    assert!(matches!(
        trigger(&c, &i, "BBDC-write").await.failure,
        Some(FailureCode::PermissionDenied { .. })
    ));
}

#[tokio::test]
async fn the_expected_delivery_is_a_bitbucket_ping_only_with_a_hook() {
    let c = connector();
    let i = integration("https://bitbucket.acme.example", with_hook());
    assert_eq!(
        c.expected_delivery(&i, &webhook_test()).await,
        Some((
            DeliveryKind::Bitbucket,
            Expectation {
                event: Some("diagnostics:ping".into()),
                ..Expectation::default()
            }
        ))
    );
    let no_hook = integration(
        "https://bitbucket.acme.example",
        json!({"project_key": P, "repo_slug": S}),
    );
    assert_eq!(c.expected_delivery(&no_hook, &webhook_test()).await, None);
    assert_eq!(
        c.expected_delivery(&i, &DeliveryRequest::HookPing).await,
        None
    );
}

#[tokio::test]
async fn configuration_is_refused_by_name() {
    let c = connector();
    let refused = async |v: Value| {
        c.validate_config(&Configuration::new(v).unwrap())
            .await
            .unwrap_err()
            .to_string()
    };
    assert!(
        refused(json!({"repo_slug": S}))
            .await
            .contains("project_key")
    );
    assert!(
        refused(json!({"project_key": P, "repo_slug": S, "token": "x"}))
            .await
            .contains("`token`")
    );
    // A key of the other edition is refused by name.
    assert!(
        refused(json!({"project_key": P, "repo_slug": S, "hook_uuid": "x"}))
            .await
            .contains("hook_uuid")
    );
    assert!(
        refused(json!({"edition": "cloud", "project_key": P, "repo_slug": S}))
            .await
            .contains("project_key")
    );
    assert!(
        c.validate_config(&Configuration::new(with_hook()).unwrap())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn no_secret_appears_in_results_findings_or_logs() {
    const SENTINEL: &str = "BBDC-SENTINEL-5e5e";
    let logs = common::LogCapture::global();
    let b = FakeBitbucketDc::start_with_defaults().await;
    b.add_token(BitbucketToken {
        token: SENTINEL.into(),
        user: FakeBitbucketDc::ADMIN.into(),
        permission: BitbucketPermission::RepoAdmin,
    });
    b.add_hook(
        P,
        S,
        BitbucketHook::new(
            HOOK,
            "https://bot:SENTINEL-pass@pathops.example.com/webhooks/bitbucket?token=SENTINEL-q",
        )
        .secret("SENTINEL-hook-secret"),
    );
    let c = connector();
    let mut printed = String::new();
    for token in [SENTINEL, "BBDC-SENTINEL-5e5e-wrong"] {
        for cfg in [
            with_hook(),
            json!({"project_key": P, "repo_slug": "missing", "hook_id": 7}),
        ] {
            let i = integration(&b.url(), cfg);
            let ctx = context(i.clone(), secret(token), CHECK_TIMEOUT);
            for r in [
                c.test_connection(&ctx).await,
                c.check_health(&ctx).await,
                c.trigger_delivery(&ctx, &webhook_test()).await,
            ] {
                printed += &format!(
                    "{r:?}\n{}\n{:?}\n{:?}\n",
                    serde_json::to_string(&r).unwrap(),
                    c.findings(&i, &r),
                    c.delivery_findings(&i, &r)
                );
            }
            printed += &format!("{ctx:?}\n{c:?}\n");
        }
    }
    assert!(
        printed.contains("https://pathops.example.com/webhooks/bitbucket"),
        "the hook URL is reported"
    );
    assert!(
        printed.contains("Authentication failed"),
        "the refusal was exercised"
    );
    common::assert_no_sentinel("SENTINEL", "results, findings and errors", &printed);
    common::assert_no_sentinel("SENTINEL", "logs", &logs.contents());
}
