//! What the doctor's CLI tests share: running the binary, on a pipe or on a terminal.

#![allow(dead_code, reason = "each test binary uses a part")]

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The doctor binary, its environment cleared of `RUST_LOG`.
pub(crate) fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_doctor"));
    command.args(args).env_remove("RUST_LOG");
    command
}

/// Runs the doctor on pipes.
pub(crate) fn doctor(args: &[&str]) -> Output {
    command(args).output().expect("the doctor binary runs")
}

/// Output as text.
pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8 output")
}

/// `arg` quoted for `sh`.
fn quoted(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

/// A run on a pseudo-terminal: standard output and standard error are one terminal, as for
/// a person typing the command.
#[derive(Debug)]
pub(crate) struct TerminalRun {
    /// The exit status of the doctor.
    pub(crate) code: Option<i32>,
    /// Everything the terminal showed.
    pub(crate) screen: String,
    /// How long it took.
    pub(crate) elapsed: Duration,
}

/// Runs the doctor under `script(1)` (util-linux), which gives it a pseudo-terminal and exits
/// with its status. `env` is added to the environment; colours are off so that the screen
/// can be matched.
pub(crate) fn on_terminal(args: &[&str], env: &[(&str, &str)]) -> TerminalRun {
    let mut line = quoted(env!("CARGO_BIN_EXE_doctor"));
    for arg in args {
        line.push(' ');
        line.push_str(&quoted(arg));
    }
    let started = Instant::now();
    let out = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .output()
        .expect("script(1) from util-linux is installed");
    TerminalRun {
        code: out.status.code(),
        screen: String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n"),
        elapsed: started.elapsed(),
    }
}

/// The `sqlite://` URL of a catalog file.
pub(crate) fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// Creates a SQLite catalog file at `path` holding, for tenant `acme`, one Zastava
/// direct-ping integration at `tool_url` per `(name, key)`, each with the auth ref
/// `ref://acme/zastava/<key>`, submitted for verification. Returns the writer pool, for tests
/// that edit rows behind the store's back.
pub(crate) async fn seed_ping_catalog(
    path: &Path,
    tool_url: &str,
    integrations: &[(String, &str)],
) -> sqlx::SqlitePool {
    use pathops_core::catalog::{Catalog, Principal};
    use pathops_core::{NewIntegration, Provider};
    let store = pathops_store::SqliteStore::open(path)
        .await
        .expect("a new catalog file");
    let pool = store.pool().clone();
    let catalog = Catalog::builder(std::sync::Arc::new(store))
        .build()
        .expect("a catalog");
    let admin = Principal::admin("acme".parse().unwrap(), "setup".parse().unwrap());
    for (name, key) in integrations {
        let input = NewIntegration::builder(name.as_str(), Provider::Zastava, tool_url)
            .with_auth_ref(format!("ref://acme/zastava/{key}"))
            .build()
            .expect("a valid integration");
        catalog
            .create(&admin, input, true)
            .await
            .expect("registering an integration");
    }
    pool
}
