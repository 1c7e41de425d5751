//! `integration_crud_total` is counted once per operation that goes through the API, and not
//! for a request the API refuses. One test per binary: the metrics recorder is process-global.
#![cfg(feature = "api")]

use std::collections::BTreeMap;
use std::sync::Arc;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use pathops_connectors::api::{Api, StaticTokens};
use pathops_core::ConnectorRegistry;
use pathops_core::catalog::{Catalog, Principal};
use pathops_store::MemoryStore;
use pathops_testkit::in_memory::InMemoryConnector;
use serde_json::json;

const TOKEN: &str = "metrics-admin-token-01";

/// The counts so far: the debugging recorder's snapshots hand out what was counted since the
/// last one, so they are added up here.
fn crud(snapshotter: &Snapshotter) -> BTreeMap<String, u64> {
    static TOTALS: std::sync::Mutex<BTreeMap<String, u64>> = std::sync::Mutex::new(BTreeMap::new());
    let mut out = TOTALS.lock().unwrap();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        if let ("integration_crud_total", DebugValue::Counter(n)) = (key.key().name(), value) {
            let action = key
                .key()
                .labels()
                .find(|l| l.key() == "action")
                .map(|l| l.value().to_owned())
                .unwrap_or_default();
            *out.entry(action).or_default() += n;
        }
    }
    out.retain(|_, n| *n > 0);
    out.clone()
}

#[tokio::test]
async fn each_api_operation_counts_once_and_refused_requests_count_nothing() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("no other recorder in this binary");

    let mut connectors = ConnectorRegistry::new();
    connectors
        .register(Arc::new(InMemoryConnector::default()))
        .unwrap();
    let catalog = Catalog::builder(Arc::new(MemoryStore::new()))
        .with_connectors(connectors)
        .build()
        .unwrap();
    let tokens = StaticTokens::new()
        .with_token(
            TOKEN,
            Principal::admin("acme".parse().unwrap(), "alice".parse().unwrap()),
        )
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = Api::new(catalog).with_principals(tokens).router();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = reqwest::Client::new();
    let send = |method: reqwest::Method,
                path: String,
                body: Option<serde_json::Value>,
                if_match: Option<&'static str>| {
        let mut r = http
            .request(method, format!("{base}{path}"))
            .bearer_auth(TOKEN);
        if let Some(b) = body {
            r = r.json(&b);
        }
        if let Some(m) = if_match {
            r = r.header("if-match", m);
        }
        async move { r.send().await.unwrap() }
    };

    let body = json!({"provider": "in-memory", "type": "scm", "name": "counted", "base_url": "https://t.example.com"});
    let created = send(
        reqwest::Method::POST,
        "/api/v1/integrations".into(),
        Some(body.clone()),
        None,
    )
    .await;
    assert_eq!(created.status(), 201);
    let id = created.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(crud(&snapshotter).get("create"), Some(&1));

    // Refused before the catalog writes: a duplicate name, a stale If-Match, a missing one.
    assert_eq!(
        send(
            reqwest::Method::POST,
            "/api/v1/integrations".into(),
            Some(body),
            None
        )
        .await
        .status(),
        409
    );
    let mut renamed = json!({"provider": "in-memory", "type": "scm", "name": "renamed", "base_url": "https://t.example.com"});
    let path = format!("/api/v1/integrations/{id}");
    assert_eq!(
        send(
            reqwest::Method::PUT,
            path.clone(),
            Some(renamed.clone()),
            Some("\"9\"")
        )
        .await
        .status(),
        412
    );
    assert_eq!(
        send(
            reqwest::Method::PUT,
            path.clone(),
            Some(renamed.clone()),
            None
        )
        .await
        .status(),
        428
    );
    let counts = crud(&snapshotter);
    assert_eq!(counts.get("create"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("update"), None, "{counts:?}");

    renamed["submit"] = json!(true);
    assert_eq!(
        send(
            reqwest::Method::PUT,
            path.clone(),
            Some(renamed),
            Some("\"1\"")
        )
        .await
        .status(),
        200
    );
    let paused = send(
        reqwest::Method::POST,
        format!("{path}/pause"),
        Some(json!({"reason": "window"})),
        None,
    )
    .await;
    assert_eq!(paused.status(), 200);
    assert_eq!(
        send(reqwest::Method::DELETE, path.clone(), None, None)
            .await
            .status(),
        204
    );
    let counts = crud(&snapshotter);
    assert_eq!(counts.get("update"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("submit"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("pause"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("delete"), Some(&1), "{counts:?}");
    // Reads count nothing.
    assert_eq!(
        send(
            reqwest::Method::GET,
            "/api/v1/integrations".into(),
            None,
            None
        )
        .await
        .status(),
        200
    );
    assert_eq!(crud(&snapshotter), counts);
}
