//! [`FakeJenkins`]: the Jenkins calls PathOps makes, as Jenkins' remote access API and its
//! core source document them.
//!
//! | call | behaviour |
//! |---|---|
//! | `GET /whoAmI/api/json` | readable by anyone: `{"_class":"hudson.security.WhoAmI","anonymous":…,"authenticated":true,"authorities":[…],"name":…}`. Anonymous callers get `name: "anonymous"`, `anonymous: true` — and `authenticated: true`, as Jenkins reports its anonymous token; users get their ID and `authorities` `["authenticated", <groups>…]` |
//! | `GET /crumbIssuer/api/json` | needs Overall/Read: `{"_class":"hudson.security.csrf.DefaultCrumbIssuer","crumb":<hex>,"crumbRequestField":"Jenkins-Crumb"}`; **404** when [CSRF protection is off](JenkinsSeed::csrf_disabled) |
//! | `GET /api/json` | needs Overall/Read: the root object (`mode`, `nodeDescription`, `useSecurity`, `jobs`) |
//! | `GET /login` | 200, the login page (liveness) |
//!
//! Every answer under the context path — errors, 401 and 403 included — carries `X-Jenkins`
//! (the version), `X-Jenkins-Session` and `X-Hudson: 1.395`. Authentication is HTTP Basic
//! `user:apiToken` with the API tokens of each [`JenkinsUser`] (passwords are not emulated);
//! **wrong Basic credentials are refused on every path with 401** and an HTML page naming the
//! user, before any routing, as Jenkins does. A caller without Overall/Read (anonymous unless
//! [`anonymous_read`](JenkinsSeed::anonymous_read), or a user without
//! [`overall_read`](JenkinsUser::overall_read)) gets **403** with Jenkins' access-denied
//! headers `X-You-Are-Authenticated-As`, `X-Required-Permission: hudson.model.Hudson.Read`
//! and `X-Permission-Implied-By`. With a [context path](JenkinsSeed::context_path) Jenkins
//! answers only under it; anything outside is a plain 404 without `X-Jenkins`, like the
//! servlet container's.
//!
//! [`start_with_defaults`](FakeJenkins::start_with_defaults) seeds, at the root path with CSRF
//! protection on:
//!
//! | user | API token | what a check against it gives |
//! |---|---|---|
//! | [`USER`](FakeJenkins::USER) (`pathops`) | [`API_TOKEN`](FakeJenkins::API_TOKEN) | healthy: authenticated, Overall/Read, CSRF on |
//! | [`USER`](FakeJenkins::USER) | [`REVOKED_API_TOKEN`](FakeJenkins::REVOKED_API_TOKEN) | broken: the token was revoked, Jenkins answers 401 |
//! | [`NO_READ_USER`](FakeJenkins::NO_READ_USER) (`intern`) | [`NO_READ_API_TOKEN`](FakeJenkins::NO_READ_API_TOKEN) | authenticated, but 403 on the crumb issuer (no Overall/Read) |
//!
//! Set [`csrf_disabled`](JenkinsSeed::csrf_disabled) on [`default_seed`](FakeJenkins::default_seed)
//! (or call [`set_csrf_disabled`](FakeJenkins::set_csrf_disabled)) for an instance whose check
//! passes with the CSRF warning.

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::FakeServer;
use super::server::{json, unexpected};

/// A Jenkins user of the built-in user database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JenkinsUser {
    /// The user ID (what Basic authentication and `whoAmI` name).
    pub id: String,
    /// API tokens that authenticate as this user.
    #[serde(default)]
    pub api_tokens: Vec<String>,
    /// Granted Overall/Read (default `true`).
    #[serde(default = "yes")]
    pub overall_read: bool,
    /// Groups, listed after `authenticated` in `whoAmI`'s `authorities`.
    #[serde(default)]
    pub groups: Vec<String>,
}

impl JenkinsUser {
    /// A user with Overall/Read and one API token.
    pub fn new(id: impl Into<String>, api_token: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            api_tokens: vec![api_token.into()],
            overall_read: true,
            groups: Vec::new(),
        }
    }
}

fn yes() -> bool {
    true
}

/// Everything a fake Jenkins starts with: the JSON seed file of `pathops-fake jenkins`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JenkinsSeed {
    /// `X-Jenkins` (default [`FakeJenkins::DEFAULT_VERSION`]).
    #[serde(default)]
    pub version: Option<String>,
    /// The context path Jenkins is served under (`/jenkins`); none: the root.
    #[serde(default)]
    pub context_path: Option<String>,
    /// CSRF protection off: `/crumbIssuer/api/json` answers 404.
    #[serde(default)]
    pub csrf_disabled: bool,
    /// Anonymous callers have Overall/Read.
    #[serde(default)]
    pub anonymous_read: bool,
    /// The users.
    #[serde(default)]
    pub users: Vec<JenkinsUser>,
}

#[derive(Debug)]
struct Shared {
    version: String,
    session: String,
    state: Mutex<JenkinsSeed>,
}

/// The caller after Basic authentication.
enum Caller {
    Anonymous,
    User(JenkinsUser),
}

/// A fake Jenkins; see the [module docs](self). Dereferences to its [`FakeServer`].
#[derive(Debug)]
pub struct FakeJenkins {
    server: FakeServer,
    shared: Arc<Shared>,
    context_path: String,
}

impl Deref for FakeJenkins {
    type Target = FakeServer;
    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

impl FakeJenkins {
    /// The version reported unless the seed says otherwise.
    pub const DEFAULT_VERSION: &'static str = "2.479.3";
    /// [`start_with_defaults`](Self::start_with_defaults): the user PathOps authenticates as.
    pub const USER: &'static str = "pathops";
    /// [`start_with_defaults`](Self::start_with_defaults): [`USER`](Self::USER)'s API token.
    pub const API_TOKEN: &'static str = "11a1b2c3d4e5f60718293a4b5c6d7e8f90";
    /// An API token of [`USER`](Self::USER) that was revoked: Jenkins answers 401.
    pub const REVOKED_API_TOKEN: &'static str = "11deadbeefdeadbeefdeadbeefdeadbeef";
    /// [`start_with_defaults`](Self::start_with_defaults): a user without Overall/Read.
    pub const NO_READ_USER: &'static str = "intern";
    /// [`NO_READ_USER`](Self::NO_READ_USER)'s API token.
    pub const NO_READ_API_TOKEN: &'static str = "110f0e0d0c0b0a09080706050403020100";

    /// An empty fake at the root path, CSRF protection on.
    pub async fn start() -> Self {
        Self::start_with(JenkinsSeed::default()).await
    }

    /// A fake seeded with [`default_seed`](Self::default_seed).
    pub async fn start_with_defaults() -> Self {
        Self::start_with(Self::default_seed()).await
    }

    /// [`USER`](Self::USER) with [`API_TOKEN`](Self::API_TOKEN) (group `ci`) and
    /// [`NO_READ_USER`](Self::NO_READ_USER) with [`NO_READ_API_TOKEN`](Self::NO_READ_API_TOKEN),
    /// at the root path, CSRF protection on.
    pub fn default_seed() -> JenkinsSeed {
        JenkinsSeed {
            version: None,
            context_path: None,
            csrf_disabled: false,
            anonymous_read: false,
            users: vec![
                JenkinsUser {
                    groups: vec!["ci".to_owned()],
                    ..JenkinsUser::new(Self::USER, Self::API_TOKEN)
                },
                JenkinsUser {
                    overall_read: false,
                    ..JenkinsUser::new(Self::NO_READ_USER, Self::NO_READ_API_TOKEN)
                },
            ],
        }
    }

    /// A fake seeded with `seed` on `127.0.0.1:0`.
    pub async fn start_with(seed: JenkinsSeed) -> Self {
        Self::start_on("127.0.0.1:0".parse().expect("a socket address"), seed)
            .await
            .expect("bind 127.0.0.1:0")
    }

    /// A fake seeded with `seed` on `listen`.
    pub async fn start_on(listen: SocketAddr, seed: JenkinsSeed) -> std::io::Result<Self> {
        let context_path = normalize_context(seed.context_path.as_deref());
        let shared = Arc::new(Shared {
            version: seed
                .version
                .clone()
                .unwrap_or_else(|| Self::DEFAULT_VERSION.to_owned()),
            session: uuid::Uuid::new_v4().simple().to_string()[..8].to_owned(),
            state: Mutex::new(seed),
        });
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let server = FakeServer::serve(listener, router(shared.clone(), &context_path));
        Ok(Self {
            server,
            shared,
            context_path,
        })
    }

    /// The Jenkins URL: [`url`](FakeServer::url) plus the context path, no trailing slash.
    pub fn base_url(&self) -> String {
        format!("{}{}", self.server.url(), self.context_path)
    }

    /// The session id sent in `X-Jenkins-Session`.
    pub fn session(&self) -> &str {
        &self.shared.session
    }

    /// Turns CSRF protection off (`true`: the crumb issuer answers 404) or on.
    pub fn set_csrf_disabled(&self, disabled: bool) {
        self.shared
            .state
            .lock()
            .expect("fake jenkins lock")
            .csrf_disabled = disabled;
    }

    /// Revokes `token` of `user`: Jenkins answers 401 to it from now on.
    pub fn revoke_token(&self, user: &str, token: &str) {
        let mut state = self.shared.state.lock().expect("fake jenkins lock");
        for u in state.users.iter_mut().filter(|u| u.id == user) {
            u.api_tokens.retain(|t| t != token);
        }
    }

    /// Adds a user.
    pub fn add_user(&self, user: JenkinsUser) {
        self.shared
            .state
            .lock()
            .expect("fake jenkins lock")
            .users
            .push(user);
    }
}

/// `""` for the root, else `/a/b` (one leading slash, none trailing).
fn normalize_context(path: Option<&str>) -> String {
    let trimmed = path.unwrap_or_default().trim_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("/{trimmed}")
    }
}

type S = State<Arc<Shared>>;

fn router(shared: Arc<Shared>, context_path: &str) -> Router {
    let context = context_path.to_owned();
    let jenkins = Router::new()
        .route("/whoAmI/api/json", get(who_am_i))
        .route("/crumbIssuer/api/json", get(crumb_issuer))
        .route("/api/json", get(root))
        .route("/login", get(login))
        .fallback(move |method: Method, uri: Uri| {
            // `nest` strips the context path; name the call as it was sent.
            let sent = format!("{context}{}", uri.path())
                .parse::<Uri>()
                .unwrap_or(uri);
            async move { unexpected("fake Jenkins", &method, &sent) }
        })
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            authenticate,
        ))
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            advertise,
        ))
        .with_state(shared);
    if context_path.is_empty() {
        jenkins
    } else {
        Router::new()
            .nest(context_path, jenkins)
            .fallback(|method: Method, uri: Uri| async move {
                unexpected("fake Jenkins (outside the context path)", &method, &uri)
            })
    }
}

/// `X-Jenkins`, `X-Jenkins-Session` and `X-Hudson` on every answer of Jenkins itself.
async fn advertise(State(s): S, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-jenkins", s.version.as_str()),
        ("x-jenkins-session", s.session.as_str()),
        ("x-hudson", "1.395"),
    ] {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    }
    response
}

/// Wrong Basic credentials are refused before routing; valid ones become the caller.
async fn authenticate(State(s): S, mut req: Request, next: Next) -> Response {
    let caller = match basic(req.headers()) {
        None => Caller::Anonymous,
        Some((user, token)) => {
            let state = s.state.lock().expect("fake jenkins lock");
            match state
                .users
                .iter()
                .find(|u| u.id.eq_ignore_ascii_case(&user) && u.api_tokens.contains(&token))
            {
                Some(u) => Caller::User(u.clone()),
                None => return unauthorized(&user),
            }
        }
    };
    req.extensions_mut().insert(Arc::new(caller));
    next.run(req).await
}

fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let encoded = headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, token) = text.split_once(':')?;
    Some((user.to_owned(), token.to_owned()))
}

fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("text/html;charset=utf-8"),
    );
    response
}

/// Jenkins' answer to wrong Basic credentials.
fn unauthorized(user: &str) -> Response {
    let user: String = user
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
        .collect();
    html(
        StatusCode::UNAUTHORIZED,
        format!(
            "<html><head><meta http-equiv='refresh' content='1;url=/login'/>\
             <title>Error 401 Invalid password/token for user: {user}</title></head>\
             <body><h2>HTTP ERROR 401 Invalid password/token for user: {user}</h2>\
             <p>Authentication required. <a href='/login'>Log in</a></p></body></html>"
        ),
    )
}

/// Jenkins' access-denied answer for a caller without Overall/Read.
fn forbidden(name: &str) -> Response {
    let mut response = html(
        StatusCode::FORBIDDEN,
        format!(
            "<html><head><title>Access Denied [Jenkins]</title></head><body><h1>Access \
             Denied</h1><p>{name} is missing the Overall/Read permission</p></body></html>"
        ),
    );
    let headers = response.headers_mut();
    for (n, v) in [
        ("x-you-are-authenticated-as", name),
        ("x-required-permission", "hudson.model.Hudson.Read"),
        ("x-permission-implied-by", "hudson.model.Hudson.Administer"),
    ] {
        if let Ok(v) = HeaderValue::from_str(v) {
            headers.insert(n, v);
        }
    }
    response
}

fn caller(req: &Request) -> Arc<Caller> {
    req.extensions()
        .get::<Arc<Caller>>()
        .cloned()
        .unwrap_or_else(|| Arc::new(Caller::Anonymous))
}

/// `None` when the caller has Overall/Read, else the 403.
fn require_read(s: &Shared, caller: &Caller) -> Option<Response> {
    match caller {
        Caller::User(u) if u.overall_read => None,
        Caller::User(u) => Some(forbidden(&u.id)),
        Caller::Anonymous if s.state.lock().expect("fake jenkins lock").anonymous_read => None,
        Caller::Anonymous => Some(forbidden("anonymous")),
    }
}

async fn who_am_i(req: Request) -> Response {
    let body = match &*caller(&req) {
        Caller::Anonymous => json!({
            "_class": "hudson.security.WhoAmI",
            "anonymous": true,
            "authenticated": true,
            "authorities": ["anonymous"],
            "name": "anonymous",
        }),
        Caller::User(u) => {
            let mut authorities = vec!["authenticated".to_owned()];
            authorities.extend(u.groups.iter().cloned());
            json!({
                "_class": "hudson.security.WhoAmI",
                "anonymous": false,
                "authenticated": true,
                "authorities": authorities,
                "name": u.id,
            })
        }
    };
    json(StatusCode::OK, body)
}

async fn crumb_issuer(State(s): S, req: Request) -> Response {
    if s.state.lock().expect("fake jenkins lock").csrf_disabled {
        return html(
            StatusCode::NOT_FOUND,
            "<html><head><title>Not Found [Jenkins]</title></head><body><h2>HTTP ERROR 404 \
             Not Found</h2></body></html>"
                .to_owned(),
        );
    }
    if let Some(denied) = require_read(&s, &caller(&req)) {
        return denied;
    }
    json(
        StatusCode::OK,
        json!({
            "_class": "hudson.security.csrf.DefaultCrumbIssuer",
            "crumb": uuid::Uuid::new_v4().simple().to_string(),
            "crumbRequestField": "Jenkins-Crumb",
        }),
    )
}

async fn root(State(s): S, req: Request) -> Response {
    if let Some(denied) = require_read(&s, &caller(&req)) {
        return denied;
    }
    json(
        StatusCode::OK,
        json!({
            "_class": "hudson.model.Hudson",
            "mode": "NORMAL",
            "nodeDescription": "the Jenkins controller's built-in node",
            "useSecurity": true,
            "jobs": [],
        }),
    )
}

async fn login() -> Response {
    html(
        StatusCode::OK,
        "<html><head><title>Sign in [Jenkins]</title></head><body><form \
         action='j_spring_security_check' method='post'></form></body></html>"
            .to_owned(),
    )
}
