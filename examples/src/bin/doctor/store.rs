//! Where the catalog lives: an embedded SQLite file for the demo, or the catalog named by
//! `--catalog` (a `sqlite://` or `postgres://` URL).

use std::path::Path;
use std::sync::Arc;

use pathops_core::CatalogStore;

/// The demo's embedded catalog: a SQLite file in the demo's temporary directory, migrated on
/// open.
pub(crate) async fn demo(dir: &Path) -> Result<Arc<dyn CatalogStore>, String> {
    open(&format!(
        "sqlite://{}?mode=rwc",
        dir.join("catalog.db").display()
    ))
    .await
}

/// The catalog named by `--catalog`, migrated on open.
pub(crate) async fn open(url: &str) -> Result<Arc<dyn CatalogStore>, String> {
    pathops_store::connect(url)
        .await
        .map_err(|e| format!("cannot open the catalog: {e}"))
}
