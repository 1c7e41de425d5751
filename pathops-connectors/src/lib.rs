//! # pathops-connectors
//!
//! Provider connectors for PathOps: one module per provider, each behind a cargo feature named
//! after it, implementing [`pathops_core::IntegrationConnector`]; the shared [`http`] policy
//! (timeouts, proxy, custom CA, egress allowlist, offline mode, user agent, body cap,
//! credential-safe redirects); and secret resolvers that need I/O (Vault).
//!
//! Status: being built (issue 5).

#[cfg(any(feature = "gitlab", feature = "github-app", feature = "harbor"))]
mod check;
#[cfg(feature = "github-app")]
pub mod github;
#[cfg(feature = "gitlab")]
pub mod gitlab;
#[cfg(feature = "harbor")]
pub mod harbor;
pub mod http;
#[cfg(feature = "vault")]
pub mod vault;
pub mod webhook;

/// The `User-Agent` of every request: `pathops/<crate version>`.
pub const USER_AGENT: &str = concat!("pathops/", env!("CARGO_PKG_VERSION"));
