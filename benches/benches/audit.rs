//! Audit chain verification (issue 12): `Catalog::verify_audit_chain` over a long keyed chain.
//!
//! Seeds `PATHOPS_BENCH_AUDIT_ENTRIES` entries (default 1,000,000; 20,000 under
//! `cargo test --benches`) of one tenant into a SQLite file, sealed with an HMAC key the
//! catalog resolves through its secret resolver, then verifies the whole chain through the
//! catalog: page by page from the store, every entry's keyed hash checked. Printed after the
//! run: entries per second, and the peak resident-memory growth of one verification (the
//! kernel's high-water mark is reset first, through `/proc/self/clear_refs`). Target: growth
//! ≤ 32 MB however long the chain.

#![allow(missing_docs, clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use pathops_benches::{env_size, measuring, runtime};
use pathops_core::audit::{AuditAction, AuditEntry, AuditKey, AuditRecord, GENESIS_HASH};
use pathops_core::catalog::{Catalog, Principal, VerifyOptions};
use pathops_core::secret::StaticResolver;
use pathops_core::{AuthRef, IntegrationId, TenantId};
use pathops_store::SqliteStore;
use secrecy::SecretString;

const TENANT: &str = "bench";
const KEY_ID: &str = "bench-2026";
const KEY: &str = "bench-audit-key-0123456789abcdef-0123456789abcdef";
const KEY_REF: &str = "ref://bench/audit/key";

/// Resident and peak resident memory of this process, in bytes (`VmRSS`, `VmHWM`).
fn memory() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Resets the peak resident-memory mark to the current resident size (Linux 4.0+).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Inserts a keyed chain of `n` entries, in batches, holding one batch at a time.
async fn seed(pool: &sqlx::SqlitePool, n: usize, key: &AuditKey) {
    let tenant: TenantId = TENANT.parse().expect("tenant");
    let actor: pathops_core::ActorId = "bench-admin".parse().expect("actor");
    let integration = IntegrationId::new();
    let start = time::OffsetDateTime::now_utc() - time::Duration::days(365);
    let mut prev = GENESIS_HASH.to_owned();
    let mut sequence = 0u64;
    while (sequence as usize) < n {
        let batch = (n - sequence as usize).min(500);
        let mut entries = Vec::with_capacity(batch);
        for _ in 0..batch {
            sequence += 1;
            let mut record = AuditRecord::new(
                tenant.clone(),
                Some(integration),
                actor.clone(),
                AuditAction::Updated,
                start + time::Duration::seconds(sequence as i64),
            );
            record.reason = Some(format!("change {sequence}"));
            let entry = AuditEntry::seal_with(record, sequence, &prev, Some(key));
            prev.clone_from(&entry.hash);
            entries.push(entry);
        }
        let mut b = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            r#"INSERT INTO "audit_logs" ("id", "tenant_id", "sequence", "integration_id", "actor", "action", "at", "changes", "reason", "ticket", "approver", "prev_hash", "hash", "key_id") "#,
        );
        b.push_values(&entries, |mut v, e| {
            let r = &e.record;
            v.push_bind(r.id)
                .push_bind(r.tenant_id.as_str().to_owned())
                .push_bind(e.sequence as i64)
                .push_bind(r.integration_id.map(|id| id.as_uuid()))
                .push_bind(r.actor.as_str().to_owned())
                .push_bind(r.action.as_str())
                .push_bind((r.at.unix_timestamp_nanos() / 1_000) as i64)
                .push_bind(serde_json::to_string(&r.changes).expect("changes"))
                .push_bind(r.reason.clone())
                .push_bind(r.ticket.clone())
                .push_bind(r.approver.as_ref().map(|a| a.as_str().to_owned()))
                .push_bind(e.prev_hash.clone())
                .push_bind(e.hash.clone())
                .push_bind(e.key_id.clone());
        });
        b.build().execute(pool).await.expect("seed the chain");
    }
}

fn verify(c: &mut Criterion) {
    let rt = runtime();
    let n = env_size(
        "PATHOPS_BENCH_AUDIT_ENTRIES",
        if measuring() { 1_000_000 } else { 20_000 },
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let key = AuditKey::new(KEY_ID, SecretString::from(KEY)).expect("key");
    let (catalog, reader) = rt.block_on(async {
        let store = SqliteStore::open(dir.path().join("audit.db"))
            .await
            .expect("sqlite");
        let started = Instant::now();
        seed(store.pool(), n, &key).await;
        println!("seeded {n} audit entries in {:.1?}", started.elapsed());
        let key_ref: AuthRef = KEY_REF.parse().expect("ref");
        let catalog = Catalog::builder(Arc::new(store))
            .with_secrets(Arc::new(StaticResolver::new().with(key_ref.clone(), KEY)))
            .with_audit_key(KEY_ID, key_ref)
            .build()
            .expect("catalog");
        let reader = Principal::admin(
            TENANT.parse().expect("tenant"),
            "auditor".parse().expect("actor"),
        );
        (catalog, reader)
    });
    let options = VerifyOptions::default();
    let run = || {
        rt.block_on(async {
            let verified = catalog
                .verify_audit_chain(&reader, &options)
                .await
                .expect("verify")
                .expect("an intact chain");
            assert_eq!(verified.verified, n as u64, "every entry verified");
        })
    };

    // The first verification, measured for memory before anything else ran one (seeding held
    // one batch of 500 entries at a time).
    let reset = reset_peak();
    let before = memory();
    let started = Instant::now();
    run();
    let elapsed = started.elapsed();
    let after = memory();

    let mut group = c.benchmark_group("audit/verify_chain");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(10))
        .throughput(Throughput::Elements(n as u64));
    group.bench_function("sqlite", |b| b.iter(run));
    group.finish();

    println!(
        "audit/verify_chain: {n} entries in {elapsed:.1?}, {:.0} entries/s",
        n as f64 / elapsed.as_secs_f64()
    );
    match (reset, before, after) {
        (true, Some((rss, _)), Some((_, peak))) => {
            let growth = peak.saturating_sub(rss) as f64 / (1024.0 * 1024.0);
            println!(
                "audit/verify_chain: peak RSS growth {growth:.1} MB over {:.1} MB resident, peak {:.1} MB ({} <= 32 MB)",
                rss as f64 / (1024.0 * 1024.0),
                peak as f64 / (1024.0 * 1024.0),
                if growth <= 32.0 { "meets" } else { "MISSES" }
            );
        }
        _ => println!("audit/verify_chain: no /proc memory readings here; growth not measured"),
    }
}

criterion_group!(benches, verify);
criterion_main!(benches);
