//! Evidence: health history and summaries, audit queries and hash chains.

use std::sync::Arc;

use pathops_core::audit::{GENESIS_HASH, verify_chain};
use pathops_core::clock::truncate_to_micros;
use pathops_core::health::{CheckKind, HealthStatus};
use pathops_core::store::AuditQuery;
use pathops_core::{
    AuditAction, AuditEntry, CatalogStore, FailureCode, HealthCheckRecord, HealthSummary,
    Integration, TimeRange,
};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::support::{ACME, GLOBEX, at, create, delete, draft, update};
use crate::fixtures::{IntegrationBuilder, actor, tenant, update_mutation};

fn check(
    i: &Integration,
    checked_at: OffsetDateTime,
    status: HealthStatus,
    latency: Option<u64>,
) -> HealthCheckRecord {
    HealthCheckRecord {
        id: Uuid::now_v7(),
        tenant_id: i.tenant_id.clone(),
        integration_id: i.id,
        checked_at,
        kind: CheckKind::HealthCheck,
        status,
        failure: None,
        latency_ms: latency,
        message: format!("{} check", status.as_str()),
        details: Default::default(),
    }
}

/// Records `record` through a mutation of `current`, returning the new row.
async fn record(
    store: &dyn CatalogStore,
    current: &Integration,
    record: HealthCheckRecord,
) -> Integration {
    let mut next = current.clone();
    next.last_tested_at = Some(record.checked_at);
    next.last_test_success = Some(record.status == HealthStatus::Healthy);
    let mut m = update_mutation(
        next,
        current.version,
        AuditAction::HealthRecorded,
        record.checked_at,
    );
    m.health_check = Some(record);
    store.apply(m).await.expect("record a check").integration
}

fn stored(mut r: HealthCheckRecord) -> HealthCheckRecord {
    r.checked_at = truncate_to_micros(r.checked_at);
    r
}

/// Records a varied set of checks and returns them as stored, oldest first.
async fn seed_checks(store: &dyn CatalogStore, target: &Integration) -> Vec<HealthCheckRecord> {
    let mut records = Vec::new();
    let mut healthy = check(
        target,
        at(1) + time::Duration::nanoseconds(123_456_789),
        HealthStatus::Healthy,
        Some(40),
    );
    healthy.details =
        json!({"version": "17.2", "scopes": ["api", "read_repository"], "remaining": 4999})
            .as_object()
            .cloned()
            .expect("object");
    records.push(healthy);
    let mut denied = check(target, at(2), HealthStatus::Unhealthy, Some(120));
    denied.failure = Some(FailureCode::PermissionDenied {
        missing_scope: Some("admin:repo_hook".into()),
    });
    denied.kind = CheckKind::ConnectionTest;
    records.push(denied);
    let mut limited = check(target, at(3), HealthStatus::Unhealthy, Some(7));
    limited.failure = Some(FailureCode::RateLimited {
        reset_at: Some(at(60)),
    });
    records.push(limited);
    let mut skipped = check(target, at(4), HealthStatus::Skipped, None);
    skipped.failure = Some(FailureCode::Offline);
    skipped.kind = CheckKind::Doctor;
    records.push(skipped);
    let mut server = check(target, at(5), HealthStatus::Unhealthy, Some(3000));
    server.failure = Some(FailureCode::ServerError { status: 503 });
    records.push(server);
    for latency in [10, 20, 30, 50, 60, 70, 80, 90, 250] {
        records.push(check(target, at(6), HealthStatus::Healthy, Some(latency)));
    }
    let mut current = target.clone();
    for r in &records {
        current = record(store, &current, r.clone()).await;
    }
    records.into_iter().map(stored).collect()
}

fn newest_first(mut records: Vec<HealthCheckRecord>) -> Vec<HealthCheckRecord> {
    records.sort_by_key(|r| std::cmp::Reverse((r.checked_at, r.id)));
    records
}

/// History returns the checks of one integration in `[from, to)`, newest first (ties by id),
/// at most `limit`, every field round-tripped (failure codes with their data, details,
/// missing latencies).
pub async fn health_history_reads_a_range_newest_first(store: Arc<dyn CatalogStore>) {
    let store = store.as_ref();
    let t = tenant(ACME);
    let target = create(store, draft(ACME, "target")).await;
    let other = create(store, draft(ACME, "other")).await;
    record(
        store,
        &other,
        check(&other, at(3), HealthStatus::Healthy, Some(1)),
    )
    .await;
    let records = seed_checks(store, &target).await;

    let all = store
        .health_history(&t, target.id, TimeRange::all(), 100)
        .await
        .expect("history");
    assert_eq!(all, newest_first(records.clone()));

    let window = TimeRange::new(at(2), at(5));
    let got = store
        .health_history(&t, target.id, window, 100)
        .await
        .expect("history");
    let expected: Vec<_> = records
        .iter()
        .filter(|r| window.contains(r.checked_at))
        .cloned()
        .collect();
    assert_eq!(got, newest_first(expected));
    assert_eq!(got.len(), 3, "from inclusive, to exclusive");

    let two = store
        .health_history(&t, target.id, TimeRange::all(), 2)
        .await
        .expect("history");
    assert_eq!(two, all[..2]);
    let none = store
        .health_history(&t, target.id, TimeRange::new(at(100), at(200)), 10)
        .await;
    assert!(none.expect("history").is_empty());
}

/// The summary over a window equals [`HealthSummary::from_records`] over the same checks:
/// skipped checks are not counted, percentiles are nearest-rank, last times are exact.
pub async fn health_summary_matches_the_shared_computation(store: Arc<dyn CatalogStore>) {
    let store = store.as_ref();
    let t = tenant(ACME);
    let target = create(store, draft(ACME, "target")).await;
    let records = seed_checks(store, &target).await;

    let summary = store
        .health_summary(&t, target.id, TimeRange::all())
        .await
        .expect("summary");
    assert_eq!(summary, HealthSummary::from_records(&records));
    assert_eq!((summary.checks, summary.successes), (13, 10));
    assert_eq!(summary.p50_latency_ms, Some(60));
    assert_eq!(summary.p95_latency_ms, Some(3000));
    assert_eq!(summary.last_success_at, Some(at(6)));
    assert_eq!(summary.last_failure_at, Some(at(5)));

    let window = TimeRange::new(at(1), at(3));
    let in_window: Vec<_> = records
        .iter()
        .filter(|r| window.contains(r.checked_at))
        .collect();
    let summary = store
        .health_summary(&t, target.id, window)
        .await
        .expect("summary");
    assert_eq!(summary, HealthSummary::from_records(in_window));
    assert_eq!(summary.uptime_percent, Some(50.0));
    assert_eq!(summary.last_success_at, records[0].checked_at.into());

    let empty = store
        .health_summary(&t, target.id, TimeRange::new(at(90), at(91)))
        .await;
    assert_eq!(empty.expect("summary"), HealthSummary::from_records(&[]));
}

/// Audit reads by integration, by actor, by time range, after a sequence and with a limit, in
/// sequence order; entries read back equal the sealed entries `apply` returned.
pub async fn audit_reads_by_integration_actor_range_and_sequence(store: Arc<dyn CatalogStore>) {
    let store = store.as_ref();
    let t = tenant(ACME);
    let mut sealed: Vec<AuditEntry> = Vec::new();
    let a_in = IntegrationBuilder::new(ACME, "A")
        .actor("alice")
        .at(at(1))
        .build();
    let b_in = IntegrationBuilder::new(ACME, "B")
        .actor("bob")
        .at(at(2))
        .build();
    let mut out = Vec::new();
    for i in [a_in, b_in] {
        let o = store
            .apply(crate::fixtures::create_mutation(i))
            .await
            .expect("create");
        sealed.push(o.audit.clone());
        out.push(o.integration);
    }
    let (a, b) = (out[0].clone(), out[1].clone());
    let mut a2 = a.clone();
    a2.modified_by = actor("carol");
    let mut m = update_mutation(a2, a.version, AuditAction::Paused, at(3));
    m.audit.reason = Some("maintenance".into());
    m.audit.ticket = Some("CHG-7".into());
    m.audit.approver = Some(actor("dave"));
    m.audit.changes = vec![pathops_core::FieldChange::new(
        "status", &"active", &"paused",
    )];
    sealed.push(store.apply(m).await.expect("pause").audit);
    let mut b2 = b.clone();
    b2.modified_by = actor("alice");
    let m = update_mutation(
        b2,
        b.version,
        AuditAction::Updated,
        at(4) + time::Duration::nanoseconds(999),
    );
    sealed.push(store.apply(m).await.expect("update").audit);
    create(store, draft(GLOBEX, "A")).await;

    let read = |q: AuditQuery| {
        let t = t.clone();
        async move { store.audit(&t, &q).await.expect("audit") }
    };
    assert_eq!(read(AuditQuery::all()).await, sealed);
    assert_eq!(
        read(AuditQuery::for_integration(a.id)).await,
        [sealed[0].clone(), sealed[2].clone()]
    );
    let by_alice = AuditQuery {
        actor: Some(actor("alice")),
        ..AuditQuery::all()
    };
    assert_eq!(
        read(by_alice.clone()).await,
        [sealed[0].clone(), sealed[3].clone()]
    );
    let window = AuditQuery {
        range: Some(TimeRange::new(at(2), at(4))),
        ..AuditQuery::all()
    };
    assert_eq!(read(window).await, sealed[1..3]);
    let after = AuditQuery {
        after_sequence: Some(2),
        ..AuditQuery::all()
    };
    assert_eq!(read(after).await, sealed[2..]);
    let limited = AuditQuery {
        limit: Some(1),
        after_sequence: Some(1),
        ..AuditQuery::all()
    };
    assert_eq!(read(limited).await, sealed[1..2]);
    let combined = AuditQuery {
        integration_id: Some(b.id),
        ..by_alice
    };
    assert_eq!(read(combined).await, sealed[3..]);
    assert_eq!(
        sealed[3].record.at,
        truncate_to_micros(at(4) + time::Duration::nanoseconds(999))
    );
}

/// Each tenant has its own chain: sequences from 1, each entry linked to the previous one's
/// hash, verifiable with [`verify_chain`]; a delete is audited too.
pub async fn audit_chains_are_per_tenant_and_verify(store: Arc<dyn CatalogStore>) {
    let store = store.as_ref();
    let a = create(store, draft(ACME, "a")).await;
    create(store, draft(GLOBEX, "g")).await;
    let a2 = update(store, &a, |i| i.consecutive_failures = 2)
        .await
        .expect("update")
        .integration;
    create(store, draft(GLOBEX, "h")).await;
    delete(store, &a2).await.expect("delete");

    for (t, len) in [(ACME, 3), (GLOBEX, 2)] {
        let chain = store
            .audit(&tenant(t), &AuditQuery::all())
            .await
            .expect("audit");
        assert_eq!(chain.len(), len);
        assert_eq!(
            chain.iter().map(|e| e.sequence).collect::<Vec<_>>(),
            (1..=len as u64).collect::<Vec<_>>()
        );
        assert_eq!(chain[0].prev_hash, GENESIS_HASH);
        assert_eq!(verify_chain(&chain), Ok(()), "{t}");
    }
    let acme = store
        .audit(&tenant(ACME), &AuditQuery::all())
        .await
        .expect("audit");
    assert_eq!(acme[2].record.action, AuditAction::Deleted);
}
