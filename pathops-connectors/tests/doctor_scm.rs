//! The doctor over loopback HTTP with the SCM webhook tests: the fake GitLab's synchronous
//! hook test and the fake GitHub's signed ping, delivered to the receiver router and
//! correlated to the doctor's challenges. Every fix the doctor reports for SCM hooks, replay and expiry, the
//! GitLab test-endpoint limit, and that the doctor mutates nothing but the test trigger.
#![cfg(all(feature = "gitlab", feature = "github-app", feature = "receiver"))]

use std::sync::Arc;
use std::time::Duration;

use pathops_connectors::github::GitHubAppConnector;
use pathops_connectors::gitlab::GitLabConnector;
use pathops_core::catalog::{Catalog, Principal};
use pathops_core::doctor::{
    Doctor, DoctorReport, Finding, IntegrationReport, Outcome, SCHEMA, Selection, Severity,
};
use pathops_core::health::{CheckKind, TimeRange};
use pathops_core::secret::StaticResolver;
use pathops_core::store::AuditQuery;
use pathops_core::webhook::{
    ChallengeRegistry, DeliveryKind, Expectation, WebhookReceiver, WebhookSecrets,
};
use pathops_core::{
    AuditAction, Clock, ConnectorRegistry, Integration, IntegrationStatus, NewIntegration, Probe,
    Provider, SystemClock,
};
use pathops_store::MemoryStore;
use pathops_testkit::clock::ManualClock;
use pathops_testkit::fake::github::{FakeGitHub, GitHubRepoHook};
use pathops_testkit::fake::gitlab::{FakeGitLab, GitLabHook, GitLabHookEvent};
use secrecy::SecretString;
use serde_json::{Value, json};

const P: u64 = FakeGitLab::PROJECT_ID;
/// The GitLab hooks' secret token behind `ref://acme/gitlab/hook`.
const GITLAB_HOOK_SECRET: &str = "SENTINEL-gitlab-hook-secret";
/// The GitHub hook's secret behind `ref://acme/github/hook`.
const GITHUB_HOOK_SECRET: &str = "SENTINEL-github-hook-secret";
/// A secret some hooks were (wrongly) configured with.
const WRONG_SECRET: &str = "SENTINEL-stale-secret";

/// How the receiver is set up for a test.
#[derive(Default)]
struct ReceiverSetup {
    /// Accept GitLab deliveries signed with the hook secret outside any challenge, as a
    /// receiver serving real traffic does (so a replay is verified, then refused as a replay).
    standing_gitlab_secret: bool,
    /// The receiver's clock runs this far ahead of the doctor's (challenges expire early).
    clock_ahead: Option<Duration>,
}

struct World {
    catalog: Catalog,
    doctor: Doctor,
    challenges: Arc<ChallengeRegistry>,
    admin: Principal,
    gitlab: FakeGitLab,
    github: FakeGitHub,
    public_url: String,
    _receiver: tokio::task::JoinHandle<()>,
}

async fn world() -> World {
    world_with(ReceiverSetup::default()).await
}

async fn world_with(setup: ReceiverSetup) -> World {
    let store = Arc::new(MemoryStore::new());
    let mut registry = ConnectorRegistry::new();
    registry
        .register(Arc::new(GitLabConnector::builder().build().unwrap()))
        .unwrap();
    registry
        .register(Arc::new(GitHubAppConnector::builder().build().unwrap()))
        .unwrap();
    let secrets = StaticResolver::new()
        .with(
            "ref://acme/gitlab/token".parse().unwrap(),
            FakeGitLab::API_TOKEN,
        )
        .with(
            "ref://acme/gitlab/read-token".parse().unwrap(),
            FakeGitLab::READ_API_TOKEN,
        )
        .with(
            "ref://acme/gitlab/hook".parse().unwrap(),
            GITLAB_HOOK_SECRET,
        )
        .with(
            "ref://acme/github/key".parse().unwrap(),
            FakeGitHub::TEST_APP_PRIVATE_KEY_PEM,
        )
        .with(
            "ref://acme/github/hook".parse().unwrap(),
            GITHUB_HOOK_SECRET,
        );
    let catalog = Catalog::builder(store)
        .with_connectors(registry)
        .with_secrets(Arc::new(secrets))
        .with_check_timeout(Duration::from_secs(5))
        .build()
        .unwrap();

    let challenges = Arc::new(ChallengeRegistry::new());
    let mut receiver = WebhookReceiver::new(challenges.clone());
    if setup.standing_gitlab_secret {
        receiver = receiver.with_secrets(
            DeliveryKind::GitLab,
            WebhookSecrets::single(SecretString::from(GITLAB_HOOK_SECRET.to_owned())),
        );
    }
    if let Some(ahead) = setup.clock_ahead {
        receiver = receiver.with_clock(Arc::new(ManualClock::new(SystemClock.now() + ahead)));
    }
    let app = pathops_connectors::receiver::router(receiver);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public_url = format!("http://{}", listener.local_addr().unwrap());
    let receiver = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    let doctor = Doctor::builder(catalog.clone(), challenges.clone())
        .with_public_url(public_url.clone())
        .with_delivery_timeout(Duration::from_secs(2))
        .with_trigger_spacing(Duration::from_millis(50))
        .build();
    World {
        catalog,
        doctor,
        challenges,
        admin: Principal::admin("acme".parse().unwrap(), "alice".parse().unwrap()),
        gitlab: FakeGitLab::start_with_defaults().await,
        github: FakeGitHub::start_enterprise().await,
        public_url,
        _receiver: receiver,
    }
}

impl World {
    /// A GitLab hook on the default project delivering to `url`, with `token`.
    fn gitlab_hook(&self, url: &str, token: Option<&str>) -> u64 {
        let hook = GitLabHook::new(P, url);
        self.gitlab.add_hook(match token {
            Some(t) => hook.token(t),
            None => hook,
        })
    }

    /// A GitLab hook delivering to the receiver with the right secret.
    fn good_gitlab_hook(&self) -> u64 {
        self.gitlab_hook(
            &format!("{}/webhooks/gitlab", self.public_url),
            Some(GITLAB_HOOK_SECRET),
        )
    }

    async fn gitlab_integration(&self, name: &str, hook_id: u64) -> Integration {
        self.gitlab_integration_with(name, hook_id, "ref://acme/gitlab/token")
            .await
    }

    async fn gitlab_integration_with(
        &self,
        name: &str,
        hook_id: u64,
        auth_ref: &str,
    ) -> Integration {
        let input = NewIntegration::builder(name, Provider::GitLab, self.gitlab.url())
            .with_auth_ref(auth_ref)
            .with_configuration(json!({
                "project": P,
                "hook_id": hook_id,
                "webhook_secret_ref": "ref://acme/gitlab/hook",
            }))
            .build()
            .unwrap();
        self.catalog.create(&self.admin, input, true).await.unwrap()
    }

    async fn github_integration(&self, name: &str, hook_id: u64, secret: &str) -> Integration {
        self.github.add_hook(GitHubRepoHook {
            id: hook_id,
            repository: FakeGitHub::REPOSITORY.into(),
            url: format!("{}/webhooks/github", self.public_url),
            secret: Some(secret.into()),
            events: vec!["push".into()],
        });
        let input = NewIntegration::builder(name, Provider::GitHubApp, self.github.url())
            .with_auth_ref("ref://acme/github/key")
            .with_configuration(json!({
                "app_id": FakeGitHub::APP_ID,
                "installation_id": FakeGitHub::INSTALLATION_ID,
                "repository": FakeGitHub::REPOSITORY,
                "hook_id": hook_id,
                "webhook_secret_ref": "ref://acme/github/hook",
            }))
            .build()
            .unwrap();
        self.catalog.create(&self.admin, input, true).await.unwrap()
    }

    async fn run(&self) -> DoctorReport {
        self.doctor.run(&self.admin, &Selection::All).await.unwrap()
    }

    /// The doctor mutates nothing at GitLab but the test trigger: every PUT, POST, PATCH or
    /// DELETE it sent is a `…/hooks/:hook_id/test/:trigger`.
    fn assert_only_test_triggers_mutate(&self) {
        for r in self.gitlab.requests() {
            if r.method != "GET" {
                assert!(
                    r.method == "POST" && r.path.contains("/hooks/") && r.path.contains("/test/"),
                    "the doctor called a mutating endpoint: {} {}",
                    r.method,
                    r.path
                );
            }
        }
    }

    /// Hook tests GitLab answered with something other than 429: each made a delivery, and
    /// the fake logs one event per delivery.
    fn gitlab_test_calls(&self) -> usize {
        self.gitlab
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path.contains("/test/"))
            .count()
    }
}

fn only(report: &DoctorReport) -> &IntegrationReport {
    assert_eq!(report.integrations.len(), 1, "{}", pretty(report));
    &report.integrations[0]
}

fn finding<'a>(r: &'a IntegrationReport, code: &str) -> &'a Finding {
    r.findings
        .iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| {
            panic!(
                "no {code} finding among {:?}",
                r.findings.iter().map(|f| &f.code).collect::<Vec<_>>()
            )
        })
}

fn pretty(report: &DoctorReport) -> String {
    serde_json::to_string_pretty(report).unwrap()
}

/// The report never contains a secret.
fn assert_no_secrets(report: &DoctorReport) {
    let text = format!("{}\n{report:?}", pretty(report));
    for secret in [
        GITLAB_HOOK_SECRET,
        GITHUB_HOOK_SECRET,
        WRONG_SECRET,
        FakeGitLab::API_TOKEN,
        FakeGitLab::READ_API_TOKEN,
        "PRIVATE KEY",
        "ghs_",
    ] {
        assert!(!text.contains(secret), "the report contains a secret");
    }
}

fn header<'a>(event: &'a GitLabHookEvent, name: &str) -> Option<&'a str> {
    event.request_headers.get(name).and_then(Value::as_str)
}

#[tokio::test]
async fn the_gitlab_round_trip_passes_with_its_delivery_as_evidence() {
    let w = world().await;
    let hook = w.good_gitlab_hook();
    let gitlab = w.gitlab_integration("gitlab-prod", hook).await;
    let report = w.run().await;
    assert_eq!(report.schema, SCHEMA);
    assert_eq!(
        (report.summary.passed, report.summary.failed),
        (1, 0),
        "{}",
        pretty(&report)
    );
    let r = only(&report);
    assert_eq!(r.outcome, Outcome::Passed);
    assert_eq!(
        (r.reachability, r.authentication),
        (Probe::Passed, Probe::Passed)
    );
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    assert!(report.all_passed());

    // The delivery GitLab made is the evidence: its ids are in the report.
    let webhook = r.webhook.as_ref().expect("the webhook test ran");
    assert_eq!(webhook.outcome, Outcome::Passed);
    let events = w.gitlab.hook_events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].response_status, "200");
    assert_eq!(
        webhook.delivery_id.as_deref(),
        header(&events[0], "X-Gitlab-Webhook-UUID")
    );
    assert_eq!(
        webhook.event_id.as_deref(),
        header(&events[0], "Idempotency-Key")
    );
    assert!(webhook.delivery_id.is_some());
    assert_eq!(w.challenges.pending(), 0, "the challenge was answered");

    // A health row of kind doctor and an audit entry; the integration is active.
    let health = w
        .catalog
        .health(&w.admin, gitlab.id, TimeRange::all(), 10)
        .await
        .unwrap();
    assert_eq!(health.history.len(), 1);
    assert_eq!(health.history[0].kind, CheckKind::Doctor);
    assert_eq!(r.status, IntegrationStatus::Active);
    let audit = w
        .catalog
        .audit_query(&w.admin, &AuditQuery::for_integration(gitlab.id))
        .await
        .unwrap();
    assert_eq!(audit.last().unwrap().record.action, AuditAction::Tested);

    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["schema"], "pathops.doctor/v1");
    assert_eq!(json["integrations"][0]["webhook"]["outcome"], "passed");
    assert_no_secrets(&report);
    w.assert_only_test_triggers_mutate();
}

#[tokio::test]
async fn a_wrong_hook_token_fails_with_the_token_fix() {
    let w = world().await;
    let hook = w.gitlab_hook(
        &format!("{}/webhooks/gitlab", w.public_url),
        Some(WRONG_SECRET),
    );
    w.gitlab_integration("gitlab-stale-token", hook).await;
    let report = w.run().await;
    let r = only(&report);
    assert_eq!(r.outcome, Outcome::Failed, "{}", pretty(&report));
    assert_eq!(r.failure_code.as_deref(), Some("delivery_rejected"));
    // PathOps → GitLab works; GitLab → PathOps is what fails.
    assert_eq!(
        (r.reachability, r.authentication),
        (Probe::Passed, Probe::Passed)
    );
    let webhook = r.webhook.as_ref().unwrap();
    assert_eq!(webhook.failure_code.as_deref(), Some("delivery_rejected"));
    assert_eq!(webhook.delivery_id, None);
    let fix = finding(r, "webhook_token_mismatch");
    assert_eq!(fix.severity, Severity::Error);
    assert_eq!(
        fix.api_call.as_deref(),
        Some(
            format!("PUT /api/v4/projects/{P}/hooks/{hook} with {{\"token\": \"<secret>\"}}")
                .as_str()
        )
    );
    assert!(
        fix.doc_link
            .as_deref()
            .unwrap()
            .contains("project_webhooks")
    );
    // The receiver refused the delivery, and GitLab saw that refusal.
    let events = w.gitlab.hook_events();
    assert_eq!(events[0].response_status, "401");
    assert!(!report.all_passed());
    assert_no_secrets(&report);
    w.assert_only_test_triggers_mutate();
}

#[tokio::test]
async fn a_disabled_hook_is_reported_with_its_re_enable_fix() {
    let w = world().await;
    let until = "2099-01-01T00:00:00Z";
    // Disabled after failed deliveries, and still failing (its token is stale).
    let hook = w.gitlab.add_hook(
        GitLabHook::new(P, &format!("{}/webhooks/gitlab", w.public_url))
            .token(WRONG_SECRET)
            .alert_status("temporarily_disabled", Some(until)),
    );
    w.gitlab_integration("gitlab-disabled-hook", hook).await;
    let report = w.run().await;
    let r = only(&report);
    assert_eq!(r.outcome, Outcome::Failed, "{}", pretty(&report));
    let fix = finding(r, "hook_disabled");
    assert_eq!(fix.severity, Severity::Error);
    assert!(fix.title.contains("temporarily disabled"), "{}", fix.title);
    assert!(fix.title.contains(until), "{}", fix.title);
    assert_eq!(
        fix.api_call.as_deref(),
        Some(format!("POST /api/v4/projects/{P}/hooks/{hook}/test/push_events").as_str())
    );
    assert!(fix.steps.iter().any(|s| s.contains("Re-enable")));
    // The cause is reported beside it.
    finding(r, "webhook_token_mismatch");
    assert_eq!(
        w.gitlab.hook(hook).unwrap().alert_status,
        "temporarily_disabled",
        "the doctor never re-enables a hook by itself"
    );
    w.assert_only_test_triggers_mutate();
}

#[tokio::test]
async fn a_disabled_hook_whose_cause_is_gone_passes_and_gitlab_re_enables_it() {
    let w = world().await;
    let hook = w.gitlab.add_hook(
        GitLabHook::new(P, &format!("{}/webhooks/gitlab", w.public_url))
            .token(GITLAB_HOOK_SECRET)
            .alert_status("disabled", None),
    );
    w.gitlab_integration("gitlab-healed", hook).await;
    let report = w.run().await;
    let r = only(&report);
    assert_eq!(r.outcome, Outcome::Passed, "{}", pretty(&report));
    assert!(
        r.findings.iter().all(|f| f.code != "hook_disabled"),
        "{:?}",
        r.findings
    );
    // GitLab re-enables a hook whose test delivery succeeds.
    assert_eq!(w.gitlab.hook(hook).unwrap().alert_status, "executable");
}

#[tokio::test]
async fn an_unreachable_receiver_gives_gitlabs_422_and_the_network_fix() {
    let w = world().await;
    let port = pathops_testkit::fake::refused_port();
    let hook = w.gitlab_hook(
        &format!("http://127.0.0.1:{port}/webhooks/gitlab"),
        Some(GITLAB_HOOK_SECRET),
    );
    w.gitlab_integration("gitlab-wrong-receiver-url", hook)
        .await;
    let report = w.run().await;
    let r = only(&report);
    assert_eq!(r.outcome, Outcome::Failed, "{}", pretty(&report));
    assert_eq!(r.failure_code.as_deref(), Some("delivery_failed"));
    let fix = finding(r, "receiver_unreachable");
    assert_eq!(fix.severity, Severity::Error);
    // GitLab's own account of the failed delivery (the connection error) is the evidence.
    let events = w.gitlab.hook_events();
    assert_eq!(events.len(), 1);
    assert!(!events[0].response_body.is_empty());
    assert!(
        fix.why.contains(&events[0].response_body),
        "{} / {}",
        fix.why,
        events[0].response_body
    );
    assert_eq!(
        fix.api_call.as_deref(),
        Some(
            format!(
                "curl -sS -X POST '{}/webhooks/gitlab'   # from the tool's host",
                w.public_url
            )
            .as_str()
        )
    );
    // A refused connection is not GitLab's URL blocker: its connector adds no outbound
    // request advice (that is for GitLab's own "are not allowed" refusal).
    assert!(
        r.findings
            .iter()
            .all(|f| f.code != "gitlab_local_requests_blocked"),
        "{:?}",
        r.findings
    );
    w.assert_only_test_triggers_mutate();
}

#[tokio::test]
async fn gitlabs_url_blocker_gets_the_outbound_request_setting_as_its_fix() {
    let w = world().await;
    // A self-managed GitLab with its default: no webhooks to localhost or private networks.
    w.gitlab.set_local_requests_blocked(true);
    let hook = w.good_gitlab_hook();
    w.gitlab_integration("gitlab-blocked", hook).await;
    let report = w.run().await;
    let r = only(&report);
    assert_eq!(r.outcome, Outcome::Failed, "{}", pretty(&report));
    assert_eq!(r.failure_code.as_deref(), Some("delivery_failed"));
    let fix = finding(r, "gitlab_local_requests_blocked");
    assert_eq!(fix.severity, Severity::Error);
    assert!(
        fix.steps[0].contains("Outbound requests"),
        "{:?}",
        fix.steps
    );
    // The generic advice stays beside it, with GitLab's own words as its evidence.
    let generic = finding(r, "receiver_unreachable");
    assert!(
        generic
            .why
            .contains("Requests to localhost are not allowed"),
        "{}",
        generic.why
    );
    // Nothing reached the receiver: the refusal is in GitLab's hook log only.
    assert_eq!(w.gitlab.hook_events()[0].response_status, "internal error");
    assert_eq!(w.challenges.pending(), 0);
}

/// Re-sends a delivery the fake GitLab made, byte for byte (its log redacts the token; the
/// test knows it).
async fn resend(w: &World, event: &GitLabHookEvent) -> reqwest::Response {
    let mut request = reqwest::Client::new().post(format!("{}/webhooks/gitlab", w.public_url));
    for (name, value) in &event.request_headers {
        let value = match name.as_str() {
            "X-Gitlab-Token" => GITLAB_HOOK_SECRET,
            _ => value.as_str().unwrap(),
        };
        request = request.header(name.as_str(), value);
    }
    request
        .body(event.request_data.to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_replayed_delivery_is_rejected() {
    let w = world_with(ReceiverSetup {
        standing_gitlab_secret: true,
        ..ReceiverSetup::default()
    })
    .await;
    let hook = w.good_gitlab_hook();
    let gitlab = w.gitlab_integration("gitlab-prod", hook).await;
    let report = w.run().await;
    assert_eq!(
        only(&report).outcome,
        Outcome::Passed,
        "{}",
        pretty(&report)
    );
    let captured = w.gitlab.hook_events().remove(0);

    // The captured delivery, sent again: verified, then refused as a replay.
    let answer = resend(&w, &captured).await;
    assert_eq!(answer.status(), 409);
    assert_eq!(
        answer.json::<Value>().await.unwrap(),
        json!({"error": "duplicate"})
    );

    // Nor can a replay answer a new challenge waiting for the same delivery.
    let handle = w.challenges.register(
        "acme".parse().unwrap(),
        gitlab.id,
        DeliveryKind::GitLab,
        Expectation {
            instance: Some(w.gitlab.url()),
            project_id: Some(P),
            event: Some("Push Hook".into()),
            ..Expectation::default()
        },
        WebhookSecrets::single(SecretString::from(GITLAB_HOOK_SECRET.to_owned())),
        SystemClock.now() + time::Duration::minutes(1),
    );
    assert_eq!(resend(&w, &captured).await.status(), 409);
    assert_eq!(w.challenges.pending(), 1, "the replay answered nothing");
    w.challenges.cancel(handle.id);
}

#[tokio::test]
async fn an_expired_challenge_fails_cleanly() {
    // The receiver's clock is ahead: by the time the delivery arrives, the doctor's challenge
    // has expired. The delivery verifies with the receiver's standing secret, so GitLab sees
    // a 2xx and answers 201, but nothing is correlated.
    let w = world_with(ReceiverSetup {
        standing_gitlab_secret: true,
        clock_ahead: Some(Duration::from_secs(3600)),
    })
    .await;
    let hook = w.good_gitlab_hook();
    w.gitlab_integration("gitlab-late", hook).await;
    let report = w.run().await;
    let r = only(&report);
    assert_eq!(r.outcome, Outcome::Failed, "{}", pretty(&report));
    assert_eq!(r.failure_code.as_deref(), Some("delivery_not_received"));
    assert!(r.message.contains("expired"), "{}", r.message);
    let webhook = r.webhook.as_ref().unwrap();
    assert_eq!(webhook.delivery_id, None);
    let fix = finding(r, "delivery_not_received");
    assert_eq!(
        fix.api_call.as_deref(),
        Some(format!("GET /api/v4/projects/{P}/hooks/{hook}").as_str())
    );
    // The late delivery was recorded, not counted, and nothing is left pending.
    assert_eq!(w.challenges.unmatched().len(), 1);
    assert_eq!(w.challenges.pending(), 0);
    assert_eq!(w.gitlab.hook_events()[0].response_status, "200");
}

#[tokio::test]
async fn the_github_ping_passes_with_its_signature_and_a_bad_signature_fails() {
    let w = world().await;
    w.github_integration("github-good", 5, GITHUB_HOOK_SECRET)
        .await;
    w.github_integration("github-stale-secret", 6, WRONG_SECRET)
        .await;
    let report = w.run().await;
    assert_eq!(
        (report.summary.passed, report.summary.failed),
        (1, 1),
        "{}",
        pretty(&report)
    );
    let by_name = |n: &str| report.integrations.iter().find(|i| i.name == n).unwrap();

    let good = by_name("github-good");
    assert_eq!(good.outcome, Outcome::Passed);
    let webhook = good.webhook.as_ref().unwrap();
    let deliveries = w.github.deliveries();
    let delivered = deliveries.iter().find(|d| d.hook_id == 5).unwrap();
    assert_eq!(delivered.status, Some(200));
    assert_eq!(
        webhook.delivery_id.as_deref(),
        Some(delivered.guid.as_str())
    );

    // A ping signed with another secret is refused, but it proves nothing about who sent
    // it (anyone can post an unsigned ping shaped like the expected one), so it does not
    // fail the challenge: the doctor reports that no verified delivery arrived, and points
    // at the hook's recent deliveries, where GitHub shows our 401.
    let bad = by_name("github-stale-secret");
    assert_eq!(bad.outcome, Outcome::Failed);
    assert_eq!(bad.failure_code.as_deref(), Some("delivery_not_received"));
    let fix = finding(bad, "delivery_not_received");
    assert!(
        fix.steps.iter().any(|s| s.contains("recent deliveries")),
        "{fix:?}"
    );
    // GitHub's connector names the call that shows those deliveries.
    assert_eq!(
        fix.api_call.as_deref(),
        Some(
            format!(
                "GET /repos/{}/hooks/6/deliveries?per_page=5",
                FakeGitHub::REPOSITORY
            )
            .as_str()
        )
    );
    let refused = deliveries.iter().find(|d| d.hook_id == 6).unwrap();
    assert_eq!(refused.status, Some(401));
    assert_no_secrets(&report);
}

#[tokio::test]
async fn triggers_on_one_project_are_spaced_and_a_429_is_rate_limited_with_a_retry_time() {
    let w = world().await;
    let hook = w.good_gitlab_hook();
    w.gitlab_integration("gitlab-prod", hook).await;
    // Two runs back to back on the same project: both pass, and GitLab never answered 429
    // (every test call made a delivery).
    for _ in 0..2 {
        let report = w.run().await;
        assert_eq!(
            only(&report).outcome,
            Outcome::Passed,
            "{}",
            pretty(&report)
        );
    }
    assert_eq!(w.gitlab_test_calls(), 2);
    assert_eq!(w.gitlab.hook_events().len(), 2, "no test call was refused");

    // Three more test calls by the same user on the project (the UI, a script) spend the
    // budget of 5 per minute: the doctor's next call gets GitLab's 429.
    let client = reqwest::Client::new();
    for _ in 0..3 {
        let answer = client
            .post(format!(
                "{}/api/v4/projects/{P}/hooks/{hook}/test/push_events",
                w.gitlab.url()
            ))
            .header("PRIVATE-TOKEN", FakeGitLab::API_TOKEN)
            .send()
            .await
            .unwrap();
        assert_ne!(answer.status(), 429);
    }
    let report = w.run().await;
    let r = only(&report);
    assert_eq!(r.outcome, Outcome::Failed, "{}", pretty(&report));
    assert_eq!(r.failure_code.as_deref(), Some("rate_limited"));
    let fix = finding(r, "webhook_rate_limited");
    assert_eq!(fix.severity, Severity::Warning);
    assert!(fix.why.contains("the limit resets at"), "{}", fix.why);
    assert!(fix.steps.iter().any(|s| s.contains("Wait")));
    assert_eq!(w.challenges.pending(), 0);
}

/// Arrival times of the fake's hook test calls, in order.
fn test_call_times(w: &World) -> Vec<std::time::Instant> {
    w.gitlab
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.contains("/test/"))
        .map(|r| r.received_at)
        .collect()
}

/// Runs a doctor over the world's catalog and receiver that spaces triggers by `spacing`;
/// both integrations pass; returns the time between the fake's two test calls.
async fn gap_between_two_triggers(w: &World, spacing: Duration) -> Duration {
    let report = Doctor::builder(w.catalog.clone(), w.challenges.clone())
        .with_public_url(w.public_url.clone())
        .with_delivery_timeout(Duration::from_secs(2))
        .with_trigger_spacing(spacing)
        .build()
        .run(&w.admin, &Selection::All)
        .await
        .unwrap();
    assert_eq!(report.summary.passed, 2, "{}", pretty(&report));
    let times = test_call_times(w);
    assert_eq!(times.len(), 2);
    times[1].max(times[0]) - times[1].min(times[0])
}

/// GitLab limits test calls per project and user, not per hook: two integrations on one
/// project with one credential are spaced although their hooks differ; on another project
/// the same credential is not held back.
#[tokio::test]
async fn triggers_are_spaced_per_project_and_credential_not_per_hook() {
    const SPACING: Duration = Duration::from_millis(800);
    let w = world().await;
    let (first, second) = (w.good_gitlab_hook(), w.good_gitlab_hook());
    w.gitlab_integration("gitlab-a", first).await;
    w.gitlab_integration("gitlab-b", second).await;
    let gap = gap_between_two_triggers(&w, SPACING).await;
    assert!(
        gap >= SPACING,
        "one project and user: spaced by {SPACING:?}, were {gap:?}"
    );

    let w = world().await;
    const OTHER: u64 = 43;
    w.gitlab.add_project(
        pathops_testkit::fake::gitlab::GitLabProject::new(OTHER, "platform/web")
            .member(FakeGitLab::USER_ID, 40),
    );
    let url = format!("{}/webhooks/gitlab", w.public_url);
    let here = w.good_gitlab_hook();
    let there = w
        .gitlab
        .add_hook(GitLabHook::new(OTHER, &url).token(GITLAB_HOOK_SECRET));
    w.gitlab_integration("gitlab-here", here).await;
    let input = NewIntegration::builder("gitlab-there", Provider::GitLab, w.gitlab.url())
        .with_auth_ref("ref://acme/gitlab/token")
        .with_configuration(json!({
            "project": OTHER,
            "hook_id": there,
            "webhook_secret_ref": "ref://acme/gitlab/hook",
        }))
        .build()
        .unwrap();
    w.catalog.create(&w.admin, input, true).await.unwrap();
    let gap = gap_between_two_triggers(&w, SPACING).await;
    assert!(
        gap < SPACING,
        "two projects: no spacing between them, yet {gap:?} passed"
    );
}

#[tokio::test]
async fn a_token_without_the_api_scope_is_reported_as_a_missing_scope() {
    let w = world().await;
    let hook = w.good_gitlab_hook();
    w.gitlab_integration_with("gitlab-read-only", hook, "ref://acme/gitlab/read-token")
        .await;
    let report = w.run().await;
    let r = only(&report);
    assert_eq!(r.outcome, Outcome::Failed, "{}", pretty(&report));
    assert_eq!(r.failure_code.as_deref(), Some("permission_denied"));
    let fix = finding(r, "webhook_missing_scope");
    assert!(fix.title.contains("api"), "{}", fix.title);
    assert_eq!(w.gitlab_test_calls(), 1);
    assert!(w.gitlab.hook_events().is_empty(), "GitLab refused the test");
    w.assert_only_test_triggers_mutate();
}

#[tokio::test]
async fn an_integration_without_a_hook_passes_with_a_warning_and_nothing_is_triggered() {
    let w = world().await;
    let input = NewIntegration::builder("gitlab-api-only", Provider::GitLab, w.gitlab.url())
        .with_auth_ref("ref://acme/gitlab/token")
        .with_configuration(json!({ "project": P }))
        .build()
        .unwrap();
    w.catalog.create(&w.admin, input, true).await.unwrap();
    let report = w.run().await;
    let r = only(&report);
    assert_eq!(r.outcome, Outcome::Passed, "{}", pretty(&report));
    assert_eq!(r.webhook.as_ref().unwrap().outcome, Outcome::Skipped);
    let warning = finding(r, "webhook_not_configured");
    assert_eq!(warning.severity, pathops_core::doctor::Severity::Warning);
    assert!(
        w.gitlab
            .requests()
            .iter()
            .all(|req| !req.path.contains("/test/")),
        "no test trigger without a hook"
    );
}
