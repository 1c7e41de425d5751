//! A downstream service consuming PathOps events the way a Scheduler would: it follows a
//! tenant's Redis Streams stream and turns each event into an action.
//!
//! ```text
//! PATHOPS_REDIS_URL=redis://127.0.0.1:6379 cargo run -p pathops-examples --bin scheduler
//! ```
//!
//! To be self-contained the example first plays the producer: it registers, pauses, resumes
//! and deletes an integration in an in-memory catalog and relays the outbox to the stream
//! (under a prefix of its own). Then it reads the stream from the beginning with
//! `StreamFollower`, as a separate service would, and stops once the stream is drained. Event
//! types this version does not know are reported and skipped, never fatal.

#![allow(clippy::print_stdout)] // an example's output is its point

use std::sync::Arc;
use std::time::Duration;

use pathops_connectors::redis::{RedisStreamSink, StreamFollower};
use pathops_core::catalog::{Catalog, Principal};
use pathops_core::relay::OutboxRelay;
use pathops_core::{EventEnvelope, EventType, NewIntegration, Provider, ReceivedEvent};
use pathops_store::MemoryStore;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// What a Scheduler does with one event.
fn reaction(event: &EventEnvelope) -> String {
    let name = event.data["name"].as_str().unwrap_or("the integration");
    match event.event_type {
        EventType::Created => format!("schedule: start jobs for {name}"),
        EventType::Paused => "pause jobs: the integration is paused".to_owned(),
        EventType::Resumed => "resume jobs".to_owned(),
        EventType::Deleted => "cancel jobs: the integration is gone".to_owned(),
        EventType::Unhealthy => "hold new runs until it is healthy again".to_owned(),
        EventType::Healthy => "release held runs".to_owned(),
        EventType::Updated => "re-read the integration".to_owned(),
        // Types added after this consumer was written: nothing to do yet.
        _ => format!("no action for {}", event.event_type.as_str()),
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let url =
        std::env::var("PATHOPS_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let prefix = format!("pathops-example-{}", uuid::Uuid::now_v7().simple());
    let sink = RedisStreamSink::builder()
        .with_url(url)
        .with_prefix(prefix)
        .connect()
        .await?;

    // The producer side: a catalog whose outbox is relayed to the stream.
    let store = Arc::new(MemoryStore::new());
    let catalog = Catalog::builder(store.clone()).build()?;
    let alice = Principal::admin("acme".parse()?, "alice@example.com".parse()?);
    let input = NewIntegration::builder(
        "gitlab-payments",
        Provider::GitLab,
        "https://gitlab.example.com",
    )
    .with_auth_ref("ref://acme/gitlab/ci-token")
    .build()?;
    let gitlab = catalog.create(&alice, input, true).await?;
    catalog
        .pause(&alice, gitlab.id, "maintenance window", Some("CHG-7"))
        .await?;
    // No connector is registered here, so the check that resume runs fails (no_connector).
    let resumed = catalog.resume(&alice, gitlab.id).await?.integration;
    catalog.delete(&alice, gitlab.id, resumed.version).await?;
    let stream = sink.stream_key(&alice.tenant);
    let relay = OutboxRelay::new(store, vec![Arc::new(sink.clone())], "example-relay");
    while relay.relay_once().await?.claimed > 0 {}
    println!("producer: relayed the catalog's events to {stream}");

    // The consumer side: follow the stream from the beginning.
    let mut follower = StreamFollower::new(
        sink.connection(),
        stream.clone(),
        "0",
        Duration::from_millis(500),
    );
    loop {
        let batch = follower.next_batch().await?;
        if batch.is_empty() {
            break;
        }
        for (entry, event) in batch {
            match event? {
                ReceivedEvent::Known(event) => {
                    println!(
                        "{entry} {:<22} -> {}",
                        event.event_type.as_str(),
                        reaction(&event)
                    );
                }
                ReceivedEvent::Unknown(unknown) => {
                    println!(
                        "{entry} {:<22} -> skipped (unknown event type)",
                        unknown.event_type
                    );
                }
                other => println!("{entry} -> skipped ({:?})", other.type_name()),
            }
        }
    }
    println!("consumer: the stream is drained");
    // The example's stream is its own: remove it (the duplicate markers expire by themselves).
    let _: () = redis::AsyncCommands::del(&mut sink.connection(), &stream).await?;
    Ok(())
}
