//! The self-contained HTML report: inline CSS and hand-written inline SVG charts, no script, no
//! external file, no network. One page can hold several runs (the bench puts all its engines on
//! one page).

use std::fmt::Write as _;

use super::RunReport;
use crate::outcome::Outcome;
use crate::verify::Verdict;

const CHART_WIDTH_PX: f64 = 760.0;
const CHART_HEIGHT_PX: f64 = 260.0;
const MARGIN_LEFT_PX: f64 = 64.0;
const MARGIN_RIGHT_PX: f64 = 16.0;
const MARGIN_TOP_PX: f64 = 36.0;
const MARGIN_BOTTOM_PX: f64 = 36.0;
const AXIS_TICKS: usize = 5;

/// Colours per outcome, in `Outcome::ALL` order.
const OUTCOME_COLOURS: [&str; 7] = [
    "#2e7d32", "#66bb6a", "#f9a825", "#8e24aa", "#e53935", "#6d4c41", "#212121",
];

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// One plotted series.
pub struct Line {
    pub label: String,
    pub colour: &'static str,
    pub points: Vec<(f64, f64)>,
}

/// A value axis that ends on a round number at or above `max`.
fn nice_ceiling(max: f64) -> f64 {
    if !max.is_finite() || max <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(max.log10().floor());
    for step in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if step * magnitude >= max {
            return step * magnitude;
        }
    }
    10.0 * magnitude
}

fn fmt_tick(v: f64) -> String {
    if v >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// A line chart over time (x in seconds).
pub fn line_chart(title: &str, y_unit: &str, lines: &[Line]) -> String {
    let x_max = nice_ceiling(
        lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.0))
            .fold(0.0, f64::max),
    );
    let y_max = nice_ceiling(
        lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.1))
            .fold(0.0, f64::max),
    );
    let plot_w = CHART_WIDTH_PX - MARGIN_LEFT_PX - MARGIN_RIGHT_PX;
    let plot_h = CHART_HEIGHT_PX - MARGIN_TOP_PX - MARGIN_BOTTOM_PX;
    let x = |v: f64| MARGIN_LEFT_PX + v / x_max * plot_w;
    let y = |v: f64| MARGIN_TOP_PX + plot_h - v / y_max * plot_h;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg viewBox="0 0 {CHART_WIDTH_PX} {CHART_HEIGHT_PX}" width="{CHART_WIDTH_PX}" height="{CHART_HEIGHT_PX}" role="img" aria-label="{t}"><text x="{MARGIN_LEFT_PX}" y="16" class="title">{t}</text>"#,
        t = escape(title)
    );
    for i in 0..=AXIS_TICKS {
        let fx = x_max * i as f64 / AXIS_TICKS as f64;
        let fy = y_max * i as f64 / AXIS_TICKS as f64;
        let _ = write!(
            svg,
            r#"<line x1="{MARGIN_LEFT_PX}" x2="{x2:.1}" y1="{yy:.1}" y2="{yy:.1}" class="grid"/><text x="{tx:.1}" y="{ty:.1}" class="ytick">{fy}</text><text x="{xx:.1}" y="{xy:.1}" class="xtick">{fx}</text>"#,
            x2 = MARGIN_LEFT_PX + plot_w,
            yy = y(fy),
            tx = MARGIN_LEFT_PX - 6.0,
            ty = y(fy) + 4.0,
            fy = fmt_tick(fy),
            xx = x(fx),
            xy = MARGIN_TOP_PX + plot_h + 16.0,
            fx = fmt_tick(fx),
        );
    }
    let _ = write!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" class="xtick">seconds</text><text x="4" y="{:.1}" class="unit">{}</text>"#,
        MARGIN_LEFT_PX + plot_w / 2.0,
        CHART_HEIGHT_PX - 4.0,
        MARGIN_TOP_PX - 6.0,
        escape(y_unit)
    );
    let mut legend_x = MARGIN_LEFT_PX + 260.0;
    for l in lines {
        let pts: Vec<String> = l
            .points
            .iter()
            .map(|&(px, py)| format!("{:.1},{:.1}", x(px), y(py)))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{c}" stroke-width="1.6" points="{p}"/><rect x="{legend_x:.1}" y="8" width="10" height="10" fill="{c}"/><text x="{lx:.1}" y="17" class="legend">{label}</text>"#,
            c = l.colour,
            p = pts.join(" "),
            lx = legend_x + 14.0,
            label = escape(&l.label)
        );
        legend_x += 18.0 + 7.0 * l.label.len() as f64;
    }
    svg.push_str("</svg>");
    svg
}

/// Horizontal bars of outcome totals.
pub fn outcome_bars(report: &RunReport) -> String {
    let counts = report.summary.outcomes;
    let max = Outcome::ALL
        .iter()
        .map(|&o| counts.get(o))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let row_h = 24.0;
    let label_w = 170.0;
    let bar_w = CHART_WIDTH_PX - label_w - 90.0;
    let height = 28.0 + row_h * Outcome::ALL.len() as f64;
    let mut svg = format!(
        r#"<svg viewBox="0 0 {CHART_WIDTH_PX} {height}" width="{CHART_WIDTH_PX}" height="{height}" role="img" aria-label="outcome counts"><text x="4" y="16" class="title">Outcome counts</text>"#
    );
    for (i, o) in Outcome::ALL.iter().enumerate() {
        let n = counts.get(*o);
        let top = 26.0 + row_h * i as f64;
        let w = (n as f64 / max * bar_w).max(if n > 0 { 1.0 } else { 0.0 });
        let _ = write!(
            svg,
            r#"<text x="4" y="{ty:.1}" class="legend">{label}</text><rect x="{label_w}" y="{top:.1}" width="{w:.1}" height="16" fill="{c}"/><text x="{nx:.1}" y="{ty:.1}" class="legend">{n}</text>"#,
            ty = top + 12.0,
            label = escape(o.label()),
            c = OUTCOME_COLOURS[i],
            nx = label_w + w + 6.0,
        );
    }
    svg.push_str("</svg>");
    svg
}

fn run_section(r: &RunReport) -> String {
    let s = &r.summary;
    let t = |f: fn(&crate::stats::SeriesPoint) -> f64| -> Vec<(f64, f64)> {
        r.series.iter().map(|p| (p.t_end_s, f(p))).collect()
    };
    let throughput = line_chart(
        "Throughput over time",
        "per second",
        &[
            Line {
                label: "operations/s".into(),
                colour: "#1565c0",
                points: t(|p| p.ops_per_s()),
            },
            Line {
                label: "HTTP requests/s".into(),
                colour: "#90caf9",
                points: t(|p| p.http_per_s()),
            },
        ],
    );
    let latency = line_chart(
        "Corrected latency over time",
        "ms",
        &[
            Line {
                label: "p50".into(),
                colour: "#2e7d32",
                points: t(|p| p.latency.p50_ms),
            },
            Line {
                label: "p90".into(),
                colour: "#f9a825",
                points: t(|p| p.latency.p90_ms),
            },
            Line {
                label: "p99".into(),
                colour: "#e53935",
                points: t(|p| p.latency.p99_ms),
            },
            Line {
                label: "max".into(),
                colour: "#6d4c41",
                points: t(|p| p.latency.max_ms),
            },
        ],
    );
    let outcome_lines: Vec<Line> = Outcome::ALL
        .iter()
        .enumerate()
        .filter(|(_, o)| s.outcomes.get(**o) > 0)
        .map(|(i, &o)| Line {
            label: o.label().to_string(),
            colour: OUTCOME_COLOURS[i],
            points: r
                .series
                .iter()
                .map(|p| (p.t_end_s, p.outcomes.get(o) as f64))
                .collect(),
        })
        .collect();
    let outcomes_over_time = line_chart("Outcomes per second", "count", &outcome_lines);
    let mut h = String::new();
    let _ = write!(
        h,
        "<section><h2>{} against {}</h2><p>{}</p><p class=\"cmd\">{}</p>",
        escape(&r.label),
        escape(&r.target),
        escape(&r.model),
        escape(&r.command_line)
    );
    h.push_str("<table><tr><th>figure</th><th>value</th></tr>");
    for (k, v) in [
        ("duration", format!("{:.2} s", s.duration_s)),
        (
            "operations",
            format!("{} ({:.1}/s)", s.operations, s.ops_per_s),
        ),
        (
            "HTTP requests",
            format!("{} ({:.1}/s)", s.http_requests, s.http_per_s),
        ),
        (
            "orders confirmed",
            format!("{} ({:.1}/s)", s.orders_confirmed, s.orders_confirmed_per_s),
        ),
        (
            "errors",
            format!("{} ({:.3}%)", s.errors, s.error_rate * 100.0),
        ),
    ] {
        let _ = write!(h, "<tr><td>{}</td><td>{}</td></tr>", escape(k), escape(&v));
    }
    h.push_str("</table><table><tr><th>latency (ms)</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr>");
    for (name, p) in [
        ("corrected (from intended start)", &s.corrected),
        ("uncorrected (from actual send)", &s.uncorrected),
        ("dispatch lag (send - intended)", &s.dispatch_lag),
    ] {
        let _ = write!(
            h,
            "<tr><td>{name}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td></tr>",
            p.p50_ms, p.p90_ms, p.p99_ms, p.p999_ms, p.max_ms
        );
    }
    h.push_str("</table>");
    for chart in [throughput, latency, outcomes_over_time, outcome_bars(r)] {
        let _ = write!(h, "<div class=\"chart\">{chart}</div>");
    }
    if !r.checkout_steps.is_empty() {
        h.push_str(
            "<table><tr><th>server time per checkout step</th><th>mean ms</th><th>steps</th></tr>",
        );
        for step in &r.checkout_steps {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{:.2}</td><td>{}</td></tr>",
                escape(&step.step),
                step.mean_ms,
                step.count
            );
        }
        h.push_str("</table>");
    }
    if let Some(c) = &r.db_cost {
        let _ = write!(
            h,
            "<table><tr><th>database work per confirmed order ({} orders)</th><th>value</th></tr>\
             <tr><td>transactions</td><td>{:.2}</td></tr>\
             <tr><td>rows inserted</td><td>{:.2}</td></tr>\
             <tr><td>rows updated</td><td>{:.2}</td></tr>\
             <tr><td>rows deleted</td><td>{:.2}</td></tr>\
             <tr><td>WAL bytes</td><td>{:.0}</td></tr>\
             <tr><td>shared buffers hit</td><td>{:.1}</td></tr>\
             <tr><td>shared buffers read</td><td>{:.2}</td></tr></table>",
            c.orders,
            c.transactions,
            c.rows_inserted,
            c.rows_updated,
            c.rows_deleted,
            c.wal_bytes,
            c.blocks_hit,
            c.blocks_read
        );
    }
    if !r.thresholds.is_empty() {
        h.push_str(
            "<table><tr><th>threshold</th><th>limit</th><th>actual</th><th>verdict</th></tr>",
        );
        for t in &r.thresholds {
            let v = if t.passed { "PASS" } else { "FAIL" };
            let _ = write!(
                h,
                "<tr class=\"{v}\"><td>{}</td><td>{}</td><td>{:.4}</td><td>{v}</td></tr>",
                escape(&t.name),
                t.limit,
                t.actual
            );
        }
        h.push_str("</table>");
    }
    if !r.verification.is_empty() {
        h.push_str(
            "<table class=\"checks\"><tr><th>check</th><th>verdict</th><th>detail</th></tr>",
        );
        for c in &r.verification {
            let v = match c.verdict {
                Verdict::Pass => "PASS",
                Verdict::Fail => "FAIL",
                Verdict::Skip => "SKIP",
            };
            let _ = write!(
                h,
                "<tr class=\"{v}\"><td>{}</td><td>{v}</td><td>{}</td></tr>",
                escape(&c.name),
                escape(&c.detail)
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</section>");
    h
}

const STYLE: &str = "pre{white-space:pre-wrap}body{font-family:system-ui,sans-serif;margin:24px;color:#212121}\
table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}\
td:first-child,th:first-child{text-align:left}.cmd{font-family:monospace;background:#f5f5f5;padding:6px}\
.FAIL td{background:#ffebee}.SKIP td{background:#fffde7}.title{font-weight:600;font-size:14px}\
.grid{stroke:#eee}.ytick{font-size:11px;text-anchor:end}.xtick{font-size:11px;text-anchor:middle}\
.checks td{text-align:left}.legend{font-size:12px}.unit{font-size:11px}.chart{margin:12px 0}";

/// The whole page. `preamble` is extra HTML (already escaped) shown under the title.
pub fn render(title: &str, preamble: &str, runs: &[RunReport]) -> String {
    let mut h = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title><style>{STYLE}</style></head><body><h1>{t}</h1>{preamble}",
        t = escape(title)
    );
    for r in runs {
        h.push_str(&run_section(r));
    }
    h.push_str("</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::OutcomeCounts;
    use crate::stats::{Percentiles, SeriesPoint, Summary};
    use crate::verify::CheckResult;

    fn report() -> RunReport {
        let point = |t: f64| SeriesPoint {
            t_start_s: t - 1.0,
            t_end_s: t,
            operations: 100,
            http_requests: 100,
            outcomes: OutcomeCounts {
                created: 90,
                out_of_stock: 10,
                ..Default::default()
            },
            latency: Percentiles {
                p50_ms: 2.0,
                p90_ms: 4.0,
                p99_ms: 9.0,
                p999_ms: 12.0,
                max_ms: 15.0,
                mean_ms: 2.5,
            },
        };
        RunReport {
            label: "flash-sale <hot>".into(),
            scenario: "flash-sale <hot>".into(),
            target: "http://127.0.0.1:8080".into(),
            model: "open".into(),
            parameters: serde_json::json!({}),
            command_line: "loadtest flash-sale --base-url http://127.0.0.1:8080".into(),
            summary: Summary {
                operations: 200,
                http_requests: 200,
                orders_confirmed: 180,
                duration_s: 2.0,
                ops_per_s: 100.0,
                http_per_s: 100.0,
                orders_confirmed_per_s: 90.0,
                outcomes: OutcomeCounts {
                    created: 180,
                    out_of_stock: 20,
                    ..Default::default()
                },
                errors: 0,
                error_rate: 0.0,
                corrected: Percentiles::default(),
                uncorrected: Percentiles::default(),
                dispatch_lag: Percentiles::default(),
            },
            series: vec![point(1.0), point(2.0)],
            thresholds: vec![],
            verification: vec![CheckResult {
                name: "x".into(),
                verdict: Verdict::Skip,
                detail: "no relay yet".into(),
            }],
            checkout_steps: vec![crate::steps::StepTime {
                step: "place".into(),
                count: 180,
                mean_ms: 12.5,
            }],
            db_cost: None,
        }
    }

    #[test]
    fn the_page_loads_nothing_from_anywhere() {
        let page = render("Load test", "", &[report()]).to_lowercase();
        for attr in ["src=", "href=", "src =", "href ="] {
            for (i, _) in page.match_indices(attr) {
                let rest = &page[i + attr.len()..];
                let value = rest.trim_start_matches(['"', '\'', ' ']);
                assert!(
                    !value.starts_with("http://")
                        && !value.starts_with("https://")
                        && !value.starts_with("//"),
                    "{attr} at {i}"
                );
            }
        }
        for forbidden in ["<script", "<link", "@import", "url(", "<iframe", "<img"] {
            assert!(!page.contains(forbidden), "page contains {forbidden}");
        }
        assert!(page.contains("<svg"));
        assert!(page.contains("<polyline"));
    }

    #[test]
    fn the_page_shows_the_servers_time_per_checkout_step() {
        let page = render("Load test", "", &[report()]);
        assert!(page.contains("server time per checkout step"));
        assert!(page.contains("<td>place</td><td>12.50</td><td>180</td>"));
    }

    #[test]
    fn text_is_escaped() {
        let page = render("a<b", "", &[report()]);
        assert!(page.contains("a&lt;b"));
        assert!(page.contains("flash-sale &lt;hot&gt;"));
        assert!(!page.contains("<hot>"));
    }

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(7.3), 10.0);
        assert_eq!(nice_ceiling(180.0), 200.0);
        assert_eq!(nice_ceiling(2_400.0), 2_500.0);
    }
}
