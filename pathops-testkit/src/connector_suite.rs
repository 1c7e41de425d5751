//! The connector conformance suite: `pub async fn` checks every [`IntegrationConnector`] runs
//! from its `tests/` against its fake (or, for the [`InMemoryConnector`](crate::in_memory::InMemoryConnector),
//! against its script).
//!
//! A connector's test implements [`ConnectorHarness`] (how to reach a working integration, a
//! bad credential, how to slow the fake down) and invokes
//! [`connector_conformance_tests!`](crate::connector_conformance_tests), which generates one
//! test per check. Each check panics with a message naming the check when the connector
//! misbehaves, and prints its name when it runs.
//!
//! | check | what it asserts |
//! |---|---|
//! | [`descriptor_matches_capabilities`] | the descriptor names the provider, its type and the same capabilities |
//! | [`valid_credentials_pass`] | every offered operation passes with the valid secret |
//! | [`bad_credentials_are_unauthenticated`] | a wrong secret is `unauthenticated` (reached, not authenticated) |
//! | [`unreachable_is_connect`] | a refused port is `connect` (not reached) |
//! | [`deadline_is_respected`] | an answer slower than the deadline is `timeout` |
//! | [`unsupported_operations_are_unsupported`] | a check or delivery trigger not offered answers `unsupported` |
//! | [`invalid_configuration_is_refused`] | `validate_config` refuses the harness's bad configuration |

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pathops_core::connector::DeliveryRequest;
use pathops_core::directping::PingRequest;
use pathops_core::{
    BaseUrl, Capability, CheckResult, Configuration, ConnectorContext, Error, FailureCode,
    Integration, IntegrationConnector, Probe,
};
use secrecy::SecretString;

/// How the suite drives one connector.
#[async_trait]
pub trait ConnectorHarness: Send + Sync {
    /// The connector under test.
    fn connector(&self) -> Arc<dyn IntegrationConnector>;

    /// An integration the connector can reach and authenticate to with
    /// [`valid_secret`](Self::valid_secret).
    fn integration(&self) -> Integration;

    /// The credential that works.
    fn valid_secret(&self) -> Option<SecretString>;

    /// A credential the tool refuses.
    fn invalid_secret(&self) -> SecretString;

    /// A configuration `validate_config` must refuse, if the connector has rules.
    fn invalid_configuration(&self) -> Option<Configuration> {
        None
    }

    /// An integration at an address where nothing listens. The default keeps
    /// [`integration`](Self::integration) and points it at a refused port on 127.0.0.1.
    async fn unreachable_integration(&self) -> Integration {
        let mut integration = self.integration();
        integration.base_url = refused_base_url();
        integration
    }

    /// Makes every answer to [`integration`](Self::integration) take at least `latency`
    /// (`Duration::ZERO` restores normal speed).
    async fn set_latency(&self, latency: Duration);
}

/// `http://127.0.0.1:<port>` for a port nothing listens on (bound, then released).
pub fn refused_base_url() -> BaseUrl {
    let port = crate::fake::refused_port();
    BaseUrl::parse(&format!("http://127.0.0.1:{port}")).expect("a valid loopback URL")
}

/// A context for `integration` with `secret` and a deadline `timeout` from now.
pub fn context(
    integration: Integration,
    secret: Option<SecretString>,
    timeout: Duration,
) -> ConnectorContext {
    ConnectorContext::new(Arc::new(integration), secret, timeout)
}

/// The generous deadline of checks that are not about deadlines.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

fn announce(check: &str, connector: &dyn IntegrationConnector) {
    eprintln!("connector conformance: {check} ({})", connector.provider());
}

async fn call(
    connector: &dyn IntegrationConnector,
    capability: Capability,
    ctx: &ConnectorContext,
) -> CheckResult {
    match capability {
        Capability::HealthCheck => connector.check_health(ctx).await,
        _ => connector.test_connection(ctx).await,
    }
}

const OPERATIONS: [Capability; 2] = [Capability::TestConnection, Capability::HealthCheck];

/// Runs every check, in the order of the table in the [module docs](self). Prefer
/// [`connector_conformance_tests!`](crate::connector_conformance_tests), which makes one test
/// per check so that one failure does not hide the others.
pub async fn run_all<H: ConnectorHarness + ?Sized>(harness: &H) {
    descriptor_matches_capabilities(harness).await;
    valid_credentials_pass(harness).await;
    bad_credentials_are_unauthenticated(harness).await;
    unreachable_is_connect(harness).await;
    deadline_is_respected(harness).await;
    unsupported_operations_are_unsupported(harness).await;
    invalid_configuration_is_refused(harness).await;
}

/// The descriptor names the connector's provider, its integration type and the same
/// capabilities, and the connector offers at least one operation.
pub async fn descriptor_matches_capabilities<H: ConnectorHarness + ?Sized>(harness: &H) {
    let connector = harness.connector();
    announce("descriptor_matches_capabilities", &*connector);
    let descriptor = connector.descriptor();
    assert_eq!(
        descriptor.provider,
        connector.provider(),
        "descriptor provider"
    );
    assert_eq!(
        descriptor.integration_type,
        connector.provider().integration_type(),
        "descriptor integration type"
    );
    assert_eq!(
        descriptor.capabilities,
        connector.capabilities(),
        "descriptor capabilities"
    );
    assert!(!descriptor.id.is_empty(), "descriptor id");
    let caps = connector.capabilities();
    assert!(
        OPERATIONS.iter().any(|c| caps.supports(*c)),
        "a connector offers a connection test or a health check"
    );
}

/// Every offered operation passes with the valid secret, and says so in both probes.
pub async fn valid_credentials_pass<H: ConnectorHarness + ?Sized>(harness: &H) {
    let connector = harness.connector();
    announce("valid_credentials_pass", &*connector);
    let caps = connector.capabilities();
    for op in OPERATIONS.into_iter().filter(|c| caps.supports(*c)) {
        let ctx = context(harness.integration(), harness.valid_secret(), CHECK_TIMEOUT);
        let result = call(&*connector, op, &ctx).await;
        assert!(
            result.is_success(),
            "{}: expected a pass with the valid secret, got {:?}: {}",
            op.as_str(),
            result.failure,
            result.message
        );
        assert_eq!(
            result.reachability,
            Probe::Passed,
            "{} reachability",
            op.as_str()
        );
        assert_eq!(
            result.authentication,
            Probe::Passed,
            "{} authentication",
            op.as_str()
        );
    }
}

/// A wrong secret is [`FailureCode::Unauthenticated`]: the tool was reached, the credential
/// refused.
pub async fn bad_credentials_are_unauthenticated<H: ConnectorHarness + ?Sized>(harness: &H) {
    let connector = harness.connector();
    announce("bad_credentials_are_unauthenticated", &*connector);
    let caps = connector.capabilities();
    for op in OPERATIONS.into_iter().filter(|c| caps.supports(*c)) {
        let ctx = context(
            harness.integration(),
            Some(harness.invalid_secret()),
            CHECK_TIMEOUT,
        );
        let result = call(&*connector, op, &ctx).await;
        assert_eq!(
            result.failure,
            Some(FailureCode::Unauthenticated),
            "{}: a wrong secret must be unauthenticated ({})",
            op.as_str(),
            result.message
        );
        assert_eq!(
            result.reachability,
            Probe::Passed,
            "{} reachability",
            op.as_str()
        );
        assert_eq!(
            result.authentication,
            Probe::Failed,
            "{} authentication",
            op.as_str()
        );
    }
}

/// A refused port is [`FailureCode::Connect`]: not reached, authentication not checked.
pub async fn unreachable_is_connect<H: ConnectorHarness + ?Sized>(harness: &H) {
    let connector = harness.connector();
    announce("unreachable_is_connect", &*connector);
    let caps = connector.capabilities();
    for op in OPERATIONS.into_iter().filter(|c| caps.supports(*c)) {
        let ctx = context(
            harness.unreachable_integration().await,
            harness.valid_secret(),
            CHECK_TIMEOUT,
        );
        let result = call(&*connector, op, &ctx).await;
        assert_eq!(
            result.failure,
            Some(FailureCode::Connect),
            "{}: a refused port must be a connect failure ({})",
            op.as_str(),
            result.message
        );
        assert_eq!(
            result.reachability,
            Probe::Failed,
            "{} reachability",
            op.as_str()
        );
        assert_eq!(
            result.authentication,
            Probe::NotChecked,
            "{} authentication",
            op.as_str()
        );
    }
}

/// An answer slower than the context's deadline is [`FailureCode::Timeout`], returned by the
/// deadline (plus a generous second), not when the tool finally answers.
///
/// A timeout is recorded as *not reached* even when the TCP connection was made: reachability
/// means "answers", and a tool that accepts connections but never answers is not usable. The
/// message tells the two apart (`no connection … within` for a connect timeout, `did not
/// answer within` for a slow answer).
pub async fn deadline_is_respected<H: ConnectorHarness + ?Sized>(harness: &H) {
    let connector = harness.connector();
    announce("deadline_is_respected", &*connector);
    let caps = connector.capabilities();
    harness.set_latency(Duration::from_secs(5)).await;
    for op in OPERATIONS.into_iter().filter(|c| caps.supports(*c)) {
        let ctx = context(
            harness.integration(),
            harness.valid_secret(),
            Duration::from_millis(300),
        );
        let started = std::time::Instant::now();
        let result = call(&*connector, op, &ctx).await;
        let took = started.elapsed();
        assert_eq!(
            result.failure,
            Some(FailureCode::Timeout),
            "{}: an answer past the deadline must be a timeout ({})",
            op.as_str(),
            result.message
        );
        assert!(
            took < Duration::from_millis(300) + Duration::from_secs(1),
            "{}: the timeout came after {took:?}, not at the 300 ms deadline",
            op.as_str()
        );
        assert_eq!(
            result.reachability,
            Probe::Failed,
            "{} reachability",
            op.as_str()
        );
    }
    harness.set_latency(Duration::ZERO).await;
}

/// An operation the connector does not offer answers [`FailureCode::Unsupported`], never a
/// silent pass: the checks it lacks, and every kind of delivery trigger whose capability it
/// does not declare (the trait's default), for which it also expects no delivery. A connector
/// that offers everything has nothing to refuse; the check then says so and still verifies
/// that `Capabilities::require` agrees.
pub async fn unsupported_operations_are_unsupported<H: ConnectorHarness + ?Sized>(harness: &H) {
    let connector = harness.connector();
    announce("unsupported_operations_are_unsupported", &*connector);
    let caps = connector.capabilities();
    let requests = [
        DeliveryRequest::WebhookTest {
            trigger: "push_events".to_owned(),
        },
        DeliveryRequest::HookPing,
        DeliveryRequest::DirectPing(PingRequest {
            challenge_id: "00000000-0000-7000-8000-000000000000".to_owned(),
            nonce: "0".repeat(32),
            callback_url: None,
        }),
    ];
    let mut refused = 0;
    for request in requests.iter().filter(|r| !caps.supports(r.capability())) {
        refused += 1;
        let integration = harness.integration();
        assert!(
            connector
                .expected_delivery(&integration, request)
                .await
                .is_none(),
            "{}: not offered, so no delivery is expected",
            request.capability().as_str()
        );
        let ctx = context(integration, harness.valid_secret(), CHECK_TIMEOUT);
        let result = connector.trigger_delivery(&ctx, request).await;
        assert_eq!(
            result.failure,
            Some(FailureCode::Unsupported),
            "{}: not offered, so the trigger must answer unsupported ({})",
            request.capability().as_str(),
            result.message
        );
        assert!(matches!(
            caps.require(request.capability(), connector.provider().as_str()),
            Err(Error::Unsupported { .. })
        ));
    }
    for op in OPERATIONS.into_iter().filter(|c| caps.supports(*c)) {
        assert!(caps.require(op, connector.provider().as_str()).is_ok());
    }
    if refused == 0 && OPERATIONS.iter().all(|c| caps.supports(*c)) {
        eprintln!(
            "connector conformance: {} offers every operation",
            connector.provider()
        );
    }
    for op in OPERATIONS.into_iter().filter(|c| !caps.supports(*c)) {
        let ctx = context(harness.integration(), harness.valid_secret(), CHECK_TIMEOUT);
        let result = call(&*connector, op, &ctx).await;
        assert_eq!(
            result.failure,
            Some(FailureCode::Unsupported),
            "{}: not offered, so it must answer unsupported",
            op.as_str()
        );
        assert!(matches!(
            caps.require(op, connector.provider().as_str()),
            Err(Error::Unsupported { .. })
        ));
    }
}

/// `validate_config` accepts the working integration's configuration and refuses the
/// harness's bad one with a validation error.
pub async fn invalid_configuration_is_refused<H: ConnectorHarness + ?Sized>(harness: &H) {
    let connector = harness.connector();
    announce("invalid_configuration_is_refused", &*connector);
    let good = harness.integration().configuration;
    if let Err(e) = connector.validate_config(&good).await {
        panic!("the working integration's configuration must validate: {e}");
    }
    match harness.invalid_configuration() {
        Some(bad) => match connector.validate_config(&bad).await {
            Err(Error::Validation(_)) => {}
            other => panic!("a bad configuration must be a validation error, got {other:?}"),
        },
        None => eprintln!("connector conformance: skipped the bad-configuration case (none given)"),
    }
}

/// Generates one `#[tokio::test]` per connector conformance check, each over a fresh harness
/// built by `$harness` (an expression evaluating to a future of a [`ConnectorHarness`], such as
/// an `async { … }` block starting a fake server), inside a module named `$module`.
///
/// ```ignore
/// pathops_testkit::connector_conformance_tests!(gitlab_conformance, async {
///     Harness { gitlab: FakeGitLab::start_with_defaults().await, connector: connector() }
/// });
/// ```
#[macro_export]
macro_rules! connector_conformance_tests {
    ($module:ident, $harness:expr) => {
        $crate::connector_conformance_tests!(@tests $module, $harness;
            descriptor_matches_capabilities,
            valid_credentials_pass,
            bad_credentials_are_unauthenticated,
            unreachable_is_connect,
            deadline_is_respected,
            unsupported_operations_are_unsupported,
            invalid_configuration_is_refused,
        );
    };
    (@tests $module:ident, $harness:expr; $($check:ident),* $(,)?) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test]
                async fn $check() {
                    let harness = $harness.await;
                    $crate::connector_suite::$check(&harness).await;
                }
            )*
        }
    };
}
