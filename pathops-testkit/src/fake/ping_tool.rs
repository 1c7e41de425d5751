//! [`FakePingTool`]: a tool that speaks the PathOps direct-ping protocol
//! ([`pathops_core::directping`]), with switches to break either direction.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use pathops_core::directping::{self, PingCallback, PingRequest};
use serde_json::json;

use super::server::{FakeServer, RecordedRequest};

/// Ways to break the protocol.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PingSwitches {
    /// Answer 401 to PathOps whatever the credential (breaks PathOps → tool).
    pub refuse_pathops: bool,
    /// Accept the ping but never call back (breaks tool → PathOps).
    pub skip_callback: bool,
    /// Call back with a proof made from another secret (breaks tool → PathOps).
    pub wrong_proof: bool,
}

#[derive(Debug)]
struct ToolState {
    secret: String,
    switches: Mutex<PingSwitches>,
    callbacks: Mutex<Vec<u16>>,
    http: reqwest::Client,
}

/// A fake tool serving `POST /pathops/ping` on `127.0.0.1:0`. It accepts
/// `Authorization: Bearer <secret>` and, unless told otherwise, calls back the `callback_url`
/// with a valid proof.
#[derive(Debug)]
pub struct FakePingTool {
    server: FakeServer,
    state: Arc<ToolState>,
}

impl FakePingTool {
    /// Starts the tool with the shared `secret`.
    pub async fn start(secret: &str) -> std::io::Result<Self> {
        let state = Arc::new(ToolState {
            secret: secret.to_owned(),
            switches: Mutex::new(PingSwitches::default()),
            callbacks: Mutex::new(Vec::new()),
            http: reqwest::Client::new(),
        });
        let router = Router::new()
            .route(&format!("/{}", directping::PING_PATH), post(ping))
            .with_state(state.clone());
        let server = FakeServer::bind(([127, 0, 0, 1], 0).into(), router).await?;
        Ok(Self { server, state })
    }

    /// The tool's base URL.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Sets the switches.
    pub fn set_switches(&self, switches: PingSwitches) {
        *self.state.switches.lock().expect("tool lock") = switches;
    }

    /// The statuses PathOps answered to the tool's callbacks, in order (or 0 for a
    /// connection error).
    pub fn callback_statuses(&self) -> Vec<u16> {
        self.state.callbacks.lock().expect("tool lock").clone()
    }

    /// Delays every answer by `latency` (a slow tool).
    pub fn set_latency(&self, latency: std::time::Duration) {
        self.server.set_latency(latency);
    }

    /// Forgets the request log (long-running benchmarks).
    pub fn clear_requests(&self) {
        self.server.clear_requests();
    }

    /// Every request the tool received.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.server.requests()
    }
}

async fn ping(
    State(state): State<Arc<ToolState>>,
    headers: HeaderMap,
    Json(request): Json<PingRequest>,
) -> Response {
    let switches = *state.switches.lock().expect("tool lock");
    let expected = format!("Bearer {}", state.secret);
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == expected);
    if !authorized || switches.refuse_pathops {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "unauthorized" })),
        )
            .into_response();
    }
    if let Some(callback_url) = request.callback_url.clone()
        && !switches.skip_callback
    {
        let secret = if switches.wrong_proof {
            "not-the-shared-secret".to_owned()
        } else {
            state.secret.clone()
        };
        let state = state.clone();
        tokio::spawn(async move {
            let proof = directping::proof(&secret, &request.challenge_id, &request.nonce);
            let body = PingCallback {
                challenge_id: request.challenge_id,
                nonce: request.nonce,
            };
            let status = match state
                .http
                .post(&callback_url)
                .header(directping::PROOF_HEADER, proof)
                .json(&body)
                .send()
                .await
            {
                Ok(response) => response.status().as_u16(),
                Err(_) => 0,
            };
            state.callbacks.lock().expect("tool lock").push(status);
        });
    }
    (StatusCode::ACCEPTED, Json(json!({ "status": "accepted" }))).into_response()
}
