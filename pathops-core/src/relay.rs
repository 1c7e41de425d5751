//! Event delivery: [`EventSink`]s and the [`OutboxRelay`] that feeds them from the outbox.
//!
//! The relay leases a batch of due events, publishes each to every sink, and records the
//! outcome: delivered, retry later with jittered exponential backoff ([`OutboxRetryPolicy`]), or dead
//! after the policy's maximum attempts. Each integration's events are delivered in order: the
//! store leases an event only when no earlier one of its integration is pending elsewhere,
//! and once an event fails in a pass the relay holds back the later events of its integration
//! in that batch ([`OutboxRelease::HeldBack`]) instead of publishing past it. An event that is
//! dead no longer holds the others back. Delivery is at least once: a relay that dies after
//! claiming a batch loses nothing, because the lease expires and another relay claims the
//! events again; a sink may see an event twice and deduplicates by [`EventEnvelope::id`].

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::broadcast;

use crate::clock::{Clock, SystemClock};
use crate::error::Result;
use crate::event::{
    BackoffRng, EventEnvelope, OutboxClaim, OutboxRelease, OutboxRetryPolicy, SeededBackoffRng,
};
use crate::store::CatalogStore;
use crate::{IntegrationId, TenantId};

/// Where events go. Object-safe; hold it as `Arc<dyn EventSink>`.
#[async_trait]
pub trait EventSink: Send + Sync + fmt::Debug {
    /// A short name for logs (`broadcast`, `nats`).
    fn name(&self) -> &str;

    /// Delivers one event. An error makes the relay retry the event later.
    async fn publish(&self, event: &EventEnvelope) -> Result<()>;
}

/// An in-process sink: every subscriber receives every event published while it listens.
/// With no subscriber, an event is accepted and dropped.
#[derive(Debug, Clone)]
pub struct BroadcastSink {
    sender: broadcast::Sender<EventEnvelope>,
}

impl BroadcastSink {
    /// A sink whose subscribers may lag `capacity` events before they miss some.
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(1));
        Self { sender }
    }

    /// A new subscriber.
    pub fn subscribe(&self) -> broadcast::Receiver<EventEnvelope> {
        self.sender.subscribe()
    }
}

#[async_trait]
impl EventSink for BroadcastSink {
    fn name(&self) -> &str {
        "broadcast"
    }

    async fn publish(&self, event: &EventEnvelope) -> Result<()> {
        // A send error only means nobody is subscribed right now.
        let _ = self.sender.send(event.clone());
        Ok(())
    }
}

/// What one relay pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Events claimed.
    pub claimed: usize,
    /// Delivered to every sink.
    pub delivered: usize,
    /// Scheduled for another attempt.
    pub retried: usize,
    /// Given up.
    pub dead: usize,
    /// Not attempted, because an earlier event of the same integration failed in this pass
    /// (released as [`OutboxRelease::HeldBack`]).
    pub held_back: usize,
}

/// Moves events from the outbox to the sinks.
#[derive(Debug, Clone)]
pub struct OutboxRelay {
    store: Arc<dyn CatalogStore>,
    sinks: Vec<Arc<dyn EventSink>>,
    clock: Arc<dyn Clock>,
    owner: String,
    batch_size: u32,
    lease: Duration,
    poll_interval: Duration,
    retry: OutboxRetryPolicy,
    backoff_rng: Arc<dyn BackoffRng>,
}

impl OutboxRelay {
    /// A relay over `store` publishing to `sinks`, identified as `owner` in leases. Defaults:
    /// batches of 100, 30 s leases, polling every second, [`OutboxRetryPolicy::default`].
    pub fn new(
        store: Arc<dyn CatalogStore>,
        sinks: Vec<Arc<dyn EventSink>>,
        owner: impl Into<String>,
    ) -> Self {
        Self {
            store,
            sinks,
            clock: Arc::new(SystemClock),
            owner: owner.into(),
            batch_size: 100,
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
            retry: OutboxRetryPolicy::default(),
            backoff_rng: Arc::new(SeededBackoffRng::from_entropy()),
        }
    }

    /// Reads time from `clock`.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Events claimed per pass (at least 1).
    pub fn with_batch_size(mut self, batch_size: u32) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// How long a claim lasts before another relay may take the events.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Pause between passes that found nothing to do.
    pub fn with_poll_interval(mut self, poll_interval: Duration) -> Self {
        self.poll_interval = poll_interval;
        self
    }

    /// Backoff and attempt limit.
    pub fn with_retry_policy(mut self, retry: OutboxRetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Draws the retry jitter from `rng` (default: [`SeededBackoffRng::from_entropy`]).
    pub fn with_backoff_rng(mut self, rng: Arc<dyn BackoffRng>) -> Self {
        self.backoff_rng = rng;
        self
    }

    /// One pass: claim due events, publish them, record the outcomes.
    pub async fn relay_once(&self) -> Result<RelayStats> {
        let claim = OutboxClaim {
            owner: self.owner.clone(),
            limit: self.batch_size,
            now: self.clock.now(),
            lease: self.lease,
        };
        let entries = self.store.claim_outbox(&claim).await?;
        let mut stats = RelayStats {
            claimed: entries.len(),
            ..RelayStats::default()
        };
        // Integrations whose earlier event failed in this pass: publishing their later events
        // now would deliver them out of order.
        let mut failed: HashSet<(&TenantId, IntegrationId)> = HashSet::new();
        for entry in &entries {
            let key = (&entry.envelope.tenant_id, entry.envelope.integration_id);
            if failed.contains(&key) {
                stats.held_back += 1;
                self.store
                    .release_outbox(entry.envelope.id, OutboxRelease::HeldBack)
                    .await?;
                continue;
            }
            let mut failure: Option<String> = None;
            for sink in &self.sinks {
                if let Err(e) = sink.publish(&entry.envelope).await {
                    tracing::warn!(
                        event_id = %entry.envelope.id,
                        sink = sink.name(),
                        attempts = entry.attempts,
                        error = %e,
                        "event delivery failed"
                    );
                    failure = Some(format!("{}: {e}", sink.name()));
                }
            }
            let now = self.clock.now();
            let release = match failure {
                None => OutboxRelease::Delivered { at: now },
                Some(error) => self.retry.after_failure(
                    entry.envelope.id,
                    entry.attempts,
                    now,
                    error,
                    self.backoff_rng.as_ref(),
                ),
            };
            match &release {
                OutboxRelease::Delivered { .. } => stats.delivered += 1,
                OutboxRelease::Retry { .. } => {
                    stats.retried += 1;
                    failed.insert(key);
                }
                OutboxRelease::Dead { .. } => stats.dead += 1,
                OutboxRelease::HeldBack => stats.held_back += 1,
            }
            self.store
                .release_outbox(entry.envelope.id, release)
                .await?;
        }
        Ok(stats)
    }

    /// Relays until `shutdown` completes. A pass that fills its batch is followed at once by
    /// another; otherwise the relay waits the poll interval. Store errors are logged and the
    /// pass is retried after the poll interval.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let busy = match self.relay_once().await {
                Ok(stats) => stats.claimed >= self.batch_size as usize,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox relay pass failed");
                    false
                }
            };
            let pause = if busy {
                Duration::ZERO
            } else {
                self.poll_interval
            };
            tokio::select! {
                biased;
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }
}
