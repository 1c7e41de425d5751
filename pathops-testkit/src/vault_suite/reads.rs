//! Reads: current and pinned versions, deleted and destroyed versions, missing secrets and
//! missing or non-string fields.

use pathops_core::Error;
use secrecy::ExposeSecret;
use serde_json::json;

use super::{VaultFixture, ctx};

/// `#token` reads the current version; `#token@N` reads version `N`.
pub async fn the_current_version_is_the_default_and_any_version_can_be_pinned(fx: VaultFixture) {
    let server = fx.server();
    for (n, value) in ["one", "two", "three"].into_iter().enumerate() {
        let version = server
            .write(&fx.path("ci"), json!({ "token": value }))
            .await;
        assert_eq!(
            version,
            n as u64 + 1,
            "{}: versions count from 1",
            server.name()
        );
    }
    let vault = fx.resolver(fx.spec());
    let read = async |field: &str| {
        vault
            .resolve(&ctx("acme"), &fx.reference("ci", field))
            .await
            .map(|s| s.expose_secret().to_owned())
    };
    assert_eq!(read("token").await.unwrap(), "three", "current by default");
    assert_eq!(read("token@1").await.unwrap(), "one");
    assert_eq!(read("token@2").await.unwrap(), "two");
    assert_eq!(read("token@3").await.unwrap(), "three");
    server
        .write(&fx.path("ci"), json!({ "token": "four" }))
        .await;
    assert_eq!(
        read("token").await.unwrap(),
        "four",
        "a new version is current"
    );
    assert_eq!(read("token@3").await.unwrap(), "three", "a pin stays put");
}

/// A deleted or destroyed version is not found, and says which it was.
pub async fn deleted_and_destroyed_versions_are_not_found(fx: VaultFixture) {
    let server = fx.server();
    for value in ["one", "two", "three"] {
        server
            .write(&fx.path("ci"), json!({ "token": value }))
            .await;
    }
    server.delete_version(&fx.path("ci"), 1).await;
    server.destroy_version(&fx.path("ci"), 2).await;
    let vault = fx.resolver(fx.spec());
    let looked_in = async |field: &str| match vault
        .resolve(&ctx("acme"), &fx.reference("ci", field))
        .await
    {
        Err(Error::SecretNotFound { looked_in, .. }) => looked_in,
        other => panic!(
            "{}: #{field}: expected SecretNotFound, got {other:?}",
            server.name()
        ),
    };
    let at = fx.api_path("ci");
    assert_eq!(
        looked_in("token@1").await,
        [format!("Vault path {at}, version 1 (deleted)")]
    );
    assert_eq!(
        looked_in("token@2").await,
        [format!("Vault path {at}, version 2 (destroyed)")]
    );
    let current = vault
        .resolve(&ctx("acme"), &fx.reference("ci", "token"))
        .await
        .expect("the current version is untouched");
    assert_eq!(current.expose_secret(), "three");
    server.delete_version(&fx.path("ci"), 3).await;
    assert_eq!(
        looked_in("token").await,
        [format!("Vault path {at}, current version 3 (deleted)")],
        "a deleted current version is not replaced by an older one"
    );
}

/// No secret at the path, or no such version: [`Error::SecretNotFound`] naming the Vault path.
pub async fn a_missing_secret_or_version_is_not_found_naming_the_vault_path(fx: VaultFixture) {
    let server = fx.server();
    server
        .write(&fx.path("ci"), json!({ "token": "one" }))
        .await;
    let vault = fx.resolver(fx.spec());
    let missing = fx.reference("missing", "token");
    match vault.resolve(&ctx("acme"), &missing).await {
        Err(e @ Error::SecretNotFound { .. }) => {
            let Error::SecretNotFound {
                auth_ref,
                looked_in,
            } = &e
            else {
                unreachable!()
            };
            assert_eq!(auth_ref, &missing.to_string());
            assert_eq!(
                looked_in,
                &[format!("Vault path {}", fx.api_path("missing"))]
            );
            assert_eq!(
                e.to_string(),
                format!(
                    "secret not found: {missing} (looked in Vault path {})",
                    fx.api_path("missing")
                )
            );
        }
        other => panic!("{}: expected SecretNotFound, got {other:?}", server.name()),
    }
    match vault
        .resolve(&ctx("acme"), &fx.reference("ci", "token@9"))
        .await
    {
        Err(Error::SecretNotFound { looked_in, .. }) => assert_eq!(
            looked_in,
            [format!("Vault path {}, version 9", fx.api_path("ci"))]
        ),
        other => panic!("{}: expected SecretNotFound, got {other:?}", server.name()),
    }
}

/// A secret without the field, or with a value that is not a string, is
/// [`Error::SecretFieldMissing`] naming the field, the path and what it holds — not "not found".
pub async fn a_missing_or_non_string_field_is_its_own_error(fx: VaultFixture) {
    let server = fx.server();
    server
        .write(
            &fx.path("ci"),
            json!({ "token": "t0ken-value", "count": 3, "nested": {"inner": "t0ken-value"}, "flag": true, "none": null }),
        )
        .await;
    let vault = fx.resolver(fx.spec());
    for (field, expected) in [
        ("other", None),
        ("none", None),
        ("count", Some("number")),
        ("nested", Some("object")),
        ("flag", Some("boolean")),
    ] {
        let reference = fx.reference("ci", field);
        match vault.resolve(&ctx("acme"), &reference).await {
            Err(e @ Error::SecretFieldMissing { .. }) => {
                let Error::SecretFieldMissing {
                    auth_ref,
                    field: named,
                    location,
                    found,
                } = &e
                else {
                    unreachable!()
                };
                assert_eq!(
                    (auth_ref.as_str(), named.as_str(), found),
                    (reference.as_str(), field, &expected),
                    "{}",
                    server.name()
                );
                assert_eq!(location, &format!("Vault path {}", fx.api_path("ci")));
                assert!(!format!("{e} {e:?}").contains("t0ken-value"), "{e}");
            }
            other => panic!(
                "{}: #{field}: expected SecretFieldMissing, got {other:?}",
                server.name()
            ),
        }
    }
    match vault
        .resolve(&ctx("acme"), &fx.reference("ci", "other@1"))
        .await
    {
        Err(Error::SecretFieldMissing { location, .. }) => {
            assert_eq!(
                location,
                format!("Vault path {}, version 1", fx.api_path("ci"))
            )
        }
        other => panic!(
            "{}: expected SecretFieldMissing, got {other:?}",
            server.name()
        ),
    }
}
