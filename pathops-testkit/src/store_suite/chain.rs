//! Evidence that holds up: health writes apart from edits, the keyed and anchored audit chain,
//! archival, flap damping, SQL summaries and retention, on every backend.

use std::sync::Arc;
use std::time::Duration;

use pathops_core::Clock as _;

use pathops_core::audit::{AuditAction, ChainBreakKind};
use pathops_core::catalog::{Catalog, VerifyOptions};
use pathops_core::health::{CheckKind, FlapPolicy, HealthStatus, Series};
use pathops_core::secret::StaticResolver;
use pathops_core::store::AuditQuery;
use pathops_core::{
    CatalogStore, ConnectorRegistry, Error, EventType, FailureCode, HealthCheckRecord,
    HealthSummary, IntegrationId, IntegrationPatch, IntegrationStatus, TimeRange,
};

use super::RawSql;
use crate::catalog_suite::{AUTH_REF, Harness, SENTINEL_SECRET};
use crate::in_memory::Outcome;

const KEY_1: &str = "ref://acme/audit/key-1";
const KEY_2: &str = "ref://acme/audit/key-2";
const KEY_SECRET_1: &str = "first audit key, thirty-two bytes or more";
const KEY_SECRET_2: &str = "second audit key, thirty-two bytes or more";

/// A catalog over the harness' store and connector, sealing with `keys` (current first).
fn keyed_catalog(h: &Harness, keys: &[(&str, &str)], retired: &[(&str, &str)]) -> Catalog {
    let mut registry = ConnectorRegistry::new();
    registry.register(h.connector.clone()).expect("register");
    let secrets = StaticResolver::new()
        .with(AUTH_REF.parse().expect("ref"), SENTINEL_SECRET)
        .with(KEY_1.parse().expect("ref"), KEY_SECRET_1)
        .with(KEY_2.parse().expect("ref"), KEY_SECRET_2);
    let mut b = Catalog::builder(h.store.clone())
        .with_connectors(registry)
        .with_secrets(Arc::new(secrets))
        .with_clock(h.clock.clone())
        .with_audit_anchor_every(0);
    for (id, r) in keys {
        b = b.with_audit_key(*id, r.parse().expect("ref"));
    }
    for (id, r) in retired {
        b = b.with_retired_audit_key(*id, r.parse().expect("ref"));
    }
    b.build().expect("catalog")
}

async fn verify(c: &Catalog, h: &Harness, options: &VerifyOptions) -> Result<u64, ChainBreakKind> {
    c.verify_audit_chain(&h.admin, options)
        .await
        .expect("verification runs")
        .map(|v| v.verified)
        .map_err(|b| b.kind)
}

/// A scheduled check that changes no lifecycle state writes its history row and the health
/// fields, but leaves `version` and writes no audit row; an edit read before it does not
/// conflict, and does not undo it.
pub async fn a_check_without_transition_leaves_version_and_audit(store: Arc<dyn CatalogStore>) {
    let h = Harness::new(store);
    let c = &h.catalog;
    let i = c
        .create(&h.admin, Harness::input("steady"), true)
        .await
        .unwrap();
    let active = c.test_connection(&h.admin, i.id).await.unwrap().integration;
    assert_eq!(active.status, IntegrationStatus::Active);
    let read = c.get(&h.admin, i.id).await.unwrap();
    let audit_before = c.audit(&h.admin, i.id).await.unwrap().len();

    h.clock.advance(Duration::from_secs(60));
    h.connector
        .script(i.id, [Outcome::fail(FailureCode::Connect)]);
    let failed = c.check_health(&h.admin, i.id).await.unwrap();
    assert_eq!(
        failed.integration.status,
        IntegrationStatus::Active,
        "below the threshold"
    );
    let stored = c.get(&h.admin, i.id).await.unwrap();
    assert_eq!(
        stored.version, read.version,
        "a health-only write leaves the version"
    );
    assert_eq!(stored.consecutive_failures, 1);
    assert_eq!(stored.last_test_success, Some(false));
    assert_eq!(
        c.audit(&h.admin, i.id).await.unwrap().len(),
        audit_before,
        "a scheduled check without transition is not audited"
    );

    // The user edits at the version read before the check: no conflict, health kept.
    let patch = IntegrationPatch {
        description: Some(Some("edited".parse().unwrap())),
        ..IntegrationPatch::default()
    };
    let edited = c
        .update(&h.admin, i.id, read.version, &patch)
        .await
        .unwrap();
    assert_eq!(edited.version, read.version + 1);
    let after = c.get(&h.admin, i.id).await.unwrap();
    assert_eq!(
        after.consecutive_failures, 1,
        "the edit kept the check's count"
    );
    assert_eq!(after.last_test_success, Some(false));

    // An actor's connection test is always audited, passing or failing, without a version
    // change when nothing transitions.
    h.connector
        .script(i.id, [Outcome::fail(FailureCode::Connect)]);
    c.test_connection(&h.admin, i.id).await.unwrap();
    let entries = c.audit(&h.admin, i.id).await.unwrap();
    assert_eq!(entries.last().unwrap().record.action, AuditAction::Tested);
    assert_eq!(c.get(&h.admin, i.id).await.unwrap().version, edited.version);
}

/// Crossing a threshold is a lifecycle transition: exactly one audit row, a version bump.
pub async fn a_threshold_crossing_writes_exactly_one_audit_row(store: Arc<dyn CatalogStore>) {
    let h = Harness::new(store);
    let c = &h.catalog;
    let i = c
        .create(&h.admin, Harness::input("degrading"), true)
        .await
        .unwrap();
    c.test_connection(&h.admin, i.id).await.unwrap();
    let before = c.audit(&h.admin, i.id).await.unwrap().len();
    let version = c.get(&h.admin, i.id).await.unwrap().version;
    h.connector
        .script(i.id, (0..3).map(|_| Outcome::fail(FailureCode::Connect)));
    for _ in 0..3 {
        h.clock.advance(Duration::from_secs(60));
        c.check_health(&h.admin, i.id).await.unwrap();
    }
    let after = c.get(&h.admin, i.id).await.unwrap();
    assert_eq!(after.status, IntegrationStatus::Degraded);
    assert_eq!(after.version, version + 1, "one transition, one version");
    let entries = c.audit(&h.admin, i.id).await.unwrap();
    assert_eq!(
        entries.len(),
        before + 1,
        "exactly one audit row for the crossing"
    );
    assert_eq!(
        entries.last().unwrap().record.action,
        AuditAction::HealthRecorded
    );
    assert_eq!(
        h.store
            .health_history(&h.admin.tenant, i.id, TimeRange::all(), 100)
            .await
            .unwrap()
            .len(),
        4,
        "every check has its history row"
    );
}

/// Truncating the newest entries leaves a valid prefix, which only an anchor kept elsewhere
/// exposes; the anchor also goes out as an `audit.anchored` event.
pub async fn truncation_is_detected_against_an_anchor(store: Arc<dyn CatalogStore>, raw: RawSql) {
    let h = Harness::new(store.clone());
    let c = keyed_catalog(&h, &[("k1", KEY_1)], &[]);
    let i = c
        .create(&h.admin, Harness::input("anchored"), true)
        .await
        .unwrap();
    c.test_connection(&h.admin, i.id).await.unwrap();
    c.pause(&h.admin, i.id, "freeze", None).await.unwrap();
    let anchor = c.anchor_audit(&h.admin).await.unwrap().expect("a head");
    assert_eq!(anchor.sequence, 3);
    let events = h.drain_events().await;
    let anchored: Vec<_> = events
        .iter()
        .filter(|e| e.event_type == EventType::AuditAnchored)
        .collect();
    assert_eq!(anchored.len(), 1);
    assert_eq!(anchored[0].data["sequence"], 3);
    assert_eq!(anchored[0].data["hash"], anchor.hash);

    let with_anchor = VerifyOptions {
        anchor: Some(anchor.clone()),
        ..VerifyOptions::default()
    };
    assert_eq!(verify(&c, &h, &with_anchor).await, Ok(3));
    drop_audit_triggers(store.backend(), &raw).await;
    raw("DELETE FROM audit_logs WHERE sequence >= 2".to_owned()).await;
    assert_eq!(
        verify(&c, &h, &VerifyOptions::default()).await,
        Ok(1),
        "without an anchor the prefix verifies (the documented limit)"
    );
    assert_eq!(
        verify(&c, &h, &with_anchor).await,
        Err(ChainBreakKind::Truncated)
    );
}

/// Someone with write access drops the triggers, edits a row and re-hashes it (and every later
/// one) with plain SHA-256: without the key the forgery cannot be keyed, so it is found.
pub async fn a_rehashed_row_is_detected_with_the_key(store: Arc<dyn CatalogStore>, raw: RawSql) {
    let h = Harness::new(store.clone());
    let c = keyed_catalog(&h, &[("k1", KEY_1)], &[]);
    let i = c
        .create(&h.admin, Harness::input("sealed"), true)
        .await
        .unwrap();
    c.test_connection(&h.admin, i.id).await.unwrap();
    c.pause(&h.admin, i.id, "freeze", None).await.unwrap();
    assert_eq!(verify(&c, &h, &VerifyOptions::default()).await, Ok(3));

    // Forge entry 2 as an unkeyed entry with a recomputed hash, in the database itself.
    let entries = h
        .store
        .audit(&h.admin.tenant, &AuditQuery::all())
        .await
        .unwrap();
    let mut forged = entries[1].record.clone();
    forged.reason = Some("nothing to see".to_owned());
    let hash = pathops_core::AuditEntry::compute_hash(&forged, 2, &entries[1].prev_hash);
    drop_audit_triggers(store.backend(), &raw).await;
    raw(format!(
        "UPDATE audit_logs SET reason = 'nothing to see', hash = '{hash}', key_id = NULL \
         WHERE sequence = 2"
    ))
    .await;
    assert_eq!(
        verify(&c, &h, &VerifyOptions::default()).await,
        Err(ChainBreakKind::Unkeyed)
    );
    // Keeping the key id does not help: the keyed hash cannot be recomputed without the key.
    raw("UPDATE audit_logs SET key_id = 'k1' WHERE sequence = 2".to_owned()).await;
    assert_eq!(
        verify(&c, &h, &VerifyOptions::default()).await,
        Err(ChainBreakKind::HashMismatch)
    );
}

/// Tampering done in the database itself, triggers dropped, is found at the first entry it
/// touched: an edited row (hash), a removed one (gap), a removal with the rest renumbered
/// (link), two rows swapped. Each scenario starts again from the intact chain.
pub async fn tampering_in_the_database_is_found_where_it_starts(
    store: Arc<dyn CatalogStore>,
    raw: RawSql,
) {
    let h = Harness::new(store.clone());
    let c = &h.catalog;
    h.audited_integration("audited").await;
    let intact = verify(c, &h, &VerifyOptions::default()).await;
    assert!(matches!(intact, Ok(n) if n >= 4), "{intact:?}");
    drop_audit_triggers(store.backend(), &raw).await;
    raw("CREATE TABLE audit_logs_intact AS SELECT * FROM audit_logs".to_owned()).await;

    let scenarios: [(&str, &[&str], u64, Option<ChainBreakKind>); 4] = [
        (
            "edited",
            &["UPDATE audit_logs SET reason = 'nothing to see' WHERE sequence = 3"],
            3,
            Some(ChainBreakKind::HashMismatch),
        ),
        (
            "removed",
            &["DELETE FROM audit_logs WHERE sequence = 2"],
            3,
            Some(ChainBreakKind::SequenceGap),
        ),
        (
            "renumbered",
            &[
                "DELETE FROM audit_logs WHERE sequence = 2",
                "UPDATE audit_logs SET sequence = sequence - 1 WHERE sequence > 2",
            ],
            2,
            Some(ChainBreakKind::LinkMismatch),
        ),
        (
            "swapped",
            &[
                "UPDATE audit_logs SET sequence = -1 WHERE sequence = 2",
                "UPDATE audit_logs SET sequence = 2 WHERE sequence = 3",
                "UPDATE audit_logs SET sequence = 3 WHERE sequence = -1",
            ],
            2,
            None,
        ),
    ];
    for (name, statements, sequence, kind) in scenarios {
        raw("DELETE FROM audit_logs".to_owned()).await;
        raw("INSERT INTO audit_logs SELECT * FROM audit_logs_intact".to_owned()).await;
        assert_eq!(
            verify(c, &h, &VerifyOptions::default()).await,
            intact,
            "restored before {name}"
        );
        for statement in statements {
            raw((*statement).to_owned()).await;
        }
        let broken = c
            .verify_audit_chain(&h.admin, &VerifyOptions::default())
            .await
            .expect("verification runs")
            .expect_err(name);
        assert_eq!(broken.sequence, sequence, "{name}: {broken}");
        if let Some(kind) = kind {
            assert_eq!(broken.kind, kind, "{name}: {broken}");
        }
    }
    raw("DROP TABLE audit_logs_intact".to_owned()).await;
}

/// A key rotates: entries sealed with the old key verify with it kept as retired; without it
/// the first old entry names the missing key.
pub async fn key_rotation_verifies_across_the_boundary(store: Arc<dyn CatalogStore>) {
    let h = Harness::new(store);
    let old = keyed_catalog(&h, &[("k1", KEY_1)], &[]);
    let i = old
        .create(&h.admin, Harness::input("rotated"), true)
        .await
        .unwrap();
    old.test_connection(&h.admin, i.id).await.unwrap();
    let new = keyed_catalog(&h, &[("k2", KEY_2)], &[("k1", KEY_1)]);
    new.pause(&h.admin, i.id, "freeze", None).await.unwrap();
    let entries = h
        .store
        .audit(&h.admin.tenant, &AuditQuery::all())
        .await
        .unwrap();
    let ids: Vec<_> = entries.iter().map(|e| e.key_id.as_deref()).collect();
    assert_eq!(ids, [Some("k1"), Some("k1"), Some("k2")]);
    assert_eq!(verify(&new, &h, &VerifyOptions::default()).await, Ok(3));
    let forgot = keyed_catalog(&h, &[("k2", KEY_2)], &[]);
    assert_eq!(
        verify(&forgot, &h, &VerifyOptions::default()).await,
        Err(ChainBreakKind::UnknownKey("k1".to_owned()))
    );
}

/// An exported range is pruned from the database; the chain verifies from the checkpoint, the
/// archive verifies on its own, and new entries continue the chain.
pub async fn archived_then_pruned_chains_still_verify(store: Arc<dyn CatalogStore>) {
    let h = Harness::new(store);
    let c = keyed_catalog(&h, &[("k1", KEY_1)], &[]);
    let system =
        pathops_core::catalog::Principal::system(h.admin.tenant.clone(), h.admin.actor.clone());
    let i = c
        .create(&h.admin, Harness::input("archived"), true)
        .await
        .unwrap();
    c.test_connection(&h.admin, i.id).await.unwrap();
    c.pause(&h.admin, i.id, "freeze", None).await.unwrap();
    c.resume(&h.admin, i.id).await.unwrap();
    let archive = c.export_audit(&system, 3).await.unwrap().expect("entries");
    assert_eq!(
        (archive.head.first_sequence, archive.head.last_sequence),
        (1, 3)
    );
    let text = archive.to_json_lines();
    let parsed = pathops_core::audit::AuditArchive::from_json_lines(&text).unwrap();
    let keys = pathops_core::audit::AuditKeyring::new([pathops_core::audit::AuditKey::new(
        "k1",
        KEY_SECRET_1.into(),
    )
    .unwrap()]);
    assert_eq!(parsed.verify(&keys).unwrap().verified, 3);
    assert!(
        matches!(
            c.prune_audit(&h.admin, &parsed).await,
            Err(Error::PermissionDenied { .. })
        ),
        "pruning is an operator call"
    );
    assert_eq!(c.prune_audit(&system, &parsed).await.unwrap(), 3);
    assert_eq!(
        h.store
            .audit(&h.admin.tenant, &AuditQuery::all())
            .await
            .unwrap()[0]
            .sequence,
        4
    );
    c.pause(&h.admin, i.id, "again", None).await.unwrap();
    assert_eq!(
        verify(&c, &h, &VerifyOptions::default()).await,
        Ok(3),
        "4 and 5 after the checkpoint"
    );
    // Pruning the same range again is refused: it no longer starts where the chain does.
    assert!(c.prune_audit(&system, &parsed).await.is_err());
    // A tampered archive does not verify.
    let mut bad = parsed.clone();
    bad.entries[1].record.reason = Some("edited".into());
    assert!(bad.verify(&keys).is_err());
}

/// An integration alternating pass/fail emits one `integration.flapping` event instead of a
/// storm; lifecycle counting goes on underneath, and it settles with one health event.
pub async fn a_flapping_integration_emits_one_flapping_event(store: Arc<dyn CatalogStore>) {
    let h = Harness::new(store);
    let mut registry = ConnectorRegistry::new();
    registry.register(h.connector.clone()).expect("register");
    let c = Catalog::builder(h.store.clone())
        .with_connectors(registry)
        .with_secrets(Arc::new(
            StaticResolver::new().with(AUTH_REF.parse().unwrap(), SENTINEL_SECRET),
        ))
        .with_clock(h.clock.clone())
        .with_flap_policy(FlapPolicy {
            window: Duration::from_secs(3600),
            max_changes: 3,
        })
        .build()
        .unwrap();
    let i = c
        .create(&h.admin, Harness::input("flappy"), true)
        .await
        .unwrap();
    c.test_connection(&h.admin, i.id).await.unwrap();
    h.drain_events().await;
    let script: Vec<_> = (0..10u32)
        .map(|k| {
            if k.is_multiple_of(2) {
                Outcome::fail(FailureCode::Connect)
            } else {
                Outcome::pass()
            }
        })
        .collect();
    h.connector.script(i.id, script);
    for _ in 0..10 {
        h.clock.advance(Duration::from_secs(60));
        c.check_health(&h.admin, i.id).await.unwrap();
    }
    let events = h.drain_events().await;
    let count = |t| events.iter().filter(|e| e.event_type == t).count();
    assert_eq!(count(EventType::Flapping), 1, "{events:#?}");
    // Changes 1..=3 are reported before it counts as flapping, none after.
    assert_eq!(count(EventType::Healthy) + count(EventType::Unhealthy), 3);
    let report = c.health(&h.admin, i.id, TimeRange::all(), 5).await.unwrap();
    assert!(report.flapping);
    // Two hours of steady passes: it settles, with one event saying so.
    h.clock.advance(Duration::from_secs(7200));
    c.check_health(&h.admin, i.id).await.unwrap();
    let settled = h.drain_events().await;
    assert_eq!(settled.len(), 1, "{settled:#?}");
    assert_eq!(settled[0].event_type, EventType::Healthy);
    assert_eq!(settled[0].data["flapping_ended"], true);
    assert!(!c.get(&h.admin, i.id).await.unwrap().flapping);
}

/// A deterministic pseudo-random sequence (xorshift) so failures reproduce.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Summaries computed by the store (in SQL for SQL backends) equal the brute-force
/// computation over the same rows, for many random histories and windows.
pub async fn summaries_equal_the_brute_force_computation(store: Arc<dyn CatalogStore>) {
    let h = Harness::new(store.clone());
    let i = h
        .catalog
        .create(&h.admin, Harness::input("summed"), true)
        .await
        .unwrap();
    let t0 = h.clock.now();
    let codes = [
        FailureCode::Connect,
        FailureCode::Timeout,
        FailureCode::Unauthenticated,
        FailureCode::DeliveryNotReceived,
        FailureCode::NotFound,
        FailureCode::SecretUnresolved,
    ];
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut records = Vec::new();
    for k in 0..300u64 {
        let r = xorshift(&mut seed);
        let status = match r % 7 {
            0 => HealthStatus::Skipped,
            1..=3 => HealthStatus::Healthy,
            _ => HealthStatus::Unhealthy,
        };
        let mut details = serde_json::Map::new();
        if r.is_multiple_of(5) {
            details.insert(
                pathops_core::health::WEBHOOK_DELIVERY_DETAIL.to_owned(),
                serde_json::Value::Bool(r.is_multiple_of(3)),
            );
        }
        let record = HealthCheckRecord {
            id: uuid::Uuid::now_v7(),
            tenant_id: h.admin.tenant.clone(),
            integration_id: i.id,
            // Some share a time, so ties are covered.
            checked_at: t0 + time::Duration::seconds((k / 2) as i64),
            kind: if r.is_multiple_of(4) {
                CheckKind::Doctor
            } else {
                CheckKind::HealthCheck
            },
            status,
            failure: (status == HealthStatus::Unhealthy)
                .then(|| codes[(r as usize / 7) % codes.len()].clone()),
            latency_ms: (status != HealthStatus::Skipped).then_some((r >> 8) % 5000),
            message: String::new(),
            details,
        };
        records.push(record);
    }
    for r in &records {
        insert_history(&h, i.id, r).await;
    }
    for _ in 0..20 {
        let a = (xorshift(&mut seed) % 160) as i64;
        let b = a + (xorshift(&mut seed) % 160) as i64;
        let range = TimeRange::new(
            t0 + time::Duration::seconds(a),
            t0 + time::Duration::seconds(b),
        );
        let expected =
            HealthSummary::from_records(records.iter().filter(|r| range.contains(r.checked_at)));
        let got = store
            .health_summary(&h.admin.tenant, i.id, range)
            .await
            .unwrap();
        assert_eq!(got, expected, "window {a}..{b}");
    }
    let all = store
        .health_summary(&h.admin.tenant, i.id, TimeRange::all())
        .await
        .unwrap();
    assert!(all.series[&Series::WebhookDelivery].checks > 0);
    assert!(all.series[&Series::Authentication].checks > 0);
    assert!(all.p99_latency_ms.is_some() && !all.failure_codes.is_empty());
}

/// Writes one history row through the store's health-only write.
async fn insert_history(h: &Harness, id: IntegrationId, r: &HealthCheckRecord) {
    let current = h.store.get(&h.admin.tenant, id).await.unwrap();
    h.store
        .record_check(pathops_core::store::HealthWrite {
            record: r.clone(),
            version: current.version,
            expected: current.lifecycle_state(),
            health: None,
            audit: None,
            events: Vec::new(),
            seal: Default::default(),
        })
        .await
        .unwrap();
}

/// A health-only write against a lifecycle state that moved is a conflict and writes nothing.
pub async fn a_stale_health_write_conflicts_and_writes_nothing(store: Arc<dyn CatalogStore>) {
    let h = Harness::new(store.clone());
    let i = h
        .catalog
        .create(&h.admin, Harness::input("raced"), true)
        .await
        .unwrap();
    let read = store.get(&h.admin.tenant, i.id).await.unwrap();
    let mut stale = read.lifecycle_state();
    stale.consecutive_failures = 7;
    let record = HealthCheckRecord {
        id: uuid::Uuid::now_v7(),
        tenant_id: h.admin.tenant.clone(),
        integration_id: i.id,
        checked_at: h.clock.now(),
        kind: CheckKind::HealthCheck,
        status: HealthStatus::Healthy,
        failure: None,
        latency_ms: Some(1),
        message: String::new(),
        details: Default::default(),
    };
    let err = store
        .record_check(pathops_core::store::HealthWrite {
            record,
            version: read.version,
            expected: stale,
            health: Some(pathops_core::store::HealthFields {
                last_tested_at: h.clock.now(),
                last_test_success: true,
                consecutive_failures: 0,
                flapping: false,
            }),
            audit: None,
            events: Vec::new(),
            seal: Default::default(),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err}");
    assert!(
        store
            .health_history(&h.admin.tenant, i.id, TimeRange::all(), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.get(&h.admin.tenant, i.id).await.unwrap(), read);
}

/// Retention by count keeps the newest `keep` rows of each integration, in batches.
pub async fn retention_by_count_keeps_the_newest_rows(store: Arc<dyn CatalogStore>) {
    let h = Harness::new(store.clone());
    let a = h
        .catalog
        .create(&h.admin, Harness::input("a"), true)
        .await
        .unwrap();
    let b = h
        .catalog
        .create(&h.admin, Harness::input("b"), true)
        .await
        .unwrap();
    for _ in 0..6 {
        h.clock.advance(Duration::from_secs(1));
        h.catalog.test_connection(&h.admin, a.id).await.unwrap();
    }
    h.catalog.test_connection(&h.admin, b.id).await.unwrap();
    let newest_a = store
        .health_history(&h.admin.tenant, a.id, TimeRange::all(), 2)
        .await
        .unwrap();
    assert_eq!(
        store.prune_health_excess(2, 3).await.unwrap(),
        3,
        "one batch"
    );
    assert_eq!(store.prune_health_excess(2, 3).await.unwrap(), 1);
    assert_eq!(store.prune_health_excess(2, 3).await.unwrap(), 0);
    let left = store
        .health_history(&h.admin.tenant, a.id, TimeRange::all(), 10)
        .await
        .unwrap();
    assert_eq!(left, newest_a);
    assert_eq!(
        store
            .health_history(&h.admin.tenant, b.id, TimeRange::all(), 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// Drops the append-only triggers of `backend` (an attacker with write access).
async fn drop_audit_triggers(backend: &str, raw: &RawSql) {
    let statements: &[&str] = match backend {
        "postgres" => &[
            "DROP TRIGGER IF EXISTS audit_logs_append_only ON audit_logs",
            "DROP TRIGGER IF EXISTS audit_logs_no_truncate ON audit_logs",
        ],
        _ => &[
            "DROP TRIGGER IF EXISTS audit_logs_append_only_update",
            "DROP TRIGGER IF EXISTS audit_logs_append_only_delete",
        ],
    };
    for s in statements {
        raw((*s).to_owned()).await;
    }
}
