//! [`FakeBitbucketDc`]: the Bitbucket Data Center REST surface PathOps uses, under
//! `/rest/api/1.0` (and `/rest/api/latest`, the same resources).
//!
//! | call | behaviour |
//! |---|---|
//! | `GET /application-properties` | `{version, buildNumber, buildDate, displayName}`; anonymous allowed; a refused credential is 401 |
//! | `GET /projects/{key}/repos/{slug}` | `REPO_READ`; 404 `NoSuchProjectException` / `NoSuchRepositoryException`; **401** `AuthorisationException` for a caller (or anonymous) without the permission |
//! | `GET /projects/{key}/repos/{slug}/webhooks[/{id}]` | `REPO_ADMIN`; a paged list (`size`, `limit`, `isLastPage`, `start`, `values`) or one webhook (`id`, `name`, `createdDate`, `updatedDate`, `events`, `configuration`, `url`, `active`, `sslVerificationRequired`; the secret never shown); 404 `NoSuchWebhookException` |
//! | `POST /projects/{key}/repos/{slug}/webhooks/test?url=…[&webhookId=…][&sslVerificationRequired=…]` | `REPO_ADMIN`; 400 without `url`; 404 for an unknown `webhookId`; sends the `diagnostics:ping` **synchronously** to `url` and answers 200 with the invocation: `result.outcome` `SUCCESS` (2xx), `FAILURE` (another status, in `response.statusCode`) or `ERROR` (no answer; the error in `result.description`) |
//!
//! The ping: `POST` with `Content-Type: application/json; charset=utf-8`, `X-Event-Key:
//! diagnostics:ping`, `X-Request-Id` (a UUID), body `{"test": true}`, and with `webhookId`
//! the stored hook's secret as `X-Hub-Signature: sha256=<hex HMAC-SHA256>` (none without a
//! secret or without `webhookId`). Every ping is recorded ([`FakeBitbucketDc::invocations`]).
//!
//! Authentication: `Authorization: Bearer <HTTP access token>`, or Basic with a user's
//! password or a token as the password. An unknown credential is 401
//! `IncorrectPasswordAuthenticationException` ("Authentication failed. Please check your
//! credentials and try again."). A token's permission caps its user's. Authenticated answers
//! carry `X-AUSERNAME` and `X-AUSERID`. Calls it does not emulate get a 404 naming the call.
//!
//! Assumed where the reference marks Data Center's behaviour unverified: the test endpoint's
//! parameters and answer shape, that it signs only with `webhookId`, the ping's body, the
//! `X-AUSER*` headers, the exception names and messages, the `User-Agent`.

// Handlers return `Err(response)` to answer early (401, 403, 404), as in the other fakes.
#![allow(clippy::result_large_err)]

use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;

use super::FakeServer;
use super::server::{json, unexpected};

/// A repository permission, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BitbucketPermission {
    /// `REPO_READ`.
    RepoRead,
    /// `REPO_WRITE`.
    RepoWrite,
    /// `REPO_ADMIN`.
    RepoAdmin,
}

/// A user.
#[derive(Debug, Clone, Deserialize)]
pub struct BitbucketUser {
    /// Numeric id (`X-AUSERID`).
    pub id: u64,
    /// User name (`X-AUSERNAME`).
    pub name: String,
    /// Password for Basic, if any.
    #[serde(default)]
    pub password: Option<String>,
}

/// An HTTP access token.
#[derive(Debug, Clone, Deserialize)]
pub struct BitbucketToken {
    /// The token's value.
    pub token: String,
    /// Whose it is.
    pub user: String,
    /// The permission the token was created with; caps its user's.
    pub permission: BitbucketPermission,
}

/// A repository webhook.
#[derive(Debug, Clone, Deserialize)]
pub struct BitbucketHook {
    /// Id.
    pub id: u64,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Target URL.
    pub url: String,
    /// Whether Bitbucket sends it events.
    #[serde(default = "yes")]
    pub active: bool,
    /// Subscribed event keys.
    #[serde(default)]
    pub events: Vec<String>,
    /// The signing secret, if any.
    #[serde(default)]
    pub secret: Option<String>,
}

fn yes() -> bool {
    true
}

impl BitbucketHook {
    /// An active hook to `url` subscribed to `repo:refs_changed`, without a secret.
    pub fn new(id: u64, url: &str) -> Self {
        Self {
            id,
            name: format!("hook-{id}"),
            url: url.to_owned(),
            active: true,
            events: vec!["repo:refs_changed".to_owned()],
            secret: None,
        }
    }

    /// With a signing secret.
    pub fn secret(mut self, secret: &str) -> Self {
        self.secret = Some(secret.to_owned());
        self
    }

    /// Inactive.
    pub fn inactive(mut self) -> Self {
        self.active = false;
        self
    }
}

/// A repository.
#[derive(Debug, Clone, Deserialize)]
pub struct BitbucketRepo {
    /// Numeric id.
    pub id: u64,
    /// The project's key.
    pub project: String,
    /// The slug.
    pub slug: String,
    /// Readable by anyone, anonymous included.
    #[serde(default)]
    pub public: bool,
    /// Users' permissions.
    #[serde(default)]
    pub permissions: Vec<(String, BitbucketPermission)>,
    /// Webhooks.
    #[serde(default)]
    pub hooks: Vec<BitbucketHook>,
}

/// What a fake starts with.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BitbucketDcSeed {
    /// The version `application-properties` reports (default [`FakeBitbucketDc::VERSION`]).
    #[serde(default)]
    pub version: Option<String>,
    /// Users.
    #[serde(default)]
    pub users: Vec<BitbucketUser>,
    /// HTTP access tokens.
    #[serde(default)]
    pub tokens: Vec<BitbucketToken>,
    /// Repositories.
    #[serde(default)]
    pub repos: Vec<BitbucketRepo>,
}

/// One test ping the fake sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BitbucketInvocation {
    /// The `webhookId` asked for.
    pub hook_id: Option<u64>,
    /// Where it went.
    pub url: String,
    /// `SUCCESS`, `FAILURE` or `ERROR`.
    pub outcome: String,
    /// What the receiver answered, if it did.
    pub status: Option<u16>,
    /// Whether it carried `X-Hub-Signature`.
    pub signed: bool,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<BitbucketDcSeed>,
    invocations: Mutex<Vec<BitbucketInvocation>>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, BitbucketDcSeed> {
        self.state.lock().expect("fake bitbucket state lock")
    }
}

/// A fake Bitbucket Data Center; see the [module docs](self). Dereferences to its
/// [`FakeServer`] for the URL, the request log and fault injection.
#[derive(Debug)]
pub struct FakeBitbucketDc {
    server: FakeServer,
    shared: Arc<Shared>,
}

impl Deref for FakeBitbucketDc {
    type Target = FakeServer;
    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

impl FakeBitbucketDc {
    /// The version reported unless the seed says otherwise.
    pub const VERSION: &'static str = "8.19.1";
    /// [`start_with_defaults`](Self::start_with_defaults): the project's key.
    pub const PROJECT: &'static str = "ACME";
    /// [`start_with_defaults`](Self::start_with_defaults): the repository's slug.
    pub const SLUG: &'static str = "platform";
    /// [`start_with_defaults`](Self::start_with_defaults): the repository's id.
    pub const REPO_ID: u64 = 42;
    /// [`start_with_defaults`](Self::start_with_defaults): the repository administrator.
    pub const ADMIN: &'static str = "pathops-hooks";
    /// [`start_with_defaults`](Self::start_with_defaults): the administrator's token
    /// (`REPO_ADMIN`).
    pub const ADMIN_TOKEN: &'static str = "BBDC-fake-admin-000000000000000000000000";
    /// [`start_with_defaults`](Self::start_with_defaults): the administrator's token created
    /// with `REPO_READ` only.
    pub const READ_TOKEN: &'static str = "BBDC-fake-read-0000000000000000000000000";
    /// [`start_with_defaults`](Self::start_with_defaults): a user without any permission on
    /// the repository, and its token.
    pub const OUTSIDER_TOKEN: &'static str = "BBDC-fake-outsider-000000000000000000000";

    /// A fake with the private repository [`PROJECT`](Self::PROJECT)/[`SLUG`](Self::SLUG),
    /// its administrator [`ADMIN`](Self::ADMIN) with [`ADMIN_TOKEN`](Self::ADMIN_TOKEN) and
    /// [`READ_TOKEN`](Self::READ_TOKEN), an outsider with
    /// [`OUTSIDER_TOKEN`](Self::OUTSIDER_TOKEN), and no hooks.
    pub async fn start_with_defaults() -> Self {
        Self::start_with(Self::default_seed()).await
    }

    /// The seed of [`start_with_defaults`](Self::start_with_defaults).
    pub fn default_seed() -> BitbucketDcSeed {
        use BitbucketPermission::*;
        BitbucketDcSeed {
            version: None,
            users: vec![
                BitbucketUser {
                    id: 2,
                    name: Self::ADMIN.to_owned(),
                    password: None,
                },
                BitbucketUser {
                    id: 3,
                    name: "outsider".to_owned(),
                    password: None,
                },
            ],
            tokens: vec![
                BitbucketToken {
                    token: Self::ADMIN_TOKEN.to_owned(),
                    user: Self::ADMIN.to_owned(),
                    permission: RepoAdmin,
                },
                BitbucketToken {
                    token: Self::READ_TOKEN.to_owned(),
                    user: Self::ADMIN.to_owned(),
                    permission: RepoRead,
                },
                BitbucketToken {
                    token: Self::OUTSIDER_TOKEN.to_owned(),
                    user: "outsider".to_owned(),
                    permission: RepoAdmin,
                },
            ],
            repos: vec![BitbucketRepo {
                id: Self::REPO_ID,
                project: Self::PROJECT.to_owned(),
                slug: Self::SLUG.to_owned(),
                public: false,
                permissions: vec![(Self::ADMIN.to_owned(), RepoAdmin)],
                hooks: Vec::new(),
            }],
        }
    }

    /// A fake seeded with `seed` on `127.0.0.1:0`.
    pub async fn start_with(seed: BitbucketDcSeed) -> Self {
        Self::start_on("127.0.0.1:0".parse().expect("a socket address"), seed)
            .await
            .expect("bind 127.0.0.1:0")
    }

    /// A fake seeded with `seed` on `listen`.
    pub async fn start_on(
        listen: std::net::SocketAddr,
        seed: BitbucketDcSeed,
    ) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let shared = Arc::new(Shared {
            state: Mutex::new(seed),
            invocations: Mutex::new(Vec::new()),
        });
        let server = FakeServer::serve(listener, router(shared.clone()));
        Ok(Self { server, shared })
    }

    /// The REST root, `<url>/rest/api/1.0`.
    pub fn api_url(&self) -> String {
        format!("{}/rest/api/1.0", self.url())
    }

    /// Adds a webhook to a repository.
    pub fn add_hook(&self, project: &str, slug: &str, hook: BitbucketHook) {
        if let Some(repo) = self
            .shared
            .state()
            .repos
            .iter_mut()
            .find(|r| r.project == project && r.slug == slug)
        {
            repo.hooks.push(hook);
        }
    }

    /// Adds a repository.
    pub fn add_repo(&self, repo: BitbucketRepo) {
        self.shared.state().repos.push(repo);
    }

    /// Adds a token.
    pub fn add_token(&self, token: BitbucketToken) {
        self.shared.state().tokens.push(token);
    }

    /// Every test ping sent so far, oldest first.
    pub fn invocations(&self) -> Vec<BitbucketInvocation> {
        self.shared
            .invocations
            .lock()
            .expect("fake bitbucket invocations lock")
            .clone()
    }
}

type S = State<Arc<Shared>>;

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/rest/api/{api}/application-properties",
            get(application_properties),
        )
        .route(
            "/rest/api/{api}/projects/{key}/repos/{slug}",
            get(repository),
        )
        .route(
            "/rest/api/{api}/projects/{key}/repos/{slug}/webhooks",
            get(list_hooks),
        )
        .route(
            "/rest/api/{api}/projects/{key}/repos/{slug}/webhooks/test",
            post(test_hook),
        )
        .route(
            "/rest/api/{api}/projects/{key}/repos/{slug}/webhooks/{id}",
            get(one_hook),
        )
        .fallback(|method: Method, uri: Uri| async move {
            unexpected("fake Bitbucket Data Center", &method, &uri)
        })
        .with_state(shared)
}

fn error(status: StatusCode, exception: &str, message: &str) -> Response {
    json(
        status,
        json!({"errors": [{"context": null, "message": message, "exceptionName": exception}]}),
    )
}

fn refused() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "com.atlassian.bitbucket.auth.IncorrectPasswordAuthenticationException",
        "Authentication failed. Please check your credentials and try again.",
    )
}

fn not_permitted() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "com.atlassian.bitbucket.AuthorisationException",
        "You are not permitted to access this resource",
    )
}

/// The caller: `None` for anonymous; `Some((user, cap))` with the token's permission cap.
type Caller = Option<(BitbucketUser, BitbucketPermission)>;

fn caller(state: &BitbucketDcSeed, headers: &HeaderMap) -> Result<Caller, Response> {
    let Some(value) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let user_named = |name: &str| state.users.iter().find(|u| u.name == name).cloned();
    let by_token = |token: &str| {
        state
            .tokens
            .iter()
            .find(|t| t.token == token)
            .and_then(|t| Some((user_named(&t.user)?, t.permission)))
    };
    let found = if let Some(token) = value.strip_prefix("Bearer ") {
        by_token(token.trim())
    } else if let Some(encoded) = value.strip_prefix("Basic ") {
        base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|raw| String::from_utf8(raw).ok())
            .and_then(|pair| {
                let (name, password) = pair.split_once(':')?;
                match user_named(name) {
                    Some(u) if u.password.as_deref() == Some(password) => {
                        Some((u, BitbucketPermission::RepoAdmin))
                    }
                    _ => by_token(password).filter(|(u, _)| u.name == name),
                }
            })
    } else {
        None
    };
    found.map(Some).ok_or_else(refused)
}

fn with_caller(mut response: Response, caller: &Caller) -> Response {
    if let Some((user, _)) = caller {
        for (name, value) in [
            ("x-ausername", user.name.clone()),
            ("x-auserid", user.id.to_string()),
        ] {
            if let Ok(v) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, v);
            }
        }
    }
    response
}

fn api_known(api: &str) -> bool {
    api == "1.0" || api == "latest"
}

/// The repository, once the caller's effective permission reaches `needed`.
fn authorize(
    state: &BitbucketDcSeed,
    caller: &Caller,
    key: &str,
    slug: &str,
    needed: BitbucketPermission,
) -> Result<BitbucketRepo, Response> {
    if !state.repos.iter().any(|r| r.project == key) {
        return Err(error(
            StatusCode::NOT_FOUND,
            "com.atlassian.bitbucket.project.NoSuchProjectException",
            &format!("Project {key} does not exist."),
        ));
    }
    let Some(repo) = state
        .repos
        .iter()
        .find(|r| r.project == key && r.slug == slug)
    else {
        return Err(error(
            StatusCode::NOT_FOUND,
            "com.atlassian.bitbucket.repository.NoSuchRepositoryException",
            &format!("Repository {slug} does not exist."),
        ));
    };
    let granted = match caller {
        None => repo.public.then_some(BitbucketPermission::RepoRead),
        Some((user, cap)) => repo
            .permissions
            .iter()
            .find(|(name, _)| *name == user.name)
            .map(|(_, p)| (*p).min(*cap))
            .or_else(|| repo.public.then_some(BitbucketPermission::RepoRead)),
    };
    if granted.is_some_and(|g| g >= needed) {
        Ok(repo.clone())
    } else {
        Err(not_permitted())
    }
}

async fn application_properties(
    State(s): S,
    Path(api): Path<String>,
    headers: HeaderMap,
) -> Response {
    let state = s.state();
    let caller = match caller(&state, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if !api_known(&api) {
        return error(StatusCode::NOT_FOUND, "", "No such API");
    }
    let version = state
        .version
        .clone()
        .unwrap_or_else(|| FakeBitbucketDc::VERSION.to_owned());
    let build: String = version
        .split('.')
        .map(|p| format!("{:0>3}", p))
        .collect::<String>()
        .trim_start_matches('0')
        .to_owned();
    with_caller(
        json(
            StatusCode::OK,
            json!({"version": version, "buildNumber": build, "buildDate": "1764979200000",
                   "displayName": "Bitbucket"}),
        ),
        &caller,
    )
}

fn repo_json(repo: &BitbucketRepo) -> Value {
    json!({
        "slug": repo.slug, "id": repo.id, "name": repo.slug, "hierarchyId": format!("{:020x}", repo.id),
        "scmId": "git", "state": "AVAILABLE", "statusMessage": "Available", "forkable": true,
        "project": {"key": repo.project, "id": 1, "name": repo.project, "public": false, "type": "NORMAL"},
        "public": repo.public, "archived": false,
    })
}

fn hook_json(hook: &BitbucketHook) -> Value {
    json!({
        "id": hook.id, "name": hook.name, "createdDate": 1764979200000u64,
        "updatedDate": 1764979200000u64, "events": hook.events,
        "configuration": {"createdBy": "pathops-fake"}, "url": hook.url, "active": hook.active,
        "sslVerificationRequired": true,
    })
}

async fn repository(
    State(s): S,
    Path((api, key, slug)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let state = s.state();
    let caller = match caller(&state, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if !api_known(&api) {
        return error(StatusCode::NOT_FOUND, "", "No such API");
    }
    let answer = match authorize(&state, &caller, &key, &slug, BitbucketPermission::RepoRead) {
        Ok(repo) => json(StatusCode::OK, repo_json(&repo)),
        Err(r) => r,
    };
    with_caller(answer, &caller)
}

async fn list_hooks(
    State(s): S,
    Path((api, key, slug)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let state = s.state();
    let caller = match caller(&state, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if !api_known(&api) {
        return error(StatusCode::NOT_FOUND, "", "No such API");
    }
    let answer = match authorize(&state, &caller, &key, &slug, BitbucketPermission::RepoAdmin) {
        Ok(repo) => {
            let values: Vec<Value> = repo.hooks.iter().map(hook_json).collect();
            json(
                StatusCode::OK,
                json!({"size": values.len(), "limit": 25, "isLastPage": true, "start": 0, "values": values}),
            )
        }
        Err(r) => r,
    };
    with_caller(answer, &caller)
}

fn no_such_hook(id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "com.atlassian.webhooks.NoSuchWebhookException",
        &format!("No webhook with id {id} exists."),
    )
}

async fn one_hook(
    State(s): S,
    Path((api, key, slug, id)): Path<(String, String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let state = s.state();
    let caller = match caller(&state, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if !api_known(&api) {
        return error(StatusCode::NOT_FOUND, "", "No such API");
    }
    let answer = match authorize(&state, &caller, &key, &slug, BitbucketPermission::RepoAdmin) {
        Ok(repo) => match repo.hooks.iter().find(|h| h.id.to_string() == id) {
            Some(hook) => json(StatusCode::OK, hook_json(hook)),
            None => no_such_hook(&id),
        },
        Err(r) => r,
    };
    with_caller(answer, &caller)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TestQuery {
    url: Option<String>,
    webhook_id: Option<String>,
    #[allow(dead_code)]
    ssl_verification_required: Option<String>,
}

async fn test_hook(
    State(s): S,
    Path((api, key, slug)): Path<(String, String, String)>,
    Query(query): Query<TestQuery>,
    headers: HeaderMap,
) -> Response {
    let (caller, repo, hook) = {
        let state = s.state();
        let caller = match caller(&state, &headers) {
            Ok(c) => c,
            Err(r) => return r,
        };
        if !api_known(&api) {
            return error(StatusCode::NOT_FOUND, "", "No such API");
        }
        let repo = match authorize(&state, &caller, &key, &slug, BitbucketPermission::RepoAdmin) {
            Ok(repo) => repo,
            Err(r) => return with_caller(r, &caller),
        };
        let hook = match &query.webhook_id {
            None => None,
            Some(id) => match repo.hooks.iter().find(|h| h.id.to_string() == *id) {
                Some(h) => Some(h.clone()),
                None => return with_caller(no_such_hook(id), &caller),
            },
        };
        (caller, repo, hook)
    };
    let Some(url) = query.url.filter(|u| url::Url::parse(u).is_ok()) else {
        return with_caller(
            error(
                StatusCode::BAD_REQUEST,
                "com.atlassian.bitbucket.validation.ArgumentValidationException",
                "A valid url is required to test a webhook.",
            ),
            &caller,
        );
    };
    let secret = hook.as_ref().and_then(|h| h.secret.clone());
    let started = std::time::SystemTime::now();
    let (outcome, status, description, body) = ping(&url, secret.as_deref()).await;
    let finished = std::time::SystemTime::now();
    let ms = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    };
    s.invocations
        .lock()
        .expect("fake bitbucket invocations lock")
        .push(BitbucketInvocation {
            hook_id: hook.as_ref().map(|h| h.id),
            url: url.clone(),
            outcome: outcome.to_owned(),
            status,
            signed: secret.is_some(),
        });
    let mut answer = json!({
        "id": ms(started), "event": "diagnostics:ping",
        "eventScope": {"type": "repository", "id": repo.id.to_string()},
        "start": ms(started), "finish": ms(finished),
        "duration": ms(finished).saturating_sub(ms(started)),
        "request": {"method": "POST", "url": url},
        "result": {"outcome": outcome, "description": description},
    });
    if let Some(status) = status {
        answer["response"] = json!({"statusCode": status, "body": body});
    }
    with_caller(json(StatusCode::OK, answer), &caller)
}

/// Sends the ping; `(outcome, status, description, receiver's body)`.
async fn ping(url: &str, secret: Option<&str>) -> (&'static str, Option<u16>, String, String) {
    let body = br#"{"test": true}"#.to_vec();
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
    {
        Ok(c) => c,
        Err(e) => return ("ERROR", None, e.to_string(), String::new()),
    };
    let mut request = client
        .post(url)
        .header("content-type", "application/json; charset=utf-8")
        .header("x-event-key", "diagnostics:ping")
        .header("x-request-id", uuid::Uuid::new_v4().to_string())
        .header(
            "user-agent",
            "Atlassian HttpClient 4.0.0 / Bitbucket-8.19.1 (8019001) / Default",
        );
    if let Some(secret) = secret {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
        mac.update(&body);
        let hex = const_hex::encode(mac.finalize().into_bytes());
        request = request.header("x-hub-signature", format!("sha256={hex}"));
    }
    match request.body(body).send().await {
        Ok(response) => {
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            let outcome = if status.is_success() {
                "SUCCESS"
            } else {
                "FAILURE"
            };
            (
                outcome,
                Some(status.as_u16()),
                format!(
                    "{} {}",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or("")
                )
                .trim()
                .to_owned(),
                text.chars().take(2000).collect(),
            )
        }
        Err(e) if e.is_timeout() => ("ERROR", None, "Read timed out".to_owned(), String::new()),
        Err(e) if e.is_connect() => (
            "ERROR",
            None,
            "Connect to the receiver failed: Connection refused".to_owned(),
            String::new(),
        ),
        Err(e) => ("ERROR", None, e.without_url().to_string(), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn permissions_cap_and_401_for_the_unpermitted() {
        let bb = FakeBitbucketDc::start_with_defaults().await;
        let client = reqwest::Client::new();
        let get = |path: &str, auth: Option<&str>| {
            let mut r = client.get(format!("{}{path}", bb.api_url()));
            if let Some(a) = auth {
                r = r.header("authorization", a);
            }
            r.send()
        };
        let repo = "/projects/ACME/repos/platform";
        let admin = format!("Bearer {}", FakeBitbucketDc::ADMIN_TOKEN);
        let read = format!("Bearer {}", FakeBitbucketDc::READ_TOKEN);
        let r = get(repo, Some(&admin)).await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-ausername"], FakeBitbucketDc::ADMIN);
        // A read token reads the repository but not its hooks: 401, not 403.
        assert_eq!(get(repo, Some(&read)).await.unwrap().status(), 200);
        let hooks = get(&format!("{repo}/webhooks"), Some(&read)).await.unwrap();
        assert_eq!(hooks.status(), 401);
        let body: Value = hooks.json().await.unwrap();
        assert_eq!(
            body["errors"][0]["exceptionName"],
            "com.atlassian.bitbucket.AuthorisationException"
        );
        // Anonymous on a private repository, and an unknown token.
        assert_eq!(get(repo, None).await.unwrap().status(), 401);
        let bad = get(repo, Some("Bearer nope")).await.unwrap();
        assert_eq!(bad.status(), 401);
        let body: Value = bad.json().await.unwrap();
        assert!(
            body["errors"][0]["exceptionName"]
                .as_str()
                .unwrap()
                .ends_with("IncorrectPasswordAuthenticationException")
        );
        assert_eq!(
            get("/projects/ACME/repos/nope", Some(&admin))
                .await
                .unwrap()
                .status(),
            404
        );
        // Anonymous liveness.
        let props: Value = get("/application-properties", None)
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(props["version"], FakeBitbucketDc::VERSION);
        assert_eq!(props["buildNumber"], "8019001");
        // Not emulated: a 404 naming the call.
        let other = get("/admin/users", Some(&admin)).await.unwrap();
        assert_eq!(other.status(), 404);
    }

    #[tokio::test]
    async fn the_test_endpoint_pings_synchronously_and_signs_with_the_hooks_secret() {
        let receiver = FakeServer::bind(
            "127.0.0.1:0".parse().unwrap(),
            Router::new().route(
                "/hook",
                post(|| async { (StatusCode::UNAUTHORIZED, "bad signature") }),
            ),
        )
        .await
        .unwrap();
        let bb = FakeBitbucketDc::start_with_defaults().await;
        let target = format!("{}/hook", receiver.url());
        bb.add_hook(
            "ACME",
            "platform",
            BitbucketHook::new(7, &target).secret("s3"),
        );
        let client = reqwest::Client::new();
        let test = |query: String| {
            client
                .post(format!(
                    "{}/rest/api/latest/projects/ACME/repos/platform/webhooks/test?{query}",
                    bb.url()
                ))
                .header(
                    "authorization",
                    format!("Bearer {}", FakeBitbucketDc::ADMIN_TOKEN),
                )
                .send()
        };
        let r = test(format!("webhookId=7&url={target}")).await.unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["result"]["outcome"], "FAILURE");
        assert_eq!(body["response"]["statusCode"], 401);
        let sent = receiver.requests_to("/hook");
        assert_eq!(sent.len(), 1, "delivered inside the call");
        assert_eq!(sent[0].header("x-event-key"), Some("diagnostics:ping"));
        assert_eq!(sent[0].body, br#"{"test": true}"#);
        // python3 -c 'import hmac, hashlib; print(hmac.new(b"s3", b"{\"test\": true}", hashlib.sha256).hexdigest())'
        assert_eq!(
            sent[0].header("x-hub-signature"),
            Some("sha256=f87793c2847f9d369af3f97407a4728967e8cef28dae4d5001d9a9d78eed5339")
        );
        // Without webhookId: unsigned. Unknown hook: 404. No URL: 400.
        let _ = test(format!("url={target}")).await.unwrap();
        assert_eq!(
            receiver.requests_to("/hook")[1].header("x-hub-signature"),
            None
        );
        assert_eq!(
            test(format!("webhookId=9&url={target}"))
                .await
                .unwrap()
                .status(),
            404
        );
        assert_eq!(test("webhookId=7".to_owned()).await.unwrap().status(), 400);
        // Nothing listening: ERROR with the reason.
        let port = super::super::refused_port();
        let body: Value = test(format!("url=http://127.0.0.1:{port}/hook"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["result"]["outcome"], "ERROR");
        assert!(body.get("response").is_none());
        assert_eq!(
            bb.invocations()
                .iter()
                .map(|i| (i.outcome.as_str(), i.signed))
                .collect::<Vec<_>>(),
            [("FAILURE", true), ("FAILURE", false), ("ERROR", false)]
        );
    }
}
