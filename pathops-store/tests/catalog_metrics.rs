//! The catalog records its metrics through the `metrics` facade. One test per binary: the
//! recorder is process-global.

use std::sync::Arc;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use pathops_core::FailureCode;
use pathops_store::MemoryStore;
use pathops_testkit::catalog_suite::Harness;
use pathops_testkit::in_memory::Outcome;

#[tokio::test]
async fn crud_health_status_and_latency_are_recorded() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("no other recorder in this binary");

    let h = Harness::new(Arc::new(MemoryStore::new()));
    let c = &h.catalog;
    let a = c
        .create(&h.admin, Harness::input("metered-a"), true)
        .await
        .unwrap();
    let b = c
        .create(&h.admin, Harness::input("metered-b"), false)
        .await
        .unwrap();
    c.update(
        &h.admin,
        b.id,
        b.version,
        &pathops_core::IntegrationPatch {
            tags: Some(pathops_core::Tags::new(["t"]).unwrap()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    c.test_connection(&h.admin, a.id).await.unwrap();
    h.connector.script(
        a.id,
        [Outcome::fail(FailureCode::Connect).with_latency(std::time::Duration::from_millis(5))],
    );
    c.test_connection(&h.admin, a.id).await.unwrap();

    let mut crud = std::collections::BTreeMap::new();
    let mut health_status = None;
    let mut latencies = Vec::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key().clone();
        let labels: Vec<(String, String)> = key
            .labels()
            .map(|l| (l.key().to_owned(), l.value().to_owned()))
            .collect();
        match (key.name(), value) {
            ("integration_crud_total", DebugValue::Counter(n)) => {
                crud.insert(labels[0].1.clone(), n);
            }
            ("integration_health_status", DebugValue::Gauge(v)) => {
                assert_eq!(
                    labels,
                    vec![
                        ("type".into(), "scm".into()),
                        ("tenant".into(), "acme".into())
                    ]
                );
                health_status = Some(v.into_inner());
            }
            ("integration_health_latency_ms", DebugValue::Histogram(values)) => {
                latencies.extend(values.into_iter().map(|v| v.into_inner()));
            }
            _ => {}
        }
    }
    assert_eq!(crud.get("create"), Some(&2));
    assert_eq!(crud.get("update"), Some(&1));
    assert_eq!(crud.get("check"), Some(&2));
    assert_eq!(health_status, Some(0.0), "the last check failed");
    assert_eq!(latencies.len(), 2);
    assert!(
        latencies[1] >= 5.0,
        "the scripted latency is recorded: {latencies:?}"
    );
}
