//! How every backend shapes what it stores, so all of them return identical values.
//!
//! Times are kept at microsecond precision (UTC), an integration is stored with the version the
//! store assigns, and a soft-deleted integration is one whose status is
//! [`IntegrationStatus::Deleted`].

use pathops_core::clock::truncate_to_micros;
use pathops_core::{EventEnvelope, HealthCheckRecord, Integration, IntegrationStatus};

/// The integration as stored at `version`, times truncated to microseconds.
pub(crate) fn integration(mut i: Integration, version: u64) -> Integration {
    i.version = version;
    i.created_at = truncate_to_micros(i.created_at);
    i.modified_at = truncate_to_micros(i.modified_at);
    i.last_tested_at = i.last_tested_at.map(truncate_to_micros);
    i
}

/// Whether storing `i` soft-deletes it.
pub(crate) fn is_deleted(i: &Integration) -> bool {
    i.status == IntegrationStatus::Deleted
}

/// The health-check row as stored.
pub(crate) fn health_check(mut h: HealthCheckRecord) -> HealthCheckRecord {
    h.checked_at = truncate_to_micros(h.checked_at);
    h
}

/// The event as stored.
pub(crate) fn event(mut e: EventEnvelope) -> EventEnvelope {
    e.occurred_at = truncate_to_micros(e.occurred_at);
    e
}
