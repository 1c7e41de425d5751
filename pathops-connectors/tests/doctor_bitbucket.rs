//! The doctor's Bitbucket Data Center round trip over loopback HTTP: the fake's webhook test
//! endpoint sends a signed `diagnostics:ping` to the real receiver router inside the call,
//! which verifies it and correlates it to the doctor's challenge. Passing (also during a
//! secret rotation), a wrong secret, an unreachable receiver, an inactive hook, a token
//! without `REPO_ADMIN`, a second test inside the replay window, and that the doctor mutates
//! nothing but the test trigger.
#![cfg(all(feature = "bitbucket", feature = "receiver"))]

use std::sync::Arc;
use std::time::Duration;

use pathops_connectors::bitbucket::BitbucketConnector;
use pathops_core::catalog::{Catalog, Principal};
use pathops_core::doctor::{Doctor, DoctorReport, IntegrationReport, Outcome, Selection};
use pathops_core::secret::StaticResolver;
use pathops_core::webhook::{ChallengeRegistry, WebhookReceiver};
use pathops_core::{ConnectorRegistry, Integration, IntegrationStatus, NewIntegration, Provider};
use pathops_store::MemoryStore;
use pathops_testkit::fake::bitbucket_dc::{BitbucketHook, FakeBitbucketDc};
use serde_json::{Value, json};

const P: &str = FakeBitbucketDc::PROJECT;
const S: &str = FakeBitbucketDc::SLUG;
/// The hook's secret behind `ref://acme/bitbucket/hook`.
const HOOK_SECRET: &str = "SENTINEL-bitbucket-hook-secret";
/// The previous secret, behind `ref://acme/bitbucket/hook-old`.
const OLD_SECRET: &str = "SENTINEL-bitbucket-old-secret";
/// A secret some hooks were (wrongly) configured with.
const WRONG_SECRET: &str = "SENTINEL-bitbucket-stale-secret";

struct World {
    catalog: Catalog,
    doctor: Doctor,
    challenges: Arc<ChallengeRegistry>,
    admin: Principal,
    bitbucket: FakeBitbucketDc,
    public_url: String,
    _receiver: tokio::task::JoinHandle<()>,
}

async fn world() -> World {
    let store = Arc::new(MemoryStore::new());
    let mut registry = ConnectorRegistry::new();
    registry
        .register(Arc::new(BitbucketConnector::builder().build().unwrap()))
        .unwrap();
    let secrets = StaticResolver::new()
        .with(
            "ref://acme/bitbucket/token".parse().unwrap(),
            FakeBitbucketDc::ADMIN_TOKEN,
        )
        .with(
            "ref://acme/bitbucket/read-token".parse().unwrap(),
            FakeBitbucketDc::READ_TOKEN,
        )
        .with("ref://acme/bitbucket/hook".parse().unwrap(), HOOK_SECRET)
        .with("ref://acme/bitbucket/hook-old".parse().unwrap(), OLD_SECRET);
    let catalog = Catalog::builder(store)
        .with_connectors(registry)
        .with_secrets(Arc::new(secrets))
        .with_check_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let challenges = Arc::new(ChallengeRegistry::new());
    let app = pathops_connectors::receiver::router(WebhookReceiver::new(challenges.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public_url = format!("http://{}", listener.local_addr().unwrap());
    let receiver = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
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
        bitbucket: FakeBitbucketDc::start_with_defaults().await,
        public_url,
        _receiver: receiver,
    }
}

impl World {
    fn receiver(&self) -> String {
        format!("{}/webhooks/bitbucket", self.public_url)
    }

    async fn integration(&self, name: &str, token_ref: &str, secret_refs: Value) -> Integration {
        let input = NewIntegration::builder(name, Provider::Bitbucket, self.bitbucket.url())
            .with_auth_ref(token_ref)
            .with_configuration(json!({
                "project_key": P, "repo_slug": S, "hook_id": 7,
                "webhook_secret_ref": secret_refs,
            }))
            .build()
            .unwrap();
        self.catalog.create(&self.admin, input, true).await.unwrap()
    }

    async fn standard(&self, name: &str) -> Integration {
        self.integration(
            name,
            "ref://acme/bitbucket/token",
            json!("ref://acme/bitbucket/hook"),
        )
        .await
    }

    async fn run(&self) -> DoctorReport {
        self.doctor.run(&self.admin, &Selection::All).await.unwrap()
    }

    fn assert_only_the_test_mutates(&self) {
        for r in self.bitbucket.requests() {
            assert!(
                r.method == "GET" || (r.method == "POST" && r.path.ends_with("/webhooks/test")),
                "the doctor called a mutating endpoint: {} {}",
                r.method,
                r.path
            );
        }
    }
}

fn only(report: &DoctorReport) -> &IntegrationReport {
    assert_eq!(report.integrations.len(), 1, "{}", pretty(report));
    &report.integrations[0]
}

fn codes(r: &IntegrationReport) -> Vec<&str> {
    r.findings.iter().map(|f| f.code.as_str()).collect()
}

fn pretty(report: &DoctorReport) -> String {
    serde_json::to_string_pretty(report).unwrap()
}

fn assert_no_secrets(report: &DoctorReport) {
    let text = format!("{}\n{report:?}", pretty(report));
    for secret in [
        HOOK_SECRET,
        WRONG_SECRET,
        FakeBitbucketDc::ADMIN_TOKEN,
        "SENTINEL",
    ] {
        assert!(!text.contains(secret), "the report contains a secret");
    }
}

#[tokio::test]
async fn the_bitbucket_round_trip_passes_with_the_pings_request_id_as_evidence() {
    let w = world().await;
    w.bitbucket.add_hook(
        P,
        S,
        BitbucketHook::new(7, &w.receiver()).secret(HOOK_SECRET),
    );
    let i = w.standard("bitbucket-prod").await;
    let report = w.run().await;
    let r = only(&report);
    assert_eq!(r.outcome, Outcome::Passed, "{}", pretty(&report));
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    assert_eq!(r.status, IntegrationStatus::Active);
    let webhook = r.webhook.as_ref().expect("the webhook test ran");
    assert_eq!(webhook.outcome, Outcome::Passed);
    // The evidence is the ping's X-Request-Id, a UUID Bitbucket made.
    let id = webhook.delivery_id.as_deref().expect("a delivery id");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    let sent = w.bitbucket.invocations();
    assert_eq!(
        (
            sent.len(),
            sent[0].outcome.as_str(),
            sent[0].status,
            sent[0].signed
        ),
        (1, "SUCCESS", Some(200), true)
    );
    assert_eq!(w.challenges.pending(), 0, "the challenge was answered");
    assert_eq!(i.provider, Provider::Bitbucket);
    assert_no_secrets(&report);
    w.assert_only_the_test_mutates();
}

#[tokio::test]
async fn during_a_rotation_the_previous_secret_still_verifies() {
    let w = world().await;
    w.bitbucket.add_hook(
        P,
        S,
        BitbucketHook::new(7, &w.receiver()).secret(OLD_SECRET),
    );
    w.integration(
        "bitbucket-rotating",
        "ref://acme/bitbucket/token",
        json!(["ref://acme/bitbucket/hook", "ref://acme/bitbucket/hook-old"]),
    )
    .await;
    let report = w.run().await;
    assert_eq!(
        only(&report).outcome,
        Outcome::Passed,
        "{}",
        pretty(&report)
    );
}

#[tokio::test]
async fn a_wrong_secret_is_refused_by_the_receiver_and_reported_from_bitbuckets_answer() {
    let w = world().await;
    w.bitbucket.add_hook(
        P,
        S,
        BitbucketHook::new(7, &w.receiver()).secret(WRONG_SECRET),
    );
    w.standard("bitbucket-stale-secret").await;
    let report = w.run().await;
    let r = only(&report);
    assert_eq!(r.outcome, Outcome::Failed, "{}", pretty(&report));
    assert_eq!(r.failure_code.as_deref(), Some("delivery_rejected"));
    assert_eq!(codes(r), ["webhook_token_mismatch"]);
    let f = &r.findings[0];
    assert!(
        f.steps[0].contains("/plugins/servlet/webhooks/projects/ACME/repos/platform"),
        "{:?}",
        f.steps
    );
    // Bitbucket delivered inside the call and saw the receiver's 401.
    assert_eq!(w.bitbucket.invocations()[0].status, Some(401));
    assert_eq!(w.challenges.pending(), 0, "the challenge was cancelled");
    assert_no_secrets(&report);
}

#[tokio::test]
async fn a_hook_without_a_secret_sends_an_unsigned_ping_which_never_passes() {
    let w = world().await;
    w.bitbucket
        .add_hook(P, S, BitbucketHook::new(7, &w.receiver()));
    w.standard("bitbucket-unsigned").await;
    let report = w.run().await;
    let r = only(&report);
    assert_eq!(r.outcome, Outcome::Failed, "{}", pretty(&report));
    assert_eq!(r.failure_code.as_deref(), Some("delivery_rejected"));
    assert!(!w.bitbucket.invocations()[0].signed);
}

#[tokio::test]
async fn an_unreachable_receiver_gets_the_allowlist_and_proxy_fixes() {
    let w = world().await;
    let port = pathops_testkit::fake::refused_port();
    w.bitbucket.add_hook(
        P,
        S,
        BitbucketHook::new(7, &format!("http://127.0.0.1:{port}/webhooks/bitbucket"))
            .secret(HOOK_SECRET),
    );
    w.standard("bitbucket-unreachable").await;
    let report = w.run().await;
    let r = only(&report);
    assert_eq!(r.outcome, Outcome::Failed, "{}", pretty(&report));
    assert_eq!(r.failure_code.as_deref(), Some("delivery_failed"));
    assert_eq!(codes(r), ["receiver_unreachable"]);
    let steps = r.findings[0].steps.join("\n");
    assert!(steps.contains("IP allowlist"), "{steps}");
    assert!(steps.contains("proxyHost"), "{steps}");
    assert_eq!(w.bitbucket.invocations()[0].outcome, "ERROR");
}

#[tokio::test]
async fn an_inactive_hook_and_a_read_only_token_are_reported_without_a_ping() {
    let w = world().await;
    w.bitbucket.add_hook(
        P,
        S,
        BitbucketHook::new(7, &w.receiver())
            .secret(HOOK_SECRET)
            .inactive(),
    );
    w.standard("bitbucket-inactive").await;
    let report = w.run().await;
    let r = only(&report);
    assert_eq!(r.outcome, Outcome::Failed, "{}", pretty(&report));
    assert_eq!(r.failure_code.as_deref(), Some("unhealthy"));
    assert_eq!(codes(r), ["webhook_tool_unhealthy"]);
    assert!(
        w.bitbucket.invocations().is_empty(),
        "no ping for an inactive hook"
    );

    // A token created with REPO_READ: the connection test already fails on the hook.
    let w = world().await;
    w.bitbucket.add_hook(
        P,
        S,
        BitbucketHook::new(7, &w.receiver()).secret(HOOK_SECRET),
    );
    w.integration(
        "bitbucket-read-only",
        "ref://acme/bitbucket/read-token",
        json!("ref://acme/bitbucket/hook"),
    )
    .await;
    let report = w.run().await;
    let r = only(&report);
    assert_eq!(
        r.failure_code.as_deref(),
        Some("permission_denied"),
        "{}",
        pretty(&report)
    );
    assert_eq!(codes(r), ["missing_scope"]);
    assert!(
        r.findings[0].title.contains("REPO_ADMIN"),
        "{}",
        r.findings[0].title
    );
    assert!(w.bitbucket.invocations().is_empty());
}

#[tokio::test]
async fn a_second_test_inside_the_replay_window_is_refused_as_a_duplicate() {
    let w = world().await;
    w.bitbucket.add_hook(
        P,
        S,
        BitbucketHook::new(7, &w.receiver()).secret(HOOK_SECRET),
    );
    w.standard("bitbucket-twice").await;
    assert_eq!(only(&w.run().await).outcome, Outcome::Passed);
    // The same body, the same signature: the receiver's replay guard refuses it (409), and
    // the doctor says why instead of passing on a delivery it did not verify.
    let report = w.run().await;
    let r = only(&report);
    assert_eq!(r.outcome, Outcome::Failed, "{}", pretty(&report));
    assert_eq!(r.failure_code.as_deref(), Some("delivery_not_received"));
    assert_eq!(codes(r), ["delivery_not_received"]);
    assert!(
        r.findings[0].title.contains("duplicate"),
        "{}",
        r.findings[0].title
    );
    assert_eq!(w.bitbucket.invocations()[1].status, Some(409));
}
