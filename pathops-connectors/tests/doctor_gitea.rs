//! The doctor's Gitea / Forgejo round trip over loopback HTTP: the fake Gitea's hook test
//! answers 204 and its queue delivers a signed push to the real receiver router, which
//! verifies it and correlates it to the doctor's challenge. Passing (Gitea and Forgejo), a
//! wrong secret, a receiver Gitea's `ALLOWED_HOST_LIST` refuses, an empty repository, an
//! inactive hook, a replay, and that the doctor mutates nothing but the test trigger.
#![cfg(all(feature = "gitea", feature = "receiver"))]

use std::sync::Arc;
use std::time::{Duration, Instant};

use pathops_connectors::gitea::GiteaConnector;
use pathops_core::catalog::{Catalog, Principal};
use pathops_core::doctor::{
    Doctor, DoctorReport, Finding, IntegrationReport, Outcome, Selection, Severity,
};
use pathops_core::health::TimeRange;
use pathops_core::secret::StaticResolver;
use pathops_core::webhook::{ChallengeRegistry, DeliveryKind, WebhookReceiver, WebhookSecrets};
use pathops_core::{
    ConnectorRegistry, Integration, IntegrationStatus, NewIntegration, Probe, Provider,
};
use pathops_store::MemoryStore;
use pathops_testkit::fake::gitea::{FakeGitea, GiteaHook, GiteaHookDelivery};
use secrecy::SecretString;
use serde_json::{Value, json};

const O: &str = FakeGitea::OWNER;
const R: &str = FakeGitea::REPO;
/// The hook's secret behind `ref://acme/gitea/hook`.
const HOOK_SECRET: &str = "SENTINEL-gitea-hook-secret";
/// A secret some hooks were (wrongly) configured with.
const WRONG_SECRET: &str = "SENTINEL-gitea-stale-secret";
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(2);

struct World {
    catalog: Catalog,
    doctor: Doctor,
    challenges: Arc<ChallengeRegistry>,
    admin: Principal,
    gitea: FakeGitea,
    public_url: String,
    _receiver: tokio::task::JoinHandle<()>,
}

/// The world; `standing` is a Gitea secret the receiver also accepts outside any challenge,
/// as one serving real traffic does.
async fn world_with(standing: Option<&str>) -> World {
    let store = Arc::new(MemoryStore::new());
    let mut registry = ConnectorRegistry::new();
    registry
        .register(Arc::new(GiteaConnector::builder().build().unwrap()))
        .unwrap();
    let secrets = StaticResolver::new()
        .with(
            "ref://acme/gitea/token".parse().unwrap(),
            FakeGitea::HOOK_TOKEN,
        )
        .with("ref://acme/gitea/hook".parse().unwrap(), HOOK_SECRET);
    let catalog = Catalog::builder(store)
        .with_connectors(registry)
        .with_secrets(Arc::new(secrets))
        .with_check_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let challenges = Arc::new(ChallengeRegistry::new());
    let mut receiver = WebhookReceiver::new(challenges.clone());
    if let Some(secret) = standing {
        receiver = receiver.with_secrets(
            DeliveryKind::Gitea,
            WebhookSecrets::single(SecretString::from(secret.to_owned())),
        );
    }
    let app = pathops_connectors::receiver::router(receiver);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public_url = format!("http://{}", listener.local_addr().unwrap());
    let receiver = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let doctor = Doctor::builder(catalog.clone(), challenges.clone())
        .with_public_url(public_url.clone())
        .with_delivery_timeout(DELIVERY_TIMEOUT)
        .with_trigger_spacing(Duration::from_millis(50))
        .build();
    World {
        catalog,
        doctor,
        challenges,
        admin: Principal::admin("acme".parse().unwrap(), "alice".parse().unwrap()),
        gitea: FakeGitea::start_with_defaults().await,
        public_url,
        _receiver: receiver,
    }
}

async fn world() -> World {
    world_with(None).await
}

impl World {
    fn receiver(&self) -> String {
        format!("{}/webhooks/gitea", self.public_url)
    }

    /// Hook `id` on the default repository, delivering to the receiver.
    fn hook(&self, id: u64, secret: &str) -> GiteaHook {
        GiteaHook::new(id, &self.receiver()).secret(secret)
    }

    async fn integration(&self, name: &str, hook_id: Option<u64>) -> Integration {
        let mut configuration =
            json!({"owner": O, "repo": R, "webhook_secret_ref": "ref://acme/gitea/hook"});
        if let Some(id) = hook_id {
            configuration["hook_id"] = json!(id);
        }
        let input = NewIntegration::builder(name, Provider::Gitea, self.gitea.url())
            .with_auth_ref("ref://acme/gitea/token")
            .with_configuration(configuration)
            .build()
            .unwrap();
        self.catalog.create(&self.admin, input, true).await.unwrap()
    }

    async fn run(&self) -> DoctorReport {
        self.doctor.run(&self.admin, &Selection::All).await.unwrap()
    }

    /// Every call the doctor made to Gitea read something, except the hook test itself.
    fn assert_only_the_test_mutates(&self) {
        for r in self.gitea.requests() {
            assert!(
                r.method == "GET" || (r.method == "POST" && r.path.ends_with("/tests")),
                "the doctor called a mutating endpoint: {} {}",
                r.method,
                r.path
            );
        }
    }

    fn test_calls(&self) -> usize {
        self.gitea
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/tests"))
            .count()
    }

    async fn delivered(&self, n: usize) -> Vec<GiteaHookDelivery> {
        self.gitea
            .wait_for_deliveries(n, Duration::from_secs(5))
            .await
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
        .unwrap_or_else(|| panic!("no {code} finding among {:?}", codes(r)))
}

fn codes(r: &IntegrationReport) -> Vec<&str> {
    r.findings.iter().map(|f| f.code.as_str()).collect()
}

fn pretty(report: &DoctorReport) -> String {
    serde_json::to_string_pretty(report).unwrap()
}

fn assert_no_secrets(report: &DoctorReport) {
    let text = format!("{}\n{report:?}", pretty(report));
    for secret in [HOOK_SECRET, WRONG_SECRET, FakeGitea::HOOK_TOKEN, "SENTINEL"] {
        assert!(!text.contains(secret), "the report contains a secret");
    }
}

#[tokio::test]
async fn the_gitea_round_trip_passes_with_its_delivery_as_evidence() {
    let w = world().await;
    w.gitea.add_hook(O, R, w.hook(7, HOOK_SECRET));
    // Gitea's queue takes its time: the doctor waits for the delivery, not for the 204.
    w.gitea.set_delivery_delay(Duration::from_millis(300));
    let gitea = w.integration("gitea-prod", Some(7)).await;
    let report = w.run().await;
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
    assert_eq!(r.status, IntegrationStatus::Active);

    let webhook = r.webhook.as_ref().expect("the webhook test ran");
    assert_eq!(webhook.outcome, Outcome::Passed);
    let deliveries = w.delivered(1).await;
    assert_eq!(deliveries.len(), 1);
    let d = &deliveries[0];
    assert_eq!(
        (d.response_status, d.is_succeed),
        (Some(200), true),
        "{d:?}"
    );
    assert!(
        d.response_body.contains("challenge_id"),
        "{}",
        d.response_body
    );
    // The evidence is Gitea's delivery id.
    assert_eq!(webhook.delivery_id.as_deref(), d.header("X-Gitea-Delivery"));
    assert_eq!(webhook.delivery_id.as_deref(), Some(d.uuid.as_str()));
    assert_eq!(w.challenges.pending(), 0, "the challenge was answered");
    let health = w
        .catalog
        .health(&w.admin, gitea.id, TimeRange::all(), 10)
        .await
        .unwrap();
    assert_eq!(health.history.len(), 1);
    assert_no_secrets(&report);
    w.assert_only_the_test_mutates();
    assert_eq!(w.test_calls(), 1);
}

#[tokio::test]
async fn the_forgejo_round_trip_passes_with_forgejos_headers() {
    let w = world().await;
    w.gitea.set_version("11.0.3+gitea-1.22.0");
    w.gitea.add_hook(O, R, w.hook(7, HOOK_SECRET));
    w.integration("forgejo-prod", Some(7)).await;
    let report = w.run().await;
    let r = only(&report);
    assert_eq!(r.outcome, Outcome::Passed, "{}", pretty(&report));
    let d = w.delivered(1).await.remove(0);
    assert!(
        d.header("X-Forgejo-Signature")
            .is_some_and(|s| s.len() == 64)
    );
    assert_eq!(
        r.webhook.as_ref().unwrap().delivery_id.as_deref(),
        d.header("X-Forgejo-Delivery")
    );
    assert!(r.findings.is_empty(), "{:?}", r.findings);
}

#[tokio::test]
async fn a_wrong_secret_is_refused_and_the_findings_say_where_gitea_shows_it() {
    let w = world().await;
    w.gitea.add_hook(O, R, w.hook(7, WRONG_SECRET));
    w.integration("gitea-stale-secret", Some(7)).await;
    let report = w.run().await;
    let r = only(&report);
    assert_eq!(r.outcome, Outcome::Failed, "{}", pretty(&report));
    // A push signed with another secret proves nothing about who sent it, so it fails no
    // challenge: no verified delivery arrived.
    assert_eq!(r.failure_code.as_deref(), Some("delivery_not_received"));
    assert_eq!(
        (r.reachability, r.authentication),
        (Probe::Passed, Probe::Passed)
    );
    let webhook = r.webhook.as_ref().unwrap();
    assert_eq!(
        webhook.failure_code.as_deref(),
        Some("delivery_not_received")
    );
    assert_eq!(webhook.delivery_id, None);
    // The receiver refused it, and Gitea recorded that refusal.
    let d = w.delivered(1).await.remove(0);
    assert_eq!((d.response_status, d.is_succeed), (Some(401), false));
    assert_eq!(d.response_body, r#"{"error":"unauthorized"}"#);

    let fix = finding(r, "delivery_not_received");
    assert_eq!(fix.severity, Severity::Error);
    assert_eq!(
        fix.title,
        "Gitea queued the test push but no verified delivery reached PathOps"
    );
    assert!(
        fix.steps[0].contains(&format!("{}/{O}/{R}/settings/hooks/7", w.gitea.url())),
        "{:?}",
        fix.steps
    );
    assert!(
        fix.steps[1].contains("401") && fix.steps[1].contains("PATCH /api/v1/repos/acme/platform/hooks/7 with {\"config\": {\"secret\": \"<secret>\"}}"),
        "{:?}",
        fix.steps
    );
    assert!(fix.steps.iter().any(|s| s.contains("DELIVER_TIMEOUT")));
    assert_eq!(
        fix.api_call.as_deref(),
        Some("GET /api/v1/repos/acme/platform/hooks/7")
    );
    // The receiver is on loopback: the allow list is named too, as a possible cause.
    assert_eq!(
        finding(r, "webhook_host_not_allowed").severity,
        Severity::Warning
    );
    assert_eq!(
        codes(r),
        ["delivery_not_received", "webhook_host_not_allowed"]
    );
    assert_no_secrets(&report);
    w.assert_only_the_test_mutates();
}

#[tokio::test]
async fn a_push_verified_by_the_receivers_standing_old_secret_is_a_rejected_delivery() {
    // The receiver still accepts the old secret for real traffic; the integration's secret
    // was rotated, the hook was not: the push is authentic, and signed with the wrong secret.
    let w = world_with(Some(WRONG_SECRET)).await;
    w.gitea.add_hook(O, R, w.hook(7, WRONG_SECRET));
    w.integration("gitea-rotated", Some(7)).await;
    let report = w.run().await;
    let r = only(&report);
    assert_eq!(r.outcome, Outcome::Failed, "{}", pretty(&report));
    assert_eq!(r.failure_code.as_deref(), Some("delivery_rejected"));
    let fix = finding(r, "webhook_token_mismatch");
    assert_eq!(
        fix.api_call.as_deref(),
        Some(
            "PATCH /api/v1/repos/acme/platform/hooks/7 with {\"config\": {\"secret\": \"<secret>\"}}"
        )
    );
    assert!(fix.title.contains("X-Gitea-Signature"), "{}", fix.title);
    assert_no_secrets(&report);
}

#[tokio::test]
async fn a_receiver_the_allowed_host_list_refuses_gets_the_app_ini_fix() {
    let w = world().await;
    // Gitea's default: external hosts only, and the receiver is on 127.0.0.1.
    w.gitea.set_allowed_host_list(Some("external"));
    w.gitea.add_hook(O, R, w.hook(7, HOOK_SECRET));
    w.integration("gitea-private-receiver", Some(7)).await;
    let report = w.run().await;
    let r = only(&report);
    assert_eq!(r.outcome, Outcome::Failed, "{}", pretty(&report));
    assert_eq!(r.failure_code.as_deref(), Some("delivery_not_received"));
    let d = w.delivered(1).await.remove(0);
    assert!(!d.is_succeed);
    assert!(
        d.response_body.contains("webhook can only call allowed HTTP servers (check your webhook.ALLOWED_HOST_LIST setting)"),
        "{}",
        d.response_body
    );
    let fix = finding(r, "webhook_host_not_allowed");
    assert_eq!(
        fix.title,
        "The hook delivers to a loopback address, which Gitea refuses unless ALLOWED_HOST_LIST allows it"
    );
    assert!(
        fix.steps[0].contains("`[webhook]` `ALLOWED_HOST_LIST = external,loopback`"),
        "{:?}",
        fix.steps
    );
    assert!(
        fix.doc_link
            .as_deref()
            .unwrap()
            .contains("config-cheat-sheet#webhook")
    );
    let not_received = finding(r, "delivery_not_received");
    assert!(
        not_received
            .steps
            .iter()
            .any(|s| s.contains("webhook can only call allowed HTTP servers")),
        "{:?}",
        not_received.steps
    );

    // The fix, applied on the instance, makes the round trip pass.
    w.gitea.set_allowed_host_list(Some("external,loopback"));
    let report = w.run().await;
    assert_eq!(
        only(&report).outcome,
        Outcome::Passed,
        "{}",
        pretty(&report)
    );
}

#[tokio::test]
async fn an_empty_repository_is_reported_exactly_without_waiting_for_a_delivery() {
    let w = world().await;
    w.gitea.set_repo_empty(O, R, true);
    w.gitea.add_hook(O, R, w.hook(7, HOOK_SECRET));
    w.integration("gitea-empty", Some(7)).await;
    let started = Instant::now();
    let report = w.run().await;
    assert!(
        started.elapsed() < DELIVERY_TIMEOUT,
        "the doctor waited for a delivery that cannot come"
    );
    let r = only(&report);
    assert_eq!(r.outcome, Outcome::Failed, "{}", pretty(&report));
    assert_eq!(r.failure_code.as_deref(), Some("unsupported"));
    let webhook = r.webhook.as_ref().unwrap();
    assert_eq!(webhook.failure_code.as_deref(), Some("unsupported"));
    assert_eq!(
        webhook.message,
        "the repository acme/platform has no commits, so Gitea sends no test delivery (its hook test answers 204 and sends nothing)"
    );
    assert_eq!(r.message, webhook.message);
    // One finding, Gitea's, with the fix; no generic one, no timeout.
    assert_eq!(codes(r), ["webhook_unsupported"]);
    let fix = finding(r, "webhook_unsupported");
    assert_eq!(
        fix.title,
        "acme/platform has no commits, so Gitea sends no test delivery"
    );
    assert!(
        fix.steps[0].starts_with("Push a commit to main"),
        "{:?}",
        fix.steps
    );
    assert!(fix.steps[1].contains("real event"), "{:?}", fix.steps);
    assert_eq!(w.test_calls(), 0);
    assert_eq!(w.challenges.pending(), 0);
    assert!(w.gitea.hook_deliveries().is_empty());

    // A first commit, and the round trip passes.
    w.gitea.set_repo_empty(O, R, false);
    assert_eq!(only(&w.run().await).outcome, Outcome::Passed);
}

#[tokio::test]
async fn an_inactive_hook_is_reported_with_its_activation_fix() {
    let w = world().await;
    w.gitea.add_hook(O, R, w.hook(7, HOOK_SECRET).inactive());
    w.integration("gitea-inactive-hook", Some(7)).await;
    let report = w.run().await;
    let r = only(&report);
    assert_eq!(r.outcome, Outcome::Failed, "{}", pretty(&report));
    assert_eq!(r.failure_code.as_deref(), Some("unhealthy"));
    assert_eq!(codes(r), ["webhook_tool_unhealthy"]);
    let fix = finding(r, "webhook_tool_unhealthy");
    assert_eq!(fix.title, "Hook 7 is inactive");
    assert_eq!(
        fix.api_call.as_deref(),
        Some("PATCH /api/v1/repos/acme/platform/hooks/7 with {\"active\":true}")
    );
    assert!(fix.steps[0].contains("tick Active"), "{:?}", fix.steps);
    assert_eq!(w.test_calls(), 0);
    assert!(
        !w.gitea.hook(O, R, 7).unwrap().active,
        "the doctor never activates a hook itself"
    );
    w.assert_only_the_test_mutates();
}

#[tokio::test]
async fn without_a_hook_only_the_api_direction_is_checked() {
    let w = world().await;
    w.integration("gitea-no-hook", None).await;
    let report = w.run().await;
    let r = only(&report);
    assert_eq!(r.outcome, Outcome::Passed, "{}", pretty(&report));
    assert_eq!(r.webhook.as_ref().unwrap().outcome, Outcome::Skipped);
    assert_eq!(codes(r), ["webhook_not_configured"]);
    assert_eq!(w.test_calls(), 0);
}

#[tokio::test]
async fn a_replayed_gitea_delivery_is_refused_as_a_duplicate() {
    let w = world_with(Some(HOOK_SECRET)).await;
    w.gitea.add_hook(O, R, w.hook(7, HOOK_SECRET));
    w.integration("gitea-prod", Some(7)).await;
    assert_eq!(only(&w.run().await).outcome, Outcome::Passed);
    let captured = w.delivered(1).await.remove(0);
    let resend = |delivery_id: &str, body: String| {
        let mut request = reqwest::Client::new().post(w.receiver());
        for (name, value) in &captured.request_headers {
            let value = if name.ends_with("-Delivery") {
                delivery_id
            } else {
                value.as_str()
            };
            request = request.header(name.as_str(), value);
        }
        request.body(body).send()
    };
    // Byte for byte, under a new delivery id: the signature covers the body, not the id.
    let answer = resend(
        "00000000-0000-4000-8000-000000000000",
        captured.request_body.clone(),
    )
    .await
    .unwrap();
    assert_eq!(answer.status(), 409);
    assert_eq!(
        answer.json::<Value>().await.unwrap(),
        json!({"error": "duplicate"})
    );
    // A changed body keeps the old signature: refused as unverified.
    let tampered = captured
        .request_body
        .replace("Initial commit", "Initial c0mmit");
    let answer = resend(&captured.uuid, tampered).await.unwrap();
    assert_eq!(answer.status(), 401);
}

/// Two pending challenges with the same secret, one per repository: a push answers the
/// challenge of its own repository (payload `repository.id`), even when the other one is
/// older and would be tried first.
#[tokio::test]
async fn a_delivery_answers_only_its_own_repositorys_challenge() {
    use pathops_core::IntegrationConnector as _;
    use pathops_core::{DeliveryRequest, IntegrationId};
    use pathops_testkit::connector_suite::{CHECK_TIMEOUT, context};
    use pathops_testkit::fake::gitea::GiteaRepo;

    let w = world().await;
    w.gitea.add_repo(
        GiteaRepo::new(200, O, "other")
            .collaborator(FakeGitea::HOOK_USER_ID, "admin")
            .hook(GiteaHook::new(8, &w.receiver()).secret(HOOK_SECRET)),
    );
    w.gitea.add_hook(O, R, w.hook(7, HOOK_SECRET));
    let c = GiteaConnector::builder().build().unwrap();
    let token = || Some(SecretString::from(FakeGitea::HOOK_TOKEN.to_owned()));
    let integration = |repo: &str, hook: u64| {
        pathops_testkit::fixtures::IntegrationBuilder::new("acme", repo)
            .provider(Provider::Gitea)
            .base_url(&w.gitea.url())
            .configuration(json!({"owner": O, "repo": repo, "hook_id": hook}))
            .build()
    };
    let (mine, other) = (integration(R, 7), integration("other", 8));
    let push = DeliveryRequest::WebhookTest {
        trigger: "push_events".into(),
    };
    let mut handles = Vec::new();
    // The other repository's challenge first: the older one.
    for i in [&other, &mine] {
        assert!(
            c.test_connection(&context(i.clone(), token(), CHECK_TIMEOUT))
                .await
                .is_success()
        );
        let (kind, expectation) = c.expected_delivery(i, &push).await.unwrap();
        handles.push(w.challenges.register(
            "acme".parse().unwrap(),
            IntegrationId::new(),
            kind,
            expectation,
            WebhookSecrets::single(SecretString::from(HOOK_SECRET.to_owned())),
            time::OffsetDateTime::now_utc() + time::Duration::minutes(1),
        ));
    }
    let r = c
        .trigger_delivery(&context(mine.clone(), token(), CHECK_TIMEOUT), &push)
        .await;
    assert!(r.is_success(), "{}", r.message);
    let mine_handle = handles.pop().unwrap();
    let other_handle = handles.pop().unwrap();
    let correlated = w
        .challenges
        .wait(mine_handle, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(correlated.delivery.project_id, Some(FakeGitea::REPO_ID));
    assert!(
        w.challenges
            .wait(other_handle, Duration::from_millis(200))
            .await
            .is_err(),
        "the other repository's challenge stays unanswered"
    );
}
