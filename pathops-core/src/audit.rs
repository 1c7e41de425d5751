//! The audit trail: append-only, chained per tenant, keyed and anchored.
//!
//! A catalog mutation carries one [`AuditRecord`]; the store numbers it within its tenant and
//! seals it ([`AuditEntry::seal_with`]): the entry's hash covers its sequence, its content and
//! the hash of the previous entry.
//!
//! **What the chain proves, and what it does not.**
//! - With an [`AuditKey`] (HMAC-SHA256, the key resolved from an operator's reference), an
//!   entry that was edited, removed, inserted or reordered cannot be re-hashed by someone who
//!   can write to the database but does not hold the key: [`ChainVerifier`] reports the first
//!   entry that does not fit. Each entry names its key id, so keys rotate: old entries keep
//!   verifying with the old key while new ones use the new key.
//! - Without a key the hash is plain SHA-256: it finds accidental corruption and careless
//!   edits, but anyone with write access can recompute it.
//! - Deleting the *newest* entries leaves a valid prefix; no chain can tell by itself. The
//!   chain head is therefore published as an [`AuditAnchor`] (an `audit.anchored` event every
//!   N entries and on demand); verifying against an anchor kept outside the database detects
//!   the truncation ([`ChainBreakKind::Truncated`]).
//! - Archived and pruned ranges end in an [`AuditCheckpoint`]; verification continues from it.
//!
//! ```
//! use pathops_core::audit::{AuditAction, AuditEntry, AuditKey, AuditKeyring, AuditRecord, ChainVerifier, GENESIS_HASH};
//! use secrecy::SecretString;
//!
//! let key = AuditKey::new("2026-12", SecretString::from("a key of at least thirty-two bytes!!"))?;
//! let record = AuditRecord::new(
//!     "acme".parse()?, None, "alice".parse()?, AuditAction::Updated, time::OffsetDateTime::now_utc(),
//! );
//! let entry = AuditEntry::seal_with(record, 1, GENESIS_HASH, Some(&key));
//! let mut verifier = ChainVerifier::new(AuditKeyring::new([key]));
//! verifier.push(&entry)?;
//! assert_eq!(verifier.finish(None)?.verified, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::fmt;

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::clock::truncate_to_micros;
use crate::id::{ActorId, IntegrationId, TenantId};
use crate::integration::FieldChange;
use crate::validate::{Problem, ValidationError};

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
    /// Health check recorded by the monitor. Only written for a check that changed the
    /// lifecycle (a threshold crossed); other scheduled checks leave no audit entry.
    HealthRecorded,
    /// The chain head was anchored on demand.
    Anchored,
}

impl AuditAction {
    /// Every action.
    pub const ALL: [AuditAction; 10] = [
        Self::Created,
        Self::Updated,
        Self::Deleted,
        Self::Submitted,
        Self::Tested,
        Self::Activated,
        Self::Paused,
        Self::Resumed,
        Self::HealthRecorded,
        Self::Anchored,
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
            Self::Anchored => "anchored",
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

type HmacSha256 = Hmac<Sha256>;

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The shortest key [`AuditKey::new`] accepts, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// A key that seals audit entries (HMAC-SHA256), with the id entries record so it can rotate.
/// Its `Debug` never shows the key.
#[derive(Clone)]
pub struct AuditKey {
    id: String,
    secret: SecretString,
}

impl AuditKey {
    /// A key named `id` (1–64 characters of `A-Z a-z 0-9 . _ -`) from at least
    /// [`MIN_KEY_BYTES`] bytes of secret.
    pub fn new(id: impl Into<String>, secret: SecretString) -> Result<Self, ValidationError> {
        let id = id.into();
        let valid_id = !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !valid_id {
            return Err(ValidationError::new("audit_key.id", Problem::Malformed));
        }
        if secret.expose_secret().len() < MIN_KEY_BYTES {
            return Err(ValidationError::new(
                "audit_key",
                Problem::TooShort { min: MIN_KEY_BYTES },
            ));
        }
        Ok(Self { id, secret })
    }

    /// The key id entries record.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(self.secret.expose_secret().as_bytes())
            .expect("HMAC takes keys of any length")
    }

    /// HMAC-SHA256 (hex) over `parts`, each length-prefixed so no two inputs collide.
    fn sign(&self, parts: &[&[u8]]) -> String {
        let mut mac = self.mac();
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        hex(&mac.finalize().into_bytes())
    }
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditKey")
            .field("id", &self.id)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// The keys a verifier knows, by id (the current one and every retired one still in the chain).
#[derive(Debug, Clone, Default)]
pub struct AuditKeyring {
    keys: HashMap<String, AuditKey>,
}

impl AuditKeyring {
    /// A keyring of `keys` (a later key with the same id replaces an earlier one).
    pub fn new(keys: impl IntoIterator<Item = AuditKey>) -> Self {
        Self {
            keys: keys.into_iter().map(|k| (k.id.clone(), k)).collect(),
        }
    }

    /// Adds (or replaces) a key.
    pub fn insert(&mut self, key: AuditKey) {
        self.keys.insert(key.id.clone(), key);
    }

    /// The key with `id`.
    pub fn get(&self, id: &str) -> Option<&AuditKey> {
        self.keys.get(id)
    }

    /// Whether the keyring holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
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
    /// HMAC-SHA256 with the key `key_id` (or, unkeyed, SHA-256), hex, over `prev_hash`,
    /// `sequence` and the record.
    pub hash: String,
    /// The key that sealed the entry; `None` for an unkeyed entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
}

impl AuditEntry {
    /// Numbers and seals a record without a key (plain SHA-256; see the module docs for what
    /// that does not prove).
    pub fn seal(record: AuditRecord, sequence: u64, prev_hash: &str) -> Self {
        Self::seal_with(record, sequence, prev_hash, None)
    }

    /// Numbers and seals a record after the entry whose hash is `prev_hash`, with `key` when
    /// given. The timestamp is truncated to microseconds first, so what is stored is what was
    /// hashed.
    pub fn seal_with(
        mut record: AuditRecord,
        sequence: u64,
        prev_hash: &str,
        key: Option<&AuditKey>,
    ) -> Self {
        record.at = truncate_to_micros(record.at);
        let hash = match key {
            Some(key) => Self::compute_keyed_hash(&record, sequence, prev_hash, key),
            None => Self::compute_hash(&record, sequence, prev_hash),
        };
        Self {
            record,
            sequence,
            prev_hash: prev_hash.to_owned(),
            hash,
            key_id: key.map(|k| k.id.clone()),
        }
    }

    /// The unkeyed hash an entry with this content must carry.
    pub fn compute_hash(record: &AuditRecord, sequence: u64, prev_hash: &str) -> String {
        let mut h = Sha256::new();
        h.update(b"pathops-audit-v1\n");
        h.update(prev_hash.as_bytes());
        h.update(b"\n");
        h.update(sequence.to_be_bytes());
        h.update(serde_json::to_vec(record).expect("audit records serialize"));
        hex(&h.finalize())
    }

    /// The keyed hash an entry with this content must carry under `key`.
    pub fn compute_keyed_hash(
        record: &AuditRecord,
        sequence: u64,
        prev_hash: &str,
        key: &AuditKey,
    ) -> String {
        let content = serde_json::to_vec(record).expect("audit records serialize");
        key.sign(&[
            b"pathops-audit-v2",
            key.id.as_bytes(),
            prev_hash.as_bytes(),
            &sequence.to_be_bytes(),
            &content,
        ])
    }
}

/// A chain head kept outside the database: published as an `audit.anchored` event, and given
/// back to [`ChainVerifier::finish`] to detect truncation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditAnchor {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The sequence of the head entry.
    pub sequence: u64,
    /// Its hash.
    pub hash: String,
    /// The key that sealed it (`None`: unkeyed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// When the head entry was written.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

impl AuditAnchor {
    /// The anchor of `entry`.
    pub fn of(entry: &AuditEntry) -> Self {
        Self {
            tenant_id: entry.record.tenant_id.clone(),
            sequence: entry.sequence,
            hash: entry.hash.clone(),
            key_id: entry.key_id.clone(),
            at: entry.record.at,
        }
    }

    /// The `audit.anchored` event carrying this anchor. Outbox events belong to an
    /// integration; an anchor travels on the integration of the entry it anchors.
    pub fn event(&self, integration_id: IntegrationId, version: u64) -> crate::EventEnvelope {
        crate::EventEnvelope::new(
            crate::EventType::AuditAnchored,
            self.tenant_id.clone(),
            integration_id,
            version,
            self.at,
            serde_json::to_value(self).expect("anchors serialize"),
        )
    }
}

/// Where a pruned chain continues: the last entry removed (its sequence and hash). The next
/// entry still in the database links to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditCheckpoint {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The last sequence archived and pruned.
    pub sequence: u64,
    /// Its hash.
    pub hash: String,
}

impl AuditCheckpoint {
    /// The checkpoint as an anchor (the head of a chain pruned down to it). Its key id and
    /// time are not kept with the checkpoint, so they read as unknown.
    pub fn anchor(&self) -> AuditAnchor {
        AuditAnchor {
            tenant_id: self.tenant_id.clone(),
            sequence: self.sequence,
            hash: self.hash.clone(),
            key_id: None,
            at: OffsetDateTime::UNIX_EPOCH,
        }
    }
}

/// The signed head line of an archive (see [`AuditArchive`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveHead {
    /// Format marker, `pathops.audit-archive/v1`.
    pub format: String,
    /// The tenant.
    pub tenant_id: TenantId,
    /// Where the archived range starts from (genesis or an earlier checkpoint).
    pub from: Option<AuditCheckpoint>,
    /// The first archived sequence.
    pub first_sequence: u64,
    /// The last archived sequence.
    pub last_sequence: u64,
    /// The hash of the last archived entry (the checkpoint pruning leaves).
    pub last_hash: String,
    /// The key that signed this head (`None`: unsigned).
    pub key_id: Option<String>,
    /// HMAC-SHA256 (hex) over the fields above, with `key_id`.
    pub signature: Option<String>,
}

/// The format marker of [`ArchiveHead`].
pub const ARCHIVE_FORMAT: &str = "pathops.audit-archive/v1";

impl ArchiveHead {
    fn signed_parts(&self) -> Vec<Vec<u8>> {
        vec![
            self.format.as_bytes().to_vec(),
            self.tenant_id.as_str().as_bytes().to_vec(),
            serde_json::to_vec(&self.from).expect("checkpoints serialize"),
            self.first_sequence.to_be_bytes().to_vec(),
            self.last_sequence.to_be_bytes().to_vec(),
            self.last_hash.as_bytes().to_vec(),
        ]
    }

    fn sign(&mut self, key: &AuditKey) {
        let parts = self.signed_parts();
        let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        self.key_id = Some(key.id.clone());
        self.signature = Some(key.sign(&parts));
    }

    /// Whether the signature holds under `keys` (an unsigned head never does).
    pub fn verify_signature(&self, keys: &AuditKeyring) -> bool {
        let (Some(id), Some(signature)) = (&self.key_id, &self.signature) else {
            return false;
        };
        let Some(key) = keys.get(id) else {
            return false;
        };
        let parts = self.signed_parts();
        let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        let expected = key.sign(&parts);
        subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), signature.as_bytes()).into()
    }

    /// The checkpoint pruning this range leaves.
    pub fn checkpoint(&self) -> AuditCheckpoint {
        AuditCheckpoint {
            tenant_id: self.tenant_id.clone(),
            sequence: self.last_sequence,
            hash: self.last_hash.clone(),
        }
    }
}

/// An exported range of a tenant's chain: a signed head and the entries, written as JSON lines
/// (the head first) by [`AuditArchive::to_json_lines`].
#[derive(Debug, Clone, PartialEq)]
pub struct AuditArchive {
    /// The head.
    pub head: ArchiveHead,
    /// The entries, in sequence order.
    pub entries: Vec<AuditEntry>,
}

impl AuditArchive {
    /// An archive of `entries` (consecutive, in order, following `from`), its head signed
    /// with `key` when given. `None` for no entries.
    pub fn new(
        from: Option<AuditCheckpoint>,
        entries: Vec<AuditEntry>,
        key: Option<&AuditKey>,
    ) -> Option<Self> {
        let first = entries.first()?;
        let last = entries.last()?;
        let mut head = ArchiveHead {
            format: ARCHIVE_FORMAT.to_owned(),
            tenant_id: first.record.tenant_id.clone(),
            from,
            first_sequence: first.sequence,
            last_sequence: last.sequence,
            last_hash: last.hash.clone(),
            key_id: None,
            signature: None,
        };
        if let Some(key) = key {
            head.sign(key);
        }
        Some(Self { head, entries })
    }

    /// JSON lines: the head, then one entry per line.
    pub fn to_json_lines(&self) -> String {
        let mut out = serde_json::to_string(&self.head).expect("heads serialize");
        out.push('\n');
        for e in &self.entries {
            out.push_str(&serde_json::to_string(e).expect("entries serialize"));
            out.push('\n');
        }
        out
    }

    /// Parses [`to_json_lines`](Self::to_json_lines) output.
    pub fn from_json_lines(text: &str) -> Result<Self, ValidationError> {
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let head: ArchiveHead = lines
            .next()
            .and_then(|l| serde_json::from_str(l).ok())
            .filter(|h: &ArchiveHead| h.format == ARCHIVE_FORMAT)
            .ok_or(ValidationError::new("archive.head", Problem::Malformed))?;
        let entries = lines
            .map(serde_json::from_str)
            .collect::<Result<Vec<AuditEntry>, _>>()
            .map_err(|_| ValidationError::new("archive.entries", Problem::Malformed))?;
        Ok(Self { head, entries })
    }

    /// Verifies the archive on its own: the head's signature (when `keys` is not empty), and
    /// the entries as a chain from the head's starting point to its last hash.
    pub fn verify(&self, keys: &AuditKeyring) -> Result<VerifiedChain, ChainBreak> {
        let brk = |sequence, kind| Err(ChainBreak { sequence, kind });
        if !keys.is_empty() && !self.head.verify_signature(keys) {
            return brk(self.head.last_sequence, ChainBreakKind::BadArchiveSignature);
        }
        let mut v = ChainVerifier::new(keys.clone());
        if let Some(from) = &self.head.from {
            v = v.from_checkpoint(from);
        }
        for e in &self.entries {
            v.push(e)?;
        }
        let verified = v.finish(None)?;
        if verified
            .head
            .as_ref()
            .map(|h| (h.sequence, h.hash.as_str()))
            != Some((self.head.last_sequence, self.head.last_hash.as_str()))
        {
            return brk(self.head.last_sequence, ChainBreakKind::Truncated);
        }
        Ok(verified)
    }
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
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChainBreakKind {
    /// The entry's content does not match its hash (edited).
    HashMismatch,
    /// The entry does not point to the previous entry's hash (removed or reordered).
    LinkMismatch,
    /// Sequence numbers skip or go backwards (removed or reordered).
    SequenceGap,
    /// Entries of several tenants in one chain.
    MixedTenants,
    /// The entry names a key the verifier does not hold.
    UnknownKey(String),
    /// The entry is unkeyed although the verifier requires keyed entries (re-hashed without
    /// the key, or written before a key was configured).
    Unkeyed,
    /// The chain ends before the anchor's sequence: its newest entries were removed.
    Truncated,
    /// The entry at the anchor's sequence does not carry the anchor's hash.
    AnchorMismatch,
    /// An archive head whose signature does not verify.
    BadArchiveSignature,
}

impl fmt::Display for ChainBreakKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HashMismatch => f.write_str("content does not match its hash (edited)"),
            Self::LinkMismatch => {
                f.write_str("does not link to the previous entry (removed or reordered)")
            }
            Self::SequenceGap => f.write_str("sequence is not consecutive (removed or reordered)"),
            Self::MixedTenants => f.write_str("entries of another tenant in the chain"),
            Self::UnknownKey(id) => write!(f, "sealed with key {id:?}, which the verifier lacks"),
            Self::Unkeyed => f.write_str("not sealed with a key although keys are required"),
            Self::Truncated => f.write_str("the chain ends before its anchor (entries removed)"),
            Self::AnchorMismatch => f.write_str("does not match the anchored hash"),
            Self::BadArchiveSignature => f.write_str("the archive head's signature is invalid"),
        }
    }
}

/// What a verification covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedChain {
    /// Entries verified.
    pub verified: u64,
    /// The newest entry verified (or the checkpoint, when nothing follows it).
    pub head: Option<AuditAnchor>,
}

/// Verifies a chain entry by entry, in constant memory: feed it the entries in sequence order
/// with [`push`](Self::push), then [`finish`](Self::finish) with an anchor kept elsewhere.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    keys: AuditKeyring,
    require_keys: bool,
    tenant: Option<TenantId>,
    next_sequence: u64,
    prev_hash: String,
    verified: u64,
    head: Option<AuditAnchor>,
    anchor_seen: Option<(u64, String)>,
}

impl ChainVerifier {
    /// A verifier from the genesis of a chain. With keys, unkeyed entries are refused
    /// ([`ChainBreakKind::Unkeyed`]) unless [`accept_unkeyed`](Self::accept_unkeyed) is set;
    /// without keys, only unkeyed entries verify.
    pub fn new(keys: AuditKeyring) -> Self {
        Self {
            require_keys: !keys.is_empty(),
            keys,
            tenant: None,
            next_sequence: 1,
            prev_hash: GENESIS_HASH.to_owned(),
            verified: 0,
            head: None,
            anchor_seen: None,
        }
    }

    /// Also accepts unkeyed entries (a chain started before a key was configured).
    pub fn accept_unkeyed(mut self, accept: bool) -> Self {
        self.require_keys = self.require_keys && !accept;
        self
    }

    /// Continues after a checkpoint instead of the genesis.
    pub fn from_checkpoint(mut self, checkpoint: &AuditCheckpoint) -> Self {
        self.tenant = Some(checkpoint.tenant_id.clone());
        self.next_sequence = checkpoint.sequence + 1;
        self.prev_hash = checkpoint.hash.clone();
        self
    }

    /// Checks that the entry at `anchor.sequence`, when it is pushed, carries the anchor's hash.
    pub fn expect_anchor(mut self, anchor: &AuditAnchor) -> Self {
        self.anchor_seen = Some((anchor.sequence, anchor.hash.clone()));
        self
    }

    /// The next entry of the chain.
    pub fn push(&mut self, e: &AuditEntry) -> Result<(), ChainBreak> {
        let brk = |kind| ChainBreak {
            sequence: e.sequence,
            kind,
        };
        let tenant = self
            .tenant
            .get_or_insert_with(|| e.record.tenant_id.clone());
        if &e.record.tenant_id != tenant {
            return Err(brk(ChainBreakKind::MixedTenants));
        }
        if e.sequence != self.next_sequence {
            return Err(brk(ChainBreakKind::SequenceGap));
        }
        if e.prev_hash != self.prev_hash {
            return Err(brk(ChainBreakKind::LinkMismatch));
        }
        let expected = match &e.key_id {
            Some(id) => {
                let key = self
                    .keys
                    .get(id)
                    .ok_or_else(|| brk(ChainBreakKind::UnknownKey(id.clone())))?;
                AuditEntry::compute_keyed_hash(&e.record, e.sequence, &e.prev_hash, key)
            }
            None if self.require_keys => return Err(brk(ChainBreakKind::Unkeyed)),
            None => AuditEntry::compute_hash(&e.record, e.sequence, &e.prev_hash),
        };
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            expected.as_bytes(),
            e.hash.as_bytes(),
        )) {
            return Err(brk(ChainBreakKind::HashMismatch));
        }
        if let Some((sequence, hash)) = &self.anchor_seen
            && *sequence == e.sequence
            && *hash != e.hash
        {
            return Err(brk(ChainBreakKind::AnchorMismatch));
        }
        self.next_sequence += 1;
        self.prev_hash.clone_from(&e.hash);
        self.verified += 1;
        self.head = Some(AuditAnchor::of(e));
        Ok(())
    }

    /// Ends the verification. With an `anchor`, a chain that ends before the anchor's
    /// sequence is [`Truncated`](ChainBreakKind::Truncated), and one whose entry at that
    /// sequence differs is an [`AnchorMismatch`](ChainBreakKind::AnchorMismatch).
    pub fn finish(self, anchor: Option<&AuditAnchor>) -> Result<VerifiedChain, ChainBreak> {
        let last = self.next_sequence - 1;
        if let Some(anchor) = anchor {
            if last < anchor.sequence {
                return Err(ChainBreak {
                    sequence: last + 1,
                    kind: ChainBreakKind::Truncated,
                });
            }
            if last == anchor.sequence && self.verified == 0 && self.prev_hash != anchor.hash {
                return Err(ChainBreak {
                    sequence: last,
                    kind: ChainBreakKind::AnchorMismatch,
                });
            }
        }
        let head = self.head.or_else(|| {
            let checkpoint = AuditCheckpoint {
                tenant_id: self.tenant?,
                sequence: last,
                hash: self.prev_hash,
            };
            (last > 0).then(|| checkpoint.anchor())
        });
        Ok(VerifiedChain {
            verified: self.verified,
            head,
        })
    }
}

/// Verifies a tenant's whole unkeyed chain, given in the order read (by sequence).
pub fn verify_chain(entries: &[AuditEntry]) -> Result<(), ChainBreak> {
    let mut v = ChainVerifier::new(AuditKeyring::default());
    entries.iter().try_for_each(|e| v.push(e))
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
