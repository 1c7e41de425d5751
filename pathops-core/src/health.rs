//! Health evidence: one [`HealthCheckRecord`] per test or check, and [`HealthSummary`] over a
//! window.

use std::collections::BTreeMap;
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

/// One capability a check exercises, summarised as its own series so that "authentication
/// broke" and "webhook delivery broke" are told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Series {
    /// The tool answered at all (DNS, TCP, TLS, within the deadline).
    Reachability,
    /// The credential was accepted.
    Authentication,
    /// A webhook test delivery came back to PathOps (doctor runs).
    WebhookDelivery,
}

impl Series {
    /// Every series.
    pub const ALL: [Series; 3] = [
        Self::Reachability,
        Self::Authentication,
        Self::WebhookDelivery,
    ];
}

/// The detail key a check sets (`true`/`false`) when it exercised webhook delivery.
pub const WEBHOOK_DELIVERY_DETAIL: &str = "webhook_delivery";

impl HealthCheckRecord {
    /// What this check says about `series`: `Some(true)` it worked, `Some(false)` it broke,
    /// `None` the check did not get that far or did not exercise it.
    ///
    /// - reachability fails on `dns`, `connect`, `tls` and `timeout` (a timeout after connecting
    ///   counts as unreachable: the tool did not answer within the deadline); checks refused
    ///   before any contact (no connector, unresolved or denied reference, invalid
    ///   configuration, offline, egress denied, unsupported) and a plugin that failed or is quarantined say nothing;
    /// - authentication fails on `unauthenticated` and `permission_denied`, and holds for a
    ///   passing check or a failure that only happens past authentication (`not_found`,
    ///   `rate_limited`, delivery failures, `unhealthy`);
    /// - webhook delivery is what the check recorded under [`WEBHOOK_DELIVERY_DETAIL`], or a
    ///   failure for the delivery failure codes.
    pub fn series_outcome(&self, series: Series) -> Option<bool> {
        if self.status == HealthStatus::Skipped {
            return None;
        }
        let code = self.failure.as_ref().map(FailureCode::as_str);
        let healthy = self.status == HealthStatus::Healthy;
        // The plugin codes say nothing either: whether the plugin reached its tool is unknown.
        const BEFORE_CONTACT: [&str; 11] = [
            "plugin_timeout",
            "plugin_crashed",
            "plugin_protocol_error",
            "plugin_quarantined",
            "offline",
            "no_connector",
            "secret_unresolved",
            "auth_ref_denied",
            "invalid_config",
            "egress_denied",
            "unsupported",
        ];
        const DELIVERY: [&str; 3] = [
            "delivery_failed",
            "delivery_not_received",
            "delivery_rejected",
        ];
        match series {
            Series::Reachability => match code {
                _ if healthy => Some(true),
                Some("dns" | "connect" | "tls" | "timeout") => Some(false),
                Some(c) if BEFORE_CONTACT.contains(&c) => None,
                _ => Some(true),
            },
            Series::Authentication => match code {
                _ if healthy => Some(true),
                Some("unauthenticated" | "permission_denied") => Some(false),
                Some(c) if DELIVERY.contains(&c) => Some(true),
                Some("not_found" | "rate_limited" | "unhealthy") => Some(true),
                _ => None,
            },
            Series::WebhookDelivery => match self.details.get(WEBHOOK_DELIVERY_DETAIL) {
                Some(serde_json::Value::Bool(b)) => Some(*b),
                _ => code.filter(|c| DELIVERY.contains(c)).map(|_| false),
            },
        }
    }
}

/// One capability's record over a window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SeriesSummary {
    /// Checks that exercised it.
    pub checks: u64,
    /// Checks where it worked.
    pub successes: u64,
    /// `successes / checks × 100`, or `None` without checks.
    pub uptime_percent: Option<f64>,
    /// Latest check where it broke.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_failure_at: Option<OffsetDateTime>,
}

impl SeriesSummary {
    /// A summary from its counts.
    pub fn new(checks: u64, successes: u64, last_failure_at: Option<OffsetDateTime>) -> Self {
        Self {
            checks,
            successes,
            uptime_percent: percent(successes, checks),
            last_failure_at,
        }
    }
}

/// `part / whole × 100`, or `None` for an empty whole.
pub fn percent(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 * 100.0 / whole as f64)
}

/// Health over a window. Skipped checks are not counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
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
    /// 99th percentile latency (nearest rank), ms.
    pub p99_latency_ms: Option<u64>,
    /// Latest passing check.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_success_at: Option<OffsetDateTime>,
    /// Latest failing check.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_failure_at: Option<OffsetDateTime>,
    /// The failure code of the latest failing check (the smallest code when several share
    /// its time).
    pub last_failure_code: Option<String>,
    /// Failing checks by failure code.
    pub failure_codes: BTreeMap<String, u64>,
    /// Reachability, authentication and webhook delivery as separate series.
    pub series: BTreeMap<Series, SeriesSummary>,
}

impl HealthSummary {
    /// Computes the summary of `records` by brute force. The SQL backends compute the same
    /// summary in the database; this is the reference they are tested against, and what the
    /// in-memory store uses.
    pub fn from_records<'a>(records: impl IntoIterator<Item = &'a HealthCheckRecord>) -> Self {
        let mut checks = 0;
        let mut successes = 0;
        let mut latencies = Vec::new();
        let mut last_success_at: Option<OffsetDateTime> = None;
        let mut last_failure: Option<(OffsetDateTime, String)> = None;
        let mut failure_codes = BTreeMap::new();
        let mut series: BTreeMap<Series, (u64, u64, Option<OffsetDateTime>)> = BTreeMap::new();
        for r in records {
            match r.status {
                HealthStatus::Skipped => continue,
                HealthStatus::Healthy => {
                    successes += 1;
                    last_success_at = last_success_at.max(Some(r.checked_at));
                }
                HealthStatus::Unhealthy => {
                    let code = r
                        .failure
                        .as_ref()
                        .map_or("unknown", FailureCode::as_str)
                        .to_owned();
                    *failure_codes.entry(code.clone()).or_insert(0) += 1;
                    let newer = last_failure.as_ref().is_none_or(|(at, c)| {
                        r.checked_at > *at || (r.checked_at == *at && code < *c)
                    });
                    if newer {
                        last_failure = Some((r.checked_at, code));
                    }
                }
            }
            checks += 1;
            latencies.extend(r.latency_ms);
            for s in Series::ALL {
                if let Some(ok) = r.series_outcome(s) {
                    let e = series.entry(s).or_default();
                    e.0 += 1;
                    if ok {
                        e.1 += 1;
                    } else {
                        e.2 = e.2.max(Some(r.checked_at));
                    }
                }
            }
        }
        latencies.sort_unstable();
        let (last_failure_at, last_failure_code) = last_failure.unzip();
        Self {
            checks,
            successes,
            uptime_percent: percent(successes, checks),
            p50_latency_ms: nearest_rank(&latencies, 50),
            p95_latency_ms: nearest_rank(&latencies, 95),
            p99_latency_ms: nearest_rank(&latencies, 99),
            last_success_at,
            last_failure_at,
            last_failure_code,
            failure_codes,
            series: Series::ALL
                .into_iter()
                .map(|s| {
                    let (n, ok, last) = series.get(&s).copied().unwrap_or_default();
                    (s, SeriesSummary::new(n, ok, last))
                })
                .collect(),
        }
    }
}

/// When an integration counts as flapping: its health changed more than `max_changes` times
/// within `window`. A flapping integration emits one `integration.flapping` event instead of a
/// healthy/unhealthy storm; lifecycle thresholds keep counting underneath.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlapPolicy {
    /// The window the changes are counted in (default 1 hour).
    pub window: Duration,
    /// Changes allowed in the window before the integration is flapping (default 4).
    pub max_changes: u32,
}

impl Default for FlapPolicy {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(3600),
            max_changes: 4,
        }
    }
}

impl FlapPolicy {
    /// Never flapping.
    pub fn disabled() -> Self {
        Self {
            window: Duration::ZERO,
            max_changes: u32::MAX,
        }
    }

    /// Whether the policy can ever mark an integration flapping.
    pub fn is_enabled(&self) -> bool {
        !self.window.is_zero() && self.max_changes < u32::MAX
    }

    /// How many times health changed along `outcomes` (oldest first; skipped checks ignored).
    pub fn changes(outcomes: impl IntoIterator<Item = HealthStatus>) -> u32 {
        let mut last = None;
        let mut changes = 0;
        for s in outcomes {
            if s == HealthStatus::Skipped {
                continue;
            }
            if last.is_some_and(|l| l != s) {
                changes += 1;
            }
            last = Some(s);
        }
        changes
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
