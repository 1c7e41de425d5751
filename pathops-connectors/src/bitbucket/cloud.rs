//! The Bitbucket connector's Cloud half: the connection test, the health check, and the round
//! trip without a test endpoint (the receiver's record); see the [module docs](super).

use pathops_core::connector::detail;
use pathops_core::webhook::{Delivery, DeliveryKind};
use pathops_core::{CheckResult, FailureCode};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::config::{APP_PASSWORDS_END, BitbucketConfig, CloudAuth};
use super::dc::{BitbucketConnector, Step, without_credentials};
use crate::check::Check;
use crate::http::{HttpRequest, HttpResponse, path_segment, status};

/// How old the receiver's last delivery from a Cloud hook may be to count as evidence.
pub const EVIDENCE_MAX_AGE: time::Duration = time::Duration::hours(24);

/// The REST root of Bitbucket Cloud: `<base URL>/2.0`, kept as is when the base URL already
/// ends with `/2.0`.
///
/// ```
/// use pathops_connectors::bitbucket::cloud_root;
/// use pathops_core::BaseUrl;
///
/// let root = |s: &str| cloud_root(&BaseUrl::parse(s).unwrap());
/// assert_eq!(root("https://api.bitbucket.org"), "https://api.bitbucket.org/2.0");
/// assert_eq!(root("https://api.bitbucket.org/2.0"), "https://api.bitbucket.org/2.0");
/// ```
pub fn cloud_root(base_url: &pathops_core::BaseUrl) -> String {
    let base = base_url.as_str();
    if base.ends_with("/2.0") {
        base.to_owned()
    } else {
        base_url.join("2.0")
    }
}

/// The scopes a Cloud 403 names: `error.detail.required` of Bitbucket's error body
/// (`{"type": "error", "error": {"message": "Your credentials lack one or more required
/// privilege scopes.", "detail": {"granted": […], "required": […]}}}`), joined by a space.
fn required_scopes(response: &HttpResponse) -> Option<String> {
    let body: Value = response.json().unwrap_or_default();
    let required: Vec<&str> = body["error"]["detail"]["required"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    (!required.is_empty()).then(|| required.join(" "))
}

/// Bitbucket Cloud's classifier: `None` for 2xx; 401 unauthenticated (Bitbucket answers it
/// with `WWW-Authenticate: Basic realm="Bitbucket.org HTTP"`); 403 permission denied, with the
/// scopes when the body names them; 429 rate limited (`Retry-After`); the rest as
/// [`status::default_failure`].
pub fn classify_cloud(response: &HttpResponse, now: OffsetDateTime) -> Option<FailureCode> {
    if response.status.as_u16() == 403 {
        return Some(FailureCode::PermissionDenied {
            missing_scope: required_scopes(response),
        });
    }
    status::default_failure(response.status, &response.headers, now)
}

fn cloud_message(what: &str, response: &HttpResponse) -> String {
    let body: Value = response.json().unwrap_or_default();
    match body["error"]["message"].as_str() {
        Some(m) if !m.trim().is_empty() => {
            let m: String = m.trim().chars().take(200).collect();
            format!("{what} answered {}: {m}", response.status.as_u16())
        }
        _ => crate::check::http_failure_message(what, response),
    }
}

/// A Cloud webhook as `GET …/hooks/{uid}` shows it (the secret is never shown, only
/// `secret_set`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CloudHook {
    pub(super) uuid: String,
    pub(super) active: bool,
    pub(super) url: String,
    pub(super) events: Vec<String>,
    pub(super) secret_set: bool,
}

impl CloudHook {
    fn from_json(hook: &Value) -> Option<Self> {
        Some(Self {
            uuid: hook["uuid"]
                .as_str()?
                .trim_start_matches('{')
                .trim_end_matches('}')
                .to_ascii_lowercase(),
            active: hook["active"].as_bool()?,
            url: without_credentials(hook["url"].as_str()?),
            events: hook["events"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|e| e.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            secret_set: hook["secret_set"].as_bool().unwrap_or(false),
        })
    }

    fn to_detail(&self) -> Value {
        json!({"uuid": self.uuid, "active": self.active, "url": self.url,
               "events": self.events, "secret_set": self.secret_set})
    }
}

impl BitbucketConnector {
    fn cloud_request(check: &Check<'_>, config: &BitbucketConfig, path: &str) -> HttpRequest {
        let url = format!("{}/{path}", cloud_root(&check.ctx.integration.base_url));
        let r = HttpRequest::get(url).header("accept", "application/json");
        match (&check.ctx.secret, config.auth, &config.username) {
            (None, _, _) => r,
            (Some(secret), CloudAuth::AccessToken, _) | (Some(secret), _, None) => {
                r.credential("authorization", "Bearer ", secret)
            }
            (Some(secret), _, Some(user)) => r.basic_auth(user, Some(secret)),
        }
    }

    fn cloud_refused(
        &self,
        check: &Check<'_>,
        what: &str,
        response: &HttpResponse,
        not_found: &str,
    ) -> CheckResult {
        let status = response.status.as_u16();
        let code =
            classify_cloud(response, self.clock.now()).unwrap_or(FailureCode::InvalidResponse);
        let mut message = cloud_message(what, response);
        if code == FailureCode::Unauthenticated && check.ctx.secret.is_none() {
            message.push_str(" (no credential configured)");
        }
        let mut result = check
            .failed(code.clone(), message)
            .with_detail(detail::HTTP_STATUS, status);
        match code {
            FailureCode::NotFound => result = result.with_detail("cause", not_found),
            FailureCode::PermissionDenied {
                missing_scope: Some(_),
            } => result = result.with_detail("cause", "scope_missing"),
            FailureCode::PermissionDenied {
                missing_scope: None,
            } => result = result.with_detail("cause", "admin_required"),
            _ => {}
        }
        result
    }

    async fn cloud_get(
        &self,
        check: &Check<'_>,
        config: &BitbucketConfig,
        path: &str,
        not_found: &str,
    ) -> Step<Value> {
        let what = format!("GET /2.0/{path}");
        let response = check.send(Self::cloud_request(check, config, path)).await?;
        if !response.status.is_success() {
            return Err(self.cloud_refused(check, &what, &response, not_found));
        }
        Self::json(check, &what, &response)
    }

    /// App passwords stop working on [`APP_PASSWORDS_END`]: from then on one fails before any
    /// call, by the connector's clock.
    fn app_password_gate(&self, check: &Check<'_>, config: &BitbucketConfig) -> Step<()> {
        if config.auth == CloudAuth::AppPassword && self.clock.now() >= APP_PASSWORDS_END {
            return Err(check
                .failed(
                    FailureCode::Unauthenticated,
                    "Bitbucket Cloud app passwords stopped working on 2026-06-09: the integration's credential is one (a Basic user name, not an e-mail); replace it with an API token",
                )
                .with_detail("cause", "app_password_retired")
                .with_detail(detail::TOKEN_EXPIRED, true)
                .with_detail(detail::TOKEN_EXPIRES_AT, "2026-06-09T00:00:00Z")
                .with_detail("auth", config.auth.as_str()));
        }
        Ok(())
    }

    fn cloud_repo_path(config: &BitbucketConfig) -> String {
        format!(
            "repositories/{}/{}",
            path_segment(&config.owner),
            path_segment(&config.repo_slug)
        )
    }

    async fn cloud_hook(
        &self,
        check: &Check<'_>,
        config: &BitbucketConfig,
        uuid: &str,
    ) -> Step<CloudHook> {
        let path = format!(
            "{}/hooks/{}",
            Self::cloud_repo_path(config),
            path_segment(&format!("{{{uuid}}}"))
        );
        let hook = self
            .cloud_get(check, config, &path, "hook_not_found")
            .await?;
        CloudHook::from_json(&hook).ok_or_else(|| {
            check.failed(
                FailureCode::InvalidResponse,
                format!("GET /2.0/{path}: the answer lacks uuid, active or url"),
            )
        })
    }

    async fn cloud_steps(
        &self,
        check: &Check<'_>,
        config: &BitbucketConfig,
        details: &mut serde_json::Map<String, Value>,
        warnings: &mut Vec<String>,
    ) -> Step<CheckResult> {
        self.app_password_gate(check, config)?;
        let mut caller = None;
        if config.auth != CloudAuth::AccessToken {
            match self
                .cloud_get(check, config, "user", "user_not_found")
                .await
            {
                Ok(user) => {
                    caller = user["username"]
                        .as_str()
                        .or(user["display_name"].as_str())
                        .map(str::to_owned);
                    details.insert(
                        "user".into(),
                        json!({"name": caller, "account_id": user["account_id"], "uuid": user["uuid"]}),
                    );
                }
                // Identity is not required: a token without the user scope still proves the
                // repository.
                Err(r) if matches!(r.failure, Some(FailureCode::PermissionDenied { .. })) => {
                    warnings.push(format!(
                        "the credential may not read its user: {}",
                        r.message
                    ));
                }
                Err(r) => return Err(r),
            }
        }
        let repo = self
            .cloud_get(
                check,
                config,
                &Self::cloud_repo_path(config),
                "repo_not_found",
            )
            .await?;
        details.insert(
            "repo".into(),
            json!({"uuid": repo["uuid"], "full_name": repo["full_name"], "is_private": repo["is_private"]}),
        );
        let mut message = format!("{} readable", config.repository());
        if let Some(uuid) = &config.hook_uuid {
            let hook = self.cloud_hook(check, config, uuid).await?;
            if !hook.active {
                warnings.push(format!(
                    "hook {uuid} is inactive: Bitbucket sends it no events"
                ));
            }
            if !hook.secret_set {
                warnings.push(format!(
                    "hook {uuid} has no secret: its deliveries are unsigned and PathOps refuses them"
                ));
            }
            message.push_str(&format!(
                ", hook {{{uuid}}} {}",
                if hook.active { "active" } else { "inactive" }
            ));
            details.insert("hook".into(), hook.to_detail());
        }
        if config.auth == CloudAuth::AppPassword {
            warnings.push(
                "the credential is an app password: Bitbucket Cloud app passwords stop working on 2026-06-09"
                    .to_owned(),
            );
            details.insert(
                detail::TOKEN_EXPIRES_AT.into(),
                json!("2026-06-09T00:00:00Z"),
            );
        }
        details.insert("auth".into(), json!(config.auth.as_str()));
        Ok(check.passed(format!(
            "{message} on Bitbucket Cloud{}",
            caller.map(|c| format!(" as {c}")).unwrap_or_default()
        )))
    }

    pub(super) async fn cloud_run(
        &self,
        check: &Check<'_>,
        config: &BitbucketConfig,
        full: bool,
    ) -> CheckResult {
        let repository = config.repository();
        if !full {
            let result = match self.app_password_gate(check, config) {
                Err(r) => r,
                Ok(()) => match self
                    .cloud_get(
                        check,
                        config,
                        &Self::cloud_repo_path(config),
                        "repo_not_found",
                    )
                    .await
                {
                    Ok(_) => check.passed(format!("{repository} readable")),
                    Err(r) => r,
                },
            };
            return result.with_detail(detail::PROJECT, repository);
        }
        let mut details = serde_json::Map::new();
        let mut warnings = Vec::new();
        let mut result = match self
            .cloud_steps(check, config, &mut details, &mut warnings)
            .await
        {
            Ok(r) | Err(r) => r,
        };
        details.insert("warnings".into(), json!(warnings));
        result.details.extend(details);
        result.with_detail(detail::PROJECT, repository)
    }

    /// Cloud's "hook test": there is no endpoint to trigger one, so the hook is read (an
    /// inactive or unsigned one is reported) and the receiver's record is searched for the
    /// hook's last verified delivery; found and recent, it answers the doctor's challenge as
    /// the evidence. Otherwise the result says that no test can be triggered.
    pub(super) async fn cloud_trigger(
        &self,
        check: &Check<'_>,
        config: &BitbucketConfig,
    ) -> CheckResult {
        let Some(uuid) = config.hook_uuid.clone() else {
            return check.failed(
                FailureCode::InvalidConfig,
                "a Bitbucket Cloud round trip needs `hook_uuid` in the configuration",
            );
        };
        let result = match self.cloud_trigger_steps(check, config, &uuid).await {
            Ok(r) | Err(r) => r,
        };
        result
            .with_detail(detail::PROJECT, config.repository())
            .with_detail("hook_uuid", uuid)
    }

    async fn cloud_trigger_steps(
        &self,
        check: &Check<'_>,
        config: &BitbucketConfig,
        uuid: &str,
    ) -> Step<CheckResult> {
        self.app_password_gate(check, config)?;
        let hook = self.cloud_hook(check, config, uuid).await?;
        let annotate = |r: CheckResult| r.with_detail("hook", hook.to_detail());
        if !hook.active {
            return Err(annotate(
                check
                    .failed(
                        FailureCode::Unhealthy,
                        format!("hook {{{uuid}}} is inactive: Bitbucket sends it no events"),
                    )
                    .with_detail("cause", "hook_inactive"),
            ));
        }
        if !hook.secret_set {
            return Err(annotate(
                check
                    .failed(
                        FailureCode::Unhealthy,
                        format!(
                            "hook {{{uuid}}} has no secret: Bitbucket sends its deliveries unsigned, and PathOps refuses them"
                        ),
                    )
                    .with_detail("cause", "hook_without_secret"),
            ));
        }
        let now = self.clock.now();
        let Some(record) = &self.record else {
            return Err(annotate(
                check
                    .failed(
                        FailureCode::Unsupported,
                        "Bitbucket Cloud cannot trigger a test delivery, and this connector has no receiver record to look for a real one in",
                    )
                    .with_detail("cause", "no_test_endpoint"),
            ));
        };
        let last: Option<Delivery> = record
            .unmatched()
            .into_iter()
            .filter(|d| {
                d.kind == DeliveryKind::Bitbucket
                    && d.hook_uuid.as_deref().is_some_and(|got| {
                        got.trim_start_matches('{')
                            .trim_end_matches('}')
                            .eq_ignore_ascii_case(uuid)
                    })
            })
            .max_by_key(|d| d.received_at);
        let Some(last) = last else {
            return Err(annotate(
                check
                    .failed(
                        FailureCode::Unsupported,
                        format!(
                            "Bitbucket Cloud cannot trigger a test delivery, and the receiver has recorded no verified delivery from hook {{{uuid}}}"
                        ),
                    )
                    .with_detail("cause", "no_test_endpoint"),
            ));
        };
        // Clamped: the receiver's clock may run ahead of the connector's.
        let age = (now - last.received_at).max(time::Duration::ZERO);
        let evidence = json!({
            "source": "receiver_record",
            "delivery_id": last.delivery_id,
            "event": last.event,
            "received_at": last.received_at.format(&time::format_description::well_known::Rfc3339).ok(),
        });
        if age > EVIDENCE_MAX_AGE {
            return Err(annotate(
                check
                    .failed(
                        FailureCode::Unsupported,
                        format!(
                            "Bitbucket Cloud cannot trigger a test delivery, and the last delivery the receiver verified from hook {{{uuid}}} is {} hours old",
                            age.whole_hours()
                        ),
                    )
                    .with_detail("cause", "evidence_stale")
                    .with_detail("evidence", evidence),
            ));
        }
        // Answer this tenant's pending challenges for the hook with the recorded delivery.
        let tenant = &check.ctx.integration.tenant_id;
        for candidate in record.candidates(&last, now) {
            if record.tenant_of(candidate.challenge_id).as_ref() == Some(tenant) {
                record.correlate(candidate.challenge_id, last.clone());
            }
        }
        Ok(annotate(
            check
                .passed(format!(
                    "Bitbucket Cloud has no test endpoint; evidence: the receiver verified the {} delivery {} from hook {{{uuid}}} {} minutes ago",
                    last.event.as_deref().unwrap_or("(unnamed)"),
                    last.delivery_id.as_deref().unwrap_or("(no id)"),
                    age.whole_minutes()
                ))
                .with_detail("evidence", evidence),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;

    fn answer(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status: reqwest::StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
            url: "https://api.bitbucket.org/2.0/x".parse().unwrap(),
        }
    }

    #[test]
    fn cloud_403s_name_the_scopes_bitbucket_requires() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let scopes = r#"{"type":"error","error":{"message":"Your credentials lack one or more required privilege scopes.","detail":{"granted":["account"],"required":["webhook"]}}}"#;
        assert_eq!(
            classify_cloud(&answer(403, scopes), now),
            Some(FailureCode::PermissionDenied {
                missing_scope: Some("webhook".into())
            })
        );
        assert_eq!(
            classify_cloud(
                &answer(403, r#"{"type":"error","error":{"message":"no"}}"#),
                now
            ),
            Some(FailureCode::PermissionDenied {
                missing_scope: None
            })
        );
        assert_eq!(
            classify_cloud(&answer(401, ""), now),
            Some(FailureCode::Unauthenticated)
        );
        assert_eq!(
            cloud_message("GET /2.0/x", &answer(403, scopes)),
            "GET /2.0/x answered 403: Your credentials lack one or more required privilege scopes."
        );
    }
}
