//! The hook test trigger and the delivery it makes.
//!
//! `trigger_delivery` reads the hook first (`GET /projects/:id/hooks/:hook_id`: it exists, and
//! its `alert_status`), then asks for the test (`POST …/test/:trigger`). GitLab delivers inside
//! that call, so its answer says how the delivery went: 201 the receiver answered 2xx, 422 it
//! did not (the receiver's body or the connection error), or the test was refused. A 422
//! carrying the PathOps receiver's `{"error":"unauthorized"}` is reported as a rejected
//! delivery (the hook's token is wrong): the receiver does not fail a challenge on an
//! unverified delivery, since anyone could send one, so GitLab's own report is the evidence. A
//! successful test re-enables an auto-disabled hook, so after one the hook is read again and
//! the result reports the state GitLab left it in.

use std::collections::HashMap;
use std::sync::Mutex;

use pathops_core::connector::detail;
use pathops_core::webhook::{DeliveryKind, Expectation};
use pathops_core::{CheckResult, ConnectorContext, FailureCode, Integration, IntegrationId};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::{GitLabConfig, GitLabConnector, ProjectRef, classify};
use crate::check::{Check, http_failure_message};
use crate::http::{HttpRequest, status};

/// GitLab's hook-test limit window: 5 calls per minute per project and user.
const TEST_LIMIT_WINDOW: time::Duration = time::Duration::minutes(1);

/// The `X-Gitlab-Event` header a test of `trigger` sends (`push_events` → `Push Hook`), for
/// the triggers whose event name the reference documents; `None` for the others (the doctor
/// then correlates on instance and project alone).
pub fn event_for_trigger(trigger: &str) -> Option<&'static str> {
    Some(match trigger {
        "push_events" => "Push Hook",
        "tag_push_events" => "Tag Push Hook",
        "issues_events" => "Issue Hook",
        "note_events" => "Note Hook",
        "merge_requests_events" => "Merge Request Hook",
        "job_events" => "Job Hook",
        "pipeline_events" => "Pipeline Hook",
        "wiki_page_events" => "Wiki Page Hook",
        "deployment_events" => "Deployment Hook",
        "feature_flag_events" => "Feature Flag Hook",
        "releases_events" => "Release Hook",
        "emoji_events" => "Emoji Hook",
        "resource_access_token_events" => "Resource Access Token Hook",
        _ => return None,
    })
}

/// Triggers are route segments: lower-case words joined by `_`. Anything else is refused
/// before a request is built.
fn valid_trigger(trigger: &str) -> bool {
    !trigger.is_empty()
        && trigger.len() <= 64
        && trigger.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

/// Numeric ids of projects configured by path, learnt from `GET /projects/:id` during the
/// connection test, so a delivery can be matched on its payload's `project_id`.
#[derive(Debug, Default)]
pub(super) struct ResolvedProjects(Mutex<HashMap<(IntegrationId, String), u64>>);

impl ResolvedProjects {
    /// Entries kept before the map is cleared (one per integration configured by path).
    const CAPACITY: usize = 10_000;

    fn key(integration: &Integration, path: &str) -> (IntegrationId, String) {
        (
            integration.id,
            format!("{}|{path}", integration.base_url.as_str()),
        )
    }

    pub(super) fn remember(&self, integration: &Integration, path: &str, id: u64) {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= Self::CAPACITY {
            map.clear();
        }
        map.insert(Self::key(integration, path), id);
    }

    pub(super) fn get(&self, integration: &Integration, path: &str) -> Option<u64> {
        self.0
            .lock()
            .expect("resolved projects lock")
            .get(&Self::key(integration, path))
            .copied()
    }
}

/// The hook's auto-disabling state.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HookState {
    alert_status: String,
    disabled_until: Option<String>,
}

impl HookState {
    fn from_json(hook: &Value) -> Self {
        Self {
            alert_status: hook["alert_status"]
                .as_str()
                .unwrap_or("executable")
                .to_owned(),
            disabled_until: hook["disabled_until"].as_str().map(str::to_owned),
        }
    }

    fn executable(&self) -> bool {
        self.alert_status == "executable"
    }
}

type Step<T> = Result<T, CheckResult>;

impl GitLabConnector {
    /// What a test of `trigger` delivers: a GitLab delivery from this instance (`instance_url`
    /// or the base URL), for the configured project when its numeric id is known, with the
    /// trigger's event. `None` without a `project` and `hook_id`.
    pub(super) fn expectation(
        &self,
        integration: &Integration,
        trigger: &str,
    ) -> Option<(DeliveryKind, Expectation)> {
        let config = GitLabConfig::parse(&integration.configuration).ok()?;
        let project = config.project.as_ref()?;
        config.hook_id?;
        let project_id = match project {
            ProjectRef::Id(id) => Some(*id),
            ProjectRef::Path(path) => self.resolved.get(integration, path),
        };
        let expectation = Expectation {
            instance: Some(
                config
                    .instance_url
                    .unwrap_or_else(|| integration.base_url.to_string()),
            ),
            project_id,
            event: event_for_trigger(trigger).map(str::to_owned),
            ..Expectation::default()
        };
        Some((DeliveryKind::GitLab, expectation))
    }

    /// `POST /projects/:id/hooks/:hook_id/test/:trigger`, with the hook read before (and after
    /// a successful test of a disabled hook).
    pub(super) async fn trigger_test(&self, ctx: &ConnectorContext, trigger: &str) -> CheckResult {
        let check = Check::start(&self.http, ctx);
        let config = match Self::config(&check) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let (Some(project), Some(hook_id)) = (&config.project, config.hook_id) else {
            return check.failed(
                FailureCode::InvalidConfig,
                "a hook test needs `project` and `hook_id` in the configuration",
            );
        };
        let project_detail = match project {
            ProjectRef::Id(id) => json!(id),
            ProjectRef::Path(path) => json!(path),
        };
        let result = if valid_trigger(trigger) {
            match self
                .trigger_steps(&check, &config, project, hook_id, trigger)
                .await
            {
                Ok(r) | Err(r) => r,
            }
        } else {
            check.failed(
                FailureCode::InvalidConfig,
                "the webhook trigger must be a GitLab trigger name such as push_events",
            )
        };
        result
            .with_detail(detail::PROJECT, project_detail)
            .with_detail(detail::HOOK_ID, hook_id)
            .with_detail("trigger", trigger)
    }

    async fn read_hook(
        &self,
        check: &Check<'_>,
        config: &GitLabConfig,
        hook_path: &str,
    ) -> Step<HookState> {
        let what = format!("GET /{hook_path}");
        let response = check
            .send(self.request(
                check.ctx,
                config,
                HttpRequest::get(Self::url(check.ctx, hook_path)),
            ))
            .await?;
        self.expect_ok(check, &what, &response)
            .map_err(|r| r.with_detail(detail::HTTP_STATUS, response.status.as_u16()))?;
        let hook: Value = Self::parse(check, &what, &response)?;
        Ok(HookState::from_json(&hook))
    }

    async fn trigger_steps(
        &self,
        check: &Check<'_>,
        config: &GitLabConfig,
        project: &ProjectRef,
        hook_id: u64,
        trigger: &str,
    ) -> Step<CheckResult> {
        let ctx = check.ctx;
        let hook_path = format!("projects/{}/hooks/{hook_id}", project.segment());
        let before = self.read_hook(check, config, &hook_path).await?;
        let test_path = format!("{hook_path}/test/{trigger}");
        // The real path, as an operator would retry it: never the route template.
        let what = format!("POST /{test_path}");
        let what = what.as_str();
        let response = check
            .send(self.request(ctx, config, HttpRequest::post(Self::url(ctx, &test_path))))
            .await?;
        let status = response.status.as_u16();
        let result = match status {
            201 => check.passed(format!(
                "GitLab delivered a test {trigger} event to the hook (201)"
            )),
            422 => {
                let body: Value = response.json().unwrap_or_default();
                let message = match &body["message"] {
                    Value::String(s) => s.clone(),
                    Value::Null => response.body_excerpt(500),
                    other => other.to_string(),
                };
                if receiver_refused_the_token(&message) {
                    // GitLab delivered inside this call and reports our receiver's answer:
                    // authoritative evidence that the hook's token does not verify, which
                    // the receiver itself cannot tell from a forged delivery.
                    check
                        .failed(
                            FailureCode::DeliveryRejected,
                            "GitLab's test delivery reached the receiver, which refused its secret token",
                        )
                        .with_detail(detail::DELIVERY_ERROR, message)
                } else if refused_before_delivery(&message) {
                    check.failed(
                        FailureCode::InvalidConfig,
                        format!(
                            "GitLab cannot test {trigger} on this project ({message}); choose another webhook_trigger"
                        ),
                    )
                } else {
                    check
                        .failed(
                            FailureCode::DeliveryFailed,
                            format!("GitLab could not deliver the test event: {message}"),
                        )
                        .with_detail(detail::DELIVERY_ERROR, message)
                }
            }
            400 => check.failed(
                FailureCode::InvalidConfig,
                format!(
                    "{} (is {trigger} a GitLab hook trigger?)",
                    http_failure_message(what, &response)
                ),
            ),
            429 => {
                // The hook-test limit is an application limit: GitLab's RateLimit-* headers do
                // not describe it. Retry-After when given, else the end of its one-minute window.
                let now = self.clock.now();
                let reset_at =
                    status::retry_after(&response.headers, now).unwrap_or(now + TEST_LIMIT_WINDOW);
                check
                    .failed(
                        FailureCode::RateLimited {
                            reset_at: Some(reset_at),
                        },
                        format!(
                            "{}; retry after {}",
                            http_failure_message(what, &response),
                            rfc3339(reset_at)
                        ),
                    )
                    .with_detail(detail::RATE_LIMIT_RESET, rfc3339(reset_at))
            }
            _ => {
                let code =
                    classify(&response, self.clock.now()).unwrap_or(FailureCode::InvalidResponse);
                check.failed(code, http_failure_message(what, &response))
            }
        };
        // A successful test re-enables a disabled hook: report the state GitLab left it in.
        let after = if status == 201 && !before.executable() {
            self.read_hook(check, config, &hook_path)
                .await
                .unwrap_or_else(|_| before.clone())
        } else {
            before.clone()
        };
        let mut result = result
            .with_detail(detail::HTTP_STATUS, status)
            .with_detail(detail::HOOK_ALERT_STATUS, after.alert_status.clone());
        if let Some(until) = &after.disabled_until {
            result = result.with_detail(detail::HOOK_DISABLED_UNTIL, until.clone());
        }
        if after != before {
            result = result.with_detail("hook_alert_status_before", before.alert_status);
        }
        result.latency = check.passed("").latency;
        Ok(result)
    }
}

/// A 422 whose message is the PathOps receiver's `401` body: the delivery arrived and its
/// token did not verify.
fn receiver_refused_the_token(message: &str) -> bool {
    serde_json::from_str::<Value>(message)
        .is_ok_and(|body| body == json!({ "error": "unauthorized" }))
}

/// 422 messages that refuse the test before any delivery: the project lacks what the
/// trigger's sample needs, or the trigger cannot be tested.
fn refused_before_delivery(message: &str) -> bool {
    message.starts_with("Ensure the ") || message == "Testing not available for this hook"
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_follow_the_trigger_and_unknown_triggers_match_any_event() {
        assert_eq!(event_for_trigger("push_events"), Some("Push Hook"));
        assert_eq!(event_for_trigger("tag_push_events"), Some("Tag Push Hook"));
        assert_eq!(
            event_for_trigger("merge_requests_events"),
            Some("Merge Request Hook")
        );
        assert_eq!(event_for_trigger("releases_events"), Some("Release Hook"));
        assert_eq!(event_for_trigger("confidential_issues_events"), None);
        assert_eq!(event_for_trigger("bogus"), None);
    }

    #[test]
    fn triggers_are_route_segments() {
        assert!(valid_trigger("push_events"));
        assert!(!valid_trigger(""));
        assert!(!valid_trigger("push_events/../../user"));
        assert!(!valid_trigger("Push Events"));
    }

    #[test]
    fn precondition_refusals_are_not_delivery_failures() {
        assert!(refused_before_delivery(
            "Ensure the project has at least one commit."
        ));
        assert!(refused_before_delivery(
            "Testing not available for this hook"
        ));
        assert!(!refused_before_delivery("Failed to open TCP connection"));
    }

    #[test]
    fn only_the_receivers_unauthorized_answer_blames_the_token() {
        assert!(receiver_refused_the_token(r#"{"error":"unauthorized"}"#));
        assert!(receiver_refused_the_token(r#"{ "error": "unauthorized" }"#));
        assert!(!receiver_refused_the_token(r#"{"error":"duplicate"}"#));
        assert!(!receiver_refused_the_token("Hook execution failed: 401"));
        assert!(!receiver_refused_the_token("Failed to open TCP connection"));
    }
}
