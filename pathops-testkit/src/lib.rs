//! # pathops-testkit
//!
//! Deterministic test doubles for PathOps and the conformance suites every backend runs.
//!
//! | module | what lives there |
//! |---|---|
//! | [`clock`] | [`ManualClock`](clock::ManualClock): time that moves only when told |
//! | [`fixtures`] | builders for integrations and mutations |
//! | [`logs`] | [`LogCapture`](logs::LogCapture): tracing output in memory, for log scans |
//! | [`store_suite`] | the store conformance suite every `CatalogStore` backend runs |
//! | [`monitor_suite`] | the `HealthMonitor`'s conformance suite, run over every store backend |
//! | [`catalog_suite`] | the `Catalog` service's conformance suite, run over every store backend |
//! | [`provision_suite`] | provisioning (`Catalog::plan`, `apply`, `export`) over every store backend |
//! | [`in_memory`] | [`InMemoryConnector`](in_memory::InMemoryConnector): scripted outcomes and latency per integration |
//! | [`connector_suite`] | the connector conformance suite: `pub async fn` checks and [`ConnectorHarness`](connector_suite::ConnectorHarness) |
//! | [`sink_suite`] | the event sink conformance suite (once per id, per-integration order, ack semantics): [`SinkHarness`](sink_suite::SinkHarness) |
//! | [`vault_suite`] | the Vault resolver's conformance suite, run against the fake Vault and a real server (`PATHOPS_TEST_VAULT_URL`) |
//! | [`moto`] | [`Moto`](moto::Moto): moto's server (a real AWS IAM, ECR and S3 with SigV4 checked) per test, from `PATHOPS_TEST_MOTO_BIN` |
//! | [`fake`] | fake provider servers (GitLab, GitHub, Harbor, MinIO, Vault, Jenkins, Argo CD, CircleCI) on `127.0.0.1:0`, with request log and fault injection |
//! | `pathops-fake` (binary) | any fake as a standalone process: `pathops-fake gitlab --listen 127.0.0.1:8080 --seed seed.json` |
//!
//! The testkit depends on `pathops-core` only, never on a backend crate, so backends can
//! dev-depend on it without a dependency cycle.

#![cfg_attr(docsrs, feature(doc_cfg))]
pub mod catalog_suite;
pub mod clock;
pub mod connector_suite;
pub mod fake;
pub mod fixtures;
pub mod in_memory;
pub mod logs;
pub mod monitor_suite;
pub mod moto;
pub mod provision_suite;
pub mod registry;
pub mod services;
pub mod sink_suite;
pub mod store_suite;
pub mod vault_suite;
