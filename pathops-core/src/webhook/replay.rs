//! [`ReplayGuard`]: refuses a delivery seen within a window, and [`ReplayKey`]: what "the same
//! delivery" means for each provider.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::{Delivery, DeliveryKind, Headers, VerifyError};

/// What identifies one delivery for replay protection: a SHA-256 digest of its kind and of
/// what its signature covers.
///
/// # What a key is built from
///
/// A replay key must come from what the signature covers (or, for a bearer token that covers
/// nothing, from the provider's stable retry id): an id header the signature does not cover
/// can be changed by whoever replays a captured delivery, so keying on it protects nothing.
///
/// | kind | key | why |
/// |---|---|---|
/// | GitHub, Gitea/Forgejo, Bitbucket | SHA-256 of the body | the HMAC covers the body only; `X-GitHub-Delivery`, Bitbucket's `X-Request-Id` / `X-Request-UUID` are unsigned |
/// | Standard Webhooks | `webhook-id` | signed (`id.timestamp.body`), and stable across retries |
/// | GitLab signed with Standard Webhooks | `webhook-id` | as above |
/// | GitLab with a token only | `Idempotency-Key`, else `X-Gitlab-Event-UUID`, else SHA-256 of the body | a token covers nothing: whoever holds it can forge any delivery, so the key only has to catch resends, which keep `Idempotency-Key` (a resend gets a new `X-Gitlab-Webhook-UUID`) |
/// | Azure DevOps | the payload's `notificationId`, else SHA-256 of the body | Basic credentials cover nothing; a retry of a notification keeps its id |
/// | direct ping | `challenge_id.nonce` | what the proof covers |
///
/// Every key also carries its delivery kind, so equal ids from two providers never collide.
/// Keys are fixed-size digests: memory per entry does not depend on what a sender put in a
/// header.
///
/// A consequence for body-keyed kinds: two deliveries with byte-identical bodies inside the
/// window are one delivery. Real event payloads differ (commits, timestamps, ids); two GitHub
/// pings of one hook can be identical, and so are two Bitbucket Data Center test pings
/// (`{"test": true}`): the second inside the window is refused as a duplicate.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReplayKey([u8; 32]);

impl ReplayKey {
    fn digest(kind: DeliveryKind, source: &str, parts: &[&[u8]]) -> Self {
        let mut h = Sha256::new();
        h.update(kind.as_str().as_bytes());
        h.update([0]);
        h.update(source.as_bytes());
        h.update([0]);
        for p in parts {
            h.update(p);
        }
        Self(h.finalize().into())
    }

    /// A key from an id the delivery's signature covers (Standard Webhooks `webhook-id`) or
    /// the provider's stable retry id (GitLab `Idempotency-Key`).
    pub fn from_id(kind: DeliveryKind, id: &str) -> Self {
        Self::digest(kind, "id", &[id.as_bytes()])
    }

    /// A key from the signed body itself.
    pub fn from_body(kind: DeliveryKind, body: &[u8]) -> Self {
        Self::digest(kind, "body", &[body])
    }

    /// The key of a verified delivery, following the table above.
    /// `delivery` is the parsed delivery (the direct ping's key comes from its payload).
    pub fn for_delivery(
        kind: DeliveryKind,
        headers: &Headers,
        body: &[u8],
        delivery: &Delivery,
    ) -> Self {
        let signed_id = || {
            headers
                .get("webhook-signature")
                .and(headers.get("webhook-id"))
        };
        let id = match kind {
            DeliveryKind::GitHub | DeliveryKind::Gitea | DeliveryKind::Bitbucket => None,
            // Basic credentials cover nothing: the key only has to catch resends, which keep
            // their notification id.
            DeliveryKind::AzureDevOps => delivery.delivery_id.as_deref(),
            DeliveryKind::StandardWebhooks => headers.get("webhook-id"),
            DeliveryKind::GitLab => signed_id()
                .or_else(|| headers.first_of(&["idempotency-key", "x-gitlab-event-uuid"])),
            DeliveryKind::DirectPing => {
                if let (Some(challenge), Some(nonce)) = (&delivery.challenge_id, &delivery.nonce) {
                    return Self::digest(
                        kind,
                        "proof",
                        &[challenge.as_bytes(), b".", nonce.as_bytes()],
                    );
                }
                None
            }
        };
        match id {
            Some(id) => Self::from_id(kind, id),
            None => Self::from_body(kind, body),
        }
    }
}

impl fmt::Debug for ReplayKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReplayKey({})", crate::audit::hex(&self.0[..8]))
    }
}

/// How many buckets a window is cut into for expiry.
const BUCKETS: i128 = 8;

/// Remembers accepted deliveries for `window` and refuses them again inside it.
///
/// Each check costs one hash lookup and one insert, whatever the number of entries: entries
/// are filed in time buckets (an eighth of the window each), and a bucket is dropped whole
/// once all of it is older than the window, so expiry is amortised over the inserts that
/// filled it. Time comes from the caller (the receiver's [`Clock`](crate::clock::Clock)), so
/// tests can move it. Time buckets rather than a cache crate with its own time-to-live
/// (such as `moka`) for that reason: expiry follows the injected clock, and the window is
/// exact (an entry is a replay while `now - seen < window`, bucket edges only decide when it
/// is freed, at most an eighth of the window later).
///
/// # When full
///
/// Memory is bounded by `capacity` entries. When that many deliveries were accepted inside
/// the window, new ones are **refused** with [`VerifyError::ReplayCapacity`] (the receiver
/// answers 503, and providers resend later) rather than evicting the oldest: evicting an
/// entry still inside the window would let a captured delivery be replayed. Only verified
/// deliveries are recorded, so filling the guard takes `capacity` validly signed deliveries
/// inside one window; size it above the peak legitimate rate times the window.
pub struct ReplayGuard {
    window: Duration,
    capacity: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// When each live key was recorded (Unix nanoseconds).
    seen: HashMap<ReplayKey, i128>,
    /// Keys by the bucket they were recorded in, oldest bucket first.
    buckets: VecDeque<(i128, Vec<(ReplayKey, i128)>)>,
}

impl fmt::Debug for ReplayGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplayGuard")
            .field("window", &self.window)
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

impl ReplayGuard {
    /// A guard remembering deliveries for `window`, at most `capacity` of them.
    pub fn new(window: Duration, capacity: usize) -> Self {
        Self {
            window,
            capacity: capacity.max(1),
            state: Mutex::new(State::default()),
        }
    }

    /// The replay window.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The most entries kept.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Entries currently held (some may be past the window and not yet freed).
    pub fn len(&self) -> usize {
        self.lock().seen.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // As the challenge registry: recover the state from a poisoned lock (every critical
        // section leaves it whole) rather than fail every later delivery.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn window_nanos(&self) -> i128 {
        self.window.as_nanos().min(i128::MAX as u128) as i128
    }

    fn bucket_width(&self) -> i128 {
        (self.window_nanos() / BUCKETS).max(1)
    }

    /// Records `key` at `now`, or refuses it: [`VerifyError::Replay`] if it was recorded less
    /// than the window ago, [`VerifyError::ReplayCapacity`] if the guard is full.
    pub fn check_and_record(&self, key: ReplayKey, now: OffsetDateTime) -> Result<(), VerifyError> {
        let now_ns = now.unix_timestamp_nanos();
        let window = self.window_nanos();
        let width = self.bucket_width();
        // Buckets spanning the window: a bucket ending `span` buckets before the current one
        // holds only entries older than the window.
        let span = (window + width - 1) / width;
        let bucket = now_ns.div_euclid(width);
        let mut state = self.lock();
        let State { seen, buckets } = &mut *state;
        while let Some((b, _)) = buckets.front()
            && *b + span < bucket
        {
            let (_, keys) = buckets.pop_front().expect("front exists");
            for (k, at) in keys {
                if seen.get(&k) == Some(&at) {
                    seen.remove(&k);
                }
            }
        }
        match seen.get(&key) {
            Some(&at) if now_ns - at < window => return Err(VerifyError::Replay),
            Some(_) => {}
            None if seen.len() >= self.capacity => return Err(VerifyError::ReplayCapacity),
            None => {}
        }
        seen.insert(key, now_ns);
        match buckets.back_mut() {
            // A clock that stepped back files into the newest bucket: freed later, never lost.
            Some((b, keys)) if *b >= bucket => keys.push((key, now_ns)),
            _ => buckets.push_back((bucket, vec![(key, now_ns)])),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn key(kind: DeliveryKind, id: &str) -> ReplayKey {
        ReplayKey::from_id(kind, id)
    }

    #[test]
    fn replays_inside_the_window_are_refused() {
        let g = ReplayGuard::new(Duration::from_secs(600), 100);
        let t0 = datetime!(2026-01-01 0:00 UTC);
        let d1 = key(DeliveryKind::GitLab, "d1");
        assert_eq!(g.check_and_record(d1, t0), Ok(()));
        assert_eq!(
            g.check_and_record(d1, t0 + Duration::from_secs(5)),
            Err(VerifyError::Replay)
        );
        assert_eq!(
            g.check_and_record(d1, t0 + Duration::from_secs(599)),
            Err(VerifyError::Replay)
        );
        assert_eq!(
            g.check_and_record(key(DeliveryKind::GitHub, "d1"), t0),
            Ok(()),
            "keys are per provider"
        );
        assert_eq!(
            g.check_and_record(d1, t0 + Duration::from_secs(600)),
            Ok(())
        );
    }

    #[test]
    fn when_full_new_deliveries_are_refused_not_older_ones_forgotten() {
        let g = ReplayGuard::new(Duration::from_secs(600), 2);
        let t0 = datetime!(2026-01-01 0:00 UTC);
        let at = |s: u64| t0 + Duration::from_secs(s);
        let [a, b, c] = ["a", "b", "c"].map(|id| key(DeliveryKind::GitLab, id));
        g.check_and_record(a, at(0)).unwrap();
        g.check_and_record(b, at(1)).unwrap();
        assert_eq!(
            g.check_and_record(c, at(2)),
            Err(VerifyError::ReplayCapacity)
        );
        assert_eq!(g.len(), 2);
        assert_eq!(
            g.check_and_record(a, at(3)),
            Err(VerifyError::Replay),
            "the oldest is still remembered"
        );
        // Once the window (and the bucket holding them) has passed, room is freed.
        assert_eq!(g.check_and_record(c, at(700)), Ok(()));
        assert_eq!(g.len(), 1);
    }

    #[test]
    fn expired_entries_are_freed_without_scanning_live_ones() {
        let g = ReplayGuard::new(Duration::from_secs(80), 1_000_000);
        let t0 = datetime!(2026-01-01 0:00 UTC);
        for i in 0..1000u64 {
            g.check_and_record(
                key(DeliveryKind::GitHub, &i.to_string()),
                t0 + Duration::from_millis(i * 100),
            )
            .unwrap();
        }
        // 100 s of deliveries, an 80 s window: at most the last 80 s plus one 10 s bucket.
        let held = g.len();
        assert!((800..=900).contains(&held), "{held}");
    }

    #[test]
    fn a_clock_stepping_back_keeps_entries() {
        let g = ReplayGuard::new(Duration::from_secs(600), 10);
        let t0 = datetime!(2026-01-01 1:00 UTC);
        let a = key(DeliveryKind::GitLab, "a");
        g.check_and_record(key(DeliveryKind::GitLab, "z"), t0)
            .unwrap();
        g.check_and_record(a, t0 - Duration::from_secs(300))
            .unwrap();
        assert_eq!(g.check_and_record(a, t0), Err(VerifyError::Replay));
    }

    #[test]
    fn keys_follow_what_the_signature_covers() {
        let d = |kind| Delivery {
            kind,
            delivery_id: None,
            event_id: None,
            event: None,
            instance: None,
            project_id: None,
            hook_id: None,
            hook_uuid: None,
            challenge_id: None,
            nonce: None,
            received_at: datetime!(2026-01-01 0:00 UTC),
        };
        let gh = |id: &str| Headers::from_pairs([("X-GitHub-Delivery", id)]);
        let k = |kind, h: &Headers, body: &[u8]| ReplayKey::for_delivery(kind, h, body, &d(kind));
        // GitHub: a new delivery id does not make a new delivery; a new body does.
        assert_eq!(
            k(DeliveryKind::GitHub, &gh("1"), b"{}"),
            k(DeliveryKind::GitHub, &gh("2"), b"{}")
        );
        assert_ne!(
            k(DeliveryKind::GitHub, &gh("1"), b"{}"),
            k(DeliveryKind::GitHub, &gh("1"), b"{ }")
        );
        // Gitea / Forgejo: as GitHub, the signed body; X-Gitea-Delivery is unsigned.
        let gt =
            |id: &str| Headers::from_pairs([("X-Gitea-Delivery", id), ("X-Forgejo-Delivery", id)]);
        assert_eq!(
            k(DeliveryKind::Gitea, &gt("1"), b"{}"),
            k(DeliveryKind::Gitea, &gt("2"), b"{}")
        );
        assert_eq!(
            k(DeliveryKind::Gitea, &gt("1"), b"{}"),
            ReplayKey::from_body(DeliveryKind::Gitea, b"{}")
        );
        assert_ne!(
            k(DeliveryKind::Gitea, &gt("1"), b"{}"),
            k(DeliveryKind::Gitea, &gt("1"), b"{ }")
        );
        // GitLab: the retry id, whatever the per-request UUID.
        let gl = |uuid: &str, idem: &str| {
            Headers::from_pairs([("X-Gitlab-Webhook-UUID", uuid), ("Idempotency-Key", idem)])
        };
        assert_eq!(
            k(DeliveryKind::GitLab, &gl("u1", "i"), b"{}"),
            k(DeliveryKind::GitLab, &gl("u2", "i"), br#"{"other":1}"#)
        );
        assert_ne!(
            k(DeliveryKind::GitLab, &gl("u1", "i"), b"{}"),
            k(DeliveryKind::GitLab, &gl("u1", "j"), b"{}")
        );
        // No id at all: the body.
        let none = Headers::default();
        assert_eq!(
            k(DeliveryKind::GitLab, &none, b"{}"),
            ReplayKey::from_body(DeliveryKind::GitLab, b"{}")
        );
        // The kind is part of the key.
        assert_ne!(
            k(DeliveryKind::GitHub, &none, b"{}"),
            k(DeliveryKind::Gitea, &none, b"{}")
        );
    }
}
