//! `pathops export` and `pathops import --plan | --apply`: manifests for environment
//! promotion, planned and applied through the catalog.

use std::path::PathBuf;

use clap::Args;
use pathops_core::catalog::{ApplyOptions, ApplyProgress};
use pathops_core::provision::{Manifest, Plan};
use pathops_core::{Environment, IntegrationType, ListFilter};

use crate::output::{self, Format};
use crate::settings::Settings;
use crate::{FINDINGS, Failure, Global, OK, Outcome};

/// `FROM=TO`.
fn pair(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((from, to)) if !from.is_empty() => Ok((from.to_owned(), to.to_owned())),
        _ => Err("needs FROM=TO".to_owned()),
    }
}

/// What promotion changes in a manifest.
#[derive(Debug, Args)]
pub(crate) struct Rewrites {
    /// Rewrite references starting with FROM to start with TO (repeatable), e.g.
    /// ref://staging/=ref://prod/.
    #[arg(long = "map-ref", value_name = "FROM=TO", value_parser = pair)]
    map_ref: Vec<(String, String)>,
    /// Set a field on every entry (environment or owner; repeatable), e.g.
    /// environment=production.
    #[arg(long = "set", value_name = "FIELD=VALUE", value_parser = pair)]
    set: Vec<(String, String)>,
}

impl Rewrites {
    fn apply(&self, manifest: &mut Manifest) -> Result<(), Failure> {
        for (from, to) in &self.map_ref {
            manifest
                .map_refs(from, to)
                .map_err(|e| Failure::cannot_run(format!("--map-ref: {e}")))?;
        }
        for (field, value) in &self.set {
            manifest
                .set(field, value)
                .map_err(|e| Failure::cannot_run(format!("--set: {e}")))?;
        }
        Ok(())
    }
}

#[derive(Debug, Args)]
pub(crate) struct ExportCmd {
    /// Only this environment.
    #[arg(long)]
    environment: Option<Environment>,
    /// Only this type.
    #[arg(long = "type", value_name = "TYPE")]
    integration_type: Option<IntegrationType>,
    /// Write to this file instead of standard output.
    #[arg(long = "to", value_name = "FILE")]
    to: Option<PathBuf>,
    #[command(flatten)]
    rewrites: Rewrites,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["plan", "apply"])))]
pub(crate) struct ImportCmd {
    /// The manifest (YAML or JSON; - for standard input).
    #[arg(required_unless_present = "from_plan")]
    manifest: Option<PathBuf>,
    /// Print the plan; change nothing.
    #[arg(long)]
    plan: bool,
    /// Plan and apply (or apply the plan saved by --save-plan, with --from-plan).
    #[arg(long)]
    apply: bool,
    /// Delete integrations the manifest does not name.
    #[arg(long)]
    prune: bool,
    /// With --plan: also write the plan (JSON) to FILE, for a later --apply --from-plan.
    #[arg(long, value_name = "FILE", requires = "plan")]
    save_plan: Option<PathBuf>,
    /// With --apply: apply this saved plan; refused when an integration changed since.
    #[arg(long, value_name = "FILE", requires = "apply", conflicts_with_all = ["manifest", "prune"])]
    from_plan: Option<PathBuf>,
    /// With --plan: exit 1 when the plan has changes.
    #[arg(long)]
    detailed_exitcode: bool,
    /// The change ticket recorded in every audit entry.
    #[arg(long)]
    ticket: Option<String>,
    /// Why, recorded in every audit entry.
    #[arg(long)]
    reason: Option<String>,
    #[command(flatten)]
    rewrites: Rewrites,
}

pub(crate) async fn export(global: &Global, cmd: ExportCmd) -> Outcome {
    let settings = Settings::resolve(global)?;
    let principal = settings.principal()?;
    let catalog = settings.catalog().await?;
    let filter = ListFilter {
        environment: cmd.environment,
        integration_type: cmd.integration_type,
        ..ListFilter::default()
    };
    let mut manifest = catalog.export(&principal, &filter).await?;
    cmd.rewrites.apply(&mut manifest)?;
    let text = match global.output {
        Format::Json => format!("{}\n", manifest.to_json()),
        Format::Table | Format::Yaml => manifest.to_yaml(),
    };
    match cmd.to {
        Some(path) => std::fs::write(&path, text)
            .map_err(|e| Failure::cannot_run(format!("cannot write {}: {e}", path.display())))?,
        None => output::print(&text)?,
    }
    Ok(OK)
}

fn read(path: &std::path::Path) -> Result<String, Failure> {
    if path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
            .map_err(|e| Failure::cannot_run(format!("cannot read standard input: {e}")))
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| Failure::cannot_run(format!("cannot read {}: {e}", path.display())))
    }
}

pub(crate) async fn import(global: &Global, cmd: ImportCmd) -> Outcome {
    let settings = Settings::resolve(global)?;
    let principal = settings.principal()?;
    let catalog = settings.catalog().await?;
    let plan = match (&cmd.from_plan, &cmd.manifest) {
        (Some(path), _) => serde_json::from_str::<Plan>(&read(path)?).map_err(|e| {
            Failure::cannot_run(format!(
                "{}: not a saved plan (line {}, column {})",
                path.display(),
                e.line(),
                e.column()
            ))
        })?,
        (None, Some(path)) => {
            let mut manifest = Manifest::parse(&read(path)?)
                .map_err(|e| Failure::cannot_run(format!("{}: {e}", path.display())))?;
            cmd.rewrites.apply(&mut manifest)?;
            catalog
                .plan(&principal, &manifest, cmd.prune)
                .await?
                .map_err(|e| Failure::cannot_run(format!("{}: {e}", path.display())))?
        }
        (None, None) => return Err(Failure::usage("import needs a manifest or --from-plan")),
    };
    if cmd.plan {
        match global.output {
            Format::Table => output::print(&coloured(&output::safe_lines(&plan.render())))?,
            f => output::data(f, &plan)?,
        }
        if let Some(path) = &cmd.save_plan {
            let json = serde_json::to_string_pretty(&plan)
                .map_err(|e| Failure::cannot_run(format!("the plan does not serialize: {e}")))?;
            std::fs::write(path, json).map_err(|e| {
                Failure::cannot_run(format!("cannot write {}: {e}", path.display()))
            })?;
        }
        return Ok(if cmd.detailed_exitcode && !plan.is_empty() {
            FINDINGS
        } else {
            OK
        });
    }
    let mut options = ApplyOptions::new();
    if let Some(t) = &cmd.ticket {
        options = options.with_ticket(t);
    }
    if let Some(r) = &cmd.reason {
        options = options.with_reason(r);
    }
    if global.output == Format::Table {
        output::print(&coloured(&output::safe_lines(&plan.render())))?;
    }
    let bar = crate::progress::bar("import");
    let on_progress = {
        let bar = bar.clone();
        move |p: ApplyProgress| {
            bar.set_length(p.total as u64);
            bar.set_position(p.done as u64);
        }
    };
    let result = catalog
        .apply_with_progress(&principal, &plan, &options, &on_progress)
        .await;
    bar.finish_and_clear();
    match result {
        Ok(report) => {
            match global.output {
                Format::Table => output::print(&format!(
                    "applied {} change{} ({} unchanged)\n",
                    report.applied.len(),
                    if report.applied.len() == 1 { "" } else { "s" },
                    report.unchanged
                ))?,
                f => output::data(f, &report)?,
            }
            Ok(OK)
        }
        Err(e) if e.is_stale() => Err(Failure::cannot_run(format!(
            "{}: {}\nthe plan is stale: plan again",
            e,
            pathops_core::error::chain(&e.source)
        ))),
        Err(e) => Err(Failure::cannot_run(format!(
            "{}: {}",
            e,
            pathops_core::error::chain(&e.source)
        ))),
    }
}

/// A rendered plan with creates green, updates, pauses and resumes yellow, deletes red.
fn coloured(plan: &str) -> String {
    use owo_colors::OwoColorize as _;
    plan.split_inclusive('\n')
        .map(|line| {
            let (body, newline) = line
                .strip_suffix('\n')
                .map_or((line, ""), |body| (body, "\n"));
            let body = match body.chars().next() {
                Some('+') => body.green().to_string(),
                Some('~') => body.yellow().to_string(),
                Some('-') => body.red().to_string(),
                _ => body.to_owned(),
            };
            format!("{body}{newline}")
        })
        .collect()
}
