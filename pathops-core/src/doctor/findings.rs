//! From check results to [`Finding`]s: what is wrong and how to fix it, as data.
//!
//! Everything here is generic: no finding names a provider. What only one provider needs (its
//! settings pages, API calls, documentation) comes from its connector's
//! [`findings`](crate::IntegrationConnector::findings) and
//! [`delivery_findings`](crate::IntegrationConnector::delivery_findings), merged by [`merge`].
//!
//! The doctor only suggests. Every `api_call` here is for the operator to run; the doctor
//! itself never calls a mutating endpoint other than the test trigger and the ping.

use serde_json::Value;
use time::OffsetDateTime;

use super::report::{Finding, Severity};
use crate::connector::{CheckResult, FailureCode, detail};
use crate::integration::Integration;

/// Tokens expiring within this many days get a warning.
pub const EXPIRY_WARNING_DAYS: i64 = 14;

fn finding(severity: Severity, code: &str, title: String, why: String) -> Finding {
    Finding {
        severity,
        code: code.to_owned(),
        title,
        why,
        steps: Vec::new(),
        api_call: None,
        doc_link: None,
    }
}

fn with(
    mut f: Finding,
    steps: &[&str],
    api_call: Option<String>,
    doc_link: Option<&str>,
) -> Finding {
    f.steps = steps.iter().map(|s| (*s).to_owned()).collect();
    f.api_call = api_call;
    f.doc_link = doc_link.map(str::to_owned);
    f
}

/// A connector's own findings first, then the generic ones whose code it did not claim.
pub(super) fn merge(own: Vec<Finding>, generic: Vec<Finding>) -> Vec<Finding> {
    let generic: Vec<Finding> = generic
        .into_iter()
        .filter(|g| !own.iter().any(|o| o.code == g.code))
        .collect();
    own.into_iter().chain(generic).collect()
}

/// Findings for the connection test (PathOps → tool).
pub(super) fn for_connection(
    integration: &Integration,
    result: &CheckResult,
    now: OffsetDateTime,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let host = integration.base_url.host();
    match &result.failure {
        None => {}
        Some(FailureCode::Dns) => out.push(with(
            finding(Severity::Error, "dns", format!("{host} does not resolve"), result.message.clone()),
            &["Check the base URL for typos.", "Check the DNS configuration of the host PathOps runs on."],
            Some(format!("getent hosts {}", sh(&host))),
            None,
        )),
        Some(FailureCode::Connect) => out.push(with(
            finding(Severity::Error, "unreachable", format!("PathOps cannot connect to {host}"), result.message.clone()),
            &[
                "Check that the tool is running and listening on the base URL's port.",
                "Check firewalls and proxies between PathOps and the tool.",
                "If the egress allowlist is enabled, add the host to it.",
            ],
            Some(format!("curl -sS -o /dev/null -w '%{{http_code}}' {}", sh(integration.base_url.as_str()))),
            None,
        )),
        Some(FailureCode::Tls) => out.push(with(
            finding(Severity::Error, "tls", format!("TLS handshake with {host} failed"), result.message.clone()),
            &[
                "Check the tool's certificate (expiry, host name).",
                "For a private CA, configure its certificate on the integration.",
            ],
            Some(format!(
                "openssl s_client -connect {} -servername {} </dev/null",
                sh(&format!("{host}:{}", integration.base_url.to_url().port_or_known_default().unwrap_or(443))),
                sh(&host),
            )),
            None,
        )),
        Some(FailureCode::Timeout) => out.push(with(
            finding(Severity::Error, "timeout", format!("{host} did not answer before the deadline"), result.message.clone()),
            &["Check the tool's load and the network path.", "Raise the check deadline if the tool is known to be slow."],
            None,
            None,
        )),
        Some(FailureCode::Unauthenticated) => {
            let expired = result.details.get(detail::TOKEN_EXPIRED).and_then(Value::as_bool) == Some(true);
            let (code, title) = if expired {
                ("token_expired", format!("The credential for {host} has expired"))
            } else {
                ("unauthenticated", format!("{host} refused the credential"))
            };
            out.push(with(
                finding(Severity::Error, code, title, result.message.clone()),
                &[
                    "Create a new token in the tool with the scopes the integration needs.",
                    "Store it in the secret backend behind the integration's auth ref.",
                    "Run the doctor again.",
                ],
                integration.auth_ref.as_ref().map(|r| format!("update the secret behind {r}")),
                None,
            ));
        }
        Some(FailureCode::PermissionDenied { missing_scope }) => {
            let scope = missing_scope.clone().unwrap_or_else(|| "the required".to_owned());
            out.push(with(
                finding(
                    Severity::Error,
                    "missing_scope",
                    format!("The credential lacks the {scope} scope"),
                    result.message.clone(),
                ),
                &["Create a token that has the scope, or grant it to the account.", "Update the secret behind the auth ref."],
                None,
                None,
            ));
        }
        Some(FailureCode::NotFound) => out.push(with(
            finding(Severity::Error, "not_found", "The configured project or resource is not visible".to_owned(), result.message.clone()),
            &["Check the project and hook ids in the configuration.", "Check that the credential's account can see them."],
            None,
            None,
        )),
        Some(FailureCode::RateLimited { reset_at }) => out.push(with(
            finding(
                Severity::Warning,
                "rate_limited",
                format!("{host} rate-limited PathOps"),
                match reset_at {
                    Some(t) => format!("{} (the limit resets at {t})", result.message),
                    None => result.message.clone(),
                },
            ),
            &["Wait for the limit to reset, then run the doctor again."],
            None,
            None,
        )),
        Some(FailureCode::ServerError { status }) => out.push(with(
            finding(Severity::Error, "server_error", format!("{host} answered {status}"), result.message.clone()),
            &["Check the tool's own health and logs."],
            None,
            None,
        )),
        Some(FailureCode::Unhealthy) => out.push(with(
            finding(Severity::Error, "tool_unhealthy", format!("{host} reports itself unhealthy"), result.message.clone()),
            &["Check the components the tool names as unhealthy, in its own health page and logs."],
            None,
            None,
        )),
        Some(FailureCode::EgressDenied) => out.push(with(
            finding(
                Severity::Error,
                "egress_denied",
                format!("The egress policy does not allow calls to {host}"),
                result.message.clone(),
            ),
            &["Add the host to the egress allowlist, or allow private addresses, if the destination is intended."],
            None,
            None,
        )),
        Some(FailureCode::NoConnector) => out.push(with(
            finding(
                Severity::Error,
                "no_connector",
                format!("No connector is registered for {}", integration.provider),
                result.message.clone(),
            ),
            &["Enable the connector's feature in pathops-connectors and register it in the ConnectorRegistry."],
            None,
            None,
        )),
        Some(FailureCode::SecretUnresolved) => out.push(with(
            finding(Severity::Error, "secret_unresolved", "The auth ref does not resolve to a secret".to_owned(), result.message.clone()),
            &["Store the credential in the secret backend at the auth ref's location, or fix the auth ref."],
            None,
            None,
        )),
        Some(FailureCode::AuthRefDenied) => out.push(with(
            finding(Severity::Error, "auth_ref_denied", "A reference is not allowed for this tenant".to_owned(), result.message.clone()),
            &["Use a reference under the tenant's own scope or prefix, or ask the operator to share or map it in the catalog's AuthRefPolicy."],
            None,
            None,
        )),
        Some(FailureCode::InvalidConfig) => out.push(with(
            finding(Severity::Error, "invalid_config", "The integration's configuration is invalid".to_owned(), result.message.clone()),
            &["Fix the named setting with an update of the integration."],
            None,
            None,
        )),
        Some(
            code @ (FailureCode::PluginTimeout
            | FailureCode::PluginCrashed
            | FailureCode::PluginProtocolError
            | FailureCode::PluginQuarantined),
        ) => out.push(with(
            finding(
                Severity::Error,
                code.as_str(),
                format!("The plugin serving {} failed ({code})", integration.provider),
                result.message.clone(),
            ),
            &[
                "Read the plugin's stderr lines in the detail (secrets redacted) and fix or replace the plugin.",
                "A quarantined plugin stays out of service until its executable or manifest changes and the plugins are discovered again.",
            ],
            None,
            None,
        )),
        Some(other) => out.push(finding(
            Severity::Error,
            other.as_str(),
            format!("The connection test failed: {other}"),
            result.message.clone(),
        )),
    }
    if let Some(expires) = result.token_expires_at()
        && result.is_success()
    {
        let days = (expires - now).whole_days();
        if days <= EXPIRY_WARNING_DAYS {
            out.push(with(
                finding(
                    Severity::Warning,
                    "token_expiring",
                    format!("The credential expires in {days} days"),
                    format!("expires at {expires}"),
                ),
                &["Rotate the token before it expires and update the secret behind the auth ref."],
                None,
                None,
            ));
        }
    }
    if let Some(scope) = result.detail_str(detail::MISSING_SCOPE)
        && result.is_success()
    {
        out.push(with(
            finding(
                Severity::Warning,
                "scope_missing_for_webhook_test",
                format!("The token lacks the {scope} scope needed to test hooks"),
                "Reads work, but the doctor cannot trigger a test delivery.".to_owned(),
            ),
            &["Create a token with the scope and update the secret behind the auth ref."],
            None,
            None,
        ));
    }
    out
}

/// Findings for the webhook delivery test (tool → PathOps).
pub(super) fn for_webhook(
    integration: &Integration,
    result: &CheckResult,
    // The receiver's URL for this delivery kind (`<public url>/webhooks/<kind>`).
    receiver_url: Option<&str>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    match &result.failure {
        None => {}
        Some(FailureCode::DeliveryRejected) => out.push(with(
            finding(
                Severity::Error,
                "webhook_token_mismatch",
                "The delivery arrived but its secret did not verify".to_owned(),
                "The hook's secret token (or signing secret) differs from the one PathOps expects.".to_owned(),
            ),
            &[
                "Set the hook's secret token to the secret behind the integration's webhook_secret_ref.",
                "Run the doctor again.",
            ],
            Some("update the hook's secret in the tool".to_owned()),
            None,
        )),
        Some(FailureCode::DeliveryFailed) => {
            let error = result.detail_str(detail::DELIVERY_ERROR).unwrap_or(&result.message);
            out.push(with(
                finding(
                    Severity::Error,
                    "receiver_unreachable",
                    "The tool could not deliver to the PathOps receiver".to_owned(),
                    format!("the tool reported: {error}"),
                ),
                &[
                    "Check that the hook URL is the receiver's public URL and that the tool can reach it.",
                    "If the receiver is on a private address, check that the tool allows deliveries to it.",
                    "Check firewalls and proxies between the tool and PathOps.",
                ],
                receiver_url
                    .map(|url| format!("curl -sS -X POST {}   # from the tool's host", sh(url))),
                None,
            ));
        }
        Some(FailureCode::DeliveryNotReceived) => out.push(with(
            finding(
                Severity::Error,
                "delivery_not_received",
                "The tool accepted the test but no delivery reached PathOps".to_owned(),
                result.message.clone(),
            ),
            &[
                "Check that the hook URL points at the PathOps receiver (not another service).",
                "Check the tool's recent deliveries for the hook.",
            ],
            None,
            None,
        )),
        Some(FailureCode::InvalidConfig) => out.push(with(
            finding(
                Severity::Error,
                "webhook_secret_missing",
                "Deliveries of the configured hook cannot be verified".to_owned(),
                result.message.clone(),
            ),
            &["Set webhook_secret_ref in the integration's configuration to the auth ref of the hook's secret token."],
            None,
            None,
        )),
        Some(_) => {
            let mut more = for_connection(integration, result, OffsetDateTime::UNIX_EPOCH);
            for f in &mut more {
                f.code = format!("webhook_{}", f.code);
            }
            out.extend(more);
        }
    }
    out
}

/// The finding for an SCM integration with no hook to test.
pub(super) fn webhook_not_configured() -> Finding {
    with(
        finding(
            Severity::Warning,
            "webhook_not_configured",
            "No hook is configured, so the tool → PathOps direction is not verified".to_owned(),
            "The API connection works; whether the tool can deliver events to PathOps is unknown."
                .to_owned(),
        ),
        &[
            "Create a hook in the tool pointing at the PathOps receiver, with a secret token.",
            "Set project, hook_id and webhook_secret_ref in the integration's configuration.",
        ],
        None,
        None,
    )
}

/// Findings for the direct ping, one per failed direction.
pub(super) fn for_ping(
    pathops_to_tool: &CheckResult,
    tool_to_pathops: Option<&CheckResult>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    if !pathops_to_tool.is_success() {
        out.push(with(
            finding(
                Severity::Error,
                "ping_pathops_to_tool",
                "PathOps → tool: the ping endpoint did not accept the call".to_owned(),
                pathops_to_tool.message.clone(),
            ),
            &[
                "Check that the tool serves POST /pathops/ping.",
                "Check that the tool accepts the bearer credential behind the auth ref.",
            ],
            None,
            None,
        ));
    }
    if let Some(back) = tool_to_pathops
        && !back.is_success()
    {
        out.push(with(
            finding(
                Severity::Error,
                "ping_tool_to_pathops",
                "tool → PathOps: no valid callback arrived".to_owned(),
                back.message.clone(),
            ),
            &[
                "Check that the tool can reach PathOps's public URL.",
                "Check that the tool signs the callback with the same secret (X-PathOps-Proof).",
            ],
            None,
            None,
        ));
    }
    out
}

/// `text` quoted for a POSIX shell when it needs it: commands the doctor suggests are built
/// from tenant-chosen URLs and host names, and must run as shown (no `;id` smuggled in).
fn sh(text: &str) -> std::borrow::Cow<'_, str> {
    shell_escape::unix::escape(text.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integration::NewIntegration;

    fn integration(base_url: &str) -> Integration {
        let input = NewIntegration::builder("tool", crate::Provider::Zastava, base_url)
            .build()
            .unwrap();
        Integration::new_draft(
            crate::IntegrationId::new(),
            "acme".parse().unwrap(),
            input,
            "alice".parse().unwrap(),
            OffsetDateTime::UNIX_EPOCH,
        )
    }

    fn call(base_url: &str, code: FailureCode) -> String {
        let result = CheckResult::failed(code, std::time::Duration::ZERO, "failed");
        let found = for_connection(&integration(base_url), &result, OffsetDateTime::UNIX_EPOCH);
        found[0].api_call.clone().expect("a suggested command")
    }

    #[test]
    fn suggested_commands_quote_tenant_chosen_urls() {
        assert_eq!(
            call("https://tool.example.com/x;id", FailureCode::Connect),
            "curl -sS -o /dev/null -w '%{http_code}' 'https://tool.example.com/x;id'"
        );
        assert_eq!(
            call("https://tool.example.com", FailureCode::Connect),
            "curl -sS -o /dev/null -w '%{http_code}' 'https://tool.example.com'"
        );
        assert_eq!(
            call("https://tool.example.com", FailureCode::Dns),
            "getent hosts tool.example.com"
        );
    }

    #[test]
    fn tls_hints_use_the_real_port() {
        assert_eq!(
            call("https://tool.example.com:8443/api", FailureCode::Tls),
            "openssl s_client -connect 'tool.example.com:8443' -servername tool.example.com </dev/null"
        );
        assert_eq!(
            call("https://tool.example.com", FailureCode::Tls),
            "openssl s_client -connect 'tool.example.com:443' -servername tool.example.com </dev/null"
        );
    }
}
