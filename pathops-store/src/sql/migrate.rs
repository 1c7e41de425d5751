//! Applying [`MIGRATIONS`]: in order, once each, recorded in `pathops_migrations`.
//!
//! The whole run is one transaction holding the migration lock, so concurrent processes
//! starting against the same database apply each version exactly once, and a failed migration
//! leaves the schema as it was. A database whose recorded version is newer than this code knows
//! is refused rather than used.
//!
//! Each applied migration's checksum (SHA-256 of the statements it ran on this backend) is
//! recorded from schema version 5 on (migrations applied before that get theirs then), and
//! compared with the code's on every open: a released migration edited in the code is refused
//! with its version named, instead of leaving databases that differ from what the code says.

use pathops_core::{Error, Result};
use time::OffsetDateTime;

use super::codec::RowExt;
use super::schema::{CHECKSUMS_FROM, MIGRATIONS, MIGRATIONS_TABLE, latest_version};
use super::{Conn, Dialect, Lock, SqlStore, build, db_error, query};

/// What a migration run found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MigrationReport {
    /// The schema version before the run (0 for an empty database).
    pub from_version: i64,
    /// The schema version after it.
    pub to_version: i64,
}

impl MigrationReport {
    /// How many migrations were applied.
    pub fn applied(&self) -> i64 {
        self.to_version - self.from_version
    }
}

/// The schema version recorded in the database (0 when none is).
pub(crate) async fn current_version<D: Dialect>(conn: &mut Conn<D>) -> Result<i64> {
    D::execute_ddl(conn, MIGRATIONS_TABLE.to_owned())
        .await
        .map_err(db_error::<D>)?;
    let row = D::fetch_optional(conn, build::<D>(&query::select_schema_version()))
        .await
        .map_err(db_error::<D>)?;
    Ok(match row {
        Some(row) => row.opt_int("pathops_migrations", "current")?.unwrap_or(0),
        None => 0,
    })
}

/// Records the checksum of every applied migration that has none yet (`backfill`), then
/// refuses a database where a recorded checksum differs from this code's. Nothing to do
/// below [`CHECKSUMS_FROM`], where the column does not exist yet.
pub(crate) async fn verify_checksums<D: Dialect>(conn: &mut Conn<D>, backfill: bool) -> Result<()> {
    let row = D::fetch_optional(conn, build::<D>(&query::select_schema_version()))
        .await
        .map_err(db_error::<D>)?;
    let version = match row {
        Some(row) => row.opt_int("pathops_migrations", "current")?.unwrap_or(0),
        None => 0,
    };
    if version < CHECKSUMS_FROM {
        return Ok(());
    }
    let checksum = |m: &super::schema::Migration| m.checksum(D::DDL, D::extra_ddl(m.version));
    if backfill {
        for m in MIGRATIONS.iter().filter(|m| m.version <= version) {
            let update = query::set_migration_checksum(m.version, &checksum(m));
            D::execute(conn, build::<D>(&update))
                .await
                .map_err(db_error::<D>)?;
        }
    }
    let rows = D::fetch_all(conn, build::<D>(&query::select_migrations()))
        .await
        .map_err(db_error::<D>)?;
    for row in rows {
        let recorded_version = row.int("pathops_migrations", "version")?;
        let Some(recorded) = row.opt_text("pathops_migrations", "checksum")? else {
            continue;
        };
        let Some(m) = MIGRATIONS.iter().find(|m| m.version == recorded_version) else {
            continue;
        };
        let expected = checksum(m);
        if recorded != expected {
            return Err(Error::InvalidConfig {
                message: format!(
                    "schema migration {} ({}) differs from the one applied to this database                      (checksum {} recorded, {} in this code): a released migration was edited;                      restore it and add a new migration for the change",
                    m.version,
                    m.name,
                    &recorded[..recorded.len().min(12)],
                    &expected[..12],
                ),
            });
        }
    }
    Ok(())
}

/// What opening a store does about its schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnOpen {
    /// Apply the migrations the database lacks (the default).
    Migrate,
    /// Apply none; refuse only a schema newer than this code (the caller migrates later).
    CheckKnown,
    /// Write nothing and accept only a catalog at exactly this code's schema version.
    RequireCurrent,
}

/// Refuses a database whose schema is not exactly this code's: none at all (not a PathOps
/// catalog, or one never initialised), older (migrations pending) or newer.
pub(crate) fn require_current(version: i64) -> Result<()> {
    check_known(version)?;
    let latest = latest_version();
    match version {
        0 => Err(Error::InvalidConfig {
            message: "the database holds no PathOps catalog (no pathops_migrations table); \
                      create one by opening it with migrations enabled"
                .to_owned(),
        }),
        v if v < latest => Err(Error::InvalidConfig {
            message: format!(
                "the catalog's schema is at version {v} and this pathops-store needs {latest}; \
                 apply the migrations first"
            ),
        }),
        _ => Ok(()),
    }
}

/// Refuses a database whose schema is newer than this code.
pub(crate) fn check_known(version: i64) -> Result<()> {
    let latest = latest_version();
    if version > latest {
        return Err(Error::InvalidConfig {
            message: format!(
                "the database schema is at version {version}, newer than the latest version this \
                 pathops-store knows ({latest}); upgrade pathops-store"
            ),
        });
    }
    Ok(())
}

impl<D: Dialect> SqlStore<D> {
    /// Applies every migration the database lacks (see the module docs).
    pub(crate) async fn migrate(&self) -> Result<MigrationReport> {
        let mut tx = D::begin(self.pool(), Lock::Migrations)
            .await
            .map_err(db_error::<D>)?;
        let conn: &mut Conn<D> = &mut tx;
        let from_version = current_version::<D>(conn).await?;
        check_known(from_version)?;
        for m in MIGRATIONS.iter().filter(|m| m.version > from_version) {
            let extra = D::extra_ddl(m.version).iter().map(|s| (*s).to_owned());
            for statement in m.statements(D::DDL).chain(extra) {
                D::execute_ddl(conn, statement)
                    .await
                    .map_err(db_error::<D>)?;
            }
            let record = query::insert_migration(m.version, m.name, OffsetDateTime::now_utc());
            D::execute(conn, build::<D>(&record))
                .await
                .map_err(db_error::<D>)?;
            tracing::info!(
                backend = D::NAME,
                version = m.version,
                name = m.name,
                "applied schema migration"
            );
        }
        verify_checksums::<D>(conn, true).await?;
        D::commit(tx).await.map_err(db_error::<D>)?;
        Ok(MigrationReport {
            from_version,
            to_version: latest_version().max(from_version),
        })
    }

    /// The schema version recorded in the database (0 before the first migration).
    pub(crate) async fn schema_version(&self) -> Result<i64> {
        let mut conn = self.pool().acquire().await.map_err(db_error::<D>)?;
        current_version::<D>(&mut conn).await
    }

    /// The recorded schema version, read without creating anything (0 when the database has
    /// no migrations table).
    pub(crate) async fn recorded_version(&self) -> Result<i64> {
        let mut conn = self.pool().acquire().await.map_err(db_error::<D>)?;
        let exists = D::fetch_optional(&mut conn, build::<D>(&D::migrations_table_exists()))
            .await
            .map_err(db_error::<D>)?
            .map(|row| row.int("pathops_migrations", "n"))
            .transpose()?
            .unwrap_or(0);
        if exists == 0 {
            return Ok(0);
        }
        let row = D::fetch_optional(&mut conn, build::<D>(&query::select_schema_version()))
            .await
            .map_err(db_error::<D>)?;
        Ok(match row {
            Some(row) => row.opt_int("pathops_migrations", "current")?.unwrap_or(0),
            None => 0,
        })
    }

    /// Compares the recorded checksums with the code's, writing nothing.
    async fn verify_recorded_checksums(&self) -> Result<()> {
        let mut conn = self.pool().acquire().await.map_err(db_error::<D>)?;
        verify_checksums::<D>(&mut conn, false).await
    }

    /// Does what `on_open` says about the schema.
    pub(crate) async fn prepare(&self, on_open: OnOpen) -> Result<()> {
        match on_open {
            OnOpen::Migrate => self.migrate().await.map(drop),
            OnOpen::CheckKnown => {
                check_known(self.schema_version().await?)?;
                self.verify_recorded_checksums().await
            }
            OnOpen::RequireCurrent => {
                require_current(self.recorded_version().await?)?;
                self.verify_recorded_checksums().await
            }
        }
    }
}
