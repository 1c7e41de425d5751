//! The Gitea / Forgejo SCM connector against the fake Gitea: conformance, the connection
//! test (version, identity, repository, hook), the hook test trigger and what it checks
//! first (an empty repository, an inactive or misconfigured hook), the expected delivery,
//! every refusal Gitea's router makes (scopes, `reqAdmin`, `DISABLE_WEBHOOKS`, hidden
//! repositories, unknown hooks), proxies' 429 and 5xx, malformed answers, configuration
//! refused by name, Forgejo, and a sentinel-secret scan.

#![cfg(feature = "gitea")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pathops_connectors::gitea::GiteaConnector;
use pathops_core::connector::detail;
use pathops_core::webhook::{DeliveryKind, Expectation};
use pathops_core::{
    CheckResult, Configuration, DeliveryRequest, FailureCode, Finding, Integration,
    IntegrationConnector, Probe, Provider, Severity,
};
use pathops_testkit::connector_suite::{CHECK_TIMEOUT, ConnectorHarness, context};
use pathops_testkit::fake::Fault;
use pathops_testkit::fake::gitea::{FakeGitea, GiteaHook, GiteaRepo, GiteaToken, ScopeMessage};
use pathops_testkit::fixtures::IntegrationBuilder;
use secrecy::SecretString;
use serde_json::{Value, json};

const O: &str = FakeGitea::OWNER;
const R: &str = FakeGitea::REPO;
const HOOK: u64 = 7;
const RECEIVER: &str = "https://pathops.example.com/webhooks/gitea";

fn connector() -> Arc<GiteaConnector> {
    Arc::new(GiteaConnector::builder().build().unwrap())
}

fn integration(url: &str, configuration: Value) -> Integration {
    IntegrationBuilder::new("acme", "Gitea")
        .provider(Provider::Gitea)
        .base_url(url)
        .configuration(configuration)
        .build()
}

fn with_hook() -> Value {
    json!({"owner": O, "repo": R, "hook_id": HOOK, "webhook_secret_ref": "ref://acme/gitea/hook"})
}

/// A fake with hook [`HOOK`] on the default repository, delivering nowhere reachable from
/// these tests (deliveries are the doctor tests' subject).
async fn gitea() -> FakeGitea {
    let g = FakeGitea::start_with_defaults().await;
    g.add_hook(O, R, GiteaHook::new(HOOK, RECEIVER).secret("hook-secret"));
    g
}

fn secret(s: &str) -> Option<SecretString> {
    Some(SecretString::from(s.to_owned()))
}

async fn test(c: &GiteaConnector, i: &Integration, token: &str) -> CheckResult {
    c.test_connection(&context(i.clone(), secret(token), CHECK_TIMEOUT))
        .await
}

async fn health(c: &GiteaConnector, i: &Integration, token: &str) -> CheckResult {
    c.check_health(&context(i.clone(), secret(token), CHECK_TIMEOUT))
        .await
}

fn push() -> DeliveryRequest {
    DeliveryRequest::WebhookTest {
        trigger: "push_events".into(),
    }
}

async fn trigger(c: &GiteaConnector, i: &Integration, token: &str) -> CheckResult {
    c.trigger_delivery(&context(i.clone(), secret(token), CHECK_TIMEOUT), &push())
        .await
}

fn codes(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.code.as_str()).collect()
}

fn paths(g: &FakeGitea) -> Vec<String> {
    g.requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

fn tests_calls(g: &FakeGitea) -> usize {
    g.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/tests"))
        .count()
}

struct Harness {
    gitea: FakeGitea,
    connector: Arc<GiteaConnector>,
}

#[async_trait]
impl ConnectorHarness for Harness {
    fn connector(&self) -> Arc<dyn IntegrationConnector> {
        self.connector.clone()
    }
    fn integration(&self) -> Integration {
        integration(&self.gitea.url(), with_hook())
    }
    fn valid_secret(&self) -> Option<SecretString> {
        secret(FakeGitea::HOOK_TOKEN)
    }
    fn invalid_secret(&self) -> SecretString {
        SecretString::from("not-a-gitea-token".to_owned())
    }
    fn invalid_configuration(&self) -> Option<Configuration> {
        Some(Configuration::new(json!({"owner": O, "repo": R, "hook_id": 0})).unwrap())
    }
    async fn set_latency(&self, latency: Duration) {
        self.gitea.set_latency(latency);
    }
}

pathops_testkit::connector_conformance_tests!(gitea_conformance, async {
    Harness {
        gitea: gitea().await,
        connector: connector(),
    }
});

#[tokio::test]
async fn the_test_reports_version_identity_repository_and_hook() {
    let g = gitea().await;
    let c = connector();
    let i = integration(&g.url(), with_hook());
    let r = test(&c, &i, FakeGitea::HOOK_TOKEN).await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(
        r.message,
        "acme/platform readable, hook 7 active on Gitea 1.24.2 as pathops-hooks"
    );
    assert_eq!(r.details["product"], "Gitea");
    assert_eq!(r.details["user"]["login"], FakeGitea::HOOK_LOGIN);
    assert_eq!(r.details["repo"]["id"], FakeGitea::REPO_ID);
    assert_eq!(r.details["repo"]["permissions"]["admin"], true);
    assert_eq!(r.details["repo"]["empty"], false);
    assert_eq!(
        r.details["hook"],
        json!({
            "id": 7, "type": "gitea", "active": true, "url": RECEIVER, "content_type": "json",
            "events": ["push"], "branch_filter": "", "receiver_host": "name",
        })
    );
    assert_eq!(r.details["warnings"], json!([]));
    assert!(c.findings(&i, &r).is_empty());
    assert_eq!(
        paths(&g),
        [
            "GET /api/v1/version".to_owned(),
            "GET /api/v1/user".to_owned(),
            format!("GET /api/v1/repos/{O}/{R}"),
            format!("GET /api/v1/repos/{O}/{R}/hooks/7"),
        ]
    );
    assert_eq!(
        g.requests()[3].header("authorization"),
        Some(format!("token {}", FakeGitea::HOOK_TOKEN).as_str())
    );

    // Health: the repository alone, with a token that only reads repositories.
    g.clear_requests();
    let h = health(&c, &i, FakeGitea::REPO_TOKEN).await;
    assert!(h.is_success(), "{}", h.message);
    assert_eq!(paths(&g), [format!("GET /api/v1/repos/{O}/{R}")]);

    // Without a hook the hook is not read; a base URL with /api/v1 is not doubled.
    g.clear_requests();
    let plain = integration(&g.api_url(), json!({"owner": O, "repo": R}));
    let r = test(&c, &plain, FakeGitea::TOKEN).await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(
        r.message,
        "acme/platform readable on Gitea 1.24.2 as pathops-bot"
    );
    assert!(r.details.get("hook").is_none());
    assert_eq!(g.requests().len(), 3);
}

#[tokio::test]
async fn the_trigger_queues_gitea_s_push_and_the_delivery_is_matched_on_the_repository_id() {
    let g = gitea().await;
    let c = connector();
    let i = integration(&g.url(), with_hook());
    // Before a connection test the repository's id is unknown: the event alone is expected.
    assert_eq!(
        c.expected_delivery(&i, &push()).await,
        Some((
            DeliveryKind::Gitea,
            Expectation {
                event: Some("push".into()),
                ..Expectation::default()
            }
        ))
    );
    assert!(test(&c, &i, FakeGitea::HOOK_TOKEN).await.is_success());
    assert_eq!(
        c.expected_delivery(&i, &push()).await,
        Some((
            DeliveryKind::Gitea,
            Expectation {
                project_id: Some(FakeGitea::REPO_ID),
                event: Some("push".into()),
                ..Expectation::default()
            }
        ))
    );
    // Only the hook test is offered; no hook, no delivery.
    assert_eq!(
        c.expected_delivery(&i, &DeliveryRequest::HookPing).await,
        None
    );
    let no_hook = integration(&g.url(), json!({"owner": O, "repo": R}));
    assert_eq!(c.expected_delivery(&no_hook, &push()).await, None);

    g.clear_requests();
    let r = trigger(&c, &i, FakeGitea::HOOK_TOKEN).await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(
        r.message,
        "Gitea queued a test push of main through hook 7 (204); it delivers on its own"
    );
    assert_eq!(r.details[detail::HTTP_STATUS], 204);
    assert_eq!(r.details[detail::PROJECT], "acme/platform");
    assert_eq!(r.details[detail::HOOK_ID], 7);
    assert_eq!(r.details["hook_problems"], json!([]));
    assert_eq!(r.details["hook"]["url"], RECEIVER);
    assert_eq!(
        paths(&g),
        [
            "GET /api/v1/version".to_owned(),
            format!("GET /api/v1/repos/{O}/{R}"),
            format!("GET /api/v1/repos/{O}/{R}/hooks/7"),
            format!("POST /api/v1/repos/{O}/{R}/hooks/7/tests"),
        ]
    );
    // Gitea queued one delivery for the hook.
    let deliveries = g.wait_for_deliveries(1, Duration::from_secs(5)).await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].hook_id, HOOK);
    assert!(c.delivery_findings(&i, &r).is_empty());

    // Gitea's hook test is a push: another trigger is refused without a call.
    g.clear_requests();
    let tag = c
        .trigger_delivery(
            &context(i.clone(), secret(FakeGitea::HOOK_TOKEN), CHECK_TIMEOUT),
            &DeliveryRequest::WebhookTest {
                trigger: "tag_push_events".into(),
            },
        )
        .await;
    assert_eq!(
        tag.failure,
        Some(FailureCode::Unsupported),
        "{}",
        tag.message
    );
    assert!(
        tag.message.contains("always sends a push"),
        "{}",
        tag.message
    );
    assert_eq!(
        codes(&c.delivery_findings(&i, &tag)),
        ["webhook_unsupported"]
    );
    assert!(g.requests().is_empty());
}

#[tokio::test]
async fn an_empty_repository_is_reported_as_such_and_never_triggered() {
    let g = gitea().await;
    g.set_repo_empty(O, R, true);
    let c = connector();
    let i = integration(&g.url(), with_hook());
    // The connection works; the test says what the round trip will meet.
    let r = test(&c, &i, FakeGitea::HOOK_TOKEN).await;
    assert!(r.is_success(), "{}", r.message);
    let warnings = r.details["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].as_str().unwrap().contains("has no commits"),
        "{warnings:?}"
    );

    g.clear_requests();
    let r = trigger(&c, &i, FakeGitea::HOOK_TOKEN).await;
    assert_eq!(r.failure, Some(FailureCode::Unsupported), "{}", r.message);
    assert_eq!(r.details["cause"], "repository_empty");
    assert_eq!(
        r.message,
        "the repository acme/platform has no commits, so Gitea sends no test delivery (its hook test answers 204 and sends nothing)"
    );
    assert_eq!(
        tests_calls(&g),
        0,
        "nothing is triggered that cannot arrive"
    );
    let findings = c.delivery_findings(&i, &r);
    assert_eq!(codes(&findings), ["webhook_unsupported"]);
    let f = &findings[0];
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(
        f.title,
        "acme/platform has no commits, so Gitea sends no test delivery"
    );
    assert!(
        f.steps[0].starts_with("Push a commit to main"),
        "{:?}",
        f.steps
    );
    assert!(
        f.steps[1].contains(&format!("{}/{O}/{R}/settings/hooks/7", g.url())),
        "{:?}",
        f.steps
    );
    assert!(
        f.api_call.as_deref().unwrap().contains("git push"),
        "{:?}",
        f.api_call
    );

    // With a commit, the test goes ahead.
    g.set_repo_empty(O, R, false);
    assert!(trigger(&c, &i, FakeGitea::HOOK_TOKEN).await.is_success());
}

#[tokio::test]
async fn an_inactive_hook_fails_before_the_trigger_and_its_fix_works() {
    let g = FakeGitea::start_with_defaults().await;
    g.add_hook(O, R, GiteaHook::new(HOOK, RECEIVER).secret("s").inactive());
    let c = connector();
    let i = integration(&g.url(), with_hook());
    let t = test(&c, &i, FakeGitea::HOOK_TOKEN).await;
    assert!(t.is_success(), "{}", t.message);
    assert!(t.message.contains("hook 7 inactive"), "{}", t.message);
    assert!(
        t.details["warnings"][0]
            .as_str()
            .unwrap()
            .contains("the hook is inactive")
    );

    let r = trigger(&c, &i, FakeGitea::HOOK_TOKEN).await;
    assert_eq!(r.failure, Some(FailureCode::Unhealthy), "{}", r.message);
    assert_eq!(r.details["cause"], "hook_inactive");
    assert_eq!(r.details["hook_problems"], json!(["inactive"]));
    assert!(
        r.message
            .starts_with("Gitea would send no verifiable test delivery through hook 7"),
        "{}",
        r.message
    );
    assert_eq!(tests_calls(&g), 0);
    let findings = c.delivery_findings(&i, &r);
    assert_eq!(codes(&findings), ["webhook_tool_unhealthy"]);
    assert_eq!(findings[0].title, "Hook 7 is inactive");
    let call = findings[0].api_call.clone().unwrap();
    assert_eq!(
        call,
        format!("PATCH /api/v1/repos/{O}/{R}/hooks/7 with {{\"active\":true}}")
    );

    // The suggested call, run against the fake, clears the cause.
    let body: Value = serde_json::from_str(call.split_once(" with ").unwrap().1).unwrap();
    let edited = reqwest::Client::new()
        .patch(format!("{}/api/v1/repos/{O}/{R}/hooks/7", g.url()))
        .header("authorization", format!("token {}", FakeGitea::HOOK_TOKEN))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(edited.status(), 200);
    assert!(trigger(&c, &i, FakeGitea::HOOK_TOKEN).await.is_success());
}

#[tokio::test]
async fn hooks_gitea_would_not_send_a_verifiable_push_through_are_found() {
    let g = FakeGitea::start_with_defaults().await;
    let c = connector();
    for (id, hook, problem) in [
        (
            11,
            GiteaHook::new(11, RECEIVER).content_type("form"),
            "form_content_type",
        ),
        (
            12,
            GiteaHook::new(12, RECEIVER).events(&["issues"]),
            "push_not_subscribed",
        ),
        (
            13,
            GiteaHook::new(13, RECEIVER).branch_filter("release/*"),
            "branch_filtered",
        ),
        (
            14,
            GiteaHook::new(14, RECEIVER).kind("slack"),
            "foreign_type",
        ),
    ] {
        g.add_hook(O, R, hook);
        let i = integration(&g.url(), json!({"owner": O, "repo": R, "hook_id": id}));
        let r = trigger(&c, &i, FakeGitea::HOOK_TOKEN).await;
        assert_eq!(
            r.failure,
            Some(FailureCode::Unhealthy),
            "{problem}: {}",
            r.message
        );
        assert_eq!(r.details["cause"], "hook_misconfigured", "{problem}");
        assert_eq!(r.details["hook_problems"], json!([problem]));
        let findings = c.delivery_findings(&i, &r);
        assert_eq!(codes(&findings), ["webhook_tool_unhealthy"], "{problem}");
        assert_eq!(
            findings[0].title,
            format!("Hook {id} cannot deliver a verifiable test push")
        );
    }
    assert_eq!(tests_calls(&g), 0);
    // A filter that lets the default branch through is no problem.
    g.add_hook(
        O,
        R,
        GiteaHook::new(15, RECEIVER).branch_filter("{main,release/*}"),
    );
    let i = integration(&g.url(), json!({"owner": O, "repo": R, "hook_id": 15}));
    assert!(trigger(&c, &i, FakeGitea::HOOK_TOKEN).await.is_success());
}

#[tokio::test]
async fn refusals_name_the_scope_the_administrator_or_the_switch() {
    let g = gitea().await;
    let c = connector();
    let i = integration(&g.url(), with_hook());
    for style in [ScopeMessage::Listed, ScopeMessage::Detailed] {
        g.set_scope_message(style);
        let r = test(&c, &i, FakeGitea::USER_TOKEN).await;
        assert_eq!(
            r.failure,
            Some(FailureCode::PermissionDenied {
                missing_scope: Some("read:repository".into())
            }),
            "{style:?}: {}",
            r.message
        );
        assert_eq!(r.details["cause"], "scope_missing");
        assert_eq!(codes(&c.findings(&i, &r)), ["missing_scope"]);
    }
    // An administrator's token that only reads: the test is a write.
    g.add_token(GiteaToken::new(
        FakeGitea::HOOK_USER_ID,
        "gitea-hook-reader",
        &["read:user", "read:repository"],
    ));
    let t = test(&c, &i, "gitea-hook-reader").await;
    assert!(
        t.is_success(),
        "reading the hook needs read:repository: {}",
        t.message
    );
    let r = trigger(&c, &i, "gitea-hook-reader").await;
    assert_eq!(
        r.failure,
        Some(FailureCode::PermissionDenied {
            missing_scope: Some("write:repository".into())
        }),
        "{}",
        r.message
    );
    assert_eq!(r.details[detail::HTTP_STATUS], 403);
    let findings = c.delivery_findings(&i, &r);
    assert_eq!(codes(&findings), ["webhook_missing_scope"]);
    assert!(findings[0].title.contains("write:repository"));
    assert!(
        findings[0].steps[0].contains("administer"),
        "{:?}",
        findings[0].steps
    );

    // A read collaborator: reqAdmin refuses the hook.
    let r = test(&c, &i, FakeGitea::TOKEN).await;
    assert_eq!(
        r.failure,
        Some(FailureCode::PermissionDenied {
            missing_scope: None
        }),
        "{}",
        r.message
    );
    assert_eq!(r.details["cause"], "hook_admin_required");
    let findings = c.findings(&i, &r);
    assert_eq!(codes(&findings), ["missing_scope"]);
    assert_eq!(
        findings[0].title,
        "pathops-bot does not administer acme/platform"
    );
    assert!(
        findings[0].steps[0].contains(&format!("{}/{O}/{R}/settings/collaboration", g.url())),
        "{:?}",
        findings[0].steps
    );
    let r = trigger(&c, &i, FakeGitea::TOKEN).await;
    assert_eq!(r.details["cause"], "hook_admin_required");
    assert_eq!(
        codes(&c.delivery_findings(&i, &r)),
        ["webhook_missing_scope"]
    );

    // [security] DISABLE_WEBHOOKS: the instance's state, not the token's.
    g.set_webhooks_disabled(true);
    for r in [
        test(&c, &i, FakeGitea::HOOK_TOKEN).await,
        trigger(&c, &i, FakeGitea::HOOK_TOKEN).await,
    ] {
        assert_eq!(r.failure, Some(FailureCode::Unhealthy), "{}", r.message);
        assert_eq!(r.details["cause"], "webhooks_disabled");
        assert!(r.message.contains("DISABLE_WEBHOOKS"), "{}", r.message);
    }
    let r = test(&c, &i, FakeGitea::HOOK_TOKEN).await;
    let findings = c.findings(&i, &r);
    assert_eq!(codes(&findings), ["tool_unhealthy"]);
    assert!(findings[0].steps[0].contains("`DISABLE_WEBHOOKS = false`"));
    let r = trigger(&c, &i, FakeGitea::HOOK_TOKEN).await;
    assert_eq!(
        codes(&c.delivery_findings(&i, &r)),
        ["webhook_tool_unhealthy"]
    );
    assert_eq!(
        tests_calls(&g),
        1,
        "only the read-only token's test reached Gitea (and was refused there)"
    );
}

#[tokio::test]
async fn unknown_hooks_and_hidden_repositories_are_not_found() {
    let g = gitea().await;
    let c = connector();
    let other = integration(&g.url(), json!({"owner": O, "repo": R, "hook_id": 99}));
    let r = test(&c, &other, FakeGitea::HOOK_TOKEN).await;
    assert_eq!(r.failure, Some(FailureCode::NotFound), "{}", r.message);
    assert_eq!(r.details["cause"], "hook_not_found");
    let findings = c.findings(&other, &r);
    assert_eq!(codes(&findings), ["not_found"]);
    assert_eq!(findings[0].title, "acme/platform has no hook 99");
    assert_eq!(
        findings[0].api_call.as_deref(),
        Some("GET /api/v1/repos/acme/platform/hooks")
    );
    let r = trigger(&c, &other, FakeGitea::HOOK_TOKEN).await;
    assert_eq!(r.details["cause"], "hook_not_found");
    let findings = c.delivery_findings(&other, &r);
    assert_eq!(codes(&findings), ["webhook_not_found"]);
    let create = findings[0].api_call.as_deref().unwrap();
    assert!(
        create.starts_with(
            "POST /api/v1/repos/acme/platform/hooks with {\"type\": \"gitea\", \"active\": true"
        ),
        "{create}"
    );

    // The hook disappears between the read and the test: Gitea's 404 on the POST.
    let i = integration(&g.url(), with_hook());
    g.inject(
        Fault::on(&format!("/api/v1/repos/{O}/{R}/hooks/7/tests"))
            .status(404)
            .body(r#"{"message":"The target couldn't be found."}"#)
            .times(1),
    );
    let r = trigger(&c, &i, FakeGitea::HOOK_TOKEN).await;
    assert_eq!(r.failure, Some(FailureCode::NotFound), "{}", r.message);
    assert_eq!(r.details["cause"], "hook_not_found");

    let missing = integration(
        &g.url(),
        json!({"owner": O, "repo": "missing", "hook_id": 7}),
    );
    for r in [
        test(&c, &missing, FakeGitea::HOOK_TOKEN).await,
        health(&c, &missing, FakeGitea::HOOK_TOKEN).await,
        trigger(&c, &missing, FakeGitea::HOOK_TOKEN).await,
    ] {
        assert_eq!(r.failure, Some(FailureCode::NotFound), "{}", r.message);
        assert_eq!(r.details["cause"], "repo_not_visible");
    }
    g.add_user(pathops_testkit::fake::gitea::GiteaUser::new(3, "outsider"));
    g.add_token(GiteaToken::new(3, "gitea-outsider", &["all"]));
    let hidden = health(&c, &i, "gitea-outsider").await;
    assert_eq!(
        hidden.failure,
        Some(FailureCode::NotFound),
        "a private repository is hidden"
    );
}

#[tokio::test]
async fn status_codes_transport_failures_and_malformed_answers() {
    let g = gitea().await;
    let c = connector();
    let i = integration(&g.url(), with_hook());
    let t = FakeGitea::HOOK_TOKEN;

    let refused = test(&c, &i, "gitea-wrong").await;
    assert_eq!(refused.failure, Some(FailureCode::Unauthenticated));
    assert_eq!(refused.authentication, Probe::Failed);
    assert!(
        refused
            .message
            .contains("access token does not exist [sha: redacted]"),
        "{}",
        refused.message
    );
    assert_eq!(codes(&c.findings(&i, &refused)), ["unauthenticated"]);
    let anonymous = c
        .test_connection(&context(i.clone(), None, CHECK_TIMEOUT))
        .await;
    assert_eq!(
        anonymous.failure,
        Some(FailureCode::Unauthenticated),
        "{}",
        anonymous.message
    );
    assert!(
        anonymous.message.contains("token is required")
            && anonymous.message.contains("no token configured"),
        "{}",
        anonymous.message
    );
    // A token revoked between the test and the trigger.
    assert_eq!(
        trigger(&c, &i, "gitea-wrong").await.failure,
        Some(FailureCode::Unauthenticated)
    );

    let repo_path = format!("/api/v1/repos/{O}/{R}");
    let hook_path = format!("{repo_path}/hooks/7");
    let tests_path = format!("{hook_path}/tests");
    g.inject(
        Fault::on(&repo_path)
            .status(429)
            .header("Retry-After", "20")
            .times(1),
    );
    assert!(matches!(
        health(&c, &i, t).await.failure,
        Some(FailureCode::RateLimited { reset_at: Some(_) })
    ));
    for (path, status) in [(&hook_path, 500u16), (&tests_path, 502), (&repo_path, 503)] {
        g.inject(Fault::on(path).status(status).times(1));
        let r = if path == &hook_path {
            test(&c, &i, t).await
        } else {
            trigger(&c, &i, t).await
        };
        assert_eq!(
            r.failure,
            Some(FailureCode::ServerError { status }),
            "{path}: {}",
            r.message
        );
    }
    g.inject(Fault::on(&tests_path).status(429).times(1));
    assert!(matches!(
        trigger(&c, &i, t).await.failure,
        Some(FailureCode::RateLimited { .. })
    ));
    g.inject(Fault::on(&tests_path).drop_connection().times(1));
    let dropped = trigger(&c, &i, t).await;
    assert!(!dropped.is_success());
    assert_eq!(dropped.reachability, Probe::Failed, "{}", dropped.message);
    for body in [
        "{not json",
        r#"{"id": 7}"#,
        r#"{"id": 7, "active": true, "config": {}}"#,
    ] {
        g.inject(Fault::on(&hook_path).status(200).body(body).times(2));
        assert_eq!(
            test(&c, &i, t).await.failure,
            Some(FailureCode::InvalidResponse),
            "{body}"
        );
        assert_eq!(
            trigger(&c, &i, t).await.failure,
            Some(FailureCode::InvalidResponse),
            "{body}"
        );
    }
    g.inject(
        Fault::on(&repo_path)
            .status(200)
            .body(r#"{"full_name": "acme/platform"}"#)
            .times(1),
    );
    assert_eq!(
        health(&c, &i, t).await.failure,
        Some(FailureCode::InvalidResponse)
    );
    g.inject(Fault::on("/api/v1/version").status(200).body("{}").times(1));
    assert_eq!(
        trigger(&c, &i, t).await.failure,
        Some(FailureCode::InvalidResponse)
    );
    assert_eq!(
        tests_calls(&g),
        3,
        "only the 502, 429 and dropped calls reached /tests"
    );
}

#[tokio::test]
async fn bad_configuration_is_refused_by_name_before_any_call() {
    let g = gitea().await;
    let c = connector();
    let cfg = |v: Value| Configuration::new(v).unwrap();
    assert!(c.validate_config(&cfg(with_hook())).await.is_ok());
    for (configuration, named) in [
        (
            json!({"owner": O, "repo": R, "repository": "acme/platform"}),
            "`repository`",
        ),
        (
            json!({"owner": O, "repo": R, "webhook_trigger": "push_events"}),
            "`webhook_trigger`",
        ),
        (json!({"owner": O, "repo": R, "hook_id": 0}), "hook_id"),
        (
            json!({"owner": O, "repo": R, "hook_id": "seven"}),
            "hook_id",
        ),
        (
            json!({"owner": O, "repo": R, "webhook_secret_ref": "plain-secret"}),
            "webhook_secret_ref",
        ),
        (json!({"repo": R}), "owner"),
        (json!({"owner": O, "repo": "a/b"}), "repo"),
        (
            json!({"owner": O, "repo": R, "proxy_url": "ftp://x"}),
            "proxy_url",
        ),
    ] {
        let err = c
            .validate_config(&cfg(configuration.clone()))
            .await
            .unwrap_err();
        assert!(err.to_string().contains(named), "{named}: {err}");
        let i = integration(&g.url(), configuration);
        for r in [
            test(&c, &i, FakeGitea::HOOK_TOKEN).await,
            health(&c, &i, FakeGitea::HOOK_TOKEN).await,
            trigger(&c, &i, FakeGitea::HOOK_TOKEN).await,
        ] {
            assert_eq!(r.failure, Some(FailureCode::InvalidConfig), "{named}");
            assert!(r.message.contains(named), "{named}: {}", r.message);
        }
        assert_eq!(c.expected_delivery(&i, &push()).await, None, "{named}");
    }
    let no_hook = integration(&g.url(), json!({"owner": O, "repo": R}));
    let r = trigger(&c, &no_hook, FakeGitea::HOOK_TOKEN).await;
    assert_eq!(r.failure, Some(FailureCode::InvalidConfig));
    assert!(r.message.contains("hook_id"), "{}", r.message);
    assert!(
        g.requests().is_empty(),
        "nothing is sent for a bad configuration"
    );
}

#[tokio::test]
async fn forgejo_is_named_in_results_and_findings() {
    let g = gitea().await;
    g.set_version("11.0.3+gitea-1.22.0");
    g.set_repo_empty(O, R, true);
    let c = connector();
    let i = integration(&g.url(), with_hook());
    let t = test(&c, &i, FakeGitea::HOOK_TOKEN).await;
    assert_eq!(t.details["product"], "Forgejo");
    assert!(
        t.message
            .ends_with("on Forgejo 11.0.3+gitea-1.22.0 as pathops-hooks"),
        "{}",
        t.message
    );
    let r = trigger(&c, &i, FakeGitea::HOOK_TOKEN).await;
    assert!(
        r.message.contains("so Forgejo sends no test delivery"),
        "{}",
        r.message
    );
    let findings = c.delivery_findings(&i, &r);
    assert!(
        findings[0]
            .title
            .ends_with("so Forgejo sends no test delivery")
    );
    assert!(
        findings[0]
            .doc_link
            .as_deref()
            .unwrap()
            .starts_with("https://forgejo.org/")
    );
}

#[tokio::test]
async fn a_repository_with_a_public_hook_passes_for_a_repository_admin() {
    // An organization repository the bot owns outright: admin without being a collaborator.
    let g = FakeGitea::start_with_defaults().await;
    g.add_repo(
        GiteaRepo::new(300, FakeGitea::HOOK_LOGIN, "own")
            .hook(GiteaHook::new(21, "https://93.184.216.34/webhooks/gitea")),
    );
    let c = connector();
    let i = integration(
        &g.url(),
        json!({"owner": FakeGitea::HOOK_LOGIN, "repo": "own", "hook_id": 21}),
    );
    let t = test(&c, &i, FakeGitea::HOOK_TOKEN).await;
    assert!(t.is_success(), "{}", t.message);
    assert_eq!(t.details["hook"]["receiver_host"], "public");
    assert!(trigger(&c, &i, FakeGitea::HOOK_TOKEN).await.is_success());
}

#[tokio::test]
async fn no_secret_appears_even_where_gitea_echoes_or_shows_one() {
    const SENTINEL: &str = "gitea-SENTINEL-77aa";
    let logs = common::LogCapture::global();
    let g = FakeGitea::start_with_defaults().await;
    g.add_token(GiteaToken::new(FakeGitea::HOOK_USER_ID, SENTINEL, &["all"]));
    // A hook whose URL and Authorization header carry credentials, as Gitea shows them.
    let mut hook = GiteaHook::new(
        HOOK,
        "https://bot:SENTINEL-pass@pathops.example.com/webhooks/gitea?token=SENTINEL-query",
    )
    .secret("SENTINEL-hook-secret");
    hook.authorization_header = Some("Bearer SENTINEL-auth".into());
    g.add_hook(O, R, hook);
    let c = connector();
    let mut printed = String::new();
    for token in [SENTINEL, "gitea-SENTINEL-77aa-wrong"] {
        for cfg in [
            with_hook(),
            json!({"owner": O, "repo": "missing", "hook_id": 7}),
        ] {
            let i = integration(&g.url(), cfg);
            let ctx = context(i.clone(), secret(token), CHECK_TIMEOUT);
            for r in [
                c.test_connection(&ctx).await,
                c.check_health(&ctx).await,
                c.trigger_delivery(&ctx, &push()).await,
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
        printed.contains("access token does not exist"),
        "the echoing 401 was exercised"
    );
    assert!(
        printed.contains("https://pathops.example.com/webhooks/gitea"),
        "the hook URL is reported"
    );
    common::assert_no_sentinel("SENTINEL", "results, findings and errors", &printed);
    common::assert_no_sentinel("SENTINEL", "logs", &logs.contents());
}
