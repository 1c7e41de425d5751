//! Webhook verification and challenge correlation, framework-agnostic.
//!
//! - [`verify`] and its per-provider functions check a delivery over its raw body bytes:
//!   GitLab `X-Gitlab-Token` (constant-time), GitHub `X-Hub-Signature-256`, Gitea/Forgejo
//!   `X-Gitea-Signature`, Bitbucket (Cloud and Data Center) `X-Hub-Signature: sha256=…`, Azure
//!   DevOps service hooks' Basic credentials, and Standard Webhooks (`webhook-id`/`webhook-timestamp`/
//!   `webhook-signature`, as GitLab's signing tokens send them) with a timestamp tolerance.
//!   Each accepts several secrets at once, so a secret can be rotated without downtime.
//! - [`ReplayGuard`] refuses a delivery seen within a window, keyed by [`ReplayKey`]: what
//!   the signature covers (or the provider's stable retry id), never an unsigned id header.
//! - `ChallengeRegistry` (feature `runtime`) holds pending connectivity challenges and
//!   correlates verified deliveries to them; `WebhookReceiver` ties it together behind one
//!   call, `handle(kind, headers, body) -> decision`, which any HTTP framework can serve.
//!   It caps the body, verifies before it parses, refuses replays and lets only
//!   authenticated deliveries fail a challenge (its module docs say why).
//!
//! ```
//! # #[cfg(feature = "runtime")] {
//! use std::sync::Arc;
//! use pathops_core::webhook::{ChallengeRegistry, DeliveryKind, Expectation, Headers, WebhookReceiver, WebhookSecrets};
//! use secrecy::SecretString;
//!
//! let registry = Arc::new(ChallengeRegistry::new());
//! let receiver = WebhookReceiver::new(registry.clone());
//! let handle = registry.register(
//!     "acme".parse().unwrap(),
//!     pathops_core::IntegrationId::new(),
//!     DeliveryKind::GitLab,
//!     Expectation { project_id: Some(15), ..Expectation::default() },
//!     WebhookSecrets::single(SecretString::from("hook-token")),
//!     time::OffsetDateTime::now_utc() + time::Duration::minutes(2),
//! );
//! let headers = Headers::from_pairs([("X-Gitlab-Token", "hook-token"), ("X-Gitlab-Event", "Push Hook")]);
//! let decision = receiver.handle(DeliveryKind::GitLab, &headers, br#"{"project_id":15}"#);
//! assert_eq!(decision.status, 200);
//! # }
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

#[cfg(feature = "runtime")]
mod challenge;
mod delivery;
mod headers;
#[cfg(feature = "runtime")]
mod receiver;
mod replay;
mod verify;

/// The configuration key holding the auth ref (or refs, during a rotation) of a hook's secret
/// token or signing secret. The doctor owns it; connectors accept it beside their own keys.
pub const SECRET_REF_KEY: &str = "webhook_secret_ref";
/// The configuration key naming the test trigger of a hook test (GitLab's `push_events`, …).
/// The doctor reads it; a connector that offers hook tests validates its values.
pub const TRIGGER_KEY: &str = "webhook_trigger";

#[cfg(feature = "runtime")]
pub use challenge::{Candidate, ChallengeError, ChallengeHandle, ChallengeRegistry, Correlated};
pub use delivery::{Delivery, Expectation};
pub use headers::Headers;
#[cfg(feature = "runtime")]
pub use receiver::{ReceiverDecision, ReceiverOutcome, WebhookReceiver};
pub use replay::{ReplayGuard, ReplayKey};
pub use verify::{
    VerifyError, WebhookSecrets, sign, verify, verify_azure_devops_basic,
    verify_bitbucket_signature, verify_direct_ping, verify_gitea_signature,
    verify_github_signature, verify_gitlab_token, verify_standard_webhook,
};

/// Which delivery format a webhook uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryKind {
    /// GitLab (`X-Gitlab-Token`, optionally Standard Webhooks signatures).
    GitLab,
    /// GitHub (`X-Hub-Signature-256`).
    GitHub,
    /// Gitea and Forgejo (`X-Gitea-Signature` / `X-Forgejo-Signature`).
    Gitea,
    /// Bitbucket Cloud and Data Center (`X-Hub-Signature: sha256=<hex>`, `X-Event-Key`).
    Bitbucket,
    /// Azure DevOps service hooks (Web Hooks consumer): `Authorization: Basic`, the password
    /// being the secret.
    AzureDevOps,
    /// Any Standard Webhooks sender.
    StandardWebhooks,
    /// The PathOps direct-ping callback (see [`crate::directping`]).
    DirectPing,
}

impl DeliveryKind {
    /// The path segment used by receivers (`/webhooks/<segment>`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::GitLab => "gitlab",
            Self::GitHub => "github",
            Self::Gitea => "gitea",
            Self::Bitbucket => "bitbucket",
            Self::AzureDevOps => "azure-devops",
            Self::StandardWebhooks => "standard",
            Self::DirectPing => "ping",
        }
    }

    /// Parses a path segment.
    pub fn from_segment(segment: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == segment)
    }

    /// Every delivery kind.
    pub const ALL: [DeliveryKind; 7] = [
        Self::GitLab,
        Self::GitHub,
        Self::Gitea,
        Self::Bitbucket,
        Self::AzureDevOps,
        Self::StandardWebhooks,
        Self::DirectPing,
    ];
}

impl fmt::Display for DeliveryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_path_segment() {
        for kind in DeliveryKind::ALL {
            assert_eq!(DeliveryKind::from_segment(kind.as_str()), Some(kind));
        }
        assert_eq!(DeliveryKind::from_segment("bitbucket-cloud"), None);
    }
}
