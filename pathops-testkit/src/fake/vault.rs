//! [`FakeVault`]: the HashiCorp Vault calls the PathOps resolver uses, as Vault's API documents
//! them.
//!
//! | call | behaviour |
//! |---|---|
//! | `GET/HEAD /v1/sys/health` | 200 active, 429 standby, 501 not initialized, 503 sealed; body with `initialized`, `sealed`, `standby`, `version`, … |
//! | `GET /v1/auth/token/lookup-self` | the token's data (every valid token may look itself up, as Vault's `default` policy allows); **403** `{"errors":["permission denied"]}` for a bad token; 503 when sealed |
//! | `GET /v1/<mount>/data/<path>[?version=N]` | KV v2 envelope with `data.data` and `data.metadata` of version `N` (absent or `0`: the current one); 404 `{"errors":["no handler for route …"]}` for a mount that does not exist (`secret` and every seeded mount exist), 404 `{"errors":[]}` for a path or version that does not exist; 404 with `data.data: null` and the version's metadata (`deletion_time` set, or `destroyed: true`) for a deleted or destroyed version; 400 for a `version` that is not an integer; 403 for a bad token, and 403 `1 error occurred: … permission denied` for a valid token whose [`read_paths`](VaultToken::read_paths) do not cover the path; 503 when sealed |
//!
//! Tokens come from `X-Vault-Token` or `Authorization: Bearer`. Secrets live in a namespace
//! (none by default), selected by `X-Vault-Namespace`. Each [`VaultSecret`] is one version of a
//! path; a path's current version is its highest. [`write_secret`](FakeVault::write_secret),
//! [`delete_version`](FakeVault::delete_version) and
//! [`destroy_version`](FakeVault::destroy_version) change them the way Vault's `data/`,
//! `delete/` and `destroy/` endpoints do (a soft delete keeps the data for an undelete; a
//! destroy drops it).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::FakeServer;
use super::server::{json, unexpected};

/// A token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultToken {
    /// The token value.
    pub token: String,
    /// Policies attached (names only, shown by `lookup-self`).
    #[serde(default)]
    pub policies: Vec<String>,
    /// Seconds left.
    #[serde(default = "hour")]
    pub ttl: u64,
    /// Display name.
    #[serde(default)]
    pub display_name: String,
    /// What its policies let it read, as the API paths of Vault policy rules
    /// (`secret/data/tenants/acme/*`: a trailing `*` matches any rest, otherwise the path must
    /// match exactly). `None`: every path, like a root token.
    #[serde(default)]
    pub read_paths: Option<Vec<String>>,
}

impl VaultToken {
    /// A token that may read every path, with no policies listed and an hour left.
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            token: token.into(),
            policies: Vec::new(),
            ttl: hour(),
            display_name: String::new(),
            read_paths: None,
        }
    }

    /// Only `paths` (see [`read_paths`](Self::read_paths)) may be read.
    pub fn reading(mut self, paths: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.read_paths = Some(paths.into_iter().map(Into::into).collect());
        self
    }

    fn may_read(&self, api_path: &str) -> bool {
        self.read_paths.as_ref().is_none_or(|rules| {
            rules.iter().any(|rule| match rule.strip_suffix('*') {
                Some(prefix) => api_path.starts_with(prefix),
                None => api_path == rule,
            })
        })
    }
}

fn hour() -> u64 {
    3600
}

/// One version of a KV v2 secret. A path's current version is the highest one stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultSecret {
    /// Enterprise namespace (`ns1/ns2`), none by default.
    #[serde(default)]
    pub namespace: Option<String>,
    /// KV v2 mount (`secret`).
    pub mount: String,
    /// Path under the mount (`gitlab/ci`).
    pub path: String,
    /// The key/value map.
    pub data: serde_json::Map<String, Value>,
    /// This version's number.
    #[serde(default = "one")]
    pub version: u64,
    /// Soft-deleted: reads answer 404 with the metadata; the data is kept.
    #[serde(default)]
    pub deleted: bool,
    /// Destroyed: reads answer 404 with the metadata; the data is gone.
    #[serde(default)]
    pub destroyed: bool,
}

fn one() -> u64 {
    1
}

impl VaultSecret {
    /// Version 1 of `mount`/`path`, outside any namespace, holding `data` (a JSON object;
    /// anything else holds nothing).
    pub fn new(mount: impl Into<String>, path: impl Into<String>, data: Value) -> Self {
        Self {
            namespace: None,
            mount: mount.into(),
            path: path.into(),
            data: match data {
                Value::Object(map) => map,
                _ => serde_json::Map::new(),
            },
            version: 1,
            deleted: false,
            destroyed: false,
        }
    }

    /// In namespace `namespace`.
    pub fn in_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// As version `version`.
    pub fn with_version(mut self, version: u64) -> Self {
        self.version = version;
        self
    }

    fn is(&self, namespace: Option<&str>, mount: &str, path: &str) -> bool {
        self.mount == mount
            && self.path.trim_matches('/') == path.trim_matches('/')
            && self.namespace.as_deref().map(|n| n.trim_matches('/'))
                == namespace.map(|n| n.trim_matches('/'))
    }
}

/// Seal and standby state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultHealthState {
    /// Initialized.
    pub initialized: bool,
    /// Sealed.
    pub sealed: bool,
    /// A standby node.
    pub standby: bool,
}

impl Default for VaultHealthState {
    fn default() -> Self {
        Self {
            initialized: true,
            sealed: false,
            standby: false,
        }
    }
}

/// Everything a fake Vault starts with: the JSON seed file of `pathops-fake vault`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultSeed {
    /// Tokens.
    #[serde(default)]
    pub tokens: Vec<VaultToken>,
    /// Secrets.
    #[serde(default)]
    pub secrets: Vec<VaultSecret>,
    /// Health.
    #[serde(default)]
    pub health: VaultHealthState,
}

/// A fake Vault; see the [module docs](self). Dereferences to its [`FakeServer`].
#[derive(Debug)]
pub struct FakeVault {
    server: FakeServer,
    state: Arc<Mutex<VaultSeed>>,
}

impl Deref for FakeVault {
    type Target = FakeServer;
    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

impl FakeVault {
    /// The version `sys/health` reports.
    pub const VERSION: &'static str = "1.17.0";
    /// [`start_with_defaults`](Self::start_with_defaults): a valid token.
    pub const TOKEN: &'static str = "hvs.fake-vault-token-000";
    /// [`start_with_defaults`](Self::start_with_defaults): a secret at `secret/gitlab/ci` with
    /// field `token`.
    pub const GITLAB_TOKEN: &'static str = "glpat-from-vault-000000";

    /// An empty fake.
    pub async fn start() -> Self {
        Self::start_with(VaultSeed::default()).await
    }

    /// A fake with [`TOKEN`](Self::TOKEN) and `secret/gitlab/ci` = `{token: GITLAB_TOKEN}`.
    pub async fn start_with_defaults() -> Self {
        Self::start_with(Self::default_seed()).await
    }

    /// The seed of [`start_with_defaults`](Self::start_with_defaults).
    pub fn default_seed() -> VaultSeed {
        VaultSeed {
            tokens: vec![VaultToken {
                policies: vec!["default".to_owned(), "pathops".to_owned()],
                display_name: "token-pathops".to_owned(),
                ..VaultToken::new(Self::TOKEN)
            }],
            secrets: vec![
                VaultSecret::new("secret", "gitlab/ci", json!({"token": Self::GITLAB_TOKEN}))
                    .with_version(3),
            ],
            health: VaultHealthState::default(),
        }
    }

    /// A fake seeded with `seed` on `127.0.0.1:0`.
    pub async fn start_with(seed: VaultSeed) -> Self {
        Self::start_on("127.0.0.1:0".parse().expect("a socket address"), seed)
            .await
            .expect("bind 127.0.0.1:0")
    }

    /// A fake seeded with `seed` on `listen`.
    pub async fn start_on(listen: SocketAddr, seed: VaultSeed) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let state = Arc::new(Mutex::new(seed));
        let router = Router::new()
            .route("/v1/sys/health", get(health).head(health))
            .route("/v1/auth/token/lookup-self", get(lookup_self))
            .route("/v1/{mount}/data/{*path}", get(read))
            .fallback(
                |method: Method, uri: Uri| async move { unexpected("fake Vault", &method, &uri) },
            )
            .with_state(state.clone());
        Ok(Self {
            server: FakeServer::serve(listener, router),
            state,
        })
    }

    /// Adds one version of a secret, or replaces that version.
    pub fn put_secret(&self, secret: VaultSecret) {
        let mut state = self.state.lock().expect("fake vault lock");
        state.secrets.retain(|s| {
            !(s.is(secret.namespace.as_deref(), &secret.mount, &secret.path)
                && s.version == secret.version)
        });
        state.secrets.push(secret);
    }

    /// Writes `data` (a JSON object) as a new version of `mount`/`path` outside any namespace,
    /// like `POST /v1/<mount>/data/<path>`, and returns its number (1 for a new path).
    pub fn write_secret(&self, mount: &str, path: &str, data: Value) -> u64 {
        let version = {
            let state = self.state.lock().expect("fake vault lock");
            current_version(&state, None, mount, path).map_or(1, |v| v + 1)
        };
        self.put_secret(VaultSecret::new(mount, path, data).with_version(version));
        version
    }

    /// Soft-deletes one version, like `POST /v1/<mount>/delete/<path>`; `false` when there is
    /// no such version.
    pub fn delete_version(&self, mount: &str, path: &str, version: u64) -> bool {
        self.change_version(mount, path, version, |s| s.deleted = true)
    }

    /// Destroys one version (its data is dropped), like `PUT /v1/<mount>/destroy/<path>`;
    /// `false` when there is no such version.
    pub fn destroy_version(&self, mount: &str, path: &str, version: u64) -> bool {
        self.change_version(mount, path, version, |s| {
            s.destroyed = true;
            s.data.clear();
        })
    }

    fn change_version(
        &self,
        mount: &str,
        path: &str,
        version: u64,
        change: impl FnOnce(&mut VaultSecret),
    ) -> bool {
        let mut state = self.state.lock().expect("fake vault lock");
        match state
            .secrets
            .iter_mut()
            .find(|s| s.is(None, mount, path) && s.version == version)
        {
            Some(secret) => {
                change(secret);
                true
            }
            None => false,
        }
    }

    /// Adds a token.
    pub fn add_token(&self, token: VaultToken) {
        self.state
            .lock()
            .expect("fake vault lock")
            .tokens
            .push(token);
    }

    /// Sets the seal and standby state.
    pub fn set_health(&self, health: VaultHealthState) {
        self.state.lock().expect("fake vault lock").health = health;
    }
}

type S = State<Arc<Mutex<VaultSeed>>>;

fn current_version(
    state: &VaultSeed,
    namespace: Option<&str>,
    mount: &str,
    path: &str,
) -> Option<u64> {
    state
        .secrets
        .iter()
        .filter(|s| s.is(namespace, mount, path))
        .map(|s| s.version)
        .max()
}

fn errors(status: StatusCode, list: &[&str]) -> Response {
    json(status, json!({ "errors": list }))
}

fn token<'a>(state: &'a VaultSeed, headers: &HeaderMap) -> Option<&'a VaultToken> {
    let presented = headers
        .get("x-vault-token")
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
        })?;
    state.tokens.iter().find(|t| t.token == presented)
}

async fn health(State(state): S) -> Response {
    let h = state.lock().expect("fake vault lock").health;
    let status = if !h.initialized {
        StatusCode::NOT_IMPLEMENTED
    } else if h.sealed {
        StatusCode::SERVICE_UNAVAILABLE
    } else if h.standby {
        StatusCode::TOO_MANY_REQUESTS
    } else {
        StatusCode::OK
    };
    json(
        status,
        json!({
            "initialized": h.initialized, "sealed": h.sealed, "standby": h.standby,
            "performance_standby": false, "replication_performance_mode": "disabled",
            "replication_dr_mode": "disabled", "server_time_utc": time::OffsetDateTime::now_utc().unix_timestamp(),
            "version": FakeVault::VERSION, "cluster_name": "vault-cluster-fake", "cluster_id": "00000000-fake",
        }),
    )
}

async fn lookup_self(State(state): S, headers: HeaderMap) -> Response {
    let state = state.lock().expect("fake vault lock");
    if state.health.sealed {
        return errors(StatusCode::SERVICE_UNAVAILABLE, &["Vault is sealed"]);
    }
    let Some(t) = token(&state, &headers) else {
        return errors(StatusCode::FORBIDDEN, &["permission denied"]);
    };
    json(
        StatusCode::OK,
        json!({
            "request_id": uuid::Uuid::new_v4().to_string(), "lease_id": "", "renewable": false, "lease_duration": 0,
            "data": {
                "accessor": "accessor-fake", "creation_time": 1_735_689_600, "creation_ttl": t.ttl,
                "display_name": t.display_name, "entity_id": "", "expire_time": null, "explicit_max_ttl": 0,
                "id": t.token, "issue_time": "2025-01-01T00:00:00Z", "meta": null, "num_uses": 0,
                "orphan": false, "path": "auth/token/create", "policies": t.policies, "renewable": true,
                "ttl": t.ttl, "type": "service",
            },
            "wrap_info": null, "warnings": null, "auth": null,
        }),
    )
}

async fn read(
    State(state): S,
    headers: HeaderMap,
    Path((mount, path)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let state = state.lock().expect("fake vault lock");
    if state.health.sealed {
        return errors(StatusCode::SERVICE_UNAVAILABLE, &["Vault is sealed"]);
    }
    let Some(token) = token(&state, &headers) else {
        return errors(StatusCode::FORBIDDEN, &["permission denied"]);
    };
    let path = path.trim_matches('/');
    // Vault routes by mount first: a mount that does not exist has no handler at all.
    let mounted = mount == "secret" || state.secrets.iter().any(|s| s.mount == mount);
    if !mounted {
        let route = format!("no handler for route \"{mount}/data/{path}\". route entry not found.");
        return errors(StatusCode::NOT_FOUND, &[route.as_str()]);
    }
    if !token.may_read(&format!("{mount}/data/{path}")) {
        // Vault's answer when the token is valid but no policy grants the path.
        return errors(
            StatusCode::FORBIDDEN,
            &["1 error occurred:\n\t* permission denied\n\n"],
        );
    }
    let asked = match query.get("version").map(|v| v.parse::<u64>()) {
        None => 0,
        Some(Ok(v)) => v,
        Some(Err(_)) => {
            return errors(
                StatusCode::BAD_REQUEST,
                &["Field validation failed: error converting input for field \"version\""],
            );
        }
    };
    let namespace = headers
        .get("x-vault-namespace")
        .and_then(|v| v.to_str().ok())
        .map(|n| n.trim_matches('/').to_owned())
        .filter(|n| !n.is_empty());
    let namespace = namespace.as_deref();
    let Some(current) = current_version(&state, namespace, &mount, path) else {
        return errors(StatusCode::NOT_FOUND, &[]);
    };
    let version = if asked == 0 { current } else { asked };
    let found = state
        .secrets
        .iter()
        .find(|s| s.is(namespace, &mount, path) && s.version == version);
    let Some(s) = found else {
        return errors(StatusCode::NOT_FOUND, &[]);
    };
    let metadata = json!({
        "created_time": "2025-01-01T00:00:00Z", "custom_metadata": null,
        "deletion_time": if s.deleted { "2025-01-02T00:00:00Z" } else { "" },
        "destroyed": s.destroyed, "version": s.version,
    });
    let (status, data) = if s.deleted || s.destroyed {
        (StatusCode::NOT_FOUND, Value::Null)
    } else {
        (StatusCode::OK, Value::Object(s.data.clone()))
    };
    json(
        status,
        json!({
            "request_id": uuid::Uuid::new_v4().to_string(), "lease_id": "", "renewable": false, "lease_duration": 0,
            "data": { "data": data, "metadata": metadata },
            "wrap_info": null, "warnings": null, "auth": null,
        }),
    )
}
