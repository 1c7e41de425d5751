//! [`FakeBitbucketCloud`]: the Bitbucket Cloud REST 2.0 surface PathOps uses, under `/2.0`,
//! and real event deliveries (Cloud has no webhook test endpoint, so a test makes one with
//! [`FakeBitbucketCloud::push`]).
//!
//! | call | behaviour |
//! |---|---|
//! | `GET /user` | the caller (`uuid`, `username`, `display_name`, `account_id`); scope `read:user:bitbucket` (API tokens) or `account` (app passwords); access tokens are not users: 403 |
//! | `GET /repositories/{workspace}/{slug}` | scope `read:repository:bitbucket` / `repository`; 404 `Repository … not found` for a repository that does not exist **or** the caller cannot read |
//! | `GET /repositories/{workspace}/{slug}/hooks[/{uid}]` | scope `read:webhook:bitbucket` / `webhook`, and repository admin; `{uuid, url, description, subject_type, active, events, secret_set, skip_cert_verification, created_at}` (the secret never shown); a paged list (`values`, `pagelen`, `size`, `page`); 404 for an unknown hook |
//!
//! Authentication: API tokens as Basic with the account's **e-mail**, app passwords as Basic
//! with the **user name** (refused with 401 once [`set_app_passwords_retired`](FakeBitbucketCloud::set_app_passwords_retired),
//! the default, as Bitbucket since 9 June 2026), access tokens as `Bearer`. A refused
//! credential is 401 with `WWW-Authenticate: Basic realm="Bitbucket.org HTTP"`. A missing
//! scope is 403 `{"type": "error", "error": {"message": "Your credentials lack one or more
//! required privilege scopes.", "detail": {"granted": […], "required": […]}}}`.
//!
//! Deliveries: `POST` with `Content-Type: application/json`, `User-Agent:
//! Bitbucket-Webhooks/2.0`, `X-Event-Key`, `X-Hook-UUID`, `X-Request-UUID`,
//! `X-Attempt-Number: 1`, and with a secret `X-Hub-Signature: sha256=<hex HMAC-SHA256>`;
//! recorded ([`FakeBitbucketCloud::deliveries`]) like the hook's "View requests".
//!
//! Assumed: the 403 for `/user` with an access token, the 404 for an unreadable repository,
//! the scope names' pairing, the hook fields beyond those of the REST reference.

// Handlers return `Err(response)` to answer early (401, 403, 404), as in the other fakes.
#![allow(clippy::result_large_err)]

use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;

use super::FakeServer;
use super::server::{json, unexpected};

/// How a credential is presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloudCredentialKind {
    /// Basic with the account's e-mail.
    ApiToken,
    /// Basic with the user name.
    AppPassword,
    /// Bearer, not a user.
    AccessToken,
}

/// A credential.
#[derive(Debug, Clone, Deserialize)]
pub struct CloudCredential {
    /// Its kind.
    pub kind: CloudCredentialKind,
    /// The secret.
    pub secret: String,
    /// The user it belongs to (its `username`), or the repository of an access token
    /// (`workspace/slug`).
    pub owner: String,
    /// Scopes (`read:repository:bitbucket` …, or `repository`, `webhook`, `account` for app
    /// passwords).
    pub scopes: Vec<String>,
}

/// A user.
#[derive(Debug, Clone, Deserialize)]
pub struct CloudUser {
    /// `username`.
    pub username: String,
    /// The Atlassian account's e-mail.
    pub email: String,
}

/// A webhook.
#[derive(Debug, Clone, Deserialize)]
pub struct CloudHook {
    /// The UUID, without braces.
    pub uuid: String,
    /// Target URL.
    pub url: String,
    /// Whether Bitbucket sends it events.
    pub active: bool,
    /// Subscribed event keys.
    pub events: Vec<String>,
    /// The signing secret, if any.
    pub secret: Option<String>,
}

impl CloudHook {
    /// An active hook on `repo:push` with a fresh UUID.
    pub fn new(url: &str) -> Self {
        Self {
            uuid: uuid::Uuid::new_v4().to_string(),
            url: url.to_owned(),
            active: true,
            events: vec!["repo:push".to_owned()],
            secret: None,
        }
    }

    /// With a secret.
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
pub struct CloudRepo {
    /// Its workspace.
    pub workspace: String,
    /// Its slug.
    pub slug: String,
    /// The users who read it, and whether they administer it.
    pub members: Vec<(String, bool)>,
    /// Webhooks.
    #[serde(default)]
    pub hooks: Vec<CloudHook>,
}

/// What a fake starts with.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BitbucketCloudSeed {
    /// Users.
    #[serde(default)]
    pub users: Vec<CloudUser>,
    /// Credentials.
    #[serde(default)]
    pub credentials: Vec<CloudCredential>,
    /// Repositories.
    #[serde(default)]
    pub repos: Vec<CloudRepo>,
}

/// One delivery the fake made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudDelivery {
    /// The hook.
    pub hook_uuid: String,
    /// `X-Request-UUID`.
    pub request_uuid: String,
    /// `X-Event-Key`.
    pub event: String,
    /// What the receiver answered; `None` if it could not be reached.
    pub status: Option<u16>,
    /// Whether it was signed.
    pub signed: bool,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<(BitbucketCloudSeed, bool)>,
    deliveries: Mutex<Vec<CloudDelivery>>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, (BitbucketCloudSeed, bool)> {
        self.state.lock().expect("fake bitbucket cloud lock")
    }
}

/// A fake Bitbucket Cloud; see the [module docs](self).
#[derive(Debug)]
pub struct FakeBitbucketCloud {
    server: FakeServer,
    shared: Arc<Shared>,
}

impl Deref for FakeBitbucketCloud {
    type Target = FakeServer;
    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

impl FakeBitbucketCloud {
    /// [`start_with_defaults`](Self::start_with_defaults): the workspace.
    pub const WORKSPACE: &'static str = "acme";
    /// [`start_with_defaults`](Self::start_with_defaults): the repository.
    pub const SLUG: &'static str = "platform";
    /// [`start_with_defaults`](Self::start_with_defaults): the administrator's user name.
    pub const USER: &'static str = "acme-bot";
    /// [`start_with_defaults`](Self::start_with_defaults): the administrator's e-mail.
    pub const EMAIL: &'static str = "bot@acme.example";
    /// [`start_with_defaults`](Self::start_with_defaults): an API token with the user,
    /// repository and webhook read scopes.
    pub const API_TOKEN: &'static str = "ATATT-fake-api-token-0000000000000000";
    /// [`start_with_defaults`](Self::start_with_defaults): an API token with repository read
    /// only.
    pub const REPO_API_TOKEN: &'static str = "ATATT-fake-repo-token-000000000000000";
    /// [`start_with_defaults`](Self::start_with_defaults): an app password with `account`,
    /// `repository` and `webhook`.
    pub const APP_PASSWORD: &'static str = "fake-app-password-00000000";
    /// [`start_with_defaults`](Self::start_with_defaults): a repository access token with
    /// `repository` and `webhook`.
    pub const ACCESS_TOKEN: &'static str = "ATCTT-fake-access-token-0000000000000";

    /// A fake with the workspace `acme`, its repository `platform` administered by
    /// [`USER`](Self::USER), the credentials above, and no hooks. App passwords are retired.
    pub async fn start_with_defaults() -> Self {
        Self::start_on(
            "127.0.0.1:0".parse().expect("an address"),
            Self::default_seed(),
        )
        .await
        .expect("bind 127.0.0.1:0")
    }

    /// The seed of [`start_with_defaults`](Self::start_with_defaults).
    pub fn default_seed() -> BitbucketCloudSeed {
        let cred = |kind, secret: &str, owner: &str, scopes: &[&str]| CloudCredential {
            kind,
            secret: secret.to_owned(),
            owner: owner.to_owned(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        };
        use CloudCredentialKind::*;
        BitbucketCloudSeed {
            users: vec![CloudUser {
                username: Self::USER.to_owned(),
                email: Self::EMAIL.to_owned(),
            }],
            credentials: vec![
                cred(
                    ApiToken,
                    Self::API_TOKEN,
                    Self::USER,
                    &[
                        "read:user:bitbucket",
                        "read:repository:bitbucket",
                        "read:webhook:bitbucket",
                    ],
                ),
                cred(
                    ApiToken,
                    Self::REPO_API_TOKEN,
                    Self::USER,
                    &["read:repository:bitbucket"],
                ),
                cred(
                    AppPassword,
                    Self::APP_PASSWORD,
                    Self::USER,
                    &["account", "repository", "webhook"],
                ),
                cred(
                    AccessToken,
                    Self::ACCESS_TOKEN,
                    "acme/platform",
                    &["repository", "webhook"],
                ),
            ],
            repos: vec![CloudRepo {
                workspace: Self::WORKSPACE.to_owned(),
                slug: Self::SLUG.to_owned(),
                members: vec![(Self::USER.to_owned(), true)],
                hooks: Vec::new(),
            }],
        }
    }

    /// A fake seeded with `seed` on `listen` (app passwords retired).
    pub async fn start_on(
        listen: std::net::SocketAddr,
        seed: BitbucketCloudSeed,
    ) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let shared = Arc::new(Shared {
            state: Mutex::new((seed, true)),
            deliveries: Mutex::new(Vec::new()),
        });
        let server = FakeServer::serve(listener, router(shared.clone()));
        Ok(Self { server, shared })
    }

    /// The REST root, `<url>/2.0`.
    pub fn api_url(&self) -> String {
        format!("{}/2.0", self.url())
    }

    /// Whether app passwords are refused (401), as since 9 June 2026.
    pub fn set_app_passwords_retired(&self, retired: bool) {
        self.shared.state().1 = retired;
    }

    /// Adds a hook to a repository; returns its UUID.
    pub fn add_hook(&self, workspace: &str, slug: &str, hook: CloudHook) -> String {
        let uuid = hook.uuid.clone();
        if let Some(r) = self
            .shared
            .state()
            .0
            .repos
            .iter_mut()
            .find(|r| r.workspace == workspace && r.slug == slug)
        {
            r.hooks.push(hook);
        }
        uuid
    }

    /// A push to the repository: every active hook subscribed to `repo:push` gets a
    /// delivery, sent before this returns. Returns what each delivery got.
    pub async fn push(&self, workspace: &str, slug: &str) -> Vec<CloudDelivery> {
        let hooks: Vec<CloudHook> = self
            .shared
            .state()
            .0
            .repos
            .iter()
            .find(|r| r.workspace == workspace && r.slug == slug)
            .map(|r| {
                r.hooks
                    .iter()
                    .filter(|h| h.active && h.events.iter().any(|e| e == "repo:push"))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let mut out = Vec::new();
        for hook in hooks {
            let d = deliver(&hook, workspace, slug).await;
            self.shared
                .deliveries
                .lock()
                .expect("fake bitbucket cloud deliveries")
                .push(d.clone());
            out.push(d);
        }
        out
    }

    /// Every delivery made so far, oldest first.
    pub fn deliveries(&self) -> Vec<CloudDelivery> {
        self.shared
            .deliveries
            .lock()
            .expect("fake bitbucket cloud deliveries")
            .clone()
    }
}

async fn deliver(hook: &CloudHook, workspace: &str, slug: &str) -> CloudDelivery {
    let request_uuid = uuid::Uuid::new_v4().to_string();
    let body = serde_json::to_vec(&json!({
        "push": {"changes": [{"new": {"type": "branch", "name": "main",
            "target": {"type": "commit", "hash": format!("{:040x}", rand_u128())}}}]},
        "repository": {"type": "repository", "full_name": format!("{workspace}/{slug}"),
            "name": slug, "uuid": "{7d6c5b4a-0000-4000-8000-000000000001}"},
        "actor": {"type": "user", "display_name": "Acme Bot"},
    }))
    .expect("a JSON body");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
        .expect("a client");
    let mut request = client
        .post(&hook.url)
        .header("content-type", "application/json")
        .header("user-agent", "Bitbucket-Webhooks/2.0")
        .header("x-event-key", "repo:push")
        .header("x-hook-uuid", hook.uuid.clone())
        .header("x-request-uuid", request_uuid.clone())
        .header("x-attempt-number", "1");
    if let Some(secret) = &hook.secret {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
        mac.update(&body);
        request = request.header(
            "x-hub-signature",
            format!("sha256={}", const_hex::encode(mac.finalize().into_bytes())),
        );
    }
    let status = request
        .body(body)
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16());
    CloudDelivery {
        hook_uuid: hook.uuid.clone(),
        request_uuid,
        event: "repo:push".to_owned(),
        status,
        signed: hook.secret.is_some(),
    }
}

fn rand_u128() -> u128 {
    uuid::Uuid::new_v4().as_u128()
}

type S = State<Arc<Shared>>;

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/2.0/user", get(user))
        .route("/2.0/repositories/{ws}/{slug}", get(repository))
        .route("/2.0/repositories/{ws}/{slug}/hooks", get(hooks))
        .route("/2.0/repositories/{ws}/{slug}/hooks/{uid}", get(hook))
        .fallback(|method: Method, uri: Uri| async move {
            unexpected("fake Bitbucket Cloud", &method, &uri)
        })
        .with_state(shared)
}

fn error(status: StatusCode, message: &str) -> Response {
    json(
        status,
        json!({"type": "error", "error": {"message": message}}),
    )
}

fn refused() -> Response {
    let mut r = StatusCode::UNAUTHORIZED.into_response();
    r.headers_mut().insert(
        "www-authenticate",
        HeaderValue::from_static("Basic realm=\"Bitbucket.org HTTP\""),
    );
    r
}

fn scope_error(granted: &[String], required: &str) -> Response {
    json(
        StatusCode::FORBIDDEN,
        json!({"type": "error", "error": {
            "message": "Your credentials lack one or more required privilege scopes.",
            "detail": {"granted": granted, "required": [required]}}}),
    )
}

fn caller(
    state: &(BitbucketCloudSeed, bool),
    headers: &HeaderMap,
) -> Result<CloudCredential, Response> {
    let (seed, retired) = state;
    let value = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(refused)?;
    if let Some(token) = value.strip_prefix("Bearer ") {
        return seed
            .credentials
            .iter()
            .find(|c| c.kind == CloudCredentialKind::AccessToken && c.secret == token.trim())
            .cloned()
            .ok_or_else(refused);
    }
    let pair = value
        .strip_prefix("Basic ")
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|raw| String::from_utf8(raw).ok())
        .ok_or_else(refused)?;
    let (name, secret) = pair.split_once(':').ok_or_else(refused)?;
    let found = seed
        .credentials
        .iter()
        .find(|c| c.secret == secret)
        .cloned();
    match found {
        Some(c) if c.kind == CloudCredentialKind::ApiToken => {
            let email = seed
                .users
                .iter()
                .find(|u| u.username == c.owner)
                .map(|u| &u.email);
            if email.is_some_and(|e| e == name) {
                Ok(c)
            } else {
                Err(refused())
            }
        }
        Some(c) if c.kind == CloudCredentialKind::AppPassword && !retired && c.owner == name => {
            Ok(c)
        }
        _ => Err(refused()),
    }
}

/// `needed` is the API token scope; app passwords and access tokens carry `legacy`.
fn require(c: &CloudCredential, needed: &str, legacy: &str) -> Result<(), Response> {
    let want = match c.kind {
        CloudCredentialKind::ApiToken => needed,
        _ => legacy,
    };
    if c.scopes.iter().any(|s| s == want) {
        Ok(())
    } else {
        Err(scope_error(&c.scopes, want))
    }
}

fn find_repo(
    seed: &BitbucketCloudSeed,
    c: &CloudCredential,
    ws: &str,
    slug: &str,
    admin: bool,
) -> Result<CloudRepo, Response> {
    let not_found = || {
        error(
            StatusCode::NOT_FOUND,
            &format!("Repository {ws}/{slug} not found"),
        )
    };
    let repo = seed
        .repos
        .iter()
        .find(|r| r.workspace == ws && r.slug == slug)
        .ok_or_else(not_found)?;
    let role = match c.kind {
        CloudCredentialKind::AccessToken => (c.owner == format!("{ws}/{slug}")).then_some(true),
        _ => repo
            .members
            .iter()
            .find(|(u, _)| *u == c.owner)
            .map(|(_, a)| *a),
    };
    match role {
        None => Err(not_found()),
        Some(false) if admin => Err(error(
            StatusCode::FORBIDDEN,
            "You must be an administrator of this repository to manage its webhooks.",
        )),
        Some(_) => Ok(repo.clone()),
    }
}

async fn user(State(s): S, headers: HeaderMap) -> Response {
    let state = s.state();
    let c = match caller(&state, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if c.kind == CloudCredentialKind::AccessToken {
        return error(StatusCode::FORBIDDEN, "Access tokens are not users.");
    }
    if let Err(r) = require(&c, "read:user:bitbucket", "account") {
        return r;
    }
    json(
        StatusCode::OK,
        json!({"type": "user", "username": c.owner, "display_name": "Acme Bot",
               "uuid": "{0f1e2d3c-0000-4000-8000-000000000002}", "account_id": "712020:fake"}),
    )
}

async fn repository(
    State(s): S,
    Path((ws, slug)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let state = s.state();
    let c = match caller(&state, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(r) = require(&c, "read:repository:bitbucket", "repository") {
        return r;
    }
    match find_repo(&state.0, &c, &ws, &slug, false) {
        Ok(r) => json(
            StatusCode::OK,
            json!({"type": "repository", "full_name": format!("{}/{}", r.workspace, r.slug),
                   "name": r.slug, "slug": r.slug, "is_private": true,
                   "uuid": "{7d6c5b4a-0000-4000-8000-000000000001}",
                   "mainbranch": {"type": "branch", "name": "main"}}),
        ),
        Err(r) => r,
    }
}

fn hook_json(h: &CloudHook) -> Value {
    json!({"type": "webhook_subscription", "uuid": format!("{{{}}}", h.uuid), "url": h.url,
           "description": "pathops", "subject_type": "repository", "active": h.active,
           "events": h.events, "secret_set": h.secret.is_some(),
           "skip_cert_verification": false, "created_at": "2026-11-01T00:00:00.000000+00:00"})
}

async fn hooks(
    State(s): S,
    Path((ws, slug)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let state = s.state();
    let c = match caller(&state, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(r) = require(&c, "read:webhook:bitbucket", "webhook") {
        return r;
    }
    match find_repo(&state.0, &c, &ws, &slug, true) {
        Ok(r) => {
            let values: Vec<Value> = r.hooks.iter().map(hook_json).collect();
            json(
                StatusCode::OK,
                json!({"pagelen": 10, "size": values.len(), "page": 1, "values": values}),
            )
        }
        Err(r) => r,
    }
}

async fn hook(
    State(s): S,
    Path((ws, slug, uid)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let state = s.state();
    let c = match caller(&state, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(r) = require(&c, "read:webhook:bitbucket", "webhook") {
        return r;
    }
    let bare = uid
        .trim_start_matches('{')
        .trim_end_matches('}')
        .to_ascii_lowercase();
    match find_repo(&state.0, &c, &ws, &slug, true) {
        Ok(r) => match r.hooks.iter().find(|h| h.uuid.eq_ignore_ascii_case(&bare)) {
            Some(h) => json(StatusCode::OK, hook_json(h)),
            None => error(StatusCode::NOT_FOUND, "Webhook not found"),
        },
        Err(r) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn credentials_scopes_and_a_signed_push() {
        let receiver = FakeServer::bind(
            "127.0.0.1:0".parse().unwrap(),
            Router::new().route("/hook", axum::routing::post(|| async { "ok" })),
        )
        .await
        .unwrap();
        let bb = FakeBitbucketCloud::start_with_defaults().await;
        let uuid = bb.add_hook(
            "acme",
            "platform",
            CloudHook::new(&format!("{}/hook", receiver.url())).secret("s3"),
        );
        let client = reqwest::Client::new();
        let get = |path: &str, user: Option<&str>, secret: &str| {
            let r = client.get(format!("{}{path}", bb.api_url()));
            match user {
                Some(u) => r.basic_auth(u, Some(secret)),
                None => r.bearer_auth(secret),
            }
            .send()
        };
        let repo = "/repositories/acme/platform";
        let api = FakeBitbucketCloud::API_TOKEN;
        assert_eq!(
            get(repo, Some(FakeBitbucketCloud::EMAIL), api)
                .await
                .unwrap()
                .status(),
            200
        );
        // An API token with the user name instead of the e-mail is refused, with the realm.
        let wrong = get(repo, Some(FakeBitbucketCloud::USER), api)
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401);
        assert_eq!(
            wrong.headers()["www-authenticate"],
            "Basic realm=\"Bitbucket.org HTTP\""
        );
        // App passwords are retired by default; accepted when switched back on.
        let app = FakeBitbucketCloud::APP_PASSWORD;
        assert_eq!(
            get(repo, Some(FakeBitbucketCloud::USER), app)
                .await
                .unwrap()
                .status(),
            401
        );
        bb.set_app_passwords_retired(false);
        assert_eq!(
            get(repo, Some(FakeBitbucketCloud::USER), app)
                .await
                .unwrap()
                .status(),
            200
        );
        // A missing scope names what is required.
        let hook_path = format!("{repo}/hooks/%7B{uuid}%7D");
        let r = get(
            &hook_path,
            Some(FakeBitbucketCloud::EMAIL),
            FakeBitbucketCloud::REPO_API_TOKEN,
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 403);
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            body["error"]["detail"]["required"][0],
            "read:webhook:bitbucket"
        );
        let h: Value = get(&hook_path, None, FakeBitbucketCloud::ACCESS_TOKEN)
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            (h["active"].as_bool(), h["secret_set"].as_bool()),
            (Some(true), Some(true))
        );
        assert!(h.get("secret").is_none());
        // A push delivers, signed, with Cloud's headers.
        let sent = bb.push("acme", "platform").await;
        assert_eq!(
            (sent.len(), sent[0].status, sent[0].signed),
            (1, Some(200), true)
        );
        let got = &receiver.requests_to("/hook")[0];
        assert_eq!(got.header("x-event-key"), Some("repo:push"));
        assert_eq!(got.header("x-hook-uuid"), Some(uuid.as_str()));
        assert!(
            got.header("x-hub-signature")
                .unwrap()
                .starts_with("sha256=")
        );
        assert_eq!(got.header("user-agent"), Some("Bitbucket-Webhooks/2.0"));
    }
}
