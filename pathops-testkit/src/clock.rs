//! [`ManualClock`]: a [`Clock`] that only moves when told to.

use std::sync::Mutex;
use std::time::Duration;

use pathops_core::Clock;
use pathops_core::clock::truncate_to_micros;
use time::OffsetDateTime;

/// A clock for tests: starts at a given instant and advances only through [`advance`](Self::advance)
/// or [`set`](Self::set). Shareable across tasks (`Arc<ManualClock>`).
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<OffsetDateTime>,
}

impl ManualClock {
    /// 2026-01-01T00:00:00Z, the default start of test scenarios.
    pub const DEFAULT_START: OffsetDateTime = time::macros::datetime!(2026-01-01 00:00 UTC);

    /// A clock at `start` (truncated to microseconds, UTC).
    pub fn new(start: OffsetDateTime) -> Self {
        Self {
            now: Mutex::new(truncate_to_micros(start)),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().expect("clock lock");
        *now = truncate_to_micros(*now + by);
    }

    /// Sets the clock (it may go backwards: tests decide).
    pub fn set(&self, to: OffsetDateTime) {
        *self.now.lock().expect("clock lock") = truncate_to_micros(to);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new(Self::DEFAULT_START)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.now.lock().expect("clock lock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_only_when_told() {
        let c = ManualClock::default();
        assert_eq!(c.now(), ManualClock::DEFAULT_START);
        c.advance(Duration::from_millis(1500));
        assert_eq!(
            c.now() - ManualClock::DEFAULT_START,
            time::Duration::milliseconds(1500)
        );
        c.set(ManualClock::DEFAULT_START);
        assert_eq!(c.now(), ManualClock::DEFAULT_START);
    }
}
