//! Lifecycle events and the outbox that relays them.
//!
//! Events are written to the outbox in the same transaction as the change they describe, then
//! relayed at least once to event sinks. Consumers deduplicate by [`EventEnvelope::id`].

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::id::{IntegrationId, TenantId};

/// What happened to an integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum EventType {
    /// `integration.created`
    #[serde(rename = "integration.created")]
    Created,
    /// `integration.updated`
    #[serde(rename = "integration.updated")]
    Updated,
    /// `integration.deleted`
    #[serde(rename = "integration.deleted")]
    Deleted,
    /// `integration.paused`
    #[serde(rename = "integration.paused")]
    Paused,
    /// `integration.resumed`
    #[serde(rename = "integration.resumed")]
    Resumed,
    /// `integration.healthy`: health changed to healthy.
    #[serde(rename = "integration.healthy")]
    Healthy,
    /// `integration.unhealthy`: health changed to unhealthy.
    #[serde(rename = "integration.unhealthy")]
    Unhealthy,
    /// `integration.flapping`: health changed more often than the flap policy allows in its
    /// window; healthy/unhealthy events are held back until it settles.
    #[serde(rename = "integration.flapping")]
    Flapping,
    /// `audit.anchored`: the head of a tenant's audit chain (an
    /// [`AuditAnchor`](crate::audit::AuditAnchor)) for keeping outside the database.
    #[serde(rename = "audit.anchored")]
    AuditAnchored,
}

impl EventType {
    /// Every event type.
    pub const ALL: [EventType; 9] = [
        Self::Created,
        Self::Updated,
        Self::Deleted,
        Self::Paused,
        Self::Resumed,
        Self::Healthy,
        Self::Unhealthy,
        Self::Flapping,
        Self::AuditAnchored,
    ];

    /// The stable string form (`integration.created`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Created => "integration.created",
            Self::Updated => "integration.updated",
            Self::Deleted => "integration.deleted",
            Self::Paused => "integration.paused",
            Self::Resumed => "integration.resumed",
            Self::Healthy => "integration.healthy",
            Self::Unhealthy => "integration.unhealthy",
            Self::Flapping => "integration.flapping",
            Self::AuditAnchored => "audit.anchored",
        }
    }

    /// Parses the stable string form.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventEnvelope {
    /// Event id (UUID v7); consumers deduplicate by it.
    pub id: Uuid,
    /// What happened.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// The integration.
    pub integration_id: IntegrationId,
    /// The integration's version after the change.
    pub version: u64,
    /// When (RFC 3339, UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    /// Event data (never a secret).
    pub data: serde_json::Value,
}

impl EventEnvelope {
    /// A new event with a fresh id.
    pub fn new(
        event_type: EventType,
        tenant_id: TenantId,
        integration_id: IntegrationId,
        version: u64,
        occurred_at: OffsetDateTime,
        data: serde_json::Value,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            event_type,
            tenant_id,
            integration_id,
            version,
            occurred_at: crate::clock::truncate_to_micros(occurred_at),
            data,
        }
    }

    /// The event as a CloudEvents 1.0 JSON document. `source` is a URI reference naming the
    /// emitting service (`/pathops/catalog`).
    pub fn to_cloudevent(&self, source: &str) -> serde_json::Value {
        let time = self
            .occurred_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        serde_json::json!({
            "specversion": "1.0",
            "id": self.id.to_string(),
            "source": source,
            "type": self.event_type.as_str(),
            "subject": self.integration_id.to_string(),
            "time": time,
            "datacontenttype": "application/json",
            "tenantid": self.tenant_id.as_str(),
            "integrationversion": self.version,
            "data": self.data,
        })
    }
}

/// An event in the outbox, with its delivery state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// The event.
    pub envelope: EventEnvelope,
    /// Delivery attempts so far, this claim included.
    pub attempts: u32,
    /// When it may be attempted (again).
    #[serde(with = "time::serde::rfc3339")]
    pub next_attempt_at: OffsetDateTime,
    /// Who holds the lease.
    pub lease_owner: Option<String>,
    /// Until when.
    #[serde(with = "time::serde::rfc3339::option")]
    pub lease_until: Option<OffsetDateTime>,
    /// The last delivery error.
    pub last_error: Option<String>,
}

/// A request to lease a batch of due events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxClaim {
    /// Who claims (a relay instance id).
    pub owner: String,
    /// The most events to lease.
    pub limit: u32,
    /// The current time.
    pub now: OffsetDateTime,
    /// How long the lease lasts; after it, another relay may claim the events again.
    pub lease: Duration,
}

/// What became of a leased event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxRelease {
    /// Delivered to every sink.
    Delivered {
        /// When.
        at: OffsetDateTime,
    },
    /// Delivery failed; try again at `retry_at`.
    Retry {
        /// When to try again.
        retry_at: OffsetDateTime,
        /// What failed (never a secret).
        error: String,
    },
    /// Delivery failed too often; stop trying.
    Dead {
        /// When it was given up.
        at: OffsetDateTime,
        /// The last error.
        error: String,
    },
    /// Not attempted: an earlier event of the same integration failed in this pass, and
    /// publishing this one first would reorder the integration's events. The lease is freed and
    /// the claim's attempt is not counted; the event waits behind the earlier one (claims
    /// never lease an event while an earlier one of its integration is pending and not due).
    HeldBack,
}

/// Retry policy for the outbox relay: decorrelated-jitter backoff with a cap, and a maximum
/// number of attempts after which an event is dead.
///
/// The first retry waits `initial_backoff`; each later one waits a random delay between
/// `initial_backoff` and twice the previous delay, capped at `max_backoff` (the decorrelated
/// jitter of object_store's and AWS's backoff, with base 2). Events that fail together so
/// retry apart instead of hitting a recovering sink together. The random numbers come from a
/// [`BackoffRng`] keyed by event id and attempt, so the chain of delays is recomputed from the
/// attempt count alone (the outbox stores no previous delay) and tests inject a fixed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxRetryPolicy {
    /// Delay after the first failure, and the least delay after any.
    pub initial_backoff: Duration,
    /// Largest delay.
    pub max_backoff: Duration,
    /// Attempts before an event is dead.
    pub max_attempts: u32,
}

impl Default for OutboxRetryPolicy {
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            max_attempts: 10,
        }
    }
}

/// Random numbers for backoff jitter.
pub trait BackoffRng: Send + Sync + fmt::Debug {
    /// A number in `[0, 1]` for attempt `attempt` of event `event_id`. The same arguments must
    /// give the same number: the policy recomputes earlier delays from them.
    fn unit(&self, event_id: Uuid, attempt: u32) -> f64;
}

/// The default [`BackoffRng`]: a SplitMix64 hash of a seed, the event id and the attempt.
/// Two relays with the same seed jitter alike; [`SeededBackoffRng::from_entropy`] picks a
/// random seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeededBackoffRng {
    seed: u64,
}

impl SeededBackoffRng {
    /// Numbers derived from `seed`.
    pub fn new(seed: u64) -> Self {
        Self { seed }
    }

    /// A random seed (from the operating system's randomness, through a v4 UUID).
    pub fn from_entropy() -> Self {
        Self::new(Uuid::new_v4().as_u64_pair().0)
    }
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl BackoffRng for SeededBackoffRng {
    fn unit(&self, event_id: Uuid, attempt: u32) -> f64 {
        let (hi, lo) = event_id.as_u64_pair();
        let x = splitmix64(splitmix64(splitmix64(self.seed ^ hi) ^ lo) ^ u64::from(attempt));
        // 53 random bits as a float in [0, 1).
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl OutboxRetryPolicy {
    /// The delay after failed attempt `attempts` (1-based) of `event_id`.
    pub fn backoff(&self, event_id: Uuid, attempts: u32, rng: &dyn BackoffRng) -> Duration {
        let floor = self.initial_backoff.min(self.max_backoff);
        let mut delay = floor;
        for attempt in 2..=attempts {
            let upper = delay.saturating_mul(2).min(self.max_backoff).max(floor);
            let unit = rng.unit(event_id, attempt).clamp(0.0, 1.0);
            delay = floor + (upper - floor).mul_f64(unit);
            if delay >= self.max_backoff {
                break;
            }
        }
        delay
    }

    /// The release for event `event_id` whose attempt number `attempts` failed at `now`.
    pub fn after_failure(
        &self,
        event_id: Uuid,
        attempts: u32,
        now: OffsetDateTime,
        error: String,
        rng: &dyn BackoffRng,
    ) -> OutboxRelease {
        if attempts >= self.max_attempts {
            return OutboxRelease::Dead { at: now, error };
        }
        OutboxRelease::Retry {
            retry_at: now + self.backoff(event_id, attempts, rng),
            error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn envelope_serializes_as_cloudevent() {
        let e = EventEnvelope::new(
            EventType::Paused,
            "acme".parse().unwrap(),
            IntegrationId::new(),
            4,
            datetime!(2026-11-21 10:00:00.5 UTC),
            serde_json::json!({"reason": "maintenance"}),
        );
        let ce = e.to_cloudevent("/pathops/catalog");
        assert_eq!(ce["specversion"], "1.0");
        assert_eq!(ce["type"], "integration.paused");
        assert_eq!(ce["time"], "2026-11-21T10:00:00.5Z");
        assert_eq!(ce["id"], e.id.to_string());
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["type"], "integration.paused");
        assert_eq!(serde_json::from_value::<EventEnvelope>(json).unwrap(), e);
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
    }

    #[test]
    fn retry_policy_backs_off_then_gives_up() {
        let p = OutboxRetryPolicy {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(10),
            max_attempts: 6,
        };
        let now = datetime!(2026-01-01 00:00 UTC);
        let id = Uuid::now_v7();
        let delays: Vec<i64> = (1..6)
            .map(
                |a| match p.after_failure(id, a, now, "x".into(), &UpperEnd) {
                    OutboxRelease::Retry { retry_at, .. } => (retry_at - now).whole_seconds(),
                    other => panic!("{other:?}"),
                },
            )
            .collect();
        assert_eq!(delays, vec![1, 2, 4, 8, 10]);
        assert!(matches!(
            p.after_failure(id, 6, now, "x".into(), &UpperEnd),
            OutboxRelease::Dead { .. }
        ));
    }

    /// Always the top of the jitter range: the delays of plain exponential backoff.
    #[derive(Debug)]
    struct UpperEnd;

    impl BackoffRng for UpperEnd {
        fn unit(&self, _: Uuid, _: u32) -> f64 {
            1.0
        }
    }

    #[test]
    fn jitter_spreads_events_that_failed_together_within_the_decorrelated_bounds() {
        let p = OutboxRetryPolicy {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            max_attempts: 10,
        };
        let rng = SeededBackoffRng::new(7);
        let ids: Vec<Uuid> = (0..50).map(|_| Uuid::new_v4()).collect();
        for attempts in 2..8 {
            let delays: std::collections::HashSet<Duration> = ids
                .iter()
                .map(|id| p.backoff(*id, attempts, &rng))
                .collect();
            assert!(
                delays.len() > 40,
                "attempt {attempts}: {} distinct",
                delays.len()
            );
        }
        for id in &ids {
            assert_eq!(p.backoff(*id, 1, &rng), p.initial_backoff);
            for attempts in 2..10 {
                let previous = p.backoff(*id, attempts - 1, &rng);
                let delay = p.backoff(*id, attempts, &rng);
                assert!(delay >= p.initial_backoff, "{delay:?}");
                assert!(
                    delay <= (previous * 2).min(p.max_backoff),
                    "{previous:?} -> {delay:?}"
                );
            }
            assert_eq!(
                p.backoff(*id, 5, &rng),
                p.backoff(*id, 5, &SeededBackoffRng::new(7))
            );
        }
    }
}
