//! The Harbor v2 connector (users or robot accounts over HTTP Basic). The
//! vendor behaviour it relies on is listed below, call by call, as Harbor's v2 API documents it.
//!
//! | operation | calls |
//! |---|---|
//! | [`test_connection`](pathops_core::IntegrationConnector::test_connection) | `GET /api/v2.0/health` (decided on the body's `status`, each component reported), `GET /api/v2.0/users/current` (200 user, 412 robot, 401 refused), `GET /api/v2.0/systeminfo` (`harbor_version`), then the registry side with the [OCI client](crate::oci): `GET /v2/`, its challenge, a token from `/service/token` with the same credentials (`registry` detail) |
//! | [`check_health`](pathops_core::IntegrationConnector::check_health) | `GET /api/v2.0/health` and `GET /api/v2.0/users/current` |
//!
//! Harbor does not refuse bad Basic credentials: it serves the request as anonymous. So the
//! credentials are proved on `users/current`, which requires authentication; a robot account
//! is recognised by Harbor's 412 there.
//!
//! Harbor answers `/health` with HTTP 200 even when components are down; an unhealthy body is
//! reported as [`FailureCode::Unhealthy`] with the unhealthy components in the `components`
//! detail.
//!
//! Configuration: `username` (required: the user or robot name, e.g. `robot$ci+pathops`); the
//! secret is its password or robot secret. Plus the HTTP settings of
//! [`IntegrationHttp`](crate::http::IntegrationHttp). Any other key is refused, naming it (a
//! misspelt key would otherwise be ignored silently).

use std::sync::Arc;

use async_trait::async_trait;
use pathops_core::clock::SystemClock;
use pathops_core::validate::{Problem, ValidationError};
use pathops_core::{
    Capabilities, Capability, CheckResult, Clock, Configuration, ConnectorContext, Error,
    FailureCode, IntegrationConnector, Provider, Result,
};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tracing::instrument;

use crate::check::{Check, http_failure_message};
use crate::http::{HttpClient, HttpPolicy, HttpRequest, HttpResponse, status};

/// Harbor's classifier: `None` for 2xx; 401 unauthenticated (only endpoints that require
/// authentication answer it); 403 permission denied; 412 invalid response (callers that
/// expect it, like `users/current` for robots, handle it first); the rest as
/// [`status::default_failure`].
pub fn classify(response: &HttpResponse, now: OffsetDateTime) -> Option<FailureCode> {
    status::default_failure(response.status, &response.headers, now)
}

/// The Harbor connector; see the [module docs](self).
#[derive(Debug)]
pub struct HarborConnector {
    http: HttpClient,
    clock: Arc<dyn Clock>,
    /// The registry side (`/v2/`, `/service/token`), as for any OCI registry.
    registry: crate::oci::OciConnector,
}

/// Builds a [`HarborConnector`]; setters never fail, [`build`](Self::build) validates.
#[derive(Debug, Default)]
pub struct HarborConnectorBuilder {
    policy: HttpPolicy,
    clock: Option<Arc<dyn Clock>>,
}

impl HarborConnectorBuilder {
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

    /// The connector; [`Error::InvalidConfig`] when the HTTP policy is unusable.
    pub fn build(self) -> Result<HarborConnector> {
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let registry = crate::oci::OciConnector::builder(Provider::OciRegistry)
            .with_http(self.policy.clone())
            .with_clock(clock.clone())
            .build()?;
        Ok(HarborConnector {
            http: HttpClient::new(self.policy)?,
            clock,
            registry,
        })
    }
}

/// Every configuration key a Harbor integration may have; any other is refused by name.
const KEYS: [&str; 3] = [
    "username",
    crate::http::IntegrationHttp::PROXY_KEY,
    crate::http::IntegrationHttp::CA_KEY,
];

fn username(configuration: &Configuration) -> std::result::Result<String, ValidationError> {
    crate::http::IntegrationHttp::from_configuration(configuration)?;
    crate::check::refuse_unknown_keys(configuration, &KEYS)?;
    match configuration.get("username") {
        Some(Value::String(u)) if !u.trim().is_empty() && !u.contains(':') => Ok(u.clone()),
        Some(Value::String(u)) if u.contains(':') => Err(ValidationError::new(
            "username",
            Problem::InvalidCharacter {
                index: u.find(':').unwrap_or(0),
            },
        )),
        None | Some(Value::Null) => Err(ValidationError::new("username", Problem::Empty)),
        Some(_) => Err(ValidationError::new("username", Problem::UnknownValue)),
    }
}

impl HarborConnector {
    /// A builder with the default policy.
    pub fn builder() -> HarborConnectorBuilder {
        HarborConnectorBuilder::default()
    }

    fn url(ctx: &ConnectorContext, path: &str) -> String {
        ctx.integration.base_url.join(&format!("api/v2.0/{path}"))
    }

    fn failed(&self, check: &Check<'_>, what: &str, response: &HttpResponse) -> CheckResult {
        let code = classify(response, self.clock.now()).unwrap_or(FailureCode::InvalidResponse);
        check.failed(code, http_failure_message(what, response))
    }

    /// `GET /health`: `Ok` with the components when healthy.
    async fn health(&self, check: &Check<'_>) -> std::result::Result<Value, CheckResult> {
        let response = check
            .send(HttpRequest::get(Self::url(check.ctx, "health")))
            .await?;
        if !response.status.is_success() {
            return Err(self.failed(check, "GET /api/v2.0/health", &response));
        }
        let body: Value = response.json().map_err(|_| {
            check.failed(
                FailureCode::InvalidResponse,
                "GET /api/v2.0/health: not Harbor's JSON",
            )
        })?;
        let components = body["components"].clone();
        match body["status"].as_str() {
            Some("healthy") => Ok(components),
            Some(_) => {
                let down: Vec<String> = components
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter(|c| c["status"] != "healthy")
                            .map(|c| match c["error"].as_str() {
                                Some(e) => format!("{} ({e})", c["name"].as_str().unwrap_or("?")),
                                None => c["name"].as_str().unwrap_or("?").to_owned(),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                Err(check
                    .failed(
                        FailureCode::Unhealthy,
                        format!("Harbor reports unhealthy components: {}", down.join(", ")),
                    )
                    .with_detail("components", components))
            }
            None => Err(check.failed(
                FailureCode::InvalidResponse,
                "GET /api/v2.0/health: no status in the answer",
            )),
        }
    }

    /// `GET /users/current`: the principal kind (`user` or `robot`) and, for users, the name.
    async fn prove_credentials(
        &self,
        check: &Check<'_>,
        user: &str,
    ) -> std::result::Result<Value, CheckResult> {
        let request = HttpRequest::get(Self::url(check.ctx, "users/current"))
            .basic_auth(user, check.ctx.secret.as_ref());
        let response = check.send(request).await?;
        match response.status.as_u16() {
            200 => {
                let u: Value = response.json().map_err(|_| {
                    check.failed(
                        FailureCode::InvalidResponse,
                        "GET /api/v2.0/users/current: not Harbor's JSON",
                    )
                })?;
                Ok(
                    json!({"kind": "user", "username": u["username"], "sysadmin": u["sysadmin_flag"]}),
                )
            }
            412 => Ok(json!({"kind": "robot", "username": user})),
            401 => {
                let why = if check.ctx.secret.is_none() {
                    "no credential configured"
                } else {
                    "Harbor served the call as anonymous"
                };
                Err(check.failed(
                    FailureCode::Unauthenticated,
                    format!("GET /api/v2.0/users/current answered 401: the credentials of {user} were refused ({why})"),
                ))
            }
            _ => Err(self.failed(check, "GET /api/v2.0/users/current", &response)),
        }
    }

    async fn steps(
        &self,
        check: &Check<'_>,
        full: bool,
    ) -> std::result::Result<CheckResult, CheckResult> {
        let user = username(&check.ctx.integration.configuration)
            .map_err(|e| check.failed(FailureCode::InvalidConfig, e.to_string()))?;
        let components = self.health(check).await?;
        let principal = self.prove_credentials(check, &user).await?;
        let mut version = Value::Null;
        if full {
            let request = HttpRequest::get(Self::url(check.ctx, "systeminfo"))
                .basic_auth(&user, check.ctx.secret.as_ref());
            let response = check.send(request).await?;
            if !response.status.is_success() {
                return Err(self.failed(check, "GET /api/v2.0/systeminfo", &response));
            }
            let info: Value = response.json().map_err(|_| {
                check.failed(
                    FailureCode::InvalidResponse,
                    "GET /api/v2.0/systeminfo: not Harbor's JSON",
                )
            })?;
            version = info["harbor_version"].clone();
        }
        let mut registry = Value::Null;
        if full {
            let config = crate::oci::OciConfig {
                username: Some(user.clone()),
                ..crate::oci::OciConfig::default()
            };
            let proved = self.registry.registry_steps(check, &config).await?;
            registry = json!({
                "auth_scheme": proved.details.get("auth_scheme"),
                "api_version": proved.details.get("api_version"),
            });
        }
        let kind = principal["kind"].as_str().unwrap_or("user").to_owned();
        let message = match version.as_str() {
            Some(v) => format!("Harbor {v} healthy; authenticated as {kind} {user}"),
            None => format!("Harbor healthy; authenticated as {kind} {user}"),
        };
        let mut result = check
            .passed(message)
            .with_detail("principal", principal)
            .with_detail("components", components);
        if full {
            result = result
                .with_detail("version", version)
                .with_detail("registry", registry);
        }
        Ok(result)
    }
}

#[async_trait]
impl IntegrationConnector for HarborConnector {
    fn provider(&self) -> Provider {
        Provider::Harbor
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new([Capability::TestConnection, Capability::HealthCheck])
    }

    async fn validate_config(&self, configuration: &Configuration) -> Result<()> {
        username(configuration).map(|_| ()).map_err(Error::from)
    }

    #[instrument(skip_all, fields(integration_id = %ctx.integration.id, tenant_id = %ctx.integration.tenant_id, provider = "harbor", action = "test_connection"))]
    async fn test_connection(&self, ctx: &ConnectorContext) -> CheckResult {
        let check = Check::start(&self.http, ctx);
        match self.steps(&check, true).await {
            Ok(r) | Err(r) => r,
        }
    }

    #[instrument(skip_all, fields(integration_id = %ctx.integration.id, tenant_id = %ctx.integration.tenant_id, provider = "harbor", action = "check_health"))]
    async fn check_health(&self, ctx: &ConnectorContext) -> CheckResult {
        let check = Check::start(&self.http, ctx);
        match self.steps(&check, false).await {
            Ok(r) | Err(r) => r,
        }
    }
}
