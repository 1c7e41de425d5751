//! Bitbucket Data Center's own advice for the connection test and the webhook test round
//! trip: the page, permission, API call and documentation of the fix. Findings reuse the
//! doctor's generic codes (`unauthenticated`, `missing_scope`, `not_found`, and for the round
//! trip `webhook_missing_scope`, `webhook_not_found`, `webhook_tool_unhealthy`,
//! `webhook_token_mismatch`, `receiver_unreachable`, `delivery_not_received`) so they replace
//! its generic advice; the result's `cause` detail says which case it is. The pages named are
//! Data Center's (`/plugins/servlet/webhooks/projects/{key}/repos/{slug}` for a repository's
//! webhooks, `/projects/{key}/repos/{slug}/permissions`, `/plugins/servlet/access-tokens/manage`
//! for a user's HTTP access tokens), assumed from recent versions.

use pathops_core::connector::detail;
use pathops_core::{CheckResult, FailureCode, Finding, Integration, Severity};
use serde_json::Value;

use super::web_root;

const DOC_TOKENS: &str =
    "https://confluence.atlassian.com/bitbucketserver/http-access-tokens-939515499.html";
const DOC_PERMISSIONS: &str =
    "https://confluence.atlassian.com/bitbucketserver/using-repository-permissions-776639771.html";
const DOC_WEBHOOKS: &str =
    "https://confluence.atlassian.com/bitbucketserver/manage-webhooks-in-bitbucket-938025878.html";

/// What the advice names: from the result, else the configuration, else placeholders.
struct Names {
    web: String,
    key: String,
    slug: String,
    hook: String,
    user: String,
}

impl Names {
    fn repo(&self) -> String {
        format!("{}/{}", self.key, self.slug)
    }

    fn hooks_page(&self) -> String {
        format!(
            "{}/plugins/servlet/webhooks/projects/{}/repos/{}",
            self.web, self.key, self.slug
        )
    }

    fn permissions_page(&self) -> String {
        format!(
            "{}/projects/{}/repos/{}/permissions",
            self.web, self.key, self.slug
        )
    }

    fn rest(&self, rest: &str) -> String {
        format!(
            "/rest/api/1.0/projects/{}/repos/{}{rest}",
            self.key, self.slug
        )
    }
}

fn names(integration: &Integration, result: &CheckResult) -> Names {
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let config = |key: &str, default: &str| {
        integration
            .configuration
            .get(key)
            .and_then(text)
            .unwrap_or_else(|| default.to_owned())
    };
    Names {
        web: web_root(&integration.base_url),
        key: config("project_key", "{projectKey}"),
        slug: config("repo_slug", "{repositorySlug}"),
        hook: result
            .details
            .get(detail::HOOK_ID)
            .and_then(text)
            .unwrap_or_else(|| config("hook_id", "{webhookId}")),
        user: result
            .details
            .get("user")
            .and_then(|u| u["name"].as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| "the token's user".to_owned()),
    }
}

fn cause(result: &CheckResult) -> Option<&str> {
    result.details.get("cause").and_then(Value::as_str)
}

fn permission(result: &CheckResult) -> &str {
    match &result.failure {
        Some(FailureCode::PermissionDenied {
            missing_scope: Some(p),
        }) => p,
        _ => "REPO_READ",
    }
}

fn permission_steps(n: &Names, permission: &str) -> Vec<String> {
    let level = if permission == "REPO_ADMIN" {
        "Repository admin"
    } else {
        "Repository read"
    };
    vec![
        format!(
            "Grant {} the {level} permission ({permission}) on {} at {} (or on its project).",
            n.user,
            n.repo(),
            n.permissions_page()
        ),
        format!(
            "An HTTP access token cannot exceed its own permission: if the token was created with less than {level}, create a new one with it and store it behind the integration's auth ref."
        ),
        "Run the doctor again.".to_owned(),
    ]
}

/// Findings for a connection test or health check.
pub(super) fn for_connection(integration: &Integration, result: &CheckResult) -> Vec<Finding> {
    let n = names(integration, result);
    match (&result.failure, cause(result)) {
        (Some(FailureCode::Unauthenticated), _) => vec![
            Finding::new(
                Severity::Error,
                "unauthenticated",
                "Bitbucket refused the token",
                result.message.clone(),
            )
            .with_steps([
                format!(
                    "Create an HTTP access token with Repository read (Repository admin to test the hook): for a user under Manage account → HTTP access tokens ({}/plugins/servlet/access-tokens/manage), or for the repository under its settings → HTTP access tokens.",
                    n.web
                ),
                "Check that it has not expired or been revoked, and that `username` is set only when the secret is a password.".to_owned(),
                "Store it behind the integration's auth ref and run the doctor again.".to_owned(),
            ])
            .with_api_call("GET /rest/api/1.0/application-properties")
            .with_doc_link(DOC_TOKENS),
        ],
        (Some(FailureCode::PermissionDenied { .. }), _) => {
            let p = permission(result);
            vec![
                Finding::new(
                    Severity::Error,
                    "missing_scope",
                    format!("The token lacks {p} on {}", n.repo()),
                    result.message.clone(),
                )
                .with_steps(permission_steps(&n, p))
                .with_api_call(format!("GET {}", n.rest("")))
                .with_doc_link(DOC_PERMISSIONS),
            ]
        }
        (Some(FailureCode::NotFound), Some("hook_not_found")) => vec![
            Finding::new(
                Severity::Error,
                "not_found",
                format!("{} has no webhook {}", n.repo(), n.hook),
                result.message.clone(),
            )
            .with_steps([
                format!(
                    "Check hook_id against the webhooks listed at {} (or with the API call).",
                    n.hooks_page()
                ),
                create_hook_step(&n),
            ])
            .with_api_call(format!("GET {}", n.rest("/webhooks")))
            .with_doc_link(DOC_WEBHOOKS),
        ],
        (Some(FailureCode::NotFound), _) => vec![
            Finding::new(
                Severity::Error,
                "not_found",
                format!("{} does not exist on {}", n.repo(), n.web),
                result.message.clone(),
            )
            .with_steps([
                "Check project_key and repo_slug in the configuration: the slug is the repository's name as it appears in its URL, lower case.".to_owned(),
                format!("List the project's repositories with the API call, or at {}/projects/{}.", n.web, n.key),
            ])
            .with_api_call(format!("GET /rest/api/1.0/projects/{}/repos", n.key)),
        ],
        _ => Vec::new(),
    }
}

fn create_hook_step(n: &Names) -> String {
    format!(
        "Or create a webhook at {} pointing at <PathOps public URL>/webhooks/bitbucket, with the secret behind webhook_secret_ref, the events you need, active, and set hook_id to its id.",
        n.hooks_page()
    )
}

/// Findings for the webhook test round trip.
pub(super) fn for_delivery(integration: &Integration, result: &CheckResult) -> Vec<Finding> {
    let n = names(integration, result);
    let error = result
        .detail_str(detail::DELIVERY_ERROR)
        .unwrap_or(&result.message)
        .to_owned();
    let hook_url = result
        .details
        .get("hook")
        .and_then(|h| h["url"].as_str())
        .unwrap_or("the hook's URL")
        .to_owned();
    let mut out = Vec::new();
    match (&result.failure, cause(result)) {
        (Some(FailureCode::PermissionDenied { .. }), _) => out.push(
            Finding::new(
                Severity::Error,
                "webhook_missing_scope",
                format!("The token cannot read or test the webhooks of {}", n.repo()),
                result.message.clone(),
            )
            .with_steps(permission_steps(&n, "REPO_ADMIN"))
            .with_doc_link(DOC_PERMISSIONS),
        ),
        (Some(FailureCode::NotFound), _) => out.push(
            Finding::new(
                Severity::Error,
                "webhook_not_found",
                format!("{} has no webhook {}", n.repo(), n.hook),
                result.message.clone(),
            )
            .with_steps([
                format!("Check hook_id against the webhooks listed at {}.", n.hooks_page()),
                create_hook_step(&n),
            ])
            .with_api_call(format!("GET {}", n.rest("/webhooks")))
            .with_doc_link(DOC_WEBHOOKS),
        ),
        (Some(FailureCode::Unhealthy), Some("hook_inactive")) => out.push(
            Finding::new(
                Severity::Error,
                "webhook_tool_unhealthy",
                format!("Webhook {} of {} is inactive", n.hook, n.repo()),
                result.message.clone(),
            )
            .with_steps([
                format!(
                    "Edit the webhook at {}, tick Active, Save: an inactive webhook is sent no events.",
                    n.hooks_page()
                ),
                "Run the doctor again.".to_owned(),
            ])
            .with_api_call(format!(
                "PUT {} with {{\"active\": true}}",
                n.rest(&format!("/webhooks/{}", n.hook))
            ))
            .with_doc_link(DOC_WEBHOOKS),
        ),
        (Some(FailureCode::DeliveryRejected), _) => out.push(
            Finding::new(
                Severity::Error,
                "webhook_token_mismatch",
                "The receiver refused the signature of Bitbucket's test ping",
                format!("Bitbucket reported the receiver's answer: {error}"),
            )
            .with_steps([
                format!(
                    "Edit webhook {} at {} and set its Secret to the secret behind the integration's webhook_secret_ref (Bitbucket signs with it as X-Hub-Signature: sha256=…).",
                    n.hook,
                    n.hooks_page()
                ),
                "A webhook without a secret sends no signature at all, which PathOps refuses the same way.".to_owned(),
                "During a rotation, list both the new and the previous secret's refs in webhook_secret_ref.".to_owned(),
                "Run the doctor again.".to_owned(),
            ])
            .with_doc_link(DOC_WEBHOOKS),
        ),
        (Some(FailureCode::DeliveryFailed), Some("receiver_unreachable")) => out.push(
            Finding::new(
                Severity::Error,
                "receiver_unreachable",
                "Bitbucket could not reach the PathOps receiver",
                format!("Bitbucket reported: {error}"),
            )
            .with_steps([
                format!(
                    "Check that {hook_url} is the receiver's public URL (<PathOps public URL>/webhooks/bitbucket) and resolves from the Bitbucket host."
                ),
                "If the receiver's firewall or load balancer has an IP allowlist, add the egress addresses of every Bitbucket Data Center node (a cluster sends from each node).".to_owned(),
                "If the Bitbucket host reaches the internet through a proxy, set the JVM's http(s).proxyHost / proxyPort and keep the receiver out of http.nonProxyHosts only if the proxy can reach it; restart Bitbucket.".to_owned(),
                "For an https receiver with a private CA, import it into Bitbucket's JVM truststore (or, for a test only, clear the webhook's SSL verification).".to_owned(),
                "Use the webhook's Test connection button to retry, then run the doctor again.".to_owned(),
            ])
            .with_api_call(format!("curl -sS -X POST {hook_url}   # from the Bitbucket host"))
            .with_doc_link(DOC_WEBHOOKS),
        ),
        (Some(FailureCode::DeliveryNotReceived), Some("receiver_duplicate")) => out.push(
            Finding::new(
                Severity::Warning,
                "delivery_not_received",
                "The receiver refused Bitbucket's test ping as a duplicate",
                format!("Bitbucket reported: {error}"),
            )
            .with_steps([
                "Data Center's test ping is the same body every time and its signature covers only the body, so a second test inside the receiver's replay window is refused as a replay.".to_owned(),
                "Run the doctor again once the replay window has passed.".to_owned(),
            ])
            .with_doc_link(DOC_WEBHOOKS),
        ),
        (Some(FailureCode::DeliveryFailed), _) => out.push(
            Finding::new(
                Severity::Error,
                "receiver_unreachable",
                "Bitbucket's test ping was refused by whatever answers at the hook's URL",
                format!("Bitbucket reported: {error}"),
            )
            .with_steps([
                format!(
                    "Check that {hook_url} is the PathOps receiver (<PathOps public URL>/webhooks/bitbucket), not another service or a proxy's error page."
                ),
                "Run the doctor again.".to_owned(),
            ])
            .with_doc_link(DOC_WEBHOOKS),
        ),
        (Some(FailureCode::DeliveryNotReceived), _) => out.push(
            Finding::new(
                Severity::Error,
                "delivery_not_received",
                "Bitbucket reported its test ping delivered, but no ping reached this PathOps",
                result.message.clone(),
            )
            .with_steps([
                format!(
                    "Check that {hook_url} points at this PathOps receiver: another service answered Bitbucket's ping with a 2xx."
                ),
                "Check under the webhook's View details at the hooks page which URL answered.".to_owned(),
            ])
            .with_doc_link(DOC_WEBHOOKS),
        ),
        _ => {}
    }
    out
}
