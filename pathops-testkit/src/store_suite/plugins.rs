//! Plugin metadata: upsert by descriptor id, list ordered by id.

use std::sync::Arc;

use pathops_core::clock::truncate_to_micros;
use pathops_core::store::PluginMetadata;
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
    PluginMetadata {
        descriptor: PluginDescriptor {
            id: format!("pathops.{provider}"),
            integration_type: provider.integration_type(),
            provider,
            version: version.into(),
            capabilities: Capabilities::new(capabilities.iter().copied()),
        },
        discovered_at,
    }
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
    assert_eq!(listed, [stored(scanner), stored(gitlab_v2), stored(harbor)]);
}
