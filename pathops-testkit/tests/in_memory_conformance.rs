//! The in-memory connector passes the connector conformance suite, and its scripting works.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pathops_core::{
    Capabilities, Capability, Configuration, FailureCode, Integration, IntegrationConnector,
};
use pathops_testkit::connector_suite::{self, ConnectorHarness, context};
use pathops_testkit::fixtures::IntegrationBuilder;
use pathops_testkit::in_memory::{InMemoryConnector, Operation, Outcome};
use secrecy::SecretString;

struct Harness {
    connector: Arc<InMemoryConnector>,
    integration: Integration,
}

impl Harness {
    fn new(connector: InMemoryConnector) -> Self {
        Self {
            connector: Arc::new(connector),
            integration: IntegrationBuilder::new("acme", "In memory")
                .configuration(serde_json::json!({"project": "a/b"}))
                .build(),
        }
    }
}

#[async_trait]
impl ConnectorHarness for Harness {
    fn connector(&self) -> Arc<dyn IntegrationConnector> {
        self.connector.clone()
    }
    fn integration(&self) -> Integration {
        self.integration.clone()
    }
    fn valid_secret(&self) -> Option<SecretString> {
        Some("right".to_owned().into())
    }
    fn invalid_secret(&self) -> SecretString {
        "wrong".to_owned().into()
    }
    fn invalid_configuration(&self) -> Option<Configuration> {
        Some(Configuration::empty())
    }
    async fn unreachable_integration(&self) -> Integration {
        // No network here: unreachability is scripted for a fresh integration.
        let other = IntegrationBuilder::new("acme", "Unreachable").build();
        self.connector.script(
            other.id,
            [
                Outcome::fail(FailureCode::Connect),
                Outcome::fail(FailureCode::Connect),
            ],
        );
        other
    }
    async fn set_latency(&self, latency: Duration) {
        self.connector.set_latency(latency);
    }
}

fn connector() -> InMemoryConnector {
    InMemoryConnector::builder()
        .with_credential("right")
        .with_required_setting("project")
        .build()
}

pathops_testkit::connector_conformance_tests!(in_memory_conformance, async {
    Harness::new(connector())
});

#[tokio::test]
async fn a_test_only_connector_passes_and_reports_health_unsupported() {
    let only_test = InMemoryConnector::builder()
        .with_credential("right")
        .with_capabilities(Capabilities::new([Capability::TestConnection]))
        .with_required_setting("project")
        .build();
    let harness = Harness::new(only_test);
    connector_suite::run_all(&harness).await;
    let calls = harness.connector.calls();
    let health: Vec<_> = calls
        .iter()
        .filter(|c| c.operation == Operation::HealthCheck)
        .collect();
    assert_eq!(
        health.len(),
        1,
        "the suite asked once for the unsupported health check"
    );
    assert_eq!(health[0].result.failure, Some(FailureCode::Unsupported));
}

#[tokio::test]
async fn scripts_are_consumed_in_order_per_integration_then_fall_back_to_the_default() {
    let c = InMemoryConnector::builder()
        .with_default_outcome(Outcome::fail(FailureCode::NotFound))
        .build();
    let a = IntegrationBuilder::new("acme", "A").build();
    let b = IntegrationBuilder::new("acme", "B").build();
    c.script(
        a.id,
        [
            Outcome::pass().with_detail("version", "17.5"),
            Outcome::fail(FailureCode::RateLimited { reset_at: None }).with_message("slow down"),
        ],
    );
    c.script(b.id, [Outcome::fail(FailureCode::Dns)]);
    let ctx_a = context(a.clone(), None, Duration::from_secs(1));
    let ctx_b = context(b, None, Duration::from_secs(1));

    let first = c.test_connection(&ctx_a).await;
    assert!(first.is_success());
    assert_eq!(first.details["version"], "17.5");
    assert_eq!(c.check_health(&ctx_b).await.failure, Some(FailureCode::Dns));
    let second = c.check_health(&ctx_a).await;
    assert_eq!(
        second.failure,
        Some(FailureCode::RateLimited { reset_at: None })
    );
    assert_eq!(second.message, "slow down");
    assert_eq!(c.pending(a.id), 0);
    assert_eq!(
        c.test_connection(&ctx_a).await.failure,
        Some(FailureCode::NotFound)
    );
    let calls = c.calls();
    assert_eq!(calls.len(), 4);
    assert_eq!(calls[1].operation, Operation::HealthCheck);
    assert!(!calls[0].had_secret);
}

#[tokio::test(start_paused = true)]
async fn injected_latency_is_reported_and_the_deadline_wins() {
    let c = InMemoryConnector::default();
    let i = IntegrationBuilder::new("acme", "Slow").build();
    c.script(
        i.id,
        [
            Outcome::pass().with_latency(Duration::from_millis(250)),
            Outcome::pass().with_latency(Duration::from_secs(30)),
        ],
    );
    let ok = c
        .test_connection(&context(i.clone(), None, Duration::from_secs(5)))
        .await;
    assert!(ok.is_success());
    assert_eq!(ok.latency, Duration::from_millis(250));
    let late = c
        .test_connection(&context(i, None, Duration::from_secs(1)))
        .await;
    assert_eq!(late.failure, Some(FailureCode::Timeout));
}

#[tokio::test]
async fn the_credential_is_checked_and_never_printed() {
    let c = InMemoryConnector::builder()
        .with_credential("sentinel-Zq9")
        .build();
    let i = IntegrationBuilder::new("acme", "Creds").build();
    let none = c
        .test_connection(&context(i.clone(), None, Duration::from_secs(1)))
        .await;
    assert_eq!(none.failure, Some(FailureCode::Unauthenticated));
    let right = Some(SecretString::from("sentinel-Zq9".to_owned()));
    let ctx = context(i, right, Duration::from_secs(1));
    let ok = c.test_connection(&ctx).await;
    assert!(ok.is_success());
    let printed = format!("{c:?} {ctx:?} {ok:?} {:?}", c.calls());
    assert!(!printed.contains("sentinel-Zq9"), "{printed}");
}
