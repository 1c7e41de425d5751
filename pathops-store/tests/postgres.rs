//! The conformance suite against PostgreSQL, plus PostgreSQL-only checks (append-only trigger,
//! migrations, column types).
//!
//! Runs when `PATHOPS_TEST_POSTGRES_URL` is set (e.g. `postgres://postgres@127.0.0.1:5432/test`);
//! otherwise every test prints `skipping: PATHOPS_TEST_POSTGRES_URL not set` and returns. Each
//! test works in a schema of its own, dropped afterwards, so tests run in parallel.

#![cfg(feature = "postgres")]

use std::sync::Arc;

use pathops_core::store::AuditQuery;
use pathops_core::{CatalogStore, Error};
use pathops_store::PostgresStore;
use pathops_testkit::fixtures::{IntegrationBuilder, create_mutation, tenant};
use pathops_testkit::store_suite::{StoreFactory, StoreFixture};
use sqlx::{Connection, PgConnection};

const URL_VAR: &str = "PATHOPS_TEST_POSTGRES_URL";

/// A fresh schema in the test database, dropped by [`Schema::drop_now`].
struct Schema {
    url: String,
    name: String,
}

impl Schema {
    /// `None` (after printing why) when the variable is not set.
    async fn create() -> Option<Self> {
        let url = pathops_testkit::services::service_url(URL_VAR)?;
        let name = format!("pathops_test_{}", uuid::Uuid::now_v7().simple());
        let mut admin = PgConnection::connect(&url)
            .await
            .expect("connect to the test database");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&mut admin)
            .await
            .expect("create the test schema");
        Some(Self { url, name })
    }

    fn builder(&self) -> pathops_store::PostgresStoreBuilder {
        PostgresStore::builder(&self.url)
            .with_schema(&self.name)
            .with_max_connections(16)
    }

    async fn drop_now(self) {
        let mut admin = PgConnection::connect(&self.url)
            .await
            .expect("connect to the test database");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA {} CASCADE",
            self.name
        )))
        .execute(&mut admin)
        .await
        .expect("drop the test schema");
    }
}

struct Postgres;

#[async_trait::async_trait]
impl StoreFactory for Postgres {
    async fn open(&self) -> Option<StoreFixture> {
        let schema = Schema::create().await?;
        let store = schema.builder().build().await.expect("PostgreSQL store");
        let pool = store.pool().clone();
        Some(
            StoreFixture::new(Arc::new(store))
                .with_raw_sql(Arc::new(move |sql| {
                    let pool = pool.clone();
                    Box::pin(async move {
                        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                            .execute(&pool)
                            .await
                            .expect("raw SQL");
                    })
                }))
                .with_cleanup(Box::pin(schema.drop_now())),
        )
    }
}

pathops_testkit::store_conformance_suite!(Postgres);
pathops_testkit::catalog_conformance_tests!(Postgres);
pathops_testkit::provision_conformance_tests!(Postgres);
pathops_testkit::monitor_conformance_tests!(Postgres);

/// The scale-out check at test size: three monitors over 1,000 integrations on
/// one PostgreSQL schema, each integration checked exactly once per interval, and the two left
/// covering all of them within one interval after one stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_monitors_over_a_thousand_integrations() {
    pathops_testkit::store_suite::run(Postgres, |store| {
        Box::pin(pathops_testkit::monitor_suite::three_monitors_over_a_thousand_integrations(store))
    })
    .await;
}

/// Runs `check` on a migrated store in a fresh schema, then drops the schema.
async fn with_store<F, Fut>(check: F)
where
    F: FnOnce(PostgresStore) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Some(schema) = Schema::create().await else {
        return;
    };
    let store = schema.builder().build().await.expect("PostgreSQL store");
    check(store).await;
    schema.drop_now().await;
}

#[tokio::test]
async fn the_audit_table_refuses_update_delete_and_truncate() {
    with_store(|store| async move {
        store
            .apply(create_mutation(
                IntegrationBuilder::new("acme", "audited").build(),
            ))
            .await
            .expect("create");
        for statement in [
            "UPDATE audit_logs SET actor = 'mallory'",
            "DELETE FROM audit_logs",
            "TRUNCATE audit_logs",
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
            .audit(&tenant("acme"), &AuditQuery::all())
            .await
            .expect("audit");
        assert_eq!(entries.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn migrations_are_idempotent_and_a_newer_schema_is_refused() {
    let Some(schema) = Schema::create().await else {
        return;
    };
    let store = schema.builder().build().await.expect("store");
    assert_eq!(
        store.schema_version().await.expect("version"),
        pathops_store::SCHEMA_VERSION
    );
    let again = store.migrate().await.expect("migrate again");
    assert_eq!(again.applied(), 0);
    let second = schema.builder().build().await.expect("second process");
    assert_eq!(
        second.schema_version().await.expect("version"),
        pathops_store::SCHEMA_VERSION
    );

    sqlx::query(
        "INSERT INTO pathops_migrations (version, name, applied_at) VALUES (42, 'future', 0)",
    )
    .execute(store.pool())
    .await
    .expect("record a future version");
    let err = schema.builder().build().await.expect_err("newer schema");
    assert!(
        matches!(&err, Error::InvalidConfig { message } if message.contains("version 42") && message.contains(&format!("({})", pathops_store::SCHEMA_VERSION))),
        "{err}"
    );
    drop((store, second));
    schema.drop_now().await;
}

#[tokio::test]
async fn configuration_is_jsonb_and_names_sort_by_code_point() {
    with_store(|store| async move {
        let types: Vec<(String, String)> = sqlx::query_as(
            "SELECT column_name::text, data_type::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = 'integrations'
               AND column_name IN ('configuration', 'tags', 'id')
             ORDER BY column_name",
        )
        .fetch_all(store.pool())
        .await
        .expect("columns");
        assert_eq!(
            types,
            [
                ("configuration".to_owned(), "jsonb".to_owned()),
                ("id".to_owned(), "uuid".to_owned()),
                ("tags".to_owned(), "jsonb".to_owned()),
            ]
        );
        let collation: Option<String> = sqlx::query_scalar(
            "SELECT collation_name::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = 'integrations' AND column_name = 'name'",
        )
        .fetch_one(store.pool())
        .await
        .expect("collation");
        assert_eq!(collation.as_deref(), Some("C"));
    })
    .await;
}

#[tokio::test]
async fn connect_opens_postgres_urls_with_a_search_path() {
    let Some(schema) = Schema::create().await else {
        return;
    };
    let separator = if schema.url.contains('?') { '&' } else { '?' };
    let url = format!(
        "{}{separator}options[search_path]={}",
        schema.url, schema.name
    );
    let store = pathops_store::connect(&url).await.expect("connect");
    assert_eq!(store.backend(), "postgres");
    let i = IntegrationBuilder::new("acme", "via url").build();
    store
        .apply(create_mutation(i.clone()))
        .await
        .expect("create");
    assert_eq!(
        store.get(&tenant("acme"), i.id).await.expect("get").id,
        i.id
    );
    drop(store);
    schema.drop_now().await;
}

#[tokio::test]
async fn an_applied_migration_edited_in_the_code_is_refused_naming_it() {
    let Some(schema) = Schema::create().await else {
        return;
    };
    let store = schema.builder().build().await.expect("store");
    let recorded: Vec<Option<String>> =
        sqlx::query_scalar("SELECT checksum FROM pathops_migrations ORDER BY version")
            .fetch_all(store.pool())
            .await
            .expect("checksums");
    assert_eq!(recorded.len() as i64, pathops_store::SCHEMA_VERSION);
    assert!(
        recorded
            .iter()
            .all(|c| c.as_ref().is_some_and(|c| c.len() == 64))
    );
    sqlx::query("UPDATE pathops_migrations SET checksum = 'feedface' || substr(checksum, 9) WHERE version = 3")
        .execute(store.pool())
        .await
        .expect("tamper");
    let err = schema
        .builder()
        .build()
        .await
        .expect_err("edited migration")
        .to_string();
    assert!(err.contains("schema migration 3"), "{err}");
}
