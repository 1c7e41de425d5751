//! The progress line on standard error while the checks run: redrawn in place on a
//! terminal, one line at the start and one at the end otherwise.

use std::future::Future;
use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

use pathops_core::catalog::{Catalog, Principal};
use pathops_core::{Clock as _, ListQuery, SystemClock};

const SPINNER: [char; 4] = ['|', '/', '-', '\\'];

/// Runs `work`, showing how many of the tenant's integrations have been checked so far.
pub(crate) async fn show<T>(
    catalog: &Catalog,
    principal: &Principal,
    work: impl Future<Output = T>,
) -> T {
    let started_at = SystemClock.now();
    let started = Instant::now();
    let (_, total) = checked_since(catalog, principal, started_at).await;
    let terminal = std::io::stderr().is_terminal();
    let mut stderr = std::io::stderr();
    if !terminal {
        let _ = writeln!(stderr, "doctor: checking {total} integrations ...");
    }
    tokio::pin!(work);
    let mut tick = tokio::time::interval(Duration::from_millis(120));
    let mut frame = 0;
    let output = loop {
        tokio::select! {
            output = &mut work => break output,
            _ = tick.tick(), if terminal => {
                let (done, total) = checked_since(catalog, principal, started_at).await;
                let _ = write!(
                    stderr,
                    "\r\x1b[2K{} doctor: {done}/{total} integrations checked ({:.1} s)",
                    SPINNER[frame % SPINNER.len()],
                    started.elapsed().as_secs_f64()
                );
                let _ = stderr.flush();
                frame += 1;
            }
        }
    };
    if terminal {
        let _ = write!(stderr, "\r\x1b[2K");
    }
    let _ = writeln!(
        stderr,
        "doctor: {total} integrations checked in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    output
}

/// (integrations tested since `since`, integrations to test): paused ones are not counted.
async fn checked_since(
    catalog: &Catalog,
    principal: &Principal,
    since: time::OffsetDateTime,
) -> (usize, usize) {
    let query = ListQuery::default().with_limit(ListQuery::MAX_LIMIT);
    let Ok(page) = catalog.list(principal, &query).await else {
        return (0, 0);
    };
    let active: Vec<_> = page.items.iter().filter(|i| !i.is_paused()).collect();
    let done = active
        .iter()
        .filter(|i| i.last_tested_at.is_some_and(|t| t >= since))
        .count();
    (done, active.len())
}
