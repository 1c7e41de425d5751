//! The Rust side of the plugin SDK: PathOps' Harbor connector served by `plugin::serve` in
//! the `harbor-plugin` binary passes the connector conformance suite through the plugin host,
//! in both process modes.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pathops_connectors::plugin::{PluginConnector, PluginMode, PluginOptions};
use pathops_core::{Configuration, Integration, IntegrationConnector, Provider};
use pathops_testkit::connector_suite::ConnectorHarness;
use pathops_testkit::fake::harbor::FakeHarbor;
use pathops_testkit::fixtures::IntegrationBuilder;
use secrecy::SecretString;
use serde_json::json;

/// A plugin directory with the built binary and a manifest naming its checksum.
fn install(root: &std::path::Path) -> PathBuf {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_harbor-plugin"));
    let dir = root.join("harbor");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&exe, dir.join("harbor-plugin")).unwrap();
    let sha =
        pathops_connectors::plugin::manifest::sha256_file(&dir.join("harbor-plugin")).unwrap();
    let manifest = json!({
        "plugin_id": "pathops.harbor",
        "provider": "harbor",
        "integration_type": "registry",
        "version": env!("CARGO_PKG_VERSION"),
        "protocol_versions": [1],
        "capabilities": ["test_connection", "health_check"],
        "executable": "harbor-plugin",
        "sha256": sha,
    });
    let path = dir.join("pathops-plugin.json");
    std::fs::write(&path, manifest.to_string()).unwrap();
    path
}

struct Harness {
    harbor: FakeHarbor,
    connector: Arc<PluginConnector>,
    _dir: tempfile::TempDir,
}

async fn harness(mode: PluginMode) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let manifest = install(dir.path());
    let connector =
        PluginConnector::from_manifest(&manifest, &PluginOptions::default().with_mode(mode))
            .unwrap();
    Harness {
        harbor: FakeHarbor::start_with_defaults().await,
        connector: Arc::new(connector),
        _dir: dir,
    }
}

#[async_trait]
impl ConnectorHarness for Harness {
    fn connector(&self) -> Arc<dyn IntegrationConnector> {
        self.connector.clone()
    }
    fn integration(&self) -> Integration {
        IntegrationBuilder::new("acme", "Harbor")
            .provider(Provider::Harbor)
            .base_url(&self.harbor.url())
            .configuration(json!({ "username": FakeHarbor::ROBOT }))
            .build()
    }
    fn valid_secret(&self) -> Option<SecretString> {
        Some(SecretString::from(FakeHarbor::ROBOT_SECRET))
    }
    fn invalid_secret(&self) -> SecretString {
        SecretString::from("not-the-robot-secret")
    }
    fn invalid_configuration(&self) -> Option<Configuration> {
        Some(Configuration::empty())
    }
    async fn set_latency(&self, latency: Duration) {
        self.harbor.set_latency(latency);
    }
}

pathops_testkit::connector_conformance_tests!(
    rust_plugin_conformance,
    harness(PluginMode::LongLived)
);

pathops_testkit::connector_conformance_tests!(
    rust_plugin_per_call_conformance,
    harness(PluginMode::PerCall)
);

#[tokio::test]
async fn the_plugin_answers_like_the_connector_it_serves() {
    let h = harness(PluginMode::LongLived).await;
    let in_process = pathops_connectors::harbor::HarborConnector::builder()
        .build()
        .unwrap();
    let ctx = pathops_testkit::connector_suite::context(
        h.integration(),
        h.valid_secret(),
        Duration::from_secs(10),
    );
    let direct = in_process.test_connection(&ctx).await;
    let through = h.connector.test_connection(&ctx).await;
    assert!(through.is_success(), "{}", through.message);
    assert_eq!(
        (through.failure, through.message, through.details),
        (direct.failure, direct.message, direct.details)
    );
    // A refused configuration keeps the connector's own validation message, field named.
    let err = h
        .connector
        .validate_config(&Configuration::new(json!({"usernme": "x"})).unwrap())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("usernme"), "{err}");
}
