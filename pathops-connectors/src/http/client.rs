//! [`HttpClient`]: one reqwest client per distinct configuration, and the one `send` every
//! connector calls.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pathops_core::{ConnectorContext, Error};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::redirect;
use reqwest::{Method, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};

use super::egress::{EgressResolver, check_proxy, check_url};
use super::error::{Refusal, TransportError, from_reqwest};
use super::policy::{HttpPolicy, IntegrationHttp};

/// One request, before it is sent. `Debug` shows header names only.
#[derive(Clone)]
pub struct HttpRequest {
    method: Method,
    url: String,
    headers: HeaderMap,
    body: Option<Vec<u8>>,
    /// The body holds a credential (a token exchange form).
    secret_body: bool,
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.keys().map(HeaderName::as_str).collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &names)
            .field("body_len", &self.body.as_ref().map(Vec::len))
            .finish()
    }
}

impl HttpRequest {
    /// A request with `method` to `url`.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Self {
            method,
            url: url.into(),
            headers: HeaderMap::new(),
            body: None,
            secret_body: false,
        }
    }

    /// A `GET`.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new(Method::GET, url)
    }

    /// A `POST`.
    pub fn post(url: impl Into<String>) -> Self {
        Self::new(Method::POST, url)
    }

    /// Adds a plain (non-secret) header. An invalid value is dropped.
    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.insert(HeaderName::from_static(name), value);
        }
        self
    }

    /// Adds a credential header built from `prefix` and `secret` (`"Bearer "`, `""`, …),
    /// marked sensitive. This is where secrets leave their wrapper; a value that is not a
    /// valid header is dropped (the call then fails as unauthenticated).
    pub fn credential(mut self, name: &'static str, prefix: &str, secret: &SecretString) -> Self {
        let value = format!("{prefix}{}", secret.expose_secret());
        if let Ok(mut value) = HeaderValue::from_str(&value) {
            value.set_sensitive(true);
            self.headers.insert(HeaderName::from_static(name), value);
        }
        self
    }

    /// HTTP Basic credentials (`Authorization: Basic base64(user:password)`), marked
    /// sensitive like [`credential`](Self::credential); without a password the request is
    /// left unauthenticated.
    pub fn basic_auth(self, user: &str, password: Option<&SecretString>) -> Self {
        use base64::Engine as _;
        match password {
            None => self,
            Some(password) => {
                let encoded = base64::engine::general_purpose::STANDARD
                    .encode(format!("{user}:{}", password.expose_secret()));
                self.credential("authorization", "Basic ", &SecretString::from(encoded))
            }
        }
    }

    /// A JSON body (sets `Content-Type`).
    pub fn json(mut self, body: &serde_json::Value) -> Self {
        self.body = Some(body.to_string().into_bytes());
        self.headers.insert(
            reqwest::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        self
    }

    /// A body that holds no secret.
    pub fn body(mut self, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self
    }

    /// An `application/x-www-form-urlencoded` body holding a credential (a token exchange):
    /// the request is then bound to the integration's origin like one with a credential
    /// header.
    pub fn secret_form(mut self, form: &SecretString) -> Self {
        self.body = Some(form.expose_secret().as_bytes().to_vec());
        self.secret_body = true;
        self.headers.insert(
            reqwest::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        self
    }

    /// The URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether a credential header was added.
    pub fn carries_credential(&self) -> bool {
        self.secret_body || self.headers.values().any(HeaderValue::is_sensitive)
    }
}

/// An answer: status, headers and the whole body (capped by the policy).
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
    /// The URL that answered (after same-origin redirects).
    pub url: Url,
}

impl HttpResponse {
    /// The body as JSON of type `T`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// The first value of header `name` as text, if present and ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Up to `max` characters of the body, as text, for messages.
    pub fn body_excerpt(&self, max: usize) -> String {
        String::from_utf8_lossy(&self.body)
            .chars()
            .take(max)
            .collect()
    }
}

/// Sends requests under an [`HttpPolicy`]: timeouts bounded by the caller's deadline, the
/// egress policy, offline mode, same-origin redirects only, the body cap and the user agent.
/// Holds one reqwest client per distinct [`IntegrationHttp`], built on first use.
pub struct HttpClient {
    policy: Arc<HttpPolicy>,
    clients: moka::sync::Cache<IntegrationHttp, reqwest::Client>,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client under `policy`; the default client is built now, so a bad proxy or
    /// certificate is reported here as [`Error::InvalidConfig`].
    pub fn new(policy: HttpPolicy) -> Result<Self, Error> {
        let this = Self {
            clients: moka::sync::Cache::new(policy.max_cached_clients.max(1)),
            policy: Arc::new(policy),
        };
        this.client(&IntegrationHttp::default())
            .map_err(|e| Error::InvalidConfig {
                message: e.describe(),
            })?;
        Ok(this)
    }

    /// The policy.
    pub fn policy(&self) -> &HttpPolicy {
        &self.policy
    }

    /// Sends `request` for the integration of `ctx`, with its per-integration settings,
    /// before `ctx.deadline`. A request carrying a credential goes only to the integration's
    /// own origin, and over plain `http://` only to loopback unless the policy
    /// [allows it](HttpPolicy::allow_http): otherwise [`TransportError::CredentialRefused`],
    /// and nothing is sent.
    pub async fn send(
        &self,
        ctx: &ConnectorContext,
        request: HttpRequest,
    ) -> Result<HttpResponse, TransportError> {
        let base = ctx.integration.base_url.to_url();
        self.send_bound(ctx, &base, request).await
    }

    /// [`send`](Self::send) for an API whose root is on another origin than the base URL,
    /// derived from the integration by the connector (`https://api.github.com` for
    /// `https://github.com`, or a configured `api_url`): credentials may go to `api_root`'s
    /// origin only.
    pub async fn send_to_api(
        &self,
        ctx: &ConnectorContext,
        api_root: &str,
        request: HttpRequest,
    ) -> Result<HttpResponse, TransportError> {
        let root = Url::parse(api_root).map_err(|e| TransportError::InvalidRequest {
            source: Box::new(e),
        })?;
        self.send_bound(ctx, &root, request).await
    }

    async fn send_bound(
        &self,
        ctx: &ConnectorContext,
        bound_to: &Url,
        request: HttpRequest,
    ) -> Result<HttpResponse, TransportError> {
        let settings = IntegrationHttp::from_configuration(&ctx.integration.configuration)
            .map_err(|e| TransportError::InvalidRequest {
                source: Box::new(e),
            })?;
        if request.carries_credential() {
            self.check_credential_target(bound_to, &request)?;
        }
        self.send_with(&settings, ctx.deadline, request).await
    }

    fn check_credential_target(
        &self,
        base: &Url,
        request: &HttpRequest,
    ) -> Result<(), TransportError> {
        let url = Url::parse(&request.url).map_err(|e| TransportError::InvalidRequest {
            source: Box::new(e),
        })?;
        let origin = url.origin().ascii_serialization();
        if url.origin() != base.origin() {
            return Err(TransportError::CredentialRefused {
                origin,
                reason: "credentials go only to the integration's own origin",
            });
        }
        if url.scheme() == "http" && !self.policy.allow_http && !is_loopback(&url) {
            return Err(TransportError::CredentialRefused {
                origin,
                reason: "credentials are not sent over plain http (HttpPolicy::allow_http)",
            });
        }
        Ok(())
    }

    /// Sends `request` with explicit settings, before `deadline`.
    pub async fn send_with(
        &self,
        settings: &IntegrationHttp,
        deadline: Instant,
        request: HttpRequest,
    ) -> Result<HttpResponse, TransportError> {
        if self.policy.offline {
            return Err(TransportError::Offline);
        }
        let url = Url::parse(&request.url).map_err(|e| TransportError::InvalidRequest {
            source: Box::new(e),
        })?;
        let host = url.host_str().unwrap_or_default().to_owned();
        check_url(&self.policy.egress, &url).map_err(|r| match r {
            Refusal::Egress { host, reason } => TransportError::EgressRefused { host, reason },
            other => TransportError::InvalidRequest {
                source: Box::new(other),
            },
        })?;
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(TransportError::Timeout {
                after: Duration::ZERO,
            });
        }
        let timeout = remaining.min(self.policy.request_timeout);
        if let Some(proxy) = &settings.proxy_url {
            check_proxy(&self.policy.egress, proxy).map_err(|r| match r {
                Refusal::Egress { host, reason } => TransportError::EgressRefused { host, reason },
                other => TransportError::InvalidRequest {
                    source: Box::new(other),
                },
            })?;
        }
        let client = self.client(settings)?;
        let method = request.method.clone();
        // The path only: a query may carry what a connector passes on for the tool (Bitbucket
        // Data Center's webhook test takes the hook's URL, credentials and all, as `url=`).
        tracing::debug!(%method, url = %format_args!("{}{}", url.origin().ascii_serialization(), url.path()), "sending request");
        let call = async {
            let mut builder = client
                .request(request.method, url)
                .headers(request.headers)
                .timeout(timeout);
            if let Some(body) = request.body {
                builder = builder.body(body);
            }
            let mut response = builder
                .send()
                .await
                .map_err(|e| from_reqwest(e, &host, timeout, self.policy.connect_timeout))?;
            let limit = self.policy.max_body_bytes;
            if response
                .content_length()
                .is_some_and(|len| len > limit as u64)
            {
                return Err(TransportError::BodyTooLarge { limit });
            }
            let status = response.status();
            let headers = response.headers().clone();
            let final_url = response.url().clone();
            let mut body = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| from_reqwest(e, &host, timeout, self.policy.connect_timeout))?
            {
                if body.len() + chunk.len() > limit {
                    return Err(TransportError::BodyTooLarge { limit });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(HttpResponse {
                status,
                headers,
                body,
                url: final_url,
            })
        };
        let result = match tokio::time::timeout(timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(TransportError::Timeout { after: timeout }),
        };
        match &result {
            Ok(r) => tracing::debug!(%method, status = r.status.as_u16(), "response"),
            Err(e) => tracing::debug!(%method, error = %e, "request failed"),
        }
        result
    }

    fn client(&self, settings: &IntegrationHttp) -> Result<reqwest::Client, TransportError> {
        self.clients
            .try_get_with_by_ref(settings, || build_client(&self.policy, settings))
            .map_err(|e| TransportError::InvalidRequest {
                source: Box::new(SharedBuildError(e)),
            })
    }

    /// How many clients are cached now (after pending evictions ran).
    pub fn cached_clients(&self) -> u64 {
        self.clients.run_pending_tasks();
        self.clients.entry_count()
    }
}

/// A client build error shared by every caller that waited on the same build.
#[derive(Debug)]
struct SharedBuildError(Arc<pathops_core::error::BoxError>);

impl fmt::Display for SharedBuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for SharedBuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Whether `url`'s host is a loopback name or address.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost"
        }
        None => false,
    }
}

fn build_client(
    policy: &HttpPolicy,
    settings: &IntegrationHttp,
) -> Result<reqwest::Client, pathops_core::error::BoxError> {
    let max = policy.max_redirects;
    let redirects = redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > max {
            return attempt.error(Refusal::TooMany { max });
        }
        let same_origin = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if same_origin {
            attempt.follow()
        } else {
            let to = attempt.url().origin().ascii_serialization();
            attempt.error(Refusal::CrossOrigin { to })
        }
    });
    let mut builder = reqwest::Client::builder()
        .user_agent(policy.user_agent.clone())
        .connect_timeout(policy.connect_timeout)
        .timeout(policy.request_timeout)
        .redirect(redirects)
        .dns_resolver(EgressResolver {
            block_private_addresses: policy.egress.block_private_addresses,
        });
    match settings.proxy_url.as_ref().or(policy.proxy.as_ref()) {
        Some(proxy) => builder = builder.proxy(reqwest::Proxy::all(proxy.as_str())?),
        None => builder = builder.no_proxy(),
    }
    let mut roots = Vec::new();
    for pem in policy
        .extra_ca_pem
        .iter()
        .chain(settings.ca_certificate_pem.as_ref())
    {
        roots.extend(reqwest::Certificate::from_pem_bundle(pem.as_bytes())?);
    }
    if !roots.is_empty() {
        builder = builder.tls_certs_merge(roots);
    }
    Ok(builder.build()?)
}
