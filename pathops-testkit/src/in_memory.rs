//! [`InMemoryConnector`]: a deterministic, scriptable [`IntegrationConnector`].
//!
//! Each integration gets its own script: a queue of [`Outcome`]s consumed one per call (test or
//! health check). When a script is empty the connector's default outcome answers. Outcomes carry
//! an injected latency; the context's deadline always wins: a call whose latency reaches the
//! deadline waits until the deadline and reports [`FailureCode::Timeout`].
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use pathops_core::{ConnectorContext, FailureCode, IntegrationConnector};
//! use pathops_testkit::fixtures::IntegrationBuilder;
//! use pathops_testkit::in_memory::{InMemoryConnector, Outcome};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let connector = InMemoryConnector::builder().with_credential("s3cret").build();
//! let gitlab = Arc::new(IntegrationBuilder::new("acme", "GitLab").build());
//! connector.script(gitlab.id, [Outcome::fail(FailureCode::Connect), Outcome::pass()]);
//!
//! let ctx = ConnectorContext::new(gitlab.clone(), Some("s3cret".to_owned().into()), Duration::from_secs(1));
//! assert_eq!(connector.test_connection(&ctx).await.failure, Some(FailureCode::Connect));
//! assert!(connector.test_connection(&ctx).await.is_success());
//!
//! let wrong = ConnectorContext::new(gitlab, Some("nope".to_owned().into()), Duration::from_secs(1));
//! assert_eq!(connector.check_health(&wrong).await.failure, Some(FailureCode::Unauthenticated));
//! # });
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use pathops_core::validate::{Problem, ValidationError};
use pathops_core::{
    Capabilities, Capability, CheckResult, Configuration, ConnectorContext, FailureCode,
    IntegrationConnector, IntegrationId, Provider, Result,
};
use secrecy::{ExposeSecret, SecretString};

/// What one scripted call answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    failure: Option<FailureCode>,
    hangs: bool,
    latency: Duration,
    message: Option<String>,
    details: serde_json::Map<String, serde_json::Value>,
}

impl Outcome {
    /// A passing check (credentials are still checked against the expected one, if any).
    pub fn pass() -> Self {
        Self {
            failure: None,
            hangs: false,
            latency: Duration::ZERO,
            message: None,
            details: serde_json::Map::new(),
        }
    }

    /// A failing check with `code`.
    pub fn fail(code: FailureCode) -> Self {
        Self {
            failure: Some(code),
            ..Self::pass()
        }
    }

    /// A call that never answers and ignores the context's deadline, like a connector that
    /// forgot its timeout: only the caller's own deadline can end it.
    pub fn hang() -> Self {
        Self {
            hangs: true,
            ..Self::pass()
        }
    }

    /// Makes the call take `latency` (reported as the check's latency).
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Sets the result message.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// Adds a detail to the result.
    pub fn with_detail(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }
}

/// Which trait method a recorded call was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// [`IntegrationConnector::test_connection`].
    TestConnection,
    /// [`IntegrationConnector::check_health`].
    HealthCheck,
}

/// One call the connector received.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedCall {
    /// The integration it was for.
    pub integration_id: IntegrationId,
    /// Which operation.
    pub operation: Operation,
    /// Whether a secret was passed (never the secret itself).
    pub had_secret: bool,
    /// What it answered.
    pub result: CheckResult,
}

#[derive(Default)]
struct State {
    scripts: HashMap<IntegrationId, VecDeque<Outcome>>,
    extra_latency: Duration,
    calls: Vec<RecordedCall>,
}

/// The provider the [`InMemoryConnector`] serves by default: the custom SCM provider
/// `in-memory` (a test double has no place among the built-in providers).
pub fn provider() -> Provider {
    Provider::custom("in-memory", pathops_core::IntegrationType::Scm)
        .expect("a valid custom provider name")
}

/// A deterministic connector for tests; see the [module docs](self).
pub struct InMemoryConnector {
    provider: Provider,
    capabilities: Capabilities,
    credential: Option<SecretString>,
    required_settings: Vec<String>,
    default_outcome: Outcome,
    state: Mutex<State>,
}

impl fmt::Debug for InMemoryConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryConnector")
            .field("provider", &self.provider)
            .field("capabilities", &self.capabilities)
            .field(
                "credential",
                &self.credential.as_ref().map(|_| "[REDACTED]"),
            )
            .finish_non_exhaustive()
    }
}

impl Default for InMemoryConnector {
    fn default() -> Self {
        Self::builder().build()
    }
}

impl InMemoryConnector {
    /// A builder: provider `in-memory`, test and health capabilities, any credential accepted,
    /// passing by default.
    pub fn builder() -> InMemoryConnectorBuilder {
        InMemoryConnectorBuilder {
            provider: provider(),
            capabilities: Capabilities::new([Capability::TestConnection, Capability::HealthCheck]),
            credential: None,
            required_settings: Vec::new(),
            default_outcome: Outcome::pass(),
        }
    }

    /// Appends outcomes to the script of `integration`.
    pub fn script(&self, integration: IntegrationId, outcomes: impl IntoIterator<Item = Outcome>) {
        self.lock()
            .scripts
            .entry(integration)
            .or_default()
            .extend(outcomes);
    }

    /// Outcomes still queued for `integration`.
    pub fn pending(&self, integration: IntegrationId) -> usize {
        self.lock()
            .scripts
            .get(&integration)
            .map_or(0, VecDeque::len)
    }

    /// Adds `latency` to every call, scripted or not (zero to remove it).
    pub fn set_latency(&self, latency: Duration) {
        self.lock().extra_latency = latency;
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.lock().calls.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("in-memory connector lock")
    }

    async fn run(&self, ctx: &ConnectorContext, operation: Operation) -> CheckResult {
        let capability = match operation {
            Operation::TestConnection => Capability::TestConnection,
            Operation::HealthCheck => Capability::HealthCheck,
        };
        let result = if self.capabilities.supports(capability) {
            let (outcome, extra) = {
                let mut state = self.lock();
                let outcome = state
                    .scripts
                    .get_mut(&ctx.integration.id)
                    .and_then(VecDeque::pop_front)
                    .unwrap_or_else(|| self.default_outcome.clone());
                (outcome, state.extra_latency)
            };
            self.answer(ctx, outcome, extra).await
        } else {
            CheckResult::failed(
                FailureCode::Unsupported,
                Duration::ZERO,
                format!(
                    "{} is not supported by {}",
                    capability.as_str(),
                    self.provider
                ),
            )
        };
        self.lock().calls.push(RecordedCall {
            integration_id: ctx.integration.id,
            operation,
            had_secret: ctx.secret.is_some(),
            result: result.clone(),
        });
        result
    }

    async fn answer(
        &self,
        ctx: &ConnectorContext,
        outcome: Outcome,
        extra: Duration,
    ) -> CheckResult {
        if outcome.hangs {
            std::future::pending::<()>().await;
        }
        let latency = outcome.latency + extra;
        let remaining = ctx.remaining();
        if latency >= remaining {
            tokio::time::sleep(remaining).await;
            return CheckResult::failed(
                FailureCode::Timeout,
                remaining,
                format!(
                    "no answer within the deadline ({} ms)",
                    remaining.as_millis()
                ),
            );
        }
        tokio::time::sleep(latency).await;
        let mut result = match outcome.failure {
            Some(code) => {
                let message = outcome
                    .message
                    .unwrap_or_else(|| format!("scripted failure: {code}"));
                CheckResult::failed(code, latency, message)
            }
            None if !self.credential_matches(ctx) => CheckResult::failed(
                FailureCode::Unauthenticated,
                latency,
                "the credential was refused",
            ),
            None => {
                CheckResult::passed(latency, outcome.message.unwrap_or_else(|| "ok".to_owned()))
            }
        };
        result.details.extend(outcome.details);
        result
    }

    fn credential_matches(&self, ctx: &ConnectorContext) -> bool {
        match (&self.credential, &ctx.secret) {
            (None, _) => true,
            (Some(expected), Some(given)) => expected.expose_secret() == given.expose_secret(),
            (Some(_), None) => false,
        }
    }
}

#[async_trait]
impl IntegrationConnector for InMemoryConnector {
    fn provider(&self) -> Provider {
        self.provider.clone()
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities.clone()
    }

    async fn validate_config(&self, configuration: &Configuration) -> Result<()> {
        for setting in &self.required_settings {
            if configuration.get(setting).is_none() {
                return Err(ValidationError::new("configuration", Problem::Empty).into());
            }
        }
        Ok(())
    }

    async fn test_connection(&self, ctx: &ConnectorContext) -> CheckResult {
        self.run(ctx, Operation::TestConnection).await
    }

    async fn check_health(&self, ctx: &ConnectorContext) -> CheckResult {
        self.run(ctx, Operation::HealthCheck).await
    }
}

/// Builds an [`InMemoryConnector`]; setters never fail.
#[derive(Debug)]
pub struct InMemoryConnectorBuilder {
    provider: Provider,
    capabilities: Capabilities,
    credential: Option<SecretString>,
    required_settings: Vec<String>,
    default_outcome: Outcome,
}

impl InMemoryConnectorBuilder {
    /// The provider it claims to serve (default `in-memory`).
    pub fn with_provider(mut self, provider: Provider) -> Self {
        self.provider = provider;
        self
    }

    /// The capabilities it declares (default test and health).
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// Accept only this credential; any other (or none) is
    /// [`FailureCode::Unauthenticated`].
    pub fn with_credential(mut self, credential: impl Into<String>) -> Self {
        self.credential = Some(SecretString::from(credential.into()));
        self
    }

    /// A configuration setting `validate_config` requires.
    pub fn with_required_setting(mut self, key: impl Into<String>) -> Self {
        self.required_settings.push(key.into());
        self
    }

    /// What unscripted calls answer (default: pass).
    pub fn with_default_outcome(mut self, outcome: Outcome) -> Self {
        self.default_outcome = outcome;
        self
    }

    /// The connector.
    pub fn build(self) -> InMemoryConnector {
        InMemoryConnector {
            provider: self.provider,
            capabilities: self.capabilities,
            credential: self.credential,
            required_settings: self.required_settings,
            default_outcome: self.default_outcome,
            state: Mutex::new(State::default()),
        }
    }
}
