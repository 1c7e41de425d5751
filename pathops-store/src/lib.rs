//! # pathops-store
//!
//! [`CatalogStore`](pathops_core::CatalogStore) backends for PathOps.
//!
//! Status: the in-memory backend is ready; SQLite and PostgreSQL follow (issue 3).

mod error;
pub mod memory;
mod stored;

pub use memory::MemoryStore;
