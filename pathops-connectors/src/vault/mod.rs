//! [`VaultResolver`]: a [`SecretResolver`] reading HashiCorp Vault KV v2 secrets (OpenBao too:
//! CI runs the resolver's suite against an OpenBao dev server).
//!
//! # References
//!
//! `authref://vault/<mount>/<path>#<field>[@<version>]` reads `GET
//! /v1/<mount>/data/<path>[?version=<version>]` and returns `data.data.<field>`:
//!
//! | reference | reads |
//! |---|---|
//! | `authref://vault/secret/gitlab/ci#token` | field `token` of the current version of secret `gitlab/ci` in the KV v2 mount `secret` |
//! | `authref://vault/secret/gitlab/ci#token@3` | field `token` of version 3 of that secret, whatever the current version is |
//!
//! The field is required; the path needs at least one segment after the mount. The version
//! is a positive integer without leading zeros (the [`AuthRef`] grammar checks it); pin one
//! to keep using a credential while a newer version is being rolled out, or to roll back.
//!
//! # Tenants
//!
//! Every read is for one tenant ([`ResolveContext::tenant`]). The token it sends is the
//! tenant's own when the builder has one
//! ([`with_tenant_token`](VaultResolverBuilder::with_tenant_token),
//! [`with_tenant_token_file`](VaultResolverBuilder::with_tenant_token_file)), else the default
//! token ([`with_token`](VaultResolverBuilder::with_token),
//! [`with_token_file`](VaultResolverBuilder::with_token_file)); with neither, the read is
//! [`Error::Unauthenticated`] and nothing is sent.
//!
//! **A single default token serves every tenant.** Whatever it may read, every tenant's
//! references can name, so the operator must map each tenant to its own paths in the
//! catalog's [`AuthRefPolicy`]
//! (`.with_backend("vault", "secret/tenants/{tenant}")`). Per-tenant tokens whose Vault
//! policies cover only the tenant's paths make Vault enforce the same split. As defence in
//! depth, [`with_tenant_path_prefix`](VaultResolverBuilder::with_tenant_path_prefix) makes the
//! resolver itself refuse a path outside the tenant's prefix before any request, with the
//! error the catalog's policy gives: [`Error::Validation`] with
//! [`Problem::AuthRefDenied`]`(`[`RefDenied::OutsidePrefix`](pathops_core::secret::RefDenied::OutsidePrefix)`)`.
//!
//! ```
//! use pathops_connectors::vault::VaultResolver;
//! use secrecy::SecretString;
//!
//! let vault = VaultResolver::builder()
//!     .with_address("https://vault.example.com:8200")
//!     .with_tenant_token("acme".parse()?, SecretString::from("hvs.acme-token"))
//!     .with_tenant_token_file("globex".parse()?, "/run/vault/globex-token")
//!     .with_tenant_path_prefix("secret/tenants/{tenant}")
//!     .build()?;
//! assert!(!format!("{vault:?}").contains("hvs.acme-token"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Outcomes
//!
//! | Vault answers | error |
//! |---|---|
//! | 200 with the field as a string | the secret |
//! | 200 without the field, or with a value that is not a string | [`Error::SecretFieldMissing`] naming the field, the Vault path and the kind of value found (never the value) |
//! | 404 (no such path, no such version, or a deleted or destroyed version) | [`Error::SecretNotFound`] whose `looked_in` names the Vault path, the version, and whether it was deleted or destroyed |
//! | 403, and `auth/token/lookup-self` accepts the same token | [`Error::SecretAccessDenied`] naming the Vault path: the token is valid but its policies do not cover the path |
//! | 403, and `lookup-self` refuses the token too (Vault's answer to a bad or expired token) | [`Error::Unauthenticated`] |
//! | no answer before the timeout | [`Error::Timeout`] |
//! | anything else (503 sealed, 5xx, transport errors, an unreadable token file) | [`Error::Backend`] `vault`, the cause in `source()` |
//!
//! Vault's `default` policy lets every token look itself up; a token created without it
//! (`no_default_policy`) cannot, so its 403s read as [`Error::Unauthenticated`].
//!
//! Every request sends the token as `X-Vault-Token` (a sensitive header), `X-Vault-Request:
//! true` (required by Vault Agent and Proxy listeners) and, when configured,
//! `X-Vault-Namespace`. Tokens and secret values never appear in `Debug` output, errors or
//! logs.
//!
//! ```
//! use pathops_connectors::vault::VaultResolver;
//!
//! let vault = VaultResolver::from_vars([
//!     ("VAULT_ADDR", "https://vault.example.com:8200"),
//!     ("VAULT_TOKEN", "hvs.example"),
//!     ("VAULT_NAMESPACE", "team-a"),
//! ])?;
//! assert!(!format!("{vault:?}").contains("hvs.example"));
//! # Ok::<(), pathops_core::Error>(())
//! ```

mod answer;
mod builder;
mod token;

use std::fmt;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pathops_core::secret::{AuthRefPolicy, ResolveContext};
use pathops_core::{
    AuthRef, BaseUrl, Error, Problem, Result, SecretResolver, TenantId, ValidationError,
};
use secrecy::SecretString;
use serde_json::Value;
use tracing::instrument;

use crate::http::{HttpClient, HttpRequest, HttpResponse, IntegrationHttp, TransportError};
use answer::{Read, refused};
use token::Tokens;

pub use answer::VaultError;
pub use builder::VaultResolverBuilder;
pub use token::VaultTokenSource;

/// A secret read from Vault, with its KV version.
#[derive(Debug, Clone)]
pub struct VaultValue {
    /// The field's value.
    pub value: SecretString,
    /// `data.metadata.version`, when Vault reports it.
    pub version: Option<u64>,
}

/// What `sys/health` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultHealth {
    /// The HTTP status (200 active, 429 standby, 472/473/474 replication or standby states,
    /// 501 not initialized, 503 sealed).
    pub status: u16,
    /// Whether Vault can serve reads (200, 429, 472, 473, 474).
    pub reachable: bool,
    /// Initialized.
    pub initialized: bool,
    /// Sealed.
    pub sealed: bool,
    /// Standby.
    pub standby: bool,
    /// Vault's version.
    pub version: Option<String>,
}

/// A token, as `lookup-self` describes it (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultTokenInfo {
    /// Display name.
    pub display_name: Option<String>,
    /// Policies.
    pub policies: Vec<String>,
    /// Seconds left (0 = no expiry).
    pub ttl: Option<u64>,
    /// When it expires.
    pub expire_time: Option<String>,
    /// Whether it can be renewed.
    pub renewable: Option<bool>,
}

/// Reads KV v2 secrets; see the [module docs](self).
pub struct VaultResolver {
    http: HttpClient,
    address: BaseUrl,
    namespace: Option<String>,
    tokens: Tokens,
    /// The prefix template of [`VaultResolverBuilder::with_tenant_path_prefix`], as a policy.
    tenant_paths: Option<(String, AuthRefPolicy)>,
    timeout: Duration,
}

impl fmt::Debug for VaultResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultResolver")
            .field("address", &self.address.as_str())
            .field("namespace", &self.namespace)
            .field("tokens", &self.tokens)
            .field(
                "tenant_path_prefix",
                &self.tenant_paths.as_ref().map(|(t, _)| t),
            )
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl VaultResolver {
    /// A builder.
    pub fn builder() -> VaultResolverBuilder {
        VaultResolverBuilder::default()
    }

    /// From the process environment; a thin wrapper over [`from_vars`](Self::from_vars).
    pub fn from_env() -> Result<Self> {
        Self::from_vars(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )
    }

    /// From `VAULT_ADDR`, `VAULT_TOKEN` and the optional `VAULT_NAMESPACE`, with the default
    /// HTTP policy.
    pub fn from_vars<I, K, V>(vars: I) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        builder::from_vars(vars)
    }

    fn request(&self, path: &str, token: Option<&SecretString>) -> HttpRequest {
        let mut request = HttpRequest::get(self.address.join(&format!("v1/{path}")))
            .header("x-vault-request", "true");
        if let Some(token) = token {
            request = request.credential("x-vault-token", "", token);
        }
        if let Some(ns) = &self.namespace {
            request = request.header("x-vault-namespace", ns);
        }
        request
    }

    async fn send(&self, operation: &'static str, request: HttpRequest) -> Result<HttpResponse> {
        self.http
            .send_with(
                &IntegrationHttp::default(),
                Instant::now() + self.timeout,
                request,
            )
            .await
            .map_err(|e| match e {
                TransportError::Timeout { after } => Error::Timeout { operation, after },
                other => Error::backend("vault", other),
            })
    }

    /// Refuses a path outside `ctx.tenant`'s prefix, when one is configured.
    fn check_tenant_path(&self, ctx: &ResolveContext, auth_ref: &AuthRef) -> Result<()> {
        match &self.tenant_paths {
            Some((_, policy)) => policy.check(&ctx.tenant, auth_ref).map_err(|denied| {
                Error::Validation(ValidationError::new(
                    "auth_ref",
                    Problem::AuthRefDenied(denied),
                ))
            }),
            None => Ok(()),
        }
    }

    /// Reads the field an `authref://vault/…#field[@version]` reference names, for
    /// `ctx.tenant` (its own token, else the default; see the [module docs](self)), with the
    /// version Vault reports.
    #[instrument(name = "vault.read", skip_all, fields(tenant_id = %ctx.tenant, backend = "vault", purpose = %ctx.purpose))]
    pub async fn read(&self, ctx: &ResolveContext, auth_ref: &AuthRef) -> Result<VaultValue> {
        if auth_ref.backend() != Some("vault") {
            return Err(pathops_core::secret::not_found(auth_ref, Vec::new()));
        }
        let (Some(path), Some(field)) = (auth_ref.path(), auth_ref.field()) else {
            return Err(Error::InvalidConfig {
                message: format!(
                    "{auth_ref}: a Vault reference is authref://vault/<mount>/<path>#<field>[@<version>]"
                ),
            });
        };
        let Some((mount, secret_path)) = path.split_once('/') else {
            return Err(Error::InvalidConfig {
                message: format!("{auth_ref}: a Vault reference needs a path after the mount"),
            });
        };
        self.check_tenant_path(ctx, auth_ref)?;
        let token = self.tokens.for_tenant(&ctx.tenant)?.load().await?;
        let read = Read::new(
            auth_ref,
            field,
            format!("{mount}/data/{secret_path}"),
            self.namespace.as_deref(),
        );
        let response = self
            .send(
                "vault read",
                self.request(&read.request_path(), Some(&token)),
            )
            .await?;
        let status = response.status.as_u16();
        tracing::debug!(status, location = %read.location, "vault read answered");
        match status {
            200 => read.found(&response),
            404 => Err(read.missing(&response)),
            403 => match self.lookup(&token).await {
                Ok(_) => Err(read.denied()),
                Err(Error::Unauthenticated { .. }) => Err(refused(&response)),
                Err(other) => Err(other),
            },
            _ => Err(refused(&response)),
        }
    }

    /// `GET /v1/sys/health` (unauthenticated).
    pub async fn health(&self) -> Result<VaultHealth> {
        let response = self
            .send("vault health", self.request("sys/health", None))
            .await?;
        let status = response.status.as_u16();
        let body: Value = response.json().map_err(|e| Error::backend("vault", e))?;
        Ok(VaultHealth {
            status,
            reachable: matches!(status, 200 | 429 | 472 | 473 | 474),
            initialized: body["initialized"].as_bool().unwrap_or(false),
            sealed: body["sealed"].as_bool().unwrap_or(true),
            standby: body["standby"].as_bool().unwrap_or(false),
            version: body["version"].as_str().map(str::to_owned),
        })
    }

    /// `GET /v1/auth/token/lookup-self` with the default token: what it may do (its `id` is
    /// dropped). [`Error::Unauthenticated`] without a default token.
    pub async fn lookup_self(&self) -> Result<VaultTokenInfo> {
        let token = self.tokens.default_source()?.load().await?;
        self.lookup(&token).await
    }

    /// `lookup-self` with the token `tenant`'s reads use (its own, else the default).
    pub async fn lookup_self_for(&self, tenant: &TenantId) -> Result<VaultTokenInfo> {
        let token = self.tokens.for_tenant(tenant)?.load().await?;
        self.lookup(&token).await
    }

    async fn lookup(&self, token: &SecretString) -> Result<VaultTokenInfo> {
        let response = self
            .send(
                "vault token lookup",
                self.request("auth/token/lookup-self", Some(token)),
            )
            .await?;
        if response.status.as_u16() != 200 {
            return Err(refused(&response));
        }
        let body: Value = response.json().map_err(|e| Error::backend("vault", e))?;
        let d = &body["data"];
        Ok(VaultTokenInfo {
            display_name: d["display_name"].as_str().map(str::to_owned),
            policies: d["policies"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|p| p.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            ttl: d["ttl"].as_u64(),
            expire_time: d["expire_time"].as_str().map(str::to_owned),
            renewable: d["renewable"].as_bool(),
        })
    }
}

#[async_trait]
impl SecretResolver for VaultResolver {
    async fn resolve(&self, ctx: &ResolveContext, auth_ref: &AuthRef) -> Result<SecretString> {
        self.read(ctx, auth_ref).await.map(|v| v.value)
    }
}
