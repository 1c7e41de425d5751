//! [`HttpPolicy`] and [`EgressPolicy`]: the plain configuration of every outgoing call, and
//! [`IntegrationHttp`], the per-integration part (proxy, custom CA) read from an integration's
//! configuration.

use std::fmt;
use std::time::Duration;

use pathops_core::Configuration;
use pathops_core::validate::{Problem, ValidationError};

/// How connectors call the network. A plain struct: build it with struct-update syntax over
/// [`HttpPolicy::default`].
///
/// | setting | default |
/// |---|---|
/// | `connect_timeout` | 5 s |
/// | `request_timeout` | 15 s (the check's deadline wins when it is sooner) |
/// | `max_body_bytes` | 1 MiB |
/// | `user_agent` | `pathops/<crate version>` |
/// | `proxy` | none (environment proxies are ignored) |
/// | `extra_ca_pem` | none (the platform's roots are used) |
/// | `egress` | any host, private addresses allowed |
/// | `offline` | off |
/// | `max_redirects` | 5, same origin only |
/// | `allow_http` | off: credentials never travel over plain `http://`, except to loopback |
/// | `max_cached_clients` | 64 distinct per-integration settings (proxy, CA) |
///
/// Whatever the policy, a credential is only ever sent to the integration's own origin
/// (scheme, host and port of its `base_url`): a connector that builds a URL elsewhere from a
/// tool's answer gets [`TransportError::CredentialRefused`](super::TransportError::CredentialRefused).
///
/// Embedders serving many tenants start from [`HttpPolicy::multi_tenant`].
///
/// ```
/// use std::time::Duration;
/// use pathops_connectors::http::{EgressPolicy, HttpPolicy};
///
/// let policy = HttpPolicy {
///     request_timeout: Duration::from_secs(10),
///     egress: EgressPolicy {
///         allowed_hosts: vec!["gitlab.example.com".into(), "*.harbor.example.com".into()],
///         block_private_addresses: true,
///         allowed_proxies: vec![],
///     },
///     ..HttpPolicy::default()
/// };
/// assert_eq!(policy.max_body_bytes, 1024 * 1024);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct HttpPolicy {
    /// Longest wait for a TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// Longest wait for one request, body included. A check's deadline always wins.
    pub request_timeout: Duration,
    /// Largest response body read; a larger one is an invalid response.
    pub max_body_bytes: usize,
    /// The `User-Agent` header of every request.
    pub user_agent: String,
    /// A proxy for every integration (`http://host:port`, may carry `user:pass@`); an
    /// integration's own `proxy_url` wins.
    pub proxy: Option<String>,
    /// Extra trusted root certificates (PEM), added to the platform's roots.
    pub extra_ca_pem: Vec<String>,
    /// Where calls may go.
    pub egress: EgressPolicy,
    /// Make no network call at all; every check reports `offline`.
    pub offline: bool,
    /// Most same-origin redirects followed per request.
    pub max_redirects: usize,
    /// Send credentials over plain `http://` to hosts other than loopback (default off; the
    /// convention of object_store's `with_allow_http`). Requests without a credential are not
    /// affected.
    pub allow_http: bool,
    /// Most reqwest clients kept at once, one per distinct per-integration setting (proxy,
    /// CA); the least used are dropped beyond it, so tenants cannot grow the cache without
    /// bound.
    pub max_cached_clients: u64,
}

impl Default for HttpPolicy {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            max_body_bytes: 1024 * 1024,
            user_agent: crate::USER_AGENT.to_owned(),
            proxy: None,
            extra_ca_pem: Vec::new(),
            egress: EgressPolicy::default(),
            offline: false,
            max_redirects: 5,
            allow_http: false,
            max_cached_clients: 64,
        }
    }
}

impl HttpPolicy {
    /// The documented preset for embedders whose tenants are not trusted with the network:
    /// private and special-purpose addresses blocked (also behind DNS and in embedded IPv6
    /// forms), so no tenant proxy is accepted (none is allowlisted) and `socks5h` never is;
    /// no credential over plain `http://` except to loopback; every other setting as in
    /// [`HttpPolicy::default`]. Add `egress.allowed_hosts` to narrow it further.
    ///
    /// ```
    /// use pathops_connectors::http::HttpPolicy;
    ///
    /// let policy = HttpPolicy::multi_tenant();
    /// assert!(policy.egress.block_private_addresses);
    /// assert!(policy.egress.allowed_proxies.is_empty());
    /// assert!(!policy.allow_http);
    /// ```
    pub fn multi_tenant() -> Self {
        Self {
            egress: EgressPolicy {
                allowed_hosts: Vec::new(),
                block_private_addresses: true,
                allowed_proxies: Vec::new(),
            },
            allow_http: false,
            ..Self::default()
        }
    }
}

/// The proxy may carry credentials: only its host is shown.
impl fmt::Debug for HttpPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpPolicy")
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("user_agent", &self.user_agent)
            .field("proxy", &self.proxy.as_deref().map(redacted_proxy))
            .field("extra_ca_pem", &self.extra_ca_pem.len())
            .field("egress", &self.egress)
            .field("offline", &self.offline)
            .field("max_redirects", &self.max_redirects)
            .field("allow_http", &self.allow_http)
            .field("max_cached_clients", &self.max_cached_clients)
            .finish()
    }
}

/// Where outgoing calls may go.
///
/// Both rules are off by default: self-hosted tools usually live on private addresses, and
/// tests use loopback.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    /// Host names calls may go to; empty means any. An entry `*.example.com` allows every
    /// subdomain of `example.com` (not `example.com` itself). Matching ignores case.
    pub allowed_hosts: Vec<String>,
    /// Refuse every address that is not globally reachable (private, loopback, link-local,
    /// shared, documentation, multicast and the other special-purpose ranges, also when
    /// embedded in an IPv6 address; see [`is_internal_address`](super::is_internal_address)),
    /// whether written in the URL or returned by DNS. A proxy resolves names itself, so with
    /// this on an integration's own `proxy_url` is refused unless its host is in
    /// `allowed_proxies`, and a `socks5h` proxy is always refused.
    pub block_private_addresses: bool,
    /// Proxy hosts (`proxy.corp.example`, matched like `allowed_hosts`) that integrations may
    /// name in `proxy_url` while private addresses are blocked. The operator's own
    /// [`HttpPolicy::proxy`] needs no entry.
    pub allowed_proxies: Vec<String>,
}

impl EgressPolicy {
    /// Whether `host` passes the allowlist.
    pub fn allows_host(&self, host: &str) -> bool {
        self.allowed_hosts.is_empty() || matches_any(&self.allowed_hosts, host)
    }

    /// Whether an integration may use a proxy on `host` while private addresses are blocked.
    pub fn allows_proxy(&self, host: &str) -> bool {
        matches_any(&self.allowed_proxies, host)
    }
}

/// Whether `host` matches an entry (`name`, or `*.suffix` for every subdomain), ignoring case.
fn matches_any(entries: &[String], host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    entries.iter().any(|entry| {
        let entry = entry.to_ascii_lowercase();
        match entry.strip_prefix("*.") {
            Some(suffix) => host
                .strip_suffix(suffix)
                .is_some_and(|rest| rest.ends_with('.') && rest.len() > 1),
            None => host == entry,
        }
    })
}

/// The per-integration HTTP settings, from the integration's configuration:
///
/// | key | value |
/// |---|---|
/// | `proxy_url` | an `http`/`https`/`socks5` proxy URL for this integration only, without credentials (a configuration holds no secret) |
/// | `ca_certificate_pem` | PEM roots to trust for this integration, added to the platform's |
///
/// Clients are cached per distinct pair (at most [`HttpPolicy::max_cached_clients`]), so
/// integrations sharing settings share a client.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct IntegrationHttp {
    /// The proxy, if any.
    pub proxy_url: Option<String>,
    /// Extra roots, if any.
    pub ca_certificate_pem: Option<String>,
}

impl fmt::Debug for IntegrationHttp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntegrationHttp")
            .field("proxy_url", &self.proxy_url.as_deref().map(redacted_proxy))
            .field("ca_certificate_pem", &self.ca_certificate_pem.is_some())
            .finish()
    }
}

impl IntegrationHttp {
    /// The configuration key of the proxy.
    pub const PROXY_KEY: &'static str = "proxy_url";
    /// The configuration key of the extra roots.
    pub const CA_KEY: &'static str = "ca_certificate_pem";

    /// Reads and validates the settings; errors name the key.
    pub fn from_configuration(configuration: &Configuration) -> Result<Self, ValidationError> {
        let text = |key: &'static str| -> Result<Option<String>, ValidationError> {
            match configuration.get(key) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
                Some(serde_json::Value::String(_)) => {
                    Err(ValidationError::new(key, Problem::Empty))
                }
                Some(_) => Err(ValidationError::new(key, Problem::UnknownValue)),
            }
        };
        let proxy_url = text(Self::PROXY_KEY)?;
        if let Some(proxy) = &proxy_url {
            let url = url::Url::parse(proxy)
                .map_err(|e| ValidationError::new(Self::PROXY_KEY, Problem::InvalidUrl(e)))?;
            if !matches!(url.scheme(), "http" | "https" | "socks5" | "socks5h") {
                return Err(ValidationError::new(
                    Self::PROXY_KEY,
                    Problem::UnsupportedScheme,
                ));
            }
            if !url.username().is_empty() || url.password().is_some() {
                return Err(ValidationError::new(
                    Self::PROXY_KEY,
                    Problem::UserInfoNotAllowed,
                ));
            }
        }
        let ca_certificate_pem = text(Self::CA_KEY)?;
        if let Some(pem) = &ca_certificate_pem
            && !matches!(reqwest::Certificate::from_pem_bundle(pem.as_bytes()), Ok(c) if !c.is_empty())
        {
            return Err(ValidationError::new(Self::CA_KEY, Problem::UnknownValue));
        }
        Ok(Self {
            proxy_url,
            ca_certificate_pem,
        })
    }
}

/// `scheme://host:port` of a proxy URL, without credentials or path.
pub(crate) fn redacted_proxy(proxy: &str) -> String {
    match url::Url::parse(proxy) {
        Ok(url) => format!(
            "{}://{}{}",
            url.scheme(),
            url.host_str().unwrap_or_default(),
            url.port().map(|p| format!(":{p}")).unwrap_or_default()
        ),
        Err(_) => "[unparsable proxy]".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlist_matches_hosts_and_wildcard_subdomains() {
        let open = EgressPolicy::default();
        assert!(open.allows_host("anything.example"));
        let p = EgressPolicy {
            allowed_hosts: vec!["GitLab.example.com".into(), "*.corp.example".into()],
            block_private_addresses: false,
            allowed_proxies: vec![],
        };
        assert!(p.allows_host("gitlab.example.com"));
        assert!(p.allows_host("gitlab.example.com."));
        assert!(p.allows_host("harbor.corp.example"));
        assert!(!p.allows_host("corp.example"));
        assert!(!p.allows_host("evilcorp.example"));
        assert!(!p.allows_host("gitlab.example.com.evil"));
    }

    #[test]
    fn integration_settings_validate_and_never_print_proxy_credentials() {
        let c = Configuration::new(serde_json::json!({"proxy_url": "http://proxy.example:3128"}))
            .unwrap();
        let s = IntegrationHttp::from_configuration(&c).unwrap();
        assert_eq!(s.proxy_url.as_deref(), Some("http://proxy.example:3128"));
        let policy = HttpPolicy {
            proxy: Some("http://user:hunter2@proxy.example:3128".into()),
            ..HttpPolicy::default()
        };
        let printed = format!("{policy:?}");
        assert!(
            printed.contains("proxy.example:3128") && !printed.contains("hunter2"),
            "{printed}"
        );

        let bad = |v: serde_json::Value| {
            IntegrationHttp::from_configuration(&Configuration::new(v).unwrap())
                .unwrap_err()
                .field
        };
        assert_eq!(
            bad(serde_json::json!({"proxy_url": "ftp://x"})),
            "proxy_url"
        );
        assert_eq!(bad(serde_json::json!({"proxy_url": 3})), "proxy_url");
        assert_eq!(
            bad(serde_json::json!({"proxy_url": "http://u:p@proxy.example"})),
            "proxy_url"
        );
        assert_eq!(
            bad(serde_json::json!({"ca_certificate_pem": "not a pem"})),
            "ca_certificate_pem"
        );
        assert_eq!(
            IntegrationHttp::from_configuration(&Configuration::empty()).unwrap(),
            IntegrationHttp::default()
        );
    }
}
