//! [`VaultResolverBuilder`]: setters that never fail, one `build` that validates.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use pathops_core::secret::AuthRefPolicy;
use pathops_core::{BaseUrl, Error, Result, TenantId};
use secrecy::SecretString;

use super::VaultResolver;
use super::token::{Tokens, VaultTokenSource};
use crate::http::{HttpClient, HttpPolicy};

/// Builds a [`VaultResolver`]; setters never fail, [`build`](Self::build) validates once.
#[derive(Debug, Default)]
pub struct VaultResolverBuilder {
    address: Option<String>,
    namespace: Option<String>,
    tokens: Tokens,
    tenant_path_prefix: Option<String>,
    policy: HttpPolicy,
    timeout: Option<Duration>,
}

impl VaultResolverBuilder {
    /// Vault's address (`https://vault.example.com:8200`), without `/v1`.
    pub fn with_address(mut self, address: impl Into<String>) -> Self {
        self.address = Some(address.into());
        self
    }

    /// The Enterprise/HCP namespace (`ns1/ns2`), sent as `X-Vault-Namespace`.
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// The default token, for every tenant without one of its own. It serves every such
    /// tenant alike: map per-tenant paths in the catalog's `AuthRefPolicy` (see the
    /// [module docs](super#tenants)).
    pub fn with_token(mut self, token: SecretString) -> Self {
        self.tokens.default = Some(VaultTokenSource::Static(token));
        self
    }

    /// A default token file, read at every call (off the async worker threads).
    pub fn with_token_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tokens.default = Some(VaultTokenSource::File(path.into()));
        self
    }

    /// `tenant`'s own token, sent instead of the default for its reads.
    pub fn with_tenant_token(mut self, tenant: TenantId, token: SecretString) -> Self {
        self.tokens
            .tenants
            .insert(tenant, VaultTokenSource::Static(token));
        self
    }

    /// `tenant`'s own token file, read at every call (off the async worker threads).
    pub fn with_tenant_token_file(mut self, tenant: TenantId, path: impl Into<PathBuf>) -> Self {
        self.tokens
            .tenants
            .insert(tenant, VaultTokenSource::File(path.into()));
        self
    }

    /// Refuse, before any request, a reference whose path (`<mount>/<path>`, as written in
    /// the reference) is not under `template` rendered for the reading tenant, in whole
    /// segments: `secret/tenants/{tenant}` lets tenant `acme` read
    /// `authref://vault/secret/tenants/acme/gitlab#token`, not `…/tenants/acme-x/…`. Same
    /// placeholders and rule as the catalog's `AuthRefPolicy::with_backend`.
    pub fn with_tenant_path_prefix(mut self, template: impl Into<String>) -> Self {
        self.tenant_path_prefix = Some(template.into());
        self
    }

    /// The HTTP policy (default [`HttpPolicy::default`]).
    pub fn with_http(mut self, policy: HttpPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// How long one read may take (default: the policy's request timeout).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The resolver; [`Error::Validation`] for a bad address, [`Error::InvalidConfig`] with
    /// no token at all (neither a default nor a tenant's), an empty tenant path prefix, or an
    /// unusable HTTP policy.
    pub fn build(self) -> Result<VaultResolver> {
        let address = BaseUrl::parse(self.address.as_deref().unwrap_or_default())?;
        let address = match address.as_str().strip_suffix("/v1") {
            Some(stripped) => BaseUrl::parse(stripped)?,
            None => address,
        };
        if self.tokens.default.is_none() && self.tokens.tenants.is_empty() {
            return Err(Error::InvalidConfig {
                message: "the Vault resolver needs a token (with_token, with_token_file or a tenant's own)"
                    .to_owned(),
            });
        }
        let tenant_paths = match self.tenant_path_prefix {
            None => None,
            Some(template) => {
                let trimmed = template.trim_matches('/');
                if trimmed.is_empty() {
                    return Err(Error::InvalidConfig {
                        message: "the Vault tenant path prefix is empty".to_owned(),
                    });
                }
                let policy = AuthRefPolicy::new()
                    .without_backend("env")
                    .with_backend("vault", trimmed);
                Some((template, policy))
            }
        };
        let timeout = self.timeout.unwrap_or(self.policy.request_timeout);
        let namespace = self
            .namespace
            .map(|n| n.trim_matches('/').to_owned())
            .filter(|n| !n.is_empty());
        Ok(VaultResolver {
            http: HttpClient::new(self.policy)?,
            address,
            namespace,
            tokens: self.tokens,
            tenant_paths,
            timeout,
        })
    }
}

/// [`VaultResolver::from_vars`].
pub(super) fn from_vars<I, K, V>(vars: I) -> Result<VaultResolver>
where
    I: IntoIterator<Item = (K, V)>,
    K: Into<String>,
    V: Into<String>,
{
    let mut vars: HashMap<String, String> = vars
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    let mut builder = VaultResolver::builder();
    if let Some(addr) = vars.remove("VAULT_ADDR") {
        builder = builder.with_address(addr);
    }
    if let Some(token) = vars.remove("VAULT_TOKEN") {
        builder = builder.with_token(SecretString::from(token));
    }
    if let Some(ns) = vars.remove("VAULT_NAMESPACE") {
        builder = builder.with_namespace(ns);
    }
    builder.build()
}
