//! NatsSink against a real NATS server with JetStream. Runs when `PATHOPS_TEST_NATS_URL` is set
//! (CI sets `nats://127.0.0.1:4222`); otherwise each test prints that it skipped.
#![cfg(feature = "nats")]

use std::time::Duration;

use pathops_connectors::nats::NatsSink;
use pathops_core::relay::EventSink;
use pathops_core::{EventEnvelope, EventType, IntegrationId};

fn nats_url() -> Option<String> {
    pathops_testkit::services::service_url("PATHOPS_TEST_NATS_URL")
}

/// A sink on a prefix and stream of its own, so parallel runs never see each other's events.
async fn isolated_sink(url: &str) -> (NatsSink, String) {
    let unique = uuid::Uuid::now_v7().simple().to_string();
    let sink = NatsSink::connect(url, format!("pathops-test-{unique}"))
        .await
        .expect("connect to NATS");
    let stream = format!("PATHOPS_TEST_{unique}");
    sink.ensure_stream(&stream, Duration::from_secs(120))
        .await
        .expect("create stream");
    (sink, stream)
}

fn event(event_type: EventType) -> EventEnvelope {
    EventEnvelope::new(
        event_type,
        "acme".parse().unwrap(),
        IntegrationId::new(),
        3,
        time::OffsetDateTime::now_utc(),
        serde_json::json!({ "status": "active" }),
    )
}

#[tokio::test]
async fn publishes_cloudevents_and_deduplicates_by_event_id() {
    let Some(url) = nats_url() else { return };
    let (sink, stream_name) = isolated_sink(&url).await;
    let created = event(EventType::Created);
    let paused = event(EventType::Paused);
    sink.publish(&created).await.unwrap();
    sink.publish(&created).await.unwrap(); // a redelivery by an at-least-once relay
    sink.publish(&paused).await.unwrap();

    let mut stream = sink.jetstream().get_stream(&stream_name).await.unwrap();
    let info = stream.info().await.unwrap();
    assert_eq!(
        info.state.messages, 2,
        "the redelivered event was dropped by id"
    );

    let first = stream.get_raw_message(1).await.unwrap();
    assert_eq!(first.subject.as_str(), sink.subject(&created));
    assert!(
        first
            .subject
            .as_str()
            .ends_with(".acme.integration.created")
    );
    let doc: serde_json::Value = serde_json::from_slice(&first.payload).unwrap();
    assert_eq!(doc["specversion"], "1.0");
    assert_eq!(doc["id"], created.id.to_string());
    assert_eq!(doc["type"], "integration.created");
    assert_eq!(doc["subject"], created.integration_id.to_string());
    assert_eq!(doc["data"]["status"], "active");

    sink.jetstream().delete_stream(&stream_name).await.unwrap();
}

#[tokio::test]
async fn publishing_without_a_stream_is_an_error_not_a_silent_success() {
    let Some(url) = nats_url() else { return };
    let unique = uuid::Uuid::now_v7().simple().to_string();
    let sink = NatsSink::connect(&url, format!("pathops-nostream-{unique}"))
        .await
        .unwrap();
    let err = sink.publish(&event(EventType::Created)).await.unwrap_err();
    assert_eq!(err.to_string(), "nats backend failed");
    assert!(std::error::Error::source(&err).is_some());
}

#[tokio::test]
async fn an_unreachable_server_is_a_backend_error() {
    // Port 1 on loopback: nothing listens there.
    let err = NatsSink::connect("nats://127.0.0.1:1", "pathops-x")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            pathops_core::Error::Backend {
                backend: "nats",
                ..
            }
        ),
        "{err}"
    );
}

/// Runs an end-to-end sink-suite check (catalog, outbox relay, JetStream) on a stream of its
/// own, deleted afterwards.
async fn through_the_relay<F>(check: impl FnOnce(SuiteHarness) -> F)
where
    F: std::future::Future<Output = SuiteHarness>,
{
    let Some(url) = nats_url() else { return };
    let (sink, stream) = isolated_sink(&url).await;
    let harness = check(SuiteHarness { sink, stream }).await;
    harness
        .sink
        .jetstream()
        .delete_stream(&harness.stream)
        .await
        .unwrap();
}

#[tokio::test]
async fn catalog_events_reach_jetstream_through_the_outbox_relay() {
    through_the_relay(|h| async move {
        pathops_testkit::sink_suite::catalog_events_arrive_through_the_outbox_relay(
            &h,
            std::sync::Arc::new(pathops_store::MemoryStore::new()),
        )
        .await;
        h
    })
    .await;
}

#[tokio::test]
async fn catalog_events_keep_their_order_on_jetstream_across_a_failed_publish() {
    through_the_relay(|h| async move {
        pathops_testkit::sink_suite::catalog_events_keep_their_order_across_a_failed_publish(
            &h,
            std::sync::Arc::new(pathops_store::MemoryStore::new()),
        )
        .await;
        h
    })
    .await;
}

struct SuiteHarness {
    sink: NatsSink,
    stream: String,
}

#[async_trait::async_trait]
impl pathops_testkit::sink_suite::SinkHarness for SuiteHarness {
    fn sink(&self) -> std::sync::Arc<dyn EventSink> {
        std::sync::Arc::new(self.sink.clone())
    }

    async fn delivered(&self) -> Vec<pathops_core::ReceivedEvent> {
        let Ok(mut stream) = self.sink.jetstream().get_stream(&self.stream).await else {
            return Vec::new(); // deleted by break_delivery
        };
        let state = stream.info().await.unwrap().state.clone();
        let mut events = Vec::new();
        for seq in state.first_sequence..=state.last_sequence {
            if let Ok(message) = stream.get_raw_message(seq).await {
                events.push(
                    pathops_core::ReceivedEvent::from_cloudevent(&message.payload)
                        .expect("a PathOps CloudEvent"),
                );
            }
        }
        events
    }

    async fn break_delivery(&self) {
        // No stream captures the subjects: JetStream answers the publish with "no responders".
        self.sink
            .jetstream()
            .delete_stream(&self.stream)
            .await
            .unwrap();
    }

    async fn repair_delivery(&self) {
        self.sink
            .ensure_stream(&self.stream, Duration::from_secs(120))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn jetstream_passes_the_sink_conformance_suite() {
    let Some(url) = nats_url() else { return };
    let (sink, stream) = isolated_sink(&url).await;
    let harness = SuiteHarness { sink, stream };
    pathops_testkit::sink_suite::run_all(&harness).await;
    harness
        .sink
        .jetstream()
        .delete_stream(&harness.stream)
        .await
        .unwrap();
}
