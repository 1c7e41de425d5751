//! Where the catalog lives.
//!
//! The demo's catalog is embedded. This branch of `pathops-store` has the in-memory backend
//! only; when the SQLite backend lands, the demo switches to a SQLite file in a temporary
//! directory by changing the one line in [`demo`] (and [`open`] serves `--catalog` URLs
//! through the same backend).

use std::path::Path;
use std::sync::Arc;

use pathops_core::CatalogStore;
use pathops_store::MemoryStore;

/// The demo's embedded catalog. `dir` is the demo's temporary directory, where a SQLite
/// catalog file goes once that backend is available.
pub(crate) async fn demo(dir: &Path) -> Result<Arc<dyn CatalogStore>, String> {
    let _ = dir; // sqlite: open(&format!("sqlite://{}", dir.join("catalog.db").display())).await
    Ok(Arc::new(MemoryStore::new()))
}

/// The catalog named by `--catalog` (a `sqlite://` or `postgres://` URL, checked by the
/// argument parser).
pub(crate) async fn open(url: &str) -> Result<Arc<dyn CatalogStore>, String> {
    let scheme = url.split_once("://").map_or(url, |(scheme, _)| scheme);
    Err(format!(
        "this build of pathops-store has no {scheme} backend yet (in-memory only); \
         run without --catalog for the demo"
    ))
}
