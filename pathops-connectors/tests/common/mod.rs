//! Helpers the connector tests share: log capture for the sentinel scans (the testkit's), a
//! second server for redirect tests.

#![allow(dead_code, unreachable_pub)]

use axum::Router;
use axum::routing::any;
use pathops_testkit::fake::FakeServer;

pub use pathops_testkit::logs::LogCapture;

/// A server that answers anything with 200 "elsewhere": redirects point here, and its log
/// proves whether a credential followed.
pub async fn elsewhere() -> FakeServer {
    let router = Router::new().fallback(any(|| async { "elsewhere" }));
    FakeServer::bind("127.0.0.1:0".parse().unwrap(), router)
        .await
        .unwrap()
}

/// Asserts `haystack` does not contain `sentinel`.
pub fn assert_no_sentinel(sentinel: &str, what: &str, haystack: &str) {
    assert!(
        !haystack.contains(sentinel),
        "{what} leaked the secret:\n{haystack}"
    );
}
