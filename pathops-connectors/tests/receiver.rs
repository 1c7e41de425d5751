//! The receiver's HTTP edge: body cap, request timeout, concurrency limit, JSON errors.
#![cfg(feature = "receiver")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode, header};
use pathops_connectors::receiver::{RouterOptions, router, router_with};
use pathops_core::webhook::{ChallengeRegistry, DeliveryKind, WebhookReceiver, WebhookSecrets};
use secrecy::SecretString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower::ServiceExt;

const CAP: usize = 1024;

fn receiver() -> WebhookReceiver {
    WebhookReceiver::new(Arc::new(ChallengeRegistry::new())).with_secrets(
        DeliveryKind::GitLab,
        WebhookSecrets::single(SecretString::from("hook-token")),
    )
}

fn capped() -> WebhookReceiver {
    receiver().with_max_body_bytes(CAP)
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr.to_string()
}

async fn answer(app: Router, request: Request<Body>) -> (StatusCode, serde_json::Value) {
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    assert_eq!(
        content_type.as_ref().map(|v| v.to_str().unwrap()),
        Some("application/json"),
        "{status}: {body:?}"
    );
    (status, serde_json::from_slice(&body).unwrap())
}

fn post(path: &str, token: &str, body: Body) -> Request<Body> {
    Request::post(path)
        .header("X-Gitlab-Token", token)
        .header("X-Gitlab-Event", "Push Hook")
        .body(body)
        .unwrap()
}

fn too_large() -> serde_json::Value {
    serde_json::json!({ "error": "too_large" })
}

/// A body of `total` bytes pulled lazily in `chunk`-byte frames, counting what was pulled.
fn counted_stream(total: usize, chunk: usize, pulled: Arc<AtomicUsize>) -> Body {
    let frames = total.div_ceil(chunk);
    let data = Bytes::from(vec![b' '; chunk]);
    Body::from_stream(futures::stream::iter(0..frames).map(move |_| {
        pulled.fetch_add(chunk, Ordering::SeqCst);
        Ok::<_, std::io::Error>(data.clone())
    }))
}

use futures::StreamExt as _;

#[tokio::test]
async fn one_byte_over_the_cap_reaches_the_receiver_which_answers_413_itself() {
    let (status, body) = answer(
        router(capped()),
        post(
            "/webhooks/gitlab",
            "hook-token",
            Body::from(vec![b' '; CAP + 1]),
        ),
    )
    .await;
    assert_eq!((status, body), (StatusCode::PAYLOAD_TOO_LARGE, too_large()));
    // At the cap it is read and verified (and, being spaces, is not JSON).
    let (status, _) = answer(
        router(capped()),
        post(
            "/webhooks/gitlab",
            "hook-token",
            Body::from(vec![b' '; CAP]),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_60_mb_body_is_refused_after_at_most_the_cap_plus_one_frame() {
    // Chunked (no Content-Length): read until it passes cap + 1, then refused.
    let pulled = Arc::new(AtomicUsize::new(0));
    let chunk = 16 * 1024;
    let cap = WebhookReceiver::DEFAULT_MAX_BODY_BYTES;
    let (status, body) = answer(
        router(receiver()),
        post(
            "/webhooks/gitlab",
            "hook-token",
            counted_stream(60_000_000, chunk, pulled.clone()),
        ),
    )
    .await;
    assert_eq!((status, body), (StatusCode::PAYLOAD_TOO_LARGE, too_large()));
    let read = pulled.load(Ordering::SeqCst);
    assert!(read <= cap + 1 + chunk, "{read} bytes pulled");

    // With a Content-Length over the limit, not one frame is pulled.
    let pulled = Arc::new(AtomicUsize::new(0));
    let mut request = post(
        "/webhooks/gitlab",
        "hook-token",
        counted_stream(60_000_000, chunk, pulled.clone()),
    );
    request
        .headers_mut()
        .insert(header::CONTENT_LENGTH, "60000000".parse().unwrap());
    let (status, body) = answer(router(receiver()), request).await;
    assert_eq!((status, body), (StatusCode::PAYLOAD_TOO_LARGE, too_large()));
    assert_eq!(pulled.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn over_tcp_a_60_mb_upload_is_answered_before_it_is_sent() {
    let addr = serve(router(receiver())).await;
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    let total = 60_000_000usize;
    let head = format!(
        "POST /webhooks/gitlab HTTP/1.1\r\nHost: x\r\nX-Gitlab-Token: hook-token\r\nContent-Length: {total}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let writer = tokio::spawn(async move {
        let chunk = vec![b' '; 64 * 1024];
        let mut sent = 0;
        while sent < total {
            if write.write_all(&chunk).await.is_err() {
                break;
            }
            sent += chunk.len();
        }
        sent
    });
    let mut response = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), read.read(&mut response))
        .await
        .expect("answered while the body was still being sent")
        .unwrap();
    let response = String::from_utf8_lossy(&response[..n]).into_owned();
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.ends_with(r#"{"error":"too_large"}"#), "{response}");
    drop(read);
    let sent = tokio::time::timeout(Duration::from_secs(10), writer)
        .await
        .expect("the server closed the connection")
        .unwrap();
    assert!(sent < total, "the whole body was sent ({sent} bytes)");
}

/// Sends headers announcing `length` bytes and `partial` of them, then stalls.
async fn stalled(addr: &str, length: usize, partial: usize) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /webhooks/gitlab HTTP/1.1\r\nHost: x\r\nX-Gitlab-Token: hook-token\r\nContent-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&vec![b'{'; partial]).await.unwrap();
    stream
}

async fn read_answer(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.windows(4).any(|w| w == b"\r\n\r\n") && out.ends_with(b"}") {
                    break;
                }
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn a_stalled_body_times_out_with_a_json_408() {
    let options = RouterOptions::new().with_request_timeout(Duration::from_millis(300));
    let addr = serve(router_with(receiver(), options)).await;
    let started = Instant::now();
    let mut stream = stalled(&addr, 1000, 10).await;
    let answer = tokio::time::timeout(Duration::from_secs(10), read_answer(&mut stream))
        .await
        .expect("answered");
    let elapsed = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.ends_with(r#"{"error":"timeout"}"#), "{answer}");
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn requests_past_the_concurrency_limit_are_refused_at_once() {
    let options = RouterOptions::new()
        .with_max_in_flight(2)
        .with_request_timeout(Duration::from_secs(30));
    let addr = serve(router_with(receiver(), options)).await;
    let held = [
        stalled(&addr, 1000, 10).await,
        stalled(&addr, 1000, 10).await,
    ];
    tokio::time::sleep(Duration::from_millis(200)).await;
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/webhooks/gitlab");
    let started = Instant::now();
    let refused = client
        .post(&url)
        .header("X-Gitlab-Token", "hook-token")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(
        refused.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({ "error": "overloaded" })
    );
    // Once the stalled requests are gone, deliveries go through again.
    drop(held);
    let mut status = 0;
    for _ in 0..50 {
        status = client
            .post(&url)
            .header("X-Gitlab-Token", "hook-token")
            .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
            .body("{}")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        if status != 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_routers_own_errors_are_json_like_the_receivers() {
    let app = || router(capped());
    let (status, body) = answer(
        app(),
        Request::get("/webhooks/gitlab")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::METHOD_NOT_ALLOWED,
            serde_json::json!({ "error": "method_not_allowed" })
        )
    );
    let response = app()
        .oneshot(
            Request::get("/webhooks/gitlab")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.headers()[header::ALLOW], "POST");
    for path in [
        "/nope",
        "/webhooks/bitbucket-cloud",
        "/webhooks/gitlab/extra",
    ] {
        let (status, body) = answer(app(), post(path, "hook-token", Body::from("{}"))).await;
        assert_eq!(
            (status, body),
            (
                StatusCode::NOT_FOUND,
                serde_json::json!({ "error": "not_found" })
            ),
            "{path}"
        );
    }
    let mut request = post(
        "/webhooks/gitlab",
        "hook-token",
        Body::from(vec![b' '; CAP + 2]),
    );
    request
        .headers_mut()
        .insert(header::CONTENT_LENGTH, (CAP + 2).into());
    assert_eq!(
        answer(app(), request).await,
        (StatusCode::PAYLOAD_TOO_LARGE, too_large())
    );
}

#[tokio::test]
async fn a_wrong_token_with_bad_json_is_401_and_the_right_one_400() {
    let (status, body) = answer(
        router(receiver()),
        post("/webhooks/gitlab", "wrong", Body::from("{nope")),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::UNAUTHORIZED,
            serde_json::json!({ "error": "unauthorized" })
        )
    );
    let (status, _) = answer(
        router(receiver()),
        post("/webhooks/gitlab", "hook-token", Body::from("{nope")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// Peak memory while 200 clients each send a 1 MiB body at once (the receiver's default
/// cap), and while 8 send 60 MB. Prints the numbers; run with
/// `cargo test -p pathops-connectors --test receiver -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check"]
async fn peak_memory_under_concurrent_large_bodies() {
    fn status(field: &str) -> String {
        std::fs::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with(field))
            .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    }
    let addr = serve(router(receiver())).await;
    eprintln!(
        "before: VmHWM {} VmRSS {}",
        status("VmHWM:"),
        status("VmRSS:")
    );
    for (clients, size) in [(8usize, 60_000_000usize), (200, 1024 * 1024)] {
        let chunk = Bytes::from(vec![b' '; 64 * 1024]);
        let tasks: Vec<_> = (0..clients)
            .map(|_| {
                let addr = addr.clone();
                let chunk = chunk.clone();
                tokio::spawn(async move {
                    let mut stream = TcpStream::connect(&addr).await.unwrap();
                    let head = format!(
                        "POST /webhooks/gitlab HTTP/1.1\r\nHost: x\r\nX-Gitlab-Token: wrong\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
                    );
                    stream.write_all(head.as_bytes()).await.unwrap();
                    let mut sent = 0;
                    while sent < size {
                        let n = chunk.len().min(size - sent);
                        if stream.write_all(&chunk[..n]).await.is_err() {
                            break;
                        }
                        sent += n;
                    }
                    let answer = read_answer(&mut stream).await;
                    answer.get(9..12).unwrap_or("---").to_owned()
                })
            })
            .collect();
        let mut statuses = std::collections::BTreeMap::<String, usize>::new();
        for t in tasks {
            *statuses.entry(t.await.unwrap()).or_default() += 1;
        }
        eprintln!(
            "{clients} concurrent bodies of {size} bytes: answers {statuses:?}; VmHWM {} VmRSS {}",
            status("VmHWM:"),
            status("VmRSS:")
        );
    }
}
