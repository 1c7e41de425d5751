//! The GitLab connector against the fake GitLab: conformance, every status code of the
//! reference, transport failures, the hook test trigger and a sentinel-secret scan.

#![cfg(feature = "gitlab")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pathops_connectors::gitlab::GitLabConnector;
use pathops_connectors::http::HttpPolicy;
use pathops_core::connector::detail;
use pathops_core::webhook::{DeliveryKind, Expectation};
use pathops_core::{
    CheckResult, Configuration, ConnectorContext, DeliveryRequest, FailureCode, Integration,
    IntegrationConnector, Probe, Provider,
};
use pathops_testkit::connector_suite::{CHECK_TIMEOUT, ConnectorHarness, context};
use pathops_testkit::fake::gitlab::{
    FakeGitLab, GitLabHook, GitLabProject, GitLabToken, GitLabUser,
};
use pathops_testkit::fake::{FakeServer, Fault};
use pathops_testkit::fixtures::IntegrationBuilder;
use secrecy::SecretString;
use serde_json::json;

const P: u64 = FakeGitLab::PROJECT_ID;

fn connector() -> Arc<GitLabConnector> {
    Arc::new(GitLabConnector::builder().build().unwrap())
}

fn integration(url: &str, configuration: serde_json::Value) -> Integration {
    IntegrationBuilder::new("acme", "GitLab")
        .provider(Provider::GitLab)
        .base_url(url)
        .configuration(configuration)
        .build()
}

fn secret(s: &str) -> Option<SecretString> {
    Some(SecretString::from(s.to_owned()))
}

async fn test(c: &GitLabConnector, i: Integration, token: &str) -> CheckResult {
    c.test_connection(&context(i, secret(token), CHECK_TIMEOUT))
        .await
}

struct Harness {
    gitlab: FakeGitLab,
    connector: Arc<GitLabConnector>,
}

#[async_trait]
impl ConnectorHarness for Harness {
    fn connector(&self) -> Arc<dyn IntegrationConnector> {
        self.connector.clone()
    }
    fn integration(&self) -> Integration {
        integration(
            &self.gitlab.url(),
            json!({"project": FakeGitLab::PROJECT_PATH}),
        )
    }
    fn valid_secret(&self) -> Option<SecretString> {
        secret(FakeGitLab::API_TOKEN)
    }
    fn invalid_secret(&self) -> SecretString {
        SecretString::from("glpat-not-a-token".to_owned())
    }
    fn invalid_configuration(&self) -> Option<Configuration> {
        Some(Configuration::new(json!({"project": "no-slash-path"})).unwrap())
    }
    async fn set_latency(&self, latency: Duration) {
        self.gitlab.set_latency(latency);
    }
}

pathops_testkit::connector_conformance_tests!(gitlab_conformance, async {
    Harness {
        gitlab: FakeGitLab::start_with_defaults().await,
        connector: connector(),
    }
});

#[tokio::test]
async fn a_full_test_reports_identity_scopes_version_project_and_hook() {
    let gl = FakeGitLab::start_with_defaults().await;
    let hook = gl.add_hook(GitLabHook::new(P, "http://127.0.0.1:9/hooks/gitlab").token("t"));
    let c = connector();
    let r = test(
        &c,
        integration(&gl.url(), json!({"project": P, "hook_id": hook})),
        FakeGitLab::API_TOKEN,
    )
    .await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(r.message, "authenticated as @pathops-bot on GitLab 17.5.0");
    assert_eq!(r.details["user"]["username"], "pathops-bot");
    assert_eq!(r.details["token"]["scopes"], json!(["api"]));
    assert_eq!(r.details["version"], "17.5.0");
    assert_eq!(r.details["project"]["access_level"], 40);
    assert_eq!(r.details["hook"]["alert_status"], "executable");
    assert_eq!(r.details["warnings"], json!([]));
    let paths: Vec<String> = gl.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/api/v4/user".to_owned(),
            "/api/v4/personal_access_tokens/self".to_owned(),
            "/api/v4/version".to_owned(),
            format!("/api/v4/projects/{P}"),
            format!("/api/v4/projects/{P}/hooks/{hook}"),
        ]
    );
    assert!(
        gl.requests()
            .iter()
            .all(|r| r.header("private-token") == Some(FakeGitLab::API_TOKEN))
    );
}

#[tokio::test]
async fn warnings_for_missing_api_scope_near_expiry_and_disabled_hooks() {
    let gl = FakeGitLab::start_with_defaults().await;
    let tomorrow = (time::OffsetDateTime::now_utc() + time::Duration::days(1)).date();
    gl.add_token(
        GitLabToken::new(FakeGitLab::USER_ID, "glpat-soon", &["read_api"])
            .expires_at(&tomorrow.to_string()),
    );
    let hook = gl.add_hook(
        GitLabHook::new(P, "http://127.0.0.1:9/h")
            .alert_status("temporarily_disabled", Some("2030-01-01T00:00:00Z")),
    );
    let c = connector();
    let r = test(
        &c,
        integration(
            &gl.url(),
            json!({"project": "platform/api", "hook_id": hook}),
        ),
        "glpat-soon",
    )
    .await;
    assert!(
        r.is_success(),
        "warnings do not fail the test: {}",
        r.message
    );
    let warnings: Vec<&str> = r.details["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    assert!(warnings[0].contains("expires on"), "{warnings:?}");
    assert!(warnings[1].contains("api scope"), "{warnings:?}");
    assert!(
        warnings[2].contains("temporarily_disabled until 2030-01-01"),
        "{warnings:?}"
    );
    assert_eq!(
        gl.requests()[3].path,
        "/api/v4/projects/platform%2Fapi",
        "paths are %2F-encoded"
    );
}

#[tokio::test]
async fn bearer_tokens_and_health() {
    let gl = FakeGitLab::start_with_defaults().await;
    let c = connector();
    let i = integration(&gl.url(), json!({"token_type": "bearer"}));
    let r = c
        .check_health(&context(i, secret(FakeGitLab::API_TOKEN), CHECK_TIMEOUT))
        .await;
    assert!(r.is_success(), "{}", r.message);
    let seen = &gl.requests()[0];
    assert_eq!(seen.path, "/api/v4/user");
    assert_eq!(
        seen.header("authorization"),
        Some(format!("Bearer {}", FakeGitLab::API_TOKEN).as_str())
    );
    assert_eq!(seen.header("private-token"), None);
    assert_eq!(gl.requests().len(), 1, "health is one call");
}

#[tokio::test]
async fn status_codes_of_the_reference_map_to_failure_codes() {
    let gl = FakeGitLab::start_with_defaults().await;
    gl.add_token(GitLabToken::new(
        FakeGitLab::USER_ID,
        "glpat-user-only",
        &["read_user"],
    ));
    gl.add_user(GitLabUser::new(2, "dev"));
    gl.add_token(GitLabToken::new(2, "glpat-dev", &["api"]));
    gl.add_project(GitLabProject::new(8, "team/app").member(2, 30));
    let dev_hook = gl.add_hook(GitLabHook::new(8, "http://127.0.0.1:9/h"));
    let c = connector();
    let url = gl.url();

    // 401: unknown token; also with no credential at all.
    let r = test(&c, integration(&url, json!({})), "glpat-wrong").await;
    assert_eq!(r.failure, Some(FailureCode::Unauthenticated));
    let none = c
        .test_connection(&context(integration(&url, json!({})), None, CHECK_TIMEOUT))
        .await;
    assert_eq!(none.failure, Some(FailureCode::Unauthenticated));
    assert!(
        none.message.contains("no credential configured"),
        "{}",
        none.message
    );
    // 403 insufficient_scope names the scope.
    let r = test(
        &c,
        integration(&url, json!({"project": P})),
        "glpat-user-only",
    )
    .await;
    assert_eq!(
        r.failure,
        Some(FailureCode::PermissionDenied {
            missing_scope: Some("api read_api".into())
        }),
        "{}",
        r.message
    );
    // 403 for a role: a Developer reading a hook.
    let r = test(
        &c,
        integration(&url, json!({"project": 8, "hook_id": dev_hook})),
        "glpat-dev",
    )
    .await;
    assert_eq!(
        r.failure,
        Some(FailureCode::PermissionDenied {
            missing_scope: None
        }),
        "{}",
        r.message
    );
    // 404: missing (or invisible) project, missing hook.
    let r = test(
        &c,
        integration(&url, json!({"project": "nope/nope"})),
        FakeGitLab::API_TOKEN,
    )
    .await;
    assert_eq!(r.failure, Some(FailureCode::NotFound));
    assert!(r.message.contains("404 Project Not Found"), "{}", r.message);
    let r = test(
        &c,
        integration(&url, json!({"project": P, "hook_id": 999})),
        FakeGitLab::API_TOKEN,
    )
    .await;
    assert_eq!(r.failure, Some(FailureCode::NotFound));

    // 429 with Retry-After, and with only RateLimit-Reset (epoch seconds).
    gl.inject(
        Fault::on("/api/v4/user")
            .status(429)
            .body("Retry later")
            .header("Retry-After", "30")
            .times(1),
    );
    let r = test(&c, integration(&url, json!({})), FakeGitLab::API_TOKEN).await;
    let Some(FailureCode::RateLimited { reset_at: Some(at) }) = r.failure else {
        panic!(
            "expected rate limited with a reset time, got {:?}",
            r.failure
        )
    };
    assert!(at > time::OffsetDateTime::now_utc());
    assert_eq!(
        (r.reachability, r.authentication),
        (Probe::Passed, Probe::Passed)
    );
    gl.inject(
        Fault::on("/api/v4/user")
            .status(429)
            .header("RateLimit-Reset", "1795435200")
            .times(1),
    );
    let r = test(&c, integration(&url, json!({})), FakeGitLab::API_TOKEN).await;
    assert_eq!(
        r.failure,
        Some(FailureCode::RateLimited {
            reset_at: Some(time::macros::datetime!(2026-11-23 12:00 UTC))
        })
    );
    // 5xx, and the other 4xx of the table (400, 409, 412, 422).
    for status in [500u16, 503] {
        gl.inject(Fault::on("/api/v4/user").status(status).times(1));
        let r = test(&c, integration(&url, json!({})), FakeGitLab::API_TOKEN).await;
        assert_eq!(r.failure, Some(FailureCode::ServerError { status }));
    }
    for status in [400u16, 409, 412, 422] {
        gl.inject(Fault::on("/api/v4/version").status(status).times(1));
        let r = test(&c, integration(&url, json!({})), FakeGitLab::API_TOKEN).await;
        assert_eq!(r.failure, Some(FailureCode::InvalidResponse), "{status}");
        assert!(r.message.contains(&status.to_string()), "{}", r.message);
    }
}

#[tokio::test]
async fn transport_failures_garbage_oversized_bodies_and_redirects() {
    let gl = FakeGitLab::start_with_defaults().await;
    let c = connector();
    let url = gl.url();
    let tok = FakeGitLab::API_TOKEN;

    let r = test(
        &c,
        integration("https://gitlab.pathops-test.invalid", json!({})),
        tok,
    )
    .await;
    assert_eq!(r.failure, Some(FailureCode::Dns), "{}", r.message);
    assert_eq!(r.reachability, Probe::Failed);

    // Slow on one step only: the deadline still wins.
    gl.inject(Fault::on("/api/v4/version").latency(Duration::from_secs(5)));
    let r = c
        .test_connection(&context(
            integration(&url, json!({})),
            secret(tok),
            Duration::from_millis(400),
        ))
        .await;
    assert_eq!(r.failure, Some(FailureCode::Timeout), "{}", r.message);
    gl.clear_faults();

    gl.inject(
        Fault::on("/api/v4/user")
            .status(200)
            .body("<html>maintenance</html>")
            .times(1),
    );
    let r = test(&c, integration(&url, json!({})), tok).await;
    assert_eq!(r.failure, Some(FailureCode::InvalidResponse));

    let small = GitLabConnector::builder()
        .with_http(HttpPolicy {
            max_body_bytes: 1024,
            ..HttpPolicy::default()
        })
        .build()
        .unwrap();
    gl.inject(
        Fault::on("/api/v4/user")
            .status(200)
            .body(format!("{{\"pad\":\"{}\"}}", "x".repeat(4096)))
            .times(1),
    );
    let r = test(&small, integration(&url, json!({})), tok).await;
    assert_eq!(r.failure, Some(FailureCode::InvalidResponse));
    assert!(
        r.message.contains("larger than 1024 bytes"),
        "{}",
        r.message
    );

    let other = common::elsewhere().await;
    gl.inject(
        Fault::on("/api/v4/user")
            .status(302)
            .header("Location", &format!("{}/api/v4/user", other.url())),
    );
    let r = test(&c, integration(&url, json!({})), tok).await;
    assert_eq!(r.failure, Some(FailureCode::InvalidResponse));
    assert!(
        r.message.contains("redirect to another origin"),
        "{}",
        r.message
    );
    assert!(
        other.requests().is_empty(),
        "the other host got nothing, so no PRIVATE-TOKEN"
    );

    gl.clear_faults();
    gl.inject(Fault::on("/api/v4/user").drop_connection());
    let r = test(&c, integration(&url, json!({})), tok).await;
    assert_eq!(r.failure, Some(FailureCode::Connect), "{}", r.message);
}

#[tokio::test]
async fn offline_mode_reports_offline_without_calling() {
    let gl = FakeGitLab::start_with_defaults().await;
    let c = GitLabConnector::builder()
        .with_http(HttpPolicy {
            offline: true,
            ..HttpPolicy::default()
        })
        .build()
        .unwrap();
    let r = test(&c, integration(&gl.url(), json!({})), FakeGitLab::API_TOKEN).await;
    assert_eq!(r.failure, Some(FailureCode::Offline));
    assert!(gl.requests().is_empty());
}

async fn receiver(status: axum::http::StatusCode, body: &'static str) -> FakeServer {
    let router = axum::Router::new().route(
        "/hooks/gitlab",
        axum::routing::post(move || async move { (status, body) }),
    );
    FakeServer::bind("127.0.0.1:0".parse().unwrap(), router)
        .await
        .unwrap()
}

fn push_test() -> DeliveryRequest {
    DeliveryRequest::WebhookTest {
        trigger: "push_events".into(),
    }
}

async fn trigger(c: &GitLabConnector, ctx: &ConnectorContext) -> CheckResult {
    c.trigger_delivery(ctx, &push_test()).await
}

#[tokio::test]
async fn the_hook_test_trigger_reports_delivered_receiver_failed_and_refusals() {
    let gl = FakeGitLab::start_with_defaults().await;
    let ok = receiver(axum::http::StatusCode::OK, "ok").await;
    let broken = receiver(axum::http::StatusCode::BAD_GATEWAY, "upstream down").await;
    let good =
        gl.add_hook(GitLabHook::new(P, &format!("{}/hooks/gitlab", ok.url())).token("hook-secret"));
    let bad = gl.add_hook(GitLabHook::new(
        P,
        &format!("{}/hooks/gitlab", broken.url()),
    ));
    let c = connector();
    let ctx = |config: serde_json::Value, token: &str| {
        context(integration(&gl.url(), config), secret(token), CHECK_TIMEOUT)
    };

    let r = trigger(
        &c,
        &ctx(
            json!({"project": P, "hook_id": good}),
            FakeGitLab::API_TOKEN,
        ),
    )
    .await;
    assert!(r.is_success(), "{r:?}");
    assert_eq!(r.details[detail::HTTP_STATUS], 201);
    assert_eq!(r.details[detail::PROJECT], P);
    assert_eq!(r.details[detail::HOOK_ID], good);
    assert_eq!(r.details[detail::HOOK_ALERT_STATUS], "executable");
    assert_eq!(
        ok.requests()[0].header("x-gitlab-token"),
        Some("hook-secret")
    );

    let r = trigger(
        &c,
        &ctx(
            json!({"project": P, "hook_id": bad, "webhook_trigger": "push_events"}),
            FakeGitLab::API_TOKEN,
        ),
    )
    .await;
    assert_eq!(r.failure, Some(FailureCode::DeliveryFailed), "{r:?}");
    assert_eq!(r.details[detail::DELIVERY_ERROR], "upstream down");
    assert_eq!(r.details[detail::HTTP_STATUS], 422);
    assert_eq!(
        (r.reachability, r.authentication),
        (Probe::Passed, Probe::Passed)
    );

    let r = trigger(&c, &ctx(json!({"project": P}), FakeGitLab::API_TOKEN)).await;
    assert_eq!(r.failure, Some(FailureCode::InvalidConfig));

    let r = trigger(
        &c,
        &ctx(
            json!({"project": P, "hook_id": good}),
            FakeGitLab::READ_API_TOKEN,
        ),
    )
    .await;
    assert_eq!(
        r.failure,
        Some(FailureCode::PermissionDenied {
            missing_scope: Some("api".into())
        })
    );

    gl.reset_rate_limits();
    let mut last = None;
    for _ in 0..6 {
        last = Some(
            trigger(
                &c,
                &ctx(
                    json!({"project": P, "hook_id": good}),
                    FakeGitLab::API_TOKEN,
                ),
            )
            .await,
        );
    }
    let r = last.unwrap();
    assert!(
        matches!(
            r.failure,
            Some(FailureCode::RateLimited { reset_at: Some(_) })
        ),
        "{:?}",
        r.failure
    );
    assert!(r.details[detail::RATE_LIMIT_RESET].is_string());
    assert!(r.message.contains("retry after"), "{}", r.message);
}

#[tokio::test]
async fn unknown_triggers_empty_projects_and_other_requests_are_refused() {
    let gl = FakeGitLab::start_with_defaults().await;
    gl.add_project(
        GitLabProject::new(77, "platform/empty")
            .member(FakeGitLab::USER_ID, 40)
            .empty(),
    );
    let ok = receiver(axum::http::StatusCode::OK, "ok").await;
    let hook = gl.add_hook(GitLabHook::new(P, &format!("{}/hooks/gitlab", ok.url())));
    let empty_hook = gl.add_hook(GitLabHook::new(77, &format!("{}/hooks/gitlab", ok.url())));
    let c = connector();
    let ctx = |config: serde_json::Value| {
        context(
            integration(&gl.url(), config),
            secret(FakeGitLab::API_TOKEN),
            CHECK_TIMEOUT,
        )
    };
    let config = json!({"project": P, "hook_id": hook});
    let test = |trigger: &str| DeliveryRequest::WebhookTest {
        trigger: trigger.into(),
    };

    // GitLab answers 400 to a trigger it does not know.
    let r = c
        .trigger_delivery(&ctx(config.clone()), &test("bogus_events"))
        .await;
    assert_eq!(r.failure, Some(FailureCode::InvalidConfig), "{r:?}");
    assert_eq!(r.details[detail::HTTP_STATUS], 400);
    // A trigger that is not a route segment never leaves the connector.
    let before = gl.requests().len();
    let r = c
        .trigger_delivery(&ctx(config.clone()), &test("push_events/../x"))
        .await;
    assert_eq!(r.failure, Some(FailureCode::InvalidConfig));
    assert_eq!(gl.requests().len(), before);
    // An empty project cannot be push-tested: a configuration problem, not a delivery failure.
    let r = trigger(&c, &ctx(json!({"project": 77, "hook_id": empty_hook}))).await;
    assert_eq!(r.failure, Some(FailureCode::InvalidConfig), "{r:?}");
    assert!(r.message.contains("at least one commit"), "{}", r.message);
    assert!(r.details.get(detail::DELIVERY_ERROR).is_none());
    // An unknown hook is found missing before the rate-limited trigger is spent.
    let r = trigger(&c, &ctx(json!({"project": P, "hook_id": 9999}))).await;
    assert_eq!(r.failure, Some(FailureCode::NotFound));
    assert!(
        gl.requests_to("/api/v4/projects/42/hooks/9999/test/push_events")
            .is_empty()
    );
    // GitHub's hook ping is not GitLab's to trigger.
    let r = c
        .trigger_delivery(&ctx(config.clone()), &DeliveryRequest::HookPing)
        .await;
    assert_eq!(r.failure, Some(FailureCode::Unsupported));
    assert_eq!(
        c.expected_delivery(&integration(&gl.url(), config), &DeliveryRequest::HookPing)
            .await,
        None
    );
}

#[tokio::test]
async fn a_disabled_hook_is_reported_and_a_passing_test_reports_it_re_enabled() {
    let gl = FakeGitLab::start_with_defaults().await;
    let ok = receiver(axum::http::StatusCode::OK, "ok").await;
    let broken = receiver(axum::http::StatusCode::UNAUTHORIZED, "no").await;
    let until = "2099-01-01T00:00:00Z";
    let failing = gl.add_hook(
        GitLabHook::new(P, &format!("{}/hooks/gitlab", broken.url()))
            .alert_status("temporarily_disabled", Some(until)),
    );
    let healing = gl.add_hook(
        GitLabHook::new(P, &format!("{}/hooks/gitlab", ok.url())).alert_status("disabled", None),
    );
    let c = connector();
    let ctx = |hook: u64| {
        context(
            integration(&gl.url(), json!({"project": P, "hook_id": hook})),
            secret(FakeGitLab::API_TOKEN),
            CHECK_TIMEOUT,
        )
    };
    let r = trigger(&c, &ctx(failing)).await;
    assert_eq!(r.failure, Some(FailureCode::DeliveryFailed));
    assert_eq!(r.details[detail::HOOK_ALERT_STATUS], "temporarily_disabled");
    assert_eq!(r.details[detail::HOOK_DISABLED_UNTIL], until);

    let r = trigger(&c, &ctx(healing)).await;
    assert!(r.is_success(), "{r:?}");
    assert_eq!(r.details[detail::HOOK_ALERT_STATUS], "executable");
    assert_eq!(r.details["hook_alert_status_before"], "disabled");
    assert_eq!(gl.hook(healing).unwrap().alert_status, "executable");
}

#[tokio::test]
async fn the_expected_delivery_names_instance_project_and_event() {
    let gl = FakeGitLab::start_with_defaults().await;
    let c = connector();
    let by_id = integration(&gl.url(), json!({"project": P, "hook_id": 3}));
    let tag = DeliveryRequest::WebhookTest {
        trigger: "tag_push_events".into(),
    };
    assert_eq!(
        c.expected_delivery(&by_id, &tag).await,
        Some((
            DeliveryKind::GitLab,
            Expectation {
                instance: Some(gl.url()),
                project_id: Some(P),
                event: Some("Tag Push Hook".into()),
                ..Expectation::default()
            }
        ))
    );
    // Without a hook there is nothing to test.
    let no_hook = integration(&gl.url(), json!({"project": P}));
    assert_eq!(c.expected_delivery(&no_hook, &push_test()).await, None);
    // An instance reached through another address names its external URL.
    let proxied = integration(
        &gl.url(),
        json!({"project": P, "hook_id": 3, "instance_url": "https://gitlab.example.com/"}),
    );
    let (_, e) = c.expected_delivery(&proxied, &push_test()).await.unwrap();
    assert_eq!(e.instance.as_deref(), Some("https://gitlab.example.com"));
    // A project configured by path is matched by id once the connection test resolved it.
    let by_path = integration(
        &gl.url(),
        json!({"project": FakeGitLab::PROJECT_PATH, "hook_id": 3}),
    );
    let (_, e) = c.expected_delivery(&by_path, &push_test()).await.unwrap();
    assert_eq!(e.project_id, None);
    assert_eq!(e.event.as_deref(), Some("Push Hook"));
    let ctx = context(
        by_path.clone(),
        secret(FakeGitLab::API_TOKEN),
        CHECK_TIMEOUT,
    );
    let _ = c.test_connection(&ctx).await;
    let (_, e) = c.expected_delivery(&by_path, &push_test()).await.unwrap();
    assert_eq!(e.project_id, Some(P));
}

#[tokio::test]
async fn the_connection_test_fills_the_well_known_token_details() {
    let gl = FakeGitLab::start_with_defaults().await;
    gl.add_token(
        GitLabToken::new(FakeGitLab::USER_ID, "glpat-expiring-000000000", &["api"])
            .expires_at("2099-12-31"),
    );
    let r = test(
        &connector(),
        integration(&gl.url(), json!({})),
        "glpat-expiring-000000000",
    )
    .await;
    assert!(r.is_success(), "{r:?}");
    assert_eq!(r.details[detail::TOKEN_SCOPES], json!(["api"]));
    assert_eq!(r.details[detail::TOKEN_EXPIRES_AT], "2099-12-31");
}

#[tokio::test]
async fn the_secret_never_appears_in_results_errors_or_logs() {
    const SENTINEL: &str = "glpat-SENTINEL-9d2c41ee";
    let logs = common::LogCapture::global();
    let gl = FakeGitLab::start_with_defaults().await;
    gl.add_token(GitLabToken::new(
        FakeGitLab::USER_ID,
        SENTINEL,
        &["read_api"],
    ));
    let ok = receiver(axum::http::StatusCode::OK, "ok").await;
    let hook = gl.add_hook(GitLabHook::new(P, &format!("{}/hooks/gitlab", ok.url())));
    let c = connector();
    let mut printed = String::new();
    let config = json!({"project": P, "hook_id": hook});
    for token in [SENTINEL, "glpat-SENTINEL-9d2c41ee-wrong"] {
        let ctx = context(
            integration(&gl.url(), config.clone()),
            secret(token),
            CHECK_TIMEOUT,
        );
        printed += &format!("{:?}\n", c.test_connection(&ctx).await);
        printed += &format!("{:?}\n", c.check_health(&ctx).await);
        printed += &format!("{:?}\n", trigger(&c, &ctx).await);
        printed += &format!("{ctx:?}\n{c:?}\n");
    }
    let other = common::elsewhere().await;
    gl.inject(
        Fault::on("/api/v4/user")
            .status(302)
            .header("Location", &other.url()),
    );
    let ctx = context(
        integration(&gl.url(), config.clone()),
        secret(SENTINEL),
        CHECK_TIMEOUT,
    );
    let r = c.test_connection(&ctx).await;
    printed += &format!("{r:?}\n{}\n", serde_json::to_string(&r).unwrap());
    let slow = context(
        integration("https://gitlab.pathops-test.invalid", config),
        secret(SENTINEL),
        CHECK_TIMEOUT,
    );
    printed += &format!("{:?}\n", c.test_connection(&slow).await);
    assert!(
        logs.contents().contains("sending request"),
        "logs were captured"
    );
    common::assert_no_sentinel(SENTINEL, "results and errors", &printed);
    common::assert_no_sentinel(SENTINEL, "logs", &logs.contents());
}

/// GitLab's limit is five hook tests a minute per project and user: the connector asks the
/// doctor for 12 s between triggers keyed by instance, project and credential, not by hook.
#[tokio::test]
async fn the_trigger_limit_is_per_instance_project_and_credential() {
    let c = connector();
    let with = |project: serde_json::Value, hook: u64, auth: &str| {
        let mut i = integration(
            "https://gitlab.example.com",
            json!({"project": project, "hook_id": hook}),
        );
        i.auth_ref = Some(auth.parse().unwrap());
        i
    };
    let a = c
        .trigger_limit(&with(json!(42), 1, "ref://acme/gitlab/ci"), &push_test())
        .expect("a limit for hook tests");
    assert_eq!(a.spacing, std::time::Duration::from_secs(12));
    let other_hook = c
        .trigger_limit(&with(json!(42), 2, "ref://acme/gitlab/ci"), &push_test())
        .unwrap();
    assert_eq!(
        a.key, other_hook.key,
        "hooks of one project share the limit"
    );
    let other_project = c
        .trigger_limit(&with(json!(43), 1, "ref://acme/gitlab/ci"), &push_test())
        .unwrap();
    assert_ne!(a.key, other_project.key);
    let other_user = c
        .trigger_limit(&with(json!(42), 1, "ref://acme/gitlab/bot"), &push_test())
        .unwrap();
    assert_ne!(a.key, other_user.key);
    assert_eq!(
        c.trigger_limit(
            &with(json!(42), 1, "ref://acme/gitlab/ci"),
            &DeliveryRequest::HookPing
        ),
        None
    );
}

/// A revoked or expired token is told apart from an unknown one by GitLab's `invalid_token`
/// answer: the check says so (`token_expired`), and the finding asks for a new token, not a
/// fixed one.
#[tokio::test]
async fn revoked_and_expired_tokens_are_told_apart_from_unknown_ones() {
    let gl = FakeGitLab::start_with_defaults().await;
    gl.add_token(
        GitLabToken::new(FakeGitLab::USER_ID, "glpat-old", &["api"]).expires_at("2020-01-01"),
    );
    gl.add_token(GitLabToken::new(FakeGitLab::USER_ID, "glpat-gone", &["api"]).revoked());
    let c = connector();
    let i = || integration(&gl.url(), json!({"project": "platform/api"}));
    for (token, says, expired) in [
        ("glpat-old", "Token is expired", true),
        ("glpat-gone", "Token was revoked", true),
        ("glpat-unknown", "401 Unauthorized", false),
    ] {
        let r = test(&c, i(), token).await;
        assert_eq!(r.failure, Some(FailureCode::Unauthenticated), "{token}");
        assert!(r.message.contains(says), "{token}: {}", r.message);
        assert_eq!(
            r.details
                .get(detail::TOKEN_EXPIRED)
                .and_then(|v| v.as_bool()),
            expired.then_some(true),
            "{token}"
        );
        let codes: Vec<String> = c.findings(&i(), &r).into_iter().map(|f| f.code).collect();
        let want = if expired {
            "token_expired"
        } else {
            "unauthenticated"
        };
        assert!(codes.iter().any(|c| c == want), "{token}: {codes:?}");
    }
}
