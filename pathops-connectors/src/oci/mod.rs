//! One OCI Distribution client for the registry providers (feature `oci`): a generic OCI
//! registry, Docker Hub, GHCR, Quay, ECR, ACR, Artifact Registry (and `gcr.io`) and
//! Artifactory, which differ in where their token service lives and in the provider's own
//! credential step before it.
//!
//! | step | call | decided on |
//! |---|---|---|
//! | base check | `GET /v2/` | `200`: reachable (and, for an anonymous registry, nothing to prove); `401`: follow the `WWW-Authenticate` challenge and retry; `404`: not a registry |
//! | `Basic` challenge | `GET /v2/` with `Authorization: Basic` | `200` proves the credential, `401` refuses it |
//! | `Bearer` challenge | `GET <realm>?service=…[&scope=…]` (Basic credentials when configured), then the call again with `Authorization: Bearer <token>` | a `401` from the token service refuses the credential; `token` or `access_token`; `expires_in` (default 60 s) |
//! | repository (with `repository`) | `GET /v2/<repository>/tags/list?n=1` under `repository:<repository>:pull` | `200`; `404 NAME_UNKNOWN` not found; a `401`/`403` with a token the service issued means the credential lacks the scope (`permission_denied`, naming it): the token service does not refuse insufficient access, the registry does |
//!
//! `Docker-Distribution-Api-Version` is reported when present, never required. Error bodies
//! (`{"errors":[{"code":…}]}`) are reported by code; Docker Hub's `ratelimit-remaining` goes
//! into the details.
//!
//! **Tokens** are cached per (integration, realm, service, scope) until shortly before they
//! expire (a tenth of their lifetime, at most 10 s early); a token that is expired on
//! arrival is used once and not cached. [`OciConnector::token_requests`] counts the token
//! service calls.
//!
//! **Where the credential goes.** The realm comes from the registry, which is not trusted: a
//! credential goes to the token service only when the realm's origin is the registry's own,
//! the provider's documented one (Docker Hub: `https://auth.docker.io`), or the origin the
//! integration names in `auth_origin`. Any other realm is refused before anything is sent.
//!
//! # Configuration
//!
//! One place for every key ([`OciConfig`]); unknown keys are refused.
//!
//! | key | meaning |
//! |---|---|
//! | `username` | the account (Docker Hub user, GitHub user for GHCR, Quay robot `namespace+robot` or `$oauthtoken`); the secret behind the auth ref is its password, PAT or robot token. Without it, the registry is used anonymously |
//! | `repository` | a repository to prove pull access on (`team/app`); without it, the check stops at `/v2/` |
//! | `auth_origin` | the origin of a token service on another host than the registry (`https://auth.example.com`) |
//! | `region` | ECR: the AWS region, when the host does not say (`<account>.dkr.ecr.<region>.amazonaws.com` does) |
//! | `auth` | ACR: `basic` (admin user or repository token, the default) or `entra` (the secret is an Entra access token) |
//! | `docker_repository` | Artifactory: the Docker repository key |
//! | `docker_access` | Artifactory: `repository_path` (the default: `/artifactory/api/docker/<key>/v2/`), or `subdomain` / `port` (the base URL is the repository's own host) |
//! | `proxy_url`, `ca_certificate_pem` | the HTTP settings of [`IntegrationHttp`] |
//!
//! | provider | base URL | token service |
//! |---|---|---|
//! | `oci-registry` | the registry | the registry's own origin unless `auth_origin` |
//! | `docker-hub` | `https://registry-1.docker.io` | `https://auth.docker.io/token`, service `registry.docker.io` |
//! | `ghcr` | `https://ghcr.io` | `https://ghcr.io/token` |
//! | `quay` | `https://quay.io` | `https://quay.io/v2/auth` |
//! | `ecr` | `https://<account>.dkr.ecr.<region>.amazonaws.com` | none: Basic `AWS` + the password `GetAuthorizationToken` returns, signed with SigV4 from the JSON secret `{"access_key_id","secret_access_key","session_token"?}`; reused for its 12 hours (less 10 minutes) |
//! | `acr` | `https://<name>.azurecr.io` | `/oauth2/token` on the registry; with `auth: entra`, `POST /oauth2/exchange` (Entra token → refresh token) then `POST /oauth2/token` (→ access token) |
//! | `gcr` | `https://<region>-docker.pkg.dev` or `https://gcr.io` | the registry's own (its challenge names no `service`); `username` `oauth2accesstoken` with an access token, or `_json_key` / `_json_key_base64` with a service-account key, exchanged first for an access token at Google's token endpoint (a signed JWT assertion) |
//! | `artifactory` | `https://<host>` | the repository's `/v2/token`; `GET /artifactory/api/system/ping` (`OK`) and `/artifactory/api/system/version` first |
//!
//! The operator, not the tenant, may point the provider services elsewhere (a VPC endpoint,
//! a test double): [`OciConnectorBuilder::with_ecr_endpoint`],
//! [`OciConnectorBuilder::with_google_token_url`].

pub mod challenge;
mod credentials;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pathops_core::clock::SystemClock;
use pathops_core::validate::{Problem, ValidationError};
use pathops_core::{
    Capabilities, Capability, CheckResult, Clock, Configuration, ConnectorContext, Error,
    FailureCode, IntegrationConnector, IntegrationId, Provider, Result,
};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::instrument;

use crate::check::{Check, http_failure_message};
use crate::http::{HttpClient, HttpPolicy, HttpRequest, HttpResponse, IntegrationHttp, status};
use challenge::Challenge;
use credentials::Login;

/// Every configuration key of a registry integration (see the [module docs](self)).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OciConfig {
    /// The account name; the secret is its password or token.
    pub username: Option<String>,
    /// A repository to prove pull access on.
    pub repository: Option<String>,
    /// The origin of a token service on another host.
    pub auth_origin: Option<String>,
    /// ECR: the region, when the host does not name it.
    pub region: Option<String>,
    /// ACR: `basic` or `entra`.
    pub auth: Option<String>,
    /// Artifactory: the Docker repository key.
    pub docker_repository: Option<String>,
    /// Artifactory: `repository_path`, `subdomain` or `port`.
    pub docker_access: Option<String>,
    /// See [`IntegrationHttp`].
    pub proxy_url: Option<String>,
    /// See [`IntegrationHttp`].
    pub ca_certificate_pem: Option<String>,
}

const KEYS: [&str; 9] = [
    "username",
    "repository",
    "auth_origin",
    "region",
    "auth",
    "docker_repository",
    "docker_access",
    "proxy_url",
    "ca_certificate_pem",
];

fn at_key(key: &str, problem: Problem) -> ValidationError {
    ValidationError::new(
        "configuration",
        Problem::AtKey {
            key: key.to_owned(),
            problem: Box::new(problem),
        },
    )
}

/// A repository name as the Distribution spec's grammar has it: lowercase components of
/// letters and digits joined by `.`, `_`, `__` or dashes, separated by `/`.
fn valid_repository(name: &str) -> bool {
    name.len() <= 255
        && name.split('/').all(|component| {
            let bytes = component.as_bytes();
            !bytes.is_empty()
                && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
                && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(b))
        })
}

impl OciConfig {
    /// Reads and validates a configuration; errors name the key, never its value.
    pub fn from_configuration(
        configuration: &Configuration,
    ) -> std::result::Result<Self, ValidationError> {
        IntegrationHttp::from_configuration(configuration)?;
        for (key, value) in configuration.as_map() {
            if !KEYS.contains(&key.as_str()) {
                return Err(at_key(key, Problem::UnknownValue));
            }
            if !matches!(value, Value::String(_) | Value::Null) {
                return Err(at_key(key, Problem::UnknownValue));
            }
        }
        let config: OciConfig = serde_json::from_value(configuration.to_value())
            .map_err(|_| ValidationError::new("configuration", Problem::Malformed))?;
        if let Some(user) = &config.username {
            if user.trim().is_empty() {
                return Err(at_key("username", Problem::Empty));
            }
            if let Some(index) = user.find(':') {
                return Err(at_key("username", Problem::InvalidCharacter { index }));
            }
        }
        if let Some(repo) = &config.repository
            && !valid_repository(repo)
        {
            return Err(at_key("repository", Problem::Malformed));
        }
        if let Some(auth) = &config.auth
            && !matches!(auth.as_str(), "basic" | "entra")
        {
            return Err(at_key("auth", Problem::UnknownValue));
        }
        if let Some(access) = &config.docker_access
            && !matches!(access.as_str(), "repository_path" | "subdomain" | "port")
        {
            return Err(at_key("docker_access", Problem::UnknownValue));
        }
        if let Some(key) = &config.docker_repository
            && (key.is_empty()
                || !key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)))
        {
            return Err(at_key("docker_repository", Problem::Malformed));
        }
        if let Some(region) = &config.region
            && (region.is_empty()
                || !region
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
        {
            return Err(at_key("region", Problem::Malformed));
        }
        if let Some(origin) = &config.auth_origin {
            let url = url::Url::parse(origin)
                .map_err(|e| at_key("auth_origin", Problem::InvalidUrl(e)))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(at_key("auth_origin", Problem::UnsupportedScheme));
            }
            if !url.username().is_empty() || url.password().is_some() {
                return Err(at_key("auth_origin", Problem::UserInfoNotAllowed));
            }
        }
        Ok(config)
    }
}

/// The origin (`scheme://host[:port]`) of a URL.
pub(super) fn origin(url: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")
}

/// A cached token.
#[derive(Clone)]
struct CachedToken {
    token: SecretString,
    valid_until: Instant,
}

/// (integration, realm, service, scope).
type TokenKey = (IntegrationId, String, String, String);

/// How a call is authorized.
#[derive(Clone)]
enum Auth {
    Anonymous,
    Basic,
    Bearer(SecretString),
}

/// The OCI Distribution connector; see the [module docs](self).
pub struct OciConnector {
    provider: Provider,
    http: HttpClient,
    clock: Arc<dyn Clock>,
    tokens: moka::sync::Cache<TokenKey, CachedToken>,
    /// The last challenge each integration's registry sent (realm and service only), so a
    /// check sends the credential it wants at once instead of asking anonymously first.
    challenges: moka::sync::Cache<IntegrationId, Challenge>,
    /// Provider logins (ECR passwords, Google access tokens) per integration.
    logins: moka::sync::Cache<IntegrationId, Login>,
    ecr_endpoint: Option<String>,
    google_token_url: String,
    token_requests: AtomicU64,
}

impl std::fmt::Debug for OciConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OciConnector")
            .field("provider", &self.provider)
            .field("cached_tokens", &self.tokens.entry_count())
            .finish_non_exhaustive()
    }
}

/// Builds an [`OciConnector`]; setters never fail, [`build`](Self::build) validates.
#[derive(Debug)]
pub struct OciConnectorBuilder {
    provider: Provider,
    policy: HttpPolicy,
    clock: Option<Arc<dyn Clock>>,
    ecr_endpoint: Option<String>,
    google_token_url: Option<String>,
}

impl OciConnectorBuilder {
    /// The HTTP policy (default [`HttpPolicy::default`]).
    pub fn with_http(mut self, policy: HttpPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The clock for rate-limit resets (default the system clock).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// ECR: where `GetAuthorizationToken` is called instead of
    /// `https://api.ecr.<region>.amazonaws.com/` (a VPC endpoint, or a test double). Operator
    /// setting: the signed request goes there.
    pub fn with_ecr_endpoint(mut self, url: impl Into<String>) -> Self {
        self.ecr_endpoint = Some(url.into());
        self
    }

    /// Artifact Registry: Google's token endpoint for service-account keys (default
    /// [`OciConnector::GOOGLE_TOKEN_URL`]). Operator setting: the signed assertion goes there.
    pub fn with_google_token_url(mut self, url: impl Into<String>) -> Self {
        self.google_token_url = Some(url.into());
        self
    }

    /// The connector; [`Error::InvalidConfig`] for a provider it does not serve or an
    /// unusable HTTP policy.
    pub fn build(self) -> Result<OciConnector> {
        if !OciConnector::PROVIDERS.contains(&self.provider) {
            return Err(Error::InvalidConfig {
                message: format!("the OCI connector does not serve {}", self.provider),
            });
        }
        Ok(OciConnector {
            provider: self.provider,
            http: HttpClient::new(self.policy)?,
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            tokens: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(24 * 3600))
                .build(),
            challenges: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(3600))
                .build(),
            logins: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(12 * 3600))
                .build(),
            ecr_endpoint: self.ecr_endpoint,
            google_token_url: self
                .google_token_url
                .unwrap_or_else(|| OciConnector::GOOGLE_TOKEN_URL.to_owned()),
            token_requests: AtomicU64::new(0),
        })
    }
}

/// A step's outcome: the value, or the result to report.
type Step<T> = std::result::Result<T, CheckResult>;

impl OciConnector {
    /// The providers this connector serves.
    pub const PROVIDERS: [Provider; 8] = [
        Provider::OciRegistry,
        Provider::DockerHub,
        Provider::Ghcr,
        Provider::Quay,
        Provider::Ecr,
        Provider::Acr,
        Provider::Gcr,
        Provider::Artifactory,
    ];

    /// Google's OAuth token endpoint.
    pub const GOOGLE_TOKEN_URL: &'static str = "https://oauth2.googleapis.com/token";

    /// A builder for `provider` with the default policy.
    pub fn builder(provider: Provider) -> OciConnectorBuilder {
        OciConnectorBuilder {
            provider,
            policy: HttpPolicy::default(),
            clock: None,
            ecr_endpoint: None,
            google_token_url: None,
        }
    }

    /// How many times the connector has called a token service (a registry's, ACR's
    /// exchange, ECR's `GetAuthorizationToken`, Google's token endpoint).
    pub fn token_requests(&self) -> u64 {
        self.token_requests.load(Ordering::Relaxed)
    }

    /// The provider's documented token service origin, when it is not the registry's.
    fn provider_auth_origin(&self) -> Option<&'static str> {
        match self.provider {
            Provider::DockerHub => Some("https://auth.docker.io"),
            _ => None,
        }
    }

    /// `path` (`v2/…`) under the registry root: the base URL, or for Artifactory's
    /// repository-path method `/artifactory/api/docker/<key>/`.
    fn url(&self, ctx: &ConnectorContext, config: &OciConfig, path: &str) -> String {
        match (
            &self.provider,
            config.docker_access.as_deref(),
            &config.docker_repository,
        ) {
            (Provider::Artifactory, None | Some("repository_path"), Some(key)) => ctx
                .integration
                .base_url
                .join(&format!("artifactory/api/docker/{key}/{path}")),
            _ => ctx.integration.base_url.join(path),
        }
    }

    /// The registry's Basic credential for this check: the provider's own step (ECR,
    /// Google service-account keys), else `username` and the secret.
    async fn login(&self, check: &Check<'_>, config: &OciConfig) -> Step<Option<Login>> {
        let ctx = check.ctx;
        let id = ctx.integration.id;
        if let Some(login) = self.logins.get(&id)
            && login.valid_until.is_some_and(|t| t > Instant::now())
        {
            return Ok(Some(login));
        }
        let fresh = match (&self.provider, config.username.as_deref()) {
            (Provider::Ecr, _) => {
                let host = ctx.integration.base_url.host();
                let Some(region) = config
                    .region
                    .clone()
                    .or_else(|| credentials::ecr_region(&host))
                else {
                    return Err(check.failed(
                        FailureCode::InvalidConfig,
                        "the ECR region: the host is not <account>.dkr.ecr.<region>.amazonaws.com; set `region`",
                    ));
                };
                let endpoint = self
                    .ecr_endpoint
                    .clone()
                    .unwrap_or_else(|| format!("https://api.ecr.{region}.amazonaws.com/"));
                self.token_requests.fetch_add(1, Ordering::Relaxed);
                credentials::ecr_login(
                    check,
                    ctx.secret.as_ref(),
                    &region,
                    &endpoint,
                    self.clock.now(),
                )
                .await?
            }
            (Provider::Gcr, Some(user @ ("_json_key" | "_json_key_base64"))) => {
                self.token_requests.fetch_add(1, Ordering::Relaxed);
                credentials::google_login(
                    check,
                    ctx.secret.as_ref(),
                    user == "_json_key_base64",
                    &self.google_token_url,
                )
                .await?
            }
            (Provider::Acr, _) if config.auth.as_deref() == Some("entra") => return Ok(None),
            (_, Some(user)) => match &ctx.secret {
                Some(secret) => Login {
                    user: user.to_owned(),
                    password: secret.clone(),
                    valid_until: None,
                },
                None => return Ok(None),
            },
            (_, None) => return Ok(None),
        };
        if fresh.valid_until.is_some() {
            self.logins.insert(id, fresh.clone());
        }
        Ok(Some(fresh))
    }

    fn failed(&self, check: &Check<'_>, what: &str, response: &HttpResponse) -> CheckResult {
        let code = status::default_failure(response.status, &response.headers, self.clock.now())
            .unwrap_or(FailureCode::InvalidResponse);
        let mut result = check.failed(code, http_failure_message(what, response));
        if let Some(codes) = error_codes(response) {
            result = result.with_detail("registry_errors", codes);
        }
        result
    }

    fn authorize(&self, request: HttpRequest, auth: &Auth, login: Option<&Login>) -> HttpRequest {
        match (auth, login) {
            (Auth::Basic, Some(login)) => request.basic_auth(&login.user, Some(&login.password)),
            (Auth::Bearer(token), _) => request.credential("authorization", "Bearer ", token),
            _ => request,
        }
    }

    /// A token for `challenge` and `scope`: from the cache, else from the token service.
    async fn token(
        &self,
        check: &Check<'_>,
        config: &OciConfig,
        login: Option<&Login>,
        challenge: &Challenge,
        scope: Option<&str>,
    ) -> Step<SecretString> {
        let ctx = check.ctx;
        let Some(realm) = challenge.param("realm").filter(|r| !r.is_empty()) else {
            return Err(check.failed(
                FailureCode::InvalidResponse,
                "the registry's Bearer challenge names no realm",
            ));
        };
        let key = token_key(ctx.integration.id, challenge, scope);
        let (_, _, service, scope) = key.clone();
        if let Some(token) = self.cached_token(&key) {
            return Ok(token);
        }
        let Some(realm_origin) = origin(realm) else {
            return Err(check.failed(
                FailureCode::InvalidResponse,
                "the registry's token realm is not an absolute URL",
            ));
        };
        let own = ctx
            .integration
            .base_url
            .to_url()
            .origin()
            .ascii_serialization();
        let allowed = realm_origin == own
            || self.provider_auth_origin() == Some(realm_origin.as_str())
            || config.auth_origin.as_deref().and_then(origin).as_deref()
                == Some(realm_origin.as_str());
        if !allowed {
            return Err(check.failed(
                FailureCode::InvalidConfig,
                format!(
                    "the registry's token service {realm_origin} is not on the registry's origin \
                     {own}: no credential is sent there; if it is the registry's token service, \
                     name it in the integration's `auth_origin`"
                ),
            ));
        }
        if self.provider == Provider::Acr && config.auth.as_deref() == Some("entra") {
            self.token_requests.fetch_add(1, Ordering::Relaxed);
            let (token, lifetime) =
                credentials::acr_token(check, ctx.secret.as_ref(), &own, &service, &scope).await?;
            if let Some(valid_until) = Instant::now().checked_add(lifetime) {
                self.tokens.insert(
                    key,
                    CachedToken {
                        token: token.clone(),
                        valid_until,
                    },
                );
            }
            return Ok(token);
        }
        let mut url = url::Url::parse(realm).map_err(|_| {
            check.failed(
                FailureCode::InvalidResponse,
                "the registry's token realm is not a URL",
            )
        })?;
        {
            let mut query = url.query_pairs_mut();
            if !service.is_empty() {
                query.append_pair("service", &service);
            }
            if !scope.is_empty() {
                query.append_pair("scope", &scope);
            }
        }
        let request = self.authorize(HttpRequest::get(url.as_str()), &Auth::Basic, login);
        self.token_requests.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let response = check.send_to(&realm_origin, request).await?;
        match response.status.as_u16() {
            200 => {}
            401 | 403 => {
                let who = login.map_or("anonymous", |l| l.user.as_str());
                return Err(check.failed(
                    FailureCode::Unauthenticated,
                    format!(
                        "the token service {realm_origin} refused the credentials of {who} ({})",
                        response.status.as_u16()
                    ),
                ));
            }
            _ => return Err(self.failed(check, "the token service", &response)),
        }
        #[derive(Deserialize)]
        struct TokenResponse {
            token: Option<String>,
            access_token: Option<String>,
            expires_in: Option<u64>,
        }
        let body: TokenResponse = response.json().map_err(|_| {
            check.failed(
                FailureCode::InvalidResponse,
                "the token service's answer is not its JSON",
            )
        })?;
        let Some(token) = body.token.or(body.access_token).filter(|t| !t.is_empty()) else {
            return Err(check.failed(
                FailureCode::InvalidResponse,
                "the token service answered without a token",
            ));
        };
        let token = SecretString::from(token);
        let lifetime = Duration::from_secs(body.expires_in.unwrap_or(60));
        let early = (lifetime / 10).min(Duration::from_secs(10));
        if let Some(valid_until) = started.checked_add(lifetime.saturating_sub(early))
            && lifetime > early
        {
            self.tokens.insert(
                key,
                CachedToken {
                    token: token.clone(),
                    valid_until,
                },
            );
        }
        Ok(token)
    }

    fn cached_token(&self, key: &TokenKey) -> Option<SecretString> {
        self.tokens
            .get(key)
            .filter(|cached| cached.valid_until > Instant::now())
            .map(|cached| cached.token)
    }

    /// What the integration's registry asked for last time, when it can be sent at once: its
    /// Basic credentials, or a cached token for `scope`.
    fn known_auth(
        &self,
        id: IntegrationId,
        login: Option<&Login>,
        scope: Option<&str>,
    ) -> Option<(Auth, Option<TokenKey>)> {
        let challenge = self.challenges.get(&id)?;
        if challenge.is("basic") {
            return login.is_some().then_some((Auth::Basic, None));
        }
        let key = token_key(id, &challenge, scope);
        let token = self.cached_token(&key)?;
        Some((Auth::Bearer(token), Some(key)))
    }

    /// `GET path`, answering a `401` challenge once; returns the answer and how it was
    /// authorized.
    async fn get(
        &self,
        check: &Check<'_>,
        config: &OciConfig,
        login: Option<&Login>,
        path: &str,
        scope: Option<&str>,
    ) -> Step<(HttpResponse, Auth)> {
        let url = self.url(check.ctx, config, path);
        let id = check.ctx.integration.id;
        let mut first = None;
        if let Some((auth, key)) = self.known_auth(id, login, scope) {
            let request = self.authorize(HttpRequest::get(&url), &auth, login);
            let response = check.send(request).await?;
            if response.status.as_u16() != 401 {
                return Ok((response, auth));
            }
            // Revoked, or the registry changed its mind: ask again, from the challenge.
            if let Some(key) = key {
                self.tokens.invalidate(&key);
            }
            first = Some(response);
        }
        let response = match first {
            Some(response) => response,
            None => check.send(HttpRequest::get(&url)).await?,
        };
        if response.status.as_u16() != 401 {
            return Ok((response, Auth::Anonymous));
        }
        let challenges = response
            .header("www-authenticate")
            .map(challenge::parse)
            .unwrap_or_default();
        let Some(challenge) = challenges
            .into_iter()
            .find(|c| c.is("bearer") || c.is("basic"))
        else {
            return Err(check.failed(
                FailureCode::InvalidResponse,
                format!("GET /{path} answered 401 without a Basic or Bearer challenge"),
            ));
        };
        self.challenges.insert(
            id,
            Challenge {
                scheme: challenge.scheme.clone(),
                params: challenge
                    .params
                    .iter()
                    .filter(|(name, _)| name == "realm" || name == "service")
                    .cloned()
                    .collect(),
            },
        );
        let auth = if challenge.is("basic") {
            if login.is_none() {
                return Err(check.failed(
                    FailureCode::Unauthenticated,
                    "the registry requires credentials (Basic) and the integration has none: set \
                     `username` and the auth ref",
                ));
            }
            Auth::Basic
        } else {
            Auth::Bearer(self.token(check, config, login, &challenge, scope).await?)
        };
        let request = self.authorize(HttpRequest::get(&url), &auth, login);
        let retried = check.send(request).await?;
        Ok((retried, auth))
    }

    /// Artifactory's platform checks: `GET /artifactory/api/system/ping` must answer `OK`;
    /// `GET /artifactory/api/system/version` gives the version (when the caller may read it).
    async fn artifactory(&self, check: &Check<'_>, login: Option<&Login>) -> Step<Value> {
        let base = &check.ctx.integration.base_url;
        let ping = check
            .send(HttpRequest::get(base.join("artifactory/api/system/ping")))
            .await?;
        if !ping.status.is_success() || ping.body_excerpt(16).trim() != "OK" {
            let mut failed = self.failed(check, "GET /artifactory/api/system/ping", &ping);
            if ping.status.is_success() {
                failed = check.failed(
                    FailureCode::Unhealthy,
                    format!(
                        "GET /artifactory/api/system/ping answered {:?}, not OK",
                        ping.body_excerpt(64)
                    ),
                );
            }
            return Err(failed);
        }
        let request = HttpRequest::get(base.join("artifactory/api/system/version"));
        let version = check
            .send(self.authorize(request, &Auth::Basic, login))
            .await?;
        Ok(version
            .json::<Value>()
            .ok()
            .filter(|_| version.status.is_success())
            .map(|v| v["version"].clone())
            .unwrap_or(Value::Null))
    }

    async fn steps(&self, check: &Check<'_>) -> Step<CheckResult> {
        let config = OciConfig::from_configuration(&check.ctx.integration.configuration)
            .map_err(|e| check.failed(FailureCode::InvalidConfig, e.to_string()))?;
        self.registry_steps(check, &config).await
    }

    /// The Distribution checks with an already validated `config`: what Harbor's connector
    /// runs against its registry side.
    pub(crate) async fn registry_steps(
        &self,
        check: &Check<'_>,
        config: &OciConfig,
    ) -> Step<CheckResult> {
        let config = config.clone();
        let mut details = Vec::new();
        let login = self.login(check, &config).await?;
        let login = login.as_ref();
        if self.provider == Provider::Artifactory {
            details.push(("artifactory_version", self.artifactory(check, login).await?));
        }
        let who = login.map_or_else(
            || match config.auth.as_deref() {
                Some("entra") => "the Entra identity".to_owned(),
                _ => "anonymous".to_owned(),
            },
            |l| l.user.clone(),
        );
        let (base, auth) = self.get(check, &config, login, "v2/", None).await?;
        match base.status.as_u16() {
            200 => {}
            401 => {
                return Err(check.failed(
                    FailureCode::Unauthenticated,
                    format!(
                        "GET /v2/ answered 401 again: the registry refused the credentials of {who}"
                    ),
                ));
            }
            404 => {
                return Err(check.failed(
                    FailureCode::InvalidResponse,
                    "GET /v2/ answered 404: not an OCI registry (check the base URL)",
                ));
            }
            _ => return Err(self.failed(check, "GET /v2/", &base)),
        }
        let api_version = base
            .header("docker-distribution-api-version")
            .map(str::to_owned);
        let scheme = match auth {
            Auth::Anonymous => "anonymous",
            Auth::Basic => "basic",
            Auth::Bearer(_) => "bearer",
        };
        details.push(("auth_scheme", json!(scheme)));
        details.push(("api_version", json!(api_version)));
        let mut message = match &auth {
            Auth::Anonymous => "the registry answers /v2/ anonymously".to_owned(),
            _ => format!("the registry accepts the credentials of {who} ({scheme})"),
        };
        if let Some(repo) = &config.repository {
            let scope = format!("repository:{repo}:pull");
            let path = format!("v2/{repo}/tags/list?n=1");
            let (tags, auth) = self.get(check, &config, login, &path, Some(&scope)).await?;
            if let Some(remaining) = tags.header("ratelimit-remaining") {
                details.push(("ratelimit_remaining", json!(remaining)));
            }
            match tags.status.as_u16() {
                200 => message.push_str(&format!("; {scope} granted")),
                401 | 403 if matches!(auth, Auth::Bearer(_) | Auth::Basic) => {
                    return Err(check
                        .failed(
                            FailureCode::PermissionDenied {
                                missing_scope: Some(scope.clone()),
                            },
                            format!(
                                "GET /v2/{repo}/tags/list answered {}: the credentials of {who} \
                                 are valid but lack {scope}",
                                tags.status.as_u16()
                            ),
                        )
                        .with_detail("auth_scheme", scheme));
                }
                404 => {
                    return Err(self.failed(check, &format!("GET /v2/{repo}/tags/list"), &tags));
                }
                _ => return Err(self.failed(check, &format!("GET /v2/{repo}/tags/list"), &tags)),
            }
        }
        let mut result = check.passed(message);
        for (key, value) in details {
            result = result.with_detail(key, value);
        }
        Ok(result)
    }
}

/// The cache key of a token: the integration, the challenge's realm and service, and the
/// scope asked for (else the challenge's own).
fn token_key(id: IntegrationId, challenge: &Challenge, scope: Option<&str>) -> TokenKey {
    (
        id,
        challenge.param("realm").unwrap_or_default().to_owned(),
        challenge.param("service").unwrap_or_default().to_owned(),
        scope
            .or_else(|| challenge.param("scope"))
            .unwrap_or_default()
            .to_owned(),
    )
}

/// The codes of an OCI error body (`{"errors":[{"code":…}]}`), when there is one.
fn error_codes(response: &HttpResponse) -> Option<Value> {
    let body: Value = response.json().ok()?;
    let codes: Vec<Value> = body["errors"]
        .as_array()?
        .iter()
        .filter_map(|e| e["code"].as_str().map(|c| json!(c)))
        .take(8)
        .collect();
    (!codes.is_empty()).then_some(Value::Array(codes))
}

#[async_trait]
impl IntegrationConnector for OciConnector {
    fn provider(&self) -> Provider {
        self.provider.clone()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new([Capability::TestConnection, Capability::HealthCheck])
    }

    async fn validate_config(&self, configuration: &Configuration) -> Result<()> {
        OciConfig::from_configuration(configuration)
            .map(|_| ())
            .map_err(Error::from)
    }

    #[instrument(skip_all, fields(integration_id = %ctx.integration.id, tenant_id = %ctx.integration.tenant_id, provider = %self.provider, action = "test_connection"))]
    async fn test_connection(&self, ctx: &ConnectorContext) -> CheckResult {
        let check = Check::start(&self.http, ctx);
        match self.steps(&check).await {
            Ok(r) | Err(r) => r,
        }
    }

    #[instrument(skip_all, fields(integration_id = %ctx.integration.id, tenant_id = %ctx.integration.tenant_id, provider = %self.provider, action = "check_health"))]
    async fn check_health(&self, ctx: &ConnectorContext) -> CheckResult {
        let check = Check::start(&self.http, ctx);
        match self.steps(&check).await {
            Ok(r) | Err(r) => r,
        }
    }
}
