//! A PathOps catalog service: the REST API, the webhook receiver, the health monitor and the
//! outbox relay in one process, over an embedded SQLite catalog by default.
//!
//! ```text
//! cargo run -p pathops-examples --bin serve -- --tokens tokens.json
//! cargo run -p pathops-examples --bin serve -- --help
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use pathops_connectors::api::{Api, ApiOptions, StaticTokens};
use pathops_connectors::http::HttpPolicy;
use pathops_connectors::nats::NatsSink;
use pathops_connectors::plugin::{PluginLoader, PluginOptions};
use pathops_connectors::receiver::RouterOptions;
use pathops_core::catalog::{Catalog, Principal};
use pathops_core::doctor::Doctor;
use pathops_core::error::chain;
use pathops_core::monitor::{HealthMonitor, MonitorConfig};
use pathops_core::relay::{BroadcastSink, EventSink, OutboxRelay};
use pathops_core::secret::{ChainResolver, EnvResolver, FileResolver};
use pathops_core::store::PluginState;
use pathops_core::webhook::{ChallengeRegistry, WebhookReceiver};
use pathops_core::{CatalogStore, SecretResolver};
use pathops_store::{SqliteStore, StoreScheme};
use tokio::sync::watch;

const AFTER_HELP: &str = "\
TOKENS FILE (--tokens), JSON; each token at least 16 characters, kept only as a SHA-256:
    { \"tokens\": [
        { \"token\": \"<secret>\", \"tenant\": \"acme\", \"actor\": \"alice\",
          \"scopes\": [\"integrations.admin\"] } ] }
    Scopes: integrations.read (reads), integrations.admin (every change; implies read).
    Send it as `Authorization: Bearer <secret>`.

ROUTES:
    /api/v1/integrations[...]   the catalog API (problem+json errors)
    /api/v1/plugins[...]        plugins; /api/v1/doctor/runs runs the doctor
    /api/v1/openapi.json        the OpenAPI 3.1 document (no token needed)
    /webhooks/{gitlab,github,gitea,standard,ping}
                                the webhook receiver (signed deliveries, no token)

SECRETS, resolved at call time and never printed: ref://<tenant>/<provider>/<key> from the
environment variable PATHOPS_SECRET_<TENANT>__<PROVIDER>__<KEY>, else (with --secrets-dir)
the file <DIR>/<tenant>/<provider>/<key>.

EVENTS: with --nats-url, the outbox is relayed to NATS JetStream as CloudEvents under
<prefix>.<tenant>.<type>; without it, to the log.

Stops on Ctrl-C (SIGINT): stops accepting, finishes requests in flight, then exits 0.
Exits 1 when it cannot start (catalog, tokens file, address in use).";

/// Serve a PathOps catalog: REST API, webhook receiver, health monitor and outbox relay.
#[derive(Debug, Parser)]
#[command(name = "serve", version, after_help = AFTER_HELP)]
struct Args {
    /// Address to listen on (host:port).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    listen: String,
    #[arg(
        long,
        default_value = "sqlite://pathops-serve.db",
        value_name = "URL",
        help = "The catalog: sqlite://<path> (created if missing) or \
                postgres://<user>@<host>/<db> (migrated on start)"
    )]
    catalog: String,
    /// The static bearer tokens (see below).
    #[arg(long, value_name = "FILE")]
    tokens: PathBuf,
    /// Relay events to this NATS server (JetStream).
    #[arg(long, value_name = "URL")]
    nats_url: Option<String>,
    /// Subject prefix of relayed events.
    #[arg(long, default_value = "pathops", value_name = "PREFIX")]
    nats_prefix: String,
    #[arg(
        long,
        value_name = "URL",
        help = "The receiver's URL as tools reach it (for the doctor's webhook tests and \
                direct pings); default http://<listen address>"
    )]
    public_url: Option<String>,
    /// Also read secrets from files under this directory.
    #[arg(long, value_name = "DIR")]
    secrets_dir: Option<PathBuf>,
    /// Make no outbound call: connection tests and monitor checks record `offline`.
    #[arg(long)]
    offline: bool,
    /// Let integrations reach private and loopback addresses (a lab with local tools). By
    /// default they are refused, as a multi-tenant service must.
    #[arg(long)]
    allow_private: bool,
    /// Discover out-of-process plugins in this directory at start-up (repeatable; each plugin
    /// in a subdirectory of its own, beside its pathops-plugin.json).
    #[arg(long = "plugins", value_name = "DIR")]
    plugins: Vec<PathBuf>,
    /// Time between two monitor checks of one integration, in seconds.
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    monitor_interval: u64,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(std::io::stderr)
        .init();
    match run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("serve: {}", chain(&*e));
            std::process::ExitCode::from(1)
        }
    }
}

async fn open_store(url: &str) -> Result<Arc<dyn CatalogStore>, Error> {
    if StoreScheme::parse(url)? == StoreScheme::Sqlite {
        let store = SqliteStore::builder(url)
            .with_create_if_missing(true)
            .build()
            .await?;
        Ok(Arc::new(store))
    } else {
        Ok(pathops_store::connect(url).await?)
    }
}

fn secrets(dir: Option<&std::path::Path>) -> Arc<dyn SecretResolver> {
    let env: Arc<dyn SecretResolver> = Arc::new(EnvResolver::from_env());
    match dir {
        None => Arc::new(ChainResolver::new().fallback(env)),
        Some(dir) => {
            let files: Arc<dyn SecretResolver> = Arc::new(FileResolver::new(dir));
            Arc::new(ChainResolver::new().backend("file", files).fallback(env))
        }
    }
}

async fn run(args: Args) -> Result<(), Error> {
    let tokens = StaticTokens::from_file(&args.tokens)?;
    let store = open_store(&args.catalog).await?;
    let mut policy = HttpPolicy::multi_tenant();
    policy.offline = args.offline;
    policy.egress.block_private_addresses = !args.allow_private;
    let loader = Arc::new(PluginLoader::new(
        PluginOptions::default().with_dirs(args.plugins.clone()),
    ));
    let catalog = Catalog::builder(store.clone())
        .with_connectors(pathops_connectors::registry::registry_with_all(&policy)?)
        .with_secrets(secrets(args.secrets_dir.as_deref()))
        .with_plugins(loader.clone())
        .build()?;
    if !args.plugins.is_empty() {
        let operator = Principal::admin("system".parse()?, "serve".parse()?);
        let plugins = catalog.discover_plugins(&operator).await?;
        let ready = plugins
            .iter()
            .filter(|p| p.path.is_some() && p.state == PluginState::Ready)
            .count();
        tracing::info!(ready, "plugins discovered");
    }

    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let local = listener.local_addr()?;
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{local}"));

    let challenges = Arc::new(ChallengeRegistry::new());
    let doctor = Doctor::builder(catalog.clone(), challenges.clone())
        .with_public_url(public_url.clone())
        .build();
    let app = Api::new(catalog.clone())
        .with_principals(tokens)
        .with_doctor(doctor)
        .with_receiver(WebhookReceiver::new(challenges), RouterOptions::new())
        .with_options(ApiOptions::new())
        .router();

    let (stop, stopped) = watch::channel(false);
    let until_stopped = move |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };

    let monitor = HealthMonitor::builder(catalog.clone())
        .with_config(MonitorConfig {
            interval: Duration::from_secs(args.monitor_interval.max(1)),
            offline: args.offline,
            ..MonitorConfig::default()
        })
        .with_owner(format!("serve-{local}"))
        .build()?;
    let monitor_task = tokio::spawn({
        let shutdown = until_stopped(stopped.clone());
        async move { monitor.run(shutdown).await }
    });

    let sink: Arc<dyn EventSink> = match &args.nats_url {
        Some(url) => Arc::new(NatsSink::connect(url, args.nats_prefix.clone()).await?),
        None => {
            let sink = BroadcastSink::new(1024);
            let mut events = sink.subscribe();
            tokio::spawn(async move {
                while let Ok(event) = events.recv().await {
                    tracing::info!(
                        event_type = event.event_type.as_str(),
                        tenant_id = %event.tenant_id,
                        integration_id = %event.integration_id,
                        "event"
                    );
                }
            });
            Arc::new(sink)
        }
    };
    let relay = OutboxRelay::new(store, vec![sink], format!("serve-{local}"));
    let relay_task = tokio::spawn({
        let shutdown = until_stopped(stopped.clone());
        async move { relay.run(shutdown).await }
    });

    eprintln!(
        "serve: listening on http://{local} (API /api/v1/integrations, OpenAPI \
         /api/v1/openapi.json, receiver /webhooks/*; public URL {public_url})"
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = tokio::signal::ctrl_c().await;
            eprintln!("serve: stopping");
            let _ = stop.send(true);
        })
        .await?;
    let _ = tokio::join!(monitor_task, relay_task);
    loader.shutdown().await;
    Ok(())
}
