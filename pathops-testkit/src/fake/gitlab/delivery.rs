//! The synchronous test delivery: GitLab's header set and a sample push payload, POSTed to the
//! hook URL while the test request waits.

use std::time::Instant;

use serde_json::{Value, json};

use super::model::{GitLabHook, GitLabHookEvent, GitLabProject, GitLabUser};

/// Everything a delivery needs, copied out of the state so no lock is held while it runs.
#[derive(Debug)]
pub(super) struct Delivery {
    pub(super) hook: GitLabHook,
    pub(super) project: GitLabProject,
    pub(super) user: GitLabUser,
    pub(super) trigger: String,
    pub(super) instance: String,
    pub(super) version: String,
    pub(super) block_local_requests: bool,
}

/// GitLab's URL blocker (`Gitlab::HTTP_V2::UrlBlocker`) with local requests disallowed: its
/// refusal for a hook URL on a loopback or private address, `None` for one it lets through.
/// Host names are judged as written (the fake resolves nothing but `localhost`).
fn url_blocker(url: &str) -> Option<&'static str> {
    let host = url::Url::parse(url).ok()?.host()?.to_owned();
    let ip = match host {
        url::Host::Domain(d) if d.eq_ignore_ascii_case("localhost") => {
            return Some("URL is blocked: Requests to localhost are not allowed");
        }
        url::Host::Domain(_) => return None,
        url::Host::Ipv4(ip) => std::net::IpAddr::V4(ip),
        url::Host::Ipv6(ip) => std::net::IpAddr::V6(ip),
    };
    if ip.is_loopback() || ip.is_unspecified() {
        return Some("URL is blocked: Requests to localhost are not allowed");
    }
    let private = match ip {
        std::net::IpAddr::V4(v4) => v4.is_private() || v4.is_link_local(),
        std::net::IpAddr::V6(v6) => v6.is_unique_local() || v6.is_unicast_link_local(),
    };
    private.then_some("URL is blocked: Requests to the local network are not allowed")
}

/// `push_events` → (`Push Hook`, `push_hooks`).
fn event_names(trigger: &str) -> (&'static str, &'static str) {
    match trigger {
        "tag_push_events" => ("Tag Push Hook", "tag_push_hooks"),
        _ => ("Push Hook", "push_hooks"),
    }
}

/// `Push::build_sample`: the newest three commits, the token owner as user.
fn payload(d: &Delivery) -> Value {
    let p = &d.project;
    let newest: Vec<_> = p.commits.iter().rev().take(3).collect();
    let after = newest.first().map(|c| c.id.clone()).unwrap_or_default();
    let before = newest.last().map(|c| c.id.clone()).unwrap_or_default();
    let tag = d.trigger == "tag_push_events";
    let (kind, git_ref) = if tag {
        ("tag_push", "refs/tags/v1.0.0".to_owned())
    } else {
        ("push", format!("refs/heads/{}", p.default_branch))
    };
    let web_url = format!("{}/{}", d.instance, p.path_with_namespace);
    let commits: Vec<Value> = newest
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "message": c.message,
                "title": c.message.lines().next().unwrap_or_default(),
                "timestamp": "2025-01-01T00:00:00+00:00",
                "url": format!("{web_url}/-/commit/{}", c.id),
                "author": {"name": d.user.username, "email": "[REDACTED]"},
                "added": [], "modified": ["README.md"], "removed": [],
            })
        })
        .collect();
    json!({
        "object_kind": kind,
        "event_name": kind,
        "before": before,
        "after": after,
        "ref": git_ref,
        "ref_protected": true,
        "checkout_sha": after,
        "message": null,
        "user_id": d.user.id,
        "user_name": d.user.name,
        "user_username": d.user.username,
        "user_email": "",
        "user_avatar": null,
        "project_id": p.id,
        "project": {
            "id": p.id,
            "name": p.name(),
            "description": null,
            "web_url": web_url,
            "namespace": p.path_with_namespace.rsplit_once('/').map_or("", |(ns, _)| ns),
            "visibility_level": 0,
            "path_with_namespace": p.path_with_namespace,
            "default_branch": p.default_branch,
            "homepage": web_url,
            "url": format!("{web_url}.git"),
            "http_url": format!("{web_url}.git"),
        },
        "commits": commits,
        "total_commits_count": newest.len(),
        "push_options": {},
        "repository": {
            "name": p.name(),
            "url": format!("{web_url}.git"),
            "description": null,
            "homepage": web_url,
        },
    })
}

/// POSTs the sample payload to the hook URL with GitLab's headers. Returns the event to log
/// (id 0) and `Ok` when the receiver answered 2xx, else the message GitLab reports.
pub(super) async fn deliver(
    client: &reqwest::Client,
    d: Delivery,
) -> (GitLabHookEvent, Result<(), String>) {
    let (event, trigger_name) = event_names(&d.trigger);
    let body = payload(&d);
    let mut headers: Vec<(&str, String)> = vec![
        ("Content-Type", "application/json".to_owned()),
        ("User-Agent", format!("GitLab/{}", d.version)),
        ("X-Gitlab-Event", event.to_owned()),
        ("X-Gitlab-Webhook-UUID", uuid::Uuid::new_v4().to_string()),
        ("X-Gitlab-Instance", d.instance.clone()),
        ("X-Gitlab-Event-UUID", uuid::Uuid::new_v4().to_string()),
        ("Idempotency-Key", uuid::Uuid::new_v4().to_string()),
    ];
    if let Some(token) = &d.hook.token {
        headers.push(("X-Gitlab-Token", token.replace(['\r', '\n'], "")));
    }
    if d.block_local_requests
        && let Some(refusal) = url_blocker(&d.hook.url)
    {
        // Refused before any connection: the hook's log shows the blocker's message.
        let event_log = GitLabHookEvent {
            id: 0,
            hook_id: d.hook.id,
            url: d.hook.url.clone(),
            trigger: trigger_name.to_owned(),
            request_headers: serde_json::Map::new(),
            request_data: body,
            response_headers: serde_json::Map::new(),
            response_body: refusal.to_owned(),
            execution_duration: 0.0,
            response_status: "internal error".to_owned(),
        };
        return (event_log, Err(refusal.to_owned()));
    }
    let mut request = client.post(&d.hook.url).body(body.to_string());
    for (name, value) in &headers {
        request = request.header(*name, value);
    }
    let started = Instant::now();
    let result = request.send().await;
    let execution_duration = started.elapsed().as_secs_f64();
    let logged_headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(n, v)| {
            let shown = if *n == "X-Gitlab-Token" {
                "[REDACTED]".to_owned()
            } else {
                v.clone()
            };
            ((*n).to_owned(), Value::String(shown))
        })
        .collect();
    let mut event_log = GitLabHookEvent {
        id: 0,
        hook_id: d.hook.id,
        url: d.hook.url.clone(),
        trigger: trigger_name.to_owned(),
        request_headers: logged_headers,
        request_data: body,
        response_headers: serde_json::Map::new(),
        response_body: String::new(),
        execution_duration,
        response_status: "internal error".to_owned(),
    };
    let outcome = match result {
        Ok(response) => {
            let status = response.status();
            event_log.response_status = status.as_u16().to_string();
            event_log.response_headers = response
                .headers()
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_owned(),
                        Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()),
                    )
                })
                .collect();
            let text = response.text().await.unwrap_or_default();
            event_log.response_body = text.clone();
            if status.is_success() {
                Ok(())
            } else if text.is_empty() {
                Err(format!("Hook execution failed: {}", status.as_u16()))
            } else {
                Err(text)
            }
        }
        Err(e) => {
            let e = e.without_url();
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                message = format!("{message}: {cause}");
                source = cause.source();
            }
            event_log.response_body = message.clone();
            Err(message)
        }
    };
    (event_log, outcome)
}

#[cfg(test)]
mod tests {
    use super::url_blocker;

    #[test]
    fn the_url_blocker_refuses_loopback_and_private_receivers_only() {
        let localhost = Some("URL is blocked: Requests to localhost are not allowed");
        let local = Some("URL is blocked: Requests to the local network are not allowed");
        for (url, refusal) in [
            ("http://127.0.0.1:8080/webhooks/gitlab", localhost),
            ("http://localhost/webhooks/gitlab", localhost),
            ("http://[::1]/hook", localhost),
            ("http://10.1.2.3/hook", local),
            ("https://192.168.0.5/hook", local),
            ("http://169.254.169.254/latest", local),
            ("http://[fd00::1]/hook", local),
            ("https://pathops.example.com/webhooks/gitlab", None),
            ("https://93.184.216.34/hook", None),
        ] {
            assert_eq!(url_blocker(url), refusal, "{url}");
        }
    }
}
