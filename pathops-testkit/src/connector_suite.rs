//! The connector conformance suite: `pub async fn` checks every [`IntegrationConnector`] runs
//! from its `tests/` against its fake (or, for the [`InMemoryConnector`](crate::in_memory::InMemoryConnector),
//! against its script).
//!
//! A connector's test implements [`ConnectorHarness`] (how to reach a working integration, a
//! bad credential, how to slow the fake down) and calls [`run_all`]. Each check panics with a
//! message naming the check when the connector misbehaves, and prints its name when it runs.
//!
//! | check | what it asserts |
//! |---|---|
//! | [`descriptor_matches_capabilities`] | the descriptor names the provider, its type and the same capabilities |
//! | [`valid_credentials_pass`] | every offered operation passes with the valid secret |
//! | [`bad_credentials_are_unauthenticated`] | a wrong secret is `unauthenticated` (reached, not authenticated) |
//! | [`unreachable_is_connect`] | a refused port is `connect` (not reached) |
//! | [`deadline_is_respected`] | an answer slower than the deadline is `timeout` |
//! | [`unsupported_operations_are_unsupported`] | an operation not offered answers `unsupported` |
//! | [`invalid_configuration_is_refused`] | `validate_config` refuses the harness's bad configuration |

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
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

/// Runs every check, in the order of the table in the [module docs](self).
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

/// An answer slower than the context's deadline is [`FailureCode::Timeout`]: the deadline wins
/// over the tool.
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
        let result = call(&*connector, op, &ctx).await;
        assert_eq!(
            result.failure,
            Some(FailureCode::Timeout),
            "{}: an answer past the deadline must be a timeout ({})",
            op.as_str(),
            result.message
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
/// silent pass.
pub async fn unsupported_operations_are_unsupported<H: ConnectorHarness + ?Sized>(harness: &H) {
    let connector = harness.connector();
    announce("unsupported_operations_are_unsupported", &*connector);
    let caps = connector.capabilities();
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
    if let Err(e) = connector.validate_config(&good) {
        panic!("the working integration's configuration must validate: {e}");
    }
    match harness.invalid_configuration() {
        Some(bad) => match connector.validate_config(&bad) {
            Err(Error::Validation(_)) => {}
            other => panic!("a bad configuration must be a validation error, got {other:?}"),
        },
        None => eprintln!("connector conformance: skipped the bad-configuration case (none given)"),
    }
}
