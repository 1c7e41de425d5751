//! `pathops integrations …`: list, get, add, update, delete, test, pause, resume, activate.

use clap::{Args, Subcommand};
use pathops_core::catalog::{Catalog, Principal, TestReport};
use pathops_core::provision::{IntegrationSpec, Manifest};
use pathops_core::{
    ActorId, BaseUrl, Configuration, Description, Environment, Integration, IntegrationId,
    IntegrationPatch, IntegrationStatus, IntegrationType, ListFilter, Provider, Tags,
};
use serde_json::json;

use crate::output::{self, Format, safe};
use crate::settings::Settings;
use crate::{FINDINGS, Failure, Global, OK, Outcome};

#[derive(Debug, Subcommand)]
pub(crate) enum IntegrationsCmd {
    /// List the tenant's integrations (name order).
    List(ListArgs),
    /// Show one integration.
    Get(Target),
    /// Register an integration (submitted for verification unless --draft).
    Add(AddArgs),
    /// Change an integration's fields.
    Update(UpdateArgs),
    /// Delete an integration (soft, audited).
    Delete(Target),
    /// Test an integration's connection now (recorded as evidence).
    Test(Target),
    /// Pause an integration: it is not contacted until resumed.
    Pause(PauseArgs),
    /// Resume a paused integration (checked at once).
    Resume(Target),
    /// Activate a verified integration (you are recorded as the approver).
    Activate(Target),
}

/// An integration by name or id.
#[derive(Debug, Args)]
pub(crate) struct Target {
    /// The integration's name or id.
    pub(crate) name: String,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only this type (scm, registry, ci, …).
    #[arg(long = "type", value_name = "TYPE")]
    integration_type: Option<IntegrationType>,
    /// Only this provider.
    #[arg(long)]
    provider: Option<Provider>,
    /// Only this environment.
    #[arg(long)]
    environment: Option<Environment>,
    /// Only integrations with this tag.
    #[arg(long)]
    tag: Option<String>,
    /// Only this status.
    #[arg(long)]
    status: Option<IntegrationStatus>,
}

#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// Its name (unique in the tenant).
    name: String,
    /// Which product (gitlab, github, harbor, …).
    #[arg(long)]
    provider: Provider,
    /// Where it is reached.
    #[arg(long)]
    base_url: String,
    /// The reference of its credential (ref://… or authref://…), never the credential.
    #[arg(long)]
    auth_ref: Option<String>,
    /// Provider settings as a JSON object; references go in `*_ref` keys.
    #[arg(long, value_name = "JSON")]
    configuration: Option<String>,
    /// The environment.
    #[arg(long)]
    environment: Option<String>,
    /// A tag (repeat for more).
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// The accountable owner.
    #[arg(long)]
    owner: Option<String>,
    /// Free text.
    #[arg(long)]
    description: Option<String>,
    /// Keep it a draft instead of submitting it for verification.
    #[arg(long)]
    draft: bool,
}

#[derive(Debug, Args)]
pub(crate) struct UpdateArgs {
    /// The integration's name or id.
    name: String,
    /// The version you read (default: the current one).
    #[arg(long)]
    expected_version: Option<u64>,
    /// A new name.
    #[arg(long)]
    rename: Option<String>,
    /// A new base URL.
    #[arg(long)]
    base_url: Option<String>,
    /// A new credential reference (empty: none).
    #[arg(long)]
    auth_ref: Option<String>,
    /// New provider settings (a JSON object, replacing the old).
    #[arg(long, value_name = "JSON")]
    configuration: Option<String>,
    /// A new environment (empty: none).
    #[arg(long)]
    environment: Option<String>,
    /// New tags (repeat; replaces the old).
    #[arg(long = "tag")]
    tags: Option<Vec<String>>,
    /// A new owner (empty: none).
    #[arg(long)]
    owner: Option<String>,
    /// A new description (empty: none).
    #[arg(long)]
    description: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct PauseArgs {
    /// The integration's name or id.
    name: String,
    /// Why (recorded).
    #[arg(long)]
    reason: String,
    /// The change ticket (recorded).
    #[arg(long)]
    ticket: Option<String>,
}

pub(crate) async fn run(global: &Global, cmd: IntegrationsCmd) -> Outcome {
    let settings = Settings::resolve(global)?;
    let principal = settings.principal()?;
    let catalog = settings.catalog().await?;
    let format = global.output;
    let c = &catalog;
    let p = &principal;
    match cmd {
        IntegrationsCmd::List(args) => {
            let filter = ListFilter {
                integration_type: args.integration_type,
                provider: args.provider,
                status: args.status,
                environment: args.environment,
                tag: args.tag,
                ..ListFilter::default()
            };
            let all = c.list_matching(p, &filter).await?;
            list(format, &all)?;
        }
        IntegrationsCmd::Get(t) => {
            let i = find(c, p, &t.name).await?;
            show(format, &i)?;
        }
        IntegrationsCmd::Add(args) => {
            let input = add_input(args)?;
            let (spec, draft) = input;
            let new = spec
                .to_new_integration()
                .map_err(|e| Failure::cannot_run(e.to_string()))?;
            let i = c.create(p, new, !draft).await?;
            done(format, &i, "created")?;
        }
        IntegrationsCmd::Update(args) => {
            let i = find(c, p, &args.name).await?;
            let version = args.expected_version.unwrap_or(i.version);
            let patch = patch(&args)?;
            let i = c.update(p, i.id, version, &patch).await?;
            done(format, &i, "updated")?;
        }
        IntegrationsCmd::Delete(t) => {
            let i = find(c, p, &t.name).await?;
            c.delete(p, i.id, i.version).await?;
            match format {
                Format::Table => output::print(&format!("deleted {}\n", safe(i.name.as_str())))?,
                _ => output::data(format, &json!({ "deleted": i.id, "name": i.name }))?,
            }
        }
        IntegrationsCmd::Test(t) => {
            let i = find(c, p, &t.name).await?;
            let report = c.test_connection(p, i.id).await?;
            return tested(format, &report);
        }
        IntegrationsCmd::Pause(args) => {
            let i = find(c, p, &args.name).await?;
            let i = c
                .pause(p, i.id, &args.reason, args.ticket.as_deref())
                .await?;
            done(format, &i, "paused")?;
        }
        IntegrationsCmd::Resume(t) => {
            let i = find(c, p, &t.name).await?;
            let report = c.resume(p, i.id).await?;
            return tested(format, &report);
        }
        IntegrationsCmd::Activate(t) => {
            let i = find(c, p, &t.name).await?;
            let i = c.activate(p, i.id).await?;
            done(format, &i, "activated")?;
        }
    }
    Ok(OK)
}

/// The integration named `name` (or with id `name`).
pub(crate) async fn find(c: &Catalog, p: &Principal, name: &str) -> Result<Integration, Failure> {
    if let Ok(id) = name.parse::<IntegrationId>()
        && let Ok(i) = c.get(p, id).await
    {
        return Ok(i);
    }
    let filter = ListFilter {
        name_prefix: Some(name.to_owned()),
        ..ListFilter::default()
    };
    c.list_matching(p, &filter)
        .await?
        .into_iter()
        .find(|i| i.name.as_str() == name)
        .ok_or_else(|| {
            Failure::cannot_run(format!(
                "no integration named `{name}` in tenant {}",
                p.tenant
            ))
        })
}

fn list(format: Format, all: &[Integration]) -> Result<(), Failure> {
    if format != Format::Table {
        return output::data(format, &all);
    }
    let mut table = output::table(&[
        "NAME",
        "PROVIDER",
        "TYPE",
        "STATUS",
        "ENVIRONMENT",
        "BASE URL",
        "VERSION",
    ]);
    for i in all {
        table.add_row(vec![
            safe(i.name.as_str()),
            i.provider.to_string(),
            i.integration_type.to_string(),
            output::status(i.status),
            i.environment
                .as_ref()
                .map_or_else(|| "-".to_owned(), ToString::to_string),
            safe(i.base_url.as_str()),
            i.version.to_string(),
        ]);
    }
    output::print_table(&table)?;
    output::print(&format!("{}\n", crate::progress::integrations(all.len())))
}

fn show(format: Format, i: &Integration) -> Result<(), Failure> {
    if format != Format::Table {
        return output::data(format, i);
    }
    let mut table = output::table(&["FIELD", "VALUE"]);
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".to_owned());
    let rows: Vec<(&str, String)> = vec![
        ("name", safe(i.name.as_str())),
        ("id", i.id.to_string()),
        ("provider", i.provider.to_string()),
        ("type", i.integration_type.to_string()),
        ("status", output::status(i.status)),
        ("verified", i.verified.to_string()),
        ("base_url", safe(i.base_url.as_str())),
        (
            "auth_ref",
            opt(i.auth_ref.as_ref().map(|r| safe(r.as_str()))),
        ),
        (
            "configuration",
            safe(&i.configuration.to_value().to_string()),
        ),
        (
            "environment",
            opt(i.environment.as_ref().map(ToString::to_string)),
        ),
        ("tags", i.tags.as_slice().join(", ")),
        ("owner", opt(i.owner_id.as_ref().map(ToString::to_string))),
        (
            "description",
            opt(i.description.as_ref().map(|d| safe(d.as_str()))),
        ),
        ("pause_reason", opt(i.pause_reason.as_deref().map(safe))),
        (
            "last_test_success",
            opt(i.last_test_success.map(output::passed)),
        ),
        ("consecutive_failures", i.consecutive_failures.to_string()),
        ("version", i.version.to_string()),
    ];
    for (field, value) in rows {
        table.add_row(vec![field.to_owned(), value]);
    }
    output::print_table(&table)
}

fn done(format: Format, i: &Integration, what: &str) -> Result<(), Failure> {
    match format {
        Format::Table => output::print(&format!(
            "{what} {} ({}, {}, version {})\n",
            safe(i.name.as_str()),
            i.provider,
            output::status(i.status),
            i.version
        )),
        _ => output::data(format, i),
    }
}

/// Prints a test's result; exit 1 when it failed.
fn tested(format: Format, report: &TestReport) -> Outcome {
    let ok = report.result.is_success();
    match format {
        Format::Table => output::print(&format!(
            "{} {}: {}{} — {}\n",
            safe(report.integration.name.as_str()),
            output::passed(ok),
            safe(&report.result.message),
            report
                .record
                .latency_ms
                .map(|ms| format!(" ({ms} ms)"))
                .unwrap_or_default(),
            output::status(report.integration.status),
        ))?,
        _ => output::data(
            format,
            &json!({
                "integration": report.integration,
                "record": report.record,
                "passed": ok,
            }),
        )?,
    }
    Ok(if ok { OK } else { FINDINGS })
}

/// The spec of `add`, checked by the manifest's rules (references only).
fn add_input(args: AddArgs) -> Result<(IntegrationSpec, bool), Failure> {
    let configuration = match args.configuration.as_deref() {
        Some(text) => match serde_json::from_str(text) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => return Err(Failure::usage("--configuration needs a JSON object")),
        },
        None => serde_json::Map::new(),
    };
    let spec = IntegrationSpec {
        name: args.name,
        integration_type: None,
        provider: args.provider,
        base_url: args.base_url,
        auth_ref: args.auth_ref,
        configuration,
        environment: args.environment,
        tags: args.tags,
        owner: args.owner,
        description: args.description,
        paused: false,
        pause_reason: None,
    };
    let mut manifest = Manifest::new();
    manifest.integrations.push(spec);
    manifest.validate().map_err(|e| {
        let field = e.path.strip_prefix("integrations[0].").unwrap_or(&e.path);
        Failure::cannot_run(format!("{field}: {}", e.problem))
    })?;
    let spec = manifest.integrations.remove(0);
    Ok((spec, args.draft))
}

fn patch(args: &UpdateArgs) -> Result<IntegrationPatch, Failure> {
    let bad = |e: pathops_core::ValidationError| Failure::cannot_run(e.to_string());
    let clearable = |v: &Option<String>| v.as_ref().map(|s| (!s.is_empty()).then_some(s.clone()));
    let mut patch = IntegrationPatch::default();
    if let Some(name) = &args.rename {
        patch.name = Some(pathops_core::IntegrationName::new(name.clone()).map_err(bad)?);
    }
    if let Some(url) = &args.base_url {
        patch.base_url = Some(BaseUrl::parse(url).map_err(bad)?);
    }
    if let Some(r) = clearable(&args.auth_ref) {
        patch.auth_ref = Some(
            r.map(|r| {
                r.parse().map_err(|_| {
                    Failure::cannot_run(
                        "auth_ref: not a reference (ref://scope/provider/key or authref://backend/path)",
                    )
                })
            })
            .transpose()?,
        );
    }
    if let Some(text) = &args.configuration {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|_| Failure::usage("--configuration needs a JSON object"))?;
        let map = value
            .as_object()
            .ok_or_else(|| Failure::usage("--configuration needs a JSON object"))?;
        pathops_core::provision::check_configuration(map)
            .map_err(|e| Failure::cannot_run(e.to_string()))?;
        patch.configuration = Some(Configuration::new(value).map_err(bad)?);
    }
    if let Some(env) = clearable(&args.environment) {
        patch.environment = Some(env.map(|e| e.parse()).transpose().map_err(bad)?);
    }
    if let Some(tags) = &args.tags {
        patch.tags = Some(Tags::new(tags.clone()).map_err(bad)?);
    }
    if let Some(owner) = clearable(&args.owner) {
        patch.owner_id = Some(
            owner
                .map(ActorId::new)
                .transpose()
                .map_err(|e| Failure::cannot_run(format!("owner: {e}")))?,
        );
    }
    if let Some(d) = clearable(&args.description) {
        patch.description = Some(d.map(Description::new).transpose().map_err(bad)?);
    }
    Ok(patch)
}
