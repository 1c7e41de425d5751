//! [`Delivery`]: what identifies a webhook delivery, read from its headers and payload.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{DeliveryKind, Headers, VerifyError};

/// The identity of one received delivery: evidence for a correlated challenge and the key
/// for replay protection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Which provider's format.
    pub kind: DeliveryKind,
    /// Unique per delivery request (GitLab `X-Gitlab-Webhook-UUID`, GitHub
    /// `X-GitHub-Delivery`, Gitea `X-Gitea-Delivery`, Bitbucket Data Center `X-Request-Id`,
    /// Bitbucket Cloud `X-Request-UUID`, Standard Webhooks `webhook-id`).
    pub delivery_id: Option<String>,
    /// Stable across resends of one event (GitLab `Idempotency-Key`, else `X-Gitlab-Event-UUID`).
    pub event_id: Option<String>,
    /// Event name (`Push Hook`, `ping`, `push`, Bitbucket's `X-Event-Key` such as
    /// `diagnostics:ping` or `repo:refs_changed`).
    pub event: Option<String>,
    /// Sending instance (GitLab `X-Gitlab-Instance`).
    pub instance: Option<String>,
    /// Project id from the payload: `project_id` or `project.id` (GitLab), else
    /// `repository.id` (Gitea and Forgejo, GitHub).
    pub project_id: Option<u64>,
    /// Hook id (GitHub `X-GitHub-Hook-ID` or the ping's `hook_id`).
    pub hook_id: Option<u64>,
    /// Hook UUID (Bitbucket Cloud `X-Hook-UUID`, braces kept as sent; Azure DevOps's
    /// `subscriptionId` from the payload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_uuid: Option<String>,
    /// The challenge a direct-ping callback answers.
    pub challenge_id: Option<String>,
    /// The nonce a direct-ping callback echoes.
    pub nonce: Option<String>,
    /// When it was received.
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
}

impl Delivery {
    /// Reads the identity of a delivery. The body must be a JSON object.
    pub fn parse(
        kind: DeliveryKind,
        headers: &Headers,
        body: &[u8],
        received_at: OffsetDateTime,
    ) -> Result<Self, VerifyError> {
        let payload: serde_json::Value =
            serde_json::from_slice(body).map_err(|_| VerifyError::MalformedBody)?;
        if !payload.is_object() {
            return Err(VerifyError::MalformedBody);
        }
        let mut d = Self::from_headers(kind, headers, received_at);
        let id_at = |pointer: &str| payload.pointer(pointer).and_then(serde_json::Value::as_u64);
        d.project_id = id_at("/project_id")
            .or_else(|| id_at("/project/id"))
            .or_else(|| id_at("/repository/id"));
        d.hook_id = d
            .hook_id
            .or_else(|| payload.get("hook_id").and_then(serde_json::Value::as_u64));
        match kind {
            DeliveryKind::StandardWebhooks => d.event = str_field(&payload, "type"),
            // Azure DevOps: the notification (stable across its retries), the event, its
            // type and the subscription are in the payload, not in headers.
            DeliveryKind::AzureDevOps => {
                d.delivery_id = payload
                    .get("notificationId")
                    .and_then(|v| v.as_u64().map(|n| n.to_string()))
                    .or_else(|| str_field(&payload, "notificationId"));
                d.event_id = str_field(&payload, "id");
                d.event = str_field(&payload, "eventType");
                d.hook_uuid = str_field(&payload, "subscriptionId");
            }
            DeliveryKind::DirectPing => {
                d.delivery_id = str_field(&payload, "challenge_id");
                d.event_id = d.delivery_id.clone();
                d.challenge_id = d.delivery_id.clone();
                d.nonce = str_field(&payload, "nonce");
            }
            _ => {}
        }
        Ok(d)
    }

    /// What the headers alone say about a delivery, before its body is read (fields that
    /// come from the payload are `None`). The receiver uses it to choose which challenges'
    /// secrets to try before trusting the body enough to parse it.
    pub fn from_headers(
        kind: DeliveryKind,
        headers: &Headers,
        received_at: OffsetDateTime,
    ) -> Self {
        let own = |s: Option<&str>| s.map(str::to_owned);
        let hook_id = headers
            .first_of(&["x-github-hook-id", "x-gitlab-hook-id"])
            .and_then(|v| v.parse().ok());
        let (delivery_id, event_id, event) = match kind {
            DeliveryKind::GitLab => (
                own(headers.first_of(&["x-gitlab-webhook-uuid", "webhook-id", "idempotency-key"])),
                own(headers.first_of(&["idempotency-key", "x-gitlab-event-uuid"])),
                own(headers.get("x-gitlab-event")),
            ),
            DeliveryKind::GitHub => (
                own(headers.get("x-github-delivery")),
                own(headers.get("x-github-delivery")),
                own(headers.get("x-github-event")),
            ),
            DeliveryKind::Gitea => (
                own(headers.first_of(&["x-forgejo-delivery", "x-gitea-delivery"])),
                own(headers.first_of(&["x-forgejo-delivery", "x-gitea-delivery"])),
                own(headers.first_of(&["x-forgejo-event", "x-gitea-event"])),
            ),
            // Data Center sends `X-Request-Id`, Cloud `X-Request-UUID` (and `X-Hook-UUID`,
            // a UUID, not a numeric hook id); both name the event in `X-Event-Key`.
            DeliveryKind::Bitbucket => (
                own(headers.first_of(&["x-request-uuid", "x-request-id"])),
                own(headers.first_of(&["x-request-uuid", "x-request-id"])),
                own(headers.get("x-event-key")),
            ),
            DeliveryKind::StandardWebhooks => (
                own(headers.get("webhook-id")),
                own(headers.get("webhook-id")),
                None,
            ),
            DeliveryKind::AzureDevOps => (None, None, None),
            DeliveryKind::DirectPing => (None, None, Some("ping".to_owned())),
        };
        Self {
            kind,
            delivery_id,
            event_id,
            event,
            instance: own(headers.get("x-gitlab-instance"))
                .map(|i| i.trim_end_matches('/').to_owned()),
            project_id: None,
            hook_id,
            hook_uuid: match kind {
                DeliveryKind::Bitbucket => own(headers.get("x-hook-uuid")),
                _ => None,
            },
            challenge_id: None,
            nonce: None,
            received_at,
        }
    }
}

fn str_field(payload: &serde_json::Value, key: &str) -> Option<String> {
    payload.get(key).and_then(|v| v.as_str()).map(str::to_owned)
}

/// What delivery a challenge waits for. Unset fields match anything.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Expectation {
    /// Sending instance (compared without a trailing slash).
    pub instance: Option<String>,
    /// Project id in the payload ([`Delivery::project_id`]: a GitLab project, a Gitea
    /// repository).
    pub project_id: Option<u64>,
    /// Event name (`Push Hook`, `ping`).
    pub event: Option<String>,
    /// Hook id (GitHub).
    pub hook_id: Option<u64>,
    /// Hook UUID (Bitbucket Cloud's hook, Azure DevOps's subscription), compared without
    /// braces and case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_uuid: Option<String>,
    /// Nonce a direct-ping callback must echo.
    pub nonce: Option<String>,
}

impl Expectation {
    /// Whether `delivery` fits.
    pub fn matches(&self, delivery: &Delivery) -> bool {
        let same = |want: &Option<String>, got: &Option<String>| {
            want.as_ref().is_none_or(|w| {
                got.as_deref()
                    .is_some_and(|g| g.trim_end_matches('/') == w.trim_end_matches('/'))
            })
        };
        same(&self.instance, &delivery.instance)
            && same(&self.event, &delivery.event)
            && self
                .project_id
                .is_none_or(|p| delivery.project_id == Some(p))
            && self.hook_id.is_none_or(|h| delivery.hook_id == Some(h))
            && self.hook_uuid.as_deref().is_none_or(|want| {
                delivery
                    .hook_uuid
                    .as_deref()
                    .is_some_and(|got| same_uuid(want, got))
            })
            && same(&self.nonce, &delivery.nonce)
    }

    /// Whether a delivery known only from [`Delivery::from_headers`] may still fit: every
    /// field the partial delivery knows must fit, and unknown ones are left for
    /// [`matches`](Self::matches) once the body is read.
    pub fn may_match(&self, partial: &Delivery) -> bool {
        let same = |want: &Option<String>, got: &Option<String>| match (want, got) {
            (Some(w), Some(g)) => g.trim_end_matches('/') == w.trim_end_matches('/'),
            _ => true,
        };
        same(&self.instance, &partial.instance)
            && same(&self.event, &partial.event)
            && match (self.project_id, partial.project_id) {
                (Some(w), Some(g)) => w == g,
                _ => true,
            }
            && match (self.hook_id, partial.hook_id) {
                (Some(w), Some(g)) => w == g,
                _ => true,
            }
            && match (&self.hook_uuid, &partial.hook_uuid) {
                (Some(w), Some(g)) => same_uuid(w, g),
                _ => true,
            }
            && same(&self.nonce, &partial.nonce)
    }
}

/// Two UUIDs as Bitbucket writes them (`{…}`) or not, compared without braces and case.
fn same_uuid(a: &str, b: &str) -> bool {
    let bare = |s: &str| {
        s.trim()
            .trim_start_matches('{')
            .trim_end_matches('}')
            .to_owned()
    };
    bare(a).eq_ignore_ascii_case(&bare(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn gitlab_identity_from_headers_and_payload() {
        let h = Headers::from_pairs([
            ("X-Gitlab-Event", "Push Hook"),
            ("X-Gitlab-Instance", "https://gitlab.example.com/"),
            ("X-Gitlab-Webhook-UUID", "w-1"),
            ("Idempotency-Key", "i-1"),
            ("X-Gitlab-Event-UUID", "e-1"),
        ]);
        let body = br#"{"object_kind":"push","project":{"id":15}}"#;
        let d = Delivery::parse(
            DeliveryKind::GitLab,
            &h,
            body,
            datetime!(2026-01-01 0:00 UTC),
        )
        .unwrap();
        assert_eq!(d.delivery_id.as_deref(), Some("w-1"));
        assert_eq!(d.event_id.as_deref(), Some("i-1"));
        assert_eq!(d.event.as_deref(), Some("Push Hook"));
        assert_eq!(d.instance.as_deref(), Some("https://gitlab.example.com"));
        assert_eq!(d.project_id, Some(15));
    }

    #[test]
    fn github_ping_identity() {
        let h = Headers::from_pairs([("X-GitHub-Event", "ping"), ("X-GitHub-Delivery", "d-9")]);
        let d = Delivery::parse(
            DeliveryKind::GitHub,
            &h,
            br#"{"zen":"z","hook_id":42}"#,
            datetime!(2026-01-01 0:00 UTC),
        )
        .unwrap();
        assert_eq!(
            (d.hook_id, d.delivery_id.as_deref(), d.event.as_deref()),
            (Some(42), Some("d-9"), Some("ping"))
        );
    }

    #[test]
    fn gitea_identity_prefers_forgejos_headers_and_reads_the_repository_id() {
        let at = datetime!(2026-01-01 0:00 UTC);
        let body =
            br#"{"ref":"refs/heads/main","repository":{"id":100,"full_name":"acme/platform"}}"#;
        let gitea = Headers::from_pairs([
            ("X-Gitea-Delivery", "g-1"),
            ("X-Gitea-Event", "push"),
            ("X-GitHub-Delivery", "g-1"),
        ]);
        let d = Delivery::parse(DeliveryKind::Gitea, &gitea, body, at).unwrap();
        assert_eq!(
            (d.delivery_id.as_deref(), d.event.as_deref(), d.project_id),
            (Some("g-1"), Some("push"), Some(100))
        );
        let forgejo = Headers::from_pairs([
            ("X-Gitea-Delivery", "g-2"),
            ("X-Forgejo-Delivery", "f-2"),
            ("X-Gitea-Event", "push"),
            ("X-Forgejo-Event", "push"),
        ]);
        let d = Delivery::parse(DeliveryKind::Gitea, &forgejo, body, at).unwrap();
        assert_eq!(d.delivery_id.as_deref(), Some("f-2"));
        assert!(
            Expectation {
                project_id: Some(100),
                event: Some("push".into()),
                ..Expectation::default()
            }
            .matches(&d)
        );
        assert!(
            !Expectation {
                project_id: Some(101),
                ..Expectation::default()
            }
            .matches(&d),
            "another repository's delivery does not fit"
        );
        // GitLab's own ids win over a `repository` object.
        let both = br#"{"project_id":7,"repository":{"id":100}}"#;
        let d = Delivery::parse(DeliveryKind::GitLab, &Headers::default(), both, at).unwrap();
        assert_eq!(d.project_id, Some(7));
    }

    #[test]
    fn bitbucket_identity_from_its_request_id_and_event_key() {
        let at = datetime!(2026-01-01 0:00 UTC);
        let dc = Headers::from_pairs([
            ("X-Request-Id", "5c1b2e6a-0c6e-4e43-9a1c-1f1b0b0b0b0b"),
            ("X-Event-Key", "diagnostics:ping"),
        ]);
        let d = Delivery::parse(DeliveryKind::Bitbucket, &dc, br#"{"test": true}"#, at).unwrap();
        assert_eq!(
            (d.delivery_id.as_deref(), d.event.as_deref(), d.project_id),
            (
                Some("5c1b2e6a-0c6e-4e43-9a1c-1f1b0b0b0b0b"),
                Some("diagnostics:ping"),
                None
            )
        );
        let cloud = Headers::from_pairs([
            ("X-Request-UUID", "{c-1}"),
            ("X-Hook-UUID", "{h-1}"),
            ("X-Event-Key", "repo:push"),
        ]);
        let d = Delivery::parse(DeliveryKind::Bitbucket, &cloud, b"{}", at).unwrap();
        assert_eq!(
            (d.delivery_id.as_deref(), d.event.as_deref(), d.hook_id),
            (Some("{c-1}"), Some("repo:push"), None)
        );
        assert_eq!(d.hook_uuid.as_deref(), Some("{h-1}"));
        let for_hook = |uuid: &str| Expectation {
            hook_uuid: Some(uuid.to_owned()),
            ..Expectation::default()
        };
        assert!(for_hook("H-1").matches(&d), "braces and case do not matter");
        assert!(!for_hook("{h-2}").matches(&d), "another hook's delivery");
        assert!(
            !for_hook("{h-1}")
                .matches(&Delivery::parse(DeliveryKind::Bitbucket, &dc, b"{}", at).unwrap())
        );
        assert!(for_hook("{h-2}").may_match(&Delivery::from_headers(
            DeliveryKind::Bitbucket,
            &dc,
            at
        )));
        assert!(!for_hook("{h-2}").may_match(&Delivery::from_headers(
            DeliveryKind::Bitbucket,
            &cloud,
            at
        )));
    }

    #[test]
    fn azure_devops_identity_comes_from_the_payload() {
        let body = br#"{"subscriptionId":"7C1D0000-0000-4000-8000-000000000001","notificationId":42,"id":"03c164c2-8912-4d5e-8009-3707d5f83734","eventType":"git.push","publisherId":"tfs"}"#;
        let d = Delivery::parse(
            DeliveryKind::AzureDevOps,
            &Headers::default(),
            body,
            datetime!(2026-01-01 0:00 UTC),
        )
        .unwrap();
        assert_eq!(
            (
                d.delivery_id.as_deref(),
                d.event_id.as_deref(),
                d.event.as_deref()
            ),
            (
                Some("42"),
                Some("03c164c2-8912-4d5e-8009-3707d5f83734"),
                Some("git.push")
            )
        );
        assert!(
            Expectation {
                hook_uuid: Some("7c1d0000-0000-4000-8000-000000000001".into()),
                ..Expectation::default()
            }
            .matches(&d)
        );
    }

    #[test]
    fn non_object_bodies_are_malformed() {
        for body in [&b"not json"[..], b"[1,2]", b""] {
            assert_eq!(
                Delivery::parse(
                    DeliveryKind::GitLab,
                    &Headers::default(),
                    body,
                    datetime!(2026-01-01 0:00 UTC)
                ),
                Err(VerifyError::MalformedBody)
            );
        }
    }
}
