//! [`PluginConnector`]: an out-of-process plugin as an [`IntegrationConnector`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pathops_core::store::PluginState;
use pathops_core::webhook::{DeliveryKind, Expectation};
use pathops_core::{
    Capabilities, CheckResult, Configuration, ConnectorContext, DeliveryRequest, Error,
    FailureCode, Integration, IntegrationConnector, PluginDescriptor, Problem, Provider, Result,
    TenantId, ValidationError,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::PluginOptions;
use super::host::{CallError, Death, Session, SpawnSpec, StderrTail};
use super::manifest::{self, CheckedManifest, PluginMode};
use super::protocol::{
    self, ExpectedDelivery, InitializeResult, InvalidConfig, WireDeliveryRequest, code, method,
};

/// The longest message kept from a plugin's check result, in characters.
const MAX_MESSAGE_CHARS: usize = 1024;

/// An out-of-process plugin serving one provider.
///
/// Long-lived mode keeps one process per tenant (so a plugin never sees two tenants'
/// secrets in one address space), serving up to the manifest's `max_concurrency` calls at
/// once; per-call mode starts a process for every call. Every start re-verifies the
/// executable's checksum and performs the `initialize` handshake; a crash is reported as
/// `plugin_crashed` and the next call restarts the process after a backoff (100 ms, doubling
/// to 30 s, reset by a successful call). A protocol error, a handshake that contradicts the
/// manifest or a changed executable quarantines the plugin: every later call answers
/// `plugin_quarantined` without running anything, until it is discovered again with a new
/// executable or manifest.
#[derive(Debug, Clone)]
pub struct PluginConnector {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    checked: CheckedManifest,
    spec: Arc<SpawnSpec>,
    mode: PluginMode,
    start_timeout: Duration,
    validate_timeout: Duration,
    idle_timeout: Option<Duration>,
    stderr: Arc<StderrTail>,
    /// The executable as last verified (its checksum is not recomputed while unchanged).
    verified: Mutex<Option<manifest::FileStamp>>,
    state: Mutex<Runtime>,
    sessions: tokio::sync::Mutex<HashMap<SessionKey, Arc<Session>>>,
}

/// Whose calls a long-lived process serves.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum SessionKey {
    /// One tenant's checks (and their secrets).
    Tenant(TenantId),
    /// `validate_config`, which belongs to no tenant and carries no secret.
    Validation,
}

#[derive(Debug, Default)]
struct Runtime {
    quarantine: Option<String>,
    failures: u32,
    retry_at: Option<Instant>,
}

/// A failed call, as the check result it becomes.
type Failed = CheckResult;

/// A failed call: the plugin's error answer, if it gave one, and the check result.
type CallFailure = (Option<protocol::RpcError>, Failed);

impl PluginConnector {
    /// The plugin whose manifest is at `manifest_path`, checked (nothing is run).
    pub fn from_manifest(
        manifest_path: &std::path::Path,
        options: &PluginOptions,
    ) -> std::result::Result<Self, manifest::ManifestError> {
        Ok(Self::new(manifest::load(manifest_path)?, options))
    }

    pub(crate) fn new(checked: CheckedManifest, options: &PluginOptions) -> Self {
        let mut argv = options.command_prefix.clone();
        argv.push(checked.executable.display().to_string());
        let mut env: Vec<(String, String)> = options
            .env_allowlist
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| (k.clone(), v)))
            .collect();
        env.push(("PATHOPS_PLUGIN_PROTOCOL".into(), "1".into()));
        let mode = options.force_mode.unwrap_or(checked.manifest.mode);
        let spec = SpawnSpec {
            plugin_id: checked.manifest.plugin_id.clone(),
            argv,
            dir: checked.dir.clone(),
            env,
            max_message_bytes: options.max_message_bytes,
            max_concurrency: checked
                .manifest
                .max_concurrency
                .unwrap_or(options.max_concurrency),
            cancel_grace: options.cancel_grace,
        };
        let unsupported = checked
            .manifest
            .protocol_versions
            .iter()
            .all(|v| !protocol::PROTOCOL_VERSIONS.contains(v));
        let quarantine = unsupported.then(|| {
            format!(
                "no protocol version in common: the host speaks {:?}, the manifest {:?}",
                protocol::PROTOCOL_VERSIONS,
                checked.manifest.protocol_versions
            )
        });
        Self {
            inner: Arc::new(Inner {
                checked,
                spec: Arc::new(spec),
                mode,
                start_timeout: options.start_timeout,
                validate_timeout: options.validate_timeout,
                idle_timeout: options.idle_timeout.filter(|d| !d.is_zero()),
                stderr: Arc::new(StderrTail::new(options.stderr_lines)),
                verified: Mutex::new(None),
                state: Mutex::new(Runtime {
                    quarantine,
                    ..Runtime::default()
                }),
                sessions: tokio::sync::Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The plugin's id.
    pub fn plugin_id(&self) -> &str {
        &self.inner.checked.manifest.plugin_id
    }

    /// The checked manifest.
    pub fn manifest(&self) -> &CheckedManifest {
        &self.inner.checked
    }

    /// `ready`, or `quarantined` with the reason.
    pub fn state(&self) -> PluginState {
        match &self.runtime().quarantine {
            Some(reason) => PluginState::Quarantined {
                reason: reason.clone(),
            },
            None => PluginState::Ready,
        }
    }

    /// The ids of the plugin processes running now (one per tenant in long-lived mode).
    pub async fn pids(&self) -> Vec<u32> {
        let sessions = self.inner.sessions.lock().await;
        sessions
            .values()
            .filter(|s| s.death().is_none())
            .map(|s| s.pid())
            .collect()
    }

    /// The last lines of the plugin's stderr (secrets it was given redacted).
    pub fn stderr_tail(&self) -> Vec<String> {
        self.inner.stderr.lines()
    }

    /// Stops every process of this plugin (`shutdown`, stdin closed, SIGTERM, SIGKILL).
    pub async fn shutdown(&self) {
        let sessions: Vec<_> = self.inner.sessions.lock().await.drain().collect();
        for (_, session) in sessions {
            session.shutdown().await;
        }
    }

    fn runtime(&self) -> std::sync::MutexGuard<'_, Runtime> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn quarantine(&self, reason: String) {
        tracing::warn!(plugin = %self.plugin_id(), %reason, "plugin quarantined");
        self.runtime().quarantine.get_or_insert(reason);
    }

    fn failed(&self, code: FailureCode, started: Instant, message: String) -> Failed {
        CheckResult::failed(code, started.elapsed(), message)
    }

    /// A process ready for a call of `tenant`: the tenant's running one, or a new one
    /// (after the crash backoff, the checksum and the handshake).
    async fn session(
        &self,
        key: SessionKey,
        deadline: Instant,
        started: Instant,
    ) -> std::result::Result<Arc<Session>, Failed> {
        if self.inner.mode == PluginMode::PerCall {
            return self.start(deadline, started).await;
        }
        let mut sessions = self.inner.sessions.lock().await;
        if let Some(session) = sessions.get(&key) {
            if session.death().is_none() {
                return Ok(session.clone());
            }
            sessions.remove(&key);
        }
        let session = self.start(deadline, started).await?;
        if sessions.is_empty() {
            self.reap_idle();
        }
        sessions.insert(key, session.clone());
        Ok(session)
    }

    /// Stops long-lived processes that served no call for [`PluginOptions::idle_timeout`],
    /// checking every half of it, until none is left (the next start begins again).
    fn reap_idle(&self) {
        let Some(timeout) = self.inner.idle_timeout else {
            return;
        };
        let inner = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(timeout / 2).await;
                let Some(inner) = inner.upgrade() else { return };
                let mut sessions = inner.sessions.lock().await;
                let idle: Vec<SessionKey> = sessions
                    .iter()
                    .filter(|(_, s)| {
                        s.death().is_some() || s.idle_for().is_some_and(|d| d >= timeout)
                    })
                    .map(|(k, _)| k.clone())
                    .collect();
                let stopping: Vec<_> = idle.iter().filter_map(|k| sessions.remove(k)).collect();
                let empty = sessions.is_empty();
                drop(sessions);
                for session in stopping {
                    session.shutdown().await;
                }
                if empty {
                    return;
                }
            }
        });
    }

    async fn start(
        &self,
        deadline: Instant,
        started: Instant,
    ) -> std::result::Result<Arc<Session>, Failed> {
        let id = self.plugin_id().to_owned();
        if let Some(reason) = &self.runtime().quarantine {
            return Err(self.failed(
                FailureCode::PluginQuarantined,
                started,
                format!("the plugin {id} is quarantined: {reason}"),
            ));
        }
        let retry_at = self.runtime().retry_at;
        if let Some(at) = retry_at {
            let now = Instant::now();
            if at > now {
                if at >= deadline {
                    return Err(self.failed(
                        FailureCode::PluginCrashed,
                        started,
                        format!(
                            "the plugin {id} is restarting after a crash; the next start is in {} ms{}",
                            (at - now).as_millis(),
                            self.inner.stderr.suffix()
                        ),
                    ));
                }
                tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
            }
        }
        if let Err(reason) = self.verify() {
            self.quarantine(reason.clone());
            return Err(self.failed(
                FailureCode::PluginQuarantined,
                started,
                format!("the plugin {id} is quarantined: {reason}"),
            ));
        }
        let session =
            Session::spawn(self.inner.spec.clone(), self.inner.stderr.clone()).map_err(|e| {
                self.crashed();
                self.failed(
                    FailureCode::PluginCrashed,
                    started,
                    format!("the plugin {id} could not be started: {e}"),
                )
            })?;
        let handshake_deadline = deadline.min(Instant::now() + self.inner.start_timeout);
        let params = json!({
            "protocol_versions": protocol::PROTOCOL_VERSIONS,
            "host_version": env!("CARGO_PKG_VERSION"),
        });
        let answer = session
            .call(method::INITIALIZE, params, None, handshake_deadline)
            .await;
        let verdict = match answer {
            Ok(value) => match serde_json::from_value::<InitializeResult>(value) {
                Ok(init) => self.contradiction(&init).map(|reason| {
                    (
                        FailureCode::PluginProtocolError,
                        format!("its initialize answer contradicts its manifest: {reason}"),
                    )
                }),
                Err(e) => Some((
                    FailureCode::PluginProtocolError,
                    format!("its initialize answer does not parse: {e}"),
                )),
            },
            Err(CallError::Rpc(e)) if e.code == code::INVALID_PARAMS => Some((
                FailureCode::PluginProtocolError,
                format!(
                    "no protocol version in common: the host speaks {:?}, the plugin answered: {}{}",
                    protocol::PROTOCOL_VERSIONS,
                    e.message,
                    e.data.map(|d| format!(" ({d})")).unwrap_or_default()
                ),
            )),
            Err(e) => {
                let failed = self.call_failed(method::INITIALIZE, e, started);
                session.end(Death::Shutdown);
                return Err(failed);
            }
        };
        if let Some((code, reason)) = verdict {
            session.end(Death::Protocol(reason.clone()));
            self.quarantine(reason.clone());
            return Err(self.failed(
                code,
                started,
                format!("the plugin {id} is quarantined: {reason}"),
            ));
        }
        Ok(session)
    }

    /// Whether the executable still has the manifest's checksum (hashed again whenever the
    /// file changed since the last verification).
    pub(crate) fn verify(&self) -> std::result::Result<(), String> {
        manifest::verify_checksum_cached(&self.inner.checked, &self.inner.verified)
    }

    /// What in `init` differs from the manifest, if anything.
    fn contradiction(&self, init: &InitializeResult) -> Option<String> {
        let m = &self.inner.checked.manifest;
        let differ = |field: &str, got: &dyn std::fmt::Debug, want: &dyn std::fmt::Debug| {
            Some(format!("{field} is {got:?}; the manifest says {want:?}"))
        };
        if !protocol::PROTOCOL_VERSIONS.contains(&init.protocol_version)
            || !m.protocol_versions.contains(&init.protocol_version)
        {
            return differ(
                "protocol_version",
                &init.protocol_version,
                &m.protocol_versions,
            );
        }
        if init.plugin_id != m.plugin_id {
            return differ("plugin_id", &init.plugin_id, &m.plugin_id);
        }
        if init.version != m.version {
            return differ("version", &init.version, &m.version);
        }
        if init.provider != m.provider {
            return differ("provider", &init.provider, &m.provider);
        }
        if init.integration_type != m.integration_type {
            return differ(
                "integration_type",
                &init.integration_type,
                &m.integration_type,
            );
        }
        if init.capabilities != m.capabilities {
            return differ("capabilities", &init.capabilities, &m.capabilities);
        }
        None
    }

    fn crashed(&self) {
        let mut runtime = self.runtime();
        runtime.failures = runtime.failures.saturating_add(1);
        let backoff = Duration::from_millis(100)
            .saturating_mul(1 << (runtime.failures - 1).min(9))
            .min(Duration::from_secs(30));
        runtime.retry_at = Some(Instant::now() + backoff);
    }

    fn succeeded(&self) {
        let mut runtime = self.runtime();
        runtime.failures = 0;
        runtime.retry_at = None;
    }

    /// The check result for a failed call (and the bookkeeping: backoff, quarantine).
    fn call_failed(&self, method: &str, error: CallError, started: Instant) -> Failed {
        let id = self.plugin_id().to_owned();
        let tail = || self.inner.stderr.suffix();
        match error {
            CallError::Rpc(e) => {
                let code = match e.code {
                    code::METHOD_NOT_FOUND => FailureCode::Unsupported,
                    code::REQUEST_CANCELLED => FailureCode::PluginTimeout,
                    code::INVALID_PARAMS => FailureCode::PluginProtocolError,
                    _ => FailureCode::PluginCrashed,
                };
                self.failed(
                    code,
                    started,
                    format!(
                        "the plugin {id} answered {method} with error {}: {}",
                        e.code,
                        bounded(&self.inner.stderr.redact(&e.message))
                    ),
                )
            }
            CallError::Timeout { killed } => {
                if killed {
                    self.crashed();
                }
                self.failed(
                    FailureCode::PluginTimeout,
                    started,
                    format!(
                        "the plugin {id} did not answer {method} within {} ms{}",
                        started.elapsed().as_millis(),
                        if killed {
                            ", nor after $/cancel: its process group was killed"
                        } else {
                            " (it acknowledged $/cancel)"
                        }
                    ),
                )
            }
            CallError::Ended(Death::Protocol(reason)) => {
                self.quarantine(reason.clone());
                self.failed(
                    FailureCode::PluginProtocolError,
                    started,
                    format!("the plugin {id} broke the protocol and is quarantined: {reason}"),
                )
            }
            CallError::Ended(death) => {
                self.crashed();
                let how = match death {
                    Death::Crashed(how) | Death::Killed(how) => how,
                    Death::Shutdown | Death::Protocol(_) => "it was shut down".to_owned(),
                };
                self.failed(
                    FailureCode::PluginCrashed,
                    started,
                    format!("the plugin {id} crashed during {method}: {how}{}", tail()),
                )
            }
        }
    }

    /// One call with the integration's tenant, secret and deadline.
    async fn invoke(
        &self,
        method: &str,
        mut params: Value,
        key: SessionKey,
        secret: Option<&SecretString>,
        deadline: Instant,
    ) -> std::result::Result<Value, CallFailure> {
        let started = Instant::now();
        let session = self
            .session(key, deadline, started)
            .await
            .map_err(|failed| (None, failed))?;
        // The time left once the process is ready (a start takes some of it).
        if let Some(left) = params.get_mut("deadline_ms") {
            let remaining = deadline.saturating_duration_since(Instant::now());
            *left = u64::try_from(remaining.as_millis())
                .unwrap_or(u64::MAX)
                .into();
        }
        let reply = session.call(method, params, secret, deadline).await;
        if self.inner.mode == PluginMode::PerCall {
            tokio::spawn(async move { session.shutdown().await });
        }
        match reply {
            Ok(value) => {
                self.succeeded();
                Ok(value)
            }
            Err(CallError::Rpc(e)) => {
                // An error answer is a working plugin: no backoff.
                self.succeeded();
                let failed = self.call_failed(method, CallError::Rpc(e.clone()), started);
                Err((Some(e), failed))
            }
            Err(e) => Err((None, self.call_failed(method, e, started))),
        }
    }

    /// A check (`test_connection`, `check_health`, `trigger_delivery`) through the plugin.
    async fn check(
        &self,
        method: &str,
        ctx: &ConnectorContext,
        request: Option<WireDeliveryRequest>,
    ) -> CheckResult {
        let started = Instant::now();
        let mut params = json!({
            "integration": &*ctx.integration,
            "secret": ctx.secret.as_ref().map(|s| s.expose_secret()),
            "deadline_ms": u64::try_from(ctx.remaining().as_millis()).unwrap_or(u64::MAX),
        });
        if let Some(request) = request {
            params["request"] = serde_json::to_value(request).unwrap_or(Value::Null);
        }
        let key = SessionKey::Tenant(ctx.integration.tenant_id.clone());
        match self
            .invoke(method, params, key, ctx.secret.as_ref(), ctx.deadline)
            .await
        {
            Ok(value) => match serde_json::from_value::<CheckResult>(value) {
                Ok(mut result) => {
                    // The host measured the call; the plugin's own text is bounded.
                    result.latency = started.elapsed();
                    result.message = bounded(&self.inner.stderr.redact(&result.message));
                    result
                }
                Err(e) => {
                    let reason = format!("its {method} result is not a check result: {e}");
                    self.end_sessions(&reason).await;
                    self.quarantine(reason.clone());
                    self.failed(
                        FailureCode::PluginProtocolError,
                        started,
                        format!(
                            "the plugin {} broke the protocol and is quarantined: {reason}",
                            self.plugin_id()
                        ),
                    )
                }
            },
            Err((_, failed)) => failed,
        }
    }

    async fn end_sessions(&self, reason: &str) {
        for (_, session) in self.inner.sessions.lock().await.drain() {
            session.end(Death::Protocol(reason.to_owned()));
        }
    }
}

/// `text` cut to [`MAX_MESSAGE_CHARS`], without control characters.
fn bounded(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(MAX_MESSAGE_CHARS)
        .collect()
}

#[async_trait]
impl IntegrationConnector for PluginConnector {
    fn provider(&self) -> Provider {
        self.inner.checked.provider.clone()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.checked.manifest.capabilities.clone()
    }

    fn descriptor(&self) -> PluginDescriptor {
        self.inner.checked.descriptor()
    }

    async fn validate_config(&self, configuration: &Configuration) -> Result<()> {
        // Validation belongs to no tenant: it runs in a process of its own, which never sees
        // a secret.
        let timeout = self.inner.validate_timeout;
        let deadline = Instant::now() + timeout;
        let params = json!({ "configuration": configuration });
        match self
            .invoke(
                method::VALIDATE_CONFIG,
                params,
                SessionKey::Validation,
                None,
                deadline,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err((Some(e), _)) if e.code == code::INVALID_CONFIG => {
                Err(validation_error(e.data.as_ref(), &e.message))
            }
            Err((_, failed)) => Err(match failed.failure {
                Some(FailureCode::PluginTimeout) => Error::Timeout {
                    operation: "plugin validate_config",
                    after: timeout,
                },
                _ => Error::Backend {
                    backend: "plugin",
                    source: failed.message.into(),
                },
            }),
        }
    }

    async fn test_connection(&self, ctx: &ConnectorContext) -> CheckResult {
        self.check(method::TEST_CONNECTION, ctx, None).await
    }

    async fn check_health(&self, ctx: &ConnectorContext) -> CheckResult {
        self.check(method::CHECK_HEALTH, ctx, None).await
    }

    async fn expected_delivery(
        &self,
        integration: &Integration,
        request: &DeliveryRequest,
    ) -> Option<(DeliveryKind, Expectation)> {
        if !self.capabilities().supports(request.capability()) {
            return None;
        }
        let wire = WireDeliveryRequest::from_request(request)?;
        let params = json!({ "integration": integration, "request": wire });
        let deadline = Instant::now() + self.inner.validate_timeout;
        let value = self
            .invoke(
                method::EXPECTED_DELIVERY,
                params,
                SessionKey::Tenant(integration.tenant_id.clone()),
                None,
                deadline,
            )
            .await
            .ok()?;
        if value.is_null() {
            return None;
        }
        match serde_json::from_value::<ExpectedDelivery>(value) {
            Ok(expected) => Some((expected.kind, expected.expectation)),
            Err(e) => {
                tracing::warn!(plugin = %self.plugin_id(), error = %e, "unreadable expected_delivery answer");
                None
            }
        }
    }

    async fn trigger_delivery(
        &self,
        ctx: &ConnectorContext,
        request: &DeliveryRequest,
    ) -> CheckResult {
        let capability = request.capability();
        let wire = WireDeliveryRequest::from_request(request);
        match wire {
            Some(wire) if self.capabilities().supports(capability) => {
                self.check(method::TRIGGER_DELIVERY, ctx, Some(wire)).await
            }
            _ => CheckResult::failed(
                FailureCode::Unsupported,
                Duration::ZERO,
                format!(
                    "{} is not supported by the plugin {}",
                    capability.as_str(),
                    self.plugin_id()
                ),
            ),
        }
    }
}

/// The validation error for an `invalid_config` answer's data.
pub(crate) fn validation_error(data: Option<&Value>, message: &str) -> Error {
    let detail: InvalidConfig = data
        .and_then(|d| serde_json::from_value(d.clone()).ok())
        .unwrap_or(InvalidConfig {
            field: String::new(),
            reason: message.to_owned(),
        });
    let reason = bounded(&detail.reason);
    let problem = Problem::Rejected { reason };
    let problem = if detail.field.is_empty() {
        problem
    } else {
        Problem::AtKey {
            key: bounded(&detail.field),
            problem: Box::new(problem),
        }
    };
    ValidationError::new("configuration", problem).into()
}
