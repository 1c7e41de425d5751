//! Secrets never print: no token and no secret value in any `Debug` or `Display` of the
//! resolver, its results or its errors (with their sources), nor in any log line.

use pathops_core::error::chain;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::{VaultFixture, VaultResolverSpec, ctx, tenant};
use crate::logs::LogCapture;

/// Formats every outcome of several resolvers (good, bad and limited tokens, a tenant token,
/// a prefix) and scans them and the logs for the tokens and the value.
pub async fn no_token_or_secret_value_is_ever_printed(fx: VaultFixture) {
    let logs = LogCapture::global();
    let server = fx.server();
    let value = format!("SENTINEL-vault-value-{}", uuid::Uuid::new_v4().simple());
    server
        .write(
            &fx.path("tenants/acme/ci"),
            json!({ "token": value, "count": 1 }),
        )
        .await;
    server
        .write(&fx.path("tenants/globex/ci"), json!({ "token": value }))
        .await;
    let limited = server.token_reading(&[fx.api_path("tenants/acme/*")]).await;
    let bad = SecretString::from(format!(
        "hvs.SENTINEL-bad-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let prefix = format!(
        "{}/{}/tenants/{{tenant}}",
        super::MOUNT,
        fx.path("").trim_end_matches('/')
    );
    let resolvers = [
        fx.resolver(fx.spec()),
        fx.resolver(VaultResolverSpec {
            token: Some(bad.clone()),
            ..fx.bare_spec()
        }),
        fx.resolver(VaultResolverSpec {
            tenant_tokens: vec![(tenant("acme"), limited.clone())],
            ..fx.bare_spec()
        }),
        fx.resolver(VaultResolverSpec {
            tenant_path_prefix: Some(prefix),
            ..fx.spec()
        }),
    ];
    let mut printed = String::new();
    for vault in &resolvers {
        printed += &format!("{vault:?}\n");
        for (reader, rel, field) in [
            ("acme", "tenants/acme/ci", "token"),
            ("acme", "tenants/acme/ci", "token@1"),
            ("acme", "tenants/acme/ci", "token@7"),
            ("acme", "tenants/acme/ci", "count"),
            ("acme", "tenants/acme/ci", "other"),
            ("acme", "tenants/acme/missing", "token"),
            ("acme", "tenants/globex/ci", "token"),
            ("globex", "tenants/globex/ci", "token"),
        ] {
            match vault.resolve(&ctx(reader), &fx.reference(rel, field)).await {
                Ok(secret) => {
                    assert_eq!(secret.expose_secret(), value);
                    printed += &format!("{secret:?}\n");
                }
                Err(e) => printed += &format!("{e}\n{e:?}\n{}\n", chain(&e)),
            }
        }
    }
    let contents = logs.contents();
    for (what, text) in [
        ("results and errors", printed.as_str()),
        ("logs", contents.as_str()),
    ] {
        for (name, secret) in [
            ("the secret value", value.as_str()),
            ("the admin token", server.admin_token().expose_secret()),
            ("the limited token", limited.expose_secret()),
            ("the bad token", bad.expose_secret()),
        ] {
            assert!(
                !text.contains(secret),
                "{}: {what} leaked {name}:\n{text}",
                server.name()
            );
        }
    }
    assert!(
        [
            "SecretNotFound",
            "SecretFieldMissing",
            "SecretAccessDenied",
            "Unauthenticated",
            "OutsidePrefix"
        ]
        .iter()
        .all(|kind| printed.contains(kind)),
        "every error kind was formatted:\n{printed}"
    );
}
