//! GitHub's own advice for the doctor's hook ping round trip: the hook API calls that show
//! and fix a hook, and GitHub's documentation. Reported before the doctor's generic findings,
//! replacing those with the same code.

use pathops_core::{CheckResult, FailureCode, Finding, Integration, Severity};
use serde_json::Value;

const VALIDATING_DOC: &str =
    "https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries";
const DELIVERIES_DOC: &str = "https://docs.github.com/en/webhooks/testing-and-troubleshooting-webhooks/viewing-webhook-deliveries";

/// `repos/{owner}/{repo}/hooks/{hook_id}` from the configuration, placeholders where unset.
fn hook_path(integration: &Integration) -> String {
    let get = |key: &str| {
        integration.configuration.get(key).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    };
    format!(
        "repos/{}/hooks/{}",
        get("repository").unwrap_or_else(|| ":owner/:repo".to_owned()),
        get("hook_id").unwrap_or_else(|| ":hook_id".to_owned())
    )
}

/// Findings for the hook ping round trip.
pub(super) fn for_delivery(integration: &Integration, result: &CheckResult) -> Vec<Finding> {
    let hook = hook_path(integration);
    match &result.failure {
        Some(FailureCode::DeliveryRejected) => vec![
            Finding::new(
                Severity::Error,
                "webhook_token_mismatch",
                "The ping arrived but its X-Hub-Signature-256 did not verify",
                "The hook's secret differs from the one PathOps expects.",
            )
            .with_steps([
                "Set the hook's secret to the secret behind the integration's webhook_secret_ref.",
                "Run the doctor again.",
            ])
            .with_api_call(format!(
                "PATCH /{hook}/config with {{\"secret\": \"<secret>\"}}"
            ))
            .with_doc_link(VALIDATING_DOC),
        ],
        Some(FailureCode::DeliveryNotReceived) => vec![
            Finding::new(
                Severity::Error,
                "delivery_not_received",
                "GitHub accepted the ping but no verified delivery reached PathOps",
                result.message.clone(),
            )
            .with_steps([
                "Check that the hook URL points at the PathOps receiver and that its secret is the one behind webhook_secret_ref (a ping signed with another secret is refused and counts as not received).",
                "Check the hook's recent deliveries: GitHub shows the status PathOps answered.",
            ])
            .with_api_call(format!("GET /{hook}/deliveries?per_page=5"))
            .with_doc_link(DELIVERIES_DOC),
        ],
        _ => Vec::new(),
    }
}
