//! The hook, what would keep Gitea from sending its test push, the trigger, and what the
//! delivery will look like.
//!
//! `trigger_delivery` reads the version, the repository and the hook, and refuses to
//! trigger when Gitea would answer 204 and send nothing (an empty repository, an inactive
//! hook, a hook without `push` or whose branch filter excludes the default branch) or send
//! something the receiver cannot verify (a `form` hook, a non-Gitea hook type): the doctor
//! then reports the cause at once instead of waiting for a delivery that cannot come. Else
//! it calls `POST …/hooks/:id/tests`, whose 204 only means "queued".

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use pathops_core::connector::detail;
use pathops_core::webhook::{DeliveryKind, Expectation};
use pathops_core::{CheckResult, ConnectorContext, FailureCode, Integration, IntegrationId};
use serde_json::{Value, json};

use super::scm::{GiteaConfig, GiteaConnector, PUSH_TRIGGER};
use super::{RepoRef, Step};
use crate::check::Check;
use crate::http::HttpRequest;

/// A hook as `GET /repos/:owner/:repo/hooks/:id` shows it, without what may carry a
/// credential (`authorization_header`; the URL's user info and query).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct HookView {
    pub(super) id: u64,
    pub(super) kind: String,
    pub(super) active: bool,
    /// The URL without user info, query or fragment.
    pub(super) url: String,
    pub(super) content_type: String,
    pub(super) events: Vec<String>,
    pub(super) branch_filter: String,
}

/// Why Gitea would send no verifiable test push through a hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum HookProblem {
    /// `active: false`: the delivery is recorded as failed, never sent.
    Inactive,
    /// `content_type: form`: the body is `payload=…`, the signature covers the JSON inside.
    FormContent,
    /// Not subscribed to `push`: the test creates no delivery.
    NoPush,
    /// The branch filter excludes the default branch: no delivery.
    BranchFiltered(String),
    /// A hook type with its own payload (`slack`, `discord`, …), not Gitea's.
    ForeignType(String),
}

impl HookProblem {
    /// The stable name in the `hook_problems` detail.
    pub(super) fn code(&self) -> &'static str {
        match self {
            Self::Inactive => "inactive",
            Self::FormContent => "form_content_type",
            Self::NoPush => "push_not_subscribed",
            Self::BranchFiltered(_) => "branch_filtered",
            Self::ForeignType(_) => "foreign_type",
        }
    }

    /// One line for humans, for the default branch `branch`.
    pub(super) fn describe(&self, branch: &str) -> String {
        match self {
            Self::Inactive => "the hook is inactive: Gitea records its deliveries as failed and sends none".to_owned(),
            Self::FormContent => "the hook posts a form (payload=…), whose signature covers the JSON inside, not the body PathOps verifies".to_owned(),
            Self::NoPush => "the hook is not subscribed to push events, and Gitea's hook test is a push".to_owned(),
            Self::BranchFiltered(filter) => format!(
                "the hook's branch filter {filter:?} excludes the default branch {branch}, which the test pushes"
            ),
            Self::ForeignType(kind) => format!(
                "the hook is of type {kind}, which sends its own payload instead of Gitea's signed one"
            ),
        }
    }
}

impl HookView {
    /// Reads a hook answer; `None` without `id`, `active` or a URL.
    pub(super) fn from_json(hook: &Value) -> Option<Self> {
        let config = &hook["config"];
        let text = |v: &Value| v.as_str().map(str::to_owned);
        let url = text(&config["url"]).or_else(|| text(&hook["url"]))?;
        Some(Self {
            id: hook["id"].as_u64()?,
            kind: text(&hook["type"]).unwrap_or_else(|| "gitea".to_owned()),
            active: hook["active"].as_bool()?,
            url: without_credentials(&url),
            content_type: text(&config["content_type"])
                .or_else(|| text(&hook["content_type"]))
                .unwrap_or_else(|| "json".to_owned()),
            events: hook["events"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|e| e.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            branch_filter: text(&hook["branch_filter"]).unwrap_or_default(),
        })
    }

    /// What would keep the test push from reaching PathOps verifiably.
    pub(super) fn problems(&self, default_branch: &str) -> Vec<HookProblem> {
        let mut out = Vec::new();
        if !self.active {
            out.push(HookProblem::Inactive);
        }
        if !matches!(self.kind.as_str(), "gitea" | "gogs" | "forgejo") {
            out.push(HookProblem::ForeignType(self.kind.clone()));
        }
        if self.content_type == "form" {
            out.push(HookProblem::FormContent);
        }
        if !self.events.iter().any(|e| e == "push") {
            out.push(HookProblem::NoPush);
        }
        if branch_filter_matches(&self.branch_filter, default_branch) == Some(false) {
            out.push(HookProblem::BranchFiltered(self.branch_filter.clone()));
        }
        out
    }

    /// The `hook` detail.
    pub(super) fn to_detail(&self) -> Value {
        json!({
            "id": self.id, "type": self.kind, "active": self.active, "url": self.url,
            "content_type": self.content_type, "events": self.events,
            "branch_filter": self.branch_filter,
            "receiver_host": host_class(&self.url),
        })
    }
}

/// `scheme://host[:port]/path` of `url`: user info, query and fragment dropped, since hook
/// URLs may carry credentials there.
pub(super) fn without_credentials(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => "(not a URL)".to_owned(),
    }
}

/// Where a hook URL points, as Gitea's `[webhook] ALLOWED_HOST_LIST` sees it: `loopback`,
/// `private` (RFC 1918, `fc00::/7`), `link_local`, `public` for IP literals and `localhost`;
/// `name` for a host name (its address is not looked up here); `unknown` without a host.
pub(super) fn host_class(url: &str) -> &'static str {
    let Some(host) = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
    else {
        return "unknown";
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") || host.to_ascii_lowercase().ends_with(".localhost") {
        return "loopback";
    }
    match host.parse::<IpAddr>() {
        Ok(ip) if ip.is_loopback() => "loopback",
        Ok(IpAddr::V4(v4)) if v4.is_private() => "private",
        Ok(IpAddr::V4(v4)) if v4.is_link_local() => "link_local",
        Ok(IpAddr::V6(v6)) if (v6.segments()[0] & 0xfe00) == 0xfc00 => "private",
        Ok(IpAddr::V6(v6)) if (v6.segments()[0] & 0xffc0) == 0xfe80 => "link_local",
        Ok(_) => "public",
        Err(_) => "name",
    }
}

/// Whether Gitea's branch filter (a `gobwas/glob` pattern) lets `branch` through: empty and
/// `*` let everything through; `*` is any run without `/`, `**` any run, `?` one character,
/// `{a,b}` alternatives. `None` for a filter with a character class (`[…]`), not judged.
pub(super) fn branch_filter_matches(filter: &str, branch: &str) -> Option<bool> {
    fn matches(pattern: &[char], text: &[char]) -> bool {
        match pattern.first() {
            None => text.is_empty(),
            Some('*') if pattern.get(1) == Some(&'*') => {
                (0..=text.len()).any(|i| matches(&pattern[2..], &text[i..]))
            }
            Some('*') => (0..=text.len())
                .take_while(|i| *i == 0 || text[i - 1] != '/')
                .any(|i| matches(&pattern[1..], &text[i..])),
            Some('?') => !text.is_empty() && text[0] != '/' && matches(&pattern[1..], &text[1..]),
            Some('{') => {
                let Some(close) = pattern.iter().position(|c| *c == '}') else {
                    return false;
                };
                let rest = &pattern[close + 1..];
                pattern[1..close].split(|c| *c == ',').any(|alternative| {
                    let candidate: Vec<char> = alternative.iter().chain(rest).copied().collect();
                    matches(&candidate, text)
                })
            }
            Some(c) => text.first() == Some(c) && matches(&pattern[1..], &text[1..]),
        }
    }
    if filter.is_empty() || filter == "*" {
        return Some(true);
    }
    if filter.contains('[') || filter.contains('\\') {
        return None;
    }
    let pattern: Vec<char> = filter.chars().collect();
    let text: Vec<char> = branch.chars().collect();
    Some(matches(&pattern, &text))
}

/// Repository ids learnt by the connection test, so a delivery can be matched on its
/// payload's `repository.id` (Gitea names are case-insensitive and can change; the id
/// cannot).
#[derive(Debug, Default)]
pub(super) struct RepoIds(Mutex<HashMap<(IntegrationId, String), u64>>);

impl RepoIds {
    /// Entries kept before the map is cleared.
    const CAPACITY: usize = 10_000;

    fn key(integration: &Integration, repo: &RepoRef) -> (IntegrationId, String) {
        (
            integration.id,
            format!(
                "{}|{}",
                integration.base_url.as_str(),
                repo.path().to_ascii_lowercase()
            ),
        )
    }

    pub(super) fn remember(&self, integration: &Integration, repo: &RepoRef, id: u64) {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= Self::CAPACITY {
            map.clear();
        }
        map.insert(Self::key(integration, repo), id);
    }

    fn get(&self, integration: &Integration, repo: &RepoRef) -> Option<u64> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&Self::key(integration, repo))
            .copied()
    }
}

impl GiteaConnector {
    /// A Gitea `push` delivery for the repository's id when the connection test learnt it;
    /// `None` without a `hook_id`.
    pub(super) fn expectation(
        &self,
        integration: &Integration,
    ) -> Option<(DeliveryKind, Expectation)> {
        let config = GiteaConfig::parse(&integration.configuration).ok()?;
        config.hook_id?;
        let expectation = Expectation {
            project_id: self.repos.get(integration, &config.repo),
            event: Some("push".to_owned()),
            ..Expectation::default()
        };
        Some((DeliveryKind::Gitea, expectation))
    }

    /// The hook test, with its checks first; every result names the repository and hook.
    pub(super) async fn trigger_test(&self, ctx: &ConnectorContext, trigger: &str) -> CheckResult {
        let check = Check::start(&self.api.http, ctx);
        let config = match Self::config(&check) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let Some(hook_id) = config.hook_id else {
            return check.failed(
                FailureCode::InvalidConfig,
                "a hook test needs `hook_id` in the configuration",
            );
        };
        let result = if trigger == PUSH_TRIGGER {
            match self.trigger_steps(&check, &config.repo, hook_id).await {
                Ok(r) | Err(r) => r,
            }
        } else {
            check.failed(
                FailureCode::Unsupported,
                format!(
                    "Gitea's hook test always sends a push; the trigger {trigger:?} cannot be tested (use push_events)"
                ),
            )
        };
        result
            .with_detail(detail::PROJECT, config.repo.path())
            .with_detail(detail::HOOK_ID, hook_id)
    }

    async fn trigger_steps(
        &self,
        check: &Check<'_>,
        repo: &RepoRef,
        hook_id: u64,
    ) -> Step<CheckResult> {
        let version = self.api.version(check).await?;
        let product = version.product();
        let with_product = |r: CheckResult| {
            r.with_detail("product", product)
                .with_detail("version", version.version.clone())
        };
        let repository = self.repository(check, repo).await.map_err(with_product)?;
        if repository["empty"] == Value::Bool(true) {
            return Err(with_product(
                check
                    .failed(
                        FailureCode::Unsupported,
                        format!(
                            "the repository {} has no commits, so {product} sends no test delivery (its hook test answers 204 and sends nothing)",
                            repo.path()
                        ),
                    )
                    .with_detail("cause", "repository_empty"),
            ));
        }
        let branch = repository["default_branch"]
            .as_str()
            .unwrap_or("main")
            .to_owned();
        let hook = self
            .read_hook(check, repo, hook_id)
            .await
            .map_err(with_product)?;
        let problems = hook.problems(&branch);
        let annotate = |r: CheckResult| {
            with_product(r)
                .with_detail("hook", hook.to_detail())
                .with_detail("default_branch", branch.clone())
                .with_detail(
                    "hook_problems",
                    problems.iter().map(HookProblem::code).collect::<Vec<_>>(),
                )
        };
        if !problems.is_empty() {
            let cause = if problems == [HookProblem::Inactive] {
                "hook_inactive"
            } else {
                "hook_misconfigured"
            };
            let why: Vec<String> = problems.iter().map(|p| p.describe(&branch)).collect();
            return Err(annotate(
                check
                    .failed(
                        FailureCode::Unhealthy,
                        format!(
                            "{product} would send no verifiable test delivery through hook {hook_id}: {}",
                            why.join("; ")
                        ),
                    )
                    .with_detail("cause", cause),
            ));
        }
        let path = format!("repos/{}/hooks/{hook_id}/tests", repo.path());
        let what = format!("POST /api/v1/{path}");
        let url = format!(
            "{}/{path}",
            super::api_root(&check.ctx.integration.base_url)
        );
        let request = super::auth::authorize(
            HttpRequest::post(url).header("accept", "application/json"),
            check.ctx.secret.as_ref(),
        );
        let response = check.send(request).await.map_err(annotate)?;
        let status = response.status.as_u16();
        let result = match status {
            204 | 200 => check.passed(format!(
                "{product} queued a test push of {branch} through hook {hook_id} ({status}); it delivers on its own"
            )),
            404 => check
                .failed(
                    FailureCode::NotFound,
                    format!("{what} answered 404: {} has no hook {hook_id}", repo.path()),
                )
                .with_detail("cause", "hook_not_found"),
            _ => self.refused(check, &what, &response),
        };
        Ok(annotate(result.with_detail(detail::HTTP_STATUS, status)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(v: Value) -> HookView {
        HookView::from_json(&v).unwrap()
    }

    #[test]
    fn hooks_are_read_without_their_credentials() {
        let h = hook(json!({
            "id": 7, "type": "gitea", "active": true, "events": ["push"], "branch_filter": "*",
            "authorization_header": "Bearer SENTINEL-auth",
            "config": {"url": "https://bot:SENTINEL-pass@pathops.example.com/webhooks/gitea?token=SENTINEL-q#x", "content_type": "json"},
        }));
        assert_eq!(h.url, "https://pathops.example.com/webhooks/gitea");
        assert!(!format!("{h:?}{}", h.to_detail()).contains("SENTINEL"));
        assert!(h.problems("main").is_empty());
        assert_eq!(HookView::from_json(&json!({"id": 7, "active": true})), None);
        assert_eq!(
            HookView::from_json(&json!({"id": 7, "config": {"url": "http://x"}})),
            None
        );
    }

    #[test]
    fn what_keeps_gitea_from_sending_is_found_before_triggering() {
        let h = hook(json!({
            "id": 7, "type": "slack", "active": false, "events": ["issues"],
            "branch_filter": "release/*", "config": {"url": "http://10.0.0.5/x", "content_type": "form"},
        }));
        let codes: Vec<&str> = h.problems("main").iter().map(HookProblem::code).collect();
        assert_eq!(
            codes,
            [
                "inactive",
                "foreign_type",
                "form_content_type",
                "push_not_subscribed",
                "branch_filtered"
            ]
        );
        assert!(
            h.problems("main")[4]
                .describe("main")
                .contains("\"release/*\"")
        );
    }

    #[test]
    fn branch_filters_and_receiver_hosts() {
        assert_eq!(branch_filter_matches("", "main"), Some(true));
        assert_eq!(branch_filter_matches("*", "main"), Some(true));
        assert_eq!(branch_filter_matches("{main,develop}", "main"), Some(true));
        assert_eq!(branch_filter_matches("release/*", "main"), Some(false));
        assert_eq!(
            branch_filter_matches("release/*", "release/1/x"),
            Some(false)
        );
        assert_eq!(
            branch_filter_matches("release/**", "release/1/x"),
            Some(true)
        );
        assert_eq!(branch_filter_matches("ma?n", "main"), Some(true));
        assert_eq!(branch_filter_matches("[mb]ain", "main"), None);
        assert_eq!(
            host_class("http://127.0.0.1:8080/webhooks/gitea"),
            "loopback"
        );
        assert_eq!(host_class("http://localhost/webhooks/gitea"), "loopback");
        assert_eq!(host_class("http://[::1]:80/"), "loopback");
        assert_eq!(host_class("http://10.2.3.4/"), "private");
        assert_eq!(host_class("http://192.168.1.1/"), "private");
        assert_eq!(host_class("http://[fd00::1]/"), "private");
        assert_eq!(host_class("http://169.254.1.1/"), "link_local");
        assert_eq!(host_class("https://93.184.216.34/"), "public");
        assert_eq!(host_class("https://pathops.example.com/"), "name");
        assert_eq!(host_class("not a url"), "unknown");
    }
}
