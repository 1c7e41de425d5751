//! [`CatalogStore`]: the persistence contract every backend implements.
//!
//! Rules every backend follows (the conformance suite in `pathops-testkit` checks them):
//! - every call takes the tenant and never reads or writes another tenant's rows (the outbox
//!   and plugin metadata calls are explicit operator calls across tenants);
//! - [`CatalogStore::apply`] writes the integration row, its audit entry, its outbox events and
//!   an optional health-check row in one transaction: all of them or none;
//! - [`CatalogStore::record_check`] writes a check that changed no lifecycle state: its
//!   health-check row, the integration's health fields, an optional audit entry and events, in
//!   one transaction, **without** changing the integration's `version` — `version` guards what
//!   people edit, so a user's update never conflicts with the monitor. It is guarded by the
//!   lifecycle state the check was applied to instead;
//! - a [`Change::Update`] without `write_health` keeps the stored health fields
//!   (`last_tested_at`, `last_test_success`, `consecutive_failures`, `flapping`), so an edit
//!   never undoes a check recorded between the editor's read and write;
//! - creating a name that a live integration of the tenant already has is
//!   [`Error::AlreadyExists`]; updating at a stale version is [`Error::Conflict`];
//! - an integration whose status is [`IntegrationStatus::Deleted`] is soft-deleted: kept, but
//!   gone from every read;
//! - audit entries are append-only and chained per tenant ([`AuditEntry::seal_with`], with the
//!   mutation's [`AuditSeal`]); every `anchor_every` entries the store adds an
//!   `audit.anchored` event for the new head to the same transaction; entries at or below the
//!   tenant's [`AuditCheckpoint`] are the only ones that may be deleted
//!   ([`CatalogStore::prune_audit`]);
//! - times are kept at microsecond precision.
//!
//! [`Error::AlreadyExists`]: crate::Error::AlreadyExists
//! [`Error::Conflict`]: crate::Error::Conflict
//! [`IntegrationStatus::Deleted`]: crate::IntegrationStatus::Deleted

use std::fmt;
use std::num::NonZeroU64;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::audit::{AuditAnchor, AuditCheckpoint, AuditEntry, AuditKey, AuditRecord};
use crate::connector::PluginDescriptor;
use crate::error::Result;
use crate::event::{EventEnvelope, OutboxClaim, OutboxEntry, OutboxRelease};
use crate::health::{HealthCheckRecord, HealthSummary, TimeRange};
use crate::id::{ActorId, IntegrationId, TenantId};
use crate::integration::Integration;
use crate::lifecycle::LifecycleState;
use crate::page::{ListQuery, Page};
use crate::validate::{Problem, ValidationError};

/// The row change of a [`Mutation`].
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Insert a new integration (its `version` is 1).
    Create(Integration),
    /// Replace the row if its stored version is `expected_version`; the stored row gets version
    /// `expected_version + 1`. A status of `Deleted` soft-deletes it.
    Update {
        /// The integration as it should be stored (its `version` field is ignored).
        integration: Integration,
        /// The version the caller read.
        expected_version: u64,
        /// Also write the health fields (`last_tested_at`, `last_test_success`,
        /// `consecutive_failures`, `flapping`): set for check results and for transitions that
        /// reset the failure count. Otherwise the stored values are kept.
        write_health: bool,
    },
}

impl Change {
    /// The integration written.
    pub fn integration(&self) -> &Integration {
        match self {
            Change::Create(i) | Change::Update { integration: i, .. } => i,
        }
    }
}

/// How a store seals the audit entries of one write: with which key, and how often it anchors
/// the chain head.
#[derive(Debug, Clone, Default)]
pub struct AuditSeal {
    /// The key (HMAC-SHA256); `None` seals unkeyed.
    pub key: Option<Arc<AuditKey>>,
    /// Add an `audit.anchored` event whenever the new entry's sequence is a multiple of this.
    pub anchor_every: Option<NonZeroU64>,
}

impl PartialEq for AuditSeal {
    fn eq(&self, other: &Self) -> bool {
        self.key.as_ref().map(|k| k.id()) == other.key.as_ref().map(|k| k.id())
            && self.anchor_every == other.anchor_every
    }
}

impl AuditSeal {
    /// Seals `record` after the head (`sequence - 1`, `prev_hash`), and the anchor event the
    /// new entry is due, if any (on the integration of the entry, at `version`).
    pub fn seal(
        &self,
        record: AuditRecord,
        sequence: u64,
        prev_hash: &str,
        version: u64,
    ) -> (AuditEntry, Option<EventEnvelope>) {
        let entry = AuditEntry::seal_with(record, sequence, prev_hash, self.key.as_deref());
        let due = self
            .anchor_every
            .is_some_and(|n| sequence.is_multiple_of(n.get()));
        let anchor = entry
            .record
            .integration_id
            .filter(|_| due)
            .map(|id| AuditAnchor::of(&entry).event(id, version));
        (entry, anchor)
    }
}

/// The health fields a check writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthFields {
    /// When it was checked.
    pub last_tested_at: OffsetDateTime,
    /// Whether it passed.
    pub last_test_success: bool,
    /// Failed checks since the last passing one.
    pub consecutive_failures: u32,
    /// Whether it is flapping.
    pub flapping: bool,
}

/// A check that changed no lifecycle state (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct HealthWrite {
    /// The `health_checks` row.
    pub record: HealthCheckRecord,
    /// The version the check read (events carry it; it is not compared).
    pub version: u64,
    /// The lifecycle state the check was applied to. When the stored state differs (a
    /// concurrent check or transition), the write is [`Error::Conflict`](crate::Error::Conflict)
    /// and nothing is written: re-read and re-apply.
    pub expected: LifecycleState,
    /// The health fields after the check; `None` writes the history row only (a skipped check).
    pub health: Option<HealthFields>,
    /// An audit entry (actor-initiated tests), sealed with `seal`.
    pub audit: Option<AuditRecord>,
    /// Events for the outbox.
    pub events: Vec<EventEnvelope>,
    /// How the audit entry is sealed.
    pub seal: AuditSeal,
}

impl HealthWrite {
    /// Checks that every part belongs to the record's tenant and integration.
    pub fn check_consistency(&self) -> Result<(), ValidationError> {
        let (tenant, id) = (&self.record.tenant_id, self.record.integration_id);
        let mismatch = |field| Err(ValidationError::new(field, Problem::OutOfRange));
        if let Some(a) = &self.audit
            && (&a.tenant_id != tenant || a.integration_id.is_some_and(|i| i != id))
        {
            return mismatch("audit");
        }
        if self
            .events
            .iter()
            .any(|e| &e.tenant_id != tenant || e.integration_id != id)
        {
            return mismatch("events");
        }
        Ok(())
    }
}

/// One atomic catalog write: a row change, its audit entry, its events and optionally a
/// health-check row.
#[derive(Debug, Clone, PartialEq)]
pub struct Mutation {
    /// The row change.
    pub change: Change,
    /// The audit entry, sealed by the store.
    pub audit: AuditRecord,
    /// Events for the outbox.
    pub events: Vec<EventEnvelope>,
    /// A health-check row (connection tests, health checks).
    pub health_check: Option<HealthCheckRecord>,
    /// How the audit entry is sealed.
    pub seal: AuditSeal,
}

impl Mutation {
    /// The tenant of the mutation.
    pub fn tenant_id(&self) -> &TenantId {
        &self.change.integration().tenant_id
    }

    /// Checks that every part belongs to the same tenant and integration. Stores call this
    /// before writing anything.
    pub fn check_consistency(&self) -> Result<(), ValidationError> {
        let i = self.change.integration();
        let mismatch = |field| Err(ValidationError::new(field, Problem::OutOfRange));
        if self.audit.tenant_id != i.tenant_id {
            return mismatch("audit.tenant_id");
        }
        if self.audit.integration_id.is_some_and(|id| id != i.id) {
            return mismatch("audit.integration_id");
        }
        if self
            .events
            .iter()
            .any(|e| e.tenant_id != i.tenant_id || e.integration_id != i.id)
        {
            return mismatch("events");
        }
        if let Some(h) = &self.health_check
            && (h.tenant_id != i.tenant_id || h.integration_id != i.id)
        {
            return mismatch("health_check");
        }
        Ok(())
    }
}

/// What [`CatalogStore::apply`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct MutationOutcome {
    /// The integration as stored (with its new version).
    pub integration: Integration,
    /// The sealed audit entry.
    pub audit: AuditEntry,
}

/// Which audit entries to read. Entries come back in sequence order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only entries about this integration.
    pub integration_id: Option<IntegrationId>,
    /// Only entries by this actor.
    pub actor: Option<ActorId>,
    /// Only entries in this window.
    pub range: Option<TimeRange>,
    /// Only entries after this sequence number (for paging).
    pub after_sequence: Option<u64>,
    /// At most this many (default and maximum 1,000).
    pub limit: Option<u32>,
}

impl AuditQuery {
    /// Largest (and default) page.
    pub const MAX_LIMIT: u32 = 1000;

    /// Every entry of the tenant, from the first.
    pub fn all() -> Self {
        Self {
            integration_id: None,
            actor: None,
            range: None,
            after_sequence: None,
            limit: None,
        }
    }

    /// Entries about one integration.
    pub fn for_integration(id: IntegrationId) -> Self {
        Self {
            integration_id: Some(id),
            ..Self::all()
        }
    }

    /// The effective limit.
    pub fn effective_limit(&self) -> u32 {
        self.limit
            .unwrap_or(Self::MAX_LIMIT)
            .clamp(1, Self::MAX_LIMIT)
    }

    /// Whether `entry` matches (used by in-memory backends and tests).
    pub fn matches(&self, entry: &AuditEntry) -> bool {
        self.integration_id
            .is_none_or(|id| entry.record.integration_id == Some(id))
            && self.actor.as_ref().is_none_or(|a| &entry.record.actor == a)
            && self.range.is_none_or(|r| r.contains(entry.record.at))
            && self.after_sequence.is_none_or(|s| entry.sequence > s)
    }
}

/// A row of `plugin_metadata`: a compiled-in connector (no `path`) or an out-of-process
/// plugin found on disk, with its state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PluginMetadata {
    /// What the connector declared (for a plugin: what its manifest says).
    pub descriptor: PluginDescriptor,
    /// When it was (last) discovered.
    #[serde(with = "time::serde::rfc3339")]
    pub discovered_at: OffsetDateTime,
    /// The plugin's executable; `None` for a compiled-in connector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The SHA-256 of the executable its manifest declares (lowercase hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Whether it serves checks.
    #[serde(default)]
    pub state: PluginState,
}

impl PluginMetadata {
    /// A compiled-in connector, ready.
    pub fn builtin(descriptor: PluginDescriptor, discovered_at: OffsetDateTime) -> Self {
        Self {
            descriptor,
            discovered_at,
            path: None,
            sha256: None,
            state: PluginState::Ready,
        }
    }

    /// An out-of-process plugin's executable at `path` with the checksum its manifest declares.
    pub fn process(
        descriptor: PluginDescriptor,
        path: impl Into<String>,
        sha256: impl Into<String>,
        state: PluginState,
        discovered_at: OffsetDateTime,
    ) -> Self {
        Self {
            descriptor,
            discovered_at,
            path: Some(path.into()),
            sha256: Some(sha256.into()),
            state,
        }
    }

    /// The same row in another state.
    pub fn with_state(mut self, state: PluginState) -> Self {
        self.state = state;
        self
    }
}

/// Whether a plugin serves checks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
#[non_exhaustive]
pub enum PluginState {
    /// It serves the checks of its provider.
    #[default]
    Ready,
    /// It broke a rule (a checksum mismatch, a handshake that contradicts its manifest, a
    /// protocol error) and serves nothing until its executable or manifest changes.
    Quarantined {
        /// What it did.
        reason: String,
    },
    /// It is healthy but not used (another connector serves its provider, or it vanished
    /// from the plugins directory).
    Disabled {
        /// Why.
        reason: String,
    },
}

impl PluginState {
    /// The stable state name (`ready`, `quarantined`, `disabled`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::Quarantined { .. } => "quarantined",
            Self::Disabled { .. } => "disabled",
        }
    }

    /// The reason, for the states that have one.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Ready => None,
            Self::Quarantined { reason } | Self::Disabled { reason } => Some(reason),
        }
    }
}

/// A request to lease integrations due for a scheduled health check. Operator call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckClaim {
    /// Who claims (a monitor instance id).
    pub owner: String,
    /// The current time.
    pub now: OffsetDateTime,
    /// How long the lease lasts; after it, another monitor may claim the integration.
    pub lease: std::time::Duration,
    /// The most integrations to lease.
    pub limit: u32,
}

/// An integration leased for a scheduled check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueCheck {
    /// Its tenant.
    pub tenant_id: TenantId,
    /// The integration.
    pub integration_id: IntegrationId,
    /// When it was due; `None` if it was never scheduled.
    pub next_due: Option<OffsetDateTime>,
}

/// Persistence for the catalog. Object-safe; hold it as `Arc<dyn CatalogStore>`.
#[async_trait]
pub trait CatalogStore: Send + Sync + fmt::Debug {
    /// The backend's name (`memory`, `sqlite`, `postgres`).
    fn backend(&self) -> &'static str;

    /// One live integration of `tenant`, or [`Error::NotFound`](crate::Error::NotFound).
    async fn get(&self, tenant: &TenantId, id: IntegrationId) -> Result<Integration>;

    /// A page of live integrations of `tenant`, ordered by `(name, id)`.
    async fn list(&self, tenant: &TenantId, query: &ListQuery) -> Result<Page<Integration>>;

    /// Writes a mutation atomically (see the module docs).
    async fn apply(&self, mutation: Mutation) -> Result<MutationOutcome>;

    /// Writes a check that changed no lifecycle state (see the module docs); returns its sealed
    /// audit entry, if it had one.
    async fn record_check(&self, write: HealthWrite) -> Result<Option<AuditEntry>>;

    /// The tenant's audit head now, with an `audit.anchored` event for it added to the
    /// outbox in the same transaction (on the integration of the head entry). `None` for an
    /// empty chain.
    async fn anchor_audit(&self, tenant: &TenantId) -> Result<Option<AuditAnchor>>;

    /// The checkpoint the tenant's chain continues from (after [`prune_audit`](Self::prune_audit)).
    async fn audit_checkpoint(&self, tenant: &TenantId) -> Result<Option<AuditCheckpoint>>;

    /// Records `checkpoint` as where the tenant's chain continues and deletes the entries up to
    /// and including its sequence, atomically; returns how many it deleted. The entry at the
    /// checkpoint's sequence must still be stored and carry its hash, else
    /// [`Error::Conflict`](crate::Error::Conflict) and nothing changes. Operator call.
    async fn prune_audit(&self, checkpoint: &AuditCheckpoint) -> Result<u64>;

    /// Health checks of one integration in `range`, newest first, at most `limit`.
    async fn health_history(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        range: TimeRange,
        limit: u32,
    ) -> Result<Vec<HealthCheckRecord>>;

    /// Summary of one integration's checks in `range`: equal to
    /// [`HealthSummary::from_records`] over the same rows; SQL backends compute it in the
    /// database.
    async fn health_summary(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        range: TimeRange,
    ) -> Result<HealthSummary>;

    /// Audit entries of `tenant` matching `query`, in sequence order.
    async fn audit(&self, tenant: &TenantId, query: &AuditQuery) -> Result<Vec<AuditEntry>>;

    /// Leases up to `claim.limit` due events (not delivered, not dead, due, lease free or
    /// expired), oldest first, and counts an attempt on each. Operator call: across tenants.
    ///
    /// Events of one integration are claimed in order: an event is not leased while an
    /// earlier event of its integration (by `occurred_at`, then id) is pending — neither
    /// delivered nor dead — and not due, because it is leased or waits for a retry. A dead
    /// event holds nothing back. Claims of concurrent relays must not interleave in a way
    /// that breaks this (the SQL backends serialize claims).
    async fn claim_outbox(&self, claim: &OutboxClaim) -> Result<Vec<OutboxEntry>>;

    /// Records what became of a leased event and frees its lease.
    async fn release_outbox(&self, event_id: Uuid, release: OutboxRelease) -> Result<()>;

    /// Inserts or replaces plugin rows by descriptor id. Operator call.
    async fn upsert_plugins(&self, plugins: &[PluginMetadata]) -> Result<()>;

    /// Every plugin row, ordered by id. Operator call.
    async fn list_plugins(&self) -> Result<Vec<PluginMetadata>>;

    /// Leases up to `claim.limit` live integrations in a monitored status (not Draft, Paused
    /// or Deleted) that are due (never scheduled, or `next_due <= now`) and not leased (no
    /// lease, or an expired one), never-scheduled ones first, then by `next_due`. Two
    /// concurrent claims never lease the same integration. Operator call, across tenants.
    async fn claim_due_checks(&self, claim: &CheckClaim) -> Result<Vec<DueCheck>> {
        let _ = claim;
        Err(crate::Error::unsupported(
            "claim_due_checks",
            self.backend(),
        ))
    }

    /// Sets when an integration is next due and frees its lease. [`Error::NotFound`] for an
    /// unknown or deleted integration. Operator call.
    ///
    /// [`Error::NotFound`]: crate::Error::NotFound
    async fn schedule_check(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        next_due: OffsetDateTime,
    ) -> Result<()> {
        let _ = (tenant, id, next_due);
        Err(crate::Error::unsupported("schedule_check", self.backend()))
    }

    /// Deletes up to `limit` health-check rows older than `before`, oldest first, and returns
    /// how many it deleted (retention, in batches). Operator call, across tenants.
    async fn prune_health(&self, before: OffsetDateTime, limit: u32) -> Result<u64> {
        let _ = (before, limit);
        Err(crate::Error::unsupported("prune_health", self.backend()))
    }

    /// Deletes up to `limit` health-check rows beyond the newest `keep` of each integration,
    /// oldest first, and returns how many it deleted (retention by count, in batches).
    /// Operator call, across tenants.
    async fn prune_health_excess(&self, keep: u32, limit: u32) -> Result<u64> {
        let _ = (keep, limit);
        Err(crate::Error::unsupported(
            "prune_health_excess",
            self.backend(),
        ))
    }
}
