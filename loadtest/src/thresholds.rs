//! Pass/fail limits on a run's figures; any violation makes the exit code non-zero.

use serde::{Deserialize, Serialize};

use crate::stats::Summary;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Highest acceptable corrected p99, in milliseconds.
    pub max_p99_ms: Option<f64>,
    /// Lowest acceptable HTTP requests per second (all answers, every request of a journey).
    pub min_rps: Option<f64>,
    /// Highest acceptable share of operations that ended in an error (503, unexpected status,
    /// transport failure); business rejections (409 out_of_stock, 402) are not errors.
    pub max_error_rate: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    pub name: String,
    pub limit: f64,
    pub actual: f64,
    pub passed: bool,
}

impl ThresholdResult {
    pub fn line(&self) -> String {
        let verdict = if self.passed { "PASS" } else { "FAIL" };
        format!(
            "{verdict}: {} (limit {}, actual {:.4})",
            self.name, self.limit, self.actual
        )
    }
}

impl Thresholds {
    pub fn is_empty(&self) -> bool {
        self.max_p99_ms.is_none() && self.min_rps.is_none() && self.max_error_rate.is_none()
    }

    /// One result per configured limit, in a fixed order.
    pub fn evaluate(&self, s: &Summary) -> Vec<ThresholdResult> {
        let mut out = Vec::new();
        if let Some(limit) = self.max_p99_ms {
            let actual = s.corrected.p99_ms;
            out.push(ThresholdResult {
                name: "max-p99-ms (corrected p99)".into(),
                limit,
                actual,
                passed: actual <= limit,
            });
        }
        if let Some(limit) = self.min_rps {
            let actual = s.http_per_s;
            out.push(ThresholdResult {
                name: "min-rps (HTTP requests/s)".into(),
                limit,
                actual,
                passed: actual >= limit,
            });
        }
        if let Some(limit) = self.max_error_rate {
            let actual = s.error_rate;
            // A run that did nothing has no error rate worth trusting: it fails this limit.
            let passed = s.operations > 0 && actual <= limit;
            out.push(ThresholdResult {
                name: "max-error-rate".into(),
                limit,
                actual,
                passed,
            });
        }
        out
    }
}

pub fn all_passed(results: &[ThresholdResult]) -> bool {
    results.iter().all(|r| r.passed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::OutcomeCounts;
    use crate::stats::Percentiles;

    fn summary(p99_ms: f64, http_per_s: f64, operations: u64, errors: u64) -> Summary {
        Summary {
            operations,
            http_requests: operations,
            orders_confirmed: 0,
            duration_s: 1.0,
            ops_per_s: http_per_s,
            http_per_s,
            orders_confirmed_per_s: 0.0,
            outcomes: OutcomeCounts {
                created: operations - errors,
                transport: errors,
                ..Default::default()
            },
            errors,
            error_rate: if operations == 0 {
                0.0
            } else {
                errors as f64 / operations as f64
            },
            corrected: Percentiles {
                p99_ms,
                ..Default::default()
            },
            uncorrected: Percentiles::default(),
            dispatch_lag: Percentiles::default(),
        }
    }

    #[test]
    fn no_limits_means_nothing_to_fail() {
        let r = Thresholds::default().evaluate(&summary(1e9, 0.0, 0, 0));
        assert!(r.is_empty());
        assert!(all_passed(&r));
    }

    #[test]
    fn each_limit_is_checked_on_its_own_figure() {
        let t = Thresholds {
            max_p99_ms: Some(50.0),
            min_rps: Some(100.0),
            max_error_rate: Some(0.01),
        };
        let ok = t.evaluate(&summary(49.9, 120.0, 1000, 10));
        assert!(all_passed(&ok), "{ok:?}");
        let bad = t.evaluate(&summary(50.1, 99.0, 1000, 11));
        assert_eq!(bad.iter().filter(|r| !r.passed).count(), 3);
        assert!(bad[0].line().starts_with("FAIL: max-p99-ms"));
    }

    #[test]
    fn limits_are_inclusive() {
        let t = Thresholds {
            max_p99_ms: Some(50.0),
            min_rps: Some(100.0),
            max_error_rate: Some(0.5),
        };
        assert!(all_passed(&t.evaluate(&summary(50.0, 100.0, 2, 1))));
    }

    #[test]
    fn an_empty_run_fails_the_error_rate_limit() {
        let t = Thresholds {
            max_error_rate: Some(1.0),
            ..Default::default()
        };
        assert!(!all_passed(&t.evaluate(&summary(0.0, 0.0, 0, 0))));
    }
}
