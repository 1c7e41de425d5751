//! Gitea's (and Forgejo's) own advice for the connection test and the hook test round trip:
//! the setting, page, API call and documentation of the fix. Findings reuse the doctor's
//! generic codes (`unauthenticated`, `missing_scope`, `not_found`, `tool_unhealthy`, and for
//! the round trip `webhook_missing_scope`, `webhook_not_found`, `webhook_unsupported`,
//! `webhook_tool_unhealthy`, `delivery_not_received`, `webhook_token_mismatch`) so they
//! replace its generic advice; the result's `cause` detail says which case it is.
//! `webhook_host_not_allowed` (a receiver on a loopback or private address, which
//! `[webhook] ALLOWED_HOST_LIST` refuses by default) and `identity_scope_missing` are
//! Gitea's own.

use pathops_core::connector::detail;
use pathops_core::{CheckResult, FailureCode, Finding, Integration, Severity};
use serde_json::{Value, json};

use super::config::web_root;

/// The documentation of one product.
struct Docs {
    webhooks: &'static str,
    webhook_settings: &'static str,
    security_settings: &'static str,
    tokens: &'static str,
}

const GITEA: Docs = Docs {
    webhooks: "https://docs.gitea.com/usage/webhooks",
    webhook_settings: "https://docs.gitea.com/administration/config-cheat-sheet#webhook-webhook",
    security_settings: "https://docs.gitea.com/administration/config-cheat-sheet#security-security",
    tokens: "https://docs.gitea.com/development/api-usage",
};

const FORGEJO: Docs = Docs {
    webhooks: "https://forgejo.org/docs/latest/user/webhooks/",
    webhook_settings: "https://forgejo.org/docs/latest/admin/config-cheat-sheet/#webhook-webhook",
    security_settings: "https://forgejo.org/docs/latest/admin/config-cheat-sheet/#security-security",
    tokens: "https://forgejo.org/docs/latest/user/api-usage/",
};

/// What the advice names: from the result, else the configuration, else placeholders.
struct Names {
    web: String,
    repo: String,
    hook: String,
    login: String,
    product: &'static str,
    docs: &'static Docs,
}

fn names(integration: &Integration, result: &CheckResult) -> Names {
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let config = |key: &str| integration.configuration.get(key).and_then(text);
    let repo = result
        .details
        .get(detail::PROJECT)
        .and_then(text)
        .or_else(|| Some(format!("{}/{}", config("owner")?, config("repo")?)))
        .unwrap_or_else(|| "{owner}/{repo}".to_owned());
    let hook = result
        .details
        .get(detail::HOOK_ID)
        .and_then(text)
        .or_else(|| config("hook_id"))
        .unwrap_or_else(|| "{id}".to_owned());
    let forgejo = result.details.get("product").and_then(Value::as_str) == Some("Forgejo");
    Names {
        web: web_root(&integration.base_url),
        repo,
        hook,
        login: result
            .details
            .get("user")
            .and_then(|u| u["login"].as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| "the token's user".to_owned()),
        product: if forgejo { "Forgejo" } else { "Gitea" },
        docs: if forgejo { &FORGEJO } else { &GITEA },
    }
}

fn cause(result: &CheckResult) -> Option<&str> {
    result.details.get("cause").and_then(Value::as_str)
}

fn new_token_steps(n: &Names) -> Vec<String> {
    vec![
        format!(
            "Create an access token at {}/user/settings/applications with repository: Read and Write (testing a hook is a write) and user: Read.",
            n.web
        ),
        format!(
            "{} cannot change an existing token's scopes: store the new token behind the integration's auth ref.",
            n.product
        ),
        "Run the doctor again.".to_owned(),
    ]
}

fn admin_steps(n: &Names) -> Vec<String> {
    vec![
        format!(
            "{} reads and tests hooks only for repository administrators: make {} an administrator of {} ({}/{}/settings/collaboration), or use the token of a user who administers it.",
            n.product, n.login, n.repo, n.web, n.repo
        ),
        "Run the doctor again.".to_owned(),
    ]
}

fn webhooks_disabled(n: &Names, code: &str, result: &CheckResult) -> Finding {
    Finding::new(
        Severity::Error,
        code,
        format!("Webhooks are disabled on this {} instance", n.product),
        result.message.clone(),
    )
    .with_steps([
        "In the instance's app.ini set `[security]` `DISABLE_WEBHOOKS = false`, then restart it."
            .to_owned(),
        "Run the doctor again.".to_owned(),
    ])
    .with_doc_link(n.docs.security_settings)
}

/// Findings for a connection test or health check.
pub(super) fn for_connection(integration: &Integration, result: &CheckResult) -> Vec<Finding> {
    let n = names(integration, result);
    match (&result.failure, cause(result)) {
        (Some(FailureCode::Unauthenticated), _) => vec![
            Finding::new(
                Severity::Error,
                "unauthenticated",
                format!("{} refused the token", n.product),
                result.message.clone(),
            )
            .with_steps(new_token_steps(&n))
            .with_doc_link(n.docs.tokens),
        ],
        (
            Some(FailureCode::PermissionDenied {
                missing_scope: Some(scope),
            }),
            _,
        ) => vec![
            Finding::new(
                Severity::Error,
                "missing_scope",
                format!("The {} token lacks the {scope} scope", n.product),
                result.message.clone(),
            )
            .with_steps(new_token_steps(&n))
            .with_doc_link(n.docs.tokens),
        ],
        (Some(FailureCode::PermissionDenied { missing_scope: None }), _) => vec![
            Finding::new(
                Severity::Error,
                "missing_scope",
                format!("{} does not administer {}", n.login, n.repo),
                result.message.clone(),
            )
            .with_steps(admin_steps(&n))
            .with_api_call(format!("GET /api/v1/repos/{}", n.repo))
            .with_doc_link(n.docs.webhooks),
        ],
        (Some(FailureCode::Unhealthy), Some("webhooks_disabled")) => {
            vec![webhooks_disabled(&n, "tool_unhealthy", result)]
        }
        (Some(FailureCode::NotFound), Some("hook_not_found")) => vec![
            Finding::new(
                Severity::Error,
                "not_found",
                format!("{} has no hook {}", n.repo, n.hook),
                result.message.clone(),
            )
            .with_steps([
                "Check hook_id in the integration's configuration: list the repository's hooks for the right id.".to_owned(),
                create_hook_step(&n),
            ])
            .with_api_call(format!("GET /api/v1/repos/{}/hooks", n.repo))
            .with_doc_link(n.docs.webhooks),
        ],
        (Some(FailureCode::NotFound), _) => vec![
            Finding::new(
                Severity::Error,
                "not_found",
                format!("{} is not visible to the token", n.repo),
                result.message.clone(),
            )
            .with_steps([
                "Check owner and repo in the configuration.".to_owned(),
                format!(
                    "Check that {} can see the repository ({}/{}): {} hides private repositories from everyone else.",
                    n.login, n.web, n.repo, n.product
                ),
            ])
            .with_api_call(format!("GET /api/v1/repos/{}", n.repo)),
        ],
        (None, _) => {
            let warned = |needle: &str| {
                result
                    .details
                    .get("warnings")
                    .and_then(Value::as_array)
                    .is_some_and(|w| {
                        w.iter()
                            .any(|w| w.as_str().is_some_and(|w| w.contains(needle)))
                    })
            };
            if warned("read:user") {
                vec![
                    Finding::new(
                        Severity::Info,
                        "identity_scope_missing",
                        "The token lacks read:user",
                        "Repository access is proved, but the token's user is not reported.",
                    )
                    .with_steps([format!(
                        "If the identity matters, create the token with user: Read as well ({}/user/settings/applications).",
                        n.web
                    )])
                    .with_doc_link(n.docs.tokens),
                ]
            } else {
                Vec::new()
            }
        }
        _ => Vec::new(),
    }
}

fn hook_page(n: &Names) -> String {
    format!("{}/{}/settings/hooks/{}", n.web, n.repo, n.hook)
}

fn create_hook_step(n: &Names) -> String {
    format!(
        "Or create a {} hook at {}/{}/settings/hooks/gitea/new (or with the API call) pointing at <PathOps public URL>/webhooks/gitea, content type application/json, the secret behind webhook_secret_ref, push events, active (hooks created through the API are inactive unless \"active\": true), and set hook_id to its id.",
        n.product, n.web, n.repo
    )
}

fn create_hook_call(n: &Names) -> String {
    format!(
        "POST /api/v1/repos/{}/hooks with {{\"type\": \"gitea\", \"active\": true, \"events\": [\"push\"], \"config\": {{\"url\": \"<PathOps public URL>/webhooks/gitea\", \"content_type\": \"json\", \"secret\": \"<secret>\"}}}}",
        n.repo
    )
}

fn hook_field<'a>(result: &'a CheckResult, key: &str) -> Option<&'a Value> {
    result.details.get("hook").map(|h| &h[key])
}

/// The steps and the edit that clear the hook's problems.
fn hook_fix(n: &Names, result: &CheckResult) -> (Vec<String>, Option<String>) {
    let problems: Vec<&str> = result
        .details
        .get("hook_problems")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let branch = result
        .details
        .get("default_branch")
        .and_then(Value::as_str)
        .unwrap_or("the default branch");
    let page = hook_page(n);
    let mut steps = Vec::new();
    let mut edit = serde_json::Map::new();
    for problem in &problems {
        match *problem {
            "inactive" => {
                steps.push(format!(
                    "Activate the hook: edit it at {page}, tick Active, Update Webhook. (Hooks created through the API are inactive unless created with \"active\": true.)"
                ));
                edit.insert("active".into(), json!(true));
            }
            "foreign_type" => steps.push(format!(
                "The hook's type is {}, which sends its own payload: {}",
                hook_field(result, "type")
                    .and_then(Value::as_str)
                    .unwrap_or("not gitea"),
                create_hook_step(n).trim_start_matches("Or ")
            )),
            "form_content_type" => {
                steps.push(format!(
                    "Set the hook's POST content type to application/json at {page}: a form delivery's signature covers the JSON inside `payload=`, not the body PathOps verifies."
                ));
                edit.insert("config".into(), json!({"content_type": "json"}));
            }
            "push_not_subscribed" => {
                steps.push(format!(
                    "Subscribe the hook to push events at {page} (Trigger On: Push Events, or All Events): the hook test sends a push."
                ));
                let mut events: Vec<Value> = hook_field(result, "events")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                events.push(json!("push"));
                edit.insert("events".into(), Value::Array(events));
            }
            "branch_filtered" => {
                steps.push(format!(
                    "Let {branch} through the hook's branch filter {} at {page} (for example `*`): the test pushes the head commit of {branch}.",
                    hook_field(result, "branch_filter")
                        .map(Value::to_string)
                        .unwrap_or_default()
                ));
                edit.insert("branch_filter".into(), json!("*"));
            }
            _ => {}
        }
    }
    steps.push("Run the doctor again.".to_owned());
    let call = if !edit.is_empty() {
        Some(format!(
            "PATCH /api/v1/repos/{}/hooks/{} with {}",
            n.repo,
            n.hook,
            Value::Object(edit)
        ))
    } else if problems.contains(&"foreign_type") {
        Some(create_hook_call(n))
    } else {
        None
    };
    (steps, call)
}

/// Findings for the hook test round trip.
pub(super) fn for_delivery(integration: &Integration, result: &CheckResult) -> Vec<Finding> {
    let n = names(integration, result);
    let mut out = Vec::new();
    match (&result.failure, cause(result)) {
        (
            Some(FailureCode::PermissionDenied {
                missing_scope: Some(scope),
            }),
            _,
        ) => out.push(
            Finding::new(
                Severity::Error,
                "webhook_missing_scope",
                format!("The {} token lacks the {scope} scope", n.product),
                result.message.clone(),
            )
            .with_steps(
                std::iter::once(
                    "Testing a hook is a POST: the token needs repository: Read and Write (write:repository), and its user must administer the repository.".to_owned(),
                )
                .chain(new_token_steps(&n)),
            )
            .with_doc_link(n.docs.tokens),
        ),
        (Some(FailureCode::PermissionDenied { missing_scope: None }), _) => out.push(
            Finding::new(
                Severity::Error,
                "webhook_missing_scope",
                format!("{} cannot test the hooks of {}", n.login, n.repo),
                result.message.clone(),
            )
            .with_steps(admin_steps(&n))
            .with_doc_link(n.docs.webhooks),
        ),
        (Some(FailureCode::NotFound), Some("hook_not_found")) => out.push(
            Finding::new(
                Severity::Error,
                "webhook_not_found",
                format!("{} has no hook {}", n.repo, n.hook),
                result.message.clone(),
            )
            .with_steps([
                format!(
                    "Check hook_id in the integration's configuration against the hooks listed at {}/{}/settings/hooks.",
                    n.web, n.repo
                ),
                create_hook_step(&n),
            ])
            .with_api_call(create_hook_call(&n))
            .with_doc_link(n.docs.webhooks),
        ),
        (Some(FailureCode::NotFound), _) => out.push(
            Finding::new(
                Severity::Error,
                "webhook_not_found",
                format!("{} is not visible to the token", n.repo),
                result.message.clone(),
            )
            .with_steps(["Check owner and repo in the configuration, and that the token's user can see the repository."])
            .with_api_call(format!("GET /api/v1/repos/{}", n.repo)),
        ),
        (Some(FailureCode::Unsupported), Some("repository_empty")) => {
            let branch = result
                .details
                .get("default_branch")
                .and_then(Value::as_str)
                .unwrap_or("main");
            out.push(
                Finding::new(
                    Severity::Error,
                    "webhook_unsupported",
                    format!(
                        "{} has no commits, so {} sends no test delivery",
                        n.repo, n.product
                    ),
                    result.message.clone(),
                )
                .with_steps([
                    format!(
                        "Push a commit to {branch}: the hook test sends the head commit of the default branch, and an empty repository has none (its test endpoint answers 204 and sends nothing)."
                    ),
                    format!(
                        "Or check the hook with a real event: push to the repository, then look at the delivery and PathOps's answer under Recent Deliveries at {}.",
                        hook_page(&n)
                    ),
                    "Run the doctor again once the repository has a commit.".to_owned(),
                ])
                .with_api_call(format!(
                    "git commit --allow-empty -m 'first commit' && git push {}/{}.git HEAD:{branch}",
                    n.web, n.repo
                ))
                .with_doc_link(n.docs.webhooks),
            );
        }
        (Some(FailureCode::Unsupported), _) => out.push(
            Finding::new(
                Severity::Error,
                "webhook_unsupported",
                format!("{}'s hook test cannot send this event", n.product),
                result.message.clone(),
            )
            .with_steps(["Leave webhook_trigger unset: the hook test always sends a push (push_events)."])
            .with_doc_link(n.docs.webhooks),
        ),
        (Some(FailureCode::Unhealthy), Some("webhooks_disabled")) => {
            out.push(webhooks_disabled(&n, "webhook_tool_unhealthy", result));
        }
        (Some(FailureCode::Unhealthy), Some(cause @ ("hook_inactive" | "hook_misconfigured"))) => {
            let (steps, call) = hook_fix(&n, result);
            let title = if cause == "hook_inactive" {
                format!("Hook {} is inactive", n.hook)
            } else {
                format!("Hook {} cannot deliver a verifiable test push", n.hook)
            };
            let mut f = Finding::new(
                Severity::Error,
                "webhook_tool_unhealthy",
                title,
                result.message.clone(),
            )
            .with_steps(steps)
            .with_doc_link(n.docs.webhooks);
            if let Some(call) = call {
                f = f.with_api_call(call);
            }
            out.push(f);
        }
        (Some(FailureCode::DeliveryNotReceived), _) => {
            out.push(not_received(&n, result));
            if let Some(class @ ("loopback" | "private" | "link_local")) =
                hook_field(result, "receiver_host").and_then(Value::as_str)
            {
                out.push(host_not_allowed(&n, class));
            }
        }
        (Some(FailureCode::DeliveryRejected), _) => out.push(
            Finding::new(
                Severity::Error,
                "webhook_token_mismatch",
                "The test push arrived but its X-Gitea-Signature did not verify",
                "The hook's secret differs from the one PathOps expects.",
            )
            .with_steps([
                format!(
                    "Set the hook's secret at {} to the secret behind the integration's webhook_secret_ref.",
                    hook_page(&n)
                ),
                "Run the doctor again.".to_owned(),
            ])
            .with_api_call(secret_call(&n))
            .with_doc_link(n.docs.webhooks),
        ),
        _ => {}
    }
    out
}

fn secret_call(n: &Names) -> String {
    format!(
        "PATCH /api/v1/repos/{}/hooks/{} with {{\"config\": {{\"secret\": \"<secret>\"}}}}",
        n.repo, n.hook
    )
}

fn not_received(n: &Names, result: &CheckResult) -> Finding {
    let url = hook_field(result, "url").and_then(Value::as_str);
    let mut steps = vec![
        format!(
            "Open hook {}'s Recent Deliveries at {} ({}'s API cannot list them): each attempt shows the request and the answer.",
            n.hook,
            hook_page(n),
            n.product
        ),
        format!(
            "PathOps answered 401 {{\"error\":\"unauthorized\"}}: the hook's secret is not the one behind webhook_secret_ref (a push signed with another secret is refused and counts as not received); set it, for instance with `{}`.",
            secret_call(n)
        ),
        "The attempt failed with `webhook can only call allowed HTTP servers (check your webhook.ALLOWED_HOST_LIST setting)`: allow the receiver's host under `[webhook]` `ALLOWED_HOST_LIST` in app.ini (the default, `external`, refuses loopback and private addresses), then restart.".to_owned(),
        format!(
            "A connection error or `Client.Timeout exceeded`: check that {} reaches the PathOps receiver from the {} host; a delivery gives up after `[webhook]` `DELIVER_TIMEOUT` (5 s by default).",
            url.unwrap_or("the hook URL"),
            n.product
        ),
    ];
    if let Some(url) = url
        && !url.trim_end_matches('/').ends_with("/webhooks/gitea")
    {
        steps.push(format!(
            "The hook URL {url} is not PathOps's Gitea route: point it at <PathOps public URL>/webhooks/gitea."
        ));
    }
    steps.push(format!(
        "No attempt listed yet: the push is still in {}'s delivery queue; run the doctor again.",
        n.product
    ));
    Finding::new(
        Severity::Error,
        "delivery_not_received",
        format!(
            "{} queued the test push but no verified delivery reached PathOps",
            n.product
        ),
        result.message.clone(),
    )
    .with_steps(steps)
    .with_api_call(format!("GET /api/v1/repos/{}/hooks/{}", n.repo, n.hook))
    .with_doc_link(n.docs.webhooks)
}

fn host_not_allowed(n: &Names, class: &str) -> Finding {
    let (address, builtin) = match class {
        "loopback" => ("a loopback", "loopback"),
        "private" => ("a private", "private"),
        _ => ("a link-local", "the address itself"),
    };
    Finding::new(
        Severity::Warning,
        "webhook_host_not_allowed",
        format!(
            "The hook delivers to {address} address, which {} refuses unless ALLOWED_HOST_LIST allows it",
            n.product
        ),
        format!(
            "`[webhook] ALLOWED_HOST_LIST` defaults to `external`: {} refuses deliveries to loopback, private and link-local addresses, so the push never leaves it.",
            n.product
        ),
    )
    .with_steps([
        format!(
            "In the instance's app.ini set `[webhook]` `ALLOWED_HOST_LIST = external,{builtin}` (or the receiver's host name, IP or CIDR), then restart {}.",
            n.product
        ),
        "Or give the PathOps receiver an external address and point the hook at it.".to_owned(),
    ])
    .with_doc_link(n.docs.webhook_settings)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn gitea() -> Integration {
        let input = pathops_core::NewIntegration::builder(
            "git",
            pathops_core::Provider::Gitea,
            "https://git.example.com/gitea",
        )
        .with_configuration(json!({"owner": "acme", "repo": "platform", "hook_id": 7}))
        .build()
        .unwrap();
        Integration::new_draft(
            pathops_core::IntegrationId::new(),
            "acme".parse().unwrap(),
            input,
            "alice".parse().unwrap(),
            time::OffsetDateTime::UNIX_EPOCH,
        )
    }

    fn failed(code: FailureCode) -> CheckResult {
        CheckResult::failed(code, Duration::ZERO, "failed")
    }

    #[test]
    fn hook_problems_get_one_edit_that_clears_them_all() {
        let result = failed(FailureCode::Unhealthy)
            .with_detail("cause", "hook_misconfigured")
            .with_detail("default_branch", "main")
            .with_detail(
                "hook_problems",
                json!([
                    "inactive",
                    "form_content_type",
                    "push_not_subscribed",
                    "branch_filtered"
                ]),
            )
            .with_detail(
                "hook",
                json!({"events": ["issues"], "branch_filter": "release/*"}),
            );
        let found = for_delivery(&gitea(), &result);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].code, "webhook_tool_unhealthy");
        let call = found[0].api_call.as_deref().unwrap();
        let body: Value = serde_json::from_str(call.split_once(" with ").unwrap().1).unwrap();
        assert_eq!(
            body,
            json!({"active": true, "config": {"content_type": "json"}, "events": ["issues", "push"], "branch_filter": "*"})
        );
        assert!(call.starts_with("PATCH /api/v1/repos/acme/platform/hooks/7 with"));
        assert_eq!(found[0].steps.len(), 5);
        assert!(
            found[0].steps[0]
                .contains("https://git.example.com/gitea/acme/platform/settings/hooks/7"),
            "{}",
            found[0].steps[0]
        );
    }

    #[test]
    fn a_foreign_hook_type_is_replaced_not_edited() {
        let result = failed(FailureCode::Unhealthy)
            .with_detail("cause", "hook_misconfigured")
            .with_detail("hook_problems", json!(["foreign_type"]))
            .with_detail("hook", json!({"type": "slack"}));
        let found = for_delivery(&gitea(), &result);
        assert!(found[0].steps[0].contains("slack"), "{}", found[0].steps[0]);
        assert!(
            found[0]
                .api_call
                .as_deref()
                .unwrap()
                .starts_with("POST /api/v1/repos/acme/platform/hooks with"),
            "{:?}",
            found[0].api_call
        );
    }

    #[test]
    fn only_private_receivers_get_the_allowed_host_list_fix() {
        let missing = |url_class: &str| {
            failed(FailureCode::DeliveryNotReceived).with_detail(
                "hook",
                json!({"url": "http://x/webhooks/gitea", "receiver_host": url_class}),
            )
        };
        for class in ["loopback", "private", "link_local"] {
            let found = for_delivery(&gitea(), &missing(class));
            let codes: Vec<&str> = found.iter().map(|f| f.code.as_str()).collect();
            assert_eq!(
                codes,
                ["delivery_not_received", "webhook_host_not_allowed"],
                "{class}"
            );
            assert!(found[1].steps[0].contains("ALLOWED_HOST_LIST"));
        }
        for class in ["public", "name"] {
            let found = for_delivery(&gitea(), &missing(class));
            assert_eq!(found.len(), 1, "{class}");
        }
    }

    #[test]
    fn a_hook_url_elsewhere_is_named() {
        let result = failed(FailureCode::DeliveryNotReceived).with_detail(
            "hook",
            json!({"url": "https://pathops.example.com/webhooks/github", "receiver_host": "name"}),
        );
        let steps = for_delivery(&gitea(), &result)[0].steps.join("\n");
        assert!(steps.contains("is not PathOps's Gitea route"), "{steps}");
        let right = failed(FailureCode::DeliveryNotReceived).with_detail(
            "hook",
            json!({"url": "https://pathops.example.com/webhooks/gitea", "receiver_host": "name"}),
        );
        let steps = for_delivery(&gitea(), &right)[0].steps.join("\n");
        assert!(!steps.contains("is not PathOps's Gitea route"), "{steps}");
    }

    #[test]
    fn forgejo_gets_forgejos_documentation() {
        let result = failed(FailureCode::DeliveryNotReceived)
            .with_detail("product", "Forgejo")
            .with_detail("hook", json!({"receiver_host": "loopback"}));
        let found = for_delivery(&gitea(), &result);
        assert!(found[0].title.starts_with("Forgejo"), "{}", found[0].title);
        assert!(found.iter().all(|f| {
            f.doc_link
                .as_deref()
                .unwrap()
                .starts_with("https://forgejo.org/")
        }));
    }
}
