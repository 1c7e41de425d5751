//! The Bitbucket connector (Cloud) against the fake Bitbucket Cloud: API tokens, access
//! tokens and app passwords (warned before 9 June 2026, failed from then, by the connector's
//! clock), scope refusals named, statuses mapped, the round trip without a test endpoint
//! (the receiver's record as evidence, never a pass without it), and a sentinel-secret scan.

#![cfg(feature = "bitbucket")]

mod common;

use std::sync::Arc;

use pathops_connectors::bitbucket::BitbucketConnector;
use pathops_core::connector::detail;
use pathops_core::webhook::{ChallengeRegistry, Delivery, DeliveryKind, Expectation, Headers};
use pathops_core::{
    CheckResult, Clock, DeliveryRequest, FailureCode, Finding, Integration, IntegrationConnector,
    Provider,
};
use pathops_testkit::clock::ManualClock;
use pathops_testkit::connector_suite::{CHECK_TIMEOUT, ConnectorHarness, context};
use pathops_testkit::fake::Fault;
use pathops_testkit::fake::bitbucket_cloud::{CloudHook, FakeBitbucketCloud};
use pathops_testkit::fixtures::IntegrationBuilder;
use secrecy::SecretString;
use serde_json::{Value, json};
use time::macros::datetime;

const W: &str = FakeBitbucketCloud::WORKSPACE;
const S: &str = FakeBitbucketCloud::SLUG;
/// The catalog's "today".
const TODAY: time::OffsetDateTime = datetime!(2026-12-06 21:00 UTC);

struct World {
    bb: FakeBitbucketCloud,
    clock: Arc<ManualClock>,
    record: Arc<ChallengeRegistry>,
    connector: BitbucketConnector,
    hook: String,
}

async fn world() -> World {
    let bb = FakeBitbucketCloud::start_with_defaults().await;
    let hook = bb.add_hook(
        W,
        S,
        CloudHook::new("https://pathops.example.com/webhooks/bitbucket").secret("hook-secret"),
    );
    let clock = Arc::new(ManualClock::new(TODAY));
    let record = Arc::new(ChallengeRegistry::new());
    let connector = BitbucketConnector::builder()
        .with_clock(clock.clone())
        .with_receiver_record(record.clone())
        .build()
        .unwrap();
    World {
        bb,
        clock,
        record,
        connector,
        hook,
    }
}

impl World {
    fn integration(&self, extra: Value) -> Integration {
        let mut configuration = json!({
            "edition": "cloud", "workspace": W, "repo_slug": S, "hook_uuid": self.hook,
            "webhook_secret_ref": "ref://acme/bitbucket/hook",
        });
        for (k, v) in extra.as_object().unwrap() {
            configuration[k] = v.clone();
        }
        IntegrationBuilder::new("acme", "Bitbucket Cloud")
            .provider(Provider::Bitbucket)
            .base_url(&self.bb.url())
            .configuration(configuration)
            .build()
    }

    fn api_token(&self) -> Integration {
        self.integration(json!({"username": FakeBitbucketCloud::EMAIL}))
    }

    async fn test(&self, i: &Integration, secret: &str) -> CheckResult {
        self.connector
            .test_connection(&context(
                i.clone(),
                Some(SecretString::from(secret.to_owned())),
                CHECK_TIMEOUT,
            ))
            .await
    }

    async fn health(&self, i: &Integration, secret: &str) -> CheckResult {
        self.connector
            .check_health(&context(
                i.clone(),
                Some(SecretString::from(secret.to_owned())),
                CHECK_TIMEOUT,
            ))
            .await
    }

    async fn trigger(&self, i: &Integration, secret: &str) -> CheckResult {
        self.connector
            .trigger_delivery(
                &context(
                    i.clone(),
                    Some(SecretString::from(secret.to_owned())),
                    CHECK_TIMEOUT,
                ),
                &DeliveryRequest::WebhookTest {
                    trigger: "push_events".into(),
                },
            )
            .await
    }

    /// A verified delivery of the hook, as the receiver records one, at `at`.
    fn recorded(&self, request: &str, at: time::OffsetDateTime) {
        let h = Headers::from_pairs([
            ("X-Event-Key", "repo:push"),
            ("X-Hook-UUID", self.hook.as_str()),
            ("X-Request-UUID", request),
        ]);
        self.record
            .record_unmatched(Delivery::from_headers(DeliveryKind::Bitbucket, &h, at));
    }
}

struct Harness(World);

#[async_trait::async_trait]
impl ConnectorHarness for Harness {
    fn connector(&self) -> Arc<dyn IntegrationConnector> {
        Arc::new(
            BitbucketConnector::builder()
                .with_clock(self.0.clock.clone())
                .build()
                .unwrap(),
        )
    }
    fn integration(&self) -> Integration {
        self.0.api_token()
    }
    fn valid_secret(&self) -> Option<SecretString> {
        Some(SecretString::from(FakeBitbucketCloud::API_TOKEN.to_owned()))
    }
    fn invalid_secret(&self) -> SecretString {
        SecretString::from("ATATT-not-a-token".to_owned())
    }
    fn invalid_configuration(&self) -> Option<pathops_core::Configuration> {
        Some(
            pathops_core::Configuration::new(
                json!({"edition": "cloud", "workspace": W, "repo_slug": S, "auth": "api_token"}),
            )
            .unwrap(),
        )
    }
    async fn set_latency(&self, latency: std::time::Duration) {
        self.0.bb.set_latency(latency);
    }
}

pathops_testkit::connector_conformance_tests!(bitbucket_cloud_conformance, async {
    Harness(world().await)
});

fn codes(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.code.as_str()).collect()
}

#[tokio::test]
async fn an_api_token_goes_with_the_email_and_reports_user_repository_and_hook() {
    let w = world().await;
    let i = w.api_token();
    let r = w.test(&i, FakeBitbucketCloud::API_TOKEN).await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(
        r.message,
        format!(
            "acme/platform readable, hook {{{}}} active on Bitbucket Cloud as acme-bot",
            w.hook
        )
    );
    assert_eq!(r.details["hook"]["secret_set"], true);
    assert!(w.connector.findings(&i, &r).is_empty());
    let sent = w.bb.requests();
    assert!(
        sent[0]
            .header("authorization")
            .is_some_and(|a| a.starts_with("Basic "))
    );
    // With the user name instead of the e-mail Bitbucket refuses the token.
    let by_name = w.integration(json!({"username": FakeBitbucketCloud::USER, "auth": "api_token"}));
    let r = w.test(&by_name, FakeBitbucketCloud::API_TOKEN).await;
    assert_eq!(
        r.failure,
        Some(FailureCode::Unauthenticated),
        "{}",
        r.message
    );
    let f = w.connector.findings(&by_name, &r);
    assert_eq!(codes(&f), ["unauthenticated"]);
    assert!(f[0].steps.iter().any(|s| s.contains("e-mail")));
}

#[tokio::test]
async fn an_access_token_is_a_bearer_and_not_a_user() {
    let w = world().await;
    let i = w.integration(json!({}));
    let r = w.test(&i, FakeBitbucketCloud::ACCESS_TOKEN).await;
    assert!(r.is_success(), "{}", r.message);
    assert!(
        w.bb.requests_to("/2.0/user").is_empty(),
        "access tokens are not users"
    );
    assert!(
        w.bb.requests()[0]
            .header("authorization")
            .is_some_and(|a| a.starts_with("Bearer "))
    );
}

#[tokio::test]
async fn app_passwords_warn_before_the_ninth_of_june_and_fail_from_it() {
    let w = world().await;
    let i = w.integration(json!({"username": FakeBitbucketCloud::USER}));
    // Before the date (and Bitbucket still accepting it): a pass, with the deadline.
    w.clock.set(datetime!(2026-06-01 12:00 UTC));
    w.bb.set_app_passwords_retired(false);
    let r = w.test(&i, FakeBitbucketCloud::APP_PASSWORD).await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(
        r.detail_str(detail::TOKEN_EXPIRES_AT),
        Some("2026-06-09T00:00:00Z")
    );
    assert_eq!(r.token_expires_at(), Some(datetime!(2026-06-09 0:00 UTC)));
    assert_eq!(
        codes(&w.connector.findings(&i, &r)),
        ["app_password_deprecated"]
    );
    // From the date on: failed before any call, whatever Bitbucket would answer.
    w.clock.set(datetime!(2026-06-09 0:00 UTC));
    w.bb.clear_requests();
    for r in [
        w.test(&i, FakeBitbucketCloud::APP_PASSWORD).await,
        w.health(&i, FakeBitbucketCloud::APP_PASSWORD).await,
        w.trigger(&i, FakeBitbucketCloud::APP_PASSWORD).await,
    ] {
        assert_eq!(
            r.failure,
            Some(FailureCode::Unauthenticated),
            "{}",
            r.message
        );
        assert_eq!(r.details["cause"], "app_password_retired");
        assert_eq!(r.details[detail::TOKEN_EXPIRED], true);
    }
    assert!(
        w.bb.requests().is_empty(),
        "the retired credential was never sent"
    );
    let r = w.test(&i, FakeBitbucketCloud::APP_PASSWORD).await;
    let f = w.connector.findings(&i, &r);
    assert_eq!(codes(&f), ["token_expired"]);
    assert!(f[0].steps[0].contains("API token"), "{:?}", f[0].steps);
    // Today, Bitbucket refuses it too.
    w.clock.set(TODAY);
    assert_eq!(
        w.test(&i, FakeBitbucketCloud::APP_PASSWORD).await.failure,
        Some(FailureCode::Unauthenticated)
    );
}

#[tokio::test]
async fn scopes_statuses_and_missing_resources_map_to_their_codes() {
    let w = world().await;
    let i = w.api_token();
    // Repository read only: the hook read names the scope Bitbucket requires.
    let r = w.test(&i, FakeBitbucketCloud::REPO_API_TOKEN).await;
    assert_eq!(
        r.failure,
        Some(FailureCode::PermissionDenied {
            missing_scope: Some("read:webhook:bitbucket".into())
        }),
        "{}",
        r.message
    );
    assert!(
        r.details["warnings"][0]
            .as_str()
            .unwrap()
            .contains("may not read its user")
    );
    assert_eq!(codes(&w.connector.findings(&i, &r)), ["missing_scope"]);
    assert_eq!(
        codes(
            &w.connector
                .delivery_findings(&i, &w.trigger(&i, FakeBitbucketCloud::REPO_API_TOKEN).await)
        ),
        ["webhook_missing_scope"]
    );
    let missing =
        w.integration(json!({"username": FakeBitbucketCloud::EMAIL, "repo_slug": "nope"}));
    let r = w.test(&missing, FakeBitbucketCloud::API_TOKEN).await;
    assert_eq!(
        (r.failure.clone(), r.details["cause"].as_str()),
        (Some(FailureCode::NotFound), Some("repo_not_found"))
    );
    let no_hook = w.integration(json!({"username": FakeBitbucketCloud::EMAIL,
        "hook_uuid": "00000000-0000-4000-8000-000000000000"}));
    let r = w.test(&no_hook, FakeBitbucketCloud::API_TOKEN).await;
    assert_eq!(r.details["cause"], "hook_not_found");
    let repo = "/2.0/repositories/acme/platform";
    for (status, want) in [
        (429, "rate_limited"),
        (500, "server_error"),
        (503, "server_error"),
    ] {
        w.bb.clear_faults();
        w.bb.inject(Fault::on(repo).status(status).header("Retry-After", "30"));
        let r = w.health(&i, FakeBitbucketCloud::API_TOKEN).await;
        assert_eq!(
            r.failure.as_ref().map(FailureCode::as_str),
            Some(want),
            "{status}"
        );
    }
}

#[tokio::test]
async fn without_a_recorded_delivery_the_round_trip_never_passes() {
    let w = world().await;
    let i = w.api_token();
    let r = w.trigger(&i, FakeBitbucketCloud::API_TOKEN).await;
    assert_eq!(r.failure, Some(FailureCode::Unsupported), "{}", r.message);
    assert_eq!(r.details["cause"], "no_test_endpoint");
    assert!(r.message.contains("cannot trigger a test"), "{}", r.message);
    let f = w.connector.delivery_findings(&i, &r);
    assert_eq!(codes(&f), ["webhook_unsupported"]);
    assert!(f[0].steps[0].contains("Push a commit"), "{:?}", f[0].steps);
    assert!(f[0].steps[0].contains("View requests"), "{:?}", f[0].steps);
    // Another hook's delivery is no evidence for this one.
    let other = Headers::from_pairs([
        ("X-Event-Key", "repo:push"),
        ("X-Hook-UUID", "11111111-1111-4111-8111-111111111111"),
        ("X-Request-UUID", "r-other"),
    ]);
    w.record.record_unmatched(Delivery::from_headers(
        DeliveryKind::Bitbucket,
        &other,
        w.clock.now(),
    ));
    assert_eq!(
        w.trigger(&i, FakeBitbucketCloud::API_TOKEN).await.failure,
        Some(FailureCode::Unsupported)
    );
    // Too old a delivery is no evidence either.
    w.recorded("r-old", TODAY - time::Duration::hours(25));
    let r = w.trigger(&i, FakeBitbucketCloud::API_TOKEN).await;
    assert_eq!(r.details["cause"], "evidence_stale", "{}", r.message);
    // Nor is anything without the receiver's record.
    let bare = BitbucketConnector::builder().build().unwrap();
    let r = bare
        .trigger_delivery(
            &context(
                i.clone(),
                Some(SecretString::from(FakeBitbucketCloud::API_TOKEN.to_owned())),
                CHECK_TIMEOUT,
            ),
            &DeliveryRequest::WebhookTest {
                trigger: "push_events".into(),
            },
        )
        .await;
    assert_eq!(r.failure, Some(FailureCode::Unsupported));
}

#[tokio::test]
async fn a_recent_recorded_delivery_answers_the_challenge_as_evidence() {
    let w = world().await;
    let i = w.api_token();
    let expected = w
        .connector
        .expected_delivery(
            &i,
            &DeliveryRequest::WebhookTest {
                trigger: "push_events".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        expected,
        (
            DeliveryKind::Bitbucket,
            Expectation {
                hook_uuid: Some(w.hook.clone()),
                ..Expectation::default()
            }
        )
    );
    let handle = w.record.register(
        i.tenant_id.clone(),
        i.id,
        expected.0,
        expected.1,
        Default::default(),
        TODAY + time::Duration::minutes(2),
    );
    // Another tenant's challenge for the same hook is not answered.
    let stranger = w.record.register(
        "other".parse().unwrap(),
        pathops_core::IntegrationId::new(),
        DeliveryKind::Bitbucket,
        Expectation {
            hook_uuid: Some(w.hook.clone()),
            ..Expectation::default()
        },
        Default::default(),
        TODAY + time::Duration::minutes(2),
    );
    w.recorded("r-1", TODAY - time::Duration::hours(2));
    w.recorded("r-2", TODAY - time::Duration::minutes(5));
    let r = w.trigger(&i, FakeBitbucketCloud::API_TOKEN).await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(r.details["evidence"]["delivery_id"], "r-2");
    assert_eq!(r.details["evidence"]["source"], "receiver_record");
    let got = handle
        .wait(std::time::Duration::from_millis(100))
        .await
        .unwrap();
    assert_eq!(got.delivery.delivery_id.as_deref(), Some("r-2"));
    assert!(
        stranger
            .wait(std::time::Duration::from_millis(50))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn inactive_and_unsigned_hooks_are_reported_with_their_fix() {
    let w = world().await;
    let inactive = w.bb.add_hook(
        W,
        S,
        CloudHook::new("https://pathops.example.com/webhooks/bitbucket")
            .secret("s")
            .inactive(),
    );
    let unsigned = w.bb.add_hook(
        W,
        S,
        CloudHook::new("https://pathops.example.com/webhooks/bitbucket"),
    );
    for (uuid, cause, call) in [
        (&inactive, "hook_inactive", "{\"active\": true}"),
        (
            &unsigned,
            "hook_without_secret",
            "{\"secret\": \"<secret>\"}",
        ),
    ] {
        let i = w.integration(json!({"username": FakeBitbucketCloud::EMAIL, "hook_uuid": uuid}));
        let r = w.trigger(&i, FakeBitbucketCloud::API_TOKEN).await;
        assert_eq!(
            (r.failure.clone(), r.details["cause"].as_str()),
            (Some(FailureCode::Unhealthy), Some(cause))
        );
        let f = w.connector.delivery_findings(&i, &r);
        assert_eq!(codes(&f), ["webhook_tool_unhealthy"]);
        assert!(
            f[0].api_call.as_deref().unwrap().ends_with(call),
            "{:?}",
            f[0].api_call
        );
        let t = w.test(&i, FakeBitbucketCloud::API_TOKEN).await;
        assert!(t.is_success());
        assert!(!t.details["warnings"].as_array().unwrap().is_empty());
    }
}

#[tokio::test]
async fn no_secret_appears_in_results_findings_or_logs() {
    let logs = common::LogCapture::global();
    let w = world().await;
    let mut printed = String::new();
    for (i, secret) in [
        (w.api_token(), "ATATT-SENTINEL-wrong"),
        (
            w.integration(json!({"username": FakeBitbucketCloud::USER})),
            "SENTINEL-app-password",
        ),
        (w.integration(json!({})), "ATCTT-SENTINEL-wrong"),
    ] {
        for r in [
            w.test(&i, secret).await,
            w.health(&i, secret).await,
            w.trigger(&i, secret).await,
        ] {
            printed += &format!(
                "{r:?}\n{}\n{:?}\n{:?}\n",
                serde_json::to_string(&r).unwrap(),
                w.connector.findings(&i, &r),
                w.connector.delivery_findings(&i, &r)
            );
        }
    }
    assert!(printed.contains("app passwords stopped working"));
    common::assert_no_sentinel("SENTINEL", "results, findings and errors", &printed);
    common::assert_no_sentinel("SENTINEL", "logs", &logs.contents());
}
