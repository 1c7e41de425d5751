//! `pathops`: the operator CLI over any PathOps catalog (SQLite file or PostgreSQL).
//!
//! Integrations (list, get, add, update, delete, test, pause, resume, activate), their health
//! and audit trail, the doctor, bulk export and import for environment promotion, plugins,
//! migrations and shell completions. `pathops --help` documents every command; the exit
//! status is 0 when all is well, 1 for findings (a failed test or doctor run, a broken audit
//! chain, a plan with changes under `--detailed-exitcode`), 2 for a usage error and 3 when
//! the command could not run (no catalog, a refused manifest, a stale plan, …).

#![allow(clippy::print_stdout)]

// The doctor's modules, shared with the `doctor` binary (which stays the README's command).
// The doctor binary's own flag set (`DoctorCli`) is unused here.
#[allow(dead_code)]
#[path = "../doctor/args.rs"]
mod args;
#[path = "../doctor/cli.rs"]
mod cli;
#[path = "../doctor/demo.rs"]
mod demo;
#[path = "../doctor/progress.rs"]
mod progress;
#[path = "../doctor/receiver.rs"]
mod receiver;
#[path = "../doctor/render.rs"]
mod render;
#[path = "../doctor/secrets.rs"]
mod secrets;
#[path = "../doctor/store.rs"]
mod store;

mod commands;
mod evidence;
mod integrations;
mod output;
mod provisioning;
mod settings;

use std::process::ExitCode;

use clap::{CommandFactory as _, Parser, Subcommand};

use output::Format;

/// All is well.
pub(crate) const OK: u8 = 0;
/// Findings: a failed test or check, a broken chain, a plan with changes
/// (`--detailed-exitcode`).
pub(crate) const FINDINGS: u8 = 1;
/// The command could not run.
pub(crate) const CANNOT_RUN: u8 = 3;

const AFTER_HELP: &str = "\
CATALOG: --catalog, else PATHOPS_CATALOG_URL, else `catalog` in pathops.toml (or --config),
else sqlite://./pathops.db. `pathops migrate` creates or migrates it; every other command
opens an existing catalog only. Tenant and actor: --tenant / PATHOPS_TENANT / `tenant`, and
--actor / PATHOPS_ACTOR / `actor` (default pathops-cli).

pathops.toml:
    catalog = \"postgres://pathops@db.internal/pathops\"
    tenant = \"acme\"
    actor = \"alice\"
    secrets_dir = \"/etc/pathops/secrets\"

SECRETS are resolved as the doctor resolves them (PATHOPS_SECRET_* variables, files under
--secrets-dir) and never printed. Manifests and integrations hold references only.

ENVIRONMENT: NO_COLOR (set: no colour), CLICOLOR=0 (no colour), CLICOLOR_FORCE=1 (colour
even when piped). Output to a pipe or file is never coloured otherwise.

EXIT STATUS:
    0    ok
    1    findings: a failed test or doctor check, a broken audit chain, or (with
         --detailed-exitcode) a plan with changes
    2    usage error
    3    could not run: no catalog, not found, a refused manifest, a stale plan, ...
    4    (doctor) nothing was checked
";

/// The PathOps operator CLI.
#[derive(Debug, Parser)]
#[command(
    name = "pathops",
    version,
    about = "The PathOps operator CLI: integrations, health, audit, the doctor, and manifests for environment promotion.",
    after_help = AFTER_HELP
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options every command takes.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Global {
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "PATHOPS_CATALOG_URL",
        value_parser = args::catalog_url,
        help = "The catalog: sqlite://<path>, sqlite:<path>, sqlite::memory: or postgres://…"
    )]
    pub(crate) catalog: Option<String>,
    /// The settings file (default ./pathops.toml when it exists).
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) config: Option<std::path::PathBuf>,
    /// The tenant to act on.
    #[arg(long, global = true, value_name = "ID", env = "PATHOPS_TENANT")]
    pub(crate) tenant: Option<pathops_core::TenantId>,
    /// Who is acting (recorded in the audit trail).
    #[arg(long, global = true, value_name = "ID", env = "PATHOPS_ACTOR")]
    pub(crate) actor: Option<pathops_core::ActorId>,
    /// Also read secrets from files under DIR.
    #[arg(long, global = true, value_name = "DIR", value_parser = args::existing_dir)]
    pub(crate) secrets_dir: Option<std::path::PathBuf>,
    /// Output format.
    #[arg(long, short, global = true, value_enum, default_value_t = Format::Table)]
    pub(crate) output: Format,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check every integration end to end and print the fixes (`--demo`: the embedded demo).
    Doctor(commands::DoctorCmd),
    /// Manage integrations.
    #[command(subcommand, visible_alias = "i")]
    Integrations(integrations::IntegrationsCmd),
    /// An integration's health: latest check, history, 24 h / 7 d / 30 d summaries.
    Health(evidence::HealthCmd),
    /// An integration's audit trail, or `audit verify` for the tenant's chain.
    Audit(evidence::AuditCmd),
    /// Write the tenant's integrations as a manifest (pathops.catalog/v1).
    Export(provisioning::ExportCmd),
    /// Plan or apply a manifest.
    Import(provisioning::ImportCmd),
    /// Connector plugins.
    #[command(subcommand)]
    Plugins(commands::PluginsCmd),
    /// Create the catalog or migrate it to this release's schema.
    Migrate,
    /// Serve the catalog (REST API, receiver, monitor, relay): runs the `serve` example
    /// beside this binary with the selected catalog; `pathops serve --help` prints its flags.
    #[command(disable_help_flag = true)]
    Serve {
        /// Arguments for `serve` (--tokens, --listen, …).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Completions { shell } => {
            // Into a buffer first: clap_complete panics on a write error (a closed pipe).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "pathops", &mut script);
            output::print(&String::from_utf8_lossy(&script)).map(|()| OK)
        }
        Command::Doctor(cmd) => commands::doctor(&cli.global, cmd).await,
        Command::Migrate => commands::migrate(&cli.global).await,
        Command::Serve { args } => commands::serve(&cli.global, &args),
        Command::Integrations(cmd) => integrations::run(&cli.global, cmd).await,
        Command::Health(cmd) => evidence::health(&cli.global, cmd).await,
        Command::Audit(cmd) => evidence::audit(&cli.global, cmd).await,
        Command::Export(cmd) => provisioning::export(&cli.global, cmd).await,
        Command::Import(cmd) => provisioning::import(&cli.global, cmd).await,
        Command::Plugins(cmd) => commands::plugins(&cli.global, cmd).await,
    };
    match code {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("pathops: {e}");
            ExitCode::from(e.code())
        }
    }
}

/// Why a command failed: a message (never a secret) and the exit status.
#[derive(Debug)]
pub(crate) struct Failure {
    message: String,
    code: u8,
}

impl Failure {
    /// A failure that exits 3.
    pub(crate) fn cannot_run(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: CANNOT_RUN,
        }
    }

    /// A usage problem clap cannot see (exits 2).
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: 2,
        }
    }

    fn code(&self) -> u8 {
        self.code
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, line) in self.message.lines().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            f.write_str(&pathops_core::doctor::terminal_safe(line))?;
        }
        Ok(())
    }
}

impl From<pathops_core::Error> for Failure {
    fn from(e: pathops_core::Error) -> Self {
        Self::cannot_run(pathops_core::error::chain(&e))
    }
}

/// The result of a command: its exit status.
pub(crate) type Outcome = Result<u8, Failure>;
