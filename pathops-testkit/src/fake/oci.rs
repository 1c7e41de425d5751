//! [`FakeOciRegistry`]: the Distribution API calls PathOps makes, in the flavours of the
//! registries that differ in where their token service is.
//!
//! | flavour | token service | what else |
//! |---|---|---|
//! | [`Flavor::Generic`] | `/token` on the registry | |
//! | [`Flavor::DockerHub`] | `/token` on a **second** server (like `auth.docker.io`), service `registry.docker.io` | `ratelimit-limit: 100;w=21600`, `ratelimit-remaining`, `docker-ratelimit-source` on repository calls |
//! | [`Flavor::Ghcr`] | `/token` on the registry, service `ghcr.io` | |
//! | [`Flavor::Quay`] | `/v2/auth` on the registry, service `quay.io` | robot users named `namespace+robot` |
//!
//! | call | behaviour |
//! |---|---|
//! | `GET /v2/` | `401` with `WWW-Authenticate: Bearer realm=…,service=…` and an `UNAUTHORIZED` error body without a valid token; `200 {}` with one; `Docker-Distribution-API-Version: registry/2.0` always |
//! | `GET <token service>?service=…&scope=…` | Basic credentials checked (`401` when wrong); an opaque token carrying the granted part of each scope (insufficient access is not refused), `expires_in` 300 |
//! | `GET /v2/<name>/tags/list` | `401` + challenge with `scope="repository:<name>:pull"` without a token, plus `error="insufficient_scope"` when the token lacks pull; `404 NAME_UNKNOWN` for an unknown repository; else `{"name","tags"}` |

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use serde_json::json;

use super::FakeServer;

/// Which registry the fake behaves like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// A distribution registry with its token service on the same origin.
    Generic,
    /// Docker Hub: the token service on another host.
    DockerHub,
    /// GitHub Container Registry.
    Ghcr,
    /// Quay.
    Quay,
}

impl Flavor {
    fn service(self) -> &'static str {
        match self {
            Self::Generic => "fake-registry",
            Self::DockerHub => "registry.docker.io",
            Self::Ghcr => "ghcr.io",
            Self::Quay => "quay.io",
        }
    }

    fn token_path(self) -> &'static str {
        match self {
            Self::Quay => "/v2/auth",
            _ => "/token",
        }
    }
}

#[derive(Default)]
struct Shared {
    /// user → (password, repositories it may pull)
    users: HashMap<String, (String, Vec<String>)>,
    repositories: Vec<String>,
    /// token → granted `repository:<name>:pull` scopes
    tokens: HashMap<String, Vec<String>>,
    token_requests: usize,
}

#[derive(Clone)]
struct Fake {
    flavor: Flavor,
    realm: String,
    shared: Arc<Mutex<Shared>>,
}

impl Fake {
    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A fake registry (and, for Docker Hub, its separate token service); stops when dropped.
#[derive(Debug)]
pub struct FakeOciRegistry {
    registry: FakeServer,
    auth: Option<FakeServer>,
    shared: Arc<Mutex<Shared>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("users", &self.users.len())
            .field("tokens", &self.tokens.len())
            .finish_non_exhaustive()
    }
}

impl FakeOciRegistry {
    /// The user every flavour knows.
    pub const USER: &'static str = "pathops-ci";
    /// Its password (or PAT, or robot token).
    pub const PASSWORD: &'static str = "fake-registry-password-0001";
    /// A user whose credentials are valid but who may pull nothing.
    pub const STRANGER: &'static str = "stranger";
    /// The repository that exists and [`USER`](Self::USER) may pull.
    pub const REPOSITORY: &'static str = "team/app";

    /// Starts a fake of `flavor` with [`USER`](Self::USER) (pull on
    /// [`REPOSITORY`](Self::REPOSITORY)) and [`STRANGER`](Self::STRANGER) (same password, no
    /// grants).
    pub async fn start(flavor: Flavor) -> Self {
        let loopback: SocketAddr = "127.0.0.1:0".parse().expect("address");
        let shared = Arc::new(Mutex::new(Shared {
            users: HashMap::from([
                (
                    Self::USER.to_owned(),
                    (Self::PASSWORD.to_owned(), vec![Self::REPOSITORY.to_owned()]),
                ),
                (
                    Self::STRANGER.to_owned(),
                    (Self::PASSWORD.to_owned(), Vec::new()),
                ),
            ]),
            repositories: vec![Self::REPOSITORY.to_owned()],
            ..Shared::default()
        }));
        let registry_listener = tokio::net::TcpListener::bind(loopback).await.expect("bind");
        let registry_addr = registry_listener.local_addr().expect("addr");
        let (auth, realm) = if flavor == Flavor::DockerHub {
            let listener = tokio::net::TcpListener::bind(loopback).await.expect("bind");
            let realm = format!("http://{}/token", listener.local_addr().expect("addr"));
            let fake = Fake {
                flavor,
                realm: realm.clone(),
                shared: shared.clone(),
            };
            let router = Router::new().route("/token", get(token)).with_state(fake);
            (Some(FakeServer::serve(listener, router)), realm)
        } else {
            (
                None,
                format!("http://{registry_addr}{}", flavor.token_path()),
            )
        };
        let fake = Fake {
            flavor,
            realm,
            shared: shared.clone(),
        };
        let mut router = Router::new()
            .route("/v2/", get(base))
            .route("/v2/{*rest}", get(repository));
        if flavor != Flavor::DockerHub {
            router = router.route(flavor.token_path(), get(token));
        }
        let registry = FakeServer::serve(registry_listener, router.with_state(fake));
        Self {
            registry,
            auth,
            shared,
        }
    }

    /// The registry's URL.
    pub fn url(&self) -> String {
        self.registry.url()
    }

    /// The origin of the token service when it is another server (Docker Hub), else `None`.
    pub fn auth_origin(&self) -> Option<String> {
        self.auth.as_ref().map(FakeServer::url)
    }

    /// Token requests answered or refused so far.
    pub fn token_requests(&self) -> usize {
        self.shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .token_requests
    }

    /// Forgets every token issued so far, as a registry does when a token is revoked or its
    /// signing key rotated: they are refused from now on.
    pub fn revoke_tokens(&self) {
        self.shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .tokens
            .clear();
    }

    /// Makes every answer (registry and token service) take at least `latency`.
    pub fn set_latency(&self, latency: Duration) {
        self.registry.set_latency(latency);
        if let Some(auth) = &self.auth {
            auth.set_latency(latency);
        }
    }

    /// The registry server (request log, faults).
    pub fn server(&self) -> &FakeServer {
        &self.registry
    }
}

fn errors(
    status: StatusCode,
    code: &str,
    message: &str,
) -> (StatusCode, axum::Json<serde_json::Value>) {
    (
        status,
        axum::Json(json!({"errors": [{"code": code, "message": message, "detail": null}]})),
    )
}

/// The bearer token of a request, when it is one the fake issued: its grants.
fn grants(fake: &Fake, headers: &HeaderMap) -> Option<Vec<String>> {
    let token = headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    fake.lock().tokens.get(token).cloned()
}

fn challenge(fake: &Fake, scope: Option<&str>, insufficient: bool) -> String {
    let mut value = format!(
        "Bearer realm=\"{}\",service=\"{}\"",
        fake.realm,
        fake.flavor.service()
    );
    if let Some(scope) = scope {
        value.push_str(&format!(",scope=\"{scope}\""));
    }
    if insufficient {
        value.push_str(",error=\"insufficient_scope\"");
    }
    value
}

const API_VERSION: (&str, &str) = ("docker-distribution-api-version", "registry/2.0");

async fn base(State(fake): State<Fake>, headers: HeaderMap) -> Response {
    if grants(&fake, &headers).is_none() {
        let (status, body) = errors(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "authentication required",
        );
        return (
            status,
            [("www-authenticate", challenge(&fake, None, false))],
            [API_VERSION],
            body,
        )
            .into_response();
    }
    (StatusCode::OK, [API_VERSION], axum::Json(json!({}))).into_response()
}

async fn repository(State(fake): State<Fake>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().trim_start_matches("/v2/");
    let Some(name) = path.strip_suffix("/tags/list") else {
        return super::server::unexpected("the fake registry", &axum::http::Method::GET, &uri);
    };
    let scope = format!("repository:{name}:pull");
    let rate = fake.flavor == Flavor::DockerHub;
    let limits = [
        ("ratelimit-limit", if rate { "100;w=21600" } else { "" }),
        ("ratelimit-remaining", if rate { "99;w=21600" } else { "" }),
        (
            "docker-ratelimit-source",
            if rate { "192.0.2.1" } else { "" },
        ),
    ];
    let mut response = match grants(&fake, &headers) {
        None => {
            let (status, body) = errors(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "authentication required",
            );
            (
                status,
                [("www-authenticate", challenge(&fake, Some(&scope), false))],
                body,
            )
                .into_response()
        }
        Some(granted) if !granted.contains(&scope) => {
            let (status, body) = errors(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "authentication required",
            );
            (
                status,
                [("www-authenticate", challenge(&fake, Some(&scope), true))],
                body,
            )
                .into_response()
        }
        Some(_) if !fake.lock().repositories.iter().any(|r| r == name) => errors(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            "repository name not known to registry",
        )
        .into_response(),
        Some(_) => axum::Json(json!({"name": name, "tags": ["latest"]})).into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(API_VERSION.0, API_VERSION.1.parse().expect("header"));
    for (name, value) in limits.into_iter().filter(|(_, v)| !v.is_empty()) {
        headers.insert(name, value.parse().expect("header"));
    }
    response
}

async fn token(
    State(fake): State<Fake>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let mut shared = fake.lock();
    shared.token_requests += 1;
    let credentials = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let allowed: Vec<String> = match credentials.as_deref().and_then(|c| c.split_once(':')) {
        Some((user, password)) => match shared.users.get(user) {
            Some((known, repos)) if known == password => repos.clone(),
            _ => {
                return (
                    StatusCode::UNAUTHORIZED,
                    axum::Json(json!({"details": "incorrect username or password"})),
                )
                    .into_response();
            }
        },
        // Anonymous tokens carry nothing.
        None => Vec::new(),
    };
    if query
        .iter()
        .any(|(k, v)| k == "service" && v != fake.flavor.service())
    {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"details": "unknown service"})),
        )
            .into_response();
    }
    let granted: Vec<String> = query
        .iter()
        .filter(|(k, _)| k == "scope")
        .filter_map(|(_, scope)| {
            let name = scope.strip_prefix("repository:")?.rsplit_once(':')?.0;
            allowed
                .iter()
                .any(|r| r == name)
                .then(|| format!("repository:{name}:pull"))
        })
        .collect();
    let token = format!("fake-oci-{}", uuid::Uuid::new_v4().simple());
    shared.tokens.insert(token.clone(), granted);
    axum::Json(json!({"token": token, "access_token": token, "expires_in": 300})).into_response()
}
