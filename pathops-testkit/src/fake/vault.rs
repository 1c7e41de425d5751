//! [`FakeVault`]: the HashiCorp Vault calls the PathOps resolver uses, as Vault's API documents
//! them.
//!
//! | call | behaviour |
//! |---|---|
//! | `GET/HEAD /v1/sys/health` | 200 active, 429 standby, 501 not initialized, 503 sealed; body with `initialized`, `sealed`, `standby`, `version`, … |
//! | `GET /v1/auth/token/lookup-self` | the token's data; **403** `{"errors":["permission denied"]}` for a bad token |
//! | `GET /v1/<mount>/data/<path>` | KV v2 envelope with `data.data` and `data.metadata`; 404 `{"errors":[]}` when missing; 403 for a bad token; 503 when sealed |
//!
//! Tokens come from `X-Vault-Token` or `Authorization: Bearer`. Secrets live in a namespace
//! (none by default), selected by `X-Vault-Namespace`.

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
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
    /// Policies attached.
    #[serde(default)]
    pub policies: Vec<String>,
    /// Seconds left.
    #[serde(default = "hour")]
    pub ttl: u64,
    /// Display name.
    #[serde(default)]
    pub display_name: String,
}

fn hour() -> u64 {
    3600
}

/// A KV v2 secret.
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
    /// Current version.
    #[serde(default = "one")]
    pub version: u64,
}

fn one() -> u64 {
    1
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
        let mut data = serde_json::Map::new();
        data.insert("token".into(), json!(Self::GITLAB_TOKEN));
        VaultSeed {
            tokens: vec![VaultToken {
                token: Self::TOKEN.to_owned(),
                policies: vec!["default".to_owned(), "pathops".to_owned()],
                ttl: 3600,
                display_name: "token-pathops".to_owned(),
            }],
            secrets: vec![VaultSecret {
                namespace: None,
                mount: "secret".to_owned(),
                path: "gitlab/ci".to_owned(),
                data,
                version: 3,
            }],
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

    /// Adds or replaces a secret.
    pub fn put_secret(&self, secret: VaultSecret) {
        let mut state = self.state.lock().expect("fake vault lock");
        state.secrets.retain(|s| {
            !(s.namespace == secret.namespace && s.mount == secret.mount && s.path == secret.path)
        });
        state.secrets.push(secret);
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
) -> Response {
    let state = state.lock().expect("fake vault lock");
    if state.health.sealed {
        return errors(StatusCode::SERVICE_UNAVAILABLE, &["Vault is sealed"]);
    }
    if token(&state, &headers).is_none() {
        return errors(StatusCode::FORBIDDEN, &["permission denied"]);
    }
    let namespace = headers
        .get("x-vault-namespace")
        .and_then(|v| v.to_str().ok())
        .map(|n| n.trim_matches('/').to_owned())
        .filter(|n| !n.is_empty());
    let found = state.secrets.iter().find(|s| {
        s.mount == mount
            && s.path == path.trim_matches('/')
            && s.namespace.as_deref().map(|n| n.trim_matches('/')) == namespace.as_deref()
    });
    match found {
        None => errors(StatusCode::NOT_FOUND, &[]),
        Some(s) => json(
            StatusCode::OK,
            json!({
                "request_id": uuid::Uuid::new_v4().to_string(), "lease_id": "", "renewable": false, "lease_duration": 0,
                "data": {
                    "data": s.data,
                    "metadata": {"created_time": "2025-01-01T00:00:00Z", "custom_metadata": null,
                                 "deletion_time": "", "destroyed": false, "version": s.version},
                },
                "wrap_info": null, "warnings": null, "auth": null,
            }),
        ),
    }
}
