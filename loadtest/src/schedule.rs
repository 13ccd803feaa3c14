//! Intended-time arithmetic of the open model, and the two latencies of one operation.
//!
//! An open-model run decides *when* each operation should start before the run begins: an
//! opening burst at t = 0, then one arrival every 1/R seconds. Latency is measured from that
//! intended start (wrk2's coordinated-omission correction), so a server that stalls is charged
//! for every buyer who had to wait behind the stall, not only for the one request in flight.
//! Pure: no clock, no IO.

use std::time::Duration;

use crate::limits::{BURST_MAX, DURATION_S_MAX, OPERATIONS_MAX};

/// When the operations of an open-model run are meant to start, as offsets from the run start.
#[derive(Clone, Debug, PartialEq)]
pub struct ArrivalPlan {
    /// Operations intended at t = 0 (the flash sale's opening crowd).
    burst: u64,
    /// Steady arrivals per second after (and alongside) the burst; 0 means burst only.
    rate_per_s: f64,
    /// Steady arrivals are intended strictly before this offset.
    duration: Duration,
    /// Cap on the total count, whatever burst, rate and duration say.
    operations_max: u64,
}

impl ArrivalPlan {
    /// Checks the parameters once so that every later computation is total.
    pub fn new(
        burst: u64,
        rate_per_s: f64,
        duration: Duration,
        operations_max: u64,
    ) -> Result<ArrivalPlan, String> {
        if burst > BURST_MAX {
            return Err(format!("burst {burst} is above the limit {BURST_MAX}"));
        }
        if !rate_per_s.is_finite() || rate_per_s < 0.0 {
            return Err(format!("rate {rate_per_s} must be a finite number >= 0"));
        }
        if duration.as_secs() > DURATION_S_MAX {
            return Err(format!(
                "duration {duration:?} is above the limit {DURATION_S_MAX} s"
            ));
        }
        if operations_max == 0 || operations_max > OPERATIONS_MAX {
            return Err(format!(
                "operations_max {operations_max} must be in 1..={OPERATIONS_MAX}"
            ));
        }
        if burst == 0 && rate_per_s == 0.0 {
            return Err("an open-model run needs a burst or a rate above 0".to_string());
        }
        Ok(ArrivalPlan {
            burst,
            rate_per_s,
            duration,
            operations_max,
        })
    }

    /// Steady arrivals: those intended in [0, duration), i.e. ceil(rate * duration).
    fn steady_count(&self) -> u64 {
        if self.rate_per_s == 0.0 {
            return 0;
        }
        let exact = self.rate_per_s * self.duration.as_secs_f64();
        // The j-th steady arrival is at j/R, so j runs over 0..ceil(R*d). A tiny epsilon keeps
        // 200/s * 1 s at exactly 200 despite floating-point noise.
        let count = (exact - 1e-9).ceil().max(0.0);
        if count >= OPERATIONS_MAX as f64 {
            OPERATIONS_MAX
        } else {
            count as u64
        }
    }

    /// How many operations the run starts.
    pub fn len(&self) -> u64 {
        self.burst
            .saturating_add(self.steady_count())
            .min(self.operations_max)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Offset from the run start at which operation `i` is meant to start. Computed from `i`
    /// alone (not by adding 1/R repeatedly), so no error accumulates over a long run.
    pub fn intended_offset(&self, i: u64) -> Duration {
        if i < self.burst {
            return Duration::ZERO;
        }
        let j = i - self.burst;
        Duration::from_secs_f64(j as f64 / self.rate_per_s)
    }

    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// Steady arrivals per second (0 for a burst-only plan).
    pub fn rate_per_s(&self) -> f64 {
        self.rate_per_s
    }
}

/// Latencies of one finished operation, in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Latency {
    /// From the intended start to the answer: what the buyer experienced.
    pub corrected_us: u64,
    /// From the moment the request was actually sent: what a naive tool reports.
    pub uncorrected_us: u64,
}

/// Both latencies of an operation from its three offsets since the run start. `sent` is never
/// before `intended` in a correct driver; if a clock oddity says otherwise, the corrected figure
/// is at least the uncorrected one, never smaller.
pub fn latency(intended: Duration, sent: Duration, done: Duration) -> Latency {
    let uncorrected = done.saturating_sub(sent);
    let corrected = done.saturating_sub(intended).max(uncorrected);
    Latency {
        corrected_us: as_us(corrected),
        uncorrected_us: as_us(uncorrected),
    }
}

fn as_us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(burst: u64, rate: f64, secs: u64) -> ArrivalPlan {
        ArrivalPlan::new(burst, rate, Duration::from_secs(secs), OPERATIONS_MAX)
            .expect("valid plan")
    }

    #[test]
    fn steady_rate_spaces_arrivals_evenly() {
        let p = plan(0, 200.0, 1);
        assert_eq!(p.len(), 200);
        assert_eq!(p.intended_offset(0), Duration::ZERO);
        assert_eq!(p.intended_offset(1), Duration::from_millis(5));
        assert_eq!(p.intended_offset(199), Duration::from_millis(995));
    }

    #[test]
    fn burst_is_at_zero_then_rate_starts_at_zero() {
        let p = plan(50, 10.0, 2);
        assert_eq!(p.len(), 70);
        for i in 0..50 {
            assert_eq!(p.intended_offset(i), Duration::ZERO);
        }
        assert_eq!(p.intended_offset(50), Duration::ZERO);
        assert_eq!(p.intended_offset(51), Duration::from_millis(100));
        assert_eq!(p.intended_offset(69), Duration::from_millis(1_900));
    }

    #[test]
    fn no_drift_over_a_long_run() {
        let p = plan(0, 3.0, 3_600);
        assert_eq!(p.len(), 10_800);
        // 10_799 / 3 s = 3599.666… s, computed directly and not by summing thirds.
        let last = p.intended_offset(10_799);
        let expected = Duration::from_secs_f64(10_799.0 / 3.0);
        assert_eq!(last, expected);
        assert!(last < Duration::from_secs(3_600));
    }

    #[test]
    fn fractional_rate_rounds_up_the_count() {
        // Arrivals at 0, 0.4 s, 0.8 s (2.5/s for 1 s): three start before the end.
        assert_eq!(plan(0, 2.5, 1).len(), 3);
        assert_eq!(plan(7, 0.0, 10).len(), 7);
    }

    #[test]
    fn operations_max_caps_the_plan() {
        let p = ArrivalPlan::new(10, 100.0, Duration::from_secs(10), 25).expect("valid");
        assert_eq!(p.len(), 25);
    }

    #[test]
    fn invalid_plans_are_rejected() {
        assert!(ArrivalPlan::new(0, 0.0, Duration::from_secs(1), 10).is_err());
        assert!(ArrivalPlan::new(0, -1.0, Duration::from_secs(1), 10).is_err());
        assert!(ArrivalPlan::new(0, f64::NAN, Duration::from_secs(1), 10).is_err());
        assert!(ArrivalPlan::new(BURST_MAX + 1, 1.0, Duration::from_secs(1), 10).is_err());
        assert!(ArrivalPlan::new(0, 1.0, Duration::from_secs(DURATION_S_MAX + 1), 10).is_err());
    }

    #[test]
    fn corrected_latency_counts_the_wait_before_sending() {
        // Intended at 1.000 s, sent at 1.300 s (the in-flight bound was full), answered at 1.350 s.
        let l = latency(
            Duration::from_millis(1_000),
            Duration::from_millis(1_300),
            Duration::from_millis(1_350),
        );
        assert_eq!(l.uncorrected_us, 50_000);
        assert_eq!(l.corrected_us, 350_000);
    }

    #[test]
    fn on_time_send_gives_equal_latencies() {
        let l = latency(
            Duration::from_millis(5),
            Duration::from_millis(5),
            Duration::from_millis(9),
        );
        assert_eq!(
            l,
            Latency {
                corrected_us: 4_000,
                uncorrected_us: 4_000
            }
        );
    }

    #[test]
    fn corrected_is_never_below_uncorrected() {
        // A send recorded before its intended time must not shrink the corrected figure.
        let l = latency(
            Duration::from_millis(10),
            Duration::from_millis(8),
            Duration::from_millis(12),
        );
        assert_eq!(l.uncorrected_us, 4_000);
        assert_eq!(l.corrected_us, 4_000);
        let z = latency(
            Duration::from_millis(10),
            Duration::from_millis(10),
            Duration::from_millis(9),
        );
        assert_eq!(
            z,
            Latency {
                corrected_us: 0,
                uncorrected_us: 0
            }
        );
    }
}
