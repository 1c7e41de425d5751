//! [`SecretResolver`]: turns an [`AuthRef`] into a [`SecretString`] at call time.
//!
//! Built in:
//! - [`StaticResolver`]: a fixed map, for tests and examples;
//! - [`EnvResolver`]: environment variables (mapping below), read once through a pure function
//!   over an iterator so tests never touch the process environment;
//! - [`FileResolver`]: one file per secret under a directory, never outside it;
//! - [`ChainResolver`]: routes by scope (`ref://`) or backend (`authref://`).
//!
//! I/O-bound resolvers (Vault, …) live in `pathops-connectors`.
//!
//! # Environment mapping
//!
//! | reference | variable |
//! |---|---|
//! | `ref://<scope>/<provider>/<key>` | `PATHOPS_SECRET_<SCOPE>_<PROVIDER>_<KEY>`: upper-cased, every character other than a letter or digit becomes `_` |
//! | `authref://env/<NAME>` | `NAME`, exactly (one path segment) |
//!
//! `ref://acme/gitlab/ci-token` reads `PATHOPS_SECRET_ACME_GITLAB_CI_TOKEN`.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use secrecy::SecretString;

use crate::auth_ref::AuthRef;
use crate::error::{Error, Result};

/// Resolves credential references into secrets. Object-safe; hold it as
/// `Arc<dyn SecretResolver>`.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait SecretResolver: Send + Sync + fmt::Debug {
    /// The secret behind `auth_ref`. A reference with no secret behind it is
    /// [`Error::SecretNotFound`] naming the reference and where the resolver looked.
    async fn resolve(&self, auth_ref: &AuthRef) -> Result<SecretString>;
}

/// [`Error::SecretNotFound`] for `auth_ref`, having looked in `looked_in`.
pub fn not_found(auth_ref: &AuthRef, looked_in: Vec<String>) -> Error {
    Error::SecretNotFound {
        auth_ref: auth_ref.to_string(),
        looked_in,
    }
}

/// A fixed map from reference to secret.
#[derive(Default)]
pub struct StaticResolver {
    secrets: HashMap<AuthRef, SecretString>,
}

impl StaticResolver {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a secret.
    pub fn with(mut self, auth_ref: AuthRef, secret: impl Into<String>) -> Self {
        self.secrets
            .insert(auth_ref, SecretString::from(secret.into()));
        self
    }

    /// Adds or replaces a secret.
    pub fn insert(&mut self, auth_ref: AuthRef, secret: SecretString) {
        self.secrets.insert(auth_ref, secret);
    }
}

impl fmt::Debug for StaticResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut refs: Vec<&str> = self.secrets.keys().map(AuthRef::as_str).collect();
        refs.sort_unstable();
        f.debug_struct("StaticResolver")
            .field("refs", &refs)
            .finish()
    }
}

#[async_trait]
impl SecretResolver for StaticResolver {
    async fn resolve(&self, auth_ref: &AuthRef) -> Result<SecretString> {
        self.secrets
            .get(auth_ref)
            .cloned()
            .ok_or_else(|| not_found(auth_ref, vec!["the static secrets".to_owned()]))
    }
}

/// Secrets from environment variables, captured once (see the module docs for the mapping).
pub struct EnvResolver {
    vars: HashMap<String, SecretString>,
}

impl EnvResolver {
    /// Captures the process environment. A thin wrapper over [`EnvResolver::from_vars`].
    pub fn from_env() -> Self {
        Self::from_vars(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )
    }

    /// Builds the resolver from `(name, value)` pairs.
    pub fn from_vars<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            vars: vars
                .into_iter()
                .map(|(k, v)| (k.into(), SecretString::from(v.into())))
                .collect(),
        }
    }

    /// The variable a reference maps to, or `None` for a reference this resolver cannot serve
    /// (another `authref://` backend, or an `authref://env/` path with more than one segment).
    pub fn variable_name(auth_ref: &AuthRef) -> Option<String> {
        if let (Some(scope), Some(provider), Some(key)) =
            (auth_ref.scope(), auth_ref.provider(), auth_ref.key())
        {
            let mangle = |s: &str| -> String {
                s.chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() {
                            c.to_ascii_uppercase()
                        } else {
                            '_'
                        }
                    })
                    .collect()
            };
            return Some(format!(
                "PATHOPS_SECRET_{}_{}_{}",
                mangle(scope),
                mangle(provider),
                mangle(key)
            ));
        }
        match (auth_ref.backend(), auth_ref.path(), auth_ref.field()) {
            (Some("env"), Some(path), None) if !path.contains('/') => Some(path.to_owned()),
            _ => None,
        }
    }
}

impl fmt::Debug for EnvResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvResolver")
            .field("variables", &self.vars.len())
            .finish()
    }
}

#[async_trait]
impl SecretResolver for EnvResolver {
    async fn resolve(&self, auth_ref: &AuthRef) -> Result<SecretString> {
        let Some(name) = Self::variable_name(auth_ref) else {
            return Err(not_found(auth_ref, Vec::new()));
        };
        self.vars
            .get(&name)
            .cloned()
            .ok_or_else(|| not_found(auth_ref, vec![format!("environment variable {name}")]))
    }
}

/// One file per secret under a root directory. `ref://<scope>/<provider>/<key>` reads
/// `<root>/<scope>/<provider>/<key>`; `authref://file/<path>` reads `<root>/<path>`. One trailing
/// newline is stripped. Paths that leave the root (through a symbolic link) are refused.
///
/// Files are read with blocking `std::fs` calls: secrets are small and read once per check.
#[derive(Debug, Clone)]
pub struct FileResolver {
    root: PathBuf,
}

impl FileResolver {
    /// Serves secrets under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn relative_path(auth_ref: &AuthRef) -> Option<PathBuf> {
        if let (Some(scope), Some(provider), Some(key)) =
            (auth_ref.scope(), auth_ref.provider(), auth_ref.key())
        {
            return Some([scope, provider, key].iter().collect());
        }
        match (auth_ref.backend(), auth_ref.path(), auth_ref.field()) {
            (Some("file"), Some(path), None) => Some(path.split('/').collect()),
            _ => None,
        }
    }

    fn read(&self, relative: &Path) -> std::io::Result<Option<String>> {
        let root = self.root.canonicalize()?;
        let path = match root.join(relative).canonicalize() {
            Ok(path) => path,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if !path.starts_with(&root) || !path.is_file() {
            return Ok(None);
        }
        let mut text = std::fs::read_to_string(path)?;
        if text.ends_with('\n') {
            text.pop();
            if text.ends_with('\r') {
                text.pop();
            }
        }
        Ok(Some(text))
    }
}

#[async_trait]
impl SecretResolver for FileResolver {
    async fn resolve(&self, auth_ref: &AuthRef) -> Result<SecretString> {
        let relative =
            Self::relative_path(auth_ref).ok_or_else(|| not_found(auth_ref, Vec::new()))?;
        match self.read(&relative) {
            Ok(Some(text)) => Ok(SecretString::from(text)),
            Ok(None) => Err(not_found(
                auth_ref,
                vec![format!("file {}", self.root.join(&relative).display())],
            )),
            Err(e) => Err(Error::backend("file", e)),
        }
    }
}

/// Routes a reference by [`AuthRef::route`]: the scope of `ref://` references and the backend of
/// `authref://` references. Unrouted references go to the fallback, if any.
///
/// ```
/// use std::sync::Arc;
/// use pathops_core::secret::{ChainResolver, EnvResolver, SecretResolver, StaticResolver};
/// use secrecy::ExposeSecret;
///
/// # tokio_test_block_on(async {
/// let tests = StaticResolver::new().with("ref://acme/gitlab/token".parse()?, "glpat-x");
/// let env = EnvResolver::from_vars([("DEPLOY_KEY", "k")]);
/// let chain = ChainResolver::new().route("acme", Arc::new(tests)).route("env", Arc::new(env));
/// let secret = chain.resolve(&"authref://env/DEPLOY_KEY".parse()?).await?;
/// assert_eq!(secret.expose_secret(), "k");
/// assert!(chain.resolve(&"ref://other/gitlab/token".parse()?).await.is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # });
/// # fn tokio_test_block_on<F: std::future::Future<Output = Result<(), Box<dyn std::error::Error>>>>(f: F) {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f).unwrap()
/// # }
/// ```
#[derive(Debug, Default)]
pub struct ChainResolver {
    routes: HashMap<String, Arc<dyn SecretResolver>>,
    fallback: Option<Arc<dyn SecretResolver>>,
}

impl ChainResolver {
    /// No routes, no fallback.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends references whose scope or backend is `route` to `resolver`.
    pub fn route(mut self, route: impl Into<String>, resolver: Arc<dyn SecretResolver>) -> Self {
        self.routes.insert(route.into(), resolver);
        self
    }

    /// Sends every unrouted reference to `resolver`.
    pub fn fallback(mut self, resolver: Arc<dyn SecretResolver>) -> Self {
        self.fallback = Some(resolver);
        self
    }
}

#[async_trait]
impl SecretResolver for ChainResolver {
    async fn resolve(&self, auth_ref: &AuthRef) -> Result<SecretString> {
        match self.routes.get(auth_ref.route()).or(self.fallback.as_ref()) {
            Some(resolver) => resolver.resolve(auth_ref).await,
            None => Err(not_found(auth_ref, Vec::new())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn r(s: &str) -> AuthRef {
        s.parse().unwrap()
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn env_mapping_is_documented_and_pure() {
        assert_eq!(
            EnvResolver::variable_name(&r("ref://acme/gitlab/ci-token")).as_deref(),
            Some("PATHOPS_SECRET_ACME_GITLAB_CI_TOKEN")
        );
        assert_eq!(
            EnvResolver::variable_name(&r("authref://env/MY_TOKEN")).as_deref(),
            Some("MY_TOKEN")
        );
        assert_eq!(EnvResolver::variable_name(&r("authref://env/a/b")), None);
        assert_eq!(EnvResolver::variable_name(&r("authref://vault/a")), None);
        let env = EnvResolver::from_vars([("PATHOPS_SECRET_ACME_GITLAB_CI_TOKEN", "s3cret")]);
        block_on(async {
            let s = env.resolve(&r("ref://acme/gitlab/ci-token")).await.unwrap();
            assert_eq!(s.expose_secret(), "s3cret");
            let missing = env
                .resolve(&r("ref://acme/gitlab/other"))
                .await
                .unwrap_err();
            assert_eq!(
                missing.to_string(),
                "secret not found: ref://acme/gitlab/other \
                 (looked in environment variable PATHOPS_SECRET_ACME_GITLAB_OTHER)"
            );
            let unserved = env.resolve(&r("authref://vault/a#b")).await.unwrap_err();
            assert_eq!(
                unserved.to_string(),
                "secret not found: authref://vault/a#b (no resolver serves this reference)"
            );
        });
    }

    #[test]
    fn file_resolver_reads_under_its_root_only() {
        let dir = std::env::temp_dir().join(format!("pathops-file-{}", uuid::Uuid::now_v7()));
        let root = dir.join("root");
        std::fs::create_dir_all(root.join("acme/gitlab")).unwrap();
        std::fs::write(root.join("acme/gitlab/token"), "glpat-abc\n").unwrap();
        std::fs::write(dir.join("outside"), "nope").unwrap();
        std::fs::create_dir_all(root.join("file")).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(dir.join("outside"), root.join("escape")).unwrap();

        let files = FileResolver::new(&root);
        block_on(async {
            let s = files.resolve(&r("ref://acme/gitlab/token")).await.unwrap();
            assert_eq!(s.expose_secret(), "glpat-abc");
            let s = files
                .resolve(&r("authref://file/acme/gitlab/token"))
                .await
                .unwrap();
            assert_eq!(s.expose_secret(), "glpat-abc");
            let missing = files
                .resolve(&r("ref://acme/gitlab/missing"))
                .await
                .unwrap_err();
            let path = root.join("acme/gitlab/missing");
            assert_eq!(
                missing.to_string(),
                format!(
                    "secret not found: ref://acme/gitlab/missing (looked in file {})",
                    path.display()
                )
            );
            #[cfg(unix)]
            assert!(matches!(
                files.resolve(&r("authref://file/escape")).await,
                Err(Error::SecretNotFound { .. })
            ));
            assert!(matches!(
                files.resolve(&r("authref://vault/acme")).await,
                Err(Error::SecretNotFound { ref looked_in, .. }) if looked_in.is_empty()
            ));
        });
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn chain_routes_by_scope_and_backend_then_fallback() {
        let a = StaticResolver::new().with(r("ref://acme/gitlab/t"), "from-acme");
        let fb = StaticResolver::new().with(r("ref://other/gitlab/t"), "from-fallback");
        let chain = ChainResolver::new()
            .route("acme", Arc::new(a))
            .fallback(Arc::new(fb));
        block_on(async {
            let got = chain.resolve(&r("ref://acme/gitlab/t")).await.unwrap();
            assert_eq!(got.expose_secret(), "from-acme");
            let got = chain.resolve(&r("ref://other/gitlab/t")).await.unwrap();
            assert_eq!(got.expose_secret(), "from-fallback");
            assert!(chain.resolve(&r("ref://acme/gitlab/nope")).await.is_err());
        });
        let empty = ChainResolver::new();
        let err = block_on(empty.resolve(&r("ref://x/y/z"))).unwrap_err();
        assert!(matches!(err, Error::SecretNotFound { .. }));
    }
}
