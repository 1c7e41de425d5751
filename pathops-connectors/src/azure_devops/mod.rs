//! Azure DevOps (Services and Server): the [connector](AzureDevOpsConnector) proving that a
//! personal access token (or an Entra token) reaches a project, its Git repository and a
//! service hook subscription, and driving the doctor's round trip through the service hooks
//! **test notification**.
//!
//! | operation | calls |
//! |---|---|
//! | [`test_connection`](pathops_core::IntegrationConnector::test_connection) | `GET {root}/_apis/connectionData` (identity: `authenticatedUser`, `deploymentType`), `GET {root}/_apis/projects/{project}` or, with a `repository`, `GET {root}/{project}/_apis/git/repositories/{repository}` (scope `vso.project` / `vso.code`); with a `subscription_id`: `GET {root}/_apis/hooks/subscriptions/{id}` (scope `vso.hooks`) |
//! | [`check_health`](pathops_core::IntegrationConnector::check_health) | the project or repository call |
//! | [`expected_delivery`](pathops_core::IntegrationConnector::expected_delivery) | none: an Azure DevOps delivery (`/webhooks/azure-devops`) whose payload names the subscription (`subscriptionId`); its `notificationId` is the report's evidence |
//! | [`trigger_delivery`](pathops_core::IntegrationConnector::trigger_delivery) | `GET …/hooks/subscriptions/{id}` (a disabled or misconfigured subscription is reported before testing), `POST {root}/_apis/hooks/testnotifications` with the subscription (scope `vso.hooks_write`), then `GET …/testnotifications/{id}` until the notification completes (bounded by the check's deadline) |
//!
//! Every REST call but `connectionData` carries `api-version` (`7.1` unless configured).
//! Authentication: a PAT as `Authorization: Basic base64(":" + PAT)` (any user name; none is
//! sent), or with `auth: bearer` an Entra access token as `Bearer`.
//!
//! | answer | result |
//! |---|---|
//! | 203, or any answer that is not JSON where JSON is expected (the HTML sign-in page) | `unauthenticated`: Azure DevOps Services answers a refused PAT this way |
//! | 401 with `TF400813` / `UnauthorizedRequestException` JSON | `permission_denied`, naming the scope the call needs: the PAT authenticated but lacks it |
//! | 401 otherwise | `unauthenticated` (expired, revoked, or deactivated after 90 unused days in Entra-backed organizations) |
//! | 403 | `permission_denied` |
//! | 404 (`TF200016` project, `TF401019` repository) | `not_found` |
//! | 400 | `invalid_config` (an unsupported `api-version`) |
//! | 429 (`TF400733`) | `rate_limited`, reset from `Retry-After` or `X-RateLimit-Reset`; `X-RateLimit-Remaining` kept |
//! | 5xx | `server_error` |
//!
//! A completed test notification's `result` is read as: `succeeded` → passed; `failed` with
//! the receiver's 401 or 403 in `details.errorMessage` (`The remote server returned an error:
//! (401) Unauthorized.`) → `delivery_rejected` (the subscription's Basic credentials do not
//! verify); 409 → `delivery_not_received` (a replay); any other failure → `delivery_failed`,
//! cause `receiver_unreachable`; `filtered` → `unhealthy` (the subscription's filters drop the
//! test event). Still queued at the deadline: the trigger passes and the doctor waits for the
//! delivery itself.
//!
//! **Verification** of a delivery: the subscription's *Basic authentication* user name and
//! password (the password is the secret behind `webhook_secret_ref`); see
//! [`verify_azure_devops_basic`](pathops_core::webhook::verify_azure_devops_basic) for why
//! not a custom header.
//!
//! **Assumed** (the reference marks these unverified or does not cover them): `connectionData`
//! (undocumented, used by Microsoft's tooling) and its anonymous identity (`providerDisplayName`
//! `Anonymous` or no `id`); the 203 sign-in page; the `TF400813` body of a missing scope; that
//! a test notification sent with the `subscriptionId` and the subscription as read (its
//! password masked as `********`) is delivered with the stored password; that the test event's
//! payload carries the `subscriptionId`; the `details.errorMessage` wording; that a
//! subscription's `basicAuthPassword` reads as `********` when set and is absent when not.
//!
//! Configuration: [`AzureDevOpsConfig`].

mod findings;

use std::sync::Arc;
use std::time::Duration;

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
use time::OffsetDateTime;
use tracing::instrument;

use crate::check::{Check, refuse_unknown_keys};
use crate::http::{HttpClient, HttpPolicy, HttpRequest, HttpResponse, path_segment, status};

type Step<T> = std::result::Result<T, CheckResult>;

/// How the secret is presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AzureAuth {
    /// A personal access token, as Basic with an empty user name.
    Pat,
    /// An Entra access token (resource `499b84ac-1321-427f-aa17-267ca6975798`), as Bearer.
    Bearer,
}

/// The settings an Azure DevOps integration carries in its configuration:
///
/// | key | value |
/// |---|---|
/// | `project` | required: the project's name or id |
/// | `repository` | a Git repository of the project (name or id) whose access the test proves |
/// | `subscription_id` | the service hook subscription (Web Hooks) the doctor tests, a UUID |
/// | `auth` | `pat` (default) or `bearer` |
/// | `api_version` | the REST `api-version` (default `7.1`; `7.0`, `7.1-preview.1`, … for older servers) |
/// | `webhook_secret_ref` | the auth ref (or a list, during a rotation) of the subscription's Basic authentication password, read by the doctor |
///
/// plus the HTTP settings of [`IntegrationHttp`](crate::http::IntegrationHttp). Any other key
/// is refused, naming it. The base URL is the organization (`https://dev.azure.com/acme`) or,
/// for Azure DevOps Server, the collection (`https://tfs.acme.example/tfs/DefaultCollection`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureDevOpsConfig {
    /// The project.
    pub project: String,
    /// The repository, if any.
    pub repository: Option<String>,
    /// The subscription, if any (lower case).
    pub subscription_id: Option<String>,
    /// How the secret is presented.
    pub auth: AzureAuth,
    /// The `api-version`.
    pub api_version: String,
    /// The secret's references.
    pub webhook_secret_refs: Vec<AuthRef>,
}

impl AzureDevOpsConfig {
    /// The keys this configuration may have, besides the HTTP settings.
    pub const KEYS: [&'static str; 6] = [
        "project",
        "repository",
        "subscription_id",
        "auth",
        "api_version",
        "webhook_secret_ref",
    ];

    /// Reads and validates the configuration; errors name the key.
    pub fn parse(configuration: &Configuration) -> std::result::Result<Self, ValidationError> {
        crate::http::IntegrationHttp::from_configuration(configuration)?;
        refuse_unknown_keys(configuration, &Self::KEYS)?;
        let text = |key: &'static str| -> std::result::Result<Option<String>, ValidationError> {
            match configuration.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.trim().is_empty() => {
                    Err(ValidationError::new(key, Problem::Empty))
                }
                Some(Value::String(s)) if s.chars().count() > 256 => {
                    Err(ValidationError::new(key, Problem::TooLong { max: 256 }))
                }
                Some(Value::String(s)) => match s.char_indices().find(|(_, c)| c.is_control()) {
                    Some((index, _)) => Err(ValidationError::new(
                        key,
                        Problem::InvalidCharacter { index },
                    )),
                    None => Ok(Some(s.clone())),
                },
                Some(_) => Err(ValidationError::new(key, Problem::UnknownValue)),
            }
        };
        let project = text("project")?.ok_or(ValidationError::new("project", Problem::Empty))?;
        let repository = text("repository")?;
        let subscription_id = match text("subscription_id")? {
            None => None,
            Some(s) => Some(
                uuid::Uuid::parse_str(&s)
                    .map_err(|_| ValidationError::new("subscription_id", Problem::NotUuid))?
                    .to_string(),
            ),
        };
        let auth = match text("auth")?.as_deref() {
            None | Some("pat") => AzureAuth::Pat,
            Some("bearer") => AzureAuth::Bearer,
            Some(_) => return Err(ValidationError::new("auth", Problem::UnknownValue)),
        };
        let api_version = text("api_version")?.unwrap_or_else(|| "7.1".to_owned());
        let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let (number, preview) = match api_version.split_once("-preview") {
            Some((n, p)) => (n, Some(p)),
            None => (api_version.as_str(), None),
        };
        let valid = number
            .split_once('.')
            .is_some_and(|(a, b)| numeric(a) && numeric(b))
            && preview.is_none_or(|p| p.is_empty() || p.strip_prefix('.').is_some_and(numeric));
        if !valid {
            return Err(ValidationError::new("api_version", Problem::UnknownValue));
        }
        Ok(Self {
            project,
            repository,
            subscription_id,
            auth,
            api_version,
            webhook_secret_refs: secret_refs(configuration)?,
        })
    }
}

fn secret_refs(
    configuration: &Configuration,
) -> std::result::Result<Vec<AuthRef>, ValidationError> {
    let refs = |problem| ValidationError::new("webhook_secret_ref", problem);
    match configuration.get("webhook_secret_ref") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) if items.is_empty() => Err(refs(Problem::Empty)),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => AuthRef::parse(s).map_err(|e| refs(Problem::InvalidAuthRef(e))),
                _ => Err(refs(Problem::NotAnAuthRef)),
            })
            .collect(),
        Some(Value::String(s)) => Ok(vec![
            AuthRef::parse(s).map_err(|e| refs(Problem::InvalidAuthRef(e)))?,
        ]),
        Some(_) => Err(refs(Problem::NotAnAuthRef)),
    }
}

/// Whether an answer is Azure DevOps's refusal of a PAT that it serves as a sign-in page: a
/// 203, or a 2xx that is not JSON.
pub fn is_sign_in_page(response: &HttpResponse) -> bool {
    let status = response.status.as_u16();
    let json = response
        .header("content-type")
        .is_some_and(|c| c.to_ascii_lowercase().contains("json"));
    status == 203 || ((200..300).contains(&status) && !json)
}

/// Azure DevOps's classifier: `None` for a JSON 2xx; the sign-in page ([`is_sign_in_page`])
/// and a plain 401 unauthenticated; a 401 with `TF400813` / `UnauthorizedRequestException`
/// permission denied; 429 rate limited (`Retry-After`, else `X-RateLimit-Reset`); the rest as
/// [`status::default_failure`].
pub fn classify(response: &HttpResponse, now: OffsetDateTime) -> Option<FailureCode> {
    if is_sign_in_page(response) {
        return Some(FailureCode::Unauthenticated);
    }
    match response.status.as_u16() {
        401 => {
            let body: Value = response.json().unwrap_or_default();
            let message = body["message"].as_str().unwrap_or_default();
            if message.starts_with("TF400813") || body["typeKey"] == "UnauthorizedRequestException"
            {
                Some(FailureCode::PermissionDenied {
                    missing_scope: None,
                })
            } else {
                Some(FailureCode::Unauthenticated)
            }
        }
        429 => Some(FailureCode::RateLimited {
            reset_at: status::retry_after(&response.headers, now)
                .or_else(|| status::epoch_header(&response.headers, "x-ratelimit-reset")),
        }),
        _ => status::default_failure(response.status, &response.headers, now),
    }
}

fn failure_message(what: &str, response: &HttpResponse) -> String {
    if is_sign_in_page(response) {
        return format!(
            "{what} answered {} with a sign-in page instead of JSON: Azure DevOps refused the token",
            response.status.as_u16()
        );
    }
    crate::check::http_failure_message(what, response)
}

/// A subscription as `GET …/hooks/subscriptions/{id}` shows it, without its inputs' values
/// except the URL (stripped of credentials).
#[derive(Debug, Clone, PartialEq, Eq)]
struct SubscriptionView {
    id: String,
    status: String,
    event_type: String,
    consumer: String,
    url: String,
    basic_auth: bool,
}

impl SubscriptionView {
    fn from_json(s: &Value) -> Option<Self> {
        let inputs = &s["consumerInputs"];
        Some(Self {
            id: s["id"].as_str()?.to_ascii_lowercase(),
            status: s["status"].as_str()?.to_owned(),
            event_type: s["eventType"].as_str().unwrap_or_default().to_owned(),
            consumer: format!(
                "{}/{}",
                s["consumerId"].as_str().unwrap_or_default(),
                s["consumerActionId"].as_str().unwrap_or_default()
            ),
            url: inputs["url"]
                .as_str()
                .map(without_credentials)
                .unwrap_or_default(),
            basic_auth: inputs["basicAuthUsername"]
                .as_str()
                .is_some_and(|u| !u.is_empty())
                && inputs["basicAuthPassword"]
                    .as_str()
                    .is_some_and(|p| !p.is_empty()),
        })
    }

    fn problems(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.status != "enabled" {
            out.push("not_enabled");
        }
        if self.consumer != "webHooks/httpRequest" {
            out.push("not_web_hooks");
        }
        if !self.basic_auth {
            out.push("no_basic_auth");
        }
        out
    }

    fn to_detail(&self) -> Value {
        json!({"id": self.id, "status": self.status, "event_type": self.event_type,
               "consumer": self.consumer, "url": self.url, "basic_auth": self.basic_auth,
               "problems": self.problems()})
    }
}

fn without_credentials(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => "(not a URL)".to_owned(),
    }
}

/// The Azure DevOps connector; see the [module docs](self).
#[derive(Debug)]
pub struct AzureDevOpsConnector {
    http: HttpClient,
    clock: Arc<dyn Clock>,
    poll_interval: Duration,
}

/// Builds an [`AzureDevOpsConnector`]; setters never fail, [`build`](Self::build) validates.
#[derive(Debug, Default)]
pub struct AzureDevOpsConnectorBuilder {
    policy: HttpPolicy,
    clock: Option<Arc<dyn Clock>>,
    poll_interval: Option<Duration>,
}

impl AzureDevOpsConnectorBuilder {
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

    /// How often a test notification's state is read while it is queued (default 250 ms).
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = Some(interval);
        self
    }

    /// The connector; [`Error::InvalidConfig`] when the HTTP policy is unusable.
    pub fn build(self) -> Result<AzureDevOpsConnector> {
        Ok(AzureDevOpsConnector {
            http: HttpClient::new(self.policy)?,
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            poll_interval: self.poll_interval.unwrap_or(Duration::from_millis(250)),
        })
    }
}

/// The longest a trigger waits for a test notification to complete.
const NOTIFICATION_WAIT: Duration = Duration::from_secs(15);

impl AzureDevOpsConnector {
    /// A builder with the default policy.
    pub fn builder() -> AzureDevOpsConnectorBuilder {
        AzureDevOpsConnectorBuilder::default()
    }

    fn config(check: &Check<'_>) -> Step<AzureDevOpsConfig> {
        AzureDevOpsConfig::parse(&check.ctx.integration.configuration)
            .map_err(|e| check.failed(FailureCode::InvalidConfig, e.to_string()))
    }

    fn url(check: &Check<'_>, config: &AzureDevOpsConfig, path: &str, versioned: bool) -> String {
        let base = check.ctx.integration.base_url.join(path);
        if versioned {
            let sep = if base.contains('?') { '&' } else { '?' };
            format!("{base}{sep}api-version={}", config.api_version)
        } else {
            base
        }
    }

    fn authorize(check: &Check<'_>, config: &AzureDevOpsConfig, r: HttpRequest) -> HttpRequest {
        let r = r.header("accept", "application/json");
        match (&check.ctx.secret, config.auth) {
            (None, _) => r,
            (Some(secret), AzureAuth::Pat) => r.basic_auth("", Some(secret)),
            (Some(secret), AzureAuth::Bearer) => r.credential("authorization", "Bearer ", secret),
        }
    }

    fn refused(
        &self,
        check: &Check<'_>,
        what: &str,
        response: &HttpResponse,
        scope: &str,
        not_found: &str,
    ) -> CheckResult {
        let status = response.status.as_u16();
        let code = classify(response, self.clock.now()).unwrap_or(FailureCode::InvalidResponse);
        let mut message = failure_message(what, response);
        let code = match code {
            FailureCode::PermissionDenied { .. } => {
                message.push_str(&format!(" (the call needs the {scope} scope)"));
                FailureCode::PermissionDenied {
                    missing_scope: Some(scope.to_owned()),
                }
            }
            FailureCode::InvalidResponse if status == 400 => FailureCode::InvalidConfig,
            other => other,
        };
        let mut result = check
            .failed(code.clone(), message)
            .with_detail(detail::HTTP_STATUS, status);
        if code == FailureCode::NotFound {
            result = result.with_detail("cause", not_found);
        }
        if is_sign_in_page(response) {
            result = result.with_detail("cause", "sign_in_page");
        }
        if let Some(remaining) = response
            .header("x-ratelimit-remaining")
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            result = result.with_detail(detail::RATE_LIMIT_REMAINING, remaining);
        }
        result
    }

    async fn call(
        &self,
        check: &Check<'_>,
        config: &AzureDevOpsConfig,
        request: HttpRequest,
        what: &str,
        scope: &str,
        not_found: &str,
    ) -> Step<Value> {
        let response = check.send(Self::authorize(check, config, request)).await?;
        if !response.status.is_success() || is_sign_in_page(&response) {
            return Err(self.refused(check, what, &response, scope, not_found));
        }
        response.json().map_err(|_| {
            check.failed(
                FailureCode::InvalidResponse,
                format!("{what}: not the JSON Azure DevOps sends"),
            )
        })
    }

    async fn identity(&self, check: &Check<'_>, config: &AzureDevOpsConfig) -> Step<Value> {
        const WHAT: &str = "GET /_apis/connectionData";
        let body = self
            .call(
                check,
                config,
                HttpRequest::get(Self::url(check, config, "_apis/connectionData", false)),
                WHAT,
                "vso.profile",
                "not_azure_devops",
            )
            .await?;
        let user = &body["authenticatedUser"];
        if user["id"].as_str().is_none() || user["providerDisplayName"] == "Anonymous" {
            return Err(check
                .failed(
                    FailureCode::Unauthenticated,
                    format!("{WHAT}: Azure DevOps served the call anonymously: the token was not accepted"),
                )
                .with_detail("cause", "anonymous"));
        }
        Ok(body)
    }

    async fn access(&self, check: &Check<'_>, config: &AzureDevOpsConfig) -> Step<Value> {
        match &config.repository {
            Some(repo) => {
                let path = format!(
                    "{}/_apis/git/repositories/{}",
                    path_segment(&config.project),
                    path_segment(repo)
                );
                let what = format!("GET /{path}");
                self.call(
                    check,
                    config,
                    HttpRequest::get(Self::url(check, config, &path, true)),
                    &what,
                    "vso.code",
                    "repo_not_found",
                )
                .await
            }
            None => {
                let path = format!("_apis/projects/{}", path_segment(&config.project));
                let what = format!("GET /{path}");
                self.call(
                    check,
                    config,
                    HttpRequest::get(Self::url(check, config, &path, true)),
                    &what,
                    "vso.project",
                    "project_not_found",
                )
                .await
            }
        }
    }

    async fn subscription(
        &self,
        check: &Check<'_>,
        config: &AzureDevOpsConfig,
        id: &str,
    ) -> Step<(Value, SubscriptionView)> {
        let path = format!("_apis/hooks/subscriptions/{id}");
        let what = format!("GET /{path}");
        let body = self
            .call(
                check,
                config,
                HttpRequest::get(Self::url(check, config, &path, true)),
                &what,
                "vso.hooks",
                "subscription_not_found",
            )
            .await?;
        let view = SubscriptionView::from_json(&body).ok_or_else(|| {
            check.failed(
                FailureCode::InvalidResponse,
                format!("{what}: the answer lacks id or status"),
            )
        })?;
        Ok((body, view))
    }

    async fn test_steps(
        &self,
        check: &Check<'_>,
        config: &AzureDevOpsConfig,
        details: &mut serde_json::Map<String, Value>,
    ) -> Step<CheckResult> {
        let identity = self.identity(check, config).await?;
        let user = identity["authenticatedUser"]["providerDisplayName"]
            .as_str()
            .unwrap_or("an unnamed identity")
            .to_owned();
        details.insert("user".into(), json!({"name": user}));
        details.insert("deployment_type".into(), identity["deploymentType"].clone());
        let access = self.access(check, config).await?;
        let target = match &config.repository {
            Some(_) => format!(
                "{}/{}",
                config.project,
                access["name"].as_str().unwrap_or_default()
            ),
            None => access["name"]
                .as_str()
                .unwrap_or(&config.project)
                .to_owned(),
        };
        let mut warnings = Vec::new();
        let mut message = format!("{target} readable");
        if let Some(id) = &config.subscription_id {
            let (_, view) = self.subscription(check, config, id).await?;
            for problem in view.problems() {
                warnings.push(format!("subscription {id}: {}", describe(problem, &view)));
            }
            message.push_str(&format!(", subscription {id} {}", view.status));
            details.insert("subscription".into(), view.to_detail());
        }
        details.insert("warnings".into(), json!(warnings));
        Ok(check.passed(format!("{message} as {user}")))
    }

    async fn run(&self, ctx: &ConnectorContext, full: bool) -> CheckResult {
        let check = Check::start(&self.http, ctx);
        let config = match Self::config(&check) {
            Ok(c) => c,
            Err(r) => return r,
        };
        if !full {
            return match self.access(&check, &config).await {
                Ok(_) => check.passed(format!("{} readable", config.project)),
                Err(r) => r,
            }
            .with_detail(detail::PROJECT, config.project.clone());
        }
        let mut details = serde_json::Map::new();
        let mut result = match self.test_steps(&check, &config, &mut details).await {
            Ok(r) | Err(r) => r,
        };
        result.details.extend(details);
        result.with_detail(detail::PROJECT, config.project)
    }

    async fn trigger_test(&self, ctx: &ConnectorContext) -> CheckResult {
        let check = Check::start(&self.http, ctx);
        let config = match Self::config(&check) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let Some(id) = config.subscription_id.clone() else {
            return check.failed(
                FailureCode::InvalidConfig,
                "a service hook test needs `subscription_id` in the configuration",
            );
        };
        let result = match self.trigger_steps(&check, &config, &id).await {
            Ok(r) | Err(r) => r,
        };
        result
            .with_detail(detail::PROJECT, config.project)
            .with_detail("subscription_id", id)
    }

    async fn trigger_steps(
        &self,
        check: &Check<'_>,
        config: &AzureDevOpsConfig,
        id: &str,
    ) -> Step<CheckResult> {
        let (subscription, view) = self.subscription(check, config, id).await?;
        let annotate = |r: CheckResult| r.with_detail("subscription", view.to_detail());
        let problems = view.problems();
        if !problems.is_empty() {
            let cause = if problems == ["not_enabled"] {
                "subscription_disabled"
            } else {
                "subscription_misconfigured"
            };
            let why: Vec<String> = problems.iter().map(|p| describe(p, &view)).collect();
            return Err(annotate(
                check
                    .failed(
                        FailureCode::Unhealthy,
                        format!(
                            "subscription {id} would send no verifiable test notification: {}",
                            why.join("; ")
                        ),
                    )
                    .with_detail("cause", cause),
            ));
        }
        // The subscription as read (its password masked), with its id: Azure DevOps fills in
        // the stored secret inputs.
        let mut body = json!({"subscriptionId": id});
        for key in [
            "publisherId",
            "eventType",
            "resourceVersion",
            "consumerId",
            "consumerActionId",
            "publisherInputs",
            "consumerInputs",
        ] {
            body[key] = subscription[key].clone();
        }
        const WHAT: &str = "POST /_apis/hooks/testnotifications";
        let created = self
            .call(
                check,
                config,
                HttpRequest::post(Self::url(
                    check,
                    config,
                    "_apis/hooks/testnotifications",
                    true,
                ))
                .json(&body),
                WHAT,
                "vso.hooks_write",
                "subscription_not_found",
            )
            .await
            .map_err(annotate)?;
        let Some(notification) = created["id"].as_u64() else {
            return Err(annotate(check.failed(
                FailureCode::InvalidResponse,
                format!("{WHAT}: the answer has no notification id"),
            )));
        };
        let path = format!("_apis/hooks/testnotifications/{notification}");
        let what = format!("GET /{path}");
        let until = tokio::time::Instant::now() + check.ctx.remaining().min(NOTIFICATION_WAIT);
        let mut state = created;
        while state["status"] != "completed"
            && tokio::time::Instant::now() + self.poll_interval < until
        {
            tokio::time::sleep(self.poll_interval).await;
            state = self
                .call(
                    check,
                    config,
                    HttpRequest::get(Self::url(check, config, &path, true)),
                    &what,
                    "vso.hooks",
                    "notification_not_found",
                )
                .await
                .map_err(annotate)?;
        }
        let error = state["details"]["errorMessage"]
            .as_str()
            .map(|e| e.chars().take(300).collect::<String>())
            .unwrap_or_else(|| "no error message".to_owned());
        let receiver_status = error
            .split_once('(')
            .and_then(|(_, rest)| rest.split_once(')'))
            .and_then(|(code, _)| code.trim().parse::<u16>().ok());
        let result = match (state["status"].as_str(), state["result"].as_str()) {
            (Some("completed"), Some("succeeded")) => check.passed(format!(
                "Azure DevOps delivered test notification {notification} of subscription {id}"
            )),
            (Some("completed"), Some("filtered")) => check
                .failed(
                    FailureCode::Unhealthy,
                    format!("subscription {id}'s filters dropped the test notification"),
                )
                .with_detail("cause", "notification_filtered"),
            (Some("completed"), _) => match receiver_status {
                Some(401 | 403) => check
                    .failed(
                        FailureCode::DeliveryRejected,
                        "Azure DevOps's test notification reached the receiver, which refused its Basic credentials",
                    )
                    .with_detail("cause", "receiver_refused_credentials"),
                Some(409) => check
                    .failed(
                        FailureCode::DeliveryNotReceived,
                        "the receiver refused the test notification as a duplicate",
                    )
                    .with_detail("cause", "receiver_duplicate"),
                _ => check
                    .failed(
                        FailureCode::DeliveryFailed,
                        format!("Azure DevOps could not deliver the test notification to {}: {error}", view.url),
                    )
                    .with_detail("cause", "receiver_unreachable"),
            }
            .with_detail(detail::DELIVERY_ERROR, error.clone()),
            _ => check.passed(format!(
                "Azure DevOps queued test notification {notification} of subscription {id}; it delivers on its own"
            )),
        };
        Ok(annotate(
            result.with_detail("notification_id", notification),
        ))
    }
}

fn describe(problem: &str, view: &SubscriptionView) -> String {
    match problem {
        "not_enabled" => format!(
            "its status is {} (Azure DevOps sends nothing until it is enabled)",
            view.status
        ),
        "not_web_hooks" => format!(
            "its consumer is {}, not Web Hooks (webHooks/httpRequest)",
            view.consumer
        ),
        _ => "it has no Basic authentication user name and password, so its deliveries cannot be verified".to_owned(),
    }
}

#[async_trait]
impl IntegrationConnector for AzureDevOpsConnector {
    fn provider(&self) -> Provider {
        Provider::AzureDevOps
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
        AzureDevOpsConfig::parse(configuration)
            .map(|_| ())
            .map_err(Error::from)
    }

    #[instrument(skip_all, fields(integration_id = %ctx.integration.id, tenant_id = %ctx.integration.tenant_id, provider = "azure-devops", action = "test_connection"))]
    async fn test_connection(&self, ctx: &ConnectorContext) -> CheckResult {
        self.run(ctx, true).await
    }

    #[instrument(skip_all, fields(integration_id = %ctx.integration.id, tenant_id = %ctx.integration.tenant_id, provider = "azure-devops", action = "check_health"))]
    async fn check_health(&self, ctx: &ConnectorContext) -> CheckResult {
        self.run(ctx, false).await
    }

    /// Azure DevOps's remedies: `unauthenticated` (a new PAT; the sign-in page; 90-day
    /// deactivation), `missing_scope` (the scope named), `not_found`.
    fn findings(&self, integration: &Integration, result: &CheckResult) -> Vec<Finding> {
        findings::for_connection(integration, result)
    }

    /// For the round trip: `webhook_missing_scope` (`vso.hooks_write`), `webhook_not_found`,
    /// `webhook_tool_unhealthy` (a disabled or misconfigured subscription, filters),
    /// `webhook_token_mismatch` (the Basic password), `receiver_unreachable` (Azure DevOps's
    /// outgoing addresses, the server's proxy), `delivery_not_received`.
    fn delivery_findings(&self, integration: &Integration, result: &CheckResult) -> Vec<Finding> {
        findings::for_delivery(integration, result)
    }

    async fn expected_delivery(
        &self,
        integration: &Integration,
        request: &DeliveryRequest,
    ) -> Option<(DeliveryKind, Expectation)> {
        let DeliveryRequest::WebhookTest { .. } = request else {
            return None;
        };
        let config = AzureDevOpsConfig::parse(&integration.configuration).ok()?;
        Some((
            DeliveryKind::AzureDevOps,
            Expectation {
                hook_uuid: Some(config.subscription_id?),
                ..Expectation::default()
            },
        ))
    }

    /// The test notification of the subscription, whatever `webhook_trigger` says (it sends
    /// the subscription's own event type).
    #[instrument(skip_all, fields(integration_id = %ctx.integration.id, tenant_id = %ctx.integration.tenant_id, provider = "azure-devops", action = "trigger_delivery"))]
    async fn trigger_delivery(
        &self,
        ctx: &ConnectorContext,
        request: &DeliveryRequest,
    ) -> CheckResult {
        match request {
            DeliveryRequest::WebhookTest { .. } => self.trigger_test(ctx).await,
            other => CheckResult::failed(
                FailureCode::Unsupported,
                Duration::ZERO,
                format!(
                    "{} is not supported by azure-devops",
                    other.capability().as_str()
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn answer(status: u16, content_type: &str, body: &str) -> HttpResponse {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_str(content_type).unwrap());
        HttpResponse {
            status: reqwest::StatusCode::from_u16(status).unwrap(),
            headers,
            body: body.as_bytes().to_vec(),
            url: "https://dev.azure.com/acme/_apis/x".parse().unwrap(),
        }
    }

    #[test]
    fn a_203_sign_in_page_is_a_refused_token_and_tf400813_a_missing_scope() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let page = "<!DOCTYPE html><html><head><title>Azure DevOps Services | Sign In</title>";
        assert_eq!(
            classify(&answer(203, "text/html; charset=utf-8", page), now),
            Some(FailureCode::Unauthenticated)
        );
        assert_eq!(
            classify(&answer(200, "text/html", page), now),
            Some(FailureCode::Unauthenticated)
        );
        let scope = r#"{"$id":"1","innerException":null,"message":"TF400813: The user 'x' is not authorized to access this resource.","typeName":"Microsoft.TeamFoundation.Framework.Server.UnauthorizedRequestException, Microsoft.TeamFoundation.Framework.Server","typeKey":"UnauthorizedRequestException","errorCode":0,"eventId":3000}"#;
        assert_eq!(
            classify(&answer(401, "application/json", scope), now),
            Some(FailureCode::PermissionDenied {
                missing_scope: None
            })
        );
        assert_eq!(
            classify(&answer(401, "text/plain", ""), now),
            Some(FailureCode::Unauthenticated)
        );
        assert_eq!(
            classify(&answer(200, "application/json; charset=utf-8", "{}"), now),
            None
        );
    }

    #[test]
    fn configuration_keys_are_closed_and_named() {
        let parse = |v: Value| AzureDevOpsConfig::parse(&Configuration::new(v).unwrap());
        let c = parse(json!({"project": "Platform", "repository": "api",
            "subscription_id": "7C1D0000-0000-4000-8000-000000000001", "api_version": "7.1-preview.1"}))
        .unwrap();
        assert_eq!(
            (c.subscription_id.as_deref(), c.auth, c.api_version.as_str()),
            (
                Some("7c1d0000-0000-4000-8000-000000000001"),
                AzureAuth::Pat,
                "7.1-preview.1"
            )
        );
        let field = |v: Value| parse(v).unwrap_err().field;
        assert_eq!(field(json!({})), "project");
        assert_eq!(
            field(json!({"project": "p", "subscription_id": "nope"})),
            "subscription_id"
        );
        assert_eq!(field(json!({"project": "p", "auth": "basic"})), "auth");
        assert_eq!(
            field(json!({"project": "p", "api_version": "latest"})),
            "api_version"
        );
        assert_eq!(
            field(json!({"project": "p", "webhook_secret_ref": 3})),
            "webhook_secret_ref"
        );
        let err = parse(json!({"project": "p", "organization": "acme"})).unwrap_err();
        assert!(err.to_string().contains("`organization`"), "{err}");
    }

    #[test]
    fn subscriptions_are_read_without_their_secrets() {
        let s = SubscriptionView::from_json(&json!({
            "id": "7C1D0000-0000-4000-8000-000000000001", "status": "enabled",
            "eventType": "git.push", "consumerId": "webHooks", "consumerActionId": "httpRequest",
            "consumerInputs": {"url": "https://u:SENTINEL@pathops.example.com/webhooks/azure-devops?k=SENTINEL",
                               "basicAuthUsername": "pathops", "basicAuthPassword": "********"},
        }))
        .unwrap();
        assert!(s.problems().is_empty());
        assert!(!format!("{s:?}{}", s.to_detail()).contains("SENTINEL"));
        let off = SubscriptionView::from_json(&json!({"id": "x", "status": "disabledBySystem",
            "consumerId": "slack", "consumerActionId": "postMessage", "consumerInputs": {}}))
        .unwrap();
        assert_eq!(
            off.problems(),
            ["not_enabled", "not_web_hooks", "no_basic_auth"]
        );
    }
}
