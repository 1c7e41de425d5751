//! The GitLab CI connector: proves that a token can read a project's CI/CD pipelines. It
//! authenticates and addresses GitLab exactly as the [GitLab connector](super) does, with its
//! code: `PRIVATE-TOKEN` (or `Authorization: Bearer` with `token_type: bearer`), every call
//! under `<base URL>/api/v4`, a project by numeric id or by full path with every `/`
//! percent-encoded ([`ProjectRef::segment`]), and GitLab's [classifier](super::classify).
//!
//! | operation | calls |
//! |---|---|
//! | [`test_connection`](pathops_core::IntegrationConnector::test_connection) | `GET /user` (identity), `GET /personal_access_tokens/self` (scopes and expiry; a token that has neither `read_api` nor `api` fails here, naming `read_api`), `GET /projects/:id` (the role), then `GET /projects/:id/pipelines?per_page=1` |
//! | [`check_health`](pathops_core::IntegrationConnector::check_health) | `GET /projects/:id/pipelines?per_page=1` |
//!
//! What the pipelines call answers, as GitLab's pipelines API documents it (it needs a token
//! with `read_api`, and on a private project the Reporter role):
//!
//! | answer | result |
//! |---|---|
//! | 200 with an array | passed; the latest pipeline (`id`, `iid`, `status`, `ref`, `sha`, `source`, `created_at`, `web_url`) in the `latest_pipeline` detail, the `X-Total` count in `pipeline_count`; an empty array passes with "no pipelines yet" (`latest_pipeline` null) |
//! | 403 `insufficient_scope` | `permission_denied` naming the scope GitLab asks for (`read_api`) |
//! | 403 otherwise | `permission_denied`: the token's user cannot read pipelines (a role below Reporter on a private project, or pipelines restricted to members) |
//! | 404 | `not_found`: the project does not exist or the token's user cannot see it |
//! | 401 | `unauthenticated` |
//! | 429 | `rate_limited` until `Retry-After`, `RateLimit-ResetTime` or `RateLimit-Reset` |
//! | 5xx | `server_error` |
//!
//! Passed results carry GitLab's `RateLimit-*` headers in the `rate_limit` detail. Results
//! carry the `cause` detail on a failure (`scope_missing`, `role_too_low`,
//! `project_not_visible`) and, as far as the check got, `user` and `project`, which
//! [`findings`](pathops_core::IntegrationConnector::findings) turns into the pages and API
//! calls that fix it. The connection test also fills the well-known token details
//! (`token_scopes`, `token_expires_at`) the doctor warns on.
//!
//! Configuration: [`GitLabCiConfig`].

use std::sync::Arc;

use async_trait::async_trait;
use pathops_core::connector::detail;
use pathops_core::validate::{Problem, ValidationError};
use pathops_core::{
    Capabilities, Capability, CheckResult, Clock, Configuration, ConnectorContext, Error,
    FailureCode, Finding, Integration, IntegrationConnector, Provider, Result, Severity,
};
use serde_json::{Value, json};
use tracing::instrument;

use super::{GitLabConfig, GitLabConnector, ProjectRef, TokenType, classify};
use crate::check::{Check, http_failure_message, refuse_unknown_keys};
use crate::http::{HttpPolicy, HttpRequest, HttpResponse};

const PIPELINES_DOC: &str = "https://docs.gitlab.com/api/pipelines/";
const TOKENS_DOC: &str =
    "https://docs.gitlab.com/user/profile/personal_access_tokens/#personal-access-token-scopes";
const ROLES_DOC: &str = "https://docs.gitlab.com/user/permissions/";
/// The Reporter role: the least that reads a private project's pipelines.
const REPORTER: u64 = 20;

/// The settings a GitLab CI integration carries in its configuration:
///
/// | key | value |
/// |---|---|
/// | `project` | required: numeric id (`42` or `"42"`) or full path (`"group/sub/project"`), validated as the [GitLab connector](super::GitLabConfig) does |
/// | `token_type` | `private_token` (default) or `bearer` |
///
/// plus the HTTP settings of [`IntegrationHttp`](crate::http::IntegrationHttp). Any other key
/// (the GitLab connector's `hook_id`, `trigger`, `instance_url` included) is refused, naming
/// it. The secret is a personal, project or group access token (or an OAuth token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitLabCiConfig {
    /// The project.
    pub project: ProjectRef,
    /// How the token is sent.
    pub token_type: TokenType,
}

impl GitLabCiConfig {
    /// The keys this configuration may have, besides the HTTP settings.
    pub const KEYS: [&'static str; 2] = ["project", "token_type"];

    /// Reads and validates the configuration; errors name the key.
    pub fn parse(configuration: &Configuration) -> std::result::Result<Self, ValidationError> {
        refuse_unknown_keys(configuration, &Self::KEYS)?;
        let gitlab = GitLabConfig::parse(configuration)?;
        let project = gitlab
            .project
            .ok_or(ValidationError::new("project", Problem::Empty))?;
        Ok(Self {
            project,
            token_type: gitlab.token_type,
        })
    }

    /// The same settings as the GitLab connector reads them.
    fn as_gitlab(&self) -> GitLabConfig {
        GitLabConfig {
            project: Some(self.project.clone()),
            hook_id: None,
            trigger: "push_events".to_owned(),
            token_type: self.token_type,
            instance_url: None,
        }
    }
}

/// The GitLab CI connector; see the [module docs](self).
#[derive(Debug)]
pub struct GitLabCiConnector {
    /// The GitLab connector whose requests, identity and token introspection this reuses.
    gitlab: GitLabConnector,
}

/// Builds a [`GitLabCiConnector`]; setters never fail, [`build`](Self::build) validates.
#[derive(Debug, Default)]
pub struct GitLabCiConnectorBuilder {
    policy: HttpPolicy,
    clock: Option<Arc<dyn Clock>>,
}

impl GitLabCiConnectorBuilder {
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
    pub fn build(self) -> Result<GitLabCiConnector> {
        let mut gitlab = GitLabConnector::builder().with_http(self.policy);
        if let Some(clock) = self.clock {
            gitlab = gitlab.with_clock(clock);
        }
        Ok(GitLabCiConnector {
            gitlab: gitlab.build()?,
        })
    }
}

type Step<T> = std::result::Result<T, CheckResult>;

/// What a check learnt so far, attached to its result whether it passes or fails.
#[derive(Default)]
struct Learnt {
    project: Value,
    user: Option<Value>,
    token: Option<Value>,
    scopes: Option<Vec<String>>,
    expires_at: Option<String>,
    warnings: Vec<String>,
}

impl Learnt {
    fn annotate(self, mut result: CheckResult) -> CheckResult {
        result = result.with_detail("project", self.project);
        if let Some(user) = self.user {
            result = result.with_detail("user", user);
        }
        if let Some(token) = self.token {
            result = result.with_detail("token", token);
        }
        if let Some(scopes) = self.scopes {
            result = result.with_detail(detail::TOKEN_SCOPES, scopes);
        }
        if let Some(expires_at) = self.expires_at {
            result = result.with_detail(detail::TOKEN_EXPIRES_AT, expires_at);
        }
        result.with_detail("warnings", self.warnings)
    }
}

/// `RateLimit-Limit`, `-Remaining` and `-Reset` of an answer.
fn rate_limit(response: &HttpResponse) -> Value {
    let n = |h: &str| {
        response
            .header(h)
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    json!({
        "limit": n("ratelimit-limit"), "remaining": n("ratelimit-remaining"),
        "reset": n("ratelimit-reset"),
    })
}

impl GitLabCiConnector {
    /// A builder with the default policy.
    pub fn builder() -> GitLabCiConnectorBuilder {
        GitLabCiConnectorBuilder::default()
    }

    fn get(&self, check: &Check<'_>, config: &GitLabConfig, path: &str) -> HttpRequest {
        self.gitlab.request(
            check.ctx,
            config,
            HttpRequest::get(GitLabConnector::url(check.ctx, path)),
        )
    }

    /// `GET /projects/:id/pipelines?per_page=1`.
    async fn pipelines(&self, check: &Check<'_>, config: &GitLabCiConfig) -> Step<CheckResult> {
        let segment = config.project.segment();
        let what = format!("GET /projects/{segment}/pipelines");
        let response = check
            .send(self.get(
                check,
                &config.as_gitlab(),
                &format!("projects/{segment}/pipelines?per_page=1"),
            ))
            .await?;
        let status = response.status.as_u16();
        let failed = |code: FailureCode, message: String, cause: &str| {
            check
                .failed(code, message)
                .with_detail(detail::HTTP_STATUS, status)
                .with_detail("cause", cause)
        };
        match classify(&response, self.gitlab.clock.now()) {
            None => {}
            Some(FailureCode::PermissionDenied {
                missing_scope: Some(scope),
            }) => {
                // GitLab's `scope` lists the scopes it accepts (`api read_api`): the least of
                // them is the one to ask for.
                let scope = if scope.split_whitespace().any(|s| s == "read_api") {
                    "read_api".to_owned()
                } else {
                    scope
                };
                return Err(failed(
                    FailureCode::PermissionDenied {
                        missing_scope: Some(scope.clone()),
                    },
                    format!(
                        "{}; the token lacks the {scope} scope",
                        http_failure_message(&what, &response)
                    ),
                    "scope_missing",
                ));
            }
            Some(FailureCode::PermissionDenied {
                missing_scope: None,
            }) => {
                return Err(failed(
                    FailureCode::PermissionDenied {
                        missing_scope: None,
                    },
                    format!(
                        "{}; the token's user cannot read the pipelines of {}: a private project's need the Reporter role (20) or higher",
                        http_failure_message(&what, &response),
                        config.project.segment()
                    ),
                    "role_too_low",
                ));
            }
            Some(FailureCode::NotFound) => {
                return Err(failed(
                    FailureCode::NotFound,
                    format!(
                        "{}; project {} does not exist or the token's user cannot see it",
                        http_failure_message(&what, &response),
                        config.project.segment()
                    ),
                    "project_not_visible",
                ));
            }
            Some(_) => {
                self.gitlab.expect_ok(check, &what, &response)?;
            }
        }
        let pipelines: Vec<Value> = GitLabConnector::parse(check, &what, &response)?;
        let latest = match pipelines.first() {
            None => None,
            Some(p) if p.get("id").and_then(Value::as_u64).is_some() => Some(json!({
                "id": p["id"], "iid": p["iid"], "status": p["status"], "ref": p["ref"],
                "sha": p["sha"], "source": p["source"], "created_at": p["created_at"],
                "web_url": p["web_url"],
            })),
            Some(_) => {
                return Err(check.failed(
                    FailureCode::InvalidResponse,
                    format!("{what}: a pipeline without an id"),
                ));
            }
        };
        let count = response
            .header("x-total")
            .and_then(|v| v.trim().parse::<u64>().ok());
        let project = config.project.segment();
        let message = match &latest {
            Some(p) => format!(
                "GitLab CI of project {project} readable: latest pipeline {} {} on {}",
                p["id"],
                p["status"].as_str().unwrap_or("?"),
                p["ref"].as_str().unwrap_or("?"),
            ),
            None => format!("GitLab CI of project {project} readable: no pipelines yet"),
        };
        Ok(check
            .passed(message)
            .with_detail("latest_pipeline", latest.unwrap_or(Value::Null))
            .with_detail("pipeline_count", count)
            .with_detail("rate_limit", rate_limit(&response))
            .with_detail(detail::HTTP_STATUS, status))
    }

    async fn test_steps(
        &self,
        check: &Check<'_>,
        config: &GitLabCiConfig,
        learnt: &mut Learnt,
    ) -> Step<CheckResult> {
        let gitlab = config.as_gitlab();
        let user = self.gitlab.whoami(check, &gitlab).await?;
        let is_admin = user["is_admin"].as_bool().unwrap_or(false);
        learnt.user = Some(json!({
            "id": user["id"], "username": user["username"], "bot": user["bot"], "is_admin": is_admin,
        }));
        let introspection = self
            .gitlab
            .introspect(check, &gitlab, &mut learnt.warnings)
            .await?;
        learnt.token = Some(introspection.detail);
        learnt.expires_at = introspection.expires_at;
        learnt.scopes = introspection.scopes.clone();
        if let Some(scopes) = &introspection.scopes
            && !scopes.iter().any(|s| s == "api" || s == "read_api")
        {
            return Err(check
                .failed(
                    FailureCode::PermissionDenied {
                        missing_scope: Some("read_api".to_owned()),
                    },
                    format!(
                        "the token's scopes are [{}]: reading pipelines needs read_api (or api)",
                        scopes.join(", ")
                    ),
                )
                .with_detail("cause", "scope_missing"));
        }

        let segment = config.project.segment();
        let what = format!("GET /projects/{segment}");
        let response = check
            .send(self.get(check, &gitlab, &format!("projects/{segment}")))
            .await?;
        if classify(&response, self.gitlab.clock.now()) == Some(FailureCode::NotFound) {
            return Err(check
                .failed(
                    FailureCode::NotFound,
                    format!(
                        "{}; project {segment} does not exist or the token's user cannot see it",
                        http_failure_message(&what, &response)
                    ),
                )
                .with_detail("cause", "project_not_visible"));
        }
        self.gitlab.expect_ok(check, &what, &response)?;
        let p: Value = GitLabConnector::parse(check, &what, &response)?;
        let level = p["permissions"]["project_access"]["access_level"]
            .as_u64()
            .max(p["permissions"]["group_access"]["access_level"].as_u64());
        learnt.project = json!({
            "id": p["id"], "path_with_namespace": p["path_with_namespace"],
            "visibility": p["visibility"], "access_level": level,
        });
        let result = self.pipelines(check, config).await?;
        let username = user["username"].as_str().unwrap_or("?");
        let message = format!("{} as @{username}", result.message);
        let mut result = result;
        result.message = message;
        Ok(result)
    }

    async fn run(&self, ctx: &ConnectorContext, full: bool) -> CheckResult {
        let check = Check::start(&self.gitlab.http, ctx);
        let config = match GitLabCiConfig::parse(&ctx.integration.configuration) {
            Ok(c) => c,
            Err(e) => return check.failed(FailureCode::InvalidConfig, e.to_string()),
        };
        let mut learnt = Learnt {
            project: json!({"id": match &config.project {
                ProjectRef::Id(id) => json!(id),
                ProjectRef::Path(path) => json!(path),
            }}),
            ..Learnt::default()
        };
        let outcome = if full {
            self.test_steps(&check, &config, &mut learnt).await
        } else {
            self.pipelines(&check, &config).await
        };
        match outcome {
            Ok(r) | Err(r) => learnt.annotate(r),
        }
    }
}

#[async_trait]
impl IntegrationConnector for GitLabCiConnector {
    fn provider(&self) -> Provider {
        Provider::GitLabCi
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new([Capability::TestConnection, Capability::HealthCheck])
    }

    async fn validate_config(&self, configuration: &Configuration) -> Result<()> {
        GitLabCiConfig::parse(configuration)
            .map(|_| ())
            .map_err(Error::from)
    }

    #[instrument(skip_all, fields(integration_id = %ctx.integration.id, tenant_id = %ctx.integration.tenant_id, provider = "gitlab-ci", action = "test_connection"))]
    async fn test_connection(&self, ctx: &ConnectorContext) -> CheckResult {
        self.run(ctx, true).await
    }

    #[instrument(skip_all, fields(integration_id = %ctx.integration.id, tenant_id = %ctx.integration.tenant_id, provider = "gitlab-ci", action = "check_health"))]
    async fn check_health(&self, ctx: &ConnectorContext) -> CheckResult {
        self.run(ctx, false).await
    }

    /// GitLab's own remedies, under the doctor's generic codes so they replace its generic
    /// advice: `missing_scope` (a token with `read_api`, or the Reporter role for the
    /// token's user), `not_found` (the project path or membership), `unauthenticated` (a new
    /// token); on a passed check without pipelines, `no_pipelines_yet`.
    fn findings(&self, integration: &Integration, result: &CheckResult) -> Vec<Finding> {
        let base = integration.base_url.as_str().to_owned();
        let config = GitLabCiConfig::parse(&integration.configuration).ok();
        let project = &result.details.get("project").cloned().unwrap_or_default();
        let path = project["path_with_namespace"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| match config.as_ref().map(|c| &c.project) {
                Some(ProjectRef::Path(p)) => Some(p.clone()),
                _ => None,
            });
        let segment = project["id"]
            .as_u64()
            .map(|id| id.to_string())
            .or_else(|| config.as_ref().map(|c| c.project.segment()))
            .unwrap_or_else(|| ":id".to_owned());
        let shown = path.clone().unwrap_or_else(|| format!("project {segment}"));
        let project_page = |suffix: &str| match &path {
            Some(p) => format!("{base}/{p}/{suffix}"),
            None => format!("the project's {suffix} page"),
        };
        let user = result.details.get("user");
        let username = user
            .and_then(|u| u["username"].as_str())
            .map(|u| format!("@{u}"))
            .unwrap_or_else(|| "the token's user".to_owned());
        let new_token = [
            format!(
                "Create a personal access token with the read_api scope ({base}/-/user_settings/personal_access_tokens), or a project access token with the Reporter role and read_api ({}).",
                project_page("-/settings/access_tokens")
            ),
            "GitLab cannot add scopes to an existing token: store the new token behind the integration's auth ref.".to_owned(),
            "Run the doctor again.".to_owned(),
        ];
        match &result.failure {
            Some(FailureCode::PermissionDenied {
                missing_scope: Some(scope),
            }) => vec![
                Finding::new(
                    Severity::Error,
                    "missing_scope",
                    format!("The GitLab token lacks the {scope} scope, which reading pipelines needs"),
                    result.message.clone(),
                )
                .with_steps(new_token)
                .with_doc_link(TOKENS_DOC),
            ],
            Some(FailureCode::PermissionDenied {
                missing_scope: None,
            }) => {
                let level = project["access_level"].as_u64();
                let mut finding = Finding::new(
                    Severity::Error,
                    "missing_scope",
                    format!("{username} cannot read the pipelines of {shown}"),
                    match level {
                        Some(l) => format!("{} (the user's access level is {l}; pipelines of a private project need {REPORTER})", result.message),
                        None => result.message.clone(),
                    },
                )
                .with_steps([
                    format!(
                        "Give {username} the Reporter role or higher on {shown}: {}.",
                        project_page("-/project_members")
                    ),
                    "A project or group access token has the role it was created with: create one with Reporter or higher.".to_owned(),
                    "If the user is not meant to be a member, check Settings → General → Visibility: CI/CD must not be limited to project members.".to_owned(),
                ])
                .with_doc_link(ROLES_DOC);
                if let Some(id) = user.and_then(|u| u["id"].as_u64()) {
                    finding = finding.with_api_call(format!(
                        "POST /api/v4/projects/{segment}/members with {{\"user_id\": {id}, \"access_level\": {REPORTER}}}   # as a Maintainer"
                    ));
                }
                vec![finding]
            }
            Some(FailureCode::NotFound) => vec![
                Finding::new(
                    Severity::Error,
                    "not_found",
                    format!("GitLab {shown} is not visible to the token"),
                    result.message.clone(),
                )
                .with_steps([
                    "Check project in the configuration: the numeric id or the full path (group/subgroup/project).".to_owned(),
                    format!("Check that {username} is a member of the project (or that it is public or internal)."),
                ])
                .with_api_call(format!("GET /api/v4/projects/{segment}"))
                .with_doc_link(PIPELINES_DOC),
            ],
            Some(FailureCode::Unauthenticated) => vec![
                Finding::new(
                    Severity::Error,
                    "unauthenticated",
                    "GitLab refused the token",
                    result.message.clone(),
                )
                .with_steps(new_token)
                .with_doc_link(TOKENS_DOC),
            ],
            None if result.details.get("latest_pipeline") == Some(&Value::Null) => vec![
                Finding::new(
                    Severity::Info,
                    "no_pipelines_yet",
                    format!("{shown} has no pipeline yet"),
                    "Access to pipelines is proved, but no pipeline shows that CI runs.",
                )
                .with_steps([format!(
                    "Add a .gitlab-ci.yml to {shown}, or run a pipeline ({}).",
                    project_page("-/pipelines/new")
                )])
                .with_doc_link(PIPELINES_DOC),
            ],
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> std::result::Result<GitLabCiConfig, ValidationError> {
        GitLabCiConfig::parse(&Configuration::new(v).unwrap())
    }

    #[test]
    fn configuration_keys_are_closed_and_the_project_required() {
        let c = parse(json!({"project": "group/sub/app", "token_type": "bearer"})).unwrap();
        assert_eq!(c.project.segment(), "group%2Fsub%2Fapp");
        assert_eq!(c.token_type, TokenType::Bearer);
        assert_eq!(
            parse(json!({"project": 42})).unwrap().project,
            ProjectRef::Id(42)
        );
        let field = |v: Value| parse(v).unwrap_err().field;
        assert_eq!(field(json!({})), "project");
        assert_eq!(field(json!({"project": "noslash"})), "project");
        assert_eq!(
            field(json!({"project": 1, "token_type": "basic"})),
            "token_type"
        );
        for key in ["hook_id", "trigger", "instance_url", "projet"] {
            let err = parse(json!({"project": 1, key: "x"})).unwrap_err();
            assert!(err.to_string().contains(&format!("`{key}`")), "{err}");
        }
    }
}
