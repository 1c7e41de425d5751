//! Connectors that arrive at run time: a [`PluginSource`] finds them (the out-of-process
//! plugin loader in `pathops-connectors` scans plugin directories), and
//! [`Catalog::discover_plugins`](crate::catalog::Catalog::discover_plugins) records what it
//! found in `plugin_metadata` and serves checks through the ones that are ready.
//!
//! **Which connector wins.** A plugin for a [`Provider::Custom`](crate::Provider) name serves
//! it. A plugin for a built-in provider that a compiled-in connector already serves is
//! recorded as [`PluginState::Disabled`](crate::store::PluginState::Disabled) unless the operator lets it override that provider
//! ([`CatalogBuilder::with_plugin_override`](crate::catalog::CatalogBuilder::with_plugin_override)):
//! whoever can drop a file into a plugins directory must not thereby receive every GitLab
//! token of every tenant, so taking over a provider is the trusted operator's decision, made
//! in code. Two plugins for one provider: the first by plugin id serves it, the other is
//! disabled.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::connector::IntegrationConnector;
use crate::error::Result;
use crate::store::PluginMetadata;

/// One plugin a [`PluginSource`] found.
#[derive(Clone)]
#[non_exhaustive]
pub struct DiscoveredPlugin {
    /// What `plugin_metadata` records (descriptor from the manifest, path, checksum, state).
    pub metadata: PluginMetadata,
    /// The connector that serves it; `None` when it cannot serve (a manifest that does not
    /// parse, say). A quarantined plugin may still have one, which answers every call with
    /// [`FailureCode::PluginQuarantined`](crate::FailureCode::PluginQuarantined) and the
    /// reason, so evidence says why instead of "no connector".
    pub connector: Option<Arc<dyn IntegrationConnector>>,
}

impl DiscoveredPlugin {
    /// A plugin and the connector serving it.
    pub fn new(metadata: PluginMetadata, connector: Option<Arc<dyn IntegrationConnector>>) -> Self {
        Self {
            metadata,
            connector,
        }
    }
}

impl fmt::Debug for DiscoveredPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiscoveredPlugin")
            .field("metadata", &self.metadata)
            .field("connector", &self.connector.as_ref().map(|c| c.provider()))
            .finish()
    }
}

/// Finds plugins. Implementations cache: discovering twice without a change on disk returns
/// the same connectors (and keeps their running processes).
#[async_trait]
pub trait PluginSource: Send + Sync + fmt::Debug {
    /// Every plugin found, ordered by plugin id, each with its state. Errors are for the
    /// source itself (an unreadable plugins directory); a bad plugin is a quarantined entry.
    async fn discover(&self) -> Result<Vec<DiscoveredPlugin>>;
}
