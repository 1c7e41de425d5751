//! GitLab's own advice for the doctor: token scopes and their documentation, the hook API
//! calls that fix a hook, and self-managed GitLab's outbound-request setting when its URL
//! blocker refused the delivery. The doctor
//! reports these before its generic findings and drops the generic ones they replace (same
//! code).

use pathops_core::connector::detail;
use pathops_core::{CheckResult, FailureCode, Finding, Integration, Severity};
use serde_json::Value;
use time::OffsetDateTime;

use super::EXPIRY_WARNING_DAYS;

const WEBHOOKS_DOC: &str = "https://docs.gitlab.com/user/project/integrations/webhooks/";
const HOOKS_API_DOC: &str = "https://docs.gitlab.com/api/project_webhooks/";
const TOKENS_DOC: &str =
    "https://docs.gitlab.com/user/profile/personal_access_tokens/#personal-access-token-scopes";
const OUTBOUND_DOC: &str = "https://docs.gitlab.com/security/webhooks/";

/// The project (URL-encoded as the API path wants it) and hook the advice names: from the
/// result, else the configuration, else placeholders.
fn project_and_hook(integration: &Integration, result: &CheckResult) -> (String, String) {
    let from = |key: &str| {
        result
            .details
            .get(key)
            .or_else(|| integration.configuration.get(key))
            .map(|v| match v {
                Value::String(s) => crate::http::path_segment(s),
                other => other.to_string(),
            })
    };
    (
        from(detail::PROJECT).unwrap_or_else(|| ":id".to_owned()),
        from(detail::HOOK_ID).unwrap_or_else(|| ":hook_id".to_owned()),
    )
}

fn update_secret(integration: &Integration) -> Option<String> {
    integration
        .auth_ref
        .as_ref()
        .map(|r| format!("update the secret behind {r}"))
}

/// Findings for a connection test or health check.
pub(super) fn for_connection(
    integration: &Integration,
    result: &CheckResult,
    now: OffsetDateTime,
) -> Vec<Finding> {
    let host = integration.base_url.host();
    let mut out = Vec::new();
    match &result.failure {
        Some(FailureCode::Unauthenticated) => {
            let expired = result
                .details
                .get(detail::TOKEN_EXPIRED)
                .and_then(Value::as_bool)
                == Some(true);
            let (code, title) = if expired {
                (
                    "token_expired",
                    format!("The GitLab token for {host} has expired or was revoked"),
                )
            } else {
                (
                    "unauthenticated",
                    format!("{host} refused the GitLab token"),
                )
            };
            let mut f = Finding::new(Severity::Error, code, title, result.message.clone())
                .with_steps([
                    "Create a personal, project or group access token (User settings > Access tokens) with `api` (hook tests) or `read_api` (reads only).",
                    "Store it in the secret backend behind the integration's auth ref.",
                    "Run the doctor again.",
                ])
                .with_doc_link(TOKENS_DOC);
            if let Some(call) = update_secret(integration) {
                f = f.with_api_call(call);
            }
            out.push(f);
        }
        Some(FailureCode::PermissionDenied { missing_scope }) => {
            let scope = missing_scope.as_deref().unwrap_or("the required");
            out.push(
                Finding::new(
                    Severity::Error,
                    "missing_scope",
                    format!("The GitLab token lacks the {scope} scope"),
                    result.message.clone(),
                )
                .with_steps([
                    "Create a token with the scope (scopes cannot be added to an existing token), or give the account the role the call needs.",
                    "Update the secret behind the auth ref.",
                ])
                .with_doc_link(TOKENS_DOC),
            );
        }
        _ => {}
    }
    if result.is_success() {
        if let Some(expires) = result.token_expires_at() {
            let days = (expires - now).whole_days();
            if days <= EXPIRY_WARNING_DAYS {
                out.push(
                    Finding::new(
                        Severity::Warning,
                        "token_expiring",
                        format!("The GitLab token expires in {days} days"),
                        format!("expires at {expires}"),
                    )
                    .with_steps([
                        "Rotate the token (POST /personal_access_tokens/self/rotate, or in the UI) and update the secret behind the auth ref.",
                    ])
                    .with_doc_link(TOKENS_DOC),
                );
            }
        }
        if let Some(scope) = result.detail_str(detail::MISSING_SCOPE) {
            out.push(
                Finding::new(
                    Severity::Warning,
                    "scope_missing_for_webhook_test",
                    format!("The GitLab token lacks the {scope} scope needed to test hooks"),
                    "Reads work, but the doctor cannot trigger a test delivery.",
                )
                .with_steps([
                    "Create a token with the scope and update the secret behind the auth ref.",
                ])
                .with_doc_link(TOKENS_DOC),
            );
        }
    }
    out
}

/// Whether GitLab's URL blocker refused the delivery: its messages end in "Requests to
/// localhost are not allowed" / "Requests to the local network are not allowed" (GitLab
/// answers the test with 422 and `URL is blocked: <reason>`).
fn blocked_by_url_blocker(result: &CheckResult) -> bool {
    result
        .detail_str(detail::DELIVERY_ERROR)
        .unwrap_or(&result.message)
        .contains("are not allowed")
}

/// Findings for the doctor's hook test round trip.
pub(super) fn for_delivery(integration: &Integration, result: &CheckResult) -> Vec<Finding> {
    let (project, hook) = project_and_hook(integration, result);
    let mut out = Vec::new();
    if let Some(status @ ("temporarily_disabled" | "disabled")) =
        result.detail_str(detail::HOOK_ALERT_STATUS)
    {
        let until = result
            .detail_str(detail::HOOK_DISABLED_UNTIL)
            .map(|t| format!(" until {t}"))
            .unwrap_or_default();
        out.push(
            Finding::new(
                Severity::Error,
                "hook_disabled",
                format!("The hook is {}{until}", status.replace('_', " ")),
                "GitLab disables a hook after consecutive failed deliveries; it sends nothing until re-enabled.",
            )
            .with_steps([
                "Fix the cause of the failed deliveries (see the other findings).",
                "Re-enable the hook: a successful test delivery re-enables it, or edit and save the hook.",
            ])
            .with_api_call(format!("POST /api/v4/projects/{project}/hooks/{hook}/test/push_events"))
            .with_doc_link(WEBHOOKS_DOC),
        );
    }
    match &result.failure {
        Some(FailureCode::PermissionDenied { missing_scope }) => out.push(
            Finding::new(
                Severity::Error,
                "webhook_missing_scope",
                format!(
                    "The GitLab token lacks the {} scope",
                    missing_scope.as_deref().unwrap_or("api")
                ),
                result.message.clone(),
            )
            .with_steps([
                "Testing a hook needs a token with the `api` scope whose user is at least Maintainer of the project.",
                "Create such a token (scopes cannot be added to an existing one) and update the secret behind the auth ref.",
            ])
            .with_doc_link(TOKENS_DOC),
        ),
        Some(FailureCode::DeliveryRejected) => out.push(
            Finding::new(
                Severity::Error,
                "webhook_token_mismatch",
                "The delivery arrived but its secret token did not verify",
                "The hook's secret token differs from the one PathOps expects.",
            )
            .with_steps([
                "Set the hook's secret token to the secret behind the integration's webhook_secret_ref.",
                "Run the doctor again.",
            ])
            .with_api_call(format!(
                "PUT /api/v4/projects/{project}/hooks/{hook} with {{\"token\": \"<secret>\"}}"
            ))
            .with_doc_link(HOOKS_API_DOC),
        ),
        Some(FailureCode::DeliveryFailed) if blocked_by_url_blocker(result) => out.push(
            Finding::new(
                Severity::Error,
                "gitlab_local_requests_blocked",
                "GitLab refuses to send webhooks to the receiver's address",
                "GitLab's URL blocker refuses webhook requests to localhost and private networks unless an administrator allows them; the test never left GitLab.",
            )
            .with_steps([
                "Admin > Settings > Network > Outbound requests: allow requests to the local network from webhooks and integrations, or add the receiver's host to the local IP/domain allowlist.",
                "Or give the PathOps receiver a public address.",
            ])
            .with_doc_link(OUTBOUND_DOC),
        ),
        Some(FailureCode::DeliveryNotReceived) => out.push(
            Finding::new(
                Severity::Error,
                "delivery_not_received",
                "GitLab accepted the test but no delivery reached PathOps",
                result.message.clone(),
            )
            .with_steps([
                "Check that the hook URL points at the PathOps receiver (not another service).",
                "Check the hook's recent deliveries (Settings > Webhooks > Edit > Recent events).",
            ])
            .with_api_call(format!("GET /api/v4/projects/{project}/hooks/{hook}"))
            .with_doc_link(WEBHOOKS_DOC),
        ),
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn gitlab() -> Integration {
        let input = pathops_core::NewIntegration::builder(
            "gl",
            pathops_core::Provider::GitLab,
            "https://gitlab.example.com",
        )
        .with_configuration(serde_json::json!({"project": "platform/api", "hook_id": 7}))
        .build()
        .unwrap();
        Integration::new_draft(
            pathops_core::IntegrationId::new(),
            "acme".parse().unwrap(),
            input,
            "alice".parse().unwrap(),
            OffsetDateTime::UNIX_EPOCH,
        )
    }

    fn delivery_failed(error: &str) -> CheckResult {
        CheckResult::failed(FailureCode::DeliveryFailed, Duration::ZERO, "422")
            .with_detail(detail::DELIVERY_ERROR, error)
    }

    #[test]
    fn the_url_blockers_refusal_names_the_outbound_setting() {
        for error in [
            "URL is blocked: Requests to the local network are not allowed",
            "URL is blocked: Requests to localhost are not allowed",
        ] {
            let found = for_delivery(&gitlab(), &delivery_failed(error));
            assert_eq!(found.len(), 1, "{error}");
            assert_eq!(found[0].code, "gitlab_local_requests_blocked");
            assert!(found[0].steps[0].contains("Outbound requests"));
        }
    }

    #[test]
    fn a_refused_connection_or_a_receivers_answer_is_not_blamed_on_the_blocker() {
        for error in [
            "Failed to open TCP connection to 10.0.0.5:8080 (Connection refused - connect(2) for \"10.0.0.5\" port 8080)",
            "{\"title\":\"Not Found\"}",
        ] {
            assert!(
                for_delivery(&gitlab(), &delivery_failed(error)).is_empty(),
                "{error}"
            );
        }
    }

    #[test]
    fn a_refused_hook_test_names_the_api_scope_and_the_maintainer_role() {
        let refused = CheckResult::failed(
            FailureCode::PermissionDenied {
                missing_scope: Some("api".into()),
            },
            Duration::ZERO,
            "403",
        );
        let found = for_delivery(&gitlab(), &refused);
        assert_eq!(found[0].code, "webhook_missing_scope");
        assert!(found[0].steps[0].contains("Maintainer"));
        assert_eq!(found[0].doc_link.as_deref(), Some(TOKENS_DOC));
    }

    #[test]
    fn a_stale_secret_gets_the_hook_update_call_for_the_configured_hook() {
        let rejected =
            CheckResult::failed(FailureCode::DeliveryRejected, Duration::ZERO, "rejected");
        let found = for_delivery(&gitlab(), &rejected);
        assert_eq!(
            found[0].api_call.as_deref(),
            Some("PUT /api/v4/projects/platform%2Fapi/hooks/7 with {\"token\": \"<secret>\"}")
        );
    }

    #[test]
    fn an_expiring_token_is_warned_about_only_inside_the_window() {
        let now = time::macros::datetime!(2026-12-01 00:00 UTC);
        let passed = |expires: &str| {
            CheckResult::passed(Duration::ZERO, "ok").with_detail(detail::TOKEN_EXPIRES_AT, expires)
        };
        let soon = for_connection(&gitlab(), &passed("2026-12-10"), now);
        assert_eq!(soon[0].code, "token_expiring");
        assert!(soon[0].title.contains("9 days"), "{}", soon[0].title);
        assert!(for_connection(&gitlab(), &passed("2027-03-01"), now).is_empty());
    }
}
