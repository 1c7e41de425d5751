//! The fake GitLab's state and handlers.

// Handlers return `Err(response)` to answer early (401, 403, 404, …); boxing every early
// answer would only add noise to a test server.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::delivery::{self, Delivery};
use super::model::{
    GitLabHook, GitLabHookEvent, GitLabProject, GitLabSeed, GitLabToken, GitLabUser,
    HOOK_EVENT_FLAGS,
};
use crate::fake::server::{json, unexpected};

/// Hook test calls allowed per minute per (project, user).
const TEST_CALLS_PER_MINUTE: usize = 5;
const TEST_LIMIT_WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub(super) struct State_ {
    pub(super) version: String,
    pub(super) users: Vec<GitLabUser>,
    pub(super) tokens: Vec<GitLabToken>,
    pub(super) projects: Vec<GitLabProject>,
    pub(super) hooks: Vec<GitLabHook>,
    pub(super) events: Vec<GitLabHookEvent>,
    /// Hook-test calls per (project, user): the start of the current one-minute window and
    /// the calls counted in it.
    pub(super) test_calls: HashMap<(u64, u64), (Instant, usize)>,
    next_id: u64,
    /// API calls in the current minute (Unix minute, calls), for the `RateLimit-*` headers.
    api_calls: (i64, u64),
    /// Self-managed GitLab's default: webhooks may not reach localhost or private networks
    /// ("Allow requests to the local network from webhooks and integrations" off). The fake
    /// allows them unless told otherwise, so tests can deliver to loopback.
    pub(super) block_local_requests: bool,
}

impl State_ {
    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub(super) fn insert_token(&mut self, mut token: GitLabToken) -> u64 {
        if token.id == 0 {
            token.id = self.next_id();
        }
        let id = token.id;
        self.tokens.push(token);
        id
    }

    pub(super) fn insert_hook(&mut self, mut hook: GitLabHook) -> u64 {
        if hook.id == 0 {
            hook.id = self.next_id();
        }
        let id = hook.id;
        self.hooks.retain(|h| h.id != id);
        self.hooks.push(hook);
        id
    }
}

#[derive(Debug)]
pub(super) struct Shared {
    base: String,
    state: Mutex<State_>,
    client: reqwest::Client,
}

impl Shared {
    pub(super) fn new(base: String, seed: GitLabSeed) -> Self {
        let mut state = State_ {
            version: seed
                .version
                .unwrap_or_else(|| super::FakeGitLab::DEFAULT_VERSION.to_owned()),
            users: seed.users,
            tokens: Vec::new(),
            projects: seed.projects,
            hooks: Vec::new(),
            events: Vec::new(),
            test_calls: HashMap::new(),
            next_id: 1000,
            api_calls: (0, 0),
            block_local_requests: false,
        };
        for token in seed.tokens {
            state.insert_token(token);
        }
        for hook in seed.hooks {
            state.insert_hook(hook);
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .expect("the delivery client builds");
        Self {
            base,
            state: Mutex::new(state),
            client,
        }
    }

    pub(super) fn state(&self) -> MutexGuard<'_, State_> {
        self.state.lock().expect("fake gitlab state lock")
    }
}

type S = State<Arc<Shared>>;

pub(super) fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/version", get(version))
        .route("/metadata", get(metadata))
        .route("/user", get(user))
        .route("/personal_access_tokens/self", get(token_self))
        .route("/projects/{id}", get(project))
        .route("/projects/{id}/hooks", get(list_hooks).post(create_hook))
        .route("/projects/{id}/pipelines", get(list_pipelines))
        .route(
            "/projects/{id}/hooks/{hook_id}",
            get(get_hook).put(edit_hook).delete(delete_hook),
        )
        .route("/projects/{id}/hooks/{hook_id}/events", get(hook_events))
        .route(
            "/projects/{id}/hooks/{hook_id}/test/{trigger}",
            post(test_hook),
        );
    Router::new()
        .nest("/api/v4", api)
        .fallback(
            |method: Method, uri: Uri| async move { unexpected("fake GitLab", &method, &uri) },
        )
        .layer(axum::middleware::map_response_with_state(
            shared.clone(),
            rate_limit_headers,
        ))
        .with_state(shared)
}

/// Rack::Attack's throttle headers: a fixed one-minute window, `RateLimit-Reset` the Unix time
/// the current window ends.
async fn rate_limit_headers(State(shared): S, mut response: Response) -> Response {
    let minute = time::OffsetDateTime::now_utc()
        .unix_timestamp()
        .div_euclid(60);
    let observed = {
        let mut state = shared.state();
        if state.api_calls.0 != minute {
            state.api_calls = (minute, 0);
        }
        state.api_calls.1 += 1;
        state.api_calls.1
    };
    let reset = (minute + 1) * 60;
    let limit = 2000u64;
    let h = response.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    };
    set("ratelimit-limit", limit.to_string());
    set("ratelimit-name", "throttle_authenticated_api".to_owned());
    set("ratelimit-observed", observed.to_string());
    set(
        "ratelimit-remaining",
        limit.saturating_sub(observed).to_string(),
    );
    set("ratelimit-reset", reset.to_string());
    response
}

fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

fn unauthorized() -> Response {
    json(
        StatusCode::UNAUTHORIZED,
        json!({"message": "401 Unauthorized"}),
    )
}

/// GitLab's answer to a revoked or expired token (`Rack::OAuth2` bearer `invalid_token`).
fn invalid_token(description: &str) -> Response {
    let mut response = json(
        StatusCode::UNAUTHORIZED,
        json!({"error": "invalid_token", "error_description": description}),
    );
    if let Ok(value) = axum::http::HeaderValue::from_str(&format!(
        "Bearer realm=\"\", error=\"invalid_token\", error_description=\"{description}\""
    )) {
        response
            .headers_mut()
            .insert(axum::http::header::WWW_AUTHENTICATE, value);
    }
    response
}

fn forbidden() -> Response {
    json(StatusCode::FORBIDDEN, json!({"message": "403 Forbidden"}))
}

fn insufficient_scope(accepted: &[&str]) -> Response {
    json(
        StatusCode::FORBIDDEN,
        json!({
            "error": "insufficient_scope",
            "error_description": "The request requires higher privileges than provided by the access token.",
            "scope": accepted.join(" "),
        }),
    )
}

fn project_not_found() -> Response {
    json(
        StatusCode::NOT_FOUND,
        json!({"message": "404 Project Not Found"}),
    )
}

fn hook_not_found() -> Response {
    json(
        StatusCode::NOT_FOUND,
        json!({"message": "404 Hook Not Found"}),
    )
}

const ANY_SCOPE: &[&str] = &[];
const READ_USER: &[&str] = &["api", "read_api", "read_user"];
const READ_API: &[&str] = &["api", "read_api"];
const API: &[&str] = &["api"];

/// The caller's user and token, if the credential is valid and has one of `accepted` scopes.
fn authenticate(
    state: &State_,
    headers: &HeaderMap,
    accepted: &[&str],
) -> Result<(GitLabUser, GitLabToken), Response> {
    let presented = headers
        .get("private-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::to_owned)
        })
        .ok_or_else(unauthorized)?;
    let token = state
        .tokens
        .iter()
        .find(|t| t.token == presented)
        .ok_or_else(unauthorized)?;
    // GitLab's API guard tells a revoked or expired token apart from an unknown one: an
    // OAuth `invalid_token` error (body and `WWW-Authenticate`), not `401 Unauthorized`.
    if token.revoked {
        return Err(invalid_token(
            "Token was revoked. You have to re-authorize from the user.",
        ));
    }
    if token.is_expired(today()) {
        return Err(invalid_token(
            "Token is expired. You can either do re-authorization or token refresh.",
        ));
    }
    let user = state
        .users
        .iter()
        .find(|u| u.id == token.user_id && u.state == "active")
        .ok_or_else(unauthorized)?;
    if !accepted.is_empty() && !token.scopes.iter().any(|s| accepted.contains(&s.as_str())) {
        return Err(insufficient_scope(accepted));
    }
    Ok((user.clone(), token.clone()))
}

/// The project named by a numeric id or a (decoded) full path, if `user` may see it.
fn visible_project(state: &State_, id: &str, user: &GitLabUser) -> Result<GitLabProject, Response> {
    state
        .projects
        .iter()
        .find(|p| p.id.to_string() == id || p.path_with_namespace == id)
        .filter(|p| user.is_admin || p.visibility == "public" || p.access_level(user.id).is_some())
        .cloned()
        .ok_or_else(project_not_found)
}

fn require_maintainer(project: &GitLabProject, user: &GitLabUser) -> Result<(), Response> {
    if user.is_admin || project.access_level(user.id).is_some_and(|l| l >= 40) {
        Ok(())
    } else {
        Err(forbidden())
    }
}

fn answer(result: Result<Response, Response>) -> Response {
    result.unwrap_or_else(|e| e)
}

async fn version(State(s): S, headers: HeaderMap) -> Response {
    let state = s.state();
    answer(authenticate(&state, &headers, READ_USER).map(|_| {
        json(
            StatusCode::OK,
            json!({"version": state.version, "revision": "f4k3g17"}),
        )
    }))
}

async fn metadata(State(s): S, headers: HeaderMap) -> Response {
    let state = s.state();
    answer(authenticate(&state, &headers, READ_USER).map(|_| {
        json(
            StatusCode::OK,
            json!({
                "version": state.version,
                "revision": "f4k3g17",
                "kas": {"enabled": false, "externalUrl": null, "externalK8sProxyUrl": null, "version": null},
                "enterprise": false,
            }),
        )
    }))
}

async fn user(State(s): S, headers: HeaderMap) -> Response {
    let state = s.state();
    answer(
        authenticate(&state, &headers, READ_USER)
            .map(|(user, _)| json(StatusCode::OK, user.to_json(&s.base))),
    )
}

async fn token_self(State(s): S, headers: HeaderMap) -> Response {
    let state = s.state();
    answer(
        authenticate(&state, &headers, ANY_SCOPE)
            .map(|(_, token)| json(StatusCode::OK, token.to_json(today()))),
    )
}

async fn project(State(s): S, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let state = s.state();
    answer((|| {
        let (user, _) = authenticate(&state, &headers, READ_API)?;
        let project = visible_project(&state, &id, &user)?;
        Ok(json(StatusCode::OK, project.to_json(&s.base, &user)))
    })())
}

fn hook_of(state: &State_, project: &GitLabProject, hook_id: &str) -> Result<GitLabHook, Response> {
    state
        .hooks
        .iter()
        .find(|h| h.project_id == project.id && h.id.to_string() == hook_id)
        .cloned()
        .ok_or_else(hook_not_found)
}

async fn list_hooks(
    State(s): S,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let state = s.state();
    answer((|| {
        let (user, _) = authenticate(&state, &headers, READ_API)?;
        let project = visible_project(&state, &id, &user)?;
        require_maintainer(&project, &user)?;
        let hooks: Vec<Value> = state
            .hooks
            .iter()
            .filter(|h| h.project_id == project.id)
            .map(GitLabHook::to_json)
            .collect();
        Ok(paginated(
            &s.base,
            &format!("/api/v4/projects/{}/hooks", path_segment(&id)),
            hooks,
            &query,
        ))
    })())
}

/// `GET /projects/:id/pipelines`: `read_api`; a private project's pipelines need Reporter
/// (20) or more (public and internal projects show them to whoever sees the project).
async fn list_pipelines(
    State(s): S,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let state = s.state();
    answer((|| {
        let (user, _) = authenticate(&state, &headers, READ_API)?;
        let project = visible_project(&state, &id, &user)?;
        let reporter = project.access_level(user.id).is_some_and(|l| l >= 20);
        if project.visibility == "private" && !user.is_admin && !reporter {
            return Err(forbidden());
        }
        let mut pipelines = project.pipelines.clone();
        pipelines.sort_by_key(|p| std::cmp::Reverse(p.id));
        let pipelines: Vec<Value> = pipelines
            .iter()
            .map(|p| p.to_json(&s.base, &project))
            .collect();
        Ok(paginated(
            &s.base,
            &format!("/api/v4/projects/{}/pipelines", path_segment(&id)),
            pipelines,
            &query,
        ))
    })())
}

/// `segment` as one percent-encoded path segment (a project path's `/` becomes `%2F`), the
/// way the caller had to send it.
fn path_segment(segment: &str) -> String {
    let mut url = url::Url::parse("http://x/").expect("a base");
    url.path_segments_mut()
        .expect("a base with a path")
        .push(segment);
    url.path()[1..].to_owned()
}

/// One page of `items` with GitLab's offset-pagination headers; `path` is percent-encoded.
fn paginated(
    base: &str,
    path: &str,
    items: Vec<Value>,
    query: &HashMap<String, String>,
) -> Response {
    let per_page = query
        .get("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(20)
        .clamp(1, 100);
    let page = query
        .get("page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let total = items.len();
    let pages = total.div_ceil(per_page).max(1);
    let slice: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let mut response = json(StatusCode::OK, Value::Array(slice));
    // Links repeat the request's other parameters (sorted, for stable headers), like GitLab's.
    let mut kept: Vec<(&String, &String)> = query
        .iter()
        .filter(|(k, _)| k.as_str() != "page" && k.as_str() != "per_page")
        .collect();
    kept.sort();
    let link = |p: usize, rel: &str| {
        let mut url = format!("{base}{path}");
        {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in &kept {
                q.append_pair(k, v);
            }
            q.append_pair("page", &p.to_string());
            q.append_pair("per_page", &per_page.to_string());
            url.push('?');
            url.push_str(&q.finish());
        }
        format!("<{url}>; rel=\"{rel}\"")
    };
    let mut links = vec![link(1, "first"), link(pages, "last")];
    let next = (page < pages).then(|| page + 1);
    let prev = (page > 1).then(|| page - 1);
    if let Some(n) = next {
        links.insert(0, link(n, "next"));
    }
    if let Some(p) = prev {
        links.insert(0, link(p, "prev"));
    }
    let opt = |v: Option<usize>| v.map(|n| n.to_string()).unwrap_or_default();
    let h = response.headers_mut();
    for (name, value) in [
        ("x-page", page.to_string()),
        ("x-per-page", per_page.to_string()),
        ("x-total", total.to_string()),
        ("x-total-pages", pages.to_string()),
        ("x-next-page", opt(next)),
        ("x-prev-page", opt(prev)),
        ("link", links.join(", ")),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    response
}

async fn get_hook(
    State(s): S,
    headers: HeaderMap,
    Path((id, hook_id)): Path<(String, String)>,
) -> Response {
    let state = s.state();
    answer((|| {
        let (user, _) = authenticate(&state, &headers, READ_API)?;
        let project = visible_project(&state, &id, &user)?;
        require_maintainer(&project, &user)?;
        Ok(json(
            StatusCode::OK,
            hook_of(&state, &project, &hook_id)?.to_json(),
        ))
    })())
}

fn parse_body(body: &Bytes) -> Result<serde_json::Map<String, Value>, Response> {
    if body.is_empty() {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(json(
            StatusCode::BAD_REQUEST,
            json!({"error": "400 Bad request - invalid JSON"}),
        )),
    }
}

fn valid_hook_url(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

/// Applies create/edit attributes to `hook`.
fn apply_attributes(hook: &mut GitLabHook, body: &serde_json::Map<String, Value>) {
    if let Some(name) = body.get("name").and_then(Value::as_str) {
        hook.name = Some(name.to_owned());
    }
    if let Some(description) = body.get("description").and_then(Value::as_str) {
        hook.description = Some(description.to_owned());
    }
    if let Some(verify) = body.get("enable_ssl_verification").and_then(Value::as_bool) {
        hook.enable_ssl_verification = verify;
    }
    if let Some(token) = body.get("token").and_then(Value::as_str) {
        hook.token = (!token.is_empty()).then(|| token.to_owned());
    }
    for flag in HOOK_EVENT_FLAGS {
        if let Some(on) = body.get(flag).and_then(Value::as_bool) {
            hook.events.retain(|e| e != flag);
            if on {
                hook.events.push(flag.to_owned());
            }
        }
    }
}

async fn create_hook(
    State(s): S,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let mut state = s.state();
    answer((|| {
        let (user, _) = authenticate(&state, &headers, API)?;
        let project = visible_project(&state, &id, &user)?;
        require_maintainer(&project, &user)?;
        let body = parse_body(&body)?;
        let url = body.get("url").and_then(Value::as_str).unwrap_or_default();
        if url.is_empty() {
            return Err(json(
                StatusCode::BAD_REQUEST,
                json!({"error": "url is missing"}),
            ));
        }
        if !valid_hook_url(url) {
            return Err(json(
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"message": "Invalid url given"}),
            ));
        }
        let mut hook = GitLabHook::new(project.id, url);
        apply_attributes(&mut hook, &body);
        let id = state.insert_hook(hook);
        let created = state
            .hooks
            .iter()
            .find(|h| h.id == id)
            .map(GitLabHook::to_json);
        Ok(json(StatusCode::CREATED, created.unwrap_or_default()))
    })())
}

async fn edit_hook(
    State(s): S,
    headers: HeaderMap,
    Path((id, hook_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let mut state = s.state();
    answer((|| {
        let (user, _) = authenticate(&state, &headers, API)?;
        let project = visible_project(&state, &id, &user)?;
        require_maintainer(&project, &user)?;
        let mut hook = hook_of(&state, &project, &hook_id)?;
        let body = parse_body(&body)?;
        let Some(url) = body.get("url").and_then(Value::as_str) else {
            return Err(json(
                StatusCode::BAD_REQUEST,
                json!({"error": "url is missing"}),
            ));
        };
        if !valid_hook_url(url) {
            return Err(json(
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"message": "Invalid url given"}),
            ));
        }
        if url != hook.url {
            // Changing the URL resets the token unless a new one is given.
            hook.token = None;
            hook.url = url.to_owned();
        }
        apply_attributes(&mut hook, &body);
        let out = hook.to_json();
        state.insert_hook(hook);
        Ok(json(StatusCode::OK, out))
    })())
}

async fn delete_hook(
    State(s): S,
    headers: HeaderMap,
    Path((id, hook_id)): Path<(String, String)>,
) -> Response {
    let mut state = s.state();
    answer((|| {
        let (user, _) = authenticate(&state, &headers, API)?;
        let project = visible_project(&state, &id, &user)?;
        require_maintainer(&project, &user)?;
        state
            .hooks
            .retain(|h| !(h.project_id == project.id && h.id.to_string() == hook_id));
        Ok(axum::response::IntoResponse::into_response(
            StatusCode::NO_CONTENT,
        ))
    })())
}

async fn hook_events(
    State(s): S,
    headers: HeaderMap,
    Path((id, hook_id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let state = s.state();
    answer((|| {
        let (user, _) = authenticate(&state, &headers, READ_API)?;
        let project = visible_project(&state, &id, &user)?;
        require_maintainer(&project, &user)?;
        let hook = hook_of(&state, &project, &hook_id)?;
        let wanted = query.get("status").map(String::as_str);
        let events: Vec<Value> = state
            .events
            .iter()
            .rev()
            .filter(|e| e.hook_id == hook.id)
            .filter(|e| status_matches(wanted, &e.response_status))
            .map(|e| serde_json::to_value(e).unwrap_or_default())
            .collect();
        Ok(paginated(
            &s.base,
            &format!(
                "/api/v4/projects/{}/hooks/{}/events",
                path_segment(&id),
                path_segment(&hook_id)
            ),
            events,
            &query,
        ))
    })())
}

fn status_matches(wanted: Option<&str>, status: &str) -> bool {
    let code: u16 = status.parse().unwrap_or(0);
    match wanted {
        None => true,
        Some("successful") => (200..300).contains(&code),
        Some("client_failure") => (400..500).contains(&code),
        Some("server_failure") => code >= 500 || code == 0,
        Some(other) => other == status,
    }
}

/// What a trigger needs before a delivery, or why testing it is refused (422).
fn trigger_precondition(trigger: &str, project: &GitLabProject) -> Result<(), &'static str> {
    match trigger {
        "push_events" | "tag_push_events" if project.commits.is_empty() => {
            Err("Ensure the project has at least one commit.")
        }
        "push_events" | "tag_push_events" => Ok(()),
        "issues_events" | "confidential_issues_events" => Err("Ensure the project has issues."),
        "note_events" | "confidential_note_events" => Err("Ensure the project has notes."),
        "merge_requests_events" => Err("Ensure the project has merge requests."),
        "job_events" => Err("Ensure the project has CI jobs."),
        "pipeline_events" => Err("Ensure the project has CI pipelines."),
        "wiki_page_events" => Err("Ensure the wiki is enabled and has pages."),
        _ => Err("Testing not available for this hook"),
    }
}

async fn test_hook(
    State(s): S,
    headers: HeaderMap,
    Path((id, hook_id, trigger)): Path<(String, String, String)>,
) -> Response {
    let prepared = {
        let mut state = s.state();
        (|| {
            let (user, _) = authenticate(&state, &headers, API)?;
            let valid = HOOK_EVENT_FLAGS
                .iter()
                .any(|f| *f == trigger && *f != "repository_update_events");
            if !valid {
                return Err(json(
                    StatusCode::BAD_REQUEST,
                    json!({"error": "trigger does not have a valid value"}),
                ));
            }
            let project = visible_project(&state, &id, &user)?;
            require_maintainer(&project, &user)?;
            let hook = hook_of(&state, &project, &hook_id)?;
            // GitLab's application rate limiter: a counter per project and user that starts
            // a one-minute window at its first call and counts every call in it, refused ones
            // too; past the limit, 429 with `Retry-After` until the window ends.
            let now = Instant::now();
            let (started, calls) = state
                .test_calls
                .entry((project.id, user.id))
                .or_insert((now, 0));
            if now.duration_since(*started) >= TEST_LIMIT_WINDOW {
                (*started, *calls) = (now, 0);
            }
            *calls += 1;
            if *calls > TEST_CALLS_PER_MINUTE {
                let left = TEST_LIMIT_WINDOW.saturating_sub(now.duration_since(*started));
                let mut refused = json(
                    StatusCode::TOO_MANY_REQUESTS,
                    json!({"message": {"error": "This endpoint has been requested too many times. Try again later."}}),
                );
                refused.headers_mut().insert(
                    "retry-after",
                    HeaderValue::from(left.as_secs_f64().ceil().max(1.0) as u64),
                );
                return Err(refused);
            }
            trigger_precondition(&trigger, &project)
                .map_err(|m| json(StatusCode::UNPROCESSABLE_ENTITY, json!({"message": m})))?;
            Ok(Delivery {
                hook,
                project,
                user,
                trigger: trigger.clone(),
                instance: s.base.clone(),
                version: state.version.clone(),
                block_local_requests: state.block_local_requests,
            })
        })()
    };
    let delivery = match prepared {
        Ok(d) => d,
        Err(response) => return response,
    };
    let hook_id = delivery.hook.id;
    let (event, outcome) = delivery::deliver(&s.client, delivery).await;
    let mut state = s.state();
    let event_id = state.next_id();
    state.events.push(GitLabHookEvent {
        id: event_id,
        ..event
    });
    match outcome {
        Ok(()) => {
            // A successful test re-enables an auto-disabled hook.
            if let Some(hook) = state.hooks.iter_mut().find(|h| h.id == hook_id) {
                hook.alert_status = "executable".to_owned();
                hook.disabled_until = None;
            }
            json(StatusCode::CREATED, json!({"message": "201 Created"}))
        }
        Err(message) => json(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"message": message}),
        ),
    }
}
