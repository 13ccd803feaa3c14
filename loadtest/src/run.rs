//! One measured run, end to end: setup, warm-up, drive, verify, report.

use std::sync::Arc;
use std::time::Duration;

use crate::cli::RunPlan;
use crate::client::Api;
use crate::driver::{drive, Model};
use crate::limits::OPERATIONS_MAX;
use crate::report::{self, html, RunReport};
use crate::scenario::{setup_catalog, FlashSale, Scenario, Workload};
use crate::steps;
use crate::thresholds;
use crate::verify::{self, collect};

/// Stock of the warm-up SKU: enough that warm-up never sells out.
const WARMUP_STOCK: u64 = 10_000_000;

/// Workers of the warm-up: enough to open the connection pool and activate the actors.
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
    let stats = drive(&plan.model, workload.clone(), plan.progress).await;
    let checkout_steps = match (steps_before, steps_reading(&api, plan).await) {
        (Some(before), Some(after)) => steps::between(&before, &after),
        _ => Vec::new(),
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

/// Closed-model buy-now load on a SKU of its own, so connection pools, actors and caches are
/// warm when measuring starts and the measured SKU's stock is untouched.
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
    let model = Model::Closed {
        concurrency: WARMUP_CONCURRENCY,
        duration: plan.warmup,
        operations_max: OPERATIONS_MAX,
    };
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
