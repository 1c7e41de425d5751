//! [`Clock`]: where PathOps reads the time, so tests can control it.

use std::fmt;

use time::OffsetDateTime;

/// A source of the current UTC time. Object-safe; hold it as `Arc<dyn Clock>`.
///
/// Implementations return times at microsecond precision (see [`truncate_to_micros`]), the
/// precision every store keeps, so a value read back equals the value written.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time, UTC, microsecond precision.
    fn now(&self) -> OffsetDateTime;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        truncate_to_micros(OffsetDateTime::now_utc())
    }
}

/// Drops sub-microsecond digits and converts to UTC.
pub fn truncate_to_micros(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .expect("a truncated nanosecond value is in range")
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn system_clock_is_utc_at_microsecond_precision() {
        let now = SystemClock.now();
        assert_eq!(now.offset(), time::UtcOffset::UTC);
        assert_eq!(now.nanosecond() % 1_000, 0);
        let t = truncate_to_micros(datetime!(2026-01-01 10:00:00.123456789 +02:00));
        assert_eq!(t, datetime!(2026-01-01 08:00:00.123456 UTC));
    }
}
