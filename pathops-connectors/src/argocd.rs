//! The Argo CD connector: an account API token (or a session JWT) as `Authorization: Bearer`.
//! The vendor behaviour it relies on is listed below, call by call, as Argo CD's API server
//! source documents it.
//!
//! | operation | calls |
//! |---|---|
//! | [`test_connection`](pathops_core::IntegrationConnector::test_connection) | `GET /healthz` (liveness, body `ok`), `GET /api/version`, `GET /api/v1/session/userinfo`, then one RBAC-protected call: `GET /api/v1/projects/{project}` when `project` is configured, else `GET /api/v1/applications?fields=items.metadata.name` |
//! | [`check_health`](pathops_core::IntegrationConnector::check_health) | `GET /healthz`, `GET /api/version`, `GET /api/v1/session/userinfo` |
//!
//! What each answer means:
//!
//! - **`/api/version`** answers without authentication. An anonymous caller, or one whose
//!   token was not accepted, gets only `Version`; a logged-in caller also gets `BuildDate`,
//!   `GitCommit`, `GoVersion`, … — unless authentication is disabled server-wide, when every
//!   caller gets the full answer. The `version_answer` detail says which (`full` or
//!   `anonymous`).
//! - **`/api/v1/session/userinfo` always answers 200**: authentication errors are swallowed and
//!   a bad or expired token yields `{"loggedIn": false}`. So `loggedIn: false` is
//!   [`FailureCode::Unauthenticated`] although the status is 200 — except when `/api/version`
//!   gave the full answer to that same unaccepted token, which only happens with
//!   authentication disabled: the check then goes on, and a passed result carries
//!   `auth_disabled: true` and the warning finding `argocd_auth_disabled`. (What userinfo
//!   answers with authentication disabled is assumed, not confirmed by a server.)
//! - **The RBAC call** tells a refused token from a denied one: **401** is
//!   [`FailureCode::Unauthenticated`], **403** is [`FailureCode::PermissionDenied`] naming the
//!   RBAC resource, action and object that were denied (`applications, get, */*` or
//!   `projects, get, <project>`). These two codes are Argo CD's gRPC `Unauthenticated` and
//!   `PermissionDenied` as grpc-gateway maps them; **they are unverified against a real
//!   server**. Argo CD may also filter a list by RBAC instead of refusing it: a list with no
//!   application passes, with the informational finding `argocd_no_applications_visible`.
//!   A configured project that does not exist is a 404 ([`FailureCode::NotFound`]).
//! - 429, 5xx and the rest as [`status::default_failure`]; error bodies are grpc-gateway's
//!   `{"error", "code", "message"}` and their `message` is quoted.
//!
//! Details of a passed test: `version`, `version_answer`, `username`, `issuer`, `groups`
//! (when there are any), `rbac` (`call`, and `applications`, the number visible, or `project`).
//!
//! Configuration: `project` (optional: an Argo CD project whose read permission proves the
//! token's RBAC), `account` (optional: the local account the token belongs to, used only in
//! the suggested fixes). Plus the HTTP settings of
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

/// Argo CD's documentation of `argocd account generate-token`.
pub const TOKEN_DOC: &str =
    "https://argo-cd.readthedocs.io/en/stable/user-guide/commands/argocd_account_generate-token/";
/// Argo CD's RBAC documentation.
pub const RBAC_DOC: &str = "https://argo-cd.readthedocs.io/en/stable/operator-manual/rbac/";
/// Argo CD's documentation of the server's parameters (`server.disable.auth`).
pub const PARAMS_DOC: &str =
    "https://argo-cd.readthedocs.io/en/stable/operator-manual/argocd-cmd-params-cm-yaml/";

/// The configuration of an Argo CD integration:
///
/// | key | value |
/// |---|---|
/// | `project` | an Argo CD project the token must be allowed to read (optional) |
/// | `account` | the local account the token belongs to, for the suggested fixes (optional) |
///
/// plus the HTTP settings of [`IntegrationHttp`]; any other key is refused by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArgoCdConfig {
    /// The project, if any.
    pub project: Option<String>,
    /// The account, if any.
    pub account: Option<String>,
}

impl ArgoCdConfig {
    /// Every key an Argo CD configuration may have.
    pub const KEYS: [&'static str; 4] = [
        "project",
        "account",
        IntegrationHttp::PROXY_KEY,
        IntegrationHttp::CA_KEY,
    ];

    /// Reads and validates the configuration; errors name the key.
    pub fn parse(configuration: &Configuration) -> std::result::Result<Self, ValidationError> {
        IntegrationHttp::from_configuration(configuration)?;
        crate::check::refuse_unknown_keys(configuration, &Self::KEYS)?;
        Ok(Self {
            project: name(configuration, "project")?,
            account: name(configuration, "account")?,
        })
    }
}

/// An optional Kubernetes-style name: letters, digits, `-`, `.`, `_`, at most 253 characters.
fn name(
    configuration: &Configuration,
    key: &'static str,
) -> std::result::Result<Option<String>, ValidationError> {
    match configuration.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Err(ValidationError::new(key, Problem::Empty)),
        Some(Value::String(s)) if s.len() > 253 => {
            Err(ValidationError::new(key, Problem::TooLong { max: 253 }))
        }
        Some(Value::String(s)) => match s
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))
        {
            Some((index, _)) => Err(ValidationError::new(
                key,
                Problem::InvalidCharacter { index },
            )),
            None => Ok(Some(s.clone())),
        },
        Some(_) => Err(ValidationError::new(key, Problem::UnknownValue)),
    }
}

/// Argo CD's classifier, [`status::default_failure`] (grpc-gateway maps `Unauthenticated` to
/// 401 and `PermissionDenied` to 403). Callers that know what a 403 denied name it.
pub fn classify(response: &HttpResponse, now: OffsetDateTime) -> Option<FailureCode> {
    status::default_failure(response.status, &response.headers, now)
}

/// The fields of `/api/v1/session/userinfo` the connector reads.
#[derive(Debug, Deserialize)]
struct UserInfo {
    #[serde(rename = "loggedIn")]
    logged_in: bool,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    groups: Option<Vec<String>>,
}

/// The Argo CD connector; see the [module docs](self).
#[derive(Debug)]
pub struct ArgoCdConnector {
    http: HttpClient,
    clock: Arc<dyn Clock>,
}

/// Builds an [`ArgoCdConnector`]; setters never fail, [`build`](Self::build) validates.
#[derive(Debug, Default)]
pub struct ArgoCdConnectorBuilder {
    policy: HttpPolicy,
    clock: Option<Arc<dyn Clock>>,
}

impl ArgoCdConnectorBuilder {
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
    pub fn build(self) -> Result<ArgoCdConnector> {
        Ok(ArgoCdConnector {
            http: HttpClient::new(self.policy)?,
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
        })
    }
}

/// What `/api/version` said.
struct Version {
    version: Option<String>,
    /// The logged-in (or authentication-disabled) answer.
    full: bool,
}

impl ArgoCdConnector {
    /// A builder with the default policy.
    pub fn builder() -> ArgoCdConnectorBuilder {
        ArgoCdConnectorBuilder::default()
    }

    fn request(ctx: &ConnectorContext, path: &str) -> HttpRequest {
        let request = HttpRequest::get(ctx.integration.base_url.join(path));
        match &ctx.secret {
            Some(token) => request.credential("authorization", "Bearer ", token),
            None => request,
        }
    }

    fn failed(&self, check: &Check<'_>, what: &str, response: &HttpResponse) -> CheckResult {
        let code = classify(response, self.clock.now()).unwrap_or(FailureCode::InvalidResponse);
        check.failed(code, http_failure_message(what, response))
    }

    fn not_argo(check: &Check<'_>, what: &str) -> CheckResult {
        check.failed(
            FailureCode::InvalidResponse,
            format!("{what}: not Argo CD's answer"),
        )
    }

    /// `GET /healthz`: 200 `ok`.
    async fn healthz(&self, check: &Check<'_>) -> std::result::Result<(), CheckResult> {
        const WHAT: &str = "GET /healthz";
        let response = check
            .send(HttpRequest::get(
                check.ctx.integration.base_url.join("healthz"),
            ))
            .await?;
        if !response.status.is_success() {
            return Err(self.failed(check, WHAT, &response));
        }
        if String::from_utf8_lossy(&response.body).trim() != "ok" {
            return Err(Self::not_argo(check, WHAT));
        }
        Ok(())
    }

    /// `GET /api/version` with the token: the version and whether the answer was the full one.
    async fn version(&self, check: &Check<'_>) -> std::result::Result<Version, CheckResult> {
        const WHAT: &str = "GET /api/version";
        let response = check.send(Self::request(check.ctx, "api/version")).await?;
        if !response.status.is_success() {
            return Err(self.failed(check, WHAT, &response));
        }
        let body: Value = response.json().map_err(|_| Self::not_argo(check, WHAT))?;
        let Some(object) = body.as_object() else {
            return Err(Self::not_argo(check, WHAT));
        };
        let full = ["BuildDate", "GitCommit", "GoVersion"]
            .iter()
            .any(|k| object.contains_key(*k));
        Ok(Version {
            version: object
                .get("Version")
                .and_then(Value::as_str)
                .map(|v| v.chars().take(64).collect()),
            full,
        })
    }

    /// `GET /api/v1/session/userinfo` with the token (always 200 on Argo CD).
    async fn userinfo(&self, check: &Check<'_>) -> std::result::Result<UserInfo, CheckResult> {
        const WHAT: &str = "GET /api/v1/session/userinfo";
        let response = check
            .send(Self::request(check.ctx, "api/v1/session/userinfo"))
            .await?;
        if !response.status.is_success() {
            return Err(self.failed(check, WHAT, &response));
        }
        response.json().map_err(|_| Self::not_argo(check, WHAT))
    }

    /// The RBAC-protected call: `rbac` detail, or the failed result.
    async fn rbac(
        &self,
        check: &Check<'_>,
        config: &ArgoCdConfig,
    ) -> std::result::Result<Value, CheckResult> {
        let (path, what, denied) = match &config.project {
            Some(project) => (
                format!("api/v1/projects/{project}"),
                format!("GET /api/v1/projects/{project}"),
                format!("projects, get, {project}"),
            ),
            None => (
                "api/v1/applications?fields=items.metadata.name".to_owned(),
                "GET /api/v1/applications".to_owned(),
                "applications, get, */*".to_owned(),
            ),
        };
        let response = check.send(Self::request(check.ctx, &path)).await?;
        // 401 and 403 are Argo CD's gRPC Unauthenticated and PermissionDenied through
        // grpc-gateway; unverified against a real server.
        match response.status.as_u16() {
            200..=299 => {}
            401 => {
                return Err(check.failed(
                    FailureCode::Unauthenticated,
                    format!(
                        "{}: the token was refused",
                        http_failure_message(&what, &response)
                    ),
                ));
            }
            403 => {
                return Err(check.failed(
                    FailureCode::PermissionDenied {
                        missing_scope: Some(denied.clone()),
                    },
                    format!(
                        "{}: the token's RBAC role may not {denied}",
                        http_failure_message(&what, &response)
                    ),
                ));
            }
            404 if config.project.is_some() => {
                return Err(check.failed(
                    FailureCode::NotFound,
                    format!(
                        "{}: the project does not exist",
                        http_failure_message(&what, &response)
                    ),
                ));
            }
            _ => return Err(self.failed(check, &what, &response)),
        }
        let body: Value = response.json().map_err(|_| Self::not_argo(check, &what))?;
        match &config.project {
            Some(project) => {
                if body["metadata"]["name"].as_str() != Some(project.as_str()) {
                    return Err(Self::not_argo(check, &what));
                }
                Ok(json!({"call": what, "project": project}))
            }
            None => {
                // Argo CD writes an empty list as `"items": null`.
                let applications = match &body["items"] {
                    Value::Null if body.get("metadata").is_some() => 0,
                    Value::Array(items) => items.len(),
                    _ => return Err(Self::not_argo(check, &what)),
                };
                Ok(json!({"call": what, "applications": applications}))
            }
        }
    }

    async fn steps(
        &self,
        check: &Check<'_>,
        full: bool,
    ) -> std::result::Result<CheckResult, CheckResult> {
        let config = ArgoCdConfig::parse(&check.ctx.integration.configuration)
            .map_err(|e| check.failed(FailureCode::InvalidConfig, e.to_string()))?;
        self.healthz(check).await?;
        let version = self.version(check).await?;
        let named = |r: CheckResult| match &version.version {
            Some(v) => r.with_detail("version", v.as_str()),
            None => r,
        };
        let user = self.userinfo(check).await.map_err(named)?;
        let auth_disabled = !user.logged_in && version.full;
        if !user.logged_in && !auth_disabled {
            let why = if check.ctx.secret.is_none() {
                "no token configured"
            } else {
                "the token was not accepted (wrong, expired or revoked, or its account was \
                 disabled)"
            };
            return Err(named(check.failed(
                FailureCode::Unauthenticated,
                format!("GET /api/v1/session/userinfo answered 200 with loggedIn: false: {why}"),
            )));
        }
        let mut rbac = Value::Null;
        if full {
            rbac = self.rbac(check, &config).await.map_err(named)?;
        }
        let argo = match &version.version {
            Some(v) => format!("Argo CD {v}"),
            None => "Argo CD".to_owned(),
        };
        let username = user.username.clone().filter(|u| !u.is_empty());
        let mut message = match (&username, auth_disabled) {
            (_, true) => format!("{argo}: authentication is disabled on the server"),
            (Some(u), false) => format!("{argo}: logged in as {u}"),
            (None, false) => format!("{argo}: logged in"),
        };
        match (rbac["applications"].as_u64(), rbac["project"].as_str()) {
            (Some(n), _) => message += &format!("; {n} applications visible"),
            (None, Some(p)) => message += &format!("; project {p} readable"),
            _ => {}
        }
        let mut result = named(check.passed(message))
            .with_detail(
                "version_answer",
                if version.full { "full" } else { "anonymous" },
            )
            .with_detail("username", username)
            .with_detail("issuer", user.iss);
        if let Some(groups) = user.groups.filter(|g| !g.is_empty()) {
            result = result.with_detail("groups", groups.into_iter().take(100).collect::<Vec<_>>());
        }
        if auth_disabled {
            result = result.with_detail("auth_disabled", true);
        }
        if full {
            result = result.with_detail("rbac", rbac);
        }
        Ok(result)
    }
}

/// The provider-specific findings of an Argo CD check; see
/// [`IntegrationConnector::findings`].
fn findings(integration: &Integration, result: &CheckResult) -> Vec<Finding> {
    let config = ArgoCdConfig::parse(&integration.configuration).unwrap_or_default();
    let account = config.account.as_deref().unwrap_or("<account>");
    let store = match &integration.auth_ref {
        Some(r) => format!("Store the new token in the secret backend behind {r}."),
        None => {
            "Store the new token in the secret backend and set the integration's auth ref to it."
                .to_owned()
        }
    };
    let rbac_steps = |grant: &str| {
        [
            format!(
                "Add to policy.csv in the argocd-rbac-cm ConfigMap: `p, role:pathops, {grant}, \
                 allow` and `g, {account}, role:pathops`."
            ),
            "Argo CD reloads the RBAC ConfigMap on its own; run the doctor again.".to_owned(),
        ]
    };
    let mut out = Vec::new();
    match &result.failure {
        Some(FailureCode::Unauthenticated) => out.push(
            Finding::new(
                Severity::Error,
                "unauthenticated",
                "Argo CD did not accept the token",
                result.message.clone(),
            )
            .with_steps([
                format!(
                    "Generate a token for the account PathOps uses: argocd account generate-token \
                     --account {account} (add --expires-in to make it expire)."
                ),
                format!(
                    "The account needs the apiKey capability: `accounts.{account}: apiKey` in the \
                     argocd-cm ConfigMap, and must be enabled."
                ),
                store,
                "Run the doctor again.".to_owned(),
            ])
            .with_api_call(format!("argocd account generate-token --account {account}"))
            .with_doc_link(TOKEN_DOC),
        ),
        Some(FailureCode::PermissionDenied { missing_scope }) => {
            let denied = missing_scope
                .clone()
                .unwrap_or_else(|| "applications, get, */*".to_owned());
            out.push(
                Finding::new(
                    Severity::Error,
                    "missing_scope",
                    format!("Argo CD's RBAC denies {account}: {denied}"),
                    result.message.clone(),
                )
                .with_steps(rbac_steps(&denied))
                .with_api_call("kubectl -n argocd edit configmap argocd-rbac-cm")
                .with_doc_link(RBAC_DOC),
            );
        }
        Some(FailureCode::NotFound) if config.project.is_some() => out.push(
            Finding::new(
                Severity::Error,
                "not_found",
                format!(
                    "The Argo CD project {} does not exist",
                    config.project.as_deref().unwrap_or_default()
                ),
                result.message.clone(),
            )
            .with_steps([
                "Check the integration's project: it is the AppProject's name (argocd proj list).",
            ])
            .with_api_call("argocd proj list"),
        ),
        _ => {}
    }
    if result.is_success() && result.details.get("auth_disabled") == Some(&Value::Bool(true)) {
        out.push(
            Finding::new(
                Severity::Warning,
                "argocd_auth_disabled",
                "Argo CD has authentication disabled",
                "GET /api/version gave its logged-in answer to a token userinfo did not accept: \
                 the API server accepts every caller, so the token proves nothing.",
            )
            .with_steps([
                "Remove server.disable.auth from the argocd-cmd-params-cm ConfigMap (or the \
                 --disable-auth flag of argocd-server) and restart argocd-server.",
                "Then run the doctor again: the token must be accepted on its own.",
            ])
            .with_doc_link(PARAMS_DOC),
        );
    }
    let sees_none = result
        .details
        .get("rbac")
        .and_then(|r| r.get("applications"))
        .and_then(Value::as_u64)
        == Some(0);
    if result.is_success() && sees_none {
        out.push(
            Finding::new(
                Severity::Info,
                "argocd_no_applications_visible",
                "The token sees no Argo CD applications",
                "GET /api/v1/applications passed with an empty list: Argo CD filters the list \
                 by RBAC, so either there are no applications or the token's role may read none.",
            )
            .with_steps(rbac_steps("applications, get, */*"))
            .with_doc_link(RBAC_DOC),
        );
    }
    out
}

#[async_trait]
impl IntegrationConnector for ArgoCdConnector {
    fn provider(&self) -> Provider {
        Provider::ArgoCd
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new([Capability::TestConnection, Capability::HealthCheck])
    }

    async fn validate_config(&self, configuration: &Configuration) -> Result<()> {
        ArgoCdConfig::parse(configuration)
            .map(|_| ())
            .map_err(Error::from)
    }

    #[instrument(skip_all, fields(integration_id = %ctx.integration.id, tenant_id = %ctx.integration.tenant_id, provider = "argocd", action = "test_connection"))]
    async fn test_connection(&self, ctx: &ConnectorContext) -> CheckResult {
        let check = Check::start(&self.http, ctx);
        match self.steps(&check, true).await {
            Ok(r) | Err(r) => r,
        }
    }

    #[instrument(skip_all, fields(integration_id = %ctx.integration.id, tenant_id = %ctx.integration.tenant_id, provider = "argocd", action = "check_health"))]
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
