//! What a run hands to people and machines: the summary table (stdout), the JSON file and the
//! self-contained HTML report.

pub mod html;

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::outcome::Outcome;
use crate::stats::{Percentiles, SeriesPoint, Summary};
use crate::thresholds::ThresholdResult;
use crate::verify::CheckResult;

/// Everything about one run, as written to `--json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunReport {
    /// What the run was, for headings: the scenario, or the bench's engine and model.
    pub label: String,
    pub scenario: String,
    pub target: String,
    pub model: String,
    /// The resolved parameters, as given by flags and the scenario file.
    pub parameters: serde_json::Value,
    /// The command that reproduces this run.
    pub command_line: String,
    pub summary: Summary,
    pub series: Vec<SeriesPoint>,
    pub thresholds: Vec<ThresholdResult>,
    pub verification: Vec<CheckResult>,
    /// The server's mean time per checkout step over the measured window (empty when the server
    /// does not export it or the run has no admin token).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checkout_steps: Vec<crate::steps::StepTime>,
    /// Postgres's work per confirmed order over the measured window (absent without a Postgres
    /// `--database-url` or without confirmed orders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_cost: Option<crate::dbcost::DbCost>,
}

fn percentile_row(name: &str, p: &Percentiles) -> String {
    format!(
        "  {name:<26} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}\n",
        p.p50_ms, p.p90_ms, p.p99_ms, p.p999_ms, p.max_ms
    )
}

/// The final table printed on stdout.
pub fn summary_table(r: &RunReport) -> String {
    let s = &r.summary;
    let mut out = String::new();
    let _ = writeln!(out, "== {} against {} ({})", r.scenario, r.target, r.model);
    let _ = writeln!(out, "  duration                   {:>9.2} s", s.duration_s);
    let _ = writeln!(
        out,
        "  operations                 {:>9} ({:.1}/s)",
        s.operations, s.ops_per_s
    );
    let _ = writeln!(
        out,
        "  HTTP requests              {:>9} ({:.1}/s)",
        s.http_requests, s.http_per_s
    );
    let _ = writeln!(
        out,
        "  orders confirmed           {:>9} ({:.1}/s)",
        s.orders_confirmed, s.orders_confirmed_per_s
    );
    let _ = writeln!(
        out,
        "  errors                     {:>9} ({:.3}%)",
        s.errors,
        s.error_rate * 100.0
    );
    let _ = writeln!(out, "  outcomes:");
    for o in Outcome::ALL {
        let _ = writeln!(out, "    {:<24} {:>9}", o.label(), s.outcomes.get(o));
    }
    let _ = writeln!(
        out,
        "  latency (ms)                     p50       p90       p99     p99.9       max"
    );
    out.push_str(&percentile_row("corrected (intended start)", &s.corrected));
    out.push_str(&percentile_row("uncorrected (actual send)", &s.uncorrected));
    out.push_str(&percentile_row(
        "dispatch lag (send-intended)",
        &s.dispatch_lag,
    ));
    if !r.checkout_steps.is_empty() {
        let _ = writeln!(
            out,
            "  server time per checkout step (mean over the window, /metrics):"
        );
        for step in &r.checkout_steps {
            let _ = writeln!(
                out,
                "    {:<24} {:>9.2} ms  ({} steps)",
                step.step, step.mean_ms, step.count
            );
        }
    }
    if let Some(cost) = &r.db_cost {
        out.push_str(&cost.lines());
    }
    if !r.thresholds.is_empty() {
        let _ = writeln!(out, "  thresholds:");
        for t in &r.thresholds {
            let _ = writeln!(out, "    {}", t.line());
        }
    }
    if !r.verification.is_empty() {
        let _ = writeln!(out, "  verification:");
        for c in &r.verification {
            let _ = writeln!(out, "    {}", c.line());
        }
    }
    out
}

pub fn write_json(path: &Path, value: &impl Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text).map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))
}

/// Quotes one argument for a POSIX shell, so the printed command line can be pasted back.
pub fn shell_quote(arg: &str) -> String {
    let safe = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c));
    if safe {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// Flags whose value is a secret: the printed command line shows a placeholder instead.
const SECRET_FLAGS: [&str; 1] = ["--admin-token"];

/// `args` quoted for a shell, with secret values replaced so reports can be shared.
pub fn redacted_command_line(args: &[String]) -> String {
    let mut out = Vec::with_capacity(args.len());
    let mut hide_next = false;
    for a in args {
        if hide_next {
            out.push("'<redacted>'".to_string());
            hide_next = false;
            continue;
        }
        match SECRET_FLAGS.iter().find(|f| a.starts_with(*f)) {
            Some(f) if a.as_str() == *f => {
                hide_next = true;
                out.push(shell_quote(a));
            }
            Some(f) => out.push(shell_quote(&format!("{f}=<redacted>"))),
            None => out.push(shell_quote(a)),
        }
    }
    out.join(" ")
}

/// The command line of this process, quoted, secrets redacted.
pub fn command_line() -> String {
    let args: Vec<String> = std::env::args().collect();
    redacted_command_line(&args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_leaves_plain_words_and_wraps_the_rest() {
        assert_eq!(shell_quote("--rate=100"), "--rate=100");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn the_admin_token_never_reaches_the_printed_command_line() {
        let args: Vec<String> = [
            "loadtest",
            "flash-sale",
            "--admin-token",
            "s3cret",
            "--admin-token=s3cret",
            "--rate",
            "5",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let line = redacted_command_line(&args);
        assert!(!line.contains("s3cret"), "{line}");
        assert!(line.contains("--rate 5"));
    }
}
