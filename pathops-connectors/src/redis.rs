//! [`RedisStreamSink`]: appends catalog events to Valkey or Redis Streams as CloudEvents
//! (feature `redis`).
//!
//! ## Layout
//!
//! One stream per tenant, `<prefix>:{<tenant>}` (for example `pathops:events:{acme}`): a
//! tenant's consumers read one key, and every event of an integration lands in the same stream
//! in the order the relay published it, so per-integration order is the stream's order. The
//! braces are a cluster hash tag: the stream and the event's de-duplication marker
//! (`<prefix>:{<tenant>}:seen:<event id>`) hash to the same slot, which the script below needs.
//!
//! Each entry has the fields `id` (event id), `type` (`integration.created`, …), `subject`
//! (integration id) and `cloudevent`, the CloudEvents 1.0 JSON document of
//! [`EventEnvelope::to_cloudevent`]; [`entry_event`] reads one back.
//!
//! ## Delivery
//!
//! The relay delivers at least once, so the sink may see an event again (after a lost reply, a
//! lease that expired, a relay that died). One Lua script, run atomically by the server through
//! `EVALSHA` (loaded again by the client after a server restart), checks the marker, `XADD`s
//! the entry (with `MAXLEN ~ <n>` trimming when configured) and then sets the marker to the
//! new entry id with the de-duplication window as its expiry. A redelivery inside the window
//! finds the marker and appends nothing. The marker is written only after `XADD` succeeded,
//! so a failed append never hides a later retry.
//!
//! [`EventSink::publish`] returns only once the server replied to the script: `Ok` means the
//! entry is in the stream (and, with `appendonly yes`, in the server's log); any error,
//! including a dropped connection, makes the relay retry.
//!
//! ## Client
//!
//! The `redis` crate (redis-rs) with `tokio-comp`, `connection-manager`, `script` and
//! `streams`, default features off. It speaks to Valkey and Redis alike, its
//! `ConnectionManager` is one multiplexed connection that reconnects by itself after a server
//! restart (the sink needs no pool: the relay publishes one event at a time), and its `Script`
//! type does the `EVALSHA`-then-`SCRIPT LOAD` dance. `fred` would also do, but brings its own
//! reconnect policy, pool and metrics for features the sink does not use.
//!
//! ## Credentials
//!
//! The URL may carry a password (`redis://:pw@host:6379/0`). It is held as a
//! [`SecretString`]; `Debug` shows the URL without it, and errors never contain it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Script, Value};
use async_trait::async_trait;
use pathops_core::received::ReceivedEvent;
use pathops_core::relay::EventSink;
use pathops_core::{Error, EventEnvelope, Result, TenantId};
use secrecy::{ExposeSecret, SecretString};

/// The CloudEvents `source` used when none is configured.
pub const DEFAULT_SOURCE: &str = "/pathops/catalog";
/// The stream key prefix used when none is configured.
pub const DEFAULT_PREFIX: &str = "pathops:events";
/// How long a delivered event id is remembered, when not configured: one day, longer than
/// any retry schedule of the default [`OutboxRetryPolicy`](pathops_core::event::OutboxRetryPolicy).
pub const DEFAULT_DEDUP_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// The Lua script every append runs: check the marker, append, set the marker, atomic on the
/// server. Public so that a consumer or a benchmark can send exactly what the sink sends.
///
/// KEYS: stream, marker. ARGV: marker expiry (ms), MAXLEN (0: no trimming), id, type,
/// subject, CloudEvent JSON. Returns `{appended (0/1), entry id}`.
pub const APPEND_SCRIPT: &str = r"
local seen = redis.call('GET', KEYS[2])
if seen then
  return {0, seen}
end
local entry
if tonumber(ARGV[2]) > 0 then
  entry = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*',
    'id', ARGV[3], 'type', ARGV[4], 'subject', ARGV[5], 'cloudevent', ARGV[6])
else
  entry = redis.call('XADD', KEYS[1], '*',
    'id', ARGV[3], 'type', ARGV[4], 'subject', ARGV[5], 'cloudevent', ARGV[6])
end
redis.call('SET', KEYS[2], entry, 'PX', ARGV[1])
return {1, entry}
";

fn redis_error(source: ::redis::RedisError) -> Error {
    Error::backend("redis", source)
}

/// `scheme://[user@]host:port/db` of a Redis URL, without the password.
fn redacted_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => "[unparsable url]".to_owned(),
    }
}

/// Builds a [`RedisStreamSink`]. Setters never fail; [`connect`](Self::connect) validates.
#[derive(Clone)]
pub struct RedisSinkBuilder {
    url: Option<SecretString>,
    prefix: String,
    max_len: Option<u64>,
    dedup_window: Duration,
    source: String,
    response_timeout: Duration,
}

impl fmt::Debug for RedisSinkBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSinkBuilder")
            .field(
                "url",
                &self.url.as_ref().map(|u| redacted_url(u.expose_secret())),
            )
            .field("prefix", &self.prefix)
            .field("max_len", &self.max_len)
            .field("dedup_window", &self.dedup_window)
            .field("source", &self.source)
            .field("response_timeout", &self.response_timeout)
            .finish()
    }
}

impl Default for RedisSinkBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl RedisSinkBuilder {
    /// A builder with the defaults: prefix [`DEFAULT_PREFIX`], no trimming,
    /// [`DEFAULT_DEDUP_WINDOW`], source [`DEFAULT_SOURCE`], 5 s response timeout.
    pub fn new() -> Self {
        Self {
            url: None,
            prefix: DEFAULT_PREFIX.to_owned(),
            max_len: None,
            dedup_window: DEFAULT_DEDUP_WINDOW,
            source: DEFAULT_SOURCE.to_owned(),
            response_timeout: Duration::from_secs(5),
        }
    }

    /// The server: `redis://[:password@]host:port[/db]` or `rediss://…`.
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(SecretString::from(url.into()));
        self
    }

    /// The stream key prefix.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Trims each stream to about `max_len` entries (`XADD … MAXLEN ~ max_len`); `None` keeps
    /// everything.
    pub fn with_max_len(mut self, max_len: Option<u64>) -> Self {
        self.max_len = max_len;
        self
    }

    /// How long a delivered event id is remembered; redeliveries inside it append nothing.
    /// Make it longer than the relay's retry schedule.
    pub fn with_dedup_window(mut self, window: Duration) -> Self {
        self.dedup_window = window;
        self
    }

    /// The CloudEvents `source`.
    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = source.into();
        self
    }

    /// How long a command may wait for the server's reply before it fails.
    pub fn with_response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// Validates the settings and connects.
    pub async fn connect(self) -> Result<RedisStreamSink> {
        let invalid = |message: &str| Error::InvalidConfig {
            message: message.to_owned(),
        };
        let url = self.url.ok_or_else(|| invalid("redis sink: no URL"))?;
        if self.prefix.is_empty() || self.prefix.contains(['{', '}']) {
            return Err(invalid(
                "redis sink: the prefix must be non-empty and without braces",
            ));
        }
        if self.dedup_window < Duration::from_millis(1) {
            return Err(invalid(
                "redis sink: the de-duplication window must be at least 1 ms",
            ));
        }
        if self.max_len == Some(0) {
            return Err(invalid("redis sink: MAXLEN must be at least 1"));
        }
        let client = ::redis::Client::open(url.expose_secret())
            .map_err(|_| invalid("redis sink: the URL is not a redis:// or rediss:// URL"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.response_timeout))
            .set_response_timeout(Some(self.response_timeout))
            .set_number_of_retries(2);
        let connection = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(redis_error)?;
        Ok(RedisStreamSink {
            connection,
            script: Arc::new(Script::new(APPEND_SCRIPT)),
            redacted_url: redacted_url(url.expose_secret()),
            prefix: self.prefix,
            max_len: self.max_len,
            dedup_ms: u64::try_from(self.dedup_window.as_millis()).unwrap_or(u64::MAX),
            source: self.source,
        })
    }
}

/// What [`RedisStreamSink::append`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The stream entry id holding the event.
    pub entry_id: String,
    /// `true` when the event was already in the stream (a redelivery): nothing was appended.
    pub duplicate: bool,
}

/// Appends events to Valkey/Redis Streams. Cheap to clone (one shared connection).
#[derive(Clone)]
pub struct RedisStreamSink {
    connection: ConnectionManager,
    script: Arc<Script>,
    redacted_url: String,
    prefix: String,
    max_len: Option<u64>,
    dedup_ms: u64,
    source: String,
}

impl fmt::Debug for RedisStreamSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStreamSink")
            .field("url", &self.redacted_url)
            .field("prefix", &self.prefix)
            .field("max_len", &self.max_len)
            .field("dedup_window_ms", &self.dedup_ms)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl RedisStreamSink {
    /// A builder.
    pub fn builder() -> RedisSinkBuilder {
        RedisSinkBuilder::new()
    }

    /// The stream a tenant's events go to: `<prefix>:{<tenant>}`.
    pub fn stream_key(&self, tenant: &TenantId) -> String {
        format!("{}:{{{}}}", self.prefix, tenant)
    }

    fn marker_key(&self, event: &EventEnvelope) -> String {
        format!("{}:{{{}}}:seen:{}", self.prefix, event.tenant_id, event.id)
    }

    /// Appends `event` unless its id was appended inside the de-duplication window; returns
    /// after the server replied.
    pub async fn append(&self, event: &EventEnvelope) -> Result<Appended> {
        let document = serde_json::to_string(&event.to_cloudevent(&self.source))
            .map_err(|e| Error::backend("redis", e))?;
        let mut connection = self.connection.clone();
        let (appended, entry_id): (u8, String) = self
            .script
            .key(self.stream_key(&event.tenant_id))
            .key(self.marker_key(event))
            .arg(self.dedup_ms)
            .arg(self.max_len.unwrap_or(0))
            .arg(event.id.to_string())
            .arg(event.event_type.as_str())
            .arg(event.integration_id.to_string())
            .arg(document)
            .invoke_async(&mut connection)
            .await
            .map_err(redis_error)?;
        Ok(Appended {
            entry_id,
            duplicate: appended == 0,
        })
    }

    /// The connection, for reading streams and administration.
    pub fn connection(&self) -> ConnectionManager {
        self.connection.clone()
    }
}

#[async_trait]
impl EventSink for RedisStreamSink {
    fn name(&self) -> &str {
        "redis"
    }

    async fn publish(&self, event: &EventEnvelope) -> Result<()> {
        self.append(event).await.map(|_| ())
    }
}

/// Reads the event of one stream entry (its `cloudevent` field), as `XRANGE`/`XREAD` return
/// it. Event types this version does not know come back as [`ReceivedEvent::Unknown`].
pub fn entry_event(fields: &std::collections::HashMap<String, Value>) -> Result<ReceivedEvent> {
    let bytes = match fields.get("cloudevent") {
        Some(Value::BulkString(bytes)) => bytes.as_slice(),
        Some(Value::SimpleString(s)) => s.as_bytes(),
        _ => {
            return Err(Error::backend(
                "redis",
                pathops_core::received::MalformedEvent {
                    reason: "the entry has no `cloudevent` field".to_owned(),
                },
            ));
        }
    };
    ReceivedEvent::from_cloudevent(bytes).map_err(|e| Error::backend("redis", e))
}

/// Follows one stream from `after` (an entry id; `0` for the beginning, `$` for new entries
/// only), yielding each entry's id and event. Blocks up to `block` per read.
#[derive(Debug)]
pub struct StreamFollower {
    connection: ConnectionManager,
    stream: String,
    last_id: String,
    block: Duration,
}

impl StreamFollower {
    /// A follower of `stream` over `connection`.
    pub fn new(
        connection: ConnectionManager,
        stream: impl Into<String>,
        after: impl Into<String>,
        block: Duration,
    ) -> Self {
        Self {
            connection,
            stream: stream.into(),
            last_id: after.into(),
            block,
        }
    }

    /// The next entries (possibly none when `block` passed without any).
    pub async fn next_batch(&mut self) -> Result<Vec<(String, Result<ReceivedEvent>)>> {
        let options = ::redis::streams::StreamReadOptions::default()
            .block(usize::try_from(self.block.as_millis()).unwrap_or(usize::MAX))
            .count(100);
        let reply: Option<::redis::streams::StreamReadReply> =
            ::redis::AsyncCommands::xread_options(
                &mut self.connection,
                &[&self.stream],
                &[&self.last_id],
                &options,
            )
            .await
            .map_err(redis_error)?;
        let mut out = Vec::new();
        for key in reply.map(|r| r.keys).unwrap_or_default() {
            for entry in key.ids {
                self.last_id.clone_from(&entry.id);
                let event = entry_event(&entry.map);
                out.push((entry.id, event));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_url_drops_only_the_password() {
        assert_eq!(
            redacted_url("redis://user:hunter2@cache.example:6380/2"),
            "redis://user:***@cache.example:6380/2"
        );
        assert_eq!(
            redacted_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
        assert_eq!(redacted_url("::"), "[unparsable url]");
    }
}
