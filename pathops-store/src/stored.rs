//! How every backend shapes what it stores, so all of them return identical values.
//!
//! Times are kept at microsecond precision (UTC), an integration is stored with the version the
//! store assigns, and a soft-deleted integration is one whose status is
//! [`IntegrationStatus::Deleted`].

use pathops_core::clock::truncate_to_micros;
use pathops_core::{
    Error, EventEnvelope, HealthCheckRecord, Integration, IntegrationStatus, Problem, Result,
    ValidationError,
};
use time::OffsetDateTime;

/// The integration as stored at `version`, times truncated to microseconds.
pub(crate) fn integration(mut i: Integration, version: u64) -> Integration {
    i.version = version;
    i.created_at = truncate_to_micros(i.created_at);
    i.modified_at = truncate_to_micros(i.modified_at);
    i.last_tested_at = i.last_tested_at.map(truncate_to_micros);
    i
}

/// Keeps the stored health fields of `current` in `next` (an update that does not write them).
pub(crate) fn keep_health(next: &mut Integration, current: &Integration) {
    next.last_tested_at = current.last_tested_at;
    next.last_test_success = current.last_test_success;
    next.consecutive_failures = current.consecutive_failures;
    next.flapping = current.flapping;
}

/// Writes a check's health fields into `i`.
pub(crate) fn set_health(i: &mut Integration, h: &pathops_core::store::HealthFields) {
    i.last_tested_at = Some(truncate_to_micros(h.last_tested_at));
    i.last_test_success = Some(h.last_test_success);
    i.consecutive_failures = h.consecutive_failures;
    i.flapping = h.flapping;
}

/// The error of a prune whose checkpoint is not a stored entry.
pub(crate) fn prune_conflict(checkpoint: &pathops_core::audit::AuditCheckpoint) -> Error {
    Error::Conflict {
        kind: pathops_core::ResourceKind::Integration,
        id: format!(
            "audit entry {} of tenant {}",
            checkpoint.sequence, checkpoint.tenant_id
        ),
        expected: checkpoint.sequence,
        actual: None,
    }
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

/// When a lease taken by `claim` ends (microseconds, like every stored time).
pub(crate) fn lease_end(now: OffsetDateTime, lease: std::time::Duration) -> Result<OffsetDateTime> {
    let lease = time::Duration::try_from(lease)
        .map_err(|_| Error::Validation(ValidationError::new("lease", Problem::OutOfRange)))?;
    now.checked_add(lease)
        .map(truncate_to_micros)
        .ok_or_else(|| Error::Validation(ValidationError::new("lease", Problem::OutOfRange)))
}

/// The exclusive upper bound of the names starting with `prefix` in code-point (= UTF-8 byte)
/// order: `prefix` with its last character incremented, or `None` when no string is above
/// every name with that prefix. `name >= prefix AND name < upper` is an index range.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(all(test, any(feature = "sqlite", feature = "postgres")))]
mod tests {
    use super::*;

    #[test]
    fn prefix_bounds_cover_exactly_the_names_with_the_prefix() {
        assert_eq!(prefix_upper_bound("ab").as_deref(), Some("ac"));
        assert_eq!(
            prefix_upper_bound("a\u{D7FF}").as_deref(),
            Some("a\u{E000}")
        );
        assert_eq!(prefix_upper_bound("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_upper_bound("\u{10FFFF}"), None);
        assert_eq!(prefix_upper_bound(""), None);
        let upper = prefix_upper_bound("Zü").unwrap();
        for name in ["Zü", "Züri", "Zü\u{10FFFF}x"] {
            assert!(name >= "Zü" && name < upper.as_str(), "{name}");
        }
        for name in ["Zv", "Zz", "Z", "Zt"] {
            assert!(!(name >= "Zü" && name < upper.as_str()), "{name}");
        }
    }
}
