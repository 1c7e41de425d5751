//! The [`Doctor`]: checks every selected integration end to end and reports, with fixes.
//!
//! For each integration the doctor resolves its auth ref, tests reachability and
//! authentication (PathOps → tool), then does what the connector's capabilities allow:
//!
//! - **webhook test** (GitLab `POST /projects/:id/hooks/:hook_id/test/:trigger`, GitHub hook
//!   ping, Gitea `POST /repos/{owner}/{repo}/hooks/{id}/tests`): it registers a challenge
//!   *first* (GitLab delivers inside the trigger call), asks the tool to deliver, and waits
//!   for the delivery at the receiver (tool → PathOps), which verifies its secret and
//!   correlates it;
//! - **direct ping** ([`crate::directping`]): both directions, each reported on its own.
//!
//! Every result is evidence: one `health_checks` row and one audit entry per integration,
//! with the lifecycle updated through the [`Catalog`]. Paused integrations are reported as
//! skipped and never contacted. The doctor reports and suggests ([`Finding`]); it never
//! applies a fix and never calls a mutating endpoint other than the test trigger and the ping.
//!
//! Findings come from two places: the doctor's generic ones (a host that does not resolve, a
//! refused credential, a delivery that never arrived, …), which name no provider, and the
//! connector's own ([`IntegrationConnector::findings`]
//! for the connection test, [`delivery_findings`](crate::IntegrationConnector::delivery_findings)
//! for the round trip), which know the vendor's settings, API calls and documentation. The
//! connector's are listed first, and a generic finding with the same code as one of them is
//! dropped, so a new connector or plugin brings its own fixes without a change here.
//!
//! Configuration keys the doctor reads from an integration:
//!
//! | key | meaning |
//! |---|---|
//! | `webhook_secret_ref` | auth ref of the hook's secret token / signing secret |
//! | `webhook_trigger` | GitLab test trigger (default `push_events`) |

mod findings;
mod report;
mod text;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use secrecy::SecretString;
use tracing::instrument;

pub use findings::EXPIRY_WARNING_DAYS;
pub use report::{
    DoctorReport, Finding, IntegrationReport, Outcome, PingCheck, SCHEMA, Severity, Summary,
    WebhookCheck,
};
pub use text::terminal_safe;

use crate::catalog::{Catalog, Principal, Scope};
use crate::connector::{
    Capability, CheckResult, ConnectorContext, DeliveryRequest, FailureCode, IntegrationConnector,
    Probe,
};
use crate::directping::{self, PingRequest};
use crate::error::Result;
use crate::health::CheckKind;
use crate::id::IntegrationId;
use crate::integration::Integration;
use crate::page::{ListFilter, ListQuery, Unreadable};
use crate::secret::{SecretPurpose, refs_at};
use crate::webhook::{
    ChallengeError, ChallengeRegistry, DeliveryKind, Expectation, WebhookSecrets,
};

/// How far a run has got, for a progress display: reported once when the integrations are
/// listed (`done == 0`), then once after each integration is checked. Comes from the run
/// itself, so a display never needs to poll the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Integrations finished (checked, skipped or found unreadable).
    pub done: usize,
    /// Integrations in the run.
    pub total: usize,
}

/// Which integrations a run checks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Selection {
    /// Every integration of the principal's tenant.
    #[default]
    All,
    /// These integrations.
    Ids(Vec<IntegrationId>),
    /// Those matching a filter.
    Filter(ListFilter),
}

/// Builds a [`Doctor`]; setters never fail.
#[derive(Debug)]
pub struct DoctorBuilder {
    catalog: Catalog,
    challenges: Arc<ChallengeRegistry>,
    public_url: Option<String>,
    concurrency: usize,
    delivery_timeout: Duration,
    trigger_spacing: Option<Duration>,
}

/// Checks integrations end to end. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Doctor {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    catalog: Catalog,
    challenges: Arc<ChallengeRegistry>,
    public_url: Option<String>,
    concurrency: usize,
    delivery_timeout: Duration,
    trigger_spacing: Option<Duration>,
    /// Per spacing key: when the last trigger call returned, behind a lock held from the
    /// wait through the next trigger call.
    last_trigger: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Instant>>>>>,
}

impl Doctor {
    /// A doctor over `catalog` whose receiver correlates into `challenges`. Defaults: 8 checks
    /// at once, 10 s to wait for a delivery, triggers spaced as each connector's
    /// [`trigger_limit`](IntegrationConnector::trigger_limit) asks (GitLab: 12 s per project
    /// and credential), no public URL (direct ping skipped).
    pub fn builder(catalog: Catalog, challenges: Arc<ChallengeRegistry>) -> DoctorBuilder {
        DoctorBuilder {
            catalog,
            challenges,
            public_url: None,
            concurrency: 8,
            delivery_timeout: Duration::from_secs(10),
            trigger_spacing: None,
        }
    }

    /// Checks the selected integrations of the principal's tenant.
    pub async fn run(&self, principal: &Principal, selection: &Selection) -> Result<DoctorReport> {
        self.run_with_progress(principal, selection, &|_| {}).await
    }

    /// [`run`](Self::run), calling `progress` as integrations finish (see [`Progress`]). The
    /// callback runs on the doctor's task: keep it quick (update a counter, send on a
    /// channel).
    ///
    /// A stored integration that cannot be read back is reported in
    /// [`DoctorReport::unreadable`] and fails the run; every other integration is still
    /// checked.
    #[instrument(name = "doctor.run", skip_all, fields(tenant_id = %principal.tenant, action = "doctor"))]
    pub async fn run_with_progress(
        &self,
        principal: &Principal,
        selection: &Selection,
        progress: &(dyn Fn(Progress) + Send + Sync),
    ) -> Result<DoctorReport> {
        principal.require(Scope::IntegrationsAdmin)?;
        let catalog = &self.inner.catalog;
        let (integrations, unreadable) = match selection {
            Selection::Ids(ids) => {
                let mut out = Vec::with_capacity(ids.len());
                let mut unreadable = Vec::new();
                for id in ids {
                    match catalog.get(principal, *id).await {
                        Ok(integration) => out.push(integration),
                        Err(e @ crate::Error::Corrupt { .. }) => unreadable.push(Unreadable {
                            id: Some(*id),
                            name: None,
                            reason: crate::error::chain(&e),
                        }),
                        Err(e) => return Err(e),
                    }
                }
                (out, unreadable)
            }
            Selection::All => self.list_all(principal, ListFilter::default()).await?,
            Selection::Filter(filter) => self.list_all(principal, filter.clone()).await?,
        };
        let total = integrations.len() + unreadable.len();
        let mut done = unreadable.len();
        progress(Progress { done, total });
        let mut reports: Vec<IntegrationReport> = futures::stream::iter(integrations)
            .map(|integration| self.check_one(principal, integration))
            .buffer_unordered(self.inner.concurrency)
            .inspect(|_| {
                done += 1;
                progress(Progress { done, total });
            })
            .collect()
            .await;
        reports.sort_by(|a, b| (&a.name, a.id).cmp(&(&b.name, b.id)));
        let mut summary = Summary {
            unreadable: unreadable.len(),
            ..Summary::default()
        };
        for r in &reports {
            match r.outcome {
                Outcome::Passed => summary.passed += 1,
                Outcome::Failed => summary.failed += 1,
                Outcome::Skipped => summary.skipped += 1,
            }
        }
        Ok(DoctorReport {
            schema: SCHEMA.to_owned(),
            generated_at: catalog.clock().now(),
            tenant: principal.tenant.clone(),
            summary,
            integrations: reports,
            unreadable,
        })
    }

    /// Every matching integration, and the rows that could not be read.
    async fn list_all(
        &self,
        principal: &Principal,
        filter: ListFilter,
    ) -> Result<(Vec<Integration>, Vec<Unreadable>)> {
        let mut out = Vec::new();
        let mut unreadable = Vec::new();
        let mut query = ListQuery::new(filter).with_limit(ListQuery::MAX_LIMIT);
        loop {
            let page = self.inner.catalog.list(principal, &query).await?;
            out.extend(page.items);
            unreadable.extend(page.unreadable);
            match page.next_cursor {
                Some(cursor) => query.cursor = Some(cursor),
                None => return Ok((out, unreadable)),
            }
        }
    }

    async fn check_one(
        &self,
        principal: &Principal,
        integration: Integration,
    ) -> IntegrationReport {
        let mut report = IntegrationReport {
            id: integration.id,
            name: integration.name.to_string(),
            provider: integration.provider.clone(),
            status: integration.status,
            outcome: Outcome::Skipped,
            reachability: Probe::NotChecked,
            authentication: Probe::NotChecked,
            latency_ms: None,
            failure_code: None,
            message: String::new(),
            webhook: None,
            ping: None,
            findings: Vec::new(),
        };
        if integration.is_paused() {
            report.message = format!(
                "skipped: paused ({})",
                integration
                    .pause_reason
                    .as_deref()
                    .unwrap_or("no reason given")
            );
            return report;
        }
        let catalog = &self.inner.catalog;
        let (integration, test) = match catalog
            .probe(principal, integration.id, CheckKind::Doctor)
            .await
        {
            Ok(probed) => probed,
            Err(e) => {
                report.outcome = Outcome::Failed;
                report.message = e.to_string();
                return report;
            }
        };
        let now = catalog.clock().now();
        report.reachability = test.reachability;
        report.authentication = test.authentication;
        report.latency_ms = u64::try_from(test.latency.as_millis()).ok();
        let connector = catalog.connector(&integration.provider);
        let own = connector
            .as_ref()
            .map(|c| c.findings(&integration, &test))
            .unwrap_or_default();
        report.findings.extend(findings::merge(
            own,
            findings::for_connection(&integration, &test, now),
        ));

        let mut combined = test.clone();
        if let Some(connector) = connector {
            let caps = connector.capabilities();
            // The webhook test needs a working API connection; the direct ping is its own
            // two-way check and runs regardless, so each direction is reported on its own.
            let webhook = match webhook_request(&integration, &caps).filter(|_| test.is_success()) {
                Some(request) => Some((
                    connector.expected_delivery(&integration, &request).await,
                    request,
                )),
                None => None,
            };
            match webhook {
                None => {}
                Some((None, _)) => {
                    // No hook to test: tool → PathOps is unverified, which is worth a warning
                    // but is not a failure of the integration.
                    report.findings.push(findings::webhook_not_configured());
                    report.webhook = Some(WebhookCheck {
                        outcome: Outcome::Skipped,
                        failure_code: None,
                        message: "no hook is configured, so tool → PathOps is not verified"
                            .to_owned(),
                        delivery_id: None,
                        event_id: None,
                    });
                }
                Some((Some(expected), request)) => {
                    // Where this delivery kind is received, for the fixes to name.
                    let receiver = self.inner.public_url.as_deref().map(|u| {
                        format!(
                            "{}/webhooks/{}",
                            u.trim_end_matches('/'),
                            expected.0.as_str()
                        )
                    });
                    let (result, check) = self
                        .webhook_round_trip(&integration, connector.as_ref(), request, expected)
                        .await;
                    report.findings.extend(findings::merge(
                        connector.delivery_findings(&integration, &result),
                        findings::for_webhook(&integration, &result, receiver.as_deref()),
                    ));
                    if !result.is_success() && combined.is_success() {
                        combined = merge_failure(combined, &result);
                    }
                    // The webhook series of the health summary reads this.
                    combined.details.insert(
                        crate::health::WEBHOOK_DELIVERY_DETAIL.to_owned(),
                        serde_json::Value::Bool(result.is_success()),
                    );
                    report.webhook = Some(check);
                }
            }
            if caps.supports(Capability::DirectPing) {
                let (out, back, check) = self.direct_ping(&integration, connector.as_ref()).await;
                report
                    .findings
                    .extend(findings::for_ping(&out, back.as_ref()));
                let failed = if out.is_success() {
                    back.as_ref().filter(|b| !b.is_success())
                } else {
                    Some(&out)
                };
                if let Some(failed) = failed
                    && combined.is_success()
                {
                    combined = merge_failure(combined, failed);
                }
                report.ping = Some(check);
            }
        }
        report.outcome = if combined.is_success() {
            Outcome::Passed
        } else {
            Outcome::Failed
        };
        report.failure_code = combined.failure.as_ref().map(|f| f.as_str().to_owned());
        report.message = combined.message.clone();
        match catalog
            .record_own_health(principal, integration.id, CheckKind::Doctor, combined)
            .await
        {
            Ok(recorded) => report.status = recorded.integration.status,
            Err(e) => {
                report.outcome = Outcome::Failed;
                report.message = format!("{} (recording the result failed: {e})", report.message);
            }
        }
        report
    }

    /// The webhook delivery test: challenge, trigger, wait; reported as one result.
    async fn webhook_round_trip(
        &self,
        integration: &Integration,
        connector: &dyn IntegrationConnector,
        request: DeliveryRequest,
        (kind, expectation): (DeliveryKind, Expectation),
    ) -> (CheckResult, WebhookCheck) {
        let secrets = match self.webhook_secrets(integration).await {
            Ok(secrets) => secrets,
            Err(message) => {
                let result =
                    CheckResult::failed(FailureCode::InvalidConfig, Duration::ZERO, message);
                let check = webhook_check(&result, None);
                return (result, check);
            }
        };
        // The tool's own limit, as its connector declares it (GitLab: per project and user).
        let spacing = connector.trigger_limit(integration, &request).map(|limit| {
            let key = format!("{}|{}", integration.provider, limit.key);
            (key, self.inner.trigger_spacing.unwrap_or(limit.spacing))
        });
        let trip = self
            .round_trip(
                integration,
                connector,
                Challenge {
                    kind,
                    expectation,
                    secrets,
                },
                spacing
                    .as_ref()
                    .map(|(key, spacing)| (key.as_str(), *spacing)),
                |_| request,
            )
            .await;
        let elapsed = trip.started.elapsed();
        let with_trigger_details = |mut result: CheckResult| {
            result.details.extend(trip.trigger.details.clone());
            result
        };
        let (result, correlated) = match trip.delivery {
            None => (trip.trigger.clone(), None),
            Some(Ok(correlated)) => (
                with_trigger_details(CheckResult::passed(
                    elapsed,
                    "the test delivery arrived and verified",
                )),
                Some(correlated),
            ),
            Some(Err(ChallengeError::Rejected(e))) => (
                with_trigger_details(CheckResult::failed(
                    FailureCode::DeliveryRejected,
                    elapsed,
                    format!("a delivery arrived but was rejected: {e}"),
                )),
                None,
            ),
            Some(Err(e)) => (
                with_trigger_details(CheckResult::failed(
                    FailureCode::DeliveryNotReceived,
                    elapsed,
                    format!("the tool accepted the trigger but {e}"),
                )),
                None,
            ),
        };
        let check = webhook_check(&result, correlated.as_ref());
        (result, check)
    }

    /// The direct ping: PathOps → tool (the trigger call) and tool → PathOps (the callback),
    /// each reported on its own.
    async fn direct_ping(
        &self,
        integration: &Integration,
        connector: &dyn IntegrationConnector,
    ) -> (CheckResult, Option<CheckResult>, PingCheck) {
        let Some(public_url) = self.inner.public_url.clone() else {
            let out = CheckResult::failed(
                FailureCode::InvalidConfig,
                Duration::ZERO,
                "no public URL is configured, so the tool cannot call PathOps back",
            );
            let check = PingCheck {
                pathops_to_tool: Probe::NotChecked,
                tool_to_pathops: Probe::NotChecked,
                message: out.message.clone(),
            };
            return (out, None, check);
        };
        let secrets = match self.integration_secret(integration).await {
            Some(secret) => WebhookSecrets::single(secret),
            None => WebhookSecrets::default(),
        };
        let nonce = directping::new_nonce();
        let expectation = Expectation {
            nonce: Some(nonce.clone()),
            ..Expectation::default()
        };
        let callback_url = format!(
            "{}/{}",
            public_url.trim_end_matches('/'),
            directping::CALLBACK_PATH
        );
        let trip = self
            .round_trip(
                integration,
                connector,
                Challenge {
                    kind: DeliveryKind::DirectPing,
                    expectation,
                    secrets,
                },
                None,
                |challenge_id| {
                    DeliveryRequest::DirectPing(PingRequest {
                        challenge_id: challenge_id.to_string(),
                        nonce,
                        callback_url: Some(callback_url),
                    })
                },
            )
            .await;
        let elapsed = trip.started.elapsed();
        // PathOps → tool is the trigger call itself, whatever arrived meanwhile.
        let delivery = match trip.delivery {
            Some(delivery) if trip.trigger.is_success() => delivery,
            _ => {
                let check = PingCheck {
                    pathops_to_tool: Probe::Failed,
                    tool_to_pathops: Probe::NotChecked,
                    message: trip.trigger.message.clone(),
                };
                return (trip.trigger, None, check);
            }
        };
        let back = match delivery {
            Ok(_) => CheckResult::passed(elapsed, "the tool called back with a valid proof"),
            Err(ChallengeError::Rejected(e)) => CheckResult::failed(
                FailureCode::DeliveryRejected,
                elapsed,
                format!("the tool's callback was rejected: {e}"),
            ),
            Err(e) => CheckResult::failed(FailureCode::DeliveryNotReceived, elapsed, e.to_string()),
        };
        let check = PingCheck {
            pathops_to_tool: Probe::Passed,
            tool_to_pathops: if back.is_success() {
                Probe::Passed
            } else {
                Probe::Failed
            },
            message: if back.is_success() {
                "both directions passed".to_owned()
            } else {
                format!(
                    "PathOps → tool passed; tool → PathOps failed: {}",
                    back.message
                )
            },
        };
        (trip.trigger, Some(back), check)
    }

    /// Registers a challenge, builds the request from its id, triggers the delivery and waits
    /// for it. The delivery is `None` when the trigger failed and no delivery was seen; a
    /// rejection noted while the trigger ran (GitLab delivers inside the trigger call) is
    /// reported at once, without waiting.
    async fn round_trip(
        &self,
        integration: &Integration,
        connector: &dyn IntegrationConnector,
        challenge: Challenge,
        spacing: Option<(&str, Duration)>,
        request: impl FnOnce(uuid::Uuid) -> DeliveryRequest,
    ) -> RoundTrip {
        let started = Instant::now();
        let registry = &self.inner.challenges;
        let handle = registry.register(
            integration.tenant_id.clone(),
            integration.id,
            challenge.kind,
            challenge.expectation,
            challenge.secrets,
            self.expiry(),
        );
        let request = request(handle.id);
        let trigger = match spacing {
            None => self.trigger(integration, connector, &request).await,
            Some((key, spacing)) => {
                // Held through the trigger call, so the next trigger for the key is sent
                // `trigger_spacing` after this one's answer came back: after the tool counted
                // it, whatever calls the connector makes first.
                let slot = self.spacing_slot(key);
                let mut last = slot.lock().await;
                if let Some(last) = *last {
                    tokio::time::sleep_until((last + spacing).into()).await;
                }
                let trigger = self.trigger(integration, connector, &request).await;
                *last = Some(Instant::now());
                trigger
            }
        };
        let delivery = if let Some(rejection) = registry.rejection(handle.id) {
            registry.cancel(handle.id);
            Some(Err(ChallengeError::Rejected(rejection)))
        } else if !trigger.is_success() {
            registry.cancel(handle.id);
            None
        } else {
            Some(registry.wait(handle, self.inner.delivery_timeout).await)
        };
        RoundTrip {
            started,
            trigger,
            delivery,
        }
    }

    async fn trigger(
        &self,
        integration: &Integration,
        connector: &dyn IntegrationConnector,
        request: &DeliveryRequest,
    ) -> CheckResult {
        let timeout = self.inner.catalog.check_timeout();
        let secret = self.integration_secret(integration).await;
        let ctx = ConnectorContext::new(Arc::new(integration.clone()), secret, timeout);
        let trigger = connector.trigger_delivery(&ctx, request);
        match tokio::time::timeout(timeout + crate::connector::DEADLINE_GRACE, trigger).await {
            Ok(result) => result,
            Err(_) => CheckResult::failed(
                FailureCode::Timeout,
                timeout,
                format!(
                    "the trigger did not finish within {} ms",
                    timeout.as_millis()
                ),
            ),
        }
    }

    async fn integration_secret(&self, integration: &Integration) -> Option<SecretString> {
        let auth_ref = integration.auth_ref.as_ref()?;
        self.inner
            .catalog
            .resolve_for(
                integration,
                SecretPurpose::TriggerCredential,
                ("auth_ref", None),
                auth_ref,
            )
            .await
            .ok()
    }

    async fn webhook_secrets(
        &self,
        integration: &Integration,
    ) -> std::result::Result<WebhookSecrets, String> {
        let Some(raw) = integration
            .configuration
            .get(crate::webhook::SECRET_REF_KEY)
        else {
            return Err(
                "no webhook_secret_ref is configured, so a delivery cannot be verified".to_owned(),
            );
        };
        let refs = refs_at("webhook_secret_ref", raw).map_err(|e| e.to_string())?;
        let mut secrets = WebhookSecrets::default();
        for auth_ref in refs {
            let secret = self
                .inner
                .catalog
                .resolve_for(
                    integration,
                    SecretPurpose::WebhookSecret,
                    ("configuration", Some("webhook_secret_ref")),
                    &auth_ref,
                )
                .await
                .map_err(|e| format!("webhook_secret_ref does not resolve: {e}"))?;
            secrets.push(secret);
        }
        Ok(secrets)
    }

    fn expiry(&self) -> time::OffsetDateTime {
        self.inner.catalog.clock().now() + self.inner.delivery_timeout + Duration::from_secs(5)
    }

    /// The spacing lock of `key`.
    fn spacing_slot(&self, key: &str) -> Arc<tokio::sync::Mutex<Option<Instant>>> {
        self.inner
            .last_trigger
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(key.to_owned())
            .or_default()
            .clone()
    }
}

/// The webhook test the connector offers: GitLab's hook test trigger, or GitHub's hook ping.
fn webhook_request(
    integration: &Integration,
    caps: &crate::connector::Capabilities,
) -> Option<DeliveryRequest> {
    if caps.supports(Capability::WebhookTest) {
        let trigger = integration
            .configuration
            .get(crate::webhook::TRIGGER_KEY)
            .and_then(|v| v.as_str())
            .unwrap_or("push_events")
            .to_owned();
        Some(DeliveryRequest::WebhookTest { trigger })
    } else if caps.supports(Capability::HookPing) {
        Some(DeliveryRequest::HookPing)
    } else {
        None
    }
}

/// What a challenge round trip saw: the trigger call and, unless it failed first, the delivery.
/// What the receiver must see to count a delivery.
struct Challenge {
    kind: DeliveryKind,
    expectation: Expectation,
    secrets: WebhookSecrets,
}

struct RoundTrip {
    started: Instant,
    trigger: CheckResult,
    delivery: Option<std::result::Result<crate::webhook::Correlated, ChallengeError>>,
}

fn merge_failure(mut into: CheckResult, failed: &CheckResult) -> CheckResult {
    into.failure = failed.failure.clone();
    into.message = failed.message.clone();
    into.details.extend(failed.details.clone());
    into
}

fn webhook_check(
    result: &CheckResult,
    correlated: Option<&crate::webhook::Correlated>,
) -> WebhookCheck {
    WebhookCheck {
        outcome: if result.is_success() {
            Outcome::Passed
        } else {
            Outcome::Failed
        },
        failure_code: result.failure.as_ref().map(|f| f.as_str().to_owned()),
        message: result.message.clone(),
        delivery_id: correlated.and_then(|c| c.delivery.delivery_id.clone()),
        event_id: correlated.and_then(|c| c.delivery.event_id.clone()),
    }
}

impl DoctorBuilder {
    /// The URL where tools reach PathOps's receiver (`https://pathops.example.com`); needed
    /// for the direct ping's callback and shown in fixes.
    pub fn with_public_url(mut self, url: impl Into<String>) -> Self {
        self.public_url = Some(url.into());
        self
    }

    /// Integrations checked at once (at least 1).
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// How long to wait for a delivery after triggering it.
    pub fn with_delivery_timeout(mut self, timeout: Duration) -> Self {
        self.delivery_timeout = timeout;
        self
    }

    /// Spaces triggers `spacing` apart instead of what connectors ask for, wherever a
    /// connector declares a [`TriggerLimit`](crate::connector::TriggerLimit) (a lab whose tool
    /// allows more, or tests); connectors without a limit stay unspaced. Counted from the
    /// moment the previous trigger's answer came back, so the tool sees the calls at least
    /// this far apart.
    pub fn with_trigger_spacing(mut self, spacing: Duration) -> Self {
        self.trigger_spacing = Some(spacing);
        self
    }

    /// The doctor.
    pub fn build(self) -> Doctor {
        Doctor {
            inner: Arc::new(Inner {
                catalog: self.catalog,
                challenges: self.challenges,
                public_url: self.public_url,
                concurrency: self.concurrency,
                delivery_timeout: self.delivery_timeout,
                trigger_spacing: self.trigger_spacing,
                last_trigger: Mutex::new(HashMap::new()),
            }),
        }
    }
}
