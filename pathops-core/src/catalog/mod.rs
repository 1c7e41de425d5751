//! The [`Catalog`] service: the use-case layer an embedding service calls.
//!
//! Every operation takes a [`Principal`], checks its [`Scope`] and derives the tenant from it.
//! Every change writes, in one store transaction, the integration row, an audit entry (with a
//! field-level diff, never a secret) and its lifecycle events (to the outbox). Connection tests
//! and health checks are evidence: a `health_checks` row, lifecycle thresholds and
//! `integration.healthy|unhealthy` events when health changes (one `integration.flapping`
//! instead while it flaps).
//!
//! **Two kinds of write.** A check that changes no lifecycle state (no transition, no
//! threshold crossed) updates only the health fields and never the integration's `version`,
//! so an edit never conflicts with the monitor. Audit entries are written for every change by
//! an actor, every actor-initiated connection test (passing or failing) and doctor run, and
//! every lifecycle transition, including the ones a scheduled check causes; a scheduled check
//! that changes nothing leaves its history row only.
//!
//! ```
//! # #[cfg(feature = "runtime")] {
//! use std::sync::Arc;
//! use pathops_core::catalog::{Catalog, Principal};
//! use pathops_core::{CatalogStore, NewIntegration, Provider};
//!
//! async fn register(store: Arc<dyn CatalogStore>) -> pathops_core::Result<()> {
//!     let catalog = Catalog::builder(store).build()?;
//!     let alice = Principal::admin("acme".parse()?, "alice".parse()?);
//!     let input = NewIntegration::builder("Harbor", Provider::Harbor, "https://harbor.example.com")
//!         .with_auth_ref("ref://acme/harbor/robot")
//!         .build()?;
//!     let harbor = catalog.create(&alice, input, true).await?; // submitted at once
//!     let report = catalog.test_connection(&alice, harbor.id).await?;
//!     println!("{} is {}", report.integration.name, report.integration.status);
//!     Ok(())
//! }
//! # }
//! ```

mod checks;
mod evidence;
mod ops;
mod principal;
mod provision;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

pub use checks::{HealthReport, TestReport};
pub use evidence::{DEFAULT_ANCHOR_EVERY, VerifyOptions};
pub use principal::{Principal, Scope};
pub use provision::{Applied, ApplyError, ApplyOptions, ApplyProgress, ApplyReport};

use crate::audit::{AuditAction, AuditRecord};
use crate::clock::{Clock, SystemClock};
use crate::connector::{ConnectorRegistry, IntegrationConnector};
use crate::error::{Error, Result};
use crate::event::{EventEnvelope, EventType};
use crate::health::FlapPolicy;
use crate::id::IntegrationId;
use crate::integration::{FieldChange, Integration};
use crate::lifecycle::HealthPolicy;
use crate::plugin::PluginSource;
use crate::provider::Provider;
use crate::secret::{AuthRefPolicy, ChainResolver, SecretResolver};
use crate::store::{AuditSeal, CatalogStore, Change, Mutation};
use crate::validate::{Problem, ValidationError};

/// How many times a check result is re-applied when the integration changed concurrently
/// between reading it and writing the result. The evidence is never dropped on a conflict.
const CHECK_WRITE_ATTEMPTS: usize = 3;

/// The catalog service. Cheap to clone; share it between tasks.
#[derive(Debug, Clone)]
pub struct Catalog {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn CatalogStore>,
    connectors: Arc<ConnectorRegistry>,
    secrets: Arc<dyn SecretResolver>,
    auth_refs: AuthRefPolicy,
    self_approval: bool,
    clock: Arc<dyn Clock>,
    policy: HealthPolicy,
    flap: FlapPolicy,
    check_timeout: Duration,
    audit: evidence::AuditKeys,
    plugins: Option<Arc<dyn PluginSource>>,
    plugin_overrides: BTreeSet<Provider>,
    /// The plugins serving checks since the last discovery, by provider (replaced whole).
    plugin_connectors: RwLock<Arc<PluginConnectors>>,
}

type PluginConnectors = BTreeMap<Provider, Arc<dyn IntegrationConnector>>;

/// Builds a [`Catalog`]. Setters never fail; [`build`](Self::build) validates once.
#[derive(Debug)]
pub struct CatalogBuilder {
    store: Arc<dyn CatalogStore>,
    connectors: ConnectorRegistry,
    secrets: Option<Arc<dyn SecretResolver>>,
    auth_refs: AuthRefPolicy,
    self_approval: bool,
    clock: Option<Arc<dyn Clock>>,
    policy: HealthPolicy,
    flap: FlapPolicy,
    check_timeout: Duration,
    audit: evidence::AuditKeys,
    plugins: Option<Arc<dyn PluginSource>>,
    plugin_overrides: BTreeSet<Provider>,
}

impl Catalog {
    /// The default deadline of one connection test or health check.
    pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(15);

    /// A builder over `store`. Defaults: no connectors, a resolver that knows no reference,
    /// [`AuthRefPolicy::default`] (each tenant its own references), the system clock, [`HealthPolicy::default`], a 15 s check deadline.
    pub fn builder(store: Arc<dyn CatalogStore>) -> CatalogBuilder {
        CatalogBuilder {
            store,
            connectors: ConnectorRegistry::new(),
            secrets: None,
            auth_refs: AuthRefPolicy::default(),
            self_approval: false,
            clock: None,
            policy: HealthPolicy::default(),
            flap: FlapPolicy::default(),
            check_timeout: Self::DEFAULT_CHECK_TIMEOUT,
            audit: evidence::AuditKeys::default(),
            plugins: None,
            plugin_overrides: BTreeSet::new(),
        }
    }

    /// The store behind the catalog.
    pub fn store(&self) -> &Arc<dyn CatalogStore> {
        &self.inner.store
    }

    /// The compiled-in connectors (without the plugins; see [`connector`](Self::connector)).
    pub fn connectors(&self) -> &ConnectorRegistry {
        &self.inner.connectors
    }

    /// The connector that serves `provider`: a ready plugin from the last
    /// [`discover_plugins`](Self::discover_plugins) (for a custom provider, or a built-in one
    /// the operator lets it override), else the compiled-in connector.
    pub fn connector(&self, provider: &Provider) -> Option<Arc<dyn IntegrationConnector>> {
        let plugins = self.plugin_connectors();
        plugins
            .get(provider)
            .cloned()
            .or_else(|| self.inner.connectors.get(provider))
    }

    fn plugin_connectors(&self) -> Arc<PluginConnectors> {
        self.inner
            .plugin_connectors
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_plugin_connectors(&self, serving: PluginConnectors) {
        *self
            .inner
            .plugin_connectors
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(serving);
    }

    /// The lifecycle policy.
    pub fn policy(&self) -> &HealthPolicy {
        &self.inner.policy
    }

    /// Which references each tenant may use.
    pub fn auth_ref_policy(&self) -> &AuthRefPolicy {
        &self.inner.auth_refs
    }

    fn now(&self) -> time::OffsetDateTime {
        self.inner.clock.now()
    }

    /// Seals and writes one mutation and records the CRUD metric.
    async fn commit(&self, mut mutation: Mutation, action: &'static str) -> Result<Integration> {
        mutation.seal = self.seal_for(mutation.tenant_id()).await?;
        let outcome = self.inner.store.apply(mutation).await?;
        metrics::counter!("integration_crud_total", "action" => action).increment(1);
        Ok(outcome.integration)
    }

    /// A mutation updating `integration` (read at `expected_version`), audited and evented.
    fn update_mutation(
        &self,
        principal: &Principal,
        integration: Integration,
        expected_version: u64,
        audit: AuditParts,
        events: &[(EventType, serde_json::Value)],
    ) -> Mutation {
        let now = integration.modified_at;
        let record = audit.into_record(principal, integration.id, now);
        let events = envelopes(principal, integration.id, expected_version + 1, now, events);
        Mutation {
            change: Change::Update {
                integration,
                expected_version,
                write_health: false,
            },
            audit: record,
            events,
            health_check: None,
            seal: AuditSeal::default(),
        }
    }

    async fn load(&self, principal: &Principal, id: IntegrationId) -> Result<Integration> {
        self.inner.store.get(&principal.tenant, id).await
    }
}

/// The change ticket and reason an operator gives for a change, recorded in its audit entry
/// (provisioning passes them through; the plain CRUD calls record none).
#[derive(Debug, Clone, Default)]
pub(crate) struct ChangeNote {
    pub(crate) ticket: Option<String>,
    pub(crate) reason: Option<String>,
}

/// The audit part of a mutation.
#[derive(Debug)]
struct AuditParts {
    action: AuditAction,
    changes: Vec<FieldChange>,
    reason: Option<String>,
    ticket: Option<String>,
    approver: Option<crate::id::ActorId>,
}

impl AuditParts {
    fn new(action: AuditAction, changes: Vec<FieldChange>) -> Self {
        Self {
            action,
            changes,
            reason: None,
            ticket: None,
            approver: None,
        }
    }

    /// With the ticket and reason of `note`.
    fn noted(mut self, note: &ChangeNote) -> Self {
        self.ticket = note.ticket.clone();
        self.reason = note.reason.clone();
        self
    }

    /// The audit record of `principal` acting on `integration` at `at`.
    fn into_record(
        self,
        principal: &Principal,
        integration: IntegrationId,
        at: time::OffsetDateTime,
    ) -> AuditRecord {
        let mut record = AuditRecord::new(
            principal.tenant.clone(),
            Some(integration),
            principal.actor.clone(),
            self.action,
            at,
        );
        record.changes = self.changes;
        record.reason = self.reason;
        record.ticket = self.ticket;
        record.approver = self.approver;
        record
    }
}

/// The outbox events of one write about `integration` at `version`.
fn envelopes(
    principal: &Principal,
    integration: IntegrationId,
    version: u64,
    at: time::OffsetDateTime,
    events: &[(EventType, serde_json::Value)],
) -> Vec<EventEnvelope> {
    events
        .iter()
        .map(|(event_type, data)| {
            EventEnvelope::new(
                *event_type,
                principal.tenant.clone(),
                integration,
                version,
                at,
                data.clone(),
            )
        })
        .collect()
}

impl CatalogBuilder {
    /// Uses these connectors.
    pub fn with_connectors(mut self, connectors: ConnectorRegistry) -> Self {
        self.connectors = connectors;
        self
    }

    /// Resolves auth refs with `secrets`.
    pub fn with_secrets(mut self, secrets: Arc<dyn SecretResolver>) -> Self {
        self.secrets = Some(secrets);
        self
    }

    /// Which references a tenant's integrations may hold (default [`AuthRefPolicy::default`]:
    /// each tenant its own). Checked on every write and again before every resolve.
    pub fn with_auth_ref_policy(mut self, policy: AuthRefPolicy) -> Self {
        self.auth_refs = policy;
        self
    }

    /// Lets the creator or last modifier of an integration approve it when the policy
    /// requires approval (default: refused with [`Error::SelfApproval`]; a deployment with a
    /// single operator may need it).
    pub fn with_self_approval(mut self, allowed: bool) -> Self {
        self.self_approval = allowed;
        self
    }

    /// Reads time from `clock`.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Uses `policy` for lifecycle thresholds.
    pub fn with_policy(mut self, policy: HealthPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// When an integration counts as flapping (default [`FlapPolicy::default`]: more than 4
    /// health changes in an hour; [`FlapPolicy::disabled`] turns damping off).
    pub fn with_flap_policy(mut self, flap: FlapPolicy) -> Self {
        self.flap = flap;
        self
    }

    /// Finds out-of-process plugins with `source` on every
    /// [`Catalog::discover_plugins`] (call it once at start-up; nothing is discovered before).
    pub fn with_plugins(mut self, source: Arc<dyn PluginSource>) -> Self {
        self.plugins = Some(source);
        self
    }

    /// Lets a plugin serve `provider` although a compiled-in connector does (the plugin wins).
    /// Without it, such a plugin is recorded as disabled. See [`crate::plugin`] for why this
    /// is the operator's choice.
    pub fn with_plugin_override(mut self, provider: Provider) -> Self {
        self.plugin_overrides.insert(provider);
        self
    }

    /// Deadline of one connection test or health check.
    pub fn with_check_timeout(mut self, timeout: Duration) -> Self {
        self.check_timeout = timeout;
        self
    }

    /// Validates the policy and the timeout, and builds the catalog.
    pub fn build(self) -> Result<Catalog> {
        self.policy.validate()?;
        if self.check_timeout.is_zero() {
            return Err(ValidationError::new("check_timeout", Problem::OutOfRange).into());
        }
        Ok(Catalog {
            inner: Arc::new(Inner {
                store: self.store,
                connectors: Arc::new(self.connectors),
                secrets: self
                    .secrets
                    .unwrap_or_else(|| Arc::new(ChainResolver::new())),
                auth_refs: self.auth_refs,
                self_approval: self.self_approval,
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
                policy: self.policy,
                flap: self.flap,
                check_timeout: self.check_timeout,
                audit: self.audit,
                plugins: self.plugins,
                plugin_overrides: self.plugin_overrides,
                plugin_connectors: RwLock::default(),
            }),
        })
    }
}

/// Free text an operator gives (pause reason, ticket): 1–1,024 characters, no control
/// characters.
fn operator_text(field: &'static str, value: &str) -> Result<String> {
    let err = |problem| Err(Error::from(ValidationError::new(field, problem)));
    let value = value.trim();
    if value.is_empty() {
        return err(Problem::Empty);
    }
    if value.chars().count() > 1024 {
        return err(Problem::TooLong { max: 1024 });
    }
    if let Some((index, _)) = value.char_indices().find(|(_, c)| c.is_control()) {
        return err(Problem::InvalidCharacter { index });
    }
    Ok(value.to_owned())
}
