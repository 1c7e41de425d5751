//! [`WebhookReceiver`]: verifies, de-duplicates and correlates deliveries; usable from any
//! HTTP framework through [`WebhookReceiver::handle`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use uuid::Uuid;

use super::challenge::ChallengeRegistry;
use super::{
    Delivery, DeliveryKind, Headers, ReplayGuard, ReplayKey, VerifyError, WebhookSecrets, verify,
};
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
    /// JSON body to answer with. Rejections are `{"error": code}` with code `unauthorized`
    /// (401), `duplicate` (409), `too_large` (413), `bad_request` (400) or `overloaded`
    /// (503), never which secret came close.
    pub body: serde_json::Value,
    /// What happened.
    pub outcome: ReceiverOutcome,
}

/// Verifies and correlates webhook deliveries.
///
/// # What one delivery goes through
///
/// 1. **Size**: a body over [`max_body_bytes`](WebhookReceiver::max_body_bytes) (1 MiB by
///    default) is `413 too_large`. An HTTP server should stop reading at one byte more, as
///    the `receiver` router of `pathops-connectors` does, so nothing larger is ever buffered.
/// 2. **Verify, before parsing**: the secrets of the pending challenges the headers may fit
///    are tried, then the standing secrets of [`with_secrets`](WebhookReceiver::with_secrets).
///    Unverified is `401 unauthorized` whatever the body holds; only a verified body is parsed
///    (not a JSON object: `400 bad_request`). Unauthenticated input never reaches the JSON
///    parser, and a wrong secret cannot be told apart from bad JSON.
/// 3. **Replays**: a [`ReplayKey`] built from what the signature covers (see it
///    for the table), seen by the [`ReplayGuard`] inside the window (10 minutes, 100,000 entries by default) is
///    `409 duplicate`; a full guard refuses with `503 overloaded` rather than forget entries
///    still inside the window.
/// 4. **Correlate**: the oldest pending challenge the delivery fits *and* whose secrets
///    verified it is answered. A delivery signed with one challenge's secret never counts for
///    another challenge (which may be another tenant's).
///
/// # Who may fail a challenge
///
/// A challenge is marked rejected (the doctor's `webhook_token_mismatch`) only by a delivery
/// that proved where it came from: one verified with a standing secret, or a direct ping
/// naming the challenge id (told only to the tool asked to answer). A delivery that merely
/// fits the expectation (instance, project, event, hook: public facts) and fails
/// verification changes nothing, or anyone could fail any challenge.
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

    /// The body cap in bytes: a larger body is refused with [`VerifyError::TooLarge`]. An
    /// HTTP server should stop reading a body at one byte more than this.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// The replay guard.
    pub fn replay_guard(&self) -> &Arc<ReplayGuard> {
        &self.replay
    }

    /// Handles one delivery: cap, verify (challenge secrets first, then standing secrets),
    /// parse, reject replays, correlate. Synchronous and fast: nothing here waits on I/O.
    ///
    /// The body is verified before it is parsed, so a delivery with a wrong secret is refused
    /// as `unauthorized` whatever its body holds; a verified one that is not a JSON object is
    /// `bad_request`. (The direct ping is the exception by design: its proof covers fields of
    /// its JSON body.)
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
                VerifyError::ReplayCapacity => (503, json!({ "error": "overloaded" })),
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
        let check =
            |secrets: &WebhookSecrets| verify(kind, headers, body, secrets, now, self.tolerance);
        // 1. Verify, before the body is trusted enough to parse: with the secrets of the
        //    challenges the headers may fit, then with the standing secrets.
        let partial = Delivery::from_headers(kind, headers, now);
        let mut first_error = None;
        let mut verified_for = Vec::new();
        for candidate in self.challenges.candidates_by_headers(&partial, now) {
            match check(&candidate.secrets) {
                Ok(()) => verified_for.push(candidate.challenge_id),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        let mut standing = None;
        let mut standing_ok = |first_error: &mut Option<VerifyError>| {
            *standing.get_or_insert_with(|| match self.keyring.get(&kind).map(check) {
                Some(Ok(())) => true,
                Some(Err(e)) => {
                    first_error.get_or_insert(e);
                    false
                }
                None => false,
            })
        };
        if verified_for.is_empty() && !standing_ok(&mut first_error) {
            let error = first_error.unwrap_or(VerifyError::NoSecret);
            self.note_named_rejection(kind, headers, body, now, &error);
            return Rejected(error);
        }
        // 2. Parse.
        let delivery = match Delivery::parse(kind, headers, body, now) {
            Ok(d) => d,
            Err(e) => return Rejected(e),
        };
        let fitting = self.challenges.candidates(&delivery, now);
        let answered = fitting
            .iter()
            .map(|c| c.challenge_id)
            .find(|id| verified_for.contains(id));
        // Signed with a challenge's secret but fitting none of those challenges, and not with
        // a standing secret: one tenant's secret never vouches for another's delivery.
        if answered.is_none() && !standing_ok(&mut first_error) {
            return Rejected(VerifyError::BadSignature);
        }
        // 3. Replays.
        let key = ReplayKey::for_delivery(kind, headers, body, &delivery);
        if let Err(e) = self.replay.check_and_record(key, now) {
            return Rejected(e);
        }
        // 4. Correlate.
        if let Some(c) = answered.and_then(|id| self.challenges.correlate(id, delivery.clone())) {
            return ReceiverOutcome::Correlated {
                challenge_id: c.challenge_id,
                delivery,
            };
        }
        // Verified with a standing secret (not a challenge's, which could be another
        // tenant's): an authentic delivery, so a challenge it fits but whose secrets it failed
        // has a tool signing with another secret.
        if answered.is_none() {
            for candidate in &fitting {
                self.challenges
                    .note_rejection(candidate.challenge_id, VerifyError::BadSignature);
            }
        }
        self.challenges.record_unmatched(delivery.clone());
        ReceiverOutcome::Accepted { delivery }
    }

    /// An unverified delivery may fail only the challenge it names by id (the direct ping's
    /// `challenge_id`, told only to the tool asked to answer it); one that merely fits a
    /// challenge's expectation changes nothing.
    fn note_named_rejection(
        &self,
        kind: DeliveryKind,
        headers: &Headers,
        body: &[u8],
        now: time::OffsetDateTime,
        error: &VerifyError,
    ) {
        if kind != DeliveryKind::DirectPing {
            return;
        }
        let Ok(delivery) = Delivery::parse(kind, headers, body, now) else {
            return;
        };
        if delivery.challenge_id.is_none() {
            return;
        }
        for candidate in self.challenges.candidates(&delivery, now) {
            self.challenges
                .note_rejection(candidate.challenge_id, error.clone());
        }
    }
}
