//! # pathops-store
//!
//! [`CatalogStore`](pathops_core::CatalogStore) backends for PathOps: where the integration
//! catalog, its health history, its audit trail, its event outbox and its plugin metadata live.
//!
//! | backend | type | URL | notes |
//! |---|---|---|---|
//! | in-memory | [`MemoryStore`] | `memory:` | always compiled; tests, demos, embedding without persistence |
//! | SQLite | `SqliteStore` | `sqlite::memory:`, `sqlite://path.db?mode=rwc` | default feature; bundled SQLite, nothing to install |
//! | PostgreSQL | `PostgresStore` | `postgres://user@host/db` | `postgres` feature; for shared, multi-process deployments |
//!
//! Every backend passes the same conformance suite (`pathops_testkit::store_suite`), so they
//! behave identically: a duplicate live name in a tenant is `AlreadyExists`, an update at a
//! stale version is `Conflict`, deletes are soft, lists are ordered by `(name, id)` with opaque
//! keyset cursors, no call crosses tenants, and one [`Mutation`](pathops_core::Mutation) writes
//! its row, audit entry, outbox events and health check atomically or not at all.
//!
//! The SQL backends share one implementation: every statement is built once with sea-query and
//! rendered for the backend, every value is bound (never interpolated), and the schema comes
//! from versioned migrations recorded in `pathops_migrations`, applied on connect, idempotent,
//! and refusing a database newer than the code. Each applied migration's checksum (SHA-256 of
//! the statements it ran) is recorded and compared on every open: a released migration edited
//! in the code is refused, naming its version, rather than leaving databases that differ from
//! what the code describes. Never edit a released migration; add a new one.
//!
//! ## Quick start
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use pathops_core::{
//!     AuditAction, AuditRecord, Change, Integration, IntegrationId, ListQuery, Mutation,
//!     NewIntegration, Provider,
//! };
//!
//! // `sqlite::memory:` or `sqlite://catalog.db?mode=rwc` with the default feature.
//! let store = pathops_store::connect("memory:").await?;
//!
//! let input = NewIntegration::builder("GitLab", Provider::GitLab, "https://gitlab.example.com")
//!     .with_auth_ref("ref://acme/gitlab/ci-token")
//!     .build()?;
//! let now = time::OffsetDateTime::now_utc();
//! let (tenant, alice) = ("acme".parse()?, "alice".parse()?);
//! let gitlab = Integration::new_draft(IntegrationId::new(), tenant, input, alice, now);
//! let audit = AuditRecord::new(
//!     gitlab.tenant_id.clone(),
//!     Some(gitlab.id),
//!     gitlab.created_by.clone(),
//!     AuditAction::Created,
//!     now,
//! );
//! let outcome = store
//!     .apply(Mutation { change: Change::Create(gitlab), audit, events: vec![], health_check: None, seal: Default::default() })
//!     .await?;
//! assert_eq!(outcome.integration.version, 1);
//! assert_eq!(outcome.audit.sequence, 1);
//!
//! let page = store.list(&outcome.integration.tenant_id, &ListQuery::default()).await?;
//! assert_eq!(page.items, [outcome.integration]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! ## Feature flags
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `sqlite` | on | `SqliteStore` (bundled SQLite) |
//! | `postgres` | off | `PostgresStore` (rustls) |
//!
//! A URL whose backend is compiled out is an `InvalidConfig` error that names the feature to
//! enable (`enable the "postgres" feature of pathops-store`).
//!
//! ## Storage layout
//!
//! Tables `integrations`, `integration_tags`, `plugin_metadata`, `health_checks`, `audit_logs`
//! (append-only: no API updates or deletes it, and a trigger refuses `UPDATE`/`DELETE` on both
//! SQL backends) and `outbox`. Times are `BIGINT` microseconds since the Unix epoch (UTC), so
//! values round-trip exactly. Names are unique per tenant among live rows (a partial unique
//! index); lists use the index on `(tenant_id, name, id)`; writers of one tenant serialize on a
//! lock taken at the start of the transaction (`BEGIN IMMEDIATE` on SQLite, a transaction-level
//! advisory lock on PostgreSQL) so each tenant's audit hash chain stays linear.
//!
//! ## Adding a backend
//!
//! 1. Implement [`CatalogStore`](pathops_core::CatalogStore) in a module behind a feature
//!    named after the backend (or in your own crate). Inside this crate, a SQL database that
//!    sqlx and sea-query support only needs a `Dialect` (its sqlx database, its query builder,
//!    how a write transaction takes its lock, and its column types): the statements, the
//!    migrations and the catalog logic in `sql/` are shared. `sqlite.rs` is the model.
//! 2. Teach [`connect`] its URL scheme, with a "feature off" error naming the feature.
//! 3. Run the conformance suite from `tests/<backend>.rs`:
//!
//! ```text
//! struct MyFactory;
//!
//! #[async_trait::async_trait]
//! impl pathops_testkit::store_suite::StoreFactory for MyFactory {
//!     async fn open(&self) -> Option<pathops_testkit::store_suite::StoreFixture> {
//!         // A fresh, empty store; print "skipping: …" and return None when unavailable.
//!     }
//! }
//!
//! pathops_testkit::store_conformance_suite!(MyFactory);
//! ```
//!
//! `cargo test -p pathops-store --all-features` runs the suite on memory, SQLite in memory and
//! SQLite on a file; the PostgreSQL run needs `PATHOPS_TEST_POSTGRES_URL`
//! (`postgres://postgres@127.0.0.1:5432/test`), and each test works in its own schema, dropped
//! afterwards. Without the variable the PostgreSQL tests print
//! `skipping: PATHOPS_TEST_POSTGRES_URL not set`. `PATHOPS_PROPTEST_CASES` sets how many random
//! operation sequences the tenant-isolation property test tries (default 24).
//!
//! ## Benchmarks
//!
//! `cargo bench -p pathops-benches --bench store` measures create, get, the first page and a
//! page 90 % deep on SQLite (and PostgreSQL when `PATHOPS_TEST_POSTGRES_URL` is set), each beside
//! a hand-written sqlx version issuing the same statements. `PATHOPS_BENCH_ROWS` sets how many
//! rows are seeded (default 100,000; the performance target is stated for 1,000,000).

#![cfg_attr(docsrs, feature(doc_cfg))]
mod connect;
mod error;
pub mod memory;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
pub mod sqlite;
mod stored;

pub use connect::{StoreScheme, connect, connect_existing};

/// The schema version this code migrates SQL databases to; a database at a newer version is
/// refused. 1: catalog tables; 2: health-check schedule and leases; 3: evidence (health
/// fields apart from edits, keyed audit entries, checkpoints, per-capability series); 4: the
/// index that keeps outbox claims in order per integration.
pub const SCHEMA_VERSION: i64 = 6;
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::{PostgresStore, PostgresStoreBuilder};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use sql::migrate::MigrationReport;
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteStore, SqliteStoreBuilder};
