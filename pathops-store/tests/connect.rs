//! `connect(url)` picks the backend from the URL.

use pathops_core::Error;
use pathops_store::connect;
use pathops_testkit::fixtures::{IntegrationBuilder, create_mutation, tenant};

#[tokio::test]
async fn memory_and_sqlite_urls_open_working_stores() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("catalog.db");
    let mut urls = vec!["memory:".to_owned()];
    if cfg!(feature = "sqlite") {
        urls.push("sqlite::memory:".to_owned());
        urls.push(format!("sqlite://{}?mode=rwc", file.display()));
    }
    for url in &urls {
        let store = connect(url).await.unwrap_or_else(|e| panic!("{url}: {e}"));
        let i = IntegrationBuilder::new("acme", "probe").build();
        store
            .apply(create_mutation(i.clone()))
            .await
            .expect("create");
        assert_eq!(
            store.get(&tenant("acme"), i.id).await.expect("get").name,
            i.name
        );
    }
    assert_eq!(
        file.exists(),
        cfg!(feature = "sqlite"),
        "mode=rwc creates the file"
    );
}

#[tokio::test]
async fn unknown_schemes_and_disabled_backends_are_clear_errors() {
    let err = connect("redis://cache").await.expect_err("unknown scheme");
    assert!(
        matches!(&err, Error::InvalidConfig { message } if message.contains("`redis`")),
        "{err}"
    );
    if !cfg!(feature = "postgres") {
        let err = connect("postgres://db/catalog")
            .await
            .expect_err("feature off");
        assert!(
            err.to_string()
                .contains("enable the \"postgres\" feature of pathops-store"),
            "{err}"
        );
    }
    if !cfg!(feature = "sqlite") {
        let err = connect("sqlite::memory:").await.expect_err("feature off");
        assert!(
            err.to_string()
                .contains("enable the \"sqlite\" feature of pathops-store"),
            "{err}"
        );
    }
}
