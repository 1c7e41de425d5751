//! Secrets for `--catalog`, through the built-in resolvers: `authref://env/…` from the
//! environment, `authref://file/…` from `--secrets-dir`, and `ref://…` from the environment
//! (`PATHOPS_SECRET_…`), else from `--secrets-dir`. Which references a tenant may use is the
//! catalog's `AuthRefPolicy` (set in `main`), checked before anything here runs.

use std::path::Path;
use std::sync::Arc;

use pathops_core::secret::{ChainResolver, EnvResolver, FileResolver, ResolveContext, not_found};
use pathops_core::{AuthRef, Error, Result, SecretResolver};
use secrecy::SecretString;

/// The resolver chain described in the [module docs](self).
pub(crate) fn resolver(secrets_dir: Option<&Path>) -> Arc<dyn SecretResolver> {
    let env: Arc<dyn SecretResolver> = Arc::new(EnvResolver::from_env());
    let chain = ChainResolver::new().backend("env", env.clone());
    Arc::new(match secrets_dir {
        None => chain.fallback(env),
        Some(dir) => {
            let files: Arc<dyn SecretResolver> = Arc::new(FileResolver::new(dir));
            chain
                .backend("file", files.clone())
                .fallback(Arc::new(FirstOf(vec![env, files])))
        }
    })
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
