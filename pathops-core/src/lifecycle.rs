//! The integration lifecycle: one pure function, [`transition`], over
//! ([`LifecycleState`], [`LifecycleEvent`], [`HealthPolicy`]).
//!
//! ```text
//! Draft --submit--> PendingVerification --test passed--> Active
//!   (policy.require_approval: a passing test marks it verified; activate makes it Active)
//! Active --failures >= degrade_after--> Degraded --failures >= fail_after--> Failed
//! Degraded | Failed --one passing test--> Active
//! PendingVerification | Active | Degraded | Failed --pause--> Paused --resume--> Active
//!   (or PendingVerification when it was never verified)
//! verified --connection changed (base_url, auth_ref, provider, configuration)--> PendingVerification
//! any state --delete--> Deleted
//! ```
//!
//! The state carries the consecutive-failure count and whether the current connection settings
//! have passed a test (`verified`), because both decide the next status. No I/O, no clock: the
//! caller records times.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::validate::{Problem, ValidationError};

/// Where an integration is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationStatus {
    /// Being written; never contacted by the health monitor.
    Draft,
    /// Submitted; waits for a passing test (and an approval when the policy asks for one).
    PendingVerification,
    /// Verified and healthy.
    Active,
    /// Failing, fewer than `fail_after` consecutive failures.
    Degraded,
    /// At least `fail_after` consecutive failures.
    Failed,
    /// Paused by an operator; never contacted.
    Paused,
    /// Soft-deleted; gone from every read.
    Deleted,
}

impl IntegrationStatus {
    /// Every status, in declaration order.
    pub const ALL: [IntegrationStatus; 7] = [
        Self::Draft,
        Self::PendingVerification,
        Self::Active,
        Self::Degraded,
        Self::Failed,
        Self::Paused,
        Self::Deleted,
    ];

    /// The stable string form.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::PendingVerification => "pending_verification",
            Self::Active => "active",
            Self::Degraded => "degraded",
            Self::Failed => "failed",
            Self::Paused => "paused",
            Self::Deleted => "deleted",
        }
    }

    /// Whether scheduled health checks run in this status (not Draft, Paused or Deleted).
    pub fn is_monitored(&self) -> bool {
        !matches!(self, Self::Draft | Self::Paused | Self::Deleted)
    }
}

impl fmt::Display for IntegrationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for IntegrationStatus {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or(ValidationError::new("status", Problem::UnknownValue))
    }
}

/// Thresholds and rules that shape the lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthPolicy {
    /// Consecutive failures that turn Active into Degraded (default 3).
    pub degrade_after: u32,
    /// Consecutive failures that turn Active or Degraded into Failed (default 5).
    pub fail_after: u32,
    /// When set, a passing test only marks a pending integration verified; an approver must
    /// [`activate`](LifecycleEvent::Activate) it.
    pub require_approval: bool,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        Self {
            degrade_after: 3,
            fail_after: 5,
            require_approval: false,
        }
    }
}

impl HealthPolicy {
    /// Checks `1 <= degrade_after <= fail_after`.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.degrade_after == 0 {
            return Err(ValidationError::new("degrade_after", Problem::OutOfRange));
        }
        if self.fail_after < self.degrade_after {
            return Err(ValidationError::new("fail_after", Problem::OutOfRange));
        }
        Ok(())
    }
}

/// The part of an integration the lifecycle reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleState {
    /// Current status.
    pub status: IntegrationStatus,
    /// The current connection settings have passed a test.
    pub verified: bool,
    /// Failed checks since the last passing one.
    pub consecutive_failures: u32,
}

impl LifecycleState {
    /// The state of a newly created integration.
    pub const DRAFT: LifecycleState = LifecycleState {
        status: IntegrationStatus::Draft,
        verified: false,
        consecutive_failures: 0,
    };
}

/// Something that happens to an integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleEvent {
    /// The owner submits a draft for verification.
    Submit,
    /// A connection test or health check passed.
    CheckPassed,
    /// A connection test or health check failed.
    CheckFailed,
    /// An approver activates a verified pending integration.
    Activate,
    /// An operator pauses the integration.
    Pause,
    /// An operator resumes a paused integration.
    Resume,
    /// base_url, auth_ref, provider or configuration changed.
    ConnectionChanged,
    /// The integration is deleted.
    Delete,
}

impl LifecycleEvent {
    /// Every event, in declaration order.
    pub const ALL: [LifecycleEvent; 8] = [
        Self::Submit,
        Self::CheckPassed,
        Self::CheckFailed,
        Self::Activate,
        Self::Pause,
        Self::Resume,
        Self::ConnectionChanged,
        Self::Delete,
    ];

    /// The stable string form.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Submit => "submit",
            Self::CheckPassed => "check_passed",
            Self::CheckFailed => "check_failed",
            Self::Activate => "activate",
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::ConnectionChanged => "connection_changed",
            Self::Delete => "delete",
        }
    }
}

impl fmt::Display for LifecycleEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The outcome of a legal transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// The state before.
    pub from: LifecycleState,
    /// The event that was applied.
    pub event: LifecycleEvent,
    /// The state after.
    pub to: LifecycleState,
}

impl Transition {
    /// Whether the status changed.
    pub fn status_changed(&self) -> bool {
        self.from.status != self.to.status
    }
}

/// An event that is not allowed in a state. Names both sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot {event} an integration that is {from}{}", reason.map(|r| format!(" ({r})")).unwrap_or_default())]
pub struct InvalidTransition {
    /// The status the integration was in.
    pub from: IntegrationStatus,
    /// The event that was refused.
    pub event: LifecycleEvent,
    /// A short explanation where the pair alone does not say it.
    pub reason: Option<&'static str>,
}

/// Applies `event` to `state` under `policy`.
///
/// ```
/// use pathops_core::lifecycle::{transition, HealthPolicy, IntegrationStatus, LifecycleEvent, LifecycleState};
///
/// let policy = HealthPolicy::default();
/// let pending = transition(LifecycleState::DRAFT, LifecycleEvent::Submit, &policy)?.to;
/// assert_eq!(pending.status, IntegrationStatus::PendingVerification);
/// let active = transition(pending, LifecycleEvent::CheckPassed, &policy)?.to;
/// assert_eq!(active.status, IntegrationStatus::Active);
/// // A draft cannot be activated: the error names the state and the event.
/// let err = transition(LifecycleState::DRAFT, LifecycleEvent::Activate, &policy).unwrap_err();
/// assert_eq!(err.to_string(), "cannot activate an integration that is draft (only a verified pending integration can be activated)");
/// # Ok::<(), pathops_core::lifecycle::InvalidTransition>(())
/// ```
pub fn transition(
    state: LifecycleState,
    event: LifecycleEvent,
    policy: &HealthPolicy,
) -> Result<Transition, InvalidTransition> {
    use IntegrationStatus as S;
    use LifecycleEvent as E;

    let refuse = |reason: Option<&'static str>| InvalidTransition {
        from: state.status,
        event,
        reason,
    };
    let to = |status, verified, consecutive_failures| LifecycleState {
        status,
        verified,
        consecutive_failures,
    };
    let failures = state.consecutive_failures.saturating_add(1);
    // Status of an Active integration after a failed check.
    let failing_status = if failures >= policy.fail_after {
        S::Failed
    } else if failures >= policy.degrade_after {
        S::Degraded
    } else {
        S::Active
    };

    let next = match (state.status, event) {
        (S::Deleted, _) => return Err(refuse(Some("it is deleted"))),
        (_, E::Delete) => to(S::Deleted, state.verified, state.consecutive_failures),

        (S::Draft, E::Submit) => to(S::PendingVerification, false, 0),
        (_, E::Submit) => return Err(refuse(Some("only a draft can be submitted"))),

        // A draft may be tested; the result is evidence only.
        (S::Draft, E::CheckPassed | E::CheckFailed) => state,
        (S::Paused, E::CheckPassed | E::CheckFailed) => {
            return Err(refuse(Some("paused integrations are never contacted")));
        }

        (S::PendingVerification, E::CheckPassed) if policy.require_approval => {
            to(S::PendingVerification, true, 0)
        }
        (S::PendingVerification, E::CheckPassed) => to(S::Active, true, 0),
        (S::PendingVerification, E::CheckFailed) => to(S::PendingVerification, false, failures),
        (S::Active | S::Degraded | S::Failed, E::CheckPassed) => to(S::Active, true, 0),
        (S::Active, E::CheckFailed) => to(failing_status, true, failures),
        // Degraded never recovers on a failure, whatever the count says.
        (S::Degraded, E::CheckFailed) if failures >= policy.fail_after => {
            to(S::Failed, true, failures)
        }
        (S::Degraded, E::CheckFailed) => to(S::Degraded, true, failures),
        (S::Failed, E::CheckFailed) => to(S::Failed, true, failures),

        (S::PendingVerification, E::Activate) if state.verified => to(S::Active, true, 0),
        (S::PendingVerification, E::Activate) => {
            return Err(refuse(Some("it has not passed a connection test")));
        }
        (_, E::Activate) => {
            return Err(refuse(Some(
                "only a verified pending integration can be activated",
            )));
        }

        (S::PendingVerification | S::Active | S::Degraded | S::Failed, E::Pause) => {
            to(S::Paused, state.verified, state.consecutive_failures)
        }
        (S::Draft | S::Paused, E::Pause) => return Err(refuse(None)),

        (S::Paused, E::Resume) if state.verified => to(S::Active, true, 0),
        (S::Paused, E::Resume) => to(S::PendingVerification, false, 0),
        (_, E::Resume) => return Err(refuse(Some("only a paused integration can be resumed"))),

        (S::Draft, E::ConnectionChanged) => state,
        (S::Paused, E::ConnectionChanged) => to(S::Paused, false, 0),
        (S::PendingVerification | S::Active | S::Degraded | S::Failed, E::ConnectionChanged) => {
            to(S::PendingVerification, false, 0)
        }
    };
    Ok(Transition {
        from: state,
        event,
        to: next,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use IntegrationStatus as S;
    use LifecycleEvent as E;

    fn st(status: IntegrationStatus, verified: bool, failures: u32) -> LifecycleState {
        LifecycleState {
            status,
            verified,
            consecutive_failures: failures,
        }
    }

    /// Expected outcome for every (status, event) pair from a typical state of that status
    /// (verified where the status implies it, one failure recorded), under the default policy.
    /// `None` means the pair is illegal.
    #[test]
    fn every_state_event_pair() {
        let p = HealthPolicy::default();
        let typical = |s: IntegrationStatus| match s {
            S::Draft | S::PendingVerification => st(s, false, 1),
            S::Degraded => st(s, true, p.degrade_after),
            S::Failed => st(s, true, p.fail_after),
            _ => st(s, true, 1),
        };
        #[rustfmt::skip]
        let table: &[(IntegrationStatus, LifecycleEvent, Option<LifecycleState>)] = &[
            (S::Draft, E::Submit, Some(st(S::PendingVerification, false, 0))),
            (S::Draft, E::CheckPassed, Some(st(S::Draft, false, 1))),
            (S::Draft, E::CheckFailed, Some(st(S::Draft, false, 1))),
            (S::Draft, E::Activate, None),
            (S::Draft, E::Pause, None),
            (S::Draft, E::Resume, None),
            (S::Draft, E::ConnectionChanged, Some(st(S::Draft, false, 1))),
            (S::Draft, E::Delete, Some(st(S::Deleted, false, 1))),

            (S::PendingVerification, E::Submit, None),
            (S::PendingVerification, E::CheckPassed, Some(st(S::Active, true, 0))),
            (S::PendingVerification, E::CheckFailed, Some(st(S::PendingVerification, false, 2))),
            (S::PendingVerification, E::Activate, None),
            (S::PendingVerification, E::Pause, Some(st(S::Paused, false, 1))),
            (S::PendingVerification, E::Resume, None),
            (S::PendingVerification, E::ConnectionChanged, Some(st(S::PendingVerification, false, 0))),
            (S::PendingVerification, E::Delete, Some(st(S::Deleted, false, 1))),

            (S::Active, E::Submit, None),
            (S::Active, E::CheckPassed, Some(st(S::Active, true, 0))),
            (S::Active, E::CheckFailed, Some(st(S::Active, true, 2))),
            (S::Active, E::Activate, None),
            (S::Active, E::Pause, Some(st(S::Paused, true, 1))),
            (S::Active, E::Resume, None),
            (S::Active, E::ConnectionChanged, Some(st(S::PendingVerification, false, 0))),
            (S::Active, E::Delete, Some(st(S::Deleted, true, 1))),

            (S::Degraded, E::Submit, None),
            (S::Degraded, E::CheckPassed, Some(st(S::Active, true, 0))),
            (S::Degraded, E::CheckFailed, Some(st(S::Degraded, true, 4))),
            (S::Degraded, E::Activate, None),
            (S::Degraded, E::Pause, Some(st(S::Paused, true, 3))),
            (S::Degraded, E::Resume, None),
            (S::Degraded, E::ConnectionChanged, Some(st(S::PendingVerification, false, 0))),
            (S::Degraded, E::Delete, Some(st(S::Deleted, true, 3))),

            (S::Failed, E::Submit, None),
            (S::Failed, E::CheckPassed, Some(st(S::Active, true, 0))),
            (S::Failed, E::CheckFailed, Some(st(S::Failed, true, 6))),
            (S::Failed, E::Activate, None),
            (S::Failed, E::Pause, Some(st(S::Paused, true, 5))),
            (S::Failed, E::Resume, None),
            (S::Failed, E::ConnectionChanged, Some(st(S::PendingVerification, false, 0))),
            (S::Failed, E::Delete, Some(st(S::Deleted, true, 5))),

            (S::Paused, E::Submit, None),
            (S::Paused, E::CheckPassed, None),
            (S::Paused, E::CheckFailed, None),
            (S::Paused, E::Activate, None),
            (S::Paused, E::Pause, None),
            (S::Paused, E::Resume, Some(st(S::Active, true, 0))),
            (S::Paused, E::ConnectionChanged, Some(st(S::Paused, false, 0))),
            (S::Paused, E::Delete, Some(st(S::Deleted, true, 1))),

            (S::Deleted, E::Submit, None),
            (S::Deleted, E::CheckPassed, None),
            (S::Deleted, E::CheckFailed, None),
            (S::Deleted, E::Activate, None),
            (S::Deleted, E::Pause, None),
            (S::Deleted, E::Resume, None),
            (S::Deleted, E::ConnectionChanged, None),
            (S::Deleted, E::Delete, None),
        ];
        assert_eq!(
            table.len(),
            S::ALL.len() * E::ALL.len(),
            "table covers every pair"
        );
        for status in S::ALL {
            for event in E::ALL {
                let expected = table
                    .iter()
                    .find(|(s, e, _)| *s == status && *e == event)
                    .unwrap_or_else(|| panic!("missing row for ({status}, {event})"))
                    .2;
                let from = typical(status);
                match (transition(from, event, &p), expected) {
                    (Ok(t), Some(want)) => {
                        assert_eq!(t.to, want, "({status}, {event})");
                        assert_eq!((t.from, t.event), (from, event));
                    }
                    (Err(e), None) => {
                        assert_eq!((e.from, e.event), (status, event));
                        let msg = e.to_string();
                        assert!(
                            msg.contains(status.as_str()) && msg.contains(event.as_str()),
                            "{msg}"
                        );
                    }
                    (got, want) => panic!("({status}, {event}): got {got:?}, want {want:?}"),
                }
            }
        }
    }

    #[test]
    fn failures_walk_active_to_degraded_to_failed_and_back() {
        let p = HealthPolicy::default();
        let mut s = st(S::Active, true, 0);
        let mut seen = vec![];
        for _ in 0..6 {
            s = transition(s, E::CheckFailed, &p).unwrap().to;
            seen.push((s.status, s.consecutive_failures));
        }
        assert_eq!(
            seen,
            vec![
                (S::Active, 1),
                (S::Active, 2),
                (S::Degraded, 3),
                (S::Degraded, 4),
                (S::Failed, 5),
                (S::Failed, 6)
            ]
        );
        let back = transition(s, E::CheckPassed, &p).unwrap().to;
        assert_eq!(back, st(S::Active, true, 0));
    }

    #[test]
    fn approval_policy_keeps_verified_pending_until_activated() {
        let p = HealthPolicy {
            require_approval: true,
            ..HealthPolicy::default()
        };
        let pending = st(S::PendingVerification, false, 0);
        let refused = transition(pending, E::Activate, &p).unwrap_err();
        assert_eq!(refused.reason, Some("it has not passed a connection test"));
        let verified = transition(pending, E::CheckPassed, &p).unwrap().to;
        assert_eq!(verified, st(S::PendingVerification, true, 0));
        let active = transition(verified, E::Activate, &p).unwrap().to;
        assert_eq!(active.status, S::Active);
        // A change of connection settings drops the verification again.
        let changed = transition(verified, E::ConnectionChanged, &p).unwrap().to;
        assert!(transition(changed, E::Activate, &p).is_err());
    }

    #[test]
    fn resume_of_an_unverified_integration_goes_back_to_pending() {
        let p = HealthPolicy::default();
        let paused = transition(st(S::Active, true, 0), E::Pause, &p).unwrap().to;
        let edited = transition(paused, E::ConnectionChanged, &p).unwrap().to;
        assert_eq!(edited, st(S::Paused, false, 0));
        let resumed = transition(edited, E::Resume, &p).unwrap().to;
        assert_eq!(resumed.status, S::PendingVerification);
    }

    #[test]
    fn policy_validation() {
        assert!(HealthPolicy::default().validate().is_ok());
        let bad = HealthPolicy {
            degrade_after: 5,
            fail_after: 3,
            ..HealthPolicy::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "fail_after");
        let zero = HealthPolicy {
            degrade_after: 0,
            ..HealthPolicy::default()
        };
        assert_eq!(zero.validate().unwrap_err().field, "degrade_after");
    }

    #[test]
    fn statuses_round_trip() {
        for s in S::ALL {
            assert_eq!(s.as_str().parse::<IntegrationStatus>().unwrap(), s);
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
    }
}
