//! The progress line on standard error while the checks run: redrawn in place on a
//! terminal, one line at the start and one at the end otherwise.
//!
//! The counts come from the doctor itself ([`Doctor::run_with_progress`]): the display never
//! touches the catalog, so it can neither slow the checks down nor wait for a connection they
//! hold.

use std::io::{IsTerminal as _, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pathops_core::catalog::Principal;
use pathops_core::doctor::{Doctor, DoctorReport, Progress, Selection};

const SPINNER: [char; 4] = ['|', '/', '-', '\\'];

/// "1 integration", "9 integrations".
pub(crate) fn integrations(n: usize) -> String {
    if n == 1 {
        "1 integration".to_owned()
    } else {
        format!("{n} integrations")
    }
}

/// Runs the doctor over every integration of the principal's tenant, showing how many have
/// been checked so far.
pub(crate) async fn run(
    doctor: &Doctor,
    principal: &Principal,
) -> pathops_core::Result<DoctorReport> {
    let started = Instant::now();
    let terminal = std::io::stderr().is_terminal();
    let counts = Arc::new(Counts::default());
    // On a terminal the line is redrawn by its own task, so drawing never delays a check.
    let ticker = terminal.then(|| tokio::spawn(redraw(counts.clone(), started)));
    let on_progress = {
        let counts = counts.clone();
        move |p: Progress| {
            let first = counts.total.swap(p.total, Ordering::Relaxed) == usize::MAX;
            counts.done.store(p.done, Ordering::Relaxed);
            if first && !terminal {
                eprintln!("doctor: checking {} ...", integrations(p.total));
            }
        }
    };
    let report = doctor
        .run_with_progress(principal, &Selection::All, &on_progress)
        .await;
    if let Some(ticker) = ticker {
        ticker.abort();
        let _ = ticker.await;
        eprint!("\r\x1b[2K");
    }
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

/// What the doctor has reported so far (`total` is `usize::MAX` until the first report).
#[derive(Debug)]
struct Counts {
    done: AtomicUsize,
    total: AtomicUsize,
}

impl Default for Counts {
    fn default() -> Self {
        Self {
            done: AtomicUsize::new(0),
            total: AtomicUsize::new(usize::MAX),
        }
    }
}

/// Redraws the line every 120 ms until aborted.
async fn redraw(counts: Arc<Counts>, started: Instant) {
    let mut tick = tokio::time::interval(Duration::from_millis(120));
    let mut stderr = std::io::stderr();
    for frame in 0.. {
        tick.tick().await;
        let total = counts.total.load(Ordering::Relaxed);
        let line = if total == usize::MAX {
            "listing integrations".to_owned()
        } else {
            format!(
                "{}/{} checked",
                counts.done.load(Ordering::Relaxed),
                integrations(total)
            )
        };
        let _ = write!(
            stderr,
            "\r\x1b[2K{} doctor: {line} ({:.1} s)",
            SPINNER[frame % SPINNER.len()],
            started.elapsed().as_secs_f64()
        );
        let _ = stderr.flush();
    }
}
