//! The fake GitLab's data: seed types (also its JSON seed file format) and their API shapes.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A user. Seed field names follow GitLab's `/user` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitLabUser {
    /// Numeric id.
    pub id: u64,
    /// Login.
    pub username: String,
    /// Display name (defaults to the username).
    #[serde(default)]
    pub name: String,
    /// `active` (default) or `blocked`.
    #[serde(default = "active")]
    pub state: String,
    /// Project and group access tokens belong to bot users.
    #[serde(default)]
    pub bot: bool,
    /// Instance administrator: sees every project.
    #[serde(default)]
    pub is_admin: bool,
}

fn active() -> String {
    "active".to_owned()
}

impl GitLabUser {
    /// An active, non-admin user.
    pub fn new(id: u64, username: &str) -> Self {
        Self {
            id,
            username: username.to_owned(),
            name: username.to_owned(),
            state: active(),
            bot: false,
            is_admin: false,
        }
    }

    /// Makes the user an administrator.
    pub fn admin(mut self) -> Self {
        self.is_admin = true;
        self
    }

    pub(crate) fn to_json(&self, base: &str) -> Value {
        let name = if self.name.is_empty() {
            &self.username
        } else {
            &self.name
        };
        let mut v = json!({
            "id": self.id,
            "username": self.username,
            "name": name,
            "state": self.state,
            "bot": self.bot,
            "locked": false,
            "avatar_url": null,
            "web_url": format!("{base}/{}", self.username),
            "created_at": "2025-01-01T00:00:00.000Z",
        });
        if self.is_admin {
            v["is_admin"] = json!(true);
        }
        v
    }
}

/// A personal (or project/group) access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitLabToken {
    /// Numeric id (0 in a seed: assigned on insertion).
    #[serde(default)]
    pub id: u64,
    /// Token name.
    #[serde(default = "token_name")]
    pub name: String,
    /// The token value sent as `PRIVATE-TOKEN` or `Authorization: Bearer`.
    pub token: String,
    /// The owner.
    pub user_id: u64,
    /// `api`, `read_api`, `read_user`, …
    pub scopes: Vec<String>,
    /// `YYYY-MM-DD`; the token stops working after that day.
    #[serde(default)]
    pub expires_at: Option<String>,
    /// Revoked tokens are refused.
    #[serde(default)]
    pub revoked: bool,
}

fn token_name() -> String {
    "pathops".to_owned()
}

impl GitLabToken {
    /// A token of `user_id` with `scopes`, never expiring.
    pub fn new(user_id: u64, token: &str, scopes: &[&str]) -> Self {
        Self {
            id: 0,
            name: token_name(),
            token: token.to_owned(),
            user_id,
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            expires_at: None,
            revoked: false,
        }
    }

    /// Sets the expiry day (`YYYY-MM-DD`).
    pub fn expires_at(mut self, day: &str) -> Self {
        self.expires_at = Some(day.to_owned());
        self
    }

    /// Marks the token revoked.
    pub fn revoked(mut self) -> Self {
        self.revoked = true;
        self
    }

    pub(crate) fn is_expired(&self, today: time::Date) -> bool {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        self.expires_at
            .as_deref()
            .and_then(|d| time::Date::parse(d, &format).ok())
            .is_some_and(|d| d < today)
    }

    pub(crate) fn to_json(&self, today: time::Date) -> Value {
        let active = !self.revoked && !self.is_expired(today);
        json!({
            "id": self.id,
            "name": self.name,
            "revoked": self.revoked,
            "created_at": "2025-01-01T00:00:00.000Z",
            "description": "",
            "scopes": self.scopes,
            "user_id": self.user_id,
            "last_used_at": null,
            "active": active,
            "expires_at": self.expires_at,
        })
    }
}

/// A project member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitLabMember {
    /// The user.
    pub user_id: u64,
    /// 10 Guest, 20 Reporter, 30 Developer, 40 Maintainer, 50 Owner.
    pub access_level: u8,
}

/// A commit of a project's default branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitLabCommit {
    /// The SHA.
    pub id: String,
    /// The message.
    pub message: String,
}

/// A project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitLabProject {
    /// Numeric id.
    pub id: u64,
    /// `group/sub/project`.
    pub path_with_namespace: String,
    /// Default `main`.
    #[serde(default = "main")]
    pub default_branch: String,
    /// `private` (default), `internal` or `public`.
    #[serde(default = "private")]
    pub visibility: String,
    /// Members and their access levels.
    #[serde(default)]
    pub members: Vec<GitLabMember>,
    /// Commits of the default branch, oldest first; empty means an empty repository.
    #[serde(default = "sample_commits")]
    pub commits: Vec<GitLabCommit>,
    /// CI/CD pipelines, in any order (the API lists them newest id first).
    #[serde(default)]
    pub pipelines: Vec<GitLabPipeline>,
}

/// A CI/CD pipeline of a project. Field names follow GitLab's pipelines API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitLabPipeline {
    /// Instance-wide id.
    pub id: u64,
    /// Project-scoped id.
    #[serde(default)]
    pub iid: u64,
    /// `created`, `pending`, `running`, `success`, `failed`, `canceled`, `skipped`, `manual`, …
    #[serde(default = "success")]
    pub status: String,
    /// The branch or tag.
    #[serde(rename = "ref", default = "main")]
    pub git_ref: String,
    /// `push`, `web`, `schedule`, `merge_request_event`, …
    #[serde(default = "push")]
    pub source: String,
    /// When it was created (ISO 8601).
    #[serde(default = "created")]
    pub created_at: String,
}

fn success() -> String {
    "success".to_owned()
}

fn push() -> String {
    "push".to_owned()
}

fn created() -> String {
    "2026-01-01T00:00:00.000Z".to_owned()
}

impl GitLabPipeline {
    /// A successful push pipeline on `main`.
    pub fn new(id: u64, iid: u64) -> Self {
        Self {
            id,
            iid,
            status: success(),
            git_ref: main(),
            source: push(),
            created_at: created(),
        }
    }

    /// Sets the status.
    pub fn status(mut self, status: &str) -> Self {
        self.status = status.to_owned();
        self
    }

    /// Sets the branch or tag.
    pub fn on_ref(mut self, git_ref: &str) -> Self {
        self.git_ref = git_ref.to_owned();
        self
    }

    pub(crate) fn to_json(&self, base: &str, project: &GitLabProject) -> Value {
        json!({
            "id": self.id,
            "iid": self.iid,
            "project_id": project.id,
            "sha": format!("{:040x}", self.id),
            "ref": self.git_ref,
            "status": self.status,
            "source": self.source,
            "created_at": self.created_at,
            "updated_at": self.created_at,
            "web_url": format!("{base}/{}/-/pipelines/{}", project.path_with_namespace, self.id),
        })
    }
}

fn main() -> String {
    "main".to_owned()
}

fn private() -> String {
    "private".to_owned()
}

fn sample_commits() -> Vec<GitLabCommit> {
    (1..=4)
        .map(|n| GitLabCommit {
            id: format!("{n:040x}"),
            message: format!("Commit {n}\n"),
        })
        .collect()
}

impl GitLabProject {
    /// A private project on `main` with four commits and no members.
    pub fn new(id: u64, path_with_namespace: &str) -> Self {
        Self {
            id,
            path_with_namespace: path_with_namespace.to_owned(),
            default_branch: main(),
            visibility: private(),
            members: Vec::new(),
            commits: sample_commits(),
            pipelines: Vec::new(),
        }
    }

    /// Adds a pipeline.
    pub fn pipeline(mut self, pipeline: GitLabPipeline) -> Self {
        self.pipelines.push(pipeline);
        self
    }

    /// Sets the visibility (`private`, `internal` or `public`).
    pub fn visibility(mut self, visibility: &str) -> Self {
        self.visibility = visibility.to_owned();
        self
    }

    /// Adds a member with `access_level`.
    pub fn member(mut self, user_id: u64, access_level: u8) -> Self {
        self.members.push(GitLabMember {
            user_id,
            access_level,
        });
        self
    }

    /// Removes every commit (an empty repository).
    pub fn empty(mut self) -> Self {
        self.commits.clear();
        self
    }

    pub(crate) fn access_level(&self, user_id: u64) -> Option<u8> {
        self.members
            .iter()
            .find(|m| m.user_id == user_id)
            .map(|m| m.access_level)
    }

    pub(crate) fn name(&self) -> &str {
        self.path_with_namespace
            .rsplit('/')
            .next()
            .unwrap_or(&self.path_with_namespace)
    }

    pub(crate) fn to_json(&self, base: &str, user: &GitLabUser) -> Value {
        let access = self
            .access_level(user.id)
            .map(|level| json!({"access_level": level, "notification_level": 3}));
        json!({
            "id": self.id,
            "name": self.name(),
            "path": self.name(),
            "path_with_namespace": self.path_with_namespace,
            "default_branch": if self.commits.is_empty() { Value::Null } else { json!(self.default_branch) },
            "web_url": format!("{base}/{}", self.path_with_namespace),
            "empty_repo": self.commits.is_empty(),
            "archived": false,
            "visibility": self.visibility,
            "permissions": { "project_access": access, "group_access": null },
        })
    }
}

/// Every `*_events` flag of a project hook, with GitLab's defaults (`push_events` on).
pub const HOOK_EVENT_FLAGS: [&str; 16] = [
    "push_events",
    "tag_push_events",
    "issues_events",
    "confidential_issues_events",
    "merge_requests_events",
    "note_events",
    "confidential_note_events",
    "job_events",
    "pipeline_events",
    "wiki_page_events",
    "deployment_events",
    "feature_flag_events",
    "releases_events",
    "emoji_events",
    "resource_access_token_events",
    "repository_update_events",
];

/// A project hook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitLabHook {
    /// Numeric id (0 in a seed: assigned on insertion).
    #[serde(default)]
    pub id: u64,
    /// The project it belongs to.
    pub project_id: u64,
    /// Where deliveries go.
    pub url: String,
    /// The secret token sent as `X-Gitlab-Token`; write-only in the API.
    #[serde(default)]
    pub token: Option<String>,
    /// Enabled `*_events` flags (default: `push_events`).
    #[serde(default = "default_events")]
    pub events: Vec<String>,
    /// `executable` (default), `temporarily_disabled` or `disabled`.
    #[serde(default = "executable")]
    pub alert_status: String,
    /// End of a temporary disable (RFC 3339).
    #[serde(default)]
    pub disabled_until: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// TLS verification of deliveries (the fake delivers over plain HTTP in tests).
    #[serde(default = "yes")]
    pub enable_ssl_verification: bool,
}

fn default_events() -> Vec<String> {
    vec!["push_events".to_owned()]
}

fn executable() -> String {
    "executable".to_owned()
}

fn yes() -> bool {
    true
}

impl GitLabHook {
    /// A push hook of `project_id` delivering to `url`, without a token.
    pub fn new(project_id: u64, url: &str) -> Self {
        Self {
            id: 0,
            project_id,
            url: url.to_owned(),
            token: None,
            events: default_events(),
            alert_status: executable(),
            disabled_until: None,
            name: None,
            description: None,
            enable_ssl_verification: true,
        }
    }

    /// Sets the id (otherwise assigned).
    pub fn with_id(mut self, id: u64) -> Self {
        self.id = id;
        self
    }

    /// Sets the secret token.
    pub fn token(mut self, token: &str) -> Self {
        self.token = Some(token.to_owned());
        self
    }

    /// Marks the hook auto-disabled: `temporarily_disabled` with an end, or `disabled`.
    pub fn alert_status(mut self, status: &str, disabled_until: Option<&str>) -> Self {
        self.alert_status = status.to_owned();
        self.disabled_until = disabled_until.map(str::to_owned);
        self
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "url": self.url,
            "name": self.name,
            "description": self.description,
            "project_id": self.project_id,
            "push_events_branch_filter": null,
            "branch_filter_strategy": "wildcard",
            "enable_ssl_verification": self.enable_ssl_verification,
            "alert_status": self.alert_status,
            "disabled_until": self.disabled_until,
            "url_variables": [],
            "created_at": "2025-01-01T00:00:00.000Z",
            "custom_webhook_template": null,
            "custom_headers": [],
            "token_present": self.token.is_some(),
        });
        for flag in HOOK_EVENT_FLAGS {
            v[flag] = json!(self.events.iter().any(|e| e == flag));
        }
        v
    }
}

/// A recorded delivery, as `GET /projects/:id/hooks/:hook_id/events` shows it (the
/// `X-Gitlab-Token` header is `[REDACTED]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GitLabHookEvent {
    /// Event id.
    pub id: u64,
    /// The hook.
    pub hook_id: u64,
    /// Where it went.
    pub url: String,
    /// `push_hooks`, `tag_push_hooks`.
    pub trigger: String,
    /// Headers sent (token redacted).
    pub request_headers: serde_json::Map<String, Value>,
    /// The payload.
    pub request_data: Value,
    /// Headers received.
    pub response_headers: serde_json::Map<String, Value>,
    /// Body received, or the connection error.
    pub response_body: String,
    /// Seconds.
    pub execution_duration: f64,
    /// The receiver's status as text, or `internal error`.
    pub response_status: String,
}

/// Everything a fake GitLab starts with: the JSON seed file of `pathops-fake gitlab`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitLabSeed {
    /// The version `/version`, `/metadata` and the delivery `User-Agent` report.
    #[serde(default)]
    pub version: Option<String>,
    /// Users.
    #[serde(default)]
    pub users: Vec<GitLabUser>,
    /// Tokens.
    #[serde(default)]
    pub tokens: Vec<GitLabToken>,
    /// Projects.
    #[serde(default)]
    pub projects: Vec<GitLabProject>,
    /// Hooks.
    #[serde(default)]
    pub hooks: Vec<GitLabHook>,
}
