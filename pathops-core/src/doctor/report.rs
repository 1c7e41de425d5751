//! [`DoctorReport`]: the doctor's findings, serializable as JSON with a versioned schema.
//!
//! # Schema `pathops.doctor/v1`
//!
//! ```text
//! {
//!   "schema": "pathops.doctor/v1",
//!   "generated_at": "<RFC 3339 UTC>",
//!   "tenant": "<tenant id>",
//!   "summary": { "passed": n, "failed": n, "skipped": n, "unreadable": n },
//!   "integrations": [{
//!     "id": "<uuid>", "name": "...", "provider": "gitlab", "status": "<lifecycle status after the run>",
//!     "outcome": "passed" | "failed" | "skipped",
//!     "reachability": "passed" | "failed" | "not_checked",
//!     "authentication": "passed" | "failed" | "not_checked",
//!     "latency_ms": n | null,
//!     "failure_code": "<code>" | null,            // first failure, if any
//!     "message": "...",
//!     "webhook": null | { "outcome": ..., "failure_code": ..., "message": ..., "delivery_id": ..., "event_id": ... },
//!     "ping": null | { "pathops_to_tool": <probe>, "tool_to_pathops": <probe>, "message": ... },
//!     "findings": [{ "severity": "error" | "warning" | "info", "code": "...", "title": "...",
//!                    "why": "...", "steps": ["..."], "api_call": "..." | null, "doc_link": "..." | null }]
//!   }],
//!   "unreadable": [{ "id": "<uuid>" | null, "name": "..." | null, "reason": "..." }]
//! }
//! ```
//!
//! `unreadable` lists stored integrations that could not be read back (see
//! [`Unreadable`]): they were not checked, and they make the run fail.
//!
//! Fields are only ever added within a major version; a consumer ignores fields it does not
//! know.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::connector::Probe;
use crate::id::{IntegrationId, TenantId};
use crate::lifecycle::IntegrationStatus;
use crate::page::Unreadable;
use crate::provider::Provider;

/// The schema identifier of [`DoctorReport`].
pub const SCHEMA: &str = "pathops.doctor/v1";

/// The result of one doctor run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DoctorReport {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// When the run finished.
    #[serde(with = "time::serde::rfc3339")]
    pub generated_at: OffsetDateTime,
    /// The tenant checked.
    pub tenant: TenantId,
    /// Counts by outcome.
    pub summary: Summary,
    /// One entry per integration, ordered by name.
    pub integrations: Vec<IntegrationReport>,
    /// Stored integrations that could not be read back, so were not checked.
    #[serde(default)]
    pub unreadable: Vec<Unreadable>,
}

impl DoctorReport {
    /// Whether every checked integration passed, none has an error finding and every stored
    /// integration could be read. A run that checked nothing also passes: see
    /// [`checked`](Self::checked).
    pub fn all_passed(&self) -> bool {
        self.summary.failed == 0
            && self.unreadable.is_empty()
            && self
                .integrations
                .iter()
                .all(|i| i.findings.iter().all(|f| f.severity != Severity::Error))
    }

    /// How many integrations were actually checked or found broken: passed, failed and
    /// unreadable, not skipped. Zero means the run verified nothing (no integration in the
    /// tenant, or every one paused), which a caller should not report as healthy.
    pub fn checked(&self) -> usize {
        self.summary.passed + self.summary.failed + self.summary.unreadable
    }

    /// Every finding, with the integration it concerns.
    pub fn findings(&self) -> impl Iterator<Item = (&IntegrationReport, &Finding)> {
        self.integrations
            .iter()
            .flat_map(|i| i.findings.iter().map(move |f| (i, f)))
    }
}

/// Counts by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Summary {
    /// Integrations that passed every check.
    pub passed: usize,
    /// Integrations with a failed check.
    pub failed: usize,
    /// Integrations not contacted (paused).
    pub skipped: usize,
    /// Stored integrations that could not be read back.
    #[serde(default)]
    pub unreadable: usize,
}

/// The overall outcome for one integration or one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Everything checked passed.
    Passed,
    /// Something failed.
    Failed,
    /// Not run.
    Skipped,
}

/// What the doctor found for one integration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IntegrationReport {
    /// The integration.
    pub id: IntegrationId,
    /// Its name.
    pub name: String,
    /// Its provider.
    pub provider: Provider,
    /// Its lifecycle status after the run.
    pub status: IntegrationStatus,
    /// Overall outcome.
    pub outcome: Outcome,
    /// PathOps → tool reachability.
    pub reachability: Probe,
    /// PathOps → tool authentication.
    pub authentication: Probe,
    /// Connection test latency.
    pub latency_ms: Option<u64>,
    /// The first failure's code.
    pub failure_code: Option<String>,
    /// One line for humans.
    pub message: String,
    /// The SCM webhook delivery test (tool → PathOps), when the connector supports one.
    pub webhook: Option<WebhookCheck>,
    /// The direct ping (both directions), when the connector supports it.
    pub ping: Option<PingCheck>,
    /// Problems and the fixes the doctor suggests; it never applies them.
    pub findings: Vec<Finding>,
}

/// The webhook delivery test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WebhookCheck {
    /// Outcome.
    pub outcome: Outcome,
    /// Failure code, if failed.
    pub failure_code: Option<String>,
    /// One line for humans.
    pub message: String,
    /// The delivery's id (evidence), when one was correlated.
    pub delivery_id: Option<String>,
    /// The delivery's event id, when one was correlated.
    pub event_id: Option<String>,
}

/// The direct ping, each direction on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PingCheck {
    /// PathOps called the tool's ping endpoint, authenticated.
    pub pathops_to_tool: Probe,
    /// The tool called PathOps back with a valid proof.
    pub tool_to_pathops: Probe,
    /// One line for humans.
    pub message: String,
}

pub use crate::finding::{Finding, Severity};
