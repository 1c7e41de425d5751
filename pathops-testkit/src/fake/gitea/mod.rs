//! [`FakeGitea`]: the Gitea (and Forgejo) REST API surface PathOps uses, under `/api/v1`, as
//! Gitea's router (`routers/api/v1/api.go`) answers it.
//!
//! | call | behaviour |
//! |---|---|
//! | `GET /version` | `{"version": …}`; no token needed |
//! | `GET /user` | the token's user; scope `read:user`; 401 `token is required` without a token |
//! | `GET /repos/:owner/:repo` | scope `read:repository`; 404 when not visible (private and the caller neither owner, collaborator nor site admin); `permissions`, `has_actions` (off when `[actions] ENABLED` is off or the repository's Actions unit is) |
//! | `GET /repos/:owner/:repo/actions/tasks` | Gitea 1.22+ (and Forgejo): `{workflow_runs, total_count}`, newest first, `page`/`limit` (default 30, at most 50), `X-Total-Count` and `Link`; scope `read:repository`; 404 when not visible; 403 `user should have specific read permission or be a repo admin or a site admin` when the caller cannot read the Actions unit (disabled, or not in the caller's access), except for repository and site administrators, who get the list |
//! | `GET /repos/:owner/:repo/actions/runs` | the newer runs list (1.24+ here), same checks, the tasks shown as runs |
//! | `GET`, `POST /repos/:owner/:repo/hooks`, `GET`, `PATCH`, `DELETE …/hooks/:id` | the hooks API: scope `read:repository` to read, `write:repository` to change; 404 when the repository is not visible; 401 `token is required` without a token; 403 `user should be an owner or a collaborator with admin write of a repository` for non-administrators; 403 `webhooks disabled by administrator` with `[security] DISABLE_WEBHOOKS`; `config` shows `url` and `content_type`, never the secret; a hook created without `"active": true` is inactive, as in Gitea |
//! | `POST /repos/:owner/:repo/hooks/:id/tests[?ref=…]` | scope `write:repository`, the checks above; an **empty repository answers 204 and sends nothing** (before the hook is even looked up); an unknown hook is 404; a hook without `push`, or whose branch filter excludes the branch, gets nothing; otherwise 204 at once and the delivery follows from a spawned task (Gitea's `webhook_sender` queue) |
//!
//! # Deliveries
//!
//! A test delivery is a pretty-printed push payload (`ref`, `before`/`after` = the head
//! commit, `commits`, `head_commit`, `repository`, `pusher`, `sender`), posted as JSON or, for
//! a `form` hook, as `payload=<JSON>` (signed over the JSON, not the form), with the headers
//! of Gitea's `addDefaultHeaders`: `X-Gitea-Delivery` / `-Event` / `-Event-Type` /
//! `-Signature` (bare lowercase hex HMAC-SHA256 of the payload, empty without a secret), the
//! same four as `X-Gogs-*`, `X-Hub-Signature: sha1=…`, `X-Hub-Signature-256: sha256=…`,
//! `X-GitHub-Delivery` / `-Event` / `-Event-Type`; from Gitea 1.24
//! `X-Gitea-Hook-Installation-Target-Type` and `X-GitHub-Hook-Installation-Target-Type`
//! (`repository`); and, when the version is Forgejo's (`…+gitea-…`), `X-Forgejo-Delivery` /
//! `-Event` / `-Event-Type` / `-Signature`. A hook's `authorization_header` goes as
//! `Authorization`. Every delivery is recorded like Gitea's `hook_task` rows
//! ([`FakeGitea::hook_deliveries`]): an inactive hook's delivery is marked delivered and
//! failed without a request; a receiver refused by `[webhook] ALLOWED_HOST_LIST`
//! ([`FakeGitea::set_allowed_host_list`], off by default here, `external` in Gitea) fails
//! with Gitea's `webhook can only call allowed HTTP servers (check your
//! webhook.ALLOWED_HOST_LIST setting)` error; requests time out after `[webhook]
//! DELIVER_TIMEOUT` (5 s). Gitea's API has no route for these records (only its web UI shows
//! them), so neither has the fake.
//!
//! Authentication: `Authorization: token <t>` (or `bearer <t>`). A token Gitea does not know
//! is 401 on every route, `{"message":"access token does not exist [sha: <the token>]"}`:
//! Gitea echoes the presented token, so clients must not print its messages unfiltered. A
//! token without the route's scope is 403 before anything is looked up, in one of Gitea's
//! two wordings ([`ScopeMessage`]); `write:` implies `read:`, `all` grants everything. Gitea
//! sends no rate-limit headers. Calls it does not emulate (and routes older versions lack)
//! get a 404 naming the call.
//!
//! Read from Gitea's source: the route groups and their checks (scope, then repository, then
//! `reqRepoReader(unit.TypeActions)` with its administrator bypass), the refusal messages
//! quoted above, the `{workflow_runs, total_count}` shape, `[actions] ENABLED` disabling the
//! unit everywhere, the 401 echoing the token; the hooks group's checks
//! (`tokenRequiresScopes(repository)`, `reqToken`, `reqAdmin`, `reqWebhooksEnabled`),
//! `TestHook` (`routers/api/v1/repo/hook.go`), `PrepareWebhook`'s event and branch checks,
//! `Deliver` and `addDefaultHeaders` (`services/webhook`), `ToHook`'s fields. Assumed: the
//! 404 body (`The target couldn't be found.`), the 401 for an unknown authorization scheme,
//! the version that brought `actions/runs` (1.24 here), that tasks list newest first, the
//! `User-Agent` (Go's default), the exact wording of transport errors in the history, and
//! that Forgejo sends no installation-target headers.
//!
//! ```
//! use pathops_testkit::fake::gitea::FakeGitea;
//!
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! let gitea = FakeGitea::start_with_defaults().await;
//! let answer = reqwest::Client::new()
//!     .get(format!("{}/api/v1/repos/{}/{}/actions/tasks?limit=1", gitea.url(), FakeGitea::OWNER, FakeGitea::REPO))
//!     .header("authorization", format!("token {}", FakeGitea::TOKEN))
//!     .send().await.unwrap();
//! assert_eq!(answer.headers()["x-total-count"], "2");
//! # });
//! ```

mod hooks;
mod model;
mod routes;

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;

pub use model::{
    GiteaCollaborator, GiteaHook, GiteaHookDelivery, GiteaRepo, GiteaSeed, GiteaTask, GiteaToken,
    GiteaUser, ScopeMessage,
};

use super::FakeServer;

/// A fake Gitea; see the [module docs](self). Dereferences to its [`FakeServer`] for the URL,
/// the request log and fault injection.
#[derive(Debug)]
pub struct FakeGitea {
    server: FakeServer,
    shared: Arc<routes::Shared>,
}

impl Deref for FakeGitea {
    type Target = FakeServer;
    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

impl FakeGitea {
    /// The version reported unless the seed says otherwise.
    pub const DEFAULT_VERSION: &'static str = "1.24.2";
    /// [`start_with_defaults`](Self::start_with_defaults): the bot user's id.
    pub const USER_ID: u64 = 1;
    /// [`start_with_defaults`](Self::start_with_defaults): the bot user's login.
    pub const LOGIN: &'static str = "pathops-bot";
    /// [`start_with_defaults`](Self::start_with_defaults): a token with `read:user` and
    /// `read:repository`.
    pub const TOKEN: &'static str = "gitea-fake-read-00000000000000000000";
    /// [`start_with_defaults`](Self::start_with_defaults): a token with `read:repository` only.
    pub const REPO_TOKEN: &'static str = "gitea-fake-repo-00000000000000000000";
    /// [`start_with_defaults`](Self::start_with_defaults): a token with `read:user` only.
    pub const USER_TOKEN: &'static str = "gitea-fake-user-00000000000000000000";
    /// [`start_with_defaults`](Self::start_with_defaults): the repository's owner.
    pub const OWNER: &'static str = "acme";
    /// [`start_with_defaults`](Self::start_with_defaults): the repository's name.
    pub const REPO: &'static str = "platform";
    /// [`start_with_defaults`](Self::start_with_defaults): the newest task (`success`; an
    /// older one failed).
    pub const LATEST_TASK_ID: u64 = 12;
    /// [`start_with_defaults`](Self::start_with_defaults): the repository's id.
    pub const REPO_ID: u64 = 100;
    /// [`start_with_defaults`](Self::start_with_defaults): the hook administrator's id, an
    /// `admin` collaborator of the repository.
    pub const HOOK_USER_ID: u64 = 2;
    /// [`start_with_defaults`](Self::start_with_defaults): the hook administrator's login.
    pub const HOOK_LOGIN: &'static str = "pathops-hooks";
    /// [`start_with_defaults`](Self::start_with_defaults): the hook administrator's token,
    /// with `read:user` and `write:repository` (reading and testing hooks).
    pub const HOOK_TOKEN: &'static str = "gitea-fake-hook-00000000000000000000";

    /// An empty fake on `127.0.0.1:0`.
    pub async fn start() -> Self {
        Self::start_with(GiteaSeed::default()).await
    }

    /// A fake with the owner `acme`, the bot user ([`USER_ID`](Self::USER_ID)) with its three
    /// tokens ([`TOKEN`](Self::TOKEN), [`REPO_TOKEN`](Self::REPO_TOKEN),
    /// [`USER_TOKEN`](Self::USER_TOKEN)), the hook administrator
    /// ([`HOOK_USER_ID`](Self::HOOK_USER_ID), [`HOOK_TOKEN`](Self::HOOK_TOKEN)), and the
    /// private repository [`OWNER`](Self::OWNER)/[`REPO`](Self::REPO)
    /// ([`REPO_ID`](Self::REPO_ID)) where the bot is a read collaborator and the hook
    /// administrator an admin one, with Actions on, two tasks, commits and no hooks.
    pub async fn start_with_defaults() -> Self {
        Self::start_with(Self::default_seed()).await
    }

    /// The seed of [`start_with_defaults`](Self::start_with_defaults).
    pub fn default_seed() -> GiteaSeed {
        GiteaSeed {
            users: vec![
                GiteaUser::new(Self::USER_ID, Self::LOGIN),
                GiteaUser::new(Self::HOOK_USER_ID, Self::HOOK_LOGIN),
                GiteaUser::new(10, Self::OWNER),
            ],
            tokens: vec![
                GiteaToken::new(
                    Self::USER_ID,
                    Self::TOKEN,
                    &["read:user", "read:repository"],
                ),
                GiteaToken::new(Self::USER_ID, Self::REPO_TOKEN, &["read:repository"]),
                GiteaToken::new(Self::USER_ID, Self::USER_TOKEN, &["read:user"]),
                GiteaToken::new(
                    Self::HOOK_USER_ID,
                    Self::HOOK_TOKEN,
                    &["read:user", "write:repository"],
                ),
            ],
            repos: vec![
                GiteaRepo::new(Self::REPO_ID, Self::OWNER, Self::REPO)
                    .collaborator(Self::USER_ID, "read")
                    .collaborator(Self::HOOK_USER_ID, "admin")
                    .task(GiteaTask::new(11).status("failure"))
                    .task(GiteaTask::new(Self::LATEST_TASK_ID)),
            ],
            ..GiteaSeed::default()
        }
    }

    /// A fake seeded with `seed` on `127.0.0.1:0`.
    pub async fn start_with(seed: GiteaSeed) -> Self {
        Self::start_on("127.0.0.1:0".parse().expect("a socket address"), seed)
            .await
            .expect("bind 127.0.0.1:0")
    }

    /// A fake seeded with `seed` on `listen`.
    pub async fn start_on(listen: SocketAddr, seed: GiteaSeed) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let base = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(routes::Shared::new(base, seed));
        let server = FakeServer::serve(listener, routes::router(shared.clone()));
        Ok(Self { server, shared })
    }

    /// The API root, `<url>/api/v1`.
    pub fn api_url(&self) -> String {
        format!("{}/api/v1", self.url())
    }

    /// Sets the version `/version` reports (and the routes it has).
    pub fn set_version(&self, version: &str) {
        self.shared.state().version = Some(version.to_owned());
    }

    /// Sets `[actions] ENABLED`.
    pub fn set_actions_enabled(&self, enabled: bool) {
        self.shared.state().actions_enabled = enabled;
    }

    /// Enables or disables the Actions unit of a repository.
    pub fn set_repo_actions(&self, owner: &str, name: &str, enabled: bool) {
        self.repo_mut(owner, name, |r| r.actions = enabled);
    }

    /// Sets whether a collaborator's access includes the Actions unit.
    pub fn set_collaborator_actions(&self, owner: &str, name: &str, user_id: u64, actions: bool) {
        self.repo_mut(owner, name, |r| {
            for c in r.collaborators.iter_mut().filter(|c| c.user_id == user_id) {
                c.actions = actions;
            }
        });
    }

    /// Sets how scope refusals are worded.
    pub fn set_scope_message(&self, style: ScopeMessage) {
        self.shared.state().scope_message = style;
    }

    /// Adds a user.
    pub fn add_user(&self, user: GiteaUser) {
        self.shared.state().users.push(user);
    }

    /// Adds a token.
    pub fn add_token(&self, token: GiteaToken) {
        self.shared.state().tokens.push(token);
    }

    /// Adds a repository.
    pub fn add_repo(&self, repo: GiteaRepo) {
        self.shared.state().repos.push(repo);
    }

    /// Adds a task to a repository.
    pub fn add_task(&self, owner: &str, name: &str, task: GiteaTask) {
        self.repo_mut(owner, name, |r| r.tasks.push(task));
    }

    /// Adds a webhook to a repository.
    pub fn add_hook(&self, owner: &str, name: &str, hook: GiteaHook) {
        self.repo_mut(owner, name, |r| r.hooks.push(hook));
    }

    /// A repository's webhook as stored (secret included), if it exists.
    pub fn hook(&self, owner: &str, name: &str, id: u64) -> Option<GiteaHook> {
        let state = self.shared.state();
        state
            .repos
            .iter()
            .find(|r| r.owner == owner && r.name == name)?
            .hooks
            .iter()
            .find(|h| h.id == id)
            .cloned()
    }

    /// Makes a repository empty (no commits) or not.
    pub fn set_repo_empty(&self, owner: &str, name: &str, empty: bool) {
        self.repo_mut(owner, name, |r| r.empty = empty);
    }

    /// Sets `[webhook] ALLOWED_HOST_LIST` (`None`: every host, the fake's default;
    /// `Some("external")`: Gitea's default, refusing loopback and private receivers).
    pub fn set_allowed_host_list(&self, list: Option<&str>) {
        self.shared.state().allowed_host_list = list.map(str::to_owned);
    }

    /// Sets `[security] DISABLE_WEBHOOKS`.
    pub fn set_webhooks_disabled(&self, disabled: bool) {
        self.shared.state().webhooks_disabled = disabled;
    }

    /// Sets `[webhook] DELIVER_TIMEOUT` (whole seconds).
    pub fn set_deliver_timeout(&self, timeout: std::time::Duration) {
        self.shared.state().deliver_timeout_secs = timeout.as_secs();
    }

    /// Sets how long the delivery queue waits before delivering.
    pub fn set_delivery_delay(&self, delay: std::time::Duration) {
        self.shared.state().delivery_delay_ms =
            u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
    }

    /// Every delivery created so far, oldest first, delivered or still queued.
    pub fn hook_deliveries(&self) -> Vec<GiteaHookDelivery> {
        self.shared.deliveries().clone()
    }

    /// Waits until at least `n` deliveries were attempted (or `timeout` passes), then
    /// returns every delivery.
    pub async fn wait_for_deliveries(
        &self,
        n: usize,
        timeout: std::time::Duration,
    ) -> Vec<GiteaHookDelivery> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.delivered.notified();
            let deliveries = self.hook_deliveries();
            if deliveries.iter().filter(|d| d.delivered).count() >= n
                || tokio::time::Instant::now() >= deadline
            {
                return deliveries;
            }
            let _ = tokio::time::timeout_at(deadline, notified).await;
        }
    }

    fn repo_mut(&self, owner: &str, name: &str, change: impl FnOnce(&mut GiteaRepo)) -> Option<()> {
        let mut state = self.shared.state();
        let repo = state
            .repos
            .iter_mut()
            .find(|r| r.owner == owner && r.name == name)?;
        change(repo);
        Some(())
    }
}
