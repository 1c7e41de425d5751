//! Store benchmarks: PathOps against a hand-written sqlx version issuing the same statements.
//!
//! For SQLite (a file in a temporary directory) and, when `PATHOPS_BENCH_POSTGRES_URL` or
//! `PATHOPS_TEST_POSTGRES_URL` is set, PostgreSQL (a fresh schema, dropped afterwards):
//!
//! - `create`: one integration with its audit entry and outbox event, in one transaction;
//! - `get`: one integration by id;
//! - `list_first_page` and `list_deep_page`: 50 rows from the start, and from 90 % of the way
//!   through the seeded rows (keyset cursor).
//!
//! Each has a `pathops` and a `raw` variant. The raw variant binds values by hand into the
//! SQL text PathOps renders (copied below) and decodes rows into the same domain types.
//!
//! Seeding: `PATHOPS_BENCH_ROWS` integrations of one tenant (default 100,000; the issue's
//! target is 1,000,000), inserted in bulk before measuring.
//!
//! Targets: deep/first page ≤ 1.3; pathops/raw ≤ 1.15 for get and list, ≤ 1.25 for create.

#![allow(
    missing_docs,
    reason = "criterion_group! generates undocumented public functions"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use pathops_core::audit::GENESIS_HASH;
use pathops_core::page::CursorPosition;
use pathops_core::{
    AuditEntry, CatalogStore, Change, Cursor, Integration, IntegrationId, ListFilter, ListQuery,
    Mutation, Provider, TenantId,
};
use pathops_testkit::fixtures::{IntegrationBuilder, create_mutation};
use sqlx::{ColumnIndex, Decode, Row, Type};
use uuid::Uuid;

const TENANT: &str = "bench";
const PAGE: u32 = 50;

// The statements PathOps renders (SQLite placeholders; PostgreSQL gets `$n`).
const COLUMNS: &str = r#""id", "tenant_id", "name", "description", "integration_type", "provider", "base_url", "auth_ref", "configuration", "environment", "tags", "owner_id", "status", "verified", "pause_reason", "pause_ticket", "last_tested_at", "last_test_success", "consecutive_failures", "created_at", "created_by", "modified_at", "modified_by", "version""#;

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
        r#"INSERT INTO "integrations" ({COLUMNS}, "deleted_at") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"#
    )
}
const HEAD_SQL: &str = r#"SELECT "sequence", "hash" FROM "audit_logs" WHERE "tenant_id" = ? ORDER BY "sequence" DESC LIMIT ?"#;
const AUDIT_SQL: &str = r#"INSERT INTO "audit_logs" ("id", "tenant_id", "sequence", "integration_id", "actor", "action", "at", "changes", "reason", "ticket", "approver", "prev_hash", "hash") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"#;
const EVENTS_SQL: &str = r#"INSERT INTO "outbox" ("event_id", "tenant_id", "integration_id", "event_type", "version", "occurred_at", "data", "attempts", "next_attempt_at") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"#;
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

fn micros(t: time::OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000) as i64
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
    ($module:ident, $db:ty, $postgres:expr) => {
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

raw_backend!(raw_sqlite, sqlx::Sqlite, false);
raw_backend!(raw_postgres, sqlx::Postgres, true);

/// Whether criterion measures (`cargo bench`) rather than smoke-tests each benchmark once
/// (`cargo test --benches`); smoke tests seed and pair little.
fn measuring() -> bool {
    std::env::args().any(|a| a == "--bench")
}

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
            eprintln!("\n{} rows, {n} alternating pairs, medians:", t.ids.len());
            if !measuring() {
                eprintln!("(smoke test, `cargo test --benches`: not a measurement; run `cargo bench`)");
            }
            report(t.name, "get", get, 1.15);
            report(t.name, "list_first_page", list_first, 1.15);
            report(t.name, "list_deep_page", list_deep, 1.15);
            report(t.name, "create", create, 1.25);
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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
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
