//! The shared HTTP policy against local servers: user agent, deadline, refused port, DNS
//! failure, body cap, redirects, offline mode, egress rules, dropped connections, TLS errors
//! and a per-integration proxy.

use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use pathops_connectors::http::{
    EgressPolicy, HttpClient, HttpPolicy, HttpRequest, IntegrationHttp, TransportError,
};
use pathops_core::FailureCode;
use pathops_testkit::connector_suite::context;
use pathops_testkit::fake::{FakeServer, Fault, refused_port};
use pathops_testkit::fixtures::IntegrationBuilder;
use secrecy::SecretString;

const SENTINEL: &str = "glpat-SENTINEL-http-policy-7f3a";

async fn serve(router: Router) -> FakeServer {
    FakeServer::bind("127.0.0.1:0".parse().unwrap(), router)
        .await
        .unwrap()
}

async fn origin(second: Option<String>) -> FakeServer {
    let elsewhere = second.unwrap_or_default();
    let router = Router::new()
        .route("/ok", get(|| async { "fine" }))
        .route("/big", get(|| async { "x".repeat(4096) }))
        .route(
            "/old",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/new")]) }),
        )
        .route("/new", get(|| async { "moved here" }))
        .route(
            "/away",
            get(move || {
                let to = format!("{elsewhere}/landing");
                async move { (StatusCode::FOUND, [(header::LOCATION, to)]).into_response() }
            }),
        );
    serve(router).await
}

fn client(policy: HttpPolicy) -> HttpClient {
    HttpClient::new(policy).unwrap()
}

fn secret() -> SecretString {
    SecretString::from(SENTINEL.to_owned())
}

async fn send(
    c: &HttpClient,
    req: HttpRequest,
) -> Result<pathops_connectors::http::HttpResponse, TransportError> {
    c.send_with(
        &IntegrationHttp::default(),
        Instant::now() + Duration::from_secs(5),
        req,
    )
    .await
}

#[tokio::test]
async fn sends_the_user_agent_and_the_credential_as_given() {
    let s = origin(None).await;
    let c = client(HttpPolicy::default());
    let r = send(
        &c,
        HttpRequest::get(format!("{}/ok", s.url())).credential("private-token", "", &secret()),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"fine");
    let seen = &s.requests()[0];
    assert_eq!(
        seen.header("user-agent"),
        Some(pathops_connectors::USER_AGENT)
    );
    assert!(pathops_connectors::USER_AGENT.starts_with("pathops/"));
    assert_eq!(seen.header("private-token"), Some(SENTINEL));
}

#[tokio::test]
async fn the_deadline_wins_over_a_slow_answer() {
    let s = origin(None).await;
    s.inject(Fault::on("/ok").latency(Duration::from_secs(5)));
    let c = client(HttpPolicy::default());
    let integration = IntegrationBuilder::new("acme", "Slow")
        .base_url(&s.url())
        .build();
    let ctx = context(integration, None, Duration::from_millis(200));
    let err = c
        .send(&ctx, HttpRequest::get(format!("{}/ok", s.url())))
        .await
        .unwrap_err();
    assert_eq!(err.failure_code(), FailureCode::Timeout, "{err}");
}

#[tokio::test]
async fn refused_port_and_unknown_host_are_connect_and_dns() {
    let c = client(HttpPolicy::default());
    let err = send(
        &c,
        HttpRequest::get(format!("http://127.0.0.1:{}/x", refused_port())),
    )
    .await
    .unwrap_err();
    assert_eq!(err.failure_code(), FailureCode::Connect, "{err}");
    let err = send(&c, HttpRequest::get("http://pathops-test.invalid/x"))
        .await
        .unwrap_err();
    assert_eq!(err.failure_code(), FailureCode::Dns, "{}", err.describe());
}

#[tokio::test]
async fn a_body_over_the_cap_is_an_invalid_response() {
    let s = origin(None).await;
    let c = client(HttpPolicy {
        max_body_bytes: 1024,
        ..HttpPolicy::default()
    });
    let err = send(&c, HttpRequest::get(format!("{}/big", s.url())))
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransportError::BodyTooLarge { limit: 1024 }),
        "{err}"
    );
    assert_eq!(err.failure_code(), FailureCode::InvalidResponse);
    assert!(
        send(&c, HttpRequest::get(format!("{}/ok", s.url())))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn redirects_are_followed_within_the_origin_only_and_never_carry_credentials_away() {
    let elsewhere = origin(None).await;
    // Another host name for the same machine: localhost vs 127.0.0.1, other port.
    let other = format!("http://localhost:{}", elsewhere.addr().port());
    let other_origin = other.clone();
    let s = origin(Some(other)).await;
    let c = client(HttpPolicy::default());

    let r = send(
        &c,
        HttpRequest::get(format!("{}/old", s.url())).credential("private-token", "", &secret()),
    )
    .await
    .unwrap();
    assert_eq!(r.body, b"moved here");
    assert_eq!(
        s.requests_to("/new")[0].header("private-token"),
        Some(SENTINEL)
    );

    let req = HttpRequest::get(format!("{}/away", s.url()))
        .credential("private-token", "", &secret())
        .credential("authorization", "Bearer ", &secret());
    let err = send(&c, req).await.unwrap_err();
    assert!(
        matches!(&err, TransportError::CrossOriginRedirect { to } if *to == other_origin),
        "{err}"
    );
    assert_eq!(err.failure_code(), FailureCode::InvalidResponse);
    assert!(
        elsewhere.requests().is_empty(),
        "the other host saw no request at all"
    );
    assert!(!err.describe().contains(SENTINEL));
}

#[tokio::test]
async fn a_redirect_to_the_same_host_on_another_port_names_the_other_origin() {
    let elsewhere = origin(None).await;
    let other = format!("http://127.0.0.1:{}", elsewhere.addr().port());
    let s = origin(Some(other.clone())).await;
    let c = client(HttpPolicy::default());
    let err = send(&c, HttpRequest::get(format!("{}/away", s.url())))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "redirect to another origin ({other}) not followed: credentials stay with the \
             configured origin"
        )
    );
    assert!(elsewhere.requests().is_empty());
}

/// A TCP server on loopback that runs `answer` on every connection.
async fn raw_server<F, Fut>(answer: F) -> std::net::SocketAddr
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(answer(stream));
        }
    });
    addr
}

#[tokio::test]
async fn tls_to_a_silent_port_is_a_connect_timeout_named_as_such() {
    // Accepts the connection and never says anything: the TLS handshake waits.
    let addr = raw_server(|stream| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(stream);
    })
    .await;
    let c = client(HttpPolicy {
        connect_timeout: Duration::from_millis(300),
        ..HttpPolicy::default()
    });
    let started = Instant::now();
    let err = c
        .send_with(
            &IntegrationHttp::default(),
            Instant::now() + Duration::from_secs(10),
            HttpRequest::get(format!("https://127.0.0.1:{}/", addr.port())),
        )
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(err, TransportError::ConnectTimeout { .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "no connection to 127.0.0.1 within 300 ms (TCP and TLS handshake)"
    );
    assert_eq!(err.failure_code(), FailureCode::Timeout);
}

#[tokio::test]
async fn a_host_that_answers_in_another_protocol_is_reachable_with_an_invalid_response() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    // SSH talks first; this one answers the request with a line that is not HTTP.
    let talks_first = raw_server(|mut stream| async move {
        let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.6\r\n").await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    })
    .await;
    let answers_garbage = raw_server(|mut stream| async move {
        let mut buf = [0u8; 1024];
        let _ = stream.read(&mut buf).await;
        let _ = stream
            .write_all(b"220 mail.example.com ESMTP ready\r\n")
            .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    })
    .await;
    let c = client(HttpPolicy::default());
    for addr in [talks_first, answers_garbage] {
        let err = send(
            &c,
            HttpRequest::get(format!("http://127.0.0.1:{}/", addr.port())),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, TransportError::NotHttp { .. }),
            "{}",
            err.describe()
        );
        assert_eq!(err.to_string(), "127.0.0.1 answered, but not with HTTP");
        assert_eq!(err.failure_code(), FailureCode::InvalidResponse);
    }
    // Reachability passed: the host answered; what it said is the problem.
    let result =
        pathops_core::CheckResult::failed(FailureCode::InvalidResponse, Duration::ZERO, "x");
    assert_eq!(result.reachability, pathops_core::Probe::Passed);
}

#[tokio::test]
async fn offline_mode_makes_no_call() {
    let s = origin(None).await;
    let c = client(HttpPolicy {
        offline: true,
        ..HttpPolicy::default()
    });
    let err = send(&c, HttpRequest::get(format!("{}/ok", s.url())))
        .await
        .unwrap_err();
    assert_eq!(err.failure_code(), FailureCode::Offline);
    assert!(s.requests().is_empty());
}

#[tokio::test]
async fn egress_rules_refuse_before_calling() {
    let s = origin(None).await;
    let private = client(HttpPolicy {
        egress: EgressPolicy {
            allowed_hosts: vec![],
            block_private_addresses: true,
            allowed_proxies: vec![],
        },
        ..HttpPolicy::default()
    });
    let err = send(&private, HttpRequest::get(format!("{}/ok", s.url())))
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::EgressRefused { .. }), "{err}");
    assert_eq!(err.failure_code(), FailureCode::EgressDenied);
    // A name that resolves to loopback is refused too.
    let by_name = format!("http://localhost:{}/ok", s.addr().port());
    let err = send(&private, HttpRequest::get(by_name)).await.unwrap_err();
    assert!(
        matches!(err, TransportError::EgressRefused { .. }),
        "{}",
        err.describe()
    );

    let listed = client(HttpPolicy {
        egress: EgressPolicy {
            allowed_hosts: vec!["gitlab.example.com".into()],
            block_private_addresses: false,
            allowed_proxies: vec![],
        },
        ..HttpPolicy::default()
    });
    let err = send(&listed, HttpRequest::get(format!("{}/ok", s.url())))
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::EgressRefused { .. }), "{err}");
    assert!(s.requests().is_empty(), "nothing reached the server");
}

#[tokio::test]
async fn a_dropped_connection_is_connect_and_tls_to_a_plain_server_is_tls() {
    let s = origin(None).await;
    s.inject(Fault::on("/ok").drop_connection());
    let c = client(HttpPolicy::default());
    let err = send(&c, HttpRequest::get(format!("{}/ok", s.url())))
        .await
        .unwrap_err();
    assert_eq!(
        err.failure_code(),
        FailureCode::Connect,
        "{}",
        err.describe()
    );
    let tls = format!("https://127.0.0.1:{}/ok", s.addr().port());
    let err = send(&c, HttpRequest::get(tls)).await.unwrap_err();
    assert_eq!(err.failure_code(), FailureCode::Tls, "{}", err.describe());
}

#[tokio::test]
async fn the_integration_proxy_is_used() {
    let proxy = serve(Router::new().route("/via-proxy", get(|| async { "proxied" }))).await;
    let c = client(HttpPolicy::default());
    let integration = IntegrationBuilder::new("acme", "Behind proxy")
        .configuration(serde_json::json!({ "proxy_url": proxy.url() }))
        .build();
    let ctx = context(integration, None, Duration::from_secs(5));
    // The target does not resolve: only the proxy can answer.
    let r = c
        .send(
            &ctx,
            HttpRequest::get("http://tool.pathops-test.invalid/via-proxy"),
        )
        .await
        .unwrap();
    assert_eq!(r.body, b"proxied");
    assert_eq!(
        proxy.requests()[0].header("host"),
        Some("tool.pathops-test.invalid")
    );
}

#[tokio::test]
async fn with_private_addresses_blocked_a_tenant_proxy_cannot_bypass_the_filter() {
    let proxy = serve(Router::new().route("/via-proxy", get(|| async { "proxied" }))).await;
    let blocked = |allowed_proxies: Vec<String>| {
        client(HttpPolicy {
            egress: EgressPolicy {
                allowed_hosts: vec![],
                block_private_addresses: true,
                allowed_proxies,
            },
            ..HttpPolicy::default()
        })
    };
    let via = |proxy_url: String| {
        let integration = IntegrationBuilder::new("acme", "Behind proxy")
            .configuration(serde_json::json!({ "proxy_url": proxy_url }))
            .build();
        context(integration, None, Duration::from_secs(5))
    };
    let target = "http://tool.pathops-test.invalid/via-proxy";
    // An IP-literal proxy the operator never listed, and a socks5h proxy even when listed.
    let c = blocked(vec![]);
    let err = c
        .send(&via(proxy.url()), HttpRequest::get(target))
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransportError::EgressRefused { .. }),
        "{}",
        err.describe()
    );
    assert_eq!(err.failure_code(), FailureCode::EgressDenied);
    let listed = blocked(vec!["127.0.0.1".into()]);
    let socks = format!("socks5h://127.0.0.1:{}", proxy.addr().port());
    let err = listed
        .send(&via(socks), HttpRequest::get(target))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("socks5h"), "{err}");
    assert!(
        proxy.requests().is_empty(),
        "the refused proxies saw nothing"
    );
    // The operator's allowlisted proxy is used.
    let r = listed
        .send(&via(proxy.url()), HttpRequest::get(target))
        .await
        .unwrap();
    assert_eq!(r.body, b"proxied");
    // A proxy outside the host allowlist is refused whatever the address switch says.
    let allowlisted_hosts = client(HttpPolicy {
        egress: EgressPolicy {
            allowed_hosts: vec!["tool.pathops-test.invalid".into()],
            block_private_addresses: false,
            allowed_proxies: vec![],
        },
        ..HttpPolicy::default()
    });
    let err = allowlisted_hosts
        .send(&via(proxy.url()), HttpRequest::get(target))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("proxy not in the allowlist"),
        "{err}"
    );
}

#[test]
fn a_bad_global_proxy_is_invalid_config_at_construction() {
    let err = HttpClient::new(HttpPolicy {
        proxy: Some("::not a url::".into()),
        ..HttpPolicy::default()
    })
    .unwrap_err();
    assert!(
        matches!(err, pathops_core::Error::InvalidConfig { .. }),
        "{err}"
    );
}

fn ctx_for(base_url: &str) -> pathops_core::ConnectorContext {
    let integration = IntegrationBuilder::new("acme", "Bound")
        .base_url(base_url)
        .build();
    context(integration, None, Duration::from_secs(5))
}

#[tokio::test]
async fn a_credential_goes_only_to_the_integrations_own_origin() {
    let own = origin(None).await;
    let other = origin(None).await;
    let c = client(HttpPolicy::default());
    let ctx = ctx_for(&own.url());
    // Same host, another port; and another host: both are other origins.
    for url in [
        format!("{}/ok", other.url()),
        format!("http://localhost:{}/ok", own.addr().port()),
    ] {
        let err = c
            .send(
                &ctx,
                HttpRequest::get(&url).credential("private-token", "", &secret()),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&err, TransportError::CredentialRefused { reason, .. } if reason.contains("own origin")),
            "{url}: {}",
            err.describe()
        );
        assert_eq!(err.failure_code(), FailureCode::EgressDenied);
        assert!(!err.describe().contains(SENTINEL));
    }
    assert!(other.requests().is_empty(), "the other origin saw nothing");
    assert!(own.requests().is_empty());
    // Without a credential the request is the connector's business; with one to its own
    // origin it goes through.
    let r = c
        .send(&ctx, HttpRequest::get(format!("{}/ok", other.url())))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let r = c
        .send(
            &ctx,
            HttpRequest::get(format!("{}/ok", own.url())).credential(
                "private-token",
                "",
                &secret(),
            ),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(own.requests()[0].header("private-token"), Some(SENTINEL));
}

#[tokio::test]
async fn credentials_never_travel_over_plain_http_except_to_loopback() {
    let base = "http://tool.pathops-test.invalid";
    let request =
        || HttpRequest::get(format!("{base}/ok")).credential("private-token", "", &secret());
    let err = client(HttpPolicy::default())
        .send(&ctx_for(base), request())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TransportError::CredentialRefused { reason, .. } if reason.contains("plain http")),
        "{}",
        err.describe()
    );
    // With the policy's consent the request is sent (and fails on DNS, as this host does not
    // exist): the refusal above came from the rule, not from the network.
    let allowed = client(HttpPolicy {
        allow_http: true,
        ..HttpPolicy::default()
    });
    let err = allowed.send(&ctx_for(base), request()).await.unwrap_err();
    assert_eq!(err.failure_code(), FailureCode::Dns, "{}", err.describe());
    // Loopback is exempt: local tools and tests.
    let local = origin(None).await;
    let r = client(HttpPolicy::multi_tenant())
        .send(
            &ctx_for(&local.url()),
            HttpRequest::get(format!("{}/ok", local.url())).credential(
                "private-token",
                "",
                &secret(),
            ),
        )
        .await;
    // multi_tenant blocks private addresses, loopback included: refused by egress, not by
    // the plain-http rule.
    let err = r.unwrap_err();
    assert!(
        matches!(err, TransportError::EgressRefused { .. }),
        "{}",
        err.describe()
    );
    let r = client(HttpPolicy::default())
        .send(
            &ctx_for(&local.url()),
            HttpRequest::get(format!("{}/ok", local.url())).credential(
                "private-token",
                "",
                &secret(),
            ),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn the_client_cache_is_bounded() {
    let s = origin(None).await;
    let c = client(HttpPolicy {
        max_cached_clients: 3,
        ..HttpPolicy::default()
    });
    // Forty tenants, forty distinct proxies (all the same local server under other names).
    for n in 0..40 {
        let settings = IntegrationHttp {
            proxy_url: Some(format!("http://127.0.0.1:{}/p{n}", s.addr().port())),
            ca_certificate_pem: None,
        };
        let r = c
            .send_with(
                &settings,
                Instant::now() + Duration::from_secs(5),
                HttpRequest::get(format!("{}/ok", s.url())),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200);
    }
    let cached = c.cached_clients();
    assert!((1..=3).contains(&cached), "{cached} clients cached");
}
