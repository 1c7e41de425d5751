//! [`ReplayGuard`]: refuses a delivery id seen within a window.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use time::OffsetDateTime;

use super::{DeliveryKind, VerifyError};

/// Remembers accepted delivery ids for `window` and refuses them again inside it. Memory is
/// bounded: entries older than the window are pruned, and past `capacity` the oldest go first.
#[derive(Debug)]
pub struct ReplayGuard {
    window: Duration,
    capacity: usize,
    seen: Mutex<HashMap<(DeliveryKind, String), OffsetDateTime>>,
}

impl ReplayGuard {
    /// A guard remembering ids for `window`, at most `capacity` of them.
    pub fn new(window: Duration, capacity: usize) -> Self {
        Self {
            window,
            capacity: capacity.max(1),
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Records `id` at `now`, or refuses it with [`VerifyError::Replay`] if it was recorded
    /// inside the window.
    pub fn check_and_record(
        &self,
        kind: DeliveryKind,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<(), VerifyError> {
        let mut seen = self.seen.lock().expect("replay guard lock");
        let cutoff = now - self.window;
        seen.retain(|_, at| *at > cutoff);
        let key = (kind, id.to_owned());
        if seen.contains_key(&key) {
            return Err(VerifyError::Replay);
        }
        if seen.len() >= self.capacity
            && let Some(oldest) = seen
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(k, _)| k.clone())
        {
            seen.remove(&oldest);
        }
        seen.insert(key, now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn replays_inside_the_window_are_refused() {
        let g = ReplayGuard::new(Duration::from_secs(600), 100);
        let t0 = datetime!(2026-01-01 0:00 UTC);
        assert_eq!(g.check_and_record(DeliveryKind::GitLab, "d1", t0), Ok(()));
        assert_eq!(
            g.check_and_record(DeliveryKind::GitLab, "d1", t0 + Duration::from_secs(5)),
            Err(VerifyError::Replay)
        );
        assert_eq!(
            g.check_and_record(DeliveryKind::GitHub, "d1", t0),
            Ok(()),
            "ids are per provider"
        );
        assert_eq!(
            g.check_and_record(DeliveryKind::GitLab, "d1", t0 + Duration::from_secs(601)),
            Ok(())
        );
    }

    #[test]
    fn memory_is_bounded() {
        let g = ReplayGuard::new(Duration::from_secs(600), 2);
        let t0 = datetime!(2026-01-01 0:00 UTC);
        for (i, id) in ["a", "b", "c"].iter().enumerate() {
            g.check_and_record(DeliveryKind::GitLab, id, t0 + Duration::from_secs(i as u64))
                .unwrap();
        }
        assert_eq!(g.seen.lock().unwrap().len(), 2);
    }
}
