//! The human output: a table of every integration, then the fixes.

use std::fmt::Write as _;

use pathops_core::Probe;
use pathops_core::doctor::{DoctorReport, IntegrationReport, Outcome, Severity, terminal_safe};

/// ANSI colours, or none.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Style {
    color: bool,
}

#[derive(Debug, Clone, Copy)]
enum Tone {
    Good,
    Bad,
    Warn,
    Dim,
    Bold,
    Plain,
}

impl Style {
    /// Coloured unless `NO_COLOR` is set (and not empty) or standard output is not a terminal.
    pub(crate) fn detect() -> Self {
        use std::io::IsTerminal as _;
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self {
            color: !no_color && std::io::stdout().is_terminal(),
        }
    }

    /// No colours.
    #[cfg(test)]
    pub(crate) fn plain() -> Self {
        Self { color: false }
    }

    fn paint(self, tone: Tone, text: &str) -> String {
        let code = match tone {
            Tone::Good => "32",
            Tone::Bad => "31",
            Tone::Warn => "33",
            Tone::Dim => "2",
            Tone::Bold => "1",
            Tone::Plain => return text.to_owned(),
        };
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

/// Report text (partly written by the tools) with terminal controls shown escaped.
fn safe(text: &str) -> String {
    terminal_safe(text).into_owned()
}

/// One cell: its text and its tone.
type Cell = (String, Tone);

fn probe(p: Probe) -> Cell {
    match p {
        Probe::Passed => ("ok".to_owned(), Tone::Good),
        Probe::Failed => ("failed".to_owned(), Tone::Bad),
        Probe::NotChecked => ("-".to_owned(), Tone::Dim),
    }
}

/// The webhook test or direct ping, in a few words.
fn delivery(r: &IntegrationReport) -> Cell {
    if let Some(w) = &r.webhook {
        return match w.outcome {
            Outcome::Passed => ("delivered".to_owned(), Tone::Good),
            Outcome::Skipped => ("-".to_owned(), Tone::Dim),
            Outcome::Failed => (
                w.failure_code
                    .as_deref()
                    .unwrap_or("failed")
                    .replace('_', " "),
                Tone::Bad,
            ),
        };
    }
    if let Some(p) = &r.ping {
        return match (p.pathops_to_tool, p.tool_to_pathops) {
            (Probe::Passed, Probe::Passed) => ("ping both ways".to_owned(), Tone::Good),
            (Probe::Passed, _) => ("ping: no callback".to_owned(), Tone::Bad),
            _ => ("ping refused".to_owned(), Tone::Bad),
        };
    }
    ("-".to_owned(), Tone::Dim)
}

fn status(r: &IntegrationReport) -> Cell {
    match r.outcome {
        Outcome::Passed => ("passed".to_owned(), Tone::Good),
        Outcome::Failed => ("FAILED".to_owned(), Tone::Bad),
        Outcome::Skipped => ("skipped".to_owned(), Tone::Warn),
    }
}

fn row(r: &IntegrationReport) -> Vec<Cell> {
    let skipped = r.outcome == Outcome::Skipped;
    vec![
        (safe(&r.name), Tone::Bold),
        (r.provider.to_string(), Tone::Plain),
        probe(r.reachability),
        probe(r.authentication),
        if skipped {
            ("-".to_owned(), Tone::Dim)
        } else {
            delivery(r)
        },
        r.latency_ms.map_or(("-".to_owned(), Tone::Dim), |ms| {
            (format!("{ms} ms"), Tone::Plain)
        }),
        status(r),
    ]
}

/// The table of every integration.
pub(crate) fn table(report: &DoctorReport, style: Style) -> String {
    const HEADER: [&str; 7] = [
        "INTEGRATION",
        "PROVIDER",
        "REACHABILITY",
        "AUTH",
        "WEBHOOK/PING",
        "LATENCY",
        "STATUS",
    ];
    let mut rows: Vec<Vec<Cell>> = report.integrations.iter().map(row).collect();
    rows.extend(report.unreadable.iter().map(|u| {
        let mut cells = vec![(safe(&unreadable_name(u)), Tone::Bold)];
        cells.extend((0..5).map(|_| ("-".to_owned(), Tone::Dim)));
        cells.push(("UNREADABLE".to_owned(), Tone::Bad));
        cells
    }));
    let mut widths: Vec<usize> = HEADER.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, (text, _)) in widths.iter_mut().zip(row) {
            *w = (*w).max(text.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<Cell>| -> String {
        let last = cells.len() - 1;
        let mut s = String::new();
        for (i, ((text, tone), width)) in cells.into_iter().zip(&widths).enumerate() {
            let padded = if i == last {
                text
            } else {
                format!("{text:<width$}  ")
            };
            s.push_str(&style.paint(tone, &padded));
        }
        s.trim_end().to_owned()
    };
    out.push_str(&line(
        HEADER
            .iter()
            .map(|h| ((*h).to_owned(), Tone::Dim))
            .collect(),
    ));
    out.push('\n');
    for row in rows {
        out.push_str(&line(row));
        out.push('\n');
    }
    out
}

/// The fixes, integration by integration, then one summary line.
pub(crate) fn fixes(report: &DoctorReport, style: Style) -> String {
    let mut out = String::new();
    let mut any = false;
    for (integration, f) in report.findings() {
        if !any {
            let _ = writeln!(out, "\n{}", style.paint(Tone::Bold, "Fixes"));
            any = true;
        }
        let (label, tone) = match f.severity {
            Severity::Error => ("error", Tone::Bad),
            Severity::Warning => ("warning", Tone::Warn),
            Severity::Info => ("info", Tone::Plain),
        };
        let _ = writeln!(
            out,
            "\n{} {} {}",
            style.paint(Tone::Bold, &safe(&integration.name)),
            style.paint(tone, &format!("[{label}: {}]", safe(&f.code))),
            safe(&f.title)
        );
        let _ = writeln!(out, "  {}", style.paint(Tone::Dim, &safe(&f.why)));
        for (i, step) in f.steps.iter().enumerate() {
            let _ = writeln!(out, "  {}. {}", i + 1, safe(step));
        }
        if let Some(call) = &f.api_call {
            let _ = writeln!(out, "  run:  {}", safe(call));
        }
        if let Some(link) = &f.doc_link {
            let _ = writeln!(out, "  docs: {}", style.paint(Tone::Dim, &safe(link)));
        }
    }
    // A failure the doctor has no finding for still says what happened.
    for r in report
        .integrations
        .iter()
        .filter(|r| r.outcome == Outcome::Failed && r.findings.is_empty())
    {
        let code = r.failure_code.as_deref().unwrap_or("failed");
        let _ = writeln!(
            out,
            "\n{} {} {}",
            style.paint(Tone::Bold, &safe(&r.name)),
            style.paint(Tone::Bad, &format!("[error: {}]", safe(code))),
            safe(&r.message)
        );
    }
    for u in &report.unreadable {
        let _ = writeln!(
            out,
            "\n{} {} The stored integration cannot be read, so it was not checked",
            style.paint(Tone::Bold, &safe(&unreadable_name(u))),
            style.paint(Tone::Bad, "[error: unreadable]"),
        );
        let _ = writeln!(out, "  {}", style.paint(Tone::Dim, &safe(&u.reason)));
        let id =
            u.id.map_or_else(|| "(id unreadable)".to_owned(), |id| id.to_string());
        let _ = writeln!(
            out,
            "  1. Repair the row in the catalog database, or delete it and register the \
             integration again (id {id})."
        );
    }
    for r in report
        .integrations
        .iter()
        .filter(|r| r.outcome == Outcome::Skipped)
    {
        let _ = writeln!(
            out,
            "\n{} {}",
            style.paint(Tone::Bold, &safe(&r.name)),
            safe(&r.message)
        );
    }
    let s = &report.summary;
    let total = s.passed + s.failed + s.skipped + s.unreadable;
    let mut summary = format!(
        "{}: {} passed, {} failed, {} skipped",
        crate::progress::integrations(total),
        s.passed,
        s.failed,
        s.skipped
    );
    if s.unreadable > 0 {
        let _ = write!(summary, ", {} unreadable", s.unreadable);
    }
    let tone = if report.checked() == 0 {
        Tone::Warn
    } else if report.all_passed() {
        Tone::Good
    } else {
        Tone::Bad
    };
    let _ = writeln!(out, "\n{}", style.paint(tone, &summary));
    out
}

/// Why a run checked nothing, for standard error.
pub(crate) fn nothing_checked(report: &DoctorReport) -> String {
    if report.integrations.is_empty() {
        format!(
            "doctor: nothing was checked: tenant {} has no integrations (is --tenant right?)",
            report.tenant
        )
    } else {
        format!(
            "doctor: nothing was checked: every integration of tenant {} is paused",
            report.tenant
        )
    }
}

fn unreadable_name(u: &pathops_core::Unreadable) -> String {
    u.name
        .clone()
        .unwrap_or_else(|| "(unreadable name)".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pathops_core::IntegrationId;
    use pathops_core::doctor::{SCHEMA, Summary};

    /// A report as the doctor writes it (its structs are non-exhaustive: read one from JSON
    /// of the documented schema).
    fn report() -> DoctorReport {
        serde_json::from_value(serde_json::json!({
            "schema": SCHEMA,
            "generated_at": "1970-01-01T00:00:00Z",
            "tenant": "acme",
            "summary": {"passed": 0, "failed": 1, "skipped": 0, "unreadable": 0},
            "integrations": [{
                "id": IntegrationId::new().to_string(),
                "name": "gitlab-payments",
                "provider": "gitlab",
                "status": "pending_verification",
                "outcome": "failed",
                "reachability": "passed",
                "authentication": "passed",
                "latency_ms": 12,
                "failure_code": "delivery_rejected",
                "message": "rejected",
                "webhook": {
                    "outcome": "failed",
                    "failure_code": "delivery_rejected",
                    "message": "rejected",
                    "delivery_id": null,
                    "event_id": null
                },
                "ping": null,
                "findings": [{
                    "severity": "error",
                    "code": "webhook_token_mismatch",
                    "title": "The secret did not verify",
                    "why": "it differs",
                    "steps": ["Set the token."],
                    "api_call": "PUT /api/v4/projects/43/hooks/2",
                    "doc_link": null
                }]
            }],
            "unreadable": []
        }))
        .expect("a report of the documented schema")
    }

    #[test]
    fn the_table_aligns_and_the_fixes_list_steps_and_calls() {
        let r = report();
        let table = table(&r, Style::plain());
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("INTEGRATION      PROVIDER  REACHABILITY  AUTH"));
        assert!(lines[1].contains("delivery rejected"), "{table}");
        assert!(lines[1].ends_with("FAILED"), "{table}");
        assert_eq!(lines[0].find("PROVIDER"), lines[1].find("gitlab "));
        let fixes = fixes(&r, Style::plain());
        assert!(fixes.contains("[error: webhook_token_mismatch]"));
        assert!(fixes.contains("  1. Set the token."));
        assert!(fixes.contains("  run:  PUT /api/v4/projects/43/hooks/2"));
        assert!(fixes.ends_with("1 integration: 0 passed, 1 failed, 0 skipped\n"));
        assert!(!fixes.contains('\x1b'));
        let colored = super::table(&r, Style { color: true });
        assert!(colored.contains("\x1b[31mFAILED\x1b[0m"));
    }

    #[test]
    fn terminal_controls_from_a_tool_are_shown_escaped() {
        let mut r = report();
        let hostile = "\x1b]0;owned\x07\x1b[2J\x1b[31mred";
        r.integrations[0].findings[0].why = format!("the tool said: {hostile}");
        r.integrations[0].name = "name\x1b[8m".into();
        let mut without_finding = r.integrations[0].clone();
        without_finding.findings.clear();
        without_finding.message = hostile.into();
        r.integrations.push(without_finding);
        for style in [Style::plain(), Style { color: true }] {
            let out = table(&r, style) + &fixes(&r, style);
            // Our own colours are the only escape sequences left.
            let foreign = out
                .replace("\x1b[0m", "")
                .replace("\x1b[1m", "")
                .replace("\x1b[2m", "")
                .replace("\x1b[31m", "")
                .replace("\x1b[32m", "")
                .replace("\x1b[33m", "");
            assert!(
                !foreign.contains('\x1b') && !foreign.contains('\x07'),
                "{out:?}"
            );
            assert!(out.contains("\\u{1b}]0;owned\\u{7}\\u{1b}[2J"), "{out}");
            assert!(out.contains("name\\u{1b}[8m"), "{out}");
        }
    }

    #[test]
    fn a_failure_without_a_finding_says_what_happened() {
        let mut r = report();
        let i = &mut r.integrations[0];
        i.findings.clear();
        i.failure_code = Some("invalid_config".into());
        i.message = "the harbor connector is not compiled in".into();
        let fixes = fixes(&r, Style::plain());
        assert!(
            fixes.contains(
                "\ngitlab-payments [error: invalid_config] the harbor connector is not compiled in\n"
            ),
            "{fixes}"
        );
    }

    #[test]
    fn unreadable_rows_are_listed_counted_and_explained() {
        let mut r = report();
        let id = IntegrationId::new();
        r.unreadable.push(pathops_core::Unreadable {
            id: Some(id),
            name: Some("broken-one".into()),
            reason: "integration x is stored but cannot be read: stored \
                     integrations.configuration is invalid"
                .into(),
        });
        r.summary.unreadable = 1;
        let table = table(&r, Style::plain());
        let row = table.lines().find(|l| l.starts_with("broken-one")).unwrap();
        assert!(row.ends_with("UNREADABLE"), "{table}");
        let fixes = fixes(&r, Style::plain());
        assert!(fixes.contains("broken-one [error: unreadable]"), "{fixes}");
        assert!(
            fixes.contains("integrations.configuration is invalid"),
            "{fixes}"
        );
        assert!(fixes.contains(&format!("(id {id})")), "{fixes}");
        assert!(
            fixes.ends_with("2 integrations: 0 passed, 1 failed, 0 skipped, 1 unreadable\n"),
            "{fixes}"
        );
    }

    #[test]
    fn nothing_checked_says_why() {
        let mut r = report();
        r.integrations.clear();
        r.summary = Summary::default();
        assert_eq!(
            nothing_checked(&r),
            "doctor: nothing was checked: tenant acme has no integrations (is --tenant right?)"
        );
        assert!(
            fixes(&r, Style::plain()).ends_with("0 integrations: 0 passed, 0 failed, 0 skipped\n")
        );
        let mut paused = report();
        paused.integrations[0].outcome = Outcome::Skipped;
        assert_eq!(
            nothing_checked(&paused),
            "doctor: nothing was checked: every integration of tenant acme is paused"
        );
    }
}
