//! [`IntegrationConnector`]: how PathOps talks to one provider, and [`ConnectorRegistry`].
//!
//! A connector declares its [`Capabilities`] up front; callers read them before acting, and an
//! operation a connector does not offer is [`Error::Unsupported`], never a silent success.
//! Checks return data ([`CheckResult`]), not errors: an unreachable tool is a finding, not a
//! failure of PathOps.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::directping::PingRequest;
use crate::error::{Error, ResourceKind, Result};
use crate::fields::Configuration;
use crate::integration::Integration;
use crate::provider::{IntegrationType, Provider};
use crate::webhook::DeliveryKind;

/// One thing a connector can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Capability {
    /// Full connection test (reachability, authentication, permissions).
    TestConnection,
    /// Cheap periodic health check.
    HealthCheck,
    /// Ask the tool to send a test webhook delivery (GitLab hook test trigger).
    WebhookTest,
    /// Deliveries carry a verifiable secret or signature.
    WebhookSecret,
    /// Ask the tool to ping a hook (GitHub hook ping).
    HookPing,
    /// The PathOps direct-ping protocol, both directions.
    DirectPing,
    /// List projects or repositories.
    ListProjects,
}

impl Capability {
    /// The stable string form.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::TestConnection => "test_connection",
            Self::HealthCheck => "health_check",
            Self::WebhookTest => "webhook_test",
            Self::WebhookSecret => "webhook_secret",
            Self::HookPing => "hook_ping",
            Self::DirectPing => "direct_ping",
            Self::ListProjects => "list_projects",
        }
    }
}

/// The set of [`Capability`] values a connector offers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Capabilities(BTreeSet<Capability>);

impl Capabilities {
    /// A set from a list.
    pub fn new(capabilities: impl IntoIterator<Item = Capability>) -> Self {
        Self(capabilities.into_iter().collect())
    }

    /// Whether `capability` is offered.
    pub fn supports(&self, capability: Capability) -> bool {
        self.0.contains(&capability)
    }

    /// `Ok` when offered, else [`Error::Unsupported`] naming the operation and `implementer`.
    pub fn require(&self, capability: Capability, implementer: &str) -> Result<()> {
        if self.supports(capability) {
            Ok(())
        } else {
            Err(Error::unsupported(capability.as_str(), implementer))
        }
    }

    /// The capabilities, ordered.
    pub fn iter(&self) -> impl Iterator<Item = Capability> + '_ {
        self.0.iter().copied()
    }
}

/// How long past a [`ConnectorContext::deadline`] the catalog and the doctor still wait for a
/// connector's own answer before they give up on the call (and record `timeout`): a connector
/// that stops at its deadline reports why (an out-of-process plugin's `plugin_timeout` after
/// `$/cancel`, a client's own timeout with what it saw), and that report wins.
pub const DEADLINE_GRACE: Duration = Duration::from_millis(250);

/// What a connector needs for one call: the integration, its resolved secret and a deadline.
///
/// `Debug` never shows the secret.
pub struct ConnectorContext {
    /// The integration as stored.
    pub integration: Arc<Integration>,
    /// The credential behind its auth ref, resolved for this call only.
    pub secret: Option<SecretString>,
    /// When the call must have returned. Connectors stop waiting at this instant.
    pub deadline: Instant,
}

impl ConnectorContext {
    /// A context whose deadline is `timeout` from now.
    pub fn new(
        integration: Arc<Integration>,
        secret: Option<SecretString>,
        timeout: Duration,
    ) -> Self {
        Self {
            integration,
            secret,
            deadline: Instant::now() + timeout,
        }
    }

    /// Time left before the deadline (zero once it has passed).
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

impl fmt::Debug for ConnectorContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectorContext")
            .field("integration_id", &self.integration.id)
            .field("provider", &self.integration.provider)
            .field("secret", &self.secret.as_ref().map(|_| "[REDACTED]"))
            .field("remaining", &self.remaining())
            .finish()
    }
}

/// The result of one probe direction (reachability or authentication).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Probe {
    /// It worked.
    Passed,
    /// It failed; see the failure code.
    Failed,
    /// It was not attempted (an earlier step failed, or it does not apply).
    NotChecked,
}

/// Well-known keys of [`CheckResult::details`] that connectors fill and the doctor reads to
/// suggest fixes. Connectors may add others.
pub mod detail {
    /// HTTP status of the last call (number).
    pub const HTTP_STATUS: &str = "http_status";
    /// Scopes the credential has (array of strings).
    pub const TOKEN_SCOPES: &str = "token_scopes";
    /// When the credential expires (RFC 3339 string or date).
    pub const TOKEN_EXPIRES_AT: &str = "token_expires_at";
    /// Whether the credential is revoked or expired (bool).
    pub const TOKEN_EXPIRED: &str = "token_expired";
    /// A scope the credential lacks for a capability (string).
    pub const MISSING_SCOPE: &str = "missing_scope";
    /// Hook state: GitLab `alert_status` (`executable`, `temporarily_disabled`, `disabled`).
    pub const HOOK_ALERT_STATUS: &str = "hook_alert_status";
    /// Hook disabled until (RFC 3339).
    pub const HOOK_DISABLED_UNTIL: &str = "hook_disabled_until";
    /// What the tool reported of its delivery attempt (its error or the receiver's answer).
    pub const DELIVERY_ERROR: &str = "delivery_error";
    /// The project the trigger addressed.
    pub const PROJECT: &str = "project";
    /// The hook the trigger addressed.
    pub const HOOK_ID: &str = "hook_id";
    /// When a rate limit resets (RFC 3339).
    pub const RATE_LIMIT_RESET: &str = "rate_limit_reset";
    /// Requests left in the current rate-limit window (number).
    pub const RATE_LIMIT_REMAINING: &str = "rate_limit_remaining";
}

/// Why a check failed. Stores keep [`FailureCode::as_str`] as the failure code and the whole
/// value as JSON. A code this version does not know reads as [`FailureCode::Unknown`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailureCode {
    /// The host name did not resolve.
    Dns,
    /// The TCP connection was refused or reset.
    Connect,
    /// The TLS handshake failed (certificate, protocol).
    Tls,
    /// The deadline passed.
    Timeout,
    /// Credentials were refused.
    Unauthenticated,
    /// Credentials are valid but lack a permission.
    PermissionDenied {
        /// The missing scope, when the tool says which.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        missing_scope: Option<String>,
    },
    /// The resource (project, hook, …) does not exist or is not visible.
    NotFound,
    /// The tool rate-limited the call.
    RateLimited {
        /// When the limit resets, if the tool says.
        #[serde(
            default,
            with = "time::serde::rfc3339::option",
            skip_serializing_if = "Option::is_none"
        )]
        reset_at: Option<OffsetDateTime>,
    },
    /// The tool answered with a 5xx status.
    ServerError {
        /// The HTTP status.
        status: u16,
    },
    /// The answer could not be understood.
    InvalidResponse,
    /// The check is not supported by this connector.
    Unsupported,
    /// Offline mode: no network call was made.
    Offline,
    /// No connector is registered for the provider.
    NoConnector,
    /// The auth ref did not resolve to a secret.
    SecretUnresolved,
    /// A reference (the auth ref or one in the configuration) is not allowed for the
    /// integration's tenant by the catalog's auth ref policy; nothing was resolved or sent.
    AuthRefDenied,
    /// The integration's configuration is invalid for its provider.
    InvalidConfig,
    /// The tool accepted the trigger but could not deliver to PathOps (GitLab answers 422 with
    /// the connection error or the receiver's answer).
    DeliveryFailed,
    /// The tool accepted the trigger but no matching delivery arrived in time.
    DeliveryNotReceived,
    /// A delivery arrived but failed verification (wrong token or signature).
    DeliveryRejected,
    /// The tool answered but reports itself unhealthy (Harbor's health body, Vault's sealed
    /// status, …).
    Unhealthy,
    /// The egress policy refused the destination; no call was made.
    EgressDenied,
    /// An out-of-process plugin did not answer before the deadline, nor after `$/cancel`; its
    /// process group was killed.
    PluginTimeout,
    /// An out-of-process plugin exited or closed its output during the call (the message
    /// carries the last lines of its stderr, secrets redacted); the next call restarts it.
    PluginCrashed,
    /// An out-of-process plugin broke the protocol (a line that is not a JSON-RPC message, a
    /// message over the size cap, an answer that contradicts its manifest); it was killed and
    /// quarantined.
    PluginProtocolError,
    /// The plugin is quarantined (an earlier protocol error, a handshake that contradicted its
    /// manifest, an executable whose checksum no longer matches); nothing was run.
    PluginQuarantined,
    /// A code this version does not know: written by a newer PathOps (during a rolling
    /// upgrade) or by a plugin. Reading never fails on it; stores keep the original code
    /// string in their failure-code column, so summaries still group by it.
    #[serde(other)]
    Unknown,
}

impl FailureCode {
    /// The stable code string (`dns`, `connect`, `permission_denied`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Dns => "dns",
            Self::Connect => "connect",
            Self::Tls => "tls",
            Self::Timeout => "timeout",
            Self::Unauthenticated => "unauthenticated",
            Self::PermissionDenied { .. } => "permission_denied",
            Self::NotFound => "not_found",
            Self::RateLimited { .. } => "rate_limited",
            Self::ServerError { .. } => "server_error",
            Self::InvalidResponse => "invalid_response",
            Self::Unsupported => "unsupported",
            Self::Offline => "offline",
            Self::NoConnector => "no_connector",
            Self::SecretUnresolved => "secret_unresolved",
            Self::AuthRefDenied => "auth_ref_denied",
            Self::InvalidConfig => "invalid_config",
            Self::DeliveryFailed => "delivery_failed",
            Self::DeliveryNotReceived => "delivery_not_received",
            Self::DeliveryRejected => "delivery_rejected",
            Self::Unhealthy => "unhealthy",
            Self::EgressDenied => "egress_denied",
            Self::PluginTimeout => "plugin_timeout",
            Self::PluginCrashed => "plugin_crashed",
            Self::PluginProtocolError => "plugin_protocol_error",
            Self::PluginQuarantined => "plugin_quarantined",
            Self::Unknown => "unknown",
        }
    }
}

impl fmt::Display for FailureCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// What a connection test or health check found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CheckResult {
    /// Could PathOps reach the tool?
    pub reachability: Probe,
    /// Did the tool accept the credentials?
    pub authentication: Probe,
    /// Time spent on the check.
    #[serde(with = "duration_ms")]
    pub latency: Duration,
    /// Why it failed; `None` when it passed.
    pub failure: Option<FailureCode>,
    /// One line for humans (never a secret).
    pub message: String,
    /// Provider-specific evidence (versions, scopes, rate-limit remaining, …): a JSON object.
    pub details: serde_json::Map<String, serde_json::Value>,
}

impl CheckResult {
    /// Reached and authenticated.
    pub fn passed(latency: Duration, message: impl Into<String>) -> Self {
        Self {
            reachability: Probe::Passed,
            authentication: Probe::Passed,
            latency,
            failure: None,
            message: message.into(),
            details: serde_json::Map::new(),
        }
    }

    /// A failure. Reachability and authentication are derived from the code: transport
    /// failures mean not reached; credential failures mean reached, not authenticated; other
    /// failures mean reached and authenticated but something else failed.
    pub fn failed(failure: FailureCode, latency: Duration, message: impl Into<String>) -> Self {
        use FailureCode as F;
        let (reachability, authentication) = match failure {
            F::Dns | F::Connect | F::Tls | F::Timeout | F::Offline => {
                (Probe::Failed, Probe::NotChecked)
            }
            F::NoConnector
            | F::SecretUnresolved
            | F::AuthRefDenied
            | F::InvalidConfig
            | F::Unsupported
            | F::EgressDenied
            | F::PluginTimeout
            | F::PluginCrashed
            | F::PluginProtocolError
            | F::PluginQuarantined
            | F::Unknown => (Probe::NotChecked, Probe::NotChecked),
            F::Unauthenticated => (Probe::Passed, Probe::Failed),
            F::PermissionDenied { .. }
            | F::NotFound
            | F::RateLimited { .. }
            | F::ServerError { .. }
            | F::InvalidResponse
            | F::DeliveryFailed
            | F::DeliveryNotReceived
            | F::DeliveryRejected
            | F::Unhealthy => (Probe::Passed, Probe::Passed),
        };
        Self {
            reachability,
            authentication,
            latency,
            failure: Some(failure),
            message: message.into(),
            details: serde_json::Map::new(),
        }
    }

    /// Adds one detail.
    pub fn with_detail(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    /// Whether the check passed.
    pub fn is_success(&self) -> bool {
        self.failure.is_none()
    }

    /// The detail `key` when it is a string.
    pub fn detail_str(&self, key: &str) -> Option<&str> {
        self.details.get(key).and_then(serde_json::Value::as_str)
    }

    /// When the credential expires, from the [`detail::TOKEN_EXPIRES_AT`] detail: an RFC 3339
    /// time, or a date (midnight UTC), as tools report it.
    pub fn token_expires_at(&self) -> Option<OffsetDateTime> {
        use time::format_description::well_known::Rfc3339;
        let text = self.detail_str(detail::TOKEN_EXPIRES_AT)?;
        OffsetDateTime::parse(text, &Rfc3339).ok().or_else(|| {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            time::Date::parse(text, &format)
                .ok()
                .map(|d| d.midnight().assume_utc())
        })
    }
}

/// Serde helper: a [`Duration`] as whole milliseconds.
pub(crate) mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// A connector for one provider. Object-safe: hold it as `Arc<dyn IntegrationConnector>`.
#[async_trait]
pub trait IntegrationConnector: Send + Sync + fmt::Debug {
    /// The provider this connector serves.
    fn provider(&self) -> Provider;

    /// What it can do.
    fn capabilities(&self) -> Capabilities;

    /// How it is listed in `plugin_metadata`. The default names it `pathops.<provider>` with
    /// this crate's version; connectors from other crates override the version.
    fn descriptor(&self) -> PluginDescriptor {
        let provider = self.provider();
        PluginDescriptor {
            id: format!("pathops.{provider}"),
            integration_type: provider.integration_type(),
            provider,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            capabilities: self.capabilities(),
        }
    }

    /// Checks a configuration before it is stored; errors are
    /// [`Error::Validation`] naming the setting. Asynchronous so that a connector may have to
    /// ask (an out-of-process plugin does); compiled-in connectors answer at once.
    async fn validate_config(&self, configuration: &Configuration) -> Result<()>;

    /// The full connection test: reachability, authentication and permissions.
    async fn test_connection(&self, ctx: &ConnectorContext) -> CheckResult;

    /// The cheapest authenticated call, for the health monitor.
    async fn check_health(&self, ctx: &ConnectorContext) -> CheckResult;

    /// Findings this provider knows for a check `result` of `integration` (a connection test
    /// or health check), with fixes in the provider's own terms: the setting to change, the
    /// API call, the vendor's documentation. The doctor reports them before its generic
    /// findings, and a generic finding with the same `code` as one returned here is dropped,
    /// so a connector overrides the generic advice by reusing its code (`unauthenticated`,
    /// `missing_scope`, …) and adds to it with codes of its own. Passed results may carry
    /// warnings too (a protection switched off, a degraded cluster). The default knows
    /// nothing.
    fn findings(&self, integration: &Integration, result: &CheckResult) -> Vec<crate::Finding> {
        let _ = (integration, result);
        Vec::new()
    }

    /// Findings this provider knows for the result of the doctor's delivery round trip
    /// (tool → PathOps: the trigger call, then the delivery's arrival and verification), with
    /// the same rules as [`findings`](Self::findings): reported first, replacing a generic
    /// finding with the same code (`webhook_token_mismatch`, `receiver_unreachable`,
    /// `delivery_not_received`, …). The default knows nothing.
    fn delivery_findings(
        &self,
        integration: &Integration,
        result: &CheckResult,
    ) -> Vec<crate::Finding> {
        let _ = (integration, result);
        Vec::new()
    }

    /// The delivery `request` will make the tool send to PathOps: its format and what
    /// identifies it, read from the integration's configuration. The doctor registers a
    /// challenge with it *before* triggering (GitLab delivers inside the trigger call).
    /// `None` when this connector cannot trigger `request`.
    ///
    /// Asynchronous so that a connector may have to ask (an out-of-process plugin does).
    async fn expected_delivery(
        &self,
        integration: &Integration,
        request: &DeliveryRequest,
    ) -> Option<(DeliveryKind, crate::webhook::Expectation)> {
        let _ = (integration, request);
        None
    }

    /// How often the tool accepts `request` for `integration`, if it limits it: the doctor
    /// sends two triggers with the same [`TriggerLimit::key`] at least
    /// [`TriggerLimit::spacing`] apart (counted from the moment the first one's answer came
    /// back). GitLab allows five hook tests a minute per project and user. The default: no
    /// limit.
    fn trigger_limit(
        &self,
        integration: &Integration,
        request: &DeliveryRequest,
    ) -> Option<TriggerLimit> {
        let _ = (integration, request);
        None
    }

    /// Asks the tool to send a delivery to PathOps (GitLab hook test, GitHub hook ping, direct
    /// ping). The result reports the trigger call itself; whether the delivery arrived is
    /// the receiver's to say. The default refuses with [`FailureCode::Unsupported`].
    async fn trigger_delivery(
        &self,
        ctx: &ConnectorContext,
        request: &DeliveryRequest,
    ) -> CheckResult {
        let _ = ctx;
        CheckResult::failed(
            FailureCode::Unsupported,
            Duration::ZERO,
            format!(
                "{} is not supported by {}",
                request.capability().as_str(),
                self.provider()
            ),
        )
    }
}

/// A tool's limit on trigger calls ([`IntegrationConnector::trigger_limit`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TriggerLimit {
    /// What the tool counts by (GitLab: instance, project and credential). The doctor prefixes
    /// it with the provider, so connectors cannot collide.
    pub key: String,
    /// The least time between two triggers with this key.
    pub spacing: Duration,
}

impl TriggerLimit {
    /// Triggers with `key` at least `spacing` apart.
    pub fn new(key: impl Into<String>, spacing: Duration) -> Self {
        Self {
            key: key.into(),
            spacing,
        }
    }
}

/// A delivery the doctor asks a connector to trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeliveryRequest {
    /// A hook's test endpoint, project and hook from the integration's configuration: GitLab
    /// `POST /projects/:id/hooks/:hook_id/test/:trigger`; Gitea and Forgejo `POST
    /// /repos/{owner}/{repo}/hooks/{id}/tests`, which always sends a push (only
    /// `push_events` applies).
    WebhookTest {
        /// The trigger (`push_events`, `tag_push_events`, …).
        trigger: String,
    },
    /// GitHub: `POST /repos/{owner}/{repo}/hooks/{hook_id}/pings`.
    HookPing,
    /// The PathOps direct-ping protocol ([`crate::directping`]).
    DirectPing(PingRequest),
}

impl DeliveryRequest {
    /// The capability a connector needs for this request.
    pub fn capability(&self) -> Capability {
        match self {
            Self::WebhookTest { .. } => Capability::WebhookTest,
            Self::HookPing => Capability::HookPing,
            Self::DirectPing(_) => Capability::DirectPing,
        }
    }
}

/// What `plugin_metadata` records about a connector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginDescriptor {
    /// Stable plugin id (`pathops.gitlab`).
    pub id: String,
    /// The provider it serves.
    pub provider: Provider,
    /// The provider's integration type.
    pub integration_type: IntegrationType,
    /// The connector's version.
    pub version: String,
    /// What it can do.
    pub capabilities: Capabilities,
}

/// Connectors by provider.
#[derive(Debug, Default, Clone)]
pub struct ConnectorRegistry {
    connectors: BTreeMap<Provider, Arc<dyn IntegrationConnector>>,
}

impl ConnectorRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a connector; a second one for the same provider is
    /// [`Error::AlreadyExists`].
    pub fn register(&mut self, connector: Arc<dyn IntegrationConnector>) -> Result<()> {
        let provider = connector.provider();
        if self.connectors.contains_key(&provider) {
            return Err(Error::AlreadyExists {
                kind: ResourceKind::Connector,
                id: provider.to_string(),
            });
        }
        self.connectors.insert(provider, connector);
        Ok(())
    }

    /// Registers a connector, replacing any other for its provider.
    pub fn replace(&mut self, connector: Arc<dyn IntegrationConnector>) {
        self.connectors.insert(connector.provider(), connector);
    }

    /// The connector for `provider`.
    pub fn get(&self, provider: &Provider) -> Option<Arc<dyn IntegrationConnector>> {
        self.connectors.get(provider).cloned()
    }

    /// The connector for `provider`, or [`Error::NotFound`] naming it.
    pub fn require(&self, provider: &Provider) -> Result<Arc<dyn IntegrationConnector>> {
        self.get(provider).ok_or_else(|| Error::NotFound {
            kind: ResourceKind::Connector,
            id: provider.to_string(),
        })
    }

    /// Every registered connector's descriptor, ordered by provider.
    pub fn descriptors(&self) -> Vec<PluginDescriptor> {
        self.connectors.values().map(|c| c.descriptor()).collect()
    }

    /// Number of registered connectors.
    pub fn len(&self) -> usize {
        self.connectors.len()
    }

    /// Whether no connector is registered.
    pub fn is_empty(&self) -> bool {
        self.connectors.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug)]
    struct Fixed(Provider);

    #[async_trait]
    impl IntegrationConnector for Fixed {
        fn provider(&self) -> Provider {
            self.0.clone()
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities::new([Capability::TestConnection, Capability::HealthCheck])
        }
        async fn validate_config(&self, _: &Configuration) -> Result<()> {
            Ok(())
        }
        async fn test_connection(&self, _: &ConnectorContext) -> CheckResult {
            CheckResult::passed(Duration::from_millis(3), "ok")
        }
        async fn check_health(&self, _: &ConnectorContext) -> CheckResult {
            CheckResult::failed(FailureCode::Connect, Duration::ZERO, "refused")
        }
    }

    #[test]
    fn registry_registers_once_per_provider_and_describes() {
        let mut reg = ConnectorRegistry::new();
        reg.register(Arc::new(Fixed(Provider::Harbor))).unwrap();
        reg.register(Arc::new(Fixed(Provider::GitLab))).unwrap();
        let dup = reg.register(Arc::new(Fixed(Provider::GitLab))).unwrap_err();
        assert_eq!(dup.to_string(), "connector already exists: gitlab");
        assert!(reg.get(&Provider::Jenkins).is_none());
        assert_eq!(
            reg.require(&Provider::Jenkins).unwrap_err().to_string(),
            "connector not found: jenkins"
        );
        let d = reg.descriptors();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].id, "pathops.harbor");
        assert_eq!(d[1].integration_type, IntegrationType::Scm);
        assert!(d[0].capabilities.supports(Capability::HealthCheck));
    }

    #[tokio::test]
    async fn triggering_is_unsupported_unless_implemented() {
        let c = Fixed(Provider::Harbor);
        let i = crate::integration::Integration::new_draft(
            crate::IntegrationId::new(),
            "acme".parse().unwrap(),
            crate::NewIntegration::builder("h", Provider::Harbor, "https://h.example")
                .build()
                .unwrap(),
            "a".parse().unwrap(),
            time::OffsetDateTime::UNIX_EPOCH,
        );
        assert_eq!(
            c.expected_delivery(&i, &DeliveryRequest::HookPing).await,
            None
        );
        let ctx = ConnectorContext::new(Arc::new(i), None, Duration::from_secs(1));
        let r = c
            .trigger_delivery(
                &ctx,
                &DeliveryRequest::WebhookTest {
                    trigger: "push_events".into(),
                },
            )
            .await;
        assert_eq!(r.failure, Some(FailureCode::Unsupported));
        assert_eq!(r.message, "webhook_test is not supported by harbor");
    }

    #[test]
    fn capabilities_refuse_what_is_not_offered() {
        let caps = Fixed(Provider::Harbor).capabilities();
        assert!(caps.require(Capability::HealthCheck, "harbor").is_ok());
        let err = caps.require(Capability::WebhookTest, "harbor").unwrap_err();
        assert!(matches!(
            err,
            Error::Unsupported {
                operation: "webhook_test",
                ..
            }
        ));
        assert_eq!(
            serde_json::to_value(&caps).unwrap(),
            json!(["test_connection", "health_check"])
        );
    }

    #[test]
    fn token_expiry_reads_times_and_dates_and_ignores_the_rest() {
        let with = |v: serde_json::Value| {
            CheckResult::passed(Duration::ZERO, "ok").with_detail(detail::TOKEN_EXPIRES_AT, v)
        };
        assert_eq!(
            with(json!("2026-12-10T08:30:00Z")).token_expires_at(),
            Some(time::macros::datetime!(2026-12-10 08:30 UTC))
        );
        assert_eq!(
            with(json!("2026-12-10")).token_expires_at(),
            Some(time::macros::datetime!(2026-12-10 00:00 UTC))
        );
        assert_eq!(with(json!("next week")).token_expires_at(), None);
        assert_eq!(with(json!(20261210)).token_expires_at(), None);
        assert_eq!(
            CheckResult::passed(Duration::ZERO, "ok").token_expires_at(),
            None
        );
    }

    #[test]
    fn a_failure_code_from_a_newer_version_reads_as_unknown() {
        let newer = json!({"code": "plugin_preempted", "after_ms": 5000});
        let code = serde_json::from_value::<FailureCode>(newer).unwrap();
        assert_eq!(code, FailureCode::Unknown);
        assert_eq!(code.as_str(), "unknown");
        let stored = json!({
            "reachability": "failed", "authentication": "not_checked", "latency": 5000,
            "failure": {"code": "plugin_preempted"}, "message": "m", "details": {}
        });
        let result = serde_json::from_value::<CheckResult>(stored).unwrap();
        assert_eq!(result.failure, Some(FailureCode::Unknown));
        // A known code still reads as itself.
        let known = serde_json::from_value::<FailureCode>(json!({"code": "dns"})).unwrap();
        assert_eq!(known, FailureCode::Dns);
    }

    #[test]
    fn failure_codes_derive_probes_and_serialize_with_data() {
        let r = CheckResult::failed(FailureCode::Dns, Duration::ZERO, "no such host");
        assert_eq!(
            (r.reachability, r.authentication),
            (Probe::Failed, Probe::NotChecked)
        );
        let r = CheckResult::failed(FailureCode::Unauthenticated, Duration::ZERO, "401");
        assert_eq!(
            (r.reachability, r.authentication),
            (Probe::Passed, Probe::Failed)
        );
        let code = FailureCode::PermissionDenied {
            missing_scope: Some("api".into()),
        };
        assert_eq!(code.as_str(), "permission_denied");
        let v = serde_json::to_value(&code).unwrap();
        assert_eq!(
            v,
            json!({"code": "permission_denied", "missing_scope": "api"})
        );
        assert_eq!(serde_json::from_value::<FailureCode>(v).unwrap(), code);
        let limited = FailureCode::RateLimited {
            reset_at: Some(time::macros::datetime!(2026-11-21 12:00 UTC)),
        };
        let v = serde_json::to_value(&limited).unwrap();
        assert_eq!(
            v,
            json!({"code": "rate_limited", "reset_at": "2026-11-21T12:00:00Z"})
        );
        assert_eq!(serde_json::from_value::<FailureCode>(v).unwrap(), limited);
        let passed =
            CheckResult::passed(Duration::from_millis(12), "ok").with_detail("version", "17.5");
        assert!(passed.is_success());
        let v = serde_json::to_value(&passed).unwrap();
        assert_eq!(v["latency"], json!(12));
        assert_eq!(serde_json::from_value::<CheckResult>(v).unwrap(), passed);
    }
}
