//! [`StaticResolver`]: a fixed map from reference to secret.

use std::collections::HashMap;
use std::fmt;

use async_trait::async_trait;
use secrecy::SecretString;

use super::{ResolveContext, SecretResolver, not_found};
use crate::auth_ref::AuthRef;
use crate::error::Result;

/// A fixed map from reference to secret, for tests and examples. It serves every tenant alike:
/// the catalog's [`AuthRefPolicy`](super::AuthRefPolicy) decides who may ask.
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
    async fn resolve(&self, _ctx: &ResolveContext, auth_ref: &AuthRef) -> Result<SecretString> {
        self.secrets
            .get(auth_ref)
            .cloned()
            .ok_or_else(|| not_found(auth_ref, vec!["the static secrets".to_owned()]))
    }
}
