//! [`FakeMinio`]: MinIO's health probes and the S3 bucket calls PathOps makes, with SigV4
//! signatures verified.
//!
//! | call | behaviour |
//! |---|---|
//! | `GET`/`HEAD /minio/health/live` | 200, no body; `X-Minio-Server-Status: offline` while the server status is `offline`; **503** while `live` is off (overloaded: `ServerBusy`, `Retry-After: 60` on `GET`) |
//! | `GET`/`HEAD /minio/health/ready` | as `live`, with its own switch (`ready`) |
//! | `GET`/`HEAD /minio/health/cluster` | `X-Minio-Write-Quorum`, `X-Minio-Storage-Class-Defaults`, `X-Minio-Healing-Drives` (when healing); 200 with write quorum, **503** without; with `?maintenance=true`, **412** when the node is not safe to take down (or there is no quorum); while a server status is set (`offline`, `bucket-metadata-offline`, `iam-offline`), 503 with `X-Minio-Server-Status` and no quorum headers |
//! | `GET`/`HEAD /minio/health/cluster/read` | the same with `X-Minio-Read-Quorum` |
//! | `HEAD /<bucket>` | `200` with `x-amz-bucket-region`; errors without a body, their code and message in `x-minio-error-code` / `x-minio-error-desc` (MinIO's way; switch `error_headers` off for S3's bare `HEAD` errors) |
//! | `GET /<bucket>?list-type=2…` | an empty `ListBucketResult`; errors as S3's XML `<Error>` |
//! | `GET /<bucket>?location` | `LocationConstraint` |
//!
//! Buckets are also found virtual-hosted: a request for `/` whose `Host` starts with
//! `<bucket>.` (a test reaches such names through the fake as an HTTP proxy).
//!
//! **Authentication** is SigV4 only, verified as S3 does: the `Authorization` header is
//! parsed, the date checked (15 minutes), the payload hash compared with the body, and the
//! request signed again with the key's secret by the `aws-sigv4` crate over exactly the
//! headers the client signed; the signatures are compared in constant time. In order:
//!
//! | request | answer |
//! |---|---|
//! | a server status set | `503 XMinioServerNotInitialized` |
//! | no signature | `403 AccessDenied` |
//! | unknown access key | `403 InvalidAccessKeyId` |
//! | signed for another region than the server's | `400 AuthorizationHeaderMalformed` (`…; expecting '<region>'.`, `<Region>` in the XML) |
//! | date more than 15 minutes off | `403 RequestTimeTooSkewed` |
//! | payload hash missing or wrong | `400 XAmzContentSHA256Mismatch` |
//! | wrong signature | `403 SignatureDoesNotMatch` |
//! | a bucket in another region than the server's | `301 PermanentRedirect` with the bucket's `x-amz-bucket-region` (S3's per-bucket regions; MinIO itself has one region) |
//! | a key without a grant on the bucket | `403 AccessDenied` (before existence, as MinIO checks policy first) |
//! | no such bucket | `404 NoSuchBucket` |
//!
//! Every S3 answer carries `Server: MinIO`, `x-amz-request-id` and, as MinIO does when a
//! region is configured, `x-amz-bucket-region`. Objects, writes and `ListBuckets` are not
//! emulated (answered as unexpected calls); write quorum does not affect the bucket calls.
//!
//! # Seeds
//!
//! [`FakeMinio::default_seed`] (what [`FakeMinio::start_with_defaults`] starts): region
//! `us-east-1`, healthy (write quorum 3), buckets `evidence` (`us-east-1`) and
//! `evidence-eu` (`eu-west-1`), the key [`FakeMinio::ACCESS_KEY`] granted `evidence` and
//! `evidence-eu`, and [`FakeMinio::NO_GRANT_ACCESS_KEY`] granted nothing. A healthy
//! integration on it:
//!
//! ```text
//! provider minio, base URL http://127.0.0.1:<port>
//! configuration {"bucket": "evidence"}
//! secret {"access_key_id": "PATHOPSEVIDENCE00001", "secret_access_key": "fake-minio-secret-key-evidence-0000000000"}
//! ```
//!
//! [`FakeMinio::broken_seed`]: the same, but the cluster has lost write quorum while 2 drives
//! heal; every check of the integration above fails `unhealthy`, reporting the quorum. As a
//! `pathops-fake minio --seed broken.json` file:
//!
//! ```json
//! {"health": {"write_quorum": false, "healing_drives": 2},
//!  "users": [{"access_key": "PATHOPSEVIDENCE00001",
//!             "secret_key": "fake-minio-secret-key-evidence-0000000000",
//!             "buckets": ["evidence"]}],
//!  "buckets": [{"name": "evidence"}]}
//! ```
//!
//! On the healthy seed, broken integrations need no switch: `{"bucket": "evidence-eu"}`
//! (wrong region), `{"bucket": "missing"}` with the no-grant key (access denied), a wrong
//! secret key (`SignatureDoesNotMatch`).

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};

use super::FakeServer;
use super::server::unexpected;
use super::sigv4::{self, Refused};

/// An access key and the buckets it may use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinioUser {
    /// The access key id.
    pub access_key: String,
    /// Its secret key.
    pub secret_key: String,
    /// Bucket names it may list (and so `HEAD`); `*` for every bucket, existing or not.
    #[serde(default)]
    pub buckets: Vec<String>,
}

/// A bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinioBucket {
    /// Its name.
    pub name: String,
    /// Its region (default: the server's).
    #[serde(default)]
    pub region: Option<String>,
}

fn yes() -> bool {
    true
}

fn default_quorum() -> u32 {
    FakeMinio::WRITE_QUORUM
}

fn default_region() -> String {
    FakeMinio::REGION.to_owned()
}

/// The switches of the health probes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinioHealth {
    /// `live` answers 200 (else 503: overloaded).
    #[serde(default = "yes")]
    pub live: bool,
    /// `ready` answers 200 (else 503).
    #[serde(default = "yes")]
    pub ready: bool,
    /// The cluster has write quorum (else `cluster` answers 503).
    #[serde(default = "yes")]
    pub write_quorum: bool,
    /// `X-Minio-Write-Quorum` (and `X-Minio-Read-Quorum` one less).
    #[serde(default = "default_quorum")]
    pub quorum: u32,
    /// Taking the node down keeps write quorum (else `?maintenance=true` answers 412).
    #[serde(default = "yes")]
    pub maintenance_safe: bool,
    /// `X-Minio-Healing-Drives` (not sent when 0).
    #[serde(default)]
    pub healing_drives: u32,
    /// `X-Minio-Storage-Class-Defaults`.
    #[serde(default)]
    pub storage_class_defaults: bool,
    /// `X-Minio-Server-Status` while starting: `offline`, `bucket-metadata-offline` or
    /// `iam-offline`.
    #[serde(default)]
    pub server_status: Option<String>,
}

impl Default for MinioHealth {
    fn default() -> Self {
        Self {
            live: true,
            ready: true,
            write_quorum: true,
            quorum: FakeMinio::WRITE_QUORUM,
            maintenance_safe: true,
            healing_drives: 0,
            storage_class_defaults: false,
            server_status: None,
        }
    }
}

/// Everything a fake MinIO starts with: the JSON seed file of `pathops-fake minio`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinioSeed {
    /// The server's region (default [`FakeMinio::REGION`]).
    #[serde(default = "default_region")]
    pub region: String,
    /// Access keys.
    #[serde(default)]
    pub users: Vec<MinioUser>,
    /// Buckets.
    #[serde(default)]
    pub buckets: Vec<MinioBucket>,
    /// The health switches.
    #[serde(default)]
    pub health: MinioHealth,
    /// `HEAD` errors carry `x-minio-error-code` / `x-minio-error-desc` (MinIO; default), or
    /// nothing (S3).
    #[serde(default = "yes")]
    pub error_headers: bool,
}

impl Default for MinioSeed {
    fn default() -> Self {
        Self {
            region: FakeMinio::REGION.to_owned(),
            users: Vec::new(),
            buckets: Vec::new(),
            health: MinioHealth::default(),
            error_headers: true,
        }
    }
}

#[derive(Debug)]
struct Shared {
    state: Mutex<MinioSeed>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, MinioSeed> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A fake MinIO; see the [module docs](self). Dereferences to its [`FakeServer`].
#[derive(Debug)]
pub struct FakeMinio {
    server: FakeServer,
    shared: Arc<Shared>,
}

impl Deref for FakeMinio {
    type Target = FakeServer;
    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

impl FakeMinio {
    /// The server's region unless the seed says otherwise.
    pub const REGION: &'static str = "us-east-1";
    /// The write quorum reported unless the seed says otherwise.
    pub const WRITE_QUORUM: u32 = 3;
    /// [`default_seed`](Self::default_seed): the evidence bucket.
    pub const BUCKET: &'static str = "evidence";
    /// [`default_seed`](Self::default_seed): a bucket in [`EU_REGION`](Self::EU_REGION).
    pub const EU_BUCKET: &'static str = "evidence-eu";
    /// The region of [`EU_BUCKET`](Self::EU_BUCKET).
    pub const EU_REGION: &'static str = "eu-west-1";
    /// [`default_seed`](Self::default_seed): the key granted the buckets.
    pub const ACCESS_KEY: &'static str = "PATHOPSEVIDENCE00001";
    /// Its secret key.
    pub const SECRET_KEY: &'static str = "fake-minio-secret-key-evidence-0000000000";
    /// [`default_seed`](Self::default_seed): a valid key granted no bucket.
    pub const NO_GRANT_ACCESS_KEY: &'static str = "PATHOPSNOGRANT000001";
    /// Its secret key.
    pub const NO_GRANT_SECRET_KEY: &'static str = "fake-minio-secret-key-no-grant-000000000";

    /// A fake seeded with `seed` on `127.0.0.1:0`.
    pub async fn start(seed: MinioSeed) -> Self {
        Self::start_on("127.0.0.1:0".parse().expect("a socket address"), seed)
            .await
            .expect("bind 127.0.0.1:0")
    }

    /// A fake with [`default_seed`](Self::default_seed).
    pub async fn start_with_defaults() -> Self {
        Self::start(Self::default_seed()).await
    }

    /// A fake seeded with `seed` on `listen`.
    pub async fn start_on(listen: SocketAddr, seed: MinioSeed) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let shared = Arc::new(Shared {
            state: Mutex::new(seed),
        });
        let server = FakeServer::serve(listener, router(shared.clone()));
        Ok(Self { server, shared })
    }

    /// The healthy seed (see the [module docs](self#seeds)).
    pub fn default_seed() -> MinioSeed {
        MinioSeed {
            users: vec![
                MinioUser {
                    access_key: Self::ACCESS_KEY.to_owned(),
                    secret_key: Self::SECRET_KEY.to_owned(),
                    buckets: vec![Self::BUCKET.to_owned(), Self::EU_BUCKET.to_owned()],
                },
                MinioUser {
                    access_key: Self::NO_GRANT_ACCESS_KEY.to_owned(),
                    secret_key: Self::NO_GRANT_SECRET_KEY.to_owned(),
                    buckets: Vec::new(),
                },
            ],
            buckets: vec![
                MinioBucket {
                    name: Self::BUCKET.to_owned(),
                    region: None,
                },
                MinioBucket {
                    name: Self::EU_BUCKET.to_owned(),
                    region: Some(Self::EU_REGION.to_owned()),
                },
            ],
            ..MinioSeed::default()
        }
    }

    /// The broken seed: [`default_seed`](Self::default_seed) without write quorum, 2 drives
    /// healing (see the [module docs](self#seeds)).
    pub fn broken_seed() -> MinioSeed {
        let mut seed = Self::default_seed();
        seed.health.write_quorum = false;
        seed.health.healing_drives = 2;
        seed
    }

    /// The JSON secret of a MinIO / S3 integration: `{"access_key_id", "secret_access_key"}`.
    pub fn secret(access_key: &str, secret_key: &str) -> String {
        serde_json::json!({"access_key_id": access_key, "secret_access_key": secret_key})
            .to_string()
    }

    /// The secret of [`ACCESS_KEY`](Self::ACCESS_KEY).
    pub fn default_secret() -> String {
        Self::secret(Self::ACCESS_KEY, Self::SECRET_KEY)
    }

    fn health(&self, change: impl FnOnce(&mut MinioHealth)) {
        change(&mut self.shared.lock().health);
    }

    /// `live` answers 200 (`true`) or 503.
    pub fn set_live(&self, up: bool) {
        self.health(|h| h.live = up);
    }

    /// `ready` answers 200 (`true`) or 503.
    pub fn set_ready(&self, ready: bool) {
        self.health(|h| h.ready = ready);
    }

    /// Whether the cluster has write quorum.
    pub fn set_write_quorum(&self, quorum: bool) {
        self.health(|h| h.write_quorum = quorum);
    }

    /// Whether taking the node down keeps write quorum.
    pub fn set_maintenance_safe(&self, safe: bool) {
        self.health(|h| h.maintenance_safe = safe);
    }

    /// How many drives are healing.
    pub fn set_healing_drives(&self, drives: u32) {
        self.health(|h| h.healing_drives = drives);
    }

    /// `X-Minio-Server-Status` (`None`: started).
    pub fn set_server_status(&self, status: Option<&str>) {
        self.health(|h| h.server_status = status.map(str::to_owned));
    }

    /// Whether `HEAD` errors carry MinIO's error headers.
    pub fn set_error_headers(&self, on: bool) {
        self.shared.lock().error_headers = on;
    }

    /// Adds an access key.
    pub fn add_user(&self, user: MinioUser) {
        self.shared.lock().users.push(user);
    }

    /// Adds a bucket.
    pub fn add_bucket(&self, bucket: MinioBucket) {
        self.shared.lock().buckets.push(bucket);
    }
}

type S = State<Arc<Shared>>;

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/minio/health/live", get(live))
        .route("/minio/health/ready", get(ready))
        .route("/minio/health/cluster", get(cluster))
        .route("/minio/health/cluster/read", get(cluster_read))
        .fallback(s3)
        .with_state(shared)
}

/// `body` for a `GET`, nothing for a `HEAD`.
fn answer(
    method: &Method,
    status: StatusCode,
    headers: Vec<(&'static str, String)>,
    body: String,
) -> Response {
    let body = if *method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(body)
    };
    let mut response = (status, body).into_response();
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, v);
        }
    }
    response
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// An S3 error: XML for `GET`, MinIO's headers (when on) for `HEAD`.
struct S3Error {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// `<Region>` (and `x-amz-bucket-region`).
    region: Option<String>,
}

impl S3Error {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            region: None,
        }
    }

    fn respond(self, method: &Method, resource: &str, state: &MinioSeed) -> Response {
        let request_id = format!("{:X}", uuid::Uuid::new_v4().as_u128() >> 64);
        let region = self.region.clone().unwrap_or_else(|| state.region.clone());
        let mut headers = vec![
            ("server", "MinIO".to_owned()),
            ("x-amz-request-id", request_id.clone()),
            ("x-amz-bucket-region", region.clone()),
        ];
        if *method == Method::HEAD {
            if state.error_headers {
                headers.push(("x-minio-error-code", self.code.to_owned()));
                headers.push(("x-minio-error-desc", format!("\"{}\"", self.message)));
            }
        } else {
            headers.push(("content-type", "application/xml".to_owned()));
        }
        if self.status.is_server_error() {
            headers.push(("retry-after", "60".to_owned()));
        }
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message>\
             <Resource>{}</Resource><Region>{}</Region><RequestId>{request_id}</RequestId>\
             <HostId>fake-minio</HostId></Error>",
            self.code,
            escape(&self.message),
            escape(resource),
            escape(&region),
        );
        answer(method, self.status, headers, body)
    }
}

/// The answer of `live` and `ready`: 200, or 503 `ServerBusy` when switched off.
fn probe(method: &Method, up: bool, health: &MinioHealth) -> Response {
    let mut headers = Vec::new();
    if health.server_status.as_deref() == Some("offline") {
        headers.push(("x-minio-server-status", "offline".to_owned()));
    }
    if up {
        return answer(method, StatusCode::OK, headers, String::new());
    }
    let seed = MinioSeed {
        error_headers: false,
        ..MinioSeed::default()
    };
    let mut response = S3Error::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "ServerBusy",
        "The service is unavailable. Please retry.",
    )
    .respond(method, "/minio/health", &seed);
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, v);
        }
    }
    response
}

async fn live(State(s): S, method: Method) -> Response {
    let health = s.lock().health.clone();
    probe(&method, health.live, &health)
}

async fn ready(State(s): S, method: Method) -> Response {
    let health = s.lock().health.clone();
    probe(&method, health.live && health.ready, &health)
}

#[derive(Deserialize)]
struct ClusterQuery {
    #[serde(default)]
    maintenance: Option<String>,
}

fn cluster_answer(
    method: &Method,
    health: &MinioHealth,
    maintenance: bool,
    read: bool,
) -> Response {
    if let Some(status) = &health.server_status {
        return answer(
            method,
            StatusCode::SERVICE_UNAVAILABLE,
            vec![("x-minio-server-status", status.clone())],
            String::new(),
        );
    }
    let mut headers = if read {
        vec![(
            "x-minio-read-quorum",
            health.quorum.saturating_sub(1).to_string(),
        )]
    } else {
        vec![("x-minio-write-quorum", health.quorum.to_string())]
    };
    headers.push((
        "x-minio-storage-class-defaults",
        health.storage_class_defaults.to_string(),
    ));
    if health.healing_drives > 0 {
        headers.push(("x-minio-healing-drives", health.healing_drives.to_string()));
    }
    let healthy = health.write_quorum && (!maintenance || health.maintenance_safe);
    let status = match (healthy, maintenance) {
        (true, _) => StatusCode::OK,
        (false, true) => StatusCode::PRECONDITION_FAILED,
        (false, false) => StatusCode::SERVICE_UNAVAILABLE,
    };
    answer(method, status, headers, String::new())
}

async fn cluster(State(s): S, method: Method, Query(q): Query<ClusterQuery>) -> Response {
    let health = s.lock().health.clone();
    cluster_answer(
        &method,
        &health,
        q.maintenance.as_deref() == Some("true"),
        false,
    )
}

async fn cluster_read(State(s): S, method: Method, Query(q): Query<ClusterQuery>) -> Response {
    let health = s.lock().health.clone();
    cluster_answer(
        &method,
        &health,
        q.maintenance.as_deref() == Some("true"),
        true,
    )
}

/// The bucket a request is for: virtual-hosted (`/` on `<bucket>.<host>`) or path-style
/// (`/<bucket>`, nothing after it).
fn bucket_of(uri: &Uri, headers: &HeaderMap) -> Option<String> {
    let path = uri.path();
    if path == "/" {
        let host = headers.get("host")?.to_str().ok()?;
        let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
        if host.parse::<std::net::IpAddr>().is_ok() {
            return None;
        }
        let (first, rest) = host.split_once('.')?;
        return (!first.is_empty() && !rest.is_empty()).then(|| first.to_owned());
    }
    let name = path.strip_prefix('/')?.trim_end_matches('/');
    (!name.is_empty() && !name.contains('/')).then(|| name.to_owned())
}

/// What a `GET` on a bucket asks for.
enum Call {
    Head,
    List,
    Location,
}

fn call_of(method: &Method, uri: &Uri) -> Option<Call> {
    let query = uri.query().unwrap_or_default();
    let has = |key: &str| query.split('&').any(|p| p.split('=').next() == Some(key));
    match *method {
        Method::HEAD => Some(Call::Head),
        Method::GET if has("location") => Some(Call::Location),
        Method::GET if has("list-type") => Some(Call::List),
        _ => None,
    }
}

async fn s3(State(s): S, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let (Some(bucket), Some(call)) = (bucket_of(&uri, &headers), call_of(&method, &uri)) else {
        return unexpected("fake MinIO", &method, &uri);
    };
    let state = s.lock().clone();
    let resource = format!("/{bucket}");
    match authorize(&state, &bucket, &method, &uri, &headers, &body) {
        Err(e) => e.respond(&method, &resource, &state),
        Ok(region) => {
            let common = vec![
                ("server", "MinIO".to_owned()),
                (
                    "x-amz-request-id",
                    format!("{:X}", uuid::Uuid::new_v4().as_u128() >> 64),
                ),
                ("x-amz-bucket-region", region.clone()),
            ];
            let body = match call {
                Call::Head => String::new(),
                Call::List => format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult \
                     xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>{}</Name><Prefix>\
                     </Prefix><KeyCount>0</KeyCount><MaxKeys>0</MaxKeys><IsTruncated>false\
                     </IsTruncated></ListBucketResult>",
                    escape(&bucket)
                ),
                Call::Location => format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint \
                     xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">{}</LocationConstraint>",
                    escape(&region)
                ),
            };
            let mut headers = common;
            if !matches!(call, Call::Head) {
                headers.push(("content-type", "application/xml".to_owned()));
            }
            answer(&method, StatusCode::OK, headers, body)
        }
    }
}

/// The checks of the module docs' table, in order; `Ok` with the bucket's region.
fn authorize(
    state: &MinioSeed,
    bucket: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<String, S3Error> {
    if state.health.server_status.is_some() {
        return Err(S3Error::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "XMinioServerNotInitialized",
            "Server not initialized yet, please try again.",
        ));
    }
    let auth = sigv4::authorization(headers).map_err(|refused| match refused {
        Refused::Anonymous => S3Error::new(StatusCode::FORBIDDEN, "AccessDenied", "Access Denied."),
        _ => S3Error::new(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "The SigV4 Authorization header is malformed.",
        ),
    })?;
    let Some(user) = state
        .users
        .iter()
        .find(|u| u.access_key == auth.access_key_id)
    else {
        return Err(S3Error::new(
            StatusCode::FORBIDDEN,
            "InvalidAccessKeyId",
            "The Access Key Id you provided does not exist in our records.",
        ));
    };
    if auth.service != "s3" {
        return Err(S3Error::new(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "The credential scope is not for s3.",
        ));
    }
    if auth.region != state.region {
        return Err(S3Error {
            region: Some(state.region.clone()),
            ..S3Error::new(
                StatusCode::BAD_REQUEST,
                "AuthorizationHeaderMalformed",
                format!(
                    "The authorization header is malformed; the region is wrong; expecting '{}'.",
                    state.region
                ),
            )
        });
    }
    sigv4::verify_s3(&auth, &user.secret_key, method, uri, headers, body).map_err(|refused| {
        match refused {
            Refused::Skewed => S3Error::new(
                StatusCode::FORBIDDEN,
                "RequestTimeTooSkewed",
                "The difference between the request time and the server's time is too large.",
            ),
            Refused::ContentSha256 => S3Error::new(
                StatusCode::BAD_REQUEST,
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            ),
            Refused::BadDate | Refused::Malformed | Refused::Anonymous => S3Error::new(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                "The X-Amz-Date header or the credential scope date is wrong.",
            ),
            Refused::Mismatch => S3Error::new(
                StatusCode::FORBIDDEN,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. \
                 Check your key and signing method.",
            ),
        }
    })?;
    let found = state.buckets.iter().find(|b| b.name == bucket);
    let region = found
        .and_then(|b| b.region.clone())
        .unwrap_or_else(|| state.region.clone());
    if found.is_some() && region != state.region {
        return Err(S3Error {
            region: Some(region),
            ..S3Error::new(
                StatusCode::MOVED_PERMANENTLY,
                "PermanentRedirect",
                "The bucket you are attempting to access must be addressed using the specified \
                 endpoint. Please send all future requests to this endpoint.",
            )
        });
    }
    if !user.buckets.iter().any(|b| b == bucket || b == "*") {
        return Err(S3Error::new(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Access Denied.",
        ));
    }
    if found.is_none() {
        return Err(S3Error::new(
            StatusCode::NOT_FOUND,
            "NoSuchBucket",
            "The specified bucket does not exist",
        ));
    }
    Ok(region)
}
