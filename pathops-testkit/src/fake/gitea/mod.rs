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
//! unit everywhere, the 401 echoing the token. Assumed: the 404 body (`The target couldn't be
//! found.`), the 401 for an unknown authorization scheme, the version that brought
//! `actions/runs` (1.24 here), and that tasks list newest first.
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

mod model;
mod routes;

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;

pub use model::{
    GiteaCollaborator, GiteaRepo, GiteaSeed, GiteaTask, GiteaToken, GiteaUser, ScopeMessage,
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

    /// An empty fake on `127.0.0.1:0`.
    pub async fn start() -> Self {
        Self::start_with(GiteaSeed::default()).await
    }

    /// A fake with the owner `acme`, the bot user ([`USER_ID`](Self::USER_ID)) with its three
    /// tokens ([`TOKEN`](Self::TOKEN), [`REPO_TOKEN`](Self::REPO_TOKEN),
    /// [`USER_TOKEN`](Self::USER_TOKEN)), and the private repository
    /// [`OWNER`](Self::OWNER)/[`REPO`](Self::REPO) where the bot is a read collaborator, with
    /// Actions on and two tasks.
    pub async fn start_with_defaults() -> Self {
        Self::start_with(Self::default_seed()).await
    }

    /// The seed of [`start_with_defaults`](Self::start_with_defaults).
    pub fn default_seed() -> GiteaSeed {
        GiteaSeed {
            users: vec![
                GiteaUser::new(Self::USER_ID, Self::LOGIN),
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
            ],
            repos: vec![
                GiteaRepo::new(100, Self::OWNER, Self::REPO)
                    .collaborator(Self::USER_ID, "read")
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
