//! The event sink conformance suite: what every [`EventSink`] backend must do, checked against
//! the real server through a [`SinkHarness`].
//!
//! - an event id is delivered once, however often the relay redelivers it;
//! - events of one integration arrive in the order they were published;
//! - `publish` returning `Ok` means the server holds the event (readable at once), and an
//!   error means it does not, so the relay's retry is what delivers it.
//!
//! Each check makes events of its own (fresh ids and integrations) and looks only at those, so
//! the checks share one stream. Run them all with [`run_all`]; the end-to-end checks through a
//! catalog and its outbox relay, [`catalog_events_arrive_through_the_outbox_relay`] and
//! [`catalog_events_keep_their_order_across_a_failed_publish`], also need an empty catalog
//! store.

use std::sync::Arc;

use async_trait::async_trait;
use pathops_core::ReceivedEvent;
use pathops_core::relay::{EventSink, OutboxRelay};
use pathops_core::{CatalogStore, EventEnvelope, EventType, IntegrationId};
use uuid::Uuid;

/// A sink under test, and a way to read what its server holds.
#[async_trait]
pub trait SinkHarness: Send + Sync {
    /// The sink under test. Events are for tenant `acme`.
    fn sink(&self) -> Arc<dyn EventSink>;

    /// Every event the server holds for tenant `acme`, in the server's order, read from the
    /// server (not from the sink's memory).
    async fn delivered(&self) -> Vec<ReceivedEvent>;

    /// Makes the server refuse publishes (a missing stream, a key of the wrong type, …).
    async fn break_delivery(&self);

    /// Undoes [`break_delivery`](Self::break_delivery).
    async fn repair_delivery(&self);
}

/// An event of `integration` at `version`, for tenant `acme`.
pub fn event(event_type: EventType, integration: IntegrationId, version: u64) -> EventEnvelope {
    EventEnvelope::new(
        event_type,
        "acme".parse().expect("valid tenant"),
        integration,
        version,
        time::OffsetDateTime::now_utc(),
        serde_json::json!({ "version": version }),
    )
}

async fn delivered_among(h: &dyn SinkHarness, ids: &[Uuid]) -> Vec<ReceivedEvent> {
    h.delivered()
        .await
        .into_iter()
        .filter(|e| ids.contains(&e.id()))
        .collect()
}

/// Every check, in order.
pub async fn run_all(h: &dyn SinkHarness) {
    delivered_once_per_event_id_under_redelivery(h).await;
    ordering_per_integration_is_preserved(h).await;
    ok_means_stored_and_an_error_means_not(h).await;
}

/// Catalog changes reach the server through the outbox relay, in order, and once the sink has
/// acknowledged them the relay never claims them again. `store` is an empty catalog store (the
/// suite has no backend of its own).
pub async fn catalog_events_arrive_through_the_outbox_relay(
    h: &dyn SinkHarness,
    store: Arc<dyn CatalogStore>,
) {
    use crate::catalog_suite::Harness;
    let c = Harness::new(store);
    let created = c
        .catalog
        .create(&c.admin, Harness::input("relayed"), true)
        .await
        .expect("create");
    c.catalog
        .pause(&c.admin, created.id, "maintenance", None)
        .await
        .expect("pause");
    let relay = OutboxRelay::new(c.store.clone(), vec![h.sink()], "relay-sink-suite")
        .with_clock(c.clock.clone());
    let stats = relay.relay_once().await.expect("relay pass");
    assert_eq!((stats.claimed, stats.delivered), (2, 2));
    let types: Vec<String> = h
        .delivered()
        .await
        .into_iter()
        .filter(|e| e.known().is_some_and(|k| k.integration_id == created.id))
        .map(|e| e.type_name().to_owned())
        .collect();
    assert_eq!(types, ["integration.created", "integration.paused"]);
    assert_eq!(
        relay.relay_once().await.expect("relay pass").claimed,
        0,
        "acknowledged, not redelivered"
    );
}

/// Catalog changes keep their order per integration on the server when one publish fails
/// mid-batch: the relay holds the integration's later events back until the failed one is
/// delivered, while another integration's events flow. `store` is an empty catalog store.
pub async fn catalog_events_keep_their_order_across_a_failed_publish(
    h: &dyn SinkHarness,
    store: Arc<dyn CatalogStore>,
) {
    use crate::catalog_suite::Harness;
    use pathops_core::event::OutboxRetryPolicy;
    use std::time::Duration;

    let c = Harness::new(store);
    let mut ids = Vec::new();
    for name in ["ordered-a", "ordered-b"] {
        let created = c
            .catalog
            .create(&c.admin, Harness::input(name), true)
            .await
            .expect("create");
        for reason in ["first", "second"] {
            c.catalog
                .pause(&c.admin, created.id, reason, None)
                .await
                .expect("pause");
            c.catalog
                .resume(&c.admin, created.id)
                .await
                .expect("resume");
        }
        ids.push(created.id);
    }
    let sink = Arc::new(RefusingCall::new(h.sink(), 2));
    let relay = OutboxRelay::new(c.store.clone(), vec![sink], "relay-sink-order")
        .with_clock(c.clock.clone())
        .with_retry_policy(OutboxRetryPolicy {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(1),
            max_attempts: 5,
        });
    let first = relay.relay_once().await.expect("relay pass");
    c.clock.advance(Duration::from_secs(2));
    while relay.relay_once().await.expect("relay pass").claimed > 0 {}

    let got = h.delivered().await;
    for id in ids {
        let types: Vec<&str> = got
            .iter()
            .filter(|e| e.known().is_some_and(|k| k.integration_id == id))
            .map(|e| e.type_name())
            .collect();
        let paused = ["integration.paused", "integration.resumed"];
        assert_eq!(types.first(), Some(&"integration.created"), "{types:?}");
        assert_eq!(
            types
                .iter()
                .filter(|t| paused.contains(t))
                .collect::<Vec<_>>(),
            [&paused[0], &paused[1], &paused[0], &paused[1]],
            "{}: per-integration order across a failed publish: {types:?}",
            h.sink().name()
        );
    }
    assert_eq!(first.retried, 1, "{first:?}");
    assert!(first.held_back > 0, "{first:?}");
}

/// Delegates to a sink but refuses its `n`th publish (counting from 1) without forwarding it.
#[derive(Debug)]
struct RefusingCall {
    inner: Arc<dyn EventSink>,
    refuse: usize,
    calls: std::sync::atomic::AtomicUsize,
}

impl RefusingCall {
    fn new(inner: Arc<dyn EventSink>, refuse: usize) -> Self {
        Self {
            inner,
            refuse,
            calls: std::sync::atomic::AtomicUsize::new(0),
        }
    }
}

#[async_trait]
impl EventSink for RefusingCall {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn publish(&self, event: &EventEnvelope) -> pathops_core::Result<()> {
        let call = 1 + self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if call == self.refuse {
            return Err(pathops_core::Error::backend(
                "sink-suite",
                std::io::Error::other("refused once by the suite"),
            ));
        }
        self.inner.publish(event).await
    }
}

/// A redelivered event (the relay's at-least-once) is not delivered a second time.
pub async fn delivered_once_per_event_id_under_redelivery(h: &dyn SinkHarness) {
    let sink = h.sink();
    let integration = IntegrationId::new();
    let events: Vec<EventEnvelope> = [EventType::Created, EventType::Updated, EventType::Paused]
        .into_iter()
        .zip(1..)
        .map(|(t, v)| event(t, integration, v))
        .collect();
    for i in [0, 0, 1, 0, 2, 1, 2] {
        sink.publish(&events[i])
            .await
            .expect("publish (and redeliver)");
    }
    let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
    let got = delivered_among(h, &ids).await;
    let expected: Vec<ReceivedEvent> = events.into_iter().map(ReceivedEvent::Known).collect();
    assert_eq!(
        got,
        expected,
        "{}: each event id once, as published",
        sink.name()
    );
}

/// Events of one integration arrive in publish order, interleaved with another's, and a late
/// redelivery of an earlier event does not reorder them.
pub async fn ordering_per_integration_is_preserved(h: &dyn SinkHarness) {
    let sink = h.sink();
    let (a, b) = (IntegrationId::new(), IntegrationId::new());
    let mut published = Vec::new();
    for version in 1..=5 {
        for integration in [a, b] {
            let e = event(EventType::Updated, integration, version);
            sink.publish(&e).await.expect("publish");
            published.push(e);
        }
    }
    sink.publish(&published[2]).await.expect("late redelivery");
    let ids: Vec<Uuid> = published.iter().map(|e| e.id).collect();
    let got = delivered_among(h, &ids).await;
    for integration in [a, b] {
        let versions: Vec<u64> = got
            .iter()
            .filter_map(|e| e.known())
            .filter(|e| e.integration_id == integration)
            .map(|e| e.version)
            .collect();
        assert_eq!(
            versions,
            vec![1, 2, 3, 4, 5],
            "{}: per-integration order",
            sink.name()
        );
    }
}

/// `Ok` from `publish` means the server already holds the event; an error means it does not,
/// and a later retry delivers it once.
pub async fn ok_means_stored_and_an_error_means_not(h: &dyn SinkHarness) {
    let sink = h.sink();
    let integration = IntegrationId::new();
    let first = event(EventType::Created, integration, 1);
    sink.publish(&first).await.expect("publish");
    assert_eq!(
        delivered_among(h, &[first.id]).await.len(),
        1,
        "{}: acknowledged means readable at once",
        sink.name()
    );

    h.break_delivery().await;
    let second = event(EventType::Paused, integration, 2);
    let refused = sink.publish(&second).await;
    assert!(
        refused.is_err(),
        "{}: a refused publish must be an error, not a silent success",
        sink.name()
    );
    assert!(
        delivered_among(h, &[second.id]).await.is_empty(),
        "{}: an error means not stored",
        sink.name()
    );

    h.repair_delivery().await;
    sink.publish(&second).await.expect("the relay's retry");
    sink.publish(&second).await.expect("and a redelivery");
    assert_eq!(
        delivered_among(h, &[second.id]).await,
        vec![ReceivedEvent::Known(second)],
        "{}: the retry delivers it once",
        sink.name()
    );
}
