//! Out-of-process connector plugins: protocol v1, the loader, the host and the plugin SDK.
//!
//! A plugin is an executable beside a manifest, `pathops-plugin.json`, in a directory of its
//! own under a plugins directory (default `plugins/`). [`PluginLoader`] reads the manifests
//! without running anything and offers each plugin as a [`PluginConnector`], which starts the
//! executable when a check needs it and speaks JSON-RPC 2.0 with it over its stdin and stdout.
//! Register the loader with `CatalogBuilder::with_plugins` and call
//! `Catalog::discover_plugins` at start-up; `pathops_core::plugin` says which connector serves
//! a provider that both a plugin and a compiled-in connector offer.
//!
//! [`serve`] turns any [`IntegrationConnector`](pathops_core::IntegrationConnector) into a plugin binary; the protocol below is
//! small enough to implement in any language with a JSON library (the repository's
//! `examples/plugins/harbor-lite` is a plugin in Python's standard library alone).
//!
//! # The manifest
//!
//! ```json
//! {
//!   "plugin_id": "acme.harbor-lite",
//!   "provider": "harbor-lite",
//!   "integration_type": "registry",
//!   "version": "0.1.0",
//!   "protocol_versions": [1],
//!   "capabilities": ["test_connection", "health_check"],
//!   "executable": "harbor_lite.py",
//!   "sha256": "<sha256 of the executable, lowercase hex>",
//!   "mode": "long_lived",
//!   "max_concurrency": 16
//! }
//! ```
//!
//! Unknown keys are refused. `provider` is a built-in provider name or a custom one
//! (lowercase letters, digits, `-`); `executable` is relative to the manifest, inside its
//! directory; `mode` is `long_lived` (default) or `per_call`; `max_concurrency` (1–256,
//! default 16) bounds the calls one long-lived process serves at once. A manifest that does
//! not check, or an executable whose SHA-256 differs, makes the plugin `quarantined` in
//! `plugin_metadata`, with the reason.
//!
//! # Protocol v1
//!
//! **Framing.** UTF-8 JSON-RPC 2.0 messages, one per line, each ending in `\n`, with no
//! newline inside (JSON escapes them). At most 1 MiB a message by default
//! ([`PluginOptions::max_message_bytes`]). The plugin's stdout carries protocol messages and
//! nothing else; its logs go to stderr, of which the host keeps the last lines (secrets it
//! passed replaced by `[REDACTED]`) for crash reports. A line on stdout that is not a JSON-RPC
//! response, a message over the cap, or an answer to a request never sent is a protocol
//! error: the host kills the plugin's process group, fails the call with
//! `plugin_protocol_error` and quarantines the plugin.
//!
//! **Requests** (host → plugin) carry `jsonrpc: "2.0"`, an integer `id`, `method` and
//! `params`; the plugin answers each with `{"jsonrpc": "2.0", "id": <same>, "result": …}` or
//! `{"jsonrpc": "2.0", "id": <same>, "error": {"code", "message", "data"?}}`, in any order
//! (requests may be concurrent). The plugin sends no requests of its own.
//!
//! | method | params | result |
//! |---|---|---|
//! | `initialize` | `{protocol_versions: [1], host_version}` | `{protocol_version, plugin_id, version, provider, integration_type, capabilities}` |
//! | `validate_config` | `{configuration}` | `{}`, or error `-32010` with `data: {field, reason}` |
//! | `test_connection` | `{integration, secret, deadline_ms}` | a check result |
//! | `check_health` | `{integration, secret, deadline_ms}` | a check result |
//! | `expected_delivery` | `{integration, request}` | `null` or `{kind, expectation}` |
//! | `trigger_delivery` | `{integration, secret, deadline_ms, request}` | a check result |
//! | `shutdown` | `{}` | `{}`; then the host closes stdin |
//! | `$/cancel` (notification, no `id`) | `{id}` | none; the cancelled request is answered with error `-32800` |
//!
//! - `initialize` is the first request of every process. The plugin picks the highest
//!   version it shares with `protocol_versions`; with none in common it answers error
//!   `-32602` with `data: {supported, requested}`, and the host quarantines it naming both
//!   sides' versions. Every field of the answer must equal the manifest's, or the plugin is
//!   quarantined ("initialize answer contradicts its manifest: version is …").
//! - `integration` is the integration as stored (id, tenant, provider, base URL,
//!   configuration, auth ref: a *reference*, never a secret). `secret` is the credential
//!   behind the auth ref, resolved for this call only (`null` without one): secrets travel
//!   inside requests on stdin, never in argv, the environment or a file. `deadline_ms` is the
//!   time left; a plugin answers before it.
//! - A check result is PathOps' `CheckResult` as JSON: `{reachability, authentication,
//!   latency, failure, message, details}`, `reachability` and `authentication` each
//!   `passed|failed|not_checked`, `latency` in milliseconds, `failure` `null` or
//!   `{"code": "<failure code>", …}` (`unauthenticated`, `permission_denied` with
//!   `missing_scope`, `connect`, `timeout`, …), `details` an object. The host keeps the
//!   result but measures the latency itself and bounds the message.
//! - `request` is `{"type": "webhook_test", "trigger": "push_events"}`, `{"type":
//!   "hook_ping"}` or `{"type": "direct_ping", "ping": {…}}`; `kind` and `expectation` are
//!   what the doctor waits for (`{"kind": "gitea", "expectation": {"project_id": 7}}`).
//! - Error codes: `-32700` parse error, `-32600` invalid request, `-32601` method not found
//!   (the check is `unsupported`), `-32602` invalid params, `-32603` internal error (the
//!   check is `plugin_crashed`), `-32800` cancelled, `-32010` invalid configuration.
//!
//! # Processes
//!
//! - **Isolation.** A plugin starts with an empty environment (plus the operator's
//!   [`env_allowlist`](PluginOptions::env_allowlist) and `PATHOPS_PLUGIN_PROTOCOL=1`), in its
//!   own process group, in its own directory, and is killed if the handle is dropped; on Linux
//!   it also receives SIGKILL when the host thread that started it exits (`PR_SET_PDEATHSIG`;
//!   tokio's worker threads live as long as the runtime), so no plugin outlives the host. The
//!   executable's checksum is verified again before every start: hashed anew whenever the
//!   file's device, inode, size, modification or status-change time differs from the last
//!   verification (replacing or writing the file changes its status-change time, which no
//!   unprivileged process can set back).
//! - **Modes.** Long-lived: one process per tenant (a plugin never holds two tenants' secrets
//!   at once), up to `max_concurrency` concurrent calls, restarted after a crash with a
//!   backoff (100 ms doubling to 30 s), and shut down after
//!   [`idle_timeout`](PluginOptions::idle_timeout) without a call. Per-call: a process per call, for the least trusted
//!   plugins ([`PluginOptions::force_mode`] lets the operator impose it).
//! - **Deadlines.** Every call has the check's deadline. When it passes the host sends
//!   `$/cancel`, waits [`cancel_grace`](PluginOptions::cancel_grace) for the answer, and then
//!   kills the process group: the check fails with `plugin_timeout`. A crash during a call is
//!   `plugin_crashed` with the last stderr lines.
//! - **Shutdown.** `shutdown`, then stdin closed, then SIGTERM, then SIGKILL, half a second
//!   apart.
//!
//! # What the host cannot enforce
//!
//! The egress policy (`HttpPolicy`) governs requests PathOps makes; a plugin makes its own,
//! so nothing stops it from sending the secret it was given to another host. Run untrusted
//! plugins under a wrapper that confines the network, through
//! [`command_prefix`](PluginOptions::command_prefix) (for example `["unshare", "--net",
//! "--map-root-user"]`, `["bwrap", …]`, `["firejail", "--net=none"]`): the host runs the
//! prefix with the executable appended. A wrapper that moves the plugin into another process
//! group escapes the host's group kill.

mod connector;
mod host;
mod loader;
pub mod manifest;
pub mod protocol;
mod serve;

use std::path::PathBuf;
use std::time::Duration;

pub use connector::PluginConnector;
pub use loader::PluginLoader;
pub use manifest::{Manifest, PluginMode};
pub use serve::{serve, serve_on};

/// How plugins are found and run. Build from [`PluginOptions::default`] and the `with_`
/// methods.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PluginOptions {
    /// The directories scanned (default `plugins`).
    pub dirs: Vec<PathBuf>,
    /// Variables of the host's environment passed on to plugins (default none).
    pub env_allowlist: Vec<String>,
    /// A wrapper command run with the executable appended (default none).
    pub command_prefix: Vec<String>,
    /// Runs every plugin in this mode whatever its manifest says (default: the manifest's).
    pub force_mode: Option<PluginMode>,
    /// Concurrent calls per long-lived process when the manifest does not say (default 16).
    pub max_concurrency: usize,
    /// The cap on one message, in bytes (default 1 MiB).
    pub max_message_bytes: usize,
    /// How long a call past its deadline may still answer after `$/cancel` (default 100 ms).
    pub cancel_grace: Duration,
    /// The longest start-up handshake (default 10 s, and never past the call's deadline).
    pub start_timeout: Duration,
    /// The deadline of `validate_config` and `expected_delivery` (default 5 s).
    pub validate_timeout: Duration,
    /// Lines of stderr kept per plugin (default 32).
    pub stderr_lines: usize,
    /// A long-lived process that served no call for this long is shut down, and started again
    /// by the next call (default 5 minutes; `None` keeps processes until shutdown).
    pub idle_timeout: Option<Duration>,
}

impl Default for PluginOptions {
    fn default() -> Self {
        Self {
            dirs: vec![PathBuf::from("plugins")],
            env_allowlist: Vec::new(),
            command_prefix: Vec::new(),
            force_mode: None,
            max_concurrency: 16,
            max_message_bytes: protocol::DEFAULT_MAX_MESSAGE_BYTES,
            cancel_grace: Duration::from_millis(100),
            start_timeout: Duration::from_secs(10),
            validate_timeout: Duration::from_secs(5),
            stderr_lines: 32,
            idle_timeout: Some(Duration::from_secs(300)),
        }
    }
}

impl PluginOptions {
    /// Scans `dirs` instead of `plugins`.
    pub fn with_dirs(mut self, dirs: impl IntoIterator<Item = impl Into<PathBuf>>) -> Self {
        self.dirs = dirs.into_iter().map(Into::into).collect();
        self
    }

    /// Passes these variables of the host's environment on to plugins.
    pub fn with_env_allowlist(
        mut self,
        names: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.env_allowlist = names.into_iter().map(Into::into).collect();
        self
    }

    /// Runs plugins under `prefix` (the executable is appended).
    pub fn with_command_prefix(
        mut self,
        prefix: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.command_prefix = prefix.into_iter().map(Into::into).collect();
        self
    }

    /// Runs every plugin in `mode`.
    pub fn with_mode(mut self, mode: PluginMode) -> Self {
        self.force_mode = Some(mode);
        self
    }

    /// Concurrent calls per long-lived process when the manifest does not say.
    pub fn with_max_concurrency(mut self, n: usize) -> Self {
        self.max_concurrency = n.max(1);
        self
    }

    /// The cap on one message, in bytes.
    pub fn with_max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_message_bytes = bytes;
        self
    }

    /// Shuts long-lived processes down after `idle` without a call (`None`: never).
    pub fn with_idle_timeout(mut self, idle: Option<Duration>) -> Self {
        self.idle_timeout = idle;
        self
    }

    /// How long a call past its deadline may still answer after `$/cancel`.
    pub fn with_cancel_grace(mut self, grace: Duration) -> Self {
        self.cancel_grace = grace;
        self
    }
}
