//! [`SecretResolver`]: turns an [`AuthRef`] into a [`SecretString`] at call time, for one
//! tenant's integration and one purpose ([`ResolveContext`]).
//!
//! Built in:
//! - [`StaticResolver`]: a fixed map, for tests and examples;
//! - [`EnvResolver`]: environment variables (mapping below), read once through a pure function
//!   over an iterator so tests never touch the process environment;
//! - [`FileResolver`]: one file per secret under a directory, never outside it;
//! - [`ChainResolver`]: routes `ref://` references by scope and `authref://` references by
//!   backend, through two separate tables.
//!
//! I/O-bound resolvers (Vault, …) live in `pathops-connectors`.
//!
//! # Who may use which reference
//!
//! Tenant admins choose the references their integrations hold, and tenant admins are not
//! trusted: a reference naming another tenant's secret must never resolve. The catalog checks
//! every reference against an [`AuthRefPolicy`] when it is written (create, update, import) and
//! again before it resolves it (rows written before the policy existed). The default policy lets
//! a tenant use `ref://<its own tenant id>/…` and `authref://env/PATHOPS_SECRET_<TENANT>__…`
//! only; the operator declares shared scopes and maps other backends per tenant. Resolvers get
//! the [`ResolveContext`] too, so a resolver can choose a per-tenant credential of its own (the
//! Vault resolver's per-tenant tokens).
//!
//! # Environment mapping
//!
//! | reference | variable |
//! |---|---|
//! | `ref://<scope>/<provider>/<key>` | `PATHOPS_SECRET_<SCOPE>__<PROVIDER>__<KEY>`: upper-cased, `-` becomes `_`, segments joined by `__` |
//! | `authref://env/<NAME>` | `NAME`, exactly (one path segment) |
//!
//! `ref://acme/gitlab/ci-token` reads `PATHOPS_SECRET_ACME__GITLAB__CI_TOKEN`. The mapping is
//! injective: it serves only segments of lowercase letters and digits joined by single hyphens
//! (`ci-token`, `team-a`), and refuses any other reference with
//! [`Problem::NotEnvMappable`](crate::Problem::NotEnvMappable) instead of letting `acme-x`,
//! `acme_x` and `acme.x` share one variable.

mod chain;
mod env;
mod file;
mod policy;
mod statics;

use std::fmt;

use async_trait::async_trait;
use secrecy::SecretString;

use crate::auth_ref::AuthRef;
use crate::error::{Error, Result};
use crate::id::{IntegrationId, TenantId};
use crate::integration::Integration;
use crate::provider::Provider;

pub use chain::ChainResolver;
pub use env::EnvResolver;
pub use file::FileResolver;
pub use policy::{AuthRefPolicy, CONFIGURATION_REF_SUFFIX, RefDenied, configuration_refs};
#[cfg(feature = "runtime")]
pub(crate) use policy::{check_integration_refs, refs_at};
pub use statics::StaticResolver;

/// Why a secret is resolved: what the caller will do with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SecretPurpose {
    /// The integration's `auth_ref`, sent to the tool by a connection test or health check.
    Credential,
    /// A `webhook_secret_ref`: verifies deliveries the tool sends to PathOps.
    WebhookSecret,
    /// The integration's `auth_ref`, used to ask the tool for a test delivery.
    TriggerCredential,
    /// Another reference a connector reads from the configuration (a `*_ref` key).
    ConfigurationRef,
    /// The operator's audit chain key (resolved for the tenant whose entries it seals).
    AuditKey,
}

impl SecretPurpose {
    /// The purpose's name in logs and errors (`credential`, `webhook_secret`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Credential => "credential",
            Self::WebhookSecret => "webhook_secret",
            Self::TriggerCredential => "trigger_credential",
            Self::ConfigurationRef => "configuration_ref",
            Self::AuditKey => "audit_key",
        }
    }
}

impl fmt::Display for SecretPurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// On whose behalf a reference is resolved. The tenant is always known; the integration and
/// provider are known whenever the catalog resolves for an integration.
///
/// ```
/// use pathops_core::secret::{ResolveContext, SecretPurpose};
///
/// let ctx = ResolveContext::new("acme".parse()?, SecretPurpose::Credential);
/// assert_eq!(ctx.tenant.as_str(), "acme");
/// assert!(ctx.integration.is_none());
/// # Ok::<(), pathops_core::ValidationError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResolveContext {
    /// The tenant whose secret this is.
    pub tenant: TenantId,
    /// The integration the secret is for.
    pub integration: Option<IntegrationId>,
    /// The integration's provider.
    pub provider: Option<Provider>,
    /// What the secret is for.
    pub purpose: SecretPurpose,
}

impl ResolveContext {
    /// A context for `tenant` outside any integration.
    pub fn new(tenant: TenantId, purpose: SecretPurpose) -> Self {
        Self {
            tenant,
            integration: None,
            provider: None,
            purpose,
        }
    }

    /// A context for one of `integration`'s references.
    pub fn for_integration(integration: &Integration, purpose: SecretPurpose) -> Self {
        Self {
            tenant: integration.tenant_id.clone(),
            integration: Some(integration.id),
            provider: Some(integration.provider.clone()),
            purpose,
        }
    }
}

/// Resolves credential references into secrets. Object-safe; hold it as
/// `Arc<dyn SecretResolver>`.
///
/// A resolver is called only for references the catalog's [`AuthRefPolicy`] allowed for
/// `ctx.tenant`; it may narrow access further (a per-tenant token, a per-tenant root) but never
/// needs to re-check the policy.
#[async_trait]
pub trait SecretResolver: Send + Sync + fmt::Debug {
    /// The secret behind `auth_ref`, for `ctx`. A reference with no secret behind it is
    /// [`Error::SecretNotFound`] naming the reference and where the resolver looked; a secret
    /// without a string under the reference's field is [`Error::SecretFieldMissing`]; a
    /// backend that refuses the resolver's valid credential is [`Error::SecretAccessDenied`].
    async fn resolve(&self, ctx: &ResolveContext, auth_ref: &AuthRef) -> Result<SecretString>;
}

/// [`Error::SecretNotFound`] for `auth_ref`, having looked in `looked_in`.
pub fn not_found(auth_ref: &AuthRef, looked_in: Vec<String>) -> Error {
    Error::SecretNotFound {
        auth_ref: auth_ref.to_string(),
        looked_in,
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::{ResolveContext, SecretPurpose};

    pub(crate) fn ctx(tenant: &str) -> ResolveContext {
        ResolveContext::new(tenant.parse().unwrap(), SecretPurpose::Credential)
    }

    pub(crate) fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }
}
