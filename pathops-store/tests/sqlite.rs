//! The conformance suite against SQLite, in memory and on a file, plus SQLite-only checks:
//! migrations and the append-only audit table.

#![cfg(feature = "sqlite")]

use std::sync::Arc;

use pathops_core::{CatalogStore, Error};
use pathops_store::SqliteStore;
use pathops_testkit::fixtures::{IntegrationBuilder, create_mutation, tenant};
use pathops_testkit::store_suite::{RawSql, StoreFactory, StoreFixture};

/// Raw SQL on the store's writer connection.
fn raw_sql(store: &SqliteStore) -> RawSql {
    let pool = store.pool().clone();
    Arc::new(move |sql| {
        let pool = pool.clone();
        Box::pin(async move {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&pool)
                .await
                .expect("raw SQL");
        })
    })
}

mod in_memory {
    use super::*;

    struct InMemory;

    #[async_trait::async_trait]
    impl StoreFactory for InMemory {
        async fn open(&self) -> Option<StoreFixture> {
            let store = SqliteStore::in_memory().await.expect("in-memory SQLite");
            let raw = raw_sql(&store);
            Some(StoreFixture::new(Arc::new(store)).with_raw_sql(raw))
        }
    }

    pathops_testkit::store_conformance_suite!(InMemory);
    pathops_testkit::catalog_conformance_tests!(InMemory);
    pathops_testkit::monitor_conformance_tests!(InMemory);
}

mod on_file {
    use super::*;

    struct OnFile;

    #[async_trait::async_trait]
    impl StoreFactory for OnFile {
        async fn open(&self) -> Option<StoreFixture> {
            let dir = tempfile::tempdir().expect("temp dir");
            let store = SqliteStore::open(dir.path().join("catalog.db"))
                .await
                .expect("SQLite file");
            let raw = raw_sql(&store);
            Some(
                StoreFixture::new(Arc::new(store))
                    .with_raw_sql(raw)
                    .with_cleanup(Box::pin(async move {
                        drop(dir);
                    })),
            )
        }
    }

    pathops_testkit::store_conformance_suite!(OnFile);
    pathops_testkit::catalog_conformance_tests!(OnFile);
    pathops_testkit::provision_conformance_tests!(OnFile);
    pathops_testkit::monitor_conformance_tests!(OnFile);
}

#[tokio::test]
async fn migrations_are_recorded_idempotent_and_survive_reopening() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("catalog.db");
    let store = SqliteStore::open(&path).await.expect("open");
    assert_eq!(
        store.schema_version().await.expect("version"),
        pathops_store::SCHEMA_VERSION
    );
    let again = store.migrate().await.expect("migrate again");
    let v = pathops_store::SCHEMA_VERSION;
    assert_eq!(
        (again.from_version, again.to_version, again.applied()),
        (v, v, 0)
    );

    let created = store
        .apply(create_mutation(
            IntegrationBuilder::new("acme", "kept").build(),
        ))
        .await
        .expect("create")
        .integration;
    drop(store);

    let url = format!("sqlite://{}", path.display());
    let reopened = SqliteStore::builder(url).build().await.expect("reopen");
    assert_eq!(
        reopened
            .get(&tenant("acme"), created.id)
            .await
            .expect("get"),
        created
    );
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT version, name FROM pathops_migrations ORDER BY version")
            .fetch_all(reopened.pool())
            .await
            .expect("migrations table");
    assert_eq!(
        rows,
        [
            (1, "catalog tables".to_owned()),
            (2, "health check schedule".to_owned()),
            (
                3,
                "evidence: health fields apart from edits, keyed audit, checkpoints, series"
                    .to_owned()
            ),
            (4, "outbox order per integration".to_owned()),
            (5, "migration checksums".to_owned()),
            (
                6,
                "out-of-process plugins: executable, checksum, state".to_owned()
            )
        ],
        "each version recorded once"
    );
    let checksums: Vec<Option<String>> =
        sqlx::query_scalar("SELECT checksum FROM pathops_migrations ORDER BY version")
            .fetch_all(reopened.pool())
            .await
            .expect("checksums");
    assert!(
        checksums
            .iter()
            .all(|c| c.as_ref().is_some_and(|c| c.len() == 64)),
        "every applied migration has its SHA-256: {checksums:?}"
    );
}

#[tokio::test]
async fn an_applied_migration_edited_in_the_code_is_refused_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("catalog.db");
    let url = format!("sqlite://{}", path.display());
    let store = SqliteStore::open(&path).await.expect("open");
    // What an edited migration 2 looks like from the database's side: its recorded checksum
    // is not the code's.
    sqlx::query("UPDATE pathops_migrations SET checksum = 'feedface' || substr(checksum, 9) WHERE version = 2")
        .execute(store.pool())
        .await
        .expect("tamper");
    drop(store);
    for opened in [
        SqliteStore::builder(url.clone()).build().await.map(drop),
        SqliteStore::builder(url.clone())
            .existing_only()
            .build()
            .await
            .map(drop),
        SqliteStore::builder(url.clone())
            .with_migrations(false)
            .build()
            .await
            .map(drop),
    ] {
        let err = opened
            .expect_err("an edited migration is refused")
            .to_string();
        assert!(
            err.contains("schema migration 2 (health check schedule)"),
            "{err}"
        );
        assert!(err.contains("feedface"), "{err}");
    }
    // A database from before checksums were kept gets them on its next migration, and opens.
    let pool = sqlx::SqlitePool::connect(&url).await.expect("pool");
    sqlx::query("UPDATE pathops_migrations SET checksum = NULL")
        .execute(&pool)
        .await
        .expect("clear");
    pool.close().await;
    let store = SqliteStore::builder(url).build().await.expect("backfilled");
    let missing: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM pathops_migrations WHERE checksum IS NULL")
            .fetch_one(store.pool())
            .await
            .expect("count");
    assert_eq!(missing, 0);
}

#[tokio::test]
async fn a_schema_newer_than_the_code_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("catalog.db");
    let store = SqliteStore::open(&path).await.expect("open");
    sqlx::query(
        "INSERT INTO pathops_migrations (version, name, applied_at) VALUES (99, 'future', 0)",
    )
    .execute(store.pool())
    .await
    .expect("record a future version");
    drop(store);

    for migrate in [true, false] {
        let err = SqliteStore::builder(format!("sqlite://{}", path.display()))
            .with_migrations(migrate)
            .build()
            .await
            .expect_err("newer schema");
        match err {
            Error::InvalidConfig { message } => {
                assert!(message.contains("version 99"), "{message}");
                assert!(
                    message.contains(&format!("({})", pathops_store::SCHEMA_VERSION)),
                    "{message}"
                );
            }
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn without_migrations_the_schema_is_left_alone_until_asked() {
    let store = SqliteStore::builder("sqlite::memory:")
        .with_migrations(false)
        .build()
        .await
        .expect("open");
    assert_eq!(store.schema_version().await.expect("version"), 0);
    let report = store.migrate().await.expect("migrate");
    assert_eq!(
        (report.from_version, report.applied()),
        (0, pathops_store::SCHEMA_VERSION)
    );
    assert_eq!(
        store.schema_version().await.expect("version"),
        pathops_store::SCHEMA_VERSION
    );
}

#[tokio::test]
async fn the_audit_table_refuses_updates_and_deletes() {
    let store = SqliteStore::in_memory().await.expect("open");
    store
        .apply(create_mutation(
            IntegrationBuilder::new("acme", "audited").build(),
        ))
        .await
        .expect("create");
    for statement in [
        "UPDATE audit_logs SET actor = 'mallory'",
        "DELETE FROM audit_logs",
    ] {
        let err = sqlx::query(statement)
            .execute(store.pool())
            .await
            .expect_err("append-only");
        assert!(
            err.to_string().contains("append-only"),
            "{statement}: {err}"
        );
    }
    let entries = store
        .audit(&tenant("acme"), &pathops_core::store::AuditQuery::all())
        .await
        .expect("audit");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].record.actor.as_str(), "test-actor");
}
