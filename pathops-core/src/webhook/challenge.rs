//! [`ChallengeRegistry`]: pending connectivity challenges and the deliveries that answer them.
//!
//! Before asking a tool to send a test delivery, the doctor registers a challenge: which
//! integration, what delivery it expects (provider, instance, project, event, hook), the
//! secrets the delivery must be signed with, and an expiry. The receiver offers every
//! delivery it verifies; the first pending, unexpired challenge it matches is correlated and
//! its waiter woken. Deliveries that match nothing are recorded (bounded), not counted.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::sync::oneshot;
use uuid::Uuid;

use super::{Delivery, DeliveryKind, Expectation, WebhookSecrets};
use crate::id::{IntegrationId, TenantId};

/// A delivery correlated to a challenge: the evidence that the tool reached PathOps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Correlated {
    /// The challenge answered.
    pub challenge_id: Uuid,
    /// Its integration.
    pub integration_id: IntegrationId,
    /// The delivery, with its ids.
    pub delivery: Delivery,
}

/// Why waiting for a challenge ended without a delivery.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    /// No matching delivery arrived before the wait timed out.
    #[error("no matching delivery arrived within {}ms", .0.as_millis())]
    Timeout(Duration),
    /// The challenge expired or was cancelled.
    #[error("the challenge expired before a matching delivery arrived")]
    Expired,
    /// A delivery fitting the challenge arrived but failed verification.
    #[error("a matching delivery arrived but was rejected: {0}")]
    Rejected(super::VerifyError),
}

#[derive(Debug)]
struct Pending {
    integration_id: IntegrationId,
    tenant: TenantId,
    kind: DeliveryKind,
    expectation: Expectation,
    secrets: WebhookSecrets,
    expires_at: OffsetDateTime,
    waiter: Option<oneshot::Sender<Correlated>>,
    rejection: Option<super::VerifyError>,
}

/// A registered challenge; wait on it for the correlated delivery.
#[derive(Debug)]
pub struct ChallengeHandle {
    /// The challenge id.
    pub id: Uuid,
    receiver: oneshot::Receiver<Correlated>,
}

impl ChallengeHandle {
    /// Waits at most `timeout` for the delivery.
    pub async fn wait(self, timeout: Duration) -> Result<Correlated, ChallengeError> {
        match tokio::time::timeout(timeout, self.receiver).await {
            Ok(Ok(correlated)) => Ok(correlated),
            Ok(Err(_)) => Err(ChallengeError::Expired),
            Err(_) => Err(ChallengeError::Timeout(timeout)),
        }
    }
}

/// A candidate challenge for a delivery: its id and the secrets to verify with.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The challenge.
    pub challenge_id: Uuid,
    /// Secrets the delivery must be signed with.
    pub secrets: WebhookSecrets,
}

/// Pending challenges and unmatched deliveries. Share it as `Arc<ChallengeRegistry>`.
#[derive(Debug, Default)]
pub struct ChallengeRegistry {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    pending: HashMap<Uuid, Pending>,
    unmatched: VecDeque<Delivery>,
}

impl ChallengeRegistry {
    /// How many unmatched deliveries are kept.
    pub const UNMATCHED_KEPT: usize = 100;

    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every critical section leaves the map whole, so a panic elsewhere while holding the
        // lock must not turn every later delivery into a panic: take the state back.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a challenge for `integration_id` expecting a `kind` delivery signed with
    /// `secrets`, valid until `expires_at`.
    pub fn register(
        &self,
        tenant: TenantId,
        integration_id: IntegrationId,
        kind: DeliveryKind,
        expectation: Expectation,
        secrets: WebhookSecrets,
        expires_at: OffsetDateTime,
    ) -> ChallengeHandle {
        let id = Uuid::now_v7();
        let (sender, receiver) = oneshot::channel();
        self.lock().pending.insert(
            id,
            Pending {
                integration_id,
                tenant,
                kind,
                expectation,
                secrets,
                expires_at,
                waiter: Some(sender),
                rejection: None,
            },
        );
        ChallengeHandle { id, receiver }
    }

    /// Removes a challenge; its waiter sees [`ChallengeError::Expired`].
    pub fn cancel(&self, id: Uuid) {
        self.lock().pending.remove(&id);
    }

    /// Pending, unexpired challenges whose expectation `delivery` fits, oldest first. A
    /// delivery naming a challenge (the direct ping's `challenge_id`) fits only that one.
    /// Expired challenges are dropped (their waiters see [`ChallengeError::Expired`]).
    pub fn candidates(&self, delivery: &Delivery, now: OffsetDateTime) -> Vec<Candidate> {
        self.select(delivery.kind, now, |id, expectation| {
            expectation.matches(delivery)
                && delivery
                    .challenge_id
                    .as_deref()
                    .is_none_or(|named| named == id.to_string())
        })
    }

    /// Pending, unexpired challenges that a delivery known only by its headers
    /// ([`Delivery::from_headers`]) may still fit ([`Expectation::may_match`]), oldest first:
    /// the challenges whose secrets the receiver tries before it reads the body.
    pub fn candidates_by_headers(&self, partial: &Delivery, now: OffsetDateTime) -> Vec<Candidate> {
        self.select(partial.kind, now, |_, expectation| {
            expectation.may_match(partial)
        })
    }

    fn select(
        &self,
        kind: DeliveryKind,
        now: OffsetDateTime,
        fits: impl Fn(&Uuid, &Expectation) -> bool,
    ) -> Vec<Candidate> {
        let mut state = self.lock();
        state.pending.retain(|_, p| p.expires_at > now);
        let mut found: Vec<Candidate> = state
            .pending
            .iter()
            .filter(|(id, p)| p.kind == kind && fits(id, &p.expectation))
            .map(|(id, p)| Candidate {
                challenge_id: *id,
                secrets: p.secrets.clone(),
            })
            .collect();
        found.sort_by_key(|c| c.challenge_id);
        found
    }

    /// Correlates a verified delivery to challenge `id`: wakes its waiter and removes it.
    /// Returns `None` if the challenge is gone (expired or already answered).
    pub fn correlate(&self, id: Uuid, delivery: Delivery) -> Option<Correlated> {
        let mut pending = self.lock().pending.remove(&id)?;
        let correlated = Correlated {
            challenge_id: id,
            integration_id: pending.integration_id,
            delivery,
        };
        if let Some(waiter) = pending.waiter.take() {
            let _ = waiter.send(correlated.clone());
        }
        Some(correlated)
    }

    /// Notes that a delivery fitting challenge `id` failed verification. The challenge stays
    /// pending (a correct delivery may still come); [`rejection`](Self::rejection) and
    /// [`wait`](Self::wait) report it.
    ///
    /// Call it only for a delivery that proved where it came from: one verified with the
    /// receiver's standing secrets, or one naming this challenge's id (which only the tool
    /// asked to answer it was told). A delivery that merely fits a challenge's expectation
    /// (public facts such as a project id) proves nothing, and noting it would let anyone
    /// fail the challenge; [`WebhookReceiver`](super::WebhookReceiver) follows this rule.
    pub fn note_rejection(&self, id: Uuid, error: super::VerifyError) {
        if let Some(p) = self.lock().pending.get_mut(&id) {
            p.rejection.get_or_insert(error);
        }
    }

    /// The first rejection noted for a pending challenge.
    pub fn rejection(&self, id: Uuid) -> Option<super::VerifyError> {
        self.lock()
            .pending
            .get(&id)
            .and_then(|p| p.rejection.clone())
    }

    /// Waits at most `timeout` for challenge `handle`. On timeout it reports
    /// [`ChallengeError::Rejected`] if a fitting delivery failed verification meanwhile, else
    /// [`ChallengeError::Timeout`]; either way the challenge is removed.
    pub async fn wait(
        &self,
        handle: ChallengeHandle,
        timeout: Duration,
    ) -> Result<Correlated, ChallengeError> {
        let id = handle.id;
        let outcome = handle.wait(timeout).await;
        if let Err(ChallengeError::Timeout(_)) = outcome
            && let Some(rejection) = self.rejection(id)
        {
            self.cancel(id);
            return Err(ChallengeError::Rejected(rejection));
        }
        self.cancel(id);
        outcome
    }

    /// Records a verified delivery that matched no challenge.
    pub fn record_unmatched(&self, delivery: Delivery) {
        let mut state = self.lock();
        if state.unmatched.len() >= Self::UNMATCHED_KEPT {
            state.unmatched.pop_front();
        }
        state.unmatched.push_back(delivery);
    }

    /// Deliveries that matched no challenge, oldest first.
    pub fn unmatched(&self) -> Vec<Delivery> {
        self.lock().unmatched.iter().cloned().collect()
    }

    /// Number of pending challenges.
    pub fn pending(&self) -> usize {
        self.lock().pending.len()
    }

    /// The tenant of a pending challenge.
    pub fn tenant_of(&self, id: Uuid) -> Option<TenantId> {
        self.lock().pending.get(&id).map(|p| p.tenant.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A panic while the registry's lock is held does not make every later call panic.
    #[test]
    fn a_poisoned_lock_is_recovered() {
        let registry = std::sync::Arc::new(ChallengeRegistry::new());
        let holder = registry.clone();
        let panicked = std::thread::spawn(move || {
            let _guard = holder.lock();
            panic!("a bug while the lock is held");
        })
        .join();
        assert!(panicked.is_err());
        assert!(registry.state.is_poisoned());
        assert_eq!(registry.pending(), 0, "the registry still answers");
    }
}
