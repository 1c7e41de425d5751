//! The fake Gitea's state and handlers.

// Handlers return `Err(response)` to answer early (401, 403, 404); boxing every early answer
// would only add noise to a test server.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::hooks;
use super::model::{GiteaHookDelivery, GiteaRepo, GiteaSeed, GiteaToken, GiteaUser, ScopeMessage};
use crate::fake::server::{json, unexpected};

/// Gitea's default page size (`[api] DEFAULT_PAGING_NUM`).
pub(super) const DEFAULT_PAGE_SIZE: usize = 30;
/// Gitea's largest page (`[api] MAX_RESPONSE_ITEMS`).
pub(super) const MAX_PAGE_SIZE: usize = 50;

#[derive(Debug)]
pub(super) struct Shared {
    pub(super) base: String,
    state: Mutex<GiteaSeed>,
    /// The `hook_task` table: every delivery created, in order.
    deliveries: Mutex<Vec<GiteaHookDelivery>>,
    /// Woken whenever a delivery is recorded or finished.
    pub(super) delivered: tokio::sync::Notify,
}

impl Shared {
    pub(super) fn new(base: String, seed: GiteaSeed) -> Self {
        Self {
            base,
            state: Mutex::new(seed),
            deliveries: Mutex::new(Vec::new()),
            delivered: tokio::sync::Notify::new(),
        }
    }

    pub(super) fn state(&self) -> MutexGuard<'_, GiteaSeed> {
        self.state.lock().expect("fake gitea state lock")
    }

    pub(super) fn deliveries(&self) -> MutexGuard<'_, Vec<GiteaHookDelivery>> {
        self.deliveries.lock().expect("fake gitea deliveries lock")
    }

    fn swagger(&self) -> String {
        format!("{}/api/swagger", self.base)
    }
}

/// The version `/version` reports.
pub(super) fn version_of(seed: &GiteaSeed) -> String {
    seed.version
        .clone()
        .unwrap_or_else(|| super::FakeGitea::DEFAULT_VERSION.to_owned())
}

/// Whether a version (Gitea's, or the Gitea part of a Forgejo `x+gitea-y`) is at least
/// `major.minor`.
pub(super) fn at_least(version: &str, major: u64, minor: u64) -> bool {
    let gitea = version.split("+gitea-").nth(1).unwrap_or(version);
    let mut parts = gitea.split(['.', '-', '+']).map(|p| p.parse::<u64>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(ma), Some(mi)) => (ma, mi) >= (major, minor),
        _ => true,
    }
}

pub(super) type S = State<Arc<Shared>>;

pub(super) fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/version", get(version))
        .route("/user", get(user))
        .route("/repos/{owner}/{repo}", get(repository))
        .route("/repos/{owner}/{repo}/actions/tasks", get(action_tasks))
        .route("/repos/{owner}/{repo}/actions/runs", get(action_runs))
        .route(
            "/repos/{owner}/{repo}/hooks",
            get(hooks::list).post(hooks::create),
        )
        .route(
            "/repos/{owner}/{repo}/hooks/{id}",
            get(hooks::get_one).patch(hooks::edit).delete(hooks::delete),
        )
        .route("/repos/{owner}/{repo}/hooks/{id}/tests", post(hooks::test));
    Router::new()
        .nest("/api/v1", api)
        .fallback(|method: Method, uri: Uri| async move { unexpected("fake Gitea", &method, &uri) })
        .with_state(shared)
}

/// Gitea's error body: `{"message": …, "url": "<base>/api/swagger"}`.
pub(super) fn error(s: &Shared, status: StatusCode, message: &str) -> Response {
    json(status, json!({"message": message, "url": s.swagger()}))
}

pub(super) fn not_found(s: &Shared) -> Response {
    json(
        StatusCode::NOT_FOUND,
        json!({"message": "The target couldn't be found.", "url": s.swagger(), "errors": []}),
    )
}

/// Who calls: `None` for an anonymous call, else the token's user and the token.
pub(super) type Caller = Option<(GiteaUser, GiteaToken)>;

/// Reads `Authorization: token <t>` (or `bearer <t>`, any case). An unknown token is 401 on
/// every route, with Gitea's message, which echoes the token.
pub(super) fn caller(
    s: &Shared,
    state: &GiteaSeed,
    headers: &HeaderMap,
) -> Result<Caller, Response> {
    let Some(value) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let presented = value
        .split_once(' ')
        .filter(|(scheme, _)| {
            scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer")
        })
        .map(|(_, t)| t.trim());
    let Some(presented) = presented else {
        return Err(error(
            s,
            StatusCode::UNAUTHORIZED,
            "invalid username, password or token",
        ));
    };
    let found = state
        .tokens
        .iter()
        .find(|t| t.token == presented)
        .and_then(|t| {
            state
                .users
                .iter()
                .find(|u| u.id == t.user_id)
                .map(|u| (u.clone(), t.clone()))
        });
    match found {
        Some(found) => Ok(Some(found)),
        None => Err(error(
            s,
            StatusCode::UNAUTHORIZED,
            &format!("access token does not exist [sha: {presented}]"),
        )),
    }
}

/// Gitea's `tokenRequiresScopes`: a token without `level:category` is refused before the
/// route looks anything up; calls without a token pass (the route decides).
pub(super) fn require_scope(
    s: &Shared,
    state: &GiteaSeed,
    caller: &Caller,
    level: &str,
    category: &str,
) -> Result<(), Response> {
    let Some((_, token)) = caller else {
        return Ok(());
    };
    if token.grants(level, category) {
        return Ok(());
    }
    let required = format!("{level}:{category}");
    let message = match state.scope_message {
        ScopeMessage::Listed => {
            format!("token does not have at least one of required scope(s): [{required}]")
        }
        ScopeMessage::Detailed => format!(
            "token does not have at least one of required scope(s), required=[{required}], token scope={}",
            token.scopes.join(",")
        ),
    };
    Err(error(s, StatusCode::FORBIDDEN, &message))
}

/// What a caller may do in a repository.
pub(super) struct Access {
    pub(super) repo: GiteaRepo,
    pub(super) site_admin: bool,
    pub(super) repo_admin: bool,
    push: bool,
    /// The Actions unit is readable: enabled, and the caller's access includes it.
    can_read_actions: bool,
    /// The unit is enabled (instance and repository).
    actions_enabled: bool,
}

/// The repository, if the caller may see it (404 otherwise, as Gitea hides private ones).
pub(super) fn access(
    s: &Shared,
    state: &GiteaSeed,
    caller: &Caller,
    owner: &str,
    name: &str,
) -> Result<Access, Response> {
    let repo = state
        .repos
        .iter()
        .find(|r| r.owner.eq_ignore_ascii_case(owner) && r.name.eq_ignore_ascii_case(name))
        .cloned()
        .ok_or_else(|| not_found(s))?;
    let user = caller.as_ref().map(|(u, _)| u);
    let site_admin = user.is_some_and(|u| u.is_admin);
    let is_owner = user.is_some_and(|u| u.login.eq_ignore_ascii_case(&repo.owner));
    let collaborator = user.and_then(|u| repo.collaborators.iter().find(|c| c.user_id == u.id));
    if repo.private && !site_admin && !is_owner && collaborator.is_none() {
        return Err(not_found(s));
    }
    let actions_enabled = state.actions_enabled && repo.actions;
    let repo_admin = is_owner || collaborator.is_some_and(|c| c.permission == "admin");
    let push = repo_admin || site_admin || collaborator.is_some_and(|c| c.permission == "write");
    let unit_access = is_owner || site_admin || collaborator.map_or(!repo.private, |c| c.actions);
    Ok(Access {
        repo,
        site_admin,
        repo_admin,
        push,
        can_read_actions: actions_enabled && unit_access,
        actions_enabled,
    })
}

pub(super) fn answer(result: Result<Response, Response>) -> Response {
    result.unwrap_or_else(|e| e)
}

async fn version(State(s): S, headers: HeaderMap) -> Response {
    let state = s.state();
    answer(
        caller(&s, &state, &headers)
            .map(|_| json(StatusCode::OK, json!({"version": version_of(&state)}))),
    )
}

async fn user(State(s): S, headers: HeaderMap) -> Response {
    let state = s.state();
    answer((|| {
        let caller = caller(&s, &state, &headers)?;
        require_scope(&s, &state, &caller, "read", "user")?;
        let Some((user, _)) = caller else {
            return Err(error(&s, StatusCode::UNAUTHORIZED, "token is required"));
        };
        Ok(json(StatusCode::OK, user.to_json(&s.base)))
    })())
}

async fn repository(
    State(s): S,
    headers: HeaderMap,
    Path((owner, name)): Path<(String, String)>,
) -> Response {
    let state = s.state();
    answer((|| {
        let caller = caller(&s, &state, &headers)?;
        require_scope(&s, &state, &caller, "read", "repository")?;
        let a = access(&s, &state, &caller, &owner, &name)?;
        let permissions = json!({
            "admin": a.repo_admin || a.site_admin, "push": a.push, "pull": true,
        });
        Ok(json(
            StatusCode::OK,
            repo_json(&s.base, &a.repo, permissions, a.actions_enabled),
        ))
    })())
}

/// A repository as Gitea's API shows it (`services/convert` `ToRepo`), with `permissions`
/// for the caller.
pub(super) fn repo_json(base: &str, r: &GiteaRepo, permissions: Value, actions: bool) -> Value {
    let full = r.full_name();
    json!({
        "id": r.id,
        "owner": {"id": 0, "login": r.owner, "username": r.owner},
        "name": r.name,
        "full_name": full,
        "description": "",
        "empty": r.empty,
        "private": r.private,
        "fork": false,
        "mirror": false,
        "archived": false,
        "default_branch": r.default_branch,
        "html_url": format!("{base}/{full}"),
        "url": format!("{base}/api/v1/repos/{full}"),
        "clone_url": format!("{base}/{full}.git"),
        "permissions": permissions,
        "has_issues": true,
        "has_wiki": true,
        "has_pull_requests": true,
        "has_projects": true,
        "has_releases": true,
        "has_packages": true,
        "has_actions": actions,
    })
}

/// The checks of Gitea's `/repos/{owner}/{repo}/actions` group: the `read:repository` scope,
/// the repository's visibility, then `reqRepoReader(unit.TypeActions)`: the caller must read
/// the Actions unit or administer the repository or the site. Administrators pass even when
/// the unit is disabled, as in Gitea.
fn actions_access(
    s: &Shared,
    state: &GiteaSeed,
    headers: &HeaderMap,
    owner: &str,
    name: &str,
) -> Result<GiteaRepo, Response> {
    let caller = caller(s, state, headers)?;
    require_scope(s, state, &caller, "read", "repository")?;
    let a = access(s, state, &caller, owner, name)?;
    if !a.can_read_actions && !a.repo_admin && !a.site_admin {
        return Err(error(
            s,
            StatusCode::FORBIDDEN,
            "user should have specific read permission or be a repo admin or a site admin",
        ));
    }
    Ok(a.repo)
}

/// One page (`page`, `limit`) of `items` with Gitea's `X-Total-Count` and `Link` headers;
/// the body is `{"workflow_runs": […], "total_count": n}`.
fn runs_page(
    base: &str,
    path: &str,
    items: Vec<Value>,
    query: &HashMap<String, String>,
) -> Response {
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
    let total = items.len();
    let pages = total.div_ceil(limit).max(1);
    let slice: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * limit)
        .take(limit)
        .collect();
    let mut response = json(
        StatusCode::OK,
        json!({"workflow_runs": slice, "total_count": total}),
    );
    let link =
        |p: usize, rel: &str| format!("<{base}{path}?limit={limit}&page={p}>; rel=\"{rel}\"");
    let mut links = Vec::new();
    if page < pages {
        links.push(link(page + 1, "next"));
        links.push(link(pages, "last"));
    }
    if page > 1 {
        links.push(link(1, "first"));
        links.push(link(page - 1, "prev"));
    }
    let h = response.headers_mut();
    h.insert("x-total-count", HeaderValue::from(total));
    h.insert(
        "access-control-expose-headers",
        HeaderValue::from_static("X-Total-Count, Link"),
    );
    if !links.is_empty()
        && let Ok(v) = HeaderValue::from_str(&links.join(","))
    {
        h.insert("link", v);
    }
    response
}

/// `GET /repos/{owner}/{repo}/actions/tasks` (Gitea 1.22+, Forgejo): the repository's tasks,
/// newest first.
async fn action_tasks(
    State(s): S,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path((owner, name)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let state = s.state();
    if !at_least(&version_of(&state), 1, 22) {
        return unexpected("fake Gitea", &method, &uri);
    }
    answer((|| {
        let repo = actions_access(&s, &state, &headers, &owner, &name)?;
        let mut tasks = repo.tasks.clone();
        tasks.sort_by_key(|t| std::cmp::Reverse(t.id));
        let items = tasks.iter().map(|t| t.to_json(&s.base, &repo)).collect();
        Ok(runs_page(&s.base, uri.path(), items, &query))
    })())
}

/// `GET /repos/{owner}/{repo}/actions/runs` (Gitea 1.24+ in this fake): the tasks as runs,
/// newest first.
async fn action_runs(
    State(s): S,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path((owner, name)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let state = s.state();
    if !at_least(&version_of(&state), 1, 24) {
        return unexpected("fake Gitea", &method, &uri);
    }
    answer((|| {
        let repo = actions_access(&s, &state, &headers, &owner, &name)?;
        let mut tasks = repo.tasks.clone();
        tasks.sort_by_key(|t| std::cmp::Reverse(t.id));
        let items = tasks
            .iter()
            .map(|t| t.to_run_json(&s.base, &repo))
            .collect();
        Ok(runs_page(&s.base, uri.path(), items, &query))
    })())
}

#[cfg(test)]
mod tests {
    use super::at_least;

    #[test]
    fn versions_compare_on_their_gitea_part() {
        assert!(at_least("1.22.0", 1, 22));
        assert!(at_least("1.24.2", 1, 22));
        assert!(!at_least("1.21.11", 1, 22));
        assert!(at_least("11.0.3+gitea-1.22.0", 1, 22));
        assert!(!at_least("11.0.3+gitea-1.22.0", 1, 24));
        assert!(at_least("1.25.0-dev", 1, 24));
    }
}
