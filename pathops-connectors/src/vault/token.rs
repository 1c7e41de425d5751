//! Where the resolver's Vault tokens come from: one default, and optionally one per tenant.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use pathops_core::{Error, Result, TenantId};
use secrecy::SecretString;

/// Where the resolver reads a Vault token.
#[derive(Clone)]
#[non_exhaustive]
pub enum VaultTokenSource {
    /// A fixed token.
    Static(SecretString),
    /// A file holding the token, read at every call (a Vault Agent sink rotates it), off the
    /// async worker threads; surrounding whitespace is trimmed.
    File(PathBuf),
}

impl fmt::Debug for VaultTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Static(_) => f.write_str("Static([REDACTED])"),
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

/// A token file could not be read (the path is not a secret; the file's content is).
#[derive(Debug, thiserror::Error)]
#[error("cannot read the Vault token file {}", path.display())]
struct TokenFileError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

impl VaultTokenSource {
    /// The token, reading a file with `tokio::fs` (a blocking-pool thread).
    pub(super) async fn load(&self) -> Result<SecretString> {
        match self {
            Self::Static(token) => Ok(token.clone()),
            Self::File(path) => {
                let text = tokio::fs::read_to_string(path).await.map_err(|source| {
                    Error::backend(
                        "vault",
                        TokenFileError {
                            path: path.clone(),
                            source,
                        },
                    )
                })?;
                Ok(SecretString::from(text.trim().to_owned()))
            }
        }
    }
}

/// The default token and the tenants' own.
#[derive(Clone, Default)]
pub(super) struct Tokens {
    pub(super) default: Option<VaultTokenSource>,
    pub(super) tenants: BTreeMap<TenantId, VaultTokenSource>,
}

impl Tokens {
    /// `tenant`'s own token source, else the default; [`Error::Unauthenticated`] when there is
    /// neither.
    pub(super) fn for_tenant(&self, tenant: &TenantId) -> Result<&VaultTokenSource> {
        self.tenants
            .get(tenant)
            .or(self.default.as_ref())
            .ok_or_else(|| Error::Unauthenticated {
                message: format!(
                    "the Vault resolver has no token for tenant `{tenant}` and no default token"
                ),
            })
    }

    /// The default token source; [`Error::Unauthenticated`] when there is none.
    pub(super) fn default_source(&self) -> Result<&VaultTokenSource> {
        self.default.as_ref().ok_or_else(|| Error::Unauthenticated {
            message: "the Vault resolver has no default token".to_owned(),
        })
    }
}

/// Tenant ids and where their tokens come from; never a token.
impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("default", &self.default)
            .field("tenants", &self.tenants)
            .finish()
    }
}
