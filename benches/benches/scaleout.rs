//! Health monitor scale-out on PostgreSQL (issue 12): three `HealthMonitor` replicas sharing
//! one database.
//!
//! `PATHOPS_BENCH_SCALE_N` integrations (default 100,000; 2,000 under `cargo test --benches`)
//! of tenant `acme`, active, with the in-memory connector (it answers at once), a 5-minute
//! interval without jitter, and a `ManualClock` moved one second at a time: at each second
//! every replica runs passes until none finds work, the three concurrently. Time is
//! compressed; the database work is real.
//!
//! 1. After the spreading pass, interval 1 runs on three replicas: every integration must be
//!    checked exactly once in it, with no duplicate check.
//! 2. At the start of interval 2 the third replica leases a batch and dies without checking
//!    it (its leases run out after 60 s); the two others must still check every integration
//!    exactly once in interval 2.
//!
//! Printed: checks, duplicates and misses per interval, wall time and checks per second, and
//! the database work per check in interval 1 from PostgreSQL's statistics (transactions
//! committed, rows inserted and updated per table).
//!
//! Needs `PATHOPS_BENCH_POSTGRES_URL` or `PATHOPS_TEST_POSTGRES_URL` (a fresh schema, dropped
//! afterwards); says it skipped otherwise. The two intervals run once, before criterion; then
//! criterion times one simulated second of the three replicas at that scale.

#![allow(missing_docs, clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use pathops_benches::{env_size, measuring, micros, runtime};
use pathops_core::monitor::{HealthMonitor, MonitorConfig};
use pathops_core::store::CheckClaim;
use pathops_core::{CatalogStore, Clock as _};
use pathops_store::PostgresStore;
use pathops_testkit::catalog_suite::{AUTH_REF, Harness};

const INTERVAL: Duration = Duration::from_secs(300);
const LEASE: Duration = Duration::from_secs(60);

/// `n` active, verified in-memory integrations of `acme`, inserted in one statement.
async fn seed(pool: &sqlx::PgPool, n: usize, now: time::OffsetDateTime) {
    sqlx::query(
        r#"INSERT INTO "integrations" ("id", "tenant_id", "name", "description", "integration_type", "provider", "base_url", "auth_ref", "configuration", "environment", "tags", "owner_id", "status", "verified", "pause_reason", "pause_ticket", "last_tested_at", "last_test_success", "consecutive_failures", "flapping", "created_at", "created_by", "modified_at", "modified_by", "version", "deleted_at")
        SELECT id, 'acme', 'fleet-' || lpad(k::text, 7, '0'), NULL, 'scm', 'in-memory', 'https://tool-' || k || '.example.test', $1, '{}'::jsonb, 'production', '[]'::jsonb, NULL, 'active', TRUE, NULL, NULL, $2, TRUE, 0, FALSE, $2, 'seed', $2, 'seed', 1, NULL
        FROM unnest($3::uuid[]) WITH ORDINALITY AS t(id, k)"#,
    )
    .bind(AUTH_REF)
    .bind(micros(now))
    // Integration ids are UUID v7, made here (PostgreSQL before 18 has no uuidv7()).
    .bind((0..n).map(|_| uuid::Uuid::now_v7()).collect::<Vec<_>>())
    .execute(pool)
    .await
    .expect("seed integrations");
    sqlx::query("ANALYZE integrations")
        .execute(pool)
        .await
        .expect("analyze");
}

/// (integrations checked exactly once, integrations checked more than once, checks) in
/// `[from, to)`.
async fn coverage(pool: &sqlx::PgPool, from: i64, to: i64) -> (i64, i64, i64) {
    sqlx::query_as(
        r#"SELECT COALESCE(SUM(CASE WHEN c = 1 THEN 1 ELSE 0 END), 0)::bigint, COALESCE(SUM(CASE WHEN c > 1 THEN 1 ELSE 0 END), 0)::bigint, COALESCE(SUM(c), 0)::bigint
        FROM (SELECT integration_id, COUNT(*) AS c FROM health_checks WHERE checked_at >= $1 AND checked_at < $2 GROUP BY integration_id) AS per"#,
    )
    .bind(from)
    .bind(to)
    .fetch_one(pool)
    .await
    .expect("coverage")
}

/// Database-wide committed transactions and, per table of `schema`, rows inserted and
/// updated, as PostgreSQL's cumulative statistics have them.
async fn work(pool: &sqlx::PgPool, schema: &str) -> (i64, Vec<(String, i64, i64)>) {
    // A backend's statistics reach the shared counters once it has been idle a while
    // (PostgreSQL 15+ flushes idle backends' pending counts within 10 s).
    tokio::time::sleep(Duration::from_secs(11)).await;
    let xacts: i64 = sqlx::query_scalar(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(pool)
    .await
    .expect("pg_stat_database");
    let tables = sqlx::query_as(
        "SELECT relname::text, n_tup_ins, n_tup_upd FROM pg_stat_user_tables WHERE schemaname = $1 ORDER BY relname",
    )
    .bind(schema)
    .fetch_all(pool)
    .await
    .expect("pg_stat_user_tables");
    (xacts, tables)
}

/// Every replica runs passes, concurrently, until none finds work at the current time.
/// Returns the checks recorded.
async fn drain(replicas: &[&HealthMonitor]) -> usize {
    let mut checked = 0;
    loop {
        let passes = futures::future::join_all(replicas.iter().map(|m| m.run_once())).await;
        let mut claimed = 0;
        for pass in passes {
            let pass = pass.expect("pass");
            assert_eq!(pass.errors + pass.failed, 0, "{pass:?}");
            claimed += pass.claimed;
            checked += pass.checked;
        }
        if claimed == 0 {
            return checked;
        }
    }
}

/// Moves the clock one second at a time over `span`, draining the replicas at each second.
/// Returns the checks recorded.
async fn drive(h: &Harness, replicas: &[&HealthMonitor], span: Duration) -> usize {
    let mut checked = 0;
    for _ in 0..span.as_secs() {
        h.clock.advance(Duration::from_secs(1));
        checked += drain(replicas).await;
    }
    checked
}

fn scale_out(c: &mut Criterion) {
    let url = std::env::var("PATHOPS_BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("PATHOPS_TEST_POSTGRES_URL"));
    let Ok(url) = url else {
        println!(
            "monitor_scale_out: skipped (neither PATHOPS_BENCH_POSTGRES_URL nor PATHOPS_TEST_POSTGRES_URL is set)"
        );
        return;
    };
    let n = env_size(
        "PATHOPS_BENCH_SCALE_N",
        if measuring() { 100_000 } else { 2_000 },
    );
    let rt = runtime();
    let schema = format!("pathops_scale_{}", uuid::Uuid::now_v7().simple());
    let (h, replicas, admin) = rt.block_on(run(&url, &schema, n));
    // Then criterion times one simulated second of the three replicas at this scale (about
    // n / 300 checks) for its statistics.
    let all: Vec<&HealthMonitor> = replicas.iter().collect();
    let mut group = c.benchmark_group("monitor_scale_out");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(5));
    group.bench_function(format!("{n}_integrations_one_second_three_replicas"), |b| {
        b.iter(|| rt.block_on(drive(&h, &all, Duration::from_secs(1))))
    });
    group.finish();
    drop(all);
    drop(replicas);
    drop(h);
    rt.block_on(async {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&admin)
            .await
            .expect("drop schema");
    });
}

/// Seeds, runs both intervals and prints what they showed; returns what criterion measures
/// next, and the pool that drops the schema.
async fn run(url: &str, schema: &str, n: usize) -> (Harness, Vec<HealthMonitor>, sqlx::PgPool) {
    let admin = sqlx::PgPool::connect(url).await.expect("postgres");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .expect("schema");
    let store = PostgresStore::builder(url)
        .with_schema(schema)
        .with_max_connections(16)
        .build()
        .await
        .expect("postgres store");
    let pool = store.pool().clone();
    let store: Arc<dyn CatalogStore> = Arc::new(store);
    let h = Harness::new(store);
    let seeded = Instant::now();
    seed(&pool, n, h.clock.now()).await;
    println!(
        "monitor_scale_out: seeded {n} integrations in {:.1?}",
        seeded.elapsed()
    );

    let replicas: Vec<HealthMonitor> = (1..=3)
        .map(|k| {
            HealthMonitor::builder(h.catalog.clone())
                .with_config(MonitorConfig {
                    interval: INTERVAL,
                    jitter: Duration::ZERO,
                    concurrency: 32,
                    batch_size: 512,
                    lease: LEASE,
                    ..MonitorConfig::default()
                })
                .with_owner(format!("replica-{k}"))
                .with_seed(k)
                .build()
                .expect("monitor")
        })
        .collect();
    // The spreading pass: every integration gets a start offset within the interval.
    let mut spread = 0;
    loop {
        let pass = replicas[0].run_once().await.expect("spread pass");
        if pass.spread == 0 {
            break;
        }
        spread += pass.spread;
    }
    assert_eq!(spread, n, "every integration got a start offset");

    let all: Vec<&HealthMonitor> = replicas.iter().collect();
    let start = h.clock.now();
    let before = work(&admin, schema).await;
    let wall = Instant::now();
    let checked = drive(&h, &all, INTERVAL).await;
    let first_wall = wall.elapsed();
    let after = work(&admin, schema).await;
    // Interval k holds the seconds (start + (k-1)·I, start + k·I]: drive checks at the end
    // of each second it moves to.
    let one = micros(start) + 1;
    let two = micros(start + INTERVAL) + 1;
    let (once, twice, checks) = coverage(&pool, one, two).await;
    println!(
        "monitor_scale_out: interval 1, 3 replicas: {checks} checks ({checked} reported), {once} of {n} integrations checked exactly once, {twice} more than once, {} missed; wall {first_wall:.1?} = {:.0} checks/s",
        n as i64 - once - twice,
        checks as f64 / first_wall.as_secs_f64(),
    );
    let xacts = (after.0 - before.0) as f64 / checks.max(1) as f64;
    let mut rows = Vec::new();
    for (table, ins, upd) in &after.1 {
        let (b_ins, b_upd) = before
            .1
            .iter()
            .find(|(t, _, _)| t == table)
            .map_or((0, 0), |(_, i, u)| (*i, *u));
        let (di, du) = (ins - b_ins, upd - b_upd);
        if di != 0 || du != 0 {
            rows.push(format!(
                "{table} +{:.2} ins / {:.2} upd",
                di as f64 / checks.max(1) as f64,
                du as f64 / checks.max(1) as f64
            ));
        }
    }
    println!(
        "monitor_scale_out: database work per check in interval 1: {xacts:.2} transactions committed (database-wide, claims included); rows: {}",
        rows.join(", ")
    );

    // Interval 2: in its first second replica 3 leases what is due and dies; the others
    // cover its share once the leases run out.
    h.clock.advance(Duration::from_secs(1));
    let abandoned = h
        .catalog
        .store()
        .claim_due_checks(&CheckClaim {
            owner: "replica-3".into(),
            now: h.clock.now(),
            lease: LEASE,
            limit: 512,
        })
        .await
        .expect("the dying replica's claim");
    let survivors = [&replicas[0], &replicas[1]];
    let wall = Instant::now();
    drain(&survivors).await;
    drive(&h, &survivors, INTERVAL - Duration::from_secs(1)).await;
    let second_wall = wall.elapsed();
    let three = micros(start + INTERVAL * 2) + 1;
    let (once2, twice2, checks2) = coverage(&pool, two, three).await;
    println!(
        "monitor_scale_out: interval 2, replica 3 died holding {} leases: {checks2} checks, {once2} of {n} checked exactly once, {twice2} more than once, {} missed; wall {second_wall:.1?}",
        abandoned.len(),
        n as i64 - once2 - twice2,
    );
    let verdict = once == n as i64 && twice == 0 && once2 == n as i64 && twice2 == 0;
    println!(
        "monitor_scale_out: {} (every integration exactly once per interval, none twice, the stopped replica's share covered)",
        if verdict { "meets" } else { "MISSES" }
    );
    (h, replicas, admin)
}

criterion_group!(benches, scale_out);
criterion_main!(benches);
