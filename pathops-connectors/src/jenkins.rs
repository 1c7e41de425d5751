//! The Jenkins connector: a user's API token over HTTP Basic (`username:apiToken`). The vendor
//! behaviour it relies on is listed below, call by call, as Jenkins' remote access API and its
//! core source document it.
//!
//! | operation | calls |
//! |---|---|
//! | [`test_connection`](pathops_core::IntegrationConnector::test_connection) | `GET /whoAmI/api/json` (identity; the version from the `X-Jenkins` header), then `GET /crumbIssuer/api/json` (whether CSRF protection is on) |
//! | [`check_health`](pathops_core::IntegrationConnector::check_health) | `GET /whoAmI/api/json` only: the cheapest authenticated call |
//!
//! Every path is joined to the base URL, so a Jenkins under a context path works
//! (`https://ci.example.com/jenkins` + `whoAmI/api/json`).
//!
//! What each answer means:
//!
//! - **Version**: Jenkins sends `X-Jenkins: <version>` on API answers and on its login and
//!   error pages, so a 401 or 403 still tells the version; it is reported in those failures too
//!   (`version` detail). An answer without the header did not come from Jenkins (or a proxy
//!   stripped it): a 404 without it is reported as a wrong base URL or context path.
//! - **`whoAmI`** is readable without authentication. Anonymous callers get **200** with
//!   `"anonymous": true`, and Jenkins reports even them as `"authenticated": true` (Spring
//!   Security's anonymous token is "authenticated"). So the decision is on `anonymous`: a 200
//!   with `anonymous: true` (or `authenticated: false`) is
//!   [`FailureCode::Unauthenticated`] — the Basic credentials were not applied (none
//!   configured, or a proxy dropped the `Authorization` header).
//! - **401**: the API token (or the user name) was refused. **403**: the user lacks a
//!   permission; Jenkins names it in `X-Required-Permission` (read when present, assumed to be
//!   `hudson.model.Hudson.Read`, Overall/Read, otherwise) — reported as
//!   [`FailureCode::PermissionDenied`] with that permission.
//! - **Crumb issuer**: 200 means CSRF protection is on (the `crumbRequestField`, e.g.
//!   `Jenkins-Crumb`, is reported; the crumb itself is a per-session secret and is never put in
//!   a result); **404 means CSRF protection is off**, which passes but adds the warning finding
//!   `csrf_protection_disabled`. Calls authenticated with an API token need no crumb (Jenkins
//!   2.96 and later), so PathOps never fetches one to use.
//! - 429, 5xx and the rest as [`status::default_failure`].
//!
//! Details of a passed test: `version`, `user` (`name`, `authorities`) and `csrf` (`enabled`,
//! `crumb_request_field`, `issuer`).
//!
//! Configuration: `username` (required: the Jenkins user ID the API token belongs to); the
//! secret is that user's API token. Plus the HTTP settings of
//! [`IntegrationHttp`]. Any other key is refused, naming it.

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

/// The Jenkins documentation on CSRF protection (crumbs).
pub const CSRF_DOC: &str = "https://www.jenkins.io/doc/book/security/csrf-protection/";
/// The Jenkins documentation on API tokens for scripted clients.
pub const TOKEN_DOC: &str =
    "https://www.jenkins.io/doc/book/system-administration/authenticating-scripted-clients/";
/// The Jenkins documentation on permissions (Overall/Read).
pub const PERMISSIONS_DOC: &str =
    "https://www.jenkins.io/doc/book/security/access-control/permissions/";

/// The permission Jenkins requires for everything but its unprotected actions.
const OVERALL_READ: &str = "hudson.model.Hudson.Read";

/// The configuration of a Jenkins integration:
///
/// | key | value |
/// |---|---|
/// | `username` | the Jenkins user ID the API token belongs to (required, no `:`) |
///
/// plus the HTTP settings of [`IntegrationHttp`]; any other key is refused by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JenkinsConfig {
    /// The user ID.
    pub username: String,
}

impl JenkinsConfig {
    /// Every key a Jenkins configuration may have.
    pub const KEYS: [&'static str; 3] = [
        "username",
        IntegrationHttp::PROXY_KEY,
        IntegrationHttp::CA_KEY,
    ];

    /// Reads and validates the configuration; errors name the key.
    pub fn parse(configuration: &Configuration) -> std::result::Result<Self, ValidationError> {
        IntegrationHttp::from_configuration(configuration)?;
        crate::check::refuse_unknown_keys(configuration, &Self::KEYS)?;
        match configuration.get("username") {
            Some(Value::String(u)) if u.trim().is_empty() => {
                Err(ValidationError::new("username", Problem::Empty))
            }
            Some(Value::String(u)) if u.trim() != u => Err(ValidationError::new(
                "username",
                Problem::SurroundingWhitespace,
            )),
            Some(Value::String(u)) => match u.find(':') {
                Some(index) => Err(ValidationError::new(
                    "username",
                    Problem::InvalidCharacter { index },
                )),
                None => Ok(Self {
                    username: u.clone(),
                }),
            },
            None | Some(Value::Null) => Err(ValidationError::new("username", Problem::Empty)),
            Some(_) => Err(ValidationError::new("username", Problem::UnknownValue)),
        }
    }
}

/// Jenkins' classifier: `None` for 2xx; 403 permission denied, naming the permission of
/// `X-Required-Permission` (Overall/Read when absent); the rest as
/// [`status::default_failure`].
pub fn classify(response: &HttpResponse, now: OffsetDateTime) -> Option<FailureCode> {
    if response.status.as_u16() == 403 {
        return Some(FailureCode::PermissionDenied {
            missing_scope: Some(required_permission(response)),
        });
    }
    status::default_failure(response.status, &response.headers, now)
}

/// The permission a 403 names (`X-Required-Permission`), else Overall/Read.
fn required_permission(response: &HttpResponse) -> String {
    response
        .header("x-required-permission")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .unwrap_or(OVERALL_READ)
        .chars()
        .take(120)
        .collect()
}

/// A permission's Java name as the UI shows it (`hudson.model.Hudson.Read` is Overall/Read).
fn permission_label(permission: &str) -> String {
    match permission {
        "hudson.model.Hudson.Read" => "Overall/Read".to_owned(),
        "hudson.model.Hudson.Administer" => "Overall/Administer".to_owned(),
        other => other.to_owned(),
    }
}

/// The fields of `/whoAmI/api/json` the connector reads.
#[derive(Debug, Deserialize)]
struct WhoAmI {
    name: Option<String>,
    authenticated: Option<bool>,
    anonymous: Option<bool>,
    #[serde(default)]
    authorities: Vec<String>,
}

/// The fields of `/crumbIssuer/api/json` the connector reads (never the crumb).
#[derive(Debug, Deserialize)]
struct CrumbIssuer {
    #[serde(rename = "_class")]
    class: Option<String>,
    #[serde(rename = "crumbRequestField")]
    crumb_request_field: Option<String>,
}

/// The Jenkins connector; see the [module docs](self).
#[derive(Debug)]
pub struct JenkinsConnector {
    http: HttpClient,
    clock: Arc<dyn Clock>,
}

/// Builds a [`JenkinsConnector`]; setters never fail, [`build`](Self::build) validates.
#[derive(Debug, Default)]
pub struct JenkinsConnectorBuilder {
    policy: HttpPolicy,
    clock: Option<Arc<dyn Clock>>,
}

impl JenkinsConnectorBuilder {
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
    pub fn build(self) -> Result<JenkinsConnector> {
        Ok(JenkinsConnector {
            http: HttpClient::new(self.policy)?,
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
        })
    }
}

/// `X-Jenkins`, when the answer came from Jenkins.
fn version_of(response: &HttpResponse) -> Option<String> {
    response
        .header("x-jenkins")
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| v.chars().take(64).collect())
}

/// `"Jenkins <version>"` or `"Jenkins"`.
fn jenkins(version: Option<&str>) -> String {
    match version {
        Some(v) => format!("Jenkins {v}"),
        None => "Jenkins".to_owned(),
    }
}

/// Adds the `version` detail when known.
fn with_version(result: CheckResult, version: Option<&str>) -> CheckResult {
    match version {
        Some(v) => result.with_detail("version", v),
        None => result,
    }
}

/// Who the caller is, as `/whoAmI` said.
struct Identity {
    version: Option<String>,
    name: String,
    authorities: Vec<String>,
}

impl JenkinsConnector {
    /// A builder with the default policy.
    pub fn builder() -> JenkinsConnectorBuilder {
        JenkinsConnectorBuilder::default()
    }

    fn failed(&self, check: &Check<'_>, what: &str, response: &HttpResponse) -> CheckResult {
        let code = classify(response, self.clock.now()).unwrap_or(FailureCode::InvalidResponse);
        let version = version_of(response);
        let message = match &code {
            FailureCode::PermissionDenied {
                missing_scope: Some(permission),
            } => format!(
                "{what} answered 403 ({}): the user lacks the {} permission",
                jenkins(version.as_deref()),
                permission_label(permission)
            ),
            _ if is_html(response) => format!(
                "{what} answered {} ({})",
                response.status.as_u16(),
                jenkins(version.as_deref())
            ),
            _ => http_failure_message(what, response),
        };
        with_version(check.failed(code, message), version.as_deref())
    }

    /// `GET /whoAmI/api/json` with the API token: the identity, or the failed result.
    async fn who_am_i(
        &self,
        check: &Check<'_>,
        config: &JenkinsConfig,
    ) -> std::result::Result<Identity, CheckResult> {
        const WHAT: &str = "GET /whoAmI/api/json";
        let base = &check.ctx.integration.base_url;
        let request = HttpRequest::get(base.join("whoAmI/api/json"))
            .basic_auth(&config.username, check.ctx.secret.as_ref());
        let response = check.send(request).await?;
        let version = version_of(&response);
        match response.status.as_u16() {
            200 => {}
            401 => {
                let why = if check.ctx.secret.is_none() {
                    "no API token configured".to_owned()
                } else {
                    format!(
                        "the API token of {} was refused (wrong, revoked, or not this user's)",
                        config.username
                    )
                };
                return Err(with_version(
                    check.failed(
                        FailureCode::Unauthenticated,
                        format!(
                            "{WHAT} answered 401 ({}): {why}",
                            jenkins(version.as_deref())
                        ),
                    ),
                    version.as_deref(),
                ));
            }
            404 if version.is_none() => {
                return Err(check.failed(
                    FailureCode::NotFound,
                    format!(
                        "{WHAT} answered 404 without an X-Jenkins header: no Jenkins at {base} \
                         (check the base URL and Jenkins' context path, e.g. https://host/jenkins)"
                    ),
                ));
            }
            _ => return Err(self.failed(check, WHAT, &response)),
        }
        let who: WhoAmI = response
            .json()
            .ok()
            .filter(|w: &WhoAmI| w.anonymous.is_some() || w.authenticated.is_some())
            .ok_or_else(|| {
                with_version(
                    check.failed(
                        FailureCode::InvalidResponse,
                        format!("{WHAT}: not Jenkins' whoAmI answer"),
                    ),
                    version.as_deref(),
                )
            })?;
        if who.anonymous == Some(true) || who.authenticated == Some(false) {
            let why = if check.ctx.secret.is_none() {
                "no API token configured".to_owned()
            } else {
                "Jenkins served the call as anonymous: the Basic credentials were not applied \
                 (a proxy in front of Jenkins may drop the Authorization header)"
                    .to_owned()
            };
            return Err(with_version(
                check
                    .failed(
                        FailureCode::Unauthenticated,
                        format!(
                            "{WHAT} answered 200 ({}) but as anonymous: {why}",
                            jenkins(version.as_deref())
                        ),
                    )
                    .with_detail("anonymous", true),
                version.as_deref(),
            ));
        }
        Ok(Identity {
            version,
            name: who.name.unwrap_or_else(|| config.username.clone()),
            authorities: who.authorities.into_iter().take(100).collect(),
        })
    }

    /// `GET /crumbIssuer/api/json`: `{enabled, crumb_request_field, issuer}`; never the crumb.
    async fn crumb_issuer(
        &self,
        check: &Check<'_>,
        config: &JenkinsConfig,
    ) -> std::result::Result<Value, CheckResult> {
        const WHAT: &str = "GET /crumbIssuer/api/json";
        let request = HttpRequest::get(check.ctx.integration.base_url.join("crumbIssuer/api/json"))
            .basic_auth(&config.username, check.ctx.secret.as_ref());
        let response = check.send(request).await?;
        match response.status.as_u16() {
            200 => {
                let issuer: CrumbIssuer = response.json().map_err(|_| {
                    with_version(
                        check.failed(
                            FailureCode::InvalidResponse,
                            format!("{WHAT}: not Jenkins' crumb issuer answer"),
                        ),
                        version_of(&response).as_deref(),
                    )
                })?;
                Ok(json!({
                    "enabled": true,
                    "crumb_request_field": issuer.crumb_request_field,
                    "issuer": issuer.class,
                }))
            }
            404 => Ok(json!({"enabled": false})),
            _ => Err(self.failed(check, WHAT, &response)),
        }
    }

    async fn steps(
        &self,
        check: &Check<'_>,
        full: bool,
    ) -> std::result::Result<CheckResult, CheckResult> {
        let config = JenkinsConfig::parse(&check.ctx.integration.configuration)
            .map_err(|e| check.failed(FailureCode::InvalidConfig, e.to_string()))?;
        let me = self.who_am_i(check, &config).await?;
        let version = me.version.as_deref();
        let user = json!({"name": me.name, "authorities": me.authorities});
        if !full {
            return Ok(with_version(
                check
                    .passed(format!(
                        "{}: authenticated as {}",
                        jenkins(version),
                        me.name
                    ))
                    .with_detail("user", user),
                version,
            ));
        }
        let csrf = self
            .crumb_issuer(check, &config)
            .await
            .map_err(|r| with_version(r, version))?;
        let protection = if csrf["enabled"] == false {
            "CSRF protection is OFF (the crumb issuer answered 404)".to_owned()
        } else {
            match csrf["crumb_request_field"].as_str() {
                Some(field) => format!("CSRF protection on ({field})"),
                None => "CSRF protection on".to_owned(),
            }
        };
        Ok(with_version(
            check
                .passed(format!(
                    "{}: authenticated as {}; {protection}",
                    jenkins(version),
                    me.name
                ))
                .with_detail("user", user)
                .with_detail("csrf", csrf),
            version,
        ))
    }
}

fn is_html(response: &HttpResponse) -> bool {
    response
        .header("content-type")
        .is_some_and(|c| c.to_ascii_lowercase().contains("html"))
}

/// The provider-specific findings of a Jenkins check; see
/// [`IntegrationConnector::findings`].
fn findings(integration: &Integration, result: &CheckResult) -> Vec<Finding> {
    let user = JenkinsConfig::parse(&integration.configuration)
        .map(|c| c.username)
        .unwrap_or_else(|_| "<user>".to_owned());
    let base = integration.base_url.as_str();
    let security_page = format!("{base}/user/{}/security", crate::http::path_segment(&user));
    let store = match &integration.auth_ref {
        Some(r) => format!("Store the new token in the secret backend behind {r}."),
        None => {
            "Store the new token in the secret backend and set the integration's auth ref to it."
                .to_owned()
        }
    };
    let mut out = Vec::new();
    match &result.failure {
        Some(FailureCode::Unauthenticated) => out.push(
            Finding::new(
                Severity::Error,
                "unauthenticated",
                format!("Jenkins refused the API token of {user}"),
                result.message.clone(),
            )
            .with_steps([
                format!(
                    "Sign in to Jenkins as {user} and open {security_page} (older Jenkins: \
                     {base}/user/{}/configure).",
                    crate::http::path_segment(&user)
                ),
                "Under API Token, choose Add new Token, generate it and copy it: Jenkins shows \
                 it once."
                    .to_owned(),
                store,
                format!(
                    "Check that the integration's username is the Jenkins user ID ({user}), not \
                     the display name: a token only works with its own user."
                ),
                "If Jenkins answered as anonymous, check that a proxy in front of it forwards \
                 the Authorization header."
                    .to_owned(),
            ])
            .with_api_call(format!("GET {security_page}"))
            .with_doc_link(TOKEN_DOC),
        ),
        Some(FailureCode::PermissionDenied { missing_scope }) => {
            let permission = permission_label(missing_scope.as_deref().unwrap_or(OVERALL_READ));
            out.push(
                Finding::new(
                    Severity::Error,
                    "missing_scope",
                    format!("{user} lacks the Jenkins {permission} permission"),
                    result.message.clone(),
                )
                .with_steps([
                    format!(
                        "In Manage Jenkins » Security » Authorization, grant {user} (or a group \
                         it belongs to) {permission}."
                    ),
                    "With matrix or role-based authorization, add the permission to the user's \
                     row or role, then save."
                        .to_owned(),
                    "Run the doctor again.".to_owned(),
                ])
                .with_doc_link(PERMISSIONS_DOC),
            );
        }
        Some(FailureCode::NotFound) => out.push(
            Finding::new(
                Severity::Error,
                "not_found",
                format!("No Jenkins answers at {base}"),
                result.message.clone(),
            )
            .with_steps([
                "Check the base URL: a Jenkins served under a context path needs it in the base \
                 URL (https://host/jenkins, as Jenkins' own URL setting shows it)."
                    .to_owned(),
                "Check that a proxy in front of Jenkins routes /whoAmI/ to it.".to_owned(),
            ])
            .with_api_call(format!("curl -sI {base}/login")),
        ),
        _ => {}
    }
    if result.is_success()
        && result
            .details
            .get("csrf")
            .is_some_and(|c| c["enabled"] == false)
    {
        out.push(
            Finding::new(
                Severity::Warning,
                "csrf_protection_disabled",
                "Jenkins has CSRF protection turned off",
                "GET /crumbIssuer/api/json answered 404: no crumb issuer is configured, so any \
                 web site a signed-in Jenkins user visits can trigger actions as that user.",
            )
            .with_steps([
                "In Manage Jenkins » Security » CSRF Protection, select the Default Crumb Issuer \
                 and save.",
                "If that section is missing, CSRF protection was disabled with the system property \
                 hudson.security.csrf.GlobalCrumbIssuerConfiguration.DISABLE_CSRF_PROTECTION: \
                 remove it from the controller's Java options and restart Jenkins.",
                "Scripted clients that use API tokens need no crumb, so PathOps keeps working.",
            ])
            .with_api_call(format!("GET {base}/crumbIssuer/api/json"))
            .with_doc_link(CSRF_DOC),
        );
    }
    out
}

#[async_trait]
impl IntegrationConnector for JenkinsConnector {
    fn provider(&self) -> Provider {
        Provider::Jenkins
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new([Capability::TestConnection, Capability::HealthCheck])
    }

    async fn validate_config(&self, configuration: &Configuration) -> Result<()> {
        JenkinsConfig::parse(configuration)
            .map(|_| ())
            .map_err(Error::from)
    }

    #[instrument(skip_all, fields(integration_id = %ctx.integration.id, tenant_id = %ctx.integration.tenant_id, provider = "jenkins", action = "test_connection"))]
    async fn test_connection(&self, ctx: &ConnectorContext) -> CheckResult {
        let check = Check::start(&self.http, ctx);
        match self.steps(&check, true).await {
            Ok(r) | Err(r) => r,
        }
    }

    #[instrument(skip_all, fields(integration_id = %ctx.integration.id, tenant_id = %ctx.integration.tenant_id, provider = "jenkins", action = "check_health"))]
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
    fn permission_names_and_segments() {
        assert_eq!(permission_label(OVERALL_READ), "Overall/Read");
        assert_eq!(permission_label("x.Y"), "x.Y");
        assert_eq!(
            crate::http::path_segment("jane doe@corp"),
            "jane%20doe%40corp"
        );
        assert_eq!(crate::http::path_segment("ci-bot_1.x~"), "ci-bot_1.x~");
    }
}
