//! Who may read what: bad tokens, tokens a policy denies, per-tenant tokens and the tenant path
//! prefix.

use pathops_core::secret::RefDenied;
use pathops_core::{Error, Problem};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::{VaultFixture, VaultResolverSpec, ctx, tenant};

/// A token Vault does not know: [`Error::Unauthenticated`], whatever the path.
pub async fn a_bad_token_is_unauthenticated(fx: VaultFixture) {
    fx.server()
        .write(&fx.path("ci"), json!({ "token": "one" }))
        .await;
    let vault = fx.resolver(VaultResolverSpec {
        token: Some(SecretString::from("hvs.pathops-not-a-token")),
        ..fx.bare_spec()
    });
    for rel in ["ci", "missing"] {
        match vault
            .resolve(&ctx("acme"), &fx.reference(rel, "token"))
            .await
        {
            Err(Error::Unauthenticated { .. }) => {}
            other => panic!(
                "{}: {rel}: expected Unauthenticated, got {other:?}",
                fx.server().name()
            ),
        }
    }
}

/// A valid token whose policy does not cover the path: [`Error::SecretAccessDenied`] naming
/// the path, not `Unauthenticated` and not "not found"; inside its policy it reads, and a
/// missing secret there is still not found.
pub async fn a_valid_token_its_policy_does_not_cover_is_access_denied(fx: VaultFixture) {
    let server = fx.server();
    server
        .write(&fx.path("allowed/ci"), json!({ "token": "allowed-value" }))
        .await;
    server
        .write(&fx.path("other/ci"), json!({ "token": "other-value" }))
        .await;
    let limited = server.token_reading(&[fx.api_path("allowed/*")]).await;
    let vault = fx.resolver(VaultResolverSpec {
        token: Some(limited),
        ..fx.bare_spec()
    });
    let ok = vault
        .resolve(&ctx("acme"), &fx.reference("allowed/ci", "token"))
        .await
        .expect("inside the policy");
    assert_eq!(ok.expose_secret(), "allowed-value");
    let denied = fx.reference("other/ci", "token");
    match vault.resolve(&ctx("acme"), &denied).await {
        Err(e @ Error::SecretAccessDenied { .. }) => {
            let Error::SecretAccessDenied { auth_ref, location } = &e else {
                unreachable!()
            };
            assert_eq!(auth_ref, denied.as_str());
            assert_eq!(location, &format!("Vault path {}", fx.api_path("other/ci")));
            assert!(!e.is_retryable());
        }
        other => panic!(
            "{}: expected SecretAccessDenied, got {other:?}",
            server.name()
        ),
    }
    match vault
        .resolve(&ctx("acme"), &fx.reference("allowed/missing", "token"))
        .await
    {
        Err(Error::SecretNotFound { .. }) => {}
        other => panic!("{}: expected SecretNotFound, got {other:?}", server.name()),
    }
}

/// Each tenant's own token (static or from a file) is used for its reads, so Vault lets each
/// see only its own paths; a tenant without a token and no default is refused before any
/// request; with a default token, tenants without their own read with it (it serves them all).
pub async fn each_tenant_token_reads_only_its_own_paths(fx: VaultFixture) {
    let server = fx.server();
    for t in ["acme", "globex"] {
        server
            .write(
                &fx.path(&format!("tenants/{t}/gitlab")),
                json!({ "token": format!("{t}-value") }),
            )
            .await;
    }
    let acme_token = server.token_reading(&[fx.api_path("tenants/acme/*")]).await;
    let globex_token = server
        .token_reading(&[fx.api_path("tenants/globex/*")])
        .await;
    let dir = std::env::temp_dir().join(format!("pathops-vault-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let globex_file = dir.join("globex-token");
    std::fs::write(&globex_file, format!("{}\n", globex_token.expose_secret()))
        .expect("write the token file");
    let tenants_only = VaultResolverSpec {
        tenant_tokens: vec![(tenant("acme"), acme_token)],
        tenant_token_files: vec![(tenant("globex"), globex_file)],
        ..fx.bare_spec()
    };
    let reference = |t: &str| fx.reference(&format!("tenants/{t}/gitlab"), "token");

    for vault in [
        fx.resolver(tenants_only.clone()),
        fx.resolver(VaultResolverSpec {
            token: Some(server.admin_token()),
            ..tenants_only.clone()
        }),
    ] {
        for (reader, own, other) in [("acme", "acme", "globex"), ("globex", "globex", "acme")] {
            let value = vault
                .resolve(&ctx(reader), &reference(own))
                .await
                .unwrap_or_else(|e| panic!("{}: {reader} reads its own: {e}", server.name()));
            assert_eq!(value.expose_secret(), format!("{own}-value"));
            match vault.resolve(&ctx(reader), &reference(other)).await {
                Err(Error::SecretAccessDenied { .. }) => {}
                other_outcome => panic!(
                    "{}: {reader} reading {other}'s path with its own token: expected SecretAccessDenied, got {other_outcome:?}",
                    server.name()
                ),
            }
        }
    }
    match fx
        .resolver(tenants_only.clone())
        .resolve(&ctx("initech"), &reference("acme"))
        .await
    {
        Err(Error::Unauthenticated { message }) => {
            assert!(message.contains("initech"), "{message}")
        }
        other => panic!("{}: expected Unauthenticated, got {other:?}", server.name()),
    }
    let shared = fx.resolver(VaultResolverSpec {
        token: Some(server.admin_token()),
        ..tenants_only
    });
    for t in ["acme", "globex"] {
        let value = shared
            .resolve(&ctx("initech"), &reference(t))
            .await
            .expect("the default token serves every tenant without its own");
        assert_eq!(value.expose_secret(), format!("{t}-value"));
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// With a tenant path prefix, the resolver refuses a path outside the reading tenant's prefix
/// (in whole segments) itself, even with a token Vault would let read it, as the catalog's
/// policy does: [`Error::Validation`] with [`RefDenied::OutsidePrefix`].
pub async fn the_tenant_path_prefix_refuses_other_paths_before_vault_does(fx: VaultFixture) {
    let server = fx.server();
    for t in ["acme", "acme-x", "globex"] {
        server
            .write(
                &fx.path(&format!("tenants/{t}/gitlab")),
                json!({ "token": format!("{t}-value") }),
            )
            .await;
    }
    let prefix = format!(
        "{}/{}/tenants/{{tenant}}",
        super::MOUNT,
        fx.path("").trim_end_matches('/')
    );
    let vault = fx.resolver(VaultResolverSpec {
        tenant_path_prefix: Some(prefix),
        ..fx.spec()
    });
    let reference = |t: &str| fx.reference(&format!("tenants/{t}/gitlab"), "token");
    let own = vault
        .resolve(&ctx("acme"), &reference("acme"))
        .await
        .expect("inside the prefix");
    assert_eq!(own.expose_secret(), "acme-value");
    for outside in ["globex", "acme-x"] {
        match vault.resolve(&ctx("acme"), &reference(outside)).await {
            Err(Error::Validation(v))
                if matches!(
                    &v.problem,
                    Problem::AuthRefDenied(RefDenied::OutsidePrefix { backend, prefix })
                        if backend == "vault" && prefix.ends_with("/tenants/acme")
                ) => {}
            other => panic!(
                "{}: acme reading {outside}: expected OutsidePrefix, got {other:?}",
                server.name()
            ),
        }
    }
    let unrestricted = fx.resolver(fx.spec());
    assert!(
        unrestricted
            .resolve(&ctx("acme"), &reference("globex"))
            .await
            .is_ok(),
        "without the prefix the same token reads it: the refusal is the resolver's"
    );
}
