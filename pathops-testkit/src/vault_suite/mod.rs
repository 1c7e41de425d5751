//! The Vault resolver's conformance suite: the same checks against the fake Vault and a real
//! Vault-compatible server (CI starts an OpenBao dev server).
//!
//! A check is a `pub async fn(VaultFixture)`. The fixture holds a [`VaultServer`] (where the
//! check writes secrets, deletes versions and creates tokens limited by a policy), a way to
//! build the resolver under test from a [`VaultResolverSpec`], and a fresh path of its own, so
//! checks run in parallel against one long-lived server. The resolver is built by the caller
//! (the testkit depends on no backend crate) and checked only through [`SecretResolver`].
//!
//! ```text
//! // pathops-connectors/tests/vault_suite.rs
//! struct Fake;
//!
//! #[async_trait::async_trait]
//! impl VaultFactory for Fake {
//!     async fn open(&self) -> Option<VaultFixture> {
//!         let server = Arc::new(FakeVault::start_with_defaults().await);
//!         Some(VaultFixture::new(server, Arc::new(build_resolver)))
//!     }
//! }
//!
//! mod fake { pathops_testkit::vault_conformance_suite!(super::Fake); }
//! ```
//!
//! [`LiveVault::from_env`] reads `PATHOPS_TEST_VAULT_URL` and `PATHOPS_TEST_VAULT_TOKEN` (a
//! root token; the dev server's default `secret/` KV v2 mount is used) and prints `skipping:
//! …` when the URL is unset.
//!
//! | module | what it checks |
//! |---|---|
//! | [`reads`] | current and pinned versions, deleted and destroyed versions, missing secrets and fields |
//! | [`access`] | bad tokens, tokens a policy denies, per-tenant tokens, the tenant path prefix |
//! | [`sentinel`] | no token or secret value in any `Debug`, error or log line |

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use pathops_core::secret::{ResolveContext, SecretPurpose};
use pathops_core::{AuthRef, SecretResolver, TenantId};
use secrecy::SecretString;
use serde_json::Value;

pub mod access;
mod fake;
mod live;
pub mod reads;
pub mod sentinel;

pub use live::LiveVault;

/// The KV v2 mount every check uses (a dev server's default).
pub const MOUNT: &str = "secret";

/// A Vault-compatible server the checks can administer.
#[async_trait::async_trait]
pub trait VaultServer: Send + Sync + fmt::Debug {
    /// Which server this is, for messages (`fake`, `live`).
    fn name(&self) -> &'static str;
    /// The address to give the resolver (`http://127.0.0.1:8200`).
    fn address(&self) -> String;
    /// A token that may read everything (the checks use it as a default token).
    fn admin_token(&self) -> SecretString;
    /// Writes `data` (a JSON object) as a new version of `path` under [`MOUNT`] and returns
    /// its number.
    async fn write(&self, path: &str, data: Value) -> u64;
    /// Soft-deletes one version of `path`.
    async fn delete_version(&self, path: &str, version: u64);
    /// Destroys one version of `path`.
    async fn destroy_version(&self, path: &str, version: u64);
    /// A new, valid token whose policy lets it read only `api_paths` (Vault policy paths such
    /// as `secret/data/x/*`), and look itself up.
    async fn token_reading(&self, api_paths: &[String]) -> SecretString;
}

/// How to configure the resolver under test; the caller maps it onto its builder.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VaultResolverSpec {
    /// The server's address.
    pub address: String,
    /// The default token.
    pub token: Option<SecretString>,
    /// Tenants' own tokens.
    pub tenant_tokens: Vec<(TenantId, SecretString)>,
    /// Tenants' own token files.
    pub tenant_token_files: Vec<(TenantId, PathBuf)>,
    /// The tenant path prefix template to enforce (`secret/tenants/{tenant}`).
    pub tenant_path_prefix: Option<String>,
}

/// Builds the resolver under test.
pub type MakeResolver = Arc<dyn Fn(VaultResolverSpec) -> Arc<dyn SecretResolver> + Send + Sync>;

/// One check's server, resolver factory and fresh path.
pub struct VaultFixture {
    server: Arc<dyn VaultServer>,
    make: MakeResolver,
    base: String,
}

impl fmt::Debug for VaultFixture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultFixture")
            .field("server", &self.server)
            .field("base", &self.base)
            .finish()
    }
}

impl VaultFixture {
    /// A fixture with a fresh base path on `server`.
    pub fn new(server: Arc<dyn VaultServer>, make: MakeResolver) -> Self {
        Self {
            server,
            make,
            base: format!("pathops-test/{}", uuid::Uuid::new_v4().simple()),
        }
    }

    /// The server.
    pub fn server(&self) -> &dyn VaultServer {
        self.server.as_ref()
    }

    /// `rel` under this check's base path (relative to the mount).
    pub fn path(&self, rel: &str) -> String {
        format!("{}/{rel}", self.base)
    }

    /// The API path KV v2 reads `rel` at: `secret/data/<base>/<rel>`.
    pub fn api_path(&self, rel: &str) -> String {
        format!("{MOUNT}/data/{}", self.path(rel))
    }

    /// `authref://vault/secret/<base>/<rel>#<field>`; `field` may carry `@<version>`.
    pub fn reference(&self, rel: &str, field: &str) -> AuthRef {
        format!("authref://vault/{MOUNT}/{}#{field}", self.path(rel))
            .parse()
            .expect("a valid reference")
    }

    /// The server's address and admin token as the default token, nothing else.
    pub fn spec(&self) -> VaultResolverSpec {
        VaultResolverSpec {
            token: Some(self.server.admin_token()),
            ..self.bare_spec()
        }
    }

    /// The server's address and no token at all.
    pub fn bare_spec(&self) -> VaultResolverSpec {
        VaultResolverSpec {
            address: self.server.address(),
            token: None,
            tenant_tokens: Vec::new(),
            tenant_token_files: Vec::new(),
            tenant_path_prefix: None,
        }
    }

    /// The resolver under test, configured by `spec`.
    pub fn resolver(&self, spec: VaultResolverSpec) -> Arc<dyn SecretResolver> {
        (self.make)(spec)
    }
}

/// A context for `tenant`'s credential.
pub fn ctx(tenant: &str) -> ResolveContext {
    ResolveContext::new(
        tenant.parse().expect("a tenant id"),
        SecretPurpose::Credential,
    )
}

/// `tenant` as a [`TenantId`].
pub fn tenant(tenant: &str) -> TenantId {
    tenant.parse().expect("a tenant id")
}

/// Opens a fixture per check.
#[async_trait::async_trait]
pub trait VaultFactory: Send + Sync {
    /// A fixture, or `None` (after printing `skipping: <why>`) when the server is not
    /// available in this environment.
    async fn open(&self) -> Option<VaultFixture>;
}

/// Runs one check against a fixture from `factory`.
pub async fn run<F, C, Fut>(factory: F, check: C)
where
    F: VaultFactory,
    C: FnOnce(VaultFixture) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    if let Some(fixture) = factory.open().await {
        check(fixture).await;
    }
}

/// Generates one `#[tokio::test]` per check of the suite, each with a fixture from `$factory`
/// (an expression whose type implements [`VaultFactory`]). Invoke it inside a module of its
/// own to run the suite against several servers from one test file.
///
/// The calling crate needs `tokio` (features `macros`, `rt-multi-thread`) as a dev-dependency.
#[macro_export]
macro_rules! vault_conformance_suite {
    ($factory:expr) => {
        $crate::vault_conformance_suite!(@checks $factory;
            reads::the_current_version_is_the_default_and_any_version_can_be_pinned,
            reads::deleted_and_destroyed_versions_are_not_found,
            reads::a_missing_secret_or_version_is_not_found_naming_the_vault_path,
            reads::a_missing_or_non_string_field_is_its_own_error,
            access::a_bad_token_is_unauthenticated,
            access::a_valid_token_its_policy_does_not_cover_is_access_denied,
            access::each_tenant_token_reads_only_its_own_paths,
            access::the_tenant_path_prefix_refuses_other_paths_before_vault_does,
            sentinel::no_token_or_secret_value_is_ever_printed,
        );
    };
    (@checks $factory:expr; $($module:ident :: $check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                $crate::vault_suite::run($factory, $crate::vault_suite::$module::$check).await;
            }
        )*
    };
}
