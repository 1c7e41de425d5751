//! # pathops-testkit
//!
//! Deterministic test doubles for PathOps and the conformance suites every backend runs.
//!
//! | module | what lives there |
//! |---|---|
//! | [`clock`] | [`ManualClock`](clock::ManualClock): time that moves only when told |
//! | [`fixtures`] | builders for integrations and mutations |
//! | [`store_suite`] | the store conformance suite every `CatalogStore` backend runs |
//!
//! Later issues add here: the in-memory connector (scripted outcomes and latency), fake
//! provider servers (GitLab, GitHub, Harbor, Vault) binding `127.0.0.1:0`, and the connector
//! conformance suite.
//!
//! The testkit depends on `pathops-core` only, never on a backend crate, so backends can
//! dev-depend on it without a dependency cycle.

pub mod clock;
pub mod fixtures;
pub mod store_suite;
