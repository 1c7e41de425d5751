//! The fake Vault as a [`VaultServer`].

use secrecy::SecretString;
use serde_json::Value;

use super::{MOUNT, VaultServer};
use crate::fake::vault::{FakeVault, VaultToken};

#[async_trait::async_trait]
impl VaultServer for FakeVault {
    fn name(&self) -> &'static str {
        "fake"
    }

    fn address(&self) -> String {
        self.url()
    }

    fn admin_token(&self) -> SecretString {
        SecretString::from(FakeVault::TOKEN)
    }

    async fn write(&self, path: &str, data: Value) -> u64 {
        self.write_secret(MOUNT, path, data)
    }

    async fn delete_version(&self, path: &str, version: u64) {
        assert!(
            FakeVault::delete_version(self, MOUNT, path, version),
            "no version {version}"
        );
    }

    async fn destroy_version(&self, path: &str, version: u64) {
        assert!(
            FakeVault::destroy_version(self, MOUNT, path, version),
            "no version {version}"
        );
    }

    async fn token_reading(&self, api_paths: &[String]) -> SecretString {
        let token = format!("hvs.fake-{}", uuid::Uuid::new_v4().simple());
        self.add_token(VaultToken::new(token.clone()).reading(api_paths.iter().cloned()));
        SecretString::from(token)
    }
}
