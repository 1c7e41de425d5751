//! The webhook receiver end to end, without HTTP: verify, de-duplicate, correlate, wait.
#![cfg(feature = "runtime")]

use std::sync::Arc;
use std::time::Duration;

use pathops_core::webhook::{
    ChallengeError, ChallengeRegistry, DeliveryKind, Expectation, Headers, ReceiverOutcome,
    VerifyError, WebhookReceiver, WebhookSecrets, sign,
};
use pathops_core::{Clock, IntegrationId, SystemClock, TenantId};
use secrecy::SecretString;

fn secrets(list: &[&str]) -> WebhookSecrets {
    WebhookSecrets::new(list.iter().map(|s| SecretString::from(s.to_string())))
}

fn tenant() -> TenantId {
    "acme".parse().unwrap()
}

fn gitlab_headers(token: &str, webhook_uuid: &str) -> Headers {
    Headers::from_pairs([
        ("Content-Type", "application/json"),
        ("User-Agent", "GitLab/18.10.0"),
        ("X-Gitlab-Event", "Push Hook"),
        ("X-Gitlab-Instance", "https://gitlab.example.com"),
        ("X-Gitlab-Webhook-UUID", webhook_uuid),
        (
            "X-Gitlab-Event-UUID",
            "7c1f0000-0000-4000-8000-000000000001",
        ),
        ("Idempotency-Key", "7c1f0000-0000-4000-8000-000000000002"),
        ("X-Gitlab-Token", token),
    ])
}

const PUSH: &[u8] = br#"{"object_kind":"push","event_name":"push","project_id":15,"project":{"id":15},"ref":"refs/heads/main","commits":[]}"#;

fn expect_project(id: u64) -> Expectation {
    Expectation {
        instance: Some("https://gitlab.example.com/".into()),
        project_id: Some(id),
        event: Some("Push Hook".into()),
        ..Expectation::default()
    }
}

fn in_two_minutes() -> time::OffsetDateTime {
    SystemClock.now() + time::Duration::minutes(2)
}

#[tokio::test]
async fn gitlab_round_trip_is_correlated_and_woken() {
    let registry = Arc::new(ChallengeRegistry::new());
    let receiver = WebhookReceiver::new(registry.clone());
    let integration = IntegrationId::new();
    let handle = registry.register(
        tenant(),
        integration,
        DeliveryKind::GitLab,
        expect_project(15),
        secrets(&["hook-token"]),
        in_two_minutes(),
    );
    let challenge_id = handle.id;
    let waiter = tokio::spawn(handle.wait(Duration::from_secs(5)));

    let decision = receiver.handle(
        DeliveryKind::GitLab,
        &gitlab_headers("hook-token", "w-1"),
        PUSH,
    );
    assert_eq!(decision.status, 200);
    assert!(
        matches!(decision.outcome, ReceiverOutcome::Correlated { challenge_id: id, .. } if id == challenge_id)
    );
    let correlated = waiter.await.unwrap().unwrap();
    assert_eq!(correlated.integration_id, integration);
    assert_eq!(correlated.delivery.delivery_id.as_deref(), Some("w-1"));
    assert_eq!(correlated.delivery.project_id, Some(15));
    assert_eq!(registry.pending(), 0);
}

#[tokio::test]
async fn a_wrong_token_is_rejected_without_saying_which_secret_was_close() {
    let registry = Arc::new(ChallengeRegistry::new());
    let receiver = WebhookReceiver::new(registry.clone());
    let handle = registry.register(
        tenant(),
        IntegrationId::new(),
        DeliveryKind::GitLab,
        expect_project(15),
        secrets(&["hook-token"]),
        in_two_minutes(),
    );
    let d = receiver.handle(
        DeliveryKind::GitLab,
        &gitlab_headers("hook-tokeX", "w-1"),
        PUSH,
    );
    assert_eq!(d.status, 401);
    assert_eq!(d.body, serde_json::json!({ "error": "unauthorized" }));
    assert_eq!(
        d.outcome,
        ReceiverOutcome::Rejected(VerifyError::BadSignature)
    );
    assert_eq!(registry.pending(), 1, "the challenge still waits");
    assert_eq!(
        handle.wait(Duration::from_millis(20)).await.unwrap_err(),
        ChallengeError::Timeout(Duration::from_millis(20))
    );
}

#[tokio::test]
async fn a_replayed_delivery_is_rejected() {
    let registry = Arc::new(ChallengeRegistry::new());
    let receiver = WebhookReceiver::new(registry.clone())
        .with_secrets(DeliveryKind::GitLab, secrets(&["standing"]));
    let headers = gitlab_headers("standing", "w-replay");
    assert_eq!(
        receiver.handle(DeliveryKind::GitLab, &headers, PUSH).status,
        200
    );
    let again = receiver.handle(DeliveryKind::GitLab, &headers, PUSH);
    assert_eq!(
        (again.status, again.outcome),
        (409, ReceiverOutcome::Rejected(VerifyError::Replay))
    );
    assert_eq!(
        registry.unmatched().len(),
        1,
        "unmatched deliveries are recorded once"
    );
}

#[tokio::test]
async fn an_expired_challenge_fails_cleanly() {
    let registry = Arc::new(ChallengeRegistry::new());
    let receiver = WebhookReceiver::new(registry.clone());
    let past = SystemClock.now() - time::Duration::seconds(1);
    let handle = registry.register(
        tenant(),
        IntegrationId::new(),
        DeliveryKind::GitLab,
        expect_project(15),
        secrets(&["hook-token"]),
        past,
    );
    let d = receiver.handle(
        DeliveryKind::GitLab,
        &gitlab_headers("hook-token", "w-late"),
        PUSH,
    );
    assert_eq!(d.status, 401, "no live challenge and no standing secret");
    assert_eq!(
        handle.wait(Duration::from_secs(5)).await.unwrap_err(),
        ChallengeError::Expired
    );
}

#[tokio::test]
async fn deliveries_that_match_no_challenge_are_recorded_not_counted() {
    let registry = Arc::new(ChallengeRegistry::new());
    let receiver = WebhookReceiver::new(registry.clone())
        .with_secrets(DeliveryKind::GitLab, secrets(&["hook-token"]));
    let handle = registry.register(
        tenant(),
        IntegrationId::new(),
        DeliveryKind::GitLab,
        expect_project(99),
        secrets(&["hook-token"]),
        in_two_minutes(),
    );
    let d = receiver.handle(
        DeliveryKind::GitLab,
        &gitlab_headers("hook-token", "w-other"),
        PUSH,
    );
    assert!(matches!(d.outcome, ReceiverOutcome::Accepted { .. }));
    assert_eq!(registry.unmatched()[0].project_id, Some(15));
    assert_eq!(registry.pending(), 1);
    drop(handle);
}

#[tokio::test]
async fn github_ping_with_signature_passes_and_a_bad_signature_fails() {
    let registry = Arc::new(ChallengeRegistry::new());
    let receiver = WebhookReceiver::new(registry.clone());
    let expectation = Expectation {
        hook_id: Some(42),
        event: Some("ping".into()),
        ..Expectation::default()
    };
    let body = br#"{"zen":"Keep it logically awesome.","hook_id":42,"hook":{"type":"Repository","id":42}}"#;
    let ping = |signature: String, delivery: &str| {
        Headers::from_pairs([
            ("X-GitHub-Event", "ping".to_owned()),
            ("X-GitHub-Delivery", delivery.to_owned()),
            ("X-GitHub-Hook-ID", "42".to_owned()),
            ("X-Hub-Signature-256", signature),
        ])
    };
    let bad = registry.register(
        tenant(),
        IntegrationId::new(),
        DeliveryKind::GitHub,
        expectation.clone(),
        secrets(&["gh-secret"]),
        in_two_minutes(),
    );
    let d = receiver.handle(
        DeliveryKind::GitHub,
        &ping(sign::github("wrong", body), "g-1"),
        body,
    );
    assert_eq!(
        d.outcome,
        ReceiverOutcome::Rejected(VerifyError::BadSignature)
    );
    let d = receiver.handle(
        DeliveryKind::GitHub,
        &ping(sign::github("gh-secret", body), "g-2"),
        body,
    );
    assert!(matches!(d.outcome, ReceiverOutcome::Correlated { .. }));
    assert_eq!(
        bad.wait(Duration::from_secs(1))
            .await
            .unwrap()
            .delivery
            .hook_id,
        Some(42)
    );
}

#[tokio::test]
async fn rotation_accepts_old_and_new_secrets() {
    let registry = Arc::new(ChallengeRegistry::new());
    let receiver =
        WebhookReceiver::new(registry).with_secrets(DeliveryKind::Gitea, secrets(&["old", "new"]));
    for (n, secret) in ["old", "new"].iter().enumerate() {
        let body = format!(r#"{{"ref":"refs/heads/main","after":"{n}"}}"#);
        let body = body.as_bytes();
        let h = Headers::from_pairs([
            ("X-Gitea-Event", "push".to_owned()),
            ("X-Gitea-Delivery", format!("d-{n}")),
            ("X-Gitea-Signature", sign::gitea(secret, body)),
        ]);
        assert_eq!(
            receiver.handle(DeliveryKind::Gitea, &h, body).status,
            200,
            "{secret}"
        );
    }
}

#[tokio::test]
async fn oversized_and_malformed_bodies_are_refused_before_verification() {
    let registry = Arc::new(ChallengeRegistry::new());
    let receiver = WebhookReceiver::new(registry)
        .with_max_body_bytes(64)
        .with_secrets(DeliveryKind::GitLab, secrets(&["t"]));
    let big = vec![b' '; 65];
    let d = receiver.handle(DeliveryKind::GitLab, &gitlab_headers("t", "w-big"), &big);
    assert_eq!(
        (d.status, d.outcome),
        (
            413,
            ReceiverOutcome::Rejected(VerifyError::TooLarge { max: 64 })
        )
    );
    let d = receiver.handle(
        DeliveryKind::GitLab,
        &gitlab_headers("t", "w-bad"),
        b"{nope",
    );
    assert_eq!(
        (d.status, d.outcome),
        (400, ReceiverOutcome::Rejected(VerifyError::MalformedBody))
    );
    let uncapped = WebhookReceiver::new(Arc::new(ChallengeRegistry::new()))
        .with_secrets(DeliveryKind::GitLab, secrets(&["t"]));
    let no_token = Headers::from_pairs([("X-Gitlab-Event", "Push Hook")]);
    let d = uncapped.handle(DeliveryKind::GitLab, &no_token, PUSH);
    assert_eq!(
        d.outcome,
        ReceiverOutcome::Rejected(VerifyError::MissingHeader("X-Gitlab-Token"))
    );
}

#[tokio::test]
async fn gitlab_signing_tokens_are_verified_when_present() {
    use base64::Engine as _;
    let key = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(b"signing-key-signing-key-32bytes!")
    );
    let registry = Arc::new(ChallengeRegistry::new());
    let receiver =
        WebhookReceiver::new(registry).with_secrets(DeliveryKind::GitLab, secrets(&[&key]));
    let ts = SystemClock.now().unix_timestamp();
    let h = |sig: String| {
        Headers::from_pairs([
            ("X-Gitlab-Event", "Push Hook".to_owned()),
            ("webhook-id", "idem-1".to_owned()),
            ("webhook-timestamp", ts.to_string()),
            ("webhook-signature", sig),
        ])
    };
    let good = receiver.handle(
        DeliveryKind::GitLab,
        &h(sign::standard(&key, "idem-1", ts, PUSH)),
        PUSH,
    );
    assert_eq!(good.status, 200);
    let forged = receiver.handle(
        DeliveryKind::GitLab,
        &h(sign::standard(&key, "idem-2", ts, PUSH)),
        PUSH,
    );
    assert_eq!(
        forged.outcome,
        ReceiverOutcome::Rejected(VerifyError::BadSignature)
    );
}

#[tokio::test]
async fn direct_ping_callbacks_answer_their_own_challenge_once() {
    use pathops_core::directping::{self, PingCallback};
    let registry = Arc::new(ChallengeRegistry::new());
    let receiver = WebhookReceiver::new(registry.clone());
    let nonce = directping::new_nonce();
    let handle = registry.register(
        tenant(),
        IntegrationId::new(),
        DeliveryKind::DirectPing,
        Expectation {
            nonce: Some(nonce.clone()),
            ..Expectation::default()
        },
        secrets(&["shared-secret"]),
        in_two_minutes(),
    );
    let id = handle.id.to_string();
    let callback = |challenge_id: &str, nonce: &str, secret: &str| {
        let body = serde_json::to_vec(&PingCallback {
            challenge_id: challenge_id.into(),
            nonce: nonce.into(),
        })
        .unwrap();
        let headers = Headers::from_pairs([(
            directping::PROOF_HEADER,
            directping::proof(secret, challenge_id, nonce),
        )]);
        receiver.handle(DeliveryKind::DirectPing, &headers, &body)
    };
    assert_eq!(
        callback(&id, "not-the-nonce", "shared-secret").status,
        401,
        "wrong nonce matches no challenge"
    );
    assert_eq!(callback(&id, &nonce, "wrong-secret").status, 401);
    let other = uuid::Uuid::now_v7().to_string();
    assert_eq!(
        callback(&other, &nonce, "shared-secret").status,
        401,
        "another challenge id"
    );
    let ok = callback(&id, &nonce, "shared-secret");
    assert!(
        matches!(ok.outcome, ReceiverOutcome::Correlated { .. }),
        "{ok:?}"
    );
    assert_eq!(
        handle
            .wait(Duration::from_secs(1))
            .await
            .unwrap()
            .delivery
            .nonce,
        Some(nonce.clone())
    );
    assert_eq!(
        callback(&id, &nonce, "shared-secret").status,
        401,
        "answered once; no live challenge remains"
    );
}

fn gitlab_challenge(
    registry: &ChallengeRegistry,
    secret: &str,
) -> pathops_core::webhook::ChallengeHandle {
    registry.register(
        tenant(),
        IntegrationId::new(),
        DeliveryKind::GitLab,
        expect_project(15),
        secrets(&[secret]),
        in_two_minutes(),
    )
}

#[tokio::test]
async fn an_unverified_delivery_that_fits_a_challenge_does_not_fail_it() {
    let registry = Arc::new(ChallengeRegistry::new());
    let receiver = WebhookReceiver::new(registry.clone());
    let handle = gitlab_challenge(&registry, "hook-token");
    let id = handle.id;
    // Fits the challenge (instance, project, event are public facts) but is unsigned or
    // carries a wrong token: refused, and the challenge is left as it was.
    let unsigned = Headers::from_pairs([
        ("X-Gitlab-Event", "Push Hook"),
        ("X-Gitlab-Instance", "https://gitlab.example.com"),
    ]);
    for headers in [unsigned, gitlab_headers("forged", "w-forged")] {
        assert_eq!(
            receiver.handle(DeliveryKind::GitLab, &headers, PUSH).status,
            401
        );
    }
    assert_eq!(registry.rejection(id), None);
    assert_eq!(
        registry.wait(handle, Duration::from_millis(20)).await,
        Err(ChallengeError::Timeout(Duration::from_millis(20))),
        "a timeout, not a forged token mismatch"
    );
}

#[tokio::test]
async fn a_delivery_verified_with_a_standing_secret_may_fail_the_challenge_it_fits() {
    let registry = Arc::new(ChallengeRegistry::new());
    let receiver = WebhookReceiver::new(registry.clone())
        .with_secrets(DeliveryKind::GitLab, secrets(&["standing"]));
    let handle = gitlab_challenge(&registry, "hook-token");
    let d = receiver.handle(
        DeliveryKind::GitLab,
        &gitlab_headers("standing", "w-1"),
        PUSH,
    );
    assert!(matches!(d.outcome, ReceiverOutcome::Accepted { .. }));
    assert_eq!(
        registry.wait(handle, Duration::from_millis(20)).await,
        Err(ChallengeError::Rejected(VerifyError::BadSignature))
    );
}

#[tokio::test]
async fn one_tenants_secret_does_not_vouch_for_a_delivery_fitting_another_tenants_challenge() {
    let registry = Arc::new(ChallengeRegistry::new());
    let receiver = WebhookReceiver::new(registry.clone());
    let theirs = gitlab_challenge(&registry, "victim-token");
    let mine = registry.register(
        "mallory".parse().unwrap(),
        IntegrationId::new(),
        DeliveryKind::GitLab,
        expect_project(99),
        secrets(&["mallory-token"]),
        in_two_minutes(),
    );
    // Signed with Mallory's own secret, shaped like the victim's expected delivery.
    let d = receiver.handle(
        DeliveryKind::GitLab,
        &gitlab_headers("mallory-token", "w-1"),
        PUSH,
    );
    assert_eq!(
        (d.status, d.outcome),
        (401, ReceiverOutcome::Rejected(VerifyError::BadSignature))
    );
    assert_eq!(registry.rejection(theirs.id), None);
    assert_eq!(registry.pending(), 2);
    assert!(registry.unmatched().is_empty());
    drop(mine);
}

#[tokio::test]
async fn a_direct_ping_naming_its_challenge_fails_it_when_the_proof_is_wrong() {
    use pathops_core::directping::{self, PingCallback};
    let registry = Arc::new(ChallengeRegistry::new());
    let receiver = WebhookReceiver::new(registry.clone());
    let nonce = directping::new_nonce();
    let handle = registry.register(
        tenant(),
        IntegrationId::new(),
        DeliveryKind::DirectPing,
        Expectation {
            nonce: Some(nonce.clone()),
            ..Expectation::default()
        },
        secrets(&["shared-secret"]),
        in_two_minutes(),
    );
    let id = handle.id.to_string();
    let body = serde_json::to_vec(&PingCallback {
        challenge_id: id.clone(),
        nonce: nonce.clone(),
    })
    .unwrap();
    let headers = Headers::from_pairs([(
        directping::PROOF_HEADER,
        directping::proof("stale-secret", &id, &nonce),
    )]);
    assert_eq!(
        receiver
            .handle(DeliveryKind::DirectPing, &headers, &body)
            .status,
        401
    );
    assert_eq!(
        registry.wait(handle, Duration::from_millis(20)).await,
        Err(ChallengeError::Rejected(VerifyError::BadSignature))
    );
}

fn github_ping(secret: &str, delivery: &str, body: &[u8]) -> Headers {
    Headers::from_pairs([
        ("X-GitHub-Event", "push".to_owned()),
        ("X-GitHub-Delivery", delivery.to_owned()),
        ("X-Hub-Signature-256", sign::github(secret, body)),
    ])
}

#[tokio::test]
async fn a_github_delivery_replayed_with_a_new_delivery_id_is_a_duplicate() {
    let receiver = WebhookReceiver::new(Arc::new(ChallengeRegistry::new()))
        .with_secrets(DeliveryKind::GitHub, secrets(&["gh"]));
    let body = br#"{"ref":"refs/heads/main","after":"abc"}"#;
    let first = receiver.handle(DeliveryKind::GitHub, &github_ping("gh", "d-1", body), body);
    assert_eq!(first.status, 200);
    let replay = receiver.handle(DeliveryKind::GitHub, &github_ping("gh", "d-2", body), body);
    assert_eq!(
        (replay.status, replay.outcome),
        (409, ReceiverOutcome::Rejected(VerifyError::Replay))
    );
    assert_eq!(replay.body, serde_json::json!({ "error": "duplicate" }));
    // Another event is another delivery.
    let other = br#"{"ref":"refs/heads/main","after":"def"}"#;
    assert_eq!(
        receiver
            .handle(
                DeliveryKind::GitHub,
                &github_ping("gh", "d-3", other),
                other
            )
            .status,
        200
    );
}

#[tokio::test]
async fn a_gitlab_resend_keeps_its_idempotency_key_and_is_a_duplicate() {
    let receiver = WebhookReceiver::new(Arc::new(ChallengeRegistry::new()))
        .with_secrets(DeliveryKind::GitLab, secrets(&["t"]));
    // Same Idempotency-Key, a new X-Gitlab-Webhook-UUID (as GitLab resends).
    let first = receiver.handle(DeliveryKind::GitLab, &gitlab_headers("t", "w-1"), PUSH);
    assert_eq!(first.status, 200);
    let resend = receiver.handle(DeliveryKind::GitLab, &gitlab_headers("t", "w-2"), PUSH);
    assert_eq!(
        (resend.status, resend.outcome),
        (409, ReceiverOutcome::Rejected(VerifyError::Replay))
    );
}

#[tokio::test]
async fn a_delivery_without_an_id_is_de_duplicated_by_its_body() {
    let receiver = WebhookReceiver::new(Arc::new(ChallengeRegistry::new()))
        .with_secrets(DeliveryKind::GitLab, secrets(&["t"]))
        .with_secrets(DeliveryKind::Gitea, secrets(&["g"]));
    let bare = Headers::from_pairs([("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Token", "t")]);
    assert_eq!(
        receiver.handle(DeliveryKind::GitLab, &bare, PUSH).status,
        200
    );
    assert_eq!(
        receiver.handle(DeliveryKind::GitLab, &bare, PUSH).status,
        409
    );
    let body = br#"{"ref":"refs/heads/main"}"#;
    let gitea = Headers::from_pairs([("X-Gitea-Signature", sign::gitea("g", body))]);
    assert_eq!(
        receiver.handle(DeliveryKind::Gitea, &gitea, body).status,
        200
    );
    assert_eq!(
        receiver.handle(DeliveryKind::Gitea, &gitea, body).status,
        409
    );
}

#[tokio::test]
async fn a_gitlab_token_with_surrounding_spaces_is_refused() {
    let registry = Arc::new(ChallengeRegistry::new());
    let receiver = WebhookReceiver::new(registry.clone());
    let handle = gitlab_challenge(&registry, "hook-token");
    for token in [" hook-token", "hook-token ", " hook-token "] {
        let d = receiver.handle(DeliveryKind::GitLab, &gitlab_headers(token, "w-1"), PUSH);
        assert_eq!(
            d.outcome,
            ReceiverOutcome::Rejected(VerifyError::BadSignature),
            "{token:?}"
        );
    }
    assert_eq!(registry.pending(), 1);
    drop(handle);
}

#[tokio::test]
async fn the_secret_is_checked_before_the_body_is_parsed() {
    let registry = Arc::new(ChallengeRegistry::new());
    let receiver = WebhookReceiver::new(registry.clone());
    let handle = gitlab_challenge(&registry, "hook-token");
    let wrong = receiver.handle(
        DeliveryKind::GitLab,
        &gitlab_headers("wrong", "w-1"),
        b"{nope",
    );
    assert_eq!(
        (wrong.status, wrong.outcome),
        (401, ReceiverOutcome::Rejected(VerifyError::BadSignature))
    );
    let right = receiver.handle(
        DeliveryKind::GitLab,
        &gitlab_headers("hook-token", "w-2"),
        b"{nope",
    );
    assert_eq!(
        (right.status, right.outcome),
        (400, ReceiverOutcome::Rejected(VerifyError::MalformedBody))
    );
    assert_eq!(registry.pending(), 1);
    drop(handle);
}

/// A clock the Bitbucket test moves by hand.
#[derive(Debug)]
struct HandClock(std::sync::Mutex<time::OffsetDateTime>);

impl Clock for HandClock {
    fn now(&self) -> time::OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

fn bitbucket_ping(secret: &str, request_id: &str, body: &[u8]) -> Headers {
    Headers::from_pairs([
        ("Content-Type", "application/json; charset=utf-8".to_owned()),
        ("X-Event-Key", "diagnostics:ping".to_owned()),
        ("X-Request-Id", request_id.to_owned()),
        ("X-Hub-Signature", sign::bitbucket(secret, body)),
    ])
}

#[tokio::test]
async fn bitbucket_pings_verify_with_either_secret_and_replays_are_refused_inside_the_window() {
    let start = time::macros::datetime!(2026-12-06 21:00 UTC);
    let clock = Arc::new(HandClock(std::sync::Mutex::new(start)));
    let registry = Arc::new(ChallengeRegistry::new());
    let receiver = WebhookReceiver::new(registry.clone())
        .with_clock(clock.clone())
        .with_replay_window(Duration::from_secs(600), 1000);
    let ping = br#"{"test": true}"#;
    let expect = Expectation {
        event: Some("diagnostics:ping".into()),
        ..Expectation::default()
    };
    // During a rotation the hook may still sign with the previous secret.
    let handle = registry.register(
        tenant(),
        IntegrationId::new(),
        DeliveryKind::Bitbucket,
        expect.clone(),
        secrets(&["new-secret", "old-secret"]),
        start + time::Duration::minutes(2),
    );
    let d = receiver.handle(
        DeliveryKind::Bitbucket,
        &bitbucket_ping("old-secret", "r-1", ping),
        ping,
    );
    assert!(
        matches!(d.outcome, ReceiverOutcome::Correlated { .. }),
        "{d:?}"
    );
    let got = handle.wait(Duration::from_secs(1)).await.unwrap();
    assert_eq!(got.delivery.delivery_id.as_deref(), Some("r-1"));
    // The same signed body with a new (unsigned) X-Request-Id is the same delivery.
    let h2 = registry.register(
        tenant(),
        IntegrationId::new(),
        DeliveryKind::Bitbucket,
        expect.clone(),
        secrets(&["new-secret"]),
        start + time::Duration::minutes(30),
    );
    *clock.0.lock().unwrap() = start + time::Duration::seconds(599);
    let again = receiver.handle(
        DeliveryKind::Bitbucket,
        &bitbucket_ping("new-secret", "r-2", ping),
        ping,
    );
    assert_eq!(
        (again.status, again.outcome),
        (409, ReceiverOutcome::Rejected(VerifyError::Replay))
    );
    // Once the window has passed, the next test ping counts.
    *clock.0.lock().unwrap() = start + time::Duration::seconds(601);
    let later = receiver.handle(
        DeliveryKind::Bitbucket,
        &bitbucket_ping("new-secret", "r-3", ping),
        ping,
    );
    assert_eq!(later.status, 200, "{later:?}");
    assert_eq!(
        h2.wait(Duration::from_secs(1))
            .await
            .unwrap()
            .delivery
            .delivery_id
            .as_deref(),
        Some("r-3")
    );
    // A wrong secret, or none (a hook without one sends no header), is refused.
    for h in [
        bitbucket_ping("stale", "r-4", br#"{"test": false}"#),
        Headers::from_pairs([("X-Event-Key", "diagnostics:ping")]),
    ] {
        let refused = receiver.handle(DeliveryKind::Bitbucket, &h, br#"{"test": false}"#);
        assert_eq!(refused.status, 401, "{refused:?}");
    }
}
