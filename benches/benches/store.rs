//! Store benchmarks: PathOps against a hand-written sqlx version issuing the same statements.
//!
//! For SQLite (a file in a temporary directory) and, when `PATHOPS_BENCH_POSTGRES_URL` or
//! `PATHOPS_TEST_POSTGRES_URL` is set, PostgreSQL (a fresh schema, dropped afterwards):
//!
//! - `create`: one integration with its audit entry and outbox event, in one transaction;
//! - `get`: one integration by id;
//! - `list_first_page` and `list_deep_page`: 50 rows from the start, and from 90 % of the way
//!   through the seeded rows (keyset cursor);
//! - `check` (issue 12): a recorded check that changes no lifecycle state, through
//!   `Catalog::record_health`, spread over the first 10,000 integrations; the raw side reads
//!   the integration and, in one transaction, updates its health fields and inserts the
//!   history row. Also printed: checks per second, and what one check wrote (history, audit
//!   and outbox rows counted, versions read back);
//! - `summary_24h` (issue 12): `health_summary` over the last 24 hours (1,440 checks) of an
//!   integration with `PATHOPS_BENCH_HISTORY` history rows (default 1,000,000) against the
//!   same numbers by hand (checks, successes, last success and failure, nearest-rank
//!   p50/p95/p99: one aggregate with `percentile_disc` on PostgreSQL, an aggregate and a
//!   ranking statement on SQLite), and the same summary for that integration against one
//!   with 10,000 rows (flatness).
//!
//! Each has a `pathops` and a `raw` variant. The raw variant binds values by hand into the
//! SQL text PathOps renders (copied below) and decodes rows into the same domain types.
//!
//! Seeding: `PATHOPS_BENCH_ROWS` integrations of one tenant (default 100,000; the
//! target size is 1,000,000), inserted in bulk before measuring.
//!
//! Targets: deep/first page ≤ 1.3; pathops/raw ≤ 1.15 for get, list and check, ≤ 1.25 for
//! create, ≤ 2 for the summary; summary with 1,000,000 rows / with 10,000 ≤ 1.3.

#![allow(
    missing_docs,
    reason = "criterion_group! generates undocumented public functions"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use pathops_benches::{env_size, measuring, micros, runtime};
use pathops_core::audit::GENESIS_HASH;
use pathops_core::catalog::{Catalog, Principal};
use pathops_core::health::{CheckKind, Series};
use pathops_core::page::CursorPosition;
use pathops_core::{
    AuditEntry, CatalogStore, Change, CheckResult, Cursor, HealthCheckRecord, Integration,
    IntegrationId, ListFilter, ListQuery, Mutation, Provider, TenantId, TimeRange,
};
use pathops_testkit::fixtures::{IntegrationBuilder, create_mutation};
use sqlx::{ColumnIndex, Decode, Row, Type};
use uuid::Uuid;

const TENANT: &str = "bench";
const PAGE: u32 = 50;

// The statements PathOps renders (SQLite placeholders; PostgreSQL gets `$n`).
const COLUMNS: &str = r#""id", "tenant_id", "name", "description", "integration_type", "provider", "base_url", "auth_ref", "configuration", "environment", "tags", "owner_id", "status", "verified", "pause_reason", "pause_ticket", "last_tested_at", "last_test_success", "consecutive_failures", "flapping", "created_at", "created_by", "modified_at", "modified_by", "version""#;

fn get_sql() -> String {
    format!(
        r#"SELECT {COLUMNS} FROM "integrations" WHERE "tenant_id" = ? AND "deleted_at" IS NULL AND "id" = ?"#
    )
}
fn list_sql() -> String {
    format!(
        r#"SELECT {COLUMNS} FROM "integrations" WHERE "tenant_id" = ? AND "deleted_at" IS NULL ORDER BY "name" ASC, "id" ASC LIMIT ?"#
    )
}
fn list_after_sql() -> String {
    format!(
        r#"SELECT {COLUMNS} FROM "integrations" WHERE "tenant_id" = ? AND "deleted_at" IS NULL AND ("name", "id") > (?, ?) ORDER BY "name" ASC, "id" ASC LIMIT ?"#
    )
}
fn insert_sql() -> String {
    format!(
        r#"INSERT INTO "integrations" ({COLUMNS}, "deleted_at") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"#
    )
}
const HEAD_SQL: &str = r#"SELECT "sequence", "hash" FROM "audit_logs" WHERE "tenant_id" = ? ORDER BY "sequence" DESC LIMIT ?"#;
const AUDIT_SQL: &str = r#"INSERT INTO "audit_logs" ("id", "tenant_id", "sequence", "integration_id", "actor", "action", "at", "changes", "reason", "ticket", "approver", "prev_hash", "hash") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"#;
const EVENTS_SQL: &str = r#"INSERT INTO "outbox" ("event_id", "tenant_id", "integration_id", "event_type", "version", "occurred_at", "data", "attempts", "next_attempt_at") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"#;
const UPDATE_HEALTH_SQL: &str = r#"UPDATE "integrations" SET "last_tested_at" = ?, "last_test_success" = ?, "consecutive_failures" = ?, "flapping" = ? WHERE "tenant_id" = ? AND "deleted_at" IS NULL AND "id" = ? AND "status" = ? AND "verified" = ? AND "consecutive_failures" = ?"#;
const INSERT_HEALTH_SQL: &str = r#"INSERT INTO "health_checks" ("id", "tenant_id", "integration_id", "checked_at", "kind", "status", "failure_code", "failure", "latency_ms", "message", "details", "reach_ok", "auth_ok", "webhook_ok") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"#;
/// The hand-written aggregate a summary is compared with: checks, successes, last success and
/// failure in one pass over the window, then the nearest-rank p50/p95/p99 latencies. SQLite
/// has no percentile aggregate, so a second statement ranks the window; PostgreSQL's
/// `percentile_disc` (the same nearest rank) does it inside the one aggregate.
const SUMMARY_SQL: &str = r#"SELECT COUNT(*) AS "checks", COALESCE(SUM(CASE WHEN "status" = 'healthy' THEN 1 ELSE 0 END), 0) AS "successes", MAX(CASE WHEN "status" = 'healthy' THEN "checked_at" END) AS "last_success", MAX(CASE WHEN "status" = 'unhealthy' THEN "checked_at" END) AS "last_failure" FROM "health_checks" WHERE "tenant_id" = ? AND "integration_id" = ? AND "checked_at" >= ? AND "checked_at" < ?"#;
const PERCENTILES_SQLITE: &str = r#"SELECT "rn", "latency_ms" FROM (SELECT "latency_ms", ROW_NUMBER() OVER (ORDER BY "latency_ms") AS "rn", COUNT(*) OVER () AS "n" FROM "health_checks" WHERE "tenant_id" = ? AND "integration_id" = ? AND "checked_at" >= ? AND "checked_at" < ? AND "latency_ms" IS NOT NULL) AS "ranked" WHERE "rn" IN ((50 * "n" + 99) / 100, (95 * "n" + 99) / 100, (99 * "n" + 99) / 100) ORDER BY "rn""#;
const SUMMARY_POSTGRES: &str = r#"SELECT COUNT(*) AS "checks", COALESCE(SUM(CASE WHEN "status" = 'healthy' THEN 1 ELSE 0 END), 0) AS "successes", MAX(CASE WHEN "status" = 'healthy' THEN "checked_at" END) AS "last_success", MAX(CASE WHEN "status" = 'unhealthy' THEN "checked_at" END) AS "last_failure", percentile_disc(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY "latency_ms") AS "latencies" FROM "health_checks" WHERE "tenant_id" = $1 AND "integration_id" = $2 AND "checked_at" >= $3 AND "checked_at" < $4"#;
/// Seeds one check a minute back from `?4` (one in 20 a timeout), `?3` rows in all.
const SEED_HISTORY_SQLITE: &str = r#"WITH RECURSIVE k(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM k WHERE n + 1 < ?3)
INSERT INTO "health_checks" ("id", "tenant_id", "integration_id", "checked_at", "kind", "status", "failure_code", "failure", "latency_ms", "message", "details", "reach_ok", "auth_ok", "webhook_ok")
SELECT randomblob(16), ?1, ?2, ?4 - n * 60000000, 'health_check', CASE WHEN n % 20 = 7 THEN 'unhealthy' ELSE 'healthy' END, CASE WHEN n % 20 = 7 THEN 'timeout' END, CASE WHEN n % 20 = 7 THEN '"timeout"' END, (n * 37) % 500, 'seeded', '{}', n % 20 <> 7, CASE WHEN n % 20 = 7 THEN NULL ELSE TRUE END, NULL FROM k"#;
const SEED_HISTORY_POSTGRES: &str = r#"INSERT INTO "health_checks" ("id", "tenant_id", "integration_id", "checked_at", "kind", "status", "failure_code", "failure", "latency_ms", "message", "details", "reach_ok", "auth_ok", "webhook_ok")
SELECT gen_random_uuid(), $1, $2, $4 - n * 60000000, 'health_check', CASE WHEN n % 20 = 7 THEN 'unhealthy' ELSE 'healthy' END, CASE WHEN n % 20 = 7 THEN 'timeout' END, CASE WHEN n % 20 = 7 THEN '"timeout"'::jsonb END, (n * 37) % 500, 'seeded', '{}'::jsonb, n % 20 <> 7, CASE WHEN n % 20 = 7 THEN NULL ELSE TRUE END, NULL FROM generate_series(0, $3 - 1) AS n"#;
const PG_LOCK_SQL: &str = "SELECT pg_advisory_xact_lock(hashtextextended('pathops:' || current_schema() || ':' || $1, 0))";

/// The statement texts for one backend.
struct Sql {
    get: &'static str,
    list: &'static str,
    list_after: &'static str,
    insert: &'static str,
    head: &'static str,
    audit: &'static str,
    events: &'static str,
    update_health: &'static str,
    insert_health: &'static str,
    summary: &'static str,
    /// A separate percentile statement, where the summary cannot compute them itself.
    percentiles: Option<&'static str>,
    seed_history: &'static str,
}

impl Sql {
    fn new(postgres: bool) -> Self {
        let render = |sql: String| -> &'static str {
            let sql = if postgres { numbered(&sql) } else { sql };
            Box::leak(sql.into_boxed_str())
        };
        Self {
            get: render(get_sql()),
            list: render(list_sql()),
            list_after: render(list_after_sql()),
            insert: render(insert_sql()),
            head: render(HEAD_SQL.to_owned()),
            audit: render(AUDIT_SQL.to_owned()),
            events: render(EVENTS_SQL.to_owned()),
            update_health: render(UPDATE_HEALTH_SQL.to_owned()),
            insert_health: render(INSERT_HEALTH_SQL.to_owned()),
            summary: if postgres {
                SUMMARY_POSTGRES
            } else {
                SUMMARY_SQL
            },
            percentiles: (!postgres).then_some(PERCENTILES_SQLITE),
            seed_history: if postgres {
                SEED_HISTORY_POSTGRES
            } else {
                SEED_HISTORY_SQLITE
            },
        }
    }
}

/// `?` placeholders as `$1, $2, …`.
fn numbered(sql: &str) -> String {
    let mut n = 0;
    sql.chars()
        .map(|c| {
            if c == '?' {
                n += 1;
                format!("${n}")
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn from_micros(us: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1_000).expect("time")
}

/// Hand-written decoding of an `integrations` row (what a raw-sqlx user would write).
fn decode<R>(row: &R) -> Integration
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Uuid: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> sqlx::types::Json<serde_json::Value>: Decode<'r, R::Database> + Type<R::Database>,
{
    let text = |c: &str| row.try_get::<String, _>(c).expect(c);
    let opt = |c: &str| row.try_get::<Option<String>, _>(c).expect(c);
    let int = |c: &str| row.try_get::<i64, _>(c).expect(c);
    let json = |c: &str| {
        row.try_get::<sqlx::types::Json<serde_json::Value>, _>(c)
            .expect(c)
            .0
    };
    let integration_type = text("integration_type").parse().expect("type");
    let tags: Vec<String> = serde_json::from_value(json("tags")).expect("tags");
    Integration {
        id: IntegrationId::from_uuid(row.try_get("id").expect("id")).expect("id"),
        tenant_id: text("tenant_id").parse().expect("tenant"),
        name: text("name").parse().expect("name"),
        description: opt("description").map(|d| d.parse().expect("description")),
        integration_type,
        provider: Provider::parse_with_type(&text("provider"), integration_type).expect("provider"),
        base_url: text("base_url").parse().expect("base_url"),
        auth_ref: opt("auth_ref").map(|r| r.parse().expect("auth_ref")),
        configuration: pathops_core::Configuration::new(json("configuration"))
            .expect("configuration"),
        environment: opt("environment").map(|e| e.parse().expect("environment")),
        tags: pathops_core::Tags::new(tags).expect("tags"),
        owner_id: opt("owner_id").map(|o| o.parse().expect("owner")),
        status: text("status").parse().expect("status"),
        verified: row.try_get("verified").expect("verified"),
        pause_reason: opt("pause_reason"),
        pause_ticket: opt("pause_ticket"),
        last_tested_at: row
            .try_get::<Option<i64>, _>("last_tested_at")
            .expect("last_tested_at")
            .map(from_micros),
        last_test_success: row.try_get("last_test_success").expect("last_test_success"),
        consecutive_failures: u32::try_from(int("consecutive_failures")).expect("failures"),
        flapping: row.try_get("flapping").expect("flapping"),
        created_at: from_micros(int("created_at")),
        created_by: text("created_by").parse().expect("created_by"),
        modified_at: from_micros(int("modified_at")),
        modified_by: text("modified_by").parse().expect("modified_by"),
        version: u64::try_from(int("version")).expect("version"),
    }
}

/// Raw-sqlx operations and bulk seeding, written once per backend.
macro_rules! raw_backend {
    ($module:ident, $db:ty, $postgres:expr, $latencies:ident) => {
        mod $module {
            use super::*;

            pub(crate) type Pool = sqlx::Pool<$db>;

            pub(crate) async fn get(pool: &Pool, sql: &Sql, id: IntegrationId) -> Integration {
                let row = sqlx::query(sql.get)
                    .bind(TENANT)
                    .bind(id.as_uuid())
                    .fetch_optional(pool)
                    .await
                    .expect("get")
                    .expect("row");
                decode(&row)
            }

            pub(crate) async fn list(pool: &Pool, sql: &Sql, after: Option<&CursorPosition>) -> Vec<Integration> {
                let rows = match after {
                    None => sqlx::query(sql.list).bind(TENANT).bind(i64::from(PAGE) + 1).fetch_all(pool).await,
                    Some(p) => {
                        sqlx::query(sql.list_after)
                            .bind(TENANT)
                            .bind(p.name.as_str())
                            .bind(p.id.as_uuid())
                            .bind(i64::from(PAGE) + 1)
                            .fetch_all(pool)
                            .await
                    }
                }
                .expect("list");
                let mut items: Vec<Integration> = rows.iter().map(decode).collect();
                items.truncate(PAGE as usize);
                items
            }

            pub(crate) async fn create(pool: &Pool, sql: &Sql, m: Mutation) -> AuditEntry {
                let Change::Create(i) = m.change else { unreachable!("creates only") };
                let mut tx = if $postgres {
                    let mut tx = pool.begin().await.expect("begin");
                    sqlx::query(PG_LOCK_SQL)
                        .bind(format!("tenant/{}", i.tenant_id))
                        .execute(&mut *tx)
                        .await
                        .expect("lock");
                    tx
                } else {
                    pool.begin_with("BEGIN IMMEDIATE").await.expect("begin")
                };
                sqlx::query(sql.insert)
                    .bind(i.id.as_uuid())
                    .bind(i.tenant_id.as_str())
                    .bind(i.name.as_str())
                    .bind(i.description.as_ref().map(|d| d.as_str().to_owned()))
                    .bind(i.integration_type.as_str())
                    .bind(i.provider.as_str())
                    .bind(i.base_url.as_str())
                    .bind(i.auth_ref.as_ref().map(|r| r.as_str().to_owned()))
                    .bind(i.configuration.to_value())
                    .bind(i.environment.as_ref().map(|e| e.as_str().to_owned()))
                    .bind(serde_json::to_value(i.tags.as_slice()).expect("tags"))
                    .bind(i.owner_id.as_ref().map(|o| o.as_str().to_owned()))
                    .bind(i.status.as_str())
                    .bind(i.verified)
                    .bind(i.pause_reason.clone())
                    .bind(i.pause_ticket.clone())
                    .bind(i.last_tested_at.map(micros))
                    .bind(i.last_test_success)
                    .bind(i64::from(i.consecutive_failures))
                    .bind(i.flapping)
                    .bind(micros(i.created_at))
                    .bind(i.created_by.as_str())
                    .bind(micros(i.modified_at))
                    .bind(i.modified_by.as_str())
                    .bind(1i64)
                    .bind(Option::<i64>::None)
                    .execute(&mut *tx)
                    .await
                    .expect("insert");
                let head: Option<(i64, String)> = sqlx::query_as(sql.head)
                    .bind(i.tenant_id.as_str())
                    .bind(1i64)
                    .fetch_optional(&mut *tx)
                    .await
                    .expect("head");
                let (sequence, prev) = head.map_or((1, GENESIS_HASH.to_owned()), |(s, h)| (s as u64 + 1, h));
                let audit = AuditEntry::seal(m.audit, sequence, &prev);
                let r = &audit.record;
                sqlx::query(sql.audit)
                    .bind(r.id)
                    .bind(r.tenant_id.as_str())
                    .bind(audit.sequence as i64)
                    .bind(r.integration_id.map(|id| id.as_uuid()))
                    .bind(r.actor.as_str())
                    .bind(r.action.as_str())
                    .bind(micros(r.at))
                    .bind(serde_json::to_string(&r.changes).expect("changes"))
                    .bind(r.reason.clone())
                    .bind(r.ticket.clone())
                    .bind(r.approver.as_ref().map(|a| a.as_str().to_owned()))
                    .bind(audit.prev_hash.as_str())
                    .bind(audit.hash.as_str())
                    .execute(&mut *tx)
                    .await
                    .expect("audit");
                for e in &m.events {
                    sqlx::query(sql.events)
                        .bind(e.id)
                        .bind(e.tenant_id.as_str())
                        .bind(e.integration_id.as_uuid())
                        .bind(e.event_type.as_str())
                        .bind(e.version as i64)
                        .bind(micros(e.occurred_at))
                        .bind(e.data.clone())
                        .bind(0i64)
                        .bind(micros(e.occurred_at))
                        .execute(&mut *tx)
                        .await
                        .expect("event");
                }
                tx.commit().await.expect("commit");
                audit
            }

            /// A recorded check that changes no lifecycle state, by hand: read the
            /// integration, then in one transaction update its health fields (guarded by the
            /// state read) and insert the history row.
            pub(crate) async fn check(pool: &Pool, sql: &Sql, id: IntegrationId, result: &CheckResult) {
                let i = get(pool, sql, id).await;
                let now = time::OffsetDateTime::now_utc();
                let h = HealthCheckRecord::from_result(i.tenant_id.clone(), i.id, CheckKind::HealthCheck, now, result);
                let success = result.is_success();
                let failures = if success { 0 } else { i.consecutive_failures + 1 };
                let mut tx = if $postgres {
                    pool.begin().await.expect("begin")
                } else {
                    pool.begin_with("BEGIN IMMEDIATE").await.expect("begin")
                };
                let updated = sqlx::query(sql.update_health)
                    .bind(micros(now))
                    .bind(Some(success))
                    .bind(i64::from(failures))
                    .bind(i.flapping)
                    .bind(TENANT)
                    .bind(id.as_uuid())
                    .bind(i.status.as_str())
                    .bind(i.verified)
                    .bind(i64::from(i.consecutive_failures))
                    .execute(&mut *tx)
                    .await
                    .expect("update health")
                    .rows_affected();
                assert_eq!(updated, 1, "the state read is still there");
                sqlx::query(sql.insert_health)
                    .bind(h.id)
                    .bind(TENANT)
                    .bind(id.as_uuid())
                    .bind(micros(now))
                    .bind(h.kind.as_str())
                    .bind(h.status.as_str())
                    .bind(h.failure.as_ref().map(|f| f.as_str().to_owned()))
                    .bind(h.failure.as_ref().map(|f| serde_json::to_value(f).expect("code")))
                    .bind(h.latency_ms.map(|l| l as i64))
                    .bind(h.message.as_str())
                    .bind(serde_json::Value::Object(h.details.clone()))
                    .bind(h.series_outcome(Series::Reachability))
                    .bind(h.series_outcome(Series::Authentication))
                    .bind(h.series_outcome(Series::WebhookDelivery))
                    .execute(&mut *tx)
                    .await
                    .expect("insert health");
                tx.commit().await.expect("commit");
            }

            /// The hand-written summary over `range`: (checks, successes, [p50, p95, p99]).
            pub(crate) async fn summary(pool: &Pool, sql: &Sql, id: IntegrationId, range: TimeRange) -> (i64, i64, Vec<i64>) {
                let row = sqlx::query(sql.summary)
                    .bind(TENANT)
                    .bind(id.as_uuid())
                    .bind(micros(range.from))
                    .bind(micros(range.to))
                    .fetch_one(pool)
                    .await
                    .expect("summary");
                let _: Option<i64> = row.try_get("last_success").expect("last_success");
                let _: Option<i64> = row.try_get("last_failure").expect("last_failure");
                let latencies = match sql.percentiles {
                    None => $latencies(&row),
                    Some(percentiles) => sqlx::query(percentiles)
                        .bind(TENANT)
                        .bind(id.as_uuid())
                        .bind(micros(range.from))
                        .bind(micros(range.to))
                        .fetch_all(pool)
                        .await
                        .expect("percentiles")
                        .iter()
                        .map(|r| r.try_get::<i64, _>("latency_ms").expect("latency"))
                        .collect(),
                };
                (row.try_get("checks").expect("checks"), row.try_get("successes").expect("successes"), latencies)
            }

            /// `rows` history rows for `id`, one a minute back from `now`.
            pub(crate) async fn seed_history(pool: &Pool, sql: &Sql, id: IntegrationId, rows: usize, now: time::OffsetDateTime) {
                sqlx::query(sql.seed_history)
                    .bind(TENANT)
                    .bind(id.as_uuid())
                    .bind(rows as i64)
                    .bind(micros(now))
                    .execute(pool)
                    .await
                    .expect("seed history");
                let analyze = if $postgres { "ANALYZE health_checks" } else { "ANALYZE" };
                sqlx::query(analyze).execute(pool).await.expect("analyze");
            }

            impl RawCounts for Pool {
                async fn counts(&self) -> [i64; 3] {
                    let mut out = [0; 3];
                    for (n, table) in out.iter_mut().zip(["health_checks", "audit_logs", "outbox"]) {
                        *n = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(r#"SELECT COUNT(*) FROM "{table}""#)))
                            .fetch_one(self)
                            .await
                            .expect("count");
                    }
                    out
                }
            }

            /// Inserts `rows` integrations of the bench tenant named `integration-0000000`…,
            /// returning their ids in name order.
            pub(crate) async fn seed(pool: &Pool, rows: usize) -> Vec<IntegrationId> {
                let created = time::OffsetDateTime::now_utc();
                let mut ids = Vec::with_capacity(rows);
                let mut next = 0;
                while next < rows {
                    let chunk = (rows - next).min(500);
                    let mut b = sqlx::QueryBuilder::<$db>::new(format!(
                        r#"INSERT INTO "integrations" ({COLUMNS}, "deleted_at") "#
                    ));
                    b.push_values(next..next + chunk, |mut v, n| {
                        let id = IntegrationId::new();
                        ids.push(id);
                        v.push_bind(id.as_uuid())
                            .push_bind(TENANT)
                            .push_bind(format!("integration-{n:07}"))
                            .push_bind(Option::<String>::None)
                            .push_bind("scm")
                            .push_bind("gitlab")
                            .push_bind(format!("https://gitlab-{n}.example.test"))
                            .push_bind(Some("ref://bench/gitlab/token".to_owned()))
                            .push_bind(serde_json::json!({ "project": n }))
                            .push_bind(Some("production".to_owned()))
                            .push_bind(serde_json::json!(["bench"]))
                            .push_bind(Option::<String>::None)
                            .push_bind("active")
                            .push_bind(true)
                            .push_bind(Option::<String>::None)
                            .push_bind(Option::<String>::None)
                            .push_bind(Some(micros(created)))
                            .push_bind(Some(true))
                            .push_bind(0i64)
                            .push_bind(false)
                            .push_bind(micros(created))
                            .push_bind("seed")
                            .push_bind(micros(created))
                            .push_bind("seed")
                            .push_bind(1i64)
                            .push_bind(Option::<i64>::None);
                    });
                    b.build().execute(pool).await.expect("seed");
                    next += chunk;
                }
                if $postgres {
                    sqlx::query("ANALYZE integrations").execute(pool).await.expect("analyze");
                } else {
                    sqlx::query("ANALYZE").execute(pool).await.expect("analyze");
                }
                ids
            }
        }
    };
}

/// PostgreSQL's `percentile_disc` array of a summary row.
fn latencies(row: &sqlx::postgres::PgRow) -> Vec<i64> {
    row.try_get::<Option<Vec<i64>>, _>("latencies")
        .expect("latencies")
        .unwrap_or_default()
}

/// SQLite rows carry no percentile array (a separate statement ranks the window).
fn latencies_sqlite(_: &sqlx::sqlite::SqliteRow) -> Vec<i64> {
    unreachable!("SQLite summaries rank percentiles in a second statement")
}

raw_backend!(raw_sqlite, sqlx::Sqlite, false, latencies_sqlite);
raw_backend!(raw_postgres, sqlx::Postgres, true, latencies);

fn rows() -> usize {
    let default = if measuring() { 100_000 } else { 1_000 };
    std::env::var("PATHOPS_BENCH_ROWS")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// A new integration's create mutation with a name no other has.
fn fresh_create() -> Mutation {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    create_mutation(
        IntegrationBuilder::new(TENANT, &format!("created-{n:09}"))
            .provider(Provider::GitLab)
            .auth_ref("ref://bench/gitlab/token")
            .environment("production")
            .configuration(serde_json::json!({ "project": n }))
            .build(),
    )
}

/// One backend under measurement.
struct Target<P> {
    name: &'static str,
    store: Arc<dyn CatalogStore>,
    pool: P,
    sql: Sql,
    ids: Vec<IntegrationId>,
}

macro_rules! bench_target {
    ($c:expr, $rt:expr, $target:expr, $raw:ident) => {{
        let c: &mut Criterion = $c;
        let rt: &tokio::runtime::Runtime = $rt;
        let t = &$target;
        let tenant: TenantId = TENANT.parse().expect("tenant");
        let rows = t.ids.len();
        let probe = t.ids[rows / 2];
        let deep = rows * 9 / 10;
        let position = CursorPosition {
            name: format!("integration-{deep:07}"),
            id: t.ids[deep],
        };
        let cursor = Cursor::encode(&tenant, &ListFilter::default(), &position);

        // Same answers from both, before timing anything.
        rt.block_on(async {
            let via_store = t.store.get(&tenant, probe).await.expect("get");
            assert_eq!(via_store, $raw::get(&t.pool, &t.sql, probe).await);
            let page = t
                .store
                .list(
                    &tenant,
                    &ListQuery::default().with_limit(PAGE).after(cursor.clone()),
                )
                .await
                .expect("list");
            assert_eq!(
                page.items,
                $raw::list(&t.pool, &t.sql, Some(&position)).await
            );
            assert_eq!(
                page.items[0].name.as_str(),
                format!("integration-{:07}", deep + 1)
            );
        });

        let mut g = c.benchmark_group(format!("{}/get", t.name));
        g.bench_function("pathops", |b| {
            b.to_async(rt)
                .iter(|| async { t.store.get(&tenant, probe).await.expect("get") })
        });
        g.bench_function("raw", |b| {
            b.to_async(rt).iter(|| $raw::get(&t.pool, &t.sql, probe))
        });
        g.finish();

        let first = ListQuery::default().with_limit(PAGE);
        let mut g = c.benchmark_group(format!("{}/list_first_page", t.name));
        g.bench_function("pathops", |b| {
            b.to_async(rt)
                .iter(|| async { t.store.list(&tenant, &first).await.expect("list") })
        });
        g.bench_function("raw", |b| {
            b.to_async(rt).iter(|| $raw::list(&t.pool, &t.sql, None))
        });
        g.finish();

        let deep_query = ListQuery::default().with_limit(PAGE).after(cursor.clone());
        let mut g = c.benchmark_group(format!("{}/list_deep_page", t.name));
        g.bench_function("pathops", |b| {
            b.to_async(rt)
                .iter(|| async { t.store.list(&tenant, &deep_query).await.expect("list") })
        });
        g.bench_function("raw", |b| {
            b.to_async(rt)
                .iter(|| $raw::list(&t.pool, &t.sql, Some(&position)))
        });
        g.finish();

        paired_summary!(
            rt,
            t,
            tenant,
            probe,
            first_query_for_pairs(),
            deep_query.clone(),
            position.clone(),
            $raw
        );

        let mut g = c.benchmark_group(format!("{}/create", t.name));
        g.bench_function("pathops", |b| {
            b.to_async(rt).iter_batched(
                fresh_create,
                |m| async { t.store.apply(m).await.expect("create") },
                BatchSize::SmallInput,
            )
        });
        g.bench_function("raw", |b| {
            b.to_async(rt).iter_batched(
                fresh_create,
                |m| $raw::create(&t.pool, &t.sql, m),
                BatchSize::SmallInput,
            )
        });
        g.finish();
    }};
}

/// History rows of the big integration in the summary benchmark.
fn history() -> usize {
    let default = if measuring() { 1_000_000 } else { 20_000 };
    env_size("PATHOPS_BENCH_HISTORY", default)
}

/// Records 100 unchanged checks through the catalog and describes what they wrote, from row
/// counts and the integrations read back: history rows, audit rows, outbox rows, versions.
async fn rows_per_check<P: RawCounts>(
    t: &Target<P>,
    tenant: &TenantId,
    catalog: &Catalog,
    system: &Principal,
    passed: &CheckResult,
    ids: &[IntegrationId],
) -> String {
    const CHECKS: usize = 100;
    let ids = &ids[..CHECKS.min(ids.len())];
    let before = t.pool.counts().await;
    let mut versions = Vec::new();
    for id in ids {
        let was = t.store.get(tenant, *id).await.expect("get");
        catalog
            .record_health(system, *id, CheckKind::HealthCheck, passed.clone())
            .await
            .expect("check");
        let now = t.store.get(tenant, *id).await.expect("get");
        assert_ne!(
            was.last_tested_at, now.last_tested_at,
            "health fields updated"
        );
        versions.push((was.version, now.version));
    }
    let after = t.pool.counts().await;
    let per = |k: usize| (after[k] - before[k]) as f64 / ids.len() as f64;
    let unchanged = versions.iter().all(|(a, b)| a == b);
    assert_eq!(per(0), 1.0, "one history row per check");
    format!(
        "per unchanged check: {} health_checks insert, 1 integrations update (health fields), {} audit rows, {} outbox rows, version {}",
        per(0),
        per(1),
        per(2),
        if unchanged { "unchanged" } else { "CHANGED" }
    )
}

/// Row counts of `health_checks`, `audit_logs` and `outbox`.
trait RawCounts {
    async fn counts(&self) -> [i64; 3];
}

/// The first-page query of the paired summary.
fn first_query_for_pairs() -> ListQuery {
    ListQuery::default().with_limit(PAGE)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// How many alternating pairs the summary times per operation.
fn pairs() -> usize {
    std::env::var("PATHOPS_BENCH_PAIRS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if measuring() { 1000 } else { 5 })
}

/// Times `a` and `b` alternately (order flipped every pair) and returns their medians. Unlike
/// criterion's sequential groups, both sides see the same load, which matters on a shared
/// machine.
async fn paired<FA, FB, A, B>(n: usize, mut a: A, mut b: B) -> (Duration, Duration)
where
    A: FnMut() -> FA,
    B: FnMut() -> FB,
    FA: std::future::Future,
    FB: std::future::Future,
{
    let (mut ta, mut tb) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for k in 0..n {
        let order = if k % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for first_side in order {
            let started = Instant::now();
            if first_side {
                std::hint::black_box(a().await);
                ta.push(started.elapsed());
            } else {
                std::hint::black_box(b().await);
                tb.push(started.elapsed());
            }
        }
    }
    (median(ta), median(tb))
}

fn report(backend: &str, what: &str, (pathops, raw): (Duration, Duration), target: f64) {
    let ratio = pathops.as_secs_f64() / raw.as_secs_f64();
    let verdict = if ratio <= target { "meets" } else { "MISSES" };
    eprintln!(
        "{backend:>8} {what:<16} pathops {pathops:>10.1?}  raw {raw:>10.1?}  pathops/raw {ratio:.3} ({verdict} <= {target})"
    );
}

/// Times every operation in alternating pairs and prints the ratios against the targets.
macro_rules! paired_summary {
    ($rt:expr, $t:expr, $tenant:expr, $probe:expr, $first:expr, $deep:expr, $position:expr, $raw:ident) => {{
        let (t, tenant, probe, first, deep, position) = ($t, &$tenant, $probe, $first, $deep, $position);
        let n = pairs();
        $rt.block_on(async {
            let get = paired(n, || async { t.store.get(tenant, probe).await.expect("get") }, || {
                $raw::get(&t.pool, &t.sql, probe)
            })
            .await;
            let list_first = paired(n, || async { t.store.list(tenant, &first).await.expect("list") }, || {
                $raw::list(&t.pool, &t.sql, None)
            })
            .await;
            let list_deep = paired(n, || async { t.store.list(tenant, &deep).await.expect("list") }, || {
                $raw::list(&t.pool, &t.sql, Some(&position))
            })
            .await;
            let deep_vs_first = paired(n, || async { t.store.list(tenant, &deep).await.expect("list") }, || async {
                t.store.list(tenant, &first).await.expect("list")
            })
            .await;
            let mut mine = (0..n).map(|_| fresh_create()).collect::<Vec<_>>().into_iter();
            let mut theirs = (0..n).map(|_| fresh_create()).collect::<Vec<_>>().into_iter();
            let create = paired(
                n,
                || {
                    let m = mine.next().expect("a mutation per pair");
                    async move { t.store.apply(m).await.expect("create") }
                },
                || {
                    let m = theirs.next().expect("a mutation per pair");
                    $raw::create(&t.pool, &t.sql, m)
                },
            )
            .await;
            // Recorded checks that change nothing (an active, healthy integration passing
            // again) over 10,000 integrations: pathops on even ones, raw on odd ones.
            let catalog = Catalog::builder(t.store.clone()).build().expect("catalog");
            let system = Principal::system(tenant.clone(), "bench-monitor".parse().expect("actor"));
            let passed = CheckResult::passed(Duration::from_millis(12), "ok");
            let checked = &t.ids[..t.ids.len().min(10_000)];
            let written = rows_per_check(t, tenant, &catalog, &system, &passed, checked).await;
            let mut mine = checked.iter().step_by(2).copied().cycle();
            let mut theirs = checked.iter().skip(1).step_by(2).copied().cycle();
            let check = paired(
                n,
                || {
                    let id = mine.next().expect("cycles");
                    let (catalog, system, passed) = (&catalog, &system, passed.clone());
                    async move {
                        catalog
                            .record_health(system, id, CheckKind::HealthCheck, passed)
                            .await
                            .expect("check")
                    }
                },
                || $raw::check(&t.pool, &t.sql, theirs.next().expect("cycles"), &passed),
            )
            .await;

            // Summaries of the last 24 h (1,440 checks) for an integration with 10,000 rows
            // of history and one with `history()` rows.
            let now = pathops_core::clock::truncate_to_micros(time::OffsetDateTime::now_utc());
            let (small, big) = (t.ids[t.ids.len() - 1], t.ids[t.ids.len() - 2]);
            let history = history();
            let started = Instant::now();
            $raw::seed_history(&t.pool, &t.sql, small, 10_000, now).await;
            $raw::seed_history(&t.pool, &t.sql, big, history, now).await;
            eprintln!("seeded {} history rows in {:.1?}", 10_000 + history, started.elapsed());
            let second = time::Duration::seconds(1);
            let day = TimeRange::new(now - time::Duration::days(1) + second, now + second);
            for id in [small, big] {
                let summary = t.store.health_summary(tenant, id, day).await.expect("summary");
                let (checks, successes, latencies) = $raw::summary(&t.pool, &t.sql, id, day).await;
                assert_eq!((summary.checks as i64, summary.successes as i64), (checks, successes));
                let ours: Vec<i64> = [summary.p50_latency_ms, summary.p95_latency_ms, summary.p99_latency_ms]
                    .into_iter()
                    .map(|l| l.expect("latency") as i64)
                    .collect();
                assert_eq!(ours, latencies, "the same percentiles");
                assert_eq!(checks, 1_440, "one check a minute");
            }
            let summary = paired(
                n,
                || async { t.store.health_summary(tenant, big, day).await.expect("summary") },
                || $raw::summary(&t.pool, &t.sql, big, day),
            )
            .await;
            let flat = paired(
                n,
                || async { t.store.health_summary(tenant, big, day).await.expect("summary") },
                || async { t.store.health_summary(tenant, small, day).await.expect("summary") },
            )
            .await;

            eprintln!("\n{} rows, {n} alternating pairs, medians:", t.ids.len());
            if !measuring() {
                eprintln!("(smoke test, `cargo test --benches`: not a measurement; run `cargo bench`)");
            }
            report(t.name, "get", get, 1.15);
            report(t.name, "list_first_page", list_first, 1.15);
            report(t.name, "list_deep_page", list_deep, 1.15);
            report(t.name, "create", create, 1.25);
            report(t.name, "check", check, 1.15);
            eprintln!(
                "{:>8} check            {:.0} checks/s through the catalog, {:.0} raw; {written}",
                t.name,
                1.0 / check.0.as_secs_f64(),
                1.0 / check.1.as_secs_f64(),
            );
            report(t.name, "summary_24h", summary, 2.0);
            let flat_ratio = flat.0.as_secs_f64() / flat.1.as_secs_f64();
            eprintln!(
                "{:>8} summary {history}/10k rows  {flat_ratio:.3} ({} <= 1.3; pathops, paired: {:.1?} vs {:.1?})",
                t.name,
                if flat_ratio <= 1.3 { "meets" } else { "MISSES" },
                flat.0,
                flat.1,
            );
            let (deep_m, first_m) = deep_vs_first;
            let ratio = deep_m.as_secs_f64() / first_m.as_secs_f64();
            eprintln!(
                "{:>8} deep/first page  {:.3} ({} <= 1.3; pathops, paired: deep {:.1?} vs first {:.1?})",
                t.name,
                ratio,
                if ratio <= 1.3 { "meets" } else { "MISSES" },
                deep_m,
                first_m,
            );
        });
    }};
}

fn store_benches(c: &mut Criterion) {
    let rt = runtime();
    let rows = rows();

    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = rt.block_on(async {
        let store = pathops_store::SqliteStore::open(dir.path().join("bench.db"))
            .await
            .expect("sqlite");
        let started = Instant::now();
        let ids = raw_sqlite::seed(store.pool(), rows).await;
        eprintln!("seeded {rows} SQLite rows in {:.1?}", started.elapsed());
        let pool = store.pool().clone();
        Target {
            name: "sqlite",
            store: Arc::new(store) as Arc<dyn CatalogStore>,
            pool,
            sql: Sql::new(false),
            ids,
        }
    });
    bench_target!(c, &rt, sqlite, raw_sqlite);

    let url = std::env::var("PATHOPS_BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("PATHOPS_TEST_POSTGRES_URL"));
    let Ok(url) = url else {
        eprintln!(
            "skipping PostgreSQL: neither PATHOPS_BENCH_POSTGRES_URL nor PATHOPS_TEST_POSTGRES_URL is set"
        );
        return;
    };
    let schema = format!("pathops_bench_{}", Uuid::now_v7().simple());
    let postgres = rt.block_on(async {
        let admin = sqlx::PgPool::connect(&url).await.expect("postgres");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&admin)
            .await
            .expect("schema");
        let store = pathops_store::PostgresStore::builder(&url)
            .with_schema(&schema)
            .build()
            .await
            .expect("postgres store");
        let started = Instant::now();
        let ids = raw_postgres::seed(store.pool(), rows).await;
        eprintln!("seeded {rows} PostgreSQL rows in {:.1?}", started.elapsed());
        let pool = store.pool().clone();
        Target {
            name: "postgres",
            store: Arc::new(store) as Arc<dyn CatalogStore>,
            pool,
            sql: Sql::new(true),
            ids,
        }
    });
    bench_target!(c, &rt, postgres, raw_postgres);
    drop(postgres);
    rt.block_on(async {
        let admin = sqlx::PgPool::connect(&url).await.expect("postgres");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&admin)
            .await
            .expect("drop schema");
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = store_benches
}
criterion_main!(benches);
