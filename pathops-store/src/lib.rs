//! # pathops-store
//!
//! [`CatalogStore`](pathops_core::CatalogStore) backends: `memory` (always compiled), `sqlite`
//! (default feature, bundled SQLite) and `postgres` (feature), with SQL written once with
//! sea-query and executed with sqlx, versioned migrations, and `connect(url)` choosing the
//! backend from a URL.
//!
//! Status: the backends are being built (issue 3); this crate exports nothing yet.
