//! [`FakeOciRegistry`]: the Distribution API calls PathOps makes, in the flavours of the
//! registries that differ in where their token service is; [`FakeEcr`]: ECR's
//! `GetAuthorizationToken` (SigV4 verified) and its Basic-only registry.
//!
//! | flavour | token service | what else |
//! |---|---|---|
//! | [`Flavor::Generic`] | `/token` on the registry | |
//! | [`Flavor::DockerHub`] | `/token` on a **second** server (like `auth.docker.io`), service `registry.docker.io` | `ratelimit-limit: 100;w=21600`, `ratelimit-remaining`, `docker-ratelimit-source` on repository calls |
//! | [`Flavor::Ghcr`] | `/token` on the registry, service `ghcr.io` | |
//! | [`Flavor::Quay`] | `/v2/auth` on the registry, service `quay.io` | robot users named `namespace+robot` |
//! | [`Flavor::Acr`] | `/oauth2/token` on the registry, service `fake.azurecr.io` | `POST /oauth2/exchange` (an Entra access token → a refresh token) and `POST /oauth2/token` (refresh token → access token), forms as ACR documents them |
//! | [`Flavor::ArtifactRegistry`] | `/v2/token` on the registry; the challenge names **no** `service` | `oauth2accesstoken` with an access token from a fake Google token endpoint on a second server, which verifies the RS256 service-account assertion (`iss`, `aud`, `exp`) |
//! | [`Flavor::Artifactory`] | `<root>/v2/token`, root `/artifactory/api/docker/docker-local` | `GET /artifactory/api/system/ping` → `OK`, `GET /artifactory/api/system/version` → `{"version","revision","addons"}` |
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
    /// Azure Container Registry.
    Acr,
    /// Google Artifact Registry.
    ArtifactRegistry,
    /// JFrog Artifactory, repository-path method.
    Artifactory,
}

impl Flavor {
    fn service(self) -> &'static str {
        match self {
            Self::Generic => "fake-registry",
            Self::DockerHub => "registry.docker.io",
            Self::Ghcr => "ghcr.io",
            Self::Quay => "quay.io",
            Self::Acr => "fake.azurecr.io",
            Self::ArtifactRegistry => "",
            Self::Artifactory => "artifactory",
        }
    }

    fn token_path(self) -> &'static str {
        match self {
            Self::Quay => "/v2/auth",
            Self::Acr => "/oauth2/token",
            Self::ArtifactRegistry => "/v2/token",
            Self::Artifactory => "/artifactory/api/docker/docker-local/v2/token",
            _ => "/token",
        }
    }

    /// Where `/v2/` lives on the registry server.
    fn root(self) -> &'static str {
        match self {
            Self::Artifactory => "/artifactory/api/docker/docker-local",
            _ => "",
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
    /// ACR refresh tokens issued by the exchange.
    refresh_tokens: Vec<String>,
    /// Access tokens from the fake Google endpoint (Basic passwords of `oauth2accesstoken`).
    google_tokens: Vec<String>,
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
    google: Option<FakeServer>,
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
    /// ACR: the Entra access token the exchange accepts (its identity may pull
    /// [`REPOSITORY`](Self::REPOSITORY)).
    pub const ENTRA_TOKEN: &'static str = "fake-entra-access-token-0001";
    /// Artifact Registry: the service account whose key [`service_account_key`](Self::service_account_key) is.
    pub const SERVICE_ACCOUNT: &'static str = "pathops@fake-project.iam.gserviceaccount.com";
    /// The Artifactory version the fake reports.
    pub const ARTIFACTORY_VERSION: &'static str = "7.98.7";

    /// Artifact Registry: a service-account key JSON (the shape Google's console downloads)
    /// whose assertion the fake Google token endpoint accepts. Its `token_uri` points at
    /// Google, as a real key's does: the connector must not follow it.
    pub fn service_account_key() -> String {
        json!({
            "type": "service_account",
            "project_id": "fake-project",
            "private_key_id": "0000",
            "private_key": super::github::FakeGitHub::TEST_APP_PRIVATE_KEY_PEM,
            "client_email": Self::SERVICE_ACCOUNT,
            "client_id": "1",
            "token_uri": "https://oauth2.googleapis.com/token",
        })
        .to_string()
    }

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
        let google = if flavor == Flavor::ArtifactRegistry {
            let listener = tokio::net::TcpListener::bind(loopback).await.expect("bind");
            let fake = Fake {
                flavor,
                realm: String::new(),
                shared: shared.clone(),
            };
            let router = Router::new()
                .route("/token", axum::routing::post(google_token))
                .with_state(fake);
            Some(FakeServer::serve(listener, router))
        } else {
            None
        };
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
        let root = flavor.root();
        let mut router = Router::new();
        if flavor != Flavor::DockerHub {
            router = router.route(flavor.token_path(), get(token));
        }
        if flavor == Flavor::Acr {
            router = router
                .route("/oauth2/exchange", axum::routing::post(acr_exchange))
                .route("/oauth2/token", axum::routing::post(acr_token));
        }
        if flavor == Flavor::Artifactory {
            router = router
                .route("/artifactory/api/system/ping", get(|| async { "OK" }))
                .route(
                    "/artifactory/api/system/version",
                    get(|| async {
                        axum::Json(json!({
                            "version": FakeOciRegistry::ARTIFACTORY_VERSION,
                            "revision": "79807900",
                            "addons": ["docker"],
                        }))
                    }),
                );
        }
        let router = router
            .route(&format!("{root}/v2/"), get(base))
            .route(&format!("{root}/v2/{{*rest}}"), get(repository));
        let registry = FakeServer::serve(registry_listener, router.with_state(fake));
        Self {
            registry,
            auth,
            google,
            shared,
        }
    }

    /// Artifact Registry: the fake Google token endpoint (for
    /// `OciConnectorBuilder::with_google_token_url`).
    pub fn google_token_url(&self) -> Option<String> {
        self.google.as_ref().map(|g| format!("{}/token", g.url()))
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
    let mut value = format!("Bearer realm=\"{}\"", fake.realm);
    if !fake.flavor.service().is_empty() {
        value.push_str(&format!(",service=\"{}\"", fake.flavor.service()));
    }
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
    let path = uri.path().split_once("/v2/").map_or("", |(_, rest)| rest);
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
            // Artifact Registry: an access token from the Google token endpoint.
            None if user == "oauth2accesstoken"
                && shared.google_tokens.iter().any(|t| t == password) =>
            {
                vec![FakeOciRegistry::REPOSITORY.to_owned()]
            }
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
    if query.iter().any(|(k, v)| {
        k == "service" && v != fake.flavor.service() && !fake.flavor.service().is_empty()
    }) {
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

fn form(body: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, axum::Json(json!({"error": error}))).into_response()
}

/// ACR `POST /oauth2/exchange`: `grant_type=access_token`, `service`, `access_token`.
async fn acr_exchange(State(fake): State<Fake>, body: String) -> Response {
    let form = form(&body);
    if form.get("grant_type").map(String::as_str) != Some("access_token")
        || form.get("service").map(String::as_str) != Some(fake.flavor.service())
    {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    if form.get("access_token").map(String::as_str) != Some(FakeOciRegistry::ENTRA_TOKEN) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_grant");
    }
    let refresh = format!("fake-acr-refresh-{}", uuid::Uuid::new_v4().simple());
    let mut shared = fake.lock();
    shared.token_requests += 1;
    shared.refresh_tokens.push(refresh.clone());
    axum::Json(json!({"refresh_token": refresh})).into_response()
}

/// ACR `POST /oauth2/token`: `grant_type=refresh_token`, `service`, `scope`, `refresh_token`.
async fn acr_token(State(fake): State<Fake>, body: String) -> Response {
    let form = form(&body);
    let mut shared = fake.lock();
    shared.token_requests += 1;
    let known = form
        .get("refresh_token")
        .is_some_and(|t| shared.refresh_tokens.contains(t));
    if form.get("grant_type").map(String::as_str) != Some("refresh_token") || !known {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_grant");
    }
    let granted: Vec<String> = form
        .get("scope")
        .filter(|s| s.as_str() == format!("repository:{}:pull", FakeOciRegistry::REPOSITORY))
        .cloned()
        .into_iter()
        .collect();
    let token = format!("fake-acr-access-{}", uuid::Uuid::new_v4().simple());
    shared.tokens.insert(token.clone(), granted);
    axum::Json(json!({"access_token": token})).into_response()
}

/// Google's token endpoint: a `jwt-bearer` grant whose assertion is signed by the service
/// account's key, with `aud` this endpoint.
async fn google_token(
    State(fake): State<Fake>,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let form = form(&body);
    if form.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    let Some(assertion) = form.get("assertion") else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let audience = format!("http://{host}{}", uri.path());
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(
        super::github::FakeGitHub::TEST_APP_PUBLIC_KEY_PEM.as_bytes(),
    )
    .expect("the test key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[FakeOciRegistry::SERVICE_ACCOUNT]);
    if jsonwebtoken::decode::<serde_json::Value>(assertion, &key, &validation).is_err() {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let token = format!("ya29.fake-{}", uuid::Uuid::new_v4().simple());
    let mut shared = fake.lock();
    shared.token_requests += 1;
    // Accepted by the registry's token service as the oauth2accesstoken password.
    shared.google_tokens.push(token.clone());
    axum::Json(json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"}))
        .into_response()
}

/// ECR's `GetAuthorizationToken` JSON API, SigV4 verified with the same crate the connector
/// signs with, on a server of its own (`api.ecr.<region>.amazonaws.com` in real life), and the
/// registry side speaking Basic with user `AWS`.
///
/// | request | answer |
/// |---|---|
/// | unknown access key | `400 {"__type":"UnrecognizedClientException"}` |
/// | wrong signature | `403 {"__type":"InvalidSignatureException"}` |
/// | `X-Amz-Date` more than 15 minutes off | `403 {"__type":"InvalidSignatureException","message":"Signature expired: …"}` |
/// | valid | `{"authorizationData":[{"authorizationToken": base64("AWS:<password>"),"expiresAt": now + 12 h,"proxyEndpoint"}]}` |
#[derive(Debug)]
pub struct FakeEcr {
    registry: FakeServer,
    api: FakeServer,
    shared: Arc<Mutex<EcrShared>>,
}

#[derive(Debug, Default)]
struct EcrShared {
    passwords: Vec<String>,
    api_calls: usize,
}

#[derive(Clone)]
struct Ecr {
    registry_url: String,
    shared: Arc<Mutex<EcrShared>>,
}

impl Ecr {
    fn lock(&self) -> std::sync::MutexGuard<'_, EcrShared> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl FakeEcr {
    /// The access key the API knows.
    pub const ACCESS_KEY_ID: &'static str = "AKIAFAKEECR000000001";
    /// Its secret.
    pub const SECRET_ACCESS_KEY: &'static str = "fake-ecr-secret-access-key-0000000000000";
    /// The region it signs for.
    pub const REGION: &'static str = "us-east-1";

    /// Starts the API and the registry on loopback.
    pub async fn start() -> Self {
        let loopback: SocketAddr = "127.0.0.1:0".parse().expect("address");
        let registry_listener = tokio::net::TcpListener::bind(loopback).await.expect("bind");
        let registry_url = format!("http://{}", registry_listener.local_addr().expect("addr"));
        let shared = Arc::new(Mutex::new(EcrShared::default()));
        let state = Ecr {
            registry_url,
            shared: shared.clone(),
        };
        let registry = Router::new()
            .route("/v2/", get(ecr_registry))
            .route("/v2/{*rest}", get(ecr_registry))
            .with_state(state.clone());
        let api_listener = tokio::net::TcpListener::bind(loopback).await.expect("bind");
        let api = Router::new()
            .route("/", axum::routing::post(ecr_api))
            .with_state(state);
        Self {
            registry: FakeServer::serve(registry_listener, registry),
            api: FakeServer::serve(api_listener, api),
            shared,
        }
    }

    /// The registry (`<account>.dkr.ecr.<region>.amazonaws.com` in real life).
    pub fn registry_url(&self) -> String {
        self.registry.url()
    }

    /// The API endpoint, with its trailing slash.
    pub fn api_url(&self) -> String {
        format!("{}/", self.api.url())
    }

    /// The JSON secret an ECR integration keeps behind its auth ref.
    pub fn secret(secret_access_key: &str) -> String {
        json!({"access_key_id": Self::ACCESS_KEY_ID, "secret_access_key": secret_access_key})
            .to_string()
    }

    /// `GetAuthorizationToken` calls so far.
    pub fn api_calls(&self) -> usize {
        self.shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .api_calls
    }

    /// Makes every answer take at least `latency`.
    pub fn set_latency(&self, latency: Duration) {
        self.registry.set_latency(latency);
        self.api.set_latency(latency);
    }
}

fn aws_error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        [("content-type", "application/x-amz-json-1.1")],
        axum::Json(json!({"__type": kind, "message": message})),
    )
        .into_response()
}

/// The value of `key=` in a SigV4 `Authorization` header.
fn auth_part<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let start = header.find(key)? + key.len();
    let rest = &header[start..];
    Some(rest.split([',', ' ']).next().unwrap_or(rest))
}

async fn ecr_api(State(ecr): State<Ecr>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    ecr.lock().api_calls += 1;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    if header("x-amz-target") != "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken" {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
            "unknown operation",
        );
    }
    let authorization = header("authorization");
    let (Some(credential), Some(signed), Some(signature)) = (
        auth_part(authorization, "Credential="),
        auth_part(authorization, "SignedHeaders="),
        auth_part(authorization, "Signature="),
    ) else {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        );
    };
    let mut scope = credential.split('/');
    let (Some(key_id), Some(_date), Some(region), Some(service)) =
        (scope.next(), scope.next(), scope.next(), scope.next())
    else {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "IncompleteSignatureException",
            "malformed credential",
        );
    };
    if key_id != FakeEcr::ACCESS_KEY_ID {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        );
    }
    let Ok(when) = time::PrimitiveDateTime::parse(
        header("x-amz-date"),
        time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"),
    ) else {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "IncompleteSignatureException",
            "no X-Amz-Date",
        );
    };
    let when = when.assume_utc();
    if (time::OffsetDateTime::now_utc() - when).abs() > time::Duration::minutes(15) {
        return aws_error(
            StatusCode::FORBIDDEN,
            "InvalidSignatureException",
            "Signature expired: the request time is more than 15 minutes from the server's",
        );
    }
    let signed_headers: Vec<(String, String)> = signed
        .split(';')
        .filter(|h| *h != "host")
        .map(|h| (h.to_owned(), header(h).to_owned()))
        .collect();
    let identity = aws_credential_types::Credentials::new(
        FakeEcr::ACCESS_KEY_ID,
        FakeEcr::SECRET_ACCESS_KEY,
        None,
        None,
        "fake-ecr",
    )
    .into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(std::time::SystemTime::from(when))
        .settings(aws_sigv4::http_request::SigningSettings::default())
        .build()
        .expect("signing params")
        .into();
    let url = format!("http://{}/", header("host"));
    let expected = aws_sigv4::http_request::SignableRequest::new(
        "POST",
        &url,
        signed_headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        aws_sigv4::http_request::SignableBody::Bytes(&body),
    )
    .ok()
    .and_then(|r| aws_sigv4::http_request::sign(r, &params).ok())
    .map(|output| output.signature().to_owned());
    if expected.as_deref() != Some(signature) {
        return aws_error(
            StatusCode::FORBIDDEN,
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided.",
        );
    }
    let password = format!("fake-ecr-password-{}", uuid::Uuid::new_v4().simple());
    ecr.lock().passwords.push(password.clone());
    let token = base64::engine::general_purpose::STANDARD.encode(format!("AWS:{password}"));
    let expires = time::OffsetDateTime::now_utc().unix_timestamp() + 12 * 3600;
    (
        [("content-type", "application/x-amz-json-1.1")],
        axum::Json(json!({"authorizationData": [{
            "authorizationToken": token,
            "expiresAt": expires as f64,
            "proxyEndpoint": ecr.registry_url,
        }]})),
    )
        .into_response()
}

/// The registry side: Basic `AWS:<a password the API issued>`.
async fn ecr_registry(State(ecr): State<Ecr>, uri: Uri, headers: HeaderMap) -> Response {
    let valid = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|c| c.split_once(':').map(|(u, p)| (u.to_owned(), p.to_owned())))
        .is_some_and(|(u, p)| u == "AWS" && ecr.lock().passwords.contains(&p));
    if !valid {
        let (status, body) = errors(
            StatusCode::UNAUTHORIZED,
            "DENIED",
            "Your authorization token has expired. Reauthenticate and try again.",
        );
        let challenge = format!(
            "Basic realm=\"{}/\",service=\"ecr.amazonaws.com\"",
            ecr.registry_url
        );
        return (
            status,
            [("www-authenticate", challenge)],
            [API_VERSION],
            body,
        )
            .into_response();
    }
    let path = uri.path().trim_start_matches("/v2/");
    match path.strip_suffix("/tags/list") {
        None if path.is_empty() => {
            (StatusCode::OK, [API_VERSION], axum::Json(json!({}))).into_response()
        }
        Some(FakeOciRegistry::REPOSITORY) => (
            [API_VERSION],
            axum::Json(json!({"name": FakeOciRegistry::REPOSITORY, "tags": ["latest"]})),
        )
            .into_response(),
        Some(_) => errors(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            "The repository does not exist",
        )
        .into_response(),
        None => super::server::unexpected("the fake ECR registry", &axum::http::Method::GET, &uri),
    }
}
