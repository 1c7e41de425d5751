//! Listing: filters, `(name, id)` order, limits, keyset paging and cursor misuse.

use std::collections::BTreeSet;
use std::sync::Arc;

use pathops_core::page::CursorPosition;
use pathops_core::{
    CatalogStore, Cursor, Environment, Error, Integration, IntegrationStatus, IntegrationType,
    ListFilter, ListQuery, Provider,
};

use super::support::{ACME, GLOBEX, create, delete, draft, list_all, names};
use crate::fixtures::{IntegrationBuilder, tenant};

/// Lists are ordered by name (code point order) then id; pages of `limit` chain through
/// cursors and the last page has none, also when it is full.
pub async fn lists_are_ordered_by_name_then_id_and_paged(store: Arc<dyn CatalogStore>) {
    let store = store.as_ref();
    let mut expected = vec![
        "delta", "Alpha", "alpha", "beta", "Beta 2", "gamma", "ä", "Z", "0zero",
    ];
    for name in &expected {
        create(store, draft(ACME, name)).await;
    }
    create(store, draft(GLOBEX, "aaa")).await;
    expected.sort_unstable();

    let all = list_all(store, ACME, ListFilter::default(), 500).await;
    assert_eq!(names(&all), expected);
    for page_size in [1, 2, 3, 4, 9, 10] {
        assert_eq!(
            names(&list_all(store, ACME, ListFilter::default(), page_size).await),
            expected,
            "page size {page_size}"
        );
    }

    let first = store
        .list(&tenant(ACME), &ListQuery::default().with_limit(5))
        .await
        .expect("list");
    assert_eq!(first.items.len(), 5);
    let cursor = first.next_cursor.expect("more pages");
    let second = store
        .list(
            &tenant(ACME),
            &ListQuery::default().with_limit(4).after(cursor),
        )
        .await
        .expect("list");
    assert_eq!(names(&second.items), &expected[5..]);
    assert_eq!(second.next_cursor, None, "a full last page has no cursor");
}

/// Each filter field narrows the list; set fields combine; deleted rows and other tenants'
/// rows never appear. Name prefixes are literal and case-sensitive.
pub async fn every_filter_narrows_the_list(store: Arc<dyn CatalogStore>) {
    let store = store.as_ref();
    let scanner = Provider::custom("acme-scanner", IntegrationType::Feed).expect("provider");
    let host_scanner = Provider::custom("acme-scanner", IntegrationType::Host).expect("provider");
    let with =
        |name: &str, provider: Provider| IntegrationBuilder::new(ACME, name).provider(provider);
    let mut gitlab_prod = with("gitlab-prod", Provider::GitLab)
        .environment("production")
        .tags(&["prod", "eu"])
        .build();
    gitlab_prod.status = IntegrationStatus::Active;
    let mut harbor = with("harbor", Provider::Harbor)
        .environment("production")
        .tags(&["prod"])
        .build();
    harbor.status = IntegrationStatus::Degraded;
    let rows = [
        gitlab_prod,
        with("gitlab-dev", Provider::GitLab)
            .environment("development")
            .tags(&["dev"])
            .build(),
        harbor,
        with("jenkins", Provider::Jenkins)
            .environment("eu-west")
            .build(),
        with("scanner", scanner.clone()).tags(&["prod"]).build(),
        with("scanner-host", host_scanner).build(),
        with("a_b", Provider::Quay).build(),
        with("axb", Provider::Quay).build(),
        with("Zoë", Provider::Quay).build(),
        with("Zoe", Provider::Quay).build(),
    ];
    for row in rows {
        create(store, row).await;
    }
    let old = create(
        store,
        with("harbor-old", Provider::Harbor)
            .environment("production")
            .tags(&["prod"])
            .build(),
    )
    .await;
    delete(store, &old).await.expect("delete");
    create(
        store,
        IntegrationBuilder::new(GLOBEX, "gitlab-prod")
            .provider(Provider::GitLab)
            .environment("production")
            .tags(&["prod"])
            .build(),
    )
    .await;

    let cases: Vec<(ListFilter, Vec<&str>)> = vec![
        (
            ListFilter {
                integration_type: Some(IntegrationType::Scm),
                ..ListFilter::default()
            },
            vec!["gitlab-dev", "gitlab-prod"],
        ),
        (
            ListFilter {
                provider: Some(Provider::Harbor),
                ..ListFilter::default()
            },
            vec!["harbor"],
        ),
        (
            ListFilter {
                provider: Some(scanner),
                ..ListFilter::default()
            },
            vec!["scanner"],
        ),
        (
            ListFilter {
                status: Some(IntegrationStatus::Active),
                ..ListFilter::default()
            },
            vec!["gitlab-prod"],
        ),
        (
            ListFilter {
                environment: Some(Environment::Production),
                ..ListFilter::default()
            },
            vec!["gitlab-prod", "harbor"],
        ),
        (
            ListFilter {
                environment: Some("eu-west".parse().expect("environment")),
                ..ListFilter::default()
            },
            vec!["jenkins"],
        ),
        (
            ListFilter {
                tag: Some("prod".into()),
                ..ListFilter::default()
            },
            vec!["gitlab-prod", "harbor", "scanner"],
        ),
        (
            ListFilter {
                tag: Some("pro".into()),
                ..ListFilter::default()
            },
            vec![],
        ),
        (
            ListFilter {
                name_prefix: Some("gitlab".into()),
                ..ListFilter::default()
            },
            vec!["gitlab-dev", "gitlab-prod"],
        ),
        (
            ListFilter {
                name_prefix: Some("GitLab".into()),
                ..ListFilter::default()
            },
            vec![],
        ),
        (
            ListFilter {
                name_prefix: Some("a_".into()),
                ..ListFilter::default()
            },
            vec!["a_b"],
        ),
        (
            ListFilter {
                name_prefix: Some("Zo".into()),
                ..ListFilter::default()
            },
            vec!["Zoe", "Zoë"],
        ),
        (
            ListFilter {
                name_prefix: Some("Zoë".into()),
                ..ListFilter::default()
            },
            vec!["Zoë"],
        ),
        (
            ListFilter {
                name_prefix: Some("%".into()),
                ..ListFilter::default()
            },
            vec![],
        ),
        (
            ListFilter {
                integration_type: Some(IntegrationType::Scm),
                tag: Some("prod".into()),
                environment: Some(Environment::Production),
                name_prefix: Some("gitlab-".into()),
                status: Some(IntegrationStatus::Active),
                provider: Some(Provider::GitLab),
            },
            vec!["gitlab-prod"],
        ),
    ];
    for (filter, expected) in cases {
        for page_size in [1, 50] {
            let got = list_all(store, ACME, filter.clone(), page_size).await;
            assert_eq!(names(&got), expected, "{filter:?} in pages of {page_size}");
            assert!(got.iter().all(|i| i.tenant_id == tenant(ACME)));
        }
    }
}

/// Without a limit a page holds 50 rows; 500 is the largest page; 0 and 501 are refused.
pub async fn limits_default_to_50_and_stop_at_500(store: Arc<dyn CatalogStore>) {
    let store = store.as_ref();
    for n in 0..501 {
        create(store, draft(ACME, &format!("n{n:04}"))).await;
    }
    let t = tenant(ACME);
    let page = store.list(&t, &ListQuery::default()).await.expect("list");
    assert_eq!(page.items.len(), 50);
    assert!(page.next_cursor.is_some());
    let page = store
        .list(&t, &ListQuery::default().with_limit(500))
        .await
        .expect("list");
    assert_eq!(page.items.len(), 500);
    let rest = store
        .list(
            &t,
            &ListQuery::default()
                .with_limit(500)
                .after(page.next_cursor.expect("cursor")),
        )
        .await
        .expect("list");
    assert_eq!(names(&rest.items), ["n0500"]);
    for bad in [0, 501] {
        let err = store
            .list(&t, &ListQuery::default().with_limit(bad))
            .await
            .expect_err("limit out of range");
        assert!(matches!(err, Error::Validation(_)), "{bad}: {err:?}");
    }
}

/// Keyset paging while rows are inserted between page reads: no row is returned twice, the
/// order never goes back, every row present from the start is returned, and rows inserted
/// after the current position are returned too.
pub async fn pages_never_repeat_or_skip_rows_while_rows_are_inserted(store: Arc<dyn CatalogStore>) {
    let store = store.as_ref();
    let t = tenant(ACME);
    let mut original = BTreeSet::new();
    for n in (0..40).step_by(2) {
        let name = format!("n{n:02}");
        create(store, draft(ACME, &name)).await;
        original.insert(name);
    }
    let mut seen: Vec<Integration> = Vec::new();
    let mut must_appear = BTreeSet::new();
    let mut query = ListQuery::default().with_limit(3);
    let mut round = 0;
    loop {
        let page = store.list(&t, &query).await.expect("list");
        seen.extend(page.items.iter().cloned());
        let Some(cursor) = page.next_cursor else {
            break;
        };
        let last = seen
            .last()
            .expect("a page before a cursor")
            .name
            .to_string();
        // One row before the position (never returned: already passed), one right after it
        // and one at the end (both must be returned).
        let before = format!("m{round:02}");
        let after = format!("{last}a");
        let end = format!("z{round:02}");
        for name in [&before, &after, &end] {
            create(store, draft(ACME, name)).await;
        }
        must_appear.insert(after);
        must_appear.insert(end);
        query = query.after(cursor);
        round += 1;
    }
    assert!(round >= 6, "paged through several pages");
    let keys: Vec<(String, pathops_core::IntegrationId)> =
        seen.iter().map(|i| (i.name.to_string(), i.id)).collect();
    assert!(
        keys.windows(2).all(|w| w[0] < w[1]),
        "strictly increasing, never repeated"
    );
    let got: BTreeSet<String> = keys.into_iter().map(|(n, _)| n).collect();
    assert!(original.is_subset(&got), "no original row skipped");
    assert!(
        must_appear.is_subset(&got),
        "rows inserted ahead of the position are returned"
    );
    assert!(
        got.iter().all(|n| !n.starts_with('m')),
        "rows behind the position are not"
    );
}

/// A cursor used by another tenant or with another filter, altered, truncated or oversized is
/// `InvalidCursor` with a reason; a well-formed cursor grants nothing beyond the caller's
/// tenant.
pub async fn foreign_and_tampered_cursors_are_refused(store: Arc<dyn CatalogStore>) {
    let store = store.as_ref();
    for n in 0..4 {
        create(store, draft(ACME, &format!("a{n}"))).await;
        create(store, draft(GLOBEX, &format!("g{n}"))).await;
    }
    let acme = tenant(ACME);
    let globex = tenant(GLOBEX);
    let page = store
        .list(&acme, &ListQuery::default().with_limit(2))
        .await
        .expect("list");
    let cursor = page.next_cursor.expect("cursor");

    let expect_invalid = |result: pathops_core::Result<pathops_core::Page<Integration>>,
                          what: &str| match result {
        Err(e @ Error::InvalidCursor { .. }) => {
            assert!(e.to_string().starts_with("invalid cursor: "), "{what}: {e}");
        }
        other => panic!("{what}: expected InvalidCursor, got {other:?}"),
    };
    expect_invalid(
        store
            .list(
                &globex,
                &ListQuery::default().with_limit(2).after(cursor.clone()),
            )
            .await,
        "another tenant",
    );
    let other_filter = ListQuery::new(ListFilter {
        name_prefix: Some("a".into()),
        ..ListFilter::default()
    })
    .after(cursor.clone());
    expect_invalid(store.list(&acme, &other_filter).await, "another filter");

    let token = cursor.as_str();
    let (body, sum) = token.split_once('.').expect("body.checksum");
    let mut flipped: Vec<char> = body.chars().collect();
    flipped[3] = if flipped[3] == 'A' { 'B' } else { 'A' };
    let tampered = [
        format!("{}.{sum}", flipped.into_iter().collect::<String>()),
        format!("{body}.{}", sum.chars().rev().collect::<String>()),
        token[..token.len() - 1].to_owned(),
        "garbage".to_owned(),
        String::new(),
        "x".repeat(Cursor::MAX_LEN + 1),
    ];
    for bad in tampered {
        expect_invalid(
            store
                .list(
                    &acme,
                    &ListQuery::default().after(Cursor::from_token(bad.clone())),
                )
                .await,
            &format!("tampered {bad:.20}"),
        );
    }

    // A cursor built for globex at an acme position lists globex rows only.
    let forged = Cursor::encode(
        &globex,
        &ListFilter::default(),
        &CursorPosition {
            name: "a".into(),
            id: page.items[0].id,
        },
    );
    let page = store
        .list(&globex, &ListQuery::default().after(forged))
        .await
        .expect("list");
    assert_eq!(names(&page.items), ["g0", "g1", "g2", "g3"]);
}
