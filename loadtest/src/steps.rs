//! Where the server's checkout time went: the commerce server times each step of a checkout as
//! the histogram `checkout_step_duration_seconds{step}`. A run reads `/metrics` before and after
//! its measured window and reports the mean per step over that window, so a load tester sees
//! which step a sale waits on (the idempotency claim, placing, reserving, confirming...).
//!
//! Servers without that histogram (the naive baseline, the echo ceiling, or a run without the
//! admin token) simply report no steps.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::client::Api;

/// The histogram's name in the exposition.
const FAMILY: &str = "checkout_step_duration_seconds";

/// The order the saga runs its steps in; any other step is listed after these.
const SAGA_ORDER: &[&str] = &[
    "claim_idempotency_key",
    "place",
    "reserve",
    "authorize",
    "request_shipment",
    "commit_stock",
    "confirm",
    "fulfill",
];

/// One step's time over the measured window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepTime {
    pub step: String,
    /// Steps completed in the window.
    pub count: u64,
    /// Mean duration in milliseconds.
    pub mean_ms: f64,
}

/// Per step, the histogram's `_sum` (seconds) and `_count`, as read at one moment.
pub type Totals = BTreeMap<String, (f64, f64)>;

/// The step histogram's sums and counts in a Prometheus text exposition.
pub fn parse(exposition: &str) -> Totals {
    let mut totals = Totals::new();
    for line in exposition.lines() {
        let Some(rest) = line.strip_prefix(FAMILY) else {
            continue;
        };
        let (is_sum, rest) = if let Some(r) = rest.strip_prefix("_sum{") {
            (true, r)
        } else if let Some(r) = rest.strip_prefix("_count{") {
            (false, r)
        } else {
            continue;
        };
        let Some((labels, value)) = rest.split_once("} ") else {
            continue;
        };
        let Some(step) = label(labels, "step") else {
            continue;
        };
        let Ok(value) = value.trim().parse::<f64>() else {
            continue;
        };
        let entry = totals.entry(step.to_owned()).or_insert((0.0, 0.0));
        if is_sum {
            entry.0 += value;
        } else {
            entry.1 += value;
        }
    }
    totals
}

/// The value of `name` in a label set such as `a="x",step="place"`.
fn label<'a>(labels: &'a str, name: &str) -> Option<&'a str> {
    labels.split(',').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key.trim() == name).then(|| value.trim().trim_matches('"'))
    })
}

/// The mean of each step between two readings, in saga order; steps that did not run in the
/// window are left out.
pub fn between(before: &Totals, after: &Totals) -> Vec<StepTime> {
    let mut steps: Vec<StepTime> = after
        .iter()
        .filter_map(|(step, &(sum, count))| {
            let (sum0, count0) = before.get(step).copied().unwrap_or((0.0, 0.0));
            let n = count - count0;
            (n >= 1.0).then(|| StepTime {
                step: step.clone(),
                count: n as u64,
                mean_ms: (sum - sum0) / n * 1_000.0,
            })
        })
        .collect();
    let rank = |step: &str| {
        SAGA_ORDER
            .iter()
            .position(|s| *s == step)
            .unwrap_or(SAGA_ORDER.len())
    };
    steps.sort_by(|a, b| (rank(&a.step), a.step.as_str()).cmp(&(rank(&b.step), b.step.as_str())));
    steps
}

/// Reads the step histogram from the server's `/metrics`; `None` when it cannot (no admin
/// token, no such route, the server busy): the run then reports no steps.
pub async fn read(api: &Api) -> Option<Totals> {
    match api.get_admin_text("/metrics").await {
        Ok((200, text)) => Some(parse(&text)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "\
# TYPE checkout_step_duration_seconds histogram
checkout_step_duration_seconds_bucket{step=\"place\",le=\"0.005\"} 1
checkout_step_duration_seconds_sum{step=\"place\"} 0.010
checkout_step_duration_seconds_count{step=\"place\"} 2
checkout_step_duration_seconds_sum{step=\"reserve\"} 0.004
checkout_step_duration_seconds_count{step=\"reserve\"} 2
persistence_commit_duration_seconds_sum{actor_type=\"order\"} 9.5
";

    const AFTER: &str = "\
checkout_step_duration_seconds_sum{step=\"reserve\"} 0.034
checkout_step_duration_seconds_count{step=\"reserve\"} 12
checkout_step_duration_seconds_sum{step=\"place\"} 0.130
checkout_step_duration_seconds_count{step=\"place\"} 12
checkout_step_duration_seconds_sum{step=\"claim_idempotency_key\"} 0.05
checkout_step_duration_seconds_count{step=\"claim_idempotency_key\"} 10
checkout_step_duration_seconds_sum{step=\"fulfill\"} 0.0
checkout_step_duration_seconds_count{step=\"fulfill\"} 0
";

    #[test]
    fn parses_only_the_step_histograms_sums_and_counts() {
        let totals = parse(BEFORE);
        assert_eq!(totals.len(), 2);
        assert_eq!(totals["place"], (0.010, 2.0));
        assert_eq!(totals["reserve"], (0.004, 2.0));
    }

    #[test]
    fn the_window_mean_is_the_difference_of_sums_over_the_difference_of_counts_in_saga_order() {
        let steps = between(&parse(BEFORE), &parse(AFTER));
        let names: Vec<&str> = steps.iter().map(|s| s.step.as_str()).collect();
        assert_eq!(names, ["claim_idempotency_key", "place", "reserve"]);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert_eq!(steps[1].count, 10);
        assert!(close(steps[1].mean_ms, 12.0), "{steps:?}");
        assert!(close(steps[2].mean_ms, 3.0), "{steps:?}");
        assert!(close(steps[0].mean_ms, 5.0), "{steps:?}");
    }

    #[test]
    fn labels_are_found_by_name_whatever_their_order() {
        assert_eq!(label("le=\"0.5\",step=\"place\"", "step"), Some("place"));
        assert_eq!(label("step=\"confirm\"", "step"), Some("confirm"));
        assert_eq!(label("actor_type=\"order\"", "step"), None);
    }
}
