//! A real OCI registry for tests: the CNCF distribution registry (Debian's `docker-registry`),
//! started per test on `127.0.0.1` from a config the test writes, and a token server that
//! signs the ES256 JWTs it accepts.
//!
//! The binary comes from [`BIN_VAR`] (`PATHOPS_TEST_REGISTRY_BIN`), read through
//! [`service_url`](crate::services::service_url): unset, a test skips (and fails in CI).
//!
//! ```no_run
//! # async fn demo() {
//! use pathops_testkit::registry::{RegistryAuth, RegistryServer, TokenServer, TokenUser};
//! let Some(bin) = pathops_testkit::registry::registry_bin() else { return };
//! let tokens = TokenServer::start(vec![TokenUser::new("ci", "secret").grant("team/app", &["pull"])]).await;
//! let registry = RegistryServer::start(&bin, tokens.auth()).await;
//! println!("{} trusts tokens from {}", registry.url(), tokens.realm());
//! # }
//! ```

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The variable naming the registry binary (`/usr/bin/docker-registry`).
pub const BIN_VAR: &str = "PATHOPS_TEST_REGISTRY_BIN";

/// The registry binary, or `None` (skipping) when [`BIN_VAR`] is unset.
pub fn registry_bin() -> Option<String> {
    crate::services::service_url(BIN_VAR)
}

/// How the registry authenticates.
#[derive(Debug, Clone)]
pub enum RegistryAuth {
    /// Anyone may pull and push.
    Anonymous,
    /// HTTP Basic against bcrypt entries: `(user, password)`.
    Htpasswd(Vec<(String, String)>),
    /// Bearer tokens from a [`TokenServer`].
    Token {
        /// The token endpoint.
        realm: String,
        /// The `service` the registry names in its challenge.
        service: String,
        /// The issuer it expects.
        issuer: String,
        /// The signer's certificate (PEM).
        cert_pem: String,
    },
}

/// A running registry process; killed on drop.
#[derive(Debug)]
pub struct RegistryServer {
    url: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl RegistryServer {
    /// The realm of htpasswd registries.
    pub const BASIC_REALM: &'static str = "pathops-test";

    /// Starts `bin serve <config>` with an in-memory store on a free loopback port and waits
    /// until it listens.
    pub async fn start(bin: &str, auth: RegistryAuth) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let auth_yaml = match &auth {
            RegistryAuth::Anonymous => String::new(),
            RegistryAuth::Htpasswd(users) => {
                let path = dir.path().join("htpasswd");
                let lines: String = users
                    .iter()
                    .map(|(u, p)| format!("{u}:{}\n", bcrypt::hash(p, 5).expect("bcrypt")))
                    .collect();
                std::fs::write(&path, lines).expect("htpasswd");
                format!(
                    "auth:\n  htpasswd:\n    realm: {}\n    path: {}\n",
                    Self::BASIC_REALM,
                    path.display()
                )
            }
            RegistryAuth::Token {
                realm,
                service,
                issuer,
                cert_pem,
            } => {
                let path = dir.path().join("token-signer.crt");
                std::fs::write(&path, cert_pem).expect("certificate");
                format!(
                    "auth:\n  token:\n    realm: {realm}\n    service: {service}\n    issuer: {issuer}\n    rootcertbundle: {}\n",
                    path.display()
                )
            }
        };
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: info\nstorage:\n  inmemory: {{}}\nhttp:\n  addr: 127.0.0.1:0\n{auth_yaml}"
            ),
        )
        .expect("config");
        let mut child = Command::new(bin)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        // Keeps reading the log so the registry never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(at) = line.find("listening on ") {
                    let addr: String = line[at + "listening on ".len()..]
                        .chars()
                        .take_while(|c| !c.is_whitespace() && *c != '"')
                        .collect();
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(addr);
                    }
                }
            }
        });
        let addr = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(30)))
            .await
            .expect("join")
            .expect("the registry did not log `listening on` within 30 s");
        Self {
            url: format!("http://{addr}"),
            child,
            _dir: dir,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for RegistryServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An account of the [`TokenServer`] and what it may do.
#[derive(Debug, Clone)]
pub struct TokenUser {
    name: String,
    password: String,
    grants: Vec<(String, Vec<String>)>,
}

impl TokenUser {
    /// A user with no grants.
    pub fn new(name: &str, password: &str) -> Self {
        Self {
            name: name.to_owned(),
            password: password.to_owned(),
            grants: Vec::new(),
        }
    }

    /// Lets the user do `actions` (`pull`, `push`) on `repository`.
    pub fn grant(mut self, repository: &str, actions: &[&str]) -> Self {
        self.grants.push((
            repository.to_owned(),
            actions.iter().map(|a| (*a).to_owned()).collect(),
        ));
        self
    }
}

struct TokenState {
    users: HashMap<String, TokenUser>,
    key: jsonwebtoken::EncodingKey,
    x5c: String,
    service: String,
    issuer: String,
    expires_in: u64,
    requests: AtomicUsize,
}

/// A Distribution token server: `GET /token?service=…&scope=…` with Basic credentials
/// answers `{"token","access_token","expires_in","issued_at"}`, an ES256 JWT whose `access`
/// holds what the user was granted of what was asked (insufficient access is not an error;
/// the token just carries less). Wrong or missing credentials are `401`.
pub struct TokenServer {
    url: String,
    cert_pem: String,
    state: Arc<TokenState>,
}

impl std::fmt::Debug for TokenServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenServer")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl TokenServer {
    /// The service name registries are configured with.
    pub const SERVICE: &'static str = "pathops-registry";
    /// The issuer.
    pub const ISSUER: &'static str = "pathops-test-issuer";

    /// A server for `users`, issuing tokens valid 300 s.
    pub async fn start(users: Vec<TokenUser>) -> Self {
        Self::start_with(users, 300).await
    }

    /// A server for `users`, issuing tokens valid `expires_in` seconds.
    pub async fn start_with(users: Vec<TokenUser>, expires_in: u64) -> Self {
        let signer = rcgen::generate_simple_self_signed(vec!["pathops-token-signer".to_owned()])
            .expect("certificate");
        let key =
            jsonwebtoken::EncodingKey::from_ec_pem(signer.signing_key.serialize_pem().as_bytes())
                .expect("signing key");
        let state = Arc::new(TokenState {
            users: users.into_iter().map(|u| (u.name.clone(), u)).collect(),
            key,
            x5c: base64::engine::general_purpose::STANDARD.encode(signer.cert.der()),
            service: Self::SERVICE.to_owned(),
            issuer: Self::ISSUER.to_owned(),
            expires_in,
            requests: AtomicUsize::new(0),
        });
        let app = axum::Router::new()
            .route("/token", axum::routing::get(token))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://{addr}"),
            cert_pem: signer.cert.pem(),
            state,
        }
    }

    /// The token endpoint (`http://127.0.0.1:<port>/token`).
    pub fn realm(&self) -> String {
        format!("{}/token", self.url)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn origin(&self) -> &str {
        &self.url
    }

    /// How many token requests arrived (answered or refused).
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// The registry configuration trusting this server.
    pub fn auth(&self) -> RegistryAuth {
        RegistryAuth::Token {
            realm: self.realm(),
            service: self.state.service.clone(),
            issuer: self.state.issuer.clone(),
            cert_pem: self.cert_pem.clone(),
        }
    }

    /// A token for `user` (no password check) carrying `scopes`, for test set-up such as
    /// pushing an image.
    pub fn token_for(&self, user: &str, scopes: &[&str]) -> String {
        let user = self.state.users.get(user).expect("a known user");
        sign(
            &self.state,
            user,
            scopes.iter().map(|s| (*s).to_owned()).collect(),
        )
    }
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [("www-authenticate", "Basic realm=\"pathops-token\"")],
        axum::Json(serde_json::json!({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]})),
    )
        .into_response()
}

async fn token(
    State(state): State<Arc<TokenState>>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    state.requests.fetch_add(1, Ordering::SeqCst);
    let Some(basic) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
    else {
        return unauthorized();
    };
    let Some((name, password)) = basic.split_once(':') else {
        return unauthorized();
    };
    let Some(user) = state.users.get(name).filter(|u| u.password == password) else {
        return unauthorized();
    };
    if query
        .iter()
        .any(|(k, v)| k == "service" && *v != state.service)
    {
        return (StatusCode::BAD_REQUEST, "unknown service").into_response();
    }
    let scopes = query
        .into_iter()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v)
        .collect();
    let jwt = sign(&state, user, scopes);
    let issued_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("time");
    axum::Json(serde_json::json!({
        "token": jwt,
        "access_token": jwt,
        "expires_in": state.expires_in,
        "issued_at": issued_at,
    }))
    .into_response()
}

/// The JWT for `user` with what it was granted of `scopes` (`repository:<name>:<actions>`).
fn sign(state: &TokenState, user: &TokenUser, scopes: Vec<String>) -> String {
    let mut access = Vec::new();
    for scope in scopes {
        let mut parts = scope.splitn(3, ':');
        let (Some(kind), Some(name), Some(actions)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let granted: Vec<&str> = actions
            .split(',')
            .filter(|a| {
                kind == "repository"
                    && user
                        .grants
                        .iter()
                        .any(|(repo, allowed)| repo == name && allowed.iter().any(|x| x == a))
            })
            .collect();
        access.push(serde_json::json!({"type": kind, "name": name, "actions": granted}));
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = serde_json::json!({
        "iss": state.issuer,
        "sub": user.name,
        "aud": state.service,
        "exp": now + state.expires_in as i64,
        "nbf": now - 1,
        "iat": now,
        "jti": uuid::Uuid::new_v4().to_string(),
        "access": access,
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.typ = Some("JWT".to_owned());
    header.x5c = Some(vec![state.x5c.clone()]);
    jsonwebtoken::encode(&header, &claims, &state.key).expect("sign")
}

/// Pushes a one-layer image to `registry/<repository>:latest`, sending `authorization` (a
/// whole header value) when given. Returns the manifest digest.
pub async fn push_image(registry: &str, repository: &str, authorization: Option<&str>) -> String {
    let http = reqwest::Client::new();
    let with_auth = |r: reqwest::RequestBuilder| match authorization {
        Some(a) => r.header("authorization", a),
        None => r,
    };
    let upload = |content: Vec<u8>| {
        let http = http.clone();
        let url = format!("{registry}/v2/{repository}/blobs/uploads/");
        let start = with_auth(http.post(url));
        async move {
            let started = start.send().await.expect("start upload");
            assert_eq!(started.status(), 202, "start upload: {}", started.status());
            let location = started.headers()["location"]
                .to_str()
                .expect("location")
                .to_owned();
            let location = if location.starts_with('/') {
                format!("{registry}{location}")
            } else {
                location
            };
            let digest = format!("sha256:{}", hex(&Sha256::digest(&content)));
            let sep = if location.contains('?') { '&' } else { '?' };
            let put = with_auth(http.put(format!("{location}{sep}digest={digest}")))
                .header("content-type", "application/octet-stream")
                .body(content.clone());
            let done = put.send().await.expect("finish upload");
            assert_eq!(done.status(), 201, "finish upload: {}", done.status());
            (digest, content.len())
        }
    };
    let (config_digest, config_size) =
        upload(br#"{"architecture":"amd64","os":"linux"}"#.to_vec()).await;
    let (layer_digest, layer_size) = upload(b"pathops test layer".to_vec()).await;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer_size}],
    });
    let body = serde_json::to_vec(&manifest).expect("manifest");
    let put = with_auth(http.put(format!("{registry}/v2/{repository}/manifests/latest")))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(body.clone());
    let done = put.send().await.expect("put manifest");
    assert_eq!(
        done.status(),
        201,
        "put manifest: {}",
        done.text().await.unwrap_or_default()
    );
    format!("sha256:{}", hex(&Sha256::digest(&body)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A TCP proxy in front of a real server that can hold back its answers, so the connector
/// conformance suite's deadline check runs against the real thing too.
#[derive(Debug)]
pub struct LatencyProxy {
    url: String,
    latency: Arc<std::sync::Mutex<Duration>>,
    task: tokio::task::JoinHandle<()>,
}

impl LatencyProxy {
    /// Proxies `127.0.0.1:<free port>` to `target` (`http://host:port`).
    pub async fn start(target: &str) -> Self {
        let upstream = target
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let latency = Arc::new(std::sync::Mutex::new(Duration::ZERO));
        let delay = latency.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let delay = delay.clone();
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut server_read, mut server_write) = server.into_split();
                    let up = tokio::io::copy(&mut client_read, &mut server_write);
                    let down = async {
                        use tokio::io::{AsyncReadExt, AsyncWriteExt};
                        let mut buf = vec![0u8; 16 * 1024];
                        loop {
                            let n = match server_read.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            let wait = *delay
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner);
                            if !wait.is_zero() {
                                tokio::time::sleep(wait).await;
                            }
                            if client_write.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    };
                    let _ = tokio::join!(up, down);
                });
            }
        });
        Self { url, latency, task }
    }

    /// The proxy's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Holds every answer chunk back by `latency` (`Duration::ZERO` to stop).
    pub fn set_latency(&self, latency: Duration) {
        *self
            .latency
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = latency;
    }
}

impl Drop for LatencyProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
