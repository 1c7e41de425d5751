//! The GitHub App connector (github.com, GHE.com and GitHub Enterprise Server). The
//! vendor behaviour it relies on is listed below, call by call, as GitHub's REST API documents it.
//!
//! | operation | calls |
//! |---|---|
//! | [`test_connection`](pathops_core::IntegrationConnector::test_connection) | `GET app` (App JWT: identity, permissions); with an `installation_id`: `POST app/installations/:id/access_tokens` (cached) and `GET rate_limit` with the installation token; without: `GET app/installations` |
//! | [`check_health`](pathops_core::IntegrationConnector::check_health) | with an installation: `GET rate_limit` with the (cached) installation token; without: `GET app` |
//! | [`expected_delivery`](pathops_core::IntegrationConnector::expected_delivery) | none: a GitHub `ping` delivery for the configured `hook_id` |
//! | [`trigger_delivery`](pathops_core::IntegrationConnector::trigger_delivery) | the installation token (cached), then `POST repos/:owner/:repo/hooks/:hook_id/pings` → 204: GitHub delivers `ping` asynchronously |
//!
//! Paths are relative to the API root ([`api_root`]); every request sends `Accept:
//! application/vnd.github+json` and `X-GitHub-Api-Version: 2022-11-28`. The App JWT is RS256
//! with `iat` 60 s in the past and `exp` 9 minutes ahead. Installation tokens are cached per
//! integration, App, installation and key until [`TOKEN_REFRESH_MARGIN`] before they expire.
//! The core rate limit (`remaining`, `limit`, `reset`) is reported in the `rate_limit` detail.

#[cfg(feature = "github-actions")]
pub mod actions;
mod auth;
mod classify;
mod config;
mod findings;
mod ping;

use std::sync::Arc;

use async_trait::async_trait;
use pathops_core::clock::SystemClock;
use pathops_core::webhook::{DeliveryKind, Expectation};
use pathops_core::{
    Capabilities, Capability, CheckResult, Clock, Configuration, ConnectorContext, DeliveryRequest,
    Error, FailureCode, Finding, Integration, IntegrationConnector, Provider, Result,
};
use secrecy::SecretString;
use serde_json::{Value, json};
use tracing::instrument;

pub use auth::{JWT_BACKDATE_SECS, JWT_LIFETIME_SECS, TOKEN_REFRESH_MARGIN};
pub use classify::classify;
pub use config::{AppId, GitHubAppConfig, api_root};

use crate::check::{Check, http_failure_message};
use crate::http::{HttpClient, HttpPolicy, HttpRequest, HttpResponse};

/// The API version every request pins.
pub const API_VERSION: &str = "2022-11-28";

/// The GitHub App connector; see the [module docs](self).
#[derive(Debug)]
pub struct GitHubAppConnector {
    http: HttpClient,
    clock: Arc<dyn Clock>,
    tokens: auth::TokenCache,
}

/// Builds a [`GitHubAppConnector`]; setters never fail, [`build`](Self::build) validates.
#[derive(Debug, Default)]
pub struct GitHubAppConnectorBuilder {
    policy: HttpPolicy,
    clock: Option<Arc<dyn Clock>>,
}

impl GitHubAppConnectorBuilder {
    /// The HTTP policy (default [`HttpPolicy::default`]).
    pub fn with_http(mut self, policy: HttpPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The clock that dates JWTs and expires cached tokens (default the system clock).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The connector; [`Error::InvalidConfig`] when the HTTP policy is unusable.
    pub fn build(self) -> Result<GitHubAppConnector> {
        Ok(GitHubAppConnector {
            http: HttpClient::new(self.policy)?,
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            tokens: auth::TokenCache::default(),
        })
    }
}

type Step<T> = std::result::Result<T, CheckResult>;

/// What one check works with.
struct Call<'a> {
    check: Check<'a>,
    config: GitHubAppConfig,
    root: String,
    key: &'a SecretString,
}

impl GitHubAppConnector {
    /// A builder with the default policy.
    pub fn builder() -> GitHubAppConnectorBuilder {
        GitHubAppConnectorBuilder::default()
    }

    fn start<'a>(&'a self, ctx: &'a ConnectorContext) -> Step<Call<'a>> {
        let config = GitHubAppConfig::parse(&ctx.integration.configuration).map_err(|e| {
            Check::start(&self.http, ctx).failed(FailureCode::InvalidConfig, e.to_string())
        })?;
        self.start_with(ctx, config)
    }

    /// A call with an already parsed App configuration (a connector built on this one parses
    /// its own keys, the App's among them).
    fn start_with<'a>(
        &'a self,
        ctx: &'a ConnectorContext,
        config: GitHubAppConfig,
    ) -> Step<Call<'a>> {
        let mut check = Check::start(&self.http, ctx);
        let Some(key) = ctx.secret.as_ref() else {
            return Err(check.failed(
                FailureCode::InvalidConfig,
                "no private key configured for the GitHub App",
            ));
        };
        let root = config
            .api_url
            .clone()
            .unwrap_or_else(|| api_root(&ctx.integration.base_url));
        // The App's JWT and installation tokens go to the API root only.
        check.bind_to(&root);
        Ok(Call {
            check,
            config,
            root,
            key,
        })
    }

    fn request(
        call: &Call<'_>,
        method: reqwest::Method,
        path: &str,
        token: &SecretString,
    ) -> HttpRequest {
        HttpRequest::new(method, format!("{}/{path}", call.root))
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", API_VERSION)
            .credential("authorization", "Bearer ", token)
    }

    fn jwt(&self, call: &Call<'_>) -> Step<SecretString> {
        auth::app_jwt(&call.config.app_id, call.key, self.clock.now()).ok_or_else(|| {
            call.check.failed(
                FailureCode::InvalidConfig,
                "the secret is not a PEM RSA private key",
            )
        })
    }

    fn expect(&self, call: &Call<'_>, what: &str, response: &HttpResponse) -> Step<Value> {
        if let Some(code) = classify(response, self.clock.now()) {
            return Err(call
                .check
                .failed(code, http_failure_message(what, response)));
        }
        if response.status.as_u16() == 204 {
            return Ok(Value::Null);
        }
        response.json().map_err(|_| {
            call.check.failed(
                FailureCode::InvalidResponse,
                format!("{what}: not GitHub's JSON"),
            )
        })
    }

    async fn get(
        &self,
        call: &Call<'_>,
        path: &str,
        token: &SecretString,
    ) -> Step<(Value, HttpResponse)> {
        let response = call
            .check
            .send(Self::request(call, reqwest::Method::GET, path, token))
            .await?;
        let body = self.expect(call, &format!("GET {path}"), &response)?;
        Ok((body, response))
    }

    /// What an installation token of this call is cached under: the integration, the API
    /// root, the App, the installation and the key.
    fn token_key(call: &Call<'_>, installation: u64) -> auth::TokenKey {
        auth::TokenKey::new(
            call.check.ctx.integration.id,
            &call.root,
            &call.config.app_id,
            installation,
            call.key,
        )
    }

    /// Drops the cached installation token of this call, so that the next check mints one
    /// (GitHub refused it, or it lacks a permission granted since).
    #[cfg(feature = "github-actions")]
    fn forget_installation_token(&self, call: &Call<'_>, installation: u64) {
        self.tokens.forget(&Self::token_key(call, installation));
    }

    /// The installation token, from the cache or freshly minted.
    async fn installation_token(
        &self,
        call: &Call<'_>,
        installation: u64,
    ) -> Step<(SecretString, Value)> {
        let key = Self::token_key(call, installation);
        let now = self.clock.now();
        if let Some(cached) = self.tokens.get(&key, now) {
            return Ok((
                cached.token,
                json!({"id": installation, "expires_at": rfc3339(cached.expires_at), "cached": true}),
            ));
        }
        let jwt = self.jwt(call)?;
        let path = format!("app/installations/{installation}/access_tokens");
        let response = call
            .check
            .send(Self::request(call, reqwest::Method::POST, &path, &jwt))
            .await?;
        let body = self.expect(call, "POST app/installations/:id/access_tokens", &response)?;
        let token = body["token"]
            .as_str()
            .map(|t| SecretString::from(t.to_owned()));
        let expires_at = body["expires_at"].as_str().and_then(|e| {
            time::OffsetDateTime::parse(e, &time::format_description::well_known::Rfc3339).ok()
        });
        let (Some(token), Some(expires_at)) = (token, expires_at) else {
            self.tokens.forget(&key);
            return Err(call.check.failed(
                FailureCode::InvalidResponse,
                "the installation token answer lacks token or expires_at",
            ));
        };
        self.tokens.put(
            key,
            auth::InstallationToken {
                token: token.clone(),
                expires_at,
            },
        );
        Ok((
            token,
            json!({
                "id": installation, "expires_at": rfc3339(expires_at), "cached": false,
                "permissions": body["permissions"], "repository_selection": body["repository_selection"],
            }),
        ))
    }

    async fn rate_limit(&self, call: &Call<'_>, token: &SecretString) -> Step<Value> {
        let (body, _) = self.get(call, "rate_limit", token).await?;
        let core = &body["resources"]["core"];
        if core.is_null() {
            return Err(call.check.failed(
                FailureCode::InvalidResponse,
                "GET rate_limit: no resources.core",
            ));
        }
        Ok(
            json!({"limit": core["limit"], "remaining": core["remaining"], "used": core["used"], "reset": core["reset"]}),
        )
    }

    async fn test_steps(&self, call: &Call<'_>) -> Step<CheckResult> {
        let jwt = self.jwt(call)?;
        let (app, response) = self.get(call, "app", &jwt).await?;
        let mut warnings: Vec<String> = Vec::new();
        let mut result = call
            .check
            .passed(format!("authenticated as GitHub App {}", app["slug"].as_str().unwrap_or("?")))
            .with_detail("app", json!({
                "id": app["id"], "slug": app["slug"], "name": app["name"], "owner": app["owner"]["login"],
                "permissions": app["permissions"], "events": app["events"], "installations_count": app["installations_count"],
            }));
        if let Some(v) = response.header("x-github-enterprise-version") {
            result = result.with_detail("enterprise_version", v);
        }
        let rate = match call.config.installation_id {
            Some(installation) => {
                let (token, detail) = self.installation_token(call, installation).await?;
                result = result.with_detail("installation", detail);
                self.rate_limit(call, &token).await?
            }
            None => {
                let (list, response) = self.get(call, "app/installations", &jwt).await?;
                let installations: Vec<Value> = list
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|i| {
                                if !i["suspended_at"].is_null() {
                                    warnings.push(format!("installation {} is suspended", i["id"]));
                                }
                                json!({"id": i["id"], "account": i["account"]["login"], "target_type": i["target_type"],
                                       "repository_selection": i["repository_selection"], "suspended_at": i["suspended_at"]})
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                result = result.with_detail("installations", installations);
                header_rate_limit(&response)
            }
        };
        if let (Some(remaining), Some(limit)) = (rate["remaining"].as_u64(), rate["limit"].as_u64())
            && limit > 0
            && remaining * 10 < limit
        {
            warnings.push(format!(
                "only {remaining} of {limit} API calls left until the rate limit resets"
            ));
        }
        let elapsed = call.check.passed("").latency;
        result.latency = elapsed;
        Ok(result
            .with_detail("rate_limit", rate)
            .with_detail("warnings", warnings))
    }

    async fn health_steps(&self, call: &Call<'_>) -> Step<CheckResult> {
        match call.config.installation_id {
            Some(installation) => {
                let (token, _) = self.installation_token(call, installation).await?;
                let rate = self.rate_limit(call, &token).await?;
                Ok(call
                    .check
                    .passed(format!(
                        "installation {installation}: {} API calls left",
                        rate["remaining"]
                    ))
                    .with_detail("rate_limit", rate))
            }
            None => {
                let jwt = self.jwt(call)?;
                let (app, response) = self.get(call, "app", &jwt).await?;
                Ok(call
                    .check
                    .passed(format!(
                        "authenticated as GitHub App {}",
                        app["slug"].as_str().unwrap_or("?")
                    ))
                    .with_detail("rate_limit", header_rate_limit(&response)))
            }
        }
    }
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The rate limit from `x-ratelimit-*` headers.
fn header_rate_limit(response: &HttpResponse) -> Value {
    let n = |h: &str| {
        response
            .header(h)
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    json!({
        "limit": n("x-ratelimit-limit"), "remaining": n("x-ratelimit-remaining"),
        "used": n("x-ratelimit-used"), "reset": n("x-ratelimit-reset"),
    })
}

#[async_trait]
impl IntegrationConnector for GitHubAppConnector {
    fn provider(&self) -> Provider {
        Provider::GitHubApp
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new([
            Capability::TestConnection,
            Capability::HealthCheck,
            Capability::HookPing,
            Capability::WebhookSecret,
        ])
    }

    fn delivery_findings(&self, integration: &Integration, result: &CheckResult) -> Vec<Finding> {
        findings::for_delivery(integration, result)
    }

    async fn validate_config(&self, configuration: &Configuration) -> Result<()> {
        GitHubAppConfig::parse(configuration)
            .map(|_| ())
            .map_err(Error::from)
    }

    #[instrument(skip_all, fields(integration_id = %ctx.integration.id, tenant_id = %ctx.integration.tenant_id, provider = "github-app", action = "test_connection"))]
    async fn test_connection(&self, ctx: &ConnectorContext) -> CheckResult {
        let call = match self.start(ctx) {
            Ok(c) => c,
            Err(r) => return r,
        };
        match self.test_steps(&call).await {
            Ok(r) | Err(r) => r,
        }
    }

    #[instrument(skip_all, fields(integration_id = %ctx.integration.id, tenant_id = %ctx.integration.tenant_id, provider = "github-app", action = "check_health"))]
    async fn check_health(&self, ctx: &ConnectorContext) -> CheckResult {
        let call = match self.start(ctx) {
            Ok(c) => c,
            Err(r) => return r,
        };
        match self.health_steps(&call).await {
            Ok(r) | Err(r) => r,
        }
    }

    async fn expected_delivery(
        &self,
        integration: &Integration,
        request: &DeliveryRequest,
    ) -> Option<(DeliveryKind, Expectation)> {
        match request {
            DeliveryRequest::HookPing => ping::expectation(integration),
            _ => None,
        }
    }

    #[instrument(skip_all, fields(integration_id = %ctx.integration.id, tenant_id = %ctx.integration.tenant_id, provider = "github-app", action = "trigger_delivery"))]
    async fn trigger_delivery(
        &self,
        ctx: &ConnectorContext,
        request: &DeliveryRequest,
    ) -> CheckResult {
        match request {
            DeliveryRequest::HookPing => self.ping(ctx).await,
            other => CheckResult::failed(
                FailureCode::Unsupported,
                std::time::Duration::ZERO,
                format!(
                    "{} is not supported by github-app",
                    other.capability().as_str()
                ),
            ),
        }
    }
}
