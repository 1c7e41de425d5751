//! The outbox: leases, acknowledgements, retries with backoff and dead events.

use std::sync::Arc;
use std::time::Duration;

use pathops_core::clock::truncate_to_micros;
use pathops_core::event::{
    OutboxClaim, OutboxEntry, OutboxRelease, OutboxRetryPolicy, SeededBackoffRng,
};
use pathops_core::{CatalogStore, Error, EventEnvelope, EventType, ResourceKind};
use time::OffsetDateTime;
use uuid::Uuid;

use super::support::{ACME, GLOBEX, at};
use crate::fixtures::{IntegrationBuilder, create_mutation};

fn claim(owner: &str, limit: u32, now: OffsetDateTime, lease_secs: u64) -> OutboxClaim {
    OutboxClaim {
        owner: owner.into(),
        limit,
        now,
        lease: Duration::from_secs(lease_secs),
    }
}

fn ids(entries: &[OutboxEntry]) -> Vec<Uuid> {
    entries.iter().map(|e| e.envelope.id).collect()
}

/// Creates integrations at minutes 1, 2, 3 (two events for the second, the first of another
/// tenant) and one event due only at minute 100; returns the events as stored, oldest first.
async fn seed(store: &dyn CatalogStore) -> Vec<EventEnvelope> {
    let mut events = Vec::new();
    for (minute, tenant, name) in [
        (1, GLOBEX, "one"),
        (2, ACME, "two"),
        (3, ACME, "three"),
        (100, ACME, "later"),
    ] {
        let i = IntegrationBuilder::new(tenant, name)
            .at(at(minute) + time::Duration::nanoseconds(1_500))
            .build();
        let mut m = create_mutation(i.clone());
        if minute == 2 {
            m.events.push(EventEnvelope::new(
                EventType::Healthy,
                i.tenant_id.clone(),
                i.id,
                1,
                at(2) + time::Duration::seconds(1),
                serde_json::json!({"latency_ms": 12}),
            ));
        }
        events.extend(m.events.iter().cloned());
        store.apply(m).await.expect("create");
    }
    for e in &mut events {
        e.occurred_at = truncate_to_micros(e.occurred_at);
    }
    events
}

/// A claim leases up to `limit` due events, oldest first, across tenants; each claim counts an
/// attempt and records the owner and lease end; leased events are invisible to other claimers
/// until the lease expires; events not yet due are not claimed.
pub async fn claims_lease_the_oldest_due_events_and_count_attempts(store: Arc<dyn CatalogStore>) {
    let store = store.as_ref();
    let events = seed(store).await;
    let now = at(10);

    let first = store
        .claim_outbox(&claim("relay-1", 2, now, 30))
        .await
        .expect("claim");
    assert_eq!(ids(&first), ids_of(&events[..2]));
    for (entry, event) in first.iter().zip(&events) {
        assert_eq!(&entry.envelope, event, "the envelope round-trips");
        assert_eq!(entry.attempts, 1);
        assert_eq!(entry.lease_owner.as_deref(), Some("relay-1"));
        assert_eq!(entry.lease_until, Some(now + time::Duration::seconds(30)));
        assert_eq!(
            entry.next_attempt_at, event.occurred_at,
            "due when it occurred"
        );
        assert_eq!(entry.last_error, None);
    }

    let second = store
        .claim_outbox(&claim("relay-2", 10, now, 30))
        .await
        .expect("claim");
    assert_eq!(
        ids(&second),
        ids_of(&events[3..4]),
        "leased events are skipped, so is the event queued behind one in its integration, \
         and later ones are not due"
    );
    assert!(
        store
            .claim_outbox(&claim("relay-3", 10, now, 30))
            .await
            .expect("claim")
            .is_empty()
    );

    let expired = now + time::Duration::seconds(30);
    let third = store
        .claim_outbox(&claim("relay-3", 10, expired, 30))
        .await
        .expect("claim");
    assert_eq!(
        ids(&third),
        ids_of(&events[..4]),
        "expired leases are claimable again"
    );
    assert_eq!(
        third.iter().map(|e| e.attempts).collect::<Vec<_>>(),
        [2, 2, 1, 2],
        "the held-back event was never claimed before"
    );
    assert!(
        third
            .iter()
            .all(|e| e.lease_owner.as_deref() == Some("relay-3"))
    );

    let later = store
        .claim_outbox(&claim("relay-1", 10, at(101), 30))
        .await
        .expect("claim");
    assert_eq!(
        ids(&later),
        ids_of(&events),
        "the last event is due at minute 100"
    );
    assert_eq!(
        later.iter().map(|e| e.attempts).collect::<Vec<_>>(),
        [3, 3, 2, 3, 1]
    );
}

/// Events of one integration are claimed in order: none is leased while an earlier pending
/// event of its integration is leased elsewhere or waits for a retry, while other
/// integrations' events flow; a held-back release frees the lease without counting the
/// attempt or touching the schedule; a dead event holds nothing back.
pub async fn claims_keep_each_integrations_order(store: Arc<dyn CatalogStore>) {
    let store = store.as_ref();
    let alpha = IntegrationBuilder::new(ACME, "alpha").at(at(1)).build();
    let mut m = create_mutation(alpha.clone());
    for second in [1i64, 2] {
        m.events.push(EventEnvelope::new(
            EventType::Updated,
            alpha.tenant_id.clone(),
            alpha.id,
            1 + second as u64,
            at(1) + time::Duration::seconds(second),
            serde_json::json!({ "n": second }),
        ));
    }
    let a: Vec<Uuid> = m.events.iter().map(|e| e.id).collect();
    store.apply(m).await.expect("create alpha");
    let beta = IntegrationBuilder::new(ACME, "beta").at(at(2)).build();
    let m = create_mutation(beta);
    let b = m.events[0].id;
    store.apply(m).await.expect("create beta");
    let now = at(10);

    let first = store
        .claim_outbox(&claim("relay-1", 1, now, 300))
        .await
        .expect("claim");
    assert_eq!(ids(&first), [a[0]]);
    let second = store
        .claim_outbox(&claim("relay-2", 10, now, 300))
        .await
        .expect("claim");
    assert_eq!(
        ids(&second),
        [b],
        "alpha's later events wait while its first is leased to another relay"
    );

    let retry_at = at(20);
    store
        .release_outbox(
            a[0],
            OutboxRelease::Retry {
                retry_at,
                error: "sink down".into(),
            },
        )
        .await
        .expect("retry");
    store
        .release_outbox(b, OutboxRelease::Delivered { at: now })
        .await
        .expect("delivered");
    assert!(
        store
            .claim_outbox(&claim("relay-2", 10, now, 300))
            .await
            .expect("claim")
            .is_empty(),
        "alpha's later events wait behind the one waiting for its retry"
    );

    let batch = store
        .claim_outbox(&claim("relay-1", 10, retry_at, 300))
        .await
        .expect("claim");
    assert_eq!(ids(&batch), a, "once it is due, the whole queue, in order");
    assert_eq!(
        batch.iter().map(|e| e.attempts).collect::<Vec<_>>(),
        [2, 1, 1]
    );
    store
        .release_outbox(
            a[0],
            OutboxRelease::Retry {
                retry_at: at(30),
                error: "sink down".into(),
            },
        )
        .await
        .expect("retry");
    for id in &a[1..] {
        store
            .release_outbox(*id, OutboxRelease::HeldBack)
            .await
            .expect("held back");
    }
    assert!(
        store
            .claim_outbox(&claim("relay-1", 10, retry_at, 300))
            .await
            .expect("claim")
            .is_empty(),
        "held-back events are free but still wait behind the failed one"
    );

    let batch = store
        .claim_outbox(&claim("relay-1", 10, at(30), 300))
        .await
        .expect("claim");
    assert_eq!(ids(&batch), a);
    assert_eq!(
        batch.iter().map(|e| e.attempts).collect::<Vec<_>>(),
        [3, 1, 1],
        "a held-back release does not count the attempt"
    );
    for (entry, second) in batch[1..].iter().zip([1, 2]) {
        assert_eq!(
            entry.last_error, None,
            "a held-back release records no error"
        );
        assert_eq!(
            entry.next_attempt_at,
            at(1) + time::Duration::seconds(second),
            "and leaves the due time"
        );
    }
    store
        .release_outbox(
            a[0],
            OutboxRelease::Dead {
                at: at(30),
                error: "refused".into(),
            },
        )
        .await
        .expect("dead");
    store
        .release_outbox(a[2], OutboxRelease::HeldBack)
        .await
        .expect("held back");
    assert!(
        store
            .claim_outbox(&claim("relay-2", 10, at(30), 300))
            .await
            .expect("claim")
            .is_empty(),
        "the last waits behind the middle one, still leased"
    );
    store
        .release_outbox(a[1], OutboxRelease::HeldBack)
        .await
        .expect("held back");
    let rest = store
        .claim_outbox(&claim("relay-2", 10, at(30), 300))
        .await
        .expect("claim");
    assert_eq!(ids(&rest), a[1..], "a dead event holds nothing back");
}

fn ids_of(events: &[EventEnvelope]) -> Vec<Uuid> {
    events.iter().map(|e| e.id).collect()
}

/// A delivered event is never claimed again; a retried one is released (its lease cleared)
/// and due again at the backoff the retry policy computed, with its last error; after the
/// policy's attempt limit it is dead and never claimed again.
pub async fn releases_deliver_retry_with_backoff_and_bury(store: Arc<dyn CatalogStore>) {
    let store = store.as_ref();
    let events = seed(store).await;
    let policy = OutboxRetryPolicy {
        initial_backoff: Duration::from_secs(5),
        max_backoff: Duration::from_secs(60),
        max_attempts: 2,
    };
    let now = at(10);
    let batch = store
        .claim_outbox(&claim("relay", 3, now, 300))
        .await
        .expect("claim");
    assert_eq!(batch.len(), 3);
    let (delivered, retried, buried) = (&batch[0], &batch[1], &batch[2]);

    store
        .release_outbox(delivered.envelope.id, OutboxRelease::Delivered { at: now })
        .await
        .expect("delivered");
    let retry = policy.after_failure(
        retried.envelope.id,
        retried.attempts,
        now,
        "sink unavailable".into(),
        &SeededBackoffRng::new(1),
    );
    let OutboxRelease::Retry { retry_at, .. } = retry.clone() else {
        panic!("first failure retries: {retry:?}");
    };
    assert_eq!(retry_at, now + time::Duration::seconds(5));
    store
        .release_outbox(retried.envelope.id, retry)
        .await
        .expect("retry");
    store
        .release_outbox(
            buried.envelope.id,
            OutboxRelease::Dead {
                at: now,
                error: "payload refused".into(),
            },
        )
        .await
        .expect("dead");

    let early = store
        .claim_outbox(&claim(
            "relay",
            10,
            retry_at - time::Duration::microseconds(1),
            300,
        ))
        .await
        .expect("claim");
    assert_eq!(
        ids(&early),
        ids_of(&events[3..4]),
        "only the never-claimed due event"
    );

    let again = store
        .claim_outbox(&claim("relay", 10, retry_at, 300))
        .await
        .expect("claim");
    assert_eq!(
        ids(&again),
        [retried.envelope.id],
        "due at retry_at, although its old lease ran on"
    );
    assert_eq!(again[0].attempts, 2);
    assert_eq!(again[0].last_error.as_deref(), Some("sink unavailable"));
    assert_eq!(again[0].next_attempt_at, retry_at);

    let release = policy.after_failure(
        retried.envelope.id,
        again[0].attempts,
        retry_at,
        "still down".into(),
        &SeededBackoffRng::new(1),
    );
    assert!(matches!(release, OutboxRelease::Dead { .. }), "{release:?}");
    store
        .release_outbox(retried.envelope.id, release)
        .await
        .expect("dead");
    let far = store
        .claim_outbox(&claim("relay", 10, at(10_000), 300))
        .await
        .expect("claim");
    assert_eq!(
        ids(&far),
        ids_of(&[events[3].clone(), events[4].clone()]),
        "delivered and dead events are never claimed again"
    );
}

/// Releasing an event id the outbox does not hold is `NotFound` (kind `Event`).
pub async fn releasing_an_unknown_event_is_not_found(store: Arc<dyn CatalogStore>) {
    let err = store
        .release_outbox(Uuid::now_v7(), OutboxRelease::Delivered { at: at(1) })
        .await
        .expect_err("unknown");
    assert!(
        matches!(
            err,
            Error::NotFound {
                kind: ResourceKind::Event,
                ..
            }
        ),
        "{err:?}"
    );
}
