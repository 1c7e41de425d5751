//! Bitbucket Cloud's own advice: the retired app passwords, API token scopes, the repository's
//! webhook settings, and what to do since no test can be triggered. Codes reuse the doctor's
//! (`token_expired`, `unauthenticated`, `missing_scope`, `not_found`, `webhook_unsupported`,
//! `webhook_tool_unhealthy`, `webhook_not_found`, `webhook_missing_scope`) so they replace its
//! generic advice; `app_password_deprecated` (a passing app password, before 9 June 2026) is
//! Cloud's own.

use pathops_core::connector::detail;
use pathops_core::{CheckResult, FailureCode, Finding, Integration, Severity};
use serde_json::Value;

const DOC_API_TOKENS: &str = "https://support.atlassian.com/bitbucket-cloud/docs/api-tokens/";
const DOC_APP_PASSWORDS: &str = "https://www.atlassian.com/blog/bitbucket/bitbucket-cloud-transitions-to-api-tokens-enhancing-security-with-app-password-deprecation";
const DOC_WEBHOOKS: &str = "https://support.atlassian.com/bitbucket-cloud/docs/manage-webhooks/";
const DOC_IP_RANGES: &str = "https://support.atlassian.com/organization-administration/docs/ip-addresses-and-domains-for-atlassian-cloud-products/";

struct Names {
    workspace: String,
    slug: String,
    hook: String,
}

impl Names {
    fn repo(&self) -> String {
        format!("{}/{}", self.workspace, self.slug)
    }

    fn hooks_page(&self) -> String {
        format!(
            "https://bitbucket.org/{}/{}/admin/webhooks",
            self.workspace, self.slug
        )
    }

    fn hook_call(&self) -> String {
        format!(
            "/2.0/repositories/{}/{}/hooks/{{{}}}",
            self.workspace, self.slug, self.hook
        )
    }
}

fn names(integration: &Integration, result: &CheckResult) -> Names {
    let config = |key: &str, default: &str| {
        integration
            .configuration
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .trim_start_matches('{')
            .trim_end_matches('}')
            .to_owned()
    };
    Names {
        workspace: config("workspace", "{workspace}"),
        slug: config("repo_slug", "{repo_slug}"),
        hook: result
            .detail_str("hook_uuid")
            .map(str::to_owned)
            .unwrap_or_else(|| config("hook_uuid", "{hook_uuid}")),
    }
}

fn cause(result: &CheckResult) -> Option<&str> {
    result.detail_str("cause")
}

fn api_token_steps() -> Vec<String> {
    vec![
        "Create an API token at https://id.atlassian.com/manage-profile/security/api-tokens (Create API token with scopes, app Bitbucket) with read:user:bitbucket, read:repository:bitbucket and read:webhook:bitbucket.".to_owned(),
        "Set the integration's username to the Atlassian account's e-mail (Bitbucket authenticates API tokens with the e-mail, not the user name) and auth to api_token.".to_owned(),
        "Store the token behind the integration's auth ref and run the doctor again.".to_owned(),
    ]
}

/// Findings for a connection test or health check.
pub(super) fn for_connection(integration: &Integration, result: &CheckResult) -> Vec<Finding> {
    let n = names(integration, result);
    match (&result.failure, cause(result)) {
        (Some(FailureCode::Unauthenticated), Some("app_password_retired")) => vec![
            Finding::new(
                Severity::Error,
                "token_expired",
                "The integration uses a Bitbucket Cloud app password, which stopped working on 2026-06-09",
                result.message.clone(),
            )
            .with_steps(api_token_steps())
            .with_doc_link(DOC_APP_PASSWORDS),
        ],
        (Some(FailureCode::Unauthenticated), _) => vec![
            Finding::new(
                Severity::Error,
                "unauthenticated",
                "Bitbucket Cloud refused the credential",
                result.message.clone(),
            )
            .with_steps(
                std::iter::once("Check the credential and its user: an API token goes with the account's e-mail, an access token without a username.".to_owned())
                    .chain(api_token_steps()),
            )
            .with_doc_link(DOC_API_TOKENS),
        ],
        (Some(FailureCode::PermissionDenied { missing_scope }), _) => vec![
            Finding::new(
                Severity::Error,
                "missing_scope",
                match missing_scope {
                    Some(scope) => format!("The credential lacks the {scope} scope"),
                    None => format!("The credential may not read {}", n.repo()),
                },
                result.message.clone(),
            )
            .with_steps(api_token_steps())
            .with_doc_link(DOC_API_TOKENS),
        ],
        (Some(FailureCode::NotFound), Some("hook_not_found")) => vec![
            Finding::new(
                Severity::Error,
                "not_found",
                format!("{} has no webhook {{{}}}", n.repo(), n.hook),
                result.message.clone(),
            )
            .with_steps([format!(
                "Check hook_uuid against the webhooks at {} (or the API call).",
                n.hooks_page()
            )])
            .with_api_call(format!(
                "GET /2.0/repositories/{}/{}/hooks",
                n.workspace, n.slug
            ))
            .with_doc_link(DOC_WEBHOOKS),
        ],
        (Some(FailureCode::NotFound), _) => vec![
            Finding::new(
                Severity::Error,
                "not_found",
                format!("{} is not visible to the credential", n.repo()),
                result.message.clone(),
            )
            .with_steps(["Check workspace and repo_slug in the configuration, and that the credential's account (or the access token's repository) can read the repository."]),
        ],
        (None, _) if result.detail_str("auth") == Some("app_password") => vec![
            Finding::new(
                Severity::Warning,
                "app_password_deprecated",
                "The integration uses a Bitbucket Cloud app password; they stop working on 2026-06-09",
                format!(
                    "expires at {}",
                    result
                        .detail_str(detail::TOKEN_EXPIRES_AT)
                        .unwrap_or("2026-06-09T00:00:00Z")
                ),
            )
            .with_steps(api_token_steps())
            .with_doc_link(DOC_APP_PASSWORDS),
        ],
        _ => Vec::new(),
    }
}

/// Findings for the round trip (no test endpoint: the receiver's record).
pub(super) fn for_delivery(integration: &Integration, result: &CheckResult) -> Vec<Finding> {
    let n = names(integration, result);
    let real_event_steps = || {
        vec![
            format!(
                "Bitbucket Cloud cannot send a test delivery: make it send a real one. Push a commit to {} (or cause another event hook {{{}}} subscribes to), or open {} → the hook → View requests and Resend a recent request.",
                n.repo(),
                n.hook,
                n.hooks_page()
            ),
            "The receiver records a real delivery when it verifies it with the hook's secret among its standing secrets (WebhookReceiver::with_secrets for bitbucket); a delivery it refuses is not evidence.".to_owned(),
            "If View requests shows the delivery failing to connect, allow Atlassian's outgoing IP ranges in the receiver's firewall or load balancer.".to_owned(),
            "Run the doctor again: it looks for the hook's last verified delivery (at most 24 hours old).".to_owned(),
        ]
    };
    match (&result.failure, cause(result)) {
        (Some(FailureCode::Unsupported), Some("no_test_endpoint" | "evidence_stale")) => vec![
            Finding::new(
                Severity::Error,
                "webhook_unsupported",
                "Bitbucket Cloud cannot trigger a test, and no recent delivery from the hook is recorded",
                result.message.clone(),
            )
            .with_steps(real_event_steps())
            .with_doc_link(DOC_IP_RANGES),
        ],
        (Some(FailureCode::Unhealthy), Some(which)) => {
            let (title, fix, body) = if which == "hook_inactive" {
                (
                    format!("Webhook {{{}}} of {} is inactive", n.hook, n.repo()),
                    format!("Edit the webhook at {}, tick Active, Save.", n.hooks_page()),
                    "{\"active\": true}",
                )
            } else {
                (
                    format!("Webhook {{{}}} of {} has no secret", n.hook, n.repo()),
                    format!(
                        "Edit the webhook at {} and set its Secret to the secret behind webhook_secret_ref: Bitbucket then signs deliveries as X-Hub-Signature: sha256=….",
                        n.hooks_page()
                    ),
                    "{\"secret\": \"<secret>\"}",
                )
            };
            vec![
                Finding::new(Severity::Error, "webhook_tool_unhealthy", title, result.message.clone())
                    .with_steps([fix, "Run the doctor again.".to_owned()])
                    .with_api_call(format!("PUT {} with {body}", n.hook_call()))
                    .with_doc_link(DOC_WEBHOOKS),
            ]
        }
        (Some(FailureCode::NotFound), _) => vec![
            Finding::new(
                Severity::Error,
                "webhook_not_found",
                format!("{} has no webhook {{{}}}", n.repo(), n.hook),
                result.message.clone(),
            )
            .with_steps([format!("Check hook_uuid against the webhooks at {}.", n.hooks_page())])
            .with_doc_link(DOC_WEBHOOKS),
        ],
        (Some(FailureCode::PermissionDenied { .. }), _) => vec![
            Finding::new(
                Severity::Error,
                "webhook_missing_scope",
                "The credential may not read the repository's webhooks",
                result.message.clone(),
            )
            .with_steps(
                std::iter::once("Reading a webhook needs read:webhook:bitbucket (API tokens), webhook (access tokens), and repository admin.".to_owned())
                    .chain(api_token_steps()),
            )
            .with_doc_link(DOC_API_TOKENS),
        ],
        (Some(FailureCode::Unauthenticated), _) => {
            let mut out = for_connection(integration, result);
            for f in &mut out {
                f.code = format!("webhook_{}", f.code);
            }
            out
        }
        _ => Vec::new(),
    }
}
