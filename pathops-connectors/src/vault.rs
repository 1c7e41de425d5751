//! [`VaultResolver`]: a [`SecretResolver`] reading HashiCorp Vault KV v2 secrets.
//!
//! # References
//!
//! `authref://vault/<mount>/<path>#<field>` reads `GET /v1/<mount>/data/<path>` and returns
//! `data.data.<field>`: `authref://vault/secret/gitlab/ci#token` is field `token` of secret
//! `gitlab/ci` in the KV v2 mount `secret`. The field is required; the path needs at least one
//! segment after the mount.
//!
//! # Outcomes
//!
//! | Vault answers | error |
//! |---|---|
//! | 200 with the field as a string | the secret |
//! | 200 without the field (or not a string), 404 | [`Error::NotFound`] naming the reference |
//! | 403 (Vault's answer to a bad or expired token) | [`Error::Unauthenticated`] |
//! | no answer before the timeout | [`Error::Timeout`] |
//! | anything else (503 sealed, 5xx, transport errors) | [`Error::Backend`] `vault`, the cause in `source()` |
//!
//! Every request sends the token as `X-Vault-Token` (a sensitive header), `X-Vault-Request:
//! true` (required by Vault Agent and Proxy listeners) and, when configured,
//! `X-Vault-Namespace`.
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

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pathops_core::secret::ResolveContext;
use pathops_core::{AuthRef, BaseUrl, Error, ResourceKind, Result, SecretResolver};
use secrecy::SecretString;
use serde_json::Value;

use crate::http::{
    HttpClient, HttpPolicy, HttpRequest, HttpResponse, IntegrationHttp, TransportError,
};

/// Where the resolver reads its Vault token.
#[derive(Clone)]
#[non_exhaustive]
pub enum VaultTokenSource {
    /// A fixed token.
    Static(SecretString),
    /// A file holding the token, read at every call (a Vault Agent sink rotates it).
    File(PathBuf),
}

impl fmt::Debug for VaultTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Static(_) => f.write_str("Static([REDACTED])"),
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

/// Why Vault refused: its status and `errors` list (Vault never echoes the token there).
#[derive(Debug, thiserror::Error)]
#[error("vault answered {status}{}", if errors.is_empty() { String::new() } else { format!(": {}", errors.join("; ")) })]
pub struct VaultError {
    /// The HTTP status.
    pub status: u16,
    /// Vault's `errors`.
    pub errors: Vec<String>,
}

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

/// The resolver's own token, as `lookup-self` describes it (never the token itself).
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
    token: VaultTokenSource,
    timeout: Duration,
}

impl fmt::Debug for VaultResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultResolver")
            .field("address", &self.address.as_str())
            .field("namespace", &self.namespace)
            .field("token", &self.token)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Builds a [`VaultResolver`]; setters never fail, [`build`](Self::build) validates once.
#[derive(Debug, Default)]
pub struct VaultResolverBuilder {
    address: Option<String>,
    namespace: Option<String>,
    token: Option<VaultTokenSource>,
    policy: HttpPolicy,
    timeout: Option<Duration>,
}

impl VaultResolverBuilder {
    /// Vault's address (`https://vault.example.com:8200`), without `/v1`.
    pub fn with_address(mut self, address: impl Into<String>) -> Self {
        self.address = Some(address.into());
        self
    }

    /// The Enterprise/HCP namespace (`ns1/ns2`), sent as `X-Vault-Namespace`.
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// A fixed token.
    pub fn with_token(mut self, token: SecretString) -> Self {
        self.token = Some(VaultTokenSource::Static(token));
        self
    }

    /// A token file, read at every call.
    pub fn with_token_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.token = Some(VaultTokenSource::File(path.into()));
        self
    }

    /// The HTTP policy (default [`HttpPolicy::default`]).
    pub fn with_http(mut self, policy: HttpPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// How long one read may take (default: the policy's request timeout).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The resolver; [`Error::Validation`] for a bad address, [`Error::InvalidConfig`] without
    /// a token source or with an unusable HTTP policy.
    pub fn build(self) -> Result<VaultResolver> {
        let address = BaseUrl::parse(self.address.as_deref().unwrap_or_default())?;
        let address = match address.as_str().strip_suffix("/v1") {
            Some(stripped) => BaseUrl::parse(stripped)?,
            None => address,
        };
        let token = self.token.ok_or_else(|| Error::InvalidConfig {
            message: "the Vault resolver needs a token (with_token or with_token_file)".to_owned(),
        })?;
        let timeout = self.timeout.unwrap_or(self.policy.request_timeout);
        let namespace = self
            .namespace
            .map(|n| n.trim_matches('/').to_owned())
            .filter(|n| !n.is_empty());
        Ok(VaultResolver {
            http: HttpClient::new(self.policy)?,
            address,
            namespace,
            token,
            timeout,
        })
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
        let mut vars: HashMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let mut builder = Self::builder();
        if let Some(addr) = vars.remove("VAULT_ADDR") {
            builder = builder.with_address(addr);
        }
        if let Some(token) = vars.remove("VAULT_TOKEN") {
            builder = builder.with_token(SecretString::from(token));
        }
        if let Some(ns) = vars.remove("VAULT_NAMESPACE") {
            builder = builder.with_namespace(ns);
        }
        builder.build()
    }

    fn token(&self) -> Result<SecretString> {
        match &self.token {
            VaultTokenSource::Static(token) => Ok(token.clone()),
            VaultTokenSource::File(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| Error::backend("vault", e))?;
                Ok(SecretString::from(text.trim().to_owned()))
            }
        }
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

    fn refused(response: &HttpResponse) -> Error {
        let errors = response
            .json::<Value>()
            .ok()
            .and_then(|v| v["errors"].as_array().cloned())
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let err = VaultError {
            status: response.status.as_u16(),
            errors,
        };
        if err.status == 403 {
            Error::Unauthenticated {
                message: "vault refused the token (403 permission denied)".to_owned(),
            }
        } else {
            Error::backend("vault", err)
        }
    }

    /// Reads the field an `authref://vault/…#field` reference names, with its version.
    pub async fn read(&self, auth_ref: &AuthRef) -> Result<VaultValue> {
        let not_found = || Error::NotFound {
            kind: ResourceKind::Secret,
            id: auth_ref.to_string(),
        };
        if auth_ref.backend() != Some("vault") {
            return Err(not_found());
        }
        let (Some(path), Some(field)) = (auth_ref.path(), auth_ref.field()) else {
            return Err(Error::InvalidConfig {
                message: format!(
                    "{auth_ref}: a Vault reference is authref://vault/<mount>/<path>#<field>"
                ),
            });
        };
        let Some((mount, secret_path)) = path.split_once('/') else {
            return Err(Error::InvalidConfig {
                message: format!("{auth_ref}: a Vault reference needs a path after the mount"),
            });
        };
        let token = self.token()?;
        let response = self
            .send(
                "vault read",
                self.request(&format!("{mount}/data/{secret_path}"), Some(&token)),
            )
            .await?;
        match response.status.as_u16() {
            200 => {
                let body: Value = response.json().map_err(|e| Error::backend("vault", e))?;
                let value = body["data"]["data"][field].as_str().ok_or_else(not_found)?;
                Ok(VaultValue {
                    value: SecretString::from(value.to_owned()),
                    version: body["data"]["metadata"]["version"].as_u64(),
                })
            }
            404 => Err(not_found()),
            _ => Err(Self::refused(&response)),
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

    /// `GET /v1/auth/token/lookup-self`: what the resolver's token may do (its `id` is dropped).
    pub async fn lookup_self(&self) -> Result<VaultTokenInfo> {
        let token = self.token()?;
        let response = self
            .send(
                "vault token lookup",
                self.request("auth/token/lookup-self", Some(&token)),
            )
            .await?;
        if response.status.as_u16() != 200 {
            return Err(Self::refused(&response));
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
    async fn resolve(&self, _ctx: &ResolveContext, auth_ref: &AuthRef) -> Result<SecretString> {
        self.read(auth_ref).await.map(|v| v.value)
    }
}
