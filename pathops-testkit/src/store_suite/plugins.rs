//! Plugin metadata: upsert by descriptor id, list ordered by id, path, checksum and state kept.

use std::sync::Arc;

use pathops_core::clock::truncate_to_micros;
use pathops_core::store::{PluginMetadata, PluginState};
use pathops_core::{
    Capabilities, Capability, CatalogStore, IntegrationType, PluginDescriptor, Provider,
};
use time::OffsetDateTime;

use super::support::at;

fn plugin(
    provider: Provider,
    version: &str,
    capabilities: &[Capability],
    discovered_at: OffsetDateTime,
) -> PluginMetadata {
    PluginMetadata::builtin(
        PluginDescriptor {
            id: format!("pathops.{provider}"),
            integration_type: provider.integration_type(),
            provider,
            version: version.into(),
            capabilities: Capabilities::new(capabilities.iter().copied()),
        },
        discovered_at,
    )
}

/// Upserting inserts new ids and replaces existing ones; the list is ordered by id and every
/// field (custom providers, capabilities, microsecond times) round-trips.
pub async fn plugins_upsert_by_id_and_list_in_order(store: Arc<dyn CatalogStore>) {
    assert!(store.list_plugins().await.expect("list").is_empty());
    store.upsert_plugins(&[]).await.expect("empty upsert");

    let custom = Provider::custom("acme-scanner", IntegrationType::Feed).expect("provider");
    let gitlab = plugin(
        Provider::GitLab,
        "1.0.0",
        &[Capability::TestConnection, Capability::WebhookTest],
        at(1) + time::Duration::nanoseconds(1_999),
    );
    let harbor = plugin(Provider::Harbor, "1.0.0", &[Capability::HealthCheck], at(1));
    let scanner = plugin(custom, "0.1.0", &[], at(2));
    store
        .upsert_plugins(&[scanner.clone(), harbor.clone(), gitlab.clone()])
        .await
        .expect("upsert");

    let stored = |mut p: PluginMetadata| {
        p.discovered_at = truncate_to_micros(p.discovered_at);
        p
    };
    let listed = store.list_plugins().await.expect("list");
    assert_eq!(
        listed,
        [
            stored(scanner.clone()),
            stored(gitlab),
            stored(harbor.clone())
        ]
    );

    let gitlab_v2 = plugin(Provider::GitLab, "2.0.0", &[Capability::HealthCheck], at(3));
    store
        .upsert_plugins(std::slice::from_ref(&gitlab_v2))
        .await
        .expect("replace");
    let listed = store.list_plugins().await.expect("list");
    assert_eq!(
        listed,
        [stored(scanner.clone()), stored(gitlab_v2), stored(harbor)]
    );
}

/// An out-of-process plugin's row keeps its executable, checksum and state (with the reason)
/// through every state change, and a compiled-in connector's has neither path nor checksum.
pub async fn plugins_keep_path_checksum_and_state(store: Arc<dyn CatalogStore>) {
    let provider = Provider::custom("acme-status", IntegrationType::Feed).expect("provider");
    let base = plugin(provider, "0.3.1", &[Capability::HealthCheck], at(5));
    let sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let mut ready = PluginMetadata::process(
        base.descriptor.clone(),
        "/opt/pathops/plugins/acme-status/acme-status",
        sha,
        PluginState::Ready,
        at(5),
    );
    ready.descriptor.id = "acme.status".into();
    let builtin = plugin(Provider::Harbor, "1.0.0", &[Capability::HealthCheck], at(5));
    store
        .upsert_plugins(&[ready.clone(), builtin.clone()])
        .await
        .expect("upsert");
    let find = |rows: &[PluginMetadata], id: &str| {
        rows.iter()
            .find(|p| p.descriptor.id == id)
            .cloned()
            .unwrap_or_else(|| panic!("no row {id}"))
    };
    let rows = store.list_plugins().await.expect("list");
    assert_eq!(find(&rows, "acme.status"), ready);
    let harbor = find(&rows, "pathops.harbor");
    assert_eq!((harbor.path, harbor.sha256), (None, None));
    assert_eq!(harbor.state, PluginState::Ready);

    for state in [
        PluginState::Quarantined {
            reason: "initialize answered version 0.4.0; the manifest says 0.3.1".into(),
        },
        PluginState::Disabled {
            reason: "harbor is served by the built-in connector".into(),
        },
        PluginState::Ready,
    ] {
        let row = ready.clone().with_state(state.clone());
        store
            .upsert_plugins(std::slice::from_ref(&row))
            .await
            .expect("state change");
        let rows = store.list_plugins().await.expect("list");
        assert_eq!(find(&rows, "acme.status").state, state);
        assert_eq!(find(&rows, "acme.status").sha256.as_deref(), Some(sha));
    }
}
