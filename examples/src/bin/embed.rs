//! Embedding PathOps in a service: a catalog on SQLite, a connector, a secret resolver, one
//! integration registered, tested and paused, its audit chain verified and its events relayed.
//!
//! Run with `cargo run -p pathops-examples --bin embed`. The tool it tests is the testkit's
//! fake direct-ping tool on loopback, so the example needs nothing else.

#![allow(clippy::print_stdout)]

use std::sync::Arc;

use pathops_connectors::directping::DirectPingConnector;
use pathops_core::catalog::{Catalog, Principal};
use pathops_core::relay::{BroadcastSink, OutboxRelay};
use pathops_core::secret::{ChainResolver, EnvResolver};
use pathops_core::{ConnectorRegistry, NewIntegration, Provider};
use pathops_testkit::fake::ping_tool::FakePingTool;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The tool we integrate with, and where its credential lives (here: the environment,
    // passed in explicitly; PATHOPS_SECRET_<SCOPE>__<PROVIDER>__<KEY>).
    let tool = FakePingTool::start("agent-token").await?;
    let secrets = EnvResolver::from_vars([("PATHOPS_SECRET_ACME__ZASTAVA__TOKEN", "agent-token")]);

    // The catalog: a store, connectors, a resolver.
    let store = pathops_store::connect("sqlite::memory:").await?;
    let mut connectors = ConnectorRegistry::new();
    connectors.register(Arc::new(
        DirectPingConnector::builder(Provider::Zastava).build()?,
    ))?;
    let catalog = Catalog::builder(store.clone())
        .with_connectors(connectors)
        .with_secrets(Arc::new(ChainResolver::new().fallback(Arc::new(secrets))))
        .build()?;

    // Every call names who acts; the tenant comes from the principal.
    let alice = Principal::admin("acme".parse()?, "alice@example.com".parse()?);
    let input = NewIntegration::builder("zastava-eu", Provider::Zastava, tool.url())
        .with_auth_ref("ref://acme/zastava/token")
        .with_environment("production")
        .build()?;
    let agent = catalog.create(&alice, input, true).await?;
    println!("registered {} as {}", agent.name, agent.status);

    let report = catalog.test_connection(&alice, agent.id).await?;
    println!(
        "tested: reachability {:?}, authentication {:?}, {} ms -> {}",
        report.result.reachability,
        report.result.authentication,
        report.result.latency.as_millis(),
        report.integration.status
    );

    let paused = catalog
        .pause(&alice, agent.id, "host maintenance", Some("CHG-42"))
        .await?;
    println!("paused: {} ({:?})", paused.status, paused.pause_reason);

    let entries = catalog.audit(&alice, agent.id).await?;
    for e in &entries {
        println!(
            "audit #{} {} by {}",
            e.sequence,
            e.record.action.as_str(),
            e.record.actor
        );
    }
    // Keep the anchor outside the database: verifying against it later detects truncation.
    let anchor = catalog.anchor_audit(&alice).await?;
    let options = pathops_core::catalog::VerifyOptions {
        anchor,
        ..Default::default()
    };
    match catalog.verify_audit_chain(&alice, &options).await? {
        Ok(v) => println!("audit chain: {} entries verified", v.verified),
        Err(broken) => println!("audit chain: {broken}"),
    }

    // Events were written to the outbox with each change; a relay delivers them.
    let sink = BroadcastSink::new(64);
    let mut events = sink.subscribe();
    let relay = OutboxRelay::new(store, vec![Arc::new(sink)], "embed-example");
    let stats = relay.relay_once().await?;
    println!("relayed {} events:", stats.delivered);
    while let Ok(event) = events.try_recv() {
        println!("  {} v{}", event.event_type, event.version);
    }
    Ok(())
}
