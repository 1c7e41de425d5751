//! The Bitbucket connector's Data Center half: the connection test, the health check and the
//! webhook test round trip; see the [module docs](super).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pathops_core::clock::SystemClock;
use pathops_core::connector::detail;
use pathops_core::webhook::{ChallengeRegistry, DeliveryKind, Expectation};
use pathops_core::{
    Capabilities, Capability, CheckResult, Clock, Configuration, ConnectorContext, DeliveryRequest,
    Error, FailureCode, Finding, Integration, IntegrationConnector, Provider, Result,
};
use serde_json::{Value, json};
use tracing::instrument;

use super::config::{BitbucketConfig, Edition};
use super::{classify_data_center, failure_message, rest_root, web_root};
use crate::check::Check;
use crate::http::{HttpClient, HttpPolicy, HttpRequest, HttpResponse, path_segment};

pub(super) type Step<T> = std::result::Result<T, CheckResult>;

/// The event key of Data Center's test connection.
pub(super) const PING_EVENT: &str = "diagnostics:ping";

/// The Bitbucket connector; see the [module docs](super).
#[derive(Debug)]
pub struct BitbucketConnector {
    pub(super) http: HttpClient,
    pub(super) clock: Arc<dyn Clock>,
    /// The receiver's record of deliveries, where Cloud's evidence comes from.
    pub(super) record: Option<Arc<ChallengeRegistry>>,
}

/// Builds a [`BitbucketConnector`]; setters never fail, [`build`](Self::build) validates.
#[derive(Debug, Default)]
pub struct BitbucketConnectorBuilder {
    policy: HttpPolicy,
    clock: Option<Arc<dyn Clock>>,
    record: Option<Arc<ChallengeRegistry>>,
}

impl BitbucketConnectorBuilder {
    /// The HTTP policy (default [`HttpPolicy::default`]).
    pub fn with_http(mut self, policy: HttpPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The clock for rate-limit resets and for Bitbucket Cloud's app-password deadline
    /// (default the system clock). Pass the catalog's clock, so a catalog under test sees
    /// one time.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The challenge registry the receiver records verified deliveries in (the doctor's):
    /// Bitbucket Cloud has no test endpoint, so its round trip looks there for the last
    /// delivery of the integration's hook. Without it, a Cloud hook test reports that no
    /// test can be triggered.
    pub fn with_receiver_record(mut self, registry: Arc<ChallengeRegistry>) -> Self {
        self.record = Some(registry);
        self
    }

    /// The connector; [`Error::InvalidConfig`] when the HTTP policy is unusable.
    pub fn build(self) -> Result<BitbucketConnector> {
        Ok(BitbucketConnector {
            http: HttpClient::new(self.policy)?,
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            record: self.record,
        })
    }
}

/// What Data Center's test endpoint reports about its ping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// `result.outcome`.
    pub outcome: InvocationOutcome,
    /// `result.description`: the receiver's status line, or the error that kept the ping
    /// from arriving.
    pub description: Option<String>,
    /// `response.statusCode`: what the receiver answered, when it answered.
    pub status: Option<u16>,
}

/// `result.outcome` of an invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvocationOutcome {
    /// The receiver answered 2xx.
    Success,
    /// The receiver answered, not 2xx.
    Failure,
    /// No answer: the ping did not reach a receiver.
    Error,
}

impl Invocation {
    /// Reads the test endpoint's answer; `None` without a known `result.outcome`.
    ///
    /// ```
    /// use pathops_connectors::bitbucket::{Invocation, InvocationOutcome};
    ///
    /// let refused = serde_json::json!({
    ///     "event": "diagnostics:ping",
    ///     "result": {"outcome": "FAILURE", "description": "401"},
    ///     "response": {"statusCode": 401},
    /// });
    /// let i = Invocation::from_json(&refused).unwrap();
    /// assert_eq!((i.outcome, i.status), (InvocationOutcome::Failure, Some(401)));
    /// ```
    pub fn from_json(body: &Value) -> Option<Self> {
        let outcome = match body["result"]["outcome"].as_str()? {
            "SUCCESS" => InvocationOutcome::Success,
            "FAILURE" => InvocationOutcome::Failure,
            "ERROR" => InvocationOutcome::Error,
            _ => return None,
        };
        Some(Self {
            outcome,
            description: body["result"]["description"]
                .as_str()
                .map(|d| d.chars().take(300).collect()),
            status: body["response"]["statusCode"]
                .as_u64()
                .and_then(|s| u16::try_from(s).ok()),
        })
    }
}

/// A webhook as `GET …/webhooks/{id}` shows it, without its `configuration` (where Data
/// Center keeps the secret) and with its URL stripped of credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct HookView {
    pub(super) id: u64,
    pub(super) name: String,
    pub(super) active: bool,
    pub(super) url: String,
    pub(super) events: Vec<String>,
    pub(super) ssl_verification: bool,
}

impl HookView {
    fn from_json(hook: &Value) -> Option<Self> {
        Some(Self {
            id: hook["id"].as_u64()?,
            name: hook["name"].as_str().unwrap_or_default().to_owned(),
            active: hook["active"].as_bool()?,
            url: without_credentials(hook["url"].as_str()?),
            events: hook["events"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|e| e.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            ssl_verification: hook["sslVerificationRequired"].as_bool().unwrap_or(true),
        })
    }

    fn to_detail(&self) -> Value {
        json!({
            "id": self.id, "name": self.name, "active": self.active, "url": self.url,
            "events": self.events, "ssl_verification_required": self.ssl_verification,
        })
    }
}

/// `scheme://host[:port]/path` of `url`: user info, query and fragment dropped.
pub(super) fn without_credentials(url: &str) -> String {
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

impl BitbucketConnector {
    /// A builder with the default policy.
    pub fn builder() -> BitbucketConnectorBuilder {
        BitbucketConnectorBuilder::default()
    }

    /// The configuration, or the failed result naming the key.
    pub(super) fn config(check: &Check<'_>) -> Step<BitbucketConfig> {
        let integration = &check.ctx.integration;
        BitbucketConfig::parse(&integration.base_url, &integration.configuration)
            .map_err(|e| check.failed(FailureCode::InvalidConfig, e.to_string()))
    }

    fn authorize(ctx: &ConnectorContext, config: &BitbucketConfig, r: HttpRequest) -> HttpRequest {
        let r = r.header("accept", "application/json");
        match (&ctx.secret, &config.username) {
            (None, _) => r,
            (Some(secret), Some(user)) => r.basic_auth(user, Some(secret)),
            (Some(secret), None) => r.credential("authorization", "Bearer ", secret),
        }
    }

    fn repo_path(config: &BitbucketConfig) -> String {
        format!(
            "projects/{}/repos/{}",
            path_segment(&config.owner),
            path_segment(&config.repo_slug)
        )
    }

    async fn get(
        &self,
        check: &Check<'_>,
        config: &BitbucketConfig,
        path: &str,
    ) -> Step<HttpResponse> {
        let url = format!("{}/{path}", rest_root(&check.ctx.integration.base_url));
        check
            .send(Self::authorize(check.ctx, config, HttpRequest::get(url)))
            .await
    }

    /// A refused or unexpected answer: classified, the permission a 401 refusal lacks named
    /// (`permission`), the cause the findings need, the status and rate-limit evidence kept.
    fn refused(
        &self,
        check: &Check<'_>,
        what: &str,
        response: &HttpResponse,
        permission: &str,
        not_found: &str,
    ) -> CheckResult {
        let status = response.status.as_u16();
        let code = classify_data_center(response, self.clock.now())
            .unwrap_or(FailureCode::InvalidResponse);
        let mut message = failure_message(what, response);
        let (code, cause) = match code {
            FailureCode::PermissionDenied { .. } => {
                message.push_str(&format!(" (the call needs {permission})"));
                (
                    FailureCode::PermissionDenied {
                        missing_scope: Some(permission.to_owned()),
                    },
                    Some("permission_missing"),
                )
            }
            FailureCode::NotFound => (FailureCode::NotFound, Some(not_found)),
            FailureCode::Unauthenticated if check.ctx.secret.is_none() => {
                message.push_str(" (no token configured)");
                (FailureCode::Unauthenticated, None)
            }
            FailureCode::InvalidResponse if status == 400 => (FailureCode::InvalidConfig, None),
            other => (other, None),
        };
        let mut result = check
            .failed(code, message)
            .with_detail(detail::HTTP_STATUS, status);
        if let Some(cause) = cause {
            result = result.with_detail("cause", cause);
        }
        if let Some(remaining) = response
            .header("x-ratelimit-remaining")
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            result = result.with_detail(detail::RATE_LIMIT_REMAINING, remaining);
        }
        result
    }

    pub(super) fn json(check: &Check<'_>, what: &str, response: &HttpResponse) -> Step<Value> {
        response.json().map_err(|_| {
            check.failed(
                FailureCode::InvalidResponse,
                format!("{what}: not the JSON Bitbucket sends"),
            )
        })
    }

    /// `GET /application-properties`: the version (readable anonymously; 401 for a
    /// refused token).
    async fn properties(&self, check: &Check<'_>, config: &BitbucketConfig) -> Step<Value> {
        const WHAT: &str = "GET /rest/api/1.0/application-properties";
        let response = self.get(check, config, "application-properties").await?;
        if !response.status.is_success() {
            return Err(self.refused(check, WHAT, &response, "no permission", "not_bitbucket"));
        }
        let body = Self::json(check, WHAT, &response)?;
        if body["version"].as_str().is_none() {
            return Err(check.failed(
                FailureCode::InvalidResponse,
                format!("{WHAT}: no version in the answer (is this Bitbucket Data Center?)"),
            ));
        }
        Ok(body)
    }

    /// `GET /projects/{key}/repos/{slug}`: the repository, and the caller (`X-AUSERNAME`).
    async fn repository(
        &self,
        check: &Check<'_>,
        config: &BitbucketConfig,
    ) -> Step<(Value, Option<String>)> {
        let path = Self::repo_path(config);
        let what = format!("GET /rest/api/1.0/{path}");
        let response = self.get(check, config, &path).await?;
        if !response.status.is_success() {
            return Err(self.refused(check, &what, &response, "REPO_READ", "repo_not_found"));
        }
        let body = Self::json(check, &what, &response)?;
        if body["slug"].as_str().is_none() || body["id"].as_u64().is_none() {
            return Err(check.failed(
                FailureCode::InvalidResponse,
                format!("{what}: the answer lacks id or slug"),
            ));
        }
        let caller = response.header("x-ausername").map(str::to_owned);
        Ok((body, caller))
    }

    /// `GET /projects/{key}/repos/{slug}/webhooks/{id}` (`REPO_ADMIN`): the hook, and its
    /// target URL as stored (for the test call only; never reported).
    async fn read_hook(
        &self,
        check: &Check<'_>,
        config: &BitbucketConfig,
        hook_id: u64,
    ) -> Step<(HookView, String)> {
        let path = format!("{}/webhooks/{hook_id}", Self::repo_path(config));
        let what = format!("GET /rest/api/1.0/{path}");
        let response = self.get(check, config, &path).await?;
        if !response.status.is_success() {
            return Err(self.refused(check, &what, &response, "REPO_ADMIN", "hook_not_found"));
        }
        let body = Self::json(check, &what, &response)?;
        let view = HookView::from_json(&body);
        match (view, body["url"].as_str()) {
            (Some(view), Some(url)) => Ok((view, url.to_owned())),
            _ => Err(check.failed(
                FailureCode::InvalidResponse,
                format!("{what}: the answer lacks id, active or url"),
            )),
        }
    }

    async fn test_steps(
        &self,
        check: &Check<'_>,
        config: &BitbucketConfig,
        details: &mut serde_json::Map<String, Value>,
    ) -> Step<CheckResult> {
        let properties = self.properties(check, config).await?;
        let version = properties["version"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        details.insert("version".into(), json!(version));
        details.insert(
            "product".into(),
            json!(properties["displayName"].as_str().unwrap_or("Bitbucket")),
        );
        let (repo, caller) = self.repository(check, config).await?;
        details.insert(
            "repo".into(),
            json!({"id": repo["id"], "slug": repo["slug"], "name": repo["name"],
                   "project": repo["project"]["key"], "state": repo["state"],
                   "archived": repo["archived"]}),
        );
        if let Some(caller) = &caller {
            details.insert("user".into(), json!({ "name": caller }));
        }
        let mut warnings = Vec::new();
        let mut message = format!("{} readable", config.repository());
        if let Some(hook_id) = config.hook_id {
            let (hook, _) = self.read_hook(check, config, hook_id).await?;
            if !hook.active {
                warnings.push(format!(
                    "hook {hook_id} is inactive: Bitbucket sends it no events"
                ));
            }
            message.push_str(&format!(
                ", hook {hook_id} {}",
                if hook.active { "active" } else { "inactive" }
            ));
            details.insert("hook".into(), hook.to_detail());
        }
        details.insert("warnings".into(), json!(warnings));
        Ok(check.passed(format!(
            "{message} on Bitbucket Data Center {version}{}",
            caller.map(|c| format!(" as {c}")).unwrap_or_default()
        )))
    }

    async fn run(&self, ctx: &ConnectorContext, full: bool) -> CheckResult {
        let check = Check::start(&self.http, ctx);
        let config = match Self::config(&check) {
            Ok(c) => c,
            Err(r) => return r,
        };
        if config.edition == Edition::Cloud {
            return self.cloud_run(&check, &config, full).await;
        }
        let repository = config.repository();
        if !full {
            return match self.repository(&check, &config).await {
                Ok(_) => check.passed(format!("{repository} readable")),
                Err(r) => r,
            }
            .with_detail(detail::PROJECT, repository);
        }
        let mut details = serde_json::Map::new();
        let mut result = match self.test_steps(&check, &config, &mut details).await {
            Ok(r) | Err(r) => r,
        };
        result.details.extend(details);
        result.with_detail(detail::PROJECT, repository)
    }

    /// The hook test: the hook read first (an inactive one is reported, not tested), then
    /// the test endpoint, whose answer says what the receiver did with the ping.
    async fn trigger_test(&self, ctx: &ConnectorContext) -> CheckResult {
        let check = Check::start(&self.http, ctx);
        let config = match Self::config(&check) {
            Ok(c) => c,
            Err(r) => return r,
        };
        if config.edition == Edition::Cloud {
            return self.cloud_trigger(&check, &config).await;
        }
        let Some(hook_id) = config.hook_id else {
            return check.failed(
                FailureCode::InvalidConfig,
                "a hook test needs `hook_id` in the configuration",
            );
        };
        let result = match self.trigger_steps(&check, &config, hook_id).await {
            Ok(r) | Err(r) => r,
        };
        result
            .with_detail(detail::PROJECT, config.repository())
            .with_detail(detail::HOOK_ID, hook_id)
    }

    async fn trigger_steps(
        &self,
        check: &Check<'_>,
        config: &BitbucketConfig,
        hook_id: u64,
    ) -> Step<CheckResult> {
        let (hook, target) = self.read_hook(check, config, hook_id).await?;
        let annotate = |r: CheckResult| r.with_detail("hook", hook.to_detail());
        if !hook.active {
            return Err(annotate(
                check
                    .failed(
                        FailureCode::Unhealthy,
                        format!(
                            "hook {hook_id} is inactive: Bitbucket sends it no events, so a passing test would prove nothing"
                        ),
                    )
                    .with_detail("cause", "hook_inactive"),
            ));
        }
        let path = format!("{}/webhooks/test", Self::repo_path(config));
        let what = format!("POST /rest/api/latest/{path}");
        let mut url = url::Url::parse(&format!(
            "{}/rest/api/latest/{path}",
            web_root(&check.ctx.integration.base_url)
        ))
        .map_err(|_| {
            check.failed(
                FailureCode::InvalidConfig,
                "the base URL cannot take a path",
            )
        })?;
        url.query_pairs_mut()
            .append_pair("webhookId", &hook_id.to_string())
            .append_pair("url", &target)
            .append_pair(
                "sslVerificationRequired",
                if hook.ssl_verification {
                    "true"
                } else {
                    "false"
                },
            );
        let request = Self::authorize(check.ctx, config, HttpRequest::post(url.to_string()));
        let response = check.send(request).await.map_err(annotate)?;
        let status = response.status.as_u16();
        if !response.status.is_success() {
            return Err(annotate(self.refused(
                check,
                &what,
                &response,
                "REPO_ADMIN",
                "hook_not_found",
            )));
        }
        let body = Self::json(check, &what, &response).map_err(annotate)?;
        let Some(invocation) = Invocation::from_json(&body) else {
            return Err(annotate(check.failed(
                FailureCode::InvalidResponse,
                format!("{what}: the answer has no result.outcome"),
            )));
        };
        let description = invocation
            .description
            .clone()
            .unwrap_or_else(|| "no description".to_owned());
        let result = match (invocation.outcome, invocation.status) {
            (InvocationOutcome::Success, _) => check.passed(format!(
                "Bitbucket sent a test ping through hook {hook_id} and the receiver accepted it"
            )),
            (InvocationOutcome::Failure, Some(refused @ (401 | 403))) => check
                .failed(
                    FailureCode::DeliveryRejected,
                    format!(
                        "Bitbucket's test ping reached the receiver, which refused its signature ({refused})"
                    ),
                )
                .with_detail("cause", "receiver_refused_signature")
                .with_detail(detail::DELIVERY_ERROR, description),
            // The receiver's replay guard refused it: nothing was counted for this
            // challenge, so no delivery was received (and none verified).
            (InvocationOutcome::Failure, Some(409)) => check
                .failed(
                    FailureCode::DeliveryNotReceived,
                    "Bitbucket's test ping reached the receiver, which refused it as a duplicate of one inside its replay window",
                )
                .with_detail("cause", "receiver_duplicate")
                .with_detail(detail::DELIVERY_ERROR, description),
            (InvocationOutcome::Failure, answered) => check
                .failed(
                    FailureCode::DeliveryFailed,
                    format!(
                        "Bitbucket's test ping reached {} but it answered {}",
                        hook.url,
                        answered.map_or("an error".to_owned(), |s| s.to_string())
                    ),
                )
                .with_detail("cause", "receiver_error")
                .with_detail(detail::DELIVERY_ERROR, description),
            (InvocationOutcome::Error, _) => check
                .failed(
                    FailureCode::DeliveryFailed,
                    format!("Bitbucket could not deliver its test ping to {}: {description}", hook.url),
                )
                .with_detail("cause", "receiver_unreachable")
                .with_detail(detail::DELIVERY_ERROR, description),
        };
        Ok(annotate(result.with_detail(detail::HTTP_STATUS, status)))
    }
}

fn is_cloud(integration: &Integration) -> bool {
    BitbucketConfig::parse(&integration.base_url, &integration.configuration)
        .is_ok_and(|c| c.edition == Edition::Cloud)
}

#[async_trait]
impl IntegrationConnector for BitbucketConnector {
    fn provider(&self) -> Provider {
        Provider::Bitbucket
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new([
            Capability::TestConnection,
            Capability::HealthCheck,
            Capability::WebhookTest,
            Capability::WebhookSecret,
        ])
    }

    /// The keys and their values; the edition is implied by the base URL at check time, so
    /// here an integration without `edition` is read as Data Center.
    async fn validate_config(&self, configuration: &Configuration) -> Result<()> {
        let placeholder =
            pathops_core::BaseUrl::parse("https://bitbucket.invalid").expect("a valid URL");
        BitbucketConfig::parse(&placeholder, configuration)
            .map(|_| ())
            .map_err(Error::from)
    }

    #[instrument(skip_all, fields(integration_id = %ctx.integration.id, tenant_id = %ctx.integration.tenant_id, provider = "bitbucket", action = "test_connection"))]
    async fn test_connection(&self, ctx: &ConnectorContext) -> CheckResult {
        self.run(ctx, true).await
    }

    #[instrument(skip_all, fields(integration_id = %ctx.integration.id, tenant_id = %ctx.integration.tenant_id, provider = "bitbucket", action = "check_health"))]
    async fn check_health(&self, ctx: &ConnectorContext) -> CheckResult {
        self.run(ctx, false).await
    }

    /// Bitbucket's remedies for the connection test: `unauthenticated` (a new HTTP access
    /// token), `missing_scope` (the repository permission the call needs), `not_found` (the
    /// repository or the hook), `rate_limited`.
    fn findings(&self, integration: &Integration, result: &CheckResult) -> Vec<Finding> {
        if is_cloud(integration) {
            super::cloud_findings::for_connection(integration, result)
        } else {
            super::findings::for_connection(integration, result)
        }
    }

    /// For the round trip: `webhook_missing_scope` (`REPO_ADMIN`), `webhook_not_found`,
    /// `webhook_tool_unhealthy` (an inactive hook, with the call enabling it),
    /// `webhook_token_mismatch` (the receiver refused the ping's signature),
    /// `receiver_unreachable` (Bitbucket could not connect: the receiver's IP allowlist, the
    /// instance's proxy, TLS), `delivery_not_received` (Bitbucket reported success, nothing
    /// arrived).
    fn delivery_findings(&self, integration: &Integration, result: &CheckResult) -> Vec<Finding> {
        if is_cloud(integration) {
            super::cloud_findings::for_delivery(integration, result)
        } else {
            super::findings::for_delivery(integration, result)
        }
    }

    async fn expected_delivery(
        &self,
        integration: &Integration,
        request: &DeliveryRequest,
    ) -> Option<(DeliveryKind, Expectation)> {
        let DeliveryRequest::WebhookTest { .. } = request else {
            return None;
        };
        let config =
            BitbucketConfig::parse(&integration.base_url, &integration.configuration).ok()?;
        let expectation = match config.edition {
            Edition::DataCenter => {
                config.hook_id?;
                Expectation {
                    event: Some(PING_EVENT.to_owned()),
                    ..Expectation::default()
                }
            }
            // Any event of the hook: Cloud has no test event.
            Edition::Cloud => Expectation {
                hook_uuid: Some(config.hook_uuid?),
                ..Expectation::default()
            },
        };
        Some((DeliveryKind::Bitbucket, expectation))
    }

    /// The test endpoint always sends `diagnostics:ping`, whatever `webhook_trigger` says.
    #[instrument(skip_all, fields(integration_id = %ctx.integration.id, tenant_id = %ctx.integration.tenant_id, provider = "bitbucket", action = "trigger_delivery"))]
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
                    "{} is not supported by bitbucket",
                    other.capability().as_str()
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hooks_are_read_without_their_credentials_or_configuration() {
        let h = HookView::from_json(&json!({
            "id": 7, "name": "pathops", "active": true, "events": ["repo:refs_changed"],
            "configuration": {"secret": "SENTINEL-secret"},
            "url": "https://bot:SENTINEL-pass@pathops.example.com/webhooks/bitbucket?t=SENTINEL-q",
        }))
        .unwrap();
        assert_eq!(h.url, "https://pathops.example.com/webhooks/bitbucket");
        assert!(!format!("{h:?}{}", h.to_detail()).contains("SENTINEL"));
        assert_eq!(
            HookView::from_json(&json!({"id": 7, "url": "http://x"})),
            None
        );
    }

    #[test]
    fn invocations_are_read_by_outcome() {
        let error = Invocation::from_json(&json!({
            "result": {"outcome": "ERROR", "description": "Connection refused"},
        }))
        .unwrap();
        assert_eq!(
            (error.outcome, error.status, error.description.as_deref()),
            (InvocationOutcome::Error, None, Some("Connection refused"))
        );
        assert_eq!(
            Invocation::from_json(&json!({"result": {"outcome": "MAYBE"}})),
            None
        );
        assert_eq!(Invocation::from_json(&json!({})), None);
    }
}
