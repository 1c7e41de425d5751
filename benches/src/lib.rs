//! Criterion benchmarks for PathOps live under `benches/`; this library holds what they share:
//! process resource readings from `/proc` (Linux), the runtime, sizes and time encoding.

use std::time::Duration;

/// Peak resident set size of this process (`VmHWM`), in bytes, where `/proc` has it.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// CPU time (user + system) this process has used so far, where `/proc` has it. Assumes the
/// usual 100 clock ticks per second.
pub fn process_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// Whether criterion measures (`cargo bench`) rather than smoke-tests each benchmark once
/// (`cargo test --benches`); smoke tests use small sizes.
pub fn measuring() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// The runtime every benchmark runs on: two worker threads, like the machines it targets.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A time as the SQL stores keep it: microseconds since the Unix epoch.
pub fn micros(t: time::OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000) as i64
}

/// Reads a size from the environment, falling back to `default`.
pub fn env_size(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The connector the plugin benchmark measures, in process and as a plugin (the
/// `bench-plugin` binary serves it): it answers every check at once, so what is measured is
/// the path to it.
pub mod instant {
    use std::time::Duration;

    use async_trait::async_trait;
    use pathops_core::{
        Capabilities, Capability, CheckResult, Configuration, ConnectorContext,
        IntegrationConnector, IntegrationType, Provider, Result,
    };

    /// Passes every check without doing anything.
    #[derive(Debug, Default)]
    pub struct InstantConnector;

    /// Its provider, `bench-instant` (a feed).
    pub fn provider() -> Provider {
        Provider::custom("bench-instant", IntegrationType::Feed).expect("a valid custom provider")
    }

    #[async_trait]
    impl IntegrationConnector for InstantConnector {
        fn provider(&self) -> Provider {
            provider()
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities::new([Capability::TestConnection, Capability::HealthCheck])
        }
        async fn validate_config(&self, _: &Configuration) -> Result<()> {
            Ok(())
        }
        async fn test_connection(&self, _: &ConnectorContext) -> CheckResult {
            CheckResult::passed(Duration::ZERO, "ok")
        }
        async fn check_health(&self, _: &ConnectorContext) -> CheckResult {
            CheckResult::passed(Duration::ZERO, "ok")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_readings_are_available_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(peak_rss_bytes().unwrap() > 0);
            assert!(process_cpu_time().is_some());
        }
        assert_eq!(env_size("PATHOPS_BENCH_SURELY_UNSET", 7), 7);
    }
}
