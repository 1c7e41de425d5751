//! The Gitea / Forgejo SCM connector: proves that a token reaches a repository and its
//! webhook, and drives the doctor's webhook round trip through the hook's test endpoint,
//! on the [Gitea API base](super).
//!
//! | operation | calls |
//! |---|---|
//! | [`test_connection`](pathops_core::IntegrationConnector::test_connection) | `GET /api/v1/version` (liveness; Gitea or Forgejo), `GET /api/v1/user` (identity; scope `read:user`, a token without it is a warning), `GET /api/v1/repos/:owner/:repo` (access: `permissions`, `empty`, `default_branch`, the id deliveries are matched on); with a `hook_id`: `GET /api/v1/repos/:owner/:repo/hooks/:id` (scope `read:repository`, repository administrator) |
//! | [`check_health`](pathops_core::IntegrationConnector::check_health) | `GET /api/v1/repos/:owner/:repo`, the cheapest call that proves both the token and the access |
//! | [`expected_delivery`](pathops_core::IntegrationConnector::expected_delivery) | none: a Gitea delivery (`/webhooks/gitea`) of the event `push` for the repository's numeric id (payload `repository.id`, learnt by the connection test); its `X-Forgejo-Delivery` / `X-Gitea-Delivery` is the report's evidence |
//! | [`trigger_delivery`](pathops_core::IntegrationConnector::trigger_delivery) | `GET /api/v1/version`, `GET /api/v1/repos/:owner/:repo` (`empty`), `GET …/hooks/:id` (active, type, content type, events, branch filter), then `POST …/hooks/:id/tests` (scope `write:repository`) → 204 |
//!
//! **Read from Gitea's source** (`routers/api/v1/api.go`, `routers/api/v1/repo/hook.go`,
//! `services/webhook/{webhook,deliver}.go`, `modules/structs/hook.go`): the hooks routes sit
//! in the `/repos` group behind `tokenRequiresScopes(repository)` (`read:repository` for GET,
//! `write:repository` for POST, PATCH and DELETE, the level following the method), then
//! `reqToken` (401 `token is required`), `reqAdmin` (403 `user should be an owner or a
//! collaborator with admin write of a repository`) and `reqWebhooksEnabled` (403 `webhooks
//! disabled by administrator` under `[security] DISABLE_WEBHOOKS`). `TestHook` answers **204
//! and sends nothing when the repository has no commit**, before it looks the hook up; an
//! unknown hook is 404; otherwise `PrepareWebhook` queues a synthetic push of the default
//! branch's head commit, unless the hook is not subscribed to `push` or its branch filter
//! excludes that branch (then nothing either), and the call answers 204 at once: the
//! delivery follows from the `webhook_sender` queue. `Deliver` marks a task of an
//! **inactive** hook delivered and failed without sending it; the HTTP client refuses hosts
//! outside `[webhook] ALLOWED_HOST_LIST` (default `external`: no loopback or private
//! receiver) and gives up after `[webhook] DELIVER_TIMEOUT` (5 s). The signature is the bare
//! hex HMAC-SHA256 of the JSON payload, also when the hook posts it as a form (`payload=…`),
//! so a `form` hook never verifies at a receiver checking the raw body. The hook's API shape
//! is `{id, type, branch_filter, config: {url, content_type}, events, authorization_header,
//! active, …}`; the secret is never shown. Gitea's API has no route for a hook's delivery
//! history (the proposal go-gitea/gitea#38463 is open): only the web UI's "Recent
//! Deliveries" shows what the receiver answered.
//!
//! Because of that, the round trip checks before it triggers what would make Gitea send
//! nothing, and reports it instead of waiting: an empty repository (`unsupported`, cause
//! `repository_empty`), an inactive hook, a `form` hook, a hook without `push`, a branch
//! filter excluding the default branch, a hook type other than `gitea`, `gogs` or `forgejo`
//! (`unhealthy`, causes `hook_inactive` / `hook_misconfigured`, listed in `hook_problems`).
//! What it cannot see (a receiver the allow list refuses, a wrong secret, a wrong URL) ends
//! as `delivery_not_received`, and the [findings](pathops_core::IntegrationConnector::delivery_findings)
//! say where Gitea shows which it was; a receiver on a loopback or private address adds the
//! `ALLOWED_HOST_LIST` fix. The hook's URL is reported without user info or query (where
//! credentials hide), and its `authorization_header` never.
//!
//! **Assumed**: that `empty` is what makes `TestHook` find no commit (a repository whose
//! default branch was deleted would also send nothing and is not detected); Forgejo's
//! `X-Forgejo-*` headers and its keeping Gitea's hooks API (read via a code index, not
//! Forgejo's repository); the branch filter's glob syntax beyond `*`, `**`, `?` and `{a,b}`
//! (a filter with a character class is not judged).
//!
//! | answer | result |
//! |---|---|
//! | 401 | `unauthenticated` (Gitea echoes an unknown token: the message drops it) |
//! | 403 naming a scope | `permission_denied` with the scope (`read:repository`, `write:repository`, `read:user`) |
//! | 403 `reqAdmin` | `permission_denied`, cause `hook_admin_required` |
//! | 403 `webhooks disabled by administrator` | `unhealthy`, cause `webhooks_disabled` |
//! | 404 | `not_found`, cause `repo_not_visible` or `hook_not_found` |
//! | 429, 5xx | `rate_limited` (a proxy's `Retry-After`), `server_error` |
//!
//! Configuration: [`GiteaConfig`].

use std::sync::Arc;

use async_trait::async_trait;
use pathops_core::clock::SystemClock;
use pathops_core::connector::detail;
use pathops_core::validate::{Problem, ValidationError};
use pathops_core::webhook::{DeliveryKind, Expectation};
use pathops_core::{
    AuthRef, Capabilities, Capability, CheckResult, Clock, Configuration, ConnectorContext,
    DeliveryRequest, Error, FailureCode, Finding, Integration, IntegrationConnector, Provider,
    Result,
};
use serde_json::{Value, json};
use tracing::instrument;

use super::hook::{HookView, RepoIds};
use super::{GiteaApi, RepoRef, ServerVersion, Step, classify};
use crate::check::{Check, refuse_unknown_keys};
use crate::http::{HttpClient, HttpPolicy, HttpResponse};

/// The settings a Gitea integration carries in its configuration:
///
/// | key | value |
/// |---|---|
/// | `owner` | required: the repository's owner (user or organization) |
/// | `repo` | required: the repository's name |
/// | `hook_id` | the repository webhook the doctor tests (a positive number, or its digits) |
/// | `webhook_secret_ref` | the auth ref (or a list of them, during a rotation) of the hook's secret, read by the doctor |
///
/// plus the HTTP settings of [`IntegrationHttp`](crate::http::IntegrationHttp). Any other key
/// is refused, naming it. The base URL is the instance's root (`https://git.example.com`,
/// with its sub-path if any); the secret is an access token with `read:repository`
/// (`write:repository` to test the hook, whose user must administer the repository) and
/// `read:user` for the identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GiteaConfig {
    /// The repository.
    pub repo: RepoRef,
    /// The hook, if any.
    pub hook_id: Option<u64>,
    /// The hook secret's references (empty when none is configured).
    pub webhook_secret_refs: Vec<AuthRef>,
}

impl GiteaConfig {
    /// The keys this configuration may have, besides the HTTP settings.
    pub const KEYS: [&'static str; 4] = ["owner", "repo", "hook_id", "webhook_secret_ref"];

    /// Reads and validates the configuration; errors name the key.
    pub fn parse(configuration: &Configuration) -> std::result::Result<Self, ValidationError> {
        crate::http::IntegrationHttp::from_configuration(configuration)?;
        refuse_unknown_keys(configuration, &Self::KEYS)?;
        let repo = RepoRef::parse(configuration, "owner", "repo")?;
        let hook_id = match configuration.get("hook_id") {
            None | Some(Value::Null) => None,
            Some(v) => {
                Some(positive_id(v).ok_or(ValidationError::new("hook_id", Problem::OutOfRange))?)
            }
        };
        let refs = |problem| ValidationError::new("webhook_secret_ref", problem);
        let webhook_secret_refs = match configuration.get("webhook_secret_ref") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) if items.is_empty() => return Err(refs(Problem::Empty)),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::String(s) => {
                        AuthRef::parse(s).map_err(|e| refs(Problem::InvalidAuthRef(e)))
                    }
                    _ => Err(refs(Problem::NotAnAuthRef)),
                })
                .collect::<std::result::Result<_, _>>()?,
            Some(Value::String(s)) => {
                vec![AuthRef::parse(s).map_err(|e| refs(Problem::InvalidAuthRef(e)))?]
            }
            Some(_) => return Err(refs(Problem::NotAnAuthRef)),
        };
        Ok(Self {
            repo,
            hook_id,
            webhook_secret_refs,
        })
    }
}

fn positive_id(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().filter(|n| *n > 0),
        Value::String(s)
            if !s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit()) =>
        {
            s.parse().ok().filter(|n| *n > 0)
        }
        _ => None,
    }
}

/// The Gitea / Forgejo SCM connector; see the [module docs](self).
#[derive(Debug)]
pub struct GiteaConnector {
    pub(super) api: GiteaApi,
    pub(super) repos: RepoIds,
}

/// Builds a [`GiteaConnector`]; setters never fail, [`build`](Self::build) validates.
#[derive(Debug, Default)]
pub struct GiteaConnectorBuilder {
    policy: HttpPolicy,
    clock: Option<Arc<dyn Clock>>,
}

impl GiteaConnectorBuilder {
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
    pub fn build(self) -> Result<GiteaConnector> {
        Ok(GiteaConnector {
            api: GiteaApi {
                http: HttpClient::new(self.policy)?,
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            },
            repos: RepoIds::default(),
        })
    }
}

/// What a connection test learnt, attached to its result whether it passes or fails.
#[derive(Default)]
struct Learnt {
    repository: String,
    version: Option<ServerVersion>,
    user: Option<Value>,
    repo: Option<Value>,
    hook: Option<Value>,
    warnings: Vec<String>,
}

impl Learnt {
    fn annotate(self, mut result: CheckResult) -> CheckResult {
        result = result.with_detail(detail::PROJECT, self.repository);
        if let Some(v) = self.version {
            result = result
                .with_detail("version", v.version.clone())
                .with_detail("product", v.product());
        }
        for (key, value) in [
            ("user", self.user),
            ("repo", self.repo),
            ("hook", self.hook),
        ] {
            if let Some(value) = value {
                result = result.with_detail(key, value);
            }
        }
        result.with_detail("warnings", self.warnings)
    }
}

impl GiteaConnector {
    /// A builder with the default policy.
    pub fn builder() -> GiteaConnectorBuilder {
        GiteaConnectorBuilder::default()
    }

    pub(super) fn config(check: &Check<'_>) -> Step<GiteaConfig> {
        GiteaConfig::parse(&check.ctx.integration.configuration)
            .map_err(|e| check.failed(FailureCode::InvalidConfig, e.to_string()))
    }

    /// A refused call's result, with the cause the findings need: a scope refusal, the
    /// `reqAdmin` refusal of the hooks routes, or webhooks switched off on the instance
    /// (reported as the tool's state, not the token's).
    pub(super) fn refused(
        &self,
        check: &Check<'_>,
        what: &str,
        response: &HttpResponse,
    ) -> CheckResult {
        let status = response.status.as_u16();
        let result = self.api.failed(check, what, response);
        let result = match &result.failure {
            Some(FailureCode::PermissionDenied {
                missing_scope: Some(_),
            }) => result.with_detail("cause", "scope_missing"),
            Some(FailureCode::PermissionDenied {
                missing_scope: None,
            }) if result.message.contains("webhooks disabled") => check
                .failed(
                    FailureCode::Unhealthy,
                    format!(
                        "{}: webhooks are switched off on the instance ([security] DISABLE_WEBHOOKS)",
                        result.message
                    ),
                )
                .with_detail("cause", "webhooks_disabled"),
            Some(FailureCode::PermissionDenied {
                missing_scope: None,
            }) if result.message.contains("admin write") => {
                result.with_detail("cause", "hook_admin_required")
            }
            _ => result,
        };
        result.with_detail(detail::HTTP_STATUS, status)
    }

    /// `GET /repos/:owner/:repo`: the repository as the token's user sees it.
    pub(super) async fn repository(&self, check: &Check<'_>, repo: &RepoRef) -> Step<Value> {
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
                .with_detail("cause", "repo_not_visible")
                .with_detail(detail::HTTP_STATUS, 404));
        }
        if !response.status.is_success() {
            return Err(self.refused(check, &what, &response));
        }
        let body: Value = GiteaApi::json(check, &what, &response)?;
        if body["full_name"].as_str().is_none() || body["id"].as_u64().is_none() {
            return Err(check.failed(
                FailureCode::InvalidResponse,
                format!("{what}: the answer lacks id or full_name"),
            ));
        }
        self.repos.remember(
            &check.ctx.integration,
            repo,
            body["id"].as_u64().unwrap_or(0),
        );
        Ok(body)
    }

    async fn test_steps(
        &self,
        check: &Check<'_>,
        config: &GiteaConfig,
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
            "empty": repo["empty"], "default_branch": repo["default_branch"],
            "permissions": repo["permissions"],
        }));
        let mut message = format!("{} readable", config.repo.path());
        if let Some(hook_id) = config.hook_id {
            if repo["empty"] == Value::Bool(true) {
                learnt.warnings.push(format!(
                    "{} has no commits, so Gitea sends no test delivery for hook {hook_id} until one is pushed",
                    config.repo.path()
                ));
            }
            let hook = self.read_hook(check, &config.repo, hook_id).await?;
            let branch = repo["default_branch"].as_str().unwrap_or("main");
            for problem in hook.problems(branch) {
                learnt
                    .warnings
                    .push(format!("hook {hook_id}: {}", problem.describe(branch)));
            }
            message.push_str(&format!(
                ", hook {hook_id} {}",
                if hook.active { "active" } else { "inactive" }
            ));
            learnt.hook = Some(hook.to_detail());
        }
        let message = format!(
            "{message} on {} {}{}",
            version.product(),
            version.version,
            login.map(|l| format!(" as {l}")).unwrap_or_default()
        );
        Ok(check.passed(message))
    }

    /// `GET /repos/:owner/:repo/hooks/:id`: the hook, 404 as `hook_not_found`.
    pub(super) async fn read_hook(
        &self,
        check: &Check<'_>,
        repo: &RepoRef,
        hook_id: u64,
    ) -> Step<HookView> {
        let path = format!("repos/{}/hooks/{hook_id}", repo.path());
        let what = format!("GET /api/v1/{path}");
        let response = check.send(GiteaApi::get(check.ctx, &path)).await?;
        if classify(&response, self.api.clock.now()) == Some(FailureCode::NotFound) {
            return Err(check
                .failed(
                    FailureCode::NotFound,
                    format!("{what} answered 404: {} has no hook {hook_id}", repo.path()),
                )
                .with_detail("cause", "hook_not_found")
                .with_detail(detail::HTTP_STATUS, 404));
        }
        if !response.status.is_success() {
            return Err(self.refused(check, &what, &response));
        }
        let body: Value = GiteaApi::json(check, &what, &response)?;
        HookView::from_json(&body).ok_or_else(|| {
            check.failed(
                FailureCode::InvalidResponse,
                format!("{what}: the answer lacks id, active or config.url"),
            )
        })
    }

    async fn run(&self, ctx: &ConnectorContext, full: bool) -> CheckResult {
        let check = Check::start(&self.api.http, ctx);
        let config = match Self::config(&check) {
            Ok(c) => c,
            Err(r) => return r,
        };
        if !full {
            return match self.repository(&check, &config.repo).await {
                Ok(repo) => check
                    .passed(format!(
                        "{} readable",
                        repo["full_name"].as_str().unwrap_or_default()
                    ))
                    .with_detail(detail::PROJECT, config.repo.path()),
                Err(r) => r.with_detail(detail::PROJECT, config.repo.path()),
            };
        }
        let mut learnt = Learnt {
            repository: config.repo.path(),
            ..Learnt::default()
        };
        match self.test_steps(&check, &config, &mut learnt).await {
            Ok(r) | Err(r) => learnt.annotate(r),
        }
    }
}

#[async_trait]
impl IntegrationConnector for GiteaConnector {
    fn provider(&self) -> Provider {
        Provider::Gitea
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new([
            Capability::TestConnection,
            Capability::HealthCheck,
            Capability::WebhookTest,
            Capability::WebhookSecret,
        ])
    }

    async fn validate_config(&self, configuration: &Configuration) -> Result<()> {
        GiteaConfig::parse(configuration)
            .map(|_| ())
            .map_err(Error::from)
    }

    #[instrument(skip_all, fields(integration_id = %ctx.integration.id, tenant_id = %ctx.integration.tenant_id, provider = "gitea", action = "test_connection"))]
    async fn test_connection(&self, ctx: &ConnectorContext) -> CheckResult {
        self.run(ctx, true).await
    }

    #[instrument(skip_all, fields(integration_id = %ctx.integration.id, tenant_id = %ctx.integration.tenant_id, provider = "gitea", action = "check_health"))]
    async fn check_health(&self, ctx: &ConnectorContext) -> CheckResult {
        self.run(ctx, false).await
    }

    /// Gitea's remedies, under the doctor's generic codes so they replace its advice:
    /// `unauthenticated` and `missing_scope` (a new token with the scopes, or repository
    /// administration, which hooks need), `not_found` (the repository, or the hook, with the
    /// list call), `tool_unhealthy` (`[security] DISABLE_WEBHOOKS`); on a passed test,
    /// `identity_scope_missing` (no `read:user`).
    fn findings(&self, integration: &Integration, result: &CheckResult) -> Vec<Finding> {
        super::findings::for_connection(integration, result)
    }

    /// For the hook test round trip: `webhook_missing_scope` (`write:repository`, repository
    /// administration), `webhook_not_found` (with the hook to create), `webhook_unsupported`
    /// (an empty repository: push a commit, or check with a real event),
    /// `webhook_tool_unhealthy` (the hook's problems, with one `PATCH` clearing them; or
    /// `DISABLE_WEBHOOKS`), `delivery_not_received` (how the hook's Recent Deliveries tell a
    /// wrong secret, the allow list and a timeout apart), `webhook_host_not_allowed` (a
    /// loopback or private receiver: `[webhook] ALLOWED_HOST_LIST`),
    /// `webhook_token_mismatch`.
    fn delivery_findings(&self, integration: &Integration, result: &CheckResult) -> Vec<Finding> {
        super::findings::for_delivery(integration, result)
    }

    async fn expected_delivery(
        &self,
        integration: &Integration,
        request: &DeliveryRequest,
    ) -> Option<(DeliveryKind, Expectation)> {
        match request {
            DeliveryRequest::WebhookTest { .. } => self.expectation(integration),
            _ => None,
        }
    }

    #[instrument(skip_all, fields(integration_id = %ctx.integration.id, tenant_id = %ctx.integration.tenant_id, provider = "gitea", action = "trigger_delivery"))]
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
                format!("{} is not supported by gitea", other.capability().as_str()),
            ),
        }
    }
}

/// The hook's test endpoint sends a push and nothing else.
pub(super) const PUSH_TRIGGER: &str = "push_events";

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> std::result::Result<GiteaConfig, ValidationError> {
        GiteaConfig::parse(&Configuration::new(v).unwrap())
    }

    #[test]
    fn configuration_keys_are_closed_and_named() {
        let c = parse(json!({
            "owner": "acme", "repo": "platform", "hook_id": "7",
            "webhook_secret_ref": ["ref://acme/gitea/hook", "ref://acme/gitea/hook-old"],
        }))
        .unwrap();
        assert_eq!(c.repo.path(), "acme/platform");
        assert_eq!(c.hook_id, Some(7));
        assert_eq!(c.webhook_secret_refs.len(), 2);
        let c = parse(json!({"owner": "acme", "repo": "platform", "hook_id": 3})).unwrap();
        assert_eq!((c.hook_id, c.webhook_secret_refs.len()), (Some(3), 0));
        let field = |v: Value| parse(v).unwrap_err().field;
        assert_eq!(field(json!({"repo": "a"})), "owner");
        assert_eq!(
            field(json!({"owner": "a", "repo": "b", "hook_id": 0})),
            "hook_id"
        );
        assert_eq!(
            field(json!({"owner": "a", "repo": "b", "hook_id": -1})),
            "hook_id"
        );
        assert_eq!(
            field(json!({"owner": "a", "repo": "b", "hook_id": "7a"})),
            "hook_id"
        );
        assert_eq!(
            field(json!({"owner": "a", "repo": "b", "hook_id": 1.5})),
            "hook_id"
        );
        assert_eq!(
            field(json!({"owner": "a", "repo": "b", "webhook_secret_ref": "not a ref"})),
            "webhook_secret_ref"
        );
        assert_eq!(
            field(json!({"owner": "a", "repo": "b", "webhook_secret_ref": []})),
            "webhook_secret_ref"
        );
        assert_eq!(
            field(json!({"owner": "a", "repo": "b", "webhook_secret_ref": [3]})),
            "webhook_secret_ref"
        );
        let err = parse(json!({"owner": "a", "repo": "b", "webhook_trigger": "push_events"}))
            .unwrap_err();
        assert!(err.to_string().contains("`webhook_trigger`"), "{err}");
    }
}
