//! [`LiveVault`]: a real Vault-compatible server, administered over its HTTP API with a root
//! token.

use std::collections::HashMap;
use std::fmt;

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::{MOUNT, VaultServer};

/// A real Vault or OpenBao server (CI: `bao server -dev`), reached at
/// `PATHOPS_TEST_VAULT_URL` with the root token `PATHOPS_TEST_VAULT_TOKEN`.
pub struct LiveVault {
    address: String,
    root: SecretString,
    http: reqwest::Client,
}

impl fmt::Debug for LiveVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveVault")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl LiveVault {
    /// The variable naming the server's address.
    pub const URL_VAR: &'static str = "PATHOPS_TEST_VAULT_URL";
    /// The variable holding its root token.
    pub const TOKEN_VAR: &'static str = "PATHOPS_TEST_VAULT_TOKEN";

    /// From the process environment; a thin wrapper over [`from_vars`](Self::from_vars) that
    /// skips (or fails, under `PATHOPS_REQUIRE_SERVICES=1`) through
    /// [`service_url`](crate::services::service_url) when the URL is unset.
    pub fn from_env() -> Option<Self> {
        crate::services::service_url(Self::URL_VAR)?;
        Self::from_vars(std::env::vars())
    }

    /// `None` without [`URL_VAR`](Self::URL_VAR). Panics when the URL is set without
    /// [`TOKEN_VAR`](Self::TOKEN_VAR): a half-configured server must fail, not skip.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Option<Self> {
        let mut vars: HashMap<String, String> = vars.into_iter().collect();
        let address = vars.remove(Self::URL_VAR)?;
        let root = vars
            .remove(Self::TOKEN_VAR)
            .unwrap_or_else(|| panic!("{} is set but {} is not", Self::URL_VAR, Self::TOKEN_VAR));
        Some(Self {
            address: address.trim_end_matches('/').to_owned(),
            root: SecretString::from(root),
            http: reqwest::Client::new(),
        })
    }

    /// Calls the API with the root token; panics (naming the call and Vault's `errors`, which
    /// never hold a token) unless it succeeds. The JSON answer, `Null` for a 204.
    pub async fn call(&self, method: Method, path: &str, body: Value) -> Value {
        let response = self
            .http
            .request(method.clone(), format!("{}/v1/{path}", self.address))
            .header("x-vault-token", self.root.expose_secret())
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} /v1/{path}: {e}"));
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        assert!(
            status.is_success(),
            "{method} /v1/{path} answered {status}: {}",
            answer["errors"]
        );
        answer
    }
}

#[async_trait::async_trait]
impl VaultServer for LiveVault {
    fn name(&self) -> &'static str {
        "live"
    }

    fn address(&self) -> String {
        self.address.clone()
    }

    fn admin_token(&self) -> SecretString {
        self.root.clone()
    }

    async fn write(&self, path: &str, data: Value) -> u64 {
        let answer = self
            .call(
                Method::POST,
                &format!("{MOUNT}/data/{path}"),
                json!({ "data": data }),
            )
            .await;
        answer["data"]["version"]
            .as_u64()
            .expect("a KV v2 write answers its version")
    }

    async fn delete_version(&self, path: &str, version: u64) {
        self.call(
            Method::POST,
            &format!("{MOUNT}/delete/{path}"),
            json!({ "versions": [version] }),
        )
        .await;
    }

    async fn destroy_version(&self, path: &str, version: u64) {
        self.call(
            Method::PUT,
            &format!("{MOUNT}/destroy/{path}"),
            json!({ "versions": [version] }),
        )
        .await;
    }

    async fn token_reading(&self, api_paths: &[String]) -> SecretString {
        let name = format!("pathops-test-{}", uuid::Uuid::new_v4().simple());
        let rules: String = api_paths
            .iter()
            .map(|p| format!("path \"{p}\" {{ capabilities = [\"read\"] }}\n"))
            .collect();
        self.call(
            Method::PUT,
            &format!("sys/policies/acl/{name}"),
            json!({ "policy": rules }),
        )
        .await;
        let answer = self
            .call(
                Method::POST,
                "auth/token/create",
                json!({ "policies": [name], "ttl": "15m", "display_name": name }),
            )
            .await;
        SecretString::from(
            answer["auth"]["client_token"]
                .as_str()
                .expect("a token")
                .to_owned(),
        )
    }
}
