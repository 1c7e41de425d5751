//! What the SQL backends share: the statements ([`query`]), the schema and its migrations
//! ([`schema`], [`migrate`]), row decoding ([`codec`]) and the catalog logic ([`SqlStore`]).
//!
//! A backend supplies a [`Dialect`]: its sqlx database, its sea-query builder, how a write
//! transaction takes its lock, and the few column types that differ. Everything else is written
//! once here, so the backends behave identically by construction.

pub(crate) mod codec;
pub(crate) mod migrate;
pub(crate) mod prepared;
pub(crate) mod query;
pub(crate) mod schema;
pub(crate) mod template;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use pathops_core::audit::{AuditAnchor, AuditCheckpoint, GENESIS_HASH};
use pathops_core::event::{OutboxClaim, OutboxEntry, OutboxRelease};
use pathops_core::health::{Series, SeriesSummary};
use pathops_core::page::CursorPosition;
use pathops_core::store::{
    AuditQuery, AuditSeal, CheckClaim, DueCheck, HealthWrite, PluginMetadata,
};
use pathops_core::{
    AuditEntry, Change, Cursor, Error, HealthCheckRecord, HealthSummary, Integration,
    IntegrationId, ListQuery, Mutation, MutationOutcome, Page, ResourceKind, Result, TenantId,
    TimeRange,
};
use sea_query_sqlx::{SqlxBinder, SqlxValues};
use sqlx::{Database, Pool, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use self::codec::RowExt;
use self::schema::DdlTypes;
use self::template::{Prepared, Templates};
use crate::error::StoreError;
use crate::stored;

/// A statement rendered for one backend: SQL text and its bound values.
pub(crate) type Built = (Arc<str>, SqlxValues);

/// The connection type of a dialect.
pub(crate) type Conn<D> = <<D as Dialect>::Db as Database>::Connection;

/// What a write transaction serializes on.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Lock<'a> {
    /// The writers of one tenant (its audit chain).
    #[cfg_attr(
        not(feature = "postgres"),
        allow(dead_code, reason = "SQLite's database lock covers every tenant")
    )]
    Tenant(&'a TenantId),
    /// Outbox claimers.
    Outbox,
    /// Health-check claimers.
    Checks,
    /// Nothing beyond the rows the transaction writes (a health-only check).
    Rows,
    /// Schema migrations.
    Migrations,
}

/// One SQL database the catalog runs on (see the module docs).
#[async_trait]
pub(crate) trait Dialect: Send + Sync + 'static {
    /// The backend's name, as [`CatalogStore::backend`](pathops_core::CatalogStore::backend).
    const NAME: &'static str;
    /// Whether claims lock the rows they select (`FOR UPDATE SKIP LOCKED`), so that concurrent
    /// claimers never pick the same event; without it the write transaction must exclude other
    /// writers (SQLite's database-wide write lock does).
    const SKIP_LOCKED: bool;
    /// Whether the database has `percentile_disc` and `GROUPING SETS`, so a health summary's
    /// percentiles come out of the same single pass as its counts (PostgreSQL); without them
    /// a second statement ranks the window (SQLite).
    const PERCENTILE_AGGREGATE: bool;
    /// The column types of the DDL templates.
    const DDL: DdlTypes;
    /// The sqlx row type.
    type Row: RowExt + Send + 'static;
    /// The sqlx database.
    type Db: Database<Row = Self::Row>;
    /// The sea-query renderer.
    type Builder: sea_query::QueryBuilder + Default;

    /// Statements of migration `version` that only this backend runs (triggers, …).
    fn extra_ddl(version: i64) -> &'static [&'static str];

    /// A query whose one row has a column `n`: 1 when the migrations table exists in the
    /// database (the current schema, for PostgreSQL), else 0. Creates nothing.
    fn migrations_table_exists() -> sea_query::SelectStatement;

    /// Begins a transaction that serializes with every other writer holding `lock`, taking
    /// the lock before anything is read.
    async fn begin(
        pool: &Pool<Self::Db>,
        lock: Lock<'_>,
    ) -> sqlx::Result<Transaction<'static, Self::Db>>;
    /// Runs a statement, returning the rows affected.
    async fn execute(conn: &mut Conn<Self>, q: Built) -> sqlx::Result<u64>;
    /// Runs DDL (no values).
    async fn execute_ddl(conn: &mut Conn<Self>, sql: String) -> sqlx::Result<()>;
    /// Runs a query, returning every row.
    async fn fetch_all(conn: &mut Conn<Self>, q: Built) -> sqlx::Result<Vec<Self::Row>>;
    /// Runs a query, returning its first row.
    async fn fetch_optional(conn: &mut Conn<Self>, q: Built) -> sqlx::Result<Option<Self::Row>>;
    /// Commits a transaction.
    async fn commit(tx: Transaction<'static, Self::Db>) -> sqlx::Result<()>;
}

/// Renders `statement` for dialect `D`.
pub(crate) fn build<D: Dialect>(statement: &impl SqlxBinder) -> Built {
    let (sql, values) = statement.build_sqlx(D::Builder::default());
    (sql.into(), values)
}

/// A database failure of backend `D`.
pub(crate) fn db_error<D: Dialect>(e: sqlx::Error) -> Error {
    Error::backend(D::NAME, e)
}

/// An integration row that does not decode.
fn corrupt(id: String, e: Error) -> Error {
    Error::corrupt(ResourceKind::Integration, id, e)
}

/// `on_unique()` when `e` is a unique-key violation, else a backend failure.
fn unique_or<D: Dialect>(e: sqlx::Error, on_unique: impl FnOnce() -> Error) -> Error {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => on_unique(),
        _ => db_error::<D>(e),
    }
}

/// The catalog on a SQL database `D` (see the module docs).
///
/// Writes go through `pool`; reads through `reader`, which is the same pool unless the
/// backend gives readers their own (SQLite: one writer connection, several readers, so that
/// no number of readers can hold the connection a writer needs, and writers queue in the
/// pool instead of spinning on the database lock).
pub(crate) struct SqlStore<D: Dialect> {
    pool: Pool<D::Db>,
    reader: Pool<D::Db>,
    templates: Templates,
}

impl<D: Dialect> fmt::Debug for SqlStore<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &D::NAME)
            .field("connections", &self.pool.size())
            .field("reader_connections", &self.reader.size())
            .finish()
    }
}

impl<D: Dialect> SqlStore<D> {
    /// A store on `pool` for reads and writes (migrations are the caller's business).
    pub(crate) fn new(pool: Pool<D::Db>) -> Self {
        Self::with_reader(pool.clone(), pool)
    }

    /// A store writing through `writer` and reading through `reader`.
    pub(crate) fn with_reader(writer: Pool<D::Db>, reader: Pool<D::Db>) -> Self {
        Self {
            pool: writer,
            reader,
            templates: Templates::default(),
        }
    }

    /// A prepared statement rendered (once) for `D` and bound.
    fn sql(&self, p: Prepared) -> Built {
        self.templates.bind::<D::Builder>(p)
    }

    /// The backend's name.
    pub(crate) fn backend(&self) -> &'static str {
        D::NAME
    }

    /// The pool.
    pub(crate) fn pool(&self) -> &Pool<D::Db> {
        &self.pool
    }

    /// A read through the reader pool.
    async fn fetch_all(&self, q: Built) -> Result<Vec<D::Row>> {
        let mut conn = self.reader.acquire().await.map_err(db_error::<D>)?;
        D::fetch_all(&mut conn, q).await.map_err(db_error::<D>)
    }

    pub(crate) async fn get(&self, tenant: &TenantId, id: IntegrationId) -> Result<Integration> {
        let mut conn = self.reader.acquire().await.map_err(db_error::<D>)?;
        let row = D::fetch_optional(
            &mut conn,
            self.sql(prepared::select_integration(tenant, id)),
        )
        .await
        .map_err(db_error::<D>)?;
        match row {
            Some(row) => codec::integration(&row).map_err(|e| corrupt(id.to_string(), e)),
            None => Err(Error::integration_not_found(id)),
        }
    }

    /// One page; a row that does not decode is reported in [`Page::unreadable`] and never
    /// fails the page (the keyset cursor only needs its name and id columns).
    pub(crate) async fn list(&self, tenant: &TenantId, q: &ListQuery) -> Result<Page<Integration>> {
        let limit = q.effective_limit()?;
        let position = q.position(tenant)?;
        let statement = prepared::list_integrations(tenant, &q.filter, position.as_ref(), limit);
        let mut rows = self.fetch_all(self.sql(statement)).await?;
        let next_cursor = if rows.len() > limit as usize {
            rows.truncate(limit as usize);
            let last = rows.last().expect("a full page has a last row");
            let id = last.uuid("integrations", "id")?;
            let name = last.text("integrations", "name")?;
            Some(Cursor::encode(
                tenant,
                &q.filter,
                &CursorPosition {
                    name,
                    id: IntegrationId::from_uuid(id)
                        .map_err(|e| corrupt(id.to_string(), e.into()))?,
                },
            ))
        } else {
            None
        };
        let mut page = Page::new(Vec::with_capacity(rows.len()), next_cursor);
        for row in &rows {
            match codec::integration(row) {
                Ok(integration) => page.items.push(integration),
                Err(e) => {
                    let id = row
                        .uuid("integrations", "id")
                        .ok()
                        .and_then(|id| IntegrationId::from_uuid(id).ok());
                    let name = row.text("integrations", "name").ok();
                    tracing::warn!(
                        backend = D::NAME,
                        integration_id = id.map(tracing::field::display),
                        "an integration row cannot be read; it is reported as unreadable"
                    );
                    page.unreadable.push(pathops_core::Unreadable {
                        id,
                        name,
                        reason: pathops_core::error::chain(&e),
                    });
                }
            }
        }
        Ok(page)
    }

    pub(crate) async fn apply(&self, m: Mutation) -> Result<MutationOutcome> {
        m.check_consistency()?;
        let tenant = m.tenant_id().clone();
        let mut tx = D::begin(&self.pool, Lock::Tenant(&tenant))
            .await
            .map_err(db_error::<D>)?;
        let conn: &mut Conn<D> = &mut tx;

        let integration = match &m.change {
            Change::Create(i) => {
                let stored = stored::integration(i.clone(), 1);
                D::execute(conn, self.sql(prepared::insert_integration(&stored)))
                    .await
                    .map_err(|e| unique_or::<D>(e, || already_exists(&stored)))?;
                stored
            }
            Change::Update {
                integration: i,
                expected_version,
                write_health,
            } => {
                let stored = stored::integration(i.clone(), expected_version + 1);
                let updated = D::execute(
                    conn,
                    self.sql(prepared::update_integration(
                        &stored,
                        *expected_version,
                        *write_health,
                    )),
                )
                .await
                .map_err(|e| unique_or::<D>(e, || already_exists(&stored)))?;
                if updated == 0 {
                    let version = self.sql(prepared::select_version(&tenant, stored.id));
                    return Err(
                        missed_update::<D>(conn, version, &stored, *expected_version).await,
                    );
                }
                D::execute(conn, self.sql(prepared::delete_tags(stored.id)))
                    .await
                    .map_err(db_error::<D>)?;
                stored
            }
        };
        if let Some(tags) = prepared::insert_tags(&integration) {
            D::execute(conn, self.sql(tags))
                .await
                .map_err(db_error::<D>)?;
        }

        let (audit, anchor) = self
            .append_audit(conn, m.audit, &m.seal, integration.version)
            .await?;

        let events: Vec<_> = m
            .events
            .into_iter()
            .chain(anchor)
            .map(stored::event)
            .collect();
        self.insert_events(conn, &events).await?;
        if let Some(h) = m.health_check {
            self.insert_health(conn, h).await?;
        }
        D::commit(tx).await.map_err(db_error::<D>)?;
        Ok(MutationOutcome { integration, audit })
    }

    /// Seals `record` onto its tenant's chain inside the caller's transaction (which holds the
    /// tenant's lock), returning the entry and the anchor event it is due.
    async fn append_audit(
        &self,
        conn: &mut Conn<D>,
        record: pathops_core::AuditRecord,
        seal: &AuditSeal,
        version: u64,
    ) -> Result<(AuditEntry, Option<pathops_core::EventEnvelope>)> {
        let tenant = record.tenant_id.clone();
        let head = D::fetch_optional(conn, self.sql(prepared::select_audit_head(&tenant)))
            .await
            .map_err(db_error::<D>)?;
        let (sequence, prev_hash) = match head {
            Some(row) => {
                let (sequence, hash) = codec::audit_head(&row)?;
                (sequence + 1, hash)
            }
            None => match self.checkpoint_in(conn, &tenant).await? {
                Some(cp) => (cp.sequence + 1, cp.hash),
                None => (1, GENESIS_HASH.to_owned()),
            },
        };
        let (audit, anchor) = seal.seal(record, sequence, &prev_hash, version);
        D::execute(conn, self.sql(prepared::insert_audit(&audit)))
            .await
            .map_err(|e| {
                unique_or::<D>(e, || {
                    StoreError::DuplicateKey {
                        table: "audit_logs",
                        key: audit.record.id.to_string(),
                    }
                    .into_error(D::NAME)
                })
            })?;
        Ok((audit, anchor))
    }

    async fn checkpoint_in(
        &self,
        conn: &mut Conn<D>,
        tenant: &TenantId,
    ) -> Result<Option<AuditCheckpoint>> {
        D::fetch_optional(conn, build::<D>(&query::select_checkpoint(tenant)))
            .await
            .map_err(db_error::<D>)?
            .map(|row| codec::checkpoint(&row))
            .transpose()
    }

    async fn insert_events(
        &self,
        conn: &mut Conn<D>,
        events: &[pathops_core::EventEnvelope],
    ) -> Result<()> {
        if let Some(insert) = prepared::insert_events(events) {
            D::execute(conn, self.sql(insert)).await.map_err(|e| {
                unique_or::<D>(e, || Error::AlreadyExists {
                    kind: ResourceKind::Event,
                    id: events
                        .iter()
                        .map(|e| e.id.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                })
            })?;
        }
        Ok(())
    }

    async fn insert_health(&self, conn: &mut Conn<D>, h: HealthCheckRecord) -> Result<()> {
        let h = stored::health_check(h);
        D::execute(conn, self.sql(prepared::insert_health(&h)))
            .await
            .map_err(|e| {
                unique_or::<D>(e, || {
                    StoreError::DuplicateKey {
                        table: "health_checks",
                        key: h.id.to_string(),
                    }
                    .into_error(D::NAME)
                })
            })?;
        Ok(())
    }

    pub(crate) async fn record_check(&self, w: HealthWrite) -> Result<Option<AuditEntry>> {
        w.check_consistency()?;
        let (tenant, id) = (w.record.tenant_id.clone(), w.record.integration_id);
        // Only an audited write extends the tenant's chain and needs its lock.
        let lock = if w.audit.is_some() {
            Lock::Tenant(&tenant)
        } else {
            Lock::Rows
        };
        let mut tx = D::begin(&self.pool, lock).await.map_err(db_error::<D>)?;
        let conn: &mut Conn<D> = &mut tx;
        let updated = D::execute(
            conn,
            self.sql(prepared::update_health(
                &tenant,
                id,
                &w.expected,
                w.health.as_ref(),
            )),
        )
        .await
        .map_err(db_error::<D>)?;
        if updated == 0 {
            let version = self.sql(prepared::select_version(&tenant, id));
            let row = D::fetch_optional(conn, version)
                .await
                .map_err(db_error::<D>)?;
            return Err(
                match row.map(|r| codec::version_and_deleted(&r)).transpose()? {
                    None | Some((_, true)) => Error::integration_not_found(id),
                    Some((actual, false)) => Error::Conflict {
                        kind: ResourceKind::Integration,
                        id: id.to_string(),
                        expected: w.version,
                        actual: Some(actual),
                    },
                },
            );
        }
        let mut events = w.events;
        let audit = match w.audit {
            Some(record) => {
                let (entry, anchor) = self.append_audit(conn, record, &w.seal, w.version).await?;
                events.extend(anchor);
                Some(entry)
            }
            None => None,
        };
        let events: Vec<_> = events.into_iter().map(stored::event).collect();
        self.insert_events(conn, &events).await?;
        self.insert_health(conn, w.record).await?;
        D::commit(tx).await.map_err(db_error::<D>)?;
        Ok(audit)
    }

    pub(crate) async fn anchor_audit(&self, tenant: &TenantId) -> Result<Option<AuditAnchor>> {
        let mut tx = D::begin(&self.pool, Lock::Tenant(tenant))
            .await
            .map_err(db_error::<D>)?;
        let conn: &mut Conn<D> = &mut tx;
        let head = D::fetch_optional(conn, build::<D>(&query::select_audit_newest(tenant)))
            .await
            .map_err(db_error::<D>)?
            .map(|row| codec::audit_entry(&row))
            .transpose()?;
        let Some(head) = head else {
            let cp = self.checkpoint_in(conn, tenant).await?;
            D::commit(tx).await.map_err(db_error::<D>)?;
            return Ok(cp.as_ref().map(AuditCheckpoint::anchor));
        };
        let anchor = AuditAnchor::of(&head);
        if let Some(id) = head.record.integration_id {
            let version =
                D::fetch_optional(conn, build::<D>(&query::select_live_version(tenant, id)))
                    .await
                    .map_err(db_error::<D>)?
                    .map(|r| codec::version_and_deleted(&r))
                    .transpose()?
                    .map_or(0, |(v, _)| v);
            self.insert_events(conn, &[stored::event(anchor.event(id, version))])
                .await?;
        }
        D::commit(tx).await.map_err(db_error::<D>)?;
        Ok(Some(anchor))
    }

    pub(crate) async fn audit_checkpoint(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<AuditCheckpoint>> {
        let mut conn = self.reader.acquire().await.map_err(db_error::<D>)?;
        self.checkpoint_in(&mut conn, tenant).await
    }

    pub(crate) async fn prune_audit(&self, checkpoint: &AuditCheckpoint) -> Result<u64> {
        let tenant = &checkpoint.tenant_id;
        let mut tx = D::begin(&self.pool, Lock::Tenant(tenant))
            .await
            .map_err(db_error::<D>)?;
        let conn: &mut Conn<D> = &mut tx;
        let at = D::fetch_optional(
            conn,
            build::<D>(&query::select_audit_at(tenant, checkpoint.sequence)),
        )
        .await
        .map_err(db_error::<D>)?
        .map(|row| codec::audit_entry(&row))
        .transpose()?;
        if at.is_none_or(|e| e.hash != checkpoint.hash) {
            return Err(stored::prune_conflict(checkpoint));
        }
        // The checkpoint first: the append-only trigger lets deletes through up to it only.
        D::execute(
            conn,
            build::<D>(&query::upsert_checkpoint(
                checkpoint,
                OffsetDateTime::now_utc(),
            )),
        )
        .await
        .map_err(db_error::<D>)?;
        let deleted = D::execute(
            conn,
            build::<D>(&query::delete_audit_through(tenant, checkpoint.sequence)),
        )
        .await
        .map_err(db_error::<D>)?;
        D::commit(tx).await.map_err(db_error::<D>)?;
        Ok(deleted)
    }

    pub(crate) async fn health_history(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        range: TimeRange,
        limit: u32,
    ) -> Result<Vec<HealthCheckRecord>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rows = self
            .fetch_all(build::<D>(&query::select_health(
                tenant,
                id,
                range,
                Some(limit),
            )))
            .await?;
        rows.iter().map(codec::health_check).collect()
    }

    /// The summary computed in the database: counts and series in one aggregate, the
    /// percentiles with a window function, failure codes grouped, all over the integration's
    /// index range. Equal to [`HealthSummary::from_records`] over the same rows.
    pub(crate) async fn health_summary(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        range: TimeRange,
    ) -> Result<HealthSummary> {
        const T: &str = "health_checks";
        let mut conn = self.reader.acquire().await.map_err(db_error::<D>)?;
        let conn: &mut Conn<D> = &mut conn;
        let groups = D::fetch_all(
            conn,
            build::<D>(&query::summary_counts(
                tenant,
                id,
                range,
                D::PERCENTILE_AGGREGATE,
            )),
        )
        .await
        .map_err(db_error::<D>)?;
        let count = |row: &<D as Dialect>::Row, col| -> Result<u64> {
            Ok(u64::try_from(row.opt_int(T, col)?.unwrap_or(0)).unwrap_or(0))
        };
        let latency = |row: &<D as Dialect>::Row, col| -> Result<Option<u64>> {
            Ok(row.opt_int(T, col)?.map(|l| u64::try_from(l).unwrap_or(0)))
        };
        let mut summary = HealthSummary::from_records(&[]);
        let mut series = [(0u64, 0u64, None); 3];
        // (code, failing checks, last failure) of each failure code.
        let mut codes = Vec::new();
        for row in &groups {
            if D::PERCENTILE_AGGREGATE && row.int(T, "grand_total")? == 1 {
                // The grouping set over the whole window: its percentiles, not more counts.
                summary.p50_latency_ms = latency(row, "p50")?;
                summary.p95_latency_ms = latency(row, "p95")?;
                summary.p99_latency_ms = latency(row, "p99")?;
                continue;
            }
            let checks = count(row, "checks")?;
            summary.checks += checks;
            summary.successes += count(row, "successes")?;
            summary.last_success_at =
                summary
                    .last_success_at
                    .max(codec::opt_time(row, T, "last_success_at")?);
            let last_failure = codec::opt_time(row, T, "last_failure_at")?;
            summary.last_failure_at = summary.last_failure_at.max(last_failure);
            for ((n, ok, last), c) in series.iter_mut().zip(query::SERIES_COLUMNS) {
                *n += count(row, c.checks)?;
                *ok += count(row, c.successes)?;
                *last = (*last).max(codec::opt_time(row, T, c.last_failure)?);
            }
            if let Some(code) = row.opt_text(T, "failure_key")? {
                codes.push((code, checks, last_failure));
            }
        }
        summary.uptime_percent = pathops_core::health::percent(summary.successes, summary.checks);
        summary.series = Series::ALL
            .into_iter()
            .zip(series)
            .map(|(s, (n, ok, last))| (s, SeriesSummary::new(n, ok, last)))
            .collect();
        summary.last_failure_code = codes
            .iter()
            .filter(|(_, _, last)| last.is_some() && *last == summary.last_failure_at)
            .map(|(code, _, _)| code.clone())
            .min();
        summary.failure_codes = codes.into_iter().map(|(code, n, _)| (code, n)).collect();
        // With a percentile aggregate the grand-total row already carried them.
        if summary.checks == 0 || D::PERCENTILE_AGGREGATE {
            return Ok(summary);
        }
        let ranks = D::fetch_all(
            conn,
            build::<D>(&query::summary_percentiles(tenant, id, range)),
        )
        .await
        .map_err(db_error::<D>)?;
        for row in &ranks {
            let rn = row.int(T, "rn")?;
            let n = row.int(T, "n")?;
            let latency = u64::try_from(row.int(T, "latency_ms")?).unwrap_or(0);
            for (p, slot) in [
                (50, &mut summary.p50_latency_ms),
                (95, &mut summary.p95_latency_ms),
                (99, &mut summary.p99_latency_ms),
            ] {
                if rn == (p * n + 99) / 100 {
                    *slot = Some(latency);
                }
            }
        }
        Ok(summary)
    }

    pub(crate) async fn audit(&self, tenant: &TenantId, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let rows = self
            .fetch_all(build::<D>(&query::select_audit(tenant, q)))
            .await?;
        rows.iter().map(codec::audit_entry).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(backend = D::NAME, owner = %claim.owner, limit = claim.limit))]
    pub(crate) async fn claim_outbox(&self, claim: &OutboxClaim) -> Result<Vec<OutboxEntry>> {
        let lease_until = stored::lease_end(claim.now, claim.lease)?;
        if claim.limit == 0 {
            return Ok(Vec::new());
        }
        let mut tx = D::begin(&self.pool, Lock::Outbox)
            .await
            .map_err(db_error::<D>)?;
        let conn: &mut Conn<D> = &mut tx;
        let due = query::select_due_events(claim.now, claim.limit, D::SKIP_LOCKED);
        let ids = D::fetch_all(conn, build::<D>(&due))
            .await
            .map_err(db_error::<D>)?
            .iter()
            .map(|row| row.uuid("outbox", "event_id"))
            .collect::<Result<Vec<Uuid>>>()?;
        if ids.is_empty() {
            D::commit(tx).await.map_err(db_error::<D>)?;
            return Ok(Vec::new());
        }
        let lease = query::lease_events(&ids, &claim.owner, claim.now, lease_until);
        let rows = D::fetch_all(conn, build::<D>(&lease))
            .await
            .map_err(db_error::<D>)?;
        let mut entries = rows
            .iter()
            .map(codec::outbox_entry)
            .collect::<Result<Vec<_>>>()?;
        entries.sort_by_key(|e| (e.envelope.occurred_at, e.envelope.id));
        D::commit(tx).await.map_err(db_error::<D>)?;
        Ok(entries)
    }

    pub(crate) async fn release_outbox(
        &self,
        event_id: Uuid,
        release: OutboxRelease,
    ) -> Result<()> {
        let mut conn = self.pool.acquire().await.map_err(db_error::<D>)?;
        let updated = D::execute(
            &mut conn,
            build::<D>(&query::release_event(event_id, &release)),
        )
        .await
        .map_err(db_error::<D>)?;
        if updated == 0 {
            return Err(Error::NotFound {
                kind: ResourceKind::Event,
                id: event_id.to_string(),
            });
        }
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(backend = D::NAME, owner = %claim.owner, limit = claim.limit))]
    pub(crate) async fn claim_due_checks(&self, claim: &CheckClaim) -> Result<Vec<DueCheck>> {
        if claim.limit == 0 {
            return Ok(Vec::new());
        }
        let lease_until = stored::lease_end(claim.now, claim.lease)?;
        let mut tx = D::begin(&self.pool, Lock::Checks)
            .await
            .map_err(db_error::<D>)?;
        let conn: &mut Conn<D> = &mut tx;
        let due = query::select_due_checks(claim.now, claim.limit, D::SKIP_LOCKED);
        let ids = D::fetch_all(conn, build::<D>(&due))
            .await
            .map_err(db_error::<D>)?
            .iter()
            .map(|row| row.uuid("integrations", "id"))
            .collect::<Result<Vec<Uuid>>>()?;
        if ids.is_empty() {
            D::commit(tx).await.map_err(db_error::<D>)?;
            return Ok(Vec::new());
        }
        let lease = query::lease_checks(&ids, &claim.owner, claim.now, lease_until);
        let rows = D::fetch_all(conn, build::<D>(&lease))
            .await
            .map_err(db_error::<D>)?;
        let mut leased = rows
            .iter()
            .map(codec::due_check)
            .collect::<Result<Vec<_>>>()?;
        D::commit(tx).await.map_err(db_error::<D>)?;
        // The claim's order: never scheduled first, then by due time.
        leased.sort_by_key(|d| (d.next_due.is_some(), d.next_due, d.integration_id));
        Ok(leased)
    }

    pub(crate) async fn schedule_check(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        next_due: OffsetDateTime,
    ) -> Result<()> {
        let mut conn = self.pool.acquire().await.map_err(db_error::<D>)?;
        let updated = D::execute(
            &mut conn,
            build::<D>(&query::schedule_check(tenant, id, next_due)),
        )
        .await
        .map_err(db_error::<D>)?;
        if updated == 0 {
            return Err(Error::integration_not_found(id));
        }
        Ok(())
    }

    pub(crate) async fn prune_health_excess(&self, keep: u32, limit: u32) -> Result<u64> {
        let mut conn = self.pool.acquire().await.map_err(db_error::<D>)?;
        D::execute(
            &mut conn,
            build::<D>(&query::prune_health_excess(keep, limit)),
        )
        .await
        .map_err(db_error::<D>)
    }

    pub(crate) async fn prune_health(&self, before: OffsetDateTime, limit: u32) -> Result<u64> {
        let mut conn = self.pool.acquire().await.map_err(db_error::<D>)?;
        D::execute(&mut conn, build::<D>(&query::prune_health(before, limit)))
            .await
            .map_err(db_error::<D>)
    }

    pub(crate) async fn upsert_plugins(&self, plugins: &[PluginMetadata]) -> Result<()> {
        let Some(upsert) = query::upsert_plugins(plugins) else {
            return Ok(());
        };
        let mut conn = self.pool.acquire().await.map_err(db_error::<D>)?;
        D::execute(&mut conn, build::<D>(&upsert))
            .await
            .map_err(db_error::<D>)?;
        Ok(())
    }

    pub(crate) async fn list_plugins(&self) -> Result<Vec<PluginMetadata>> {
        let rows = self.fetch_all(build::<D>(&query::select_plugins())).await?;
        rows.iter().map(codec::plugin).collect()
    }
}

fn already_exists(i: &Integration) -> Error {
    Error::AlreadyExists {
        kind: ResourceKind::Integration,
        id: i.name.to_string(),
    }
}

/// Why an update matched no row: the integration is missing, deleted or another tenant's
/// (`NotFound`), or its version moved on (`Conflict`).
async fn missed_update<D: Dialect>(
    conn: &mut Conn<D>,
    select_version: Built,
    i: &Integration,
    expected: u64,
) -> Error {
    let row = match D::fetch_optional(conn, select_version).await {
        Ok(row) => row,
        Err(e) => return db_error::<D>(e),
    };
    match row.map(|r| codec::version_and_deleted(&r)).transpose() {
        Err(e) => e,
        Ok(None) | Ok(Some((_, true))) => Error::integration_not_found(i.id),
        Ok(Some((actual, false))) => Error::Conflict {
            kind: ResourceKind::Integration,
            id: i.id.to_string(),
            expected,
            actual: Some(actual),
        },
    }
}

/// Implements [`CatalogStore`](pathops_core::CatalogStore) for a public backend type that
/// wraps a `SqlStore` in its field `store`.
macro_rules! forward_catalog_store {
    ($ty:ty) => {
        #[async_trait::async_trait]
        impl pathops_core::CatalogStore for $ty {
            fn backend(&self) -> &'static str {
                self.store.backend()
            }
            async fn get(
                &self,
                tenant: &pathops_core::TenantId,
                id: pathops_core::IntegrationId,
            ) -> pathops_core::Result<pathops_core::Integration> {
                self.store.get(tenant, id).await
            }
            async fn list(
                &self,
                tenant: &pathops_core::TenantId,
                query: &pathops_core::ListQuery,
            ) -> pathops_core::Result<pathops_core::Page<pathops_core::Integration>> {
                self.store.list(tenant, query).await
            }
            async fn apply(
                &self,
                mutation: pathops_core::Mutation,
            ) -> pathops_core::Result<pathops_core::MutationOutcome> {
                self.store.apply(mutation).await
            }
            async fn record_check(
                &self,
                write: pathops_core::store::HealthWrite,
            ) -> pathops_core::Result<Option<pathops_core::AuditEntry>> {
                self.store.record_check(write).await
            }
            async fn anchor_audit(
                &self,
                tenant: &pathops_core::TenantId,
            ) -> pathops_core::Result<Option<pathops_core::audit::AuditAnchor>> {
                self.store.anchor_audit(tenant).await
            }
            async fn audit_checkpoint(
                &self,
                tenant: &pathops_core::TenantId,
            ) -> pathops_core::Result<Option<pathops_core::audit::AuditCheckpoint>> {
                self.store.audit_checkpoint(tenant).await
            }
            async fn prune_audit(
                &self,
                checkpoint: &pathops_core::audit::AuditCheckpoint,
            ) -> pathops_core::Result<u64> {
                self.store.prune_audit(checkpoint).await
            }
            async fn prune_health_excess(
                &self,
                keep: u32,
                limit: u32,
            ) -> pathops_core::Result<u64> {
                self.store.prune_health_excess(keep, limit).await
            }
            async fn health_history(
                &self,
                tenant: &pathops_core::TenantId,
                id: pathops_core::IntegrationId,
                range: pathops_core::TimeRange,
                limit: u32,
            ) -> pathops_core::Result<Vec<pathops_core::HealthCheckRecord>> {
                self.store.health_history(tenant, id, range, limit).await
            }
            async fn health_summary(
                &self,
                tenant: &pathops_core::TenantId,
                id: pathops_core::IntegrationId,
                range: pathops_core::TimeRange,
            ) -> pathops_core::Result<pathops_core::HealthSummary> {
                self.store.health_summary(tenant, id, range).await
            }
            async fn audit(
                &self,
                tenant: &pathops_core::TenantId,
                query: &pathops_core::store::AuditQuery,
            ) -> pathops_core::Result<Vec<pathops_core::AuditEntry>> {
                self.store.audit(tenant, query).await
            }
            async fn claim_outbox(
                &self,
                claim: &pathops_core::event::OutboxClaim,
            ) -> pathops_core::Result<Vec<pathops_core::event::OutboxEntry>> {
                self.store.claim_outbox(claim).await
            }
            async fn release_outbox(
                &self,
                event_id: uuid::Uuid,
                release: pathops_core::event::OutboxRelease,
            ) -> pathops_core::Result<()> {
                self.store.release_outbox(event_id, release).await
            }
            async fn upsert_plugins(
                &self,
                plugins: &[pathops_core::store::PluginMetadata],
            ) -> pathops_core::Result<()> {
                self.store.upsert_plugins(plugins).await
            }
            async fn list_plugins(
                &self,
            ) -> pathops_core::Result<Vec<pathops_core::store::PluginMetadata>> {
                self.store.list_plugins().await
            }
            async fn claim_due_checks(
                &self,
                claim: &pathops_core::store::CheckClaim,
            ) -> pathops_core::Result<Vec<pathops_core::store::DueCheck>> {
                self.store.claim_due_checks(claim).await
            }
            async fn schedule_check(
                &self,
                tenant: &pathops_core::TenantId,
                id: pathops_core::IntegrationId,
                next_due: time::OffsetDateTime,
            ) -> pathops_core::Result<()> {
                self.store.schedule_check(tenant, id, next_due).await
            }
            async fn prune_health(
                &self,
                before: time::OffsetDateTime,
                limit: u32,
            ) -> pathops_core::Result<u64> {
                self.store.prune_health(before, limit).await
            }
        }
    };
}
pub(crate) use forward_catalog_store;
