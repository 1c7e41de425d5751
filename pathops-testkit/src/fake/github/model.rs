//! The fake GitHub's seed types (also its JSON seed file format).

use serde::{Deserialize, Serialize};

/// A GitHub App.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitHubApp {
    /// Numeric App ID (accepted as the JWT `iss`).
    pub id: u64,
    /// Client ID (also accepted as the JWT `iss`).
    pub client_id: String,
    /// URL name.
    pub slug: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Owner login.
    #[serde(default = "owner")]
    pub owner: String,
    /// The public key that verifies the App's JWTs (PEM).
    pub public_key_pem: String,
    /// Permissions (`{"metadata": "read", "repository_hooks": "write"}`).
    #[serde(default)]
    pub permissions: serde_json::Map<String, serde_json::Value>,
    /// Subscribed events.
    #[serde(default)]
    pub events: Vec<String>,
}

fn owner() -> String {
    "acme".to_owned()
}

/// An installation of an App.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitHubInstallation {
    /// Numeric id.
    pub id: u64,
    /// The App.
    pub app_id: u64,
    /// Account login.
    #[serde(default = "owner")]
    pub account: String,
    /// `Organization` or `User`.
    #[serde(default = "organization")]
    pub target_type: String,
    /// Repositories it covers (`owner/name`).
    #[serde(default)]
    pub repositories: Vec<String>,
    /// When it was suspended, if it is.
    #[serde(default)]
    pub suspended_at: Option<String>,
    /// The permissions the installation's owner granted (`{"actions": "read", …}`); `None`:
    /// all the App asks for. Tokens carry the permissions granted when they were minted.
    #[serde(default)]
    pub permissions: Option<serde_json::Map<String, serde_json::Value>>,
}

fn organization() -> String {
    "Organization".to_owned()
}

/// A repository webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitHubRepoHook {
    /// Numeric id.
    pub id: u64,
    /// `owner/name`.
    pub repository: String,
    /// Where deliveries go.
    pub url: String,
    /// The secret that signs deliveries (`X-Hub-Signature-256`).
    #[serde(default)]
    pub secret: Option<String>,
    /// Subscribed events.
    #[serde(default = "push")]
    pub events: Vec<String>,
}

fn push() -> Vec<String> {
    vec!["push".to_owned()]
}

/// A GitHub Actions workflow run of a repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitHubWorkflowRun {
    /// Numeric id.
    pub id: u64,
    /// `owner/name`.
    pub repository: String,
    /// The workflow's name.
    #[serde(default = "ci")]
    pub name: String,
    /// `queued`, `in_progress`, `completed`, …
    #[serde(default = "completed")]
    pub status: String,
    /// `success`, `failure`, `cancelled`, …; `None` until the run completes.
    #[serde(default)]
    pub conclusion: Option<String>,
    /// The triggering event (`push`, `pull_request`, …).
    #[serde(default = "push_event")]
    pub event: String,
    /// The branch.
    #[serde(default = "main")]
    pub head_branch: String,
    /// The run number within its workflow.
    #[serde(default)]
    pub run_number: u64,
    /// When it was created (RFC 3339).
    #[serde(default = "epoch")]
    pub created_at: String,
}

fn ci() -> String {
    "CI".to_owned()
}

fn completed() -> String {
    "completed".to_owned()
}

fn push_event() -> String {
    "push".to_owned()
}

fn main() -> String {
    "main".to_owned()
}

fn epoch() -> String {
    "2026-01-01T00:00:00Z".to_owned()
}

impl GitHubWorkflowRun {
    /// A completed, successful push run of `repository` on `main`.
    pub fn new(id: u64, repository: &str) -> Self {
        Self {
            id,
            repository: repository.to_owned(),
            name: ci(),
            status: completed(),
            conclusion: Some("success".to_owned()),
            event: push_event(),
            head_branch: main(),
            run_number: id,
            created_at: epoch(),
        }
    }

    /// Sets the status and conclusion.
    pub fn state(mut self, status: &str, conclusion: Option<&str>) -> Self {
        self.status = status.to_owned();
        self.conclusion = conclusion.map(str::to_owned);
        self
    }

    /// Sets the creation time (RFC 3339).
    pub fn created_at(mut self, created_at: &str) -> Self {
        self.created_at = created_at.to_owned();
        self
    }
}

/// One ping delivery the fake made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitHubDelivery {
    /// `X-GitHub-Delivery`.
    pub guid: String,
    /// The hook.
    pub hook_id: u64,
    /// `ping`.
    pub event: String,
    /// The receiver's status, if it answered.
    pub status: Option<u16>,
    /// The connection error, if it did not.
    pub error: Option<String>,
}

/// Everything a fake GitHub starts with: the JSON seed file of `pathops-fake github`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitHubSeed {
    /// Apps.
    #[serde(default)]
    pub apps: Vec<GitHubApp>,
    /// Installations.
    #[serde(default)]
    pub installations: Vec<GitHubInstallation>,
    /// Repository hooks.
    #[serde(default)]
    pub hooks: Vec<GitHubRepoHook>,
    /// Actions workflow runs.
    #[serde(default)]
    pub workflow_runs: Vec<GitHubWorkflowRun>,
}
