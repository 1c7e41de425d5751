//! Output: `--output table|json|yaml`, tables by comfy-table, colour by owo-colors written
//! through anstream (which drops it under `NO_COLOR`, `CLICOLOR=0` and on a pipe, and keeps
//! it under `CLICOLOR_FORCE`). Tool-supplied text is made terminal-safe before it is shown.

use std::io::Write as _;

use comfy_table::{ContentArrangement, Table, presets};
use owo_colors::OwoColorize as _;
use pathops_core::IntegrationStatus;
use pathops_core::doctor::terminal_safe;
use serde::Serialize;

use crate::Failure;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// Tables and text for people.
    Table,
    /// JSON.
    Json,
    /// YAML.
    Yaml,
}

/// Writes `text` to standard output through anstream. A reader that closed the pipe
/// (`pathops … | head`) is not an error.
pub(crate) fn print(text: &str) -> Result<(), Failure> {
    let mut out = anstream::stdout();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::cannot_run(format!("cannot write the output: {e}"))),
    }
}

/// `value` as JSON or YAML, per `format` (for `Table`, the caller prints its own).
pub(crate) fn data<T: Serialize>(format: Format, value: &T) -> Result<(), Failure> {
    let text = match format {
        Format::Json | Format::Table => serde_json::to_string_pretty(value)
            .map(|mut s| {
                s.push('\n');
                s
            })
            .map_err(|e| Failure::cannot_run(format!("the output does not serialize: {e}")))?,
        Format::Yaml => yaml_serde::to_string(value)
            .map_err(|e| Failure::cannot_run(format!("the output does not serialize: {e}")))?,
    };
    print(&text)
}

/// A table with `header`, in the CLI's style.
pub(crate) fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().map(|h| h.bold().to_string()));
    table
}

/// Prints a table and a newline.
pub(crate) fn print_table(table: &Table) -> Result<(), Failure> {
    print(&format!("{table}\n"))
}

/// Tool- or user-supplied text, with terminal controls shown escaped.
pub(crate) fn safe(text: &str) -> String {
    terminal_safe(text).into_owned()
}

/// Multi-line text, each line made terminal-safe (newlines kept).
pub(crate) fn safe_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let (body, newline) = match line.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (line, ""),
        };
        out.push_str(&terminal_safe(body));
        out.push_str(newline);
    }
    out
}

/// A status, coloured by how healthy it is.
pub(crate) fn status(status: IntegrationStatus) -> String {
    let text = status.to_string();
    match status {
        IntegrationStatus::Active => text.green().to_string(),
        IntegrationStatus::Degraded | IntegrationStatus::PendingVerification => {
            text.yellow().to_string()
        }
        IntegrationStatus::Failed => text.red().to_string(),
        _ => text.dimmed().to_string(),
    }
}

/// `ok` in green or `failed` in red.
pub(crate) fn passed(ok: bool) -> String {
    if ok {
        "ok".green().to_string()
    } else {
        "failed".red().to_string()
    }
}

/// Latencies as a line of block characters, lowest ▁ to highest █.
pub(crate) fn sparkline(values: &[u64]) -> String {
    const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let (Some(min), Some(max)) = (values.iter().min(), values.iter().max()) else {
        return String::new();
    };
    let span = (max - min).max(1);
    values
        .iter()
        .map(|v| BLOCKS[(((v - min) * 7) / span) as usize])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_scales_between_min_and_max() {
        assert_eq!(sparkline(&[]), "");
        assert_eq!(sparkline(&[5, 5]), "▁▁");
        assert_eq!(sparkline(&[10, 80, 45]), "▁█▄");
    }

    #[test]
    fn safe_lines_keeps_newlines_and_escapes_controls() {
        assert_eq!(safe_lines("a\x1b[31m\nb\n"), "a\\u{1b}[31m\nb\n");
    }
}
