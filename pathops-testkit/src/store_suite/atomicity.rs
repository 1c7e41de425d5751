//! One mutation writes the row, its audit entry, its events and its health check, or nothing.

use std::sync::Arc;

use pathops_core::audit::verify_chain;
use pathops_core::health::{CheckKind, HealthStatus};
use pathops_core::store::AuditQuery;
use pathops_core::{
    AuditAction, CatalogStore, Error, EventEnvelope, EventType, HealthCheckRecord, Integration,
    ListFilter, Mutation, TimeRange,
};

use super::support::{ACME, at, create, draft, drain_outbox, far_future, list_all, names, update};
use crate::fixtures::{create_mutation, tenant, update_mutation};

fn with_check_and_events(mut m: Mutation) -> Mutation {
    let i = m.change.integration().clone();
    m.health_check = Some(HealthCheckRecord {
        id: uuid::Uuid::now_v7(),
        tenant_id: i.tenant_id.clone(),
        integration_id: i.id,
        checked_at: at(5),
        kind: CheckKind::ConnectionTest,
        status: HealthStatus::Healthy,
        failure: None,
        latency_ms: Some(30),
        message: "ok".into(),
        details: Default::default(),
    });
    m.events.push(EventEnvelope::new(
        EventType::Healthy,
        i.tenant_id.clone(),
        i.id,
        i.version,
        at(5),
        serde_json::json!({}),
    ));
    m
}

async fn assert_no_trace(store: &dyn CatalogStore, ghost: &Integration, events_before: usize) {
    let t = tenant(ACME);
    assert!(store.get(&t, ghost.id).await.is_err(), "no row");
    let events = drain_outbox(store, far_future()).await;
    assert!(
        events.iter().all(|e| e.envelope.integration_id != ghost.id),
        "no event of the failed mutation"
    );
    assert_eq!(events.len(), events_before, "no other event either");
    let history = store
        .health_history(&t, ghost.id, TimeRange::all(), 10)
        .await
        .expect("history");
    assert!(history.is_empty(), "no health row");
}

/// A mutation whose audit insert fails (its record id is already used) leaves no row, no
/// events and no health row, and the audit chain is unchanged; the same integration can be
/// created afterwards. The same holds for a failing event insert, which runs after the audit
/// insert, and for updates.
pub async fn a_failed_audit_insert_leaves_no_trace(store: Arc<dyn CatalogStore>) {
    let store = store.as_ref();
    let t = tenant(ACME);
    let first = create_mutation(draft(ACME, "first"));
    let used_audit_id = first.audit.id;
    let used_event_id = first.events[0].id;
    let first = store.apply(first).await.expect("create").integration;

    let ghost = draft(ACME, "ghost");
    let mut m = with_check_and_events(create_mutation(ghost.clone()));
    m.audit.id = used_audit_id;
    store.apply(m).await.expect_err("the audit insert fails");
    assert_no_trace(store, &ghost, 1).await;

    let mut m = with_check_and_events(create_mutation(ghost.clone()));
    m.events[1].id = used_event_id;
    let err = store.apply(m).await.expect_err("the event insert fails");
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err:?}");
    assert_no_trace(store, &ghost, 0).await;

    let mut next = first.clone();
    next.consecutive_failures = 3;
    let mut m = with_check_and_events(update_mutation(
        next,
        first.version,
        AuditAction::Updated,
        at(6),
    ));
    m.audit.id = used_audit_id;
    store.apply(m).await.expect_err("the audit insert fails");
    assert_eq!(
        store.get(&t, first.id).await.expect("get"),
        first,
        "row unchanged"
    );
    assert!(
        drain_outbox(store, far_future()).await.is_empty(),
        "no event"
    );
    let history = store
        .health_history(&t, first.id, TimeRange::all(), 10)
        .await
        .expect("history");
    assert!(history.is_empty(), "no health row");

    let chain = store.audit(&t, &AuditQuery::all()).await.expect("audit");
    assert_eq!(chain.len(), 1, "only the first create is audited");
    let stored = create(store, ghost).await;
    let chain = store.audit(&t, &AuditQuery::all()).await.expect("audit");
    assert_eq!(chain.len(), 2);
    assert_eq!(verify_chain(&chain), Ok(()));
    assert_eq!(
        names(&list_all(store, ACME, ListFilter::default(), 10).await),
        ["first", "ghost"]
    );
    assert_eq!(stored.version, 1);
}

/// An update refused for a stale version writes no audit entry, event or health row.
pub async fn a_failed_update_leaves_the_row_and_outbox_untouched(store: Arc<dyn CatalogStore>) {
    let store = store.as_ref();
    let t = tenant(ACME);
    let v1 = create(store, draft(ACME, "row")).await;
    let v2 = update(store, &v1, |i| i.consecutive_failures = 1)
        .await
        .expect("update")
        .integration;
    drain_outbox(store, far_future()).await;

    let mut stale = v1.clone();
    stale.consecutive_failures = 7;
    let m = with_check_and_events(update_mutation(
        stale,
        v1.version,
        AuditAction::Updated,
        at(9),
    ));
    let err = store.apply(m).await.expect_err("stale");
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    assert_eq!(store.get(&t, v1.id).await.expect("get"), v2);
    assert!(
        drain_outbox(store, far_future()).await.is_empty(),
        "no event"
    );
    let history = store
        .health_history(&t, v1.id, TimeRange::all(), 10)
        .await
        .expect("history");
    assert!(history.is_empty(), "no health row");
    assert_eq!(
        store
            .audit(&t, &AuditQuery::all())
            .await
            .expect("audit")
            .len(),
        2
    );
}
