//! The Gitea Actions connector (Gitea 1.22+ and Forgejo): proves that a token can read a
//! repository's Actions, through the [Gitea API base](super).
//!
//! | operation | calls |
//! |---|---|
//! | [`test_connection`](pathops_core::IntegrationConnector::test_connection) | `GET /api/v1/version` (product and version), `GET /api/v1/user` (identity; a token without `read:user` is a warning, not a failure), `GET /api/v1/repos/:owner/:repo` (`has_actions`), then `GET /api/v1/repos/:owner/:repo/actions/tasks?limit=1` |
//! | [`check_health`](pathops_core::IntegrationConnector::check_health) | `GET /api/v1/repos/:owner/:repo` and `GET /api/v1/repos/:owner/:repo/actions/tasks?limit=1` |
//!
//! **Verified from Gitea's source** (`routers/api/v1/api.go`, `routers/api/v1/repo/action.go`,
//! `modules/structs/repo_actions.go`, `models/unit/unit.go`, `services/convert/repository.go`):
//! `GET /repos/{owner}/{repo}/actions/tasks` (`ListActionTasks`, added in Gitea 1.22) answers
//! `{"workflow_runs": [ActionTask…], "total_count": n}` with `page`/`limit` and the
//! `X-Total-Count`/`Link` headers; it sits in the `/repos` group behind
//! `tokenRequiresScopes(repository)` (scope `read:repository`) and in an `/actions` group
//! behind `reqRepoReader(unit.TypeActions)`, which answers 403 `user should have specific read
//! permission or be a repo admin or a site admin` when the caller cannot read the Actions unit
//! and is neither a repository nor a site administrator. `[actions] ENABLED = false` adds the
//! Actions unit to the globally disabled units, whose rows are dropped when a repository's
//! units load, so the repository's `has_actions` is then false; a repository whose Actions
//! unit is switched off has `has_actions` false too. Administrators pass `reqRepoReader`
//! even with the unit off and get the list (stale or empty), which is why the repository's
//! `has_actions` is read first, on every check. Newer Gitea also serves
//! `GET /repos/{owner}/{repo}/actions/runs` (`ListWorkflowRuns`); this connector does not
//! need it. Forgejo's router registers the same `/actions/tasks` route, behind the same
//! reader check (read from Forgejo's `routers/api/v1/api.go`), and its `/version` reads
//! `<forgejo>+gitea-<gitea>`.
//!
//! **Assumed** (not read in source here): that a server without the route (Gitea before
//! 1.22) answers its generic 404; that Forgejo's `ActionTask` fields match Gitea's (they come
//! from the same code base); the scope wording switch between Gitea versions (both wordings
//! are read).
//!
//! | answer of the tasks call | result |
//! |---|---|
//! | 200 | passed; `total_count` and the latest task (`id`, `name`, `status`, `head_branch`, `run_number`, `event`, `workflow_id`, `created_at`) in `latest_task`, null when there is none yet |
//! | 403 naming a scope | `permission_denied` with that scope (`read:repository`) |
//! | 403 otherwise | `permission_denied`: the token's user cannot read the repository's Actions unit |
//! | 404 while the repository answered | `not_found`: the server has no Actions tasks API (Gitea before 1.22) |
//! | 404 | `not_found`: the repository does not exist or is not visible to the token's user |
//! | 401 | `unauthenticated` |
//!
//! A repository answering `has_actions: false` fails the check as `unhealthy` (the tool
//! answers, but Actions is off for the repository) with `actions_enabled: false`. Failed
//! results carry the `cause` detail (`actions_disabled`, `actions_forbidden`,
//! `actions_api_missing`, `repo_not_visible`, `scope_missing`) which
//! [`findings`](pathops_core::IntegrationConnector::findings) turns into the fix.
//!
//! Configuration: [`GiteaActionsConfig`].

use std::sync::Arc;

use async_trait::async_trait;
use pathops_core::clock::SystemClock;
use pathops_core::connector::detail;
use pathops_core::validate::ValidationError;
use pathops_core::{
    Capabilities, Capability, CheckResult, Clock, Configuration, ConnectorContext, Error,
    FailureCode, Finding, Integration, IntegrationConnector, Provider, Result, Severity,
};
use serde_json::{Value, json};
use tracing::instrument;

use super::config::web_root;
use super::{GiteaApi, Page, RepoRef, ServerVersion, Step, classify};
use crate::check::{Check, refuse_unknown_keys};
use crate::http::{HttpClient, HttpPolicy, HttpResponse};

const QUICKSTART_DOC: &str = "https://docs.gitea.com/usage/actions/quickstart";
const TOKENS_DOC: &str = "https://docs.gitea.com/development/api-usage";

/// The settings a Gitea Actions integration carries in its configuration:
///
/// | key | value |
/// |---|---|
/// | `owner` | required: the repository's owner (user or organization) |
/// | `repo` | required: the repository's name |
///
/// plus the HTTP settings of [`IntegrationHttp`](crate::http::IntegrationHttp). Any other key
/// is refused, naming it. The base URL is the instance's root (`https://git.example.com`, with
/// its sub-path if any); the secret is an access token with `read:repository` (and
/// `read:user` for the identity the connection test reports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GiteaActionsConfig {
    /// The repository.
    pub repo: RepoRef,
}

impl GiteaActionsConfig {
    /// The keys this configuration may have, besides the HTTP settings.
    pub const KEYS: [&'static str; 2] = ["owner", "repo"];

    /// Reads and validates the configuration; errors name the key.
    pub fn parse(configuration: &Configuration) -> std::result::Result<Self, ValidationError> {
        crate::http::IntegrationHttp::from_configuration(configuration)?;
        refuse_unknown_keys(configuration, &Self::KEYS)?;
        Ok(Self {
            repo: RepoRef::parse(configuration, "owner", "repo")?,
        })
    }
}

/// The Gitea Actions connector; see the [module docs](self).
#[derive(Debug)]
pub struct GiteaActionsConnector {
    api: GiteaApi,
}

/// Builds a [`GiteaActionsConnector`]; setters never fail, [`build`](Self::build) validates.
#[derive(Debug, Default)]
pub struct GiteaActionsConnectorBuilder {
    policy: HttpPolicy,
    clock: Option<Arc<dyn Clock>>,
}

impl GiteaActionsConnectorBuilder {
    /// The HTTP policy (default [`HttpPolicy::default`]).
    pub fn with_http(mut self, policy: HttpPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The clock for rate-limit resets a proxy may announce (default the system clock).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The connector; [`Error::InvalidConfig`] when the HTTP policy is unusable.
    pub fn build(self) -> Result<GiteaActionsConnector> {
        Ok(GiteaActionsConnector {
            api: GiteaApi {
                http: HttpClient::new(self.policy)?,
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            },
        })
    }
}

/// What a check learnt so far, attached to its result whether it passes or fails.
#[derive(Default)]
struct Learnt {
    repository: String,
    version: Option<ServerVersion>,
    user: Option<Value>,
    repo: Option<Value>,
    warnings: Vec<String>,
}

impl Learnt {
    fn annotate(self, mut result: CheckResult) -> CheckResult {
        result = result.with_detail("repository", self.repository);
        if let Some(v) = self.version {
            result = result
                .with_detail("version", v.version.clone())
                .with_detail("product", v.product());
        }
        if let Some(user) = self.user {
            result = result.with_detail("user", user);
        }
        if let Some(repo) = self.repo {
            result = result.with_detail("repo", repo);
        }
        result.with_detail("warnings", self.warnings)
    }
}

impl GiteaActionsConnector {
    /// A builder with the default policy.
    pub fn builder() -> GiteaActionsConnectorBuilder {
        GiteaActionsConnectorBuilder::default()
    }

    fn refused(&self, check: &Check<'_>, what: &str, response: &HttpResponse) -> CheckResult {
        let result = self.api.failed(check, what, response);
        match &result.failure {
            Some(FailureCode::PermissionDenied {
                missing_scope: Some(_),
            }) => result.with_detail("cause", "scope_missing"),
            _ => result,
        }
    }

    /// `GET /repos/:owner/:repo`: the repository, failing when its Actions unit is off.
    async fn repository(&self, check: &Check<'_>, repo: &RepoRef) -> Step<Value> {
        let what = format!("GET /api/v1/repos/{}", repo.path());
        let response = check
            .send(GiteaApi::get(check.ctx, &format!("repos/{}", repo.path())))
            .await?;
        if classify(&response, self.api.clock.now()) == Some(FailureCode::NotFound) {
            return Err(check
                .failed(
                    FailureCode::NotFound,
                    format!(
                        "{what} answered 404: {} does not exist or the token's user cannot see it",
                        repo.path()
                    ),
                )
                .with_detail("cause", "repo_not_visible"));
        }
        if !response.status.is_success() {
            return Err(self.refused(check, &what, &response));
        }
        let body: Value = GiteaApi::json(check, &what, &response)?;
        if body["full_name"].as_str().is_none() {
            return Err(check.failed(
                FailureCode::InvalidResponse,
                format!("{what}: no full_name in the answer"),
            ));
        }
        if body["has_actions"] == Value::Bool(false) {
            return Err(check
                .failed(
                    FailureCode::Unhealthy,
                    format!(
                        "{what}: has_actions is false: Actions is disabled for {} (off on the instance, [actions] ENABLED, or in the repository's settings)",
                        repo.path()
                    ),
                )
                .with_detail("cause", "actions_disabled")
                .with_detail("actions_enabled", false));
        }
        Ok(body)
    }

    /// `GET /repos/:owner/:repo/actions/tasks?limit=1`, after the repository answered.
    async fn tasks(
        &self,
        check: &Check<'_>,
        repo: &RepoRef,
        version: Option<&ServerVersion>,
    ) -> Step<CheckResult> {
        let what = format!("GET /api/v1/repos/{}/actions/tasks", repo.path());
        let response = check
            .send(GiteaApi::get(
                check.ctx,
                &format!("repos/{}/actions/tasks?limit=1", repo.path()),
            ))
            .await?;
        let status = response.status.as_u16();
        match classify(&response, self.api.clock.now()) {
            None => {}
            Some(FailureCode::NotFound) => {
                let old = version
                    .filter(|v| v.at_least(1, 22) == Some(false))
                    .map(|v| format!(" ({} {} is older than 1.22)", v.product(), v.version))
                    .unwrap_or_default();
                return Err(check
                    .failed(
                        FailureCode::NotFound,
                        format!(
                            "{what} answered 404 although the repository answered: the server has no Actions tasks API{old}; it needs Gitea 1.22 or later (or Forgejo)"
                        ),
                    )
                    .with_detail("cause", "actions_api_missing")
                    .with_detail(detail::HTTP_STATUS, status));
            }
            Some(FailureCode::PermissionDenied {
                missing_scope: None,
            }) => {
                return Err(check
                    .failed(
                        FailureCode::PermissionDenied {
                            missing_scope: None,
                        },
                        format!(
                            "{}: the token's user cannot read the Actions of {}",
                            super::auth::failure_message(&what, &response),
                            repo.path()
                        ),
                    )
                    .with_detail("cause", "actions_forbidden")
                    .with_detail(detail::HTTP_STATUS, status));
            }
            Some(_) => {
                return Err(self
                    .refused(check, &what, &response)
                    .with_detail(detail::HTTP_STATUS, status));
            }
        }
        let body: Value = GiteaApi::json(check, &what, &response)?;
        let (Some(total), Some(tasks)) = (
            body["total_count"].as_u64(),
            body["workflow_runs"].as_array(),
        ) else {
            return Err(check.failed(
                FailureCode::InvalidResponse,
                format!("{what}: the answer lacks total_count or workflow_runs"),
            ));
        };
        let latest = tasks.first().map(|t| {
            json!({
                "id": t["id"], "name": t["name"], "status": t["status"], "head_branch": t["head_branch"],
                "run_number": t["run_number"], "event": t["event"], "workflow_id": t["workflow_id"],
                "created_at": t["created_at"], "url": t["url"],
            })
        });
        let message = match &latest {
            Some(t) => format!(
                "Actions of {} readable: {total} tasks, the latest {} {} ({})",
                repo.path(),
                t["id"],
                t["status"].as_str().unwrap_or("?"),
                t["workflow_id"].as_str().unwrap_or("?"),
            ),
            None => format!("Actions of {} readable: no tasks yet", repo.path()),
        };
        Ok(check
            .passed(message)
            .with_detail("total_count", total)
            .with_detail("latest_task", latest.unwrap_or(Value::Null))
            .with_detail("pagination_total", Page::of(&response).total_count)
            .with_detail(detail::HTTP_STATUS, status))
    }

    async fn test_steps(
        &self,
        check: &Check<'_>,
        config: &GiteaActionsConfig,
        learnt: &mut Learnt,
    ) -> Step<CheckResult> {
        let identity = self.api.identify(check).await?;
        let version = identity.version;
        learnt.version = Some(version.clone());
        learnt.user = identity.user;
        learnt.warnings.extend(identity.warning);
        let login = identity.login;
        let repo = self.repository(check, &config.repo).await?;
        learnt.repo = Some(json!({
            "id": repo["id"], "full_name": repo["full_name"], "private": repo["private"],
            "has_actions": repo["has_actions"], "permissions": repo["permissions"],
        }));
        let result = self.tasks(check, &config.repo, Some(&version)).await?;
        let message = format!(
            "{} on {} {}{}",
            result.message,
            version.product(),
            version.version,
            login.map(|l| format!(" as {l}")).unwrap_or_default()
        );
        let mut result = result;
        result.message = message;
        Ok(result)
    }

    async fn run(&self, ctx: &ConnectorContext, full: bool) -> CheckResult {
        let check = Check::start(&self.api.http, ctx);
        let config = match GiteaActionsConfig::parse(&ctx.integration.configuration) {
            Ok(c) => c,
            Err(e) => return check.failed(FailureCode::InvalidConfig, e.to_string()),
        };
        let mut learnt = Learnt {
            repository: config.repo.path(),
            ..Learnt::default()
        };
        let outcome = if full {
            self.test_steps(&check, &config, &mut learnt).await
        } else {
            match self.repository(&check, &config.repo).await {
                Ok(_) => self.tasks(&check, &config.repo, None).await,
                Err(r) => Err(r),
            }
        };
        match outcome {
            Ok(r) | Err(r) => learnt.annotate(r),
        }
    }
}

#[async_trait]
impl IntegrationConnector for GiteaActionsConnector {
    fn provider(&self) -> Provider {
        Provider::GiteaActions
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new([Capability::TestConnection, Capability::HealthCheck])
    }

    async fn validate_config(&self, configuration: &Configuration) -> Result<()> {
        GiteaActionsConfig::parse(configuration)
            .map(|_| ())
            .map_err(Error::from)
    }

    #[instrument(skip_all, fields(integration_id = %ctx.integration.id, tenant_id = %ctx.integration.tenant_id, provider = "gitea-actions", action = "test_connection"))]
    async fn test_connection(&self, ctx: &ConnectorContext) -> CheckResult {
        self.run(ctx, true).await
    }

    #[instrument(skip_all, fields(integration_id = %ctx.integration.id, tenant_id = %ctx.integration.tenant_id, provider = "gitea-actions", action = "check_health"))]
    async fn check_health(&self, ctx: &ConnectorContext) -> CheckResult {
        self.run(ctx, false).await
    }

    /// Gitea's own remedies, under the doctor's generic codes so they replace its generic
    /// advice: `tool_unhealthy` (enable Actions: `[actions] ENABLED = true`, the repository's
    /// Actions setting), `missing_scope` (a token with `read:repository`, or Actions access
    /// for the token's user), `not_found` (the repository, or a Gitea without the Actions
    /// API), `unauthenticated` (a new token); on a passed check, `identity_scope_missing`
    /// (no `read:user`) and `no_action_tasks`.
    fn findings(&self, integration: &Integration, result: &CheckResult) -> Vec<Finding> {
        let web = web_root(&integration.base_url);
        let repository = result
            .details
            .get("repository")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| {
                GiteaActionsConfig::parse(&integration.configuration)
                    .ok()
                    .map(|c| c.repo.path())
            })
            .unwrap_or_else(|| "the repository".to_owned());
        let login = result
            .details
            .get("user")
            .and_then(|u| u["login"].as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| "the token's user".to_owned());
        let new_token = [
            format!(
                "Create an access token with the repository scope set to Read (and user: Read for the identity check) at {web}/user/settings/applications."
            ),
            "Gitea cannot change an existing token's scopes: store the new token behind the integration's auth ref.".to_owned(),
            "Run the doctor again.".to_owned(),
        ];
        let cause = result.details.get("cause").and_then(Value::as_str);
        match (&result.failure, cause) {
            (Some(FailureCode::Unhealthy), Some("actions_disabled")) => vec![
                Finding::new(
                    Severity::Error,
                    "tool_unhealthy",
                    format!("Actions is disabled for {repository}"),
                    result.message.clone(),
                )
                .with_steps([
                    "On the instance: set `[actions] ENABLED = true` in app.ini (and keep `repo.actions` out of `[repository] DISABLED_REPO_UNITS`), then restart Gitea.".to_owned(),
                    format!(
                        "In the repository: Settings → Advanced Settings → enable Actions ({web}/{repository}/settings), then Update Settings."
                    ),
                    "Register a runner for the repository, organization or instance so that workflows run.".to_owned(),
                ])
                .with_api_call(format!(
                    "PATCH /api/v1/repos/{repository} with {{\"has_actions\": true}}   # as a repository administrator"
                ))
                .with_doc_link(QUICKSTART_DOC),
            ],
            (Some(FailureCode::PermissionDenied { missing_scope: Some(scope) }), _) => vec![
                Finding::new(
                    Severity::Error,
                    "missing_scope",
                    format!("The Gitea token lacks the {scope} scope"),
                    result.message.clone(),
                )
                .with_steps(new_token)
                .with_doc_link(TOKENS_DOC),
            ],
            (Some(FailureCode::PermissionDenied { missing_scope: None }), _) => vec![
                Finding::new(
                    Severity::Error,
                    "missing_scope",
                    format!("{login} cannot read the Actions of {repository}"),
                    result.message.clone(),
                )
                .with_steps([
                    format!(
                        "Give {login} read access to {repository} that includes Actions: as a collaborator ({web}/{repository}/settings/collaboration), or through a team whose units include Actions."
                    ),
                    "Or use the token of a user who administers the repository.".to_owned(),
                ])
                .with_doc_link(QUICKSTART_DOC),
            ],
            (Some(FailureCode::NotFound), Some("actions_api_missing")) => vec![
                Finding::new(
                    Severity::Error,
                    "not_found",
                    "This server has no Actions tasks API",
                    result.message.clone(),
                )
                .with_steps(["Upgrade to Gitea 1.22 or later (or Forgejo), whose API lists a repository's Actions tasks."])
                .with_api_call("GET /api/v1/version")
                .with_doc_link(QUICKSTART_DOC),
            ],
            (Some(FailureCode::NotFound), _) => vec![
                Finding::new(
                    Severity::Error,
                    "not_found",
                    format!("{repository} is not visible to the token"),
                    result.message.clone(),
                )
                .with_steps([
                    "Check owner and repo in the configuration.".to_owned(),
                    format!("Check that {login} can see the repository ({web}/{repository})."),
                ])
                .with_api_call(format!("GET /api/v1/repos/{repository}")),
            ],
            (Some(FailureCode::Unauthenticated), _) => vec![
                Finding::new(
                    Severity::Error,
                    "unauthenticated",
                    "Gitea refused the token",
                    result.message.clone(),
                )
                .with_steps(new_token)
                .with_doc_link(TOKENS_DOC),
            ],
            (None, _) => {
                let mut out = Vec::new();
                if let Some(warnings) = result.details.get("warnings").and_then(Value::as_array)
                    && warnings
                        .iter()
                        .any(|w| w.as_str().is_some_and(|w| w.contains("read:user")))
                {
                    out.push(
                        Finding::new(
                            Severity::Info,
                            "identity_scope_missing",
                            "The token lacks read:user",
                            "Actions access is proved, but the token's user is not reported.",
                        )
                        .with_steps([format!(
                            "If the identity matters, create the token with user: Read as well ({web}/user/settings/applications)."
                        )])
                        .with_doc_link(TOKENS_DOC),
                    );
                }
                if result.details.get("latest_task") == Some(&Value::Null) {
                    out.push(
                        Finding::new(
                            Severity::Info,
                            "no_action_tasks",
                            format!("{repository} has no Actions task yet"),
                            "Access to Actions is proved, but no task shows that workflows run.",
                        )
                        .with_steps([format!(
                            "Add a workflow under .gitea/workflows in {repository} and make sure a runner picks it up."
                        )])
                        .with_doc_link(QUICKSTART_DOC),
                    );
                }
                out
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> std::result::Result<GiteaActionsConfig, ValidationError> {
        GiteaActionsConfig::parse(&Configuration::new(v).unwrap())
    }

    #[test]
    fn configuration_keys_are_closed_and_named() {
        let c = parse(json!({"owner": "acme", "repo": "my_app.v2"})).unwrap();
        assert_eq!(c.repo.path(), "acme/my_app.v2");
        let field = |v: Value| parse(v).unwrap_err().field;
        assert_eq!(field(json!({"repo": "a"})), "owner");
        assert_eq!(field(json!({"owner": "a"})), "repo");
        assert_eq!(field(json!({"owner": "a/b", "repo": "c"})), "owner");
        assert_eq!(field(json!({"owner": "a", "repo": "."})), "repo");
        assert_eq!(field(json!({"owner": "a", "repo": ["x"]})), "repo");
        assert_eq!(
            field(json!({"owner": "a", "repo": "b", "proxy_url": "ftp://x"})),
            "proxy_url"
        );
        let err = parse(json!({"owner": "a", "repo": "b", "repository": "a/b"})).unwrap_err();
        assert!(err.to_string().contains("`repository`"), "{err}");
    }

    #[test]
    fn the_echoed_token_is_dropped_from_messages() {
        let response = HttpResponse {
            status: reqwest::StatusCode::UNAUTHORIZED,
            headers: reqwest::header::HeaderMap::new(),
            body: br#"{"message":"access token does not exist [sha: s3cr3t-token]","url":"x"}"#
                .to_vec(),
            url: "http://127.0.0.1/api/v1/user".parse().unwrap(),
        };
        let message = super::super::auth::failure_message("GET /api/v1/user", &response);
        assert!(!message.contains("s3cr3t"), "{message}");
        assert!(message.contains("access token does not exist"), "{message}");
    }
}
