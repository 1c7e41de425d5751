//! Outbox relay throughput (issue 20): events per second from the outbox to a real server.
//!
//! Each iteration relays `PATHOPS_BENCH_RELAY_EVENTS` events (default 10,000: 100
//! integrations × 100 events, fresh ids every iteration) from an in-memory outbox through an
//! [`OutboxRelay`] (batches of 100) to the server, and compares it with a bare client loop
//! that sends the same messages the sink sends, one at a time, each awaiting the server's
//! reply — what a hand-written publisher without an outbox would do:
//!
//! - Redis Streams (`PATHOPS_BENCH_REDIS_URL` or `PATHOPS_TEST_REDIS_URL`): the sink's
//!   de-duplicating append script (`APPEND_SCRIPT`) through `EVALSHA`, with the CloudEvent JSON;
//! - NATS JetStream (`PATHOPS_BENCH_NATS_URL` or `PATHOPS_TEST_NATS_URL`): a publish with the
//!   `Nats-Msg-Id` header, awaiting the stream's acknowledgement.
//!
//! Building the outbox is not timed. Target: relay / bare ≤ 1.3 for each server; the ratio
//! and events/s are printed after each pair. A server whose variable is unset is skipped (and
//! says so).

#![allow(missing_docs, clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use pathops_benches::{env_size, runtime};
use pathops_connectors::nats::NatsSink;
use pathops_connectors::redis::{APPEND_SCRIPT, RedisSinkBuilder, RedisStreamSink};
use pathops_core::relay::{EventSink, OutboxRelay};
use pathops_core::{CatalogStore, EventEnvelope, EventType, TenantId};
use pathops_store::MemoryStore;
use pathops_testkit::fixtures::{IntegrationBuilder, create_mutation};

const PER_INTEGRATION: usize = 100;
const SOURCE: &str = "/pathops/bench";

fn env_url(names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| std::env::var(n).ok())
}

/// `n` fresh events of tenant `bench`, `PER_INTEGRATION` per integration, in outbox order
/// within each integration.
fn events(n: usize) -> Vec<EventEnvelope> {
    let integrations = n.div_ceil(PER_INTEGRATION);
    let mut out = Vec::with_capacity(n);
    for k in 0..integrations {
        let i = IntegrationBuilder::new("bench", &format!("relay-{k:04}")).build();
        for v in 0..PER_INTEGRATION.min(n - out.len()) {
            out.push(EventEnvelope::new(
                EventType::Updated,
                i.tenant_id.clone(),
                i.id,
                v as u64 + 1,
                i.created_at,
                serde_json::json!({ "version": v + 1, "name": i.name.as_str() }),
            ));
        }
    }
    out
}

/// An in-memory outbox holding `events` (each integration's created event plus its share).
async fn outbox(events: &[EventEnvelope]) -> Arc<dyn CatalogStore> {
    let store = Arc::new(MemoryStore::new());
    for chunk in events.chunks(PER_INTEGRATION) {
        let first = &chunk[0];
        let mut integration =
            IntegrationBuilder::new("bench", &format!("o-{}", first.integration_id)).build();
        integration.id = first.integration_id;
        let mut m = create_mutation(integration);
        m.events = chunk.to_vec();
        store.apply(m).await.expect("seed the outbox");
    }
    store
}

/// Puts `events` in a fresh outbox and relays them to `sink`; returns the time relaying took.
async fn relay_to(sink: Arc<dyn EventSink>, events: Vec<EventEnvelope>) -> Duration {
    let n = events.len();
    relay_all(outbox(&events).await, sink, n).await
}

/// Relays everything in `store` to `sink`; returns the time it took.
async fn relay_all(store: Arc<dyn CatalogStore>, sink: Arc<dyn EventSink>, n: usize) -> Duration {
    let relay = OutboxRelay::new(store, vec![sink], "bench-relay").with_batch_size(100);
    let start = Instant::now();
    let mut delivered = 0;
    loop {
        let stats = relay.relay_once().await.expect("relay pass");
        delivered += stats.delivered;
        assert_eq!(stats.retried + stats.dead, 0, "a publish failed: {stats:?}");
        if stats.claimed == 0 {
            break;
        }
    }
    let elapsed = start.elapsed();
    assert_eq!(delivered, n, "every event delivered");
    elapsed
}

fn report(server: &str, n: usize, relay: Duration, bare: Duration) {
    let per_sec = |d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "relay/{server}: relay {:.0} events/s, bare client {:.0} events/s, relay/bare = {:.3} (target <= 1.3)",
        per_sec(relay),
        per_sec(bare),
        relay.as_secs_f64() / bare.as_secs_f64()
    );
}

/// Measures the relay and the bare loop over fresh events (criterion, flat sampling: ten
/// samples of equal iteration counts) and prints the ratio of their mean iteration times.
fn pair<R, B, RF, BF>(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    server: &str,
    n: usize,
    relay: R,
    bare: B,
) where
    R: Fn(Vec<EventEnvelope>) -> RF + Copy,
    RF: std::future::Future<Output = Duration>,
    B: Fn(Vec<EventEnvelope>) -> BF + Copy,
    BF: std::future::Future<Output = Duration>,
{
    let mut group = c.benchmark_group(format!("relay/{server}"));
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(10))
        .throughput(Throughput::Elements(n as u64));
    let relayed = Mean::default();
    group.bench_function("outbox_relay", |b| {
        b.iter_custom(|iters| {
            let total: Duration = (0..iters).map(|_| rt.block_on(relay(events(n)))).sum();
            relayed.add(total, iters);
            total
        })
    });
    let bared = Mean::default();
    group.bench_function("bare_client", |b| {
        b.iter_custom(|iters| {
            let total: Duration = (0..iters).map(|_| rt.block_on(bare(events(n)))).sum();
            bared.add(total, iters);
            total
        })
    });
    group.finish();
    if relayed.iters() > 0 && bared.iters() > 0 {
        report(server, n, relayed.get(), bared.get());
    }
}

/// The mean of the iteration times criterion asked for (warm-up included).
#[derive(Default)]
struct Mean(std::cell::Cell<(Duration, u64)>);

impl Mean {
    fn add(&self, total: Duration, iters: u64) {
        let (t, i) = self.0.get();
        self.0.set((t + total, i + iters));
    }

    fn iters(&self) -> u64 {
        self.0.get().1
    }

    fn get(&self) -> Duration {
        let (t, i) = self.0.get();
        t / u32::try_from(i.max(1)).unwrap_or(u32::MAX)
    }
}

fn bench_redis(c: &mut Criterion) {
    let Some(url) = env_url(&["PATHOPS_BENCH_REDIS_URL", "PATHOPS_TEST_REDIS_URL"]) else {
        println!("relay/redis: skipped (PATHOPS_BENCH_REDIS_URL / PATHOPS_TEST_REDIS_URL unset)");
        return;
    };
    let rt = runtime();
    let n = env_size("PATHOPS_BENCH_RELAY_EVENTS", 10_000);
    let prefix = format!("pathops-bench-{}", uuid::Uuid::now_v7().simple());
    let sink: RedisStreamSink = rt.block_on(async {
        RedisSinkBuilder::new()
            .with_url(url)
            .with_prefix(prefix.clone())
            .with_source(SOURCE)
            .connect()
            .await
            .expect("connect to redis")
    });
    let tenant: TenantId = "bench".parse().expect("tenant");
    let bare_stream = format!("{prefix}-bare:{{bench}}");
    let script = Arc::new(redis::Script::new(APPEND_SCRIPT));
    let dedup_ms: u64 = 24 * 60 * 60 * 1000;
    let relay = |events| relay_to(Arc::new(sink.clone()), events);
    let bare = {
        let connection = sink.connection();
        let stream = bare_stream.clone();
        move |events: Vec<EventEnvelope>| {
            let mut connection = connection.clone();
            let (script, stream) = (script.clone(), stream.clone());
            async move {
                let start = Instant::now();
                for event in &events {
                    let document =
                        serde_json::to_string(&event.to_cloudevent(SOURCE)).expect("json");
                    let (appended, _entry): (u8, String) = script
                        .key(&stream)
                        .key(format!("{stream}:seen:{}", event.id))
                        .arg(dedup_ms)
                        .arg(0)
                        .arg(event.id.to_string())
                        .arg(event.event_type.as_str())
                        .arg(event.integration_id.to_string())
                        .arg(document)
                        .invoke_async(&mut connection)
                        .await
                        .expect("append");
                    assert_eq!(appended, 1);
                }
                start.elapsed()
            }
        }
    };
    pair(c, &rt, "redis", n, relay, &bare);
    // Leave nothing behind on the shared server: both streams and every marker.
    rt.block_on(async {
        let mut connection = sink.connection();
        let mut keys: Vec<String> = vec![sink.stream_key(&tenant), bare_stream];
        let markers: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*seen*"))
            .query_async(&mut connection)
            .await
            .expect("keys");
        keys.extend(markers);
        for chunk in keys.chunks(1000) {
            let _: () = redis::cmd("DEL")
                .arg(chunk)
                .query_async(&mut connection)
                .await
                .expect("clean up");
        }
    });
}

fn bench_nats(c: &mut Criterion) {
    let Some(url) = env_url(&["PATHOPS_BENCH_NATS_URL", "PATHOPS_TEST_NATS_URL"]) else {
        println!("relay/nats: skipped (PATHOPS_BENCH_NATS_URL / PATHOPS_TEST_NATS_URL unset)");
        return;
    };
    let rt = runtime();
    let n = env_size("PATHOPS_BENCH_RELAY_EVENTS", 10_000);
    let id = uuid::Uuid::now_v7().simple().to_string();
    let prefix = format!("pathops-bench-{id}");
    let stream = format!("PATHOPS_BENCH_{id}");
    let sink = rt.block_on(async {
        let sink = NatsSink::connect(&url, prefix.clone())
            .await
            .expect("connect to nats")
            .with_source(SOURCE);
        sink.ensure_stream(&stream, Duration::from_secs(120))
            .await
            .expect("stream");
        sink
    });
    let relay = |events| relay_to(Arc::new(sink.clone()), events);
    let bare = {
        let jetstream = sink.jetstream().clone();
        let prefix = prefix.clone();
        move |events: Vec<EventEnvelope>| {
            let (jetstream, prefix) = (jetstream.clone(), prefix.clone());
            async move {
                let start = Instant::now();
                for event in &events {
                    let payload = serde_json::to_vec(&event.to_cloudevent(SOURCE)).expect("json");
                    let mut headers = async_nats::HeaderMap::new();
                    headers.insert("Nats-Msg-Id", event.id.to_string().as_str());
                    headers.insert("Content-Type", "application/cloudevents+json");
                    let subject =
                        format!("{prefix}.{}.{}", event.tenant_id, event.event_type.as_str());
                    jetstream
                        .publish_with_headers(subject, headers, payload.into())
                        .await
                        .expect("publish")
                        .await
                        .expect("ack");
                }
                start.elapsed()
            }
        }
    };
    pair(c, &rt, "nats", n, relay, &bare);
    rt.block_on(async {
        sink.jetstream()
            .delete_stream(&stream)
            .await
            .expect("delete the stream");
    });
}

criterion_group!(benches, bench_redis, bench_nats);
criterion_main!(benches);
