//! Trigger spacing is the connector's to declare (`IntegrationConnector::trigger_limit`): the
//! doctor holds apart two triggers with one key by the declared spacing (or its override), and
//! does not hold back a connector that declares none.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pathops_core::catalog::{Catalog, Principal};
use pathops_core::doctor::{Doctor, Selection};
use pathops_core::webhook::{ChallengeRegistry, DeliveryKind, Expectation};
use pathops_core::{
    Capabilities, Capability, CheckResult, Configuration, ConnectorContext, ConnectorRegistry,
    DeliveryRequest, FailureCode, Integration, IntegrationConnector, NewIntegration, Provider,
    Result, TriggerLimit,
};
use pathops_store::MemoryStore;
use serde_json::json;

/// Records when each trigger arrives; declares `limit` for every integration.
#[derive(Debug)]
struct Recording {
    limit: Option<Duration>,
    triggers: Mutex<Vec<Instant>>,
}

#[async_trait]
impl IntegrationConnector for Recording {
    fn provider(&self) -> Provider {
        Provider::Jenkins
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::new([Capability::TestConnection, Capability::WebhookTest])
    }
    async fn validate_config(&self, _: &Configuration) -> Result<()> {
        Ok(())
    }
    async fn test_connection(&self, _: &ConnectorContext) -> CheckResult {
        CheckResult::passed(Duration::ZERO, "ok")
    }
    async fn check_health(&self, _: &ConnectorContext) -> CheckResult {
        CheckResult::passed(Duration::ZERO, "ok")
    }
    async fn expected_delivery(
        &self,
        _: &Integration,
        _: &DeliveryRequest,
    ) -> Option<(DeliveryKind, Expectation)> {
        Some((DeliveryKind::StandardWebhooks, Expectation::default()))
    }
    fn trigger_limit(&self, _: &Integration, _: &DeliveryRequest) -> Option<TriggerLimit> {
        self.limit.map(|d| TriggerLimit::new("one-user", d))
    }
    async fn trigger_delivery(&self, _: &ConnectorContext, _: &DeliveryRequest) -> CheckResult {
        self.triggers.lock().unwrap().push(Instant::now());
        // Fails at once: the doctor then waits for no delivery, so only spacing takes time.
        CheckResult::failed(FailureCode::DeliveryFailed, Duration::ZERO, "refused")
    }
}

/// The gap between the triggers of two integrations checked by one doctor run.
async fn gap(limit: Option<Duration>, spacing_override: Option<Duration>) -> Duration {
    let connector = Arc::new(Recording {
        limit,
        triggers: Mutex::new(Vec::new()),
    });
    let mut registry = ConnectorRegistry::new();
    registry.register(connector.clone()).unwrap();
    let catalog = Catalog::builder(Arc::new(MemoryStore::new()))
        .with_connectors(registry)
        .with_secrets(Arc::new(
            pathops_core::secret::StaticResolver::new()
                .with("ref://acme/jenkins/hook".parse().unwrap(), "hook-secret"),
        ))
        .build()
        .unwrap();
    let admin = Principal::admin("acme".parse().unwrap(), "alice".parse().unwrap());
    for name in ["ci-a", "ci-b"] {
        let input = NewIntegration::builder(name, Provider::Jenkins, "https://ci.example.com")
            .with_configuration(json!({"webhook_secret_ref": "ref://acme/jenkins/hook"}))
            .build()
            .unwrap();
        catalog.create(&admin, input, true).await.unwrap();
    }
    let mut doctor = Doctor::builder(catalog, Arc::new(ChallengeRegistry::new()))
        .with_delivery_timeout(Duration::from_millis(200));
    if let Some(spacing) = spacing_override {
        doctor = doctor.with_trigger_spacing(spacing);
    }
    doctor.build().run(&admin, &Selection::All).await.unwrap();
    let times = connector.triggers.lock().unwrap().clone();
    assert_eq!(times.len(), 2, "both integrations were triggered");
    times[1].max(times[0]) - times[1].min(times[0])
}

#[tokio::test]
async fn a_declared_limit_spaces_triggers_with_one_key() {
    let spacing = Duration::from_millis(400);
    let gap = gap(Some(spacing), None).await;
    assert!(gap >= spacing, "spaced by {spacing:?}, were {gap:?}");
    assert!(gap < spacing + Duration::from_secs(2), "{gap:?}");
}

#[tokio::test]
async fn the_doctors_override_replaces_the_declared_spacing() {
    let gap = gap(
        Some(Duration::from_secs(30)),
        Some(Duration::from_millis(300)),
    )
    .await;
    assert!(gap >= Duration::from_millis(300), "{gap:?}");
    assert!(
        gap < Duration::from_secs(5),
        "the override replaced 30 s: {gap:?}"
    );
}

#[tokio::test]
async fn a_connector_without_a_limit_is_not_held_back() {
    let gap = gap(None, Some(Duration::from_millis(800))).await;
    assert!(gap < Duration::from_millis(800), "held {gap:?} apart");
}
