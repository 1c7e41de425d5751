//! The REST API (issue 13) over loopback HTTP against a hand-written axum handler doing the
//! same store call, both over one SQLite catalog (a file in a temporary directory) of
//! `PATHOPS_BENCH_ROWS` integrations (default 100,000):
//!
//! - `list_100`: `GET /api/v1/integrations?limit=100` (the first page, by name);
//! - `get`: `GET /api/v1/integrations/{id}`, spread over the seeded rows.
//!
//! The hand-written side is an axum route that calls the same `CatalogStore` method with a
//! fixed tenant and serializes the same wire type (`IntegrationView`): no authentication, no
//! extractors of ours, no problem or limit layers. The difference is what the API adds.
//!
//! Besides criterion's report, each operation is measured again outside criterion: the p50 of
//! 2,000 sequential requests per side, interleaved (target: PathOps p50 ≤ 1.2 × hand-written),
//! and the throughput of 64 concurrent clients for 3 s per side, both printed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use criterion::{Criterion, criterion_group, criterion_main};
use pathops_benches::{env_size, measuring, runtime};
use pathops_connectors::api::{Api, IntegrationView, StaticTokens};
use pathops_core::catalog::{Catalog, Principal};
use pathops_core::page::ListQuery;
use pathops_core::{CatalogStore, IntegrationId, NewIntegration, Provider, TenantId};

const TOKEN: &str = "bench-admin-token-000000";
const TENANT: &str = "bench";

fn rows() -> usize {
    if measuring() {
        env_size("PATHOPS_BENCH_ROWS", 100_000)
    } else {
        200
    }
}

/// The hand-written baseline.
#[derive(Clone)]
struct Raw {
    store: Arc<dyn CatalogStore>,
    tenant: TenantId,
}

#[derive(serde::Deserialize)]
struct Limit {
    limit: Option<u32>,
}

async fn raw_list(State(raw): State<Raw>, Query(q): Query<Limit>) -> axum::response::Response {
    let query = ListQuery {
        limit: q.limit,
        ..ListQuery::default()
    };
    let page = raw.store.list(&raw.tenant, &query).await.expect("list");
    axum::Json(RawPage {
        items: page.items.iter().map(IntegrationView::from).collect(),
        next_cursor: page.next_cursor.map(|c| c.as_str().to_owned()),
    })
    .into_response()
}

/// The page the baseline answers, serialized directly as the API's is.
#[derive(serde::Serialize)]
struct RawPage {
    items: Vec<IntegrationView>,
    next_cursor: Option<String>,
}

async fn raw_get(
    State(raw): State<Raw>,
    Path(id): Path<IntegrationId>,
) -> axum::response::Response {
    let i = raw.store.get(&raw.tenant, id).await.expect("get");
    axum::Json(IntegrationView::from(&i)).into_response()
}

use axum::response::IntoResponse;

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    format!("http://{addr}")
}

async fn fetch(http: &reqwest::Client, url: &str, token: Option<&str>) -> usize {
    let mut request = http.get(url);
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request.send().await.expect("request");
    assert!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    response.bytes().await.expect("body").len()
}

/// One side of a comparison: a URL for the n-th request and the token it sends.
struct Side {
    name: &'static str,
    url: Box<dyn Fn(usize) -> String + Send + Sync>,
    token: Option<&'static str>,
}

fn p50(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

async fn compare(http: &reqwest::Client, op: &str, pathops: &Side, raw: &Side) {
    let n = if measuring() { 2_000 } else { 50 };
    let (mut a, mut b) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        for (side, out) in [(pathops, &mut a), (raw, &mut b)] {
            let url = (side.url)(i);
            let started = Instant::now();
            fetch(http, &url, side.token).await;
            out.push(started.elapsed());
        }
    }
    let (pa, pb) = (p50(a), p50(b));
    let ratio = pa.as_secs_f64() / pb.as_secs_f64();
    eprintln!(
        "api {op:<9} p50 pathops {pa:>9.1?}  hand-written {pb:>9.1?}  ratio {ratio:.3} ({} <= 1.2)",
        if ratio <= 1.2 { "meets" } else { "MISSES" }
    );
    let window = if measuring() {
        Duration::from_secs(3)
    } else {
        Duration::from_millis(200)
    };
    for side in [pathops, raw] {
        let side_url = Arc::new(&side.url);
        let started = Instant::now();
        let done = futures::future::join_all((0..64).map(|client| {
            let http = http.clone();
            let url = Arc::clone(&side_url);
            async move {
                let mut count = 0usize;
                while started.elapsed() < window {
                    fetch(&http, &url(client * 7919 + count), side.token).await;
                    count += 1;
                }
                count
            }
        }))
        .await;
        let total: usize = done.iter().sum();
        eprintln!(
            "api {op:<9} {:<12} 64 clients: {:.0} requests/s",
            side.name,
            total as f64 / started.elapsed().as_secs_f64()
        );
    }
}

fn api(c: &mut Criterion) {
    let rt = runtime();
    let rows = rows();
    let dir = tempfile::tempdir().expect("temp dir");
    let (pathops_base, raw_base, ids) = rt.block_on(async {
        let store: Arc<dyn CatalogStore> = Arc::new(
            pathops_store::SqliteStore::open(dir.path().join("api.db"))
                .await
                .expect("sqlite"),
        );
        let catalog = Catalog::builder(store.clone()).build().expect("catalog");
        let admin = Principal::admin(TENANT.parse().unwrap(), "bench".parse().unwrap());
        let started = Instant::now();
        let mut ids = Vec::with_capacity(rows);
        for n in 0..rows {
            let input = NewIntegration::builder(
                format!("integration-{n:07}"),
                Provider::GitLab,
                format!("https://gitlab-{n}.example.test"),
            )
            .with_auth_ref("ref://bench/gitlab/token")
            .with_configuration(serde_json::json!({ "project": n }))
            .with_tags(["bench"])
            .build()
            .expect("input");
            ids.push(
                catalog
                    .create(&admin, input, true)
                    .await
                    .expect("create")
                    .id,
            );
        }
        eprintln!(
            "seeded {rows} integrations through the catalog in {:.1?}",
            started.elapsed()
        );
        let tokens = StaticTokens::new()
            .with_token(TOKEN, admin.clone())
            .expect("token");
        let pathops = serve(Api::new(catalog).with_principals(tokens).router()).await;
        let raw = axum::Router::new()
            .route("/raw/integrations", axum::routing::get(raw_list))
            .route("/raw/integrations/{id}", axum::routing::get(raw_get))
            .with_state(Raw {
                store,
                tenant: TENANT.parse().unwrap(),
            });
        let raw = serve(raw).await;
        (pathops, raw, Arc::new(ids))
    });
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(128)
        .build()
        .expect("client");

    let sides = |op: &str| -> (Side, Side) {
        let (p, r) = (pathops_base.clone(), raw_base.clone());
        match op {
            "list_100" => (
                Side {
                    name: "pathops",
                    url: Box::new(move |_| format!("{p}/api/v1/integrations?limit=100")),
                    token: Some(TOKEN),
                },
                Side {
                    name: "hand-written",
                    url: Box::new(move |_| format!("{r}/raw/integrations?limit=100")),
                    token: None,
                },
            ),
            _ => {
                let (ids_p, ids_r) = (Arc::clone(&ids), Arc::clone(&ids));
                (
                    Side {
                        name: "pathops",
                        url: Box::new(move |n| {
                            format!("{p}/api/v1/integrations/{}", ids_p[n * 7 % ids_p.len()])
                        }),
                        token: Some(TOKEN),
                    },
                    Side {
                        name: "hand-written",
                        url: Box::new(move |n| {
                            format!("{r}/raw/integrations/{}", ids_r[n * 7 % ids_r.len()])
                        }),
                        token: None,
                    },
                )
            }
        }
    };

    for op in ["list_100", "get"] {
        let (pathops, raw) = sides(op);
        let mut group = c.benchmark_group(format!("api/{op}"));
        for side in [&pathops, &raw] {
            let mut n = 0usize;
            group.bench_function(side.name, |b| {
                b.to_async(&rt).iter(|| {
                    n += 1;
                    let url = (side.url)(n);
                    let http = &http;
                    async move { fetch(http, &url, side.token).await }
                })
            });
        }
        group.finish();
        rt.block_on(compare(&http, op, &pathops, &raw));
    }
}

criterion_group!(benches, api);
criterion_main!(benches);
