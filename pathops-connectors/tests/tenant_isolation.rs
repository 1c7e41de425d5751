//! The cross-tenant secret exploit, end to end: tenant `evil` (an admin of its own tenant)
//! points an integration at a capture server it controls and names another tenant's secret
//! (`ref://acme/…`), a process environment variable (`authref://env/HOME`) or another tenant's
//! Vault path. Every attempt is refused with a typed error, when written and when a row written
//! before the policy is checked, and the capture server receives no credentialed request. The
//! tenant's own reference, as a control, does reach it.

use std::sync::Arc;

use axum::Router;
use pathops_connectors::directping::DirectPingConnector;
use pathops_connectors::vault::VaultResolver;
use pathops_core::catalog::{Catalog, Principal};
use pathops_core::secret::{AuthRefPolicy, ChainResolver, EnvResolver, StaticResolver};
use pathops_core::store::{Change, Mutation};
use pathops_core::{
    AuditAction, AuditRecord, CatalogStore, ConnectorRegistry, Error, FailureCode, Integration,
    IntegrationId, IntegrationStatus, NewIntegration, Problem, Provider, SecretResolver,
};
use pathops_store::MemoryStore;
use pathops_testkit::fake::FakeServer;
use pathops_testkit::fake::vault::FakeVault;
use secrecy::SecretString;

const ACME_TOKEN: &str = "SENTINEL-acme-ci-token";
const HOME: &str = "/home/SENTINEL-operator";
const ACME_VAULT: &str = "SENTINEL-acme-vault-secret";
const EVIL_OWN: &str = "evil-own-token";

const STOLEN: [&str; 3] = [
    "ref://acme/zastava/token",
    "authref://env/HOME",
    "authref://vault/secret/tenants/acme/zastava#token",
];

struct World {
    catalog: Catalog,
    store: Arc<dyn CatalogStore>,
    capture: FakeServer,
    evil: Principal,
    _vault: FakeVault,
}

async fn world() -> World {
    let capture = FakeServer::bind(
        "127.0.0.1:0".parse().unwrap(),
        Router::new().fallback(|| async { "captured" }),
    )
    .await
    .unwrap();
    let vault = FakeVault::start_with_defaults().await;
    for (tenant, value) in [("acme", ACME_VAULT), ("evil", EVIL_OWN)] {
        vault.write_secret(
            "secret",
            &format!("tenants/{tenant}/zastava"),
            serde_json::json!({ "token": value }),
        );
    }
    let vault_resolver: Arc<dyn SecretResolver> = Arc::new(
        VaultResolver::builder()
            .with_address(vault.url())
            .with_token(SecretString::from(FakeVault::TOKEN.to_owned()))
            .build()
            .unwrap(),
    );
    // The README's wiring: static secrets per scope, Vault, the environment as fallback.
    let env: Arc<dyn SecretResolver> = Arc::new(EnvResolver::from_vars([
        ("HOME", HOME),
        ("PATHOPS_SECRET_EVIL__ZASTAVA__TOKEN", EVIL_OWN),
    ]));
    let secrets = ChainResolver::new()
        .scope(
            "acme",
            Arc::new(
                StaticResolver::new().with("ref://acme/zastava/token".parse().unwrap(), ACME_TOKEN),
            ),
        )
        .backend("vault", vault_resolver)
        .backend("env", env.clone())
        .fallback(env);
    let mut connectors = ConnectorRegistry::new();
    connectors
        .register(Arc::new(
            DirectPingConnector::builder(Provider::Zastava)
                .build()
                .unwrap(),
        ))
        .unwrap();
    let store: Arc<dyn CatalogStore> = Arc::new(MemoryStore::new());
    let catalog = Catalog::builder(store.clone())
        .with_connectors(connectors)
        .with_secrets(Arc::new(secrets))
        .with_auth_ref_policy(AuthRefPolicy::new().with_backend("vault", "secret/tenants/{tenant}"))
        .build()
        .unwrap();
    World {
        catalog,
        store,
        capture,
        evil: Principal::admin("evil".parse().unwrap(), "mallory".parse().unwrap()),
        _vault: vault,
    }
}

/// An integration named after its position, pointed at the capture server.
fn input(w: &World, n: usize, auth_ref: &str) -> NewIntegration {
    let name = format!("exfiltrate-{n}");
    NewIntegration::builder(name, Provider::Zastava, w.capture.url())
        .with_auth_ref(auth_ref)
        .build()
        .unwrap()
}

fn credentialed_requests(w: &World) -> Vec<String> {
    w.capture
        .requests()
        .into_iter()
        .filter_map(|r| r.header("authorization").map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn another_tenants_references_are_refused_when_written() {
    let w = world().await;
    for (n, stolen) in STOLEN.into_iter().enumerate() {
        let err = w
            .catalog
            .create(&w.evil, input(&w, n, stolen), true)
            .await
            .unwrap_err();
        match &err {
            Error::Validation(v) => {
                assert_eq!(v.field, "auth_ref");
                assert!(
                    matches!(v.problem, Problem::AuthRefDenied(_)),
                    "{stolen}: {v}"
                );
            }
            other => panic!("{stolen}: {other}"),
        }
        assert!(!err.to_string().contains("SENTINEL"), "{err}");
    }
    assert!(w.capture.requests().is_empty());
}

#[tokio::test]
async fn rows_written_before_the_policy_never_resolve_and_nothing_credentialed_leaves() {
    let w = world().await;
    for (n, stolen) in STOLEN.into_iter().enumerate() {
        let mut legacy = Integration::new_draft(
            IntegrationId::new(),
            w.evil.tenant.clone(),
            input(&w, n, stolen),
            w.evil.actor.clone(),
            time::OffsetDateTime::now_utc(),
        );
        legacy.status = IntegrationStatus::PendingVerification;
        w.store
            .apply(Mutation {
                audit: AuditRecord::new(
                    w.evil.tenant.clone(),
                    Some(legacy.id),
                    w.evil.actor.clone(),
                    AuditAction::Created,
                    legacy.created_at,
                ),
                change: Change::Create(legacy.clone()),
                events: Vec::new(),
                health_check: None,
                seal: Default::default(),
            })
            .await
            .unwrap();
        let report = w.catalog.test_connection(&w.evil, legacy.id).await.unwrap();
        assert_eq!(
            report.result.failure,
            Some(FailureCode::AuthRefDenied),
            "{stolen}: {}",
            report.result.message
        );
        assert!(!report.result.message.contains("SENTINEL"));
    }
    assert_eq!(credentialed_requests(&w), Vec::<String>::new());

    // Control: the tenant's own references do reach the capture server, so the silence
    // above is the policy's doing.
    for (n, own) in [
        "ref://evil/zastava/token",
        "authref://vault/secret/tenants/evil/zastava#token",
    ]
    .into_iter()
    .enumerate()
    {
        let mine = w
            .catalog
            .create(&w.evil, input(&w, 10 + n, own), true)
            .await
            .unwrap();
        let report = w.catalog.test_connection(&w.evil, mine.id).await.unwrap();
        assert!(
            report.result.is_success(),
            "{own}: {}",
            report.result.message
        );
    }
    let seen = credentialed_requests(&w);
    assert_eq!(seen, vec![format!("Bearer {EVIL_OWN}"); 2]);
}
