//! Azure DevOps's own advice for the connection test and the service hook round trip. Codes
//! reuse the doctor's (`unauthenticated`, `missing_scope`, `not_found`, `webhook_missing_scope`,
//! `webhook_not_found`, `webhook_tool_unhealthy`, `webhook_token_mismatch`,
//! `receiver_unreachable`, `delivery_not_received`) so they replace its generic advice.

use pathops_core::connector::detail;
use pathops_core::{CheckResult, FailureCode, Finding, Integration, Severity};
use serde_json::Value;

const DOC_PAT: &str = "https://learn.microsoft.com/en-us/azure/devops/organizations/accounts/use-personal-access-tokens-to-authenticate";
const DOC_SERVICE_HOOKS: &str =
    "https://learn.microsoft.com/en-us/azure/devops/service-hooks/services/webhooks";
const DOC_IP: &str =
    "https://learn.microsoft.com/en-us/azure/devops/organizations/security/allow-list-ip-url";

struct Names {
    base: String,
    project: String,
    subscription: String,
}

fn names(integration: &Integration, result: &CheckResult) -> Names {
    let config = |key: &str, default: &str| {
        integration
            .configuration
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_owned()
    };
    Names {
        base: integration.base_url.as_str().to_owned(),
        project: config("project", "{project}"),
        subscription: result
            .detail_str("subscription_id")
            .map(str::to_owned)
            .unwrap_or_else(|| config("subscription_id", "{subscriptionId}")),
    }
}

fn cause(result: &CheckResult) -> Option<&str> {
    result.detail_str("cause")
}

fn pat_steps(n: &Names, scopes: &str) -> Vec<String> {
    vec![
        format!(
            "Create a personal access token at {}/_usersSettings/tokens for this organization with {scopes}.",
            n.base
        ),
        "Organizations backed by Microsoft Entra deactivate PATs unused for 90 days, and a PAT expires on its date: check both before replacing it.".to_owned(),
        "Store it behind the integration's auth ref and run the doctor again.".to_owned(),
    ]
}

const ALL_SCOPES: &str = "Code (Read), Project and Team (Read) and Service Hooks (Read & write) — vso.code, vso.project, vso.hooks_write";

fn hooks_page(n: &Names) -> String {
    format!("{}/{}/_settings/serviceHooks", n.base, n.project)
}

/// Findings for a connection test or health check.
pub(super) fn for_connection(integration: &Integration, result: &CheckResult) -> Vec<Finding> {
    let n = names(integration, result);
    match (&result.failure, cause(result)) {
        (Some(FailureCode::Unauthenticated), c) => vec![
            Finding::new(
                Severity::Error,
                "unauthenticated",
                if c == Some("sign_in_page") {
                    "Azure DevOps answered with its sign-in page: the token was refused".to_owned()
                } else {
                    "Azure DevOps refused the token".to_owned()
                },
                result.message.clone(),
            )
            .with_steps(pat_steps(&n, ALL_SCOPES))
            .with_api_call("GET /_apis/connectionData")
            .with_doc_link(DOC_PAT),
        ],
        (Some(FailureCode::PermissionDenied { missing_scope }), _) => vec![
            Finding::new(
                Severity::Error,
                "missing_scope",
                format!(
                    "The token lacks the {} scope",
                    missing_scope.as_deref().unwrap_or("needed")
                ),
                result.message.clone(),
            )
            .with_steps(pat_steps(&n, ALL_SCOPES))
            .with_doc_link(DOC_PAT),
        ],
        (Some(FailureCode::NotFound), which) => vec![
            Finding::new(
                Severity::Error,
                "not_found",
                match which {
                    Some("subscription_not_found") => {
                        format!("No service hook subscription {}", n.subscription)
                    }
                    Some("repo_not_found") => {
                        format!("The repository is not in project {}", n.project)
                    }
                    _ => format!("Project {} is not visible to the token", n.project),
                },
                result.message.clone(),
            )
            .with_steps([
                "Check project, repository and subscription_id in the configuration.".to_owned(),
                format!(
                    "The project's service hooks are listed at {}.",
                    hooks_page(&n)
                ),
            ])
            .with_api_call("GET /_apis/hooks/subscriptions?api-version=7.1"),
        ],
        _ => Vec::new(),
    }
}

/// Findings for the service hook round trip.
pub(super) fn for_delivery(integration: &Integration, result: &CheckResult) -> Vec<Finding> {
    let n = names(integration, result);
    let error = result
        .detail_str(detail::DELIVERY_ERROR)
        .unwrap_or(&result.message)
        .to_owned();
    let put = format!(
        "PUT /_apis/hooks/subscriptions/{}?api-version=7.1 with the subscription as read",
        n.subscription
    );
    let mut out = Vec::new();
    match (&result.failure, cause(result)) {
        (Some(FailureCode::PermissionDenied { .. }), _) => out.push(
            Finding::new(
                Severity::Error,
                "webhook_missing_scope",
                "The token may not send a service hook test notification",
                result.message.clone(),
            )
            .with_steps(pat_steps(&n, "Service Hooks (Read & write) — vso.hooks_write"))
            .with_doc_link(DOC_PAT),
        ),
        (Some(FailureCode::NotFound), _) => out.push(
            Finding::new(
                Severity::Error,
                "webhook_not_found",
                format!("No service hook subscription {}", n.subscription),
                result.message.clone(),
            )
            .with_steps([format!(
                "Check subscription_id against the subscriptions at {} (Web Hooks, with Basic authentication), or create one pointing at <PathOps public URL>/webhooks/azure-devops.",
                hooks_page(&n)
            )])
            .with_api_call("GET /_apis/hooks/subscriptions?api-version=7.1")
            .with_doc_link(DOC_SERVICE_HOOKS),
        ),
        (Some(FailureCode::Unhealthy), c) => {
            let problems: Vec<&str> = result
                .details
                .get("subscription")
                .and_then(|s| s["problems"].as_array())
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut steps = Vec::new();
            if problems.contains(&"not_enabled") {
                steps.push(format!(
                    "Enable the subscription at {} (a subscription disabled by the system after repeated failures, or on probation, sends nothing until re-enabled; fix the receiver first).",
                    hooks_page(&n)
                ));
            }
            if problems.contains(&"not_web_hooks") {
                steps.push("Use the Web Hooks service (consumer webHooks, action httpRequest): other consumers post their own payloads elsewhere.".to_owned());
            }
            if problems.contains(&"no_basic_auth") {
                steps.push("Set the subscription's Basic authentication user name (any) and password (the secret behind webhook_secret_ref): PathOps verifies deliveries by that password.".to_owned());
            }
            if c == Some("notification_filtered") {
                steps.push("Relax the subscription's filters (repository, branch, …): they drop the test notification.".to_owned());
            }
            steps.push("Run the doctor again.".to_owned());
            out.push(
                Finding::new(
                    Severity::Error,
                    "webhook_tool_unhealthy",
                    format!("Subscription {} would send no verifiable notification", n.subscription),
                    result.message.clone(),
                )
                .with_steps(steps)
                .with_api_call(put)
                .with_doc_link(DOC_SERVICE_HOOKS),
            );
        }
        (Some(FailureCode::DeliveryRejected), _) => out.push(
            Finding::new(
                Severity::Error,
                "webhook_token_mismatch",
                "The receiver refused the Basic credentials of the test notification",
                format!("Azure DevOps reported: {error}"),
            )
            .with_steps([
                format!(
                    "Edit subscription {} at {} and set the Basic authentication password to the secret behind webhook_secret_ref.",
                    n.subscription,
                    hooks_page(&n)
                ),
                "During a rotation, list both secrets' refs in webhook_secret_ref.".to_owned(),
                "Run the doctor again.".to_owned(),
            ])
            .with_doc_link(DOC_SERVICE_HOOKS),
        ),
        (Some(FailureCode::DeliveryFailed), _) => out.push(
            Finding::new(
                Severity::Error,
                "receiver_unreachable",
                "Azure DevOps could not deliver to the PathOps receiver",
                format!("Azure DevOps reported: {error}"),
            )
            .with_steps([
                "Check that the subscription's URL is the receiver's public URL (<PathOps public URL>/webhooks/azure-devops): Azure DevOps Services calls it from the internet.".to_owned(),
                "If the receiver's firewall has an IP allowlist, allow Azure DevOps's outbound addresses (the AzureDevOps service tag of the Azure IP ranges).".to_owned(),
                "For Azure DevOps Server, check the server's outbound proxy and that it trusts the receiver's certificate.".to_owned(),
                format!("The subscription's History tab at {} shows each attempt.", hooks_page(&n)),
            ])
            .with_doc_link(DOC_IP),
        ),
        (Some(FailureCode::DeliveryNotReceived), _) => out.push(
            Finding::new(
                Severity::Error,
                "delivery_not_received",
                "Azure DevOps accepted the test notification but no delivery was verified",
                result.message.clone(),
            )
            .with_steps([
                "Check that the subscription's URL points at this PathOps receiver.".to_owned(),
                format!("See the notification in the subscription's History at {}.", hooks_page(&n)),
            ])
            .with_doc_link(DOC_SERVICE_HOOKS),
        ),
        _ => {}
    }
    out
}
