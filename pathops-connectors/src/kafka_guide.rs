//! How to write a Kafka event sink (a guide; no Kafka sink ships, because no broker runs in
//! this project's CI and nothing here ships untested).
//!
//! A Kafka sink implements [`EventSink`](pathops_core::relay::EventSink) and must keep the
//! contract the shipped sinks keep (and that `pathops_testkit::sink_suite` checks):
//!
//! - **At least once, acknowledged after the broker confirmed.** `publish` returns `Ok` only
//!   once the broker acknowledged the record with `acks=all` (for rdkafka: await the
//!   `DeliveryFuture` of `FutureProducer::send`). Any error, a timeout included, is returned
//!   as `Error::Backend { backend: "kafka", .. }`, so the relay retries the event later.
//! - **The event id is the message key**, and the producer is idempotent
//!   (`enable.idempotence=true`): the broker drops the producer's own retries, and consumers
//!   deduplicate relay redeliveries by key.
//! - **Per-integration order**: the relay publishes one event at a time, in outbox order, and
//!   never publishes an integration's event while an earlier one of it waits for a retry; a
//!   topic per tenant, or a partitioner keyed by integration id, keeps one integration's
//!   events in one partition. (Keying by event id spreads them; then set the partition
//!   explicitly from the integration id.)
//! - **The payload** is [`EventEnvelope::to_cloudevent`](pathops_core::EventEnvelope::to_cloudevent)
//!   as JSON with `content-type: application/cloudevents+json` (CloudEvents' Kafka binding,
//!   structured mode), so consumers read it with
//!   [`ReceivedEvent::from_cloudevent`](pathops_core::ReceivedEvent::from_cloudevent).
//! - **No secret** in the sink's `Debug` or errors (broker SASL passwords as `SecretString`).
//!
//! Then give it a feature named `kafka`, implement `SinkHarness` over a real broker in
//! `tests/`, and run `sink_suite::run_all` when `PATHOPS_TEST_KAFKA_URL` is set.
