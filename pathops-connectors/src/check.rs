//! Plumbing every connector's checks share: one timer per check, transport errors turned into
//! failed results, and the message of an HTTP failure.

use std::time::Instant;

use pathops_core::{CheckResult, ConnectorContext, FailureCode};

use crate::http::{HttpClient, HttpRequest, HttpResponse, status};

/// One check in progress: the context, the client and the start time.
pub(crate) struct Check<'a> {
    pub(crate) http: &'a HttpClient,
    pub(crate) ctx: &'a ConnectorContext,
    started: Instant,
    /// Where credentials may go when it is not the base URL's origin.
    api_root: Option<String>,
}

impl<'a> Check<'a> {
    pub(crate) fn start(http: &'a HttpClient, ctx: &'a ConnectorContext) -> Self {
        Self {
            http,
            ctx,
            started: Instant::now(),
            api_root: None,
        }
    }

    /// Binds credentials to `root`'s origin instead of the base URL's (an API on another
    /// origin, derived from the integration).
    #[cfg(feature = "github-app")]
    pub(crate) fn bind_to(&mut self, root: &str) {
        self.api_root = Some(root.to_owned());
    }

    /// Sends `request`; a transport error becomes the failed result to return.
    pub(crate) async fn send(&self, request: HttpRequest) -> Result<HttpResponse, CheckResult> {
        match &self.api_root {
            Some(root) => self.send_to(root, request).await,
            None => self
                .http
                .send(self.ctx, request)
                .await
                .map_err(|e| status::transport_failed(&e, self.started)),
        }
    }

    /// Sends `request` with its credential bound to `api_root`'s origin instead of the base
    /// URL's (a token service, a provider API); a transport error becomes the failed result.
    pub(crate) async fn send_to(
        &self,
        api_root: &str,
        request: HttpRequest,
    ) -> Result<HttpResponse, CheckResult> {
        self.http
            .send_to_api(self.ctx, api_root, request)
            .await
            .map_err(|e| status::transport_failed(&e, self.started))
    }

    /// A failed result timed from the start.
    pub(crate) fn failed(&self, code: FailureCode, message: impl Into<String>) -> CheckResult {
        CheckResult::failed(code, self.started.elapsed(), message)
    }

    /// A passed result timed from the start.
    pub(crate) fn passed(&self, message: impl Into<String>) -> CheckResult {
        CheckResult::passed(self.started.elapsed(), message)
    }
}

/// `"<what> answered <status>[: <tool message>]"`; the tool's message is taken from a JSON
/// `message`/`error` field or the start of the body, at most 200 characters.
pub(crate) fn http_failure_message(what: &str, response: &HttpResponse) -> String {
    let detail = serde_json::from_slice::<serde_json::Value>(&response.body)
        .ok()
        .and_then(|v| {
            ["message", "error_description", "error", "errors"]
                .iter()
                .find_map(|k| v.get(*k).cloned())
        })
        .map(|v| match v {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        })
        .unwrap_or_else(|| response.body_excerpt(200));
    let detail: String = detail.chars().take(200).collect();
    if detail.trim().is_empty() {
        format!("{what} answered {}", response.status.as_u16())
    } else {
        format!(
            "{what} answered {}: {}",
            response.status.as_u16(),
            detail.trim()
        )
    }
}

/// Refuses the first configuration key not in `keys` (nor an
/// [`IntegrationHttp`](crate::http::IntegrationHttp) key), naming it: a misspelt key would
/// otherwise be ignored silently.
#[cfg(any(feature = "github-actions", feature = "gitlab-ci", feature = "gitea"))]
pub(crate) fn refuse_unknown_keys(
    configuration: &pathops_core::Configuration,
    keys: &[&str],
) -> Result<(), pathops_core::validate::ValidationError> {
    use crate::http::IntegrationHttp;
    use pathops_core::validate::{Problem, ValidationError};
    let known = |k: &str| {
        keys.contains(&k) || k == IntegrationHttp::PROXY_KEY || k == IntegrationHttp::CA_KEY
    };
    match configuration.as_map().keys().find(|k| !known(k)) {
        Some(key) => Err(ValidationError::new(
            "configuration",
            Problem::AtKey {
                key: key.clone(),
                problem: Box::new(Problem::UnknownValue),
            },
        )),
        None => Ok(()),
    }
}
