//! Secrets for `--catalog`, through the built-in resolvers: `authref://env/…` from the
//! environment, `authref://file/…` from `--secrets-dir`, `authref://vault/…` from Vault or
//! OpenBao when `VAULT_ADDR` is set (with `VAULT_TOKEN`, optionally `VAULT_NAMESPACE`), and
//! `ref://…` from the environment (`PATHOPS_SECRET_…`), else from `--secrets-dir`. Which
//! references a tenant may use is the catalog's `AuthRefPolicy` ([`policy`]), checked before
//! anything here runs: files under `<dir>/<tenant>/`, Vault paths under
//! `PATHOPS_VAULT_PREFIX` (default `secret/tenants/{tenant}`).

use std::path::Path;
use std::sync::Arc;

use pathops_connectors::vault::VaultResolver;
use pathops_core::error::chain as chain_text;
use pathops_core::secret::{
    AuthRefPolicy, ChainResolver, EnvResolver, FileResolver, ResolveContext, not_found,
};
use pathops_core::{AuthRef, Error, Result, SecretResolver};
use secrecy::SecretString;

/// The per-tenant Vault prefix when `PATHOPS_VAULT_PREFIX` is unset.
const DEFAULT_VAULT_PREFIX: &str = "secret/tenants/{tenant}";

/// Which references a tenant may use: files under its own directory, Vault paths under its
/// own prefix (`PATHOPS_VAULT_PREFIX`, `{tenant}` replaced).
pub(crate) fn policy() -> AuthRefPolicy {
    let vault = std::env::var("PATHOPS_VAULT_PREFIX")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| DEFAULT_VAULT_PREFIX.to_owned());
    AuthRefPolicy::new()
        .with_backend("file", "{tenant}")
        .with_backend("vault", vault)
}

/// The resolver chain described in the [module docs](self); an error when `VAULT_ADDR` is
/// set but the Vault settings are not usable.
pub(crate) fn resolver(
    secrets_dir: Option<&Path>,
) -> std::result::Result<Arc<dyn SecretResolver>, String> {
    let env: Arc<dyn SecretResolver> = Arc::new(EnvResolver::from_env());
    let mut chain = ChainResolver::new().backend("env", env.clone());
    if std::env::var_os("VAULT_ADDR").is_some() {
        let vault = VaultResolver::from_env().map_err(|e| {
            format!(
                "the Vault settings (VAULT_ADDR, VAULT_TOKEN): {}",
                chain_text(&e)
            )
        })?;
        chain = chain.backend("vault", Arc::new(vault));
    }
    Ok(Arc::new(match secrets_dir {
        None => chain.fallback(env),
        Some(dir) => {
            let files: Arc<dyn SecretResolver> = Arc::new(FileResolver::new(dir));
            chain
                .backend("file", files.clone())
                .fallback(Arc::new(FirstOf(vec![env, files])))
        }
    }))
}

/// The first resolver that has a secret for a reference; when none has, the error names
/// every place they looked. Any other failure (an unreadable file) stops the search.
#[derive(Debug)]
struct FirstOf(Vec<Arc<dyn SecretResolver>>);

#[async_trait::async_trait]
impl SecretResolver for FirstOf {
    async fn resolve(&self, ctx: &ResolveContext, auth_ref: &AuthRef) -> Result<SecretString> {
        let mut looked = Vec::new();
        for resolver in &self.0 {
            match resolver.resolve(ctx, auth_ref).await {
                Ok(secret) => return Ok(secret),
                Err(Error::SecretNotFound { looked_in, .. }) => looked.extend(looked_in),
                Err(e) => return Err(e),
            }
        }
        Err(not_found(auth_ref, looked))
    }
}
