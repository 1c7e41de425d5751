//! [`ChainResolver`]: routes references to the resolver that serves them.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use secrecy::SecretString;

use super::{ResolveContext, SecretResolver, not_found};
use crate::auth_ref::AuthRef;
use crate::error::Result;

/// Routes `ref://` references by scope and `authref://` references by backend, through two
/// separate tables: a tenant whose id is `env`, `file` or `vault` is routed by the scope table,
/// never to the backend of that name. Unrouted references go to the fallback, if any.
///
/// ```
/// use std::sync::Arc;
/// use pathops_core::secret::{
///     ChainResolver, EnvResolver, ResolveContext, SecretPurpose, SecretResolver, StaticResolver,
/// };
/// use secrecy::ExposeSecret;
///
/// # tokio_test_block_on(async {
/// let tests = StaticResolver::new().with("ref://acme/gitlab/token".parse()?, "glpat-x");
/// let env = EnvResolver::from_vars([("PATHOPS_SECRET_ACME__DEPLOY", "k")]);
/// let chain = ChainResolver::new()
///     .scope("acme", Arc::new(tests))
///     .backend("env", Arc::new(env));
/// let ctx = ResolveContext::new("acme".parse()?, SecretPurpose::Credential);
/// let secret = chain.resolve(&ctx, &"authref://env/PATHOPS_SECRET_ACME__DEPLOY".parse()?).await?;
/// assert_eq!(secret.expose_secret(), "k");
/// assert!(chain.resolve(&ctx, &"ref://other/gitlab/token".parse()?).await.is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # });
/// # fn tokio_test_block_on<F: std::future::Future<Output = Result<(), Box<dyn std::error::Error>>>>(f: F) {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f).unwrap()
/// # }
/// ```
#[derive(Debug, Default)]
pub struct ChainResolver {
    scopes: HashMap<String, Arc<dyn SecretResolver>>,
    backends: HashMap<String, Arc<dyn SecretResolver>>,
    fallback: Option<Arc<dyn SecretResolver>>,
}

impl ChainResolver {
    /// No routes, no fallback.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends `ref://<scope>/…` references to `resolver`.
    pub fn scope(mut self, scope: impl Into<String>, resolver: Arc<dyn SecretResolver>) -> Self {
        self.scopes.insert(scope.into(), resolver);
        self
    }

    /// Sends `authref://<backend>/…` references to `resolver`.
    pub fn backend(
        mut self,
        backend: impl Into<String>,
        resolver: Arc<dyn SecretResolver>,
    ) -> Self {
        self.backends.insert(backend.into(), resolver);
        self
    }

    /// Sends every unrouted reference to `resolver`.
    pub fn fallback(mut self, resolver: Arc<dyn SecretResolver>) -> Self {
        self.fallback = Some(resolver);
        self
    }

    fn route(&self, auth_ref: &AuthRef) -> Option<&Arc<dyn SecretResolver>> {
        let routed = match (auth_ref.scope(), auth_ref.backend()) {
            (Some(scope), _) => self.scopes.get(scope),
            (None, Some(backend)) => self.backends.get(backend),
            (None, None) => None,
        };
        routed.or(self.fallback.as_ref())
    }
}

#[async_trait]
impl SecretResolver for ChainResolver {
    async fn resolve(&self, ctx: &ResolveContext, auth_ref: &AuthRef) -> Result<SecretString> {
        match self.route(auth_ref) {
            Some(resolver) => resolver.resolve(ctx, auth_ref).await,
            None => Err(not_found(auth_ref, Vec::new())),
        }
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::super::StaticResolver;
    use super::super::test_support::{block_on, ctx};
    use super::*;
    use crate::error::Error;

    fn r(s: &str) -> AuthRef {
        s.parse().unwrap()
    }

    #[test]
    fn chain_routes_by_scope_and_backend_then_fallback() {
        let a = StaticResolver::new().with(r("ref://acme/gitlab/t"), "from-acme");
        let fb = StaticResolver::new().with(r("ref://other/gitlab/t"), "from-fallback");
        let chain = ChainResolver::new()
            .scope("acme", Arc::new(a))
            .fallback(Arc::new(fb));
        let acme = ctx("acme");
        block_on(async {
            let got = chain
                .resolve(&acme, &r("ref://acme/gitlab/t"))
                .await
                .unwrap();
            assert_eq!(got.expose_secret(), "from-acme");
            let got = chain
                .resolve(&acme, &r("ref://other/gitlab/t"))
                .await
                .unwrap();
            assert_eq!(got.expose_secret(), "from-fallback");
            assert!(
                chain
                    .resolve(&acme, &r("ref://acme/gitlab/nope"))
                    .await
                    .is_err()
            );
        });
        let empty = ChainResolver::new();
        let err = block_on(empty.resolve(&acme, &r("ref://x/y/z"))).unwrap_err();
        assert!(matches!(err, Error::SecretNotFound { .. }));
    }

    #[test]
    fn a_tenant_named_like_a_backend_is_routed_by_scope() {
        for name in ["env", "file", "vault"] {
            let backend = StaticResolver::new()
                .with(r(&format!("ref://{name}/gitlab/t")), "from-the-backend");
            let tenant =
                StaticResolver::new().with(r(&format!("ref://{name}/gitlab/t")), "the-tenant's");
            let chain = ChainResolver::new()
                .backend(name, Arc::new(backend))
                .scope(name, Arc::new(tenant));
            let got =
                block_on(chain.resolve(&ctx(name), &r(&format!("ref://{name}/gitlab/t")))).unwrap();
            assert_eq!(got.expose_secret(), "the-tenant's", "{name}");
            // And a backend reference never reaches the scope of that name.
            let only_scope = ChainResolver::new().scope(
                name,
                Arc::new(StaticResolver::new().with(r(&format!("authref://{name}/x")), "wrong")),
            );
            assert!(
                block_on(only_scope.resolve(&ctx(name), &r(&format!("authref://{name}/x"))))
                    .is_err(),
                "{name}"
            );
        }
    }
}
