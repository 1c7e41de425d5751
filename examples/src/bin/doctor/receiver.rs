//! The webhook receiver: `pathops_connectors::receiver::router` served on `--listen`.

use std::net::Ipv4Addr;
use std::sync::Arc;

use pathops_core::BaseUrl;
use pathops_core::webhook::{ChallengeRegistry, WebhookReceiver};

/// A bound listener and the URL tools reach it at.
#[derive(Debug)]
pub(crate) struct Bound {
    listener: tokio::net::TcpListener,
    /// `--public-url`, or `http://<bound address>`.
    pub(crate) public_url: String,
}

/// Binds `listen` (`host:port`, a name resolved here; default `127.0.0.1:0`). The public URL
/// is `public_url`, else the bound address (with `127.0.0.1` for an unspecified IP).
pub(crate) async fn bind(
    listen: Option<&str>,
    public_url: Option<BaseUrl>,
) -> Result<Bound, String> {
    let listen = listen.unwrap_or("127.0.0.1:0");
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("the receiver cannot listen on {listen}: {e}"))?;
    let mut local = listener
        .local_addr()
        .map_err(|e| format!("the receiver's address: {e}"))?;
    if local.ip().is_unspecified() {
        local.set_ip(Ipv4Addr::LOCALHOST.into());
    }
    let public_url = public_url.map_or_else(|| format!("http://{local}"), |u| u.to_string());
    Ok(Bound {
        listener,
        public_url,
    })
}

impl Bound {
    /// Serves the receiver, correlating deliveries into `challenges`, until the process ends.
    pub(crate) fn serve(self, challenges: Arc<ChallengeRegistry>) -> tokio::task::JoinHandle<()> {
        let app = pathops_connectors::receiver::router(WebhookReceiver::new(challenges));
        tokio::spawn(async move {
            if let Err(e) = axum::serve(self.listener, app).await {
                eprintln!("doctor: the receiver stopped: {e}");
            }
        })
    }
}
