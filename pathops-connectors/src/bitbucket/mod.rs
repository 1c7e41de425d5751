//! Bitbucket: the [SCM connector](BitbucketConnector) for Bitbucket Data Center (formerly
//! Server), with the doctor's webhook round trip through Data Center's test endpoint, and for
//! Bitbucket Cloud, which has no test endpoint. Both editions are
//! [`Provider::Bitbucket`](pathops_core::Provider::Bitbucket); the configuration's `edition`
//! ([`BitbucketConfig`]) says which one an integration is. Deliveries of both are received at
//! `/webhooks/bitbucket` and verified by `X-Hub-Signature: sha256=…`
//! ([`verify_bitbucket_signature`](pathops_core::webhook::verify_bitbucket_signature)).
//!
//! # Data Center
//!
//! | operation | calls |
//! |---|---|
//! | [`test_connection`](pathops_core::IntegrationConnector::test_connection) | `GET /rest/api/1.0/application-properties` (liveness and version; a refused token is 401 here), `GET /rest/api/1.0/projects/{key}/repos/{slug}` (access, `REPO_READ`; the caller from `X-AUSERNAME`); with a `hook_id`: `GET …/webhooks/{id}` (`REPO_ADMIN`; active, events, URL) |
//! | [`check_health`](pathops_core::IntegrationConnector::check_health) | `GET /rest/api/1.0/projects/{key}/repos/{slug}`, the cheapest call proving both the token and the access |
//! | [`expected_delivery`](pathops_core::IntegrationConnector::expected_delivery) | none: a Bitbucket delivery (`/webhooks/bitbucket`) with `X-Event-Key: diagnostics:ping`; its `X-Request-Id` is the report's evidence |
//! | [`trigger_delivery`](pathops_core::IntegrationConnector::trigger_delivery) | `GET …/webhooks/{id}` (an inactive hook is reported before triggering), then `POST /rest/api/latest/projects/{key}/repos/{slug}/webhooks/test?webhookId={id}&url={hook URL}` (`REPO_ADMIN`), which sends the ping **inside the call** and answers with what the receiver said |
//!
//! Authentication: an HTTP access token (personal, project or repository) as `Authorization:
//! Bearer <token>`, or with `username` configured, HTTP Basic with the secret as the password.
//! Responses to an authenticated call name the caller in `X-AUSERNAME`.
//!
//! | answer | result |
//! |---|---|
//! | 400 | `invalid_config` (the test endpoint refuses the URL it was given) |
//! | 401 `AuthorisationException` | `permission_denied`: Data Center answers **401** when an authenticated caller lacks a permission; the permission the call needs (`REPO_READ`, `REPO_ADMIN`) is named |
//! | 401 otherwise | `unauthenticated` (unknown, expired or revoked token, wrong password) |
//! | 403 | `permission_denied` (a token whose own permission is lower than the call's, XSRF) |
//! | 404 | `not_found`, cause `repo_not_found` or `hook_not_found` |
//! | 429 | `rate_limited`, reset from `Retry-After` (Data Center's token-bucket limiter; `X-RateLimit-Remaining` kept as a detail) |
//! | 5xx | `server_error` (503 while the instance starts, is in maintenance or is read-only) |
//!
//! The test endpoint's answer (`RestDetailedInvocation`) is read as: `result.outcome`
//! `SUCCESS` → passed; `FAILURE` (the receiver answered, not 2xx) with the receiver's 401 or
//! 403 → `delivery_rejected` (the receiver refused the signature: authoritative evidence that
//! the hook's secret is wrong), 409 (the receiver's replay guard) → `delivery_not_received`,
//! cause `receiver_duplicate`, another status → `delivery_failed`; `ERROR` (no answer:
//! connection refused, unknown host, TLS, timeout) → `delivery_failed`, cause
//! `receiver_unreachable`, with the error as `delivery_error`.
//!
//! **Assumed** (the reference marks these unverified; checked against client libraries and
//! third-party receivers only): the test endpoint's path and its `webhookId`, `url`,
//! `sslVerificationRequired` parameters; that with `webhookId` the ping carries the stored
//! hook's secret as `X-Hub-Signature` (third-party receivers accept unsigned pings, which
//! suggests that a test without `webhookId` — the create form's — sends none; an unsigned
//! ping is refused by the receiver and reported as a wrong secret, never as a pass); the
//! answer's shape (`result.outcome`/`result.description`, `response.statusCode`); the ping's
//! body `{"test": true}`; `X-AUSERNAME` naming the caller; that 401 with
//! `com.atlassian.bitbucket.AuthorisationException` is the permission refusal; the rate
//! limiter's headers.
//!
//! The ping names no repository or hook, so the doctor's challenge waits for any
//! `diagnostics:ping` its secrets verify: two Bitbucket integrations checked at once whose
//! hooks share a secret cannot be told apart (one may answer the other's challenge). Give each
//! hook its own secret.
//!
//! Because the ping's body is the same every time and Bitbucket's signature covers only the
//! body, a second test of one hook inside the receiver's replay window is refused as a
//! duplicate; the doctor's finding says to wait out the window.
//!
//! # Cloud
//!
//! | operation | calls |
//! |---|---|
//! | [`test_connection`](pathops_core::IntegrationConnector::test_connection) | `GET /2.0/user` (API tokens and app passwords; scope `read:user:bitbucket` / `account`, a credential without it is a warning; access tokens are not users and skip it), `GET /2.0/repositories/{workspace}/{slug}`; with a `hook_uuid`: `GET …/hooks/{uuid}` (`active`, `events`, `secret_set`; scope `read:webhook:bitbucket` / `webhook`, repository admin) |
//! | [`check_health`](pathops_core::IntegrationConnector::check_health) | `GET /2.0/repositories/{workspace}/{slug}` |
//! | [`expected_delivery`](pathops_core::IntegrationConnector::expected_delivery) | a Bitbucket delivery whose `X-Hook-UUID` is the hook's, any event |
//! | [`trigger_delivery`](pathops_core::IntegrationConnector::trigger_delivery) | no test endpoint exists: `GET …/hooks/{uuid}` (an inactive hook, or one without a secret, is reported), then the **receiver's record** ([`with_receiver_record`](BitbucketConnectorBuilder::with_receiver_record)) is searched for the hook's last verified delivery; one at most [`EVIDENCE_MAX_AGE`] old answers the doctor's challenge (its `X-Request-UUID` is the evidence); otherwise `unsupported`, cause `no_test_endpoint` ("cannot trigger a test") or `evidence_stale`, with the steps to send a real event — never a pass |
//!
//! Authentication: an API token as Basic with the Atlassian account's **e-mail**; an app
//! password as Basic with the Bitbucket **user name** (app passwords stopped working on
//! [`APP_PASSWORDS_END`], 9 June 2026: from then on, by the connector's clock, such an
//! integration fails before any call, with `token_expired`; before, it passes with the
//! deadline as `token_expires_at`, so the doctor's expiry warning and Cloud's own
//! `app_password_deprecated` warn, by the catalog's clock); a repository, project or workspace
//! access token as `Bearer`. A refused credential is 401 (`WWW-Authenticate: Basic
//! realm="Bitbucket.org HTTP"`), a missing scope 403 naming the required scopes in
//! `error.detail.required` ([`classify_cloud`]), 404 a repository that does not exist or is not
//! readable, 429 rate limited (`Retry-After`), 5xx `server_error`.
//!
//! The receiver records a real delivery only when it verifies it with a **standing** secret
//! (`WebhookReceiver::with_secrets` for `bitbucket`): configure the hook's secret there, or
//! the evidence never appears. A real event arriving while the doctor's challenge is pending
//! is correlated directly, as for any provider. The record lives in the receiver's memory
//! (the last 100 deliveries), so a restart forgets it.
//!
//! **Assumed**: that Cloud sends `X-Hook-UUID` bare or in braces (both are read); the 403 body
//! for a missing scope; that a repository the credential cannot read is 404.

mod cloud;
mod cloud_findings;
mod config;
mod dc;
mod findings;

pub use cloud::{EVIDENCE_MAX_AGE, classify_cloud, cloud_root};
pub use config::{APP_PASSWORDS_END, BitbucketConfig, CloudAuth, Edition};
pub use dc::{BitbucketConnector, BitbucketConnectorBuilder, Invocation, InvocationOutcome};

use pathops_core::FailureCode;
use time::OffsetDateTime;

use crate::http::{HttpResponse, status};

/// The REST root of a Data Center instance: `<base URL>/rest/api/1.0`, kept as is when the
/// base URL already ends with `/rest/api/1.0` or `/rest/api/latest`.
///
/// ```
/// use pathops_connectors::bitbucket::rest_root;
/// use pathops_core::BaseUrl;
///
/// let root = |s: &str| rest_root(&BaseUrl::parse(s).unwrap());
/// assert_eq!(root("https://bitbucket.acme.example"), "https://bitbucket.acme.example/rest/api/1.0");
/// assert_eq!(root("https://acme.example/bitbucket/"), "https://acme.example/bitbucket/rest/api/1.0");
/// assert_eq!(root("https://acme.example/rest/api/latest"), "https://acme.example/rest/api/latest");
/// ```
pub fn rest_root(base_url: &pathops_core::BaseUrl) -> String {
    let base = base_url.as_str();
    if base.ends_with("/rest/api/1.0") || base.ends_with("/rest/api/latest") {
        base.to_owned()
    } else {
        base_url.join("rest/api/1.0")
    }
}

/// The web root (where settings pages live): the base URL without a REST suffix.
pub(crate) fn web_root(base_url: &pathops_core::BaseUrl) -> String {
    let base = base_url.as_str();
    base.strip_suffix("/rest/api/1.0")
        .or_else(|| base.strip_suffix("/rest/api/latest"))
        .unwrap_or(base)
        .to_owned()
}

/// The first error of a Data Center error body (`{"errors": [{"message", "exceptionName"}]}`):
/// its message and its exception's name.
pub fn first_error(response: &HttpResponse) -> (Option<String>, Option<String>) {
    let body: serde_json::Value = response.json().unwrap_or_default();
    let first = &body["errors"][0];
    (
        first["message"].as_str().map(str::to_owned),
        first["exceptionName"].as_str().map(str::to_owned),
    )
}

/// Data Center's classifier: `None` for 2xx; 401 with an `AuthorisationException` is
/// permission denied (an authenticated caller without the permission), any other 401
/// unauthenticated; 429 rate limited with `Retry-After`; the rest as
/// [`status::default_failure`].
pub fn classify_data_center(response: &HttpResponse, now: OffsetDateTime) -> Option<FailureCode> {
    if response.status.as_u16() == 401 {
        let (_, exception) = first_error(response);
        if exception.is_some_and(|e| e.ends_with(".AuthorisationException")) {
            return Some(FailureCode::PermissionDenied {
                missing_scope: None,
            });
        }
        return Some(FailureCode::Unauthenticated);
    }
    status::default_failure(response.status, &response.headers, now)
}

/// `"<what> answered <status>[: <Bitbucket's message>]"`: the first message of Data Center's
/// error body (at most 200 characters), else what
/// [`http_failure_message`](crate::check::http_failure_message) finds in the body.
pub(crate) fn failure_message(what: &str, response: &HttpResponse) -> String {
    match first_error(response).0 {
        Some(message) if !message.trim().is_empty() => {
            let message: String = message.trim().chars().take(200).collect();
            format!("{what} answered {}: {message}", response.status.as_u16())
        }
        _ => crate::check::http_failure_message(what, response),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn answer(status: u16, body: &str, headers: &[(&'static str, &str)]) -> HttpResponse {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        HttpResponse {
            status: reqwest::StatusCode::from_u16(status).unwrap(),
            headers: map,
            body: body.as_bytes().to_vec(),
            url: "http://127.0.0.1/rest/api/1.0/x".parse().unwrap(),
        }
    }

    #[test]
    fn data_centers_401s_are_told_apart_by_their_exception() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let denied = r#"{"errors":[{"context":null,"message":"You are not permitted to access this resource","exceptionName":"com.atlassian.bitbucket.AuthorisationException"}]}"#;
        assert_eq!(
            classify_data_center(&answer(401, denied, &[]), now),
            Some(FailureCode::PermissionDenied {
                missing_scope: None
            })
        );
        let refused = r#"{"errors":[{"context":null,"message":"Authentication failed. Please check your credentials and try again.","exceptionName":"com.atlassian.bitbucket.auth.IncorrectPasswordAuthenticationException"}]}"#;
        assert_eq!(
            classify_data_center(&answer(401, refused, &[]), now),
            Some(FailureCode::Unauthenticated)
        );
        assert_eq!(
            classify_data_center(&answer(401, "<html>", &[]), now),
            Some(FailureCode::Unauthenticated)
        );
        assert_eq!(
            classify_data_center(&answer(429, "{}", &[("retry-after", "30")]), now),
            Some(FailureCode::RateLimited {
                reset_at: Some(now + time::Duration::seconds(30))
            })
        );
        assert_eq!(
            classify_data_center(&answer(503, "{}", &[]), now),
            Some(FailureCode::ServerError { status: 503 })
        );
        assert_eq!(classify_data_center(&answer(200, "{}", &[]), now), None);
        assert_eq!(
            failure_message("GET /x", &answer(401, refused, &[])),
            "GET /x answered 401: Authentication failed. Please check your credentials and try again."
        );
    }
}
