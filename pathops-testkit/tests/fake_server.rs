//! The shared fake server: request log, faults, shutdown on drop.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use pathops_testkit::fake::{FakeServer, Fault};

async fn server() -> FakeServer {
    let router = Router::new().route("/hello", get(|| async { "hi" }));
    FakeServer::bind("127.0.0.1:0".parse().unwrap(), router)
        .await
        .unwrap()
}

#[tokio::test]
async fn logs_requests_and_applies_faults_in_order() {
    let s = server().await;
    let client = reqwest::Client::new();
    let r = client
        .get(format!("{}/hello?x=1", s.url()))
        .header("X-Probe", "one")
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "hi");

    s.inject(
        Fault::on("/hello")
            .status(503)
            .header("Retry-After", "7")
            .times(1),
    );
    let r = client
        .get(format!("{}/hello", s.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "7");
    let r = client
        .get(format!("{}/hello", s.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "a fault limited to one request applies once"
    );

    s.inject(Fault::on_prefix("/he").drop_connection());
    let err = client
        .get(format!("{}/hello", s.url()))
        .send()
        .await
        .unwrap_err();
    assert!(
        !err.is_status(),
        "a dropped connection is not an HTTP answer: {err}"
    );
    s.clear_faults();

    s.set_latency(Duration::from_secs(5));
    let err = client
        .get(format!("{}/hello", s.url()))
        .timeout(Duration::from_millis(100))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    s.set_latency(Duration::ZERO);

    let log = s.requests();
    assert_eq!(log.len(), 5);
    assert_eq!(log[0].query.as_deref(), Some("x=1"));
    assert_eq!(log[0].header("x-probe"), Some("one"));
    assert_eq!(s.requests_to("/hello").len(), 5);
}

#[tokio::test]
async fn unknown_routes_are_not_silently_answered_and_drop_stops_the_server() {
    let s = server().await;
    let url = s.url();
    let r = reqwest::get(format!("{url}/nope")).await.unwrap();
    assert_eq!(r.status(), 404);
    drop(s);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let err = reqwest::get(format!("{url}/hello")).await.unwrap_err();
    assert!(err.is_connect(), "{err}");
}
