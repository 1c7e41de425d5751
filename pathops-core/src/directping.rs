//! The PathOps direct-ping protocol: proves connectivity both ways, with authentication both
//! ways, for tools that can implement a small endpoint.
//!
//! ```text
//! 1. PathOps registers a challenge: id (UUID), nonce (128 random bits, hex), expiry.
//!
//! 2. PathOps -> tool                                   direction "pathops_to_tool"
//!    POST <base_url>/pathops/ping
//!    Authorization: Bearer <the integration's secret>
//!    Content-Type: application/json
//!    {"challenge_id": "<uuid>", "nonce": "<hex>", "callback_url": "<public url>/webhooks/ping"}
//!
//!    The tool answers 401 for a wrong bearer token, else 202 (or 200) with
//!    {"status": "accepted"}. A 2xx answer passes this direction. A request without
//!    "callback_url" is a probe (connection tests and health checks use it): the tool
//!    authenticates and answers, and does not call back.
//!
//! 3. tool -> PathOps                                   direction "tool_to_pathops"
//!    POST <callback_url>
//!    Content-Type: application/json
//!    X-PathOps-Proof: v1=<lowercase hex HMAC-SHA256(secret, "<challenge_id>.<nonce>")>
//!    {"challenge_id": "<uuid>", "nonce": "<hex>"}
//!
//!    PathOps verifies the proof in constant time against the challenge's secret and checks
//!    that the nonce is the challenge's. A verified callback for a live challenge passes this
//!    direction. The callback may arrive before or after the tool answers step 2.
//! ```
//!
//! Each direction passes or fails on its own, and the doctor reports which. The secret is the
//! integration's credential, resolved from its auth ref: the bearer token proves PathOps to the
//! tool; the proof proves the tool (holding the same secret) to PathOps. A callback answers one
//! challenge once; replays are refused.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Path of the tool's ping endpoint, relative to its base URL.
pub const PING_PATH: &str = "pathops/ping";

/// Path of PathOps's callback endpoint, relative to its public URL.
pub const CALLBACK_PATH: &str = "webhooks/ping";

/// Header carrying the tool's proof.
pub const PROOF_HEADER: &str = "X-PathOps-Proof";

/// Step 2: what PathOps sends the tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingRequest {
    /// The challenge id.
    pub challenge_id: String,
    /// The nonce to echo.
    pub nonce: String,
    /// Where the tool calls back. Absent in a probe (a connection test): the tool
    /// authenticates and answers, and does not call back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
}

/// Step 3: what the tool sends back (with the proof header).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingCallback {
    /// The challenge id.
    pub challenge_id: String,
    /// The nonce, echoed.
    pub nonce: String,
}

/// A fresh nonce: 128 random bits as lowercase hex.
pub fn new_nonce() -> String {
    Uuid::new_v4().simple().to_string()
}

/// The proof header value for `secret`, as a tool computes it.
pub fn proof(secret: &str, challenge_id: &str, nonce: &str) -> String {
    crate::webhook::sign::direct_ping(secret, challenge_id, nonce)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::{Headers, VerifyError, WebhookSecrets, verify_direct_ping};
    use secrecy::SecretString;

    #[test]
    fn proofs_verify_only_with_the_shared_secret() {
        let nonce = new_nonce();
        assert_eq!(nonce.len(), 32);
        assert_ne!(nonce, new_nonce());
        let body = serde_json::to_vec(&PingCallback {
            challenge_id: "c-1".into(),
            nonce: nonce.clone(),
        })
        .unwrap();
        let secrets = WebhookSecrets::single(SecretString::from("shared"));
        let headers = Headers::from_pairs([(PROOF_HEADER, proof("shared", "c-1", &nonce))]);
        assert_eq!(verify_direct_ping(&headers, &body, &secrets), Ok(()));
        let forged = Headers::from_pairs([(PROOF_HEADER, proof("guess", "c-1", &nonce))]);
        assert_eq!(
            verify_direct_ping(&forged, &body, &secrets),
            Err(VerifyError::BadSignature)
        );
        let other_nonce = Headers::from_pairs([(PROOF_HEADER, proof("shared", "c-1", "0000"))]);
        assert_eq!(
            verify_direct_ping(&other_nonce, &body, &secrets),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify_direct_ping(&Headers::default(), &body, &secrets),
            Err(VerifyError::MissingHeader(PROOF_HEADER))
        );
    }
}
