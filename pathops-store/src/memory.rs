//! [`MemoryStore`]: the catalog in process memory.
//!
//! A real implementation, not a mock: it passes the same conformance suite as the SQL backends
//! (uniqueness, versions, soft deletes, keyset paging, audit chains, outbox leases). Everything
//! lives behind one lock, so every call is atomic and isolated. Nothing survives the process.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use pathops_core::audit::{AuditAnchor, AuditCheckpoint, AuditRecord, GENESIS_HASH};
use pathops_core::event::{OutboxClaim, OutboxEntry, OutboxRelease};
use pathops_core::page::{Cursor, CursorPosition};
use pathops_core::store::{
    AuditQuery, AuditSeal, CheckClaim, DueCheck, HealthWrite, PluginMetadata,
};
use pathops_core::{
    AuditEntry, CatalogStore, Change, Error, EventEnvelope, HealthCheckRecord, HealthSummary,
    Integration, IntegrationId, ListQuery, Mutation, MutationOutcome, Page, ResourceKind, Result,
    TenantId, TimeRange,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::StoreError;
use crate::stored;

const BACKEND: &str = "memory";

/// The catalog in process memory (see the module docs).
///
/// ```
/// use pathops_core::CatalogStore;
/// use pathops_store::MemoryStore;
///
/// let store = MemoryStore::new();
/// assert_eq!(store.backend(), "memory");
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Every integration ever written, soft-deleted ones included.
    integrations: HashMap<IntegrationId, Integration>,
    /// `(tenant, name, id)` of live integrations: the name index and the list order.
    live: BTreeSet<(TenantId, String, Uuid)>,
    /// Each tenant's audit chain, in sequence order (after its checkpoint).
    audit: HashMap<TenantId, Vec<AuditEntry>>,
    /// Where each pruned chain continues.
    checkpoints: HashMap<TenantId, AuditCheckpoint>,
    audit_ids: HashSet<Uuid>,
    health: Vec<HealthCheckRecord>,
    health_ids: HashSet<Uuid>,
    outbox: HashMap<Uuid, OutboxRow>,
    plugins: BTreeMap<String, PluginMetadata>,
    /// Health-check schedule and leases, by integration.
    schedule: HashMap<IntegrationId, Schedule>,
    /// Claim order: never-scheduled integrations first, then by next due time. A claim walks
    /// it from the front and stops at the first one not yet due, so its cost follows the
    /// number of due integrations, not the size of the catalog. Entries of integrations that
    /// are not monitored (draft, paused, deleted) stay and are skipped.
    due: BTreeSet<DueKey>,
}

/// `(scheduled, next due, id)`: `false` sorts first, so never-scheduled integrations lead.
type DueKey = (bool, OffsetDateTime, IntegrationId);

fn due_key(id: IntegrationId, next_due: Option<OffsetDateTime>) -> DueKey {
    (
        next_due.is_some(),
        next_due.unwrap_or(OffsetDateTime::UNIX_EPOCH),
        id,
    )
}

#[derive(Debug, Clone, Default)]
struct Schedule {
    next_due: Option<OffsetDateTime>,
    lease_owner: Option<String>,
    lease_until: Option<OffsetDateTime>,
}

#[derive(Debug, Clone)]
struct OutboxRow {
    entry: OutboxEntry,
    done: bool,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied mutation: `apply` checks
        // everything before it writes anything, so the state stays consistent.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    fn live(&self, tenant: &TenantId, id: IntegrationId) -> Option<&Integration> {
        self.integrations
            .get(&id)
            .filter(|i| &i.tenant_id == tenant && !stored::is_deleted(i))
    }

    fn name_taken(&self, tenant: &TenantId, name: &str, except: Option<IntegrationId>) -> bool {
        let low = (tenant.clone(), name.to_owned(), Uuid::nil());
        let high = (tenant.clone(), name.to_owned(), Uuid::max());
        self.live
            .range(low..=high)
            .any(|(_, _, id)| Some(*id) != except.map(|e| e.as_uuid()))
    }

    /// Checks a mutation against the current state and returns the integration to store; writes
    /// nothing.
    fn check(&self, m: &Mutation) -> Result<(Integration, Option<Integration>)> {
        let (integration, previous) = match &m.change {
            Change::Create(i) => {
                if self.integrations.contains_key(&i.id)
                    || self.name_taken(&i.tenant_id, i.name.as_str(), None)
                {
                    return Err(Error::AlreadyExists {
                        kind: ResourceKind::Integration,
                        id: i.name.to_string(),
                    });
                }
                (stored::integration(i.clone(), 1), None)
            }
            Change::Update {
                integration: i,
                expected_version,
                write_health,
            } => {
                let current = self
                    .live(&i.tenant_id, i.id)
                    .ok_or_else(|| Error::integration_not_found(i.id))?;
                if current.version != *expected_version {
                    return Err(Error::Conflict {
                        kind: ResourceKind::Integration,
                        id: i.id.to_string(),
                        expected: *expected_version,
                        actual: Some(current.version),
                    });
                }
                if !stored::is_deleted(i)
                    && self.name_taken(&i.tenant_id, i.name.as_str(), Some(i.id))
                {
                    return Err(Error::AlreadyExists {
                        kind: ResourceKind::Integration,
                        id: i.name.to_string(),
                    });
                }
                let mut next = stored::integration(i.clone(), expected_version + 1);
                if !write_health {
                    stored::keep_health(&mut next, current);
                }
                (next, Some(current.clone()))
            }
        };
        let duplicate = |table, key: Uuid| {
            StoreError::DuplicateKey {
                table,
                key: key.to_string(),
            }
            .into_error(BACKEND)
        };
        if self.audit_ids.contains(&m.audit.id) {
            return Err(duplicate("audit_logs", m.audit.id));
        }
        let mut event_ids = HashSet::new();
        for e in &m.events {
            if self.outbox.contains_key(&e.id) || !event_ids.insert(e.id) {
                return Err(Error::AlreadyExists {
                    kind: ResourceKind::Event,
                    id: e.id.to_string(),
                });
            }
        }
        if let Some(h) = &m.health_check
            && self.health_ids.contains(&h.id)
        {
            return Err(duplicate("health_checks", h.id));
        }
        Ok((integration, previous))
    }
}

#[async_trait]
impl CatalogStore for MemoryStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn get(&self, tenant: &TenantId, id: IntegrationId) -> Result<Integration> {
        self.state()
            .live(tenant, id)
            .cloned()
            .ok_or_else(|| Error::integration_not_found(id))
    }

    async fn list(&self, tenant: &TenantId, query: &ListQuery) -> Result<Page<Integration>> {
        let limit = query.effective_limit()? as usize;
        let position = query.position(tenant)?;
        let filter = &query.filter;
        let state = self.state();
        let start = match &position {
            Some(p) => Bound::Excluded((tenant.clone(), p.name.clone(), p.id.as_uuid())),
            None => Bound::Included((tenant.clone(), String::new(), Uuid::nil())),
        };
        let mut items: Vec<Integration> = state
            .live
            .range((start, Bound::Unbounded))
            .take_while(|(t, _, _)| t == tenant)
            .filter_map(|(_, _, id)| IntegrationId::from_uuid(*id).ok())
            .filter_map(|id| state.integrations.get(&id))
            .filter(|i| matches_filter(i, filter))
            .take(limit + 1)
            .cloned()
            .collect();
        let next_cursor = (items.len() > limit).then(|| {
            items.truncate(limit);
            let last = items.last().expect("a full page has a last item");
            Cursor::encode(
                tenant,
                filter,
                &CursorPosition {
                    name: last.name.to_string(),
                    id: last.id,
                },
            )
        });
        Ok(Page::new(items, next_cursor))
    }

    async fn apply(&self, mutation: Mutation) -> Result<MutationOutcome> {
        mutation.check_consistency()?;
        let mut state = self.state();
        let (integration, previous) = state.check(&mutation)?;

        // Every check passed: from here on nothing fails, so the write is all or nothing.
        let tenant = integration.tenant_id.clone();
        let created = previous.is_none();
        if let Some(prev) = previous {
            state
                .live
                .remove(&(tenant.clone(), prev.name.to_string(), prev.id.as_uuid()));
        }
        if !stored::is_deleted(&integration) {
            state.live.insert((
                tenant.clone(),
                integration.name.to_string(),
                integration.id.as_uuid(),
            ));
        }
        if created {
            state.due.insert(due_key(integration.id, None));
        }
        state
            .integrations
            .insert(integration.id, integration.clone());

        let audit = state.append_audit(mutation.audit, &mutation.seal, integration.version);
        for event in mutation.events {
            state.push_event(event);
        }
        if let Some(h) = mutation.health_check {
            state.health_ids.insert(h.id);
            state.health.push(stored::health_check(h));
        }
        Ok(MutationOutcome { integration, audit })
    }

    async fn record_check(&self, write: HealthWrite) -> Result<Option<AuditEntry>> {
        write.check_consistency()?;
        let mut state = self.state();
        let (tenant, id) = (write.record.tenant_id.clone(), write.record.integration_id);
        let current = state
            .live(&tenant, id)
            .ok_or_else(|| Error::integration_not_found(id))?;
        if current.lifecycle_state() != write.expected {
            return Err(Error::Conflict {
                kind: ResourceKind::Integration,
                id: id.to_string(),
                expected: write.version,
                actual: Some(current.version),
            });
        }
        if state.health_ids.contains(&write.record.id)
            || write
                .audit
                .as_ref()
                .is_some_and(|a| state.audit_ids.contains(&a.id))
            || write
                .events
                .iter()
                .any(|e| state.outbox.contains_key(&e.id))
        {
            return Err(StoreError::DuplicateKey {
                table: "health_checks",
                key: write.record.id.to_string(),
            }
            .into_error(BACKEND));
        }
        let version = current.version;
        if let Some(h) = write.health {
            let i = state.integrations.get_mut(&id).expect("checked live");
            stored::set_health(i, &h);
        }
        let audit = write
            .audit
            .map(|a| state.append_audit(a, &write.seal, version));
        for event in write.events {
            state.push_event(event);
        }
        state.health_ids.insert(write.record.id);
        state.health.push(stored::health_check(write.record));
        Ok(audit)
    }

    async fn anchor_audit(&self, tenant: &TenantId) -> Result<Option<AuditAnchor>> {
        let mut state = self.state();
        let Some(head) = state.audit.get(tenant).and_then(|c| c.last()).cloned() else {
            return Ok(state.checkpoints.get(tenant).map(AuditCheckpoint::anchor));
        };
        let anchor = AuditAnchor::of(&head);
        if let Some(id) = head.record.integration_id {
            let version = state.integrations.get(&id).map_or(0, |i| i.version);
            state.push_event(anchor.event(id, version));
        }
        Ok(Some(anchor))
    }

    async fn audit_checkpoint(&self, tenant: &TenantId) -> Result<Option<AuditCheckpoint>> {
        Ok(self.state().checkpoints.get(tenant).cloned())
    }

    async fn prune_audit(&self, checkpoint: &AuditCheckpoint) -> Result<u64> {
        let mut state = self.state();
        let tenant = &checkpoint.tenant_id;
        let chain = state.audit.entry(tenant.clone()).or_default();
        let Some(at) = chain
            .iter()
            .position(|e| e.sequence == checkpoint.sequence && e.hash == checkpoint.hash)
        else {
            return Err(stored::prune_conflict(checkpoint));
        };
        let removed: Vec<AuditEntry> = chain.drain(..=at).collect();
        for e in &removed {
            state.audit_ids.remove(&e.record.id);
        }
        state.checkpoints.insert(tenant.clone(), checkpoint.clone());
        Ok(removed.len() as u64)
    }

    async fn health_history(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        range: TimeRange,
        limit: u32,
    ) -> Result<Vec<HealthCheckRecord>> {
        let mut records = self.health_in_range(tenant, id, range);
        records.sort_by_key(|r| std::cmp::Reverse((r.checked_at, r.id)));
        records.truncate(limit as usize);
        Ok(records)
    }

    async fn health_summary(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        range: TimeRange,
    ) -> Result<HealthSummary> {
        Ok(HealthSummary::from_records(
            &self.health_in_range(tenant, id, range),
        ))
    }

    async fn audit(&self, tenant: &TenantId, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let state = self.state();
        Ok(state
            .audit
            .get(tenant)
            .into_iter()
            .flatten()
            .filter(|e| query.matches(e))
            .take(query.effective_limit() as usize)
            .cloned()
            .collect())
    }

    async fn claim_outbox(&self, claim: &OutboxClaim) -> Result<Vec<OutboxEntry>> {
        let lease_until = stored::lease_end(claim.now, claim.lease)?;
        let mut state = self.state();
        let mut pending: Vec<&mut OutboxRow> =
            state.outbox.values_mut().filter(|row| !row.done).collect();
        pending.sort_by_key(|row| (row.entry.envelope.occurred_at, row.entry.envelope.id));
        // Integrations with an earlier pending event that is not due: their later events wait.
        let mut waiting: HashSet<(TenantId, IntegrationId)> = HashSet::new();
        let mut claimed = Vec::new();
        for row in pending {
            if claimed.len() >= claim.limit as usize {
                break;
            }
            let envelope = &row.entry.envelope;
            let key = (envelope.tenant_id.clone(), envelope.integration_id);
            if !is_due(row, claim.now) {
                waiting.insert(key);
                continue;
            }
            if waiting.contains(&key) {
                continue;
            }
            row.entry.attempts = row.entry.attempts.saturating_add(1);
            row.entry.lease_owner = Some(claim.owner.clone());
            row.entry.lease_until = Some(lease_until);
            claimed.push(row.entry.clone());
        }
        Ok(claimed)
    }

    async fn release_outbox(&self, event_id: Uuid, release: OutboxRelease) -> Result<()> {
        let mut state = self.state();
        let row = state
            .outbox
            .get_mut(&event_id)
            .ok_or_else(|| Error::NotFound {
                kind: ResourceKind::Event,
                id: event_id.to_string(),
            })?;
        row.entry.lease_owner = None;
        row.entry.lease_until = None;
        match release {
            OutboxRelease::Delivered { .. } => row.done = true,
            OutboxRelease::Retry { retry_at, error } => {
                row.entry.next_attempt_at = pathops_core::clock::truncate_to_micros(retry_at);
                row.entry.last_error = Some(error);
            }
            OutboxRelease::Dead { error, .. } => {
                row.done = true;
                row.entry.last_error = Some(error);
            }
            OutboxRelease::HeldBack => {
                row.entry.attempts = row.entry.attempts.saturating_sub(1);
            }
        }
        Ok(())
    }

    async fn upsert_plugins(&self, plugins: &[PluginMetadata]) -> Result<()> {
        let mut state = self.state();
        for p in plugins {
            let mut p = p.clone();
            p.discovered_at = pathops_core::clock::truncate_to_micros(p.discovered_at);
            state.plugins.insert(p.descriptor.id.clone(), p);
        }
        Ok(())
    }

    async fn list_plugins(&self) -> Result<Vec<PluginMetadata>> {
        Ok(self.state().plugins.values().cloned().collect())
    }

    async fn claim_due_checks(&self, claim: &CheckClaim) -> Result<Vec<DueCheck>> {
        let mut state = self.state();
        let State {
            integrations,
            schedule,
            due,
            ..
        } = &mut *state;
        let lease_until = stored::lease_end(claim.now, claim.lease)?;
        let mut out = Vec::new();
        for &(scheduled, at, id) in due.iter() {
            if out.len() >= claim.limit as usize || (scheduled && at > claim.now) {
                break;
            }
            let Some(integration) = integrations.get(&id) else {
                continue;
            };
            if !integration.status.is_monitored() {
                continue;
            }
            let s = schedule.entry(id).or_default();
            if s.lease_until.is_some_and(|t| t > claim.now) {
                continue;
            }
            s.lease_owner = Some(claim.owner.clone());
            s.lease_until = Some(lease_until);
            out.push(DueCheck {
                tenant_id: integration.tenant_id.clone(),
                integration_id: id,
                next_due: scheduled.then_some(at),
            });
        }
        Ok(out)
    }

    async fn schedule_check(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        next_due: OffsetDateTime,
    ) -> Result<()> {
        let mut state = self.state();
        if state.live(tenant, id).is_none() {
            return Err(Error::integration_not_found(id));
        }
        let State { schedule, due, .. } = &mut *state;
        let s = schedule.entry(id).or_default();
        due.remove(&due_key(id, s.next_due));
        due.insert(due_key(id, Some(next_due)));
        s.next_due = Some(next_due);
        s.lease_owner = None;
        s.lease_until = None;
        Ok(())
    }

    async fn prune_health(&self, before: OffsetDateTime, limit: u32) -> Result<u64> {
        let mut state = self.state();
        let mut old: Vec<(OffsetDateTime, Uuid)> = state
            .health
            .iter()
            .filter(|r| r.checked_at < before)
            .map(|r| (r.checked_at, r.id))
            .collect();
        old.sort();
        old.truncate(limit as usize);
        Ok(state.delete_health(old))
    }

    async fn prune_health_excess(&self, keep: u32, limit: u32) -> Result<u64> {
        let mut state = self.state();
        let mut by_integration: HashMap<IntegrationId, Vec<(OffsetDateTime, Uuid)>> =
            HashMap::new();
        for r in &state.health {
            by_integration
                .entry(r.integration_id)
                .or_default()
                .push((r.checked_at, r.id));
        }
        let mut excess: Vec<(OffsetDateTime, Uuid)> = Vec::new();
        for mut rows in by_integration.into_values() {
            rows.sort_by(|a, b| b.cmp(a));
            excess.extend(rows.into_iter().skip(keep as usize));
        }
        excess.sort();
        excess.truncate(limit as usize);
        Ok(state.delete_health(excess))
    }
}

impl State {
    /// Seals `record` onto its tenant's chain (and queues the anchor it is due).
    fn append_audit(&mut self, record: AuditRecord, seal: &AuditSeal, version: u64) -> AuditEntry {
        let tenant = record.tenant_id.clone();
        let from_checkpoint = self
            .checkpoints
            .get(&tenant)
            .map(|cp| (cp.sequence, cp.hash.clone()));
        let chain = self.audit.entry(tenant).or_default();
        let (sequence, prev_hash) = chain
            .last()
            .map(|e| (e.sequence, e.hash.clone()))
            .or(from_checkpoint)
            .map_or((1, GENESIS_HASH.to_owned()), |(s, h)| (s + 1, h));
        let (entry, anchor) = seal.seal(record, sequence, &prev_hash, version);
        chain.push(entry.clone());
        self.audit_ids.insert(entry.record.id);
        if let Some(anchor) = anchor {
            self.push_event(anchor);
        }
        entry
    }

    /// Deletes the health rows `doomed` names; returns how many.
    fn delete_health(&mut self, doomed: Vec<(OffsetDateTime, Uuid)>) -> u64 {
        let doomed: HashSet<Uuid> = doomed.into_iter().map(|(_, id)| id).collect();
        self.health.retain(|r| !doomed.contains(&r.id));
        for id in &doomed {
            self.health_ids.remove(id);
        }
        doomed.len() as u64
    }

    fn push_event(&mut self, event: EventEnvelope) {
        let event = stored::event(event);
        let entry = OutboxEntry {
            next_attempt_at: event.occurred_at,
            envelope: event,
            attempts: 0,
            lease_owner: None,
            lease_until: None,
            last_error: None,
        };
        self.outbox
            .insert(entry.envelope.id, OutboxRow { entry, done: false });
    }
}

impl MemoryStore {
    fn health_in_range(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        range: TimeRange,
    ) -> Vec<HealthCheckRecord> {
        self.state()
            .health
            .iter()
            .filter(|h| &h.tenant_id == tenant && h.integration_id == id)
            .filter(|h| range.contains(h.checked_at))
            .cloned()
            .collect()
    }
}

fn matches_filter(i: &Integration, f: &pathops_core::ListFilter) -> bool {
    f.integration_type.is_none_or(|t| i.integration_type == t)
        && f.provider.as_ref().is_none_or(|p| &i.provider == p)
        && f.status.is_none_or(|s| i.status == s)
        && f.environment
            .as_ref()
            .is_none_or(|e| i.environment.as_ref() == Some(e))
        && f.tag.as_ref().is_none_or(|t| i.tags.contains(t))
        && f.name_prefix
            .as_ref()
            .is_none_or(|p| i.name.as_str().starts_with(p.as_str()))
}

fn is_due(row: &OutboxRow, now: OffsetDateTime) -> bool {
    !row.done
        && row.entry.next_attempt_at <= now
        && row.entry.lease_until.is_none_or(|until| until <= now)
}
