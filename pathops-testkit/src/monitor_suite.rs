//! Conformance suite of the [`HealthMonitor`] over any [`CatalogStore`]: scheduling and jitter
//! bounds, what is never checked, lifecycle thresholds, deadlines, resumed-first, offline
//! mode, retention, shutdown, and several monitors sharing one store.
//!
//! Passes are driven with [`HealthMonitor::run_once`] and a [`ManualClock`], so nothing
//! depends on wall-clock timing. [`monitor_conformance_tests!`] generates one test per check.
//!
//! [`monitor_conformance_tests!`]: crate::monitor_conformance_tests
//! [`ManualClock`]: crate::clock::ManualClock

use std::sync::Arc;
use std::time::Duration;

use pathops_core::monitor::{HealthMonitor, MonitorConfig};
use pathops_core::{
    CatalogStore, Clock, FailureCode, HealthStatus, IntegrationId, IntegrationStatus, TimeRange,
};

use crate::catalog_suite::Harness;
use crate::in_memory::Outcome;

const INTERVAL: Duration = Duration::from_secs(300);
const STEP: Duration = Duration::from_secs(10);

fn config(jitter: Duration) -> MonitorConfig {
    MonitorConfig {
        interval: INTERVAL,
        jitter,
        concurrency: 16,
        batch_size: 10_000,
        lease: Duration::from_secs(60),
        ..MonitorConfig::default()
    }
}

fn monitor(h: &Harness, jitter: Duration, seed: u64) -> HealthMonitor {
    HealthMonitor::builder(h.catalog.clone())
        .with_config(config(jitter))
        .with_seed(seed)
        .with_owner(format!("monitor-{seed}"))
        .build()
        .expect("valid monitor")
}

/// `n` integrations made Active by a passing connection test.
async fn active(h: &Harness, n: usize, prefix: &str) -> Vec<IntegrationId> {
    let mut ids = Vec::with_capacity(n);
    for k in 0..n {
        let i = h
            .catalog
            .create(&h.admin, Harness::input(&format!("{prefix}-{k:04}")), true)
            .await
            .unwrap();
        h.catalog.test_connection(&h.admin, i.id).await.unwrap();
        ids.push(i.id);
    }
    ids
}

/// Times of the scheduled (health-check kind) checks of `id`, oldest first.
async fn check_times(h: &Harness, id: IntegrationId) -> Vec<time::OffsetDateTime> {
    let mut times: Vec<_> = h
        .catalog
        .health(&h.admin, id, TimeRange::all(), 10_000)
        .await
        .unwrap()
        .history
        .into_iter()
        .filter(|r| r.kind == pathops_core::health::CheckKind::HealthCheck)
        .map(|r| r.checked_at)
        .collect();
    times.sort();
    times
}

/// Runs passes of `monitors` every `STEP` for `duration` of manual time.
async fn drive(h: &Harness, monitors: &[&HealthMonitor], duration: Duration) {
    let steps = duration.as_secs() / STEP.as_secs();
    for _ in 0..steps {
        let passes = monitors.iter().map(|m| m.run_once());
        for result in futures::future::join_all(passes).await {
            result.expect("monitor pass");
        }
        h.clock.advance(STEP);
    }
}

/// New integrations get a random start within one interval (not all at once), and each next
/// check lands within `interval ± jitter` of the previous one.
pub async fn schedule_and_jitter_stay_in_bounds(store: Arc<dyn CatalogStore>) {
    let h = Harness::new(store);
    let ids = active(&h, 20, "sched").await;
    let jitter = Duration::from_secs(30);
    let m = monitor(&h, jitter, 1);
    let start = h.clock.now();
    let first = m.run_once().await.unwrap();
    assert_eq!(
        (first.claimed, first.spread, first.checked),
        (20, 20, 0),
        "first pass only schedules"
    );
    drive(&h, &[&m], INTERVAL * 3).await;
    let mut first_checks = Vec::new();
    for id in &ids {
        let times = check_times(&h, *id).await;
        assert!(times.len() >= 2, "{id} checked {} times", times.len());
        first_checks.push(times[0]);
        assert!(
            times[0] - start <= INTERVAL + STEP,
            "start offset beyond one interval"
        );
        for pair in times.windows(2) {
            let gap = pair[1] - pair[0];
            assert!(
                gap >= INTERVAL - jitter,
                "gap {gap} below interval - jitter"
            );
            assert!(
                gap <= INTERVAL + jitter + STEP,
                "gap {gap} above interval + jitter"
            );
        }
    }
    first_checks.sort();
    first_checks.dedup();
    assert!(
        first_checks.len() > 5,
        "start offsets are spread, not in lockstep: {first_checks:?}"
    );
}

/// A tenant's `health_check_interval_secs` is honoured above the operator's minimum and raised
/// to it below (1 s would otherwise make the monitor a load generator).
pub async fn per_integration_intervals_are_clamped_to_the_minimum(store: Arc<dyn CatalogStore>) {
    let h = Harness::new(store);
    let mut ids = Vec::new();
    for (name, secs) in [("eager", 1), ("relaxed", 120)] {
        let input = pathops_core::NewIntegration::builder(
            name,
            crate::in_memory::provider(),
            "https://tool.example.test",
        )
        .with_auth_ref(crate::catalog_suite::AUTH_REF)
        .with_configuration(serde_json::json!({ "health_check_interval_secs": secs }))
        .build()
        .unwrap();
        let i = h.catalog.create(&h.admin, input, true).await.unwrap();
        h.catalog.test_connection(&h.admin, i.id).await.unwrap();
        ids.push(i.id);
    }
    let m = HealthMonitor::builder(h.catalog.clone())
        .with_config(config(Duration::ZERO))
        .with_seed(7)
        .build()
        .unwrap();
    drive(&h, &[&m], Duration::from_secs(900)).await;
    let minimum = MonitorConfig::default().min_interval;
    assert_eq!(minimum, Duration::from_secs(60));
    for (id, expected) in ids.into_iter().zip([minimum, Duration::from_secs(120)]) {
        let times = check_times(&h, id).await;
        assert!(times.len() >= 3, "{id} checked {} times", times.len());
        for pair in times.windows(2) {
            let gap = pair[1] - pair[0];
            assert!(
                gap >= expected && gap <= expected + STEP,
                "gap {gap}, expected {expected:?}"
            );
        }
    }
}

/// Draft and paused integrations are never checked; resumed ones are checked first.
pub async fn draft_and_paused_are_never_checked_and_resumed_come_first(
    store: Arc<dyn CatalogStore>,
) {
    let h = Harness::new(store);
    let draft = h
        .catalog
        .create(&h.admin, Harness::input("draft"), false)
        .await
        .unwrap();
    let ids = active(&h, 3, "busy").await;
    let paused = active(&h, 1, "paused").await[0];
    h.catalog
        .pause(&h.admin, paused, "maintenance", None)
        .await
        .unwrap();
    let m = HealthMonitor::builder(h.catalog.clone())
        .with_config(MonitorConfig {
            batch_size: 1,
            ..config(Duration::ZERO)
        })
        .with_seed(2)
        .build()
        .unwrap();
    let calls = |id: IntegrationId| {
        h.connector
            .calls()
            .iter()
            .filter(|c| c.integration_id == id)
            .count()
    };
    let draft_calls = calls(draft.id);
    let paused_calls = calls(paused);
    drive(&h, &[&m], INTERVAL * 2).await;
    assert_eq!(calls(draft.id), draft_calls, "a draft was checked");
    assert_eq!(
        calls(paused),
        paused_calls,
        "a paused integration was checked"
    );
    for id in &ids {
        assert!(
            !check_times(&h, *id).await.is_empty(),
            "{id} was never checked"
        );
    }
    // Everything is now scheduled in the future. Make all of it due, resume the paused one:
    // with one lease per pass, the resumed integration is the first checked.
    h.clock.advance(INTERVAL * 2);
    h.catalog.resume(&h.admin, paused).await.unwrap();
    let before = h.connector.calls().len();
    let pass = m.run_once().await.unwrap();
    assert_eq!(pass.checked, 1);
    let first = &h.connector.calls()[before];
    assert_eq!(
        first.integration_id, paused,
        "the resumed integration was not checked first"
    );
}

/// Failed checks walk Active → Degraded → Failed and one success brings it back.
pub async fn thresholds_walk_through_the_monitor(store: Arc<dyn CatalogStore>) {
    let h = Harness::new(store);
    let id = active(&h, 1, "flaky").await[0];
    let m = monitor(&h, Duration::ZERO, 3);
    m.run_once().await.unwrap(); // schedules
    let mut script: Vec<Outcome> = (0..5)
        .map(|_| Outcome::fail(FailureCode::Connect))
        .collect();
    script.push(Outcome::pass());
    h.connector.script(id, script);
    let mut statuses = Vec::new();
    for _ in 0..6 {
        h.clock.advance(INTERVAL + STEP);
        let pass = m.run_once().await.unwrap();
        assert_eq!(pass.checked, 1);
        statuses.push(h.catalog.get(&h.admin, id).await.unwrap().status);
    }
    use IntegrationStatus as S;
    assert_eq!(
        statuses,
        vec![
            S::Active,
            S::Active,
            S::Degraded,
            S::Degraded,
            S::Failed,
            S::Active
        ]
    );
}

/// A connector that never answers cannot stall a pass past the catalog's deadline; the
/// result is a failed check with its code, never "still healthy".
pub async fn a_hanging_connector_cannot_stall_the_loop(store: Arc<dyn CatalogStore>) {
    let h = Harness::new(store.clone());
    let id = active(&h, 1, "hang").await[0];
    let fast = pathops_core::catalog::Catalog::builder(store)
        .with_connectors({
            let mut r = pathops_core::ConnectorRegistry::new();
            r.register(h.connector.clone()).unwrap();
            r
        })
        .with_secrets(Arc::new(pathops_core::secret::StaticResolver::new().with(
            crate::catalog_suite::AUTH_REF.parse().unwrap(),
            crate::catalog_suite::SENTINEL_SECRET,
        )))
        .with_clock(h.clock.clone())
        .with_check_timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    let m = HealthMonitor::builder(fast)
        .with_config(config(Duration::ZERO))
        .with_seed(4)
        .build()
        .unwrap();
    m.run_once().await.unwrap();
    // A connector that ignores its own deadline: only the catalog's timeout can end the call.
    h.connector.script(id, [Outcome::hang()]);
    h.clock.advance(INTERVAL + STEP);
    let pass = tokio::time::timeout(Duration::from_secs(10), m.run_once())
        .await
        .expect("the pass finished: the catalog's check timeout ended the hanging call")
        .unwrap();
    assert_eq!((pass.checked, pass.failed), (1, 1));
    let latest = h
        .catalog
        .health(&h.admin, id, TimeRange::all(), 1)
        .await
        .unwrap()
        .latest
        .unwrap();
    assert_eq!(latest.failure, Some(FailureCode::Timeout));
    assert_eq!(latest.status, HealthStatus::Unhealthy);
}

/// Offline mode records `skipped: offline` and calls nothing.
pub async fn offline_mode_records_skips_without_calls(store: Arc<dyn CatalogStore>) {
    let h = Harness::new(store);
    let id = active(&h, 1, "offline").await[0];
    let m = HealthMonitor::builder(h.catalog.clone())
        .with_config(MonitorConfig {
            offline: true,
            ..config(Duration::ZERO)
        })
        .with_seed(5)
        .build()
        .unwrap();
    m.run_once().await.unwrap();
    let calls = h.connector.calls().len();
    h.clock.advance(INTERVAL + STEP);
    let pass = m.run_once().await.unwrap();
    assert_eq!((pass.skipped, pass.checked), (1, 0));
    assert_eq!(h.connector.calls().len(), calls, "offline mode made a call");
    let latest = h
        .catalog
        .health(&h.admin, id, TimeRange::all(), 1)
        .await
        .unwrap()
        .latest
        .unwrap();
    assert_eq!(
        (latest.status, latest.message.as_str()),
        (HealthStatus::Skipped, "skipped: offline")
    );
    assert_eq!(
        h.catalog.get(&h.admin, id).await.unwrap().status,
        IntegrationStatus::Active
    );
}

/// History older than the retention is pruned in batches; newer history stays.
pub async fn retention_prunes_old_history_in_batches(store: Arc<dyn CatalogStore>) {
    let h = Harness::new(store.clone());
    let id = active(&h, 1, "retained").await[0];
    for _ in 0..7 {
        h.clock.advance(Duration::from_secs(3600));
        h.catalog.check_health(&h.admin, id).await.unwrap();
    }
    let m = HealthMonitor::builder(h.catalog.clone())
        .with_config(MonitorConfig {
            retention: Some(Duration::from_secs(3 * 3600 + 60)),
            prune_batch: 2,
            ..config(Duration::ZERO)
        })
        .build()
        .unwrap();
    let before = h
        .catalog
        .health(&h.admin, id, TimeRange::all(), 100)
        .await
        .unwrap()
        .history
        .len();
    assert_eq!(before, 8, "one connection test and seven checks");
    // Checks at +1h..+7h, now +7h, cutoff +4h-60s: the test (at 0) and the checks at +1h, +2h
    // and +3h are older; two batches of two.
    assert_eq!(
        m.prune_once().await.unwrap(),
        4,
        "the test and the three oldest checks"
    );
    let left = h
        .catalog
        .health(&h.admin, id, TimeRange::all(), 100)
        .await
        .unwrap()
        .history;
    assert_eq!(left.len(), 4);
    let cutoff = h.clock.now() - Duration::from_secs(3 * 3600 + 60);
    assert!(left.iter().all(|r| r.checked_at >= cutoff));
    assert_eq!(m.prune_once().await.unwrap(), 0);
}

/// Several monitors over one store share the work: each integration is checked exactly once
/// per interval, and when one monitor stops the others cover all of them within an interval.
pub async fn monitors_share_the_work_and_cover_for_a_stopped_one(store: Arc<dyn CatalogStore>) {
    shared_work(store, 60).await;
}

/// The scale-out check at test size: three monitors over 1,000 integrations (the
/// `scaleout` benchmark runs 100,000 on PostgreSQL).
pub async fn three_monitors_over_a_thousand_integrations(store: Arc<dyn CatalogStore>) {
    shared_work(store, 1000).await;
}

async fn shared_work(store: Arc<dyn CatalogStore>, n: usize) {
    let h = Harness::new(store);
    let ids = active(&h, n, "fleet").await;
    let monitors: Vec<HealthMonitor> = (0..3)
        .map(|k| monitor(&h, Duration::ZERO, 100 + k))
        .collect();
    let all: Vec<&HealthMonitor> = monitors.iter().collect();
    let start = h.clock.now();
    drive(&h, &all, INTERVAL * 3).await;
    // Window k covers [start + k*I, start + (k+1)*I); after the first (spreading) window every
    // integration is checked exactly once in each.
    for id in &ids {
        let times = check_times(&h, *id).await;
        let mut per_window = [0usize; 3];
        for t in &times {
            let k = ((*t - start).whole_seconds() / INTERVAL.as_secs() as i64) as usize;
            if k < 3 {
                per_window[k] += 1;
            }
        }
        assert_eq!(
            per_window[1..],
            [1, 1],
            "{id}: checks per interval {per_window:?} ({times:?})"
        );
    }
    // Stop the first monitor; the two others cover every integration within one interval.
    let survivors = [&monitors[1], &monitors[2]];
    let stopped_at = h.clock.now();
    drive(&h, &survivors, INTERVAL + STEP * 2).await;
    for id in &ids {
        let times = check_times(&h, *id).await;
        assert!(
            times.iter().any(|t| *t >= stopped_at),
            "{id} was not covered after a monitor stopped"
        );
    }
}

/// Shutdown returns promptly: in-flight checks finish within the grace period or are
/// abandoned, and nothing is left half-written.
pub async fn shutdown_is_graceful(store: Arc<dyn CatalogStore>) {
    const CHECK: Duration = Duration::from_secs(3);
    const GRACE: Duration = Duration::from_millis(100);
    let h = Harness::new(store);
    let id = active(&h, 1, "slow").await[0];
    let m = HealthMonitor::builder(h.catalog.clone())
        .with_config(MonitorConfig {
            jitter: Duration::ZERO,
            poll_interval: Duration::from_millis(5),
            shutdown_grace: GRACE,
            ..config(Duration::ZERO)
        })
        .with_seed(6)
        .build()
        .unwrap();
    m.run_once().await.unwrap();
    h.clock.advance(INTERVAL + STEP);
    h.connector
        .script(id, [Outcome::pass().with_latency(CHECK)]);
    let calls_before = h.connector.calls().len();
    let started = std::time::Instant::now();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let runner = {
        let m = m.clone();
        tokio::spawn(async move {
            m.run(async {
                let _ = stopped.await;
            })
            .await;
        })
    };
    // Wait until the slow check is in flight, then ask for shutdown.
    for _ in 0..500 {
        if h.connector.pending(id) == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(h.connector.pending(id), 0, "the slow check started");
    let asked = std::time::Instant::now();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), runner)
        .await
        .expect("run returned after shutdown")
        .expect("run did not panic");
    // The runner waited about the grace, not for the check (3 s): a generous bound between.
    let waited = asked.elapsed();
    assert!(
        waited < CHECK - Duration::from_millis(500),
        "shutdown took {waited:?}: the grace ({GRACE:?}) was not applied"
    );
    // Past the time the check would have finished, nothing of it was recorded: it was
    // abandoned, not left running in the background.
    tokio::time::sleep((CHECK + Duration::from_millis(500)).saturating_sub(started.elapsed()))
        .await;
    assert!(
        check_times(&h, id).await.is_empty(),
        "the abandoned check recorded a result"
    );
    assert_eq!(
        h.connector.calls().len(),
        calls_before,
        "the abandoned call never completed"
    );
    // The integration is intact and still active.
    let i = h.catalog.get(&h.admin, id).await.unwrap();
    assert_eq!(i.status, IntegrationStatus::Active);
    assert!(
        h.catalog
            .verify_audit_chain(&h.admin, &Default::default())
            .await
            .unwrap()
            .is_ok()
    );
}

/// Generates one multi-threaded `#[tokio::test]` per monitor check over a fresh store from
/// `$factory` (a [`StoreFactory`](crate::store_suite::StoreFactory)).
#[macro_export]
macro_rules! monitor_conformance_tests {
    ($factory:expr) => {
        mod monitor_conformance {
            #[allow(unused_imports)]
            use super::*;
            $crate::monitor_conformance_tests!(@tests $factory;
                schedule_and_jitter_stay_in_bounds,
                per_integration_intervals_are_clamped_to_the_minimum,
                draft_and_paused_are_never_checked_and_resumed_come_first,
                thresholds_walk_through_the_monitor,
                a_hanging_connector_cannot_stall_the_loop,
                offline_mode_records_skips_without_calls,
                retention_prunes_old_history_in_batches,
                monitors_share_the_work_and_cover_for_a_stopped_one,
                shutdown_is_graceful,
            );
        }
    };
    (@tests $factory:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                $crate::store_suite::run($factory, |store| {
                    Box::pin($crate::monitor_suite::$check(store))
                })
                .await;
            }
        )*
    };
}
