//! Webhook receiver benchmarks.
//!
//! - `webhook_github_verify`: GitHub `X-Hub-Signature-256` over a 1 KiB body through
//!   [`verify_github_signature`] beside a bare `Hmac::<Sha256>` + `verify_slice` on the decoded
//!   MAC, in the same run. Target: ours ≤ 1.1 × bare.
//! - `webhook_gitlab_token`: one `X-Gitlab-Token` check. Target: ≥ 1,000,000 checks per
//!   second on one core.
//! - `webhook_replay_guard`: one insert-and-check in a [`ReplayGuard`] holding 10 and
//!   100,000 entries (steady state: the clock moves so that entries expire as fast as new
//!   ones arrive). Target: the cost does not grow with the entries held.
//!
//! Derived figures (the ratio, checks per second) are printed after the groups, from a plain
//! timed loop.

#![allow(missing_docs, clippy::print_stdout)]

use std::cell::Cell;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use pathops_core::webhook::{
    DeliveryKind, Headers, ReplayGuard, ReplayKey, WebhookSecrets, sign, verify_github_signature,
    verify_gitlab_token,
};
use secrecy::SecretString;
use sha2::Sha256;
use time::OffsetDateTime;

const SECRET: &str = "bench-webhook-secret";

fn body() -> Vec<u8> {
    let mut body = br#"{"ref":"refs/heads/main","padding":""#.to_vec();
    body.resize(1024 - 2, b'x');
    body.extend_from_slice(br#""}"#);
    body
}

fn github_headers(body: &[u8]) -> Headers {
    Headers::from_pairs([
        ("Content-Type", "application/json".to_owned()),
        ("X-GitHub-Event", "push".to_owned()),
        (
            "X-GitHub-Delivery",
            "72d3162e-cc78-11e3-81ab-4c9367dc0958".to_owned(),
        ),
        ("X-Hub-Signature-256", sign::github(SECRET, body)),
    ])
}

fn bare(key: &[u8], body: &[u8], mac: &[u8]) -> bool {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    m.update(body);
    m.verify_slice(mac).is_ok()
}

fn github(c: &mut Criterion) {
    let body = body();
    let headers = github_headers(&body);
    let secrets = WebhookSecrets::single(SecretString::from(SECRET));
    let mac = const_hex::decode(&sign::github(SECRET, &body)[7..]).expect("hex");
    let mut g = c.benchmark_group("webhook_github_verify");
    g.bench_function("ours_1KiB", |b| {
        b.iter(|| verify_github_signature(black_box(&headers), black_box(&body), &secrets))
    });
    g.bench_function("bare_hmac_1KiB", |b| {
        b.iter(|| bare(SECRET.as_bytes(), black_box(&body), black_box(&mac)))
    });
    g.finish();
}

fn gitlab(c: &mut Criterion) {
    let headers = Headers::from_pairs([
        ("X-Gitlab-Event", "Push Hook"),
        ("X-Gitlab-Token", "glpat-style-hook-token-0123456789"),
    ]);
    let secrets = WebhookSecrets::single(SecretString::from("glpat-style-hook-token-0123456789"));
    c.bench_function("webhook_gitlab_token", |b| {
        b.iter(|| verify_gitlab_token(black_box(&headers), &secrets))
    });
}

/// A guard holding about `entries` at steady state, and a step that inserts one new key.
fn steady_guard(entries: usize) -> impl FnMut() {
    let window = Duration::from_secs(600);
    let guard = ReplayGuard::new(window, entries * 2 + 64);
    // One entry per `step`: `entries` of them span the window.
    let step = window / entries as u32;
    let keys: Vec<ReplayKey> = (0..entries * 2 + 64)
        .map(|i| ReplayKey::from_id(DeliveryKind::GitHub, &i.to_string()))
        .collect();
    let t0 = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
    let i = Cell::new(0usize);
    let mut now = t0;
    // Fill to steady state.
    for _ in 0..entries * 2 {
        let n = i.get();
        guard
            .check_and_record(keys[n % keys.len()], now)
            .expect("fresh");
        i.set(n + 1);
        now += step;
    }
    move || {
        let n = i.get();
        let outcome = guard.check_and_record(keys[n % keys.len()], now);
        debug_assert!(outcome.is_ok());
        black_box(outcome).ok();
        i.set(n + 1);
        now += step;
    }
}

fn replay(c: &mut Criterion) {
    let mut g = c.benchmark_group("webhook_replay_guard");
    for entries in [10usize, 100_000] {
        let mut step = steady_guard(entries);
        g.bench_function(format!("insert_and_check_at_{entries}"), |b| {
            b.iter(&mut step)
        });
    }
    g.finish();
}

fn per_op(iterations: u32, mut f: impl FnMut()) -> Duration {
    for _ in 0..iterations / 10 {
        f();
    }
    let started = Instant::now();
    for _ in 0..iterations {
        f();
    }
    started.elapsed() / iterations
}

fn summary(_: &mut Criterion) {
    let body = body();
    let headers = github_headers(&body);
    let secrets = WebhookSecrets::single(SecretString::from(SECRET));
    let mac = const_hex::decode(&sign::github(SECRET, &body)[7..]).expect("hex");
    let n = 200_000;
    let ours = per_op(n, || {
        black_box(verify_github_signature(
            black_box(&headers),
            &body,
            &secrets,
        ))
        .ok();
    });
    let baseline = per_op(n, || {
        black_box(bare(SECRET.as_bytes(), black_box(&body), &mac));
    });
    // What ours adds: finding the header and decoding its hex.
    let signature = sign::github(SECRET, &body);
    let decode = per_op(n, || {
        let mut out = [0u8; 32];
        black_box(const_hex::decode_to_slice(
            black_box(&signature[7..]),
            &mut out,
        ))
        .ok();
        black_box(out);
    });
    println!(
        "github 1 KiB: ours {ours:?}, bare {baseline:?}, ratio {:.3} (target ≤ 1.1); hex decoding alone {decode:?}",
        ours.as_secs_f64() / baseline.as_secs_f64()
    );
    let gl = Headers::from_pairs([("X-Gitlab-Token", "glpat-style-hook-token-0123456789")]);
    let gl_secrets =
        WebhookSecrets::single(SecretString::from("glpat-style-hook-token-0123456789"));
    let token = per_op(1_000_000, || {
        black_box(verify_gitlab_token(black_box(&gl), &gl_secrets)).ok();
    });
    println!(
        "gitlab token: {token:?} per check, {:.2} M checks/s on one core (target ≥ 1)",
        1.0 / token.as_secs_f64() / 1e6
    );
    let mut small = steady_guard(10);
    let mut large = steady_guard(100_000);
    let at_10 = per_op(1_000_000, &mut small);
    let at_100k = per_op(1_000_000, &mut large);
    println!(
        "replay guard insert+check: {at_10:?} at 10 entries, {at_100k:?} at 100,000 ({:.2}×)",
        at_100k.as_secs_f64() / at_10.as_secs_f64()
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = github, gitlab, replay, summary
}
criterion_main!(benches);
