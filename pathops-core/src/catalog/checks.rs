//! Connection tests and health checks: run the connector under a deadline, then record the
//! evidence and apply the lifecycle in one atomic write.

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use tracing::{Span, instrument};

use super::{AuditParts, CHECK_WRITE_ATTEMPTS, Catalog, Principal, Scope};
use crate::audit::AuditAction;
use crate::connector::{Capability, CheckResult, ConnectorContext, FailureCode};
use crate::error::{Error, Result};
use crate::event::EventType;
use crate::health::{
    CheckKind, FlapPolicy, HealthCheckRecord, HealthStatus, HealthSummary, TimeRange,
};
use crate::id::IntegrationId;
use crate::integration::{FieldChange, Integration};
use crate::lifecycle::{LifecycleEvent, transition};
use crate::secret::{ResolveContext, SecretPurpose};
use crate::store::{AuditSeal, HealthFields, HealthWrite};
use crate::validate::Problem;

/// Whether `e` is the policy refusing a reference (as opposed to a resolver failing).
pub(crate) fn is_denial(e: &Error) -> bool {
    let Error::Validation(v) = e else {
        return false;
    };
    match &v.problem {
        Problem::AuthRefDenied(_) => true,
        Problem::AtKey { problem, .. } => matches!(**problem, Problem::AuthRefDenied(_)),
        _ => false,
    }
}

/// What a connection test or health check found, and the integration after it was recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct TestReport {
    /// The integration as stored after the check.
    pub integration: Integration,
    /// What the connector reported.
    pub result: CheckResult,
    /// The `health_checks` row written.
    pub record: HealthCheckRecord,
}

/// An integration's health: the latest check, the history in a window and its summary.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthReport {
    /// The most recent check ever recorded.
    pub latest: Option<HealthCheckRecord>,
    /// Checks in the window, newest first.
    pub history: Vec<HealthCheckRecord>,
    /// Summary over the window.
    pub summary: HealthSummary,
    /// Summary over the last 24 hours.
    pub last_24h: HealthSummary,
    /// Summary over the last 7 days.
    pub last_7d: HealthSummary,
    /// Summary over the last 30 days.
    pub last_30d: HealthSummary,
    /// Whether the integration is flapping now.
    pub flapping: bool,
}

/// One microsecond: the resolution of stored times, so `now + MICROSECOND` includes `now`.
const MICROSECOND: time::Duration = time::Duration::microseconds(1);

/// How a check result is written (one is built per check and consumed at once, so the size of
/// the variants does not matter).
#[allow(clippy::large_enum_variant)]
enum CheckWrite {
    /// A lifecycle change: a versioned, audited update.
    Lifecycle(crate::store::Mutation),
    /// Health only: no version change, audited when an actor asked for it.
    Health(HealthWrite),
}

impl Catalog {
    /// Tests an integration's connection now: resolves its auth ref, runs the connector's
    /// connection test under the check deadline, records a `health_checks` row, applies the
    /// lifecycle and audits it, atomically. A missing connector, an invalid configuration or
    /// an auth ref that does not resolve is recorded as a failed check with its own failure
    /// code. Paused integrations are never contacted: testing one is
    /// [`Error::InvalidTransition`].
    #[instrument(name = "catalog.test_connection", skip_all, fields(tenant_id = %principal.tenant, integration_id = %id, provider, action = "test_connection"))]
    pub async fn test_connection(
        &self,
        principal: &Principal,
        id: IntegrationId,
    ) -> Result<TestReport> {
        self.check_now(principal, id, CheckKind::ConnectionTest)
            .await
    }

    /// Runs the connector's (cheaper) health check and records it like
    /// [`test_connection`](Self::test_connection). Used by the health monitor.
    #[instrument(name = "catalog.check_health", skip_all, fields(tenant_id = %principal.tenant, integration_id = %id, provider, action = "check_health"))]
    pub async fn check_health(
        &self,
        principal: &Principal,
        id: IntegrationId,
    ) -> Result<TestReport> {
        self.check_now(principal, id, CheckKind::HealthCheck).await
    }

    /// Records a check result obtained elsewhere: history row, lifecycle thresholds, audit
    /// entry and healthy/unhealthy events on a change of health. A passing result can activate
    /// an integration nothing contacted, so this needs [`Scope::IntegrationsSystem`] as well as
    /// admin; the doctor and the monitor record their own results without it.
    #[instrument(name = "catalog.record_health", skip_all, fields(tenant_id = %principal.tenant, integration_id = %id, provider, action = "record_health"))]
    pub async fn record_health(
        &self,
        principal: &Principal,
        id: IntegrationId,
        kind: CheckKind,
        result: CheckResult,
    ) -> Result<TestReport> {
        principal.require(Scope::IntegrationsSystem)?;
        self.record_own_health(principal, id, kind, result).await
    }

    /// [`record_health`](Self::record_health) for a result the catalog's own components (the
    /// doctor) obtained.
    pub(crate) async fn record_own_health(
        &self,
        principal: &Principal,
        id: IntegrationId,
        kind: CheckKind,
        result: CheckResult,
    ) -> Result<TestReport> {
        principal.require(Scope::IntegrationsAdmin)?;
        let integration = self.load(principal, id).await?;
        Span::current().record("provider", integration.provider.as_str());
        self.apply_check(principal, integration, kind, result).await
    }

    /// Records that a check was not run (offline mode, egress policy, …): a `skipped` history
    /// row and an audit entry, with no lifecycle change and no network call. Needs
    /// [`Scope::IntegrationsSystem`], like [`record_health`](Self::record_health).
    #[instrument(name = "catalog.record_skipped", skip_all, fields(tenant_id = %principal.tenant, integration_id = %id, provider, action = "record_skipped"))]
    pub async fn record_skipped(
        &self,
        principal: &Principal,
        id: IntegrationId,
        kind: CheckKind,
        reason: &str,
    ) -> Result<HealthCheckRecord> {
        principal.require(Scope::IntegrationsSystem)?;
        self.record_own_skip(principal, id, kind, reason).await
    }

    /// [`record_skipped`](Self::record_skipped) for the catalog's own components (the monitor).
    pub(crate) async fn record_own_skip(
        &self,
        principal: &Principal,
        id: IntegrationId,
        kind: CheckKind,
        reason: &str,
    ) -> Result<HealthCheckRecord> {
        principal.require(Scope::IntegrationsAdmin)?;
        let mut integration = self.load(principal, id).await?;
        Span::current().record("provider", integration.provider.as_str());
        let now = self.now();
        let record = HealthCheckRecord {
            id: uuid::Uuid::now_v7(),
            tenant_id: principal.tenant.clone(),
            integration_id: id,
            checked_at: now,
            kind,
            status: crate::health::HealthStatus::Skipped,
            failure: None,
            latency_ms: None,
            message: format!("skipped: {reason}"),
            details: serde_json::Map::new(),
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let write = HealthWrite {
                record: record.clone(),
                version: integration.version,
                expected: integration.lifecycle_state(),
                health: None,
                audit: None,
                events: Vec::new(),
                seal: AuditSeal::default(),
            };
            match self.inner.store.record_check(write).await {
                Ok(_) => return Ok(record),
                Err(Error::Conflict { .. }) if attempt < CHECK_WRITE_ATTEMPTS => {
                    integration = self.load(principal, id).await?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The latest check, the checks in `range` (newest first, at most `limit`), the summary
    /// of `range` and of the last 24 hours, 7 days and 30 days, and whether the integration is
    /// flapping. Summaries are computed by the store (in SQL on the SQL backends).
    #[instrument(name = "catalog.health", skip_all, fields(tenant_id = %principal.tenant, integration_id = %id, action = "health"))]
    pub async fn health(
        &self,
        principal: &Principal,
        id: IntegrationId,
        range: TimeRange,
        limit: u32,
    ) -> Result<HealthReport> {
        principal.require(Scope::IntegrationsRead)?;
        let store = &self.inner.store;
        let tenant = &principal.tenant;
        // Fails with NotFound for another tenant's or a deleted integration.
        let integration = self.load(principal, id).await?;
        let latest = store
            .health_history(tenant, id, TimeRange::all(), 1)
            .await?
            .into_iter()
            .next();
        let history = store.health_history(tenant, id, range, limit).await?;
        let summary = store.health_summary(tenant, id, range).await?;
        let now = self.now();
        let mut windows = Vec::with_capacity(3);
        for days in [1, 7, 30] {
            let window = TimeRange::new(now - time::Duration::days(days), now + MICROSECOND);
            windows.push(store.health_summary(tenant, id, window).await?);
        }
        let [last_24h, last_7d, last_30d]: [HealthSummary; 3] =
            windows.try_into().expect("three windows");
        Ok(HealthReport {
            latest,
            history,
            summary,
            last_24h,
            last_7d,
            last_30d,
            flapping: integration.flapping,
        })
    }

    /// Runs the connection test (or health check) of an integration without recording
    /// anything: the caller records a combined result with [`record_health`](Self::record_health).
    /// Used by the doctor, which adds webhook and ping results to the evidence. Paused
    /// integrations are refused before anything is contacted.
    pub async fn probe(
        &self,
        principal: &Principal,
        id: IntegrationId,
        kind: CheckKind,
    ) -> Result<(Integration, CheckResult)> {
        principal.require(Scope::IntegrationsAdmin)?;
        let integration = self.load(principal, id).await?;
        transition(
            integration.lifecycle_state(),
            LifecycleEvent::CheckPassed,
            &self.inner.policy,
        )?;
        let result = self.execute_check(&integration, kind).await;
        Ok((integration, result))
    }

    /// Resolves one of `integration`'s references for `purpose`: refused with
    /// [`Problem::AuthRefDenied`](crate::Problem::AuthRefDenied) when the catalog's
    /// [`AuthRefPolicy`](crate::secret::AuthRefPolicy) does not allow it for the integration's
    /// tenant (rows written before the policy existed), else resolved with the tenant's
    /// [`ResolveContext`].
    pub(crate) async fn resolve_for(
        &self,
        integration: &Integration,
        purpose: SecretPurpose,
        (field, key): (&'static str, Option<&str>),
        auth_ref: &crate::AuthRef,
    ) -> Result<secrecy::SecretString> {
        self.inner
            .auth_refs
            .check_field(&integration.tenant_id, field, key, auth_ref)?;
        let ctx = ResolveContext::for_integration(integration, purpose);
        self.inner.secrets.resolve(&ctx, auth_ref).await
    }

    /// The deadline of one check.
    pub(crate) fn check_timeout(&self) -> std::time::Duration {
        self.inner.check_timeout
    }

    /// The catalog's clock.
    pub(crate) fn clock(&self) -> &Arc<dyn crate::Clock> {
        &self.inner.clock
    }

    /// Runs the health check of an integration the caller has just loaded (the health monitor,
    /// which reads it for its schedule), recorded like [`check_health`](Self::check_health),
    /// without reading it a second time.
    #[instrument(name = "catalog.check_health", skip_all, fields(tenant_id = %principal.tenant, integration_id = %integration.id, provider = %integration.provider, action = "check_health"))]
    pub(crate) async fn check_loaded(
        &self,
        principal: &Principal,
        integration: Integration,
    ) -> Result<TestReport> {
        principal.require(Scope::IntegrationsAdmin)?;
        if integration.tenant_id != principal.tenant {
            return Err(Error::integration_not_found(integration.id));
        }
        self.run_check(principal, integration, CheckKind::HealthCheck)
            .await
    }

    /// Loads an integration of the principal's tenant and checks it now.
    async fn check_now(
        &self,
        principal: &Principal,
        id: IntegrationId,
        kind: CheckKind,
    ) -> Result<TestReport> {
        principal.require(Scope::IntegrationsAdmin)?;
        let integration = self.load(principal, id).await?;
        Span::current().record("provider", integration.provider.as_str());
        self.run_check(principal, integration, kind).await
    }

    pub(super) async fn run_check(
        &self,
        principal: &Principal,
        integration: Integration,
        kind: CheckKind,
    ) -> Result<TestReport> {
        // Refuse before contacting anything: paused integrations are never contacted.
        transition(
            integration.lifecycle_state(),
            LifecycleEvent::CheckPassed,
            &self.inner.policy,
        )?;
        let result = self.execute_check(&integration, kind).await;
        self.apply_check(principal, integration, kind, result).await
    }

    /// Runs the connector; every way it can fail becomes a failed [`CheckResult`].
    async fn execute_check(&self, integration: &Integration, kind: CheckKind) -> CheckResult {
        let started = Instant::now();
        let provider = &integration.provider;
        let Some(connector) = self.connector(provider) else {
            return CheckResult::failed(
                FailureCode::NoConnector,
                started.elapsed(),
                format!("no connector is registered for provider {provider}"),
            );
        };
        if let Err(e) = connector.validate_config(&integration.configuration).await {
            return CheckResult::failed(
                FailureCode::InvalidConfig,
                started.elapsed(),
                e.to_string(),
            );
        }
        let capabilities = connector.capabilities();
        let use_health =
            kind == CheckKind::HealthCheck && capabilities.supports(Capability::HealthCheck);
        if !use_health && !capabilities.supports(Capability::TestConnection) {
            return CheckResult::failed(
                FailureCode::Unsupported,
                started.elapsed(),
                format!("the {provider} connector offers no connection test"),
            );
        }
        let secret = match &integration.auth_ref {
            None => None,
            Some(auth_ref) => match self
                .resolve_for(
                    integration,
                    SecretPurpose::Credential,
                    ("auth_ref", None),
                    auth_ref,
                )
                .await
            {
                Ok(secret) => Some(secret),
                Err(e) => {
                    let code = if is_denial(&e) {
                        FailureCode::AuthRefDenied
                    } else {
                        FailureCode::SecretUnresolved
                    };
                    return CheckResult::failed(code, started.elapsed(), e.to_string());
                }
            },
        };
        let timeout = self.inner.check_timeout;
        let ctx = ConnectorContext::new(Arc::new(integration.clone()), secret, timeout);
        let check = async {
            if use_health {
                connector.check_health(&ctx).await
            } else {
                connector.test_connection(&ctx).await
            }
        };
        match tokio::time::timeout(timeout + crate::connector::DEADLINE_GRACE, check).await {
            Ok(result) => result,
            Err(_) => CheckResult::failed(
                FailureCode::Timeout,
                started.elapsed(),
                format!("the check did not finish within {} ms", timeout.as_millis()),
            ),
        }
    }

    /// Records `result` against `integration`, re-reading and re-applying it if the
    /// integration changed concurrently, so the evidence is never dropped on a conflict.
    async fn apply_check(
        &self,
        principal: &Principal,
        mut integration: Integration,
        kind: CheckKind,
        result: CheckResult,
    ) -> Result<TestReport> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (write, record, after) = self
                .check_write(principal, integration.clone(), kind, &result)
                .await?;
            let written = match write {
                CheckWrite::Lifecycle(mutation) => self
                    .inner
                    .store
                    .apply(mutation)
                    .await
                    .map(|outcome| outcome.integration),
                CheckWrite::Health(write) => {
                    self.inner.store.record_check(write).await.map(|_| after)
                }
            };
            match written {
                Ok(stored) => {
                    tracing::info!(
                        kind = kind.as_str(),
                        status = %stored.status,
                        failure_code = result.failure.as_ref().map(FailureCode::as_str),
                        latency_ms = u64::try_from(result.latency.as_millis()).unwrap_or(u64::MAX),
                        message = %result.message,
                        "check recorded"
                    );
                    self.record_check_metrics(&stored, &result);
                    metrics::counter!("integration_crud_total", "action" => "check").increment(1);
                    return Ok(TestReport {
                        integration: stored,
                        result,
                        record,
                    });
                }
                Err(Error::Conflict { .. }) if attempt < CHECK_WRITE_ATTEMPTS => {
                    integration = self.load(principal, integration.id).await?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Whether `integration` flaps once `success` is recorded at `now`: counts the health
    /// changes in the policy's window. Reads history only when health changes or the
    /// integration is flapping already.
    async fn flapping_after(
        &self,
        integration: &Integration,
        success: bool,
        now: time::OffsetDateTime,
    ) -> Result<(bool, u32)> {
        let flap = &self.inner.flap;
        let changed = integration.last_test_success != Some(success);
        if !flap.is_enabled() || (!changed && !integration.flapping) {
            return Ok((integration.flapping && flap.is_enabled(), 0));
        }
        let window = time::Duration::try_from(flap.window).unwrap_or(time::Duration::MAX);
        let range = TimeRange::new(now.checked_sub(window).unwrap_or(now), now + MICROSECOND);
        // Enough rows to see more than `max_changes` changes, bounded.
        let limit = flap.max_changes.saturating_mul(4).clamp(16, 1000);
        let mut recent = self
            .inner
            .store
            .health_history(&integration.tenant_id, integration.id, range, limit)
            .await?;
        recent.reverse();
        let now_status = if success {
            HealthStatus::Healthy
        } else {
            HealthStatus::Unhealthy
        };
        let changes = FlapPolicy::changes(
            recent
                .iter()
                .map(|r| r.status)
                .chain(std::iter::once(now_status)),
        );
        Ok((changes > flap.max_changes, changes))
    }

    async fn check_write(
        &self,
        principal: &Principal,
        mut integration: Integration,
        kind: CheckKind,
        result: &CheckResult,
    ) -> Result<(CheckWrite, HealthCheckRecord, Integration)> {
        let success = result.is_success();
        let event = if success {
            LifecycleEvent::CheckPassed
        } else {
            LifecycleEvent::CheckFailed
        };
        let t = transition(integration.lifecycle_state(), event, &self.inner.policy)?;
        let expected_version = integration.version;
        let health_before = integration.last_test_success;
        let was_flapping = integration.flapping;
        let now = self.now();
        let (flapping, changes_in_window) = self.flapping_after(&integration, success, now).await?;
        integration.apply_transition(&t);
        integration.last_tested_at = Some(now);
        integration.last_test_success = Some(success);
        integration.flapping = flapping;

        let record = HealthCheckRecord::from_result(
            principal.tenant.clone(),
            integration.id,
            kind,
            now,
            result,
        );
        let mut changes = Vec::new();
        if t.status_changed() {
            changes.push(FieldChange::new("status", &t.from.status, &t.to.status));
        }
        if t.from.verified != t.to.verified {
            changes.push(FieldChange::new(
                "verified",
                &t.from.verified,
                &t.to.verified,
            ));
        }
        if health_before != Some(success) {
            changes.push(FieldChange::new(
                "last_test_success",
                &health_before,
                &Some(success),
            ));
        }
        if was_flapping != flapping {
            changes.push(FieldChange::new("flapping", &was_flapping, &flapping));
        }
        changes.push(FieldChange::new(
            "consecutive_failures",
            &t.from.consecutive_failures,
            &t.to.consecutive_failures,
        ));

        let lifecycle_changed = t.status_changed() || t.from.verified != t.to.verified;
        let version_after = expected_version + u64::from(lifecycle_changed);
        let mut events = Vec::new();
        let health_event = |settled: bool| {
            let event_type = if success {
                EventType::Healthy
            } else {
                EventType::Unhealthy
            };
            let mut data = json!({
                "status": integration.status,
                "failure_code": result.failure.as_ref().map(FailureCode::as_str),
                "message": result.message,
            });
            if settled {
                data["flapping_ended"] = json!(true);
            }
            (event_type, data)
        };
        match (was_flapping, flapping) {
            (false, true) => events.push((
                EventType::Flapping,
                json!({
                    "status": integration.status,
                    "changes": changes_in_window,
                    "window_seconds": self.inner.flap.window.as_secs(),
                    "max_changes": self.inner.flap.max_changes,
                }),
            )),
            // It settled: say where it ended up.
            (true, false) => events.push(health_event(true)),
            (true, true) => {}
            (false, false) if health_before != Some(success) => events.push(health_event(false)),
            (false, false) => {}
        }
        if t.status_changed() {
            events.push((
                EventType::Updated,
                json!({ "status": t.to.status, "previous_status": t.from.status }),
            ));
        }
        let action = match kind {
            CheckKind::HealthCheck => AuditAction::HealthRecorded,
            CheckKind::ConnectionTest | CheckKind::Doctor => AuditAction::Tested,
        };
        let mut audit = AuditParts::new(action, changes);
        audit.reason = result.failure.as_ref().map(|f| f.as_str().to_owned());

        if lifecycle_changed {
            integration.modified_at = now;
            integration.modified_by = principal.actor.clone();
            let mut mutation = self.update_mutation(
                principal,
                integration.clone(),
                expected_version,
                audit,
                &events,
            );
            if let crate::store::Change::Update { write_health, .. } = &mut mutation.change {
                *write_health = true;
            }
            mutation.health_check = Some(record.clone());
            mutation.seal = self.seal_for(&principal.tenant).await?;
            integration.version = version_after;
            return Ok((CheckWrite::Lifecycle(mutation), record, integration));
        }
        // A scheduled check that changes no lifecycle state leaves no audit entry; a test an
        // actor asked for (a connection test, a doctor run) always does.
        let audit = (kind != CheckKind::HealthCheck)
            .then(|| audit.into_record(principal, integration.id, now));
        let events = super::envelopes(principal, integration.id, expected_version, now, &events);
        // Only an audited write needs the key.
        let seal = match audit {
            Some(_) => self.seal_for(&principal.tenant).await?,
            None => AuditSeal::default(),
        };
        let write = HealthWrite {
            record: record.clone(),
            version: expected_version,
            expected: t.from,
            health: Some(HealthFields {
                last_tested_at: now,
                last_test_success: success,
                consecutive_failures: t.to.consecutive_failures,
                flapping,
            }),
            audit,
            events,
            seal,
        };
        Ok((CheckWrite::Health(write), record, integration))
    }

    fn record_check_metrics(&self, integration: &Integration, result: &CheckResult) {
        let labels = [
            ("type", integration.integration_type.as_str().to_owned()),
            ("tenant", integration.tenant_id.to_string()),
        ];
        metrics::gauge!("integration_health_status", &labels).set(if result.is_success() {
            1.0
        } else {
            0.0
        });
        metrics::histogram!("integration_health_latency_ms", &labels)
            .record(result.latency.as_secs_f64() * 1000.0);
    }
}
