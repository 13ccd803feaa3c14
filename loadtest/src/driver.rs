//! The two load models.
//!
//! Open model (`drive_open`): operations start at their intended times whatever the server does,
//! bounded by `max_in_flight`; an operation that waits for a free slot is still timed from its
//! intended start. Closed model (`drive_closed`): N workers run operations back to back, so the
//! arrival rate follows the server; there intended and actual starts coincide.
//!
//! Both run on whatever tokio runtime the caller built (current-thread by default, so the tool
//! takes one core of the two it shares with the server).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::limits::{CONCURRENCY_MAX, MAX_IN_FLIGHT_MAX, OPERATIONS_MAX};
use crate::scenario::OpResult;
use crate::schedule::{latency, ArrivalPlan};
use crate::stats::{Recorder, SeriesPoint, Summary};

/// Something the drivers can run: operation `index` of a run.
pub trait Operation: Send + Sync + 'static {
    fn run(&self, index: u64) -> impl Future<Output = OpResult> + Send;
}

impl Operation for crate::scenario::Workload {
    fn run(&self, index: u64) -> impl Future<Output = OpResult> + Send {
        self.run_one(index)
    }
}

/// Which model, with its bounds.
#[derive(Clone, Debug, PartialEq)]
pub enum Model {
    Open {
        plan: ArrivalPlan,
        max_in_flight: usize,
    },
    Closed {
        concurrency: usize,
        duration: Duration,
        operations_max: u64,
    },
}

impl Model {
    pub fn describe(&self) -> String {
        match self {
            Model::Open {
                plan,
                max_in_flight,
            } => {
                format!(
                    "open model, {} operations over {:?}, max in flight {max_in_flight}",
                    plan.len(),
                    plan.duration()
                )
            }
            Model::Closed {
                concurrency,
                duration,
                ..
            } => format!("closed model, {concurrency} workers for {duration:?}"),
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        match self {
            Model::Open { max_in_flight, .. }
                if *max_in_flight == 0 || *max_in_flight > MAX_IN_FLIGHT_MAX =>
            {
                Err(format!("max-in-flight must be in 1..={MAX_IN_FLIGHT_MAX}"))
            }
            Model::Closed { concurrency, .. }
                if *concurrency == 0 || *concurrency > CONCURRENCY_MAX =>
            {
                Err(format!("concurrency must be in 1..={CONCURRENCY_MAX}"))
            }
            Model::Closed { operations_max, .. }
                if *operations_max == 0 || *operations_max > OPERATIONS_MAX =>
            {
                Err(format!("operations must be in 1..={OPERATIONS_MAX}"))
            }
            _ => Ok(()),
        }
    }
}

/// What a finished run hands to the report.
#[derive(Clone, Debug)]
pub struct RunStats {
    pub summary: Summary,
    pub series: Vec<SeriesPoint>,
}

/// Runs `model` to the end and returns its figures. `progress` prints one line a second to
/// stderr.
pub async fn drive<O: Operation>(model: &Model, op: Arc<O>, progress: bool) -> RunStats {
    let recorder = Arc::new(Mutex::new(Recorder::new()));
    let start = Instant::now();
    let ticker = tokio::spawn(tick(recorder.clone(), start, progress));
    match model {
        Model::Open {
            plan,
            max_in_flight,
        } => drive_open(plan, *max_in_flight, op, &recorder, start).await,
        Model::Closed {
            concurrency,
            duration,
            operations_max,
        } => {
            drive_closed(
                *concurrency,
                *duration,
                *operations_max,
                op,
                &recorder,
                start,
            )
            .await
        }
    }
    ticker.abort();
    let elapsed_s = start.elapsed().as_secs_f64();
    let mut r = recorder.lock().unwrap_or_else(|p| p.into_inner());
    // The last, partial second still belongs in the series.
    r.finish(elapsed_s);
    RunStats {
        summary: r.summary(elapsed_s),
        series: r.series().to_vec(),
    }
}

async fn drive_open<O: Operation>(
    plan: &ArrivalPlan,
    max_in_flight: usize,
    op: Arc<O>,
    recorder: &Arc<Mutex<Recorder>>,
    start: Instant,
) {
    let slots = Arc::new(Semaphore::new(max_in_flight));
    for i in 0..plan.len() {
        let intended = plan.intended_offset(i);
        // Sleeping only when ahead: a dispatcher that is behind schedule catches up at once.
        if start.elapsed() < intended {
            tokio::time::sleep_until((start + intended).into()).await;
        }
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break; // The semaphore is never closed; stop rather than spin if it ever is.
        };
        let sent = start.elapsed();
        let op = op.clone();
        let recorder = recorder.clone();
        tokio::spawn(async move {
            let result = op.run(i).await;
            let l = latency(intended, sent, start.elapsed());
            if let Ok(mut r) = recorder.lock() {
                r.record(
                    result.outcome,
                    l,
                    result.http_requests,
                    result.order_confirmed,
                );
            }
            drop(permit);
        });
    }
    // All slots free again means every spawned operation has finished.
    let _all = slots.acquire_many(max_in_flight as u32).await;
}

async fn drive_closed<O: Operation>(
    concurrency: usize,
    duration: Duration,
    operations_max: u64,
    op: Arc<O>,
    recorder: &Arc<Mutex<Recorder>>,
    start: Instant,
) {
    let next = Arc::new(AtomicU64::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (op, recorder, next) = (op.clone(), recorder.clone(), next.clone());
        workers.spawn(async move {
            loop {
                if start.elapsed() >= duration {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= operations_max {
                    break;
                }
                let sent = start.elapsed();
                let result = op.run(i).await;
                let l = latency(sent, sent, start.elapsed());
                if let Ok(mut r) = recorder.lock() {
                    r.record(
                        result.outcome,
                        l,
                        result.http_requests,
                        result.order_confirmed,
                    );
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
}

/// Closes one series point a second and, if asked, prints the progress line.
async fn tick(recorder: Arc<Mutex<Recorder>>, start: Instant, progress: bool) {
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await; // The first tick is immediate.
    loop {
        interval.tick().await;
        let elapsed_s = start.elapsed().as_secs_f64();
        let (point, totals) = match recorder.lock() {
            Ok(mut r) => (r.roll(elapsed_s), r.outcomes()),
            Err(_) => return,
        };
        if progress {
            eprintln!(
                "[{elapsed_s:7.1}s] {:8.1} ops/s {:8.1} req/s  p50 {:8.2} ms  p99 {:8.2} ms (corrected)  ok {}  errors {}",
                point.ops_per_s(),
                point.http_per_s(),
                point.latency.p50_ms,
                point.latency.p99_ms,
                totals.total() - totals.errors(),
                totals.errors(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome;

    /// An operation that takes a fixed time, to test the drivers without a network.
    struct Sleepy(Duration);

    impl Operation for Sleepy {
        fn run(&self, _index: u64) -> impl Future<Output = OpResult> + Send {
            let d = self.0;
            async move {
                tokio::time::sleep(d).await;
                OpResult {
                    outcome: Outcome::Created,
                    http_requests: 1,
                    order_confirmed: true,
                }
            }
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn open_model_charges_waiting_for_a_slot_to_the_corrected_latency() {
        // 20 arrivals at once, one slot, 10 ms each: the last waits ~190 ms before it is sent.
        let plan = ArrivalPlan::new(20, 0.0, Duration::from_secs(1), 20).expect("valid");
        let model = Model::Open {
            plan,
            max_in_flight: 1,
        };
        let stats = drive(&model, Arc::new(Sleepy(Duration::from_millis(10))), false).await;
        assert_eq!(stats.summary.operations, 20);
        assert!(
            stats.summary.uncorrected.max_ms < 60.0,
            "uncorrected {:?}",
            stats.summary.uncorrected
        );
        assert!(
            stats.summary.corrected.max_ms >= 190.0,
            "corrected {:?}",
            stats.summary.corrected
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn closed_model_stops_at_the_operation_cap() {
        let model = Model::Closed {
            concurrency: 4,
            duration: Duration::from_secs(10),
            operations_max: 40,
        };
        let stats = drive(&model, Arc::new(Sleepy(Duration::from_millis(1))), false).await;
        assert_eq!(stats.summary.operations, 40);
        assert_eq!(stats.summary.orders_confirmed, 40);
    }
}
