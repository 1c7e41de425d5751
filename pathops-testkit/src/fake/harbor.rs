//! [`FakeHarbor`]: the Harbor v2 calls PathOps uses, as Harbor's v2 API documents
//! them.
//!
//! | call | behaviour |
//! |---|---|
//! | `GET /api/v2.0/ping` | `200 text/plain` `Pong`, no auth |
//! | `GET /api/v2.0/health` | always 200; `status` is `healthy` only when every component is; components sorted by name |
//! | `GET /api/v2.0/systeminfo` | anonymous fields; authenticated callers also get `harbor_version`, `external_url`, … |
//! | `GET /api/v2.0/users/current` | 200 for a user, **412** for a robot account, 401 for anonymous |
//! | `GET /api/v2.0/projects` | public projects for anonymous callers, plus the robot's or all for an admin; `page`/`page_size`, `X-Total-Count`, `Link` |
//! | `GET /service/token` | the registry's token service: a token for valid Basic credentials or none (anonymous); **401 for wrong ones** |
//! | `GET /v2/` | the registry: `401` + `Bearer realm="<harbor>/service/token",service="harbor-registry"` without a token, `200` with one |
//!
//! Authentication is HTTP Basic for users and robot accounts (`robot$<project>+<name>`). **Bad
//! credentials are not refused**: like Harbor, the request continues as anonymous. Every
//! answer carries `X-Request-Id` (the caller's, or a fresh one). Error bodies are
//! `{"errors":[{"code":…,"message":…}]}`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::FakeServer;
use super::server::{json, unexpected};

/// A local user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HarborUser {
    /// Login.
    pub username: String,
    /// Password.
    pub password: String,
    /// Harbor administrator: sees every project.
    #[serde(default)]
    pub sysadmin: bool,
}

/// A robot account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HarborRobot {
    /// Full name, e.g. `robot$ci+pathops`.
    pub name: String,
    /// The secret (checked as the Basic password).
    pub secret: String,
    /// Disabled robots are treated as anonymous.
    #[serde(default)]
    pub disabled: bool,
    /// Projects it may read.
    #[serde(default)]
    pub projects: Vec<String>,
}

/// A project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HarborProject {
    /// Numeric id.
    pub project_id: u64,
    /// Name.
    pub name: String,
    /// Public projects are visible to anonymous callers.
    #[serde(default)]
    pub public: bool,
}

/// A health component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HarborComponent {
    /// `core`, `database`, `registry`, …
    pub name: String,
    /// `healthy` or `unhealthy`.
    pub status: String,
    /// Why it is unhealthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Everything a fake Harbor starts with: the JSON seed file of `pathops-fake harbor`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HarborSeed {
    /// `harbor_version` (default [`FakeHarbor::DEFAULT_VERSION`]).
    #[serde(default)]
    pub version: Option<String>,
    /// Users.
    #[serde(default)]
    pub users: Vec<HarborUser>,
    /// Robot accounts.
    #[serde(default)]
    pub robots: Vec<HarborRobot>,
    /// Projects.
    #[serde(default)]
    pub projects: Vec<HarborProject>,
    /// Health components (default: the seven standard ones, all healthy).
    #[serde(default)]
    pub components: Vec<HarborComponent>,
}

#[derive(Debug)]
struct Shared {
    base: String,
    version: String,
    state: Mutex<HarborSeed>,
    /// Registry tokens issued by `/service/token`.
    tokens: Mutex<Vec<String>>,
}

enum Principal {
    Anonymous,
    User(HarborUser),
    Robot(HarborRobot),
}

/// A fake Harbor; see the [module docs](self). Dereferences to its [`FakeServer`].
#[derive(Debug)]
pub struct FakeHarbor {
    server: FakeServer,
    shared: Arc<Shared>,
}

impl Deref for FakeHarbor {
    type Target = FakeServer;
    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

impl FakeHarbor {
    /// The version reported unless the seed says otherwise.
    pub const DEFAULT_VERSION: &'static str = "v2.13.0-fake";
    /// [`start_with_defaults`](Self::start_with_defaults): the robot account.
    pub const ROBOT: &'static str = "robot$ci+pathops";
    /// [`start_with_defaults`](Self::start_with_defaults): the robot's secret.
    pub const ROBOT_SECRET: &'static str = "harbor-robot-secret-000";
    /// [`start_with_defaults`](Self::start_with_defaults): the admin user.
    pub const ADMIN: &'static str = "admin";
    /// [`start_with_defaults`](Self::start_with_defaults): the admin's password.
    pub const ADMIN_PASSWORD: &'static str = "Harbor12345";
    /// The standard health components.
    pub const COMPONENTS: [&'static str; 7] = [
        "core",
        "database",
        "jobservice",
        "portal",
        "redis",
        "registry",
        "registryctl",
    ];

    /// An empty fake (standard healthy components).
    pub async fn start() -> Self {
        Self::start_with(HarborSeed::default()).await
    }

    /// A fake with [`ROBOT`](Self::ROBOT) (project `ci`), [`ADMIN`](Self::ADMIN), a public
    /// `library` and a private `ci` project.
    pub async fn start_with_defaults() -> Self {
        Self::start_with(Self::default_seed()).await
    }

    /// The seed of [`start_with_defaults`](Self::start_with_defaults).
    pub fn default_seed() -> HarborSeed {
        HarborSeed {
            version: None,
            users: vec![HarborUser {
                username: Self::ADMIN.to_owned(),
                password: Self::ADMIN_PASSWORD.to_owned(),
                sysadmin: true,
            }],
            robots: vec![HarborRobot {
                name: Self::ROBOT.to_owned(),
                secret: Self::ROBOT_SECRET.to_owned(),
                disabled: false,
                projects: vec!["ci".to_owned()],
            }],
            projects: vec![
                HarborProject {
                    project_id: 1,
                    name: "library".to_owned(),
                    public: true,
                },
                HarborProject {
                    project_id: 2,
                    name: "ci".to_owned(),
                    public: false,
                },
            ],
            components: Vec::new(),
        }
    }

    /// A fake seeded with `seed` on `127.0.0.1:0`.
    pub async fn start_with(seed: HarborSeed) -> Self {
        Self::start_on("127.0.0.1:0".parse().expect("a socket address"), seed)
            .await
            .expect("bind 127.0.0.1:0")
    }

    /// A fake seeded with `seed` on `listen`.
    pub async fn start_on(listen: SocketAddr, mut seed: HarborSeed) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let base = format!("http://{}", listener.local_addr()?);
        if seed.components.is_empty() {
            seed.components = Self::COMPONENTS
                .iter()
                .map(|n| HarborComponent {
                    name: (*n).to_owned(),
                    status: "healthy".to_owned(),
                    error: None,
                })
                .collect();
        }
        let shared = Arc::new(Shared {
            base,
            version: seed
                .version
                .clone()
                .unwrap_or_else(|| Self::DEFAULT_VERSION.to_owned()),
            state: Mutex::new(seed),
            tokens: Mutex::new(Vec::new()),
        });
        let server = FakeServer::serve(listener, router(shared.clone()));
        Ok(Self { server, shared })
    }

    /// Sets a component's status (`healthy`/`unhealthy`) and error, adding it if new.
    pub fn set_component(&self, name: &str, status: &str, error: Option<&str>) {
        let mut state = self.shared.state.lock().expect("fake harbor lock");
        state.components.retain(|c| c.name != name);
        state.components.push(HarborComponent {
            name: name.to_owned(),
            status: status.to_owned(),
            error: error.map(str::to_owned),
        });
    }

    /// Adds a robot account.
    pub fn add_robot(&self, robot: HarborRobot) {
        self.shared
            .state
            .lock()
            .expect("fake harbor lock")
            .robots
            .push(robot);
    }
}

type S = State<Arc<Shared>>;

fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route(
            "/ping",
            get(|| async { ([("content-type", "text/plain")], "Pong") }),
        )
        .route("/health", get(health))
        .route("/systeminfo", get(systeminfo))
        .route("/users/current", get(current_user))
        .route("/projects", get(projects));
    Router::new()
        .nest("/api/v2.0", api)
        .route("/service/token", get(registry_token))
        .route("/v2/", get(registry_base))
        .fallback(
            |method: Method, uri: Uri| async move { unexpected("fake Harbor", &method, &uri) },
        )
        .layer(axum::middleware::from_fn(
            |req: axum::extract::Request, next: axum::middleware::Next| async move {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .cloned()
                    .or_else(|| HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()).ok());
                let mut response = next.run(req).await;
                if let Some(id) = id {
                    response.headers_mut().insert("x-request-id", id);
                }
                response
            },
        ))
        .with_state(shared)
}

/// Harbor core's registry token service: valid Basic credentials (user or robot) or none
/// (an anonymous token) get a token; wrong ones are refused, unlike on the API.
async fn registry_token(State(s): S, headers: HeaderMap) -> Response {
    let presented = headers.contains_key("authorization");
    let principal = principal(&s.state.lock().expect("fake harbor lock"), &headers);
    if presented && matches!(principal, Principal::Anonymous) {
        return error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "authentication required",
        );
    }
    let token = format!("fake-harbor-registry-{}", uuid::Uuid::new_v4().simple());
    s.tokens
        .lock()
        .expect("fake harbor lock")
        .push(token.clone());
    json(
        StatusCode::OK,
        json!({"token": token, "access_token": token, "expires_in": 1800}),
    )
}

/// The registry's `/v2/`: `401` with the Bearer challenge of Harbor's token service without
/// one of its tokens.
async fn registry_base(State(s): S, headers: HeaderMap) -> Response {
    let valid = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| {
            s.tokens
                .lock()
                .expect("fake harbor lock")
                .iter()
                .any(|k| k == t)
        });
    let mut response = if valid {
        json(StatusCode::OK, json!({}))
    } else {
        let mut r = error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "authentication required",
        );
        let challenge = format!(
            "Bearer realm=\"{}/service/token\",service=\"harbor-registry\"",
            s.base
        );
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            r.headers_mut().insert("www-authenticate", v);
        }
        r
    };
    response.headers_mut().insert(
        "docker-distribution-api-version",
        HeaderValue::from_static("registry/2.0"),
    );
    response
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    json(
        status,
        json!({"errors": [{"code": code, "message": message}]}),
    )
}

/// The caller: a valid user or robot, else anonymous (bad credentials included).
fn principal(state: &HarborSeed, headers: &HeaderMap) -> Principal {
    let Some((name, password)) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|text| {
            text.split_once(':')
                .map(|(u, p)| (u.to_owned(), p.to_owned()))
        })
    else {
        return Principal::Anonymous;
    };
    if let Some(robot) = state
        .robots
        .iter()
        .find(|r| r.name == name && r.secret == password && !r.disabled)
    {
        return Principal::Robot(robot.clone());
    }
    if let Some(user) = state
        .users
        .iter()
        .find(|u| u.username == name && u.password == password)
    {
        return Principal::User(user.clone());
    }
    Principal::Anonymous
}

async fn health(State(s): S) -> Response {
    let state = s.state.lock().expect("fake harbor lock");
    let mut components = state.components.clone();
    components.sort_by(|a, b| a.name.cmp(&b.name));
    let healthy = components.iter().all(|c| c.status == "healthy");
    json(
        StatusCode::OK,
        json!({"status": if healthy { "healthy" } else { "unhealthy" }, "components": components}),
    )
}

async fn systeminfo(State(s): S, headers: HeaderMap) -> Response {
    let state = s.state.lock().expect("fake harbor lock");
    let mut info = json!({
        "auth_mode": "db_auth",
        "primary_auth_mode": false,
        "self_registration": false,
        "banner_message": "",
        "oidc_provider_name": null,
        "authproxy_settings": null,
    });
    if !matches!(principal(&state, &headers), Principal::Anonymous) {
        let host = s.base.trim_start_matches("http://");
        for (k, v) in [
            ("harbor_version", json!(s.version)),
            ("external_url", json!(s.base)),
            ("registry_url", json!(host)),
            ("has_ca_root", json!(false)),
            ("project_creation_restriction", json!("everyone")),
            ("read_only", json!(false)),
            ("registry_storage_provider_name", json!("filesystem")),
            ("notification_enable", json!(true)),
            (
                "current_time",
                json!(time::OffsetDateTime::now_utc().unix_timestamp()),
            ),
        ] {
            info[k] = v;
        }
    }
    json(StatusCode::OK, info)
}

async fn current_user(State(s): S, headers: HeaderMap) -> Response {
    let state = s.state.lock().expect("fake harbor lock");
    match principal(&state, &headers) {
        Principal::Anonymous => error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "UnAuthorized"),
        Principal::Robot(_) => error(
            StatusCode::PRECONDITION_FAILED,
            "PRECONDITION",
            "can't get user info when authenticated by a robot account",
        ),
        Principal::User(u) => json(
            StatusCode::OK,
            json!({
                "user_id": 1, "username": u.username, "email": format!("{}@example.test", u.username),
                "realname": u.username, "sysadmin_flag": u.sysadmin, "admin_role_in_auth": false,
                "creation_time": "2025-01-01T00:00:00.000Z",
            }),
        ),
    }
}

async fn projects(
    State(s): S,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let state = s.state.lock().expect("fake harbor lock");
    let who = principal(&state, &headers);
    let visible: Vec<Value> = state
        .projects
        .iter()
        .filter(|p| match &who {
            Principal::Anonymous => p.public,
            Principal::User(u) => p.public || u.sysadmin,
            Principal::Robot(r) => p.public || r.projects.contains(&p.name),
        })
        .map(|p| {
            json!({
                "project_id": p.project_id, "name": p.name,
                "metadata": {"public": if p.public { "true" } else { "false" }},
            })
        })
        .collect();
    let size = q
        .get("page_size")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(10)
        .clamp(1, 100);
    let page = q
        .get("page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let total = visible.len();
    let items: Vec<Value> = visible
        .into_iter()
        .skip((page - 1) * size)
        .take(size)
        .collect();
    let mut response = (StatusCode::OK, axum::Json(Value::Array(items))).into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&total.to_string()) {
        h.insert("x-total-count", v);
    }
    if page * size < total
        && let Ok(v) = HeaderValue::from_str(&format!(
            "</api/v2.0/projects?page={}&page_size={size}>; rel=\"next\"",
            page + 1
        ))
    {
        h.insert("link", v);
    }
    response
}
