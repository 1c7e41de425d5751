//! Where the catalog lives: an embedded SQLite file for the demo, or the catalog named by
//! `--catalog` (a `sqlite://` or `postgres://` URL).
//!
//! `--catalog` opens an existing catalog only and writes nothing while opening, so that a
//! typo in the URL is an error instead of a new, empty catalog that then reports "nothing
//! wrong". `--init` creates the catalog (and a missing SQLite file) first.

use std::path::Path;
use std::sync::Arc;

use pathops_core::CatalogStore;
use pathops_core::error::chain;
use pathops_store::{SqliteStore, StoreScheme};

/// The demo's embedded catalog: a SQLite file in the demo's temporary directory, migrated on
/// open.
pub(crate) async fn demo(dir: &Path) -> Result<Arc<dyn CatalogStore>, String> {
    let store = SqliteStore::open(dir.join("catalog.db"))
        .await
        .map_err(|e| format!("cannot open the demo catalog: {}", chain(&e)))?;
    Ok(Arc::new(store))
}

/// The catalog named by `--catalog`: an existing one, or with `init` one created and
/// migrated as needed.
pub(crate) async fn open(url: &str, init: bool) -> Result<Arc<dyn CatalogStore>, String> {
    let opened = if !init {
        pathops_store::connect_existing(url).await
    } else if StoreScheme::parse(url).is_ok_and(|s| s == StoreScheme::Sqlite) {
        SqliteStore::builder(url)
            .with_create_if_missing(true)
            .build()
            .await
            .map(|s| Arc::new(s) as Arc<dyn CatalogStore>)
    } else {
        pathops_store::connect(url).await
    };
    opened.map_err(|e| {
        let hint = if init {
            ""
        } else {
            "\n(--catalog opens an existing catalog only; add --init to create or migrate it)"
        };
        format!("cannot open the catalog: {}{hint}", chain(&e))
    })
}
