//! What an out-of-process plugin costs per check, beside the same connector in process.
//!
//! - `plugin/in_process`: `check_health` on [`InstantConnector`] directly (the baseline).
//! - `plugin/long_lived`: the same connector served by the `bench-plugin` binary through
//!   `PluginConnector` with one long-lived process: framing, JSON, a pipe round trip.
//! - `plugin/per_call`: a process per check (spawn, `initialize`, the call, `shutdown`).
//!
//! After criterion, it prints the p50 of single checks measured one by one (targets: p50
//! overhead of the long-lived plugin ≤ 1 ms over in process; per-call p50 ≤ 15 ms), then runs
//! 1,000 checks at concurrency 16 through one plugin and prints the plugin process's RSS and
//! both processes' open file descriptors after the first 100 and after all (flat: no leak).

#![allow(missing_docs, clippy::print_stdout)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use pathops_benches::instant::{InstantConnector, provider};
use pathops_benches::{measuring, runtime};
use pathops_connectors::plugin::{PluginConnector, PluginMode, PluginOptions};
use pathops_core::{ConnectorContext, Integration, IntegrationConnector, NewIntegration};

fn install(dir: &Path) -> std::path::PathBuf {
    let exe = env!("CARGO_BIN_EXE_bench-plugin");
    let plugin = dir.join("instant");
    std::fs::create_dir_all(&plugin).unwrap();
    std::fs::copy(exe, plugin.join("bench-plugin")).unwrap();
    let sha =
        pathops_connectors::plugin::manifest::sha256_file(&plugin.join("bench-plugin")).unwrap();
    let manifest = serde_json::json!({
        "plugin_id": "pathops.bench-instant",
        "provider": "bench-instant",
        "integration_type": "feed",
        "version": env!("CARGO_PKG_VERSION"),
        "protocol_versions": [1],
        "capabilities": ["test_connection", "health_check"],
        "executable": "bench-plugin",
        "sha256": sha,
        "max_concurrency": 16,
    });
    let path = plugin.join("pathops-plugin.json");
    std::fs::write(&path, manifest.to_string()).unwrap();
    path
}

fn integration() -> Arc<Integration> {
    let input = NewIntegration::builder("feed", provider(), "https://feed.example.com")
        .build()
        .unwrap();
    Arc::new(Integration::new_draft(
        pathops_core::IntegrationId::new(),
        "acme".parse().unwrap(),
        input,
        "alice".parse().unwrap(),
        time::OffsetDateTime::UNIX_EPOCH,
    ))
}

fn ctx(i: &Arc<Integration>) -> ConnectorContext {
    ConnectorContext::new(i.clone(), None, Duration::from_secs(10))
}

fn p50(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

async fn timed(c: &dyn IntegrationConnector, i: &Arc<Integration>, n: usize) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let r = c.check_health(&ctx(i)).await;
        samples.push(started.elapsed());
        assert!(r.is_success(), "{}", r.message);
    }
    samples
}

fn proc_status_kib(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

fn open_fds(pid: &str) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let manifest = install(dir.path());
    let i = integration();
    let direct = InstantConnector;
    let long_lived = PluginConnector::from_manifest(&manifest, &PluginOptions::default()).unwrap();
    let per_call = PluginConnector::from_manifest(
        &manifest,
        &PluginOptions::default().with_mode(PluginMode::PerCall),
    )
    .unwrap();
    // Start the long-lived process before measuring.
    rt.block_on(timed(&long_lived, &i, 1));

    let mut group = c.benchmark_group("plugin");
    group.bench_function("in_process", |b| {
        b.to_async(&rt)
            .iter(|| async { direct.check_health(&ctx(&i)).await })
    });
    group.bench_function("long_lived", |b| {
        b.to_async(&rt)
            .iter(|| async { long_lived.check_health(&ctx(&i)).await })
    });
    group.sample_size(20);
    group.bench_function("per_call", |b| {
        b.to_async(&rt)
            .iter(|| async { per_call.check_health(&ctx(&i)).await })
    });
    group.finish();

    let (n, n_per_call, total) = if measuring() {
        (2_000, 200, 1_000)
    } else {
        (50, 5, 100)
    };
    let in_process = p50(rt.block_on(timed(&direct, &i, n)));
    let plugin = p50(rt.block_on(timed(&long_lived, &i, n)));
    let spawned = p50(rt.block_on(timed(&per_call, &i, n_per_call)));
    println!(
        "plugin p50: in process {in_process:?}, long-lived plugin {plugin:?} (overhead {:?}, target <= 1 ms), per-call plugin {spawned:?} (target <= 15 ms)",
        plugin.saturating_sub(in_process)
    );

    // 1,000 checks at concurrency 16 through one process: resources flat.
    let connector = Arc::new(long_lived);
    let run = |count: usize| {
        let connector = connector.clone();
        let i = i.clone();
        rt.block_on(async move {
            let semaphore = Arc::new(tokio::sync::Semaphore::new(16));
            let mut tasks = Vec::with_capacity(count);
            for _ in 0..count {
                let permit = semaphore.clone().acquire_owned().await.unwrap();
                let connector = connector.clone();
                let i = i.clone();
                tasks.push(tokio::spawn(async move {
                    let r = connector.check_health(&ctx(&i)).await;
                    drop(permit);
                    r.is_success()
                }));
            }
            for t in tasks {
                assert!(t.await.unwrap());
            }
        })
    };
    run(100);
    let pid = rt.block_on(connector.pids())[0];
    let (rss_before, fds_before, host_fds_before) = (
        proc_status_kib(pid, "VmRSS:"),
        open_fds(&pid.to_string()),
        open_fds("self"),
    );
    run(total);
    let (rss_after, fds_after, host_fds_after) = (
        proc_status_kib(pid, "VmRSS:"),
        open_fds(&pid.to_string()),
        open_fds("self"),
    );
    assert_eq!(
        rt.block_on(connector.pids()),
        [pid],
        "one process throughout"
    );
    println!(
        "plugin soak ({total} checks, concurrency 16, one process): plugin RSS {rss_before} KiB -> {rss_after} KiB, plugin fds {fds_before} -> {fds_after}, host fds {host_fds_before} -> {host_fds_after}"
    );
    rt.block_on(connector.shutdown());
    rt.block_on(per_call.shutdown());
}

criterion_group!(benches, bench);
criterion_main!(benches);
