//! Concurrent writers: optimistic concurrency, name uniqueness and audit chains under load.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use pathops_core::event::OutboxClaim;

use pathops_core::audit::verify_chain;
use pathops_core::store::AuditQuery;
use pathops_core::{CatalogStore, Description, Error, ListFilter};

use super::support::{ACME, GLOBEX, at, create, draft, drain_outbox, far_future, list_all, update};
use crate::fixtures::{create_mutation, tenant};

/// How many writers race in each check.
pub const WRITERS: usize = 64;

/// 64 tasks update one integration at the same expected version: exactly one succeeds, every
/// other one is a `Conflict` (never a lock error or a silent overwrite), and only the winner's
/// audit entry and event are written.
pub async fn concurrent_updates_at_one_version_have_exactly_one_winner(
    store: Arc<dyn CatalogStore>,
) {
    let v1 = create(store.as_ref(), draft(ACME, "contended")).await;
    let tasks: Vec<_> = (0..WRITERS)
        .map(|n| {
            let store = store.clone();
            let v1 = v1.clone();
            tokio::spawn(async move {
                update(store.as_ref(), &v1, |i| {
                    i.description =
                        Some(Description::new(format!("writer {n}")).expect("description"));
                })
                .await
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut conflicts = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(outcome) => winners.push(outcome.integration),
            Err(Error::Conflict {
                expected: 1,
                actual: Some(2),
                ..
            }) => conflicts += 1,
            Err(other) => panic!("expected a conflict, got {other:?} ({other})"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one winner");
    assert_eq!(conflicts, WRITERS - 1);
    let stored = store.get(&v1.tenant_id, v1.id).await.expect("get");
    assert_eq!(stored, winners[0]);
    assert_eq!(stored.version, 2);
    let audit = store
        .audit(&tenant(ACME), &AuditQuery::all())
        .await
        .expect("audit");
    assert_eq!(audit.len(), 2);
    assert_eq!(drain_outbox(store.as_ref(), far_future()).await.len(), 2);
}

/// 64 tasks create the same name in one tenant: exactly one succeeds, the others are
/// `AlreadyExists`.
pub async fn concurrent_creates_of_one_name_have_exactly_one_winner(store: Arc<dyn CatalogStore>) {
    let tasks: Vec<_> = (0..WRITERS)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.apply(create_mutation(draft(ACME, "same"))).await })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(_) => ok += 1,
            Err(Error::AlreadyExists { .. }) => {}
            Err(other) => panic!("expected AlreadyExists, got {other:?} ({other})"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(
        list_all(store.as_ref(), ACME, ListFilter::default(), 10)
            .await
            .len(),
        1
    );
    assert_eq!(
        store
            .audit(&tenant(ACME), &AuditQuery::all())
            .await
            .expect("audit")
            .len(),
        1
    );
}

/// Concurrent creates in two tenants each get their own gap-free, verifiable audit chain.
pub async fn concurrent_writers_keep_the_audit_chain_intact(store: Arc<dyn CatalogStore>) {
    let tasks: Vec<_> = (0..WRITERS)
        .map(|n| {
            let store = store.clone();
            let tenant = if n % 4 == 0 { GLOBEX } else { ACME };
            tokio::spawn(async move {
                create(store.as_ref(), draft(tenant, &format!("writer {n:02}"))).await
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    for (t, n) in [(ACME, WRITERS - WRITERS / 4), (GLOBEX, WRITERS / 4)] {
        let chain = store
            .audit(&tenant(t), &AuditQuery::all())
            .await
            .expect("audit");
        assert_eq!(chain.len(), n, "{t}");
        assert_eq!(verify_chain(&chain), Ok(()), "{t}");
        assert_eq!(
            list_all(store.as_ref(), t, ListFilter::default(), 500)
                .await
                .len(),
            n
        );
    }
}

/// Eight relays claim batches at the same instant until the outbox is empty: every event is
/// leased exactly once.
pub async fn concurrent_claimers_never_lease_the_same_event(store: Arc<dyn CatalogStore>) {
    for n in 0..WRITERS * 2 {
        create(store.as_ref(), draft(ACME, &format!("event source {n:03}"))).await;
    }
    let relays: Vec<_> = (0..8)
        .map(|relay| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut leased = Vec::new();
                loop {
                    let batch = store
                        .claim_outbox(&OutboxClaim {
                            owner: format!("relay-{relay}"),
                            limit: 7,
                            now: at(60),
                            lease: Duration::from_secs(600),
                        })
                        .await
                        .expect("claim");
                    if batch.is_empty() {
                        return leased;
                    }
                    leased.extend(batch.into_iter().map(|e| e.envelope.id));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for relay in relays {
        all.extend(relay.await.expect("relay"));
    }
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "an event was leased twice");
    assert_eq!(all.len(), WRITERS * 2, "every event was leased");
}
