//! # pathops-connectors
//!
//! Provider connectors for PathOps: one module per provider, each behind a cargo feature named
//! after it (`gitlab`, `github-app`, `harbor`, …; `full` enables all), implementing
//! [`pathops_core::IntegrationConnector`]. The shared HTTP policy (timeouts, proxy, custom CA,
//! egress allowlist, user agent, body cap, credential-safe redirects) and secret resolvers that
//! need I/O (Vault) live here too.
//!
//! Status: the connectors are being built (issue 5); this crate exports nothing yet.

#[cfg(feature = "nats")]
pub mod nats;
