//! What every fake server shares: binding, the request log, fault injection and shutdown on
//! drop.
//!
//! A [`FakeServer`] serves an axum router on its own accept loop (so a fault can drop a
//! connection without answering). Every request is recorded before anything else happens, then
//! the first matching [`Fault`] applies: latency first, then a dropped connection or a status
//! override, else the router answers.

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

/// The largest request body a fake records.
pub const MAX_RECORDED_BODY: usize = 16 * 1024 * 1024;

/// One request a fake received, as it arrived (credentials included: this is a test tool).
#[derive(Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, percent-encoded as sent.
    pub path: String,
    /// The query string, if any.
    pub query: Option<String>,
    /// Headers in arrival order, names lowercase.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// When it arrived.
    pub received_at: std::time::Instant,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, if it is.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Header values are not printed: the log holds the credentials clients sent.
impl fmt::Debug for RecordedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("RecordedRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("header_names", &names)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// A misbehaviour injected into a fake, for the requests it matches.
///
/// ```
/// use std::time::Duration;
/// use pathops_testkit::fake::Fault;
///
/// let slow_user = Fault::on("/api/v4/user").latency(Duration::from_secs(2));
/// let overloaded = Fault::any().status(503).times(1);
/// let reset = Fault::on_prefix("/api/v4/projects/").drop_connection();
/// # let _ = (slow_user, overloaded, reset);
/// ```
#[derive(Debug, Clone)]
pub struct Fault {
    method: Option<Method>,
    path: PathMatch,
    latency: Duration,
    status: Option<StatusCode>,
    body: Option<String>,
    headers: Vec<(String, String)>,
    drop_connection: bool,
    remaining: Option<usize>,
}

#[derive(Debug, Clone)]
enum PathMatch {
    Any,
    Exact(String),
    Prefix(String),
}

impl Fault {
    fn new(path: PathMatch) -> Self {
        Self {
            method: None,
            path,
            latency: Duration::ZERO,
            status: None,
            body: None,
            headers: Vec::new(),
            drop_connection: false,
            remaining: None,
        }
    }

    /// Matches every request.
    pub fn any() -> Self {
        Self::new(PathMatch::Any)
    }

    /// Matches requests whose path is exactly `path` (as sent, percent-encoded).
    pub fn on(path: &str) -> Self {
        Self::new(PathMatch::Exact(path.to_owned()))
    }

    /// Matches requests whose path starts with `prefix`.
    pub fn on_prefix(prefix: &str) -> Self {
        Self::new(PathMatch::Prefix(prefix.to_owned()))
    }

    /// Only requests with this method.
    pub fn method(mut self, method: Method) -> Self {
        self.method = Some(method);
        self
    }

    /// Waits `latency` before answering.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Answers `status` instead of the real handler (body `{"message":"injected fault"}`
    /// unless [`body`](Self::body) says otherwise). Panics on a status outside 100–999.
    pub fn status(mut self, status: u16) -> Self {
        self.status = Some(StatusCode::from_u16(status).expect("a valid HTTP status"));
        self
    }

    /// The body of a status override, sent as is.
    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// A header on a status override.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Closes the connection without answering.
    pub fn drop_connection(mut self) -> Self {
        self.drop_connection = true;
        self
    }

    /// Applies to the next `n` matching requests only (default: all).
    pub fn times(mut self, n: usize) -> Self {
        self.remaining = Some(n);
        self
    }

    fn matches(&self, method: &Method, path: &str) -> bool {
        if self.remaining == Some(0) {
            return false;
        }
        if self.method.as_ref().is_some_and(|m| m != method) {
            return false;
        }
        match &self.path {
            PathMatch::Any => true,
            PathMatch::Exact(p) => p == path,
            PathMatch::Prefix(p) => path.starts_with(p.as_str()),
        }
    }
}

#[derive(Debug, Default)]
struct Observer {
    requests: Mutex<Vec<RecordedRequest>>,
    faults: Mutex<Vec<Fault>>,
}

impl Observer {
    fn take_fault(&self, method: &Method, path: &str) -> Option<Fault> {
        let mut faults = self.faults.lock().expect("fault lock");
        let fault = faults.iter_mut().find(|f| f.matches(method, path))?;
        if let Some(n) = fault.remaining.as_mut() {
            *n -= 1;
        }
        Some(fault.clone())
    }
}

#[derive(Clone)]
struct ConnectionKill(Arc<Notify>);

/// A running fake: an HTTP/1 server on 127.0.0.1 (or the address it was given) that records
/// requests and applies faults. Dropping it stops the server and closes its connections.
pub struct FakeServer {
    addr: SocketAddr,
    observer: Arc<Observer>,
    task: JoinHandle<()>,
}

impl fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeServer")
            .field("addr", &self.addr)
            .finish()
    }
}

impl FakeServer {
    /// Serves `router` on `listen` (use `127.0.0.1:0` for a free port). Must be called inside
    /// a Tokio runtime.
    pub async fn bind(listen: SocketAddr, router: Router) -> std::io::Result<Self> {
        let listener = TcpListener::bind(listen).await?;
        Ok(Self::serve(listener, router))
    }

    /// Serves `router` on an already bound listener.
    pub fn serve(listener: TcpListener, router: Router) -> Self {
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let observer = Arc::new(Observer::default());
        let router = router.layer(axum::middleware::from_fn_with_state(
            observer.clone(),
            observe,
        ));
        let task = tokio::spawn(accept_loop(listener, router));
        Self {
            addr,
            observer,
            task,
        }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.observer
            .requests
            .lock()
            .expect("request log lock")
            .clone()
    }

    /// Requests received so far whose path is `path`.
    pub fn requests_to(&self, path: &str) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.observer
            .requests
            .lock()
            .expect("request log lock")
            .clear();
    }

    /// Adds a fault; the first fault that matches a request applies.
    pub fn inject(&self, fault: Fault) {
        self.observer.faults.lock().expect("fault lock").push(fault);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.observer.faults.lock().expect("fault lock").clear();
    }

    /// Sets (or with `Duration::ZERO` removes) a latency on every request, replacing other
    /// faults.
    pub fn set_latency(&self, latency: Duration) {
        self.clear_faults();
        if !latency.is_zero() {
            self.inject(Fault::any().latency(latency));
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, router: Router) {
    // Connection tasks live in this set: aborting the loop drops it, which aborts them.
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        while connections.try_join_next().is_some() {}
        let router = router.clone();
        connections.spawn(async move {
            let kill = Arc::new(Notify::new());
            let handle = ConnectionKill(kill.clone());
            let service = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(handle.clone());
                    let router = router.clone();
                    async move {
                        let response = tower_call(router, req.map(Body::new)).await;
                        Ok::<_, std::convert::Infallible>(response)
                    }
                },
            );
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                () = kill.notified() => {}
            }
        });
    }
}

async fn tower_call(router: Router, req: Request) -> Response {
    use tower_service::Service;
    let mut router = router;
    match router.call(req).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

async fn observe(State(observer): State<Arc<Observer>>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_RECORDED_BODY)
        .await
        .unwrap_or_default();
    observer
        .requests
        .lock()
        .expect("request log lock")
        .push(RecordedRequest {
            received_at: std::time::Instant::now(),
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            headers: parts
                .headers
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: bytes.to_vec(),
        });
    if let Some(fault) = observer.take_fault(&parts.method, parts.uri.path()) {
        if !fault.latency.is_zero() {
            tokio::time::sleep(fault.latency).await;
        }
        if fault.drop_connection {
            if let Some(kill) = parts.extensions.get::<ConnectionKill>() {
                kill.0.notify_one();
            }
            std::future::pending::<()>().await;
        }
        if let Some(status) = fault.status {
            let body = fault
                .body
                .unwrap_or_else(|| r#"{"message":"injected fault"}"#.to_owned());
            let mut response = (status, body).into_response();
            response.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            for (name, value) in fault.headers {
                if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
                    response.headers_mut().insert(n, v);
                }
            }
            return response;
        }
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// A TCP port on 127.0.0.1 that nothing listens on: bound, then released. Another process
/// could take it in between; on a test machine that is rare enough.
pub fn refused_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// A JSON response with `status`.
pub(crate) fn json(status: StatusCode, value: serde_json::Value) -> Response {
    (status, axum::Json(value)).into_response()
}

/// The answer to a call a fake does not emulate: 404 naming the call.
pub(crate) fn unexpected(fake: &str, method: &Method, uri: &axum::http::Uri) -> Response {
    json(
        StatusCode::NOT_FOUND,
        serde_json::json!({
            "message": "404 Not Found",
            "fake": format!("{fake} does not emulate {method} {}", uri.path()),
        }),
    )
}
