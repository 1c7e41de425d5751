//! The fake Gitea's seed types (also its JSON seed file format) and their API shapes.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A user. Field names follow Gitea's `/user` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GiteaUser {
    /// Numeric id.
    pub id: u64,
    /// Login.
    pub login: String,
    /// Display name.
    #[serde(default)]
    pub full_name: String,
    /// Site administrator: sees and administers every repository.
    #[serde(default)]
    pub is_admin: bool,
}

impl GiteaUser {
    /// A non-admin user.
    pub fn new(id: u64, login: &str) -> Self {
        Self {
            id,
            login: login.to_owned(),
            full_name: String::new(),
            is_admin: false,
        }
    }

    /// Makes the user a site administrator.
    pub fn admin(mut self) -> Self {
        self.is_admin = true;
        self
    }

    pub(crate) fn to_json(&self, base: &str) -> Value {
        json!({
            "id": self.id,
            "login": self.login,
            "login_name": "",
            "full_name": self.full_name,
            "email": format!("{}@noreply.gitea.test", self.login),
            "avatar_url": format!("{base}/avatars/{}", self.id),
            "html_url": format!("{base}/{}", self.login),
            "language": "en-US",
            "is_admin": self.is_admin,
            "restricted": false,
            "active": true,
            "prohibit_login": false,
            "visibility": "public",
            "created": "2025-01-01T00:00:00Z",
            "username": self.login,
        })
    }
}

/// A scoped access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GiteaToken {
    /// The value sent as `Authorization: token <value>`.
    pub token: String,
    /// The owner.
    pub user_id: u64,
    /// `all`, or `read:<category>` / `write:<category>` (`repository`, `user`, `issue`, …);
    /// `write` implies `read`.
    pub scopes: Vec<String>,
}

impl GiteaToken {
    /// A token of `user_id` with `scopes`.
    pub fn new(user_id: u64, token: &str, scopes: &[&str]) -> Self {
        Self {
            token: token.to_owned(),
            user_id,
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// Whether the token grants `level` (`read` or `write`) on `category`.
    pub(crate) fn grants(&self, level: &str, category: &str) -> bool {
        self.scopes.iter().any(|s| {
            s == "all"
                || *s == format!("write:{category}")
                || (level == "read" && *s == format!("read:{category}"))
        })
    }
}

/// A collaborator of a repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GiteaCollaborator {
    /// The user.
    pub user_id: u64,
    /// `read`, `write` or `admin`.
    #[serde(default = "read")]
    pub permission: String,
    /// Whether the collaborator's access includes the Actions unit (a team can be given
    /// access to some units only).
    #[serde(default = "yes")]
    pub actions: bool,
}

fn read() -> String {
    "read".to_owned()
}

fn yes() -> bool {
    true
}

/// One Actions task (a job run) as `GET /repos/{owner}/{repo}/actions/tasks` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GiteaTask {
    /// Numeric id.
    pub id: u64,
    /// The job's name.
    #[serde(default = "build")]
    pub name: String,
    /// `success`, `failure`, `running`, `waiting`, `cancelled`, `skipped`, `blocked`.
    #[serde(default = "success")]
    pub status: String,
    /// The branch.
    #[serde(default = "main")]
    pub head_branch: String,
    /// The run's number in the repository.
    #[serde(default)]
    pub run_number: u64,
    /// The triggering event.
    #[serde(default = "push")]
    pub event: String,
    /// The workflow file (`ci.yml`).
    #[serde(default = "workflow")]
    pub workflow_id: String,
    /// When it was created (RFC 3339).
    #[serde(default = "epoch")]
    pub created_at: String,
}

fn build() -> String {
    "build".to_owned()
}

fn success() -> String {
    "success".to_owned()
}

fn main() -> String {
    "main".to_owned()
}

fn push() -> String {
    "push".to_owned()
}

fn workflow() -> String {
    "ci.yml".to_owned()
}

fn epoch() -> String {
    "2026-01-01T00:00:00Z".to_owned()
}

impl GiteaTask {
    /// A successful push task of `ci.yml` on `main`.
    pub fn new(id: u64) -> Self {
        Self {
            id,
            name: build(),
            status: success(),
            head_branch: main(),
            run_number: id,
            event: push(),
            workflow_id: workflow(),
            created_at: epoch(),
        }
    }

    /// Sets the status.
    pub fn status(mut self, status: &str) -> Self {
        self.status = status.to_owned();
        self
    }

    pub(crate) fn to_json(&self, base: &str, repo: &GiteaRepo) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "head_branch": self.head_branch,
            "head_sha": format!("{:040x}", self.id),
            "run_number": self.run_number,
            "event": self.event,
            "display_title": format!("Commit {}", self.run_number),
            "status": self.status,
            "workflow_id": self.workflow_id,
            "url": format!("{base}/{}/{}/actions/runs/{}", repo.owner, repo.name, self.run_number),
            "created_at": self.created_at,
            "updated_at": self.created_at,
            "run_started_at": self.created_at,
        })
    }

    /// The task as the newer `actions/runs` list shows a run.
    pub(crate) fn to_run_json(&self, base: &str, repo: &GiteaRepo) -> Value {
        let (status, conclusion) = match self.status.as_str() {
            "running" => ("in_progress", None),
            "waiting" | "blocked" => ("queued", None),
            other => ("completed", Some(other)),
        };
        json!({
            "id": self.run_number,
            "url": format!("{base}/api/v1/repos/{}/{}/actions/runs/{}", repo.owner, repo.name, self.run_number),
            "html_url": format!("{base}/{}/{}/actions/runs/{}", repo.owner, repo.name, self.run_number),
            "display_title": format!("Commit {}", self.run_number),
            "path": format!("{}@refs/heads/{}", self.workflow_id, self.head_branch),
            "event": self.event,
            "run_attempt": 1,
            "run_number": self.run_number,
            "repository_id": repo.id,
            "head_sha": format!("{:040x}", self.id),
            "head_branch": self.head_branch,
            "status": status,
            "conclusion": conclusion,
            "started_at": self.created_at,
        })
    }
}

/// A repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GiteaRepo {
    /// Numeric id.
    pub id: u64,
    /// The owner's login (a user whose login matches owns it).
    pub owner: String,
    /// The name.
    pub name: String,
    /// Private (default) or public.
    #[serde(default = "yes")]
    pub private: bool,
    /// Whether the repository's Actions unit is enabled (Settings → Actions).
    #[serde(default = "yes")]
    pub actions: bool,
    /// Default `main`.
    #[serde(default = "main")]
    pub default_branch: String,
    /// Collaborators besides the owner.
    #[serde(default)]
    pub collaborators: Vec<GiteaCollaborator>,
    /// Actions tasks, in any order (listed newest id first).
    #[serde(default)]
    pub tasks: Vec<GiteaTask>,
    /// No commits yet (Gitea's `empty`): its hook test answers 204 and sends nothing.
    #[serde(default)]
    pub empty: bool,
    /// Webhooks of the repository.
    #[serde(default)]
    pub hooks: Vec<GiteaHook>,
}

impl GiteaRepo {
    /// A private repository with Actions enabled, no collaborators and no tasks.
    pub fn new(id: u64, owner: &str, name: &str) -> Self {
        Self {
            id,
            owner: owner.to_owned(),
            name: name.to_owned(),
            private: true,
            actions: true,
            default_branch: main(),
            collaborators: Vec::new(),
            tasks: Vec::new(),
            empty: false,
            hooks: Vec::new(),
        }
    }

    /// Makes the repository empty (no commits).
    pub fn empty(mut self) -> Self {
        self.empty = true;
        self
    }

    /// Adds a webhook.
    pub fn hook(mut self, hook: GiteaHook) -> Self {
        self.hooks.push(hook);
        self
    }

    /// The commit at the tip of the default branch (a fixed SHA-1 derived from the id).
    pub(crate) fn head_sha(&self) -> String {
        format!("{:040x}", u128::from(self.id) * 0x9e37_79b9_7f4a_7c15)
    }

    /// Adds a collaborator with `permission` (`read`, `write`, `admin`), Actions included.
    pub fn collaborator(mut self, user_id: u64, permission: &str) -> Self {
        self.collaborators.push(GiteaCollaborator {
            user_id,
            permission: permission.to_owned(),
            actions: true,
        });
        self
    }

    /// Adds a task.
    pub fn task(mut self, task: GiteaTask) -> Self {
        self.tasks.push(task);
        self
    }

    pub(crate) fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

/// A repository webhook (`models/webhook`): what the hooks API shows, plus the secret it
/// never shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GiteaHook {
    /// Numeric id (unique on the instance).
    pub id: u64,
    /// The hook type: `gitea` (default), `gogs`, `forgejo` send Gitea's payload and headers;
    /// `slack`, `discord`, … their own formats (not emulated: the fake sends Gitea's).
    #[serde(default = "gitea_type", rename = "type")]
    pub kind: String,
    /// Where deliveries go.
    pub url: String,
    /// `json` (default) or `form` (`payload=<JSON>`, signed over the JSON).
    #[serde(default = "json_type")]
    pub content_type: String,
    /// The secret deliveries are signed with; never returned by the API.
    #[serde(default)]
    pub secret: Option<String>,
    /// Inactive hooks get their deliveries recorded as failed and never sent.
    #[serde(default = "yes")]
    pub active: bool,
    /// Subscribed events (default `["push"]`); without `push` a test sends nothing.
    #[serde(default = "push_only")]
    pub events: Vec<String>,
    /// Branch filter glob (`*`, `{main,release/*}`); empty means every branch.
    #[serde(default)]
    pub branch_filter: String,
    /// An `Authorization` header value sent with every delivery; the API shows it.
    #[serde(default)]
    pub authorization_header: Option<String>,
}

fn gitea_type() -> String {
    "gitea".to_owned()
}

fn json_type() -> String {
    "json".to_owned()
}

fn push_only() -> Vec<String> {
    vec!["push".to_owned()]
}

impl GiteaHook {
    /// An active `gitea` hook with JSON content, on push, without a secret.
    pub fn new(id: u64, url: &str) -> Self {
        Self {
            id,
            kind: gitea_type(),
            url: url.to_owned(),
            content_type: json_type(),
            secret: None,
            active: true,
            events: push_only(),
            branch_filter: String::new(),
            authorization_header: None,
        }
    }

    /// Sets the secret.
    pub fn secret(mut self, secret: &str) -> Self {
        self.secret = Some(secret.to_owned());
        self
    }

    /// Makes the hook inactive.
    pub fn inactive(mut self) -> Self {
        self.active = false;
        self
    }

    /// Sets the content type (`json` or `form`).
    pub fn content_type(mut self, content_type: &str) -> Self {
        self.content_type = content_type.to_owned();
        self
    }

    /// Sets the subscribed events.
    pub fn events(mut self, events: &[&str]) -> Self {
        self.events = events.iter().map(|e| (*e).to_owned()).collect();
        self
    }

    /// Sets the branch filter.
    pub fn branch_filter(mut self, filter: &str) -> Self {
        self.branch_filter = filter.to_owned();
        self
    }

    /// Sets the hook type.
    pub fn kind(mut self, kind: &str) -> Self {
        self.kind = kind.to_owned();
        self
    }

    /// The hook as `GET /repos/{owner}/{repo}/hooks/{id}` shows it (`services/webhook`
    /// `ToHook`): `config` holds `url` and `content_type`, never the secret.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "type": self.kind,
            "branch_filter": self.branch_filter,
            "config": {"url": self.url, "content_type": self.content_type},
            "events": self.events,
            "authorization_header": self.authorization_header.clone().unwrap_or_default(),
            "active": self.active,
            "is_system_webhook": false,
            "updated_at": "2026-01-01T00:00:00Z",
            "created_at": "2026-01-01T00:00:00Z",
        })
    }
}

/// One delivery of a hook, as Gitea keeps it in its `hook_task` table and shows it under
/// the hook's "Recent Deliveries" (the API has no route for them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GiteaHookDelivery {
    /// `X-Gitea-Delivery`.
    pub uuid: String,
    /// `owner/name` of the repository.
    pub repository: String,
    /// The hook.
    pub hook_id: u64,
    /// The event (`push`).
    pub event: String,
    /// The URL it went (or would have gone) to.
    pub url: String,
    /// Headers sent, in order (`Authorization` shown as `******`, as Gitea records it).
    pub request_headers: Vec<(String, String)>,
    /// The body sent.
    pub request_body: String,
    /// Whether the delivery was attempted (the queue picked it up).
    pub delivered: bool,
    /// Whether the receiver answered 2xx.
    pub is_succeed: bool,
    /// The receiver's status, when it answered.
    pub response_status: Option<u16>,
    /// The receiver's body, or `Delivery: <error>` when the request failed.
    pub response_body: String,
}

impl GiteaHookDelivery {
    /// The value of request header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.request_headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The wording of Gitea's 403 for a token without the route's scope.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeMessage {
    /// `token does not have at least one of required scope(s): [read:user]` (Forgejo, Gitea
    /// up to 1.23).
    #[default]
    Listed,
    /// `token does not have at least one of required scope(s), required=[read:user], token
    /// scope=read:repository` (current Gitea).
    Detailed,
}

/// Everything a fake Gitea starts with: the JSON seed file of `pathops-fake gitea`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GiteaSeed {
    /// What `/version` answers (default [`FakeGitea::DEFAULT_VERSION`](super::FakeGitea::DEFAULT_VERSION));
    /// a Forgejo version reads `11.0.3+gitea-1.22.0`, and its deliveries add the
    /// `X-Forgejo-*` headers. Below 1.22 there is no
    /// `actions/tasks` route, below 1.24 no `actions/runs` (the Gitea part of a Forgejo
    /// version decides).
    #[serde(default)]
    pub version: Option<String>,
    /// `[actions] ENABLED` in app.ini (default on): off disables the Actions unit of every
    /// repository.
    #[serde(default = "yes")]
    pub actions_enabled: bool,
    /// How scope refusals are worded.
    #[serde(default)]
    pub scope_message: ScopeMessage,
    /// Users.
    #[serde(default)]
    pub users: Vec<GiteaUser>,
    /// Tokens.
    #[serde(default)]
    pub tokens: Vec<GiteaToken>,
    /// Repositories.
    #[serde(default)]
    pub repos: Vec<GiteaRepo>,
    /// `[webhook] ALLOWED_HOST_LIST`: which receivers deliveries may reach. `None` (the
    /// fake's default) allows every host; Gitea's own default is `external`, which refuses
    /// loopback and private addresses. Understood: `*`, `external`, `private`, `loopback`,
    /// host names, IP addresses and IPv4 CIDRs, comma-separated.
    #[serde(default)]
    pub allowed_host_list: Option<String>,
    /// `[webhook] DELIVER_TIMEOUT` in seconds (default 5).
    #[serde(default = "five")]
    pub deliver_timeout_secs: u64,
    /// `[security] DISABLE_WEBHOOKS`: the hooks API answers 403.
    #[serde(default)]
    pub webhooks_disabled: bool,
    /// How long the `webhook_sender` queue takes to pick a delivery up, in milliseconds.
    #[serde(default)]
    pub delivery_delay_ms: u64,
}

fn five() -> u64 {
    5
}

impl Default for GiteaSeed {
    fn default() -> Self {
        Self {
            version: None,
            actions_enabled: true,
            scope_message: ScopeMessage::default(),
            users: Vec::new(),
            tokens: Vec::new(),
            repos: Vec::new(),
            allowed_host_list: None,
            deliver_timeout_secs: five(),
            webhooks_disabled: false,
            delivery_delay_ms: 0,
        }
    }
}
