//! Create, get, update and soft delete: versions, name uniqueness and round trips.

use std::sync::Arc;

use pathops_core::audit::GENESIS_HASH;
use pathops_core::clock::truncate_to_micros;
use pathops_core::store::AuditQuery;
use pathops_core::{
    CatalogStore, Description, Error, IntegrationId, IntegrationName, IntegrationStatus,
    IntegrationType, ListFilter, Provider, ResourceKind, Tags,
};
use serde_json::json;
use time::macros::datetime;

use super::support::{
    ACME, GLOBEX, create, delete, draft, drain_outbox, far_future, list_all, names, update,
};
use crate::fixtures::{IntegrationBuilder, actor, create_mutation, tenant};

/// Every field survives a create and a get, at microsecond precision; the store assigns
/// version 1 and seals the first audit entry of the tenant.
pub async fn create_then_get_round_trips_every_field(store: Arc<dyn CatalogStore>) {
    let mut full = IntegrationBuilder::new(ACME, "Scanner (eu) #1")
        .provider(Provider::custom("acme-scanner", IntegrationType::Feed).expect("custom provider"))
        .base_url("https://scanner.example.test/api")
        .auth_ref("ref://acme/acme-scanner/token")
        .environment("eu-west")
        .tags(&["prod", "eu", "scanner"])
        .configuration(json!({
            "project": "core",
            "nested": {"ratio": 1.5, "list": [1, "x", null, true], "big": 9_007_199_254_740_993u64},
            "unicode": "ünïcødé ✓"
        }))
        .at(datetime!(2026-03-04 05:06:07.123456789 UTC))
        .build();
    full.description =
        Some(Description::new("line one\nline two\twith ünïcode").expect("description"));
    full.owner_id = Some(actor("team-platform@example.com"));
    full.status = IntegrationStatus::Paused;
    full.verified = true;
    full.pause_reason = Some("maintenance window".into());
    full.pause_ticket = Some("CHG-42".into());
    full.last_tested_at = Some(datetime!(2026-03-04 05:07:00.999999999 UTC));
    full.last_test_success = Some(false);
    full.consecutive_failures = 4;
    full.modified_at = datetime!(2026-03-04 06:00:00.000001 UTC);
    full.modified_by = actor("bob");
    full.version = 7;

    let minimal = IntegrationBuilder::new(ACME, "GitLab")
        .provider(Provider::GitLab)
        .build();

    for input in [full, minimal] {
        let mutation = create_mutation(input.clone());
        let record = mutation.audit.clone();
        let outcome = store.apply(mutation).await.expect("create");

        let mut expected = input.clone();
        expected.version = 1;
        expected.created_at = truncate_to_micros(input.created_at);
        expected.modified_at = truncate_to_micros(input.modified_at);
        expected.last_tested_at = input.last_tested_at.map(truncate_to_micros);
        assert_eq!(
            outcome.integration, expected,
            "apply returns the row as stored"
        );
        let got = store.get(&input.tenant_id, input.id).await.expect("get");
        assert_eq!(got, expected, "get returns what was stored");
        assert_eq!(
            outcome.audit.record, record,
            "the audit record is stored as given"
        );
    }

    let chain = store
        .audit(&tenant(ACME), &AuditQuery::all())
        .await
        .expect("audit");
    assert_eq!(chain.len(), 2);
    assert_eq!(
        (chain[0].sequence, chain[0].prev_hash.as_str()),
        (1, GENESIS_HASH)
    );
    assert_eq!(
        (chain[1].sequence, &chain[1].prev_hash),
        (2, &chain[0].hash)
    );
}

/// A live name is unique within its tenant (case-sensitive); other tenants and soft-deleted
/// rows do not count. A refused create writes nothing.
pub async fn duplicate_names_are_refused_per_tenant_among_live_rows(store: Arc<dyn CatalogStore>) {
    let store = store.as_ref();
    let first = create(store, draft(ACME, "GitLab")).await;

    let err = store
        .apply(create_mutation(draft(ACME, "GitLab")))
        .await
        .expect_err("duplicate name");
    assert!(
        matches!(
            err,
            Error::AlreadyExists {
                kind: ResourceKind::Integration,
                ..
            }
        ),
        "{err:?}"
    );
    let audit = store
        .audit(&tenant(ACME), &AuditQuery::all())
        .await
        .expect("audit");
    assert_eq!(audit.len(), 1, "a refused create leaves no audit entry");

    create(store, draft(GLOBEX, "GitLab")).await;
    create(store, draft(ACME, "gitlab")).await;

    delete(store, &first).await.expect("delete");
    let again = create(store, draft(ACME, "GitLab")).await;
    assert_ne!(again.id, first.id);
    assert_eq!(
        names(&list_all(store, ACME, ListFilter::default(), 10).await),
        ["GitLab", "gitlab"]
    );
}

/// An id that was never created is `NotFound`.
pub async fn get_of_a_missing_integration_is_not_found(store: Arc<dyn CatalogStore>) {
    let err = store
        .get(&tenant(ACME), IntegrationId::new())
        .await
        .expect_err("missing");
    assert!(
        matches!(
            err,
            Error::NotFound {
                kind: ResourceKind::Integration,
                ..
            }
        ),
        "{err:?}"
    );
}

/// An update stores `expected_version + 1`; an update at a stale version is a `Conflict` naming
/// both versions and changes nothing.
pub async fn update_bumps_the_version_and_a_stale_version_conflicts(store: Arc<dyn CatalogStore>) {
    let store = store.as_ref();
    let v1 = create(store, draft(ACME, "Harbor")).await;
    let v2 = update(store, &v1, |i| {
        i.description = Some(Description::new("second").expect("description"));
    })
    .await
    .expect("update")
    .integration;
    assert_eq!(v2.version, 2);
    assert_eq!(store.get(&v1.tenant_id, v1.id).await.expect("get"), v2);

    let err = update(store, &v1, |i| {
        i.description = Some(Description::new("lost update").expect("description"));
    })
    .await
    .expect_err("stale version");
    match err {
        Error::Conflict {
            kind: ResourceKind::Integration,
            expected: 1,
            actual: Some(2),
            id,
        } => assert_eq!(id, v1.id.to_string()),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(
        store.get(&v1.tenant_id, v1.id).await.expect("get"),
        v2,
        "no silent overwrite"
    );

    let v3 = update(store, &v2, |i| i.consecutive_failures = 1)
        .await
        .expect("update")
        .integration;
    assert_eq!(v3.version, 3);
    let audit = store
        .audit(&tenant(ACME), &AuditQuery::for_integration(v1.id))
        .await
        .expect("audit");
    assert_eq!(
        audit.len(),
        3,
        "create and two updates; the conflict left no entry"
    );
}

/// Renaming onto the name of another live integration is `AlreadyExists`; the old name is free
/// once renamed away.
pub async fn renaming_onto_a_live_name_is_refused(store: Arc<dyn CatalogStore>) {
    let store = store.as_ref();
    let a = create(store, draft(ACME, "A")).await;
    let b = create(store, draft(ACME, "B")).await;
    let err = update(store, &b, |i| i.name = a.name.clone())
        .await
        .expect_err("taken");
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err:?}");
    assert_eq!(store.get(&b.tenant_id, b.id).await.expect("get"), b);

    let renamed = update(store, &b, |i| {
        i.name = IntegrationName::new("C").expect("name")
    })
    .await
    .expect("rename");
    assert_eq!(renamed.integration.name.as_str(), "C");
    create(store, draft(ACME, "B")).await;
    assert_eq!(
        names(&list_all(store, ACME, ListFilter::default(), 10).await),
        ["A", "B", "C"]
    );
}

/// A soft-deleted integration is gone from get and list; updating or deleting it again is
/// `NotFound`; its audit trail stays.
pub async fn soft_delete_hides_the_row_from_every_read(store: Arc<dyn CatalogStore>) {
    let store = store.as_ref();
    let keep = create(store, draft(ACME, "keep")).await;
    let gone = create(store, draft(ACME, "gone")).await;
    let deleted = delete(store, &gone).await.expect("delete");
    assert_eq!(deleted.integration.status, IntegrationStatus::Deleted);
    assert_eq!(deleted.integration.version, 2);

    let err = store
        .get(&gone.tenant_id, gone.id)
        .await
        .expect_err("deleted");
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert_eq!(
        list_all(store, ACME, ListFilter::default(), 10).await,
        [keep]
    );
    let filter = ListFilter {
        status: Some(IntegrationStatus::Deleted),
        ..ListFilter::default()
    };
    assert!(
        list_all(store, ACME, filter, 10).await.is_empty(),
        "not even by status"
    );

    let err = update(store, &deleted.integration, |i| {
        i.status = IntegrationStatus::Draft
    })
    .await
    .expect_err("update after delete");
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    let err = delete(store, &deleted.integration)
        .await
        .expect_err("second delete");
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");

    let audit = store
        .audit(&tenant(ACME), &AuditQuery::for_integration(gone.id))
        .await
        .expect("audit");
    assert_eq!(audit.len(), 2, "created and deleted stay in the trail");
    let events = drain_outbox(store, far_future()).await;
    assert!(
        events.iter().any(|e| e.envelope.integration_id == gone.id
            && e.envelope.event_type == pathops_core::EventType::Deleted),
        "the delete event is in the outbox"
    );
}

/// Updating an id that was never created is `NotFound`, and creates nothing.
pub async fn updating_a_missing_integration_is_not_found(store: Arc<dyn CatalogStore>) {
    let store = store.as_ref();
    let ghost = draft(ACME, "ghost");
    let err = update(store, &ghost, |i| i.consecutive_failures = 1)
        .await
        .expect_err("missing");
    assert!(
        matches!(
            err,
            Error::NotFound {
                kind: ResourceKind::Integration,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(store.get(&ghost.tenant_id, ghost.id).await.is_err());
    assert!(
        store
            .audit(&tenant(ACME), &AuditQuery::all())
            .await
            .expect("audit")
            .is_empty()
    );
}

/// A mutation whose audit entry, events or health check belong to another tenant or
/// integration is a validation error and writes nothing.
pub async fn an_inconsistent_mutation_is_refused_before_writing(store: Arc<dyn CatalogStore>) {
    let store = store.as_ref();
    let mut foreign_audit = create_mutation(draft(ACME, "one"));
    foreign_audit.audit.tenant_id = tenant(GLOBEX);
    let mut foreign_event = create_mutation(draft(ACME, "two"));
    foreign_event.events[0].integration_id = IntegrationId::new();

    for m in [foreign_audit, foreign_event] {
        let id = m.change.integration().id;
        let err = store.apply(m).await.expect_err("inconsistent");
        assert!(matches!(err, Error::Validation(_)), "{err:?}");
        assert!(store.get(&tenant(ACME), id).await.is_err());
    }
    for t in [ACME, GLOBEX] {
        assert!(
            store
                .audit(&tenant(t), &AuditQuery::all())
                .await
                .expect("audit")
                .is_empty()
        );
    }
    assert!(drain_outbox(store, far_future()).await.is_empty());
}

/// Names in any script, decomposed accents, four-byte characters and names of the maximum
/// length (128 characters, up to 512 bytes) round-trip and sort by code point; so do the
/// largest tags and descriptions.
pub async fn unicode_and_maximum_length_names_round_trip(store: Arc<dyn CatalogStore>) {
    let store = store.as_ref();
    let longest_ascii = "a".repeat(IntegrationName::MAX_CHARS);
    let longest_wide = "\u{20000}".repeat(IntegrationName::MAX_CHARS);
    let longest_cjk = "名前".repeat(IntegrationName::MAX_CHARS / 2);
    let mut expected: Vec<String> = [
        "Zürich (prod)",
        "école",
        "e\u{301}cole",
        "Ωμέγα-1",
        "مرحبا",
        "日本語 GitLab",
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
        "ZÜRICH",
        longest_ascii.as_str(),
        longest_wide.as_str(),
        longest_cjk.as_str(),
    ]
    .map(str::to_owned)
    .to_vec();
    for name in &expected {
        let mut i = draft(ACME, name);
        if name == &longest_wide {
            let tags: Vec<String> = (0..Tags::MAX_TAGS)
                .map(|n| format!("{n:02}{}", "ü".repeat(Tags::MAX_CHARS - 2)))
                .collect();
            i.tags = Tags::new(tags).expect("tags");
            i.description =
                Some(Description::new("ß".repeat(Description::MAX_CHARS)).expect("description"));
        }
        let stored = create(store, i.clone()).await;
        assert_eq!(stored.name.as_str(), name);
        assert_eq!(store.get(&i.tenant_id, i.id).await.expect("get"), stored);
    }
    expected.sort();
    assert_eq!(
        names(&list_all(store, ACME, ListFilter::default(), 4).await),
        expected
    );
    let err = store
        .apply(create_mutation(draft(ACME, "école")))
        .await
        .expect_err("same composed name");
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err:?}");
}
