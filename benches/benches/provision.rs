//! Provisioning (issue 18): importing a manifest into an empty SQLite catalog against the same
//! integrations created one by one with `Catalog::create`, and re-planning the applied
//! manifest.
//!
//! `PATHOPS_BENCH_PROVISION_N` integrations (default 10,000; 200 under `cargo test --benches`)
//! of tenant `acme`, each in a fresh SQLite file (a temporary directory):
//!
//! - `direct`: N `Catalog::create` calls (submitted), one after another;
//! - `import`: the manifest of the same N integrations as YAML text, parsed, planned
//!   (`Catalog::plan`: listing the empty tenant, validating every entry and its references)
//!   and applied (`Catalog::apply`: one catalog change per integration, as `create` makes);
//! - `replan`: `Catalog::plan` of the applied manifest again (every entry unchanged).
//!
//! `direct` and `import` run `PATHOPS_BENCH_PROVISION_ROUNDS` times each (default 3),
//! alternating, before criterion; printed: each round, the medians and their ratio. Then
//! criterion times `replan`.
//!
//! Targets: import / direct ≤ 1.2; replan of 10,000 ≤ 2 s.

#![allow(missing_docs, clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use pathops_benches::{env_size, measuring, runtime};
use pathops_core::CatalogStore;
use pathops_core::catalog::ApplyOptions;
use pathops_core::provision::{IntegrationSpec, Manifest};
use pathops_store::SqliteStore;
use pathops_testkit::catalog_suite::{AUTH_REF, Harness};

/// The manifest entry of integration `k`.
fn spec(k: usize) -> IntegrationSpec {
    IntegrationSpec {
        name: format!("fleet-{k:06}"),
        integration_type: None,
        provider: pathops_testkit::in_memory::provider(),
        base_url: format!("https://tool-{k}.example.test"),
        auth_ref: Some(AUTH_REF.to_owned()),
        configuration: serde_json::json!({ "project": format!("group/app-{k}") })
            .as_object()
            .cloned()
            .unwrap_or_default(),
        environment: Some("production".to_owned()),
        tags: vec!["team:platform".to_owned(), format!("shard:{}", k % 16)],
        owner: Some("team-platform".to_owned()),
        description: None,
        paused: false,
        pause_reason: None,
    }
}

fn manifest(n: usize) -> Manifest {
    let mut m = Manifest::new();
    m.integrations = (0..n).map(spec).collect();
    m
}

/// A catalog over a fresh SQLite file (the directory lives as long as the harness is used).
async fn fresh() -> (tempfile::TempDir, Harness) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn CatalogStore> = Arc::new(
        SqliteStore::open(dir.path().join("catalog.db"))
            .await
            .expect("SQLite file"),
    );
    (dir, Harness::new(store))
}

async fn direct(n: usize) -> Duration {
    let (_dir, h) = fresh().await;
    let inputs: Vec<_> = (0..n)
        .map(|k| spec(k).to_new_integration().expect("valid"))
        .collect();
    let started = Instant::now();
    for input in inputs {
        h.catalog
            .create(&h.admin, input, true)
            .await
            .expect("create");
    }
    started.elapsed()
}

/// Import time, and the harness with the applied catalog for the re-plan.
async fn import(yaml: &str, n: usize) -> (Duration, tempfile::TempDir, Harness) {
    let (dir, h) = fresh().await;
    let started = Instant::now();
    let manifest = Manifest::parse(yaml).expect("manifest");
    let parsed = started.elapsed();
    let plan = h
        .catalog
        .plan(&h.admin, &manifest, false)
        .await
        .expect("store")
        .expect("valid manifest");
    let planned = started.elapsed();
    let report = h
        .catalog
        .apply(&h.admin, &plan, &ApplyOptions::new())
        .await
        .expect("apply");
    let elapsed = started.elapsed();
    println!(
        "  import phases: parse {:.3} s, plan {:.3} s, apply {:.3} s",
        parsed.as_secs_f64(),
        (planned - parsed).as_secs_f64(),
        (elapsed - planned).as_secs_f64()
    );
    assert_eq!(report.applied.len(), n);
    (elapsed, dir, h)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn provision(c: &mut Criterion) {
    let rt = runtime();
    let n = env_size(
        "PATHOPS_BENCH_PROVISION_N",
        if measuring() { 10_000 } else { 200 },
    );
    let rounds = env_size(
        "PATHOPS_BENCH_PROVISION_ROUNDS",
        if measuring() { 3 } else { 1 },
    );
    let yaml = manifest(n).to_yaml();
    let (mut directs, mut imports) = (Vec::new(), Vec::new());
    let mut applied = None;
    for round in 1..=rounds {
        let d = rt.block_on(direct(n));
        let (i, dir, h) = rt.block_on(import(&yaml, n));
        println!(
            "provision round {round}: direct {n} creates {:.2} s, import {:.2} s ({:.3})",
            d.as_secs_f64(),
            i.as_secs_f64(),
            i.as_secs_f64() / d.as_secs_f64()
        );
        directs.push(d);
        imports.push(i);
        applied = Some((dir, h));
    }
    let (d, i) = (median(directs), median(imports));
    println!(
        "provision: {n} integrations, median direct {:.2} s ({:.0}/s), median import {:.2} s ({:.0}/s), import/direct {:.3} (target <= 1.2)",
        d.as_secs_f64(),
        n as f64 / d.as_secs_f64(),
        i.as_secs_f64(),
        n as f64 / i.as_secs_f64(),
        i.as_secs_f64() / d.as_secs_f64()
    );
    let (_dir, h) = applied.expect("at least one round");
    let manifest = Manifest::parse(&yaml).expect("manifest");
    let started = Instant::now();
    let plan = rt
        .block_on(h.catalog.plan(&h.admin, &manifest, false))
        .expect("store")
        .expect("valid");
    println!(
        "provision: re-plan of {n} applied integrations {:.3} s, {} changes (target <= 2 s, 0 changes)",
        started.elapsed().as_secs_f64(),
        plan.changes().count()
    );
    assert!(plan.is_empty(), "the applied manifest plans nothing");

    let mut group = c.benchmark_group("provision");
    group.sample_size(10);
    group.bench_function(format!("replan_{n}_unchanged"), |b| {
        b.iter(|| {
            let plan = rt
                .block_on(h.catalog.plan(&h.admin, &manifest, false))
                .expect("store")
                .expect("valid");
            assert!(plan.is_empty());
        });
    });
    group.finish();
}

criterion_group!(benches, provision);
criterion_main!(benches);
