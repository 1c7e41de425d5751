//! [`WebhookReceiver`]: verifies, de-duplicates and correlates deliveries; usable from any
//! HTTP framework through [`WebhookReceiver::handle`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use uuid::Uuid;

use super::challenge::ChallengeRegistry;
use super::{Delivery, DeliveryKind, Headers, ReplayGuard, VerifyError, WebhookSecrets, verify};
use crate::clock::{Clock, SystemClock};

/// What became of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiverOutcome {
    /// Verified with a pending challenge's secrets and correlated to it.
    Correlated {
        /// The challenge answered.
        challenge_id: Uuid,
        /// The delivery.
        delivery: Delivery,
    },
    /// Verified with the receiver's own secrets; matched no challenge (recorded, not counted).
    Accepted {
        /// The delivery.
        delivery: Delivery,
    },
    /// Refused.
    Rejected(VerifyError),
}

/// The HTTP answer for a delivery, and what happened.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceiverDecision {
    /// Status to answer with.
    pub status: u16,
    /// JSON body to answer with. Rejections say only `unauthorized`, `duplicate`, `too_large`
    /// or `bad_request`, never which secret came close.
    pub body: serde_json::Value,
    /// What happened.
    pub outcome: ReceiverOutcome,
}

/// Verifies and correlates webhook deliveries.
#[derive(Debug, Clone)]
pub struct WebhookReceiver {
    challenges: Arc<ChallengeRegistry>,
    keyring: HashMap<DeliveryKind, WebhookSecrets>,
    replay: Arc<ReplayGuard>,
    max_body_bytes: usize,
    tolerance: Duration,
    clock: Arc<dyn Clock>,
}

impl WebhookReceiver {
    /// The default body cap (1 MiB).
    pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

    /// A receiver correlating to `challenges`. Defaults: no standing secrets (only deliveries
    /// answering a challenge are accepted), a 1 MiB body cap, a 5 minute timestamp tolerance,
    /// replay protection for 10 minutes.
    pub fn new(challenges: Arc<ChallengeRegistry>) -> Self {
        Self {
            challenges,
            keyring: HashMap::new(),
            replay: Arc::new(ReplayGuard::new(Duration::from_secs(600), 100_000)),
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
            tolerance: Duration::from_secs(300),
            clock: Arc::new(SystemClock),
        }
    }

    /// Accepts `kind` deliveries signed with `secrets` outside any challenge.
    pub fn with_secrets(mut self, kind: DeliveryKind, secrets: WebhookSecrets) -> Self {
        self.keyring.insert(kind, secrets);
        self
    }

    /// Caps the body size.
    pub fn with_max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = max;
        self
    }

    /// How far a signed timestamp may be from now.
    pub fn with_timestamp_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Replay window and capacity.
    pub fn with_replay_window(mut self, window: Duration, capacity: usize) -> Self {
        self.replay = Arc::new(ReplayGuard::new(window, capacity));
        self
    }

    /// Reads time from `clock`.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The challenge registry.
    pub fn challenges(&self) -> &Arc<ChallengeRegistry> {
        &self.challenges
    }

    /// Handles one delivery: cap, parse, verify (challenge secrets first, then standing
    /// secrets), reject replays, correlate. Synchronous and fast: nothing here waits on I/O.
    pub fn handle(&self, kind: DeliveryKind, headers: &Headers, body: &[u8]) -> ReceiverDecision {
        let outcome = self.decide(kind, headers, body);
        let (status, body) = match &outcome {
            ReceiverOutcome::Correlated { challenge_id, .. } => (
                200,
                json!({ "status": "accepted", "challenge_id": challenge_id.to_string() }),
            ),
            ReceiverOutcome::Accepted { .. } => (200, json!({ "status": "accepted" })),
            ReceiverOutcome::Rejected(e) => match e {
                VerifyError::TooLarge { .. } => (413, json!({ "error": "too_large" })),
                VerifyError::MalformedBody => (400, json!({ "error": "bad_request" })),
                VerifyError::Replay => (409, json!({ "error": "duplicate" })),
                _ => (401, json!({ "error": "unauthorized" })),
            },
        };
        ReceiverDecision {
            status,
            body,
            outcome,
        }
    }

    fn decide(&self, kind: DeliveryKind, headers: &Headers, body: &[u8]) -> ReceiverOutcome {
        use ReceiverOutcome::Rejected;
        if body.len() > self.max_body_bytes {
            return Rejected(VerifyError::TooLarge {
                max: self.max_body_bytes,
            });
        }
        let now = self.clock.now();
        let delivery = match Delivery::parse(kind, headers, body, now) {
            Ok(d) => d,
            Err(e) => return Rejected(e),
        };
        let check =
            |secrets: &WebhookSecrets| verify(kind, headers, body, secrets, now, self.tolerance);
        let mut first_error = None;
        let mut verified_for: Option<Option<Uuid>> = None;
        let candidates = self.challenges.candidates(&delivery, now);
        for candidate in &candidates {
            match check(&candidate.secrets) {
                Ok(()) => {
                    verified_for = Some(Some(candidate.challenge_id));
                    break;
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if verified_for.is_none() {
            match self.keyring.get(&kind).map(check) {
                Some(Ok(())) => verified_for = Some(None),
                Some(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                None => {}
            }
        }
        let Some(challenge) = verified_for else {
            let error = first_error.unwrap_or(VerifyError::NoSecret);
            for candidate in &candidates {
                self.challenges
                    .note_rejection(candidate.challenge_id, error.clone());
            }
            return Rejected(error);
        };
        let replay_key = delivery
            .delivery_id
            .as_deref()
            .or(delivery.event_id.as_deref());
        if let Some(id) = replay_key
            && let Err(e) = self.replay.check_and_record(kind, id, now)
        {
            return Rejected(e);
        }
        match challenge.and_then(|id| self.challenges.correlate(id, delivery.clone())) {
            Some(c) => ReceiverOutcome::Correlated {
                challenge_id: c.challenge_id,
                delivery,
            },
            None => {
                self.challenges.record_unmatched(delivery.clone());
                ReceiverOutcome::Accepted { delivery }
            }
        }
    }
}
