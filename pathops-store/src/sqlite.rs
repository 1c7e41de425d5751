//! [`SqliteStore`]: the catalog in SQLite, the embedded default (bundled; nothing to install).
//!
//! Files use WAL journaling with a busy timeout, so readers never block the writer and
//! concurrent writers queue instead of failing with "database is locked". Every write
//! transaction starts with `BEGIN IMMEDIATE`, taking the database write lock before it reads
//! anything: an update's version check and a tenant's audit-chain head are read under the lock
//! that protects them. An in-memory database (`sqlite::memory:`) lives in a pool of exactly one
//! connection that is never closed, and vanishes with the store.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use pathops_core::{Error, Result};
use sea_query::SqliteQueryBuilder;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Pool, Sqlite, Transaction};

use crate::sql::migrate::{MigrationReport, OnOpen};
use crate::sql::schema::DdlTypes;
use crate::sql::{Built, Conn, Dialect, Lock, SqlStore, forward_catalog_store};

const BACKEND: &str = "sqlite";

/// The SQLite dialect of the shared SQL implementation.
pub(crate) struct SqliteDialect;

#[async_trait]
impl Dialect for SqliteDialect {
    const NAME: &'static str = BACKEND;
    const SKIP_LOCKED: bool = false;
    const PERCENTILE_AGGREGATE: bool = false;
    const DDL: DdlTypes = DdlTypes {
        uuid: "BLOB",
        json: "TEXT",
        name: "TEXT",
    };
    type Row = SqliteRow;
    type Db = Sqlite;
    type Builder = SqliteQueryBuilder;

    fn extra_ddl(version: i64) -> &'static [&'static str] {
        match version {
            1 => &[
                "CREATE TRIGGER audit_logs_append_only_update BEFORE UPDATE ON audit_logs
                 BEGIN SELECT RAISE(ABORT, 'audit_logs is append-only: UPDATE is refused'); END",
                "CREATE TRIGGER audit_logs_append_only_delete BEFORE DELETE ON audit_logs
                 BEGIN SELECT RAISE(ABORT, 'audit_logs is append-only: DELETE is refused'); END",
            ],
            // Entries at or below the tenant's checkpoint (archived) may be deleted; no others.
            3 => &[
                "DROP TRIGGER audit_logs_append_only_delete",
                "CREATE TRIGGER audit_logs_append_only_delete BEFORE DELETE ON audit_logs
                 WHEN OLD.sequence > COALESCE(
                     (SELECT sequence FROM audit_checkpoints WHERE tenant_id = OLD.tenant_id), 0)
                 BEGIN SELECT RAISE(ABORT, 'audit_logs is append-only: DELETE is refused above the checkpoint'); END",
            ],
            _ => &[],
        }
    }

    fn migrations_table_exists() -> sea_query::SelectStatement {
        use sea_query::ExprTrait as _;
        sea_query::Query::select()
            .expr_as(sea_query::Expr::cust("COUNT(*)"), "n")
            .from("sqlite_master")
            .and_where(sea_query::Expr::col("type").eq("table"))
            .and_where(sea_query::Expr::col("name").eq("pathops_migrations"))
            .take()
    }

    async fn begin(
        pool: &Pool<Sqlite>,
        _lock: Lock<'_>,
    ) -> sqlx::Result<Transaction<'static, Sqlite>> {
        // SQLite has one writer at a time: the database lock covers every `Lock`.
        pool.begin_with("BEGIN IMMEDIATE").await
    }

    async fn execute(conn: &mut Conn<Self>, (sql, values): Built) -> sqlx::Result<u64> {
        let done = sqlx::query_with(AssertSqlSafe(sql), values)
            .execute(conn)
            .await?;
        Ok(done.rows_affected())
    }

    async fn execute_ddl(conn: &mut Conn<Self>, sql: String) -> sqlx::Result<()> {
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(conn)
            .await
            .map(drop)
    }

    async fn fetch_all(
        conn: &mut Conn<Self>,
        (sql, values): Built,
    ) -> sqlx::Result<Vec<SqliteRow>> {
        sqlx::query_with(AssertSqlSafe(sql), values)
            .fetch_all(conn)
            .await
    }

    async fn fetch_optional(
        conn: &mut Conn<Self>,
        (sql, values): Built,
    ) -> sqlx::Result<Option<SqliteRow>> {
        sqlx::query_with(AssertSqlSafe(sql), values)
            .fetch_optional(conn)
            .await
    }

    async fn commit(tx: Transaction<'static, Sqlite>) -> sqlx::Result<()> {
        tx.commit().await
    }
}

/// The catalog in SQLite (see the module docs). Build one with [`SqliteStore::builder`], or
/// [`SqliteStore::in_memory`] / [`SqliteStore::open`].
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use pathops_core::CatalogStore;
/// use pathops_store::SqliteStore;
///
/// let store = SqliteStore::in_memory().await?;
/// assert_eq!(store.backend(), "sqlite");
/// assert_eq!(store.schema_version().await?, pathops_store::SCHEMA_VERSION);
/// # Ok::<(), pathops_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct SqliteStore {
    store: SqlStore<SqliteDialect>,
}

forward_catalog_store!(SqliteStore);

impl SqliteStore {
    /// A builder for the database at `url`: `sqlite::memory:`, `sqlite://path/to/file.db`
    /// (add `?mode=rwc` to create a missing file), `sqlite:relative.db`.
    pub fn builder(url: impl Into<String>) -> SqliteStoreBuilder {
        SqliteStoreBuilder {
            url: url.into(),
            max_connections: None,
            busy_timeout: Duration::from_secs(30),
            on_open: OnOpen::Migrate,
            create: None,
        }
    }

    /// A fresh in-memory database, migrated.
    pub async fn in_memory() -> Result<Self> {
        Self::builder("sqlite::memory:").build().await
    }

    /// The database file at `path`, created if missing, migrated.
    pub async fn open(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true);
        Self::builder(String::new()).build_with(options).await
    }

    /// Applies the migrations the database lacks (done by [`SqliteStoreBuilder::build`] unless
    /// turned off). Idempotent.
    pub async fn migrate(&self) -> Result<MigrationReport> {
        self.store.migrate().await
    }

    /// The schema version of the database (0 before the first migration).
    pub async fn schema_version(&self) -> Result<i64> {
        self.store.schema_version().await
    }

    /// The writer's connection pool, for operators' own queries. Writes that bypass the store
    /// bypass its guarantees.
    pub fn pool(&self) -> &Pool<Sqlite> {
        self.store.pool()
    }
}

/// Configures and opens a [`SqliteStore`]. Setters never fail; [`build`](Self::build) checks.
///
/// A file database gets two pools: one connection for writers, which queue for it in order,
/// and up to [`with_max_connections`](Self::with_max_connections) read-only connections for
/// readers. No number of concurrent readers can take the connection a writer needs, and no
/// writer waits on SQLite's lock while holding a connection a reader needs.
#[derive(Debug, Clone)]
pub struct SqliteStoreBuilder {
    url: String,
    max_connections: Option<u32>,
    busy_timeout: Duration,
    on_open: OnOpen,
    create: Option<bool>,
}

impl SqliteStoreBuilder {
    /// The most pooled reader connections of a file database (default 8; writers always
    /// share one connection, and an in-memory database has exactly one for everything).
    pub fn with_max_connections(mut self, max: u32) -> Self {
        self.max_connections = Some(max);
        self
    }

    /// How long a writer waits for the write lock held by another process before failing
    /// (default 30 s).
    pub fn with_busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// Whether `build` applies pending migrations (default yes). Without them, call
    /// [`SqliteStore::migrate`] before use.
    pub fn with_migrations(mut self, migrate: bool) -> Self {
        self.on_open = if migrate {
            OnOpen::Migrate
        } else {
            OnOpen::CheckKnown
        };
        self
    }

    /// Whether a missing database file is created (default: as the URL's `mode` says; SQLite
    /// creates none without `mode=rwc`). Ignored by [`existing_only`](Self::existing_only).
    pub fn with_create_if_missing(mut self, create: bool) -> Self {
        self.create = Some(create);
        self
    }

    /// Opens only a catalog that already exists at this release's schema version, and writes
    /// nothing while opening: a missing file is not created (whatever the URL's `mode`), and
    /// a database without the PathOps schema, or with an older one, is refused with
    /// [`Error::InvalidConfig`] instead of being migrated. For tools pointed at a catalog by
    /// a person, where a typo in the path must not create a new, empty catalog.
    pub fn existing_only(mut self) -> Self {
        self.on_open = OnOpen::RequireCurrent;
        self
    }

    /// Opens the pools (and migrates).
    pub async fn build(self) -> Result<SqliteStore> {
        let options =
            SqliteConnectOptions::from_str(&self.url).map_err(|e| Error::InvalidConfig {
                message: format!("invalid SQLite URL: {e}"),
            })?;
        self.build_with(options).await
    }

    async fn build_with(self, options: SqliteConnectOptions) -> Result<SqliteStore> {
        let in_memory = options
            .get_filename()
            .to_string_lossy()
            .starts_with("file:sqlx-in-memory")
            || self.url.contains(":memory:")
            || self.url.contains("mode=memory");
        let mut options = options
            .busy_timeout(self.busy_timeout)
            .foreign_keys(true)
            .journal_mode(if in_memory {
                SqliteJournalMode::Memory
            } else {
                SqliteJournalMode::Wal
            })
            .synchronous(SqliteSynchronous::Normal);
        if !in_memory {
            if self.on_open == OnOpen::RequireCurrent {
                options = options.create_if_missing(false);
            } else if let Some(create) = self.create {
                options = options.create_if_missing(create);
            }
            check_path(options.get_filename(), self.on_open)?;
        }
        let store = if in_memory {
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await
                .map_err(open_error)?;
            SqlStore::new(pool)
        } else {
            let writer = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options.clone())
                .await
                .map_err(open_error)?;
            // Readers connect lazily: the writer's connection has created the file (and set
            // WAL mode) by now, which a read-only connection cannot do.
            let reader = SqlitePoolOptions::new()
                .max_connections(self.max_connections.unwrap_or(8).max(1))
                .connect_lazy_with(options.read_only(true));
            SqlStore::with_reader(writer, reader)
        };
        store.prepare(self.on_open).await?;
        Ok(SqliteStore { store })
    }
}

/// Names what is wrong with a database path before SQLite reports "unable to open database
/// file" for all of it.
fn check_path(path: &std::path::Path, on_open: OnOpen) -> Result<()> {
    let invalid = |message: String| Err(Error::InvalidConfig { message });
    let shown = path.display();
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => {
            invalid(format!("{shown} is a directory, not a database file"))
        }
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
            if on_open == OnOpen::RequireCurrent {
                invalid(format!("no catalog at {shown}: the file does not exist"))
            } else if let Some(parent) = parent.filter(|p| !p.is_dir()) {
                invalid(format!(
                    "cannot create {shown}: the directory {} does not exist",
                    parent.display()
                ))
            } else {
                Ok(())
            }
        }
        Err(e) => Err(Error::backend(BACKEND, e)),
    }
}

fn open_error(e: sqlx::Error) -> Error {
    Error::backend(BACKEND, e)
}
