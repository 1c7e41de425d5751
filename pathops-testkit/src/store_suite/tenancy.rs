//! Tenant isolation: no call returns or touches another tenant's rows.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pathops_core::audit::verify_chain;
use pathops_core::health::{CheckKind, HealthStatus};
use pathops_core::store::AuditQuery;
use pathops_core::{
    CatalogStore, Error, HealthCheckRecord, HealthSummary, Integration, IntegrationId,
    IntegrationName, ListFilter, TimeRange,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use super::support::{ACME, GLOBEX, at, create, delete, draft, list_all, names, update};
use crate::fixtures::{create_mutation, tenant};

/// Reads by id, updates, deletes, lists, audit and health reads all stay inside the caller's
/// tenant, even with another tenant's ids in hand.
pub async fn no_call_crosses_tenants(store: Arc<dyn CatalogStore>) {
    let store = store.as_ref();
    let a = create(store, draft(ACME, "shared name")).await;
    let g = create(store, draft(GLOBEX, "shared name")).await;
    let (acme, globex) = (tenant(ACME), tenant(GLOBEX));

    let err = store.get(&globex, a.id).await.expect_err("foreign id");
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");

    // The same id under another tenant: update, delete and create are all refused.
    let mut hijack = a.clone();
    hijack.tenant_id = globex.clone();
    let err = update(store, &hijack, |i| i.consecutive_failures = 9)
        .await
        .expect_err("update");
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    let err = delete(store, &hijack).await.expect_err("delete");
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    hijack.name = IntegrationName::new("fresh name").expect("name");
    let err = store
        .apply(create_mutation(hijack))
        .await
        .expect_err("id taken");
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err:?}");
    assert_eq!(store.get(&acme, a.id).await.expect("get"), a, "untouched");

    assert_eq!(
        list_all(store, GLOBEX, ListFilter::default(), 10).await,
        std::slice::from_ref(&g)
    );
    assert!(
        store
            .audit(&acme, &AuditQuery::for_integration(g.id))
            .await
            .expect("audit")
            .is_empty()
    );
    let globex_audit = store
        .audit(&globex, &AuditQuery::all())
        .await
        .expect("audit");
    assert!(globex_audit.iter().all(|e| e.record.tenant_id == globex));
    assert_eq!(globex_audit.len(), 1);

    let mut m = create_mutation(draft(ACME, "checked"));
    let checked = m.change.integration().clone();
    m.health_check = Some(HealthCheckRecord {
        id: uuid::Uuid::now_v7(),
        tenant_id: acme.clone(),
        integration_id: checked.id,
        checked_at: at(1),
        kind: CheckKind::ConnectionTest,
        status: HealthStatus::Healthy,
        failure: None,
        latency_ms: Some(12),
        message: "ok".into(),
        details: Default::default(),
    });
    store.apply(m).await.expect("create with a check");
    let all = TimeRange::all();
    assert_eq!(
        store
            .health_history(&acme, checked.id, all, 10)
            .await
            .expect("history")
            .len(),
        1
    );
    assert!(
        store
            .health_history(&globex, checked.id, all, 10)
            .await
            .expect("history")
            .is_empty()
    );
    assert_eq!(
        store
            .health_summary(&globex, checked.id, all)
            .await
            .expect("summary"),
        HealthSummary::from_records(&[])
    );
}

#[derive(Debug, Clone)]
enum Op {
    Create {
        tenant: usize,
        name: usize,
    },
    Update {
        tenant: usize,
        target: usize,
        rename: Option<usize>,
    },
    Delete {
        tenant: usize,
        target: usize,
    },
    Get {
        tenant: usize,
        target: usize,
    },
    List {
        tenant: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let tenant = 0..3usize;
    let target = 0..32usize;
    prop_oneof![
        3 => (tenant.clone(), 0..6usize).prop_map(|(tenant, name)| Op::Create { tenant, name }),
        2 => (tenant.clone(), target.clone(), proptest::option::of(0..6usize))
            .prop_map(|(tenant, target, rename)| Op::Update { tenant, target, rename }),
        1 => (tenant.clone(), target.clone()).prop_map(|(tenant, target)| Op::Delete { tenant, target }),
        2 => (tenant.clone(), target).prop_map(|(tenant, target)| Op::Get { tenant, target }),
        1 => tenant.prop_map(|tenant| Op::List { tenant }),
    ]
}

/// The model: every integration created, with whether it is live.
#[derive(Debug, Default)]
struct Model {
    rows: Vec<(Integration, bool)>,
}

impl Model {
    fn live_names(&self, tenant: &pathops_core::TenantId) -> Vec<String> {
        let mut names: Vec<String> = self
            .rows
            .iter()
            .filter(|(i, live)| *live && &i.tenant_id == tenant)
            .map(|(i, _)| i.name.to_string())
            .collect();
        names.sort();
        names
    }
}

fn check(cond: bool, what: impl FnOnce() -> String) -> Result<(), TestCaseError> {
    if cond {
        Ok(())
    } else {
        Err(TestCaseError::fail(what()))
    }
}

async fn run_ops(
    store: &dyn CatalogStore,
    tenants: &[String; 3],
    ops: Vec<Op>,
) -> Result<(), TestCaseError> {
    let tenants = tenants.clone().map(|t| tenant(&t));
    let mut model = Model::default();
    let name = |n: usize| format!("integration {n}");
    for op in ops {
        match op {
            Op::Create { tenant: t, name: n } => {
                let i = draft(tenants[t].as_str(), &name(n));
                let taken = model.live_names(&tenants[t]).contains(&name(n));
                match store.apply(create_mutation(i.clone())).await {
                    Ok(out) => {
                        check(!taken, || {
                            format!("duplicate {n} accepted in {}", tenants[t])
                        })?;
                        model.rows.push((out.integration, true));
                    }
                    Err(Error::AlreadyExists { .. }) => check(taken, || format!("{n} refused"))?,
                    Err(e) => return Err(TestCaseError::fail(format!("create: {e}"))),
                }
            }
            Op::Update {
                tenant: t,
                target,
                rename,
            } => {
                let Some(idx) = (!model.rows.is_empty()).then(|| target % model.rows.len()) else {
                    continue;
                };
                let (current, live) = model.rows[idx].clone();
                let mut attempt = current.clone();
                attempt.tenant_id = tenants[t].clone();
                let new_name = rename.map(|r| IntegrationName::new(name(r)).expect("name"));
                let result = update(store, &attempt, |i| {
                    i.consecutive_failures += 1;
                    if let Some(n) = &new_name {
                        i.name = n.clone();
                    }
                })
                .await;
                let own = current.tenant_id == tenants[t];
                let clash = new_name.as_ref().is_some_and(|n| {
                    model.rows.iter().any(|(i, l)| {
                        *l && i.tenant_id == current.tenant_id && i.id != current.id && &i.name == n
                    })
                });
                match result {
                    Ok(out) => {
                        check(own && live && !clash, || {
                            format!("{} updated a row it must not", tenants[t])
                        })?;
                        model.rows[idx].0 = out.integration;
                    }
                    Err(Error::NotFound { .. }) => {
                        check(!own || !live, || "live row not found".into())?
                    }
                    Err(Error::AlreadyExists { .. }) => {
                        check(own && live && clash, || "bad clash".into())?
                    }
                    Err(e) => return Err(TestCaseError::fail(format!("update: {e}"))),
                }
            }
            Op::Delete { tenant: t, target } => {
                let Some(idx) = (!model.rows.is_empty()).then(|| target % model.rows.len()) else {
                    continue;
                };
                let (current, live) = model.rows[idx].clone();
                let mut attempt = current.clone();
                attempt.tenant_id = tenants[t].clone();
                let own = current.tenant_id == tenants[t];
                match delete(store, &attempt).await {
                    Ok(out) => {
                        check(own && live, || "foreign or dead row deleted".into())?;
                        model.rows[idx] = (out.integration, false);
                    }
                    Err(Error::NotFound { .. }) => {
                        check(!own || !live, || "live row not found".into())?
                    }
                    Err(e) => return Err(TestCaseError::fail(format!("delete: {e}"))),
                }
            }
            Op::Get { tenant: t, target } => {
                let Some(idx) = (!model.rows.is_empty()).then(|| target % model.rows.len()) else {
                    continue;
                };
                let (current, live) = &model.rows[idx];
                match store.get(&tenants[t], current.id).await {
                    Ok(got) => {
                        check(&got == current, || "get returned another row".into())?;
                        check(*live && current.tenant_id == tenants[t], || {
                            format!("{} read a row of {}", tenants[t], current.tenant_id)
                        })?;
                    }
                    Err(Error::NotFound { .. }) => {
                        check(!*live || current.tenant_id != tenants[t], || {
                            "own live row not found".into()
                        })?
                    }
                    Err(e) => return Err(TestCaseError::fail(format!("get: {e}"))),
                }
            }
            Op::List { tenant: t } => {
                let items = list_all(store, tenants[t].as_str(), ListFilter::default(), 2).await;
                check(items.iter().all(|i| i.tenant_id == tenants[t]), || {
                    "foreign row listed".into()
                })?;
                check(names(&items) == model.live_names(&tenants[t]), || {
                    format!("{:?} != {:?}", names(&items), model.live_names(&tenants[t]))
                })?;
            }
        }
    }
    for t in &tenants {
        let audit = store
            .audit(t, &AuditQuery::all())
            .await
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        check(audit.iter().all(|e| &e.record.tenant_id == t), || {
            "foreign audit entry".into()
        })?;
        check(verify_chain(&audit).is_ok(), || {
            format!("broken chain: {:?}", verify_chain(&audit))
        })?;
        let own: Vec<IntegrationId> = model
            .rows
            .iter()
            .filter(|(i, _)| &i.tenant_id == t)
            .map(|(i, _)| i.id)
            .collect();
        check(
            audit
                .iter()
                .all(|e| e.record.integration_id.is_some_and(|id| own.contains(&id))),
            || "audit entry about another tenant's integration".into(),
        )?;
    }
    Ok(())
}

/// Property test: random creates, updates, deletes, gets and lists across three tenants
/// (including attempts with other tenants' ids) agree with a model in which tenants never
/// see each other, and every tenant's audit chain stays its own and intact.
///
/// Runs proptest cases (with shrinking) on the calling multi-threaded runtime; each case uses
/// three fresh tenants of the same store.
pub async fn random_operations_never_leak_across_tenants(store: Arc<dyn CatalogStore>) {
    let cases = std::env::var("PATHOPS_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let handle = tokio::runtime::Handle::current();
    let counter = AtomicUsize::new(0);
    let result = tokio::task::block_in_place(|| {
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        });
        runner.run(&proptest::collection::vec(op(), 1..40), |ops| {
            let case = counter.fetch_add(1, Ordering::Relaxed);
            let tenants = [0, 1, 2].map(|n| format!("prop-{case}-{n}"));
            handle.block_on(run_ops(store.as_ref(), &tenants, ops))
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
