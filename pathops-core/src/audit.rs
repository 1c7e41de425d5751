//! The audit trail: append-only, hash-chained per tenant.
//!
//! A catalog mutation carries one [`AuditRecord`]; the store numbers it within its tenant and
//! seals it with [`AuditEntry::seal`]: the entry's hash covers its sequence, its content and the
//! hash of the previous entry, so [`verify_chain`] finds any entry that was edited, removed or
//! reordered.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::clock::truncate_to_micros;
use crate::id::{ActorId, IntegrationId, TenantId};
use crate::integration::FieldChange;

/// The hash a tenant's first entry points back to.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditAction {
    /// Created.
    Created,
    /// Edited.
    Updated,
    /// Soft-deleted.
    Deleted,
    /// Submitted for verification.
    Submitted,
    /// Connection tested.
    Tested,
    /// Activated by an approver.
    Activated,
    /// Paused.
    Paused,
    /// Resumed.
    Resumed,
    /// Health check recorded by the monitor.
    HealthRecorded,
}

impl AuditAction {
    /// Every action.
    pub const ALL: [AuditAction; 9] = [
        Self::Created,
        Self::Updated,
        Self::Deleted,
        Self::Submitted,
        Self::Tested,
        Self::Activated,
        Self::Paused,
        Self::Resumed,
        Self::HealthRecorded,
    ];

    /// The stable string form.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Deleted => "deleted",
            Self::Submitted => "submitted",
            Self::Tested => "tested",
            Self::Activated => "activated",
            Self::Paused => "paused",
            Self::Resumed => "resumed",
            Self::HealthRecorded => "health_recorded",
        }
    }

    /// Parses the stable string form.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// An audit entry before the store numbers and seals it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Entry id (UUID v7).
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// The integration concerned.
    pub integration_id: Option<IntegrationId>,
    /// Who acted.
    pub actor: ActorId,
    /// What was done.
    pub action: AuditAction,
    /// When (UTC, microseconds).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Field-level diff (never a secret value).
    pub changes: Vec<FieldChange>,
    /// Why, as the actor said.
    pub reason: Option<String>,
    /// Change ticket.
    pub ticket: Option<String>,
    /// Who approved (activations).
    pub approver: Option<ActorId>,
}

impl AuditRecord {
    /// A record with no diff, reason, ticket or approver.
    pub fn new(
        tenant_id: TenantId,
        integration_id: Option<IntegrationId>,
        actor: ActorId,
        action: AuditAction,
        at: OffsetDateTime,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            tenant_id,
            integration_id,
            actor,
            action,
            at: truncate_to_micros(at),
            changes: Vec::new(),
            reason: None,
            ticket: None,
            approver: None,
        }
    }
}

/// A stored audit entry: a record with its place in the tenant's chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// The record.
    #[serde(flatten)]
    pub record: AuditRecord,
    /// 1 for a tenant's first entry, then +1 per entry.
    pub sequence: u64,
    /// Hash of the previous entry ([`GENESIS_HASH`] for the first).
    pub prev_hash: String,
    /// SHA-256 (hex) over `prev_hash`, `sequence` and the record.
    pub hash: String,
}

impl AuditEntry {
    /// Numbers and seals a record after the entry whose hash is `prev_hash`. The timestamp is
    /// truncated to microseconds first, so what is stored is what was hashed.
    pub fn seal(mut record: AuditRecord, sequence: u64, prev_hash: &str) -> Self {
        record.at = truncate_to_micros(record.at);
        let hash = Self::compute_hash(&record, sequence, prev_hash);
        Self {
            record,
            sequence,
            prev_hash: prev_hash.to_owned(),
            hash,
        }
    }

    /// The hash an entry with this content must carry.
    pub fn compute_hash(record: &AuditRecord, sequence: u64, prev_hash: &str) -> String {
        let mut h = Sha256::new();
        h.update(b"pathops-audit-v1\n");
        h.update(prev_hash.as_bytes());
        h.update(b"\n");
        h.update(sequence.to_be_bytes());
        h.update(serde_json::to_vec(record).expect("audit records serialize"));
        hex(&h.finalize())
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Where a chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit chain broken at sequence {sequence}: {kind}")]
pub struct ChainBreak {
    /// The first entry that does not fit.
    pub sequence: u64,
    /// How.
    pub kind: ChainBreakKind,
}

/// How an audit chain is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainBreakKind {
    /// The entry's content does not match its hash (edited).
    HashMismatch,
    /// The entry does not point to the previous entry's hash (removed or reordered).
    LinkMismatch,
    /// Sequence numbers skip or go backwards (removed or reordered).
    SequenceGap,
    /// Entries of several tenants in one chain.
    MixedTenants,
}

impl std::fmt::Display for ChainBreakKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::HashMismatch => "content does not match its hash (edited)",
            Self::LinkMismatch => "does not link to the previous entry (removed or reordered)",
            Self::SequenceGap => "sequence is not consecutive (removed or reordered)",
            Self::MixedTenants => "entries of another tenant in the chain",
        })
    }
}

/// Verifies a tenant's whole chain, given in the order read (by sequence).
pub fn verify_chain(entries: &[AuditEntry]) -> Result<(), ChainBreak> {
    let mut prev_hash = GENESIS_HASH;
    let tenant = entries.first().map(|e| &e.record.tenant_id);
    for (expected_sequence, e) in (1..).zip(entries) {
        let brk = |kind| ChainBreak {
            sequence: e.sequence,
            kind,
        };
        if Some(&e.record.tenant_id) != tenant {
            return Err(brk(ChainBreakKind::MixedTenants));
        }
        if e.sequence != expected_sequence {
            return Err(brk(ChainBreakKind::SequenceGap));
        }
        if e.prev_hash != prev_hash {
            return Err(brk(ChainBreakKind::LinkMismatch));
        }
        if AuditEntry::compute_hash(&e.record, e.sequence, &e.prev_hash) != e.hash {
            return Err(brk(ChainBreakKind::HashMismatch));
        }
        prev_hash = &e.hash;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn chain(n: usize) -> Vec<AuditEntry> {
        let mut out: Vec<AuditEntry> = Vec::new();
        for i in 0..n {
            let rec = AuditRecord::new(
                "acme".parse().unwrap(),
                Some(IntegrationId::new()),
                "alice".parse().unwrap(),
                AuditAction::Updated,
                datetime!(2026-01-01 00:00:00.123456789 UTC),
            );
            let prev = out
                .last()
                .map_or(GENESIS_HASH.to_owned(), |e| e.hash.clone());
            out.push(AuditEntry::seal(rec, i as u64 + 1, &prev));
        }
        out
    }

    #[test]
    fn an_intact_chain_verifies() {
        let c = chain(5);
        assert_eq!(verify_chain(&c), Ok(()));
        assert_eq!(
            c[0].record.at.nanosecond() % 1000,
            0,
            "sealed at microseconds"
        );
        let json = serde_json::to_string(&c[1]).unwrap();
        assert_eq!(serde_json::from_str::<AuditEntry>(&json).unwrap(), c[1]);
    }

    #[test]
    fn edits_removals_and_reorders_are_found() {
        let mut edited = chain(4);
        edited[2].record.reason = Some("sneaky".into());
        assert_eq!(
            verify_chain(&edited).unwrap_err().kind,
            ChainBreakKind::HashMismatch
        );
        assert_eq!(verify_chain(&edited).unwrap_err().sequence, 3);

        let mut removed = chain(4);
        removed.remove(1);
        assert_eq!(
            verify_chain(&removed).unwrap_err().kind,
            ChainBreakKind::SequenceGap
        );

        let mut reordered = chain(4);
        reordered.swap(1, 2);
        assert!(verify_chain(&reordered).is_err());

        // Renumbering after a removal still breaks the link.
        let mut renumbered = chain(4);
        renumbered.remove(1);
        for (i, e) in renumbered.iter_mut().enumerate() {
            e.sequence = i as u64 + 1;
        }
        assert_eq!(
            verify_chain(&renumbered).unwrap_err().kind,
            ChainBreakKind::LinkMismatch
        );
    }
}
