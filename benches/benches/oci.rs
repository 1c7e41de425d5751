//! The OCI connector (issue 15) against a real registry on loopback (the CNCF distribution
//! registry from `PATHOPS_TEST_REGISTRY_BIN`, default `/usr/bin/docker-registry`) with token
//! auth (ES256 JWTs from the testkit's token server):
//!
//! - 100 checks of one integration: token requests made (target: 1 while the token is valid);
//! - `check`: one `test_connection` (no repository: `GET /v2/` with the cached token) beside a
//!   bare reqwest `GET /v2/` with a token fetched beforehand. Target: PathOps p50 ≤ 1.2 × bare,
//!   measured again outside criterion over 2,000 interleaved calls.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use pathops_benches::{measuring, runtime};
use pathops_connectors::http::HttpPolicy;
use pathops_connectors::oci::OciConnector;
use pathops_core::{ConnectorContext, Integration, IntegrationConnector, NewIntegration, Provider};
use pathops_testkit::registry::{RegistryServer, TokenServer, TokenUser};
use secrecy::SecretString;

const PASSWORD: &str = "bench-registry-password";

fn integration(url: &str, auth_origin: &str) -> Integration {
    let input = NewIntegration::builder("registry", Provider::OciRegistry, url)
        .with_configuration(serde_json::json!({"username": "bench", "auth_origin": auth_origin}))
        .build()
        .expect("input");
    Integration::new_draft(
        pathops_core::IntegrationId::new(),
        "bench".parse().unwrap(),
        input,
        "bench".parse().unwrap(),
        time::OffsetDateTime::now_utc(),
    )
}

fn p50(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn oci(c: &mut Criterion) {
    let bin = std::env::var("PATHOPS_TEST_REGISTRY_BIN")
        .unwrap_or_else(|_| "/usr/bin/docker-registry".to_owned());
    if !std::path::Path::new(&bin).exists() {
        eprintln!("skipping: no registry binary at {bin} (set PATHOPS_TEST_REGISTRY_BIN)");
        return;
    }
    let rt = runtime();
    let (tokens, registry) = rt.block_on(async {
        let tokens = TokenServer::start(vec![TokenUser::new("bench", PASSWORD)]).await;
        let registry = RegistryServer::start(&bin, tokens.auth()).await;
        (tokens, registry)
    });
    let connector = Arc::new(
        OciConnector::builder(Provider::OciRegistry)
            .with_http(HttpPolicy::default())
            .build()
            .expect("connector"),
    );
    let integration = Arc::new(integration(registry.url(), tokens.origin()));
    let ctx = || {
        ConnectorContext::new(
            integration.clone(),
            Some(SecretString::from(PASSWORD.to_owned())),
            Duration::from_secs(10),
        )
    };
    rt.block_on(async {
        for _ in 0..100 {
            let r = connector.test_connection(&ctx()).await;
            assert!(r.is_success(), "{}", r.message);
        }
    });
    let made = connector.token_requests();
    eprintln!(
        "oci: 100 checks made {made} token request(s) (token server saw {}; target 1: {})",
        tokens.requests(),
        if made == 1 { "meets" } else { "MISSES" }
    );

    let http = reqwest::Client::new();
    let token = tokens.token_for("bench", &[]);
    let v2 = format!("{}/v2/", registry.url());
    let bare = || {
        let http = http.clone();
        let url = v2.clone();
        let token = token.clone();
        async move {
            let r = http.get(url).bearer_auth(token).send().await.expect("bare");
            assert!(r.status().is_success());
            r.bytes().await.expect("body").len()
        }
    };
    let mut group = c.benchmark_group("oci/check");
    group.bench_function("pathops", |b| {
        b.to_async(&rt).iter(|| async {
            let r = connector.test_connection(&ctx()).await;
            assert!(r.is_success());
        })
    });
    group.bench_function("bare-reqwest", |b| b.to_async(&rt).iter(bare));
    group.finish();

    let n = if measuring() { 2_000 } else { 50 };
    let (a, b) = rt.block_on(async {
        let (mut a, mut b) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for _ in 0..n {
            let started = Instant::now();
            connector.test_connection(&ctx()).await;
            a.push(started.elapsed());
            let started = Instant::now();
            bare().await;
            b.push(started.elapsed());
        }
        (a, b)
    });
    let (pa, pb) = (p50(a), p50(b));
    let ratio = pa.as_secs_f64() / pb.as_secs_f64();
    eprintln!(
        "oci check p50 pathops {pa:.1?}  bare {pb:.1?}  ratio {ratio:.3} ({} <= 1.2); token requests in all: {}",
        if ratio <= 1.2 { "meets" } else { "MISSES" },
        connector.token_requests()
    );
}

criterion_group!(benches, oci);
criterion_main!(benches);
