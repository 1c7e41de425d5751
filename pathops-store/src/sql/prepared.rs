//! The catalog's hot statements (reads by id and page, the writes of a mutation) as
//! [`Prepared`] statements, rendered once per store and shape (see [`super::template`]).
//!
//! Each function collects the values in a fixed order; the builder next to it takes them in
//! that order. The `shape` records everything else the builder's output depends on.

use pathops_core::audit::AuditEntry;
use pathops_core::event::EventEnvelope;
use pathops_core::health::Series;
use pathops_core::lifecycle::LifecycleState;
use pathops_core::page::CursorPosition;
use pathops_core::store::HealthFields;
use pathops_core::{HealthCheckRecord, Integration, IntegrationId, ListFilter, TenantId};
use sea_query::{Cond, Expr, ExprTrait, Order, Query, Value};

use super::codec::micros;
use super::schema::{
    AUDIT_COLUMNS, AuditLogs, HEALTH_WRITE_COLUMNS, HealthChecks, INTEGRATION_COLUMNS,
    IntegrationTags, Integrations, Outbox,
};
use super::template::{Args, Prepared, Statement, limit_arg, limit_value};
use crate::stored;

/// A stored count or version (`u64` in the domain, `BIGINT` in the schema).
pub(crate) fn big(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A domain value as JSON.
pub(crate) fn json(value: &impl serde::Serialize) -> Value {
    serde_json::to_value(value)
        .expect("domain values serialize to JSON")
        .into()
}

/// The columns an integration row is written with, in value order.
const WRITE_COLUMNS: [Integrations; 26] = {
    let mut out = [Integrations::DeletedAt; 26];
    let mut k = 0;
    while k < INTEGRATION_COLUMNS.len() {
        out[k] = INTEGRATION_COLUMNS[k];
        k += 1;
    }
    out
};

/// The values of [`WRITE_COLUMNS`] for `i` (as stored).
fn integration_values(i: &Integration) -> Vec<Value> {
    let deleted_at = stored::is_deleted(i).then(|| micros(i.modified_at));
    vec![
        i.id.as_uuid().into(),
        i.tenant_id.as_str().into(),
        i.name.as_str().into(),
        i.description.as_ref().map(|d| d.as_str().to_owned()).into(),
        i.integration_type.as_str().into(),
        i.provider.as_str().into(),
        i.base_url.as_str().into(),
        i.auth_ref.as_ref().map(|r| r.as_str().to_owned()).into(),
        i.configuration.to_value().into(),
        i.environment.as_ref().map(|e| e.as_str().to_owned()).into(),
        json(&i.tags.as_slice()),
        i.owner_id.as_ref().map(|o| o.as_str().to_owned()).into(),
        i.status.as_str().into(),
        i.verified.into(),
        i.pause_reason.clone().into(),
        i.pause_ticket.clone().into(),
        i.last_tested_at.map(micros).into(),
        i.last_test_success.into(),
        i64::from(i.consecutive_failures).into(),
        i.flapping.into(),
        micros(i.created_at).into(),
        i.created_by.as_str().into(),
        micros(i.modified_at).into(),
        i.modified_by.as_str().into(),
        big(i.version).into(),
        deleted_at.into(),
    ]
}

/// Rows of `tenant` that are not soft-deleted.
fn live(tenant: Value) -> Cond {
    Cond::all()
        .add(Expr::col(Integrations::TenantId).eq(tenant))
        .add(Expr::col(Integrations::DeletedAt).is_null())
}

/// One live integration of a tenant.
pub(crate) fn select_integration(tenant: &TenantId, id: IntegrationId) -> Prepared {
    fn build(_: u64, mut a: Args) -> Statement {
        let (tenant, id) = (a.next(), a.next());
        Statement::Select(
            Query::select()
                .columns(INTEGRATION_COLUMNS)
                .from(Integrations::Table)
                .cond_where(live(tenant).add(Expr::col(Integrations::Id).eq(id)))
                .take(),
        )
    }
    Prepared {
        name: "select_integration",
        shape: 0,
        args: vec![tenant.as_str().into(), id.as_uuid().into()],
        build,
    }
}

const BY_TYPE: u64 = 1;
const BY_PROVIDER: u64 = 1 << 1;
const BY_STATUS: u64 = 1 << 2;
const BY_ENVIRONMENT: u64 = 1 << 3;
const BY_TAG: u64 = 1 << 4;
const BY_PREFIX: u64 = 1 << 5;
const BELOW_PREFIX_END: u64 = 1 << 6;
const AFTER_POSITION: u64 = 1 << 7;

/// A page of live integrations after `position`, ordered by `(name, id)`; selects one row more
/// than `limit` so the caller knows whether another page follows.
pub(crate) fn list_integrations(
    tenant: &TenantId,
    filter: &ListFilter,
    position: Option<&CursorPosition>,
    limit: u32,
) -> Prepared {
    let mut shape = 0;
    let mut args: Vec<Value> = vec![tenant.as_str().into()];
    let mut with = |flag: u64, values: &[Value]| {
        shape |= flag;
        args.extend_from_slice(values);
    };
    if let Some(t) = filter.integration_type {
        with(BY_TYPE, &[t.as_str().into()]);
    }
    if let Some(p) = &filter.provider {
        with(
            BY_PROVIDER,
            &[p.as_str().into(), p.integration_type().as_str().into()],
        );
    }
    if let Some(s) = filter.status {
        with(BY_STATUS, &[s.as_str().into()]);
    }
    if let Some(e) = &filter.environment {
        with(BY_ENVIRONMENT, &[e.as_str().into()]);
    }
    if let Some(tag) = &filter.tag {
        with(BY_TAG, &[tag.as_str().into()]);
    }
    if let Some(prefix) = &filter.name_prefix {
        with(BY_PREFIX, &[prefix.as_str().into()]);
        if let Some(upper) = stored::prefix_upper_bound(prefix) {
            with(BELOW_PREFIX_END, &[upper.into()]);
        }
    }
    if let Some(p) = position {
        with(
            AFTER_POSITION,
            &[p.name.as_str().into(), p.id.as_uuid().into()],
        );
    }
    args.push(limit_value(u64::from(limit) + 1));
    Prepared {
        name: "list_integrations",
        shape,
        args,
        build: build_list,
    }
}

fn build_list(shape: u64, mut a: Args) -> Statement {
    use Integrations as C;
    let tenant = a.next();
    let mut cond = live(tenant.clone());
    let has = |flag| shape & flag != 0;
    if has(BY_TYPE) {
        cond = cond.add(Expr::col(C::IntegrationType).eq(a.next()));
    }
    if has(BY_PROVIDER) {
        cond = cond
            .add(Expr::col(C::Provider).eq(a.next()))
            .add(Expr::col(C::IntegrationType).eq(a.next()));
    }
    if has(BY_STATUS) {
        cond = cond.add(Expr::col(C::Status).eq(a.next()));
    }
    if has(BY_ENVIRONMENT) {
        cond = cond.add(Expr::col(C::Environment).eq(a.next()));
    }
    if has(BY_TAG) {
        let tagged = Query::select()
            .column(IntegrationTags::IntegrationId)
            .from(IntegrationTags::Table)
            .and_where(Expr::col(IntegrationTags::TenantId).eq(tenant))
            .and_where(Expr::col(IntegrationTags::Tag).eq(a.next()))
            .take();
        cond = cond.add(Expr::col(C::Id).in_subquery(tagged));
    }
    if has(BY_PREFIX) {
        // A range, not LIKE: literal, case-sensitive and served by the name index.
        cond = cond.add(Expr::col(C::Name).gte(a.next()));
    }
    if has(BELOW_PREFIX_END) {
        cond = cond.add(Expr::col(C::Name).lt(a.next()));
    }
    if has(AFTER_POSITION) {
        let (name, id) = (a.next(), a.next());
        cond = cond.add(
            Expr::tuple([Expr::col(C::Name), Expr::col(C::Id)])
                .gt(Expr::tuple([Expr::val(name), Expr::val(id)])),
        );
    }
    Statement::Select(
        Query::select()
            .columns(INTEGRATION_COLUMNS)
            .from(C::Table)
            .cond_where(cond)
            .order_by(C::Name, Order::Asc)
            .order_by(C::Id, Order::Asc)
            .limit(limit_arg(a.next()))
            .take(),
    )
}

/// Inserts an integration row.
pub(crate) fn insert_integration(i: &Integration) -> Prepared {
    fn build(_: u64, mut a: Args) -> Statement {
        Statement::Insert(
            Query::insert()
                .into_table(Integrations::Table)
                .columns(WRITE_COLUMNS)
                .values_panic(WRITE_COLUMNS.map(|_| Expr::val(a.next())))
                .take(),
        )
    }
    Prepared {
        name: "insert_integration",
        shape: 0,
        args: integration_values(i),
        build,
    }
}

/// The health fields: written by checks, kept by edits.
const HEALTH_FIELDS: [Integrations; 4] = [
    Integrations::LastTestedAt,
    Integrations::LastTestSuccess,
    Integrations::ConsecutiveFailures,
    Integrations::Flapping,
];

/// Shape bit of [`update_integration`]: the health fields are written too.
const WRITES_HEALTH: u64 = 1;

/// Replaces a live integration row if its version is `expected_version`; the health fields
/// only when `write_health` is set (else the stored ones stay).
pub(crate) fn update_integration(
    i: &Integration,
    expected_version: u64,
    write_health: bool,
) -> Prepared {
    fn written(shape: u64) -> impl Iterator<Item = (usize, Integrations)> {
        WRITE_COLUMNS
            .into_iter()
            .enumerate()
            .filter(move |(_, c)| shape & WRITES_HEALTH != 0 || !HEALTH_FIELDS.contains(c))
    }
    fn build(shape: u64, mut a: Args) -> Statement {
        use Integrations as C;
        let (id, tenant) = (a.next(), a.next());
        let values: Vec<(Integrations, Expr)> = written(shape)
            .skip(2)
            .map(|(_, c)| (c, Expr::val(a.next())))
            .collect();
        Statement::Update(
            Query::update()
                .table(C::Table)
                .values(values)
                .cond_where(
                    live(tenant)
                        .add(Expr::col(C::Id).eq(id))
                        .add(Expr::col(C::Version).eq(a.next())),
                )
                .take(),
        )
    }
    let shape = if write_health { WRITES_HEALTH } else { 0 };
    let all = integration_values(i);
    let mut args: Vec<Value> = written(shape).map(|(k, _)| all[k].clone()).collect();
    args.push(big(expected_version).into());
    Prepared {
        name: "update_integration",
        shape,
        args,
        build,
    }
}

/// Shape bit of [`update_health`]: no health fields to write (a skipped check).
const HISTORY_ONLY: u64 = 1;

/// Writes a check's health fields to a live integration whose lifecycle state is still
/// `expected` (status, verified, consecutive failures), leaving its version alone. With
/// `health` unset it only matches the row, so the caller learns whether it is still there.
pub(crate) fn update_health(
    tenant: &TenantId,
    id: IntegrationId,
    expected: &LifecycleState,
    health: Option<&HealthFields>,
) -> Prepared {
    fn build(shape: u64, mut a: Args) -> Statement {
        use Integrations as C;
        let mut update = Query::update();
        update.table(C::Table);
        if shape & HISTORY_ONLY != 0 {
            update.value(C::ConsecutiveFailures, Expr::col(C::ConsecutiveFailures));
        } else {
            update.values(HEALTH_FIELDS.map(|c| (c, Expr::val(a.next()))));
        }
        let (tenant, id) = (a.next(), a.next());
        Statement::Update(
            update
                .cond_where(
                    live(tenant)
                        .add(Expr::col(C::Id).eq(id))
                        .add(Expr::col(C::Status).eq(a.next()))
                        .add(Expr::col(C::Verified).eq(a.next()))
                        .add(Expr::col(C::ConsecutiveFailures).eq(a.next())),
                )
                .take(),
        )
    }
    let mut args: Vec<Value> = match health {
        Some(h) => vec![
            micros(h.last_tested_at).into(),
            Some(h.last_test_success).into(),
            i64::from(h.consecutive_failures).into(),
            h.flapping.into(),
        ],
        None => Vec::new(),
    };
    args.extend([
        tenant.as_str().into(),
        id.as_uuid().into(),
        expected.status.as_str().into(),
        expected.verified.into(),
        i64::from(expected.consecutive_failures).into(),
    ]);
    Prepared {
        name: "update_health",
        shape: if health.is_none() { HISTORY_ONLY } else { 0 },
        args,
        build,
    }
}

/// The version and deletion marker of an integration of a tenant (live or not).
pub(crate) fn select_version(tenant: &TenantId, id: IntegrationId) -> Prepared {
    fn build(_: u64, mut a: Args) -> Statement {
        Statement::Select(
            Query::select()
                .columns([Integrations::Version, Integrations::DeletedAt])
                .from(Integrations::Table)
                .and_where(Expr::col(Integrations::TenantId).eq(a.next()))
                .and_where(Expr::col(Integrations::Id).eq(a.next()))
                .take(),
        )
    }
    Prepared {
        name: "select_version",
        shape: 0,
        args: vec![tenant.as_str().into(), id.as_uuid().into()],
        build,
    }
}

/// Removes the tag rows of an integration.
pub(crate) fn delete_tags(id: IntegrationId) -> Prepared {
    fn build(_: u64, mut a: Args) -> Statement {
        Statement::Delete(
            Query::delete()
                .from_table(IntegrationTags::Table)
                .and_where(Expr::col(IntegrationTags::IntegrationId).eq(a.next()))
                .take(),
        )
    }
    Prepared {
        name: "delete_tags",
        shape: 0,
        args: vec![id.as_uuid().into()],
        build,
    }
}

/// Inserts the tag rows of an integration (`None` without tags).
pub(crate) fn insert_tags(i: &Integration) -> Option<Prepared> {
    fn build(rows: u64, mut a: Args) -> Statement {
        let mut insert = Query::insert();
        insert.into_table(IntegrationTags::Table).columns([
            IntegrationTags::IntegrationId,
            IntegrationTags::TenantId,
            IntegrationTags::Tag,
        ]);
        for _ in 0..rows {
            insert.values_panic([a.next(), a.next(), a.next()].map(Expr::val));
        }
        Statement::Insert(insert)
    }
    let tags = i.tags.as_slice();
    (!tags.is_empty()).then(|| Prepared {
        name: "insert_tags",
        shape: tags.len() as u64,
        args: tags
            .iter()
            .flat_map(|tag| {
                [
                    i.id.as_uuid().into(),
                    i.tenant_id.as_str().into(),
                    tag.as_str().into(),
                ]
            })
            .collect(),
        build,
    })
}

/// The `(sequence, hash)` of a tenant's last audit entry.
pub(crate) fn select_audit_head(tenant: &TenantId) -> Prepared {
    fn build(_: u64, mut a: Args) -> Statement {
        Statement::Select(
            Query::select()
                .columns([AuditLogs::Sequence, AuditLogs::Hash])
                .from(AuditLogs::Table)
                .and_where(Expr::col(AuditLogs::TenantId).eq(a.next()))
                .order_by(AuditLogs::Sequence, Order::Desc)
                .limit(1)
                .take(),
        )
    }
    Prepared {
        name: "select_audit_head",
        shape: 0,
        args: vec![tenant.as_str().into()],
        build,
    }
}

/// Appends a sealed audit entry.
pub(crate) fn insert_audit(e: &AuditEntry) -> Prepared {
    fn build(_: u64, mut a: Args) -> Statement {
        Statement::Insert(
            Query::insert()
                .into_table(AuditLogs::Table)
                .columns(AUDIT_COLUMNS)
                .values_panic(AUDIT_COLUMNS.map(|_| Expr::val(a.next())))
                .take(),
        )
    }
    let r = &e.record;
    let changes = serde_json::to_string(&r.changes).expect("field changes serialize to JSON");
    Prepared {
        name: "insert_audit",
        shape: 0,
        args: vec![
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
            e.key_id.clone().into(),
        ],
        build,
    }
}

/// The outbox columns an event is inserted with.
const EVENT_COLUMNS: [Outbox; 9] = [
    Outbox::EventId,
    Outbox::TenantId,
    Outbox::IntegrationId,
    Outbox::EventType,
    Outbox::Version,
    Outbox::OccurredAt,
    Outbox::Data,
    Outbox::Attempts,
    Outbox::NextAttemptAt,
];

/// Puts events in the outbox, due when they occurred (`None` without events).
pub(crate) fn insert_events(events: &[EventEnvelope]) -> Option<Prepared> {
    fn build(rows: u64, mut a: Args) -> Statement {
        let mut insert = Query::insert();
        insert.into_table(Outbox::Table).columns(EVENT_COLUMNS);
        for _ in 0..rows {
            insert.values_panic(EVENT_COLUMNS.map(|_| Expr::val(a.next())));
        }
        Statement::Insert(insert)
    }
    (!events.is_empty()).then(|| Prepared {
        name: "insert_events",
        shape: events.len() as u64,
        args: events
            .iter()
            .flat_map(|e| {
                let occurred_at = micros(e.occurred_at);
                [
                    e.id.into(),
                    e.tenant_id.as_str().into(),
                    e.integration_id.as_uuid().into(),
                    e.event_type.as_str().into(),
                    big(e.version).into(),
                    occurred_at.into(),
                    e.data.clone().into(),
                    0i64.into(),
                    occurred_at.into(),
                ]
            })
            .collect(),
        build,
    })
}

/// Records a health check.
pub(crate) fn insert_health(h: &HealthCheckRecord) -> Prepared {
    fn build(_: u64, mut a: Args) -> Statement {
        Statement::Insert(
            Query::insert()
                .into_table(HealthChecks::Table)
                .columns(HEALTH_WRITE_COLUMNS)
                .values_panic(HEALTH_WRITE_COLUMNS.map(|_| Expr::val(a.next())))
                .take(),
        )
    }
    let failure = h
        .failure
        .as_ref()
        .map(|f| serde_json::to_value(f).expect("failure codes serialize"));
    Prepared {
        name: "insert_health",
        shape: 0,
        args: vec![
            h.id.into(),
            h.tenant_id.as_str().into(),
            h.integration_id.as_uuid().into(),
            micros(h.checked_at).into(),
            h.kind.as_str().into(),
            h.status.as_str().into(),
            h.failure.as_ref().map(|f| f.as_str().to_owned()).into(),
            failure.into(),
            h.latency_ms.map(big).into(),
            h.message.as_str().into(),
            serde_json::Value::Object(h.details.clone()).into(),
            h.series_outcome(Series::Reachability).into(),
            h.series_outcome(Series::Authentication).into(),
            h.series_outcome(Series::WebhookDelivery).into(),
        ],
        build,
    }
}

#[cfg(test)]
mod tests {
    use pathops_core::audit::{AuditAction, AuditRecord, GENESIS_HASH};
    use pathops_core::health::{CheckKind, HealthStatus};
    use pathops_core::{
        Description, EventType, FailureCode, IntegrationStatus, IntegrationType, NewIntegration,
        Provider, Tags,
    };
    use sea_query::{PostgresQueryBuilder, QueryBuilder, SqliteQueryBuilder};
    use time::macros::datetime;

    use super::super::template::{Templates, render_directly};
    use super::*;

    fn sample() -> Integration {
        let input = NewIntegration::builder(
            "GitLab prod",
            Provider::GitLab,
            "https://gitlab.example.com",
        )
        .with_auth_ref("ref://acme/gitlab/token")
        .with_environment("production")
        .with_tags(["prod", "eu"])
        .with_configuration(serde_json::json!({"project": 7}))
        .build()
        .unwrap();
        let mut i = Integration::new_draft(
            IntegrationId::new(),
            "acme".parse().unwrap(),
            input,
            "alice".parse().unwrap(),
            datetime!(2026-01-01 00:00:00.123456 UTC),
        );
        i.description = Some(Description::new("d").unwrap());
        i.last_tested_at = Some(datetime!(2026-01-02 00:00 UTC));
        i
    }

    /// Every statement, with every list shape; `round` varies the values (limits included).
    fn statements(round: u32) -> Vec<Prepared> {
        let i = sample();
        let t = i.tenant_id.clone();
        let mut deleted = i.clone();
        deleted.status = IntegrationStatus::Deleted;
        deleted.tags = Tags::default();
        let record = AuditRecord::new(
            t.clone(),
            Some(i.id),
            "bob".parse().unwrap(),
            AuditAction::Updated,
            i.created_at,
        );
        let audit = AuditEntry::seal(record, 3, GENESIS_HASH);
        let events: Vec<EventEnvelope> = (0..3)
            .map(|v| {
                EventEnvelope::new(
                    EventType::Updated,
                    t.clone(),
                    i.id,
                    v,
                    i.created_at,
                    serde_json::json!({"v": v}),
                )
            })
            .collect();
        let health = HealthCheckRecord {
            id: uuid::Uuid::now_v7(),
            tenant_id: t.clone(),
            integration_id: i.id,
            checked_at: i.created_at,
            kind: CheckKind::HealthCheck,
            status: HealthStatus::Unhealthy,
            failure: Some(FailureCode::ServerError { status: 502 }),
            latency_ms: Some(12),
            message: "bad gateway".into(),
            details: Default::default(),
        };
        let mut out = vec![
            select_integration(&t, i.id),
            insert_integration(&i),
            insert_integration(&deleted),
            update_integration(&i, 4, false),
            update_integration(&i, 4, true),
            update_integration(&deleted, 4, false),
            update_health(&t, i.id, &i.lifecycle_state(), None),
            update_health(
                &t,
                i.id,
                &i.lifecycle_state(),
                Some(&HealthFields {
                    last_tested_at: i.created_at,
                    last_test_success: false,
                    consecutive_failures: 2,
                    flapping: true,
                }),
            ),
            select_version(&t, i.id),
            delete_tags(i.id),
            insert_tags(&i).unwrap(),
            select_audit_head(&t),
            insert_audit(&audit),
            insert_events(&events[..1]).unwrap(),
            insert_events(&events).unwrap(),
            insert_health(&health),
        ];
        let position = CursorPosition {
            name: "m".into(),
            id: i.id,
        };
        for bits in 0..128u32 {
            let on = |bit: u32| bits & (1 << bit) != 0;
            let filter = ListFilter {
                integration_type: on(0).then_some(IntegrationType::Scm),
                provider: on(1).then_some(Provider::GitLab),
                status: on(2).then_some(IntegrationStatus::Active),
                environment: on(3).then(|| "staging".parse().unwrap()),
                tag: on(4).then(|| "prod".into()),
                name_prefix: on(5).then(|| "Git".into()),
            };
            out.push(list_integrations(
                &t,
                &filter,
                on(6).then_some(&position),
                20 + bits + 7 * round,
            ));
        }
        out
    }

    fn check_dialect<B: QueryBuilder + Default>() {
        let templates = Templates::default();
        for round in 0..2 {
            for p in statements(round) {
                let name = p.name;
                let copy = Prepared {
                    args: p.args.clone(),
                    ..p
                };
                let expected = render_directly(copy, B::default());
                let (sql, values) = templates.bind::<B>(p);
                assert_eq!(sql.as_ref(), expected.0, "{name} (round {round})");
                assert_eq!(values.0, expected.1, "{name} (round {round})");
            }
        }
    }

    #[test]
    fn templates_reproduce_direct_rendering_on_every_dialect() {
        check_dialect::<SqliteQueryBuilder>();
        check_dialect::<PostgresQueryBuilder>();
    }
}
