//! Private store errors, mapped into [`pathops_core::Error`] at the public surface.
//!
//! A caller decides on the outcome (`NotFound`, `AlreadyExists`, `Conflict`, …); these errors
//! only ever travel as the `source` of [`Error::Backend`], so operators can read what the
//! backend found without a new public variant.

use pathops_core::Error;

/// What went wrong inside a backend, below the outcomes of the public [`Error`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    /// A row with this key exists and the key is not one a caller chooses (audit entry or
    /// health-check ids).
    #[error("duplicate key in {table}: {key}")]
    DuplicateKey {
        /// The table.
        table: &'static str,
        /// The key (an id, never a secret).
        key: String,
    },
    /// A stored value could not be read back into the domain type.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    #[error("stored {table}.{column} is invalid")]
    CorruptRow {
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
        /// Why it was refused.
        #[source]
        source: Option<pathops_core::error::BoxError>,
    },
    /// A stored integer does not fit the domain type.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    #[error("stored {table}.{column} is out of range")]
    OutOfRange {
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
    },
}

impl StoreError {
    /// The public error for this failure in `backend`.
    pub(crate) fn into_error(self, backend: &'static str) -> Error {
        Error::backend(backend, self)
    }
}
