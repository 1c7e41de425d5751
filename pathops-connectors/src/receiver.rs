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
//! use pathops_core::webhook::{ChallengeRegistry, WebhookReceiver};
//!
//! # async fn serve() -> std::io::Result<()> {
//! let receiver = WebhookReceiver::new(Arc::new(ChallengeRegistry::new()));
//! let app = pathops_connectors::receiver::router(receiver);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await
//! # }
//! ```

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use pathops_core::webhook::{DeliveryKind, Headers, WebhookReceiver};

/// The receiver's routes under `/webhooks/{kind}`.
pub fn router(receiver: WebhookReceiver) -> Router {
    // One byte over the receiver's own cap reaches it, so it answers 413 itself.
    let limit = receiver_body_limit(&receiver);
    Router::new()
        .route("/webhooks/{kind}", post(handle))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(receiver)
}

fn receiver_body_limit(_receiver: &WebhookReceiver) -> usize {
    // The transport limit is generous; the receiver enforces its configured cap with a typed
    // outcome. Bodies beyond this are refused by axum before they are buffered.
    64 * 1024 * 1024
}

async fn handle(
    State(receiver): State<WebhookReceiver>,
    Path(kind): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(kind) = DeliveryKind::from_segment(&kind) else {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(serde_json::json!({ "error": "unknown webhook kind" })),
        )
            .into_response();
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
