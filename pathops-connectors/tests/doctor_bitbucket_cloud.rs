//! The doctor and Bitbucket Cloud over loopback HTTP. Cloud has no webhook test endpoint: the
//! doctor reports that it cannot trigger a test (with the steps to send a real event) unless
//! the receiver has recorded a verified real delivery of the hook, which is then the evidence.
//! A real push from the fake with the right secret is recorded and passes the next run; one
//! with a wrong secret is refused and never becomes a pass; app passwords are warned about
//! before 9 June 2026 and fail from then, by the catalog's clock.
#![cfg(all(feature = "bitbucket", feature = "receiver"))]

use std::sync::Arc;
use std::time::Duration;

use pathops_connectors::bitbucket::BitbucketConnector;
use pathops_core::catalog::{Catalog, Principal};
use pathops_core::doctor::{Doctor, DoctorReport, IntegrationReport, Outcome, Selection};
use pathops_core::secret::StaticResolver;
use pathops_core::webhook::{ChallengeRegistry, DeliveryKind, WebhookReceiver, WebhookSecrets};
use pathops_core::{ConnectorRegistry, NewIntegration, Provider};
use pathops_store::MemoryStore;
use pathops_testkit::clock::ManualClock;
use pathops_testkit::fake::bitbucket_cloud::{CloudHook, FakeBitbucketCloud};
use secrecy::SecretString;
use serde_json::json;
use time::macros::datetime;

const W: &str = FakeBitbucketCloud::WORKSPACE;
const S: &str = FakeBitbucketCloud::SLUG;
const HOOK_SECRET: &str = "SENTINEL-bitbucket-cloud-hook";
const WRONG_SECRET: &str = "SENTINEL-bitbucket-cloud-stale";

struct World {
    catalog: Catalog,
    doctor: Doctor,
    clock: Arc<ManualClock>,
    admin: Principal,
    bb: FakeBitbucketCloud,
    public_url: String,
    _receiver: tokio::task::JoinHandle<()>,
}

async fn world() -> World {
    let clock = Arc::new(ManualClock::new(datetime!(2026-12-06 21:00 UTC)));
    let challenges = Arc::new(ChallengeRegistry::new());
    let mut registry = ConnectorRegistry::new();
    registry
        .register(Arc::new(
            BitbucketConnector::builder()
                .with_clock(clock.clone())
                .with_receiver_record(challenges.clone())
                .build()
                .unwrap(),
        ))
        .unwrap();
    let secrets = StaticResolver::new()
        .with(
            "ref://acme/bitbucket/api-token".parse().unwrap(),
            FakeBitbucketCloud::API_TOKEN,
        )
        .with(
            "ref://acme/bitbucket/app-password".parse().unwrap(),
            FakeBitbucketCloud::APP_PASSWORD,
        )
        .with("ref://acme/bitbucket/hook".parse().unwrap(), HOOK_SECRET);
    let catalog = Catalog::builder(Arc::new(MemoryStore::new()))
        .with_connectors(registry)
        .with_secrets(Arc::new(secrets))
        .with_clock(clock.clone())
        .with_check_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    // A receiver serving real traffic holds the hook's secret, so real deliveries verify
    // and are recorded.
    let receiver = WebhookReceiver::new(challenges.clone()).with_secrets(
        DeliveryKind::Bitbucket,
        WebhookSecrets::single(SecretString::from(HOOK_SECRET.to_owned())),
    );
    let app = pathops_connectors::receiver::router(receiver);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public_url = format!("http://{}", listener.local_addr().unwrap());
    let receiver = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let doctor = Doctor::builder(catalog.clone(), challenges)
        .with_public_url(public_url.clone())
        .with_delivery_timeout(Duration::from_secs(2))
        .build();
    World {
        catalog,
        doctor,
        clock,
        admin: Principal::admin("acme".parse().unwrap(), "alice".parse().unwrap()),
        bb: FakeBitbucketCloud::start_with_defaults().await,
        public_url,
        _receiver: receiver,
    }
}

impl World {
    fn hook(&self, secret: &str) -> String {
        self.bb.add_hook(
            W,
            S,
            CloudHook::new(&format!("{}/webhooks/bitbucket", self.public_url)).secret(secret),
        )
    }

    async fn integration(&self, name: &str, hook: &str, username: &str, token_ref: &str) {
        let input = NewIntegration::builder(name, Provider::Bitbucket, self.bb.url())
            .with_auth_ref(token_ref)
            .with_configuration(json!({
                "edition": "cloud", "workspace": W, "repo_slug": S, "hook_uuid": hook,
                "username": username, "webhook_secret_ref": "ref://acme/bitbucket/hook",
            }))
            .build()
            .unwrap();
        self.catalog.create(&self.admin, input, true).await.unwrap();
    }

    async fn run(&self) -> DoctorReport {
        self.doctor.run(&self.admin, &Selection::All).await.unwrap()
    }
}

fn only(report: &DoctorReport) -> &IntegrationReport {
    assert_eq!(report.integrations.len(), 1);
    &report.integrations[0]
}

fn codes(r: &IntegrationReport) -> Vec<&str> {
    r.findings.iter().map(|f| f.code.as_str()).collect()
}

fn pretty(report: &DoctorReport) -> String {
    let text = serde_json::to_string_pretty(report).unwrap();
    assert!(!text.contains("SENTINEL"), "the report contains a secret");
    text
}

#[tokio::test]
async fn cloud_cannot_trigger_a_test_and_says_how_to_send_a_real_event() {
    let w = world().await;
    let hook = w.hook(HOOK_SECRET);
    w.integration(
        "bitbucket-cloud",
        &hook,
        FakeBitbucketCloud::EMAIL,
        "ref://acme/bitbucket/api-token",
    )
    .await;
    let report = w.run().await;
    let r = only(&report);
    assert_eq!(r.outcome, Outcome::Failed, "{}", pretty(&report));
    assert_eq!(r.failure_code.as_deref(), Some("unsupported"));
    assert_eq!(codes(r), ["webhook_unsupported"]);
    assert!(r.message.contains("cannot trigger a test"), "{}", r.message);
    assert!(
        r.findings[0]
            .steps
            .iter()
            .any(|s| s.contains("Push a commit"))
    );
    // The API direction itself passed.
    assert_eq!(r.authentication, pathops_core::Probe::Passed);
}

#[tokio::test]
async fn a_real_verified_push_is_the_evidence_of_the_next_run() {
    let w = world().await;
    let hook = w.hook(HOOK_SECRET);
    w.integration(
        "bitbucket-cloud",
        &hook,
        FakeBitbucketCloud::EMAIL,
        "ref://acme/bitbucket/api-token",
    )
    .await;
    let pushed = w.bb.push(W, S).await;
    assert_eq!(
        pushed[0].status,
        Some(200),
        "the receiver verified the push"
    );
    let report = w.run().await;
    let r = only(&report);
    assert_eq!(r.outcome, Outcome::Passed, "{}", pretty(&report));
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    let webhook = r.webhook.as_ref().unwrap();
    assert_eq!(webhook.outcome, Outcome::Passed);
    assert_eq!(
        webhook.delivery_id.as_deref(),
        Some(pushed[0].request_uuid.as_str()),
        "the evidence is Bitbucket's X-Request-UUID of the real push"
    );
}

#[tokio::test]
async fn a_push_with_a_wrong_secret_is_refused_and_never_becomes_a_pass() {
    let w = world().await;
    let hook = w.hook(WRONG_SECRET);
    w.integration(
        "bitbucket-cloud-stale",
        &hook,
        FakeBitbucketCloud::EMAIL,
        "ref://acme/bitbucket/api-token",
    )
    .await;
    let pushed = w.bb.push(W, S).await;
    assert_eq!(
        pushed[0].status,
        Some(401),
        "the receiver refused the signature"
    );
    let report = w.run().await;
    let r = only(&report);
    assert_eq!(r.outcome, Outcome::Failed, "{}", pretty(&report));
    assert_eq!(codes(r), ["webhook_unsupported"]);
}

#[tokio::test]
async fn an_app_password_is_warned_about_before_the_date_and_fails_after_it() {
    let w = world().await;
    let hook = w.hook(HOOK_SECRET);
    w.integration(
        "bitbucket-cloud-app-password",
        &hook,
        FakeBitbucketCloud::USER,
        "ref://acme/bitbucket/app-password",
    )
    .await;
    // Eight days before: the credential works, the doctor warns (Bitbucket's own finding and
    // the generic expiry warning, both from the catalog's clock).
    w.clock.set(datetime!(2026-06-01 12:00 UTC));
    w.bb.set_app_passwords_retired(false);
    w.bb.push(W, S).await;
    let report = w.run().await;
    let r = only(&report);
    assert_eq!(r.outcome, Outcome::Passed, "{}", pretty(&report));
    assert_eq!(codes(r), ["app_password_deprecated", "token_expiring"]);
    // Today: failed, with the migration to an API token.
    w.clock.set(datetime!(2026-12-06 21:00 UTC));
    let report = w.run().await;
    let r = only(&report);
    assert_eq!(r.outcome, Outcome::Failed, "{}", pretty(&report));
    assert_eq!(r.failure_code.as_deref(), Some("unauthenticated"));
    assert_eq!(codes(r), ["token_expired"]);
}

#[tokio::test]
async fn a_receiver_bitbucket_cannot_reach_leaves_no_evidence_and_no_pass() {
    let w = world().await;
    let port = pathops_testkit::fake::refused_port();
    let hook = w.bb.add_hook(
        W,
        S,
        CloudHook::new(&format!("http://127.0.0.1:{port}/webhooks/bitbucket")).secret(HOOK_SECRET),
    );
    w.integration(
        "bitbucket-cloud-unreachable",
        &hook,
        FakeBitbucketCloud::EMAIL,
        "ref://acme/bitbucket/api-token",
    )
    .await;
    let pushed = w.bb.push(W, S).await;
    assert_eq!(pushed[0].status, None, "the push could not connect");
    let report = w.run().await;
    let r = only(&report);
    assert_eq!(r.outcome, Outcome::Failed, "{}", pretty(&report));
    assert_eq!(codes(r), ["webhook_unsupported"]);
    let steps = r.findings[0].steps.join("\n");
    assert!(steps.contains("outgoing IP ranges"), "{steps}");
}
