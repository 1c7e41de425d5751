//! The progress bar on standard error while the checks run (`indicatif`, drawn only on a
//! terminal); a line at the start and one at the end otherwise.
//!
//! The counts come from the doctor itself ([`Doctor::run_with_progress`]): the display never
//! touches the catalog, so it can neither slow the checks down nor wait for a connection they
//! hold, and it counts every integration, however many pages the tenant has.

use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pathops_core::catalog::Principal;
use pathops_core::doctor::{Doctor, DoctorReport, Progress, Selection};

/// "1 integration", "9 integrations".
pub(crate) fn integrations(n: usize) -> String {
    if n == 1 {
        "1 integration".to_owned()
    } else {
        format!("{n} integrations")
    }
}

/// A bar of `what` on standard error (hidden when it is not a terminal), counting up as the
/// callback reports.
pub(crate) fn bar(what: &'static str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(&format!(
        "{{spinner}} {what}: {{pos}}/{{len}} {{wide_bar}} {{elapsed}}"
    ))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Runs the doctor over every integration of the principal's tenant, showing how many have
/// been checked so far.
pub(crate) async fn run(
    doctor: &Doctor,
    principal: &Principal,
) -> pathops_core::Result<DoctorReport> {
    let started = Instant::now();
    let terminal = std::io::stderr().is_terminal();
    let bar = bar("doctor");
    let on_progress = {
        let bar = bar.clone();
        move |p: Progress| {
            let first = bar.length().is_none();
            bar.set_length(p.total as u64);
            bar.set_position(p.done as u64);
            if first && !terminal {
                eprintln!("doctor: checking {} ...", integrations(p.total));
            }
        }
    };
    let report = doctor
        .run_with_progress(principal, &Selection::All, &on_progress)
        .await;
    bar.finish_and_clear();
    if let Ok(report) = &report {
        let total = report.integrations.len() + report.unreadable.len();
        eprintln!(
            "doctor: {} checked in {:.1} s",
            integrations(total),
            started.elapsed().as_secs_f64()
        );
    }
    report
}
