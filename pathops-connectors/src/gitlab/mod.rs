//! The GitLab connector (REST v4; personal, project and group access tokens, or OAuth bearer
//! tokens). The vendor behaviour it relies
//! on is listed below, call by call, as GitLab's REST API documents it.
//!
//! | operation | calls |
//! |---|---|
//! | [`test_connection`](pathops_core::IntegrationConnector::test_connection) | `GET /user` (identity), `GET /personal_access_tokens/self` (scopes, expiry), `GET /version`; with a `project`: `GET /projects/:id`; with a `hook_id`: `GET /projects/:id/hooks/:hook_id` (`alert_status`) |
//! | [`check_health`](pathops_core::IntegrationConnector::check_health) | `GET /user`, the cheapest authenticated call |
//! | [`expected_delivery`](pathops_core::IntegrationConnector::expected_delivery) | none: a GitLab delivery from the instance (`instance_url`, default the base URL), for the project (its numeric id, or the id the connection test resolved for a path), with the trigger's event ([`event_for_trigger`]) |
//! | [`trigger_delivery`](pathops_core::IntegrationConnector::trigger_delivery) | `GET /projects/:id/hooks/:hook_id` (`alert_status`), then `POST /projects/:id/hooks/:hook_id/test/:trigger`: 201 delivered, 422 the delivery failed (`delivery_error`), 429 rate limited until `Retry-After` or the end of the one-minute window, 400 unknown trigger |
//!
//! Warnings (in the result's `warnings` detail, the check still passes): the token lacks the
//! `api` scope while a hook is configured (hook tests need it), the token expires within
//! [`EXPIRY_WARNING_DAYS`] days, the hook is auto-disabled.
//!
//! ```
//! use pathops_connectors::gitlab::GitLabConnector;
//! use pathops_connectors::http::HttpPolicy;
//! use pathops_core::{Capability, IntegrationConnector};
//!
//! let gitlab = GitLabConnector::builder().with_http(HttpPolicy::default()).build()?;
//! assert!(gitlab.capabilities().supports(Capability::WebhookTest));
//! # Ok::<(), pathops_core::Error>(())
//! ```

#[cfg(feature = "gitlab-ci")]
pub mod ci;
mod classify;
mod config;
mod findings;
mod trigger;

use std::sync::Arc;

use async_trait::async_trait;
use pathops_core::clock::SystemClock;
use pathops_core::connector::detail;
use pathops_core::webhook::{DeliveryKind, Expectation};
use pathops_core::{
    Capabilities, Capability, CheckResult, Clock, Configuration, ConnectorContext, DeliveryRequest,
    Error, FailureCode, Finding, Integration, IntegrationConnector, Provider, Result, TriggerLimit,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tracing::instrument;

pub use classify::classify;
pub use config::{GitLabConfig, ProjectRef, TRIGGERS, TokenType};
pub use trigger::event_for_trigger;

use crate::check::{Check, http_failure_message};

/// GitLab's limit: five hook tests a minute per project and user.
const TRIGGER_SPACING: std::time::Duration = std::time::Duration::from_secs(12);
use crate::http::{HttpClient, HttpPolicy, HttpRequest, HttpResponse};

/// A token expiring within this many days is reported as a warning.
pub const EXPIRY_WARNING_DAYS: i64 = 14;

/// What token introspection found.
struct Introspection {
    /// The scopes, when the token could be introspected.
    scopes: Option<Vec<String>>,
    /// The `token` detail.
    detail: Value,
    /// The expiry day, if any.
    expires_at: Option<String>,
}

/// The GitLab connector; see the [module docs](self).
#[derive(Debug)]
pub struct GitLabConnector {
    http: HttpClient,
    clock: Arc<dyn Clock>,
    resolved: trigger::ResolvedProjects,
}

/// Builds a [`GitLabConnector`]; setters never fail, [`build`](Self::build) validates.
#[derive(Debug, Default)]
pub struct GitLabConnectorBuilder {
    policy: HttpPolicy,
    clock: Option<Arc<dyn Clock>>,
}

impl GitLabConnectorBuilder {
    /// The HTTP policy (default [`HttpPolicy::default`]).
    pub fn with_http(mut self, policy: HttpPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The clock for expiry warnings and rate-limit resets (default the system clock).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The connector; [`Error::InvalidConfig`] when the HTTP policy is unusable.
    pub fn build(self) -> Result<GitLabConnector> {
        Ok(GitLabConnector {
            http: HttpClient::new(self.policy)?,
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            resolved: trigger::ResolvedProjects::default(),
        })
    }
}

impl GitLabConnector {
    /// A builder with the default policy.
    pub fn builder() -> GitLabConnectorBuilder {
        GitLabConnectorBuilder::default()
    }

    fn request(
        &self,
        ctx: &ConnectorContext,
        config: &GitLabConfig,
        request: HttpRequest,
    ) -> HttpRequest {
        let request = request.header("accept", "application/json");
        match (&ctx.secret, config.token_type) {
            (None, _) => request,
            (Some(secret), TokenType::PrivateToken) => {
                request.credential("private-token", "", secret)
            }
            (Some(secret), TokenType::Bearer) => {
                request.credential("authorization", "Bearer ", secret)
            }
        }
    }

    fn url(ctx: &ConnectorContext, path: &str) -> String {
        ctx.integration.base_url.join(&format!("api/v4/{path}"))
    }

    /// Classifies an answer: `Err` holds the failed result to return.
    fn expect_ok(
        &self,
        check: &Check<'_>,
        what: &str,
        response: &HttpResponse,
    ) -> std::result::Result<(), CheckResult> {
        match classify(response, self.clock.now()) {
            None => Ok(()),
            Some(code) => {
                let mut message = http_failure_message(what, response);
                if code == FailureCode::Unauthenticated && check.ctx.secret.is_none() {
                    message.push_str(" (no credential configured)");
                }
                let mut failed = check.failed(code, message);
                if revoked_or_expired(response) {
                    failed = failed.with_detail(detail::TOKEN_EXPIRED, true);
                }
                Err(failed)
            }
        }
    }

    fn parse<T: serde::de::DeserializeOwned>(
        check: &Check<'_>,
        what: &str,
        response: &HttpResponse,
    ) -> std::result::Result<T, CheckResult> {
        response.json().map_err(|_| {
            check.failed(
                FailureCode::InvalidResponse,
                format!("{what}: the answer is not the JSON GitLab sends"),
            )
        })
    }

    fn config(check: &Check<'_>) -> std::result::Result<GitLabConfig, CheckResult> {
        GitLabConfig::parse(&check.ctx.integration.configuration)
            .map_err(|e| check.failed(FailureCode::InvalidConfig, e.to_string()))
    }

    async fn whoami(
        &self,
        check: &Check<'_>,
        config: &GitLabConfig,
    ) -> std::result::Result<Value, CheckResult> {
        let response = check
            .send(self.request(
                check.ctx,
                config,
                HttpRequest::get(Self::url(check.ctx, "user")),
            ))
            .await?;
        self.expect_ok(check, "GET /user", &response)?;
        let user: Value = Self::parse(check, "GET /user", &response)?;
        if user.get("username").and_then(Value::as_str).is_none() {
            return Err(check.failed(
                FailureCode::InvalidResponse,
                "GET /user: no username in the answer",
            ));
        }
        Ok(user)
    }

    async fn run_test(&self, ctx: &ConnectorContext) -> CheckResult {
        let check = Check::start(&self.http, ctx);
        let config = match Self::config(&check) {
            Ok(c) => c,
            Err(r) => return r,
        };
        match self.test_steps(&check, &config).await {
            Ok(result) | Err(result) => result,
        }
    }

    async fn test_steps(
        &self,
        check: &Check<'_>,
        config: &GitLabConfig,
    ) -> std::result::Result<CheckResult, CheckResult> {
        let ctx = check.ctx;
        let mut warnings: Vec<String> = Vec::new();
        let user = self.whoami(check, config).await?;
        let username = user["username"].as_str().unwrap_or_default().to_owned();
        let is_admin = user
            .get("is_admin")
            .and_then(Value::as_bool)
            .unwrap_or(false);

        let Introspection {
            scopes,
            detail: token_detail,
            expires_at,
        } = self.introspect(check, config, &mut warnings).await?;
        if config.hook_id.is_some()
            && let Some(scopes) = &scopes
            && !scopes.iter().any(|s| s == "api")
        {
            warnings.push("the token lacks the api scope, which hook tests need".to_owned());
        }

        let version = check
            .send(self.request(ctx, config, HttpRequest::get(Self::url(ctx, "version"))))
            .await?;
        self.expect_ok(check, "GET /version", &version)?;
        let version: Value = Self::parse(check, "GET /version", &version)?;

        let mut result_project = Value::Null;
        let mut result_hook = Value::Null;
        if let Some(project) = &config.project {
            let path = format!("projects/{}", project.segment());
            let response = check
                .send(self.request(ctx, config, HttpRequest::get(Self::url(ctx, &path))))
                .await?;
            let what = format!("GET /{path}");
            self.expect_ok(check, &what, &response)?;
            let p: Value = Self::parse(check, &what, &response)?;
            let level = p["permissions"]["project_access"]["access_level"]
                .as_u64()
                .max(p["permissions"]["group_access"]["access_level"].as_u64());
            if config.hook_id.is_some() && !is_admin && level.is_none_or(|l| l < 40) {
                warnings.push(
                    "hook management and tests need the Maintainer role (40) on the project"
                        .to_owned(),
                );
            }
            if let (ProjectRef::Path(path), Some(id)) = (project, p["id"].as_u64()) {
                self.resolved.remember(&ctx.integration, path, id);
            }
            result_project = json!({
                "id": p["id"], "path_with_namespace": p["path_with_namespace"],
                "default_branch": p["default_branch"], "access_level": level,
            });
            if let Some(hook_id) = config.hook_id {
                let path = format!("{path}/hooks/{hook_id}");
                let response = check
                    .send(self.request(ctx, config, HttpRequest::get(Self::url(ctx, &path))))
                    .await?;
                let what = format!("GET /{path}");
                self.expect_ok(check, &what, &response)?;
                let h: Value = Self::parse(check, &what, &response)?;
                let status = h["alert_status"].as_str().unwrap_or("executable");
                if status != "executable" {
                    let until = h["disabled_until"]
                        .as_str()
                        .map(|u| format!(" until {u}"))
                        .unwrap_or_default();
                    warnings.push(format!("hook {hook_id} is {status}{until}"));
                }
                result_hook = json!({
                    "id": h["id"], "alert_status": h["alert_status"], "disabled_until": h["disabled_until"],
                    "push_events": h["push_events"], "token_present": h["token_present"],
                });
            }
        }

        let gitlab_version = version["version"].as_str().unwrap_or("unknown");
        let mut result = check
            .passed(format!("authenticated as @{username} on GitLab {gitlab_version}"))
            .with_detail("user", json!({
                "id": user["id"], "username": username, "bot": user["bot"], "is_admin": is_admin,
            }))
            .with_detail("token", token_detail)
            .with_detail("version", version["version"].clone())
            .with_detail("revision", version["revision"].clone());
        if !result_project.is_null() {
            result = result.with_detail("project", result_project);
        }
        if !result_hook.is_null() {
            result = result.with_detail("hook", result_hook);
        }
        // The well-known keys the doctor reads (`pathops_core::connector::detail`).
        if let Some(scopes) = scopes {
            result = result.with_detail(detail::TOKEN_SCOPES, scopes);
        }
        if let Some(expires_at) = expires_at {
            result = result.with_detail(detail::TOKEN_EXPIRES_AT, expires_at);
        }
        Ok(result.with_detail("warnings", warnings))
    }

    /// `GET /personal_access_tokens/self`: the token's scopes and expiry (an expiry within
    /// [`EXPIRY_WARNING_DAYS`] is pushed to `warnings`). Only personal, project and group
    /// access tokens have it: any other refusal leaves the scopes unknown, except a rate
    /// limit or a server error, which fail the check.
    async fn introspect(
        &self,
        check: &Check<'_>,
        config: &GitLabConfig,
        warnings: &mut Vec<String>,
    ) -> std::result::Result<Introspection, CheckResult> {
        let ctx = check.ctx;
        let token = check
            .send(self.request(
                ctx,
                config,
                HttpRequest::get(Self::url(ctx, "personal_access_tokens/self")),
            ))
            .await?;
        let mut out = Introspection {
            scopes: None,
            detail: json!({"introspection": "unavailable"}),
            expires_at: None,
        };
        if token.status == StatusCode::OK {
            let t: Value = Self::parse(check, "GET /personal_access_tokens/self", &token)?;
            let list: Vec<String> = t["scopes"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            if let Some(expires) = t["expires_at"].as_str() {
                self.expiry_warning(expires, warnings);
                out.expires_at = Some(expires.to_owned());
            }
            out.detail = json!({
                "name": t["name"], "scopes": list, "expires_at": t["expires_at"],
                "active": t["active"], "revoked": t["revoked"],
            });
            out.scopes = Some(list);
        } else if let Some(
            code @ FailureCode::RateLimited { .. } | code @ FailureCode::ServerError { .. },
        ) = classify(&token, self.clock.now())
        {
            return Err(check.failed(
                code,
                http_failure_message("GET /personal_access_tokens/self", &token),
            ));
        }
        Ok(out)
    }

    fn expiry_warning(&self, expires: &str, warnings: &mut Vec<String>) {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        if let Ok(day) = time::Date::parse(expires, &format) {
            let left = (day - self.clock.now().date()).whole_days();
            if left <= EXPIRY_WARNING_DAYS {
                warnings.push(format!("the token expires on {expires} (in {left} days)"));
            }
        }
    }
}

#[async_trait]
impl IntegrationConnector for GitLabConnector {
    fn provider(&self) -> Provider {
        Provider::GitLab
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new([
            Capability::TestConnection,
            Capability::HealthCheck,
            Capability::WebhookTest,
            Capability::WebhookSecret,
        ])
    }

    fn findings(&self, integration: &Integration, result: &CheckResult) -> Vec<Finding> {
        findings::for_connection(integration, result, self.clock.now())
    }

    fn delivery_findings(&self, integration: &Integration, result: &CheckResult) -> Vec<Finding> {
        findings::for_delivery(integration, result)
    }

    async fn validate_config(&self, configuration: &Configuration) -> Result<()> {
        GitLabConfig::parse(configuration)
            .map(|_| ())
            .map_err(Error::from)
    }

    #[instrument(skip_all, fields(integration_id = %ctx.integration.id, tenant_id = %ctx.integration.tenant_id, provider = "gitlab", action = "test_connection"))]
    async fn test_connection(&self, ctx: &ConnectorContext) -> CheckResult {
        self.run_test(ctx).await
    }

    #[instrument(skip_all, fields(integration_id = %ctx.integration.id, tenant_id = %ctx.integration.tenant_id, provider = "gitlab", action = "check_health"))]
    async fn check_health(&self, ctx: &ConnectorContext) -> CheckResult {
        let check = Check::start(&self.http, ctx);
        let config = match Self::config(&check) {
            Ok(c) => c,
            Err(r) => return r,
        };
        match self.whoami(&check, &config).await {
            Ok(user) => check
                .passed(format!(
                    "authenticated as @{}",
                    user["username"].as_str().unwrap_or_default()
                ))
                .with_detail("user_id", user["id"].clone()),
            Err(failed) => failed,
        }
    }

    async fn expected_delivery(
        &self,
        integration: &Integration,
        request: &DeliveryRequest,
    ) -> Option<(DeliveryKind, Expectation)> {
        match request {
            DeliveryRequest::WebhookTest { trigger } => self.expectation(integration, trigger),
            _ => None,
        }
    }

    /// GitLab allows five hook tests a minute per project and user, whatever the hook: two
    /// integrations of one instance, project and credential are spaced 12 s apart.
    fn trigger_limit(
        &self,
        integration: &Integration,
        request: &DeliveryRequest,
    ) -> Option<TriggerLimit> {
        let DeliveryRequest::WebhookTest { .. } = request else {
            return None;
        };
        let config = GitLabConfig::parse(&integration.configuration).ok()?;
        let project = config.project.as_ref()?;
        let project = match project {
            ProjectRef::Id(id) => id.to_string(),
            ProjectRef::Path(path) => self
                .resolved
                .get(integration, path)
                .map_or_else(|| path.clone(), |id| id.to_string()),
        };
        Some(TriggerLimit::new(
            format!(
                "{}|{project}|{}",
                integration.base_url,
                integration.auth_ref.as_ref().map_or("", |r| r.as_str())
            ),
            TRIGGER_SPACING,
        ))
    }

    #[instrument(skip_all, fields(integration_id = %ctx.integration.id, tenant_id = %ctx.integration.tenant_id, provider = "gitlab", action = "trigger_delivery"))]
    async fn trigger_delivery(
        &self,
        ctx: &ConnectorContext,
        request: &DeliveryRequest,
    ) -> CheckResult {
        match request {
            DeliveryRequest::WebhookTest { trigger } => self.trigger_test(ctx, trigger).await,
            other => CheckResult::failed(
                FailureCode::Unsupported,
                std::time::Duration::ZERO,
                format!("{} is not supported by gitlab", other.capability().as_str()),
            ),
        }
    }
}

/// Whether a 401 is GitLab's answer to a token it knows but will not accept any more: the API
/// guard's OAuth `invalid_token` error ("Token was revoked…", "Token is expired…"), as
/// opposed to `401 Unauthorized` for a token it does not know.
fn revoked_or_expired(response: &HttpResponse) -> bool {
    if response.status != StatusCode::UNAUTHORIZED {
        return false;
    }
    let Ok(body) = serde_json::from_slice::<Value>(&response.body) else {
        return false;
    };
    body["error"] == "invalid_token"
        && body["error_description"].as_str().is_some_and(|d| {
            d.starts_with("Token was revoked") || d.starts_with("Token is expired")
        })
}
