//! The recorder: run-wide histograms, outcome counts and a per-second series for the plots.
//!
//! Shared by every in-flight operation behind a `std::sync::Mutex`: each record is a few
//! hundred nanoseconds of work with no `.await` inside, so a blocking lock is cheaper than an
//! async one and cannot be held across a yield.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::limits::{
    HISTOGRAM_SIGFIGS, LATENCY_US_MAX, SERIES_HISTOGRAM_SIGFIGS, SERIES_POINTS_MAX,
};
use crate::outcome::{Outcome, OutcomeCounts};
use crate::schedule::Latency;

/// Shortest last interval plotted on its own; see [`Recorder::finish`].
pub const SERIES_TAIL_MIN_S: f64 = 0.5;

/// Latency percentiles in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        let ms = |us: u64| us as f64 / 1_000.0;
        Percentiles {
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
            mean_ms: h.mean() / 1_000.0,
        }
    }
}

/// One point of the per-second series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    /// Interval bounds in seconds since the run start.
    pub t_start_s: f64,
    pub t_end_s: f64,
    pub operations: u64,
    pub http_requests: u64,
    pub outcomes: OutcomeCounts,
    /// Corrected latency of the operations finished in this interval.
    pub latency: Percentiles,
}

impl SeriesPoint {
    pub fn ops_per_s(&self) -> f64 {
        per_second(self.operations, self.t_end_s - self.t_start_s)
    }

    pub fn http_per_s(&self) -> f64 {
        per_second(self.http_requests, self.t_end_s - self.t_start_s)
    }
}

pub fn per_second(count: u64, secs: f64) -> f64 {
    if secs <= 0.0 {
        0.0
    } else {
        count as f64 / secs
    }
}

/// Whole-run figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub operations: u64,
    pub http_requests: u64,
    /// Checkouts answered 201 with a confirmed order.
    pub orders_confirmed: u64,
    pub duration_s: f64,
    pub ops_per_s: f64,
    pub http_per_s: f64,
    pub orders_confirmed_per_s: f64,
    pub outcomes: OutcomeCounts,
    pub errors: u64,
    pub error_rate: f64,
    /// From the intended start (coordinated-omission corrected).
    pub corrected: Percentiles,
    /// From the actual send.
    pub uncorrected: Percentiles,
    /// Actual send minus intended start: time spent waiting for an in-flight slot or for the
    /// dispatcher (tokio's timer has 1 ms granularity). Zero in the closed model.
    pub dispatch_lag: Percentiles,
}

fn new_histogram(sigfigs: u8) -> Histogram<u64> {
    // 1 µs to LATENCY_US_MAX with constant, valid arguments: this cannot fail.
    Histogram::new_with_bounds(1, LATENCY_US_MAX, sigfigs)
        .expect("constant histogram bounds are valid")
}

#[derive(Debug)]
struct Interval {
    start_s: f64,
    operations: u64,
    http_requests: u64,
    outcomes: OutcomeCounts,
    corrected: Histogram<u64>,
}

impl Interval {
    fn new(start_s: f64) -> Interval {
        Interval {
            start_s,
            operations: 0,
            http_requests: 0,
            outcomes: OutcomeCounts::default(),
            corrected: new_histogram(SERIES_HISTOGRAM_SIGFIGS),
        }
    }
}

#[derive(Debug)]
pub struct Recorder {
    corrected: Histogram<u64>,
    uncorrected: Histogram<u64>,
    dispatch_lag: Histogram<u64>,
    outcomes: OutcomeCounts,
    http_requests: u64,
    orders_confirmed: u64,
    interval: Interval,
    series: Vec<SeriesPoint>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder {
            corrected: new_histogram(HISTOGRAM_SIGFIGS),
            uncorrected: new_histogram(HISTOGRAM_SIGFIGS),
            dispatch_lag: new_histogram(HISTOGRAM_SIGFIGS),
            outcomes: OutcomeCounts::default(),
            http_requests: 0,
            orders_confirmed: 0,
            interval: Interval::new(0.0),
            series: Vec::new(),
        }
    }

    /// Records one finished operation. Latencies above the histogram's range are clamped.
    pub fn record(
        &mut self,
        outcome: Outcome,
        latency: Latency,
        http_requests: u64,
        order_confirmed: bool,
    ) {
        let c = latency.corrected_us.clamp(1, LATENCY_US_MAX);
        let u = latency.uncorrected_us.clamp(1, LATENCY_US_MAX);
        self.corrected.saturating_record(c);
        self.uncorrected.saturating_record(u);
        let lag = latency.corrected_us.saturating_sub(latency.uncorrected_us);
        self.dispatch_lag
            .saturating_record(lag.clamp(1, LATENCY_US_MAX));
        self.outcomes.add(outcome);
        self.http_requests += http_requests;
        self.orders_confirmed += u64::from(order_confirmed);
        self.interval.corrected.saturating_record(c);
        self.interval.operations += 1;
        self.interval.http_requests += http_requests;
        self.interval.outcomes.add(outcome);
    }

    /// Closes the run's last interval at `now_s`. A tail shorter than SERIES_TAIL_MIN_S is folded
    /// into the previous point: a rate over a few milliseconds is noise that would dwarf the
    /// plot. Its counts are added and its worst latency kept; its other percentiles, from too
    /// few samples to matter, are not blended in.
    pub fn finish(&mut self, now_s: f64) {
        let tail_s = now_s - self.interval.start_s;
        if tail_s >= SERIES_TAIL_MIN_S || self.series.is_empty() {
            self.roll(now_s);
            return;
        }
        let tail = std::mem::replace(&mut self.interval, Interval::new(now_s));
        if let Some(last) = self.series.last_mut() {
            last.t_end_s = now_s;
            last.operations += tail.operations;
            last.http_requests += tail.http_requests;
            for o in Outcome::ALL {
                for _ in 0..tail.outcomes.get(o) {
                    last.outcomes.add(o);
                }
            }
            let tail_max_ms = Percentiles::of(&tail.corrected).max_ms;
            last.latency.max_ms = last.latency.max_ms.max(tail_max_ms);
        }
    }

    /// Closes the current interval at `now_s` (seconds since the run start) and opens the next.
    /// Returns the closed point. Past SERIES_POINTS_MAX points the series stops growing, but the
    /// run-wide figures stay exact.
    pub fn roll(&mut self, now_s: f64) -> SeriesPoint {
        let closed = std::mem::replace(&mut self.interval, Interval::new(now_s));
        let point = SeriesPoint {
            t_start_s: closed.start_s,
            t_end_s: now_s,
            operations: closed.operations,
            http_requests: closed.http_requests,
            outcomes: closed.outcomes,
            latency: Percentiles::of(&closed.corrected),
        };
        if self.series.len() < SERIES_POINTS_MAX {
            self.series.push(point.clone());
        }
        point
    }

    pub fn outcomes(&self) -> OutcomeCounts {
        self.outcomes
    }

    pub fn series(&self) -> &[SeriesPoint] {
        &self.series
    }

    pub fn summary(&self, duration_s: f64) -> Summary {
        let operations = self.outcomes.total();
        let errors = self.outcomes.errors();
        Summary {
            operations,
            http_requests: self.http_requests,
            orders_confirmed: self.orders_confirmed,
            duration_s,
            ops_per_s: per_second(operations, duration_s),
            http_per_s: per_second(self.http_requests, duration_s),
            orders_confirmed_per_s: per_second(self.orders_confirmed, duration_s),
            outcomes: self.outcomes,
            errors,
            error_rate: if operations == 0 {
                0.0
            } else {
                errors as f64 / operations as f64
            },
            corrected: Percentiles::of(&self.corrected),
            uncorrected: Percentiles::of(&self.uncorrected),
            dispatch_lag: Percentiles::of(&self.dispatch_lag),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lat(c_ms: u64, u_ms: u64) -> Latency {
        Latency {
            corrected_us: c_ms * 1_000,
            uncorrected_us: u_ms * 1_000,
        }
    }

    #[test]
    fn summary_separates_corrected_and_uncorrected() {
        let mut r = Recorder::new();
        for _ in 0..99 {
            r.record(Outcome::Created, lat(10, 10), 1, true);
        }
        r.record(Outcome::Created, lat(1_000, 10), 1, true);
        let s = r.summary(2.0);
        assert_eq!(s.operations, 100);
        assert_eq!(s.orders_confirmed_per_s, 50.0);
        assert!((s.corrected.max_ms - 1_000.0).abs() < 1.0);
        assert!((s.uncorrected.max_ms - 10.0).abs() < 0.1);
        assert!((s.corrected.p50_ms - 10.0).abs() < 0.1);
        // The one late operation waited 990 ms before it was sent.
        assert!((s.dispatch_lag.max_ms - 990.0).abs() < 1.0);
    }

    #[test]
    fn roll_closes_an_interval_with_its_own_counts() {
        let mut r = Recorder::new();
        r.record(Outcome::Created, lat(5, 5), 3, true);
        r.record(Outcome::Transport, lat(7, 7), 1, false);
        let p = r.roll(1.0);
        assert_eq!(p.operations, 2);
        assert_eq!(p.http_requests, 4);
        assert_eq!(p.outcomes.transport, 1);
        assert_eq!(p.ops_per_s(), 2.0);
        let q = r.roll(2.0);
        assert_eq!(q.operations, 0);
        assert_eq!(r.series().len(), 2);
        assert_eq!(r.summary(2.0).error_rate, 0.5);
    }

    #[test]
    fn a_short_tail_is_folded_into_the_last_second() {
        let mut r = Recorder::new();
        r.record(Outcome::Created, lat(5, 5), 1, true);
        r.roll(1.0);
        r.record(Outcome::Transport, lat(900, 900), 1, false);
        r.finish(1.1);
        assert_eq!(r.series().len(), 1);
        let p = &r.series()[0];
        assert_eq!((p.operations, p.outcomes.transport, p.t_end_s), (2, 1, 1.1));
        assert!(p.latency.max_ms >= 899.0);
        let mut q = Recorder::new();
        q.record(Outcome::Created, lat(5, 5), 1, true);
        q.finish(0.1);
        assert_eq!(
            q.series().len(),
            1,
            "a run shorter than the tail still has its one point"
        );
    }

    #[test]
    fn huge_latency_is_clamped_not_lost() {
        let mut r = Recorder::new();
        r.record(
            Outcome::Other,
            Latency {
                corrected_us: u64::MAX,
                uncorrected_us: 0,
            },
            1,
            false,
        );
        assert_eq!(r.summary(1.0).operations, 1);
    }
}
