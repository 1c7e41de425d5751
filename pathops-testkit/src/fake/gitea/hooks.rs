//! The fake Gitea's repository webhooks: the hooks API, the test endpoint and the
//! asynchronous delivery its `webhook_sender` queue makes.

// Handlers return `Err(response)` to answer early, as in `routes`.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::model::{GiteaHook, GiteaHookDelivery, GiteaRepo, GiteaSeed, GiteaUser};
use super::routes::{
    Access, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, S, Shared, access, answer, at_least, caller, error,
    not_found, repo_json, require_scope, version_of,
};
use crate::fake::server::json;

/// The checks of the `/repos/{owner}/{repo}/hooks` group, in Gitea's order: the
/// `repository` scope at `level` (`read` for GET, `write` otherwise), the repository's
/// visibility (404), `reqToken` (401), `reqAdmin` (403) and `reqWebhooksEnabled` (403).
fn hooks_access(
    s: &Shared,
    state: &GiteaSeed,
    headers: &HeaderMap,
    owner: &str,
    name: &str,
    level: &str,
) -> Result<(Access, GiteaUser), Response> {
    let caller = caller(s, state, headers)?;
    require_scope(s, state, &caller, level, "repository")?;
    let a = access(s, state, &caller, owner, name)?;
    let Some((user, _)) = caller else {
        return Err(error(s, StatusCode::UNAUTHORIZED, "token is required"));
    };
    if !a.repo_admin && !a.site_admin {
        return Err(error(
            s,
            StatusCode::FORBIDDEN,
            "user should be an owner or a collaborator with admin write of a repository",
        ));
    }
    if state.webhooks_disabled {
        return Err(error(
            s,
            StatusCode::FORBIDDEN,
            "webhooks disabled by administrator",
        ));
    }
    Ok((a, user))
}

/// `PathParamInt64`: anything but a number reads as 0, which no hook has.
fn hook_id(raw: &str) -> u64 {
    raw.parse().unwrap_or(0)
}

fn find_hook(s: &Shared, repo: &GiteaRepo, id: u64) -> Result<GiteaHook, Response> {
    repo.hooks
        .iter()
        .find(|h| h.id == id)
        .cloned()
        .ok_or_else(|| not_found(s))
}

/// `GET /repos/{owner}/{repo}/hooks`: one page (`page`, `limit`) with `X-Total-Count`.
pub(super) async fn list(
    State(s): S,
    headers: HeaderMap,
    Path((owner, name)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let state = s.state();
    answer((|| {
        let (a, _) = hooks_access(&s, &state, &headers, &owner, &name, "read")?;
        let limit = query
            .get("limit")
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_PAGE_SIZE)
            .min(MAX_PAGE_SIZE);
        let page = query
            .get("page")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(1)
            .max(1);
        let items: Vec<Value> = a
            .repo
            .hooks
            .iter()
            .skip((page - 1) * limit)
            .take(limit)
            .map(GiteaHook::to_json)
            .collect();
        let mut response = json(StatusCode::OK, Value::Array(items));
        response
            .headers_mut()
            .insert("x-total-count", HeaderValue::from(a.repo.hooks.len()));
        Ok(response)
    })())
}

/// `GET /repos/{owner}/{repo}/hooks/{id}`.
pub(super) async fn get_one(
    State(s): S,
    headers: HeaderMap,
    Path((owner, name, id)): Path<(String, String, String)>,
) -> Response {
    let state = s.state();
    answer((|| {
        let (a, _) = hooks_access(&s, &state, &headers, &owner, &name, "read")?;
        let hook = find_hook(&s, &a.repo, hook_id(&id))?;
        Ok(json(StatusCode::OK, hook.to_json()))
    })())
}

fn unprocessable(s: &Shared, message: &str) -> Response {
    error(s, StatusCode::UNPROCESSABLE_ENTITY, message)
}

fn body_json(s: &Shared, body: &[u8]) -> Result<Value, Response> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| unprocessable(s, "[Body]: the request body is not a JSON object"))
}

fn string_map(value: &Value) -> HashMap<String, String> {
    value
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

fn strings(value: &Value) -> Option<Vec<String>> {
    value.as_array().map(|a| {
        a.iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    })
}

/// `POST /repos/{owner}/{repo}/hooks` (`CreateHookOption`): `type` and `config` with `url`
/// and `content_type` are required; `active` defaults to **false**, as in Gitea; no events
/// means `push`. 201 with the hook.
pub(super) async fn create(
    State(s): S,
    headers: HeaderMap,
    Path((owner, name)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let mut state = s.state();
    answer((|| {
        let (a, _) = hooks_access(&s, &state, &headers, &owner, &name, "write")?;
        let form = body_json(&s, &body)?;
        let kind = form["type"].as_str().unwrap_or_default().to_owned();
        if !["gitea", "gogs", "forgejo", "slack", "discord", "msteams"].contains(&kind.as_str()) {
            return Err(unprocessable(&s, "Invalid hook type"));
        }
        let config = string_map(&form["config"]);
        for key in ["url", "content_type"] {
            if !config.contains_key(key) {
                return Err(unprocessable(&s, &format!("Missing config option: {key}")));
            }
        }
        if !["json", "form"].contains(&config["content_type"].as_str()) {
            return Err(unprocessable(&s, "Invalid content type"));
        }
        let id = state
            .repos
            .iter()
            .flat_map(|r| r.hooks.iter().map(|h| h.id))
            .max()
            .unwrap_or(0)
            + 1;
        let mut hook = GiteaHook::new(id, &config["url"])
            .kind(&kind)
            .content_type(&config["content_type"]);
        hook.secret = config.get("secret").filter(|v| !v.is_empty()).cloned();
        hook.active = form["active"].as_bool().unwrap_or(false);
        hook.events = strings(&form["events"])
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| vec!["push".to_owned()]);
        hook.branch_filter = form["branch_filter"].as_str().unwrap_or("*").to_owned();
        hook.authorization_header = form["authorization_header"]
            .as_str()
            .filter(|v| !v.is_empty())
            .map(str::to_owned);
        let shown = hook.to_json();
        let repo_id = a.repo.id;
        if let Some(r) = state.repos.iter_mut().find(|r| r.id == repo_id) {
            r.hooks.push(hook);
        }
        Ok(json(StatusCode::CREATED, shown))
    })())
}

/// `PATCH /repos/{owner}/{repo}/hooks/{id}` (`EditHookOption`): `config` (`url`,
/// `content_type`, `secret`), `events`, `branch_filter`, `authorization_header`, `active`.
pub(super) async fn edit(
    State(s): S,
    headers: HeaderMap,
    Path((owner, name, id)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    let mut state = s.state();
    answer((|| {
        let (a, _) = hooks_access(&s, &state, &headers, &owner, &name, "write")?;
        let mut hook = find_hook(&s, &a.repo, hook_id(&id))?;
        let form = body_json(&s, &body)?;
        let config = string_map(&form["config"]);
        if let Some(url) = config.get("url") {
            hook.url = url.clone();
        }
        if let Some(content_type) = config.get("content_type") {
            if !["json", "form"].contains(&content_type.as_str()) {
                return Err(unprocessable(&s, "Invalid content type"));
            }
            hook.content_type = content_type.clone();
        }
        if let Some(secret) = config.get("secret") {
            hook.secret = Some(secret.clone()).filter(|v| !v.is_empty());
        }
        if let Some(events) = strings(&form["events"]) {
            hook.events = events;
        }
        if let Some(filter) = form["branch_filter"].as_str() {
            hook.branch_filter = filter.to_owned();
        }
        if let Some(header) = form["authorization_header"].as_str() {
            hook.authorization_header = Some(header.to_owned()).filter(|v| !v.is_empty());
        }
        if let Some(active) = form["active"].as_bool() {
            hook.active = active;
        }
        let shown = hook.to_json();
        let repo_id = a.repo.id;
        if let Some(stored) = state
            .repos
            .iter_mut()
            .find(|r| r.id == repo_id)
            .and_then(|r| r.hooks.iter_mut().find(|h| h.id == hook.id))
        {
            *stored = hook;
        }
        Ok(json(StatusCode::OK, shown))
    })())
}

/// `DELETE /repos/{owner}/{repo}/hooks/{id}`: 204, or 404 for an unknown hook.
pub(super) async fn delete(
    State(s): S,
    headers: HeaderMap,
    Path((owner, name, id)): Path<(String, String, String)>,
) -> Response {
    let mut state = s.state();
    answer((|| {
        let (a, _) = hooks_access(&s, &state, &headers, &owner, &name, "write")?;
        let id = find_hook(&s, &a.repo, hook_id(&id))?.id;
        if let Some(r) = state.repos.iter_mut().find(|r| r.id == a.repo.id) {
            r.hooks.retain(|h| h.id != id);
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })())
}

/// `POST /repos/{owner}/{repo}/hooks/{id}/tests[?ref=…]` (`TestHook`): after the group's
/// checks, an empty repository answers 204 before the hook is even looked up, and nothing
/// is sent; an unknown hook is 404. Otherwise Gitea's `PrepareWebhook` decides: a hook not
/// subscribed to `push`, or whose branch filter excludes the ref's branch, gets nothing;
/// else a delivery is recorded and queued, and the call answers 204 at once.
pub(super) async fn test(
    State(s): S,
    headers: HeaderMap,
    Path((owner, name, id)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let queued = {
        let state = s.state();
        let prepared = (|| {
            let (a, user) = hooks_access(&s, &state, &headers, &owner, &name, "write")?;
            if a.repo.empty {
                return Ok(None);
            }
            let hook = find_hook(&s, &a.repo, hook_id(&id))?;
            let reference = query
                .get("ref")
                .map(|r| r.trim())
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .unwrap_or_else(|| format!("refs/heads/{}", a.repo.default_branch));
            let branch = reference.strip_prefix("refs/heads/");
            if !hook.events.iter().any(|e| e == "push")
                || branch.is_some_and(|b| !branch_matches(&hook.branch_filter, b))
            {
                return Ok(None);
            }
            let payload = push_payload(&s.base, &a.repo, &user, &reference);
            Ok(Some(Queued {
                uuid: uuid::Uuid::new_v4().to_string(),
                repository: a.repo.full_name(),
                hook,
                payload,
                version: version_of(&state),
                allowed_host_list: state.allowed_host_list.clone(),
                timeout: Duration::from_secs(state.deliver_timeout_secs),
                delay: Duration::from_millis(state.delivery_delay_ms),
            }))
        })();
        match prepared {
            Ok(queued) => queued,
            Err(response) => return response,
        }
    };
    if let Some(queued) = queued {
        s.deliveries().push(GiteaHookDelivery {
            uuid: queued.uuid.clone(),
            repository: queued.repository.clone(),
            hook_id: queued.hook.id,
            event: "push".to_owned(),
            url: queued.hook.url.clone(),
            request_headers: Vec::new(),
            request_body: String::new(),
            delivered: false,
            is_succeed: false,
            response_status: None,
            response_body: String::new(),
        });
        tokio::spawn(deliver(s.clone(), queued));
    }
    StatusCode::NO_CONTENT.into_response()
}

/// A delivery waiting in the queue.
struct Queued {
    uuid: String,
    repository: String,
    hook: GiteaHook,
    payload: String,
    version: String,
    allowed_host_list: Option<String>,
    timeout: Duration,
    delay: Duration,
}

/// Gitea's branch filter (`gobwas/glob` in Gitea): empty or `*` matches every branch; `*`
/// matches any run of characters but `/`, `**` any run, `?` one character, `{a,b}` either
/// alternative. Character classes are not emulated (they never match here).
pub(super) fn branch_matches(filter: &str, branch: &str) -> bool {
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
            Some('[') => false,
            Some(c) => text.first() == Some(c) && matches(&pattern[1..], &text[1..]),
        }
    }
    if filter.is_empty() || filter == "*" {
        return true;
    }
    let pattern: Vec<char> = filter.chars().collect();
    let text: Vec<char> = branch.chars().collect();
    matches(&pattern, &text)
}

/// The synthetic push `TestHook` builds: the default branch's (or the `ref`'s) head commit
/// as before, after and the one commit, the repository as an anonymous reader sees it, the
/// caller as pusher and sender; written as Gitea writes it (`json.MarshalIndent`, two
/// spaces).
fn push_payload(base: &str, repo: &GiteaRepo, user: &GiteaUser, reference: &str) -> String {
    let full = repo.full_name();
    let sha = repo.head_sha();
    let person = json!({
        "name": user.login,
        "email": format!("{}@noreply.gitea.test", user.login),
        "username": user.login,
    });
    let commit = json!({
        "id": sha,
        "message": "Initial commit\n",
        "url": format!("{base}/{full}/commit/{sha}"),
        "author": person,
        "committer": person,
        "verification": null,
        "timestamp": "2026-01-01T00:00:00Z",
        "added": [],
        "removed": [],
        "modified": [],
    });
    let none = json!({"admin": false, "push": false, "pull": false});
    let payload = json!({
        "ref": reference,
        "before": sha,
        "after": sha,
        "compare_url": format!("{base}/{full}/compare/{sha}...{sha}"),
        "commits": [commit],
        "total_commits": 1,
        "head_commit": commit,
        "repository": repo_json(base, repo, none, true),
        "pusher": user.to_json(base),
        "sender": user.to_json(base),
    });
    serde_json::to_string_pretty(&payload).expect("a JSON value serializes")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(data);
    hex(&mac.finalize().into_bytes())
}

/// HMAC-SHA1, for Gitea's legacy `X-Hub-Signature`.
pub(super) fn hmac_sha1(key: &[u8], data: &[u8]) -> String {
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(key).expect("HMAC takes any key size");
    mac.update(data);
    hex(&mac.finalize().into_bytes())
}

/// The headers `addDefaultHeaders` sets (`services/webhook/deliver.go`), in its order;
/// Forgejo adds its own four; Gitea 1.24+ names the hook's owner kind.
fn delivery_headers(queued: &Queued) -> Vec<(String, String)> {
    let payload = queued.payload.as_bytes();
    let (sha1, sha256) = match queued.hook.secret.as_deref().filter(|s| !s.is_empty()) {
        Some(secret) => (
            hmac_sha1(secret.as_bytes(), payload),
            hmac_sha256(secret.as_bytes(), payload),
        ),
        None => (String::new(), String::new()),
    };
    let content_type = if queued.hook.content_type == "form" {
        "application/x-www-form-urlencoded"
    } else {
        "application/json"
    };
    let (id, event) = (queued.uuid.as_str(), "push");
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut add = |name: &str, value: &str| headers.push((name.to_owned(), value.to_owned()));
    add("Content-Type", content_type);
    for product in ["Gitea", "Gogs"] {
        add(&format!("X-{product}-Delivery"), id);
        add(&format!("X-{product}-Event"), event);
        add(&format!("X-{product}-Event-Type"), event);
        add(&format!("X-{product}-Signature"), &sha256);
    }
    add("X-Hub-Signature", &format!("sha1={sha1}"));
    add("X-Hub-Signature-256", &format!("sha256={sha256}"));
    add("X-GitHub-Delivery", id);
    add("X-GitHub-Event", event);
    add("X-GitHub-Event-Type", event);
    if at_least(&queued.version, 1, 24) {
        add("X-Gitea-Hook-Installation-Target-Type", "repository");
        add("X-GitHub-Hook-Installation-Target-Type", "repository");
    }
    if queued.version.contains("+gitea-") {
        add("X-Forgejo-Delivery", id);
        add("X-Forgejo-Event", event);
        add("X-Forgejo-Event-Type", event);
        add("X-Forgejo-Signature", &sha256);
    }
    // Gitea's Go client sends its default User-Agent (assumed: Gitea sets none).
    add("User-Agent", "Go-http-client/1.1");
    headers
}

/// Whether `ip` (of `host`) passes `[webhook] ALLOWED_HOST_LIST` (`modules/hostmatcher`).
pub(super) fn host_allowed(list: &str, host: &str, ip: IpAddr) -> bool {
    let private = match ip {
        IpAddr::V4(v4) => v4.is_private(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
    };
    let link_local = match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    };
    let broadcast = matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
    let global_unicast =
        !(ip.is_loopback() || ip.is_multicast() || ip.is_unspecified() || link_local || broadcast);
    list.split(',')
        .map(|item| item.trim().to_ascii_lowercase())
        .filter(|item| !item.is_empty())
        .any(|item| match item.as_str() {
            "*" => true,
            "external" => global_unicast && !private,
            "private" => private,
            "loopback" => ip.is_loopback(),
            cidr if cidr.contains('/') => in_cidr(cidr, ip),
            name => name == host.to_ascii_lowercase() || name.parse::<IpAddr>() == Ok(ip),
        })
}

fn in_cidr(cidr: &str, ip: IpAddr) -> bool {
    let (IpAddr::V4(ip), Some((net, bits))) = (ip, cidr.split_once('/')) else {
        return false;
    };
    let (Ok(net), Ok(bits)) = (net.parse::<std::net::Ipv4Addr>(), bits.parse::<u32>()) else {
        return false;
    };
    if bits > 32 {
        return false;
    }
    let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
    (u32::from(ip) & mask) == (u32::from(net) & mask)
}

/// The queue's worker: waits the queue's delay, then delivers as Gitea's `Deliver` does and
/// records the outcome in the hook's history.
async fn deliver(s: Arc<Shared>, queued: Queued) {
    tokio::time::sleep(queued.delay).await;
    let mut headers = delivery_headers(&queued);
    let body = if queued.hook.content_type == "form" {
        let encoded: String =
            url::form_urlencoded::byte_serialize(queued.payload.as_bytes()).collect();
        format!("payload={encoded}")
    } else {
        queued.payload.clone()
    };
    let mut recorded_headers = headers.clone();
    if let Some(auth) = &queued.hook.authorization_header {
        headers.push(("Authorization".to_owned(), auth.clone()));
        recorded_headers.push(("Authorization".to_owned(), "******".to_owned()));
    }
    let outcome = if queued.hook.active {
        send(&queued, &headers, body.clone()).await
    } else {
        // `Deliver`: an inactive hook's task is marked delivered, not sent, and failed.
        Outcome::failed(String::new())
    };
    {
        let mut deliveries = s.deliveries();
        if let Some(d) = deliveries.iter_mut().find(|d| d.uuid == queued.uuid) {
            d.request_headers = recorded_headers;
            d.request_body = body;
            d.delivered = true;
            d.is_succeed = outcome.status.is_some_and(|st| (200..300).contains(&st));
            d.response_status = outcome.status;
            d.response_body = outcome.body;
        }
    }
    s.delivered.notify_waiters();
}

struct Outcome {
    status: Option<u16>,
    body: String,
}

impl Outcome {
    fn failed(body: String) -> Self {
        Self { status: None, body }
    }
}

async fn send(queued: &Queued, headers: &[(String, String)], body: String) -> Outcome {
    let url = queued.hook.url.as_str();
    let failed = |why: String| Outcome::failed(format!("Delivery: Post \"{url}\": {why}"));
    let Ok(parsed) = url::Url::parse(url) else {
        return failed("invalid URL".to_owned());
    };
    let host = parsed.host_str().unwrap_or_default().to_owned();
    let port = parsed.port_or_known_default().unwrap_or(80);
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let ip = match bare.parse::<IpAddr>() {
        Ok(ip) => ip,
        Err(_) => match tokio::net::lookup_host((bare, port)).await {
            Ok(mut addrs) => match addrs.next() {
                Some(addr) => addr.ip(),
                None => return failed(format!("dial tcp: lookup {host}: no such host")),
            },
            Err(_) => return failed(format!("dial tcp: lookup {host}: no such host")),
        },
    };
    if let Some(list) = &queued.allowed_host_list
        && !host_allowed(list, bare, ip)
    {
        let addr = std::net::SocketAddr::new(ip, port);
        return failed(format!(
            "dial tcp {addr}: webhook can only call allowed HTTP servers (check your webhook.ALLOWED_HOST_LIST setting), deny '{bare}({addr})'"
        ));
    }
    let client = match reqwest::Client::builder()
        .timeout(queued.timeout)
        .no_proxy()
        .build()
    {
        Ok(c) => c,
        Err(e) => return failed(e.to_string()),
    };
    let mut request = client.post(url).body(body);
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            Outcome {
                status: Some(status),
                body,
            }
        }
        Err(e) if e.is_timeout() => failed(format!(
            "context deadline exceeded (Client.Timeout exceeded while awaiting headers) after {} s ([webhook] DELIVER_TIMEOUT)",
            queued.timeout.as_secs()
        )),
        Err(e) => failed(e.without_url().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha1_matches_rfc_2202_and_python() {
        // RFC 2202 test cases 2 and 6 (a key longer than the block), and a Gitea body, each
        // checked with Python's `hmac.new(key, data, hashlib.sha1).hexdigest()`.
        assert_eq!(
            hmac_sha1(b"Jefe", b"what do ya want for nothing?"),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        assert_eq!(
            hmac_sha1(
                &[0xaa; 80],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            ),
            "aa4ae5e15272d00e95705637ce8a3b55ed402112"
        );
        let body = b"{\n  \"ref\": \"refs/heads/main\",\n  \"repository\": {\n    \"id\": 100,\n    \"full_name\": \"acme/platform\"\n  }\n}";
        assert_eq!(
            hmac_sha1(b"gitea-hook-secret", body),
            "84402ffe4445588af6c8db960a94dfe106c2563b"
        );
        assert_eq!(
            hmac_sha256(b"gitea-hook-secret", body),
            "028e5ebb9908c4a396c24042c9eb97d4bb47110ae64234cab8f6ebddcb7b7e1b"
        );
    }

    #[test]
    fn branch_filters_follow_giteas_globs() {
        assert!(branch_matches("", "main"));
        assert!(branch_matches("*", "feature/x"));
        assert!(branch_matches("main", "main"));
        assert!(!branch_matches("main", "develop"));
        assert!(branch_matches("{main,release/*}", "release/1.2"));
        assert!(branch_matches("{main,release/*}", "main"));
        assert!(!branch_matches("release/*", "release/1/2"));
        assert!(branch_matches("release/**", "release/1/2"));
        assert!(branch_matches("v?", "v1"));
        assert!(!branch_matches("[mb]ain", "main"));
    }

    #[test]
    fn the_allowed_host_list_reads_like_giteas() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let loopback = ip("127.0.0.1");
        assert!(!host_allowed("external", "127.0.0.1", loopback));
        assert!(host_allowed("external,loopback", "127.0.0.1", loopback));
        assert!(host_allowed("*", "127.0.0.1", loopback));
        assert!(!host_allowed("external", "10.0.0.5", ip("10.0.0.5")));
        assert!(host_allowed("private", "10.0.0.5", ip("10.0.0.5")));
        assert!(host_allowed(
            "external",
            "93.184.216.34",
            ip("93.184.216.34")
        ));
        assert!(!host_allowed("external", "::1", ip("::1")));
        assert!(!host_allowed("external", "fd00::1", ip("fd00::1")));
        assert!(host_allowed("10.0.0.0/8", "x", ip("10.1.2.3")));
        assert!(!host_allowed("10.0.0.0/8", "x", ip("11.1.2.3")));
        assert!(host_allowed(
            "pathops.internal",
            "PathOps.Internal",
            ip("10.0.0.9")
        ));
        assert!(!host_allowed("", "x", ip("93.184.216.34")));
    }
}
