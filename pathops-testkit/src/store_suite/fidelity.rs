//! Fidelity: every value the domain types accept is stored and read back unchanged, and a row
//! damaged in the database itself fails only itself.

use std::sync::Arc;

use pathops_core::{
    BaseUrl, CatalogStore, Configuration, Error, Integration, IntegrationId, ListQuery,
    NewIntegration, Provider, ResourceKind,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

use super::RawSql;
use super::support::{ACME, create};
use crate::clock::ManualClock;
use crate::fixtures::{actor, tenant};

/// Characters a name may hold, from several scripts, with combining marks.
fn name() -> impl Strategy<Value = String> {
    let chars = prop_oneof![
        proptest::char::range('a', 'z'),
        proptest::char::range('A', 'Z'),
        proptest::char::range('0', '9'),
        Just('-'),
        Just(' '),
        Just('é'),
        Just('\u{301}'),
        Just('名'),
        Just('Ж'),
        Just('ß'),
        proptest::char::range('\u{0627}', '\u{064a}'),
    ];
    (
        proptest::char::range('a', 'z'),
        proptest::collection::vec(chars, 0..127),
    )
        .prop_map(|(first, rest)| {
            let s: String = std::iter::once(first).chain(rest).collect();
            s.trim_end().to_owned()
        })
}

/// Any JSON value at most `depth` levels deep (a scalar is one level).
fn json_value(depth: u32) -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        proptest::num::f64::NORMAL.prop_map(|f| json!(f)),
        "\\PC{0,24}".prop_map(Value::String),
    ];
    leaf.prop_recursive(depth.saturating_sub(1), 48, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("\\PC{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
    .boxed()
}

/// A new integration as the builder accepts it: unicode names, descriptions, URL paths and
/// configuration values.
fn new_integration() -> impl Strategy<Value = NewIntegration> {
    (
        name(),
        proptest::option::of("[\\PC\\n\\t]{0,200}"),
        proptest::collection::vec("[a-zé名ж0-9._~-]{1,40}", 0..6),
        proptest::collection::btree_map("[a-z_]{1,12}", json_value(6), 0..6),
        proptest::collection::vec("[a-z0-9:_-]{1,16}", 0..5),
        proptest::option::of(prop_oneof![
            Just("production"),
            Just("staging"),
            Just("eu-1")
        ]),
    )
        .prop_filter_map(
            "rejected by the builder",
            |(name, description, path, configuration, tags, environment)| {
                let url = format!("https://tool.example.test/{}", path.join("/"));
                let mut b = NewIntegration::builder(name, Provider::GitLab, url)
                    .with_configuration(Value::Object(configuration.into_iter().collect()))
                    .with_tags(tags);
                if let Some(d) = description {
                    b = b.with_description(d);
                }
                if let Some(e) = environment {
                    b = b.with_environment(e);
                }
                b.build().ok()
            },
        )
}

fn draft_of(input: NewIntegration) -> Integration {
    Integration::new_draft(
        IntegrationId::new(),
        tenant(ACME),
        input,
        actor("fidelity"),
        ManualClock::DEFAULT_START,
    )
}

/// `{"a": {"a": … 1}}`, `levels` levels in all.
fn nested(levels: usize) -> Value {
    let mut v = json!(1);
    for _ in 1..levels {
        v = json!({ "a": v });
    }
    v
}

/// The values at each limit: the longest URL once normalized (percent-encoded unicode), the
/// deepest and the largest configuration, the longest name and description.
fn at_the_limits() -> Vec<NewIntegration> {
    let prefix = "https://tool.example.test/";
    let url = format!(
        "{prefix}{}",
        "é".repeat((BaseUrl::MAX_LEN - prefix.len()) / 6)
    );
    let deepest = nested(Configuration::MAX_DEPTH);
    // The largest object that fits: {"blob":"…"} is 11 bytes around the text.
    let largest = json!({ "blob": "x".repeat(Configuration::MAX_BYTES - 11) });
    assert_eq!(
        serde_json::to_vec(&largest).unwrap().len(),
        Configuration::MAX_BYTES
    );
    let name = "名".repeat(128);
    let description = "ü\n\t".repeat(341);
    vec![
        NewIntegration::builder("longest-url", Provider::GitLab, url)
            .build()
            .expect("the longest URL"),
        NewIntegration::builder("deepest", Provider::GitLab, "https://tool.example.test")
            .with_configuration(deepest)
            .build()
            .expect("the deepest configuration"),
        NewIntegration::builder("largest", Provider::GitLab, "https://tool.example.test")
            .with_configuration(largest)
            .build()
            .expect("the largest configuration"),
        NewIntegration::builder(name, Provider::GitLab, "https://tool.example.test")
            .with_description(description)
            .build()
            .expect("the longest name and description"),
    ]
}

/// Every value `NewIntegration` accepts (random ones, and each limit) is read back equal by
/// `get` and by `list`.
pub async fn every_accepted_value_reads_back_equal(store: Arc<dyn CatalogStore>) {
    for input in at_the_limits() {
        let created = create(store.as_ref(), draft_of(input)).await;
        let read = store
            .get(&tenant(ACME), created.id)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{} does not read back: {}",
                    created.name,
                    pathops_core::error::chain(&e)
                )
            });
        assert_eq!(read, created, "{} changed on the way", created.name);
    }
    let cases = std::env::var("PATHOPS_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32);
    let handle = tokio::runtime::Handle::current();
    let result = tokio::task::block_in_place(|| {
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&new_integration(), |input| {
                handle.block_on(async {
                    let integration = draft_of(input);
                    let outcome = store
                        .apply(crate::fixtures::create_mutation(integration.clone()))
                        .await;
                    let created = match outcome {
                        Ok(o) => o.integration,
                        // Random names can collide with an earlier case's.
                        Err(Error::AlreadyExists { .. }) => return Ok(()),
                        Err(e) => {
                            return Err(TestCaseError::fail(format!(
                                "an accepted value was not stored: {}",
                                pathops_core::error::chain(&e)
                            )));
                        }
                    };
                    let read = store
                        .get(&tenant(ACME), created.id)
                        .await
                        .map_err(|e| TestCaseError::fail(pathops_core::error::chain(&e)))?;
                    prop_assert_eq!(&read, &created);
                    Ok(())
                })
            })
            .map_err(|e| e.to_string())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // And every stored row reads back through `list`, none unreadable.
    let mut query = ListQuery::default().with_limit(ListQuery::MAX_LIMIT);
    loop {
        let page = store.list(&tenant(ACME), &query).await.expect("list");
        assert!(page.unreadable.is_empty(), "{:?}", page.unreadable);
        match page.next_cursor {
            Some(c) => query.cursor = Some(c),
            None => break,
        }
    }
}

/// A row damaged in the database itself (a hand edit, a broken release) fails `get` for that
/// row with [`Error::Corrupt`] naming it, and is reported in `Page::unreadable` by `list`,
/// while every other row, and paging across the damaged ones, keeps working.
pub async fn a_row_corrupted_in_the_database_fails_only_itself(
    store: Arc<dyn CatalogStore>,
    raw_sql: RawSql,
) {
    let mut ids = std::collections::BTreeMap::new();
    for name in ["alpha", "broken", "deep", "zulu"] {
        let input = NewIntegration::builder(name, Provider::GitLab, "https://tool.example.test")
            .build()
            .unwrap();
        ids.insert(name, create(store.as_ref(), draft_of(input)).await.id);
    }
    // What no validated write can store: a URL that is not one, and JSON nested past what
    // serde_json reads back (128 levels).
    raw_sql("UPDATE integrations SET base_url = 'not a url' WHERE name = 'broken'".to_owned())
        .await;
    let deep = serde_json::to_string(&nested(200)).unwrap();
    raw_sql(format!(
        "UPDATE integrations SET configuration = '{deep}' WHERE name = 'deep'"
    ))
    .await;

    let acme = tenant(ACME);
    store
        .get(&acme, ids["alpha"])
        .await
        .expect("a sound row still reads");
    for name in ["broken", "deep"] {
        let err = store.get(&acme, ids[name]).await.unwrap_err();
        match &err {
            Error::Corrupt { kind, id, .. } => {
                assert_eq!(*kind, ResourceKind::Integration);
                assert_eq!(*id, ids[name].to_string());
            }
            other => panic!("{name}: expected Corrupt, got {other:?}"),
        }
        assert!(
            !err.is_retryable(),
            "{name}: a corrupt row is not retryable"
        );
        let column = if name == "broken" {
            "base_url"
        } else {
            "configuration"
        };
        let chain = pathops_core::error::chain(&err);
        assert!(chain.contains(&format!("integrations.{column}")), "{chain}");
    }

    let page = store
        .list(&acme, &ListQuery::default())
        .await
        .expect("the list still works");
    let names: Vec<&str> = page.items.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["alpha", "zulu"]);
    let unreadable: Vec<(Option<IntegrationId>, Option<&str>)> = page
        .unreadable
        .iter()
        .map(|u| (u.id, u.name.as_deref()))
        .collect();
    assert_eq!(
        unreadable,
        [
            (Some(ids["broken"]), Some("broken")),
            (Some(ids["deep"]), Some("deep"))
        ]
    );
    // Paging by two: the first page ends on a damaged row and still has a cursor.
    let mut query = ListQuery::default().with_limit(2);
    let first = store.list(&acme, &query).await.unwrap();
    assert_eq!(first.items.len() + first.unreadable.len(), 2);
    query.cursor = Some(first.next_cursor.expect("a second page"));
    let second = store.list(&acme, &query).await.unwrap();
    let second_names: Vec<&str> = second.items.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(second_names, ["zulu"]);
    assert_eq!(second.unreadable.len(), 1);
    assert!(second.next_cursor.is_none());
}
