//! RedisStreamSink against a real Valkey/Redis server. The shared-server tests run when
//! `PATHOPS_TEST_REDIS_URL` is set (CI sets `redis://127.0.0.1:6379`); otherwise each prints
//! that it skipped. The restart and password tests start a private `redis-server` of their own
//! on a free port (they need the binary, and skip with a message without it).
#![cfg(feature = "redis")]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pathops_connectors::redis::{RedisSinkBuilder, RedisStreamSink, entry_event};
use pathops_core::relay::{EventSink, OutboxRelay};
use pathops_core::{EventEnvelope, EventType, IntegrationId, ReceivedEvent};
use pathops_testkit::sink_suite::{self, SinkHarness};
use redis::AsyncCommands;
use redis::streams::StreamRangeReply;

fn redis_url() -> Option<String> {
    pathops_testkit::services::service_url("PATHOPS_TEST_REDIS_URL")
}

/// A sink on a prefix of its own, so parallel runs never see each other's events.
async fn isolated_sink(url: &str) -> RedisStreamSink {
    let unique = uuid::Uuid::now_v7().simple().to_string();
    RedisSinkBuilder::new()
        .with_url(url)
        .with_prefix(format!("pathops-test:{unique}"))
        .connect()
        .await
        .expect("connect to Redis")
}

fn acme() -> pathops_core::TenantId {
    "acme".parse().unwrap()
}

async fn entries(sink: &RedisStreamSink) -> Vec<ReceivedEvent> {
    entries_of(sink, &sink.stream_key(&acme())).await
}

async fn entries_of(sink: &RedisStreamSink, key: &str) -> Vec<ReceivedEvent> {
    let reply: StreamRangeReply = sink.connection().xrange_all(key).await.expect("XRANGE");
    reply
        .ids
        .iter()
        .map(|entry| entry_event(&entry.map).expect("a PathOps CloudEvent"))
        .collect()
}

async fn drop_stream(sink: &RedisStreamSink) {
    let _: () = sink
        .connection()
        .del(sink.stream_key(&acme()))
        .await
        .unwrap();
}

fn event(event_type: EventType) -> EventEnvelope {
    sink_suite::event(event_type, IntegrationId::new(), 3)
}

struct Harness {
    sink: RedisStreamSink,
    broken: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl SinkHarness for Harness {
    fn sink(&self) -> Arc<dyn EventSink> {
        Arc::new(self.sink.clone())
    }

    async fn delivered(&self) -> Vec<ReceivedEvent> {
        let mut key = self.sink.stream_key(&acme());
        if self.broken.load(std::sync::atomic::Ordering::SeqCst) {
            key.push_str(":kept");
        }
        entries_of(&self.sink, &key).await
    }

    async fn break_delivery(&self) {
        // A string where the stream should be: XADD fails with WRONGTYPE on the server.
        let stream = self.sink.stream_key(&acme());
        let mut connection = self.sink.connection();
        let _: () = connection
            .rename(&stream, format!("{stream}:kept"))
            .await
            .unwrap();
        let _: () = connection.set(&stream, "not a stream").await.unwrap();
        self.broken.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    async fn repair_delivery(&self) {
        let stream = self.sink.stream_key(&acme());
        let mut connection = self.sink.connection();
        let _: () = connection.del(&stream).await.unwrap();
        let _: () = connection
            .rename(format!("{stream}:kept"), &stream)
            .await
            .unwrap();
        self.broken
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test]
async fn redis_streams_pass_the_sink_conformance_suite() {
    let Some(url) = redis_url() else { return };
    let harness = Harness {
        sink: isolated_sink(&url).await,
        broken: false.into(),
    };
    sink_suite::run_all(&harness).await;
    drop_stream(&harness.sink).await;
}

#[tokio::test]
async fn appends_cloudevents_and_deduplicates_by_event_id() {
    let Some(url) = redis_url() else { return };
    let sink = isolated_sink(&url).await;
    let created = event(EventType::Created);
    let first = sink.append(&created).await.unwrap();
    let again = sink.append(&created).await.unwrap();
    assert!(!first.duplicate);
    assert_eq!(
        (again.entry_id.as_str(), again.duplicate),
        (first.entry_id.as_str(), true),
        "the redelivery names the entry it already is"
    );

    let stream = sink.stream_key(&created.tenant_id);
    assert!(stream.ends_with(":{acme}"), "{stream}");
    let mut connection = sink.connection();
    assert_eq!(connection.xlen::<_, u64>(&stream).await.unwrap(), 1);
    let reply: StreamRangeReply = connection.xrange_all(&stream).await.unwrap();
    let entry = &reply.ids[0];
    assert_eq!(entry.id, first.entry_id);
    let field = |name: &str| -> String { entry.get(name).unwrap() };
    assert_eq!(field("id"), created.id.to_string());
    assert_eq!(field("type"), "integration.created");
    assert_eq!(field("subject"), created.integration_id.to_string());
    let doc: serde_json::Value = serde_json::from_str(&field("cloudevent")).unwrap();
    assert_eq!(doc, created.to_cloudevent("/pathops/catalog"));
    drop_stream(&sink).await;
}

#[tokio::test]
async fn max_len_trims_the_stream_approximately() {
    let Some(url) = redis_url() else { return };
    let unique = uuid::Uuid::now_v7().simple().to_string();
    let trimmed = RedisSinkBuilder::new()
        .with_url(&url)
        .with_prefix(format!("pathops-test:{unique}:trimmed"))
        .with_max_len(Some(10))
        .connect()
        .await
        .unwrap();
    let kept = isolated_sink(&url).await;
    for _ in 0..300 {
        let e = event(EventType::Updated);
        trimmed.append(&e).await.unwrap();
        kept.append(&e).await.unwrap();
    }
    let mut connection = kept.connection();
    let kept_len: u64 = connection.xlen(kept.stream_key(&acme())).await.unwrap();
    let trimmed_len: u64 = connection.xlen(trimmed.stream_key(&acme())).await.unwrap();
    assert_eq!(kept_len, 300, "no MAXLEN: nothing trimmed");
    // `~` trims whole macro nodes (100 entries by default): at least 10 stay, far fewer than 300.
    assert!((10..=200).contains(&trimmed_len), "{trimmed_len}");
    drop_stream(&kept).await;
    drop_stream(&trimmed).await;
}

#[tokio::test]
async fn invalid_settings_are_refused_before_connecting() {
    for (builder, needle) in [
        (RedisSinkBuilder::new(), "no URL"),
        (
            RedisSinkBuilder::new().with_url("http://127.0.0.1:1"),
            "not a redis",
        ),
        (
            RedisSinkBuilder::new()
                .with_url("redis://127.0.0.1:1")
                .with_prefix("a{b}"),
            "prefix",
        ),
        (
            RedisSinkBuilder::new()
                .with_url("redis://127.0.0.1:1")
                .with_max_len(Some(0)),
            "MAXLEN",
        ),
        (
            RedisSinkBuilder::new()
                .with_url("redis://127.0.0.1:1")
                .with_dedup_window(Duration::ZERO),
            "window",
        ),
    ] {
        let err = builder.connect().await.unwrap_err();
        assert!(
            matches!(err, pathops_core::Error::InvalidConfig { .. })
                && err.to_string().contains(needle),
            "{err}"
        );
    }
}

#[tokio::test]
async fn an_unreachable_server_is_a_backend_error() {
    let err = RedisSinkBuilder::new()
        .with_url("redis://127.0.0.1:1")
        .with_response_timeout(Duration::from_secs(2))
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            pathops_core::Error::Backend {
                backend: "redis",
                ..
            }
        ),
        "{err}"
    );
}

/// A consumer reads every entry once, in stream order, across reads; an event type this
/// version does not know comes back as `Unknown` and an entry that is not a PathOps event as
/// an error for that entry alone, never failing the batch; an idle read waits `block`, then
/// returns nothing.
#[tokio::test]
async fn a_follower_reads_each_entry_once_in_order_and_tolerates_what_it_cannot_read() {
    use pathops_connectors::redis::StreamFollower;

    let Some(url) = redis_url() else { return };
    let sink = isolated_sink(&url).await;
    let stream = sink.stream_key(&acme());
    let known = [
        event(EventType::Created),
        event(EventType::Paused),
        event(EventType::Resumed),
    ];
    for e in &known {
        sink.publish(e).await.expect("publish");
    }
    let future = event(EventType::Updated);
    let mut document = future.to_cloudevent("/pathops/test");
    document["type"] = "integration.renamed".into();
    let mut connection = sink.connection();
    let _: String = connection
        .xadd(
            &stream,
            "*",
            &[
                ("id", future.id.to_string()),
                ("type", "integration.renamed".to_owned()),
                ("cloudevent", document.to_string()),
            ],
        )
        .await
        .expect("XADD a future event type");
    let _: String = connection
        .xadd(&stream, "*", &[("note", "written by something else")])
        .await
        .expect("XADD a foreign entry");

    let mut follower = StreamFollower::new(
        sink.connection(),
        stream.clone(),
        "0",
        Duration::from_millis(200),
    );
    let batch = follower.next_batch().await.expect("read");
    assert_eq!(batch.len(), 5, "{batch:?}");
    let read: Vec<&ReceivedEvent> = batch[..4]
        .iter()
        .map(|(_, e)| e.as_ref().expect("a PathOps event"))
        .collect();
    for (got, want) in read.iter().zip(&known) {
        assert_eq!(got.known(), Some(want));
    }
    match read[3] {
        ReceivedEvent::Unknown(unknown) => {
            assert_eq!(unknown.id, future.id);
            assert_eq!(unknown.event_type, "integration.renamed");
        }
        other => panic!("a future type is read as unknown: {other:?}"),
    }
    assert!(batch[4].1.is_err(), "{:?}", batch[4]);

    let idle = std::time::Instant::now();
    let nothing = follower.next_batch().await.expect("idle read");
    assert!(
        nothing.is_empty(),
        "already read entries come back: {nothing:?}"
    );
    assert!(
        idle.elapsed() >= Duration::from_millis(150) && idle.elapsed() < Duration::from_secs(10),
        "an idle read blocks about `block`: {:?}",
        idle.elapsed()
    );

    let later = event(EventType::Deleted);
    sink.publish(&later).await.expect("publish");
    let next = follower.next_batch().await.expect("read");
    assert_eq!(next.len(), 1, "only the new entry: {next:?}");
    assert_eq!(next[0].1.as_ref().expect("event").known(), Some(&later));
    drop_stream(&sink).await;
}

#[tokio::test]
async fn catalog_events_keep_their_order_on_the_stream_across_a_failed_publish() {
    let Some(url) = redis_url() else { return };
    let harness = Harness {
        sink: isolated_sink(&url).await,
        broken: false.into(),
    };
    sink_suite::catalog_events_keep_their_order_across_a_failed_publish(
        &harness,
        Arc::new(pathops_store::MemoryStore::new()),
    )
    .await;
    drop_stream(&harness.sink).await;
}

#[tokio::test]
async fn catalog_events_reach_the_stream_through_the_outbox_relay() {
    let Some(url) = redis_url() else { return };
    let harness = Harness {
        sink: isolated_sink(&url).await,
        broken: false.into(),
    };
    sink_suite::catalog_events_arrive_through_the_outbox_relay(
        &harness,
        Arc::new(pathops_store::MemoryStore::new()),
    )
    .await;
    drop_stream(&harness.sink).await;
}

/// A `redis-server` of this test's own, on a free port, with an append-only file in a
/// temporary directory that survives restarts.
struct PrivateRedis {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    extra: Vec<String>,
}

impl PrivateRedis {
    fn start(extra: &[&str]) -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        let child = Self::spawn(port, dir.path(), &extra)?;
        let server = Self {
            child,
            port,
            dir,
            extra,
        };
        server.wait_until_up();
        Some(server)
    }

    fn spawn(port: u16, dir: &std::path::Path, extra: &[String]) -> Option<Child> {
        let spawned = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "yes"])
            // Every write reaches the disk before the server replies: an acknowledged event
            // survives even a SIGKILL.
            .args(["--appendfsync", "always"])
            .arg("--dir")
            .arg(dir)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match spawned {
            Ok(child) => Some(child),
            Err(e) => {
                eprintln!("skipping: cannot start redis-server ({e})");
                None
            }
        }
    }

    fn wait_until_up(&self) {
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("private redis-server on port {} did not start", self.port);
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: no chance to flush anything) and starts it again on the
    /// same port and directory.
    fn crash_and_restart(&mut self, down_for: Duration) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        std::thread::sleep(down_for);
        self.child = Self::spawn(self.port, self.dir.path(), &self.extra).unwrap();
        self.wait_until_up();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The relay keeps publishing through a server crash: events refused while it is down are
/// retried, none is lost or stored twice, and each integration's events stay in order (the
/// failed event's followers wait for it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_crash_mid_relay_loses_nothing_duplicates_nothing_and_keeps_order() {
    use pathops_core::event::OutboxRetryPolicy;
    use pathops_store::MemoryStore;
    use pathops_testkit::catalog_suite::Harness;

    let Some(mut server) = PrivateRedis::start(&[]) else {
        return;
    };
    let sink = RedisSinkBuilder::new()
        .with_url(server.url())
        .with_response_timeout(Duration::from_millis(500))
        .connect()
        .await
        .unwrap();
    let h = Harness::new(Arc::new(MemoryStore::new()));
    let mut ids = Vec::new();
    for i in 0..150 {
        let created = h
            .catalog
            .create(&h.admin, Harness::input(&format!("restart-{i}")), true)
            .await
            .unwrap();
        h.catalog
            .pause(&h.admin, created.id, "maintenance", None)
            .await
            .unwrap();
        ids.push(created.id);
    }
    let relay = Arc::new(
        OutboxRelay::new(h.store.clone(), vec![Arc::new(sink.clone())], "relay-crash")
            .with_clock(h.clock.clone())
            .with_batch_size(5)
            .with_retry_policy(OutboxRetryPolicy {
                initial_backoff: Duration::ZERO,
                max_backoff: Duration::ZERO,
                max_attempts: u32::MAX,
            }),
    );
    let relaying = {
        let relay = relay.clone();
        tokio::spawn(async move {
            let (mut delivered, mut retried) = (0, 0);
            while delivered < 300 {
                match relay.relay_once().await {
                    Ok(stats) => {
                        delivered += stats.delivered;
                        retried += stats.retried;
                    }
                    Err(e) => panic!("store error: {e}"),
                }
                if retried > 0 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            retried
        })
    };

    // Crash the server once the relay is well under way.
    let mut probe = sink.connection();
    let stream = sink.stream_key(&acme());
    loop {
        let len: u64 = probe.xlen(&stream).await.unwrap_or(0);
        if len >= 60 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let restarted = tokio::task::spawn_blocking(move || {
        server.crash_and_restart(Duration::from_millis(300));
        server
    });
    // Keep the restarted server alive until the end of the test.
    let _server = restarted.await.unwrap();
    let retried = tokio::time::timeout(Duration::from_secs(60), relaying)
        .await
        .expect("the relay finishes after the restart")
        .unwrap();
    assert!(retried > 0, "the crash happened mid-relay");

    let got = entries(&sink).await;
    assert_eq!(got.len(), 300, "every event once, none lost, none twice");
    for id in ids {
        let types: Vec<&str> = got
            .iter()
            .filter(|e| e.known().is_some_and(|e| e.integration_id == id))
            .map(|e| e.type_name())
            .collect();
        assert_eq!(types, vec!["integration.created", "integration.paused"]);
    }
}

#[tokio::test]
async fn a_password_in_the_url_never_prints() {
    const SENTINEL: &str = "SENTINEL-redis-pw-7731";
    let builder = RedisSinkBuilder::new().with_url(format!("redis://:{SENTINEL}@127.0.0.1:1/0"));
    let debug = format!("{builder:?}");
    assert!(
        !debug.contains(SENTINEL) && debug.contains("127.0.0.1:1"),
        "{debug}"
    );
    let err = builder.connect().await.unwrap_err();
    let chain = pathops_core::error::chain(&err);
    assert!(!chain.contains(SENTINEL), "{chain}");

    let Some(server) = PrivateRedis::start(&["--requirepass", SENTINEL]) else {
        return;
    };
    let wrong = RedisSinkBuilder::new()
        .with_url(format!(
            "redis://:wrong-{SENTINEL}@127.0.0.1:{}",
            server.port
        ))
        .connect()
        .await
        .unwrap_err();
    let chain = pathops_core::error::chain(&wrong);
    assert!(!chain.contains(SENTINEL), "{chain}");
    let sink = RedisSinkBuilder::new()
        .with_url(format!("redis://:{SENTINEL}@127.0.0.1:{}", server.port))
        .connect()
        .await
        .expect("the right password");
    sink.publish(&event(EventType::Created)).await.unwrap();
    let debug = format!("{sink:?}");
    assert!(
        !debug.contains(SENTINEL) && debug.contains(":***@"),
        "{debug}"
    );
}
