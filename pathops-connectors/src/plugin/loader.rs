//! [`PluginLoader`]: finds plugins in directories, as a [`PluginSource`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use pathops_core::plugin::{DiscoveredPlugin, PluginSource};
use pathops_core::store::{PluginMetadata, PluginState};
use pathops_core::{Capabilities, Error, IntegrationConnector, PluginDescriptor, Provider, Result};

use super::PluginOptions;
use super::connector::PluginConnector;
use super::manifest::{self, MANIFEST_FILE};

/// Scans the configured directories for `<dir>/<plugin>/pathops-plugin.json`, checks each
/// manifest and the executable's checksum without running anything, and offers a
/// [`PluginConnector`] per plugin. Cached: a plugin whose manifest and executable did not
/// change keeps its connector (its processes, its quarantine) from one discovery to the next;
/// a changed one gets a fresh connector, and the old one's processes are stopped.
#[derive(Debug)]
pub struct PluginLoader {
    options: PluginOptions,
    cache: Mutex<BTreeMap<PathBuf, Cached>>,
}

#[derive(Debug, Clone)]
struct Cached {
    /// SHA-256 of the manifest file and of the executable.
    fingerprint: (String, String),
    connector: PluginConnector,
}

impl PluginLoader {
    /// A loader with `options` (see [`PluginOptions`] for the defaults).
    pub fn new(options: PluginOptions) -> Self {
        Self {
            options,
            cache: Mutex::new(BTreeMap::new()),
        }
    }

    /// The connector of a plugin found by the last discovery, by plugin id.
    pub fn connector(&self, plugin_id: &str) -> Option<PluginConnector> {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .find(|c| c.connector.plugin_id() == plugin_id)
            .map(|c| c.connector.clone())
    }

    /// Stops every plugin process this loader started.
    pub async fn shutdown(&self) {
        let connectors: Vec<_> = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(|c| c.connector.clone())
            .collect();
        for connector in connectors {
            connector.shutdown().await;
        }
    }

    fn scan(&self) -> Result<Vec<PathBuf>> {
        let mut manifests = Vec::new();
        for dir in &self.options.dirs {
            let entries = match std::fs::read_dir(dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    tracing::debug!(dir = %dir.display(), "no plugins directory");
                    continue;
                }
                Err(e) => {
                    return Err(Error::InvalidConfig {
                        message: format!(
                            "cannot read the plugins directory {}: {e}",
                            dir.display()
                        ),
                    });
                }
            };
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.path().join(MANIFEST_FILE))
                .filter(|p| p.is_file())
                .collect();
            found.sort();
            manifests.extend(found);
        }
        Ok(manifests)
    }

    fn examine(&self, manifest_path: &Path) -> Option<DiscoveredPlugin> {
        let checked = match manifest::load(manifest_path) {
            Ok(checked) => checked,
            Err(e) => return refused(manifest_path, &e.to_string()),
        };
        let manifest_sha = manifest::sha256_file(manifest_path).unwrap_or_default();
        let fingerprint = (manifest_sha, checked.manifest.sha256.clone());
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let connector = match cache.get(manifest_path) {
            Some(cached) if cached.fingerprint == fingerprint => cached.connector.clone(),
            previous => {
                if let Some(old) = previous.cloned() {
                    tokio::spawn(async move { old.connector.shutdown().await });
                }
                let connector = PluginConnector::new(checked.clone(), &self.options);
                if let Err(reason) = connector.verify() {
                    connector.quarantine(reason);
                }
                cache.insert(
                    manifest_path.to_owned(),
                    Cached {
                        fingerprint,
                        connector: connector.clone(),
                    },
                );
                connector
            }
        };
        let metadata = PluginMetadata::process(
            checked.descriptor(),
            checked.executable.display().to_string(),
            checked.manifest.sha256.clone(),
            connector.state(),
            time::OffsetDateTime::now_utc(),
        );
        Some(DiscoveredPlugin::new(
            metadata,
            Some(Arc::new(connector) as Arc<dyn IntegrationConnector>),
        ))
    }
}

/// A quarantined entry for a manifest that was refused, when enough of it reads to name the
/// plugin; else nothing (logged).
fn refused(manifest_path: &Path, reason: &str) -> Option<DiscoveredPlugin> {
    let partial = std::fs::read(manifest_path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok());
    let named = partial.as_ref().and_then(|v| {
        let id = v.get("plugin_id")?.as_str()?.to_owned();
        let integration_type = v.get("integration_type")?.as_str()?.parse().ok()?;
        let provider =
            Provider::parse_with_type(v.get("provider")?.as_str()?, integration_type).ok()?;
        let version = v
            .get("version")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_owned();
        Some(PluginDescriptor {
            id,
            integration_type: provider.integration_type(),
            provider,
            version,
            capabilities: Capabilities::default(),
        })
    });
    let Some(descriptor) = named else {
        tracing::warn!(manifest = %manifest_path.display(), %reason, "plugin manifest refused");
        return None;
    };
    let sha = partial
        .as_ref()
        .and_then(|v| v.get("sha256")?.as_str().map(str::to_owned))
        .unwrap_or_default();
    let metadata = PluginMetadata::process(
        descriptor,
        manifest_path.display().to_string(),
        sha,
        PluginState::Quarantined {
            reason: reason.to_owned(),
        },
        time::OffsetDateTime::now_utc(),
    );
    Some(DiscoveredPlugin::new(metadata, None))
}

#[async_trait]
impl PluginSource for PluginLoader {
    async fn discover(&self) -> Result<Vec<DiscoveredPlugin>> {
        let manifests = self.scan()?;
        let present = manifests.clone();
        let mut found: Vec<DiscoveredPlugin> = Vec::new();
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        for path in manifests {
            let Some(mut plugin) = self.examine(&path) else {
                continue;
            };
            let id = plugin.metadata.descriptor.id.clone();
            let at = plugin.metadata.path.clone().unwrap_or_default();
            if let Some(first) = seen.get(&id) {
                plugin.metadata.state = PluginState::Quarantined {
                    reason: format!("the plugin id {id} is also used by {first}"),
                };
                plugin.metadata.path = Some(at);
                plugin.connector = None;
            } else {
                seen.insert(id, at);
            }
            found.push(plugin);
        }
        // Forget plugins that vanished, stopping their processes.
        let gone: Vec<Cached> = {
            let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            let stale: Vec<PathBuf> = cache
                .keys()
                .filter(|k| !present.contains(k))
                .cloned()
                .collect();
            stale.iter().filter_map(|k| cache.remove(k)).collect()
        };
        for cached in gone {
            cached.connector.shutdown().await;
        }
        found.sort_by(|a, b| a.metadata.descriptor.id.cmp(&b.metadata.descriptor.id));
        Ok(found)
    }
}
