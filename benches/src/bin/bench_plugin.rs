//! `bench-plugin`: the plugin benchmark's connector ([`InstantConnector`]) served as a plugin.

use pathops_benches::instant::InstantConnector;

fn main() -> std::io::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(pathops_connectors::plugin::serve(InstantConnector))
}
