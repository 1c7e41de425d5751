//! [`FakeCircleCi`]: the CircleCI API v2 calls PathOps makes, as CircleCI documents them and
//! its users report them.
//!
//! | call | behaviour |
//! |---|---|
//! | `GET /api/v2/me` | a personal API token: 200 `{"id","login","name"}`; anything else — no token, an unknown or revoked token, **a project API token** — 401 `{"message":"You must log in first."}` |
//! | `GET /api/v2/project/{vcs}/{org}/{repo}` | a personal token whose user may see the project: 200 with `slug`, `name`, `id`, `organization_name`, `organization_slug`, `organization_id`, `vcs_info`; otherwise — including a project token, even for its own project — 404 `{"message":"Project not found"}` |
//!
//! The token comes from the `Circle-Token` header, or HTTP Basic with the token as user name
//! and an empty password. CircleCI documents that only personal tokens work on API v2; how v2
//! answers a project token (401 on `/me`, 404 on project endpoints) is what users report,
//! and the fake answers it that way, exactly like an unknown token. With
//! [`set_rate_limited`](FakeCircleCi::set_rate_limited) every call answers 429
//! `{"message":"Rate limit exceeded"}` with `Retry-After` (seconds).
//!
//! [`start_with_defaults`](FakeCircleCi::start_with_defaults) seeds project
//! [`PROJECT_SLUG`](FakeCircleCi::PROJECT_SLUG) (`gh/acme/api`), visible to
//! [`LOGIN`](FakeCircleCi::LOGIN), and project `gh/acme/secret`, visible to nobody:
//!
//! | token | what a check with it gives |
//! |---|---|
//! | [`PERSONAL_TOKEN`](FakeCircleCi::PERSONAL_TOKEN) | healthy: `/me` is [`LOGIN`](FakeCircleCi::LOGIN) (`pathops-bot`), the project is visible |
//! | [`REVOKED_TOKEN`](FakeCircleCi::REVOKED_TOKEN) | broken: revoked, 401 |
//! | [`PROJECT_TOKEN`](FakeCircleCi::PROJECT_TOKEN) | broken: a project API token of `gh/acme/api`, refused by v2 exactly like a bad token |

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::FakeServer;
use super::server::{json, unexpected};

/// A user with personal API tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircleCiUser {
    /// The user's UUID.
    pub id: String,
    /// The VCS login.
    pub login: String,
    /// The display name.
    #[serde(default)]
    pub name: String,
    /// Personal API tokens.
    #[serde(default)]
    pub tokens: Vec<String>,
}

/// A project API token (v1 only: API v2 refuses it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircleCiProjectToken {
    /// The token.
    pub token: String,
    /// The project it was created in.
    pub project_slug: String,
}

/// A project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircleCiProject {
    /// `gh/<org>/<repo>`.
    pub slug: String,
    /// The project's UUID.
    pub id: String,
    /// Logins of the users who may see it.
    #[serde(default)]
    pub visible_to: Vec<String>,
}

/// Everything a fake CircleCI starts with: the JSON seed file of `pathops-fake circleci`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircleCiSeed {
    /// Users and their personal tokens.
    #[serde(default)]
    pub users: Vec<CircleCiUser>,
    /// Project API tokens.
    #[serde(default)]
    pub project_tokens: Vec<CircleCiProjectToken>,
    /// Projects.
    #[serde(default)]
    pub projects: Vec<CircleCiProject>,
    /// When set, every call answers 429 with this `Retry-After` (seconds).
    #[serde(default)]
    pub rate_limited_for: Option<u64>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<CircleCiSeed>,
}

/// A fake CircleCI; see the [module docs](self). Dereferences to its [`FakeServer`].
#[derive(Debug)]
pub struct FakeCircleCi {
    server: FakeServer,
    shared: Arc<Shared>,
}

impl Deref for FakeCircleCi {
    type Target = FakeServer;
    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

impl FakeCircleCi {
    /// [`start_with_defaults`](Self::start_with_defaults): the user's login.
    pub const LOGIN: &'static str = "pathops-bot";
    /// [`LOGIN`](Self::LOGIN)'s personal API token.
    pub const PERSONAL_TOKEN: &'static str = "CCIPAT_fakePathops0000000000_aa11bb22cc33";
    /// A personal token of [`LOGIN`](Self::LOGIN) that was revoked.
    pub const REVOKED_TOKEN: &'static str = "CCIPAT_fakePathops0000000000_revoked00";
    /// A project API token of [`PROJECT_SLUG`](Self::PROJECT_SLUG).
    pub const PROJECT_TOKEN: &'static str = "fake0project0token0for0acme0api0000000a1";
    /// The project [`LOGIN`](Self::LOGIN) can see.
    pub const PROJECT_SLUG: &'static str = "gh/acme/api";
    /// A project nobody can see.
    pub const HIDDEN_PROJECT_SLUG: &'static str = "gh/acme/secret";

    /// An empty fake.
    pub async fn start() -> Self {
        Self::start_with(CircleCiSeed::default()).await
    }

    /// A fake seeded with [`default_seed`](Self::default_seed).
    pub async fn start_with_defaults() -> Self {
        Self::start_with(Self::default_seed()).await
    }

    /// The user, tokens and projects of the [module docs](self).
    pub fn default_seed() -> CircleCiSeed {
        CircleCiSeed {
            users: vec![CircleCiUser {
                id: "5d8c1a0e-4b7f-4f0e-9a53-1c2b3d4e5f60".to_owned(),
                login: Self::LOGIN.to_owned(),
                name: "PathOps Bot".to_owned(),
                tokens: vec![Self::PERSONAL_TOKEN.to_owned()],
            }],
            project_tokens: vec![CircleCiProjectToken {
                token: Self::PROJECT_TOKEN.to_owned(),
                project_slug: Self::PROJECT_SLUG.to_owned(),
            }],
            projects: vec![
                CircleCiProject {
                    slug: Self::PROJECT_SLUG.to_owned(),
                    id: "0b6a3f5e-2d1c-4e8b-9f7a-6c5d4e3b2a10".to_owned(),
                    visible_to: vec![Self::LOGIN.to_owned()],
                },
                CircleCiProject {
                    slug: Self::HIDDEN_PROJECT_SLUG.to_owned(),
                    id: "7e2d9c4b-1a0f-4b3e-8d2c-5f6e7a8b9c01".to_owned(),
                    visible_to: Vec::new(),
                },
            ],
            rate_limited_for: None,
        }
    }

    /// A fake seeded with `seed` on `127.0.0.1:0`.
    pub async fn start_with(seed: CircleCiSeed) -> Self {
        Self::start_on("127.0.0.1:0".parse().expect("a socket address"), seed)
            .await
            .expect("bind 127.0.0.1:0")
    }

    /// A fake seeded with `seed` on `listen`.
    pub async fn start_on(listen: SocketAddr, seed: CircleCiSeed) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(seed),
        });
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let server = FakeServer::serve(listener, router(shared.clone()));
        Ok(Self { server, shared })
    }

    /// Every call answers 429 with `Retry-After: <seconds>` (`Some`), or normally (`None`).
    pub fn set_rate_limited(&self, retry_after: Option<u64>) {
        self.shared
            .state
            .lock()
            .expect("fake circleci lock")
            .rate_limited_for = retry_after;
    }

    /// Revokes a personal token.
    pub fn revoke_token(&self, token: &str) {
        let mut state = self.shared.state.lock().expect("fake circleci lock");
        for u in &mut state.users {
            u.tokens.retain(|t| t != token);
        }
    }
}

type S = State<Arc<Shared>>;

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/v2/me", get(me))
        .route("/api/v2/project/{vcs}/{org}/{repo}", get(project))
        .fallback(
            |method: Method, uri: Uri| async move { unexpected("fake CircleCI", &method, &uri) },
        )
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            rate_limit,
        ))
        .with_state(shared)
}

async fn rate_limit(State(s): S, req: Request, next: Next) -> Response {
    let limited = s.state.lock().expect("fake circleci lock").rate_limited_for;
    match limited {
        Some(seconds) => {
            let mut response = json(
                StatusCode::TOO_MANY_REQUESTS,
                json!({"message": "Rate limit exceeded"}),
            );
            if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert("retry-after", v);
            }
            response
        }
        None => next.run(req).await,
    }
}

/// `Circle-Token`, or Basic with the token as user name.
fn token(headers: &HeaderMap) -> Option<String> {
    if let Some(t) = headers.get("circle-token").and_then(|v| v.to_str().ok()) {
        return Some(t.trim().to_owned());
    }
    let encoded = headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    Some(
        text.split_once(':')
            .map_or(text.as_str(), |(u, _)| u)
            .to_owned(),
    )
}

/// The user of a personal token; project tokens and unknown ones are nobody on v2.
fn user(state: &CircleCiSeed, headers: &HeaderMap) -> Option<CircleCiUser> {
    let token = token(headers)?;
    state
        .users
        .iter()
        .find(|u| u.tokens.contains(&token))
        .cloned()
}

async fn me(State(s): S, headers: HeaderMap) -> Response {
    let state = s.state.lock().expect("fake circleci lock");
    match user(&state, &headers) {
        Some(u) => json(
            StatusCode::OK,
            json!({"id": u.id, "login": u.login, "name": u.name}),
        ),
        None => json(
            StatusCode::UNAUTHORIZED,
            json!({"message": "You must log in first."}),
        ),
    }
}

async fn project(
    State(s): S,
    headers: HeaderMap,
    Path((vcs, org, repo)): Path<(String, String, String)>,
) -> Response {
    let state = s.state.lock().expect("fake circleci lock");
    let slug = format!("{vcs}/{org}/{repo}");
    let found = user(&state, &headers).and_then(|u| {
        state
            .projects
            .iter()
            .find(|p| p.slug == slug && p.visible_to.contains(&u.login))
            .cloned()
    });
    let Some(p) = found else {
        return json(
            StatusCode::NOT_FOUND,
            json!({"message": "Project not found"}),
        );
    };
    let host = match vcs.as_str() {
        "bb" | "bitbucket" => ("https://bitbucket.org", "Bitbucket"),
        _ => ("https://github.com", "GitHub"),
    };
    json(
        StatusCode::OK,
        json!({
            "slug": p.slug,
            "name": repo,
            "id": p.id,
            "organization_name": org,
            "organization_slug": format!("{vcs}/{org}"),
            "organization_id": "3a1f0c9e-8b7d-4c6e-a5f4-e3d2c1b0a998",
            "vcs_info": {
                "vcs_url": format!("{}/{org}/{repo}", host.0),
                "provider": host.1,
                "default_branch": "main",
            },
        }),
    )
}
