//! The Vault conformance suite (`pathops_testkit::vault_suite`) against the fake Vault, and
//! against a real Vault-compatible server when `PATHOPS_TEST_VAULT_URL` and
//! `PATHOPS_TEST_VAULT_TOKEN` (a root token) are set; otherwise each live check prints
//! `skipping: PATHOPS_TEST_VAULT_URL not set`. `.ci/run` starts an OpenBao dev server and sets
//! both.

#![cfg(feature = "vault")]

use std::sync::Arc;

use pathops_connectors::vault::VaultResolver;
use pathops_core::SecretResolver;
use pathops_testkit::fake::vault::FakeVault;
use pathops_testkit::vault_suite::{LiveVault, VaultFactory, VaultFixture, VaultResolverSpec};

/// The resolver a spec describes, through the public builder.
fn build(spec: VaultResolverSpec) -> Arc<dyn SecretResolver> {
    let mut builder = VaultResolver::builder().with_address(spec.address);
    if let Some(token) = spec.token {
        builder = builder.with_token(token);
    }
    for (tenant, token) in spec.tenant_tokens {
        builder = builder.with_tenant_token(tenant, token);
    }
    for (tenant, path) in spec.tenant_token_files {
        builder = builder.with_tenant_token_file(tenant, path);
    }
    if let Some(prefix) = spec.tenant_path_prefix {
        builder = builder.with_tenant_path_prefix(prefix);
    }
    Arc::new(builder.build().expect("a valid resolver"))
}

struct Fake;

#[async_trait::async_trait]
impl VaultFactory for Fake {
    async fn open(&self) -> Option<VaultFixture> {
        let server = Arc::new(FakeVault::start_with_defaults().await);
        Some(VaultFixture::new(server, Arc::new(build)))
    }
}

struct Live;

#[async_trait::async_trait]
impl VaultFactory for Live {
    async fn open(&self) -> Option<VaultFixture> {
        let server = Arc::new(LiveVault::from_env()?);
        Some(VaultFixture::new(server, Arc::new(build)))
    }
}

mod fake {
    pathops_testkit::vault_conformance_suite!(super::Fake);
}

mod live {
    pathops_testkit::vault_conformance_suite!(super::Live);
}
