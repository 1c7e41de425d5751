//! The audit chain's key, anchors, verification and archival.
//!
//! The operator supplies the chain key as a reference ([`CatalogBuilder::with_audit_key`]); the
//! catalog resolves it through its resolver (once per tenant and key id, then cached for the
//! catalog's lifetime: rotate by building the catalog with a new key id and keeping the old one
//! as [`with_retired_audit_key`](CatalogBuilder::with_retired_audit_key) while entries it
//! sealed remain in the database).

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::sync::{Arc, Mutex};

use tracing::instrument;

use super::{Catalog, CatalogBuilder, Principal, Scope};
use crate::audit::{
    AuditAnchor, AuditArchive, AuditKey, AuditKeyring, ChainBreak, ChainBreakKind, ChainVerifier,
    VerifiedChain,
};
use crate::auth_ref::AuthRef;
use crate::error::{Error, Result};
use crate::id::TenantId;
use crate::secret::{ResolveContext, SecretPurpose};
use crate::store::{AuditQuery, AuditSeal};
use crate::validate::{Problem, ValidationError};

/// How often the chain head is anchored by default (entries).
pub const DEFAULT_ANCHOR_EVERY: u64 = 1000;

/// The catalog's audit key configuration and the keys it resolved.
#[derive(Debug)]
pub(super) struct AuditKeys {
    current: Option<(String, AuthRef)>,
    retired: Vec<(String, AuthRef)>,
    anchor_every: Option<NonZeroU64>,
    resolved: Mutex<HashMap<(TenantId, String), Arc<AuditKey>>>,
}

impl Default for AuditKeys {
    fn default() -> Self {
        Self {
            current: None,
            retired: Vec::new(),
            anchor_every: NonZeroU64::new(DEFAULT_ANCHOR_EVERY),
            resolved: Mutex::new(HashMap::new()),
        }
    }
}

/// What [`Catalog::verify_audit_chain`] checks beyond the chain itself.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// An anchor kept outside the database: a chain that ends before it, or differs at it,
    /// is broken.
    pub anchor: Option<AuditAnchor>,
    /// Accept unkeyed entries although a key is configured (a chain that began before the
    /// key was).
    pub accept_unkeyed: bool,
}

impl CatalogBuilder {
    /// Seals audit entries with HMAC-SHA256 under the key `auth_ref` resolves to, recorded as
    /// `key_id` in each entry (at least 32 bytes of secret). Without a key, entries are sealed
    /// with plain SHA-256, which anyone with write access can recompute.
    pub fn with_audit_key(mut self, key_id: impl Into<String>, auth_ref: AuthRef) -> Self {
        self.audit.current = Some((key_id.into(), auth_ref));
        self
    }

    /// A key that sealed older entries, still needed to verify them after a rotation.
    pub fn with_retired_audit_key(mut self, key_id: impl Into<String>, auth_ref: AuthRef) -> Self {
        self.audit.retired.push((key_id.into(), auth_ref));
        self
    }

    /// Anchors the chain head (an `audit.anchored` event) every `entries` entries (default
    /// 1,000); `0` anchors only on demand ([`Catalog::anchor_audit`]).
    pub fn with_audit_anchor_every(mut self, entries: u64) -> Self {
        self.audit.anchor_every = NonZeroU64::new(entries);
        self
    }
}

impl Catalog {
    /// Resolves (or takes from the cache) one key for `tenant`.
    async fn audit_key(
        &self,
        tenant: &TenantId,
        (id, auth_ref): &(String, AuthRef),
    ) -> Result<Arc<AuditKey>> {
        let slot = (tenant.clone(), id.clone());
        if let Some(key) = self
            .inner
            .audit
            .resolved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&slot)
        {
            return Ok(key.clone());
        }
        let ctx = ResolveContext::new(tenant.clone(), SecretPurpose::AuditKey);
        let secret = self.inner.secrets.resolve(&ctx, auth_ref).await?;
        let key = Arc::new(AuditKey::new(id.clone(), secret)?);
        self.inner
            .audit
            .resolved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(slot, key.clone());
        Ok(key)
    }

    /// How the entries of `tenant` are sealed now. Fails when the key does not resolve: a
    /// write that cannot be audited is not made.
    pub(super) async fn seal_for(&self, tenant: &TenantId) -> Result<AuditSeal> {
        let key = match &self.inner.audit.current {
            Some(current) => Some(self.audit_key(tenant, current).await?),
            None => None,
        };
        Ok(AuditSeal {
            key,
            anchor_every: self.inner.audit.anchor_every,
        })
    }

    /// Every configured key of `tenant`, current and retired.
    async fn keyring(&self, tenant: &TenantId) -> Result<AuditKeyring> {
        let mut ring = AuditKeyring::default();
        for k in self
            .inner
            .audit
            .current
            .iter()
            .chain(&self.inner.audit.retired)
        {
            ring.insert(AuditKey::clone(&*self.audit_key(tenant, k).await?));
        }
        Ok(ring)
    }

    /// Verifies the principal's audit chain page by page, in constant memory, from the
    /// tenant's checkpoint (or the genesis). `Ok(Err(break))` names the first entry that does
    /// not fit: edited, removed, inserted, reordered, sealed without the key, or — against
    /// `options.anchor` — truncated.
    #[instrument(name = "catalog.verify_audit_chain", skip_all, fields(tenant_id = %principal.tenant, action = "verify_audit_chain"))]
    pub async fn verify_audit_chain(
        &self,
        principal: &Principal,
        options: &VerifyOptions,
    ) -> Result<std::result::Result<VerifiedChain, ChainBreak>> {
        principal.require(Scope::IntegrationsRead)?;
        let tenant = &principal.tenant;
        let store = &self.inner.store;
        let mut verifier =
            ChainVerifier::new(self.keyring(tenant).await?).accept_unkeyed(options.accept_unkeyed);
        let checkpoint = store.audit_checkpoint(tenant).await?;
        let mut query = AuditQuery::all();
        if let Some(cp) = &checkpoint {
            // An anchor at the checkpoint is checked against it; one before it was archived
            // with its range (the archive verifies it).
            if let Some(anchor) = &options.anchor
                && anchor.sequence == cp.sequence
                && anchor.hash != cp.hash
            {
                return Ok(Err(ChainBreak {
                    sequence: cp.sequence,
                    kind: ChainBreakKind::AnchorMismatch,
                }));
            }
            verifier = verifier.from_checkpoint(cp);
            query.after_sequence = Some(cp.sequence);
        }
        if let Some(anchor) = &options.anchor {
            verifier = verifier.expect_anchor(anchor);
        }
        loop {
            let page = store.audit(tenant, &query).await?;
            let full = page.len() >= query.effective_limit() as usize;
            for entry in &page {
                if let Err(b) = verifier.push(entry) {
                    return Ok(Err(b));
                }
            }
            match page.last() {
                Some(last) if full => query.after_sequence = Some(last.sequence),
                _ => break,
            }
        }
        Ok(verifier.finish(options.anchor.as_ref()))
    }

    /// Anchors the principal's chain head now: adds an `audit.anchored` event for it to the
    /// outbox and returns it (keep it outside the database). `None` for an empty chain.
    #[instrument(name = "catalog.anchor_audit", skip_all, fields(tenant_id = %principal.tenant, action = "anchor_audit"))]
    pub async fn anchor_audit(&self, principal: &Principal) -> Result<Option<AuditAnchor>> {
        principal.require(Scope::IntegrationsAdmin)?;
        self.inner.store.anchor_audit(&principal.tenant).await
    }

    /// Exports the principal's chain from its checkpoint (or the genesis) through
    /// `through_sequence` as an archive whose head is signed with the current key. The range
    /// is read into memory: export in ranges of a size you can hold.
    #[instrument(name = "catalog.export_audit", skip_all, fields(tenant_id = %principal.tenant, action = "export_audit"))]
    pub async fn export_audit(
        &self,
        principal: &Principal,
        through_sequence: u64,
    ) -> Result<Option<AuditArchive>> {
        principal.require(Scope::IntegrationsSystem)?;
        let tenant = &principal.tenant;
        let store = &self.inner.store;
        let from = store.audit_checkpoint(tenant).await?;
        let mut query = AuditQuery::all();
        query.after_sequence = from.as_ref().map(|c| c.sequence);
        let mut entries = Vec::new();
        'pages: loop {
            let page = store.audit(tenant, &query).await?;
            let full = page.len() >= query.effective_limit() as usize;
            let last = page.last().map(|e| e.sequence);
            for e in page {
                if e.sequence > through_sequence {
                    break 'pages;
                }
                entries.push(e);
            }
            match last {
                Some(last) if full => query.after_sequence = Some(last),
                _ => break,
            }
        }
        let seal = self.seal_for(tenant).await?;
        Ok(AuditArchive::new(from, entries, seal.key.as_deref()))
    }

    /// Prunes the range `archive` holds from the database, leaving its checkpoint. The
    /// archive must verify (signature with the configured keys, entries as a chain) and start
    /// where the stored chain starts now; verification then continues from the checkpoint.
    #[instrument(name = "catalog.prune_audit", skip_all, fields(tenant_id = %principal.tenant, action = "prune_audit"))]
    pub async fn prune_audit(&self, principal: &Principal, archive: &AuditArchive) -> Result<u64> {
        principal.require(Scope::IntegrationsSystem)?;
        let tenant = &principal.tenant;
        if archive.head.tenant_id != *tenant {
            return Err(ValidationError::new("archive.tenant_id", Problem::OutOfRange).into());
        }
        archive.verify(&self.keyring(tenant).await?)?;
        let current = self.inner.store.audit_checkpoint(tenant).await?;
        if current != archive.head.from {
            return Err(Error::InvalidConfig {
                message: "the archive does not start where the stored chain starts; export again"
                    .to_owned(),
            });
        }
        self.inner
            .store
            .prune_audit(&archive.head.checkpoint())
            .await
    }
}
