//! [`FakeGitHub`]: the GitHub App surface PathOps uses, in
//! the api.github.com shape (routes at the root) or the GitHub Enterprise Server shape (under
//! `/api/v3`, with `X-GitHub-Enterprise-Version`).
//!
//! | call | behaviour |
//! |---|---|
//! | `GET /app`, `GET /app/installations` | App JWT only: RS256, signature checked against the App's key, `iss` = App ID or client ID, `iat` an integer not in the future, `exp` in the future and at most 10 minutes ahead; 401 with GitHub's messages otherwise |
//! | `GET /app/installations/:id`, `GET /repos/:owner/:repo/installation` | App JWT: the installation (with an absolute `access_tokens_url`), 404 when the App has none there |
//! | `POST /app/installations/:id/access_tokens` | 201 `{token: "ghs_…", expires_at: +1 h, …}`; 404 unknown, 403 suspended |
//! | `GET /rate_limit` | installation token: `resources.core` (and the deprecated `rate`); anonymous: the unauthenticated limit of 60; an unknown or expired token: 401 `Bad credentials`; not counted |
//! | `POST /repos/:owner/:repo/hooks/:hook_id/pings` | installation token (`Authorization: Bearer …` or `token …`); delivers a `ping` signed with `X-Hub-Signature-256` synchronously, then 204 |
//! | `GET /repos/:owner/:repo/actions/runs` | installation token: `{total_count, workflow_runs}` newest first, `per_page` (default 30, at most 100) and `page`, a `Link` header (`next`, `last`, `first`, `prev`); 404 when the installation does not cover the repository, 403 `Resource not accessible by integration` (with `x-accepted-github-permissions: actions=read`) when the token was minted without the Actions permission |
//!
//! Every answer carries `x-ratelimit-*` headers, from one of two budgets: calls with the App's
//! JWT and calls with an installation token are counted apart, as GitHub does. Counted calls
//! past the limit get 403 with `x-ratelimit-remaining: 0`. A request without `User-Agent` is 403.
//! The TEST-ONLY keys in this directory are public: [`FakeGitHub::TEST_APP_PRIVATE_KEY_PEM`]
//! signs JWTs the default App accepts.

mod model;

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hmac::{Hmac, Mac};
use pathops_core::Clock;
use pathops_core::clock::SystemClock;
use serde_json::{Value, json};
use sha2::Sha256;

pub use model::{
    GitHubApp, GitHubDelivery, GitHubInstallation, GitHubRepoHook, GitHubSeed, GitHubWorkflowRun,
};

use super::FakeServer;
use super::server::{json, unexpected};

const DOCS: &str = "https://docs.github.com/rest";

#[derive(Debug, Clone)]
struct IssuedToken {
    token: String,
    installation_id: u64,
    expires_at: time::OffsetDateTime,
    /// What the installation granted when the token was minted.
    permissions: serde_json::Map<String, Value>,
}

#[derive(Debug)]
struct RateLimit {
    limit: u64,
    remaining: u64,
    reset: i64,
}

#[derive(Debug)]
struct StateInner {
    seed: GitHubSeed,
    tokens: Vec<IssuedToken>,
    /// Calls with an installation token (or none).
    rate: RateLimit,
    /// Calls with the App's JWT: GitHub counts them apart from the installation's.
    app_rate: RateLimit,
    deliveries: Vec<GitHubDelivery>,
}

#[derive(Debug)]
struct Shared {
    enterprise: bool,
    /// The API root as clients reach it (absolute URLs in answers start with it).
    api_url: String,
    clock: Arc<dyn Clock>,
    state: Mutex<StateInner>,
    client: reqwest::Client,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, StateInner> {
        self.state.lock().expect("fake github lock")
    }
}

/// A fake GitHub; see the [module docs](self). Dereferences to its [`FakeServer`].
#[derive(Debug)]
pub struct FakeGitHub {
    server: FakeServer,
    shared: Arc<Shared>,
}

impl Deref for FakeGitHub {
    type Target = FakeServer;
    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

/// Starts a [`FakeGitHub`]: shape, clock and seed.
#[derive(Debug)]
pub struct FakeGitHubBuilder {
    enterprise: bool,
    clock: Arc<dyn Clock>,
    seed: GitHubSeed,
    listen: SocketAddr,
}

impl FakeGitHubBuilder {
    /// The GitHub Enterprise Server shape: the API under `/api/v3`.
    pub fn enterprise(mut self) -> Self {
        self.enterprise = true;
        self
    }

    /// The clock that checks JWT times and stamps token expiry (default the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The seed (default [`FakeGitHub::default_seed`]).
    pub fn seed(mut self, seed: GitHubSeed) -> Self {
        self.seed = seed;
        self
    }

    /// Where to listen (default `127.0.0.1:0`).
    pub fn listen(mut self, listen: SocketAddr) -> Self {
        self.listen = listen;
        self
    }

    /// Binds and serves.
    pub async fn start(self) -> std::io::Result<FakeGitHub> {
        let listener = tokio::net::TcpListener::bind(self.listen).await?;
        let reset = self.clock.now().unix_timestamp() + 3600;
        let root = format!("http://{}", listener.local_addr()?);
        let api_url = if self.enterprise {
            format!("{root}/api/v3")
        } else {
            root
        };
        let shared = Arc::new(Shared {
            enterprise: self.enterprise,
            api_url,
            clock: self.clock,
            state: Mutex::new(StateInner {
                seed: self.seed,
                tokens: Vec::new(),
                rate: RateLimit {
                    limit: 5000,
                    remaining: 5000,
                    reset,
                },
                app_rate: RateLimit {
                    limit: 5000,
                    remaining: 5000,
                    reset,
                },
                deliveries: Vec::new(),
            }),
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .build()
                .expect("the delivery client builds"),
        });
        let server = FakeServer::serve(listener, router(shared.clone()));
        Ok(FakeGitHub { server, shared })
    }
}

impl FakeGitHub {
    /// TEST ONLY, public in this repository: the private key of the default App.
    pub const TEST_APP_PRIVATE_KEY_PEM: &'static str =
        include_str!("TEST-ONLY-app-private-key.pem");
    /// TEST ONLY: the public key of the default App.
    pub const TEST_APP_PUBLIC_KEY_PEM: &'static str = include_str!("TEST-ONLY-app-public-key.pem");
    /// TEST ONLY: a valid RSA key no App of the fake knows (a wrong credential).
    pub const TEST_OTHER_PRIVATE_KEY_PEM: &'static str =
        include_str!("TEST-ONLY-other-private-key.pem");
    /// The default App's ID.
    pub const APP_ID: u64 = 4242;
    /// The default App's client ID.
    pub const CLIENT_ID: &'static str = "Iv1.fakeclient0001";
    /// The default installation.
    pub const INSTALLATION_ID: u64 = 77;
    /// The default installation's repository.
    pub const REPOSITORY: &'static str = "acme/platform";
    /// The version GHES responses report.
    pub const ENTERPRISE_VERSION: &'static str = "enterprise-server@3.14.0";

    /// A builder: api.github.com shape, system clock, default seed.
    pub fn builder() -> FakeGitHubBuilder {
        FakeGitHubBuilder {
            enterprise: false,
            clock: Arc::new(SystemClock),
            seed: Self::default_seed(),
            listen: "127.0.0.1:0".parse().expect("a socket address"),
        }
    }

    /// The api.github.com shape with the default seed on `127.0.0.1:0`.
    pub async fn start() -> Self {
        Self::builder().start().await.expect("bind 127.0.0.1:0")
    }

    /// The GHES shape with the default seed on `127.0.0.1:0`.
    pub async fn start_enterprise() -> Self {
        Self::builder()
            .enterprise()
            .start()
            .await
            .expect("bind 127.0.0.1:0")
    }

    /// The older workflow run of the default seed (completed, `failure`).
    pub const FIRST_RUN_ID: u64 = 9001;
    /// The newest workflow run of the default seed (completed, `success`).
    pub const LATEST_RUN_ID: u64 = 9002;

    /// One App ([`APP_ID`](Self::APP_ID), the TEST-ONLY key, permissions `metadata: read`,
    /// `repository_hooks: write`, `actions: read`) installed once
    /// ([`INSTALLATION_ID`](Self::INSTALLATION_ID)) on [`REPOSITORY`](Self::REPOSITORY), which
    /// has two workflow runs ([`FIRST_RUN_ID`](Self::FIRST_RUN_ID),
    /// [`LATEST_RUN_ID`](Self::LATEST_RUN_ID)).
    pub fn default_seed() -> GitHubSeed {
        let mut permissions = serde_json::Map::new();
        permissions.insert("metadata".into(), json!("read"));
        permissions.insert("repository_hooks".into(), json!("write"));
        permissions.insert("actions".into(), json!("read"));
        GitHubSeed {
            apps: vec![GitHubApp {
                id: Self::APP_ID,
                client_id: Self::CLIENT_ID.to_owned(),
                slug: "pathops-test".to_owned(),
                name: "PathOps test".to_owned(),
                owner: "acme".to_owned(),
                public_key_pem: Self::TEST_APP_PUBLIC_KEY_PEM.to_owned(),
                permissions,
                events: vec!["push".to_owned()],
            }],
            installations: vec![GitHubInstallation {
                id: Self::INSTALLATION_ID,
                app_id: Self::APP_ID,
                account: "acme".to_owned(),
                target_type: "Organization".to_owned(),
                repositories: vec![Self::REPOSITORY.to_owned()],
                suspended_at: None,
                permissions: None,
            }],
            hooks: Vec::new(),
            workflow_runs: vec![
                GitHubWorkflowRun::new(Self::FIRST_RUN_ID, Self::REPOSITORY)
                    .state("completed", Some("failure"))
                    .created_at("2026-01-01T10:00:00Z"),
                GitHubWorkflowRun::new(Self::LATEST_RUN_ID, Self::REPOSITORY)
                    .created_at("2026-01-02T10:00:00Z"),
            ],
        }
    }

    /// The API root: the server URL, plus `/api/v3` in the GHES shape.
    pub fn api_url(&self) -> String {
        if self.shared.enterprise {
            format!("{}/api/v3", self.url())
        } else {
            self.url()
        }
    }

    /// Sets the core rate limit of installation-token calls: `remaining` calls until `reset`
    /// (Unix seconds).
    pub fn set_rate_limit(&self, remaining: u64, reset: i64) {
        let mut state = self.shared.lock();
        state.rate.remaining = remaining;
        state.rate.reset = reset;
    }

    /// Sets the rate limit of App JWT calls, counted apart from installation-token calls.
    pub fn set_app_rate_limit(&self, remaining: u64, reset: i64) {
        let mut state = self.shared.lock();
        state.app_rate.remaining = remaining;
        state.app_rate.reset = reset;
    }

    /// Adds a repository hook.
    pub fn add_hook(&self, hook: GitHubRepoHook) {
        self.shared.lock().seed.hooks.push(hook);
    }

    /// Suspends or resumes an installation.
    pub fn set_suspended(&self, installation_id: u64, suspended: bool) {
        let mut state = self.shared.lock();
        if let Some(i) = state
            .seed
            .installations
            .iter_mut()
            .find(|i| i.id == installation_id)
        {
            i.suspended_at = suspended.then(|| "2026-01-01T00:00:00Z".to_owned());
        }
    }

    /// Sets (`Some(level)`) or withdraws (`None`) one permission the installation grants, as
    /// its owner does when accepting or refusing the App's permissions. Tokens minted before
    /// keep what they had.
    pub fn set_installation_permission(
        &self,
        installation_id: u64,
        permission: &str,
        level: Option<&str>,
    ) {
        let mut state = self.shared.lock();
        let app_permissions = |app_id: u64, state: &StateInner| {
            state
                .seed
                .apps
                .iter()
                .find(|a| a.id == app_id)
                .map(|a| a.permissions.clone())
                .unwrap_or_default()
        };
        let Some(index) = state
            .seed
            .installations
            .iter()
            .position(|i| i.id == installation_id)
        else {
            return;
        };
        let app_id = state.seed.installations[index].app_id;
        let mut now_granted = state.seed.installations[index]
            .permissions
            .clone()
            .unwrap_or_else(|| app_permissions(app_id, &state));
        match level {
            Some(level) => {
                now_granted.insert(permission.to_owned(), json!(level));
            }
            None => {
                now_granted.remove(permission);
            }
        }
        state.seed.installations[index].permissions = Some(now_granted);
    }

    /// Adds a workflow run.
    pub fn add_workflow_run(&self, run: GitHubWorkflowRun) {
        self.shared.lock().seed.workflow_runs.push(run);
    }

    /// Installation tokens issued so far.
    pub fn issued_tokens(&self) -> usize {
        self.shared.lock().tokens.len()
    }

    /// Ping deliveries made so far.
    pub fn deliveries(&self) -> Vec<GitHubDelivery> {
        self.shared.lock().deliveries.clone()
    }
}

type S = State<Arc<Shared>>;

fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/app", get(get_app))
        .route("/app/installations", get(list_installations))
        .route("/app/installations/{id}", get(get_installation))
        .route("/app/installations/{id}/access_tokens", post(create_token))
        .route("/repos/{owner}/{repo}/installation", get(repo_installation))
        .route("/rate_limit", get(rate_limit))
        .route(
            "/repos/{owner}/{repo}/actions/runs",
            get(list_workflow_runs),
        )
        .route(
            "/repos/{owner}/{repo}/hooks/{hook_id}/pings",
            post(ping_hook),
        );
    let root = if shared.enterprise {
        Router::new().nest("/api/v3", api)
    } else {
        api
    };
    root.fallback(
        |method: Method, uri: Uri| async move { unexpected("fake GitHub", &method, &uri) },
    )
    .layer(axum::middleware::from_fn_with_state(
        shared.clone(),
        common_headers,
    ))
    .with_state(shared)
}

fn message(status: StatusCode, text: &str) -> Response {
    json(status, json!({"message": text, "documentation_url": DOCS}))
}

/// `User-Agent` required; rate limit counted (except `/rate_limit`) and advertised.
async fn common_headers(
    State(s): S,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let counted = !req.uri().path().ends_with("/rate_limit");
    // An App JWT (three dot-separated parts) is counted in the App's bucket.
    let app = bearer(req.headers()).is_some_and(|t| t.split('.').count() == 3);
    let mut response = if !req.headers().contains_key("user-agent") {
        message(
            StatusCode::FORBIDDEN,
            "Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required).",
        )
    } else {
        let exhausted = {
            let mut state = s.lock();
            let rate = if app {
                &mut state.app_rate
            } else {
                &mut state.rate
            };
            if counted && rate.remaining == 0 {
                true
            } else {
                if counted {
                    rate.remaining -= 1;
                }
                false
            }
        };
        if exhausted {
            message(
                StatusCode::FORBIDDEN,
                "API rate limit exceeded for installation ID 77.",
            )
        } else {
            next.run(req).await
        }
    };
    let (limit, remaining, reset) = {
        let state = s.lock();
        let rate = if app { &state.app_rate } else { &state.rate };
        (rate.limit, rate.remaining, rate.reset)
    };
    let h = response.headers_mut();
    for (name, value) in [
        ("x-ratelimit-limit", limit.to_string()),
        ("x-ratelimit-remaining", remaining.to_string()),
        (
            "x-ratelimit-used",
            (limit - remaining.min(limit)).to_string(),
        ),
        ("x-ratelimit-reset", reset.to_string()),
        ("x-ratelimit-resource", "core".to_owned()),
        ("x-github-api-version-selected", "2022-11-28".to_owned()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    if s.enterprise {
        h.insert(
            "x-github-enterprise-version",
            HeaderValue::from_static(FakeGitHub::ENTERPRISE_VERSION),
        );
    }
    response
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
}

/// An installation or user token as GitHub reads it: `Authorization: Bearer <t>` or the older
/// `Authorization: token <t>` that GitHub and its client libraries still send. (An App JWT
/// must come as `Bearer`.)
fn access_token(headers: &HeaderMap) -> Option<&str> {
    bearer(headers).or_else(|| {
        headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("token "))
    })
}

/// The App a JWT authenticates, or GitHub's 401.
#[allow(clippy::result_large_err)] // the error is the early answer
fn verify_jwt(s: &Shared, headers: &HeaderMap) -> Result<GitHubApp, Response> {
    const UNDECODABLE: &str = "A JSON web token could not be decoded";
    let unauthorized = |text: &str| message(StatusCode::UNAUTHORIZED, text);
    let Some(token) = bearer(headers) else {
        return Err(unauthorized("Requires authentication"));
    };
    let header = jsonwebtoken::decode_header(token).map_err(|_| unauthorized(UNDECODABLE))?;
    if header.alg != jsonwebtoken::Algorithm::RS256 {
        return Err(unauthorized(UNDECODABLE));
    }
    let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(token)
        .map_err(|_| unauthorized(UNDECODABLE))?;
    let app = {
        let state = s.lock();
        state
            .seed
            .apps
            .iter()
            .find(|a| match &claims["iss"] {
                Value::Number(n) => n.as_u64() == Some(a.id),
                Value::String(v) => *v == a.client_id || *v == a.id.to_string(),
                _ => false,
            })
            .cloned()
    };
    let app = app.ok_or_else(|| unauthorized(UNDECODABLE))?;
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(app.public_key_pem.as_bytes())
        .map_err(|_| unauthorized(UNDECODABLE))?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map_err(|_| unauthorized(UNDECODABLE))?;
    let now = s.clock.now().unix_timestamp();
    let Some(iat) = claims["iat"].as_i64() else {
        return Err(unauthorized(
            "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued",
        ));
    };
    if iat > now + 60 {
        return Err(unauthorized(
            "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued",
        ));
    }
    let exp = claims["exp"].as_i64().filter(|exp| *exp > now);
    let Some(exp) = exp else {
        return Err(unauthorized(
            "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires",
        ));
    };
    if exp - now > 600 {
        return Err(unauthorized(
            "'Expiration time' claim ('exp') is too far in the future",
        ));
    }
    Ok(app)
}

fn app_json(app: &GitHubApp, installations: usize) -> Value {
    json!({
        "id": app.id, "slug": app.slug, "client_id": app.client_id, "node_id": format!("A_{}", app.id),
        "owner": {"login": app.owner, "id": 1, "type": "Organization"},
        "name": if app.name.is_empty() { &app.slug } else { &app.name },
        "description": "", "external_url": "https://example.test", "html_url": format!("https://github.test/apps/{}", app.slug),
        "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-01T00:00:00Z",
        "permissions": app.permissions, "events": app.events, "installations_count": installations,
    })
}

async fn get_app(State(s): S, headers: HeaderMap) -> Response {
    match verify_jwt(&s, &headers) {
        Ok(app) => {
            let count = s
                .lock()
                .seed
                .installations
                .iter()
                .filter(|i| i.app_id == app.id)
                .count();
            json(StatusCode::OK, app_json(&app, count))
        }
        Err(r) => r,
    }
}

/// What `installation` grants: its own permissions, else all its App asks for.
fn granted(installation: &GitHubInstallation, app: &GitHubApp) -> serde_json::Map<String, Value> {
    installation
        .permissions
        .clone()
        .unwrap_or_else(|| app.permissions.clone())
}

fn installation_json(
    api_url: &str,
    i: &GitHubInstallation,
    permissions: &serde_json::Map<String, Value>,
) -> Value {
    json!({
        "id": i.id, "app_id": i.app_id,
        "account": {"login": i.account, "id": 1, "type": i.target_type},
        "target_type": i.target_type, "repository_selection": "selected",
        "permissions": permissions, "events": ["push"], "suspended_at": i.suspended_at,
        "access_tokens_url": format!("{api_url}/app/installations/{}/access_tokens", i.id),
    })
}

async fn list_installations(State(s): S, headers: HeaderMap) -> Response {
    match verify_jwt(&s, &headers) {
        Ok(app) => {
            let state = s.lock();
            let list: Vec<Value> = state
                .seed
                .installations
                .iter()
                .filter(|i| i.app_id == app.id)
                .map(|i| installation_json(&s.api_url, i, &granted(i, &app)))
                .collect();
            json(StatusCode::OK, Value::Array(list))
        }
        Err(r) => r,
    }
}

/// The App's (JWT) installation that `matches`, with an absolute `access_tokens_url`, or 404.
fn app_installation(
    s: &Shared,
    headers: &HeaderMap,
    matches: impl Fn(&GitHubInstallation) -> bool,
) -> Response {
    let app = match verify_jwt(s, headers) {
        Ok(app) => app,
        Err(r) => return r,
    };
    let state = s.lock();
    state
        .seed
        .installations
        .iter()
        .find(|i| i.app_id == app.id && matches(i))
        .map_or_else(
            || message(StatusCode::NOT_FOUND, "Not Found"),
            |i| {
                json(
                    StatusCode::OK,
                    installation_json(&s.api_url, i, &granted(i, &app)),
                )
            },
        )
}

/// `GET /app/installations/:id` (JWT): one installation of the App, or 404.
async fn get_installation(State(s): S, headers: HeaderMap, Path(id): Path<String>) -> Response {
    app_installation(&s, &headers, |i| i.id.to_string() == id)
}

/// `GET /repos/:owner/:repo/installation` (JWT): the App's installation covering the
/// repository, or 404.
async fn repo_installation(
    State(s): S,
    headers: HeaderMap,
    Path((owner, repo)): Path<(String, String)>,
) -> Response {
    let full = format!("{owner}/{repo}");
    app_installation(&s, &headers, |i| i.repositories.contains(&full))
}

async fn create_token(State(s): S, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let app = match verify_jwt(&s, &headers) {
        Ok(app) => app,
        Err(r) => return r,
    };
    let now = s.clock.now();
    let mut state = s.lock();
    let Some(installation) = state
        .seed
        .installations
        .iter()
        .find(|i| i.id.to_string() == id && i.app_id == app.id)
        .cloned()
    else {
        return message(StatusCode::NOT_FOUND, "Not Found");
    };
    if installation.suspended_at.is_some() {
        return message(
            StatusCode::FORBIDDEN,
            "This installation has been suspended",
        );
    }
    let token = format!("ghs_{}", uuid::Uuid::new_v4().simple());
    let expires_at = now + time::Duration::hours(1);
    let permissions = granted(&installation, &app);
    state.tokens.push(IssuedToken {
        token: token.clone(),
        installation_id: installation.id,
        expires_at,
        permissions: permissions.clone(),
    });
    let expires = expires_at
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    json(
        StatusCode::CREATED,
        json!({
            "token": token, "expires_at": expires, "permissions": permissions,
            "repository_selection": "selected",
        }),
    )
}

async fn rate_limit(State(s): S, headers: HeaderMap) -> Response {
    let now = s.clock.now();
    let state = s.lock();
    // GitHub answers anonymous callers with the unauthenticated limit (60 an hour) and any
    // credential it cannot verify with 401.
    if headers.get("authorization").is_some() {
        let known = access_token(&headers)
            .and_then(|t| state.tokens.iter().find(|i| i.token == t))
            .is_some_and(|t| t.expires_at > now);
        if !known {
            return message(StatusCode::UNAUTHORIZED, "Bad credentials");
        }
    } else {
        let anonymous = json!({"limit": 60, "used": 0, "remaining": 60, "reset": state.rate.reset});
        return json(
            StatusCode::OK,
            json!({"resources": {"core": anonymous, "search": anonymous}, "rate": anonymous}),
        );
    }
    let r = &state.rate;
    let core = json!({"limit": r.limit, "used": r.limit - r.remaining.min(r.limit), "remaining": r.remaining, "reset": r.reset});
    let other = json!({"limit": 30, "used": 0, "remaining": 30, "reset": r.reset});
    json(
        StatusCode::OK,
        json!({"resources": {"core": core, "search": other, "graphql": core}, "rate": core}),
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn ping_hook(
    State(s): S,
    headers: HeaderMap,
    Path((owner, repo, hook_id)): Path<(String, String, String)>,
) -> Response {
    let full = format!("{owner}/{repo}");
    let now = s.clock.now();
    let found = {
        let state = s.lock();
        let Some(token) = access_token(&headers)
            .and_then(|t| state.tokens.iter().find(|i| i.token == t))
            .filter(|t| t.expires_at > now)
            .cloned()
        else {
            return message(StatusCode::UNAUTHORIZED, "Bad credentials");
        };
        let covered = state
            .seed
            .installations
            .iter()
            .any(|i| i.id == token.installation_id && i.repositories.contains(&full));
        let hook = state
            .seed
            .hooks
            .iter()
            .find(|h| h.repository == full && h.id.to_string() == hook_id)
            .cloned();
        hook.filter(|_| covered)
    };
    let Some(hook) = found else {
        return message(StatusCode::NOT_FOUND, "Not Found");
    };
    let guid = uuid::Uuid::new_v4().to_string();
    let body = json!({
        "zen": "Keep it logically awesome.",
        "hook_id": hook.id,
        "hook": {
            "type": "Repository", "id": hook.id, "name": "web", "active": true, "events": hook.events,
            "config": {"content_type": "json", "insecure_ssl": "0", "url": hook.url},
            "updated_at": "2025-01-01T00:00:00Z", "created_at": "2025-01-01T00:00:00Z",
            "url": format!("/repos/{full}/hooks/{}", hook.id),
            "test_url": format!("/repos/{full}/hooks/{}/test", hook.id),
            "ping_url": format!("/repos/{full}/hooks/{}/pings", hook.id),
            "deliveries_url": format!("/repos/{full}/hooks/{}/deliveries", hook.id),
            "last_response": {"code": null, "status": "unused", "message": null},
        },
        "repository": {"id": 1001, "name": repo, "full_name": full, "private": true},
        "sender": {"login": "pathops-test[bot]", "type": "Bot"},
    })
    .to_string();
    let mut request = s
        .client
        .post(&hook.url)
        .header("content-type", "application/json")
        .header("user-agent", "GitHub-Hookshot/fake")
        .header("x-github-event", "ping")
        .header("x-github-delivery", &guid)
        .header("x-github-hook-id", hook.id.to_string())
        .header("x-github-hook-installation-target-type", "repository")
        .header("x-github-hook-installation-target-id", "1001");
    if let Some(secret) = &hook.secret {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
        mac.update(body.as_bytes());
        request = request.header(
            "x-hub-signature-256",
            format!("sha256={}", hex(&mac.finalize().into_bytes())),
        );
    }
    if s.enterprise {
        request = request
            .header(
                "x-github-enterprise-version",
                FakeGitHub::ENTERPRISE_VERSION,
            )
            .header("x-github-enterprise-host", "github.fake.test");
    }
    let outcome = request.body(body).send().await;
    let (status, error) = match outcome {
        Ok(r) => (Some(r.status().as_u16()), None),
        Err(e) => (None, Some(e.without_url().to_string())),
    };
    s.lock().deliveries.push(GitHubDelivery {
        guid,
        hook_id: hook.id,
        event: "ping".to_owned(),
        status,
        error,
    });
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /repos/:owner/:repo/actions/runs` with an installation token: 401 for an unknown or
/// expired token, 404 when the installation does not cover the repository (GitHub hides
/// repositories an App cannot see), 403 when the token lacks the Actions permission; else one
/// page of the runs, newest first, with GitHub's `Link` header.
async fn list_workflow_runs(
    State(s): S,
    headers: HeaderMap,
    Path((owner, repo)): Path<(String, String)>,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    const DOC: &str =
        "https://docs.github.com/rest/actions/workflow-runs#list-workflow-runs-for-a-repository";
    let full = format!("{owner}/{repo}");
    let now = s.clock.now();
    let state = s.lock();
    let Some(token) = access_token(&headers)
        .and_then(|t| state.tokens.iter().find(|i| i.token == t))
        .filter(|t| t.expires_at > now)
        .cloned()
    else {
        return message(StatusCode::UNAUTHORIZED, "Bad credentials");
    };
    let covered = state
        .seed
        .installations
        .iter()
        .any(|i| i.id == token.installation_id && i.repositories.contains(&full));
    if !covered {
        return json(
            StatusCode::NOT_FOUND,
            json!({"message": "Not Found", "documentation_url": DOC, "status": "404"}),
        );
    }
    if !matches!(
        token.permissions.get("actions").and_then(Value::as_str),
        Some("read" | "write")
    ) {
        let mut refused = json(
            StatusCode::FORBIDDEN,
            json!({"message": "Resource not accessible by integration", "documentation_url": DOC, "status": "403"}),
        );
        refused.headers_mut().insert(
            "x-accepted-github-permissions",
            HeaderValue::from_static("actions=read"),
        );
        return refused;
    }
    let mut runs: Vec<&GitHubWorkflowRun> = state
        .seed
        .workflow_runs
        .iter()
        .filter(|r| r.repository == full)
        .collect();
    runs.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    let per_page = query
        .get("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(30)
        .clamp(1, 100);
    let page = query
        .get("page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let total = runs.len();
    let pages = total.div_ceil(per_page).max(1);
    let page_runs: Vec<Value> = runs
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|r| {
            json!({
                "id": r.id, "name": r.name, "node_id": format!("WFR_{}", r.id),
                "head_branch": r.head_branch, "head_sha": format!("{:040x}", r.id),
                "path": ".github/workflows/ci.yml", "display_title": r.name,
                "run_number": r.run_number, "event": r.event, "status": r.status,
                "conclusion": r.conclusion, "workflow_id": 1,
                "url": format!("{}/repos/{full}/actions/runs/{}", s.api_url, r.id),
                "html_url": format!("https://github.test/{full}/actions/runs/{}", r.id),
                "created_at": r.created_at, "updated_at": r.created_at,
                "run_attempt": 1, "run_started_at": r.created_at,
                "repository": {"full_name": full, "name": repo, "private": true},
            })
        })
        .collect();
    let mut response = json(
        StatusCode::OK,
        json!({"total_count": total, "workflow_runs": page_runs}),
    );
    // GitHub's Link header: next and last while there are more pages, first and prev after
    // the first; the other query parameters are kept.
    let mut kept: Vec<(&String, &String)> = query
        .iter()
        .filter(|(k, _)| k.as_str() != "page" && k.as_str() != "per_page")
        .collect();
    kept.sort();
    let link = |p: usize, rel: &str| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &kept {
            q.append_pair(k, v);
        }
        q.append_pair("per_page", &per_page.to_string());
        q.append_pair("page", &p.to_string());
        format!(
            "<{}/repos/{full}/actions/runs?{}>; rel=\"{rel}\"",
            s.api_url,
            q.finish()
        )
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(link(page - 1, "prev"));
    }
    if page < pages {
        links.push(link(page + 1, "next"));
        links.push(link(pages, "last"));
    }
    if page > 1 {
        links.push(link(1, "first"));
    }
    if !links.is_empty()
        && let Ok(v) = HeaderValue::from_str(&links.join(", "))
    {
        response.headers_mut().insert("link", v);
    }
    response
}
