//! Who is calling: a [`Principal`] from the embedder's own layer or a [`PrincipalResolver`].

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use pathops_core::catalog::{Principal, Scope};
use pathops_core::{ActorId, Error, Result, TenantId};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::ApiState;
use super::problem::ApiError;

/// Turns a request's headers into the [`Principal`] it acts as.
///
/// Authentication is the embedder's: implement this over whatever the service already trusts
/// (a session, an OIDC access token, mTLS identity forwarded by a proxy), or put a
/// [`Principal`] into the request's extensions in a tower layer in front of the router and use
/// [`ExtensionsOnly`]. The tenant of every operation comes from the principal alone; no path
/// segment or body field can name another.
///
/// Return [`Error::Unauthenticated`] when the request carries no valid credential (answered
/// `401` with `WWW-Authenticate: Bearer realm="pathops"`). Missing scopes are the catalog's to
/// refuse (`403` naming the scope); a resolver only says who is calling.
#[async_trait]
pub trait PrincipalResolver: Send + Sync + fmt::Debug + 'static {
    /// The principal of a request.
    async fn resolve(&self, parts: &Parts) -> Result<Principal>;
}

/// A resolver that knows no credential: every request must arrive with a [`Principal`] in
/// its extensions, put there by the embedder's own layer; any other is `401`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExtensionsOnly;

#[async_trait]
impl PrincipalResolver for ExtensionsOnly {
    async fn resolve(&self, _: &Parts) -> Result<Principal> {
        Err(Error::Unauthenticated {
            message: "no principal: the request was not authenticated".to_owned(),
        })
    }
}

/// Static bearer tokens mapped to principals, for examples, tests and small deployments.
///
/// Loaded from a JSON file the operator writes:
///
/// ```json
/// { "tokens": [
///   { "token": "…at least 16 characters…", "tenant": "acme", "actor": "alice",
///     "scopes": ["integrations.admin"] }
/// ] }
/// ```
///
/// Only the SHA-256 of each token is kept in memory; a presented token is hashed and
/// compared with every known hash in constant time. `Debug` shows how many tokens there are,
/// nothing else.
#[derive(Clone)]
pub struct StaticTokens {
    tokens: Arc<Vec<([u8; 32], Principal)>>,
}

impl fmt::Debug for StaticTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticTokens")
            .field("tokens", &self.tokens.len())
            .finish()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenFile {
    tokens: Vec<TokenEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenEntry {
    token: String,
    tenant: String,
    actor: String,
    scopes: Vec<Scope>,
}

impl StaticTokens {
    /// The shortest token accepted.
    pub const MIN_TOKEN_LEN: usize = 16;

    /// No tokens yet.
    pub fn new() -> Self {
        Self {
            tokens: Arc::new(Vec::new()),
        }
    }

    /// Adds a token for `principal`. Refuses a token shorter than
    /// [`MIN_TOKEN_LEN`](Self::MIN_TOKEN_LEN) or one already known.
    pub fn with_token(mut self, token: &str, principal: Principal) -> Result<Self> {
        if token.len() < Self::MIN_TOKEN_LEN {
            return Err(Error::InvalidConfig {
                message: format!(
                    "a static token must be at least {} characters long",
                    Self::MIN_TOKEN_LEN
                ),
            });
        }
        let digest = digest(token);
        if self
            .tokens
            .iter()
            .any(|(d, _)| bool::from(d.ct_eq(&digest)))
        {
            return Err(Error::InvalidConfig {
                message: "the same static token is listed twice".to_owned(),
            });
        }
        Arc::make_mut(&mut self.tokens).push((digest, principal));
        Ok(self)
    }

    /// Parses the JSON document described [above](Self). Errors name the entry, never a token.
    pub fn from_json(json: &str) -> Result<Self> {
        let file: TokenFile = serde_json::from_str(json).map_err(|e| Error::InvalidConfig {
            message: format!(
                "the token file is not valid: {} at line {} column {}",
                super::problem::describe_serde_error(&e.to_string()).1,
                e.line(),
                e.column()
            ),
        })?;
        let mut tokens = Self::new();
        for (i, entry) in file.tokens.into_iter().enumerate() {
            let bad = |what: String| Error::InvalidConfig {
                message: format!("token entry {i}: {what}"),
            };
            let tenant: TenantId = entry.tenant.parse().map_err(|e| bad(format!("{e}")))?;
            let actor: ActorId = entry.actor.parse().map_err(|e| bad(format!("{e}")))?;
            tokens = tokens
                .with_token(&entry.token, Principal::new(tenant, actor, entry.scopes))
                .map_err(|e| bad(e.to_string()))?;
        }
        Ok(tokens)
    }

    /// Reads [`from_json`](Self::from_json) from a file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::InvalidConfig {
            message: format!("cannot read the token file {}: {e}", path.display()),
        })?;
        Self::from_json(&text)
    }

    /// How many tokens are known.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether no token is known.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    fn lookup(&self, token: &str) -> Option<&Principal> {
        let digest = digest(token);
        // Every entry is compared, so the time taken says nothing about which matched.
        let mut found = None;
        for (known, principal) in self.tokens.iter() {
            if bool::from(known.ct_eq(&digest)) {
                found = Some(principal);
            }
        }
        found
    }
}

impl Default for StaticTokens {
    fn default() -> Self {
        Self::new()
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn unauthenticated(message: &str) -> Error {
    Error::Unauthenticated {
        message: message.to_owned(),
    }
}

#[async_trait]
impl PrincipalResolver for StaticTokens {
    async fn resolve(&self, parts: &Parts) -> Result<Principal> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(unauthenticated("no Authorization header"));
        };
        let value = value
            .to_str()
            .map_err(|_| unauthenticated("the Authorization header is not ASCII"))?;
        let Some((scheme, token)) = value.split_once(' ') else {
            return Err(unauthenticated(
                "the Authorization header is not `Bearer <token>`",
            ));
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(unauthenticated("the Authorization scheme must be Bearer"));
        }
        self.lookup(token.trim())
            .cloned()
            .ok_or_else(|| unauthenticated("the bearer token is not valid"))
    }
}

/// The request's principal: from the extensions, else from the API's resolver.
#[derive(Debug, Clone)]
pub(crate) struct Caller(pub(crate) Principal);

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(Caller(principal.clone()));
        }
        match state.principals.resolve(parts).await {
            Ok(principal) => Ok(Caller(principal)),
            Err(e @ Error::Unauthenticated { .. }) => Err(ApiError::from(e)),
            Err(e) => {
                // A resolver that failed for another reason: not the caller's fault.
                let problem = ApiError::from(e);
                if problem.status().is_client_error() {
                    Err(ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "unauthenticated",
                        "the request could not be authenticated",
                    ))
                } else {
                    Err(problem)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(authorization: Option<&str>) -> Parts {
        let mut builder = axum::http::Request::builder();
        if let Some(a) = authorization {
            builder = builder.header(header::AUTHORIZATION, a);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[tokio::test]
    async fn static_tokens_resolve_only_their_own_token() {
        let secret = "sentinel-token-0123456789";
        let tokens = StaticTokens::from_json(&format!(
            r#"{{"tokens":[{{"token":"{secret}","tenant":"acme","actor":"alice","scopes":["integrations.read"]}}]}}"#
        ))
        .unwrap();
        assert_eq!(tokens.len(), 1);
        assert!(!format!("{tokens:?}").contains(secret));
        let p = tokens
            .resolve(&parts(Some(&format!("Bearer {secret}"))))
            .await
            .unwrap();
        assert_eq!(p.tenant.as_str(), "acme");
        assert!(p.has(Scope::IntegrationsRead) && !p.has(Scope::IntegrationsAdmin));
        for bad in [
            None,
            Some("Bearer sentinel-token-012345678"),
            Some(&*format!("Basic {secret}")),
            Some("Bearer"),
        ] {
            let err = tokens.resolve(&parts(bad)).await.unwrap_err();
            assert!(matches!(err, Error::Unauthenticated { .. }), "{bad:?}");
            assert!(!err.to_string().contains(secret));
        }
    }

    #[test]
    fn token_files_are_checked_without_echoing_tokens() {
        let short = StaticTokens::from_json(
            r#"{"tokens":[{"token":"short-secret","tenant":"acme","actor":"a","scopes":[]}]}"#,
        )
        .unwrap_err();
        assert!(short.to_string().contains("at least 16"), "{short}");
        assert!(!short.to_string().contains("short-secret"));
        let unknown = StaticTokens::from_json(r#"{"tokens":[],"extra":1}"#).unwrap_err();
        assert!(
            unknown.to_string().contains("unknown field `extra`"),
            "{unknown}"
        );
        let bad_tenant = StaticTokens::from_json(
            r#"{"tokens":[{"token":"0123456789abcdef","tenant":"A B","actor":"a","scopes":[]}]}"#,
        )
        .unwrap_err();
        assert!(
            bad_tenant.to_string().contains("token entry 0"),
            "{bad_tenant}"
        );
        let twice = StaticTokens::new()
            .with_token(
                "0123456789abcdef",
                Principal::reader("a".parse().unwrap(), "b".parse().unwrap()),
            )
            .unwrap()
            .with_token(
                "0123456789abcdef",
                Principal::reader("a".parse().unwrap(), "b".parse().unwrap()),
            )
            .unwrap_err();
        assert!(twice.to_string().contains("twice"));
    }
}
