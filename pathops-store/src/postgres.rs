//! [`PostgresStore`]: the catalog in PostgreSQL, for shared, multi-process deployments.
//!
//! Writers of one tenant serialize on a transaction-level advisory lock keyed by the schema
//! and the tenant, taken before anything is read, so each tenant's audit chain stays linear
//! while other tenants write in parallel; the version check of an update is re-evaluated by
//! PostgreSQL on the latest row, so a stale version never overwrites. Outbox claims select with
//! `FOR UPDATE SKIP LOCKED`, so concurrent relays never lease the same event. A trigger refuses
//! `UPDATE`, `DELETE` and `TRUNCATE` on `audit_logs`. Configuration, details and event data are
//! `JSONB`; names use the `C` collation so that they sort by code point.

use std::str::FromStr;

use async_trait::async_trait;
use pathops_core::{Error, Result};
use sea_query::{Expr, PostgresQueryBuilder, Query};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, Pool, Postgres, Transaction};

use crate::sql::migrate::{MigrationReport, OnOpen};
use crate::sql::schema::DdlTypes;
use crate::sql::{Built, Conn, Dialect, Lock, SqlStore, build, forward_catalog_store};

const BACKEND: &str = "postgres";

/// The PostgreSQL dialect of the shared SQL implementation.
pub(crate) struct PostgresDialect;

#[async_trait]
impl Dialect for PostgresDialect {
    const NAME: &'static str = BACKEND;
    const SKIP_LOCKED: bool = true;
    const PERCENTILE_AGGREGATE: bool = true;
    const DDL: DdlTypes = DdlTypes {
        uuid: "UUID",
        json: "JSONB",
        name: "TEXT COLLATE \"C\"",
    };
    type Row = PgRow;
    type Db = Postgres;
    type Builder = PostgresQueryBuilder;

    fn extra_ddl(version: i64) -> &'static [&'static str] {
        match version {
            1 => &[
                "CREATE FUNCTION pathops_audit_logs_append_only() RETURNS trigger
                 LANGUAGE plpgsql AS $$
                 BEGIN
                     RAISE EXCEPTION 'audit_logs is append-only: % is refused', TG_OP
                         USING ERRCODE = 'restrict_violation';
                 END
                 $$",
                "CREATE TRIGGER audit_logs_append_only BEFORE UPDATE OR DELETE ON audit_logs
                 FOR EACH ROW EXECUTE FUNCTION pathops_audit_logs_append_only()",
                "CREATE TRIGGER audit_logs_no_truncate BEFORE TRUNCATE ON audit_logs
                 FOR EACH STATEMENT EXECUTE FUNCTION pathops_audit_logs_append_only()",
            ],
            // Entries at or below the tenant's checkpoint (archived) may be deleted; no others.
            3 => &[
                "CREATE OR REPLACE FUNCTION pathops_audit_logs_append_only() RETURNS trigger
                 LANGUAGE plpgsql AS $$
                 BEGIN
                     IF TG_OP = 'DELETE' AND OLD.sequence <= COALESCE(
                         (SELECT c.sequence FROM audit_checkpoints c
                          WHERE c.tenant_id = OLD.tenant_id), 0) THEN
                         RETURN OLD;
                     END IF;
                     RAISE EXCEPTION 'audit_logs is append-only: % is refused', TG_OP
                         USING ERRCODE = 'restrict_violation';
                 END
                 $$",
            ],
            _ => &[],
        }
    }

    fn migrations_table_exists() -> sea_query::SelectStatement {
        use sea_query::ExprTrait as _;
        sea_query::Query::select()
            .expr_as(sea_query::Expr::cust("COUNT(*)"), "n")
            .from(("information_schema", "tables"))
            .and_where(
                sea_query::Expr::col("table_schema").eq(sea_query::Expr::cust("current_schema()")),
            )
            .and_where(sea_query::Expr::col("table_name").eq("pathops_migrations"))
            .take()
    }

    async fn begin(
        pool: &Pool<Postgres>,
        lock: Lock<'_>,
    ) -> sqlx::Result<Transaction<'static, Postgres>> {
        let mut tx = pool.begin().await?;
        let key = match lock {
            Lock::Tenant(tenant) => Some(format!("tenant/{tenant}")),
            Lock::Migrations => Some("migrations".to_owned()),
            // Outbox claims read the pending events of each integration to keep their order;
            // two claims in flight at once could each lease a part of one integration's queue
            // (neither sees the other's uncommitted lease), so outbox claimers take turns.
            // Claims are one short select and update.
            Lock::Outbox => Some("outbox".to_owned()),
            // Check claims lock the rows they pick (SKIP LOCKED): they need no common lock.
            Lock::Checks => None,
            Lock::Rows => None,
        };
        if let Some(key) = key {
            // Keyed by schema too, so catalogs in different schemas of one database never wait
            // on each other.
            let lock = Query::select()
                .expr(Expr::cust_with_values(
                    "pg_advisory_xact_lock(hashtextextended('pathops:' || current_schema() || ':' || $1, 0))",
                    [key],
                ))
                .take();
            Self::execute(&mut tx, build::<Self>(&lock)).await?;
        }
        Ok(tx)
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

    async fn fetch_all(conn: &mut Conn<Self>, (sql, values): Built) -> sqlx::Result<Vec<PgRow>> {
        sqlx::query_with(AssertSqlSafe(sql), values)
            .fetch_all(conn)
            .await
    }

    async fn fetch_optional(
        conn: &mut Conn<Self>,
        (sql, values): Built,
    ) -> sqlx::Result<Option<PgRow>> {
        sqlx::query_with(AssertSqlSafe(sql), values)
            .fetch_optional(conn)
            .await
    }

    async fn commit(tx: Transaction<'static, Postgres>) -> sqlx::Result<()> {
        tx.commit().await
    }
}

/// The catalog in PostgreSQL (see the module docs). Build one with [`PostgresStore::builder`].
#[derive(Debug)]
pub struct PostgresStore {
    store: SqlStore<PostgresDialect>,
}

forward_catalog_store!(PostgresStore);

impl PostgresStore {
    /// A builder for the database at `url` (`postgres://user:password@host:5432/database`,
    /// any option libpq-style URLs take).
    pub fn builder(url: impl Into<String>) -> PostgresStoreBuilder {
        PostgresStoreBuilder {
            url: url.into(),
            schema: None,
            max_connections: 10,
            on_open: OnOpen::Migrate,
        }
    }

    /// Applies the migrations the database lacks (done by [`PostgresStoreBuilder::build`]
    /// unless turned off). Idempotent; concurrent callers serialize on an advisory lock.
    pub async fn migrate(&self) -> Result<MigrationReport> {
        self.store.migrate().await
    }

    /// The schema version of the database (0 before the first migration).
    pub async fn schema_version(&self) -> Result<i64> {
        self.store.schema_version().await
    }

    /// The connection pool, for operators' own queries. Writes that bypass the store bypass
    /// its guarantees.
    pub fn pool(&self) -> &Pool<Postgres> {
        self.store.pool()
    }
}

/// Configures and opens a [`PostgresStore`]. Setters never fail; [`build`](Self::build) checks.
#[derive(Clone)]
pub struct PostgresStoreBuilder {
    url: String,
    schema: Option<String>,
    max_connections: u32,
    on_open: OnOpen,
}

impl std::fmt::Debug for PostgresStoreBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password: never print it.
        f.debug_struct("PostgresStoreBuilder")
            .field("schema", &self.schema)
            .field("max_connections", &self.max_connections)
            .field("on_open", &self.on_open)
            .finish_non_exhaustive()
    }
}

impl PostgresStoreBuilder {
    /// Keeps the catalog's tables in `schema` (an existing schema; it becomes the connections'
    /// `search_path`). Default: the server's `search_path`, usually `public`.
    pub fn with_schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// The most pooled connections (default 10).
    pub fn with_max_connections(mut self, max: u32) -> Self {
        self.max_connections = max;
        self
    }

    /// Whether `build` applies pending migrations (default yes). Without them, call
    /// [`PostgresStore::migrate`] before use.
    pub fn with_migrations(mut self, migrate: bool) -> Self {
        self.on_open = if migrate {
            OnOpen::Migrate
        } else {
            OnOpen::CheckKnown
        };
        self
    }

    /// Opens only a catalog that already exists at this release's schema version, and writes
    /// nothing while opening: a database (or schema) without the PathOps tables, or with an
    /// older version of them, is refused with [`Error::InvalidConfig`] instead of being
    /// migrated. For tools pointed at a catalog by a person, where a typo in the URL must not
    /// create a new, empty catalog.
    pub fn existing_only(mut self) -> Self {
        self.on_open = OnOpen::RequireCurrent;
        self
    }

    /// Connects (and migrates).
    pub async fn build(self) -> Result<PostgresStore> {
        let mut options =
            PgConnectOptions::from_str(&self.url).map_err(|e| Error::InvalidConfig {
                // sqlx's message names the problem, not the URL.
                message: format!("invalid PostgreSQL URL: {e}"),
            })?;
        if let Some(schema) = &self.schema {
            options = options.options([("search_path", schema.as_str())]);
        }
        // One direct connection first: the pool retries a failing connect until its acquire
        // timeout and then reports only "pool timed out", hiding the cause (connection
        // refused, unknown database or role) that this attempt reports at once.
        sqlx::Connection::close(
            <sqlx::postgres::PgConnection as sqlx::Connection>::connect_with(&options)
                .await
                .map_err(|e| Error::backend(BACKEND, e))?,
        )
        .await
        .map_err(|e| Error::backend(BACKEND, e))?;
        let pool = PgPoolOptions::new()
            .max_connections(self.max_connections.max(1))
            .connect_with(options)
            .await
            .map_err(|e| Error::backend(BACKEND, e))?;
        let store = PostgresStore {
            store: SqlStore::new(pool),
        };
        store.store.prepare(self.on_open).await?;
        Ok(store)
    }
}
