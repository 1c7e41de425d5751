//! Helpers the connector tests share: log capture for the sentinel scans, a second server for
//! redirect tests.

#![allow(dead_code, unreachable_pub)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::any;
use pathops_testkit::fake::FakeServer;

/// Everything tracing writes in this test binary, at every level. Installed as the global
/// subscriber (a thread-scoped one misses events whose interest another test thread cached).
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    pub fn global() -> &'static LogCapture {
        static CAPTURE: std::sync::OnceLock<LogCapture> = std::sync::OnceLock::new();
        CAPTURE.get_or_init(|| {
            let capture = LogCapture::default();
            let subscriber = tracing_subscriber::fmt()
                .with_writer(capture.clone())
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .finish();
            tracing::subscriber::set_global_default(subscriber).expect("first subscriber");
            capture
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogCapture {
    type Writer = LogCapture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

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
