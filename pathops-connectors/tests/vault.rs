//! The Vault resolver against the fake Vault: what only a fake can show (the requests sent,
//! seal states, faults, timeouts). The behaviour shared with a real server is in
//! `vault_suite.rs`.

#![cfg(feature = "vault")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use pathops_connectors::vault::VaultResolver;
use pathops_core::secret::{ChainResolver, ResolveContext, SecretPurpose};
use pathops_core::{AuthRef, Error, SecretResolver};
use pathops_testkit::fake::Fault;
use pathops_testkit::fake::vault::{FakeVault, VaultHealthState, VaultSecret, VaultToken};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

fn r(s: &str) -> AuthRef {
    s.parse().unwrap()
}

fn ctx() -> ResolveContext {
    ResolveContext::new("acme".parse().unwrap(), SecretPurpose::Credential)
}

fn resolver(vault: &FakeVault, token: &str) -> VaultResolver {
    VaultResolver::builder()
        .with_address(vault.url())
        .with_token(SecretString::from(token.to_owned()))
        .build()
        .unwrap()
}

#[tokio::test]
async fn reads_a_kv2_field_with_the_documented_headers() {
    let v = FakeVault::start_with_defaults().await;
    let res = resolver(&v, FakeVault::TOKEN);
    let value = res
        .read(&ctx(), &r("authref://vault/secret/gitlab/ci#token"))
        .await
        .unwrap();
    assert_eq!(value.value.expose_secret(), FakeVault::GITLAB_TOKEN);
    assert_eq!(value.version, Some(3));
    let seen = &v.requests()[0];
    assert_eq!(seen.path, "/v1/secret/data/gitlab/ci");
    assert_eq!(seen.header("x-vault-token"), Some(FakeVault::TOKEN));
    assert_eq!(seen.header("x-vault-request"), Some("true"));
    assert_eq!(seen.header("x-vault-namespace"), None);

    let chain = ChainResolver::new().backend("vault", Arc::new(res));
    let s = chain
        .resolve(&ctx(), &r("authref://vault/secret/gitlab/ci#token"))
        .await
        .unwrap();
    assert_eq!(s.expose_secret(), FakeVault::GITLAB_TOKEN);
}

#[tokio::test]
async fn namespaces_select_the_secret() {
    let v = FakeVault::start_with_defaults().await;
    v.put_secret(
        VaultSecret::new("secret", "gitlab/ci", json!({"token": "from-team-a"}))
            .in_namespace("team-a"),
    );
    let res = VaultResolver::builder()
        .with_address(format!("{}/v1", v.url()))
        .with_namespace("team-a/")
        .with_token(SecretString::from(FakeVault::TOKEN.to_owned()))
        .build()
        .unwrap();
    let s = res
        .resolve(&ctx(), &r("authref://vault/secret/gitlab/ci#token"))
        .await
        .unwrap();
    assert_eq!(s.expose_secret(), "from-team-a");
    assert_eq!(v.requests()[0].header("x-vault-namespace"), Some("team-a"));
    assert_eq!(
        v.requests()[0].path,
        "/v1/secret/data/gitlab/ci",
        "a /v1 suffix on the address is not doubled"
    );
}

#[tokio::test]
async fn outcomes_map_to_core_errors() {
    let v = FakeVault::start_with_defaults().await;
    let res = resolver(&v, FakeVault::TOKEN);
    let err = res
        .resolve(&ctx(), &r("authref://vault/secret/gitlab/missing#token"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "secret not found: authref://vault/secret/gitlab/missing#token (looked in Vault path secret/data/gitlab/missing)"
    );
    let err = res
        .resolve(&ctx(), &r("authref://vault/secret/gitlab/ci#other"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::SecretFieldMissing { .. }),
        "a missing field: {err}"
    );
    let err = res
        .resolve(&ctx(), &r("authref://vault/secret/gitlab/ci"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidConfig { .. }),
        "no field: {err}"
    );
    let err = res
        .resolve(&ctx(), &r("authref://vault/secret#token"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidConfig { .. }),
        "no path after the mount: {err}"
    );
    let err = res
        .resolve(&ctx(), &r("ref://acme/gitlab/token"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::SecretNotFound { looked_in, .. } if looked_in.is_empty()),
        "{err}"
    );

    let bad = resolver(&v, "hvs.wrong");
    let err = bad
        .resolve(&ctx(), &r("authref://vault/secret/gitlab/ci#token"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Unauthenticated { .. }),
        "Vault's 403 is a bad token: {err}"
    );
    assert!(matches!(
        bad.lookup_self().await.unwrap_err(),
        Error::Unauthenticated { .. }
    ));

    v.set_health(VaultHealthState {
        initialized: true,
        sealed: true,
        standby: false,
    });
    let err = res
        .resolve(&ctx(), &r("authref://vault/secret/gitlab/ci#token"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Backend {
                backend: "vault",
                ..
            }
        ),
        "{err}"
    );
    let cause = std::error::Error::source(&err).unwrap().to_string();
    assert_eq!(cause, "vault answered 503: Vault is sealed");
    // A sealed Vault answers token lookups with 503 too, not with the token's data.
    let sealed_lookup = res.lookup_self().await.unwrap_err();
    assert!(
        matches!(
            sealed_lookup,
            Error::Backend {
                backend: "vault",
                ..
            }
        ),
        "{sealed_lookup}"
    );
    v.set_health(VaultHealthState::default());

    v.inject(
        Fault::on("/v1/secret/data/gitlab/ci")
            .status(200)
            .body("{garbage")
            .times(1),
    );
    assert!(matches!(
        res.resolve(&ctx(), &r("authref://vault/secret/gitlab/ci#token"))
            .await,
        Err(Error::Backend { .. })
    ));
    v.inject(
        Fault::on("/v1/secret/data/gitlab/ci")
            .latency(Duration::from_secs(5))
            .times(1),
    );
    let slow = VaultResolver::builder()
        .with_address(v.url())
        .with_token(SecretString::from(FakeVault::TOKEN.to_owned()))
        .with_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let err = slow
        .resolve(&ctx(), &r("authref://vault/secret/gitlab/ci#token"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    let gone = VaultResolver::builder()
        .with_address(format!(
            "http://127.0.0.1:{}",
            pathops_testkit::fake::refused_port()
        ))
        .with_token(SecretString::from("t".to_owned()))
        .build()
        .unwrap();
    assert!(matches!(
        gone.resolve(&ctx(), &r("authref://vault/a/b#c")).await,
        Err(Error::Backend {
            backend: "vault",
            ..
        })
    ));
}

#[tokio::test]
async fn health_and_token_lookup() {
    let v = FakeVault::start_with_defaults().await;
    let res = resolver(&v, FakeVault::TOKEN);
    let h = res.health().await.unwrap();
    assert_eq!((h.status, h.reachable, h.sealed), (200, true, false));
    assert_eq!(h.version.as_deref(), Some(FakeVault::VERSION));
    v.set_health(VaultHealthState {
        initialized: true,
        sealed: false,
        standby: true,
    });
    let h = res.health().await.unwrap();
    assert_eq!((h.status, h.reachable, h.standby), (429, true, true));
    v.set_health(VaultHealthState {
        initialized: true,
        sealed: true,
        standby: false,
    });
    let h = res.health().await.unwrap();
    assert_eq!((h.status, h.reachable, h.sealed), (503, false, true));
    assert!(
        v.requests_to("/v1/sys/health")
            .iter()
            .all(|r| r.header("x-vault-token").is_none()),
        "health is unauthenticated"
    );
    v.set_health(VaultHealthState::default());
    let info = res.lookup_self().await.unwrap();
    assert_eq!(info.policies, ["default", "pathops"]);
    assert_eq!(info.ttl, Some(3600));
    assert!(
        !format!("{info:?}").contains(FakeVault::TOKEN),
        "lookup-self's id (the token) is dropped"
    );
}

#[tokio::test]
async fn token_files_are_read_at_every_call_and_env_configuration() {
    let v = FakeVault::start_with_defaults().await;
    v.add_token(VaultToken::new("hvs.rotated"));
    let dir = std::env::temp_dir().join(format!("pathops-vault-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("token");
    std::fs::write(&file, format!("{}\n", FakeVault::TOKEN)).unwrap();
    let res = VaultResolver::builder()
        .with_address(v.url())
        .with_token_file(&file)
        .build()
        .unwrap();
    assert!(
        res.resolve(&ctx(), &r("authref://vault/secret/gitlab/ci#token"))
            .await
            .is_ok()
    );
    std::fs::write(&file, "hvs.rotated").unwrap();
    assert!(
        res.resolve(&ctx(), &r("authref://vault/secret/gitlab/ci#token"))
            .await
            .is_ok()
    );
    assert_eq!(v.requests()[1].header("x-vault-token"), Some("hvs.rotated"));
    std::fs::remove_dir_all(&dir).unwrap();

    let from_env = VaultResolver::from_vars([
        ("VAULT_ADDR", v.url()),
        ("VAULT_TOKEN", FakeVault::TOKEN.to_owned()),
    ])
    .unwrap();
    assert!(
        from_env
            .resolve(&ctx(), &r("authref://vault/secret/gitlab/ci#token"))
            .await
            .is_ok()
    );
    assert!(matches!(
        VaultResolver::from_vars([("VAULT_ADDR", "x")]),
        Err(Error::Validation(_))
    ));
    assert!(matches!(
        VaultResolver::from_vars([("VAULT_ADDR", v.url())]),
        Err(Error::InvalidConfig { .. })
    ));
}

#[tokio::test]
async fn the_token_and_the_secret_never_appear_in_errors_or_logs() {
    const TOKEN: &str = "hvs.SENTINEL-vault-4e1f";
    const VALUE: &str = "glpat-SENTINEL-from-vault";
    let logs = common::LogCapture::global();
    let v = FakeVault::start().await;
    v.add_token(VaultToken::new(TOKEN));
    v.put_secret(VaultSecret::new("kv", "x", json!({"token": VALUE})));
    let mut printed = String::new();
    for token in [TOKEN, "hvs.SENTINEL-vault-4e1f-wrong"] {
        let res = resolver(&v, token);
        printed += &format!("{res:?}\n");
        for reference in [
            "authref://vault/kv/x#token",
            "authref://vault/kv/missing#token",
            "authref://vault/kv/x",
        ] {
            match res.read(&ctx(), &r(reference)).await {
                Ok(value) => printed += &format!("{value:?}\n"),
                Err(e) => {
                    printed += &format!(
                        "{e}\n{e:?}\n{:?}\n",
                        std::error::Error::source(&e).map(|s| s.to_string())
                    )
                }
            }
        }
        printed += &format!("{:?}\n", res.lookup_self().await);
    }
    for (what, text) in [
        ("results and errors", printed.as_str()),
        ("logs", logs.contents().as_str()),
    ] {
        common::assert_no_sentinel(TOKEN, what, text);
        common::assert_no_sentinel(VALUE, what, text);
    }
}

fn ctx_for(tenant: &str) -> ResolveContext {
    ResolveContext::new(tenant.parse().unwrap(), SecretPurpose::Credential)
}

#[tokio::test]
async fn a_pinned_version_is_sent_as_the_version_query() {
    let v = FakeVault::start().await;
    v.add_token(VaultToken::new(FakeVault::TOKEN));
    v.write_secret("secret", "gitlab/ci", json!({"token": "one"}));
    v.write_secret("secret", "gitlab/ci", json!({"token": "two"}));
    let res = resolver(&v, FakeVault::TOKEN);
    let pinned = res
        .read(&ctx(), &r("authref://vault/secret/gitlab/ci#token@1"))
        .await
        .unwrap();
    assert_eq!(
        (pinned.value.expose_secret(), pinned.version),
        ("one", Some(1))
    );
    let current = res
        .read(&ctx(), &r("authref://vault/secret/gitlab/ci#token"))
        .await
        .unwrap();
    assert_eq!(
        (current.value.expose_secret(), current.version),
        ("two", Some(2))
    );
    let sent = v.requests();
    assert_eq!(sent[0].path, "/v1/secret/data/gitlab/ci");
    assert_eq!(sent[0].query.as_deref(), Some("version=1"));
    assert_eq!(sent[1].query, None, "no pin: Vault's current version");
}

#[tokio::test]
async fn a_403_is_told_apart_by_one_lookup_of_the_same_token() {
    let v = FakeVault::start_with_defaults().await;
    v.add_token(VaultToken::new("hvs.limited").reading(["secret/data/other/*"]));
    let limited = resolver(&v, "hvs.limited");
    let err = limited
        .resolve(&ctx(), &r("authref://vault/secret/gitlab/ci#token"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SecretAccessDenied { .. }), "{err}");
    let sent = v.requests();
    assert_eq!(
        sent.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(),
        ["/v1/secret/data/gitlab/ci", "/v1/auth/token/lookup-self"]
    );
    assert!(
        sent.iter()
            .all(|r| r.header("x-vault-token") == Some("hvs.limited"))
    );
    v.clear_requests();
    let bad = resolver(&v, "hvs.unknown");
    let err = bad
        .resolve(&ctx(), &r("authref://vault/secret/gitlab/ci#token"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unauthenticated { .. }), "{err}");
    assert_eq!(v.requests().len(), 2, "the read and one lookup");
    v.inject(
        Fault::on("/v1/auth/token/lookup-self")
            .status(503)
            .body(r#"{"errors":["Vault is sealed"]}"#)
            .times(1),
    );
    let err = limited
        .resolve(&ctx(), &r("authref://vault/secret/gitlab/ci#token"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Backend { .. }),
        "a lookup that fails is reported, not guessed: {err}"
    );
}

#[tokio::test]
async fn tenant_tokens_go_with_their_tenant_and_refusals_send_nothing() {
    let v = FakeVault::start_with_defaults().await;
    v.add_token(VaultToken::new("hvs.acme"));
    v.add_token(VaultToken::new("hvs.globex-1"));
    v.add_token(VaultToken::new("hvs.globex-2"));
    let dir = std::env::temp_dir().join(format!("pathops-vault-tenant-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let globex_file = dir.join("globex");
    std::fs::write(&globex_file, "hvs.globex-1\n").unwrap();
    let res = VaultResolver::builder()
        .with_address(v.url())
        .with_token(SecretString::from(FakeVault::TOKEN))
        .with_tenant_token("acme".parse().unwrap(), SecretString::from("hvs.acme"))
        .with_tenant_token_file("globex".parse().unwrap(), &globex_file)
        .build()
        .unwrap();
    let reference = r("authref://vault/secret/gitlab/ci#token");
    for tenant in ["acme", "globex", "initech"] {
        res.resolve(&ctx_for(tenant), &reference).await.unwrap();
    }
    std::fs::write(&globex_file, "hvs.globex-2").unwrap();
    res.resolve(&ctx_for("globex"), &reference).await.unwrap();
    let tokens: Vec<_> = v
        .requests()
        .iter()
        .map(|r| r.header("x-vault-token").unwrap().to_owned())
        .collect();
    assert_eq!(
        tokens,
        ["hvs.acme", "hvs.globex-1", FakeVault::TOKEN, "hvs.globex-2"],
        "each tenant's own token, else the default; token files re-read at every call"
    );
    assert_eq!(
        res.lookup_self_for(&"acme".parse().unwrap())
            .await
            .unwrap()
            .ttl,
        Some(3600)
    );
    std::fs::remove_dir_all(&dir).unwrap();

    v.clear_requests();
    let tenants_only = VaultResolver::builder()
        .with_address(v.url())
        .with_tenant_token("acme".parse().unwrap(), SecretString::from("hvs.acme"))
        .with_tenant_path_prefix("secret/tenants/{tenant}/")
        .build()
        .unwrap();
    let err = tenants_only
        .resolve(
            &ctx_for("initech"),
            &r("authref://vault/secret/tenants/initech/ci#token"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unauthenticated { .. }), "{err}");
    assert!(matches!(
        tenants_only.lookup_self().await,
        Err(Error::Unauthenticated { .. })
    ));
    let err = tenants_only
        .resolve(
            &ctx_for("acme"),
            &r("authref://vault/secret/tenants/globex/ci#token"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Validation(_)), "{err}");
    assert_eq!(
        err.to_string(),
        "invalid auth_ref: auth ref not allowed: authref://vault/ references of this tenant must be under `secret/tenants/acme`"
    );
    assert!(v.requests().is_empty(), "refused before any request");
    assert!(format!("{tenants_only:?}").contains("secret/tenants/{tenant}/"));
    assert!(!format!("{tenants_only:?}").contains("hvs.acme"));
}

#[tokio::test]
async fn the_builder_needs_some_token_and_a_usable_prefix() {
    let v = FakeVault::start().await;
    assert!(matches!(
        VaultResolver::builder().with_address(v.url()).build(),
        Err(Error::InvalidConfig { .. })
    ));
    assert!(
        VaultResolver::builder()
            .with_address(v.url())
            .with_tenant_token("acme".parse().unwrap(), SecretString::from("t"))
            .build()
            .is_ok(),
        "tenant tokens alone are enough"
    );
    assert!(matches!(
        VaultResolver::builder()
            .with_address(v.url())
            .with_token(SecretString::from("t"))
            .with_tenant_path_prefix("/")
            .build(),
        Err(Error::InvalidConfig { .. })
    ));
    let missing_file = VaultResolver::builder()
        .with_address(v.url())
        .with_token_file("/nonexistent/pathops/vault-token")
        .build()
        .unwrap();
    let err = missing_file
        .resolve(&ctx(), &r("authref://vault/secret/gitlab/ci#token"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Backend {
                backend: "vault",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        std::error::Error::source(&err).unwrap().to_string(),
        "cannot read the Vault token file /nonexistent/pathops/vault-token"
    );
    assert!(v.requests().is_empty());
}

/// Vault routes by mount before anything else: a mount that does not exist answers 404 with
/// "no handler for route", which is still a missing secret for the resolver.
#[tokio::test]
async fn a_missing_mount_has_no_handler_like_vault() {
    let v = FakeVault::start_with_defaults().await;
    let raw = reqwest::Client::new()
        .get(format!("{}/v1/nomount/data/gitlab/ci", v.url()))
        .header("x-vault-token", FakeVault::TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 404);
    let body: serde_json::Value = raw.json().await.unwrap();
    assert_eq!(
        body["errors"][0],
        "no handler for route \"nomount/data/gitlab/ci\". route entry not found."
    );
    let err = resolver(&v, FakeVault::TOKEN)
        .resolve(&ctx(), &r("authref://vault/nomount/gitlab/ci#token"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SecretNotFound { .. }), "{err}");
}
