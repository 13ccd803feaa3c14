//! `loadtest`: parses the command line, builds the driver's runtime and dispatches.

use std::process::ExitCode;

use clap::Parser;
use loadtest::cli::{Cli, Command, Params, RunPlan};
use loadtest::report;

/// Exit status when a threshold or a verification check failed.
const EXIT_CHECKS_FAILED: u8 = 1;
/// Exit status when the run could not be done (bad parameters, server unreachable).
const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli.command) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(EXIT_CHECKS_FAILED),
        Err(e) => {
            eprintln!("loadtest: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// A current-thread runtime by default, so the tool takes one core of the two it shares with
/// the server; `threads > 1` gives a multi-thread runtime with that many workers.
fn runtime(threads: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    let rt = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?
    };
    Ok(rt)
}

fn dispatch(command: Command) -> anyhow::Result<bool> {
    match command {
        Command::FlashSale(p) => run_scenario(Some("flash-sale"), p),
        Command::CheckoutMix(p) => run_scenario(Some("checkout-mix"), p),
        Command::CartStorm(p) => run_scenario(Some("cart-storm"), p),
        Command::Run(p) => run_scenario(None, p),
        // The echo server is the ceiling: give it the same multi-thread runtime the server has.
        Command::EchoServer(a) => runtime(num_cores())?
            .block_on(loadtest::echo::serve(a.addr))
            .map(|()| true),
        Command::Bench(a) => {
            let threads = a.driver_threads;
            runtime(threads)?.block_on(loadtest::bench::bench(a))
        }
        Command::CartMemory(a) => runtime(1)?
            .block_on(loadtest::memory::run(&a))
            .map(|()| true),
    }
}

fn num_cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

fn run_scenario(name: Option<&str>, flags: Params) -> anyhow::Result<bool> {
    let params = flags.with_file()?;
    let scenario = match name {
        Some(n) => n.to_string(),
        None => params.scenario.clone().ok_or_else(|| {
            anyhow::anyhow!("`run` needs --scenario or `scenario` in the scenario file")
        })?,
    };
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let plan = RunPlan::resolve(&scenario, &params, &run_id)?;
    let finished =
        runtime(plan.driver_threads)?.block_on(loadtest::run::execute(&plan, &run_id))?;
    println!("{}", report::summary_table(&finished.report));
    for t in finished.report.thresholds.iter().filter(|t| !t.passed) {
        eprintln!("threshold violated: {}", t.line());
    }
    for c in finished
        .report
        .verification
        .iter()
        .filter(|c| c.verdict == loadtest::verify::Verdict::Fail)
    {
        eprintln!("verification failed: {}", c.line());
    }
    Ok(finished.passed)
}
