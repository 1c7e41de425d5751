//! [`HealthMonitor`]: scheduled health checks of every monitored integration.
//!
//! Each pass leases the integrations that are due ([`CatalogStore::claim_due_checks`]), checks
//! them through the [`Catalog`] (history row, lifecycle thresholds, healthy/unhealthy events on
//! a change, metrics), and schedules the next check at `interval ± jitter`. Leases make several
//! monitors over one store (replicas on PostgreSQL) share the work: each integration is checked
//! by one of them at a time, and when a replica dies its leases expire and the others pick its
//! integrations up.
//!
//! - Draft, Paused and Deleted integrations are never checked.
//! - An integration that was never scheduled is not checked at once: it is given a random
//!   start offset within one interval, so replicas and integrations do not probe in lockstep.
//!   Resumed integrations are due first.
//! - The interval can be overridden per integration with the configuration key
//!   `health_check_interval_secs`, never below [`MonitorConfig::min_interval`] (60 s by
//!   default).
//! - An error while checking is a failed check with its code, recorded like any other; it
//!   never leaves an integration healthy.
//! - Offline mode records `skipped: offline` and makes no network call.
//! - Retention: history older than [`MonitorConfig::retention`] is pruned in batches.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt as _;
use time::OffsetDateTime;

use crate::catalog::{Catalog, Principal};
use crate::error::{Error, Result};
use crate::health::CheckKind;
use crate::id::ActorId;
use crate::integration::Integration;
use crate::store::{CatalogStore, CheckClaim, DueCheck};
use crate::validate::{Problem, ValidationError};

/// Monitor settings, with documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorConfig {
    /// Time between two checks of one integration (default 5 minutes).
    pub interval: Duration,
    /// The shortest interval an integration's `health_check_interval_secs` can ask for
    /// (default 60 s): that key is tenant configuration, and a tenant must not be able to turn
    /// the monitor into a load generator against a tool or PathOps itself. Shorter values are
    /// raised to this. The operator's own [`interval`](Self::interval) is not clamped.
    pub min_interval: Duration,
    /// Each next check is moved by a random amount in `[-jitter, +jitter]` (default 30 s).
    pub jitter: Duration,
    /// Checks run at once (default 64).
    pub concurrency: usize,
    /// Integrations leased per pass (default 512).
    pub batch_size: u32,
    /// Pause between passes that found nothing due (default 1 s).
    pub poll_interval: Duration,
    /// How long a lease lasts; must exceed the catalog's check deadline (default 2 minutes).
    pub lease: Duration,
    /// On shutdown, how long in-flight checks may finish before they are abandoned
    /// (default 10 s). An abandoned check records nothing; its lease expires.
    pub shutdown_grace: Duration,
    /// Record `skipped: offline` instead of checking (default off).
    pub offline: bool,
    /// Delete history older than this (default: keep everything).
    pub retention: Option<Duration>,
    /// Rows deleted per pruning batch (default 1,000).
    pub prune_batch: u32,
    /// Time between two pruning runs (default 10 minutes).
    pub prune_every: Duration,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(300),
            min_interval: Duration::from_secs(60),
            jitter: Duration::from_secs(30),
            concurrency: 64,
            batch_size: 512,
            poll_interval: Duration::from_secs(1),
            lease: Duration::from_secs(120),
            shutdown_grace: Duration::from_secs(10),
            offline: false,
            retention: None,
            prune_batch: 1000,
            prune_every: Duration::from_secs(600),
        }
    }
}

impl MonitorConfig {
    /// Checks the settings against each other.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let bad = |field| Err(ValidationError::new(field, Problem::OutOfRange));
        if self.interval.is_zero() {
            return bad("interval");
        }
        if self.jitter >= self.interval {
            return bad("jitter");
        }
        if self.concurrency == 0 {
            return bad("concurrency");
        }
        if self.batch_size == 0 {
            return bad("batch_size");
        }
        if self.lease.is_zero() {
            return bad("lease");
        }
        if self.prune_batch == 0 {
            return bad("prune_batch");
        }
        Ok(())
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassStats {
    /// Integrations leased.
    pub claimed: usize,
    /// Checked and recorded.
    pub checked: usize,
    /// Of those, failed checks.
    pub failed: usize,
    /// Given their first schedule (random start offset), not checked.
    pub spread: usize,
    /// Recorded as skipped (offline) or found paused/deleted meanwhile.
    pub skipped: usize,
    /// Store errors (logged; the lease expires and another pass retries).
    pub errors: usize,
}

impl PassStats {
    fn add(&mut self, outcome: Handled) {
        match outcome {
            Handled::Checked { failed } => {
                self.checked += 1;
                self.failed += usize::from(failed);
            }
            Handled::Spread => self.spread += 1,
            Handled::Skipped => self.skipped += 1,
            Handled::Error => self.errors += 1,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Handled {
    Checked { failed: bool },
    Spread,
    Skipped,
    Error,
}

/// A small deterministic PRNG (SplitMix64) for start offsets and jitter; seeded explicitly in
/// tests, randomly otherwise. Not for anything secret.
#[derive(Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, bound)` (bound > 0), in nanoseconds of a duration.
    fn below(&mut self, bound: Duration) -> Duration {
        let nanos = u64::try_from(bound.as_nanos()).unwrap_or(u64::MAX).max(1);
        Duration::from_nanos(self.next() % nanos)
    }
}

/// Builds a [`HealthMonitor`]; setters never fail.
#[derive(Debug)]
pub struct HealthMonitorBuilder {
    catalog: Catalog,
    config: MonitorConfig,
    owner: Option<String>,
    seed: Option<u64>,
}

/// Runs scheduled health checks (see the module docs). Cheap to clone.
#[derive(Debug, Clone)]
pub struct HealthMonitor {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    catalog: Catalog,
    config: MonitorConfig,
    owner: String,
    actor: ActorId,
    rng: Mutex<SplitMix64>,
}

impl HealthMonitor {
    /// The actor recorded in audit entries of scheduled checks.
    pub const ACTOR: &'static str = "system:health-monitor";

    /// A monitor over `catalog` (and its store and clock).
    pub fn builder(catalog: Catalog) -> HealthMonitorBuilder {
        HealthMonitorBuilder {
            catalog,
            config: MonitorConfig::default(),
            owner: None,
            seed: None,
        }
    }

    /// This monitor's lease owner id.
    pub fn owner(&self) -> &str {
        &self.inner.owner
    }

    fn store(&self) -> &Arc<dyn CatalogStore> {
        self.inner.catalog.store()
    }

    fn now(&self) -> OffsetDateTime {
        self.inner.catalog.clock().now()
    }

    /// One pass: lease what is due, check it, schedule the next checks.
    pub async fn run_once(&self) -> Result<PassStats> {
        let config = &self.inner.config;
        let claim = CheckClaim {
            owner: self.inner.owner.clone(),
            now: self.now(),
            lease: config.lease,
            limit: config.batch_size,
        };
        let due = self.store().claim_due_checks(&claim).await?;
        let mut stats = PassStats {
            claimed: due.len(),
            ..PassStats::default()
        };
        let outcomes: Vec<Handled> = futures::stream::iter(due)
            .map(|d| self.handle(d))
            .buffer_unordered(config.concurrency)
            .collect()
            .await;
        for outcome in outcomes {
            stats.add(outcome);
        }
        Ok(stats)
    }

    async fn handle(&self, due: DueCheck) -> Handled {
        let principal = Principal::admin(due.tenant_id.clone(), self.inner.actor.clone());
        let catalog = &self.inner.catalog;
        let integration = match catalog.get(&principal, due.integration_id).await {
            Ok(i) => i,
            Err(Error::NotFound { .. }) => return Handled::Skipped,
            Err(e) => {
                tracing::warn!(integration_id = %due.integration_id, error = %e, "health monitor could not load an integration");
                return Handled::Error;
            }
        };
        let interval = self.interval_for(&integration);
        if due.next_due.is_none() {
            let offset = self.random_below(interval);
            return match self.schedule(&due, self.now() + offset).await {
                Ok(()) => Handled::Spread,
                Err(()) => Handled::Error,
            };
        }
        let outcome = if self.inner.config.offline {
            match catalog
                .record_own_skip(
                    &principal,
                    due.integration_id,
                    CheckKind::HealthCheck,
                    "offline",
                )
                .await
            {
                Ok(_) => Handled::Skipped,
                Err(e) => self.check_error(&due, e),
            }
        } else {
            match catalog.check_loaded(&principal, integration).await {
                Ok(report) => Handled::Checked {
                    failed: !report.result.is_success(),
                },
                Err(e) => self.check_error(&due, e),
            }
        };
        let next = self.now() + interval + self.jitter();
        match self.schedule(&due, next).await {
            Ok(()) => outcome,
            Err(()) => Handled::Error,
        }
    }

    fn check_error(&self, due: &DueCheck, e: Error) -> Handled {
        match e {
            // Paused or deleted between the claim and the check: nothing to record.
            Error::InvalidTransition(_) | Error::NotFound { .. } => Handled::Skipped,
            e => {
                tracing::warn!(integration_id = %due.integration_id, error = %e, "health check could not be recorded");
                Handled::Error
            }
        }
    }

    async fn schedule(&self, due: &DueCheck, next: OffsetDateTime) -> std::result::Result<(), ()> {
        match self
            .store()
            .schedule_check(&due.tenant_id, due.integration_id, next)
            .await
        {
            Ok(()) | Err(Error::NotFound { .. }) => Ok(()),
            Err(e) => {
                tracing::warn!(integration_id = %due.integration_id, error = %e, "could not schedule the next check");
                Err(())
            }
        }
    }

    fn interval_for(&self, integration: &Integration) -> Duration {
        integration
            .configuration
            .get("health_check_interval_secs")
            .and_then(serde_json::Value::as_u64)
            .filter(|s| *s > 0)
            .map_or(self.inner.config.interval, |secs| {
                Duration::from_secs(secs).max(self.inner.config.min_interval)
            })
    }

    fn random_below(&self, bound: Duration) -> Duration {
        self.inner
            .rng
            .lock()
            .expect("monitor rng lock")
            .below(bound)
    }

    /// A signed offset in `[-jitter, +jitter]`, as a `time::Duration`.
    fn jitter(&self) -> time::Duration {
        let jitter = self.inner.config.jitter;
        if jitter.is_zero() {
            return time::Duration::ZERO;
        }
        let span = self.random_below(jitter * 2 + Duration::from_nanos(1));
        time::Duration::try_from(span).unwrap_or(time::Duration::ZERO)
            - time::Duration::try_from(jitter).unwrap_or(time::Duration::ZERO)
    }

    /// Deletes history older than the retention, in batches, until none is left. Returns the
    /// number of rows deleted.
    pub async fn prune_once(&self) -> Result<u64> {
        let Some(retention) = self.inner.config.retention else {
            return Ok(0);
        };
        let before = self.now() - retention;
        let batch = self.inner.config.prune_batch;
        let mut total = 0;
        loop {
            let deleted = self.store().prune_health(before, batch).await?;
            total += deleted;
            if deleted < u64::from(batch) {
                return Ok(total);
            }
            tokio::task::yield_now().await;
        }
    }

    /// Runs passes until `shutdown` completes; then lets in-flight checks finish within the
    /// grace period and abandons the rest (their leases expire). A random start delay (up to
    /// the jitter) keeps replicas out of lockstep.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let start = self.random_below(self.inner.config.jitter + Duration::from_nanos(1));
        tokio::select! {
            biased;
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(start) => {}
        }
        let mut last_prune: Option<tokio::time::Instant> = None;
        loop {
            let pass = self.run_once();
            tokio::pin!(pass);
            let busy = tokio::select! {
                biased;
                result = &mut pass => match result {
                    Ok(stats) => stats.claimed >= self.inner.config.batch_size as usize,
                    Err(e) => {
                        tracing::warn!(error = %e, "health monitor pass failed");
                        false
                    }
                },
                _ = &mut shutdown => {
                    let _ = tokio::time::timeout(self.inner.config.shutdown_grace, pass).await;
                    return;
                }
            };
            if self.inner.config.retention.is_some()
                && last_prune.is_none_or(|t| t.elapsed() >= self.inner.config.prune_every)
            {
                last_prune = Some(tokio::time::Instant::now());
                if let Err(e) = self.prune_once().await {
                    tracing::warn!(error = %e, "pruning health history failed");
                }
            }
            let pause = if busy {
                Duration::ZERO
            } else {
                self.inner.config.poll_interval
            };
            tokio::select! {
                biased;
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }
}

impl HealthMonitorBuilder {
    /// Uses `config`.
    pub fn with_config(mut self, config: MonitorConfig) -> Self {
        self.config = config;
        self
    }

    /// The lease owner id (default: a random one per monitor).
    pub fn with_owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = Some(owner.into());
        self
    }

    /// Seeds start offsets and jitter, for reproducible tests.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Validates the configuration and builds the monitor.
    pub fn build(self) -> Result<HealthMonitor> {
        self.config.validate()?;
        let seed = self
            .seed
            .unwrap_or_else(|| uuid::Uuid::new_v4().as_u64_pair().0);
        Ok(HealthMonitor {
            inner: Arc::new(Inner {
                catalog: self.catalog,
                config: self.config,
                owner: self
                    .owner
                    .unwrap_or_else(|| format!("monitor-{}", uuid::Uuid::now_v7().simple())),
                actor: ActorId::new(HealthMonitor::ACTOR).expect("valid actor id"),
                rng: Mutex::new(SplitMix64(seed)),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_values_stay_in_bounds() {
        let mut rng = SplitMix64(42);
        let bound = Duration::from_secs(300);
        for _ in 0..10_000 {
            assert!(rng.below(bound) < bound);
        }
        let mut a = SplitMix64(7);
        let mut b = SplitMix64(7);
        assert_eq!(
            (a.next(), a.next()),
            (b.next(), b.next()),
            "seeded runs repeat"
        );
    }

    #[test]
    fn config_validation() {
        assert!(MonitorConfig::default().validate().is_ok());
        let bad = MonitorConfig {
            jitter: Duration::from_secs(300),
            ..MonitorConfig::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "jitter");
        let zero = MonitorConfig {
            concurrency: 0,
            ..MonitorConfig::default()
        };
        assert_eq!(zero.validate().unwrap_err().field, "concurrency");
    }
}
