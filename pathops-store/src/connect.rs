//! [`connect`]: a store chosen by its URL.

use std::sync::Arc;

use pathops_core::{CatalogStore, Error, Result};

use crate::MemoryStore;

/// The backend a store URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreScheme {
    /// `memory:` — [`MemoryStore`].
    Memory,
    /// `sqlite::memory:`, `sqlite://path/to/file.db?mode=rwc`, `sqlite:file.db` — the `sqlite`
    /// feature.
    Sqlite,
    /// `postgres://user@host/db` or `postgresql://…` — the `postgres` feature.
    Postgres,
}

impl StoreScheme {
    /// The backend `url` names. Never echoes the URL (it may carry a password) in errors.
    ///
    /// ```
    /// use pathops_store::StoreScheme;
    ///
    /// assert_eq!(StoreScheme::parse("sqlite::memory:")?, StoreScheme::Sqlite);
    /// assert_eq!(StoreScheme::parse("postgresql://app@db/catalog")?, StoreScheme::Postgres);
    /// assert!(StoreScheme::parse("mysql://app:secret@db").is_err());
    /// # Ok::<(), pathops_core::Error>(())
    /// ```
    pub fn parse(url: &str) -> Result<Self> {
        let scheme = url.split_once(':').map(|(scheme, _)| scheme);
        match scheme {
            Some("memory") => Ok(Self::Memory),
            Some("sqlite") => Ok(Self::Sqlite),
            Some("postgres" | "postgresql") => Ok(Self::Postgres),
            Some(other)
                if !other.is_empty()
                    && other.len() <= 16
                    && other.chars().all(|c| c.is_ascii_alphanumeric() || c == '+') =>
            {
                Err(Error::InvalidConfig {
                    message: format!(
                        "unsupported store URL scheme `{other}`: expected memory:, sqlite: or postgres://"
                    ),
                })
            }
            _ => Err(Error::InvalidConfig {
                message: "not a store URL: expected memory:, sqlite: or postgres://".to_owned(),
            }),
        }
    }

    /// The cargo feature of `pathops-store` that compiles this backend in (`None` when it is
    /// always there).
    pub fn feature(&self) -> Option<&'static str> {
        match self {
            Self::Memory => None,
            Self::Sqlite => Some("sqlite"),
            Self::Postgres => Some("postgres"),
        }
    }
}

/// Opens the store `url` names, migrated and ready, as `Arc<dyn CatalogStore>`.
///
/// | URL | backend |
/// |---|---|
/// | `memory:` | [`MemoryStore`] (nothing persists) |
/// | `sqlite::memory:` | SQLite in memory |
/// | `sqlite://path/catalog.db?mode=rwc` | SQLite file, created if missing |
/// | `postgres://user:pass@host:5432/db` | PostgreSQL |
///
/// A backend whose feature is off is [`Error::InvalidConfig`] naming the feature to enable;
/// an unknown scheme is [`Error::InvalidConfig`] too. Use the backend types directly
/// (`SqliteStore::builder`, `PostgresStore::builder`) for pool sizes and other options.
pub async fn connect(url: &str) -> Result<Arc<dyn CatalogStore>> {
    open(url, false).await
}

/// Opens the catalog `url` names only if it already exists at this release's schema version,
/// writing nothing while opening: no file, table or migration is created, whatever the URL
/// says (`?mode=rwc` included). A missing SQLite file, a database without the PathOps schema
/// or with an older one is [`Error::InvalidConfig`] saying so. `memory:` is refused: it is
/// never an existing catalog.
///
/// Use it where a person types the URL (a CLI's `--catalog`): a typo must not create a new,
/// empty catalog that then reports "nothing wrong".
pub async fn connect_existing(url: &str) -> Result<Arc<dyn CatalogStore>> {
    open(url, true).await
}

async fn open(url: &str, existing: bool) -> Result<Arc<dyn CatalogStore>> {
    match StoreScheme::parse(url)? {
        StoreScheme::Memory if existing => Err(Error::InvalidConfig {
            message: "memory: is a new, empty store, never an existing catalog".to_owned(),
        }),
        StoreScheme::Memory => Ok(Arc::new(MemoryStore::new())),
        StoreScheme::Sqlite => sqlite(url, existing).await,
        StoreScheme::Postgres => postgres(url, existing).await,
    }
}

#[cfg(feature = "sqlite")]
async fn sqlite(url: &str, existing: bool) -> Result<Arc<dyn CatalogStore>> {
    let builder = crate::SqliteStore::builder(url);
    let builder = if existing {
        builder.existing_only()
    } else {
        builder
    };
    Ok(Arc::new(builder.build().await?))
}

#[cfg(not(feature = "sqlite"))]
async fn sqlite(_url: &str, _existing: bool) -> Result<Arc<dyn CatalogStore>> {
    Err(feature_off(StoreScheme::Sqlite))
}

#[cfg(feature = "postgres")]
async fn postgres(url: &str, existing: bool) -> Result<Arc<dyn CatalogStore>> {
    let builder = crate::PostgresStore::builder(url);
    let builder = if existing {
        builder.existing_only()
    } else {
        builder
    };
    Ok(Arc::new(builder.build().await?))
}

#[cfg(not(feature = "postgres"))]
async fn postgres(_url: &str, _existing: bool) -> Result<Arc<dyn CatalogStore>> {
    Err(feature_off(StoreScheme::Postgres))
}

#[allow(dead_code, reason = "unused when every backend is compiled in")]
fn feature_off(scheme: StoreScheme) -> Error {
    let feature = scheme.feature().unwrap_or_default();
    Error::InvalidConfig {
        message: format!(
            "the {feature} store backend is not compiled in: enable the \"{feature}\" feature of pathops-store"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_are_recognized_and_urls_never_echoed() {
        assert_eq!(StoreScheme::parse("memory:").unwrap(), StoreScheme::Memory);
        assert_eq!(
            StoreScheme::parse("sqlite://x.db?mode=rwc").unwrap(),
            StoreScheme::Sqlite
        );
        assert_eq!(
            StoreScheme::parse("postgres://h/db").unwrap(),
            StoreScheme::Postgres
        );
        let err = StoreScheme::parse("mysql://root:hunter2@db")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`mysql`") && !err.contains("hunter2"), "{err}");
        for garbage in ["", "hunter2", "user name:hunter2@db", ":memory:"] {
            let err = StoreScheme::parse(garbage).unwrap_err().to_string();
            assert!(
                err.contains("not a store URL") && !err.contains("hunter2"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_disabled_backend_names_its_feature() {
        let err = feature_off(StoreScheme::Postgres).to_string();
        assert!(
            err.contains("enable the \"postgres\" feature of pathops-store"),
            "{err}"
        );
    }
}
