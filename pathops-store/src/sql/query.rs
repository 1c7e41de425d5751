//! The other statements the SQL backends run (evidence reads, the outbox, plugins,
//! migrations), built with sea-query for every backend on each call. The catalog's hot
//! statements are in [`super::prepared`].
//!
//! Each function returns a statement; the backend renders it with its `QueryBuilder` and binds
//! the values through sea-query-sqlx. No value is ever formatted into SQL text.

use pathops_core::event::OutboxRelease;
use pathops_core::health::TimeRange;
use pathops_core::store::{AuditQuery, PluginMetadata};
use pathops_core::{IntegrationId, TenantId};
use sea_query::{
    Cond, DynIden, Expr, ExprTrait, Func, InsertStatement, IntoIden, LockBehavior, LockType,
    OnConflict, Order, Query, SelectStatement, UpdateStatement,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::codec::micros;
use super::prepared::{big, json};
use super::schema::{
    AUDIT_COLUMNS, AuditLogs, HEALTH_COLUMNS, HealthChecks, OUTBOX_COLUMNS, Outbox,
    PathopsMigrations, PluginMetadata as Plugins,
};

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

/// `column` of the outbox row named `table` (the table itself or an alias).
fn outbox_col(table: &DynIden, column: Outbox) -> Expr {
    Expr::col((table.clone(), column))
}

/// Whether outbox row `table` is pending: neither delivered nor dead.
fn pending(table: &DynIden) -> Cond {
    Cond::all()
        .add(outbox_col(table, Outbox::DeliveredAt).is_null())
        .add(outbox_col(table, Outbox::DeadAt).is_null())
}

/// Whether pending outbox row `table` is due at `now`: its next attempt reached and its lease
/// free or expired.
fn ready(table: &DynIden, now: i64) -> Cond {
    Cond::all()
        .add(outbox_col(table, Outbox::NextAttemptAt).lte(now))
        .add(
            Cond::any()
                .add(outbox_col(table, Outbox::LeaseUntil).is_null())
                .add(outbox_col(table, Outbox::LeaseUntil).lte(now)),
        )
}

/// Whether an outbox row is due at `now`: pending and ready.
fn due(now: i64) -> Cond {
    let outbox = Outbox::Table.into_iden();
    pending(&outbox).add(ready(&outbox, now))
}

/// Ids of up to `limit` due events, oldest first, leaving out every event behind a pending
/// event of its integration that is not due (leased elsewhere or waiting for a retry), so
/// each integration's events are claimed in order. With `skip_locked`, rows another
/// transaction is claiming are skipped and the selected ones stay locked until commit.
pub(crate) fn select_due_events(
    now: OffsetDateTime,
    limit: u32,
    skip_locked: bool,
) -> SelectStatement {
    use Outbox as C;
    let now = micros(now);
    let outbox = C::Table.into_iden();
    let earlier = "earlier".into_iden();
    let before = Cond::any()
        .add(outbox_col(&earlier, C::OccurredAt).lt(outbox_col(&outbox, C::OccurredAt)))
        .add(
            Cond::all()
                .add(outbox_col(&earlier, C::OccurredAt).eq(outbox_col(&outbox, C::OccurredAt)))
                .add(outbox_col(&earlier, C::EventId).lt(outbox_col(&outbox, C::EventId))),
        );
    let waiting_behind = Query::select()
        .expr(Expr::val(1))
        .from_as(C::Table, earlier.clone())
        .cond_where(
            Cond::all()
                .add(outbox_col(&earlier, C::TenantId).eq(outbox_col(&outbox, C::TenantId)))
                .add(
                    outbox_col(&earlier, C::IntegrationId)
                        .eq(outbox_col(&outbox, C::IntegrationId)),
                )
                .add(pending(&earlier))
                .add(before)
                .add(ready(&earlier, now).not()),
        )
        .take();
    let mut select = Query::select();
    select
        .column(C::EventId)
        .from(C::Table)
        .cond_where(due(now).add(Expr::not_exists(waiting_behind)))
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
        OutboxRelease::HeldBack => update.value(
            C::Attempts,
            Expr::case(
                Expr::col(C::Attempts).gt(0i64),
                Expr::col(C::Attempts).sub(1i64),
            )
            .finally(0i64),
        ),
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
        C::Path,
        C::Sha256,
        C::State,
        C::StateReason,
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
            p.path.clone().into(),
            p.sha256.clone().into(),
            p.state.as_str().into(),
            p.state.reason().map(str::to_owned).into(),
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
                C::Path,
                C::Sha256,
                C::State,
                C::StateReason,
            ])
            .to_owned(),
    );
    Some(insert)
}

/// Every plugin row, ordered by id.
pub(crate) fn select_plugins() -> SelectStatement {
    Query::select()
        .columns([
            Plugins::Descriptor,
            Plugins::DiscoveredAt,
            Plugins::Path,
            Plugins::Sha256,
            Plugins::State,
            Plugins::StateReason,
        ])
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

/// Every recorded migration with its checksum, oldest first.
pub(crate) fn select_migrations() -> SelectStatement {
    Query::select()
        .columns([
            PathopsMigrations::Version,
            PathopsMigrations::Name,
            PathopsMigrations::Checksum,
        ])
        .from(PathopsMigrations::Table)
        .order_by(PathopsMigrations::Version, Order::Asc)
        .take()
}

/// Records the checksum of a migration applied before checksums were kept.
pub(crate) fn set_migration_checksum(version: i64, checksum: &str) -> UpdateStatement {
    Query::update()
        .table(PathopsMigrations::Table)
        .value(PathopsMigrations::Checksum, checksum)
        .and_where(Expr::col(PathopsMigrations::Version).eq(version))
        .and_where(Expr::col(PathopsMigrations::Checksum).is_null())
        .take()
}

/// Statuses the health monitor checks.
fn monitored_statuses() -> impl Iterator<Item = &'static str> {
    pathops_core::IntegrationStatus::ALL
        .into_iter()
        .filter(pathops_core::IntegrationStatus::is_monitored)
        .map(|s| s.as_str())
}

/// Due (never scheduled, or next check not after `now`) and not leased (or lease expired).
fn check_due(now: i64) -> Cond {
    use super::schema::Integrations as C;
    Cond::all()
        .add(
            Cond::any()
                .add(Expr::col(C::NextCheckAt).is_null())
                .add(Expr::col(C::NextCheckAt).lte(now)),
        )
        .add(
            Cond::any()
                .add(Expr::col(C::CheckLeaseUntil).is_null())
                .add(Expr::col(C::CheckLeaseUntil).lte(now)),
        )
}

/// Ids of up to `limit` live, monitored integrations due for a check: never scheduled first,
/// then the most overdue; with `skip_locked`, rows another claimer holds are skipped and the
/// selected ones stay locked until commit.
pub(crate) fn select_due_checks(
    now: OffsetDateTime,
    limit: u32,
    skip_locked: bool,
) -> SelectStatement {
    use super::schema::Integrations as C;
    let mut select = Query::select();
    select
        .column(C::Id)
        .from(C::Table)
        .and_where(Expr::col(C::DeletedAt).is_null())
        .and_where(Expr::col(C::Status).is_in(monitored_statuses()))
        .cond_where(check_due(micros(now)))
        .order_by_with_nulls(C::NextCheckAt, Order::Asc, sea_query::NullOrdering::First)
        .order_by(C::Id, Order::Asc)
        .limit(u64::from(limit));
    if skip_locked {
        select.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    select
}

/// Leases the integrations among `ids` that are still due and free to `owner` until
/// `lease_until`, returning `id, tenant_id, next_check_at` of those it leased. The re-check
/// means a concurrent claimer that picked the same ids gets none of them.
pub(crate) fn lease_checks(
    ids: &[Uuid],
    owner: &str,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
) -> UpdateStatement {
    use super::schema::Integrations as C;
    Query::update()
        .table(C::Table)
        .value(C::CheckLeaseOwner, owner)
        .value(C::CheckLeaseUntil, micros(lease_until))
        .cond_where(check_due(micros(now)).add(Expr::col(C::Id).is_in(ids.iter().copied())))
        .returning(Query::returning().columns([C::Id, C::TenantId, C::NextCheckAt]))
        .take()
}

/// Sets the next check of a live integration and frees its lease.
pub(crate) fn schedule_check(
    tenant: &TenantId,
    id: IntegrationId,
    next_due: OffsetDateTime,
) -> UpdateStatement {
    use super::schema::Integrations as C;
    Query::update()
        .table(C::Table)
        .value(C::NextCheckAt, micros(next_due))
        .value(C::CheckLeaseOwner, Option::<String>::None)
        .value(C::CheckLeaseUntil, Option::<i64>::None)
        .and_where(Expr::col(C::Id).eq(id.as_uuid()))
        .and_where(Expr::col(C::TenantId).eq(tenant.as_str()))
        .and_where(Expr::col(C::DeletedAt).is_null())
        .take()
}

/// Deletes up to `limit` health-check rows older than `before`, oldest first.
pub(crate) fn prune_health(before: OffsetDateTime, limit: u32) -> sea_query::DeleteStatement {
    use HealthChecks as C;
    let oldest = Query::select()
        .column(C::Id)
        .from(C::Table)
        .and_where(Expr::col(C::CheckedAt).lt(micros(before)))
        .order_by(C::CheckedAt, Order::Asc)
        .order_by(C::Id, Order::Asc)
        .limit(u64::from(limit))
        .take();
    Query::delete()
        .from_table(C::Table)
        .and_where(Expr::col(C::Id).in_subquery(oldest))
        .take()
}

/// The window of one integration's checks a summary covers (skipped checks excluded).
fn summary_window(tenant: &TenantId, id: IntegrationId, range: TimeRange) -> Cond {
    use HealthChecks as C;
    Cond::all()
        .add(Expr::col(C::IntegrationId).eq(id.as_uuid()))
        .add(Expr::col(C::TenantId).eq(tenant.as_str()))
        .add(Expr::col(C::CheckedAt).gte(micros(range.from)))
        .add(Expr::col(C::CheckedAt).lt(micros(range.to)))
        .add(Expr::col(C::Status).ne("skipped"))
}

/// A series column of `health_checks` and the names of its aggregates.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SeriesColumn {
    pub(crate) column: &'static str,
    pub(crate) checks: &'static str,
    pub(crate) successes: &'static str,
    pub(crate) last_failure: &'static str,
}

/// The series columns, in [`Series::ALL`](pathops_core::health::Series::ALL) order.
pub(crate) const SERIES_COLUMNS: [SeriesColumn; 3] = [
    SeriesColumn {
        column: "reach_ok",
        checks: "reach_n",
        successes: "reach_successes",
        last_failure: "reach_last_failure",
    },
    SeriesColumn {
        column: "auth_ok",
        checks: "auth_n",
        successes: "auth_successes",
        last_failure: "auth_last_failure",
    },
    SeriesColumn {
        column: "webhook_ok",
        checks: "webhook_n",
        successes: "webhook_successes",
        last_failure: "webhook_last_failure",
    },
];

/// The failing checks' key in a summary: the failure code (`unknown` without one) of an
/// unhealthy check, `NULL` for every other check.
const FAILURE_KEY: &str =
    "CASE WHEN status = 'unhealthy' THEN COALESCE(failure_code, 'unknown') END";

/// The aggregates of a summary window in one pass, one row per failure key (`failure_key`:
/// a failure code, or `NULL` for the checks that did not fail): checks, successes, last
/// success and failure, and each series' checks, successes and last failure. The caller adds
/// the rows up; the keyed rows are the failure codes by count, and those whose last failure
/// is the window's are the codes of the last failure. With `percentiles` (PostgreSQL), one more
/// row, `grand_total = 1`, is the grouping set of the whole window carrying the nearest-rank
/// `p50`, `p95` and `p99` latencies (`percentile_disc`: the first latency whose rank reaches
/// `ceil(p × n)`, the rule of [`HealthSummary`](pathops_core::HealthSummary)). The expressions
/// name fixed columns only; every value is bound.
pub(crate) fn summary_counts(
    tenant: &TenantId,
    id: IntegrationId,
    range: TimeRange,
    percentiles: bool,
) -> SelectStatement {
    let mut q = Query::select();
    q.expr_as(Expr::cust(FAILURE_KEY), "failure_key")
        .expr_as(Expr::cust("COUNT(*)"), "checks")
        .expr_as(
            Expr::cust("COALESCE(SUM(CASE WHEN status = 'healthy' THEN 1 ELSE 0 END), 0)"),
            "successes",
        )
        .expr_as(
            Expr::cust("MAX(CASE WHEN status = 'healthy' THEN checked_at END)"),
            "last_success_at",
        )
        .expr_as(
            Expr::cust("MAX(CASE WHEN status = 'unhealthy' THEN checked_at END)"),
            "last_failure_at",
        );
    for c in SERIES_COLUMNS {
        let col = c.column;
        q.expr_as(Expr::cust(format!("COUNT({col})")), c.checks)
            .expr_as(
                Expr::cust(format!(
                    "COALESCE(SUM(CASE WHEN {col} THEN 1 ELSE 0 END), 0)"
                )),
                c.successes,
            )
            .expr_as(
                Expr::cust(format!("MAX(CASE WHEN NOT {col} THEN checked_at END)")),
                c.last_failure,
            );
    }
    q.from(HealthChecks::Table)
        .cond_where(summary_window(tenant, id, range));
    if percentiles {
        for (p, name) in [("0.5", "p50"), ("0.95", "p95"), ("0.99", "p99")] {
            q.expr_as(
                Expr::cust(format!(
                    "percentile_disc({p}) WITHIN GROUP (ORDER BY latency_ms)"
                )),
                name,
            );
        }
        q.expr_as(
            Expr::cust(format!("CAST(GROUPING({FAILURE_KEY}) AS BIGINT)")),
            "grand_total",
        )
        .add_group_by([Expr::cust(format!("GROUPING SETS (({FAILURE_KEY}), ())"))]);
    } else {
        q.add_group_by([Expr::cust(FAILURE_KEY)]);
    }
    q.take()
}

/// The nearest-rank 50th, 95th and 99th percentile latencies of a summary window: rows
/// `(rn, latency_ms)` for the ranks `ceil(p × n / 100)`, computed in the database with a window
/// function over the integration's index range.
pub(crate) fn summary_percentiles(
    tenant: &TenantId,
    id: IntegrationId,
    range: TimeRange,
) -> SelectStatement {
    use HealthChecks as C;
    let ranked = Query::select()
        .column(C::LatencyMs)
        .expr_as(Expr::cust("ROW_NUMBER() OVER (ORDER BY latency_ms)"), "rn")
        .expr_as(Expr::cust("COUNT(*) OVER ()"), "n")
        .from(C::Table)
        .cond_where(summary_window(tenant, id, range).add(Expr::col(C::LatencyMs).is_not_null()))
        .take();
    Query::select()
        .columns(["rn", "latency_ms", "n"])
        .from_subquery(ranked, "ranked")
        .and_where(Expr::cust(
            "rn IN ((50 * n + 99) / 100, (95 * n + 99) / 100, (99 * n + 99) / 100)",
        ))
        .take()
}

/// Deletes up to `limit` health-check rows beyond the newest `keep` of their integration,
/// oldest first.
pub(crate) fn prune_health_excess(keep: u32, limit: u32) -> sea_query::DeleteStatement {
    use HealthChecks as C;
    let ranked = Query::select()
        .column(C::Id)
        .column(C::CheckedAt)
        .expr_as(
            Expr::cust(
                "ROW_NUMBER() OVER (PARTITION BY integration_id ORDER BY checked_at DESC, id DESC)",
            ),
            "rn",
        )
        .from(C::Table)
        .take();
    let excess = Query::select()
        .column("id")
        .from_subquery(ranked, "ranked")
        .and_where(Expr::col("rn").gt(i64::from(keep)))
        .order_by("checked_at", Order::Asc)
        .order_by("id", Order::Asc)
        .limit(u64::from(limit))
        .take();
    Query::delete()
        .from_table(C::Table)
        .and_where(Expr::col(C::Id).in_subquery(excess))
        .take()
}

/// A tenant's audit checkpoint.
pub(crate) fn select_checkpoint(tenant: &TenantId) -> SelectStatement {
    use super::schema::AuditCheckpoints as C;
    Query::select()
        .columns([C::TenantId, C::Sequence, C::Hash])
        .from(C::Table)
        .and_where(Expr::col(C::TenantId).eq(tenant.as_str()))
        .take()
}

/// Records (or moves) a tenant's audit checkpoint.
pub(crate) fn upsert_checkpoint(
    checkpoint: &pathops_core::audit::AuditCheckpoint,
    now: OffsetDateTime,
) -> InsertStatement {
    use super::schema::AuditCheckpoints as C;
    Query::insert()
        .into_table(C::Table)
        .columns([C::TenantId, C::Sequence, C::Hash, C::PrunedAt])
        .values_panic([
            checkpoint.tenant_id.as_str().into(),
            big(checkpoint.sequence).into(),
            checkpoint.hash.as_str().into(),
            micros(now).into(),
        ])
        .on_conflict(
            OnConflict::column(C::TenantId)
                .update_columns([C::Sequence, C::Hash, C::PrunedAt])
                .to_owned(),
        )
        .take()
}

/// The audit entry of a tenant at `sequence` (for checking a checkpoint).
pub(crate) fn select_audit_at(tenant: &TenantId, sequence: u64) -> SelectStatement {
    use AuditLogs as C;
    Query::select()
        .columns(AUDIT_COLUMNS)
        .from(C::Table)
        .and_where(Expr::col(C::TenantId).eq(tenant.as_str()))
        .and_where(Expr::col(C::Sequence).eq(big(sequence)))
        .take()
}

/// The newest audit entry of a tenant.
pub(crate) fn select_audit_newest(tenant: &TenantId) -> SelectStatement {
    use AuditLogs as C;
    Query::select()
        .columns(AUDIT_COLUMNS)
        .from(C::Table)
        .and_where(Expr::col(C::TenantId).eq(tenant.as_str()))
        .order_by(C::Sequence, Order::Desc)
        .limit(1)
        .take()
}

/// Deletes a tenant's audit entries up to and including `sequence`.
pub(crate) fn delete_audit_through(tenant: &TenantId, sequence: u64) -> sea_query::DeleteStatement {
    use AuditLogs as C;
    Query::delete()
        .from_table(C::Table)
        .and_where(Expr::col(C::TenantId).eq(tenant.as_str()))
        .and_where(Expr::col(C::Sequence).lte(big(sequence)))
        .take()
}

/// The version of a live integration (for an anchor event).
pub(crate) fn select_live_version(tenant: &TenantId, id: IntegrationId) -> SelectStatement {
    use super::schema::Integrations as C;
    Query::select()
        .columns([C::Version, C::DeletedAt])
        .from(C::Table)
        .and_where(Expr::col(C::TenantId).eq(tenant.as_str()))
        .and_where(Expr::col(C::Id).eq(id.as_uuid()))
        .take()
}
