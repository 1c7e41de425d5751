//! Health evidence: one [`HealthCheckRecord`] per test or check, and [`HealthSummary`] over a
//! window.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::connector::{CheckResult, FailureCode};
use crate::id::{IntegrationId, TenantId};

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// It passed.
    Healthy,
    /// It failed; see the failure code.
    Unhealthy,
    /// It was not run (paused, offline mode, …).
    Skipped,
}

impl HealthStatus {
    /// The stable string form.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Unhealthy => "unhealthy",
            Self::Skipped => "skipped",
        }
    }

    /// Parses the stable string form.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Healthy, Self::Unhealthy, Self::Skipped]
            .into_iter()
            .find(|h| h.as_str() == s)
    }
}

/// Which kind of check produced a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// An explicit connection test.
    ConnectionTest,
    /// A scheduled health check.
    HealthCheck,
    /// A doctor run.
    Doctor,
}

impl CheckKind {
    /// The stable string form.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::ConnectionTest => "connection_test",
            Self::HealthCheck => "health_check",
            Self::Doctor => "doctor",
        }
    }

    /// Parses the stable string form.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::ConnectionTest, Self::HealthCheck, Self::Doctor]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// One row of `health_checks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthCheckRecord {
    /// Record id (UUID v7).
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// The integration checked.
    pub integration_id: IntegrationId,
    /// When (UTC, microseconds).
    #[serde(with = "time::serde::rfc3339")]
    pub checked_at: OffsetDateTime,
    /// What kind of check.
    pub kind: CheckKind,
    /// Outcome.
    pub status: HealthStatus,
    /// Why it failed.
    pub failure: Option<FailureCode>,
    /// How long it took, in milliseconds (`None` for skipped checks).
    pub latency_ms: Option<u64>,
    /// One line for humans.
    pub message: String,
    /// Evidence: a JSON object.
    pub details: serde_json::Map<String, serde_json::Value>,
}

impl HealthCheckRecord {
    /// A record of `result`.
    pub fn from_result(
        tenant_id: TenantId,
        integration_id: IntegrationId,
        kind: CheckKind,
        checked_at: OffsetDateTime,
        result: &CheckResult,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            tenant_id,
            integration_id,
            checked_at,
            kind,
            status: if result.is_success() {
                HealthStatus::Healthy
            } else {
                HealthStatus::Unhealthy
            },
            failure: result.failure.clone(),
            latency_ms: Some(u64::try_from(result.latency.as_millis()).unwrap_or(u64::MAX)),
            message: result.message.clone(),
            details: result.details.clone(),
        }
    }

    /// The latency as a [`Duration`].
    pub fn latency(&self) -> Option<Duration> {
        self.latency_ms.map(Duration::from_millis)
    }
}

/// A half-open time window `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeRange {
    /// Inclusive start.
    #[serde(with = "time::serde::rfc3339")]
    pub from: OffsetDateTime,
    /// Exclusive end.
    #[serde(with = "time::serde::rfc3339")]
    pub to: OffsetDateTime,
}

impl TimeRange {
    /// `[from, to)`.
    pub fn new(from: OffsetDateTime, to: OffsetDateTime) -> Self {
        Self { from, to }
    }

    /// Everything ever recorded.
    pub fn all() -> Self {
        Self {
            from: OffsetDateTime::UNIX_EPOCH,
            to: time::macros::datetime!(9999-12-31 23:59:59 UTC),
        }
    }

    /// Whether `t` falls inside.
    pub fn contains(&self, t: OffsetDateTime) -> bool {
        self.from <= t && t < self.to
    }
}

/// Health over a window. Skipped checks are not counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthSummary {
    /// Checks run.
    pub checks: u64,
    /// Checks that passed.
    pub successes: u64,
    /// `successes / checks × 100`, or `None` without checks.
    pub uptime_percent: Option<f64>,
    /// Median latency (nearest rank), ms.
    pub p50_latency_ms: Option<u64>,
    /// 95th percentile latency (nearest rank), ms.
    pub p95_latency_ms: Option<u64>,
    /// Latest passing check.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_success_at: Option<OffsetDateTime>,
    /// Latest failing check.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_failure_at: Option<OffsetDateTime>,
}

impl HealthSummary {
    /// Computes the summary of `records`. Every store uses this function, so summaries are
    /// identical across backends.
    pub fn from_records<'a>(records: impl IntoIterator<Item = &'a HealthCheckRecord>) -> Self {
        let mut checks = 0;
        let mut successes = 0;
        let mut latencies = Vec::new();
        let mut last_success_at: Option<OffsetDateTime> = None;
        let mut last_failure_at: Option<OffsetDateTime> = None;
        for r in records {
            let last = match r.status {
                HealthStatus::Skipped => continue,
                HealthStatus::Healthy => {
                    successes += 1;
                    &mut last_success_at
                }
                HealthStatus::Unhealthy => &mut last_failure_at,
            };
            checks += 1;
            *last = Some(last.map_or(r.checked_at, |t| t.max(r.checked_at)));
            latencies.extend(r.latency_ms);
        }
        latencies.sort_unstable();
        Self {
            checks,
            successes,
            uptime_percent: (checks > 0).then(|| successes as f64 * 100.0 / checks as f64),
            p50_latency_ms: nearest_rank(&latencies, 50),
            p95_latency_ms: nearest_rank(&latencies, 95),
            last_success_at,
            last_failure_at,
        }
    }
}

/// Nearest-rank percentile of sorted values.
fn nearest_rank(sorted: &[u64], percentile: usize) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (percentile * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn rec(status: HealthStatus, latency: u64, minute: u8) -> HealthCheckRecord {
        HealthCheckRecord {
            id: Uuid::now_v7(),
            tenant_id: "t".parse().unwrap(),
            integration_id: IntegrationId::new(),
            checked_at: datetime!(2026-01-01 00:00 UTC)
                .replace_minute(minute)
                .unwrap(),
            kind: CheckKind::HealthCheck,
            status,
            failure: None,
            latency_ms: Some(latency),
            message: String::new(),
            details: Default::default(),
        }
    }

    #[test]
    fn summary_counts_percentiles_and_last_times() {
        let mut records: Vec<_> = (1..=20)
            .map(|i| rec(HealthStatus::Healthy, i * 10, i as u8))
            .collect();
        records.push(rec(HealthStatus::Unhealthy, 1000, 30));
        records.push(rec(HealthStatus::Skipped, 5000, 40));
        let s = HealthSummary::from_records(&records);
        assert_eq!((s.checks, s.successes), (21, 20));
        assert!((s.uptime_percent.unwrap() - 95.238).abs() < 0.01);
        assert_eq!(s.p50_latency_ms, Some(110));
        assert_eq!(s.p95_latency_ms, Some(200));
        assert_eq!(s.last_success_at, Some(datetime!(2026-01-01 00:20 UTC)));
        assert_eq!(s.last_failure_at, Some(datetime!(2026-01-01 00:30 UTC)));
        let empty = HealthSummary::from_records(&[]);
        assert_eq!(
            (empty.checks, empty.uptime_percent, empty.p95_latency_ms),
            (0, None, None)
        );
    }

    #[test]
    fn nearest_rank_edges() {
        assert_eq!(nearest_rank(&[7], 50), Some(7));
        assert_eq!(nearest_rank(&[1, 2], 50), Some(1));
        assert_eq!(nearest_rank(&[1, 2], 95), Some(2));
    }
}
