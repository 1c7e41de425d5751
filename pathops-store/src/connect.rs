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
    match StoreScheme::parse(url)? {
        StoreScheme::Memory => Ok(Arc::new(MemoryStore::new())),
        StoreScheme::Sqlite => sqlite(url).await,
        StoreScheme::Postgres => postgres(url).await,
    }
}

#[cfg(feature = "sqlite")]
async fn sqlite(url: &str) -> Result<Arc<dyn CatalogStore>> {
    Ok(Arc::new(crate::SqliteStore::builder(url).build().await?))
}

#[cfg(not(feature = "sqlite"))]
async fn sqlite(_url: &str) -> Result<Arc<dyn CatalogStore>> {
    Err(feature_off(StoreScheme::Sqlite))
}

#[cfg(feature = "postgres")]
async fn postgres(url: &str) -> Result<Arc<dyn CatalogStore>> {
    Ok(Arc::new(crate::PostgresStore::builder(url).build().await?))
}

#[cfg(not(feature = "postgres"))]
async fn postgres(_url: &str) -> Result<Arc<dyn CatalogStore>> {
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
