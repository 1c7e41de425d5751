//! `harbor-plugin`: PathOps' own Harbor connector served as an out-of-process plugin with
//! `pathops_connectors::plugin::serve`, the Rust side of the plugin SDK.
//!
//! Put the binary in a directory of its own under a plugins directory, beside a
//! `pathops-plugin.json` naming it (provider `harbor`, the capabilities below, its SHA-256),
//! and let the operator choose it over the compiled-in connector with
//! `CatalogBuilder::with_plugin_override(Provider::Harbor)`. It reads requests on stdin and
//! answers on stdout; its logs go to stderr.

use pathops_connectors::harbor::HarborConnector;
use pathops_connectors::plugin;

fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::WARN)
        .init();
    let connector = HarborConnector::builder()
        .build()
        .map_err(std::io::Error::other)?;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(plugin::serve(connector))
}
