//! The CircleCI connector (API v2): a personal API token in the `Circle-Token` header. The
//! vendor behaviour it relies on is listed below, call by call, as CircleCI's API v2
//! documentation and its users report it.
//!
//! | operation | calls |
//! |---|---|
//! | [`test_connection`](pathops_core::IntegrationConnector::test_connection) | `GET /api/v2/me` (`id`, `login`, `name`), then `GET /api/v2/project/{project_slug}` when `project_slug` is configured |
//! | [`check_health`](pathops_core::IntegrationConnector::check_health) | `GET /api/v2/me` |
//!
//! The base URL is the CircleCI host: `https://circleci.com` for the cloud, the install's own
//! host for CircleCI server. `/api/v2` is appended once (a base URL already ending in
//! `/api/v2` is used as is).
//!
//! What each answer means:
//!
//! - **`/me` 401** `{"message":"You must log in first."}` (a community report, not a documented
//!   body): no token, a wrong, expired or revoked personal token — **or a project API token**.
//!   CircleCI documents that only personal API tokens work on API v2; users report that v2
//!   answers a project token on `/me` with this same 401 and body, and on project endpoints
//!   with 404 `Project not found`. Nothing in the answer tells a project token from a bad
//!   personal one, so the failure says both, and the `possible_causes` detail lists
//!   `invalid_personal_token` and `project_token`; the `unauthenticated` finding starts with
//!   "project tokens do not work on API v2; create a personal API token".
//! - **Project 404** `{"message":"Project not found"}`: the project does not exist, or the
//!   token's user cannot see it ([`FailureCode::NotFound`]).
//! - **429** is [`FailureCode::RateLimited`], with the reset from `Retry-After`; 5xx and the
//!   rest as [`status::default_failure`].
//!
//! Details of a passed test: `user` (`id`, `login`, `name`) and, with a project, `project`
//! (`slug`, `name`, `id`, `organization`).
//!
//! Configuration: `project_slug` (optional: `gh/<org>/<repo>`, `bb/<workspace>/<repo>`, the
//! long forms `github/…` and `bitbucket/…`, or `circleci/<org-id>/<project-id>` for projects
//! of the GitLab and GitHub App integrations). Plus the HTTP settings of
//! [`IntegrationHttp`]; any other key is refused, naming it.

use std::sync::Arc;

use async_trait::async_trait;
use pathops_core::clock::SystemClock;
use pathops_core::validate::{Problem, ValidationError};
use pathops_core::{
    Capabilities, Capability, CheckResult, Clock, Configuration, ConnectorContext, Error,
    FailureCode, Finding, Integration, IntegrationConnector, Provider, Result, Severity,
};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tracing::instrument;

use crate::check::{Check, http_failure_message};
use crate::http::{HttpClient, HttpPolicy, HttpRequest, HttpResponse, IntegrationHttp, status};

/// CircleCI's documentation of API tokens.
pub const TOKEN_DOC: &str = "https://circleci.com/docs/managing-api-tokens/";
/// The personal API token page of CircleCI cloud.
pub const CLOUD_TOKEN_PAGE: &str = "https://app.circleci.com/settings/user/tokens";

/// The VCS prefixes a project slug may start with.
const VCS: [&str; 5] = ["gh", "github", "bb", "bitbucket", "circleci"];

/// The configuration of a CircleCI integration:
///
/// | key | value |
/// |---|---|
/// | `project_slug` | `gh/<org>/<repo>` (or `bb/…`, `github/…`, `bitbucket/…`, `circleci/<org-id>/<project-id>`), optional |
///
/// plus the HTTP settings of [`IntegrationHttp`]; any other key is refused by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CircleCiConfig {
    /// The project, if any.
    pub project_slug: Option<String>,
}

impl CircleCiConfig {
    /// Every key a CircleCI configuration may have.
    pub const KEYS: [&'static str; 3] = [
        "project_slug",
        IntegrationHttp::PROXY_KEY,
        IntegrationHttp::CA_KEY,
    ];

    /// Reads and validates the configuration; errors name the key.
    pub fn parse(configuration: &Configuration) -> std::result::Result<Self, ValidationError> {
        IntegrationHttp::from_configuration(configuration)?;
        crate::check::refuse_unknown_keys(configuration, &Self::KEYS)?;
        let project_slug = match configuration.get("project_slug") {
            None | Some(Value::Null) => None,
            Some(Value::String(slug)) => Some(parse_slug(slug)?),
            Some(_) => return Err(ValidationError::new("project_slug", Problem::UnknownValue)),
        };
        Ok(Self { project_slug })
    }
}

/// `<vcs>/<org>/<repo>`, each part of letters, digits, `-`, `_`, `.`.
fn parse_slug(slug: &str) -> std::result::Result<String, ValidationError> {
    let err = |problem| ValidationError::new("project_slug", problem);
    if slug.is_empty() {
        return Err(err(Problem::Empty));
    }
    if slug.len() > 512 {
        return Err(err(Problem::TooLong { max: 512 }));
    }
    if let Some((index, _)) = slug
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')))
    {
        return Err(err(Problem::InvalidCharacter { index }));
    }
    let parts: Vec<&str> = slug.split('/').collect();
    let well_formed = parts.len() == 3
        && VCS.contains(&parts[0])
        && parts[1..]
            .iter()
            .all(|p| !p.is_empty() && *p != "." && *p != "..");
    if !well_formed {
        return Err(err(Problem::Malformed));
    }
    Ok(slug.to_owned())
}

/// CircleCI's classifier, [`status::default_failure`]: 401 unauthenticated, 404 not found,
/// 429 rate limited with `Retry-After`.
pub fn classify(response: &HttpResponse, now: OffsetDateTime) -> Option<FailureCode> {
    status::default_failure(response.status, &response.headers, now)
}

/// The fields of `/api/v2/me` the connector reads.
#[derive(Debug, Deserialize)]
struct Me {
    id: Option<String>,
    login: Option<String>,
    name: Option<String>,
}

/// The CircleCI connector; see the [module docs](self).
#[derive(Debug)]
pub struct CircleCiConnector {
    http: HttpClient,
    clock: Arc<dyn Clock>,
}

/// Builds a [`CircleCiConnector`]; setters never fail, [`build`](Self::build) validates.
#[derive(Debug, Default)]
pub struct CircleCiConnectorBuilder {
    policy: HttpPolicy,
    clock: Option<Arc<dyn Clock>>,
}

impl CircleCiConnectorBuilder {
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
    pub fn build(self) -> Result<CircleCiConnector> {
        Ok(CircleCiConnector {
            http: HttpClient::new(self.policy)?,
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
        })
    }
}

impl CircleCiConnector {
    /// A builder with the default policy.
    pub fn builder() -> CircleCiConnectorBuilder {
        CircleCiConnectorBuilder::default()
    }

    /// `<base>/api/v2/<path>`, the prefix appended once.
    fn url(ctx: &ConnectorContext, path: &str) -> String {
        let base = &ctx.integration.base_url;
        if base.as_str().ends_with("/api/v2") {
            base.join(path)
        } else {
            base.join(&format!("api/v2/{path}"))
        }
    }

    fn request(ctx: &ConnectorContext, path: &str) -> HttpRequest {
        let request = HttpRequest::get(Self::url(ctx, path));
        match &ctx.secret {
            Some(token) => request.credential("circle-token", "", token),
            None => request,
        }
    }

    fn failed(&self, check: &Check<'_>, what: &str, response: &HttpResponse) -> CheckResult {
        let code = classify(response, self.clock.now()).unwrap_or(FailureCode::InvalidResponse);
        check.failed(code, http_failure_message(what, response))
    }

    /// `GET /api/v2/me`: the user, or the failed result.
    async fn me(&self, check: &Check<'_>) -> std::result::Result<Value, CheckResult> {
        const WHAT: &str = "GET /api/v2/me";
        let response = check.send(Self::request(check.ctx, "me")).await?;
        match response.status.as_u16() {
            200 => {}
            401 if check.ctx.secret.is_none() => {
                return Err(check.failed(
                    FailureCode::Unauthenticated,
                    format!(
                        "{}: no token configured",
                        http_failure_message(WHAT, &response)
                    ),
                ));
            }
            401 => {
                // CircleCI answers a project API token exactly like a bad personal token.
                return Err(check
                    .failed(
                        FailureCode::Unauthenticated,
                        format!(
                            "{}: CircleCI refused the token. It is a wrong, expired or revoked \
                             personal API token, or a project API token: project tokens do not \
                             work on API v2, and CircleCI's answer does not tell the two apart",
                            http_failure_message(WHAT, &response)
                        ),
                    )
                    .with_detail(
                        "possible_causes",
                        json!(["invalid_personal_token", "project_token"]),
                    ));
            }
            _ => return Err(self.failed(check, WHAT, &response)),
        }
        let me: Me = response.json().map_err(|_| {
            check.failed(
                FailureCode::InvalidResponse,
                format!("{WHAT}: not CircleCI's JSON"),
            )
        })?;
        if me.login.is_none() && me.id.is_none() {
            return Err(check.failed(
                FailureCode::InvalidResponse,
                format!("{WHAT}: no login or id in the answer"),
            ));
        }
        Ok(json!({"id": me.id, "login": me.login, "name": me.name}))
    }

    /// `GET /api/v2/project/{slug}`: the project, or the failed result.
    async fn project(
        &self,
        check: &Check<'_>,
        slug: &str,
        login: &str,
    ) -> std::result::Result<Value, CheckResult> {
        let what = format!("GET /api/v2/project/{slug}");
        let response = check
            .send(Self::request(check.ctx, &format!("project/{slug}")))
            .await?;
        match response.status.as_u16() {
            200 => {}
            404 => {
                return Err(check.failed(
                    FailureCode::NotFound,
                    format!(
                        "{}: {slug} does not exist or {login} cannot see it",
                        http_failure_message(&what, &response)
                    ),
                ));
            }
            _ => return Err(self.failed(check, &what, &response)),
        }
        let project: Value = response.json().map_err(|_| {
            check.failed(
                FailureCode::InvalidResponse,
                format!("{what}: not CircleCI's JSON"),
            )
        })?;
        if !project.is_object() {
            return Err(check.failed(
                FailureCode::InvalidResponse,
                format!("{what}: not a project"),
            ));
        }
        Ok(json!({
            "slug": project.get("slug").cloned().unwrap_or_else(|| json!(slug)),
            "name": project.get("name"),
            "id": project.get("id"),
            "organization": project.get("organization_name"),
        }))
    }

    async fn steps(
        &self,
        check: &Check<'_>,
        full: bool,
    ) -> std::result::Result<CheckResult, CheckResult> {
        let config = CircleCiConfig::parse(&check.ctx.integration.configuration)
            .map_err(|e| check.failed(FailureCode::InvalidConfig, e.to_string()))?;
        let user = self.me(check).await?;
        let login = user["login"]
            .as_str()
            .or(user["id"].as_str())
            .unwrap_or("?")
            .to_owned();
        let mut message = format!("CircleCI: authenticated as {login}");
        let mut project = Value::Null;
        if full && let Some(slug) = &config.project_slug {
            project = self.project(check, slug, &login).await?;
            message += &format!("; project {slug} visible");
        }
        let mut result = check.passed(message).with_detail("user", user);
        if !project.is_null() {
            result = result.with_detail("project", project);
        }
        Ok(result)
    }
}

/// The provider-specific findings of a CircleCI check; see
/// [`IntegrationConnector::findings`].
fn findings(integration: &Integration, result: &CheckResult) -> Vec<Finding> {
    let base = integration.base_url.as_str();
    let cloud = integration.base_url.host() == "circleci.com";
    let page = if cloud {
        format!("CircleCI » User Settings » Personal API Tokens ({CLOUD_TOKEN_PAGE})")
    } else {
        "the CircleCI web app » User Settings » Personal API Tokens".to_owned()
    };
    let store = match &integration.auth_ref {
        Some(r) => format!("Store it in the secret backend behind {r}."),
        None => {
            "Store it in the secret backend and set the integration's auth ref to it.".to_owned()
        }
    };
    let mut out = Vec::new();
    match &result.failure {
        Some(FailureCode::Unauthenticated) => out.push(
            Finding::new(
                Severity::Error,
                "unauthenticated",
                "CircleCI refused the API token",
                result.message.clone(),
            )
            .with_steps([
                "Project tokens do not work on API v2; create a personal API token. (CircleCI \
                 answers a project token exactly like a wrong personal token, so the doctor \
                 cannot tell which one this is.)"
                    .to_owned(),
                format!(
                    "Create the token in {page}: Create New Token, then copy it (it is shown \
                     once). Use a user (a machine user) that can see the projects PathOps needs."
                ),
                "Personal tokens created now must expire (at most a year): note the date and \
                 rotate before it."
                    .to_owned(),
                store,
                "Run the doctor again.".to_owned(),
            ])
            .with_api_call(format!(
                "curl -sS -H \"Circle-Token: $CIRCLE_TOKEN\" {base}/api/v2/me"
            ))
            .with_doc_link(TOKEN_DOC),
        ),
        Some(FailureCode::NotFound) => {
            let slug = CircleCiConfig::parse(&integration.configuration)
                .ok()
                .and_then(|c| c.project_slug)
                .unwrap_or_else(|| "<project_slug>".to_owned());
            out.push(
                Finding::new(
                    Severity::Error,
                    "not_found",
                    format!("CircleCI project {slug} is not visible to the token's user"),
                    result.message.clone(),
                )
                .with_steps([
                    "Check project_slug: gh/<org>/<repo> or bb/<workspace>/<repo>; projects of \
                     the GitLab or GitHub App integrations use circleci/<org-id>/<project-id> \
                     (Project Settings » Overview shows it)."
                        .to_string(),
                    "Check that the token's user has access to the repository in the VCS and \
                     that the project is set up in CircleCI."
                        .to_string(),
                ])
                .with_api_call(format!(
                    "curl -sS -H \"Circle-Token: $CIRCLE_TOKEN\" {base}/api/v2/project/{slug}"
                ))
                .with_doc_link(TOKEN_DOC),
            );
        }
        _ => {}
    }
    out
}

#[async_trait]
impl IntegrationConnector for CircleCiConnector {
    fn provider(&self) -> Provider {
        Provider::CircleCi
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new([Capability::TestConnection, Capability::HealthCheck])
    }

    async fn validate_config(&self, configuration: &Configuration) -> Result<()> {
        CircleCiConfig::parse(configuration)
            .map(|_| ())
            .map_err(Error::from)
    }

    #[instrument(skip_all, fields(integration_id = %ctx.integration.id, tenant_id = %ctx.integration.tenant_id, provider = "circleci", action = "test_connection"))]
    async fn test_connection(&self, ctx: &ConnectorContext) -> CheckResult {
        let check = Check::start(&self.http, ctx);
        match self.steps(&check, true).await {
            Ok(r) | Err(r) => r,
        }
    }

    #[instrument(skip_all, fields(integration_id = %ctx.integration.id, tenant_id = %ctx.integration.tenant_id, provider = "circleci", action = "check_health"))]
    async fn check_health(&self, ctx: &ConnectorContext) -> CheckResult {
        let check = Check::start(&self.http, ctx);
        match self.steps(&check, false).await {
            Ok(r) | Err(r) => r,
        }
    }

    fn findings(&self, integration: &Integration, result: &CheckResult) -> Vec<Finding> {
        findings(integration, result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(parse_slug("gh/acme/api").is_ok());
        assert!(parse_slug("circleci/0f1e-aa/77-bb").is_ok());
        let problem = |s: &str| parse_slug(s).unwrap_err().problem;
        assert_eq!(problem(""), Problem::Empty);
        assert_eq!(problem("gh/acme"), Problem::Malformed);
        assert_eq!(problem("gl/acme/api"), Problem::Malformed);
        assert_eq!(problem("gh/acme/api/x"), Problem::Malformed);
        assert_eq!(problem("gh/../api"), Problem::Malformed);
        assert_eq!(
            problem("gh/acme/a?b"),
            Problem::InvalidCharacter { index: 9 }
        );
    }
}
