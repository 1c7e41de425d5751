//! [`LogCapture`]: tracing output collected in memory, for tests that scan logs (sentinel
//! secrets, expected events).
//!
//! # Why a global subscriber is always installed
//!
//! `tracing` caches, per callsite, whether any subscriber is interested in it. A test that
//! captures with a *scoped* subscriber (`WithSubscriber`) while other test threads of the same
//! binary log with no subscriber at all can find a callsite cached as "nobody is interested"
//! and miss its events, now and then. So the first capture of a binary installs a global
//! subscriber interested in every level, feeding [`LogCapture::global`]: from then on no
//! callsite is ever cached as uninteresting, and a scoped capture sees every event of its own
//! future, every time.

use std::sync::{Arc, Mutex, OnceLock};

use tracing_subscriber::fmt::format::FmtSpan;

/// A `MakeWriter` collecting formatted log lines in memory.
///
/// Use [`LogCapture::subscriber`] with `tracing::instrument::WithSubscriber` to capture one
/// future's logs, or [`LogCapture::global`] for everything a test binary logs outside such
/// scopes.
#[derive(Debug, Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// The capture installed as this process's global subscriber, at every level; installed
    /// on first use (of this or of [`subscriber`](Self::subscriber)).
    pub fn global() -> &'static LogCapture {
        static CAPTURE: OnceLock<LogCapture> = OnceLock::new();
        CAPTURE.get_or_init(|| {
            let capture = LogCapture::default();
            tracing::subscriber::set_global_default(capture.subscriber_unchecked())
                .expect("no other global subscriber in this test binary");
            capture
        })
    }

    /// A subscriber writing every event (and every span's close) at every level into this
    /// capture, for `future.with_subscriber(capture.subscriber())`. Installs the global
    /// subscriber first (see the [module docs](self)), so nothing is missed.
    pub fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + 'static {
        Self::global();
        self.subscriber_unchecked()
    }

    fn subscriber_unchecked(&self) -> impl tracing::Subscriber + Send + Sync + 'static {
        tracing_subscriber::fmt()
            .with_writer(self.clone())
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_span_events(FmtSpan::CLOSE)
            .finish()
    }

    /// Everything written so far.
    pub fn contents(&self) -> String {
        String::from_utf8_lossy(&self.lock()).into_owned()
    }

    /// The buffer; a test that panicked while writing leaves it usable.
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.lock().extend_from_slice(buf);
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
