//! [`NatsSink`]: publishes catalog events to NATS JetStream as CloudEvents (feature `nats`).
//!
//! Each event goes to `<prefix>.<tenant>.<event type>` (for example
//! `pathops.events.acme.integration.created`) as a CloudEvents 1.0 JSON document, with the
//! `Nats-Msg-Id` header set to the event id, so JetStream drops redeliveries of the same event
//! inside the stream's duplicate window. `publish` waits for the stream's acknowledgement: an
//! event counts as delivered only once JetStream has stored it.

use std::fmt;
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use async_trait::async_trait;
use pathops_core::relay::EventSink;
use pathops_core::{Error, EventEnvelope, Result};

/// The CloudEvents `source` used when none is configured.
pub const DEFAULT_SOURCE: &str = "/pathops/catalog";

/// Publishes events to NATS JetStream.
#[derive(Clone)]
pub struct NatsSink {
    jetstream: jetstream::Context,
    subject_prefix: String,
    source: String,
}

impl fmt::Debug for NatsSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsSink")
            .field("subject_prefix", &self.subject_prefix)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

fn nats_error(source: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::backend("nats", source)
}

impl NatsSink {
    /// Connects to `url` (`nats://host:4222`) and publishes under `subject_prefix`.
    pub async fn connect(url: &str, subject_prefix: impl Into<String>) -> Result<Self> {
        let client = async_nats::connect(url).await.map_err(nats_error)?;
        Ok(Self::new(client, subject_prefix))
    }

    /// Publishes through an existing client.
    pub fn new(client: async_nats::Client, subject_prefix: impl Into<String>) -> Self {
        Self {
            jetstream: jetstream::new(client),
            subject_prefix: subject_prefix.into(),
            source: DEFAULT_SOURCE.to_owned(),
        }
    }

    /// Sets the CloudEvents `source`.
    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = source.into();
        self
    }

    /// The subject an event is published to.
    pub fn subject(&self, event: &EventEnvelope) -> String {
        format!(
            "{}.{}.{}",
            self.subject_prefix,
            event.tenant_id,
            event.event_type.as_str()
        )
    }

    /// Creates (or finds) a stream named `name` capturing every subject under the prefix, with
    /// a `duplicate_window` for de-duplication by event id.
    pub async fn ensure_stream(&self, name: &str, duplicate_window: Duration) -> Result<()> {
        self.jetstream
            .get_or_create_stream(stream::Config {
                name: name.to_owned(),
                subjects: vec![format!("{}.>", self.subject_prefix)],
                duplicate_window,
                ..stream::Config::default()
            })
            .await
            .map_err(nats_error)?;
        Ok(())
    }

    /// The JetStream context, for stream administration.
    pub fn jetstream(&self) -> &jetstream::Context {
        &self.jetstream
    }
}

#[async_trait]
impl EventSink for NatsSink {
    fn name(&self) -> &str {
        "nats"
    }

    async fn publish(&self, event: &EventEnvelope) -> Result<()> {
        let payload = serde_json::to_vec(&event.to_cloudevent(&self.source))
            .map_err(|e| Error::backend("nats", e))?;
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", event.id.to_string().as_str());
        headers.insert("Content-Type", "application/cloudevents+json");
        let ack = self
            .jetstream
            .publish_with_headers(self.subject(event), headers, bytes::Bytes::from(payload))
            .await
            .map_err(nats_error)?;
        ack.await.map_err(nats_error)?;
        Ok(())
    }
}
