//! [`EnvResolver`]: secrets from environment variables, captured once.

use std::collections::HashMap;
use std::fmt;

use async_trait::async_trait;
use secrecy::SecretString;

use super::{ResolveContext, SecretResolver, not_found};
use crate::auth_ref::AuthRef;
use crate::error::Result;
use crate::validate::{Problem, ValidationError};

/// The prefix of every variable a `ref://` reference maps to.
pub(crate) const ENV_PREFIX: &str = "PATHOPS_SECRET_";

/// Secrets from environment variables, captured once (see the [module docs](super) for the
/// mapping).
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

    /// The variable a reference maps to; `Ok(None)` for a reference this resolver does not
    /// serve (another `authref://` backend, or an `authref://env/` path with more than one
    /// segment or a `#field`).
    ///
    /// # Errors
    ///
    /// [`Problem::NotEnvMappable`] for a `ref://` reference with a segment outside
    /// `[a-z0-9]+(-[a-z0-9]+)*`: mapping it would collide with another reference's variable.
    pub fn variable_name(
        auth_ref: &AuthRef,
    ) -> std::result::Result<Option<String>, ValidationError> {
        if let (Some(scope), Some(provider), Some(key)) =
            (auth_ref.scope(), auth_ref.provider(), auth_ref.key())
        {
            let parts = [scope, provider, key].map(env_segment);
            let [Some(scope), Some(provider), Some(key)] = parts else {
                return Err(ValidationError::new("auth_ref", Problem::NotEnvMappable));
            };
            return Ok(Some(format!("{ENV_PREFIX}{scope}__{provider}__{key}")));
        }
        match (auth_ref.backend(), auth_ref.path(), auth_ref.field()) {
            (Some("env"), Some(path), None) if !path.contains('/') => Ok(Some(path.to_owned())),
            _ => Ok(None),
        }
    }
}

/// The environment form of one segment: `[a-z0-9]+(-[a-z0-9]+)*` upper-cased with `-` as `_`,
/// or `None` for any other segment. Because a segment never yields `__`, `__` separates
/// segments unambiguously and the mapping is injective.
pub(crate) fn env_segment(segment: &str) -> Option<String> {
    let well_formed = !segment.is_empty()
        && segment.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    well_formed.then(|| segment.to_ascii_uppercase().replace('-', "_"))
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
    async fn resolve(&self, _ctx: &ResolveContext, auth_ref: &AuthRef) -> Result<SecretString> {
        let Some(name) = Self::variable_name(auth_ref)? else {
            return Err(not_found(auth_ref, Vec::new()));
        };
        self.vars
            .get(&name)
            .cloned()
            .ok_or_else(|| not_found(auth_ref, vec![format!("environment variable {name}")]))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;
    use secrecy::ExposeSecret;

    use super::super::test_support::{block_on, ctx};
    use super::*;
    use crate::error::Error;

    fn r(s: &str) -> AuthRef {
        s.parse().unwrap()
    }

    #[test]
    fn env_mapping_is_documented_and_pure() {
        assert_eq!(
            EnvResolver::variable_name(&r("ref://acme/gitlab/ci-token"))
                .unwrap()
                .as_deref(),
            Some("PATHOPS_SECRET_ACME__GITLAB__CI_TOKEN")
        );
        assert_eq!(
            EnvResolver::variable_name(&r("authref://env/MY_TOKEN"))
                .unwrap()
                .as_deref(),
            Some("MY_TOKEN")
        );
        assert_eq!(
            EnvResolver::variable_name(&r("authref://env/a/b")).unwrap(),
            None
        );
        assert_eq!(
            EnvResolver::variable_name(&r("authref://vault/a")).unwrap(),
            None
        );
        let env = EnvResolver::from_vars([("PATHOPS_SECRET_ACME__GITLAB__CI_TOKEN", "s3cret")]);
        block_on(async {
            let s = env
                .resolve(&ctx("acme"), &r("ref://acme/gitlab/ci-token"))
                .await
                .unwrap();
            assert_eq!(s.expose_secret(), "s3cret");
            let missing = env
                .resolve(&ctx("acme"), &r("ref://acme/gitlab/other"))
                .await
                .unwrap_err();
            assert_eq!(
                missing.to_string(),
                "secret not found: ref://acme/gitlab/other \
                 (looked in environment variable PATHOPS_SECRET_ACME__GITLAB__OTHER)"
            );
            let unserved = env
                .resolve(&ctx("acme"), &r("authref://vault/a#b"))
                .await
                .unwrap_err();
            assert_eq!(
                unserved.to_string(),
                "secret not found: authref://vault/a#b (no resolver serves this reference)"
            );
        });
    }

    #[test]
    fn references_that_would_collide_are_refused_not_merged() {
        // Before the mapping was made injective these three read one variable.
        let env = EnvResolver::from_vars([("PATHOPS_SECRET_ACME_X__GITLAB__T", "acme-x's")]);
        for colliding in [
            "ref://acme_x/gitlab/t",
            "ref://acme.x/gitlab/t",
            "ref://acme--x/gitlab/t",
            "ref://acme-/gitlab/t",
            "ref://acme/gitlab/T",
            "ref://acme/git_lab/t",
        ] {
            let refused = EnvResolver::variable_name(&r(colliding)).unwrap_err();
            assert_eq!(refused.problem, Problem::NotEnvMappable, "{colliding}");
            let err = block_on(env.resolve(&ctx("acme"), &r(colliding))).unwrap_err();
            assert!(
                matches!(&err, Error::Validation(v) if v.problem == Problem::NotEnvMappable),
                "{colliding}: {err}"
            );
        }
        let served = block_on(env.resolve(&ctx("acme-x"), &r("ref://acme-x/gitlab/t"))).unwrap();
        assert_eq!(served.expose_secret(), "acme-x's");
    }

    fn segment() -> impl Strategy<Value = String> {
        "[a-z0-9._-]{1,6}"
    }

    proptest! {
        /// No two distinct references the resolver serves share a variable.
        #[test]
        fn the_mapping_is_injective(refs in prop::collection::vec((segment(), segment(), segment()), 1..40)) {
            let mut seen: HashMap<String, String> = HashMap::new();
            let mut distinct = HashSet::new();
            for (s, p, k) in refs {
                let Ok(auth_ref) = AuthRef::parse(&format!("ref://{s}/{p}/{k}")) else { continue };
                if !distinct.insert(auth_ref.to_string()) { continue }
                if let Ok(Some(name)) = EnvResolver::variable_name(&auth_ref)
                    && let Some(other) = seen.insert(name.clone(), auth_ref.to_string())
                {
                    prop_assert!(false, "{other} and {auth_ref} both map to {name}");
                }
            }
        }
    }
}
