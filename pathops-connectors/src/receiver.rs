//! An axum [`Router`] serving the webhook receiver (feature `receiver`):
//! `POST /webhooks/gitlab`, `/webhooks/github`, `/webhooks/gitea`, `/webhooks/standard` and the
//! direct-ping callback `/webhooks/ping`.
//!
//! Every request is answered at once by
//! [`WebhookReceiver::handle`](pathops_core::webhook::WebhookReceiver::handle): nothing waits on
//! I/O, well inside the 10 s GitLab and GitHub give a receiver.
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use pathops_core::webhook::{ChallengeRegistry, WebhookReceiver};
//! use pathops_connectors::receiver::{self, RouterOptions};
//!
//! # async fn serve() -> std::io::Result<()> {
//! let receiver = WebhookReceiver::new(Arc::new(ChallengeRegistry::new()));
//! // The defaults (below), or tuned:
//! let options = RouterOptions::new()
//!     .with_request_timeout(Duration::from_secs(5))
//!     .with_max_in_flight(32);
//! let app = receiver::router_with(receiver, options);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! # Limits
//!
//! The endpoint is public: anyone can send it anything, so every request is bounded before
//! the receiver sees it.
//!
//! | limit | default | beyond it | why |
//! |---|---|---|---|
//! | body size | the receiver's cap + 1 byte ([`WebhookReceiver::max_body_bytes`], 1 MiB by default) | `413 {"error":"too_large"}`; a larger `Content-Length` is refused before any byte is read, a chunked body once it passes the limit | nothing larger than the cap is ever buffered; one byte more reaches the receiver, which answers the same 413 itself |
//! | time per request, body included | [`RouterOptions::DEFAULT_REQUEST_TIMEOUT`] (10 s) | `408 {"error":"timeout"}` and the connection is closed | a half-sent body would otherwise hold its connection and memory for as long as the sender likes; GitLab and GitHub give up on a receiver after 10 s anyway |
//! | requests in flight | [`RouterOptions::DEFAULT_MAX_IN_FLIGHT`] (64) | `503 {"error":"overloaded"}` at once, not queued | bounds memory to about `max_in_flight × cap` (64 MiB by default) and keeps a flood from queueing behind the timeout; providers resend a refused delivery |
//!
//! Every error answer, the router's own included (`404 {"error":"not_found"}` for an unknown
//! path or webhook kind, `405 {"error":"method_not_allowed"}`), is a JSON body shaped like the
//! receiver's rejections: `{"error": code}`.
//!
//! Slow request *headers* are the server's to bound, not the router's: `axum::serve` (hyper)
//! times out a connection whose headers do not arrive.
//!
//! [`WebhookReceiver::max_body_bytes`]: pathops_core::webhook::WebhookReceiver::max_body_bytes

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use pathops_core::webhook::{DeliveryKind, Headers, WebhookReceiver};
use tower::ServiceBuilder;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

/// The limits of the receiver's HTTP edge (see the [module docs](self)). Build it with
/// [`RouterOptions::new`] and the `with_*` setters.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RouterOptions {
    /// Longest a request may take from its headers to its answer, reading the body included.
    pub request_timeout: Duration,
    /// Most requests handled at once; more are refused with 503.
    pub max_in_flight: usize,
}

impl RouterOptions {
    /// The default request timeout: 10 s, what GitLab and GitHub wait for a receiver.
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
    /// The default number of requests in flight.
    pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;

    /// The defaults.
    pub fn new() -> Self {
        Self {
            request_timeout: Self::DEFAULT_REQUEST_TIMEOUT,
            max_in_flight: Self::DEFAULT_MAX_IN_FLIGHT,
        }
    }

    /// Sets the request timeout.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets how many requests may be in flight (at least 1).
    pub fn with_max_in_flight(mut self, max: usize) -> Self {
        self.max_in_flight = max.max(1);
        self
    }
}

impl Default for RouterOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// The receiver's routes under `/webhooks/{kind}`, with the default [`RouterOptions`].
pub fn router(receiver: WebhookReceiver) -> Router {
    router_with(receiver, RouterOptions::default())
}

/// The receiver's routes under `/webhooks/{kind}`, bounded by `options`.
pub fn router_with(receiver: WebhookReceiver, options: RouterOptions) -> Router {
    routes(receiver, options).fallback(not_found)
}

/// The route `/webhooks/{kind}` alone, without a fallback, for a router that merges it with
/// its own routes and answers unknown paths itself.
pub(crate) fn routes(receiver: WebhookReceiver, options: RouterOptions) -> Router {
    // One byte over the receiver's own cap reaches it, so it answers 413 itself; nothing
    // larger is read.
    let limit = receiver.max_body_bytes().saturating_add(1);
    Router::new()
        .route(
            "/webhooks/{kind}",
            post(handle).fallback(method_not_allowed),
        )
        .with_state(receiver)
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(overloaded))
                .load_shed()
                .layer(GlobalConcurrencyLimitLayer::new(options.max_in_flight))
                .layer(RequestBodyLimitLayer::new(limit))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    options.request_timeout,
                ))
                // The limit above is the only one: axum's own default (2 MiB) would differ
                // from the receiver's cap.
                .layer(DefaultBodyLimit::disable()),
        )
        // Outermost, so it also sees the answers of the layers above.
        .layer(axum::middleware::map_response(json_errors))
}

async fn handle(
    State(receiver): State<WebhookReceiver>,
    Path(kind): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(kind) = DeliveryKind::from_segment(&kind) else {
        return error(StatusCode::NOT_FOUND);
    };
    let headers = Headers::from_pairs(
        headers
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?))),
    );
    let decision = receiver.handle(kind, &headers, &body);
    let status = StatusCode::from_u16(decision.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(decision.body)).into_response()
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND)
}

async fn method_not_allowed() -> Response {
    error(StatusCode::METHOD_NOT_ALLOWED)
}

async fn overloaded(_: tower::BoxError) -> Result<Response, Infallible> {
    let mut response = error(StatusCode::SERVICE_UNAVAILABLE);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    Ok(response)
}

/// The `{"error": code}` code of a status, as the receiver names its own rejections.
fn error_code(status: StatusCode) -> String {
    match status {
        StatusCode::BAD_REQUEST => "bad_request".to_owned(),
        StatusCode::UNAUTHORIZED => "unauthorized".to_owned(),
        StatusCode::NOT_FOUND => "not_found".to_owned(),
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed".to_owned(),
        StatusCode::REQUEST_TIMEOUT => "timeout".to_owned(),
        StatusCode::CONFLICT => "duplicate".to_owned(),
        StatusCode::PAYLOAD_TOO_LARGE => "too_large".to_owned(),
        StatusCode::SERVICE_UNAVAILABLE => "overloaded".to_owned(),
        other => other
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase()
            .replace([' ', '-'], "_"),
    }
}

fn error(status: StatusCode) -> Response {
    (
        status,
        axum::Json(serde_json::json!({ "error": error_code(status) })),
    )
        .into_response()
}

/// Gives every error answer that is not JSON already (axum's rejections, the timeout's empty
/// 408, the body limit's text 413) the receiver's `{"error": code}` body, keeping headers such
/// as `Allow` and `Retry-After`.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let mut json = error(status);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    for (name, value) in &parts.headers {
        json.headers_mut().insert(name.clone(), value.clone());
    }
    json
}
