//! [`FakeArgoCd`]: the Argo CD API server calls PathOps makes, as Argo CD's source documents
//! them.
//!
//! | call | behaviour |
//! |---|---|
//! | `GET /healthz` | `200 text/plain` `ok`, no auth |
//! | `GET /api/version` | no auth needed: only `{"Version":…}` for an anonymous caller or an unaccepted token; the full answer (`BuildDate`, `GitCommit`, `GoVersion`, `Platform`, `KustomizeVersion`, …) for a valid token, and for everyone when [authentication is disabled](ArgoCdSeed::auth_disabled) |
//! | `GET /api/v1/session/userinfo` | **always 200**: `{"loggedIn":true,"username":…,"iss":…,"groups":[…]}` for a valid token, `{"loggedIn":false}` for anything else (no token, a bad, revoked or disabled account's token, and — assumed — with authentication disabled) |
//! | `GET /api/v1/applications` | RBAC `applications, get, <project>/<name>`: the applications the token may get (`fields=items.metadata.name` keeps only the names; an empty list is `"items": null`, as Argo CD writes it); **403** when the token holds no `applications, get` grant at all |
//! | `GET /api/v1/projects/{name}` | RBAC `projects, get, <name>`: the AppProject; 403 without the grant; 404 for an allowed name that does not exist |
//!
//! The RBAC calls answer **401** for a missing or unaccepted token, with grpc-gateway's error
//! body `{"error":…,"code":16,"message":…}`; a denial is **403** with `code` 7 and
//! `permission denied: <resource>, <action>, <object>, sub: <account>`. (These two codes are
//! Argo CD's gRPC codes as grpc-gateway maps them; not checked against a real server. A real
//! server may filter a list by RBAC rather than refuse it: the fake refuses only a token with
//! no grant for the resource at all.)
//!
//! Tokens are `Authorization: Bearer <token>` (or the `argocd.token` cookie), opaque strings
//! here rather than signed JWTs. A [`ArgoCdAccount`]'s RBAC grants are policy lines
//! `<resource>, <action>, <object>`, the object matched as a glob (`*` matches any run of
//! characters: `*/*`, `platform/*`).
//!
//! [`start_with_defaults`](FakeArgoCd::start_with_defaults) seeds projects `default` and
//! `platform`, applications `guestbook` (`default`) and `podinfo` (`platform`), and:
//!
//! | account | token | what a check against it gives |
//! |---|---|---|
//! | [`ACCOUNT`](FakeArgoCd::ACCOUNT) (`pathops`) | [`TOKEN`](FakeArgoCd::TOKEN) | healthy: logged in (group `platform-team`), may get every application and project |
//! | [`ACCOUNT`](FakeArgoCd::ACCOUNT) | [`REVOKED_TOKEN`](FakeArgoCd::REVOKED_TOKEN) | broken: revoked, userinfo says `loggedIn: false`, RBAC calls 401 |
//! | [`DENIED_ACCOUNT`](FakeArgoCd::DENIED_ACCOUNT) (`auditor`) | [`DENIED_TOKEN`](FakeArgoCd::DENIED_TOKEN) | logged in, but 403 on applications and projects (no RBAC grant) |

use std::collections::HashMap;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::FakeServer;
use super::server::{json, unexpected};

/// A local account with API tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArgoCdAccount {
    /// The account name (userinfo's `username`).
    pub name: String,
    /// API tokens issued to it.
    #[serde(default)]
    pub tokens: Vec<String>,
    /// Groups (userinfo's `groups`).
    #[serde(default)]
    pub groups: Vec<String>,
    /// RBAC grants, `<resource>, <action>, <object>` (`applications, get, */*`).
    #[serde(default)]
    pub allow: Vec<String>,
    /// A disabled account's tokens are not accepted.
    #[serde(default)]
    pub disabled: bool,
}

/// An application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArgoCdApplication {
    /// Its name.
    pub name: String,
    /// Its AppProject (default `default`).
    #[serde(default = "default_project")]
    pub project: String,
}

fn default_project() -> String {
    "default".to_owned()
}

/// Everything a fake Argo CD starts with: the JSON seed file of `pathops-fake argocd`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArgoCdSeed {
    /// `Version` (default [`FakeArgoCd::DEFAULT_VERSION`]).
    #[serde(default)]
    pub version: Option<String>,
    /// userinfo's `iss` (default `argocd`, a local account's issuer).
    #[serde(default)]
    pub issuer: Option<String>,
    /// Authentication disabled server-wide (`server.disable.auth`).
    #[serde(default)]
    pub auth_disabled: bool,
    /// Local accounts.
    #[serde(default)]
    pub accounts: Vec<ArgoCdAccount>,
    /// AppProject names.
    #[serde(default)]
    pub projects: Vec<String>,
    /// Applications.
    #[serde(default)]
    pub applications: Vec<ArgoCdApplication>,
}

#[derive(Debug)]
struct Shared {
    version: String,
    issuer: String,
    state: Mutex<ArgoCdSeed>,
}

/// A fake Argo CD; see the [module docs](self). Dereferences to its [`FakeServer`].
#[derive(Debug)]
pub struct FakeArgoCd {
    server: FakeServer,
    shared: Arc<Shared>,
}

impl Deref for FakeArgoCd {
    type Target = FakeServer;
    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

impl FakeArgoCd {
    /// The version reported unless the seed says otherwise.
    pub const DEFAULT_VERSION: &'static str = "v2.13.3+a25c8a0";
    /// [`start_with_defaults`](Self::start_with_defaults): the account PathOps uses.
    pub const ACCOUNT: &'static str = "pathops";
    /// [`ACCOUNT`](Self::ACCOUNT)'s API token.
    pub const TOKEN: &'static str = "argocd-fake-token-pathops-7f3c";
    /// A token of [`ACCOUNT`](Self::ACCOUNT) that was revoked: not accepted.
    pub const REVOKED_TOKEN: &'static str = "argocd-fake-token-pathops-revoked";
    /// [`start_with_defaults`](Self::start_with_defaults): an account without RBAC grants.
    pub const DENIED_ACCOUNT: &'static str = "auditor";
    /// [`DENIED_ACCOUNT`](Self::DENIED_ACCOUNT)'s API token.
    pub const DENIED_TOKEN: &'static str = "argocd-fake-token-auditor-19be";

    /// An empty fake.
    pub async fn start() -> Self {
        Self::start_with(ArgoCdSeed::default()).await
    }

    /// A fake seeded with [`default_seed`](Self::default_seed).
    pub async fn start_with_defaults() -> Self {
        Self::start_with(Self::default_seed()).await
    }

    /// The accounts, projects and applications of the [module docs](self).
    pub fn default_seed() -> ArgoCdSeed {
        ArgoCdSeed {
            version: None,
            issuer: None,
            auth_disabled: false,
            accounts: vec![
                ArgoCdAccount {
                    name: Self::ACCOUNT.to_owned(),
                    tokens: vec![Self::TOKEN.to_owned()],
                    groups: vec!["platform-team".to_owned()],
                    allow: vec![
                        "applications, get, */*".to_owned(),
                        "projects, get, *".to_owned(),
                    ],
                    disabled: false,
                },
                ArgoCdAccount {
                    name: Self::DENIED_ACCOUNT.to_owned(),
                    tokens: vec![Self::DENIED_TOKEN.to_owned()],
                    groups: Vec::new(),
                    allow: Vec::new(),
                    disabled: false,
                },
            ],
            projects: vec!["default".to_owned(), "platform".to_owned()],
            applications: vec![
                ArgoCdApplication {
                    name: "guestbook".to_owned(),
                    project: "default".to_owned(),
                },
                ArgoCdApplication {
                    name: "podinfo".to_owned(),
                    project: "platform".to_owned(),
                },
            ],
        }
    }

    /// A fake seeded with `seed` on `127.0.0.1:0`.
    pub async fn start_with(seed: ArgoCdSeed) -> Self {
        Self::start_on("127.0.0.1:0".parse().expect("a socket address"), seed)
            .await
            .expect("bind 127.0.0.1:0")
    }

    /// A fake seeded with `seed` on `listen`.
    pub async fn start_on(listen: SocketAddr, seed: ArgoCdSeed) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            version: seed
                .version
                .clone()
                .unwrap_or_else(|| Self::DEFAULT_VERSION.to_owned()),
            issuer: seed.issuer.clone().unwrap_or_else(|| "argocd".to_owned()),
            state: Mutex::new(seed),
        });
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let server = FakeServer::serve(listener, router(shared.clone()));
        Ok(Self { server, shared })
    }

    /// Revokes `token`: it is not accepted from now on.
    pub fn revoke_token(&self, token: &str) {
        let mut state = self.shared.state.lock().expect("fake argocd lock");
        for a in &mut state.accounts {
            a.tokens.retain(|t| t != token);
        }
    }

    /// Turns server-wide authentication off (`true`) or on.
    pub fn set_auth_disabled(&self, disabled: bool) {
        self.shared
            .state
            .lock()
            .expect("fake argocd lock")
            .auth_disabled = disabled;
    }

    /// Replaces `account`'s RBAC grants.
    pub fn set_grants(&self, account: &str, allow: &[&str]) {
        let mut state = self.shared.state.lock().expect("fake argocd lock");
        for a in state.accounts.iter_mut().filter(|a| a.name == account) {
            a.allow = allow.iter().map(|g| (*g).to_owned()).collect();
        }
    }
}

type S = State<Arc<Shared>>;

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(|| async { ([("content-type", "text/plain; charset=utf-8")], "ok") }),
        )
        .route("/api/version", get(version))
        .route("/api/v1/session/userinfo", get(userinfo))
        .route("/api/v1/applications", get(applications))
        .route("/api/v1/projects/{name}", get(project))
        .fallback(
            |method: Method, uri: Uri| async move { unexpected("fake Argo CD", &method, &uri) },
        )
        .with_state(shared)
}

/// The bearer token or `argocd.token` cookie, if any.
fn token(headers: &HeaderMap) -> Option<String> {
    if let Some(t) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(t.trim().to_owned());
    }
    headers
        .get("cookie")
        .and_then(|v| v.to_str().ok())?
        .split(';')
        .find_map(|c| c.trim().strip_prefix("argocd.token="))
        .map(str::to_owned)
}

/// Who a request is, once authenticated.
enum Session {
    /// No token.
    None,
    /// A token that is not accepted.
    Invalid,
    /// A valid account token.
    Account(ArgoCdAccount),
}

fn session(state: &ArgoCdSeed, headers: &HeaderMap) -> Session {
    let Some(token) = token(headers) else {
        return Session::None;
    };
    match state
        .accounts
        .iter()
        .find(|a| !a.disabled && a.tokens.contains(&token))
    {
        Some(a) => Session::Account(a.clone()),
        None => Session::Invalid,
    }
}

/// grpc-gateway's error body.
fn grpc_error(status: StatusCode, code: u8, message: &str) -> Response {
    json(
        status,
        json!({"error": message, "code": code, "message": message}),
    )
}

/// `Ok(None)` with authentication disabled (every call allowed), `Ok(Some(account))` for a
/// valid token, else the message of the 401.
fn require_session(
    state: &ArgoCdSeed,
    headers: &HeaderMap,
) -> Result<Option<ArgoCdAccount>, &'static str> {
    if state.auth_disabled {
        return Ok(None);
    }
    match session(state, headers) {
        Session::Account(a) => Ok(Some(a)),
        Session::None => Err("no session information"),
        Session::Invalid => Err("invalid session: token signature is invalid"),
    }
}

fn unauthenticated(message: &str) -> Response {
    grpc_error(StatusCode::UNAUTHORIZED, 16, message)
}

/// Whether `account` may `action` on `object` of `resource`.
fn allowed(account: &ArgoCdAccount, resource: &str, action: &str, object: &str) -> bool {
    account.allow.iter().any(|line| {
        let parts: Vec<&str> = line.split(',').map(str::trim).collect();
        let [r, a, o] = parts[..] else {
            return false;
        };
        r == resource && (a == action || a == "*") && glob(o, object)
    })
}

/// `pattern` with `*` matching any run of characters (`*/*`, `platform/*`, `*`).
fn glob(pattern: &str, value: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = value.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

fn denied(account: &ArgoCdAccount, resource: &str, object: &str) -> Response {
    grpc_error(
        StatusCode::FORBIDDEN,
        7,
        &format!(
            "permission denied: {resource}, get, {object}, sub: {}, iat: 2026-01-01T00:00:00Z",
            account.name
        ),
    )
}

async fn version(State(s): S, headers: HeaderMap) -> Response {
    let state = s.state.lock().expect("fake argocd lock");
    let full = state.auth_disabled || matches!(session(&state, &headers), Session::Account(_));
    if !full {
        return json(StatusCode::OK, json!({"Version": s.version}));
    }
    json(
        StatusCode::OK,
        json!({
            "Version": s.version,
            "BuildDate": "2026-01-15T10:00:00Z",
            "GitCommit": "a25c8a0eef7830be0c2c9074c92dbea8ff23a614",
            "GitTag": s.version.split('+').next().unwrap_or_default(),
            "GitTreeState": "clean",
            "GoVersion": "go1.23.4",
            "Compiler": "gc",
            "Platform": "linux/amd64",
            "KustomizeVersion": "v5.4.3",
            "HelmVersion": "v3.16.3",
            "KubectlVersion": "v0.31.0",
            "JsonnetVersion": "v0.20.0",
        }),
    )
}

async fn userinfo(State(s): S, headers: HeaderMap) -> Response {
    let state = s.state.lock().expect("fake argocd lock");
    match session(&state, &headers) {
        Session::Account(a) => json(
            StatusCode::OK,
            json!({"loggedIn": true, "username": a.name, "iss": s.issuer, "groups": a.groups}),
        ),
        Session::None | Session::Invalid => json(StatusCode::OK, json!({"loggedIn": false})),
    }
}

async fn applications(
    State(s): S,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let state = s.state.lock().expect("fake argocd lock");
    let account = match require_session(&state, &headers) {
        Ok(a) => a,
        Err(message) => return unauthenticated(message),
    };
    if let Some(a) = &account
        && !a.allow.iter().any(|line| {
            let mut parts = line.split(',').map(str::trim);
            parts.next() == Some("applications") && matches!(parts.next(), Some("get" | "*"))
        })
    {
        return denied(a, "applications", "*/*");
    }
    let names_only = q
        .get("fields")
        .is_some_and(|f| f.split(',').all(|f| f == "items.metadata.name"));
    let items: Vec<Value> = state
        .applications
        .iter()
        .filter(|app| {
            account.as_ref().is_none_or(|a| {
                allowed(
                    a,
                    "applications",
                    "get",
                    &format!("{}/{}", app.project, app.name),
                )
            })
        })
        .map(|app| {
            if names_only {
                json!({"metadata": {"name": app.name}})
            } else {
                json!({
                    "metadata": {"name": app.name, "namespace": "argocd"},
                    "spec": {"project": app.project},
                })
            }
        })
        .collect();
    let items = if items.is_empty() {
        Value::Null
    } else {
        Value::Array(items)
    };
    json(
        StatusCode::OK,
        json!({"metadata": {"resourceVersion": "4711"}, "items": items}),
    )
}

async fn project(State(s): S, headers: HeaderMap, Path(name): Path<String>) -> Response {
    let state = s.state.lock().expect("fake argocd lock");
    let account = match require_session(&state, &headers) {
        Ok(a) => a,
        Err(message) => return unauthenticated(message),
    };
    if let Some(a) = &account
        && !allowed(a, "projects", "get", &name)
    {
        return denied(a, "projects", &name);
    }
    if !state.projects.contains(&name) {
        return grpc_error(
            StatusCode::NOT_FOUND,
            5,
            &format!("appprojects.argoproj.io \"{name}\" not found"),
        );
    }
    (
        StatusCode::OK,
        axum::Json(json!({
            "metadata": {"name": name, "namespace": "argocd"},
            "spec": {"sourceRepos": ["*"], "destinations": [{"server": "*", "namespace": "*"}]},
        })),
    )
        .into_response()
}
