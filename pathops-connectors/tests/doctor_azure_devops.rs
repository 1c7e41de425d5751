//! The doctor's Azure DevOps round trip over loopback HTTP: the fake's test notification is
//! delivered with the subscription's stored Basic credentials to the real receiver router,
//! which verifies the password and correlates it by the payload's `subscriptionId`. Passing
//! (also during a rotation), a wrong password, an unreachable receiver, a disabled
//! subscription, and that the doctor mutates nothing but the test notification.
#![cfg(all(feature = "azure-devops", feature = "receiver"))]

use std::sync::Arc;
use std::time::Duration;

use pathops_connectors::azure_devops::AzureDevOpsConnector;
use pathops_core::catalog::{Catalog, Principal};
use pathops_core::doctor::{Doctor, DoctorReport, IntegrationReport, Outcome, Selection};
use pathops_core::secret::StaticResolver;
use pathops_core::webhook::{ChallengeRegistry, WebhookReceiver};
use pathops_core::{ConnectorRegistry, NewIntegration, Provider};
use pathops_store::MemoryStore;
use pathops_testkit::fake::azure_devops::{AzureSubscription, FakeAzureDevOps};
use serde_json::{Value, json};

const HOOK_SECRET: &str = "SENTINEL-azdo-hook-password";
const OLD_SECRET: &str = "SENTINEL-azdo-old-password";
const WRONG_SECRET: &str = "SENTINEL-azdo-stale-password";

struct World {
    catalog: Catalog,
    doctor: Doctor,
    challenges: Arc<ChallengeRegistry>,
    admin: Principal,
    az: FakeAzureDevOps,
    public_url: String,
    _receiver: tokio::task::JoinHandle<()>,
}

async fn world() -> World {
    let mut registry = ConnectorRegistry::new();
    registry
        .register(Arc::new(
            AzureDevOpsConnector::builder()
                .with_poll_interval(Duration::from_millis(20))
                .build()
                .unwrap(),
        ))
        .unwrap();
    let secrets = StaticResolver::new()
        .with("ref://acme/azdo/pat".parse().unwrap(), FakeAzureDevOps::PAT)
        .with("ref://acme/azdo/hook".parse().unwrap(), HOOK_SECRET)
        .with("ref://acme/azdo/hook-old".parse().unwrap(), OLD_SECRET);
    let catalog = Catalog::builder(Arc::new(MemoryStore::new()))
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
        .build();
    World {
        catalog,
        doctor,
        challenges,
        admin: Principal::admin("acme".parse().unwrap(), "alice".parse().unwrap()),
        az: FakeAzureDevOps::start_with_defaults().await,
        public_url,
        _receiver: receiver,
    }
}

impl World {
    fn subscription(&self, password: &str) -> AzureSubscription {
        AzureSubscription::new(
            &format!("{}/webhooks/azure-devops", self.public_url),
            "pathops",
            password,
        )
    }

    async fn integration(&self, subscription: &str, secret_refs: Value) {
        let input = NewIntegration::builder(
            "azdo-platform",
            Provider::AzureDevOps,
            self.az.organization_url(),
        )
        .with_auth_ref("ref://acme/azdo/pat")
        .with_configuration(json!({
            "project": FakeAzureDevOps::PROJECT, "repository": FakeAzureDevOps::REPOSITORY,
            "subscription_id": subscription, "webhook_secret_ref": secret_refs,
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
async fn the_test_notification_arrives_verified_with_its_notification_id_as_evidence() {
    let w = world().await;
    let sub = w.az.add_subscription(w.subscription(HOOK_SECRET));
    w.integration(&sub, json!("ref://acme/azdo/hook")).await;
    let report = w.run().await;
    let r = only(&report);
    assert_eq!(r.outcome, Outcome::Passed, "{}", pretty(&report));
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    let webhook = r.webhook.as_ref().unwrap();
    let sent = w.az.notifications();
    assert_eq!(
        webhook.delivery_id.as_deref(),
        Some(sent[0].id.to_string().as_str())
    );
    assert_eq!(w.challenges.pending(), 0);
    for req in w.az.requests() {
        assert!(
            req.method == "GET" || req.path.ends_with("/_apis/hooks/testnotifications"),
            "the doctor called a mutating endpoint: {} {}",
            req.method,
            req.path
        );
    }
}

#[tokio::test]
async fn during_a_rotation_the_previous_password_still_verifies() {
    let w = world().await;
    let sub = w.az.add_subscription(w.subscription(OLD_SECRET));
    w.integration(
        &sub,
        json!(["ref://acme/azdo/hook", "ref://acme/azdo/hook-old"]),
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
async fn a_wrong_password_is_refused_and_reported_from_the_notifications_result() {
    let w = world().await;
    let sub = w.az.add_subscription(w.subscription(WRONG_SECRET));
    w.integration(&sub, json!("ref://acme/azdo/hook")).await;
    let report = w.run().await;
    let r = only(&report);
    assert_eq!(r.outcome, Outcome::Failed, "{}", pretty(&report));
    assert_eq!(r.failure_code.as_deref(), Some("delivery_rejected"));
    assert_eq!(codes(r), ["webhook_token_mismatch"]);
    assert_eq!(w.az.notifications()[0].response_status, Some(401));
}

#[tokio::test]
async fn an_unreachable_receiver_and_a_disabled_subscription_fail_with_their_fixes() {
    let w = world().await;
    let port = pathops_testkit::fake::refused_port();
    let sub = w.az.add_subscription(AzureSubscription::new(
        &format!("http://127.0.0.1:{port}/webhooks/azure-devops"),
        "pathops",
        HOOK_SECRET,
    ));
    w.integration(&sub, json!("ref://acme/azdo/hook")).await;
    let report = w.run().await;
    let r = only(&report);
    assert_eq!(
        r.failure_code.as_deref(),
        Some("delivery_failed"),
        "{}",
        pretty(&report)
    );
    assert_eq!(codes(r), ["receiver_unreachable"]);

    let w = world().await;
    let mut off = w.subscription(HOOK_SECRET);
    off.status = "disabledBySystem".into();
    let sub = w.az.add_subscription(off);
    w.integration(&sub, json!("ref://acme/azdo/hook")).await;
    let report = w.run().await;
    let r = only(&report);
    assert_eq!(
        r.failure_code.as_deref(),
        Some("unhealthy"),
        "{}",
        pretty(&report)
    );
    assert_eq!(codes(r), ["webhook_tool_unhealthy"]);
    assert!(w.az.notifications().is_empty());
}
