//! `pathops health <name>` and `pathops audit <name> | verify`.

use clap::{Args, Subcommand};
use pathops_core::catalog::VerifyOptions;
use pathops_core::{HealthSummary, TimeRange};
use serde_json::json;

use crate::integrations::find;
use crate::output::{self, Format, safe};
use crate::settings::Settings;
use crate::{FINDINGS, Global, OK, Outcome};

#[derive(Debug, Args)]
pub(crate) struct HealthCmd {
    /// The integration's name or id.
    name: String,
    /// How many recent checks to list.
    #[arg(long, default_value_t = 20)]
    limit: u32,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct AuditCmd {
    #[command(subcommand)]
    verify: Option<AuditSub>,
    /// The integration's name or id.
    name: Option<String>,
}

#[derive(Debug, Subcommand)]
enum AuditSub {
    /// Verify the tenant's audit chain (exit 1 when it is broken).
    Verify,
}

pub(crate) async fn health(global: &Global, cmd: HealthCmd) -> Outcome {
    let settings = Settings::resolve(global)?;
    let principal = settings.principal()?;
    let catalog = settings.catalog().await?;
    let i = find(&catalog, &principal, &cmd.name).await?;
    let report = catalog
        .health(&principal, i.id, TimeRange::all(), cmd.limit)
        .await?;
    if global.output != Format::Table {
        output::data(
            global.output,
            &json!({
                "integration": i.name,
                "status": i.status,
                "flapping": report.flapping,
                "latest": report.latest,
                "history": report.history,
                "last_24h": report.last_24h,
                "last_7d": report.last_7d,
                "last_30d": report.last_30d,
            }),
        )?;
        return Ok(OK);
    }
    let mut text = format!(
        "{} ({}, {}{})\n",
        safe(i.name.as_str()),
        i.provider,
        output::status(i.status),
        if report.flapping { ", flapping" } else { "" }
    );
    match &report.latest {
        Some(latest) => text.push_str(&format!(
            "latest: {} at {} — {}\n",
            output::passed(latest.status == pathops_core::HealthStatus::Healthy),
            latest
                .checked_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            safe(&latest.message)
        )),
        None => text.push_str("latest: never checked\n"),
    }
    output::print(&text)?;
    let mut windows = output::table(&["WINDOW", "CHECKS", "UPTIME", "P50 MS", "P95 MS"]);
    for (name, s) in [
        ("24 h", &report.last_24h),
        ("7 d", &report.last_7d),
        ("30 d", &report.last_30d),
    ] {
        windows.add_row(window_row(name, s));
    }
    output::print_table(&windows)?;
    // Oldest to newest, left to right.
    let latencies: Vec<u64> = report
        .history
        .iter()
        .rev()
        .filter_map(|r| r.latency_ms)
        .collect();
    if !latencies.is_empty() {
        output::print(&format!(
            "latency (last {}): {}\n",
            latencies.len(),
            output::sparkline(&latencies)
        ))?;
    }
    let mut history = output::table(&["CHECKED AT", "KIND", "STATUS", "LATENCY", "MESSAGE"]);
    for r in &report.history {
        history.add_row(vec![
            r.checked_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            serde_json::to_value(r.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            output::passed(r.status == pathops_core::HealthStatus::Healthy),
            r.latency_ms
                .map(|ms| format!("{ms} ms"))
                .unwrap_or_default(),
            safe(&r.message),
        ]);
    }
    if !report.history.is_empty() {
        output::print_table(&history)?;
    }
    Ok(OK)
}

fn window_row(name: &str, s: &HealthSummary) -> Vec<String> {
    let ms = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
    vec![
        name.to_owned(),
        s.checks.to_string(),
        s.uptime_percent
            .map_or_else(|| "-".to_owned(), |u| format!("{u:.1} %")),
        ms(s.p50_latency_ms),
        ms(s.p95_latency_ms),
    ]
}

pub(crate) async fn audit(global: &Global, cmd: AuditCmd) -> Outcome {
    let settings = Settings::resolve(global)?;
    let principal = settings.principal()?;
    let catalog = settings.catalog().await?;
    if cmd.verify.is_some() {
        let verdict = catalog
            .verify_audit_chain(&principal, &VerifyOptions::default())
            .await?;
        return match verdict {
            Ok(verified) => {
                match global.output {
                    Format::Table => output::print(&format!(
                        "audit chain of {} verified: {} entries\n",
                        principal.tenant, verified.verified
                    ))?,
                    f => {
                        output::data(f, &json!({ "verified": verified.verified, "broken": null }))?
                    }
                }
                Ok(OK)
            }
            Err(broken) => {
                match global.output {
                    Format::Table => output::print(&format!("{broken}\n"))?,
                    f => output::data(
                        f,
                        &json!({ "verified": null, "broken": { "sequence": broken.sequence, "kind": broken.kind.to_string() } }),
                    )?,
                }
                Ok(FINDINGS)
            }
        };
    }
    let Some(name) = cmd.name else {
        return Err(crate::Failure::usage(
            "audit needs an integration name, or `audit verify`",
        ));
    };
    let i = find(&catalog, &principal, &name).await?;
    let entries = catalog.audit(&principal, i.id).await?;
    if global.output != Format::Table {
        output::data(global.output, &entries)?;
        return Ok(OK);
    }
    let mut table = output::table(&["SEQ", "AT", "ACTOR", "ACTION", "TICKET", "CHANGES"]);
    for e in &entries {
        let r = &e.record;
        table.add_row(vec![
            e.sequence.to_string(),
            r.at.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            r.actor.to_string(),
            serde_json::to_value(r.action)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            r.ticket.as_deref().map(safe).unwrap_or_default(),
            r.changes
                .iter()
                .map(|c| c.field.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        ]);
    }
    output::print_table(&table)?;
    Ok(OK)
}
