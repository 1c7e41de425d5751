//! [`AuthRefPolicy`]: which references a tenant's integrations may hold.

use std::collections::{BTreeMap, BTreeSet};

use super::env::env_segment;
use crate::auth_ref::AuthRef;
use crate::fields::Configuration;
use crate::id::TenantId;
use crate::validate::{Problem, ValidationError};

/// Which references a tenant's integrations may hold and resolve. The catalog checks
/// `auth_ref` and every configuration reference against it when an integration is written and
/// again before it resolves one.
///
/// The default policy ([`AuthRefPolicy::new`]):
/// - `ref://<scope>/…` only when `scope` is the integration's tenant id, or a scope the operator
///   shared with [`with_shared_scope`](Self::with_shared_scope);
/// - `authref://env/<NAME>` only when `NAME` starts with [`DEFAULT_ENV_PREFIX`](Self::DEFAULT_ENV_PREFIX)
///   rendered for the tenant (`PATHOPS_SECRET_ACME__…` for tenant `acme`, the same variables its
///   `ref://acme/…` references map to), so no tenant can name `DATABASE_URL` or another tenant's
///   variable;
/// - every other `authref://` backend refused until the operator maps it with
///   [`with_backend`](Self::with_backend), e.g. Vault under a per-tenant path.
///
/// Templates may hold `{tenant}` (the tenant id as is) and `{TENANT}` (its environment form:
/// upper-cased, `-` as `_`; a tenant id with `_` has none, and is refused wherever `{TENANT}`
/// is needed, because `acme_x` and `acme-x` would share it).
///
/// ```
/// use pathops_core::secret::{AuthRefPolicy, RefDenied};
///
/// let policy = AuthRefPolicy::new()
///     .with_shared_scope("global")
///     .with_backend("vault", "secret/tenants/{tenant}/");
/// let acme = "acme".parse()?;
/// assert!(policy.check(&acme, &"ref://acme/gitlab/token".parse()?).is_ok());
/// assert!(policy.check(&acme, &"ref://global/harbor/robot".parse()?).is_ok());
/// assert!(policy.check(&acme, &"authref://vault/secret/tenants/acme/gitlab#token".parse()?).is_ok());
/// assert!(matches!(
///     policy.check(&acme, &"ref://globex/gitlab/token".parse()?),
///     Err(RefDenied::OtherScope { .. })
/// ));
/// assert!(matches!(
///     policy.check(&acme, &"authref://vault/secret/tenants/globex/gitlab#token".parse()?),
///     Err(RefDenied::OutsidePrefix { .. })
/// ));
/// assert!(matches!(
///     policy.check(&acme, &"authref://env/HOME".parse()?),
///     Err(RefDenied::OutsidePrefix { .. })
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRefPolicy {
    unrestricted: bool,
    shared_scopes: BTreeSet<String>,
    /// Backend name to its prefix template: a name prefix for `env`, a path prefix (whole
    /// segments) for the others.
    backends: BTreeMap<String, String>,
}

/// Why a reference was refused for a tenant. Names the parts of the reference at fault, never
/// anything resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RefDenied {
    /// A `ref://` scope that is neither the tenant's own nor shared.
    #[error(
        "scope `{scope}` is not this tenant's: tenant `{tenant}` may use ref://{tenant}/… and the operator's shared scopes"
    )]
    OtherScope {
        /// The scope asked for.
        scope: String,
        /// The tenant asking.
        tenant: String,
    },
    /// An `authref://` backend the operator did not map for tenants.
    #[error("backend `{backend}` is not available to tenants (the operator has not mapped it)")]
    BackendNotMapped {
        /// The backend asked for.
        backend: String,
    },
    /// A path outside the tenant's part of the backend.
    #[error("authref://{backend}/ references of this tenant must be under `{prefix}`")]
    OutsidePrefix {
        /// The backend.
        backend: String,
        /// The prefix the tenant's references must start with.
        prefix: String,
    },
    /// The tenant id has no collision-free environment form.
    #[error(
        "tenant `{tenant}` has no collision-free environment variable form (use lowercase letters, digits and single hyphens)"
    )]
    TenantNotEnvMappable {
        /// The tenant.
        tenant: String,
    },
}

impl Default for AuthRefPolicy {
    fn default() -> Self {
        Self::new()
    }
}

impl AuthRefPolicy {
    /// The default name prefix of `authref://env/…` references.
    pub const DEFAULT_ENV_PREFIX: &'static str = "PATHOPS_SECRET_{TENANT}__";

    /// The default policy (see the type docs): own scope, the tenant's environment prefix.
    pub fn new() -> Self {
        Self {
            unrestricted: false,
            shared_scopes: BTreeSet::new(),
            backends: BTreeMap::from([("env".to_owned(), Self::DEFAULT_ENV_PREFIX.to_owned())]),
        }
    }

    /// Every well-formed reference is allowed. Only for a deployment with a single tenant, or
    /// whose tenant admins are all trusted with every secret the resolvers can reach.
    pub fn unrestricted() -> Self {
        Self {
            unrestricted: true,
            shared_scopes: BTreeSet::new(),
            backends: BTreeMap::new(),
        }
    }

    /// Lets every tenant use `ref://<scope>/…` (secrets the operator shares, such as `global`).
    pub fn with_shared_scope(mut self, scope: impl Into<String>) -> Self {
        self.shared_scopes.insert(scope.into());
        self
    }

    /// Lets tenants use `authref://<backend>/<path>` when `path` lies under `prefix` rendered
    /// for the tenant (whole segments: `secret/tenants/{tenant}` allows
    /// `secret/tenants/acme/x`, not `secret/tenants/acme-x/x`). An empty prefix shares the whole
    /// backend with every tenant. For `env` the prefix is a name prefix
    /// (see [`with_env_prefix`](Self::with_env_prefix)).
    pub fn with_backend(mut self, backend: impl Into<String>, prefix: impl Into<String>) -> Self {
        self.backends.insert(backend.into(), prefix.into());
        self
    }

    /// The name prefix `authref://env/<NAME>` must start with (default
    /// [`DEFAULT_ENV_PREFIX`](Self::DEFAULT_ENV_PREFIX)). Keep `{TENANT}` in it unless every
    /// tenant may read every variable under the prefix.
    pub fn with_env_prefix(self, prefix: impl Into<String>) -> Self {
        self.with_backend("env", prefix)
    }

    /// Refuses `authref://<backend>/…` for every tenant (also `env`).
    pub fn without_backend(mut self, backend: &str) -> Self {
        self.backends.remove(backend);
        self
    }

    /// Whether every reference is allowed.
    pub fn is_unrestricted(&self) -> bool {
        self.unrestricted
    }

    /// `Ok` when `tenant`'s integrations may use `auth_ref`.
    pub fn check(&self, tenant: &TenantId, auth_ref: &AuthRef) -> Result<(), RefDenied> {
        if self.unrestricted {
            return Ok(());
        }
        if let Some(scope) = auth_ref.scope() {
            return if scope == tenant.as_str() || self.shared_scopes.contains(scope) {
                Ok(())
            } else {
                Err(RefDenied::OtherScope {
                    scope: scope.to_owned(),
                    tenant: tenant.to_string(),
                })
            };
        }
        let (Some(backend), Some(path)) = (auth_ref.backend(), auth_ref.path()) else {
            return Ok(());
        };
        let Some(template) = self.backends.get(backend) else {
            return Err(RefDenied::BackendNotMapped {
                backend: backend.to_owned(),
            });
        };
        let prefix = render(template, tenant)?;
        let inside = if backend == "env" {
            path.len() > prefix.len() && path.starts_with(&prefix)
        } else {
            under_path(path, &prefix)
        };
        if inside {
            Ok(())
        } else {
            Err(RefDenied::OutsidePrefix {
                backend: backend.to_owned(),
                prefix,
            })
        }
    }

    /// [`check`](Self::check) as the validation error of `field`.
    #[cfg(feature = "runtime")]
    pub(crate) fn check_field(
        &self,
        tenant: &TenantId,
        field: &'static str,
        key: Option<&str>,
        auth_ref: &AuthRef,
    ) -> Result<(), ValidationError> {
        self.check(tenant, auth_ref).map_err(|denied| {
            let problem = Problem::AuthRefDenied(denied);
            ValidationError::new(field, at_key(key, problem))
        })
    }
}

fn at_key(key: Option<&str>, problem: Problem) -> Problem {
    match key {
        Some(key) => Problem::AtKey {
            key: key.to_owned(),
            problem: Box::new(problem),
        },
        None => problem,
    }
}

fn render(template: &str, tenant: &TenantId) -> Result<String, RefDenied> {
    let mut out = template.replace("{tenant}", tenant.as_str());
    if out.contains("{TENANT}") {
        let env = env_segment(tenant.as_str()).ok_or_else(|| RefDenied::TenantNotEnvMappable {
            tenant: tenant.to_string(),
        })?;
        out = out.replace("{TENANT}", &env);
    }
    Ok(out)
}

/// Whether `path` lies under `prefix` by whole segments.
fn under_path(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() {
        return true;
    }
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.starts_with('/') && rest.len() > 1)
}

/// The configuration keys that hold auth refs: by convention every key ending in `_ref`
/// (`webhook_secret_ref`, …), whose value is one reference or a list of them. Connectors and
/// plugins name their references this way so that the catalog can check them all.
pub const CONFIGURATION_REF_SUFFIX: &str = "_ref";

/// Every reference in `configuration`, with its key, in key order.
///
/// # Errors
///
/// The [`ValidationError`] of field `configuration` naming the key, for a `*_ref` value that is
/// not a reference or a list of references.
pub fn configuration_refs(
    configuration: &Configuration,
) -> Result<Vec<(&str, AuthRef)>, ValidationError> {
    let mut refs = Vec::new();
    for (key, value) in configuration.as_map() {
        if key.ends_with(CONFIGURATION_REF_SUFFIX) {
            refs.extend(refs_at(key, value)?.into_iter().map(|r| (key.as_str(), r)));
        }
    }
    Ok(refs)
}

/// The references held by configuration key `key`: one reference, or a non-empty list of them.
pub(crate) fn refs_at(
    key: &str,
    value: &serde_json::Value,
) -> Result<Vec<AuthRef>, ValidationError> {
    let bad = |problem| ValidationError::new("configuration", at_key(Some(key), problem));
    let texts: Vec<&serde_json::Value> = match value {
        serde_json::Value::Array(items) if !items.is_empty() => items.iter().collect(),
        serde_json::Value::Array(_) => return Err(bad(Problem::Empty)),
        other => vec![other],
    };
    texts
        .into_iter()
        .map(|text| {
            let text = text.as_str().ok_or_else(|| bad(Problem::NotAnAuthRef))?;
            AuthRef::parse(text).map_err(|e| bad(Problem::InvalidAuthRef(e)))
        })
        .collect()
}

/// Checks every reference of an integration (`auth_ref` and the configuration's) for `tenant`.
#[cfg(feature = "runtime")]
pub(crate) fn check_integration_refs(
    policy: &AuthRefPolicy,
    tenant: &TenantId,
    auth_ref: Option<&AuthRef>,
    configuration: &Configuration,
) -> Result<(), ValidationError> {
    if let Some(auth_ref) = auth_ref {
        policy.check_field(tenant, "auth_ref", None, auth_ref)?;
    }
    for (key, auth_ref) in configuration_refs(configuration)? {
        policy.check_field(tenant, "configuration", Some(key), &auth_ref)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> TenantId {
        s.parse().unwrap()
    }

    fn r(s: &str) -> AuthRef {
        s.parse().unwrap()
    }

    #[test]
    fn the_default_policy_keeps_each_tenant_to_its_own_references() {
        let policy = AuthRefPolicy::default();
        let evil = t("evil");
        assert!(policy.check(&evil, &r("ref://evil/gitlab/token")).is_ok());
        assert_eq!(
            policy.check(&evil, &r("ref://acme/gitlab/ci-token")),
            Err(RefDenied::OtherScope {
                scope: "acme".into(),
                tenant: "evil".into()
            })
        );
        for name in [
            "HOME",
            "DATABASE_URL",
            "PATHOPS_SECRET_ACME__GITLAB__CI_TOKEN",
            "PATHOPS_SECRET_EVIL__",
        ] {
            assert_eq!(
                policy.check(&evil, &r(&format!("authref://env/{name}"))),
                Err(RefDenied::OutsidePrefix {
                    backend: "env".into(),
                    prefix: "PATHOPS_SECRET_EVIL__".into()
                }),
                "{name}"
            );
        }
        assert!(
            policy
                .check(&evil, &r("authref://env/PATHOPS_SECRET_EVIL__TOKEN"))
                .is_ok()
        );
        for backend in ["vault", "file"] {
            assert_eq!(
                policy.check(&evil, &r(&format!("authref://{backend}/secret/x#y"))),
                Err(RefDenied::BackendNotMapped {
                    backend: backend.into()
                })
            );
        }
    }

    #[test]
    fn backend_prefixes_match_whole_segments() {
        let policy = AuthRefPolicy::new().with_backend("vault", "secret/tenants/{tenant}");
        let acme = t("acme");
        assert!(
            policy
                .check(&acme, &r("authref://vault/secret/tenants/acme/gitlab#t"))
                .is_ok()
        );
        for outside in [
            "authref://vault/secret/tenants/acme-x/gitlab#t",
            "authref://vault/secret/tenants/acme#t",
            "authref://vault/secret/tenants/globex/gitlab#t",
            "authref://vault/kv/tenants/acme/gitlab#t",
        ] {
            assert!(
                matches!(
                    policy.check(&acme, &r(outside)),
                    Err(RefDenied::OutsidePrefix { .. })
                ),
                "{outside}"
            );
        }
        let shared = AuthRefPolicy::new().with_backend("vault", "");
        assert!(
            shared
                .check(&acme, &r("authref://vault/anything/at/all#t"))
                .is_ok()
        );
    }

    #[test]
    fn env_prefixes_of_two_tenants_never_overlap() {
        let policy = AuthRefPolicy::new();
        // `acme-x` renders ACME_X; `acme_x` has no collision-free form and is refused.
        assert!(
            policy
                .check(&t("acme-x"), &r("authref://env/PATHOPS_SECRET_ACME_X__T"))
                .is_ok()
        );
        assert_eq!(
            policy.check(&t("acme_x"), &r("authref://env/PATHOPS_SECRET_ACME_X__T")),
            Err(RefDenied::TenantNotEnvMappable {
                tenant: "acme_x".into()
            })
        );
        assert!(
            policy
                .check(&t("acme"), &r("authref://env/PATHOPS_SECRET_ACME_X__T"))
                .is_err()
        );
    }

    #[test]
    fn shared_scopes_and_unrestricted() {
        let policy = AuthRefPolicy::new().with_shared_scope("global");
        assert!(
            policy
                .check(&t("acme"), &r("ref://global/harbor/robot"))
                .is_ok()
        );
        assert!(
            AuthRefPolicy::unrestricted()
                .check(&t("evil"), &r("ref://acme/a/b"))
                .is_ok()
        );
        let no_env = AuthRefPolicy::new().without_backend("env");
        assert!(
            no_env
                .check(&t("acme"), &r("authref://env/PATHOPS_SECRET_ACME__T"))
                .is_err()
        );
    }

    #[test]
    #[cfg(feature = "runtime")]
    fn configuration_refs_are_every_ref_key() {
        let config = Configuration::try_from(serde_json::json!({
            "webhook_secret_ref": ["ref://acme/gitlab/hook-new", "ref://acme/gitlab/hook-old"],
            "private_key_ref": "ref://acme/github/app-key",
            "project": "group/app",
        }))
        .unwrap();
        let refs = configuration_refs(&config).unwrap();
        let keys: Vec<(&str, String)> = refs.iter().map(|(k, r)| (*k, r.to_string())).collect();
        assert_eq!(
            keys,
            [
                ("private_key_ref", "ref://acme/github/app-key".to_owned()),
                (
                    "webhook_secret_ref",
                    "ref://acme/gitlab/hook-new".to_owned()
                ),
                (
                    "webhook_secret_ref",
                    "ref://acme/gitlab/hook-old".to_owned()
                ),
            ]
        );
        let err =
            check_integration_refs(&AuthRefPolicy::new(), &t("evil"), None, &config).unwrap_err();
        assert_eq!(err.field, "configuration");
        assert!(err.to_string().contains("private_key_ref"), "{err}");
        for bad in [
            serde_json::json!({"x_ref": 3}),
            serde_json::json!({"x_ref": []}),
            serde_json::json!({"x_ref": "nope"}),
        ] {
            let config = Configuration::try_from(bad).unwrap();
            let err = configuration_refs(&config).unwrap_err();
            assert!(err.to_string().contains("x_ref"), "{err}");
        }
    }
}
