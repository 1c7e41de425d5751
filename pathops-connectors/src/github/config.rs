//! The GitHub App integration's configuration and the API root derived from the base URL.

use pathops_core::validate::{Problem, ValidationError};
use pathops_core::{BaseUrl, Configuration};
use serde_json::Value;

/// The settings a GitHub App integration carries in its configuration:
///
/// | key | value |
/// |---|---|
/// | `app_id` | required: the numeric App ID (`123456` or `"123456"`) or the client ID (`"Iv1.abc…"`), used as the JWT `iss` |
/// | `installation_id` | the installation to mint tokens for (health then reads the installation's rate limit) |
/// | `repository` | `owner/name`, for hook pings |
/// | `hook_id` | the repository hook the doctor pings (needs `repository` and `installation_id`) |
/// | `api_url` | an explicit API root, used verbatim (GHE.com data residency, API proxies, test servers) |
///
/// plus the HTTP settings of [`IntegrationHttp`](crate::http::IntegrationHttp). The secret is
/// the App's private key (PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHubAppConfig {
    /// The JWT issuer.
    pub app_id: AppId,
    /// The installation, if any.
    pub installation_id: Option<u64>,
    /// `owner/name`, if any.
    pub repository: Option<String>,
    /// The hook to ping, if any.
    pub hook_id: Option<u64>,
    /// The explicit API root, if any.
    pub api_url: Option<String>,
}

/// The App's identity as the JWT `iss` claim carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppId {
    /// The numeric App ID (sent as a JSON number).
    Numeric(u64),
    /// The client ID (sent as a string).
    ClientId(String),
}

fn positive(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().filter(|n| *n > 0),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok().filter(|n| *n > 0)
        }
        _ => None,
    }
}

impl GitHubAppConfig {
    /// Every key a GitHub App configuration may have (besides the HTTP settings).
    pub const KEYS: [&'static str; 6] = [
        "app_id",
        "installation_id",
        "repository",
        "hook_id",
        "api_url",
        pathops_core::webhook::SECRET_REF_KEY,
    ];

    /// Reads and validates the configuration; errors name the key, and any key not in
    /// [`KEYS`](Self::KEYS) (nor an HTTP setting) is refused by name.
    pub fn parse(configuration: &Configuration) -> Result<Self, ValidationError> {
        crate::http::IntegrationHttp::from_configuration(configuration)?;
        crate::check::refuse_unknown_keys(configuration, &Self::KEYS)?;
        let get = |key| configuration.get(key).filter(|v| !v.is_null());
        let app_id = match get("app_id") {
            None => return Err(ValidationError::new("app_id", Problem::Empty)),
            Some(v) => match (positive(v), v) {
                (Some(id), _) => AppId::Numeric(id),
                (None, Value::String(s))
                    if !s.is_empty()
                        && s.len() <= 64
                        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '.') =>
                {
                    AppId::ClientId(s.clone())
                }
                _ => return Err(ValidationError::new("app_id", Problem::UnknownValue)),
            },
        };
        let installation_id = match get("installation_id") {
            None => None,
            Some(v) => Some(
                positive(v).ok_or(ValidationError::new("installation_id", Problem::OutOfRange))?,
            ),
        };
        let repository = match get("repository") {
            None => None,
            Some(Value::String(r))
                if r.split('/').count() == 2
                    && r.split('/').all(|p| {
                        !p.is_empty()
                            && p.chars()
                                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                    }) =>
            {
                Some(r.clone())
            }
            Some(_) => return Err(ValidationError::new("repository", Problem::UnknownValue)),
        };
        let hook_id = match get("hook_id") {
            None => None,
            Some(v) => {
                Some(positive(v).ok_or(ValidationError::new("hook_id", Problem::OutOfRange))?)
            }
        };
        if hook_id.is_some() && repository.is_none() {
            return Err(ValidationError::new("repository", Problem::Empty));
        }
        if hook_id.is_some() && installation_id.is_none() {
            return Err(ValidationError::new("installation_id", Problem::Empty));
        }
        let api_url = match get("api_url") {
            None => None,
            Some(Value::String(u)) => Some(
                BaseUrl::parse(u)
                    .map_err(|e| ValidationError::new("api_url", e.problem))?
                    .to_string(),
            ),
            Some(_) => return Err(ValidationError::new("api_url", Problem::UnknownValue)),
        };
        Ok(Self {
            app_id,
            installation_id,
            repository,
            hook_id,
            api_url,
        })
    }
}

/// The REST API root for a base URL:
///
/// | base URL | API root |
/// |---|---|
/// | `https://github.com`, `https://api.github.com` | `https://api.github.com` |
/// | `https://<sub>.ghe.com` | `https://api.<sub>.ghe.com` |
/// | `https://<ghes>/api/v3` | kept as is |
/// | `https://<ghes>[/<prefix>]` | `https://<ghes>[/<prefix>]/api/v3` |
///
/// Never the origin root: GHES serves the web UI there, not `/app`.
///
/// ```
/// use pathops_connectors::github::api_root;
/// use pathops_core::BaseUrl;
///
/// let root = |s: &str| api_root(&BaseUrl::parse(s).unwrap());
/// assert_eq!(root("https://github.com"), "https://api.github.com");
/// assert_eq!(root("https://ghe.example.com"), "https://ghe.example.com/api/v3");
/// assert_eq!(root("https://ghe.example.com/api/v3/"), "https://ghe.example.com/api/v3");
/// ```
pub fn api_root(base_url: &BaseUrl) -> String {
    let url = base_url.to_url();
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    if host == "github.com" || host == "www.github.com" || host == "api.github.com" {
        return "https://api.github.com".to_owned();
    }
    if let Some(sub) = host.strip_suffix(".ghe.com") {
        return if sub.starts_with("api.") {
            format!("https://{host}")
        } else {
            format!("https://api.{host}")
        };
    }
    let base = base_url.as_str();
    if base.ends_with("/api/v3") {
        base.to_owned()
    } else {
        base_url.join("api/v3")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn api_roots() {
        let root = |s: &str| api_root(&BaseUrl::parse(s).unwrap());
        assert_eq!(root("https://api.github.com/"), "https://api.github.com");
        assert_eq!(root("http://GitHub.com"), "https://api.github.com");
        assert_eq!(root("https://acme.ghe.com"), "https://api.acme.ghe.com");
        assert_eq!(root("https://api.acme.ghe.com"), "https://api.acme.ghe.com");
        assert_eq!(
            root("https://git.corp.example/github"),
            "https://git.corp.example/github/api/v3"
        );
        assert_eq!(
            root("http://127.0.0.1:8080/api/v3"),
            "http://127.0.0.1:8080/api/v3"
        );
    }

    #[test]
    fn configuration() {
        let parse = |v: Value| GitHubAppConfig::parse(&Configuration::new(v).unwrap());
        let c = parse(
            json!({"app_id": "4242", "installation_id": 7, "repository": "acme/app", "hook_id": 3}),
        )
        .unwrap();
        assert_eq!(c.app_id, AppId::Numeric(4242));
        assert_eq!(c.hook_id, Some(3));
        let c = parse(json!({"app_id": "Iv1.abc123", "api_url": "http://127.0.0.1:9/"})).unwrap();
        assert_eq!(c.app_id, AppId::ClientId("Iv1.abc123".into()));
        assert_eq!(c.api_url.as_deref(), Some("http://127.0.0.1:9"));
        let field = |v: Value| parse(v).unwrap_err().field;
        assert_eq!(field(json!({})), "app_id");
        assert_eq!(field(json!({"app_id": "a b"})), "app_id");
        assert_eq!(
            field(json!({"app_id": 1, "installation_id": 0})),
            "installation_id"
        );
        assert_eq!(
            field(json!({"app_id": 1, "repository": "noslash"})),
            "repository"
        );
        assert_eq!(
            field(json!({"app_id": 1, "installation_id": 2, "hook_id": 3})),
            "repository"
        );
        assert_eq!(
            field(json!({"app_id": 1, "repository": "a/b", "hook_id": 3})),
            "installation_id"
        );
        assert_eq!(field(json!({"app_id": 1, "api_url": "ftp://x"})), "api_url");
        // The doctor's key and the HTTP settings are accepted; a misspelt key is named.
        parse(
            json!({"app_id": 1, "webhook_secret_ref": "ref://acme/github/hook", "proxy_url": null}),
        )
        .unwrap();
        let typo = parse(json!({"app_id": 1, "instalation_id": 2})).unwrap_err();
        assert!(typo.to_string().contains("`instalation_id`"), "{typo}");
    }
}
