//! One measured run, end to end: setup, warm-up, drive, verify, report.

use std::sync::Arc;
use std::time::Duration;

use crate::cli::RunPlan;
use crate::client::Api;
use crate::dbcost;
use crate::driver::{drive, Model};
use crate::limits::OPERATIONS_MAX;
use crate::report::{self, html, RunReport};
use crate::scenario::{setup_catalog, FlashSale, Scenario, Workload};
use crate::schedule::ArrivalPlan;
use crate::steps;
use crate::thresholds;
use crate::verify::{self, collect};

/// Stock of the warm-up SKU: enough that warm-up never sells out.
const WARMUP_STOCK: u64 = 10_000_000;

/// Workers of a closed-model warm-up: enough to open the connection pool and activate the
/// actors.
const WARMUP_CONCURRENCY: usize = 16;

/// How long the server may take to say it is alive before the run gives up.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(10);

/// The result of `execute`: the report and whether every threshold and check passed.
pub struct Finished {
    pub report: RunReport,
    pub passed: bool,
}

/// Runs `plan` against its server. Prints progress on stderr; the caller prints the summary.
pub async fn execute(plan: &RunPlan, run_id: &str) -> anyhow::Result<Finished> {
    let api = Api::new(&plan.base_url, plan.admin_token.as_deref())?;
    api.wait_ready("/healthz", HEALTH_TIMEOUT).await?;
    let catalog = plan.scenario.catalog();
    if plan.setup {
        if plan.admin_token.is_none() {
            anyhow::bail!("setup needs the admin token: pass --admin-token or set ADMIN_TOKEN");
        }
        setup_catalog(&api, &catalog).await?;
    }
    if !plan.warmup.is_zero() {
        warm_up(&api, plan, run_id).await?;
    }
    let workload = Arc::new(Workload::new(
        api.clone(),
        plan.scenario.clone(),
        plan.seed,
        plan.key_prefix.clone(),
    ));
    if plan.progress {
        eprintln!(
            "{}: {} against {}",
            plan.scenario.name(),
            plan.model.describe(),
            plan.base_url
        );
    }
    let steps_before = steps_reading(&api, plan).await;
    let db_before = db_reading(plan).await;
    let stats = drive(&plan.model, workload.clone(), plan.progress).await;
    let db_after = db_reading(plan).await;
    let checkout_steps = match (steps_before, steps_reading(&api, plan).await) {
        (Some(before), Some(after)) => steps::between(&before, &after),
        _ => Vec::new(),
    };
    let db_cost = match (db_before, db_after) {
        (Some(before), Some(after)) => {
            let s = &stats.summary;
            dbcost::between(&before, &after, s.orders_confirmed, s.operations)
        }
        _ => None,
    };
    let threshold_results = plan.thresholds.evaluate(&stats.summary);
    let verification = match &plan.verify {
        Some(cfg) if plan.scenario.places_orders() => {
            if plan.progress {
                eprintln!(
                    "verifying the books (settling up to {:?})…",
                    cfg.settle_timeout
                );
            }
            let settled = collect::settle(
                &api,
                &catalog,
                cfg.database_url.as_deref(),
                cfg.settle_timeout,
                cfg.outbox_drain_timeout,
            )
            .await;
            if !settled.settled && plan.progress {
                eprintln!(
                    "the run did not settle within {:?}; verifying what is there",
                    cfg.settle_timeout
                );
            }
            let tally = workload.take_tally();
            let mut books = collect::collect(&api, &catalog, &plan.key_prefix, &tally, cfg).await;
            books.outbox_note = settled.outbox_note;
            verify::check(&books)
        }
        _ => Vec::new(),
    };
    let passed = thresholds::all_passed(&threshold_results) && !verify::any_failed(&verification);
    let report = RunReport {
        label: plan.scenario.name().to_string(),
        scenario: plan.scenario.name().to_string(),
        target: plan.base_url.clone(),
        model: plan.model.describe(),
        parameters: plan.parameters.clone(),
        command_line: report::command_line(),
        summary: stats.summary,
        series: stats.series,
        thresholds: threshold_results,
        verification,
        checkout_steps,
        db_cost,
    };
    if let Some(path) = &plan.json {
        report::write_json(path, &report)?;
    }
    if let Some(path) = &plan.html {
        let page = html::render(
            &format!("loadtest: {}", report.scenario),
            "",
            std::slice::from_ref(&report),
        );
        std::fs::write(path, page)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    }
    Ok(Finished { report, passed })
}

/// The server's step histogram, when the run has the admin token that `/metrics` asks for.
async fn steps_reading(api: &Api, plan: &RunPlan) -> Option<steps::Totals> {
    plan.admin_token.as_ref()?;
    steps::read(api).await
}

/// Postgres's counters, when the run has a Postgres database URL.
async fn db_reading(plan: &RunPlan) -> Option<dbcost::Reading> {
    dbcost::read(plan.database_url.as_deref()?).await
}

/// Buy-now load on a SKU of its own, so connection pools, actors and caches are warm when
/// measuring starts and the measured SKU's stock is untouched. The load has the measured run's
/// shape (see [`warm_up_model`]).
async fn warm_up(api: &Api, plan: &RunPlan, run_id: &str) -> anyhow::Result<()> {
    let scenario = Scenario::FlashSale(FlashSale {
        sku: format!("WARM-{run_id}"),
        stock: WARMUP_STOCK,
        quantity_per_buyer: 1,
        via_cart: false,
    });
    if plan.setup {
        setup_catalog(api, &scenario.catalog()).await?;
    }
    // A key prefix that does not start with the run's, so verification leaves warm-up out.
    let workload = Arc::new(Workload::new(
        api.clone(),
        scenario,
        plan.seed,
        format!("warm-{run_id}"),
    ));
    let model = warm_up_model(&plan.model, plan.warmup).map_err(anyhow::Error::msg)?;
    if plan.progress {
        eprintln!("warming up for {:?}…", plan.warmup);
    }
    let stats = drive(&model, workload, false).await;
    if plan.progress {
        eprintln!(
            "warm-up: {} operations, {:.1}/s, {} errors",
            stats.summary.operations, stats.summary.ops_per_s, stats.summary.errors
        );
    }
    Ok(())
}

/// The warm-up's load. An open-model run at a steady rate warms up at that rate, without its
/// burst, so it starts measuring in the state that rate holds the server in. A closed-model
/// warm-up would first saturate it and leave the relay and the writers a backlog to work off
/// in the measured window's first second, which the run would then count in its tail. A
/// closed-model or burst-only run warms up with a few closed-model workers.
fn warm_up_model(measured: &Model, warmup: Duration) -> Result<Model, String> {
    match measured {
        Model::Open {
            plan,
            max_in_flight,
        } if plan.rate_per_s() > 0.0 => Ok(Model::Open {
            plan: ArrivalPlan::new(0, plan.rate_per_s(), warmup, OPERATIONS_MAX)?,
            max_in_flight: *max_in_flight,
        }),
        _ => Ok(Model::Closed {
            concurrency: WARMUP_CONCURRENCY,
            duration: warmup,
            operations_max: OPERATIONS_MAX,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(burst: u64, rate: f64) -> Model {
        Model::Open {
            plan: ArrivalPlan::new(burst, rate, Duration::from_secs(15), OPERATIONS_MAX)
                .expect("valid plan"),
            max_in_flight: 512,
        }
    }

    #[test]
    fn an_open_run_warms_up_at_its_rate_without_its_burst() {
        let warm = warm_up_model(&open(1_000, 400.0), Duration::from_secs(3)).expect("model");

        let Model::Open {
            plan,
            max_in_flight,
        } = warm
        else {
            panic!("an open run warms up open")
        };
        assert_eq!(plan.rate_per_s(), 400.0);
        assert_eq!(plan.duration(), Duration::from_secs(3));
        assert_eq!(plan.len(), 1_200, "3 s at 400/s and no burst");
        assert_eq!(plan.intended_offset(0), Duration::ZERO);
        assert_eq!(max_in_flight, 512);
    }

    #[test]
    fn closed_and_burst_only_runs_warm_up_with_a_few_closed_workers() {
        let closed = Model::Closed {
            concurrency: 64,
            duration: Duration::from_secs(15),
            operations_max: OPERATIONS_MAX,
        };
        for measured in [closed, open(500, 0.0)] {
            let warm = warm_up_model(&measured, Duration::from_secs(3)).expect("model");

            let Model::Closed {
                concurrency,
                duration,
                ..
            } = warm
            else {
                panic!("closed warm-up expected for {}", measured.describe())
            };
            assert_eq!(concurrency, WARMUP_CONCURRENCY);
            assert_eq!(duration, Duration::from_secs(3));
        }
    }
}
