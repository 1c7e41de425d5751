//! Every statement the SQL backends run, built once with sea-query for all of them.
//!
//! Each function returns a statement; the backend renders it with its `QueryBuilder` and binds
//! the values through sea-query-sqlx. No value is ever formatted into SQL text.

use pathops_core::audit::AuditEntry;
use pathops_core::event::{EventEnvelope, OutboxRelease};
use pathops_core::health::TimeRange;
use pathops_core::page::CursorPosition;
use pathops_core::store::{AuditQuery, PluginMetadata};
use pathops_core::{HealthCheckRecord, Integration, IntegrationId, ListFilter, TenantId};
use sea_query::{
    Cond, DeleteStatement, Expr, ExprTrait, Func, InsertStatement, LockBehavior, LockType,
    OnConflict, Order, Query, SelectStatement, UpdateStatement, Value,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::codec::micros;
use super::schema::{
    AUDIT_COLUMNS, AuditLogs, HEALTH_COLUMNS, HealthChecks, INTEGRATION_COLUMNS, IntegrationTags,
    Integrations, OUTBOX_COLUMNS, Outbox, PathopsMigrations, PluginMetadata as Plugins,
};
use crate::stored;

/// A stored count or version (`u64` in the domain, `BIGINT` in the schema).
fn big(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn json(value: &impl serde::Serialize) -> Value {
    serde_json::to_value(value)
        .expect("domain values serialize to JSON")
        .into()
}

/// The values of every `integrations` column for `i` (as stored).
fn integration_values(i: &Integration) -> [(Integrations, Value); 25] {
    use Integrations as C;
    let deleted_at = stored::is_deleted(i).then(|| micros(i.modified_at));
    [
        (C::Id, i.id.as_uuid().into()),
        (C::TenantId, i.tenant_id.as_str().into()),
        (C::Name, i.name.as_str().into()),
        (
            C::Description,
            i.description.as_ref().map(|d| d.as_str().to_owned()).into(),
        ),
        (C::IntegrationType, i.integration_type.as_str().into()),
        (C::Provider, i.provider.as_str().into()),
        (C::BaseUrl, i.base_url.as_str().into()),
        (
            C::AuthRef,
            i.auth_ref.as_ref().map(|r| r.as_str().to_owned()).into(),
        ),
        (C::Configuration, i.configuration.to_value().into()),
        (
            C::Environment,
            i.environment.as_ref().map(|e| e.as_str().to_owned()).into(),
        ),
        (C::Tags, json(&i.tags.as_slice())),
        (
            C::OwnerId,
            i.owner_id.as_ref().map(|o| o.as_str().to_owned()).into(),
        ),
        (C::Status, i.status.as_str().into()),
        (C::Verified, i.verified.into()),
        (C::PauseReason, i.pause_reason.clone().into()),
        (C::PauseTicket, i.pause_ticket.clone().into()),
        (C::LastTestedAt, i.last_tested_at.map(micros).into()),
        (C::LastTestSuccess, i.last_test_success.into()),
        (
            C::ConsecutiveFailures,
            i64::from(i.consecutive_failures).into(),
        ),
        (C::CreatedAt, micros(i.created_at).into()),
        (C::CreatedBy, i.created_by.as_str().into()),
        (C::ModifiedAt, micros(i.modified_at).into()),
        (C::ModifiedBy, i.modified_by.as_str().into()),
        (C::Version, big(i.version).into()),
        (C::DeletedAt, deleted_at.into()),
    ]
}

fn live(tenant: &TenantId) -> Cond {
    Cond::all()
        .add(Expr::col(Integrations::TenantId).eq(tenant.as_str()))
        .add(Expr::col(Integrations::DeletedAt).is_null())
}

/// One live integration of a tenant.
pub(crate) fn select_integration(tenant: &TenantId, id: IntegrationId) -> SelectStatement {
    Query::select()
        .columns(INTEGRATION_COLUMNS)
        .from(Integrations::Table)
        .cond_where(live(tenant).add(Expr::col(Integrations::Id).eq(id.as_uuid())))
        .take()
}

/// A page of live integrations after `position`, ordered by `(name, id)`; selects one row more
/// than `limit` so the caller knows whether another page follows.
pub(crate) fn list_integrations(
    tenant: &TenantId,
    filter: &ListFilter,
    position: Option<&CursorPosition>,
    limit: u32,
) -> SelectStatement {
    use Integrations as C;
    let mut cond = live(tenant);
    if let Some(t) = filter.integration_type {
        cond = cond.add(Expr::col(C::IntegrationType).eq(t.as_str()));
    }
    if let Some(p) = &filter.provider {
        cond = cond
            .add(Expr::col(C::Provider).eq(p.as_str()))
            .add(Expr::col(C::IntegrationType).eq(p.integration_type().as_str()));
    }
    if let Some(s) = filter.status {
        cond = cond.add(Expr::col(C::Status).eq(s.as_str()));
    }
    if let Some(e) = &filter.environment {
        cond = cond.add(Expr::col(C::Environment).eq(e.as_str()));
    }
    if let Some(tag) = &filter.tag {
        let tagged = Query::select()
            .column(IntegrationTags::IntegrationId)
            .from(IntegrationTags::Table)
            .and_where(Expr::col(IntegrationTags::TenantId).eq(tenant.as_str()))
            .and_where(Expr::col(IntegrationTags::Tag).eq(tag.as_str()))
            .take();
        cond = cond.add(Expr::col(C::Id).in_subquery(tagged));
    }
    if let Some(prefix) = &filter.name_prefix {
        // A range, not LIKE: literal, case-sensitive and served by the name index.
        cond = cond.add(Expr::col(C::Name).gte(prefix.as_str()));
        if let Some(upper) = stored::prefix_upper_bound(prefix) {
            cond = cond.add(Expr::col(C::Name).lt(upper));
        }
    }
    if let Some(p) = position {
        cond = cond.add(
            Expr::tuple([Expr::col(C::Name), Expr::col(C::Id)]).gt(Expr::tuple([
                Expr::val(p.name.as_str()),
                Expr::val(p.id.as_uuid()),
            ])),
        );
    }
    Query::select()
        .columns(INTEGRATION_COLUMNS)
        .from(C::Table)
        .cond_where(cond)
        .order_by(C::Name, Order::Asc)
        .order_by(C::Id, Order::Asc)
        .limit(u64::from(limit) + 1)
        .take()
}

/// Inserts an integration row.
pub(crate) fn insert_integration(i: &Integration) -> InsertStatement {
    let (columns, values): (Vec<_>, Vec<_>) = integration_values(i).into_iter().unzip();
    Query::insert()
        .into_table(Integrations::Table)
        .columns(columns)
        .values_panic(values.into_iter().map(Expr::from))
        .take()
}

/// Replaces a live integration row if its version is `expected_version`.
pub(crate) fn update_integration(i: &Integration, expected_version: u64) -> UpdateStatement {
    use Integrations as C;
    let values = integration_values(i)
        .into_iter()
        .filter(|(c, _)| !matches!(c, C::Id | C::TenantId))
        .map(|(c, v)| (c, Expr::from(v)));
    Query::update()
        .table(C::Table)
        .values(values)
        .cond_where(
            live(&i.tenant_id)
                .add(Expr::col(C::Id).eq(i.id.as_uuid()))
                .add(Expr::col(C::Version).eq(big(expected_version))),
        )
        .take()
}

/// The version and deletion marker of an integration of a tenant (live or not).
pub(crate) fn select_version(tenant: &TenantId, id: IntegrationId) -> SelectStatement {
    Query::select()
        .columns([Integrations::Version, Integrations::DeletedAt])
        .from(Integrations::Table)
        .and_where(Expr::col(Integrations::TenantId).eq(tenant.as_str()))
        .and_where(Expr::col(Integrations::Id).eq(id.as_uuid()))
        .take()
}

/// Removes the tag rows of an integration.
pub(crate) fn delete_tags(id: IntegrationId) -> DeleteStatement {
    Query::delete()
        .from_table(IntegrationTags::Table)
        .and_where(Expr::col(IntegrationTags::IntegrationId).eq(id.as_uuid()))
        .take()
}

/// Inserts the tag rows of an integration (`None` without tags).
pub(crate) fn insert_tags(i: &Integration) -> Option<InsertStatement> {
    if i.tags.is_empty() {
        return None;
    }
    let mut insert = Query::insert();
    insert.into_table(IntegrationTags::Table).columns([
        IntegrationTags::IntegrationId,
        IntegrationTags::TenantId,
        IntegrationTags::Tag,
    ]);
    for tag in i.tags.as_slice() {
        insert.values_panic([
            i.id.as_uuid().into(),
            i.tenant_id.as_str().into(),
            tag.as_str().into(),
        ]);
    }
    Some(insert)
}

/// The `(sequence, hash)` of a tenant's last audit entry.
pub(crate) fn select_audit_head(tenant: &TenantId) -> SelectStatement {
    Query::select()
        .columns([AuditLogs::Sequence, AuditLogs::Hash])
        .from(AuditLogs::Table)
        .and_where(Expr::col(AuditLogs::TenantId).eq(tenant.as_str()))
        .order_by(AuditLogs::Sequence, Order::Desc)
        .limit(1)
        .take()
}

/// Appends a sealed audit entry.
pub(crate) fn insert_audit(e: &AuditEntry) -> InsertStatement {
    let r = &e.record;
    let changes = serde_json::to_string(&r.changes).expect("field changes serialize to JSON");
    Query::insert()
        .into_table(AuditLogs::Table)
        .columns(AUDIT_COLUMNS)
        .values_panic([
            r.id.into(),
            r.tenant_id.as_str().into(),
            big(e.sequence).into(),
            r.integration_id.map(|id| id.as_uuid()).into(),
            r.actor.as_str().into(),
            r.action.as_str().into(),
            micros(r.at).into(),
            changes.into(),
            r.reason.clone().into(),
            r.ticket.clone().into(),
            r.approver.as_ref().map(|a| a.as_str().to_owned()).into(),
            e.prev_hash.as_str().into(),
            e.hash.as_str().into(),
        ])
        .take()
}

/// Audit entries of a tenant matching `q`, in sequence order.
pub(crate) fn select_audit(tenant: &TenantId, q: &AuditQuery) -> SelectStatement {
    use AuditLogs as C;
    let mut cond = Cond::all().add(Expr::col(C::TenantId).eq(tenant.as_str()));
    if let Some(id) = q.integration_id {
        cond = cond.add(Expr::col(C::IntegrationId).eq(id.as_uuid()));
    }
    if let Some(actor) = &q.actor {
        cond = cond.add(Expr::col(C::Actor).eq(actor.as_str()));
    }
    if let Some(range) = q.range {
        cond = cond
            .add(Expr::col(C::At).gte(micros(range.from)))
            .add(Expr::col(C::At).lt(micros(range.to)));
    }
    if let Some(after) = q.after_sequence {
        cond = cond.add(Expr::col(C::Sequence).gt(big(after)));
    }
    Query::select()
        .columns(AUDIT_COLUMNS)
        .from(C::Table)
        .cond_where(cond)
        .order_by(C::Sequence, Order::Asc)
        .limit(u64::from(q.effective_limit()))
        .take()
}

/// Puts events in the outbox, due when they occurred (`None` without events).
pub(crate) fn insert_events(events: &[EventEnvelope]) -> Option<InsertStatement> {
    if events.is_empty() {
        return None;
    }
    use Outbox as C;
    let mut insert = Query::insert();
    insert.into_table(C::Table).columns([
        C::EventId,
        C::TenantId,
        C::IntegrationId,
        C::EventType,
        C::Version,
        C::OccurredAt,
        C::Data,
        C::Attempts,
        C::NextAttemptAt,
    ]);
    for e in events {
        let occurred_at = micros(e.occurred_at);
        insert.values_panic([
            e.id.into(),
            e.tenant_id.as_str().into(),
            e.integration_id.as_uuid().into(),
            e.event_type.as_str().into(),
            big(e.version).into(),
            occurred_at.into(),
            e.data.clone().into(),
            0i64.into(),
            occurred_at.into(),
        ]);
    }
    Some(insert)
}

/// Records a health check.
pub(crate) fn insert_health(h: &HealthCheckRecord) -> InsertStatement {
    Query::insert()
        .into_table(HealthChecks::Table)
        .columns(HEALTH_COLUMNS)
        .values_panic([
            h.id.into(),
            h.tenant_id.as_str().into(),
            h.integration_id.as_uuid().into(),
            micros(h.checked_at).into(),
            h.kind.as_str().into(),
            h.status.as_str().into(),
            h.failure.as_ref().map(|f| f.as_str().to_owned()).into(),
            h.failure
                .as_ref()
                .map(|f| serde_json::to_value(f).expect("failure codes serialize"))
                .into(),
            h.latency_ms.map(big).into(),
            h.message.as_str().into(),
            serde_json::Value::Object(h.details.clone()).into(),
        ])
        .take()
}

/// Health checks of one integration in `range`, newest first (ties by id), at most `limit`.
pub(crate) fn select_health(
    tenant: &TenantId,
    id: IntegrationId,
    range: TimeRange,
    limit: Option<u32>,
) -> SelectStatement {
    use HealthChecks as C;
    Query::select()
        .columns(HEALTH_COLUMNS)
        .from(C::Table)
        .and_where(Expr::col(C::IntegrationId).eq(id.as_uuid()))
        .and_where(Expr::col(C::TenantId).eq(tenant.as_str()))
        .and_where(Expr::col(C::CheckedAt).gte(micros(range.from)))
        .and_where(Expr::col(C::CheckedAt).lt(micros(range.to)))
        .order_by(C::CheckedAt, Order::Desc)
        .order_by(C::Id, Order::Desc)
        .apply_if(limit, |q, n| {
            q.limit(u64::from(n));
        })
        .take()
}

/// Whether an outbox row is due at `now`: not delivered, not dead, its next attempt reached
/// and its lease free or expired.
fn due(now: i64) -> Cond {
    use Outbox as C;
    Cond::all()
        .add(Expr::col(C::DeliveredAt).is_null())
        .add(Expr::col(C::DeadAt).is_null())
        .add(Expr::col(C::NextAttemptAt).lte(now))
        .add(
            Cond::any()
                .add(Expr::col(C::LeaseUntil).is_null())
                .add(Expr::col(C::LeaseUntil).lte(now)),
        )
}

/// Ids of up to `limit` due events, oldest first; with `skip_locked`, rows another transaction
/// is claiming are skipped and the selected ones stay locked until commit.
pub(crate) fn select_due_events(
    now: OffsetDateTime,
    limit: u32,
    skip_locked: bool,
) -> SelectStatement {
    use Outbox as C;
    let mut select = Query::select();
    select
        .column(C::EventId)
        .from(C::Table)
        .cond_where(due(micros(now)))
        .order_by(C::OccurredAt, Order::Asc)
        .order_by(C::EventId, Order::Asc)
        .limit(u64::from(limit));
    if skip_locked {
        select.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    select
}

/// Leases the events among `ids` that are still due to `owner` until `lease_until`, counts an
/// attempt on each and returns them. Re-checking "due" here means a concurrent claimer that
/// picked the same ids gets none of them, even without row locks.
pub(crate) fn lease_events(
    ids: &[Uuid],
    owner: &str,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
) -> UpdateStatement {
    use Outbox as C;
    Query::update()
        .table(C::Table)
        .value(C::Attempts, Expr::col(C::Attempts).add(1i64))
        .value(C::LeaseOwner, owner)
        .value(C::LeaseUntil, micros(lease_until))
        .cond_where(due(micros(now)).add(Expr::col(C::EventId).is_in(ids.iter().copied())))
        .returning(Query::returning().columns(OUTBOX_COLUMNS))
        .take()
}

/// Records the outcome of a delivery attempt and frees the lease.
pub(crate) fn release_event(id: Uuid, release: &OutboxRelease) -> UpdateStatement {
    use Outbox as C;
    let mut update = Query::update();
    update
        .table(C::Table)
        .value(C::LeaseOwner, Option::<String>::None)
        .value(C::LeaseUntil, Option::<i64>::None)
        .and_where(Expr::col(C::EventId).eq(id));
    match release {
        OutboxRelease::Delivered { at } => update.value(C::DeliveredAt, micros(*at)),
        OutboxRelease::Retry { retry_at, error } => update
            .value(C::NextAttemptAt, micros(*retry_at))
            .value(C::LastError, error.as_str()),
        OutboxRelease::Dead { at, error } => update
            .value(C::DeadAt, micros(*at))
            .value(C::LastError, error.as_str()),
    };
    update
}

/// Inserts or replaces plugin rows by id (the last of duplicate ids wins); `None` when empty.
pub(crate) fn upsert_plugins(plugins: &[PluginMetadata]) -> Option<InsertStatement> {
    use Plugins as C;
    let by_id: std::collections::BTreeMap<&str, &PluginMetadata> = plugins
        .iter()
        .map(|p| (p.descriptor.id.as_str(), p))
        .collect();
    if by_id.is_empty() {
        return None;
    }
    let mut insert = Query::insert();
    insert.into_table(C::Table).columns([
        C::Id,
        C::Provider,
        C::IntegrationType,
        C::Version,
        C::Descriptor,
        C::DiscoveredAt,
    ]);
    for p in by_id.into_values() {
        let d = &p.descriptor;
        insert.values_panic([
            d.id.as_str().into(),
            d.provider.as_str().into(),
            d.integration_type.as_str().into(),
            d.version.as_str().into(),
            json(d).into(),
            micros(p.discovered_at).into(),
        ]);
    }
    insert.on_conflict(
        OnConflict::column(C::Id)
            .update_columns([
                C::Provider,
                C::IntegrationType,
                C::Version,
                C::Descriptor,
                C::DiscoveredAt,
            ])
            .to_owned(),
    );
    Some(insert)
}

/// Every plugin row, ordered by id.
pub(crate) fn select_plugins() -> SelectStatement {
    Query::select()
        .columns([Plugins::Descriptor, Plugins::DiscoveredAt])
        .from(Plugins::Table)
        .order_by(Plugins::Id, Order::Asc)
        .take()
}

/// The newest applied schema version (`current`, NULL on an empty table).
pub(crate) fn select_schema_version() -> SelectStatement {
    Query::select()
        .expr_as(Func::max(Expr::col(PathopsMigrations::Version)), "current")
        .from(PathopsMigrations::Table)
        .take()
}

/// Records an applied migration.
pub(crate) fn insert_migration(
    version: i64,
    name: &str,
    applied_at: OffsetDateTime,
) -> InsertStatement {
    Query::insert()
        .into_table(PathopsMigrations::Table)
        .columns([
            PathopsMigrations::Version,
            PathopsMigrations::Name,
            PathopsMigrations::AppliedAt,
        ])
        .values_panic([version.into(), name.into(), micros(applied_at).into()])
        .take()
}
