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
}

impl EventType {
    /// Every event type.
    pub const ALL: [EventType; 7] = [
        Self::Created,
        Self::Updated,
        Self::Deleted,
        Self::Paused,
        Self::Resumed,
        Self::Healthy,
        Self::Unhealthy,
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
}

/// Retry policy for the outbox relay: exponential backoff with a cap, and a maximum number of
/// attempts after which an event is dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxRetryPolicy {
    /// Delay after the first failure.
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

impl OutboxRetryPolicy {
    /// The release for an event whose attempt number `attempts` failed at `now`.
    pub fn after_failure(
        &self,
        attempts: u32,
        now: OffsetDateTime,
        error: String,
    ) -> OutboxRelease {
        if attempts >= self.max_attempts {
            return OutboxRelease::Dead { at: now, error };
        }
        let factor = 1u32
            .checked_shl(attempts.saturating_sub(1))
            .unwrap_or(u32::MAX);
        let delay = self
            .initial_backoff
            .checked_mul(factor)
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff);
        OutboxRelease::Retry {
            retry_at: now + delay,
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
        let delays: Vec<i64> = (1..6)
            .map(|a| match p.after_failure(a, now, "x".into()) {
                OutboxRelease::Retry { retry_at, .. } => (retry_at - now).whole_seconds(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(delays, vec![1, 2, 4, 8, 10]);
        assert!(matches!(
            p.after_failure(6, now, "x".into()),
            OutboxRelease::Dead { .. }
        ));
    }
}
