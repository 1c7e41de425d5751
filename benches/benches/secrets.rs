//! The cost of resolving a reference the way the catalog does, beside a hand-written baseline.
//!
//! - `resolve/baseline_map`: a `HashMap<AuthRef, SecretString>` lookup and clone inside an
//!   async block (what a resolver must do at the least).
//! - `resolve/catalog_path`: what the catalog adds on every resolve: the `AuthRefPolicy`
//!   check for the tenant, a `ResolveContext` for the integration, and a `ChainResolver`
//!   routing by scope to a `StaticResolver` (through `async_trait`'s boxed futures).
//! - `resolve/policy_check`: the policy check alone.
//!
//! Both resolve paths run on the same executor (`futures::executor::block_on`), so the
//! printed ratio is the overhead per call.

#![allow(missing_docs, clippy::print_stdout)]

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use futures::executor::block_on;
use pathops_core::secret::{
    AuthRefPolicy, ChainResolver, ResolveContext, SecretPurpose, StaticResolver,
};
use pathops_core::{AuthRef, Integration, IntegrationId, NewIntegration, Provider, SecretResolver};
use secrecy::{ExposeSecret, SecretString};

fn reference() -> AuthRef {
    "ref://acme/gitlab/ci-token".parse().unwrap()
}

fn integration() -> Integration {
    let input = NewIntegration::builder("gitlab", Provider::GitLab, "https://gitlab.example.com")
        .with_auth_ref("ref://acme/gitlab/ci-token")
        .build()
        .unwrap();
    Integration::new_draft(
        IntegrationId::new(),
        "acme".parse().unwrap(),
        input,
        "alice".parse().unwrap(),
        time::OffsetDateTime::UNIX_EPOCH,
    )
}

/// A chain with 50 tenants' scopes, one of which serves the reference.
fn chain() -> ChainResolver {
    let mut chain = ChainResolver::new();
    for n in 0..50 {
        let scope = if n == 0 {
            "acme".to_owned()
        } else {
            format!("tenant-{n}")
        };
        let secrets = StaticResolver::new().with(
            format!("ref://{scope}/gitlab/ci-token").parse().unwrap(),
            "glpat-bench",
        );
        chain = chain.scope(scope, Arc::new(secrets));
    }
    chain
}

fn baseline_once(map: &HashMap<AuthRef, SecretString>, auth_ref: &AuthRef) -> usize {
    block_on(async { map.get(auth_ref).cloned() })
        .expect("present")
        .expose_secret()
        .len()
}

fn catalog_once(
    policy: &AuthRefPolicy,
    chain: &ChainResolver,
    integration: &Integration,
    auth_ref: &AuthRef,
) -> usize {
    policy
        .check(&integration.tenant_id, auth_ref)
        .expect("allowed");
    let ctx = ResolveContext::for_integration(integration, SecretPurpose::Credential);
    block_on(chain.resolve(&ctx, auth_ref))
        .expect("present")
        .expose_secret()
        .len()
}

fn resolve(c: &mut Criterion) {
    let auth_ref = reference();
    let map = HashMap::from([(auth_ref.clone(), SecretString::from("glpat-bench"))]);
    let policy = AuthRefPolicy::new().with_shared_scope("global");
    let chain = chain();
    let integration = integration();
    let mut group = c.benchmark_group("resolve");
    group.bench_function("baseline_map", |b| {
        b.iter(|| baseline_once(black_box(&map), black_box(&auth_ref)));
    });
    group.bench_function("catalog_path", |b| {
        b.iter(|| {
            catalog_once(
                black_box(&policy),
                black_box(&chain),
                black_box(&integration),
                black_box(&auth_ref),
            )
        });
    });
    group.bench_function("policy_check", |b| {
        b.iter(|| policy.check(black_box(&integration.tenant_id), black_box(&auth_ref)));
    });
    group.finish();

    // The ratio, from one plain timed loop of each in this run.
    const N: u32 = 200_000;
    let t = Instant::now();
    for _ in 0..N {
        black_box(baseline_once(&map, &auth_ref));
    }
    let base = t.elapsed() / N;
    let t = Instant::now();
    for _ in 0..N {
        black_box(catalog_once(&policy, &chain, &integration, &auth_ref));
    }
    let full = t.elapsed() / N;
    println!(
        "resolve: baseline {base:?}, catalog path {full:?} per call ({:.2}x, +{:?})",
        full.as_secs_f64() / base.as_secs_f64(),
        full.saturating_sub(base)
    );
}

criterion_group!(benches, resolve);
criterion_main!(benches);
