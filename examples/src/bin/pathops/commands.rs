//! `pathops doctor`, `pathops plugins list|discover`, `pathops migrate` and `pathops serve`.

use std::sync::Arc;

use clap::{Args, Subcommand};
use pathops_connectors::plugin::{PluginLoader, PluginOptions};

use crate::args::{Options, RunArgs};
use crate::output::{self, Format};
use crate::settings::Settings;
use crate::{Failure, Global, OK, Outcome};

#[derive(Debug, Args)]
pub(crate) struct DoctorCmd {
    /// Run the embedded demo (fake tools on 127.0.0.1) instead of checking the catalog.
    #[arg(long)]
    demo: bool,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PluginsCmd {
    /// The plugins recorded by the last discovery.
    List,
    /// Record the compiled-in connectors and the out-of-process plugins found in the
    /// plugins directories (manifests and checksums read, nothing run), and list them.
    Discover {
        /// A plugins directory: a subdirectory per plugin, each with its pathops-plugin.json
        /// (repeatable; default `plugins`).
        #[arg(long = "dir", value_name = "DIR")]
        dirs: Vec<std::path::PathBuf>,
    },
}

/// The doctor over the selected catalog's tenant, or the demo.
pub(crate) async fn doctor(global: &Global, cmd: DoctorCmd) -> Outcome {
    let settings = Settings::resolve(global)?;
    let options = if cmd.demo {
        Options {
            json: cmd.run.json || global.output == Format::Json,
            yaml: global.output == Format::Yaml,
            tenant: settings.tenant_opt(),
            listen: cmd.run.listen,
            public_url: cmd.run.public_url,
            ..Options::default()
        }
    } else {
        Options {
            json: cmd.run.json || global.output == Format::Json,
            yaml: global.output == Format::Yaml,
            catalog: Some(settings.catalog.clone()),
            init: false,
            tenant: Some(settings.tenant()?),
            listen: cmd.run.listen,
            public_url: cmd.run.public_url,
            secrets_dir: settings.secrets_dir.clone(),
        }
    };
    let code = crate::cli::main(options).await;
    // The doctor printed its own report and error; its status is the command's.
    Ok(exit_code(code))
}

/// The number behind an `ExitCode` the doctor returned (0, 1, 3 or 4).
fn exit_code(code: std::process::ExitCode) -> u8 {
    for n in [0u8, 1, 3, 4] {
        if code == std::process::ExitCode::from(n) {
            return n;
        }
    }
    crate::CANNOT_RUN
}

pub(crate) async fn plugins(global: &Global, cmd: PluginsCmd) -> Outcome {
    let settings = Settings::resolve(global)?;
    let principal = settings.principal()?;
    let plugins = match cmd {
        PluginsCmd::List => settings.catalog().await?.plugins(&principal).await?,
        PluginsCmd::Discover { dirs } => {
            let mut options = PluginOptions::default();
            if !dirs.is_empty() {
                options = options.with_dirs(dirs);
            }
            let loader = Arc::new(PluginLoader::new(options));
            let catalog = settings.catalog_with(Some(loader.clone())).await?;
            let plugins = catalog.discover_plugins(&principal).await?;
            loader.shutdown().await;
            plugins
        }
    };
    if global.output != Format::Table {
        output::data(global.output, &plugins)?;
        return Ok(OK);
    }
    let mut table = output::table(&["ID", "PROVIDER", "TYPE", "VERSION", "STATE", "DISCOVERED"]);
    for p in &plugins {
        let d = &p.descriptor;
        let state = match p.state.reason() {
            Some(reason) => format!("{}: {}", p.state.as_str(), output::safe(reason)),
            None => p.state.as_str().to_owned(),
        };
        table.add_row(vec![
            output::safe(&d.id),
            output::safe(d.provider.as_str()),
            d.integration_type.to_string(),
            output::safe(&d.version),
            state,
            p.discovered_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        ]);
    }
    output::print_table(&table)?;
    Ok(OK)
}

/// Creates the catalog (a missing SQLite file too) or migrates it.
pub(crate) async fn migrate(global: &Global) -> Outcome {
    let settings = Settings::resolve(global)?;
    crate::store::open(&settings.catalog, true)
        .await
        .map_err(Failure::cannot_run)?;
    match global.output {
        Format::Table => output::print(&format!(
            "catalog {} is at this release's schema\n",
            redact_url(&settings.catalog)
        ))?,
        f => output::data(f, &serde_json::json!({ "migrated": true }))?,
    }
    Ok(OK)
}

/// A store URL without its password.
fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Runs the `serve` example next to this binary with the selected catalog (unless `args`
/// name one) and its exit status.
pub(crate) fn serve(global: &Global, args: &[std::ffi::OsString]) -> Outcome {
    let settings = Settings::resolve(global)?;
    let exe = std::env::current_exe()
        .map_err(|e| Failure::cannot_run(format!("cannot find this binary: {e}")))?;
    let serve = exe.with_file_name(format!("serve{}", std::env::consts::EXE_SUFFIX));
    if !serve.is_file() {
        return Err(Failure::cannot_run(format!(
            "{} not found: build it with `cargo build -p pathops-examples --bin serve`",
            serve.display()
        )));
    }
    let mut command = std::process::Command::new(&serve);
    let names = |flag: &str| args.iter().any(|a| a.to_string_lossy().starts_with(flag));
    if !names("--catalog") {
        command.args(["--catalog", &settings.catalog]);
    }
    if let Some(dir) = &settings.secrets_dir
        && !names("--secrets-dir")
    {
        command.arg("--secrets-dir").arg(dir);
    }
    let status = command
        .args(args)
        .status()
        .map_err(|e| Failure::cannot_run(format!("cannot run {}: {e}", serve.display())))?;
    Ok(status
        .code()
        .and_then(|c| u8::try_from(c).ok())
        .unwrap_or(crate::CANNOT_RUN))
}
