//! Gitea's authentication and refusals: the token header, the classifier and the scope a
//! refusal names.

use pathops_core::FailureCode;
use secrecy::SecretString;
use time::OffsetDateTime;

use crate::check::http_failure_message;
use crate::http::{HttpRequest, HttpResponse, status};

/// Adds `Authorization: token <TOKEN>`, Gitea's documented scheme (it also reads `bearer`,
/// Basic and deprecated query parameters; PathOps sends only this one). Without a secret the
/// request stays anonymous.
pub(crate) fn authorize(request: HttpRequest, secret: Option<&SecretString>) -> HttpRequest {
    match secret {
        Some(secret) => request.credential("authorization", "token ", secret),
        None => request,
    }
}

/// The scope a Gitea 403 names, from either wording of `tokenRequiresScopes`
/// (`routers/api/v1/api.go`): `token does not have at least one of required scope(s):
/// [read:user]` (Forgejo, older Gitea) or `token does not have at least one of required
/// scope(s), required=[read:user], token scope=…` (current Gitea). Several scopes come back
/// joined by a space. `None` for any other message.
///
/// ```
/// use pathops_connectors::gitea::missing_scope;
///
/// let legacy = "token does not have at least one of required scope(s): [read:user]";
/// assert_eq!(missing_scope(legacy).as_deref(), Some("read:user"));
/// let current = "token does not have at least one of required scope(s), required=[read:repository], token scope=read:user";
/// assert_eq!(missing_scope(current).as_deref(), Some("read:repository"));
/// assert_eq!(missing_scope("user should have specific read permission"), None);
/// ```
pub fn missing_scope(message: &str) -> Option<String> {
    if !message.contains("required scope(s)") {
        return None;
    }
    let start = message
        .find("required=[")
        .map(|i| i + "required=[".len())
        .or_else(|| message.find("scope(s): [").map(|i| i + "scope(s): [".len()))?;
    let rest = &message[start..];
    let inside = &rest[..rest.find(']')?];
    let scopes: Vec<&str> = inside
        .split([' ', ','])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    (!scopes.is_empty()).then(|| scopes.join(" "))
}

/// Gitea's classifier: `None` for 2xx; 401 unauthenticated (no token, an unknown one, or
/// one of a blocked user); 403 permission denied, with the scope when Gitea names one
/// ([`missing_scope`]); the rest as [`status::default_failure`] (Gitea sends no rate-limit
/// headers of its own; a 429 comes from a proxy, with `Retry-After` if any).
pub fn classify(response: &HttpResponse, now: OffsetDateTime) -> Option<FailureCode> {
    if response.status.as_u16() == 403 {
        let body: serde_json::Value = response.json().unwrap_or_default();
        let missing = body
            .get("message")
            .and_then(|m| m.as_str())
            .and_then(missing_scope);
        return Some(FailureCode::PermissionDenied {
            missing_scope: missing,
        });
    }
    status::default_failure(response.status, &response.headers, now)
}

/// [`http_failure_message`] without what Gitea echoes of the presented token: its 401 for an
/// unknown token reads `access token does not exist [sha: <the token>]`
/// (`models/auth/access_token.go`), so everything from `[sha:` to the closing bracket is
/// dropped.
pub(crate) fn failure_message(what: &str, response: &HttpResponse) -> String {
    let message = http_failure_message(what, response);
    match message.find("[sha:") {
        None => message,
        Some(start) => {
            let end = message[start..]
                .find(']')
                .map_or(message.len(), |e| start + e + 1);
            format!("{}[sha: redacted]{}", &message[..start], &message[end..])
        }
    }
}
