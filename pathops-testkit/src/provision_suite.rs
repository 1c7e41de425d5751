//! Conformance suite of provisioning through the [`Catalog`](pathops_core::catalog::Catalog)
//! (`plan`, `apply`, `export`) over any [`CatalogStore`]: one `#[tokio::test]` per check from
//! [`provision_conformance_tests!`](crate::provision_conformance_tests), like the catalog suite.

use std::sync::Arc;

use pathops_core::catalog::ApplyOptions;
use pathops_core::provision::{IntegrationSpec, Manifest, StepKind};
use pathops_core::store::AuditQuery;
use pathops_core::{
    AuditAction, CatalogStore, Error, EventType, IntegrationPatch, IntegrationStatus, ListFilter,
    Tags,
};

use crate::catalog_suite::{AUTH_REF, Harness, OTHER_TENANT_AUTH_REF, SENTINEL_SECRET};

/// An in-memory entry of tenant `acme` named `name`.
fn spec(name: &str) -> IntegrationSpec {
    IntegrationSpec {
        name: name.to_owned(),
        integration_type: None,
        provider: crate::in_memory::provider(),
        base_url: format!("https://{}.example.test", name.to_lowercase()),
        auth_ref: Some(AUTH_REF.to_owned()),
        configuration: serde_json::Map::new(),
        environment: Some("staging".to_owned()),
        tags: vec!["team:platform".to_owned()],
        owner: None,
        description: None,
        paused: false,
        pause_reason: None,
    }
}

/// `alpha` and `beta`, and `gamma` paused.
fn manifest() -> Manifest {
    let mut m = Manifest::new();
    m.integrations = vec![spec("beta"), spec("alpha"), spec("gamma")];
    m.integrations[2].paused = true;
    m
}

/// Applying a manifest creates its integrations (submitted, `gamma` paused) with audit
/// entries carrying the ticket and `integration.created` events; planning it again finds
/// nothing to do, and applying that changes nothing.
pub async fn a_manifest_applies_once_and_then_plans_nothing(store: Arc<dyn CatalogStore>) {
    let h = Harness::new(store);
    let c = &h.catalog;
    let plan = c.plan(&h.admin, &manifest(), false).await.unwrap().unwrap();
    let kinds: Vec<_> = plan
        .steps
        .iter()
        .map(|s| (s.kind, s.name.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            (StepKind::Create, "alpha"),
            (StepKind::Create, "beta"),
            (StepKind::Create, "gamma")
        ]
    );
    let seen = std::sync::Mutex::new(Vec::new());
    let options = ApplyOptions::new().with_ticket("CHG-1001");
    let report = c
        .apply_with_progress(&h.admin, &plan, &options, &|p| {
            seen.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((p.done, p.total));
        })
        .await
        .unwrap();
    assert_eq!(report.applied.len(), 3);
    assert_eq!(
        *seen.lock().unwrap_or_else(|e| e.into_inner()),
        [(0, 3), (1, 3), (2, 3), (3, 3)]
    );
    let all = c.list_all(&h.admin).await.unwrap();
    let states: Vec<_> = all.iter().map(|i| (i.name.as_str(), i.status)).collect();
    assert_eq!(
        states,
        [
            ("alpha", IntegrationStatus::PendingVerification),
            ("beta", IntegrationStatus::PendingVerification),
            ("gamma", IntegrationStatus::Paused),
        ]
    );
    let audit = c.audit_query(&h.admin, &AuditQuery::all()).await.unwrap();
    let created: Vec<_> = audit
        .iter()
        .filter(|e| e.record.action == AuditAction::Created)
        .collect();
    assert_eq!(created.len(), 3);
    assert!(
        audit
            .iter()
            .all(|e| e.record.ticket.as_deref() == Some("CHG-1001")),
        "every entry of the apply carries its ticket"
    );
    let events = h.drain_events().await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event_type == EventType::Created)
            .count(),
        3
    );
    assert!(events.iter().any(|e| e.event_type == EventType::Paused));

    let again = c.plan(&h.admin, &manifest(), false).await.unwrap().unwrap();
    assert!(again.is_empty(), "{}", again.render());
    let report = c.apply(&h.admin, &again, &options).await.unwrap();
    assert!(report.applied.is_empty());
    assert_eq!(report.unchanged, 3);
    let versions: Vec<_> = c
        .list_all(&h.admin)
        .await
        .unwrap()
        .iter()
        .map(|i| i.version)
        .collect();
    let before: Vec<_> = all.iter().map(|i| i.version).collect();
    assert_eq!(versions, before, "the second apply wrote nothing");
    assert!(h.drain_events().await.is_empty(), "and announced nothing");
}

/// A plan whose integration changed after planning is refused at that step (a conflict,
/// reported as stale) and overwrites nothing; planning again picks the change up.
pub async fn a_stale_plan_refuses_to_apply(store: Arc<dyn CatalogStore>) {
    let h = Harness::new(store);
    let c = &h.catalog;
    let first = c.plan(&h.admin, &manifest(), false).await.unwrap().unwrap();
    c.apply(&h.admin, &first, &ApplyOptions::new())
        .await
        .unwrap();

    let mut edited = manifest();
    edited.integrations[0].tags = vec!["team:edited".to_owned()];
    let plan = c.plan(&h.admin, &edited, false).await.unwrap().unwrap();
    let step = plan.changes().next().unwrap().clone();
    assert_eq!((step.kind, step.name.as_str()), (StepKind::Update, "beta"));
    // Someone edits beta between plan and apply.
    let beta = c.get(&h.admin, step.id.unwrap()).await.unwrap();
    let theirs = IntegrationPatch {
        tags: Some(Tags::new(["team:someone-else"]).unwrap()),
        ..Default::default()
    };
    let bob = pathops_core::catalog::Principal::admin(
        crate::fixtures::tenant("acme"),
        crate::fixtures::actor("bob"),
    );
    c.update(&bob, beta.id, beta.version, &theirs)
        .await
        .unwrap();
    let err = c
        .apply(&h.admin, &plan, &ApplyOptions::new())
        .await
        .unwrap_err();
    assert!(err.is_stale(), "{err}");
    assert!(matches!(err.source, Error::Conflict { .. }));
    assert_eq!(err.step, Some((StepKind::Update, "beta".to_owned())));
    let after = c.get(&h.admin, beta.id).await.unwrap();
    assert_eq!(
        after.tags.as_slice(),
        ["team:someone-else"],
        "not overwritten"
    );

    let replanned = c.plan(&h.admin, &edited, false).await.unwrap().unwrap();
    c.apply(&h.admin, &replanned, &ApplyOptions::new())
        .await
        .unwrap();
    let after = c.get(&h.admin, beta.id).await.unwrap();
    assert_eq!(after.tags.as_slice(), ["team:edited"]);

    // A pause planned against a version that moved is refused too.
    let mut pause = edited.clone();
    pause.integrations[1].paused = true;
    let plan = c.plan(&h.admin, &pause, false).await.unwrap().unwrap();
    let alpha = c
        .get(&h.admin, plan.changes().next().unwrap().id.unwrap())
        .await
        .unwrap();
    c.update(&h.admin, alpha.id, alpha.version, &theirs)
        .await
        .unwrap();
    let err = c
        .apply(&h.admin, &plan, &ApplyOptions::new())
        .await
        .unwrap_err();
    assert!(err.is_stale(), "{err}");
    assert_eq!(err.step.as_ref().map(|s| s.0), Some(StepKind::Pause));
    assert!(!c.get(&h.admin, alpha.id).await.unwrap().is_paused());
}

/// Promotion: tenant `acme`'s export, its references rewritten to tenant `globex`'s and its
/// environment set, plans and applies into `globex`; unrewritten, globex's reference policy
/// refuses it, naming the field.
pub async fn an_export_promotes_into_another_tenant(store: Arc<dyn CatalogStore>) {
    let h = Harness::new(store);
    let c = &h.catalog;
    let plan = c.plan(&h.admin, &manifest(), false).await.unwrap().unwrap();
    c.apply(&h.admin, &plan, &ApplyOptions::new())
        .await
        .unwrap();

    let mut exported = c.export(&h.admin, &ListFilter::default()).await.unwrap();
    assert_eq!(exported.integrations.len(), 3);
    let refused = c
        .plan(&h.other_tenant, &exported, false)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(refused.path, "integrations[0].auth_ref");

    let mapped = exported.map_refs("ref://acme/", "ref://globex/").unwrap();
    assert_eq!(mapped, 3);
    exported.set("environment", "production").unwrap();
    let plan = c
        .plan(&h.other_tenant, &exported, false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(plan.changes().count(), 3);
    c.apply(&h.other_tenant, &plan, &ApplyOptions::new())
        .await
        .unwrap();
    let promoted = c.list_all(&h.other_tenant).await.unwrap();
    assert!(promoted.iter().all(|i| {
        i.auth_ref.as_ref().map(|r| r.as_str()) == Some(OTHER_TENANT_AUTH_REF)
            && i.environment.as_ref().map(|e| e.as_str()) == Some("production")
    }));
    assert!(
        promoted
            .iter()
            .any(|i| i.name.as_str() == "gamma" && i.is_paused())
    );
    // acme is untouched, and a plan made for acme does not apply to globex.
    assert_eq!(c.list_all(&h.admin).await.unwrap().len(), 3);
    let acme_plan = c
        .plan(&h.admin, &Manifest::new(), true)
        .await
        .unwrap()
        .unwrap();
    let err = c
        .apply(&h.other_tenant, &acme_plan, &ApplyOptions::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&err.source, Error::InvalidConfig { message } if message.contains("the plan is for tenant acme")),
        "refused before any step: {err:?}"
    );
    assert!(err.done.applied.is_empty());
    assert_eq!(err.step, None);
    assert_eq!(c.list_all(&h.other_tenant).await.unwrap().len(), 3);
}

/// Prune deletes what the manifest does not name (audited with the ticket); a reader may
/// plan but not apply; the secret never appears in a plan, report or error.
pub async fn prune_deletes_and_scopes_hold(store: Arc<dyn CatalogStore>) {
    let h = Harness::new(store);
    let c = &h.catalog;
    let plan = c.plan(&h.admin, &manifest(), false).await.unwrap().unwrap();
    c.apply(&h.admin, &plan, &ApplyOptions::new())
        .await
        .unwrap();

    let mut smaller = manifest();
    smaller.integrations.retain(|s| s.name != "beta");
    let keep = c.plan(&h.admin, &smaller, false).await.unwrap().unwrap();
    assert!(keep.is_empty());
    let prune = c.plan(&h.reader, &smaller, true).await.unwrap().unwrap();
    assert_eq!(
        prune
            .changes()
            .map(|s| (s.kind, s.name.as_str()))
            .collect::<Vec<_>>(),
        [(StepKind::Delete, "beta")]
    );
    let denied = c
        .apply(&h.reader, &prune, &ApplyOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(denied.source, Error::PermissionDenied { .. }));
    let options = ApplyOptions::new()
        .with_ticket("CHG-2")
        .with_reason("decommissioned");
    let report = c.apply(&h.admin, &prune, &options).await.unwrap();
    assert_eq!(report.applied[0].kind, StepKind::Delete);
    let names: Vec<_> = c
        .list_all(&h.admin)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name.as_str().to_owned())
        .collect();
    assert_eq!(names, ["alpha", "gamma"]);
    let deleted = c.audit(&h.admin, report.applied[0].id).await.unwrap();
    let last = deleted.last().unwrap();
    assert_eq!(last.record.action, AuditAction::Deleted);
    assert_eq!(last.record.ticket.as_deref(), Some("CHG-2"));
    assert_eq!(last.record.reason.as_deref(), Some("decommissioned"));
    // Resuming through a manifest records the ticket on the resume too.
    let mut resumed = smaller.clone();
    resumed
        .integrations
        .iter_mut()
        .for_each(|s| s.paused = false);
    let plan = c.plan(&h.admin, &resumed, false).await.unwrap().unwrap();
    assert_eq!(
        plan.changes()
            .map(|s| (s.kind, s.name.as_str()))
            .collect::<Vec<_>>(),
        [(StepKind::Resume, "gamma")]
    );
    let report = c
        .apply(&h.admin, &plan, &ApplyOptions::new().with_ticket("CHG-3"))
        .await
        .unwrap();
    let gamma = report.applied[0].id;
    assert!(!c.get(&h.admin, gamma).await.unwrap().is_paused());
    let trail = c.audit(&h.admin, gamma).await.unwrap();
    let resume = trail
        .iter()
        .find(|e| e.record.action == AuditAction::Resumed)
        .expect("a resume entry");
    assert_eq!(resume.record.ticket.as_deref(), Some("CHG-3"));
    for shown in [
        serde_json::to_string(&prune).unwrap(),
        format!("{report:?} {denied} {denied:?}"),
        c.export(&h.admin, &ListFilter::default())
            .await
            .unwrap()
            .to_yaml(),
    ] {
        assert!(!shown.contains(SENTINEL_SECRET));
    }
}

/// One `#[tokio::test]` per provisioning check for a store factory.
#[macro_export]
macro_rules! provision_conformance_tests {
    ($factory:expr) => {
        mod provision_conformance {
            #[allow(unused_imports)]
            use super::*;
            $crate::provision_conformance_tests!(@test $factory;
                a_manifest_applies_once_and_then_plans_nothing,
                a_stale_plan_refuses_to_apply,
                an_export_promotes_into_another_tenant,
                prune_deletes_and_scopes_hold,
            );
        }
    };
    (@test $factory:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                $crate::store_suite::run($factory, |store| {
                    Box::pin($crate::provision_suite::$check(store))
                })
                .await;
            }
        )*
    };
}
