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
}
