//! [`FakeGitLab`]: the GitLab REST v4 surface PathOps uses, including the hook test trigger
//! that makes a real, synchronous HTTP delivery to the hook URL.
//!
//! Emulated (under `/api/v4`, as GitLab's REST API documents it):
//!
//! | call | behaviour |
//! |---|---|
//! | every authenticated call | an unknown token: 401 `{"message":"401 Unauthorized"}`; a revoked or expired one: 401 `{"error":"invalid_token","error_description":"Token was revoked. …" / "Token is expired. …"}` with `WWW-Authenticate: Bearer … error="invalid_token"`, as GitLab's API guard answers |
//! | `GET /version`, `GET /metadata` | version and revision; `read_user`, `read_api` or `api` (GitLab's `version.rb` allows `read_user`) |
//! | `GET /user` | the token's owner; `read_user`, `read_api` or `api` |
//! | `GET /personal_access_tokens/self` | scopes, expiry, `active`, `revoked`; any scope |
//! | `GET /projects/:id` | numeric id or `%2F`-encoded path; `permissions`; 404 when not visible |
//! | `GET/POST /projects/:id/hooks`, `GET/PUT/DELETE …/hooks/:hook_id` | 200/201/204; token write-only; `alert_status`, `disabled_until`; `api` scope and Maintainer for writes |
//! | `GET …/hooks/:hook_id/events` | the deliveries made by test triggers, token `[REDACTED]` |
//! | `GET /projects/:id/pipelines` | newest id first, `per_page`/`page` with the list headers; `read_api`; 404 when the project is not visible; 403 `{"message":"403 Forbidden"}` on a private project below Reporter (20) |
//! | `POST …/hooks/:hook_id/test/:trigger` | synchronous delivery: 201 on a 2xx receiver, else 422 with its body or the connection error (or, with [`set_local_requests_blocked`](FakeGitLab::set_local_requests_blocked), the URL blocker's refusal of a loopback or private receiver); 400 unknown trigger; 429 with `Retry-After` past 5 calls per project and user in a one-minute window (fixed, from the window's first call; refused calls count) |
//!
//! Authentication: `PRIVATE-TOKEN` or `Authorization: Bearer`; a missing, unknown, revoked or
//! expired token is 401 `{"message":"401 Unauthorized"}`; a missing scope is 403
//! `insufficient_scope` naming it. Every answer carries `RateLimit-*` headers; lists carry
//! pagination headers. Calls it does not emulate get a 404 naming the call.
//!
//! ```
//! use pathops_testkit::fake::gitlab::{FakeGitLab, GitLabHook};
//!
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! let gitlab = FakeGitLab::start_with_defaults().await;
//! let hook = gitlab.add_hook(GitLabHook::new(FakeGitLab::PROJECT_ID, "http://127.0.0.1:9/hook").token("s3cret"));
//! let answer = reqwest::Client::new()
//!     .get(format!("{}/api/v4/projects/{}/hooks/{hook}", gitlab.url(), FakeGitLab::PROJECT_ID))
//!     .header("PRIVATE-TOKEN", FakeGitLab::API_TOKEN)
//!     .send().await.unwrap();
//! assert_eq!(answer.status(), 200);
//! assert_eq!(gitlab.requests().len(), 1);
//! # });
//! ```

mod delivery;
mod model;
mod routes;

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;

pub use model::{
    GitLabCommit, GitLabHook, GitLabHookEvent, GitLabMember, GitLabPipeline, GitLabProject,
    GitLabSeed, GitLabToken, GitLabUser, HOOK_EVENT_FLAGS,
};

use super::FakeServer;

/// A fake GitLab; see the [module docs](self). Dereferences to its [`FakeServer`] for the URL,
/// the request log and fault injection.
#[derive(Debug)]
pub struct FakeGitLab {
    server: FakeServer,
    shared: Arc<routes::Shared>,
}

impl Deref for FakeGitLab {
    type Target = FakeServer;
    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

impl FakeGitLab {
    /// The version reported unless the seed says otherwise.
    pub const DEFAULT_VERSION: &'static str = "17.5.0";
    /// [`start_with_defaults`](Self::start_with_defaults): the bot user's id.
    pub const USER_ID: u64 = 1;
    /// [`start_with_defaults`](Self::start_with_defaults): a token with the `api` scope.
    pub const API_TOKEN: &'static str = "glpat-fake-api-0000000000";
    /// [`start_with_defaults`](Self::start_with_defaults): a token with `read_api` only.
    pub const READ_API_TOKEN: &'static str = "glpat-fake-read-api-00000";
    /// [`start_with_defaults`](Self::start_with_defaults): the project, where the bot is
    /// Maintainer.
    pub const PROJECT_ID: u64 = 42;
    /// [`start_with_defaults`](Self::start_with_defaults): the project's path.
    pub const PROJECT_PATH: &'static str = "platform/api";
    /// [`start_with_defaults`](Self::start_with_defaults): the project's newest pipeline
    /// (`success` on `main`; an older one failed).
    pub const LATEST_PIPELINE_ID: u64 = 502;

    /// An empty fake on `127.0.0.1:0`.
    pub async fn start() -> Self {
        Self::start_with(GitLabSeed::default()).await
    }

    /// A fake with one bot user ([`USER_ID`](Self::USER_ID)), its [`API_TOKEN`](Self::API_TOKEN)
    /// and [`READ_API_TOKEN`](Self::READ_API_TOKEN), and project
    /// [`PROJECT_ID`](Self::PROJECT_ID) where it is Maintainer, with two pipelines (the
    /// newest [`LATEST_PIPELINE_ID`](Self::LATEST_PIPELINE_ID)).
    pub async fn start_with_defaults() -> Self {
        Self::start_with(Self::default_seed()).await
    }

    /// The seed of [`start_with_defaults`](Self::start_with_defaults).
    pub fn default_seed() -> GitLabSeed {
        GitLabSeed {
            version: None,
            users: vec![GitLabUser::new(Self::USER_ID, "pathops-bot")],
            tokens: vec![
                GitLabToken::new(Self::USER_ID, Self::API_TOKEN, &["api"]),
                GitLabToken::new(Self::USER_ID, Self::READ_API_TOKEN, &["read_api"]),
            ],
            projects: vec![
                GitLabProject::new(Self::PROJECT_ID, Self::PROJECT_PATH)
                    .member(Self::USER_ID, 40)
                    .pipeline(GitLabPipeline::new(501, 1).status("failed"))
                    .pipeline(GitLabPipeline::new(Self::LATEST_PIPELINE_ID, 2)),
            ],
            hooks: Vec::new(),
        }
    }

    /// A fake seeded with `seed` on `127.0.0.1:0`.
    pub async fn start_with(seed: GitLabSeed) -> Self {
        Self::start_on("127.0.0.1:0".parse().expect("a socket address"), seed)
            .await
            .expect("bind 127.0.0.1:0")
    }

    /// A fake seeded with `seed` on `listen`.
    pub async fn start_on(listen: SocketAddr, seed: GitLabSeed) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let base = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(routes::Shared::new(base, seed));
        let server = FakeServer::serve(listener, routes::router(shared.clone()));
        Ok(Self { server, shared })
    }

    /// Adds a user.
    pub fn add_user(&self, user: GitLabUser) {
        self.shared.state().users.push(user);
    }

    /// Adds a token; returns its id.
    pub fn add_token(&self, token: GitLabToken) -> u64 {
        self.shared.state().insert_token(token)
    }

    /// Adds a project.
    pub fn add_project(&self, project: GitLabProject) {
        self.shared.state().projects.push(project);
    }

    /// Adds a hook; returns its id.
    pub fn add_hook(&self, hook: GitLabHook) -> u64 {
        self.shared.state().insert_hook(hook)
    }

    /// The hook with `id`, token included.
    pub fn hook(&self, id: u64) -> Option<GitLabHook> {
        self.shared
            .state()
            .hooks
            .iter()
            .find(|h| h.id == id)
            .cloned()
    }

    /// Sets a hook's `alert_status` and `disabled_until` (auto-disabling).
    pub fn set_hook_alert_status(&self, id: u64, status: &str, disabled_until: Option<&str>) {
        if let Some(hook) = self.shared.state().hooks.iter_mut().find(|h| h.id == id) {
            hook.alert_status = status.to_owned();
            hook.disabled_until = disabled_until.map(str::to_owned);
        }
    }

    /// Refuses deliveries to localhost and private networks as a self-managed GitLab does by
    /// default (hook tests answer 422 `URL is blocked: Requests to … are not allowed`), or
    /// allows them again (the fake's default, so tests can deliver to loopback).
    pub fn set_local_requests_blocked(&self, blocked: bool) {
        self.shared.state().block_local_requests = blocked;
    }

    /// Every delivery made by test triggers, oldest first (token `[REDACTED]`).
    pub fn hook_events(&self) -> Vec<GitLabHookEvent> {
        self.shared.state().events.clone()
    }

    /// Forgets the hook-test rate-limit counters.
    pub fn reset_rate_limits(&self) {
        self.shared.state().test_calls.clear();
    }
}
