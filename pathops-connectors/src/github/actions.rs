//! The GitHub Actions connector: proves that a GitHub App can read a repository's Actions
//! workflow runs. It authenticates exactly as the [GitHub App connector](super) does, with the
//! same code: an App JWT (RS256, `iat` 60 s back, `exp` 9 minutes ahead), then an
//! installation token from `POST app/installations/:id/access_tokens`, cached per
//! integration, API root, App, installation and key until
//! [`TOKEN_REFRESH_MARGIN`](super::TOKEN_REFRESH_MARGIN) before it expires. Integrations never
//! share tokens: two integrations of the same App and installation mint their own.
//!
//! | operation | calls |
//! |---|---|
//! | [`test_connection`](pathops_core::IntegrationConnector::test_connection) | `GET app` (App JWT: identity, owner), `GET app/installations/:id` with an `installation_id`, else `GET repos/:owner/:repo/installation` (App JWT: finds the installation covering the repository), the installation token (cached), then `GET repos/:owner/:repo/actions/runs?per_page=1` with it |
//! | [`check_health`](pathops_core::IntegrationConnector::check_health) | the installation token (cached; without an `installation_id`, `GET repos/:owner/:repo/installation` first), then `GET repos/:owner/:repo/actions/runs?per_page=1`: the cheapest call that proves Actions access |
//!
//! What the runs call answers, as GitHub's REST API documents it for "List workflow runs for a
//! repository" (GitHub Apps need the `Actions` repository permission, read):
//!
//! | answer | result |
//! |---|---|
//! | 200 | passed; `total_count` and the latest run (`id`, `status`, `conclusion`, `created_at`, …) in the `latest_run` detail, `null` when the repository has no run yet |
//! | 404 | `not_found`: the installation cannot see the repository (the App is not installed on its owner, or the repository is not among the installation's selected ones); GitHub answers 404, not 403, for what a caller may not see |
//! | 403 | `permission_denied` naming the permission (`actions:read`, or what GitHub's `X-Accepted-GitHub-Permissions` header names): the installation was not granted Actions read |
//! | 403 or 429 with `x-ratelimit-remaining: 0`, or a secondary limit | `rate_limited` until `x-ratelimit-reset` or `Retry-After` (the [App connector's classifier](super::classify)) |
//! | 401 | `unauthenticated` |
//! | 5xx | `server_error` |
//!
//! A refused installation token (401, or 403 for a missing permission) is dropped from the
//! cache, so that a permission granted since applies at the next check instead of when the
//! old token expires. Failed results carry the `cause` detail (`app_not_installed`,
//! `installation_not_found`, `actions_permission_missing`) and, as far as the check got, the
//! `repository`, `app` and `installation` details that
//! [`findings`](pathops_core::IntegrationConnector::findings) turns into the settings pages to
//! visit. The core rate limit of the runs answer's `x-ratelimit-*` headers is in the
//! `rate_limit` detail; less than a tenth left is a warning.
//!
//! Configuration: [`GitHubActionsConfig`].

use std::sync::Arc;

use async_trait::async_trait;
use pathops_core::connector::detail;
use pathops_core::validate::{Problem, ValidationError};
use pathops_core::{
    BaseUrl, Capabilities, Capability, CheckResult, Clock, Configuration, ConnectorContext, Error,
    FailureCode, Finding, Integration, IntegrationConnector, Provider, Result, Severity,
};
use secrecy::SecretString;
use serde_json::{Value, json};
use tracing::instrument;

use super::{Call, GitHubAppConfig, GitHubAppConnector, Step, api_root, classify};
use crate::check::{Check, http_failure_message, refuse_unknown_keys};
use crate::http::{HttpPolicy, HttpResponse};

const RUNS_DOC: &str =
    "https://docs.github.com/en/rest/actions/workflow-runs#list-workflow-runs-for-a-repository";
const INSTALL_DOC: &str =
    "https://docs.github.com/en/apps/using-github-apps/installing-your-own-github-app";
const PERMISSIONS_DOC: &str = "https://docs.github.com/en/apps/maintaining-github-apps/modifying-a-github-app-registration#changing-the-permissions-of-a-github-app";
const KEY_DOC: &str = "https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/managing-private-keys-for-github-apps";

/// The settings a GitHub Actions integration carries in its configuration:
///
/// | key | value |
/// |---|---|
/// | `owner` | required: the repository's owner (user or organization login) |
/// | `repo` | required: the repository's name |
/// | `app_id` | required: the numeric App ID or the client ID, as for the [GitHub App connector](super::GitHubAppConfig) |
/// | `installation_id` | the installation to mint tokens for; without it, each check first asks GitHub which installation covers the repository |
/// | `api_url` | an explicit API root, used verbatim |
///
/// plus the HTTP settings of [`IntegrationHttp`](crate::http::IntegrationHttp). Any other key
/// (the App connector's `repository` or `hook_id` included) is refused, naming it. The secret
/// is the App's private key (PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHubActionsConfig {
    /// The App's keys (`repository` and `hook_id` are never set here).
    pub app: GitHubAppConfig,
    /// The repository's owner.
    pub owner: String,
    /// The repository's name.
    pub repo: String,
}

impl GitHubActionsConfig {
    /// The keys this configuration may have, besides the HTTP settings.
    pub const KEYS: [&'static str; 5] = ["owner", "repo", "app_id", "installation_id", "api_url"];

    /// Reads and validates the configuration; errors name the key.
    pub fn parse(configuration: &Configuration) -> std::result::Result<Self, ValidationError> {
        refuse_unknown_keys(configuration, &Self::KEYS)?;
        // The App's own keys go through the App connector's parser; `owner` and `repo` are
        // this connector's.
        let mut app_keys = configuration.as_map().clone();
        app_keys.remove("owner");
        app_keys.remove("repo");
        let app_keys = Configuration::new(Value::Object(app_keys))?;
        let app = GitHubAppConfig::parse(&app_keys)?;
        // GitHub logins: letters, digits and hyphens, at most 39; repository names: letters,
        // digits, `-`, `_`, `.`, at most 100, never `.` or `..`.
        let owner = name(configuration, "owner", 39, |c| {
            c.is_ascii_alphanumeric() || c == '-'
        })?;
        let repo = name(configuration, "repo", 100, |c| {
            c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
        })?;
        if repo == "." || repo == ".." {
            return Err(ValidationError::new("repo", Problem::UnknownValue));
        }
        Ok(Self { app, owner, repo })
    }

    /// `owner/repo`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.owner, self.repo)
    }
}

fn name(
    configuration: &Configuration,
    key: &'static str,
    max: usize,
    allowed: impl Fn(char) -> bool,
) -> std::result::Result<String, ValidationError> {
    match configuration.get(key) {
        None | Some(Value::Null) => Err(ValidationError::new(key, Problem::Empty)),
        Some(Value::String(s)) if s.is_empty() => Err(ValidationError::new(key, Problem::Empty)),
        Some(Value::String(s)) if s.chars().count() > max => {
            Err(ValidationError::new(key, Problem::TooLong { max }))
        }
        Some(Value::String(s)) => match s.char_indices().find(|(_, c)| !allowed(*c)) {
            Some((index, _)) => Err(ValidationError::new(
                key,
                Problem::InvalidCharacter { index },
            )),
            None => Ok(s.clone()),
        },
        Some(_) => Err(ValidationError::new(key, Problem::UnknownValue)),
    }
}

/// The web UI root for a base URL (where settings pages live): `https://github.com` for
/// github.com and its API host, `https://<sub>.ghe.com` for GHE.com, the base URL without
/// `/api/v3` for GitHub Enterprise Server.
pub fn web_root(base_url: &BaseUrl) -> String {
    let url = base_url.to_url();
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    if host == "github.com" || host == "www.github.com" || host == "api.github.com" {
        return "https://github.com".to_owned();
    }
    if host.ends_with(".ghe.com") {
        return format!("https://{}", host.strip_prefix("api.").unwrap_or(&host));
    }
    let base = base_url.as_str();
    base.strip_suffix("/api/v3").unwrap_or(base).to_owned()
}

/// The GitHub Actions connector; see the [module docs](self).
#[derive(Debug)]
pub struct GitHubActionsConnector {
    /// The App connector whose authentication (JWT, installation-token cache) this reuses.
    app: GitHubAppConnector,
}

/// Builds a [`GitHubActionsConnector`]; setters never fail, [`build`](Self::build) validates.
#[derive(Debug, Default)]
pub struct GitHubActionsConnectorBuilder {
    policy: HttpPolicy,
    clock: Option<Arc<dyn Clock>>,
}

impl GitHubActionsConnectorBuilder {
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
    pub fn build(self) -> Result<GitHubActionsConnector> {
        let mut app = GitHubAppConnector::builder().with_http(self.policy);
        if let Some(clock) = self.clock {
            app = app.with_clock(clock);
        }
        Ok(GitHubActionsConnector { app: app.build()? })
    }
}

/// What a check learnt so far, attached to its result whether it passes or fails.
#[derive(Default)]
struct Learnt {
    repository: String,
    app: Option<Value>,
    installation: Option<Value>,
}

impl Learnt {
    fn annotate(&self, mut result: CheckResult) -> CheckResult {
        result = result.with_detail("repository", self.repository.clone());
        if let Some(app) = &self.app {
            result = result.with_detail("app", app.clone());
        }
        if let Some(installation) = &self.installation {
            result = result.with_detail("installation", installation.clone());
        }
        result
    }
}

/// `actions=read` (GitHub's `X-Accepted-GitHub-Permissions`, its first alternative) as
/// `actions:read`.
fn accepted_permission(response: &HttpResponse) -> Option<String> {
    let value = response.header("x-accepted-github-permissions")?;
    let first = value.split(';').next()?.trim();
    let named: Vec<String> = first
        .split(',')
        .filter_map(|p| p.trim().split_once('='))
        .map(|(name, level)| format!("{}:{}", name.trim(), level.trim()))
        .collect();
    (!named.is_empty()).then(|| named.join(", "))
}

impl GitHubActionsConnector {
    /// A builder with the default policy.
    pub fn builder() -> GitHubActionsConnectorBuilder {
        GitHubActionsConnectorBuilder::default()
    }

    fn begin<'a>(&'a self, ctx: &'a ConnectorContext) -> Step<(Call<'a>, GitHubActionsConfig)> {
        let config = GitHubActionsConfig::parse(&ctx.integration.configuration).map_err(|e| {
            Check::start(&self.app.http, ctx).failed(FailureCode::InvalidConfig, e.to_string())
        })?;
        Ok((self.app.start_with(ctx, config.app.clone())?, config))
    }

    /// `GET repos/:owner/:repo/installation` with the App's JWT: the installation covering
    /// the repository (404: the App is not installed there).
    async fn find_installation(
        &self,
        call: &Call<'_>,
        repository: &str,
        jwt: &SecretString,
    ) -> Step<(u64, Value)> {
        let what = format!("GET repos/{repository}/installation");
        let path = format!("repos/{repository}/installation");
        let response = call
            .check
            .send(GitHubAppConnector::request(
                call,
                reqwest::Method::GET,
                &path,
                jwt,
            ))
            .await?;
        if classify(&response, self.app.clock.now()) == Some(FailureCode::NotFound) {
            return Err(call
                .check
                .failed(
                    FailureCode::NotFound,
                    format!(
                        "{what} answered 404: the App is not installed on {repository} (nor on its owner with the repository selected)"
                    ),
                )
                .with_detail("cause", "app_not_installed"));
        }
        let body = self.app.expect(call, &what, &response)?;
        match body["id"].as_u64() {
            Some(id) => Ok((id, body)),
            None => Err(call.check.failed(
                FailureCode::InvalidResponse,
                format!("{what}: the answer names no installation id"),
            )),
        }
    }

    /// `GET repos/:owner/:repo/actions/runs?per_page=1` with the installation token.
    async fn runs(
        &self,
        call: &Call<'_>,
        repository: &str,
        installation: u64,
        token: &SecretString,
    ) -> Step<CheckResult> {
        let what = format!("GET repos/{repository}/actions/runs");
        let path = format!("repos/{repository}/actions/runs?per_page=1");
        let response = call
            .check
            .send(GitHubAppConnector::request(
                call,
                reqwest::Method::GET,
                &path,
                token,
            ))
            .await?;
        let status = response.status.as_u16();
        let failed = |code: FailureCode, message: String| {
            call.check
                .failed(code, message)
                .with_detail(detail::HTTP_STATUS, status)
        };
        match classify(&response, self.app.clock.now()) {
            None => {}
            Some(FailureCode::NotFound) => {
                return Err(failed(
                    FailureCode::NotFound,
                    format!(
                        "{what} answered 404: installation {installation} cannot see {repository}: the App is not installed there, or the repository is not among the installation's selected repositories"
                    ),
                )
                .with_detail("cause", "app_not_installed"));
            }
            Some(FailureCode::PermissionDenied { .. }) => {
                self.app.forget_installation_token(call, installation);
                let permission =
                    accepted_permission(&response).unwrap_or_else(|| "actions:read".to_owned());
                return Err(failed(
                    FailureCode::PermissionDenied {
                        missing_scope: Some(permission.clone()),
                    },
                    format!(
                        "{}; installation {installation} lacks the {permission} permission (Repository permissions → Actions: Read-only)",
                        http_failure_message(&what, &response)
                    ),
                )
                .with_detail("cause", "actions_permission_missing"));
            }
            Some(code) => {
                if code == FailureCode::Unauthenticated {
                    self.app.forget_installation_token(call, installation);
                }
                return Err(failed(code, http_failure_message(&what, &response)));
            }
        }
        let body: Value = response.json().map_err(|_| {
            failed(
                FailureCode::InvalidResponse,
                format!("{what}: not GitHub's JSON"),
            )
        })?;
        let (Some(total), Some(runs)) = (
            body["total_count"].as_u64(),
            body["workflow_runs"].as_array(),
        ) else {
            return Err(failed(
                FailureCode::InvalidResponse,
                format!("{what}: the answer lacks total_count or workflow_runs"),
            ));
        };
        let latest = runs.first().map(|r| {
            json!({
                "id": r["id"], "name": r["name"], "status": r["status"], "conclusion": r["conclusion"],
                "created_at": r["created_at"], "head_branch": r["head_branch"], "event": r["event"],
                "html_url": r["html_url"],
            })
        });
        let rate = super::header_rate_limit(&response);
        let mut warnings: Vec<String> = Vec::new();
        if let (Some(remaining), Some(limit)) = (rate["remaining"].as_u64(), rate["limit"].as_u64())
            && limit > 0
            && remaining * 10 < limit
        {
            warnings.push(format!(
                "only {remaining} of {limit} API calls left until the rate limit resets"
            ));
        }
        let message = match &latest {
            Some(run) => format!(
                "GitHub Actions of {repository} readable: {total} workflow runs, the latest {} {}{}",
                run["id"],
                run["status"].as_str().unwrap_or("?"),
                run["conclusion"]
                    .as_str()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default(),
            ),
            None => format!("GitHub Actions of {repository} readable: no workflow runs yet"),
        };
        Ok(call
            .check
            .passed(message)
            .with_detail("total_count", total)
            .with_detail("latest_run", latest.unwrap_or(Value::Null))
            .with_detail("rate_limit", rate)
            .with_detail("warnings", warnings)
            .with_detail(detail::HTTP_STATUS, status))
    }

    async fn test_steps(
        &self,
        call: &Call<'_>,
        config: &GitHubActionsConfig,
        learnt: &mut Learnt,
    ) -> Step<CheckResult> {
        let repository = config.repository();
        let jwt = self.app.jwt(call)?;
        let (app, _) = self.app.get(call, "app", &jwt).await?;
        learnt.app = Some(json!({
            "id": app["id"], "slug": app["slug"], "owner": app["owner"]["login"],
            "owner_type": app["owner"]["type"], "permissions": app["permissions"],
        }));
        let (installation_id, installation) = match config.app.installation_id {
            Some(id) => {
                let found = self
                    .app
                    .get(call, &format!("app/installations/{id}"), &jwt)
                    .await;
                match found {
                    Ok((body, _)) => (id, body),
                    Err(r) if r.failure == Some(FailureCode::NotFound) => {
                        learnt.installation = Some(json!({"id": id}));
                        return Err(r.with_detail("cause", "installation_not_found"));
                    }
                    Err(r) => return Err(r),
                }
            }
            None => self.find_installation(call, &repository, &jwt).await?,
        };
        learnt.installation = Some(json!({
            "id": installation_id, "account": installation["account"]["login"],
            "target_type": installation["target_type"],
            "repository_selection": installation["repository_selection"],
            "permissions": installation["permissions"], "suspended_at": installation["suspended_at"],
        }));
        let (token, _) = self.app.installation_token(call, installation_id).await?;
        let result = self
            .runs(call, &repository, installation_id, &token)
            .await?;
        let slug = app["slug"].as_str().unwrap_or("?").to_owned();
        let message = format!("{} (GitHub App {slug})", result.message);
        let mut result = result;
        result.message = message;
        Ok(result)
    }

    async fn health_steps(
        &self,
        call: &Call<'_>,
        config: &GitHubActionsConfig,
        learnt: &mut Learnt,
    ) -> Step<CheckResult> {
        let repository = config.repository();
        let installation_id = match config.app.installation_id {
            Some(id) => id,
            None => {
                let jwt = self.app.jwt(call)?;
                self.find_installation(call, &repository, &jwt).await?.0
            }
        };
        learnt.installation = Some(json!({"id": installation_id}));
        let (token, _) = self.app.installation_token(call, installation_id).await?;
        self.runs(call, &repository, installation_id, &token).await
    }

    async fn run(&self, ctx: &ConnectorContext, full: bool) -> CheckResult {
        let (call, config) = match self.begin(ctx) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let mut learnt = Learnt {
            repository: config.repository(),
            ..Learnt::default()
        };
        let outcome = if full {
            self.test_steps(&call, &config, &mut learnt).await
        } else {
            self.health_steps(&call, &config, &mut learnt).await
        };
        match outcome {
            Ok(r) | Err(r) => learnt.annotate(r),
        }
    }
}

/// The settings pages a finding points at, from what the check learnt.
struct Pages {
    web: String,
    repository: String,
    slug: Option<String>,
    installation: Option<u64>,
    account: Option<String>,
    account_is_user: bool,
    app_settings: Option<String>,
}

impl Pages {
    fn new(integration: &Integration, result: &CheckResult) -> Self {
        let config = GitHubActionsConfig::parse(&integration.configuration).ok();
        let str_at = |path: [&str; 2]| {
            result
                .details
                .get(path[0])
                .and_then(|v| v.get(path[1]))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let repository = result
            .details
            .get("repository")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| config.as_ref().map(GitHubActionsConfig::repository))
            .unwrap_or_else(|| "the repository".to_owned());
        let web = web_root(&integration.base_url);
        let slug = str_at(["app", "slug"]);
        let installation = result
            .details
            .get("installation")
            .and_then(|i| i.get("id"))
            .and_then(Value::as_u64)
            .or_else(|| config.as_ref().and_then(|c| c.app.installation_id));
        let account = str_at(["installation", "account"])
            .or_else(|| config.as_ref().map(|c| c.owner.clone()));
        let account_is_user = str_at(["installation", "target_type"]).as_deref() == Some("User");
        let app_settings = match (
            &slug,
            str_at(["app", "owner"]),
            str_at(["app", "owner_type"]),
        ) {
            (Some(slug), Some(owner), Some(kind)) if kind == "Organization" => {
                Some(format!("{web}/organizations/{owner}/settings/apps/{slug}"))
            }
            (Some(slug), Some(_), Some(_)) => Some(format!("{web}/settings/apps/{slug}")),
            _ => None,
        };
        Self {
            web,
            repository,
            slug,
            installation,
            account,
            account_is_user,
            app_settings,
        }
    }

    fn installation_settings(&self) -> Option<String> {
        let id = self.installation?;
        Some(if self.account_is_user {
            format!("{}/settings/installations/{id}", self.web)
        } else {
            format!(
                "{}/organizations/{}/settings/installations/{id}",
                self.web,
                self.account.as_deref()?
            )
        })
    }

    fn install(&self) -> String {
        match &self.slug {
            // GitHub Enterprise Server serves App pages under /github-apps (assumed from
            // GHES URLs seen in the wild; github.com and GHE.com use /apps).
            Some(slug) if self.web.contains("github.com") || self.web.ends_with(".ghe.com") => {
                format!("{}/apps/{slug}/installations/new", self.web)
            }
            Some(slug) => format!("{}/github-apps/{slug}/installations/new", self.web),
            None => "the App's public page → Install".to_owned(),
        }
    }

    fn app_settings(&self) -> String {
        self.app_settings.clone().unwrap_or_else(|| {
            format!(
                "the App's settings ({}: Settings → Developer settings → GitHub Apps → {})",
                self.web,
                self.slug.as_deref().unwrap_or("the App")
            )
        })
    }
}

#[async_trait]
impl IntegrationConnector for GitHubActionsConnector {
    fn provider(&self) -> Provider {
        Provider::GitHubActions
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new([Capability::TestConnection, Capability::HealthCheck])
    }

    async fn validate_config(&self, configuration: &Configuration) -> Result<()> {
        GitHubActionsConfig::parse(configuration)
            .map(|_| ())
            .map_err(Error::from)
    }

    #[instrument(skip_all, fields(integration_id = %ctx.integration.id, tenant_id = %ctx.integration.tenant_id, provider = "github-actions", action = "test_connection"))]
    async fn test_connection(&self, ctx: &ConnectorContext) -> CheckResult {
        self.run(ctx, true).await
    }

    #[instrument(skip_all, fields(integration_id = %ctx.integration.id, tenant_id = %ctx.integration.tenant_id, provider = "github-actions", action = "check_health"))]
    async fn check_health(&self, ctx: &ConnectorContext) -> CheckResult {
        self.run(ctx, false).await
    }

    /// GitHub's own remedies, under the doctor's generic codes so they replace its generic
    /// advice: `not_found` (install the App on the repository, or select the repository in
    /// the installation), `missing_scope` (grant `Actions: Read-only` and have the
    /// installation accept it), `unauthenticated` (the App ID or private key); on a passed
    /// check, `rate_limit_low` and, for a repository without runs, `no_workflow_runs`.
    fn findings(&self, integration: &Integration, result: &CheckResult) -> Vec<Finding> {
        let pages = Pages::new(integration, result);
        let repository = pages.repository.clone();
        let api = GitHubActionsConfig::parse(&integration.configuration)
            .ok()
            .and_then(|c| c.app.api_url)
            .unwrap_or_else(|| api_root(&integration.base_url));
        let cause = result.details.get("cause").and_then(Value::as_str);
        match &result.failure {
            Some(FailureCode::NotFound) if cause == Some("installation_not_found") => vec![
                Finding::new(
                    Severity::Error,
                    "not_found",
                    format!(
                        "Installation {} is not an installation of the App",
                        pages.installation.unwrap_or_default()
                    ),
                    result.message.clone(),
                )
                .with_steps([
                    format!(
                        "Find the installation covering {repository}: the id at the end of its settings URL, or `id` in the answer below."
                    ),
                    "Set installation_id to it, or remove installation_id to let each check look it up.".to_owned(),
                ])
                .with_api_call(format!(
                    "GET {api}/repos/{repository}/installation   # with the App's JWT"
                ))
                .with_doc_link(INSTALL_DOC),
            ],
            Some(FailureCode::NotFound) => {
                let mut steps = vec![format!(
                    "Install the App on {} and give it access to {repository}: {}",
                    pages.account.as_deref().unwrap_or("the repository's owner"),
                    pages.install()
                )];
                if let Some(settings) = pages.installation_settings() {
                    steps.push(format!(
                        "If it is installed for selected repositories only, add {repository} under Repository access: {settings}"
                    ));
                }
                steps.push("Run the doctor again.".to_owned());
                vec![
                    Finding::new(
                        Severity::Error,
                        "not_found",
                        format!("The GitHub App cannot see {repository}"),
                        result.message.clone(),
                    )
                    .with_steps(steps)
                    .with_api_call(format!(
                        "GET {api}/repos/{repository}/installation   # with the App's JWT: 200 once the App covers the repository"
                    ))
                    .with_doc_link(INSTALL_DOC),
                ]
            }
            Some(FailureCode::PermissionDenied { missing_scope }) => {
                let permission = missing_scope.as_deref().unwrap_or("actions:read");
                let mut steps = vec![format!(
                    "In {}, under Permissions & events → Repository permissions, set Actions to Read-only and save.",
                    pages
                        .app_settings
                        .as_ref()
                        .map(|s| format!("{s}/permissions"))
                        .unwrap_or_else(|| pages.app_settings())
                )];
                steps.push(match pages.installation_settings() {
                    Some(settings) => format!(
                        "The installation's owner accepts the new permission: {settings} (GitHub asks for it after the App's permissions change)."
                    ),
                    None => "The installation's owner accepts the new permission in the installation's settings.".to_owned(),
                });
                steps.push("Run the doctor again (the refused token was dropped; a new one carries the permission).".to_owned());
                vec![
                    Finding::new(
                        Severity::Error,
                        "missing_scope",
                        format!("The GitHub App lacks {permission} on {repository}"),
                        result.message.clone(),
                    )
                    .with_steps(steps)
                    .with_doc_link(PERMISSIONS_DOC),
                ]
            }
            Some(FailureCode::Unauthenticated) => vec![
                Finding::new(
                    Severity::Error,
                    "unauthenticated",
                    "GitHub refused the App's credentials",
                    result.message.clone(),
                )
                .with_steps([
                    "Check app_id: the App ID or client ID shown on the App's settings page.".to_owned(),
                    format!(
                        "Generate a private key in {} and store the PEM behind the integration's auth ref.",
                        pages.app_settings()
                    ),
                    "Check the clock of the host PathOps runs on (the JWT is dated from it).".to_owned(),
                ])
                .with_doc_link(KEY_DOC),
            ],
            None => {
                let mut out = Vec::new();
                if let Some(warnings) = result.details.get("warnings").and_then(Value::as_array)
                    && !warnings.is_empty()
                {
                    out.push(
                        Finding::new(
                            Severity::Warning,
                            "rate_limit_low",
                            "The installation's API rate limit is nearly used up",
                            warnings
                                .iter()
                                .filter_map(Value::as_str)
                                .collect::<Vec<_>>()
                                .join("; "),
                        )
                        .with_steps(["Find what else calls the API with this installation; the limit resets at the time in the rate_limit detail."])
                        .with_doc_link("https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api"),
                    );
                }
                if result.details.get("total_count").and_then(Value::as_u64) == Some(0) {
                    out.push(
                        Finding::new(
                            Severity::Info,
                            "no_workflow_runs",
                            format!("{repository} has no workflow run yet"),
                            "Access to Actions is proved, but no run shows that workflows execute.",
                        )
                        .with_steps([format!(
                            "Add a workflow under .github/workflows in {repository}, or trigger one."
                        )])
                        .with_doc_link(RUNS_DOC),
                    );
                }
                out
            }
            Some(_) => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> std::result::Result<GitHubActionsConfig, ValidationError> {
        GitHubActionsConfig::parse(&Configuration::new(v).unwrap())
    }

    #[test]
    fn configuration_keys_are_closed_and_named() {
        let c =
            parse(json!({"app_id": 1, "owner": "acme", "repo": "app.v2", "installation_id": 7}))
                .unwrap();
        assert_eq!(c.repository(), "acme/app.v2");
        assert_eq!(c.app.installation_id, Some(7));
        let field = |v: Value| parse(v).unwrap_err().field;
        assert_eq!(field(json!({"owner": "a", "repo": "b"})), "app_id");
        assert_eq!(field(json!({"app_id": 1, "repo": "b"})), "owner");
        assert_eq!(field(json!({"app_id": 1, "owner": "a"})), "repo");
        assert_eq!(
            field(json!({"app_id": 1, "owner": "a b", "repo": "c"})),
            "owner"
        );
        assert_eq!(
            field(json!({"app_id": 1, "owner": "a", "repo": ".."})),
            "repo"
        );
        assert_eq!(field(json!({"app_id": 1, "owner": "a", "repo": 3})), "repo");
        let long = "x".repeat(40);
        assert_eq!(
            field(json!({"app_id": 1, "owner": long, "repo": "r"})),
            "owner"
        );
        for key in ["repository", "hook_id", "installation"] {
            let err = parse(json!({"app_id": 1, "owner": "a", "repo": "b", key: 1})).unwrap_err();
            assert!(err.to_string().contains(&format!("`{key}`")), "{err}");
        }
    }

    #[test]
    fn web_roots() {
        let root = |s: &str| web_root(&BaseUrl::parse(s).unwrap());
        assert_eq!(root("https://api.github.com"), "https://github.com");
        assert_eq!(root("https://api.acme.ghe.com"), "https://acme.ghe.com");
        assert_eq!(
            root("https://ghe.example.com/api/v3"),
            "https://ghe.example.com"
        );
        assert_eq!(root("https://ghe.example.com"), "https://ghe.example.com");
    }
}
